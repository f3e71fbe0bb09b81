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

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use kube::api::{ListParams, Patch, PatchParams};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::common::managed_guard;
use super::inputs::{audit_input, load_streams, selection_and_options};
use crate::ansible::{DiffEntry, Module, ModuleContext, ModuleError, ModuleOutcome};
use crate::cluster::nodes::{PodLog, MACHINESET_LABEL, MCD_LABEL_SELECTOR};
use crate::cluster::{name_of, resources, Reads, SnapshotPart};
use crate::kube::access::{can_i, missing};
use crate::kube::apply::Applier;
use crate::kube::client::{api, explain, get, list};
use crate::kube::nodes::read_mcd_log;
use crate::kube::observe;
use crate::kube::ConnectionParams;
use crate::mcd::parse_mcd_log;
use crate::options::{NamespaceParams, SelectionParams, StreamParams, WriteParams};
use crate::plan::audit::{machineset_context, PAUSED_ANNOTATION};
use crate::plan::cluster::cluster_info;
use crate::plan::machineset::assess;
use crate::plan::ObjectChange;
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
    pub run_id: String,
    pub record: String,
}

/// The module.
pub struct BootimageCanary;

fn replicas_of(ms: &Value) -> i64 {
    ms.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

fn with_replicas(ms: &Value, n: i64) -> Value {
    let mut after = ms.clone();
    after["spec"]["replicas"] = json!(n);
    after
}

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

/// Plans the widening (or narrowing back) of a paused MachineAutoscaler to `n`.
fn pin_change(ma: &Value, n: i64, why: &str) -> ObjectChange {
    let mut after = ma.clone();
    after["spec"]["minReplicas"] = json!(n);
    after["spec"]["maxReplicas"] = json!(n);
    ObjectChange {
        kind: resources::MACHINE_AUTOSCALER,
        namespace: ma
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_string),
        name: name_of(ma).to_string(),
        before: Some(ma.clone()),
        after,
        summary: format!("{why}: min = max = {n}"),
    }
}

fn secs(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 100.0).round() / 100.0
}

/// What the wait found.
#[derive(Default)]
struct Found {
    machine: Option<String>,
    node: Option<String>,
    build: Option<BuildId>,
    error: Option<String>,
}

/// What to wait for.
struct Wait<'a> {
    ns: &'a str,
    ms: &'a str,
    /// Machines that existed before the scale-up.
    before: &'a [String],
    start: Instant,
    timeout: Duration,
    poll: Duration,
}

