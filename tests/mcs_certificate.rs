//! `mcs_certificate` through the built binary, as Ansible runs it, against the test API
//! server (or a real one via `OCP_BOOTIMAGE_TEST_KUBECONFIG`): a cluster whose
//! machine-config-server certificate is CN-only (generated here, as installers up to 4.5
//! made them: no SAN, signed by a `root-ca` whose key is gone) is regenerated — SANs for
//! the internal API host, chain verified by the CA every Ignition stub (spec 2.2 and 3.2)
//! now carries, Windows user data untouched, oc's objects, MCS pods restarted and Ready —
//! a second run changes nothing, check mode writes nothing, `rollback` restores every
//! object byte for byte; an MCO-managed CA is only checked; a hosted control plane is
//! skipped. No key or certificate material ever reaches the output.

mod common;

use common::legacy_mcs::{legacy_cluster, unb64, API_INT, MAPI, MCO};
use common::{run_module, TestCluster};
use ocp_bootimage::cert::{analyze_mcs_certificate, ca_pems_from_ignition};
use serde_json::{json, Value};

/// The cluster, with three machine-config-server pods: on the in-process server a
/// simulated DaemonSet brings deleted ones back; a real API server without kubelet or
/// controllers only stores and deletes them (none comes back).
fn start(objects: &[Value]) -> TestCluster {
    let mut c = TestCluster::start();
    common::legacy_mcs::clean_leftovers(&c);
    c.load(objects);
    match c.server() {
        Some(s) => {
            s.add_mcs_pods(3).unwrap();
            s.simulate_mcs_daemonset(test_apiserver::McsDaemonSet::default());
        }
        None => c.load(&common::legacy_mcs::mcs_pods()),
    }
    c.clear_requests();
    c
}

fn args(c: &TestCluster, extra: Value) -> Value {
    let mut a = json!({
        "kubeconfig": c.kubeconfig(),
        "secrets": ["windows-user-data"],
        "wait_timeout": if c.is_real() { 3 } else { 20 },
        "revert_check_seconds": 0,
    });
    for (k, v) in extra.as_object().unwrap() {
        a[k] = v.clone();
    }
    a
}

/// The CA PEMs a stub secret carries.
fn stub_cas(c: &TestCluster, name: &str) -> Vec<Vec<u8>> {
    let s = c.get("Secret", Some(MAPI), name).unwrap();
    let ign: Value = serde_json::from_slice(&unb64(&s["data"]["userData"])).unwrap();
    ca_pems_from_ignition(&ign)
}

/// The official validator (Debian's `ignition` package; specs 3.x) accepts the stub as
/// written; skipped, visibly, where it is not installed.
fn ignition_validate(c: &TestCluster, name: &str) {
    let Ok(path) = which("ignition-validate") else {
        eprintln!("SKIPPED: ignition-validate not installed (apt-get install ignition)");
        return;
    };
    let s = c.get("Secret", Some(MAPI), name).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stub.ign");
    std::fs::write(&file, unb64(&s["data"]["userData"])).unwrap();
    let out = std::process::Command::new(path)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ignition-validate rejects {name}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn which(cmd: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(cmd))
                .find(|f| f.is_file())
        })
        .ok_or(())
}

fn content(o: &Value) -> Value {
    json!({"type": o["type"], "data": o["data"], "labels": o["metadata"]["labels"]})
}

fn assert_no_material(stdout: &str) {
    for needle in ["PRIVATE KEY", "BEGIN CERTIFICATE", "LS0tLS1CRUdJTi"] {
        assert!(!stdout.contains(needle), "output holds {needle}: {stdout}");
    }
}

