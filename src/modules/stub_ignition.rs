//! `stub_ignition`: migrates stub Ignition (the user-data secrets new machines
//! boot with) from spec 2.x to 3.x, in place, into new `<name>-ignv3` secrets the
//! MachineSets are pointed at (`create_new`), or in a local file (bare metal /
//! UPI). Already-3.x stubs are left alone; content that is not Ignition fails
//! the run before anything is written. Secret content never reaches the output:
//! diffs show digests and lengths.
//!
//! Planning is the core's [`StubMigration`] (also re-plans after a 409); this file
//! parses the options, reads, and hands the plan to the one executor. The file mode
//! (`path`) is local-file I/O and stays here.

use crate::ansible::AnsibleMeta;
use crate::execute::Target;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ansible::{DiffEntry, Module, ModuleContext, ModuleError, ModuleOutcome};
use crate::cluster::{Reads, Selection, Snapshot, SnapshotPart};
use crate::execute::{standard_guards, Observation, RunRecord, Step};
use crate::ignition::TargetVersion;
use crate::kube::record_store::{now_rfc3339, RunWriter};
use crate::options::ConnectionParams;
use crate::options::{GateParams, NamespaceParams, WriteParams};
use crate::plan::rollback::file_entry;
use crate::plan::stub::{migrate_stub, stub_names, StubMigration, StubOptions, StubReport};
use crate::record::RunState;

/// Options of `stub_ignition`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Params {
    #[serde(flatten)]
    pub connection: ConnectionParams,
    #[serde(flatten)]
    pub write: WriteParams,
    #[serde(flatten)]
    pub gate: GateParams,
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

/// Return values of `stub_ignition`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Output {
    pub stubs: Vec<StubReport>,
    #[serde(flatten)]
    pub run: RunRecord,
}

/// The module.
pub struct StubIgnition;

/// Fails the run, before anything else, when a user-data secret it migrates (`requested`,
/// or every one a MachineSet references) could not be read; the message names those.
fn secrets_readable(snapshot: &Snapshot, requested: &[String]) -> Result<()> {
    let names = stub_names(requested, &snapshot.machinesets);
    if !names
        .iter()
        .any(|n| snapshot.user_data_secret_unreadable(n))
    {
        return Ok(());
    }
    let named: Vec<String> = names
        .iter()
        .filter_map(|n| snapshot.unreadable_secrets.get(n))
        .map(|why| format!("{}: {why}", SnapshotPart::UserDataSecrets.label()))
        .collect();
    let reasons = if named.is_empty() {
        // None could be read at all.
        snapshot
            .unreadable
            .iter()
            .filter(|u| u.part == SnapshotPart::UserDataSecrets)
            .map(ToString::to_string)
            .collect()
    } else {
        named
    };
    anyhow::bail!("{}", reasons.join("; "))
}

/// Reads the MachineSets of `namespace` and their user-data secrets (by name; the
/// Infrastructure for the managed guard) and runs the guards; fails when a secret to
/// migrate is unreadable.
async fn open(params: &Params, meta: &AnsibleMeta) -> Result<(Step, Snapshot)> {
    let sel = Selection {
        namespace: params.ns.namespace.clone(),
        user_data_secrets: params.secrets.clone(),
        ..Selection::default()
    };
    let observation = Observation {
        selection: &sel,
        reads: Reads {
            user_data_secrets: true,
            ..Reads::MIN
        },
        needed: &[SnapshotPart::Infrastructure],
        gate: Some(&params.gate),
    };
    let guards = |s: &Snapshot| {
        secrets_readable(s, &params.secrets)?;
        standard_guards(s, &observation, &params.write)
    };
    let (sel, reads) = (observation.selection, observation.reads);
    let target = Target {
        module: StubIgnition::NAME,
        what: "object(s)",
        connection: &params.connection,
        write: &params.write,
        meta,
    };
    Step::open_with(target, sel, reads, guards).await
}

