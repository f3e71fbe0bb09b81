//! Machines, Nodes and machine-config-daemon (MCD) pods, for `nodes: true`: the
//! observation model ([`NodeObservation`]) and the way from a MachineSet to the MCD pod
//! on its youngest Machine's node ([`trail`]), as plain object navigation. Reading them
//! (live or from a dump) is the shell's; what the log means for boot images is decided
//! in `plan::observed`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::object::{labels_of, name_of, namespace_of};

/// Label of a Machine naming its MachineSet.
pub const MACHINESET_LABEL: &str = "machine.openshift.io/cluster-api-machineset";
/// Annotation of a Node naming its Machine (`<namespace>/<name>`).
pub const NODE_MACHINE_ANNOTATION: &str = "machine.openshift.io/machine";
/// Label selector of the MCD pods.
pub const MCD_LABEL_SELECTOR: &str = "k8s-app=machine-config-daemon";
/// The MCD container, whose log holds the aleph line.
pub const MCD_CONTAINER: &str = "machine-config-daemon";
/// How much of the start of an MCD log is read: the daemon writes the aleph line as it
/// starts, so it is near the beginning (64 KiB).
pub const LOG_LIMIT_BYTES: usize = 64 * 1024;
/// How many MCD logs are fetched at the same time.
pub const LOG_CONCURRENCY: usize = 8;

/// The start of one MCD log, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodLog {
    /// The first [`LOG_LIMIT_BYTES`] of the log (lossy UTF-8).
    Text(String),
    /// The log could not be read.
    Unreadable {
        /// Why, the way a person can act on it (a 403 names the permission).
        reason: String,
        /// Whether the API server answered 403.
        forbidden: bool,
    },
}

/// What `nodes: true` reads. Each list is `Err` with the reason when it could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeObservation {
    /// Machines of the MachineSet namespace.
    pub machines: std::result::Result<Vec<Value>, String>,
    /// Nodes (only their metadata is used).
    pub nodes: std::result::Result<Vec<Value>, String>,
    /// MCD pods (`k8s-app=machine-config-daemon` in `openshift-machine-config-operator`).
    pub mcd_pods: std::result::Result<Vec<Value>, String>,
    /// The MCD logs read, by pod name: those of the pods on the youngest Machine's node
    /// of each selected MachineSet. A pod without an entry had no log (dumps only).
    pub logs: BTreeMap<String, PodLog>,
}

/// Why the way from a MachineSet to an MCD pod stops short.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Gap {
    /// The Machines could not be listed.
    #[error("Machines could not be read: {0}")]
    MachinesUnreadable(String),
    /// No Machine carries the MachineSet's label.
    #[error("the MachineSet has no Machine")]
    NoMachine,
    /// The youngest Machine has no `status.nodeRef` (and no Node names it).
    #[error("its youngest Machine {machine} has no node yet (no status.nodeRef)")]
    NoNode {
        /// The Machine.
        machine: String,
    },
    /// The Machine's node is not among the Nodes.
    #[error("node {node} of its youngest Machine {machine} does not exist")]
    NodeNotFound {
        /// The Machine.
        machine: String,
        /// The node its `status.nodeRef` names.
        node: String,
    },
    /// The MCD pods could not be listed.
    #[error("machine-config-daemon pods could not be read: {0}")]
    PodsUnreadable(String),
    /// No MCD pod runs on the node.
    #[error("no machine-config-daemon pod runs on node {node}")]
    NoMcdPod {
        /// The node.
        node: String,
    },
}

/// The way from a MachineSet to the MCD pod on its youngest Machine's node, as far as it goes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Trail {
    /// The youngest Machine (newest `creationTimestamp`; Machines being deleted only
    /// when there is no other).
    pub machine: Option<String>,
    /// The Machine's `metadata.creationTimestamp`.
    pub machine_created: Option<String>,
    /// Its node (`status.nodeRef.name`, else the Node annotated with the Machine).
    pub node: Option<String>,
    /// The MCD pod on that node.
    pub pod: Option<String>,
    /// `restartCount` of the pod's `machine-config-daemon` container.
    pub pod_restarts: i64,
    /// Why the trail stops before the pod (None when it reaches it).
    pub gap: Option<Gap>,
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn created(v: &Value) -> Option<time::OffsetDateTime> {
    str_at(v, "/metadata/creationTimestamp").and_then(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
    })
}

fn deleting(v: &Value) -> bool {
    str_at(v, "/metadata/deletionTimestamp").is_some()
}

