//! An opt-in simulation of the OpenShift machine-config-server (MCS) DaemonSet.
//!
//! While enabled ([`crate::TestApiServer::simulate_mcs_daemonset`]), a pod labelled
//! `k8s-app=machine-config-server` in `openshift-machine-config-operator` that a client
//! write removes (DELETE, deletecollection, or the write that clears the last finalizer
//! of a pod being deleted) is replaced at once, as the DaemonSet controller would: a new
//! `machine-config-server-<5 random>` pod with the same labels, owner references and
//! `spec` (so the same `spec.nodeName`), `Pending` and not Ready. After
//! [`McsDaemonSet::ready_delay`] it is `Running` and Ready.
//!
//! [`seed_pods`] stores Running, Ready MCS pods for tests to start from.
//!
//! As in [`crate::machines`], every simulated change goes through the store
//! (resourceVersions, watch events) but never through the request log: it is not a client
//! request. The delayed step runs as a tokio task on the server's runtime and does
//! nothing once its pod is gone (checked by uid) or the simulation is stopped.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::kinds::{self, KindInfo};
use crate::store::{self, meta_str, Store, Target};
use crate::{lock, Shared};

/// The namespace of the MCS pods.
pub(crate) const MCS_NAMESPACE: &str = "openshift-machine-config-operator";

/// The label (`k8s-app=machine-config-server`) of the MCS pods.
pub(crate) const MCS_APP_LABEL: (&str, &str) = ("k8s-app", "machine-config-server");

/// The MCS container (and the prefix of the pods' names).
const MCS_CONTAINER: &str = "machine-config-server";

/// The MCS image seeded pods run.
const MCS_IMAGE: &str = "quay.io/openshift-release-dev/ocp-v4.0-art-dev:machine-config-operator";

/// The uid of the (not stored) DaemonSet that seeded pods name as their owner.
const DAEMONSET_UID: &str = "5e6f7a8b-0c1d-4e2f-8a3b-4c5d6e7f8091";

/// How the simulated MCS DaemonSet brings up replacement pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McsDaemonSet {
    /// Delay from a replacement pod's creation (Pending, not Ready) to it being Running
    /// and Ready.
    pub ready_delay: Duration,
}

impl Default for McsDaemonSet {
    /// Replacement pods turn Ready after 200 ms.
    fn default() -> McsDaemonSet {
        McsDaemonSet {
            ready_delay: Duration::from_millis(200),
        }
    }
}

/// The active configuration, if the simulation is enabled.
fn enabled(shared: &Shared) -> Option<Arc<McsDaemonSet>> {
    lock(&shared.mcs).clone()
}

fn pod_kind() -> Option<&'static KindInfo> {
    kinds::by_resource("", "v1", "pods")
}

/// Whether `obj` is an MCS pod (namespace and label).
fn is_mcs_pod(obj: &Value) -> bool {
    meta_str(obj, "namespace") == Some(MCS_NAMESPACE)
        && obj
            .pointer("/metadata/labels")
            .and_then(|l| l.get(MCS_APP_LABEL.0))
            .and_then(Value::as_str)
            == Some(MCS_APP_LABEL.1)
}

/// A free `machine-config-server-<5 random>` name.
fn free_name(store: &mut Store, k: &'static KindInfo) -> String {
    loop {
        let candidate = format!("{MCS_CONTAINER}-{}", store.name_suffix());
        if store.get(k, MCS_NAMESPACE, &candidate).is_none() {
            return candidate;
        }
    }
}

/// The name of a pod's first container, else `machine-config-server`.
fn container_of(pod: &Value) -> String {
    pod.pointer("/spec/containers/0/name")
        .and_then(Value::as_str)
        .unwrap_or(MCS_CONTAINER)
        .to_string()
}

fn condition(kind: &str, status: &str, now: &str) -> Value {
    json!({
        "type": kind,
        "status": status,
        "lastProbeTime": null,
        "lastTransitionTime": now,
    })
}

