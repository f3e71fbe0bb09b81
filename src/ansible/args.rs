//! Reading and validating a module's arguments the way AnsibleModule does.
//!
//! Input is the args-file JSON object: user options plus `_ansible_*` keys.
//! Output is a map of canonical option names to coerced values (aliases
//! resolved, env fallbacks applied), ready for `serde_json::from_value::<Params>`.
//! Must not do I/O except reading environment variables for fallbacks.

use serde_json::{Map, Value};

use super::spec::{OptionKind, OptionsSpec};

/// The `_ansible_*` keys this project honours; unknown ones are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnsibleMeta {
    /// `_ansible_check_mode`: report what would change, change nothing.
    pub check_mode: bool,
    /// `_ansible_diff`: return `diff`.
    pub diff: bool,
    /// `_ansible_no_log`: mask every option value in `invocation`.
    pub no_log: bool,
    /// `_ansible_verbosity`: 0..=5.
    pub verbosity: u8,
    /// `_ansible_module_name`, when given.
    pub module_name: Option<String>,
}

/// A failure to accept the arguments; its text is the module's `msg`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    /// The args file is not a JSON object.
    #[error("module arguments must be a JSON object: {0}")]
    NotAnObject(String),
    /// Options the module does not have (Ansible's own wording).
    #[error("Unsupported parameters for ({module}) module: {unknown}. Supported parameters include: {supported}.")]
    Unsupported {
        module: String,
        unknown: String,
        supported: String,
    },
    /// A value that cannot be converted to the option's type.
    #[error(
        "argument '{name}' is of type {found} and we were unable to convert to {wanted}: {detail}"
    )]
    WrongType {
        name: String,
        found: String,
        wanted: String,
        detail: String,
    },
    /// List elements outside the option's choices.
    #[error("value of {name} must be one or more of: {choices}. Got no match for: {got}")]
    NotChoices {
        name: String,
        choices: String,
        got: String,
    },
    /// A value outside the option's choices.
    #[error("value of {name} must be one of: {choices}, got: {got}")]
    NotAChoice {
        name: String,
        choices: String,
        got: String,
    },
    /// A required option is missing.
    #[error("missing required arguments: {0}")]
    Missing(String),
    /// The typed deserialisation of the options failed.
    #[error("invalid module arguments: {0}")]
    Invalid(String),
}

/// Arguments after validation.
#[derive(Debug, Clone, Default)]
pub struct ValidatedArgs {
    /// Canonical name → coerced value (only options that were given or had an env fallback).
    pub options: Map<String, Value>,
    pub meta: AnsibleMeta,
    /// Warnings to show (e.g. an option given under both its name and an alias).
    pub warnings: Vec<String>,
}

/// Validates `raw` against `spec`. `env` looks up environment variables (injected for tests).
pub fn validate(
    module: &str,
    raw: &Value,
    spec: &OptionsSpec,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ValidatedArgs, ArgsError> {
    let obj = raw
        .as_object()
        .ok_or_else(|| ArgsError::NotAnObject(format!("got {}", json_type_name(raw))))?;
    let mut out = ValidatedArgs::default();
    let mut unknown = Vec::new();
    for (key, value) in obj {
        if let Some(meta_key) = key.strip_prefix("_ansible_") {
            read_meta(&mut out.meta, meta_key, value);
            continue;
        }
        let Some(canonical) = spec.canonical(key) else {
            unknown.push(key.clone());
            continue;
        };
        let canonical = canonical.to_string();
        if out.options.contains_key(&canonical) {
            out.warnings.push(format!(
                "Both option {canonical} and its alias {key} are set; using the value of {key}."
            ));
        }
        out.options.insert(canonical, value.clone());
    }
    if !unknown.is_empty() {
        unknown.sort();
        return Err(ArgsError::Unsupported {
            module: module.to_string(),
            unknown: unknown.join(", "),
            supported: spec.accepted_names().join(", "),
        });
    }
    // Null means "not given", as in AnsibleModule; then env fallbacks apply.
    out.options.retain(|_, v| !v.is_null());
    for opt in spec.options.values() {
        if out.options.contains_key(&opt.name) {
            continue;
        }
        if let Some(v) = opt
            .env
            .iter()
            .find_map(|e| env(e).filter(|v| !v.is_empty()))
        {
            out.options.insert(opt.name.clone(), Value::String(v));
        }
    }
    let mut missing = Vec::new();
    for opt in spec.options.values() {
        match out.options.get_mut(&opt.name) {
            Some(value) => {
                *value = coerce(&opt.name, opt.kind, value)?;
                check_choice(&opt.name, &opt.choices, value)?;
            }
            None if opt.required => missing.push(opt.name.clone()),
            None => {}
        }
    }
    if !missing.is_empty() {
        return Err(ArgsError::Missing(missing.join(", ")));
    }
    Ok(out)
}

fn read_meta(meta: &mut AnsibleMeta, key: &str, value: &Value) {
    match key {
        "check_mode" => meta.check_mode = to_bool(value).unwrap_or(false),
        "diff" => meta.diff = to_bool(value).unwrap_or(false),
        "no_log" => meta.no_log = to_bool(value).unwrap_or(false),
        "verbosity" => {
            meta.verbosity = to_int(value)
                .ok()
                .and_then(|v| u8::try_from(v.clamp(0, 255)).ok())
                .unwrap_or(0)
        }
        "module_name" => meta.module_name = value.as_str().map(str::to_string),
        _ => {}
    }
}

fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "int",
        Value::Number(_) => "float",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// AnsibleModule's boolean conversion: yes/no/true/false/on/off/1/0 (case-insensitive), y/n, t/f.
pub fn to_bool(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_f64() == Some(1.0) => Ok(true),
        Value::Number(n) if n.as_f64() == Some(0.0) => Ok(false),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "yes" | "on" | "1" | "true" | "y" | "t" | "1.0" => Ok(true),
            "no" | "off" | "0" | "false" | "n" | "f" | "0.0" | "" => Ok(false),
            _ => Err(format!("'{}' is not a valid boolean", truncate(s))),
        },
        other => Err(format!("{} is not a valid boolean", json_type_name(other))),
    }
}

