//! Rolling a run back (`rollback`): the pure planner. Picks the record entries of one
//! run and groups them per object (newest first), plans each object's restore — a
//! field goes back to its old value only where the object still holds the value the
//! run wrote, anything else is a conflict unless forced; an object the run created is
//! deleted if unchanged — and the same for local files (stub_ignition `path`). Also
//! re-plans after a 409, says which entries are done, and builds a file's record entry.
//!
//! The shell reads the record, the objects and the files, records and writes.

use std::collections::{BTreeMap, HashSet};

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use super::change::without_volatile;
pub use super::mcs_certificate::KEY_SECRET_KIND;
use super::step::Plan;
use super::ObjectChange;
use crate::cluster::resources::{self, Kind};
use crate::record::{RecordEntry, Run};

/// The record kind of local files (stub_ignition `path`).
pub const FILE_KIND: &str = "File";

/// The record kind of the vSphere templates `vsphere_template` imported (namespace: the
/// vCenter; name: the template's inventory path).
pub const TEMPLATE_KIND: &str = "VSphereTemplate";

/// The module whose own record entries are never rolled back.
const ROLLBACK_MODULE: &str = "rollback";

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
    /// A template the run imported that a MachineSet still names: kept (the entry stays
    /// open; a later rollback deletes it once nothing names it).
    Kept,
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

impl EntryReport {
    /// The report of `e`.
    pub fn of(e: &RecordEntry, result: EntryResult, reason: Option<String>) -> EntryReport {
        EntryReport {
            seq: e.seq,
            kind: e.kind.clone(),
            namespace: e.namespace.clone(),
            name: e.name.clone(),
            field: e.field.clone(),
            result,
            reason,
        }
    }
}

/// Why a rollback cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RollbackError {
    /// The run asked for has no entry in the record.
    #[error("run {run} is not in the rollback record {record}")]
    UnknownRun { run: String, record: String },
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

/// `v` with every object member whose value is `null` removed, at any depth: a server
/// stores `"labels": null` as no `labels` at all, so the two are the same value.
pub fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// Whether two values are the same as a server stores them: `null` ≡ absent, at any
/// depth (compare what the server stored, not what was sent).
pub fn same_value(a: &Value, b: &Value) -> bool {
    a == b || without_nulls(a) == without_nulls(b)
}

fn at(obj: &Value, pointer: &str) -> Value {
    if pointer.is_empty() {
        return without_volatile(obj);
    }
    obj.pointer(pointer).cloned().unwrap_or(Value::Null)
}

/// Restores one entry on `working` (the object as restored so far; None: gone or
/// deleted), and says how it went.
fn restore_entry(
    working: &mut Option<Value>,
    e: &RecordEntry,
    force: bool,
) -> (EntryResult, Option<String>) {
    let Some(obj) = working.as_mut() else {
        // The object is gone: as wanted for an object the run created.
        return if e.field.is_empty() {
            (EntryResult::AlreadyRestored, None)
        } else {
            (
                EntryResult::Conflict,
                Some("the object no longer exists".to_string()),
            )
        };
    };
    let now = at(obj, &e.field);
    if e.field.is_empty() {
        // The run created this object: delete it if it is as the run made it.
        return if same_value(&without_volatile(&e.new), &now) || force {
            *working = None;
            (EntryResult::Restored, None)
        } else {
            (
                EntryResult::Conflict,
                Some("the object changed since the run created it".into()),
            )
        };
    }
    let holds_new = same_value(&now, &e.new);
    if same_value(&now, &e.old) {
        (EntryResult::AlreadyRestored, None)
    } else if holds_new || force {
        set_pointer(obj, &e.field, e.old.clone());
        let reason = (!holds_new).then(|| "forced over a later change".to_string());
        (EntryResult::Restored, reason)
    } else {
        (
            EntryResult::Conflict,
            Some("the field changed since the run wrote it".into()),
        )
    }
}

/// The plan for one object: the change (None when nothing to write) and per-entry results.
pub fn plan_rollback(
    current: Option<&Value>,
    entries: &[&RecordEntry],
    force: bool,
) -> (Option<ObjectChange>, Vec<EntryReport>) {
    let (change, reports) = restore_object(current.cloned(), entries, force);
    (change.filter(|c| !c.is_noop()), reports)
}

