//! The canary (`bootimage_canary`), as pure decisions: which build the canary node must
//! boot, which MachineAutoscalers it widens (and which make it refuse), the scale-up and
//! scale-back changes (also re-planned after a 409), what the wait is waiting for, and
//! the verdict. The shell scales, waits, reads the node's log and scales back.

use serde_json::{json, Value};

use super::audit::{machineset_context, AuditInput, PAUSED_ANNOTATION};
use super::autoscaler::replicas_of;
use super::cluster::snapshot_cluster_info;
use super::machineset::assess;
use super::ObjectChange;
use crate::cluster::{name_of, resources};
use crate::stream::BuildId;

/// What the canary works on, decided before anything changes.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryPlan {
    pub namespace: String,
    /// The MachineSet scaled.
    pub machineset: String,
    /// Its replicas before the canary (and after it).
    pub replicas: i64,
    /// The build the canary node must boot.
    pub expected: BuildId,
    /// The paused MachineAutoscalers of the MachineSet, widened for the canary.
    pub autoscalers: Vec<Value>,
    /// The scale-up: the widened pins first, then the MachineSet.
    pub up: Vec<ObjectChange>,
}

/// Parses an explicit `expected_build`.
pub fn parse_expected(build: &str) -> Result<BuildId, String> {
    build
        .parse()
        .map_err(|e| format!("expected_build {build:?} is not a build id: {e}"))
}

/// The build of the image the MachineSet `ms` names now (after `machineset_bootimage`,
/// the swap's target build), from the stream and the known RHCOS images.
pub fn current_build(input: &AuditInput, ms: &Value) -> Option<BuildId> {
    let snapshot = input.snapshot;
    let cluster =
        snapshot_cluster_info(snapshot, &snapshot.machinesets, input.options.architecture);
    let ctx = machineset_context(input, &cluster, &snapshot.machinesets, &mut Vec::new());
    assess(ms, &ctx).current_build.and_then(|b| b.parse().ok())
}

/// Why the canary cannot start without `expected_build`.
pub fn undetermined(machineset: &str) -> String {
    format!(
        "the build of the image MachineSet {machineset} names cannot be determined; give expected_build"
    )
}

/// Whether the MachineAutoscaler `ma` scales the MachineSet `ms` (a target without a
/// kind is taken for a MachineSet).
fn targets(ma: &Value, ms: &str) -> bool {
    ma.pointer("/spec/scaleTargetRef/name")
        .and_then(Value::as_str)
        == Some(ms)
        && ma
            .pointer("/spec/scaleTargetRef/kind")
            .and_then(Value::as_str)
            .unwrap_or("MachineSet")
            == "MachineSet"
}

/// The MachineAutoscalers that scale `machineset`, all paused (they are widened for the
/// canary); one that is not paused makes the canary refuse: the cluster autoscaler could
/// remove the canary node.
pub fn canary_autoscalers(autoscalers: &[Value], machineset: &str) -> Result<Vec<Value>, String> {
    let mas: Vec<Value> = autoscalers
        .iter()
        .filter(|m| targets(m, machineset))
        .cloned()
        .collect();
    if let Some(active) = mas.iter().find(|m| {
        m.pointer("/metadata/annotations")
            .and_then(|a| a.get(PAUSED_ANNOTATION))
            .is_none()
    }) {
        return Err(format!(
            "MachineAutoscaler {} scales MachineSet {machineset} and is not paused: the cluster autoscaler could remove the \
             canary node. Pause autoscaling first (ocp.bootimage.autoscaling state=paused)",
            name_of(active),
        ));
    }
    Ok(mas)
}

fn with_replicas(ms: &Value, n: i64) -> Value {
    let mut after = ms.clone();
    after["spec"]["replicas"] = json!(n);
    after
}

