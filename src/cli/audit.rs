//! `ocp-bootimage audit`: the `bootimage_info` module with flags instead of JSON. The
//! flags are the option groups themselves (`options.rs`),
//! serialized back into module arguments, so the audit goes through the same
//! validation as Ansible mode; the table renders the typed report.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde_json::{json, Map, Value};

use super::report;
use super::table::Layout;
use crate::ansible::entry::block_on;
use crate::ansible::runner::run_module_typed;
use crate::ansible::ModuleResult;
use crate::modules::bootimage_info::BootimageInfo;
use crate::options::ConnectionParams;
use crate::options::{DumpParams, RecordLocation, SelectionParams, StreamParams};

/// Output format of `audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Json,
    Yaml,
    /// Plain columns, the useful ones (as `kubectl get`).
    Table,
    /// The table with every column (as `kubectl get -o wide`).
    Wide,
}

impl Output {
    /// The table layout of this format (None: JSON or YAML).
    pub fn layout(self) -> Option<Layout> {
        match self {
            Output::Table => Some(Layout::for_stdout(false)),
            Output::Wide => Some(Layout::for_stdout(true)),
            Output::Json | Output::Yaml => None,
        }
    }
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub dump: DumpParams,
    #[command(flatten)]
    pub stream: StreamParams,
    #[command(flatten)]
    pub selection: SelectionParams,
    /// Also read what each MachineSet's youngest node booted (machine-config-daemon logs).
    #[arg(long)]
    pub nodes: bool,
    /// What to audit besides the MachineSets: `all` (default), `min`, `stubs`,
    /// `certificate`, `autoscaling`, `!stubs`, … (comma-separated or repeated; as
    /// `gather_subset` of `bootimage_info`).
    #[arg(long, value_name = "PART", value_delimiter = ',')]
    pub gather: Vec<String>,
    /// Exit 1 unless the verdict is compliant (as `fail_on_noncompliant` of `bootimage_info`).
    #[arg(long)]
    pub fail_on_noncompliant: bool,
    /// With --fail-on-noncompliant: an unknown verdict exits 0 (as `allow_unknown`).
    #[arg(long)]
    pub allow_unknown: bool,
    /// Also show the last run of the rollback record, and warn when it did not finish
    /// (as `last_run` of `bootimage_info`).
    #[arg(long)]
    pub last_run: bool,
    #[command(flatten, next_help_heading = "Rollback record (with --last-run)")]
    pub record: RecordLocation,
    /// Output format (default: table on a terminal, JSON otherwise; `wide`: the table
    /// with every column).
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<Output>,
    #[command(flatten, next_help_heading = "Cluster connection")]
    pub connection: ConnectionParams,
}

/// The arguments of `bootimage_info`: the option groups as the module takes them (an
/// option not given is null, which the validator reads as "not given"), and the flags
/// of `audit` itself.
fn module_args(a: &AuditArgs) -> Result<Value, serde_json::Error> {
    let mut args = Map::new();
    for group in [
        serde_json::to_value(&a.dump)?,
        serde_json::to_value(&a.stream)?,
        serde_json::to_value(&a.selection)?,
        serde_json::to_value(&a.connection)?,
        serde_json::to_value(&a.record)?,
    ] {
        if let Value::Object(options) = group {
            args.extend(options);
        }
    }
    if a.nodes {
        args.insert("nodes".into(), json!(true));
    }
    if a.last_run {
        args.insert("last_run".into(), json!(true));
    }
    if !a.gather.is_empty() {
        args.insert("gather_subset".into(), json!(a.gather));
    }
    args.insert("fail_on_noncompliant".into(), json!(a.fail_on_noncompliant));
    if a.allow_unknown {
        args.insert("allow_unknown".into(), json!(true));
    }
    Ok(Value::Object(args))
}

/// Runs the audit and prints it.
pub fn run(a: &AuditArgs) -> ExitCode {
    let raw = match module_args(a) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let env = |k: &str| std::env::var(k).ok();
    let (result, report) = block_on(run_module_typed::<BootimageInfo>(&raw, &env))
        .unwrap_or_else(|e| (ModuleResult::failure(e), None));
    let format = format_or_default(a.output);
    let code = if result.failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    match (format.layout(), &report) {
        (Some(layout), Some(report)) => {
            out!(
                "{}",
                report::render(report, &result.msg, &result.warnings, layout)
            )
        }
        (Some(_), None) => eprintln!("error: {}", result.msg),
        (None, _) => print_structured(format, result),
    }
    code
}

/// The output format asked for, else a table on a terminal and JSON otherwise.
pub fn format_or_default(asked: Option<Output>) -> Output {
    asked.unwrap_or(if std::io::stdout().is_terminal() {
        Output::Table
    } else {
        Output::Json
    })
}

/// Prints a module result as JSON or YAML, without its `invocation`.
pub fn print_structured(format: Output, result: ModuleResult) {
    let mut value = result.into_json();
    if let Some(obj) = value.as_object_mut() {
        obj.remove("invocation");
    }
    if format == Output::Json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        out!("{}", serde_yaml::to_string(&value).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Audit {
        #[command(flatten)]
        args: AuditArgs,
    }

    fn args_of(argv: &[&str]) -> Value {
        let a = Audit::try_parse_from(std::iter::once("audit").chain(argv.iter().copied()))
            .expect("parses");
        module_args(&a.args).expect("serializes")
    }

    #[test]
    fn old_and_new_flag_spellings_give_the_same_module_args() {
        let old = args_of(&[
            "--from-dir=d",
            "--machineset=a",
            "--machineset=b",
            "--selector=x=y",
            "--image-build=i=1",
        ]);
        let new = args_of(&[
            "--dump-dir=d",
            "--machinesets=a,b",
            "-l",
            "x=y",
            "--image-builds",
            "i=1",
        ]);
        assert_eq!(old, new);
        assert_eq!(old["dump_dir"], "d");
        assert_eq!(old["machinesets"], json!(["a", "b"]));
        assert_eq!(old["label_selector"], "x=y");
        assert_eq!(old["image_builds"], json!({"i": "1"}));
        assert_eq!(old["kubeconfig"], Value::Null);
        assert_eq!(old["fail_on_noncompliant"], false);
    }
}
