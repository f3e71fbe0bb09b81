//! The Ansible modules, one file each, and the registry that dispatches on a
//! module name (argv[0] in Ansible mode, a subcommand in CLI mode).

pub mod autoscaling;
pub mod bootimage_canary;
pub mod bootimage_info;
pub mod inputs;
pub mod machineset_bootimage;
pub mod mcs_cert_info;
pub mod rollback;
pub mod stub_ignition;

use schemars::Schema;
use serde_json::Value;

use crate::ansible::result::ModuleResult;
use crate::ansible::runner::{run_module, Module};
use crate::ansible::spec::schema_of;

/// Every module this binary serves.
pub const MODULES: &[&str] = &[
    autoscaling::Autoscaling::NAME,
    mcs_cert_info::McsCertInfo::NAME,
    bootimage_info::BootimageInfo::NAME,
    machineset_bootimage::MachinesetBootimage::NAME,
    rollback::Rollback::NAME,
    stub_ignition::StubIgnition::NAME,
    bootimage_canary::BootimageCanary::NAME,
];

/// Whether `name` is a module of this binary.
pub fn is_module(name: &str) -> bool {
    MODULES.contains(&name)
}

/// Runs the module `name` on raw args; None for an unknown name.
pub async fn run_by_name(
    name: &str,
    raw: &Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<ModuleResult> {
    match name {
        autoscaling::Autoscaling::NAME => {
            Some(run_module::<autoscaling::Autoscaling>(raw, env).await)
        }
        mcs_cert_info::McsCertInfo::NAME => {
            Some(run_module::<mcs_cert_info::McsCertInfo>(raw, env).await)
        }
        bootimage_info::BootimageInfo::NAME => {
            Some(run_module::<bootimage_info::BootimageInfo>(raw, env).await)
        }
        machineset_bootimage::MachinesetBootimage::NAME => {
            Some(run_module::<machineset_bootimage::MachinesetBootimage>(raw, env).await)
        }
        rollback::Rollback::NAME => Some(run_module::<rollback::Rollback>(raw, env).await),
        stub_ignition::StubIgnition::NAME => {
            Some(run_module::<stub_ignition::StubIgnition>(raw, env).await)
        }
        bootimage_canary::BootimageCanary::NAME => {
            Some(run_module::<bootimage_canary::BootimageCanary>(raw, env).await)
        }
        _ => None,
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

/// Other schemas this project publishes: `(file stem, schema)`.
pub fn extra_schemas() -> Vec<(&'static str, Schema)> {
    vec![("rollback-record", schema_of::<crate::record::Record>())]
}

/// `(module, input schema, output schema)` for every module.
pub fn schemas() -> Vec<(&'static str, Schema, Schema)> {
    fn of<M: Module>() -> (&'static str, Schema, Schema)
    where
        M::Output: 'static,
    {
        (
            M::NAME,
            schema_of::<M::Params>(),
            schema_of::<CommonResult<M::Output>>(),
        )
    }
    vec![
        of::<autoscaling::Autoscaling>(),
        of::<mcs_cert_info::McsCertInfo>(),
        of::<bootimage_info::BootimageInfo>(),
        of::<machineset_bootimage::MachinesetBootimage>(),
        of::<rollback::Rollback>(),
        of::<stub_ignition::StubIgnition>(),
        of::<bootimage_canary::BootimageCanary>(),
    ]
}

/// The documentation of every module (same sources as the schemas).
pub fn docs() -> Vec<crate::ansible::docs::ModuleDoc> {
    use crate::ansible::docs::doc_of;
    vec![
        doc_of::<bootimage_info::BootimageInfo>(),
        doc_of::<machineset_bootimage::MachinesetBootimage>(),
        doc_of::<rollback::Rollback>(),
        doc_of::<stub_ignition::StubIgnition>(),
        doc_of::<autoscaling::Autoscaling>(),
        doc_of::<mcs_cert_info::McsCertInfo>(),
        doc_of::<bootimage_canary::BootimageCanary>(),
    ]
}