fn to_int(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            })
            .ok_or_else(|| format!("{n} is not an integer")),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("'{}' is not an integer", truncate(s))),
        other => Err(format!("{} is not an integer", json_type_name(other))),
    }
}

fn truncate(s: &str) -> String {
    let mut t: String = s.chars().take(60).collect();
    if t.len() < s.len() {
        t.push('…');
    }
    t
}

fn wrong(name: &str, v: &Value, wanted: &str, detail: String) -> ArgsError {
    ArgsError::WrongType {
        name: name.to_string(),
        found: json_type_name(v).to_string(),
        wanted: wanted.to_string(),
        detail,
    }
}

/// Coerces one value to `kind` as AnsibleModule does for ad-hoc (`k=v`) arguments.
pub fn coerce(name: &str, kind: OptionKind, v: &Value) -> Result<Value, ArgsError> {
    match kind {
        OptionKind::Bool => to_bool(v)
            .map(Value::Bool)
            .map_err(|d| wrong(name, v, "bool", d)),
        OptionKind::Int => to_int(v)
            .map(Value::from)
            .map_err(|d| wrong(name, v, "int", d)),
        OptionKind::Str | OptionKind::Path => match v {
            Value::String(_) => Ok(v.clone()),
            Value::Bool(b) => Ok(Value::String(if *b { "True" } else { "False" }.into())),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            _ => Err(wrong(
                name,
                v,
                "str",
                "a list or dict cannot be used as a string".into(),
            )),
        },
        OptionKind::List => match v {
            // Every list option has `elements: str`.
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(idx, i)| match i {
                    Value::Number(n) => Ok(Value::String(n.to_string())),
                    Value::Bool(b) => Ok(Value::String(b.to_string())),
                    Value::String(_) => Ok(i.clone()),
                    other => Err(wrong(
                        name,
                        v,
                        "list of str",
                        format!(
                            "element {idx} is of type {}; elements must be strings",
                            json_type_name(other)
                        ),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Value::String(s) if s.trim_start().starts_with('[') => serde_json::from_str::<Value>(s)
                .ok()
                .filter(Value::is_array)
                .ok_or_else(|| wrong(name, v, "list", "not a JSON list".into())),
            Value::String(s) => Ok(Value::Array(
                s.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::String(p.to_string()))
                    .collect(),
            )),
            Value::Number(n) => Ok(Value::Array(vec![Value::String(n.to_string())])),
            _ => Err(wrong(name, v, "list", "expected a list".into())),
        },
        OptionKind::Dict => match v {
            Value::Object(_) => Ok(v.clone()),
            Value::String(s) if s.trim_start().starts_with('{') => serde_json::from_str::<Value>(s)
                .ok()
                .filter(Value::is_object)
                .ok_or_else(|| wrong(name, v, "dict", "not a JSON object".into())),
            Value::String(s) => {
                // Ansible's `k1=v1, k2=v2` form.
                let mut map = Map::new();
                for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let (k, val) = part.split_once('=').ok_or_else(|| {
                        wrong(name, v, "dict", "expected k1=v1,k2=v2 or JSON".into())
                    })?;
                    map.insert(k.trim().to_string(), Value::String(val.trim().to_string()));
                }
                Ok(Value::Object(map))
            }
            _ => Err(wrong(name, v, "dict", "expected a dict".into())),
        },
        OptionKind::Raw => Ok(v.clone()),
    }
}

fn check_choice(name: &str, choices: &[Value], v: &Value) -> Result<(), ArgsError> {
    if choices.is_empty() || choices.contains(v) {
        return Ok(());
    }
    let show = |c: &Value| match c {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    // A list option with choices: every element must be one (AnsibleModule's wording).
    if let Value::Array(items) = v {
        let bad: Vec<String> = items
            .iter()
            .filter(|i| !choices.contains(i))
            .map(show)
            .collect();
        if bad.is_empty() {
            return Ok(());
        }
        return Err(ArgsError::NotChoices {
            name: name.to_string(),
            choices: choices.iter().map(show).collect::<Vec<_>>().join(", "),
            got: bad.join(", "),
        });
    }
    Err(ArgsError::NotAChoice {
        name: name.to_string(),
        choices: choices.iter().map(show).collect::<Vec<_>>().join(", "),
        got: show(v),
    })
}
