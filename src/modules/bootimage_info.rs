//! `bootimage_info`: the read-only boot image audit (never changes anything).
//!
//! Reads a live cluster (connection options) or a cluster dump (`dump_dir`),
//! takes targets from `stream_file` or the cluster's `coreos-bootimages`
//! ConfigMap, and reports every selected MachineSet, the stub Ignition
//! secrets, the MCS certificate, the autoscalers and a compliance verdict;
//! with `nodes`, also the build each MachineSet's youngest node booted.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use schemars::JsonSchema;
use serde::Deserialize;

use super::inputs::{audit_input, load_streams, selection_and_options};
use crate::ansible::{Module, ModuleContext, ModuleError, ModuleOutcome};
use crate::cluster::{Selection, Snapshot};
use crate::kube::connection::Connection;
use crate::kube::{dump, observe};
use crate::options::ConnectionParams;
use crate::options::{DumpParams, RecordLocation, SelectionParams, StreamParams};
use crate::plan::audit::reads_for;
use crate::plan::{audit, AuditOptions, AuditReport, Part, Verdict};
use crate::record::{last_run, unfinished_run_warning};

/// Options of `bootimage_info`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Params {
    #[serde(flatten)]
    pub connection: ConnectionParams,
    #[serde(flatten)]
    pub dump: DumpParams,
    #[serde(flatten)]
    pub selection: SelectionParams,
    #[serde(flatten)]
    pub stream: StreamParams,
    /// Fail the task unless the verdict is `compliant`: when the cluster is not compliant
    /// (an outdated or too-new boot image, a stub Ignition needing migration, an MCS
    /// certificate needing regeneration, …) and, unless `allow_unknown`, when the audit
    /// could not judge (`unknown`: no stream metadata, no ClusterVersion or
    /// Infrastructure, a MachineSet whose build is unknown or skipped for want of facts,
    /// no MachineSet at all).
    #[serde(default)]
    pub fail_on_noncompliant: bool,
    /// With `fail_on_noncompliant`: let an `unknown` verdict pass (only `not_compliant`
    /// fails). The reasons are still in `unknown_reasons` and `msg`.
    #[serde(default)]
    pub allow_unknown: bool,
    /// Also read what each MachineSet's youngest node really booted: the `CoreOS aleph
    /// version` its machine-config-daemon logged (`observed_build`). Costs one LIST each
    /// of Machines, Nodes and machine-config-daemon pods, and one log read (its first
    /// 64 KiB) per MachineSet with a node, 8 at a time; needs `get` on `pods/log` in
    /// `openshift-machine-config-operator` (without it the observed builds are null, with
    /// a warning). Where the image's build cannot be read (vSphere templates,
    /// cluster-local images) the status then comes from the observed build. From a dump,
    /// the logs are files (`pods/<namespace>/<pod>/<container>.log` or `<pod>.log`).
    #[serde(default)]
    pub nodes: bool,
    /// What to audit besides the MachineSets, which are always audited: `stubs` (the stub
    /// Ignition user-data secrets), `certificate` (the machine-config-server certificate,
    /// checked against the stubs' CAs), `autoscaling` (ClusterAutoscalers and
    /// MachineAutoscalers), `control_plane` (the ControlPlaneMachineSet, reported and not
    /// judged); `all` for the four, `min` for none; `!stubs`, `!certificate`,
    /// `!autoscaling`, `!control_plane` leave one out (a list of only exclusions starts
    /// from `all`, `!all` from none, as in `ansible.builtin.setup`). Parts left out cost no
    /// API request and do not count for `compliant`; the result's `gathered` lists the
    /// parts audited. From a live cluster the MachineSets alone (`min`) take 5 requests (4
    /// with `stream_file`), everything 13, whatever the number of MachineSets; one more (a
    /// LIST of one control-plane node's metadata, for the architecture) when ClusterVersion
    /// does not name the architecture and `architecture` is not given.
    #[serde(default = "default_gather_subset")]
    pub gather_subset: Vec<GatherSubset>,
    /// Also report the last run of the rollback record (`last_run`: the run `rollback`
    /// restores by default, with its state), and warn when it did not finish (killed,
    /// partially applied or partially rolled back). Reads the record's Secrets in
    /// `record_namespace` (one LIST), which `deploy/rbac.yaml` lets only the update account
    /// do (the records hold old values of user-data secrets); or the `record_path` file.
    /// Not from a dump without `record_path`.
    #[serde(default)]
    pub last_run: bool,
    #[serde(flatten)]
    pub record: RecordLocation,
}

