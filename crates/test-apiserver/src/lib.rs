//! An in-process, Kubernetes-API-compatible HTTP server for tests and benchmarks.
//!
//! [`TestApiServer::start`] serves a small set of kinds (core namespaces, secrets,
//! configmaps, pods, nodes; coordination leases; OpenShift machine API, autoscaling,
//! config and operator kinds) on `127.0.0.1` with the real API server's URL layout,
//! JSON shapes, `Status` errors, optimistic concurrency, merge/JSON patches, dry runs,
//! selectors and watches.
//! Tests can seed and inspect objects directly, read a log of requests, deny verbs
//! (403) and inject faults (error codes, delays, connection resets). As kube-apiserver
//! does, an answer larger than [`GZIP_THRESHOLD`] is gzip-compressed when the request
//! accepts it (`Accept-Encoding: gzip`); [`TestApiServer::bytes_sent`] counts the bytes
//! written to the wire.
//!
//! Opt-in simulations of cluster controllers react to client writes the way a cluster
//! would (their own writes are never logged as requests):
//!
//! - [`TestApiServer::simulate_machine_lifecycle`] answers MachineSet scaling with
//!   Machines, Nodes and machine-config-daemon pods;
//! - [`TestApiServer::simulate_mcs_daemonset`] replaces deleted machine-config-server
//!   pods (Pending, then Running and Ready), as their DaemonSet would;
//!   [`TestApiServer::add_mcs_pods`] seeds such pods;
//! - [`TestApiServer::revert_patches`] writes an object another controller owns back
//!   after each PATCH.
//!
//! ```no_run
//! use test_apiserver::TestApiServer;
//! let server = TestApiServer::start()?;
//! server.load_path(std::path::Path::new("tests/fixtures/machinesets"))?;
//! // point a kube client at server.url() or server.kubeconfig_path()
//! assert_eq!(server.write_count(), 0);
//! # Ok::<(), anyhow::Error>(())
//! ```

mod admission;
mod conn;
mod discovery;
mod faults;
mod kinds;
mod load;
mod machines;
mod mcs_pods;
mod patch;
mod router;
mod selector;
mod status;
mod store;
mod webhook;

use std::collections::HashMap;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

pub use admission::AdmissionRule;
pub use faults::{Fault, FaultAction};
pub use machines::MachineLifecycle;
pub use mcs_pods::McsDaemonSet;
pub use router::POD_LOG_ANNOTATION;
pub use webhook::AdmissionWebhook;

/// Answers larger than this are gzip-compressed for a client that accepts it
/// (kube-apiserver's `defaultGzipThresholdBytes`, 128 KiB).
pub const GZIP_THRESHOLD: usize = 128 * 1024;

/// The bearer token the written kubeconfig carries.
pub const TEST_TOKEN: &str = "test-token";

/// The user named in 403 messages unless [`TestApiServer::set_user`] says otherwise.
pub const DEFAULT_USER: &str = "system:serviceaccount:test:test-client";

/// One request the server saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method (`GET`, `PATCH`, ...).
    pub method: String,
    /// URL path.
    pub path: String,
    /// Raw query string, if non-empty.
    pub query: Option<String>,
    /// Status code answered; 0 while in flight or when the connection was reset.
    pub status: u16,
    /// `Content-Type` of the request, if any.
    pub content_type: Option<String>,
    /// Request body (lossy UTF-8), if non-empty.
    pub body: Option<String>,
    /// Whether the request was a dry run (`dryRun=All`).
    pub dry_run: bool,
    /// The `User-Agent` header, if any.
    pub user_agent: Option<String>,
    /// The scheme of the `Authorization` header (`Bearer`, `Basic`), never its value;
    /// for `Basic`, the user name is kept after a space (`Basic alice`).
    pub auth: Option<String>,
    /// The `Accept-Encoding` header, if any.
    pub accept_encoding: Option<String>,
    /// The answer's `Content-Encoding` (`gzip` when it was compressed), if any.
    pub content_encoding: Option<String>,
}

