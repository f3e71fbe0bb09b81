//! The safety net under the per-run record and the run lock, on fleets of MachineSets:
//!
//! 1. **kill -9 anywhere**: `machineset_bootimage`, `rollback` and `stub_ignition` run as
//!    Ansible runs them, killed (SIGKILL) at points spread over a run — chosen by the
//!    number of requests the in-process server has seen (on a real API server: by time).
//!    After each kill the record parses and covers every change on the server
//!    (write-ahead), the dead holder's Lease blocks a run until it expires and is then
//!    taken over, a rerun with the same run id converges, and `rollback` of that run id
//!    puts every object back where it started.
//! 2. **Concurrency**: two mutating runs started together — one proceeds, the other fails
//!    at once naming the holder (`lock_timeout: 0`) having written nothing, or waits and
//!    does what remained (`lock_timeout: 60`); nothing is lost from either record.
//! 3. **Record bounds**: 100 update/rollback cycles never block and every run stays
//!    listed; one cycle of 1,000 MachineSets leaves under 100 KB of record Secrets.
//! 4. **Numbered parts**: a run past the part limit continues in parts `.2`, `.3`, …
//!    (library level, with a small part limit), rewritten without stale parts.
//!
//! In-process server by default (1,000 MachineSets for the kill test of the update);
//! a real API server with OCP_BOOTIMAGE_TEST_KUBECONFIG (50 MachineSets, fewer kill
//! points, chosen by time). The measured numbers are printed (`--nocapture`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{
    assert_cluster_equals, comparable, decode_part, fixture, micro_time_ago, objects_in,
    objects_under, root, run_module, spawn_module, with_v3_stubs, ModuleRun, TestCluster,
    RECORD_NS,
};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, Patch, PatchParams};
use ocp_bootimage::kube::connection::Connection;
use ocp_bootimage::kube::record_store::codec;
use ocp_bootimage::kube::record_store::RecordStore;
use ocp_bootimage::options::RecordParams;
use ocp_bootimage::plan::change::StoredFields;
use ocp_bootimage::record::{RecordEntry, RunState};
use serde_json::{json, Value};

const NS: &str = "openshift-machine-api";
/// The default record, and so the name of the run lock's Lease.
const RECORD: &str = "ocp-bootimage-rollback";
const SET_LABEL: &str = "machine.openshift.io/cluster-api-machineset";
const GROUP_LABEL: &str = "safety-net.ocp-bootimage.io/group";
const GROUPS: [&str; 3] = ["a", "b", "c"];

/// Whether the tests run against a real API server (OCP_BOOTIMAGE_TEST_KUBECONFIG).
fn real() -> bool {
    common::real_kubeconfig().is_some()
}

/// `in_process` MachineSets on the in-process server, `on_real` on a real one.
fn size(in_process: usize, on_real: usize) -> usize {
    if real() {
        on_real
    } else {
        in_process
    }
}

// ---------------------------------------------------------------------------------
// Fleets

/// Where the MachineSets' stubs come from.
#[derive(Clone, Copy, PartialEq)]
enum Stubs {
    /// Every MachineSet boots with the dump's `worker-user-data`, migrated to 3.1.0
    /// (step 2 done: the swap goes ahead).
    Migrated,
    /// Every MachineSet has its own spec 2.2.0 stub `worker-user-data-<i>` (work for
    /// `stub_ignition`).
    OwnV2,
}

/// A cluster of MachineSets to load.
struct Fleet {
    objects: Vec<Value>,
    names: Vec<String>,
}

impl Fleet {
    /// The MachineSets of group `g` (label GROUP_LABEL).
    fn group(&self, g: &str) -> BTreeSet<String> {
        self.names
            .iter()
            .enumerate()
            .filter(|(i, _)| GROUPS[i % GROUPS.len()] == g)
            .map(|(_, n)| n.clone())
            .collect()
    }
}

/// Real MachineSet shapes: the dump's own (AWS x86_64 and arm64) and the AWS and AWS
/// arm64 fixtures. (Not the GCP fixtures: their boot disks carry `"labels": null`, which
/// a real API server stores on create but drops from a merge patch, so after an update and
/// its rollback the key is absent — the same for every reader, null ≡ absent, but not
/// byte for byte; `tests/round_trip.rs` is about that finding.)
fn shapes(dump: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = dump
        .iter()
        .filter(|o| o["kind"] == "MachineSet")
        .cloned()
        .collect();
    for rel in [
        "machinesets/aws/openshift-release-build01-9hdwj-worker-us-east-1a.yaml",
        "machinesets/aws-arm64/openshift-release-build09-worker-aarch64.yaml",
    ] {
        out.extend(
            objects_in(&fixture(rel))
                .into_iter()
                .filter(|o| o["kind"] == "MachineSet"),
        );
    }
    out
}

/// `ms` as MachineSet `name` of group `group`, booting with the stub `user_data`
/// (server-set metadata dropped, selector and template labels renamed).
fn renamed(ms: &Value, name: &str, group: &str, user_data: &str) -> Value {
    let mut ms = ms.clone();
    let md = ms["metadata"].as_object_mut().unwrap();
    for k in common::SERVER_SET_METADATA {
        md.remove(*k);
    }
    md.insert("name".into(), json!(name));
    md.insert("namespace".into(), json!(NS));
    let labels = md.entry("labels").or_insert_with(|| json!({}));
    labels[GROUP_LABEL] = json!(group);
    ms["spec"]["selector"]["matchLabels"][SET_LABEL] = json!(name);
    ms["spec"]["template"]["metadata"]["labels"][SET_LABEL] = json!(name);
    let uds = &mut ms["spec"]["template"]["spec"]["providerSpec"]["value"]["userDataSecret"];
    if uds.is_object() {
        uds["name"] = json!(user_data);
    }
    ms
}

