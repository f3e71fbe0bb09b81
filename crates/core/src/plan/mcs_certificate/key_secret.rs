//! The Secrets holding a private key (the CA and the serving certificate): written
//! whole, after their old content is copied to a backup Secret beside them (one fixed
//! place per Secret, marked with its run, never overwritten for another run); their record
//! entries hold digests only; and the Secret as it was, rebuilt from its backup.

use super::*;

/// A Secret holding a private key, to be written whole (created, replaced, or — when its
/// `type` changes, which is immutable — deleted and created again), after its old content
/// is copied to `backup`.
#[derive(Debug, Clone, PartialEq)]
pub struct KeySecretWrite {
    pub name: String,
    /// The Secret as read (None: it is created).
    pub before: Option<Value>,
    /// The Secret as written.
    pub after: Value,
    /// The backup Secret to create first (None: nothing to keep, or it exists already).
    pub backup: Option<Value>,
    /// The backup's name (also when it exists already).
    pub backup_name: Option<String>,
    /// `type` differs: delete and create.
    pub recreate: bool,
}

impl KeySecretWrite {
    /// The record entry of this write: digests only, and where the old content is kept.
    pub fn record_entry(&self, run_id: &str, time: &str, module: &str) -> RecordEntry {
        let old = match &self.before {
            None => Value::Null,
            Some(b) => json!({
                "sha256": secret_content_digest(b),
                "type": b.get("type").cloned().unwrap_or(Value::Null),
                "backup": self.backup_name,
            }),
        };
        RecordEntry {
            run_id: run_id.to_string(),
            seq: 0,
            time: time.to_string(),
            module: module.to_string(),
            api_version: "v1".into(),
            kind: KEY_SECRET_KIND.into(),
            namespace: Some(resources::MCO_NAMESPACE.into()),
            name: self.name.clone(),
            field: String::new(),
            old,
            new: json!({ "sha256": secret_content_digest(&self.after) }),
            secret: false,
            rolled_back: None,
        }
    }

    /// The diff entry: digests and certificate fingerprints, never content.
    pub fn diff_values(&self) -> (Value, Value) {
        (
            self.before.as_ref().map_or(Value::Null, secret_summary),
            secret_summary(&self.after),
        )
    }
}

/// The digest of a Secret's content (`type` and `data`): what a record compares.
pub fn secret_content_digest(secret: &Value) -> String {
    let mut data: BTreeMap<String, Value> = BTreeMap::new();
    if let Some(m) = secret.get("data").and_then(Value::as_object) {
        for (k, v) in m {
            data.insert(k.clone(), v.clone());
        }
    }
    let ty = secret
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("Opaque");
    let canonical = json!({ "type": ty, "data": data }).to_string();
    let hex: String = Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// A Secret as a diff shows it: type, content digest, certificate fingerprint and end.
fn secret_summary(secret: &Value) -> Value {
    let crt = data_bytes(secret, "tls.crt").and_then(|c| cert_facts(&c));
    json!({
        "type": secret.get("type").cloned().unwrap_or(Value::Null),
        "sha256": secret_content_digest(secret),
        "certificate_sha256": crt.as_ref().map(|c| c.fingerprint_sha256.clone()),
        "not_after": crt.as_ref().map(|c| rfc3339(c.not_after)),
    })
}

/// The name of the backup of Secret `name`: one fixed name (the RBAC can name it), marked
/// with the run that made it.
pub fn backup_name(name: &str) -> String {
    format!("{name}-backup")
}

/// The backup Secret of `secret` (same type and data) for run `run_id`.
fn backup_of(secret: &Value, name: &str, run_id: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": backup_name(name),
            "namespace": resources::MCO_NAMESPACE,
            "labels": {BACKUP_OF_LABEL: name},
            "annotations": {
                RUN_ANNOTATION: run_id,
                DIGEST_ANNOTATION: secret_content_digest(secret),
                ORIGINAL_METADATA_ANNOTATION: json!({
                    "labels": secret.pointer("/metadata/labels"),
                    "annotations": secret.pointer("/metadata/annotations"),
                }).to_string(),
            },
        },
        "type": secret.get("type").cloned().unwrap_or(json!("Opaque")),
        "data": secret.get("data").cloned().unwrap_or(json!({})),
    })
}

/// The write of one key Secret, with its backup unless it was made by this run (then its
/// content is this run's own and the backup, if any, exists already).
pub(super) fn key_write(
    name: &str,
    before: Option<&Value>,
    after: Value,
    options: &McsOptions,
    backups: &BTreeMap<String, Value>,
) -> Result<KeySecretWrite, McsError> {
    let run = options.run_id.as_str();
    let ours = before.and_then(|b| annotation_of(b, RUN_ANNOTATION)) == Some(run);
    let bname = backup_name(name);
    let existing = backups.get(&bname);
    let (backup, backup_name) = match (before, existing) {
        (None, _) => (None, None),
        // This run's own backup (a rerun), or an earlier run's holding exactly this content.
        (Some(b), Some(e))
            if annotation_of(e, RUN_ANNOTATION) == Some(run)
                || secret_content_digest(e) == secret_content_digest(b) =>
        {
            (None, Some(bname))
        }
        (Some(_), _) if ours => (None, None),
        (Some(_), Some(e)) => {
            return Err(McsError::BackupTaken {
                name: bname,
                run: annotation_of(e, RUN_ANNOTATION)
                    .unwrap_or("(unknown)")
                    .to_string(),
            })
        }
        (Some(b), None) => (Some(backup_of(b, name, run)), Some(bname)),
    };
    let recreate = before.is_some_and(|b| b.get("type") != after.get("type"));
    Ok(KeySecretWrite {
        name: name.to_string(),
        before: before.cloned(),
        after,
        backup,
        backup_name,
        recreate,
    })
}

/// The Secret `name` as it was, from its backup: the backup's type and data, and the
/// labels and annotations it noted.
pub fn restored_from_backup(name: &str, backup: &Value) -> Value {
    let original: Value = annotation_of(backup, ORIGINAL_METADATA_ANNOTATION)
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null);
    let mut metadata = json!({"name": name, "namespace": resources::MCO_NAMESPACE});
    for k in ["labels", "annotations"] {
        if let Some(v) = original.get(k).filter(|v| v.is_object()) {
            metadata[k] = v.clone();
        }
    }
    let mut out = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": backup.get("type").cloned().unwrap_or(json!("Opaque")),
    });
    if let Some(d) = backup.get("data") {
        out["data"] = d.clone();
    }
    out
}
