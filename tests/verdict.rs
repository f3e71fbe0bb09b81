//! Issue 13 §§ 4, 5, 7 against a Kubernetes-API-compatible server (the in-process test
//! server, or a real kube-apiserver with `OCP_BOOTIMAGE_TEST_KUBECONFIG`): the verdict's
//! three values, the cluster's architecture from the control-plane nodes, the
//! ControlPlaneMachineSet in the audit, MachineSets another controller manages, and a
//! change another controller reverts.

mod common;

use common::{objects_under, root, run_module, TestCluster};
use serde_json::{json, Value};

fn shipped_dump() -> std::path::PathBuf {
    root().join("examples/cluster-dump")
}

fn reasons(r: &Value, key: &str) -> Vec<String> {
    r[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} missing: {r}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Issue 13 § 7: a bare API server (no ClusterVersion, no Infrastructure, no
/// coreos-bootimages, no MachineSets) answered `compliant: true` with one warning.
#[test]
fn a_bare_api_server_is_unknown_with_the_reasons_not_compliant() {
    let c = TestCluster::start();
    if c.is_real() {
        // The shared real server may hold other tests' objects; the in-process server is bare.
        return;
    }
    let kc = c.kubeconfig();
    let r = run_module("bootimage_info", &json!({"kubeconfig": kc}));
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["verdict"], "unknown", "{}", r.stdout);
    assert_eq!(r.json["compliant"], false);
    assert_eq!(
        reasons(&r.json, "noncompliant_reasons"),
        Vec::<String>::new()
    );
    let unknown = reasons(&r.json, "unknown_reasons");
    let has = |s: &str| unknown.iter().any(|u| u.contains(s));
    assert!(has("no stream metadata"), "{unknown:?}");
    assert!(has("version is unknown"), "{unknown:?}");
    assert!(has("platform is unknown"), "{unknown:?}");
    assert!(
        has("no MachineSets: this cluster's boot images live outside it"),
        "{unknown:?}"
    );
    assert!(has("nodes: true"), "{unknown:?}");
    let msg = r.json["msg"].as_str().unwrap();
    assert!(
        msg.starts_with("unknown (the audit could not judge): "),
        "{msg}"
    );

    // fail_on_noncompliant fails on unknown, unless allow_unknown.
    let r = run_module(
        "bootimage_info",
        &json!({"kubeconfig": kc, "fail_on_noncompliant": true}),
    );
    assert_eq!(r.json["failed"], true, "{}", r.stdout);
    assert_eq!(r.code, 1);
    let r = run_module(
        "bootimage_info",
        &json!({"kubeconfig": kc, "fail_on_noncompliant": true, "allow_unknown": true}),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["verdict"], "unknown");
}

/// A cluster with something wrong is not compliant, whatever it could not judge.
#[test]
fn the_shipped_dump_is_not_compliant_and_allow_unknown_does_not_pass_it() {
    let r = run_module(
        "bootimage_info",
        &json!({"dump_dir": shipped_dump(), "fail_on_noncompliant": true, "allow_unknown": true}),
    );
    assert_eq!(r.json["verdict"], "not_compliant", "{}", r.stdout);
    assert_eq!(r.json["compliant"], false);
    assert_eq!(r.json["failed"], true);
}

/// The shipped dump's objects with a ClusterVersion that does not name the architecture
/// (as single-arch ClusterVersions of many releases do not) and, with `arch`, one
/// control-plane node of that architecture.
fn objects_with_arch_unnamed(arch: Option<&str>) -> Vec<Value> {
    let mut objects: Vec<Value> = objects_under(&shipped_dump())
        .into_iter()
        .filter(|o| o["kind"] != "Node")
        .collect();
    for o in objects.iter_mut().filter(|o| o["kind"] == "ClusterVersion") {
        for c in o["status"]["conditions"].as_array_mut().unwrap() {
            if let Some(m) = c["message"].as_str() {
                c["message"] = json!(m.split(" architecture=").next().unwrap());
            }
        }
    }
    if let Some(arch) = arch {
        objects.push(json!({"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": "master-0", "labels": {
                "kubernetes.io/arch": arch,
                "node-role.kubernetes.io/master": "",
                "node-role.kubernetes.io/control-plane": ""}}}));
        objects.push(json!({"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": "worker-0", "labels": {"kubernetes.io/arch": "amd64",
                "node-role.kubernetes.io/worker": ""}}}));
    }
    objects
}

