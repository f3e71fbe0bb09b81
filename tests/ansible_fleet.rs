//! `ocp.bootimage.audit` over a fleet with real `ansible-playbook`: an inventory of three
//! hosts, each a cluster (an in-process test API server reached by the host's `api_url`
//! and `api_key`): one compliant (its MachineSets swapped by a real
//! `machineset_bootimage` run), one not compliant (the shipped dump), one refusing every
//! request. The play writes the fleet report once (every form, one file per cluster),
//! publishes the fleet verdict with `set_stats`, and fails the hosts of the two clusters
//! that are not compliant or could not be audited; no server gets a write request and
//! no token of the inventory appears in the output or the report. Runs once per
//! ansible-core of `OCP_BOOTIMAGE_ANSIBLE_VENVS` (see `tests/ansible_harness/`).

mod ansible_harness;
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ansible_harness::*;
use common::{objects_under, root, run_module, with_v3_stubs};
use serde_json::{json, Value};
use test_apiserver::TestApiServer;

fn server(objects: &[Value]) -> TestApiServer {
    let s = TestApiServer::start().expect("start test API server");
    for o in objects {
        s.insert(o.clone()).expect("insert");
    }
    s
}

/// The shipped dump's cluster with every MachineSet swapped to the stream's image by a
/// real `machineset_bootimage` run (as `tests/fleet_audit.rs` makes it): compliant.
fn compliant_server() -> TestApiServer {
    let s = server(&with_v3_stubs(objects_under(
        &root().join("examples/cluster-dump"),
    )));
    let r = run_module(
        "machineset_bootimage",
        &json!({"kubeconfig": s.kubeconfig_path(), "record_path": s.kubeconfig_path().with_extension("record")}),
    );
    assert_eq!(r.json["changed"], true, "{}", r.stdout);
    s.clear_requests();
    s
}

/// `host : ok=… failed=…` of the PLAY RECAP.
fn recap(out: &str, host: &str) -> BTreeMap<String, u64> {
    let line = out
        .lines()
        .rev()
        .find(|l| l.split_whitespace().next() == Some(host) && l.contains("ok="))
        .unwrap_or_else(|| panic!("no PLAY RECAP line of {host}:\n{out}"));
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap()))
        .collect()
}

