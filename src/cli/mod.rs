//! The command line for people: `ocp-bootimage audit …`, each module as
//! `ocp-bootimage <module> --args-file F | --args JSON`, and `schemas`.
//! Same engine as Ansible mode; only the rendering differs.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{json, Map, Value};

use crate::ansible::ModuleResult;
use crate::modules;

pub mod table;

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
    ($($arg:tt)*) => { write_stdout(&format!($($arg)*)) };
}

macro_rules! outln {
    ($($arg:tt)*) => { write_stdout(&format!("{}\n", format!($($arg)*))) };
}

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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Audit the boot images of a cluster or a cluster dump (read-only).
    Audit(Box<AuditArgs>),
    /// Run the `bootimage_info` module with Ansible-style arguments.
    #[command(name = "bootimage_info")]
    BootimageInfo(ModuleArgs),
    /// Run the `machineset_bootimage` module (swap boot images) with Ansible-style arguments.
    #[command(name = "machineset_bootimage")]
    MachinesetBootimage(ModuleArgs),
    /// Run the `rollback` module (restore a run from the rollback record).
    #[command(name = "rollback")]
    Rollback(ModuleArgs),
    /// Run the `stub_ignition` module (migrate stub Ignition 2.x → 3.x).
    #[command(name = "stub_ignition")]
    StubIgnition(ModuleArgs),
    /// Run the `autoscaling` module (pause or resume MachineAutoscalers) with Ansible-style arguments.
    #[command(name = "autoscaling")]
    Autoscaling(ModuleArgs),
    /// Run the `mcs_cert_info` module (check the machine-config-server certificate, read-only).
    #[command(name = "mcs_cert_info")]
    McsCertInfo(ModuleArgs),
    /// Run the `bootimage_canary` module (boot one machine from the image, check its build).
    #[command(name = "bootimage_canary")]
    BootimageCanary(ModuleArgs),
    /// Print or write the Markdown documentation of every module.
    Docs {
        /// Write `<module>.md` into this directory.
        #[arg(long)]
        write: Option<PathBuf>,
    },
    /// Write the generated parts of the Ansible collection into a collection root:
    /// `plugins/modules/<module>.yml` (DOCUMENTATION, EXAMPLES, RETURN) and `meta/runtime.yml`.
    Collection {
        /// The collection root (`…/ansible_collections/ocp/bootimage`).
        #[arg(long)]
        write: PathBuf,
    },
    /// Print or write the JSON Schemas of every module's input and output.
    Schemas {
        /// Write `<module>.input.json` and `<module>.output.json` into this directory.
        #[arg(long)]
        write: Option<PathBuf>,
    },
}

/// Output format of `audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Json,
    Yaml,
    Table,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Read a cluster dump directory (YAML/JSON as `oc get -o yaml` writes it) instead of the API.
    #[arg(long, value_name = "DIR")]
    pub from_dir: Option<PathBuf>,
    /// Stream metadata file (`openshift-install coreos print-stream-json` output, a legacy
    /// rhcos.json, or a coreos-bootimages ConfigMap). Default: the cluster's ConfigMap.
    #[arg(long, value_name = "FILE")]
    pub stream_file: Option<PathBuf>,
    /// OS stream of a multi-stream ConfigMap (`rhel-9`, `rhel-10`).
    #[arg(long)]
    pub os_stream: Option<String>,
    /// Kubeconfig file (default: $K8S_AUTH_KUBECONFIG, $KUBECONFIG, ~/.kube/config, in-cluster).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context.
    #[arg(long)]
    pub context: Option<String>,
    /// API server URL (overrides the kubeconfig's).
    #[arg(long)]
    pub host: Option<String>,
    /// Namespace of the MachineSets.
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Only this MachineSet (repeatable).
    #[arg(long = "machineset", value_name = "NAME")]
    pub machinesets: Vec<String>,
    /// Only MachineSets matching this label selector.
    #[arg(long, short = 'l')]
    pub selector: Option<String>,
    /// The cluster's architecture when ClusterVersion does not say it.
    #[arg(long)]
    pub architecture: Option<String>,
    /// Map an image/template name to its build id: `NAME=BUILD` (repeatable).
    #[arg(long = "image-build", value_name = "NAME=BUILD")]
    pub image_builds: Vec<String>,
    /// Also read what each MachineSet's youngest node booted (machine-config-daemon logs).
    #[arg(long)]
    pub nodes: bool,
    /// What to audit besides the MachineSets: `all` (default), `min`, `stubs`,
    /// `certificate`, `autoscaling`, `!stubs`, … (comma-separated or repeated; as
    /// `gather_subset` of `bootimage_info`).
    #[arg(long, value_name = "PART", value_delimiter = ',')]
    pub gather: Vec<String>,
    /// Exit 1 when the cluster is not compliant.
    #[arg(long)]
    pub fail_on_noncompliant: bool,
    /// Output format (default: table on a terminal, JSON otherwise).
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<Output>,
}

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

/// Runs a module on a fresh single-threaded runtime (the process runs one module).
pub fn block_on_module(name: &str, raw: &Value) -> ModuleResult {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return ModuleResult::failure(format!("cannot start the async runtime: {e}")),
    };
    let env = |k: &str| std::env::var(k).ok();
    rt.block_on(modules::run_by_name(name, raw, &env))
        .unwrap_or_else(|| ModuleResult::failure(format!("unknown module {name}")))
}

