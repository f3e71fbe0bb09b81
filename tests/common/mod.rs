//! Test harness shared by the integration tests: the cluster to talk to (the
//! in-process test API server, or a real API server named by
//! `OCP_BOOTIMAGE_TEST_KUBECONFIG`), fixture loading, and running the built
//! binary the way Ansible runs a module.

#![allow(dead_code)]

pub mod admission;
pub mod connect_proxy;
pub mod legacy_mcs;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};

use ocp_bootimage::plan::rollback::without_nulls;
use serde_json::Value;
use test_apiserver::TestApiServer;

/// Metadata a server sets (or a dump carries from one) that a create must not send.
pub const SERVER_SET_METADATA: &[&str] = &[
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "generation",
    "ownerReferences",
    "finalizers",
];

/// An RFC 3339 time `secs_ago` seconds ago, with microseconds (a Lease's MicroTime).
pub fn micro_time_ago(secs_ago: i64) -> String {
    let t = time::OffsetDateTime::now_utc() - time::Duration::seconds(secs_ago);
    format!(
        "{}.000000Z",
        t.replace_nanosecond(0)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
            .trim_end_matches('Z')
    )
}

/// The real API server's kubeconfig, when `OCP_BOOTIMAGE_TEST_KUBECONFIG` names one.
pub fn real_kubeconfig() -> Option<PathBuf> {
    std::env::var("OCP_BOOTIMAGE_TEST_KUBECONFIG")
        .ok()
        .filter(|k| !k.is_empty())
        .map(PathBuf::from)
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path under tests/fixtures.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

/// Every object in a YAML/JSON file (multi-document, `List`, Template unwrapped).
pub fn objects_in(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let docs = ocp_bootimage::kube::dump::parse_documents(&text, path).unwrap();
    let mut out = Vec::new();
    for d in docs {
        match d.get("kind").and_then(Value::as_str) {
            Some("List") => out.extend(d["items"].as_array().cloned().unwrap_or_default()),
            Some("Template") => out.extend(d["objects"].as_array().cloned().unwrap_or_default()),
            _ => out.push(d),
        }
    }
    out
}

/// Every object of a dump directory, in file order.
pub fn objects_under(dir: &Path) -> Vec<Value> {
    let dump = ocp_bootimage::kube::dump::load(dir).unwrap();
    dump.objects.into_iter().map(|o| o.object).collect()
}

/// The objects with every spec 2.x stub Ignition user-data secret migrated to 3.1.0 (as
/// `stub_ignition` would), for tests of the later steps: `machineset_bootimage` will
/// not give a MachineSet a new boot image while its stub is 2.x.
pub fn with_v3_stubs(objects: Vec<Value>) -> Vec<Value> {
    use base64::Engine;
    use ocp_bootimage::ignition::{convert_to_v3, decode_secret_user_data, Conversion};
    objects
        .into_iter()
        .map(|mut o| {
            if o["kind"] != "Secret" {
                return o;
            }
            let Ok(bytes) = decode_secret_user_data(&o) else {
                return o;
            };
            if let Ok(Conversion::Converted { bytes, .. }) =
                convert_to_v3(&bytes, Default::default())
            {
                o["data"]["userData"] = base64::engine::general_purpose::STANDARD
                    .encode(bytes)
                    .into();
            }
            o
        })
        .collect()
}

/// The ControlPlaneMachineSet `cluster` (the Insights fixture) with build01's AWS
/// provider spec (an outdated AMI) and the given update strategy.
pub fn cpms(strategy: &str) -> Value {
    let b01 = objects_in(&fixture(
        "machinesets/aws/openshift-release-build01-9hdwj-worker-us-east-1a.yaml",
    ))
    .remove(0);
    let mut c: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture(
            "machines/aws/insights-sample-controlplanemachineset-cluster.json",
        ))
        .unwrap(),
    )
    .unwrap();
    c["spec"]["strategy"]["type"] = serde_json::json!(strategy);
    c["spec"]["template"] = serde_json::json!({
        "machineType": "machines_v1beta1_machine_openshift_io",
        "machines_v1beta1_machine_openshift_io": {
            "metadata": {"labels": {"machine.openshift.io/cluster-api-machine-role": "master"}},
            "spec": b01["spec"]["template"]["spec"].clone()
        }
    });
    if let Some(m) = c["metadata"].as_object_mut() {
        for k in [
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
            "managedFields",
        ] {
            m.remove(k);
        }
    }
    c.as_object_mut().unwrap().remove("status");
    c
}

