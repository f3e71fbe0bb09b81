//! The vSphere client's typed errors (owns: what can go wrong talking to vCenter, in
//! words that name the cause). No message ever holds the password or the session cookie.

use super::ova::OvaError;

/// Why a vSphere call failed.
#[derive(Debug, thiserror::Error)]
pub enum VsphereError {
    /// No answer from the server: the cause says why (refused, DNS, TLS not trusted → `validate_certs`, timeout).
    #[error("vCenter {server} is unreachable: {cause}")]
    Unreachable { server: String, cause: String },
    /// The server answered the login with InvalidLogin.
    #[error("vCenter {server} refused the login of user {username}: wrong user name or password")]
    InvalidLogin { server: String, username: String },
    /// An inventory object the request names does not exist.
    #[error("the {what} {path} does not exist in vCenter")]
    NotFound { what: String, path: String },
    /// The server answered a call with a SOAP fault.
    #[error("vCenter call {call} failed: {fault}: {message}")]
    Fault {
        call: String,
        fault: String,
        message: String,
    },
    /// The import lease (HttpNfcLease) went into error or never became ready.
    #[error("the import lease of {name} failed: {message}")]
    Lease { name: String, message: String },
    /// Uploading a disk of the OVA failed.
    #[error("uploading {file} of the OVA failed: {message}")]
    Upload { file: String, message: String },
    /// A vCenter task ended in error.
    #[error("vCenter task {call} on {object} failed: {message}")]
    Task {
        call: String,
        object: String,
        message: String,
    },
    /// The answer was not what the vSphere API answers (not XML, an element missing).
    #[error("vCenter's answer to {call} is not understood: {detail}")]
    Protocol { call: String, detail: String },
    /// A template or VM of that name is already there.
    #[error("{path} already exists in vCenter")]
    Exists { path: String },
    /// The import failed and removing what it had created failed too: `left` names it.
    #[error(
        "{cause}; removing the half-imported {left} failed too ({cleanup}): delete it by hand"
    )]
    Cleanup {
        cause: Box<VsphereError>,
        left: String,
        cleanup: Box<VsphereError>,
    },
    /// Reading the OVA failed.
    #[error(transparent)]
    Ova(#[from] OvaError),
}

/// Why a request to vCenter (or an OVA download) got no answer
/// ([`crate::transport::cause`], naming vSphere's options).
pub fn transport_cause(err: &(dyn std::error::Error + 'static)) -> String {
    crate::transport::cause(
        err,
        &crate::transport::Hints {
            untrusted: "the server's TLS certificate is not trusted: add the CA that signed it to the \
                system's trust store, or set `vcenter_validate_certs: false` (insecure; it also applies \
                to OVA downloads)",
            dns: "the server's name does not resolve (DNS): check `vcenter_hostname` / the MachineSet's \
                `workspace.server` (or `ova_url`)",
            refused: "connection refused: nothing listens there (wrong host or port, or the server is down)",
            timeout: "no answer in time (a firewall, a proxy, or an overloaded server)",
        },
    )
}
