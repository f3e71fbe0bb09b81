//! The ControlPlaneMachineSet `cluster` in the audit (issue 13 § 5): the control plane's
//! boot image, assessed like a MachineSet's, its state, strategy and replica status, and
//! whether `machineset_bootimage` with `include_control_plane` would change it (the
//! swap's own planner decides, so the audit and the swap cannot disagree). Pure.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::machineset::{MachineSetContext, Status};
use super::step::Decision;
use super::swap::{plan_swap, SwapOptions};

/// The ControlPlaneMachineSet as the audit reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ControlPlaneReport {
    pub name: String,
    /// `spec.state`: `Active` (the operator replaces machines whose spec deviates) or
    /// `Inactive`.
    pub state: String,
    /// `spec.strategy.type`: `RollingUpdate`, `Recreate` or `OnDelete`.
    pub strategy: String,
    /// The boot image its machine template names.
    pub current_image: Option<String>,
    pub current_build: Option<String>,
    pub target_image: Option<String>,
    pub target_build: Option<String>,
    /// As a MachineSet's status (`current`, `outdated`, …).
    pub status: Status,
    /// Why the status is not `current`.
    pub reason: Option<String>,
    /// `spec.replicas` and `status.{readyReplicas, updatedReplicas, unavailableReplicas}`.
    pub replicas: Option<i64>,
    pub ready_replicas: Option<i64>,
    pub updated_replicas: Option<i64>,
    pub unavailable_replicas: Option<i64>,
    /// Whether `machineset_bootimage` with `include_control_plane: true` would change its
    /// image now.
    pub include_control_plane_would_change: bool,
    /// Why it would not (an Active CPMS under RollingUpdate/Recreate would replace every
    /// control plane machine; current already; no target; …).
    pub include_control_plane_note: Option<String>,
}

/// The report of the ControlPlaneMachineSet `cpms` in the MachineSets' context.
pub fn control_plane_report(cpms: &Value, ctx: &MachineSetContext) -> ControlPlaneReport {
    let s = |p: &str| cpms.pointer(p).and_then(Value::as_str).map(str::to_string);
    let i = |p: &str| cpms.pointer(p).and_then(Value::as_i64);
    let (change, report) = match plan_swap(cpms, ctx, &SwapOptions::default()) {
        Decision::Change(_, r) => (true, r),
        Decision::Keep(r) | Decision::Skip(r) | Decision::Refuse(r) => (false, r),
    };
    let assessed = super::machineset::assess(&super::swap::as_machineset(cpms), ctx);
    ControlPlaneReport {
        name: crate::cluster::name_of(cpms).to_string(),
        state: s("/spec/state").unwrap_or_else(|| "Active".into()),
        strategy: s("/spec/strategy/type").unwrap_or_else(|| "RollingUpdate".into()),
        current_image: assessed.current_image,
        current_build: assessed.current_build,
        target_image: assessed.target_image,
        target_build: assessed.target_build,
        status: assessed.status,
        reason: assessed.reason,
        replicas: i("/spec/replicas"),
        ready_replicas: i("/status/readyReplicas"),
        updated_replicas: i("/status/updatedReplicas"),
        unavailable_replicas: i("/status/unavailableReplicas"),
        include_control_plane_would_change: change,
        include_control_plane_note: if change { None } else { report.reason },
    }
}
