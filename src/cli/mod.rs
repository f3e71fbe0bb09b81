//! The command line for people: `ocp-bootimage audit …`, each module of the registry
//! as `ocp-bootimage <module> --args-file F | --args JSON`, and the generators
//! (`schemas`, `docs`, `collection`). An adapter over the `Module` contract like
//! Ansible mode: same modules, same validation; only the rendering differs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgMatches, Args, FromArgMatches, Parser, Subcommand};
use serde_json::{json, Value};

use crate::ansible::{ModuleEntry, ModuleResult};
use crate::modules;

/// Writes to stdout; a closed pipe (`… | head`) ends the program quietly instead of panicking.
fn write_stdout(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::write_stdout(&format!($($arg)*)) };
}

macro_rules! outln {
    ($($arg:tt)*) => { $crate::cli::write_stdout(&format!("{}\n", format!($($arg)*))) };
}

pub mod audit;
pub mod fleet;
pub mod report;
pub mod runs;
pub mod table;

pub use audit::{AuditArgs, AuditCommand, Output};

/// Safe, idempotent OpenShift boot image updates (and audits).
///
/// Run as `<module> <args-file>` (a copy or link named after a module) it is an
/// Ansible module; run with a subcommand it is this CLI.
#[derive(Debug, Parser)]
#[command(name = "ocp-bootimage", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// A subcommand: one of the CLI's own, or a module of the registry.
#[derive(Debug)]
pub enum Command {
    Tool(Tool),
    /// `ocp-bootimage <module> …`: the module with Ansible-style arguments.
    Module(&'static ModuleEntry, ModuleArgs),
}

/// The CLI's own subcommands (help lists `audit`, then the modules, then the others).
#[derive(Debug, Subcommand)]
pub enum Tool {
    /// Audit the boot images of a cluster or a cluster dump (read-only).
    Audit(Box<AuditCommand>),
    /// List the runs of the rollback record; prune old ones with `--keep` / `--older-than-days`.
    Runs(Box<runs::RunsArgs>),
    /// Print or write the Markdown documentation of every module.
    #[command(display_order = 100)]
    Docs {
        /// Write `<module>.md` into this directory.
        #[arg(long)]
        write: Option<PathBuf>,
    },
    /// Write the generated parts of the Ansible collection into a collection root:
    /// `plugins/modules/<module>.yml` (DOCUMENTATION, EXAMPLES, RETURN) and `meta/runtime.yml`.
    #[command(display_order = 101)]
    Collection {
        /// The collection root (`…/ansible_collections/ocp/bootimage`).
        #[arg(long)]
        write: PathBuf,
    },
    /// Print or write the JSON Schemas of every module's input and output.
    #[command(display_order = 102)]
    Schemas {
        /// Write `<module>.input.json` and `<module>.output.json` into this directory.
        #[arg(long)]
        write: Option<PathBuf>,
    },
    /// Print the name of every module, one a line (for scripts).
    #[command(hide = true)]
    Modules,
}

/// The arguments of a module subcommand.
#[derive(Debug, Args)]
pub struct ModuleArgs {
    /// A JSON file with the module's arguments (as Ansible writes it).
    #[arg(long, value_name = "FILE", conflicts_with = "args")]
    pub args_file: Option<PathBuf>,
    /// The module's arguments as a JSON object.
    #[arg(long, value_name = "JSON")]
    pub args: Option<String>,
    /// Check mode: report what would change, change nothing.
    #[arg(long)]
    pub check: bool,
    /// Return before/after diffs.
    #[arg(long)]
    pub diff: bool,
}

/// The subcommand of a module.
fn module_command(m: &ModuleEntry) -> clap::Command {
    // After the args: their doc comment would be the about otherwise.
    ModuleArgs::augment_args(clap::Command::new(m.name))
        .about(m.short_description)
        .long_about(format!(
            "{}.\n\nRuns the `{}` Ansible module with Ansible-style arguments (a JSON object, as \
             Ansible writes the args file) and prints its result as JSON.",
            m.short_description, m.name
        ))
}

impl FromArgMatches for Command {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Command, clap::Error> {
        match matches
            .subcommand()
            .and_then(|(name, sub)| Some((modules::find(name)?, sub)))
        {
            Some((module, sub)) => Ok(Command::Module(module, ModuleArgs::from_arg_matches(sub)?)),
            None => Tool::from_arg_matches(matches).map(Command::Tool),
        }
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Command::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Subcommand for Command {
    fn augment_subcommands(cmd: clap::Command) -> clap::Command {
        modules::MODULES
            .iter()
            .fold(Tool::augment_subcommands(cmd), |cmd, m| {
                cmd.subcommand(module_command(m))
            })
    }

    fn augment_subcommands_for_update(cmd: clap::Command) -> clap::Command {
        Command::augment_subcommands(cmd)
    }

    fn has_subcommand(name: &str) -> bool {
        modules::is_module(name) || Tool::has_subcommand(name)
    }
}

fn run_module_cmd(module: &ModuleEntry, a: &ModuleArgs) -> ExitCode {
    let text = match (&a.args_file, &a.args) {
        (Some(f), _) => match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", f.display());
                return ExitCode::from(2);
            }
        },
        (None, Some(s)) => s.clone(),
        (None, None) => "{}".to_string(),
    };
    let mut raw: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            outln!(
                "{}",
                ModuleResult::failure(format!("arguments are not JSON: {e}")).into_json()
            );
            return ExitCode::from(1);
        }
    };
    if let Some(obj) = raw.as_object_mut() {
        if a.check {
            obj.insert("_ansible_check_mode".into(), json!(true));
        }
        if a.diff {
            obj.insert("_ansible_diff".into(), json!(true));
        }
    }
    let result = module.run_blocking(&raw);
    let code = result.exit_code();
    outln!(
        "{}",
        serde_json::to_string_pretty(&result.into_json()).unwrap_or_default()
    );
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Writes `text` to `path`, creating its directory.
fn write_file(path: &Path, text: &str) -> Result<(), ExitCode> {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    std::fs::create_dir_all(&dir)
        .and_then(|_| std::fs::write(path, text))
        .map_err(|e| {
            eprintln!("error: writing {}: {e}", path.display());
            ExitCode::from(1)
        })
}

