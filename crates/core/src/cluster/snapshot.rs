//! The snapshot: every object the planners read, observed in one pass — the
//! input of every planner. The shell fills it from a live cluster (one LIST per
//! collection kind, one GET per singleton and per user-data secret name) or from a
//! dump; both apply the same [`Selection`], so the planners cannot tell the two apart.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::nodes::NodeObservation;
use super::object::{labels_of, name_of, user_data_secret_of};
use super::selector::LabelSelector;

/// Which MachineSets to look at.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub namespace: String,
    /// Names to keep (empty = all).
    pub names: Vec<String>,
    pub label_selector: Option<LabelSelector>,
    /// User-data secrets to read besides those the selected MachineSets reference and
    /// the installer's four (`stub_ignition`'s `secrets`).
    pub user_data_secrets: Vec<String>,
}

/// The optional reads of a snapshot. MachineSets and Infrastructure are always read;
/// ClusterVersion and MachineConfiguration are read unless a module turns them off (every
/// module's safety checks but `autoscaling`'s need them). Each module reads only what it
/// uses, so a run costs no request it does not need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reads {
    /// The stub Ignition user-data secrets of the MachineSet namespace, each read by
    /// name ([`Snapshot::user_data_secret_names`]); never a LIST of the namespace's
    /// Secrets, which would return the cloud credentials too.
    pub user_data_secrets: bool,
    /// The secret `openshift-machine-config-operator/machine-config-server-tls`.
    pub mcs_certificate: bool,
    /// MachineAutoscalers of the namespace and ClusterAutoscalers.
    pub autoscalers: bool,
    /// The stream ConfigMap `openshift-machine-config-operator/coreos-bootimages`.
    pub stream_configmap: bool,
    /// ClusterVersion `version` (true in [`Reads::ALL`] and [`Reads::MIN`]).
    pub cluster_version: bool,
    /// MachineConfiguration `cluster` (true in [`Reads::ALL`] and [`Reads::MIN`]).
    pub machine_configuration: bool,
    /// The architecture of the control plane: a metadata-only LIST of one node labelled
    /// `node-role.kubernetes.io/master` (`limit=1`; `…/control-plane` when none is),
    /// only when ClusterVersion does not name the architecture (single-arch clusters
    /// never do), there are MachineSets, and nodes are not observed anyway.
    pub control_plane_arch: bool,
    /// The ControlPlaneMachineSet `cluster` of the MachineSet namespace (one GET).
    pub control_plane_machine_set: bool,
}

impl Reads {
    /// Everything (the full audit).
    pub const ALL: Reads = Reads {
        user_data_secrets: true,
        mcs_certificate: true,
        autoscalers: true,
        stream_configmap: true,
        cluster_version: true,
        machine_configuration: true,
        control_plane_arch: true,
        control_plane_machine_set: true,
    };
    /// The reads every module but `autoscaling` starts from: MachineSets, ClusterVersion,
    /// Infrastructure and MachineConfiguration.
    pub const MIN: Reads = Reads {
        user_data_secrets: false,
        mcs_certificate: false,
        autoscalers: false,
        stream_configmap: false,
        cluster_version: true,
        machine_configuration: true,
        control_plane_arch: false,
        control_plane_machine_set: false,
    };

    /// The most API requests a live snapshot with these reads makes when every
    /// user-data secret the MachineSets reference is one of the installer's four (one
    /// more GET for each other name referenced or asked for). The control-plane node LIST
    /// is counted, though it is only sent when ClusterVersion does not name the
    /// architecture (a cluster whose nodes lack the `master` label costs one more).
    pub fn requests(&self) -> usize {
        2 + usize::from(self.cluster_version)
            + usize::from(self.control_plane_arch)
            + usize::from(self.control_plane_machine_set)
            + usize::from(self.machine_configuration)
            + DEFAULT_USER_DATA_SECRETS.len() * usize::from(self.user_data_secrets)
            + usize::from(self.mcs_certificate)
            + 2 * usize::from(self.autoscalers)
            + usize::from(self.stream_configmap)
    }
}

