//! The system's CA roots for clk's TLS clients (model APIs over https, the PostgreSQL task
//! store): read on the first handshake that needs them and kept for the process. A client that
//! only talks plain http, or to a local store that offers no TLS, never reads the CA store,
//! and a process that talks to both reads it once.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// The platform's certificate check, built on the first handshake.
static PLATFORM: OnceLock<Result<Arc<rustls_platform_verifier::Verifier>, rustls::Error>> =
    OnceLock::new();

/// How many times this process loaded the platform's roots (at most once).
static ROOT_LOADS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// The platform's certificate check (chain and host name), its roots loaded lazily.
pub fn verifier(provider: Arc<CryptoProvider>) -> Arc<dyn ServerCertVerifier> {
    Arc::new(LazyRoots { provider })
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
    fn roots_load_on_the_first_check_and_only_once() {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let before = root_loads();
        let (a, b) = (
            LazyRoots {
                provider: provider.clone(),
            },
            LazyRoots { provider },
        );
        // No test in this process talks https, so nothing else loads them meanwhile.
        assert_eq!(root_loads(), before);
        let _ = a.platform();
        let _ = b.platform();
        assert_eq!(root_loads(), 1);
        assert!(!a.supported_verify_schemes().is_empty());
    }
}
