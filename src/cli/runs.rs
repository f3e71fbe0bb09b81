//! `ocp-bootimage runs`: the `bootimage_runs` module with flags instead of JSON — the
//! runs of the rollback record as a table (or JSON/YAML), and an explicit prune
//! (`--keep N`, `--older-than-days D`; `--check` only shows what it would delete).

use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use super::audit::{format_or_default, print_structured, Output};
use super::table::{wrap, Layout, Table};
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
    match (format.layout(), output) {
        (Some(layout), Some(o)) => out!(
            "{}{}",
            render(&o, layout),
            wrap(&result.msg, layout.width, 2)
        ),
        (Some(_), None) => eprintln!("error: {}", result.msg),
        (None, _) => print_structured(format, result),
    }
    code
}

/// Where the record is, then one row per run, oldest first: RUN, STARTED, STATE,
/// OBJECTS, and with `-o wide` CHANGES (field changes), MODULES and ROLLS BACK (the run a
/// rollback restored).
fn render(o: &bootimage_runs::Output, layout: Layout) -> String {
    let mut header = vec!["RUN", "STARTED", "STATE", "OBJECTS"];
    if layout.wide {
        header.extend(["CHANGES", "MODULES", "ROLLS BACK"]);
    }
    let mut t = Table::new(&header);
    for r in &o.runs {
        let mut row = vec![
            r.run_id.clone(),
            r.started.clone(),
            r.state.as_str().to_string(),
            r.objects.to_string(),
        ];
        if layout.wide {
            row.extend([
                r.changes.to_string(),
                r.modules.join(","),
                r.rolls_back.clone().unwrap_or_default(),
            ]);
        }
        t.row(row);
    }
    let mut out = wrap(&format!("Record: {}", o.record), layout.width, 2);
    if o.runs.is_empty() {
        out.push_str("No runs found.\n");
    } else {
        out.push_str(&t.render());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{RunState, RunSummary};

    fn run(id: &str, modules: &[&str], state: RunState, rolls_back: Option<&str>) -> RunSummary {
        RunSummary {
            run_id: id.into(),
            started: "2026-12-05T00:28:13Z".into(),
            modules: modules.iter().map(|m| m.to_string()).collect(),
            objects: 4,
            changes: 8,
            state,
            rolls_back: rolls_back.map(str::to_string),
        }
    }

    #[test]
    fn runs_fit_80_columns_and_wide_adds_modules() {
        let o = bootimage_runs::Output {
            record: "Secrets ocp-bootimage/ocp-bootimage-rollback-*".into(),
            runs: vec![
                run(
                    "20261205-002813-ab12",
                    &["autoscaling", "machineset_bootimage"],
                    RunState::Applied,
                    None,
                ),
                run(
                    "20261205-013000-00ff",
                    &["rollback"],
                    RunState::PartiallyRolledBack,
                    Some("20261205-002813-ab12"),
                ),
            ],
            last_run: None,
            pruned: Vec::new(),
        };
        let narrow = render(
            &o,
            Layout {
                wide: false,
                width: 80,
            },
        );
        assert!(narrow.lines().all(|l| l.chars().count() <= 80), "{narrow}");
        assert!(!narrow.contains("machineset_bootimage"), "{narrow}");
        let header = narrow.lines().nth(1).unwrap();
        assert_eq!(
            header.split_whitespace().collect::<Vec<_>>(),
            ["RUN", "STARTED", "STATE", "OBJECTS"]
        );
        let wide = render(
            &o,
            Layout {
                wide: true,
                width: 80,
            },
        );
        let last = wide.lines().last().unwrap();
        assert_eq!(
            last.split_whitespace().collect::<Vec<_>>(),
            [
                "20261205-013000-00ff",
                "2026-12-05T00:28:13Z",
                "partially-rolled-back",
                "4",
                "8",
                "rollback",
                "20261205-002813-ab12"
            ]
        );
        assert!(wide.contains("autoscaling,machineset_bootimage"), "{wide}");
    }
}
