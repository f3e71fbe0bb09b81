//! `stub_ignition`: migrates stub Ignition (the user-data secrets new machines
//! boot with) from spec 2.x to 3.x, in place, into new `<name>-ignv3` secrets the
//! MachineSets are pointed at (`create_new`), or in a local file (bare metal /
//! UPI). Already-3.x stubs are left alone; content that is not Ignition fails
//! the run before anything is written. Secret content never reaches the output:
//! diffs show digests and lengths.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::common::{managed_guard, outcome};
use crate::ansible::{DiffEntry, Module, ModuleContext, ModuleError, ModuleOutcome};
use crate::cluster::{name_of, resources, user_data_secret_of, Reads, Selection, SnapshotPart};
use crate::ignition::{convert_to_v3, decode_secret_user_data, Conversion, TargetVersion};
use crate::kube::apply::Applier;
use crate::kube::observe;
use crate::kube::ConnectionParams;
use crate::options::{NamespaceParams, WriteParams};
use crate::plan::change::secret_digest;
use crate::plan::ObjectChange;
use crate::record::RecordEntry;
use crate::record_store::now_rfc3339;

/// Options of `stub_ignition`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Params {
    #[serde(flatten)]
    pub connection: ConnectionParams,
    #[serde(flatten)]
    pub write: WriteParams,
    #[serde(flatten)]
    pub ns: NamespaceParams,
    /// Secrets to migrate. Default: every user-data secret a MachineSet in `namespace` references.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Migrate a local Ignition file instead (bare metal / UPI: the stub lives outside the
    /// cluster). Needs `record_path` for the rollback record.
    #[schemars(extend("x-ansible-type" = "path"))]
    pub path: Option<PathBuf>,
    /// Where to write the migrated file. Default: `path` itself, after a `.bak` copy.
    #[schemars(extend("x-ansible-type" = "path"))]
    pub dest: Option<PathBuf>,
    /// The Ignition spec version to write (3.0.0–3.4.0; the procedure uses 3.1.0).
    #[serde(default)]
    pub target_version: TargetVersion,
    /// Write each migrated stub to a new secret `<name>-ignv3` and point the MachineSets that
    /// use the old one at it, instead of changing the secret in place.
    #[serde(default)]
    pub create_new: bool,
}

/// One migrated (or inspected) stub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct StubReport {
    /// Secret name, or the file path.
    pub name: String,
    /// `ignition.version` found.
    pub from_version: Option<String>,
    /// `ignition.version` written (same as `from_version` when unchanged).
    pub to_version: Option<String>,
    pub changed: bool,
    /// With `create_new`: the secret written.
    pub new_secret: Option<String>,
    /// With `create_new`: MachineSets pointed at the new secret.
    pub machinesets_repointed: Vec<String>,
    /// `sha256:<hex> (<n> bytes)` of the stub before and after (never the content).
    pub before: Option<String>,
    pub after: Option<String>,
    /// What the conversion translated (key paths only).
    pub notes: Vec<String>,
}

