//! The option groups shared by the modules and the CLI, each declared and documented
//! once (ripgrep's one flag list; Ansible doc fragments). A module flattens the groups
//! it needs into its `Params` (serde + JSON Schema: the Ansible options and their docs);
//! the CLI flattens the same structs as clap flags and serializes them back into module
//! arguments, so both front ends go through the same validation.
//!
//! One spelling per option everywhere: the Ansible option `label_selector` is the flag
//! `--label-selector` (older spellings stay as aliases).

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cluster::resources::MACHINE_API_NAMESPACE;

/// Default name of the rollback record (its Secrets are `<record>-<run id>`, its Lease `<record>`).
pub const DEFAULT_RECORD: &str = "ocp-bootimage-rollback";

fn default_namespace() -> String {
    MACHINE_API_NAMESPACE.to_string()
}

fn default_record() -> String {
    DEFAULT_RECORD.to_string()
}

/// Default namespace of the rollback records and the run lock (created by `deploy/rbac.yaml`).
pub const DEFAULT_RECORD_NAMESPACE: &str = "ocp-bootimage";

fn default_record_namespace() -> String {
    DEFAULT_RECORD_NAMESPACE.to_string()
}

/// Options shared by every module that talks to a cluster (the `cluster` action group);
/// the same options are the CLI's connection flags (`--kubeconfig`, `--api-key`, …).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, clap::Args)]
pub struct ConnectionParams {
    /// Path to a kubeconfig file, or (as in kubernetes.core) the kubeconfig itself as a
    /// dict. Without it (and without `host`), `KUBECONFIG`, `~/.kube/config` and then the
    /// in-cluster service account are tried, as kubectl does.
    #[schemars(extend("x-env" = ["K8S_AUTH_KUBECONFIG"], "x-ansible-type" = "raw"))]
    #[arg(long, value_name = "FILE", value_parser = KubeconfigSource::from_arg)]
    pub kubeconfig: Option<KubeconfigSource>,
    /// The kubeconfig context to use (default: the kubeconfig's current context).
    #[schemars(extend("x-env" = ["K8S_AUTH_CONTEXT"]))]
    #[arg(long)]
    pub context: Option<String>,
    /// URL of the Kubernetes API server, e.g. `https://api.cluster.example.com:6443`.
    /// Overrides the kubeconfig's server.
    #[schemars(extend("x-env" = ["K8S_AUTH_HOST"]))]
    #[arg(long, value_name = "URL")]
    pub host: Option<String>,
    /// Bearer token for the API server (e.g. a service account token). Never logged.
    #[schemars(extend("x-env" = ["K8S_AUTH_API_KEY"], "x-no-log" = true))]
    #[arg(long, value_name = "TOKEN")]
    pub api_key: Option<String>,
    /// User name for HTTP basic authentication (clusters configured for it; OpenShift's
    /// OAuth is not: use `api_key`). Ignored when `api_key` is given.
    #[schemars(extend("x-env" = ["K8S_AUTH_USERNAME"]))]
    #[arg(long, value_name = "USER")]
    pub username: Option<String>,
    /// Password for HTTP basic authentication, with `username`. Never logged.
    #[schemars(extend("x-env" = ["K8S_AUTH_PASSWORD"], "x-no-log" = true))]
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// Whether to verify the API server's TLS certificate. `false` accepts any certificate.
    #[schemars(extend("x-env" = ["K8S_AUTH_VERIFY_SSL"], "x-aliases" = ["verify_ssl"]))]
    #[arg(long, alias = "verify-ssl", value_name = "BOOL")]
    pub validate_certs: Option<bool>,
    /// Path to a CA certificate (PEM) that signs the API server's certificate.
    #[schemars(extend("x-env" = ["K8S_AUTH_SSL_CA_CERT"], "x-aliases" = ["ssl_ca_cert"], "x-ansible-type" = "path"))]
    #[arg(long, alias = "ssl-ca-cert", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Path to a client certificate (PEM) for mutual TLS.
    #[schemars(extend("x-env" = ["K8S_AUTH_CERT_FILE"], "x-aliases" = ["cert_file"], "x-ansible-type" = "path"))]
    #[arg(long, alias = "cert-file", value_name = "FILE")]
    pub client_cert: Option<PathBuf>,
    /// Path to the client certificate's private key (PEM). Never logged.
    #[schemars(extend("x-env" = ["K8S_AUTH_KEY_FILE"], "x-aliases" = ["key_file"], "x-no-log" = true, "x-ansible-type" = "path"))]
    #[arg(long, alias = "key-file", value_name = "FILE")]
    pub client_key: Option<PathBuf>,
    /// HTTP proxy URL for API requests, e.g. `http://proxy.example.com:3128`.
    #[schemars(extend("x-env" = ["K8S_AUTH_PROXY"]))]
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// Comma-separated hosts, domains (`.example.com`), IP addresses and CIDRs
    /// (`10.0.0.0/8`) reached without the proxy (`proxy`, the kubeconfig's `proxy-url` or
    /// `HTTPS_PROXY`); `*` bypasses it for every host.
    #[schemars(extend("x-env" = ["K8S_AUTH_NO_PROXY"]))]
    #[arg(long, value_name = "HOSTS")]
    pub no_proxy: Option<String>,
    /// Headers for the HTTP proxy, as kubernetes.core takes them: `proxy_basic_auth`
    /// (`user:password`, the proxy's credentials), `basic_auth` (`user:password`, sent to
    /// the proxy the same way when `proxy_basic_auth` is not given) and `user_agent` (the
    /// `User-Agent` of every request). Each also from `K8S_AUTH_PROXY_HEADERS_<KEY>`
    /// (e.g. `K8S_AUTH_PROXY_HEADERS_USER_AGENT`). CLI: `--proxy-headers user_agent=x/1,…`.
    /// Never logged.
    #[schemars(extend("x-no-log" = true))]
    #[arg(long, value_name = "KEY=VALUE,...", value_parser = ProxyHeaders::from_arg)]
    pub proxy_headers: Option<ProxyHeaders>,
    /// Accepted for kubernetes.core compatibility, with no effect: tokens that expire
    /// (exec plugins, OIDC) are refreshed in memory for the run and the kubeconfig is
    /// never written.
    #[schemars(extend("x-env" = ["K8S_AUTH_PERSIST_CONFIG"]))]
    #[arg(long, value_name = "BOOL")]
    pub persist_config: Option<bool>,
    /// User name to impersonate for API requests.
    #[schemars(extend("x-env" = ["K8S_AUTH_IMPERSONATE_USER"]))]
    #[arg(long, value_name = "USER")]
    pub impersonate_user: Option<String>,
    /// Groups to impersonate for API requests.
    #[schemars(extend("x-env" = ["K8S_AUTH_IMPERSONATE_GROUPS"]))]
    #[arg(long, value_name = "GROUP", value_delimiter = ',')]
    pub impersonate_groups: Option<Vec<String>>,
    /// Read observed objects (the LISTs of MachineSets, autoscalers, Machines, Nodes and
    /// pods) with a quorum read from etcd instead of from the API server's watch cache.
    /// Default `false`: those LISTs carry `resourceVersion=0` (`resourceVersionMatch=NotOlderThan`)
    /// and are answered from the cache, several times faster and without loading etcd; the
    /// cache may lag etcd by a moment, which is safe because every write carries the
    /// `resourceVersion` it was planned from (a stale read ends in a 409 and a re-plan).
    /// Reads that verify this run's own writes (the re-read after a 409, the revert check,
    /// the canary's and the MCS restart's waits, the rollback record and the run lock) are
    /// quorum reads either way. CLI: `--quorum-read` (or `--quorum-read=false`).
    #[schemars(extend("x-env" = ["OCP_BOOTIMAGE_QUORUM_READ"]))]
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub quorum_read: Option<bool>,
}

