//! Swapping MachineSet boot images (`machineset_bootimage`): the pure planner of one
//! MachineSet (or the ControlPlaneMachineSet) — skip rules with reasons, the target from
//! the stream or an explicit image, never newer than the cluster, never a spec 2.x stub
//! under a new image — and of every selected MachineSet. Also re-plans after a 409.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::audit::{machineset_context, skip_warnings, AuditInput};
use super::cluster::{ocp_minor, snapshot_cluster_info};
use super::machineset::{assess, image_os_stream, MachineSetContext, Status};
use super::os_stream::{self, is_cross_stream};
use super::step::{collect, Decision, Plan};
use super::{ObjectChange, StreamSource};
use crate::cluster::resources;
use crate::platform::{self, BootImage, Platform};
use crate::stream::BuildId;

/// One MachineSet's swap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SwapReport {
    pub name: String,
    /// `MachineSet` or `ControlPlaneMachineSet`.
    pub kind: String,
    pub platform: Option<Platform>,
    /// The image before (AMI, GCP path, Azure URN or resource id, template, name).
    pub before: Option<String>,
    /// The image after (equal to `before` when unchanged or skipped).
    pub after: Option<String>,
    pub before_build: Option<String>,
    pub after_build: Option<String>,
    /// Whether this run changed (or in check mode would change) it.
    pub changed: bool,
    pub skipped: bool,
    /// Why it was skipped or left as is.
    pub reason: Option<String>,
}

/// Return values of `machineset_bootimage`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Output {
    pub machinesets: Vec<SwapReport>,
    /// The run id the record entries carry (pass it to `rollback`).
    pub run_id: String,
    /// Where the rollback record is (`Secret ns/name` or `file path`).
    pub record: String,
}

/// Swap settings that are not about reading.
#[derive(Debug, Clone, Default)]
pub struct SwapOptions {
    /// MachineSet name → explicit image ("" key: every MachineSet).
    pub images: BTreeMap<String, String>,
    pub allow_newer: bool,
    pub include_mco_managed: bool,
    /// Allow a target (an explicit `image`, or the default OS stream for an unlabelled
    /// MachineSet) from another OS stream than the MachineSet's own.
    pub allow_stream_change: bool,
    /// Also change MachineSets another controller manages (Hive, Argo CD).
    pub allow_other_controllers: bool,
    /// Plan as if the spec 2.x stubs were migrated (check-mode previews only).
    pub assume_stubs_migrated: bool,
}

impl SwapOptions {
    /// The explicit image for this MachineSet, if any.
    pub fn image_for(&self, name: &str) -> Option<&str> {
        self.images
            .get(name)
            .or_else(|| self.images.get(""))
            .map(String::as_str)
    }
}

/// Where the provider spec sits in a MachineSet or a ControlPlaneMachineSet.
fn provider_pointer(kind: &str) -> &'static str {
    if kind == "ControlPlaneMachineSet" {
        "/spec/template/machines_v1beta1_machine_openshift_io/spec/providerSpec/value"
    } else {
        "/spec/template/spec/providerSpec/value"
    }
}

/// A ControlPlaneMachineSet seen as a MachineSet (same provider spec), for assessment;
/// a MachineSet as it is.
pub(crate) fn as_machineset(obj: &Value) -> Cow<'_, Value> {
    if obj.get("kind").and_then(Value::as_str) != Some("ControlPlaneMachineSet") {
        return Cow::Borrowed(obj);
    }
    let spec = obj
        .pointer("/spec/template/machines_v1beta1_machine_openshift_io/spec")
        .cloned()
        .unwrap_or(Value::Null);
    Cow::Owned(
        serde_json::json!({"metadata": obj.get("metadata").cloned().unwrap_or(Value::Null), "spec": {"template": {"spec": spec}}}),
    )
}

