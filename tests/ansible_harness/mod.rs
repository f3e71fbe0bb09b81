//! The Ansible end-to-end harness shared by `tests/ansible_e2e.rs` and
//! `tests/shaped_clusters.rs`: the collection `ocp.bootimage` built
//! (`scripts/build-collection.sh` with the debug binary, stripped) and installed with
//! `ansible-galaxy collection install` into a temporary collections path once per
//! ansible-core installation named by `OCP_BOOTIMAGE_ANSIBLE_VENVS` (colon-separated
//! virtualenv directories, made by `scripts/setup-ansible.sh`; `scripts/test.sh` sets it;
//! without it each test prints a SKIP line and passes); `ansible-playbook` / `ansible`
//! run in a clean environment, every run's whole stdout+stderr searched for the fixture
//! secrets (the stub Ignition's userData and the CA data inside it, the Secrets' data):
//! none may appear. A test binary declares `mod common;` and `mod ansible_harness;`.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;

use crate::common::{self, root, TestCluster};

/// The test binary (its crate name: `ansible_e2e`, `shaped_clusters`), in messages and
/// in the name of its work directory.
const SUITE: &str = env!("CARGO_CRATE_NAME");

pub const VENVS_ENV: &str = "OCP_BOOTIMAGE_ANSIBLE_VENVS";
/// One ansible run may take this long before the test gives up on it.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(300);

// ------------------------------------------------------------------ setup

/// The tests of this file run one at a time.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    LOCK.get_or_init(|| Mutex::new(()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// One ansible-core installation with the collection installed.
pub struct Ansible {
    pub venv: PathBuf,
    /// ansible-core's version (`2.16.19`).
    pub version: String,
    /// `ANSIBLE_COLLECTIONS_PATH` holding `ansible_collections/ocp/bootimage`.
    pub collections: PathBuf,
}

/// The installations to test with, or None (after a SKIP line) when the variable is unset.
pub fn ansibles(test: &str) -> Option<Vec<Arc<Ansible>>> {
    let venvs = std::env::var(VENVS_ENV).unwrap_or_default();
    let venvs: Vec<PathBuf> = venvs
        .split(':')
        .filter(|s| !s.trim().is_empty())
        .map(PathBuf::from)
        .collect();
    if venvs.is_empty() {
        eprintln!(
            "SKIP {SUITE}::{test}: {VENVS_ENV} is not set (./scripts/test.sh sets it; or run \
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
pub fn work_base() -> PathBuf {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let parent = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&parent).unwrap();
        for e in std::fs::read_dir(&parent).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(pid) = name.strip_prefix(&format!("{SUITE}-")) {
                if !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let base = parent.join(format!("{SUITE}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        base
    })
    .clone()
}

/// The debug binary, stripped of its debug info when `strip` exists (Ansible copies the
/// module file for every task: 29 MB instead of 174 MB; the code is the same).
pub fn module_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dest = work_base().join("ocp-bootimage");
        std::fs::copy(common::binary(), &dest).unwrap();
        match Command::new("strip").arg(&dest).status() {
            Ok(s) if s.success() => {}
            _ => eprintln!(
                "{SUITE}: `strip` failed or is missing: using the unstripped debug binary"
            ),
        }
        dest
    })
    .clone()
}

