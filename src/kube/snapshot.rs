//! The snapshot: every object the planners read, observed in one pass.
//!
//! From a live cluster: one LIST per collection kind (MachineSets with the
//! label selector applied by the server, Secrets of the MachineSet namespace,
//! MachineAutoscalers, ClusterAutoscalers) and one GET per singleton
//! (ClusterVersion, Infrastructure, MachineConfiguration, the stream ConfigMap,
//! the MCS certificate secret), all concurrently. From a dump: the same
//! objects picked out of the files. Both apply the same selection, so the
//! planners cannot tell the two apart.
//!
//! When nodes are observed too (`bootimage_info`'s `nodes: true`), Machines, Nodes and
//! machine-config-daemon pods are LISTed alongside, then the needed daemon logs are
//! read, bounded ([`super::nodes`]).

use std::collections::BTreeMap;

use anyhow::Result;
use kube::api::ListParams;
use serde_json::Value;

use super::client::{get, list};
use super::connection::Connection;
use super::dump::Dump;
use super::nodes::{self, NodeObservation};
use super::resources::{self, Kind};
use super::selector::LabelSelector;

/// Which MachineSets to look at.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub namespace: String,
    /// Names to keep (empty = all).
    pub names: Vec<String>,
    pub label_selector: Option<LabelSelector>,
}

/// The optional reads of a snapshot. MachineSets, ClusterVersion, Infrastructure and
/// MachineConfiguration are always read: every module's safety checks need them. Each
/// module reads only what it uses, so a run costs no request it does not need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reads {
    /// The Secrets of the MachineSet namespace (stub Ignition user-data secrets).
    pub user_data_secrets: bool,
    /// The secret `openshift-machine-config-operator/machine-config-server-tls`.
    pub mcs_certificate: bool,
    /// MachineAutoscalers of the namespace and ClusterAutoscalers.
    pub autoscalers: bool,
    /// The stream ConfigMap `openshift-machine-config-operator/coreos-bootimages`.
    pub stream_configmap: bool,
}

impl Reads {
    /// Everything (the full audit).
    pub const ALL: Reads = Reads {
        user_data_secrets: true,
        mcs_certificate: true,
        autoscalers: true,
        stream_configmap: true,
    };
    /// Only the objects that are always read.
    pub const MIN: Reads = Reads {
        user_data_secrets: false,
        mcs_certificate: false,
        autoscalers: false,
        stream_configmap: false,
    };