/// A kubeconfig: a file, or (kubernetes.core's `kubeconfig` as a dict) the document itself.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum KubeconfigSource {
    /// The path of a kubeconfig file.
    Path(PathBuf),
    /// A kubeconfig document (`clusters`, `users`, `contexts`, `current-context`).
    Inline(serde_json::Map<String, serde_json::Value>),
}

impl KubeconfigSource {
    /// The CLI's `--kubeconfig FILE` (a path only).
    fn from_arg(s: &str) -> Result<KubeconfigSource, String> {
        Ok(KubeconfigSource::Path(PathBuf::from(s)))
    }

    /// How messages name it: the path, or `the inline kubeconfig`.
    pub fn describe(&self) -> String {
        match self {
            KubeconfigSource::Path(p) => p.display().to_string(),
            KubeconfigSource::Inline(_) => "the inline kubeconfig".to_string(),
        }
    }
}

impl From<PathBuf> for KubeconfigSource {
    fn from(path: PathBuf) -> KubeconfigSource {
        KubeconfigSource::Path(path)
    }
}

/// kubernetes.core's `proxy_headers` (urllib3's `make_headers` arguments it accepts).
#[derive(Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProxyHeaders {
    /// `user:password` for the proxy (`Proxy-Authorization: Basic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_basic_auth: Option<String>,
    /// `user:password`; sent to the proxy as its credentials when `proxy_basic_auth` is
    /// not given (kubernetes.core sends it on the proxy connection too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<String>,
    /// The `User-Agent` header, e.g. `my-automation/1.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