/// The youngest Machine of a MachineSet: newest `creationTimestamp` (then name),
/// preferring Machines not being deleted.
pub fn youngest_machine<'a>(machineset: &str, machines: &'a [Value]) -> Option<&'a Value> {
    machines
        .iter()
        .filter(|m| {
            labels_of(m)
                .get(MACHINESET_LABEL)
                .is_some_and(|l| l == machineset)
        })
        .max_by(|a, b| {
            (!deleting(a), created(a), name_of(a)).cmp(&(!deleting(b), created(b), name_of(b)))
        })
}

/// The MCD pod on a node: running and not being deleted first, then the newest.
pub fn mcd_pod_on<'a>(node: &str, pods: &'a [Value]) -> Option<&'a Value> {
    pods.iter()
        .filter(|p| str_at(p, "/spec/nodeName") == Some(node))
        .max_by(|a, b| {
            let key = |p: &'a Value| {
                (
                    !deleting(p),
                    str_at(p, "/status/phase") == Some("Running"),
                    created(p),
                    name_of(p),
                )
            };
            key(a).cmp(&key(b))
        })
}

fn restarts(pod: &Value) -> i64 {
    pod.pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(MCD_CONTAINER))
        .and_then(|c| c.get("restartCount"))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// Follows a MachineSet to its youngest Machine, that Machine's node and the MCD pod there.
pub fn trail(machineset: &str, obs: &NodeObservation) -> Trail {
    let mut t = Trail::default();
    let machines = match &obs.machines {
        Ok(m) => m,
        Err(e) => {
            t.gap = Some(Gap::MachinesUnreadable(e.clone()));
            return t;
        }
    };
    let Some(machine) = youngest_machine(machineset, machines) else {
        t.gap = Some(Gap::NoMachine);
        return t;
    };
    let machine_name = name_of(machine).to_string();
    t.machine = Some(machine_name.clone());
    t.machine_created = str_at(machine, "/metadata/creationTimestamp").map(str::to_string);
    let annotated = format!("{}/{}", namespace_of(machine), machine_name);
    let node = str_at(machine, "/status/nodeRef/name")
        .map(str::to_string)
        .or_else(|| {
            obs.nodes.as_ref().ok().and_then(|nodes| {
                nodes
                    .iter()
                    .find(|n| {
                        n.pointer("/metadata/annotations")
                            .and_then(|a| a.get(NODE_MACHINE_ANNOTATION))
                            .and_then(Value::as_str)
                            == Some(annotated.as_str())
                    })
                    .map(|n| name_of(n).to_string())
            })
        });
    let Some(node) = node else {
        t.gap = Some(Gap::NoNode {
            machine: machine_name,
        });
        return t;
    };
    t.node = Some(node.clone());
    if let Ok(nodes) = &obs.nodes {
        if !nodes.iter().any(|n| name_of(n) == node) {
            t.gap = Some(Gap::NodeNotFound {
                machine: machine_name,
                node,
            });
            return t;
        }
    }
    let pods = match &obs.mcd_pods {
        Ok(p) => p,
        Err(e) => {
            t.gap = Some(Gap::PodsUnreadable(e.clone()));
            return t;
        }
    };
    match mcd_pod_on(&node, pods) {
        Some(pod) => {
            t.pod = Some(name_of(pod).to_string());
            t.pod_restarts = restarts(pod);
        }
        None => t.gap = Some(Gap::NoMcdPod { node }),
    }
    t
}

/// The MCD pods whose logs the selected MachineSets need (one per MachineSet at most).
pub fn pods_to_read(machinesets: &[Value], obs: &NodeObservation) -> BTreeSet<String> {
    machinesets
        .iter()
        .filter_map(|ms| trail(name_of(ms), obs).pod)
        .collect()
}

