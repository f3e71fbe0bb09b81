//! `ocp-bootimage audit`: the `bootimage_info` module with flags instead of JSON,
//! rendered as a table, JSON or YAML.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde_json::{json, Map, Value};

use super::table;
use crate::ansible::ModuleEntry;
use crate::modules::bootimage_info::BootimageInfo;

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

/// Runs the audit and prints it.
pub fn run(a: &AuditArgs) -> ExitCode {
    let raw = match audit_args_json(a) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let result = ModuleEntry::of::<BootimageInfo>().run_blocking(&raw);
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
