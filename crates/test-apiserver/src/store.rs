//! The object store: one global resourceVersion counter, objects by kind/namespace/name,
//! and the write semantics of the real API server (preconditions, generation, status
//! subresource, finalizers, no-op updates, watch events).

use std::collections::{BTreeMap, VecDeque};
use std::hash::BuildHasher;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};
use tokio::sync::broadcast;

use crate::kinds::{self, KindInfo, StatusMode};
use crate::status::ApiError;

/// How many past events are kept for watches that resume from a resourceVersion.
const HISTORY: usize = 10_000;

/// A watch event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    /// An object appeared.
    Added,
    /// An object changed.
    Modified,
    /// An object was removed.
    Deleted,
}

/// One change, as broadcast to watchers.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    /// The resourceVersion the change produced.
    pub rv: u64,
    /// Kind of the object.
    pub kind: &'static KindInfo,
    /// What happened.
    pub ty: EventType,
    /// The object after the change (before it, for deletions, with the new resourceVersion).
    pub object: Value,
    /// The object before the change, if any.
    pub old: Option<Value>,
}

/// Which part of an object an update writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The main resource (status is kept for kinds with a status subresource).
    Main,
    /// The `/status` subresource (only status changes).
    Status,
}

type Key = (&'static str, &'static str);

/// All objects and the resourceVersion counter.
pub(crate) struct Store {
    objects: BTreeMap<Key, BTreeMap<(String, String), Value>>,
    rv: u64,
    history: VecDeque<Event>,
    events: broadcast::Sender<Event>,
    hasher: std::collections::hash_map::RandomState,
    seq: u64,
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC (`2024-01-02T03:04:05Z`).
pub(crate) fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// Parses the `YYYY-MM-DDTHH:MM:SS` start of an RFC 3339 time (fractions and the zone
/// are ignored: the API server writes UTC) into seconds since the Unix epoch.
pub(crate) fn parse_rfc3339(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |from: usize, to: usize| text.get(from..to)?.parse::<i64>().ok();
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    // Days-from-civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hour * 3_600 + minute * 60 + second).ok()
}

/// Seconds since the Unix epoch, now.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The current time as RFC 3339.
pub(crate) fn now() -> String {
    rfc3339(now_secs())
}

/// A string field of `metadata`, if set and non-empty.
pub(crate) fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// `metadata` as a mutable map (created if missing or not an object).
pub(crate) fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    match obj.get_mut("metadata") {
        Some(Value::Object(m)) => m,
        _ => unreachable!("metadata was just made an object"),
    }
}

/// The object without metadata, status, apiVersion and kind: what `generation` tracks.
fn generation_view(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        for k in ["metadata", "status", "apiVersion", "kind"] {
            m.remove(k);
        }
    }
    v
}

fn has_finalizers(obj: &Value) -> bool {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty())
}