fn node_requests(c: &TestCluster) -> Vec<String> {
    c.requests()
        .unwrap_or_default()
        .iter()
        .filter(|q| q.path == "/api/v1/nodes")
        .map(|q| q.query.clone().unwrap_or_default())
        .collect()
}

/// Issue 13 § 4: the architecture comes from a control-plane node's label (one
/// metadata-only LIST, from the watch cache), not a warning and a guess.
#[test]
fn the_architecture_comes_from_a_control_plane_node() {
    let mut c = TestCluster::start();
    c.load(&objects_with_arch_unnamed(Some("arm64")));
    c.clear_requests();
    let r = run_module("bootimage_info", &json!({"kubeconfig": c.kubeconfig()}));
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(
        r.json["cluster"]["architecture"], "aarch64",
        "{}",
        r.json["cluster"]
    );
    assert_eq!(
        r.json["cluster"]["architecture_source"],
        "control_plane_node"
    );
    let warnings = r.json["warnings"].to_string();
    assert!(!warnings.contains("architecture is unknown"), "{warnings}");
    if c.server().is_some() {
        let q = node_requests(&c);
        assert_eq!(q.len(), 1, "one LIST of nodes: {q:?}");
        assert!(
            q[0].contains("labelSelector=node-role.kubernetes.io%2Fmaster")
                && q[0].contains("resourceVersion=0")
                && !q[0].contains("limit="),
            "{q:?}"
        );
    }

    // Where ClusterVersion names it, no node is read. (One cluster at a time: on a real
    // server each holds the shared server's lock.)
    drop(c);
    let mut c = TestCluster::start();
    c.load(&objects_under(&shipped_dump()));
    c.clear_requests();
    let r = run_module("bootimage_info", &json!({"kubeconfig": c.kubeconfig()}));
    assert_eq!(r.json["cluster"]["architecture_source"], "cluster_version");
    if c.server().is_some() {
        assert_eq!(node_requests(&c), Vec::<String>::new());
    }
}

/// Only when it truly cannot be known does the audit warn and assume x86_64.
#[test]
fn no_control_plane_node_warns_that_the_architecture_is_unknown() {
    let mut c = TestCluster::start();
    if c.is_real() {
        // A real server's nodes are shared by the tests; the in-process server has none.
        return;
    }
    c.load(&objects_with_arch_unnamed(None));
    c.clear_requests();
    let r = run_module("bootimage_info", &json!({"kubeconfig": c.kubeconfig()}));
    assert_eq!(r.json["cluster"]["architecture"], Value::Null);
    assert!(r.json["warnings"]
        .to_string()
        .contains("architecture is unknown"));
    // Both labels were tried: the `master` one every OpenShift 4 control plane carries,
    // then `control-plane`.
    assert_eq!(node_requests(&c).len(), 2, "{:?}", node_requests(&c));
}

/// `list nodes` denied (an account without `deploy/rbac.yaml`'s rule): the audit still
/// answers, and its warning names the permission instead of only guessing x86_64.
#[test]
fn list_nodes_denied_names_the_permission() {
    let mut c = TestCluster::start();
    let Some(server) = c.server() else {
        // 403 injection is the in-process server's; tests/rbac.rs runs the real RBAC.
        return;
    };
    server.deny("list", "nodes");
    c.load(&objects_with_arch_unnamed(Some("arm64")));
    let r = run_module("bootimage_info", &json!({"kubeconfig": c.kubeconfig()}));
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["cluster"]["architecture"], Value::Null);
    let warnings = r.json["warnings"].to_string();
    assert!(warnings.contains("architecture is unknown"), "{warnings}");
    assert!(
        warnings.contains("could not list the control-plane Nodes")
            && warnings.contains("grant the `list` verb on `nodes`"),
        "{warnings}"
    );
}

