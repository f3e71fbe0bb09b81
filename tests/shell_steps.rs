//! The update procedure run one step at a time from a shell (each step its own process):
//! `OCP_BOOTIMAGE_RUN_ID` puts every step in one run, so `rollback` without `run_id`
//! restores all of them — not only the last step (which, after `autoscaling resumed`,
//! would re-pause the autoscalers and leave the MachineSets swapped). Without it each step
//! is a run of its own and `rollback` names the others (`other_runs`). In-process server
//! by default; a real API server with `OCP_BOOTIMAGE_TEST_KUBECONFIG`.

mod common;

use common::{
    assert_cluster_equals, objects_under, root, run_module, run_module_env, with_v3_stubs,
    TestCluster,
};
use serde_json::{json, Value};

/// The shipped dump with its stubs migrated (step 2 done), so that the swap happens.
fn start() -> Vec<Value> {
    with_v3_stubs(objects_under(&root().join("examples/cluster-dump")))
}

/// Pause, swap, resume: three processes.
const STEPS: [(&str, Option<&str>); 3] = [
    ("autoscaling", Some("paused")),
    ("machineset_bootimage", None),
    ("autoscaling", Some("resumed")),
];

fn step_args(kc: &std::path::Path, state: Option<&str>) -> Value {
    let mut a = json!({ "kubeconfig": kc });
    if let Some(s) = state {
        a["state"] = json!(s);
    }
    a
}

#[test]
fn one_run_id_from_the_environment_makes_the_steps_one_run() {
    let objects = start();
    let mut c = TestCluster::start();
    c.load(&objects);
    let kc = c.kubeconfig();
    let env = [("OCP_BOOTIMAGE_RUN_ID", "shell-update-1")];
    for (module, state) in STEPS {
        let r = run_module_env(module, &step_args(&kc, state), &env);
        assert_eq!(r.json["failed"], false, "{module}: {}", r.stdout);
        assert_eq!(r.json["changed"], true, "{module}: {}", r.stdout);
        assert_eq!(r.json["run_id"], "shell-update-1", "{module}: {}", r.stdout);
    }
    let runs = run_module("bootimage_runs", &json!({"kubeconfig": kc}));
    assert_eq!(
        runs.json["runs"].as_array().unwrap().len(),
        1,
        "{}",
        runs.stdout
    );
    assert_eq!(
        runs.json["runs"][0]["modules"],
        json!(["autoscaling", "machineset_bootimage"]),
        "{}",
        runs.stdout
    );

    // A later shell, without the variable: the last run is the whole update.
    let rb = run_module("rollback", &json!({"kubeconfig": kc}));
    assert_eq!(rb.json["failed"], false, "{}", rb.stdout);
    assert_eq!(rb.json["run_id"], "shell-update-1");
    assert_eq!(rb.json["conflicts"], 0, "{}", rb.stdout);
    assert_eq!(rb.json["other_runs"], json!([]), "{}", rb.stdout);
    let originals: Vec<Value> = objects
        .iter()
        .filter(|o| o["kind"] == "MachineSet" || o["kind"] == "MachineAutoscaler")
        .cloned()
        .collect();
    assert!(!originals.is_empty());
    assert_cluster_equals(&c, &originals);
}

#[test]
fn without_it_each_step_is_its_own_run_and_rollback_names_the_others() {
    let mut c = TestCluster::start();
    c.load(&start());
    let kc = c.kubeconfig();
    let mut ids = Vec::new();
    for (module, state) in STEPS {
        let r = run_module(module, &step_args(&kc, state));
        assert_eq!(r.json["changed"], true, "{module}: {}", r.stdout);
        ids.push(r.json["run_id"].as_str().unwrap().to_string());
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "{ids:?}");
    // Check mode shows what a rollback without run_id would do: only the last step.
    let rb = run_module(
        "rollback",
        &json!({"kubeconfig": kc, "_ansible_check_mode": true}),
    );
    assert_eq!(rb.json["run_id"], ids[2].as_str(), "{}", rb.stdout);
    let others: Vec<&str> = rb.json["other_runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["run_id"].as_str())
        .collect();
    assert!(
        others.contains(&ids[0].as_str()) && others.contains(&ids[1].as_str()),
        "{}",
        rb.stdout
    );
    assert!(
        rb.json["warnings"].to_string().contains(&ids[1]),
        "the warning names the other runs: {}",
        rb.stdout
    );
}
