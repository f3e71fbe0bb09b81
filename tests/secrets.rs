//! No secret leaks (issue 6): every module, run with `_ansible_no_log`, diff and high
//! verbosity plus a known `api_key`, on the shipped dump whose secrets are known. Its
//! stdout, stderr and the rollback record's non-secret fields must not contain any of
//! them: the Secret `data` values, the decoded userData, the CA data URL inside it and
//! its base64, the PEM lines of the MCS certificate and key.

mod common;

use std::path::{Path, PathBuf};

use base64::Engine;
use common::{objects_under, root, run_module, ModuleRun, TestCluster};
use serde_json::{json, Value};

const API_KEY: &str = "sha256~KnownSecretBearerToken-0123456789abcdefXYZ";

fn dump() -> PathBuf {
    root().join("examples/cluster-dump")
}

fn decode(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .unwrap()
}

/// Every secret value of the dump, as strings to search for.
fn needles(objects: &[Value]) -> Vec<String> {
    let mut out = vec![API_KEY.to_string()];
    let pem_lines = |text: &str, out: &mut Vec<String>| {
        for l in text.lines() {
            let l = l.trim();
            if l.len() >= 16 && !l.starts_with("-----") {
                out.push(l.to_string());
            }
        }
    };
    for o in objects.iter().filter(|o| o["kind"] == "Secret") {
        for (key, v) in o["data"].as_object().into_iter().flatten() {
            let Some(s) = v.as_str().filter(|s| !s.is_empty()) else {
                continue;
            };
            out.push(s.to_string());
            let decoded = String::from_utf8(decode(s)).unwrap();
            out.push(decoded.clone());
            if key == "userData" {
                // The CA data URL(s) inside the stub, their base64 and the PEM they hold.
                let mut rest = decoded.as_str();
                while let Some(i) = rest.find("data:text/plain;charset=utf-8;base64,") {
                    let url_and_more = &rest[i..];
                    let end = url_and_more.find('"').unwrap_or(url_and_more.len());
                    let url = &url_and_more[..end];
                    out.push(url.to_string());
                    let b64 = url.split_once("base64,").unwrap().1;
                    out.push(b64.to_string());
                    let pem = String::from_utf8(decode(b64)).unwrap();
                    pem_lines(&pem, &mut out);
                    rest = &url_and_more[end..];
                }
            }
            if key.starts_with("tls.") {
                pem_lines(&decoded, &mut out);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn hits<'a>(haystack: &str, needles: &'a [String]) -> Vec<&'a str> {
    needles
        .iter()
        .filter(|n| haystack.contains(n.as_str()))
        .map(|n| &n[..n.len().min(40)])
        .collect()
}

fn with_flags(mut args: Value, kubeconfig: &Path) -> Value {
    args["kubeconfig"] = json!(kubeconfig);
    args["api_key"] = json!(API_KEY);
    args["_ansible_no_log"] = json!(true);
    args["_ansible_diff"] = json!(true);
    args["_ansible_verbosity"] = json!(5);
    args
}

fn check(label: &str, r: &ModuleRun, needles: &[String], ran: &mut Vec<String>) {
    for (stream, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        let h = hits(text, needles);
        assert!(h.is_empty(), "{label}: {stream} leaks {h:?}");
    }
    ran.push(format!(
        "{label}: changed={} failed={}",
        r.json["changed"], r.json["failed"]
    ));
}

/// The record's non-secret fields: every field of every entry, except `old`/`new` of
/// entries marked `secret`.
fn record_public_text(path: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(path) else {
        return String::new();
    };
    let mut record: Value = serde_json::from_str(&text).unwrap();
    let runs = record["runs"].as_array_mut().into_iter().flatten();
    for e in runs.flat_map(|r| r["entries"].as_array_mut().into_iter().flatten()) {
        if e["secret"] == json!(true) {
            let o = e.as_object_mut().unwrap();
            o.remove("old");
            o.remove("new");
        }
    }
    record.to_string()
}

#[test]
fn no_module_leaks_a_known_secret() {
    let objects = objects_under(&dump());
    let needles = needles(&objects);
    assert!(
        needles.len() >= 10,
        "too few known secrets: {}",
        needles.len()
    );
    let work = tempfile::tempdir().unwrap();
    let record = work.path().join("record.json");
    let mut ran = Vec::new();

    let mut c = TestCluster::start();
    if c.is_real() {
        eprintln!("secrets: skipped against a real API server");
        return;
    }
    c.load(&objects);
    let kc = c.kubeconfig();
    let canary_ms =
        objects.iter().find(|o| o["kind"] == "MachineSet").unwrap()["metadata"]["name"].clone();
    let steps: Vec<(&str, &str, Value)> = vec![
        (
            "bootimage_info (cluster)",
            "bootimage_info",
            json!({"nodes": true}),
        ),
        (
            "bootimage_info (dump)",
            "bootimage_info",
            json!({"dump_dir": dump(), "nodes": true}),
        ),
        ("mcs_cert_info (cluster)", "mcs_cert_info", json!({})),
        (
            "mcs_cert_info (dump)",
            "mcs_cert_info",
            json!({"dump_dir": dump()}),
        ),
        (
            "autoscaling paused",
            "autoscaling",
            json!({"state": "paused", "record_path": record}),
        ),
        (
            "stub_ignition (check)",
            "stub_ignition",
            json!({"record_path": record, "_ansible_check_mode": true}),
        ),
        (
            "stub_ignition (in place)",
            "stub_ignition",
            json!({"record_path": record}),
        ),
        (
            "machineset_bootimage",
            "machineset_bootimage",
            json!({"record_path": record}),
        ),
        (
            "bootimage_canary (check)",
            "bootimage_canary",
            json!({"machineset": canary_ms, "record_path": record, "_ansible_check_mode": true}),
        ),
        (
            "autoscaling resumed",
            "autoscaling",
            json!({"state": "resumed", "record_path": record}),
        ),
        (
            "rollback (check)",
            "rollback",
            json!({"record_path": record, "_ansible_check_mode": true}),
        ),
        ("rollback", "rollback", json!({"record_path": record})),
    ];
    for (label, module, args) in steps {
        let r = run_module(module, &with_flags(args, &kc));
        check(label, &r, &needles, &mut ran);
    }
    assert!(record.exists(), "no rollback record was written");
    let h = hits(&record_public_text(&record), &needles);
    assert!(h.is_empty(), "the record's non-secret fields leak {h:?}");
    // Control: the search does find the secrets where they are meant to be (the
    // `old` values of the record's secret entries).
    let raw = std::fs::read_to_string(&record).unwrap();
    assert!(
        !hits(&raw, &needles).is_empty(),
        "the needle search finds nothing even in the secret entries"
    );

    // create_new on a fresh cluster (the in-place run above migrated the stubs).
    let mut c2 = TestCluster::start();
    c2.load(&objects);
    let record2 = work.path().join("record2.json");
    let r = run_module(
        "stub_ignition",
        &with_flags(
            json!({"create_new": true, "record_path": record2}),
            &c2.kubeconfig(),
        ),
    );
    check("stub_ignition (create_new)", &r, &needles, &mut ran);
    assert_eq!(r.json["changed"], json!(true), "{}", r.stdout);
    let r = run_module(
        "rollback",
        &with_flags(json!({"record_path": record2}), &c2.kubeconfig()),
    );
    check("rollback (create_new)", &r, &needles, &mut ran);
    let h = hits(&record_public_text(&record2), &needles);
    assert!(
        h.is_empty(),
        "the create_new record's non-secret fields leak {h:?}"
    );

    eprintln!(
        "secrets: {} known secret strings, 0 hits in:",
        needles.len()
    );
    for r in &ran {
        eprintln!("  {r}");
    }
}
