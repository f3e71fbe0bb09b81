//! A planned change to one object, as data: the object as read (`before`) and
//! as it should be (`after`). From the pair come the JSON merge patch to send
//! (carrying the `resourceVersion` read, so a concurrent change gives 409), the
//! field-level entries of the rollback record, and the diff shown to the user
//! (Secret data as a digest and a length, never the content). Pure.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::record::RecordEntry;

use crate::cluster::resources::Kind;
use crate::cluster::{name_of, shrunk};

/// One `diff` entry as Ansible shows it; `before`/`after` are strings, dicts or null
/// (never lists: Ansible's default callback cannot show those).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DiffEntry {
    pub before_header: String,
    pub after_header: String,
    pub before: Value,
    pub after: Value,
}

/// One object to change.
#[derive(Debug, PartialEq)]
pub struct ObjectChange {
    pub kind: Kind,
    pub namespace: Option<String>,
    pub name: String,
    /// The object as read (None: the object is to be created).
    pub before: Option<Value>,
    /// The object as it should be (`null`: the object is to be deleted).
    pub after: Value,
    /// One line for `msg`/reports, e.g. `ami.id ami-a → ami-b`.
    pub summary: String,
}

/// A copy at exact size: `serde_json`'s derived clone gives every small map room for
/// three keys again (indexmap matches the entries to its hash table), which made a copy
/// of 1,000 compact changes twice their size.
impl Clone for ObjectChange {
    fn clone(&self) -> ObjectChange {
        ObjectChange {
            kind: self.kind,
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            before: self.before.as_ref().map(copied),
            after: copied(&self.after),
            summary: self.summary.clone(),
        }
    }
}

/// A deep copy of `v` with every map and list at its exact size.
fn copied(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::with_capacity(m.len());
            for (k, v) in m {
                out.insert(k.clone(), copied(v));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(copied).collect()),
        other => other.clone(),
    }
}

/// One changed field (a JSON pointer into the object) with its old and new value
/// (`null` = absent).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub pointer: String,
    pub old: Value,
    pub new: Value,
}

/// RFC 7386 merge patch that turns `before` into `after` (None when equal).
/// Objects are diffed key by key; anything else (arrays included) is replaced whole.
pub fn merge_patch(before: &Value, after: &Value) -> Option<Value> {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let mut patch = Map::new();
            for (k, av) in a {
                match b.get(k) {
                    Some(bv) => {
                        if let Some(p) = merge_patch(bv, av) {
                            patch.insert(k.clone(), p);
                        }
                    }
                    None => {
                        patch.insert(k.clone(), av.clone());
                    }
                }
            }
            for k in b.keys() {
                if !a.contains_key(k) {
                    patch.insert(k.clone(), Value::Null);
                }
            }
            (!patch.is_empty()).then_some(Value::Object(patch))
        }
        _ if before == after => None,
        _ => Some(after.clone()),
    }
}

/// Applies an RFC 7386 merge patch (used to re-apply a plan and in tests).
pub fn apply_merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        apply_merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The leaf changes of a merge patch, with the old values from `before`.
fn leaves(before: Option<&Value>, patch: &Value, pointer: String, out: &mut Vec<FieldChange>) {
    match patch {
        Value::Object(p) if before.is_some_and(Value::is_object) => {
            for (k, v) in p {
                let child = before.and_then(|b| b.get(k));
                leaves(child, v, format!("{pointer}/{}", escape(k)), out);
            }
        }
        _ => out.push(FieldChange {
            pointer,
            old: before.cloned().unwrap_or(Value::Null),
            new: patch.clone(),
        }),
    }
}

/// Server-managed metadata that is never part of a change.
const VOLATILE_METADATA: [&str; 6] = [
    "resourceVersion",
    "generation",
    "managedFields",
    "uid",
    "creationTimestamp",
    "selfLink",
];

/// The object without server-managed metadata and status (what a change compares).
pub fn without_volatile(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in VOLATILE_METADATA {
            m.remove(k);
        }
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    v
}

