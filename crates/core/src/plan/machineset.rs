//! One MachineSet's boot image assessment: skip rules first (with reasons),
//! then architecture, target from the stream, current build, and status.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::cluster::ocp_minor;
use crate::cluster::{labels_of, name_of, namespace_of, user_data_secret_of};
use crate::platform::{self, BootImage, Lookup, Platform, Target};
use crate::stream::{Arch, BuildId, Stream};

/// Where a MachineSet's boot image stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The image is the stream's target (or a build at least as new, not newer than the cluster).
    Current,
    /// The image's build is older than the stream's target.
    Outdated,
    /// The image's build is from a newer OpenShift version than the cluster runs.
    NewerThanCluster,
    /// The build of the image or the target cannot be determined (see `reason`).
    Unknown,
    /// Deliberately left alone (owned, Windows, confidential VM, AMI by filter, …; see `reason`).
    Skipped,
}

/// Why a MachineSet was skipped, as the verdict weighs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SkipKind {
    /// Not an RHCOS boot image this tool judges: owned by another object
    /// (ownerReferences) or a Windows MachineSet. Does not make the verdict unknown.
    NotOurs,
    /// An RHCOS MachineSet whose boot image could not be judged (AMI by filters, no
    /// image, confidential VM, architecture unknown, …): makes the verdict unknown.
    Undetermined,
}

/// The audit of one MachineSet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct MachineSetReport {
    pub name: String,
    pub namespace: String,
    /// Platform from the provider spec's kind (`aws`, `gcp`, …).
    pub platform: Option<Platform>,
    /// RPM architecture name (`x86_64`, `aarch64`, `ppc64le`, `s390x`).
    pub architecture: Option<String>,
    /// Region (AWS/GCP/IBM Cloud/PowerVS), location (Azure) or datacenter (vSphere).
    pub region: Option<String>,
    /// The boot image the MachineSet names now (AMI id, GCP image path, Azure URN or
    /// resource id, vSphere template, image name).
    pub current_image: Option<String>,
    /// Build of the current image, when it can be mapped back (stream, known streams, image name).
    pub current_build: Option<String>,
    /// The image the stream names for this platform/region/arch (null when it must be uploaded first).
    pub target_image: Option<String>,
    /// The stream's build for this platform/region/arch.
    pub target_build: Option<String>,
    pub status: Status,
    /// Why the status is not `current` (always set for other statuses).
    pub reason: Option<String>,
    /// With status `skipped`: whether it is not ours to judge (`not_ours`: owned,
    /// Windows) or could not be judged (`undetermined`: makes the verdict unknown).
    pub skip_kind: Option<SkipKind>,
    /// Another controller that manages this MachineSet and would rewrite a change made
    /// here (Hive machine pool, Argo CD application; see `controllers`): the swap leaves
    /// it alone unless `allow_other_controllers`.
    pub managed_by: Option<String>,
    /// For targets that need an image made first: what to do.
    pub action: Option<String>,
    /// `userDataSecret.name` of the provider spec.
    pub user_data_secret: Option<String>,
    /// Whether the Machine Config Operator manages this MachineSet's boot image
    /// (MachineConfiguration/cluster `managedBootImages`): changing it here would fight MCO.
    pub mco_managed: bool,
    /// `spec.replicas`.
    pub replicas: Option<i64>,
    /// The build the MachineSet's youngest node booted, from the `CoreOS aleph version`
    /// its machine-config-daemon logged (only with `nodes: true`; else always null). Null
    /// with `observed_reason` when it cannot be read.
    pub observed_build: Option<String>,
    /// The youngest Machine of the MachineSet (newest `creationTimestamp`).
    pub observed_machine: Option<String>,
    /// The youngest Machine's node.
    pub observed_node: Option<String>,
    /// When the youngest Machine was created (its `creationTimestamp`, RFC 3339): about
    /// when its node first booted from the boot image. (The aleph file's mtime in the log
    /// dates the image's build, not the node, so it is not used.)
    pub observed_at: Option<String>,
    /// Why `observed_build` is null with `nodes: true`: no Machine, a Machine without a
    /// node, no machine-config-daemon pod on the node, a log without the aleph line (rotated
    /// or restarted since the node booted), the log forbidden, …
    pub observed_reason: Option<String>,
    /// The observed build is older than `current_build`: the youngest node booted before
    /// the MachineSet's image last changed. Expected (nodes keep the image they booted).
    pub observed_older_than_image: bool,
    /// The observed build differs from `current_build` and is not older: the youngest node
    /// booted another image than the one the MachineSet names (drift; a warning).
    pub observed_drift: bool,
}