/// Return values of `stub_ignition`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Output {
    pub stubs: Vec<StubReport>,
    pub run_id: String,
    pub record: String,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Plans the migration of one secret. Returns the report and the changes (the secret,
/// or the new secret plus the MachineSets to repoint).
pub fn plan_secret(
    secret: &Value,
    machinesets: &[Value],
    target: TargetVersion,
    create_new: bool,
) -> Result<(StubReport, Vec<ObjectChange>)> {
    let name = name_of(secret).to_string();
    let bytes = decode_secret_user_data(secret).with_context(|| format!("secret {name}"))?;
    let digest = |b: &[u8]| secret_digest(&b64(b), true);
    let mut report = StubReport {
        name: name.clone(),
        from_version: None,
        to_version: None,
        changed: false,
        new_secret: None,
        machinesets_repointed: Vec::new(),
        before: Some(digest(&bytes)),
        after: Some(digest(&bytes)),
        notes: Vec::new(),
    };
    let conversion = convert_to_v3(&bytes, target)
        .with_context(|| format!("secret {name} was left untouched"))?;
    let (new_bytes, from) = match conversion {
        Conversion::AlreadyV3 { version } => {
            report.from_version = Some(version.clone());
            report.to_version = Some(version);
            return Ok((report, Vec::new()));
        }
        Conversion::Converted {
            bytes,
            from_version,
            notes,
            ..
        } => {
            report.notes = notes;
            (bytes, from_version)
        }
    };
    report.from_version = Some(from);
    report.to_version = Some(target.to_string());
    report.after = Some(digest(&new_bytes));
    report.changed = true;
    let ns = secret
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut changes = Vec::new();
    if create_new {
        let new_name = format!("{name}-ignv3");
        let mut data = secret.get("data").cloned().unwrap_or_else(|| json!({}));
        data["userData"] = Value::String(b64(&new_bytes));
        let mut metadata = json!({"name": new_name, "namespace": ns});
        if let Some(labels) = secret.pointer("/metadata/labels") {
            metadata["labels"] = labels.clone();
        }
        let after = json!({"apiVersion": "v1", "kind": "Secret", "type": secret.get("type").cloned().unwrap_or(json!("Opaque")),
                            "metadata": metadata, "data": data});
        changes.push(ObjectChange {
            kind: resources::SECRET,
            namespace: ns.clone(),
            name: new_name.clone(),
            before: None,
            after,
            summary: format!(
                "new secret {new_name}: Ignition {} → {target}",
                report.from_version.as_deref().unwrap_or("?")
            ),
        });
        for ms in machinesets
            .iter()
            .filter(|m| user_data_secret_of(m) == Some(name.as_str()))
        {
            let mut after = ms.clone();
            if let Some(v) =
                after.pointer_mut("/spec/template/spec/providerSpec/value/userDataSecret/name")
            {
                *v = Value::String(new_name.clone());
            }
            report.machinesets_repointed.push(name_of(ms).to_string());
            changes.push(ObjectChange {
                kind: resources::MACHINE_SET,
                namespace: ns.clone(),
                name: name_of(ms).to_string(),
                before: Some(ms.clone()),
                after,
                summary: format!("userDataSecret {name} → {new_name}"),
            });
        }
        report.new_secret = Some(new_name);
    } else {
        let mut after = secret.clone();
        after["data"]["userData"] = Value::String(b64(&new_bytes));
        if let Some(sd) = after.get_mut("stringData").and_then(Value::as_object_mut) {
            sd.remove("userData");
        }
        changes.push(ObjectChange {
            kind: resources::SECRET,
            namespace: ns,
            name: name.clone(),
            before: Some(secret.clone()),
            after,
            summary: format!(
                "Ignition {} → {target}",
                report.from_version.as_deref().unwrap_or("?")
            ),
        });
    }
    Ok((report, changes))
}

/// The module.
pub struct StubIgnition;

fn file_report(
    path: &Path,
    target: TargetVersion,
) -> Result<(StubReport, Option<Vec<u8>>, Vec<u8>)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let digest = |b: &[u8]| secret_digest(&b64(b), true);
    let mut report = StubReport {
        name: path.display().to_string(),
        from_version: None,
        to_version: None,
        changed: false,
        new_secret: None,
        machinesets_repointed: Vec::new(),
        before: Some(digest(&bytes)),
        after: Some(digest(&bytes)),
        notes: Vec::new(),
    };
    match convert_to_v3(&bytes, target)
        .with_context(|| format!("{} was left untouched", path.display()))?
    {
        Conversion::AlreadyV3 { version } => {
            report.from_version = Some(version.clone());
            report.to_version = Some(version);
            Ok((report, None, bytes))
        }
        Conversion::Converted {
            bytes: new,
            from_version,
            notes,
            ..
        } => {
            report.from_version = Some(from_version);
            report.to_version = Some(target.to_string());
            report.after = Some(digest(&new));
            report.notes = notes;
            report.changed = true;
            Ok((report, Some(new), bytes))
        }
    }
}

