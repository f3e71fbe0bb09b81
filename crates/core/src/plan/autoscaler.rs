//! Pausing and resuming autoscaling (`autoscaling`): the pure planner of one
//! MachineAutoscaler and of every one that targets a selected MachineSet, the guards on
//! what the snapshot could read, and settling the reports after a run.
//!
//! Paused = every MachineAutoscaler that targets a selected MachineSet is pinned to
//! min = max = the MachineSet's current replicas, so the cluster autoscaler cannot add or
//! remove machines; the original min/max go into the annotation [`PAUSED_ANNOTATION`] on
//! the MachineAutoscaler (and, like every change, into the rollback record). Resumed =
//! min/max restored from that annotation, which is then removed.
//!
//! [`plan_autoscaler`] is a pure function of one MachineAutoscaler, its MachineSet's
//! replicas and the wanted state; it also re-plans after a 409 ([`replan_autoscaler`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::audit::{autoscaling_report, AutoscalingReport, PAUSED_ANNOTATION};
use super::step::{collect, Decision, Plan};
use super::ObjectChange;
use crate::cluster::{name_of, namespace_of, resources, Snapshot, SnapshotPart};

/// What to do with the autoscaling of the selected MachineSets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Pin every MachineAutoscaler that targets a selected MachineSet to
    /// min = max = the MachineSet's current replicas, keeping the original min/max
    /// in the annotation `ocp-bootimage.openshift.io/paused-autoscaling`.
    Paused,
    /// Restore min/max from that annotation and remove it.
    Resumed,
}

/// A MachineAutoscaler's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Limits {
    /// `spec.minReplicas`.
    pub min_replicas: Option<i64>,
    /// `spec.maxReplicas`.
    pub max_replicas: Option<i64>,
}

impl Limits {
    /// The limits a MachineAutoscaler sets.
    pub fn of(ma: &Value) -> Limits {
        Limits {
            min_replicas: ma.pointer("/spec/minReplicas").and_then(Value::as_i64),
            max_replicas: ma.pointer("/spec/maxReplicas").and_then(Value::as_i64),
        }
    }
}

/// One MachineAutoscaler that targets a selected MachineSet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct AutoscalerReport {
    pub name: String,
    pub namespace: String,
    /// The MachineSet it scales (`spec.scaleTargetRef.name`).
    pub target: String,
    /// Min/max before this run.
    pub before: Limits,
    /// Min/max after this run (equal to `before` when unchanged).
    pub after: Limits,
    /// Whether this run changed (or in check mode would change) it.
    pub changed: bool,
    /// Whether it carries the paused annotation after this run.
    pub paused: bool,
    /// Why it was left as is, or why it could not be changed.
    pub reason: Option<String>,
}

/// The original limits kept in [`PAUSED_ANNOTATION`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SavedLimits {
    pub min_replicas: i64,
    pub max_replicas: i64,
}

impl SavedLimits {
    /// The annotation value: compact JSON `{"minReplicas":0,"maxReplicas":5}`.
    pub fn to_annotation(self) -> String {
        json!({"minReplicas": self.min_replicas, "maxReplicas": self.max_replicas}).to_string()
    }

    /// Parses an annotation value; the error says what is wrong (it never fails silently).
    pub fn parse(text: &str) -> std::result::Result<SavedLimits, String> {
        let saved: SavedLimits = serde_json::from_str(text).map_err(|e| {
            format!(
                "annotation {PAUSED_ANNOTATION} is not {{\"minReplicas\":<int>,\"maxReplicas\":<int>}} ({e})"
            )
        })?;
        if saved.min_replicas < 0 || saved.max_replicas < saved.min_replicas {
            return Err(format!(
                "annotation {PAUSED_ANNOTATION} holds impossible limits (min {}, max {})",
                saved.min_replicas, saved.max_replicas
            ));
        }
        Ok(saved)
    }
}