/// What the MachineSet assessment needs besides the MachineSet.
pub struct MachineSetContext<'a> {
    pub cluster_platform: Option<Platform>,
    /// Cluster architecture (None when unknown; `multi` clusters pass None and `multi_arch`).
    pub cluster_arch: Option<Arch>,
    pub multi_arch: bool,
    pub cluster_version: Option<(u32, u32)>,
    /// The stream to take targets from, or why there is none.
    pub stream: Result<&'a Stream, String>,
    pub lookup: Lookup<'a>,
    pub machine_configuration: Option<&'a Value>,
    /// User-data secrets (of those read) holding an Ignition spec 2.x stub, which boot
    /// images of OpenShift 4.6 and later cannot read: name → `ignition.version`.
    pub stubs_needing_migration: BTreeMap<String, String>,
}

const ARCH_ANNOTATION: &str = "capacity.cluster-autoscaler.kubernetes.io/labels";

/// Architecture from the autoscaler capacity annotation (`kubernetes.io/arch=arm64,…`).
pub fn annotated_arch(ms: &Value) -> Option<Result<Arch, String>> {
    let ann = ms
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(ARCH_ANNOTATION))
        .and_then(Value::as_str)?;
    let value = ann
        .split(',')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| k.trim() == "kubernetes.io/arch")
        .map(|(_, v)| v.trim())?;
    Some(
        Arch::parse_any(value)
            .ok_or_else(|| format!("unknown architecture {value:?} in {ARCH_ANNOTATION}")),
    )
}

fn selector_matches(sel: &Value, labels: &BTreeMap<String, String>) -> bool {
    let match_labels_ok = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .is_none_or(|m| {
            m.iter()
                .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str())
        });
    let expressions_ok = sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .is_none_or(|exprs| {
            exprs.iter().all(|e| {
                let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
                let values: Vec<&str> = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|v| v.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let got = labels.get(key).map(String::as_str);
                match e.get("operator").and_then(Value::as_str) {
                    Some("In") => got.is_some_and(|g| values.contains(&g)),
                    Some("NotIn") => got.is_none_or(|g| !values.contains(&g)),
                    Some("Exists") => got.is_some(),
                    Some("DoesNotExist") => got.is_none(),
                    _ => false,
                }
            })
        });
    match_labels_ok && expressions_ok
}

/// Whether MCO manages this MachineSet's boot image, from MachineConfiguration/cluster:
/// `status.managedBootImagesStatus` (what MCO applies, defaults included) over `spec.managedBootImages`.
pub fn mco_managed(mc: Option<&Value>, ms: &Value) -> bool {
    let Some(mc) = mc else { return false };
    let config = mc
        .pointer("/status/managedBootImagesStatus")
        .or_else(|| mc.pointer("/spec/managedBootImages"));
    let Some(managers) = config
        .and_then(|c| c.get("machineManagers"))
        .and_then(Value::as_array)
    else {
        return false;
    };
    let labels = labels_of(ms);
    managers.iter().any(|m| {
        m.get("resource").and_then(Value::as_str) == Some("machinesets")
            && m.get("apiGroup").and_then(Value::as_str) == Some("machine.openshift.io")
            && match m.pointer("/selection/mode").and_then(Value::as_str) {
                Some("All") => true,
                Some("Partial") => m
                    .pointer("/selection/partial/machineResourceSelector")
                    .is_some_and(|sel| selector_matches(sel, &labels)),
                _ => false,
            }
    })
}

fn skip_reason(ms: &Value) -> Option<String> {
    if let Some(owners) = ms
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .filter(|o| !o.is_empty())
    {
        let who: Vec<String> = owners
            .iter()
            .map(|o| {
                format!(
                    "{}/{}",
                    o.get("kind").and_then(Value::as_str).unwrap_or("?"),
                    o.get("name").and_then(Value::as_str).unwrap_or("?")
                )
            })
            .collect();
        return Some(format!("owned by {}; its owner manages it", who.join(", ")));
    }
    let labels = labels_of(ms);
    if labels
        .get("machine.openshift.io/os-id")
        .is_some_and(|v| v.eq_ignore_ascii_case("windows"))
    {
        return Some(
            "Windows MachineSet (machine.openshift.io/os-id: Windows); its image is not RHCOS"
                .into(),
        );
    }
    None
}

struct Assessment {
    status: Status,
    reason: Option<String>,
}

