//! Fault injection at every request of the update sequence (`autoscaling paused` →
//! `stub_ignition` → `machineset_bootimage` → `autoscaling resumed`, one run id, the
//! rollback record in a file): the clean run is counted (R requests), then for every k in
//! 1..=R and every fault kind (HTTP 500, 409, 429 with Retry-After, connection reset, a
//! response slower than the client's timeout) a fresh cluster runs the sequence with the
//! k-th request failed, and:
//!
//! - every module run prints exactly one JSON object, never a panic (exit code matching
//!   `failed`);
//! - a fault on a read (GET/LIST) never fails a task (reads are retried), except 409,
//!   which is not a transient answer;
//! - every field the server holds changed from the start has a record entry with that
//!   new value;
//! - re-running the whole sequence without faults ends in the clean run's end state
//!   (when a step failed; a sequence that retried to success must be there already);
//! - `rollback` of the run id restores the start byte for byte.
//!
//! In-process server only (faults need it). Prints how many fault points were tried.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{
    assert_cluster_equals, comparable, objects_under, root, run_module_env, ModuleRun, TestCluster,
};
use serde_json::{json, Value};
use test_apiserver::{Fault, FaultAction};

const RUN_ID: &str = "faults-1";
/// The client timeout for the slow-response faults (`OCP_BOOTIMAGE_TIMEOUT_SECS`)…
const TIMEOUT_SECS: &str = "1";
/// …and the slow response: longer than the timeout.
const SLOW_MS: u64 = 1_300;

#[derive(Debug, Clone, Copy)]
enum Kind {
    E500,
    E409,
    E429,
    Reset,
    Slow,
}

impl Kind {
    fn action(self) -> FaultAction {
        match self {
            Kind::E500 => FaultAction::Status(500),
            Kind::E409 => FaultAction::Status(409),
            Kind::E429 => FaultAction::Status(429),
            Kind::Reset => FaultAction::Reset,
            Kind::Slow => FaultAction::Delay(SLOW_MS),
        }
    }

    fn env(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Kind::Slow => vec![("OCP_BOOTIMAGE_TIMEOUT_SECS", TIMEOUT_SECS)],
            _ => Vec::new(),
        }
    }
}

fn args(kc: &Path, record: &Path, extra: Value) -> Value {
    let mut a = json!({"kubeconfig": kc, "run_id": RUN_ID, "record_path": record});
    for (k, v) in extra.as_object().unwrap() {
        a[k] = v.clone();
    }
    a
}

/// One module run, checked against the protocol: one JSON object, no panic, exit code
/// matching `failed`.
fn run_checked(module: &str, a: &Value, env: &[(&str, &str)]) -> Result<ModuleRun, String> {
    let r = std::panic::catch_unwind(|| run_module_env(module, a, env))
        .map_err(|_| format!("{module}: stdout is not one JSON object"))?;
    if !r.json.is_object() {
        return Err(format!("{module}: stdout is not an object: {}", r.stdout));
    }
    let failed = r.json["failed"].as_bool();
    if failed.is_none() {
        return Err(format!("{module}: no boolean `failed`: {}", r.stdout));
    }
    let msg = r.json["msg"].as_str().unwrap_or_default();
    if r.stderr.contains("panicked") || msg.contains("internal error") {
        return Err(format!("{module} panicked: {msg}\nstderr: {}", r.stderr));
    }
    if (r.code == 1) != failed.unwrap_or(false) || !matches!(r.code, 0 | 1) {
        return Err(format!(
            "{module}: exit code {} with failed={failed:?}",
            r.code
        ));
    }
    Ok(r)
}

