//! What every mutating module shares: the readability and managed-cluster guards, and
//! turning a plan or an apply outcome into a result (used by [`crate::execute`]).

use serde_json::Value;

use crate::ansible::{DiffEntry, ModuleOutcome};
use crate::cluster::{Snapshot, SnapshotPart};
use crate::kube::apply::ApplyOutcome;
use crate::plan::cluster::managed_reason;
use crate::plan::ObjectChange;

/// Fails a mutating run when something its safety checks depend on could not be read
/// (`needed` names the snapshot parts, e.g. [`SnapshotPart::Infrastructure`]): changing a cluster
/// whose managed status, version or MCO management is unknown would be guessing.
pub fn require_readable(snapshot: &Snapshot, needed: &[SnapshotPart]) -> anyhow::Result<()> {
    let missing = snapshot.unreadable_of(needed);
    if missing.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "nothing was changed: could not read {}",
        missing
            .iter()
            .map(|m| m.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    )
}

/// Refuses managed clusters unless `allow`; returns a warning when allowed anyway.
pub fn managed_guard(
    infra: Option<&Value>,
    machinesets: &[Value],
    allow: bool,
) -> anyhow::Result<Option<String>> {
    match managed_reason(infra, machinesets) {
        None => Ok(None),
        Some(why) if allow => Ok(Some(format!(
            "changing a managed cluster ({why}) because allow_managed is set"
        ))),
        Some(why) => anyhow::bail!(
            "refusing to change a managed cluster: {why}. Its provider manages boot images; \
             contact Red Hat support, or set allow_managed: true if you are sure"
        ),
    }
}

/// Builds a module outcome from a plan (check mode) or an apply outcome. The diff is
/// only computed when `want_diff` (`_ansible_diff`): at 1,000 changes it costs megabytes.
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
