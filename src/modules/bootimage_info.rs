//! `bootimage_info`: the read-only boot image audit (never changes anything).
//!
//! Reads a live cluster (connection options) or a cluster dump (`dump_dir`),
//! takes targets from `stream_file` or the cluster's `coreos-bootimages`
//! ConfigMap, and reports every selected MachineSet, the stub Ignition
//! secrets, the MCS certificate, the autoscalers and a compliance verdict;
//! with `nodes`, also the build each MachineSet's youngest node booted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::{Context, Result};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::ansible::{Module, ModuleContext, ModuleError, ModuleOutcome};
use crate::cluster::{LabelSelector, Selection, Snapshot};
use crate::kube::observe;
use crate::kube::{dump, ConnectionParams};
use crate::plan::audit::reads_for;
use crate::plan::{audit, AuditInput, AuditOptions, AuditReport, Part, StreamSource};
use crate::stream::{self, Arch, BuildId, Catalog, StreamSet};

/// Options of `bootimage_info`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Params {
    #[serde(flatten)]
    pub connection: ConnectionParams,
    /// Read the cluster from a dump directory (YAML/JSON files as `oc get -o yaml` or
    /// `-o json` writes them: single objects, multi-document YAML, `kind: List`, any
    /// layout) instead of the API. Connection options are then ignored.
    #[schemars(extend("x-ansible-type" = "path"))]
    pub dump_dir: Option<PathBuf>,
    /// Stream metadata to take target images from: the output of
    /// `openshift-install coreos print-stream-json`, a legacy pre-4.8 `rhcos.json`, or a
    /// `coreos-bootimages` ConfigMap file. Default: the cluster's ConfigMap
    /// `openshift-machine-config-operator/coreos-bootimages`.
    #[schemars(extend("x-ansible-type" = "path"))]
    pub stream_file: Option<PathBuf>,
    /// Azure marketplace image metadata to add to the stream (the installer's
    /// `marketplace-rhcos.json` / `marketplace/coreos-*.json`), for MachineSets that
    /// use marketplace images when the stream itself lists none.
    #[schemars(extend("x-ansible-type" = "path"))]
    pub marketplace_file: Option<PathBuf>,
    /// OS stream of a multi-stream source (5.0+ ConfigMaps: `rhel-9`, `rhel-10`).
    /// Default: the source's default stream.
    pub os_stream: Option<String>,
    /// Namespace of the MachineSets, user-data secrets and MachineAutoscalers.
    #[serde(default = "super::common::default_namespace")]
    pub namespace: String,
    /// Only these MachineSets (names). Default: all in `namespace`.
    #[serde(default)]
    pub machinesets: Vec<String>,
    /// Only MachineSets matching this label selector (e.g. `machine.openshift.io/cluster-api-machine-role=worker`).
    pub label_selector: Option<String>,
    /// Fail the task when the cluster is not compliant (an outdated or too-new boot image,
    /// a stub Ignition needing migration, or an MCS certificate needing regeneration).
    #[serde(default)]
    pub fail_on_noncompliant: bool,
    /// The cluster's architecture (`x86_64`, `aarch64`, `ppc64le`, `s390x`, or the
    /// Kubernetes names `amd64`, `arm64`), when ClusterVersion does not tell it.
    pub architecture: Option<String>,
    /// Image or template name → build id, for images whose build cannot be read from
    /// the stream or the name (vSphere templates, cluster-local images),
    /// e.g. `{"ocp-cl02-xdqkk-rhcos": "49.84.202110081407-0"}`.
    #[serde(default)]
    pub image_builds: BTreeMap<String, String>,
    /// Also read what each MachineSet's youngest node really booted: the `CoreOS aleph
    /// version` its machine-config-daemon logged (`observed_build`). Costs one LIST each
    /// of Machines, Nodes and machine-config-daemon pods, and one log read (its first
    /// 64 KiB) per MachineSet with a node, 8 at a time; needs `get` on `pods/log` in
    /// `openshift-machine-config-operator` (without it the observed builds are null, with
    /// a warning). Where the image's build cannot be read (vSphere templates,
    /// cluster-local images) the status then comes from the observed build. From a dump,
    /// the logs are files (`pods/<namespace>/<pod>/<container>.log` or `<pod>.log`).
    #[serde(default)]
    pub nodes: bool,
    /// What to audit besides the MachineSets, which are always audited: `stubs` (the stub
    /// Ignition user-data secrets), `certificate` (the machine-config-server certificate,
    /// checked against the stubs' CAs), `autoscaling` (ClusterAutoscalers and
    /// MachineAutoscalers); `all` for the three, `min` for none; `!stubs`, `!certificate`,
    /// `!autoscaling` leave one out (a list of only exclusions starts from `all`, `!all`
    /// from none, as in `ansible.builtin.setup`). Parts left out cost no API request and
    /// do not count for `compliant`; the result's `gathered` lists the parts audited. From
    /// a live cluster the MachineSets alone (`min`) take 5 requests (4 with
    /// `stream_file`), everything 9, whatever the number of MachineSets.
    #[serde(default = "default_gather_subset")]
    pub gather_subset: Vec<GatherSubset>,
}