/// Writes `(file stem, text)` pairs as `<dir>/<stem>.<ext>`, or without a dir prints
/// each text followed by `separator`.
fn write_all(
    dir: Option<&PathBuf>,
    ext: &str,
    separator: &str,
    files: Vec<(String, String)>,
) -> ExitCode {
    for (stem, text) in files {
        match dir {
            Some(d) => {
                if let Err(code) = write_file(&d.join(format!("{stem}.{ext}")), &text) {
                    return code;
                }
            }
            None => out!("{text}{separator}"),
        }
    }
    ExitCode::SUCCESS
}

fn write_schemas(dir: Option<&PathBuf>) -> ExitCode {
    let mut files: Vec<(String, schemars::Schema)> = Vec::new();
    for (name, input, output) in modules::schemas() {
        files.push((format!("{name}.input"), input));
        files.push((format!("{name}.output"), output));
    }
    for (stem, schema) in modules::extra_schemas() {
        files.push((stem.to_string(), schema));
    }
    let files = files
        .into_iter()
        .map(|(stem, schema)| {
            let text = serde_json::to_string_pretty(schema.as_value()).unwrap_or_default();
            (stem, format!("{text}\n"))
        })
        .collect();
    write_all(dir, "json", "", files)
}

fn write_docs(dir: Option<&PathBuf>) -> ExitCode {
    let files = modules::docs()
        .iter()
        .map(|doc| (doc.name.to_string(), crate::ansible::docs::markdown(doc)))
        .collect();
    write_all(dir, "md", "\n", files)
}

fn write_collection(root: &Path) -> ExitCode {
    let docs = modules::docs();
    let version = env!("CARGO_PKG_VERSION");
    let mut files = vec![(
        root.join("meta/runtime.yml"),
        crate::ansible::docs::runtime_yml(&docs),
    )];
    for doc in &docs {
        files.push((
            root.join(format!("plugins/modules/{}.yml", doc.name)),
            crate::ansible::docs::ansible_sidecar(doc, version),
        ));
    }
    for (path, text) in files {
        if let Err(code) = write_file(&path, &text) {
            return code;
        }
        outln!("{}", path.display());
    }
    ExitCode::SUCCESS
}

/// CLI entry point. Progress is shown on stderr while it is a terminal (Ansible mode
/// never gets here: it shows none).
pub fn main() -> ExitCode {
    use std::io::IsTerminal;
    crate::progress::enable(std::io::stderr().is_terminal());
    match &Cli::parse().command {
        Command::Module(module, a) => run_module_cmd(module, a),
        Command::Tool(Tool::Audit(a)) => audit::run(a),
        Command::Tool(Tool::Runs(a)) => runs::run(a),
        Command::Tool(Tool::Schemas { write }) => write_schemas(write.as_ref()),
        Command::Tool(Tool::Docs { write }) => write_docs(write.as_ref()),
        Command::Tool(Tool::Collection { write }) => write_collection(write),
        Command::Tool(Tool::Modules) => {
            modules::names().for_each(|name| outln!("{name}"));
            ExitCode::SUCCESS
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn every_module_is_a_subcommand_with_its_short_description() {
        let cli = Cli::command();
        cli.clone().debug_assert();
        for m in modules::MODULES {
            let sub = cli.find_subcommand(m.name).expect(m.name);
            assert_eq!(
                sub.get_about().map(|a| a.to_string()).as_deref(),
                Some(m.short_description)
            );
        }
        let parsed = Cli::try_parse_from(["ocp-bootimage", "rollback", "--args", "{}", "--check"])
            .expect("parses");
        assert!(matches!(
            parsed.command,
            Command::Module(m, ModuleArgs { check: true, .. }) if m.name == "rollback"
        ));
    }
}
