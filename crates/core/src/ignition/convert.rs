//! Migration of stub Ignition configs from spec 2.x to spec 3.x.
//!
//! Owns: [`convert_to_v3`], [`TargetVersion`], [`Conversion`] and
//! [`ConvertError`]. The translation follows Ignition's own spec 2 → 3 rules
//! (coreos/ign-converter `v24tov31`/`v23tov30`): `ignition.config.append`
//! becomes `ignition.config.merge`, `networkd` has no spec 3 equivalent,
//! spec 2 files always overwrote (spec 3 needs `overwrite: true`), files may
//! only live on the `root` filesystem, `systemd.units[].enable` becomes
//! `enabled`. Everything else of a pointer config (sources, verification
//! hashes, CAs, timeouts, proxy) is kept exactly, in the input's key order.
//! Keys that this converter does not know, keys that do not exist in the
//! config's own 2.x version, and shapes without an exact spec 3 equivalent
//! are refused with an error naming the key path, so a caller never writes
//! a config that means something else than the original.
//! Must not do: any I/O, fetch the pointed-to config, or put user-data
//! content into errors or notes (only key paths, indexes, counts, versions).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::Hash;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{json_type, IgnitionError};
use super::inspect::parse_ignition;

/// Target spec versions the converter can write.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
pub enum TargetVersion {
    /// Ignition spec 3.0.0 (no `ignition.proxy`, no `httpHeaders`).
    #[serde(rename = "3.0.0")]
    V3_0,
    /// Ignition spec 3.1.0, what the documented procedure writes (default).
    #[default]
    #[serde(rename = "3.1.0")]
    V3_1,
    /// Ignition spec 3.2.0.
    #[serde(rename = "3.2.0")]
    V3_2,
    /// Ignition spec 3.3.0.
    #[serde(rename = "3.3.0")]
    V3_3,
    /// Ignition spec 3.4.0.
    #[serde(rename = "3.4.0")]
    V3_4,
}

impl TargetVersion {
    /// Every target, oldest first.
    pub const ALL: [TargetVersion; 5] = [
        TargetVersion::V3_0,
        TargetVersion::V3_1,
        TargetVersion::V3_2,
        TargetVersion::V3_3,
        TargetVersion::V3_4,
    ];

    /// The `ignition.version` string written for this target (e.g. `3.1.0`).
    pub const fn as_str(self) -> &'static str {
        match self {
            TargetVersion::V3_0 => "3.0.0",
            TargetVersion::V3_1 => "3.1.0",
            TargetVersion::V3_2 => "3.2.0",
            TargetVersion::V3_3 => "3.3.0",
            TargetVersion::V3_4 => "3.4.0",
        }
    }
}

impl fmt::Display for TargetVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TargetVersion {
    type Err = ConvertError;

    /// Parses `3.0.0` … `3.4.0` exactly.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        TargetVersion::ALL
            .into_iter()
            .find(|t| t.as_str() == text)
            .ok_or_else(|| ConvertError::UnknownTargetVersion {
                shown: shown_version(text),
            })
    }
}

/// Result of [`convert_to_v3`].
#[derive(Debug, Clone, PartialEq)]
pub enum Conversion {
    /// Already 3.x: nothing to do (carries the version found).
    AlreadyV3 {
        /// The `ignition.version` found (e.g. `3.2.0`).
        version: String,
    },
    /// Converted from spec 2.x.
    Converted {
        /// The new spec 3 config.
        config: Value,
        /// The bytes to store: compact JSON in the input's key order, as the
        /// installer writes stubs (no trailing newline).
        bytes: Vec<u8>,
        /// The `ignition.version` of the input (e.g. `2.2.0`).
        from_version: String,
        /// What was translated, for people (key paths and counts only, never
        /// content).
        notes: Vec<String>,
    },
}

/// Why a config was not converted. Messages name key paths, indexes, JSON
/// types and versions, never content (no sources, CA data or user data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The user data is not an Ignition config (not JSON, no version, …).
    #[error("the user data was not converted because it is not an Ignition config: {0}")]
    NotIgnition(#[from] IgnitionError),
    /// `ignition.version` is 2.x but not a released spec 2 version.
    #[error(
        "`ignition.version` {shown} is not a released Ignition spec 2 version (2.0.0, 2.1.0, \
         2.2.0, 2.3.0 or 2.4.0); Ignition would not have read this config, fix the version first"
    )]
    UnsupportedSourceVersion {
        /// The version if it is short digits and dots, else its length.
        shown: String,
    },
    /// The requested target version is not one the converter writes.
    #[error(
        "{shown} is not a supported target Ignition spec version; allowed values: \
         3.0.0, 3.1.0, 3.2.0, 3.3.0, 3.4.0"
    )]
    UnknownTargetVersion {
        /// The value if it is short digits and dots, else its length.
        shown: String,
    },
    /// A key that is not part of Ignition spec 2.
    #[error(
        "`{path}` is not an Ignition spec 2 key (Ignition 2.x ignored it); remove it, or write \
         the spec 3 config by hand"
    )]
    UnknownKey {
        /// Key path, e.g. `ignition.foo`.
        path: String,
    },
    /// A spec 3-only key in a spec 2 config.
    #[error(
        "`{path}` is a spec 3 key that Ignition 2.x ignored; remove it (the spec 2 `{spec2}` \
         becomes `{path}` in the conversion)"
    )]
    Spec3KeyInSpec2 {
        /// Key path, e.g. `ignition.config.merge`.
        path: String,
        /// The spec 2 key that is translated into it.
        spec2: &'static str,
    },
    /// A key that exists in spec 2, but not yet in the config's own version.
    #[error(
        "`{path}` does not exist in spec {version} (it came with {since}), so Ignition ignored \
         it; remove it, or raise `ignition.version` to {since} if it is meant to apply"
    )]
    NotInSourceVersion {
        /// Key path.
        path: String,
        /// The config's `ignition.version`.
        version: String,
        /// The first spec 2 version that has the key.
        since: &'static str,
    },
    /// A non-empty key that the chosen target spec does not have.
    #[error(
        "`{path}` is set, but target spec {target} does not have it; choose target {minimum} or \
         later (3.1.0 is the default)"
    )]
    NeedsNewerTarget {
        /// Key path.
        path: String,
        /// The chosen target.
        target: TargetVersion,
        /// The first target that has the key.
        minimum: TargetVersion,
    },
    /// A value of the wrong JSON type (or an empty/relative value).
    #[error("`{path}` is {found}, expected {expected}")]
    WrongType {
        /// Key path.
        path: String,
        /// What was expected (e.g. "a string").
        expected: &'static str,
        /// What was found (e.g. "a number").
        found: &'static str,
    },
    /// A key that spec 2 requires is missing.
    #[error("`{path}` is missing; Ignition spec 2 requires it")]
    Missing {
        /// Key path.
        path: String,
    },
    /// Something with no exact spec 3 equivalent.
    #[error("`{path}` cannot be converted: {reason}")]
    Untranslatable {
        /// Key path.
        path: String,
        /// Why, and what to do instead.
        reason: &'static str,
    },
    /// Two entries that spec 3 keys by the same value.
    #[error(
        "`{path}` has the same {what} as `{first}`; spec 3 rejects duplicates (spec 2 applied \
         both in order), keep only the entry that should win"
    )]
    Duplicate {
        /// Key path of the later entry.
        path: String,
        /// Key path of the earlier entry.
        first: String,
        /// What is the same ("path", "name", "device").
        what: &'static str,
    },
    /// The converted config could not be serialized (should not happen).
    #[error("the converted config could not be serialized to JSON")]
    Serialize,
}

