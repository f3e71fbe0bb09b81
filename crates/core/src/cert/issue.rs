//! Issuing the machine-config-server's CA and serving certificate, as `oc adm
//! ocp-certificates regenerate-machine-config-server-serving-cert` (library-go's
//! certrotation) makes them: a self-signed RSA signer `<namespace>_<name>@<unix time>`
//! and an RSA-2048 serving certificate for the given hostnames (DNS names and IP
//! addresses), serverAuth, whose `tls.crt` is the certificate followed by its CA.
//!
//! Owns: building the certificates with rcgen from keys the caller generated (the core
//! draws no randomness: keys and serial numbers are parameters), reading an existing
//! signer back (PKCS#1 or PKCS#8 RSA key), and the PEM forms written to Secrets.
//! Must not do: generate keys, read the clock (`now` is a parameter), or put key
//! material into an error.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber, PKCS_RSA_SHA256,
};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::RsaPrivateKey;

use super::bundle::pem_certificates;

/// Ten years, the validity oc gives the machine-config-server CA and certificate.
pub const TEN_YEARS: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Why a certificate could not be issued (never holds key material).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    #[error("the private key is not an RSA key in PKCS#1 or PKCS#8 PEM")]
    Key,
    #[error("the CA certificate cannot be used to sign: {0}")]
    Signer(String),
    #[error("no hostname to issue the certificate for")]
    NoHostnames,
    #[error("hostname {0:?} is not a valid DNS name")]
    Hostname(String),
    #[error("issuing the certificate failed: {0}")]
    Rcgen(String),
}

/// A certificate and its private key, PEM (`tls.crt` / `tls.key` of a `kubernetes.io/tls`
/// Secret). `key_pem` is PKCS#1 (`RSA PRIVATE KEY`), as library-go writes it.
#[derive(Clone, PartialEq, Eq)]
pub struct CertAndKey {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for CertAndKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertAndKey")
            .field("cert_pem", &format!("{} bytes", self.cert_pem.len()))
            .field("key_pem", &"(hidden)")
            .finish()
    }
}

/// The PKCS#1 and PKCS#8 PEM forms of an RSA key given in either form.
fn rsa_key(pem: &str) -> Result<(String, String), IssueError> {
    let key = RsaPrivateKey::from_pkcs1_pem(pem)
        .or_else(|_| RsaPrivateKey::from_pkcs8_pem(pem))
        .map_err(|_| IssueError::Key)?;
    let pkcs1 = key
        .to_pkcs1_pem(LineEnding::LF)
        .map_err(|_| IssueError::Key)?;
    let pkcs8 = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|_| IssueError::Key)?;
    Ok((pkcs1.to_string(), pkcs8.to_string()))
}

/// rcgen's signing key from an RSA key PEM.
fn key_pair(pem: &str) -> Result<(KeyPair, String), IssueError> {
    let (pkcs1, pkcs8) = rsa_key(pem)?;
    let pair = KeyPair::from_pkcs8_pem_and_sign_algo(&pkcs8, &PKCS_RSA_SHA256)
        .map_err(|_| IssueError::Key)?;
    Ok((pair, pkcs1))
}

fn validity(params: &mut CertificateParams, now: SystemTime, valid_for: Duration) {
    let start = time::OffsetDateTime::from(now) - time::Duration::seconds(60);
    params.not_before = start;
    params.not_after = start + time::Duration::seconds(valid_for.as_secs() as i64);
}

/// The self-signed signer `common_name`, valid from a minute before `now` for `valid_for`,
/// with `key_pem` (RSA) and `serial` (positive, at most 20 bytes).
pub fn issue_signer(
    common_name: &str,
    key_pem: &str,
    serial: &[u8],
    now: SystemTime,
    valid_for: Duration,
) -> Result<CertAndKey, IssueError> {
    let (key, pkcs1) = key_pair(key_pem)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyCertSign,
    ];
    params.serial_number = Some(SerialNumber::from_slice(serial));
    validity(&mut params, now, valid_for);
    let cert = params
        .self_signed(&key)
        .map_err(|e| IssueError::Rcgen(e.to_string()))?;
    Ok(CertAndKey {
        cert_pem: cert.pem(),
        key_pem: pkcs1,
    })
}