/// The status of a Running pod whose container `container` is ready.
fn ready_status(container: &str, now: &str) -> Value {
    json!({
        "phase": "Running",
        "conditions": [
            condition("Initialized", "True", now),
            condition("Ready", "True", now),
            condition("ContainersReady", "True", now),
            condition("PodScheduled", "True", now),
        ],
        "startTime": now,
        "containerStatuses": [{
            "name": container,
            "image": MCS_IMAGE,
            "ready": true,
            "started": true,
            "restartCount": 0,
            "state": {"running": {"startedAt": now}},
        }],
    })
}

/// The status of a just-created pod whose container `container` is still being created.
fn pending_status(container: &str, now: &str) -> Value {
    let not_ready = |kind: &str| {
        let mut c = condition(kind, "False", now);
        c["reason"] = json!("ContainersNotReady");
        c["message"] = json!(format!("containers with unready status: [{container}]"));
        c
    };
    json!({
        "phase": "Pending",
        "conditions": [
            condition("Initialized", "True", now),
            not_ready("Ready"),
            not_ready("ContainersReady"),
            condition("PodScheduled", "True", now),
        ],
        "startTime": now,
        "containerStatuses": [{
            "name": container,
            "image": MCS_IMAGE,
            "ready": false,
            "started": false,
            "restartCount": 0,
            "state": {"waiting": {"reason": "ContainerCreating"}},
        }],
    })
}

/// Called after every successful, non-dry-run client write: `obj` is the object as
/// written (or as deleted, when `gone`). Replaces a removed MCS pod.
pub(crate) fn observe(shared: &Arc<Shared>, kind: &'static KindInfo, obj: &Value, gone: bool) {
    if !gone || !is_mcs_pod(obj) {
        return;
    }
    let Some(cfg) = enabled(shared) else {
        return;
    };
    let Some(k) = pod_kind().filter(|k| std::ptr::eq(kind, *k)) else {
        return;
    };
    let Some((name, uid)) = replace(&mut lock(&shared.store), k, obj) else {
        return;
    };
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let shared = shared.clone();
    runtime.spawn(async move {
        tokio::time::sleep(cfg.ready_delay).await;
        become_ready(&shared, &name, &uid);
    });
}

/// Creates the replacement of the deleted MCS pod `old`; returns its name and uid.
fn replace(store: &mut Store, k: &'static KindInfo, old: &Value) -> Option<(String, String)> {
    let name = free_name(store, k);
    let mut meta = json!({
        "name": name,
        "generateName": format!("{MCS_CONTAINER}-"),
        "namespace": MCS_NAMESPACE,
        "labels": old.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({})),
    });
    if let Some(owners) = old.pointer("/metadata/ownerReferences") {
        meta["ownerReferences"] = owners.clone();
    }
    let spec = old.get("spec").cloned().unwrap_or_else(|| json!({}));
    let status = pending_status(&container_of(old), &store::now());
    store
        .insert(json!({
            "apiVersion": k.api_version(),
            "kind": k.kind,
            "metadata": meta,
            "spec": spec,
            "status": status,
        }))
        .ok()?;
    let uid = store
        .get(k, MCS_NAMESPACE, &name)
        .and_then(|p| meta_str(p, "uid"))?
        .to_string();
    Some((name, uid))
}

/// The replacement pod turns Running and Ready (if it is still the same pod, not being
/// deleted, and the simulation is still enabled).
fn become_ready(shared: &Shared, name: &str, uid: &str) {
    if enabled(shared).is_none() {
        return;
    }
    let Some(k) = pod_kind() else {
        return;
    };
    let mut store = lock(&shared.store);
    let Some(mut pod) = store.get(k, MCS_NAMESPACE, name).cloned() else {
        return;
    };
    if meta_str(&pod, "uid") != Some(uid) || meta_str(&pod, "deletionTimestamp").is_some() {
        return;
    }
    pod["status"] = ready_status(&container_of(&pod), &store::now());
    // A failure (the object changed shape) just leaves the pod as it is.
    let _ = store.update(k, MCS_NAMESPACE, name, pod, Target::Status, false);
}

