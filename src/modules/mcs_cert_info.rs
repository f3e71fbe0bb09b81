//! `mcs_cert_info`: the read-only check of the machine-config-server TLS
//! certificate (Secret `openshift-machine-config-operator/machine-config-server-tls`,
//! or a PEM file): SANs, validity, whether the CA in each stub Ignition secret
//! verifies it, and whether it must be regenerated before new boot images can
//! join. Never changes anything.
//!
//! The check is the core's [`check_certificate`] (the audit's `mcs_certificate`
//! section, one implementation); this file reads and reports.

use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::Context;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::ansible::{Module, ModuleContext, ModuleError, ModuleOutcome};
use crate::cert::McsCertificateReport;
use crate::cluster::{resources, Reads, Selection, Snapshot, SnapshotPart};
use crate::kube::dump;
use crate::kube::observe;
use crate::options::ConnectionParams;
use crate::options::{DumpParams, NamespaceParams};
use crate::plan::mcs::{check_certificate, StubSecretCheck, REGENERATE_PROCEDURE};
use crate::plan::mcs_certificate::{
    plan_mcs_certificate, McsAction, McsObjects, McsOptions, McsState,
};

/// Options of `mcs_cert_info`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Params {
    #[serde(flatten)]
    pub connection: ConnectionParams,
    #[serde(flatten)]
    pub dump: DumpParams,
    /// Check this PEM file (the decoded `tls.crt`) instead of the Secret
    /// `openshift-machine-config-operator/machine-config-server-tls`. The stub secrets for
    /// the CA check still come from `dump_dir` or the cluster; when neither can be read,
    /// the CA check is skipped with a warning.
    #[schemars(extend("x-ansible-type" = "path"))]
    pub path: Option<PathBuf>,
    #[serde(flatten)]
    pub ns: NamespaceParams,
    /// Fail the task when the certificate must be regenerated (no Subject Alternative
    /// Name, or expired).
    #[serde(default)]
    pub fail_if_regeneration_required: bool,
}

/// Return values of `mcs_cert_info`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Output {
    /// Where the certificate came from: `Secret <ns>/<name>` or `file <path>`.
    pub source: String,
    /// The certificate's facts. `ca_verified`: whether a CA of any stub secret issued it
    /// (stub secrets whose CAs are unusable are left out: see their `error`).
    #[serde(flatten)]
    pub certificate: McsCertificateReport,
    /// Whole days until `not_after`; negative when expired.
    pub expires_in_days: i64,
    /// Every user-data secret of `namespace` and whether its CA verifies the certificate.
    pub stub_secrets: Vec<StubSecretCheck>,
    /// The procedure to follow when `regeneration_required` (null otherwise).
    pub regeneration_procedure: Option<String>,
    /// What `mcs_certificate` (default options) would do: `regenerate`, `roll_out`,
    /// `up_to_date`, `check_only` (the MCO rotates it), `skipped` (hosted control plane);
    /// null when it cannot be told (a `path` without a cluster, or its objects unreadable:
    /// see the warnings).
    pub mcs_certificate: Option<WouldDo>,
}

/// What `mcs_certificate` would do, and why.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WouldDo {
    pub action: McsAction,
    pub reasons: Vec<String>,
    /// The hosts its certificate would name.
    pub hostnames: Vec<String>,
}

/// The CA bundle ConfigMap `machine-config-server-ca` (None: not readable; a warning says
/// why). Not the CA Secret: it holds the CA's key, which a read-only check has no business
/// reading (whether a run would reuse the CA does not change what it would do).
async fn ca_bundle(params: &Params, warnings: &mut Vec<String>) -> Option<Option<Value>> {
    use crate::cluster::resources::{CONFIG_MAP, MCO_NAMESPACE};
    use crate::plan::mcs_certificate::CA_NAME;
    if let Some(dir) = &params.dump.dump_dir {
        let d = dump::load(dir).ok()?;
        let found = d
            .of_kind(CONFIG_MAP, Some(MCO_NAMESPACE))
            .into_iter()
            .find(|o| crate::cluster::name_of(o) == CA_NAME);
        return Some(found);
    }
    let read = async {
        let conn = params.connection.connect().await?;
        crate::kube::client::get(&conn, CONFIG_MAP, Some(MCO_NAMESPACE), CA_NAME).await
    };
    match read.await {
        Ok(o) => Some(o),
        Err(e) => {
            if params.path.is_none() {
                warnings.push(format!("what mcs_certificate would do is not known: {e:#}"));
            }
            None
        }
    }
}

