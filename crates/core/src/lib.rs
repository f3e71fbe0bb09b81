//! The pure core of ocp-bootimage (functional core, imperative shell): everything that
//! decides, nothing that does I/O. Its manifest has no HTTP client, no async runtime and
//! no command-line parser, so the compiler enforces that the core never reaches into
//! the shell (`ocp-bootimage`: `kube`, `ansible`, `modules`, `cli`).
//!
//! - [`cluster`]: the observed-cluster model every planner reads ([`cluster::Snapshot`]),
//!   the kinds, label selectors and the Machine → Node → pod trail.
//! - [`stream`], [`platform`], [`ignition`], [`cert`], [`mcd`]: the domain leaves.
//! - [`plan`]: pure planners from a snapshot to a report or a plan.
//! - [`record`]: the rollback record's data model.
//! - [`fleet`]: many clusters' audits as one fleet report, its verdict and exit code.

pub mod cert;
pub mod cluster;
pub mod fleet;
pub mod ignition;
pub mod mcd;
pub mod plan;
pub mod platform;
pub mod record;
pub mod stream;