/// One element of `gather_subset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum GatherSubset {
    #[serde(rename = "all")]
    All,
    #[serde(rename = "min")]
    Min,
    #[serde(rename = "stubs")]
    Stubs,
    #[serde(rename = "certificate")]
    Certificate,
    #[serde(rename = "autoscaling")]
    Autoscaling,
    #[serde(rename = "control_plane")]
    ControlPlane,
    #[serde(rename = "!all")]
    NotAll,
    #[serde(rename = "!stubs")]
    NotStubs,
    #[serde(rename = "!certificate")]
    NotCertificate,
    #[serde(rename = "!autoscaling")]
    NotAutoscaling,
    #[serde(rename = "!control_plane")]
    NotControlPlane,
}

fn default_gather_subset() -> Vec<GatherSubset> {
    vec![GatherSubset::All]
}

/// The parts `gather_subset` selects, as `ansible.builtin.setup` reads it: the named
/// parts (`all` = every part, `min` = none), or every part when only exclusions are
/// given, minus the excluded ones; `!all` means start from none (like `min`).
pub fn gathered_parts(subset: &[GatherSubset]) -> BTreeSet<Part> {
    use GatherSubset as G;
    let part = |g: G| match g {
        G::Stubs | G::NotStubs => Some(Part::Stubs),
        G::Certificate | G::NotCertificate => Some(Part::Certificate),
        G::Autoscaling | G::NotAutoscaling => Some(Part::Autoscaling),
        G::ControlPlane | G::NotControlPlane => Some(Part::ControlPlane),
        G::All | G::Min | G::NotAll => None,
    };
    let excluding = |g: &G| {
        matches!(
            g,
            G::NotAll | G::NotStubs | G::NotCertificate | G::NotAutoscaling | G::NotControlPlane
        )
    };
    let mut parts: BTreeSet<Part> = if subset.iter().all(excluding) && !subset.contains(&G::NotAll)
    {
        Part::ALL.into_iter().collect()
    } else {
        BTreeSet::new()
    };
    for g in subset.iter().filter(|g| !excluding(g)) {
        match g {
            G::All => parts.extend(Part::ALL),
            other => parts.extend(part(*other)),
        }
    }
    for g in subset.iter().filter(|g| excluding(g)) {
        if let Some(p) = part(*g) {
            parts.remove(&p);
        }
    }
    parts
}

/// The module.
pub struct BootimageInfo;

/// Observes the cluster or the dump: only what the gathered parts need.
async fn observe(
    params: &Params,
    conn: Option<&Connection>,
    sel: &Selection,
    options: &AuditOptions,
) -> Result<Snapshot> {
    let mut reads = reads_for(&options.gathered(), params.stream.stream_file.is_some());
    reads.control_plane_arch = options.architecture.is_none();
    match (&params.dump.dump_dir, conn) {
        (Some(dir), _) => {
            let d = dump::load(dir).with_context(|| format!("dump_dir {}", dir.display()))?;
            Ok(observe::from_dump_observing(&d, sel, reads, params.nodes))
        }
        (None, Some(conn)) => observe::from_cluster_observing(conn, sel, reads, params.nodes).await,
        (None, None) => anyhow::bail!("internal: a live audit without a connection"),
    }
}

fn parse_options(params: &Params) -> Result<(Selection, AuditOptions)> {
    let (sel, mut options) = selection_and_options(&params.selection, &params.stream)?;
    let gathered = gathered_parts(&params.gather_subset);
    options.not_gathered = Part::ALL
        .into_iter()
        .filter(|p| !gathered.contains(p))
        .collect();
    Ok((sel, options))
}

