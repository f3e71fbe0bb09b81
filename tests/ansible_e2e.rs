//! End to end with real Ansible: the collection `ocp.bootimage` is built
//! (`scripts/build-collection.sh` with the debug binary, stripped), installed with
//! `ansible-galaxy collection install` into a temporary collections path, and the
//! playbooks of `playbooks/` run with `ansible-playbook` (and modules with ad-hoc
//! `ansible`) against the in-process test API server loaded from
//! `examples/cluster-dump` — or against a real API server when
//! `OCP_BOOTIMAGE_TEST_KUBECONFIG` is set.
//!
//! Every test runs once per ansible-core installation named by
//! `OCP_BOOTIMAGE_ANSIBLE_VENVS`, through the harness of `tests/ansible_harness/`
//! (without the variable each test prints a SKIP line and passes, so a plain offline
//! `cargo test` still works; every run's output is searched for the fixture secrets).
//! The tests of this file run one at a time (ansible-playbook is CPU-heavy, and one
//! test measures per-task overhead).

mod ansible_harness;
mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use ansible_harness::*;
use common::{assert_cluster_equals, objects_under, root, run_module, TestCluster};
use serde_json::{json, Value};

// ------------------------------------------------------------------ fixtures

fn dump_dir() -> PathBuf {
    root().join("examples/cluster-dump")
}

fn dump_objects() -> Vec<Value> {
    objects_under(&dump_dir())
}

/// The audit of the shipped dump, as the module reports it (current and target images).
fn dump_audit() -> Value {
    let r = run_module("bootimage_info", &json!({"dump_dir": dump_dir()}));
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(
        r.json["compliant"], false,
        "the shipped dump should start non-compliant"
    );
    r.json
}

// ------------------------------------------------------------------ cluster helpers

fn stub_version(c: &TestCluster, secret: &str) -> String {
    let s = c
        .get("Secret", Some("openshift-machine-api"), secret)
        .unwrap_or_else(|| panic!("no Secret {secret}"));
    let ign: Value = serde_json::from_slice(&b64(s["data"]["userData"].as_str().unwrap())).unwrap();
    ign["ignition"]["version"].as_str().unwrap().to_string()
}

/// name → (min, max, annotations) of every MachineAutoscaler of the fixture.
fn autoscalers(c: &TestCluster, objects: &[Value]) -> BTreeMap<String, (Value, Value, Value)> {
    objects
        .iter()
        .filter(|o| o["kind"] == "MachineAutoscaler")
        .map(|o| {
            let name = o["metadata"]["name"].as_str().unwrap();
            let live = c
                .get(
                    "MachineAutoscaler",
                    o["metadata"]["namespace"].as_str(),
                    name,
                )
                .unwrap();
            (
                name.to_string(),
                (
                    live["spec"]["minReplicas"].clone(),
                    live["spec"]["maxReplicas"].clone(),
                    live["metadata"]["annotations"].clone(),
                ),
            )
        })
        .collect()
}

// ------------------------------------------------------------------ tests