/// Converts a stub Ignition config (decoded `userData`) from spec 2.x to spec 3.x.
///
/// A 3.x config is returned as [`Conversion::AlreadyV3`] unchanged (whatever it
/// contains); a 2.x config is translated to `target` and must translate
/// exactly, else an error names the key path and what to do. The input must
/// be an Ignition config as [`parse_ignition`] accepts it; on any error the
/// caller should leave the Secret as it is.
pub fn convert_to_v3(user_data: &[u8], target: TargetVersion) -> Result<Conversion, ConvertError> {
    let config = parse_ignition(user_data)?;
    let version = match config.pointer("/ignition/version") {
        Some(Value::String(v)) => v.clone(),
        // parse_ignition guarantees a string version; stay total anyway.
        Some(other) => {
            return Err(IgnitionError::VersionNotString {
                found: json_type(other),
            }
            .into())
        }
        None => return Err(IgnitionError::MissingVersion.into()),
    };
    if version.starts_with("3.") {
        return Ok(Conversion::AlreadyV3 { version });
    }
    let minor = source_minor(&version)?;
    let mut ctx = Ctx {
        version: &version,
        minor,
        target,
        notes: Vec::new(),
        root_filesystem_dropped: 0,
        overwrite_set: 0,
    };
    ctx.notes.push(format!(
        "`ignition.version` {version} → {}",
        target.as_str()
    ));
    let converted = root(&mut ctx, &config)?;
    if ctx.root_filesystem_dropped > 0 {
        ctx.notes.push(format!(
            "dropped `filesystem: \"root\"` from {} storage entr{} (spec 3 paths are on the root \
             filesystem)",
            ctx.root_filesystem_dropped,
            plural_y(ctx.root_filesystem_dropped)
        ));
    }
    if ctx.overwrite_set > 0 {
        ctx.notes.push(format!(
            "set `overwrite: true` on {} file{} (spec 2 always replaced existing files, spec 3 \
             only does with `overwrite: true`)",
            ctx.overwrite_set,
            plural_s(ctx.overwrite_set)
        ));
    }
    let notes = ctx.notes;
    let bytes = serde_json::to_vec(&converted).map_err(|_| ConvertError::Serialize)?;
    Ok(Conversion::Converted {
        config: converted,
        bytes,
        from_version: version,
        notes,
    })
}

/// The minor of a released spec 2 version (`2.0.0` … `2.4.0`).
fn source_minor(version: &str) -> Result<u32, ConvertError> {
    match version {
        "2.0.0" => Ok(0),
        "2.1.0" => Ok(1),
        "2.2.0" => Ok(2),
        "2.3.0" => Ok(3),
        "2.4.0" => Ok(4),
        other => Err(ConvertError::UnsupportedSourceVersion {
            shown: shown_version(other),
        }),
    }
}

/// Longest version text quoted back in a message.
const MAX_SHOWN_LEN: usize = 15;

/// The text quoted if it is short digits-and-dots, else only its length.
fn shown_version(text: &str) -> String {
    let safe = !text.is_empty()
        && text.len() <= MAX_SHOWN_LEN
        && text.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if safe {
        format!("\"{text}\"")
    } else {
        format!("(a value of {} characters)", text.chars().count())
    }
}

fn plural_s(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn plural_y(n: usize) -> &'static str {
    if n == 1 {
        "y"
    } else {
        "ies"
    }
}

/// Conversion state: source/target versions and what was done.
struct Ctx<'a> {
    /// The input's `ignition.version`.
    version: &'a str,
    /// Its minor (0..=4).
    minor: u32,
    /// The version to write.
    target: TargetVersion,
    /// Notes for people.
    notes: Vec<String>,
    /// Nodes whose `filesystem: "root"` was dropped.
    root_filesystem_dropped: usize,
    /// Files that got `overwrite: true`.
    overwrite_set: usize,
}

/// First spec 2 version of each minor, for messages.
const SPEC2_VERSIONS: [&str; 5] = ["2.0.0", "2.1.0", "2.2.0", "2.3.0", "2.4.0"];

impl Ctx<'_> {
    /// Decides whether a key is emitted: `None` drops it (null, or empty and
    /// absent from the source or target spec), an error refuses a non-empty
    /// value the source version or the target does not have.
    fn gate<'v>(
        &mut self,
        value: &'v Value,
        since_minor: u32,
        min_target: TargetVersion,
        path: &str,
    ) -> Result<Option<&'v Value>, ConvertError> {
        if value.is_null() {
            return Ok(None);
        }
        if self.minor < since_minor {
            if is_empty(value) {
                self.notes.push(format!(
                    "dropped empty `{path}` (spec {} does not have it)",
                    self.version
                ));
                return Ok(None);
            }
            return Err(ConvertError::NotInSourceVersion {
                path: path.to_owned(),
                version: self.version.to_owned(),
                since: SPEC2_VERSIONS
                    .get(since_minor as usize)
                    .copied()
                    .unwrap_or("a later 2.x"),
            });
        }
        if self.target < min_target {
            if is_empty(value) {
                self.notes.push(format!(
                    "dropped empty `{path}` (target spec {} does not have it)",
                    self.target
                ));
                return Ok(None);
            }
            return Err(ConvertError::NeedsNewerTarget {
                path: path.to_owned(),
                target: self.target,
                minimum: min_target,
            });
        }
        Ok(Some(value))
    }

    /// [`Ctx::gate`] for keys that every target has.
    fn since<'v>(
        &mut self,
        value: &'v Value,
        since_minor: u32,
        path: &str,
    ) -> Result<Option<&'v Value>, ConvertError> {
        self.gate(value, since_minor, TargetVersion::V3_0, path)
    }
}

/// Null, "", [] or an object of only such values: means nothing to Ignition.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_empty),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