/// The widening (or narrowing back) of a paused MachineAutoscaler to `n`.
pub fn pin_change(ma: &Value, n: i64, why: &str) -> ObjectChange {
    let mut after = ma.clone();
    after["spec"]["minReplicas"] = json!(n);
    after["spec"]["maxReplicas"] = json!(n);
    ObjectChange::update(
        resources::MACHINE_AUTOSCALER,
        ma,
        after,
        format!("{why}: min = max = {n}"),
    )
}

/// Plans the canary of MachineSet `ms` in `namespace`: one more replica, each paused
/// MachineAutoscaler widened by one (first, so the autoscaler never fights the scale-up).
pub fn plan_canary(
    namespace: &str,
    ms: &Value,
    expected: BuildId,
    autoscalers: Vec<Value>,
) -> CanaryPlan {
    let machineset = name_of(ms).to_string();
    let replicas = replicas_of(ms);
    let mut up = vec![ObjectChange {
        kind: resources::MACHINE_SET,
        namespace: Some(namespace.to_string()),
        name: machineset.clone(),
        before: Some(ms.clone()),
        after: with_replicas(ms, replicas + 1),
        summary: format!("canary: replicas {replicas} → {}", replicas + 1),
    }];
    for ma in &autoscalers {
        up.insert(
            0,
            pin_change(ma, replicas + 1, "canary: widen the paused pin"),
        );
    }
    CanaryPlan {
        namespace: namespace.to_string(),
        machineset,
        replicas,
        expected,
        autoscalers,
        up,
    }
}

impl CanaryPlan {
    /// Sets the wanted replicas (`n`) or pin on a fresh read of the MachineSet or one of
    /// its MachineAutoscalers: the scale-back, and the re-plan after a 409. None when it
    /// is already there.
    pub fn retarget(&self, fresh: &Value, n: i64) -> Option<ObjectChange> {
        let change = if fresh.get("kind").and_then(Value::as_str) == Some("MachineAutoscaler") {
            pin_change(fresh, n, "canary")
        } else {
            ObjectChange {
                kind: resources::MACHINE_SET,
                namespace: Some(self.namespace.clone()),
                name: self.machineset.clone(),
                before: Some(fresh.clone()),
                after: with_replicas(fresh, n),
                summary: format!("canary: replicas → {n}"),
            }
        };
        (!change.is_noop()).then_some(change)
    }

    /// `msg` in check mode.
    pub fn check_msg(&self, timeout_secs: u64) -> String {
        format!(
            "would scale MachineSet {} from {} to {}, wait up to {timeout_secs}s for the new node to boot {}, then scale back",
            self.machineset,
            self.replicas,
            self.replicas + 1,
            self.expected
        )
    }

    /// Whether the run failed, and its `msg`: `error` stopped the canary (scale-up, wait
    /// or timeout), else the booted build is compared with the expected one (a mismatch
    /// fails only with `fail_on_mismatch`).
    pub fn verdict(
        &self,
        error: Option<&str>,
        booted: Option<&BuildId>,
        seen: &Seen,
        fail_on_mismatch: bool,
    ) -> (bool, String) {
        let (ms, replicas, expected) = (&self.machineset, self.replicas, &self.expected);
        let machine = seen.machine.as_deref().unwrap_or("none");
        match (error, booted) {
            (Some(e), _) => (true, format!("canary of {ms} failed: {e}; scaled back to {replicas} (canary Machine {machine})")),
            (None, Some(b)) if b == expected => (false, format!("canary Machine {machine} on node {} booted {b} as expected; scaled back to {replicas}", seen.node.as_deref().unwrap_or("?"))),
            (None, Some(b)) => (fail_on_mismatch, format!("canary Machine {machine} booted {b}, expected {expected}; scaled back to {replicas}")),
            (None, None) => (true, format!("canary of {ms} found no build; scaled back to {replicas}")),
        }
    }
}

/// The canary Machine and its Node, as far as the wait has seen them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    pub machine: Option<String>,
    pub node: Option<String>,
}

