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
//! The harness (installing the collection, running ansible in a clean environment,
//! searching every output for the fixture secrets) is `tests/ansible_harness/`, shared
//! with `tests/ansible_e2e.rs`.

mod ansible_harness;
mod common;

use std::path::PathBuf;
use std::process::Command;

use ansible_harness::*;
use common::{assert_cluster_equals, objects_under, root, run_module, TestCluster};
use serde_json::{json, Value};

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
    assert_eq!(
        win["os_stream"],
        Value::Null,
        "no RHCOS stream applies to Windows"
    );
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
/// `--fail-on-noncompliant` exit 1; the table's last paragraph names the verdict.
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
        // The verdict is the last paragraph (wrapped at word boundaries).
        let last = table
            .trim_end()
            .rsplit("\n\n")
            .next()
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