// ---------------------------------------------------------------------------
// Paths and type checks

/// `parent.key`, with the key shown only when it looks like a key name.
fn child(parent: &str, key: &str) -> String {
    let shown = shown_key(key);
    if parent.is_empty() {
        shown
    } else {
        format!("{parent}.{shown}")
    }
}

fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// Longest key quoted back in a message.
const MAX_SHOWN_KEY_LEN: usize = 32;

/// A key as written if it looks like a key name (a letter, then letters,
/// `_` or `-`, at most 32), else only its length: a key with digits or other
/// characters could be content pasted in the wrong place.
fn shown_key(key: &str) -> String {
    let safe = key.len() <= MAX_SHOWN_KEY_LEN
        && key.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'-');
    if safe {
        key.to_owned()
    } else {
        format!("(a key of {} characters)", key.chars().count())
    }
}

fn unknown(parent: &str, key: &str) -> ConvertError {
    ConvertError::UnknownKey {
        path: child(parent, key),
    }
}

fn wrong(path: &str, expected: &'static str, value: &Value) -> ConvertError {
    ConvertError::WrongType {
        path: path.to_owned(),
        expected,
        found: json_type(value),
    }
}

fn object<'v>(value: &'v Value, path: &str) -> Result<&'v Map<String, Value>, ConvertError> {
    value
        .as_object()
        .ok_or_else(|| wrong(path, "an object", value))
}

fn array<'v>(value: &'v Value, path: &str) -> Result<&'v Vec<Value>, ConvertError> {
    value
        .as_array()
        .ok_or_else(|| wrong(path, "an array", value))
}

fn string<'v>(value: &'v Value, path: &str) -> Result<&'v str, ConvertError> {
    value.as_str().ok_or_else(|| wrong(path, "a string", value))
}

fn non_empty_string<'v>(value: &'v Value, path: &str) -> Result<&'v str, ConvertError> {
    let s = string(value, path)?;
    if s.is_empty() {
        return Err(ConvertError::WrongType {
            path: path.to_owned(),
            expected: "a non-empty string",
            found: "an empty string",
        });
    }
    Ok(s)
}

/// Scalar kinds copied as they are.
#[derive(Clone, Copy)]
enum Leaf {
    Str,
    Bool,
    Int,
    StrList,
}

/// Checks a non-null leaf value.
fn check_leaf(value: &Value, leaf: Leaf, path: &str) -> Result<(), ConvertError> {
    match leaf {
        Leaf::Str => string(value, path).map(|_| ()),
        Leaf::Bool => match value {
            Value::Bool(_) => Ok(()),
            other => Err(wrong(path, "a boolean", other)),
        },
        Leaf::Int => match value {
            Value::Number(n) if n.as_i64().is_some() => Ok(()),
            Value::Number(_) => Err(ConvertError::WrongType {
                path: path.to_owned(),
                expected: "an integer",
                found: "a number that is not a 64-bit integer",
            }),
            other => Err(wrong(path, "an integer", other)),
        },
        Leaf::StrList => {
            for (i, item) in array(value, path)?.iter().enumerate() {
                string(item, &index(path, i))?;
            }
            Ok(())
        }
    }
}

/// Copies a leaf (dropping null, which Ignition 2.x read as unset).
fn copy_leaf(
    out: &mut Map<String, Value>,
    key: &str,
    value: Option<&Value>,
    leaf: Leaf,
    path: &str,
) -> Result<(), ConvertError> {
    if let Some(value) = value.filter(|v| !v.is_null()) {
        check_leaf(value, leaf, path)?;
        out.insert(key.to_owned(), value.clone());
    }
    Ok(())
}

/// An optional boolean (null = unset).
fn opt_bool(value: Option<&Value>, path: &str) -> Result<Option<bool>, ConvertError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(wrong(path, "a boolean", other)),
    }
}

/// `verification`: `{hash}` kept exactly as written.
fn verification(value: &Value, path: &str) -> Result<Value, ConvertError> {
    for (key, v) in object(value, path)? {
        match key.as_str() {
            "hash" if v.is_null() => {}
            "hash" => {
                string(v, &child(path, key))?;
            }
            _ => return Err(unknown(path, key)),
        }
    }
    Ok(value.clone())
}

/// `httpHeaders`: `[{name, value}]` kept exactly as written.
fn http_headers(value: &Value, path: &str) -> Result<Value, ConvertError> {
    for (i, header) in array(value, path)?.iter().enumerate() {
        let p = index(path, i);
        let obj = object(header, &p)?;
        for (key, v) in obj {
            match key.as_str() {
                "name" => {
                    non_empty_string(v, &child(&p, key))?;
                }
                "value" => {
                    string(v, &child(&p, key))?;
                }
                _ => return Err(unknown(&p, key)),
            }
        }
        for required in ["name", "value"] {
            if !obj.contains_key(required) {
                return Err(ConvertError::Missing {
                    path: child(&p, required),
                });
            }
        }
    }
    Ok(value.clone())
}

// ---------------------------------------------------------------------------
// Top level and `ignition`

fn root(ctx: &mut Ctx<'_>, config: &Value) -> Result<Value, ConvertError> {
    let top = object(config, "(the config)")?;
    // The section spec 3 lost entirely is reported before anything else.
    if let Some(value) = top.get("networkd") {
        networkd(ctx, value, "networkd")?;
    }
    let mut out = Map::new();
    for (key, value) in top {
        let path = child("", key);
        match key.as_str() {
            "ignition" => {
                out.insert(key.clone(), ignition(ctx, value, &path)?);
            }
            "networkd" => {}
            "passwd" => {
                if !value.is_null() {
                    out.insert(key.clone(), passwd(ctx, value, &path)?);
                }
            }
            "storage" => {
                if !value.is_null() {
                    out.insert(key.clone(), storage(ctx, value, &path)?);
                }
            }
            "systemd" => {
                if !value.is_null() {
                    out.insert(key.clone(), systemd(ctx, value, &path)?);
                }
            }
            _ => return Err(unknown("", key)),
        }
    }
    Ok(Value::Object(out))
}

/// `networkd`: dropped when empty, refused otherwise.
fn networkd(ctx: &mut Ctx<'_>, value: &Value, path: &str) -> Result<(), ConvertError> {
    if value.is_null() {
        return Ok(());
    }
    for (key, v) in object(value, path)? {
        match key.as_str() {
            "units" if is_empty(v) => {}
            "units" => {
                array(v, &child(path, key))?;
                return Err(ConvertError::Untranslatable {
                    path: child(path, key),
                    reason: "networkd units have no spec 3 equivalent; write them as \
                             `storage.files` under /etc/systemd/network (mode 0644) and \
                             convert again",
                });
            }
            _ => return Err(unknown(path, key)),
        }
    }
    ctx.notes
        .push("dropped empty `networkd` (spec 3 has no networkd section)".to_owned());
    Ok(())
}

