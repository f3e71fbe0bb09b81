//! The read-only audit behind `bootimage_info`: cluster facts, stream, every
//! selected MachineSet, the user-data secrets, the MCS certificate, the
//! autoscalers and (with nodes observed) what the youngest nodes booted, with a
//! compliance verdict. Pure: the caller passes the snapshot, the stream and the clock.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::cluster::{ocp_minor, snapshot_cluster_info, update_gate, ClusterInfo, UpdateGate};
use super::control_plane::{control_plane_report, ControlPlaneReport};
use super::machineset::{assess, MachineSetContext, MachineSetReport, Status};
use super::observed::{observe_all, ObservedBuildsReport};
use super::os_stream::OsStreams;
use super::skew::{skew_report, SkewReport};
use super::verdict::{unknown_reasons, UnknownFacts, Verdict};
use crate::cert::{self, McsCertificateReport};
use crate::cluster::{name_of, user_data_secret_of, DEFAULT_USER_DATA_SECRETS};
use crate::cluster::{Reads, Snapshot};
use crate::ignition;
use crate::platform::{Lookup, Platform};
use crate::record::RunSummary;
use crate::stream::{Arch, BuildId, Catalog, Stream, StreamSet};

/// Where the stream metadata came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StreamSource {
    /// The `stream_file` option.
    File,
    /// The in-cluster ConfigMap `openshift-machine-config-operator/coreos-bootimages`.
    Configmap,
    /// None could be read.
    None,
}

/// A part of the audit besides the MachineSets, which are always audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// The stub Ignition user-data secrets.
    Stubs,
    /// The machine-config-server certificate.
    Certificate,
    /// ClusterAutoscalers and MachineAutoscalers.
    Autoscaling,
    /// The ControlPlaneMachineSet (reported, not judged).
    ControlPlane,
}

impl Part {
    pub const ALL: [Part; 4] = [
        Part::Stubs,
        Part::Certificate,
        Part::Autoscaling,
        Part::ControlPlane,
    ];

    /// Its name in `gather_subset`.
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Stubs => "stubs",
            Part::Certificate => "certificate",
            Part::Autoscaling => "autoscaling",
            Part::ControlPlane => "control_plane",
        }
    }
}

/// The snapshot reads the audit of these parts needs: the certificate is checked
/// against the stubs' CAs, so it reads the user-data secrets too.
pub fn reads_for(parts: &[Part], stream_file: bool) -> Reads {
    Reads {
        user_data_secrets: parts.contains(&Part::Stubs) || parts.contains(&Part::Certificate),
        mcs_certificate: parts.contains(&Part::Certificate),
        autoscalers: parts.contains(&Part::Autoscaling),
        stream_configmap: !stream_file,
        control_plane_arch: true,
        control_plane_machine_set: parts.contains(&Part::ControlPlane),
        ..Reads::MIN
    }
}

impl AuditOptions {
    /// The parts audited: every part not left out, in [`Part::ALL`] order.
    pub fn gathered(&self) -> Vec<Part> {
        Part::ALL
            .into_iter()
            .filter(|p| !self.not_gathered.contains(p))
            .collect()
    }
}

/// Options of the audit that are not about where to read from.
#[derive(Debug, Clone, Default)]
pub struct AuditOptions {
    /// Parts left out (`gather_subset`); empty = audit everything.
    pub not_gathered: BTreeSet<Part>,
    /// OS stream of a multi-stream source (`rhel-9`, `rhel-10`); None = the default stream.
    pub os_stream: Option<String>,
    /// Overrides the cluster's architecture.
    pub architecture: Option<Arch>,
    /// User-supplied image name → build.
    pub image_builds: BTreeMap<String, BuildId>,
    /// Accept a stream file for a newer OpenShift minor than the cluster.
    pub allow_newer_stream: bool,
}

/// Everything the audit reads.
pub struct AuditInput<'a> {
    pub snapshot: &'a Snapshot,
    /// The stream set and where it came from (`path` for files), or why there is none.
    pub streams: Result<(&'a StreamSet, StreamSource, Option<String>), String>,
    pub catalog: &'a Catalog,
    pub options: &'a AuditOptions,
    pub now: SystemTime,
}

