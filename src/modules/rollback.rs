//! `rollback`: restores what a rollback record holds.
//!
//! Takes the entries of one run (default: the last that is not a rollback), newest
//! first, and puts each field back to its old value — but only where the object still
//! holds the value the run wrote (null ≡ absent, as a server stores it); anything else
//! is a conflict, reported and left alone unless `force`. Created objects are deleted
//! (if unchanged). Rollback writes its own small record first (its own run, module
//! `rollback`) — never growing the run it restores, so it is never blocked by a full
//! record — and notes there which entries it restored; the restored run's state becomes
//! `rolled-back` (or `partially-rolled-back`).
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
use crate::kube::client::{get, list};
use crate::kube::connection::Connection;
use crate::kube::record_store::{
    default_run, new_run_id, now_rfc3339, RecordStore, RunWriter, Runs,
};
use crate::kube::server_dry_run::ServerDryRun;
use crate::options::ConnectionParams;
use crate::options::{DryRunParams, NamespaceParams, RecordParams, VsphereParams};
use crate::plan::rollback::{
    conflict_warnings, entries_done, file_entry, plan_file, planned_objects, run_entries,
    EntryReport, ObjectEntries, ObjectKey, RollbackError, RunEntries,
};
use crate::plan::step::Plan;
use crate::plan::ObjectChange;
use crate::record::{Run, RunState, RunSummary};

mod key_secrets;
mod templates;

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
    /// Seconds to wait for the machine-config-server pods restarted after a run of
    /// `mcs_certificate` is rolled back (a warning, not a failure, when they are not Ready).
    #[serde(default = "default_wait_timeout")]
    pub wait_timeout: u64,
    /// vCenter credentials, to delete the templates a `vsphere_template` run imported
    /// (once no MachineSet names them). Without them such templates are left, with a
    /// warning, and the run stays partially rolled back.
    #[serde(flatten)]
    pub vcenter: VsphereParams,
    #[serde(flatten)]
    pub dry_run: DryRunParams,
}

/// Return values of `rollback`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Output {
    /// The run that was rolled back (null when the record is empty).
    pub run_id: Option<String>,
    /// The run id of this rollback's own record (its own run).
    pub rollback_run_id: String,
    /// Where the restored run's record is.
    pub record: String,
    pub entries: Vec<EntryReport>,
    /// Number of entries left alone because of conflicts.
    pub conflicts: usize,
    /// The other runs of the record that are not rolled back (oldest first): restore
    /// them with their `run_id`.
    pub other_runs: Vec<RunSummary>,
    /// Check mode with `server_dry_run`: what the API server said of each planned restore
    /// sent as a dry run (the Secrets with keys are not sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_dry_run: Option<ServerDryRun>,
}

/// The module.
pub struct Rollback;

impl Module for Rollback {
    const NAME: &'static str = "rollback";
    const SHORT_DESCRIPTION: &'static str = "Restore the values a rollback record holds for a run";
    const DESCRIPTION: &'static str = r#"
Restores what the rollback record holds for one run (default: `run_id`, else the
environment variable `OCP_BOOTIMAGE_RUN_ID`, else the last run that is not a rollback):
entries newest first, each field put back to its old value only where the object still
holds the value the run wrote — anything else is reported as a conflict and left alone
unless `force`. Objects the run created are deleted if unchanged; files (stub_ignition
`path`) are written back. Rollback records its own changes first, in a run of its own
(`rollback_run_id`, which names the restored run), notes there which entries it restored,
and sets the restored run's state to `rolled-back` (or `partially-rolled-back`); it never
deletes entries, so a second rollback changes nothing. `other_runs` lists the record's
other runs not rolled back. Outside check mode it holds the run lock. Runs of a v1 record
(earlier releases) are restored too.
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
        // A record of a run on files needs no cluster (a connection is made later when
        // the record holds cluster objects).
        let (conn, store) = (params.record.location)
            .open(&params.connection, &params.ns.namespace)
            .await?;
        let rollback_run_id = new_run_id();
        let take = !ctx.meta.check_mode;
        let lock = (params.record)
            .lock(&store, &rollback_run_id, Rollback::NAME, take)
            .await?;
        let result = restore_run(&params, ctx, conn, &store, rollback_run_id).await;
        if let Some(lock) = lock {
            lock.release().await;
        }
        result
    }
}

