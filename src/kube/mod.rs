//! Talking to a cluster, or reading a dump directory: the shell side of observing
//! (into the core's [`crate::cluster::Snapshot`]) and of applying planned changes.
//!
//! Owns the client built from the connection options, the HTTP client with its
//! retries, the dump loader (pod log files included), reading Machines/Nodes/MCD logs,
//! the authorizer check, the applier, the rollback record's store (a Secret, or a
//! 0600 file) and the run lock (a Lease, or an OS lock on a file). Must not make
//! decisions about boot images.

pub mod access;
pub mod apply;
pub mod client;
pub mod connection;
pub mod dump;
pub mod key_secrets;
mod list_stream;
pub mod mcs_pods;
pub mod nodes;
pub mod observe;
pub mod proxy;
pub mod record_store;
pub mod run_lock;
pub mod server_dry_run;