#[test]
fn a_cn_only_certificate_is_regenerated_rolled_out_and_rolled_back() {
    let (objects, old_ca) = legacy_cluster();
    let c = start(&objects);
    let before_tls = c
        .get("Secret", Some(MCO), "machine-config-server-tls")
        .unwrap();
    let before_stubs: Vec<Value> = ["worker-user-data", "master-user-data", "windows-user-data"]
        .iter()
        .map(|n| c.get("Secret", Some(MAPI), n).unwrap())
        .collect();

    // Check mode: the plan, no write.
    let mut check = args(&c, json!({"run_id": "mcs-test-1"}));
    check["_ansible_check_mode"] = json!(true);
    check["_ansible_diff"] = json!(true);
    let r = run_module("mcs_certificate", &check);
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["changed"], true);
    assert_eq!(r.json["action"], "regenerate");
    assert_no_material(&r.stdout);
    if let Some(w) = c.writes() {
        assert!(w.is_empty(), "check mode wrote: {w:?}");
    }
    assert_eq!(r.json["mcs_pods"]["restarted"].as_array().unwrap().len(), 3);

    // The run.
    let r = run_module(
        "mcs_certificate",
        &args(&c, json!({"run_id": "mcs-test-1"})),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["changed"], true);
    assert_no_material(&r.stdout);
    let reasons = r.json["reasons"].to_string();
    assert!(reasons.contains("no Subject Alternative Name"), "{reasons}");
    assert_eq!(r.json["signer"]["source"], "new");
    let stubs = r.json["stubs"].as_array().unwrap();
    let action = |n: &str| {
        stubs
            .iter()
            .find(|s| s["name"] == n)
            .map(|s| s["action"].as_str().unwrap().to_string())
    };
    assert_eq!(action("worker-user-data").as_deref(), Some("update"));
    assert_eq!(action("master-user-data").as_deref(), Some("update"));
    assert_eq!(action("windows-user-data").as_deref(), Some("skip"));

    // The new certificate: kubernetes.io/tls, SAN for the internal host, verified by the
    // CA of every Ignition stub; the old CA still in the bundle (valid).
    let tls = c
        .get("Secret", Some(MCO), "machine-config-server-tls")
        .unwrap();
    assert_eq!(tls["type"], "kubernetes.io/tls");
    let crt = unb64(&tls["data"]["tls.crt"]);
    for name in ["worker-user-data", "master-user-data"] {
        let cas = stub_cas(&c, name);
        assert_eq!(cas.len(), 1, "{name}");
        let rep = analyze_mcs_certificate(&crt, &cas, std::time::SystemTime::now()).unwrap();
        assert_eq!(rep.dns_sans, vec![API_INT.to_string()]);
        assert_eq!(rep.ca_verified, Some(true), "{name}");
        assert!(!rep.regeneration_required);
        assert!(String::from_utf8_lossy(&cas[0]).contains(old_ca.lines().nth(1).unwrap()));
    }
    ignition_validate(&c, "master-user-data");
    assert_eq!(
        c.get("Secret", Some(MAPI), "windows-user-data").unwrap()["data"],
        before_stubs[2]["data"]
    );
    let ca = c
        .get("Secret", Some(MCO), "machine-config-server-ca")
        .unwrap();
    assert_eq!(ca["type"], "kubernetes.io/tls");
    assert_eq!(
        ca["metadata"]["labels"]["auth.openshift.io/managed-certificate-type"],
        "signer"
    );
    let bundle = c
        .get("ConfigMap", Some(MCO), "machine-config-server-ca")
        .unwrap();
    assert_eq!(
        bundle["metadata"]["labels"]["auth.openshift.io/managed-certificate-type"],
        "ca-bundle"
    );
    let backup = c
        .get("Secret", Some(MCO), "machine-config-server-tls-backup")
        .unwrap();
    assert_eq!(backup["data"], before_tls["data"]);
    assert_eq!(backup["type"], "Opaque");
    // The record holds digests only.
    let entries = c.run_entries("mcs-test-1");
    assert!(!entries
        .to_vec()
        .iter()
        .any(|e| e.to_string().contains("LS0tLS1CRUdJTiBSU0")));
    assert_eq!(r.json["mcs_pods"]["restarted"].as_array().unwrap().len(), 3);
    if c.server().is_some() {
        assert_eq!(r.json["mcs_pods"]["ready"], true);
    } else {
        // Nothing brings them back on a bare API server: a warning, not a failure.
        assert_eq!(r.json["mcs_pods"]["ready"], false);
        assert!(
            r.json["warnings"].to_string().contains("not all Ready"),
            "{}",
            r.stdout
        );
    }

    // Again: nothing to do.
    let again = run_module(
        "mcs_certificate",
        &args(&c, json!({"run_id": "mcs-test-2"})),
    );
    assert_eq!(again.json["failed"], false, "{}", again.stdout);
    assert_eq!(again.json["changed"], false, "{}", again.stdout);
    assert_eq!(again.json["action"], "up_to_date");

    // Rotating under another run id would need the backup place run mcs-test-1 holds:
    // refused, naming it, nothing written.
    c.clear_requests();
    let rotate = run_module(
        "mcs_certificate",
        &args(&c, json!({"run_id": "mcs-test-3", "state": "rotated"})),
    );
    assert_eq!(rotate.json["failed"], true, "{}", rotate.stdout);
    let msg = rotate.json["msg"].as_str().unwrap();
    assert!(
        msg.contains("run mcs-test-1") && msg.contains("nothing was changed"),
        "{msg}"
    );
    if let Some(w) = c.writes() {
        assert!(w.is_empty(), "{w:?}");
    }

    // Rollback restores every object byte for byte and deletes what the run created.
    let rb = run_module(
        "rollback",
        &json!({"kubeconfig": c.kubeconfig(), "run_id": "mcs-test-1"}),
    );
    assert_eq!(rb.json["failed"], false, "{}", rb.stdout);
    assert_no_material(&rb.stdout);
    let tls = c
        .get("Secret", Some(MCO), "machine-config-server-tls")
        .unwrap();
    assert_eq!(content(&tls), content(&before_tls));
    for b in &before_stubs {
        let now = c
            .get(
                "Secret",
                Some(MAPI),
                b["metadata"]["name"].as_str().unwrap(),
            )
            .unwrap();
        assert_eq!(now["data"], b["data"]);
    }
    assert!(c
        .get("Secret", Some(MCO), "machine-config-server-ca")
        .is_none());
    assert!(c
        .get("ConfigMap", Some(MCO), "machine-config-server-ca")
        .is_none());
    assert!(c
        .get("Secret", Some(MCO), "machine-config-server-tls-backup")
        .is_none());
}

