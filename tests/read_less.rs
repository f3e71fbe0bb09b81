//! Issue 17, "Read less, faster": which requests read the API server's watch cache and
//! which stay quorum reads, the `quorum_read` option (module option, its
//! `OCP_BOOTIMAGE_QUORUM_READ` fallback and the CLI's `--quorum-read`), and gzip-compressed
//! LIST answers (parsed as before, fewer bytes on the wire).
//!
//! The request checks need the in-process test API server (it records every request and
//! counts the bytes it writes); against a real one (`OCP_BOOTIMAGE_TEST_KUBECONFIG`) the
//! same runs check the results only: the real API server accepts `resourceVersion=0` with
//! `resourceVersionMatch=NotOlderThan` and the answers, compressed or not, parse alike.

mod common;

use common::{objects_under, root, run_module, run_module_env, TestCluster};
use serde_json::{json, Value};
use test_apiserver::{Fault, RequestRecord};

const NS: &str = "openshift-machine-api";
const MS: &str = "build09-kcxpl-worker-us-east-1a";

fn shipped_dump() -> std::path::PathBuf {
    root().join("examples/cluster-dump")
}

/// The collections this project LISTs; a GET of one of these paths is a LIST.
const COLLECTIONS: &[&str] = &[
    "machinesets",
    "machines",
    "machineautoscalers",
    "clusterautoscalers",
    "nodes",
    "pods",
    "secrets",
    "leases",
];

fn is_list(q: &RequestRecord) -> bool {
    q.method == "GET"
        && q.path
            .rsplit('/')
            .next()
            .is_some_and(|last| COLLECTIONS.contains(&last))
}

fn query(q: &RequestRecord) -> &str {
    q.query.as_deref().unwrap_or_default()
}

/// Answered from the watch cache: `resourceVersion=0` with `NotOlderThan`.
fn from_cache(q: &RequestRecord) -> bool {
    let params: Vec<&str> = query(q).split('&').collect();
    params.contains(&"resourceVersion=0") && params.contains(&"resourceVersionMatch=NotOlderThan")
}

/// A quorum read: no `resourceVersion` at all.
fn quorum(q: &RequestRecord) -> bool {
    !query(q).contains("resourceVersion")
}

fn describe(reqs: &[RequestRecord]) -> String {
    reqs.iter()
        .map(|q| format!("{} {}?{} -> {}\n", q.method, q.path, query(q), q.status))
        .collect()
}

/// The audit with nodes: every LIST (MachineSets, autoscalers, Machines, Nodes, pods) from
/// the watch cache, every GET a quorum read; with `quorum_read` (option, environment
/// variable, CLI flag) every request is a quorum read. Same results either way.
#[test]
fn the_audit_lists_from_the_watch_cache_unless_quorum_read() {
    let mut c = TestCluster::start();
    c.load(&objects_under(&shipped_dump()));
    let args = json!({"kubeconfig": c.kubeconfig(), "nodes": true});
    c.clear_requests();
    let cached = run_module("bootimage_info", &args);
    assert_eq!(cached.json["failed"], false, "{}", cached.stdout);
    assert_eq!(cached.json["summary"]["total"], 4, "{}", cached.stdout);
    if let Some(reqs) = c.requests() {
        let lists: Vec<&RequestRecord> = reqs.iter().filter(|q| is_list(q)).collect();
        for path in [
            "machinesets",
            "machineautoscalers",
            "machines",
            "nodes",
            "pods",
        ] {
            assert!(
                lists.iter().any(|q| q.path.ends_with(path)),
                "no LIST of {path}:\n{}",
                describe(&reqs)
            );
        }
        for q in &lists {
            assert!(from_cache(q), "LIST not from the cache: {q:?}");
        }
        for q in reqs.iter().filter(|q| !is_list(q)) {
            assert!(quorum(q), "GET not a quorum read: {q:?}");
        }
    }

    // The option, its environment variable, and the CLI flag: every request a quorum read.
    let all_quorum = |what: &str| {
        if let Some(reqs) = c.requests() {
            assert!(reqs.iter().any(|q| q.path.ends_with("/machinesets")));
            for q in &reqs {
                assert!(quorum(q), "with {what}: {q:?}");
            }
        }
    };
    let option = json!({"kubeconfig": c.kubeconfig(), "nodes": true, "quorum_read": true});
    for (what, env) in [
        ("quorum_read: true", vec![]),
        (
            "OCP_BOOTIMAGE_QUORUM_READ=true",
            vec![("OCP_BOOTIMAGE_QUORUM_READ", "true")],
        ),
    ] {
        c.clear_requests();
        let args = if env.is_empty() { &option } else { &args };
        let r = run_module_env("bootimage_info", args, &env);
        assert_eq!(r.json["failed"], false, "{}", r.stdout);
        assert_eq!(r.json["machinesets"], cached.json["machinesets"]);
        all_quorum(what);
    }
    c.clear_requests();
    let cli = std::process::Command::new(common::binary())
        .args(["audit", "-o", "json", "--quorum-read", "--kubeconfig"])
        .arg(c.kubeconfig())
        .env_remove("KUBECONFIG")
        .env_remove("OCP_BOOTIMAGE_QUORUM_READ")
        .output()
        .unwrap();
    let out: Value = serde_json::from_slice(&cli.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&cli.stderr)));
    assert_eq!(
        out["machinesets"].as_array().map(Vec::len),
        Some(4),
        "{out}"
    );
    all_quorum("--quorum-read");
    // `--quorum-read=false` and an explicit `quorum_read: false` read the cache again.
    c.clear_requests();
    let r = run_module_env(
        "bootimage_info",
        &json!({"kubeconfig": c.kubeconfig(), "quorum_read": false}),
        &[("OCP_BOOTIMAGE_QUORUM_READ", "true")],
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    if let Some(reqs) = c.requests() {
        let lists: Vec<&RequestRecord> = reqs.iter().filter(|q| is_list(q)).collect();
        assert!(!lists.is_empty());
        assert!(lists.iter().all(|q| from_cache(q)), "{}", describe(&reqs));
    }
}

