//! The one executor of every mutating step (Terraform's plan → apply; kubernetes.core's
//! runner): a module parses its options, [`Step::open`]s the cluster (connect, observe,
//! the safety guards), plans with a pure core planner, and hands the [`Plan`] to
//! [`Step::execute`], which does check mode, the record write-ahead, apply with 409
//! re-plan and the outcome — once, the same way for every module.
//!
//! Guards, in order: what the safety checks need must be readable (else nothing is
//! changed), a managed cluster is refused unless `allow_managed`, and every MachineSet
//! named in the selection must exist (a warning when not). A module whose reads or guards
//! differ (`autoscaling`, `bootimage_canary`) opens with [`Step::open_with`] and its own
//! guards; one that applies outside [`Step::execute`] (the canary) uses [`Step::applier`].

pub mod guards;
mod outcome;

use crate::ansible::{AnsibleMeta, ModuleOutcome};
use crate::cluster::{Reads, Selection, Snapshot, SnapshotPart};
use crate::kube::apply::{Applier, ApplyOutcome, Replan};
use crate::kube::connection::Connection;
use crate::kube::observe;
use crate::kube::record_store::{RecordStore, RunWriter};
use crate::kube::run_lock::RunLock;
use crate::kube::server_dry_run::ServerDryRun;
use crate::options::ConnectionParams;
use crate::options::{GateParams, WriteParams};
use crate::plan::step::Plan;

pub use guards::{
    managed_guard, missing_machinesets, progress_guard, require_readable, standard_guards,
};
pub use outcome::{judge_dry_run, outcome};

/// One mutating step of one module run: where it writes, where it records, and the
/// warnings its guards raised.
pub struct Step {
    /// The module (written into every record entry).
    pub module: &'static str,
    /// What the step changes, for `msg` (`MachineSet(s)`, `object(s)`, …).
    pub what: &'static str,
    pub conn: Connection,
    pub store: RecordStore,
    /// The run id the record entries carry.
    pub run_id: String,
    /// The run's record (every change is appended before it is made).
    pub writer: RunWriter,
    /// Warnings of the guards (shown before the plan's own).
    pub warnings: Vec<String>,
    /// The run lock, held from before the observation to the end (None in check mode).
    pub lock: Option<RunLock>,
    /// How long after the writes the changed objects are read again (`revert_check_seconds`).
    pub revert_check: std::time::Duration,
    /// Whether check mode sends the planned changes as dry runs (`server_dry_run`).
    pub server_dry_run: bool,
    /// What the server said of them, once sent.
    pub dry_run: Option<ServerDryRun>,
}

/// The return values every changing module ends with: which run, and where its record is.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct RunRecord {
    /// The run id the record entries carry (pass it to `rollback`).
    pub run_id: String,
    /// Where the run's rollback record is (`Secret ns/name` or `file path`).
    pub record: String,
    /// Check mode with `server_dry_run`: what the API server said of each planned change
    /// sent as a dry run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_dry_run: Option<ServerDryRun>,
}

/// Which step opens: the module, what it changes (for `msg`), its connection and write
/// options, and the Ansible flags (check mode takes no run lock).
pub struct Target<'a> {
    pub module: &'static str,
    pub what: &'static str,
    pub connection: &'a ConnectionParams,
    pub write: &'a WriteParams,
    pub meta: &'a AnsibleMeta,
}

/// What a step reads before it plans: the selection, the optional reads, and the
/// snapshot parts its safety checks cannot do without.
pub struct Observation<'a> {
    pub selection: &'a Selection,
    pub reads: Reads,
    pub needed: &'a [SnapshotPart],
    /// The upgrade gate's options, for steps that change boot images (None: not gated).
    pub gate: Option<&'a GateParams>,
}

impl Step {
    /// Connects, observes what `observation` says, and runs the guards
    /// ([`standard_guards`]): fails (nothing changed) when a needed part is unreadable or
    /// the cluster is managed (unless `allow_managed`); warns about unreadable parts and
    /// named MachineSets not found.
    pub async fn open(
        module: &'static str,
        what: &'static str,
        connection: &ConnectionParams,
        write: &WriteParams,
        observation: Observation<'_>,
        meta: &AnsibleMeta,
    ) -> anyhow::Result<(Step, Snapshot)> {
        let guards = |s: &Snapshot| standard_guards(s, &observation, write);
        let (sel, reads) = (observation.selection, observation.reads);
        let target = Target {
            module,
            what,
            connection,
            write,
            meta,
        };
        Step::open_with(target, sel, reads, guards).await
    }