/// The MachineSet a MachineAutoscaler targets (None when it targets another kind).
pub fn target_of(ma: &Value) -> Option<&str> {
    let kind = ma
        .pointer("/spec/scaleTargetRef/kind")
        .and_then(Value::as_str);
    if kind != Some("MachineSet") {
        return None;
    }
    ma.pointer("/spec/scaleTargetRef/name")
        .and_then(Value::as_str)
}

/// A MachineSet's `spec.replicas` (absent = 1, the API default).
pub fn replicas_of(ms: &Value) -> i64 {
    ms.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

/// The paused annotation of a MachineAutoscaler, if it carries one.
pub fn paused_annotation(ma: &Value) -> Option<&Value> {
    ma.pointer("/metadata/annotations")
        .and_then(|a| a.get(PAUSED_ANNOTATION))
}

fn set_limits(obj: &mut Value, min: i64, max: i64) {
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("minReplicas".into(), json!(min));
        spec.insert("maxReplicas".into(), json!(max));
    }
}

/// Sets (Some) or removes (None) the paused annotation; an emptied map is removed.
fn set_annotation(obj: &mut Value, value: Option<String>) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    match value {
        Some(v) => {
            let ann = meta
                .entry("annotations")
                .or_insert_with(|| Value::Object(Map::new()));
            if !ann.is_object() {
                *ann = Value::Object(Map::new());
            }
            if let Some(a) = ann.as_object_mut() {
                a.insert(PAUSED_ANNOTATION.into(), Value::String(v));
            }
        }
        None => {
            let now_empty = match meta.get_mut("annotations").and_then(Value::as_object_mut) {
                Some(a) => {
                    a.remove(PAUSED_ANNOTATION);
                    a.is_empty()
                }
                None => false,
            };
            if now_empty {
                meta.remove("annotations");
            }
        }
    }
}

fn show(v: Option<i64>) -> String {
    v.map_or_else(|| "unset".to_string(), |n| n.to_string())
}

/// The limits saved in the paused annotation (None: not paused), or why it cannot be read.
fn saved_limits(ma: &Value) -> Result<Option<SavedLimits>, String> {
    match paused_annotation(ma) {
        None => Ok(None),
        Some(Value::String(s)) => SavedLimits::parse(s).map(Some).map_err(|e| {
            format!(
                "{e}; it should hold the original limits this module saved. Set \
                 spec.minReplicas/maxReplicas by hand and remove the annotation"
            )
        }),
        Some(_) => Err(format!("annotation {PAUSED_ANNOTATION} is not a string")),
    }
}

/// Pins `after` to `replicas` (saving the original limits unless already saved) and
/// returns the change's summary; `Err` is a refusal (with the reason), `Ok(None)` means
/// already paused (the reason is set in the report).
fn pause(
    after: &mut Value,
    report: &mut AutoscalerReport,
    saved: Option<SavedLimits>,
    replicas: i64,
) -> Result<Option<String>, String> {
    let before = report.before;
    if replicas < 1 {
        // The MachineAutoscaler CRD requires maxReplicas >= 1.
        return Err(format!(
            "MachineSet {} has {replicas} replicas and a MachineAutoscaler cannot be \
             pinned to maxReplicas 0 (the API requires at least 1); to stop it \
             scaling from zero during the update, note its limits (min {}, max {}), \
             delete the MachineAutoscaler and recreate it afterwards",
            report.target,
            show(before.min_replicas),
            show(before.max_replicas)
        ));
    }
    if before.min_replicas == Some(replicas) && before.max_replicas == Some(replicas) {
        report.reason = Some(if saved.is_none() {
            format!(
                "min = max = {replicas} already: nothing can scale it (not annotated: \
                 resuming leaves it as is)"
            )
        } else {
            format!("already paused at {replicas}")
        });
        return Ok(None);
    }
    if saved.is_none() {
        let (Some(min), Some(max)) = (before.min_replicas, before.max_replicas) else {
            return Err("spec.minReplicas or spec.maxReplicas is missing or not an integer".into());
        };
        let saved = SavedLimits {
            min_replicas: min,
            max_replicas: max,
        };
        set_annotation(after, Some(saved.to_annotation()));
    }
    set_limits(after, replicas, replicas);
    report.paused = true;
    Ok(Some(format!(
        "paused: min {} → {replicas}, max {} → {replicas}",
        show(before.min_replicas),
        show(before.max_replicas)
    )))
}