fn audit_args_json(a: &AuditArgs) -> Result<Value, String> {
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    };
    put("dump_dir", a.from_dir.as_ref().map(|p| json!(p)));
    put("stream_file", a.stream_file.as_ref().map(|p| json!(p)));
    put("os_stream", a.os_stream.as_ref().map(|p| json!(p)));
    put("kubeconfig", a.kubeconfig.as_ref().map(|p| json!(p)));
    put("context", a.context.as_ref().map(|p| json!(p)));
    put("host", a.host.as_ref().map(|p| json!(p)));
    put("namespace", a.namespace.as_ref().map(|p| json!(p)));
    put("label_selector", a.selector.as_ref().map(|p| json!(p)));
    put("architecture", a.architecture.as_ref().map(|p| json!(p)));
    if !a.machinesets.is_empty() {
        put("machinesets", Some(json!(a.machinesets)));
    }
    let mut builds = Map::new();
    for kv in &a.image_builds {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("--image-build {kv:?}: expected NAME=BUILD"))?;
        builds.insert(k.to_string(), json!(v));
    }
    if !builds.is_empty() {
        put("image_builds", Some(Value::Object(builds)));
    }
    if a.nodes {
        put("nodes", Some(json!(true)));
    }
    if !a.gather.is_empty() {
        put("gather_subset", Some(json!(a.gather)));
    }
    put("fail_on_noncompliant", Some(json!(a.fail_on_noncompliant)));
    Ok(Value::Object(m))
}

fn run_audit(a: &AuditArgs) -> ExitCode {
    let raw = match audit_args_json(a) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let result = block_on_module("bootimage_info", &raw);
    let format = a.output.unwrap_or(if std::io::stdout().is_terminal() {
        Output::Table
    } else {
        Output::Json
    });
    let failed = result.failed;
    let msg = result.msg.clone();
    let has_machinesets = result.values.contains_key("machinesets");
    let mut value = result.into_json();
    if let Some(obj) = value.as_object_mut() {
        obj.remove("invocation");
    }
    match format {
        Output::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        ),
        Output::Yaml => out!("{}", serde_yaml::to_string(&value).unwrap_or_default()),
        Output::Table => {
            if failed && !has_machinesets {
                eprintln!("error: {msg}");
            } else {
                out!("{}", table::render(&value));
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn run_module_cmd(name: &str, a: &ModuleArgs) -> ExitCode {
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
    let result = block_on_module(name, &raw);
    let code = result.exit_code();
    outln!(
        "{}",
        serde_json::to_string_pretty(&result.into_json()).unwrap_or_default()
    );
    ExitCode::from(u8::try_from(code).unwrap_or(1))
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
    {
        for (stem, schema) in files {
            let text = format!(
                "{}\n",
                serde_json::to_string_pretty(schema.as_value()).unwrap_or_default()
            );
            match dir {
                Some(d) => {
                    let path = d.join(format!("{stem}.json"));
                    if let Err(e) =
                        std::fs::create_dir_all(d).and_then(|_| std::fs::write(&path, text))
                    {
                        eprintln!("error: writing {}: {e}", path.display());
                        return ExitCode::from(1);
                    }
                }
                None => out!("{text}"),
            }
        }
    }
    ExitCode::SUCCESS
}

fn write_docs(dir: Option<&PathBuf>) -> ExitCode {
    for doc in modules::docs() {
        let text = crate::ansible::docs::markdown(&doc);
        match dir {
            Some(d) => {
                let path = d.join(format!("{}.md", doc.name));
                if let Err(e) = std::fs::create_dir_all(d).and_then(|_| std::fs::write(&path, text))
                {
                    eprintln!("error: writing {}: {e}", path.display());
                    return ExitCode::from(1);
                }
            }
            None => outln!("{text}"),
        }
    }
    ExitCode::SUCCESS
}

fn write_collection(root: &std::path::Path) -> ExitCode {
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
        let dir = path
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        if let Err(e) = std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&path, text)) {
            eprintln!("error: writing {}: {e}", path.display());
            return ExitCode::from(1);
        }
        outln!("{}", path.display());
    }
    ExitCode::SUCCESS
}

/// CLI entry point.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Command::Audit(a) => run_audit(a),
        Command::BootimageInfo(a) => run_module_cmd("bootimage_info", a),
        Command::MachinesetBootimage(a) => run_module_cmd("machineset_bootimage", a),
        Command::Rollback(a) => run_module_cmd("rollback", a),
        Command::BootimageCanary(a) => run_module_cmd("bootimage_canary", a),
        Command::StubIgnition(a) => run_module_cmd("stub_ignition", a),
        Command::Autoscaling(a) => run_module_cmd("autoscaling", a),
        Command::McsCertInfo(a) => run_module_cmd("mcs_cert_info", a),
        Command::Schemas { write } => write_schemas(write.as_ref()),
        Command::Docs { write } => write_docs(write.as_ref()),
        Command::Collection { write } => write_collection(write),
    }
}
