//! Issue 13's "Done when", end to end: the audit and `update.yml` on a 4.22-shaped and a
//! 5.0-shaped cluster (`tests/fixtures/shaped/`, composed from real public fixtures by
//! `tests/fixtures/shaped/make-shaped-clusters.py`; what comes from where is in their
//! README.md files). Real `ansible-playbook` from the project's venvs
//! (`OCP_BOOTIMAGE_ANSIBLE_VENVS`, as `tests/ansible_e2e.rs`: without it the playbook
//! tests print SKIP and pass), the collection built and installed, against the
//! in-process test API server — or unchanged against a real kube-apiserver when
//! `OCP_BOOTIMAGE_TEST_KUBECONFIG` is set (then what is compared is what that server
//! stored). The CLI `audit --from-dir` runs on both dumps without a cluster.
//!
//! The harness below (installing the collection, running ansible in a clean environment,
//! searching every output for the fixture secrets) is the one of `tests/ansible_e2e.rs`,
//! copied.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use common::{assert_cluster_equals, objects_under, root, run_module, TestCluster};
use serde_json::{json, Value};

const VENVS_ENV: &str = "OCP_BOOTIMAGE_ANSIBLE_VENVS";
/// One ansible run may take this long before the test gives up on it.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

// ------------------------------------------------------------------ setup

/// The tests of this file run one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    LOCK.get_or_init(|| Mutex::new(()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// One ansible-core installation with the collection installed.
struct Ansible {
    venv: PathBuf,
    /// ansible-core's version (`2.16.19`).
    version: String,
    /// `ANSIBLE_COLLECTIONS_PATH` holding `ansible_collections/ocp/bootimage`.
    collections: PathBuf,
}

/// The installations to test with, or None (after a SKIP line) when the variable is unset.
fn ansibles(test: &str) -> Option<Vec<Arc<Ansible>>> {
    let venvs = std::env::var(VENVS_ENV).unwrap_or_default();
    let venvs: Vec<PathBuf> = venvs
        .split(':')
        .filter(|s| !s.trim().is_empty())
        .map(PathBuf::from)
        .collect();
    if venvs.is_empty() {
        eprintln!(
            "SKIP shaped_clusters::{test}: {VENVS_ENV} is not set (./scripts/test.sh sets it; or run \
             scripts/setup-ansible.sh and export {VENVS_ENV}=\"$(scripts/setup-ansible.sh --print-venvs)\")"
        );
        return None;
    }
    static INSTALLED: OnceLock<Mutex<HashMap<PathBuf, Arc<Ansible>>>> = OnceLock::new();
    let mut cache = INSTALLED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    Some(
        venvs
            .into_iter()
            .map(|v| {
                cache
                    .entry(v.clone())
                    .or_insert_with(|| Arc::new(install(&v)))
                    .clone()
            })
            .collect(),
    )
}

/// This process's scratch directory under target/tmp (stale ones of dead processes removed).
fn work_base() -> PathBuf {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let parent = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&parent).unwrap();
        for e in std::fs::read_dir(&parent).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(pid) = name.strip_prefix("shaped-clusters-") {
                if !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let base = parent.join(format!("shaped-clusters-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        base
    })
    .clone()
}

/// The debug binary, stripped of its debug info when `strip` exists (Ansible copies the
/// module file for every task: 29 MB instead of 174 MB; the code is the same).
fn module_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dest = work_base().join("ocp-bootimage");
        std::fs::copy(common::binary(), &dest).unwrap();
        match Command::new("strip").arg(&dest).status() {
            Ok(s) if s.success() => {}
            _ => eprintln!(
                "shaped_clusters: `strip` failed or is missing: using the unstripped debug binary"
            ),
        }
        dest
    })
    .clone()
}

