//! The rollback record: every value a run is about to change, written before
//! the first mutation, appended and never lost, and read back by `rollback`.
//!
//! Stored as JSON in the Secret `openshift-machine-api/ocp-bootimage-rollback`
//! (key `record.json`; a Secret because entries may hold old stub Ignition), or
//! in a local file (mode 0600) for runs on files. Format: [`Record`], with a JSON
//! Schema in `schemas/rollback-record.json`.

pub mod model;
pub mod store;

pub use model::{new_run_id, now_rfc3339, Record, RecordEntry, RolledBack, RECORD_FORMAT};
pub use store::{RecordLocation, RecordStore};