#[test]
fn audit_check_diff_on_a_noncompliant_cluster_changes_nothing_shows_the_diffs_and_fails() {
    let _serial = serial();
    let Some(ansibles) = ansibles(
        "audit_check_diff_on_a_noncompliant_cluster_changes_nothing_shows_the_diffs_and_fails",
    ) else {
        return;
    };
    let objects = dump_objects();
    let audit = dump_audit();
    for a in &ansibles {
        let mut c = TestCluster::start();
        c.load(&objects);
        let start = c.read_back(&objects);
        let ctx = Ctx::new(a, c.kubeconfig(), &objects);
        let report = ctx.path("audit.json");
        let report_arg = format!("report_path={}", report.display());

        for (round, flags) in [
            ("--check --diff", &["--check", "--diff"][..]),
            ("no --check", &[][..]),
        ] {
            let _ = std::fs::remove_file(&report);
            c.clear_requests();
            let mut args = vec!["-e", report_arg.as_str()];
            args.extend_from_slice(flags);
            let r = ctx.playbook("ocp.bootimage.audit", &args);
            r.assert_failed().assert_contains("Not compliant:");
            assert_eq!(r.count("failed"), 1, "{round}: {}", r.out);
            assert_no_writes(&c, &format!("audit.yml ({round})"));
            // The diffs of what update.yml would change: every MachineSet's AMI before/after,
            // the stub (as digests), the temporary autoscaler pins.
            for m in audit["machinesets"].as_array().unwrap() {
                let name = m["name"].as_str().unwrap();
                let (before, after) = (
                    m["current_image"].as_str().unwrap(),
                    m["target_image"].as_str().unwrap(),
                );
                assert_ne!(before, after);
                r.assert_contains(&format!(
                    "--- before: MachineSet openshift-machine-api/{name}"
                ));
                assert!(
                    r.has_diff_line('-', &format!("\"{before}\""))
                        && r.has_diff_line('+', &format!("\"{after}\"")),
                    "{round}: no diff line from {before} to {after}:\n{}",
                    r.out
                );
            }
            r.assert_contains("--- before: Secret openshift-machine-api/worker-user-data")
                .assert_contains("--- before: MachineAutoscaler openshift-machine-api/");
            // The report: the module's output as JSON, and a human summary.
            let json = read_json(&report);
            assert_eq!(json["compliant"], false);
            assert_eq!(json["summary"]["outdated"], audit["summary"]["outdated"]);
            let text = std::fs::read_to_string(&report).unwrap();
            for (name, needle) in &ctx.secrets {
                assert!(!text.contains(needle.as_str()), "the report holds {name}");
            }
            assert!(
                json.get("invocation").is_none(),
                "the report holds Ansible's invocation"
            );
            assert!(
                !json["noncompliant_reasons"].as_array().unwrap().is_empty(),
                "{json}"
            );
            let txt = std::fs::read_to_string(format!("{}.txt", report.display())).unwrap();
            assert!(txt.starts_with("Boot image audit: NOT COMPLIANT"), "{txt}");
            for m in audit["machinesets"].as_array().unwrap() {
                assert!(txt.contains(m["name"].as_str().unwrap()), "{txt}");
            }
            assert!(txt.contains("worker-user-data"), "{txt}");
        }
        assert_cluster_equals(&c, &start);
    }
}

