//! `ocp-bootimage audit` over many clusters: each target is audited by the same
//! `bootimage_info` module as a single audit, at most `concurrency` at a time, each
//! within its own timeout; an unreachable, forbidden or slow cluster becomes that
//! cluster's outcome and never stops the others. Only each cluster's fleet entry is
//! kept (its snapshot and full report are dropped as soon as it is audited), so memory
//! grows with the number of clusters by their checks alone.

pub mod targets;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;
use time::OffsetDateTime;

use crate::ansible::entry::block_on;
use crate::ansible::runner::run_module;
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
/// order given. The audits run on [`workers`] threads, each with its own current-thread
/// runtime, taking the next target from one queue whenever one of its `concurrency` /
/// `workers` slots is free: `concurrency` audits at once in all, parsed and planned on
/// every core (an audit's futures never move between threads, so the modules need not
/// be `Send`).
pub fn audit(
    targets: Vec<Target>,
    base: &Value,
    options: FleetOptions,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<FleetReport, String> {
    let now = OffsetDateTime::now_utc();
    let progress = Progress::count(targets.len(), "auditing clusters");
    let concurrency = options.concurrency.max(1);
    let workers = workers(concurrency);
    let queue = Mutex::new(targets.into_iter().enumerate());
    let next = || queue.lock().map_or(None, |mut q| q.next());
    let done = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..workers)
            .map(|w| {
                // Slots spread over the workers: 16 on 3 workers is 6, 5 and 5.
                let slots = concurrency / workers + usize::from(w < concurrency % workers);
                let (next, progress) = (&next, &progress);
                scope.spawn(move || {
                    block_on(
                        futures::stream::iter(std::iter::from_fn(next))
                            .map(|(i, target)| async move {
                                let report =
                                    audit_one(target, base, options.timeout, env, now.date()).await;
                                progress.inc();
                                (i, report)
                            })
                            .buffer_unordered(slots)
                            .collect::<Vec<_>>(),
                    )
                })
            })
            .collect();
        let mut done = Vec::new();
        for t in threads {
            match t.join() {
                Ok(Ok(reports)) => done.extend(reports),
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err("a fleet audit thread panicked".to_string()),
            }
        }
        Ok(done)
    })?;
    let mut done: Vec<(usize, TargetReport)> = done;
    done.sort_by_key(|(i, _)| *i);
    Ok(FleetReport::new(
        crate::fleet::timestamp(now),
        done.into_iter().map(|(_, t)| t).collect(),
    ))
}

/// The threads a fleet audit runs on: one per core this process may use (its CPU
/// affinity: `taskset -c 0` makes it one), never more than the audits at once.
fn workers(concurrency: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(concurrency)
        .max(1)
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
    let ran = tokio::time::timeout(timeout, run_module::<BootimageInfo>(&args, env)).await;
    let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    let Target { name, source, .. } = target;
    let Ok(mut result) = ran else {
        let why = format!("no answer within {} s (--timeout)", timeout.as_secs());
        return TargetReport::not_audited(name, source, Outcome::TimedOut, why, ms);
    };
    // What the `fleet_report` module reads as a playbook host's registered result: the
    // return values (already serialized once by the runner), or the failure's `msg` and
    // `failure_kind`. Its `invocation` is not needed.
    result.module_args = None;
    let returned = result.into_json();
    TargetReport::of_result(name, source, &returned, ms, today)
}