/// Real API servers are shared: tests that use one run one at a time.
fn real_lock() -> MutexGuard<'static, ()> {
    static LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    LOCK.get_or_init(|| Mutex::new(()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// The cluster a test talks to.
pub enum TestCluster {
    InProcess(TestApiServer),
    Real {
        kubeconfig: PathBuf,
        created: Vec<Value>,
        _guard: MutexGuard<'static, ()>,
    },
}

/// A kube client for the real server (tests only load and clean up through it).
fn real_client(kubeconfig: &Path) -> (tokio::runtime::Runtime, kube::Client) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = rt.block_on(async {
        let kc = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap();
        kube::Client::try_from(cfg).unwrap()
    });
    (rt, client)
}

fn dynamic_api(client: &kube::Client, obj: &Value) -> kube::Api<kube::api::DynamicObject> {
    let kind = ocp_bootimage::cluster::resources::by_kind(obj["kind"].as_str().unwrap())
        .unwrap_or_else(|| panic!("unknown kind in {obj}"));
    let ar = ocp_bootimage::kube::client::api_resource(kind);
    match obj["metadata"]["namespace"].as_str() {
        Some(ns) if kind.namespaced => kube::Api::namespaced_with(client.clone(), ns, &ar),
        _ if kind.namespaced => kube::Api::namespaced_with(client.clone(), "default", &ar),
        _ => kube::Api::all_with(client.clone(), &ar),
    }
}

/// Delete without a grace period: a pod bound to a node otherwise waits for a kubelet
/// to confirm, and a bare API server has none (other kinds ignore it).
fn delete_now() -> kube::api::DeleteParams {
    kube::api::DeleteParams::default().grace_period(0)
}

/// A pod is admitted only when its ServiceAccount exists, and a bare API server runs no
/// controller that creates one: create it (left in place; creating it again is a no-op;
/// an account left by an earlier run is used as it is).
fn ensure_service_account(rt: &tokio::runtime::Runtime, client: &kube::Client, pod: &Value) {
    use k8s_openapi::api::core::v1::ServiceAccount;
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let name = pod["spec"]["serviceAccountName"]
        .as_str()
        .unwrap_or("default");
    let api: kube::Api<ServiceAccount> = kube::Api::namespaced(client.clone(), ns);
    let sa: ServiceAccount =
        // No token controller runs either: pods of this account mount no token.
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}, "automountServiceAccountToken": false}))
            .unwrap();
    match rt.block_on(api.create(&kube::api::PostParams::default(), &sa)) {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => panic!("creating service account {ns}/{name}: {e}"),
    }
}

impl TestCluster {
    /// The real server when `OCP_BOOTIMAGE_TEST_KUBECONFIG` is set, else a fresh in-process one.
    pub fn start() -> TestCluster {
        match real_kubeconfig() {
            Some(kubeconfig) => {
                let guard = real_lock();
                ensure_record_namespace(&kubeconfig);
                TestCluster::Real {
                    kubeconfig,
                    created: Vec::new(),
                    _guard: guard,
                }
            }
            None => TestCluster::InProcess(TestApiServer::start().expect("start test API server")),
        }
    }

    pub fn is_real(&self) -> bool {
        matches!(self, TestCluster::Real { .. })
    }

    pub fn kubeconfig(&self) -> PathBuf {
        match self {
            TestCluster::InProcess(s) => s.kubeconfig_path().to_path_buf(),
            TestCluster::Real { kubeconfig, .. } => kubeconfig.clone(),
        }
    }

