//! `machineset_bootimage` and `rollback` over HTTP, run as Ansible runs them:
//! check mode, idempotency, 409 re-planning, 403, managed clusters, explicit
//! images, and a rollback back to the start.

mod common;

use common::{
    assert_cluster_equals, machineset, objects_under, root, run_module, with_v3_stubs, TestCluster,
};
use serde_json::{json, Value};

/// The shipped dump with its stubs already migrated (step 2 done).
fn dump_objects() -> Vec<Value> {
    with_v3_stubs(objects_under(&root().join("examples/cluster-dump")))
}

fn cluster() -> TestCluster {
    let mut c = TestCluster::start();
    c.load(&dump_objects());
    c.clear_requests();
    c
}

fn ami(c: &TestCluster, name: &str) -> String {
    let ms = c
        .get("MachineSet", Some("openshift-machine-api"), name)
        .unwrap();
    ms.pointer("/spec/template/spec/providerSpec/value/ami/id")
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn check_mode_then_apply_then_noop_then_rollback() {
    let c = cluster();
    let start = c.read_back(&dump_objects());
    let kc = c.kubeconfig();
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("record.json");
    let args = json!({"kubeconfig": kc, "record_path": record, "run_id": "swap-1"});

    let mut check = args.clone();
    check["_ansible_check_mode"] = json!(true);
    check["_ansible_diff"] = json!(true);
    let planned = run_module("machineset_bootimage", &check);
    assert_eq!(planned.json["changed"], true, "{}", planned.stdout);
    assert_eq!(planned.json["diff"].as_array().unwrap().len(), 4);
    if let Some(w) = c.writes() {
        assert!(w.is_empty(), "check mode wrote: {w:?}");
    }
    assert!(!record.exists(), "check mode wrote the record");
    assert_eq!(
        ami(&c, "build09-kcxpl-worker-us-east-1a"),
        "ami-06f85a7940faa3217"
    );

    let mut real = args.clone();
    real["_ansible_diff"] = json!(true);
    let applied = run_module("machineset_bootimage", &real);
    assert_eq!(applied.json["changed"], true, "{}", applied.stdout);
    assert_eq!(applied.json["failed"], false);
    assert_eq!(
        applied.json["diff"], planned.json["diff"],
        "check mode must show the real diff"
    );
    assert_eq!(
        ami(&c, "build09-kcxpl-worker-us-east-1a"),
        "ami-06ba758975c79332b"
    );
    assert_eq!(
        ami(&c, "build09-kcxpl-worker-aarch64-us-east-2a"),
        "ami-0f8d8bb2d4cc7681a"
    );
    let ms = machineset(&applied.json, "build09-kcxpl-worker-us-east-1a");
    assert_eq!(ms["before"], "ami-06f85a7940faa3217");
    assert_eq!(ms["after_build"], "418.94.202602022246-0");
    // Record first: every old value is there.
    let entries = common::file_record_entries(&record);
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[3]["old"], "ami-06f85a7940faa3217");

    c.clear_requests();
    let again = run_module("machineset_bootimage", &args);
    assert_eq!(again.json["changed"], false, "{}", again.stdout);
    if let Some(w) = c.writes() {
        assert!(w.is_empty(), "second run wrote: {w:?}");
    }

    let rb = run_module(
        "rollback",
        &json!({"kubeconfig": kc, "record_path": record, "_ansible_diff": true}),
    );
    assert_eq!(rb.json["changed"], true, "{}", rb.stdout);
    assert_eq!(rb.json["run_id"], "swap-1");
    assert_cluster_equals(&c, &start);
    let rb2 = run_module(
        "rollback",
        &json!({"kubeconfig": kc, "record_path": record}),
    );
    assert_eq!(rb2.json["changed"], false, "{}", rb2.stdout);
    let entries = common::file_record_entries(&record);
    assert_eq!(entries.len(), 8, "rollback records its own changes");
    // The rollback's own run notes what it restored; the run is marked rolled back.
    let rec: Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    let runs = rec["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["run_id"], "swap-1");
    assert_eq!(runs[0]["state"], "rolled-back");
    assert_eq!(runs[1]["rolls_back"], "swap-1");
    assert_eq!(runs[1]["restored"], json!([1, 2, 3, 4]));
}

#[test]
fn default_record_is_a_secret() {
    let c = cluster();
    let r = run_module(
        "machineset_bootimage",
        &json!({"kubeconfig": c.kubeconfig(), "machinesets": ["build09-kcxpl-worker-us-east-1a"]}),
    );
    assert_eq!(r.json["changed"], true, "{}", r.stdout);
    let run_id = r.json["run_id"].as_str().unwrap();
    assert_eq!(
        r.json["record"],
        format!("Secret ocp-bootimage/ocp-bootimage-rollback-{run_id}")
    );
    let entries = c.run_entries(run_id);
    assert_eq!(entries[0]["new"], "ami-06ba758975c79332b");
    let rb = run_module("rollback", &json!({"kubeconfig": c.kubeconfig()}));
    assert_eq!(rb.json["changed"], true, "{}", rb.stdout);
    assert_eq!(
        ami(&c, "build09-kcxpl-worker-us-east-1a"),
        "ami-06f85a7940faa3217"
    );
}

#[test]
fn a_conflict_is_re_read_and_re_planned() {
    let c = cluster();
    let Some(server) = c.server() else { return };
    server.inject(
        test_apiserver::Fault::status(409)
            .on_method("PATCH")
            .on_path("/machinesets/")
            .times(2),
    );
    let dir = tempfile::tempdir().unwrap();
    let r = run_module(
        "machineset_bootimage",
        &json!({"kubeconfig": c.kubeconfig(), "record_path": dir.path().join("r.json")}),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["changed"], true);
    assert!(
        r.json["warnings"].to_string().contains("409"),
        "{}",
        r.json["warnings"]
    );
    assert_eq!(
        ami(&c, "build09-kcxpl-worker-us-east-1a"),
        "ami-06ba758975c79332b"
    );
}

#[test]
fn a_concurrent_change_wins_over_the_plan() {
    // Someone else sets the target AMI between our read and our write: the 409 re-read
    // finds nothing left to do.
    let c = cluster();
    let Some(server) = c.server() else { return };
    let mut ms = server
        .get(
            "machine.openshift.io/v1beta1",
            "MachineSet",
            Some("openshift-machine-api"),
            "build09-kcxpl-worker-us-east-1a",
        )
        .unwrap();
    // Our read sees the old AMI; then the object changes (rv bump) before the PATCH.
    server.inject(
        test_apiserver::Fault::status(409)
            .on_method("PATCH")
            .on_path("build09-kcxpl-worker-us-east-1a")
            .times(1),
    );
    ms["spec"]["template"]["spec"]["providerSpec"]["value"]["ami"]["id"] =
        json!("ami-06ba758975c79332b");
    let r = {
        let handle = std::thread::spawn({
            let kc = c.kubeconfig();
            move || {
                run_module(
                    "machineset_bootimage",
                    &json!({"kubeconfig": kc, "machinesets": ["build09-kcxpl-worker-us-east-1a"], "record_path": std::env::temp_dir().join(format!("rec-{}.json", std::process::id()))}),
                )
            }
        });
        server.insert(ms).unwrap();
        handle.join().unwrap()
    };
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(
        ami(&c, "build09-kcxpl-worker-us-east-1a"),
        "ami-06ba758975c79332b"
    );
}

#[test]
fn forbidden_patch_fails_clearly_with_the_record_intact() {
    let c = cluster();
    let Some(server) = c.server() else { return };
    server.deny("patch", "machinesets");
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("r.json");
    let r = run_module(
        "machineset_bootimage",
        &json!({"kubeconfig": c.kubeconfig(), "record_path": record}),
    );
    assert_eq!(r.json["failed"], true);
    assert_eq!(r.json["changed"], false);
    let msg = r.json["msg"].as_str().unwrap();
    assert!(
        msg.contains("forbidden")
            && msg.contains("patch")
            && msg.contains("machinesets.machine.openshift.io"),
        "{msg}"
    );
    assert_eq!(
        common::file_record_entries(&record).len(),
        4,
        "recorded before the first write"
    );
    assert_eq!(
        ami(&c, "build09-kcxpl-worker-us-east-1a"),
        "ami-06f85a7940faa3217"
    );
    // Nothing was written, so rollback finds every field already at its old value.
    let rb = run_module(
        "rollback",
        &json!({"kubeconfig": c.kubeconfig(), "record_path": record}),
    );
    assert_eq!(rb.json["changed"], false, "{}", rb.stdout);
}

#[test]
fn forbidden_record_secret_changes_nothing() {
    let c = cluster();
    let Some(server) = c.server() else { return };
    server.deny("create", "secrets");
    let r = run_module(
        "machineset_bootimage",
        &json!({"kubeconfig": c.kubeconfig()}),
    );
    assert_eq!(r.json["failed"], true);
    assert!(
        r.json["msg"].as_str().unwrap().contains("rollback record"),
        "{}",
        r.json["msg"]
    );
    let writes = c.writes().unwrap();
    assert_eq!(writes.len(), 1, "only the refused record write: {writes:?}");
    assert_eq!(
        ami(&c, "build09-kcxpl-worker-us-east-1a"),
        "ami-06f85a7940faa3217"
    );
}

#[test]
fn managed_clusters_are_refused() {
    let c = cluster();
    let mut infra = c.get("Infrastructure", None, "cluster").unwrap();
    infra["status"]["controlPlaneTopology"] = json!("External");
    if let Some(s) = c.server() {
        s.insert(infra).unwrap();
    } else {
        return; // status of a real server's Infrastructure is left alone
    }
    let r = run_module(
        "machineset_bootimage",
        &json!({"kubeconfig": c.kubeconfig()}),
    );
    assert_eq!(r.json["failed"], true);
    assert!(
        r.json["msg"]
            .as_str()
            .unwrap()
            .contains("refusing to change a managed cluster"),
        "{}",
        r.json["msg"]
    );
    if let Some(w) = c.writes() {
        assert!(w.is_empty());
    }
    let r = run_module(
        "machineset_bootimage",
        &json!({"kubeconfig": c.kubeconfig(), "allow_managed": true, "_ansible_check_mode": true}),
    );
    assert_eq!(r.json["failed"], false);
    assert!(r.json["warnings"].to_string().contains("managed"));
    c.clear_requests();
}

#[test]
fn explicit_images_for_platforms_the_stream_cannot_name() {
    let mut c = TestCluster::start();
    let mut objects = dump_objects();
    objects.retain(|o| o["kind"] != "MachineSet");
    let mut vsphere = common::objects_in(&common::fixture(
        "machinesets/vsphere/installer-generated-4.9-ocp-cl02-worker-machineset-0.yaml",
    ))
    .remove(0);
    vsphere["spec"]["replicas"] = json!(1);
    objects.push(vsphere);
    c.load(&objects);
    let kc = c.kubeconfig();
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("r.json");
    let r = run_module(
        "machineset_bootimage",
        &json!({"kubeconfig": kc, "record_path": record}),
    );
    assert_eq!(r.json["changed"], false);
    let ms = machineset(&r.json, "ocp-cl02-xdqkk-worker");
    assert_eq!(ms["skipped"], true);
    assert!(
        ms["reason"]
            .as_str()
            .unwrap()
            .contains("give it as `image`"),
        "{ms}"
    );
    let r = run_module(
        "machineset_bootimage",
        &json!({"kubeconfig": kc, "record_path": record, "image": {"ocp-cl02-xdqkk-worker": "418.94.202602022246-0-ocp-cl02-rhcos"}}),
    );
    assert_eq!(r.json["changed"], true, "{}", r.stdout);
    let live = c
        .get(
            "MachineSet",
            Some("openshift-machine-api"),
            "ocp-cl02-xdqkk-worker",
        )
        .unwrap();
    assert_eq!(
        live.pointer("/spec/template/spec/providerSpec/value/template")
            .unwrap(),
        "418.94.202602022246-0-ocp-cl02-rhcos"
    );
}

#[test]
fn mco_managed_machinesets_are_left_to_mco() {
    let mut c = TestCluster::start();
    let mut objects = dump_objects();
    for o in objects.iter_mut() {
        if o["kind"] == "MachineConfiguration" {
            o["spec"]["managedBootImages"]["machineManagers"][0]["selection"]["mode"] =
                json!("All");
        }
    }
    c.load(&objects);
    let r = run_module(
        "machineset_bootimage",
        &json!({"kubeconfig": c.kubeconfig(), "_ansible_check_mode": true}),
    );
    assert_eq!(r.json["changed"], false, "{}", r.stdout);
    assert!(r.json["warnings"]
        .to_string()
        .contains("Machine Config Operator"));
    let r = run_module(
        "machineset_bootimage",
        &json!({"kubeconfig": c.kubeconfig(), "_ansible_check_mode": true, "include_mco_managed": true}),
    );
    assert_eq!(r.json["changed"], true);
}

#[test]
fn a_stream_newer_than_the_cluster_is_refused() {
    let c = cluster();
    let stream = common::fixture("stream/rhcos-4.19.json");
    let r = run_module(
        "machineset_bootimage",
        &json!({"kubeconfig": c.kubeconfig(), "stream_file": stream, "_ansible_check_mode": true}),
    );
    assert_eq!(r.json["changed"], false, "{}", r.stdout);
    assert!(r.json["warnings"]
        .to_string()
        .contains("newer than the cluster"));
    let r = run_module(
        "machineset_bootimage",
        &json!({"kubeconfig": c.kubeconfig(), "stream_file": stream, "_ansible_check_mode": true, "allow_newer": true}),
    );
    assert_eq!(r.json["changed"], true, "{}", r.stdout);
}

/// A ControlPlaneMachineSet built for the test around build01's real AWS provider spec
/// (the Insights sample CPMS has its template masked).
#[test]
fn control_plane_only_on_request_and_only_under_on_delete() {
    for (strategy, expect_change) in [("RollingUpdate", false), ("OnDelete", true)] {
        let mut c = TestCluster::start();
        let mut objects = dump_objects();
        objects.push(common::cpms(strategy));
        c.load(&objects);
        let kc = c.kubeconfig();
        let dir = tempfile::tempdir().unwrap();
        let base = json!({"kubeconfig": kc, "record_path": dir.path().join("r.json"), "machinesets": ["build09-kcxpl-worker-us-east-1a"]});
        let r = run_module("machineset_bootimage", &base);
        assert!(r.json["machinesets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["kind"] == "MachineSet"));
        let mut with_cp = base.clone();
        with_cp["include_control_plane"] = json!(true);
        let r = run_module("machineset_bootimage", &with_cp);
        assert_eq!(r.json["failed"], false, "{}", r.stdout);
        let cp = r.json["machinesets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["kind"] == "ControlPlaneMachineSet")
            .unwrap()
            .clone();
        assert_eq!(cp["changed"], expect_change, "{strategy}: {cp}");
        let live = c
            .get(
                "ControlPlaneMachineSet",
                Some("openshift-machine-api"),
                "cluster",
            )
            .unwrap();
        let ami = live.pointer("/spec/template/machines_v1beta1_machine_openshift_io/spec/providerSpec/value/ami/id").unwrap();
        if expect_change {
            assert_eq!(ami, "ami-06ba758975c79332b");
        } else {
            assert_eq!(ami, "ami-06f85a7940faa3217");
            assert!(cp["reason"].as_str().unwrap().contains("OnDelete"), "{cp}");
        }
    }
}

#[test]
fn rollback_check_mode_conflicts_and_forbidden() {
    let c = cluster();
    let kc = c.kubeconfig();
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("r.json");
    let swap = run_module(
        "machineset_bootimage",
        &json!({"kubeconfig": kc, "record_path": record}),
    );
    assert_eq!(swap.json["changed"], true);
    // Check mode: the diff of the real rollback, no write request, record untouched.
    let rec_before = std::fs::read(&record).unwrap();
    c.clear_requests();
    let check = run_module(
        "rollback",
        &json!({"kubeconfig": kc, "record_path": record, "_ansible_check_mode": true, "_ansible_diff": true}),
    );
    assert_eq!(check.json["changed"], true, "{}", check.stdout);
    assert_eq!(check.json["diff"].as_array().unwrap().len(), 4);
    if let Some(w) = c.writes() {
        assert!(w.is_empty(), "{w:?}");
    }
    assert_eq!(std::fs::read(&record).unwrap(), rec_before);
    // Someone changes one MachineSet after the run: a conflict, left alone.
    let mut ms = c
        .get(
            "MachineSet",
            Some("openshift-machine-api"),
            "build09-kcxpl-worker-us-east-1a",
        )
        .unwrap();
    ms["spec"]["template"]["spec"]["providerSpec"]["value"]["ami"]["id"] =
        json!("ami-0123456789abcdef0");
    let Some(server) = c.server() else { return };
    server.insert(ms).unwrap();
    // And the first PATCH of the rollback meets a 409 (re-read, re-planned).
    server.inject(
        test_apiserver::Fault::status(409)
            .on_method("PATCH")
            .on_path("/machinesets/"),
    );
    let rb = run_module(
        "rollback",
        &json!({"kubeconfig": kc, "record_path": record, "_ansible_diff": true}),
    );
    assert_eq!(rb.json["failed"], false, "{}", rb.stdout);
    assert_eq!(rb.json["conflicts"], 1);
    assert!(rb.json["warnings"].to_string().contains("conflict"));
    assert_eq!(
        ami(&c, "build09-kcxpl-worker-us-east-1a"),
        "ami-0123456789abcdef0"
    );
    assert_eq!(
        ami(&c, "build09-kcxpl-worker-aarch64-us-east-2a"),
        "ami-0b04071739ccf4af2"
    );
    // The conflicting entry stays open: force restores it.
    server.deny("patch", "machinesets");
    let denied = run_module(
        "rollback",
        &json!({"kubeconfig": kc, "record_path": record, "force": true}),
    );
    assert_eq!(denied.json["failed"], true);
    assert!(
        denied.json["msg"].as_str().unwrap().contains("forbidden"),
        "{}",
        denied.json["msg"]
    );
    server.clear_denies();
    let forced = run_module(
        "rollback",
        &json!({"kubeconfig": kc, "record_path": record, "force": true}),
    );
    assert_eq!(forced.json["changed"], true, "{}", forced.stdout);
    assert_eq!(
        ami(&c, "build09-kcxpl-worker-us-east-1a"),
        "ami-06f85a7940faa3217"
    );
}

/// Procedure step 2 before step 4: while a MachineSet's stub is spec 2.x the swap refuses
/// it (a 4.6+ boot image cannot read the stub, so not one machine would boot), naming the
/// secret, in check mode and for real alike, and writes nothing; once `stub_ignition`
/// migrated the stub, the same run swaps.
#[test]
fn a_spec_2_stub_blocks_the_swap_until_migrated() {
    let mut c = TestCluster::start();
    let original = objects_under(&root().join("examples/cluster-dump"));
    c.load(&original);
    c.clear_requests();
    let kc = c.kubeconfig();
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("record.json");
    let args = json!({"kubeconfig": kc, "record_path": record, "run_id": "stub-guard"});
    let mut check = args.clone();
    check["_ansible_check_mode"] = json!(true);
    for a in [&check, &args] {
        let r = run_module("machineset_bootimage", a);
        assert_eq!(r.json["failed"], false, "{}", r.stdout);
        assert_eq!(r.json["changed"], false, "{}", r.stdout);
        let sets = r.json["machinesets"].as_array().unwrap();
        assert_eq!(sets.len(), 4);
        for m in sets {
            assert_eq!(m["skipped"], true, "{m}");
            assert_eq!(
                m["reason"],
                "its user-data secret worker-user-data holds an Ignition spec 2.2.0 stub, which the \
                 new boot image cannot read: migrate it first (ocp.bootimage.stub_ignition)"
            );
            assert_eq!(m["after"], m["before"]);
        }
    }
    // A preview as after step 2 (check mode only): the swaps, with a warning naming the stub.
    let mut preview = check.clone();
    preview["assume_stubs_migrated"] = json!(true);
    preview["_ansible_diff"] = json!(true);
    let r = run_module("machineset_bootimage", &preview);
    assert_eq!(r.json["changed"], true, "{}", r.stdout);
    assert_eq!(r.json["diff"].as_array().unwrap().len(), 4);
    assert!(r.stdout.contains("assume_stubs_migrated"), "{}", r.stdout);
    // Outside check mode it is refused before anything is read.
    let mut real = args.clone();
    real["assume_stubs_migrated"] = json!(true);
    let r = run_module("machineset_bootimage", &real);
    assert_eq!(r.json["failed"], true);
    assert!(
        r.json["msg"]
            .as_str()
            .unwrap()
            .starts_with("assume_stubs_migrated is for check-mode previews only"),
        "{}",
        r.stdout
    );
    if let Some(w) = c.writes() {
        assert!(w.is_empty(), "wrote: {w:?}");
    }
    assert!(!record.exists());
    // Step 2, then step 4 again: swapped.
    let r = run_module("stub_ignition", &args);
    assert_eq!(r.json["changed"], true, "{}", r.stdout);
    let r = run_module("machineset_bootimage", &args);
    assert_eq!(r.json["changed"], true, "{}", r.stdout);
    let swapped = r.json["machinesets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["changed"] == true)
        .count();
    assert_eq!(swapped, 4, "{}", r.stdout);
}
