//! Module documentation generated from the same sources as the code: the
//! option table (from the `Params` JSON Schema, i.e. the `///` comments), the
//! output schema, and each module's DESCRIPTION and EXAMPLES. Rendered as
//! Markdown into `docs/modules/` (kept in sync by a test); the Ansible sidecar
//! docs are rendered from the same [`ModuleDoc`], as YAML in the layout
//! ansible-lint expects ([`crate::ansible::yaml_out`]).

use schemars::Schema;
use serde_json::Value;

use crate::ansible::runner::Module;
use crate::ansible::spec::{schema_of, OptionKind, OptionsSpec};

/// Everything known about one module's interface.
pub struct ModuleDoc {
    pub name: &'static str,
    pub short_description: &'static str,
    pub description: &'static str,
    pub examples: &'static str,
    pub options: OptionsSpec,
    pub output: Schema,
    /// Whether the module returns before/after diffs (`diff_mode` attribute).
    pub diff_mode: bool,
}

impl ModuleDoc {
    /// Whether the module talks to a cluster: it takes every connection option (the
    /// `cluster` action group). `fleet_report` does not.
    pub fn connects(&self) -> bool {
        let connection = OptionsSpec::from_schema(&schema_of::<crate::options::ConnectionParams>());
        connection
            .options
            .keys()
            .all(|k| self.options.options.contains_key(k))
    }
}

/// The doc of module `M` (with `diff_mode`; the registry entry says otherwise).
pub fn doc_of<M: Module>() -> ModuleDoc
where
    M::Output: 'static,
{
    ModuleDoc {
        name: M::NAME,
        short_description: M::SHORT_DESCRIPTION,
        description: M::DESCRIPTION,
        examples: M::EXAMPLES,
        options: OptionsSpec::from_schema(&schema_of::<M::Params>()),
        output: schema_of::<M::Output>(),
        diff_mode: true,
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

fn type_of(prop: &Value) -> String {
    let types: Vec<String> = match prop.get("type") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .map(str::to_string)
            .collect(),
        _ => match prop.get("enum") {
            Some(_) => vec!["string".into()],
            None => vec!["any".into()],
        },
    };
    let t = types.join(" or ");
    match (
        t.as_str(),
        prop.pointer("/items/type").and_then(Value::as_str),
    ) {
        ("array", Some(item)) => format!("list of {item}"),
        _ => t,
    }
}

/// Return values: top-level properties, with one level of sub-keys.
fn returns(schema: &Value, out: &mut String) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    out.push_str("| key | type | description |\n|---|---|---|\n");
    for (k, p) in props {
        let d = p.get("description").and_then(Value::as_str).unwrap_or("");
        out.push_str(&format!("| `{k}` | {} | {} |\n", type_of(p), cell(d)));
        let sub = p
            .get("properties")
            .or_else(|| p.pointer("/items/properties"))
            .and_then(Value::as_object);
        if let Some(sub) = sub {
            let prefix = if p.get("items").is_some() {
                format!("{k}[]")
            } else {
                k.clone()
            };
            for (sk, sp) in sub {
                let d = sp.get("description").and_then(Value::as_str).unwrap_or("");
                out.push_str(&format!(
                    "| `{prefix}.{sk}` | {} | {} |\n",
                    type_of(sp),
                    cell(d)
                ));
            }
        }
    }
}

