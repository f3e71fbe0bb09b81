//! `mcs_certificate`: the pure planner of regenerating the machine-config-server's
//! serving certificate and rolling its CA out to the stubs, compatibly with `oc adm
//! ocp-certificates regenerate-machine-config-server-serving-cert` (and MCO 4.19+'s
//! rotation), whose objects it reads and writes:
//!
//! - Secret `openshift-machine-config-operator/machine-config-server-ca` (the signer,
//!   `kubernetes.io/tls`, label `auth.openshift.io/managed-certificate-type=signer`),
//!   reused while valid beyond the renewal window, else made anew;
//! - ConfigMap `…/machine-config-server-ca` (`ca-bundle.crt`: the signer and every still
//!   valid CA the stubs and the old bundle carried);
//! - Secret `…/machine-config-server-tls` (`kubernetes.io/tls`, `tls.crt` = certificate +
//!   signer, SANs = the host of `apiServerInternalURI` and the platform's
//!   `apiServerInternalIPs`);
//! - the stub Ignition secrets (first `certificateAuthorities` entry = the bundle) and,
//!   on bare metal, `kube-system/root-ca`.
//!
//! Whether anything is to be done is decided from what is there, so a run stopped
//! half-way is completed by the next (the signer it made is reused) and a finished one
//! plans nothing. Secrets holding a private key are planned as [`KeySecretWrite`]s: their
//! old content goes to a backup Secret beside them, and the record holds only digests.
//! Pure: keys, serial numbers and `now` are parameters.
//!
//! Here: the options, the decision and the plan. `key_secret.rs`: the Secrets with keys,
//! their backups and record entries; `objects.rs`: the objects as oc writes them;
//! `pods.rs`: which MCS pods still serve an older certificate.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::change::ObjectChange;
use crate::cert::analyze::unix_seconds;
use crate::cert::bundle::{ca_bundle, cert_facts, pem_certificates, CertFacts};
use crate::cert::issue::{
    issue_serving, issue_signer, usable_rsa_key, CertAndKey, IssueError, TEN_YEARS,
};
use crate::cert::{analyze_mcs_certificate, ca_pems_from_ignition};
use crate::cluster::resources::{self, CONFIG_MAP, SECRET};
use crate::cluster::{annotation_of, name_of};
use crate::ignition::decode_secret_user_data;
use crate::record::RecordEntry;

mod key_secret;
mod objects;
mod pods;

use key_secret::key_write;
pub use key_secret::{backup_name, restored_from_backup, secret_content_digest, KeySecretWrite};
pub use objects::ca_data_url;
use objects::{bundle_change, root_ca_change, serving_secret, signer_secret, stub_change};
pub use pods::{pod_ready, serving_written_at, stale_mcs_pods};

/// The signer Secret and CA bundle ConfigMap (both named so by oc and the MCO).
pub const CA_NAME: &str = "machine-config-server-ca";
/// Where bare metal keeps a copy of the root CA.
pub const ROOT_CA_NAMESPACE: &str = "kube-system";
pub const ROOT_CA_NAME: &str = "root-ca";
/// The label oc and library-go put on the signer (`signer`) and bundle (`ca-bundle`).
pub const CERT_TYPE_LABEL: &str = "auth.openshift.io/managed-certificate-type";
/// The annotation marking an object the MCO manages (4.19+ rotates the MCS CA itself).
pub const OWNING_COMPONENT: &str = "openshift.io/owning-component";
pub const MCO_COMPONENT: &str = "Machine Config Operator";
/// The annotation naming the run that wrote an object.
pub const RUN_ANNOTATION: &str = "ocp-bootimage.openshift.io/run-id";
/// The annotation of a backup Secret: the digest of what it holds.
pub const DIGEST_ANNOTATION: &str = "ocp-bootimage.openshift.io/sha256";
/// The annotation of a backup Secret: the labels and annotations of the Secret it copies.
pub const ORIGINAL_METADATA_ANNOTATION: &str = "ocp-bootimage.openshift.io/original-metadata";
/// The label of a backup Secret: the Secret it is a copy of.
pub const BACKUP_OF_LABEL: &str = "ocp-bootimage.openshift.io/backup-of";
/// The record kind of a Secret holding a private key (its values are digests; its old
/// content is in a backup Secret beside it).
pub const KEY_SECRET_KIND: &str = "SecretWithKey";
/// The label of the machine-config-server pods.
pub const MCS_POD_SELECTOR: &str = "k8s-app=machine-config-server";

