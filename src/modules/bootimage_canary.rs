//! `bootimage_canary`: proves that a MachineSet's (new) boot image boots.
//!
//! Scales the MachineSet up by one (the original replicas go into the rollback
//! record first), waits for the new Machine's Node to be Ready and for its
//! machine-config-daemon to log the `CoreOS aleph version` line, compares the
//! booted build with the expected one, and scales back — in every path: success,
//! mismatch, timeout or an API error mid-way. The canary Machine is marked with
//! `machine.openshift.io/delete-machine` before the scale-down so the MachineSet
//! removes exactly it, whatever its `deletePolicy`.
//!
//! Paused autoscaling: a MachineAutoscaler that `autoscaling` pinned (min = max =
//! replicas) is widened by one for the canary and pinned back afterwards, so the
//! cluster autoscaler neither fights the scale-up nor removes the canary. A
//! MachineAutoscaler that is NOT paused makes the canary refuse: the autoscaler
//! could remove the canary node or scale around it — pause autoscaling first.
//!
//! The decisions are the core's ([`plan_canary`], [`CanaryPlan::retarget`],
//! [`CanaryPlan::verdict`]); this file runs open → prepare → scale up → wait → scale
//! back → outcome. Its LISTs (the Machines before the scale-up, then the canary's
//! Machine and daemon pod) are quorum reads ([`list_latest`]): they watch what this
//! run's own write causes, and a stale read (from a watch cache, or another API server's
//! older one) could miss a Machine that existed before or step back in time.

use crate::ansible::AnsibleMeta;
use crate::execute::Target;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use kube::api::{ListParams, Patch, PatchParams};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::inputs::{audit_input, load_streams, selection_and_options};
use crate::ansible::{DiffEntry, Module, ModuleContext, ModuleError, ModuleOutcome};
use crate::cluster::nodes::{PodLog, MACHINESET_LABEL, MCD_LABEL_SELECTOR};
use crate::cluster::{name_of, resources, Reads, Snapshot, SnapshotPart};
use crate::execute::Step;
use crate::execute::{managed_guard, progress_guard, require_readable, RunRecord};
use crate::kube::access::{can_i, missing};
use crate::kube::client::{api, explain, get, list_latest};
use crate::kube::connection::Connection;
use crate::kube::nodes::read_mcd_log;
use crate::mcd::parse_mcd_log;
use crate::options::ConnectionParams;
use crate::options::{GateParams, NamespaceParams, SelectionParams, StreamParams, WriteParams};
use crate::plan::canary::{
    canary_autoscalers, current_build, new_machine, node_ready, parse_expected, plan_canary,
    undetermined, CanaryPlan, Seen,
};
use crate::plan::AuditOptions;
use crate::plan::ObjectChange;
use crate::progress::Progress;
use crate::stream::BuildId;

fn default_timeout() -> u64 {
    1800
}

fn default_poll() -> u64 {
    10
}

fn default_true() -> bool {
    true
}

/// Options of `bootimage_canary`.
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
    /// The MachineSet to test (one name).
    pub machineset: String,
    /// How long to wait for the canary node to boot and log its build, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout: u64,
    /// How often to look, in seconds.
    #[serde(default = "default_poll")]
    pub poll_interval: u64,
    /// The build the node must boot. Default: the build of the image the MachineSet names now
    /// (after `machineset_bootimage`, the target build of the swap), from the stream
    /// (`stream_file` or the cluster's ConfigMap) and the known RHCOS images.
    pub expected_build: Option<String>,
    /// Fail the task when the booted build is not the expected one.
    #[serde(default = "default_true")]
    pub fail_on_mismatch: bool,
}

/// Seconds from the scale-up to each milestone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct Timings {
    /// The canary Machine appeared.
    pub machine_after: Option<f64>,
    /// Its Node appeared (Machine `status.nodeRef`).
    pub node_after: Option<f64>,
    /// The Node was Ready.
    pub ready_after: Option<f64>,
    /// The machine-config-daemon logged the aleph line.
    pub build_after: Option<f64>,
    /// The whole canary, scale-back included.
    pub total: f64,
}