impl std::fmt::Debug for ProxyHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "<hidden>");
        f.debug_struct("ProxyHeaders")
            .field("proxy_basic_auth", &hidden(&self.proxy_basic_auth))
            .field("basic_auth", &hidden(&self.basic_auth))
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

impl ProxyHeaders {
    /// The CLI's `--proxy-headers key=value,…`.
    fn from_arg(s: &str) -> Result<ProxyHeaders, String> {
        let mut headers = ProxyHeaders::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("expected key=value, got {part:?}"))?;
            let slot = match key.trim() {
                "proxy_basic_auth" => &mut headers.proxy_basic_auth,
                "basic_auth" => &mut headers.basic_auth,
                "user_agent" => &mut headers.user_agent,
                other => {
                    return Err(format!(
                        "unknown proxy header {other:?} (proxy_basic_auth, basic_auth, user_agent)"
                    ))
                }
            };
            *slot = Some(value.trim().to_string());
        }
        Ok(headers)
    }

    /// Fills the keys not given from `K8S_AUTH_PROXY_HEADERS_<KEY>` (kubernetes.core's
    /// fallbacks), read through `env`.
    pub fn with_env_fallbacks(mut self, env: &dyn Fn(&str) -> Option<String>) -> ProxyHeaders {
        let from =
            |key: &str| env(&format!("K8S_AUTH_PROXY_HEADERS_{key}")).filter(|v| !v.is_empty());
        self.proxy_basic_auth = self.proxy_basic_auth.or_else(|| from("PROXY_BASIC_AUTH"));
        self.basic_auth = self.basic_auth.or_else(|| from("BASIC_AUTH"));
        self.user_agent = self.user_agent.or_else(|| from("USER_AGENT"));
        self
    }

    /// The proxy's credentials (`user:password`): `proxy_basic_auth`, else `basic_auth`.
    pub fn proxy_credentials(&self) -> Option<&str> {
        self.proxy_basic_auth
            .as_deref()
            .or(self.basic_auth.as_deref())
    }
}

/// Where the Machine API objects are: every module reads or writes there.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, Args)]
pub struct NamespaceParams {
    /// Namespace of the MachineSets, their user-data secrets and MachineAutoscalers. (The
    /// rollback records are in `record_namespace`; a v1 record kept here by earlier releases
    /// is still read.)
    #[serde(default = "default_namespace")]
    #[arg(long, short = 'n', default_value = MACHINE_API_NAMESPACE)]
    pub namespace: String,
}

impl Default for NamespaceParams {
    fn default() -> NamespaceParams {
        NamespaceParams {
            namespace: default_namespace(),
        }
    }
}

/// Which MachineSets a module works on.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, Args)]
pub struct SelectionParams {
    #[serde(flatten)]
    #[command(flatten)]
    pub namespace: NamespaceParams,
    /// Only these MachineSets (names). Default: every MachineSet in `namespace`.
    #[serde(default)]
    #[arg(
        long,
        visible_alias = "machineset",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub machinesets: Vec<String>,
    /// Only MachineSets matching this label selector
    /// (e.g. `machine.openshift.io/cluster-api-machine-role=worker`).
    #[arg(long, short = 'l', visible_alias = "selector")]
    pub label_selector: Option<String>,
}

impl SelectionParams {
    /// The namespace of the selected MachineSets.
    pub fn namespace(&self) -> &str {
        &self.namespace.namespace
    }
}

