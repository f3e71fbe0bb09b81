//! Where rollback records live and how they are read and written: one record per run,
//! in Secrets of the record namespace (one per run, gzip-compressed, in numbered parts
//! when large: [`secret`]) or in a local file ([`file`]); runs of the v1 format (one
//! Secret or file for every run) are read too. Writing goes through a [`RunWriter`]
//! (write-ahead, then settled with what the server stored). Also the clock-derived
//! values a record needs (run ids, timestamps): the core's record model reads no clock.

pub mod codec;
mod file;
mod secret;
mod writer;

use std::path::PathBuf;

use anyhow::Result;

use crate::kube::connection::Connection;
use crate::kube::run_lock::{holder_identity, RunLock};
use crate::options::{ConnectionParams, RecordLocation, RecordParams};
use crate::record::{last_run, mark_restored, Run, RunState, RunSummary};

pub use file::write_private;
pub use secret::MANAGED_BY;
pub use writer::RunWriter;

use file::FileRuns;
use secret::{ListedRun, SecretRuns};

/// The environment variable that groups steps run one by one (from a shell) into one
/// run: its value is the run id of every step that is given none.
pub const RUN_ID_ENV: &str = "OCP_BOOTIMAGE_RUN_ID";

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// The current time as RFC 3339 UTC (`2026-11-25T16:40:00Z`).
pub fn now_rfc3339() -> String {
    let now = now().replace_nanosecond(0).unwrap_or_else(|_| now());
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// The current time as RFC 3339 UTC with milliseconds (`2026-11-25T16:40:00.123Z`):
/// runs started in the same second still sort in order.
pub fn now_rfc3339_millis() -> String {
    rfc3339_millis(now())
}

/// `t` (UTC) as RFC 3339 with always three digits of milliseconds: runs are listed by
/// this text, so it must sort as the times do (the `time` crate's RFC 3339 trims
/// trailing zeros — `.5Z` would sort after `.51Z` — and writes no fraction at `.000`).
fn rfc3339_millis(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// A new run id: UTC time plus a short random suffix (`20261125-164000-3f9a`), usable
/// as it is in Secret names.
pub fn new_run_id() -> String {
    let now = now();
    let suffix = (now.nanosecond() ^ std::process::id().rotate_left(16)) & 0xffff;
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}-{suffix:04x}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

impl RecordParams {
    /// The run id of this run: `run_id`, else `OCP_BOOTIMAGE_RUN_ID`, else a new one.
    pub fn run_id(&self) -> String {
        self.requested_run_id().unwrap_or_else(new_run_id)
    }

    /// The run asked for: `run_id`, else `OCP_BOOTIMAGE_RUN_ID` (None: neither).
    pub fn requested_run_id(&self) -> Option<String> {
        self.run_id.clone().or_else(|| {
            std::env::var(RUN_ID_ENV)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        })
    }

    /// Takes the run lock of `store` for run `run_id` of `module` (waiting up to
    /// `lock_timeout`), or none when `take` is false (check mode takes no lock).
    pub async fn lock(
        &self,
        store: &RecordStore,
        run_id: &str,
        module: &str,
        take: bool,
    ) -> Result<Option<RunLock>> {
        if !take {
            return Ok(None);
        }
        let wait = std::time::Duration::from_secs(self.lock_timeout);
        Ok(Some(
            store.lock(&holder_identity(run_id, module), wait).await?,
        ))
    }

    /// The record store (see [`RecordLocation::store`]).
    pub fn store(&self, conn: Option<&Connection>, legacy_namespace: &str) -> Result<RecordStore> {
        self.location.store(conn, legacy_namespace)
    }
}

impl RecordLocation {
    /// The record store, and the connection it made unless the record is a local file
    /// (a record of a run on files needs no cluster).
    pub async fn open(
        &self,
        connection: &ConnectionParams,
        legacy_namespace: &str,
    ) -> Result<(Option<Connection>, RecordStore)> {
        if self.record_path.is_some() {
            return Ok((None, self.store(None, legacy_namespace)?));
        }
        let conn = connection.connect().await?;
        let store = self.store(Some(&conn), legacy_namespace)?;
        Ok((Some(conn), store))
    }

    /// The record store: the local file when `record_path` is set, else the Secrets
    /// `record-*` in `record_namespace` (a v1 record named `record` is also looked for
    /// in `legacy_namespace`, where earlier releases kept it).
    pub fn store(&self, conn: Option<&Connection>, legacy_namespace: &str) -> Result<RecordStore> {
        match (&self.record_path, conn) {
            (Some(p), _) => Ok(RecordStore::file(p.clone())),
            (None, Some(c)) => Ok(RecordStore {
                backend: Backend::Secrets(SecretRuns {
                    conn: c.clone(),
                    namespace: self.record_namespace.clone(),
                    record: self.record.clone(),
                    legacy_namespace: Some(legacy_namespace.to_string()),
                    part_limit: codec::PART_LIMIT,
                }),
            }),
            (None, None) => {
                anyhow::bail!("give `record_path` for a rollback record when working on files")
            }
        }
    }
}

/// Where the runs are kept.
#[derive(Clone)]
pub(crate) enum Backend {
    Secrets(SecretRuns),
    File(FileRuns),
}

impl Backend {
    fn run_location(&self, run_id: &str) -> String {
        match self {
            Backend::Secrets(s) => format!(
                "Secret {}/{}",
                s.namespace,
                codec::part_name(&s.record, run_id, 1)
            ),
            Backend::File(f) => format!("file {}", f.path.display()),
        }
    }
}

/// The record store.
#[derive(Clone)]
pub struct RecordStore {
    backend: Backend,
}

/// The runs of a record as read, oldest first.
pub struct Runs {
    /// Their summaries, oldest first.
    pub list: Vec<RunSummary>,
    /// What could not be read (a forbidden v1 record), for the module's warnings.
    pub notes: Vec<String>,
    source: Source,
}

enum Source {
    Secrets {
        listed: Vec<ListedRun>,
        /// The runs of a v1 record (read only).
        legacy: Vec<Run>,
    },
    File(Vec<Run>),
}

impl RecordStore {
    /// A record kept in a local file.
    pub fn file(path: PathBuf) -> RecordStore {
        RecordStore {
            backend: Backend::File(FileRuns { path }),
        }
    }

    /// The same store with another part size (tests of numbered parts).
    pub fn with_part_limit(mut self, limit: usize) -> RecordStore {
        if let Backend::Secrets(s) = &mut self.backend {
            s.part_limit = limit;
        }
        self
    }

    /// Where the record is (`Secrets ns/record-*` or `file path`).
    pub fn location(&self) -> String {
        match &self.backend {
            Backend::Secrets(s) => format!("Secrets {}/{}-*", s.namespace, s.record),
            Backend::File(f) => format!("file {}", f.path.display()),
        }
    }

    /// Where one run's record is (`Secret ns/name` of its part 1, or `file path`).
    pub fn run_location(&self, run_id: &str) -> String {
        self.backend.run_location(run_id)
    }

    /// Takes the run lock of this record for `holder` (see
    /// [`crate::kube::run_lock::holder_identity`]): the Lease named like the record in
    /// the record namespace, or an OS lock beside the record file; waits up to `wait`.
    pub async fn lock(&self, holder: &str, wait: std::time::Duration) -> Result<RunLock> {
        match &self.backend {
            Backend::Secrets(s) => {
                RunLock::lease(&s.conn, &s.namespace, &s.record, holder, wait).await
            }
            Backend::File(f) => RunLock::file(&f.path, holder, wait),
        }
    }

    /// The writer of run `run_id`.
    pub fn writer(&self, run_id: &str) -> RunWriter {
        RunWriter::new(self.backend.clone(), run_id, None)
    }

    /// The writer of a rollback's own run `run_id`, which restores `rolls_back`.
    pub fn rollback_writer(&self, run_id: &str, rolls_back: &str) -> RunWriter {
        RunWriter::new(self.backend.clone(), run_id, Some(rolls_back.to_string()))
    }

    /// Every run of the record, oldest first.
    pub async fn runs(&self) -> Result<Runs> {
        let mut runs = match &self.backend {
            Backend::Secrets(s) => {
                let (listed, legacy, notes) = s.list().await?;
                let legacy = legacy.map(crate::record::runs_of_v1).unwrap_or_default();
                let mut list: Vec<RunSummary> = listed.iter().map(|r| r.summary.clone()).collect();
                list.extend(legacy.iter().map(|r| r.summary.clone()));
                Runs {
                    list,
                    notes,
                    source: Source::Secrets { listed, legacy },
                }
            }
            Backend::File(f) => {
                let runs = f.read()?.runs;
                Runs {
                    list: runs.iter().map(|r| r.summary.clone()).collect(),
                    notes: Vec::new(),
                    source: Source::File(runs),
                }
            }
        };
        runs.list
            .sort_by(|a, b| (&a.started, &a.run_id).cmp(&(&b.started, &b.run_id)));
        // A v1 run's state follows from the marks of the rollbacks that restored it.
        let legacy_ids: Vec<String> = match &runs.source {
            Source::Secrets { legacy, .. } => {
                legacy.iter().map(|r| r.summary.run_id.clone()).collect()
            }
            Source::File(_) => Vec::new(),
        };
        for id in legacy_ids {
            if let Some(run) = self.load_run(&runs, &id)? {
                let state = state_from_marks(&run);
                if let Some(s) = runs.list.iter_mut().find(|s| s.run_id == id) {
                    s.state = state;
                }
            }
        }
        Ok(runs)
    }

    /// One run with its entries, each restored entry marked `rolled_back` (by the
    /// rollback runs that restored it). None: no such run.
    pub fn load_run(&self, runs: &Runs, run_id: &str) -> Result<Option<Run>> {
        let Some(mut run) = self.decode(runs, run_id)? else {
            return Ok(None);
        };
        let mut rollbacks = Vec::new();
        for s in runs
            .list
            .iter()
            .filter(|s| s.rolls_back.as_deref() == Some(run_id))
        {
            rollbacks.extend(self.decode(runs, &s.run_id)?);
        }
        mark_restored(&mut run, &rollbacks);
        Ok(Some(run))
    }

    fn decode(&self, runs: &Runs, run_id: &str) -> Result<Option<Run>> {
        match (&runs.source, &self.backend) {
            (Source::Secrets { listed, legacy }, Backend::Secrets(s)) => {
                if let Some(l) = listed.iter().find(|l| l.summary.run_id == run_id) {
                    return Ok(Some(s.decode(run_id, &l.secrets)?));
                }
                Ok(legacy.iter().find(|r| r.summary.run_id == run_id).cloned())
            }
            (Source::File(all), _) => Ok(all.iter().find(|r| r.summary.run_id == run_id).cloned()),
            _ => Ok(None),
        }
    }

    /// Sets the state of a run (a v1 run's state follows from the rollbacks' marks:
    /// nothing to set).
    pub async fn set_state(&self, runs: &Runs, run_id: &str, state: RunState) -> Result<()> {
        match (&runs.source, &self.backend) {
            (Source::Secrets { listed, .. }, Backend::Secrets(s)) => {
                match listed.iter().find(|l| l.summary.run_id == run_id) {
                    Some(l) => s.set_state(l, state).await,
                    None => Ok(()),
                }
            }
            (Source::File(_), Backend::File(f)) => match f.run(run_id)? {
                Some(mut run) => {
                    run.summary.state = state;
                    f.save(&run)
                }
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// Deletes the runs `ids` (a v1 run cannot be deleted alone: it is skipped).
    pub async fn delete_runs(&self, runs: &Runs, ids: &[String]) -> Result<()> {
        match (&runs.source, &self.backend) {
            (Source::Secrets { listed, .. }, Backend::Secrets(s)) => {
                for l in listed.iter().filter(|l| ids.contains(&l.summary.run_id)) {
                    s.delete(l).await?;
                }
                Ok(())
            }
            (Source::File(_), Backend::File(f)) => f.delete(ids),
            _ => Ok(()),
        }
    }
}

impl Runs {
    /// The ids of the runs read from a v1 record (one Secret for every run: they are
    /// never deleted one by one).
    pub fn v1_ids(&self) -> Vec<String> {
        match &self.source {
            Source::Secrets { legacy, .. } => {
                legacy.iter().map(|r| r.summary.run_id.clone()).collect()
            }
            Source::File(_) => Vec::new(),
        }
    }
}

/// The state of a run by its entries' marks (all restored, some, none).
pub fn state_from_marks(run: &Run) -> RunState {
    let done = run
        .entries
        .iter()
        .filter(|e| e.rolled_back.is_some())
        .count();
    match done {
        0 => run.summary.state,
        n if n == run.entries.len() => RunState::RolledBack,
        _ => RunState::PartiallyRolledBack,
    }
}

/// The run `rollback` restores when none is asked for: the newest that is not a
/// rollback's own.
pub fn default_run(runs: &Runs) -> Option<&RunSummary> {
    last_run(&runs.list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millisecond_times_have_a_fixed_width_and_sort_as_the_times_do() {
        let at = |ms: u32| {
            time::OffsetDateTime::from_unix_timestamp(1_796_370_000)
                .unwrap()
                .replace_millisecond(ms as u16)
                .unwrap()
        };
        let texts: Vec<String> = [0, 5, 50, 500, 510, 999]
            .into_iter()
            .map(|ms| rfc3339_millis(at(ms)))
            .collect();
        assert_eq!(texts[0], "2026-12-04T07:40:00.000Z");
        assert_eq!(texts[3], "2026-12-04T07:40:00.500Z");
        let mut sorted = texts.clone();
        sorted.sort();
        assert_eq!(sorted, texts);
        for t in &texts {
            assert_eq!(t.len(), 24, "{t}");
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap();
        }
    }
}
