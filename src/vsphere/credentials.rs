//! vCenter credentials the way vSphere Ansible users pass them: the options
//! (`vcenter_username`/`username`, `vcenter_password`/`password`, or `VMWARE_USER` /
//! `VMWARE_PASSWORD`), else — when asked — the installer's Secret
//! `kube-system/vsphere-creds` (keys `<server>.username`, `<server>.password`).

use anyhow::{Context, Result};

use super::Credentials;
use crate::cluster::resources;
use crate::kube::connection::Connection;
use crate::options::VsphereParams;

/// The Secret the installer leaves vCenter credentials in.
const CREDS_NAMESPACE: &str = "kube-system";
const CREDS_SECRET: &str = "vsphere-creds";

/// The credentials for `server`: the options (or `VMWARE_*`), else — when
/// `vcenter_credentials_from_cluster` — `kube-system/vsphere-creds`
/// (`<server>.username`, `<server>.password`).
pub async fn credentials_for(
    p: &VsphereParams,
    server: &str,
    conn: &Connection,
) -> Result<Credentials> {
    let mut username = p.vcenter_username.clone();
    let mut password = p.vcenter_password.clone();
    if (username.is_none() || password.is_none()) && p.vcenter_credentials_from_cluster {
        let secret = crate::kube::client::get(
            conn,
            resources::SECRET,
            Some(CREDS_NAMESPACE),
            CREDS_SECRET,
        )
        .await
        .with_context(|| {
            format!("reading {CREDS_NAMESPACE}/{CREDS_SECRET} (vcenter_credentials_from_cluster)")
        })?
        .with_context(|| {
            format!("no Secret {CREDS_NAMESPACE}/{CREDS_SECRET} (vcenter_credentials_from_cluster)")
        })?;
        let key = |k: &str| -> Option<String> {
            use base64::Engine as _;
            let b64 = secret
                .pointer(&format!(
                    "/data/{}",
                    k.replace('~', "~0").replace('/', "~1")
                ))?
                .as_str()?;
            let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
            String::from_utf8(bytes).ok().map(|s| s.trim().to_string())
        };
        username = username.or_else(|| key(&format!("{server}.username")));
        password = password.or_else(|| key(&format!("{server}.password")));
        if username.is_none() || password.is_none() {
            anyhow::bail!(
                "{CREDS_NAMESPACE}/{CREDS_SECRET} has no {server}.username / {server}.password"
            );
        }
    }
    let (Some(username), Some(password)) = (username, password) else {
        anyhow::bail!(
            "no credentials for vCenter {server}: give vcenter_username and vcenter_password \
             (or VMWARE_USER / VMWARE_PASSWORD), or vcenter_credentials_from_cluster: true"
        );
    };
    Ok(Credentials {
        server: server.to_string(),
        port: p.vcenter_port.unwrap_or(443),
        username,
        password: password.into(),
        validate_certs: p.vcenter_validate_certs.unwrap_or(true),
    })
}
