//! Writing Secrets that hold a private key (the machine-config-server's signer and serving
//! certificate) whole: a backup copy is created beside the old one first, then the Secret
//! is created, replaced (PUT with the `resourceVersion` read: a concurrent change is a
//! 409, never overwritten) or — when its immutable `type` changes — deleted (with that
//! `resourceVersion` as precondition) and created again. The record entries (digests
//! only) are written by the caller before any of this.

use anyhow::{Context, Result};
use kube::api::{DeleteParams, DynamicObject, PostParams, Preconditions};
use serde_json::Value;

use super::client::{api, get, retrying};
use super::connection::Connection;
use crate::cluster::resources::{self, SECRET};
use crate::plan::mcs_certificate::{secret_content_digest, KeySecretWrite, DIGEST_ANNOTATION};

fn ns() -> Option<&'static str> {
    Some(resources::MCO_NAMESPACE)
}

fn dynamic(v: &Value) -> Result<DynamicObject> {
    let mut obj = v.clone();
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["uid", "creationTimestamp", "managedFields", "generation"] {
            m.remove(k);
        }
    }
    serde_json::from_value(obj).context("building the Secret")
}

/// Creates `secret` in the MCO namespace (an existing one of the same content is fine).
pub async fn create_backup(conn: &Connection, backup: &Value) -> Result<()> {
    let name = backup
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut obj = backup.clone();
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
    }
    let secrets = api(conn, SECRET, ns());
    let dynamic = dynamic(&obj)?;
    let pp = PostParams::default();
    match retrying(true, || secrets.create(&pp, &dynamic)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let existing = get(conn, SECRET, ns(), &name).await?;
            let want = backup
                .pointer(&format!(
                    "/metadata/annotations/{}",
                    DIGEST_ANNOTATION.replace('/', "~1")
                ))
                .and_then(Value::as_str);
            match existing {
                Some(e) if Some(secret_content_digest(&e).as_str()) == want => Ok(()),
                _ => anyhow::bail!(
                    "backup Secret {}/{name} exists with other content: nothing more was written",
                    resources::MCO_NAMESPACE
                ),
            }
        }
        Err(e) => Err(e).with_context(|| format!("creating backup Secret {name}")),
    }
}

/// Writes `write.after` over what was read (`write.before`). Returns the stored Secret.
pub async fn write(conn: &Connection, write: &KeySecretWrite) -> Result<Value> {
    let secrets = api(conn, SECRET, ns());
    let rv = write
        .before
        .as_ref()
        .and_then(|b| b.pointer("/metadata/resourceVersion"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let name = &write.name;
    let pp = PostParams::default();
    let stored = match (&write.before, write.recreate) {
        (Some(_), false) => {
            let mut after = write.after.clone();
            if let (Some(m), Some(rv)) = (
                after.get_mut("metadata").and_then(Value::as_object_mut),
                &rv,
            ) {
                m.insert("resourceVersion".into(), Value::String(rv.clone()));
            }
            let d = dynamic(&after)?;
            retrying(true, || secrets.replace(name, &pp, &d))
                .await
                .with_context(|| format!("replacing Secret {name}"))?
        }
        (before, recreate) => {
            if before.is_some() && recreate {
                let dp = DeleteParams {
                    preconditions: Some(Preconditions {
                        resource_version: rv,
                        uid: None,
                    }),
                    ..DeleteParams::default()
                };
                retrying(true, || secrets.delete(name, &dp))
                    .await
                    .with_context(|| format!("deleting Secret {name} to change its type"))?;
            }
            let mut after = write.after.clone();
            if let Some(m) = after.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("resourceVersion");
            }
            let d = dynamic(&after)?;
            retrying(true, || secrets.create(&pp, &d))
                .await
                .with_context(|| format!("creating Secret {name}"))?
        }
    };
    serde_json::to_value(stored).context("decoding the stored Secret")
}

/// Deletes Secret `name` of the MCO namespace if it still is as read (`rv`); gone is fine.
pub async fn delete(conn: &Connection, name: &str, rv: Option<String>) -> Result<()> {
    let secrets = api(conn, SECRET, ns());
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            resource_version: rv,
            uid: None,
        }),
        ..DeleteParams::default()
    };
    match retrying(true, || secrets.delete(name, &dp)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e).with_context(|| format!("deleting Secret {name}")),
    }
}
