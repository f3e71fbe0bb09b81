//! The rollback record's formats (versioned, documented by their JSON Schemas): v2 —
//! one record per run ([`Run`], stored as gzip [`RunPart`]s in Secrets or as a
//! [`RecordFile`]) — and v1 ([`Record`], one list of every run's entries), still read
//! ([`runs_of_v1`]). The entries of a planned change are made beside the change
//! (`plan::change`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The format tag of a v1 record (read, never written any more).
pub const RECORD_FORMAT: &str = "ocp-bootimage.rollback/v1";

/// A v1 record (earlier releases; read only): one list of every run's entries, in the
/// order they were written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Record {
    /// Always `ocp-bootimage.rollback/v1`.
    pub format: String,
    /// Every change any run recorded, oldest first; a rollback of that release marked the
    /// entries it restored.
    pub entries: Vec<RecordEntry>,
}

impl Default for Record {
    fn default() -> Record {
        Record {
            format: RECORD_FORMAT.to_string(),
            entries: Vec::new(),
        }
    }
}

/// One field of one object that a run changed (or was about to change).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecordEntry {
    /// Groups the entries of one run (a playbook passes the same `run_id` to every step).
    pub run_id: String,
    /// Position in the run's record (1, 2, …; in a v1 record, in the whole record), unique
    /// and increasing.
    pub seq: u64,
    /// When the entry was written (RFC 3339, UTC).
    pub time: String,
    /// The module that wrote it (`autoscaling`, `stub_ignition`, `machineset_bootimage`,
    /// `bootimage_canary`, `rollback`).
    pub module: String,
    /// The object's `apiVersion`, `kind`, namespace and name.
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    /// JSON pointer of the field (`/spec/template/spec/providerSpec/value/ami/id`);
    /// `""` means the whole object (it was created: rollback deletes it).
    pub field: String,
    /// The value before (`null` = absent).
    pub old: Value,
    /// The value the run writes (`null` = removed).
    pub new: Value,
    /// Whether `old`/`new` hold Secret data (never shown in output).
    #[serde(default)]
    pub secret: bool,
    /// Set when `rollback` restored `old` (stored by earlier releases, in v1 records;
    /// otherwise set as the run is read, from the `restored` list of the rollback run that
    /// restored it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back: Option<RolledBack>,
}

/// When and by which run an entry was rolled back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RolledBack {
    pub time: String,
    pub run_id: String,
}

/// The format tag of one run's record (a Secret part's payload, or a run in a file).
pub const RUN_FORMAT: &str = "ocp-bootimage.run/v2";
/// The format tag of a record file (`record_path`): every run, uncompressed.
pub const FILE_FORMAT: &str = "ocp-bootimage.record-file/v2";

/// Where a run stands (kept beside the run: an annotation of its Secret, a field in a file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    /// Its changes are recorded and being written (a killed run stays here).
    Applying,
    /// Every change it planned was written.
    Applied,
    /// It stopped early: some changes were written, some not.
    PartiallyApplied,
    /// A rollback restored all of it.
    RolledBack,
    /// A rollback restored some of it (conflicts or a failure left the rest).
    PartiallyRolledBack,
}

impl RunState {
    /// The state's name as written (`applied`, `partially-rolled-back`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Applying => "applying",
            RunState::Applied => "applied",
            RunState::PartiallyApplied => "partially-applied",
            RunState::RolledBack => "rolled-back",
            RunState::PartiallyRolledBack => "partially-rolled-back",
        }
    }

    /// The state named `s` (None: not a state this version knows).
    pub fn parse(s: &str) -> Option<RunState> {
        [
            RunState::Applying,
            RunState::Applied,
            RunState::PartiallyApplied,
            RunState::RolledBack,
            RunState::PartiallyRolledBack,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// What is known of a run without reading its entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RunSummary {
    pub run_id: String,
    /// When its first entry was written (RFC 3339, UTC).
    pub started: String,
    /// The modules that wrote into it, in order of first write.
    pub modules: Vec<String>,
    pub state: RunState,
    /// How many distinct objects (and files) it recorded changes of.
    pub objects: usize,
    /// How many field changes it recorded (its entries).
    pub changes: usize,
    /// For a rollback run: the run it restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolls_back: Option<String>,
}

impl RunSummary {
    /// Whether this is a rollback's own run (never rolled back itself).
    pub fn is_rollback(&self) -> bool {
        self.rolls_back.is_some() || self.modules.iter().all(|m| m == "rollback")
    }
}

/// One run's record: its summary and its entries (seq 1, 2, … within the run; records
/// converted from the v1 format keep their record-wide seqs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Run {
    #[serde(flatten)]
    pub summary: RunSummary,
    /// For a rollback run: the seqs of `rolls_back`'s entries it restored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restored: Vec<u64>,
    pub entries: Vec<RecordEntry>,
}