const TLS_TYPE: &str = "kubernetes.io/tls";
const NOT_BEFORE: &str = "auth.openshift.io/certificate-not-before";
const NOT_AFTER: &str = "auth.openshift.io/certificate-not-after";
const HOSTNAMES: &str = "auth.openshift.io/certificate-hostnames";
const ISSUER: &str = "auth.openshift.io/certificate-issuer";

/// `state` of `mcs_certificate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum McsState {
    /// Regenerate when needed: no SAN for the API's internal host, expired, expiring
    /// within `renew_within_days`, or not verified by the stubs' CA.
    #[default]
    Regenerated,
    /// Make a new CA and certificate now (once per `run_id`: a rerun completes it).
    Rotated,
}

/// What the run does, as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum McsAction {
    /// A new certificate (and, when needed, CA) is issued and rolled out.
    Regenerate,
    /// The certificate is fine; only its CA is rolled out to stubs that lack it.
    RollOut,
    /// Nothing to do.
    UpToDate,
    /// The MCO manages the certificate (4.19+): checked, never changed.
    CheckOnly,
    /// A hosted control plane: there is no machine-config-server.
    Skipped,
}

/// The objects the planner reads.
#[derive(Debug, Clone, Copy)]
pub struct McsObjects<'a> {
    pub infrastructure: Option<&'a Value>,
    /// Secret `machine-config-server-tls`.
    pub tls: Option<&'a Value>,
    /// Secret and ConfigMap `machine-config-server-ca`.
    pub ca_secret: Option<&'a Value>,
    pub ca_bundle: Option<&'a Value>,
    /// ConfigMap `kube-system/root-ca`.
    pub root_ca: Option<&'a Value>,
    /// The stub (user-data) secrets, by name.
    pub stubs: &'a BTreeMap<String, Value>,
}

/// What the run may use and how it decides.
#[derive(Debug, Clone)]
pub struct McsOptions {
    pub state: McsState,
    /// Renew what ends within this long.
    pub renew_within: Duration,
    pub run_id: String,
    pub now: SystemTime,
}

/// Fresh key material the shell drew (used only where a new signer or certificate is
/// needed). Keys are RSA PEM; serials positive, at most 20 bytes.
#[derive(Clone)]
pub struct FreshKeys {
    pub signer_key: String,
    pub signer_serial: Vec<u8>,
    pub serving_key: String,
    pub serving_serial: Vec<u8>,
}

impl std::fmt::Debug for FreshKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FreshKeys(hidden)")
    }
}

/// Why no plan can be made (nothing is written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum McsError {
    #[error("Infrastructure `cluster` was not read")]
    NoInfrastructure,
    #[error(
        "Infrastructure `cluster` has no status.apiServerInternalURI: the certificate's host \
         name is unknown"
    )]
    NoInternalUri,
    #[error(
        "Secret {}/{} not found: this cluster has no machine-config-server certificate to \
         regenerate",
        resources::MCO_NAMESPACE,
        resources::MCS_TLS_SECRET
    )]
    NoTlsSecret,
    #[error("the certificate could not be issued: {0}")]
    Issue(#[from] IssueError),
    /// The one backup place of a key Secret holds another run's backup.
    #[error(
        "nothing was changed: backup Secret {}/{name} still holds what run {run} replaced (it \
         is what rolling {run} back restores): roll that run back first, or, once it need \
         never be rolled back, delete the backup (oc -n {} delete secret {name})",
        resources::MCO_NAMESPACE,
        resources::MCO_NAMESPACE
    )]
    BackupTaken { name: String, run: String },
}

/// One stub secret and what happens to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct StubCaReport {
    pub name: String,
    /// `update`, `unchanged` or `skip`.
    pub action: String,
    /// Why it is skipped or what changes.
    pub reason: Option<String>,
}