/// The restore of one object read as `current` (taken: it becomes the change's
/// `before`): the change, which may change nothing, and per-entry results.
fn restore_object(
    current: Option<Value>,
    entries: &[&RecordEntry],
    force: bool,
) -> (Option<ObjectChange>, Vec<EntryReport>) {
    let Some(first) = entries.first() else {
        return (None, Vec::new());
    };
    let mut working = current.clone();
    let reports = entries
        .iter()
        .map(|e| {
            let (result, reason) = restore_entry(&mut working, e, force);
            EntryReport::of(e, result, reason)
        })
        .collect();
    let (Some(kind), Some(current)) = (resources::by_kind(&first.kind), current) else {
        return (None, reports);
    };
    let mut change = ObjectChange {
        kind,
        namespace: first.namespace.clone(),
        name: first.name.clone(),
        before: Some(current),
        after: working.unwrap_or(Value::Null),
        summary: String::new(),
    };
    change.summary = if change.is_delete() {
        "delete (the run created it)".into()
    } else {
        format!("restore {} field(s)", entries.len())
    };
    (Some(change), reports)
}

/// The restore of one local file: its content after the restore (base64; null: no file)
/// and per-entry results. `current` is its content now, the same way.
pub fn plan_file(
    current: &Value,
    entries: &[&RecordEntry],
    force: bool,
) -> (Value, Vec<EntryReport>) {
    let mut state = current.clone();
    let mut reports = Vec::new();
    for e in entries {
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
            namespace: None,
            field: String::new(),
            ..EntryReport::of(e, result, reason)
        });
    }
    (state, reports)
}

/// The record entry of a local file written by `module` (content base64; null: no file).
pub fn file_entry(
    run_id: &str,
    time: &str,
    module: &str,
    path: &str,
    old: Value,
    new: Value,
) -> RecordEntry {
    RecordEntry {
        run_id: run_id.to_string(),
        seq: 0,
        time: time.to_string(),
        module: module.to_string(),
        api_version: String::new(),
        kind: FILE_KIND.into(),
        namespace: None,
        name: path.to_string(),
        field: String::new(),
        old,
        new,
        secret: true,
        rolled_back: None,
    }
}

/// The record entry of a vSphere template `module` is about to import (written before the
/// import starts: a run stopped half-way leaves an entry `rollback` deletes it by).
pub fn template_entry(
    run_id: &str,
    time: &str,
    module: &str,
    server: &str,
    path: &str,
    build: &str,
) -> RecordEntry {
    RecordEntry {
        run_id: run_id.to_string(),
        seq: 0,
        time: time.to_string(),
        module: module.to_string(),
        api_version: "vim25".into(),
        kind: TEMPLATE_KIND.into(),
        namespace: Some(server.to_string()),
        name: path.to_string(),
        field: String::new(),
        old: Value::Null,
        new: serde_json::json!({ "build": build }),
        secret: false,
        rolled_back: None,
    }
}

/// What `rollback` does with a Secret holding a private key that a run wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySecretRestore {
    /// Nothing (already restored, or a conflict: see the reports).
    Nothing,
    /// The run created it: delete it.
    Delete,
    /// Put back the content of backup Secret `backup` (then delete the backup).
    FromBackup { backup: String },
    /// It holds the old content already (the run stopped before replacing it): only the
    /// run's backup `backup` is left to delete.
    DropBackup { backup: String },
}

