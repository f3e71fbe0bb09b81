//! Which certificate chain a TLS server actually serves, and whether it is the one the
//! clients will trust: used to check the OpenShift machine-config-server
//! (`api-int.<domain>:22623`) after its certificate was regenerated.
//!
//! The handshake accepts any certificate (the handshake signature itself is still
//! checked, so the server holds the key of the leaf it presents) and captures the chain;
//! the captured chain is then verified with rustls' `WebPkiServerVerifier` over a root
//! store made of the given CA bundle, so chain building, validity dates and the
//! hostname/IP subject-alternative-name match are webpki's, not hand-written. A wrong CA
//! or name is therefore a `ServedCheck` with `verified: false` and a reason; only a
//! server that cannot be reached or does not finish a handshake is an `Err`.
//!
//! Must not do: put certificate content (names, dates, issuers) into `reason`, trust the
//! system roots, or send anything after the handshake.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::cert::fingerprint_sha256;
use anyhow::{anyhow, bail, Context as _};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// What the server served.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct ServedCheck {
    /// "host:port" probed.
    pub address: String,
    /// SHA-256 of the leaf's DER, colon-separated uppercase hex (as
    /// `openssl x509 -fingerprint -sha256`).
    pub fingerprint_sha256: String,
    /// The leaf chains to one of the given CAs and is valid for `host` (DNS or IP
    /// subject alternative name) now.
    pub verified: bool,
    /// Why not verified (never certificate content).
    pub reason: Option<String>,
}

/// Connect to `host:port`, do a TLS handshake (SNI = `host` when it is a DNS name) and
/// check the served chain against `ca_bundle_pem`. `timeout` covers connect and
/// handshake. Errors: an unusable bundle or host, or no handshake (refused, DNS failure,
/// timeout, TLS failure), each naming host:port.
pub async fn probe_served(
    host: &str,
    port: u16,
    ca_bundle_pem: &[u8],
    timeout: Duration,
) -> anyhow::Result<ServedCheck> {
    probe_served_as(host, port, host, ca_bundle_pem, timeout).await
}

/// As [`probe_served`], but the certificate is checked (and SNI sent) for `name` while
/// the connection goes to `host:port` (a server reached by another address than the name
/// it serves, e.g. through a tunnel or from a test).
pub async fn probe_served_as(
    host: &str,
    port: u16,
    name: &str,
    ca_bundle_pem: &[u8],
    timeout: Duration,
) -> anyhow::Result<ServedCheck> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = name.trim_start_matches('[').trim_end_matches(']');
    let address = match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => format!("[{host}]:{port}"),
        _ => format!("{host}:{port}"),
    };
    let server_name = ServerName::try_from(name.to_string())
        .map_err(|_| anyhow!("{address}: {name:?} is neither a DNS name nor an IP address"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // The bundle is checked before connecting: a bad bundle is the caller's error.
    let verifier = WebPkiServerVerifier::builder_with_provider(
        Arc::new(root_store(ca_bundle_pem)?),
        provider.clone(),
    )
    .build()
    .context("CA bundle: cannot build a certificate verifier")?;

    let chain = served_chain(&address, host, port, server_name.clone(), provider, timeout).await?;
    let Some((leaf, intermediates)) = chain.split_first() else {
        bail!("{address}: the server presented no certificate");
    };
    let verdict =
        verifier.verify_server_cert(leaf, intermediates, &server_name, &[], UnixTime::now());
    Ok(ServedCheck {
        address,
        fingerprint_sha256: fingerprint_sha256(leaf),
        verified: verdict.is_ok(),
        reason: verdict.err().map(|e| reason_of(&e)),
    })
}

/// The trust anchors of a PEM bundle; at least one, every CERTIFICATE block usable.
fn root_store(ca_bundle_pem: &[u8]) -> anyhow::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for (i, der) in CertificateDer::pem_slice_iter(ca_bundle_pem).enumerate() {
        let der = der.map_err(|e| anyhow!("CA bundle: PEM block {}: {e}", i + 1))?;
        roots
            .add(der)
            .map_err(|e| anyhow!("CA bundle: certificate {} is no trust anchor: {e}", i + 1))?;
    }
    if roots.is_empty() {
        bail!("CA bundle holds no certificate");
    }
    Ok(roots)
}

/// Connect and handshake within `timeout`; the chain the server presented, leaf first.
async fn served_chain(
    address: &str,
    host: &str,
    port: u16,
    server_name: ServerName<'static>,
    provider: Arc<CryptoProvider>,
    timeout: Duration,
) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let capture = Arc::new(CaptureChain {
        chain: Mutex::new(Vec::new()),
        provider: provider.clone(),
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS client configuration")?
        .dangerous()
        .with_custom_certificate_verifier(capture.clone())
        .with_no_client_auth();
    let handshake = async {
        let tcp = TcpStream::connect((host, port))
            .await
            .with_context(|| format!("connecting to {address}"))?;
        TlsConnector::from(Arc::new(config))
            .connect(server_name, tcp)
            .await
            .with_context(|| format!("TLS handshake with {address}"))
    };
    let tls = tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| anyhow!("{address}: no TLS handshake within {timeout:?}"))??;
    drop(tls);
    let chain = std::mem::take(&mut *capture.chain.lock().unwrap_or_else(PoisonError::into_inner));
    Ok(chain)
}