/// Issue 13 § 5: the audit shows the ControlPlaneMachineSet (one GET) and whether
/// `include_control_plane` would change it — the swap's own answer.
#[test]
fn the_audit_shows_the_control_plane_and_what_include_control_plane_would_do() {
    for (strategy, would_change) in [("RollingUpdate", false), ("OnDelete", true)] {
        let mut c = TestCluster::start();
        let mut objects = common::with_v3_stubs(objects_under(&shipped_dump()));
        let mut cpms = common::cpms(strategy);
        cpms["status"] = json!({"replicas": 3, "readyReplicas": 3, "updatedReplicas": 2,
            "unavailableReplicas": 0, "observedGeneration": 1});
        objects.push(cpms);
        c.load(&objects);
        c.clear_requests();
        let r = run_module("bootimage_info", &json!({"kubeconfig": c.kubeconfig()}));
        assert_eq!(r.json["failed"], false, "{}", r.stdout);
        let cp = &r.json["control_plane"];
        assert_eq!(cp["name"], "cluster", "{cp}");
        assert_eq!(cp["strategy"], strategy);
        assert_eq!(cp["state"], "Active");
        assert_eq!(cp["current_image"], "ami-06f85a7940faa3217");
        assert_eq!(cp["status"], "outdated", "{cp}");
        assert_eq!(cp["ready_replicas"], 3);
        assert_eq!(cp["updated_replicas"], 2);
        assert_eq!(
            cp["include_control_plane_would_change"], would_change,
            "{cp}"
        );
        if !would_change {
            assert!(cp["include_control_plane_note"]
                .as_str()
                .unwrap()
                .contains("OnDelete"));
        }
        if let Some(server) = c.server() {
            let gets = server
                .requests()
                .iter()
                .filter(|q| q.path.ends_with("/controlplanemachinesets/cluster"))
                .count();
            assert_eq!(gets, 1);
        }
    }
}

/// Issue 13 § 5: MachineSets Hive or Argo CD manage are reported, and the swap leaves
/// them alone unless `allow_other_controllers`.
#[test]
fn machinesets_another_controller_manages_are_reported_and_left_alone() {
    let mut c = TestCluster::start();
    let mut objects = common::with_v3_stubs(objects_under(&shipped_dump()));
    let hive = "build09-kcxpl-worker-aarch64-us-east-2a";
    let argo = "build09-kcxpl-worker-us-east-1a";
    for o in objects.iter_mut().filter(|o| o["kind"] == "MachineSet") {
        if o["metadata"]["name"] == hive {
            o["metadata"]["labels"]["hive.openshift.io/machine-pool"] = json!("worker");
            o["metadata"]["labels"]["hive.openshift.io/managed"] = json!("true");
        }
        if o["metadata"]["name"] == argo {
            o["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] =
                json!("infra:machine.openshift.io/MachineSet:openshift-machine-api/x");
        }
    }
    c.load(&objects);
    let kc = c.kubeconfig();
    let audit = run_module("bootimage_info", &json!({"kubeconfig": kc}));
    let ms = |name: &str| {
        audit.json["machinesets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap()
            .clone()
    };
    assert!(ms(hive)["managed_by"]
        .as_str()
        .unwrap()
        .starts_with("Hive machine pool worker"));
    assert_eq!(
        ms(argo)["managed_by"],
        "Argo CD application infra (annotation argocd.argoproj.io/tracking-id)"
    );
    assert!(audit.json["warnings"]
        .to_string()
        .contains("is managed by Hive"));

    let dir = tempfile::tempdir().unwrap();
    let args = json!({"kubeconfig": kc, "record_path": dir.path().join("r.json"),
        "machinesets": [hive, argo]});
    let r = run_module("machineset_bootimage", &args);
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["changed"], false, "{}", r.stdout);
    for m in r.json["machinesets"].as_array().unwrap() {
        assert_eq!(m["skipped"], true, "{m}");
        assert!(
            m["reason"]
                .as_str()
                .unwrap()
                .contains("allow_other_controllers"),
            "{m}"
        );
    }
    let mut forced = args.clone();
    forced["allow_other_controllers"] = json!(true);
    let r = run_module("machineset_bootimage", &forced);
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["changed"], true, "{}", r.stdout);
}

fn kubeconfig_for(dir: &std::path::Path, server: &str) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: \"{server}\"}}\n\
             users:\n- name: u\n  user: {{token: abc}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\n\
             current-context: c\n"
        ),
    )
    .unwrap();
    path
}

