//! `bootimage_canary` against the in-process test server with its simulated machine
//! lifecycle (a Machine appears when replicas grow, then a Node and a
//! machine-config-daemon pod whose log carries a given build). The scale-back is
//! asserted in every path: success, mismatch, timeout and an API error mid-way.
//! These tests need the simulation, so they do nothing on a real API server (no
//! machine controller runs there).

mod common;

use std::time::Duration;

use common::{objects_under, root, run_module, TestCluster};
use serde_json::{json, Value};
use test_apiserver::MachineLifecycle;

const NS: &str = "openshift-machine-api";
/// build09-kcxpl-worker-us-east-1a: 2 replicas, no MachineAutoscaler, AMI of build 43.81….
const MS: &str = "build09-kcxpl-worker-us-east-1a";
const OLD_BUILD: &str = "43.81.202001142154.0";

fn cluster(build: &str, nodes: bool) -> Option<TestCluster> {
    let mut c = TestCluster::start();
    let server = c.server()?;
    server.simulate_machine_lifecycle(MachineLifecycle {
        build: build.into(),
        node_delay: Duration::from_millis(200),
        ready_delay: Duration::from_millis(300),
        log_delay: Duration::from_millis(500),
        nodes,
    });
    c.load(&objects_under(&root().join("examples/cluster-dump")));
    c.clear_requests();
    Some(c)
}

fn replicas(c: &TestCluster, ms: &str) -> i64 {
    c.get("MachineSet", Some(NS), ms).unwrap()["spec"]["replicas"]
        .as_i64()
        .unwrap()
}

