//! The run lock (`kube::run_lock`): a Lease on the test cluster (the in-process server,
//! or a real API server with `OCP_BOOTIMAGE_TEST_KUBECONFIG`), and an OS lock on a
//! local file.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{micro_time_ago, objects_under, root, run_module, TestCluster};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, DynamicObject, PostParams};
use kube::discovery::ApiResource;
use ocp_bootimage::kube::connection::Connection;
use ocp_bootimage::kube::run_lock::{
    holder_identity, release_abandoned, LockHeld, RunLock, LEASE_TTL,
};
use serde_json::{json, Value};

const NS: &str = "openshift-machine-api";

/// A runtime, a connection to the test cluster, and ways to look at Leases directly.
struct Env {
    rt: tokio::runtime::Runtime,
    conn: Connection,
    leases: Api<Lease>,
    raw: Api<DynamicObject>,
}

fn env(c: &TestCluster) -> Env {
    let (rt, conn) = common::connect(c);
    // A bare real API server has only the namespaces someone created.
    let namespaces: Api<Namespace> = Api::all(conn.client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": NS}})).unwrap();
    match rt.block_on(namespaces.create(&PostParams::default(), &ns)) {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => panic!("creating namespace {NS}: {e}"),
    }
    let leases = Api::namespaced(conn.client.clone(), NS);
    let raw = Api::namespaced_with(conn.client.clone(), NS, &ApiResource::erase::<Lease>(&()));
    Env {
        rt,
        conn,
        leases,
        raw,
    }
}

impl Env {
    /// The Lease as the server stores it (JSON, times as sent on the wire).
    fn lease(&self, name: &str) -> Option<Value> {
        self.rt
            .block_on(self.raw.get_opt(name))
            .unwrap()
            .map(|o| serde_json::to_value(o).unwrap())
    }

    /// Deletes a Lease left by an earlier (interrupted) run on a real server.
    fn fresh(&self, name: &str) {
        let _ = self
            .rt
            .block_on(self.leases.delete(name, &DeleteParams::default()));
    }

    /// Writes a Lease directly (as another process would).
    fn create(&self, lease: Value) {
        let lease: Lease = serde_json::from_value(lease).unwrap();
        self.rt
            .block_on(self.leases.create(&PostParams::default(), &lease))
            .unwrap();
    }

    /// Changes a Lease as another process would: read, change, PUT with the
    /// resourceVersion read (again on a 409: the holder's renewal may come between).
    fn overwrite(&self, name: &str, change: impl Fn(&mut Lease)) {
        for _ in 0..20 {
            let mut lease = self.rt.block_on(self.leases.get(name)).unwrap();
            change(&mut lease);
            match self
                .rt
                .block_on(self.leases.replace(name, &PostParams::default(), &lease))
            {
                Ok(_) => return,
                Err(kube::Error::Api(e)) if e.code == 409 => continue,
                Err(e) => panic!("overwriting Lease {name}: {e}"),
            }
        }
        panic!("Lease {name} kept changing");
    }

    fn take(&self, name: &str, holder: &str, wait: Duration) -> anyhow::Result<RunLock> {
        self.rt
            .block_on(RunLock::lease(&self.conn, NS, name, holder, wait))
    }

    fn take_renewing(&self, name: &str, holder: &str, every: Duration) -> RunLock {
        self.rt
            .block_on(RunLock::lease_renewing_every(
                &self.conn,
                NS,
                name,
                holder,
                Duration::ZERO,
                every,
            ))
            .unwrap()
    }

    /// Lets the runtime run (renewal tasks) for a while.
    fn sleep(&self, d: Duration) {
        self.rt.block_on(async { tokio::time::sleep(d).await });
    }
}

fn holder(run: &str) -> String {
    holder_identity(run, "machineset_bootimage")
}

fn spec_str(lease: &Value, field: &str) -> String {
    lease["spec"][field]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// `2026-12-04T07:40:00.000000Z`: RFC 3339 with microseconds.
fn is_micro_time(t: &str) -> bool {
    let b = t.as_bytes();
    t.len() == 27
        && b[10] == b'T'
        && b[19] == b'.'
        && b[20..26].iter().all(u8::is_ascii_digit)
        && t.ends_with('Z')
}

#[test]
fn take_and_release() {
    let c = TestCluster::start();
    let e = env(&c);
    let name = "run-lock-take";
    e.fresh(name);
    let a = holder("20261204T074000Z-aaaa");
    let lock = e.take(name, &a, Duration::ZERO).unwrap();
    assert!(!lock.lost());
    let lease = e.lease(name).expect("the Lease exists while held");
    assert_eq!(spec_str(&lease, "holderIdentity"), a);
    assert_eq!(lease["spec"]["leaseDurationSeconds"], LEASE_TTL.as_secs());
    assert_eq!(lease["spec"]["leaseTransitions"], 0);
    for field in ["acquireTime", "renewTime"] {
        let t = spec_str(&lease, field);
        assert!(is_micro_time(&t), "{field} {t:?} is not a MicroTime");
    }
    e.rt.block_on(lock.release());
    assert_eq!(e.lease(name), None, "release deletes the Lease");

    // Free again: another run takes it at once.
    let b = e
        .take(name, &holder("20261204T074100Z-bbbb"), Duration::ZERO)
        .unwrap();
    e.rt.block_on(b.try_release()).unwrap();
    assert_eq!(e.lease(name), None);
}

#[test]
fn a_second_taker_fails_at_once_naming_the_holder() {
    let c = TestCluster::start();
    let e = env(&c);
    let name = "run-lock-second";
    e.fresh(name);
    let a = holder("20261204T074000Z-aaaa");
    let first = e.take(name, &a, Duration::ZERO).unwrap();
    let before = e.lease(name).unwrap();

    let start = Instant::now();
    let err = e
        .take(name, &holder("20261204T074100Z-bbbb"), Duration::ZERO)
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(1), "no waiting");
    let msg = err.to_string();
    for part in [
        format!("Lease {NS}/{name}"),
        format!("held by {a}"),
        "run 20261204T074000Z-aaaa".to_string(),
        "renewed 0 s ago, expires in ".to_string(),
        "wait for it to finish, or pass lock_timeout to wait".to_string(),
        "a dead holder's lock expires after 15 s".to_string(),
    ] {
        assert!(msg.contains(&part), "{part:?} missing from: {msg}");
    }
    let held = err.downcast_ref::<LockHeld>().expect("a LockHeld error");
    assert_eq!(held.holder, a);
    assert_eq!(held.waited, Duration::ZERO);
    assert_eq!(
        e.lease(name).unwrap()["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"],
        "the failed taker wrote nothing"
    );
    e.rt.block_on(first.release());
}

#[test]
fn a_waiter_gets_the_lock_once_released_and_gives_up_after_wait() {
    let c = TestCluster::start();
    let e = env(&c);
    let name = "run-lock-wait";
    e.fresh(name);
    let a = holder("20261204T074000Z-aaaa");
    let first = e.take(name, &a, Duration::ZERO).unwrap();

    // Never released: fails once `wait` has passed, naming the holder.
    let start = Instant::now();
    let err = e
        .take(
            name,
            &holder("20261204T074100Z-bbbb"),
            Duration::from_secs(2),
        )
        .unwrap_err();
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&format!("held by {a}")), "{msg}");
    assert!(msg.contains("still after waiting 2 s"), "{msg}");

    // Released while a waiter waits: the waiter gets it.
    let c_holder = holder("20261204T074200Z-cccc");
    let waiter = {
        let conn = e.conn.clone();
        let c_holder = c_holder.clone();
        e.rt.spawn(async move {
            let start = Instant::now();
            let lock = RunLock::lease(&conn, NS, name, &c_holder, Duration::from_secs(20)).await;
            (lock, start.elapsed())
        })
    };
    e.sleep(Duration::from_millis(1_500));
    e.rt.block_on(first.release());
    let (lock, waited) = e.rt.block_on(waiter).unwrap();
    let lock = lock.unwrap();
    assert!(
        waited >= Duration::from_millis(1_500) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    assert_eq!(
        spec_str(&e.lease(name).unwrap(), "holderIdentity"),
        c_holder
    );
    e.rt.block_on(lock.release());
}