/// Runs a command to completion (with a timeout), returning (exit code, stdout, stderr, seconds).
fn run_command(mut cmd: Command) -> (i32, String, String, f64) {
    let what = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out_pipe.read_to_end(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err_pipe.read_to_end(&mut s);
        s
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish in {RUN_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let secs = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out_t.join().unwrap()).to_string();
    let stderr = String::from_utf8_lossy(&err_t.join().unwrap()).to_string();
    (status.code().unwrap_or(-1), stdout, stderr, secs)
}

/// A command of the venv with a clean environment: nothing of the developer's (HOME,
/// KUBECONFIG, K8S_AUTH_*, ANSIBLE_*, ansible.cfg) can leak in.
fn venv_command(venv: &Path, tool: &str, scratch: &Path, collections: &Path) -> Command {
    let mut cmd = Command::new(venv.join("bin").join(tool));
    clean_env(&mut cmd, venv, scratch, collections);
    cmd
}

/// Replaces a command's environment with the one every ansible run here gets.
fn clean_env(cmd: &mut Command, venv: &Path, scratch: &Path, collections: &Path) {
    let home = scratch.join("home");
    let local_tmp = scratch.join("ansible-local");
    let remote_tmp = scratch.join("ansible-remote");
    for d in [&home, &local_tmp, &remote_tmp] {
        std::fs::create_dir_all(d).unwrap();
    }
    let cfg = scratch.join("ansible.cfg");
    if !cfg.exists() {
        std::fs::write(&cfg, "# empty: ansible-core's defaults\n").unwrap();
    }
    cmd.env_clear()
        .current_dir(scratch)
        .env(
            "PATH",
            format!(
                "{}:{}",
                venv.join("bin").display(),
                std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into())
            ),
        )
        .env("HOME", &home)
        .env("TMPDIR", scratch)
        .env("LANG", "C.UTF-8")
        .env("LC_ALL", "C.UTF-8")
        .env("ANSIBLE_CONFIG", &cfg)
        .env("ANSIBLE_COLLECTIONS_PATH", collections)
        .env("ANSIBLE_COLLECTIONS_SCAN_SYS_PATH", "False")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_FORCE_COLOR", "0")
        .env("ANSIBLE_LOCALHOST_WARNING", "False")
        .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "False")
        .env("ANSIBLE_PYTHON_INTERPRETER", "auto_silent")
        .env("ANSIBLE_LOCAL_TEMP", &local_tmp)
        .env("ANSIBLE_REMOTE_TEMP", &remote_tmp);
}

/// Builds the collection tarball with `scripts/build-collection.sh` (the debug binary, this
/// venv's ansible-galaxy) and returns its path.
fn build_collection(venv: &Path, dir: &Path) -> PathBuf {
    let script = root().join("scripts/build-collection.sh");
    assert!(script.is_file(), "{} is missing", script.display());
    let mut cmd = Command::new("bash");
    cmd.arg(&script)
        .arg("--out")
        .arg(dir.join("build"))
        .arg("--binary")
        .arg(module_binary())
        .arg("--ansible-galaxy")
        .arg(venv.join("bin/ansible-galaxy"));
    clean_env(&mut cmd, venv, dir, &dir.join("collections"));
    let (code, stdout, stderr, _) = run_command(cmd);
    assert_eq!(
        code, 0,
        "scripts/build-collection.sh failed:\n{stdout}\n{stderr}"
    );
    // It prints the tarball's path as its last line.
    let tarball = PathBuf::from(
        stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default()
            .trim(),
    );
    assert!(
        tarball.is_file(),
        "build-collection.sh printed no tarball path (got {tarball:?}):\n{stderr}"
    );
    tarball
}

