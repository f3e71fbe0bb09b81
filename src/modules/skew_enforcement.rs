//! `skew_enforcement`: after the swap, records the oldest boot image in use in
//! MachineConfiguration `cluster` `spec.bootImageSkewEnforcement` (`mode: Manual`), as
//! the 4.22 manual boot image procedure ends — never a newer one than a MachineSet boots.
//!
//! Planning is the core's [`plan_skew_record`] over the audit of every MachineSet of
//! `namespace` (also the re-plan after a 409); this file parses the options, reads, and
//! hands the plan to the one executor.

use anyhow::Result;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::inputs::{audit_input, load_streams, selection_and_options};
use crate::ansible::{Module, ModuleContext, ModuleError, ModuleOutcome};
use crate::cluster::{Reads, SnapshotPart};
use crate::execute::{Observation, RunRecord, Step};
use crate::options::{
    ConnectionParams, GateParams, NamespaceParams, SelectionParams, StreamParams, WriteParams,
};
use crate::plan::audit::Part;
use crate::plan::skew::{plan_skew_record, RecordAs, SkewOptions, SkewOutcome, SkewReport};

/// Options of `skew_enforcement`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Params {
    #[serde(flatten)]
    pub connection: ConnectionParams,
    #[serde(flatten)]
    pub write: WriteParams,
    #[serde(flatten)]
    pub gate: GateParams,
    #[serde(flatten)]
    pub ns: NamespaceParams,
    #[serde(flatten)]
    pub stream: StreamParams,
    /// How to record the oldest boot image in use: `rhcos` (`manual.mode: RHCOSVersion`,
    /// the build id itself), `ocp` (`manual.mode: OCPVersion`, `x.y.0` of the build's
    /// OpenShift minor; RHEL-versioned 4.19+ builds name none), or `auto` (`rhcos` when the
    /// build id can be written there, else `ocp`).
    #[serde(default)]
    pub record_as: RecordAs,
    /// Record Manual even where MCO enforces skew in Automatic mode
    /// (`status.bootImageSkewEnforcementStatus.mode: Automatic`: MCO updates the boot
    /// images and keeps the record itself). Refused without it.
    #[serde(default)]
    pub allow_automatic: bool,
}

/// Return values of `skew_enforcement`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Output {
    /// What the step did to `spec.bootImageSkewEnforcement`.
    pub skew_record: SkewOutcome,
    /// The skew enforcement audit it was planned from (every MachineSet of `namespace`).
    pub skew_enforcement: SkewReport,
    #[serde(flatten)]
    pub run: RunRecord,
}

/// The module.
pub struct SkewEnforcement;

impl Module for SkewEnforcement {
    const NAME: &'static str = "skew_enforcement";
    const SHORT_DESCRIPTION: &'static str =
        "Record the oldest boot image in use in MachineConfiguration's boot image skew enforcement";
    const DESCRIPTION: &'static str = r#"
The last step of a boot image update on OpenShift 4.20+ (skew enforcement GA in 4.22):
sets MachineConfiguration `cluster` `spec.bootImageSkewEnforcement` to `mode: Manual` with
`manual.mode: RHCOSVersion` + `rhcosVersion`, or `OCPVersion` + `ocpVersion`
(`record_as`), naming the oldest boot image any MachineSet of `namespace` boots — never a
newer one. MCO compares that record with its floor (OCP 4.13.0 / RHEL 9.2) and blocks
minor upgrades below it.

Refuses (nothing changed) when the build of a MachineSet's image is unknown (give
`image_builds`), when there are no MachineSets, and — unless `allow_automatic` — where MCO
enforces in Automatic mode. Skipped with a warning where the MachineConfiguration has no
skew enforcement (before 4.20). Waits for a cluster update to end (unless
`allow_progressing`).

The old `spec.bootImageSkewEnforcement` goes into the rollback record before the change.
The change is a JSON merge patch carrying the `resourceVersion` read; a concurrent change
(409) is re-read and re-planned. Check mode sends no write request and returns the same
`changed` and `diff` as a real run; a second run changes nothing.
"#;
    const EXAMPLES: &'static str = r#"
- name: Record the oldest boot image in use (after the swap), same run id as the update
  ocp.bootimage.skew_enforcement:
    run_id: "{{ update_run_id }}"

- name: Show what would be recorded, as an OCP version (no write request)
  ocp.bootimage.skew_enforcement:
    record_as: ocp
  check_mode: true
  diff: true
"#;
    type Params = Params;
    type Output = Output;

    async fn run(
        params: Params,
        ctx: &ModuleContext,
    ) -> Result<ModuleOutcome<Output>, ModuleError> {
        let selection = SelectionParams {
            namespace: params.ns.clone(),
            machinesets: Vec::new(),
            label_selector: None,
        };
        let (sel, mut options) = selection_and_options(&selection, &params.stream)?;
        options.not_gathered = Part::ALL.into_iter().collect();
        let no_stream_file = params.stream.stream_file.is_none();
        let mut needed = vec![
            SnapshotPart::Infrastructure,
            SnapshotPart::ClusterVersion,
            SnapshotPart::MachineConfiguration,
        ];
        needed.extend(no_stream_file.then_some(SnapshotPart::BootimagesConfigMap));
        let observation = Observation {
            selection: &sel,
            reads: Reads {
                stream_configmap: no_stream_file,
                ..Reads::MIN
            },
            needed: &needed,
            gate: Some(&params.gate),
        };
        let (step, snapshot) = Step::open(
            Self::NAME,
            "MachineConfiguration",
            &params.connection,
            &params.write,
            observation,
            &ctx.meta,
        )
        .await?;
        let streams = load_streams(&params.stream, &snapshot)?;
        let report = crate::plan::audit(&audit_input(&snapshot, &streams, &options));
        let opts = SkewOptions {
            record_as: params.record_as,
            allow_automatic: params.allow_automatic,
        };
        let (skew, sets) = (&report.skew_enforcement, &report.machinesets);
        let mc = snapshot.machine_configuration.as_ref();
        let mut plan = plan_skew_record(mc, skew, sets, opts);
        let mut warnings = skew.notes.clone();
        warnings.append(&mut plan.warnings);
        plan.warnings = warnings;
        let replan = |fresh: &Value| {
            let again = plan_skew_record(Some(fresh), skew, sets, opts);
            match again.refusals.first() {
                Some(why) => Err(anyhow::anyhow!("{why}")),
                None => Ok(again.changes.into_iter().next()),
            }
        };
        let out = step
            .execute(plan, &ctx.meta, &replan, |outcome, _, step| Output {
                skew_record: outcome,
                skew_enforcement: skew.clone(),
                run: step.run_record(),
            })
            .await;
        Ok(out)
    }
}
