//! `ocp-bootimage audit` over a fleet: several API servers at once (one per cluster, in
//! mixed states: outdated, fixed by a real update, another platform, every request
//! refused, one that accepts connections and never answers, one with nothing listening)
//! plus a dump directory, audited in one run. Each cluster is reported with its own
//! outcome, none stops the others, the exit code follows the worst, and `--report-dir`
//! writes every form. The first cluster is the real API server when
//! `OCP_BOOTIMAGE_TEST_KUBECONFIG` names one; the others are in-process servers.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{binary, objects_under, root, run_module, with_v3_stubs, TestCluster};
use serde_json::{json, Value};
use test_apiserver::TestApiServer;

fn dump() -> PathBuf {
    root().join("examples/cluster-dump")
}

fn shipped_objects() -> Vec<Value> {
    with_v3_stubs(objects_under(&dump()))
}

fn in_process(objects: &[Value]) -> TestApiServer {
    let s = TestApiServer::start().expect("start test API server");
    for o in objects {
        s.insert(o.clone()).expect("insert");
    }
    s
}

/// The shipped dump's cluster with every MachineSet swapped to the stream's image by a
/// real `machineset_bootimage` run: compliant.
fn fixed_cluster() -> TestApiServer {
    let s = in_process(&shipped_objects());
    let r = run_module(
        "machineset_bootimage",
        &json!({"kubeconfig": s.kubeconfig_path(), "record_path": s.kubeconfig_path().with_extension("record")}),
    );
    assert_eq!(r.json["changed"], true, "{}", r.stdout);
    s
}

/// The shipped cluster with its MachineSets replaced by a GCP fixture MachineSet.
fn gcp_cluster() -> TestApiServer {
    let mut objects = shipped_objects();
    objects.retain(|o| o["kind"] != "MachineSet" && o["kind"] != "MachineAutoscaler");
    let gcp = objects_under(&root().join("tests/fixtures/machinesets/gcp"));
    let ms = gcp
        .into_iter()
        .find(|o| o["kind"] == "MachineSet")
        .expect("a GCP MachineSet fixture");
    let uds = ms
        .pointer("/spec/template/spec/providerSpec/value/userDataSecret/name")
        .and_then(Value::as_str)
        .unwrap_or("worker-user-data")
        .to_string();
    if let Some(mut s) = objects
        .iter()
        .find(|o| o["kind"] == "Secret" && o["metadata"]["name"] == "worker-user-data")
        .cloned()
    {
        s["metadata"]["name"] = json!(uds);
        objects.push(s);
    }
    let mut ms = ms;
    ms["metadata"]["namespace"] = json!("openshift-machine-api");
    objects.push(ms);
    in_process(&objects)
}

/// A server that accepts connections and never answers (held open until the test ends).
fn silent_server() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    let held = l.try_clone().expect("clone");
    std::thread::spawn(move || {
        let mut open = Vec::new();
        for s in held.incoming().flatten() {
            open.push(s);
        }
    });
    (l, url)
}

/// A port with nothing listening.
fn closed_port_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    drop(l);
    url
}

/// A kubeconfig for a plain-HTTP server with a token.
fn kubeconfig_for(dir: &Path, name: &str, server: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: '{server}'}}\nusers:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: {name}\n  context: {{cluster: c, user: u}}\ncurrent-context: {name}\n"
        ),
    )
    .expect("write kubeconfig");
    p
}

fn audit(args: &[String]) -> (Output, Duration) {
    let t = Instant::now();
    let out = Command::new(binary())
        .arg("audit")
        .args(args)
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("run audit");
    (out, t.elapsed())
}

fn target<'a>(fleet: &'a Value, name: &str) -> &'a Value {
    fleet["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no target {name} in {fleet}"))
}

