//! `machineset_bootimage`: swaps each selected MachineSet's boot image to the one
//! the stream names for its platform, region and architecture (or an explicit
//! `image`), never newer than the cluster, recording every old value first.
//!
//! Planning is the core's [`plan_swaps`] (also re-plans after a 409); this file parses
//! the options, reads, and hands the plan to the one executor.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::inputs::{audit_input, load_streams, selection_and_options, stream_reads};
use crate::ansible::{Module, ModuleContext, ModuleError, ModuleOutcome};
use crate::cluster::{resources, Reads, Snapshot, SnapshotPart};
use crate::execute::{Observation, RunRecord, Step};
use crate::kube::client::get;
use crate::options::ConnectionParams;
use crate::options::{GateParams, SelectionParams, StreamParams, SwapGuardParams, WriteParams};
use crate::plan::swap::{
    plan_swap, plan_swaps, settle_swaps, swap_context, SwapOptions, SwapReport,
};

/// Options of `machineset_bootimage`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Params {
    #[serde(flatten)]
    pub connection: ConnectionParams,
    #[serde(flatten)]
    pub write: WriteParams,
    #[serde(flatten)]
    pub gate: GateParams,
    #[serde(flatten)]
    pub selection: SelectionParams,
    #[serde(flatten)]
    pub stream: StreamParams,
    /// Explicit target image for platforms the stream cannot name (vSphere template,
    /// OpenStack/Nutanix/IBM Cloud/PowerVS image name, a custom AMI): one value for every
    /// selected MachineSet, or a dict MachineSet name → image. Azure takes
    /// `publisher:offer:sku:version` or a resource id; GCP `projects/<p>/global/images/<n>`.
    #[schemars(extend("x-ansible-type" = "raw"))]
    pub image: Option<Value>,
    #[serde(flatten)]
    pub guards: SwapGuardParams,
    /// Also change the ControlPlaneMachineSet `cluster`.
    #[serde(default)]
    pub include_control_plane: bool,
    /// Plan as if every spec 2.x stub Ignition secret had been migrated already, to preview
    /// in check mode what an update that runs `stub_ignition` first would change (as
    /// `audit.yml` does). Check mode only: a real run always skips a MachineSet whose stub
    /// is still spec 2.x.
    #[serde(default)]
    pub assume_stubs_migrated: bool,
}

/// Return values of `machineset_bootimage`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Output {
    pub machinesets: Vec<SwapReport>,
    #[serde(flatten)]
    pub run: RunRecord,
}

fn images_option(v: Option<&Value>) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    match v {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.trim_start().starts_with('{') => {
            let parsed: Value =
                serde_json::from_str(s).context("`image` looks like JSON but does not parse")?;
            return images_option(Some(&parsed));
        }
        Some(Value::String(s)) => {
            out.insert(String::new(), s.clone());
        }
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let s = v
                    .as_str()
                    .with_context(|| format!("image[{k}] must be a string"))?;
                out.insert(k.clone(), s.to_string());
            }
        }
        Some(_) => anyhow::bail!("`image` must be a string or a dict of MachineSet name → image"),
    }
    Ok(out)
}

/// The module.
pub struct MachinesetBootimage;

impl Module for MachinesetBootimage {
    const NAME: &'static str = "machineset_bootimage";
    const SHORT_DESCRIPTION: &'static str =
        "Swap MachineSet boot images to the stream's images, with a rollback record";
    const DESCRIPTION: &'static str = r#"
Swaps each selected MachineSet's boot image to the one the stream metadata names for its
platform, region and architecture (or to an explicit `image` where the stream cannot name
one: vSphere templates, OpenStack/Nutanix/IBM Cloud/PowerVS images). Never to a build
newer than the cluster (unless `allow_newer`), never on managed clusters (unless
`allow_managed`), never on MachineSets the Machine Config Operator manages (unless
`include_mco_managed`), and skips owned, Windows, confidential and custom-image
MachineSets with a reason. A MachineSet whose user-data secret still holds a spec 2.x stub
Ignition is skipped too, naming the secret: a boot image of OpenShift 4.6 or later reads
only spec 3, so not one machine would boot. Run `stub_ignition` first (procedure step 2).

Every old value goes into the rollback record before the first change. Changes are JSON
merge patches carrying the `resourceVersion` read; a concurrent change (409) is re-read and
re-planned. Check mode sends no write request and returns the same `changed` and `diff`
as a real run; a second run changes nothing.
"#;
    const EXAMPLES: &'static str = r#"
- name: Show what would change (no write request)
  ocp.bootimage.machineset_bootimage:
  check_mode: true
  diff: true

- name: Swap worker boot images to the cluster's own stream, one run id for the whole update
  ocp.bootimage.machineset_bootimage:
    label_selector: machine.openshift.io/cluster-api-machine-role=worker
    run_id: "{{ update_run_id }}"

- name: vSphere - point the MachineSets at a template imported from the stream's OVA
  ocp.bootimage.machineset_bootimage:
    image:
      ocp-cl02-xdqkk-worker: rhcos-418.94.202501221327-0-template
"#;
    type Params = Params;
    type Output = Output;

