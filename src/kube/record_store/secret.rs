//! Runs kept in Secrets: one Secret per run (`<record>-<run>`, then `<record>-<run>.2`, …
//! when its compressed record passes a Secret's size), labelled so that one LIST finds
//! every run of a record, annotated with what a listing shows (start, state, modules,
//! counts) so that listing decodes nothing. Also the v1 record (one Secret for every
//! run), read so that runs of earlier releases can be rolled back; it is never written.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};

use super::codec::{self, PART_KEY};
use crate::kube::client::retrying;
use crate::kube::connection::Connection;
use crate::record::{Record, Run, RunState, RunSummary, RECORD_FORMAT};

/// Labels and annotations of a run's Secrets.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
const TOOL: &str = "ocp-bootimage";
const RECORD_LABEL: &str = "ocp-bootimage.io/record";
const RUN_LABEL: &str = "ocp-bootimage.io/run";
const MODULE_LABEL_PREFIX: &str = "module.ocp-bootimage.io/";
const RUN_ID: &str = "ocp-bootimage.io/run-id";
const PART: &str = "ocp-bootimage.io/part";
const STARTED: &str = "ocp-bootimage.io/started";
const STATE: &str = "ocp-bootimage.io/state";
const MODULES: &str = "ocp-bootimage.io/modules";
const OBJECTS: &str = "ocp-bootimage.io/objects";
const ENTRIES: &str = "ocp-bootimage.io/entries";
const ROLLS_BACK: &str = "ocp-bootimage.io/rolls-back";
/// The data key of a v1 record.
pub const V1_KEY: &str = "record.json";

/// The Secrets of one record (`record` in `namespace`).
#[derive(Clone)]
pub struct SecretRuns {
    pub conn: Connection,
    pub namespace: String,
    pub record: String,
    /// Where a v1 record of the same name may be (the MachineSets' namespace, where
    /// earlier releases kept it), besides `namespace`.
    pub legacy_namespace: Option<String>,
    /// A part's compressed payload stays under this.
    pub part_limit: usize,
}

/// One run as listed: its summary and its Secrets, part 1 first (none for a v1 run).
pub struct ListedRun {
    pub summary: RunSummary,
    pub secrets: Vec<Secret>,
}

fn annotation<'a>(s: &'a Secret, key: &str) -> Option<&'a str> {
    s.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

fn part_of(s: &Secret) -> u32 {
    annotation(s, PART)
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
}

impl SecretRuns {
    fn api(&self, namespace: &str) -> Api<Secret> {
        Api::namespaced(self.conn.client.clone(), namespace)
    }

    /// Explains a failed request on the record's Secrets: what to grant or create.
    pub fn explain(&self, e: &kube::Error, verb: &str, name: &str) -> String {
        let ns = &self.namespace;
        match e {
            kube::Error::Api(s) if s.code == 403 => format!(
                "forbidden: cannot {verb} the rollback record Secret {ns}/{name}; grant get, list, create, update and delete on secrets in namespace {ns} (deploy/rbac.yaml does), or name another namespace with record_namespace (API server said: {})",
                s.message
            ),
            kube::Error::Api(s) if s.code == 404 && verb == "create" => format!(
                "the rollback record namespace {ns} does not exist: create it (kubectl create namespace {ns}, or apply deploy/rbac.yaml, which does), or name another with record_namespace (API server said: {})",
                s.message
            ),
            other => format!("rollback record Secret {ns}/{name}: {other}"),
        }
    }

    /// Every run of the record, oldest first: the v2 runs (from one LIST, by their
    /// annotations) and the runs of a v1 record, if one exists.
    pub async fn list(&self) -> Result<(Vec<ListedRun>, Option<Record>, Vec<String>)> {
        let api = self.api(&self.namespace);
        let lp = ListParams::default().labels(&format!(
            "{MANAGED_BY}={TOOL},{RECORD_LABEL}={}",
            codec::label_value(&self.record)
        ));
        let list = retrying(false, || api.list(&lp))
            .await
            .map_err(|e| anyhow::anyhow!(self.explain(&e, "list", "*")))?;
        let mut by_run: BTreeMap<String, Vec<Secret>> = BTreeMap::new();
        for s in list.items {
            if let Some(id) = annotation(&s, RUN_ID) {
                by_run.entry(id.to_string()).or_default().push(s);
            }
        }
        let mut runs = Vec::new();
        for (id, mut secrets) in by_run {
            secrets.sort_by_key(part_of);
            let summary = self.summary_of(&id, &secrets)?;
            runs.push(ListedRun { summary, secrets });
        }
        runs.sort_by(|a, b| {
            (&a.summary.started, &a.summary.run_id).cmp(&(&b.summary.started, &b.summary.run_id))
        });
        let (legacy, notes) = self.legacy().await?;
        Ok((runs, legacy, notes))
    }