#[test]
fn an_mco_managed_certificate_is_only_checked() {
    let (mut objects, _) = legacy_cluster();
    objects.push(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "machine-config-server-ca", "namespace": MCO,
            "annotations": {"openshift.io/owning-component": "Machine Config Operator"}},
        "data": {"ca-bundle.crt": ""},
    }));
    let c = start(&objects);
    let r = run_module("mcs_certificate", &args(&c, json!({})));
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["changed"], false);
    assert_eq!(r.json["action"], "check_only");
    assert!(r.json["msg"]
        .as_str()
        .unwrap()
        .contains("Machine Config Operator"));
    if let Some(w) = c.writes() {
        assert!(w.is_empty(), "{w:?}");
    }
}

#[test]
fn a_hosted_control_plane_is_skipped() {
    let (objects, _) = legacy_cluster();
    let objects: Vec<Value> = objects
        .into_iter()
        .map(|mut o| {
            if o["kind"] == "Infrastructure" {
                o["status"]["controlPlaneTopology"] = json!("External");
            }
            o
        })
        .collect();
    let c = start(&objects);
    let r = run_module("mcs_certificate", &args(&c, json!({})));
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["changed"], false);
    assert_eq!(r.json["action"], "skipped");
    if let Some(w) = c.writes() {
        assert!(w.is_empty(), "{w:?}");
    }
}

/// The end state every completed run must reach: the serving certificate names the
/// internal host and the CA of every Ignition stub verifies it.
fn assert_rolled_out(c: &TestCluster) {
    let tls = c
        .get("Secret", Some(MCO), "machine-config-server-tls")
        .unwrap();
    assert_eq!(tls["type"], "kubernetes.io/tls");
    let crt = unb64(&tls["data"]["tls.crt"]);
    for name in ["worker-user-data", "master-user-data"] {
        let rep = analyze_mcs_certificate(&crt, &stub_cas(c, name), std::time::SystemTime::now())
            .unwrap();
        assert_eq!(rep.dns_sans, vec![API_INT.to_string()], "{name}");
        assert_eq!(rep.ca_verified, Some(true), "{name}");
    }
}

/// Every object the run may touch, as stored (what a rollback must give back).
fn touched(c: &TestCluster) -> Vec<Option<Value>> {
    let mut out = vec![
        c.get("Secret", Some(MCO), "machine-config-server-tls")
            .map(|o| content(&o)),
        c.get("Secret", Some(MCO), "machine-config-server-ca")
            .map(|o| content(&o)),
        c.get("ConfigMap", Some(MCO), "machine-config-server-ca")
            .map(|o| o["data"].clone()),
    ];
    for n in ["worker-user-data", "master-user-data", "windows-user-data"] {
        out.push(c.get("Secret", Some(MAPI), n).map(|o| content(&o)));
    }
    out
}

