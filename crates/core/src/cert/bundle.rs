//! CA bundles: the certificates of several PEM sources as one PEM text, each once, the
//! expired ones left out (library-go's `CABundleConfigMap` keeps the new signer and the
//! still-valid old ones the same way), and the facts of one certificate a planner needs.
//!
//! Must not do: read the clock (`now` is a parameter) or accept anything but
//! CERTIFICATE blocks into a bundle.

use std::time::SystemTime;

use super::analyze::{fingerprint_sha256, unix_seconds};
use super::pem::certificate_blocks;
use base64::Engine as _;

/// What a planner needs to know of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    /// Common Name of the subject, if any.
    pub subject_cn: Option<String>,
    /// Validity, seconds since the epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// SHA-256 of the DER, colon-separated uppercase hex.
    pub fingerprint_sha256: String,
}

/// The facts of the first certificate of `pem` (None: no parseable certificate).
pub fn cert_facts(pem: &[u8]) -> Option<CertFacts> {
    let block = certificate_blocks(pem).ok()?.into_iter().next()?;
    let (_, cert) = x509_parser::parse_x509_certificate(&block.der).ok()?;
    let validity = cert.validity();
    let subject_cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string);
    let facts = CertFacts {
        subject_cn,
        not_before: validity.not_before.timestamp(),
        not_after: validity.not_after.timestamp(),
        fingerprint_sha256: fingerprint_sha256(&block.der),
    };
    Some(facts)
}

/// The PEM text of one DER certificate (64-column lines, as Go writes it).
pub fn pem_of(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Every CERTIFICATE block of `pem`, re-encoded (each with a final newline); none when
/// `pem` is not valid PEM.
pub fn pem_certificates(pem: &str) -> Vec<String> {
    certificate_blocks(pem.as_bytes())
        .map(|blocks| blocks.iter().map(|b| pem_of(&b.der)).collect())
        .unwrap_or_default()
}

/// One PEM bundle of every certificate of `sources`, in order of first appearance, each
/// once (by DER), without those expired at `now` and without unparseable sources; and how
/// many certificates it holds.
pub fn ca_bundle(sources: &[&[u8]], now: SystemTime) -> (String, usize) {
    let now = unix_seconds(now);
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let mut out = String::new();
    for source in sources {
        let Ok(blocks) = certificate_blocks(source) else {
            continue;
        };
        for block in blocks {
            if seen.contains(&block.der) {
                continue;
            }
            let Ok((_, cert)) = x509_parser::parse_x509_certificate(&block.der) else {
                continue;
            };
            if cert.validity().not_after.timestamp() < now {
                continue;
            }
            out.push_str(&pem_of(&block.der));
            seen.push(block.der);
        }
    }
    (out, seen.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const ROOT_CA: &str =
        include_str!("../../../../tests/fixtures/certs/azure-communityus-root-ca.crt");
    const OTHER_CA: &str =
        include_str!("../../../../tests/fixtures/certs/openstack-opentlc-root-ca.crt");

    #[test]
    fn a_bundle_holds_each_valid_certificate_once_in_order() {
        let at = UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let joined = format!("{OTHER_CA}{ROOT_CA}");
        let (pem, n) = ca_bundle(&[ROOT_CA.as_bytes(), joined.as_bytes(), b"junk"], at);
        assert_eq!(n, 2);
        let first = cert_facts(pem.as_bytes()).unwrap();
        assert_eq!(first, cert_facts(ROOT_CA.as_bytes()).unwrap());
        // Past every certificate's end, nothing is kept.
        let late = UNIX_EPOCH + std::time::Duration::from_secs(4_000_000_000);
        assert_eq!(ca_bundle(&[ROOT_CA.as_bytes()], late), (String::new(), 0));
        // The re-encoded PEM is the same certificate.
        assert_eq!(
            cert_facts(pem_of(&certificate_blocks(ROOT_CA.as_bytes()).unwrap()[0].der).as_bytes()),
            cert_facts(ROOT_CA.as_bytes())
        );
    }
}
