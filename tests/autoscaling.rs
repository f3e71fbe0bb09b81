//! `autoscaling` through the built binary, run the way Ansible runs it, against
//! the shipped cluster dump (three MachineAutoscalers min 0 / max 5 on the
//! build09 aarch64 MachineSets with 1 replica each, and a ClusterAutoscaler)
//! loaded into the in-process test API server — or into a real API server when
//! `OCP_BOOTIMAGE_TEST_KUBECONFIG` is set. Tests that need the request log,
//! `deny` or `inject` return early on a real server.

mod common;

use std::path::Path;

use common::{objects_under, root, run_module, TestCluster};
use serde_json::{json, Value};

const NS: &str = "openshift-machine-api";
const PAUSED: &str = "ocp-bootimage.openshift.io/paused-autoscaling";
const AUTOSCALED: [&str; 3] = [
    "build09-kcxpl-worker-aarch64-us-east-2a",
    "build09-kcxpl-worker-aarch64-us-east-2b",
    "build09-kcxpl-worker-aarch64-us-east-2c",
];

fn dump_objects() -> Vec<Value> {
    objects_under(&root().join("examples/cluster-dump"))
}

fn cluster_with(objects: &[Value]) -> TestCluster {
    let mut c = TestCluster::start();
    c.load(objects);
    c.clear_requests();
    c
}

fn cluster_with_dump() -> TestCluster {
    cluster_with(&dump_objects())
}

/// Module args: the cluster, a record file in `dir`, and `extra`.
fn args(c: &TestCluster, dir: &Path, extra: Value) -> Value {
    let mut a = json!({"kubeconfig": c.kubeconfig(), "record_path": dir.join("record.json")});
    for (k, v) in extra.as_object().unwrap() {
        a[k] = v.clone();
    }
    a
}

/// Runs `f` with a dynamic API for `kind` on the test cluster (works against both servers).
fn with_api<T>(
    c: &TestCluster,
    kind: &str,
    ns: Option<&str>,
    f: impl AsyncFnOnce(kube::Api<kube::api::DynamicObject>) -> T,
) -> T {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let kc = kube::config::Kubeconfig::read_from(c.kubeconfig()).unwrap();
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap();
        let client = kube::Client::try_from(cfg).unwrap();
        let ar = ocp_bootimage::kube::client::api_resource(
            ocp_bootimage::cluster::resources::by_kind(kind).unwrap(),
        );
        let api = match ns {
            Some(ns) => kube::Api::namespaced_with(client, ns, &ar),
            None => kube::Api::all_with(client, &ar),
        };
        f(api).await
    })
}

/// Reads one object over HTTP.
fn read(c: &TestCluster, kind: &str, ns: Option<&str>, name: &str) -> Option<Value> {
    with_api(c, kind, ns, async |api| {
        api.get_opt(name)
            .await
            .unwrap()
            .map(|o| serde_json::to_value(o).unwrap())
    })
}

fn read_ma(c: &TestCluster, name: &str) -> Value {
    read(c, "MachineAutoscaler", Some(NS), name).unwrap_or_else(|| panic!("no {name}"))
}

/// The object without what the server manages.
fn comparable(mut v: Value) -> Value {
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "resourceVersion",
            "generation",
            "managedFields",
            "uid",
            "creationTimestamp",
            "selfLink",
        ] {
            m.remove(k);
        }
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    v
}

fn dump_ma(name: &str) -> Value {
    dump_objects()
        .into_iter()
        .find(|o| o["kind"] == "MachineAutoscaler" && o["metadata"]["name"] == name)
        .unwrap()
}

fn record_entries(dir: &Path) -> Vec<Value> {
    common::file_record_entries(&dir.join("record.json"))
}

