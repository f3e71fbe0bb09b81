//! Observed builds (`bootimage_info` with `nodes: true`): what the youngest node of each
//! MachineSet booted, read from its machine-config-daemon log, over HTTP and from a dump.
//!
//! These tests use the in-process test API server directly: pod logs come from a
//! kubelet, which a bare kube-apiserver does not have, so they cannot run against one.

mod common;

use std::path::Path;
use std::time::Instant;

use common::{fixture, machineset, objects_in, objects_under, root, run_module};
use serde_json::{json, Value};
use test_apiserver::{Fault, RequestRecord, TestApiServer};

const MCO: &str = "openshift-machine-config-operator";
const MAPI: &str = "openshift-machine-api";

fn shipped_dump() -> std::path::PathBuf {
    root().join("examples/cluster-dump")
}

/// A server holding every object of a dump directory, with its pod log files as pod logs.
fn server_with(dir: &Path) -> TestApiServer {
    let server = TestApiServer::start().expect("start test API server");
    for o in objects_under(dir) {
        server.insert(o).expect("insert");
    }
    let dump = ocp_bootimage::kube::dump::load(dir).expect("load dump");
    for log in &dump.logs {
        let text = std::fs::read_to_string(&log.file).expect("read log");
        let ns = log.namespace.as_deref().unwrap_or(MCO);
        server.set_pod_log(ns, &log.pod, log.container.as_deref(), &text);
    }
    server.clear_requests();
    server
}

fn kubeconfig(server: &TestApiServer) -> Value {
    json!(server.kubeconfig_path())
}

/// Drops what legitimately differs between a live read and a dump read.
fn comparable(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("invocation");
    }
    v
}

fn count(reqs: &[RequestRecord], f: impl Fn(&RequestRecord) -> bool) -> usize {
    reqs.iter().filter(|q| f(q)).count()
}

fn is_log(q: &RequestRecord) -> bool {
    q.path.ends_with("/log")
}

fn log_pods(reqs: &[RequestRecord]) -> Vec<String> {
    let mut pods: Vec<String> = reqs
        .iter()
        .filter(|q| is_log(q))
        .filter_map(|q| q.path.rsplit('/').nth(1).map(str::to_string))
        .collect();
    pods.sort();
    pods
}