/// The rollback once the run lock is held (outside check mode): reads the runs, picks
/// the one to restore, plans and restores it.
async fn restore_run(
    params: &Params,
    ctx: &ModuleContext,
    mut conn: Option<Connection>,
    store: &RecordStore,
    rollback_run_id: String,
) -> Result<ModuleOutcome<Output>, ModuleError> {
    let runs = store.runs().await?;
    let target = target_run(params, store, &runs)?;
    let mut out = Output {
        run_id: target.as_ref().map(|r| r.summary.run_id.clone()),
        rollback_run_id: rollback_run_id.clone(),
        record: store.location(),
        entries: Vec::new(),
        conflicts: 0,
        other_runs: other_runs(&runs, out_id(&target)),
        server_dry_run: None,
    };
    let mut warnings = other_runs_warning(&out.other_runs, params.record.requested_run_id());
    warnings.extend(runs.notes.iter().cloned());
    let Some(run) = target else {
        warnings.push("the rollback record holds no run to roll back".to_string());
        return Ok(outcome(ctx.meta.diff, &[], None, WHAT, out, warnings));
    };
    out.record = store.run_location(&run.summary.run_id);
    let entries = run_entries(&run, &params.kinds);
    if conn.is_none()
        && !(entries.objects.is_empty()
            && entries.templates.is_empty()
            && entries.key_secrets.is_empty())
    {
        conn = Some(params.connection.connect().await?);
    }
    let writer = store.rollback_writer(&rollback_run_id, &run.summary.run_id);
    let restore = Restore {
        conn: conn.as_ref(),
        store,
        runs: &runs,
        writer: &writer,
        force: params.force,
        mcs_wait: std::time::Duration::from_secs(params.wait_timeout),
        meta: &ctx.meta,
        vcenter: &params.vcenter,
        ns: &params.ns.namespace,
        server_dry_run: ctx.meta.check_mode && params.dry_run.server_dry_run,
    };
    let (files, files_changed) = restore.files(&entries.files).await?;
    let current = read_objects(conn.as_ref(), &entries.objects).await?;
    let mut plan = entries.plan(current, params.force);
    plan.reports = files.into_iter().chain(plan.reports).collect();
    plan.warnings.extend(warnings);
    Ok(restore
        .execute(&run, &entries, plan, files_changed, out)
        .await)
}

/// MachineSet name → the template the rollback puts back (the old values of the
/// `template` entries it restores or finds restored), so that check mode judges the
/// templates on the MachineSets as they will be.
fn restored_templates(run: &Run, reports: &[EntryReport]) -> BTreeMap<String, String> {
    use crate::plan::rollback::EntryResult;
    let restored: std::collections::HashSet<u64> = reports
        .iter()
        .filter(|r| {
            matches!(
                r.result,
                EntryResult::Restored | EntryResult::AlreadyRestored
            )
        })
        .map(|r| r.seq)
        .collect();
    run.entries
        .iter()
        .filter(|e| restored.contains(&e.seq) && e.field.ends_with("/providerSpec/value/template"))
        .filter_map(|e| Some((e.name.clone(), e.old.as_str()?.to_string())))
        .collect()
}

fn default_wait_timeout() -> u64 {
    300
}

/// What rollback changes, for `msg`.
const WHAT: &str = "object(s)";

fn out_id(run: &Option<Run>) -> Option<&str> {
    run.as_ref().map(|r| r.summary.run_id.as_str())
}

/// The run to restore, with its entries: `run_id` (else `OCP_BOOTIMAGE_RUN_ID`), else
/// the last run that is not a rollback. None: the record holds no run.
fn target_run(params: &Params, store: &RecordStore, runs: &Runs) -> Result<Option<Run>> {
    let id = match params.record.requested_run_id() {
        Some(id) => id,
        None => match default_run(runs) {
            Some(s) => s.run_id.clone(),
            None => return Ok(None),
        },
    };
    match store.load_run(runs, &id)? {
        Some(run) => Ok(Some(run)),
        None => Err(RollbackError::UnknownRun {
            run: id,
            record: store.location(),
        }
        .into()),
    }
}

/// The runs other than `target` that changed something and are not rolled back.
fn other_runs(runs: &Runs, target: Option<&str>) -> Vec<RunSummary> {
    runs.list
        .iter()
        .filter(|r| Some(r.run_id.as_str()) != target && !r.is_rollback())
        .filter(|r| r.state != RunState::RolledBack)
        .cloned()
        .collect()
}

/// A warning naming the other runs not rolled back, when no run was asked for.
fn other_runs_warning(others: &[RunSummary], requested: Option<String>) -> Vec<String> {
    if others.is_empty() || requested.is_some() {
        return Vec::new();
    }
    let names: Vec<String> = others
        .iter()
        .map(|r| {
            format!(
                "{} ({}, {})",
                r.run_id,
                r.modules.join("+"),
                r.state.as_str()
            )
        })
        .collect();
    vec![format!(
        "restoring the last run only; the record holds other runs not rolled back: {} — pass run_id to restore one",
        crate::plan::audit::name_list(names.iter().map(String::as_str))
    )]
}

