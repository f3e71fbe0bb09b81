//! Module documentation generated from the same sources as the code: the
//! option table (from the `Params` JSON Schema, i.e. the `///` comments), the
//! output schema, and each module's DESCRIPTION and EXAMPLES. Rendered as
//! Markdown into `docs/modules/` (kept in sync by a test); the Ansible sidecar
//! docs are rendered from the same [`ModuleDoc`].

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
}

/// The doc of module `M`.
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
