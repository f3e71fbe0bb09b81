//! `mcs_certificate`: regenerates the machine-config-server's serving certificate (and,
//! when needed, its CA) and rolls the CA out to the stub Ignition secrets, with oc's
//! objects; restarts the machine-config-server pods and waits until they are Ready.
//!
//! Planning is the core's [`plan_mcs_certificate`]; this file reads, draws the keys,
//! records (digests only: the old key material goes to a backup Secret beside it) and
//! writes in the safe order: backups, signer, CA bundle and stubs (with the applier:
//! record first, 409 re-plan), serving certificate, pods.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use rand_core::{OsRng, RngCore};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ansible::{AnsibleMeta, DiffEntry, Module, ModuleContext, ModuleError, ModuleOutcome};
use crate::cluster::resources::{self, CONFIG_MAP, SECRET};
use crate::cluster::{name_of, Reads, Selection, Snapshot, SnapshotPart};
use crate::execute::{managed_guard, require_readable, RunRecord, Step, Target};
use crate::kube::client::get;
use crate::kube::mcs_pods::{self, McsPodsReport};
use crate::kube::record_store::now_rfc3339;
use crate::kube::{connection::Connection, key_secrets};
use crate::options::{ConnectionParams, NamespaceParams, WriteParams};
use crate::plan::mcs_certificate::{
    backup_name, plan_mcs_certificate, FreshKeys, KeySecretWrite, McsAction, McsObjects,
    McsOptions, McsPlan, McsReport, McsState, CA_NAME, ROOT_CA_NAME, ROOT_CA_NAMESPACE,
};
use crate::plan::ObjectChange;
use crate::record::RunState;
use crate::tls_probe::ServedCheck;

/// Options of `mcs_certificate`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Params {
    #[serde(flatten)]
    pub connection: ConnectionParams,
    #[serde(flatten)]
    pub write: WriteParams,
    #[serde(flatten)]
    pub ns: NamespaceParams,
    /// `regenerated`: issue a new certificate when needed (no Subject Alternative Name for
    /// the API's internal host, expired, expiring within `renew_within_days`, or not
    /// verified by the stubs' CA). `rotated`: a new CA and certificate now (once per
    /// `run_id`: a rerun with the same `run_id` completes it rather than rotating again).
    #[serde(default)]
    pub state: McsState,
    /// Renew a certificate or CA that ends within this many days (oc renews a year
    /// before the end of ten).
    #[serde(default = "default_renew_within_days")]
    pub renew_within_days: u64,
    /// Seconds to wait for the restarted machine-config-server pods to be Ready (a
    /// warning, not a failure, when they are not).
    #[serde(default = "default_wait_timeout")]
    pub wait_timeout: u64,
    /// Stub secrets to roll the CA out to besides those the MachineSets reference and the
    /// installer's (`master-user-data`, `worker-user-data`).
    #[serde(default)]
    pub secrets: Vec<String>,
    /// After the run, connect to the machine-config-server and check that the chain it
    /// serves verifies against the CA the stubs carry, for the internal API host (the task
    /// fails when it does not; a server that cannot be reached is a warning). Off by
    /// default: the controller may not reach the cluster's internal network.
    #[serde(default)]
    pub verify_served: bool,
    /// Where `verify_served` connects (`host:port`; the certificate is still checked for
    /// the internal API host). Default: the host of `apiServerInternalURI`, port 22623.
    pub served_address: Option<String>,
}

fn default_renew_within_days() -> u64 {
    365
}

fn default_wait_timeout() -> u64 {
    300
}

/// Return values of `mcs_certificate`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Output {
    #[serde(flatten)]
    pub report: McsReport,
    /// The machine-config-server pods restarted, and whether they came back Ready.
    pub mcs_pods: McsPodsReport,
    /// What the machine-config-server serves (`verify_served`; null when not checked).
    pub served: Option<ServedCheck>,
    #[serde(flatten)]
    pub run: RunRecord,
}

/// The module.
pub struct McsCertificate;

/// What the planner reads besides the snapshot.
struct Extra {
    ca_secret: Option<Value>,
    ca_bundle: Option<Value>,
    root_ca: Option<Value>,
    backups: BTreeMap<String, Value>,
    pods: Vec<Value>,
}