#[test]
fn a_stale_or_unheld_lease_is_taken_over() {
    let c = TestCluster::start();
    let e = env(&c);
    let name = "run-lock-stale";
    e.fresh(name);
    // A holder killed a minute ago (kill -9: no release).
    e.create(json!({
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "holderIdentity": "run 20261204T070000Z-dead (machineset_bootimage, pid 4242 on gone)",
            "leaseDurationSeconds": 15,
            "acquireTime": micro_time_ago(120),
            "renewTime": micro_time_ago(60),
            "leaseTransitions": 2
        }
    }));
    let b = holder("20261204T074100Z-bbbb");
    let lock = e.take(name, &b, Duration::ZERO).unwrap();
    let lease = e.lease(name).unwrap();
    assert_eq!(spec_str(&lease, "holderIdentity"), b);
    assert_eq!(lease["spec"]["leaseTransitions"], 3);
    assert_ne!(spec_str(&lease, "acquireTime"), micro_time_ago(120));
    assert!(is_micro_time(&spec_str(&lease, "renewTime")));
    e.rt.block_on(lock.release());
    assert_eq!(e.lease(name), None);

    // No holder (cleared by its last holder): taken, also at once.
    e.create(json!({
        "metadata": {"name": name, "namespace": NS},
        "spec": {"holderIdentity": "", "leaseDurationSeconds": 15,
                 "renewTime": micro_time_ago(1), "leaseTransitions": 5}
    }));
    let lock = e.take(name, &b, Duration::ZERO).unwrap();
    let lease = e.lease(name).unwrap();
    assert_eq!(spec_str(&lease, "holderIdentity"), b);
    assert_eq!(lease["spec"]["leaseTransitions"], 6);
    e.rt.block_on(lock.release());
}

