//! `autoscaling`: pauses autoscaling of the selected MachineSets while their boot
//! images change, and resumes it afterwards, exactly as it was.
//!
//! Planning is the core's [`plan_autoscaling`] (paused = every MachineAutoscaler of a
//! selected MachineSet pinned to min = max = its replicas, the original min/max kept in
//! an annotation; resumed = restored from it), which [`replan_autoscaler`] repeats after
//! a 409; this file parses the options, reads, and hands the plan to the one executor.

use crate::ansible::AnsibleMeta;
use crate::execute::Target;
use anyhow::{Context, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ansible::{Module, ModuleContext, ModuleError, ModuleOutcome};
use crate::cluster::{LabelSelector, Reads, Selection, Snapshot};
use crate::execute::missing_machinesets;
use crate::execute::Step;
use crate::execute::{managed_guard, RunRecord};
use crate::options::ConnectionParams;
use crate::options::{SelectionParams, WriteParams};
use crate::plan::autoscaler::State;
use crate::plan::autoscaler::{
    cluster_autoscaler_clause, plan_autoscaling, read_warnings, replan_autoscaler,
    settle_autoscalers, AutoscalerReport,
};

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
    #[serde(flatten)]
    pub run: RunRecord,
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
        let sel = selection(&params.selection)?;
        let (step, snapshot) = open(&params, &sel, &ctx.meta).await?;
        let whole_namespace = sel.names.is_empty() && sel.label_selector.is_none();
        let (plan, facts) = plan_autoscaling(&snapshot, params.state, whole_namespace);
        let (machinesets, state) = (&snapshot.machinesets, params.state);
        let replan = |fresh: &Value| {
            replan_autoscaler(fresh, machinesets, state).map_err(anyhow::Error::msg)
        };
        let mut out = step
            .execute(plan, &ctx.meta, &replan, |mut reports, applied, step| {
                if let Some(a) = applied {
                    let autoscalers = &snapshot.machine_autoscalers;
                    settle_autoscalers(&mut reports, autoscalers, &a.applied, &a.settled);
                }
                Output {
                    autoscalers: reports,
                    cluster_autoscaler: facts.cluster_autoscaler,
                    annotated_without_autoscaler: facts.annotated_without_autoscaler.clone(),
                    run: step.run_record(),
                }
            })
            .await;
        out.msg = format!("{}; {}", out.msg, cluster_autoscaler_clause(&facts));
        Ok(out)
    }
}

/// The MachineSets to work on (an unparsable selector names the option).
fn selection(params: &SelectionParams) -> Result<Selection> {
    let label_selector = params
        .label_selector
        .as_deref()
        .map(LabelSelector::parse)
        .transpose()
        .context("label_selector")?;
    Ok(Selection {
        namespace: params.namespace().to_string(),
        names: params.machinesets.clone(),
        label_selector,
        user_data_secrets: Vec::new(),
    })
}

/// Connects and reads the MachineSets, MachineAutoscalers, ClusterAutoscalers and the
/// Infrastructure (4 requests: no ClusterVersion, no MachineConfiguration), then guards:
/// MachineAutoscalers must be readable, an unreadable Infrastructure or a managed cluster
/// needs `allow_managed`.
async fn open(params: &Params, sel: &Selection, meta: &AnsibleMeta) -> Result<(Step, Snapshot)> {
    let reads = Reads {
        autoscalers: true,
        cluster_version: false,
        machine_configuration: false,
        ..Reads::MIN
    };
    let allow_managed = params.write.allow_managed;
    let guards = |snapshot: &Snapshot| {
        let mut warnings = missing_machinesets(snapshot, sel);
        warnings.extend(read_warnings(snapshot, allow_managed).map_err(anyhow::Error::msg)?);
        let infra = snapshot.infrastructure.as_ref();
        warnings.extend(managed_guard(infra, &snapshot.machinesets, allow_managed)?);
        Ok(warnings)
    };
    let target = Target {
        module: Autoscaling::NAME,
        what: "MachineAutoscaler(s)",
        connection: &params.connection,
        write: &params.write,
        meta,
    };
    Step::open_with(target, sel, reads, guards).await
}
