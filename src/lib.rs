//! ocp-bootimage: safe, idempotent OpenShift boot image updates.
//!
//! Layers (functional core, imperative shell):
//! - `stream`, `platform`, `cert`, `ignition`, `mcd`, `plan`: pure domain code, no I/O.
//! - `kube`: observing a cluster (HTTP) or a dump directory into a [`kube::Snapshot`].
//! - `ansible`: the binary-module protocol (args file in, one JSON object out).
//! - `modules`: one file per Ansible module; `cli`: the human front end.

pub mod ansible;
pub mod cert;
pub mod cli;
pub mod docs;
pub mod ignition;
pub mod kube;
pub mod mcd;
pub mod modules;
pub mod plan;
pub mod platform;
pub mod record;
pub mod stream;
