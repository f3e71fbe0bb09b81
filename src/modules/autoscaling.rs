//! `autoscaling`: pauses autoscaling of the selected MachineSets while their boot
//! images change, and resumes it afterwards, exactly as it was.
//!
//! Paused = every MachineAutoscaler that targets a selected MachineSet is pinned
//! to min = max = the MachineSet's current replicas, so the cluster autoscaler
//! cannot add or remove machines; the original min/max go into the annotation
//! [`PAUSED_ANNOTATION`] on the MachineAutoscaler (and, like every change, into
//! the rollback record). Resumed = min/max restored from that annotation, which
//! is then removed.
//!
//! Planning is [`plan_autoscaler`], a pure function of one MachineAutoscaler, its
//! MachineSet's replicas and the wanted state; it also re-plans after a 409.

use anyhow::{Context, Result};
use kube::api::ListParams;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::common::{managed_guard, outcome};
use crate::ansible::{Module, ModuleContext, ModuleError, ModuleOutcome};
use crate::cluster::{name_of, namespace_of, resources, LabelSelector, Snapshot};
use crate::kube::apply::{Applier, ApplyOutcome};
use crate::kube::client::{get, list};
use crate::kube::ConnectionParams;
use crate::options::{SelectionParams, WriteParams};
use crate::plan::audit::{AutoscalingReport, PAUSED_ANNOTATION};
use crate::plan::ObjectChange;

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

/// Options of `autoscaling`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Params {
    #[serde(flatten)]
    pub connection: ConnectionParams,
    #[serde(flatten)]
    pub write: WriteParams,
    /// `paused`: no autoscaler can change the replicas of the selected MachineSets
    /// (run it before changing boot images). `resumed`: restore exactly the
    /// MachineAutoscalers' original min/max (run it afterwards).
    pub state: State,
    #[serde(flatten)]
    pub selection: SelectionParams,
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
    fn of(ma: &Value) -> Limits {
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

/// Return values of `autoscaling`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Output {
    /// Every MachineAutoscaler that targets a selected MachineSet.
    pub autoscalers: Vec<AutoscalerReport>,
    /// Whether a ClusterAutoscaler exists. Without one nothing autoscales; with one, the
    /// cluster autoscaler scales the MachineSets that carry the cluster-autoscaler min/max
    /// annotations (a MachineAutoscaler sets them).
    pub cluster_autoscaler: bool,
    /// Selected MachineSets that carry the cluster-autoscaler min/max annotations but have
    /// no MachineAutoscaler: the cluster autoscaler can still scale them and this module
    /// cannot pause them.
    pub annotated_without_autoscaler: Vec<String>,
    /// The run id the record entries carry (pass it to `rollback`).
    pub run_id: String,
    /// Where the rollback record is (`Secret ns/name` or `file path`).
    pub record: String,
}

/// The decision for one MachineAutoscaler.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Change it.
    Change(Box<ObjectChange>, AutoscalerReport),
    /// Already as wanted.
    Keep(AutoscalerReport),
    /// Cannot be planned (the reason is in the report); nothing is changed for it.
    Fail(AutoscalerReport),
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

