//! `rollback` of the Secrets holding a private key that `mcs_certificate` wrote (the
//! machine-config-server's signer and serving certificate): each goes back to the
//! content of its backup Secret (type, data, labels, annotations) or, when the run
//! created it, is deleted — only while it holds what the run wrote (the core's
//! [`plan_key_secret`]); the backup is deleted once used. The record holds digests only,
//! so this is the one place the old key material comes back from, and it never leaves the
//! namespace. Restarting the machine-config-server pods afterwards is the caller's.

use anyhow::Result;
use serde_json::{json, Value};

use crate::cluster::resources::{self, SECRET};
use crate::kube::client::get;
use crate::kube::connection::Connection;
use crate::kube::key_secrets;
use crate::kube::record_store::{now_rfc3339, RunWriter};
use crate::plan::mcs_certificate::{restored_from_backup, secret_content_digest, KeySecretWrite};
use crate::plan::rollback::{plan_key_secret, EntryReport, KeySecretRestore, ObjectEntries};
use crate::record::RecordEntry;

/// What the restore of the key Secrets did.
#[derive(Debug, Default)]
pub struct Restored {
    pub reports: Vec<EntryReport>,
    /// The entries now restored (seqs).
    pub done: Vec<u64>,
    /// Whether a Secret was (or, in check mode, would be) changed.
    pub changed: bool,
    pub warnings: Vec<String>,
}

fn rv(v: &Value) -> Option<String> {
    v.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Restores every key Secret of `groups`.
pub async fn restore(
    conn: &Connection,
    writer: &RunWriter,
    groups: &[ObjectEntries<'_>],
    force: bool,
    check_mode: bool,
) -> Result<Restored> {
    let mut out = Restored::default();
    for g in groups {
        restore_one(conn, writer, g, force, check_mode, &mut out).await?;
    }
    Ok(out)
}

/// The record entry of one restore (digests only; `after` null: deleted).
fn rollback_entry(
    writer: &RunWriter,
    name: &str,
    current: Option<&Value>,
    after: &Value,
) -> RecordEntry {
    let digest = |v: &Value| json!({"sha256": secret_content_digest(v)});
    RecordEntry {
        run_id: writer.run_id().to_string(),
        seq: 0,
        time: now_rfc3339(),
        module: "rollback".into(),
        api_version: "v1".into(),
        kind: crate::plan::rollback::KEY_SECRET_KIND.into(),
        namespace: Some(resources::MCO_NAMESPACE.into()),
        name: name.to_string(),
        field: String::new(),
        old: current.map_or(Value::Null, digest),
        new: if after.is_null() {
            Value::Null
        } else {
            digest(after)
        },
        secret: false,
        rolled_back: None,
    }
}

/// Restores one key Secret: reads it and its backup, decides, records, writes.
async fn restore_one(
    conn: &Connection,
    writer: &RunWriter,
    g: &ObjectEntries<'_>,
    force: bool,
    check_mode: bool,
    out: &mut Restored,
) -> Result<()> {
    let ns = Some(resources::MCO_NAMESPACE);
    let name = &g.key.2;
    let current = get(conn, SECRET, ns, name).await?;
    let backup_name = g
        .entries
        .last()
        .and_then(|e| e.old.get("backup"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let backup = match &backup_name {
        Some(b) => get(conn, SECRET, ns, b).await?,
        None => None,
    };
    let (action, reports) = plan_key_secret(&g.entries, current.as_ref(), backup.as_ref(), force);
    let seqs: Vec<u64> = reports
        .iter()
        .filter(|r| r.result != crate::plan::rollback::EntryResult::Conflict)
        .map(|r| r.seq)
        .collect();
    out.reports.extend(reports);
    if action == KeySecretRestore::Nothing {
        out.done.extend(seqs);
        return Ok(());
    }
    if let KeySecretRestore::DropBackup { backup: bname } = &action {
        // Nothing to restore; the run's backup goes (it would hold the place of the next).
        if !check_mode {
            key_secrets::delete(conn, bname, backup.as_ref().and_then(rv)).await?;
        }
        out.done.extend(seqs);
        return Ok(());
    }
    out.changed = true;
    if check_mode {
        return Ok(());
    }
    let after = match (&action, &backup) {
        (KeySecretRestore::FromBackup { .. }, Some(b)) => restored_from_backup(name, b),
        _ => Value::Null,
    };
    writer
        .append(vec![rollback_entry(writer, name, current.as_ref(), &after)])
        .await?;
    match action {
        KeySecretRestore::Delete => {
            key_secrets::delete(conn, name, current.as_ref().and_then(rv)).await?;
        }
        KeySecretRestore::FromBackup { backup: bname } => {
            let recreate = current
                .as_ref()
                .is_some_and(|c| c.get("type") != after.get("type"));
            let w = KeySecretWrite {
                name: name.clone(),
                before: current.clone(),
                after,
                backup: None,
                backup_name: None,
                recreate,
            };
            key_secrets::write(conn, &w).await?;
            let backup_rv = backup.as_ref().and_then(rv);
            if let Err(e) = key_secrets::delete(conn, &bname, backup_rv).await {
                out.warnings.push(format!(
                    "restored Secret {name}, but its backup {bname} could not be deleted: {e:#}"
                ));
            }
        }
        KeySecretRestore::Nothing | KeySecretRestore::DropBackup { .. } => {}
    }
    out.done.extend(seqs);
    Ok(())
}