/// Builds the collection and installs it for one venv.
fn install(venv: &Path) -> Ansible {
    assert!(
        venv.join("bin/ansible-playbook").exists(),
        "{VENVS_ENV} names {venv:?}, which has no bin/ansible-playbook (run scripts/setup-ansible.sh)"
    );
    let (code, stdout, stderr, _) = run_command({
        let mut c = Command::new(venv.join("bin/python"));
        c.args([
            "-c",
            "from ansible.release import __version__; print(__version__)",
        ]);
        c
    });
    assert_eq!(
        code, 0,
        "ansible-core in {venv:?} does not import: {stderr}"
    );
    let version = stdout.trim().to_string();
    let dir = work_base().join(format!("ansible-{version}"));
    std::fs::create_dir_all(&dir).unwrap();
    let started = Instant::now();
    let tarball = build_collection(venv, &dir);
    let collections = dir.join("collections");
    let mut cmd = venv_command(venv, "ansible-galaxy", &dir, &collections);
    cmd.args(["collection", "install", "--force", "-p"])
        .arg(&collections)
        .arg(&tarball);
    let (code, stdout, stderr, _) = run_command(cmd);
    assert_eq!(
        code, 0,
        "ansible-galaxy collection install failed:\n{stdout}\n{stderr}"
    );
    // The build tree and tarball are not needed any more (the binary is large).
    let _ = std::fs::remove_dir_all(dir.join("build"));
    let installed = collections.join("ansible_collections/ocp/bootimage");
    for m in ocp_bootimage::modules::names() {
        let p = installed.join("plugins/modules").join(m);
        let meta = std::fs::metadata(&p)
            .unwrap_or_else(|e| panic!("installed collection lacks {}: {e}", p.display()));
        use std::os::unix::fs::PermissionsExt;
        assert!(
            meta.permissions().mode() & 0o111 != 0,
            "{} is not executable",
            p.display()
        );
        assert!(
            installed.join(format!("plugins/modules/{m}.yml")).is_file(),
            "no sidecar doc for {m}"
        );
    }
    for p in ["update.yml", "audit.yml", "rollback.yml"] {
        let got = std::fs::read_to_string(installed.join("playbooks").join(p))
            .unwrap_or_else(|e| panic!("the installed collection lacks playbooks/{p}: {e}"));
        let want = std::fs::read_to_string(root().join("playbooks").join(p)).unwrap();
        assert_eq!(
            got, want,
            "the installed playbooks/{p} is not the repository's"
        );
    }
    eprintln!(
        "shaped_clusters: ansible-core {version} ({}): collection {} built and installed in {:.1} s",
        venv.display(),
        tarball.file_name().unwrap_or_default().to_string_lossy(),
        started.elapsed().as_secs_f64()
    );
    Ansible {
        venv: venv.to_path_buf(),
        version,
        collections,
    }
}

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .unwrap_or_else(|e| panic!("not base64 ({e}): {s:.40}"))
}

/// What must never appear in any output: every Secret data value of the fixture (and a
/// 40-character piece of each, should one be re-wrapped), the CA data URLs inside the
/// stub Ignition configs and the PEM lines of those CAs.
fn fixture_secrets(objects: &[Value]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |what: String, s: &str| {
        let s = s.trim();
        if s.len() >= 40 {
            let mid = s.len() / 2 - 20;
            out.push((format!("{what} (40 chars)"), s[mid..mid + 40].to_string()));
        }
        if s.len() >= 16 {
            out.push((what, s.to_string()));
        }
    };
    let mut cas = 0;
    for o in objects.iter().filter(|o| o["kind"] == "Secret") {
        let name = o["metadata"]["name"].as_str().unwrap_or_default();
        for (k, v) in o["data"].as_object().into_iter().flatten() {
            let Some(v) = v.as_str() else { continue };
            add(format!("Secret {name} data.{k}"), v);
            if k != "userData" {
                continue;
            }
            let ign: Value = serde_json::from_slice(&b64(v)).unwrap();
            for ca in ign
                .pointer("/ignition/security/tls/certificateAuthorities")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let source = ca["source"].as_str().unwrap();
                let payload = source.rsplit(',').next().unwrap();
                add(format!("{name} CA data URL"), source);
                add(format!("{name} CA base64"), payload);
                let pem = String::from_utf8(b64(payload)).unwrap();
                for (i, line) in pem.lines().filter(|l| !l.starts_with("-----")).enumerate() {
                    add(format!("{name} CA PEM line {i}"), line);
                }
                cas += 1;
            }
        }
    }
    assert!(cas >= 1, "the fixture should carry a CA in a stub secret");
    out
}

// ------------------------------------------------------------------ running ansible

/// The result of one ansible run.
struct Run {
    what: String,
    code: i32,
    stdout: String,
    /// stdout and stderr together.
    out: String,
}

impl Run {
    /// The PLAY RECAP counters of localhost.
    fn recap(&self) -> BTreeMap<String, u64> {
        let line = self
            .stdout
            .lines()
            .rev()
            .find(|l| l.starts_with("localhost") && l.contains("ok="))
            .unwrap_or_else(|| panic!("{}: no PLAY RECAP line:\n{}", self.what, self.out));
        line.split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.parse().unwrap()))
            .collect()
    }

    fn count(&self, key: &str) -> u64 {
        self.recap()[key]
    }

    fn assert_ok(&self) -> &Self {
        assert_eq!(self.code, 0, "{} failed:\n{}", self.what, self.out);
        self
    }

    fn assert_failed(&self) -> &Self {
        assert_ne!(
            self.code, 0,
            "{} should have failed:\n{}",
            self.what, self.out
        );
        self
    }

    fn assert_contains(&self, needle: &str) -> &Self {
        assert!(
            self.out.contains(needle),
            "{}: output lacks {needle:?}:\n{}",
            self.what,
            self.out
        );
        self
    }
}