/// The stream used for targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct StreamReport {
    pub source: StreamSource,
    /// The stream file's path when `source` is `file`.
    pub path: Option<String>,
    /// The stream's name (`rhcos-4.18`, …).
    pub name: Option<String>,
    /// The OS stream of MachineSets without the `machineconfiguration.openshift.io/osstream`
    /// label (`os_stream`, else the source's default stream, named by its builds' RHEL major).
    pub os_stream: Option<String>,
    /// Every OS stream the source offers (`rhel-9`, `rhel-10`; a single stream file: the
    /// one of its builds). Each labelled MachineSet takes its target from its own.
    pub available_os_streams: Vec<String>,
    /// Newest release per architecture of each OS stream offered (OS stream → RPM arch → build).
    pub os_stream_releases: BTreeMap<String, BTreeMap<String, String>>,
    /// The ConfigMap's `releaseVersion`.
    pub release_version: Option<String>,
    /// Newest release per architecture (RPM arch name → build id).
    pub releases: BTreeMap<String, String>,
    /// Why there is no stream, when there is none.
    pub error: Option<String>,
}

/// One user-data (stub Ignition) secret. Never any of its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct UserDataSecretReport {
    pub name: String,
    /// Whether the secret exists.
    pub present: bool,
    /// MachineSets that reference it.
    pub referenced_by: Vec<String>,
    /// `ignition.version` of the stub (e.g. `2.2.0`, `3.1.0`).
    pub ignition_version: Option<String>,
    /// True for spec 2.x stubs: new boot images cannot read them.
    pub migration_required: bool,
    /// `merge` (3.x), `append` (2.x) or `replace`.
    pub config_mode: Option<String>,
    /// Number of CA certificates in `ignition.security.tls.certificateAuthorities`.
    pub ca_count: usize,
    /// SHA-256 of the decoded userData (to compare without showing it).
    pub sha256: Option<String>,
    /// Why the content is not a usable Ignition stub (never the content itself).
    pub error: Option<String>,
}

/// The machine-config-server TLS certificate check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct McsCertificateSection {
    /// Whether the secret `openshift-machine-config-operator/machine-config-server-tls` was found.
    pub present: bool,
    /// The certificate's facts (null when absent or unreadable).
    pub certificate: Option<McsCertificateReport>,
    /// Why the certificate could not be checked.
    pub error: Option<String>,
}

/// One MachineAutoscaler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct MachineAutoscalerReport {
    pub name: String,
    pub namespace: String,
    /// `spec.scaleTargetRef.kind` / `.name`.
    pub target_kind: Option<String>,
    pub target_name: Option<String>,
    pub min_replicas: Option<i64>,
    pub max_replicas: Option<i64>,
    /// Whether `autoscaling` paused it (carries the original min/max annotation).
    pub paused: bool,
}

/// Autoscaling that could start nodes while boot images change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct AutoscalingReport {
    /// Whether a ClusterAutoscaler exists.
    pub cluster_autoscaler: bool,
    pub cluster_autoscalers: Vec<String>,
    pub machine_autoscalers: Vec<MachineAutoscalerReport>,
    /// Selected MachineSets with cluster-autoscaler min/max annotations but no MachineAutoscaler.
    pub annotated_without_autoscaler: Vec<String>,
}

/// Counts of MachineSets by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Summary {
    pub total: usize,
    pub current: usize,
    pub outdated: usize,
    pub newer_than_cluster: usize,
    pub unknown: usize,
    pub skipped: usize,
    pub user_data_secrets_needing_migration: usize,
    pub certificate_regeneration_required: bool,
}

