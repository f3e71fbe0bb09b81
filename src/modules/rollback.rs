//! `rollback`: restores what a rollback record holds.
//!
//! Takes the entries of one run (default: the last), newest first, and puts each
//! field back to its old value — but only where the object still holds the value
//! the run wrote; anything else is a conflict, reported and left alone unless
//! `force`. Created objects are deleted (if unchanged). Rollback records its own
//! changes first (module `rollback`, a new run id) and marks the restored entries
//! as rolled back; entries are never deleted. Planning is [`plan_rollback`], pure.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::common::outcome;
use crate::ansible::{Module, ModuleContext, ModuleError, ModuleOutcome};
use crate::cluster::resources;
use crate::kube::apply::{Applier, ApplyOutcome};
use crate::kube::client::get;
use crate::kube::ConnectionParams;
use crate::options::{NamespaceParams, RecordParams};
use crate::plan::change::without_volatile;
use crate::plan::ObjectChange;
use crate::record::{RecordEntry, RolledBack};
use crate::record_store::{new_run_id, now_rfc3339, RecordStore};

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

/// What happened to one record entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryResult {
    /// The old value is (or, in check mode, would be) put back.
    Restored,
    /// The object already holds the old value.
    AlreadyRestored,
    /// The object holds neither the written nor the old value (changed since): left alone.
    Conflict,
}