/// Plans the swap of one MachineSet (or ControlPlaneMachineSet). Pure.
pub fn plan_swap(obj: &Value, ctx: &MachineSetContext, opts: &SwapOptions) -> Decision<SwapReport> {
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("MachineSet")
        .to_string();
    let r = assess(&as_machineset(obj), ctx);
    let mut report = SwapReport {
        name: r.name.clone(),
        kind: kind.clone(),
        platform: r.platform,
        before: r.current_image.clone(),
        after: r.current_image.clone(),
        before_build: r.current_build.clone(),
        after_build: r.current_build.clone(),
        changed: false,
        skipped: false,
        reason: None,
    };
    let skip = |mut report: SwapReport, why: String| {
        report.skipped = true;
        report.reason = Some(why);
        Decision::Skip(report)
    };
    if r.status == Status::Skipped {
        return skip(report, r.reason.unwrap_or_default());
    }
    if kind == "ControlPlaneMachineSet" {
        // An Active CPMS with RollingUpdate/Recreate replaces every control plane machine
        // when its provider spec deviates from the machines (MCO PR 5332): boot images
        // only change safely under OnDelete (or an Inactive CPMS).
        let state = obj
            .pointer("/spec/state")
            .and_then(Value::as_str)
            .unwrap_or("Active");
        let strategy = obj
            .pointer("/spec/strategy/type")
            .and_then(Value::as_str)
            .unwrap_or("RollingUpdate");
        if state == "Active" && strategy != "OnDelete" {
            return skip(
                report,
                format!(
                    "changing the ControlPlaneMachineSet's image under strategy {strategy} would replace every \
                     control plane machine; set spec.strategy.type to OnDelete first"
                ),
            );
        }
    }
    let Some(platform) = r.platform else {
        return skip(
            report,
            r.reason.unwrap_or_else(|| "unknown platform".into()),
        );
    };
    if r.mco_managed && !opts.include_mco_managed {
        return skip(
            report,
            "the Machine Config Operator manages this MachineSet's boot image (managedBootImages); \
             set include_mco_managed: true to change it anyway"
                .into(),
        );
    }
    if let (Some(who), false) = (&r.managed_by, opts.allow_other_controllers) {
        return skip(
            report,
            format!(
                "managed by {who}, which would write its own image back; change it there, or set \
                 allow_other_controllers: true to change it here anyway"
            ),
        );
    }
    let mut note: Option<String> = None;
    let target_stream: Option<String>;
    let (target, target_build): (BootImage, Option<String>) = match opts.image_for(&r.name) {
        Some(explicit) => {
            let image = platform::parse_image(platform, explicit);
            let found = image_os_stream(&as_machineset(obj), ctx, &image);
            target_stream = found.as_ref().and_then(|(s, _)| s.clone());
            let build = found.and_then(|(_, b)| b).map(|b| b.to_string());
            (image, build)
        }
        None => {
            let Some(t) = r.target_image.as_deref() else {
                let mut why = r.reason.clone().unwrap_or_else(|| "no target image".into());
                if let Some(action) = &r.action {
                    why = format!("{why}; {action}, then give it as `image`");
                } else {
                    why = format!("{why}; give `image` to set one");
                }
                return skip(report, why);
            };
            let spec = platform::spec(platform);
            let acceptable = match r.status {
                Status::Outdated | Status::NewerThanCluster | Status::Current => true,
                // Build unknown: only for images an installer made (safe to replace).
                Status::Unknown => r
                    .current_image
                    .as_deref()
                    .is_some_and(|i| spec.installer_made(i)),
                Status::Skipped => false,
            };
            if !acceptable {
                let why = spec.unknown_build_reason(r.reason.clone().unwrap_or_default());
                return skip(report, why);
            }
            if r.status == Status::Unknown {
                note = Some(format!(
                    "{} is the image the installer made (build unknown): replaced by the stream's image, \
                     as the manual procedure does (MCO leaves it alone)",
                    r.current_image.as_deref().unwrap_or("the image")
                ));
            }
            target_stream = r.os_stream.clone();
            (platform::parse_image(platform, t), r.target_build.clone())
        }
    };
    let target_id: Option<BuildId> = target_build.as_deref().and_then(|b| b.parse().ok());
    // Never across OS streams: the MachineSet's own is its label, else its image's build's.
    let own_stream = os_stream::label_of(&as_machineset(obj)).or_else(|| {
        r.current_build
            .as_deref()
            .and_then(|b| b.parse::<BuildId>().ok())
            .and_then(|b| os_stream::of_build(&b))
    });
    let target_stream = target_id
        .as_ref()
        .and_then(os_stream::of_build)
        .or(target_stream);
    if let (Some(from), Some(to), false) = (&own_stream, &target_stream, opts.allow_stream_change) {
        if is_cross_stream(from, to)
            && r.current_image.as_deref() != Some(target.to_string().as_str())
        {
            return skip(
                report,
                format!(
                    "the MachineSet is on OS stream {from} and the target is a {to} image: a MachineSet never \
                     moves across OS streams unless asked (label it {}: {to}, or set allow_stream_change)",
                    os_stream::OS_STREAM_LABEL
                ),
            );
        }
    }
    if let (Some(b), Some(cv)) = (&target_id, ctx.cluster_version) {
        if let Some(bv) = b.ocp_version() {
            if bv > cv && !opts.allow_newer {
                return skip(
                    report,
                    format!("target build {b} is from OpenShift {}.{}, newer than the cluster ({}.{}); set allow_newer to force", bv.0, bv.1, cv.0, cv.1),
                );
            }
        }
    }
    // The stub guard: a node of a 4.6+ boot image reads only Ignition spec 3, so with a
    // spec 2.x stub the MachineSet could not boot a single machine (procedure step 2).
    let stub = r
        .user_data_secret
        .as_deref()
        .and_then(|s| ctx.stubs_needing_migration.get_key_value(s));
    let target_reads_only_v3 = target_id
        .as_ref()
        .and_then(BuildId::ocp_version)
        .is_none_or(|v| v >= (4, 6));
    let after_image = target.to_string();
    let already = r.current_image.as_deref() == Some(after_image.as_str());
    if let (Some((secret, version)), true, false, false) = (
        stub,
        target_reads_only_v3,
        opts.assume_stubs_migrated,
        already,
    ) {
        return skip(
            report,
            format!(
                "its user-data secret {secret} holds an Ignition spec {version} stub, which the new boot image \
                 cannot read: migrate it first (ocp.bootimage.stub_ignition)"
            ),
        );
    }
    if let (Some((secret, why)), false) = (
        r.user_data_secret
            .as_deref()
            .and_then(|s| ctx.stubs_unusable.get_key_value(s)),
        already,
    ) {
        return skip(
            report,
            format!(
                "its user-data secret {secret} {why}: the stub a new machine boots with cannot be checked \
                 (machines of this MachineSet cannot boot without it); fix the secret first"
            ),
        );
    }
    report.after = Some(after_image.clone());
    report.after_build = target_build.or_else(|| {
        r.target_build
            .clone()
            .filter(|_| opts.image_for(&r.name).is_none())
    });
    if already {
        report.reason = Some("already the target image".into());
        return Decision::Keep(report);
    }
    let mut after = obj.clone();
    let pointer = provider_pointer(&kind);
    let Some(spec) = after.pointer_mut(pointer) else {
        return skip(report, "no providerSpec.value".into());
    };
    if let Err(e) = platform::write_image(platform, spec, &target) {
        return skip(report, e.to_string());
    }
    report.changed = true;
    report.reason = note;
    let k = if kind == "ControlPlaneMachineSet" {
        resources::CONTROL_PLANE_MACHINE_SET
    } else {
        resources::MACHINE_SET
    };
    let summary = format!(
        "{} → {}",
        r.current_image.as_deref().unwrap_or("none"),
        after_image
    );
    let change = ObjectChange::update(k, obj, after, summary);
    Decision::Change(Box::new(change.compact()), report)
}