#[test]
fn live_observed_builds_equal_the_dump_and_cost_three_lists_and_one_log_per_machineset() {
    let server = server_with(&shipped_dump());
    let live = run_module(
        "bootimage_info",
        &json!({"kubeconfig": kubeconfig(&server), "nodes": true}),
    );
    assert_eq!(live.json["failed"], false, "{}", live.stdout);
    let offline = run_module(
        "bootimage_info",
        &json!({"dump_dir": shipped_dump(), "nodes": true}),
    );
    assert_eq!(
        comparable(live.json.clone()),
        comparable(offline.json.clone())
    );

    let r = &live.json;
    let a = machineset(r, "build09-kcxpl-worker-aarch64-us-east-2a");
    assert_eq!(a["observed_build"], "418.94.202501221327-0");
    assert_eq!(
        a["observed_machine"],
        "build09-kcxpl-worker-aarch64-us-east-2a-7xk2p"
    );
    assert_eq!(
        a["observed_node"],
        "ip-10-0-12-34.us-east-2.compute.internal"
    );
    assert_eq!(a["observed_at"], "2025-02-03T09:10:00Z");
    assert_eq!(a["observed_reason"], Value::Null);
    assert_eq!(a["observed_older_than_image"], false);
    assert_eq!(a["observed_drift"], false);

    let b = machineset(r, "build09-kcxpl-worker-aarch64-us-east-2b");
    assert_eq!(b["observed_build"], "415.92.202407091355-0");
    assert_eq!(b["current_build"], "418.94.202501221327-0");
    assert_eq!(b["observed_older_than_image"], true);
    assert_eq!(b["status"], "outdated", "the status stays the image's");

    // A log without the aleph line (rotated): null with the reason.
    let c = machineset(r, "build09-kcxpl-worker-aarch64-us-east-2c");
    assert_eq!(c["observed_build"], Value::Null);
    assert_eq!(
        c["observed_node"],
        "ip-10-0-78-90.us-east-2.compute.internal"
    );
    let why = c["observed_reason"].as_str().unwrap();
    assert!(
        why.contains("machine-config-daemon-t6w5r")
            && why.contains("no `CoreOS aleph version` line"),
        "{why}"
    );

    // Two Machines: the younger one's node, in the old single-line format.
    let x = machineset(r, "build09-kcxpl-worker-us-east-1a");
    assert_eq!(x["observed_build"], "43.81.202001142154.0");
    assert_eq!(
        x["observed_machine"],
        "build09-kcxpl-worker-us-east-1a-ktz5n"
    );
    assert_eq!(x["observed_at"], "2020-02-11T08:30:00Z");

    let ob = &r["observed_builds"];
    assert_eq!(ob["enabled"], true);
    assert_eq!(
        (
            &ob["machines"],
            &ob["nodes"],
            &ob["mcd_pods"],
            &ob["logs_read"],
            &ob["observed"]
        ),
        (&json!(5), &json!(5), &json!(5), &json!(4), &json!(3))
    );
    assert_eq!(
        ob["older_than_image"],
        json!([{"machineset": "build09-kcxpl-worker-aarch64-us-east-2b",
                "machine": "build09-kcxpl-worker-aarch64-us-east-2b-m8q4d",
                "node": "ip-10-0-45-67.us-east-2.compute.internal",
                "observed_build": "415.92.202407091355-0",
                "current_build": "418.94.202501221327-0"}])
    );
    assert_eq!(ob["drift"], json!([]));

    let reqs = server.requests();
    assert!(reqs.iter().all(|q| q.method == "GET"), "{reqs:?}");
    assert_eq!(server.write_count(), 0);
    assert_eq!(
        count(&reqs, |q| q.path.ends_with("/machines")),
        1,
        "{reqs:?}"
    );
    assert_eq!(count(&reqs, |q| q.path == "/api/v1/nodes"), 1, "{reqs:?}");
    let pod_lists: Vec<&RequestRecord> = reqs
        .iter()
        .filter(|q| q.path == format!("/api/v1/namespaces/{MCO}/pods"))
        .collect();
    assert_eq!(pod_lists.len(), 1, "{reqs:?}");
    assert!(pod_lists[0]
        .query
        .as_deref()
        .unwrap_or_default()
        .contains("labelSelector=k8s-app%3Dmachine-config-daemon"));
    // Only the youngest Machine's pod of each MachineSet: not machine-config-daemon-2lq7c.
    assert_eq!(
        log_pods(&reqs),
        [
            "machine-config-daemon-4hx9z",
            "machine-config-daemon-8kq2m",
            "machine-config-daemon-t6w5r",
            "machine-config-daemon-w9fbh"
        ]
    );
    for q in reqs.iter().filter(|q| is_log(q)) {
        let query = q.query.as_deref().unwrap_or_default();
        assert!(
            query.contains("container=machine-config-daemon") && query.contains("limitBytes=65536"),
            "{q:?}"
        );
    }
    // The audit's 13 (the installer's four user-data secrets are one GET each; the
    // ControlPlaneMachineSet one more since issue 13), 3 LISTs, 4 logs.
    assert_eq!(reqs.len(), 13 + 3 + 4, "{reqs:?}");
}

#[test]
fn without_nodes_nothing_more_is_read() {
    let server = server_with(&shipped_dump());
    let r = run_module(
        "bootimage_info",
        &json!({"kubeconfig": kubeconfig(&server)}),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["observed_builds"]["enabled"], false);
    let a = machineset(&r.json, "build09-kcxpl-worker-aarch64-us-east-2a");
    assert_eq!(a["observed_build"], Value::Null);
    assert_eq!(a["observed_reason"], Value::Null);
    let reqs = server.requests();
    assert_eq!(
        count(&reqs, |q| q.path.ends_with("/machines")
            || q.path.ends_with("/nodes")
            || q.path.contains("/pods")),
        0,
        "{reqs:?}"
    );
}