/// Runs the audit end to end (also used by the CLI).
pub async fn run_audit(params: &Params) -> Result<AuditReport> {
    let (sel, options) = parse_options(params)?;
    // One connection for the audit and `last_run` (none from a dump).
    let conn = match &params.dump.dump_dir {
        Some(_) => None,
        None => Some(params.connection.connect().await?),
    };
    let snapshot = observe(params, conn.as_ref(), &sel, &options).await?;
    let streams = load_streams(&params.stream, &snapshot)?;
    let input = audit_input(&snapshot, &streams, &options);
    let mut report = audit(&input);
    report
        .warnings
        .extend(crate::execute::missing_machinesets(&snapshot, &sel));
    if params.last_run {
        let (last, notes) = read_last_run(params, conn.as_ref()).await?;
        report.last_run = last;
        report.warnings.extend(notes);
        report
            .warnings
            .extend(report.last_run.as_ref().and_then(unfinished_run_warning));
    }
    Ok(report)
}

/// The last run of the rollback record that is not a rollback's own (`last_run`), and
/// what could not be read of the record.
/// `conn`: the audit's connection (None from a dump).
async fn read_last_run(
    params: &Params,
    conn: Option<&Connection>,
) -> Result<(Option<crate::record::RunSummary>, Vec<String>)> {
    if params.record.record_path.is_none() && conn.is_none() {
        anyhow::bail!(
            "last_run reads the rollback record, which a dump does not hold: give record_path, \
             or audit the cluster"
        );
    }
    let store = params.record.store(conn, params.selection.namespace())?;
    let runs = store.runs().await.context("last_run")?;
    Ok((last_run(&runs.list).cloned(), runs.notes))
}

/// The one-line summary used as `msg`.
pub fn summary_line(r: &AuditReport) -> String {
    let s = &r.summary;
    let counts = format!(
        "{} MachineSet(s): {} current, {} outdated, {} newer than cluster, {} unknown, {} skipped",
        s.total, s.current, s.outdated, s.newer_than_cluster, s.unknown, s.skipped
    );
    let left_out: Vec<&str> = Part::ALL
        .into_iter()
        .filter(|p| !r.gathered.contains(p))
        .map(Part::as_str)
        .collect();
    let counts = if left_out.is_empty() {
        counts
    } else {
        format!("{counts}; not checked: {}", left_out.join(", "))
    };
    match r.verdict {
        Verdict::Compliant => format!("compliant; {counts}"),
        Verdict::NotCompliant => format!(
            "not compliant: {}; {counts}",
            r.noncompliant_reasons.join("; ")
        ),
        Verdict::Unknown => format!(
            "unknown (the audit could not judge): {}; {counts}",
            r.unknown_reasons.join("; ")
        ),
    }
}

impl Module for BootimageInfo {
    const NAME: &'static str = "bootimage_info";
    const SHORT_DESCRIPTION: &'static str =
        "Audit the boot images of an OpenShift cluster's MachineSets (read-only)";
    const DESCRIPTION: &'static str = r#"
Read-only audit of an OpenShift cluster's boot images: for every selected MachineSet the
image it boots from, its build, the image the stream metadata names for its platform,
region and architecture, and a status (`current`, `outdated`, `newer_than_cluster`,
`unknown`, `skipped` with a reason). Also the stub Ignition secrets (spec 2.x needs
migration), the machine-config-server certificate (no SAN or expired needs regeneration),
the autoscalers, whether the cluster is a managed offering, and a compliance verdict.

With `nodes`, also what each MachineSet's youngest node really booted (`observed_build`),
read from the `CoreOS aleph version` line its machine-config-daemon logged at start: where
the image's build cannot be read from the image (vSphere templates, cluster-local GCP and
Azure images) the status comes from it, nodes that booted before the image last changed
are listed (`observed_builds.older_than_image`), and a youngest node that booted another,
not older build than the image names is drift (a warning).

Reads a live cluster (one LIST per kind, never a GET per MachineSet; with `nodes`, one
bounded log read per MachineSet, 8 at a time) or a cluster dump (`dump_dir`, pod logs as
`.log` files). Never changes anything: `changed` is always false. With
`fail_on_noncompliant` the task fails with a one-line `msg` naming what is wrong, which is
how a check-mode compliance job fails. No secret content is ever returned.
"#;
    const EXAMPLES: &'static str = r#"