/// One ansible installation pointed at one cluster, with its own scratch directory.
struct Ctx {
    a: Arc<Ansible>,
    scratch: tempfile::TempDir,
    kubeconfig: PathBuf,
    secrets: Vec<(String, String)>,
}

impl Ctx {
    fn new(a: &Arc<Ansible>, kubeconfig: PathBuf, objects: &[Value]) -> Ctx {
        Ctx {
            a: a.clone(),
            scratch: tempfile::Builder::new()
                .prefix("ansible-run-")
                .tempdir_in(work_base())
                .unwrap(),
            kubeconfig,
            secrets: fixture_secrets(objects),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.scratch.path().join(rel)
    }

    fn run(&self, tool: &str, args: &[&str]) -> Run {
        let mut cmd = venv_command(&self.a.venv, tool, self.scratch.path(), &self.a.collections);
        cmd.env("K8S_AUTH_KUBECONFIG", &self.kubeconfig).args(args);
        let what = format!("ansible-core {}: {tool} {}", self.a.version, args.join(" "));
        let (code, stdout, stderr, _) = run_command(cmd);
        let out = format!("{stdout}\n--- stderr ---\n{stderr}");
        for (name, needle) in &self.secrets {
            assert!(
                !out.contains(needle.as_str()),
                "{what}: the output shows secret material ({name}):\n{out}"
            );
        }
        assert!(
            !out.contains("[DEPRECATION WARNING]"),
            "{what}: ansible-core warns about a deprecation:\n{out}"
        );
        Run {
            what,
            code,
            stdout,
            out,
        }
    }

    fn playbook(&self, playbook: &str, args: &[&str]) -> Run {
        let mut all = vec![playbook];
        all.extend_from_slice(args);
        self.run("ansible-playbook", &all)
    }
}

fn ami(c: &TestCluster, machineset: &str) -> String {
    let ms = c
        .get("MachineSet", Some("openshift-machine-api"), machineset)
        .unwrap_or_else(|| panic!("no MachineSet {machineset}"));
    ms.pointer("/spec/template/spec/providerSpec/value/ami/id")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("MachineSet {machineset} has no AMI"))
        .to_string()
}

fn assert_no_writes(c: &TestCluster, what: &str) {
    if let Some(w) = c.writes() {
        assert!(
            w.is_empty(),
            "{what} sent write requests: {:?}",
            w.iter()
                .map(|q| format!("{} {}", q.method, q.path))
                .collect::<Vec<_>>()
        );
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

// ------------------------------------------------------------------ the shaped clusters

/// The 4.22-shaped cluster (AWS, 4.22.3, Manual OCPVersion 4.22.0).
const C422: &str = "ocp-4.22-aws";
/// The 5.0-shaped cluster (AWS, 5.0.0-ec.2, ConfigMap streams rhel-9 and rhel-10).
const C50: &str = "ocp-5.0-aws";
const I422: &str = "ocp422-k8d2x";
const I50: &str = "ocp50-w4n7q";
/// rhcos-4.12 x86_64 us-east-1 (`stream/rhcos-4.12.json`).
const B412: &str = "412.86.202402272018-0";
const AMI412: &str = "ami-0c321aac14de997e3";
/// rhcos-4.16 x86_64 us-east-1 (`stream/rhcos-4.16.json`).
const B416: &str = "416.94.202510081640-0";
const AMI416: &str = "ami-009f29d08fb2f839b";
/// The rhel-9 stream's x86_64 us-east-1 image (4.22 and 5.0).
const B_RHEL9: &str = "9.8.20260403-0";
const AMI_RHEL9: &str = "ami-06a6b025350ff1e23";
/// The rhel-10 stream's x86_64 us-east-1 image (5.0).
const B_RHEL10: &str = "10.2.20260405-0";
const AMI_RHEL10: &str = "ami-04b3d999e39d62c5b";
const WINDOWS_AMI: &str = "ami-0a1b2c3d4e5f67890";

fn shaped_dir(name: &str) -> PathBuf {
    root().join("tests/fixtures/shaped").join(name)
}

fn shaped_objects(name: &str) -> Vec<Value> {
    objects_under(&shaped_dir(name))
}

fn ms(infra: &str, suffix: &str) -> String {
    format!("{infra}-{suffix}")
}

fn manual_ocp(v: &str) -> Value {
    json!({"mode": "Manual", "manual": {"mode": "OCPVersion", "ocpVersion": v}})
}

fn manual_rhcos(v: &str) -> Value {
    json!({"mode": "Manual", "manual": {"mode": "RHCOSVersion", "rhcosVersion": v}})
}

/// `spec.bootImageSkewEnforcement` of MachineConfiguration `cluster` as the server stored it.
fn stored_skew(c: &TestCluster) -> Value {
    c.get("MachineConfiguration", None, "cluster")
        .expect("MachineConfiguration cluster")["spec"]["bootImageSkewEnforcement"]
        .clone()
}

/// The audit of the live cluster (the module, as Ansible runs it).
fn live_audit(c: &TestCluster) -> Value {
    let r = run_module("bootimage_info", &json!({"kubeconfig": c.kubeconfig()}));
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    r.json
}

fn audited<'a>(audit: &'a Value, name: &str) -> &'a Value {
    common::machineset(audit, name)
}