#[test]
fn two_runs_racing_for_a_stale_lease_get_one_winner() {
    let c = TestCluster::start();
    let e = env(&c);
    let name = "run-lock-race";
    e.fresh(name);
    e.create(json!({
        "metadata": {"name": name, "namespace": NS},
        "spec": {"holderIdentity": "run dead (m, pid 1 on gone)", "leaseDurationSeconds": 15,
                 "renewTime": micro_time_ago(60), "leaseTransitions": 0}
    }));
    let (a, b) = (holder("race-a"), holder("race-b"));
    let (ra, rb) = e.rt.block_on(async {
        tokio::join!(
            RunLock::lease(&e.conn, NS, name, &a, Duration::ZERO),
            RunLock::lease(&e.conn, NS, name, &b, Duration::ZERO)
        )
    });
    let (winner, won, lost) = match (ra, rb) {
        (Ok(l), Err(err)) => (a.clone(), l, err),
        (Err(err), Ok(l)) => (b.clone(), l, err),
        (ra, rb) => panic!("exactly one must win: {ra:?} / {rb:?}"),
    };
    let lease = e.lease(name).unwrap();
    assert_eq!(spec_str(&lease, "holderIdentity"), winner);
    assert_eq!(lease["spec"]["leaseTransitions"], 1);
    let held = lost
        .downcast_ref::<LockHeld>()
        .expect("the loser is told who won");
    assert_eq!(held.holder, winner);
    e.rt.block_on(won.release());
}

#[test]
fn renewal_advances_renew_time_until_released_or_dropped() {
    let c = TestCluster::start();
    let e = env(&c);
    let name = "run-lock-renew";
    e.fresh(name);
    let a = holder("20261204T074000Z-aaaa");
    let lock = e.take_renewing(name, &a, Duration::from_millis(200));
    let first = e.lease(name).unwrap();
    e.sleep(Duration::from_millis(900));
    let later = e.lease(name).unwrap();
    assert!(!lock.lost());
    assert_eq!(spec_str(&later, "holderIdentity"), a);
    assert_eq!(
        spec_str(&later, "acquireTime"),
        spec_str(&first, "acquireTime")
    );
    assert!(
        spec_str(&later, "renewTime") > spec_str(&first, "renewTime"),
        "renewTime {} did not advance from {}",
        spec_str(&later, "renewTime"),
        spec_str(&first, "renewTime")
    );
    assert_ne!(
        later["metadata"]["resourceVersion"],
        first["metadata"]["resourceVersion"]
    );
    assert_eq!(later["spec"]["leaseTransitions"], 0);

    // Dropped without release: renewal stops, the Lease stays until it expires.
    drop(lock);
    e.sleep(Duration::from_millis(100));
    let dropped = e.lease(name).expect("Drop cannot delete the Lease");
    e.sleep(Duration::from_millis(600));
    assert_eq!(
        e.lease(name).unwrap()["metadata"]["resourceVersion"],
        dropped["metadata"]["resourceVersion"],
        "no renewal after drop"
    );
    // ... and it is still held (until LEASE_TTL after the last renewal).
    let err = e
        .take(name, &holder("20261204T074100Z-bbbb"), Duration::ZERO)
        .unwrap_err();
    assert!(err.to_string().contains(&a));
    // The module runner releases what was dropped unreleased before the process answers.
    e.rt.block_on(release_abandoned());
    assert_eq!(e.lease(name), None, "release_abandoned deletes the Lease");
    e.fresh(name);
}