/// The sequence the way `update.yml` runs it: the steps in order up to the first failure,
/// `autoscaling resumed` always. Returns (module, failed, msg) per run.
fn sequence(
    kc: &Path,
    record: &Path,
    env: &[(&str, &str)],
) -> Result<Vec<(String, bool, String)>, String> {
    let mut out = Vec::new();
    let mut ok = true;
    for (module, extra) in [
        ("autoscaling", json!({"state": "paused"})),
        ("stub_ignition", json!({})),
        ("machineset_bootimage", json!({})),
    ] {
        if !ok {
            break;
        }
        let r = run_checked(module, &args(kc, record, extra), env)?;
        let failed = r.json["failed"] == true;
        ok = !failed;
        out.push((module.to_string(), failed, summary(&r)));
    }
    let r = run_checked(
        "autoscaling",
        &args(kc, record, json!({"state": "resumed"})),
        env,
    )?;
    out.push((
        "autoscaling resumed".into(),
        r.json["failed"] == true,
        summary(&r),
    ));
    Ok(out)
}

/// `msg`, plus the warnings about inputs that could not be read (a degraded run).
fn summary(r: &ModuleRun) -> String {
    let mut s = r.json["msg"].as_str().unwrap_or_default().to_string();
    for w in r.json["warnings"].as_array().into_iter().flatten() {
        if let Some(w) = w.as_str().filter(|w| w.contains("could not read")) {
            s.push_str(" [warning: ");
            s.push_str(w);
            s.push(']');
        }
    }
    s
}