/// One entry's outcome (values are not shown: they may be secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct EntryReport {
    pub seq: u64,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    /// JSON pointer of the field (`""`: the whole object, created by the run).
    pub field: String,
    pub result: EntryResult,
    pub reason: Option<String>,
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

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Sets (or with `null` removes) the value at a JSON pointer, creating objects on the way.
pub fn set_pointer(target: &mut Value, pointer: &str, value: Value) {
    if pointer.is_empty() {
        *target = value;
        return;
    }
    let tokens: Vec<String> = pointer
        .trim_start_matches('/')
        .split('/')
        .map(unescape)
        .collect();
    let mut cur = target;
    for (i, t) in tokens.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Some(obj) = cur.as_object_mut() else {
            return;
        };
        if i + 1 == tokens.len() {
            if value.is_null() {
                obj.remove(t);
            } else {
                obj.insert(t.clone(), value);
            }
            return;
        }
        cur = obj
            .entry(t.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

fn at(obj: &Value, pointer: &str) -> Value {
    if pointer.is_empty() {
        return without_volatile(obj);
    }
    obj.pointer(pointer).cloned().unwrap_or(Value::Null)
}

/// The plan for one object: the change (None when nothing to write) and per-entry results.
pub fn plan_rollback(
    current: Option<&Value>,
    entries: &[&RecordEntry],
    force: bool,
) -> (Option<ObjectChange>, Vec<EntryReport>) {
    let mut reports = Vec::new();
    let Some(first) = entries.first() else {
        return (None, reports);
    };
    let kind = resources::by_kind(&first.kind);
    let mut working = current.cloned();
    let report = |e: &RecordEntry, result, reason: Option<String>| EntryReport {
        seq: e.seq,
        kind: e.kind.clone(),
        namespace: e.namespace.clone(),
        name: e.name.clone(),
        field: e.field.clone(),
        result,
        reason,
    };
    for e in entries {
        let Some(obj) = working.as_mut() else {
            // The object is gone.
            let (result, reason) = if e.field.is_empty() || e.old.is_null() && e.field.is_empty() {
                (EntryResult::AlreadyRestored, None)
            } else {
                (
                    EntryResult::Conflict,
                    Some("the object no longer exists".to_string()),
                )
            };
            reports.push(report(e, result, reason));
            continue;
        };
        let now = at(obj, &e.field);
        let holds_new = if e.field.is_empty() {
            without_volatile(&e.new) == now
        } else {
            now == e.new
        };
        if e.field.is_empty() {
            // The run created this object: delete it if it is as the run made it.
            if holds_new || force {
                working = None;
                reports.push(report(e, EntryResult::Restored, None));
            } else {
                reports.push(report(
                    e,
                    EntryResult::Conflict,
                    Some("the object changed since the run created it".into()),
                ));
            }
            continue;
        }
        if now == e.old {
            reports.push(report(e, EntryResult::AlreadyRestored, None));
        } else if holds_new || force {
            set_pointer(obj, &e.field, e.old.clone());
            let reason = (!holds_new).then(|| "forced over a later change".to_string());
            reports.push(report(e, EntryResult::Restored, reason));
        } else {
            reports.push(report(
                e,
                EntryResult::Conflict,
                Some("the field changed since the run wrote it".into()),
            ));
        }
    }
    let (Some(kind), Some(current)) = (kind, current) else {
        return (None, reports);
    };
    let change = ObjectChange {
        kind,
        namespace: first.namespace.clone(),
        name: first.name.clone(),
        before: Some(current.clone()),
        after: working.unwrap_or(Value::Null),
        summary: String::new(),
    };
    let change = ObjectChange {
        summary: if change.is_delete() {
            "delete (the run created it)".into()
        } else {
            format!("restore {} field(s)", entries.len())
        },
        ..change
    };
    ((!change.is_noop()).then_some(change), reports)
}

/// The module.
pub struct Rollback;

type ObjectKey = (String, Option<String>, String);

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
        // A record of a run on files (stub_ignition `path`) needs no cluster: connect only
        // when the record is a Secret or holds cluster objects.
        let mut conn = match &params.record.record_path {
            Some(_) => None,
            None => Some(params.connection.connect().await?),
        };
        let store = match (&params.record.record_path, &conn) {
            (Some(p), _) => RecordStore::file(p.clone()),
            (None, Some(c)) => {
                RecordStore::secret(c.clone(), &params.ns.namespace, &params.record.record)
            }
            (None, None) => return Err(anyhow::anyhow!("no record to read").into()),
        };
        let record = store.load().await?;
        let rollback_run_id = new_run_id();
        let run_id = params
            .record
            .run_id
            .clone()
            .or_else(|| record.last_run_id().map(str::to_string));
        let mut out = Output {
            run_id: run_id.clone(),
            rollback_run_id: rollback_run_id.clone(),
            record: store.location.to_string(),
            entries: Vec::new(),
            conflicts: 0,
        };
        let Some(run) = run_id else {
            return Ok(outcome(
                ctx.meta.diff,
                &[],
                None,
                "object(s)",
                out,
                vec!["the rollback record is empty".into()],
            ));
        };
        if !record.entries.iter().any(|e| e.run_id == run) {
            return Err(anyhow::anyhow!(
                "run {run} is not in the rollback record {}",
                store.location
            )
            .into());
        }
        let mut entries: Vec<&RecordEntry> = record
            .entries
            .iter()
            .filter(|e| e.run_id == run && e.rolled_back.is_none() && e.module != Self::NAME)
            .filter(|e| {
                params.kinds.is_empty()
                    || params.kinds.iter().any(|k| k.eq_ignore_ascii_case(&e.kind))
            })
            .collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.seq));
        // Group per object, newest first inside each group, objects in the order of their
        // newest entry.
        let mut order: Vec<ObjectKey> = Vec::new();
        let mut groups: BTreeMap<ObjectKey, Vec<&RecordEntry>> = BTreeMap::new();
        for e in &entries {
            let key = (e.kind.clone(), e.namespace.clone(), e.name.clone());
            if !groups.contains_key(&key) {
                order.push(key.clone());
            }
            groups.entry(key).or_default().push(e);
        }
        let file_keys: Vec<ObjectKey> =
            order.iter().filter(|k| k.0 == FILE_KIND).cloned().collect();
        order.retain(|k| k.0 != FILE_KIND);
        if conn.is_none() && !order.is_empty() {
            conn = Some(params.connection.connect().await?);
        }
        let check_mode = ctx.meta.check_mode;
        let mut warnings = Vec::new();
        let mut files_changed = false;
        for (reports, changed) in restore_files(
            &file_keys,
            &groups,
            params.force,
            check_mode,
            &store,
            &rollback_run_id,
        )
        .await?
        {
            out.entries.extend(reports);
            files_changed |= changed;
        }
        let mut changes = Vec::new();
        if let Some(conn) = &conn {
            for key in &order {
                let Some(kind) = resources::by_kind(&key.0) else {
                    warnings.push(format!("unknown kind {} in the record; left alone", key.0));
                    continue;
                };
                let current = get(conn, kind, key.1.as_deref(), &key.2).await?;
                let (change, reports) = plan_rollback(current.as_ref(), &groups[key], params.force);
                out.entries.extend(reports);
                changes.extend(change);
            }
        }
        out.conflicts = out
            .entries
            .iter()
            .filter(|e| e.result == EntryResult::Conflict)
            .count();
        for e in out
            .entries
            .iter()
            .filter(|e| e.result == EntryResult::Conflict)
        {
            warnings.push(format!(
                "conflict: {} {}/{} field {}: {} — left alone (force: true to restore anyway)",
                e.kind,
                e.namespace.as_deref().unwrap_or(""),
                e.name,
                e.field,
                e.reason.as_deref().unwrap_or_default()
            ));
        }
        let (conn, false) = (conn, check_mode) else {
            let mut o = outcome(ctx.meta.diff, &changes, None, "object(s)", out, warnings);
            o.changed |= files_changed;
            return Ok(o);
        };
        let applied = match &conn {
            Some(conn) if !changes.is_empty() => {
                let applier = Applier {
                    conn,
                    store: &store,
                    module: Self::NAME,
                    run_id: &rollback_run_id,
                };
                let force = params.force;
                let replan = |fresh: &Value| -> Result<Option<ObjectChange>> {
                    let key = (
                        fresh
                            .get("kind")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        fresh
                            .pointer("/metadata/namespace")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                        fresh
                            .pointer("/metadata/name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    );
                    Ok(groups
                        .get(&key)
                        .and_then(|g| plan_rollback(Some(fresh), g, force).0))
                };
                applier.apply(changes.clone(), &replan).await
            }
            _ => ApplyOutcome::default(),
        };
        // Mark what is now restored; conflicts and a failed object's entries stay open.
        let failed_objects: Vec<String> = changes
            .iter()
            .filter(|c| {
                !applied
                    .applied
                    .iter()
                    .any(|a| a.name == c.name && a.kind == c.kind)
            })
            .map(|c| c.name.clone())
            .collect();
        mark_done(
            &store,
            &out,
            &failed_objects,
            &rollback_run_id,
            &mut warnings,
        )
        .await;
        let mut o = outcome(
            ctx.meta.diff,
            &changes,
            Some(&applied),
            "object(s)",
            out,
            warnings,
        );
        if files_changed {
            o.changed = true;
            if changes.is_empty() {
                o.msg = "restored the file(s) of the run".into();
            }
        }
        Ok(o)
    }
}