/// One element of `gather_subset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum GatherSubset {
    #[serde(rename = "all")]
    All,
    #[serde(rename = "min")]
    Min,
    #[serde(rename = "stubs")]
    Stubs,
    #[serde(rename = "certificate")]
    Certificate,
    #[serde(rename = "autoscaling")]
    Autoscaling,
    #[serde(rename = "!all")]
    NotAll,
    #[serde(rename = "!stubs")]
    NotStubs,
    #[serde(rename = "!certificate")]
    NotCertificate,
    #[serde(rename = "!autoscaling")]
    NotAutoscaling,
}

fn default_gather_subset() -> Vec<GatherSubset> {
    vec![GatherSubset::All]
}

/// The parts `gather_subset` selects, as `ansible.builtin.setup` reads it: the named
/// parts (`all` = every part, `min` = none), or every part when only exclusions are
/// given, minus the excluded ones; `!all` means start from none (like `min`).
pub fn gathered_parts(subset: &[GatherSubset]) -> BTreeSet<Part> {
    use GatherSubset as G;
    let part = |g: G| match g {
        G::Stubs | G::NotStubs => Some(Part::Stubs),
        G::Certificate | G::NotCertificate => Some(Part::Certificate),
        G::Autoscaling | G::NotAutoscaling => Some(Part::Autoscaling),
        G::All | G::Min | G::NotAll => None,
    };
    let excluding = |g: &G| {
        matches!(
            g,
            G::NotAll | G::NotStubs | G::NotCertificate | G::NotAutoscaling
        )
    };
    let mut parts: BTreeSet<Part> = if subset.iter().all(excluding) && !subset.contains(&G::NotAll)
    {
        Part::ALL.into_iter().collect()
    } else {
        BTreeSet::new()
    };
    for g in subset.iter().filter(|g| !excluding(g)) {
        match g {
            G::All => parts.extend(Part::ALL),
            other => parts.extend(part(*other)),
        }
    }
    for g in subset.iter().filter(|g| excluding(g)) {
        if let Some(p) = part(*g) {
            parts.remove(&p);
        }
    }
    parts
}

/// The module.
pub struct BootimageInfo;

/// The stream set with its source and path, or why there is none (not an error: the
/// audit still reports everything else).
pub(crate) type LoadedStreams =
    std::result::Result<(StreamSet, StreamSource, Option<String>), String>;