pub fn is_mcd_pod(pod: &Value) -> bool {
    let (key, value) = MCD_LABEL_SELECTOR
        .split_once('=')
        .unwrap_or((MCD_LABEL_SELECTOR, ""));
    labels_of(pod).get(key).is_some_and(|v| v == value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::resources::MCO_NAMESPACE;
    use serde_json::json;

    fn machine(name: &str, ms: &str, created: &str, node: Option<&str>) -> Value {
        let mut m = json!({
            "kind": "Machine",
            "metadata": {"name": name, "namespace": "openshift-machine-api", "creationTimestamp": created,
                         "labels": {MACHINESET_LABEL: ms}},
        });
        if let Some(n) = node {
            m["status"] = json!({"nodeRef": {"kind": "Node", "name": n}});
        }
        m
    }

    fn node(name: &str) -> Value {
        json!({"kind": "Node", "metadata": {"name": name}})
    }

    fn pod(name: &str, node: &str, phase: &str) -> Value {
        json!({"kind": "Pod", "metadata": {"name": name, "namespace": MCO_NAMESPACE,
               "labels": {"k8s-app": "machine-config-daemon"}},
               "spec": {"nodeName": node},
               "status": {"phase": phase, "containerStatuses": [{"name": MCD_CONTAINER, "restartCount": 2}]}})
    }

    fn obs(machines: Vec<Value>, nodes: Vec<Value>, pods: Vec<Value>) -> NodeObservation {
        NodeObservation {
            machines: Ok(machines),
            nodes: Ok(nodes),
            mcd_pods: Ok(pods),
            logs: BTreeMap::new(),
        }
    }

    #[test]
    fn follows_the_youngest_machine_to_its_mcd_pod() {
        let o = obs(
            vec![
                machine("a-old", "a", "2024-01-01T00:00:00Z", Some("n1")),
                machine("a-new", "a", "2025-02-01T00:00:00Z", Some("n2")),
                machine("b-x", "b", "2026-01-01T00:00:00Z", Some("n3")),
            ],
            vec![node("n1"), node("n2"), node("n3")],
            vec![
                pod("mcd-1", "n1", "Running"),
                pod("mcd-2-old", "n2", "Failed"),
                pod("mcd-2", "n2", "Running"),
            ],
        );
        let t = trail("a", &o);
        assert_eq!(t.machine.as_deref(), Some("a-new"));
        assert_eq!(t.machine_created.as_deref(), Some("2025-02-01T00:00:00Z"));
        assert_eq!(t.node.as_deref(), Some("n2"));
        assert_eq!(t.pod.as_deref(), Some("mcd-2"));
        assert_eq!(t.pod_restarts, 2);
        assert_eq!(t.gap, None);
        let sets = vec![
            json!({"metadata": {"name": "a"}}),
            json!({"metadata": {"name": "b"}}),
        ];
        // b's node has no MCD pod: only a's pod is read.
        assert_eq!(
            pods_to_read(&sets, &o).into_iter().collect::<Vec<_>>(),
            ["mcd-2"]
        );
        assert_eq!(
            trail("b", &o).gap,
            Some(Gap::NoMcdPod { node: "n3".into() })
        );
    }

    #[test]
    fn gaps_say_where_the_trail_stops() {
        let o = obs(
            vec![machine("a-1", "a", "2025-01-01T00:00:00Z", None)],
            vec![],
            vec![],
        );
        assert_eq!(trail("zzz", &o).gap, Some(Gap::NoMachine));
        assert_eq!(
            trail("a", &o).gap,
            Some(Gap::NoNode {
                machine: "a-1".into()
            })
        );
        let o = obs(
            vec![machine("a-1", "a", "2025-01-01T00:00:00Z", Some("gone"))],
            vec![node("other")],
            vec![],
        );
        assert_eq!(
            trail("a", &o).gap,
            Some(Gap::NodeNotFound {
                machine: "a-1".into(),
                node: "gone".into()
            })
        );
        let mut o = obs(vec![], vec![], vec![]);
        o.machines = Err("forbidden".into());
        assert!(matches!(
            trail("a", &o).gap,
            Some(Gap::MachinesUnreadable(_))
        ));
    }

    #[test]
    fn a_node_annotated_with_the_machine_stands_in_for_a_missing_node_ref() {
        let mut n = node("n9");
        n["metadata"]["annotations"] =
            json!({NODE_MACHINE_ANNOTATION: "openshift-machine-api/a-1"});
        let o = obs(
            vec![machine("a-1", "a", "2025-01-01T00:00:00Z", None)],
            vec![n],
            vec![pod("mcd-9", "n9", "Running")],
        );
        let t = trail("a", &o);
        assert_eq!(t.node.as_deref(), Some("n9"));
        assert_eq!(t.pod.as_deref(), Some("mcd-9"));
    }

    #[test]
    fn machines_being_deleted_are_the_last_choice() {
        let mut deleting = machine("a-new", "a", "2025-02-01T00:00:00Z", Some("n2"));
        deleting["metadata"]["deletionTimestamp"] = json!("2025-03-01T00:00:00Z");
        let machines = vec![
            machine("a-old", "a", "2024-01-01T00:00:00Z", Some("n1")),
            deleting,
        ];
        assert_eq!(youngest_machine("a", &machines).map(name_of), Some("a-old"));
    }
}