/// Runs a command to completion (with a timeout), returning (exit code, stdout, stderr, seconds).
pub fn run_command(mut cmd: Command) -> (i32, String, String, f64) {
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
pub fn venv_command(venv: &Path, tool: &str, scratch: &Path, collections: &Path) -> Command {
    let mut cmd = Command::new(venv.join("bin").join(tool));
    clean_env(&mut cmd, venv, scratch, collections);
    cmd
}

/// Replaces a command's environment with the one every ansible run here gets.
pub fn clean_env(cmd: &mut Command, venv: &Path, scratch: &Path, collections: &Path) {
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
pub fn build_collection(venv: &Path, dir: &Path) -> PathBuf {
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
pub fn install(venv: &Path) -> Ansible {
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
        "{SUITE}: ansible-core {version} ({}): collection {} built and installed in {:.1} s",
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

pub fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .unwrap_or_else(|e| panic!("not base64 ({e}): {s:.40}"))
}

/// What must never appear in any output: every Secret data value of the fixture (and a
/// 40-character piece of each, should one be re-wrapped), the CA data URLs inside the
/// stub Ignition configs and the PEM lines of those CAs.
pub fn fixture_secrets(objects: &[Value]) -> Vec<(String, String)> {
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
            // Not JSON (Windows user data): its data value above is all there is.
            let Ok(ign) = serde_json::from_slice::<Value>(&b64(v)) else {
                continue;
            };
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
pub struct Run {
    pub what: String,
    pub code: i32,
    pub stdout: String,
    /// stdout and stderr together.
    pub out: String,
    pub secs: f64,
}

impl Run {
    /// The PLAY RECAP counters of localhost.
    pub fn recap(&self) -> BTreeMap<String, u64> {
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

    pub fn count(&self, key: &str) -> u64 {
        self.recap()[key]
    }

    pub fn assert_ok(&self) -> &Self {
        assert_eq!(self.code, 0, "{} failed:\n{}", self.what, self.out);
        self
    }

    pub fn assert_failed(&self) -> &Self {
        assert_ne!(
            self.code, 0,
            "{} should have failed:\n{}",
            self.what, self.out
        );
        self
    }

    pub fn assert_contains(&self, needle: &str) -> &Self {
        assert!(
            self.out.contains(needle),
            "{}: output lacks {needle:?}:\n{}",
            self.what,
            self.out
        );
        self
    }

    /// A diff line (`-`/`+` first) that holds `needle`.
    pub fn has_diff_line(&self, sign: char, needle: &str) -> bool {
        self.stdout
            .lines()
            .any(|l| l.starts_with(sign) && l.contains(needle))
    }
}

/// One ansible installation pointed at one cluster, with its own scratch directory.
pub struct Ctx {
    pub a: Arc<Ansible>,
    pub scratch: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    pub secrets: Vec<(String, String)>,
    /// More environment for every run (e.g. `VMWARE_USER`), set after the clean one.
    pub env: Vec<(String, String)>,
}

impl Ctx {
    pub fn new(a: &Arc<Ansible>, kubeconfig: PathBuf, objects: &[Value]) -> Ctx {
        Ctx {
            a: a.clone(),
            scratch: tempfile::Builder::new()
                .prefix("ansible-run-")
                .tempdir_in(work_base())
                .unwrap(),
            kubeconfig,
            secrets: fixture_secrets(objects),
            env: Vec::new(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.scratch.path().join(rel)
    }

    pub fn run(&self, tool: &str, args: &[&str]) -> Run {
        let mut cmd = venv_command(&self.a.venv, tool, self.scratch.path(), &self.a.collections);
        cmd.env("K8S_AUTH_KUBECONFIG", &self.kubeconfig).args(args);
        cmd.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let what = format!("ansible-core {}: {tool} {}", self.a.version, args.join(" "));
        let (code, stdout, stderr, secs) = run_command(cmd);
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
            secs,
        }
    }

    pub fn playbook(&self, playbook: &str, args: &[&str]) -> Run {
        let mut all = vec![playbook];
        all.extend_from_slice(args);
        self.run("ansible-playbook", &all)
    }
}

// ------------------------------------------------------------------ cluster helpers

pub fn ami(c: &TestCluster, machineset: &str) -> String {
    let ms = c
        .get("MachineSet", Some("openshift-machine-api"), machineset)
        .unwrap_or_else(|| panic!("no MachineSet {machineset}"));
    ms.pointer("/spec/template/spec/providerSpec/value/ami/id")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("MachineSet {machineset} has no AMI"))
        .to_string()
}

pub fn assert_no_writes(c: &TestCluster, what: &str) {
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

pub fn read_json(path: &Path) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}