fn status_of(
    current: Option<&BootImage>,
    current_build: Option<&BuildId>,
    target: &Target,
    cluster_version: Option<(u32, u32)>,
) -> Assessment {
    let newer = |b: &BuildId| match (b.ocp_version(), cluster_version) {
        (Some(bv), Some(cv)) => bv > cv,
        _ => false,
    };
    if let Some(b) = current_build {
        if newer(b) {
            let (maj, min) = b.ocp_version().unwrap_or_default();
            let (cmaj, cmin) = cluster_version.unwrap_or_default();
            return Assessment {
                status: Status::NewerThanCluster,
                reason: Some(format!(
                    "build {b} is from OpenShift {maj}.{min}, newer than the cluster ({cmaj}.{cmin}); boot images must not be newer than the cluster"
                )),
            };
        }
    }
    let (target_image, target_build) = match target {
        Target::Image { image, build } => (Some(image), build),
        Target::BuildOnly { build, .. } => (None, build),
        Target::None(why) => {
            return Assessment {
                status: Status::Unknown,
                reason: Some(format!("no target: {why}")),
            }
        }
    };
    if target_image.is_some() && target_image == current {
        return Assessment {
            status: Status::Current,
            reason: None,
        };
    }
    match current_build {
        Some(b) if b >= target_build => Assessment {
            status: Status::Current,
            reason: None,
        },
        Some(b) => Assessment {
            status: Status::Outdated,
            reason: Some(format!("build {b} is older than the stream's {target_build}")),
        },
        None => Assessment {
            status: Status::Unknown,
            reason: Some(format!(
                "the build of {} cannot be determined (not in a known stream and no build id in its name); \
                 map it with `image_builds` or check the nodes' observed build",
                current.map(ToString::to_string).unwrap_or_else(|| "the image".into())
            )),
        },
    }
}

/// Assesses one MachineSet.
pub fn assess(ms: &Value, ctx: &MachineSetContext) -> MachineSetReport {
    let mut report = MachineSetReport {
        name: name_of(ms).to_string(),
        namespace: namespace_of(ms).to_string(),
        platform: None,
        architecture: None,
        region: None,
        current_image: None,
        current_build: None,
        target_image: None,
        target_build: None,
        status: Status::Skipped,
        reason: None,
        skip_kind: None,
        managed_by: super::controllers::managing_controller(ms),
        action: None,
        user_data_secret: user_data_secret_of(ms).map(str::to_string),
        mco_managed: mco_managed(ctx.machine_configuration, ms),
        replicas: ms.pointer("/spec/replicas").and_then(Value::as_i64),
        observed_build: None,
        observed_machine: None,
        observed_node: None,
        observed_at: None,
        observed_reason: None,
        observed_older_than_image: false,
        observed_drift: false,
    };
    let read = match platform::read(ms, ctx.cluster_platform) {
        Ok(r) => r,
        Err(e) => {
            report.status = Status::Unknown;
            report.reason = Some(e.to_string());
            return report;
        }
    };
    report.platform = Some(read.platform);
    report.region = read.region.clone();
    report.current_image = read.image.as_ref().map(ToString::to_string);

    let arch = match annotated_arch(ms) {
        Some(Ok(a)) => Ok(a),
        Some(Err(e)) => Err(e),
        None => match platform::image_arch(&read, &ctx.lookup).or(read.platform.implied_arch()) {
            Some(a) => Ok(a),
            None if ctx.multi_arch => Err(format!(
                "multi-architecture cluster and no kubernetes.io/arch in the {ARCH_ANNOTATION} annotation"
            )),
            None => ctx
                .cluster_arch
                .ok_or_else(|| "the cluster's architecture is unknown; set `architecture`".to_string()),
        },
    };
    report.architecture = arch.as_ref().ok().map(|a| a.as_rpm().to_string());

    let skip = skip_reason(ms)
        .map(|why| (why, SkipKind::NotOurs))
        .or_else(|| read.skip.clone().map(|why| (why, SkipKind::Undetermined)));
    if let Some((why, kind)) = skip {
        report.status = Status::Skipped;
        report.reason = Some(why);
        report.skip_kind = Some(kind);
        return report;
    }
    let arch = match arch {
        Ok(a) => a,
        Err(why) => {
            report.status = Status::Skipped;
            report.reason = Some(why);
            report.skip_kind = Some(SkipKind::Undetermined);
            return report;
        }
    };
    let target = match ctx.stream {
        Ok(stream) => match stream.arch(arch) {
            Ok(arch_stream) => platform::target(&read, arch_stream),
            Err(e) => Target::None(e.to_string()),
        },
        Err(ref why) => Target::None(why.clone()),
    };
    let current_build = platform::current_build(&read, &target, &ctx.lookup);
    report.current_build = current_build.as_ref().map(ToString::to_string);
    match &target {
        Target::Image { image, build } => {
            report.target_image = Some(image.to_string());
            report.target_build = Some(build.to_string());
        }
        Target::BuildOnly { build, how } => {
            report.target_build = Some(build.to_string());
            report.action = Some(how.clone());
        }
        Target::None(_) => {}
    }
    let a = status_of(
        read.image.as_ref(),
        current_build.as_ref(),
        &target,
        ctx.cluster_version,
    );
    report.status = a.status;
    report.reason = a.reason;
    report
}

/// `(major, minor)` of a cluster version string.
pub fn cluster_version_of(v: Option<&str>) -> Option<(u32, u32)> {
    v.and_then(ocp_minor)
}