/// The shipped dump (an AWS 4.18 cluster: ClusterVersion, Infrastructure, stream
/// ConfigMap, stubs, …) without its MachineSets and MachineAutoscalers, plus `n`
/// MachineSets of real shapes taken round-robin, named `safety-<i>`, in groups a, b, c.
fn fleet(n: usize, stubs: Stubs) -> Fleet {
    let dump = objects_under(&root().join("examples/cluster-dump"));
    let shapes = shapes(&dump);
    let mut objects: Vec<Value> = dump
        .into_iter()
        .filter(|o| o["kind"] != "MachineSet" && o["kind"] != "MachineAutoscaler")
        .collect();
    if stubs == Stubs::Migrated {
        objects = with_v3_stubs(objects);
    }
    let stub = objects
        .iter()
        .find(|o| o["kind"] == "Secret" && o["metadata"]["name"] == "worker-user-data")
        .cloned()
        .unwrap();
    let mut names = Vec::new();
    for i in 0..n {
        let name = format!("safety-{i:04}");
        let user_data = match stubs {
            Stubs::Migrated => "worker-user-data".to_string(),
            Stubs::OwnV2 => {
                let mut s = stub.clone();
                let uds = format!("worker-user-data-{i:04}");
                s["metadata"] = json!({"name": uds, "namespace": NS});
                objects.push(s);
                uds
            }
        };
        let group = GROUPS[i % GROUPS.len()];
        objects.push(renamed(&shapes[i % shapes.len()], &name, group, &user_data));
        names.push(name);
    }
    Fleet { objects, names }
}

/// A fresh cluster holding `fleet`, its request log cleared, and the objects as stored.
fn cluster_with(fleet: &Fleet) -> (TestCluster, Vec<Value>) {
    let mut c = TestCluster::start();
    c.load(&fleet.objects);
    let start = c.read_back(&fleet.objects);
    c.clear_requests();
    (c, start)
}

// ---------------------------------------------------------------------------------
// Looking at the cluster directly (works on both servers)

/// A runtime and a connection to the test cluster.
struct Kube {
    rt: tokio::runtime::Runtime,
    conn: Connection,
}

fn kube(c: &TestCluster) -> Kube {
    let (rt, conn) = common::connect(c);
    Kube { rt, conn }
}

impl Kube {
    fn leases(&self) -> Api<Lease> {
        Api::namespaced(self.conn.client.clone(), RECORD_NS)
    }

    /// The run lock's Lease, if any.
    fn lease(&self) -> Option<Lease> {
        self.rt.block_on(self.leases().get_opt(RECORD)).unwrap()
    }

    /// Ages the run lock's Lease by an hour (as if its dead holder had been gone that
    /// long): what waiting 15 s would do, without the wait.
    fn expire_lease(&self) {
        let patch = json!({"spec": {
            "acquireTime": micro_time_ago(3_660),
            "renewTime": micro_time_ago(3_600),
        }});
        self.rt
            .block_on(
                self.leases()
                    .patch(RECORD, &PatchParams::default(), &Patch::Merge(&patch)),
            )
            .unwrap();
    }

    /// Every object of `kinds` in the MachineSets' namespace, by (kind, name).
    fn objects(&self, kinds: &[&str]) -> BTreeMap<(String, String), Value> {
        let mut out = BTreeMap::new();
        for kind in kinds {
            let k = ocp_bootimage::cluster::resources::by_kind(kind).unwrap();
            let items = self
                .rt
                .block_on(ocp_bootimage::kube::client::list(
                    &self.conn,
                    k,
                    Some(NS),
                    &Default::default(),
                ))
                .unwrap()
                .unwrap_or_default();
            for o in items {
                let name = o["metadata"]["name"].as_str().unwrap().to_string();
                out.insert((kind.to_string(), name), o);
            }
        }
        out
    }

    /// The record store of the default record (`part_limit`: a smaller part size).
    fn store(&self, part_limit: Option<usize>) -> RecordStore {
        let params: RecordParams = serde_json::from_value(json!({})).unwrap();
        let store = params.store(Some(&self.conn), NS).unwrap();
        match part_limit {
            Some(l) => store.with_part_limit(l),
            None => store,
        }
    }
}

// ---------------------------------------------------------------------------------
// Checks

/// The start's objects of the given kinds in the MachineSets' namespace, by (kind, name).
fn by_key(start: &[Value], kinds: &[&str]) -> BTreeMap<(String, String), Value> {
    start
        .iter()
        .filter(|o| kinds.contains(&o["kind"].as_str().unwrap_or_default()))
        .filter(|o| o["metadata"]["namespace"] == NS)
        .map(|o| {
            (
                (
                    o["kind"].as_str().unwrap().to_string(),
                    o["metadata"]["name"].as_str().unwrap().to_string(),
                ),
                o.clone(),
            )
        })
        .collect()
}

/// Leaf paths where two values differ (`a` absent: None).
fn diff_paths(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<String>) {
    if a == b {
        return;
    }
    let empty = serde_json::Map::new();
    let obj = |v: Option<&Value>| -> Option<serde_json::Map<String, Value>> {
        match v {
            Some(Value::Object(m)) => Some(m.clone()),
            None | Some(Value::Null) => Some(empty.clone()),
            _ => None,
        }
    };
    if let (Some(x), Some(y)) = (obj(a), obj(b)) {
        let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
        for k in keys {
            let p = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
            diff_paths(&p, x.get(k), y.get(k), out);
        }
        return;
    }
    out.push(path.to_string());
}

/// Where the objects of `kinds` differ from the start: (kind, name, changed leaf paths),
/// server bookkeeping left out.
fn changed_since(k: &Kube, start: &[Value], kinds: &[&str]) -> Vec<(String, String, Vec<String>)> {
    let before = by_key(start, kinds);
    let now = k.objects(kinds);
    let mut out = Vec::new();
    for (key, b) in &before {
        let now = now
            .get(key)
            .unwrap_or_else(|| panic!("{key:?} is gone from the cluster"));
        let mut paths = Vec::new();
        diff_paths("", Some(&comparable(b)), Some(&comparable(now)), &mut paths);
        if !paths.is_empty() {
            out.push((key.0.clone(), key.1.clone(), paths));
        }
    }
    out
}

/// (a) The record parses: every record Secret decodes (gzip JSON of the run format),
/// each run's entries are numbered 1, 2, … without gaps, and the product reads every run
/// back. Returns the runs (id, part-1 annotations, entries).
fn record_parses(c: &TestCluster, k: &Kube) -> Vec<(String, Value, Vec<Value>)> {
    for s in c.record_secrets() {
        let part = decode_part(&s);
        assert_eq!(part["format"], "ocp-bootimage.run/v2", "{}", s["metadata"]);
    }
    let runs = c.record_runs();
    for (id, _, entries) in &runs {
        let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
        let want: Vec<u64> = (1..=entries.len() as u64).collect();
        assert_eq!(seqs, want, "run {id}: entries not numbered 1..n");
    }
    let store = k.store(None);
    let listed =
        k.rt.block_on(store.runs())
            .expect("the product lists the runs");
    for (id, _, entries) in &runs {
        let run = store
            .load_run(&listed, id)
            .expect("the product reads the run")
            .expect("the run is listed");
        assert_eq!(run.entries.len(), entries.len(), "run {id}");
    }
    runs
}

