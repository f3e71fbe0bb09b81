//! Where the rollback record lives and how it is updated: read, change, write
//! back with the `resourceVersion` read (409 → read again, bounded), so two
//! runs appending at once never lose an entry. Also the clock-derived values a
//! record needs (run ids, timestamps): the core's record model reads no clock.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::{Api, ObjectMeta, PostParams};

use crate::kube::connection::Connection;
use crate::options::RecordParams;
use crate::record::Record;

/// The current time as RFC 3339 UTC (`2026-11-25T16:40:00Z`).
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// A new run id: UTC time plus a short random suffix (`20261125T164000Z-3f9a`).
pub fn new_run_id() -> String {
    let now = time::OffsetDateTime::now_utc();
    let suffix = (now.nanosecond() ^ std::process::id().rotate_left(16)) & 0xffff;
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z-{suffix:04x}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

impl RecordParams {
    /// The run id of this run: `run_id`, or a new one.
    pub fn run_id(&self) -> String {
        self.run_id.clone().unwrap_or_else(new_run_id)
    }

    /// The record store: the local file when `record_path` is set, else the Secret
    /// `record` in `namespace`.
    pub fn store(&self, conn: Option<&Connection>, namespace: &str) -> Result<RecordStore> {
        match (&self.record_path, conn) {
            (Some(p), _) => Ok(RecordStore::file(p.clone())),
            (None, Some(c)) => Ok(RecordStore::secret(c.clone(), namespace, &self.record)),
            (None, None) => {
                anyhow::bail!("give `record_path` for a rollback record when working on files")
            }
        }
    }
}

/// The Secret key that holds the record.
pub const RECORD_KEY: &str = "record.json";
/// A Secret holds at most 1 MiB; refuse to grow the record past this.
const MAX_RECORD_BYTES: usize = 900 * 1024;
const MAX_ATTEMPTS: usize = 5;

/// Where the record is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordLocation {
    Secret { namespace: String, name: String },
    File(PathBuf),
}

impl std::fmt::Display for RecordLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordLocation::Secret { namespace, name } => write!(f, "Secret {namespace}/{name}"),
            RecordLocation::File(p) => write!(f, "file {}", p.display()),
        }
    }
}

/// The record store.
pub struct RecordStore {
    pub location: RecordLocation,
    conn: Option<Connection>,
}

fn parse(bytes: &[u8], location: &RecordLocation) -> Result<Record> {
    let record: Record = serde_json::from_slice(bytes)
        .with_context(|| format!("the rollback record in {location} is not a valid record"))?;
    if record.format != crate::record::RECORD_FORMAT {
        anyhow::bail!(
            "the rollback record in {location} has format {:?}; this version reads {:?}",
            record.format,
            crate::record::RECORD_FORMAT
        );
    }
    Ok(record)
}

fn encode(record: &Record, location: &RecordLocation) -> Result<Vec<u8>> {
    let bytes = serde_json::to_vec_pretty(record).context("encoding the rollback record")?;
    if bytes.len() > MAX_RECORD_BYTES {
        anyhow::bail!(
            "the rollback record in {location} would grow to {} bytes (limit {MAX_RECORD_BYTES}); \
             archive it (copy it away) and delete it, or name another with `record`",
            bytes.len()
        );
    }
    Ok(bytes)
}

impl RecordStore {
    /// A record kept in a Secret (needs a connection).
    pub fn secret(conn: Connection, namespace: &str, name: &str) -> RecordStore {
        RecordStore {
            location: RecordLocation::Secret {
                namespace: namespace.to_string(),
                name: name.to_string(),
            },
            conn: Some(conn),
        }
    }

    /// A record kept in a local file.
    pub fn file(path: PathBuf) -> RecordStore {
        RecordStore {
            location: RecordLocation::File(path),
            conn: None,
        }
    }

    fn api(&self, namespace: &str) -> Result<Api<Secret>> {
        let conn = self
            .conn
            .as_ref()
            .context("a Secret record needs a cluster connection")?;
        Ok(Api::namespaced(conn.client.clone(), namespace))
    }

    /// Reads the record (an absent record is empty).
    pub async fn load(&self) -> Result<Record> {
        Ok(self.read().await?.0)
    }