/// `path` mode (bare metal / UPI): migrates a local Ignition file, recording its old
/// content first; with `dest`, writes there and leaves `path` alone.
async fn run_file(params: &Params, path: &Path, check_mode: bool) -> Result<ModuleOutcome<Output>> {
    let run_id = params.write.record.run_id();
    let store = params.write.record.store(None, &params.ns.namespace)?;
    // A real run holds the record file's lock from before it reads the stub to the end.
    let record = &params.write.record;
    let lock = (record.lock(&store, &run_id, StubIgnition::NAME, !check_mode)).await?;
    let old = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let (report, new) = migrate_stub(&path.display().to_string(), &old, params.target_version)
        .with_context(|| format!("{} was left untouched", path.display()))?;
    let dest = params.dest.clone().unwrap_or_else(|| path.to_path_buf());
    let writer = store.writer(&run_id);
    let (msg, diff) = match (&new, check_mode) {
        (None, _) => {
            let version = report.from_version.as_deref().unwrap_or("3.x");
            let msg = format!("{} is already Ignition {version}", path.display());
            (msg, Vec::new())
        }
        (Some(_), true) => (
            format!(
                "would migrate {} to Ignition {}",
                dest.display(),
                params.target_version
            ),
            vec![file_diff(&dest, &report)],
        ),
        (Some(new), false) => {
            write_file(&writer, path, &dest, &old, new).await?;
            let msg = format!(
                "migrated {} to Ignition {}",
                dest.display(),
                params.target_version
            );
            (msg, vec![file_diff(&dest, &report)])
        }
    };
    if let Some(lock) = lock {
        lock.release().await;
    }
    Ok(ModuleOutcome {
        changed: report.changed,
        failed: false,
        msg,
        warnings: Vec::new(),
        diff,
        output: Output {
            stubs: vec![report],
            run: RunRecord {
                run_id,
                record: writer.location(),
                server_dry_run: None,
            },
        },
    })
}

/// The diff of a migrated file: its digests before and after (never the content).
fn file_diff(dest: &Path, report: &StubReport) -> DiffEntry {
    DiffEntry {
        before_header: dest.display().to_string(),
        after_header: dest.display().to_string(),
        before: Value::String(report.before.clone().unwrap_or_default()),
        after: Value::String(report.after.clone().unwrap_or_default()),
    }
}

/// Writes the migrated stub `new` to `dest`: record first (the old content of `dest`),
/// then the `.bak` copy of `path` (when migrating in place), then the file (atomically).
async fn write_file(
    writer: &RunWriter,
    path: &Path,
    dest: &Path,
    old: &[u8],
    new: &[u8],
) -> Result<()> {
    let b64 = |b: &[u8]| Value::String(base64::engine::general_purpose::STANDARD.encode(b));
    let dest_old = if dest == path {
        old.to_vec()
    } else {
        std::fs::read(dest).unwrap_or_default()
    };
    let before = if dest.exists() {
        b64(&dest_old)
    } else {
        Value::Null
    };
    let dest_name = dest.display().to_string();
    let entry = file_entry(
        writer.run_id(),
        &now_rfc3339(),
        StubIgnition::NAME,
        &dest_name,
        before,
        b64(new),
    );
    writer.append(vec![entry]).await?;
    if dest == path {
        let bak = PathBuf::from(format!("{}.bak", path.display()));
        std::fs::write(&bak, old).with_context(|| format!("writing {}", bak.display()))?;
    }
    crate::kube::record_store::write_private(dest, new)?;
    writer.settle(&[], RunState::Applied).await
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
        let (step, snapshot) = open(&params, &ctx.meta).await?;
        let migration = StubMigration::new(
            &params.secrets,
            &snapshot.machinesets,
            StubOptions {
                target: params.target_version,
                create_new: params.create_new,
            },
        );
        // Plan everything first: one bad secret fails the run before any write.
        let plan = migration
            .plan(&snapshot.user_data_secrets, &params.ns.namespace)
            .map_err(anyhow::Error::from)?;
        let replan = |fresh: &Value| Ok(migration.replan(fresh)?);
        let out = step
            .execute(plan, &ctx.meta, &replan, |stubs, _, step| Output {
                stubs,
                run: step.run_record(),
            })
            .await;
        Ok(out)
    }
}
