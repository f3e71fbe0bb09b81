//! Cluster facts from ClusterVersion and Infrastructure: version, platform,
//! architecture, and whether the cluster is a managed offering (ROSA, ARO,
//! OSD, hosted control planes) that this tool must not change.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::platform::{self, Platform};
use crate::stream::{Arch, BuildId};

/// What the audit knows about the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ClusterInfo {
    /// The newest completed version from ClusterVersion history (else the desired version):
    /// the version boot images must not be newer than.
    pub version: Option<String>,
    /// `status.desired.version` (differs from `version` while an update is in progress).
    pub desired_version: Option<String>,
    /// Infrastructure platform (`aws`, `gcp`, `azure`, `vsphere`, `openstack`, `nutanix`,
    /// `ibmcloud`, `powervs`), or the raw type (`None`, `BareMetal`, …) for others.
    pub platform: Option<String>,
    /// Infrastructure `status.infrastructureName` (the infra id).
    pub infrastructure_name: Option<String>,
    /// The cluster's architecture as an RPM name (`x86_64`, `aarch64`, …), or `multi`.
    pub architecture: Option<String>,
    /// Where `architecture` comes from: `option` (`architecture`), `cluster_version`
    /// (a multi-arch payload, or a ClusterVersion that names it), `control_plane_node`
    /// (the `kubernetes.io/arch` label of a control-plane node: single-arch
    /// ClusterVersions never name it); null when unknown (then x86_64 is assumed, with a
    /// warning).
    pub architecture_source: Option<ArchSource>,
    /// Infrastructure `status.controlPlaneTopology`.
    pub control_plane_topology: Option<String>,
    /// True for ROSA, ARO, OSD and hosted control planes: this tool will not change them.
    pub managed: bool,
    /// Why the cluster counts as managed.
    pub managed_reason: Option<String>,
}

/// Where the cluster's architecture was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArchSource {
    Option,
    ClusterVersion,
    ControlPlaneNode,
}

/// Labels of a control-plane node: every OpenShift 4 control-plane node carries
/// `node-role.kubernetes.io/master` (the `master` MachineConfigPool selects on it);
/// newer ones `node-role.kubernetes.io/control-plane` too.
pub const CONTROL_PLANE_LABELS: [&str; 2] = [
    "node-role.kubernetes.io/master",
    "node-role.kubernetes.io/control-plane",
];
/// The node label naming its architecture (`amd64`, `arm64`, `ppc64le`, `s390x`).
pub const NODE_ARCH_LABEL: &str = "kubernetes.io/arch";

/// Whether a node (its metadata) is a control-plane node.
pub fn is_control_plane_node(node: &Value) -> bool {
    let labels = crate::cluster::labels_of(node);
    CONTROL_PLANE_LABELS.iter().any(|l| labels.contains_key(*l))
}

/// The architecture of the first control-plane node of `nodes` that names a known one.
pub fn control_plane_arch(nodes: &[Value]) -> Option<Arch> {
    nodes
        .iter()
        .filter(|n| is_control_plane_node(n))
        .find_map(|n| Arch::parse_any(crate::cluster::labels_of(n).get(NODE_ARCH_LABEL)?))
}

/// Whether ClusterVersion names the cluster's architecture (else the shell reads one
/// control-plane node's label).
pub fn cluster_version_names_arch(cv: Option<&Value>) -> bool {
    cv.and_then(cluster_arch).is_some()
}

/// [`cluster_info`] of a snapshot: with the architecture of its control-plane nodes when
/// neither the option nor ClusterVersion names it (nodes read for it, or observed with
/// `nodes: true`).
pub fn snapshot_cluster_info(
    snap: &crate::cluster::Snapshot,
    machinesets: &[Value],
    arch_override: Option<Arch>,
) -> ClusterInfo {
    let mut info = cluster_info(
        snap.cluster_version.as_ref(),
        snap.infrastructure.as_ref(),
        machinesets,
        arch_override,
    );
    if info.architecture.is_none() {
        let observed = snap
            .nodes
            .as_ref()
            .and_then(|o| o.nodes.as_ref().ok())
            .map(Vec::as_slice)
            .unwrap_or_default();
        if let Some(a) =
            control_plane_arch(&snap.control_plane_nodes).or_else(|| control_plane_arch(observed))
        {
            info.architecture = Some(a.as_rpm().to_string());
            info.architecture_source = Some(ArchSource::ControlPlaneNode);
        }
    }
    info
}