/// Where target boot images come from, and what the cluster cannot tell about itself.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, Args)]
pub struct StreamParams {
    /// Stream metadata to take target images from: the output of
    /// `openshift-install coreos print-stream-json`, a legacy pre-4.8 `rhcos.json`, or a
    /// `coreos-bootimages` ConfigMap file. Default: the cluster's ConfigMap
    /// `openshift-machine-config-operator/coreos-bootimages`.
    #[schemars(extend("x-ansible-type" = "path"))]
    #[arg(long, value_name = "FILE")]
    pub stream_file: Option<PathBuf>,
    /// Azure marketplace image metadata to add to the stream (the installer's
    /// `marketplace-rhcos.json` / `marketplace/coreos-*.json`), for MachineSets that
    /// use marketplace images when the stream itself lists none.
    #[schemars(extend("x-ansible-type" = "path"))]
    #[arg(long, value_name = "FILE")]
    pub marketplace_file: Option<PathBuf>,
    /// The OS stream (`rhel-9`, `rhel-10`) of MachineSets without the label
    /// `machineconfiguration.openshift.io/osstream`; a labelled MachineSet always takes its
    /// target from its own OS stream (5.0+ ConfigMaps offer `rhel-9` and `rhel-10`), and one
    /// whose OS stream the metadata does not offer (a custom name) is skipped. A stream file
    /// holds one OS stream, named by the RHEL major of its builds (`9.8.…`, `418.94.…` →
    /// `rhel-9`; `10.2.…` → `rhel-10`), and applies to MachineSets of that OS stream only.
    /// Default: the source's default stream (the ConfigMap's `stream` key, or the file).
    #[arg(long)]
    pub os_stream: Option<String>,
    /// The cluster's architecture (`x86_64`, `aarch64`, `ppc64le`, `s390x`, or the
    /// Kubernetes names `amd64`, `arm64`), when ClusterVersion does not tell it.
    #[arg(long)]
    pub architecture: Option<String>,
    /// Image or template name → build id, for images whose build cannot be read from
    /// the stream or the name (vSphere templates, cluster-local images),
    /// e.g. `{"ocp-cl02-xdqkk-rhcos": "49.84.202110081407-0"}` (on the command line
    /// `--image-builds NAME=BUILD`, repeatable).
    #[serde(default, with = "pairs_as_map")]
    #[schemars(with = "BTreeMap<String, String>")]
    #[arg(long, visible_alias = "image-build", value_name = "NAME=BUILD", value_parser = parse_image_build)]
    pub image_builds: Vec<(String, String)>,
}

/// `image_builds` as a dict in Ansible and in the JSON arguments, kept as pairs so that
/// the command line can give them as repeated `NAME=BUILD` (a later pair wins).
mod pairs_as_map {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(pairs: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
        let map: BTreeMap<&str, &str> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        map.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
        Ok(BTreeMap::<String, String>::deserialize(d)?
            .into_iter()
            .collect())
    }
}

fn parse_image_build(kv: &str) -> Result<(String, String), String> {
    kv.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{kv:?}: expected NAME=BUILD"))
}

/// Reading a cluster dump instead of the API.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, Args)]
pub struct DumpParams {
    /// Read the cluster from a dump directory (YAML/JSON files as `oc get -o yaml` or
    /// `-o json` writes them: single objects, multi-document YAML, `kind: List`, any
    /// layout; pod logs as `.log` files) instead of the API. Connection options are then
    /// ignored.
    #[schemars(extend("x-ansible-type" = "path"))]
    #[arg(long, visible_alias = "from-dir", value_name = "DIR")]
    pub dump_dir: Option<PathBuf>,
}

/// Where the rollback record is (also read by `bootimage_info` for `last_run`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, Args)]
pub struct RecordLocation {
    /// Name of the rollback record: each run's record is the Secret `<record>-<run id>` (gzip
    /// JSON; large runs continue in `<record>-<run id>.2`, …; a run id that is not lower-case
    /// letters, digits and `-` is lower-cased, other characters become `-` and a short hash is
    /// appended) in `record_namespace`, written before the run's first change; the run lock
    /// is the Lease `<record>` there. A v1 record of this name (one Secret for every run, kept
    /// by earlier releases in `namespace`) is still read, from `record_namespace` and then
    /// from `namespace`, so its runs can be rolled back.
    #[serde(default = "default_record")]
    #[arg(long, default_value = DEFAULT_RECORD)]
    pub record: String,
    /// Namespace of the rollback record Secrets and of the run lock (a Lease named `record`):
    /// a namespace of their own, away from the cloud credentials in `openshift-machine-api`.
    /// `deploy/rbac.yaml` creates it and lets the update account write there.
    #[serde(default = "default_record_namespace")]
    #[arg(long, default_value = DEFAULT_RECORD_NAMESPACE)]
    pub record_namespace: String,
    /// Keep the rollback record in this local file instead of Secrets: every run in one JSON
    /// document (created with mode 0600, rewritten atomically; a v1 file is read, and
    /// rewritten as v2 at the next write). The run lock is then an OS lock on
    /// `<record_path>.lock`.
    #[schemars(extend("x-ansible-type" = "path"))]
    #[arg(long, value_name = "FILE")]
    pub record_path: Option<PathBuf>,
}