    /// A run's summary from its part 1's annotations (decoding the parts only when they
    /// are missing, as for a Secret written by hand).
    fn summary_of(&self, id: &str, secrets: &[Secret]) -> Result<RunSummary> {
        let first = secrets.first();
        let get = |k: &str| first.and_then(|s| annotation(s, k));
        let parsed = (|| {
            Some(RunSummary {
                run_id: id.to_string(),
                started: get(STARTED)?.to_string(),
                modules: get(MODULES)?
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect(),
                state: RunState::parse(get(STATE)?)?,
                objects: get(OBJECTS)?.parse().ok()?,
                changes: get(ENTRIES)?.parse().ok()?,
                rolls_back: get(ROLLS_BACK).map(str::to_string),
            })
        })();
        match parsed {
            Some(s) => Ok(s),
            None => Ok(self.decode(id, secrets)?.summary),
        }
    }

    /// The whole run from its Secrets (part 1 first).
    pub fn decode(&self, id: &str, secrets: &[Secret]) -> Result<Run> {
        let mut run = Run::new(id, "");
        for s in secrets {
            let name = s.metadata.name.as_deref().unwrap_or_default();
            let what = format!("rollback record Secret {}/{name}", self.namespace);
            let bytes = s
                .data
                .as_ref()
                .and_then(|d| d.get(PART_KEY))
                .with_context(|| format!("{what} has no {PART_KEY}"))?;
            let part = codec::decode(&bytes.0, &what)?;
            if part.part == 1 {
                run.restored = part.restored;
            }
            run.entries.extend(part.entries);
        }
        if let Some(first) = secrets.first() {
            let get = |k: &str| annotation(first, k).map(str::to_string);
            run.summary.started = get(STARTED).unwrap_or_else(|| {
                run.entries
                    .first()
                    .map(|e| e.time.clone())
                    .unwrap_or_default()
            });
            run.summary.state = get(STATE)
                .and_then(|s| RunState::parse(&s))
                .unwrap_or(RunState::Applying);
            run.summary.rolls_back = get(ROLLS_BACK);
        }
        for e in &run.entries {
            if !run.summary.modules.contains(&e.module) {
                run.summary.modules.push(e.module.clone());
            }
        }
        run.recount();
        Ok(run)
    }

    /// The Secrets of one run, read by name (part 1, 2, … until one is absent).
    pub async fn read_run(&self, id: &str) -> Result<Vec<Secret>> {
        let api = self.api(&self.namespace);
        let mut secrets = Vec::new();
        for part in 1.. {
            let name = codec::part_name(&self.record, id, part);
            match retrying(false, || api.get_opt(&name)).await {
                Ok(Some(s)) => secrets.push(s),
                Ok(None) => break,
                Err(e) => anyhow::bail!(self.explain(&e, "get", &name)),
            }
        }
        Ok(secrets)
    }

    /// The v1 record of the same name, if any (in the record's namespace or where
    /// earlier releases kept it), and a note for each place it could not be read from
    /// (forbidden: its runs, if any, are then not listed).
    async fn legacy(&self) -> Result<(Option<Record>, Vec<String>)> {
        let mut namespaces = vec![self.namespace.clone()];
        namespaces.extend(self.legacy_namespace.iter().cloned());
        namespaces.dedup();
        let mut notes = Vec::new();
        for ns in namespaces {
            let api = self.api(&ns);
            let secret = match retrying(false, || api.get_opt(&self.record)).await {
                Ok(s) => s,
                Err(kube::Error::Api(s)) if s.code == 403 => {
                    notes.push(format!(
                        "could not look for a v1 rollback record: forbidden: `get` on secrets \
                         named {record} in namespace {ns} (Secret {ns}/{record}), so the runs of \
                         releases before per-run records, if any, are not listed; \
                         deploy/rbac.yaml grants it to the update account",
                        record = self.record
                    ));
                    None
                }
                Err(e) => anyhow::bail!(self.explain(&e, "get", &self.record)),
            };
            let Some(bytes) = secret
                .as_ref()
                .and_then(|s| s.data.as_ref())
                .and_then(|d| d.get(V1_KEY))
            else {
                continue;
            };
            let record: Record = serde_json::from_slice(&bytes.0).with_context(|| {
                format!(
                    "the v1 rollback record Secret {ns}/{} is not a valid record",
                    self.record
                )
            })?;
            if record.format != RECORD_FORMAT {
                anyhow::bail!(
                    "the rollback record Secret {ns}/{} has format {:?}; this version reads {RECORD_FORMAT:?} there",
                    self.record,
                    record.format
                );
            }
            return Ok((Some(record), notes));
        }
        Ok((None, notes))
    }

