//! The simulated machine-config-server DaemonSet through the `kube` client: deleting an
//! MCS pod (alone, with a resourceVersion precondition, or by label selector) brings a
//! replacement at once, Pending and not Ready, that turns Running and Ready later; other
//! pods, dry runs and a disabled or stopped simulation create nothing; none of the
//! simulated writes is a logged request.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Preconditions};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{json, Value};
use test_apiserver::{McsDaemonSet, TestApiServer};

const NS: &str = "openshift-machine-config-operator";
const SELECTOR: &str = "k8s-app=machine-config-server";

async fn client(server: &TestApiServer) -> Client {
    let kubeconfig = Kubeconfig::read_from(server.kubeconfig_path()).expect("kubeconfig parses");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

async fn pods(server: &TestApiServer) -> Api<Pod> {
    Api::namespaced(client(server).await, NS)
}

fn mcs(ready_ms: u64) -> McsDaemonSet {
    McsDaemonSet {
        ready_delay: Duration::from_millis(ready_ms),
    }
}

fn name(p: &Pod) -> String {
    p.metadata.name.clone().unwrap_or_default()
}

fn node(p: &Pod) -> String {
    p.spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_default()
}

fn phase(p: &Pod) -> String {
    p.status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default()
}

/// The status of condition `kind` (`True`/`False`), if present.
fn condition(p: &Pod, kind: &str) -> Option<String> {
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| c.status.clone())
}

fn ready(p: &Pod) -> bool {
    condition(p, "Ready").as_deref() == Some("True")
}

/// Every stored pod (all namespaces), read directly (not a request).
fn stored_pods(server: &TestApiServer) -> Vec<Value> {
    server.list("v1", "Pod", None)
}

fn stored_names(server: &TestApiServer) -> Vec<String> {
    stored_pods(server)
        .iter()
        .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
        .collect()
}

/// A stored MCS pod, read directly (not a request).
fn stored(server: &TestApiServer, name: &str) -> Option<Value> {
    server.get("v1", "Pod", Some(NS), name)
}