/// Preconditions a delete may carry.
#[derive(Debug, Default, Clone)]
pub(crate) struct Preconditions {
    /// Required resourceVersion.
    pub resource_version: Option<String>,
    /// Required uid.
    pub uid: Option<String>,
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        let (events, _) = broadcast::channel(4_096);
        Store {
            objects: BTreeMap::new(),
            rv: 1,
            history: VecDeque::new(),
            events,
            hasher: std::collections::hash_map::RandomState::new(),
            seq: 0,
        }
    }

    /// The current (latest) resourceVersion.
    pub fn current_rv(&self) -> u64 {
        self.rv
    }

    /// Subscribes to future events.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Events after `rv`, or `None` if the history no longer reaches back that far.
    pub fn events_since(&self, rv: u64) -> Option<Vec<Event>> {
        if let Some(first) = self.history.front() {
            if first.rv > rv + 1 && self.history.len() >= HISTORY {
                return None;
            }
        }
        Some(self.history.iter().filter(|e| e.rv > rv).cloned().collect())
    }

    fn random(&mut self) -> u128 {
        self.seq += 1;
        let a = self.hasher.hash_one((self.seq, 1u8));
        let b = self.hasher.hash_one((self.seq, 2u8));
        (u128::from(a) << 64) | u128::from(b)
    }

    /// A fresh random (version 4) UUID.
    fn new_uid(&mut self) -> String {
        let mut x = self.random();
        x = (x & !(0xF << 76)) | (0x4 << 76);
        x = (x & !(0x3 << 62)) | (0x2 << 62);
        let h = format!("{x:032x}");
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }

    /// A `generateName` suffix: five characters from the API server's alphabet.
    pub fn name_suffix(&mut self) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut x = self.random();
        (0..5)
            .map(|_| {
                let c = ALPHABET[(x % ALPHABET.len() as u128) as usize] as char;
                x /= ALPHABET.len() as u128;
                c
            })
            .collect()
    }

    fn bucket(&self, kind: &'static KindInfo) -> Option<&BTreeMap<(String, String), Value>> {
        self.objects.get(&(kind.group, kind.plural))
    }

    /// One object (namespace `""` for cluster-scoped kinds).
    pub fn get(&self, kind: &'static KindInfo, ns: &str, name: &str) -> Option<&Value> {
        self.bucket(kind)?.get(&(ns.to_string(), name.to_string()))
    }

    /// Objects of a kind, in one namespace or all, sorted by namespace then name.
    pub fn list(&self, kind: &'static KindInfo, ns: Option<&str>) -> Vec<Value> {
        self.bucket(kind)
            .map(|b| {
                b.iter()
                    .filter(|((o_ns, _), _)| ns.is_none_or(|n| n == o_ns))
                    .map(|(_, v)| v.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Records a change: bumps the counter (unless `keep_rv`), stores or removes the
    /// object, and broadcasts the event. Returns the object as stored.
    fn commit(
        &mut self,
        kind: &'static KindInfo,
        ty: EventType,
        mut obj: Value,
        old: Option<Value>,
        keep_rv: Option<u64>,
    ) -> Value {
        let rv = match keep_rv {
            Some(rv) => {
                self.rv = self.rv.max(rv);
                rv
            }
            None => {
                self.rv += 1;
                self.rv
            }
        };
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
        let ns = meta_str(&obj, "namespace").unwrap_or_default().to_string();
        let name = meta_str(&obj, "name").unwrap_or_default().to_string();
        let bucket = self.objects.entry((kind.group, kind.plural)).or_default();
        if ty == EventType::Deleted {
            bucket.remove(&(ns, name));
        } else {
            bucket.insert((ns, name), obj.clone());
        }
        let event = Event {
            rv,
            kind,
            ty,
            object: obj.clone(),
            old,
        };
        if self.history.len() >= HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(event.clone());
        // No receivers is fine.
        let _ = self.events.send(event);
        obj
    }

    /// Checks and normalises a request body for a kind: an object, with a matching (or
    /// absent) apiVersion/kind, canonical apiVersion/kind set, and the namespace from
    /// the URL (cluster-scoped kinds carry none).
    fn prepare(kind: &'static KindInfo, ns: &str, body: Value) -> Result<Value, ApiError> {
        let mut obj = body;
        let Some(map) = obj.as_object_mut() else {
            return Err(ApiError::bad_request(
                "the body of the request must be a JSON object",
            ));
        };
        if let Some(av) = map.get("apiVersion").and_then(Value::as_str) {
            if !av.is_empty() && av != kind.api_version() {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({av}) does not match the expected API version ({})",
                    kind.api_version()
                )));
            }
        }
        if let Some(k) = map.get("kind").and_then(Value::as_str) {
            if !k.is_empty() && k != kind.kind {
                return Err(ApiError::bad_request(format!(
                    "the kind in the data ({k}) does not match the expected kind ({})",
                    kind.kind
                )));
            }
        }
        map.insert("apiVersion".into(), json!(kind.api_version()));
        map.insert("kind".into(), json!(kind.kind));
        let meta = meta_mut(&mut obj);
        if kind.namespaced {
            match meta.get("namespace").and_then(Value::as_str) {
                Some(body_ns) if !body_ns.is_empty() && body_ns != ns => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                _ => {
                    meta.insert("namespace".into(), json!(ns));
                }
            }
        } else {
            meta.remove("namespace");
        }
        Ok(reorder(obj))
    }

    /// POST: creates an object.
    pub fn create(
        &mut self,
        kind: &'static KindInfo,
        ns: &str,
        body: Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let mut obj = Self::prepare(kind, ns, body)?;
        let mut name = meta_str(&obj, "name").unwrap_or_default().to_string();
        if name.is_empty() {
            let Some(prefix) = meta_str(&obj, "generateName").map(str::to_string) else {
                return Err(ApiError::invalid(
                    kind,
                    "",
                    "metadata.name",
                    "Required value: name or generateName is required",
                ));
            };
            loop {
                name = format!("{prefix}{}", self.name_suffix());
                if self.get(kind, ns, &name).is_none() {
                    break;
                }
            }
        }
        if meta_str(&obj, "resourceVersion").is_some() {
            return Err(ApiError::new(
                500,
                "resourceVersion should not be set on objects to be created",
            ));
        }
        if self.get(kind, ns, &name).is_some() {
            return Err(ApiError::already_exists(kind, &name));
        }
        if kind.status == StatusMode::Subresource {
            if let Some(m) = obj.as_object_mut() {
                m.remove("status");
            }
        }
        let uid = self.new_uid();
        let meta = meta_mut(&mut obj);
        meta.insert("name".into(), json!(name));
        meta.insert("uid".into(), json!(uid));
        meta.insert("creationTimestamp".into(), json!(now()));
        for k in [
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            meta.remove(k);
        }
        if kind.generation {
            meta.insert("generation".into(), json!(1));
        }
        if dry_run {
            return Ok(obj);
        }
        Ok(self.commit(kind, EventType::Added, obj, None, None))
    }

    /// PUT (and the final step of PATCH): replaces an object, honouring a non-empty
    /// `metadata.resourceVersion` in the body as a precondition.
    pub fn update(
        &mut self,
        kind: &'static KindInfo,
        ns: &str,
        name: &str,
        body: Value,
        target: Target,
        dry_run: bool,
    ) -> Result<(Value, bool), ApiError> {
        let old = self
            .get(kind, ns, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(kind, name))?;
        let mut new = Self::prepare(kind, ns, body)?;
        let body_name = meta_str(&new, "name").unwrap_or_default();
        if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let old_rv = meta_str(&old, "resourceVersion")
            .unwrap_or_default()
            .to_string();
        if let Some(rv) = meta_str(&new, "resourceVersion") {
            if rv != old_rv {
                return Err(ApiError::conflict(kind, name));
            }
        }
        let old_uid = meta_str(&old, "uid").unwrap_or_default().to_string();
        if let Some(uid) = meta_str(&new, "uid") {
            if uid != old_uid {
                return Err(ApiError::conflict_with(
                    kind,
                    name,
                    &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {old_uid}"),
                ));
            }
        }
        if target == Target::Status {
            let status = new.get("status").cloned();
            new = old.clone();
            if let Some(m) = new.as_object_mut() {
                match status {
                    Some(s) => m.insert("status".into(), s),
                    None => m.remove("status"),
                };
            }
        } else if kind.has_status_subresource() {
            if let Some(m) = new.as_object_mut() {
                match old.get("status") {
                    Some(s) => m.insert("status".into(), s.clone()),
                    None => m.remove("status"),
                };
            }
        }
        // Server-owned metadata is kept from the stored object.
        let old_meta = old.get("metadata").cloned().unwrap_or_else(|| json!({}));
        let meta = meta_mut(&mut new);
        for k in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            match old_meta.get(k) {
                Some(v) => meta.insert(k.into(), v.clone()),
                None => meta.remove(k),
            };
        }
        meta.insert("resourceVersion".into(), json!(old_rv));
        if kind.generation && generation_view(&new) != generation_view(&old) {
            let gen = old_meta
                .get("generation")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                + 1;
            meta_mut(&mut new).insert("generation".into(), json!(gen));
        }
        let new = reorder(new);
        if new == old {
            // The real server skips writing an unchanged object: same resourceVersion,
            // no watch event.
            return Ok((old, false));
        }
        let finished = meta_str(&new, "deletionTimestamp").is_some() && !has_finalizers(&new);
        if dry_run {
            return Ok((new, false));
        }
        if finished {
            return Ok((
                self.commit(kind, EventType::Deleted, new, Some(old), None),
                true,
            ));
        }
        Ok((
            self.commit(kind, EventType::Modified, new, Some(old), None),
            false,
        ))
    }

    /// DELETE: removes an object, or marks it for deletion while finalizers remain.
    /// Returns the object and whether it is gone.
    pub fn delete(
        &mut self,
        kind: &'static KindInfo,
        ns: &str,
        name: &str,
        pre: &Preconditions,
        dry_run: bool,
    ) -> Result<(Value, bool), ApiError> {
        let old = self
            .get(kind, ns, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(kind, name))?;
        let old_uid = meta_str(&old, "uid").unwrap_or_default();
        let old_rv = meta_str(&old, "resourceVersion").unwrap_or_default();
        if let Some(uid) = pre.uid.as_deref().filter(|u| *u != old_uid) {
            return Err(ApiError::conflict_with(
                kind,
                name,
                &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {old_uid}"),
            ));
        }
        if let Some(rv) = pre.resource_version.as_deref().filter(|r| *r != old_rv) {
            return Err(ApiError::conflict_with(
                kind,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {old_rv}"
                ),
            ));
        }
        if has_finalizers(&old) {
            if meta_str(&old, "deletionTimestamp").is_some() {
                return Ok((old, false));
            }
            let mut new = old.clone();
            let meta = meta_mut(&mut new);
            meta.insert("deletionTimestamp".into(), json!(now()));
            meta.insert("deletionGracePeriodSeconds".into(), json!(0));
            if dry_run {
                return Ok((new, false));
            }
            return Ok((
                self.commit(kind, EventType::Modified, new, Some(old), None),
                false,
            ));
        }
        if dry_run {
            return Ok((old, true));
        }
        let gone = self.commit(kind, EventType::Deleted, old.clone(), Some(old), None);
        Ok((gone, true))
    }

    /// Test set-up: stores a full object (replacing any of the same name), filling in
    /// uid, resourceVersion, creationTimestamp and generation when missing.
    pub fn insert(&mut self, obj: Value) -> anyhow::Result<()> {
        let Some(map) = obj.as_object() else {
            anyhow::bail!("object is not a JSON object");
        };
        let api_version = map
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let kind_name = map
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if kind_name == "List" || (kind_name.ends_with("List") && map.contains_key("items")) {
            let items = map
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for item in items {
                self.insert(item)?;
            }
            return Ok(());
        }
        let kind = kinds::by_api_version_kind(&api_version, &kind_name).ok_or_else(|| {
            anyhow::anyhow!("unknown kind {kind_name:?} in apiVersion {api_version:?}")
        })?;
        let mut obj = obj;
        obj["apiVersion"] = json!(kind.api_version());
        let name = meta_str(&obj, "name")
            .ok_or_else(|| anyhow::anyhow!("{kind_name} without metadata.name"))?
            .to_string();
        let ns = if kind.namespaced {
            meta_str(&obj, "namespace").unwrap_or("default").to_string()
        } else {
            String::new()
        };
        let uid = self.new_uid();
        let meta = meta_mut(&mut obj);
        if kind.namespaced {
            meta.insert("namespace".into(), json!(ns));
        } else {
            meta.remove("namespace");
        }
        if meta
            .get("uid")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            meta.insert("uid".into(), json!(uid));
        }
        if !meta.contains_key("creationTimestamp") || meta["creationTimestamp"].is_null() {
            meta.insert("creationTimestamp".into(), json!(now()));
        }
        if kind.generation && !meta.get("generation").is_some_and(Value::is_i64) {
            meta.insert("generation".into(), json!(1));
        }
        let keep_rv = meta
            .get("resourceVersion")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<u64>().ok());
        let old = self.get(kind, &ns, &name).cloned();
        let ty = if old.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.commit(kind, ty, reorder(obj), old, keep_rv);
        Ok(())
    }
}

/// Puts `apiVersion`, `kind` and `metadata` first, the way the API server prints objects.
fn reorder(obj: Value) -> Value {
    let Value::Object(mut map) = obj else {
        return obj;
    };
    let mut out = Map::new();
    for k in ["apiVersion", "kind", "metadata"] {
        if let Some(v) = map.shift_remove(k) {
            out.insert(k.into(), v);
        }
    }
    out.extend(map);
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_602_658_289), "2020-10-14T06:51:29Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        for secs in [0, 951_782_400, 1_602_658_289, 4_102_444_799] {
            assert_eq!(parse_rfc3339(&rfc3339(secs)), Some(secs));
        }
        assert_eq!(
            parse_rfc3339("2020-10-14T06:51:29.123456Z"),
            Some(1_602_658_289)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2020-13-14T06:51:29Z"), None);
    }

    #[test]
    fn uids_look_like_v4() {
        let mut s = Store::new();
        let a = s.new_uid();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, s.new_uid());
    }
}