/// Return values of `bootimage_canary`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Output {
    pub machineset: String,
    /// The build the node had to boot.
    pub expected_build: Option<String>,
    /// The build the canary node booted (from its machine-config-daemon log).
    pub booted_build: Option<String>,
    /// Whether `booted_build` is `expected_build`.
    pub matches: bool,
    /// The canary Machine (removed again by the scale-back).
    pub machine: Option<String>,
    /// Its Node.
    pub node: Option<String>,
    /// Replicas before the canary (and after it).
    pub replicas: i64,
    /// Whether the MachineSet is back at `replicas` (and paused autoscalers at their pin).
    pub restored: bool,
    pub timings: Timings,
    #[serde(flatten)]
    pub run: RunRecord,
}

/// The module.
pub struct BootimageCanary;

impl Module for BootimageCanary {
    const NAME: &'static str = "bootimage_canary";
    const SHORT_DESCRIPTION: &'static str =
        "Prove a MachineSet's boot image boots: scale up by one, read the booted build, scale back";
    const DESCRIPTION: &'static str = r#"
After `machineset_bootimage`, proves that the new image boots: scales the MachineSet up by
one (the original replicas go into the rollback record first), waits for the new Machine's
Node to be Ready and for its machine-config-daemon to log the `CoreOS aleph version` line,
compares the booted build with `expected_build`, and scales back to the original replicas —
also on a mismatch, a timeout or an API error mid-way. The canary Machine is annotated
`machine.openshift.io/delete-machine` first, so the scale-down removes exactly it whatever
the MachineSet's `deletePolicy`; its name is returned. Before anything changes (and in
check mode) it asks the API server (a SelfSubjectAccessReview) whether it may `patch`
machines, and refuses with the permission named if not: without the mark the scale-down
could remove a working node.

Paused autoscaling (`autoscaling state=paused`) is honoured: a pinned MachineAutoscaler is
widened by one for the canary and pinned back afterwards. A MachineAutoscaler that is not
paused makes the canary refuse (the cluster autoscaler could remove the canary node): pause
autoscaling first. Check mode reports what it would do and changes nothing.
"#;
    const EXAMPLES: &'static str = r#"
- name: Boot one machine from the new image and check its build
  ocp.bootimage.bootimage_canary:
    machineset: build09-kcxpl-worker-us-east-1a
    timeout: 1800
  register: canary

- name: Expect an explicit build, report without failing
  ocp.bootimage.bootimage_canary:
    machineset: ocp-cl02-xdqkk-worker
    expected_build: 418.94.202501221327-0
    fail_on_mismatch: false
"#;
    type Params = Params;
    type Output = Output;

    async fn run(
        params: Params,
        ctx: &ModuleContext,
    ) -> Result<ModuleOutcome<Output>, ModuleError> {
        let started = Instant::now();
        let (mut step, snapshot, options) = open(&params, &ctx.meta).await?;
        let result = run_opened(&params, ctx, &mut step, &snapshot, &options, started).await;
        step.release().await;
        result
    }
}

/// The canary once its step is open (the run lock held outside check mode).
async fn run_opened(
    params: &Params,
    ctx: &ModuleContext,
    step: &mut Step,
    snapshot: &Snapshot,
    options: &AuditOptions,
    started: Instant,
) -> Result<ModuleOutcome<Output>, ModuleError> {
    let canary = prepare(params, step, snapshot, options).await?;
    // Diffs only when asked (`_ansible_diff`), as the executor's outcome does.
    let diff: Vec<DiffEntry> = match ctx.meta.diff {
        true => canary.up.iter().map(ObjectChange::diff).collect(),
        false => Vec::new(),
    };
    if ctx.meta.check_mode {
        step.check_with_server(&canary.up).await;
        let mut outcome = ModuleOutcome {
            changed: true,
            failed: false,
            msg: canary.check_msg(params.timeout),
            warnings: step.warnings.clone(),
            diff,
            output: output(&canary, step),
        };
        step.judge(&mut outcome);
        return Ok(outcome);
    }
    let mut out = output(&canary, step);
    let mut warnings = step.warnings.clone();
    let (changed, found) =
        scale_up_and_wait(step, &canary, params, started, &mut out.timings).await?;
    out.restored = scale_back(step, &canary, &found.seen, &mut warnings).await?;
    let (failed, msg) = settle(&mut out, &canary, found, started, params.fail_on_mismatch);
    Ok(ModuleOutcome {
        changed,
        failed,
        msg,
        warnings,
        diff,
        output: out,
    })
}

