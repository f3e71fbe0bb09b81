//! Applying planned changes safely.
//!
//! 1. Record first: every field about to change goes into the rollback record
//!    before the first write of the run.
//! 2. Each object is changed with a JSON merge patch carrying the
//!    `resourceVersion` that was read (or created with POST), so a concurrent
//!    change gives 409 — never a blind overwrite.
//! 3. On 409 the object is read again and re-planned with the module's own
//!    planner (the change may no longer be needed, or differ); new fields are
//!    recorded before the retry. Bounded.
//! 4. A 429 is retried (bounded, honouring Retry-After: see `client::retrying`); a
//!    500, a reset or a timeout on a write is not (it may have been applied).
//! 5. The first other failure stops the run: what was applied is reported, and
//!    the record holds every change that was written.
//!
//! Check mode never applies: it only sends each change as a dry run when asked
//! (`server_dry_run`, [`crate::kube::server_dry_run`]), through the same `write`.

use std::time::Duration;

use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams, Preconditions};
use serde_json::Value;

use std::collections::BTreeMap;

use kube::api::ListParams;

use super::client::{api, explain, get, list_latest, retrying};
use super::connection::Connection;
use crate::cluster::name_of;
use crate::kube::record_store::{now_rfc3339, RunWriter};
use crate::plan::change::{AfterWrite, StoredFields};
use crate::plan::ObjectChange;
use crate::progress::Progress;
use crate::record::RunState;

const MAX_ATTEMPTS: u32 = 5;

/// Re-plans one object from a fresh read: `Ok(None)` when it needs no change any more.
pub type Replan<'a> = dyn Fn(&Value) -> anyhow::Result<Option<ObjectChange>> + Sync + 'a;

/// What `apply` did.
#[derive(Debug, Default)]
pub struct ApplyOutcome {
    /// The changes written, as finally applied (after re-planning).
    pub applied: Vec<ObjectChange>,
    /// Objects that needed no change after a conflict re-read.
    pub settled: Vec<String>,
    /// How many 409 conflicts were retried.
    pub conflicts: u32,
    /// Why the run stopped early (None: everything was applied).
    pub error: Option<String>,
    /// What went wrong after the writes (the record could not be settled).
    pub warnings: Vec<String>,
    /// What the server stored of each written change's fields (as `applied`).
    pub stored: Vec<StoredFields>,
    /// Objects another controller wrote back to their old values right after this run
    /// changed them (found by reading them again after the writes).
    pub reverted: Vec<String>,
}

/// Applies the changes of one module run.
pub struct Applier<'a> {
    pub conn: &'a Connection,
    /// The run's record: every change is appended before it is made.
    pub writer: &'a RunWriter,
    pub module: &'static str,
    /// Read the written objects again this long after the writes, to find reverts
    /// (None: do not).
    pub revert_check: Option<Duration>,
}

fn same_fields(a: &ObjectChange, b: &ObjectChange) -> bool {
    a.fields() == b.fields()
}

