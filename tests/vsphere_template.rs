//! `vsphere_template` end to end (issue 14): the built binary, run as Ansible runs it,
//! against a vSphere-shaped cluster (the shipped dump made vSphere: Infrastructure
//! `VSphere`, the installer's 4.9 vSphere MachineSet placed in vcsim's inventory) in the
//! in-process test API server (or a real one, `OCP_BOOTIMAGE_TEST_KUBECONFIG`) and a real
//! vSphere SOAP API: govmomi's vcsim (`tests/vcsim`; SKIP without it). The OVA is a small
//! test OVA served by an in-process HTTP server; the stream file is the real 4.18 stream
//! with its `vmware` OVA location and sha256 pointed at it.

mod ansible_harness;
mod common;
mod vcsim;

use std::path::{Path, PathBuf};

use common::{
    objects_in, objects_under, root, run_module, spawn_module, with_v3_stubs, TestCluster,
};
use serde_json::{json, Value};
use vcsim::{make_ova, FileServer, Spoil, Vcsim};

const INFRA_ID: &str = "ocp-cl02-xdqkk";

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// The target build of the 4.18 stream fixture's vmware artifact.
fn target_build() -> String {
    let s: Value = serde_json::from_slice(
        &std::fs::read(root().join("tests/fixtures/stream/rhcos-4.18.json")).unwrap(),
    )
    .unwrap();
    s["architectures"]["x86_64"]["artifacts"]["vmware"]["release"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The 4.18 stream with its OVA at `url` with `sha256`.
fn stream_file(dir: &Path, url: &str, sha256: &str) -> PathBuf {
    let mut s: Value = serde_json::from_slice(
        &std::fs::read(root().join("tests/fixtures/stream/rhcos-4.18.json")).unwrap(),
    )
    .unwrap();
    let disk = &mut s["architectures"]["x86_64"]["artifacts"]["vmware"]["formats"]["ova"]["disk"];
    disk["location"] = json!(url);
    disk["sha256"] = json!(sha256);
    let p = dir.join("stream.json");
    std::fs::write(&p, serde_json::to_vec(&s).unwrap()).unwrap();
    p
}

/// The installer's vSphere MachineSet, named `name`, placed in vcsim's inventory.
fn vsphere_machineset(name: &str, datastore: &str) -> Value {
    let mut ms = objects_in(&root().join(
        "tests/fixtures/machinesets/vsphere/installer-generated-4.9-ocp-cl02-worker-machineset-0.yaml",
    ))
    .remove(0);
    ms["metadata"]["name"] = json!(name);
    let sel = format!("{INFRA_ID}-{name}");
    ms["spec"]["selector"]["matchLabels"]["machine.openshift.io/cluster-api-machineset"] =
        json!(sel);
    ms["spec"]["template"]["metadata"]["labels"]["machine.openshift.io/cluster-api-machineset"] =
        json!(sel);
    let v = &mut ms["spec"]["template"]["spec"]["providerSpec"]["value"];
    v["workspace"] = json!({"server": "127.0.0.1", "datacenter": "DC0", "datastore": datastore,
                            "folder": "/DC0/vm", "resourcePool": "/DC0/host/DC0_C0/Resources"});
    v["network"]["devices"][0]["networkName"] = json!("VM Network");
    ms
}

/// The shipped dump, made a vSphere cluster with `machinesets` (and `failure_domains`).
fn vsphere_cluster(machinesets: &[Value], failure_domains: Value) -> Vec<Value> {
    let mut objects = with_v3_stubs(objects_under(&root().join("examples/cluster-dump")));
    objects.retain(|o| o["kind"] != "MachineSet" && o["kind"] != "MachineAutoscaler");
    for o in objects.iter_mut() {
        if o["kind"] == "Infrastructure" {
            o["status"]["platform"] = json!("VSphere");
            o["status"]["platformStatus"] = json!({"type": "VSphere"});
            o["status"]["infrastructureName"] = json!(INFRA_ID);
            o["spec"]["platformSpec"] =
                json!({"type": "VSphere", "vsphere": {"failureDomains": failure_domains}});
        }
    }
    objects.extend(machinesets.iter().cloned());
    objects
}

/// Everything one test needs: vcsim, the OVA and its server, the stream, the cluster.
struct Env {
    vc: Vcsim,
    ova: FileServer,
    sha: String,
    stream: PathBuf,
    cluster: TestCluster,
    dir: tempfile::TempDir,
}

impl Env {
    fn start(vcsim_args: &[&str], machinesets: &[Value], fds: Value) -> Option<Env> {
        Env::start_sized(vcsim_args, machinesets, fds, 1 << 20)
    }

    /// With a test OVA whose disk has `disk_bytes`.
    fn start_sized(
        vcsim_args: &[&str],
        machinesets: &[Value],
        fds: Value,
        disk_bytes: u64,
    ) -> Option<Env> {
        let vc = Vcsim::start_with(vcsim_args)?;
        let dir = tempfile::tempdir().unwrap();
        let (path, sha) = make_ova(dir.path(), "test.ova", disk_bytes, 7, Spoil::None);
        let ova = FileServer::serve(path);
        let stream = stream_file(dir.path(), &ova.url, &sha);
        let mut cluster = TestCluster::start();
        cluster.load(&vsphere_cluster(machinesets, fds));
        Some(Env {
            vc,
            ova,
            sha,
            stream,
            cluster,
            dir,
        })
    }

    /// The arguments of `module`: the cluster and the record; the stream for the modules
    /// that read one; vCenter (community.vmware's names) for those that talk to it.
    fn args_of(&self, module: &str, extra: Value) -> Value {
        let mut a = json!({
            "kubeconfig": self.cluster.kubeconfig(),
            "record_path": self.dir.path().join("record.json"),
        });
        if module != "rollback" {
            a["stream_file"] = json!(self.stream);
        }
        if module == "vsphere_template" {
            a["cache_dir"] = json!(self.dir.path().join("cache"));
        }
        if module == "vsphere_template" || module == "rollback" {
            a["hostname"] = json!(self.vc.host);
            a["port"] = json!(self.vc.port);
            a["vcenter_username"] = json!(self.vc.username);
            a["vcenter_password"] = json!(self.vc.password);
            a["vcenter_validate_certs"] = json!(false);
        }
        for (k, v) in extra.as_object().unwrap() {
            a[k] = v.clone();
        }
        a
    }

    fn run(&self, module: &str, extra: Value) -> Value {
        let r = run_module(module, &self.args_of(module, extra));
        assert!(
            !r.stdout.contains(&self.vc.password),
            "the vCenter password leaked: {}",
            r.stdout
        );
        r.json
    }

    /// What vCenter holds in `/DC0/vm`.
    fn vms(&self) -> Vec<String> {
        block(async {
            let s = self.vc.session().await;
            let mut v = s.vms_in_folder("/DC0/vm").await.unwrap();
            v.sort();
            v
        })
    }

    /// `find`, but an error (vcsim busy with the upload being polled) is "not yet".
    fn poll_find(&self, path: &str) -> Option<ocp_bootimage::vsphere::VmInfo> {
        block(async {
            let creds = self.vc.credentials();
            let s = ocp_bootimage::vsphere::Session::login(&creds).await.ok()?;
            s.find_vm(path).await.ok().flatten()
        })
    }

    fn find(&self, path: &str) -> Option<ocp_bootimage::vsphere::VmInfo> {
        block(async { self.vc.session().await.find_vm(path).await.unwrap() })
    }
}

fn template_path() -> String {
    format!("/DC0/vm/{}-{INFRA_ID}-rhcos", target_build())
}

#[test]
fn first_import_makes_the_template_and_a_rerun_does_nothing() {
    let Some(env) = Env::start(&[], &[vsphere_machineset("worker", "LocalDS_0")], json!([])) else {
        return;
    };
    let before = env.vms();
    let r = env.run("vsphere_template", json!({"_ansible_diff": true}));
    assert_eq!(r["failed"], false, "{r}");
    assert_eq!(r["changed"], true, "{r}");
    let path = template_path();
    assert_eq!(r["images"]["worker"], json!(path), "{r}");
    assert_eq!(r["image_builds"][&path], json!(target_build()));
    let t = &r["templates"][0];
    assert_eq!(t["action"], "import");
    assert_eq!(t["datastore"], "LocalDS_0");
    assert_eq!(r["ova"][0]["sha256"], json!(env.sha));
    assert_eq!(r["ova"][0]["cached"], false);
    // The diff: the MachineSet's template now and after the swap.
    assert_eq!(
        r["diff"]["before"]["worker"],
        json!(format!("{INFRA_ID}-rhcos"))
    );
    assert_eq!(r["diff"]["after"]["worker"], json!(path));
    // vCenter holds a template of the build, in the folder, on the datastore.
    let vm = env.find(&path).expect("the template");
    assert!(vm.is_template);
    assert_eq!(vm.build.as_deref(), Some(target_build().as_str()));
    assert!(
        vm.datastores.iter().any(|d| d == "LocalDS_0"),
        "{:?}",
        vm.datastores
    );
    assert_eq!(env.vms().len(), before.len() + 1);
    // Recorded before the import.
    let record: Value =
        serde_json::from_slice(&std::fs::read(env.dir.path().join("record.json")).unwrap())
            .unwrap();
    let entries = record.to_string();
    assert!(
        entries.contains("VSphereTemplate") && entries.contains(&path),
        "{entries}"
    );
    // A rerun: nothing imported, nothing downloaded.
    let downloads = env.ova.count();
    let again = env.run("vsphere_template", json!({}));
    assert_eq!(again["changed"], false, "{again}");
    assert_eq!(again["templates"][0]["action"], "present");
    assert_eq!(again["images"]["worker"], json!(path));
    assert_eq!(env.ova.count(), downloads);
    assert_eq!(env.vms().len(), before.len() + 1);
}

#[test]
fn check_mode_uploads_nothing_and_shows_the_same_result() {
    let Some(env) = Env::start(&[], &[vsphere_machineset("worker", "LocalDS_0")], json!([])) else {
        return;
    };
    let before = env.vms();
    let r = env.run(
        "vsphere_template",
        json!({"_ansible_check_mode": true, "_ansible_diff": true}),
    );
    assert_eq!(r["failed"], false, "{r}");
    assert_eq!(r["changed"], true);
    assert_eq!(r["templates"][0]["action"], "import");
    assert_eq!(r["images"]["worker"], json!(template_path()));
    assert_eq!(r["diff"]["after"]["worker"], json!(template_path()));
    // It says what it would download, and that it is not in the cache yet.
    assert_eq!(r["ova"][0]["source"], json!(env.ova.url), "{r}");
    assert_eq!(r["ova"][0]["sha256"], json!(env.sha));
    assert_eq!(r["ova"][0]["cached"], false);
    assert_eq!(env.vms(), before, "check mode changed vCenter");
    assert_eq!(env.ova.count(), 0, "check mode downloaded");
    assert!(!env.dir.path().join("record.json").exists());
}

#[test]
fn a_wrong_sha256_is_refused_before_any_upload() {
    let Some(env) = Env::start(&[], &[vsphere_machineset("worker", "LocalDS_0")], json!([])) else {
        return;
    };
    let before = env.vms();
    let wrong = "0".repeat(64);
    let r = env.run("vsphere_template", json!({"ova_sha256": wrong}));
    assert_eq!(r["failed"], true, "{r}");
    let msg = r["msg"].as_str().unwrap();
    assert!(msg.contains(&wrong) && msg.contains(&env.sha), "{msg}");
    assert_eq!(env.vms(), before);
    assert!(env.find(&template_path()).is_none());
    assert!(
        std::fs::read_dir(env.dir.path().join("cache"))
            .map(|d| d
                .flatten()
                .all(|e| !e.file_name().to_string_lossy().ends_with(".ova")))
            .unwrap_or(true),
        "a bad download was kept"
    );
}

#[test]
fn a_template_of_another_build_at_the_path_is_refused_not_overwritten() {
    let Some(env) = Env::start(
        &[],
        &[
            vsphere_machineset("worker", "LocalDS_0"),
            vsphere_machineset("infra", "LocalDS_0"),
        ],
        json!([]),
    ) else {
        return;
    };
    // A template of another build, imported by hand under the name this run wants.
    let name = format!("{}-{INFRA_ID}-rhcos", target_build());
    block(async {
        let s = env.vc.session().await;
        let (ova, _) = {
            let (p, _) = make_ova(env.dir.path(), "other.ova", 4096, 9, Spoil::None);
            ocp_bootimage::vsphere::ova::fetch_ova(
                &ocp_bootimage::vsphere::ova::OvaSource::Path(p),
                None,
                env.dir.path(),
                false,
                &mut |_, _| {},
            )
            .await
            .unwrap()
        };
        let req = ocp_bootimage::vsphere::ImportRequest {
            location: vcsim::default_location(),
            name: name.clone(),
            build: "412.86.202212081411-0".into(),
            thin: true,
        };
        s.import_template(&req, &ova, &mut |_, _| {}).await.unwrap();
    });
    let before = env.vms();
    let r = env.run("vsphere_template", json!({}));
    assert_eq!(r["failed"], true, "{r}");
    let msg = r["msg"].as_str().unwrap();
    assert!(
        msg.contains("412.86.202212081411-0") && msg.contains("never overwritten"),
        "{msg}"
    );
    assert_eq!(env.vms(), before);
    assert_eq!(
        env.find(&template_path()).unwrap().build.as_deref(),
        Some("412.86.202212081411-0")
    );
    assert_eq!(env.ova.count(), 0);
}

#[test]
fn two_failure_domains_get_two_templates() {
    // No `folder` in the topology (optional; a real API server's CRD wants a folder below
    // `/<dc>/vm/`, which vcsim's default inventory has none of): `/DC0/vm` is assumed.
    let fd = |name: &str, ds: &str| {
        json!({"name": name, "region": "r", "zone": name, "server": "127.0.0.1",
               "topology": {"datacenter": "DC0", "computeCluster": "/DC0/host/DC0_C0",
                            "datastore": format!("/DC0/datastore/{ds}"), "networks": ["VM Network"]}})
    };
    let Some(env) = Env::start(
        &["-ds", "2"],
        &[vsphere_machineset("worker", "LocalDS_0")],
        json!([fd("fd-a", "LocalDS_0"), fd("fd-b", "LocalDS_1")]),
    ) else {
        return;
    };
    let r = env.run("vsphere_template", json!({}));
    assert_eq!(r["failed"], false, "{r}");
    let b = target_build();
    let a_path = format!("/DC0/vm/{b}-{INFRA_ID}-rhcos-fd-a");
    let b_path = format!("/DC0/vm/{b}-{INFRA_ID}-rhcos-fd-b");
    assert_eq!(r["images"]["worker"], json!(a_path));
    assert_eq!(r["templates"].as_array().unwrap().len(), 2, "{r}");
    let a = env.find(&a_path).unwrap();
    let bb = env.find(&b_path).unwrap();
    assert!(a.is_template && bb.is_template);
    assert!(
        a.datastores.iter().any(|d| d == "LocalDS_0"),
        "{:?}",
        a.datastores
    );
    assert!(
        bb.datastores.iter().any(|d| d == "LocalDS_1"),
        "{:?}",
        bb.datastores
    );
    // One download for both.
    assert_eq!(r["ova"].as_array().unwrap().len(), 1);
}

#[test]
fn rollback_deletes_an_unreferenced_template_and_keeps_a_referenced_one() {
    let Some(mut env) = Env::start(&[], &[vsphere_machineset("worker", "LocalDS_0")], json!([]))
    else {
        return;
    };
    let run_id = json!({"run_id": "vs-1"});
    let t = env.run("vsphere_template", run_id.clone());
    assert_eq!(t["changed"], true, "{t}");
    let path = template_path();
    let swap = env.run(
        "machineset_bootimage",
        json!({"run_id": "vs-1", "image": t["images"].clone()}),
    );
    assert_eq!(swap["changed"], true, "{swap}");
    let ms = env
        .cluster
        .get("MachineSet", Some("openshift-machine-api"), "worker")
        .unwrap();
    assert_eq!(
        ms["spec"]["template"]["spec"]["providerSpec"]["value"]["template"],
        json!(path)
    );
    // Another MachineSet, made later by someone else, names the template too: kept.
    let mut other = vsphere_machineset("later", "LocalDS_0");
    other["spec"]["template"]["spec"]["providerSpec"]["value"]["template"] = json!(path);
    env.cluster.load(&[other]);
    let check = env.run(
        "rollback",
        json!({"run_id": "vs-1", "_ansible_check_mode": true}),
    );
    assert_eq!(check["failed"], false, "{check}");
    let kept = env.run("rollback", json!({"run_id": "vs-1"}));
    assert_eq!(kept["failed"], false, "{kept}");
    let ms = env
        .cluster
        .get("MachineSet", Some("openshift-machine-api"), "worker")
        .unwrap();
    assert_eq!(
        ms["spec"]["template"]["spec"]["providerSpec"]["value"]["template"],
        json!(format!("{INFRA_ID}-rhcos"))
    );
    assert!(
        env.find(&path).is_some(),
        "a referenced template was deleted"
    );
    let entry = kept["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "VSphereTemplate")
        .unwrap();
    assert_eq!(entry["result"], "kept", "{kept}");
    // Once nothing names it (the later MachineSet moved back, by another run), a second
    // rollback deletes it.
    let moved = env.run(
        "machineset_bootimage",
        json!({"run_id": "vs-2", "machinesets": ["later"], "image": format!("{INFRA_ID}-rhcos")}),
    );
    assert_eq!(moved["changed"], true, "{moved}");
    let again = env.run("rollback", json!({"run_id": "vs-1"}));
    assert_eq!(again["changed"], true, "{again}");
    assert!(
        env.find(&path).is_none(),
        "the unreferenced template is still there"
    );
    let third = env.run("rollback", json!({"run_id": "vs-1"}));
    assert_eq!(third["changed"], false, "{third}");
}

#[test]
fn a_wrong_password_or_no_vcenter_fails_clearly_and_changes_nothing() {
    let Some(env) = Env::start(&[], &[vsphere_machineset("worker", "LocalDS_0")], json!([])) else {
        return;
    };
    let before = env.vms();
    let r = env.run(
        "vsphere_template",
        json!({"vcenter_password": "not-the-password-42"}),
    );
    assert_eq!(r["failed"], true, "{r}");
    let msg = r["msg"].as_str().unwrap();
    assert!(
        msg.to_lowercase().contains("login") || msg.contains("password"),
        "{msg}"
    );
    assert!(!msg.contains("not-the-password-42"), "{msg}");
    assert_eq!(env.vms(), before);
    let down = env.run("vsphere_template", json!({"port": vcsim::free_port()}));
    assert_eq!(down["failed"], true, "{down}");
    assert!(down["msg"].as_str().unwrap().contains("refused"), "{down}");
    assert!(!env.dir.path().join("record.json").exists());
}

#[test]
fn vcenter_hostname_limits_the_run_to_that_vcenters_templates() {
    let mut elsewhere = vsphere_machineset("elsewhere", "LocalDS_0");
    elsewhere["spec"]["template"]["spec"]["providerSpec"]["value"]["workspace"]["server"] =
        json!("vcenter-b.example.com");
    let Some(env) = Env::start(
        &[],
        &[vsphere_machineset("worker", "LocalDS_0"), elsewhere],
        json!([]),
    ) else {
        return;
    };
    let r = env.run("vsphere_template", json!({}));
    assert_eq!(r["failed"], false, "{r}");
    assert_eq!(r["images"], json!({"worker": template_path()}), "{r}");
    let other = common::machineset(&r, "elsewhere");
    assert_eq!(other["template"], Value::Null);
    assert!(
        other["reason"]
            .as_str()
            .unwrap()
            .contains("vcenter-b.example.com"),
        "{other}"
    );
    assert!(r["warnings"].to_string().contains("not made"), "{r}");
}

#[test]
fn no_credentials_is_a_clear_error_naming_the_options() {
    let Some(env) = Env::start(&[], &[vsphere_machineset("worker", "LocalDS_0")], json!([])) else {
        return;
    };
    let mut a = env.args_of("vsphere_template", json!({}));
    let o = a.as_object_mut().unwrap();
    o.remove("vcenter_username");
    o.remove("vcenter_password");
    let r = run_module("vsphere_template", &a);
    assert_eq!(r.json["failed"], true);
    let msg = r.json["msg"].as_str().unwrap();
    assert!(
        msg.contains("vcenter_username") && msg.contains("VMWARE_USER"),
        "{msg}"
    );
}

#[test]
fn credentials_from_the_clusters_vsphere_creds_secret() {
    let Some(mut env) = Env::start(&[], &[vsphere_machineset("worker", "LocalDS_0")], json!([]))
    else {
        return;
    };
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let host = env.vc.host.clone();
    env.cluster.load(&[json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "vsphere-creds", "namespace": "kube-system"},
        "data": {format!("{host}.username"): b64(&env.vc.username),
                 format!("{host}.password"): b64(&env.vc.password)}})]);
    let mut a = env.args_of(
        "vsphere_template",
        json!({"vcenter_credentials_from_cluster": true}),
    );
    let o = a.as_object_mut().unwrap();
    o.remove("vcenter_username");
    o.remove("vcenter_password");
    let r = run_module("vsphere_template", &a);
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["changed"], true);
    assert!(!r.stdout.contains(&env.vc.password));
    assert!(env.find(&template_path()).unwrap().is_template);
    // Without the option the Secret is never read: a clear error instead.
    let mut a = env.args_of("vsphere_template", json!({}));
    a.as_object_mut().unwrap().remove("vcenter_password");
    let r = run_module("vsphere_template", &a);
    assert_eq!(r.json["failed"], true);
    assert!(r.json["msg"]
        .as_str()
        .unwrap()
        .contains("vcenter_credentials_from_cluster"));
}