    /// Loads objects (status included: written through the status subresource on a real server).
    pub fn load(&mut self, objects: &[Value]) {
        match self {
            TestCluster::InProcess(s) => {
                for o in objects {
                    s.insert(o.clone()).unwrap();
                }
            }
            TestCluster::Real {
                kubeconfig,
                created,
                ..
            } => {
                let (rt, client) = real_client(kubeconfig);
                for o in objects {
                    let mut o = o.clone();
                    if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
                        for k in SERVER_SET_METADATA {
                            m.remove(*k);
                        }
                    }
                    let api = dynamic_api(&client, &o);
                    let name = o["metadata"]["name"].as_str().unwrap().to_string();
                    let dynamic: kube::api::DynamicObject =
                        serde_json::from_value(o.clone()).unwrap();
                    let pp = kube::api::PostParams::default();
                    if o["kind"] == "Pod" {
                        ensure_service_account(&rt, &client, &o);
                    }
                    let stored = match rt.block_on(api.create(&pp, &dynamic)) {
                        // An object with `generateName` that exists already is answered
                        // ServerTimeout ("try again"), not 409.
                        Err(kube::Error::Api(e))
                            if e.code == 409 || e.reason == "ServerTimeout" =>
                        {
                            // Left over from an interrupted run: replace it (no controller
                            // runs there to honour finalizers, so drop them).
                            let unfinalize = kube::api::Patch::Merge(
                                serde_json::json!({"metadata": {"finalizers": null}}),
                            );
                            let _ = rt.block_on(api.patch(&name, &Default::default(), &unfinalize));
                            let _ = rt.block_on(api.delete(&name, &delete_now()));
                            for _ in 0..50 {
                                if rt.block_on(api.get_opt(&name)).ok().flatten().is_none() {
                                    break;
                                }
                                std::thread::sleep(std::time::Duration::from_millis(100));
                            }
                            rt.block_on(api.create(&pp, &dynamic))
                        }
                        other => other,
                    }
                    .unwrap_or_else(|e| panic!("creating {name}: {e}"));
                    created.push(o.clone());
                    if let Some(status) = o.get("status") {
                        // PUT the whole status (a merge patch would delete keys whose value is null).
                        let mut with_status = serde_json::to_value(&stored).unwrap();
                        with_status["status"] = status.clone();
                        let body: kube::api::DynamicObject =
                            serde_json::from_value(with_status).unwrap();
                        match rt.block_on(api.replace_status(&name, &pp, &body)) {
                            Ok(_) => {}
                            // Kinds without a status subresource kept it on create.
                            Err(kube::Error::Api(e)) if e.code == 404 => {}
                            Err(e) => panic!("writing the status of {name}: {e}"),
                        }
                    }
                }
            }
        }
    }

    /// Requests seen by the in-process server since the last `clear_requests` (None on a real server).
    pub fn requests(&self) -> Option<Vec<test_apiserver::RequestRecord>> {
        match self {
            TestCluster::InProcess(s) => Some(s.requests()),
            TestCluster::Real { .. } => None,
        }
    }

    pub fn clear_requests(&self) {
        if let TestCluster::InProcess(s) = self {
            s.clear_requests();
        }
    }

    pub fn server(&self) -> Option<&TestApiServer> {
        match self {
            TestCluster::InProcess(s) => Some(s),
            TestCluster::Real { .. } => None,
        }
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if let TestCluster::Real {
            kubeconfig,
            created,
            ..
        } = self
        {
            let (rt, client) = real_client(kubeconfig);
            // What the modules created: the default rollback record of earlier releases.
            let record = serde_json::json!({"kind": "Secret", "metadata": {"namespace": "openshift-machine-api", "name": "ocp-bootimage-rollback"}});
            for o in created.iter().rev().chain(std::iter::once(&record)) {
                let api = dynamic_api(&client, o);
                let name = o["metadata"]["name"].as_str().unwrap();
                let _ = rt.block_on(api.delete(name, &delete_now()));
            }
            // The run records and the run lock.
            let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
                kube::Api::namespaced(client.clone(), RECORD_NS);
            let lp = kube::api::ListParams::default()
                .labels("app.kubernetes.io/managed-by=ocp-bootimage");
            let _ = rt.block_on(secrets.delete_collection(&delete_now(), &lp));
            let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
                kube::Api::namespaced(client.clone(), RECORD_NS);
            let _ = rt.block_on(leases.delete_collection(&delete_now(), &Default::default()));
        }
    }
}