impl RequestRecord {
    /// A request that changes stored state: POST/PUT/PATCH/DELETE, except access reviews
    /// (a POST that only asks the authorizer a question and stores nothing) and dry runs
    /// (`dryRun=All`: judged, never stored).
    pub fn is_write(&self) -> bool {
        matches!(self.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE")
            && !self.path.ends_with("accessreviews")
            && !self.dry_run
    }
}

/// (namespace, pod, container) of a registered pod log.
pub(crate) type PodLogKey = (String, String, Option<String>);

/// State shared between the handle and the server thread.
pub(crate) struct Shared {
    pub store: Mutex<store::Store>,
    pub log: Mutex<Vec<RequestRecord>>,
    pub faults: Mutex<Vec<faults::Pending>>,
    /// (verb, resource) pairs answered with 403; `*` matches anything.
    pub denies: Mutex<Vec<(String, String)>>,
    pub user: Mutex<String>,
    /// Pod logs by (namespace, pod, container).
    pub pod_logs: Mutex<HashMap<PodLogKey, String>>,
    /// The machine lifecycle simulation, while enabled.
    pub lifecycle: Mutex<Option<Arc<MachineLifecycle>>>,
    /// The machine-config-server DaemonSet simulation, while enabled.
    pub mcs: Mutex<Option<Arc<McsDaemonSet>>>,
    /// Objects (kind, name) another controller owns: every PATCH of one is written back
    /// ([`TestApiServer::revert_patches`]).
    pub reverting: Mutex<Vec<(String, String)>>,
    /// Validating admission rules ([`TestApiServer::admission_rule`]).
    pub admission: Mutex<Vec<AdmissionRule>>,
    /// Bytes written to connections ([`TestApiServer::bytes_sent`]).
    pub bytes_sent: Arc<std::sync::atomic::AtomicU64>,
}

/// Locks a mutex, ignoring poisoning (a panicking test thread must not wedge the server).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running test API server. Stops when dropped.
pub struct TestApiServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for TestApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApiServer")
            .field("url", &self.url())
            .finish()
    }
}

impl TestApiServer {
    /// Starts on 127.0.0.1 on a free port, in a background thread with its own tokio
    /// runtime (so it works from sync tests and from `#[tokio::test]` alike); returns
    /// once listening.
    pub fn start() -> anyhow::Result<TestApiServer> {
        TestApiServer::start_on(0)
    }