impl Default for Reads {
    fn default() -> Reads {
        Reads::ALL
    }
}

/// The objects one run reads. Secret contents are kept only for the secrets
/// the planners need (user-data secrets and the MCS certificate).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// What was read (parts not read are empty here, and not unreadable).
    pub reads: Reads,
    /// Selected MachineSets, sorted by name.
    pub machinesets: Vec<Value>,
    /// The user-data secrets read, by name. Live: those of
    /// [`Snapshot::user_data_secret_names`] that exist. From a dump: the Secrets of the
    /// MachineSet namespace a MachineSet references or whose name ends in `user-data` or
    /// `user-data-managed`.
    pub user_data_secrets: BTreeMap<String, Value>,
    /// Whether every user-data secret could be read.
    pub secrets_readable: bool,
    /// The user-data secrets whose read failed (403, or an error the retries did not
    /// overcome): name → why (the reason of its [`Unreadable`] entry). Empty with
    /// `secrets_readable` false: none could be read (or they were not read).
    pub unreadable_secrets: BTreeMap<String, String>,
    pub mcs_tls_secret: Option<Value>,
    pub bootimages_configmap: Option<Value>,
    pub cluster_version: Option<Value>,
    pub infrastructure: Option<Value>,
    pub machine_configuration: Option<Value>,
    pub machine_autoscalers: Vec<Value>,
    pub cluster_autoscalers: Vec<Value>,
    /// Things that could not be read (shown as warnings; they make the audit incomplete).
    pub unreadable: Vec<Unreadable>,
    /// Collections read whose kind the API server does not serve (a LIST answered 404):
    /// empty in the snapshot, and not unreadable.
    pub not_served: Vec<SnapshotPart>,
    /// Remarks about what was read (shown as warnings), e.g. a dump with two ClusterVersions.
    pub notes: Vec<String>,
    /// Machines, Nodes, machine-config-daemon pods and their logs, when nodes were
    /// observed (None otherwise).
    pub nodes: Option<NodeObservation>,
    /// The metadata of the control-plane node(s) read for the cluster's architecture
    /// ([`Reads::control_plane_arch`]; empty when not read).
    pub control_plane_nodes: Vec<Value>,
    /// The ControlPlaneMachineSet `cluster` (None: not read, not served, or absent).
    pub control_plane_machine_set: Option<Value>,
}

/// The four secrets an installer creates.
pub const DEFAULT_USER_DATA_SECRETS: [&str; 4] = [
    "master-user-data",
    "master-user-data-managed",
    "worker-user-data",
    "worker-user-data-managed",
];

fn is_user_data_name(name: &str) -> bool {
    name.ends_with("user-data")
        || name.ends_with("user-data-managed")
        || name.contains("user-data-")
}

impl Snapshot {
    /// Keeps the selected MachineSets of `all`, sorted by name (`filter_labels`: apply the
    /// label selector here, as for a dump; a live LIST had the server apply it).
    pub fn select_machinesets(&mut self, all: Vec<Value>, sel: &Selection, filter_labels: bool) {
        let mut sets: Vec<Value> = all
            .into_iter()
            .filter(|ms| sel.names.is_empty() || sel.names.iter().any(|n| n == name_of(ms)))
            .filter(|ms| {
                !filter_labels
                    || sel
                        .label_selector
                        .as_ref()
                        .is_none_or(|s| s.matches(&labels_of(ms)))
            })
            .collect();
        sets.sort_by(|a, b| name_of(a).cmp(name_of(b)));
        self.machinesets = sets;
    }