/// The context every MachineSet of a swap is planned in (cluster, stream, stubs), with the
/// warnings that come with it: an unknown cluster version (when the stream is a file, the
/// "not newer than the cluster" check cannot be made), the stream choice, and what
/// `assume_stubs_migrated` pretends. `machinesets` are the MachineSets to plan (taken out
/// of the snapshot, so that [`plan_swaps`] can drop each once planned); the context
/// itself keeps nothing of them.
pub fn swap_context<'a>(
    input: &'a AuditInput,
    machinesets: &[Value],
    opts: &SwapOptions,
) -> (MachineSetContext<'a>, Vec<String>) {
    let snapshot = input.snapshot;
    let mut warnings = Vec::new();
    let cluster = snapshot_cluster_info(snapshot, machinesets, input.options.architecture);
    if let (Ok((_, StreamSource::File, _)), None) = (
        &input.streams,
        cluster.version.as_deref().and_then(ocp_minor),
    ) {
        warnings.push("the cluster version is unknown: cannot check that targets are not newer than the cluster".into());
    }
    let ctx = machineset_context(input, &cluster, machinesets, &mut warnings);
    if opts.assume_stubs_migrated && !ctx.stubs_needing_migration.is_empty() {
        warnings.push(format!(
            "planned as if the spec 2.x stub(s) {} were migrated (assume_stubs_migrated): \
             a real run skips their MachineSets until stub_ignition has run",
            ctx.stubs_needing_migration
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    (ctx, warnings)
}

/// Plans the swap of every MachineSet in `machinesets` (the ControlPlaneMachineSet
/// among them when asked for); skipped ones become one warning per reason. Each
/// MachineSet is dropped as soon as it is planned: a planned change keeps only the
/// fields that differ, so at 1,000 MachineSets the plan is a fraction of what was read
/// and the objects are never held next to it (nor while the run writes).
pub fn plan_swaps(
    machinesets: Vec<Value>,
    ctx: &MachineSetContext,
    opts: &SwapOptions,
) -> Plan<Vec<SwapReport>> {
    let mut plan = collect(
        machinesets
            .into_iter()
            .map(|obj| plan_swap(&obj, ctx, opts)),
        |r: &SwapReport| r.reason.clone().unwrap_or_default(),
    );
    plan.warnings = skip_warnings(plan.reports.iter().filter(|r| r.skipped).map(|r| {
        (
            r.kind.as_str(),
            r.name.as_str(),
            r.reason.as_deref().unwrap_or_default(),
        )
    }));
    plan
}

/// The reports after a run: a MachineSet planned but not written (the run stopped, or a
/// re-plan after a 409 found nothing to do) is reported unchanged.
pub fn settle_swaps(reports: &mut [SwapReport], applied: &[ObjectChange]) {
    for r in reports.iter_mut() {
        if r.changed && !applied.iter().any(|c| c.name == r.name) {
            r.changed = false;
            r.after = r.before.clone();
            r.after_build = r.before_build.clone();
            r.reason = Some("not changed (see msg)".into());
        }
    }
}