/// Decides about one Secret with a key (`entries` newest first, as [`run_entries`] groups
/// them): it goes back to what the oldest entry found, but only while it holds what one of
/// the entries wrote (or is gone) and the backup holds exactly the old content — unless
/// `force`. `current` and `backup` are as read now.
pub fn plan_key_secret(
    entries: &[&RecordEntry],
    current: Option<&Value>,
    backup: Option<&Value>,
    force: bool,
) -> (KeySecretRestore, Vec<EntryReport>) {
    let digest = |v: &Value| super::mcs_certificate::secret_content_digest(v);
    let sha = |v: &Value| v.get("sha256").and_then(Value::as_str).map(str::to_string);
    let Some(oldest) = entries.last() else {
        return (KeySecretRestore::Nothing, Vec::new());
    };
    let now = current.map(digest);
    let written = now.as_ref().is_some_and(|d| {
        entries
            .iter()
            .any(|e| sha(&e.new).as_deref() == Some(d.as_str()))
    });
    let (action, result, reason) = if oldest.old.is_null() {
        match current {
            None => (
                KeySecretRestore::Nothing,
                EntryResult::AlreadyRestored,
                None,
            ),
            Some(_) if written || force => (KeySecretRestore::Delete, EntryResult::Restored, None),
            Some(_) => (
                KeySecretRestore::Nothing,
                EntryResult::Conflict,
                Some("the Secret changed since the run created it".to_string()),
            ),
        }
    } else {
        let old = sha(&oldest.old);
        let backup_name = oldest.old.get("backup").and_then(Value::as_str);
        let runs_backup = backup.filter(|b| {
            crate::cluster::annotation_of(b, super::mcs_certificate::RUN_ANNOTATION)
                == Some(oldest.run_id.as_str())
        });
        if now.is_some() && now == old {
            (
                match (backup_name, runs_backup) {
                    (Some(name), Some(_)) => KeySecretRestore::DropBackup {
                        backup: name.to_string(),
                    },
                    _ => KeySecretRestore::Nothing,
                },
                EntryResult::AlreadyRestored,
                None,
            )
        } else if written || current.is_none() || force {
            match (backup_name, backup) {
                (Some(name), Some(b)) if Some(digest(b)) == old => (
                    KeySecretRestore::FromBackup {
                        backup: name.to_string(),
                    },
                    EntryResult::Restored,
                    None,
                ),
                (name, _) => (
                    KeySecretRestore::Nothing,
                    EntryResult::Conflict,
                    Some(format!(
                        "its backup Secret {} is missing or does not hold the old content",
                        name.unwrap_or("(none recorded)")
                    )),
                ),
            }
        } else {
            (
                KeySecretRestore::Nothing,
                EntryResult::Conflict,
                Some("the Secret changed since the run wrote it".to_string()),
            )
        }
    };
    let reports = entries
        .iter()
        .map(|e| EntryReport::of(e, result, reason.clone()))
        .collect();
    (action, reports)
}

/// What `rollback` does with a template a run imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TemplateRemoval {
    /// No MachineSet names it once the run is rolled back: deleted.
    Delete,
    /// A MachineSet still names it: kept.
    KeepReferenced,
    /// Already gone.
    Gone,
    /// What is at the path now is not the template the run imported (another build, or not
    /// marked by this tool): left alone.
    KeepNotOurs,
}

/// Whether a MachineSet's `template` (a name or an inventory path) names `path`.
pub fn names_template(template: &str, path: &str) -> bool {
    template == path || path.rsplit('/').next() == Some(template)
}

/// Decides about one imported template: `build` is what the run recorded, `found` what
/// vCenter holds at the path now (the build of this tool's mark, if any, and whether it is
/// a template; None: nothing there), `templates_after` every MachineSet's template once
/// the rollback is done. A VM without the mark that is no template is the run's own
/// import stopped half-way (the entry was written before the import, when nothing was
/// there): deleted too. Pure.
pub fn template_removal(
    path: &str,
    build: Option<&str>,
    found: Option<(Option<&str>, bool)>,
    templates_after: &[String],
) -> (TemplateRemoval, Option<String>) {
    let users: Vec<&String> = templates_after
        .iter()
        .filter(|t| names_template(t, path))
        .collect();
    match found {
        None => (TemplateRemoval::Gone, None),
        Some((Some(f), _)) if Some(f) != build => (
            TemplateRemoval::KeepNotOurs,
            Some(format!(
                "holds build {f} now, not the run's {}: left alone",
                build.unwrap_or("?")
            )),
        ),
        Some((None, true)) => (
            TemplateRemoval::KeepNotOurs,
            Some("a template without this tool's build mark: left alone".into()),
        ),
        Some(_) if !users.is_empty() => (
            TemplateRemoval::KeepReferenced,
            Some(format!(
                "still named by {} MachineSet(s) (as {}): kept",
                users.len(),
                users[0]
            )),
        ),
        Some(_) => (TemplateRemoval::Delete, None),
    }
}

/// An object of the record: (kind, namespace, name).
pub type ObjectKey = (String, Option<String>, String);

/// One object's entries to restore, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectEntries<'r> {
    pub key: ObjectKey,
    pub entries: Vec<&'r RecordEntry>,
}

