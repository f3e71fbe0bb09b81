//! The client built from the connection options ([`ConnectionParams`], declared with
//! the other option groups), resolved like kubernetes.core's.
//!
//! Precedence: module option, then its `K8S_AUTH_*` environment variable
//! (applied by the args validator), then `KUBECONFIG` / `~/.kube/config`, then
//! the in-cluster service account.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

use super::proxy;
pub use crate::options::ConnectionParams;
use crate::options::KubeconfigSource;

/// A serde error about an inline kubeconfig, without the values it may quote (tokens, keys):
/// only a missing or unknown field's name.
fn shape_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if text.starts_with("missing field") || text.starts_with("unknown field") {
        text.split(", expected")
            .next()
            .unwrap_or_default()
            .to_string()
    } else {
        "a field has the wrong type (`clusters`, `users` and `contexts` are lists)".to_string()
    }
}

/// The default time to wait for an answer from the API server.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The read timeout: `OCP_BOOTIMAGE_TIMEOUT_SECS` (seconds, fractions allowed, > 0) when
/// set and valid, else [`DEFAULT_TIMEOUT`]. Meant for tests of slow servers.
pub fn request_timeout() -> Duration {
    std::env::var("OCP_BOOTIMAGE_TIMEOUT_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 86_400.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// A connected client and the server it talks to (for messages).
#[derive(Clone)]
pub struct Connection {
    pub client: kube::Client,
    pub server: String,
    /// Observing LISTs are quorum reads too (`quorum_read`), not answered from the
    /// watch cache ([`super::client::list`]).
    pub quorum_read: bool,
}

fn read_pem_certs(path: &PathBuf) -> Result<Vec<Vec<u8>>> {
    let pem = std::fs::read(path).with_context(|| format!("reading ca_cert {}", path.display()))?;
    let mut ders = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(&pem) {
        let block = block.map_err(|_| {
            anyhow::anyhow!("ca_cert {} is not a PEM certificate file", path.display())
        })?;
        if block.label == "CERTIFICATE" {
            ders.push(block.contents);
        }
    }
    if ders.is_empty() {
        anyhow::bail!("ca_cert {} holds no CERTIFICATE block", path.display());
    }
    Ok(ders)
}

impl ConnectionParams {
    /// Builds the kube client configuration from these options.
    pub async fn config(&self) -> Result<kube::Config> {
        use kube::config::{KubeConfigOptions, Kubeconfig};
        let options = KubeConfigOptions {
            context: self.context.clone(),
            ..KubeConfigOptions::default()
        };
        let mut config = if let Some(source) = &self.kubeconfig {
            let kc = match source {
                KubeconfigSource::Path(path) => Kubeconfig::read_from(path)
                    .with_context(|| format!("reading kubeconfig {}", path.display()))?,
                // Never the document in a message: it may hold tokens and keys.
                KubeconfigSource::Inline(doc) => {
                    serde_json::from_value(serde_json::Value::Object(doc.clone())).map_err(|e| {
                        anyhow::anyhow!(
                            "the inline kubeconfig is not a kubeconfig: {}",
                            shape_error(&e)
                        )
                    })?
                }
            };
            kube::Config::from_custom_kubeconfig(kc, &options)
                .await
                .with_context(|| format!("loading kubeconfig {}", source.describe()))?
        } else if let Some(host) = &self.host {
            kube::Config::new(
                host.parse()
                    .with_context(|| format!("host {host:?} is not a valid URL"))?,
            )
        } else if self.context.is_some() {
            kube::Config::from_kubeconfig(&options)
                .await
                .context("loading the default kubeconfig (KUBECONFIG or ~/.kube/config)")?
        } else {
            kube::Config::infer().await.context(
                "no cluster connection: give `kubeconfig`/`host` (or K8S_AUTH_KUBECONFIG, \
                 K8S_AUTH_HOST, KUBECONFIG), or `dump_dir` to read a cluster dump",
            )?
        };
        if let Some(host) = &self.host {
            config.cluster_url = host
                .parse()
                .with_context(|| format!("host {host:?} is not a valid URL"))?;
        }
        if let Some(key) = &self.api_key {
            config.auth_info.token = Some(key.clone().into());
            config.auth_info.client_certificate = None;
            config.auth_info.client_certificate_data = None;
            config.auth_info.client_key = None;
            config.auth_info.client_key_data = None;
            // kube-rs would prefer a kubeconfig's basic auth to the token.
            config.auth_info.username = None;
            config.auth_info.password = None;
        } else if let (Some(user), Some(password)) = (&self.username, &self.password) {
            config.auth_info.username = Some(user.clone());
            config.auth_info.password = Some(password.clone().into());
            config.auth_info.token = None;
            config.auth_info.token_file = None;
            config.auth_info.exec = None;
            config.auth_info.auth_provider = None;
        } else if self.username.is_some() != self.password.is_some() {
            anyhow::bail!("basic authentication needs both `username` and `password`");
        }
        if self.validate_certs == Some(false) {
            config.accept_invalid_certs = true;
        }
        if let Some(ca) = &self.ca_cert {
            config.root_cert = Some(read_pem_certs(ca)?);
        }
        if let Some(cert) = &self.client_cert {
            config.auth_info.client_certificate = Some(cert.display().to_string());
            config.auth_info.client_certificate_data = None;
        }
        if let Some(key) = &self.client_key {
            config.auth_info.client_key = Some(key.display().to_string());
            config.auth_info.client_key_data = None;
        }
        if let Some(proxy) = &self.proxy {
            config.proxy_url = Some(
                proxy
                    .parse()
                    .with_context(|| format!("proxy {proxy:?} is not a valid URL"))?,
            );
        }
        let headers = self
            .proxy_headers
            .clone()
            .unwrap_or_default()
            .with_env_fallbacks(&|k| std::env::var(k).ok());
        proxy::apply(&mut config, self.no_proxy.as_deref(), &headers)?;
        if let Some(user) = &self.impersonate_user {
            config.auth_info.impersonate = Some(user.clone());
        }
        if let Some(groups) = &self.impersonate_groups {
            config.auth_info.impersonate_groups = Some(groups.clone());
        }
        config.connect_timeout = Some(Duration::from_secs(10));
        config.read_timeout = Some(request_timeout());
        // Our own retries instead (`client::retrying`): kube-rs's layer retries writes
        // too, up to 15 times with backoff up to 1000 s.
        config.default_retry = false;
        Ok(config)
    }

    /// Connects (no request is made yet).
    pub async fn connect(&self) -> Result<Connection> {
        let mut config = self.config().await?;
        if config.root_cert.is_none() {
            config.root_cert = system_roots().cloned();
        }
        let server = config.cluster_url.to_string();
        let client = kube::Client::try_from(config)
            .with_context(|| format!("creating a client for {server}"))?;
        Ok(Connection {
            client,
            server,
            quorum_read: self.quorum_read.unwrap_or(false),
        })
    }
}

/// The system's CA certificates (DER), read once per process: without a CA in the
/// kubeconfig, kube-rs would read and decode every PEM file of the system store again for
/// each client, and a fleet audit makes one client per cluster. None when the store
/// cannot be read or is empty: kube-rs then reads it itself, and reports why it failed.
fn system_roots() -> Option<&'static Vec<Vec<u8>>> {
    static ROOTS: std::sync::OnceLock<Option<Vec<Vec<u8>>>> = std::sync::OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let ders: Vec<Vec<u8>> = found.certs.iter().map(|c| c.as_ref().to_vec()).collect();
            (!ders.is_empty()).then_some(ders)
        })
        .as_ref()
}
