//! Boot image skew enforcement and the upgrade gate (issue 13, sections 1 and 2), through
//! the built binary run the way Ansible runs it, against the shipped cluster dump (4.18.1,
//! four MachineSets: three boot 418.94.202501221327-0, one 43.81.202001142154.0) with a
//! MachineConfiguration carrying the 4.22 `bootImageSkewEnforcement` fields — in the
//! in-process test API server, or a real kube-apiserver (`OCP_BOOTIMAGE_TEST_KUBECONFIG`;
//! its CRD from openshift/api stores the fields, so the values compared are what it
//! stored). Tests that need the request log return early there.

mod common;

use std::path::Path;

use common::{objects_under, root, run_module, with_v3_stubs, TestCluster};
use serde_json::{json, Value};

/// The oldest boot image the dump's MachineSets boot (MachineSet build09-kcxpl-worker-us-east-1a).
const OLDEST: &str = "43.81.202001142154.0";
/// The build the other three boot (and the stream's target after the swap).
const AARCH64: &str = "418.94.202501221327-0";
const TARGET: &str = "418.94.202602022246-0";

fn dump_objects() -> Vec<Value> {
    with_v3_stubs(objects_under(&root().join("examples/cluster-dump")))
}

/// The dump with MachineConfiguration `cluster` given `spec` / `status` skew fields.
fn objects_with_skew(spec: Option<Value>, status: Option<Value>) -> Vec<Value> {
    dump_objects()
        .into_iter()
        .map(|mut o| {
            if o["kind"] == "MachineConfiguration" {
                if let Some(s) = &spec {
                    o["spec"]["bootImageSkewEnforcement"] = s.clone();
                }
                if let Some(s) = &status {
                    o["status"] = json!({"bootImageSkewEnforcementStatus": s});
                }
            }
            o
        })
        .collect()
}

fn cluster_with(objects: &[Value]) -> TestCluster {
    let mut c = TestCluster::start();
    c.load(objects);
    c.clear_requests();
    c
}

fn args(c: &TestCluster, dir: &Path, extra: Value) -> Value {
    let mut a = json!({"kubeconfig": c.kubeconfig(), "record_path": dir.join("record.json")});
    for (k, v) in extra.as_object().unwrap() {
        a[k] = v.clone();
    }
    a
}

fn manual_ocp(v: &str) -> Value {
    json!({"mode": "Manual", "manual": {"mode": "OCPVersion", "ocpVersion": v}})
}

fn manual_rhcos(v: &str) -> Value {
    json!({"mode": "Manual", "manual": {"mode": "RHCOSVersion", "rhcosVersion": v}})
}

fn stored_skew(c: &TestCluster) -> Value {
    let mc = c.get("MachineConfiguration", None, "cluster").unwrap();
    mc["spec"]["bootImageSkewEnforcement"].clone()
}

fn audit(c: &TestCluster) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let r = run_module(
        "bootimage_info",
        &args(c, dir.path(), json!({"gather_subset": ["min"]})),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    r.json
}

