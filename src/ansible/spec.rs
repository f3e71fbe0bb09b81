//! A module's option spec, read from the JSON Schema of its `Params` type.
//!
//! Option docs are written once, as `///` comments and `#[schemars(extend(..))]`
//! attributes on the `Params` struct; this file turns the generated schema into
//! the table the args validator, the CLI help and the sidecar docs use.
//! Extension keys: `x-aliases` (list), `x-no-log` (bool), `x-env` (list of env
//! variable names, first set wins).

use std::collections::BTreeMap;

use schemars::{generate::SchemaSettings, JsonSchema, Schema};
use serde_json::Value;

/// The value types an option accepts, as Ansible names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
    Bool,
    Int,
    Str,
    /// A path is a string for validation; Ansible documents it as `path`.
    Path,
    List,
    Dict,
    /// Anything (no coercion).
    Raw,
}

impl OptionKind {
    /// The Ansible `type:` name used in DOCUMENTATION.
    pub fn ansible_name(self) -> &'static str {
        match self {
            OptionKind::Bool => "bool",
            OptionKind::Int => "int",
            OptionKind::Str => "str",
            OptionKind::Path => "path",
            OptionKind::List => "list",
            OptionKind::Dict => "dict",
            OptionKind::Raw => "raw",
        }
    }
}

/// One option of a module.
#[derive(Debug, Clone)]
pub struct OptionSpec {
    pub name: String,
    pub kind: OptionKind,
    pub description: String,
    pub aliases: Vec<String>,
    pub no_log: bool,
    pub env: Vec<String>,
    pub choices: Vec<Value>,
    pub default: Option<Value>,
    pub required: bool,
}

/// All options of a module, by canonical name.
#[derive(Debug, Clone, Default)]
pub struct OptionsSpec {
    pub options: BTreeMap<String, OptionSpec>,
}

/// The schema settings used for module inputs and outputs: draft 2020-12 with
/// every subschema inlined, so a schema is one self-contained document.
pub fn schema_settings() -> SchemaSettings {
    let mut settings = SchemaSettings::draft2020_12();
    settings.inline_subschemas = true;
    settings
}

/// The JSON Schema of `T` as this project writes it into `schemas/`.
pub fn schema_of<T: JsonSchema>() -> Schema {
    schema_settings()
        .into_generator()
        .into_root_schema_for::<T>()
}

impl OptionsSpec {
    /// Reads the option table from the input schema of a module.
    pub fn from_schema(schema: &Schema) -> OptionsSpec {
        let value = schema.as_value();
        let required: Vec<&str> = value
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut options = BTreeMap::new();
        if let Some(props) = value.get("properties").and_then(Value::as_object) {
            for (name, prop) in props {
                options.insert(
                    name.clone(),
                    OptionSpec {
                        name: name.clone(),
                        kind: kind_of(prop),
                        description: prop
                            .get("description")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        aliases: strings(prop.get("x-aliases")),
                        no_log: prop.get("x-no-log").and_then(Value::as_bool) == Some(true),
                        env: strings(prop.get("x-env")),
                        choices: choices_of(prop),
                        default: prop.get("default").cloned().filter(|d| !d.is_null()),
                        required: required.contains(&name.as_str()),
                    },
                );
            }
        }
        OptionsSpec { options }
    }

    /// The canonical name for an option name or alias.
    pub fn canonical(&self, name: &str) -> Option<&str> {
        if let Some(o) = self.options.get(name) {
            return Some(o.name.as_str());
        }
        self.options
            .values()
            .find(|o| o.aliases.iter().any(|a| a == name))
            .map(|o| o.name.as_str())
    }

    /// Every accepted name (options and aliases), sorted, as Ansible lists them.
    pub fn accepted_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .options
            .values()
            .flat_map(|o| std::iter::once(o.name.clone()).chain(o.aliases.iter().cloned()))
            .collect();
        names.sort();
        names
    }

    /// Names of the options whose values must never be shown.
    pub fn no_log_names(&self) -> impl Iterator<Item = &str> {
        self.options
            .values()
            .filter(|o| o.no_log)
            .map(|o| o.name.as_str())
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn type_names(prop: &Value) -> Vec<String> {
    match prop.get("type") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => {
            // `anyOf`/`oneOf` (e.g. Option<Enum>): collect the branches' types.
            let mut out = Vec::new();
            for key in ["anyOf", "oneOf"] {
                if let Some(branches) = prop.get(key).and_then(Value::as_array) {
                    for b in branches {
                        out.extend(type_names(b));
                    }
                }
            }
            if out.is_empty() && prop.get("enum").is_some() {
                out.push("string".to_string());
            }
            out
        }
    }
}

fn kind_of(prop: &Value) -> OptionKind {
    match prop.get("x-ansible-type").and_then(Value::as_str) {
        Some("path") => return OptionKind::Path,
        Some("raw") => return OptionKind::Raw,
        _ => {}
    }
    let types = type_names(prop);
    let has = |t: &str| types.iter().any(|x| x == t);
    if has("boolean") {
        OptionKind::Bool
    } else if has("integer") {
        OptionKind::Int
    } else if has("array") {
        OptionKind::List
    } else if has("object") {
        OptionKind::Dict
    } else if has("string") {
        OptionKind::Str
    } else {
        OptionKind::Raw
    }
}

fn choices_of(prop: &Value) -> Vec<Value> {
    // A list of an enum: the choices of each element.
    if let Some(items) = prop.get("items") {
        return choices_of(items);
    }
    if let Some(e) = prop.get("enum").and_then(Value::as_array) {
        return e.iter().filter(|v| !v.is_null()).cloned().collect();
    }
    let mut out = Vec::new();
    for key in ["anyOf", "oneOf"] {
        if let Some(branches) = prop.get(key).and_then(Value::as_array) {
            for b in branches {
                if let Some(e) = b.get("enum").and_then(Value::as_array) {
                    out.extend(e.iter().filter(|v| !v.is_null()).cloned());
                }
                if let Some(c) = b.get("const") {
                    if !c.is_null() {
                        out.push(c.clone());
                    }
                }
            }
        }
    }
    out
}
