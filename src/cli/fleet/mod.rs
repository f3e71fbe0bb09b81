//! `ocp-bootimage audit` over many clusters: each target is audited by the same
//! `bootimage_info` module as a single audit, at most `concurrency` at a time, each
//! within its own timeout; an unreachable, forbidden or slow cluster becomes that
//! cluster's outcome and never stops the others. Only each cluster's fleet entry is
//! kept (its snapshot and full report are dropped as soon as it is audited), so memory
//! grows with the number of clusters by their checks alone.

pub mod targets;

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;
use time::OffsetDateTime;

use crate::ansible::runner::run_module_typed;
use crate::fleet::{FleetReport, Outcome, TargetReport};
use crate::modules::bootimage_info::BootimageInfo;
use crate::progress::Progress;
pub use targets::{resolve, Target, TargetFlags};

/// How a fleet is audited.
#[derive(Debug, Clone, Copy)]
pub struct FleetOptions {
    /// Targets audited at once.
    pub concurrency: usize,
    /// Each target's time limit.
    pub timeout: Duration,
}

/// Audits every target with the module arguments `base` (the target's kubeconfig,
/// context and dump directory set on top) and returns the fleet report, targets in the
/// order given.
pub async fn audit(
    targets: Vec<Target>,
    base: &Value,
    options: FleetOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> FleetReport {
    let now = OffsetDateTime::now_utc();
    let progress = Progress::count(targets.len(), "auditing clusters");
    let mut done: Vec<(usize, TargetReport)> =
        futures::stream::iter(targets.into_iter().enumerate())
            .map(|(i, target)| {
                let progress = &progress;
                async move {
                    let report = audit_one(target, base, options.timeout, env, now.date()).await;
                    progress.inc();
                    (i, report)
                }
            })
            .buffer_unordered(options.concurrency.max(1))
            .collect()
            .await;
    done.sort_by_key(|(i, _)| *i);
    FleetReport::new(
        crate::fleet::timestamp(now),
        done.into_iter().map(|(_, t)| t).collect(),
    )
}

/// The module arguments of one target.
fn target_args(base: &Value, target: &Target) -> Value {
    let mut args = base.clone();
    if let Some(obj) = args.as_object_mut() {
        let path = |p: &Option<std::path::PathBuf>| {
            p.as_ref()
                .map_or(Value::Null, |p| Value::String(p.display().to_string()))
        };
        obj.insert("kubeconfig".into(), path(&target.kubeconfig));
        obj.insert(
            "context".into(),
            target.context.clone().map_or(Value::Null, Value::String),
        );
        obj.insert("dump_dir".into(), path(&target.dump_dir));
        obj.insert("fail_on_noncompliant".into(), Value::Bool(false));
    }
    args
}

/// One target's fleet entry.
async fn audit_one(
    target: Target,
    base: &Value,
    timeout: Duration,
    env: &dyn Fn(&str) -> Option<String>,
    today: time::Date,
) -> TargetReport {
    let args = target_args(base, &target);
    let start = Instant::now();
    let ran = tokio::time::timeout(timeout, run_module_typed::<BootimageInfo>(&args, env)).await;
    let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    let Target { name, source, .. } = target;
    let (result, report) = match ran {
        Ok(r) => r,
        Err(_) => {
            let why = format!("no answer within {} s (--timeout)", timeout.as_secs());
            return TargetReport::not_audited(name, source, Outcome::TimedOut, why, ms);
        }
    };
    // As the `fleet_report` module reads a playbook host's result: the return values of
    // a success, else the failure's message.
    let returned = report
        .as_ref()
        .and_then(|r| serde_json::to_value(r).ok())
        .unwrap_or_else(|| serde_json::json!({ "failed": true, "msg": result.msg }));
    TargetReport::of_result(name, source, &returned, ms, today)
}