/// The non-empty string at `pointer` in `v` (shared by the planners of `plan/`).
pub(super) fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `(major, minor)` of an OpenShift version string such as `4.13.0-ec.4`.
pub fn ocp_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn completed_version(cv: &Value) -> Option<String> {
    cv.pointer("/status/history")
        .and_then(Value::as_array)
        .and_then(|h| {
            h.iter()
                .find(|e| e.get("state").and_then(Value::as_str) == Some("Completed"))
        })
        .and_then(|e| text(e, "/version"))
}

/// Architecture from ClusterVersion: `status.desired.architecture`,
/// `spec.desiredUpdate.architecture`, or the ReleaseAccepted message's `architecture="…"`.
fn cluster_arch(cv: &Value) -> Option<String> {
    let explicit = text(cv, "/status/desired/architecture")
        .or_else(|| text(cv, "/spec/desiredUpdate/architecture"));
    let from_message = || {
        cv.pointer("/status/conditions")
            .and_then(Value::as_array)?
            .iter()
            .filter_map(|c| c.get("message").and_then(Value::as_str))
            .find_map(|m| {
                let rest = m.split("architecture=\"").nth(1)?;
                rest.split('"').next().map(str::to_string)
            })
    };
    let raw = explicit.or_else(from_message)?;
    if raw.eq_ignore_ascii_case("multi") {
        return Some("multi".into());
    }
    Arch::parse_any(&raw).map(|a| a.as_rpm().to_string())
}

fn tags(infra: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for pointer in [
        "/status/platformStatus/aws/resourceTags",
        "/spec/platformSpec/aws/resourceTags",
        "/status/platformStatus/gcp/resourceLabels",
        "/status/platformStatus/gcp/resourceTags",
        "/status/platformStatus/azure/resourceTags",
    ] {
        if let Some(list) = infra.pointer(pointer).and_then(Value::as_array) {
            for t in list {
                if let Some(k) = text(t, "/key") {
                    out.push((k, text(t, "/value").unwrap_or_default()));
                }
            }
        }
    }
    out
}

/// Why a cluster is a managed offering, if it is one.
pub fn managed_reason(infra: Option<&Value>, machinesets: &[Value]) -> Option<String> {
    if let Some(infra) = infra {
        if text(infra, "/status/controlPlaneTopology").as_deref() == Some("External") {
            return Some(
                "hosted control plane (Infrastructure controlPlaneTopology: External)".into(),
            );
        }
        if text(infra, "/metadata/labels/hypershift.openshift.io~1managed").as_deref()
            == Some("true")
        {
            return Some(
                "hosted control plane (label hypershift.openshift.io/managed=true)".into(),
            );
        }
        let tags = tags(infra);
        if let Some((_, v)) = tags.iter().find(|(k, _)| k == "red-hat-clustertype") {
            return Some(format!(
                "{} (resource tag red-hat-clustertype={v})",
                v.to_ascii_uppercase()
            ));
        }
        if tags
            .iter()
            .any(|(k, v)| k == "red-hat-managed" && v == "true")
        {
            return Some("ROSA/OSD (resource tag red-hat-managed=true)".into());
        }
        if let Some((k, _)) = tags
            .iter()
            .find(|(k, _)| k.starts_with("api.openshift.com/"))
        {
            return Some(format!(
                "ROSA/OSD (OpenShift Cluster Manager resource tag {k})"
            ));
        }
        if let Some(rg) = text(infra, "/status/platformStatus/azure/resourceGroupName") {
            if rg.starts_with("aro-") {
                return Some(format!("ARO (cluster resource group {rg})"));
            }
        }
    }
    // ARO's own marketplace images carry an OCP-versioned version (`411.86.20221004`);
    // self-managed 4.20+ clusters use the same publisher with RHEL-versioned images.
    for ms in machinesets {
        let Some(spec) = platform::provider_spec(ms) else {
            continue;
        };
        let publisher = spec.pointer("/image/publisher").and_then(Value::as_str);
        let version = spec
            .pointer("/image/version")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if publisher == Some("azureopenshift")
            && BuildId::from_marketplace_version(version).is_ok_and(|b| b.ocp_version().is_some())
        {
            return Some(format!(
                "ARO (MachineSet {} uses the ARO marketplace image azureopenshift, version {version})",
                crate::cluster::name_of(ms)
            ));
        }
    }
    None
}