- name: Audit boot images of the cluster in K8S_AUTH_* / KUBECONFIG
  ocp.bootimage.bootimage_info:
  register: audit

- name: Compliance gate (fails the play when not compliant)
  ocp.bootimage.bootimage_info:
    kubeconfig: /home/ops/.kube/config
    context: admin
    fail_on_noncompliant: true

- name: Audit with the builds the youngest nodes really booted (vSphere templates)
  ocp.bootimage.bootimage_info:
    nodes: true
  register: audit

- name: Only the boot images of the MachineSets (5 API requests, whatever their number)
  ocp.bootimage.bootimage_info:
    gather_subset: [min]

- name: Everything but the certificate
  ocp.bootimage.bootimage_info:
    gather_subset: ['!certificate']

- name: Audit a cluster dump against the stream of the installer in use
  ocp.bootimage.bootimage_info:
    dump_dir: /srv/dumps/prod-cluster
    stream_file: /srv/streams/rhcos-4.18.json
    label_selector: machine.openshift.io/cluster-api-machine-role=worker
"#;
    type Params = Params;
    type Output = AuditReport;

    async fn run(
        params: Params,
        _ctx: &ModuleContext,
    ) -> Result<ModuleOutcome<AuditReport>, ModuleError> {
        let mut report = run_audit(&params).await?;
        let warnings = std::mem::take(&mut report.warnings);
        Ok(ModuleOutcome {
            changed: false,
            failed: params.fail_on_noncompliant && report.verdict.fails(params.allow_unknown),
            msg: summary_line(&report),
            warnings,
            diff: Vec::new(),
            output: report,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use GatherSubset as G;

    fn parts(s: &[G]) -> Vec<Part> {
        gathered_parts(s).into_iter().collect()
    }

    #[test]
    fn gather_subset_reads_like_setup() {
        let all = Part::ALL.to_vec();
        assert_eq!(parts(&[G::All]), all);
        assert_eq!(parts(&[]), all);
        assert_eq!(parts(&[G::Min]), vec![]);
        assert_eq!(parts(&[G::NotAll]), vec![]);
        assert_eq!(parts(&[G::Stubs]), vec![Part::Stubs]);
        assert_eq!(
            parts(&[G::NotCertificate]),
            vec![Part::Stubs, Part::Autoscaling, Part::ControlPlane]
        );
        assert_eq!(
            parts(&[G::All, G::NotAutoscaling]),
            vec![Part::Stubs, Part::Certificate, Part::ControlPlane]
        );
        assert_eq!(parts(&[G::Min, G::Autoscaling]), vec![Part::Autoscaling]);
        assert_eq!(parts(&[G::Stubs, G::NotStubs]), vec![]);
        assert_eq!(parts(&[G::NotAll, G::Stubs]), vec![Part::Stubs]);
        assert_eq!(parts(&[G::NotAll, G::NotStubs]), vec![]);
        assert_eq!(parts(&[G::NotControlPlane]), Part::ALL[..3].to_vec());
        assert_eq!(parts(&[G::ControlPlane]), vec![Part::ControlPlane]);
    }

    #[test]
    fn each_part_reads_only_what_it_needs() {
        use crate::plan::audit::reads_for;
        let set = |p: &[Part]| p.to_vec();
        // Before issue 13: 5, 4, 9 and 12. The control-plane node LIST (the cluster's
        // architecture, sent only when ClusterVersion does not name it) adds at most one;
        // the part `control_plane` (the ControlPlaneMachineSet GET) one.
        assert_eq!(reads_for(&set(&[]), false).requests(), 6);
        assert_eq!(reads_for(&set(&[]), true).requests(), 5);
        assert_eq!(reads_for(&set(&[Part::ControlPlane]), false).requests(), 7);
        // The installer's four user-data secrets, one GET each.
        assert_eq!(reads_for(&set(&[Part::Stubs]), false).requests(), 10);
        // The certificate is checked against the stubs' CAs.
        assert!(reads_for(&set(&[Part::Certificate]), false).user_data_secrets);
        assert_eq!(reads_for(&set(&Part::ALL), false).requests(), 14);
    }
}
