//! Planning: pure functions from a [`crate::cluster::Snapshot`] (and stream
//! metadata) to a report or a plan. No client, no clock, no environment:
//! everything a planner needs is passed in.

pub mod audit;
pub mod autoscaler;
pub mod canary;
pub mod change;
pub mod cluster;
pub mod control_plane;
pub mod controllers;
pub mod machineset;
pub mod mcs;
pub mod mcs_certificate;
pub mod observed;
pub mod os_stream;
pub mod rollback;
pub mod skew;
pub mod step;
pub mod stub;
pub mod swap;
pub mod verdict;
pub mod vsphere_template;

pub use audit::{audit, AuditInput, AuditOptions, AuditReport, Part, StreamSource};
pub use change::{FieldChange, ObjectChange};
pub use cluster::ClusterInfo;
pub use machineset::{MachineSetReport, Status};
pub use observed::ObservedBuildsReport;
pub use step::{Decision, Plan};
pub use verdict::Verdict;
