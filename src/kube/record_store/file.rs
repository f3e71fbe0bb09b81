//! Runs kept in a local file (`record_path`, mode 0600): every run in one JSON document,
//! rewritten atomically (a temporary file renamed over it). A file of the v1 format
//! (one list of every run's entries) is read as its runs and written back as v2.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::atomic_file::write_atomic;
use crate::record::{runs_of_v1, Record, RecordFile, Run, FILE_FORMAT, RECORD_FORMAT};

/// A record file.
#[derive(Debug, Clone)]
pub struct FileRuns {
    pub path: PathBuf,
}

impl FileRuns {
    /// Every run in the file, oldest first (an absent file has none).
    pub fn read(&self) -> Result<RecordFile> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(RecordFile::default()),
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("reading the rollback record {}", self.path.display())
                })
            }
        };
        let what = || {
            format!(
                "the rollback record {} is not a valid record",
                self.path.display()
            )
        };
        let value: serde_json::Value = serde_json::from_slice(&bytes).with_context(what)?;
        match value.get("format").and_then(serde_json::Value::as_str) {
            Some(FILE_FORMAT) => serde_json::from_value(value).with_context(what),
            Some(RECORD_FORMAT) => {
                let v1: Record = serde_json::from_value(value).with_context(what)?;
                Ok(RecordFile {
                    runs: runs_of_v1(v1),
                    ..RecordFile::default()
                })
            }
            other => anyhow::bail!(
                "the rollback record {} has format {:?}; this version reads {FILE_FORMAT:?} and {RECORD_FORMAT:?}",
                self.path.display(),
                other.unwrap_or_default()
            ),
        }
    }

    /// One run, if the file holds it.
    pub fn run(&self, run_id: &str) -> Result<Option<Run>> {
        Ok(self
            .read()?
            .runs
            .into_iter()
            .find(|r| r.summary.run_id == run_id))
    }

    /// Writes `run` into the file (replacing the run of the same id, or after the others).
    pub fn save(&self, run: &Run) -> Result<()> {
        let mut file = self.read()?;
        match file
            .runs
            .iter_mut()
            .find(|r| r.summary.run_id == run.summary.run_id)
        {
            Some(r) => *r = run.clone(),
            None => file.runs.push(run.clone()),
        }
        self.write(&file)
    }

    /// Removes the runs `ids` from the file.
    pub fn delete(&self, ids: &[String]) -> Result<()> {
        let mut file = self.read()?;
        file.runs.retain(|r| !ids.contains(&r.summary.run_id));
        self.write(&file)
    }

    fn write(&self, file: &RecordFile) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(file).context("encoding the rollback record")?;
        write_private(&self.path, &bytes)
    }
}

/// Writes `bytes` to `path` atomically with mode 0600 ([`write_atomic`]).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, bytes, 0o600)
}