/// What `mcs_certificate` with its default options would do on `snapshot`.
fn would_do(
    snapshot: &Snapshot,
    secret: &Value,
    bundle: Option<Value>,
    now: SystemTime,
) -> Result<WouldDo, String> {
    let objects = McsObjects {
        infrastructure: snapshot.infrastructure.as_ref(),
        tls: Some(secret),
        ca_secret: None,
        ca_bundle: bundle.as_ref(),
        root_ca: None,
        stubs: &snapshot.user_data_secrets,
    };
    let options = McsOptions {
        state: McsState::Regenerated,
        renew_within: std::time::Duration::from_secs(365 * 86_400),
        run_id: String::new(),
        now,
    };
    let plan = plan_mcs_certificate(&objects, &Default::default(), &options, None)
        .map_err(|e| e.to_string())?;
    Ok(WouldDo {
        action: plan.report.action,
        reasons: plan.report.reasons,
        hostnames: plan.report.hostnames,
    })
}

/// Whole days from `now` to `not_after` (RFC 3339), rounded down (negative when past).
pub fn days_until(not_after: &str, now: SystemTime) -> anyhow::Result<i64> {
    let end =
        time::OffsetDateTime::parse(not_after, &time::format_description::well_known::Rfc3339)
            .with_context(|| format!("not_after {not_after:?} is not RFC 3339"))?;
    let now = time::OffsetDateTime::from(now);
    Ok((end - now).whole_seconds().div_euclid(86_400))
}

/// The one-line `msg`.
pub fn summary_line(out: &Output) -> String {
    let c = &out.certificate;
    let cn = c.subject_cn.as_deref().unwrap_or("(no CN)");
    if c.regeneration_required {
        let mut why = Vec::new();
        if !c.has_san {
            why.push(
                "it has no Subject Alternative Name (Ignition in RHCOS 4.6+ boot images rejects it)"
                    .to_string(),
            );
        }
        if c.expired {
            why.push(format!("it expired at {}", c.not_after));
        }
        if why.is_empty() {
            why.push(c.reasons.join(" "));
        }
        return format!(
            "the machine-config-server certificate (CN {cn}, {}) must be regenerated before new \
             boot images can join: {}; regenerate it with the mcs_certificate module, or by hand: {REGENERATE_PROCEDURE}",
            out.source,
            why.join("; ")
        );
    }
    let sans: Vec<&str> = c
        .dns_sans
        .iter()
        .chain(c.ip_sans.iter())
        .map(String::as_str)
        .collect();
    let verified: Vec<&str> = out
        .stub_secrets
        .iter()
        .filter(|s| s.ca_verified == Some(true))
        .map(|s| s.name.as_str())
        .collect();
    let ca = match c.ca_verified {
        Some(true) => format!("verified by the CA in {}", verified.join(", ")),
        Some(false) => "NOT verified by the CA of any stub secret".to_string(),
        None => "CA not checked".to_string(),
    };
    format!(
        "the machine-config-server certificate needs no regeneration: CN {cn}, SANs {}, valid \
         until {} ({} days), {ca}",
        sans.join(", "),
        c.not_after,
        out.expires_in_days
    )
}

/// The certificate and the stubs' CAs it is checked against.
const READS: Reads = Reads {
    user_data_secrets: true,
    mcs_certificate: true,
    ..Reads::MIN
};

/// Reads the dump or the cluster; the flag says whether the stub secrets could be read.
async fn observe(params: &Params, warnings: &mut Vec<String>) -> anyhow::Result<(Snapshot, bool)> {
    let sel = Selection {
        namespace: params.ns.namespace.clone(),
        ..Selection::default()
    };
    if let Some(dir) = &params.dump.dump_dir {
        let d = dump::load(dir).with_context(|| format!("dump_dir {}", dir.display()))?;
        return Ok((observe::from_dump(&d, &sel, READS), true));
    }
    let read = async {
        let conn = params.connection.connect().await?;
        observe::from_cluster(&conn, &sel, READS).await
    };
    match (read.await, &params.path) {
        (Ok(s), _) => {
            let readable = s.secrets_readable;
            Ok((s, readable))
        }
        (Err(e), Some(_)) => {
            warnings.push(format!(
                "stub secrets not checked (the cluster could not be read: {e:#}); give \
                 `dump_dir` or connection options to verify the certificate against their CAs"
            ));
            Ok((Snapshot::default(), false))
        }
        (Err(e), None) => Err(e),
    }
}

