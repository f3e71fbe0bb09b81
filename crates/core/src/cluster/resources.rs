//! The Kubernetes kinds this tool reads and writes, with their API coordinates.

/// One kind: group/version/kind and its plural, and whether it is namespaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
}

impl Kind {
    /// `apiVersion` as written in objects (`v1` for the core group).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether the tool reads this kind with one LIST per namespace. The others
    /// (Secrets, ConfigMaps, the singletons) are read by name, one GET each: the
    /// least-privilege RBAC (`deploy/rbac.yaml`) grants them by `resourceNames` only.
    pub fn read_by_list(&self) -> bool {
        matches!(
            self.kind,
            "MachineSet" | "Machine" | "MachineAutoscaler" | "ClusterAutoscaler" | "Node" | "Pod"
        )
    }

    /// `plural.group` as the API server names a resource in messages.
    pub fn resource_name(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

const fn kind(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
) -> Kind {
    Kind {
        group,
        version,
        kind,
        plural,
        namespaced,
    }
}

pub const MACHINE_SET: Kind = kind(
    "machine.openshift.io",
    "v1beta1",
    "MachineSet",
    "machinesets",
    true,
);
pub const MACHINE: Kind = kind(
    "machine.openshift.io",
    "v1beta1",
    "Machine",
    "machines",
    true,
);
pub const CONTROL_PLANE_MACHINE_SET: Kind = kind(
    "machine.openshift.io",
    "v1",
    "ControlPlaneMachineSet",
    "controlplanemachinesets",
    true,
);
pub const SECRET: Kind = kind("", "v1", "Secret", "secrets", true);
pub const CONFIG_MAP: Kind = kind("", "v1", "ConfigMap", "configmaps", true);
pub const NODE: Kind = kind("", "v1", "Node", "nodes", false);
pub const POD: Kind = kind("", "v1", "Pod", "pods", true);
pub const CLUSTER_VERSION: Kind = kind(
    "config.openshift.io",
    "v1",
    "ClusterVersion",
    "clusterversions",
    false,
);
pub const INFRASTRUCTURE: Kind = kind(
    "config.openshift.io",
    "v1",
    "Infrastructure",
    "infrastructures",
    false,
);
pub const MACHINE_CONFIGURATION: Kind = kind(
    "operator.openshift.io",
    "v1",
    "MachineConfiguration",
    "machineconfigurations",
    false,
);
pub const MACHINE_AUTOSCALER: Kind = kind(
    "autoscaling.openshift.io",
    "v1beta1",
    "MachineAutoscaler",
    "machineautoscalers",
    true,
);
pub const CLUSTER_AUTOSCALER: Kind = kind(
    "autoscaling.openshift.io",
    "v1",
    "ClusterAutoscaler",
    "clusterautoscalers",
    false,
);

/// Every kind, for dump loading.
pub const ALL: &[Kind] = &[
    MACHINE_SET,
    MACHINE,
    CONTROL_PLANE_MACHINE_SET,
    SECRET,
    CONFIG_MAP,
    NODE,
    POD,
    CLUSTER_VERSION,
    INFRASTRUCTURE,
    MACHINE_CONFIGURATION,
    MACHINE_AUTOSCALER,
    CLUSTER_AUTOSCALER,
];

/// Namespace of MachineSets, user-data secrets and MachineAutoscalers.
pub const MACHINE_API_NAMESPACE: &str = "openshift-machine-api";
/// Namespace of the MCO objects (`coreos-bootimages`, `machine-config-server-tls`).
pub const MCO_NAMESPACE: &str = "openshift-machine-config-operator";
/// The stream ConfigMap's name.
pub const BOOTIMAGES_CONFIGMAP: &str = "coreos-bootimages";
/// The MCS serving certificate secret's name.
pub const MCS_TLS_SECRET: &str = "machine-config-server-tls";

/// Finds the kind of an object by `kind` name (group-insensitive, as dumps may
/// carry old API versions).
pub fn by_kind(kind_name: &str) -> Option<Kind> {
    ALL.iter().copied().find(|k| k.kind == kind_name)
}