/// The write-ahead rule after a kill: every field of `kinds` that differs from the start
/// lies under a field the run `run_id` recorded for that object.
fn changes_are_recorded(
    k: &Kube,
    start: &[Value],
    kinds: &[&str],
    entries: &[Value],
    run_id: &str,
) -> usize {
    let changed = changed_since(k, start, kinds);
    for (kind, name, paths) in &changed {
        let fields: Vec<&str> = entries
            .iter()
            .filter(|e| e["kind"] == kind.as_str() && e["name"] == name.as_str())
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        for p in paths {
            assert!(
                fields
                    .iter()
                    .any(|f| p == f || p.starts_with(&format!("{f}/"))),
                "{kind} {name} changed at {p}, but run {run_id} recorded only {fields:?}"
            );
        }
    }
    changed.len()
}

fn args(kc: &std::path::Path, run_id: &str, extra: Value) -> Value {
    let mut a = json!({"kubeconfig": kc, "run_id": run_id});
    for (key, v) in extra.as_object().unwrap() {
        a[key] = v.clone();
    }
    a
}

fn ok(module: &str, r: &ModuleRun) {
    assert_eq!(
        r.json["failed"], false,
        "{module} failed: {}\nstderr: {}",
        r.json["msg"], r.stderr
    );
}

// ---------------------------------------------------------------------------------
// Killing

/// When to kill a run.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// Once the in-process server has seen this many requests since the run started.
    Request(usize),
    /// This long after the start (a real server has no request log).
    Elapsed(Duration),
}

/// What a kill hit.
struct Killed {
    /// Requests seen when the kill was sent, and once the process was gone (in-process).
    at: Option<usize>,
    after: Option<usize>,
    /// Whether the process was still running (false: it had finished first).
    alive: bool,
    pid: u32,
    elapsed: Duration,
}

/// Starts `module` and kills it with SIGKILL at `at`.
fn kill_at(c: &TestCluster, module: &str, a: &Value, at: KillAt) -> Killed {
    let count = || c.server().map(|s| s.request_count());
    let base = count().unwrap_or(0);
    let mut run = spawn_module(module, a, &[]);
    let pid = run.pid();
    loop {
        let due = match at {
            KillAt::Request(k) => count().unwrap_or(0) - base >= k,
            KillAt::Elapsed(d) => run.started.elapsed() >= d,
        };
        if due || run.exited() {
            let seen = count().map(|n| n - base);
            let elapsed = run.started.elapsed();
            let alive = run.kill();
            return Killed {
                at: seen,
                after: count().map(|n| n - base),
                alive,
                pid,
                elapsed,
            };
        }
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// Whether a request is a renewal of the run lock (a PUT of its Lease: how many a run
/// sends depends on how long it takes, so they are left out of the kill points).
fn is_renewal(r: &test_apiserver::RequestRecord) -> bool {
    r.method == "PUT" && r.path.contains("/leases/")
}

/// Whether a request is the run's bookkeeping: its record Secrets or its Lease.
fn is_bookkeeping(r: &test_apiserver::RequestRecord) -> bool {
    r.path.contains(&format!("/namespaces/{RECORD_NS}/"))
}

/// The kill points of an uninterrupted run, from its requests (renewals left out): (k,
/// the k-th request). Every request of the lock and the record before the first change
/// of an object, one in the middle of the reads, the first change, `spread` more spread
/// evenly over the changes, the last change, and every request after it (settling the
/// record, releasing the lock).
fn kill_points(reqs: &[test_apiserver::RequestRecord], spread: usize) -> Vec<(usize, String)> {
    let reqs: Vec<_> = reqs.iter().filter(|r| !is_renewal(r)).collect();
    let change = |r: &&test_apiserver::RequestRecord| r.is_write() && !is_bookkeeping(r);
    let first = reqs
        .iter()
        .position(change)
        .expect("the run changed something");
    let last = reqs.iter().rposition(change).unwrap();
    let mut ks: BTreeSet<usize> = BTreeSet::new();
    let reads: Vec<usize> = (0..first).filter(|&i| !is_bookkeeping(reqs[i])).collect();
    ks.extend((0..first).filter(|&i| is_bookkeeping(reqs[i])));
    ks.extend(reads.get(reads.len() / 2));
    ks.insert(first);
    for j in 1..=spread {
        ks.insert(first + (last - first) * j / (spread + 1));
    }
    ks.insert(last);
    ks.extend(last + 1..reqs.len());
    ks.into_iter()
        .map(|i| {
            let r = reqs[i];
            let what = r.path.rsplit('/').take(2).collect::<Vec<_>>();
            (i + 1, format!("{} {}/{}", r.method, what[1], what[0]))
        })
        .collect()
}

/// The requests of an uninterrupted run, for the printout: the first `head` and the
/// last 3 (method and path), and counts per method.
fn describe_requests(c: &TestCluster, head: usize) -> String {
    let Some(reqs) = c.requests() else {
        return String::new();
    };
    let mut per: BTreeMap<String, usize> = BTreeMap::new();
    for r in &reqs {
        *per.entry(r.method.clone()).or_default() += 1;
    }
    let line = |(i, r): (usize, &test_apiserver::RequestRecord)| {
        format!("    {:>5} {} {}", i + 1, r.method, r.path)
    };
    let n = reqs.len();
    let mut out: Vec<String> = reqs.iter().enumerate().take(head).map(line).collect();
    out.push("    …".into());
    out.extend(reqs.iter().enumerate().skip(n.saturating_sub(3)).map(line));
    format!("{per:?}\n{}", out.join("\n"))
}

/// How the Lease looks after a kill: absent, or naming the dead process — and then it
/// blocks another run, which fails at once naming it.
fn lease_after_kill(
    k: &Kube,
    kc: &std::path::Path,
    module: &str,
    run_id: &str,
    pid: u32,
) -> &'static str {
    let Some(lease) = k.lease() else {
        return "absent";
    };
    let holder = lease
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.clone())
        .unwrap_or_default();
    // A rollback holds the lock under its own (new) run id.
    let who = format!("({module}, pid {pid} on ");
    assert!(
        holder.starts_with("run ") && holder.contains(&who),
        "the Lease names {holder:?}, not the killed run (pid {pid})"
    );
    if module != "rollback" {
        assert!(holder.starts_with(&format!("run {run_id} (")), "{holder}");
    }
    let probe = run_module(module, &args(kc, &format!("{run_id}-probe"), json!({})));
    assert_eq!(probe.json["failed"], true, "{}", probe.stdout);
    let msg = probe.json["msg"].as_str().unwrap();
    assert!(
        msg.contains(&format!("is held by {holder}")) && msg.contains("lock_timeout"),
        "{msg}"
    );
    "held by the dead run"
}