    /// The Secret of part `part` of `run` holding `payload` (labels always; the summary
    /// annotations on part 1), as a change of `previous` (its resourceVersion kept) or new.
    pub fn part_secret(
        &self,
        run: &Run,
        part: u32,
        payload: Vec<u8>,
        previous: Option<&Secret>,
    ) -> Secret {
        let id = &run.summary.run_id;
        let mut labels = BTreeMap::from([
            (MANAGED_BY.to_string(), TOOL.to_string()),
            (RECORD_LABEL.to_string(), codec::label_value(&self.record)),
            (RUN_LABEL.to_string(), codec::label_value(&codec::slug(id))),
        ]);
        let mut annotations = BTreeMap::from([
            (RUN_ID.to_string(), id.clone()),
            (PART.to_string(), part.to_string()),
        ]);
        if part == 1 {
            let s = &run.summary;
            for m in &s.modules {
                labels.insert(format!("{MODULE_LABEL_PREFIX}{m}"), "true".into());
            }
            annotations.extend([
                (STARTED.to_string(), s.started.clone()),
                (STATE.to_string(), s.state.as_str().to_string()),
                (MODULES.to_string(), s.modules.join(",")),
                (OBJECTS.to_string(), s.objects.to_string()),
                (ENTRIES.to_string(), s.changes.to_string()),
            ]);
            if let Some(r) = &s.rolls_back {
                annotations.insert(ROLLS_BACK.to_string(), r.clone());
            }
        }
        Secret {
            metadata: ObjectMeta {
                name: Some(codec::part_name(&self.record, id, part)),
                namespace: Some(self.namespace.clone()),
                labels: Some(labels),
                annotations: Some(annotations),
                resource_version: previous.and_then(|p| p.metadata.resource_version.clone()),
                ..ObjectMeta::default()
            },
            type_: Some("Opaque".into()),
            data: Some(BTreeMap::from([(
                PART_KEY.to_string(),
                ByteString(payload),
            )])),
            ..Secret::default()
        }
    }

    /// Creates (no resourceVersion) or replaces (with it: a concurrent writer gives 409)
    /// one part; returns it as stored.
    pub async fn write(&self, secret: &Secret) -> Result<Secret, kube::Error> {
        let api = self.api(&self.namespace);
        let pp = PostParams::default();
        let name = secret.metadata.name.clone().unwrap_or_default();
        if secret.metadata.resource_version.is_some() {
            retrying(true, || api.replace(&name, &pp, secret)).await
        } else {
            retrying(true, || api.create(&pp, secret)).await
        }
    }

    /// Sets the state of a listed run (its part 1's annotation; the payload is not
    /// rewritten). A v1 run has no Secret of its own: nothing to set.
    pub async fn set_state(&self, run: &ListedRun, state: RunState) -> Result<()> {
        let Some(first) = run.secrets.first() else {
            return Ok(());
        };
        let name = first.metadata.name.clone().unwrap_or_default();
        let patch = serde_json::json!({"metadata": {
            "annotations": {STATE: state.as_str()},
            "resourceVersion": first.metadata.resource_version,
        }});
        let api = self.api(&self.namespace);
        let pp = kube::api::PatchParams::default();
        let patch = kube::api::Patch::Merge(&patch);
        retrying(true, || api.patch(&name, &pp, &patch))
            .await
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!(self.explain(&e, "update", &name)))
    }

    /// Deletes every Secret of a listed run.
    pub async fn delete(&self, run: &ListedRun) -> Result<()> {
        let api = self.api(&self.namespace);
        let dp = DeleteParams::default();
        for s in &run.secrets {
            let name = s.metadata.name.clone().unwrap_or_default();
            match retrying(true, || api.delete(&name, &dp)).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => anyhow::bail!(self.explain(&e, "delete", &name)),
            }
        }
        Ok(())
    }
}
