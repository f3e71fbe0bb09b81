//! `stub_ignition` over HTTP and on files, run as Ansible runs it.

mod common;

use base64::Engine;
use common::{assert_cluster_equals, fixture, objects_under, root, run_module, TestCluster};
use serde_json::{json, Value};

const NS: &str = "openshift-machine-api";

fn dump_objects() -> Vec<Value> {
    objects_under(&root().join("examples/cluster-dump"))
}

fn cluster() -> TestCluster {
    let mut c = TestCluster::start();
    c.load(&dump_objects());
    c.clear_requests();
    c
}

fn user_data(c: &TestCluster, name: &str) -> Value {
    let s = c.get("Secret", Some(NS), name).unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s["data"]["userData"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn validate(config: &Value, schema: &str) {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture(&format!("ignition/schema/{schema}"))).unwrap(),
    )
    .unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = v.iter_errors(config).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn in_place_migration_check_apply_noop_rollback() {
    let c = cluster();
    let start = c.read_back(&dump_objects());
    let kc = c.kubeconfig();
    let before = user_data(&c, "worker-user-data");
    assert_eq!(before["ignition"]["version"], "2.2.0");

    let check = run_module(
        "stub_ignition",
        &json!({"kubeconfig": kc, "_ansible_check_mode": true, "_ansible_diff": true}),
    );
    assert_eq!(check.json["changed"], true, "{}", check.stdout);
    if let Some(w) = c.writes() {
        assert!(w.is_empty(), "{w:?}");
    }
    // The diff shows digests, never the stub or its CA.
    let secret_b64 = c.get("Secret", Some(NS), "worker-user-data").unwrap()["data"]["userData"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!check.stdout.contains(&secret_b64[..40]));
    assert!(
        !check.stdout.contains("base64,") && !check.stdout.contains("api-int"),
        "{}",
        check.stdout
    );
    assert!(check.json["diff"]["after"]["data"]["userData"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));

    let r = run_module(
        "stub_ignition",
        &json!({"kubeconfig": kc, "_ansible_diff": true}),
    );
    assert_eq!(r.json["changed"], true, "{}", r.stdout);
    assert_eq!(r.json["diff"], check.json["diff"]);
    let after = user_data(&c, "worker-user-data");
    assert_eq!(after["ignition"]["version"], "3.1.0");
    validate(&after, "ignition-v3_1.schema.json");
    assert_eq!(
        after["ignition"]["config"]["merge"][0]["source"],
        before["ignition"]["config"]["append"][0]["source"]
    );
    assert_eq!(
        after["ignition"]["security"]["tls"]["certificateAuthorities"],
        before["ignition"]["security"]["tls"]["certificateAuthorities"]
    );

    c.clear_requests();
    let again = run_module("stub_ignition", &json!({"kubeconfig": kc}));
    assert_eq!(again.json["changed"], false, "{}", again.stdout);
    if let Some(w) = c.writes() {
        assert!(w.is_empty(), "{w:?}");
    }
    let audit = run_module("bootimage_info", &json!({"kubeconfig": kc}));
    assert_eq!(
        audit.json["summary"]["user_data_secrets_needing_migration"],
        0
    );

    let rb = run_module("rollback", &json!({"kubeconfig": kc}));
    assert_eq!(rb.json["changed"], true, "{}", rb.stdout);
    assert!(
        !rb.stdout.contains(&secret_b64[..40]),
        "rollback output leaks the stub"
    );
    assert_cluster_equals(&c, &start);
}

#[test]
fn create_new_writes_ignv3_and_repoints_the_machinesets() {
    let c = cluster();
    let start = c.read_back(&dump_objects());
    let kc = c.kubeconfig();
    let r = run_module(
        "stub_ignition",
        &json!({"kubeconfig": kc, "create_new": true, "target_version": "3.4.0"}),
    );
    assert_eq!(r.json["changed"], true, "{}", r.stdout);
    assert_eq!(r.json["stubs"][0]["new_secret"], "worker-user-data-ignv3");
    assert_eq!(
        r.json["stubs"][0]["machinesets_repointed"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let new = user_data(&c, "worker-user-data-ignv3");
    assert_eq!(new["ignition"]["version"], "3.4.0");
    validate(&new, "ignition-v3_4.schema.json");
    assert_eq!(
        user_data(&c, "worker-user-data")["ignition"]["version"],
        "2.2.0",
        "the old secret is untouched"
    );
    let ms = c
        .get("MachineSet", Some(NS), "build09-kcxpl-worker-us-east-1a")
        .unwrap();
    assert_eq!(
        ms.pointer("/spec/template/spec/providerSpec/value/userDataSecret/name")
            .unwrap(),
        "worker-user-data-ignv3"
    );
    let again = run_module(
        "stub_ignition",
        &json!({"kubeconfig": kc, "create_new": true, "target_version": "3.4.0"}),
    );
    assert_eq!(again.json["changed"], false, "{}", again.stdout);
    let rb = run_module("rollback", &json!({"kubeconfig": kc}));
    assert_eq!(rb.json["changed"], true, "{}", rb.stdout);
    assert!(
        c.get("Secret", Some(NS), "worker-user-data-ignv3")
            .is_none(),
        "the created secret is deleted"
    );
    assert_cluster_equals(&c, &start);
}

#[test]
fn content_that_is_not_ignition_fails_and_changes_nothing() {
    let mut c = cluster();
    let bad = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                     "metadata": {"name": "custom-user-data", "namespace": NS},
                     "data": {"userData": base64::engine::general_purpose::STANDARD.encode("#cloud-config\nusers: []\n")}});
    c.load(&[bad]);
    c.clear_requests();
    let r = run_module(
        "stub_ignition",
        &json!({"kubeconfig": c.kubeconfig(), "secrets": ["worker-user-data", "custom-user-data"]}),
    );
    assert_eq!(r.json["failed"], true);
    let msg = r.json["msg"].as_str().unwrap();
    assert!(
        msg.contains("custom-user-data") && msg.contains("not an Ignition config"),
        "{msg}"
    );
    assert!(!msg.contains("cloud-config"), "{msg}");
    if let Some(w) = c.writes() {
        assert!(w.is_empty(), "{w:?}");
    }
    assert_eq!(
        user_data(&c, "worker-user-data")["ignition"]["version"],
        "2.2.0"
    );
}

#[test]
fn forbidden_secret_patch_is_clear_and_recorded() {
    let c = cluster();
    let Some(server) = c.server() else { return };
    server.deny("patch", "secrets");
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("r.json");
    let r = run_module(
        "stub_ignition",
        &json!({"kubeconfig": c.kubeconfig(), "record_path": record}),
    );
    assert_eq!(r.json["failed"], true);
    assert!(
        r.json["msg"].as_str().unwrap().contains("forbidden"),
        "{}",
        r.json["msg"]
    );
    let entries = common::file_record_entries(&record);
    assert_eq!(entries[0]["secret"], true);
    assert_eq!(entries[0]["field"], "/data/userData");
}

/// The user-data secrets are read by name (never a LIST of the namespace's Secrets): a
/// 403 on a secret the run migrates fails it before any write, naming the secret; a 403
/// on one it does not migrate (the shipped RBAC names the secrets it grants) is only a
/// warning.
#[test]
fn a_forbidden_secret_fails_the_run_only_when_it_is_migrated() {
    let c = cluster();
    let Some(server) = c.server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("r.json");
    let args = json!({"kubeconfig": c.kubeconfig(), "record_path": record,
                      "_ansible_check_mode": true});
    server.inject(
        test_apiserver::Fault::status(403)
            .on_method("GET")
            .on_path("/secrets/worker-user-data")
            .times(2),
    );
    let r = run_module("stub_ignition", &args);
    assert_eq!(r.json["failed"], true, "{}", r.stdout);
    let msg = r.json["msg"].as_str().unwrap();
    assert!(
        msg.contains(
            "secret openshift-machine-api/worker-user-data: forbidden: cannot get secrets"
        ),
        "{msg}"
    );
    // Only the secret it migrates (the fault also hit worker-user-data-managed).
    assert!(!msg.contains("worker-user-data-managed"), "{msg}");
    server.clear_faults();
    server.inject(
        test_apiserver::Fault::status(403)
            .on_method("GET")
            .on_path("/secrets/master-user-data")
            .times(2),
    );
    c.clear_requests();
    let r = run_module("stub_ignition", &args);
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["changed"], true, "{}", r.stdout);
    let warnings = r.json["warnings"].to_string();
    assert!(
        warnings.contains("secret openshift-machine-api/master-user-data: forbidden"),
        "{warnings}"
    );
    let reqs = c.requests().unwrap();
    assert!(
        !reqs
            .iter()
            .any(|q| q.method == "GET" && q.path.ends_with("/secrets")),
        "{reqs:?}"
    );
}