    /// Like [`Step::open`], for a module whose guards differ from its: connects,
    /// observes `reads` of `selection`, and runs `guards` on the snapshot (an error fails
    /// the run, nothing changed; the warnings are the step's). The run lock is taken (outside
    /// check mode) before the observation; the record is in `record_namespace` (a v1 record
    /// is also looked for in the selection's namespace).
    pub async fn open_with(
        target: Target<'_>,
        selection: &Selection,
        reads: Reads,
        guards: impl FnOnce(&Snapshot) -> anyhow::Result<Vec<String>>,
    ) -> anyhow::Result<(Step, Snapshot)> {
        let Target {
            module,
            what,
            connection,
            write,
            meta,
        } = target;
        let conn = connection.connect().await?;
        let store = write.record.store(Some(&conn), &selection.namespace)?;
        let run_id = write.record.run_id();
        let lock = (write.record)
            .lock(&store, &run_id, module, !meta.check_mode)
            .await?;
        let opened = observe::from_cluster(&conn, selection, reads)
            .await
            .and_then(|snapshot| Ok((guards(&snapshot)?, snapshot)));
        let (warnings, snapshot) = match opened {
            Ok(o) => o,
            Err(e) => {
                if let Some(lock) = lock {
                    lock.release().await;
                }
                return Err(e);
            }
        };
        let step = Step {
            module,
            what,
            conn,
            writer: store.writer(&run_id),
            store,
            run_id,
            warnings,
            lock,
            revert_check: std::time::Duration::from_secs(write.revert_check_seconds),
            server_dry_run: meta.check_mode && write.dry_run.server_dry_run,
            dry_run: None,
        };
        Ok((step, snapshot))
    }

    /// Releases the run lock (at the end of the step; the Lease of a step dropped without
    /// release is released by the module runner, [`crate::kube::run_lock::release_abandoned`],
    /// or expires).
    pub async fn release(&mut self) {
        if let Some(lock) = self.lock.take() {
            lock.release().await;
        }
    }

    /// The applier of this step's changes (recording each first), for a module that
    /// applies outside [`Step::execute`].
    pub fn applier(&self) -> Applier<'_> {
        Applier {
            conn: &self.conn,
            writer: &self.writer,
            module: self.module,
            revert_check: Some(self.revert_check),
        }
    }

    /// In check mode with `server_dry_run`: sends `changes` to the API server as dry runs
    /// and keeps what it said (for [`Step::run_record`] and the outcome). Nothing is sent
    /// when nothing is planned.
    pub async fn check_with_server(&mut self, changes: &[crate::plan::ObjectChange]) {
        if self.server_dry_run && !changes.is_empty() {
            self.dry_run = Some(crate::kube::server_dry_run::check(&self.applier(), changes).await);
        }
    }

    /// Marks a check-mode `outcome` with what the server said of the planned changes, once
    /// [`Step::check_with_server`] sent them ([`judge_dry_run`]); nothing when none were sent.
    pub fn judge<O>(&self, outcome: &mut ModuleOutcome<O>) {
        if let Some(dry_run) = &self.dry_run {
            judge_dry_run(dry_run, outcome);
        }
    }

    /// Where the run's record is, for the module's result (`Secret ns/name` or `file path`).
    pub fn record(&self) -> String {
        self.writer.location()
    }

    /// The run id and the record's place, for the module's result.
    pub fn run_record(&self) -> RunRecord {
        RunRecord {
            run_id: self.run_id.clone(),
            record: self.record(),
            server_dry_run: self.dry_run.clone(),
        }
    }

    /// Carries out `plan`: in check mode only reports it (no write request, the same
    /// `changed` and `diff` a real run would give); else records every change first,
    /// applies them in order (a 409 re-reads the object and re-plans it with `replan`),
    /// and reports what was written. `output` builds the module's return values from the
    /// plan's reports and, after a real run, what was applied. Refusals fail the task.
    pub async fn execute<R, O>(
        mut self,
        plan: Plan<R>,
        meta: &AnsibleMeta,
        replan: &Replan<'_>,
        output: impl FnOnce(R, Option<&ApplyOutcome>, &Step) -> O,
    ) -> ModuleOutcome<O> {
        let Plan {
            changes,
            reports,
            warnings,
            refusals,
        } = plan;
        let mut all_warnings = std::mem::take(&mut self.warnings);
        all_warnings.extend(warnings);
        let mut out = if meta.check_mode {
            self.check_with_server(&changes).await;
            let values = output(reports, None, &self);
            let mut out = outcome(meta.diff, &changes, None, self.what, values, all_warnings);
            self.judge(&mut out);
            out
        } else {
            // The changes are moved, not copied: the outcome of a real run is made from
            // what was applied (at 1,000 changes a copy costs megabytes).
            let applied = self.applier().apply(changes, replan).await;
            let values = output(reports, Some(&applied), &self);
            outcome(
                meta.diff,
                &[],
                Some(&applied),
                self.what,
                values,
                all_warnings,
            )
        };
        if !refusals.is_empty() {
            out.failed = true;
            out.msg = format!("{}; {}", refusals.join("; "), out.msg);
        }
        if self.lock.as_ref().is_some_and(RunLock::lost) {
            out.warnings.push(
                "the run lock was lost while this step ran (its Lease was taken or could not be renewed): another run may have changed the same objects; check the result with a check-mode run".into(),
            );
        }
        self.release().await;
        out
    }
}
