//! `bootimage_info` over HTTP against a Kubernetes-API-compatible server: the
//! in-process test server by default, or a real API server when
//! `OCP_BOOTIMAGE_TEST_KUBECONFIG` names a kubeconfig (objects are loaded into it
//! and removed afterwards). The answers must equal the offline audit of the same objects.

mod common;

use common::{machineset, objects_under, root, run_module, TestCluster};
use serde_json::{json, Value};

fn shipped_dump() -> std::path::PathBuf {
    root().join("examples/cluster-dump")
}

fn cluster_with_dump() -> TestCluster {
    let mut c = TestCluster::start();
    c.load(&objects_under(&shipped_dump()));
    c.clear_requests();
    c
}

/// Drops what legitimately differs between a live read and a dump read.
fn comparable(mut v: Value) -> Value {
    let o = v.as_object_mut().unwrap();
    o.remove("invocation");
    v
}

#[test]
fn live_audit_equals_the_offline_audit() {
    let c = cluster_with_dump();
    let live = run_module("bootimage_info", &json!({"kubeconfig": c.kubeconfig()}));
    assert_eq!(live.json["failed"], false, "{}", live.stdout);
    let offline = run_module("bootimage_info", &json!({"dump_dir": shipped_dump()}));
    assert_eq!(comparable(live.json.clone()), comparable(offline.json));
    let ms = machineset(&live.json, "build09-kcxpl-worker-aarch64-us-east-2a");
    assert_eq!(ms["architecture"], "aarch64");
    assert_eq!(ms["current_build"], "418.94.202501221327-0");
    assert_eq!(ms["status"], "outdated");
    assert_eq!(live.json["stream"]["source"], "configmap");
}

#[test]
fn one_request_per_kind_and_no_writes() {
    let c = cluster_with_dump();
    let Some(server) = c.server() else { return };
    let r = run_module("bootimage_info", &json!({"kubeconfig": c.kubeconfig()}));
    assert_eq!(r.json["failed"], false);
    let reqs = server.requests();
    assert!(reqs.iter().all(|q| q.method == "GET"), "{reqs:?}");
    assert_eq!(server.write_count(), 0);
    let ms_lists = reqs
        .iter()
        .filter(|q| q.path.ends_with("/machinesets"))
        .count();
    assert_eq!(ms_lists, 1, "{reqs:?}");
    // The Secrets of the MachineSet namespace are never LISTed (that would return the
    // cloud credentials): the installer's four user-data secrets are read by name, the
    // two the dump lacks answered 404.
    assert!(
        !reqs.iter().any(|q| q.path.ends_with("/secrets")),
        "{reqs:?}"
    );
    let mut secret_gets: Vec<(&str, u16)> = reqs
        .iter()
        .filter_map(|q| {
            q.path
                .strip_prefix("/api/v1/namespaces/openshift-machine-api/secrets/")
                .map(|n| (n, q.status))
        })
        .collect();
    secret_gets.sort();
    assert_eq!(
        secret_gets,
        vec![
            ("master-user-data", 200),
            ("master-user-data-managed", 404),
            ("worker-user-data", 200),
            ("worker-user-data-managed", 404)
        ]
    );
    // 12 before issue 13; the GET of the ControlPlaneMachineSet `cluster` adds one (the
    // control-plane node LIST is not sent: this ClusterVersion names the architecture).
    assert_eq!(reqs.len(), 13, "{reqs:?}");
}

#[test]
fn thousand_machinesets_cost_the_same_requests() {
    let mut c = TestCluster::start();
    if c.is_real() {
        return; // a real server is not loaded with 1,000 objects by the tests
    }
    let mut objects = objects_under(&shipped_dump());
    let template = objects
        .iter()
        .find(|o| o["kind"] == "MachineSet")
        .cloned()
        .unwrap();
    // Half of them name a user-data secret of their own (two names in all): one GET
    // per distinct name, not one per MachineSet.
    for i in 0..1000 {
        let mut ms = template.clone();
        ms["metadata"]["name"] = json!(format!("generated-{i:04}"));
        if i % 2 == 1 {
            ms["spec"]["template"]["spec"]["providerSpec"]["value"]["userDataSecret"]["name"] =
                json!(format!("generated-user-data-{}", i % 4));
        }
        objects.push(ms);
    }
    c.load(&objects);
    c.clear_requests();
    let start = std::time::Instant::now();
    let r = run_module("bootimage_info", &json!({"kubeconfig": c.kubeconfig()}));
    let elapsed = start.elapsed();
    assert_eq!(r.json["summary"]["total"], 1004);
    let reqs = c.requests().unwrap();
    let secret_gets: Vec<&str> = reqs
        .iter()
        .filter(|q| {
            q.path
                .contains("/namespaces/openshift-machine-api/secrets/")
        })
        .map(|q| q.path.as_str())
        .collect();
    assert_eq!(secret_gets.len(), 6, "{secret_gets:?}");
    assert!(
        secret_gets
            .iter()
            .any(|p| p.ends_with("/generated-user-data-3")),
        "{secret_gets:?}"
    );
    assert_eq!(reqs.len(), 15, "{} requests: {reqs:?}", reqs.len());
    eprintln!(
        "audit of 1,004 MachineSets: {} requests, {:?}",
        reqs.len(),
        elapsed
    );
}