impl ObjectChange {
    /// A change of the existing object `before` (read from the cluster) into `after`; its
    /// namespace and name are the object's own.
    pub fn update(kind: Kind, before: &Value, after: Value, summary: String) -> ObjectChange {
        ObjectChange {
            kind,
            namespace: before
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .map(str::to_string),
            name: name_of(before).to_string(),
            before: Some(before.clone()),
            after,
            summary,
        }
    }

    /// The merge patch to send (None when nothing changes). It carries the
    /// `resourceVersion` that was read, so the server refuses it (409) if the
    /// object changed in between.
    pub fn patch(&self) -> Option<Value> {
        if self.is_delete() {
            return None;
        }
        let before = self.before.as_ref()?;
        let mut patch = merge_patch(&without_volatile(before), &without_volatile(&self.after))?;
        if let Some(rv) = before.pointer("/metadata/resourceVersion").cloned() {
            if let Some(p) = patch.as_object_mut() {
                let meta = p
                    .entry("metadata")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(m) = meta.as_object_mut() {
                    m.insert("resourceVersion".into(), rv);
                }
            }
        }
        Some(patch)
    }

    /// Whether this change deletes the object.
    pub fn is_delete(&self) -> bool {
        self.after.is_null() && self.before.is_some()
    }

    /// Whether applying this change would change anything.
    pub fn is_noop(&self) -> bool {
        if self.is_delete() {
            return false;
        }
        match &self.before {
            Some(b) => merge_patch(&without_volatile(b), &without_volatile(&self.after)).is_none(),
            None => false,
        }
    }

    /// Field-level changes (for the rollback record). A created object is one
    /// change of the whole object at pointer "".
    pub fn fields(&self) -> Vec<FieldChange> {
        if self.is_delete() {
            return vec![FieldChange {
                pointer: String::new(),
                old: self
                    .before
                    .as_ref()
                    .map(without_volatile)
                    .unwrap_or(Value::Null),
                new: Value::Null,
            }];
        }
        let Some(before) = &self.before else {
            return vec![FieldChange {
                pointer: String::new(),
                old: Value::Null,
                new: without_volatile(&self.after),
            }];
        };
        let b = without_volatile(before);
        let Some(patch) = merge_patch(&b, &without_volatile(&self.after)) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        leaves(Some(&b), &patch, String::new(), &mut out);
        out
    }

    /// The same change with `before` and `after` cut down to the subtrees that differ,
    /// plus the `resourceVersion` read: the same patch, record fields and diff, in a
    /// fraction of the memory (a run may plan a change for each of 1,000 MachineSets).
    /// Creates and deletes are kept whole.
    pub fn compact(self) -> ObjectChange {
        let Some(before) = &self.before else {
            return self;
        };
        if self.is_delete() {
            return self;
        }
        let (mut b, mut a) = differing(before, &self.after);
        if let (Some(rv), Some(bo), Some(ao)) = (
            before.pointer("/metadata/resourceVersion"),
            b.as_object_mut(),
            a.as_object_mut(),
        ) {
            let meta = bo
                .entry("metadata")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(m) = meta.as_object_mut() {
                m.insert("resourceVersion".into(), rv.clone());
            }
            // Both sides keep `metadata`, so its absence is not read as a removal.
            ao.entry("metadata")
                .or_insert_with(|| Value::Object(Map::new()));
        }
        // At exact size: built key by key, each small map would hold room for three keys.
        ObjectChange {
            before: Some(shrunk(b)),
            after: shrunk(a),
            ..self
        }
    }