fn paused_annotation(ma: &Value) -> Option<&Value> {
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

/// Plans one MachineAutoscaler whose target MachineSet has `replicas`. Pure.
pub fn plan_autoscaler(ma: &Value, replicas: i64, state: State) -> Decision {
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
    let fail = |mut report: AutoscalerReport, why: String| {
        report.reason = Some(why);
        Decision::Fail(report)
    };
    let saved = match paused_annotation(ma) {
        None => None,
        Some(Value::String(s)) => match SavedLimits::parse(s) {
            Ok(saved) => Some(saved),
            Err(e) => {
                return fail(
                    report,
                    format!(
                        "{e}; it should hold the original limits this module saved. Set \
                         spec.minReplicas/maxReplicas by hand and remove the annotation"
                    ),
                )
            }
        },
        Some(_) => {
            return fail(
                report,
                format!("annotation {PAUSED_ANNOTATION} is not a string"),
            )
        }
    };
    let mut after = ma.clone();
    let summary = match (state, saved) {
        (State::Paused, saved) => {
            if replicas < 1 {
                // The MachineAutoscaler CRD requires maxReplicas >= 1.
                let why = format!(
                    "MachineSet {} has {replicas} replicas and a MachineAutoscaler cannot be \
                     pinned to maxReplicas 0 (the API requires at least 1); to stop it \
                     scaling from zero during the update, note its limits (min {}, max {}), \
                     delete the MachineAutoscaler and recreate it afterwards",
                    report.target,
                    show(before.min_replicas),
                    show(before.max_replicas)
                );
                return fail(report, why);
            }
            if before.min_replicas == Some(replicas) && before.max_replicas == Some(replicas) {
                if saved.is_none() {
                    report.reason = Some(format!(
                        "min = max = {replicas} already: nothing can scale it (not annotated: \
                         resuming leaves it as is)"
                    ));
                } else {
                    report.reason = Some(format!("already paused at {replicas}"));
                }
                return Decision::Keep(report);
            }
            if saved.is_none() {
                let (Some(min), Some(max)) = (before.min_replicas, before.max_replicas) else {
                    return fail(
                        report,
                        "spec.minReplicas or spec.maxReplicas is missing or not an integer".into(),
                    );
                };
                set_annotation(
                    &mut after,
                    Some(
                        SavedLimits {
                            min_replicas: min,
                            max_replicas: max,
                        }
                        .to_annotation(),
                    ),
                );
            }
            set_limits(&mut after, replicas, replicas);
            report.paused = true;
            format!(
                "paused: min {} → {replicas}, max {} → {replicas}",
                show(before.min_replicas),
                show(before.max_replicas)
            )
        }
        (State::Resumed, None) => {
            report.reason = Some("not paused (no paused annotation)".into());
            return Decision::Keep(report);
        }
        (State::Resumed, Some(saved)) => {
            set_limits(&mut after, saved.min_replicas, saved.max_replicas);
            set_annotation(&mut after, None);
            report.paused = false;
            format!(
                "resumed: min {} → {}, max {} → {}",
                show(before.min_replicas),
                saved.min_replicas,
                show(before.max_replicas),
                saved.max_replicas
            )
        }
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
pub fn plan_all(machinesets: &[Value], autoscalers: &[Value], state: State) -> Vec<Decision> {
    autoscalers
        .iter()
        .filter_map(|ma| {
            let target = target_of(ma)?;
            let ms = machinesets.iter().find(|m| name_of(m) == target)?;
            Some(plan_autoscaler(ma, replicas_of(ms), state))
        })
        .collect()
}

/// The audit's autoscaling section for these objects (one implementation of
/// "annotated without MachineAutoscaler" and "ClusterAutoscaler present").
fn autoscaling_facts(
    machinesets: &[Value],
    autoscalers: &[Value],
    cluster_autoscalers: &[Value],
) -> AutoscalingReport {
    let snapshot = Snapshot {
        machinesets: machinesets.to_vec(),
        machine_autoscalers: autoscalers.to_vec(),
        cluster_autoscalers: cluster_autoscalers.to_vec(),
        secrets_readable: true,
        ..Snapshot::default()
    };
    crate::plan::audit::autoscaling_report(&snapshot)
}

/// The clause about the ClusterAutoscaler appended to `msg`.
fn cluster_autoscaler_clause(facts: &AutoscalingReport) -> String {
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

/// Sets each report's `after`/`changed` from what was really written.
fn settle_reports(reports: &mut [AutoscalerReport], autoscalers: &[Value], applied: &ApplyOutcome) {
    for r in reports.iter_mut().filter(|r| r.changed) {
        match applied
            .applied
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
                r.reason = Some(if applied.settled.contains(&who) {
                    "no change needed any more after a concurrent change (HTTP 409)".into()
                } else {
                    "not changed (see msg)".into()
                });
            }
        }
    }
}

/// The module.
pub struct Autoscaling;

impl Module for Autoscaling {
    const NAME: &'static str = "autoscaling";
    const SHORT_DESCRIPTION: &'static str =
        "Pause or resume the MachineAutoscalers of MachineSets around a boot image update";
    const DESCRIPTION: &'static str = r#"
`state: paused` makes sure no autoscaler can change the replicas of the selected
MachineSets while their boot images change: every MachineAutoscaler whose
`scaleTargetRef` is a selected MachineSet is pinned to min = max = the MachineSet's
current `spec.replicas` (1 when unset). Its original min/max are kept in the annotation
`ocp-bootimage.openshift.io/paused-autoscaling` (compact JSON
`{"minReplicas":0,"maxReplicas":5}`) and, like every change, in the rollback record
before the first write. Pausing again re-pins only when the replicas changed, and never
touches the saved annotation. A MachineSet with 0 replicas cannot be pinned (a
MachineAutoscaler's `maxReplicas` must be at least 1): that autoscaler fails with what
to do instead.

`state: resumed` restores min/max exactly from the annotation and removes it; autoscalers
without it are left alone. A malformed annotation fails that autoscaler (nothing is
changed for it); the others are still resumed.

Warns about selected MachineSets that carry the cluster-autoscaler min/max annotations
without a MachineAutoscaler (the cluster autoscaler can still scale them; this module
cannot pause them), and says whether a ClusterAutoscaler exists: the cluster autoscaler
scales only MachineSets that carry those annotations, which a MachineAutoscaler sets.

Changes are JSON merge patches carrying the `resourceVersion` read; a concurrent change
(409) is re-read and re-planned. Check mode sends no write request and returns the same
`changed` and `diff` as a real run; a second run changes nothing. Managed clusters are
refused unless `allow_managed`.
"#;
    const EXAMPLES: &'static str = r#"
- name: Pause autoscaling of the worker MachineSets before changing boot images
  ocp.bootimage.autoscaling:
    state: paused
    label_selector: machine.openshift.io/cluster-api-machine-role=worker
    run_id: "{{ update_run_id }}"

- name: Resume it afterwards (restores the original min/max exactly)
  ocp.bootimage.autoscaling:
    state: resumed
    label_selector: machine.openshift.io/cluster-api-machine-role=worker
    run_id: "{{ update_run_id }}"

- name: Show what pausing two MachineSets would change (no write request)
  ocp.bootimage.autoscaling:
    state: paused
    machinesets:
      - mycluster-worker-us-east-1a
      - mycluster-worker-us-east-1b
  check_mode: true
  diff: true
"#;
    type Params = Params;
    type Output = Output;

    async fn run(
        params: Params,
        ctx: &ModuleContext,
    ) -> Result<ModuleOutcome<Output>, ModuleError> {
        let selector = params
            .selection
            .label_selector
            .as_deref()
            .map(LabelSelector::parse)
            .transpose()
            .context("label_selector")?;
        let conn = params.connection.connect().await?;
        let ns = params.selection.namespace();
        let mut lp = ListParams::default();
        if let Some(s) = &selector {
            if !s.as_str().is_empty() {
                lp = lp.labels(s.as_str());
            }
        }
        let all = ListParams::default();
        let (machinesets, autoscalers, cluster_autoscalers, infra) = tokio::join!(
            list(&conn, resources::MACHINE_SET, Some(ns), &lp),
            list(&conn, resources::MACHINE_AUTOSCALER, Some(ns), &all),
            list(&conn, resources::CLUSTER_AUTOSCALER, None, &all),
            get(&conn, resources::INFRASTRUCTURE, None, "cluster"),
        );
        let mut warnings = Vec::new();
        let mut machinesets: Vec<Value> = machinesets?
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "the API server at {} does not serve machinesets.machine.openshift.io: \
                     is this an OpenShift cluster with the Machine API?",
                    conn.server
                )
            })?
            .into_iter()
            .filter(|ms| {
                params.selection.machinesets.is_empty()
                    || params
                        .selection
                        .machinesets
                        .iter()
                        .any(|n| n == name_of(ms))
            })
            .collect();
        machinesets.sort_by(|a, b| name_of(a).cmp(name_of(b)));
        for name in &params.selection.machinesets {
            if !machinesets.iter().any(|o| name_of(o) == name) {
                warnings.push(format!("MachineSet {name} not found in namespace {ns}"));
            }
        }
        let mut autoscalers = match autoscalers? {
            Some(a) => a,
            None => {
                warnings.push(
                    "the API server does not serve machineautoscalers.autoscaling.openshift.io: \
                     there is no MachineAutoscaler to pause or resume"
                        .into(),
                );
                Vec::new()
            }
        };
        autoscalers.sort_by(|a, b| name_of(a).cmp(name_of(b)));
        let cluster_autoscalers = match cluster_autoscalers {
            Ok(c) => c.unwrap_or_default(),
            Err(e) => {
                warnings.push(format!(
                    "could not read ClusterAutoscalers ({e:#}); assuming none"
                ));
                Vec::new()
            }
        };
        let infra = match infra {
            Ok(i) => i,
            Err(e) if params.write.allow_managed => {
                warnings.push(format!("could not read Infrastructure: {e:#}"));
                None
            }
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "cannot tell whether this is a managed cluster: {e:#}; grant `get` on \
                     infrastructures.config.openshift.io, or set allow_managed: true"
                )
                .into())
            }
        };
        if let Some(w) = managed_guard(infra.as_ref(), &machinesets, params.write.allow_managed)? {
            warnings.push(w);
        }
        if params.selection.machinesets.is_empty() && selector.is_none() {
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

        let facts = autoscaling_facts(&machinesets, &autoscalers, &cluster_autoscalers);
        for n in &facts.annotated_without_autoscaler {
            warnings.push(format!(
                "MachineSet {n} has cluster-autoscaler min/max annotations but no \
                 MachineAutoscaler: the cluster autoscaler can still scale it and this module \
                 cannot pause it; remove or pin the annotations by hand"
            ));
        }

        let mut changes = Vec::new();
        let mut reports = Vec::new();
        let mut failures = Vec::new();
        for d in plan_all(&machinesets, &autoscalers, params.state) {
            match d {
                Decision::Change(c, r) => {
                    changes.push(*c);
                    reports.push(r);
                }
                Decision::Keep(r) => reports.push(r),
                Decision::Fail(r) => {
                    failures.push(format!(
                        "MachineAutoscaler {}/{}: {}",
                        r.namespace,
                        r.name,
                        r.reason.as_deref().unwrap_or_default()
                    ));
                    reports.push(r);
                }
            }
        }
        let run_id = params.write.record.run_id();
        let store = params.write.record.store(Some(&conn), ns)?;
        let record = store.location.to_string();
        let finish = |mut out: ModuleOutcome<Output>| {
            if !failures.is_empty() {
                out.failed = true;
                out.msg = format!("{}; {}", failures.join("; "), out.msg);
            }
            out.msg = format!("{}; {}", out.msg, cluster_autoscaler_clause(&facts));
            out
        };
        let output = |reports: Vec<AutoscalerReport>| Output {
            autoscalers: reports,
            cluster_autoscaler: facts.cluster_autoscaler,
            annotated_without_autoscaler: facts.annotated_without_autoscaler.clone(),
            run_id: run_id.clone(),
            record: record.clone(),
        };
        if ctx.meta.check_mode {
            let out = outcome(
                ctx.meta.diff,
                &changes,
                None,
                "MachineAutoscaler(s)",
                output(reports),
                warnings,
            );
            return Ok(finish(out));
        }
        let applier = Applier {
            conn: &conn,
            store: &store,
            module: Self::NAME,
            run_id: &run_id,
        };
        let state = params.state;
        let selected = &machinesets;
        let replan = |fresh: &Value| -> Result<Option<ObjectChange>> {
            let Some(ms) = target_of(fresh).and_then(|t| selected.iter().find(|m| name_of(m) == t))
            else {
                return Ok(None);
            };
            match plan_autoscaler(fresh, replicas_of(ms), state) {
                Decision::Change(c, _) => Ok(Some(*c)),
                Decision::Keep(_) => Ok(None),
                Decision::Fail(r) => Err(anyhow::anyhow!(r.reason.unwrap_or_default())),
            }
        };
        let applied = applier.apply(changes.clone(), &replan).await;
        settle_reports(&mut reports, &autoscalers, &applied);
        let out = outcome(
            ctx.meta.diff,
            &changes,
            Some(&applied),
            "MachineAutoscaler(s)",
            output(reports),
            warnings,
        );
        Ok(finish(out))
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

    fn change_of(d: Decision) -> ObjectChange {
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
                Decision::Fail(r) => {
                    assert!(r.reason.unwrap().contains(PAUSED_ANNOTATION), "{bad}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn zero_replicas_cannot_be_pinned() {
        match plan_autoscaler(&ma(0, 5, None), 0, State::Paused) {
            Decision::Fail(r) => assert!(r.reason.unwrap().contains("maxReplicas 0")),
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
}
