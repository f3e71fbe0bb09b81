//! Minimal, strict PEM block scanner.
//!
//! Owns: finding `-----BEGIN <label>-----` … `-----END <label>-----` blocks in
//! arbitrary bytes and base64-decoding the CERTIFICATE blocks. Text outside
//! blocks (e.g. `openssl x509 -text` output) is skipped.
//! Must not do: decode, store or echo the body of any non-certificate block
//! (private keys in particular); put input bytes or labels into error
//! messages (only line numbers and counts).

use base64::Engine as _;

use super::CertError;

/// PEM labels accepted as an X.509 certificate.
const CERTIFICATE_LABELS: [&[u8]; 2] = [b"CERTIFICATE", b"X509 CERTIFICATE"];

const BEGIN: &[u8] = b"-----BEGIN ";
const END: &[u8] = b"-----END ";
const DASHES: &[u8] = b"-----";

/// One decoded CERTIFICATE block.
#[derive(Debug)]
pub(crate) struct CertBlock {
    /// 1-based line number of the `-----BEGIN` line (for error messages).
    pub begin_line: usize,
    /// DER bytes.
    pub der: Vec<u8>,
}

/// An undecoded CERTIFICATE block found by [`scan`].
struct RawCertBlock {
    begin_line: usize,
    base64: Vec<u8>,
}

/// The result of scanning PEM text.
struct Scan {
    certificates: Vec<RawCertBlock>,
    other_blocks: usize,
}

/// Block currently being read.
struct Open<'a> {
    label: &'a [u8],
    begin_line: usize,
    is_certificate: bool,
    base64: Vec<u8>,
}

/// Decodes every CERTIFICATE block of `input`, in order.
///
/// Errors: [`CertError::Empty`] for empty/whitespace input,
/// [`CertError::InvalidPem`] for structural or base64 problems,
/// [`CertError::NoCertificate`] when only other blocks (keys, …) are present.
pub(crate) fn certificate_blocks(input: &[u8]) -> Result<Vec<CertBlock>, CertError> {
    let scan = scan(input)?;
    if scan.certificates.is_empty() {
        return Err(CertError::NoCertificate {
            other_blocks: scan.other_blocks,
        });
    }
    scan.certificates.into_iter().map(decode).collect()
}

/// Decodes only the first CERTIFICATE block of `input` (the serving
/// certificate of a chain). The whole input must still be well-formed PEM.
pub(crate) fn first_certificate_block(input: &[u8]) -> Result<CertBlock, CertError> {
    let scan = scan(input)?;
    match scan.certificates.into_iter().next() {
        Some(raw) => decode(raw),
        None => Err(CertError::NoCertificate {
            other_blocks: scan.other_blocks,
        }),
    }
}

fn decode(raw: RawCertBlock) -> Result<CertBlock, CertError> {
    if raw.base64.is_empty() {
        return Err(CertError::InvalidPem {
            reason: format!(
                "the CERTIFICATE block starting on line {} has no content",
                raw.begin_line
            ),
        });
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(&raw.base64)
        .map_err(|_| CertError::InvalidPem {
            reason: format!(
                "the base64 text of the CERTIFICATE block starting on line {} is invalid \
                 (damaged or cut short)",
                raw.begin_line
            ),
        })?;
    Ok(CertBlock {
        begin_line: raw.begin_line,
        der,
    })
}

fn scan(input: &[u8]) -> Result<Scan, CertError> {
    if input.trim_ascii().is_empty() {
        return Err(CertError::Empty);
    }
    let mut certificates = Vec::new();
    let mut other_blocks = 0usize;
    let mut open: Option<Open<'_>> = None;
    let mut saw_begin = false;

    for (index, raw_line) in input.split(|b| *b == b'\n').enumerate() {
        let line_no = index + 1;
        let line = raw_line.trim_ascii();
        match open.take() {
            None => {
                if line.starts_with(BEGIN) {
                    saw_begin = true;
                    let label = marker_label(line, BEGIN).ok_or_else(|| CertError::InvalidPem {
                        reason: format!("line {line_no}: malformed `-----BEGIN` line"),
                    })?;
                    open = Some(Open {
                        label,
                        begin_line: line_no,
                        is_certificate: CERTIFICATE_LABELS.contains(&label),
                        base64: Vec::new(),
                    });
                }
            }
            Some(mut block) => {
                if line.starts_with(END) {
                    if marker_label(line, END) != Some(block.label) {
                        return Err(CertError::InvalidPem {
                            reason: format!(
                                "line {line_no}: the `-----END` line does not match the \
                                 `-----BEGIN` line on line {}",
                                block.begin_line
                            ),
                        });
                    }
                    if block.is_certificate {
                        certificates.push(RawCertBlock {
                            begin_line: block.begin_line,
                            base64: block.base64,
                        });
                    } else {
                        other_blocks += 1;
                    }
                } else if line.starts_with(BEGIN) {
                    return Err(CertError::InvalidPem {
                        reason: format!(
                            "line {line_no}: a new `-----BEGIN` line starts before the block \
                             from line {} was closed with an `-----END` line",
                            block.begin_line
                        ),
                    });
                } else {
                    if block.is_certificate {
                        block
                            .base64
                            .extend(line.iter().filter(|b| !b.is_ascii_whitespace()));
                    }
                    open = Some(block);
                }
            }
        }
    }

    if let Some(block) = open {
        return Err(CertError::InvalidPem {
            reason: format!(
                "the PEM block starting on line {} has no `-----END` line (input cut short?)",
                block.begin_line
            ),
        });
    }
    if !saw_begin {
        return Err(CertError::InvalidPem {
            reason: not_pem_hint(input).to_string(),
        });
    }
    Ok(Scan {
        certificates,
        other_blocks,
    })
}

/// `-----BEGIN LABEL-----` → `LABEL` (non-empty, printable ASCII).
fn marker_label<'a>(line: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let rest = line.strip_prefix(prefix)?.strip_suffix(DASHES)?;
    let ok = !rest.is_empty() && rest.iter().all(|b| b.is_ascii_graphic() || *b == b' ');
    ok.then_some(rest)
}

/// A helpful sentence for input that contains no PEM block at all.
fn not_pem_hint(input: &[u8]) -> &'static str {
    let trimmed = input.trim_ascii_start();
    // base64("-----BEGIN") starts with "LS0tLS1CRUdJTi".
    if trimmed.starts_with(b"LS0tLS1") {
        "no `-----BEGIN` line found; the input looks base64-encoded: decode the Secret's \
         `data` value first (e.g. `oc get secret … --template '{{index .data \"tls.crt\" | \
         base64decode}}'`)"
    } else if trimmed.first() == Some(&0x30) {
        "no `-----BEGIN` line found; the input looks like binary DER: convert it with \
         `openssl x509 -inform der -outform pem`"
    } else {
        "no `-----BEGIN` line found; expected PEM text such as the decoded `tls.crt` of \
         Secret openshift-machine-config-operator/machine-config-server-tls"
    }
}