/// The position of a task's header in a playbook's output.
fn task_pos(r: &Run, task: &str) -> usize {
    r.stdout
        .find(&format!("TASK [{task}"))
        .unwrap_or_else(|| panic!("{}: no task {task:?}:\n{}", r.what, r.out))
}

/// The 4.22 audit facts every report of the starting cluster must show.
fn assert_422_audit_facts(a: &Value) {
    assert_eq!(a["verdict"], "not_compliant", "{a}");
    assert_eq!(a["compliant"], false);
    assert_eq!(a["cluster"]["version"], "4.22.3");
    // ClusterVersion names no architecture: it is a control-plane node's label.
    assert_eq!(a["cluster"]["architecture"], "x86_64");
    assert_eq!(a["cluster"]["architecture_source"], "control_plane_node");
    let warnings = a["warnings"].to_string();
    assert!(!warnings.contains("architecture is unknown"), "{warnings}");
    // The outdated MachineSet and the skew record overstating it.
    let old = audited(a, &ms(I422, "worker-us-east-1a"));
    assert_eq!(old["status"], "outdated");
    assert_eq!(old["current_build"], B412);
    assert_eq!(old["current_image"], AMI412);
    assert_eq!(old["target_build"], B_RHEL9);
    assert_eq!(
        audited(a, &ms(I422, "worker-us-east-1b"))["status"],
        "current"
    );
    let skew = &a["skew_enforcement"];
    assert_eq!(skew["effective_mode"], "Manual", "{skew}");
    assert_eq!(skew["recorded_ocp_version"], "4.22.0");
    assert_eq!(skew["overstated"], true, "{skew}");
    assert_eq!(skew["oldest_in_use"]["build"], B412);
    assert_eq!(skew["oldest_meets_floor"], false);
    let reasons = a["noncompliant_reasons"].to_string();
    assert!(
        reasons.contains(&ms(I422, "worker-us-east-1a")) && reasons.contains("overstates"),
        "{reasons}"
    );
    // The ControlPlaneMachineSet is reported (a 4.16 AMI; RollingUpdate: left alone).
    let cp = &a["control_plane"];
    assert_eq!(cp["name"], "cluster", "{cp}");
    assert_eq!(cp["current_build"], B416);
    assert_eq!(cp["status"], "outdated");
    assert_eq!(cp["include_control_plane_would_change"], false);
    // Windows: skipped, not RHCOS, and it does not make the verdict unknown.
    let win = audited(a, &ms(I422, "windows-us-east-1c"));
    assert_eq!(win["status"], "skipped");
    assert_eq!(win["skip_kind"], "not_rhcos");
    assert!(
        a["unknown_reasons"].as_array().is_none_or(|r| r.is_empty()),
        "{}",
        a["unknown_reasons"]
    );
    // Argo CD: named as the MachineSet's manager.
    let argo = audited(a, &ms(I422, "worker-us-east-1d"));
    assert!(
        argo["managed_by"]
            .as_str()
            .is_some_and(|m| m.contains("Argo CD") && m.contains("argocd.argoproj.io/tracking-id")),
        "{argo}"
    );
}