/// Connects and reads the MachineSet, its MachineAutoscalers (and ClusterAutoscalers),
/// ClusterVersion, Infrastructure, MachineConfiguration and, without `expected_build` or
/// `stream_file`, the stream ConfigMap; refuses (nothing changed) when the Infrastructure
/// or the MachineAutoscalers are unreadable, or the cluster is managed.
async fn open(params: &Params, meta: &AnsibleMeta) -> Result<(Step, Snapshot, AuditOptions)> {
    let selection = SelectionParams {
        namespace: params.ns.clone(),
        machinesets: vec![params.machineset.clone()],
        label_selector: None,
    };
    let (sel, options) = selection_and_options(&selection, &params.stream)?;
    let reads = Reads {
        autoscalers: true,
        stream_configmap: params.expected_build.is_none() && params.stream.stream_file.is_none(),
        ..Reads::MIN
    };
    let allow_managed = params.write.allow_managed;
    let guards = |snapshot: &Snapshot| {
        let needed = [
            SnapshotPart::Infrastructure,
            SnapshotPart::MachineAutoscalers,
        ];
        require_readable(snapshot, &needed)?;
        let infra = snapshot.infrastructure.as_ref();
        let managed = managed_guard(infra, &snapshot.machinesets, allow_managed)?;
        let mut warnings: Vec<String> = managed.into_iter().collect();
        warnings.extend(progress_guard(snapshot, &params.gate)?);
        Ok(warnings)
    };
    let target = Target {
        module: BootimageCanary::NAME,
        what: "MachineSet",
        connection: &params.connection,
        write: &params.write,
        meta,
    };
    let (step, snapshot) = Step::open_with(target, &sel, reads, guards).await?;
    Ok((step, snapshot, options))
}

/// Decides everything before a change (in check mode too): the MachineSet, the build it
/// must boot, the paused MachineAutoscalers to widen (an unpaused one refuses), and that
/// the canary Machine can be marked for the scale-back.
async fn prepare(
    params: &Params,
    step: &Step,
    snapshot: &Snapshot,
    options: &AuditOptions,
) -> Result<CanaryPlan> {
    let ms = snapshot.machinesets.first().with_context(|| {
        format!(
            "MachineSet {} not found in namespace {}",
            params.machineset, params.ns.namespace
        )
    })?;
    let expected = expected_build(params, snapshot, options, ms)?;
    let autoscalers = canary_autoscalers(&snapshot.machine_autoscalers, &params.machineset)
        .map_err(anyhow::Error::msg)?;
    require_patch_on_machines(&step.conn, &params.ns.namespace).await?;
    Ok(plan_canary(&params.ns.namespace, ms, expected, autoscalers))
}

/// The expected build: given, or the build of the image the MachineSet names now.
fn expected_build(
    params: &Params,
    snapshot: &Snapshot,
    options: &AuditOptions,
    ms: &Value,
) -> Result<BuildId> {
    let expected = match &params.expected_build {
        Some(b) => Some(parse_expected(b).map_err(anyhow::Error::msg)?),
        None => {
            let streams = load_streams(&params.stream, snapshot)?;
            current_build(&audit_input(snapshot, &streams, options), ms)
        }
    };
    expected.ok_or_else(|| anyhow::anyhow!(undetermined(&params.machineset)))
}

/// The scale-back marks the canary Machine so exactly it is removed; without that
/// permission the MachineSet's deletePolicy (Random by default) could remove a working
/// node instead. Refuses before anything changes (in check mode too).
async fn require_patch_on_machines(conn: &Connection, ns: &str) -> Result<()> {
    if can_i(conn, "patch", resources::MACHINE, Some(ns)).await? == Some(false) {
        anyhow::bail!(missing(
            "patch",
            resources::MACHINE,
            Some(ns),
            "the canary marks its Machine so that the scale-back removes exactly it"
        ));
    }
    Ok(())
}

/// The result before the canary runs (all a check-mode run returns).
fn output(canary: &CanaryPlan, step: &Step) -> Output {
    Output {
        machineset: canary.machineset.clone(),
        expected_build: Some(canary.expected.to_string()),
        booted_build: None,
        matches: false,
        machine: None,
        node: None,
        replicas: canary.replicas,
        restored: true,
        timings: Timings::default(),
        run: step.run_record(),
    }
}

