//! Machine-config-server (MCS) TLS certificate checks.
//!
//! Owns: parsing the `tls.crt` of Secret
//! `openshift-machine-config-operator/machine-config-server-tls` (PEM, first
//! CERTIFICATE block = serving certificate), deciding whether it must be
//! regenerated before new boot images can join (no SAN → rejected by
//! Go ≥ 1.15 Ignition; expired), verifying it against the root CA(s) the stub
//! Ignition carries, and extracting those CAs from an Ignition config.
//! Must not do: any I/O (input is bytes/values, the clock is a parameter),
//! read the clock itself, touch private keys (non-certificate PEM blocks are
//! skipped unread), or put input bytes into errors or output.

pub(crate) mod analyze;
pub mod bundle;
mod data_url;
pub mod issue;
mod pem;

pub use analyze::{analyze_mcs_certificate, fingerprint_sha256, McsCertificateReport};
pub use data_url::ca_pems_from_ignition;

/// Why a certificate (or CA bundle) could not be analysed.
///
/// Messages never contain the input bytes, only line numbers and counts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// The input is empty or only whitespace.
    #[error(
        "the certificate input is empty; pass the decoded `tls.crt` of Secret \
         openshift-machine-config-operator/machine-config-server-tls"
    )]
    Empty,
    /// The input is not well-formed PEM (no block, unterminated block, bad base64…).
    #[error("the certificate input is not valid PEM: {reason}")]
    InvalidPem {
        /// What is wrong, with line numbers but without content.
        reason: String,
    },
    /// PEM blocks were found but none of them is a CERTIFICATE.
    #[error(
        "no CERTIFICATE PEM block found ({other_blocks} other PEM block(s) ignored, e.g. a \
         private key); pass the Secret's `tls.crt`, not `tls.key`"
    )]
    NoCertificate {
        /// Number of non-certificate PEM blocks that were skipped.
        other_blocks: usize,
    },
    /// A CERTIFICATE block decoded to bytes that are not a valid X.509 certificate.
    #[error(
        "the CERTIFICATE block starting on line {line} is not a valid X.509 certificate: \
         {reason}"
    )]
    InvalidCertificate {
        /// 1-based line of the block's `-----BEGIN` line.
        line: usize,
        /// The DER parser's diagnosis (no content).
        reason: String,
    },
    /// One of the CA bundles passed for verification is unusable.
    #[error("CA bundle #{index} (0-based) is unusable: {reason}")]
    InvalidCaBundle {
        /// 0-based index into the `ca_bundle_pems` argument.
        index: usize,
        /// The underlying problem, as one of the other variants' message.
        reason: String,
    },
}
