//! RFC 2397 `data:` URL decoding and CA extraction from Ignition configs.
//!
//! Owns: reading `ignition.security.tls.certificateAuthorities[].source`
//! (same path in spec 2.x and 3.x) and decoding inline `data:` URLs, both the
//! `;base64` and the percent-encoded form.
//! Must not do: fetch remote sources (`https://…`, `s3://…`; they are
//! skipped), validate that the decoded bytes are certificates (the caller
//! parses them), or report decoded content anywhere.

use base64::Engine as _;
use serde_json::Value;

/// Extracts the inline CA certificates (PEM bytes, one entry per
/// `certificateAuthorities[]` item) of an Ignition config.
///
/// Reads `ignition.security.tls.certificateAuthorities[].source`, which has
/// the same path in Ignition spec 2.x and 3.x. Only `data:` URLs are decoded
/// (`data:text/plain;charset=utf-8;base64,…` and the percent-encoded
/// `data:,…` form); remote sources and undecodable entries are skipped, so
/// the result can be shorter than the array. Entries with a `compression`
/// (spec 3.1+, e.g. `gzip`) are skipped too, as they cannot be decompressed
/// here. Never fails.
pub fn ca_pems_from_ignition(ignition: &Value) -> Vec<Vec<u8>> {
    ignition
        .pointer("/ignition/security/tls/certificateAuthorities")
        .and_then(Value::as_array)
        .map(|cas| {
            cas.iter()
                .filter(|ca| !is_compressed(ca))
                .filter_map(|ca| ca.get("source").and_then(Value::as_str))
                .filter_map(decode_data_url)
                .collect()
        })
        .unwrap_or_default()
}

/// Spec 3.1+ `compression` set to something other than "" / null.
fn is_compressed(ca: &Value) -> bool {
    ca.get("compression")
        .and_then(Value::as_str)
        .is_some_and(|c| !c.is_empty())
}

/// Decodes an RFC 2397 `data:` URL; `None` for other schemes or bad data.
pub(crate) fn decode_data_url(url: &str) -> Option<Vec<u8>> {
    let scheme = url.get(..5)?;
    if !scheme.eq_ignore_ascii_case("data:") {
        return None;
    }
    let (header, data) = url.get(5..)?.split_once(',')?;
    let is_base64 = header
        .rsplit(';')
        .next()
        .is_some_and(|last| last.trim().eq_ignore_ascii_case("base64"));
    let bytes = percent_decode(data.as_bytes())?;
    if is_base64 {
        decode_base64_lenient(&bytes)
    } else {
        Some(bytes)
    }
}

/// Percent-decodes `%XX` escapes; `None` for a malformed escape.
fn percent_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if b == b'%' {
            let hi = hex_value(*input.get(i + 1)?)?;
            let lo = hex_value(*input.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Standard or URL-safe base64, with or without padding, whitespace ignored.
fn decode_base64_lenient(input: &[u8]) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let compact: Vec<u8> = input
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(&compact).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_base64_data_url() {
        let url = "data:text/plain;charset=utf-8;base64,aGVsbG8gd29ybGQ=";
        assert_eq!(decode_data_url(url).as_deref(), Some(&b"hello world"[..]));
    }

    #[test]
    fn decodes_base64_without_padding_and_uppercase_scheme() {
        let url = "DATA:;BASE64,aGVsbG8gd29ybGQ";
        assert_eq!(decode_data_url(url).as_deref(), Some(&b"hello world"[..]));
    }

    #[test]
    fn decodes_percent_encoded_data_url() {
        let url = "data:,-----BEGIN%20CERTIFICATE-----%0Aabc%0A";
        assert_eq!(
            decode_data_url(url).as_deref(),
            Some(&b"-----BEGIN CERTIFICATE-----\nabc\n"[..])
        );
    }

    #[test]
    fn rejects_other_schemes_and_bad_data() {
        assert_eq!(decode_data_url("https://example.com/ca.crt"), None);
        assert_eq!(decode_data_url("data:no-comma"), None);
        assert_eq!(decode_data_url("data:,bad%zzescape"), None);
        assert_eq!(decode_data_url("data:,trailing%4"), None);
        assert_eq!(decode_data_url("data:;base64,!!!!"), None);
        assert_eq!(decode_data_url(""), None);
        assert_eq!(decode_data_url("dat"), None);
        // Multi-byte character where the scheme would be: no panic.
        assert_eq!(decode_data_url("daté:,x"), None);
    }

    #[test]
    fn ca_pems_skips_missing_and_remote_sources() {
        assert!(ca_pems_from_ignition(&json!({})).is_empty());
        assert!(ca_pems_from_ignition(&json!([1, 2])).is_empty());
        assert!(ca_pems_from_ignition(
            &json!({"ignition": {"security": {"tls": {"certificateAuthorities": "x"}}}})
        )
        .is_empty());
        let config = json!({"ignition": {"version": "3.2.0", "security": {"tls": {
        "certificateAuthorities": [
            {"source": "https://example.com/ca.pem"},
            {"source": "data:,abc"},
            {"no_source": true},
            {"source": "data:;base64,H4sIAAAAAAAA", "compression": "gzip"},
            {"source": "data:,ghi", "compression": ""},
            {"source": "data:text/plain;charset=utf-8;base64,ZGVm"}
        ]}}}});
        assert_eq!(
            ca_pems_from_ignition(&config),
            vec![b"abc".to_vec(), b"ghi".to_vec(), b"def".to_vec()]
        );
    }
}