/// The whole audit (the return values of `bootimage_info`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct AuditReport {
    /// The parts audited besides the MachineSets (`gather_subset`); the others are left
    /// empty and do not count for `compliant`.
    pub gathered: Vec<Part>,
    pub cluster: ClusterInfo,
    pub stream: StreamReport,
    pub machinesets: Vec<MachineSetReport>,
    pub user_data_secrets: Vec<UserDataSecretReport>,
    pub mcs_certificate: McsCertificateSection,
    pub autoscaling: AutoscalingReport,
    /// What the youngest node of each MachineSet booted (`nodes: true`; else `enabled: false`).
    pub observed_builds: ObservedBuildsReport,
    /// Boot image skew enforcement (MachineConfiguration `cluster`, OpenShift 4.20+): the
    /// mode, the recorded version against MCO's floor, and the oldest boot image in use
    /// (every MachineSet audited, and their youngest nodes with `nodes: true`).
    pub skew_enforcement: SkewReport,
    /// Whether an update is in progress or the `coreos-bootimages` ConfigMap is stale: the
    /// changing modules refuse then (unless `allow_progressing`).
    pub update_gate: UpdateGate,
    /// The ControlPlaneMachineSet `cluster` (null: none; clusters before 4.12, UPI, or
    /// hosted control planes have none). Reported, not counted in the verdict: its
    /// image only matters when a control plane machine is replaced.
    pub control_plane: Option<ControlPlaneReport>,
    pub summary: Summary,
    /// With `last_run: true`: the last run of the rollback record that is not a
    /// rollback's own (what `rollback` restores by default; null: no run, or not asked).
    pub last_run: Option<RunSummary>,
    /// `compliant` (nothing wrong, and everything judged), `not_compliant`
    /// (`noncompliant_reasons`) or `unknown` (nothing found wrong, but `unknown_reasons`).
    pub verdict: Verdict,
    /// True only when `verdict` is `compliant` (kept for playbooks written before the
    /// verdict had three values; an `unknown` verdict is not compliant).
    pub compliant: bool,
    /// One sentence per reason the cluster is not compliant.
    pub noncompliant_reasons: Vec<String>,
    /// One sentence per thing the audit could not judge: no stream metadata, no
    /// ClusterVersion or Infrastructure, parts that could not be read, MachineSets whose
    /// build is unknown or that were skipped without a judgement, no MachineSet at all.
    pub unknown_reasons: Vec<String>,
    /// Things worth a look that do not make the cluster non-compliant.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

fn stream_report(input: &AuditInput, streams: &OsStreams) -> StreamReport {
    let releases_of = |s: &Stream| {
        s.architectures
            .iter()
            .filter_map(|(a, st)| {
                st.artifacts
                    .values()
                    .chain(st.aws_regions.values().map(|r| &r.release))
                    .max()
                    .map(|b| (a.as_rpm().to_string(), b.to_string()))
            })
            .collect::<BTreeMap<_, _>>()
    };
    match &input.streams {
        Ok((set, source, path)) => {
            let (name, releases, error) = match &streams.default {
                Ok(s) => (s.name.clone(), releases_of(s), None),
                Err(e) => (None, BTreeMap::new(), Some(e.clone())),
            };
            StreamReport {
                source: source.clone(),
                path: path.clone(),
                name,
                os_stream: streams.default_name.clone(),
                available_os_streams: streams.names(),
                os_stream_releases: streams
                    .named
                    .iter()
                    .filter_map(|(n, s)| s.as_ref().ok().map(|s| (n.clone(), releases_of(s))))
                    .collect(),
                release_version: set.release_version.clone(),
                releases,
                error,
            }
        }
        Err(e) => StreamReport {
            source: StreamSource::None,
            path: None,
            name: None,
            os_stream: input.options.os_stream.clone(),
            available_os_streams: Vec::new(),
            os_stream_releases: BTreeMap::new(),
            release_version: None,
            releases: BTreeMap::new(),
            error: Some(e.clone()),
        },
    }
}

fn user_data_report(snapshot: &Snapshot) -> Vec<UserDataSecretReport> {
    let mut referenced: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for ms in &snapshot.machinesets {
        if let Some(s) = user_data_secret_of(ms) {
            referenced
                .entry(s.to_string())
                .or_default()
                .push(name_of(ms).to_string());
        }
    }
    for d in DEFAULT_USER_DATA_SECRETS {
        if snapshot.user_data_secrets.contains_key(d) {
            referenced.entry(d.to_string()).or_default();
        }
    }
    referenced
        .into_iter()
        .map(|(name, by)| {
            let mut r = UserDataSecretReport {
                name: name.clone(),
                present: false,
                referenced_by: by,
                ignition_version: None,
                migration_required: false,
                config_mode: None,
                ca_count: 0,
                sha256: None,
                error: None,
            };
            match snapshot.user_data_secrets.get(&name) {
                None if snapshot.user_data_secret_unreadable(&name) => {
                    r.error = Some("secrets could not be read".into())
                }
                None => {
                    r.error = Some(
                        "secret not found: MachineSets that reference it cannot boot new machines"
                            .into(),
                    )
                }
                Some(secret) => {
                    r.present = true;
                    match ignition::decode_secret_user_data(secret) {
                        Err(e) => r.error = Some(e.to_string()),
                        Ok(bytes) => {
                            let i = ignition::inspect_user_data(&bytes);
                            r.ignition_version = i.ignition_version;
                            r.migration_required = i.migration_required;
                            r.config_mode = i.merge_or_append;
                            r.ca_count = i.ca_count;
                            r.sha256 = Some(i.sha256);
                            r.error = i.error;
                        }
                    }
                }
            }
            r
        })
        .collect()
}