#[test]
fn forbidden_pod_logs_are_a_warning_and_null_builds_not_a_failure() {
    let server = server_with(&shipped_dump());
    let plain = run_module(
        "bootimage_info",
        &json!({"kubeconfig": kubeconfig(&server)}),
    );
    server.deny("get", "pods/log");
    let r = run_module(
        "bootimage_info",
        &json!({"kubeconfig": kubeconfig(&server), "nodes": true}),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["summary"], plain.json["summary"]);
    assert_eq!(r.json["compliant"], plain.json["compliant"]);
    for m in r.json["machinesets"].as_array().unwrap() {
        assert_eq!(m["observed_build"], Value::Null, "{m}");
        let why = m["observed_reason"].as_str().unwrap();
        assert!(
            why.contains("forbidden") && why.contains("pods/log"),
            "{why}"
        );
    }
    let warnings = r.json["warnings"].to_string();
    assert!(
        warnings.contains("forbidden") && warnings.contains("`get` verb on `pods/log`"),
        "{warnings}"
    );
    assert_eq!(r.json["observed_builds"]["logs_read"], 0);
}

#[test]
fn forbidden_machines_leave_reasons_and_a_warning() {
    let server = server_with(&shipped_dump());
    server.deny("list", "machines");
    let r = run_module(
        "bootimage_info",
        &json!({"kubeconfig": kubeconfig(&server), "nodes": true}),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    let a = machineset(&r.json, "build09-kcxpl-worker-aarch64-us-east-2a");
    let why = a["observed_reason"].as_str().unwrap();
    assert!(
        why.starts_with("Machines could not be read: forbidden"),
        "{why}"
    );
    assert!(r.json["warnings"]
        .to_string()
        .contains("could not read Machines"));
    assert_eq!(count(&server.requests(), is_log), 0);
}

fn machine(name: &str, ms: &str, created: &str, node: &str) -> Value {
    json!({"apiVersion": "machine.openshift.io/v1beta1", "kind": "Machine",
           "metadata": {"name": name, "namespace": MAPI, "creationTimestamp": created,
                        "labels": {"machine.openshift.io/cluster-api-machineset": ms}},
           "spec": {},
           "status": {"phase": "Running", "nodeRef": {"kind": "Node", "name": node}}})
}

fn node(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
}

fn mcd_pod(name: &str, node: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": MCO, "labels": {"k8s-app": "machine-config-daemon"}},
           "spec": {"nodeName": node, "containers": [{"name": "machine-config-daemon", "image": "mcd"}]},
           "status": {"phase": "Running"}})
}