/// The 4.22 cluster with ClusterVersion updating from 4.22.3 to 4.22.4 (Progressing=True).
fn updating_422() -> Vec<Value> {
    shaped_objects(C422)
        .into_iter()
        .map(|mut o| {
            if o["kind"] == "ClusterVersion" {
                let st = &mut o["status"];
                st["desired"]["version"] = json!("4.22.4");
                let completed = st["history"][0].clone();
                st["history"] = json!([
                    {"state": "Partial", "version": "4.22.4", "startedTime": "2026-04-28T09:00:00Z",
                     "completionTime": null, "verified": true,
                     "image": "quay.io/openshift-release-dev/ocp-release@sha256:4444444444444444444444444444444444444444444444444444444444444444"},
                    completed
                ]);
                for cond in st["conditions"].as_array_mut().unwrap() {
                    if cond["type"] == "Progressing" {
                        cond["status"] = json!("True");
                        cond["message"] = json!("Working towards 4.22.4: 212 of 887 done (23% complete)");
                    }
                }
            }
            o
        })
        .collect()
}

// ------------------------------------------------------------------ tests

/// The CLI reads both dumps without a cluster: not compliant, exit 0; with
/// `--fail-on-noncompliant` exit 1; the table's last line names the verdict.
#[test]
fn cli_audit_from_dir_on_both_shaped_clusters() {
    for (name, outdated) in [(C422, 2), (C50, 3)] {
        let run = |extra: &[&str]| {
            let out = Command::new(common::binary())
                .arg("audit")
                .arg("--from-dir")
                .arg(shaped_dir(name))
                .args(extra)
                .env_remove("KUBECONFIG")
                .output()
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).to_string(),
                String::from_utf8_lossy(&out.stderr).to_string(),
            )
        };
        let (code, stdout, stderr) = run(&[]);
        assert_eq!(code, Some(0), "{name}: {stderr}");
        let a: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(a["verdict"], "not_compliant", "{name}");
        assert_eq!(
            a["summary"]["outdated"], outdated,
            "{name}: {}",
            a["summary"]
        );
        if name == C422 {
            assert_422_audit_facts(&a);
        }
        let (code, _, stderr) = run(&["--fail-on-noncompliant"]);
        assert_eq!(code, Some(1), "{name}: {stderr}");
        let (code, table, _) = run(&["-o", "table", "--fail-on-noncompliant", "--allow-unknown"]);
        assert_eq!(code, Some(1), "{name}: not compliant is not unknown");
        let last = table
            .trim_end()
            .lines()
            .last()
            .unwrap_or_default()
            .to_string();
        assert!(last.starts_with("not compliant"), "{name}: {table}");
    }
}