#[test]
fn a_conflict_is_replanned_and_a_failed_write_is_finished_by_the_rerun() {
    let (objects, _) = legacy_cluster();
    let c = start(&objects);
    let Some(server) = c.server() else { return };
    let original = touched(&c);
    // A 409 on a stub: re-read, re-planned, written.
    server.inject(
        test_apiserver::Fault::status(409)
            .on_method("PATCH")
            .on_path("/secrets/worker-user-data")
            .times(1),
    );
    // A 500 on the serving certificate: the run stops, the record says so.
    server.inject(
        test_apiserver::Fault::status(500)
            .on_method("PUT")
            .on_path("/secrets/machine-config-server-tls")
            .times(1),
    );
    server.inject(
        test_apiserver::Fault::status(500)
            .on_method("DELETE")
            .on_path("/secrets/machine-config-server-tls")
            .times(1),
    );
    let a = args(&c, json!({"run_id": "mcs-fault"}));
    let r = run_module("mcs_certificate", &a);
    assert_eq!(r.json["failed"], true, "{}", r.stdout);
    assert!(r.json["msg"]
        .as_str()
        .unwrap()
        .contains("run again with the same run_id"));
    assert_no_material(&r.stdout);
    server.clear_faults();
    let again = run_module("mcs_certificate", &a);
    assert_eq!(again.json["failed"], false, "{}", again.stdout);
    assert_eq!(again.json["changed"], true);
    assert_eq!(
        again.json["signer"]["source"], "existing",
        "the run's own CA is reused"
    );
    assert_rolled_out(&c);
    let rb = run_module(
        "rollback",
        &json!({"kubeconfig": c.kubeconfig(), "run_id": "mcs-fault"}),
    );
    assert_eq!(rb.json["failed"], false, "{}", rb.stdout);
    assert_eq!(touched(&c), original);
}

#[test]
fn a_run_killed_at_any_write_is_finished_by_the_rerun_and_rolled_back_byte_for_byte() {
    // Learn the writes of an uninterrupted run.
    let (objects, _) = legacy_cluster();
    let probe = start(&objects);
    let Some(server) = probe.server() else { return };
    let r = run_module(
        "mcs_certificate",
        &args(&probe, json!({"run_id": "mcs-kill"})),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    let reqs = server.requests();
    let writes: Vec<(usize, String)> = reqs
        .iter()
        .enumerate()
        .filter(|(_, q)| q.is_write() && !q.path.contains("/leases"))
        .map(|(i, q)| (i + 1, format!("{} {}", q.method, q.path)))
        .collect();
    assert!(writes.len() >= 8, "{writes:?}");
    // The requests of a whole run on the CN-only cluster (2 Ignition stubs, 3 MCS pods):
    // reads before the first write, writes, and the rest (record, lock, waiting for pods).
    let lock = |q: &&test_apiserver::RequestRecord| q.path.contains("/leases");
    let first = reqs
        .iter()
        .position(|q| q.is_write() && !q.path.contains("/leases"))
        .unwrap();
    let reads = reqs[..first].iter().filter(|q| !lock(q)).count();
    let object_writes = writes
        .iter()
        .filter(|(_, w)| !w.contains("/namespaces/ocp-bootimage/"))
        .count();
    eprintln!(
        "mcs_certificate requests: {} in all; {reads} reads before the first write; {} writes ({object_writes} to cluster objects)",
        reqs.len(),
        writes.len()
    );
    assert!(reads <= 16, "{reads} reads");
    assert_eq!(object_writes, 10, "{writes:?}");
    // Kill at each write of the certificate objects, the first stub and the first pod
    // delete, and at the record's first write.
    let mut points: Vec<(usize, String)> = Vec::new();
    let mut stub_seen = false;
    let mut pod_seen = false;
    for (k, w) in &writes {
        let take = if w.contains("/namespaces/ocp-bootimage/") {
            points.is_empty()
        } else if w.contains("/pods/") {
            !std::mem::replace(&mut pod_seen, true)
        } else if w.contains("openshift-machine-api") {
            !std::mem::replace(&mut stub_seen, true)
        } else {
            true
        };
        if take {
            points.push((*k, w.clone()));
        }
    }
    assert!(points.len() >= 7, "{points:?}");
    // Each kill point on its own cluster, at once (each rerun waits out its dead run's
    // Lease, ~15 s).
    std::thread::scope(|scope| {
        for (k, what) in &points {
            let objects = &objects;
            scope.spawn(move || kill_rerun_roll_back(objects, *k, what));
        }
    });
}

/// Kills a run at its `k`-th request, reruns it, runs it again, rolls it back.
fn kill_rerun_roll_back(objects: &[Value], k: usize, what: &str) {
    let c = start(objects);
    let original = touched(&c);
    let server = c.server().unwrap();
    let a = args(&c, json!({"run_id": "mcs-kill", "lock_timeout": 30}));
    let base = server.request_count();
    let mut run = common::spawn_module("mcs_certificate", &a, &[]);
    while server.request_count() - base < k && !run.exited() {
        std::thread::sleep(std::time::Duration::from_micros(100));
    }
    run.kill();
    let rerun = run_module("mcs_certificate", &a);
    assert_eq!(
        rerun.json["failed"], false,
        "killed at {k} ({what}): {}",
        rerun.stdout
    );
    assert_rolled_out(&c);
    let third = run_module("mcs_certificate", &a);
    assert_eq!(
        third.json["changed"], false,
        "killed at {k} ({what}): {}",
        third.stdout
    );
    let rb = run_module(
        "rollback",
        &json!({"kubeconfig": c.kubeconfig(), "run_id": "mcs-kill", "lock_timeout": 30}),
    );
    assert_eq!(
        rb.json["failed"], false,
        "killed at {k} ({what}): {}",
        rb.stdout
    );
    assert_eq!(touched(&c), original, "killed at {k} ({what})");
    eprintln!("killed at request {k} ({what}): rerun finished, rollback restored");
}

#[test]
fn mcs_cert_info_says_what_mcs_certificate_would_do() {
    let (objects, _) = legacy_cluster();
    let c = start(&objects);
    let r = run_module("mcs_cert_info", &json!({"kubeconfig": c.kubeconfig()}));
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(
        r.json["mcs_certificate"]["action"], "regenerate",
        "{}",
        r.stdout
    );
    assert_eq!(r.json["mcs_certificate"]["hostnames"], json!([API_INT]));
    assert!(r.json["msg"]
        .as_str()
        .unwrap()
        .contains("mcs_certificate module"));
    let run = run_module("mcs_certificate", &args(&c, json!({})));
    assert_eq!(run.json["failed"], false, "{}", run.stdout);
    let after = run_module("mcs_cert_info", &json!({"kubeconfig": c.kubeconfig()}));
    assert_eq!(
        after.json["mcs_certificate"]["action"], "up_to_date",
        "{}",
        after.stdout
    );
    assert_eq!(after.json["regeneration_required"], false);
    assert_eq!(after.json["ca_verified"], true);
}

/// A TLS server on 127.0.0.1 (in its own thread) serving the chain and key of a
/// `kubernetes.io/tls` Secret, as the machine-config-server does; returns its port.
fn serve_secret(secret: &Value) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&unb64(&secret["data"]["tls.crt"]))
            .map(|c| c.unwrap())
            .collect();
    let key = PrivateKeyDer::from_pem_slice(&unb64(&secret["data"]["tls.key"])).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let _ = acceptor.accept(tcp).await;
            }
        });
    });
    port
}

