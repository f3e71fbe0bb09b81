//! The simulated machine lifecycle over plain HTTP: MachineSet scale-ups create Machines,
//! then Nodes, Ready conditions and machine-config-daemon pods whose logs carry the aleph
//! line; scale-downs and deletions remove them; none of it is a logged request.

mod common;

use std::cell::Cell;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use test_apiserver::{MachineLifecycle, TestApiServer};

const NS: &str = "openshift-machine-api";
const MS_NAME: &str = "build01-9hdwj-worker-us-east-1a";
const BUILD: &str = "418.94.202501221327-0";
const MACHINES: &str =
    "/apis/machine.openshift.io/v1beta1/namespaces/openshift-machine-api/machines";
const NODES: &str = "/api/v1/nodes";
const MCD_PODS: &str = "/api/v1/namespaces/openshift-machine-config-operator/pods";
const MACHINESET_LABEL: &str = "machine.openshift.io/cluster-api-machineset";

/// A server with the AWS MachineSet fixture loaded.
fn server() -> TestApiServer {
    let s = TestApiServer::start().expect("server starts");
    s.load_path(&fixtures().join("machinesets/aws"))
        .expect("fixtures load");
    s
}

fn lifecycle(node_ms: u64, ready_ms: u64, log_ms: u64) -> MachineLifecycle {
    MachineLifecycle {
        build: BUILD.to_string(),
        node_delay: Duration::from_millis(node_ms),
        ready_delay: Duration::from_millis(ready_ms),
        log_delay: Duration::from_millis(log_ms),
        nodes: true,
    }
}

/// A client that counts the requests it sends.
struct Client<'a> {
    s: &'a TestApiServer,
    sent: Cell<usize>,
    writes: Cell<usize>,
}