async fn run_file(params: &Params, path: &Path, check_mode: bool) -> Result<ModuleOutcome<Output>> {
    let run_id = params.write.record.run_id();
    let (report, new, old) = file_report(path, params.target_version)?;
    let dest = params.dest.clone().unwrap_or_else(|| path.to_path_buf());
    let store = params.write.record.store(None, &params.ns.namespace)?;
    let record = store.location.to_string();
    let diff = DiffEntry {
        before_header: dest.display().to_string(),
        after_header: dest.display().to_string(),
        before: Value::String(report.before.clone().unwrap_or_default()),
        after: Value::String(report.after.clone().unwrap_or_default()),
    };
    let changed = report.changed;
    let (msg, diff) = match (&new, check_mode) {
        (None, _) => (
            format!(
                "{} is already Ignition {}",
                path.display(),
                report.from_version.as_deref().unwrap_or("3.x")
            ),
            Vec::new(),
        ),
        (Some(_), true) => (
            format!(
                "would migrate {} to Ignition {}",
                dest.display(),
                params.target_version
            ),
            vec![diff],
        ),
        (Some(new), false) => {
            // Record first, then the .bak copy, then the file (atomically).
            let dest_old = if dest == path {
                old.clone()
            } else {
                std::fs::read(&dest).unwrap_or_default()
            };
            let entry = RecordEntry {
                run_id: run_id.clone(),
                seq: 0,
                time: now_rfc3339(),
                module: StubIgnition::NAME.into(),
                api_version: String::new(),
                kind: "File".into(),
                namespace: None,
                name: dest.display().to_string(),
                field: String::new(),
                old: if dest.exists() {
                    Value::String(b64(&dest_old))
                } else {
                    Value::Null
                },
                new: Value::String(b64(new)),
                secret: true,
                rolled_back: None,
            };
            store.update(&|r| r.append(vec![entry.clone()])).await?;
            if dest == path {
                let bak = PathBuf::from(format!("{}.bak", path.display()));
                std::fs::write(&bak, &old).with_context(|| format!("writing {}", bak.display()))?;
            }
            crate::record_store::write_private(&dest, new)?;
            (
                format!(
                    "migrated {} to Ignition {}",
                    dest.display(),
                    params.target_version
                ),
                vec![diff],
            )
        }
    };
    Ok(ModuleOutcome {
        changed,
        failed: false,
        msg,
        warnings: Vec::new(),
        diff,
        output: Output {
            stubs: vec![report],
            run_id,
            record,
        },
    })
}

impl Module for StubIgnition {
    const NAME: &'static str = "stub_ignition";
    const SHORT_DESCRIPTION: &'static str =
        "Migrate stub Ignition user-data secrets (or a file) from spec 2.x to 3.x";
    const DESCRIPTION: &'static str = r#"
Migrates stub Ignition configs — the user-data secrets new machines boot with — from
spec 2.x to 3.x (`ignition.version` → `target_version`, `config.append` → `config.merge`,
CA, timeouts and proxy kept; 2.x-only content without a spec-3 equivalent is refused with
the field named). Already-3.x stubs are left alone. Content that is not Ignition fails the
run before anything is written.

In place by default, or into a new secret `<name>-ignv3` that the MachineSets are pointed
at (`create_new`, as the procedure offers), or on a local file for bare metal / UPI
(`path`, with a `.bak` copy). Old values go into the rollback record first; diffs show
digests and lengths, never the stub.
"#;
    const EXAMPLES: &'static str = r#"
- name: Migrate every stub the MachineSets use, in place
  ocp.bootimage.stub_ignition:
    run_id: "{{ update_run_id }}"

- name: Write worker-user-data-ignv3 and repoint the MachineSets instead
  ocp.bootimage.stub_ignition:
    secrets: [worker-user-data]
    create_new: true

- name: Bare metal UPI - migrate the stub served to new hosts
  ocp.bootimage.stub_ignition:
    path: /var/www/html/ignition/worker.ign
    record_path: /var/lib/ocp-bootimage/record.json
"#;
    type Params = Params;
    type Output = Output;

