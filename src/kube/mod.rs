//! Observing a cluster: over HTTP from the Kubernetes API, or from a dump
//! directory, into one [`Snapshot`] that the pure planners read.
//!
//! Owns the connection options, the kinds this tool reads, label selectors,
//! the dump loader (pod log files included), the snapshot, and the way from a
//! MachineSet to the machine-config-daemon log of its youngest node. Must not
//! make decisions about boot images.

pub mod access;
pub mod apply;
pub mod client;
pub mod connection;
pub mod dump;
pub mod nodes;
pub mod resources;
pub mod selector;
pub mod snapshot;

pub use connection::ConnectionParams;
pub use resources::Kind;
pub use selector::LabelSelector;
pub use snapshot::{Reads, Selection, Snapshot};