/// The run points of one kill test: killed at each point, then the checks.
struct KillTest<'a> {
    module: &'static str,
    /// Options of the killed run (and its reruns) besides kubeconfig and run_id.
    extra: Value,
    /// Kinds the run changes (for the write-ahead check).
    kinds: &'a [&'a str],
    fleet: &'a Fleet,
    /// Before the killed run, on the fresh cluster (e.g. the update a rollback restores);
    /// returns the run id the rollback at the end restores.
    prepare: &'a (dyn Fn(&TestCluster, usize) -> String + Sync),
    /// Kill points in-process: see [`kill_points`] (`spread` of them over the changes).
    /// On a real server: `real_points` spread by time.
    spread: usize,
    real_points: usize,
}

/// One kill point: a fresh cluster, the run killed at `at`, then (a) the record parses
/// and covers every change, (b) the Lease is absent or names the dead run and blocks
/// until it expires (`wait_ttl`: really waited for, else aged through the API), and a
/// rerun with lock_timeout 20 takes it over, (c) a second rerun changes nothing, (d)
/// rollback of the run restores the start. Returns a line for the printout.
fn kill_point(t: &KillTest<'_>, i: usize, at: KillAt, wait_ttl: bool) -> String {
    let t_point = Instant::now();
    let (c, start) = cluster_with(t.fleet);
    let k = kube(&c);
    let kc = c.kubeconfig();
    let restore_id = (t.prepare)(&c, i);
    let run_id = if t.module == "rollback" {
        restore_id.clone()
    } else {
        format!("kill-{i}")
    };
    let a = args(&kc, &run_id, t.extra.clone());
    let setup_time = t_point.elapsed();
    let killed = kill_at(&c, t.module, &a, at);

    // (a)
    let runs = record_parses(&c, &k);
    let entries_of = |keep: &dyn Fn(&str, &Value) -> bool| -> Vec<Value> {
        runs.iter()
            .filter(|(id, ann, _)| keep(id, ann))
            .flat_map(|r| r.2.clone())
            .collect()
    };
    // The run whose changes are on the server: the killed run, or the update a killed
    // rollback was restoring.
    let recorded = entries_of(&|id, _| id == run_id);
    let changed = changes_are_recorded(&k, &start, t.kinds, &recorded, &run_id);
    let mut note = format!(
        "{changed:>4} objects changed, {:>4} entries recorded",
        recorded.len()
    );
    if t.module == "rollback" {
        // Every object the killed rollback put back is in its own record (write-ahead).
        let own = entries_of(&|_, ann| ann["ocp-bootimage.io/rolls-back"] == restore_id.as_str());
        let mut restored: BTreeSet<&str> = recorded
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        for (_, name, _) in changed_since(&k, &start, t.kinds) {
            restored.remove(name.as_str());
        }
        let own_names: BTreeSet<&str> = own.iter().map(|e| e["name"].as_str().unwrap()).collect();
        for name in &restored {
            assert!(
                own_names.contains(name),
                "{name} was restored but the killed rollback did not record it"
            );
        }
        note = format!(
            "{:>4} objects restored before the kill, {:>4} entries in its own record",
            restored.len(),
            own.len()
        );
    }

    // (b)
    let lease = if killed.alive {
        lease_after_kill(&k, &kc, t.module, &run_id, killed.pid)
    } else {
        "run had finished"
    };
    if !wait_ttl && k.lease().is_some() {
        k.expire_lease();
    }
    let mut rerun_args = a.clone();
    rerun_args["lock_timeout"] = json!(20);
    let left = k.lease().is_some();
    c.clear_requests();
    let t0 = Instant::now();
    let rerun = run_module(t.module, &rerun_args);
    let rerun_time = t0.elapsed();
    ok(t.module, &rerun);
    assert!(k.lease().is_none(), "the rerun released the Lease");
    if let Some(reqs) = c.requests() {
        // The dead run's Lease is taken over (a PUT of it), or a new one created.
        let take = reqs
            .iter()
            .find(|r| r.is_write() && r.path.contains("/leases"))
            .unwrap();
        let want = if left { "PUT" } else { "POST" };
        assert_eq!(take.method, want, "the rerun's first Lease write");
    }
    if wait_ttl && lease != "absent" && killed.alive {
        assert!(
            rerun_time >= Duration::from_secs(5),
            "the rerun should have waited for the dead holder's Lease: {rerun_time:?}"
        );
    }

    // (c)
    let t0 = Instant::now();
    let again = run_module(t.module, &a);
    let again_time = t0.elapsed();
    ok(t.module, &again);
    assert_eq!(
        again.json["changed"], false,
        "not converged: {}",
        again.json["msg"]
    );

    // (d)
    let t0 = Instant::now();
    if t.module != "rollback" {
        let rb = run_module("rollback", &args(&kc, &restore_id, json!({})));
        ok("rollback", &rb);
        assert_eq!(rb.json["conflicts"], 0, "{}", rb.json["warnings"]);
    }
    let rollback_time = t0.elapsed();
    assert_cluster_equals(&c, &start);
    record_parses(&c, &k);
    format!(
        "  kill {i:>2} at {:>14}: requests seen {:>5} (after {:>5}), {:>6.2?} in; {note}; Lease {lease}; rerun {:.2?} (changed {}); [setup {:.1?}, 2nd rerun {:.1?}, rollback {:.1?}, point {:.1?}]",
        format!("{at:?}"),
        killed.at.map_or("-".into(), |n| n.to_string()),
        killed.after.map_or("-".into(), |n| n.to_string()),
        killed.elapsed,
        rerun_time,
        rerun.json["changed"],
        setup_time,
        again_time,
        rollback_time,
        t_point.elapsed(),
    )
}