/// Restores `after` to the saved limits and returns the change's summary.
fn resume(after: &mut Value, report: &mut AutoscalerReport, saved: SavedLimits) -> String {
    let before = report.before;
    set_limits(after, saved.min_replicas, saved.max_replicas);
    set_annotation(after, None);
    report.paused = false;
    format!(
        "resumed: min {} → {}, max {} → {}",
        show(before.min_replicas),
        saved.min_replicas,
        show(before.max_replicas),
        saved.max_replicas
    )
}

/// Plans one MachineAutoscaler whose target MachineSet has `replicas`. Pure.
pub fn plan_autoscaler(ma: &Value, replicas: i64, state: State) -> Decision<AutoscalerReport> {
    let before = Limits::of(ma);
    let mut report = AutoscalerReport {
        name: name_of(ma).to_string(),
        namespace: namespace_of(ma).to_string(),
        target: target_of(ma).unwrap_or_default().to_string(),
        before,
        after: before,
        changed: false,
        paused: paused_annotation(ma).is_some(),
        reason: None,
    };
    let refuse = |mut report: AutoscalerReport, why: String| {
        report.reason = Some(why);
        Decision::Refuse(report)
    };
    let saved = match saved_limits(ma) {
        Ok(saved) => saved,
        Err(why) => return refuse(report, why),
    };
    let mut after = ma.clone();
    let summary = match (state, saved) {
        (State::Paused, saved) => match pause(&mut after, &mut report, saved, replicas) {
            Ok(Some(summary)) => summary,
            Ok(None) => return Decision::Keep(report),
            Err(why) => return refuse(report, why),
        },
        (State::Resumed, None) => {
            report.reason = Some("not paused (no paused annotation)".into());
            return Decision::Keep(report);
        }
        (State::Resumed, Some(saved)) => resume(&mut after, &mut report, saved),
    };
    report.after = Limits::of(&after);
    report.changed = true;
    let change = ObjectChange {
        kind: resources::MACHINE_AUTOSCALER,
        namespace: Some(report.namespace.clone()).filter(|n| !n.is_empty()),
        name: report.name.clone(),
        before: Some(ma.clone()),
        after,
        summary,
    };
    if change.is_noop() {
        report.changed = false;
        return Decision::Keep(report);
    }
    Decision::Change(Box::new(change), report)
}

/// The plan for every MachineAutoscaler that targets one of `machinesets`.
pub fn plan_all(
    machinesets: &[Value],
    autoscalers: &[Value],
    state: State,
) -> Vec<Decision<AutoscalerReport>> {
    autoscalers
        .iter()
        .filter_map(|ma| {
            let target = target_of(ma)?;
            let ms = machinesets.iter().find(|m| name_of(m) == target)?;
            Some(plan_autoscaler(ma, replicas_of(ms), state))
        })
        .collect()
}

/// Re-plans one MachineAutoscaler from a fresh read after a 409: `Ok(None)` when it
/// needs no change (any more, or no longer targets a selected MachineSet), `Err` with
/// the reason when it cannot be planned.
pub fn replan_autoscaler(
    fresh: &Value,
    machinesets: &[Value],
    state: State,
) -> Result<Option<ObjectChange>, String> {
    let Some(ms) = target_of(fresh).and_then(|t| machinesets.iter().find(|m| name_of(m) == t))
    else {
        return Ok(None);
    };
    match plan_autoscaler(fresh, replicas_of(ms), state) {
        Decision::Change(c, _) => Ok(Some(*c)),
        Decision::Keep(_) | Decision::Skip(_) => Ok(None),
        Decision::Refuse(r) => Err(r.reason.unwrap_or_default()),
    }
}