    /// `kind namespace/name` for messages.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind.kind, self.name),
            None => format!("{} {}", self.kind.kind, self.name),
        }
    }

    /// The diff entry: before/after of exactly the changed subtrees, Secret data masked.
    pub fn diff(&self) -> DiffEntry {
        let secret = self.kind.kind == "Secret";
        let after = without_volatile(&self.after);
        if self.is_delete() {
            let before = self.before.as_ref().map(without_volatile);
            let before = match before {
                Some(b) if secret => mask_secret_data(b),
                Some(b) => b,
                None => Value::Null,
            };
            return DiffEntry {
                before_header: self.describe(),
                after_header: format!("{} (deleted)", self.describe()),
                before,
                after: Value::Null,
            };
        }
        let (before, after) = match &self.before {
            Some(b) => {
                let b = without_volatile(b);
                let patch = merge_patch(&b, &after).unwrap_or(Value::Object(Map::new()));
                (
                    Some(subtree_like(&b, &patch)),
                    Some(subtree_like(&after, &patch)),
                )
            }
            None => (None, Some(after)),
        };
        let mask = |v: Option<Value>| match v {
            Some(v) if secret => mask_secret_data(v),
            Some(v) => v,
            None => Value::Null,
        };
        DiffEntry {
            before_header: self.describe(),
            after_header: self.describe(),
            before: mask(before),
            after: mask(after),
        }
    }
}

/// The parts of two objects that differ: keys equal on both sides are left out, objects
/// are compared key by key, anything else (arrays included) is kept whole.
fn differing(before: &Value, after: &Value) -> (Value, Value) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let (mut bo, mut ao) = (Map::new(), Map::new());
            for (k, bv) in b {
                match a.get(k) {
                    Some(av) if av == bv => {}
                    Some(av) => {
                        let (bs, as_) = differing(bv, av);
                        bo.insert(k.clone(), bs);
                        ao.insert(k.clone(), as_);
                    }
                    None => {
                        bo.insert(k.clone(), bv.clone());
                    }
                }
            }
            for (k, av) in a {
                if !b.contains_key(k) {
                    ao.insert(k.clone(), av.clone());
                }
            }
            (Value::Object(bo), Value::Object(ao))
        }
        _ => (before.clone(), after.clone()),
    }
}

/// The parts of `v` at the paths a patch touches (absent paths left out).
fn subtree_like(v: &Value, patch: &Value) -> Value {
    match (v, patch) {
        (Value::Object(o), Value::Object(p)) => {
            let mut out = Map::new();
            for k in p.keys() {
                if let Some(child) = o.get(k) {
                    let sub = subtree_like(child, &p[k]);
                    // A map that only gains keys has nothing to show on this side.
                    let nothing = sub.as_object().is_some_and(|m| m.is_empty())
                        && p[k].as_object().is_some_and(|m| !m.is_empty());
                    if !nothing {
                        out.insert(k.clone(), sub);
                    }
                }
            }
            Value::Object(out)
        }
        _ => v.clone(),
    }
}

/// `sha256:<hex> (<n> bytes)` of a secret value (base64 in `data`, plain in `stringData`).
pub fn secret_digest(value: &str, base64_encoded: bool) -> String {
    use base64::Engine;
    let bytes = if base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .unwrap_or_else(|_| value.as_bytes().to_vec())
    } else {
        value.as_bytes().to_vec()
    };
    let digest = Sha256::digest(&bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex} ({} bytes)", bytes.len())
}

/// Replaces every value under `data`/`stringData` with its digest.
pub fn mask_secret_data(mut v: Value) -> Value {
    for (key, encoded) in [("data", true), ("stringData", false)] {
        if let Some(Value::Object(d)) = v.get_mut(key) {
            for val in d.values_mut() {
                if let Value::String(s) = val {
                    *val = Value::String(secret_digest(s, encoded));
                }
            }
        }
    }
    v
}

impl ObjectChange {
    /// The record entries of every field this change writes (numbered when appended
    /// to a run: [`crate::record::Run::append`]).
    pub fn record_entries(&self, run_id: &str, module: &str, time: &str) -> Vec<RecordEntry> {
        self.fields()
            .into_iter()
            .map(|f| RecordEntry {
                run_id: run_id.to_string(),
                seq: 0,
                time: time.to_string(),
                module: module.to_string(),
                api_version: self.kind.api_version(),
                kind: self.kind.kind.to_string(),
                namespace: self.namespace.clone(),
                name: self.name.clone(),
                secret: self.kind.kind == "Secret"
                    && (f.pointer.starts_with("/data")
                        || f.pointer.starts_with("/stringData")
                        || f.pointer.is_empty()),
                field: f.pointer,
                old: f.old,
                new: f.new,
                rolled_back: None,
            })
            .collect()
    }
}