/// Measures an uninterrupted run on a fresh cluster (requests, time), then kills the
/// run at points spread over it (by request count in-process; by time on a real server;
/// one point waits for the Lease's real 15 s expiry) and checks each.
fn kill_test(t: &KillTest<'_>) {
    let t_all = Instant::now();
    let (c, start) = cluster_with(t.fleet);
    let k = kube(&c);
    let kc = c.kubeconfig();
    let restore_id = (t.prepare)(&c, 0);
    let run_id = if t.module == "rollback" {
        restore_id.clone()
    } else {
        "kill-0".to_string()
    };
    c.clear_requests();
    let t0 = Instant::now();
    let r = run_module(t.module, &args(&kc, &run_id, t.extra.clone()));
    let clean_time = t0.elapsed();
    ok(t.module, &r);
    assert_eq!(r.json["changed"], true);
    let reqs = c.requests();
    println!(
        "{}: uninterrupted run on {} MachineSets: {} requests ({} of them Lease renewals), {clean_time:.2?}\n{}",
        t.module,
        t.fleet.names.len(),
        reqs.as_ref().map_or("(real server: not counted)".into(), |q| q.len().to_string()),
        reqs.as_ref().map_or(0, |q| q.iter().filter(|r| is_renewal(r)).count()),
        describe_requests(&c, 12)
    );
    if t.module != "rollback" {
        let rb = run_module("rollback", &args(&kc, &restore_id, json!({})));
        ok("rollback", &rb);
    }
    assert_cluster_equals(&c, &start);
    drop((k, c));

    let points: Vec<(KillAt, String)> = match &reqs {
        Some(reqs) => kill_points(reqs, t.spread)
            .into_iter()
            .map(|(k, what)| (KillAt::Request(k), what))
            .collect(),
        None => (1..=t.real_points)
            .map(|i| {
                let at = clean_time * i as u32 / (t.real_points as u32 + 1);
                (
                    KillAt::Elapsed(at),
                    format!("{i}/{} of the run", t.real_points + 1),
                )
            })
            .collect(),
    };
    // A point in the middle really waits for the dead holder's Lease to expire.
    let ttl_point = points.len() / 2;
    println!(
        "{}: {} kill points (point {} waits for the Lease's 15 s TTL; the others age it through the API):",
        t.module,
        points.len(),
        ttl_point + 1
    );
    for (i, (at, what)) in points.iter().enumerate() {
        println!("  point {:>2}: {at:?} = {what}", i + 1);
    }
    // Two kill points at a time in-process (each on its own server); one at a time on
    // a real server (one Lease for all).
    let workers = if real() { 1 } else { 2 };
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some((at, _)) = points.get(i) else {
                    break;
                };
                let line = kill_point(t, i + 1, *at, i == ttl_point);
                println!("{line}");
            });
        }
    });
    println!(
        "{}: kill test ({} points, {workers} at a time) took {:.1?}",
        t.module,
        points.len(),
        t_all.elapsed()
    );
}

fn no_preparation(_: &TestCluster, i: usize) -> String {
    format!("kill-{i}")
}

#[test]
fn machineset_bootimage_killed_anywhere_converges_and_rolls_back() {
    let fleet = fleet(size(1_000, 50), Stubs::Migrated);
    kill_test(&KillTest {
        module: "machineset_bootimage",
        extra: json!({}),
        kinds: &["MachineSet"],
        fleet: &fleet,
        prepare: &no_preparation,
        spread: 12,
        real_points: 4,
    });
}

#[test]
fn rollback_killed_anywhere_completes_on_rerun() {
    let fleet = fleet(size(300, 50), Stubs::Migrated);
    let prepare = |c: &TestCluster, i: usize| {
        let id = format!("update-{i}");
        let r = run_module(
            "machineset_bootimage",
            &args(&c.kubeconfig(), &id, json!({})),
        );
        ok("machineset_bootimage", &r);
        assert_eq!(r.json["changed"], true);
        c.clear_requests();
        id
    };
    kill_test(&KillTest {
        module: "rollback",
        extra: json!({}),
        kinds: &["MachineSet"],
        fleet: &fleet,
        prepare: &prepare,
        spread: 2,
        real_points: 3,
    });
}

#[test]
fn stub_ignition_killed_anywhere_converges_and_rolls_back() {
    let fleet = fleet(size(200, 30), Stubs::OwnV2);
    kill_test(&KillTest {
        module: "stub_ignition",
        extra: json!({}),
        kinds: &["Secret"],
        fleet: &fleet,
        prepare: &no_preparation,
        spread: 1,
        real_points: 3,
    });
}

// ---------------------------------------------------------------------------------
// 2. Concurrency

/// Two runs started together, each waited for in its own thread: (result, time to exit).
fn race(a: (&str, Value), b: (&str, Value)) -> [(ModuleRun, Duration); 2] {
    let ra = spawn_module(a.0, &a.1, &[]);
    let rb = spawn_module(b.0, &b.1, &[]);
    let timed = |r: common::SpawnedModule| {
        let t = r.started;
        let out = r.finish();
        (out, t.elapsed())
    };
    std::thread::scope(|s| {
        let ha = s.spawn(|| timed(ra));
        let hb = s.spawn(|| timed(rb));
        [ha.join().unwrap(), hb.join().unwrap()]
    })
}