/// The entries one rollback restores, per object; objects in the order of their newest
/// entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunEntries<'r> {
    /// Cluster objects.
    pub objects: Vec<ObjectEntries<'r>>,
    /// Local files (stub_ignition `path`).
    pub files: Vec<ObjectEntries<'r>>,
    /// vSphere templates a run imported.
    pub templates: Vec<ObjectEntries<'r>>,
    /// Secrets holding a private key (`mcs_certificate`): restored from their backups.
    pub key_secrets: Vec<ObjectEntries<'r>>,
}

/// The entries of `run` not rolled back yet (only of `kinds` when given; never those a
/// rollback wrote), grouped per object.
pub fn run_entries<'r>(run: &'r Run, kinds: &[String]) -> RunEntries<'r> {
    let mut entries: Vec<&RecordEntry> = run
        .entries
        .iter()
        .filter(|e| e.rolled_back.is_none() && e.module != ROLLBACK_MODULE)
        .filter(|e| kinds.is_empty() || kinds.iter().any(|k| k.eq_ignore_ascii_case(&e.kind)))
        .collect();
    entries.sort_by_key(|e| std::cmp::Reverse(e.seq));
    let mut groups: Vec<ObjectEntries> = Vec::new();
    let mut index: BTreeMap<ObjectKey, usize> = BTreeMap::new();
    for e in entries {
        let key = (e.kind.clone(), e.namespace.clone(), e.name.clone());
        let i = *index.entry(key.clone()).or_insert_with(|| {
            groups.push(ObjectEntries {
                key,
                entries: Vec::new(),
            });
            groups.len() - 1
        });
        if let Some(g) = groups.get_mut(i) {
            g.entries.push(e);
        }
    }
    let (files, rest): (Vec<_>, Vec<_>) = groups.into_iter().partition(|g| g.key.0 == FILE_KIND);
    let (templates, rest): (Vec<_>, Vec<_>) =
        rest.into_iter().partition(|g| g.key.0 == TEMPLATE_KIND);
    let (key_secrets, objects) = rest.into_iter().partition(|g| g.key.0 == KEY_SECRET_KIND);
    RunEntries {
        objects,
        files,
        templates,
        key_secrets,
    }
}

impl RunEntries<'_> {
    /// Plans the restore of every cluster object from `current` (each object as read
    /// now; None or absent: gone). A kind this tool does not know is left alone, with a
    /// warning. Each object is dropped once planned, and each change kept compact (only
    /// the subtrees that differ, at exact size: the same patch, record fields and diff),
    /// so a rollback of 1,000 MachineSets never holds them twice.
    pub fn plan(
        &self,
        mut current: BTreeMap<ObjectKey, Option<Value>>,
        force: bool,
    ) -> Plan<Vec<EntryReport>> {
        let mut plan = Plan::new(Vec::new(), Vec::new());
        for o in &self.objects {
            if resources::by_kind(&o.key.0).is_none() {
                plan.warnings.push(format!(
                    "unknown kind {} in the record; left alone",
                    o.key.0
                ));
                continue;
            }
            let now = current.remove(&o.key).flatten();
            let (change, mut reports) = restore_object(now, &o.entries, force);
            plan.reports.append(&mut reports);
            plan.changes
                .extend(change.map(ObjectChange::compact).filter(|c| !c.is_noop()));
        }
        plan
    }

    /// Re-plans one object after a 409, from a fresh read (None: nothing to write now).
    pub fn replan(&self, fresh: &Value, force: bool) -> Option<ObjectChange> {
        let text = |p: &str| fresh.pointer(p).and_then(Value::as_str);
        let key: ObjectKey = (
            text("/kind").unwrap_or_default().to_string(),
            text("/metadata/namespace").map(str::to_string),
            text("/metadata/name").unwrap_or_default().to_string(),
        );
        self.objects
            .iter()
            .find(|o| o.key == key)
            .and_then(|o| plan_rollback(Some(fresh), &o.entries, force).0)
    }
}

/// One warning per conflict (an entry left alone), naming the field and why.
pub fn conflict_warnings(entries: &[EntryReport]) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e.result == EntryResult::Conflict)
        .map(|e| {
            format!(
                "conflict: {} {}/{} field {}: {} — left alone (force: true to restore anyway)",
                e.kind,
                e.namespace.as_deref().unwrap_or(""),
                e.name,
                e.field,
                e.reason.as_deref().unwrap_or_default()
            )
        })
        .collect()
}

