//! `ocp-bootimage runs`: the `bootimage_runs` module with flags instead of JSON — the
//! runs of the rollback record as a table (or JSON/YAML), and an explicit prune
//! (`--keep N`, `--older-than-days D`; `--check` only shows what it would delete).

use std::process::ExitCode;

use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde_json::json;

use super::audit::{format_or_default, print_structured, Output};
use crate::ansible::entry::block_on;
use crate::ansible::runner::run_module_typed;
use crate::ansible::ModuleResult;
use crate::modules::bootimage_runs::{self, BootimageRuns};

#[derive(Debug, Args)]
pub struct RunsArgs {
    #[command(flatten)]
    pub params: bootimage_runs::Params,
    /// Show what a prune would delete, delete nothing.
    #[arg(long)]
    pub check: bool,
    /// Output format (default: table on a terminal, JSON otherwise).
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<Output>,
}

/// Lists (and, when asked, prunes) the runs and prints them.
pub fn run(a: &RunsArgs) -> ExitCode {
    let mut raw = match serde_json::to_value(&a.params) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if a.check {
        raw["_ansible_check_mode"] = json!(true);
    }
    let env = |k: &str| std::env::var(k).ok();
    let (result, output) = block_on(run_module_typed::<BootimageRuns>(&raw, &env))
        .unwrap_or_else(|e| (ModuleResult::failure(e), None));
    let code = if result.failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    let format = format_or_default(a.output);
    match (format, output) {
        (Output::Table, Some(o)) => out!("{}\n{}\n", render(&o), result.msg),
        (Output::Table, None) => eprintln!("error: {}", result.msg),
        (Output::Json | Output::Yaml, _) => print_structured(format, result),
    }
    code
}

/// One row per run, oldest first.
fn render(o: &bootimage_runs::Output) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header([
        "RUN",
        "STARTED",
        "MODULES",
        "OBJECTS",
        "CHANGES",
        "STATE",
        "ROLLS BACK",
    ]);
    for r in &o.runs {
        t.add_row([
            r.run_id.clone(),
            r.started.clone(),
            r.modules.join(","),
            r.objects.to_string(),
            r.changes.to_string(),
            r.state.as_str().to_string(),
            r.rolls_back.clone().unwrap_or_default(),
        ]);
    }
    format!("{}\n{t}", o.record)
}
