//! A rollback record of the v1 format (one Secret `ocp-bootimage-rollback` in
//! `openshift-machine-api` for every run), written by the release at 0d4f1bb
//! (`tests/fixtures/records/v1-run-after.json`, with the objects its run left), is
//! rolled back by today's code: the cluster returns to where the run started, the v1
//! Secret is never written (it may be full), and a second rollback changes nothing.
//! In-process server by default; a real API server with OCP_BOOTIMAGE_TEST_KUBECONFIG.

mod common;

use common::{
    assert_cluster_equals, fixture, objects_in, objects_under, root, run_module, TestCluster,
};
use serde_json::{json, Value};

#[test]
fn a_v1_record_of_an_earlier_release_is_rolled_back() {
    let start = objects_under(&root().join("examples/cluster-dump"));
    let after = objects_in(&fixture("records/v1-run-after.json"));
    assert_eq!(after.len(), 9);
    let key = |o: &Value| {
        (
            o["kind"].clone(),
            o["metadata"]["namespace"].clone(),
            o["metadata"]["name"].clone(),
        )
    };
    let changed: Vec<_> = after.iter().map(key).collect();
    // The cluster as the v1 run left it: the dump, with the run's objects as it wrote them.
    let mut objects: Vec<Value> = start
        .iter()
        .filter(|o| !changed.contains(&key(o)))
        .cloned()
        .collect();
    objects.extend(after.iter().cloned());
    let mut c = TestCluster::start();
    c.load(&objects);
    let v1_before = c.get(
        "Secret",
        Some("openshift-machine-api"),
        "ocp-bootimage-rollback",
    );
    let kc = c.kubeconfig();

    // Check mode first: names the v1 run, changes nothing.
    let check = run_module(
        "rollback",
        &json!({"kubeconfig": kc, "_ansible_check_mode": true}),
    );
    assert_eq!(check.json["failed"], false, "{}", check.stdout);
    assert_eq!(check.json["run_id"], "legacy-run-1", "{}", check.stdout);
    assert_eq!(check.json["changed"], true, "{}", check.stdout);
    if let Some(w) = c.writes() {
        assert!(w.is_empty(), "{w:?}");
    }

    let rb = run_module("rollback", &json!({"kubeconfig": kc}));
    assert_eq!(rb.json["failed"], false, "{}", rb.stdout);
    assert_eq!(rb.json["run_id"], "legacy-run-1");
    assert_eq!(rb.json["conflicts"], 0, "{}", rb.stdout);
    assert_eq!(rb.json["changed"], true);
    // Every object the v1 run changed is back where it started.
    let originals: Vec<Value> = start
        .iter()
        .filter(|o| changed.contains(&key(o)) && o["metadata"]["name"] != "ocp-bootimage-rollback")
        .cloned()
        .collect();
    assert_eq!(originals.len(), 8);
    assert_cluster_equals(&c, &originals);
    // The v1 Secret is read, never written; the rollback's own run notes what it restored.
    let v1_after = c.get(
        "Secret",
        Some("openshift-machine-api"),
        "ocp-bootimage-rollback",
    );
    assert_eq!(
        v1_before.map(|s| s["data"].clone()),
        v1_after.map(|s| s["data"].clone())
    );
    let runs = c.record_runs();
    assert_eq!(runs.len(), 1, "only the rollback's own run is written");
    let own = &runs[0];
    assert_eq!(own.0, rb.json["rollback_run_id"].as_str().unwrap());
    assert_eq!(own.1["ocp-bootimage.io/rolls-back"], "legacy-run-1");

    let again = run_module("rollback", &json!({"kubeconfig": kc}));
    assert_eq!(again.json["failed"], false, "{}", again.stdout);
    assert_eq!(again.json["changed"], false, "{}", again.stdout);
    assert_eq!(again.json["run_id"], "legacy-run-1");
}

#[test]
fn a_v1_record_that_cannot_be_read_is_a_warning_not_silence() {
    let mut c = TestCluster::start();
    c.load(&objects_under(&root().join("examples/cluster-dump")));
    let Some(server) = c.server() else {
        return; // 403 injection needs the in-process server
    };
    server.deny("get", "secrets");
    let r = run_module("bootimage_runs", &json!({"kubeconfig": c.kubeconfig()}));
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    let w = r.json["warnings"].to_string();
    for part in [
        "could not look for a v1 rollback record",
        "Secret openshift-machine-api/ocp-bootimage-rollback",
        "deploy/rbac.yaml grants it to the update account",
    ] {
        assert!(w.contains(part), "{part:?} missing from {w}");
    }
}