#[test]
fn a_fleet_of_servers_and_a_dump_is_audited_in_one_run() {
    let mut outdated = TestCluster::start();
    outdated.load(&shipped_objects());
    let fixed = fixed_cluster();
    let gcp = gcp_cluster();
    let denied = in_process(&shipped_objects());
    denied.deny("*", "*");
    let (_silent, silent_url) = silent_server();
    let dir = tempfile::tempdir().expect("tmp");
    let silent = kubeconfig_for(dir.path(), "silent", &silent_url);
    let gone = kubeconfig_for(dir.path(), "gone", &closed_port_url());
    let reports = dir.path().join("reports");

    let kc = |name: &str, p: &Path| format!("--kubeconfig={name}={}", p.display());
    let args = vec![
        kc("outdated", &outdated.kubeconfig()),
        kc("fixed", fixed.kubeconfig_path()),
        kc("gcp", gcp.kubeconfig_path()),
        kc("denied", denied.kubeconfig_path()),
        kc("silent", &silent),
        kc("gone", &gone),
        format!("--dump-dir={}", dump().display()),
        "--timeout=4".into(),
        format!("--report-dir={}", reports.display()),
        "-o".into(),
        "json".into(),
    ];
    let (out, took) = audit(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fleet: Value = serde_json::from_str(&stdout).expect("the fleet report as JSON");
    assert_eq!(fleet["schema"], "ocp-bootimage.fleet/v1");
    assert_eq!(fleet["verdict"], "incomplete");
    let names: Vec<&str> = fleet["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "outdated",
            "fixed",
            "gcp",
            "denied",
            "silent",
            "gone",
            "cluster-dump"
        ]
    );

    let outcome = |n: &str| {
        target(&fleet, n)["outcome"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let verdict = |n: &str| {
        target(&fleet, n)["verdict"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(
        (outcome("outdated"), verdict("outdated")),
        ("audited".into(), "not_compliant".into())
    );
    assert_eq!(
        (outcome("fixed"), verdict("fixed")),
        ("audited".into(), "compliant".into())
    );
    assert_eq!(outcome("gcp"), "audited");
    assert_eq!(
        outcome("denied"),
        "forbidden",
        "{}",
        target(&fleet, "denied")
    );
    assert_eq!(outcome("silent"), "timed_out");
    assert_eq!(outcome("gone"), "unreachable", "{}", target(&fleet, "gone"));
    assert_eq!(
        (outcome("cluster-dump"), verdict("cluster-dump")),
        ("audited".into(), "not_compliant".into())
    );
    assert_eq!(target(&fleet, "cluster-dump")["source"]["kind"], "dump_dir");

    // The outdated cluster's MachineSets are failing checks with the reason; the fixed
    // one's pass.
    let checks = |n: &str, kind: &str, result: &str| {
        target(&fleet, n)["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .filter(|c| c["kind"] == kind && c["result"] == result)
            .count()
    };
    assert_eq!(checks("outdated", "machineset", "fail"), 4);
    assert_eq!(checks("fixed", "machineset", "pass"), 4);
    assert_eq!(checks("fixed", "machineset", "fail"), 0);
    assert!(
        target(&fleet, "outdated")["boot_image_age"]["age_days"]
            .as_i64()
            .unwrap_or(0)
            > 2000
    );
    assert_eq!(fleet["summary"]["clusters"], 7);
    assert_eq!(fleet["summary"]["not_audited"], 3);
    assert_eq!(fleet["summary"]["compliant"], 1);

    // The silent server cost its timeout once, not once per cluster: the others ran beside it.
    assert!(took < Duration::from_secs(4 + 20), "took {took:?}");
    assert!(
        target(&fleet, "silent")["duration_ms"]
            .as_u64()
            .unwrap_or(0)
            >= 4000
    );

    // --report-dir: every form, and its JSON is the same report.
    for f in [
        "fleet-report.json",
        "fleet-report.yaml",
        "fleet-report.txt",
        "fleet-report.junit.xml",
        "fleet-report.html",
        "fleet-report.prom",
    ] {
        assert!(reports.join(f).is_file(), "{f} missing");
    }
    let written: Value =
        serde_json::from_slice(&std::fs::read(reports.join("fleet-report.json")).expect("read"))
            .expect("json");
    assert_eq!(written, fleet);
    let table = std::fs::read_to_string(reports.join("fleet-report.txt")).expect("read");
    assert!(table.contains("timed out: no answer within 4 s"), "{table}");
}

#[test]
fn the_exit_code_is_0_when_all_are_compliant_and_1_when_one_is_not() {
    let fixed = fixed_cluster();
    let fixed_too = fixed_cluster();
    let kc = |name: &str, p: &Path| format!("--kubeconfig={name}={}", p.display());
    let (out, _) = audit(&[
        kc("a", fixed.kubeconfig_path()),
        kc("b", fixed_too.kubeconfig_path()),
        "-o".into(),
        "table".into(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("fleet: compliant — 2 cluster(s)"), "{text}");
    let (out, _) = audit(&[
        kc("a", fixed.kubeconfig_path()),
        format!("--dump-dir=shipped={}", dump().display()),
        "-o".into(),
        "table".into(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with("shipped "))
        .unwrap_or_else(|| panic!("no row for shipped: {text}"));
    assert!(row.contains("not compliant"), "{row}");
    assert!(
        text.contains("fail machineset openshift-machine-api/"),
        "{text}"
    );
}

#[test]
fn all_contexts_of_a_kubeconfig_are_the_fleet_and_bad_targets_exit_2() {
    let fixed = fixed_cluster();
    let other = fixed_cluster();
    let dir = tempfile::tempdir().expect("tmp");
    let kubeconfig = dir.path().join("fleet");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: one\n  cluster: {{server: '{}'}}\n- name: two\n  cluster: {{server: '{}'}}\nusers:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: east\n  context: {{cluster: one, user: u}}\n- name: west\n  context: {{cluster: two, user: u}}\ncurrent-context: east\n",
            fixed.url(),
            other.url()
        ),
    )
    .expect("write");
    let (out, _) = audit(&[
        format!("--kubeconfig={}", kubeconfig.display()),
        "--all-contexts".into(),
        "-o".into(),
        "json".into(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fleet: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(target(&fleet, "east")["source"]["kind"], "context");
    assert_eq!(target(&fleet, "west")["verdict"], "compliant");

    let (out, _) = audit(&[
        format!("--kubeconfig={}", kubeconfig.display()),
        "--context=north".into(),
        "--context=east".into(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("context \"north\" is in none of"), "{err}");
}

/// The README's quick start fleet audit (the shipped dump and the same cluster after the
/// update) prints the rows the README shows, and exits 1.
#[test]
fn the_readme_quick_start_fleet_audit_prints_what_the_readme_shows() {
    let dir = tempfile::tempdir().expect("tmp");
    let (out, _) = audit(&[
        format!("--dump-dir={}", dump().display()),
        format!(
            "--dump-dir={}",
            root().join("examples/fleet/cluster-dump-updated").display()
        ),
        format!("--report-dir={}", dir.path().join("fleet-report").display()),
        "-o".into(),
        "table".into(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.starts_with("CLUSTER") || l.starts_with("cluster-dump") || l.starts_with("fleet:")
        })
        .collect();
    assert_eq!(rows.len(), 5, "{text}");
    for row in rows {
        let row = if row.ends_with('d') && row.starts_with("cluster-dump") {
            // The age in days grows every day: compare the row without it.
            row.rsplit_once(' ').map_or(row, |(r, _)| r)
        } else {
            row
        };
        assert!(readme.contains(row.trim_end()), "README lacks {row:?}");
    }
}

/// A failed audit says which kind of failure it was in `failure_kind`, set where the error
/// happened, so the fleet report never sorts it by the words of `msg`. The names here hold
/// "403" and "timeout" (CI once saw a refused connection on port 40329 sorted as
/// forbidden by those words).
#[test]
fn a_failed_audit_says_its_failure_kind_whatever_its_message_holds() {
    let denied = in_process(&shipped_objects());
    denied.deny("*", "*");
    let (_silent, silent_url) = silent_server();
    let dir = tempfile::tempdir().expect("tmp");
    // The refused server's URL says "forbidden" (a path), which its message repeats.
    let gone_url = format!("{}/forbidden-403/", closed_port_url());
    let gone = kubeconfig_for(dir.path(), "timeout-403", &gone_url);
    let silent = kubeconfig_for(dir.path(), "forbidden-403", &silent_url);
    for (kubeconfig, env, want) in [
        (denied.kubeconfig_path().to_path_buf(), vec![], "forbidden"),
        (gone.clone(), vec![], "unreachable"),
        (
            silent,
            vec![("OCP_BOOTIMAGE_TIMEOUT_SECS", "1")],
            "timed_out",
        ),
    ] {
        let r = common::run_module_env("bootimage_info", &json!({"kubeconfig": kubeconfig}), &env);
        assert_eq!(r.json["failed"], true, "{}", r.stdout);
        assert_eq!(r.json["failure_kind"], want, "{}", r.stdout);
    }
    // The fleet audit sorts by `failure_kind` too: sorted by the words of its message,
    // the refused server would be forbidden.
    let (out, _) = audit(&[
        format!("--kubeconfig=gone={}", gone.display()),
        format!("--kubeconfig=denied={}", denied.kubeconfig_path().display()),
        "-o".into(),
        "json".into(),
    ]);
    let fleet: Value = serde_json::from_slice(&out.stdout).expect("the fleet report as JSON");
    let gone = target(&fleet, "gone");
    assert!(
        gone["error"]
            .as_str()
            .is_some_and(|e| e.contains("/forbidden-403/")),
        "{gone}"
    );
    assert_eq!(gone["outcome"], "unreachable", "{gone}");
    assert_eq!(target(&fleet, "denied")["outcome"], "forbidden");

    // A failure of no such kind (a context the kubeconfig lacks) has none.
    let r = run_module(
        "bootimage_info",
        &json!({"kubeconfig": denied.kubeconfig_path(), "context": "nope"}),
    );
    assert_eq!(r.json["failed"], true, "{}", r.stdout);
    assert_eq!(r.json.get("failure_kind"), None, "{}", r.stdout);
}