/// The warnings about what the snapshot could read, or the error that stops the run
/// (nothing changed): MachineAutoscalers must be readable (a kind not served is a
/// warning), ClusterAutoscalers may not be (assumed none), and an unreadable
/// Infrastructure (managed or not?) is accepted only with `allow_managed`.
pub fn read_warnings(snapshot: &Snapshot, allow_managed: bool) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    let unreadable = |part: SnapshotPart| {
        snapshot
            .unreadable
            .iter()
            .find(|u| u.part == part)
            .map(|u| u.reason.as_str())
    };
    if snapshot
        .not_served
        .contains(&SnapshotPart::MachineAutoscalers)
    {
        warnings.push(
            "the API server does not serve machineautoscalers.autoscaling.openshift.io: \
             there is no MachineAutoscaler to pause or resume"
                .into(),
        );
    }
    if let Some(e) = unreadable(SnapshotPart::MachineAutoscalers) {
        return Err(e.to_string());
    }
    if let Some(e) = unreadable(SnapshotPart::ClusterAutoscalers) {
        warnings.push(format!(
            "could not read ClusterAutoscalers ({e}); assuming none"
        ));
    }
    match unreadable(SnapshotPart::Infrastructure) {
        Some(e) if allow_managed => warnings.push(format!("could not read Infrastructure: {e}")),
        Some(e) => {
            return Err(format!(
                "cannot tell whether this is a managed cluster: {e}; grant `get` on \
                 infrastructures.config.openshift.io, or set allow_managed: true"
            ))
        }
        None => {}
    }
    Ok(warnings)
}

/// Plans every MachineAutoscaler of the snapshot that targets a selected MachineSet (in
/// name order), with the warnings about autoscaling this module cannot pause, and the
/// autoscaling facts for the result. `whole_namespace`: no MachineSet names and no label
/// selector were given, so a MachineAutoscaler whose MachineSet is not in the snapshot
/// targets one that does not exist.
pub fn plan_autoscaling(
    snapshot: &Snapshot,
    state: State,
    whole_namespace: bool,
) -> (Plan<Vec<AutoscalerReport>>, AutoscalingReport) {
    let machinesets = &snapshot.machinesets;
    let mut autoscalers = snapshot.machine_autoscalers.clone();
    autoscalers.sort_by(|a, b| name_of(a).cmp(name_of(b)));
    let mut warnings = Vec::new();
    if whole_namespace {
        for ma in &autoscalers {
            if let Some(t) = target_of(ma) {
                if !machinesets.iter().any(|m| name_of(m) == t) {
                    warnings.push(format!(
                        "MachineAutoscaler {} targets MachineSet {t}, which does not exist",
                        name_of(ma)
                    ));
                }
            }
        }
    }
    // One implementation of "annotated without MachineAutoscaler" and "ClusterAutoscaler
    // present": the audit's.
    let facts = autoscaling_report(snapshot);
    for n in &facts.annotated_without_autoscaler {
        warnings.push(format!(
            "MachineSet {n} has cluster-autoscaler min/max annotations but no \
             MachineAutoscaler: the cluster autoscaler can still scale it and this module \
             cannot pause it; remove or pin the annotations by hand"
        ));
    }
    let mut plan = collect(plan_all(machinesets, &autoscalers, state), |r| {
        format!(
            "MachineAutoscaler {}/{}: {}",
            r.namespace,
            r.name,
            r.reason.as_deref().unwrap_or_default()
        )
    });
    plan.warnings = warnings;
    (plan, facts)
}