/// The Markdown page of one module.
pub fn markdown(doc: &ModuleDoc) -> String {
    let mut out = format!("# `{}`\n\n{}\n\n", doc.name, doc.short_description);
    if !doc.description.is_empty() {
        out.push_str(doc.description.trim());
        out.push_str("\n\n");
    }
    out.push_str("Generated from the code by `ocp-bootimage docs --write docs/modules`; do not edit.\n\n## Options\n\n");
    out.push_str("| option | type | default | description |\n|---|---|---|---|\n");
    for o in doc.options.options.values() {
        let mut extra = Vec::new();
        if o.required {
            extra.push("**required**".to_string());
        }
        if !o.choices.is_empty() {
            extra.push(format!(
                "choices: {}",
                o.choices.iter().map(show).collect::<Vec<_>>().join(", ")
            ));
        }
        if !o.aliases.is_empty() {
            extra.push(format!("aliases: {}", o.aliases.join(", ")));
        }
        if !o.env.is_empty() {
            extra.push(format!("env: `{}`", o.env.join("`, `")));
        }
        if o.no_log {
            extra.push("no_log".to_string());
        }
        let t = match o.kind {
            OptionKind::List => "list".to_string(),
            k => k.ansible_name().to_string(),
        };
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(" ({})", extra.join("; "))
        };
        out.push_str(&format!(
            "| `{}` | {t} | {} | {}{} |\n",
            o.name,
            o.default.as_ref().map(show).unwrap_or_default(),
            cell(&o.description),
            extra
        ));
    }
    if !doc.examples.trim().is_empty() {
        out.push_str("\n## Examples\n\n```yaml\n");
        out.push_str(doc.examples.trim());
        out.push_str("\n```\n");
    }
    out.push_str("\n## Return values\n\nBesides `changed`, `failed`, `msg`, `warnings`, `diff` and `invocation`:\n\n");
    returns(doc.output.as_value(), &mut out);
    out
}

/// Ansible's inline markup for a Markdown-ish doc string: `code` → C(code).
fn ansible_markup(s: &str) -> String {
    let mut out = String::new();
    let mut parts = s.split('`');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    let mut code = true;
    for p in parts {
        if code {
            out.push_str(&format!("C({p})"));
        } else {
            out.push_str(p);
        }
        code = !code;
    }
    out
}

/// Paragraphs of a description (blank-line separated, lines joined).
fn paragraphs(s: &str) -> Vec<String> {
    s.split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .map(|p| ansible_markup(&p))
        .collect()
}

fn yaml(v: &Value) -> serde_yaml::Value {
    serde_yaml::to_value(v).unwrap_or(serde_yaml::Value::Null)
}

fn ansible_type(prop: &Value) -> (&'static str, Option<&'static str>) {
    let types: Vec<&str> = match prop.get("type") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect(),
        _ if prop.get("enum").is_some() => vec!["string"],
        _ => {
            // anyOf/oneOf of an enum or object and null.
            let mut found = Vec::new();
            for key in ["anyOf", "oneOf"] {
                for b in prop
                    .get(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(t) = b
                        .get("type")
                        .and_then(Value::as_str)
                        .filter(|t| *t != "null")
                    {
                        found.push(t);
                    } else if b.get("enum").is_some() || b.get("const").is_some() {
                        found.push("string");
                    }
                }
            }
            found
        }
    };
    let simple = |t: &str| match t {
        "string" => "str",
        "integer" => "int",
        "number" => "float",
        "boolean" => "bool",
        "object" => "dict",
        "array" => "list",
        _ => "raw",
    };
    match types.as_slice() {
        [one] if *one == "array" => {
            let item = prop
                .get("items")
                .map(|i| ansible_type(i).0)
                .unwrap_or("raw");
            ("list", Some(item))
        }
        [one] => (simple(one), None),
        _ => ("raw", None),
    }
}

/// RETURN entries for the properties of an object schema.
fn return_entries(schema: &Value, returned: &str) -> serde_yaml::Mapping {
    let mut out = serde_yaml::Mapping::new();
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return out;
    };
    for (k, p) in props {
        let mut m = serde_yaml::Mapping::new();
        let d = p.get("description").and_then(Value::as_str).unwrap_or(k);
        m.insert("description".into(), yaml(&Value::from(paragraphs(d))));
        m.insert("returned".into(), returned.into());
        let (t, elements) = ansible_type(p);
        m.insert("type".into(), t.into());
        if let Some(e) = elements {
            m.insert("elements".into(), e.into());
        }
        let inner = if t == "list" { p.get("items") } else { Some(p) };
        if let Some(inner) = inner {
            let contains = return_entries(inner, "success");
            if !contains.is_empty() {
                m.insert("contains".into(), serde_yaml::Value::Mapping(contains));
            }
        }
        out.insert(k.as_str().into(), serde_yaml::Value::Mapping(m));
    }
    out
}