/// Kill -9 while the disk uploads: the VM ImportVApp made is left, unmarked and no
/// template. The next run (another run id) finds it where the record of the unfinished
/// run says it was importing, deletes it and imports again; rollback then removes it.
#[test]
fn a_run_killed_during_the_upload_is_finished_by_the_next_and_rolled_back() {
    let Some(env) = Env::start_sized(
        &[],
        &[vsphere_machineset("worker", "LocalDS_0")],
        json!([]),
        256 << 20,
    ) else {
        return;
    };
    let path = template_path();
    let before = env.vms();
    let module = spawn_module(
        "vsphere_template",
        &env.args_of("vsphere_template", json!({"run_id": "vs-kill-1"})),
        &[],
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut half = None;
    while std::time::Instant::now() < deadline {
        if let Some(vm) = env.poll_find(&path) {
            half = Some(vm);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let half = half.expect("the import never created its VM");
    assert!(
        module.kill(),
        "the run ended before it could be killed mid-upload"
    );
    // vcsim drops the aborted upload's connection; give it a moment.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let vm = env.find(&path).unwrap();
    assert!(!vm.is_template && vm.build.is_none(), "{half:?} {vm:?}");
    // The record holds the import, written before it started.
    let record = std::fs::read_to_string(env.dir.path().join("record.json")).unwrap();
    assert!(record.contains(&path), "{record}");

    let r = env.run("vsphere_template", json!({"run_id": "vs-kill-2"}));
    assert_eq!(r["failed"], false, "{r}");
    assert_eq!(r["templates"][0]["action"], "reimport", "{r}");
    let vm = env.find(&path).unwrap();
    assert!(vm.is_template);
    assert_eq!(vm.build.as_deref(), Some(target_build().as_str()));
    assert_eq!(env.vms().len(), before.len() + 1);
    // A third run: present.
    let again = env.run("vsphere_template", json!({"run_id": "vs-kill-3"}));
    assert_eq!(again["changed"], false, "{again}");

    let rb = env.run("rollback", json!({"run_id": "vs-kill-2"}));
    assert_eq!(rb["failed"], false, "{rb}");
    assert!(env.find(&path).is_none());
    let rb = env.run("rollback", json!({"run_id": "vs-kill-1"}));
    assert_eq!(rb["failed"], false, "{rb}");
    assert_eq!(env.vms(), before);
}

/// The template a MachineSet names now.
fn template_of(c: &TestCluster, ms: &str) -> String {
    c.get("MachineSet", Some("openshift-machine-api"), ms)
        .unwrap()["spec"]["template"]["spec"]["providerSpec"]["value"]["template"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Issue 14's "Done when": `ansible-playbook ocp.bootimage.update` takes a vSphere cluster
/// from outdated to current with no manual vSphere step (vCenter credentials the
/// community.vmware way: `VMWARE_*`), a second run changes nothing, `--check` first
/// changes nothing anywhere, and `rollback.yml` puts the MachineSets back and deletes the
/// template.
#[test]
fn update_yml_takes_a_vsphere_cluster_from_outdated_to_current() {
    let _serial = ansible_harness::serial();
    let Some(ansibles) =
        ansible_harness::ansibles("update_yml_takes_a_vsphere_cluster_from_outdated_to_current")
    else {
        return;
    };
    let machinesets = [
        vsphere_machineset("worker", "LocalDS_0"),
        vsphere_machineset("infra", "LocalDS_0"),
    ];
    for a in &ansibles {
        let Some(env) = Env::start(&[], &machinesets, json!([])) else {
            return;
        };
        let objects = vsphere_cluster(&machinesets, json!([]));
        let mut ctx = ansible_harness::Ctx::new(a, env.cluster.kubeconfig(), &objects);
        ctx.env = vec![
            ("VMWARE_HOST".into(), env.vc.host.clone()),
            ("VMWARE_PORT".into(), env.vc.port.to_string()),
            ("VMWARE_USER".into(), env.vc.username.clone()),
            ("VMWARE_PASSWORD".into(), env.vc.password.clone()),
            ("VMWARE_VALIDATE_CERTS".into(), "false".into()),
        ];
        ctx.secrets
            .push(("vCenter password".into(), env.vc.password.clone()));
        let record = ctx.path("record.json");
        let cache = ctx.path("ova-cache");
        let vars = [
            "-e".to_string(),
            format!("stream_file={}", env.stream.display()),
            "-e".into(),
            format!("record_path={}", record.display()),
            "-e".into(),
            format!("ova_cache_dir={}", cache.display()),
        ];
        let vars: Vec<&str> = vars.iter().map(String::as_str).collect();
        let before_vms = env.vms();
        let path = template_path();

        // --check: the plan names the template, nothing is downloaded or written.
        let mut check = vars.clone();
        check.extend(["--check", "--diff"]);
        let r = ctx.playbook("ocp.bootimage.update", &check);
        r.assert_ok();
        assert_eq!(env.vms(), before_vms, "{}", r.out);
        assert_eq!(env.ova.count(), 0);
        assert_eq!(
            template_of(&env.cluster, "worker"),
            format!("{INFRA_ID}-rhcos")
        );

        // The update: template imported, both MachineSets point at it.
        let mut run = vars.clone();
        run.extend(["-e", "run_id=vs-update"]);
        let r = ctx.playbook("ocp.bootimage.update", &run);
        r.assert_ok()
            .assert_contains("Import the vSphere templates");
        let vm = env.find(&path).expect("update.yml made no template");
        assert!(vm.is_template);
        assert_eq!(template_of(&env.cluster, "worker"), path);
        assert_eq!(template_of(&env.cluster, "infra"), path);
        assert_eq!(env.ova.count(), 1, "one download for both MachineSets");
        // The audit: both MachineSets on the stream's build now (the build read from the
        // template's name).
        let audit = env.run("bootimage_info", json!({"gather_subset": ["min"]}));
        for name in ["worker", "infra"] {
            let m = common::machineset(&audit, name);
            assert_eq!(m["status"], "current", "{m}");
            assert_eq!(m["current_build"], json!(target_build()), "{m}");
        }

        // Again: nothing changes, nothing is downloaded.
        let r = ctx.playbook("ocp.bootimage.update", &vars);
        r.assert_ok();
        assert_eq!(r.count("changed"), 0, "{}", r.out);
        assert_eq!(env.ova.count(), 1);
        // The MachineSets are named with their own (current) template: the swap keeps them,
        // it does not skip them asking for a template.
        assert!(!r.out.contains("then give it as"), "{}", r.out);

        // rollback.yml: the MachineSets are back and the template is gone.
        let rb = [
            "-e".to_string(),
            "run_id=vs-update".into(),
            "-e".into(),
            format!("record_path={}", record.display()),
        ];
        let rb: Vec<&str> = rb.iter().map(String::as_str).collect();
        ctx.playbook("ocp.bootimage.rollback", &rb).assert_ok();
        assert_eq!(
            template_of(&env.cluster, "worker"),
            format!("{INFRA_ID}-rhcos")
        );
        assert_eq!(
            template_of(&env.cluster, "infra"),
            format!("{INFRA_ID}-rhcos")
        );
        assert!(env.find(&path).is_none(), "rollback.yml left the template");
        assert_eq!(env.vms(), before_vms);
    }
}

/// A benchmark, not a test (`#[ignore]`; `bench/vsphere-template.sh` runs it): the module —
/// the binary `OCP_BOOTIMAGE_BENCH_BIN` (default: this test build's) as the CLI runs it —
/// downloads a test OVA of `OCP_BOOTIMAGE_BENCH_OVA_MIB` MiB (default 1024) from the
/// in-process file server into an empty cache, checks its sha256 and imports it into
/// vcsim, under `/usr/bin/time -v`: prints the wall time, the download's seconds and the
/// process's peak RSS. Memory must not grow with the OVA.
#[test]
#[ignore]
fn bench_module_import() {
    let mib: u64 = std::env::var("OCP_BOOTIMAGE_BENCH_OVA_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let Some(env) = Env::start_sized(
        &[],
        &[vsphere_machineset("worker", "LocalDS_0")],
        json!([]),
        mib << 20,
    ) else {
        return;
    };
    let bin = std::env::var("OCP_BOOTIMAGE_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| common::binary());
    let args = env.args_of("vsphere_template", json!({}));
    let out = std::process::Command::new("/usr/bin/time")
        .arg("-v")
        .arg(&bin)
        .args(["vsphere_template", "--args", &args.to_string()])
        .output()
        .expect("/usr/bin/time");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let r: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    assert_eq!(r["changed"], true, "{r}");
    let field = |name: &str| {
        stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let rss_kib: f64 = field("Maximum resident set size (kbytes):")
        .parse()
        .unwrap_or(0.0);
    // The template's seconds include fetching the OVA (its first template fetches it).
    let fetch = r["ova"][0]["seconds"].as_f64().unwrap_or(0.0);
    let template = r["templates"][0]["seconds"].as_f64().unwrap_or(0.0);
    println!(
        "BENCH vsphere_template {mib} MiB OVA ({}): wall {}, download+sha256 {fetch:.2} s, import {:.2} s, peak RSS {:.1} MiB",
        bin.display(),
        field("Elapsed (wall clock) time (h:mm:ss or m:ss):"),
        template - fetch,
        rss_kib / 1024.0
    );
}