/// The namespace of the rollback records (the default `record_namespace`).
pub const RECORD_NS: &str = "ocp-bootimage";

/// A real API server has only the namespaces someone created: create the record
/// namespace as the shipped manifests do (left in place).
fn ensure_record_namespace(kubeconfig: &Path) {
    use k8s_openapi::api::core::v1::Namespace;
    let (rt, client) = real_client(kubeconfig);
    let api: kube::Api<Namespace> = kube::Api::all(client);
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": RECORD_NS}})).unwrap();
    match rt.block_on(api.create(&kube::api::PostParams::default(), &ns)) {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => panic!("creating namespace {RECORD_NS}: {e}"),
    }
}

/// The payload of one record part Secret (`run.json.gz`, base64 in the Secret), decoded.
pub fn decode_part(secret: &Value) -> Value {
    use base64::Engine;
    use std::io::Read;
    let b64 = secret["data"]["run.json.gz"].as_str().expect("run.json.gz");
    let gz = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut json)
        .unwrap();
    serde_json::from_slice(&json).unwrap()
}

/// The entries of every run in a record file (`record_path`), oldest run first.
pub fn file_record_entries(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let record: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(record["format"], "ocp-bootimage.record-file/v2");
    record["runs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["entries"].as_array().unwrap().clone())
        .collect()
}

impl TestCluster {
    /// The record Secrets in the record namespace (every part of every run).
    pub fn record_secrets(&self) -> Vec<Value> {
        let all = match self {
            TestCluster::InProcess(s) => s.list("v1", "Secret", Some(RECORD_NS)),
            TestCluster::Real { kubeconfig, .. } => {
                let (rt, client) = real_client(kubeconfig);
                let api: kube::Api<k8s_openapi::api::core::v1::Secret> =
                    kube::Api::namespaced(client, RECORD_NS);
                rt.block_on(api.list(&Default::default()))
                    .unwrap()
                    .items
                    .into_iter()
                    .map(|s| serde_json::to_value(s).unwrap())
                    .collect()
            }
        };
        all.into_iter()
            .filter(|s| s["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "ocp-bootimage")
            .collect()
    }

    /// The runs recorded in Secrets: (run id, part-1 annotations, every entry), by run id.
    pub fn record_runs(&self) -> Vec<(String, Value, Vec<Value>)> {
        type Parts = Vec<(u64, Vec<Value>)>;
        let mut runs: std::collections::BTreeMap<String, (Value, Parts)> = Default::default();
        for s in self.record_secrets() {
            let ann = &s["metadata"]["annotations"];
            let id = ann["ocp-bootimage.io/run-id"].as_str().unwrap().to_string();
            let part: u64 = ann["ocp-bootimage.io/part"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            let payload = decode_part(&s);
            assert_eq!(payload["format"], "ocp-bootimage.run/v2");
            let e = runs.entry(id).or_default();
            if part == 1 {
                e.0 = ann.clone();
            }
            e.1.push((part, payload["entries"].as_array().unwrap().clone()));
        }
        runs.into_iter()
            .map(|(id, (ann, mut parts))| {
                parts.sort_by_key(|p| p.0);
                (id, ann, parts.into_iter().flat_map(|p| p.1).collect())
            })
            .collect()
    }

    /// The entries the run `run_id` recorded in Secrets.
    pub fn run_entries(&self, run_id: &str) -> Vec<Value> {
        self.record_runs()
            .into_iter()
            .find(|r| r.0 == run_id)
            .map(|r| r.2)
            .unwrap_or_default()
    }
}

/// A runtime and the tool's own connection to the test cluster (for tests of library
/// parts: the run lock, the record store).
#[allow(dead_code)]
pub fn connect(
    c: &TestCluster,
) -> (
    tokio::runtime::Runtime,
    ocp_bootimage::kube::connection::Connection,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let params = ocp_bootimage::options::ConnectionParams {
        kubeconfig: Some(c.kubeconfig().into()),
        ..Default::default()
    };
    let conn = rt.block_on(params.connect()).unwrap();
    (rt, conn)
}

/// The built binary.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ocp-bootimage"))
}

/// The result of running the binary as a module.
pub struct ModuleRun {
    pub json: Value,
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

/// Runs the binary exactly as Ansible runs a binary module: copied under
/// `AnsiballZ_<module>` and called with one argument, the path of a JSON args file.
pub fn run_module(module: &str, args: &Value) -> ModuleRun {
    run_module_env(module, args, &[])
}

/// Same, with extra environment variables.
pub fn run_module_env(module: &str, args: &Value, env: &[(&str, &str)]) -> ModuleRun {
    let (mut cmd, _dir) = module_command(module, args, env);
    let out = cmd.output().unwrap();
    module_run(
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
        out.status,
    )
}

/// The command that runs the binary as Ansible runs a binary module (`AnsiballZ_<module>
/// <args-file>`, no kube environment, HOME in the temporary directory that holds both).
fn module_command(
    module: &str,
    args: &Value,
    env: &[(&str, &str)],
) -> (Command, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join(format!("AnsiballZ_{module}"));
    std::os::unix::fs::symlink(binary(), &exe).unwrap();
    let args_file = dir.path().join("args");
    std::fs::write(&args_file, serde_json::to_string(args).unwrap()).unwrap();
    let mut cmd = Command::new(&exe);
    cmd.arg(&args_file).stdin(std::process::Stdio::null());
    for k in [
        "KUBECONFIG",
        "K8S_AUTH_KUBECONFIG",
        "K8S_AUTH_HOST",
        "K8S_AUTH_API_KEY",
        "K8S_AUTH_CONTEXT",
        "K8S_AUTH_VERIFY_SSL",
        "K8S_AUTH_SSL_CA_CERT",
        "K8S_AUTH_USERNAME",
        "K8S_AUTH_PASSWORD",
        "K8S_AUTH_PROXY",
        "K8S_AUTH_NO_PROXY",
        "K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH",
        "K8S_AUTH_PROXY_HEADERS_BASIC_AUTH",
        "K8S_AUTH_PROXY_HEADERS_USER_AGENT",
        "K8S_AUTH_PERSIST_CONFIG",
        "OCP_BOOTIMAGE_QUORUM_READ",
        "HTTPS_PROXY",
        "https_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        cmd.env_remove(k);
    }
    cmd.env("HOME", dir.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    (cmd, dir)
}

fn module_run(stdout: String, stderr: String, status: std::process::ExitStatus) -> ModuleRun {
    let json: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("stdout is not one JSON object ({e}): {stdout}\nstderr: {stderr}")
    });
    ModuleRun {
        json,
        stdout,
        stderr,
        code: status.code().unwrap_or(-1),
    }
}

/// A module run started in the background (to be waited for, or killed): stdout and
/// stderr go to files, so a large result never blocks it on a pipe.
pub struct SpawnedModule {
    pub child: std::process::Child,
    pub started: std::time::Instant,
    dir: tempfile::TempDir,
}

/// Starts the binary as a module, as [`run_module_env`] runs it, without waiting.
pub fn spawn_module(module: &str, args: &Value, env: &[(&str, &str)]) -> SpawnedModule {
    let (mut cmd, dir) = module_command(module, args, env);
    let stdout = std::fs::File::create(dir.path().join("stdout")).unwrap();
    let stderr = std::fs::File::create(dir.path().join("stderr")).unwrap();
    cmd.stdout(stdout).stderr(stderr);
    let child = cmd.spawn().unwrap();
    SpawnedModule {
        child,
        started: std::time::Instant::now(),
        dir,
    }
}

impl SpawnedModule {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has exited.
    pub fn exited(&mut self) -> bool {
        self.child.try_wait().unwrap().is_some()
    }

    /// Waits for it and returns its result (one JSON object on stdout).
    pub fn finish(mut self) -> ModuleRun {
        let status = self.child.wait().unwrap();
        let read = |f: &str| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
        module_run(read("stdout"), read("stderr"), status)
    }

    /// Kills it with SIGKILL (no chance to clean up) and reaps it. False: it had
    /// exited already.
    pub fn kill(mut self) -> bool {
        let alive = self.child.try_wait().unwrap().is_none();
        let _ = self.child.kill();
        let _ = self.child.wait();
        alive
    }
}

/// A MachineSet report by name.
pub fn machineset<'a>(result: &'a Value, name: &str) -> &'a Value {
    result["machinesets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no MachineSet {name} in {}", result["machinesets"]))
}