impl Applier<'_> {
    async fn record(&self, changes: &[&ObjectChange]) -> anyhow::Result<()> {
        let time = now_rfc3339();
        let run_id = self.writer.run_id();
        let entries = changes
            .iter()
            .flat_map(|c| c.record_entries(run_id, self.module, &time))
            .collect();
        self.writer.append(entries).await
    }

    /// Writes one change; returns the object as the server stored it (None: deleted).
    /// With `dry_run` the server runs admission and validation and stores nothing
    /// (`dryRun=All`); the answer is what it would have stored.
    pub(crate) async fn write(
        &self,
        change: &ObjectChange,
        dry_run: bool,
    ) -> Result<Option<Value>, kube::Error> {
        let api = api(self.conn, change.kind, change.namespace.as_deref());
        if change.is_delete() {
            // Deletes only the object as read: a changed object gives 409.
            let dp = DeleteParams {
                preconditions: Some(Preconditions {
                    resource_version: change
                        .before
                        .as_ref()
                        .and_then(|b| b.pointer("/metadata/resourceVersion"))
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    uid: None,
                }),
                dry_run,
                ..DeleteParams::default()
            };
            return match retrying(true, || api.delete(&change.name, &dp)).await {
                Ok(_) => Ok(None),
                Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
                Err(e) => Err(e),
            };
        }
        match change.patch() {
            Some(patch) => {
                let pp = PatchParams {
                    dry_run,
                    ..PatchParams::default()
                };
                let patch = Patch::Merge(&patch);
                let stored = retrying(true, || api.patch(&change.name, &pp, &patch)).await?;
                stored_value(stored)
            }
            None if change.before.is_none() => {
                let mut obj = change.after.clone();
                if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.remove("resourceVersion");
                }
                let dynamic: DynamicObject =
                    serde_json::from_value(obj).map_err(kube::Error::SerdeError)?;
                let pp = PostParams {
                    dry_run,
                    ..PostParams::default()
                };
                let stored = retrying(true, || api.create(&pp, &dynamic)).await?;
                stored_value(stored)
            }
            None => Ok(Some(change.after.clone())),
        }
    }

    /// Records, then applies, `changes` in order; then settles the record: each written
    /// field's recorded `new` becomes what the server stored, and the run's state is set.
    pub async fn apply(&self, changes: Vec<ObjectChange>, replan: &Replan<'_>) -> ApplyOutcome {
        let mut out = self.apply_recorded(changes, replan).await;
        let state = if out.error.is_some() {
            RunState::PartiallyApplied
        } else {
            RunState::Applied
        };
        if let Err(e) = self.writer.settle(&out.stored, state).await {
            out.warnings.push(format!(
                "the changes are written and recorded, but the record could not be settled with what the server stored (rollback compares null as absent, so it still restores them): {e:#}"
            ));
        }
        if let (Some(delay), false) = (self.revert_check, out.applied.is_empty()) {
            self.check_reverts(&mut out, delay).await;
        }
        out
    }

    /// Reads the written objects again after `delay` — one LIST per kind and namespace for
    /// listable kinds, a GET for the others — and sorts each write into kept, reverted by
    /// another controller (`out.reverted`) or changed again (a warning). A read that fails
    /// is a warning: the writes stand.
    async fn check_reverts(&self, out: &mut ApplyOutcome, delay: Duration) {
        if !delay.is_zero() {
            let _wait = Progress::wait(format!(
                "{}: reading the written objects again in {} s (did another controller revert them?)",
                self.module,
                delay.as_secs()
            ));
            tokio::time::sleep(delay).await;
        }
        let mut listed: BTreeMap<(&str, Option<String>), Vec<Value>> = BTreeMap::new();
        for c in out.applied.iter().filter(|c| c.kind.read_by_list()) {
            let key = (c.kind.kind, c.namespace.clone());
            if listed.contains_key(&key) {
                continue;
            }
            let lp = ListParams::default();
            // A quorum read: a stale one would show the old values and report a revert.
            match list_latest(self.conn, c.kind, c.namespace.as_deref(), &lp).await {
                Ok(items) => {
                    listed.insert(key, items.unwrap_or_default());
                }
                Err(e) => {
                    out.warnings.push(format!(
                        "could not read the {} again to check that no other controller reverted them: {e:#}",
                        c.kind.resource_name()
                    ));
                    return;
                }
            }
        }
        for (change, stored) in out.applied.iter().zip(&out.stored) {
            if change.is_delete() || change.before.is_none() {
                continue;
            }
            let fresh = if change.kind.read_by_list() {
                listed
                    .get(&(change.kind.kind, change.namespace.clone()))
                    .and_then(|items| items.iter().find(|o| name_of(o) == change.name))
                    .cloned()
            } else {
                match get(
                    self.conn,
                    change.kind,
                    change.namespace.as_deref(),
                    &change.name,
                )
                .await
                {
                    Ok(o) => o,
                    Err(e) => {
                        out.warnings.push(format!(
                            "could not read {} again to check that no other controller reverted it: {e:#}",
                            change.describe()
                        ));
                        continue;
                    }
                }
            };
            match stored.after(change, fresh.as_ref()) {
                AfterWrite::Kept => {}
                AfterWrite::Reverted => out.reverted.push(change.describe()),
                AfterWrite::ChangedAgain => out.warnings.push(format!(
                    "{} was changed again by another writer right after this run changed it",
                    change.describe()
                )),
            }
        }
    }

    async fn apply_recorded(
        &self,
        changes: Vec<ObjectChange>,
        replan: &Replan<'_>,
    ) -> ApplyOutcome {
        let mut out = ApplyOutcome::default();
        let changes: Vec<ObjectChange> = changes.into_iter().filter(|c| !c.is_noop()).collect();
        if changes.is_empty() {
            return out;
        }
        if let Err(e) = self.record(&changes.iter().collect::<Vec<_>>()).await {
            out.error = Some(format!(
                "nothing was changed: the rollback record could not be written first: {e:#}"
            ));
            return out;
        }
        let progress = Progress::count(changes.len(), format!("{}: writing", self.module));
        for planned in changes {
            progress.inc();
            let mut change = planned;
            let mut attempt = 0;
            loop {
                attempt += 1;
                match self.write(&change, false).await {
                    Ok(stored) => {
                        out.stored.push(StoredFields::of(&change, stored.as_ref()));
                        out.applied.push(change);
                        break;
                    }
                    Err(kube::Error::Api(s)) if s.code == 409 && attempt < MAX_ATTEMPTS => {
                        out.conflicts += 1;
                        tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
                        let fresh = match get(
                            self.conn,
                            change.kind,
                            change.namespace.as_deref(),
                            &change.name,
                        )
                        .await
                        {
                            Ok(Some(f)) => f,
                            Ok(None) if change.before.is_none() => {
                                continue;
                            }
                            Ok(None) => {
                                out.error = Some(format!(
                                    "{} was deleted while this run changed it",
                                    change.describe()
                                ));
                                return out;
                            }
                            Err(e) => {
                                out.error = Some(format!(
                                    "re-reading {} after a conflict: {e:#}",
                                    change.describe()
                                ));
                                return out;
                            }
                        };
                        match replan(&fresh) {
                            Ok(None) => {
                                out.settled.push(change.describe());
                                break;
                            }
                            Ok(Some(next)) => {
                                if !same_fields(&next, &change) {
                                    if let Err(e) = self.record(&[&next]).await {
                                        out.error = Some(format!(
                                            "stopped before changing {}: the rollback record could not be written: {e:#}",
                                            next.describe()
                                        ));
                                        return out;
                                    }
                                }
                                change = next;
                            }
                            Err(e) => {
                                out.error = Some(format!(
                                    "re-planning {} after a conflict: {e:#}",
                                    change.describe()
                                ));
                                return out;
                            }
                        }
                    }
                    Err(e) => {
                        let verb = if change.before.is_some() {
                            "patch"
                        } else {
                            "create"
                        };
                        out.error = Some(format!(
                            "{}: {}",
                            change.describe(),
                            explain(
                                &e,
                                self.conn,
                                verb,
                                change.kind,
                                change.namespace.as_deref()
                            )
                        ));
                        return out;
                    }
                }
            }
        }
        out
    }
}

/// The object as the server stored it.
fn stored_value(stored: DynamicObject) -> Result<Option<Value>, kube::Error> {
    serde_json::to_value(stored)
        .map(Some)
        .map_err(kube::Error::SerdeError)
}