/// What the server stored of the fields one write changed: the values a rollback
/// compares with (a server drops `null` members, applies defaults, …).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFields {
    pub kind: &'static str,
    pub namespace: Option<String>,
    pub name: String,
    /// (JSON pointer, value stored; null: absent). The pointer `""` is the whole object
    /// (created), without server bookkeeping.
    pub fields: Vec<(String, Value)>,
}

impl StoredFields {
    /// The fields `change` wrote, as found in `stored` (None: the object is gone).
    pub fn of(change: &ObjectChange, stored: Option<&Value>) -> StoredFields {
        let fields = change
            .fields()
            .into_iter()
            .map(|f| {
                let v = match stored {
                    None => Value::Null,
                    Some(s) if f.pointer.is_empty() => without_volatile(s),
                    Some(s) => s.pointer(&f.pointer).cloned().unwrap_or(Value::Null),
                };
                (f.pointer, v)
            })
            .collect();
        StoredFields {
            kind: change.kind.kind,
            namespace: change.namespace.clone(),
            name: change.name.clone(),
            fields,
        }
    }
}

/// What became of a written change when the object was read again after the run's
/// writes: another controller may have written its own value back (MCO's hot-loop
/// guard, OCPBUGS-55967, stops after 3 identical rewrites; this tool does not retry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterWrite {
    /// The server still holds what the write stored.
    Kept,
    /// Every changed field holds its old value again: reverted by another controller.
    Reverted,
    /// Changed again since, to something else (another writer; reported, not judged).
    ChangedAgain,
}