/// Reads cluster facts. `arch_override` (an option) wins over what ClusterVersion says.
pub fn cluster_info(
    cv: Option<&Value>,
    infra: Option<&Value>,
    machinesets: &[Value],
    arch_override: Option<Arch>,
) -> ClusterInfo {
    let raw_platform = infra.and_then(|i| {
        text(i, "/status/platformStatus/type")
            .or_else(|| text(i, "/status/platform"))
            .or_else(|| text(i, "/spec/platformSpec/type"))
    });
    let platform = raw_platform.as_ref().map(|p| {
        Platform::from_infrastructure_type(p)
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| p.clone())
    });
    let managed_reason = managed_reason(infra, machinesets);
    ClusterInfo {
        version: cv
            .and_then(|cv| completed_version(cv).or_else(|| text(cv, "/status/desired/version"))),
        desired_version: cv.and_then(|cv| text(cv, "/status/desired/version")),
        platform,
        infrastructure_name: infra.and_then(|i| text(i, "/status/infrastructureName")),
        architecture: arch_override
            .map(|a| a.as_rpm().to_string())
            .or_else(|| cv.and_then(cluster_arch)),
        architecture_source: if arch_override.is_some() {
            Some(ArchSource::Option)
        } else {
            cv.and_then(cluster_arch)
                .map(|_| ArchSource::ClusterVersion)
        },
        control_plane_topology: infra.and_then(|i| text(i, "/status/controlPlaneTopology")),
        managed: managed_reason.is_some(),
        managed_reason,
    }
}

/// Whether the cluster is updating, and whether the `coreos-bootimages` ConfigMap belongs
/// to the version it runs: the upgrade gate of every step that changes boot images.
///
/// MCO's boot image controller does nothing until the cluster is stable: the newest
/// ClusterVersion history entry must be `Completed` (`isClusterStable`,
/// `pkg/controller/bootimage/helpers.go`, OCPBUGS-79088). Until June 2026 it also waited for
/// the operator's stamp on the ConfigMap (`MCOVersionHash`, `releaseVersion` equal to its
/// own; removed by MCO commit fa12d23 because the stamp always precedes a completed update).
/// The tool cannot know the running MCO's hash, so it compares the ConfigMap's
/// `releaseVersion` and `MCOReleaseImageVersion` with the cluster's version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct UpdateGate {
    /// An update (or the installation) is in progress: ClusterVersion `Progressing=True`,
    /// the newest history entry not `Completed`, or the desired version not the last
    /// completed one. Boot image steps refuse it unless `allow_progressing`.
    pub update_in_progress: bool,
    /// `status.desired.version`.
    pub desired_version: Option<String>,
    /// The newest `Completed` history entry's version.
    pub last_completed_version: Option<String>,
    /// The ConfigMap's `data.releaseVersion`: the release its stream belongs to.
    pub configmap_release_version: Option<String>,
    /// The ConfigMap's `data.MCOReleaseImageVersion` (the MCO's stamp).
    pub configmap_mco_release_version: Option<String>,
    /// The ConfigMap's `data.MCOVersionHash` (the MCO's stamp; shown, not compared: the
    /// running MCO's hash is not readable here).
    pub configmap_mco_version_hash: Option<String>,
    /// The ConfigMap names another release than the cluster's completed version: its
    /// stream is not (yet) the running release's. Boot image steps refuse it unless
    /// `allow_progressing`.
    pub configmap_stale: bool,
    /// Why the gate is closed (one sentence per cause, naming the versions).
    pub reasons: Vec<String>,
    /// What could not be judged (a placeholder `releaseVersion`, no ClusterVersion).
    pub notes: Vec<String>,
}

impl UpdateGate {
    /// The refusal of a changing step, or None when the gate is open.
    pub fn refusal(&self) -> Option<String> {
        (!self.reasons.is_empty()).then(|| {
            format!(
                "refusing to change boot images while {}; the Machine Config Operator waits \
                 for a completed update too (OCPBUGS-79088). Run again when the update has \
                 completed, or set allow_progressing: true",
                self.reasons.join("; ")
            )
        })
    }
}

/// Whether a `releaseVersion` is a real release rather than the payload placeholder
/// (`0.0.1-snapshot`, left in CI builds) or empty.
fn is_real_release(v: &str) -> bool {
    !v.is_empty() && !v.starts_with("0.0.") && ocp_minor(v).is_some()
}