/// Each left-out part costs no request: the MachineSets alone take 6 (5 with a stream
/// file; 5 and 4 before the ControlPlaneMachineSet was read), everything 13 (the stubs are the installer's four user-data secrets, one GET
/// each). The MachineSet reports are the same whatever the subset, and the
/// parts left out are empty and do not count for compliance.
#[test]
fn gather_subset_reads_only_what_it_audits() {
    let c = cluster_with_dump();
    let kc = c.kubeconfig();
    let stream = common::fixture("stream/rhcos-4.18.json");
    let full = run_module("bootimage_info", &json!({"kubeconfig": kc}));
    let full_reqs = c.requests();
    for (args, requests, gathered) in [
        (json!({"gather_subset": ["min"]}), 5, json!([])),
        (
            json!({"gather_subset": "min", "stream_file": stream}),
            4,
            json!([]),
        ),
        (json!({"gather_subset": ["stubs"]}), 9, json!(["stubs"])),
        (
            json!({"gather_subset": ["certificate"]}),
            10,
            json!(["certificate"]),
        ),
        (
            json!({"gather_subset": ["!certificate"]}),
            12,
            json!(["stubs", "autoscaling", "control_plane"]),
        ),
        (
            json!({"gather_subset": ["all", "!autoscaling"]}),
            11,
            json!(["stubs", "certificate", "control_plane"]),
        ),
        (
            json!({"gather_subset": ["min", "control_plane"]}),
            6,
            json!(["control_plane"]),
        ),
        (json!({"gather_subset": ["!all"]}), 5, json!([])),
        (
            json!({"gather_subset": ["all"]}),
            13,
            json!(["stubs", "certificate", "autoscaling", "control_plane"]),
        ),
    ] {
        let mut a = args.clone();
        a["kubeconfig"] = json!(kc);
        c.clear_requests();
        let r = run_module("bootimage_info", &a);
        assert_eq!(r.json["failed"], false, "{args}: {}", r.stdout);
        assert_eq!(r.json["gathered"], gathered, "{args}");
        if let Some(reqs) = c.requests() {
            assert_eq!(reqs.len(), requests, "{args}: {reqs:?}");
        }
        if a.get("stream_file").is_none() {
            assert_eq!(r.json["machinesets"], full.json["machinesets"], "{args}");
        }
        let has = |p: &str| gathered.as_array().unwrap().iter().any(|g| g == p);
        if !has("stubs") {
            assert_eq!(r.json["user_data_secrets"], json!([]), "{args}");
            assert_eq!(r.json["summary"]["user_data_secrets_needing_migration"], 0);
        }
        if !has("autoscaling") {
            assert_eq!(r.json["autoscaling"]["machine_autoscalers"], json!([]));
        }
        if !has("certificate") {
            assert_eq!(r.json["mcs_certificate"]["certificate"], Value::Null);
        }
        if !has("control_plane") {
            assert_eq!(r.json["control_plane"], Value::Null, "{args}");
        }
        if gathered != json!(["stubs", "certificate", "autoscaling", "control_plane"]) {
            assert!(
                r.json["msg"].as_str().unwrap().contains("not checked: "),
                "{}",
                r.json["msg"]
            );
        }
        // Stub migration makes the shipped dump non-compliant only when stubs are audited.
        let stub_reason = r.json["noncompliant_reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x.as_str().unwrap().contains("stub Ignition"));
        assert_eq!(stub_reason, has("stubs"), "{args}");
    }
    if let Some(reqs) = full_reqs {
        assert_eq!(reqs.len(), 13);
    }
    // Not a part: refused with the valid names, nothing read.
    c.clear_requests();
    let bad = run_module(
        "bootimage_info",
        &json!({"kubeconfig": kc, "gather_subset": ["stubs", "nodes"]}),
    );
    assert_eq!(bad.json["failed"], true);
    assert_eq!(
        bad.json["msg"],
        "value of gather_subset must be one or more of: all, min, stubs, certificate, autoscaling, \
         control_plane, !all, !stubs, !certificate, !autoscaling, !control_plane. Got no match \
         for: nodes"
    );
    if let Some(reqs) = c.requests() {
        assert!(reqs.is_empty(), "{reqs:?}");
    }
    // The dump reads the same subset: the same answer.
    let offline = run_module(
        "bootimage_info",
        &json!({"dump_dir": shipped_dump(), "gather_subset": ["min"]}),
    );
    let live = run_module(
        "bootimage_info",
        &json!({"kubeconfig": kc, "gather_subset": ["min"]}),
    );
    assert_eq!(comparable(live.json), comparable(offline.json));
}

#[test]
fn label_selector_and_names_are_applied() {
    let c = cluster_with_dump();
    let r = run_module(
        "bootimage_info",
        &json!({"kubeconfig": c.kubeconfig(), "label_selector": "machine.openshift.io/cluster-api-cluster=build09-kcxpl", "machinesets": ["build09-kcxpl-worker-us-east-1a"]}),
    );
    assert_eq!(r.json["summary"]["total"], 1, "{}", r.stdout);
    if let Some(reqs) = c.requests() {
        let list = reqs
            .iter()
            .find(|q| q.path.ends_with("/machinesets"))
            .unwrap();
        assert!(
            list.query
                .as_deref()
                .unwrap_or_default()
                .contains("labelSelector"),
            "{list:?}"
        );
    }
}

#[test]
fn forbidden_machinesets_is_a_clear_failure() {
    let c = cluster_with_dump();
    // In-process: deny the verb. Real server: a context whose user has no RBAC grants
    // (`limited` in scripts/real-apiserver.sh's kubeconfig).
    let args = match c.server() {
        Some(server) => {
            server.deny("list", "machinesets");
            json!({"kubeconfig": c.kubeconfig()})
        }
        None => json!({"kubeconfig": c.kubeconfig(),
                       "context": std::env::var("OCP_BOOTIMAGE_TEST_LIMITED_CONTEXT").unwrap_or_else(|_| "limited".into())}),
    };
    let r = run_module("bootimage_info", &args);
    assert_eq!(r.json["failed"], true);
    let msg = r.json["msg"].as_str().unwrap();
    assert!(
        msg.contains("forbidden")
            && msg.contains("list")
            && msg.contains("machinesets.machine.openshift.io"),
        "{msg}"
    );
}

#[test]
fn forbidden_secrets_makes_the_audit_incomplete_not_wrong() {
    let c = cluster_with_dump();
    let Some(server) = c.server() else { return };
    server.deny("get", "secrets");
    let r = run_module("bootimage_info", &json!({"kubeconfig": c.kubeconfig()}));
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["compliant"], false);
    let warnings = r.json["warnings"].to_string();
    assert!(
        warnings.contains("user-data secrets") && warnings.contains("forbidden"),
        "{warnings}"
    );
}