/// A current MCD log (JSON form) naming `build`.
fn json_log(build: &str) -> String {
    format!(
        "I0203 09:14:05.104562    2281 coreos.go:54] CoreOS aleph version: mtime=2025-01-22 13:58:41.2 +0000 UTC\n\
         {{\n   \"build\": \"{build}\",\n   \"imgid\": \"rhcos-{build}-vmware.x86_64.ova\"\n}}\n"
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn status_comes_from_the_observed_build_for_a_vsphere_template_and_drift_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&shipped_dump(), dir.path());
    // A vSphere MachineSet: its template name says nothing about the build.
    let vsphere = objects_in(&fixture(
        "machinesets/vsphere/installer-generated-4.9-ocp-cl02-worker-machineset-0.yaml",
    ));
    // A copy of the 2a set whose youngest node booted a newer build than its image: drift.
    let mut drifted = objects_under(&shipped_dump())
        .into_iter()
        .find(|o| {
            o["kind"] == "MachineSet"
                && o["metadata"]["name"] == "build09-kcxpl-worker-aarch64-us-east-2a"
        })
        .unwrap();
    drifted["metadata"]["name"] = json!("build09-kcxpl-worker-aarch64-us-east-2d");
    let mut objects = vsphere.clone();
    objects.extend([
        drifted,
        machine(
            "ocp-cl02-xdqkk-worker-old",
            "ocp-cl02-xdqkk-worker",
            "2021-11-02T10:00:00Z",
            "worker-old",
        ),
        machine(
            "ocp-cl02-xdqkk-worker-new",
            "ocp-cl02-xdqkk-worker",
            "2025-03-01T10:00:00Z",
            "worker-new",
        ),
        node("worker-old"),
        node("worker-new"),
        mcd_pod("mcd-old", "worker-old"),
        mcd_pod("mcd-new", "worker-new"),
        machine(
            "build09-kcxpl-worker-aarch64-us-east-2d-a1b2c",
            "build09-kcxpl-worker-aarch64-us-east-2d",
            "2026-02-10T10:00:00Z",
            "worker-2d",
        ),
        node("worker-2d"),
        mcd_pod("mcd-2d", "worker-2d"),
    ]);
    std::fs::write(
        dir.path().join("extra.json"),
        serde_json::to_string(&json!({"apiVersion": "v1", "kind": "List", "items": objects}))
            .unwrap(),
    )
    .unwrap();
    for (pod, build) in [
        ("mcd-old", "49.84.202110081407-0"),
        ("mcd-new", "418.94.202501221327-0"),
        ("mcd-2d", "418.94.202602022246-0"),
    ] {
        let p = dir
            .path()
            .join(format!("pods/{MCO}/{pod}/machine-config-daemon.log"));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, json_log(build)).unwrap();
    }
    let server = server_with(dir.path());
    let live = run_module(
        "bootimage_info",
        &json!({"kubeconfig": kubeconfig(&server), "nodes": true}),
    );
    let offline = run_module(
        "bootimage_info",
        &json!({"dump_dir": dir.path(), "nodes": true}),
    );
    assert_eq!(live.json["failed"], false, "{}", live.stdout);
    assert_eq!(comparable(live.json.clone()), comparable(offline.json));

    let v = machineset(&live.json, "ocp-cl02-xdqkk-worker");
    assert_eq!(v["platform"], "vsphere");
    assert_eq!(v["current_build"], Value::Null);
    assert_eq!(v["target_build"], "418.94.202602022246-0");
    assert_eq!(v["observed_build"], "418.94.202501221327-0");
    assert_eq!(v["observed_machine"], "ocp-cl02-xdqkk-worker-new");
    assert_eq!(v["status"], "outdated", "{v}");
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.contains("youngest node worker-new booted 418.94.202501221327-0")
            && reason.contains("older than the stream's 418.94.202602022246-0"),
        "{reason}"
    );
    let ob = &live.json["observed_builds"];
    assert_eq!(ob["status_from_observed"], json!(["ocp-cl02-xdqkk-worker"]));
    assert_eq!(live.json["summary"]["unknown"], 0);

    let d = machineset(&live.json, "build09-kcxpl-worker-aarch64-us-east-2d");
    assert_eq!(d["observed_drift"], true);
    assert_eq!(d["observed_older_than_image"], false);
    assert_eq!(
        ob["drift"][0]["machineset"],
        "build09-kcxpl-worker-aarch64-us-east-2d"
    );
    assert_eq!(ob["drift"][0]["observed_build"], "418.94.202602022246-0");
    let warnings = live.json["warnings"].to_string();
    assert!(
        warnings.contains("drift: MachineSet build09-kcxpl-worker-aarch64-us-east-2d"),
        "{warnings}"
    );
    assert_eq!(
        log_pods(&server.requests()).len(),
        6,
        "one log per MachineSet with a pod"
    );
}