/// Reads every cluster object of the run whose kind this tool knows (None: gone): one
/// LIST per kind and namespace, keeping only the run's objects, for the kinds the tool
/// lists; one GET by name for the others (Secrets: the update account may not list
/// them, and must not read the cloud credentials beside them).
async fn read_objects(
    conn: Option<&Connection>,
    objects: &[ObjectEntries<'_>],
) -> Result<BTreeMap<ObjectKey, Option<Value>>> {
    let mut current: BTreeMap<ObjectKey, Option<Value>> = BTreeMap::new();
    let Some(conn) = conn else {
        return Ok(current);
    };
    let mut groups: BTreeMap<(String, Option<String>), BTreeMap<&str, &ObjectKey>> =
        BTreeMap::new();
    for o in objects {
        let (kind, ns, name) = &o.key;
        groups
            .entry((kind.clone(), ns.clone()))
            .or_default()
            .insert(name.as_str(), &o.key);
        current.insert(o.key.clone(), None);
    }
    for ((kind, ns), keys) in groups {
        let Some(k) = resources::by_kind(&kind) else {
            continue;
        };
        if !k.read_by_list() {
            for (name, key) in keys {
                let item = get(conn, k, ns.as_deref(), name).await?;
                current.insert(key.clone(), item);
            }
            continue;
        }
        let lp = kube::api::ListParams::default();
        let items = list(conn, k, ns.as_deref(), &lp).await?.unwrap_or_default();
        for item in items {
            let name = item.pointer("/metadata/name").and_then(Value::as_str);
            if let Some(key) = name.and_then(|n| keys.get(n)) {
                current.insert((*key).clone(), Some(item));
            }
        }
    }
    Ok(current)
}

/// The writing side of one rollback run: where it writes and records, how.
struct Restore<'a> {
    /// The cluster (None: the record holds files only).
    conn: Option<&'a Connection>,
    store: &'a RecordStore,
    runs: &'a Runs,
    /// This rollback's own run (its record: what it changes, and which entries of the
    /// restored run it restored).
    writer: &'a RunWriter,
    force: bool,
    /// How long to wait for restarted machine-config-server pods.
    mcs_wait: std::time::Duration,
    meta: &'a AnsibleMeta,
    vcenter: &'a VsphereParams,
    /// The MachineSets' namespace (which of them still name a template).
    ns: &'a str,
    /// Check mode sends the planned restores as dry runs (`server_dry_run`).
    server_dry_run: bool,
}