/// Each mode (Manual OCPVersion, Manual RHCOSVersion, Automatic, None, absent) × the
/// oldest boot image in use older than / equal to / newer than the record.
#[test]
fn the_audit_judges_every_mode_against_the_oldest_boot_image_in_use() {
    // (record relative to the oldest in use 43.81…: the oldest is older than a newer record,
    // equal to an equal one, newer than an older one.)
    type Case = (
        &'static str,
        Option<Value>,
        Option<Value>,
        Option<bool>,
        Option<bool>,
    );
    let cases: Vec<Case> = vec![
        // name, spec, status, overstated, upgradeable
        (
            "manual ocp, oldest older",
            Some(manual_ocp("4.18.0")),
            Some(manual_ocp("4.18.0")),
            Some(true),
            Some(true),
        ),
        (
            "manual ocp, oldest equal",
            Some(manual_ocp("4.3.0")),
            Some(manual_ocp("4.3.0")),
            Some(false),
            Some(false),
        ),
        (
            "manual ocp, oldest newer",
            Some(manual_ocp("4.2.0")),
            Some(manual_ocp("4.2.0")),
            Some(false),
            Some(false),
        ),
        (
            "manual rhcos, oldest older",
            Some(manual_rhcos(AARCH64)),
            Some(manual_rhcos(AARCH64)),
            Some(true),
            Some(true),
        ),
        (
            "manual rhcos, oldest newer",
            Some(manual_rhcos("42.80.201910021200-0")),
            Some(manual_rhcos("42.80.201910021200-0")),
            Some(false),
            Some(false),
        ),
        (
            "automatic, oldest older",
            None,
            Some(json!({"mode": "Automatic", "automatic": {"ocpVersion": "4.18.1"}})),
            Some(true),
            Some(true),
        ),
        (
            "none, oldest older",
            Some(json!({"mode": "None"})),
            Some(json!({"mode": "None"})),
            None,
            Some(true),
        ),
    ];
    for (name, spec, status, overstated, upgradeable) in cases {
        let automatic = status.as_ref().is_some_and(|s| s["mode"] == "Automatic");
        let mut objects = objects_with_skew(spec, status);
        if automatic {
            // The CRD wants every MachineSet managed by MCO in Automatic mode.
            for o in &mut objects {
                if o["kind"] == "MachineConfiguration" {
                    o["spec"]["managedBootImages"]["machineManagers"][0]["selection"]["mode"] =
                        "All".into();
                }
            }
        }
        let c = cluster_with(&objects);
        let r = audit(&c);
        let k = &r["skew_enforcement"];
        assert_eq!(k["supported"], true, "{name}: {k}");
        assert_eq!(k["oldest_in_use"]["build"], OLDEST, "{name}: {k}");
        assert_eq!(k["oldest_in_use"]["ocp_version"], "4.3.0", "{name}");
        assert_eq!(k["oldest_in_use"]["rhel_version"], "8.1", "{name}");
        assert_eq!(k["oldest_in_use_complete"], true, "{name}");
        assert_eq!(k["oldest_meets_floor"], false, "{name}");
        assert_eq!(k["overstated"], json!(overstated), "{name}: {k}");
        assert_eq!(k["upgradeable"], json!(upgradeable), "{name}: {k}");
        assert_eq!(k["floor_ocp_version"], "4.13.0");
        assert_eq!(k["floor_rhel_version"], "9.2");
        let reasons = r["noncompliant_reasons"].to_string();
        assert_eq!(
            reasons.contains("overstates"),
            overstated == Some(true),
            "{name}: {reasons}"
        );
        assert_eq!(
            reasons.contains("blocks minor upgrades"),
            upgradeable == Some(false),
            "{name}: {reasons}"
        );
    }
    // Absent: a 4.18 MachineConfiguration has no skew enforcement.
    let c = cluster_with(&dump_objects());
    let r = audit(&c);
    assert_eq!(r["skew_enforcement"]["supported"], false);
    assert!(!r["noncompliant_reasons"].to_string().contains("skew"));
}

/// Check mode (no write, the diff of the real run), the real run, idempotence and rollback.
#[test]
fn the_step_records_the_oldest_boot_image_with_check_mode_idempotence_and_rollback() {
    let before = manual_ocp("4.22.0");
    let c = cluster_with(&objects_with_skew(
        Some(before.clone()),
        Some(manual_ocp("4.22.0")),
    ));
    let dir = tempfile::tempdir().unwrap();
    let a = args(&c, dir.path(), json!({"run_id": "skew-1"}));
    let mut check = a.clone();
    check["_ansible_check_mode"] = true.into();
    check["_ansible_diff"] = true.into();
    let dry = run_module("skew_enforcement", &check);
    assert_eq!(dry.json["failed"], false, "{}", dry.stdout);
    assert_eq!(dry.json["changed"], true, "{}", dry.stdout);
    // 43.81.…0 has a dot serial: not an rhcosVersion, so `auto` records OCP 4.3.0.
    let want = manual_ocp("4.3.0");
    assert_eq!(dry.json["skew_record"]["after"], want);
    if let Some(w) = c.writes() {
        assert!(w.is_empty(), "check mode wrote: {w:?}");
    }
    assert_eq!(stored_skew(&c), before, "check mode changed nothing");

    let mut real = a.clone();
    real["_ansible_diff"] = true.into();
    let run = run_module("skew_enforcement", &real);
    assert_eq!(run.json["failed"], false, "{}", run.stdout);
    assert_eq!(run.json["changed"], true);
    assert_eq!(
        run.json["diff"], dry.json["diff"],
        "same diff as check mode"
    );
    assert_eq!(stored_skew(&c), want, "what the server stored");
    assert!(run.json["msg"].as_str().unwrap().contains("4.3.0"));

    let again = run_module("skew_enforcement", &real);
    assert_eq!(again.json["changed"], false, "{}", again.stdout);
    assert_eq!(again.json["skew_record"]["action"], "unchanged");

    let rb = run_module(
        "rollback",
        &args(&c, dir.path(), json!({"run_id": "skew-1"})),
    );
    assert_eq!(rb.json["failed"], false, "{}", rb.stdout);
    assert_eq!(rb.json["changed"], true, "{}", rb.stdout);
    assert_eq!(
        stored_skew(&c),
        before,
        "rollback restored the previous spec"
    );
}