impl StoredFields {
    /// Compares what the write stored (`self`) with the object read again (`fresh`;
    /// None: gone) over the fields `change` wrote.
    pub fn after(&self, change: &ObjectChange, fresh: Option<&Value>) -> AfterWrite {
        let now = StoredFields::of(change, fresh);
        if now.fields == self.fields {
            return AfterWrite::Kept;
        }
        let old: Vec<(String, Value)> = change
            .fields()
            .into_iter()
            .map(|f| (f.pointer, f.old))
            .collect();
        if !change.is_delete() && change.before.is_some() && now.fields == old {
            AfterWrite::Reverted
        } else {
            AfterWrite::ChangedAgain
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::resources;
    use serde_json::json;

    #[test]
    fn a_write_read_again_is_kept_reverted_or_changed_again() {
        let before =
            json!({"metadata": {"name": "a", "resourceVersion": "1"}, "spec": {"image": "old"}});
        let after =
            json!({"metadata": {"name": "a", "resourceVersion": "1"}, "spec": {"image": "new"}});
        let c = ObjectChange::update(resources::MACHINE_SET, &before, after.clone(), "x".into());
        let stored = StoredFields::of(&c, Some(&after));
        assert_eq!(stored.after(&c, Some(&after)), AfterWrite::Kept);
        assert_eq!(stored.after(&c, Some(&before)), AfterWrite::Reverted);
        let other = json!({"metadata": {"name": "a"}, "spec": {"image": "third"}});
        assert_eq!(stored.after(&c, Some(&other)), AfterWrite::ChangedAgain);
        assert_eq!(stored.after(&c, None), AfterWrite::ChangedAgain);
    }

    #[test]
    fn merge_patch_round_trips() {
        let cases = [
            (
                json!({"a": 1, "b": {"c": 2, "d": 3}}),
                json!({"a": 1, "b": {"c": 5}}),
            ),
            (json!({"l": [1, 2]}), json!({"l": [1, 3], "n": {"x": "y"}})),
            (json!({"a": {"b": {"c": 1}}}), json!({})),
        ];
        for (before, after) in cases {
            let patch = merge_patch(&before, &after).unwrap();
            let mut applied = before.clone();
            apply_merge_patch(&mut applied, &patch);
            assert_eq!(applied, after);
        }
        assert_eq!(merge_patch(&json!({"a": 1}), &json!({"a": 1})), None);
    }

    fn ms(ami: &str, rv: &str) -> Value {
        json!({"apiVersion": "machine.openshift.io/v1beta1", "kind": "MachineSet",
               "metadata": {"name": "w", "namespace": "ns", "resourceVersion": rv, "generation": 3},
               "spec": {"template": {"spec": {"providerSpec": {"value": {"ami": {"id": ami}}}}}},
               "status": {"replicas": 1}})
    }

    #[test]
    fn a_compact_change_patches_records_and_diffs_the_same() {
        let cases = [
            (ms("ami-a", "7"), ms("ami-b", "7")),
            (ms("ami-a", "7"), {
                let mut m = ms("ami-a", "7");
                m["metadata"]["annotations"] = json!({"x": "1"});
                m["spec"]["template"]["spec"]["providerSpec"]["value"]["extra"] = json!([1, 2]);
                m
            }),
            (
                json!({"metadata": {"name": "s", "resourceVersion": "3"}, "data": {"a": "eA==", "b": "eQ=="}, "type": "Opaque"}),
                json!({"metadata": {"name": "s", "resourceVersion": "3"}, "data": {"a": "eg=="}, "type": "Opaque"}),
            ),
            (
                json!({"metadata": {"name": "d"}, "spec": {"disks": [{"image": "a", "size": 1}]}}),
                json!({"metadata": {"name": "d"}, "spec": {"disks": [{"image": "b", "size": 1}]}}),
            ),
            (ms("ami-a", "7"), ms("ami-a", "7")),
        ];
        for (before, after) in cases {
            let kind = if before.get("data").is_some() {
                crate::cluster::resources::SECRET
            } else {
                crate::cluster::resources::MACHINE_SET
            };
            let full = ObjectChange {
                kind,
                namespace: Some("ns".into()),
                name: "x".into(),
                before: Some(before.clone()),
                after: after.clone(),
                summary: String::new(),
            };
            let small = full.clone().compact();
            assert_eq!(small.patch(), full.patch(), "{before} -> {after}");
            assert_eq!(small.fields(), full.fields());
            assert_eq!(small.diff(), full.diff());
            assert_eq!(small.is_noop(), full.is_noop());
            assert!(small.after.to_string().len() <= full.after.to_string().len());
        }
    }

    #[test]
    fn patch_carries_the_resource_version_and_only_the_change() {
        let c = ObjectChange {
            kind: resources::MACHINE_SET,
            namespace: Some("ns".into()),
            name: "w".into(),
            before: Some(ms("ami-a", "41")),
            after: ms("ami-b", "41"),
            summary: String::new(),
        };
        assert_eq!(
            c.patch().unwrap(),
            json!({"metadata": {"resourceVersion": "41"},
                   "spec": {"template": {"spec": {"providerSpec": {"value": {"ami": {"id": "ami-b"}}}}}}})
        );
        let f = c.fields();
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].pointer,
            "/spec/template/spec/providerSpec/value/ami/id"
        );
        assert_eq!(f[0].old, json!("ami-a"));
        let d = c.diff();
        assert_eq!(
            d.before,
            json!({"spec": {"template": {"spec": {"providerSpec": {"value": {"ami": {"id": "ami-a"}}}}}}})
        );
        assert!(!c.is_noop());
    }

    #[test]
    fn secret_diffs_show_digests_only() {
        let before = json!({"kind": "Secret", "metadata": {"name": "s", "resourceVersion": "1"}, "data": {"userData": "c2VjcmV0LW9uZQ=="}});
        let after = json!({"kind": "Secret", "metadata": {"name": "s"}, "data": {"userData": "c2VjcmV0LXR3bw=="}});
        let c = ObjectChange {
            kind: resources::SECRET,
            namespace: None,
            name: "s".into(),
            before: Some(before),
            after,
            summary: String::new(),
        };
        let d = serde_json::to_string(&c.diff()).unwrap();
        assert!(!d.contains("c2VjcmV0") && !d.contains("secret-"), "{d}");
        assert!(d.contains("sha256:") && d.contains("(10 bytes)"), "{d}");
    }
}