/// Accepts any server certificate and keeps it; handshake signatures are still verified
/// against the presented leaf.
#[derive(Debug)]
struct CaptureChain {
    chain: Mutex<Vec<CertificateDer<'static>>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for CaptureChain {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        *self.chain.lock().unwrap_or_else(PoisonError::into_inner) = chain;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
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
        verify_tls13_signature(
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

/// Why webpki refused the chain, in fixed words (the error's context fields carry
/// certificate content: presented names, dates).
fn reason_of(err: &rustls::Error) -> String {
    let rustls::Error::InvalidCertificate(cert_err) = err else {
        return "the certificate chain was rejected".to_string();
    };
    let why = match cert_err {
        CertificateError::UnknownIssuer => {
            "unknown issuer: the certificate does not chain to any CA of the bundle"
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "the certificate is not valid for the name probed (no matching DNS or IP subject alternative name)"
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "the certificate has expired"
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "the certificate is not valid yet"
        }
        CertificateError::BadSignature => "a signature in the certificate chain does not verify",
        CertificateError::BadEncoding => "the certificate is not well-formed DER",
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "the certificate is not allowed for TLS server authentication (extended key usage)"
        }
        CertificateError::UnhandledCriticalExtension => {
            "the certificate has an unsupported critical extension"
        }
        CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "the certificate chain uses an unsupported signature algorithm"
        }
        other => {
            // Only the variant's name, never its fields.
            let debug = format!("{other:?}");
            let name: String = debug
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            return format!("the certificate chain was rejected ({name})");
        }
    };
    why.to_string()
}

#[cfg(test)]
mod tests {
    use sha2::{Digest as _, Sha256};
    use std::fmt::Write as _;
    use std::time::Instant;

    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use rustls::ServerConfig;
    use tokio::net::TcpListener;
    use tokio_rustls::TlsAcceptor;

    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(5);

    struct Ca {
        pem: String,
        params: CertificateParams,
        key: KeyPair,
    }

    fn ca(cn: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Ca { pem, params, key }
    }

    /// A leaf signed by `ca`: its DER and PKCS#8 key.
    fn leaf(
        ca: &Ca,
        sans: &[&str],
        expired: bool,
    ) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(sans).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        if expired {
            params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(30);
            params.not_after = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        }
        let key = KeyPair::generate().unwrap();
        let issuer = Issuer::from_params(&ca.params, &ca.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (cert.der().clone(), key)
    }

