//! The machine-config-daemon (MCD): what its log says about the node it runs on.
//!
//! At start the MCD logs the node's *aleph version*, the record of the disk image
//! the node was first installed from (`/sysroot/.coreos-aleph-version.json`):
//! this is how the documented procedure tells which boot image a node really
//! booted. This module owns parsing that log line in every form the MCD has
//! written ([`aleph`]). Pure: it reads text, never a cluster or a file.

pub mod aleph;

pub use aleph::{parse_mcd_log, Aleph, AlephError, AlephFormat, ALEPH_MARKER};