    /// Like [`TestApiServer::start`] on a given port (0 = any free port).
    pub fn start_on(port: u16) -> anyhow::Result<TestApiServer> {
        let shared = Arc::new(Shared {
            store: Mutex::new(store::Store::new()),
            log: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            denies: Mutex::new(Vec::new()),
            user: Mutex::new(DEFAULT_USER.to_string()),
            pod_logs: Mutex::new(HashMap::new()),
            lifecycle: Mutex::new(None),
            mcs: Mutex::new(None),
            reverting: Mutex::new(Vec::new()),
            admission: Mutex::new(Vec::new()),
            bytes_sent: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        });
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", port))
            .with_context(|| format!("binding 127.0.0.1:{port}"))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<anyhow::Result<()>>();
        let app = router::app(shared.clone());
        let bytes_sent = shared.bytes_sent.clone();
        let thread = std::thread::Builder::new()
            .name(format!("test-apiserver-{}", addr.port()))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(std_listener) {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.into()));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    let serve = axum::serve(
                        conn::KillableListener(listener, bytes_sent),
                        app.into_make_service_with_connect_info::<conn::ConnInfo>(),
                    )
                    .into_future();
                    tokio::select! {
                        _ = serve => {}
                        _ = shutdown_rx => {}
                    }
                });
                rt.shutdown_timeout(Duration::from_millis(200));
            })?;
        ready_rx
            .recv()
            .context("test API server thread exited before listening")??;
        let dir = tempfile::tempdir()?;
        let kubeconfig = dir.path().join("kubeconfig");
        let server = TestApiServer {
            shared,
            addr,
            kubeconfig,
            _dir: dir,
            shutdown: Some(shutdown),
            thread: Some(thread),
        };
        std::fs::write(&server.kubeconfig, server.kubeconfig_yaml())?;
        Ok(server)
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A kubeconfig file (cluster server = [`TestApiServer::url`], user token
    /// [`TEST_TOKEN`], context `test`) that lives as long as the server.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The kubeconfig's text.
    pub fn kubeconfig_yaml(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\n\
             users:\n- name: test\n  user:\n    token: {TEST_TOKEN}\n\
             contexts:\n- name: test\n  context:\n    cluster: test\n    user: test\n\
             current-context: test\npreferences: {{}}\n",
            self.url()
        )
    }

    /// Stores a full object (or every item of a `kind: List`), replacing any object of
    /// the same name, and fills in uid, resourceVersion, creationTimestamp and generation
    /// when missing. A known group with another version maps onto the served version.
    /// Unknown kinds and objects without a name are errors; a namespaced object without
    /// a namespace goes to `default`.
    pub fn insert(&self, obj: Value) -> anyhow::Result<()> {
        lock(&self.shared.store).insert(obj)
    }

    /// Loads every `.yaml`/`.yml`/`.json` file under `path` (a file or a directory,
    /// recursively; multi-document YAML and `List`s allowed). Documents without
    /// `apiVersion`/`kind` or of unknown kinds are skipped. Returns how many objects were
    /// loaded; an unreadable or unparsable file is an error.
    ///
    /// `.log` files under a directory become pod logs ([`TestApiServer::set_pod_log`]):
    /// `…/pods/<namespace>/<pod>/<container>.log`, `…/pods/<namespace>/<pod>.log`,
    /// `<pod>.log` next to the pod objects (the namespace of the loaded pod of that name),
    /// and must-gather's `…/namespaces/<ns>/pods/<pod>/<c>/<c>/logs/current.log`. Logs of
    /// pods that were not loaded are ignored.
    pub fn load_path(&self, path: &Path) -> anyhow::Result<usize> {
        let count = load::load_path(&mut lock(&self.shared.store), path)?;
        let pods = self.list("v1", "Pod", None);
        for (namespace, pod, container, file) in load::log_files(path)? {
            let Some(namespace) = pods
                .iter()
                .filter(|p| p.pointer("/metadata/name").and_then(Value::as_str) == Some(&pod))
                .filter_map(|p| p.pointer("/metadata/namespace").and_then(Value::as_str))
                .find(|ns| namespace.as_deref().is_none_or(|want| want == *ns))
                .map(str::to_string)
            else {
                continue;
            };
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            self.set_pod_log(&namespace, &pod, container.as_deref(), &text);
        }
        Ok(count)
    }

    /// One stored object, by apiVersion (group matched, version ignored), kind,
    /// namespace (ignored for cluster-scoped kinds) and name.
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let k = kinds::by_api_version_kind(api_version, kind)?;
        let ns = if k.namespaced {
            namespace.unwrap_or("default")
        } else {
            ""
        };
        lock(&self.shared.store).get(k, ns, name).cloned()
    }

    /// Stored objects of a kind, in one namespace or all (`None`), sorted by namespace
    /// and name.
    pub fn list(&self, api_version: &str, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        let Some(k) = kinds::by_api_version_kind(api_version, kind) else {
            return Vec::new();
        };
        let ns = if k.namespaced { namespace } else { None };
        lock(&self.shared.store).list(k, ns)
    }

    /// The current (latest) resourceVersion.
    pub fn resource_version(&self) -> u64 {
        lock(&self.shared.store).current_rv()
    }

    /// How many requests were seen (as `requests().len()`, without copying the log: cheap
    /// enough to poll while a client runs).
    pub fn request_count(&self) -> usize {
        lock(&self.shared.log).len()
    }

    /// How many bytes the server has written to its connections (headers, bodies, TLS
    /// records: what went over the wire from server to client) since it started.
    pub fn bytes_sent(&self) -> u64 {
        self.shared
            .bytes_sent
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Every request seen, in arrival order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.log).clone()
    }

    /// Forgets the request log. This is also the reset point that
    /// [`TestApiServer::inject_at`] counts requests from.
    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    /// How many logged requests were attempted writes (POST/PUT/PATCH/DELETE that were
    /// not dry runs), whatever their outcome.
    pub fn write_count(&self) -> usize {
        lock(&self.shared.log)
            .iter()
            .filter(|r| r.is_write())
            .count()
    }

    /// Queues a fault: the next `fault.times` matching requests get it. Faults are tried
    /// in the order they were injected. A [`FaultAction::Delay`] longer than the client's
    /// timeout is a slow response (whether the request is applied after the client gave
    /// up depends on when the server notices the closed connection, as with a real API
    /// server).
    pub fn inject(&self, fault: Fault) {
        lock(&self.shared.faults).push(faults::Pending {
            fault,
            at_request: None,
        });
    }

    /// Queues a fault for the `k`-th request (1-based) since the last
    /// [`TestApiServer::clear_requests`] (the reset point), if that request also matches
    /// the fault's method and path: `server.inject_at(k, Fault::reset())` fails whatever
    /// the k-th request is. The fault is dropped by [`TestApiServer::clear_faults`].
    pub fn inject_at(&self, k: usize, fault: Fault) {
        lock(&self.shared.faults).push(faults::Pending {
            fault,
            at_request: Some(k),
        });
    }

    /// Drops every pending fault.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Answers `verb` (get, list, watch, create, update, patch, delete,
    /// deletecollection; `*` for all) on `resource` with 403 Forbidden from now on.
    /// Like RBAC, `resource` names a plural (`machinesets`) or one subresource
    /// (`machinesets/status`, `pods/log`) exactly; `*` matches all.
    pub fn deny(&self, verb: &str, resource: &str) {
        lock(&self.shared.denies).push((verb.to_string(), resource.to_string()));
    }

    /// Judges every later create, update and patch (dry runs too) with `rule`, as a
    /// validating admission webhook would: a denied write is answered with 400
    /// `admission webhook "…" denied the request: …` and stores nothing.
    pub fn admission_rule(&self, rule: AdmissionRule) {
        lock(&self.shared.admission).push(rule);
    }

    /// Removes every admission rule.
    pub fn clear_admission_rules(&self) {
        lock(&self.shared.admission).clear();
    }

    /// Lifts every [`TestApiServer::deny`].
    pub fn clear_denies(&self) {
        lock(&self.shared.denies).clear();
    }

    /// The user named in 403 messages (default [`DEFAULT_USER`]).
    pub fn set_user(&self, user: &str) {
        *lock(&self.shared.user) = user.to_string();
    }

    /// Registers the text `GET .../pods/{pod}/log` returns (for one container, or for
    /// any when `container` is `None`). Without one, the pod's
    /// [`POD_LOG_ANNOTATION`] annotation is used, else an empty log.
    pub fn set_pod_log(&self, namespace: &str, pod: &str, container: Option<&str>, text: &str) {
        lock(&self.shared.pod_logs).insert(
            (
                namespace.to_string(),
                pod.to_string(),
                container.map(str::to_string),
            ),
            text.to_string(),
        );
    }

    /// Enables (or reconfigures) the simulated machine lifecycle: a tiny machine-api
    /// controller, kubelet and machine-config-daemon reacting to client writes.
    ///
    /// After each successful client write (POST, PUT, PATCH, not a dry run) to a
    /// MachineSet whose `spec.replicas` is set:
    ///
    /// - fewer Machines labelled `machine.openshift.io/cluster-api-machineset=<name>`
    ///   (in its namespace, not being deleted) than replicas: the missing Machines are
    ///   created, `<machineset>-<5 random>`, with the template's labels (plus the
    ///   machineset label), annotations and `spec`, an owner reference to the
    ///   MachineSet, `status.phase: Provisioning`, and a creationTimestamp (RFC 3339)
    ///   strictly later than its other Machines'. With [`MachineLifecycle::nodes`],
    ///   [`MachineLifecycle::node_delay`] later the Node `<machine>` appears (labels
    ///   `kubernetes.io/hostname`, `kubernetes.io/os`, `kubernetes.io/arch` from the
    ///   MachineSet's `capacity.cluster-autoscaler.kubernetes.io/labels` else `amd64`,
    ///   `node-role.kubernetes.io/worker`, the Machine's `spec.metadata.labels`;
    ///   annotation `machine.openshift.io/machine`; Ready=False), the Machine gets
    ///   `status.nodeRef` and phase `Running`, and a Running pod
    ///   `machine-config-daemon-<5 random>` (`openshift-machine-config-operator`,
    ///   `k8s-app=machine-config-daemon`) starts there, its `machine-config-daemon` log
    ///   without the aleph line. From the Node's creation, [`MachineLifecycle::ready_delay`]
    ///   later the Node is Ready and [`MachineLifecycle::log_delay`] later the log starts
    ///   with the `CoreOS aleph version` line (multi-line JSON form) naming
    ///   [`MachineLifecycle::build`].
    /// - more Machines than replicas: the surplus is deleted at once (Machines annotated
    ///   `machine.openshift.io/delete-machine` first, then the newest), with each one's
    ///   Node and MCD pods.
    ///
    /// A Machine a client deletes loses its Node and MCD pods too (it is not replaced).
    /// Simulated writes go through the store (resourceVersions, watch events) but are
    /// not requests: [`TestApiServer::requests`] and [`TestApiServer::write_count`]
    /// never count them. Delayed steps act only if their Machine, Node or pod still
    /// exists (same uid) and the simulation is enabled when they fire; they keep the
    /// configuration they were scheduled with.
    pub fn simulate_machine_lifecycle(&self, cfg: MachineLifecycle) {
        *lock(&self.shared.lifecycle) = Some(Arc::new(cfg));
    }

    /// Simulates another controller that owns the object `kind`/`name` (any namespace)
    /// and writes its own value back at once: right after each (not dry-run) PATCH of it
    /// is answered with what was stored, the object as it was before the PATCH is stored
    /// again (a new resourceVersion and watch event; not a request, as the simulated
    /// machine lifecycle's writes are not).
    pub fn revert_patches(&self, kind: &str, name: &str) {
        lock(&self.shared.reverting).push((kind.to_string(), name.to_string()));
    }

    /// Disables the simulated machine lifecycle; pending delayed steps do nothing.
    pub fn stop_machine_lifecycle(&self) {
        *lock(&self.shared.lifecycle) = None;
    }

    /// Enables (or reconfigures) the simulated machine-config-server (MCS) DaemonSet,
    /// which replaces the MCS pods clients delete.
    ///
    /// After each client write (not a dry run) that removes a pod labelled
    /// `k8s-app=machine-config-server` in `openshift-machine-config-operator` — a DELETE,
    /// a deletecollection, or the write that clears the last finalizer of a pod being
    /// deleted — a replacement is stored at once: `machine-config-server-<5 random>`
    /// (a name not in use), with the deleted pod's labels, `metadata.ownerReferences` and
    /// `spec` (so the same `spec.nodeName`), `status.phase: Pending` and condition
    /// `Ready=False`. [`McsDaemonSet::ready_delay`] later it is `Running` with conditions
    /// `Ready=True` and `ContainersReady=True` and a ready container status (named after
    /// its first container, `machine-config-server` for pods of
    /// [`TestApiServer::add_mcs_pods`]). Other pods are left alone.
    ///
    /// As with [`TestApiServer::simulate_machine_lifecycle`], simulated writes go through
    /// the store (resourceVersions, watch events) but are not requests:
    /// [`TestApiServer::requests`] and [`TestApiServer::write_count`] never count them.
    /// The delayed step acts only if its pod still exists (same uid), is not being
    /// deleted, and the simulation is enabled when it fires.
    pub fn simulate_mcs_daemonset(&self, cfg: McsDaemonSet) {
        *lock(&self.shared.mcs) = Some(Arc::new(cfg));
    }

    /// Disables the simulated MCS DaemonSet; pending delayed steps do nothing.
    pub fn stop_mcs_daemonset(&self) {
        *lock(&self.shared.mcs) = None;
    }

    /// Stores `n` Running, Ready machine-config-server pods, as the MCS DaemonSet runs
    /// them on control-plane nodes: `machine-config-server-<5 random>` in
    /// `openshift-machine-config-operator`, label `k8s-app=machine-config-server`, owner
    /// DaemonSet `machine-config-server` (not itself stored), `spec.nodeName`
    /// `master-0`, `master-1`, … (Nodes are not created), one container
    /// `machine-config-server`. Returns their names in that node order. Not a request.
    pub fn add_mcs_pods(&self, n: usize) -> anyhow::Result<Vec<String>> {
        mcs_pods::seed_pods(&mut lock(&self.shared.store), n)
    }

    /// Stops the server (also done on drop).
    pub fn stop(self) {}

    /// Blocks until the server thread ends (it only ends when stopped: for binaries that
    /// serve in the foreground).
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TestApiServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