/// Where the rollback record is, and which run.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, Args)]
pub struct RecordParams {
    #[serde(flatten)]
    #[command(flatten)]
    pub location: RecordLocation,
    /// The run: a changing module records its changes in this run (pass the same value to
    /// every step of an update so that `rollback` restores them at once; default: the
    /// environment variable `OCP_BOOTIMAGE_RUN_ID`, else a new id), and `rollback` restores
    /// it (default: the same, else the last run that is not a rollback). `bootimage_runs`
    /// only names the run lock's holder with it.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Seconds to wait for another run holding the run lock (default 0: fail at once,
    /// naming the holder). Check mode takes no lock. A killed run's Lease expires 15 s after
    /// its last renewal; a lock file is freed when its process exits.
    #[serde(default)]
    #[arg(long, default_value_t = 0)]
    pub lock_timeout: u64,
}

/// Options of every module that changes something.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, Args)]
pub struct WriteParams {
    #[serde(flatten)]
    #[command(flatten)]
    pub record: RecordParams,
    /// Change managed clusters (ROSA, ARO, OSD, hosted control planes) anyway. Their
    /// provider manages boot images; changing them yourself is unsupported.
    #[serde(default)]
    #[arg(long)]
    pub allow_managed: bool,
    /// Seconds to wait after the writes before the changed objects are read again (one
    /// LIST per kind and namespace, a GET for Secrets and singletons) to see whether
    /// another controller wrote its own value back (Hive, Argo CD self-heal, MCO). A
    /// reverted object fails the task with "reverted by another controller", and is not
    /// written again (two writers taking turns is the hot loop MCO guards against,
    /// OCPBUGS-55967). Default 0: read again as soon as the run's writes are done.
    #[serde(default)]
    #[arg(long, default_value_t = 0)]
    pub revert_check_seconds: u64,
    #[serde(flatten)]
    #[command(flatten)]
    pub dry_run: DryRunParams,
}

/// Check mode through the API server (every module that changes cluster objects).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, Args)]
pub struct DryRunParams {
    /// In check mode, also send every planned change to the API server as a dry run
    /// (`dryRun=All`, as kubernetes.core's check mode does): admission (validating
    /// webhooks such as OpenShift's machine-api one, quotas, CEL rules) and validation
    /// judge each change, and nothing is stored. A rejection fails the task, naming the
    /// object and the server's message, as the real run would fail. One request per
    /// planned change, 16 at a time; needs the write verbs of the real run (RBAC). `false`:
    /// check mode only reads. No effect outside check mode.
    #[serde(default = "default_true")]
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub server_dry_run: bool,
}

impl Default for DryRunParams {
    fn default() -> DryRunParams {
        DryRunParams {
            server_dry_run: true,
        }
    }
}

fn default_true() -> bool {
    true
}

/// Options of the steps that change boot images, which wait for a cluster update to end:
/// `machineset_bootimage`, `bootimage_canary`, `stub_ignition` (on Secrets) and
/// `skew_enforcement` (`autoscaling` is not gated: pausing and resuming autoscalers is
/// harmless during an update, and a resume must never be blocked).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, Args)]
pub struct GateParams {
    /// Change boot images even while the cluster updates (ClusterVersion `Progressing=True`,
    /// its newest history entry not `Completed`, or the desired version not the last
    /// completed one) or while the `coreos-bootimages` ConfigMap names another release than
    /// the cluster runs (stale: MCO has not finished its part of the update). By default
    /// these steps refuse then, naming the versions, in check mode too — as the Machine
    /// Config Operator waits for a completed update before it touches boot images
    /// (OCPBUGS-79088).
    #[serde(default)]
    #[arg(long)]
    pub allow_progressing: bool,
}