async fn read_extra(conn: &Connection, snapshot: &Snapshot) -> anyhow::Result<Extra> {
    let mco = Some(resources::MCO_NAMESPACE);
    let bare_metal = snapshot
        .infrastructure
        .as_ref()
        .and_then(|i| i.pointer("/status/platformStatus/type"))
        .and_then(Value::as_str)
        == Some("BareMetal");
    let (ca_backup_name, tls_backup_name) =
        (backup_name(CA_NAME), backup_name(resources::MCS_TLS_SECRET));
    let root_ca = async {
        match bare_metal {
            true => get(conn, CONFIG_MAP, Some(ROOT_CA_NAMESPACE), ROOT_CA_NAME).await,
            false => Ok(None),
        }
    };
    // One request each, at once (as the snapshot's reads).
    let (ca_secret, ca_bundle, root_ca, ca_backup, tls_backup, pods) = tokio::try_join!(
        get(conn, SECRET, mco, CA_NAME),
        get(conn, CONFIG_MAP, mco, CA_NAME),
        root_ca,
        get(conn, SECRET, mco, &ca_backup_name),
        get(conn, SECRET, mco, &tls_backup_name),
        mcs_pods::list_pods(conn),
    )?;
    let backups = [ca_backup, tls_backup]
        .into_iter()
        .flatten()
        .map(|b| (name_of(&b).to_string(), b))
        .collect();
    Ok(Extra {
        ca_secret,
        ca_bundle,
        root_ca,
        backups,
        pods,
    })
}

/// Two RSA-2048 keys and two random positive 16-byte serials (drawn on a blocking thread).
async fn fresh_keys() -> anyhow::Result<FreshKeys> {
    tokio::task::spawn_blocking(|| {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let key = || -> anyhow::Result<String> {
            let k = rsa::RsaPrivateKey::new(&mut OsRng, 2048).context("generating an RSA key")?;
            Ok(k.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
                .context("encoding an RSA key")?
                .to_string())
        };
        let serial = || {
            let mut s = vec![0u8; 16];
            OsRng.fill_bytes(&mut s);
            s[0] = (s[0] & 0x7f).max(1);
            s
        };
        Ok(FreshKeys {
            signer_key: key()?,
            signer_serial: serial(),
            serving_key: key()?,
            serving_serial: serial(),
        })
    })
    .await
    .context("key generation")?
}

async fn open(params: &Params, meta: &AnsibleMeta) -> anyhow::Result<(Step, Snapshot)> {
    let sel = Selection {
        namespace: params.ns.namespace.clone(),
        user_data_secrets: params.secrets.clone(),
        ..Selection::default()
    };
    let reads = Reads {
        user_data_secrets: true,
        mcs_certificate: true,
        ..Reads::MIN
    };
    let write = &params.write;
    let guards = |s: &Snapshot| -> anyhow::Result<Vec<String>> {
        require_readable(
            s,
            &[
                SnapshotPart::Infrastructure,
                SnapshotPart::McsTlsSecret,
                SnapshotPart::UserDataSecrets,
            ],
        )?;
        let hosted = s
            .infrastructure
            .as_ref()
            .and_then(|i| i.pointer("/status/controlPlaneTopology"))
            .and_then(Value::as_str)
            == Some("External");
        let mut w: Vec<String> = s
            .unreadable
            .iter()
            .map(|u| format!("could not read {u}"))
            .collect();
        if !hosted {
            w.extend(managed_guard(
                s.infrastructure.as_ref(),
                &s.machinesets,
                write.allow_managed,
            )?);
        }
        Ok(w)
    };
    let target = Target {
        module: McsCertificate::NAME,
        what: "object(s)",
        connection: &params.connection,
        write,
        meta,
    };
    Step::open_with(target, &sel, reads, guards).await
}

/// The diff: key Secrets as digests and fingerprints, the other changes as the applier
/// shows them (Secret data as digests).
fn diff_of(plan: &McsPlan, changes: &[ObjectChange]) -> Vec<DiffEntry> {
    let key = |w: &KeySecretWrite| {
        let (before, after) = w.diff_values();
        let header = format!("Secret {}/{}", resources::MCO_NAMESPACE, w.name);
        DiffEntry {
            before_header: header.clone(),
            after_header: header,
            before,
            after,
        }
    };
    plan.signer
        .iter()
        .map(key)
        .chain(changes.iter().map(|c| {
            let mut d = c.diff();
            if c.kind.kind == "ConfigMap" {
                // CA bundles: digests, as for Secrets (no certificate text in a diff).
                d.before = digested(d.before);
                d.after = digested(d.after);
            }
            d
        }))
        .chain(plan.serving.iter().map(key))
        .collect()
}

/// `v` with every string under `data` replaced by its digest and length.
fn digested(mut v: Value) -> Value {
    if let Some(d) = v.get_mut("data").and_then(Value::as_object_mut) {
        for val in d.values_mut() {
            if let Some(s) = val.as_str() {
                *val = Value::String(crate::plan::change::secret_digest(s, false));
            }
        }
    }
    v
}