/// The user-data secrets of a snapshot that hold a spec 2.x stub (name → version).
fn stubs_needing_migration(snapshot: &Snapshot) -> BTreeMap<String, String> {
    snapshot
        .user_data_secrets
        .iter()
        .filter_map(|(name, secret)| {
            let bytes = ignition::decode_secret_user_data(secret).ok()?;
            let i = ignition::inspect_user_data(&bytes);
            i.migration_required.then(|| {
                (
                    name.clone(),
                    i.ignition_version.unwrap_or_else(|| "2.x".into()),
                )
            })
        })
        .collect()
}

/// The user-data secrets the MachineSets reference that were read for and are missing or
/// unreadable (name → why): a swap cannot check (nor a new machine boot with) such a
/// stub. Empty when the secrets were not read at all (`Reads::user_data_secrets` off).
fn stubs_unusable(snapshot: &Snapshot, machinesets: &[Value]) -> BTreeMap<String, String> {
    if !snapshot.reads.user_data_secrets {
        return BTreeMap::new();
    }
    machinesets
        .iter()
        .filter_map(user_data_secret_of)
        .filter(|name| !snapshot.user_data_secrets.contains_key(*name))
        .map(|name| {
            let why = if snapshot.user_data_secret_unreadable(name) {
                let detail = snapshot
                    .unreadable_secrets
                    .get(name)
                    .map(|w| format!(": {w}"))
                    .unwrap_or_default();
                format!("could not be read{detail}")
            } else {
                "does not exist".to_string()
            };
            (name.to_string(), why)
        })
        .collect()
}

/// CA certificates from the stub secrets: what a new node uses to trust the MCS.
fn stub_cas(snapshot: &Snapshot) -> Vec<Vec<u8>> {
    let mut cas = Vec::new();
    for secret in snapshot.user_data_secrets.values() {
        let Ok(bytes) = ignition::decode_secret_user_data(secret) else {
            continue;
        };
        let Ok(ign) = ignition::parse_ignition(&bytes) else {
            continue;
        };
        for ca in cert::ca_pems_from_ignition(&ign) {
            if !cas.contains(&ca) {
                cas.push(ca);
            }
        }
    }
    cas
}

/// The MCS certificate check of a snapshot (its MCS secret, against the CAs of its
/// stub secrets). Shared with `mcs_cert_info`.
pub fn mcs_section(snapshot: &Snapshot, now: SystemTime) -> McsCertificateSection {
    let Some(secret) = &snapshot.mcs_tls_secret else {
        return McsCertificateSection {
            present: false,
            certificate: None,
            error: Some(
                "secret openshift-machine-config-operator/machine-config-server-tls not found"
                    .into(),
            ),
        };
    };
    let pem = secret
        .pointer("/data/tls.crt")
        .and_then(Value::as_str)
        .map(|b64| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(b64.trim())
        });
    match pem {
        None => McsCertificateSection {
            present: true,
            certificate: None,
            error: Some("the secret has no data.tls.crt".into()),
        },
        Some(Err(_)) => McsCertificateSection {
            present: true,
            certificate: None,
            error: Some("data.tls.crt is not valid base64".into()),
        },
        Some(Ok(pem)) => match cert::analyze_mcs_certificate(&pem, &stub_cas(snapshot), now) {
            Ok(c) => McsCertificateSection {
                present: true,
                certificate: Some(c),
                error: None,
            },
            Err(e) => McsCertificateSection {
                present: true,
                certificate: None,
                error: Some(e.to_string()),
            },
        },
    }
}