/// The certificate or signer as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct CertSummary {
    pub subject_cn: Option<String>,
    pub not_after: String,
    pub fingerprint_sha256: String,
    /// `existing` (kept), `new` (made by this run).
    pub source: String,
}

/// What `mcs_certificate` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct McsReport {
    pub action: McsAction,
    /// Why the certificate is (re)issued, or why nothing is done.
    pub reasons: Vec<String>,
    /// The hosts the certificate must name.
    pub hostnames: Vec<String>,
    /// The serving certificate after the run (null when there is none).
    pub certificate: Option<CertSummary>,
    /// The signer after the run (null: none known, e.g. the installer's, whose key is gone).
    pub signer: Option<CertSummary>,
    /// How many certificates the CA bundle rolled out holds.
    pub ca_bundle_certificates: usize,
    pub stubs: Vec<StubCaReport>,
    /// `kube-system/root-ca` on bare metal: `update`, `unchanged`, or null (not touched).
    pub root_ca: Option<String>,
    /// The backup Secrets holding the old key material (in the MCO namespace).
    pub backups: Vec<String>,
}

/// The plan: the key Secrets (signer first, serving certificate last), the other object
/// changes (bundle ConfigMap, stubs, root-ca; applied between the two), and the report.
#[derive(Debug, Clone, PartialEq)]
pub struct McsPlan {
    pub signer: Option<KeySecretWrite>,
    pub changes: Vec<ObjectChange>,
    pub serving: Option<KeySecretWrite>,
    pub report: McsReport,
    pub warnings: Vec<String>,
    /// When the serving certificate in force was written (seconds since the epoch; None:
    /// unknown): MCS pods started before it still serve the old one.
    pub serving_since: Option<i64>,
    /// The CA bundle (PEM) the stubs carry after the run: what the served certificate must
    /// chain to (when no signer is known, the CAs the stubs carry now).
    pub ca_bundle: String,
}

impl McsPlan {
    /// Whether the plan writes anything.
    pub fn writes(&self) -> bool {
        self.signer.is_some() || self.serving.is_some() || !self.changes.is_empty()
    }
}

fn text<'v>(v: &'v Value, pointer: &str) -> Option<&'v str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// A Secret's data value, decoded.
fn data_bytes(secret: &Value, key: &str) -> Option<Vec<u8>> {
    let b64 = secret.get("data")?.get(key)?.as_str()?;
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()
}

fn b64(s: &str) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(s.as_bytes()))
}

fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn parse_rfc3339(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// The hosts the certificate must name: the host of `status.apiServerInternalURI` and,
/// on platforms with in-cluster load balancing, `apiServerInternalIPs` (as oc does).
pub fn mcs_hostnames(infra: &Value) -> Result<Vec<String>, McsError> {
    let uri = text(infra, "/status/apiServerInternalURI")
        .filter(|u| !u.is_empty())
        .ok_or(McsError::NoInternalUri)?;
    let host = uri
        .split("://")
        .nth(1)
        .unwrap_or(uri)
        .split('/')
        .next()
        .unwrap_or_default();
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    if host.is_empty() {
        return Err(McsError::NoInternalUri);
    }
    let mut out = vec![host.to_string()];
    let platform = text(infra, "/status/platformStatus/type").unwrap_or_default();
    let key = match platform {
        "BareMetal" => "baremetal",
        "Ovirt" => "ovirt",
        "OpenStack" => "openstack",
        "VSphere" => "vsphere",
        "Nutanix" => "nutanix",
        _ => return Ok(out),
    };
    let status = infra.pointer(&format!("/status/platformStatus/{key}"));
    let ips: Vec<String> = match status.and_then(|s| s.get("apiServerInternalIPs")) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => status
            .and_then(|s| s.get("apiServerInternalIP"))
            .and_then(Value::as_str)
            .map(|s| vec![s.to_string()])
            .unwrap_or_default(),
    };
    for ip in ips {
        if !ip.is_empty() && !out.contains(&ip) {
            out.push(ip);
        }
    }
    Ok(out)
}