fn stored_ready(p: &Value) -> bool {
    p["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// Polls `probe` until it holds (10 s at most).
async fn wait_until(what: &str, mut probe: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !probe() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asserts the log holds exactly `gets` GETs and `deletes` DELETEs (nothing simulated).
fn assert_requests(server: &TestApiServer, gets: usize, deletes: usize) {
    let log = server.requests();
    let count = |m: &str| log.iter().filter(|r| r.method == m).count();
    assert_eq!(
        (log.len(), count("GET"), count("DELETE")),
        (gets + deletes, gets, deletes),
        "{log:#?}"
    );
    assert_eq!(server.write_count(), deletes);
}

#[tokio::test]
async fn deleting_one_mcs_pod_brings_a_replacement_that_turns_ready() {
    let server = TestApiServer::start().expect("start");
    let seeded = server.add_mcs_pods(3).expect("seed");
    server.simulate_mcs_daemonset(mcs(1500));
    let api = pods(&server).await;

    let listed = api
        .list(&ListParams::default().labels(SELECTOR))
        .await
        .expect("list by label");
    let mut names: Vec<String> = listed.items.iter().map(name).collect();
    names.sort();
    let mut want = seeded.clone();
    want.sort();
    assert_eq!(names, want);
    assert!(listed.items.iter().all(ready));
    let mut nodes: Vec<String> = listed.items.iter().map(node).collect();
    nodes.sort();
    assert_eq!(nodes, ["master-0", "master-1", "master-2"]);

    let victim = listed
        .items
        .iter()
        .find(|p| node(p) == "master-1")
        .cloned()
        .expect("a pod on master-1");
    let rv_before = server.resource_version();
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            resource_version: victim.metadata.resource_version.clone(),
            uid: None,
        }),
        ..DeleteParams::default()
    };
    api.delete(&name(&victim), &dp).await.expect("delete");
    // Deleted, and the replacement stored, before the DELETE was answered.
    assert_eq!(server.resource_version(), rv_before + 2);

    let listed = api
        .list(&ListParams::default().labels(SELECTOR))
        .await
        .expect("list after delete");
    assert_eq!(listed.items.len(), 3);
    assert!(listed.items.iter().all(|p| name(p) != name(&victim)));
    let fresh: Vec<&Pod> = listed
        .items
        .iter()
        .filter(|p| !seeded.contains(&name(p)))
        .collect();
    assert_eq!(fresh.len(), 1, "one replacement");
    let fresh = fresh[0].clone();
    let fresh_name = name(&fresh);
    let suffix = fresh_name
        .strip_prefix("machine-config-server-")
        .expect("named like a DaemonSet pod");
    assert_eq!(suffix.len(), 5);
    assert!(suffix
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    assert_eq!(node(&fresh), "master-1");
    assert_eq!(fresh.metadata.labels, victim.metadata.labels);
    assert_eq!(
        fresh.metadata.owner_references,
        victim.metadata.owner_references
    );
    assert_eq!(
        fresh
            .metadata
            .owner_references
            .as_ref()
            .map(|o| o[0].kind.clone()),
        Some("DaemonSet".to_string())
    );
    assert_eq!(fresh.spec, victim.spec);
    assert_ne!(fresh.metadata.uid, victim.metadata.uid);
    assert_eq!(phase(&fresh), "Pending");
    assert_eq!(condition(&fresh, "Ready").as_deref(), Some("False"));

    wait_until("the replacement to be Ready", || {
        stored(&server, &fresh_name).is_some_and(|p| stored_ready(&p))
    })
    .await;
    let got = api.get(&fresh_name).await.expect("get replacement");
    assert_eq!(phase(&got), "Running");
    assert_eq!(condition(&got, "Ready").as_deref(), Some("True"));
    assert_eq!(condition(&got, "ContainersReady").as_deref(), Some("True"));
    let container = &got
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.clone())
        .expect("container statuses")[0];
    assert_eq!(container.name, "machine-config-server");
    assert!(container.ready);
    assert_eq!(got.metadata.uid, fresh.metadata.uid);
    assert_eq!(server.resource_version(), rv_before + 3);

    // Three lists/gets and one delete: the simulated create and status update are not
    // requests.
    assert_requests(&server, 3, 1);
    assert_eq!(stored_pods(&server).len(), 3);
}

#[tokio::test]
async fn stale_precondition_deletes_nothing_and_replaces_nothing() {
    let server = TestApiServer::start().expect("start");
    let seeded = server.add_mcs_pods(1).expect("seed");
    server.simulate_mcs_daemonset(mcs(0));
    let api = pods(&server).await;
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            resource_version: Some("1".to_string()),
            uid: None,
        }),
        ..DeleteParams::default()
    };
    let err = api.delete(&seeded[0], &dp).await.expect_err("stale rv");
    match err {
        kube::Error::Api(status) => assert_eq!(status.code, 409),
        other => panic!("expected a conflict, got {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(stored_names(&server), seeded);
}

#[tokio::test]
async fn other_pods_and_dry_runs_are_not_replaced() {
    let server = TestApiServer::start().expect("start");
    let seeded = server.add_mcs_pods(1).expect("seed");
    for (ns, pod, app) in [
        (NS, "machine-config-daemon-abcde", "machine-config-daemon"),
        (
            "default",
            "machine-config-server-zzzzz",
            "machine-config-server",
        ),
    ] {
        server
            .insert(json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": pod, "namespace": ns, "labels": {"k8s-app": app}},
                "spec": {"nodeName": "master-0", "containers": [{"name": "c", "image": "i"}]},
            }))
            .expect("insert");
    }
    server.simulate_mcs_daemonset(mcs(0));
    let client = client(&server).await;

    Api::<Pod>::namespaced(client.clone(), NS)
        .delete("machine-config-daemon-abcde", &DeleteParams::default())
        .await
        .expect("delete MCD pod");
    Api::<Pod>::namespaced(client.clone(), "default")
        .delete("machine-config-server-zzzzz", &DeleteParams::default())
        .await
        .expect("delete look-alike in another namespace");
    let dry = DeleteParams {
        dry_run: true,
        ..DeleteParams::default()
    };
    Api::<Pod>::namespaced(client, NS)
        .delete(&seeded[0], &dry)
        .await
        .expect("dry-run delete");

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(stored_names(&server), seeded);
    let log = server.requests();
    assert_eq!(log.len(), 3, "{log:#?}");
    assert!(log.iter().all(|r| r.method == "DELETE" && r.status == 200));
    assert_eq!(server.write_count(), 2, "the dry run is not a write");
}

