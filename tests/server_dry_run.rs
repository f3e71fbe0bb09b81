//! Check mode through the API server (`server_dry_run`, kubernetes.core's check mode):
//! every planned change is sent with `dryRun=All`, so a validating admission webhook —
//! here one that refuses a boot image, as OpenShift's machine-api webhook refuses a bad
//! providerSpec — judges it. Check mode then fails on exactly the objects the real run
//! fails on, with the server's message, and stores nothing; `server_dry_run: false`
//! only reads. On the in-process server the rule is taken directly; on a real API server
//! (`OCP_BOOTIMAGE_TEST_KUBECONFIG`) a real webhook server and a
//! `ValidatingWebhookConfiguration` do it.

mod common;

use common::admission::judged;
use common::{assert_cluster_equals, objects_under, root, run_module, with_v3_stubs, TestCluster};
use kube::api::{DynamicObject, Patch, PatchParams};
use serde_json::{json, Value};
use test_apiserver::AdmissionRule;

const NS: &str = "openshift-machine-api";
/// The target AMI of the three aarch64 MachineSets of the shipped dump (us-east-2).
const REFUSED_AMI: &str = "ami-0f8d8bb2d4cc7681a";
const WEBHOOK: &str = "validation.machineset.machine.openshift.io";

fn objects() -> Vec<Value> {
    judged(
        with_v3_stubs(objects_under(&root().join("examples/cluster-dump"))),
        "MachineSet",
    )
}

fn rule() -> AdmissionRule {
    AdmissionRule {
        webhook: WEBHOOK.into(),
        kind: "MachineSet".into(),
        pointer: Some("/spec/template/spec/providerSpec/value/ami/id".into()),
        contains: REFUSED_AMI.into(),
        message: format!("providerSpec.ami.id: {REFUSED_AMI} is not shared with this account"),
    }
}

/// Whether a dry-run PATCH that puts the refused AMI in a MachineSet is denied now.
fn refused_now(c: &TestCluster) -> bool {
    let (rt, conn) = common::connect(c);
    let ar = ocp_bootimage::kube::client::api_resource(
        ocp_bootimage::cluster::resources::by_kind("MachineSet").unwrap(),
    );
    let api: kube::Api<DynamicObject> = kube::Api::namespaced_with(conn.client, NS, &ar);
    let patch = json!({"spec": {"template": {"spec": {"providerSpec": {"value": {"ami": {"id": REFUSED_AMI}}}}}}});
    let pp = PatchParams {
        dry_run: true,
        ..PatchParams::default()
    };
    match rt.block_on(api.patch(
        "build09-kcxpl-worker-us-east-1a",
        &pp,
        &Patch::Merge(&patch),
    )) {
        Err(kube::Error::Api(s)) => s.code == 400 && s.message.contains(WEBHOOK),
        _ => false,
    }
}

fn args(c: &TestCluster, record: &std::path::Path, extra: Value) -> Value {
    let mut a = json!({"kubeconfig": c.kubeconfig(), "record_path": record, "run_id": "dry-1"});
    for (k, v) in extra.as_object().unwrap() {
        a[k] = v.clone();
    }
    a
}