/// How to reach vCenter (`vsphere_template`, and `rollback` to delete the templates a run
/// imported). The names are vmware.vmware_rest's; community.vmware's `hostname` and
/// `port` are accepted as aliases, and its `VMWARE_*` environment variables as
/// fallbacks. Its `username`, `password` and `validate_certs` are the Kubernetes API's
/// options here (kubernetes.core's): vCenter's are `vcenter_username`,
/// `vcenter_password` and `vcenter_validate_certs` (env `VMWARE_USER`,
/// `VMWARE_PASSWORD`, `VMWARE_VALIDATE_CERTS`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, Args)]
pub struct VsphereParams {
    /// The vCenter to talk to. Default: each MachineSet's `workspace.server` (and each
    /// failure domain's `server`); when given, only templates on this vCenter are made.
    #[schemars(extend("x-env" = ["VMWARE_HOST"], "x-aliases" = ["hostname"]))]
    #[arg(long, env = "VMWARE_HOST", value_name = "HOST")]
    pub vcenter_hostname: Option<String>,
    /// vCenter user name (e.g. `administrator@vsphere.local`).
    #[schemars(extend("x-env" = ["VMWARE_USER"]))]
    #[arg(long, env = "VMWARE_USER", value_name = "USER")]
    pub vcenter_username: Option<String>,
    /// vCenter password. Never logged.
    #[schemars(extend("x-env" = ["VMWARE_PASSWORD"], "x-no-log" = true))]
    #[arg(
        long,
        env = "VMWARE_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub vcenter_password: Option<String>,
    /// vCenter's HTTPS port (default 443).
    #[schemars(extend("x-env" = ["VMWARE_PORT"], "x-aliases" = ["port"]))]
    #[arg(long, env = "VMWARE_PORT", value_name = "PORT")]
    pub vcenter_port: Option<u16>,
    /// Whether to verify vCenter's TLS certificate (default true). `false` accepts any
    /// certificate (a lab vCenter with a self-signed one).
    #[schemars(extend("x-env" = ["VMWARE_VALIDATE_CERTS"]))]
    #[arg(long, env = "VMWARE_VALIDATE_CERTS", value_name = "BOOL")]
    pub vcenter_validate_certs: Option<bool>,
    /// Take the user name and password from the cluster's Secret `kube-system/vsphere-creds`
    /// (keys `<server>.username`, `<server>.password`) when they are not given. Needs `get`
    /// on that Secret (the optional rule in `deploy/rbac.yaml`).
    #[serde(default)]
    #[arg(long)]
    pub vcenter_credentials_from_cluster: bool,
}

/// The swap's guards, shared by `machineset_bootimage` and `vsphere_template` (which
/// makes templates only for the MachineSets the swap will move).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, Args)]
pub struct SwapGuardParams {
    /// Accept a target from a newer OpenShift minor than the cluster's (unsupported: boot
    /// images must not be newer than the cluster).
    #[serde(default)]
    #[arg(long)]
    pub allow_newer: bool,
    /// Also change MachineSets whose boot images the Machine Config Operator manages
    /// (MachineConfiguration `managedBootImages`); by default they are skipped so the tool
    /// never fights MCO.
    #[serde(default)]
    #[arg(long)]
    pub include_mco_managed: bool,
    /// Also change MachineSets another controller manages and would write back: a Hive
    /// machine pool (label `hive.openshift.io/machine-pool`, or `hive.openshift.io/managed:
    /// "true"`), an Argo CD application (annotation `argocd.argoproj.io/tracking-id`, or
    /// label `app.kubernetes.io/instance`). By default they are skipped with the
    /// controller's name: change the image where that controller takes it from. (Not
    /// `rollback`'s `force`, which restores over later changes.)
    #[serde(default)]
    #[arg(long)]
    pub allow_other_controllers: bool,
    /// Allow moving a MachineSet to another OS stream: an explicit `image` that is another
    /// OS stream's build, or an unlabelled MachineSet whose image is a `rhel-9` build given
    /// the `rhel-10` default by `os_stream` (or the reverse). By default such a MachineSet
    /// is skipped with the reason: a MachineSet never moves across OS streams (RHEL 9 ↔ 10)
    /// unless asked. Labelling it `machineconfiguration.openshift.io/osstream: <stream>`
    /// is the other way to move it.
    #[serde(default)]
    #[arg(long)]
    pub allow_stream_change: bool,
}

impl SwapGuardParams {
    /// The swap's settings these guards make (no explicit images, no assumed stubs).
    pub fn swap_options(&self) -> crate::plan::swap::SwapOptions {
        crate::plan::swap::SwapOptions {
            allow_newer: self.allow_newer,
            include_mco_managed: self.include_mco_managed,
            allow_stream_change: self.allow_stream_change,
            allow_other_controllers: self.allow_other_controllers,
            ..Default::default()
        }
    }
}

impl StreamParams {
    /// `image_builds` as a map (a later pair for the same image wins).
    pub fn image_builds(&self) -> BTreeMap<String, String> {
        self.image_builds.iter().cloned().collect()
    }
}