/// Annotation `autoscaling` writes with the original min/max.
pub const PAUSED_ANNOTATION: &str = "ocp-bootimage.openshift.io/paused-autoscaling";
const MIN_ANNOTATION: &str = "machine.openshift.io/cluster-api-autoscaler-node-group-min-size";
const MAX_ANNOTATION: &str = "machine.openshift.io/cluster-api-autoscaler-node-group-max-size";

/// The autoscaling facts of a snapshot. Shared with the `autoscaling` module.
pub fn autoscaling_report(snapshot: &Snapshot) -> AutoscalingReport {
    let s = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    let machine_autoscalers: Vec<MachineAutoscalerReport> = snapshot
        .machine_autoscalers
        .iter()
        .map(|ma| MachineAutoscalerReport {
            name: name_of(ma).to_string(),
            namespace: crate::cluster::namespace_of(ma).to_string(),
            target_kind: s(ma, "/spec/scaleTargetRef/kind"),
            target_name: s(ma, "/spec/scaleTargetRef/name"),
            min_replicas: ma.pointer("/spec/minReplicas").and_then(Value::as_i64),
            max_replicas: ma.pointer("/spec/maxReplicas").and_then(Value::as_i64),
            paused: ma
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(PAUSED_ANNOTATION))
                .is_some(),
        })
        .collect();
    let annotated_without_autoscaler = snapshot
        .machinesets
        .iter()
        .filter(|ms| {
            let ann = ms.pointer("/metadata/annotations");
            ann.and_then(|a| a.get(MIN_ANNOTATION).or_else(|| a.get(MAX_ANNOTATION)))
                .is_some()
        })
        .map(|ms| name_of(ms).to_string())
        .filter(|n| {
            !machine_autoscalers
                .iter()
                .any(|m| m.target_name.as_deref() == Some(n.as_str()))
        })
        .collect();
    AutoscalingReport {
        cluster_autoscaler: !snapshot.cluster_autoscalers.is_empty(),
        cluster_autoscalers: snapshot
            .cluster_autoscalers
            .iter()
            .map(|c| name_of(c).to_string())
            .collect(),
        machine_autoscalers,
        annotated_without_autoscaler,
    }
}

/// The context every MachineSet is assessed in: the chosen stream (a stream file
/// for a newer OpenShift minor than the cluster is refused unless
/// `allow_newer_stream`), architecture, version, lookups. Shared by the audit
/// and `machineset_bootimage`. `machinesets` are the ones to assess (the snapshot's, or
/// those a swap took out of it to plan them one by one).
pub fn machineset_context<'a>(
    input: &'a AuditInput,
    cluster: &ClusterInfo,
    machinesets: &[Value],
    warnings: &mut Vec<String>,
) -> MachineSetContext<'a> {
    let snap = input.snapshot;
    let cluster_version = cluster.version.as_deref().and_then(ocp_minor);
    let streams = match &input.streams {
        Ok((set, source, _)) => {
            let check = |s: &'a Stream| -> Result<&'a Stream, String> {
                match (source, s.ocp_version(), cluster_version) {
                    (StreamSource::File, Some(sv), Some(cv))
                        if sv > cv && !input.options.allow_newer_stream =>
                    {
                        Err(format!(
                            "the stream {} is for OpenShift {}.{}, newer than the cluster ({}.{}); use the stream of the cluster's version",
                            s.name.as_deref().unwrap_or("file"),
                            sv.0, sv.1, cv.0, cv.1
                        ))
                    }
                    _ => Ok(s),
                }
            };
            OsStreams::of_set(set, input.options.os_stream.as_deref(), check)
        }
        Err(e) => OsStreams::single(Err(e.clone())),
    };
    if let Err(e) = &streams.default {
        warnings.push(format!("no targets: {e}"));
    }
    let cluster_arch = cluster.architecture.as_deref().and_then(Arch::parse_any);
    if cluster.architecture.is_none() && !machinesets.is_empty() {
        warnings.push(
            "the cluster's architecture is unknown (ClusterVersion does not name it and no control-plane node's kubernetes.io/arch label could be read); assuming x86_64 for MachineSets without an arch annotation; set `architecture`".into(),
        );
    }
    MachineSetContext {
        cluster_platform: cluster
            .platform
            .as_deref()
            .and_then(Platform::from_infrastructure_type),
        cluster_arch: cluster_arch.or(if cluster.architecture.is_none() {
            Some(Arch::X86_64)
        } else {
            None
        }),
        multi_arch: cluster.architecture.as_deref() == Some("multi"),
        cluster_version,
        streams,
        lookup: Lookup {
            catalog: input.catalog,
            image_builds: &input.options.image_builds,
        },
        machine_configuration: snap.machine_configuration.as_ref(),
        infrastructure: snap.infrastructure.as_ref(),
        stubs_needing_migration: stubs_needing_migration(snap),
        stubs_unusable: stubs_unusable(snap, machinesets),
    }
}

