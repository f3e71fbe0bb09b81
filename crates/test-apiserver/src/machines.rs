//! An opt-in simulation of the OpenShift machine lifecycle: a tiny machine-api
//! MachineSet controller, kubelet and machine-config-daemon (MCD).
//!
//! While enabled ([`crate::TestApiServer::simulate_machine_lifecycle`]), every
//! successful client write to a MachineSet reconciles its Machines against
//! `spec.replicas`: missing Machines are created at once (phase `Provisioning`), and
//! after [`MachineLifecycle::node_delay`] each gets a Node (not yet Ready), its
//! `status.nodeRef` (phase `Running`) and an MCD pod whose log does not yet carry the
//! `CoreOS aleph version` line; the Node turns Ready after
//! [`MachineLifecycle::ready_delay`] and the aleph line appears at the start of the log
//! after [`MachineLifecycle::log_delay`]. Surplus Machines (those annotated for
//! deletion first, then the newest) are deleted at once with their Node and MCD pods,
//! as are the Node and MCD pods of a Machine a client deletes.
//!
//! Every simulated change goes through the store (resourceVersions, watch events) but
//! never through the request log: it is not a client request. Delayed steps run as tokio
//! tasks on the server's runtime and do nothing once their object is gone (checked by
//! uid) or the simulation is stopped.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::kinds::{self, KindInfo};
use crate::store::{self, meta_str, Preconditions, Store, Target};
use crate::{lock, PodLogKey, Shared};

/// The label naming a Machine's MachineSet.
const MACHINESET_LABEL: &str = "machine.openshift.io/cluster-api-machineset";

/// The annotation on a Node naming its Machine (`namespace/name`).
const NODE_MACHINE_ANNOTATION: &str = "machine.openshift.io/machine";

/// Annotations that make the MachineSet controller delete a Machine first on scale-down.
const DELETE_MACHINE_ANNOTATIONS: &[&str] = &[
    "machine.openshift.io/delete-machine",
    "machine.openshift.io/cluster-api-delete-machine",
];

/// The MachineSet annotation carrying node labels for scale-from-zero
/// (`kubernetes.io/arch=arm64,…`).
const CAPACITY_LABELS_ANNOTATION: &str = "capacity.cluster-autoscaler.kubernetes.io/labels";

/// The namespace of the MCD pods.
const MCD_NAMESPACE: &str = "openshift-machine-config-operator";

/// The MCD container, whose log carries the aleph line.
const MCD_CONTAINER: &str = "machine-config-daemon";

/// The label (`k8s-app=machine-config-daemon`) of the MCD pods.
const MCD_APP_LABEL: (&str, &str) = ("k8s-app", "machine-config-daemon");

/// The text that marks the aleph line in an MCD log.
const ALEPH_MARKER: &str = "CoreOS aleph version:";

/// How simulated machines come up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineLifecycle {
    /// Build id the simulated node's machine-config-daemon logs in its `CoreOS aleph version` line.
    pub build: String,
    /// Delay from Machine creation to its Node (and nodeRef, phase Running) appearing.
    pub node_delay: Duration,
    /// Delay from the Node appearing to it being Ready.
    pub ready_delay: Duration,
    /// Delay from the Node appearing to the MCD pod's log carrying the aleph line.
    pub log_delay: Duration,
    /// If false, machines are created but never get a Node (for timeout tests).
    pub nodes: bool,
}

impl MachineLifecycle {
    /// Machines whose Nodes appear, turn Ready and log `build` without delay.
    pub fn new(build: impl Into<String>) -> MachineLifecycle {
        MachineLifecycle {
            build: build.into(),
            node_delay: Duration::ZERO,
            ready_delay: Duration::ZERO,
            log_delay: Duration::ZERO,
            nodes: true,
        }
    }
}

/// The kinds the simulation writes.
struct Kinds {
    machineset: &'static KindInfo,
    machine: &'static KindInfo,
    node: &'static KindInfo,
    pod: &'static KindInfo,
}

fn kinds() -> Option<Kinds> {
    Some(Kinds {
        machineset: kinds::by_resource("machine.openshift.io", "v1beta1", "machinesets")?,
        machine: kinds::by_resource("machine.openshift.io", "v1beta1", "machines")?,
        node: kinds::by_resource("", "v1", "nodes")?,
        pod: kinds::by_resource("", "v1", "pods")?,
    })
}

/// A Machine waiting for its Node.
struct Pending {
    namespace: String,
    machine: String,
    uid: String,
    /// `kubernetes.io/arch` of its Node.
    arch: String,
}

