#!/usr/bin/env bash
# Installs the four agent CLIs the CLI-provider contract tests drive (claude, codex, gemini,
# pi) into a cache folder outside the clone, reused between runs, and prints the folder that
# holds their programs.
#
# Usage: dir=$(tests/install-clis.sh)      # then PATH="$dir:$PATH"
# Cache: ${CLK_CLI_CACHE:-$HOME/.cache/clk-test-clis}; delete it to force a fresh install.
# Versions are pinned so a run is repeatable; bump them together after checking the tests.
set -euo pipefail

CACHE="${CLK_CLI_CACHE:-$HOME/.cache/clk-test-clis}"
# claude-code must be named exactly: on Node 20 an unpinned install resolves an old release
# (newer ones declare engines.node >= 22 but run fine).
PACKAGES=(
  "@anthropic-ai/claude-code@2.1.330"
  "@openai/codex@0.169.0"
  "@google/gemini-cli@0.61.0"
  "@mariozechner/pi-coding-agent@0.73.1"
)
STAMP="$CACHE/.installed"
WANT="${PACKAGES[*]}"
BIN="$CACHE/node_modules/.bin"

have_all() {
  for p in claude codex gemini pi; do
    [ -x "$BIN/$p" ] || return 1
  done
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]
}

if ! have_all; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "install-clis: npm is missing; installing nodejs and npm" >&2
    apt-get update -qq >&2 && apt-get install -y -qq nodejs npm >/dev/null
  fi
  mkdir -p "$CACHE"
  echo "install-clis: installing ${PACKAGES[*]} into $CACHE (about a minute, once)" >&2
  # Lock files from another version set would fight the pins.
  rm -f "$CACHE/package-lock.json" "$STAMP"
  npm install --prefix "$CACHE" --no-audit --no-fund --loglevel=error "${PACKAGES[@]}" >&2
  for p in claude codex gemini pi; do
    if [ ! -x "$BIN/$p" ]; then
      echo "install-clis: $p was not installed into $BIN" >&2
      exit 1
    fi
  done
  printf '%s' "$WANT" > "$STAMP"
fi
echo "$BIN"
