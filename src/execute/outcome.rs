//! A step's outcome: the module result from a plan (check mode) or from what was
//! applied — `changed`, one readable `msg` line at any size, the diff only when asked.

use crate::ansible::{DiffEntry, ModuleOutcome};
use crate::kube::apply::ApplyOutcome;
use crate::kube::server_dry_run::ServerDryRun;
use crate::plan::ObjectChange;

/// Builds a module outcome from a plan (check mode) or an apply outcome. The diff is
/// only computed when `want_diff` (`_ansible_diff`): at 1,000 changes it costs megabytes.
/// `planned` is read only without `applied` (a real run reports what was applied: its
/// caller may have moved the plan's changes into the applier and pass none).
pub fn outcome<O>(
    want_diff: bool,
    planned: &[ObjectChange],
    applied: Option<&ApplyOutcome>,
    what: &str,
    output: O,
    mut warnings: Vec<String>,
) -> ModuleOutcome<O> {
    let (changes, failed, msg) = match applied {
        None => {
            let n = planned.len();
            let msg = if n == 0 {
                format!("no {what} to change")
            } else {
                format!("would change {n} {what}: {}", summaries(planned))
            };
            (planned, false, msg)
        }
        Some(a) => {
            warnings.extend(a.warnings.iter().cloned());
            if a.conflicts > 0 {
                warnings.push(format!(
                    "{} concurrent change(s) detected and re-planned (HTTP 409)",
                    a.conflicts
                ));
            }
            let done = if a.applied.is_empty() {
                format!("no {what} changed")
            } else {
                format!(
                    "changed {} {what}: {}",
                    a.applied.len(),
                    summaries(&a.applied)
                )
            };
            match &a.error {
                None if !a.reverted.is_empty() => (
                    a.applied.as_slice(),
                    true,
                    format!(
                        "reverted by another controller right after this run changed it: {} — not written again (two writers taking turns is a hot loop); change it where that controller takes its value from ({done})",
                        crate::plan::audit::name_list(a.reverted.iter().map(String::as_str))
                    ),
                ),
                None => (a.applied.as_slice(), false, done),
                Some(e) => (
                    a.applied.as_slice(),
                    true,
                    format!("{e} ({done}; the rollback record holds every change written)"),
                ),
            }
        }
    };
    let diff: Vec<DiffEntry> = if want_diff {
        changes.iter().map(ObjectChange::diff).collect()
    } else {
        Vec::new()
    };
    ModuleOutcome {
        changed: !changes.is_empty(),
        failed,
        msg,
        warnings,
        diff,
        output,
    }
}

/// `name (summary), …` for `msg`: the first few, then how many more (every change is in
/// the result and the diff, so `msg` stays one readable line at 1,000 changes).
fn summaries(changes: &[ObjectChange]) -> String {
    let shown: Vec<String> = changes
        .iter()
        .map(|c| format!("{} ({})", c.name, c.summary))
        .collect();
    crate::plan::audit::name_list(shown.iter().map(String::as_str))
}

/// Marks a check-mode `outcome` with what the server said of its planned changes
/// (`server_dry_run`): a rejection fails the task (the real run would), naming each
/// rejected object with the server's message; objects changed meanwhile and unchecked
/// changes are warnings.
pub fn judge_dry_run<O>(dry_run: &ServerDryRun, outcome: &mut ModuleOutcome<O>) {
    if !dry_run.rejected.is_empty() {
        let each: Vec<String> = dry_run
            .rejected
            .iter()
            .map(|r| format!("{} (HTTP {}): {}", r.object, r.code, r.message))
            .collect();
        outcome.failed = true;
        outcome.msg = format!(
            "the API server would reject {} of {} planned change(s) (server dry run): {}; {}",
            dry_run.rejected.len(),
            dry_run.sent,
            crate::plan::audit::name_list(each.iter().map(String::as_str)),
            outcome.msg
        );
    }
    if !dry_run.changed_meanwhile.is_empty() {
        outcome.warnings.push(format!(
            "changed since they were read (a real run reads them again and plans them anew): {}",
            crate::plan::audit::name_list(dry_run.changed_meanwhile.iter().map(String::as_str))
        ));
    }
    if !dry_run.forbidden.is_empty() {
        outcome.warnings.push(format!(
            "the server dry run was forbidden for {} planned change(s): this account may not make them (RBAC), so the server did not judge them; check with the account of the real run to have them judged, or set server_dry_run: false: {}",
            dry_run.forbidden.len(),
            crate::plan::audit::name_list(dry_run.forbidden.iter().map(String::as_str))
        ));
    }
    if !dry_run.unchecked.is_empty() {
        outcome.warnings.push(format!(
            "the server dry run could not check {} planned change(s): {}",
            dry_run.unchecked.len(),
            crate::plan::audit::name_list(dry_run.unchecked.iter().map(String::as_str))
        ));
    }
}