/// Why the MCO manages the certificate (4.19+ with MachineSets), if it does.
fn mco_managed(objects: &McsObjects<'_>) -> Option<String> {
    [
        ("Secret", objects.ca_secret),
        ("ConfigMap", objects.ca_bundle),
    ]
    .into_iter()
    .find(|(_, o)| o.and_then(|o| annotation_of(o, OWNING_COMPONENT)) == Some(MCO_COMPONENT))
    .map(|(kind, _)| {
        format!(
            "the Machine Config Operator rotates this certificate itself ({kind} {CA_NAME} \
                 carries {OWNING_COMPONENT}: {MCO_COMPONENT}): checked only, never changed"
        )
    })
}

/// The CA PEMs each stub carries (by name).
fn stub_cas(stubs: &BTreeMap<String, Value>) -> Vec<Vec<u8>> {
    stubs
        .values()
        .filter_map(|s| decode_secret_user_data(s).ok())
        .filter_map(|u| serde_json::from_slice::<Value>(&u).ok())
        .flat_map(|ign| ca_pems_from_ignition(&ign))
        .collect()
}

/// The existing signer, when it can sign and stays valid beyond the renewal window (and,
/// when rotating, was made by this run).
fn reusable_signer(
    ca_secret: Option<&Value>,
    options: &McsOptions,
    rotate: bool,
) -> Option<(CertAndKey, CertFacts)> {
    let s = ca_secret?;
    if rotate && annotation_of(s, RUN_ANNOTATION) != Some(options.run_id.as_str()) {
        return None;
    }
    let cert = String::from_utf8(data_bytes(s, "tls.crt")?).ok()?;
    let key = String::from_utf8(data_bytes(s, "tls.key")?).ok()?;
    let facts = cert_facts(cert.as_bytes())?;
    let renew_at = unix_seconds(options.now) + options.renew_within.as_secs() as i64;
    if facts.not_after <= renew_at || !usable_rsa_key(&key) {
        return None;
    }
    Some((
        CertAndKey {
            cert_pem: cert,
            key_pem: key,
        },
        facts,
    ))
}

/// Why the serving certificate must be issued anew (empty: it is fine).
fn serving_reasons(
    tls: &Value,
    hostnames: &[String],
    stub_cas: &[Vec<u8>],
    signer: Option<&CertAndKey>,
    options: &McsOptions,
) -> Vec<String> {
    let Some(crt) = data_bytes(tls, "tls.crt") else {
        return vec!["its tls.crt is missing or not base64".into()];
    };
    let mut cas: Vec<Vec<u8>> = stub_cas.to_vec();
    if let Some(s) = signer {
        cas.push(s.cert_pem.clone().into_bytes());
    }
    let report = match analyze_mcs_certificate(&crt, &cas, options.now) {
        Ok(r) => r,
        Err(e) => return vec![format!("it cannot be read: {e}")],
    };
    let mut reasons = Vec::new();
    for host in hostnames {
        if !report.dns_sans.contains(host) && !report.ip_sans.contains(host) {
            reasons.push(if report.has_san {
                format!("it has no Subject Alternative Name for {host}")
            } else {
                format!(
                    "it has no Subject Alternative Name (only CN {}); Ignition in RHCOS 4.6+ \
                     boot images rejects it",
                    report.subject_cn.as_deref().unwrap_or("(none)")
                )
            });
            if !report.has_san {
                break;
            }
        }
    }
    let end = parse_rfc3339(&report.not_after).unwrap_or(0);
    let renew_at = unix_seconds(options.now) + options.renew_within.as_secs() as i64;
    if report.expired {
        reasons.push(format!("it expired at {}", report.not_after));
    } else if end <= renew_at {
        reasons.push(format!(
            "it expires at {}, within the renewal window of {} days",
            report.not_after,
            options.renew_within.as_secs() / 86_400
        ));
    }
    if report.ca_verified == Some(false) {
        reasons.push("no CA the stubs carry verifies it".into());
    }
    if options.state == McsState::Rotated
        && annotation_of(tls, RUN_ANNOTATION) != Some(options.run_id.as_str())
    {
        reasons.push("state: rotated".into());
    }
    reasons
}