/// A Node that came up, and the MCD pod on it.
struct NodeUp {
    node: String,
    node_uid: String,
    pod: String,
    pod_uid: String,
    arch: String,
}

/// The active configuration, if the simulation is enabled.
fn enabled(shared: &Shared) -> Option<Arc<MachineLifecycle>> {
    lock(&shared.lifecycle).clone()
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn label<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.pointer("/metadata/labels")
        .and_then(|l| l.get(key))
        .and_then(Value::as_str)
}

fn deleting(obj: &Value) -> bool {
    meta_str(obj, "deletionTimestamp").is_some()
}

fn created_secs(obj: &Value) -> Option<u64> {
    meta_str(obj, "creationTimestamp").and_then(store::parse_rfc3339)
}

fn name_of(obj: &Value) -> String {
    meta_str(obj, "name").unwrap_or_default().to_string()
}

/// `obj[key]` as an object, made one if it is missing or something else.
fn object_at<'a>(obj: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = obj.entry(key).or_insert_with(|| json!({}));
    if !slot.is_object() {
        *slot = json!({});
    }
    match slot {
        Value::Object(m) => m,
        _ => unreachable!("the slot was just made an object"),
    }
}

/// Called after every successful, non-dry-run client write: `obj` is the object as
/// written (or as deleted, when `gone`).
pub(crate) fn observe(shared: &Arc<Shared>, kind: &'static KindInfo, obj: &Value, gone: bool) {
    let Some(cfg) = enabled(shared) else {
        return;
    };
    let Some(k) = kinds() else {
        return;
    };
    if std::ptr::eq(kind, k.machine) && gone {
        let mut store = lock(&shared.store);
        let mut logs = lock(&shared.pod_logs);
        remove_node_of(&mut store, &mut logs, &k, obj);
    } else if std::ptr::eq(kind, k.machineset) && !gone {
        let ns = meta_str(obj, "namespace").unwrap_or_default();
        reconcile(shared, &cfg, &k, ns, &name_of(obj));
    }
}

/// Brings the Machines of one MachineSet to its `spec.replicas` (left alone when unset).
fn reconcile(shared: &Arc<Shared>, cfg: &Arc<MachineLifecycle>, k: &Kinds, ns: &str, name: &str) {
    let mut created = Vec::new();
    {
        let mut store = lock(&shared.store);
        let Some(ms) = store.get(k.machineset, ns, name).cloned() else {
            return;
        };
        let Some(replicas) = ms.pointer("/spec/replicas").and_then(Value::as_u64) else {
            return;
        };
        if deleting(&ms) {
            return;
        }
        let replicas = usize::try_from(replicas).unwrap_or(usize::MAX);
        let mut machines: Vec<Value> = store
            .list(k.machine, Some(ns))
            .into_iter()
            .filter(|m| label(m, MACHINESET_LABEL) == Some(name) && !deleting(m))
            .collect();
        if machines.len() < replicas {
            // Strictly after every existing Machine, so "the youngest" is well-defined.
            let first = machines
                .iter()
                .filter_map(created_secs)
                .max()
                .map_or(0, |t| t + 1)
                .max(store::now_secs());
            for at in (first..).take(replicas - machines.len()) {
                if let Some(p) = create_machine(&mut store, k, &ms, at) {
                    created.push(p);
                }
            }
        } else if machines.len() > replicas {
            let marked = |m: &Value| {
                m.pointer("/metadata/annotations")
                    .and_then(Value::as_object)
                    .is_some_and(|a| {
                        DELETE_MACHINE_ANNOTATIONS
                            .iter()
                            .any(|k| a.contains_key(*k))
                    })
            };
            // Marked Machines first, then the newest.
            machines.sort_by_key(|m| std::cmp::Reverse((marked(m), created_secs(m), name_of(m))));
            let excess = machines.len() - replicas;
            let mut logs = lock(&shared.pod_logs);
            for m in machines.iter().take(excess) {
                let deleted =
                    store.delete(k.machine, ns, &name_of(m), &Preconditions::default(), false);
                if let Ok((gone, true)) = deleted {
                    remove_node_of(&mut store, &mut logs, k, &gone);
                }
            }
        }
    }
    if cfg.nodes {
        for p in created {
            schedule(shared.clone(), cfg.clone(), p);
        }
    }
}