fn machines(c: &TestCluster, ms: &str) -> Vec<String> {
    c.server()
        .unwrap()
        .list("machine.openshift.io/v1beta1", "Machine", Some(NS))
        .into_iter()
        .filter(|m| m["metadata"]["labels"]["machine.openshift.io/cluster-api-machineset"] == ms)
        .map(|m| m["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

fn canary(c: &TestCluster, extra: Value) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let mut args = json!({"kubeconfig": c.kubeconfig(), "machineset": MS, "poll_interval": 1, "timeout": 20,
                          "record_path": dir.path().join("r.json")});
    for (k, v) in extra.as_object().unwrap() {
        args[k] = v.clone();
    }
    let r = run_module("bootimage_canary", &args);
    let mut j = r.json;
    let path = dir.path().join("r.json");
    j["_record"] = if path.exists() {
        json!({"entries": common::file_record_entries(&path)})
    } else {
        Value::Null
    };
    j
}

#[test]
fn a_matching_build_passes_and_the_machineset_is_scaled_back() {
    let Some(c) = cluster(OLD_BUILD, true) else {
        return;
    };
    let start = machines(&c, MS);
    let r = canary(&c, json!({}));
    assert_eq!(r["failed"], false, "{r}");
    assert_eq!(r["matches"], true);
    assert_eq!(
        r["expected_build"], OLD_BUILD,
        "default: the build of the image the MachineSet names"
    );
    assert_eq!(r["booted_build"], OLD_BUILD);
    let machine = r["machine"].as_str().unwrap();
    assert!(
        !start.iter().any(|m| m == machine),
        "the canary is a new Machine"
    );
    assert!(r["node"].is_string());
    assert!(r["timings"]["build_after"].as_f64().unwrap() > 0.0);
    assert_eq!(replicas(&c, MS), 2);
    assert_eq!(r["restored"], true);
    assert_eq!(
        machines(&c, MS),
        start,
        "the canary Machine is removed by the scale-down"
    );
    // The original replicas went into the record before the scale-up.
    let entries = r["_record"]["entries"].as_array().unwrap();
    assert_eq!(entries[0]["field"], "/spec/replicas");
    assert_eq!(entries[0]["old"], 2);
    assert_eq!(entries[0]["new"], 3);
}

#[test]
fn a_wrong_build_fails_unless_told_not_to_and_scales_back() {
    let Some(c) = cluster("418.94.202602022246-0", true) else {
        return;
    };
    let r = canary(&c, json!({}));
    assert_eq!(r["matches"], false, "{r}");
    assert_eq!(r["failed"], true);
    assert_eq!(r["booted_build"], "418.94.202602022246-0");
    assert!(
        r["msg"]
            .as_str()
            .unwrap()
            .contains("expected 43.81.202001142154.0"),
        "{}",
        r["msg"]
    );
    assert_eq!(replicas(&c, MS), 2);
    let r = canary(&c, json!({"fail_on_mismatch": false}));
    assert_eq!(r["failed"], false, "{r}");
    assert_eq!(r["matches"], false);
    assert_eq!(replicas(&c, MS), 2);
    let r = canary(&c, json!({"expected_build": "418.94.202602022246-0"}));
    assert_eq!(r["matches"], true, "{r}");
}

#[test]
fn a_timeout_fails_and_scales_back() {
    let Some(c) = cluster(OLD_BUILD, false) else {
        return;
    };
    let before = machines(&c, MS);
    let r = canary(&c, json!({"timeout": 3}));
    assert_eq!(r["failed"], true, "{r}");
    assert!(
        r["msg"].as_str().unwrap().contains("timed out"),
        "{}",
        r["msg"]
    );
    assert!(
        r["machine"].is_string(),
        "the created machine is named: {r}"
    );
    assert_eq!(replicas(&c, MS), 2);
    assert_eq!(machines(&c, MS), before);
}

#[test]
fn an_api_error_mid_way_still_scales_back() {
    let Some(c) = cluster(OLD_BUILD, true) else {
        return;
    };
    c.server().unwrap().deny("get", "nodes");
    let r = canary(&c, json!({}));
    assert_eq!(r["failed"], true, "{r}");
    assert!(
        r["msg"].as_str().unwrap().contains("forbidden"),
        "{}",
        r["msg"]
    );
    assert_eq!(replicas(&c, MS), 2);
    assert_eq!(r["restored"], true);
}

#[test]
fn check_mode_changes_nothing() {
    let Some(c) = cluster(OLD_BUILD, true) else {
        return;
    };
    let r = canary(
        &c,
        json!({"_ansible_check_mode": true, "_ansible_diff": true}),
    );
    assert_eq!(r["failed"], false, "{r}");
    assert!(
        r["msg"].as_str().unwrap().starts_with("would scale"),
        "{}",
        r["msg"]
    );
    assert!(c.writes().unwrap().is_empty());
    assert_eq!(replicas(&c, MS), 2);
}

#[test]
fn paused_autoscaling_is_widened_and_restored_unpaused_is_refused() {
    let Some(c) = cluster("418.94.202501221327-0", true) else {
        return;
    };
    let ms = "build09-kcxpl-worker-aarch64-us-east-2a";
    let kc = c.kubeconfig();
    let dir = tempfile::tempdir().unwrap();
    let args = json!({"kubeconfig": kc, "machineset": ms, "poll_interval": 1, "timeout": 20, "record_path": dir.path().join("r.json")});
    let r = run_module("bootimage_canary", &args);
    assert_eq!(r.json["failed"], true);
    assert!(
        r.json["msg"].as_str().unwrap().contains("not paused"),
        "{}",
        r.json["msg"]
    );
    assert!(c.writes().unwrap().is_empty(), "refused before any write");

    let paused = run_module(
        "autoscaling",
        &json!({"kubeconfig": kc, "state": "paused", "record_path": dir.path().join("r.json")}),
    );
    assert_eq!(paused.json["changed"], true);
    let r = run_module("bootimage_canary", &args);
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["matches"], true);
    assert_eq!(replicas(&c, ms), 1);
    let ma = c.get("MachineAutoscaler", Some(NS), ms).unwrap();
    assert_eq!(ma["spec"]["minReplicas"], 1);
    assert_eq!(ma["spec"]["maxReplicas"], 1);
    let resumed = run_module(
        "autoscaling",
        &json!({"kubeconfig": kc, "state": "resumed", "record_path": dir.path().join("r.json")}),
    );
    assert_eq!(resumed.json["changed"], true);
    let ma = c.get("MachineAutoscaler", Some(NS), ms).unwrap();
    assert_eq!(ma["spec"]["minReplicas"], 0);
    assert_eq!(ma["spec"]["maxReplicas"], 5);
}

/// Without `patch` on machines the scale-back could not mark the canary Machine, and the
/// MachineSet's deletePolicy might remove a working node instead: the canary asks the
/// authorizer first (SelfSubjectAccessReview) and refuses before changing anything, in
/// check mode too, naming the permission.
#[test]
fn without_patch_on_machines_the_canary_refuses_before_scaling() {
    let Some(c) = cluster(OLD_BUILD, true) else {
        return;
    };
    c.server().unwrap().deny("patch", "machines");
    let before = machines(&c, MS);
    for check in [true, false] {
        c.clear_requests();
        let r = canary(&c, json!({"_ansible_check_mode": check}));
        assert_eq!(r["failed"], true, "{r}");
        assert_eq!(
            r["msg"],
            "forbidden: cannot patch machines.machine.openshift.io in namespace openshift-machine-api; \
             grant the `patch` verb on `machines.machine.openshift.io` (the canary marks its Machine so \
             that the scale-back removes exactly it). Nothing was changed"
        );
        assert!(c.writes().unwrap().is_empty(), "{:?}", c.writes());
        let reviews = c
            .requests()
            .unwrap()
            .into_iter()
            .filter(|q| q.path.ends_with("/selfsubjectaccessreviews"))
            .count();
        assert_eq!(reviews, 1);
        assert_eq!(replicas(&c, MS), 2);
        assert_eq!(machines(&c, MS), before);
        assert_eq!(r["_record"], Value::Null, "no record written");
    }
}
