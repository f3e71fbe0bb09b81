//! Running one module: validate arguments, call the module, shape the result.
//!
//! Owns the [`Module`] trait every module implements and the single error
//! path from any failure to a `failed: true` result. Must not print: the
//! caller (main or CLI) prints the result once.

use schemars::JsonSchema;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::{Map, Value};

use super::args::{validate, AnsibleMeta, ArgsError};
use super::result::{invocation_args, DiffEntry, ModuleResult};
use super::spec::{schema_of, OptionsSpec};

/// What a module run knows besides its options.
#[derive(Debug, Clone, Default)]
pub struct ModuleContext {
    pub meta: AnsibleMeta,
}

/// The outcome of a successful run.
#[derive(Debug, Clone)]
pub struct ModuleOutcome<O> {
    pub changed: bool,
    /// A run can succeed in reading yet fail the task (e.g. `fail_on_noncompliant`).
    pub failed: bool,
    pub msg: String,
    pub warnings: Vec<String>,
    pub diff: Vec<DiffEntry>,
    pub output: O,
}

/// A failed run: the message is shown to the user as `msg`.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    /// The arguments were not acceptable.
    #[error(transparent)]
    Args(#[from] ArgsError),
    /// Anything else, with its context chain (printed with `{:#}`).
    #[error("{0:#}")]
    Other(#[from] anyhow::Error),
}

/// One Ansible module: typed options in, typed result out.
#[allow(async_fn_in_trait)]
pub trait Module {
    /// The module's name (its file name in the collection, argv[0]).
    const NAME: &'static str;
    /// One line that says what the module does.
    const SHORT_DESCRIPTION: &'static str;
    /// What the module does, in a few paragraphs (Markdown, blank-line separated).
    const DESCRIPTION: &'static str = "";
    /// Ansible tasks that show how to use it (YAML, a list of tasks).
    const EXAMPLES: &'static str = "";
    /// Options, documented with `///` (the single source for schema and docs).
    type Params: DeserializeOwned + JsonSchema;
    /// Module-specific return values (merged at the top level of the result).
    type Output: Serialize + JsonSchema;

    /// Runs the module; no printing.
    async fn run(
        params: Self::Params,
        ctx: &ModuleContext,
    ) -> Result<ModuleOutcome<Self::Output>, ModuleError>;
}

/// The option table of `M`.
pub fn options_spec<M: Module>() -> OptionsSpec {
    OptionsSpec::from_schema(&schema_of::<M::Params>())
}

/// Runs `M` on raw args (the args file's JSON) and returns the result to print.
pub async fn run_module<M: Module>(
    raw: &Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> ModuleResult {
    run_module_typed::<M>(raw, env).await.0
}

/// Runs `M` on raw args: the result to print and, when the module ran, its typed output
/// (for a front end that renders it otherwise, like the CLI's audit table).
pub async fn run_module_typed<M: Module>(
    raw: &Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> (ModuleResult, Option<M::Output>) {
    let spec = options_spec::<M>();
    let validated = match validate(M::NAME, raw, &spec, env) {
        Ok(v) => v,
        Err(e) => return (ModuleResult::failure(e.to_string()), None),
    };
    let module_args = invocation_args(&spec, &validated.options, validated.meta.no_log);
    let params: M::Params = match serde_json::from_value(Value::Object(validated.options.clone())) {
        Ok(p) => p,
        Err(e) => {
            let mut r = ModuleResult::failure(ArgsError::Invalid(e.to_string()).to_string());
            r.module_args = Some(module_args);
            return (r, None);
        }
    };
    let ctx = ModuleContext {
        meta: validated.meta.clone(),
    };
    let ran = M::run(params, &ctx).await;
    // A module that failed after taking the run lock dropped it unreleased.
    crate::kube::run_lock::release_abandoned().await;
    let (mut result, output) = match ran {
        Ok(outcome) => {
            let values = match serde_json::to_value(&outcome.output) {
                Ok(Value::Object(map)) => map,
                Ok(_) | Err(_) => Map::new(),
            };
            let result = ModuleResult {
                changed: outcome.changed,
                failed: outcome.failed,
                msg: outcome.msg,
                warnings: outcome.warnings,
                diff: if ctx.meta.diff {
                    outcome.diff
                } else {
                    Vec::new()
                },
                module_args: None,
                values,
                failure_kind: None,
            };
            (result, Some(outcome.output))
        }
        Err(e) => {
            let mut failure = ModuleResult::failure(e.to_string());
            if let ModuleError::Other(e) = &e {
                failure.failure_kind = crate::transport::failure_kind_of(e);
            }
            (failure, None)
        }
    };
    let mut warnings = validated.warnings;
    warnings.append(&mut result.warnings);
    result.warnings = warnings;
    result.module_args = Some(module_args);
    (result, output)
}