/// The `kubernetes.io/arch` a MachineSet's nodes get: from its scale-from-zero
/// capacity labels, else `amd64`.
fn arch_of(ms: &Value) -> String {
    ms.pointer("/metadata/annotations")
        .and_then(|a| a.get(CAPACITY_LABELS_ANNOTATION))
        .and_then(Value::as_str)
        .and_then(|labels| {
            labels
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| k.trim() == "kubernetes.io/arch")
                .map(|(_, v)| v.trim().to_string())
        })
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "amd64".to_string())
}

/// Creates one Machine of a MachineSet, created at `at` (seconds since the epoch).
fn create_machine(store: &mut Store, k: &Kinds, ms: &Value, at: u64) -> Option<Pending> {
    let ns = meta_str(ms, "namespace").unwrap_or_default().to_string();
    let ms_name = name_of(ms);
    let mut labels = ms
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    labels.insert(MACHINESET_LABEL.into(), json!(ms_name));
    let name = loop {
        let candidate = format!("{ms_name}-{}", store.name_suffix());
        if store.get(k.machine, &ns, &candidate).is_none() {
            break candidate;
        }
    };
    let mut meta = json!({
        "name": name,
        "namespace": ns,
        "labels": labels,
        "ownerReferences": [{
            "apiVersion": k.machineset.api_version(),
            "kind": k.machineset.kind,
            "name": ms_name,
            "uid": meta_str(ms, "uid").unwrap_or_default(),
            "controller": true,
            "blockOwnerDeletion": true,
        }],
        "creationTimestamp": store::rfc3339(at),
    });
    if let Some(annotations) = ms
        .pointer("/spec/template/metadata/annotations")
        .filter(|a| a.as_object().is_some_and(|a| !a.is_empty()))
    {
        meta["annotations"] = annotations.clone();
    }
    let machine = json!({
        "apiVersion": k.machine.api_version(),
        "kind": k.machine.kind,
        "metadata": meta,
        "spec": ms.pointer("/spec/template/spec").cloned().unwrap_or_else(|| json!({})),
        "status": {"phase": "Provisioning"},
    });
    store.insert(machine).ok()?;
    let uid = store
        .get(k.machine, &ns, &name)
        .and_then(|m| meta_str(m, "uid"))?
        .to_string();
    Some(Pending {
        namespace: ns,
        machine: name,
        uid,
        arch: arch_of(ms),
    })
}

/// Runs the delayed steps of one new Machine on the server's runtime.
fn schedule(shared: Arc<Shared>, cfg: Arc<MachineLifecycle>, p: Pending) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        tokio::time::sleep(cfg.node_delay).await;
        let Some(up) = node_up(&shared, &cfg, &p) else {
            return;
        };
        let (ready_shared, ready_delay) = (shared.clone(), cfg.ready_delay);
        let (node, node_uid) = (up.node.clone(), up.node_uid.clone());
        tokio::spawn(async move {
            tokio::time::sleep(ready_delay).await;
            node_ready(&ready_shared, &node, &node_uid);
        });
        tokio::time::sleep(cfg.log_delay).await;
        log_aleph(&shared, &cfg, &up);
    });
}