fn summary_of(facts: &CertFacts, source: &str) -> CertSummary {
    CertSummary {
        subject_cn: facts.subject_cn.clone(),
        not_after: rfc3339(facts.not_after),
        fingerprint_sha256: facts.fingerprint_sha256.clone(),
        source: source.into(),
    }
}

/// Plans the run over `objects`. `backups` are the backup Secrets that exist (by name); `keys` is used only where a new signer or certificate is needed. Without
/// `keys` it only assesses: the report says what a run would do (action, reasons,
/// hostnames; a roll-out to the stubs is judged only when no certificate is issued) and
/// the plan writes nothing.
pub fn plan_mcs_certificate(
    objects: &McsObjects<'_>,
    backups: &BTreeMap<String, Value>,
    options: &McsOptions,
    keys: Option<&FreshKeys>,
) -> Result<McsPlan, McsError> {
    let infra = objects.infrastructure.ok_or(McsError::NoInfrastructure)?;
    let mut report = McsReport {
        action: McsAction::UpToDate,
        reasons: Vec::new(),
        hostnames: Vec::new(),
        certificate: None,
        signer: None,
        ca_bundle_certificates: 0,
        stubs: Vec::new(),
        root_ca: None,
        backups: Vec::new(),
    };
    let empty = |report: McsReport, warnings: Vec<String>| McsPlan {
        signer: None,
        changes: Vec::new(),
        serving: None,
        report,
        warnings,
        serving_since: None,
        ca_bundle: String::new(),
    };
    if text(infra, "/status/controlPlaneTopology") == Some("External") {
        report.action = McsAction::Skipped;
        report.reasons.push(
            "hosted control plane (controlPlaneTopology: External): there is no \
             machine-config-server"
                .into(),
        );
        return Ok(empty(report, Vec::new()));
    }
    report.hostnames = mcs_hostnames(infra)?;
    // A run of this id killed between deleting the serving Secret and creating it again
    // (its type changed) left only the backup: the old Secret is taken from there.
    let from_backup = match objects.tls {
        Some(_) => None,
        None => backups
            .get(&backup_name(resources::MCS_TLS_SECRET))
            .filter(|b| annotation_of(b, RUN_ANNOTATION) == Some(options.run_id.as_str()))
            .map(|b| restored_from_backup(resources::MCS_TLS_SECRET, b)),
    };
    let tls = objects
        .tls
        .or(from_backup.as_ref())
        .ok_or(McsError::NoTlsSecret)?;
    let stub_cas = stub_cas(objects.stubs);
    let rotate = options.state == McsState::Rotated;
    let kept_signer = reusable_signer(objects.ca_secret, options, rotate);
    let mut reasons = serving_reasons(
        tls,
        &report.hostnames,
        &stub_cas,
        kept_signer.as_ref().map(|(s, _)| s),
        options,
    );
    let tls_facts = data_bytes(tls, "tls.crt").and_then(|c| cert_facts(&c));
    if let Some(why) = mco_managed(objects) {
        report.action = McsAction::CheckOnly;
        let mut warnings: Vec<String> = reasons
            .iter()
            .map(|r| format!("the machine-config-server certificate: {r}; the MCO renews it"))
            .collect();
        report.reasons = vec![why];
        report.reasons.append(&mut reasons);
        report.certificate = tls_facts.as_ref().map(|f| summary_of(f, "existing"));
        warnings.dedup();
        return Ok(empty(report, warnings));
    }
    let reissue = !reasons.is_empty();
    let Some(keys) = keys else {
        // An assessment (`mcs_cert_info`): what would be done, nothing issued.
        let mut plan = empty(report, Vec::new());
        plan.report.certificate = tls_facts.as_ref().map(|f| summary_of(f, "existing"));
        plan.report.signer = kept_signer.map(|(_, f)| summary_of(&f, "existing"));
        if reissue {
            plan.report.action = McsAction::Regenerate;
            plan.report.reasons = reasons;
        }
        return Ok(plan);
    };
    // The signer: kept, or new when the certificate is reissued without a usable one.
    let (signer, signer_facts, signer_is_new) = match (kept_signer, reissue) {
        (Some((s, f)), _) => (Some(s), Some(f), false),
        (None, true) => {
            let cn = format!(
                "{}_{}@{}",
                resources::MCO_NAMESPACE,
                CA_NAME,
                unix_seconds(options.now)
            );
            let s = issue_signer(
                &cn,
                &keys.signer_key,
                &keys.signer_serial,
                options.now,
                TEN_YEARS,
            )?;
            let f = cert_facts(s.cert_pem.as_bytes())
                .ok_or_else(|| IssueError::Signer("unreadable".into()))?;
            (Some(s), Some(f), true)
        }
        (None, false) => (None, None, false),
    };
    let mut plan = empty(report, Vec::new());
    let (Some(signer), Some(signer_facts)) = (signer, signer_facts) else {
        // Fine, and no signer this tool or oc made: the installer's CA (key gone) stays.
        plan.report.certificate = tls_facts.as_ref().map(|f| summary_of(f, "existing"));
        plan.serving_since = None;
        plan.ca_bundle = stub_cas
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        return Ok(plan);
    };
    let signer_cn = signer_facts.subject_cn.clone().unwrap_or_default();
    if signer_is_new {
        plan.signer = Some(key_write(
            CA_NAME,
            objects.ca_secret,
            signer_secret(objects.ca_secret, &signer, &signer_facts, &options.run_id),
            options,
            backups,
        )?);
    }
    // The bundle: the signer, then every still-valid CA of the old bundle and the stubs.
    let old_bundle = objects
        .ca_bundle
        .and_then(|c| text(c, "/data/ca-bundle.crt"))
        .unwrap_or_default()
        .to_string();
    let signer_pem = pem_certificates(&signer.cert_pem)
        .into_iter()
        .next()
        .unwrap_or_default();
    let mut sources: Vec<&[u8]> = vec![signer_pem.as_bytes(), old_bundle.as_bytes()];
    sources.extend(stub_cas.iter().map(Vec::as_slice));
    let (bundle, n) = ca_bundle(&sources, options.now);
    plan.report.ca_bundle_certificates = n;
    plan.ca_bundle = bundle.clone();
    plan.changes
        .extend(bundle_change(objects.ca_bundle, &bundle));
    for (name, stub) in objects.stubs {
        let (change, r) = stub_change(name, stub, &bundle);
        plan.changes.extend(change);
        plan.report.stubs.push(r);
    }
    let (root, root_action) = root_ca_change(infra, objects.root_ca, &bundle);
    plan.changes.extend(root);
    plan.report.root_ca = root_action;
    if reissue {
        let leaf = issue_serving(
            &signer,
            &plan.report.hostnames,
            &keys.serving_key,
            &keys.serving_serial,
            options.now,
            TEN_YEARS,
        )?;
        let after = serving_secret(
            tls,
            &leaf,
            &plan.report.hostnames,
            &signer_cn,
            &options.run_id,
        );
        plan.report.certificate =
            cert_facts(leaf.cert_pem.as_bytes()).map(|f| summary_of(&f, "new"));
        plan.serving = Some(key_write(
            resources::MCS_TLS_SECRET,
            objects.tls,
            after,
            options,
            backups,
        )?);
        plan.serving_since = Some(unix_seconds(options.now));
        plan.report.action = McsAction::Regenerate;
        plan.report.reasons = reasons;
    } else {
        plan.report.certificate = tls_facts.as_ref().map(|f| summary_of(f, "existing"));
        plan.serving_since = serving_written_at(tls);
        if !plan.changes.is_empty() {
            plan.report.action = McsAction::RollOut;
        }
    }
    plan.report.signer = Some(summary_of(
        &signer_facts,
        if signer_is_new { "new" } else { "existing" },
    ));
    plan.report.backups = [&plan.signer, &plan.serving]
        .into_iter()
        .flatten()
        .filter_map(|w| w.backup_name.clone())
        .collect();
    Ok(plan)
}

#[cfg(test)]
mod tests;