    async fn run(
        params: Params,
        ctx: &ModuleContext,
    ) -> Result<ModuleOutcome<Output>, ModuleError> {
        if let Some(path) = &params.path {
            return Ok(run_file(&params, path, ctx.meta.check_mode).await?);
        }
        let conn = params.connection.connect().await?;
        let sel = Selection {
            namespace: params.ns.namespace.clone(),
            ..Selection::default()
        };
        let snapshot = observe::from_cluster(
            &conn,
            &sel,
            Reads {
                user_data_secrets: true,
                ..Reads::MIN
            },
        )
        .await?;
        if !snapshot.secrets_readable {
            return Err(anyhow::anyhow!(
                "{}",
                snapshot
                    .unreadable
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )
            .into());
        }
        super::common::require_readable(&snapshot, &[SnapshotPart::Infrastructure])?;
        let mut warnings = Vec::new();
        if let Some(w) = managed_guard(
            snapshot.infrastructure.as_ref(),
            &snapshot.machinesets,
            params.write.allow_managed,
        )? {
            warnings.push(w);
        }
        let mut names: Vec<String> = if params.secrets.is_empty() {
            snapshot
                .machinesets
                .iter()
                .filter_map(user_data_secret_of)
                .map(str::to_string)
                .collect()
        } else {
            params.secrets.clone()
        };
        names.sort();
        names.dedup();
        // Plan everything first: one bad secret fails the run before any write.
        let mut reports = Vec::new();
        let mut changes = Vec::new();
        for name in &names {
            let secret = snapshot.user_data_secrets.get(name).ok_or_else(|| {
                anyhow::anyhow!(
                    "secret {name} not found in namespace {}",
                    params.ns.namespace
                )
            })?;
            let (report, mut c) = plan_secret(
                secret,
                &snapshot.machinesets,
                params.target_version,
                params.create_new,
            )?;
            reports.push(report);
            changes.append(&mut c);
        }
        if names.is_empty() {
            warnings.push(format!(
                "no user-data secret is referenced by a MachineSet in {}",
                params.ns.namespace
            ));
        }
        let run_id = params.write.record.run_id();
        let store = params
            .write
            .record
            .store(Some(&conn), &params.ns.namespace)?;
        let record = store.location.to_string();
        if ctx.meta.check_mode {
            return Ok(outcome(
                ctx.meta.diff,
                &changes,
                None,
                "object(s)",
                Output {
                    stubs: reports,
                    run_id,
                    record,
                },
                warnings,
            ));
        }
        let target = params.target_version;
        let create_new = params.create_new;
        let machinesets = snapshot.machinesets.clone();
        let replan = |fresh: &Value| -> Result<Option<ObjectChange>> {
            let kind = fresh
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let name = name_of(fresh);
            if kind == "MachineSet" {
                // Repoint only if it still names the old secret.
                return Ok(names
                    .iter()
                    .find(|n| user_data_secret_of(fresh) == Some(n.as_str()))
                    .and_then(|old| {
                        let mut after = fresh.clone();
                        let new_name = format!("{old}-ignv3");
                        *after.pointer_mut(
                            "/spec/template/spec/providerSpec/value/userDataSecret/name",
                        )? = Value::String(new_name.clone());
                        Some(ObjectChange {
                            kind: resources::MACHINE_SET,
                            namespace: fresh
                                .pointer("/metadata/namespace")
                                .and_then(Value::as_str)
                                .map(str::to_string),
                            name: name.to_string(),
                            before: Some(fresh.clone()),
                            after,
                            summary: format!("userDataSecret {old} → {new_name}"),
                        })
                    }));
            }
            if create_new && name.ends_with("-ignv3") {
                // The new secret exists already: leave it if it is 3.x.
                let (_, c) = plan_secret(fresh, &[], target, false)?;
                return Ok(c.into_iter().next());
            }
            let (_, c) = plan_secret(fresh, &machinesets, target, create_new)?;
            Ok(c.into_iter().find(|c| c.name == name))
        };
        let applier = Applier {
            conn: &conn,
            store: &store,
            module: Self::NAME,
            run_id: &run_id,
        };
        let applied = applier.apply(changes.clone(), &replan).await;
        Ok(outcome(
            ctx.meta.diff,
            &changes,
            Some(&applied),
            "object(s)",
            Output {
                stubs: reports,
                run_id,
                record,
            },
            warnings,
        ))
    }
}