impl Seen {
    /// What the wait is still waiting for (for the timeout message).
    pub fn waiting_for(&self) -> String {
        match (&self.machine, &self.node) {
            (None, _) => "the canary Machine".to_string(),
            (Some(m), None) => format!("a node for Machine {m}"),
            (Some(_), Some(n)) => format!("node {n} to be Ready and log its build"),
        }
    }
}

/// The canary Machine: the one of `machines` that did not exist before the scale-up.
pub fn new_machine<'a>(machines: &'a [Value], before: &[String]) -> Option<&'a Value> {
    machines
        .iter()
        .find(|m| !before.iter().any(|b| b == name_of(m)))
}

/// Whether a Node is Ready.
pub fn node_ready(node: &Value) -> bool {
    node.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUILD: &str = "418.94.202501221327-0";

    fn ms(replicas: i64) -> Value {
        json!({"kind": "MachineSet", "metadata": {"name": "ms", "namespace": "ns", "resourceVersion": "3"},
               "spec": {"replicas": replicas}})
    }

    fn ma(name: &str, paused: bool) -> Value {
        let mut v = json!({"kind": "MachineAutoscaler",
            "metadata": {"name": name, "namespace": "ns", "resourceVersion": "5"},
            "spec": {"minReplicas": 2, "maxReplicas": 2, "scaleTargetRef": {"name": "ms"}}});
        if paused {
            v["metadata"]["annotations"] =
                json!({PAUSED_ANNOTATION: r#"{"minReplicas":0,"maxReplicas":5}"#});
        }
        v
    }

    #[test]
    fn an_unpaused_autoscaler_makes_the_canary_refuse() {
        let err = canary_autoscalers(&[ma("a", true), ma("b", false)], "ms").unwrap_err();
        assert!(err.starts_with("MachineAutoscaler b scales MachineSet ms and is not paused"));
        assert_eq!(canary_autoscalers(&[ma("a", true)], "other"), Ok(vec![]));
    }

    #[test]
    fn the_scale_up_widens_the_pins_first_and_the_scale_back_undoes_it() {
        let expected: BuildId = BUILD.parse().unwrap();
        let plan = plan_canary("ns", &ms(2), expected, vec![ma("a", true), ma("b", true)]);
        let order: Vec<&str> = plan.up.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(order, ["b", "a", "ms"]);
        assert_eq!(plan.up[2].after["spec"]["replicas"], 3);
        assert_eq!(plan.up[0].after["spec"]["maxReplicas"], 3);
        let back = plan.retarget(&plan.up[2].after, 2).unwrap();
        assert_eq!(back.after["spec"]["replicas"], 2);
        assert_eq!(back.summary, "canary: replicas → 2");
        assert_eq!(plan.retarget(&ms(2), 2), None);
        assert_eq!(
            plan.retarget(&plan.up[0].after, 2).unwrap().summary,
            "canary: min = max = 2"
        );
    }

    #[test]
    fn the_verdict_names_what_happened() {
        let expected: BuildId = BUILD.parse().unwrap();
        let plan = plan_canary("ns", &ms(1), expected.clone(), vec![]);
        let seen = Seen {
            machine: Some("m".into()),
            node: Some("n".into()),
        };
        let other: BuildId = "43.81.202001142154.0".parse().unwrap();
        assert_eq!(
            plan.verdict(None, Some(&expected), &seen, true),
            (
                false,
                format!("canary Machine m on node n booted {BUILD} as expected; scaled back to 1")
            )
        );
        assert!(!plan.verdict(None, Some(&other), &seen, false).0);
        assert!(plan.verdict(None, Some(&other), &seen, true).0);
        assert!(plan
            .verdict(Some("boom"), None, &Seen::default(), false)
            .1
            .ends_with("(canary Machine none)"));
        assert_eq!(Seen::default().waiting_for(), "the canary Machine");
    }
}
