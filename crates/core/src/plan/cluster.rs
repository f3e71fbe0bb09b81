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

fn s(v: &Value, pointer: &str) -> Option<String> {
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
        .and_then(|e| s(e, "/version"))
}

/// Architecture from ClusterVersion: `status.desired.architecture`,
/// `spec.desiredUpdate.architecture`, or the ReleaseAccepted message's `architecture="…"`.
fn cluster_arch(cv: &Value) -> Option<String> {
    let explicit =
        s(cv, "/status/desired/architecture").or_else(|| s(cv, "/spec/desiredUpdate/architecture"));
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
                if let Some(k) = s(t, "/key") {
                    out.push((k, s(t, "/value").unwrap_or_default()));
                }
            }
        }
    }
    out
}

/// Why a cluster is a managed offering, if it is one.
pub fn managed_reason(infra: Option<&Value>, machinesets: &[Value]) -> Option<String> {
    if let Some(infra) = infra {
        if s(infra, "/status/controlPlaneTopology").as_deref() == Some("External") {
            return Some(
                "hosted control plane (Infrastructure controlPlaneTopology: External)".into(),
            );
        }
        if s(infra, "/metadata/labels/hypershift.openshift.io~1managed").as_deref() == Some("true")
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
        if let Some(rg) = s(infra, "/status/platformStatus/azure/resourceGroupName") {
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
        s(i, "/status/platformStatus/type")
            .or_else(|| s(i, "/status/platform"))
            .or_else(|| s(i, "/spec/platformSpec/type"))
    });
    let platform = raw_platform.as_ref().map(|p| {
        Platform::from_infrastructure_type(p)
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| p.clone())
    });
    let managed_reason = managed_reason(infra, machinesets);
    ClusterInfo {
        version: cv
            .and_then(|cv| completed_version(cv).or_else(|| s(cv, "/status/desired/version"))),
        desired_version: cv.and_then(|cv| s(cv, "/status/desired/version")),
        platform,
        infrastructure_name: infra.and_then(|i| s(i, "/status/infrastructureName")),
        architecture: arch_override
            .map(|a| a.as_rpm().to_string())
            .or_else(|| cv.and_then(cluster_arch)),
        architecture_source: if arch_override.is_some() {
            Some(ArchSource::Option)
        } else {
            cv.and_then(cluster_arch)
                .map(|_| ArchSource::ClusterVersion)
        },
        control_plane_topology: infra.and_then(|i| s(i, "/status/controlPlaneTopology")),
        managed: managed_reason.is_some(),
        managed_reason,
    }
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
}