/// The Machine's Node appears (not Ready), the Machine gets its nodeRef and phase
/// Running, and an MCD pod starts on the Node. Nothing happens if the Machine is gone,
/// being deleted, or its Node's name is taken.
fn node_up(shared: &Shared, cfg: &MachineLifecycle, p: &Pending) -> Option<NodeUp> {
    enabled(shared)?;
    let k = kinds()?;
    let mut store = lock(&shared.store);
    let machine = store.get(k.machine, &p.namespace, &p.machine)?.clone();
    if meta_str(&machine, "uid") != Some(p.uid.as_str()) || deleting(&machine) {
        return None;
    }
    let node = p.machine.clone();
    if store.get(k.node, "", &node).is_some() {
        return None;
    }
    let now = store::now();
    let mut labels = machine
        .pointer("/spec/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    labels.insert("kubernetes.io/hostname".into(), json!(node));
    labels.insert("kubernetes.io/os".into(), json!("linux"));
    labels.insert("kubernetes.io/arch".into(), json!(p.arch));
    labels.insert("node-role.kubernetes.io/worker".into(), json!(""));
    store
        .insert(json!({
            "apiVersion": k.node.api_version(),
            "kind": k.node.kind,
            "metadata": {
                "name": node,
                "labels": labels,
                "annotations": {
                    NODE_MACHINE_ANNOTATION: format!("{}/{}", p.namespace, p.machine),
                },
            },
            "spec": {},
            "status": {
                "conditions": [{
                    "type": "Ready",
                    "status": "False",
                    "reason": "KubeletNotReady",
                    "message": "container runtime network not ready",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }],
                "nodeInfo": {
                    "architecture": p.arch,
                    "operatingSystem": "linux",
                    "osImage": format!("Red Hat Enterprise Linux CoreOS {}", cfg.build),
                },
            },
        }))
        .ok()?;
    let node_uid = store
        .get(k.node, "", &node)
        .and_then(|n| meta_str(n, "uid"))?
        .to_string();

    let mut running = machine;
    if let Some(m) = running.as_object_mut() {
        let status = object_at(m, "status");
        status.insert(
            "nodeRef".into(),
            json!({"kind": "Node", "name": node, "uid": node_uid}),
        );
        status.insert("phase".into(), json!("Running"));
    }
    store
        .update(
            k.machine,
            &p.namespace,
            &p.machine,
            running,
            Target::Status,
            false,
        )
        .ok()?;

    let pod = loop {
        let candidate = format!("machine-config-daemon-{}", store.name_suffix());
        if store.get(k.pod, MCD_NAMESPACE, &candidate).is_none() {
            break candidate;
        }
    };
    store
        .insert(json!({
            "apiVersion": k.pod.api_version(),
            "kind": k.pod.kind,
            "metadata": {
                "name": pod,
                "namespace": MCD_NAMESPACE,
                "labels": {MCD_APP_LABEL.0: MCD_APP_LABEL.1},
            },
            "spec": {
                "nodeName": node,
                "containers": [{
                    "name": MCD_CONTAINER,
                    "image": "quay.io/openshift-release-dev/ocp-v4.0-art-dev:machine-config-operator",
                }],
            },
            "status": {
                "phase": "Running",
                "startTime": now,
                "containerStatuses": [{
                    "name": MCD_CONTAINER,
                    "ready": true,
                    "started": true,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": now}},
                }],
            },
        }))
        .ok()?;
    let pod_uid = store
        .get(k.pod, MCD_NAMESPACE, &pod)
        .and_then(|p| meta_str(p, "uid"))?
        .to_string();
    lock(&shared.pod_logs).insert(log_key(&pod), start_log());
    Some(NodeUp {
        node,
        node_uid,
        pod,
        pod_uid,
        arch: p.arch.clone(),
    })
}

/// The Node's Ready condition turns True (if it is still the same Node).
fn node_ready(shared: &Shared, node: &str, uid: &str) {
    if enabled(shared).is_none() {
        return;
    }
    let Some(k) = kinds() else {
        return;
    };
    let mut store = lock(&shared.store);
    let Some(mut obj) = store.get(k.node, "", node).cloned() else {
        return;
    };
    if meta_str(&obj, "uid") != Some(uid) {
        return;
    }
    let now = store::now();
    let ready = json!({
        "type": "Ready",
        "status": "True",
        "reason": "KubeletReady",
        "message": "kubelet is posting ready status",
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    });
    if let Some(m) = obj.as_object_mut() {
        let status = object_at(m, "status");
        let conditions = status.entry("conditions").or_insert_with(|| json!([]));
        if !conditions.is_array() {
            *conditions = json!([]);
        }
        if let Value::Array(list) = conditions {
            list.retain(|c| c.get("type").and_then(Value::as_str) != Some("Ready"));
            list.push(ready);
        }
    }
    // A failure (the object changed shape) just leaves the Node as it is.
    let _ = store.update(k.node, "", node, obj, Target::Status, false);
}

/// The MCD log gains the aleph line at its start (if the pod is still there).
fn log_aleph(shared: &Shared, cfg: &MachineLifecycle, up: &NodeUp) {
    if enabled(shared).is_none() {
        return;
    }
    let Some(k) = kinds() else {
        return;
    };
    let store = lock(&shared.store);
    let same_pod = store
        .get(k.pod, MCD_NAMESPACE, &up.pod)
        .is_some_and(|p| meta_str(p, "uid") == Some(up.pod_uid.as_str()));
    if !same_pod {
        return;
    }
    let mut logs = lock(&shared.pod_logs);
    let key = log_key(&up.pod);
    let current = logs.get(&key).cloned().unwrap_or_default();
    if current.contains(ALEPH_MARKER) {
        return;
    }
    logs.insert(key, format!("{}{current}", aleph_log(&cfg.build, &up.arch)));
}

/// Deletes the Node of a deleted Machine (its `status.nodeRef`, else the Node annotated
/// with it) and the MCD pods on that Node, with their logs.
fn remove_node_of(
    store: &mut Store,
    logs: &mut std::collections::HashMap<PodLogKey, String>,
    k: &Kinds,
    machine: &Value,
) {
    let annotated = format!(
        "{}/{}",
        meta_str(machine, "namespace").unwrap_or_default(),
        name_of(machine)
    );
    let node = str_at(machine, "/status/nodeRef/name")
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .or_else(|| {
            store
                .list(k.node, None)
                .iter()
                .find(|n| {
                    n.pointer("/metadata/annotations")
                        .and_then(|a| a.get(NODE_MACHINE_ANNOTATION))
                        .and_then(Value::as_str)
                        == Some(annotated.as_str())
                })
                .map(name_of)
        });
    let Some(node) = node else {
        return;
    };
    for pod in store.list(k.pod, Some(MCD_NAMESPACE)) {
        if str_at(&pod, "/spec/nodeName") != Some(node.as_str())
            || label(&pod, MCD_APP_LABEL.0) != Some(MCD_APP_LABEL.1)
        {
            continue;
        }
        let name = name_of(&pod);
        let deleted = store.delete(
            k.pod,
            MCD_NAMESPACE,
            &name,
            &Preconditions::default(),
            false,
        );
        if matches!(deleted, Ok((_, true))) {
            logs.retain(|(ns, p, _), _| !(ns == MCD_NAMESPACE && *p == name));
        }
    }
    let _ = store.delete(k.node, "", &node, &Preconditions::default(), false);
}

fn log_key(pod: &str) -> PodLogKey {
    (
        MCD_NAMESPACE.to_string(),
        pod.to_string(),
        Some(MCD_CONTAINER.to_string()),
    )
}

/// What the MCD logs at start before the aleph line appears.
fn start_log() -> String {
    "I1125 10:00:00.000100    1234 start.go:61] Version: machine-config-daemon-4.18.0-test (Raw: v4.18.0-test, Hash: 0000000000000000000000000000000000000000)\n\
     I1125 10:00:00.000200    1234 start.go:74] Calling chroot(\"/rootfs\")\n"
        .to_string()
}

/// The aleph line in the MCD's multi-line JSON form (MCO PR 4034), for `build`.
fn aleph_log(build: &str, arch: &str) -> String {
    let machine_arch = match arch {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        other => other,
    };
    format!(
        "I1125 10:00:00.000000    1234 coreos.go:54] {ALEPH_MARKER} mtime=2026-01-01 00:00:00 +0000 UTC\n\
         {{\n   \"build\": {},\n   \"imgid\": {},\n   \"ostree-commit\": \"{}\",\n   \"ref\": \"\"\n}}\n",
        json!(build),
        json!(format!("rhcos-{build}-qemu.{machine_arch}.qcow2")),
        ostree_commit(build),
    )
}

/// A stable 64-hex-digit stand-in commit for a build (FNV-1a, four rounds).
fn ostree_commit(build: &str) -> String {
    (0u8..4)
        .map(|round| {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(round);
            for b in build.bytes().chain([round]) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            format!("{h:016x}")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_comes_from_the_capacity_labels() {
        let ms = json!({"metadata": {"annotations": {
            CAPACITY_LABELS_ANNOTATION: "kubernetes.io/os=linux, kubernetes.io/arch=arm64"
        }}});
        assert_eq!(arch_of(&ms), "arm64");
        assert_eq!(arch_of(&json!({})), "amd64");
    }

    #[test]
    fn aleph_log_shape() {
        let log = aleph_log("418.94.202501221327-0", "amd64");
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(
            lines[0],
            "I1125 10:00:00.000000    1234 coreos.go:54] CoreOS aleph version: mtime=2026-01-01 00:00:00 +0000 UTC"
        );
        let blob: Value = serde_json::from_str(&lines[1..].join("\n")).expect("json");
        assert_eq!(blob["build"], "418.94.202501221327-0");
        assert_eq!(
            blob["imgid"],
            "rhcos-418.94.202501221327-0-qemu.x86_64.qcow2"
        );
        assert_eq!(blob["ostree-commit"].as_str().map(str::len), Some(64));
        assert_eq!(lines[2], "   \"build\": \"418.94.202501221327-0\",");
        assert!(aleph_log("x", "arm64").contains("qemu.aarch64.qcow2"));
        assert!(!start_log().contains(ALEPH_MARKER));
    }
}