/// The sidecar `plugins/modules/<module>.yml` (DOCUMENTATION, EXAMPLES, RETURN) of a module,
/// from the same option spec and output schema as the code.
pub fn ansible_sidecar(doc: &ModuleDoc, version: &str) -> String {
    use serde_yaml::{Mapping, Value as Y};
    let mut options = Mapping::new();
    for o in doc.options.options.values() {
        let mut m = Mapping::new();
        let mut desc = paragraphs(&o.description);
        if !o.env.is_empty() {
            desc.push(format!(
                "If not set, the environment variable {} is used.",
                o.env
                    .iter()
                    .map(|e| format!("C({e})"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
        }
        m.insert("description".into(), yaml(&Value::from(desc)));
        let t = o.kind.ansible_name();
        m.insert("type".into(), t.into());
        if o.kind == OptionKind::List {
            m.insert("elements".into(), "str".into());
        }
        if o.required {
            m.insert("required".into(), true.into());
        }
        if let Some(d) = &o.default {
            let empty = d.as_object().is_some_and(|m| m.is_empty())
                || d.as_array().is_some_and(|a| a.is_empty());
            if !empty {
                m.insert("default".into(), yaml(d));
            }
        }
        if !o.choices.is_empty() {
            m.insert("choices".into(), yaml(&Value::from(o.choices.clone())));
        }
        if !o.aliases.is_empty() {
            m.insert("aliases".into(), yaml(&Value::from(o.aliases.clone())));
        }
        options.insert(o.name.as_str().into(), Y::Mapping(m));
    }
    let (check_mode, runs_where) = if doc.connects() {
        (
            "Can run in check_mode and return changed status prediction without modifying target. Sends no write request.",
            "A static binary module: it runs on the controller (C(localhost)) and talks to the Kubernetes API itself; no Python libraries are needed.",
        )
    } else {
        (
            "Can run in check_mode and return changed status prediction without modifying target. Writes no file.",
            "A static binary module: it runs on the controller (C(localhost)) and talks to no cluster; no Python libraries are needed.",
        )
    };
    let attributes: Value = serde_json::json!({
        "check_mode": {"support": "full", "description": [check_mode]},
        "diff_mode": {"support": if doc.diff_mode { "full" } else { "none" }, "description": ["Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode. Secret data is shown as a digest and a length."]},
        "platform": {"platforms": "posix", "description": ["Target OS/families that can be operated against."], "support": "N/A"},
    });
    let mut documentation = Mapping::new();
    documentation.insert("module".into(), doc.name.into());
    documentation.insert("short_description".into(), doc.short_description.into());
    documentation.insert("version_added".into(), version.into());
    documentation.insert(
        "description".into(),
        yaml(&Value::from(paragraphs(doc.description))),
    );
    documentation.insert(
        "author".into(),
        yaml(&serde_json::json!([
            "ocp-bootimage developers (@ocp-bootimage)"
        ])),
    );
    documentation.insert("options".into(), Y::Mapping(options));
    documentation.insert("attributes".into(), yaml(&attributes));
    documentation.insert(
        "notes".into(),
        yaml(&serde_json::json!([
            runs_where,
            "Generated from the code (C(ocp-bootimage collection --write)); JSON Schemas of the options and return values are in the project's C(schemas/) directory."
        ])),
    );
    let mut root = Mapping::new();
    root.insert("DOCUMENTATION".into(), Y::Mapping(documentation));
    root.insert("EXAMPLES".into(), doc.examples.trim_start().into());
    root.insert(
        "RETURN".into(),
        Y::Mapping(return_entries(doc.output.as_value(), "success")),
    );
    crate::ansible::yaml_out::to_string(&Y::Mapping(root))
}

/// `meta/runtime.yml`: required ansible-core and the `cluster` action group of every module
/// that takes all connection options (so `module_defaults: group/ocp.bootimage.cluster` works).
pub fn runtime_yml(docs: &[ModuleDoc]) -> String {
    let group: Vec<&str> = docs
        .iter()
        .filter(|d| d.connects())
        .map(|d| d.name)
        .collect();
    let v = serde_json::json!({
        "requires_ansible": ">=2.16.0",
        "action_groups": {"cluster": group},
    });
    format!("---\n{}", crate::ansible::yaml_out::to_string(&yaml(&v)))
}
