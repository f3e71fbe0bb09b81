//! `bootimage_runs`: the runs of a rollback record — listed (id, start, modules,
//! objects, state) and, only when asked (`keep`, `older_than_days`), pruned. Pruning is
//! never automatic: the record of a run is what makes it undoable. The choice of runs
//! is the core's [`crate::record::runs_to_prune`]; this file reads, locks and deletes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ansible::{Module, ModuleContext, ModuleError, ModuleOutcome};
use crate::kube::record_store::{RecordStore, Runs};
use crate::options::{ConnectionParams, NamespaceParams, RecordParams};
use crate::record::{runs_to_prune, RunSummary};

/// Options of `bootimage_runs`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, clap::Args)]
pub struct Params {
    #[serde(flatten)]
    #[command(flatten)]
    pub connection: ConnectionParams,
    #[serde(flatten)]
    #[command(flatten)]
    pub ns: NamespaceParams,
    #[serde(flatten)]
    #[command(flatten)]
    pub record: RecordParams,
    /// Prune: keep only the newest `keep` runs (with their rollbacks' records) and delete
    /// the others' records. Runs of a v1 record are neither counted nor deleted. Default:
    /// delete nothing.
    #[serde(default)]
    #[arg(long)]
    pub keep: Option<usize>,
    /// Prune: delete the records of runs started more than this many days ago (with
    /// `keep`, a run is deleted only when both say so). Default: delete nothing.
    #[serde(default)]
    #[arg(long)]
    pub older_than_days: Option<u64>,
}

/// Return values of `bootimage_runs`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Output {
    /// Where the record is (`Secrets ns/record-*` or `file path`).
    pub record: String,
    /// Every run of the record after pruning (in check mode: every run), oldest first.
    pub runs: Vec<RunSummary>,
    /// The run `rollback` restores when given no `run_id`: the newest that is not a
    /// rollback's own (null: none).
    pub last_run: Option<RunSummary>,
    /// The runs whose records were (in check mode: would be) deleted.
    pub pruned: Vec<String>,
}

/// The module.
pub struct BootimageRuns;

impl Module for BootimageRuns {
    const NAME: &'static str = "bootimage_runs";
    const SHORT_DESCRIPTION: &'static str =
        "List the runs of the rollback record, and prune old ones when asked";
    const DESCRIPTION: &'static str = r#"
Lists the runs of the rollback record (one record per run: the Secrets `<record>-<run id>`
in `record_namespace`, the runs of a v1 record, or the runs of a `record_path` file):
id, start, modules, how many objects and field changes, and state — `applying` (a run
that is writing, or was killed while it did), `applied`, `partially-applied`,
`rolled-back`, `partially-rolled-back`. `last_run` is the run `rollback` restores
when given no `run_id`.

Pruning is explicit and never automatic: with `keep` and/or `older_than_days` the
records of older runs are deleted (a deleted run can no longer be rolled back), with the
records of the rollbacks of those runs. Runs of a v1 record share one Secret and are
never pruned one by one. Pruning holds the run lock; check mode reports what it would
delete.
"#;
    const EXAMPLES: &'static str = r#"
- name: What has the tool done on this cluster?
  ocp.bootimage.bootimage_runs:
  register: runs

- name: Keep the records of the last 10 runs
  ocp.bootimage.bootimage_runs:
    keep: 10
"#;
    type Params = Params;
    type Output = Output;

    async fn run(
        params: Params,
        ctx: &ModuleContext,
    ) -> Result<ModuleOutcome<Output>, ModuleError> {
        let (_, store) = (params.record.location)
            .open(&params.connection, &params.ns.namespace)
            .await?;
        let pruning = params.keep.is_some() || params.older_than_days.is_some();
        let take = pruning && !ctx.meta.check_mode;
        let lock = (params.record)
            .lock(&store, &params.record.run_id(), Self::NAME, take)
            .await?;
        let result = list_and_prune(&params, &store, ctx.meta.check_mode).await;
        if let Some(lock) = lock {
            lock.release().await;
        }
        let (runs, pruned) = result?;
        let changed = !pruned.is_empty();
        let msg = match (changed, ctx.meta.check_mode) {
            (false, _) => format!("{} run(s) in {}", runs.list.len(), store.location()),
            (true, true) => format!(
                "would delete the records of {} run(s): {}",
                pruned.len(),
                pruned.join(", ")
            ),
            (true, false) => format!(
                "deleted the records of {} run(s): {}",
                pruned.len(),
                pruned.join(", ")
            ),
        };
        let kept: Vec<RunSummary> = runs
            .list
            .iter()
            .filter(|r| ctx.meta.check_mode || !pruned.contains(&r.run_id))
            .cloned()
            .collect();
        let last_run = crate::record::last_run(&kept).cloned();
        Ok(ModuleOutcome {
            changed,
            failed: false,
            msg,
            warnings: runs.notes.clone(),
            diff: Vec::new(),
            output: Output {
                record: store.location(),
                runs: kept,
                last_run,
                pruned,
            },
        })
    }
}

/// Reads the runs and, when asked and not in check mode, deletes the chosen ones.
async fn list_and_prune(
    params: &Params,
    store: &RecordStore,
    check_mode: bool,
) -> anyhow::Result<(Runs, Vec<String>)> {
    let runs = store.runs().await?;
    let cutoff = params.older_than_days.map(|d| {
        let t = time::OffsetDateTime::now_utc()
            - time::Duration::days(i64::try_from(d).unwrap_or(i64::MAX / 86_400));
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    });
    let pruned = runs_to_prune(&runs.list, params.keep, cutoff.as_deref(), &runs.v1_ids());
    if !check_mode && !pruned.is_empty() {
        store.delete_runs(&runs, &pruned).await?;
    }
    Ok((runs, pruned))
}
