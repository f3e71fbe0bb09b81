//! `rollback`: restores what a rollback record holds.
//!
//! Takes the entries of one run (default: the last), newest first, and puts each
//! field back to its old value — but only where the object still holds the value
//! the run wrote; anything else is a conflict, reported and left alone unless
//! `force`. Created objects are deleted (if unchanged). Rollback records its own
//! changes first (module `rollback`, a new run id) and marks the restored entries
//! as rolled back; entries are never deleted.
//!
//! Planning is the core's [`crate::plan::rollback`] (pure, also re-plans after a 409);
//! this file reads the record, the objects and the files, restores the files, and
//! applies the plan with the [`Applier`] (record first, 409 re-plan) — not through
//! [`crate::execute::Step`]: rollback reads the record before any object, runs under
//! its own run id, needs no cluster for a record of files, and marks entries after.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ansible::{AnsibleMeta, Module, ModuleContext, ModuleError, ModuleOutcome};
use crate::cluster::resources;
use crate::execute::outcome;
use crate::kube::apply::{Applier, ApplyOutcome};
use crate::kube::client::get;
use crate::kube::connection::Connection;
use crate::kube::record_store::{new_run_id, now_rfc3339, RecordStore};
use crate::options::ConnectionParams;
use crate::options::{NamespaceParams, RecordParams};
use crate::plan::rollback::{
    conflict_warnings, entries_done, file_entry, plan_file, run_entries, run_to_roll_back,
    EntryReport, ObjectEntries, ObjectKey, RunEntries,
};
use crate::plan::step::Plan;
use crate::plan::ObjectChange;
use crate::record::RolledBack;

/// Options of `rollback`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Params {
    #[serde(flatten)]
    pub connection: ConnectionParams,
    #[serde(flatten)]
    pub ns: NamespaceParams,
    #[serde(flatten)]
    pub record: RecordParams,
    /// Only entries of these kinds (`MachineSet`, `Secret`, `MachineAutoscaler`, …).
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Restore also where the object no longer holds the value the run wrote
    /// (someone changed it since). Default: report a conflict and leave it.
    #[serde(default)]
    pub force: bool,
}

/// Return values of `rollback`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Output {
    /// The run that was rolled back (null when the record is empty).
    pub run_id: Option<String>,
    /// The run id of this rollback's own record entries.
    pub rollback_run_id: String,
    /// Where the record is.
    pub record: String,
    pub entries: Vec<EntryReport>,
    /// Number of entries left alone because of conflicts.
    pub conflicts: usize,
}

/// The module.
pub struct Rollback;

impl Module for Rollback {
    const NAME: &'static str = "rollback";
    const SHORT_DESCRIPTION: &'static str = "Restore the values a rollback record holds for a run";
    const DESCRIPTION: &'static str = r#"
Restores what the rollback record holds for one run (default: the last): entries newest
first, each field put back to its old value only where the object still holds the value
the run wrote — anything else is reported as a conflict and left alone unless `force`.
Objects the run created are deleted if unchanged; files (stub_ignition `path`) are written
back. Rollback records its own changes first and marks the restored entries as rolled back;
entries are never deleted, so a second rollback changes nothing.
"#;
    const EXAMPLES: &'static str = r#"
- name: Undo the whole update run
  ocp.bootimage.rollback:
    run_id: "{{ update_run_id }}"

- name: Undo only the MachineSet changes of the last run, showing the diff first
  ocp.bootimage.rollback:
    kinds: [MachineSet]
  check_mode: true
  diff: true

- name: Restore a bare-metal stub migrated on disk
  ocp.bootimage.rollback:
    record_path: /var/lib/ocp-bootimage/record.json
"#;
    type Params = Params;
    type Output = Output;

    async fn run(
        params: Params,
        ctx: &ModuleContext,
    ) -> Result<ModuleOutcome<Output>, ModuleError> {
        let (mut conn, store) = open_record(&params).await?;
        let record = store.load().await?;
        let rollback_run_id = new_run_id();
        let out = Output {
            run_id: run_to_roll_back(&record, params.record.run_id.as_deref()),
            rollback_run_id: rollback_run_id.clone(),
            record: store.location.to_string(),
            entries: Vec::new(),
            conflicts: 0,
        };
        let Some(run) = out.run_id.clone() else {
            let warnings = vec!["the rollback record is empty".to_string()];
            return Ok(outcome(ctx.meta.diff, &[], None, WHAT, out, warnings));
        };
        let entries =
            run_entries(&record, &run, &params.kinds, &out.record).map_err(anyhow::Error::from)?;
        if conn.is_none() && !entries.objects.is_empty() {
            conn = Some(params.connection.connect().await?);
        }
        let restore = Restore {
            conn: conn.as_ref(),
            store: &store,
            run_id: &rollback_run_id,
            force: params.force,
            meta: &ctx.meta,
        };
        let (files, files_changed) = restore.files(&entries.files).await?;
        let current = read_objects(conn.as_ref(), &entries.objects).await?;
        let mut plan = entries.plan(&current, params.force);
        plan.reports = files.into_iter().chain(plan.reports).collect();
        Ok(restore.execute(&entries, plan, files_changed, out).await)
    }
}

/// What rollback changes, for `msg`.
const WHAT: &str = "object(s)";

/// The record store, and a connection unless the record is a local file: a record of a
/// run on files (stub_ignition `path`) needs no cluster (one is made later when the
/// record holds cluster objects).
async fn open_record(params: &Params) -> Result<(Option<Connection>, RecordStore)> {
    let Some(path) = &params.record.record_path else {
        let conn = params.connection.connect().await?;
        let store = RecordStore::secret(conn.clone(), &params.ns.namespace, &params.record.record);
        return Ok((Some(conn), store));
    };
    Ok((None, RecordStore::file(path.clone())))
}