/// One part of a run's record as stored (gzip-compressed JSON in a Secret): a run whose
/// compressed record would pass a Secret's size continues in numbered parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunPart {
    /// Always `ocp-bootimage.run/v2`.
    pub format: String,
    pub run_id: String,
    /// 1, 2, …
    pub part: u32,
    /// Part 1 of a rollback run: the seqs of the restored run's entries it restored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restored: Vec<u64>,
    pub entries: Vec<RecordEntry>,
}

/// A record file (`record_path`): every run, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecordFile {
    /// Always `ocp-bootimage.record-file/v2`.
    pub format: String,
    pub runs: Vec<Run>,
}

impl Default for RecordFile {
    fn default() -> RecordFile {
        RecordFile {
            format: FILE_FORMAT.to_string(),
            runs: Vec::new(),
        }
    }
}

impl Run {
    /// A new, empty run.
    pub fn new(run_id: &str, started: &str) -> Run {
        Run {
            summary: RunSummary {
                run_id: run_id.to_string(),
                started: started.to_string(),
                modules: Vec::new(),
                state: RunState::Applying,
                objects: 0,
                changes: 0,
                rolls_back: None,
            },
            restored: Vec::new(),
            entries: Vec::new(),
        }
    }

    /// Appends `entries` (numbered after the run's last), noting their modules and
    /// counting objects and entries.
    pub fn append(&mut self, entries: Vec<RecordEntry>) {
        let mut seq = self.entries.last().map_or(0, |e| e.seq);
        for mut e in entries {
            seq += 1;
            e.seq = seq;
            if !self.summary.modules.contains(&e.module) {
                self.summary.modules.push(e.module.clone());
            }
            self.entries.push(e);
        }
        self.recount();
    }

    /// Recomputes the summary's counts from the entries.
    pub fn recount(&mut self) {
        let objects: std::collections::BTreeSet<(&str, Option<&str>, &str)> = self
            .entries
            .iter()
            .map(|e| (e.kind.as_str(), e.namespace.as_deref(), e.name.as_str()))
            .collect();
        self.summary.objects = objects.len();
        self.summary.changes = self.entries.len();
    }
}

/// The runs of a v1 record (one list of every run's entries), oldest first, each with
/// its entries as they were (seqs and `rolled_back` marks kept); a run is rolled back
/// when every entry is.
pub fn runs_of_v1(record: Record) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for e in record.entries {
        let i = match runs.iter().position(|r| r.summary.run_id == e.run_id) {
            Some(i) => i,
            None => {
                runs.push(Run::new(&e.run_id, &e.time));
                runs.len() - 1
            }
        };
        if let Some(run) = runs.get_mut(i) {
            if !run.summary.modules.contains(&e.module) {
                run.summary.modules.push(e.module.clone());
            }
            run.entries.push(e);
        }
    }
    for run in &mut runs {
        run.recount();
        let done = run
            .entries
            .iter()
            .filter(|e| e.rolled_back.is_some())
            .count();
        run.summary.state = match done {
            0 => RunState::Applied,
            n if n == run.entries.len() => RunState::RolledBack,
            _ => RunState::PartiallyRolledBack,
        };
    }
    runs
}

/// Marks the entries of `run` that rollback runs (`rollbacks`, whose `rolls_back` is
/// `run`) restored, as `rolled_back` by them.
pub fn mark_restored(run: &mut Run, rollbacks: &[Run]) {
    for rb in rollbacks {
        if rb.summary.rolls_back.as_deref() != Some(run.summary.run_id.as_str()) {
            continue;
        }
        for e in run.entries.iter_mut() {
            if e.rolled_back.is_none() && rb.restored.contains(&e.seq) {
                e.rolled_back = Some(RolledBack {
                    time: rb.summary.started.clone(),
                    run_id: rb.summary.run_id.clone(),
                });
            }
        }
    }
}

/// The run `rollback` restores by default: the newest that is not a rollback's own.
/// `runs` is oldest first.
pub fn last_run(runs: &[RunSummary]) -> Option<&RunSummary> {
    runs.iter().rev().find(|r| !r.is_rollback())
}

/// A warning about `run` when it did not end where a run should (a killed or failed
/// run, a rollback that left some of it): what state it is in and what to do.
pub fn unfinished_run_warning(run: &RunSummary) -> Option<String> {
    let id = &run.run_id;
    let (what, todo) = match run.state {
        RunState::Applied | RunState::RolledBack => return None,
        RunState::Applying => (
            "is applying, or was killed while it did",
            format!("unless it is still running, run its steps again with run_id {id} to finish it, or roll it back (rollback run_id={id})"),
        ),
        RunState::PartiallyApplied => (
            "was partially applied",
            format!("run its steps again with run_id {id} to finish it, or roll it back (rollback run_id={id})"),
        ),
        RunState::PartiallyRolledBack => (
            "was partially rolled back",
            format!("see the conflicts of its rollback, then roll it back again (rollback run_id={id})"),
        ),
    };
    Some(format!(
        "the last run {id} ({}, started {}) {what}: {todo}",
        run.modules.join(", "),
        run.started
    ))
}

