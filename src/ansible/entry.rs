//! A module with its generic functions instantiated once: what the module registry
//! (`modules::MODULES`) lists, and all the front ends need of a module without
//! knowing its type — its name and one-line description (argv[0] dispatch, CLI
//! subcommands), running it on raw arguments, its schemas and its docs.

use std::future::Future;
use std::pin::Pin;

use schemars::Schema;
use serde_json::Value;

use super::docs::{doc_of, ModuleDoc};
use super::result::ModuleResult;
use super::runner::{run_module, Module};
use super::spec::schema_of;

/// Runs a module on raw args with an environment lookup.
type RunFn = for<'a> fn(
    &'a Value,
    &'a dyn Fn(&str) -> Option<String>,
) -> Pin<Box<dyn Future<Output = ModuleResult> + 'a>>;

/// One module of the registry.
#[derive(Clone, Copy)]
pub struct ModuleEntry {
    /// [`Module::NAME`].
    pub name: &'static str,
    /// [`Module::SHORT_DESCRIPTION`].
    pub short_description: &'static str,
    /// Whether it returns before/after diffs with `--diff` (the read-only modules do not);
    /// documented as the `diff_mode` attribute.
    pub diff_mode: bool,
    run: RunFn,
    input_schema: fn() -> Schema,
    output_schema: fn() -> Schema,
    doc: fn() -> ModuleDoc,
}

impl std::fmt::Debug for ModuleEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuleEntry")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The common result keys every module returns, for the output schemas.
#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
struct CommonResult<O> {
    /// Whether the module changed (or, in check mode, would change) anything.
    changed: bool,
    /// Whether the task failed.
    failed: bool,
    /// A one-line summary or the error.
    msg: String,
    /// Things worth a look (skipped MachineSets, unreadable objects, …).
    warnings: Option<Vec<String>>,
    /// Before/after of every change (with `--diff`): one dict or a list of dicts.
    diff: Option<Value>,
    /// The options as the module understood them, no_log values masked.
    invocation: Option<Value>,
    #[schemars(flatten)]
    output: O,
}

fn run_boxed<'a, M: Module + 'static>(
    raw: &'a Value,
    env: &'a dyn Fn(&str) -> Option<String>,
) -> Pin<Box<dyn Future<Output = ModuleResult> + 'a>> {
    Box::pin(run_module::<M>(raw, env))
}

impl ModuleEntry {
    /// The entry of module `M` (with `diff_mode`).
    pub const fn of<M: Module + 'static>() -> ModuleEntry
    where
        M::Output: 'static,
    {
        ModuleEntry {
            name: M::NAME,
            short_description: M::SHORT_DESCRIPTION,
            diff_mode: true,
            run: run_boxed::<M>,
            input_schema: schema_of::<M::Params>,
            output_schema: schema_of::<CommonResult<M::Output>>,
            doc: doc_of::<M>,
        }
    }

    /// The same entry for a module that never returns diffs.
    pub const fn without_diff(self) -> ModuleEntry {
        ModuleEntry {
            diff_mode: false,
            ..self
        }
    }

    /// Runs the module on raw args (validated first); `env` looks up environment variables.
    pub async fn run(&self, raw: &Value, env: &dyn Fn(&str) -> Option<String>) -> ModuleResult {
        (self.run)(raw, env).await
    }

    /// Runs the module on raw args with the process environment, on a fresh runtime.
    pub fn run_blocking(&self, raw: &Value) -> ModuleResult {
        let env = |k: &str| std::env::var(k).ok();
        block_on(self.run(raw, &env)).unwrap_or_else(ModuleResult::failure)
    }

    /// The JSON Schema of its options.
    pub fn input_schema(&self) -> Schema {
        (self.input_schema)()
    }

    /// The JSON Schema of its whole result (common keys and its return values).
    pub fn output_schema(&self) -> Schema {
        (self.output_schema)()
    }

    /// Its documentation.
    pub fn doc(&self) -> ModuleDoc {
        ModuleDoc {
            diff_mode: self.diff_mode,
            ..(self.doc)()
        }
    }
}

/// Runs `future` on a fresh single-threaded runtime (the process runs one module);
/// Err when no runtime can be started.
pub fn block_on<F: Future>(future: F) -> Result<F::Output, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|rt| rt.block_on(future))
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}