#[test]
fn update_playbook_updates_the_cluster_then_changes_nothing_and_the_audit_passes() {
    let _serial = serial();
    let Some(ansibles) =
        ansibles("update_playbook_updates_the_cluster_then_changes_nothing_and_the_audit_passes")
    else {
        return;
    };
    let objects = dump_objects();
    let audit = dump_audit();
    for a in &ansibles {
        let mut c = TestCluster::start();
        c.load(&objects);
        let ctx = Ctx::new(a, c.kubeconfig(), &objects);
        let scalers_before = autoscalers(&c, &objects);
        assert_eq!(stub_version(&c, "worker-user-data"), "2.2.0");

        // --check --diff first: nothing written, and the same changes a real run makes. The
        // stub is still 2.x under --check, so the swap is previewed as it runs after the
        // stub step (assume_stubs_migrated), not skipped.
        c.clear_requests();
        let r = ctx.playbook("ocp.bootimage.update", &["--check", "--diff"]);
        r.assert_ok();
        assert_no_writes(&c, "update.yml --check");
        // pause, stub, swap; the resume finds nothing paused, as the pause wrote nothing.
        assert_eq!(r.count("changed"), 3, "{}", r.out);
        r.assert_contains("--- before: Secret openshift-machine-api/worker-user-data");
        for m in audit["machinesets"].as_array().unwrap() {
            let (before, after) = (
                m["current_image"].as_str().unwrap(),
                m["target_image"].as_str().unwrap(),
            );
            assert!(
                r.has_diff_line('-', &format!("\"{before}\""))
                    && r.has_diff_line('+', &format!("\"{after}\"")),
                "update.yml --check: no diff line from {before} to {after}:\n{}",
                r.out
            );
        }
        assert_eq!(stub_version(&c, "worker-user-data"), "2.2.0");

        // -vvv: the most verbose output is searched for secrets too.
        let r = ctx.playbook("ocp.bootimage.update", &["-vvv"]);
        r.assert_ok();
        assert_eq!(r.count("failed"), 0);
        // pause, stub, swap, resume
        assert_eq!(r.count("changed"), 4, "{}", r.out);
        r.assert_contains("Run id update-")
            .assert_contains("COMPLIANT");

        for m in audit["machinesets"].as_array().unwrap() {
            let name = m["name"].as_str().unwrap();
            assert_eq!(
                ami(&c, name),
                m["target_image"].as_str().unwrap(),
                "{}: {name} not swapped",
                a.version
            );
        }
        assert_eq!(stub_version(&c, "worker-user-data"), "3.1.0");
        let scalers_after = autoscalers(&c, &objects);
        assert!(
            !scalers_after.is_empty(),
            "the fixture has MachineAutoscalers"
        );
        for (name, (min, max, annotations)) in &scalers_after {
            let (min0, max0, _) = &scalers_before[name];
            assert_eq!(
                (min, max),
                (min0, max0),
                "{name} not resumed to its min/max"
            );
            assert!(
                annotations
                    .get("ocp-bootimage.openshift.io/paused-autoscaling")
                    .is_none(),
                "{name} still carries the paused annotation: {annotations}"
            );
        }

        // Second run: nothing to do, nothing written.
        c.clear_requests();
        let r = ctx.playbook("ocp.bootimage.update", &[]);
        r.assert_ok().assert_contains("nothing to change");
        assert_eq!(r.count("changed"), 0, "{}", r.out);
        assert_no_writes(&c, "the second update.yml");

        // The audit passes on the compliant cluster (and writes nothing to it).
        let report = ctx.path("after.json");
        let r = ctx.playbook(
            "ocp.bootimage.audit",
            &[
                "--check",
                "--diff",
                "-e",
                &format!("report_path={}", report.display()),
            ],
        );
        r.assert_ok();
        assert_eq!(r.count("failed"), 0);
        assert_no_writes(&c, "audit.yml on the compliant cluster");
        assert_eq!(read_json(&report)["compliant"], true);
    }
}