/// The runs an explicit prune deletes (ids, oldest first): the runs that are not a
/// rollback's own beyond the newest `keep` and, with `older_than` (RFC 3339), started
/// before it (both given: both must hold); and the rollback runs of every run deleted
/// (a rollback run's notes matter only while the run it restored is kept). Runs of a v1
/// record (`v1`) are never chosen, nor counted by `keep`: they share one Secret. Neither
/// limit: nothing.
pub fn runs_to_prune(
    runs: &[RunSummary],
    keep: Option<usize>,
    older_than: Option<&str>,
    v1: &[String],
) -> Vec<String> {
    if keep.is_none() && older_than.is_none() {
        return Vec::new();
    }
    let parse = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
    };
    let cutoff = older_than.and_then(parse);
    // `keep` counts the runs it could delete: v1 runs are neither counted nor chosen.
    let mut newest_first: Vec<&RunSummary> = runs
        .iter()
        .filter(|r| !r.is_rollback() && !v1.contains(&r.run_id))
        .collect();
    newest_first.reverse();
    let mut chosen: Vec<String> = newest_first
        .iter()
        .enumerate()
        .filter(|(i, _)| keep.is_none_or(|k| *i >= k))
        .filter(|(_, r)| match (older_than, cutoff) {
            (None, _) => true,
            (Some(_), Some(c)) => parse(&r.started).is_some_and(|t| t < c),
            (Some(_), None) => false,
        })
        .map(|(_, r)| r.run_id.clone())
        .filter(|id| !v1.contains(id))
        .collect();
    let rollbacks: Vec<String> = runs
        .iter()
        .filter(|r| r.is_rollback())
        .filter(|r| {
            r.rolls_back
                .as_ref()
                .is_none_or(|t| chosen.contains(t) || !runs.iter().any(|x| &x.run_id == t))
        })
        .map(|r| r.run_id.clone())
        .filter(|id| !v1.contains(id))
        .collect();
    chosen.extend(rollbacks);
    runs.iter()
        .filter(|r| chosen.contains(&r.run_id))
        .map(|r| r.run_id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, started: &str, rolls_back: Option<&str>) -> RunSummary {
        RunSummary {
            run_id: id.into(),
            started: started.into(),
            modules: vec![if rolls_back.is_some() {
                "rollback"
            } else {
                "machineset_bootimage"
            }
            .to_string()],
            state: RunState::Applied,
            objects: 1,
            changes: 1,
            rolls_back: rolls_back.map(str::to_string),
        }
    }

    #[test]
    fn an_unfinished_last_run_says_what_to_do() {
        let mut r = run("20261204-120000-abcd", "2026-12-04T12:00:00.000Z", None);
        assert_eq!(unfinished_run_warning(&r), None);
        r.state = RunState::RolledBack;
        assert_eq!(unfinished_run_warning(&r), None);
        r.state = RunState::PartiallyApplied;
        let w = unfinished_run_warning(&r).unwrap();
        for part in [
            "the last run 20261204-120000-abcd (machineset_bootimage, started 2026-12-04T12:00:00.000Z) was partially applied",
            "with run_id 20261204-120000-abcd to finish it",
            "rollback run_id=20261204-120000-abcd",
        ] {
            assert!(w.contains(part), "{part:?} missing from {w}");
        }
        r.state = RunState::Applying;
        assert!(unfinished_run_warning(&r).unwrap().contains("killed"));
        r.state = RunState::PartiallyRolledBack;
        assert!(unfinished_run_warning(&r).unwrap().contains("conflicts"));
    }

    #[test]
    fn prune_keeps_the_newest_and_takes_rollbacks_along() {
        let runs = vec![
            run("a", "2026-01-01T00:00:00.000Z", None),
            run("rb-a", "2026-01-01T01:00:00.000Z", Some("a")),
            run("b", "2026-02-01T00:00:00.000Z", None),
            run("c", "2026-03-01T00:00:00.000Z", None),
            run("rb-c", "2026-03-01T01:00:00.000Z", Some("c")),
        ];
        assert!(runs_to_prune(&runs, None, None, &[]).is_empty());
        assert_eq!(
            runs_to_prune(&runs, Some(1), None, &[]),
            vec!["a", "rb-a", "b"]
        );
        assert_eq!(
            runs_to_prune(&runs, None, Some("2026-02-15T00:00:00Z"), &[]),
            vec!["a", "rb-a", "b"]
        );
        assert_eq!(
            runs_to_prune(&runs, Some(2), Some("2026-02-15T00:00:00Z"), &[]),
            vec!["a", "rb-a"]
        );
        assert_eq!(
            runs_to_prune(&runs, Some(0), None, &["a".into()]),
            vec!["b", "c", "rb-c"]
        );
        // A v1 run among the newest does not take one of the `keep` places.
        let mut v1_newest = runs.clone();
        v1_newest.push(run("v1-run", "2026-04-01T00:00:00.000Z", None));
        assert_eq!(
            runs_to_prune(&v1_newest, Some(1), None, &["v1-run".into()]),
            vec!["a", "rb-a", "b"]
        );
        assert_eq!(last_run(&runs).map(|r| r.run_id.as_str()), Some("c"));
    }
}
