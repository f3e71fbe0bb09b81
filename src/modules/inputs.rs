//! The planning inputs every module that assesses MachineSets builds from its option
//! groups: the selection and audit options, the stream metadata (a file, else the
//! cluster's ConfigMap) and the audit input over a snapshot; and the vCenter credentials
//! of `vsphere_template` and `rollback` (the options, or the cluster's
//! `kube-system/vsphere-creds`).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};

use crate::cluster::{resources, LabelSelector, Reads, Selection, Snapshot, SnapshotPart};
use crate::kube::connection::Connection;
use crate::options::{SelectionParams, StreamParams, VsphereParams};
use crate::plan::{AuditInput, AuditOptions, StreamSource};
use crate::stream::{self, Arch, BuildId, Catalog, StreamSet};
use crate::vsphere::Credentials;

/// Parses the selection and audit options shared by the audit and the swap.
pub fn selection_and_options(
    selection: &SelectionParams,
    stream: &StreamParams,
) -> Result<(Selection, AuditOptions)> {
    let label_selector = selection
        .label_selector
        .as_deref()
        .map(LabelSelector::parse)
        .transpose()?;
    let architecture = stream
        .architecture
        .as_deref()
        .map(|a| {
            Arch::parse_any(a).ok_or_else(|| {
                anyhow::anyhow!(
                    "architecture {a:?} is not one of x86_64, aarch64, ppc64le, s390x (or amd64, arm64)"
                )
            })
        })
        .transpose()?;
    let mut image_builds = BTreeMap::new();
    for (image, build) in &stream.image_builds() {
        let b: BuildId = build.parse().map_err(|e| {
            anyhow::anyhow!("image_builds[{image}]: {build:?} is not a build id: {e}")
        })?;
        image_builds.insert(image.clone(), b);
    }
    Ok((
        Selection {
            namespace: selection.namespace().to_string(),
            names: selection.machinesets.clone(),
            label_selector,
            user_data_secrets: Vec::new(),
        },
        AuditOptions {
            os_stream: stream.os_stream.clone(),
            architecture,
            image_builds,
            allow_newer_stream: false,
            not_gathered: BTreeSet::new(),
        },
    ))
}

/// The stream set with its source and path, or why there is none (not an error: the
/// audit still reports everything else).
pub type LoadedStreams = std::result::Result<(StreamSet, StreamSource, Option<String>), String>;

/// Reads the stream metadata: the file when given, else the cluster's ConfigMap;
/// marketplace data is added to either.
pub fn load_streams(params: &StreamParams, snapshot: &Snapshot) -> Result<LoadedStreams> {
    let marketplace = params
        .marketplace_file
        .as_ref()
        .map(|path| {
            crate::stream_file::read_stream_file(path)
                .with_context(|| format!("marketplace_file {}", path.display()))
        })
        .transpose()?;
    let with_marketplace = |mut set: StreamSet| {
        if let Some(m) = &marketplace {
            set.add_marketplace(&m.default);
        }
        set
    };
    if let Some(path) = &params.stream_file {
        let set = crate::stream_file::read_stream_file(path)
            .with_context(|| format!("stream_file {}", path.display()))?;
        return Ok(Ok((
            with_marketplace(set),
            StreamSource::File,
            Some(path.display().to_string()),
        )));
    }
    match &snapshot.bootimages_configmap {
        Some(cm) => Ok(stream::parse::parse_configmap(cm)
            .map(|s| (with_marketplace(s), StreamSource::Configmap, None))
            .map_err(|e| format!("ConfigMap coreos-bootimages: {e}"))),
        None => Ok(Err(
            "no stream metadata: the ConfigMap openshift-machine-config-operator/coreos-bootimages \
             was not found; give `stream_file` (openshift-install coreos print-stream-json)"
                .into(),
        )),
    }
}

/// The audit's input from a snapshot and the streams read for it, now. Shared by every
/// module that assesses MachineSets.
pub fn audit_input<'a>(
    snapshot: &'a Snapshot,
    streams: &'a LoadedStreams,
    options: &'a AuditOptions,
) -> AuditInput<'a> {
    AuditInput {
        snapshot,
        streams: streams
            .as_ref()
            .map(|(s, src, p)| (s, src.clone(), p.clone()))
            .map_err(Clone::clone),
        catalog: Catalog::embedded(),
        options,
        now: std::time::SystemTime::now(),
    }
}

/// What a module that plans MachineSets against the stream reads, and what its safety
/// checks need: the managed-cluster guard (Infrastructure), the cluster version, MCO
/// management (MachineConfiguration), and the stream ConfigMap when no `stream_file` is
/// given. Each module adds its own reads.
pub fn stream_reads(stream: &StreamParams) -> (Reads, Vec<SnapshotPart>) {
    let no_stream_file = stream.stream_file.is_none();
    let mut needed = vec![
        SnapshotPart::Infrastructure,
        SnapshotPart::ClusterVersion,
        SnapshotPart::MachineConfiguration,
    ];
    needed.extend(no_stream_file.then_some(SnapshotPart::BootimagesConfigMap));
    let reads = Reads {
        stream_configmap: no_stream_file,
        ..Reads::MIN
    };
    (reads, needed)
}

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