fn names_of(entries: &[Value]) -> BTreeSet<String> {
    entries
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn two_runs_at_once_one_proceeds_the_other_fails_at_once_or_waits() {
    let n = size(200, 50);
    let fleet = fleet(n, Stubs::Migrated);
    let all: BTreeSet<String> = fleet.names.iter().cloned().collect();
    let (ga, gb, gc) = (fleet.group("a"), fleet.group("b"), fleet.group("c"));
    // Overlapping selections: groups a+b and b+c.
    let selection =
        |groups: &str| json!({"label_selector": format!("{GROUP_LABEL} in ({groups})")});
    let wants = |id: &str| -> BTreeSet<String> {
        if id.ends_with("-ab") {
            ga.union(&gb).cloned().collect()
        } else {
            gb.union(&gc).cloned().collect()
        }
    };

    // lock_timeout 0: one proceeds, the other fails at once, naming the holder.
    {
        let (c, start) = cluster_with(&fleet);
        let k = kube(&c);
        let kc = c.kubeconfig();
        let ids = ["race0-ab", "race0-bc"];
        let runs = race(
            ("machineset_bootimage", args(&kc, ids[0], selection("a,b"))),
            ("machineset_bootimage", args(&kc, ids[1], selection("b,c"))),
        );
        let failed: Vec<usize> = (0..2)
            .filter(|&i| runs[i].0.json["failed"] == true)
            .collect();
        assert_eq!(
            failed.len(),
            1,
            "exactly one fails: {} / {}",
            runs[0].0.stdout,
            runs[1].0.stdout
        );
        let (l, w) = (failed[0], 1 - failed[0]);
        let (winner, loser) = (&runs[w], &runs[l]);
        assert_eq!(winner.0.json["changed"], true);
        assert_eq!(loser.0.json["changed"], false);
        let msg = loser.0.json["msg"].as_str().unwrap();
        assert!(
            msg.contains(&format!(
                "is held by run {} (machineset_bootimage, pid ",
                ids[w]
            )) && msg.contains("lock_timeout"),
            "{msg}"
        );
        assert!(
            loser.1 < winner.1,
            "the loser failed at once ({:?}), while the winner ran ({:?})",
            loser.1,
            winner.1
        );
        // Nothing written by the loser: no record of its run, no entry with its id, and
        // exactly the winner's MachineSets changed.
        let recs = record_parses(&c, &k);
        assert!(
            recs.iter().all(|r| r.0 != ids[l]),
            "the loser wrote a record"
        );
        assert!(recs
            .iter()
            .flat_map(|r| &r.2)
            .all(|e| e["run_id"] != ids[l]));
        let changed: BTreeSet<String> = changed_since(&k, &start, &["MachineSet"])
            .into_iter()
            .map(|c| c.1)
            .collect();
        assert_eq!(
            changed,
            wants(ids[w]),
            "only the winner's MachineSets changed"
        );
        assert_eq!(names_of(&c.run_entries(ids[w])), wants(ids[w]));
        assert!(k.lease().is_none());
        println!(
            "lock_timeout 0 on {n} MachineSets: {} won ({:.2?}, {} changed); {} failed after {:.2?}: {msg}",
            ids[w],
            winner.1,
            changed.len(),
            ids[l],
            loser.1
        );
        let rb = run_module("rollback", &args(&kc, ids[w], json!({})));
        ok("rollback", &rb);
        assert_cluster_equals(&c, &start);
    }

    // lock_timeout 60: the second waits, then does what remained; both records complete.
    {
        let (c, start) = cluster_with(&fleet);
        let k = kube(&c);
        let kc = c.kubeconfig();
        let ids = ["race60-ab", "race60-bc"];
        let mut a = args(&kc, ids[0], selection("a,b"));
        let mut b = args(&kc, ids[1], selection("b,c"));
        a["lock_timeout"] = json!(60);
        b["lock_timeout"] = json!(60);
        let runs = race(("machineset_bootimage", a), ("machineset_bootimage", b));
        for (i, r) in runs.iter().enumerate() {
            ok(ids[i], &r.0);
        }
        let entries = [c.run_entries(ids[0]), c.run_entries(ids[1])];
        // The first holds group b (both wanted it); the second waited and did the rest.
        let w = if names_of(&entries[0]).is_superset(&gb) {
            0
        } else {
            1
        };
        let l = 1 - w;
        assert_eq!(
            names_of(&entries[w]),
            wants(ids[w]),
            "the first did all it selected"
        );
        let remained: BTreeSet<String> =
            wants(ids[l]).difference(&wants(ids[w])).cloned().collect();
        assert_eq!(
            names_of(&entries[l]),
            remained,
            "the second did what remained"
        );
        assert_eq!(runs[l].0.json["changed"], true);
        assert!(runs[l].1 > runs[w].1, "the second ended after the first");
        for (i, es) in entries.iter().enumerate() {
            assert!(es.iter().all(|e| e["run_id"] == ids[i]));
        }
        let union: BTreeSet<String> = names_of(&entries[0])
            .union(&names_of(&entries[1]))
            .cloned()
            .collect();
        assert_eq!(
            union, all,
            "nothing lost: every MachineSet is in one record"
        );
        assert!(names_of(&entries[0]).is_disjoint(&names_of(&entries[1])));
        let changed: BTreeSet<String> = changed_since(&k, &start, &["MachineSet"])
            .into_iter()
            .map(|c| c.1)
            .collect();
        assert_eq!(changed, all);
        record_parses(&c, &k);
        println!(
            "lock_timeout 60 on {n} MachineSets: {} first ({:.2?}, {} entries), {} waited and ended after {:.2?} ({} entries)",
            ids[w],
            runs[w].1,
            entries[w].len(),
            ids[l],
            runs[l].1,
            entries[l].len()
        );
        // Each run rolls back on its own, in either order.
        for id in [ids[w], ids[l]] {
            let rb = run_module("rollback", &args(&kc, id, json!({})));
            ok("rollback", &rb);
            assert_eq!(rb.json["conflicts"], 0);
        }
        assert_cluster_equals(&c, &start);
    }
}

// ---------------------------------------------------------------------------------
// 3. Record bounds

/// The record Secrets' sizes: (Secrets, `run.json.gz` bytes, whole Secret JSON bytes).
fn record_bytes(c: &TestCluster) -> (usize, usize, usize) {
    use base64::Engine;
    let secrets = c.record_secrets();
    let payload: usize = secrets
        .iter()
        .map(|s| {
            base64::engine::general_purpose::STANDARD
                .decode(s["data"]["run.json.gz"].as_str().unwrap())
                .unwrap()
                .len()
        })
        .sum();
    let json: usize = secrets.iter().map(|s| s.to_string().len()).sum();
    (secrets.len(), payload, json)
}

#[test]
fn a_hundred_update_rollback_cycles_never_block_and_every_run_stays_listed() {
    let n = 50;
    let cycles = 100;
    let fleet = fleet(n, Stubs::Migrated);
    let (c, start) = cluster_with(&fleet);
    let k = kube(&c);
    let kc = c.kubeconfig();
    let t_all = Instant::now();
    let (mut updates, mut rollbacks) = (Vec::new(), Vec::new());
    for i in 1..=cycles {
        let id = format!("cycle-{i:03}");
        let t = Instant::now();
        let u = run_module("machineset_bootimage", &args(&kc, &id, json!({})));
        updates.push(t.elapsed());
        ok("machineset_bootimage", &u);
        assert_eq!(u.json["changed"], true, "cycle {i}");
        let t = Instant::now();
        let rb = run_module("rollback", &args(&kc, &id, json!({})));
        rollbacks.push(t.elapsed());
        ok("rollback", &rb);
        assert_eq!(rb.json["changed"], true, "cycle {i}");
        assert_eq!(rb.json["conflicts"], 0, "cycle {i}");
        let left = changed_since(&k, &start, &["MachineSet"]);
        assert!(left.is_empty(), "cycle {i} left {left:?}");
    }
    assert_cluster_equals(&c, &start);
    let avg = |ts: &[Duration]| ts.iter().sum::<Duration>() / ts.len() as u32;
    let (secrets, payload, json) = record_bytes(&c);
    println!(
        "{cycles} update/rollback cycles on {n} MachineSets: {:.1?}; update first 10 {:.0?} on average, last 10 {:.0?}; rollback (lists every run) first 10 {:.0?}, last 10 {:.0?}; record: {secrets} Secrets, {payload} bytes of run.json.gz, {json} bytes of Secret JSON",
        t_all.elapsed(),
        avg(&updates[..10]),
        avg(&updates[cycles - 10..]),
        avg(&rollbacks[..10]),
        avg(&rollbacks[cycles - 10..]),
    );

    // Without a run id, rollback takes the newest run that is not a rollback's own.
    let rb = run_module("rollback", &json!({"kubeconfig": kc}));
    ok("rollback", &rb);
    assert_eq!(rb.json["run_id"], format!("cycle-{cycles:03}"));
    assert_eq!(rb.json["changed"], false);

    // Every run is listed: each update rolled back, each rollback naming its update.
    let store = k.store(None);
    let runs = k.rt.block_on(store.runs()).unwrap();
    assert_eq!(runs.list.len(), 2 * cycles);
    let update_runs: Vec<_> = runs.list.iter().filter(|r| !r.is_rollback()).collect();
    assert_eq!(update_runs.len(), cycles);
    for (i, u) in update_runs.iter().enumerate() {
        assert_eq!(
            u.run_id,
            format!("cycle-{:03}", i + 1),
            "listed oldest first"
        );
        assert_eq!(u.state, RunState::RolledBack, "{}", u.run_id);
        assert_eq!(u.changes, n, "{}", u.run_id);
    }
    let restored: BTreeSet<&str> = runs
        .list
        .iter()
        .filter_map(|r| r.rolls_back.as_deref())
        .collect();
    assert_eq!(restored.len(), cycles, "one rollback run per update");
    assert_eq!(c.record_runs().len(), 2 * cycles);
}

#[test]
fn one_cycle_of_a_thousand_machinesets_leaves_under_100_kb_of_record() {
    let n = size(1_000, 50);
    let fleet = fleet(n, Stubs::Migrated);
    let (c, start) = cluster_with(&fleet);
    let kc = c.kubeconfig();
    let t = Instant::now();
    let u = run_module("machineset_bootimage", &args(&kc, "size-1", json!({})));
    ok("machineset_bootimage", &u);
    let update_time = t.elapsed();
    let after_update = record_bytes(&c);
    let t = Instant::now();
    let rb = run_module("rollback", &args(&kc, "size-1", json!({})));
    ok("rollback", &rb);
    let rollback_time = t.elapsed();
    assert_eq!(rb.json["conflicts"], 0);
    assert_cluster_equals(&c, &start);
    let (secrets, payload, json) = record_bytes(&c);
    let entries: usize = c.record_runs().iter().map(|r| r.2.len()).sum();
    println!(
        "one cycle on {n} MachineSets (update {update_time:.2?}, rollback {rollback_time:.2?}): {entries} entries in {secrets} Secrets; run.json.gz {payload} bytes ({} after the update), Secret JSON {json} bytes ({} after the update)",
        after_update.1, after_update.2
    );
    assert_eq!(
        secrets, 2,
        "one Secret for the update, one for its rollback"
    );
    assert!(payload < 100 * 1024, "{payload} bytes of run.json.gz");
    assert!(json < 100 * 1024, "{json} bytes of Secret JSON");
}

// ---------------------------------------------------------------------------------
// 4. Numbered parts

/// A pseudo-random hex string (poorly compressible, so that few entries fill a part).
fn noise(seed: u64, len: usize) -> String {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut s = String::with_capacity(len);
    while s.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.push_str(&format!("{x:016x}"));
    }
    s.truncate(len);
    s
}

