//! Analysis of the machine-config-server serving certificate.
//!
//! Owns: [`analyze_mcs_certificate`] and its output type
//! [`McsCertificateReport`] (SANs, validity, regeneration decision, CA check).
//! Must not do: I/O or reading the clock (`now` is a parameter), chain
//! building beyond "one of the given CAs signed it", or copying any input
//! bytes into errors.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{SystemTime, UNIX_EPOCH};

use schemars::JsonSchema;
use serde::Serialize;
use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::nom;
use x509_parser::oid_registry::OID_X509_EXT_SUBJECT_ALT_NAME;
use x509_parser::time::ASN1Time;
use x509_parser::x509::X509Name;

use super::pem::{certificate_blocks, first_certificate_block, CertBlock};
use super::CertError;

/// Where to read about regenerating the MCS certificate and the stub CA.
const REGENERATE_DOC: &str = "https://access.redhat.com/articles/regenerating_cluster_certificates";

/// Result of checking the machine-config-server TLS serving certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct McsCertificateReport {
    /// Common Name (CN) of the certificate subject, if any (e.g.
    /// `system:machine-config-server`, or `api-int.<domain>` on old clusters).
    pub subject_cn: Option<String>,
    /// Common Name (CN) of the issuer, if any (normally `root-ca`).
    pub issuer_cn: Option<String>,
    /// DNS names in the Subject Alternative Name extension, in certificate order.
    pub dns_sans: Vec<String>,
    /// IP addresses in the Subject Alternative Name extension, in certificate order.
    pub ip_sans: Vec<String>,
    /// Start of validity, RFC 3339 UTC (e.g. `2023-03-09T14:10:14Z`).
    pub not_before: String,
    /// End of validity, RFC 3339 UTC (e.g. `2033-03-06T14:10:15Z`).
    pub not_after: String,
    /// True when the given time is after `not_after`.
    pub expired: bool,
    /// True when the given time is before `not_before` (often a clock problem).
    pub not_yet_valid: bool,
    /// True when the certificate has a Subject Alternative Name with at least one
    /// DNS name or IP address. Without one, Ignition in RHCOS 4.6+ boot images
    /// (Go 1.15+) rejects the machine-config-server.
    pub has_san: bool,
    /// True when the certificate must be regenerated before new boot images can
    /// be used: it has no SAN, or it has expired. See `reasons`.
    pub regeneration_required: bool,
    /// Why regeneration is required, as sentences; empty when it is not.
    pub reasons: Vec<String>,
    /// Whether one of the given CA certificates issued this certificate (issuer
    /// name equals the CA subject and the CA's public key verifies the
    /// signature). `null` when no CA was given.
    pub ca_verified: Option<bool>,
    /// Subjects (RFC 4514-style) of all CA certificates that were checked, in order.
    pub ca_subjects: Vec<String>,
    /// Serial number as colon-separated lowercase hex bytes (as in `openssl x509 -text`).
    pub serial: String,
    /// SHA-256 fingerprint of the DER certificate as colon-separated uppercase hex
    /// (as in `openssl x509 -noout -fingerprint -sha256`).
    pub fingerprint_sha256: String,
}