impl TestCluster {
    /// Reads one object back (in-process store or the real server).
    /// Deletes an object if it exists (objects a module created that a test leaves behind
    /// on a real server, which is shared by the tests run one after the other).
    pub fn delete(&self, kind: &str, namespace: Option<&str>, name: &str) {
        let k = ocp_bootimage::cluster::resources::by_kind(kind).unwrap();
        match self {
            // A fresh server per test: nothing is left behind.
            TestCluster::InProcess(_) => {}
            TestCluster::Real { kubeconfig, .. } => {
                let _ = k;
                let (rt, client) = real_client(kubeconfig);
                let probe = serde_json::json!({"kind": kind, "metadata": {"namespace": namespace}});
                let api = dynamic_api(&client, &probe);
                let _ = rt.block_on(api.delete(name, &delete_now()));
            }
        }
    }

    pub fn get(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let k = ocp_bootimage::cluster::resources::by_kind(kind).unwrap();
        match self {
            TestCluster::InProcess(s) => s.get(&k.api_version(), kind, namespace, name),
            TestCluster::Real { kubeconfig, .. } => {
                let (rt, client) = real_client(kubeconfig);
                let probe = serde_json::json!({"kind": kind, "metadata": {"namespace": namespace}});
                let api = dynamic_api(&client, &probe);
                rt.block_on(api.get_opt(name))
                    .unwrap()
                    .map(|o| serde_json::to_value(o).unwrap())
            }
        }
    }