    async fn read(&self) -> Result<(Record, Option<Secret>)> {
        match &self.location {
            RecordLocation::File(path) => match std::fs::read(path) {
                Ok(bytes) => Ok((parse(&bytes, &self.location)?, None)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((Record::default(), None)),
                Err(e) => Err(e)
                    .with_context(|| format!("reading the rollback record {}", path.display())),
            },
            RecordLocation::Secret { namespace, name } => {
                let api = self.api(namespace)?;
                let secret = crate::kube::client::retrying(false, || api.get_opt(name))
                    .await
                    .map_err(|e| anyhow::anyhow!(explain(&e, "get", namespace, name)))?;
                let record = match secret
                    .as_ref()
                    .and_then(|s| s.data.as_ref())
                    .and_then(|d| d.get(RECORD_KEY))
                {
                    Some(bytes) => parse(&bytes.0, &self.location)?,
                    None => Record::default(),
                };
                Ok((record, secret))
            }
        }
    }

    /// Read, change with `f`, write back; retried on a concurrent write. Returns the record written.
    pub async fn update(&self, f: &dyn Fn(&mut Record)) -> Result<Record> {
        for _ in 0..MAX_ATTEMPTS {
            let (mut record, secret) = self.read().await?;
            f(&mut record);
            let bytes = encode(&record, &self.location)?;
            match &self.location {
                RecordLocation::File(path) => {
                    write_private(path, &bytes)?;
                    return Ok(record);
                }
                RecordLocation::Secret { namespace, name } => {
                    let api = self.api(namespace)?;
                    let mut data = BTreeMap::new();
                    data.insert(RECORD_KEY.to_string(), ByteString(bytes));
                    let result = match secret {
                        Some(mut s) => {
                            s.data = Some(data);
                            // Carries the resourceVersion read: a concurrent writer gives 409.
                            let pp = PostParams::default();
                            crate::kube::client::retrying(true, || api.replace(name, &pp, &s)).await
                        }
                        None => {
                            let s = Secret {
                                metadata: ObjectMeta {
                                    name: Some(name.clone()),
                                    namespace: Some(namespace.clone()),
                                    labels: Some(BTreeMap::from([(
                                        "app.kubernetes.io/managed-by".to_string(),
                                        "ocp-bootimage".to_string(),
                                    )])),
                                    ..ObjectMeta::default()
                                },
                                type_: Some("Opaque".into()),
                                data: Some(data),
                                ..Secret::default()
                            };
                            let pp = PostParams::default();
                            crate::kube::client::retrying(true, || api.create(&pp, &s)).await
                        }
                    };
                    match result {
                        Ok(_) => return Ok(record),
                        Err(kube::Error::Api(e)) if e.code == 409 => continue,
                        Err(e) => {
                            return Err(anyhow::anyhow!(explain(&e, "write", namespace, name)))
                        }
                    }
                }
            }
        }
        anyhow::bail!(
            "the rollback record in {} kept changing under us ({MAX_ATTEMPTS} attempts); try again",
            self.location
        )
    }
}

fn explain(e: &kube::Error, verb: &str, namespace: &str, name: &str) -> String {
    match e {
        kube::Error::Api(s) if s.code == 403 => format!(
            "forbidden: cannot {verb} the rollback record Secret {namespace}/{name}; grant get/create/update on secrets in {namespace} (API server said: {})",
            s.message
        ),
        other => format!("rollback record Secret {namespace}/{name}: {other}"),
    }
}

/// Writes `bytes` to `path` atomically with mode 0600.
pub fn write_private(path: &PathBuf, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("record"),
        std::process::id()
    ));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing the rollback record {}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("writing the rollback record {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("writing the rollback record {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordEntry;

    fn entry(run: &str) -> RecordEntry {
        RecordEntry {
            run_id: run.into(),
            seq: 0,
            time: "2026-01-01T00:00:00Z".into(),
            module: "machineset_bootimage".into(),
            api_version: "machine.openshift.io/v1beta1".into(),
            kind: "MachineSet".into(),
            namespace: Some("openshift-machine-api".into()),
            name: "w".into(),
            field: "/spec/x".into(),
            old: serde_json::json!("a"),
            new: serde_json::json!("b"),
            secret: false,
            rolled_back: None,
        }
    }

    #[tokio::test]
    async fn file_record_appends_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("record.json");
        let store = RecordStore::file(path.clone());
        assert!(store.load().await.unwrap().entries.is_empty());
        store
            .update(&|r| r.append(vec![entry("r1")]))
            .await
            .unwrap();
        store
            .update(&|r| r.append(vec![entry("r2"), entry("r2")]))
            .await
            .unwrap();
        let r = store.load().await.unwrap();
        assert_eq!(
            r.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(r.last_run_id(), Some("r2"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[tokio::test]
    async fn a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("record.json");
        std::fs::write(&path, "{\"format\":\"other\",\"entries\":[]}").unwrap();
        let err = RecordStore::file(path).load().await.unwrap_err();
        assert!(format!("{err:#}").contains("format"));
    }
}