const FIELD: &str = "/spec/template/spec/providerSpec/value/ami/id";

fn entry(run_id: &str, i: usize) -> RecordEntry {
    RecordEntry {
        run_id: run_id.into(),
        seq: 0,
        time: "2026-12-04T07:40:00Z".into(),
        module: "machineset_bootimage".into(),
        api_version: "machine.openshift.io/v1beta1".into(),
        kind: "MachineSet".into(),
        namespace: Some(NS.into()),
        name: format!("ms-{i:04}"),
        field: FIELD.into(),
        old: json!(noise(2 * i as u64, 96)),
        new: json!(noise(2 * i as u64 + 1, 96)),
        secret: false,
        rolled_back: None,
    }
}

/// What the server stored for `entries` (settling sets each entry's `new` to it).
fn stored(entries: &[RecordEntry], value: impl Fn(usize) -> Value) -> Vec<StoredFields> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| StoredFields {
            kind: "MachineSet",
            namespace: e.namespace.clone(),
            name: e.name.clone(),
            fields: vec![(e.field.clone(), value(i))],
        })
        .collect()
}

/// The parts of run `run_id` as stored: (part number, name, its entries, payload bytes),
/// by part number; every part is checked to be named and annotated as its number says.
fn parts(c: &TestCluster, run_id: &str) -> Vec<(u32, String, Vec<RecordEntry>, usize)> {
    use base64::Engine;
    let mut out: Vec<_> = c
        .record_secrets()
        .into_iter()
        .filter(|s| s["metadata"]["annotations"]["ocp-bootimage.io/run-id"] == run_id)
        .map(|s| {
            let part: u32 = s["metadata"]["annotations"]["ocp-bootimage.io/part"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            let name = s["metadata"]["name"].as_str().unwrap().to_string();
            let payload = decode_part(&s);
            assert_eq!(payload["part"], part, "{name}");
            let entries: Vec<RecordEntry> =
                serde_json::from_value(payload["entries"].clone()).unwrap();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s["data"]["run.json.gz"].as_str().unwrap())
                .unwrap()
                .len();
            (part, name, entries, bytes)
        })
        .collect();
    out.sort_by_key(|p| p.0);
    for (i, (part, name, _, _)) in out.iter().enumerate() {
        assert_eq!(*part as usize, i + 1, "parts numbered 1, 2, … without gaps");
        assert_eq!(name, &codec::part_name(RECORD, run_id, *part));
    }
    out
}

