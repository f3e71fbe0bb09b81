//! The `fleet_report` module by the module protocol (the binary run as Ansible runs it):
//! real `bootimage_info` results in (the shipped dump, a server refusing every request,
//! a host whose task never ran), the report's forms and one file per cluster out; check
//! mode writes nothing; a rerun on the same results writes nothing and reports
//! `changed: false` (the report keeps its first time: `generated_at` is not content);
//! no result's `invocation` is copied anywhere.

mod common;

use std::path::Path;

use common::{objects_under, root, run_module, ModuleRun};
use serde_json::{json, Value};
use test_apiserver::TestApiServer;

const TOKEN: &str = "fleet-report-token-5b1f";

/// The three hosts' results: `dump` (audited: not compliant), `denied` (every request
/// refused: a failed task, kept by `failed_when: false`) and `never` (null).
fn audits() -> Value {
    let dump = run_module(
        "bootimage_info",
        &json!({"dump_dir": root().join("examples/cluster-dump")}),
    );
    assert_eq!(dump.json["verdict"], "not_compliant", "{}", dump.stdout);
    let server = TestApiServer::start().expect("server");
    for o in objects_under(&root().join("examples/cluster-dump")) {
        server.insert(o).expect("insert");
    }
    server.deny("*", "*");
    let denied = run_module(
        "bootimage_info",
        &json!({"host": server.url(), "api_key": TOKEN}),
    );
    assert_eq!(denied.json["failed"], true, "{}", denied.stdout);
    assert!(!denied.stdout.contains(TOKEN));
    // As Ansible registers it with `failed_when: false`.
    let mut denied = denied.json;
    denied["failed"] = json!(false);
    denied["failed_when_result"] = json!(false);
    denied["_ansible_no_log"] = json!(false);
    // A result as a careless module might return it: the token in its invocation.
    let mut dump = dump.json;
    dump["invocation"]["module_args"]["api_key"] = json!(TOKEN);
    json!({"dump": dump, "denied": denied, "never": null})
}

fn run(audits: &Value, dir: &Path, check: bool) -> ModuleRun {
    let r = run_module(
        "fleet_report",
        &json!({"audits": audits, "report_dir": dir, "_ansible_check_mode": check}),
    );
    assert!(!r.stdout.contains(TOKEN), "{}", r.stdout);
    r
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walk(dir) {
        out.push(e.strip_prefix(dir).expect("under").display().to_string());
    }
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn fleet_report_writes_every_form_and_each_cluster_once_and_check_mode_writes_nothing() {
    let audits = audits();
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("fleet");

    // Check mode: what would be written, nothing written.
    let r = run(&audits, &dir, true);
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["changed"], true);
    assert_eq!(r.json["written"].as_array().map(Vec::len), Some(8));
    assert!(!dir.exists(), "check mode created {}", dir.display());
    assert!(
        r.json["msg"]
            .as_str()
            .unwrap()
            .contains("would write 8 of 8"),
        "{}",
        r.json["msg"]
    );
    // The results are not echoed back (no_log).
    assert_eq!(
        r.json["invocation"]["module_args"]["audits"],
        "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    );

    // For real.
    let first = run(&audits, &dir, false);
    assert_eq!(first.json["failed"], false, "{}", first.stdout);
    assert_eq!(first.json["changed"], true);
    assert_eq!(first.json["verdict"], "incomplete");
    assert_eq!(first.json["exit_code"], 2);
    assert_eq!(first.json["not_compliant"], json!(["dump"]));
    assert_eq!(first.json["not_audited"], json!(["denied", "never"]));
    assert_eq!(first.json["summary"]["clusters"], 3);
    assert_eq!(
        files_under(&dir),
        [
            "clusters/denied.json",
            "clusters/dump.json",
            "fleet-report.html",
            "fleet-report.json",
            "fleet-report.junit.xml",
            "fleet-report.prom",
            "fleet-report.txt",
            "fleet-report.yaml",
        ]
    );
    let fleet: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("fleet-report.json")).unwrap())
            .unwrap();
    let outcomes: Vec<(&str, &str, &Value)> = fleet["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap(),
                t["outcome"].as_str().unwrap(),
                &t["verdict"],
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("dump", "audited", &json!("not_compliant")),
            ("denied", "forbidden", &Value::Null),
            ("never", "failed", &Value::Null),
        ]
    );
    assert_eq!(fleet["targets"][0]["source"]["kind"], "inventory_host");
    assert!(fleet["targets"][2]["error"]
        .as_str()
        .unwrap()
        .contains("did not run"));
    let cluster: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("clusters/dump.json")).unwrap())
            .unwrap();
    assert_eq!(cluster["machinesets"], audits["dump"]["machinesets"]);
    assert!(cluster.get("invocation").is_none());
    let denied: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("clusters/denied.json")).unwrap())
            .unwrap();
    assert!(denied.get("_ansible_no_log").is_none() && denied.get("failed_when_result").is_none());
    for f in walk(&dir) {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(!text.contains(TOKEN), "{} holds the token", f.display());
    }

    // The same results again: no file differs (the report keeps its first time).
    let modified = |p: &str| std::fs::metadata(dir.join(p)).unwrap().modified().unwrap();
    let before = modified("fleet-report.html");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let again = run(&audits, &dir, false);
    assert_eq!(again.json["changed"], false, "{}", again.stdout);
    assert_eq!(again.json["written"], json!([]));
    assert_eq!(again.json["generated_at"], first.json["generated_at"]);
    assert_eq!(modified("fleet-report.html"), before);
    assert!(again.json["msg"].as_str().unwrap().contains("up to date"));

    // One cluster fewer: the report changes (the other cluster's file is the same).
    let mut fewer = audits.clone();
    fewer.as_object_mut().unwrap().remove("never");
    let r = run(&fewer, &dir, false);
    assert_eq!(r.json["changed"], true);
    // (Every form that names the clusters; no cluster's file.)
    let written: Vec<&str> = r.json["written"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        written.iter().any(|p| p.ends_with("/fleet-report.json"))
            && written.iter().all(|p| !p.contains("/clusters/")),
        "{written:?}"
    );
    assert_eq!(r.json["not_audited"], json!(["denied"]));

    // fail_on_noncompliant fails the task, after writing the report.
    let r = run_module(
        "fleet_report",
        &json!({"audits": {"dump": audits["dump"]}, "report_dir": dir,
                "fail_on_noncompliant": true, "forms": ["json"]}),
    );
    assert_eq!(r.json["failed"], true, "{}", r.stdout);
    assert_eq!(r.json["exit_code"], 1);
    let fleet: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("fleet-report.json")).unwrap())
            .unwrap();
    assert_eq!(fleet["verdict"], "not_compliant");
}

#[test]
fn fleet_report_refuses_an_empty_fleet_and_takes_no_connection_option() {
    let tmp = tempfile::tempdir().expect("tmp");
    let r = run_module(
        "fleet_report",
        &json!({"audits": {}, "report_dir": tmp.path().join("x")}),
    );
    assert_eq!(r.json["failed"], true);
    assert!(r.json["msg"].as_str().unwrap().contains("audits is empty"));
    let r = run_module(
        "fleet_report",
        &json!({"audits": {"a": null}, "report_dir": tmp.path().join("x"), "kubeconfig": "k"}),
    );
    assert_eq!(r.json["failed"], true);
    assert!(
        r.json["msg"].as_str().unwrap().contains("kubeconfig"),
        "{}",
        r.stdout
    );
    assert!(!tmp.path().join("x").exists());
}