impl Restore<'_> {
    /// Carries out the restore of the cluster objects (the files are restored already):
    /// conflicts become warnings; a real run applies the changes (record first, a 409
    /// re-reads and re-plans the object) and notes what is now restored.
    async fn execute(
        &self,
        run: &Run,
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
        let nothing_planned = changes.is_empty();
        // Secrets with keys first (the old certificate is served again while the stubs
        // still carry both CAs), then the other objects, then the MCS pods.
        let (keys_changed, key_done) = self
            .restore_keys(&entries.key_secrets, &mut warnings, &mut out)
            .await;
        // A real run hands the changes to the applier (no copy: the outcome of a real
        // run is made from what was applied); check mode reports the plan.
        let (planned, applied, mut done) = if self.meta.check_mode {
            out.server_dry_run = self.check_with_server(&changes).await;
            (changes, None, Vec::new())
        } else {
            let (applied, done) = self.apply(entries, changes, &reports).await;
            (Vec::new(), Some(applied), done)
        };
        let mut reports = std::mem::take(&mut out.entries)
            .into_iter()
            .chain(reports)
            .collect::<Vec<_>>();
        done.extend(key_done);
        if keys_changed && !self.meta.check_mode {
            if let Some(conn) = self.conn {
                self.restart_mcs(conn, &mut warnings).await;
            }
        }
        // Templates after the MachineSets: only then is it known which none names.
        let mut templates_changed = false;
        if !entries.templates.is_empty() {
            let restored = restored_templates(run, &reports);
            match templates::remove(
                self.conn,
                self.ns,
                self.vcenter,
                &entries.templates,
                &restored,
                self.meta.check_mode,
            )
            .await
            {
                Ok(t) => {
                    templates_changed = t.changed;
                    done.extend(t.done);
                    reports.extend(t.reports);
                    warnings.extend(t.warnings);
                }
                Err(e) => warnings.push(format!(
                    "the templates the run imported were not removed: {e:#}"
                )),
            }
        }
        if let Some(a) = &applied {
            if let Err(e) = self.note_done(run, done, a.error.is_some()).await {
                warnings.push(format!(
                    "restored, but the record could not note it (a second rollback notes it): {e:#}"
                ));
            }
        }
        out.entries = reports;
        let mut o = outcome(
            self.meta.diff,
            &planned,
            applied.as_ref(),
            WHAT,
            out,
            warnings,
        );
        if let Some(dry_run) = &o.output.server_dry_run.clone() {
            crate::execute::judge_dry_run(dry_run, &mut o);
        }
        o.changed |= files_changed || templates_changed || keys_changed;
        if files_changed && applied.is_some() && nothing_planned {
            o.msg = "restored the file(s) of the run".into();
        }
        o
    }

    /// In check mode with `server_dry_run`: what the API server says of `changes` sent as
    /// dry runs (None: not asked, nothing planned, or no cluster).
    async fn check_with_server(&self, changes: &[ObjectChange]) -> Option<ServerDryRun> {
        let conn = self
            .conn
            .filter(|_| self.server_dry_run && !changes.is_empty())?;
        let applier = Applier {
            conn,
            writer: self.writer,
            module: Rollback::NAME,
            revert_check: None,
        };
        Some(crate::kube::server_dry_run::check(&applier, changes).await)
    }

    /// Restores the Secrets with keys of the run (see [`key_secrets`]): whether one
    /// changed, and the entries now restored; their reports go into `out`.
    async fn restore_keys(
        &self,
        groups: &[ObjectEntries<'_>],
        warnings: &mut Vec<String>,
        out: &mut Output,
    ) -> (bool, Vec<u64>) {
        let Some(conn) = self.conn.filter(|_| !groups.is_empty()) else {
            return (false, Vec::new());
        };
        let check = self.meta.check_mode;
        match key_secrets::restore(conn, self.writer, groups, self.force, check).await {
            Ok(k) => {
                let conflicts = conflict_warnings(&k.reports);
                out.conflicts += conflicts.len();
                warnings.extend(k.warnings);
                warnings.extend(conflicts);
                out.entries.extend(k.reports);
                (k.changed, k.done)
            }
            Err(e) => {
                warnings.push(format!(
                    "the machine-config-server certificate Secrets were not restored: {e:#}"
                ));
                (false, Vec::new())
            }
        }
    }

    /// Restarts the machine-config-server pods so they serve the restored certificate, and
    /// waits for them (problems are warnings: the Secrets are restored).
    async fn restart_mcs(&self, conn: &Connection, warnings: &mut Vec<String>) {
        let restarted = async {
            let pods = crate::kube::mcs_pods::list_pods(conn).await?;
            crate::kube::mcs_pods::restart(conn, &pods, None, self.mcs_wait, warnings).await
        };
        if let Err(e) = restarted.await {
            warnings.push(format!(
                "the machine-config-server pods were not restarted: {e:#}; delete them (oc -n openshift-machine-config-operator delete pods -l k8s-app=machine-config-server)"
            ));
        }
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
            self.writer.run_id(),
            &now_rfc3339(),
            Rollback::NAME,
            &name,
            current,
            state.clone(),
        );
        self.writer.append(vec![entry]).await?;
        match state.as_str() {
            Some(s) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .context("the record's file content is not base64")?;
                crate::kube::record_store::write_private(path, &bytes)
            }
            None => {
                std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))
            }
        }
    }

    /// Applies the restores of the cluster objects (record first; a 409 re-reads and
    /// re-plans the object); returns what was applied and the entries now restored.
    async fn apply(
        &self,
        entries: &RunEntries<'_>,
        changes: Vec<ObjectChange>,
        reports: &[EntryReport],
    ) -> (ApplyOutcome, Vec<u64>) {
        let planned = planned_objects(&changes);
        let applied = match self.conn {
            Some(conn) if !changes.is_empty() => {
                let applier = Applier {
                    conn,
                    writer: self.writer,
                    module: Rollback::NAME,
                    // A rollback restores what was there; it is not checked for reverts.
                    revert_check: None,
                };
                let replan = |fresh: &Value| Ok(entries.replan(fresh, self.force));
                applier.apply(changes, &replan).await
            }
            _ => ApplyOutcome::default(),
        };
        let done = entries_done(reports, &planned, &applied.applied);
        (applied, done)
    }

    /// Notes the entries `done` (by seq) as restored, in this rollback's own record, and
    /// sets the restored run's state: rolled back when all its entries now are.
    async fn note_done(&self, run: &Run, done: Vec<u64>, failed: bool) -> Result<()> {
        let own = if failed {
            RunState::PartiallyApplied
        } else {
            RunState::Applied
        };
        if done.is_empty() {
            // Nothing restored: still write this run's settled entries and state.
            return self.writer.finish_rollback(done, own).await;
        }
        let done_seqs: std::collections::HashSet<u64> = done.iter().copied().collect();
        let open = run
            .entries
            .iter()
            .filter(|e| e.module != Rollback::NAME && e.rolled_back.is_none())
            .filter(|e| !done_seqs.contains(&e.seq))
            .count();
        self.writer.finish_rollback(done, own).await?;
        let state = if open == 0 {
            RunState::RolledBack
        } else {
            RunState::PartiallyRolledBack
        };
        self.store
            .set_state(self.runs, &run.summary.run_id, state)
            .await
    }
}
