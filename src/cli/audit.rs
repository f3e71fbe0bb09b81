//! `ocp-bootimage audit`: the `bootimage_info` module with flags instead of JSON. The
//! flags are the option groups themselves (`options.rs`),
//! serialized back into module arguments, so the audit goes through the same
//! validation as Ansible mode; the table renders the typed report. With several
//! targets (`--kubeconfig`, `--context`, `--dump-dir` repeated, `--all-contexts`), a
//! `NAME=`, a fleet form (`-o junit|html|prometheus`) or `--report-dir`, it audits a
//! fleet (`cli::fleet`) and writes the fleet report's forms (`report`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, ArgMatches, Args, FromArgMatches, ValueEnum};
use serde_json::{json, Map, Value};

use super::fleet::{self, FleetOptions, TargetFlags};
use super::report;
use super::table::Layout;
use crate::ansible::entry::block_on;
use crate::ansible::runner::run_module_typed;
use crate::ansible::ModuleResult;
use crate::modules::bootimage_info::BootimageInfo;
use crate::options::ConnectionParams;
use crate::options::{DumpParams, RecordLocation, SelectionParams, StreamParams};
use crate::report::Form;

/// Output format of `audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditOutput {
    Json,
    Yaml,
    /// Plain columns, the useful ones (as `kubectl get`).
    Table,
    /// The table with every column (as `kubectl get -o wide`).
    Wide,
    /// The fleet report as JUnit XML (a testsuite per cluster, a testcase per check).
    Junit,
    /// The fleet report as one self-contained HTML page.
    Html,
    /// The fleet report in the Prometheus text format.
    Prometheus,
}

impl AuditOutput {
    /// The format of a single audit (None: a fleet form).
    fn single(self) -> Option<Output> {
        match self {
            AuditOutput::Json => Some(Output::Json),
            AuditOutput::Yaml => Some(Output::Yaml),
            AuditOutput::Table => Some(Output::Table),
            AuditOutput::Wide => Some(Output::Wide),
            AuditOutput::Junit | AuditOutput::Html | AuditOutput::Prometheus => None,
        }
    }

    /// The fleet report's form.
    fn form(self) -> Form {
        match self {
            AuditOutput::Json => Form::Json,
            AuditOutput::Yaml => Form::Yaml,
            AuditOutput::Table | AuditOutput::Wide => Form::Table,
            AuditOutput::Junit => Form::Junit,
            AuditOutput::Html => Form::Html,
            AuditOutput::Prometheus => Form::Prometheus,
        }
    }
}

/// Output format of a single-cluster report (`audit` of one cluster, `runs`).
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
    /// with every column; `junit`, `html`, `prometheus`: forms of the fleet report).
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<AuditOutput>,
    /// Audit every context of the kubeconfig(s) (`--kubeconfig`, else `KUBECONFIG` or
    /// `~/.kube/config`) as a fleet.
    #[arg(long, help_heading = "Fleet")]
    pub all_contexts: bool,
    /// Write every form of the fleet report into this directory (`fleet-report.json`,
    /// `.yaml`, `.txt`, `.junit.xml`, `.html`, `.prom`).
    #[arg(long, value_name = "DIR", help_heading = "Fleet")]
    pub report_dir: Option<PathBuf>,
    /// Clusters audited at once.
    #[arg(long, value_name = "N", default_value_t = 16, help_heading = "Fleet")]
    pub concurrency: usize,
    /// Each cluster's time limit, in seconds: a cluster that has not answered by then is
    /// reported as timed out.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 120,
        help_heading = "Fleet"
    )]
    pub timeout: u64,
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

/// `audit`'s command line: [`AuditArgs`] with `--kubeconfig`, `--context` and
/// `--dump-dir` repeatable (each value may start with `NAME=`), read into
/// [`TargetFlags`] before the rest is read as the module's option groups.
#[derive(Debug)]
pub struct AuditCommand {
    pub args: AuditArgs,
    pub targets: TargetFlags,
}

/// The flags that name targets, and what `audit --help` adds to their text.
const TARGET_FLAGS: [(&str, &str); 3] = [
    (
        "kubeconfig",
        "Repeat for a fleet; `NAME=FILE` names the cluster (else: its current context).",
    ),
    (
        "context",
        "Repeat for a fleet; `NAME=CONTEXT` names the cluster (else: the context's name).",
    ),
    (
        "dump_dir",
        "Repeat for a fleet; `NAME=DIR` names the cluster (else: the directory's name).",
    ),
];

