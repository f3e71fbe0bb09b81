//! Issue 13 §§ 4, 5, 7 against a Kubernetes-API-compatible server (the in-process test
//! server, or a real kube-apiserver with `OCP_BOOTIMAGE_TEST_KUBECONFIG`): the verdict's
//! three values, the cluster's architecture from the control-plane nodes, the
//! ControlPlaneMachineSet in the audit, MachineSets another controller manages, and a
//! change another controller reverts.

mod common;

use common::{machineset, objects_under, root, run_module, TestCluster};
use serde_json::{json, Value};

fn shipped_dump() -> std::path::PathBuf {
    root().join("examples/cluster-dump")
}

fn reasons(r: &Value, key: &str) -> Vec<String> {
    r[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} missing: {r}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Issue 13 § 7: a bare API server (no ClusterVersion, no Infrastructure, no
/// coreos-bootimages, no MachineSets) answered `compliant: true` with one warning.
#[test]
fn a_bare_api_server_is_unknown_with_the_reasons_not_compliant() {
    let c = TestCluster::start();
    if c.is_real() {
        // The shared real server may hold other tests' objects; the in-process server is bare.
        return;
    }
    let kc = c.kubeconfig();
    let r = run_module("bootimage_info", &json!({"kubeconfig": kc}));
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["verdict"], "unknown", "{}", r.stdout);
    assert_eq!(r.json["compliant"], false);
    assert_eq!(reasons(&r.json, "noncompliant_reasons"), Vec::<String>::new());
    let unknown = reasons(&r.json, "unknown_reasons");
    let has = |s: &str| unknown.iter().any(|u| u.contains(s));
    assert!(has("no stream metadata"), "{unknown:?}");
    assert!(has("version is unknown"), "{unknown:?}");
    assert!(has("platform is unknown"), "{unknown:?}");
    assert!(has("no MachineSets: this cluster's boot images live outside it"), "{unknown:?}");
    assert!(has("nodes: true"), "{unknown:?}");
    let msg = r.json["msg"].as_str().unwrap();
    assert!(msg.starts_with("unknown (the audit could not judge): "), "{msg}");

    // fail_on_noncompliant fails on unknown, unless allow_unknown.
    let r = run_module(
        "bootimage_info",
        &json!({"kubeconfig": kc, "fail_on_noncompliant": true}),
    );
    assert_eq!(r.json["failed"], true, "{}", r.stdout);
    assert_eq!(r.code, 1);
    let r = run_module(
        "bootimage_info",
        &json!({"kubeconfig": kc, "fail_on_noncompliant": true, "allow_unknown": true}),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["verdict"], "unknown");
}

/// A cluster with something wrong is not compliant, whatever it could not judge.
#[test]
fn the_shipped_dump_is_not_compliant_and_allow_unknown_does_not_pass_it() {
    let r = run_module(
        "bootimage_info",
        &json!({"dump_dir": shipped_dump(), "fail_on_noncompliant": true, "allow_unknown": true}),
    );
    assert_eq!(r.json["verdict"], "not_compliant", "{}", r.stdout);
    assert_eq!(r.json["compliant"], false);
    assert_eq!(r.json["failed"], true);
}