#[test]
fn rollback_playbook_restores_the_starting_objects() {
    let _serial = serial();
    let Some(ansibles) = ansibles("rollback_playbook_restores_the_starting_objects") else {
        return;
    };
    let objects = dump_objects();
    let audit = dump_audit();
    let first = audit["machinesets"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    for a in &ansibles {
        let mut c = TestCluster::start();
        c.load(&objects);
        let start = c.read_back(&objects);
        let ctx = Ctx::new(a, c.kubeconfig(), &objects);
        let run_id = format!("e2e-{}", a.version.replace('.', "-"));
        let before = ami(&c, &first);

        ctx.playbook("ocp.bootimage.update", &["-e", &format!("run_id={run_id}")])
            .assert_ok()
            .assert_contains(&format!("Run id {run_id}"));
        assert_ne!(ami(&c, &first), before, "update.yml changed nothing");

        let r = ctx.playbook(
            "ocp.bootimage.rollback",
            &["-e", &format!("run_id={run_id}"), "--diff", "-vvv"],
        );
        r.assert_ok()
            .assert_contains("restored: MachineSet openshift-machine-api/")
            .assert_contains(&format!(
                "run {run_id} from Secret ocp-bootimage/ocp-bootimage-rollback-{run_id}"
            ));
        assert_eq!(r.count("changed"), 1, "{}", r.out);
        assert!(
            r.has_diff_line('+', &format!("\"{before}\"")),
            "no diff back to {before}:\n{}",
            r.out
        );
        assert_cluster_equals(&c, &start);

        // Again, with the default run (the last one): nothing left to restore.
        let r = ctx.playbook("ocp.bootimage.rollback", &[]);
        r.assert_ok();
        assert_eq!(r.count("changed"), 0, "{}", r.out);
        assert_cluster_equals(&c, &start);
    }
}

#[test]
fn adhoc_module_runs_coerce_strings_and_audit_playbook_reads_a_dump_without_a_cluster() {
    let _serial = serial();
    let Some(ansibles) = ansibles(
        "adhoc_module_runs_coerce_strings_and_audit_playbook_reads_a_dump_without_a_cluster",
    ) else {
        return;
    };
    let objects = dump_objects();
    let audit = dump_audit();
    let dump = dump_dir();
    for a in &ansibles {
        // No cluster at all: a kubeconfig that does not exist.
        let ctx = Ctx::new(a, PathBuf::from("/nonexistent/kubeconfig"), &objects);
        let adhoc = |fail: &str, verbose: &str| {
            ctx.run(
                "ansible",
                &[
                    verbose,
                    "localhost",
                    "-m",
                    "ocp.bootimage.bootimage_info",
                    "-a",
                    &format!("dump_dir={} fail_on_noncompliant={fail}", dump.display()),
                ],
            )
        };
        // -vvv: the result shows `invocation` (and the verbose output is searched for secrets).
        let r = adhoc("no", "-vvv");
        let marker = "localhost | SUCCESS => ";
        r.assert_ok().assert_contains(marker);
        let json: Value = serde_json::Deserializer::from_str(
            &r.stdout[r.stdout.find(marker).unwrap() + marker.len()..],
        )
        .into_iter()
        .next()
        .expect("no result")
        .unwrap_or_else(|e| panic!("ad-hoc result is not JSON ({e}):\n{}", r.out));
        assert_eq!(json["compliant"], false);
        assert_eq!(json["changed"], false);
        // "no" arrived as a string and was coerced to a boolean.
        assert_eq!(
            json["invocation"]["module_args"]["fail_on_noncompliant"],
            json!(false)
        );
        assert_eq!(json["machinesets"], audit["machinesets"]);

        let r = adhoc("yes", "-v");
        r.assert_failed()
            .assert_contains("localhost | FAILED!")
            .assert_contains("not compliant: ");

        // The audit playbook on the dump: report written, the preview skipped with a message.
        let report = ctx.path("dump.json");
        let r = ctx.playbook(
            "ocp.bootimage.audit",
            &[
                "-e",
                &format!("dump_dir={}", dump.display()),
                "-e",
                &format!("report_path={}", report.display()),
            ],
        );
        r.assert_failed()
            .assert_contains("needs a live cluster and is skipped")
            .assert_contains("Not compliant:");
        assert_eq!(r.count("failed"), 1);
        // The preview's three tasks, and the fleet report's three (one cluster, no inventory).
        assert_eq!(r.count("skipped"), 6, "{}", r.out);
        let json = read_json(&report);
        assert_eq!(json["compliant"], false);
        assert_eq!(json["cluster"], audit["cluster"]);
        assert_eq!(json["machinesets"], audit["machinesets"]);
    }
}

#[test]
fn per_task_overhead_of_ping_and_bootimage_info() {
    let _serial = serial();
    let Some(ansibles) = ansibles("per_task_overhead_of_ping_and_bootimage_info") else {
        return;
    };
    const N: usize = 20;
    let objects = dump_objects();
    let mut c = TestCluster::start();
    c.load(&objects);
    let dump = dump_dir();
    let play = |task: &str, n: usize| -> String {
        let mut s = String::from("- hosts: localhost\n  gather_facts: false\n  tasks:\n");
        if n == 0 {
            s = String::from("- hosts: localhost\n  gather_facts: false\n  tasks: []\n");
        }
        for i in 0..n {
            s.push_str(&format!("    - name: task {i}\n      {task}\n"));
        }
        s
    };
    for a in &ansibles {
        let ctx = Ctx::new(a, c.kubeconfig(), &objects);
        let plays = [
            ("empty play", play("", 0), 0),
            ("ansible.builtin.ping", play("ansible.builtin.ping:", N), N),
            (
                "ocp.bootimage.bootimage_info (dump)",
                play(
                    &format!(
                        "ocp.bootimage.bootimage_info: {{dump_dir: \"{}\"}}",
                        dump.display()
                    ),
                    N,
                ),
                N,
            ),
            (
                "ocp.bootimage.bootimage_info (API)",
                play("ocp.bootimage.bootimage_info: {}", N),
                N,
            ),
        ];
        let mut secs = Vec::new();
        for (i, (what, text, n)) in plays.iter().enumerate() {
            let file = ctx.path(&format!("overhead-{i}.yml"));
            std::fs::write(&file, text).unwrap();
            let r = ctx.playbook(file.to_str().unwrap(), &[]);
            r.assert_ok();
            if *n > 0 {
                assert_eq!(r.count("ok") as usize, *n, "{what}: {}", r.out);
                assert_eq!(r.count("changed"), 0, "{what}: {}", r.out);
            }
            secs.push(r.secs);
        }
        let empty = secs[0];
        let mut line = format!(
            "ansible-core {}: per-task overhead (N={N} tasks; whole run / N, and net of the empty play {:.2} s):",
            a.version, empty
        );
        for (i, (what, _, _)) in plays.iter().enumerate().skip(1) {
            line.push_str(&format!(
                "\n    {what:38} {:.3} s/task ({:.3} s/task net; run {:.2} s)",
                secs[i] / N as f64,
                (secs[i] - empty) / N as f64,
                secs[i]
            ));
        }
        eprintln!("{line}");
    }
}

#[test]
fn update_playbook_resumes_autoscaling_when_a_step_fails_and_can_continue_the_run() {
    let _serial = serial();
    let Some(ansibles) =
        ansibles("update_playbook_resumes_autoscaling_when_a_step_fails_and_can_continue_the_run")
    else {
        return;
    };
    let objects = dump_objects();
    let audit = dump_audit();
    for a in &ansibles {
        let mut c = TestCluster::start();
        let Some(server) = c.server() else {
            eprintln!(
                "SKIP ansible_e2e::update_playbook_resumes_autoscaling_when_a_step_fails on a real \
                 API server: it needs the in-process server's 403 injection"
            );
            return;
        };
        // The swap step is forbidden (RBAC without patch on machinesets).
        server.deny("patch", "machinesets");
        c.load(&objects);
        let start = c.read_back(&objects);
        let scalers_before = autoscalers(&c, &objects);
        let ctx = Ctx::new(a, c.kubeconfig(), &objects);
        let run_id = format!("e2e-fail-{}", a.version.replace('.', "-"));
        let r = ctx.playbook("ocp.bootimage.update", &["-e", &format!("run_id={run_id}")]);
        r.assert_failed()
            .assert_contains("The update stopped at 'Swap the boot images of the MachineSets'")
            .assert_contains(&format!(
                "ansible-playbook ocp.bootimage.rollback -e run_id={run_id}"
            ))
            .assert_contains("TASK [Resume autoscaling (restores the original min/max)]");
        assert_eq!(r.count("failed"), 1, "{}", r.out);
        // Autoscaling is back as it was, the MachineSets untouched, the stub migrated.
        assert_eq!(
            autoscalers(&c, &objects),
            scalers_before,
            "autoscaling not resumed"
        );
        for m in audit["machinesets"].as_array().unwrap() {
            let name = m["name"].as_str().unwrap();
            assert_eq!(ami(&c, name), m["current_image"].as_str().unwrap());
        }
        assert_eq!(stub_version(&c, "worker-user-data"), "3.1.0");

        // Permission granted: the same run id continues the update...
        c.server().unwrap().clear_denies();
        ctx.playbook("ocp.bootimage.update", &["-e", &format!("run_id={run_id}")])
            .assert_ok()
            .assert_contains("COMPLIANT");
        for m in audit["machinesets"].as_array().unwrap() {
            let name = m["name"].as_str().unwrap();
            assert_eq!(ami(&c, name), m["target_image"].as_str().unwrap());
        }
        // ...and one rollback of it undoes both attempts.
        ctx.playbook(
            "ocp.bootimage.rollback",
            &["-e", &format!("run_id={run_id}")],
        )
        .assert_ok();
        assert_cluster_equals(&c, &start);
    }
}

#[test]
fn update_playbook_honours_a_selection_and_refuses_managed_clusters() {
    let _serial = serial();
    let Some(ansibles) =
        ansibles("update_playbook_honours_a_selection_and_refuses_managed_clusters")
    else {
        return;
    };
    let objects = dump_objects();
    let audit = dump_audit();
    let machinesets = audit["machinesets"].as_array().unwrap();
    let chosen = "build09-kcxpl-worker-us-east-1a";
    assert!(machinesets.iter().any(|m| m["name"] == chosen));
    // A hosted control plane: managed.
    let managed: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut o = o.clone();
            if o["kind"] == "Infrastructure" {
                o["status"]["controlPlaneTopology"] = json!("External");
            }
            o
        })
        .collect();
    for a in &ansibles {
        // One MachineSet, named as a string (`-e machinesets=a,b` as a survey sends it).
        let mut c = TestCluster::start();
        c.load(&objects);
        let ctx = Ctx::new(a, c.kubeconfig(), &objects);
        let scalers_before = autoscalers(&c, &objects);
        let r = ctx.playbook(
            "ocp.bootimage.update",
            &[
                "-e",
                &format!("machinesets={chosen}"),
                "-e",
                "create_new=no",
            ],
        );
        r.assert_ok();
        for m in machinesets {
            let name = m["name"].as_str().unwrap();
            let want = if name == chosen {
                "target_image"
            } else {
                "current_image"
            };
            assert_eq!(ami(&c, name), m[want].as_str().unwrap(), "{name}");
        }
        // The stub the chosen MachineSet uses is migrated; its MachineSet has no autoscaler.
        assert_eq!(stub_version(&c, "worker-user-data"), "3.1.0");
        assert_eq!(autoscalers(&c, &objects), scalers_before);
        c.clear_requests();
        let r = ctx.playbook(
            "ocp.bootimage.update",
            &["-e", &format!("machinesets={chosen}")],
        );
        r.assert_ok();
        assert_eq!(r.count("changed"), 0, "{}", r.out);
        assert_no_writes(&c, "the second selected update");
        drop(ctx);
        drop(c);

        // A managed cluster: refused before anything is written, with the reason.
        let mut c = TestCluster::start();
        c.load(&managed);
        let start = c.read_back(&managed);
        c.clear_requests();
        let ctx = Ctx::new(a, c.kubeconfig(), &managed);
        let r = ctx.playbook("ocp.bootimage.update", &["-e", "allow_managed=false"]);
        r.assert_failed()
            .assert_contains("This is a managed cluster")
            .assert_contains("Nothing was changed");
        assert_eq!(r.count("failed"), 1);
        assert_no_writes(&c, "update.yml on a managed cluster");
        assert_cluster_equals(&c, &start);
    }
}