/// Reads every cluster object of the run whose kind this tool knows (None: gone).
async fn read_objects(
    conn: Option<&Connection>,
    objects: &[ObjectEntries<'_>],
) -> Result<BTreeMap<ObjectKey, Option<Value>>> {
    let mut current = BTreeMap::new();
    let Some(conn) = conn else {
        return Ok(current);
    };
    for o in objects {
        let (kind, ns, name) = &o.key;
        if let Some(k) = resources::by_kind(kind) {
            current.insert(o.key.clone(), get(conn, k, ns.as_deref(), name).await?);
        }
    }
    Ok(current)
}

/// The writing side of one rollback run: where it writes and records, under which run
/// id, how.
struct Restore<'a> {
    /// The cluster (None: the record holds files only).
    conn: Option<&'a Connection>,
    store: &'a RecordStore,
    /// This rollback's own run id (its record entries and the `rolled_back` marks).
    run_id: &'a str,
    force: bool,
    meta: &'a AnsibleMeta,
}

impl Restore<'_> {
    /// Carries out the restore of the cluster objects (the files are restored already):
    /// conflicts become warnings; a real run applies the changes (record first, a 409
    /// re-reads and re-plans the object) and marks what is now restored as rolled back.
    async fn execute(
        &self,
        entries: &RunEntries<'_>,
        plan: Plan<Vec<EntryReport>>,
        files_changed: bool,
        mut out: Output,
    ) -> ModuleOutcome<Output> {
        let Plan {
            changes,
            reports,
            mut warnings,
            ..
        } = plan;
        let conflicts = conflict_warnings(&reports);
        out.conflicts = conflicts.len();
        warnings.extend(conflicts);
        let applied = if self.meta.check_mode {
            None
        } else {
            Some(self.apply(entries, &changes, &reports, &mut warnings).await)
        };
        out.entries = reports;
        let mut o = outcome(
            self.meta.diff,
            &changes,
            applied.as_ref(),
            WHAT,
            out,
            warnings,
        );
        o.changed |= files_changed;
        if files_changed && applied.is_some() && changes.is_empty() {
            o.msg = "restored the file(s) of the run".into();
        }
        o
    }

    /// Restores the run's local files (stub_ignition `path`), each only if it still
    /// holds what the run wrote (unless `force`); in check mode only reports. Returns
    /// the entries' reports and whether a file changed.
    async fn files(&self, files: &[ObjectEntries<'_>]) -> Result<(Vec<EntryReport>, bool)> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut reports = Vec::new();
        let mut changed = false;
        for f in files {
            let path = PathBuf::from(&f.key.2);
            let current = std::fs::read(&path)
                .map(|b| Value::String(b64.encode(b)))
                .unwrap_or(Value::Null);
            let (state, mut file_reports) = plan_file(&current, &f.entries, self.force);
            reports.append(&mut file_reports);
            if state != current {
                changed = true;
                if !self.meta.check_mode {
                    self.write_file(&path, current, state).await?;
                }
            }
        }
        Ok((reports, changed))
    }

    /// Puts `state` (base64; null: no file) back at `path`, recording it first.
    async fn write_file(&self, path: &Path, current: Value, state: Value) -> Result<()> {
        let name = path.display().to_string();
        let entry = file_entry(
            self.run_id,
            &now_rfc3339(),
            Rollback::NAME,
            &name,
            current,
            state.clone(),
        );
        self.store
            .update(&|r| r.append(vec![entry.clone()]))
            .await?;
        match state.as_str() {
            Some(s) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .context("the record's file content is not base64")?;
                crate::kube::record_store::write_private(&path.to_path_buf(), &bytes)
            }
            None => {
                std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))
            }
        }
    }

    /// Applies the restores of the cluster objects (record first; a 409 re-reads and
    /// re-plans the object), then marks the entries now restored as rolled back.
    async fn apply(
        &self,
        entries: &RunEntries<'_>,
        changes: &[ObjectChange],
        reports: &[EntryReport],
        warnings: &mut Vec<String>,
    ) -> ApplyOutcome {
        let applied = match self.conn {
            Some(conn) if !changes.is_empty() => {
                let applier = Applier {
                    conn,
                    store: self.store,
                    module: Rollback::NAME,
                    run_id: self.run_id,
                };
                let replan = |fresh: &Value| Ok(entries.replan(fresh, self.force));
                applier.apply(changes.to_vec(), &replan).await
            }
            _ => ApplyOutcome::default(),
        };
        let done = entries_done(reports, changes, &applied.applied);
        self.mark_done(&done, warnings).await;
        applied
    }

    /// Marks the entries `done` (by seq) as rolled back by this run; a failure to mark
    /// is a warning (the values are restored).
    async fn mark_done(&self, done: &[u64], warnings: &mut Vec<String>) {
        if done.is_empty() {
            return;
        }
        let mark = RolledBack {
            time: now_rfc3339(),
            run_id: self.run_id.to_string(),
        };
        let marked = self
            .store
            .update(&|r| {
                for e in r.entries.iter_mut() {
                    if done.contains(&e.seq) && e.rolled_back.is_none() {
                        e.rolled_back = Some(mark.clone());
                    }
                }
            })
            .await;
        if let Err(e) = marked {
            warnings.push(format!(
                "restored, but the record could not be marked: {e:#}"
            ));
        }
    }
}