/// The shipped RBAC grants `get` on user-data secrets by name: a MachineSet naming
/// another secret gets a 403 for that secret only. The audit is incomplete, the
/// warning names the secret and what to add; the secrets it could read are reported.
#[test]
fn one_forbidden_user_data_secret_is_named() {
    let c = cluster_with_dump();
    let Some(server) = c.server() else { return };
    server.inject(
        test_apiserver::Fault::status(403)
            .on_path("/secrets/master-user-data")
            .times(8),
    );
    let r = run_module("bootimage_info", &json!({"kubeconfig": c.kubeconfig()}));
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["compliant"], false);
    let warnings = r.json["warnings"].to_string();
    assert!(
        warnings.contains("secret openshift-machine-api/master-user-data: forbidden")
            && warnings.contains("add master-user-data to the resourceNames"),
        "{warnings}"
    );
    assert!(
        !warnings.contains("secret openshift-machine-api/worker-user-data:"),
        "{warnings}"
    );
    let secrets = r.json["user_data_secrets"].as_array().unwrap();
    let worker = secrets
        .iter()
        .find(|s| s["name"] == "worker-user-data")
        .unwrap();
    assert_eq!(worker["present"], true, "{worker}");
    assert_eq!(worker["error"], Value::Null, "{worker}");
}

#[test]
fn server_errors_on_reads_are_retried() {
    let c = cluster_with_dump();
    let Some(server) = c.server() else { return };
    server.inject(
        test_apiserver::Fault::status(503)
            .on_path("/machinesets")
            .times(1),
    );
    let r = run_module("bootimage_info", &json!({"kubeconfig": c.kubeconfig()}));
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["summary"]["total"], 4);
}

#[test]
fn stream_file_overrides_the_configmap() {
    let c = cluster_with_dump();
    let stream = common::fixture("stream/rhcos-4.18-at-e3b4c94fca.json");
    let r = run_module(
        "bootimage_info",
        &json!({"kubeconfig": c.kubeconfig(), "stream_file": stream}),
    );
    assert_eq!(r.json["stream"]["source"], "file");
    let ms = machineset(&r.json, "build09-kcxpl-worker-aarch64-us-east-2a");
    assert_eq!(ms["status"], "current", "{ms}");
    assert_eq!(ms["target_image"], "ami-0b04071739ccf4af2");
}

#[test]
fn env_fallbacks_connect_like_kubernetes_core() {
    let c = cluster_with_dump();
    let kc = c.kubeconfig();
    let r = common::run_module_env(
        "bootimage_info",
        &json!({}),
        &[("K8S_AUTH_KUBECONFIG", kc.to_str().unwrap())],
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    let r = common::run_module_env(
        "bootimage_info",
        &json!({}),
        &[("KUBECONFIG", kc.to_str().unwrap())],
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["summary"]["total"], 4);
}
