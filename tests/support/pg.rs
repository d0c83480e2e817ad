//! A throwaway PostgreSQL for the tests: the server `CLK_TEST_PG_URL` names (tests/run-all.sh
//! starts one), else a cluster this test process starts itself on a free loopback port when
//! PostgreSQL's programs are installed. Each test gets a database of its own, so tests run in
//! parallel. Without PostgreSQL a test skips, or fails under `CLK_REQUIRE_POSTGRES=1`.
//!
//! Postgres refuses to run as root, so as root the cluster runs as `nobody`. It runs under a
//! shell that waits on a pipe from this process: when the test process ends, the pipe closes
//! and the shell stops the server and removes its folder.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The server's URL (to its `postgres` database), or why there is none.
fn server() -> &'static Result<String, String> {
    static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
    SERVER.get_or_init(|| match std::env::var("CLK_TEST_PG_URL") {
        Ok(url) if !url.trim().is_empty() => Ok(url),
        _ => start(),
    })
}

/// Where initdb and postgres are: on PATH, else Debian's folder.
fn bin_dir() -> Option<PathBuf> {
    if let Ok(out) = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
    {
        let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() && !p.is_empty() {
            return Path::new(&p).parent().map(Path::to_path_buf);
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").is_file())
        .collect();
    found.sort();
    found.pop()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The shells that run the servers until this process ends, kept alive here.
static KEEPERS: Mutex<Vec<Child>> = Mutex::new(Vec::new());

fn start() -> Result<String, String> {
    start_cluster("", "", "").map(|(url, _)| url)
}

/// Start a cluster in a new folder named with `tag`: `prepare` runs first in that folder (as
/// the server's user), `options` are added to the server's command line. Its URL (to the
/// `postgres` database) and its folder.
fn start_cluster(tag: &str, prepare: &str, options: &str) -> Result<(String, PathBuf), String> {
    let bin = bin_dir().ok_or("PostgreSQL is not installed (no initdb)")?;
    let dir = std::env::temp_dir().join(format!("clk-test-pg{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let port = free_port();
    let data = dir.join("data");
    let script = format!(
        "set -e\n\
         cd '{dir}'\n\
         {prepare}\n\
         '{b}/initdb' -D '{d}' -U clk --auth=trust -E UTF8 >'{dir}/initdb.log' 2>&1\n\
         '{b}/postgres' -D '{d}' -k '{dir}' -c listen_addresses=127.0.0.1 -p {port} \
           -c fsync=off -c max_connections=300 {options} >'{dir}/server.log' 2>&1 &\n\
         pid=$!\n\
         read _ || true\n\
         kill -INT $pid 2>/dev/null || true\n\
         wait $pid 2>/dev/null || true\n\
         rm -rf '{dir}'\n",
        b = bin.display(),
        d = data.display(),
        dir = dir.display(),
    );
    let mut cmd = if is_root() {
        // SAFETY: chown on a path we just made.
        let c = std::ffi::CString::new(dir.to_string_lossy().as_bytes()).unwrap();
        unsafe { libc::chown(c.as_ptr(), 65534, 65534) };
        let mut c = Command::new("runuser");
        c.args(["-u", "nobody", "--", "sh", "-c", &script]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", &script]);
        c
    };
    let child = cmd
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("could not start PostgreSQL: {e}"))?;
    KEEPERS.lock().unwrap().push(child);
    let url = format!("postgres://clk@127.0.0.1:{port}/postgres");
    let start = Instant::now();
    loop {
        // The server's log says when it is ready; only then may a plain connection try (a
        // TLS server refuses nothing plain on loopback: pg_hba trusts all).
        if postgres::Client::connect(&url, postgres::NoTls).is_ok() {
            return Ok((url, dir));
        }
        if start.elapsed() > Duration::from_secs(60) {
            let log = std::fs::read_to_string(dir.join("initdb.log")).unwrap_or_default()
                + &std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            return Err(format!("PostgreSQL did not start: {log}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stop the servers this process started (the keepers' pipes close).
pub fn stop() {
    for mut child in std::mem::take(&mut *KEEPERS.lock().unwrap()) {
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(b"\n");
        }
        let _ = child.wait();
    }
}

/// A new, empty database for one test: its URL. None (the test skips) when PostgreSQL is
/// missing, unless `CLK_REQUIRE_POSTGRES=1`, where it fails. Callable from async tests too:
/// the blocking client runs on a thread of its own.
pub fn database() -> Option<String> {
    std::thread::spawn(new_database).join().unwrap()
}

fn new_database() -> Option<String> {
    let base = or_skip(server())?;
    Some(create_in(&base))
}

/// The server, or None after saying why the test skips (a failure under
/// `CLK_REQUIRE_POSTGRES=1`).
fn or_skip<T: Clone>(server: &Result<T, String>) -> Option<T> {
    match server {
        Ok(s) => Some(s.clone()),
        Err(why) => {
            if std::env::var("CLK_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("{why} (CLK_REQUIRE_POSTGRES=1)");
            }
            eprintln!("skipped: {why}");
            None
        }
    }
}

/// A new database on the server at `base`: its URL.
fn create_in(base: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "clk_t{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let mut c = postgres::Client::connect(base, postgres::NoTls).unwrap();
    c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let (head, _) = base.rsplit_once('/').unwrap();
    format!("{head}/{name}")
}

/// A database on a cluster of this process's own with `ssl = on`, its certificate for
/// `localhost` and 127.0.0.1 signed by a CA made at start with the `openssl` program: the
/// URL (no TLS words in it) and the CA's PEM file. Skips (None) as [`database`] does, also
/// when openssl is missing. pg_hba trusts every loopback connection, plain or TLS.
pub fn tls_database() -> Option<(String, PathBuf)> {
    std::thread::spawn(|| {
        let (base, dir) = or_skip(tls_server())?;
        Some((create_in(&base), dir.join("ca.crt")))
    })
    .join()
    .unwrap()
}

/// A database on the TLS cluster owned by `certuser`, a user the server lets in only with a
/// client certificate its CA signed for that name: the URL (as `certuser`, no TLS words) and
/// the folder with `ca.crt`, `certuser.crt`/`.key`, `intruder.crt`/`.key` (a certificate
/// from the same CA for another name) and `v1.crt` (certuser's key in an X.509 v1
/// certificate, which rustls does not take). Skips as [`tls_database`] does.
pub fn cert_database() -> Option<(String, PathBuf)> {
    std::thread::spawn(|| {
        let (base, dir) = or_skip(tls_server())?;
        let url = create_in(&base);
        let name = url.rsplit_once('/').unwrap().1.to_string();
        let mut c = postgres::Client::connect(&base, postgres::NoTls).unwrap();
        // Several tests may ask at once: the role is made once, whoever comes first.
        let _ = c.batch_execute("CREATE ROLE certuser LOGIN");
        c.batch_execute(&format!("ALTER DATABASE {name} OWNER TO certuser"))
            .unwrap();
        Some((
            url.replacen("postgres://clk@", "postgres://certuser@", 1),
            dir,
        ))
    })
    .join()
    .unwrap()
}

fn tls_server() -> &'static Result<(String, PathBuf), String> {
    static SERVER: OnceLock<Result<(String, PathBuf), String>> = OnceLock::new();
    SERVER.get_or_init(|| {
        if Command::new("openssl").arg("version").output().is_err() {
            return Err("openssl is not installed".into());
        }
        // A CA, and a server certificate it signs with the names clients use on loopback.
        let prepare = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
               -nodes -days 2 -subj /CN=clk-test-ca -keyout ca.key -out ca.crt \
               -addext basicConstraints=critical,CA:TRUE \
               -addext keyUsage=critical,keyCertSign,cRLSign >openssl.log 2>&1\n\
             openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
               -subj /CN=localhost -keyout server.key -out server.csr >>openssl.log 2>&1\n\
             printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' \
               >server.ext\n\
             openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
               -days 2 -extfile server.ext -out server.crt >>openssl.log 2>&1\n\
             printf 'extendedKeyUsage=clientAuth\\n' >client.ext\n\
             for who in certuser intruder; do\n\
               openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                 -subj /CN=$who -keyout $who.key -out $who.csr >>openssl.log 2>&1\n\
               openssl x509 -req -in $who.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
                 -days 2 -extfile client.ext -out $who.crt >>openssl.log 2>&1\n\
             done\n\
             openssl x509 -req -in certuser.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
               -days 2 -out v1.crt >>openssl.log 2>&1\n\
             printf 'local all all trust\\nhostnossl all certuser 127.0.0.1/32 reject\\n\
hostssl all certuser 127.0.0.1/32 cert\\nhost all all 127.0.0.1/32 trust\\n' >hba.conf\n\
             chmod 600 server.key ca.key certuser.key intruder.key";
        let dir = std::env::temp_dir().join(format!("clk-test-pg-tls-{}", std::process::id()));
        // The CA also signs client certificates; the user `certuser` is let in only by one.
        let options = format!(
            "-c ssl=on -c ssl_cert_file={d}/server.crt -c ssl_key_file={d}/server.key \
             -c ssl_ca_file={d}/ca.crt -c hba_file={d}/hba.conf",
            d = dir.display()
        );
        start_cluster("-tls", prepare, &options)
    })
}
