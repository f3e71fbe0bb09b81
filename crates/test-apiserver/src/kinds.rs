//! The static table of resource kinds the test server knows, and look-ups into it.

/// How a kind treats its `status` stanza.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusMode {
    /// No status subresource: `status` is an ordinary field.
    Plain,
    /// A `/status` subresource: writes to the main resource keep the stored status, and
    /// status sent on create is dropped (custom resources, pods).
    Subresource,
    /// Like [`StatusMode::Subresource`], but status sent on create is kept (nodes).
    SubresourceKeepOnCreate,
}

/// One served resource kind.
#[derive(Debug)]
pub(crate) struct KindInfo {
    /// API group; empty for the core group.
    pub group: &'static str,
    /// The one served version.
    pub version: &'static str,
    /// `kind` of an object.
    pub kind: &'static str,
    /// Resource name used in URLs.
    pub plural: &'static str,
    /// Lower-case singular name (discovery).
    pub singular: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Status subresource behaviour.
    pub status: StatusMode,
    /// Whether the server maintains `metadata.generation`.
    pub generation: bool,
    /// Field selector labels beyond `metadata.name` and `metadata.namespace`.
    pub field_labels: &'static [&'static str],
    /// Short names (discovery).
    pub short_names: &'static [&'static str],
}

impl KindInfo {
    /// `apiVersion` of objects of this kind (`v1` or `group/version`).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The group-qualified resource (`machinesets.machine.openshift.io`, or `pods`).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Whether this kind is served by a CustomResourceDefinition on a real cluster
    /// (everything outside the core group, in this table).
    pub fn is_custom(&self) -> bool {
        !self.group.is_empty()
    }

    /// Whether the kind has a `/status` subresource.
    pub fn has_status_subresource(&self) -> bool {
        self.status != StatusMode::Plain
    }
}

const fn base(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    namespaced: bool,
) -> KindInfo {
    KindInfo {
        group,
        version,
        kind,
        plural,
        singular,
        namespaced,
        status: StatusMode::Subresource,
        generation: true,
        field_labels: &[],
        short_names: &[],
    }
}

/// Every kind the server serves.
pub(crate) static KINDS: &[KindInfo] = &[
    KindInfo {
        status: StatusMode::SubresourceKeepOnCreate,
        generation: false,
        field_labels: &["status.phase"],
        short_names: &["ns"],
        ..base("", "v1", "Namespace", "namespaces", "namespace", false)
    },
    KindInfo {
        status: StatusMode::Plain,
        generation: false,
        field_labels: &["type"],
        ..base("", "v1", "Secret", "secrets", "secret", true)
    },
    KindInfo {
        status: StatusMode::Plain,
        generation: false,
        short_names: &["cm"],
        ..base("", "v1", "ConfigMap", "configmaps", "configmap", true)
    },
    KindInfo {
        field_labels: &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "status.phase",
            "status.podIP",
        ],
        short_names: &["po"],
        ..base("", "v1", "Pod", "pods", "pod", true)
    },
    KindInfo {
        status: StatusMode::SubresourceKeepOnCreate,
        generation: false,
        field_labels: &["spec.unschedulable"],
        short_names: &["no"],
        ..base("", "v1", "Node", "nodes", "node", false)
    },
    KindInfo {
        status: StatusMode::Plain,
        generation: false,
        ..base(
            "coordination.k8s.io",
            "v1",
            "Lease",
            "leases",
            "lease",
            true,
        )
    },
    KindInfo {
        short_names: &["ms"],
        ..base(
            "machine.openshift.io",
            "v1beta1",
            "MachineSet",
            "machinesets",
            "machineset",
            true,
        )
    },
    KindInfo {
        short_names: &["ma"],
        ..base(
            "machine.openshift.io",
            "v1beta1",
            "Machine",
            "machines",
            "machine",
            true,
        )
    },
    KindInfo {
        short_names: &["cpms"],
        ..base(
            "machine.openshift.io",
            "v1",
            "ControlPlaneMachineSet",
            "controlplanemachinesets",
            "controlplanemachineset",
            true,
        )
    },
    KindInfo {
        short_names: &["ca"],
        ..base(
            "autoscaling.openshift.io",
            "v1",
            "ClusterAutoscaler",
            "clusterautoscalers",
            "clusterautoscaler",
            false,
        )
    },
    KindInfo {
        short_names: &["mapi"],
        ..base(
            "autoscaling.openshift.io",
            "v1beta1",
            "MachineAutoscaler",
            "machineautoscalers",
            "machineautoscaler",
            true,
        )
    },
    base(
        "config.openshift.io",
        "v1",
        "ClusterVersion",
        "clusterversions",
        "clusterversion",
        false,
    ),
    base(
        "config.openshift.io",
        "v1",
        "Infrastructure",
        "infrastructures",
        "infrastructure",
        false,
    ),
    KindInfo {
        short_names: &["co"],
        ..base(
            "config.openshift.io",
            "v1",
            "ClusterOperator",
            "clusteroperators",
            "clusteroperator",
            false,
        )
    },
    base(
        "operator.openshift.io",
        "v1",
        "MachineConfiguration",
        "machineconfigurations",
        "machineconfiguration",
        false,
    ),
    KindInfo {
        short_names: &["mcp"],
        ..base(
            "machineconfiguration.openshift.io",
            "v1",
            "MachineConfigPool",
            "machineconfigpools",
            "machineconfigpool",
            false,
        )
    },
    KindInfo {
        status: StatusMode::Plain,
        short_names: &["mc"],
        ..base(
            "machineconfiguration.openshift.io",
            "v1",
            "MachineConfig",
            "machineconfigs",
            "machineconfig",
            false,
        )
    },
];

/// Splits an `apiVersion` into (group, version).
pub(crate) fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// The kind served at `/apis/{group}/{version}/{plural}` (exact version).
pub(crate) fn by_resource(group: &str, version: &str, plural: &str) -> Option<&'static KindInfo> {
    KINDS
        .iter()
        .find(|k| k.group == group && k.version == version && k.plural == plural)
}

/// The kind of an object by its `apiVersion` and `kind`, matching the group only (any
/// version of a known group maps onto the served version).
pub(crate) fn by_api_version_kind(api_version: &str, kind: &str) -> Option<&'static KindInfo> {
    let (group, _) = split_api_version(api_version);
    KINDS.iter().find(|k| k.group == group && k.kind == kind)
}

/// Every (group, version) pair served, core first, in table order, without repeats.
pub(crate) fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str)> = Vec::new();
    for k in KINDS {
        if !out.contains(&(k.group, k.version)) {
            out.push((k.group, k.version));
        }
    }
    out
}
