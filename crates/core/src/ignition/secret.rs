//! Reading `userData` out of a machine-api user-data Secret.
//!
//! Owns: [`decode_secret_user_data`] (`stringData.userData` plain text or
//! `data.userData` base64).
//! Must not do: parse the user data (see `inspect`), or echo any part of
//! the Secret in errors.

use base64::Engine as _;
use serde_json::Value;

use super::error::{json_type, IgnitionError};

/// Returns the decoded `userData` of a user-data Secret given as JSON
/// (e.g. a Kubernetes API object, or YAML parsed into a `serde_json::Value`).
///
/// `stringData.userData` (plain text) wins over `data.userData` (base64), as
/// Kubernetes does when it stores a Secret. ASCII whitespace inside the base64
/// text (line folding) is ignored.
///
/// Errors: [`IgnitionError::MissingUserData`], [`IgnitionError::UserDataNotString`],
/// [`IgnitionError::InvalidBase64`].
pub fn decode_secret_user_data(secret: &Value) -> Result<Vec<u8>, IgnitionError> {
    if let Some(plain) = secret.pointer("/stringData/userData") {
        return match plain {
            Value::String(s) => Ok(s.as_bytes().to_vec()),
            other => Err(IgnitionError::UserDataNotString {
                key: "stringData.userData",
                found: json_type(other),
            }),
        };
    }
    match secret.pointer("/data/userData") {
        None => Err(IgnitionError::MissingUserData),
        Some(Value::String(encoded)) => decode_base64(encoded),
        Some(other) => Err(IgnitionError::UserDataNotString {
            key: "data.userData",
            found: json_type(other),
        }),
    }
}

fn decode_base64(encoded: &str) -> Result<Vec<u8>, IgnitionError> {
    let compact: Vec<u8> = encoded
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .map_err(|e| IgnitionError::InvalidBase64 {
            reason: describe(&e, |compact_offset| {
                original_offset(encoded, compact_offset)
            }),
        })
}

/// Maps an offset in the whitespace-free text back to the original value.
fn original_offset(encoded: &str, compact_offset: usize) -> usize {
    encoded
        .bytes()
        .enumerate()
        .filter(|(_, b)| !b.is_ascii_whitespace())
        .nth(compact_offset)
        .map_or(encoded.len(), |(index, _)| index)
}

/// Describes a base64 error without the offending byte; offsets are mapped
/// to the original (whitespace-containing) value by `offset`.
fn describe(error: &base64::DecodeError, offset: impl Fn(usize) -> usize) -> String {
    match error {
        base64::DecodeError::InvalidByte(at, _) => {
            format!("invalid character at byte offset {}", offset(*at))
        }
        base64::DecodeError::InvalidLength(len) => {
            format!(
                "{len} characters (whitespace excluded) is not a valid base64 length \
                 (value cut short?)"
            )
        }
        base64::DecodeError::InvalidLastSymbol(at, _) => {
            format!("invalid last character at byte offset {}", offset(*at))
        }
        base64::DecodeError::InvalidPadding => {
            "missing or misplaced `=` padding (value cut short?)".to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FIXTURE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/ignition/secrets/vsphere-4.9-spec3.2.0-worker-user-data-secret.yaml"
    ));

    #[test]
    fn decodes_data_user_data_of_a_real_secret() {
        let secret: Value = serde_yaml::from_str(FIXTURE).unwrap();
        let user_data = decode_secret_user_data(&secret).unwrap();
        assert!(user_data.starts_with(br#"{"ignition":{"config":{"merge":"#));
        assert_eq!(user_data.len(), 1706);
    }

    #[test]
    fn string_data_is_plain_and_wins_over_data() {
        let secret = json!({
            "stringData": {"userData": "{\"ignition\":{\"version\":\"3.2.0\"}}"},
            "data": {"userData": "bm90IHRoaXM="}
        });
        assert_eq!(
            decode_secret_user_data(&secret).unwrap(),
            br#"{"ignition":{"version":"3.2.0"}}"#
        );
    }

    #[test]
    fn folded_base64_is_accepted() {
        let secret = json!({"data": {"userData": "eyJpZ25p\n dGlvbiI6\r\n e319"}});
        assert_eq!(
            decode_secret_user_data(&secret).unwrap(),
            br#"{"ignition":{}}"#
        );
    }

    #[test]
    fn empty_user_data_decodes_to_empty_bytes() {
        let secret = json!({"data": {"userData": ""}});
        assert_eq!(decode_secret_user_data(&secret).unwrap(), b"");
    }

    #[test]
    fn missing_user_data_is_a_clear_error() {
        for secret in [
            json!({}),
            json!({"data": {"disableTemplating": "dHJ1ZQo="}}),
            json!({"data": null}),
            json!([1, 2]),
            json!("userData"),
        ] {
            let e = decode_secret_user_data(&secret).unwrap_err();
            assert_eq!(e, IgnitionError::MissingUserData);
            assert!(e.to_string().contains("data.userData"));
        }
    }

    #[test]
    fn non_string_user_data_is_a_clear_error() {
        let e = decode_secret_user_data(&json!({"data": {"userData": 42}})).unwrap_err();
        assert_eq!(
            e,
            IgnitionError::UserDataNotString {
                key: "data.userData",
                found: "a number"
            }
        );
        assert_eq!(
            e.to_string(),
            "`data.userData` is a number, expected a string"
        );
        let e = decode_secret_user_data(&json!({"stringData": {"userData": null}})).unwrap_err();
        assert!(
            e.to_string().contains("`stringData.userData` is null"),
            "{e}"
        );
    }

    #[test]
    fn bad_base64_is_a_clear_error_without_echo() {
        for (garbage, expected) in [
            (
                "this is plain text, not base64!",
                "invalid character at byte offset 18",
            ),
            (
                "{\"ignition\":{\"version\":\"3.2.0\"}}",
                "invalid character at byte offset 0",
            ),
            ("eyJpZ25pdGlvbi", "padding"),
            ("eyJ=pZ25", "invalid character at byte offset 3"),
            (
                "eyJpZ25pdGlvbiI6e319=",
                "invalid character at byte offset 20",
            ),
            ("eyJpZ", "not a valid base64 length"),
            ("eQ==eQ==", "invalid character at byte offset 2"),
            ("eR==", "invalid last character at byte offset 1"),
        ] {
            let e = decode_secret_user_data(&json!({"data": {"userData": garbage}})).unwrap_err();
            assert!(
                matches!(e, IgnitionError::InvalidBase64 { .. }),
                "{garbage}"
            );
            let msg = e.to_string();
            assert!(msg.contains(expected), "{garbage}: {msg}");
            assert!(!msg.contains(garbage), "{msg}");
            assert!(msg.contains("stringData"), "{msg}");
        }
    }
}