fn ignition(ctx: &mut Ctx<'_>, value: &Value, path: &str) -> Result<Value, ConvertError> {
    let mut out = Map::new();
    for (key, v) in object(value, path)? {
        let p = child(path, key);
        match key.as_str() {
            "version" => {
                out.insert(key.clone(), Value::from(ctx.target.as_str()));
            }
            "config" => {
                if !v.is_null() {
                    out.insert(key.clone(), ignition_config(ctx, v, &p)?);
                }
            }
            "timeouts" => {
                if let Some(v) = ctx.since(v, 1, &p)? {
                    out.insert(key.clone(), timeouts(v, &p)?);
                }
            }
            "security" => {
                if let Some(v) = ctx.since(v, 2, &p)? {
                    out.insert(key.clone(), security(ctx, v, &p)?);
                }
            }
            "proxy" => {
                // Validate the shape first so that a malformed proxy is
                // reported as such, whatever the target.
                let checked = if v.is_null() {
                    None
                } else {
                    Some(proxy(v, &p)?)
                };
                if let Some(checked) = checked {
                    if ctx.gate(&checked, 4, TargetVersion::V3_1, &p)?.is_some() {
                        out.insert(key.clone(), checked);
                    }
                }
            }
            _ => return Err(unknown(path, key)),
        }
    }
    Ok(Value::Object(out))
}

fn ignition_config(ctx: &mut Ctx<'_>, value: &Value, path: &str) -> Result<Value, ConvertError> {
    let mut out = Map::new();
    for (key, v) in object(value, path)? {
        let p = child(path, key);
        match key.as_str() {
            "append" => {
                if v.is_null() {
                    continue;
                }
                let merge_path = child(path, "merge");
                let items = array(v, &p)?;
                let mut merge = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    merge.push(Value::Object(config_ref(ctx, item, &index(&p, i), true)?));
                }
                ctx.notes.push(format!(
                    "`{p}` → `{merge_path}` ({} entr{}; sources and verification kept)",
                    merge.len(),
                    plural_y(merge.len())
                ));
                out.insert("merge".to_owned(), Value::Array(merge));
            }
            "replace" => {
                if v.is_null() {
                    continue;
                }
                let replace = config_ref(ctx, v, &p, false)?;
                if replace.contains_key("source") || ctx.target > TargetVersion::V3_0 {
                    out.insert(key.clone(), Value::Object(replace));
                } else if replace.values().all(is_empty) {
                    ctx.notes.push(format!(
                        "dropped `{p}` without a source (it pointed nowhere; target spec 3.0.0 \
                         requires a source)"
                    ));
                } else {
                    return Err(ConvertError::Missing {
                        path: child(&p, "source"),
                    });
                }
            }
            "merge" => {
                return Err(ConvertError::Spec3KeyInSpec2 {
                    path: p,
                    spec2: "ignition.config.append",
                })
            }
            _ => return Err(unknown(path, key)),
        }
    }
    Ok(Value::Object(out))
}

/// A config or CA reference: `source`, `verification`, `httpHeaders` (2.4).
/// `source` is required unless `source_required` is false (a `replace`
/// without source points nowhere; an empty one is dropped).
fn config_ref(
    ctx: &mut Ctx<'_>,
    value: &Value,
    path: &str,
    source_required: bool,
) -> Result<Map<String, Value>, ConvertError> {
    let mut out = Map::new();
    for (key, v) in object(value, path)? {
        let p = child(path, key);
        match key.as_str() {
            "source" => {
                if source_required {
                    non_empty_string(v, &p)?;
                    out.insert(key.clone(), v.clone());
                } else if !v.is_null() && !string(v, &p)?.is_empty() {
                    out.insert(key.clone(), v.clone());
                }
            }
            "verification" => {
                if !v.is_null() {
                    out.insert(key.clone(), verification(v, &p)?);
                }
            }
            "httpHeaders" => {
                let checked = if v.is_null() {
                    None
                } else {
                    Some(http_headers(v, &p)?)
                };
                if let Some(checked) = checked {
                    if ctx.gate(&checked, 4, TargetVersion::V3_1, &p)?.is_some() {
                        out.insert(key.clone(), checked);
                    }
                }
            }
            _ => return Err(unknown(path, key)),
        }
    }
    if source_required && !out.contains_key("source") {
        return Err(ConvertError::Missing {
            path: child(path, "source"),
        });
    }
    Ok(out)
}

fn timeouts(value: &Value, path: &str) -> Result<Value, ConvertError> {
    let mut out = Map::new();
    for (key, v) in object(value, path)? {
        match key.as_str() {
            "httpResponseHeaders" | "httpTotal" => {
                copy_leaf(&mut out, key, Some(v), Leaf::Int, &child(path, key))?;
            }
            _ => return Err(unknown(path, key)),
        }
    }
    Ok(Value::Object(out))
}

fn security(ctx: &mut Ctx<'_>, value: &Value, path: &str) -> Result<Value, ConvertError> {
    let mut out = Map::new();
    for (key, v) in object(value, path)? {
        let p = child(path, key);
        match key.as_str() {
            "tls" if v.is_null() => {}
            "tls" => {
                let mut tls = Map::new();
                for (tls_key, cas) in object(v, &p)? {
                    let cas_path = child(&p, tls_key);
                    match tls_key.as_str() {
                        "certificateAuthorities" if cas.is_null() => {}
                        "certificateAuthorities" => {
                            let mut list = Vec::new();
                            for (i, ca) in array(cas, &cas_path)?.iter().enumerate() {
                                list.push(Value::Object(config_ref(
                                    ctx,
                                    ca,
                                    &index(&cas_path, i),
                                    true,
                                )?));
                            }
                            tls.insert(tls_key.clone(), Value::Array(list));
                        }
                        _ => return Err(unknown(&p, tls_key)),
                    }
                }
                out.insert(key.clone(), Value::Object(tls));
            }
            _ => return Err(unknown(path, key)),
        }
    }
    Ok(Value::Object(out))
}

/// `proxy`: empty strings dropped (spec 2 read them as unset, spec 3 would
/// read them as URLs), the rest kept.
fn proxy(value: &Value, path: &str) -> Result<Value, ConvertError> {
    let mut out = Map::new();
    for (key, v) in object(value, path)? {
        let p = child(path, key);
        match key.as_str() {
            "httpProxy" | "httpsProxy" => {
                if !v.is_null() && !string(v, &p)?.is_empty() {
                    out.insert(key.clone(), v.clone());
                }
            }
            "noProxy" => copy_leaf(&mut out, key, Some(v), Leaf::StrList, &p)?,
            _ => return Err(unknown(path, key)),
        }
    }
    Ok(Value::Object(out))
}

