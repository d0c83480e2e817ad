//! The HTTP clients: one per process and configuration, so every dispatch to an endpoint
//! reuses its kept-alive connections, and TLS set up once.
//!
//! Building a reqwest client with its default TLS reads and parses the whole system CA store,
//! even for a plain-http loopback server. Here the client gets a TLS configuration whose
//! certificate check loads the platform's roots on the first https handshake of the process
//! and keeps them: plain http never touches them, https loads them once.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use rustls::crypto::CryptoProvider;

use super::describe_error;
use crate::engine::store::roots;

/// The clients built so far, by connect timeout (the one setting a client is built with).
static CLIENTS: LazyLock<Mutex<HashMap<Duration, reqwest::Client>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The client for `connect_timeout`, built on first use. Only the connect step has a limit
/// here; see the module docs of `http`. Clones share one connection pool.
pub fn client(connect_timeout: Duration) -> Result<reqwest::Client, String> {
    let mut clients = CLIENTS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(c) = clients.get(&connect_timeout) {
        return Ok(c.clone());
    }
    let c = build(connect_timeout)?;
    clients.insert(connect_timeout, c.clone());
    Ok(c)
}

fn build(connect_timeout: Duration) -> Result<reqwest::Client, String> {
    super::ensure_tls();
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let mut tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("could not set up TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(roots::verifier(provider))
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true)
        .user_agent(concat!("clk/", env!("CARGO_PKG_VERSION")))
        .tls_backend_preconfigured(tls)
        .build()
        .map_err(|e| format!("could not set up the HTTP client: {}", describe_error(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn building_clients_loads_no_roots() {
        let before = roots::root_loads();
        for ms in [1234, 1234, 1235] {
            client(Duration::from_millis(ms)).unwrap();
        }
        // No test in this process talks https, so nothing else loads them meanwhile.
        assert_eq!(roots::root_loads(), before);
    }
}