fn failed_msg(server: &str, env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig_for(dir.path(), server);
    let r = common::run_module_env(
        "bootimage_info",
        &json!({"kubeconfig": kc, "gather_subset": ["min"]}),
        env,
    );
    assert_eq!(r.json["failed"], true, "{}", r.stdout);
    r.json["msg"].as_str().unwrap().to_string()
}

/// Issue 13 § 7: errors that stop a run name their cause (each against a real local
/// socket), not "ServiceError: client error (Connect)".
#[test]
fn connection_errors_name_their_cause() {
    // A closed port: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let msg = failed_msg(&format!("https://127.0.0.1:{port}"), &[]);
    assert!(
        msg.contains("connection refused: nothing listens there"),
        "{msg}"
    );

    let msg = failed_msg("https://nonexistent.invalid:6443", &[]);
    assert!(msg.contains("does not resolve (DNS)"), "{msg}");

    // A listener that accepts and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let _keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in silent.incoming().flatten() {
            held.push(s);
        }
    });
    let msg = failed_msg(
        &format!("http://{addr}"),
        &[("OCP_BOOTIMAGE_TIMEOUT_SECS", "0.3")],
    );
    assert!(msg.contains("no answer in time"), "{msg}");
}

/// A TLS server with a self-signed certificate (`openssl s_server`): the message says the
/// certificate is not trusted and names `ca_cert` and `validate_certs`.
#[test]
fn an_untrusted_certificate_names_ca_cert_and_validate_certs() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: no openssl to make a self-signed certificate");
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new("openssl")
        .args(["s_server", "-quiet", "-accept", &port.to_string()])
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let msg = failed_msg(&format!("https://127.0.0.1:{port}"), &[]);
    let _ = server.kill();
    let _ = server.wait();
    assert!(msg.contains("TLS certificate is not trusted"), "{msg}");
    assert!(
        msg.contains("`ca_cert`") && msg.contains("`validate_certs: false`"),
        "{msg}"
    );
}

/// Issue 13 § 7: run by Ansible under a name that is no module, the binary still answers
/// with one JSON object naming the modules (it printed a CLI usage error, exit 2).
#[test]
fn an_unknown_module_name_answers_one_json_object() {
    for name in ["bootimage_inf", "nope"] {
        let r = run_module(name, &json!({}));
        assert_eq!(r.json["failed"], true, "{}", r.stdout);
        assert_eq!(r.code, 1);
        let msg = r.json["msg"].as_str().unwrap();
        assert!(msg.contains(&format!("no module named {name:?}")), "{msg}");
        assert!(
            msg.contains("bootimage_info") && msg.contains("machineset_bootimage"),
            "{msg}"
        );
        assert_eq!(r.stdout.trim().lines().count(), 1, "{}", r.stdout);
    }
}