/// The record kind of local files (stub_ignition `path`).
pub const FILE_KIND: &str = "File";

/// Marks restored and already-restored entries as rolled back (never conflicts or
/// entries of objects that failed).
async fn mark_done(
    store: &RecordStore,
    out: &Output,
    failed_objects: &[String],
    rollback_run_id: &str,
    warnings: &mut Vec<String>,
) {
    let done: Vec<u64> = out
        .entries
        .iter()
        .filter(|e| e.result != EntryResult::Conflict && !failed_objects.contains(&e.name))
        .map(|e| e.seq)
        .collect();
    if done.is_empty() {
        return;
    }
    let mark = RolledBack {
        time: now_rfc3339(),
        run_id: rollback_run_id.to_string(),
    };
    let marked = store
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

/// Restores local files, each only if it still holds what the run wrote. Records first.
async fn restore_files(
    keys: &[ObjectKey],
    groups: &BTreeMap<ObjectKey, Vec<&RecordEntry>>,
    force: bool,
    check_mode: bool,
    store: &RecordStore,
    rollback_run_id: &str,
) -> Result<Vec<(Vec<EntryReport>, bool)>> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::new();
    for key in keys {
        let path = PathBuf::from(&key.2);
        let current = std::fs::read(&path)
            .map(|b| Value::String(b64.encode(b)))
            .unwrap_or(Value::Null);
        let mut reports = Vec::new();
        let mut state = current.clone();
        for e in &groups[key] {
            let (result, reason) = if state == e.old {
                (EntryResult::AlreadyRestored, None)
            } else if state == e.new || force {
                state = e.old.clone();
                (EntryResult::Restored, None)
            } else {
                (
                    EntryResult::Conflict,
                    Some("the file changed since the run wrote it".to_string()),
                )
            };
            reports.push(EntryReport {
                seq: e.seq,
                kind: e.kind.clone(),
                namespace: None,
                name: e.name.clone(),
                field: String::new(),
                result,
                reason,
            });
        }
        let changed = state != current;
        if changed && !check_mode {
            let entry = RecordEntry {
                run_id: rollback_run_id.to_string(),
                seq: 0,
                time: now_rfc3339(),
                module: Rollback::NAME.into(),
                api_version: String::new(),
                kind: FILE_KIND.into(),
                namespace: None,
                name: key.2.clone(),
                field: String::new(),
                old: current.clone(),
                new: state.clone(),
                secret: true,
                rolled_back: None,
            };
            store.update(&|r| r.append(vec![entry.clone()])).await?;
            match state.as_str() {
                Some(s) => {
                    let bytes = b64
                        .decode(s)
                        .context("the record's file content is not base64")?;
                    crate::record_store::write_private(&path, &bytes)?;
                }
                None => {
                    std::fs::remove_file(&path)
                        .with_context(|| format!("removing {}", path.display()))?;
                }
            }
        }
        out.push((reports, changed));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(seq: u64, field: &str, old: Value, new: Value) -> RecordEntry {
        RecordEntry {
            run_id: "r".into(),
            seq,
            time: String::new(),
            module: "autoscaling".into(),
            api_version: "autoscaling.openshift.io/v1beta1".into(),
            kind: "MachineAutoscaler".into(),
            namespace: Some("ns".into()),
            name: "a".into(),
            field: field.into(),
            old,
            new,
            secret: false,
            rolled_back: None,
        }
    }

    #[test]
    fn pause_then_resume_rolls_back_to_the_start() {
        let start = json!({"kind": "MachineAutoscaler", "metadata": {"name": "a", "namespace": "ns", "resourceVersion": "9"},
                           "spec": {"minReplicas": 0, "maxReplicas": 5}});
        // pause: min 0→1, max 5→1, annotation added; resume: back, annotation removed.
        let e1 = entry(1, "/spec/minReplicas", json!(0), json!(1));
        let e2 = entry(2, "/spec/maxReplicas", json!(5), json!(1));
        let e3 = entry(3, "/metadata/annotations", Value::Null, json!({"p": "x"}));
        let e4 = entry(4, "/spec/minReplicas", json!(1), json!(0));
        let e5 = entry(5, "/spec/maxReplicas", json!(1), json!(5));
        let e6 = entry(6, "/metadata/annotations", json!({"p": "x"}), Value::Null);
        let newest_first = [&e6, &e5, &e4, &e3, &e2, &e1];
        let (change, reports) = plan_rollback(Some(&start), &newest_first, false);
        assert!(change.is_none(), "{change:?}");
        assert!(
            reports.iter().all(|r| r.result != EntryResult::Conflict),
            "{reports:?}"
        );
        // After pause only: rollback unpins.
        let mut paused = start.clone();
        paused["spec"] = json!({"minReplicas": 1, "maxReplicas": 1});
        paused["metadata"]["annotations"] = json!({"p": "x"});
        let (change, _) = plan_rollback(Some(&paused), &[&e3, &e2, &e1], false);
        let change = change.unwrap();
        assert_eq!(
            change.after["spec"],
            json!({"minReplicas": 0, "maxReplicas": 5})
        );
        assert!(change.after["metadata"].get("annotations").is_none());
    }

    #[test]
    fn later_changes_are_conflicts_unless_forced() {
        let obj = json!({"kind": "MachineAutoscaler", "metadata": {"name": "a", "namespace": "ns"}, "spec": {"minReplicas": 7}});
        let e = entry(1, "/spec/minReplicas", json!(0), json!(1));
        let (change, reports) = plan_rollback(Some(&obj), &[&e], false);
        assert!(change.is_none());
        assert_eq!(reports[0].result, EntryResult::Conflict);
        let (change, reports) = plan_rollback(Some(&obj), &[&e], true);
        assert_eq!(change.unwrap().after["spec"]["minReplicas"], json!(0));
        assert_eq!(reports[0].result, EntryResult::Restored);
    }

    #[test]
    fn created_objects_are_deleted() {
        let created = json!({"kind": "Secret", "metadata": {"name": "a", "namespace": "ns"}, "data": {"k": "dg=="}});
        let mut e = entry(1, "", Value::Null, created.clone());
        e.kind = "Secret".into();
        let mut live = created.clone();
        live["metadata"]["resourceVersion"] = json!("3");
        let (change, _) = plan_rollback(Some(&live), &[&e], false);
        assert!(change.unwrap().is_delete());
    }
}