// ---------------------------------------------------------------------------
// `storage`

/// Where a storage node came from and where it writes, for duplicate and
/// link checks.
struct NodeRef {
    /// Key path of the entry (e.g. `storage.files[0]`).
    entry: String,
    /// Its cleaned absolute path.
    path: String,
    /// Whether it is a link.
    link: bool,
}

fn storage(ctx: &mut Ctx<'_>, value: &Value, path: &str) -> Result<Value, ConvertError> {
    let mut out = Map::new();
    let mut nodes = Vec::new();
    for (key, v) in object(value, path)? {
        let p = child(path, key);
        match key.as_str() {
            "files" => {
                if !v.is_null() {
                    let mut list = Vec::new();
                    for (i, item) in array(v, &p)?.iter().enumerate() {
                        list.push(file(ctx, item, &index(&p, i), &mut nodes)?);
                    }
                    out.insert(key.clone(), Value::Array(list));
                }
            }
            "directories" | "links" => {
                if let Some(v) = ctx.since(v, 1, &p)? {
                    let mut list = Vec::new();
                    for (i, item) in array(v, &p)?.iter().enumerate() {
                        list.push(dir_or_link(
                            ctx,
                            item,
                            &index(&p, i),
                            key == "links",
                            &mut nodes,
                        )?);
                    }
                    out.insert(key.clone(), Value::Array(list));
                }
            }
            "filesystems" => {
                if !v.is_null() {
                    out.insert(key.clone(), filesystems(ctx, v, &p)?);
                }
            }
            "disks" | "raid" => {
                if v.is_null() {
                    continue;
                }
                if !array(v, &p)?.is_empty() {
                    return Err(ConvertError::Untranslatable {
                        path: p,
                        reason: "partitioning and RAID are not converted by this tool \
                                 (partition sizes and defaults changed in spec 3); a stub \
                                 config should not carry them, rewrite them as spec 3 by hand",
                    });
                }
                out.insert(key.clone(), Value::Array(Vec::new()));
            }
            _ => return Err(unknown(path, key)),
        }
    }
    check_nodes(&nodes)?;
    Ok(Value::Object(out))
}

/// Spec 3 rejects two nodes at one path and nodes below a link of the config.
fn check_nodes(nodes: &[NodeRef]) -> Result<(), ConvertError> {
    let mut paths = FirstSeen::new("path");
    for node in nodes {
        paths.add(node.path.clone(), &node.entry)?;
    }
    let links: HashSet<&str> = nodes
        .iter()
        .filter(|n| n.link)
        .map(|n| n.path.as_str())
        .collect();
    for node in nodes {
        let through_link = node
            .path
            .match_indices('/')
            .map(|(at, _)| &node.path[..at])
            .any(|parent| !parent.is_empty() && links.contains(parent));
        if through_link {
            return Err(ConvertError::Untranslatable {
                path: child(&node.entry, "path"),
                reason: "the path goes through a link that this config creates, which spec 3 \
                         rejects; use the link's target path instead",
            });
        }
    }
    Ok(())
}

/// The first entry seen per key (path, name, device), to refuse duplicates.
struct FirstSeen<K> {
    /// Key → key path of the first entry.
    first: HashMap<K, String>,
    /// What the key is, for the message.
    what: &'static str,
}

impl<K: Eq + Hash> FirstSeen<K> {
    fn new(what: &'static str) -> Self {
        FirstSeen {
            first: HashMap::new(),
            what,
        }
    }

    fn add(&mut self, key: K, entry: &str) -> Result<(), ConvertError> {
        match self.first.entry(key) {
            Entry::Occupied(first) => Err(ConvertError::Duplicate {
                path: entry.to_owned(),
                first: first.get().clone(),
                what: self.what,
            }),
            Entry::Vacant(slot) => {
                slot.insert(entry.to_owned());
                Ok(())
            }
        }
    }
}

/// `path.Clean` for absolute paths: no empty or `.` segments, `..` resolved.
fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The node keys shared by files, directories and links.
struct NodeSeen {
    /// `filesystem` was given.
    filesystem: bool,
    /// The `path` (when given).
    path: Option<String>,
    /// `overwrite` as given.
    overwrite: Option<bool>,
}