/// What the wait found.
#[derive(Default)]
struct Found {
    seen: Seen,
    build: Option<BuildId>,
    /// Why the canary stopped (scale-up failed, timeout, API error).
    error: Option<String>,
}

/// Scales up (recorded first; a 409 re-plans) and, when that worked, waits for the
/// canary's build. Returns whether anything was changed, and what the wait found.
async fn scale_up_and_wait(
    step: &Step,
    canary: &CanaryPlan,
    params: &Params,
    started: Instant,
    timings: &mut Timings,
) -> Result<(bool, Found)> {
    // Machines that exist before the canary: the new one is the one not in this list.
    let lp = ListParams::default().labels(&format!("{MACHINESET_LABEL}={}", canary.machineset));
    let before: Vec<String> =
        list_latest(&step.conn, resources::MACHINE, Some(&canary.namespace), &lp)
            .await?
            .unwrap_or_default()
            .iter()
            .map(|m| name_of(m).to_string())
            .collect();
    let n = canary.replicas + 1;
    let up = step
        .applier()
        .apply(canary.up.clone(), &|f| Ok(canary.retarget(f, n)))
        .await;
    let found = match up.error {
        Some(e) => Found {
            error: Some(e),
            ..Found::default()
        },
        None => {
            let wait = Wait {
                machineset: &canary.machineset,
                ns: &canary.namespace,
                before: &before,
                start: started,
                timeout: Duration::from_secs(params.timeout),
                poll: Duration::from_secs(params.poll_interval.max(1)),
                lp,
            };
            wait_for_build(&step.conn, &wait, timings).await
        }
    };
    Ok((!up.applied.is_empty(), found))
}

/// Scales back to the original replicas and pins, in every path; marks the canary
/// Machine first so that exactly it is removed. False (with a warning) when the
/// scale-back failed.
async fn scale_back(
    step: &Step,
    canary: &CanaryPlan,
    seen: &Seen,
    warnings: &mut Vec<String>,
) -> Result<bool> {
    let (conn, ns) = (&step.conn, Some(canary.namespace.as_str()));
    if let Some(machine) = &seen.machine {
        mark_for_deletion(conn, &canary.namespace, machine, warnings).await;
    }
    let n = canary.replicas;
    let mut back = Vec::new();
    if let Some(fresh) = get(conn, resources::MACHINE_SET, ns, &canary.machineset).await? {
        back.extend(canary.retarget(&fresh, n));
    }
    for ma in &canary.autoscalers {
        if let Some(fresh) = get(conn, resources::MACHINE_AUTOSCALER, ns, name_of(ma)).await? {
            back.extend(canary.retarget(&fresh, n));
        }
    }
    let down = step
        .applier()
        .apply(back, &|f| Ok(canary.retarget(f, n)))
        .await;
    let Some(e) = &down.error else {
        return Ok(true);
    };
    warnings.push(format!(
        "SCALE-BACK FAILED: {e}; set replicas of {} back to {n} by hand",
        canary.machineset
    ));
    Ok(false)
}

/// Annotates the canary Machine `machine.openshift.io/delete-machine`, so the scale-down
/// removes exactly it; a warning when that fails.
async fn mark_for_deletion(conn: &Connection, ns: &str, machine: &str, warnings: &mut Vec<String>) {
    let mark = Patch::Merge(
        json!({"metadata": {"annotations": {"machine.openshift.io/delete-machine": "true"}}}),
    );
    if let Err(e) = api(conn, resources::MACHINE, Some(ns))
        .patch(machine, &PatchParams::default(), &mark)
        .await
    {
        warnings.push(format!(
            "could not mark canary Machine {machine} for deletion ({}): the scale-back \
             removes a Machine chosen by the MachineSet's deletePolicy",
            explain(&e, conn, "patch", resources::MACHINE, Some(ns))
        ));
    }
}

/// Fills the result from what the canary found, and says whether the run failed (also
/// when the scale-back did) and its `msg`.
fn settle(
    out: &mut Output,
    canary: &CanaryPlan,
    found: Found,
    started: Instant,
    fail_on_mismatch: bool,
) -> (bool, String) {
    out.machine = found.seen.machine.clone();
    out.node = found.seen.node.clone();
    out.booted_build = found.build.as_ref().map(ToString::to_string);
    out.matches = found.build.as_ref() == Some(&canary.expected);
    out.timings.total = secs(started);
    let error = found.error.as_deref();
    let (failed, msg) = canary.verdict(error, found.build.as_ref(), &found.seen, fail_on_mismatch);
    (failed || !out.restored, msg)
}