#[test]
fn verify_served_checks_the_chain_the_server_serves() {
    let (objects, _) = legacy_cluster();
    let c = start(&objects);
    // Before: the old CN-only certificate is served.
    let old = c
        .get("Secret", Some(MCO), "machine-config-server-tls")
        .unwrap();
    let old_port = serve_secret(&old);
    let r = run_module("mcs_certificate", &args(&c, json!({})));
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    // The new certificate served: verified against the stubs' CA for the internal host.
    let new = c
        .get("Secret", Some(MCO), "machine-config-server-tls")
        .unwrap();
    let port = serve_secret(&new);
    let verify_at = |address: String| {
        let a = args(
            &c,
            json!({"verify_served": true, "served_address": address}),
        );
        run_module("mcs_certificate", &a)
    };
    let ok = verify_at(format!("127.0.0.1:{port}"));
    assert_eq!(ok.json["failed"], false, "{}", ok.stdout);
    assert_eq!(ok.json["changed"], false);
    assert_eq!(ok.json["served"]["verified"], true, "{}", ok.stdout);
    // A server still serving the old certificate (a pod that did not restart): fails.
    let stale = verify_at(format!("127.0.0.1:{old_port}"));
    assert_eq!(stale.json["failed"], true, "{}", stale.stdout);
    assert_eq!(stale.json["served"]["verified"], false);
    assert!(stale.json["msg"]
        .as_str()
        .unwrap()
        .contains("does not verify"));
    assert_no_material(&stale.stdout);
    // Nothing listening: a warning, not a failure.
    let gone = verify_at("127.0.0.1:1".into());
    assert_eq!(gone.json["failed"], false, "{}", gone.stdout);
    assert!(gone.json["warnings"]
        .to_string()
        .contains("was not checked"));
}