/// The play's `set_stats` data (`per_host: false`), as the default callback prints it
/// with `ANSIBLE_SHOW_CUSTOM_STATS` (`\tRUN: {json}`): what AAP stores as the job's
/// artifacts.
fn run_stats(out: &str) -> Value {
    let line = out
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("RUN: "))
        .unwrap_or_else(|| panic!("no custom stats in:\n{out}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("stats are not JSON ({e}): {line}"))
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn audit_playbook_over_an_inventory_of_three_clusters_writes_the_fleet_report_and_fails_two_hosts()
{
    let _serial = serial();
    let Some(ansibles) = ansibles(
        "audit_playbook_over_an_inventory_of_three_clusters_writes_the_fleet_report_and_fails_two_hosts",
    ) else {
        return;
    };
    let objects = objects_under(&root().join("examples/cluster-dump"));
    let ok = compliant_server();
    let old = server(&objects);
    let denied = server(&objects);
    denied.deny("*", "*");
    let servers = [
        ("prod-east", &ok, "compliant"),
        ("prod-west", &old, "not_compliant"),
        ("stage-1", &denied, "forbidden"),
    ];
    for a in &ansibles {
        // No usable kubeconfig: each host reaches its cluster by its own host vars only.
        let scratch = tempfile::tempdir().unwrap();
        let nowhere = scratch.path().join("kubeconfig");
        std::fs::write(
            &nowhere,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:9'}\nusers:\n- name: u\n  user: {token: kubeconfig-token-not-used}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n",
        )
        .unwrap();
        let mut ctx = Ctx::new(a, nowhere, &objects);
        ctx.env
            .push(("ANSIBLE_SHOW_CUSTOM_STATS".into(), "true".into()));
        let tokens: Vec<String> = servers
            .iter()
            .map(|(name, _, _)| format!("sha256~{name}-token-{}", a.version.replace('.', "")))
            .collect();
        let host = |i: usize| {
            let (name, s, _) = servers[i];
            format!(
                "        {name}:\n          api_url: {}\n          api_key: {}\n",
                s.url(),
                tokens[i]
            )
        };
        let inventory = ctx.path("clusters.yml");
        std::fs::write(
            &inventory,
            format!(
                "clusters:\n  children:\n    prod:\n      hosts:\n{}{}    stage:\n      hosts:\n{}",
                host(0),
                host(1),
                host(2)
            ),
        )
        .unwrap();
        for (_, s, _) in &servers {
            s.clear_requests();
        }
        let report_dir = ctx.path("fleet");
        let r = ctx.playbook(
            "ocp.bootimage.audit",
            &[
                "-i",
                inventory.to_str().unwrap(),
                "-f",
                "3",
                "-e",
                &format!("fleet_report_dir={}", report_dir.display()),
            ],
        );
        r.assert_failed()
            .assert_contains("Not compliant:")
            .assert_contains("Not audited:");
        // The job status per host: the two clusters that are not compliant or could not
        // be audited fail their hosts; the compliant one passes.
        let failures: Vec<(&str, u64)> = servers
            .iter()
            .map(|(name, _, _)| (*name, recap(&r.stdout, name)["failed"]))
            .collect();
        assert_eq!(
            failures,
            [("prod-east", 0), ("prod-west", 1), ("stage-1", 1)],
            "{}",
            r.out
        );
        // Each host's own server was asked (its api_url and api_key), and read only.
        for (name, s, _) in &servers {
            let requests = s.requests();
            assert!(!requests.is_empty(), "{name}: its server got no request");
            assert_eq!(s.write_count(), 0, "{name}: write requests sent");
        }
        // The fleet report: the three clusters with their outcomes and verdicts.
        let fleet = read_json(&report_dir.join("fleet-report.json"));
        assert_eq!(fleet["schema"], "ocp-bootimage.fleet/v1");
        assert_eq!(fleet["verdict"], "incomplete");
        let got: BTreeMap<&str, (&str, Value)> = fleet["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["name"].as_str().unwrap(),
                    (t["outcome"].as_str().unwrap(), t["verdict"].clone()),
                )
            })
            .collect();
        let want: BTreeMap<&str, (&str, Value)> = BTreeMap::from([
            ("prod-east", ("audited", json!("compliant"))),
            ("prod-west", ("audited", json!("not_compliant"))),
            ("stage-1", ("forbidden", Value::Null)),
        ]);
        assert_eq!(got, want);
        for f in [
            "fleet-report.yaml",
            "fleet-report.txt",
            "fleet-report.junit.xml",
            "fleet-report.html",
            "fleet-report.prom",
        ] {
            assert!(report_dir.join(f).is_file(), "no {f}");
        }
        for (name, _, _) in &servers {
            let c = read_json(&report_dir.join(format!("clusters/{name}.json")));
            assert!(c.get("invocation").is_none(), "{name}: {c}");
        }
        assert_eq!(
            read_json(&report_dir.join("clusters/prod-west.json"))["verdict"],
            "not_compliant"
        );
        // What AAP keeps of the job for a workflow.
        let stats = &run_stats(&r.stdout)["bootimage_fleet"];
        assert_eq!(stats["verdict"], "incomplete", "{stats}");
        assert_eq!(stats["exit_code"], 2);
        assert_eq!(stats["not_audited"], json!(["stage-1"]));
        assert_eq!(stats["not_compliant"], json!(["prod-west"]));
        assert_eq!(stats["summary"]["clusters"], 3);
        assert_eq!(stats["summary"]["compliant"], 1);
        assert_eq!(
            PathBuf::from(stats["report_dir"].as_str().unwrap()),
            report_dir.canonicalize().unwrap()
        );
        // No token of the inventory anywhere.
        for t in &tokens {
            assert!(
                !r.out.contains(t.as_str()),
                "the output shows {t}:\n{}",
                r.out
            );
            for f in files_under(&report_dir) {
                let text = std::fs::read_to_string(&f).unwrap();
                assert!(!text.contains(t.as_str()), "{} holds {t}", f.display());
            }
        }
    }
}