    /// The user-data secrets a live snapshot reads, each with one GET: those the
    /// selected MachineSets reference, the installer's four and `extra`; sorted, each once
    /// (a cluster has 1–4 whatever the number of MachineSets).
    pub fn user_data_secret_names(&self, extra: &[String]) -> BTreeSet<String> {
        self.machinesets
            .iter()
            .filter_map(user_data_secret_of)
            .chain(DEFAULT_USER_DATA_SECRETS)
            .chain(extra.iter().map(String::as_str))
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Whether the user-data secret `name` is missing from the snapshot because it could
    /// not be read (rather than because it does not exist).
    pub fn user_data_secret_unreadable(&self, name: &str) -> bool {
        !self.secrets_readable
            && (self.unreadable_secrets.is_empty() || self.unreadable_secrets.contains_key(name))
    }

    /// Keeps the user-data secrets of `secrets` (a dump's): those a selected MachineSet
    /// references and those named like the installer's.
    pub fn keep_user_data_secrets(&mut self, secrets: Vec<Value>) {
        let referenced: Vec<String> = self
            .machinesets
            .iter()
            .filter_map(user_data_secret_of)
            .map(str::to_string)
            .collect();
        for s in secrets {
            let name = name_of(&s).to_string();
            if referenced.contains(&name) || is_user_data_name(&name) {
                self.user_data_secrets.insert(name, s);
            }
        }
    }
}

/// A part of the snapshot that the safety checks and the audit depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SnapshotPart {
    UserDataSecrets,
    McsTlsSecret,
    BootimagesConfigMap,
    ClusterVersion,
    Infrastructure,
    MachineConfiguration,
    MachineAutoscalers,
    ClusterAutoscalers,
    ControlPlaneMachineSet,
}

impl SnapshotPart {
    /// How messages name the part.
    pub fn label(self) -> &'static str {
        match self {
            SnapshotPart::UserDataSecrets => "user-data secrets",
            SnapshotPart::McsTlsSecret => "machine-config-server-tls secret",
            SnapshotPart::BootimagesConfigMap => "coreos-bootimages ConfigMap",
            SnapshotPart::ClusterVersion => "ClusterVersion",
            SnapshotPart::Infrastructure => "Infrastructure",
            SnapshotPart::MachineConfiguration => "MachineConfiguration",
            SnapshotPart::MachineAutoscalers => "MachineAutoscalers",
            SnapshotPart::ClusterAutoscalers => "ClusterAutoscalers",
            SnapshotPart::ControlPlaneMachineSet => "ControlPlaneMachineSet",
        }
    }
}

/// A part that could not be read, and why (`{part}: {reason}` in messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub part: SnapshotPart,
    pub reason: String,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.part.label(), self.reason)
    }
}

impl Snapshot {
    /// The parts among `needed` that could not be read.
    pub fn unreadable_of(&self, needed: &[SnapshotPart]) -> Vec<&Unreadable> {
        self.unreadable
            .iter()
            .filter(|u| needed.contains(&u.part))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn machineset(name: &str, secret: &str) -> Value {
        json!({"metadata": {"name": name},
               "spec": {"template": {"spec": {"providerSpec": {"value": {"userDataSecret": {"name": secret}}}}}}})
    }

    #[test]
    fn user_data_secret_names_are_distinct_whatever_the_number_of_machinesets() {
        let snap = Snapshot {
            machinesets: (0..100)
                .map(|i| machineset(&format!("ms-{i}"), ["worker-user-data", "infra-ud"][i % 2]))
                .collect(),
            ..Snapshot::default()
        };
        let names: Vec<String> = snap
            .user_data_secret_names(&["asked".to_string()])
            .into_iter()
            .collect();
        assert_eq!(
            names,
            [
                "asked",
                "infra-ud",
                "master-user-data",
                "master-user-data-managed",
                "worker-user-data",
                "worker-user-data-managed"
            ]
        );
    }

    #[test]
    fn an_unreadable_secret_is_told_from_a_missing_one() {
        let mut snap = Snapshot {
            secrets_readable: true,
            ..Snapshot::default()
        };
        assert!(!snap.user_data_secret_unreadable("a"));
        snap.secrets_readable = false;
        assert!(snap.user_data_secret_unreadable("a"), "none could be read");
        snap.unreadable_secrets
            .insert("b".into(), "forbidden".into());
        assert!(!snap.user_data_secret_unreadable("a"), "only b could not");
        assert!(snap.user_data_secret_unreadable("b"));
    }
}