/// How many names a grouped message lists before "… and n more".
pub const NAMES_SHOWN: usize = 10;

/// `a, b, c` — at most [`NAMES_SHOWN`] names, then `… and n more`.
pub fn name_list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.into_iter().collect();
    let mut out = names
        .iter()
        .take(NAMES_SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > NAMES_SHOWN {
        out.push_str(&format!(", … and {} more", names.len() - NAMES_SHOWN));
    }
    out
}

/// One warning per skip reason (in first-seen order) rather than one per object: 1,000
/// MachineSets skipped for the same reason make one line, not 1,000.
/// Items: (kind, name, reason).
pub fn skip_warnings<'a>(skips: impl Iterator<Item = (&'a str, &'a str, &'a str)>) -> Vec<String> {
    let mut groups: Vec<(&str, &str, Vec<&str>)> = Vec::new();
    for (kind, name, reason) in skips {
        match groups
            .iter_mut()
            .find(|(k, r, _)| *k == kind && *r == reason)
        {
            Some((_, _, names)) => names.push(name),
            None => groups.push((kind, reason, vec![name])),
        }
    }
    groups
        .into_iter()
        .map(|(kind, reason, names)| match names.as_slice() {
            [one] => format!("skipped {kind} {one}: {reason}"),
            _ => format!(
                "skipped {} {kind}s ({}): {reason}",
                names.len(),
                name_list(names.iter().copied())
            ),
        })
        .collect()
}

