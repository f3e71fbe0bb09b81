//! Every real fixture MachineSet of every platform (nulls, defaults and all) round-trips:
//! `machineset_bootimage` swaps its image, `rollback` of that run puts it back, and the
//! object equals what the server stored at the start. This is the test of the GCP
//! finding: a boot disk with `"labels": null` is stored without the key, so a rollback
//! comparing what it sent with what the server stored refused to restore it.
//! In-process server by default; a real API server with OCP_BOOTIMAGE_TEST_KUBECONFIG.

mod common;

use common::{comparable, objects_in, objects_under, root, run_module, with_v3_stubs, TestCluster};
use ocp_bootimage::plan::rollback::without_nulls;
use serde_json::{json, Value};

/// Equal as a server stores it: without server-managed fields, `null` ≡ absent (a real
/// API server keeps a `null` written on create but drops it from a merge patch).
fn same(a: &Value, b: &Value) -> bool {
    without_nulls(&comparable(a)) == without_nulls(&comparable(b))
}

const NS: &str = "openshift-machine-api";

/// A new image per platform (as `image` takes it) and its build (`image_builds`).
fn new_image(platform_dir: &str) -> &'static str {
    match platform_dir {
        "aws" | "aws-arm64" => "ami-0123456789abcdef0",
        "gcp" => "projects/rhcos-cloud/global/images/rhcos-9-6-20251023-0-gcp-x86-64",
        "azure" => "/resourceGroups/rhcos/providers/Microsoft.Compute/images/rhcos-9.6.20251023-0",
        "vsphere" => "rhcos-9.6.20251023-0-template",
        _ => "rhcos-9.6.20251023-0",
    }
}

/// Every fixture MachineSet: (platform directory, file, object).
fn fixture_machinesets() -> Vec<(String, String, Value)> {
    let dir = root().join("tests/fixtures/machinesets");
    let mut out = Vec::new();
    let mut platforms: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    platforms.sort_by_key(|e| e.file_name());
    for p in platforms {
        let mut files: Vec<_> = std::fs::read_dir(p.path()).unwrap().flatten().collect();
        files.sort_by_key(|e| e.file_name());
        for f in files {
            for o in objects_in(&f.path()) {
                if o["kind"] == "MachineSet" {
                    let platform = p.file_name().to_string_lossy().to_string();
                    let file = f.file_name().to_string_lossy().to_string();
                    out.push((platform, file, o));
                }
            }
        }
    }
    out
}

/// The cluster around one MachineSet: the shipped dump without its MachineSets, stubs
/// migrated, and a user-data Secret of the name the MachineSet uses.
fn cluster_objects(ms: &Value) -> Vec<Value> {
    let mut objects = with_v3_stubs(objects_under(&root().join("examples/cluster-dump")));
    objects.retain(|o| o["kind"] != "MachineSet" && o["kind"] != "MachineAutoscaler");
    let uds = ms
        .pointer("/spec/template/spec/providerSpec/value/userDataSecret/name")
        .and_then(Value::as_str)
        .unwrap_or("worker-user-data");
    if uds != "worker-user-data" {
        let mut s = objects
            .iter()
            .find(|o| o["kind"] == "Secret" && o["metadata"]["name"] == "worker-user-data")
            .cloned()
            .unwrap();
        s["metadata"]["name"] = json!(uds);
        objects.push(s);
    }
    objects.push(ms.clone());
    objects
}

