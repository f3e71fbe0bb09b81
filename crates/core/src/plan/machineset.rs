//! One MachineSet's boot image assessment: skip rules first (with reasons),
//! then architecture, target from the stream, current build, and status.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::cluster::ocp_minor;
use super::os_stream::{self, OsStreams, Pick, MCO_SUPPORTED_OS_STREAM};
use crate::cluster::{labels_of, name_of, namespace_of, user_data_secret_of};
use crate::platform::{self, BootImage, Lookup, Platform, Target};
use crate::stream::{Arch, BuildId};

/// Where a MachineSet's boot image stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
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
    /// Deliberately left alone (owned, Windows, an OS stream the stream metadata does not
    /// offer, Azure security types, a GCP image in the customer's own project, …; see `reason`).
    Skipped,
}

/// Why a MachineSet was skipped, as the verdict weighs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SkipKind {
    /// Not this tool's to judge: owned by another object (ownerReferences), whose
    /// controller manages it. Does not make the verdict unknown.
    NotOurs,
    /// Not an RHCOS MachineSet (Windows): no RHCOS boot image to be late. Does not make
    /// the verdict unknown and does not count for the oldest boot image in use.
    NotRhcos,
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
    /// The OS stream its target comes from: its `machineconfiguration.openshift.io/osstream`
    /// label, else the default (`os_stream`, else the stream metadata's default stream,
    /// named by the RHEL major of its builds: `rhel-9`, `rhel-10`). Null when unknown, and
    /// for Windows MachineSets (no RHCOS stream applies).
    pub os_stream: Option<String>,
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
    /// With status `skipped`: whether it is not ours to judge (`not_ours`: owned;
    /// `not_rhcos`: Windows) or could not be judged (`undetermined`: makes the verdict
    /// unknown).
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
    /// (MachineConfiguration/cluster `managedBootImages` selects it, on a platform and version
    /// where MCO updates boot images, and MCO does not skip it: Windows, an OS stream other
    /// than `rhel-9`): changing it here would fight MCO.
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
    /// The OS streams to take targets from (each MachineSet its own), or why there are none.
    pub streams: OsStreams<'a>,
    pub lookup: Lookup<'a>,
    pub machine_configuration: Option<&'a Value>,
    /// Infrastructure/cluster (Azure Stack Hub's `cloudName`), when read.
    pub infrastructure: Option<&'a Value>,
    /// User-data secrets (of those read) holding an Ignition spec 2.x stub, which boot
    /// images of OpenShift 4.6 and later cannot read: name → `ignition.version`.
    pub stubs_needing_migration: BTreeMap<String, String>,
    /// User-data secrets that were looked for and are missing or could not be read:
    /// name → why. A new boot image cannot be checked against (or boot with) such a stub.
    pub stubs_unusable: BTreeMap<String, String>,
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

/// Whether MCO's boot image controller updates MachineSets on this (Infrastructure)
/// platform at this OpenShift version. Its `checkMachineSet` switches on the platform:
/// AWS and GCP since managed boot images began (4.16–4.19 `reconcileAzure`,
/// `reconcileVSphere`, … only log "unsupported platform"), vSphere from 4.20, Azure from
/// 4.21 (MCO branches release-4.19 1a6905d980, release-4.20 afed09939d, release-4.21
/// db84d8368e, `pkg/controller/bootimage/platform_helpers.go`); every other platform never.
/// An unknown version counts as the newest (the broadest list: never fight MCO by guessing).
pub fn mco_manages_platform(platform: Platform, version: Option<(u32, u32)>) -> bool {
    match platform {
        Platform::Aws | Platform::Gcp => true,
        Platform::Vsphere => version.is_none_or(|v| v >= (4, 20)),
        Platform::Azure => version.is_none_or(|v| v >= (4, 21)),
        Platform::Openstack | Platform::Nutanix | Platform::Ibmcloud | Platform::Powervs => false,
    }
}

/// Whether MCO manages this MachineSet's boot image: MachineConfiguration/cluster
/// selects it (`status.managedBootImagesStatus`, what MCO applies with defaults, over
/// `spec.managedBootImages`), MCO updates boot images on `platform` at `version`
/// ([`mco_manages_platform`]), and MCO does not skip it (Windows, an OS stream label
/// other than `rhel-9`: MCO `ms_helpers.go` `syncMAPIMachineSet`).
pub fn mco_managed(
    mc: Option<&Value>,
    ms: &Value,
    platform: Option<Platform>,
    version: Option<(u32, u32)>,
) -> bool {
    if platform.is_some_and(|p| !mco_manages_platform(p, version))
        || is_windows(ms)
        || os_stream::label_of(ms).is_some_and(|l| l != MCO_SUPPORTED_OS_STREAM)
    {
        return false;
    }
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

fn skip_reason(ms: &Value) -> Option<(String, SkipKind)> {
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
        return Some((
            format!("owned by {}; its owner manages it", who.join(", ")),
            SkipKind::NotOurs,
        ));
    }
    if is_windows(ms) {
        return Some((
            "Windows MachineSet (machine.openshift.io/os-id: Windows); its image is not RHCOS"
                .into(),
            SkipKind::NotRhcos,
        ));
    }
    None
}