#[test]
fn a_module_that_fails_after_taking_the_lock_releases_it() {
    let mut c = TestCluster::start();
    c.load(&objects_under(&root().join("examples/cluster-dump")));
    let (rt, conn) = common::connect(&c);
    let leases: Api<Lease> = Api::namespaced(conn.client.clone(), "ocp-bootimage");
    let _ = rt.block_on(leases.delete("ocp-bootimage-rollback", &DeleteParams::default()));
    // The stream file is read once the cluster is observed, so with the lock held.
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("stream.json");
    std::fs::write(&stream, "not a stream").unwrap();
    let args = json!({"kubeconfig": c.kubeconfig(), "stream_file": stream});
    let before = c.requests().map_or(0, |r| r.len());
    let run = run_module("machineset_bootimage", &args);
    assert_eq!(run.json["failed"], true, "{}", run.stdout);
    assert_eq!(run.json["changed"], false, "{}", run.stdout);
    if let Some(requests) = c.requests() {
        let lease_writes: Vec<_> = requests[before..]
            .iter()
            .filter(|q| q.path.contains("/leases"))
            .map(|q| q.method.as_str())
            .filter(|m| *m != "GET")
            .collect();
        assert_eq!(lease_writes, ["POST", "DELETE"], "{}", run.stdout);
    }
    let left = rt
        .block_on(leases.get_opt("ocp-bootimage-rollback"))
        .unwrap();
    assert!(left.is_none(), "the failed run left its Lease: {left:?}");
    // So the next run does not wait for it to expire.
    let again = run_module("machineset_bootimage", &args);
    assert!(
        !again.stdout.contains("held by"),
        "the next run found the lock held: {}",
        again.stdout
    );
}

#[test]
fn lost_when_someone_else_overwrites_the_lease_and_release_leaves_theirs() {
    let c = TestCluster::start();
    let e = env(&c);
    let name = "run-lock-lost";
    e.fresh(name);
    let a = holder("20261204T074000Z-aaaa");
    let lock = e.take_renewing(name, &a, Duration::from_millis(200));

    // Only metadata changed, still ours: not lost.
    e.overwrite(name, |l| {
        l.metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert("touched".into(), "yes".into());
    });
    e.sleep(Duration::from_millis(700));
    assert!(!lock.lost(), "a label does not take the lock");
    assert_eq!(spec_str(&e.lease(name).unwrap(), "holderIdentity"), a);

    // Another holder overwrites it.
    let intruder = "run intruder (m, pid 1 on elsewhere)";
    e.overwrite(name, |l| {
        l.spec.get_or_insert_with(Default::default).holder_identity = Some(intruder.into());
    });
    let deadline = Instant::now() + Duration::from_secs(3);
    while !lock.lost() && Instant::now() < deadline {
        e.sleep(Duration::from_millis(50));
    }
    assert!(lock.lost(), "the next renewal notices the other holder");
    e.rt.block_on(lock.try_release()).unwrap();
    let lease = e
        .lease(name)
        .expect("release leaves another holder's Lease");
    assert_eq!(spec_str(&lease, "holderIdentity"), intruder);
    e.fresh(name);

    // Deleted under a holder: lost too.
    let lock = e.take_renewing(name, &a, Duration::from_millis(200));
    e.fresh(name);
    let deadline = Instant::now() + Duration::from_secs(3);
    while !lock.lost() && Instant::now() < deadline {
        e.sleep(Duration::from_millis(50));
    }
    assert!(lock.lost());
    e.rt.block_on(lock.release());
    assert_eq!(e.lease(name), None);
}

