//! The whole procedure as a user runs it — `autoscaling paused` → `stub_ignition` →
//! `machineset_bootimage` → `autoscaling resumed` → `rollback` — with one run id: the
//! cluster ends compliant after the update, and byte-for-byte where it started after
//! the rollback. In-process server by default; a real API server with
//! OCP_BOOTIMAGE_TEST_KUBECONFIG.

mod common;

use common::{assert_cluster_equals, objects_under, root, run_module, TestCluster};
use serde_json::{json, Value};

fn step(module: &str, args: &Value) -> Value {
    let r = run_module(module, args);
    assert_eq!(r.json["failed"], false, "{module}: {}", r.stdout);
    r.json
}

#[test]
fn update_then_rollback_returns_to_the_start() {
    let mut c = TestCluster::start();
    let objects = objects_under(&root().join("examples/cluster-dump"));
    c.load(&objects);
    let start = c.read_back(&objects);
    let kc = c.kubeconfig();
    let base = json!({"kubeconfig": kc, "run_id": "update-1"});
    let with = |extra: Value| {
        let mut a = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            a[k] = v.clone();
        }
        a
    };

    // Check mode over every step first: nothing is written. Each step judges the cluster
    // as it is, so while the stub is still spec 2.x the swap refuses every MachineSet that
    // boots with it, naming the secret (a real run in this order would too).
    c.clear_requests();
    for (module, extra, changes) in [
        ("autoscaling", json!({"state": "paused"}), true),
        ("stub_ignition", json!({}), true),
        ("machineset_bootimage", json!({}), false),
    ] {
        let mut a = with(extra);
        a["_ansible_check_mode"] = json!(true);
        let r = step(module, &a);
        assert_eq!(r["changed"], changes, "{module}: {r}");
        if module == "machineset_bootimage" {
            let sets = r["machinesets"].as_array().unwrap();
            assert!(!sets.is_empty());
            for m in sets {
                assert_eq!(m["skipped"], true, "{m}");
                let why = m["reason"].as_str().unwrap();
                assert!(
                    why.contains("worker-user-data") && why.contains("stub_ignition"),
                    "{why}"
                );
            }
        }
    }
    if let Some(w) = c.writes() {
        assert!(w.is_empty(), "check mode wrote: {w:?}");
    }

    // Each step, with its request count and wall time (printed: a measurement, not a timed test).
    let measured = |module: &str, args: &Value| {
        c.clear_requests();
        let t = std::time::Instant::now();
        let r = step(module, args);
        if let Some(reqs) = c.requests() {
            let writes = reqs.iter().filter(|q| q.is_write()).count();
            eprintln!(
                "{module}: {} requests ({writes} writes), {:?}",
                reqs.len(),
                t.elapsed()
            );
        }
        r
    };
    let paused = with(json!({"state": "paused"}));
    let resumed = with(json!({"state": "resumed"}));
    let mcs = json!({"kubeconfig": kc, "fail_if_regeneration_required": true});
    assert_eq!(measured("autoscaling", &paused)["changed"], true);
    assert_eq!(measured("stub_ignition", &with(json!({})))["changed"], true);
    assert_eq!(measured("mcs_cert_info", &mcs)["changed"], false);
    assert_eq!(
        measured("machineset_bootimage", &with(json!({})))["changed"],
        true
    );
    assert_eq!(measured("autoscaling", &resumed)["changed"], true);

    let audit = step(
        "bootimage_info",
        &json!({"kubeconfig": kc, "fail_on_noncompliant": true}),
    );
    assert_eq!(
        audit["compliant"], true,
        "{}",
        audit["noncompliant_reasons"]
    );

    // Every step again: nothing left to do.
    c.clear_requests();
    for (module, extra) in [
        ("autoscaling", json!({"state": "resumed"})),
        ("stub_ignition", json!({})),
        ("machineset_bootimage", json!({})),
    ] {
        assert_eq!(
            step(module, &with(extra))["changed"],
            false,
            "{module} is not idempotent"
        );
    }
    if let Some(w) = c.writes() {
        assert!(w.is_empty(), "second runs wrote: {w:?}");
    }

    let rb = step("rollback", &json!({"kubeconfig": kc, "run_id": "update-1"}));
    assert_eq!(rb["changed"], true);
    assert_eq!(rb["conflicts"], 0, "{}", rb["entries"]);
    assert_cluster_equals(&c, &start);
    assert_eq!(
        step("rollback", &json!({"kubeconfig": kc, "run_id": "update-1"}))["changed"],
        false
    );
}