/// Checks the machine-config-server serving certificate.
///
/// `tls_crt_pem` is the decoded `tls.crt` of Secret
/// `openshift-machine-config-operator/machine-config-server-tls`; its first
/// CERTIFICATE block is analysed, other certificates (a chain) and
/// non-certificate blocks (keys) are ignored. `ca_bundle_pems` are PEM CA
/// bundles (each may hold several certificates), e.g. from
/// [`super::ca_pems_from_ignition`]; when empty, `ca_verified` is `None`.
/// `now` decides `expired` / `not_yet_valid`.
///
/// Errors: the certificate input is empty, not PEM, has no CERTIFICATE block
/// or is not a valid X.509 certificate; or a CA bundle has one of those
/// problems ([`CertError::InvalidCaBundle`]).
pub fn analyze_mcs_certificate(
    tls_crt_pem: &[u8],
    ca_bundle_pems: &[Vec<u8>],
    now: SystemTime,
) -> Result<McsCertificateReport, CertError> {
    let block = first_certificate_block(tls_crt_pem)?;
    let cert = parse_certificate(&block)?;

    let ca_blocks = ca_bundle_pems
        .iter()
        .enumerate()
        .map(|(index, bundle)| {
            certificate_blocks(bundle).map_err(|e| CertError::InvalidCaBundle {
                index,
                reason: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut cas = Vec::new();
    for (index, blocks) in ca_blocks.iter().enumerate() {
        for ca_block in blocks {
            let ca = parse_certificate(ca_block).map_err(|e| CertError::InvalidCaBundle {
                index,
                reason: e.to_string(),
            })?;
            cas.push(ca);
        }
    }

    let sans = SubjectAltNames::of(&cert);
    let validity = cert.validity();
    let now_secs = unix_seconds(now);
    let expired = now_secs > validity.not_after.timestamp();
    let not_yet_valid = now_secs < validity.not_before.timestamp();
    let not_after = rfc3339(&validity.not_after);

    let mut reasons = Vec::new();
    if !sans.has_usable() {
        reasons.push(sans.problem_sentence());
    }
    if expired {
        reasons.push(format!(
            "The certificate expired at {not_after}; new machines cannot fetch their Ignition \
             config from the machine-config-server until it is regenerated (see \
             {REGENERATE_DOC})."
        ));
    }

    let ca_verified = if cas.is_empty() {
        None
    } else {
        Some(cas.iter().any(|ca| issued_by(&cert, ca)))
    };

    Ok(McsCertificateReport {
        subject_cn: common_name(cert.subject()),
        issuer_cn: common_name(cert.issuer()),
        has_san: sans.has_usable(),
        dns_sans: sans.dns,
        ip_sans: sans.ip,
        not_before: rfc3339(&validity.not_before),
        not_after,
        expired,
        not_yet_valid,
        regeneration_required: !reasons.is_empty(),
        reasons,
        ca_verified,
        ca_subjects: cas.iter().map(|ca| ca.subject().to_string()).collect(),
        serial: cert.raw_serial_as_string(),
        fingerprint_sha256: fingerprint_sha256(&block.der),
    })
}

/// Parses DER; trailing bytes after the certificate are rejected (as Go does).
fn parse_certificate(block: &CertBlock) -> Result<X509Certificate<'_>, CertError> {
    let invalid = |reason: String| CertError::InvalidCertificate {
        line: block.begin_line,
        reason,
    };
    match x509_parser::parse_x509_certificate(&block.der) {
        Ok(([], cert)) => Ok(cert),
        Ok((rest, _)) => Err(invalid(format!(
            "{} unexpected byte(s) follow the certificate",
            rest.len()
        ))),
        Err(nom::Err::Incomplete(_)) => Err(invalid("the DER data is cut short".to_string())),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(invalid(e.to_string())),
    }
}

/// Subject Alternative Name entries relevant for TLS server authentication.
struct SubjectAltNames {
    /// An SAN extension exists (parseable or not).
    present: bool,
    /// An SAN extension exists but could not be parsed.
    unparseable: bool,
    dns: Vec<String>,
    ip: Vec<String>,
}

impl SubjectAltNames {
    fn of(cert: &X509Certificate<'_>) -> Self {
        let mut sans = SubjectAltNames {
            present: false,
            unparseable: false,
            dns: Vec::new(),
            ip: Vec::new(),
        };
        for ext in cert.extensions() {
            if ext.oid != OID_X509_EXT_SUBJECT_ALT_NAME {
                continue;
            }
            sans.present = true;
            match ext.parsed_extension() {
                ParsedExtension::SubjectAlternativeName(san) => {
                    for name in &san.general_names {
                        match name {
                            GeneralName::DNSName(dns) => sans.dns.push((*dns).to_string()),
                            GeneralName::IPAddress(bytes) => sans.ip.push(format_ip(bytes)),
                            _ => {}
                        }
                    }
                }
                _ => sans.unparseable = true,
            }
        }
        sans
    }

    fn has_usable(&self) -> bool {
        !self.dns.is_empty() || !self.ip.is_empty()
    }

    fn problem_sentence(&self) -> String {
        let what = if !self.present {
            "The certificate has no Subject Alternative Name (it only has a Common Name)"
        } else if self.unparseable {
            "The certificate's Subject Alternative Name extension cannot be parsed"
        } else {
            "The certificate's Subject Alternative Name lists no DNS name or IP address"
        };
        format!(
            "{what}; Ignition in RHCOS 4.6 and later boot images (Go 1.15+) ignores the Common \
             Name and rejects this machine-config-server certificate, so new machines cannot \
             join. Regenerate the machine-config-server certificate and the stub Ignition CA \
             (see {REGENERATE_DOC})."
        )
    }
}

/// `issuer == ca.subject` and the CA's key verifies the signature.
fn issued_by(cert: &X509Certificate<'_>, ca: &X509Certificate<'_>) -> bool {
    names_match(cert.issuer(), ca.subject()) && cert.verify_signature(Some(ca.public_key())).is_ok()
}

fn names_match(a: &X509Name<'_>, b: &X509Name<'_>) -> bool {
    a.as_raw() == b.as_raw() || a.to_string() == b.to_string()
}

fn common_name(name: &X509Name<'_>) -> Option<String> {
    name.iter_common_name()
        .next()
        .and_then(|attr| attr.as_str().ok())
        .map(str::to_owned)
}

fn format_ip(bytes: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        Ipv4Addr::from(v4).to_string()
    } else if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        Ipv6Addr::from(v6).to_string()
    } else {
        format!("invalid IP address ({} bytes)", bytes.len())
    }
}

/// Whole seconds since the Unix epoch (negative before it), saturating.
pub(crate) fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs())
            .map(|s| -s)
            .unwrap_or(i64::MIN),
    }
}

fn rfc3339(t: &ASN1Time) -> String {
    let dt = t.to_datetime();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// The SHA-256 fingerprint of a DER certificate as colon-separated uppercase hex (as
/// `openssl x509 -noout -fingerprint -sha256` prints it).
pub fn fingerprint_sha256(der: &[u8]) -> String {
    colon_hex_upper(&Sha256::digest(der))
}

fn colon_hex_upper(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
#[path = "analyze_tests.rs"]
mod tests;