/// audit.yml, update.yml (Argo CD left alone), a second update.yml and rollback.yml on
/// the 4.22-shaped cluster.
#[test]
fn the_4_22_shaped_cluster_audit_update_again_and_rollback() {
    let _serial = serial();
    let Some(ansibles) = ansibles("the_4_22_shaped_cluster_audit_update_again_and_rollback") else {
        return;
    };
    let objects = shaped_objects(C422);
    for a in &ansibles {
        let mut c = TestCluster::start();
        c.load(&objects);
        let start = c.read_back(&objects);
        let ctx = Ctx::new(a, c.kubeconfig(), &objects);
        let report = ctx.path("audit.json");

        // audit.yml: fails (not compliant), writes nothing, and says why.
        c.clear_requests();
        let r = ctx.playbook(
            "ocp.bootimage.audit",
            &["-e", &format!("report_path={}", report.display())],
        );
        r.assert_failed().assert_contains("Not compliant");
        assert_no_writes(&c, "audit.yml");
        assert_422_audit_facts(&read_json(&report));
        let txt = std::fs::read_to_string(format!("{}.txt", report.display())).unwrap();
        assert!(txt.starts_with("Boot image audit: NOT COMPLIANT"), "{txt}");
        assert!(
            txt.contains("Control plane: ControlPlaneMachineSet Active RollingUpdate, outdated"),
            "{txt}"
        );

        // update.yml: the outdated MachineSet moves; Windows, current and Argo CD stay.
        let run_id = format!("shaped-{}", a.version.replace('.', "-"));
        c.clear_requests();
        let r = ctx.playbook("ocp.bootimage.update", &["-e", &format!("run_id={run_id}")]);
        r.assert_ok().assert_contains("is managed by Argo CD");
        assert_eq!(ami(&c, &ms(I422, "worker-us-east-1a")), AMI_RHEL9);
        assert_eq!(ami(&c, &ms(I422, "worker-us-east-1b")), AMI_RHEL9);
        assert_eq!(ami(&c, &ms(I422, "windows-us-east-1c")), WINDOWS_AMI);
        assert_eq!(ami(&c, &ms(I422, "worker-us-east-1d")), AMI416);
        // The skew step ran last (after the swap and the resume), and recorded the oldest
        // boot image still in use — the Argo CD MachineSet's 4.16 build — never newer.
        let skew = task_pos(&r, "Record the oldest boot image in use");
        assert!(skew > task_pos(&r, "Swap the boot images"), "{}", r.out);
        assert!(skew > task_pos(&r, "Resume autoscaling"), "{}", r.out);
        assert!(
            skew < task_pos(&r, "Audit the boot images (after)"),
            "{}",
            r.out
        );
        if let Some(w) = c.writes() {
            let last = w
                .iter()
                .rfind(|q| !q.path.contains("/secrets"))
                .expect("update.yml wrote nothing");
            assert!(
                last.path.ends_with("/machineconfigurations/cluster"),
                "the last write is {} {}",
                last.method,
                last.path
            );
        }
        assert_eq!(stored_skew(&c), manual_rhcos(B416));
        // The audit afterwards: the record names what boots; 4.16 is RHEL 9.4, above
        // MCO's floor (RHEL 9.2); still not compliant, the Argo CD set is outdated.
        let after = live_audit(&c);
        let s = &after["skew_enforcement"];
        assert_eq!(s["recorded_rhcos_version"], B416, "{s}");
        assert_eq!(s["oldest_in_use"]["build"], B416);
        assert_eq!(s["overstated"], false, "{s}");
        assert_eq!(s["oldest_meets_floor"], true);
        assert_eq!(s["upgradeable"], true);
        assert_eq!(after["verdict"], "not_compliant");
        let reasons = after["noncompliant_reasons"].to_string();
        assert!(
            reasons.contains(&ms(I422, "worker-us-east-1d")) && !reasons.contains("overstates"),
            "{reasons}"
        );

        // Again: nothing to change.
        c.clear_requests();
        let r = ctx.playbook("ocp.bootimage.update", &[]);
        r.assert_ok();
        assert_eq!(r.count("changed"), 0, "{}", r.out);
        assert_no_writes(&c, "the second update.yml");

        // rollback.yml: every MachineSet and the MachineConfiguration spec as they were.
        let r = ctx.playbook(
            "ocp.bootimage.rollback",
            &["-e", &format!("run_id={run_id}")],
        );
        r.assert_ok()
            .assert_contains(&format!(
                "restored: MachineSet openshift-machine-api/{}",
                ms(I422, "worker-us-east-1a")
            ))
            .assert_contains("restored: MachineConfiguration cluster");
        assert_eq!(stored_skew(&c), manual_ocp("4.22.0"));
        assert_cluster_equals(&c, &start);
    }
}

/// update.yml -e allow_other_controllers=true changes the Argo CD MachineSet too; the
/// oldest boot image in use is then the stream's, recorded as RHCOSVersion.
#[test]
fn the_4_22_shaped_cluster_update_with_allow_other_controllers() {
    let _serial = serial();
    let Some(ansibles) = ansibles("the_4_22_shaped_cluster_update_with_allow_other_controllers")
    else {
        return;
    };
    let objects = shaped_objects(C422);
    for a in &ansibles {
        let mut c = TestCluster::start();
        c.load(&objects);
        let ctx = Ctx::new(a, c.kubeconfig(), &objects);
        ctx.playbook(
            "ocp.bootimage.update",
            &["-e", "allow_other_controllers=true"],
        )
        .assert_ok();
        for m in [
            "worker-us-east-1a",
            "worker-us-east-1b",
            "worker-us-east-1d",
        ] {
            assert_eq!(ami(&c, &ms(I422, m)), AMI_RHEL9, "{m}");
        }
        assert_eq!(ami(&c, &ms(I422, "windows-us-east-1c")), WINDOWS_AMI);
        assert_eq!(stored_skew(&c), manual_rhcos(B_RHEL9));
        let after = live_audit(&c);
        assert_eq!(after["skew_enforcement"]["overstated"], false);
        assert_eq!(after["skew_enforcement"]["oldest_in_use"]["build"], B_RHEL9);
        assert_eq!(
            audited(&after, &ms(I422, "worker-us-east-1d"))["status"],
            "current"
        );
    }
}