/// After the swap every MachineSet boots the stream's build: the step records it as an
/// rhcosVersion; `record_as: ocp` gives its minor; an unknown build refuses.
#[test]
fn after_the_swap_the_record_follows_and_unknown_builds_refuse() {
    let c = cluster_with(&objects_with_skew(Some(manual_ocp("4.3.0")), None));
    let dir = tempfile::tempdir().unwrap();
    let swap = run_module(
        "machineset_bootimage",
        &args(&c, dir.path(), json!({"run_id": "u-1"})),
    );
    assert_eq!(swap.json["failed"], false, "{}", swap.stdout);
    let r = run_module(
        "skew_enforcement",
        &args(&c, dir.path(), json!({"run_id": "u-1"})),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(stored_skew(&c), manual_rhcos(TARGET));
    let r = run_module(
        "skew_enforcement",
        &args(&c, dir.path(), json!({"run_id": "u-1", "record_as": "ocp"})),
    );
    assert_eq!(stored_skew(&c), manual_ocp("4.18.0"), "{}", r.stdout);

    // An image whose build cannot be read: refused, nothing changed. (One cluster at a time:
    // on a real server a second one would wait for the first's lock.)
    drop(c);
    let mut objects = objects_with_skew(Some(manual_ocp("4.3.0")), None);
    for o in &mut objects {
        if o["kind"] == "MachineSet" && o["metadata"]["name"] == "build09-kcxpl-worker-us-east-1a" {
            o["spec"]["template"]["spec"]["providerSpec"]["value"]["ami"]["id"] =
                "ami-0123456789abcdef0".into();
        }
    }
    let c = cluster_with(&objects);
    let r = run_module("skew_enforcement", &args(&c, dir.path(), json!({})));
    assert_eq!(r.json["failed"], true, "{}", r.stdout);
    let msg = r.json["msg"].as_str().unwrap();
    assert!(
        msg.contains("build09-kcxpl-worker-us-east-1a") && msg.contains("unknown"),
        "{msg}"
    );
    assert_eq!(stored_skew(&c), manual_ocp("4.3.0"));
}

/// Where MCO enforces Automatic mode, Manual is written only when told.
#[test]
fn automatic_mode_is_refused_unless_allowed() {
    let mut objects = objects_with_skew(
        None,
        Some(json!({"mode": "Automatic", "automatic": {"ocpVersion": "4.18.1"}})),
    );
    for o in &mut objects {
        if o["kind"] == "MachineConfiguration" {
            o["spec"]["managedBootImages"]["machineManagers"][0]["selection"]["mode"] =
                "All".into();
        }
    }
    let c = cluster_with(&objects);
    let dir = tempfile::tempdir().unwrap();
    let r = run_module("skew_enforcement", &args(&c, dir.path(), json!({})));
    assert_eq!(r.json["failed"], true, "{}", r.stdout);
    assert!(r.json["msg"].as_str().unwrap().contains("allow_automatic"));
    assert_eq!(stored_skew(&c), Value::Null, "nothing written");
    let r = run_module(
        "skew_enforcement",
        &args(&c, dir.path(), json!({"allow_automatic": true})),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(stored_skew(&c), manual_ocp("4.3.0"));
}

/// The dump with ClusterVersion updating from 4.18.1 to 4.19.2.
fn updating(progressing: bool) -> Vec<Value> {
    dump_objects()
        .into_iter()
        .map(|mut o| {
            if o["kind"] == "ClusterVersion" {
                let st = &mut o["status"];
                st["desired"]["version"] = "4.19.2".into();
                let history = json!([
                    {"version": "4.19.2", "state": if progressing {"Partial"} else {"Completed"},
                     "startedTime": "2025-03-01T10:00:00Z", "completionTime": if progressing {Value::Null} else {json!("2025-03-01T11:00:00Z")},
                     "image": "quay.io/openshift-release-dev/ocp-release@sha256:1111", "verified": false},
                    st["history"][0].clone()
                ]);
                st["history"] = history;
                for cond in st["conditions"].as_array_mut().unwrap() {
                    if cond["type"] == "Progressing" {
                        cond["status"] = if progressing { "True" } else { "False" }.into();
                    }
                }
            }
            o
        })
        .collect()
}

/// Issue 13 section 2: Progressing=True, desired 4.19.2, last completed 4.18.1.
#[test]
fn the_swap_waits_for_the_update_unless_allow_progressing() {
    let c = cluster_with(&updating(true));
    let dir = tempfile::tempdir().unwrap();
    let before = c.get(
        "MachineSet",
        Some("openshift-machine-api"),
        "build09-kcxpl-worker-us-east-1a",
    );
    for check_mode in [true, false] {
        let mut a = args(&c, dir.path(), json!({}));
        a["_ansible_check_mode"] = check_mode.into();
        for module in ["machineset_bootimage", "skew_enforcement", "stub_ignition"] {
            let r = run_module(module, &a);
            assert_eq!(r.json["failed"], true, "{module}: {}", r.stdout);
            let msg = r.json["msg"].as_str().unwrap();
            assert!(
                msg.contains("4.19.2")
                    && msg.contains("4.18.1")
                    && msg.contains("allow_progressing"),
                "{module}: {msg}"
            );
        }
    }
    if let Some(w) = c.writes() {
        assert!(w.is_empty(), "refused runs wrote: {w:?}");
    }
    assert_eq!(
        before,
        c.get(
            "MachineSet",
            Some("openshift-machine-api"),
            "build09-kcxpl-worker-us-east-1a"
        )
    );
    // Pausing autoscaling is not gated.
    let r = run_module(
        "autoscaling",
        &args(&c, dir.path(), json!({"state": "paused"})),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    let r = run_module(
        "machineset_bootimage",
        &args(&c, dir.path(), json!({"allow_progressing": true})),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["changed"], true);
    assert!(r.json["warnings"].to_string().contains("allow_progressing"));
    // The audit says so.
    let r = audit(&c);
    assert_eq!(r["update_gate"]["update_in_progress"], true);
    assert_eq!(r["update_gate"]["desired_version"], "4.19.2");
    assert_eq!(r["update_gate"]["last_completed_version"], "4.18.1");
}

/// A completed 4.19.2 whose coreos-bootimages ConfigMap still names 4.18.1: stale.
#[test]
fn a_stale_configmap_closes_the_gate() {
    let c = cluster_with(&updating(false));
    let dir = tempfile::tempdir().unwrap();
    let r = run_module("machineset_bootimage", &args(&c, dir.path(), json!({})));
    assert_eq!(r.json["failed"], true, "{}", r.stdout);
    let msg = r.json["msg"].as_str().unwrap();
    assert!(
        msg.contains("stale") && msg.contains("releaseVersion 4.18.1") && msg.contains("4.19.2"),
        "{msg}"
    );
    // With a stream file the ConfigMap is not read: nothing stale to judge.
    let stream = root().join(
        "tests/fixtures/stream/configmap/coreos-bootimages-4.13-live-resourcewatch-sno-v2.yaml",
    );
    let mut a = args(
        &c,
        dir.path(),
        json!({"stream_file": stream, "allow_newer": true}),
    );
    a["_ansible_check_mode"] = true.into();
    let r = run_module("machineset_bootimage", &a);
    assert!(
        !r.json["msg"].as_str().unwrap().contains("stale"),
        "{}",
        r.stdout
    );
    let r = audit(&c);
    assert_eq!(r["update_gate"]["configmap_stale"], true);
    assert_eq!(r["update_gate"]["update_in_progress"], false);
    assert_eq!(r["update_gate"]["configmap_release_version"], "4.18.1");
}
