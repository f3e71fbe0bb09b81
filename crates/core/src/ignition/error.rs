//! Errors of the `ignition` module.
//!
//! Owns: [`IgnitionError`] and its messages.
//! Must not do: carry user-data content (configs hold CA certificates and
//! URLs; some user data holds secrets). Only keys, types, lengths, offsets
//! and positions appear in messages.

/// Why user data could not be read or is not an Ignition config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IgnitionError {
    /// The Secret has neither `data.userData` nor `stringData.userData`.
    #[error(
        "the Secret has neither `data.userData` nor `stringData.userData`; pass a machine-api \
         user-data Secret such as openshift-machine-api/worker-user-data (the one named in the \
         MachineSet's `userDataSecret`)"
    )]
    MissingUserData,
    /// `data.userData` or `stringData.userData` exists but is not a string.
    #[error("`{key}` is {found}, expected a string")]
    UserDataNotString {
        /// The offending key path.
        key: &'static str,
        /// The JSON type found instead (e.g. "a number").
        found: &'static str,
    },
    /// `data.userData` is not valid base64.
    #[error(
        "`data.userData` is not valid base64: {reason}; Secret `data` values must be \
         base64-encoded, plain text belongs in `stringData`"
    )]
    InvalidBase64 {
        /// What is wrong (offset or length, never the content).
        reason: String,
    },
    /// The user data is empty or only whitespace.
    #[error("the user data is empty; an Ignition stub config is expected")]
    Empty,
    /// The user data is gzip-compressed.
    #[error("the user data is gzip-compressed; only plain JSON Ignition stubs can be inspected")]
    Compressed,
    /// The user data is not valid JSON.
    #[error("the user data is not JSON: {problem} at line {line}, column {column}{hint}")]
    NotJson {
        /// Kind of problem ("syntax error", "unexpected end of input", …).
        problem: &'static str,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// Extra guidance, possibly empty (starts with "; ").
        hint: &'static str,
    },
    /// The user data is JSON, but not an object.
    #[error("the user data is JSON {found}, not an Ignition config object")]
    NotAnObject {
        /// The JSON type found (e.g. "an array").
        found: &'static str,
    },
    /// The user data is an Ignition spec 1 config (`ignitionVersion`).
    #[error(
        "the user data is an Ignition spec 1 config (`ignitionVersion`), which RHCOS does not \
         support; it must be rewritten as a spec 3 config"
    )]
    SpecV1,
    /// The user data is a JSON object without `ignition.version`.
    #[error(
        "the user data is JSON but has no `ignition.version`, so it is not an Ignition config"
    )]
    MissingVersion,
    /// `ignition.version` is not a string.
    #[error("`ignition.version` is {found}, expected a string such as \"3.2.0\"")]
    VersionNotString {
        /// The JSON type found (e.g. "a number").
        found: &'static str,
    },
    /// `ignition.version` is not of the form `2.x.y` or `3.x.y`.
    #[error(
        "`ignition.version` {shown} is not a supported Ignition spec version (expected 2.x.y or \
         3.x.y)"
    )]
    UnsupportedVersion {
        /// The version if it is short and made of digits and dots, else a
        /// description of it (length only).
        shown: String,
    },
}

/// "a string", "an array", … for messages.
pub(crate) fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