/// Reads the stream metadata: the file when given, else the cluster's ConfigMap;
/// marketplace data is added to either. Shared with `machineset_bootimage`.
pub(crate) fn load_streams(
    stream_file: Option<&PathBuf>,
    marketplace_file: Option<&PathBuf>,
    snapshot: &Snapshot,
) -> Result<LoadedStreams> {
    let marketplace = marketplace_file
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
    if let Some(path) = stream_file {
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
pub(crate) fn audit_input<'a>(
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

/// Observes the cluster or the dump: only what the gathered parts need.
async fn observe(params: &Params, sel: &Selection, options: &AuditOptions) -> Result<Snapshot> {
    let reads = reads_for(&options.gathered(), params.stream_file.is_some());
    match &params.dump_dir {
        Some(dir) => {
            let d = dump::load(dir).with_context(|| format!("dump_dir {}", dir.display()))?;
            Ok(observe::from_dump_observing(&d, sel, reads, params.nodes))
        }
        None => {
            let conn = params.connection.connect().await?;
            observe::from_cluster_observing(&conn, sel, reads, params.nodes).await
        }
    }
}

fn parse_options(params: &Params) -> Result<(Selection, AuditOptions)> {
    let (sel, mut options) = selection_and_options(
        &params.namespace,
        &params.machinesets,
        params.label_selector.as_deref(),
        params.architecture.as_deref(),
        &params.image_builds,
        params.os_stream.clone(),
    )?;
    let gathered = gathered_parts(&params.gather_subset);
    options.not_gathered = Part::ALL
        .into_iter()
        .filter(|p| !gathered.contains(p))
        .collect();
    Ok((sel, options))
}

/// Parses the selection and audit options shared by the audit and the swap.
pub(crate) fn selection_and_options(
    namespace: &str,
    machinesets: &[String],
    label_selector: Option<&str>,
    architecture: Option<&str>,
    builds: &BTreeMap<String, String>,
    os_stream: Option<String>,
) -> Result<(Selection, AuditOptions)> {
    let label_selector = label_selector.map(LabelSelector::parse).transpose()?;
    let architecture = architecture
        .map(|a| {
            Arch::parse_any(a).ok_or_else(|| {
                anyhow::anyhow!(
                    "architecture {a:?} is not one of x86_64, aarch64, ppc64le, s390x (or amd64, arm64)"
                )
            })
        })
        .transpose()?;
    let mut image_builds = BTreeMap::new();
    for (image, build) in builds {
        let b: BuildId = build.parse().map_err(|e| {
            anyhow::anyhow!("image_builds[{image}]: {build:?} is not a build id: {e}")
        })?;
        image_builds.insert(image.clone(), b);
    }
    Ok((
        Selection {
            namespace: namespace.to_string(),
            names: machinesets.to_vec(),
            label_selector,
        },
        AuditOptions {
            os_stream,
            architecture,
            image_builds,
            allow_newer_stream: false,
            not_gathered: BTreeSet::new(),
        },
    ))
}

/// Runs the audit end to end (also used by the CLI).
pub async fn run_audit(params: &Params) -> Result<AuditReport> {
    let (sel, options) = parse_options(params)?;
    let snapshot = observe(params, &sel, &options).await?;
    let streams = load_streams(
        params.stream_file.as_ref(),
        params.marketplace_file.as_ref(),
        &snapshot,
    )?;
    let input = audit_input(&snapshot, &streams, &options);
    let mut report = audit(&input);
    for name in &params.machinesets {
        if !report.machinesets.iter().any(|m| &m.name == name) {
            report.warnings.push(format!(
                "MachineSet {name} not found in namespace {}",
                params.namespace
            ));
        }
    }
    Ok(report)
}

/// The one-line summary used as `msg`.
pub fn summary_line(r: &AuditReport) -> String {
    let s = &r.summary;
    let counts = format!(
        "{} MachineSet(s): {} current, {} outdated, {} newer than cluster, {} unknown, {} skipped",
        s.total, s.current, s.outdated, s.newer_than_cluster, s.unknown, s.skipped
    );
    let left_out: Vec<&str> = Part::ALL
        .into_iter()
        .filter(|p| !r.gathered.contains(p))
        .map(Part::as_str)
        .collect();
    let counts = if left_out.is_empty() {
        counts
    } else {
        format!("{counts}; not checked: {}", left_out.join(", "))
    };
    if r.compliant {
        format!("compliant; {counts}")
    } else {
        format!(
            "not compliant: {}; {counts}",
            r.noncompliant_reasons.join("; ")
        )
    }
}

impl Module for BootimageInfo {
    const NAME: &'static str = "bootimage_info";
    const SHORT_DESCRIPTION: &'static str =
        "Audit the boot images of an OpenShift cluster's MachineSets (read-only)";
    const DESCRIPTION: &'static str = r#"
Read-only audit of an OpenShift cluster's boot images: for every selected MachineSet the
image it boots from, its build, the image the stream metadata names for its platform,
region and architecture, and a status (`current`, `outdated`, `newer_than_cluster`,
`unknown`, `skipped` with a reason). Also the stub Ignition secrets (spec 2.x needs
migration), the machine-config-server certificate (no SAN or expired needs regeneration),
the autoscalers, whether the cluster is a managed offering, and a compliance verdict.

With `nodes`, also what each MachineSet's youngest node really booted (`observed_build`),
read from the `CoreOS aleph version` line its machine-config-daemon logged at start: where
the image's build cannot be read from the image (vSphere templates, cluster-local GCP and
Azure images) the status comes from it, nodes that booted before the image last changed
are listed (`observed_builds.older_than_image`), and a youngest node that booted another,
not older build than the image names is drift (a warning).

Reads a live cluster (one LIST per kind, never a GET per MachineSet; with `nodes`, one
bounded log read per MachineSet, 8 at a time) or a cluster dump (`dump_dir`, pod logs as
`.log` files). Never changes anything: `changed` is always false. With
`fail_on_noncompliant` the task fails with a one-line `msg` naming what is wrong, which is
how a check-mode compliance job fails. No secret content is ever returned.
"#;
    const EXAMPLES: &'static str = r#"
- name: Audit boot images of the cluster in K8S_AUTH_* / KUBECONFIG
  ocp.bootimage.bootimage_info:
  register: audit

- name: Compliance gate (fails the play when not compliant)
  ocp.bootimage.bootimage_info:
    kubeconfig: /home/ops/.kube/config
    context: admin
    fail_on_noncompliant: true

- name: Audit with the builds the youngest nodes really booted (vSphere templates)
  ocp.bootimage.bootimage_info:
    nodes: true
  register: audit

- name: Only the boot images of the MachineSets (5 API requests, whatever their number)
  ocp.bootimage.bootimage_info:
    gather_subset: [min]

- name: Everything but the certificate
  ocp.bootimage.bootimage_info:
    gather_subset: ['!certificate']

- name: Audit a cluster dump against the stream of the installer in use
  ocp.bootimage.bootimage_info:
    dump_dir: /srv/dumps/prod-cluster
    stream_file: /srv/streams/rhcos-4.18.json
    label_selector: machine.openshift.io/cluster-api-machine-role=worker
"#;
    type Params = Params;
    type Output = AuditReport;

    async fn run(
        params: Params,
        _ctx: &ModuleContext,
    ) -> Result<ModuleOutcome<AuditReport>, ModuleError> {
        let mut report = run_audit(&params).await?;
        let warnings = std::mem::take(&mut report.warnings);
        Ok(ModuleOutcome {
            changed: false,
            failed: params.fail_on_noncompliant && !report.compliant,
            msg: summary_line(&report),
            warnings,
            diff: Vec::new(),
            output: report,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use GatherSubset as G;

    fn parts(s: &[G]) -> Vec<Part> {
        gathered_parts(s).into_iter().collect()
    }

    #[test]
    fn gather_subset_reads_like_setup() {
        let all = vec![Part::Stubs, Part::Certificate, Part::Autoscaling];
        assert_eq!(parts(&[G::All]), all);
        assert_eq!(parts(&[]), all);
        assert_eq!(parts(&[G::Min]), vec![]);
        assert_eq!(parts(&[G::NotAll]), vec![]);
        assert_eq!(parts(&[G::Stubs]), vec![Part::Stubs]);
        assert_eq!(
            parts(&[G::NotCertificate]),
            vec![Part::Stubs, Part::Autoscaling]
        );
        assert_eq!(
            parts(&[G::All, G::NotAutoscaling]),
            vec![Part::Stubs, Part::Certificate]
        );
        assert_eq!(parts(&[G::Min, G::Autoscaling]), vec![Part::Autoscaling]);
        assert_eq!(parts(&[G::Stubs, G::NotStubs]), vec![]);
        assert_eq!(parts(&[G::NotAll, G::Stubs]), vec![Part::Stubs]);
        assert_eq!(parts(&[G::NotAll, G::NotStubs]), vec![]);
    }

    #[test]
    fn each_part_reads_only_what_it_needs() {
        use crate::plan::audit::reads_for;
        let set = |p: &[Part]| p.to_vec();
        assert_eq!(reads_for(&set(&[]), false).requests(), 5);
        assert_eq!(reads_for(&set(&[]), true).requests(), 4);
        assert_eq!(reads_for(&set(&[Part::Stubs]), false).requests(), 6);
        // The certificate is checked against the stubs' CAs.
        assert!(reads_for(&set(&[Part::Certificate]), false).user_data_secrets);
        assert_eq!(reads_for(&set(&Part::ALL), false).requests(), 9);
    }
}
