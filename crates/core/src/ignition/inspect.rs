//! Parsing and inspection of stub Ignition configs.
//!
//! Owns: [`parse_ignition`] (bytes → validated Ignition JSON value),
//! [`inspect_user_data`] and its output type [`StubInspection`].
//! Must not do: modify the config (the 2.x → 3.x migration is separate),
//! output config sources, CA data or any other content — only version,
//! shape facts, a SHA-256 and a length.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::{json_type, IgnitionError};

/// What a stub Ignition config (the `userData` of a user-data Secret) is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct StubInspection {
    /// The `ignition.version` of the config (e.g. `2.2.0`, `3.2.0`); `null` on error.
    pub ignition_version: Option<String>,
    /// Major Ignition spec version (2 or 3); `null` on error.
    pub spec_major: Option<u32>,
    /// True for a spec 2.x config: boot images of OpenShift 4.6 and later only
    /// read spec 3, so the stub must be migrated before they are used.
    pub migration_required: bool,
    /// How the stub points at the machine-config-server: `merge` (spec 3),
    /// `append` (spec 2) or `replace` (`ignition.config.replace.source` set);
    /// `null` when it points nowhere or on error.
    pub merge_or_append: Option<String>,
    /// Number of entries in `ignition.security.tls.certificateAuthorities`.
    pub ca_count: usize,
    /// Problems that do not stop Ignition from reading the config (e.g. keys of
    /// the other spec major version, which Ignition ignores).
    pub warnings: Vec<String>,
    /// Why the content is not a usable Ignition config (not JSON, no
    /// `ignition.version`, unsupported version, …); `null` when it is. Never
    /// contains the content.
    pub error: Option<String>,
    /// SHA-256 of the decoded user data, lowercase hex (as `sha256sum` prints it).
    pub sha256: String,
    /// Length of the decoded user data in bytes.
    pub length: usize,
}

/// A validated Ignition config.
struct Parsed {
    /// The whole config, key order preserved.
    value: Value,
    /// `ignition.version` as written.
    version: String,
    /// Spec major version: 2 or 3.
    major: u32,
}

/// Longest version string that may be quoted back in an error message.
const MAX_SHOWN_VERSION_LEN: usize = 15;

/// Parses user data as an Ignition config and checks that it is one.
///
/// Accepts a JSON object whose `ignition.version` is `2.x.y` or `3.x.y`
/// (optionally with a pre-release suffix such as `-experimental`). The value
/// is returned unchanged (key order preserved) for callers that need more
/// than [`inspect_user_data`] reports.
///
/// Errors: empty, gzip-compressed, not JSON, not an object, spec 1,
/// no/invalid `ignition.version`. Messages never contain the content.
pub fn parse_ignition(user_data: &[u8]) -> Result<Value, IgnitionError> {
    parse_validated(user_data).map(|parsed| parsed.value)
}

/// Inspects the decoded `userData` of a user-data Secret.
///
/// Never fails: problems go into [`StubInspection::error`]; `sha256` and
/// `length` are always set so callers can compare content without showing it.
pub fn inspect_user_data(user_data: &[u8]) -> StubInspection {
    let sha256 = hex_lower(&Sha256::digest(user_data));
    let length = user_data.len();
    match parse_validated(user_data) {
        Ok(parsed) => StubInspection {
            merge_or_append: pointer_mode(&parsed.value).map(str::to_owned),
            ca_count: ca_count(&parsed.value),
            warnings: warnings(&parsed),
            migration_required: parsed.major == 2,
            spec_major: Some(parsed.major),
            ignition_version: Some(parsed.version),
            error: None,
            sha256,
            length,
        },
        Err(e) => StubInspection {
            ignition_version: None,
            spec_major: None,
            migration_required: false,
            merge_or_append: None,
            ca_count: 0,
            warnings: Vec::new(),
            error: Some(e.to_string()),
            sha256,
            length,
        },
    }
}