/// How many parts a rewrite from entry `from` leaves: the parts before the one holding
/// `from` as they were, then the entries from that part's start packed anew.
fn parts_after_rewrite(
    layout: &[usize],
    from: usize,
    entries: &[RecordEntry],
    limit: usize,
    run_id: &str,
) -> usize {
    let starts: Vec<usize> = layout
        .iter()
        .scan(0, |acc, n| {
            let s = *acc;
            *acc += n;
            Some(s)
        })
        .collect();
    let k = starts.iter().rposition(|&s| s <= from).unwrap_or(0);
    let tail = entries[starts.get(k).copied().unwrap_or(0)..].to_vec();
    k + codec::pack(run_id, k as u32 + 1, &[], tail, limit)
        .unwrap()
        .len()
}

#[test]
fn a_record_past_the_part_limit_continues_in_numbered_parts() {
    const LIMIT: usize = 4 * 1024;
    let c = TestCluster::start();
    let k = kube(&c);
    let store = k.store(Some(LIMIT));
    let run_id = "parts-1";
    let check = |want: &[RecordEntry], state: &str| -> Vec<usize> {
        let ps = parts(&c, run_id);
        for p in &ps {
            assert!(p.3 <= LIMIT, "part {} is {} bytes", p.0, p.3);
        }
        let stored: Vec<RecordEntry> = ps.iter().flat_map(|p| p.2.clone()).collect();
        assert_eq!(stored, want, "the parts hold the entries, in order");
        let listed = k.rt.block_on(store.runs()).unwrap();
        assert_eq!(listed.list.len(), 1);
        assert_eq!(listed.list[0].changes, want.len());
        assert_eq!(listed.list[0].state.as_str(), state);
        let run = store.load_run(&listed, run_id).unwrap().unwrap();
        assert_eq!(
            run.entries, want,
            "the product reads the parts back in order"
        );
        // No stale part past the last.
        let next = codec::part_name(RECORD, run_id, ps.len() as u32 + 1);
        assert!(c
            .record_secrets()
            .iter()
            .all(|s| s["metadata"]["name"] != next.as_str()));
        ps.iter().map(|p| p.2.len()).collect()
    };
    let numbered = |entries: Vec<RecordEntry>, from: usize| -> Vec<RecordEntry> {
        entries
            .into_iter()
            .enumerate()
            .map(|(i, mut e)| {
                e.seq = (from + i + 1) as u64;
                e
            })
            .collect()
    };

    // Three appends (three batches of write-ahead) of 50 entries each.
    let writer = store.writer(run_id);
    let mut want = Vec::new();
    for batch in 0..3 {
        let es: Vec<RecordEntry> = (batch * 50..batch * 50 + 50)
            .map(|i| entry(run_id, i))
            .collect();
        k.rt.block_on(writer.append(es.clone())).unwrap();
        want.extend(numbered(es, batch * 50));
    }
    let layout = check(&want, "applying");
    println!(
        "150 entries, part limit {LIMIT} bytes: {} parts of {layout:?} entries",
        layout.len()
    );
    assert!(layout.len() >= 3, "parts .2 and .3 exist: {layout:?}");

    // Settled with short stored values: the run shrinks, rewritten from part 1, and the
    // parts it no longer needs are deleted.
    let short = stored(&want, |i| json!(format!("ami-{i:04}")));
    for (e, s) in want.iter_mut().zip(&short) {
        e.new = s.fields[0].1.clone();
    }
    let expect = parts_after_rewrite(&layout, 0, &want, LIMIT, run_id);
    k.rt.block_on(writer.settle(&short, RunState::Applied))
        .unwrap();
    let shrunk = check(&want, "applied");
    println!(
        "settled with short values: {} parts of {shrunk:?} entries",
        shrunk.len()
    );
    assert_eq!(shrunk.len(), expect);
    assert!(shrunk.len() < layout.len(), "the stale parts are gone");

    // A later step of the same run (a new process: a new writer) continues the parts:
    // only the last part is rewritten, then settled with long values from entry 150 on.
    let writer = store.writer(run_id);
    let es: Vec<RecordEntry> = (150..250).map(|i| entry(run_id, i)).collect();
    let before: Vec<Vec<RecordEntry>> = parts(&c, run_id).into_iter().map(|p| p.2).collect();
    want.extend(numbered(es, 150));
    let expect = parts_after_rewrite(&shrunk, 150, &want, LIMIT, run_id);
    k.rt.block_on(writer.append(want[150..].to_vec())).unwrap();
    let grown = check(&want, "applied");
    println!(
        "a second step appended 100: {} parts of {grown:?} entries",
        grown.len()
    );
    assert_eq!(grown.len(), expect);
    let after: Vec<Vec<RecordEntry>> = parts(&c, run_id).into_iter().map(|p| p.2).collect();
    assert_eq!(
        after[..before.len() - 1],
        before[..before.len() - 1],
        "earlier parts kept as they were"
    );

    let long = stored(&want[150..], |i| json!(noise(10_000 + i as u64, 200)));
    for (e, s) in want[150..].iter_mut().zip(&long) {
        e.new = s.fields[0].1.clone();
    }
    let expect = parts_after_rewrite(&grown, 150, &want, LIMIT, run_id);
    k.rt.block_on(writer.settle(&long, RunState::Applied))
        .unwrap();
    let settled = check(&want, "applied");
    println!(
        "settled with long values: {} parts of {settled:?} entries",
        settled.len()
    );
    assert_eq!(settled.len(), expect);
    assert!(settled.len() > grown.len());
}