fn autoscaler<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["autoscalers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no autoscaler {name} in {r}"))
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn paused_pins_every_autoscaler_to_the_replicas_and_saves_the_original() {
    let c = cluster_with_dump();
    let dir = tmp();
    let r = run_module(
        "autoscaling",
        &args(&c, dir.path(), json!({"state": "paused"})),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.code, 0);
    assert_eq!(r.json["changed"], true);
    assert_eq!(r.json["cluster_autoscaler"], true);
    let msg = r.json["msg"].as_str().unwrap();
    assert!(
        msg.contains("changed 3 MachineAutoscaler(s)")
            && msg.contains("ClusterAutoscaler default present"),
        "{msg}"
    );
    assert_eq!(r.json["autoscalers"].as_array().unwrap().len(), 3);
    for name in AUTOSCALED {
        let a = autoscaler(&r.json, name);
        assert_eq!(a["target"], name);
        assert_eq!(a["namespace"], NS);
        assert_eq!(a["before"], json!({"min_replicas": 0, "max_replicas": 5}));
        assert_eq!(a["after"], json!({"min_replicas": 1, "max_replicas": 1}));
        assert_eq!(a["changed"], true);
        let ma = read_ma(&c, name);
        assert_eq!(ma["spec"]["minReplicas"], 1);
        assert_eq!(ma["spec"]["maxReplicas"], 1);
        assert_eq!(
            ma["metadata"]["annotations"][PAUSED],
            r#"{"minReplicas":0,"maxReplicas":5}"#
        );
    }
    // Record first: every changed field with its old value.
    let run_id = r.json["run_id"].as_str().unwrap();
    assert_eq!(
        r.json["record"],
        format!("file {}", dir.path().join("record.json").display())
    );
    let entries = record_entries(dir.path());
    assert_eq!(entries.len(), 9, "{entries:#?}");
    for e in &entries {
        assert_eq!(e["run_id"], run_id);
        assert_eq!(e["module"], "autoscaling");
        assert_eq!(e["kind"], "MachineAutoscaler");
        assert_eq!(e["api_version"], "autoscaling.openshift.io/v1beta1");
        assert_eq!(e["namespace"], NS);
    }
    let e = |name: &str, field: &str| {
        entries
            .iter()
            .find(|e| e["name"] == name && e["field"] == field)
            .unwrap_or_else(|| panic!("no entry {name} {field}: {entries:#?}"))
            .clone()
    };
    let min = e(AUTOSCALED[0], "/spec/minReplicas");
    assert_eq!(
        (min["old"].clone(), min["new"].clone()),
        (json!(0), json!(1))
    );
    let max = e(AUTOSCALED[0], "/spec/maxReplicas");
    assert_eq!(
        (max["old"].clone(), max["new"].clone()),
        (json!(5), json!(1))
    );
    let ann = e(AUTOSCALED[0], "/metadata/annotations");
    assert_eq!(ann["old"], Value::Null);
    assert_eq!(
        ann["new"],
        json!({PAUSED: r#"{"minReplicas":0,"maxReplicas":5}"#})
    );
}

#[test]
fn a_second_run_changes_nothing_and_writes_nothing() {
    let c = cluster_with_dump();
    let dir = tmp();
    for state in ["paused", "resumed"] {
        let a = args(&c, dir.path(), json!({"state": state}));
        let first = run_module("autoscaling", &a);
        assert_eq!(first.json["changed"], true, "{}", first.stdout);
        let before: Vec<Value> = AUTOSCALED.iter().map(|n| read_ma(&c, n)).collect();
        let entries = record_entries(dir.path()).len();
        c.clear_requests();
        let second = run_module("autoscaling", &a);
        assert_eq!(second.json["failed"], false, "{}", second.stdout);
        assert_eq!(second.json["changed"], false, "{}", second.stdout);
        assert!(
            second.json["msg"]
                .as_str()
                .unwrap()
                .starts_with("no MachineAutoscaler(s) changed"),
            "{}",
            second.json["msg"]
        );
        for a in second.json["autoscalers"].as_array().unwrap() {
            assert_eq!(a["changed"], false);
            assert_eq!(a["before"], a["after"]);
        }
        let reqs = c.requests();
        let after: Vec<Value> = AUTOSCALED.iter().map(|n| read_ma(&c, n)).collect();
        assert_eq!(before, after, "{state}: the second run changed objects");
        assert_eq!(record_entries(dir.path()).len(), entries);
        if let Some(reqs) = reqs {
            assert!(reqs.iter().all(|q| !q.is_write()), "{state}: {reqs:?}");
            // One LIST per kind and one GET of the Infrastructure.
            for kind in ["/machinesets", "/machineautoscalers", "/clusterautoscalers"] {
                assert_eq!(
                    reqs.iter().filter(|q| q.path.ends_with(kind)).count(),
                    1,
                    "{kind}: {reqs:?}"
                );
            }
            assert!(reqs.len() <= 4, "{reqs:?}");
        }
    }
}

#[test]
fn check_mode_writes_nothing_and_reports_what_the_real_run_does() {
    let c = cluster_with_dump();
    let dir = tmp();
    let check = run_module(
        "autoscaling",
        &args(
            &c,
            dir.path(),
            json!({"state": "paused", "_ansible_check_mode": true, "_ansible_diff": true}),
        ),
    );
    assert_eq!(check.json["failed"], false, "{}", check.stdout);
    assert_eq!(check.json["changed"], true);
    assert!(
        check.json["msg"]
            .as_str()
            .unwrap()
            .starts_with("would change 3 MachineAutoscaler(s)"),
        "{}",
        check.json["msg"]
    );
    if let Some(server) = c.server() {
        assert_eq!(server.write_count(), 0, "{:?}", server.requests());
    }
    assert!(
        !dir.path().join("record.json").exists(),
        "check mode wrote the record"
    );
    for name in AUTOSCALED {
        assert_eq!(comparable(read_ma(&c, name)), dump_ma(name));
    }
    let real = run_module(
        "autoscaling",
        &args(
            &c,
            dir.path(),
            json!({"state": "paused", "_ansible_diff": true}),
        ),
    );
    assert_eq!(real.json["changed"], check.json["changed"]);
    assert_eq!(real.json["diff"], check.json["diff"], "{}", real.stdout);
    assert_eq!(real.json["autoscalers"], check.json["autoscalers"]);
    let diff = real.json["diff"].as_array().unwrap();
    assert_eq!(diff.len(), 3);
    let d = diff
        .iter()
        .find(|d| d["before_header"] == format!("MachineAutoscaler {NS}/{}", AUTOSCALED[0]))
        .unwrap_or_else(|| panic!("{diff:#?}"));
    assert_eq!(
        d["before"]["spec"],
        json!({"maxReplicas": 5, "minReplicas": 0})
    );
    assert_eq!(d["before"]["metadata"].get("annotations"), None, "{d}");
    assert_eq!(
        d["after"],
        json!({"metadata": {"annotations": {PAUSED: r#"{"minReplicas":0,"maxReplicas":5}"#}},
               "spec": {"maxReplicas": 1, "minReplicas": 1}})
    );
}

#[test]
fn resumed_restores_the_original_objects_exactly() {
    let c = cluster_with_dump();
    let dir = tmp();
    // Resuming what was never paused is a no-op.
    let r = run_module(
        "autoscaling",
        &args(&c, dir.path(), json!({"state": "resumed"})),
    );
    assert_eq!(r.json["changed"], false, "{}", r.stdout);
    let r = run_module(
        "autoscaling",
        &args(&c, dir.path(), json!({"state": "paused"})),
    );
    assert_eq!(r.json["changed"], true, "{}", r.stdout);
    let r = run_module(
        "autoscaling",
        &args(
            &c,
            dir.path(),
            json!({"state": "resumed", "_ansible_diff": true}),
        ),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["changed"], true);
    for name in AUTOSCALED {
        let a = autoscaler(&r.json, name);
        assert_eq!(a["before"], json!({"min_replicas": 1, "max_replicas": 1}));
        assert_eq!(a["after"], json!({"min_replicas": 0, "max_replicas": 5}));
        assert_eq!(a["paused"], false);
        let ma = read_ma(&c, name);
        assert!(ma["metadata"].get("annotations").is_none(), "{ma}");
        assert_eq!(comparable(ma), dump_ma(name));
    }
    // Both runs are in the record, in order.
    let entries = record_entries(dir.path());
    assert_eq!(entries.len(), 18);
    let removed = entries
        .iter()
        .find(|e| {
            e["name"] == AUTOSCALED[1]
                && e["field"] == "/metadata/annotations"
                && e["new"].is_null()
        })
        .unwrap_or_else(|| panic!("{entries:#?}"));
    assert_eq!(
        removed["old"],
        json!({PAUSED: r#"{"minReplicas":0,"maxReplicas":5}"#})
    );
}

#[test]
fn a_conflict_is_re_planned_and_retried() {
    let c = cluster_with_dump();
    let Some(server) = c.server() else { return };
    server.inject(
        test_apiserver::Fault::status(409)
            .on_method("PATCH")
            .on_path("/machineautoscalers/"),
    );
    let dir = tmp();
    let r = run_module(
        "autoscaling",
        &args(&c, dir.path(), json!({"state": "paused"})),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["changed"], true);
    assert!(
        r.json["warnings"].to_string().contains("HTTP 409"),
        "{}",
        r.json["warnings"]
    );
    for name in AUTOSCALED {
        let ma = read_ma(&c, name);
        assert_eq!(ma["spec"]["maxReplicas"], 1);
        assert_eq!(autoscaler(&r.json, name)["changed"], true);
    }
    let patches: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|q| q.method == "PATCH" && q.path.contains("/machineautoscalers/"))
        .collect();
    assert_eq!(patches.len(), 4, "{patches:?}");
    assert_eq!(patches[0].status, 409);
    // The re-plan wanted the same fields: nothing recorded twice.
    assert_eq!(record_entries(dir.path()).len(), 9);
}

#[test]
fn a_forbidden_patch_fails_clearly_with_the_record_intact() {
    let c = cluster_with_dump();
    let Some(server) = c.server() else { return };
    server.deny("patch", "machineautoscalers");
    let dir = tmp();
    let r = run_module(
        "autoscaling",
        &args(&c, dir.path(), json!({"state": "paused"})),
    );
    assert_eq!(r.json["failed"], true, "{}", r.stdout);
    assert_eq!(r.code, 1);
    assert_eq!(r.json["changed"], false);
    let msg = r.json["msg"].as_str().unwrap();
    assert!(
        msg.contains("forbidden")
            && msg.contains("patch")
            && msg.contains("machineautoscalers.autoscaling.openshift.io")
            && msg.contains("rollback record"),
        "{msg}"
    );
    for name in AUTOSCALED {
        assert_eq!(comparable(read_ma(&c, name)), dump_ma(name));
        assert_eq!(autoscaler(&r.json, name)["changed"], false);
    }
    // Written before the first change: what the run was about to do.
    let entries = record_entries(dir.path());
    assert_eq!(entries.len(), 9);
    assert!(entries.iter().all(|e| e["run_id"] == r.json["run_id"]));
}

#[test]
fn the_default_record_is_a_secret() {
    let c = cluster_with_dump();
    let r = run_module(
        "autoscaling",
        &json!({"kubeconfig": c.kubeconfig(), "state": "paused"}),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    let run_id = r.json["run_id"].as_str().unwrap();
    assert_eq!(
        r.json["record"],
        format!("Secret ocp-bootimage/ocp-bootimage-rollback-{run_id}")
    );
    let runs = c.record_runs();
    let (_, annotations, entries) = runs
        .iter()
        .find(|r| r.0 == run_id)
        .expect("the run's record");
    assert_eq!(entries.len(), 9, "{entries:#?}");
    assert_eq!(annotations["ocp-bootimage.io/state"], "applied");
    assert_eq!(annotations["ocp-bootimage.io/modules"], "autoscaling");
}

#[test]
fn managed_clusters_are_refused_unless_allowed() {
    let mut objects = dump_objects();
    let infra = objects
        .iter_mut()
        .find(|o| o["kind"] == "Infrastructure")
        .unwrap();
    infra["status"]["controlPlaneTopology"] = json!("External");
    let c = cluster_with(&objects);
    let dir = tmp();
    let r = run_module(
        "autoscaling",
        &args(&c, dir.path(), json!({"state": "paused"})),
    );
    assert_eq!(r.json["failed"], true, "{}", r.stdout);
    let msg = r.json["msg"].as_str().unwrap();
    assert!(
        msg.contains("refusing to change a managed cluster") && msg.contains("allow_managed"),
        "{msg}"
    );
    if let Some(server) = c.server() {
        assert_eq!(server.write_count(), 0);
    }
    assert!(!dir.path().join("record.json").exists());
    let r = run_module(
        "autoscaling",
        &args(
            &c,
            dir.path(),
            json!({"state": "paused", "allow_managed": true}),
        ),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["changed"], true);
    assert!(
        r.json["warnings"].to_string().contains("allow_managed"),
        "{}",
        r.json["warnings"]
    );
}

#[test]
fn a_malformed_annotation_fails_only_that_autoscaler() {
    let mut objects = dump_objects();
    for o in objects
        .iter_mut()
        .filter(|o| o["kind"] == "MachineAutoscaler")
    {
        let name = o["metadata"]["name"].as_str().unwrap().to_string();
        o["spec"]["minReplicas"] = json!(1);
        o["spec"]["maxReplicas"] = json!(1);
        let value = if name == AUTOSCALED[0] {
            "min=0,max=5"
        } else {
            r#"{"minReplicas":0,"maxReplicas":5}"#
        };
        o["metadata"]["annotations"] = json!({PAUSED: value});
    }
    let c = cluster_with(&objects);
    let dir = tmp();
    let r = run_module(
        "autoscaling",
        &args(&c, dir.path(), json!({"state": "resumed"})),
    );
    assert_eq!(r.json["failed"], true, "{}", r.stdout);
    assert_eq!(r.code, 1);
    let msg = r.json["msg"].as_str().unwrap();
    assert!(
        msg.contains(AUTOSCALED[0]) && msg.contains(PAUSED) && msg.contains("changed 2"),
        "{msg}"
    );
    let bad = read_ma(&c, AUTOSCALED[0]);
    assert_eq!(bad["metadata"]["annotations"][PAUSED], "min=0,max=5");
    assert_eq!(bad["spec"]["maxReplicas"], 1);
    assert_eq!(autoscaler(&r.json, AUTOSCALED[0])["changed"], false);
    for name in &AUTOSCALED[1..] {
        assert_eq!(comparable(read_ma(&c, name)), dump_ma(name));
    }
}

#[test]
fn only_the_selected_machinesets_are_paused() {
    let c = cluster_with_dump();
    let dir = tmp();
    let r = run_module(
        "autoscaling",
        &args(
            &c,
            dir.path(),
            json!({"state": "paused", "machinesets": [AUTOSCALED[1], "no-such-machineset"],
                   "label_selector": "machine.openshift.io/cluster-api-cluster=build09-kcxpl"}),
        ),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    let list = r.json["autoscalers"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["name"], AUTOSCALED[1]);
    assert!(
        r.json["warnings"]
            .to_string()
            .contains("no-such-machineset"),
        "{}",
        r.json["warnings"]
    );
    assert_eq!(read_ma(&c, AUTOSCALED[1])["spec"]["maxReplicas"], 1);
    for name in [AUTOSCALED[0], AUTOSCALED[2]] {
        assert_eq!(comparable(read_ma(&c, name)), dump_ma(name));
    }
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
fn machinesets_with_autoscaler_annotations_but_no_machineautoscaler_are_reported() {
    let mut objects = dump_objects();
    let x86 = "build09-kcxpl-worker-us-east-1a";
    let ms = objects
        .iter_mut()
        .find(|o| o["kind"] == "MachineSet" && o["metadata"]["name"] == x86)
        .unwrap();
    ms["metadata"]["annotations"]
        ["machine.openshift.io/cluster-api-autoscaler-node-group-min-size"] = json!("1");
    ms["metadata"]["annotations"]
        ["machine.openshift.io/cluster-api-autoscaler-node-group-max-size"] = json!("4");
    // And no ClusterAutoscaler.
    objects.retain(|o| o["kind"] != "ClusterAutoscaler");
    let c = cluster_with(&objects);
    let dir = tmp();
    let r = run_module(
        "autoscaling",
        &args(
            &c,
            dir.path(),
            json!({"state": "paused", "_ansible_check_mode": true}),
        ),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["annotated_without_autoscaler"], json!([x86]));
    assert_eq!(r.json["cluster_autoscaler"], false);
    assert!(
        r.json["msg"]
            .as_str()
            .unwrap()
            .contains("no ClusterAutoscaler"),
        "{}",
        r.json["msg"]
    );
    let w = r.json["warnings"].to_string();
    assert!(w.contains(x86) && w.contains("no MachineAutoscaler"), "{w}");
}

#[test]
fn the_output_matches_the_output_schema() {
    let c = cluster_with_dump();
    let dir = tmp();
    let r = run_module(
        "autoscaling",
        &args(
            &c,
            dir.path(),
            json!({"state": "paused", "_ansible_diff": true}),
        ),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    let (_, input, output) = ocp_bootimage::modules::schemas()
        .into_iter()
        .find(|(m, _, _)| *m == "autoscaling")
        .expect("autoscaling is registered");
    assert_eq!(
        input.as_value()["properties"]["state"]["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["const"].clone())
            .collect::<Vec<_>>(),
        vec![json!("paused"), json!("resumed")]
    );
    let validator = jsonschema::validator_for(output.as_value()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&r.json)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn a_wrong_state_is_refused_with_the_choices() {
    let r = run_module("autoscaling", &json!({"state": "frozen"}));
    assert_eq!(r.json["failed"], true);
    assert_eq!(
        r.json["msg"],
        "value of state must be one of: paused, resumed, got: frozen"
    );
    let r = run_module("autoscaling", &json!({}));
    assert_eq!(r.json["msg"], "missing required arguments: state");
}