#[test]
fn every_fixture_machineset_round_trips_through_update_and_rollback() {
    let all = fixture_machinesets();
    let mut platforms_done = std::collections::BTreeSet::new();
    for (platform, file, mut ms) in all {
        let name = ms["metadata"]["name"].as_str().unwrap().to_string();
        if name.contains('$') {
            // A template (ARO's heredoc extract), not an object an API server accepts.
            println!("skip {platform}/{file}: {name} is a template, not a valid name");
            continue;
        }
        ms["metadata"]["namespace"] = json!(NS);
        let mut c = TestCluster::start();
        let objects = cluster_objects(&ms);
        c.load(&objects);
        let start = c.read_back(&[ms.clone()]).remove(0);
        let image = new_image(&platform);
        let run_id = format!("round-trip-{}", name.to_lowercase());
        let update = run_module(
            "machineset_bootimage",
            &json!({"kubeconfig": c.kubeconfig(), "machinesets": [name], "run_id": run_id,
                    "image": {name.clone(): image}, "image_builds": {image: "9.6.20251023-0"}}),
        );
        assert_eq!(
            update.json["failed"], false,
            "{platform}/{file}: {}",
            update.stdout
        );
        let reason = update.json["machinesets"][0]["reason"]
            .as_str()
            .unwrap_or_default();
        if reason == "providerSpec has no image" {
            // Nutanix's example names no image at all: nothing to swap, nothing changed.
            assert_eq!(update.json["changed"], false);
            let now = c.get("MachineSet", Some(NS), &name).unwrap();
            assert_eq!(comparable(&now), comparable(&start), "{platform}/{file}");
            println!("{platform}/{file}: no image in its providerSpec; left alone");
            platforms_done.insert(platform);
            continue;
        }
        assert_eq!(
            update.json["changed"], true,
            "{platform}/{file}: {}",
            update.stdout
        );
        let swapped = c.get("MachineSet", Some(NS), &name).unwrap();
        assert_ne!(
            comparable(&swapped),
            comparable(&start),
            "{platform}/{file}: the update changed nothing"
        );
        // What the run recorded as `new` is what the server stored (not what was sent).
        for e in c.run_entries(&run_id) {
            let field = e["field"].as_str().unwrap();
            assert_eq!(
                swapped.pointer(field).cloned().unwrap_or(Value::Null),
                e["new"],
                "{platform}/{file}: recorded new value of {field}"
            );
        }
        let rollback = run_module(
            "rollback",
            &json!({"kubeconfig": c.kubeconfig(), "run_id": run_id}),
        );
        assert_eq!(
            rollback.json["failed"], false,
            "{platform}/{file}: {}",
            rollback.stdout
        );
        assert_eq!(
            rollback.json["conflicts"], 0,
            "{platform}/{file}: {}",
            rollback.stdout
        );
        assert_eq!(
            rollback.json["changed"], true,
            "{platform}/{file}: {}",
            rollback.stdout
        );
        let end = c.get("MachineSet", Some(NS), &name).unwrap();
        assert!(
            same(&end, &start),
            "{platform}/{file}: not back at the start"
        );
        let again = run_module(
            "rollback",
            &json!({"kubeconfig": c.kubeconfig(), "run_id": run_id}),
        );
        assert_eq!(
            again.json["changed"], false,
            "{platform}/{file}: {}",
            again.stdout
        );
        let runs = c.record_runs();
        let state = runs
            .iter()
            .find(|r| r.0 == run_id)
            .map(|r| r.1.clone())
            .unwrap();
        assert_eq!(
            state["ocp-bootimage.io/state"], "rolled-back",
            "{platform}/{file}"
        );
        platforms_done.insert(platform);
    }
    println!("round-tripped the fixture MachineSets of {platforms_done:?}");
    assert_eq!(platforms_done.len(), 9, "{platforms_done:?}");
}

/// The finding itself, on the GCP fixtures that carry `"labels": null`: the value sent
/// holds the null, the server stores no key — and the rollback restores all the same.
#[test]
fn a_gcp_disk_with_null_labels_is_restored() {
    let (_, _, mut ms) = fixture_machinesets()
        .into_iter()
        .find(|(p, f, _)| p == "gcp" && f.ends_with(".json"))
        .unwrap();
    let disks = ms
        .pointer("/spec/template/spec/providerSpec/value/disks")
        .unwrap();
    assert_eq!(disks[0]["labels"], Value::Null);
    assert!(
        disks[0].as_object().unwrap().contains_key("labels"),
        "the fixture has the null"
    );
    ms["metadata"]["namespace"] = json!(NS);
    let name = ms["metadata"]["name"].as_str().unwrap().to_string();
    let mut c = TestCluster::start();
    c.load(&cluster_objects(&ms));
    let start = c.read_back(&[ms.clone()]).remove(0);
    let image = new_image("gcp");
    let r = run_module(
        "machineset_bootimage",
        &json!({"kubeconfig": c.kubeconfig(), "machinesets": [name], "run_id": "gcp-1",
                "image": {name.clone(): image}, "image_builds": {image: "9.6.20251023-0"}}),
    );
    assert_eq!(r.json["changed"], true, "{}", r.stdout);
    let rb = run_module(
        "rollback",
        &json!({"kubeconfig": c.kubeconfig(), "run_id": "gcp-1"}),
    );
    assert_eq!(rb.json["conflicts"], 0, "{}", rb.stdout);
    let end = c.get("MachineSet", Some(NS), &name).unwrap();
    assert!(same(&end, &start));
    assert_eq!(
        end.pointer("/spec/template/spec/providerSpec/value/disks/0/image"),
        start.pointer("/spec/template/spec/providerSpec/value/disks/0/image")
    );
}