/// (kind, namespace, name) of an object.
fn key(o: &Value) -> (String, Option<String>, String) {
    (
        o["kind"].as_str().unwrap_or_default().to_string(),
        o["metadata"]["namespace"].as_str().map(str::to_string),
        o["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// Every object of the kinds in `like` the server holds.
fn server_objects(c: &TestCluster, like: &[Value]) -> Vec<Value> {
    let server = c.server().unwrap();
    let kinds: BTreeSet<(String, String)> = like
        .iter()
        .map(|o| {
            (
                o["apiVersion"].as_str().unwrap().to_string(),
                o["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    kinds
        .iter()
        .flat_map(|(av, k)| server.list(av, k, None))
        .collect()
}

/// Leaf differences between two values: (pointer, new value or None when absent).
fn diff(
    path: &str,
    old: Option<&Value>,
    new: Option<&Value>,
    out: &mut Vec<(String, Option<Value>)>,
) {
    if old == new {
        return;
    }
    let empty = serde_json::Map::new();
    fn as_obj<'a>(
        v: Option<&'a Value>,
        empty: &'a serde_json::Map<String, Value>,
    ) -> Option<&'a serde_json::Map<String, Value>> {
        match v {
            Some(Value::Object(m)) => Some(m),
            None => Some(empty),
            _ => None,
        }
    }
    if let (Some(a), Some(b)) = (as_obj(old, &empty), as_obj(new, &empty)) {
        let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        for k in keys {
            let p = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
            diff(&p, a.get(k), b.get(k), out);
        }
        return;
    }
    out.push((path.to_string(), new.cloned()));
}

/// Every field changed on the server since `start` has a record entry with that value.
fn check_record(c: &TestCluster, start: &[Value], record: &Path) -> Result<(), String> {
    let entries: Vec<Value> = match std::fs::read(record) {
        Ok(b) => {
            let r: Value = serde_json::from_slice(&b).map_err(|e| format!("record: {e}"))?;
            r["runs"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|run| run["entries"].as_array().cloned().unwrap_or_default())
                .collect()
        }
        Err(_) => Vec::new(),
    };
    let now = server_objects(c, start);
    let covered = |k: &(String, Option<String>, String), path: &str, value: &Option<Value>| {
        entries.iter().any(|e| {
            let field = e["field"].as_str().unwrap_or_default();
            let same_object = e["kind"] == k.0.as_str()
                && e["namespace"].as_str().map(str::to_string) == k.1
                && e["name"] == k.2.as_str();
            if !same_object {
                return false;
            }
            let rest = if path == field {
                ""
            } else if let Some(rest) = path.strip_prefix(field).filter(|r| r.starts_with('/')) {
                rest
            } else {
                return false;
            };
            let recorded = if rest.is_empty() {
                Some(&e["new"]).filter(|v| !v.is_null())
            } else {
                e["new"].pointer(rest)
            };
            recorded.map(|v| comparable_at(path, v))
                == value.as_ref().map(|v| comparable_at(path, v))
        })
    };
    let mut missing = Vec::new();
    for o in &now {
        let k = key(o);
        let before = start.iter().find(|s| key(s) == k);
        let mut d = Vec::new();
        match before {
            Some(b) => diff("", Some(&comparable(b)), Some(&comparable(o)), &mut d),
            // Created by the run: the whole object must be recorded.
            None => {
                if !covered(&k, "", &Some(o.clone()))
                    && !entries.iter().any(|e| {
                        e["field"] == "" && e["kind"] == k.0.as_str() && e["name"] == k.2.as_str()
                    })
                {
                    missing.push(format!("{k:?} was created but is not in the record"));
                }
            }
        }
        for (path, value) in d {
            if !covered(&k, &path, &value) {
                missing.push(format!("{k:?} {path} = {value:?}"));
            }
        }
    }
    for s in start {
        let k = key(s);
        if !now.iter().any(|o| key(o) == k) {
            missing.push(format!("{k:?} was deleted"));
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("changes not in the record: {missing:#?}"))
    }
}

/// A whole object written by a record entry compares without server-managed metadata.
fn comparable_at(path: &str, v: &Value) -> Value {
    if path.is_empty() {
        comparable(v)
    } else {
        v.clone()
    }
}

fn end_state(c: &TestCluster, like: &[Value]) -> Vec<Value> {
    let mut v: Vec<Value> = server_objects(c, like).iter().map(comparable).collect();
    v.sort_by_key(|o| format!("{:?}", key(o)));
    v
}

struct Fixture {
    objects: Vec<Value>,
}

impl Fixture {
    /// A fresh cluster loaded with the dump, and the start as the server stores it.
    fn cluster(&self) -> (TestCluster, Vec<Value>) {
        let mut c = TestCluster::start();
        c.load(&self.objects);
        let start = c.read_back(&self.objects);
        (c, start)
    }
}

/// One fault point: Ok(description of what happened) or Err(what is wrong).
fn fault_point(fx: &Fixture, clean_end: &[Value], k: usize, kind: Kind) -> Result<String, String> {
    let (c, start) = fx.cluster();
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("record.json");
    let kc = c.kubeconfig();
    let server = c.server().unwrap();
    server.clear_requests();
    server.inject_at(k, Fault::with_action(kind.action()));
    let env = kind.env();
    let runs = sequence(&kc, &record, &env)?;
    let reqs = server.requests();
    let hit = reqs.get(k - 1).cloned();
    server.clear_faults();
    if matches!(kind, Kind::Slow) && hit.as_ref().is_some_and(|h| h.is_write()) {
        // Let the slow write finish (or be dropped) before looking.
        std::thread::sleep(Duration::from_millis(SLOW_MS));
    }
    let failures: Vec<String> = runs
        .iter()
        .filter(|r| r.1)
        .map(|r| format!("{}: {}", r.0, r.2))
        .collect();
    if let Some(h) = &hit {
        if !h.is_write() && !matches!(kind, Kind::E409) && !failures.is_empty() {
            return Err(format!(
                "a {kind:?} on the read {} {} failed the task: {failures:?}",
                h.method, h.path
            ));
        }
    }
    check_record(&c, &start, &record)?;
    // A sequence that retried to success must already be at the end state; re-running it
    // (idempotence) is update_sequence.rs's business, and would double this test's time.
    // A run that failed a step, or went on without an input it could not read, is re-run.
    let degraded = runs
        .iter()
        .any(|r| r.2.contains("[warning: could not read"));
    if !failures.is_empty() || degraded {
        let rerun = sequence(&kc, &record, &[])?;
        if let Some(f) = rerun.iter().find(|r| r.1) {
            return Err(format!("re-run failed: {}: {}", f.0, f.2));
        }
    }
    let end = end_state(&c, &fx.objects);
    if end != clean_end {
        let diffs: Vec<String> = end
            .iter()
            .zip(clean_end)
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("{:?}:\n got {a}\nwant {b}", key(a)))
            .collect();
        return Err(format!(
            "re-run did not converge to the clean end state: {} objects vs {}; \
             fault at {hit:?}; faulted run {runs:?}; {diffs:#?}",
            end.len(),
            clean_end.len()
        ));
    }
    let rb = run_checked("rollback", &args(&kc, &record, json!({})), &[])?;
    if rb.json["failed"] == true {
        return Err(format!("rollback failed: {}", rb.stdout));
    }
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_cluster_equals(&c, &start)
    }))
    .map_err(|e| {
        format!(
            "rollback did not restore the start: {}",
            e.downcast_ref::<String>().cloned().unwrap_or_default()
        )
    })?;
    let created: Vec<String> = server_objects(&c, &fx.objects)
        .iter()
        .map(key)
        .filter(|k| !start.iter().any(|s| key(s) == *k))
        .map(|k| format!("{k:?}"))
        .collect();
    if !created.is_empty() {
        return Err(format!("objects left after rollback: {created:?}"));
    }
    Ok(format!(
        "{} failed steps{}{}",
        failures.len(),
        if degraded { ", degraded" } else { "" },
        hit.map(|h| format!(" ({} {})", h.method, h.path))
            .unwrap_or_default()
    ))
}

#[test]
fn every_request_of_the_update_sequence_can_fail() {
    let probe = TestCluster::start();
    if probe.server().is_none() {
        eprintln!("faults: in-process server only; skipped");
        return;
    }
    drop(probe);
    let t0 = Instant::now();
    let fx = Fixture {
        objects: objects_under(&root().join("examples/cluster-dump")),
    };

    // The clean run: its request count and end state.
    let (c, start) = fx.cluster();
    let dir = tempfile::tempdir().unwrap();
    let record: PathBuf = dir.path().join("record.json");
    let kc = c.kubeconfig();
    c.clear_requests();
    let runs = sequence(&kc, &record, &[]).unwrap();
    assert!(runs.iter().all(|r| !r.1), "clean run failed: {runs:?}");
    let r = c.requests().unwrap().len();
    let clean_end = end_state(&c, &fx.objects);
    check_record(&c, &start, &record).unwrap();
    // The record check sees changes: without the record, it fails.
    assert!(check_record(&c, &start, &dir.path().join("none.json")).is_err());
    eprintln!(
        "faults: the clean sequence makes {r} requests ({:?})",
        t0.elapsed()
    );
    drop(c);

    let kinds = [Kind::E500, Kind::Reset, Kind::E409, Kind::E429, Kind::Slow];
    let points: Vec<(usize, Kind)> = kinds
        .iter()
        .flat_map(|&kind| (1..=r).map(move |k| (k, kind)))
        .collect();
    // FAULTS_ONLY="18:E500,20:E409" tries only those points (for debugging).
    let only: Option<Vec<String>> = std::env::var("FAULTS_ONLY")
        .ok()
        .map(|v| v.split(',').map(str::to_string).collect());
    let points: Vec<(usize, Kind)> = points
        .into_iter()
        .filter(|(k, kind)| {
            only.as_ref()
                .is_none_or(|o| o.contains(&format!("{k}:{kind:?}")))
        })
        .collect();
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let tried = AtomicUsize::new(0);
    // Three workers: many points mostly wait (Retry-After, a timeout).
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(&(k, kind)) = points.get(i) else {
                    break;
                };
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    fault_point(&fx, &clean_end, k, kind)
                }))
                .unwrap_or_else(|e| {
                    Err(format!(
                        "test panicked: {}",
                        e.downcast_ref::<String>()
                            .cloned()
                            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default()
                    ))
                });
                tried.fetch_add(1, Ordering::SeqCst);
                match outcome {
                    Ok(what) => eprintln!("faults: k={k} {kind:?}: ok, {what}"),
                    Err(e) => {
                        eprintln!("faults: k={k} {kind:?}: FAILED: {e}");
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("k={k} {kind:?}: {e}"));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    eprintln!(
        "faults: {} fault points tried ({r} requests × {} kinds) in {:?}",
        tried.load(Ordering::SeqCst),
        kinds.len(),
        t0.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} fault points failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