#[test]
fn update_playbook_with_a_canary_boots_one_machine_and_scales_back() {
    let _serial = serial();
    let Some(ansibles) =
        ansibles("update_playbook_with_a_canary_boots_one_machine_and_scales_back")
    else {
        return;
    };
    let objects = dump_objects();
    let audit = dump_audit();
    let chosen = "build09-kcxpl-worker-us-east-1a";
    let ms = audit["machinesets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == chosen)
        .unwrap()
        .clone();
    for a in &ansibles {
        let mut c = TestCluster::start();
        let Some(server) = c.server() else { return }; // the machine lifecycle is simulated in-process
                                                       // The canary node boots the swap's target build.
        server.simulate_machine_lifecycle(test_apiserver::MachineLifecycle {
            build: ms["target_build"].as_str().unwrap().to_string(),
            node_delay: std::time::Duration::from_millis(200),
            ready_delay: std::time::Duration::from_millis(200),
            log_delay: std::time::Duration::from_millis(400),
            nodes: true,
        });
        c.load(&objects);
        let ctx = Ctx::new(a, c.kubeconfig(), &objects);
        let r = ctx.playbook(
            "ocp.bootimage.update",
            &[
                "-e",
                &format!("machinesets={chosen}"),
                "-e",
                "canary=true",
                "-e",
                "canary_timeout=60",
            ],
        );
        r.assert_ok();
        assert!(
            r.out.contains("as expected"),
            "the canary result is shown: {}",
            r.out
        );
        assert_eq!(ami(&c, chosen), ms["target_image"].as_str().unwrap());
        let live = c
            .get("MachineSet", Some("openshift-machine-api"), chosen)
            .unwrap();
        assert_eq!(
            live["spec"]["replicas"], ms["replicas"],
            "scaled back after the canary"
        );
    }
}

#[test]
fn update_takes_a_cn_only_cluster_through_when_asked_to_regenerate_the_mcs_certificate() {
    let _serial = serial();
    let Some(ansibles) = ansibles(
        "update_takes_a_cn_only_cluster_through_when_asked_to_regenerate_the_mcs_certificate",
    ) else {
        return;
    };
    use common::legacy_mcs::{legacy_cluster, unb64, API_INT, MCO};
    let (objects, _) = legacy_cluster();
    let first = dump_audit()["machinesets"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    for a in &ansibles {
        let mut c = TestCluster::start();
        common::legacy_mcs::clean_leftovers(&c);
        c.load(&objects);
        if let Some(s) = c.server() {
            s.add_mcs_pods(3).unwrap();
            s.simulate_mcs_daemonset(test_apiserver::McsDaemonSet::default());
        }
        let ctx = Ctx::new(a, c.kubeconfig(), &objects);
        let before = ami(&c, &first);
        // Without the opt-in the play stops at the certificate, naming the module.
        let r = ctx.playbook("ocp.bootimage.update", &["-e", "run_id=e2e-mcs-stop"]);
        r.assert_failed()
            .assert_contains("must be regenerated")
            .assert_contains("mcs_certificate module");
        assert_eq!(
            ami(&c, &first),
            before,
            "the boot images were swapped anyway"
        );
        // With it: certificate regenerated, CA rolled out, boot images swapped.
        let r = ctx.playbook(
            "ocp.bootimage.update",
            &[
                "-e",
                "regenerate_mcs_certificate=true",
                "-e",
                "mcs_wait_timeout=5",
                "-e",
                "run_id=e2e-mcs",
            ],
        );
        r.assert_ok();
        let task = r
            .out
            .split("TASK [")
            .find(|t| t.starts_with("Regenerate the machine-config-server certificate"))
            .unwrap_or_else(|| panic!("no certificate task:\n{}", r.out));
        assert!(task.contains("changed: [localhost]"), "{task}");
        assert_ne!(ami(&c, &first), before, "update.yml swapped nothing");
        let tls = c
            .get("Secret", Some(MCO), "machine-config-server-tls")
            .unwrap();
        let crt = unb64(&tls["data"]["tls.crt"]);
        let stub = c
            .get("Secret", Some("openshift-machine-api"), "worker-user-data")
            .unwrap();
        let ign: Value = serde_json::from_slice(&unb64(&stub["data"]["userData"])).unwrap();
        let cas = ocp_bootimage::cert::ca_pems_from_ignition(&ign);
        let rep =
            ocp_bootimage::cert::analyze_mcs_certificate(&crt, &cas, std::time::SystemTime::now())
                .unwrap();
        assert_eq!(rep.dns_sans, vec![API_INT.to_string()]);
        assert_eq!(rep.ca_verified, Some(true));
        // A second run changes nothing.
        let again = ctx.playbook(
            "ocp.bootimage.update",
            &[
                "-e",
                "regenerate_mcs_certificate=true",
                "-e",
                "run_id=e2e-mcs-2",
            ],
        );
        again.assert_ok();
        assert_eq!(again.count("changed"), 0, "{}", again.out);
    }
}

#[test]
fn a_kubernetes_core_module_defaults_block_drives_every_module_in_a_real_play() {
    let _serial = serial();
    let Some(ansibles) =
        ansibles("a_kubernetes_core_module_defaults_block_drives_every_module_in_a_real_play")
    else {
        return;
    };
    let objects = dump_objects();
    let mut c = TestCluster::start();
    c.load(&objects);
    let start = c.read_back(&objects);
    let proxy = common::connect_proxy::ConnectProxy::start();
    // The block a playbook keeps for `group/k8s` (kubernetes.core's option names, a
    // proxy with its headers), given to this collection's group unchanged.
    let mut play = format!(
        r#"- hosts: localhost
  gather_facts: false
  module_defaults:
    group/ocp.bootimage.cluster:
      kubeconfig: "{{{{ lookup('ansible.builtin.env', 'K8S_AUTH_KUBECONFIG') }}}}"
      proxy: "{proxy}"
      no_proxy: "localhost,.svc,.cluster.local"
      proxy_headers:
        proxy_basic_auth: "automation:proxy-pass-5"
        user_agent: "playbook/1.0"
      persist_config: false
  tasks:
"#,
        proxy = proxy.url()
    );
    let extra = |m: &str| match m {
        "autoscaling" => "{state: paused}",
        "bootimage_canary" => "{machineset: build09-kcxpl-worker-aarch64-us-east-2a}",
        "stub_ignition" | "machineset_bootimage" | "skew_enforcement" | "mcs_certificate" => {
            "{record_path: /nonexistent/never-written.json}"
        }
        _ => "{}",
    };
    // Every module of the `cluster` group (`fleet_report` talks to no cluster).
    let modules: Vec<&str> = ocp_bootimage::modules::docs()
        .into_iter()
        .filter(|d| d.connects())
        .map(|d| d.name)
        .collect();
    for m in &modules {
        play.push_str(&format!(
            "    - name: {m}\n      ocp.bootimage.{m}: {}\n      check_mode: true\n      ignore_errors: true\n",
            extra(m)
        ));
    }
    for a in &ansibles {
        let ctx = Ctx::new(a, c.kubeconfig(), &objects);
        let file = ctx.path("k8s-defaults.yml");
        std::fs::write(&file, &play).unwrap();
        let r = ctx.playbook(file.to_str().unwrap(), &["-v"]);
        r.assert_ok();
        assert!(!r.out.contains("Unsupported parameters"), "{}", r.out);
        assert!(!r.out.contains("invalid module arguments"), "{}", r.out);
        assert!(!r.out.contains("proxy-pass-5"), "{}", r.out);
        // Every task ran (Ansible counts an ignored failure as ok too); the one failure is
        // the canary's own safety check on this dump, not the connection.
        assert_eq!(r.count("ok"), modules.len() as u64, "{}", r.out);
        assert_eq!(r.count("ignored"), 1, "{}", r.out);
        r.assert_contains("Pause autoscaling first");
    }
    let tunnels = proxy.tunnels();
    assert!(
        !tunnels.is_empty(),
        "the play's requests go through the proxy"
    );
    assert!(tunnels
        .iter()
        .all(|t| t.credentials.as_deref() == Some("automation:proxy-pass-5")));
    if let Some(reqs) = c.requests() {
        assert!(reqs
            .iter()
            .all(|q| q.user_agent.as_deref() == Some("playbook/1.0")));
    }
    assert_cluster_equals(&c, &start);
}
