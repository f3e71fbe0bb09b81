//! The Ansible binary-module protocol, shared by every module.
//!
//! Owns: reading the args file, validating and coercing options against the
//! module's typed option spec, the `_ansible_*` meta keys, and the one JSON
//! object printed on stdout (`main`: Ansible mode). Must not know any module's
//! domain; the modules are listed once, in `modules::MODULES`, as [`ModuleEntry`]s.

pub mod args;
pub mod docs;
pub mod entry;
pub mod main;
pub mod result;
pub mod runner;
pub mod spec;
pub mod yaml_out;

pub use args::{AnsibleMeta, ArgsError, ValidatedArgs};
pub use entry::ModuleEntry;
pub use result::{DiffEntry, ModuleResult, NO_LOG_MASK};
pub use runner::{Module, ModuleContext, ModuleError, ModuleOutcome};
pub use spec::{OptionKind, OptionSpec, OptionsSpec};