/// An update: the planning LIST of MachineSets reads the cache, the PATCH carries the
/// resourceVersion it was planned from (so a stale read can only end in a 409), the
/// re-read after that 409 and the revert check's LIST after the write are quorum reads,
/// and so is every request of the rollback record and the run lock.
#[test]
fn reads_that_verify_the_runs_own_writes_are_quorum_reads() {
    let mut c = TestCluster::start();
    c.load(&common::with_v3_stubs(objects_under(&shipped_dump())));
    let before = c.get("MachineSet", Some(NS), MS).unwrap();
    let planned_rv = before["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    c.clear_requests();
    if let Some(s) = c.server() {
        // As if the plan came from a stale cache: the first PATCH conflicts.
        s.inject(
            Fault::status(409)
                .on_method("PATCH")
                .on_path(&format!("/machinesets/{MS}")),
        );
    }
    let r = run_module(
        "machineset_bootimage",
        &json!({"kubeconfig": c.kubeconfig(), "machinesets": [MS]}),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["changed"], true, "{}", r.stdout);
    let Some(reqs) = c.requests() else {
        return;
    };
    let patch = |q: &RequestRecord| q.method == "PATCH" && q.path.ends_with(MS);
    let first_patch = reqs.iter().position(patch).expect("a PATCH");
    let last_patch = reqs.iter().rposition(patch).unwrap();
    assert!(last_patch > first_patch, "a 409, then the PATCH again");
    assert_eq!(reqs[first_patch].status, 409);
    assert!(
        reqs[first_patch]
            .body
            .as_deref()
            .unwrap_or_default()
            .contains(&format!("\"resourceVersion\":\"{planned_rv}\"")),
        "the write carries the resourceVersion it was planned from: {:?}",
        reqs[first_patch]
    );
    let ms_lists: Vec<(usize, &RequestRecord)> = reqs
        .iter()
        .enumerate()
        .filter(|(_, q)| is_list(q) && q.path.ends_with("/machinesets"))
        .collect();
    let (planning, after): (Vec<_>, Vec<_>) = ms_lists.iter().partition(|(i, _)| *i < first_patch);
    assert!(
        !planning.is_empty() && !after.is_empty(),
        "{}",
        describe(&reqs)
    );
    for (_, q) in planning {
        assert!(from_cache(q), "planning LIST: {q:?}");
    }
    for (_, q) in after {
        assert!(quorum(q), "revert check LIST: {q:?}");
    }
    let reread = reqs[first_patch..last_patch]
        .iter()
        .find(|q| q.method == "GET" && q.path.ends_with(MS))
        .expect("the re-read after the 409");
    assert!(quorum(reread), "{reread:?}");
    let bookkeeping: Vec<&RequestRecord> = reqs
        .iter()
        .filter(|q| q.path.contains("/secrets") || q.path.contains("/leases"))
        .filter(|q| q.path.contains(common::RECORD_NS))
        .collect();
    assert!(!bookkeeping.is_empty(), "{}", describe(&reqs));
    for q in bookkeeping {
        assert!(quorum(q), "record store / run lock: {q:?}");
    }
}

/// `n` copies of the shipped dump's first MachineSet under other names.
fn copies(n: usize) -> Vec<Value> {
    let objects = objects_under(&shipped_dump());
    let ms = objects
        .iter()
        .find(|o| o["kind"] == "MachineSet")
        .unwrap()
        .clone();
    (0..n)
        .map(|i| {
            let mut o = ms.clone();
            o["metadata"]["name"] = json!(format!("copy-{i:03}"));
            o
        })
        .collect()
}

/// The kubeconfig with `disable-compression: true` on every cluster (kube's opt-out).
fn uncompressed_kubeconfig(c: &TestCluster, dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(c.kubeconfig()).unwrap();
    let mut doc: Value = serde_yaml::from_str(&text).unwrap();
    for cluster in doc["clusters"].as_array_mut().unwrap() {
        cluster["cluster"]["disable-compression"] = json!(true);
    }
    let path = dir.join("kubeconfig");
    std::fs::write(&path, serde_yaml::to_string(&doc).unwrap()).unwrap();
    path
}

/// A LIST larger than 128 KiB comes gzip-compressed (the client asks for it), is parsed
/// into the same result as the uncompressed answer, and costs a fraction of the bytes.
#[test]
fn large_lists_come_gzip_compressed_and_parse_the_same() {
    const N: usize = 200;
    let mut c = TestCluster::start();
    let mut objects = objects_under(&shipped_dump());
    objects.extend(copies(N));
    c.load(&objects);
    let dir = tempfile::tempdir().unwrap();
    let plain_kubeconfig = uncompressed_kubeconfig(&c, dir.path());
    let audit = |kubeconfig: &std::path::Path| {
        c.clear_requests();
        let sent = c.server().map(|s| s.bytes_sent());
        let r = run_module("bootimage_info", &json!({"kubeconfig": kubeconfig}));
        assert_eq!(r.json["failed"], false, "{}", r.stdout);
        let bytes = c.server().map(|s| s.bytes_sent()).zip(sent);
        (
            r.json,
            c.requests(),
            bytes.map(|(after, before)| after - before),
        )
    };
    let (gz, gz_reqs, gz_bytes) = audit(&c.kubeconfig());
    let (plain, plain_reqs, plain_bytes) = audit(&plain_kubeconfig);
    assert_eq!(gz["summary"]["total"], N + 4, "{}", gz["summary"]);
    assert_eq!(gz["machinesets"], plain["machinesets"]);
    assert_eq!(gz["summary"], plain["summary"]);
    let (Some(gz_reqs), Some(plain_reqs)) = (gz_reqs, plain_reqs) else {
        return;
    };
    let ms_list = |reqs: &[RequestRecord]| {
        reqs.iter()
            .find(|q| is_list(q) && q.path.ends_with("/machinesets"))
            .cloned()
            .unwrap()
    };
    let compressed = ms_list(&gz_reqs);
    assert!(
        compressed
            .accept_encoding
            .as_deref()
            .is_some_and(|a| a.contains("gzip")),
        "{compressed:?}"
    );
    assert_eq!(compressed.content_encoding.as_deref(), Some("gzip"));
    let uncompressed = ms_list(&plain_reqs);
    assert_eq!(uncompressed.content_encoding, None, "{uncompressed:?}");
    // Small answers are not compressed (kube-apiserver's 128 KiB threshold).
    for q in gz_reqs.iter().filter(|q| q.path.ends_with("/version")) {
        assert_eq!(q.content_encoding, None, "{q:?}");
    }
    let (gz_bytes, plain_bytes) = (gz_bytes.unwrap(), plain_bytes.unwrap());
    assert!(
        gz_bytes * 5 < plain_bytes,
        "bytes on the wire: {gz_bytes} with gzip, {plain_bytes} without"
    );
    eprintln!("bytes server→client: {gz_bytes} with gzip, {plain_bytes} without");
}

/// Kubernetes' rules for `resourceVersionMatch`, as the test API server applies them
/// (the real one does too): what the client sends is accepted.
#[test]
fn the_test_server_checks_resource_version_match_as_kube_apiserver_does() {
    let c = TestCluster::start();
    let Some(s) = c.server() else {
        return;
    };
    let path = format!(
        "{}/apis/machine.openshift.io/v1beta1/namespaces/{NS}/machinesets",
        s.url()
    );
    let (rt, conn) = common::connect(&c);
    let client = conn.client;
    let status = |query: &str| {
        let req = http::Request::get(format!("{path}?{query}"))
            .body(Vec::new())
            .unwrap();
        rt.block_on(client.request_text(req))
            .map(|_| 200)
            .unwrap_or_else(|e| match e {
                kube::Error::Api(s) => s.code,
                other => panic!("{other}"),
            })
    };
    assert_eq!(
        status("resourceVersion=0&resourceVersionMatch=NotOlderThan"),
        200
    );
    assert_eq!(status("resourceVersion=0"), 200);
    assert_eq!(status("resourceVersionMatch=NotOlderThan"), 400);
    assert_eq!(status("resourceVersion=0&resourceVersionMatch=Exact"), 400);
    assert_eq!(status("resourceVersion=0&resourceVersionMatch=Newest"), 400);
}