    /// The number of API requests a live snapshot with these reads makes.
    pub fn requests(&self) -> usize {
        4 + usize::from(self.user_data_secrets)
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
    /// Secrets of the MachineSet namespace whose name ends in `user-data` or
    /// `user-data-managed`, or that a MachineSet references; by name.
    pub user_data_secrets: BTreeMap<String, Value>,
    /// Whether the Secrets of the namespace could be read.
    pub secrets_readable: bool,
    pub mcs_tls_secret: Option<Value>,
    pub bootimages_configmap: Option<Value>,
    pub cluster_version: Option<Value>,
    pub infrastructure: Option<Value>,
    pub machine_configuration: Option<Value>,
    pub machine_autoscalers: Vec<Value>,
    pub cluster_autoscalers: Vec<Value>,
    /// Things that could not be read (shown as warnings; they make the audit incomplete).
    pub unreadable: Vec<String>,
    /// Remarks about what was read (shown as warnings), e.g. a dump with two ClusterVersions.
    pub notes: Vec<String>,
    /// Machines, Nodes, machine-config-daemon pods and their logs, when nodes were
    /// observed (None otherwise).
    pub nodes: Option<NodeObservation>,
}

/// Labels of an object as a map.
pub fn labels_of(obj: &Value) -> BTreeMap<String, String> {
    obj.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `metadata.name` or "".
pub fn name_of(obj: &Value) -> &str {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `metadata.namespace` or "".
pub fn namespace_of(obj: &Value) -> &str {
    obj.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The user-data secret a MachineSet references, if any.
pub fn user_data_secret_of(ms: &Value) -> Option<&str> {
    ms.pointer("/spec/template/spec/providerSpec/value/userDataSecret/name")
        .and_then(Value::as_str)
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
    fn select_machinesets(&mut self, all: Vec<Value>, sel: &Selection, filter_labels: bool) {
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

    fn keep_user_data_secrets(&mut self, secrets: Vec<Value>) {
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

    /// Builds a snapshot from a loaded dump.
    pub fn from_dump(dump: &Dump, sel: &Selection, reads: Reads) -> Snapshot {
        Snapshot::from_dump_observing(dump, sel, reads, false)
    }

    /// Builds a snapshot from a loaded dump; with `nodes`, also its Machines, Nodes,
    /// machine-config-daemon pods and the log files of the pods the MachineSets need.
    pub fn from_dump_observing(
        dump: &Dump,
        sel: &Selection,
        reads: Reads,
        nodes: bool,
    ) -> Snapshot {
        let of_kind = |k: Kind, ns: Option<&str>| -> Vec<Value> {
            dump.objects
                .iter()
                .filter(|o| o.kind == k)
                .filter(|o| {
                    ns.is_none_or(|ns| {
                        let got = namespace_of(&o.object);
                        got == ns || got.is_empty()
                    })
                })
                .map(|o| o.object.clone())
                .collect()
        };
        let single = |k: Kind, ns: Option<&str>, name: &str| -> Option<Value> {
            of_kind(k, ns).into_iter().find(|o| name_of(o) == name)
        };
        let mut snap = Snapshot {
            reads,
            secrets_readable: true,
            ..Snapshot::default()
        };
        snap.select_machinesets(
            of_kind(resources::MACHINE_SET, Some(&sel.namespace)),
            sel,
            true,
        );
        if reads.user_data_secrets {
            snap.keep_user_data_secrets(of_kind(resources::SECRET, Some(&sel.namespace)));
        }
        if reads.mcs_certificate {
            snap.mcs_tls_secret = single(
                resources::SECRET,
                Some(resources::MCO_NAMESPACE),
                resources::MCS_TLS_SECRET,
            );
        }
        if reads.stream_configmap {
            snap.bootimages_configmap = single(
                resources::CONFIG_MAP,
                Some(resources::MCO_NAMESPACE),
                resources::BOOTIMAGES_CONFIGMAP,
            );
        }
        // Insights archives keep ClusterVersion/Infrastructure under other names; take the
        // canonical name first, else the only one.
        let mut notes = Vec::new();
        let mut singleton = |k: Kind, name: &str| {
            let all = of_kind(k, None);
            if all.len() > 1 {
                notes.push(format!(
                    "the dump holds {} {} objects; using the one named {name:?} (or the first)",
                    all.len(),
                    k.kind
                ));
            }
            let named = all.iter().position(|o| name_of(o) == name).unwrap_or(0);
            all.into_iter().nth(named)
        };
        snap.cluster_version = singleton(resources::CLUSTER_VERSION, "version");
        snap.infrastructure = singleton(resources::INFRASTRUCTURE, "cluster");
        snap.machine_configuration = singleton(resources::MACHINE_CONFIGURATION, "cluster");
        snap.notes = notes;
        if reads.autoscalers {
            snap.machine_autoscalers = of_kind(resources::MACHINE_AUTOSCALER, Some(&sel.namespace));
            snap.cluster_autoscalers = of_kind(resources::CLUSTER_AUTOSCALER, None);
        }
        if nodes {
            snap.nodes = Some(nodes::from_dump(dump, &sel.namespace, &snap.machinesets));
        }
        snap
    }

    /// Observes a live cluster: [`Reads::requests`] requests (at most 4 LISTs and 5
    /// GETs), concurrently.
    pub async fn from_cluster(
        conn: &Connection,
        sel: &Selection,
        reads: Reads,
    ) -> Result<Snapshot> {
        Snapshot::from_cluster_observing(conn, sel, reads, false).await
    }

    /// Observes a live cluster; with `nodes`, also LISTs Machines, Nodes and
    /// machine-config-daemon pods (concurrently with the other reads), then reads the
    /// start of the daemon log of the pod on each selected MachineSet's youngest
    /// Machine's node, at most [`nodes::LOG_CONCURRENCY`] at a time.
    pub async fn from_cluster_observing(
        conn: &Connection,
        sel: &Selection,
        reads: Reads,
        nodes: bool,
    ) -> Result<Snapshot> {
        let node_lists = async {
            if nodes {
                Some(nodes::list_objects(conn, &sel.namespace).await)
            } else {
                None
            }
        };
        let (snap, node_lists) = tokio::join!(Snapshot::read_cluster(conn, sel, reads), node_lists);
        let mut snap = snap?;
        if let Some(mut obs) = node_lists {
            let pods = nodes::pods_to_read(&snap.machinesets, &obs);
            obs.logs = nodes::read_logs(conn, pods).await;
            snap.nodes = Some(obs);
        }
        Ok(snap)
    }

    /// The reads of a live snapshot, concurrently; a part not in `reads` costs no request.
    async fn read_cluster(conn: &Connection, sel: &Selection, reads: Reads) -> Result<Snapshot> {
        let ns = sel.namespace.as_str();
        let mut lp = ListParams::default();
        if let Some(s) = &sel.label_selector {
            if !s.as_str().is_empty() {
                lp = lp.labels(s.as_str());
            }
        }
        let all = ListParams::default();
        let (machinesets, secrets, mcs, cm, cv, infra, mc, mas, cas) = tokio::join!(
            list(conn, resources::MACHINE_SET, Some(ns), &lp),
            when(
                reads.user_data_secrets,
                list(conn, resources::SECRET, Some(ns), &all)
            ),
            when(
                reads.mcs_certificate,
                get(
                    conn,
                    resources::SECRET,
                    Some(resources::MCO_NAMESPACE),
                    resources::MCS_TLS_SECRET
                )
            ),
            when(
                reads.stream_configmap,
                get(
                    conn,
                    resources::CONFIG_MAP,
                    Some(resources::MCO_NAMESPACE),
                    resources::BOOTIMAGES_CONFIGMAP
                )
            ),
            get(conn, resources::CLUSTER_VERSION, None, "version"),
            get(conn, resources::INFRASTRUCTURE, None, "cluster"),
            get(conn, resources::MACHINE_CONFIGURATION, None, "cluster"),
            when(
                reads.autoscalers,
                list(conn, resources::MACHINE_AUTOSCALER, Some(ns), &all)
            ),
            when(
                reads.autoscalers,
                list(conn, resources::CLUSTER_AUTOSCALER, None, &all)
            ),
        );
        let mut snap = Snapshot {
            reads,
            ..Snapshot::default()
        };
        // MachineSets are the point of the run: any failure is fatal.
        let machinesets = machinesets?.ok_or_else(|| {
            anyhow::anyhow!(
                "the API server at {} does not serve machinesets.machine.openshift.io: \
                 is this an OpenShift cluster with the Machine API?",
                conn.server
            )
        })?;
        snap.select_machinesets(machinesets, sel, false);
        match secrets {
            Ok(Some(s)) => {
                snap.secrets_readable = true;
                snap.keep_user_data_secrets(s);
            }
            Ok(None) => snap.secrets_readable = reads.user_data_secrets,
            Err(e) => snap.unreadable.push(format!("user-data secrets: {e:#}")),
        }
        snap.mcs_tls_secret = optional(
            &mut snap.unreadable,
            "machine-config-server-tls secret",
            mcs,
        );
        snap.bootimages_configmap =
            optional(&mut snap.unreadable, "coreos-bootimages ConfigMap", cm);
        snap.cluster_version = optional(&mut snap.unreadable, "ClusterVersion", cv);
        snap.infrastructure = optional(&mut snap.unreadable, "Infrastructure", infra);
        snap.machine_configuration = optional(&mut snap.unreadable, "MachineConfiguration", mc);
        snap.machine_autoscalers =
            optional(&mut snap.unreadable, "MachineAutoscalers", mas).unwrap_or_default();
        snap.cluster_autoscalers =
            optional(&mut snap.unreadable, "ClusterAutoscalers", cas).unwrap_or_default();
        Ok(snap)
    }
}

/// Runs a read only when it is wanted; an unwanted read is "nothing there" and sends no
/// request (futures are lazy).
async fn when<T>(
    wanted: bool,
    read: impl std::future::Future<Output = Result<Option<T>>>,
) -> Result<Option<T>> {
    if wanted {
        read.await
    } else {
        Ok(None)
    }
}

fn optional<T>(unreadable: &mut Vec<String>, what: &str, r: Result<Option<T>>) -> Option<T> {
    match r {
        Ok(v) => v,
        Err(e) => {
            unreadable.push(format!("{what}: {e:#}"));
            None
        }
    }
}