#[test]
fn forbidden_names_the_missing_rbac() {
    let c = TestCluster::start();
    let Some(server) = c.server() else {
        return; // 403 injection needs the in-process server
    };
    let e = env(&c);
    server.deny("create", "leases");
    let err = e
        .take("run-lock-403", &holder("r"), Duration::ZERO)
        .unwrap_err()
        .to_string();
    for part in [
        "forbidden: cannot create the run lock Lease openshift-machine-api/run-lock-403",
        "get, create, update and delete on leases.coordination.k8s.io in namespace openshift-machine-api",
    ] {
        assert!(err.contains(part), "{part:?} missing from: {err}");
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn file_lock_names_its_holder_and_is_released() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("record.json");
    let lock_file = dir.path().join("record.json.lock");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let a = holder("20261204T074000Z-aaaa");
    let first = RunLock::file(&record, &a, Duration::ZERO).unwrap();
    assert!(!first.lost());
    assert_eq!(read(&lock_file).trim(), a);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&lock_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let b = holder("20261204T074100Z-bbbb");
    let start = Instant::now();
    let err = RunLock::file(&record, &b, Duration::ZERO).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(1));
    let msg = err.to_string();
    assert!(msg.contains(&format!("held by {a}")), "{msg}");
    assert!(msg.contains(&lock_file.display().to_string()), "{msg}");
    assert!(
        msg.contains("wait for it to finish, or pass lock_timeout to wait"),
        "{msg}"
    );
    assert_eq!(err.downcast_ref::<LockHeld>().unwrap().holder, a);
    let start = Instant::now();
    assert!(RunLock::file(&record, &b, Duration::from_millis(500)).is_err());
    assert!(start.elapsed() >= Duration::from_millis(500));
    assert_eq!(read(&lock_file).trim(), a, "a failed taker writes nothing");

    // A waiter gets it once released.
    let waiter = {
        let (record, b) = (record.clone(), b.clone());
        std::thread::spawn(move || RunLock::file(&record, &b, Duration::from_secs(10)))
    };
    std::thread::sleep(Duration::from_millis(300));
    rt.block_on(first.try_release()).unwrap();
    let second = waiter.join().unwrap().unwrap();
    assert_eq!(read(&lock_file).trim(), b);
    rt.block_on(second.release());
    assert_eq!(read(&lock_file), "", "released: the file names no one");
    let third = RunLock::file(&record, &a, Duration::ZERO).unwrap();
    drop(third);
    assert!(
        RunLock::file(&record, &b, Duration::ZERO).is_ok(),
        "drop unlocks"
    );
}

#[test]
fn a_lock_file_left_by_a_dead_process_does_not_block() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("record.json");
    let lock_file = dir.path().join("record.json.lock");
    // What a killed run leaves: the file with its name, no OS lock.
    std::fs::write(
        &lock_file,
        "run 20261204T070000Z-dead (machineset_bootimage, pid 4242 on gone)\n",
    )
    .unwrap();
    let b = holder("20261204T074100Z-bbbb");
    let lock = RunLock::file(&record, &b, Duration::ZERO).unwrap();
    assert_eq!(read(&lock_file).trim(), b);
    drop(lock);

    // Another process holding the lock (one process: a shell locks its fd 9 with
    // flock(1), then becomes `sleep`), then killed with SIGKILL.
    let has_flock = std::process::Command::new("flock")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_flock {
        eprintln!("no flock(1): the cross-process part is skipped");
        return;
    }
    let mut child = std::process::Command::new("sh")
        .args(["-c", r#"exec 9>>"$0" && flock 9 && exec sleep 60"#])
        .arg(&lock_file)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let err = loop {
        match RunLock::file(&record, &b, Duration::ZERO) {
            Err(e) => break e,
            Ok(l) if Instant::now() < deadline => {
                drop(l); // flock(1) has not locked yet
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(_) => panic!("flock(1) never took the lock"),
        }
    };
    assert!(err.downcast_ref::<LockHeld>().is_some(), "{err}");
    child.kill().unwrap();
    child.wait().unwrap();
    let lock = RunLock::file(&record, &b, Duration::ZERO).expect("a killed holder's lock is free");
    assert_eq!(read(&lock_file).trim(), b);
    drop(lock);
}
