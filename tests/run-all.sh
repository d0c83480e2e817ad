#!/usr/bin/env bash
# Runs every check the project has, installing what they need first.
# Usage: tests/run-all.sh        (from the repository root)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need() { command -v "$1" >/dev/null 2>&1; }
if ! need git; then
  echo "run-all: installing git" >&2
  apt-get update -qq && apt-get install -y -qq git >/dev/null
fi
if ! need tmux; then
  # The dashboard's end-to-end tests drive the real binary in tmux.
  echo "run-all: installing tmux" >&2
  apt-get update -qq && apt-get install -y -qq tmux >/dev/null
fi
if ! need bwrap; then
  # Agents' commands run in a bubblewrap sandbox; the sandbox tests need it (Landlock too).
  echo "run-all: installing bubblewrap" >&2
  apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null
fi
if ! need strace; then
  # Tests count the files a dispatch loop opens (no CA store over plain http) and the syncs
  # a change of idea makes.
  echo "run-all: installing strace" >&2
  apt-get update -qq && apt-get install -y -qq strace >/dev/null
fi
if ! need chromium || ! need chromedriver; then
  # The web dashboard's test drives headless Chromium over WebDriver.
  echo "run-all: installing chromium and chromium-driver" >&2
  apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null
fi
if ! need openssl; then
  # The task store's TLS tests make a CA and a server certificate for their cluster.
  echo "run-all: installing openssl" >&2
  apt-get update -qq && apt-get install -y -qq openssl >/dev/null
fi
pg_bin() {
  if need initdb; then dirname "$(command -v initdb)"; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}
if [ -z "$(pg_bin)" ]; then
  # The task store's PostgreSQL tests run against a throwaway cluster started below.
  echo "run-all: installing postgresql" >&2
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
fi
if ! need cargo; then
  echo "run-all: cargo is missing; install Rust from https://rustup.rs" >&2
  exit 2
fi
rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy >/dev/null 2>&1 || true

# The CLI-provider contract tests drive the real claude, codex, gemini and pi programs; they
# fail (rather than skip) here when the programs are missing.
echo "== agent CLIs"
CLK_CLI_BIN="$(tests/install-clis.sh)"
export CLK_CLI_BIN CLK_REQUIRE_CLIS=1
# Likewise the dashboard's tmux tests (installed above): here a missing tmux is a failure.
export CLK_REQUIRE_TMUX=1
# The sandbox tests fail, not skip, when bubblewrap or Landlock is missing.
export CLK_REQUIRE_SANDBOX=1
# And the CA-store test fails, not skips, when strace is missing.
export CLK_REQUIRE_STRACE=1
# The web dashboard's browser test fails, not skips, when Chromium is missing.
export CLK_REQUIRE_BROWSER=1

# A throwaway PostgreSQL on a free loopback port for the task store's tests, stopped on exit.
# Postgres refuses to run as root: as root it runs as nobody.
echo "== postgresql"
PG_BIN="$(pg_bin)"
PG_DIR="$(mktemp -d /tmp/clk-pg.XXXXXX)"
PG_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 55439)"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown nobody "$PG_DIR"
as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U clk --auth=trust -E UTF8 >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log"; exit 1; }
as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
  -o "-k $PG_DIR -c listen_addresses=127.0.0.1 -p $PG_PORT -c fsync=off -c max_connections=300" start >/dev/null
stop_pg() { as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$PG_DIR"; }
trap stop_pg EXIT
export CLK_TEST_PG_URL="postgres://clk@127.0.0.1:$PG_PORT/postgres"
# Here a missing cluster is a failure, not a skip.
export CLK_REQUIRE_POSTGRES=1

echo "== cargo fmt --check"
cargo fmt --check
echo "== cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test --all-targets --quiet 2>&1 | tee /tmp/clk-test-output.txt
echo "== kickoff smoke test"
# The debug build cargo test just made; the README command builds release for users.
CLK_KICKOFF_PROFILE=dev CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}" ./kickoff.sh "Add a hello() function to greeter.py" > /tmp/clk-kickoff.txt 2>&1 || { cat /tmp/clk-kickoff.txt; exit 1; }
grep -q "Idea recorded" /tmp/clk-kickoff.txt
# The kickoff workspace is in the list, and --restore opens it again (headless: its status).
kick="$(sed -n 's/^Project: //p' /tmp/clk-kickoff.txt | head -1)"
CLK_KICKOFF_PROFILE=dev ./kickoff.sh --list > /tmp/clk-kickoff-list.txt 2>&1 || { cat /tmp/clk-kickoff-list.txt; exit 1; }
grep -q "$(basename "$kick")  *.*(kickoff)" /tmp/clk-kickoff-list.txt || { cat /tmp/clk-kickoff-list.txt; exit 1; }
CLK_KICKOFF_PROFILE=dev ./kickoff.sh --restore "$(basename "$kick")" < /dev/null > /tmp/clk-kickoff-restore.txt 2>&1 || { cat /tmp/clk-kickoff-restore.txt; exit 1; }
grep -q "Project: $kick" /tmp/clk-kickoff-restore.txt
echo "all checks passed"