/// The Secret-shaped value the check reads: the cluster's, or one made from `path`.
fn certificate_secret(params: &Params, snapshot: &Snapshot) -> anyhow::Result<(Value, String)> {
    if let Some(path) = &params.path {
        let pem =
            std::fs::read(path).with_context(|| format!("cannot read path {}", path.display()))?;
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(pem);
        return Ok((
            json!({"data": {"tls.crt": b64}}),
            format!("file {}", path.display()),
        ));
    }
    let source = format!(
        "Secret {}/{}",
        resources::MCO_NAMESPACE,
        resources::MCS_TLS_SECRET
    );
    match &snapshot.mcs_tls_secret {
        Some(s) => Ok((s.clone(), source)),
        None => {
            if let Some(u) = snapshot
                .unreadable
                .iter()
                .find(|u| u.part == SnapshotPart::McsTlsSecret)
            {
                anyhow::bail!("cannot read the {u}");
            }
            let place = if params.dump.dump_dir.is_some() {
                "in the dump"
            } else {
                "on the cluster"
            };
            anyhow::bail!("{source} not found {place}; give `path` to check a PEM file instead")
        }
    }
}

/// The module.
pub struct McsCertInfo;

impl Module for McsCertInfo {
    const NAME: &'static str = "mcs_cert_info";
    const SHORT_DESCRIPTION: &'static str =
        "Check the machine-config-server TLS certificate new boot images must trust (read-only)";
    const DESCRIPTION: &'static str = r#"
Reads the machine-config-server serving certificate (Secret
`openshift-machine-config-operator/machine-config-server-tls`, from the cluster or a
dump, or a PEM file given as `path`) and reports its subject, SANs, validity,
`expires_in_days` and SHA-256 fingerprint, whether the CA embedded in each stub Ignition
(user-data) secret verifies it, and whether it must be regenerated before new boot
images can join: Ignition in RHCOS 4.6 and later boot images rejects a certificate
without a Subject Alternative Name, and nothing can join with an expired one. When it
must be regenerated, `msg` names the procedure (the Red Hat article on regenerating the
machine-config-server CA) and `mcs_certificate` says what the `mcs_certificate` module
(default options) would do about it. The logic is the audit's (`bootimage_info`
`mcs_certificate`), one implementation.

Never changes anything (`changed: false` always). With
`fail_if_regeneration_required: true` the task fails when regeneration is required. The
output never holds certificate, key or CA content: only facts and fingerprints.
"#;
    const EXAMPLES: &'static str = r#"
- name: Stop the update when the machine-config-server certificate must be regenerated
  ocp.bootimage.mcs_cert_info:
    fail_if_regeneration_required: true

- name: Check a certificate file (e.g. on a UPI / bare metal installation)
  ocp.bootimage.mcs_cert_info:
    path: /root/install/machine-config-server.crt
  register: mcs

- name: Check a cluster dump offline
  ocp.bootimage.mcs_cert_info:
    dump_dir: ./must-gather/cluster-dump
"#;
    type Params = Params;
    type Output = Output;

    async fn run(
        params: Params,
        _ctx: &ModuleContext,
    ) -> Result<ModuleOutcome<Output>, ModuleError> {
        let now = SystemTime::now();
        let mut warnings = Vec::new();
        let (snapshot, stubs_read) = observe(&params, &mut warnings).await?;
        warnings.extend(
            snapshot
                .unreadable
                .iter()
                .filter(|u| u.part != SnapshotPart::McsTlsSecret)
                .map(|u| format!("could not read {u}")),
        );
        let (secret, source) = certificate_secret(&params, &snapshot)?;
        let check = check_certificate(
            &secret,
            &snapshot.user_data_secrets,
            stubs_read,
            &params.ns.namespace,
            now,
        )
        .map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
        warnings.extend(check.warnings);
        let mcs_certificate = match ca_bundle(&params, &mut warnings).await {
            Some(ca) if params.path.is_none() => match would_do(&snapshot, &secret, ca, now) {
                Ok(w) => Some(w),
                Err(e) => {
                    warnings.push(format!("what mcs_certificate would do is not known: {e}"));
                    None
                }
            },
            _ => None,
        };
        let (certificate, stub_secrets) = (check.certificate, check.stub_secrets);
        let expires_in_days = days_until(&certificate.not_after, now)?;
        let required = certificate.regeneration_required;
        let output = Output {
            source,
            certificate,
            expires_in_days,
            stub_secrets,
            regeneration_procedure: required.then(|| REGENERATE_PROCEDURE.to_string()),
            mcs_certificate,
        };
        Ok(ModuleOutcome {
            changed: false,
            failed: params.fail_if_regeneration_required && required,
            msg: summary_line(&output),
            warnings,
            diff: Vec::new(),
            output,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn days_are_rounded_down_and_negative_when_past() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000_000); // 2001-09-09T01:46:40Z
        assert_eq!(days_until("2001-09-10T01:46:40Z", now).unwrap(), 1);
        assert_eq!(days_until("2001-09-10T01:46:39Z", now).unwrap(), 0);
        assert_eq!(days_until("2001-09-09T01:46:39Z", now).unwrap(), -1);
        assert!(days_until("yesterday", now).is_err());
    }
}
