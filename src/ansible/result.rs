//! The module result: exactly one JSON object on stdout.
//!
//! Owns the result shape Ansible expects (`changed`, `failed`, `msg`,
//! `warnings`, `diff`, `invocation`) and the no_log masking of
//! `invocation.module_args`. Module-specific return values are merged at the
//! top level.

use serde_json::{Map, Value};

use super::spec::{OptionKind, OptionsSpec};

/// What Ansible shows instead of a no_log option's value.
pub const NO_LOG_MASK: &str = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER";

use crate::fleet::FailureKind;
pub use crate::plan::change::DiffEntry;

/// The whole result of one module run.
#[derive(Debug, Clone, Default)]
pub struct ModuleResult {
    pub changed: bool,
    pub failed: bool,
    pub msg: String,
    pub warnings: Vec<String>,
    pub diff: Vec<DiffEntry>,
    /// Of a failure, its kind when the tool knows it (`failure_kind`: `unreachable`,
    /// `forbidden`, `timed_out`): what a fleet report sorts the cluster by.
    pub failure_kind: Option<FailureKind>,
    /// `invocation.module_args`, already masked.
    pub module_args: Option<Map<String, Value>>,
    /// Module-specific return values (top-level keys).
    pub values: Map<String, Value>,
}

impl ModuleResult {
    /// A failed result with `msg`.
    pub fn failure(msg: impl Into<String>) -> ModuleResult {
        ModuleResult {
            failed: true,
            msg: msg.into(),
            ..ModuleResult::default()
        }
    }

    /// The JSON object printed on stdout, built from the result itself (no copy of the
    /// module's values, which can be megabytes).
    pub fn into_json(self) -> Value {
        let mut out = self.values;
        out.insert("changed".into(), Value::Bool(self.changed));
        out.insert("failed".into(), Value::Bool(self.failed));
        out.insert("msg".into(), Value::String(self.msg));
        if let Some(kind) = self.failure_kind {
            out.insert(
                "failure_kind".into(),
                serde_json::to_value(kind).unwrap_or(Value::Null),
            );
        }
        if !self.warnings.is_empty() {
            out.insert("warnings".into(), Value::from(self.warnings));
        }
        if !self.diff.is_empty() {
            let entries: Vec<Value> = self
                .diff
                .iter()
                .map(|d| serde_json::to_value(d).unwrap_or(Value::Null))
                .collect();
            let diff = if entries.len() == 1 {
                entries.into_iter().next().unwrap_or(Value::Null)
            } else {
                Value::Array(entries)
            };
            out.insert("diff".into(), diff);
        }
        if let Some(args) = self.module_args {
            let mut inv = Map::new();
            inv.insert("module_args".into(), Value::Object(args));
            out.insert("invocation".into(), Value::Object(inv));
        }
        Value::Object(out)
    }

    /// The process exit code: 0 on success, 1 on failure.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.failed)
    }
}

/// `invocation.module_args`: every option (unset ones as null, defaults filled),
/// no_log options and raw options given as a dict masked; with `mask_all` (`_ansible_no_log`) every set value is masked.
pub fn invocation_args(
    spec: &OptionsSpec,
    options: &Map<String, Value>,
    mask_all: bool,
) -> Map<String, Value> {
    let mut out = Map::new();
    for opt in spec.options.values() {
        let value = options
            .get(&opt.name)
            .cloned()
            .or_else(|| opt.default.clone())
            .unwrap_or(Value::Null);
        // A raw option given as a document (an inline kubeconfig) may hold tokens and keys.
        let document = opt.kind == OptionKind::Raw && value.is_object();
        let masked = if !value.is_null() && (opt.no_log || mask_all || document) {
            Value::String(NO_LOG_MASK.into())
        } else {
            value
        };
        out.insert(opt.name.clone(), masked);
    }
    out
}