impl Args for AuditCommand {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        TARGET_FLAGS
            .iter()
            .fold(AuditArgs::augment_args(cmd), |cmd, (id, more)| {
                cmd.mut_arg(*id, |a| {
                    let help = a
                        .get_help()
                        .map(|h| format!("{h}. {more}"))
                        .unwrap_or_default();
                    a.action(ArgAction::Append)
                        .value_parser(clap::value_parser!(String))
                        .help(help)
                })
            })
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for AuditCommand {
    fn from_arg_matches_mut(m: &mut ArgMatches) -> Result<Self, clap::Error> {
        let mut take = |id: &str| -> Vec<String> {
            m.try_remove_many::<String>(id)
                .ok()
                .flatten()
                .map(Iterator::collect)
                .unwrap_or_default()
        };
        let kubeconfigs = take("kubeconfig");
        let contexts = take("context");
        let dump_dirs = take("dump_dir");
        let args = AuditArgs::from_arg_matches_mut(m)?;
        let targets = TargetFlags {
            kubeconfigs,
            contexts,
            dump_dirs,
            all_contexts: args.all_contexts,
        };
        Ok(AuditCommand { args, targets })
    }

    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        Self::from_arg_matches_mut(&mut m.clone())
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl AuditCommand {
    /// Whether this is a fleet audit (see the file's header).
    fn is_fleet(&self) -> bool {
        self.targets.is_fleet()
            || self.args.report_dir.is_some()
            || self.args.output.is_some_and(|o| o.single().is_none())
    }

    /// The module arguments with the one target's flags set.
    fn single_args(&self) -> Result<Value, serde_json::Error> {
        let mut args = module_args(&self.args)?;
        let one = |v: &[String]| v.first().map_or(Value::Null, |s| json!(s));
        if let Some(obj) = args.as_object_mut() {
            obj.insert("kubeconfig".into(), one(&self.targets.kubeconfigs));
            obj.insert("context".into(), one(&self.targets.contexts));
            obj.insert("dump_dir".into(), one(&self.targets.dump_dirs));
        }
        Ok(args)
    }
}

/// Runs the audit (of one cluster, or of a fleet) and prints it.
pub fn run(cmd: &AuditCommand) -> ExitCode {
    if cmd.is_fleet() {
        return run_fleet(cmd);
    }
    let a = &cmd.args;
    let raw = match cmd.single_args() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let env = |k: &str| std::env::var(k).ok();
    let (result, report) = block_on(run_module_typed::<BootimageInfo>(&raw, &env))
        .unwrap_or_else(|e| (ModuleResult::failure(e), None));
    let format = format_or_default(a.output.and_then(AuditOutput::single));
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

/// Audits the fleet the flags name, writes `--report-dir` and prints the `-o` form;
/// exits 0 (all compliant), 1 (some not compliant, or unknown without
/// `--allow-unknown`) or 2 (some not audited, or wrong flags).
fn run_fleet(cmd: &AuditCommand) -> ExitCode {
    let a = &cmd.args;
    let env = |k: &str| std::env::var(k).ok();
    let prepared = fleet::resolve(&cmd.targets, &env).and_then(|targets| {
        if targets.is_empty() {
            return Err(
                "no target: give --kubeconfig, --context, --all-contexts or --dump-dir".into(),
            );
        }
        module_args(a)
            .map(|base| (targets, base))
            .map_err(|e| e.to_string())
    });
    let (targets, base) = match prepared {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let options = FleetOptions {
        concurrency: a.concurrency,
        timeout: Duration::from_secs(a.timeout),
    };
    let fleet = match fleet::audit(targets, &base, options, &env) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = &a.report_dir {
        match crate::report::write_dir(dir, &fleet, &Form::ALL) {
            Ok(paths) => paths
                .iter()
                .for_each(|p| eprintln!("wrote {}", p.display())),
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitCode::from(2);
            }
        }
    }
    let form = match a.output {
        Some(o) => Some(o.form()),
        None if a.report_dir.is_some() => None,
        None if std::io::stdout().is_terminal() => Some(Form::Table),
        None => Some(Form::Json),
    };
    if let Some(form) = form {
        out!("{}", crate::report::render(form, &fleet));
    } else {
        outln!(
            "fleet: {} ({} cluster(s))",
            fleet.verdict.as_str(),
            fleet.summary.clusters
        );
    }
    ExitCode::from(fleet.verdict.exit_code(a.allow_unknown))
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
        args: AuditCommand,
    }

    fn args_of(argv: &[&str]) -> Value {
        let a = Audit::try_parse_from(std::iter::once("audit").chain(argv.iter().copied()))
            .expect("parses");
        a.args.single_args().expect("serializes")
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