#[test]
fn the_cli_shows_observed_builds_with_nodes() {
    let out = std::process::Command::new(common::binary())
        .args(["audit", "--from-dir"])
        .arg(shipped_dump())
        .args(["--nodes", "-o", "table"])
        .output()
        .unwrap();
    // Prose is wrapped at word boundaries: compare the words.
    let text = String::from_utf8_lossy(&out.stdout);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.contains("Observed build"), "{text}");
    assert!(
        text.contains("Observed build09-kcxpl-worker-aarch64-us-east-2b: node ip-10-0-45-67.us-east-2.compute.internal")
            && text.contains("[booted before the image last changed]"),
        "{text}"
    );
    let out = std::process::Command::new(common::binary())
        .args(["audit", "--from-dir"])
        .arg(shipped_dump())
        .args(["-o", "table"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("Observed"), "{text}");
}

/// 100 MachineSets, each with a Machine, a Node, an MCD pod and its log.
fn hundred_machinesets() -> TestApiServer {
    let server = server_with(&shipped_dump());
    let template = objects_under(&shipped_dump())
        .into_iter()
        .find(|o| {
            o["kind"] == "MachineSet"
                && o["metadata"]["name"] == "build09-kcxpl-worker-aarch64-us-east-2a"
        })
        .unwrap();
    for i in 0..100 {
        let ms_name = format!("generated-{i:03}");
        let mut ms = template.clone();
        ms["metadata"]["name"] = json!(ms_name);
        let node_name = format!("node-{i:03}");
        let pod = format!("mcd-{i:03}");
        for o in [
            ms,
            machine(
                &format!("{ms_name}-x"),
                &ms_name,
                "2025-02-03T09:10:00Z",
                &node_name,
            ),
            node(&node_name),
            mcd_pod(&pod, &node_name),
        ] {
            server.insert(o).unwrap();
        }
        server.set_pod_log(
            MCO,
            &pod,
            Some("machine-config-daemon"),
            &json_log("418.94.202501221327-0"),
        );
    }
    server.clear_requests();
    server
}

#[test]
fn hundred_machinesets_with_nodes_mean_three_lists_and_bounded_concurrent_logs() {
    let server = hundred_machinesets();
    let args = json!({"kubeconfig": kubeconfig(&server), "nodes": true});
    let start = Instant::now();
    let r = run_module("bootimage_info", &args);
    let elapsed = start.elapsed();
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["summary"]["total"], 104);
    assert_eq!(r.json["observed_builds"]["observed"], 103);
    let reqs = server.requests();
    let logs = count(&reqs, is_log);
    assert_eq!(logs, 104, "one log per MachineSet with a pod");
    assert_eq!(count(&reqs, |q| q.path.ends_with("/machines")), 1);
    assert_eq!(count(&reqs, |q| q.path == "/api/v1/nodes"), 1);
    assert_eq!(
        count(&reqs, |q| q.path
            == format!("/api/v1/namespaces/{MCO}/pods")),
        1
    );
    assert_eq!(reqs.len(), 13 + 3 + 104);
    eprintln!(
        "audit of 104 MachineSets with nodes: {} requests ({logs} logs), {elapsed:?}",
        reqs.len()
    );

    // Every log answer 50 ms late: sequential reads would take 104 × 50 ms = 5.2 s.
    server.clear_requests();
    server.inject(Fault::delay(50).on_path("/log").times(1000));
    let start = Instant::now();
    let r = run_module("bootimage_info", &args);
    let elapsed = start.elapsed();
    assert_eq!(r.json["observed_builds"]["observed"], 103);
    eprintln!(
        "same with 50 ms per log answer: {} requests, {elapsed:?} (sequential would be ≥ 5.2 s)",
        server.requests().len()
    );
    server.clear_faults();

    server.clear_requests();
    let start = Instant::now();
    let r = run_module(
        "bootimage_info",
        &json!({"kubeconfig": kubeconfig(&server)}),
    );
    assert_eq!(r.json["summary"]["total"], 104);
    eprintln!(
        "same without nodes: {} requests, {:?}",
        server.requests().len(),
        start.elapsed()
    );
}