/// The serving certificate for `hostnames` (IP addresses become IP SANs, the rest DNS
/// SANs; the first is the CN), signed by `signer`, with `key_pem` (RSA) and `serial`.
/// Its `cert_pem` is the certificate followed by the signer's, as library-go writes
/// `tls.crt`.
pub fn issue_serving(
    signer: &CertAndKey,
    hostnames: &[String],
    key_pem: &str,
    serial: &[u8],
    now: SystemTime,
    valid_for: Duration,
) -> Result<CertAndKey, IssueError> {
    let first = hostnames.first().ok_or(IssueError::NoHostnames)?;
    let (signer_key, _) = key_pair(&signer.key_pem)?;
    let ca_pem = pem_certificates(&signer.cert_pem)
        .into_iter()
        .next()
        .ok_or_else(|| IssueError::Signer("no CERTIFICATE block".into()))?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, &signer_key)
        .map_err(|e| IssueError::Signer(e.to_string()))?;
    let (key, pkcs1) = key_pair(key_pem)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, first.as_str());
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.subject_alt_names = hostnames
        .iter()
        .map(|h| match h.parse::<IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => h
                .as_str()
                .try_into()
                .map(SanType::DnsName)
                .map_err(|_| IssueError::Hostname(h.clone())),
        })
        .collect::<Result<_, _>>()?;
    params.serial_number = Some(SerialNumber::from_slice(serial));
    validity(&mut params, now, valid_for);
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(|e| IssueError::Rcgen(e.to_string()))?;
    Ok(CertAndKey {
        cert_pem: format!("{}{ca_pem}", cert.pem()),
        key_pem: pkcs1,
    })
}

/// Whether `key_pem` is an RSA key this module can sign with.
pub fn usable_rsa_key(key_pem: &str) -> bool {
    key_pair(key_pem).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::analyze_mcs_certificate;

    /// A 2048-bit RSA key made once for these tests (never used anywhere else).
    fn key() -> String {
        use rsa::rand_core::OsRng;
        let k = RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
        k.to_pkcs1_pem(LineEnding::LF).unwrap().to_string()
    }

    #[test]
    fn a_serving_certificate_chains_to_its_signer_and_names_every_host() {
        let now = SystemTime::now();
        let ca = issue_signer(
            "openshift-machine-config-operator_machine-config-server-ca@1",
            &key(),
            &[1],
            now,
            TEN_YEARS,
        )
        .unwrap();
        assert!(ca.key_pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let hosts = vec!["api-int.example.com".to_string(), "192.0.2.10".to_string()];
        let leaf = issue_serving(&ca, &hosts, &key(), &[2, 3], now, TEN_YEARS).unwrap();
        assert_eq!(pem_certificates(&leaf.cert_pem).len(), 2);
        let report = analyze_mcs_certificate(
            leaf.cert_pem.as_bytes(),
            &[ca.cert_pem.clone().into_bytes()],
            now,
        )
        .unwrap();
        assert_eq!(report.dns_sans, vec!["api-int.example.com"]);
        assert_eq!(report.ip_sans, vec!["192.0.2.10"]);
        assert_eq!(report.ca_verified, Some(true));
        assert!(!report.regeneration_required);
        assert_eq!(report.subject_cn.as_deref(), Some("api-int.example.com"));
        // A PKCS#8 key works as a signer too, and nothing of a key reaches Debug.
        let (_, pkcs8) = rsa_key(&ca.key_pem).unwrap();
        let again = CertAndKey {
            cert_pem: ca.cert_pem.clone(),
            key_pem: pkcs8,
        };
        assert!(issue_serving(&again, &hosts, &key(), &[4], now, TEN_YEARS).is_ok());
        assert!(!format!("{again:?}").contains("PRIVATE"));
        assert_eq!(
            issue_serving(&ca, &[], &key(), &[5], now, TEN_YEARS),
            Err(IssueError::NoHostnames)
        );
        assert_eq!(
            issue_signer("x", "not a key", &[1], now, TEN_YEARS),
            Err(IssueError::Key)
        );
    }
}