/// Handles one node key; returns false when `key` is not a node key.
fn node_key(
    ctx: &mut Ctx<'_>,
    key: &str,
    value: &Value,
    path: &str,
    out: &mut Map<String, Value>,
    seen: &mut NodeSeen,
) -> Result<bool, ConvertError> {
    let p = child(path, key);
    match key {
        "filesystem" => {
            if value.is_null() {
                return Ok(true);
            }
            if non_empty_string(value, &p)? != "root" {
                return Err(ConvertError::Untranslatable {
                    path: p,
                    reason: "only files on the \"root\" filesystem can be converted (spec 3 \
                             has no filesystem names; a spec 3 config must mount the other \
                             filesystem with `storage.filesystems[].path` and use the full \
                             path); move the entry to the root filesystem or write the spec 3 \
                             config by hand",
                });
            }
            seen.filesystem = true;
            ctx.root_filesystem_dropped += 1;
        }
        "path" => {
            if value.is_null() {
                return Ok(true);
            }
            let text = non_empty_string(value, &p)?;
            if !text.starts_with('/') {
                return Err(ConvertError::WrongType {
                    path: p,
                    expected: "an absolute path",
                    found: "a relative path",
                });
            }
            seen.path = Some(clean_path(text));
            out.insert(key.to_owned(), value.clone());
        }
        "user" | "group" => {
            if let Some(v) = ctx.since(value, 0, &p)? {
                out.insert(key.to_owned(), id_or_name(ctx, v, &p)?);
            }
        }
        "overwrite" => {
            if let Some(v) = ctx.since(value, 2, &p)? {
                seen.overwrite = opt_bool(Some(v), &p)?;
                out.insert(key.to_owned(), v.clone());
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// Node `user`/`group`: `{id}` (2.0) or `{name}` (2.1), not both.
fn id_or_name(ctx: &mut Ctx<'_>, value: &Value, path: &str) -> Result<Value, ConvertError> {
    let mut out = Map::new();
    for (key, v) in object(value, path)? {
        let p = child(path, key);
        match key.as_str() {
            "id" => copy_leaf(&mut out, key, Some(v), Leaf::Int, &p)?,
            "name" => {
                if let Some(v) = ctx.since(v, 1, &p)? {
                    if !string(v, &p)?.is_empty() {
                        out.insert(key.clone(), v.clone());
                    }
                }
            }
            _ => return Err(unknown(path, key)),
        }
    }
    if out.contains_key("id") && out.contains_key("name") {
        return Err(ConvertError::Untranslatable {
            path: path.to_owned(),
            reason: "both `id` and `name` are set, which spec 2 and spec 3 reject; keep one",
        });
    }
    Ok(Value::Object(out))
}

fn require_node(
    seen: &NodeSeen,
    path: &str,
    link: bool,
    nodes: &mut Vec<NodeRef>,
) -> Result<(), ConvertError> {
    if !seen.filesystem {
        return Err(ConvertError::Missing {
            path: child(path, "filesystem"),
        });
    }
    let Some(node_path) = &seen.path else {
        return Err(ConvertError::Missing {
            path: child(path, "path"),
        });
    };
    nodes.push(NodeRef {
        entry: path.to_owned(),
        path: node_path.clone(),
        link,
    });
    Ok(())
}

/// A spec 2 file → spec 3 file: `overwrite: true` unless appending,
/// `append: true` → `append: [contents]`, no source → `data:,` (empty file).
fn file(
    ctx: &mut Ctx<'_>,
    value: &Value,
    path: &str,
    nodes: &mut Vec<NodeRef>,
) -> Result<Value, ConvertError> {
    let obj = object(value, path)?;
    let mut out = Map::new();
    let mut seen = NodeSeen {
        filesystem: false,
        path: None,
        overwrite: None,
    };
    let mut append = false;
    let mut contents = None;
    for (key, v) in obj {
        if node_key(ctx, key, v, path, &mut out, &mut seen)? {
            continue;
        }
        let p = child(path, key);
        match key.as_str() {
            "contents" => {
                if !v.is_null() {
                    // Placeholder keeps the key's position; filled below.
                    contents = Some(file_contents(ctx, v, &p)?);
                    out.insert(key.clone(), Value::Null);
                }
            }
            "mode" => copy_leaf(&mut out, key, Some(v), Leaf::Int, &p)?,
            "append" => {
                if let Some(v) = ctx.since(v, 2, &p)? {
                    append = opt_bool(Some(v), &p)?.unwrap_or(false);
                }
            }
            _ => return Err(unknown(path, key)),
        }
    }
    require_node(&seen, path, false, nodes)?;

    let mut contents = contents.unwrap_or_default();
    let has_source = contents
        .get("source")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    if !has_source {
        let compressed = contents
            .get("compression")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        let hashed = contents
            .get("verification")
            .and_then(|v| v.get("hash"))
            .is_some_and(|h| !h.is_null());
        if compressed || hashed {
            return Err(ConvertError::Untranslatable {
                path: child(path, "contents"),
                reason: "the file has no contents source but sets `compression` or a \
                         verification hash, which has no exact spec 3 equivalent; give it a \
                         source or remove them",
            });
        }
        contents.insert("source".to_owned(), Value::from("data:,"));
        ctx.notes.push(format!(
            "`{path}` has no contents source: written as `data:,` (the empty file spec 2 created)"
        ));
    }

    if append {
        if seen.overwrite == Some(true) {
            return Err(ConvertError::Untranslatable {
                path: child(path, "overwrite"),
                reason: "`append: true` with `overwrite: true` is invalid in spec 2 (Ignition \
                         2.x rejected the config); remove one of them",
            });
        }
        out.insert("overwrite".to_owned(), Value::Bool(false));
        ctx.notes.push(format!(
            "`{path}.append: true` → `append` list with `overwrite: false`"
        ));
    } else if seen.overwrite.is_none() {
        out.insert("overwrite".to_owned(), Value::Bool(true));
        ctx.overwrite_set += 1;
    }

    let (contents_key, contents_value) = if append {
        ("append", Value::Array(vec![Value::Object(contents)]))
    } else {
        ("contents", Value::Object(contents))
    };
    let mut result = Map::new();
    let mut placed = false;
    for (key, v) in out {
        if key == "contents" {
            result.insert(contents_key.to_owned(), contents_value.clone());
            placed = true;
        } else {
            result.insert(key, v);
        }
    }
    if !placed {
        result.insert(contents_key.to_owned(), contents_value);
    }
    Ok(Value::Object(result))
}

fn file_contents(
    ctx: &mut Ctx<'_>,
    value: &Value,
    path: &str,
) -> Result<Map<String, Value>, ConvertError> {
    let mut out = Map::new();
    for (key, v) in object(value, path)? {
        let p = child(path, key);
        match key.as_str() {
            "source" => copy_leaf(&mut out, key, Some(v), Leaf::Str, &p)?,
            "compression" => {
                if !v.is_null() {
                    match string(v, &p)? {
                        "" => {}
                        "gzip" => {
                            out.insert(key.clone(), v.clone());
                        }
                        _ => {
                            return Err(ConvertError::WrongType {
                                path: p,
                                expected: "\"gzip\" or an empty string",
                                found: "another string",
                            })
                        }
                    }
                }
            }
            "verification" => {
                if !v.is_null() {
                    out.insert(key.clone(), verification(v, &p)?);
                }
            }
            "httpHeaders" => {
                let checked = if v.is_null() {
                    None
                } else {
                    Some(http_headers(v, &p)?)
                };
                if let Some(checked) = checked {
                    if ctx.gate(&checked, 4, TargetVersion::V3_1, &p)?.is_some() {
                        out.insert(key.clone(), checked);
                    }
                }
            }
            _ => return Err(unknown(path, key)),
        }
    }
    Ok(out)
}

fn dir_or_link(
    ctx: &mut Ctx<'_>,
    value: &Value,
    path: &str,
    link: bool,
    nodes: &mut Vec<NodeRef>,
) -> Result<Value, ConvertError> {
    let obj = object(value, path)?;
    let mut out = Map::new();
    let mut seen = NodeSeen {
        filesystem: false,
        path: None,
        overwrite: None,
    };
    for (key, v) in obj {
        if node_key(ctx, key, v, path, &mut out, &mut seen)? {
            continue;
        }
        let p = child(path, key);
        match (link, key.as_str()) {
            (false, "mode") => copy_leaf(&mut out, key, Some(v), Leaf::Int, &p)?,
            (true, "target") => {
                non_empty_string(v, &p)?;
                out.insert(key.clone(), v.clone());
            }
            (true, "hard") => copy_leaf(&mut out, key, Some(v), Leaf::Bool, &p)?,
            _ => return Err(unknown(path, key)),
        }
    }
    require_node(&seen, path, link, nodes)?;
    if link && !out.contains_key("target") {
        return Err(ConvertError::Missing {
            path: child(path, "target"),
        });
    }
    Ok(Value::Object(out))
}

/// Spec 2 filesystems (`name` + `mount`) → spec 3 `{device, format,
/// wipeFilesystem, label, uuid, options}` without `path`: spec 2 did not
/// mount them in the booted system either, and no converted file refers to
/// them (only `root` files convert). `root` entries are dropped.
fn filesystems(ctx: &mut Ctx<'_>, value: &Value, path: &str) -> Result<Value, ConvertError> {
    let mut list = Vec::new();
    let mut devices = FirstSeen::new("mount device");
    for (i, fs) in array(value, path)?.iter().enumerate() {
        let p = index(path, i);
        let obj = object(fs, &p)?;
        let mut name = None;
        let mut mount = None;
        for (key, v) in obj {
            let kp = child(&p, key);
            match key.as_str() {
                "name" => {
                    if !v.is_null() {
                        name = Some(string(v, &kp)?);
                    }
                }
                "mount" => {
                    if !v.is_null() {
                        mount = Some(v);
                    }
                }
                "path" => {
                    if !v.is_null() {
                        string(v, &kp)?;
                        return Err(ConvertError::Untranslatable {
                            path: kp,
                            reason: "the spec 2 `path` form (a filesystem mounted outside \
                                     Ignition) has no spec 3 equivalent; remove it and mount \
                                     the filesystem in a hand-written spec 3 config",
                        });
                    }
                }
                _ => return Err(unknown(&p, key)),
            }
        }
        if name == Some("root") {
            if mount.is_some() {
                return Err(ConvertError::Untranslatable {
                    path: child(&p, "mount"),
                    reason: "a spec 2 filesystem named \"root\" with a `mount` redefines the \
                             root filesystem, which is not converted; write the spec 3 \
                             config by hand",
                });
            }
            ctx.notes.push(format!(
                "dropped `{p}` named \"root\" (spec 3 implies the root filesystem)"
            ));
            continue;
        }
        let Some(mount) = mount else {
            return Err(ConvertError::Missing {
                path: child(&p, "mount"),
            });
        };
        let converted = mount_to_v3(ctx, mount, &child(&p, "mount"))?;
        if let Some(device) = mount.get("device").and_then(Value::as_str) {
            devices.add(device, &p)?;
        }
        if name.is_some() {
            ctx.notes.push(format!(
                "`{p}` (spec 2 name + mount) → device/format/wipeFilesystem without a mount \
                 path (spec 2 did not mount it in the booted system either)"
            ));
        }
        list.push(Value::Object(converted));
    }
    Ok(Value::Array(list))
}

fn mount_to_v3(
    ctx: &mut Ctx<'_>,
    value: &Value,
    path: &str,
) -> Result<Map<String, Value>, ConvertError> {
    let obj = object(value, path)?;
    let mut device = None;
    let mut format = None;
    let mut wipe = None;
    let mut label = None;
    let mut uuid = None;
    let mut options: Vec<Value> = Vec::new();
    let mut create_options: Vec<Value> = Vec::new();
    for (key, v) in obj {
        let p = child(path, key);
        match key.as_str() {
            "device" => device = Some(non_empty_string(v, &p)?),
            "format" => format = Some(non_empty_string(v, &p)?),
            "create" => {
                if v.is_null() {
                    continue;
                }
                let mut force = false;
                for (ck, cv) in object(v, &p)? {
                    let cp = child(&p, ck);
                    match ck.as_str() {
                        "force" => force = opt_bool(Some(cv), &cp)?.unwrap_or(false),
                        "options" => {
                            if !cv.is_null() {
                                check_leaf(cv, Leaf::StrList, &cp)?;
                                create_options.extend(array(cv, &cp)?.iter().cloned());
                            }
                        }
                        _ => return Err(unknown(&p, ck)),
                    }
                }
                if !force {
                    return Err(ConvertError::Untranslatable {
                        path: p,
                        reason: "`create` without `force: true` has no spec 3 equivalent \
                                 (spec 3 reuses a matching filesystem or wipes the device \
                                 with `wipeFilesystem: true`); set `force: true` if wiping \
                                 is intended",
                    });
                }
                wipe = Some(true);
            }
            "wipeFilesystem" => {
                if let Some(v) = ctx.since(v, 1, &p)? {
                    let b = opt_bool(Some(v), &p)?.unwrap_or(false);
                    wipe = Some(wipe.unwrap_or(false) || b);
                }
            }
            "label" | "uuid" => {
                if let Some(v) = ctx.since(v, 1, &p)? {
                    string(v, &p)?;
                    if key == "label" {
                        label = Some(v.clone());
                    } else {
                        uuid = Some(v.clone());
                    }
                }
            }
            "options" => {
                if let Some(v) = ctx.since(v, 1, &p)? {
                    check_leaf(v, Leaf::StrList, &p)?;
                    options.extend(array(v, &p)?.iter().cloned());
                }
            }
            _ => return Err(unknown(path, key)),
        }
    }
    let Some(device) = device else {
        return Err(ConvertError::Missing {
            path: child(path, "device"),
        });
    };
    let Some(format) = format else {
        return Err(ConvertError::Missing {
            path: child(path, "format"),
        });
    };
    let mut out = Map::new();
    out.insert("device".to_owned(), Value::from(device));
    out.insert("format".to_owned(), Value::from(format));
    if let Some(wipe) = wipe {
        out.insert("wipeFilesystem".to_owned(), Value::Bool(wipe));
    }
    if let Some(label) = label {
        out.insert("label".to_owned(), label);
    }
    if let Some(uuid) = uuid {
        out.insert("uuid".to_owned(), uuid);
    }
    options.extend(create_options);
    if !options.is_empty() {
        out.insert("options".to_owned(), Value::Array(options));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// `systemd` and `passwd`

fn systemd(ctx: &mut Ctx<'_>, value: &Value, path: &str) -> Result<Value, ConvertError> {
    let mut out = Map::new();
    for (key, v) in object(value, path)? {
        let p = child(path, key);
        match key.as_str() {
            "units" => {
                if v.is_null() {
                    continue;
                }
                let mut units = Vec::new();
                let mut names = FirstSeen::new("unit name");
                for (i, unit_value) in array(v, &p)?.iter().enumerate() {
                    let up = index(&p, i);
                    let (unit_out, name) = unit(ctx, unit_value, &up)?;
                    names.add(name, &up)?;
                    units.push(unit_out);
                }
                out.insert(key.clone(), Value::Array(units));
            }
            _ => return Err(unknown(path, key)),
        }
    }
    Ok(Value::Object(out))
}

/// A unit: `enable`/`enabled` → `enabled` (as ign-converter: `enabled: false`
/// wins, else either set to true gives true), the rest kept.
fn unit<'v>(
    ctx: &mut Ctx<'_>,
    value: &'v Value,
    path: &str,
) -> Result<(Value, &'v str), ConvertError> {
    let obj = object(value, path)?;
    let enable = opt_bool(obj.get("enable"), &child(path, "enable"))?;
    let enabled = match obj.get("enabled") {
        Some(v) => {
            let p = child(path, "enabled");
            match ctx.since(v, 1, &p)? {
                Some(v) => opt_bool(Some(v), &p)?,
                None => None,
            }
        }
        None => None,
    };
    let combined = match (enable, enabled) {
        (_, Some(false)) => Some(false),
        (Some(true), _) | (_, Some(true)) => Some(true),
        _ => None,
    };
    let mut out = Map::new();
    let mut name = None;
    let mut enabled_placed = false;
    for (key, v) in obj {
        let p = child(path, key);
        match key.as_str() {
            "name" => {
                name = Some(non_empty_string(v, &p)?);
                out.insert(key.clone(), v.clone());
            }
            "enable" | "enabled" => {
                if !enabled_placed {
                    if let Some(b) = combined {
                        out.insert("enabled".to_owned(), Value::Bool(b));
                    }
                    enabled_placed = true;
                }
                if key == "enable" && !v.is_null() {
                    ctx.notes.push(match combined {
                        Some(_) => format!("`{p}` → `{path}.enabled`"),
                        None => format!("dropped `{p}: false` (the default)"),
                    });
                }
            }
            "mask" => copy_leaf(&mut out, key, Some(v), Leaf::Bool, &p)?,
            "contents" => copy_leaf(&mut out, key, Some(v), Leaf::Str, &p)?,
            "dropins" => {
                if !v.is_null() {
                    out.insert(key.clone(), dropins(v, &p)?);
                }
            }
            _ => return Err(unknown(path, key)),
        }
    }
    let Some(name) = name else {
        return Err(ConvertError::Missing {
            path: child(path, "name"),
        });
    };
    Ok((Value::Object(out), name))
}

fn dropins(value: &Value, path: &str) -> Result<Value, ConvertError> {
    let mut list = Vec::new();
    let mut names = FirstSeen::new("drop-in name");
    for (i, dropin) in array(value, path)?.iter().enumerate() {
        let p = index(path, i);
        let mut out = Map::new();
        let mut name = None;
        for (key, v) in object(dropin, &p)? {
            let kp = child(&p, key);
            match key.as_str() {
                "name" => {
                    name = Some(non_empty_string(v, &kp)?);
                    out.insert(key.clone(), v.clone());
                }
                "contents" => copy_leaf(&mut out, key, Some(v), Leaf::Str, &kp)?,
                _ => return Err(unknown(&p, key)),
            }
        }
        let Some(name) = name else {
            return Err(ConvertError::Missing {
                path: child(&p, "name"),
            });
        };
        names.add(name, &p)?;
        list.push(Value::Object(out));
    }
    Ok(Value::Array(list))
}

fn passwd(ctx: &mut Ctx<'_>, value: &Value, path: &str) -> Result<Value, ConvertError> {
    let mut out = Map::new();
    for (key, v) in object(value, path)? {
        let p = child(path, key);
        let is_users = match key.as_str() {
            "users" => true,
            "groups" => false,
            _ => return Err(unknown(path, key)),
        };
        if v.is_null() {
            continue;
        }
        let mut list = Vec::new();
        let mut names = FirstSeen::new("name");
        for (i, entry) in array(v, &p)?.iter().enumerate() {
            let ep = index(&p, i);
            let (converted, name) = if is_users {
                user(ctx, entry, &ep)?
            } else {
                group(entry, &ep)?
            };
            names.add(name, &ep)?;
            list.push(converted);
        }
        out.insert(key.clone(), Value::Array(list));
    }
    Ok(Value::Object(out))
}

fn user<'v>(
    ctx: &mut Ctx<'_>,
    value: &'v Value,
    path: &str,
) -> Result<(Value, &'v str), ConvertError> {
    let mut out = Map::new();
    let mut name = None;
    for (key, v) in object(value, path)? {
        let p = child(path, key);
        match key.as_str() {
            "name" => {
                name = Some(non_empty_string(v, &p)?);
                out.insert(key.clone(), v.clone());
            }
            "passwordHash" => copy_leaf(&mut out, key, Some(v), Leaf::Str, &p)?,
            "sshAuthorizedKeys" => copy_leaf(&mut out, key, Some(v), Leaf::StrList, &p)?,
            "create" => {
                if !v.is_null() {
                    return Err(ConvertError::Untranslatable {
                        path: p,
                        reason: "the deprecated `create` object is not converted; move its \
                                 fields (uid, gecos, homeDir, groups, shell, …) up into the \
                                 user entry, which spec 2.1+ and spec 3 read, and convert again",
                    });
                }
            }
            "uid" => {
                let value = ctx.since(v, 1, &p)?;
                copy_leaf(&mut out, key, value, Leaf::Int, &p)?;
            }
            "gecos" | "homeDir" | "primaryGroup" | "shell" => {
                let value = ctx.since(v, 1, &p)?;
                copy_leaf(&mut out, key, value, Leaf::Str, &p)?;
            }
            "groups" => {
                let value = ctx.since(v, 1, &p)?;
                copy_leaf(&mut out, key, value, Leaf::StrList, &p)?;
            }
            "noCreateHome" | "noUserGroup" | "system" | "noLogInit" => {
                let value = ctx.since(v, 1, &p)?;
                copy_leaf(&mut out, key, value, Leaf::Bool, &p)?;
            }
            _ => return Err(unknown(path, key)),
        }
    }
    let Some(name) = name else {
        return Err(ConvertError::Missing {
            path: child(path, "name"),
        });
    };
    Ok((Value::Object(out), name))
}

fn group<'v>(value: &'v Value, path: &str) -> Result<(Value, &'v str), ConvertError> {
    let mut out = Map::new();
    let mut name = None;
    for (key, v) in object(value, path)? {
        let p = child(path, key);
        match key.as_str() {
            "name" => {
                name = Some(non_empty_string(v, &p)?);
                out.insert(key.clone(), v.clone());
            }
            "gid" => copy_leaf(&mut out, key, Some(v), Leaf::Int, &p)?,
            "passwordHash" => copy_leaf(&mut out, key, Some(v), Leaf::Str, &p)?,
            "system" => copy_leaf(&mut out, key, Some(v), Leaf::Bool, &p)?,
            _ => return Err(unknown(path, key)),
        }
    }
    let Some(name) = name else {
        return Err(ConvertError::Missing {
            path: child(path, "name"),
        });
    };
    Ok((Value::Object(out), name))
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
