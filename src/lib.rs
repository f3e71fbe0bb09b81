//! ocp-bootimage: safe, idempotent OpenShift boot image updates — the imperative shell
//! around the pure core crate `ocp-bootimage-core` (functional core, imperative shell).
//!
//! - The core (re-exported here as `cluster`, `stream`, `platform`, `cert`, `ignition`,
//!   `mcd`, `plan`, `record`) decides; it has no HTTP, runtime or CLI dependency.
//! - `kube`: observing a cluster (HTTP) or a dump directory into a core
//!   [`cluster::Snapshot`], and applying planned changes.
//! - `stream_file`: stream metadata files on disk.
//! - `atomic_file`: writing a file whole or not at all.
//! - `options`: the option groups, declared once for the modules and the CLI;
//!   `execute`: the one executor of every mutating step.
//! - `ansible`: the binary-module protocol (args file in, one JSON object out) and the
//!   module docs; `modules`: one file per Ansible module; `cli`: the human front end.
//! - `vsphere`: the vSphere SOAP client (vCenter, vcsim) and the RHCOS OVA file;
//!   `transport`: why an HTTP request got no answer, shared by `kube` and `vsphere`.
//! - `tls_probe`: which certificate chain a TLS server serves, checked against a CA bundle.
//! - `progress`: progress for people on stderr, off unless the CLI turns it on.

pub use ocp_bootimage_core::{cert, cluster, fleet, ignition, mcd, plan, platform, record, stream};

pub mod ansible;
pub mod atomic_file;
pub mod cli;
#[deny(clippy::too_many_lines)]
pub mod execute;
pub mod kube;
#[deny(clippy::too_many_lines)]
pub mod modules;
pub mod options;
pub mod progress;
pub mod report;
pub mod stream_file;
pub mod tls_probe;
pub mod transport;
pub mod vsphere;