#[test]
fn a_conflict_on_the_secret_is_retried() {
    let c = cluster();
    let Some(server) = c.server() else { return };
    server.inject(
        test_apiserver::Fault::status(409)
            .on_method("PATCH")
            .on_path("/secrets/worker-user-data"),
    );
    let r = run_module("stub_ignition", &json!({"kubeconfig": c.kubeconfig()}));
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(
        user_data(&c, "worker-user-data")["ignition"]["version"],
        "3.1.0"
    );
}

#[test]
fn local_files_for_bare_metal_upi() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("worker.ign");
    let original =
        std::fs::read(fixture("ignition/spec2.2.0-worker-pointer-Dawnday101.ign")).unwrap();
    std::fs::write(&path, &original).unwrap();
    let record = dir.path().join("record.json");
    let args = json!({"path": path, "record_path": record});
    let mut check = args.clone();
    check["_ansible_check_mode"] = json!(true);
    let r = run_module("stub_ignition", &check);
    assert_eq!(r.json["changed"], true, "{}", r.stdout);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        original,
        "check mode wrote the file"
    );
    // While another run holds the record file's lock, a real run fails naming it and
    // leaves the stub untouched.
    {
        let held = ocp_bootimage::kube::run_lock::RunLock::file(
            &record,
            "other-run/stub_ignition pid 1 on host",
            std::time::Duration::ZERO,
        )
        .unwrap();
        let r = run_module("stub_ignition", &args);
        assert_eq!(r.json["failed"], true, "{}", r.stdout);
        assert!(r.stdout.contains("other-run"), "{}", r.stdout);
        assert_eq!(std::fs::read(&path).unwrap(), original);
        drop(held);
    }
    let r = run_module("stub_ignition", &args);
    assert_eq!(r.json["changed"], true, "{}", r.stdout);
    let migrated: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(migrated["ignition"]["version"], "3.1.0");
    validate(&migrated, "ignition-v3_1.schema.json");
    assert_eq!(
        std::fs::read(dir.path().join("worker.ign.bak")).unwrap(),
        original
    );
    assert_eq!(
        std::fs::metadata(&record).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(run_module("stub_ignition", &args).json["changed"], false);
    let rb = run_module("rollback", &json!({"record_path": record}));
    assert_eq!(rb.json["changed"], true, "{}", rb.stdout);
    assert_eq!(std::fs::read(&path).unwrap(), original);
    assert_eq!(
        run_module("rollback", &json!({"record_path": record})).json["changed"],
        false
    );
    // dest: the original stays where it is.
    let dest = dir.path().join("worker-v3.ign");
    let r = run_module(
        "stub_ignition",
        &json!({"path": path, "dest": dest, "record_path": record, "target_version": "3.2.0"}),
    );
    assert_eq!(r.json["changed"], true);
    assert_eq!(std::fs::read(&path).unwrap(), original);
    validate(
        &serde_json::from_slice(&std::fs::read(&dest).unwrap()).unwrap(),
        "ignition-v3_2.schema.json",
    );
}

#[test]
fn bad_target_version_and_networkd_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let r = run_module(
        "stub_ignition",
        &json!({"path": fixture("ignition/spec2.2.0-worker-pointer-Dawnday101.ign"), "record_path": dir.path().join("r"), "target_version": "3.5.0"}),
    );
    assert_eq!(r.json["failed"], true);
    assert!(
        r.json["msg"].as_str().unwrap().contains("target_version"),
        "{}",
        r.json["msg"]
    );
    let p = dir.path().join("drewfus.json");
    std::fs::copy(
        fixture("ignition/spec2.0.0-networkd-filesystems-drewfus.json"),
        &p,
    )
    .unwrap();
    let r = run_module(
        "stub_ignition",
        &json!({"path": p, "record_path": dir.path().join("r")}),
    );
    assert_eq!(r.json["failed"], true);
    assert!(
        r.json["msg"].as_str().unwrap().contains("networkd"),
        "{}",
        r.json["msg"]
    );
    assert!(
        !dir.path().join("r").exists(),
        "nothing recorded for a refused file"
    );
}