    /// A TLS server on 127.0.0.1 serving `leaf` for `accepts` connections, one at a time:
    /// handshake, then close.
    async fn serve(
        leaf: CertificateDer<'static>,
        key: PrivateKeyDer<'static>,
        accepts: usize,
    ) -> u16 {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf], key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            for _ in 0..accepts {
                let (tcp, _) = listener.accept().await.unwrap();
                // The client hangs up right after its handshake; the outcome is not ours.
                let _ = acceptor.accept(tcp).await;
            }
        });
        port
    }

    /// sha256 of `der` written independently of `fingerprint`.
    fn expected_fingerprint(der: &[u8]) -> String {
        let mut out = String::new();
        for (i, b) in Sha256::digest(der).iter().enumerate() {
            if i > 0 {
                out.push(':');
            }
            write!(out, "{b:02X}").unwrap();
        }
        out
    }

    #[test]
    fn fingerprint_is_openssl_style() {
        // sha256("abc"), FIPS 180-2 test vector.
        assert_eq!(
            fingerprint_sha256(b"abc"),
            "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
    }

    #[tokio::test]
    async fn leaf_of_the_bundle_ca_with_matching_san_is_verified() {
        let a = ca("CA A");
        let (der, key) = leaf(&a, &["localhost", "127.0.0.1"], false);
        let port = serve(der.clone(), key, 2).await;

        let by_ip = probe_served("127.0.0.1", port, a.pem.as_bytes(), TIMEOUT)
            .await
            .unwrap();
        assert_eq!(
            by_ip,
            ServedCheck {
                address: format!("127.0.0.1:{port}"),
                fingerprint_sha256: expected_fingerprint(&der),
                verified: true,
                reason: None,
            }
        );
        let by_name = probe_served("localhost", port, a.pem.as_bytes(), TIMEOUT)
            .await
            .unwrap();
        assert!(by_name.verified, "{by_name:?}");
        assert_eq!(by_name.address, format!("localhost:{port}"));
        assert_eq!(by_name.fingerprint_sha256, expected_fingerprint(&der));
    }

    #[tokio::test]
    async fn leaf_of_another_ca_is_reported_not_a_handshake_error() {
        let (a, b) = (ca("CA A"), ca("CA B"));
        let (der, key) = leaf(&a, &["localhost", "127.0.0.1"], false);
        let port = serve(der.clone(), key, 1).await;

        let check = probe_served("127.0.0.1", port, b.pem.as_bytes(), TIMEOUT)
            .await
            .unwrap();
        assert!(!check.verified);
        assert_eq!(check.fingerprint_sha256, expected_fingerprint(&der));
        let reason = check.reason.unwrap();
        assert!(reason.contains("unknown issuer"), "{reason}");
    }

    #[tokio::test]
    async fn leaf_without_san_is_not_valid_for_the_name() {
        let a = ca("CA A");
        let (der, key) = leaf(&a, &[], false); // CN=localhost only
        let port = serve(der, key, 2).await;

        for host in ["localhost", "127.0.0.1"] {
            let check = probe_served(host, port, a.pem.as_bytes(), TIMEOUT)
                .await
                .unwrap();
            assert!(!check.verified, "{host}");
            let reason = check.reason.unwrap();
            assert!(
                reason.contains("not valid for the name"),
                "{host}: {reason}"
            );
        }
    }

    #[tokio::test]
    async fn ip_san_does_not_cover_another_name() {
        let a = ca("CA A");
        let (der, key) = leaf(&a, &["127.0.0.1"], false);
        let port = serve(der, key, 1).await;

        let check = probe_served("localhost", port, a.pem.as_bytes(), TIMEOUT)
            .await
            .unwrap();
        assert!(!check.verified);
        assert!(check.reason.unwrap().contains("not valid for the name"));
    }

    #[tokio::test]
    async fn expired_leaf_is_not_verified() {
        let a = ca("CA A");
        let (der, key) = leaf(&a, &["127.0.0.1"], true);
        let port = serve(der, key, 1).await;

        let check = probe_served("127.0.0.1", port, a.pem.as_bytes(), TIMEOUT)
            .await
            .unwrap();
        assert!(!check.verified);
        assert_eq!(check.reason.as_deref(), Some("the certificate has expired"));
    }

    #[tokio::test]
    async fn bundle_of_two_cas_verifies_with_the_second() {
        let (a, b) = (ca("CA A"), ca("CA B"));
        let (der, key) = leaf(&a, &["localhost", "127.0.0.1"], false);
        let port = serve(der, key, 1).await;

        let bundle = format!("{}{}", b.pem, a.pem);
        let check = probe_served("127.0.0.1", port, bundle.as_bytes(), TIMEOUT)
            .await
            .unwrap();
        assert!(check.verified, "{check:?}");
        assert_eq!(check.reason, None);
    }

    #[tokio::test]
    async fn nothing_listening_is_an_error_naming_the_address() {
        let a = ca("CA A");
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap().port()
        };
        let timeout = Duration::from_secs(2);
        let started = Instant::now();
        let err = probe_served("127.0.0.1", port, a.pem.as_bytes(), timeout)
            .await
            .unwrap_err();
        assert!(started.elapsed() < timeout + Duration::from_millis(500));
        let message = format!("{err:#}");
        assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    }

    #[tokio::test]
    async fn silent_server_times_out_with_an_error_naming_the_address() {
        let a = ca("CA A");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let timeout = Duration::from_millis(300);
        let started = Instant::now();
        // Accepted by the kernel backlog, never answered.
        let err = probe_served("127.0.0.1", port, a.pem.as_bytes(), timeout)
            .await
            .unwrap_err();
        let elapsed = started.elapsed();
        assert!(
            elapsed >= timeout && elapsed < timeout + Duration::from_secs(1),
            "{elapsed:?}"
        );
        let message = format!("{err:#}");
        assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
        assert!(message.contains("no TLS handshake within"), "{message}");
        drop(listener);
    }

    #[tokio::test]
    async fn bad_bundles_are_errors_before_connecting() {
        // Port 9 on 127.0.0.1: nothing is reached, the bundle fails first.
        let empty = probe_served("127.0.0.1", 9, b"", TIMEOUT)
            .await
            .unwrap_err();
        assert!(format!("{empty:#}").contains("no certificate"), "{empty:#}");
        let garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let err = probe_served("127.0.0.1", 9, garbage, TIMEOUT)
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("CA bundle"), "{err:#}");
    }

    #[tokio::test]
    async fn unresolvable_host_is_an_error_naming_it() {
        let a = ca("CA A");
        let err = probe_served(
            "no-such-host.invalid",
            22623,
            a.pem.as_bytes(),
            Duration::from_secs(2),
        )
        .await
        .unwrap_err();
        let message = format!("{err:#}");
        assert!(message.contains("no-such-host.invalid:22623"), "{message}");
    }
}