/// Runs the audit.
pub fn audit(input: &AuditInput) -> AuditReport {
    let snap = input.snapshot;
    let mut warnings: Vec<String> = snap
        .unreadable
        .iter()
        .map(|u| format!("could not read {u}"))
        .chain(snap.notes.iter().cloned())
        .collect();
    let cluster = snapshot_cluster_info(snap, &snap.machinesets, input.options.architecture);
    let ctx = machineset_context(input, &cluster, &snap.machinesets, &mut warnings);
    let stream = stream_report(input, &ctx.streams);
    let mut machinesets: Vec<MachineSetReport> =
        snap.machinesets.iter().map(|ms| assess(ms, &ctx)).collect();
    let control_plane = snap
        .control_plane_machine_set
        .as_ref()
        .map(|cpms| control_plane_report(cpms, &ctx));
    let observed_builds = match &snap.nodes {
        Some(obs) => observe_all(
            &snap.machinesets,
            &mut machinesets,
            obs,
            ctx.cluster_version,
            &mut warnings,
        ),
        None => ObservedBuildsReport::default(),
    };
    warnings.extend(skip_warnings(
        machinesets
            .iter()
            .filter(|m| m.status == Status::Skipped)
            .map(|m| {
                (
                    "MachineSet",
                    m.name.as_str(),
                    m.reason.as_deref().unwrap_or_default(),
                )
            }),
    ));
    for m in &machinesets {
        if let Some(who) = &m.managed_by {
            warnings.push(format!(
                "MachineSet {} is managed by {who}: a boot image changed here would be rewritten by it; change it there",
                m.name
            ));
        }
        if m.mco_managed && m.status != Status::Skipped {
            warnings.push(format!(
                "MachineSet {} is managed by the Machine Config Operator (managedBootImages); changing its image here would fight MCO",
                m.name
            ));
        }
    }
    let gathered = input.options.gathered();
    let user_data_secrets = if gathered.contains(&Part::Stubs) {
        user_data_report(snap)
    } else {
        Vec::new()
    };
    let mcs_certificate = if gathered.contains(&Part::Certificate) {
        mcs_section(snap, input.now)
    } else {
        McsCertificateSection {
            present: false,
            certificate: None,
            error: Some("not checked (left out by gather_subset)".into()),
        }
    };
    for u in user_data_secrets
        .iter()
        .filter(|s| s.migration_required && s.referenced_by.is_empty())
    {
        warnings.push(format!(
            "secret {} holds a spec {} stub that no selected MachineSet uses; migrate it before a MachineSet uses it",
            u.name,
            u.ignition_version.as_deref().unwrap_or("2.x")
        ));
    }
    let autoscaling = if gathered.contains(&Part::Autoscaling) {
        autoscaling_report(snap)
    } else {
        AutoscalingReport::default()
    };
    for n in &autoscaling.annotated_without_autoscaler {
        warnings.push(format!(
            "MachineSet {n} has cluster-autoscaler min/max annotations but no MachineAutoscaler"
        ));
    }

    let topology = cluster.control_plane_topology.as_deref();
    let skew_enforcement = skew_report(snap.machine_configuration.as_ref(), topology, &machinesets);
    warnings.extend(skew_enforcement.notes.iter().cloned());
    let update_gate = update_gate(
        snap.cluster_version.as_ref(),
        snap.bootimages_configmap.as_ref(),
    );
    warnings.extend(update_gate.reasons.iter().map(|r| {
        format!("{r}: the changing modules refuse until it is over (unless allow_progressing)")
    }));
    warnings.extend(update_gate.notes.iter().cloned());
    let count = |s: Status| machinesets.iter().filter(|m| m.status == s).count();
    let regen = mcs_certificate
        .certificate
        .as_ref()
        .is_some_and(|c| c.regeneration_required);
    let summary = Summary {
        total: machinesets.len(),
        current: count(Status::Current),
        outdated: count(Status::Outdated),
        newer_than_cluster: count(Status::NewerThanCluster),
        unknown: count(Status::Unknown),
        skipped: count(Status::Skipped),
        user_data_secrets_needing_migration: user_data_secrets
            .iter()
            .filter(|s| s.migration_required && !s.referenced_by.is_empty())
            .count(),
        certificate_regeneration_required: regen,
    };
    let mut reasons = Vec::new();
    let names = |s: Status| {
        machinesets
            .iter()
            .filter(|m| m.status == s)
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if summary.outdated > 0 {
        reasons.push(format!(
            "{} outdated MachineSet(s): {}",
            summary.outdated,
            names(Status::Outdated)
        ));
    }
    if summary.newer_than_cluster > 0 {
        reasons.push(format!(
            "{} MachineSet(s) with a boot image newer than the cluster: {}",
            summary.newer_than_cluster,
            names(Status::NewerThanCluster)
        ));
    }
    if summary.user_data_secrets_needing_migration > 0 {
        let n: Vec<&str> = user_data_secrets
            .iter()
            .filter(|s| s.migration_required && !s.referenced_by.is_empty())
            .map(|s| s.name.as_str())
            .collect();
        reasons.push(format!(
            "stub Ignition spec 2.x needs migration: {}",
            n.join(", ")
        ));
    }
    if regen {
        let why = mcs_certificate
            .certificate
            .as_ref()
            .map(|c| c.reasons.join("; "))
            .unwrap_or_default();
        reasons.push(format!(
            "machine-config-server certificate must be regenerated: {why}"
        ));
    }
    reasons.extend(skew_enforcement.reasons.iter().cloned());
    let unknown = unknown_reasons(
        &machinesets,
        &UnknownFacts {
            stream_error: stream.error.as_deref(),
            no_cluster_version: cluster.version.is_none(),
            no_platform: cluster.platform.is_none(),
            // The control plane is reported, not judged: its read failing is a warning.
            unreadable: snap
                .unreadable
                .iter()
                .filter(|u| u.part != crate::cluster::SnapshotPart::ControlPlaneMachineSet)
                .map(ToString::to_string)
                .collect(),
            nodes_observed: snap.nodes.is_some(),
        },
    );
    let verdict = Verdict::of(&reasons, &unknown);
    AuditReport {
        gathered,
        cluster,
        stream,
        machinesets,
        user_data_secrets,
        mcs_certificate,
        autoscaling,
        observed_builds,
        skew_enforcement,
        update_gate,
        control_plane,
        summary,
        last_run: None,
        verdict,
        compliant: verdict == Verdict::Compliant,
        noncompliant_reasons: reasons,
        unknown_reasons: unknown,
        warnings,
    }
}
