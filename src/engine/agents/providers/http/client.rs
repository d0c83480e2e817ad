//! The HTTP clients: one per process and configuration, so every dispatch to an endpoint
//! reuses its kept-alive connections, and TLS set up once.
//!
//! Building a reqwest client with its default TLS reads and parses the whole system CA store,
//! even for a plain-http loopback server. Here the client gets a TLS configuration whose
//! certificate check loads the platform's roots on the first https handshake of the process
//! and keeps them: plain http never touches them, https loads them once.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::describe_error;

/// The clients built so far, by connect timeout (the one setting a client is built with).
static CLIENTS: LazyLock<Mutex<HashMap<Duration, reqwest::Client>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The platform's certificate check, built on the first https handshake.
static PLATFORM: OnceLock<Result<Arc<rustls_platform_verifier::Verifier>, rustls::Error>> =
    OnceLock::new();

/// How many times this process loaded the platform's roots (at most once).
static ROOT_LOADS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

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
        .with_custom_certificate_verifier(Arc::new(LazyRoots { provider }))
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

/// How many times this process has loaded the system's CA roots.
pub fn root_loads() -> u32 {
    ROOT_LOADS.load(std::sync::atomic::Ordering::Relaxed)
}

/// The platform verifier, the same one reqwest uses by default, with its roots loaded lazily.
#[derive(Debug)]
struct LazyRoots {
    provider: Arc<CryptoProvider>,
}

impl LazyRoots {
    fn platform(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        let loaded = PLATFORM.get_or_init(|| {
            ROOT_LOADS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            rustls_platform_verifier::Verifier::new(self.provider.clone()).map(Arc::new)
        });
        match loaded {
            Ok(v) => Ok(v),
            Err(e) => Err(e.clone()),
        }
    }
}

impl ServerCertVerifier for LazyRoots {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.platform()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn building_clients_loads_no_roots_and_a_handshake_loads_them_once() {
        let before = root_loads();
        for ms in [1234, 1234, 1235] {
            client(Duration::from_millis(ms)).unwrap();
        }
        // No test in this process talks https, so nothing else loads them meanwhile.
        assert_eq!(root_loads(), before);
        let v = LazyRoots {
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        };
        let _ = v.platform();
        let _ = v.platform();
        assert_eq!(root_loads(), 1);
        assert!(!v.supported_verify_schemes().is_empty());
    }
}
