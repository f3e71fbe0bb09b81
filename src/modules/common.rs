//! What every mutating module shares: the rollback-record options, the
//! managed-cluster guard, and turning an apply outcome into a result.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::ansible::{DiffEntry, ModuleOutcome};
use crate::cluster::{Part, Snapshot};
use crate::kube::apply::ApplyOutcome;
use crate::kube::connection::Connection;
use crate::plan::cluster::managed_reason;
use crate::plan::ObjectChange;
use crate::record_store::{new_run_id, RecordStore};

/// Default name of the rollback record Secret.
pub const DEFAULT_RECORD: &str = "ocp-bootimage-rollback";

/// Default namespace of MachineSets, user-data secrets, autoscalers and the record.
pub fn default_namespace() -> String {
    crate::cluster::resources::MACHINE_API_NAMESPACE.to_string()
}

/// Default name of the rollback record Secret (serde default).
pub fn default_record() -> String {
    DEFAULT_RECORD.to_string()
}

/// Options of every module that changes something.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct WriteParams {
    /// Name of the Secret (in `namespace`) that holds the rollback record. Every value a run
    /// changes is written there before the first change.
    #[serde(default = "default_record")]
    pub record: String,
    /// Keep the rollback record in this local file (created with mode 0600) instead of a Secret.
    #[schemars(extend("x-ansible-type" = "path"))]
    pub record_path: Option<PathBuf>,
    /// Groups the record entries of several module runs into one run that `rollback` can
    /// restore at once (pass the same value to every step of an update). Default: a new id.
    pub run_id: Option<String>,
    /// Change managed clusters (ROSA, ARO, OSD, hosted control planes) anyway. Their
    /// provider manages boot images; changing them yourself is unsupported.
    #[serde(default)]
    pub allow_managed: bool,
}

impl WriteParams {
    /// The run id of this run.
    pub fn run_id(&self) -> String {
        self.run_id.clone().unwrap_or_else(new_run_id)
    }

    /// The record store: the local file when `record_path` is set, else the Secret.
    pub fn store(&self, conn: Option<&Connection>, namespace: &str) -> anyhow::Result<RecordStore> {
        match (&self.record_path, conn) {
            (Some(p), _) => Ok(RecordStore::file(p.clone())),
            (None, Some(c)) => Ok(RecordStore::secret(c.clone(), namespace, &self.record)),
            (None, None) => {
                anyhow::bail!("give `record_path` for a rollback record when working on files")
            }
        }
    }
}

/// Fails a mutating run when something its safety checks depend on could not be read
/// (`needed` names the snapshot parts, e.g. [`Part::Infrastructure`]): changing a cluster
/// whose managed status, version or MCO management is unknown would be guessing.
pub fn require_readable(snapshot: &Snapshot, needed: &[Part]) -> anyhow::Result<()> {
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