/// The objects `changes` change, (kind, name): what [`entries_done`] needs of a plan
/// whose changes were handed to the applier.
pub fn planned_objects(changes: &[ObjectChange]) -> Vec<(Kind, String)> {
    changes.iter().map(|c| (c.kind, c.name.clone())).collect()
}

/// The entries to mark rolled back after a real run: restored and already-restored
/// ones, except those of an object whose planned change (`planned`: see
/// [`planned_objects`]) was not applied (conflicts and a failed object's entries stay
/// open).
pub fn entries_done(
    entries: &[EntryReport],
    planned: &[(Kind, String)],
    applied: &[ObjectChange],
) -> Vec<u64> {
    // Sets, not scans: a rollback of 1,000 MachineSets has 1,000 of each.
    let applied: HashSet<(&str, &str)> = applied
        .iter()
        .map(|a| (a.kind.kind, a.name.as_str()))
        .collect();
    let failed_objects: HashSet<(&str, &str)> = planned
        .iter()
        .map(|(kind, name)| (kind.kind, name.as_str()))
        .filter(|k| !applied.contains(k))
        .collect();
    entries
        .iter()
        .filter(|e| {
            e.result != EntryResult::Conflict
                && !failed_objects.contains(&(e.kind.as_str(), e.name.as_str()))
        })
        .map(|e| e.seq)
        .collect()
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
        assert_eq!(
            conflict_warnings(&[EntryReport {
                result: EntryResult::Conflict,
                reason: Some("why".into()),
                ..reports[0].clone()
            }]),
            vec![
                "conflict: MachineAutoscaler ns/a field /spec/minReplicas: why — left alone \
                 (force: true to restore anyway)"
                    .to_string()
            ]
        );
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
        // Gone already: restored as wanted.
        let (change, reports) = plan_rollback(None, &[&e], false);
        assert!(change.is_none());
        assert_eq!(reports[0].result, EntryResult::AlreadyRestored);
    }

    #[test]
    fn entries_are_grouped_per_object_newest_first_files_apart() {
        let mut file = file_entry(
            "r",
            "t",
            "stub_ignition",
            "/w.ign",
            json!("b2xk"),
            json!("bmV3"),
        );
        file.seq = 3;
        let mut other_run = entry(4, "/spec/minReplicas", json!(1), json!(2));
        other_run.run_id = "s".into();
        let mut rolled = entry(5, "/spec/x", json!(1), json!(2));
        rolled.module = "rollback".into();
        let record = crate::record::Record {
            entries: vec![
                entry(1, "/spec/minReplicas", json!(0), json!(1)),
                entry(2, "/spec/maxReplicas", json!(5), json!(1)),
                file,
                other_run,
                rolled,
            ],
            ..Default::default()
        };
        let runs = crate::record::runs_of_v1(record);
        let ids: Vec<&str> = runs.iter().map(|r| r.summary.run_id.as_str()).collect();
        assert_eq!(ids, vec!["r", "s"]);
        let run = run_entries(&runs[0], &[]);
        assert_eq!(run.objects.len(), 1);
        let seqs: Vec<u64> = run.objects[0].entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![2, 1]);
        assert_eq!(run.files.len(), 1);
        let only = run_entries(&runs[0], &["file".into()]);
        assert!(only.objects.is_empty() && only.files.len() == 1);
        // The rollback's own entry (run s) is never restored.
        assert_eq!(run_entries(&runs[1], &[]).objects[0].entries.len(), 1);
    }

    #[test]
    fn null_is_the_same_as_absent_at_any_depth() {
        // What a GCP MachineSet sends and what the server stores of it.
        let sent = json!([{"boot": true, "image": "i", "labels": null, "sizeGb": 128}]);
        let stored = json!([{"boot": true, "image": "i", "sizeGb": 128}]);
        assert!(same_value(&sent, &stored));
        assert!(!same_value(
            &sent,
            &json!([{"boot": true, "image": "j", "sizeGb": 128}])
        ));
        let obj = json!({"kind": "MachineAutoscaler", "metadata": {"name": "a", "namespace": "ns"},
                         "spec": {"disks": stored}});
        let e = entry(
            1,
            "/spec/disks",
            json!([{"image": "old", "labels": null}]),
            sent,
        );
        let (change, reports) = plan_rollback(Some(&obj), &[&e], false);
        assert_eq!(reports[0].result, EntryResult::Restored);
        assert_eq!(
            change.unwrap().after["spec"]["disks"],
            json!([{"image": "old", "labels": null}])
        );
    }

    #[test]
    fn files_are_restored_only_from_what_the_run_wrote() {
        let e = file_entry(
            "r",
            "t",
            "stub_ignition",
            "/w.ign",
            json!("b2xk"),
            json!("bmV3"),
        );
        let (state, reports) = plan_file(&json!("bmV3"), &[&e], false);
        assert_eq!(
            (state, reports[0].result),
            (json!("b2xk"), EntryResult::Restored)
        );
        let (state, reports) = plan_file(&json!("b3RoZXI="), &[&e], false);
        assert_eq!(
            (state, reports[0].result),
            (json!("b3RoZXI="), EntryResult::Conflict)
        );
        let (state, _) = plan_file(&json!("b3RoZXI="), &[&e], true);
        assert_eq!(state, json!("b2xk"));
    }

    #[test]
    fn failed_objects_and_conflicts_stay_open() {
        let obj = json!({"kind": "MachineAutoscaler", "metadata": {"name": "a", "namespace": "ns"}, "spec": {"minReplicas": 1}});
        let e = entry(1, "/spec/minReplicas", json!(0), json!(1));
        let (change, reports) = plan_rollback(Some(&obj), &[&e], false);
        let planned = vec![change.unwrap()];
        let objects = planned_objects(&planned);
        assert_eq!(entries_done(&reports, &objects, &planned), vec![1]);
        assert!(entries_done(&reports, &objects, &[]).is_empty());
        // A MachineSet of the same name (MachineAutoscalers are often named like their
        // MachineSet) that failed does not keep the autoscaler's entry open.
        let ms = (resources::MACHINE_SET, "a".to_string());
        let with_ms: Vec<_> = objects.iter().cloned().chain([ms]).collect();
        assert_eq!(entries_done(&reports, &with_ms, &planned), vec![1]);
    }

    #[test]
    fn an_imported_template_is_deleted_only_when_nothing_names_it_and_it_is_still_the_runs() {
        let p = "/DC0/vm/f/418.94.202501221327-0-infra-rhcos";
        let b = Some("418.94.202501221327-0");
        let ours = Some((b, true));
        assert_eq!(template_removal(p, b, ours, &[]).0, TemplateRemoval::Delete);
        assert_eq!(template_removal(p, b, None, &[]).0, TemplateRemoval::Gone);
        // Named by a MachineSet, as a path or as a bare name: kept.
        for named in [
            p.to_string(),
            "418.94.202501221327-0-infra-rhcos".to_string(),
        ] {
            let (r, why) = template_removal(p, b, ours, &["other".into(), named]);
            assert_eq!(r, TemplateRemoval::KeepReferenced);
            assert!(why.unwrap().contains("1 MachineSet"));
        }
        // Another build, or a template not marked by this tool: never deleted.
        let other = Some((Some("9.6.20251023-0"), true));
        assert_eq!(
            template_removal(p, b, other, &[]).0,
            TemplateRemoval::KeepNotOurs
        );
        assert_eq!(
            template_removal(p, b, Some((None, true)), &[]).0,
            TemplateRemoval::KeepNotOurs
        );
        // An unmarked VM that is no template: the run's own import stopped half-way.
        assert_eq!(
            template_removal(p, b, Some((None, false)), &[]).0,
            TemplateRemoval::Delete
        );
    }

    #[test]
    fn template_entries_are_grouped_apart_from_objects_and_files() {
        let mut run = Run::new("r1", "2026-12-04T00:00:00Z");
        run.append(vec![template_entry(
            "r1",
            "t",
            "vsphere_template",
            "vc",
            "/DC0/vm/t",
            "b",
        )]);
        let e = run_entries(&run, &[]);
        assert!(e.objects.is_empty() && e.files.is_empty());
        assert_eq!(e.templates.len(), 1);
        assert_eq!(
            e.templates[0].key,
            (
                TEMPLATE_KIND.to_string(),
                Some("vc".into()),
                "/DC0/vm/t".into()
            )
        );
    }
}