/// While the cluster updates (Progressing=True, desired 4.22.4, completed 4.22.3),
/// update.yml refuses naming both versions and changes nothing; allow_progressing=true
/// proceeds.
#[test]
fn the_4_22_shaped_cluster_update_waits_for_a_cluster_update() {
    let _serial = serial();
    let Some(ansibles) = ansibles("the_4_22_shaped_cluster_update_waits_for_a_cluster_update")
    else {
        return;
    };
    let objects = updating_422();
    for a in &ansibles {
        let mut c = TestCluster::start();
        c.load(&objects);
        let start = c.read_back(&objects);
        let ctx = Ctx::new(a, c.kubeconfig(), &objects);
        c.clear_requests();
        let r = ctx.playbook("ocp.bootimage.update", &[]);
        r.assert_failed()
            .assert_contains("4.22.4")
            .assert_contains("4.22.3");
        assert_no_writes(&c, "update.yml while the cluster updates");
        assert_cluster_equals(&c, &start);

        ctx.playbook("ocp.bootimage.update", &["-e", "allow_progressing=true"])
            .assert_ok();
        assert_eq!(ami(&c, &ms(I422, "worker-us-east-1a")), AMI_RHEL9);
        assert_eq!(stored_skew(&c), manual_rhcos(B416));
    }
}

/// audit.yml and update.yml on the 5.0-shaped cluster: each MachineSet to its own OS
/// stream's image, the oldest in use recorded as RHCOSVersion, a second run changed=0.
#[test]
fn the_5_0_shaped_cluster_audit_update_and_again() {
    let _serial = serial();
    let Some(ansibles) = ansibles("the_5_0_shaped_cluster_audit_update_and_again") else {
        return;
    };
    let objects = shaped_objects(C50);
    let (rhel9, rhel10, unlabelled) = (
        ms(I50, "worker-rhel9-us-east-1a"),
        ms(I50, "worker-rhel10-us-east-1b"),
        ms(I50, "worker-us-east-1c"),
    );
    for a in &ansibles {
        let mut c = TestCluster::start();
        c.load(&objects);
        let ctx = Ctx::new(a, c.kubeconfig(), &objects);
        let report = ctx.path("audit.json");
        c.clear_requests();
        ctx.playbook(
            "ocp.bootimage.audit",
            &["-e", &format!("report_path={}", report.display())],
        )
        .assert_failed()
        .assert_contains("Not compliant");
        assert_no_writes(&c, "audit.yml");
        let au = read_json(&report);
        assert_eq!(au["verdict"], "not_compliant");
        assert_eq!(au["cluster"]["version"], "5.0.0-ec.2");
        for (name, stream, from, to) in [
            (&rhel9, "rhel-9", B412, B_RHEL9),
            (&rhel10, "rhel-10", B416, B_RHEL10),
            (&unlabelled, "rhel-9", B416, B_RHEL9),
        ] {
            let m = audited(&au, name);
            assert_eq!(m["os_stream"], stream, "{m}");
            assert_eq!(m["status"], "outdated", "{m}");
            assert_eq!(m["current_build"], from, "{m}");
            assert_eq!(m["target_build"], to, "{m}");
        }
        assert_eq!(au["skew_enforcement"]["overstated"], true);
        assert_eq!(au["skew_enforcement"]["oldest_in_use"]["build"], B412);

        let r = ctx.playbook("ocp.bootimage.update", &[]);
        r.assert_ok();
        assert_eq!(ami(&c, &rhel9), AMI_RHEL9);
        assert_eq!(ami(&c, &rhel10), AMI_RHEL10);
        assert_eq!(ami(&c, &unlabelled), AMI_RHEL9);
        // The oldest in use is now the rhel-9 build (9.8 < 10.2): RHCOSVersion, exact.
        assert_eq!(stored_skew(&c), manual_rhcos(B_RHEL9));
        let after = live_audit(&c);
        assert_eq!(after["skew_enforcement"]["overstated"], false);
        assert_eq!(after["skew_enforcement"]["oldest_meets_floor"], true);
        assert_eq!(
            after["verdict"], "compliant",
            "{}",
            after["noncompliant_reasons"]
        );

        c.clear_requests();
        let r = ctx.playbook("ocp.bootimage.update", &[]);
        r.assert_ok();
        assert_eq!(r.count("changed"), 0, "{}", r.out);
        assert_no_writes(&c, "the second update.yml");
    }
}
