//! The Ansible modules, one file each, and the registry: the one list of the modules
//! this binary serves. Everything that enumerates modules derives from [`MODULES`]:
//! argv[0] dispatch (Ansible mode), the CLI subcommands, the schemas, the docs, the
//! collection's sidecars and `meta/runtime.yml`, `ocp-bootimage modules` (for the
//! scripts) and the tests.

pub mod autoscaling;
pub mod bootimage_canary;
pub mod bootimage_info;
pub mod bootimage_runs;
pub mod fleet_report;
pub mod inputs;
pub mod machineset_bootimage;
pub mod mcs_cert_info;
pub mod mcs_certificate;
pub mod rollback;
pub mod skew_enforcement;
pub mod stub_ignition;
pub mod vsphere_template;

use schemars::Schema;

use crate::ansible::docs::ModuleDoc;
use crate::ansible::spec::schema_of;
use crate::ansible::ModuleEntry;

/// Every module this binary serves, in the order of the procedure's docs and the CLI help.
pub const MODULES: &[ModuleEntry] = &[
    ModuleEntry::of::<bootimage_info::BootimageInfo>().without_diff(),
    ModuleEntry::of::<machineset_bootimage::MachinesetBootimage>(),
    ModuleEntry::of::<rollback::Rollback>(),
    ModuleEntry::of::<stub_ignition::StubIgnition>(),
    ModuleEntry::of::<autoscaling::Autoscaling>(),
    ModuleEntry::of::<mcs_cert_info::McsCertInfo>().without_diff(),
    ModuleEntry::of::<mcs_certificate::McsCertificate>(),
    ModuleEntry::of::<bootimage_canary::BootimageCanary>(),
    ModuleEntry::of::<bootimage_runs::BootimageRuns>().without_diff(),
    ModuleEntry::of::<skew_enforcement::SkewEnforcement>(),
    ModuleEntry::of::<vsphere_template::VsphereTemplate>(),
    ModuleEntry::of::<fleet_report::FleetReportModule>().without_diff(),
];

/// The module called `name`.
pub fn find(name: &str) -> Option<&'static ModuleEntry> {
    MODULES.iter().find(|m| m.name == name)
}

/// Whether `name` is a module of this binary.
pub fn is_module(name: &str) -> bool {
    find(name).is_some()
}

/// The names of every module.
pub fn names() -> impl Iterator<Item = &'static str> {
    MODULES.iter().map(|m| m.name)
}

/// Other schemas this project publishes: `(file stem, schema)`.
pub fn extra_schemas() -> Vec<(&'static str, Schema)> {
    vec![
        ("rollback-record", schema_of::<crate::record::Record>()),
        ("rollback-run-part", schema_of::<crate::record::RunPart>()),
        (
            "rollback-record-file",
            schema_of::<crate::record::RecordFile>(),
        ),
        ("fleet-report", schema_of::<crate::fleet::FleetReport>()),
    ]
}

/// `(module, input schema, output schema)` for every module.
pub fn schemas() -> Vec<(&'static str, Schema, Schema)> {
    MODULES
        .iter()
        .map(|m| (m.name, m.input_schema(), m.output_schema()))
        .collect()
}

/// The documentation of every module (same sources as the schemas).
pub fn docs() -> Vec<ModuleDoc> {
    MODULES.iter().map(ModuleEntry::doc).collect()
}