/// Another controller that writes its own boot image back: on the in-process server the
/// server's hook ([`test_apiserver::TestApiServer::revert_patches`]); on a real server a
/// thread that watches the MachineSet (every 50 ms) and patches the old AMI back.
fn revert_in_background(
    c: &TestCluster,
    name: &str,
    ami: &str,
) -> Option<(
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    std::thread::JoinHandle<u32>,
)> {
    if let Some(server) = c.server() {
        server.revert_patches("MachineSet", name);
        return None;
    }
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let (name, ami, kc) = (name.to_string(), ami.to_string(), c.kubeconfig());
    let stopping = stop.clone();
    let handle = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let params = ocp_bootimage::options::ConnectionParams {
            kubeconfig: Some(kc.into()),
            ..Default::default()
        };
        let conn = rt.block_on(params.connect()).unwrap();
        let ar = kube::core::ApiResource {
            group: "machine.openshift.io".into(),
            version: "v1beta1".into(),
            api_version: "machine.openshift.io/v1beta1".into(),
            kind: "MachineSet".into(),
            plural: "machinesets".into(),
        };
        let api: kube::Api<kube::core::DynamicObject> =
            kube::Api::namespaced_with(conn.client.clone(), "openshift-machine-api", &ar);
        let mut reverts = 0;
        while !stopping.load(Ordering::SeqCst) {
            if let Ok(ms) = rt.block_on(api.get(&name)) {
                let now = ms
                    .data
                    .pointer("/spec/template/spec/providerSpec/value/ami/id")
                    .cloned();
                if now.as_ref().and_then(Value::as_str) != Some(ami.as_str()) {
                    let back = json!({"spec": {"template": {"spec": {"providerSpec": {"value": {"ami": {"id": ami}}}}}}});
                    let pp = kube::api::PatchParams::default();
                    if rt
                        .block_on(api.patch(&name, &pp, &kube::api::Patch::Merge(&back)))
                        .is_ok()
                    {
                        reverts += 1;
                    }
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        reverts
    });
    Some((stop, handle))
}

/// Issue 13 § 5: a change another controller writes back at once is reported as
/// "reverted by another controller" (the task fails) and not written again (MCO's
/// hot-loop guard, OCPBUGS-55967); a second run does the same, never a loop.
#[test]
fn a_change_another_controller_reverts_is_reported_not_retried() {
    let mut c = TestCluster::start();
    let name = "build09-kcxpl-worker-us-east-1a";
    c.load(&common::with_v3_stubs(objects_under(&shipped_dump())));
    let before = c
        .get("MachineSet", Some("openshift-machine-api"), name)
        .unwrap();
    let ami = before
        .pointer("/spec/template/spec/providerSpec/value/ami/id")
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    let reverter = revert_in_background(&c, name, &ami);
    let dir = tempfile::tempdir().unwrap();
    // On a real server the reverting thread needs a moment: read again after 2 s.
    let wait = if c.is_real() { 2 } else { 0 };
    let args = json!({"kubeconfig": c.kubeconfig(), "record_path": dir.path().join("r.json"),
        "machinesets": [name], "revert_check_seconds": wait});
    c.clear_requests();
    let r = run_module("machineset_bootimage", &args);
    assert_eq!(r.json["failed"], true, "{}", r.stdout);
    assert_eq!(r.json["changed"], true, "the PATCH was sent: {}", r.stdout);
    let msg = r.json["msg"].as_str().unwrap();
    assert!(msg.starts_with("reverted by another controller"), "{msg}");
    assert!(msg.contains(name), "{msg}");
    if let Some(reqs) = c.requests() {
        let patches = reqs
            .iter()
            .filter(|q| q.method == "PATCH" && q.path.ends_with(name))
            .count();
        assert_eq!(patches, 1, "written once, not again: {reqs:?}");
    }
    let now = c
        .get("MachineSet", Some("openshift-machine-api"), name)
        .unwrap();
    assert_eq!(
        now.pointer("/spec/template/spec/providerSpec/value/ami/id")
            .unwrap(),
        ami.as_str(),
        "the other controller's value stands"
    );
    if let Some((stop, handle)) = reverter {
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(handle.join().unwrap() >= 1);
    }
    // Without such a controller, the same swap sticks and is not reported.
    drop(c);
    let mut c2 = TestCluster::start();
    c2.load(&common::with_v3_stubs(objects_under(&shipped_dump())));
    let dir = tempfile::tempdir().unwrap();
    let r = run_module(
        "machineset_bootimage",
        &json!({"kubeconfig": c2.kubeconfig(), "record_path": dir.path().join("r.json"), "machinesets": [name]}),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["changed"], true);
}

/// The CLI `audit` follows the verdict: `--fail-on-noncompliant` exits 1 on unknown,
/// `--allow-unknown` lets it pass; the table's last paragraph names the verdict.
#[test]
fn the_cli_audit_exit_code_follows_the_verdict() {
    let c = TestCluster::start();
    if c.is_real() {
        return; // the bare server is the in-process one
    }
    let run = |extra: &[&str]| {
        std::process::Command::new(common::binary())
            .args(["audit", "-o", "table", "--kubeconfig"])
            .arg(c.kubeconfig())
            .args(extra)
            .env_remove("KUBECONFIG")
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Control plane: no ControlPlaneMachineSet"),
        "{text}"
    );
    assert!(
        text.trim_end()
            .rsplit("\n\n")
            .next()
            .unwrap()
            .starts_with("unknown (the audit could not judge)"),
        "{text}"
    );
    assert_eq!(run(&["--fail-on-noncompliant"]).status.code(), Some(1));
    assert_eq!(
        run(&["--fail-on-noncompliant", "--allow-unknown"])
            .status
            .code(),
        Some(0)
    );
}