    /// Write requests seen by the in-process server (None on a real server), except
    /// those of the run lock (its Lease is taken and released by every real run, even one
    /// that changes nothing: bookkeeping, not a change of the cluster).
    pub fn writes(&self) -> Option<Vec<test_apiserver::RequestRecord>> {
        self.requests().map(|r| {
            r.into_iter()
                .filter(|q| q.is_write() && !q.path.contains("/leases"))
                .collect()
        })
    }
}

impl TestCluster {
    /// The objects as the server stores them (defaults applied), to compare later.
    pub fn read_back(&self, objects: &[Value]) -> Vec<Value> {
        objects
            .iter()
            .map(|o| {
                let kind = o["kind"].as_str().unwrap();
                self.get(
                    kind,
                    o["metadata"]["namespace"].as_str(),
                    o["metadata"]["name"].as_str().unwrap(),
                )
                .unwrap_or_else(|| panic!("{kind} was not loaded"))
            })
            .collect()
    }
}

/// An object without server-managed metadata (what "byte-for-byte the same" compares).
pub fn comparable(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "resourceVersion",
            "generation",
            "managedFields",
            "uid",
            "creationTimestamp",
            "selfLink",
        ] {
            m.remove(k);
        }
        if m.get("annotations")
            .is_some_and(|a| a.as_object().is_some_and(|o| o.is_empty()))
        {
            m.remove("annotations");
        }
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    v
}

/// Every fixture object of a dump, re-read from the cluster, must equal the original.
pub fn assert_cluster_equals(c: &TestCluster, originals: &[Value]) {
    for o in originals {
        let kind = o["kind"].as_str().unwrap();
        let name = o["metadata"]["name"].as_str().unwrap();
        let ns = o["metadata"]["namespace"].as_str();
        let live = c
            .get(kind, ns, name)
            .unwrap_or_else(|| panic!("{kind} {name} is gone"));
        // A null and an absent field are the same object: a real server drops the
        // nulls of a create or merge patch where the schema knows the field.
        let mut want = without_nulls(&comparable(o));
        let mut got = without_nulls(&comparable(&live));
        // Defaults the server fills in on create are not the tool's doing.
        for v in [&mut want, &mut got] {
            if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("ownerReferences");
            }
        }
        assert_eq!(got, want, "{kind} {name} differs from the start");
    }
}