fn parse_validated(user_data: &[u8]) -> Result<Parsed, IgnitionError> {
    let trimmed = user_data.trim_ascii();
    if trimmed.is_empty() {
        return Err(IgnitionError::Empty);
    }
    if trimmed.starts_with(&[0x1f, 0x8b]) {
        return Err(IgnitionError::Compressed);
    }
    let value: Value = serde_json::from_slice(user_data).map_err(|e| not_json(&e, trimmed))?;
    let Value::Object(top) = &value else {
        return Err(IgnitionError::NotAnObject {
            found: json_type(&value),
        });
    };
    let (version, major) = match top.get("ignition").and_then(|i| i.get("version")) {
        Some(Value::String(v)) => (v.clone(), spec_major(v)?),
        Some(other) => {
            return Err(IgnitionError::VersionNotString {
                found: json_type(other),
            })
        }
        None if top.contains_key("ignitionVersion") => return Err(IgnitionError::SpecV1),
        None => return Err(IgnitionError::MissingVersion),
    };
    Ok(Parsed {
        value,
        version,
        major,
    })
}

fn not_json(e: &serde_json::Error, trimmed: &[u8]) -> IgnitionError {
    let problem = match e.classify() {
        serde_json::error::Category::Eof => "unexpected end of input (cut short?)",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "invalid data",
        serde_json::error::Category::Io => "read error",
    };
    let hint = if trimmed.starts_with(b"#") {
        "; it looks like a cloud-init document or a script, not an Ignition config"
    } else if trimmed.starts_with(b"ey") {
        // base64 of `{"` starts with "ey".
        "; it looks base64-encoded: decode the Secret's `data.userData` first"
    } else {
        ""
    };
    IgnitionError::NotJson {
        problem,
        line: e.line(),
        column: e.column(),
        hint,
    }
}

/// Checks `MAJOR.MINOR.PATCH[-PRERELEASE]` with major 2 or 3; returns the major.
fn spec_major(text: &str) -> Result<u32, IgnitionError> {
    let unsupported = || IgnitionError::UnsupportedVersion {
        shown: shown_version(text),
    };
    let (core, pre) = match text.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (text, None),
    };
    if let Some(pre) = pre {
        let ok = !pre.is_empty()
            && pre
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if !ok {
            return Err(unsupported());
        }
    }
    let mut parts = core.split('.');
    let mut number = || -> Option<u32> {
        let part = parts.next()?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (Some(major), Some(_minor), Some(_patch)) = (number(), number(), number()) else {
        return Err(unsupported());
    };
    if parts.next().is_some() || !(major == 2 || major == 3) {
        return Err(unsupported());
    }
    Ok(major)
}

/// The version quoted if it is short digits-and-dots, else only its length.
fn shown_version(text: &str) -> String {
    let safe = !text.is_empty()
        && text.len() <= MAX_SHOWN_VERSION_LEN
        && text.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if safe {
        format!("\"{text}\"")
    } else {
        format!("(a string of {} characters)", text.chars().count())
    }
}

/// Warnings for a valid config: keys of the other spec major version.
fn warnings(parsed: &Parsed) -> Vec<String> {
    let value = &parsed.value;
    let mut warnings = Vec::new();
    let config = value.pointer("/ignition/config");
    let has = |key: &str| config.and_then(|c| c.get(key)).is_some();
    if parsed.major == 3 {
        if value.get("networkd").is_some() {
            warnings.push("2.x-only key `networkd` present in a 3.x config".to_string());
        }
        if has("append") {
            warnings.push(
                "2.x-only key `ignition.config.append` present in a 3.x config (Ignition \
                 ignores it; use `ignition.config.merge`)"
                    .to_string(),
            );
        }
    } else if has("merge") {
        warnings.push(
            "3.x-only key `ignition.config.merge` present in a 2.x config (Ignition ignores \
             it; use `ignition.config.append`)"
                .to_string(),
        );
    }
    warnings
}

/// `replace` (source set) wins over `merge`, then `append`, as in Ignition.
fn pointer_mode(value: &Value) -> Option<&'static str> {
    let config = value.pointer("/ignition/config")?;
    let non_empty = |key: &str| {
        config
            .get(key)
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    };
    let replace_source = config
        .pointer("/replace/source")
        .is_some_and(|s| s.as_str().is_some_and(|s| !s.is_empty()));
    if replace_source {
        Some("replace")
    } else if non_empty("merge") {
        Some("merge")
    } else if non_empty("append") {
        Some("append")
    } else {
        None
    }
}

fn ca_count(value: &Value) -> usize {
    value
        .pointer("/ignition/security/tls/certificateAuthorities")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[path = "inspect_tests.rs"]
mod tests;