#[test]
fn check_mode_reports_what_admission_would_reject_as_the_real_run_fails() {
    let mut c = TestCluster::start();
    let objects = objects();
    c.load(&objects);
    let start = c.read_back(&objects);
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("record.json");
    let check = args(&c, &record, json!({"_ansible_check_mode": true}));

    // No webhook: the server accepts each of the 4 planned changes and stores nothing.
    c.clear_requests();
    let r = run_module("machineset_bootimage", &check);
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["changed"], true);
    assert_eq!(r.json["server_dry_run"]["sent"], 4, "{}", r.stdout);
    assert_eq!(r.json["server_dry_run"]["accepted"], 4);
    if let Some(reqs) = c.requests() {
        let dry: Vec<_> = reqs.iter().filter(|q| q.dry_run).collect();
        assert_eq!(dry.len(), 4, "one dry-run PATCH per planned change");
        assert!(dry
            .iter()
            .all(|q| q.method == "PATCH" && q.path.contains("/machinesets/")));
        assert_eq!(c.writes().unwrap(), vec![], "check mode stored something");
    }
    assert_cluster_equals(&c, &start);

    let _admission = c.admission(rule(), &|| refused_now(&c));
    // Check mode: fails, naming the three aarch64 MachineSets and the webhook's message.
    c.clear_requests();
    let r = run_module("machineset_bootimage", &check);
    assert_eq!(r.json["failed"], true, "{}", r.stdout);
    let msg = r.json["msg"].as_str().unwrap();
    assert!(
        msg.starts_with("the API server would reject 3 of 4 planned change(s)"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "admission webhook \"{WEBHOOK}\" denied the request"
        )),
        "{msg}"
    );
    let rejected: Vec<&str> = r.json["server_dry_run"]["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["object"].as_str().unwrap())
        .collect();
    assert_eq!(
        rejected,
        [
            "MachineSet openshift-machine-api/build09-kcxpl-worker-aarch64-us-east-2a",
            "MachineSet openshift-machine-api/build09-kcxpl-worker-aarch64-us-east-2b",
            "MachineSet openshift-machine-api/build09-kcxpl-worker-aarch64-us-east-2c"
        ]
    );
    assert_eq!(r.json["server_dry_run"]["rejected"][0]["code"], 400);
    assert_eq!(r.json["server_dry_run"]["accepted"], 1);
    if let Some(w) = c.writes() {
        assert_eq!(w, vec![], "check mode stored something");
    }
    assert!(!record.exists(), "check mode wrote the record");
    assert_cluster_equals(&c, &start);

    // server_dry_run: false only reads: not failed, nothing sent.
    c.clear_requests();
    let mut reads_only = check.clone();
    reads_only["server_dry_run"] = json!(false);
    let r = run_module("machineset_bootimage", &reads_only);
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert!(r.json.get("server_dry_run").is_none(), "{}", r.stdout);
    if let Some(reqs) = c.requests() {
        assert!(reqs.iter().all(|q| !q.dry_run && !q.is_write()), "{reqs:?}");
    }

    // The real run fails on the same objects, with the same message.
    let r = run_module("machineset_bootimage", &args(&c, &record, json!({})));
    assert_eq!(r.json["failed"], true, "{}", r.stdout);
    let msg = r.json["msg"].as_str().unwrap();
    assert!(
        msg.contains(&format!(
            "admission webhook \"{WEBHOOK}\" denied the request"
        )),
        "{msg}"
    );
    assert!(
        msg.contains("build09-kcxpl-worker-aarch64-us-east-2a") || msg.contains("aarch64"),
        "{msg}"
    );
    drop(_admission);
    // Whatever the real run wrote before the rejection is rolled back.
    let rb = run_module(
        "rollback",
        &json!({"kubeconfig": c.kubeconfig(), "record_path": record}),
    );
    assert_eq!(rb.json["failed"], false, "{}", rb.stdout);
    assert_cluster_equals(&c, &start);

    // rollback's check mode sends its planned restores as dry runs too.
    let r = run_module(
        "machineset_bootimage",
        &args(&c, &record, json!({"run_id": "dry-2"})),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    let rollback = json!({"kubeconfig": c.kubeconfig(), "record_path": record, "run_id": "dry-2"});
    let mut check_rollback = rollback.clone();
    check_rollback["_ansible_check_mode"] = json!(true);
    c.clear_requests();
    let rb = run_module("rollback", &check_rollback);
    assert_eq!(rb.json["failed"], false, "{}", rb.stdout);
    assert_eq!(rb.json["server_dry_run"]["sent"], 4, "{}", rb.stdout);
    assert_eq!(rb.json["server_dry_run"]["accepted"], 4, "{}", rb.stdout);
    if let Some(w) = c.writes() {
        assert_eq!(w, vec![], "rollback's check mode stored something");
    }
    let rb = run_module("rollback", &rollback);
    assert_eq!(rb.json["failed"], false, "{}", rb.stdout);
    assert_cluster_equals(&c, &start);
}

#[test]
fn a_rejected_stub_secret_and_a_changed_object_are_reported_per_object() {
    let mut c = TestCluster::start();
    if c.is_real() {
        eprintln!(
            "SKIP: the 409 and 503 of a dry run are made with the in-process server's faults"
        );
        return;
    }
    let objects = objects();
    c.load(&objects);
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("record.json");
    // A MachineSet changed between the read and the dry run: 409, a warning, not a rejection.
    let server = c.server().unwrap();
    server.inject(
        test_apiserver::Fault::status(409)
            .on_method("PATCH")
            .on_path("build09-kcxpl-worker-us-east-1a"),
    );
    server.inject(
        test_apiserver::Fault::status(503)
            .on_method("PATCH")
            .on_path("build09-kcxpl-worker-aarch64-us-east-2b"),
    );
    let r = run_module(
        "machineset_bootimage",
        &args(&c, &record, json!({"_ansible_check_mode": true})),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    let d = &r.json["server_dry_run"];
    assert_eq!(d["sent"], 4);
    assert_eq!(d["accepted"], 2, "{d}");
    assert_eq!(
        d["changed_meanwhile"],
        json!(["MachineSet openshift-machine-api/build09-kcxpl-worker-us-east-1a"])
    );
    assert_eq!(d["unchecked"].as_array().unwrap().len(), 1, "{d}");
    let warnings = r.json["warnings"].to_string();
    assert!(
        warnings.contains("changed since they were read"),
        "{warnings}"
    );
    assert!(
        warnings.contains("could not check 1 planned change"),
        "{warnings}"
    );
    // An account that may not patch (the read-only audit account): its dry runs are
    // forbidden by the authorizer, a warning, not a rejection; the task does not fail.
    let server = c.server().unwrap();
    server.deny("patch", "machinesets");
    let r = run_module(
        "machineset_bootimage",
        &args(&c, &record, json!({"_ansible_check_mode": true})),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    let d = &r.json["server_dry_run"];
    assert_eq!(d["forbidden"].as_array().unwrap().len(), 4, "{d}");
    assert_eq!(d["rejected"], json!([]));
    assert!(r.json["warnings"]
        .to_string()
        .contains("forbidden for 4 planned change(s)"));
    server.clear_denies();
    drop(c);
    // The stubs: a Secret the server refuses is named, and its data never shown.
    let mut c = TestCluster::start();
    let objects = objects_under(&root().join("examples/cluster-dump"));
    c.load(&objects);
    c.server().unwrap().admission_rule(AdmissionRule {
        webhook: "secrets.policy.example.com".into(),
        kind: "Secret".into(),
        pointer: None,
        contains: "userData".into(),
        message: "user data Secrets are frozen".into(),
    });
    let r = run_module(
        "stub_ignition",
        &args(
            &c,
            &record,
            json!({"_ansible_check_mode": true, "_ansible_diff": true}),
        ),
    );
    assert_eq!(r.json["failed"], true, "{}", r.stdout);
    let msg = r.json["msg"].as_str().unwrap();
    assert!(
        msg.contains("user data Secrets are frozen")
            && msg.contains("Secret openshift-machine-api/"),
        "{msg}"
    );
    assert_eq!(c.writes().unwrap(), vec![]);
}

/// For `bench/server-dry-run.sh` on a real API server: loads the dump named by
/// `BENCH_DUMP` into the server of `OCP_BOOTIMAGE_TEST_KUBECONFIG` and leaves it there (the
/// script stops that server afterwards). Not a test: run only by the script.
#[test]
#[ignore]
fn bench_load_dump_into_the_real_server() {
    let (Some(dump), true) = (
        std::env::var_os("BENCH_DUMP"),
        common::real_kubeconfig().is_some(),
    ) else {
        eprintln!("SKIP: needs BENCH_DUMP and OCP_BOOTIMAGE_TEST_KUBECONFIG");
        return;
    };
    let mut c = TestCluster::start();
    c.load(&objects_under(std::path::Path::new(&dump)));
    std::mem::forget(c);
}
