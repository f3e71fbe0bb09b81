//! The vSphere client of the imperative shell (owns: talking to vCenter's SOAP API at
//! `/sdk` for the few calls importing the RHCOS OVA as a template needs, and the OVA file).
//!
//! No maintained Rust crate speaks the SOAP API vCenter 7 and vcsim serve
//! (`docs/decisions.md`, "vSphere client"), so this is a small typed client of just these
//! calls on `reqwest` (rustls) and `quick-xml`:
//!
//! - `soap`: the transport (envelope, faults, session cookie, login/logout);
//! - `inventory`: inventory paths, properties, tasks, `check_location`, `find_vm`,
//!   `destroy_vm`, `vms_in_folder`;
//! - `import`: `import_template` (CreateImportSpec → ImportVApp → lease upload →
//!   complete → ReconfigVM → MarkAsTemplate; on failure, nothing half-created is left);
//! - `ova`: fetching (cache, resume, sha256) and reading the OVA in place (tar entries);
//! - `xml`: the XML tree of an answer; `error`: `VsphereError`.
//!
//! It must not import `modules/`, `ansible/`, `cli/` or `execute/`. The password lives in
//! a `SecretString` and is written only into the Login request body.

mod error;
mod import;
mod inventory;
pub mod ova;
mod soap;
mod xml;

pub use error::VsphereError;
pub use ova::{fetch_ova, FetchReport, Ova, OvaEntry, OvaError, OvaSource};
pub use soap::Session;

/// The extraConfig key holding the RHCOS build a template was imported from.
pub const BUILD_KEY: &str = "ocp-bootimage.build";

/// How to reach and log in to vCenter.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Host name or address of vCenter (no scheme).
    pub server: String,
    /// HTTPS port (443).
    pub port: u16,
    pub username: String,
    /// Never printed: `SecretString`'s Debug shows no value.
    pub password: secrecy::SecretString,
    /// Check the server's certificate against the system's trust store.
    pub validate_certs: bool,
}

/// Where a template goes (a MachineSet's `workspace`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Datacenter name or path (`DC0` or `/DC0`).
    pub datacenter: String,
    /// Datastore name, or its inventory path (`/DC0/datastore/LocalDS_0`).
    pub datastore: String,
    /// VM folder inventory path (`/DC0/vm/infra`; a relative path is under `/<dc>/vm/`).
    pub folder: String,
    /// Resource pool inventory path (`/DC0/host/DC0_C0/Resources`; a cluster's path means
    /// its root pool; a relative path is under `/<dc>/host/`).
    pub resource_pool: String,
    /// Network name or path the OVF's network is mapped onto; `None` keeps the OVF's.
    pub network: Option<String>,
}

/// One template to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRequest {
    pub location: Location,
    /// The template's name in `location.folder`.
    pub name: String,
    /// The RHCOS build, stored in extraConfig `BUILD_KEY` and the annotation.
    pub build: String,
    /// Thin provisioned disks (else thick).
    pub thin: bool,
}

/// A VM or template as found in vCenter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmInfo {
    /// Its inventory path (`/DC0/vm/infra/name`).
    pub path: String,
    /// Its managed object id (`vm-42`).
    pub moref: String,
    pub is_template: bool,
    /// extraConfig `BUILD_KEY`, when set.
    pub build: Option<String>,
    /// Names of the datastores it is on.
    pub datastores: Vec<String>,
}