async fn wait_for_build(
    conn: &crate::kube::connection::Connection,
    w: &Wait<'_>,
    timings: &mut Timings,
) -> Found {
    let Wait {
        ns,
        ms,
        before,
        start,
        timeout,
        poll,
    } = *w;
    let mut found = Found::default();
    let lp = ListParams::default().labels(&format!("{MACHINESET_LABEL}={ms}"));
    loop {
        if start.elapsed() > timeout {
            found.error = Some(format!(
                "timed out after {}s waiting for {}",
                timeout.as_secs(),
                match (&found.machine, &found.node) {
                    (None, _) => "the canary Machine".to_string(),
                    (Some(m), None) => format!("a node for Machine {m}"),
                    (Some(_), Some(n)) => format!("node {n} to be Ready and log its build"),
                }
            ));
            return found;
        }
        let step: Result<bool> = async {
            let machines = list(conn, resources::MACHINE, Some(ns), &lp)
                .await?
                .unwrap_or_default();
            let canary = machines
                .iter()
                .find(|m| !before.iter().any(|b| b == name_of(m)));
            let Some(canary) = canary else {
                return Ok(false);
            };
            if found.machine.is_none() {
                found.machine = Some(name_of(canary).to_string());
                timings.machine_after = Some(secs(start));
            }
            let Some(node) = canary
                .pointer("/status/nodeRef/name")
                .and_then(Value::as_str)
            else {
                return Ok(false);
            };
            if found.node.is_none() {
                found.node = Some(node.to_string());
                timings.node_after = Some(secs(start));
            }
            let Some(n) = get(conn, resources::NODE, None, node).await? else {
                return Ok(false);
            };
            let ready = n
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|c| {
                    c.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                });
            if !ready {
                return Ok(false);
            }
            if timings.ready_after.is_none() {
                timings.ready_after = Some(secs(start));
            }
            let pods_lp = ListParams::default()
                .labels(MCD_LABEL_SELECTOR)
                .fields(&format!("spec.nodeName={node}"));
            let pods = list(
                conn,
                resources::POD,
                Some(resources::MCO_NAMESPACE),
                &pods_lp,
            )
            .await?
            .unwrap_or_default();
            let Some(pod) = pods.first() else {
                return Ok(false);
            };
            match read_mcd_log(conn, name_of(pod)).await {
                PodLog::Text(text) => match parse_mcd_log(&text) {
                    Ok(aleph) => {
                        found.build = Some(aleph.build);
                        timings.build_after = Some(secs(start));
                        Ok(true)
                    }
                    Err(_) => Ok(false),
                },
                PodLog::Unreadable {
                    reason,
                    forbidden: true,
                } => anyhow::bail!(reason),
                PodLog::Unreadable { .. } => Ok(false),
            }
        }
        .await;
        match step {
            Ok(true) => return found,
            Ok(false) => {}
            Err(e) => {
                found.error = Some(format!("{e:#}"));
                return found;
            }
        }
        tokio::time::sleep(poll).await;
    }
}

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
        let selection = SelectionParams {
            namespace: params.ns.clone(),
            machinesets: vec![params.machineset.clone()],
            label_selector: None,
        };
        let (sel, options) = selection_and_options(&selection, &params.stream)?;
        let conn = params.connection.connect().await?;
        let snapshot = observe::from_cluster(
            &conn,
            &sel,
            Reads {
                autoscalers: true,
                stream_configmap: params.expected_build.is_none()
                    && params.stream.stream_file.is_none(),
                ..Reads::MIN
            },
        )
        .await?;
        super::common::require_readable(
            &snapshot,
            &[
                SnapshotPart::Infrastructure,
                SnapshotPart::MachineAutoscalers,
            ],
        )?;
        let mut warnings = Vec::new();
        if let Some(w) = managed_guard(
            snapshot.infrastructure.as_ref(),
            &snapshot.machinesets,
            params.write.allow_managed,
        )? {
            warnings.push(w);
        }
        let ms = snapshot.machinesets.first().cloned().with_context(|| {
            format!(
                "MachineSet {} not found in namespace {}",
                params.machineset, params.ns.namespace
            )
        })?;
        let replicas = replicas_of(&ms);
        // The expected build: given, or the build of the image the MachineSet names now.
        let expected: Option<BuildId> = match &params.expected_build {
            Some(b) => Some(
                b.parse()
                    .map_err(|e| anyhow::anyhow!("expected_build {b:?} is not a build id: {e}"))?,
            ),
            None => {
                let streams = load_streams(&params.stream, &snapshot)?;
                let input = audit_input(&snapshot, &streams, &options);
                let cluster = cluster_info(
                    snapshot.cluster_version.as_ref(),
                    snapshot.infrastructure.as_ref(),
                    &snapshot.machinesets,
                    options.architecture,
                );
                let ctx = machineset_context(&input, &cluster, &mut Vec::new());
                assess(&ms, &ctx).current_build.and_then(|b| b.parse().ok())
            }
        };
        let Some(expected) = expected else {
            return Err(anyhow::anyhow!(
                "the build of the image MachineSet {} names cannot be determined; give expected_build",
                params.machineset
            )
            .into());
        };
        // Autoscalers: paused ones are widened by one; unpaused ones make the canary refuse.
        let mas: Vec<Value> = snapshot
            .machine_autoscalers
            .iter()
            .filter(|m| targets(m, &params.machineset))
            .cloned()
            .collect();
        if let Some(active) = mas.iter().find(|m| {
            m.pointer("/metadata/annotations")
                .and_then(|a| a.get(PAUSED_ANNOTATION))
                .is_none()
        }) {
            return Err(anyhow::anyhow!(
                "MachineAutoscaler {} scales MachineSet {} and is not paused: the cluster autoscaler could remove the \
                 canary node. Pause autoscaling first (ocp.bootimage.autoscaling state=paused)",
                name_of(active),
                params.machineset
            )
            .into());
        }
        // The scale-back marks the canary Machine so exactly it is removed; without that
        // permission the MachineSet's deletePolicy (Random by default) could remove a
        // working node instead. Refuse before anything changes (in check mode too).
        if can_i(
            &conn,
            "patch",
            resources::MACHINE,
            Some(&params.ns.namespace),
        )
        .await?
            == Some(false)
        {
            return Err(anyhow::anyhow!(missing(
                "patch",
                resources::MACHINE,
                Some(&params.ns.namespace),
                "the canary marks its Machine so that the scale-back removes exactly it"
            ))
            .into());
        }
        let mut up = vec![ObjectChange {
            kind: resources::MACHINE_SET,
            namespace: Some(params.ns.namespace.clone()),
            name: params.machineset.clone(),
            before: Some(ms.clone()),
            after: with_replicas(&ms, replicas + 1),
            summary: format!("canary: replicas {replicas} → {}", replicas + 1),
        }];
        for ma in &mas {
            up.insert(
                0,
                pin_change(ma, replicas + 1, "canary: widen the paused pin"),
            );
        }
        let run_id = params.write.record.run_id();
        let store = params
            .write
            .record
            .store(Some(&conn), &params.ns.namespace)?;
        let mut out = Output {
            machineset: params.machineset.clone(),
            expected_build: Some(expected.to_string()),
            booted_build: None,
            matches: false,
            machine: None,
            node: None,
            replicas,
            restored: true,
            timings: Timings::default(),
            run_id: run_id.clone(),
            record: store.location.to_string(),
        };
        let diff: Vec<DiffEntry> = up.iter().map(ObjectChange::diff).collect();
        if ctx.meta.check_mode {
            return Ok(ModuleOutcome {
                changed: true,
                failed: false,
                msg: format!(
                    "would scale MachineSet {} from {replicas} to {}, wait up to {}s for the new node to boot {expected}, then scale back",
                    params.machineset,
                    replicas + 1,
                    params.timeout
                ),
                warnings,
                diff,
                output: out,
            });
        }
        // Machines that exist before the canary: the new one is the one not in this list.
        let lp = ListParams::default().labels(&format!("{MACHINESET_LABEL}={}", params.machineset));
        let before: Vec<String> = list(&conn, resources::MACHINE, Some(&params.ns.namespace), &lp)
            .await?
            .unwrap_or_default()
            .iter()
            .map(|m| name_of(m).to_string())
            .collect();
        let applier = Applier {
            conn: &conn,
            store: &store,
            module: Self::NAME,
            run_id: &run_id,
        };
        let ns = params.ns.namespace.clone();
        let ms_name = params.machineset.clone();
        // Re-plan after a conflict: set the wanted replicas / pin on the fresh object.
        let target = |fresh: &Value, n: i64| -> Result<Option<ObjectChange>> {
            let change = if fresh.get("kind").and_then(Value::as_str) == Some("MachineAutoscaler") {
                pin_change(fresh, n, "canary")
            } else {
                ObjectChange {
                    kind: resources::MACHINE_SET,
                    namespace: Some(ns.clone()),
                    name: ms_name.clone(),
                    before: Some(fresh.clone()),
                    after: with_replicas(fresh, n),
                    summary: format!("canary: replicas → {n}"),
                }
            };
            Ok((!change.is_noop()).then_some(change))
        };
        let scale_up = applier.apply(up, &|f| target(f, replicas + 1)).await;
        let mut error = scale_up.error.clone();
        let mut found = Found::default();
        if error.is_none() {
            let wait = Wait {
                ns: &params.ns.namespace,
                ms: &params.machineset,
                before: &before,
                start: started,
                timeout: Duration::from_secs(params.timeout),
                poll: Duration::from_secs(params.poll_interval.max(1)),
            };
            found = wait_for_build(&conn, &wait, &mut out.timings).await;
            error = found.error.take();
        }
        // Scale back in every path. Mark the canary Machine so exactly it is removed.
        if let Some(machine) = &found.machine {
            let mark = Patch::Merge(
                json!({"metadata": {"annotations": {"machine.openshift.io/delete-machine": "true"}}}),
            );
            if let Err(e) = api(&conn, resources::MACHINE, Some(&params.ns.namespace))
                .patch(machine, &PatchParams::default(), &mark)
                .await
            {
                warnings.push(format!(
                    "could not mark canary Machine {machine} for deletion ({}): the scale-back \
                     removes a Machine chosen by the MachineSet's deletePolicy",
                    explain(
                        &e,
                        &conn,
                        "patch",
                        resources::MACHINE,
                        Some(&params.ns.namespace)
                    )
                ));
            }
        }
        let mut back = Vec::new();
        if let Some(fresh) = get(
            &conn,
            resources::MACHINE_SET,
            Some(&params.ns.namespace),
            &params.machineset,
        )
        .await?
        {
            back.extend(target(&fresh, replicas)?);
        }
        for ma in &mas {
            if let Some(fresh) = get(
                &conn,
                resources::MACHINE_AUTOSCALER,
                Some(&params.ns.namespace),
                name_of(ma),
            )
            .await?
            {
                back.extend(target(&fresh, replicas)?);
            }
        }
        let scale_down = applier
            .apply(back, &|f| {
                let n = replicas;
                target(f, n)
            })
            .await;
        if let Some(e) = &scale_down.error {
            out.restored = false;
            warnings.push(format!(
                "SCALE-BACK FAILED: {e}; set replicas of {} back to {replicas} by hand",
                params.machineset
            ));
        }
        out.machine = found.machine.clone();
        out.node = found.node.clone();
        out.booted_build = found.build.as_ref().map(ToString::to_string);
        out.matches = found.build.as_ref() == Some(&expected);
        out.timings.total = secs(started);
        let machine = out.machine.clone().unwrap_or_else(|| "none".into());
        let (failed, msg) = match (&error, &found.build) {
            (Some(e), _) => (true, format!("canary of {} failed: {e}; scaled back to {replicas} (canary Machine {machine})", params.machineset)),
            (None, Some(b)) if out.matches => (false, format!("canary Machine {machine} on node {} booted {b} as expected; scaled back to {replicas}", out.node.as_deref().unwrap_or("?"))),
            (None, Some(b)) => (params.fail_on_mismatch, format!("canary Machine {machine} booted {b}, expected {expected}; scaled back to {replicas}")),
            (None, None) => (true, format!("canary of {} found no build; scaled back to {replicas}", params.machineset)),
        };
        Ok(ModuleOutcome {
            changed: !scale_up.applied.is_empty(),
            failed: failed || !out.restored,
            msg,
            warnings,
            diff,
            output: out,
        })
    }
}