const OS_ID_LABEL: &str = "machine.openshift.io/os-id";

/// A Windows MachineSet: `machine.openshift.io/os-id: Windows` on the Machine template's
/// labels (`spec.template.metadata.labels`, where MCO reads it and where the Windows
/// Machine Config Operator's documented MachineSet puts it) or on the MachineSet's own.
pub fn is_windows(ms: &Value) -> bool {
    let template = ms
        .pointer("/spec/template/metadata/labels")
        .and_then(|l| l.get(OS_ID_LABEL))
        .and_then(Value::as_str);
    let own = labels_of(ms).get(OS_ID_LABEL).cloned();
    template
        .into_iter()
        .chain(own.as_deref())
        .any(|v| v.trim().eq_ignore_ascii_case("windows"))
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
        os_stream: None,
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
        mco_managed: false,
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
    report.mco_managed = mco_managed(
        ctx.machine_configuration,
        ms,
        ctx.cluster_platform.or(Some(read.platform)),
        ctx.cluster_version,
    ) && !platform::azure::is_azure_stack(ctx.infrastructure);
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

    let label = os_stream::label_of(ms);
    let pick = ctx.streams.pick(label.as_deref());
    report.os_stream = match &pick {
        Pick::Stream { name, .. } | Pick::NoTarget { name, .. } => name.clone(),
        Pick::Skip { name, .. } => Some(name.clone()),
    };
    let platform_skip = || {
        platform::spec(read.platform).cluster_skip(
            &read,
            arch.as_ref().ok().copied(),
            ctx.infrastructure,
        )
    };
    let stream_skip = || match &pick {
        Pick::Skip { why, .. } => Some(why.clone()),
        _ => None,
    };
    let skip = skip_reason(ms).or_else(|| {
        read.skip
            .clone()
            .or_else(platform_skip)
            .or_else(stream_skip)
            .map(|why| (why, SkipKind::Undetermined))
    });
    if let Some((why, kind)) = skip {
        if kind == SkipKind::NotRhcos {
            // No RHCOS stream applies to a Windows MachineSet.
            report.os_stream = None;
        }
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
    let target = match pick {
        Pick::Stream { stream, .. } => match stream.arch(arch) {
            Ok(arch_stream) => platform::target(&read, arch, arch_stream),
            Err(e) => Target::None(e.to_string()),
        },
        Pick::NoTarget { why, .. } | Pick::Skip { why, .. } => Target::None(why),
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

/// The OS stream and build of `image` for this MachineSet, when it can be known: the OS
/// stream whose target (for the MachineSet's platform, region and architecture) it is,
/// else the OS stream of its build from the catalog, `image_builds` or its name. For an
/// explicit `image`, which must not move a MachineSet across OS streams.
pub fn image_os_stream(
    ms: &Value,
    ctx: &MachineSetContext,
    image: &BootImage,
) -> Option<(Option<String>, Option<BuildId>)> {
    let read = platform::read(ms, ctx.cluster_platform).ok()?;
    let arch = match annotated_arch(ms) {
        Some(a) => a.ok(),
        None => platform::image_arch(&read, &ctx.lookup)
            .or(read.platform.implied_arch())
            .or(ctx.cluster_arch),
    };
    if let Some(arch) = arch {
        for (name, stream) in &ctx.streams.named {
            let Ok(arch_stream) = stream.as_ref().map(|s| s.arch(arch)) else {
                continue;
            };
            let Ok(arch_stream) = arch_stream else {
                continue;
            };
            if let Target::Image { image: t, build } = platform::target(&read, arch, arch_stream) {
                if &t == image {
                    return Some((Some(name.clone()), Some(build)));
                }
            }
        }
    }
    let as_read = platform::ProviderRead {
        image: Some(image.clone()),
        ..read
    };
    let build = platform::current_build(&as_read, &Target::None(String::new()), &ctx.lookup)?;
    Some((os_stream::of_build(&build), Some(build)))
}