    async fn run(
        params: Params,
        ctx: &ModuleContext,
    ) -> Result<ModuleOutcome<Output>, ModuleError> {
        let (sel, mut options) = selection_and_options(&params.selection, &params.stream)?;
        options.allow_newer_stream = params.guards.allow_newer;
        let swap = swap_options(&params, ctx.meta.check_mode)?;
        let (mut reads, needed) = reads_and_needs(&params.stream);
        // Single-arch ClusterVersions never name the architecture: read a control-plane
        // node's rather than assume x86_64 for MachineSets without an arch annotation.
        reads.control_plane_arch = options.architecture.is_none();
        let observation = Observation {
            selection: &sel,
            reads,
            needed: &needed,
            gate: Some(&params.gate),
        };
        let (mut step, mut snapshot) = Step::open(
            Self::NAME,
            "MachineSet(s)",
            &params.connection,
            &params.write,
            observation,
            &ctx.meta,
        )
        .await?;
        if params.include_control_plane {
            add_control_plane(&mut step, &mut snapshot, params.selection.namespace()).await?;
        }
        let streams = load_streams(&params.stream, &snapshot)?;
        // The MachineSets leave the snapshot: planning drops each once planned, and a 409
        // re-reads the object, so none is held while the run records and writes.
        let machinesets = std::mem::take(&mut snapshot.machinesets);
        let input = audit_input(&snapshot, &streams, &options);
        let (msctx, mut warnings) = swap_context(&input, &machinesets, &swap);
        let mut plan = plan_swaps(machinesets, &msctx, &swap);
        warnings.append(&mut plan.warnings);
        plan.warnings = warnings;
        let replan = |fresh: &Value| Ok(plan_swap(fresh, &msctx, &swap).into_change());
        let out = step
            .execute(plan, &ctx.meta, &replan, |mut reports, applied, step| {
                if let Some(a) = applied {
                    settle_swaps(&mut reports, &a.applied);
                }
                Output {
                    machinesets: reports,
                    run: step.run_record(),
                }
            })
            .await;
        Ok(out)
    }
}

/// What a swap reads: [`stream_reads`] — and every user-data secret (the stub guard: a
/// 2.x stub cannot boot a new image).
fn reads_and_needs(stream: &StreamParams) -> (Reads, Vec<SnapshotPart>) {
    let (mut reads, needed) = stream_reads(stream);
    reads.user_data_secrets = true;
    (reads, needed)
}

/// The swap settings from the options; `assume_stubs_migrated` only in check mode.
fn swap_options(params: &Params, check_mode: bool) -> Result<SwapOptions> {
    if params.assume_stubs_migrated && !check_mode {
        anyhow::bail!(
            "assume_stubs_migrated is for check-mode previews only: migrate the stubs with \
             ocp.bootimage.stub_ignition, then run without it"
        );
    }
    Ok(SwapOptions {
        images: images_option(params.image.as_ref())?,
        assume_stubs_migrated: params.assume_stubs_migrated,
        ..params.guards.swap_options()
    })
}

/// Adds the ControlPlaneMachineSet `cluster` to the MachineSets to plan (one GET), or
/// warns that there is none.
async fn add_control_plane(step: &mut Step, snapshot: &mut Snapshot, ns: &str) -> Result<()> {
    match get(
        &step.conn,
        resources::CONTROL_PLANE_MACHINE_SET,
        Some(ns),
        "cluster",
    )
    .await?
    {
        Some(cpms) => snapshot.machinesets.push(cpms),
        None => step
            .warnings
            .push("no ControlPlaneMachineSet `cluster` to change".into()),
    }
    Ok(())
}
