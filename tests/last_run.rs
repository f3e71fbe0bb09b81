//! `bootimage_info` with `last_run`: the audit reports the last run of the rollback
//! record (what `rollback` restores by default) and warns when it did not finish — from
//! the record's Secrets on a cluster (the in-process test server, or a real API server
//! with `OCP_BOOTIMAGE_TEST_KUBECONFIG`), or from a `record_path` file beside a dump.

mod common;

use common::{objects_under, root, run_module, with_v3_stubs, TestCluster};
use serde_json::{json, Value};

fn cluster() -> TestCluster {
    let mut c = TestCluster::start();
    // The shipped dump with its stubs migrated (step 2 done), so that the update swaps.
    c.load(&with_v3_stubs(objects_under(
        &root().join("examples/cluster-dump"),
    )));
    c
}

fn warnings(r: &Value) -> String {
    r["warnings"].to_string()
}

#[test]
fn the_audit_reports_the_last_run_and_its_state() {
    let c = cluster();
    let kc = c.kubeconfig();
    let info = || {
        run_module(
            "bootimage_info",
            &json!({"kubeconfig": kc, "last_run": true}),
        )
    };

    // No run yet: null, and not a failure.
    let none = info();
    assert_eq!(none.json["failed"], false, "{}", none.stdout);
    assert_eq!(none.json["last_run"], Value::Null, "{}", none.stdout);

    // Not asked: null, and the record is not read.
    let plain = run_module("bootimage_info", &json!({"kubeconfig": kc}));
    assert_eq!(plain.json["last_run"], Value::Null);

    let update = run_module("machineset_bootimage", &json!({"kubeconfig": kc}));
    assert_eq!(update.json["changed"], true, "{}", update.stdout);
    let run_id = update.json["run_id"].clone();
    assert!(run_id.is_string(), "{}", update.stdout);

    let after = info();
    assert_eq!(after.json["failed"], false, "{}", after.stdout);
    let last = &after.json["last_run"];
    assert_eq!(last["run_id"], run_id, "{}", after.stdout);
    assert_eq!(last["state"], "applied");
    assert_eq!(last["modules"], json!(["machineset_bootimage"]));
    assert_eq!(
        last["objects"],
        update.json["machinesets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["changed"] == true)
            .count()
    );
    assert!(
        !warnings(&after.json).contains("the last run"),
        "{}",
        after.stdout
    );

    // After its rollback it is still the last run (a rollback's own run is not), now
    // rolled back.
    let rb = run_module("rollback", &json!({"kubeconfig": kc}));
    assert_eq!(rb.json["failed"], false, "{}", rb.stdout);
    let rolled = info();
    assert_eq!(rolled.json["last_run"]["run_id"], run_id);
    assert_eq!(
        rolled.json["last_run"]["state"], "rolled-back",
        "{}",
        rolled.stdout
    );
}

#[test]
fn a_partially_applied_last_run_is_a_warning_saying_what_to_do() {
    let c = cluster();
    let Some(server) = c.server() else {
        return; // a failed PATCH half-way needs the in-process server's fault injection
    };
    let kc = c.kubeconfig();
    // The second MachineSet PATCH is refused (422 is never retried): the run stops with
    // one MachineSet written.
    let first = run_module(
        "machineset_bootimage",
        &json!({"kubeconfig": kc, "_ansible_check_mode": true}),
    );
    let swapped: Vec<String> = first.json["machinesets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["changed"] == true)
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect();
    assert!(swapped.len() >= 2, "{}", first.stdout);
    server.inject(
        test_apiserver::Fault::status(422)
            .on_method("PATCH")
            .on_path(&format!("/machinesets/{}", swapped[1]))
            .times(1),
    );
    let update = run_module("machineset_bootimage", &json!({"kubeconfig": kc}));
    assert_eq!(update.json["failed"], true, "{}", update.stdout);
    let run_id = update.json["run_id"].as_str().unwrap().to_string();

    let info = run_module(
        "bootimage_info",
        &json!({"kubeconfig": kc, "last_run": true}),
    );
    assert_eq!(info.json["failed"], false, "{}", info.stdout);
    assert_eq!(info.json["last_run"]["run_id"], run_id.as_str());
    assert_eq!(info.json["last_run"]["state"], "partially-applied");
    let w = warnings(&info.json);
    for part in [
        format!("the last run {run_id} (machineset_bootimage"),
        "was partially applied".to_string(),
        format!("rollback run_id={run_id}"),
    ] {
        assert!(w.contains(&part), "{part:?} missing from {w}");
    }
    // The table of the CLI shows it too.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ocp-bootimage"))
        .args(["audit", "--last-run", "-o", "table", "--kubeconfig"])
        .arg(&kc)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("Last run: {run_id}")) && text.contains("partially-applied"),
        "{text}"
    );
}

#[test]
fn beside_a_dump_the_last_run_comes_from_record_path() {
    let c = cluster();
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("record.json");
    let update = run_module(
        "machineset_bootimage",
        &json!({"kubeconfig": c.kubeconfig(), "record_path": record}),
    );
    assert_eq!(update.json["changed"], true, "{}", update.stdout);
    let dump = root().join("examples/cluster-dump");

    let info = run_module(
        "bootimage_info",
        &json!({"dump_dir": dump, "last_run": true, "record_path": record}),
    );
    assert_eq!(info.json["failed"], false, "{}", info.stdout);
    assert_eq!(info.json["last_run"]["run_id"], update.json["run_id"]);

    // A dump holds no record: asking without record_path is a clear error.
    let bad = run_module(
        "bootimage_info",
        &json!({"dump_dir": dump, "last_run": true}),
    );
    assert_eq!(bad.json["failed"], true, "{}", bad.stdout);
    assert!(
        bad.json["msg"]
            .as_str()
            .unwrap()
            .contains("give record_path"),
        "{}",
        bad.stdout
    );
}