/// The upgrade gate from ClusterVersion `version` and the `coreos-bootimages` ConfigMap
/// (either may be absent: what cannot be judged is a note, not a closed gate).
pub fn update_gate(cv: Option<&Value>, configmap: Option<&Value>) -> UpdateGate {
    let mut g = UpdateGate::default();
    match cv {
        None => g
            .notes
            .push("ClusterVersion not read: whether an update is in progress is unknown".into()),
        Some(cv) => {
            g.desired_version = text(cv, "/status/desired/version");
            g.last_completed_version = completed_version(cv);
            let progressing = cv
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|cs| {
                    cs.iter()
                        .find(|c| c.get("type").and_then(Value::as_str) == Some("Progressing"))
                })
                .is_some_and(|c| c.get("status").and_then(Value::as_str) == Some("True"));
            let newest_state = cv
                .pointer("/status/history/0/state")
                .and_then(Value::as_str)
                .map(str::to_string);
            let desired = g.desired_version.as_deref().unwrap_or("unknown");
            let completed = g.last_completed_version.as_deref().unwrap_or("none");
            let versions = format!("desired {desired}, last completed {completed}");
            if progressing {
                g.reasons.push(format!(
                    "the cluster is updating (ClusterVersion Progressing=True: {versions})"
                ));
            } else if newest_state.as_deref().is_some_and(|st| st != "Completed") {
                g.reasons.push(format!(
                    "the cluster is updating (the newest ClusterVersion history entry is {}: {versions})",
                    newest_state.as_deref().unwrap_or_default()
                ));
            } else if g.last_completed_version.is_some()
                && g.desired_version.is_some()
                && g.desired_version != g.last_completed_version
            {
                g.reasons.push(format!(
                    "the cluster is updating (ClusterVersion {versions})"
                ));
            } else if g.last_completed_version.is_none() && cv.pointer("/status/history").is_some()
            {
                g.reasons.push(format!(
                    "the cluster has not completed its installation (no Completed ClusterVersion history entry; desired {desired})"
                ));
            }
            g.update_in_progress = !g.reasons.is_empty();
        }
    }
    if let Some(cm) = configmap {
        g.configmap_release_version = text(cm, "/data/releaseVersion");
        g.configmap_mco_release_version = text(cm, "/data/MCOReleaseImageVersion");
        g.configmap_mco_version_hash = text(cm, "/data/MCOVersionHash");
        let running = g.last_completed_version.clone();
        let mut stale = Vec::new();
        for (key, value) in [
            ("releaseVersion", &g.configmap_release_version),
            ("MCOReleaseImageVersion", &g.configmap_mco_release_version),
        ] {
            let (Some(v), Some(running)) = (value, &running) else {
                continue;
            };
            if !is_real_release(v) {
                g.notes.push(format!(
                    "the coreos-bootimages ConfigMap's {key} is {v:?}, not a release: whether it is stale is unknown"
                ));
            } else if v != running {
                stale.push(format!("{key} {v}"));
            }
        }
        if !stale.is_empty() {
            g.configmap_stale = true;
            g.reasons.push(format!(
                "the coreos-bootimages ConfigMap is stale ({}; the cluster runs {})",
                stale.join(", "),
                running.as_deref().unwrap_or_default()
            ));
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(p: &str) -> Value {
        let path =
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/cluster/").to_string() + p;
        let text = std::fs::read_to_string(path).unwrap();
        if p.ends_with(".json") {
            serde_json::from_str(&text).unwrap()
        } else {
            serde_yaml::from_str(&text).unwrap()
        }
    }

    #[test]
    fn rosa_hcp_is_managed() {
        let infra = load("kube-burner-pr286-rosa-hcp-infrastructure-excerpt.yaml");
        let r = managed_reason(Some(&infra), &[]).unwrap();
        assert!(r.contains("hosted control plane"), "{r}");
    }

    #[test]
    fn self_managed_clusters_are_not_managed() {
        for f in [
            "resourcewatch-sno-infrastructure.yaml",
            "resourcewatch-3nodes-gcp-infrastructure.yaml",
            "insights-sample-2020-03-aws-infrastructure.json",
            "oc-example-5.0.0-gcp-infrastructure.yaml",
        ] {
            assert_eq!(managed_reason(Some(&load(f)), &[]), None, "{f}");
        }
    }

    #[test]
    fn versions_and_arch() {
        let cv = load("resourcewatch-3nodes-gcp-okd-clusterversion.yaml");
        let info = cluster_info(
            Some(&cv),
            Some(&load("resourcewatch-3nodes-gcp-infrastructure.yaml")),
            &[],
            None,
        );
        assert_eq!(
            info.version.as_deref(),
            Some("4.12.0-0.okd-2023-03-04-063026")
        );
        assert_eq!(info.architecture.as_deref(), Some("x86_64"));
        assert_eq!(info.platform.as_deref(), Some("gcp"));
        let multi = load("oc-example-to-multi-arch-clusterversion.yaml");
        assert_eq!(
            cluster_info(Some(&multi), None, &[], None)
                .architecture
                .as_deref(),
            Some("multi")
        );
        assert_eq!(ocp_minor("4.13.0-ec.4"), Some((4, 13)));
    }

    #[test]
    fn mid_update_uses_the_completed_version() {
        let cv = load("oc-example-4.16.0-single-node-clusterversion.yaml");
        let info = cluster_info(Some(&cv), None, &[], None);
        let v = info.version.unwrap();
        assert!(v.starts_with("4.16") || v.starts_with("4.1"), "{v}");
    }

    fn cv(progressing: &str, desired: &str, history: &[(&str, &str)]) -> Value {
        let history: Vec<Value> = history
            .iter()
            .map(|(v, st)| serde_json::json!({"version": v, "state": st}))
            .collect();
        serde_json::json!({"status": {
            "conditions": [{"type": "Progressing", "status": progressing}],
            "desired": {"version": desired},
            "history": history}})
    }

    fn cm(release: &str) -> Value {
        serde_json::json!({"data": {"releaseVersion": release, "stream": "{}"}})
    }

    #[test]
    fn the_gate_is_open_on_a_stable_cluster_with_its_own_configmap() {
        let g = update_gate(
            Some(&cv("False", "4.18.1", &[("4.18.1", "Completed")])),
            Some(&cm("4.18.1")),
        );
        assert!(!g.update_in_progress && !g.configmap_stale, "{g:?}");
        assert_eq!(g.refusal(), None);
        let dump = load("oc-example-4.16.0-single-node-clusterversion.yaml");
        let _ = update_gate(Some(&dump), None);
    }

    #[test]
    fn progressing_names_both_versions() {
        // Issue 13: Progressing=True, desired 4.19.2, last completed 4.18.1.
        let g = update_gate(
            Some(&cv(
                "True",
                "4.19.2",
                &[("4.19.2", "Partial"), ("4.18.1", "Completed")],
            )),
            None,
        );
        assert!(g.update_in_progress);
        let r = g.refusal().unwrap();
        assert!(r.contains("4.19.2") && r.contains("4.18.1"), "{r}");
        assert!(r.contains("allow_progressing"), "{r}");
        // Partial newest entry alone (MCO's isClusterStable).
        let g = update_gate(
            Some(&cv(
                "False",
                "4.19.2",
                &[("4.19.2", "Partial"), ("4.18.1", "Completed")],
            )),
            None,
        );
        assert!(g.update_in_progress, "{g:?}");
        // Installing: no Completed entry.
        let g = update_gate(Some(&cv("False", "4.19.2", &[("4.19.2", "Partial")])), None);
        assert!(g.update_in_progress, "{g:?}");
    }

    #[test]
    fn a_configmap_of_another_release_is_stale() {
        let stable = cv(
            "False",
            "4.19.2",
            &[("4.19.2", "Completed"), ("4.18.1", "Completed")],
        );
        let g = update_gate(Some(&stable), Some(&cm("4.18.1")));
        assert!(g.configmap_stale && !g.update_in_progress, "{g:?}");
        let r = g.refusal().unwrap();
        assert!(
            r.contains("releaseVersion 4.18.1") && r.contains("runs 4.19.2"),
            "{r}"
        );
        let mut stamped = cm("4.19.2");
        stamped["data"]["MCOReleaseImageVersion"] = "4.18.1".into();
        stamped["data"]["MCOVersionHash"] = "abc".into();
        let g = update_gate(Some(&stable), Some(&stamped));
        assert!(g.configmap_stale, "{g:?}");
        assert_eq!(g.configmap_mco_version_hash.as_deref(), Some("abc"));
        // The payload placeholder cannot be judged: a note, not a refusal.
        let g = update_gate(Some(&stable), Some(&cm("0.0.1-snapshot")));
        assert!(!g.configmap_stale && g.refusal().is_none(), "{g:?}");
        assert_eq!(g.notes.len(), 1);
    }
}