#[tokio::test]
async fn disabled_simulation_replaces_nothing() {
    let server = TestApiServer::start().expect("start");
    let seeded = server.add_mcs_pods(2).expect("seed");
    let api = pods(&server).await;
    api.delete(&seeded[0], &DeleteParams::default())
        .await
        .expect("delete");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(stored_names(&server), vec![seeded[1].clone()]);

    // Enabled, then stopped: the next delete is not answered either.
    server.simulate_mcs_daemonset(mcs(0));
    server.stop_mcs_daemonset();
    api.delete(&seeded[1], &DeleteParams::default())
        .await
        .expect("delete");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(stored_pods(&server).is_empty());
}

#[tokio::test]
async fn stopping_leaves_a_pending_replacement_pending() {
    let server = TestApiServer::start().expect("start");
    let seeded = server.add_mcs_pods(1).expect("seed");
    server.simulate_mcs_daemonset(mcs(300));
    let api = pods(&server).await;
    api.delete(&seeded[0], &DeleteParams::default())
        .await
        .expect("delete");
    server.stop_mcs_daemonset();
    let names = stored_names(&server);
    assert_eq!(names.len(), 1);
    assert_ne!(names[0], seeded[0]);
    let rv = server.resource_version();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let pod = stored(&server, &names[0]).expect("replacement stays");
    assert_eq!(pod["status"]["phase"], "Pending");
    assert!(!stored_ready(&pod));
    assert_eq!(
        server.resource_version(),
        rv,
        "no simulated write after stop"
    );
}

#[tokio::test]
async fn deletecollection_by_label_replaces_every_mcs_pod() {
    let server = TestApiServer::start().expect("start");
    let seeded = server.add_mcs_pods(3).expect("seed");
    server
        .insert(json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "machine-config-operator-abcde", "namespace": NS,
                         "labels": {"k8s-app": "machine-config-operator"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]},
        }))
        .expect("insert operator pod");
    server.simulate_mcs_daemonset(mcs(200));
    let api = pods(&server).await;

    let deleted = api
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels(SELECTOR),
        )
        .await
        .expect("deletecollection");
    let deleted = deleted.left().expect("a list of the deleted pods");
    let mut deleted_names: Vec<String> = deleted.items.iter().map(name).collect();
    deleted_names.sort();
    let mut want = seeded.clone();
    want.sort();
    assert_eq!(deleted_names, want);

    let listed = api
        .list(&ListParams::default().labels(SELECTOR))
        .await
        .expect("list");
    assert_eq!(listed.items.len(), 3);
    assert!(listed.items.iter().all(|p| !seeded.contains(&name(p))));
    let mut nodes: Vec<String> = listed.items.iter().map(node).collect();
    nodes.sort();
    assert_eq!(nodes, ["master-0", "master-1", "master-2"]);
    assert!(listed
        .items
        .iter()
        .all(|p| phase(p) == "Pending" && !ready(p)));
    let fresh: Vec<String> = listed.items.iter().map(name).collect();
    let mut unique = fresh.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 3, "distinct names");

    wait_until("every replacement to be Ready", || {
        fresh
            .iter()
            .all(|n| stored(&server, n).is_some_and(|p| stored_ready(&p)))
    })
    .await;
    assert!(stored(&server, "machine-config-operator-abcde").is_some());
    assert_eq!(stored_pods(&server).len(), 4);
    assert_requests(&server, 1, 1);
}