/// Stores `n` Running, Ready MCS pods on nodes `master-0`, `master-1`, … (labels
/// `k8s-app=machine-config-server`, owned by DaemonSet `machine-config-server`); returns
/// their names, in node order.
pub(crate) fn seed_pods(store: &mut Store, n: usize) -> anyhow::Result<Vec<String>> {
    let k = pod_kind().ok_or_else(|| anyhow::anyhow!("pods are not served"))?;
    let mut names = Vec::with_capacity(n);
    for i in 0..n {
        let name = free_name(store, k);
        let now = store::now();
        store.insert(json!({
            "apiVersion": k.api_version(),
            "kind": k.kind,
            "metadata": {
                "name": name,
                "generateName": format!("{MCS_CONTAINER}-"),
                "namespace": MCS_NAMESPACE,
                "labels": {MCS_APP_LABEL.0: MCS_APP_LABEL.1},
                "ownerReferences": [{
                    "apiVersion": "apps/v1",
                    "kind": "DaemonSet",
                    "name": MCS_CONTAINER,
                    "uid": DAEMONSET_UID,
                    "controller": true,
                    "blockOwnerDeletion": true,
                }],
            },
            "spec": {
                "nodeName": format!("master-{i}"),
                "hostNetwork": true,
                "nodeSelector": {"node-role.kubernetes.io/master": ""},
                "serviceAccountName": "machine-config-server",
                "containers": [{
                    "name": MCS_CONTAINER,
                    "image": MCS_IMAGE,
                    "command": ["/usr/bin/machine-config-server"],
                    "args": ["start", "--apiserver-url=https://api-int.test.example.com:6443"],
                }],
            },
            "status": ready_status(MCS_CONTAINER, &now),
        }))?;
        names.push(name);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_labelled_pods_in_the_namespace_are_mcs_pods() {
        let pod = |ns: &str, app: &str| json!({"metadata": {"namespace": ns, "labels": {"k8s-app": app}}});
        assert!(is_mcs_pod(&pod(MCS_NAMESPACE, "machine-config-server")));
        assert!(!is_mcs_pod(&pod(MCS_NAMESPACE, "machine-config-daemon")));
        assert!(!is_mcs_pod(&pod("default", "machine-config-server")));
        assert!(!is_mcs_pod(
            &json!({"metadata": {"namespace": MCS_NAMESPACE}})
        ));
    }

    #[test]
    fn statuses() {
        let p = pending_status("c", "t");
        assert_eq!(p["phase"], "Pending");
        assert_eq!(p["conditions"][1]["type"], "Ready");
        assert_eq!(p["conditions"][1]["status"], "False");
        assert_eq!(p["containerStatuses"][0]["ready"], false);
        let r = ready_status("c", "t");
        assert_eq!(r["phase"], "Running");
        assert_eq!(r["conditions"][1]["status"], "True");
        assert_eq!(r["conditions"][2]["type"], "ContainersReady");
        assert_eq!(r["conditions"][2]["status"], "True");
        assert_eq!(r["containerStatuses"][0]["name"], "c");
        assert_eq!(r["containerStatuses"][0]["ready"], true);
    }

    #[test]
    fn seeded_pods_have_free_names_on_masters() {
        let mut store = Store::new();
        let names = seed_pods(&mut store, 3).expect("seed");
        assert_eq!(names.len(), 3);
        let k = pod_kind().expect("pods");
        for (i, name) in names.iter().enumerate() {
            let suffix = name.strip_prefix("machine-config-server-").expect("prefix");
            assert_eq!(suffix.len(), 5);
            assert!(suffix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
            let pod = store.get(k, MCS_NAMESPACE, name).expect("stored");
            assert!(is_mcs_pod(pod));
            assert_eq!(pod["spec"]["nodeName"], format!("master-{i}"));
        }
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 3);
    }
}