impl<'a> Client<'a> {
    fn new(s: &'a TestApiServer) -> Client<'a> {
        Client {
            s,
            sent: Cell::new(0),
            writes: Cell::new(0),
        }
    }

    fn get(&self, path: &str) -> Resp {
        self.sent.set(self.sent.get() + 1);
        get(self.s, path)
    }

    fn items(&self, path: &str) -> Vec<Value> {
        self.get(path).json()["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn machines(&self) -> Vec<Value> {
        self.items(&format!(
            "{MACHINES}?labelSelector={}%3D{MS_NAME}",
            MACHINESET_LABEL.replace('/', "%2F")
        ))
    }

    fn scale(&self, replicas: u64) {
        self.sent.set(self.sent.get() + 1);
        self.writes.set(self.writes.get() + 1);
        let r = merge(
            self.s,
            &format!("{MS}/{MS_NAME}"),
            &json!({"spec": {"replicas": replicas}}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }

    fn delete(&self, path: &str) -> Resp {
        self.sent.set(self.sent.get() + 1);
        self.writes.set(self.writes.get() + 1);
        delete(self.s, path)
    }

    /// Asserts the server logged exactly this client's requests.
    fn assert_only_mine(&self) {
        let log = self.s.requests();
        assert_eq!(log.len(), self.sent.get(), "{log:#?}");
        assert_eq!(self.s.write_count(), self.writes.get());
        assert!(log.iter().all(|r| r.method != "POST"));
    }
}

fn name(v: &Value) -> String {
    v["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Polls `probe` until it gives a value (10 s at most).
fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ready(node: &Value) -> Option<String> {
    node["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
        .and_then(|c| c["status"].as_str())
        .map(str::to_string)
}

#[test]
fn scale_up_brings_a_machine_node_and_mcd_log_and_scale_down_removes_them() {
    let s = server();
    s.simulate_machine_lifecycle(lifecycle(400, 600, 900));
    let ms = s
        .get(
            "machine.openshift.io/v1beta1",
            "MachineSet",
            Some(NS),
            MS_NAME,
        )
        .expect("fixture MachineSet");
    let c = Client::new(&s);
    c.scale(1);

    let machines = c.machines();
    assert_eq!(machines.len(), 1, "{machines:#?}");
    let m = &machines[0];
    let machine = name(m);
    assert!(machine.starts_with(&format!("{MS_NAME}-")));
    let suffix = &machine[MS_NAME.len() + 1..];
    assert_eq!(suffix.len(), 5);
    assert!(suffix
        .chars()
        .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit()));
    assert_eq!(
        m["metadata"]["labels"],
        ms["spec"]["template"]["metadata"]["labels"]
    );
    assert_eq!(m["metadata"]["ownerReferences"][0]["kind"], "MachineSet");
    assert_eq!(m["metadata"]["ownerReferences"][0]["name"], MS_NAME);
    assert_eq!(
        m["metadata"]["ownerReferences"][0]["uid"],
        ms["metadata"]["uid"]
    );
    assert_eq!(m["spec"], ms["spec"]["template"]["spec"]);
    assert_eq!(m["status"]["phase"], "Provisioning");
    assert!(m["status"]["nodeRef"].is_null());
    assert!(m["metadata"]["creationTimestamp"]
        .as_str()
        .is_some_and(|t| t.len() == 20 && t.ends_with('Z')));
    assert_eq!(c.get(&format!("{NODES}/{machine}")).status, 404);

    // The Node appears, not Ready yet, with an MCD pod whose log has no aleph line yet.
    let node = wait_for("the node", || {
        let r = c.get(&format!("{NODES}/{machine}"));
        (r.status == 200).then(|| r.json())
    });
    assert_eq!(ready(&node).as_deref(), Some("False"));
    let labels = &node["metadata"]["labels"];
    assert_eq!(labels["kubernetes.io/hostname"], machine.as_str());
    assert_eq!(labels["node-role.kubernetes.io/worker"], "");
    assert_eq!(labels["kubernetes.io/arch"], "amd64");
    let m = c.get(&format!("{MACHINES}/{machine}")).json();
    assert_eq!(m["status"]["phase"], "Running");
    assert_eq!(
        m["status"]["nodeRef"],
        json!({"kind": "Node", "name": machine, "uid": node["metadata"]["uid"]})
    );
    let pods = c.items(&format!(
        "{MCD_PODS}?labelSelector=k8s-app%3Dmachine-config-daemon&fieldSelector=spec.nodeName%3D{machine}"
    ));
    assert_eq!(pods.len(), 1, "{pods:#?}");
    let pod = name(&pods[0]);
    assert!(pod.starts_with("machine-config-daemon-") && pod.len() == 27);
    assert_eq!(pods[0]["status"]["phase"], "Running");
    assert_eq!(
        pods[0]["spec"]["containers"][0]["name"],
        "machine-config-daemon"
    );
    let log_path = format!("{MCD_PODS}/{pod}/log?container=machine-config-daemon");
    let early = c.get(&log_path);
    assert_eq!(early.status, 200);
    assert!(!early.body.is_empty());
    assert!(
        !early.body.contains("CoreOS aleph version"),
        "{}",
        early.body
    );

    // Then Ready, then the aleph line at the start of the log.
    wait_for("Ready=True", || {
        (ready(&c.get(&format!("{NODES}/{machine}")).json()).as_deref() == Some("True"))
            .then_some(())
    });
    let log = wait_for("the aleph line", || {
        let body = c.get(&log_path).body;
        body.contains("CoreOS aleph version").then_some(body)
    });
    assert!(
        log.starts_with(
            "I1125 10:00:00.000000    1234 coreos.go:54] CoreOS aleph version: mtime=2026-01-01 00:00:00 +0000 UTC\n{\n   \"build\": \"418.94.202501221327-0\",\n   \"imgid\": \"rhcos-418.94.202501221327-0-qemu.x86_64.qcow2\",\n   \"ostree-commit\": \""
        ),
        "{log}"
    );
    assert!(log.contains(&early.body));
    let head = c.get(&format!("{log_path}&limitBytes=200")).body;
    assert!(head.contains(&format!("\"build\": \"{BUILD}\"")), "{head}");

    // Scaling back removes the Machine, its Node and its pod at once.
    c.scale(0);
    assert!(c.machines().is_empty());
    assert_eq!(c.get(&format!("{MACHINES}/{machine}")).status, 404);
    assert_eq!(c.get(&format!("{NODES}/{machine}")).status, 404);
    assert_eq!(c.get(&format!("{MCD_PODS}/{pod}")).status, 404);
    c.assert_only_mine();
}

#[test]
fn scale_down_deletes_the_newest_machine_and_new_machines_are_youngest() {
    let s = server();
    // An existing Machine created "in the future": new ones must still be younger.
    s.insert(json!({
        "apiVersion": "machine.openshift.io/v1beta1",
        "kind": "Machine",
        "metadata": {
            "name": "old", "namespace": NS,
            "labels": {MACHINESET_LABEL: MS_NAME},
            "creationTimestamp": "2099-01-01T00:00:00Z",
        },
        "spec": {},
    }))
    .expect("insert");
    s.simulate_machine_lifecycle(lifecycle(0, 0, 0));
    let c = Client::new(&s);
    c.scale(3);
    let machines = c.machines();
    assert_eq!(machines.len(), 3);
    let mut stamps: Vec<String> = machines
        .iter()
        .map(|m| {
            m["metadata"]["creationTimestamp"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    stamps.sort();
    assert_eq!(stamps[0], "2099-01-01T00:00:00Z");
    assert_eq!(stamps[1], "2099-01-01T00:00:01Z");
    assert_eq!(stamps[2], "2099-01-01T00:00:02Z");
    let by_stamp = |t: &str| {
        machines
            .iter()
            .find(|m| m["metadata"]["creationTimestamp"] == t)
            .map(name)
            .unwrap_or_default()
    };
    let (middle, newest) = (by_stamp(&stamps[1]), by_stamp(&stamps[2]));
    for m in [&middle, &newest] {
        wait_for("the nodes", || {
            (c.get(&format!("{NODES}/{m}")).status == 200).then_some(())
        });
    }

    c.scale(2);
    let left: Vec<String> = c.machines().iter().map(name).collect();
    assert_eq!(left.len(), 2);
    assert!(left.contains(&"old".to_string()) && left.contains(&middle));
    assert_eq!(c.get(&format!("{NODES}/{newest}")).status, 404);
    assert_eq!(c.get(&format!("{NODES}/{middle}")).status, 200);
    let on = |node: &str| {
        c.items(&format!("{MCD_PODS}?fieldSelector=spec.nodeName%3D{node}"))
            .len()
    };
    assert_eq!(on(&newest), 0);
    assert_eq!(on(&middle), 1);

    // A Machine annotated for deletion goes first, even the oldest.
    let r = merge(
        &s,
        &format!("{MACHINES}/old"),
        &json!({"metadata": {"annotations": {"machine.openshift.io/delete-machine": "true"}}}),
    );
    assert_eq!(r.status, 200);
    c.sent.set(c.sent.get() + 1);
    c.writes.set(c.writes.get() + 1);
    c.scale(1);
    let left: Vec<String> = c.machines().iter().map(name).collect();
    assert_eq!(left, vec![middle.clone()]);
    c.assert_only_mine();
}

#[test]
fn without_nodes_machines_never_get_one() {
    let s = server();
    s.simulate_machine_lifecycle(MachineLifecycle {
        nodes: false,
        ..lifecycle(0, 0, 0)
    });
    let c = Client::new(&s);
    c.scale(2);
    assert_eq!(c.machines().len(), 2);
    std::thread::sleep(Duration::from_millis(500));
    let machines = c.machines();
    assert!(machines
        .iter()
        .all(|m| m["status"]["phase"] == "Provisioning" && m["status"]["nodeRef"].is_null()));
    assert!(c.items(NODES).is_empty());
    assert!(c.items(MCD_PODS).is_empty());
    c.scale(0);
    assert!(c.machines().is_empty());
    c.assert_only_mine();
}

#[test]
fn a_machine_deleted_before_its_node_stays_gone() {
    let s = server();
    s.simulate_machine_lifecycle(lifecycle(300, 0, 0));
    let c = Client::new(&s);
    c.scale(1);
    let machine = name(&c.machines()[0]);
    assert_eq!(c.delete(&format!("{MACHINES}/{machine}")).status, 200);
    // Scaled down before its node too.
    c.scale(2);
    let pending: Vec<String> = c.machines().iter().map(name).collect();
    assert_eq!(pending.len(), 2);
    c.scale(0);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(c.get(&format!("{MACHINES}/{machine}")).status, 404);
    assert!(c.machines().is_empty());
    assert!(c.items(NODES).is_empty());
    assert!(c.items(MCD_PODS).is_empty());
    c.assert_only_mine();
}

#[test]
fn a_deleted_machine_takes_its_node_and_pod_along() {
    let s = server();
    s.simulate_machine_lifecycle(lifecycle(0, 0, 0));
    let c = Client::new(&s);
    c.scale(1);
    let machine = name(&c.machines()[0]);
    wait_for("the pod's log", || {
        let pods = c.items(MCD_PODS);
        let pod = pods.first().map(name)?;
        c.get(&format!(
            "{MCD_PODS}/{pod}/log?container=machine-config-daemon"
        ))
        .body
        .contains(BUILD)
        .then_some(())
    });
    assert_eq!(c.delete(&format!("{MACHINES}/{machine}")).status, 200);
    assert_eq!(c.get(&format!("{NODES}/{machine}")).status, 404);
    assert!(c.items(MCD_PODS).is_empty());
    // Not replaced: only MachineSet writes reconcile.
    assert!(c.machines().is_empty());
    c.assert_only_mine();
}

#[test]
fn stopped_simulation_does_nothing_and_cancels_pending_steps() {
    let s = server();
    let c = Client::new(&s);
    c.scale(1);
    assert!(c.machines().is_empty());
    s.simulate_machine_lifecycle(lifecycle(300, 0, 0));
    c.scale(2);
    assert_eq!(c.machines().len(), 2);
    s.stop_machine_lifecycle();
    std::thread::sleep(Duration::from_millis(700));
    assert!(c.items(NODES).is_empty());
    c.scale(0);
    assert_eq!(c.machines().len(), 2);
    c.assert_only_mine();
}

#[test]
fn simulated_writes_are_watch_events_and_arch_comes_from_capacity_labels() {
    let s = server();
    let r = merge(
        &s,
        &format!("{MS}/{MS_NAME}"),
        &json!({"metadata": {"annotations": {
            "capacity.cluster-autoscaler.kubernetes.io/labels": "kubernetes.io/arch=arm64"
        }}}),
    );
    assert_eq!(r.status, 200);
    s.clear_requests();
    s.simulate_machine_lifecycle(lifecycle(0, 0, 0));
    let rv = s.resource_version();
    let c = Client::new(&s);
    c.scale(1);
    let machine = name(&c.machines()[0]);
    let pod = wait_for("the aleph line", || {
        let pod = c.items(MCD_PODS).first().map(name)?;
        c.get(&format!(
            "{MCD_PODS}/{pod}/log?container=machine-config-daemon"
        ))
        .body
        .contains("rhcos-418.94.202501221327-0-qemu.aarch64.qcow2")
        .then_some(pod)
    });
    wait_for("Ready=True", || {
        (ready(&c.get(&format!("{NODES}/{machine}")).json()).as_deref() == Some("True"))
            .then_some(())
    });
    assert_eq!(
        c.get(&format!("{NODES}/{machine}")).json()["metadata"]["labels"]["kubernetes.io/arch"],
        "arm64"
    );
    assert!(s.resource_version() >= rv + 6);
    let events = |path: &str| -> Vec<(String, Value)> {
        c.get(&format!(
            "{path}?watch=true&resourceVersion={rv}&timeoutSeconds=1"
        ))
        .body
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|e| {
            (
                e["type"].as_str().unwrap_or_default().to_string(),
                e["object"].clone(),
            )
        })
        .collect()
    };
    let machine_events = events(MACHINES);
    let kinds: Vec<&str> = machine_events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(kinds, ["ADDED", "MODIFIED"]);
    assert_eq!(machine_events[1].1["status"]["phase"], "Running");
    let node_events = events(NODES);
    let kinds: Vec<&str> = node_events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(kinds, ["ADDED", "MODIFIED"]);
    assert_eq!(
        events(MCD_PODS)
            .iter()
            .map(|(_, o)| name(o))
            .collect::<Vec<_>>(),
        [pod]
    );
    c.assert_only_mine();
}