/// The clause about the ClusterAutoscaler appended to `msg`.
pub fn cluster_autoscaler_clause(facts: &AutoscalingReport) -> String {
    if facts.cluster_autoscaler {
        format!(
            "ClusterAutoscaler {} present: it scales only MachineSets that carry the \
             cluster-autoscaler min/max annotations (set by a MachineAutoscaler)",
            facts.cluster_autoscalers.join(", ")
        )
    } else {
        "no ClusterAutoscaler: nothing autoscales MachineSets now (MachineAutoscalers take \
         effect only with one)"
            .into()
    }
}

/// Sets each report's `after`/`changed`/`paused` from what was really written
/// (`applied`); `settled` names the objects a re-plan after a 409 found nothing to do
/// for (`MachineAutoscaler ns/name`), `autoscalers` are the objects as read.
pub fn settle_autoscalers(
    reports: &mut [AutoscalerReport],
    autoscalers: &[Value],
    applied: &[ObjectChange],
    settled: &[String],
) {
    for r in reports.iter_mut().filter(|r| r.changed) {
        match applied
            .iter()
            .find(|c| c.name == r.name && c.namespace.as_deref().unwrap_or_default() == r.namespace)
        {
            Some(c) => {
                r.after = Limits::of(&c.after);
                r.paused = paused_annotation(&c.after).is_some();
            }
            None => {
                r.changed = false;
                r.after = r.before;
                r.paused = autoscalers
                    .iter()
                    .find(|a| name_of(a) == r.name)
                    .is_some_and(|a| paused_annotation(a).is_some());
                let who = format!("MachineAutoscaler {}/{}", r.namespace, r.name);
                r.reason = Some(if settled.contains(&who) {
                    "no change needed any more after a concurrent change (HTTP 409)".into()
                } else {
                    "not changed (see msg)".into()
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ma(min: i64, max: i64, annotation: Option<&str>) -> Value {
        let mut v = json!({
            "apiVersion": "autoscaling.openshift.io/v1beta1",
            "kind": "MachineAutoscaler",
            "metadata": {"name": "ma", "namespace": "openshift-machine-api", "resourceVersion": "7"},
            "spec": {"minReplicas": min, "maxReplicas": max,
                     "scaleTargetRef": {"apiVersion": "machine.openshift.io/v1beta1", "kind": "MachineSet", "name": "ms"}}
        });
        if let Some(a) = annotation {
            v["metadata"]["annotations"] = json!({PAUSED_ANNOTATION: a});
        }
        v
    }

    fn change_of(d: Decision<AutoscalerReport>) -> ObjectChange {
        match d {
            Decision::Change(c, _) => *c,
            other => panic!("expected a change, got {other:?}"),
        }
    }

    #[test]
    fn pausing_pins_and_saves_the_original() {
        let c = change_of(plan_autoscaler(&ma(0, 5, None), 2, State::Paused));
        assert_eq!(c.after["spec"]["minReplicas"], 2);
        assert_eq!(c.after["spec"]["maxReplicas"], 2);
        assert_eq!(
            c.after["metadata"]["annotations"][PAUSED_ANNOTATION],
            r#"{"minReplicas":0,"maxReplicas":5}"#
        );
        let patch = c.patch().unwrap();
        assert_eq!(patch["metadata"]["resourceVersion"], "7");
    }

    #[test]
    fn pausing_twice_is_a_noop_and_keeps_the_annotation() {
        let paused = ma(2, 2, Some(r#"{"minReplicas":0,"maxReplicas":5}"#));
        assert!(matches!(
            plan_autoscaler(&paused, 2, State::Paused),
            Decision::Keep(_)
        ));
        // The MachineSet was scaled meanwhile: pin again, keep the original annotation.
        let c = change_of(plan_autoscaler(&paused, 3, State::Paused));
        assert_eq!(c.after["spec"]["maxReplicas"], 3);
        assert_eq!(
            c.after["metadata"]["annotations"][PAUSED_ANNOTATION],
            r#"{"minReplicas":0,"maxReplicas":5}"#
        );
    }

    #[test]
    fn resuming_restores_exactly_and_drops_the_annotation() {
        let original = ma(0, 5, None);
        let paused = change_of(plan_autoscaler(&original, 1, State::Paused)).after;
        let resumed = change_of(plan_autoscaler(&paused, 1, State::Resumed)).after;
        assert_eq!(resumed, original);
        let c = change_of(plan_autoscaler(&paused, 1, State::Resumed));
        assert_eq!(c.patch().unwrap()["metadata"]["annotations"], Value::Null);
        assert!(matches!(
            plan_autoscaler(&original, 1, State::Resumed),
            Decision::Keep(_)
        ));
    }

    #[test]
    fn other_annotations_survive_a_round_trip() {
        let mut original = ma(1, 4, None);
        original["metadata"]["annotations"] = json!({"team": "a"});
        let paused = change_of(plan_autoscaler(&original, 2, State::Paused)).after;
        let resumed = change_of(plan_autoscaler(&paused, 2, State::Resumed)).after;
        assert_eq!(resumed, original);
    }

    #[test]
    fn a_malformed_annotation_fails_that_autoscaler() {
        for bad in [
            "garbage",
            r#"{"minReplicas":1}"#,
            r#"{"minReplicas":3,"maxReplicas":1}"#,
        ] {
            match plan_autoscaler(&ma(1, 1, Some(bad)), 1, State::Resumed) {
                Decision::Refuse(r) => {
                    assert!(r.reason.unwrap().contains(PAUSED_ANNOTATION), "{bad}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn zero_replicas_cannot_be_pinned() {
        match plan_autoscaler(&ma(0, 5, None), 0, State::Paused) {
            Decision::Refuse(r) => assert!(r.reason.unwrap().contains("maxReplicas 0")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_autoscalers_of_selected_machinesets_are_planned() {
        let mut other = ma(0, 5, None);
        other["spec"]["scaleTargetRef"]["name"] = json!("other");
        let ms = json!({"metadata": {"name": "ms"}, "spec": {}});
        let plan = plan_all(&[ms], &[ma(0, 5, None), other], State::Paused);
        assert_eq!(plan.len(), 1);
        // A MachineSet without replicas counts as 1.
        assert_eq!(change_of(plan[0].clone()).after["spec"]["maxReplicas"], 1);
    }

    #[test]
    fn refusals_fail_the_task_with_the_autoscaler_named() {
        let ms = json!({"metadata": {"name": "ms"}, "spec": {"replicas": 0}});
        let snapshot = Snapshot {
            machinesets: vec![ms],
            machine_autoscalers: vec![ma(0, 5, None)],
            ..Snapshot::default()
        };
        let (plan, facts) = plan_autoscaling(&snapshot, State::Paused, true);
        assert!(plan.changes.is_empty());
        assert_eq!(plan.refusals.len(), 1);
        assert!(
            plan.refusals[0].starts_with(
                "MachineAutoscaler openshift-machine-api/ma: MachineSet ms has 0 replicas"
            ),
            "{:?}",
            plan.refusals
        );
        assert!(!facts.cluster_autoscaler);
        assert_eq!(
            replan_autoscaler(&ma(0, 5, None), &snapshot.machinesets, State::Paused)
                .map_err(|e| e.contains("maxReplicas 0")),
            Err(true)
        );
    }

    #[test]
    fn an_unreadable_infrastructure_stops_the_run_unless_allowed() {
        let snapshot = Snapshot {
            unreadable: vec![crate::cluster::Unreadable {
                part: SnapshotPart::Infrastructure,
                reason: "forbidden".into(),
            }],
            not_served: vec![SnapshotPart::MachineAutoscalers],
            ..Snapshot::default()
        };
        assert!(read_warnings(&snapshot, false)
            .unwrap_err()
            .starts_with("cannot tell whether this is a managed cluster: forbidden;"));
        let w = read_warnings(&snapshot, true).unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!(w[1], "could not read Infrastructure: forbidden");
    }
}