fn summary(report: &McsReport, done: bool) -> String {
    let verb = |would: &str, did: &str| {
        if done {
            did.to_string()
        } else {
            would.to_string()
        }
    };
    match report.action {
        McsAction::Regenerate => format!(
            "{} the machine-config-server certificate for {} ({}); {} stub(s) get its CA",
            verb("would regenerate", "regenerated"),
            report.hostnames.join(", "),
            report.reasons.join("; "),
            report.stubs.iter().filter(|s| s.action == "update").count()
        ),
        McsAction::RollOut => format!(
            "the machine-config-server certificate is fine; {} its CA to {} stub(s)",
            verb("would roll out", "rolled out"),
            report.stubs.iter().filter(|s| s.action == "update").count()
        ),
        McsAction::UpToDate => format!(
            "the machine-config-server certificate needs nothing: it names {} and the stubs \
             carry its CA",
            report.hostnames.join(", ")
        ),
        McsAction::CheckOnly | McsAction::Skipped => report.reasons.join("; "),
    }
}

impl Module for McsCertificate {
    const NAME: &'static str = "mcs_certificate";
    const SHORT_DESCRIPTION: &'static str =
        "Regenerate the machine-config-server certificate and roll its CA out to the stubs";
    const DESCRIPTION: &'static str = r#"
Does the procedure's certificate step: when the machine-config-server certificate (Secret
`openshift-machine-config-operator/machine-config-server-tls`) has no Subject Alternative
Name for the API's internal host, has expired or ends within `renew_within_days`, or is
not verified by the CA the stub Ignition secrets carry, it issues a new one (RSA-2048,
serverAuth, SANs = the host of `apiServerInternalURI` plus the platform's
`apiServerInternalIPs`), signed by the CA in Secret `machine-config-server-ca` (reused
while valid, else a new ten-year CA is made: the installer's CA key is not in the
cluster), writes the CA bundle (the CA and every still-valid old CA) to ConfigMap
`machine-config-server-ca`, to the first `certificateAuthorities` entry of each stub
Ignition secret (spec 2.x and 3.x; Windows user data and the MCO's `*-managed` stubs are
left alone) and, on bare metal, to `kube-system/root-ca`; then restarts the
machine-config-server pods and waits until they are Ready. The objects are oc's (`oc adm
ocp-certificates regenerate-machine-config-server-serving-cert`), so oc, the MCO and this
module read each other's.

Safe: everything is planned first; the rollback record is written before the first
change and holds digests only — the old Secrets with keys are copied to backup Secrets
`<name>-backup` beside them (keys never leave the namespace; another run's backup is never
overwritten: the run refuses until that run is rolled back or its backup deleted); the stubs get the
new CA before the server serves the new certificate. A run stopped half-way is completed
by the next with the same `run_id`; a second run changes nothing. `rollback` restores the
old certificate, the stubs and `root-ca`, deletes the CA objects the run created and
restarts the pods. Where the MCO rotates the certificate itself (4.19+: its CA carries
`openshift.io/owning-component: Machine Config Operator`) it only checks; a hosted
control plane has no machine-config-server and is skipped. Output and diff show
fingerprints and digests, never certificate or key material.

Risk: restarting the machine-config-server pods briefly stops new machines from fetching
their Ignition (existing nodes are not affected).
"#;
    const EXAMPLES: &'static str = r#"
- name: Regenerate the machine-config-server certificate when needed
  ocp.bootimage.mcs_certificate:
    run_id: "{{ update_run_id }}"

- name: See what it would do
  ocp.bootimage.mcs_certificate:
  check_mode: true
  diff: true

- name: Rotate the CA and certificate now
  ocp.bootimage.mcs_certificate:
    state: rotated
"#;
    type Params = Params;
    type Output = Output;

    async fn run(
        params: Params,
        ctx: &ModuleContext,
    ) -> Result<ModuleOutcome<Output>, ModuleError> {
        let (mut step, snapshot) = open(&params, &ctx.meta).await?;
        let result = run_step(&params, &ctx.meta, &mut step, snapshot).await;
        step.release().await;
        Ok(result?)
    }
}

/// The plan of one run and what it is made from.
struct Planned {
    plan: McsPlan,
    pods: Vec<Value>,
    /// The MCS pods still serving an older certificate.
    stale: Vec<String>,
    /// Whether the run acts on the certificate (not check-only, not skipped).
    acting: bool,
}

/// Reads what the planner needs besides the snapshot, draws keys and plans.
async fn plan_step(params: &Params, step: &Step, snapshot: Snapshot) -> anyhow::Result<Planned> {
    // The keys are drawn on a blocking thread while the objects are read.
    let (extra, keys) = tokio::try_join!(read_extra(&step.conn, &snapshot), fresh_keys())?;
    let options = McsOptions {
        state: params.state,
        renew_within: Duration::from_secs(params.renew_within_days.saturating_mul(86_400)),
        run_id: step.run_id.clone(),
        now: SystemTime::now(),
    };
    let objects = McsObjects {
        infrastructure: snapshot.infrastructure.as_ref(),
        tls: snapshot.mcs_tls_secret.as_ref(),
        ca_secret: extra.ca_secret.as_ref(),
        ca_bundle: extra.ca_bundle.as_ref(),
        root_ca: extra.root_ca.as_ref(),
        stubs: &snapshot.user_data_secrets,
    };
    let plan = plan_mcs_certificate(&objects, &extra.backups, &options, Some(&keys))?;
    let acting = matches!(
        plan.report.action,
        McsAction::Regenerate | McsAction::RollOut | McsAction::UpToDate
    );
    // A certificate written by this run is loaded by no pod yet: every pod restarts.
    let stale = match (plan.serving.is_some(), plan.serving_since) {
        (true, _) => extra.pods.iter().map(|p| name_of(p).to_string()).collect(),
        (false, Some(since)) if acting => {
            crate::plan::mcs_certificate::stale_mcs_pods(&extra.pods, since)
        }
        _ => Vec::new(),
    };
    Ok(Planned {
        plan,
        pods: extra.pods,
        stale,
        acting,
    })
}

async fn run_step(
    params: &Params,
    meta: &AnsibleMeta,
    step: &mut Step,
    snapshot: Snapshot,
) -> anyhow::Result<ModuleOutcome<Output>> {
    let Planned {
        plan,
        pods,
        stale,
        acting,
    } = plan_step(params, step, snapshot).await?;
    let mut warnings = step.warnings.clone();
    warnings.extend(plan.warnings.iter().cloned());
    let writes = plan.writes();
    let mut report = McsPodsReport {
        pods: pods.len(),
        ..McsPodsReport::default()
    };
    if meta.check_mode {
        let diff = if meta.diff {
            diff_of(&plan, &plan.changes)
        } else {
            Vec::new()
        };
        report.restarted = stale;
        // The objects the Applier writes; the Secrets with keys are not sent.
        step.check_with_server(&plan.changes).await;
        let mut outcome = ModuleOutcome {
            changed: writes || !report.restarted.is_empty(),
            failed: false,
            msg: summary(&plan.report, false),
            warnings,
            diff,
            output: Output {
                report: plan.report,
                mcs_pods: report,
                served: None,
                run: step.run_record(),
            },
        };
        step.judge(&mut outcome);
        return Ok(outcome);
    }
    let (msg, diff, failed) = if writes {
        apply(step, &plan, meta.diff, &mut warnings).await
    } else {
        (summary(&plan.report, true), Vec::new(), false)
    };
    if !failed && (writes || !stale.is_empty()) && acting {
        let since = match plan.serving {
            Some(_) => None,
            None => plan.serving_since.or(Some(i64::MAX)),
        };
        let pods_now = if writes {
            mcs_pods::list_pods_latest(&step.conn).await?
        } else {
            pods
        };
        let wait = Duration::from_secs(params.wait_timeout);
        report = mcs_pods::restart(&step.conn, &pods_now, since, wait, &mut warnings).await?;
    }
    let mut out = ModuleOutcome {
        changed: writes || !report.restarted.is_empty(),
        failed,
        msg,
        warnings,
        diff,
        output: Output {
            report: plan.report,
            mcs_pods: report,
            served: None,
            run: step.run_record(),
        },
    };
    if params.verify_served && acting && !failed {
        verify_served(params, &plan.ca_bundle, &mut out).await;
    }
    Ok(out)
}

/// `verify_served`: probes the machine-config-server; a chain the bundle does not verify
/// fails the task, an unreachable server is a warning.
async fn verify_served(params: &Params, bundle: &str, out: &mut ModuleOutcome<Output>) {
    let host_port = params.served_address.clone().unwrap_or_else(|| {
        let host = out
            .output
            .report
            .hostnames
            .first()
            .cloned()
            .unwrap_or_default();
        format!("{host}:{MCS_PORT}")
    });
    let Some((host, port)) = host_port.rsplit_once(':').and_then(|(h, p)| {
        Some((
            h.trim_matches(['[', ']']).to_string(),
            p.parse::<u16>().ok()?,
        ))
    }) else {
        out.failed = true;
        out.msg = format!("served_address {host_port:?} is not host:port");
        return;
    };
    let timeout = Duration::from_secs(10);
    // The certificate must be valid for the internal API host, whatever address is dialled.
    let name = (out.output.report.hostnames.first().cloned()).unwrap_or_else(|| host.clone());
    let probe = crate::tls_probe::probe_served_as(&host, port, &name, bundle.as_bytes(), timeout);
    match probe.await {
        Ok(check) => {
            if !check.verified {
                out.failed = true;
                out.msg = format!(
                    "the machine-config-server at {} serves a certificate (SHA-256 {}) the stubs' CA does not verify: {}; {}",
                    check.address,
                    check.fingerprint_sha256,
                    check.reason.as_deref().unwrap_or("not verified"),
                    out.msg
                );
            }
            out.output.served = Some(check);
        }
        Err(e) => out.warnings.push(format!(
            "the certificate the machine-config-server serves was not checked: {e:#}"
        )),
    }
}

/// The machine-config-server's port.
const MCS_PORT: u16 = 22623;

/// Records the key Secrets' entries (digests), creates their backups and writes the
/// signer: everything before the first object change.
async fn write_signer(step: &Step, plan: &McsPlan) -> anyhow::Result<()> {
    let time = now_rfc3339();
    let keyed: Vec<&KeySecretWrite> = plan.signer.iter().chain(plan.serving.iter()).collect();
    let entries = keyed
        .iter()
        .map(|w| w.record_entry(&step.run_id, &time, McsCertificate::NAME))
        .collect();
    (step.writer.append(entries).await)
        .context("nothing was changed: the rollback record could not be written first")?;
    for b in keyed.iter().filter_map(|w| w.backup.as_ref()) {
        key_secrets::create_backup(&step.conn, b).await?;
    }
    if let Some(s) = &plan.signer {
        key_secrets::write(&step.conn, s).await?;
    }
    Ok(())
}

/// Re-plans one object of `planned` after a 409 from its fresh read: the same `data`.
fn replan_same(planned: &[ObjectChange], fresh: &Value) -> Option<ObjectChange> {
    let c = planned.iter().find(|c| c.name == name_of(fresh))?;
    let mut after = fresh.clone();
    if let Some(d) = c.after.get("data") {
        after["data"] = d.clone();
    }
    if let Some(m) = after.as_object_mut() {
        m.remove("stringData");
    }
    Some(ObjectChange::update(
        c.kind,
        fresh,
        after,
        c.summary.clone(),
    ))
}

/// The writes, in the safe order — record and backups, signer, CA bundle and stubs (and
/// root-ca), serving certificate — returns `msg`, the diff and whether it failed.
async fn apply(
    step: &Step,
    plan: &McsPlan,
    want_diff: bool,
    warnings: &mut Vec<String>,
) -> (String, Vec<DiffEntry>, bool) {
    const AGAIN: &str = "the rollback record holds every change written; run again with the \
                         same run_id to finish, or roll it back";
    let partial = |applied: &[ObjectChange]| {
        let shown = McsPlan {
            serving: None,
            ..plan.clone()
        };
        if want_diff {
            diff_of(&shown, applied)
        } else {
            Vec::new()
        }
    };
    if let Err(e) = write_signer(step, plan).await {
        let _ = step.writer.settle(&[], RunState::PartiallyApplied).await;
        return (format!("{e:#} ({AGAIN})"), Vec::new(), true);
    }
    let replan = |fresh: &Value| Ok(replan_same(&plan.changes, fresh));
    let applied = step.applier().apply(plan.changes.clone(), &replan).await;
    warnings.extend(applied.warnings.iter().cloned());
    if let Some(e) = &applied.error {
        let msg = format!("{e} (the serving certificate was not changed; {AGAIN})");
        return (msg, partial(&applied.applied), true);
    }
    if let Some(s) = &plan.serving {
        // The run is not finished until the serving certificate is written.
        let _ = step.writer.settle(&[], RunState::Applying).await;
        if let Err(e) = key_secrets::write(&step.conn, s).await {
            let _ = step.writer.settle(&[], RunState::PartiallyApplied).await;
            return (format!("{e:#} ({AGAIN})"), partial(&applied.applied), true);
        }
    }
    if let Err(e) = step.writer.settle(&[], RunState::Applied).await {
        warnings.push(format!(
            "the changes are written and recorded, but the run's state could not be set: {e:#}"
        ));
    }
    let diff = if want_diff {
        diff_of(plan, &applied.applied)
    } else {
        Vec::new()
    };
    (summary(&plan.report, true), diff, false)
}