fn secs(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 100.0).round() / 100.0
}

/// What to wait for.
struct Wait<'a> {
    machineset: &'a str,
    ns: &'a str,
    /// Machines that existed before the scale-up.
    before: &'a [String],
    start: Instant,
    timeout: Duration,
    poll: Duration,
    /// The MachineSet's Machines.
    lp: ListParams,
}

/// Looks at the canary every `poll` until its build is known, an API error, or the
/// timeout.
async fn wait_for_build(conn: &Connection, w: &Wait<'_>, timings: &mut Timings) -> Found {
    let mut found = Found::default();
    let progress = Progress::wait(String::new());
    loop {
        progress.set_message(format!(
            "canary of {}: waiting for {} (timeout {} s)",
            w.machineset,
            found.seen.waiting_for(),
            w.timeout.as_secs()
        ));
        if w.start.elapsed() > w.timeout {
            found.error = Some(format!(
                "timed out after {}s waiting for {}",
                w.timeout.as_secs(),
                found.seen.waiting_for()
            ));
            return found;
        }
        match look(conn, w, &mut found, timings).await {
            Ok(true) => return found,
            Ok(false) => {}
            Err(e) => {
                found.error = Some(format!("{e:#}"));
                return found;
            }
        }
        tokio::time::sleep(w.poll).await;
    }
}

/// One look at the canary: its Machine, Node, readiness and logged build (noting when
/// each first appears); true when the build is known.
async fn look(
    conn: &Connection,
    w: &Wait<'_>,
    found: &mut Found,
    timings: &mut Timings,
) -> Result<bool> {
    let Some(node) = canary_node(conn, w, &mut found.seen, timings).await? else {
        return Ok(false);
    };
    let Some(n) = get(conn, resources::NODE, None, &node).await? else {
        return Ok(false);
    };
    if !node_ready(&n) {
        return Ok(false);
    }
    if timings.ready_after.is_none() {
        timings.ready_after = Some(secs(w.start));
    }
    let Some(build) = logged_build(conn, &node).await? else {
        return Ok(false);
    };
    found.build = Some(build);
    timings.build_after = Some(secs(w.start));
    Ok(true)
}

/// The canary Machine's node, once it has one.
async fn canary_node(
    conn: &Connection,
    w: &Wait<'_>,
    seen: &mut Seen,
    timings: &mut Timings,
) -> Result<Option<String>> {
    let machines = list_latest(conn, resources::MACHINE, Some(w.ns), &w.lp)
        .await?
        .unwrap_or_default();
    let Some(canary) = new_machine(&machines, w.before) else {
        return Ok(None);
    };
    if seen.machine.is_none() {
        seen.machine = Some(name_of(canary).to_string());
        timings.machine_after = Some(secs(w.start));
    }
    let Some(node) = canary
        .pointer("/status/nodeRef/name")
        .and_then(Value::as_str)
    else {
        return Ok(None);
    };
    if seen.node.is_none() {
        seen.node = Some(node.to_string());
        timings.node_after = Some(secs(w.start));
    }
    Ok(Some(node.to_string()))
}

/// The build the machine-config-daemon on `node` logged (None: not yet); a log the
/// caller may not read is an error.
async fn logged_build(conn: &Connection, node: &str) -> Result<Option<BuildId>> {
    let lp = ListParams::default()
        .labels(MCD_LABEL_SELECTOR)
        .fields(&format!("spec.nodeName={node}"));
    let pods = list_latest(conn, resources::POD, Some(resources::MCO_NAMESPACE), &lp)
        .await?
        .unwrap_or_default();
    let Some(pod) = pods.first() else {
        return Ok(None);
    };
    match read_mcd_log(conn, name_of(pod)).await {
        PodLog::Text(text) => Ok(parse_mcd_log(&text).ok().map(|aleph| aleph.build)),
        PodLog::Unreadable {
            reason,
            forbidden: true,
        } => anyhow::bail!(reason),
        PodLog::Unreadable { .. } => Ok(None),
    }
}
