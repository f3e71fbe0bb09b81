//! Boot image skew enforcement (MachineConfiguration `cluster`, OpenShift 4.20+): what the
//! cluster records as its oldest boot image, what MCO compares it with (the floor), and
//! the oldest boot image really in use — the audit's `skew_enforcement` section — and the
//! plan of the `skew_enforcement` step, which records that oldest build in
//! `spec.bootImageSkewEnforcement` (`mode: Manual`). Pure.
//!
//! Facts (openshift/machine-config-operator 7ff337a, `pkg/operator/status.go`
//! `checkBootImageSkewUpgradeableGuard`, `pkg/controller/common/constants.go`; openshift/api
//! `operator/v1/types_machineconfiguration.go`): the effective mode is
//! `status.bootImageSkewEnforcementStatus.mode` (`Automatic`, `Manual`, `None`); the spec
//! takes only `Manual` or `None` (omitted: Automatic where MCO manages boot images). MCO
//! sets the operator `Upgradeable=False` when the recorded `ocpVersion` is below
//! `4.13.0` or the recorded `rhcosVersion`'s RHEL is below `9.2`.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Value};

use super::change::ObjectChange;
use super::cluster::text;
use super::machineset::{MachineSetReport, SkipKind};
use super::observed::parse_build;
use super::step::Plan;
use crate::cluster::resources::MACHINE_CONFIGURATION;
use crate::stream::BuildId;

/// MCO's floor for a recorded OCP version (`OCPVersionBootImageSkewLimit`).
pub const OCP_FLOOR: (u32, u32, u32) = (4, 13, 0);
/// MCO's floor for a recorded RHCOS version's RHEL (`RHCOSVersionBootImageSkewLimit`).
pub const RHEL_FLOOR: (u32, u32) = (9, 2);
/// The first OpenShift minor whose RHCOS build ids are RHEL-versioned (`9.6.20251015-0`).
const FIRST_RHEL_VERSIONED: (u32, u32) = (4, 19);

/// An OCP version as the skew record writes it: `x.y.z` (the CRD's pattern).
pub fn parse_ocp_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.split('.');
    let mut next = || -> Option<u32> {
        let p = parts.next()?;
        (!p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    let v = (next()?, next()?, next()?);
    parts.next().is_none().then_some(v)
}

/// A version the skew record holds, or one of a build in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// `ocpVersion`.
    Ocp((u32, u32, u32)),
    /// `rhcosVersion`.
    Rhcos(BuildId),
}

impl Recorded {
    /// Reads `{ocpVersion | rhcosVersion}` of a `manual`/`automatic` record (ocpVersion
    /// first, as MCO's `checkBootImageSkew`).
    fn of(record: &Value) -> Option<Result<Recorded, String>> {
        if let Some(v) = record.get("ocpVersion").and_then(Value::as_str) {
            return Some(
                parse_ocp_version(v)
                    .map(Recorded::Ocp)
                    .ok_or_else(|| format!("ocpVersion {v:?} is not x.y.z")),
            );
        }
        let v = record.get("rhcosVersion").and_then(Value::as_str)?;
        Some(
            BuildId::from_rhcos_version(v)
                .map(Recorded::Rhcos)
                .map_err(|e| e.to_string()),
        )
    }

    /// Whether MCO's floor blocks upgrades for this record, with its message.
    fn below_floor(&self) -> Option<String> {
        match self {
            Recorded::Ocp(v) if *v < OCP_FLOOR => Some(format!(
                "the recorded OCP boot image version {} is below MCO's minimum {}",
                ocp_text(*v),
                ocp_text(OCP_FLOOR)
            )),
            Recorded::Rhcos(b) => b.rhel_version().filter(|r| *r < RHEL_FLOOR).map(|r| {
                format!(
                    "the recorded RHCOS boot image version {b} (RHEL {}.{}) is below MCO's minimum RHEL {}.{}",
                    r.0, r.1, RHEL_FLOOR.0, RHEL_FLOOR.1
                )
            }),
            Recorded::Ocp(_) => None,
        }
    }

    /// Whether this record claims more than `oldest` (a build in use): Some(true) when it is
    /// newer, None when the two cannot be compared.
    fn overstates(&self, oldest: &BuildId) -> Option<bool> {
        match self {
            Recorded::Rhcos(b) => Some(b > oldest),
            Recorded::Ocp((x, y, _)) => match oldest.ocp_version() {
                Some(o) => Some((*x, *y) > o),
                // RHEL-versioned builds belong to 4.19 or later.
                None if oldest.rhel_version().is_some() && (*x, *y) <= FIRST_RHEL_VERSIONED => {
                    Some(false)
                }
                None => None,
            },
        }
    }

    fn text(&self) -> String {
        match self {
            Recorded::Ocp(v) => format!("ocpVersion {}", ocp_text(*v)),
            Recorded::Rhcos(b) => format!("rhcosVersion {b}"),
        }
    }
}

/// A `manual`/`automatic` record as text (`ocpVersion 4.22.0`), as written.
fn record_text(record: &Value) -> String {
    ["ocpVersion", "rhcosVersion"]
        .iter()
        .find_map(|k| {
            record
                .get(*k)
                .and_then(Value::as_str)
                .map(|v| format!("{k} {v}"))
        })
        .unwrap_or_else(|| "no version".into())
}

fn ocp_text((x, y, z): (u32, u32, u32)) -> String {
    format!("{x}.{y}.{z}")
}

/// The oldest boot image in use, in both forms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct OldestInUse {
    /// The build id.
    pub build: String,
    /// The OpenShift version it shipped with, as `x.y.0` (the lowest of its minor: never
    /// newer than the build); null for RHEL-versioned builds (4.19+), whose id names no
    /// OpenShift version.
    pub ocp_version: Option<String>,
    /// Its RHEL version (`9.4`, `8.10`).
    pub rhel_version: Option<String>,
    /// Where it is in use (`MachineSet <name>` or `node <name> (MachineSet <name>)`).
    pub used_by: String,
}

/// The `skew_enforcement` section of the audit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SkewReport {
    /// Whether the MachineConfiguration carries boot image skew enforcement
    /// (`spec.bootImageSkewEnforcement` or `status.bootImageSkewEnforcementStatus`:
    /// OpenShift 4.20+ with the feature, GA in 4.22). Without it the rest is empty.
    pub supported: bool,
    /// `spec.bootImageSkewEnforcement.mode` (`Manual`, `None`; null: not set, MCO decides).
    pub spec_mode: Option<String>,
    /// `status.bootImageSkewEnforcementStatus.mode`: the mode MCO enforces (`Automatic`,
    /// `Manual`, `None`).
    pub status_mode: Option<String>,
    /// The mode in effect: the status's; on a single-node cluster without one, `None` (the
    /// single-node default).
    pub effective_mode: Option<String>,
    /// The recorded OCP version (`ocpVersion` of the effective record: in Manual mode the
    /// spec's `manual` — MCO mirrors it into the status — else the status's).
    pub recorded_ocp_version: Option<String>,
    /// The recorded RHCOS version (`rhcosVersion`, likewise).
    pub recorded_rhcos_version: Option<String>,
    /// MCO's floor for a recorded OCP version.
    pub floor_ocp_version: String,
    /// MCO's floor for a recorded RHCOS version (its RHEL major.minor).
    pub floor_rhel_version: String,
    /// Whether MCO lets the cluster upgrade by this rule (true in mode None; null when
    /// there is no record to judge).
    pub upgradeable: Option<bool>,
    /// The oldest boot image in use across the MachineSets audited (and, with
    /// `nodes: true`, the builds their youngest nodes booted).
    pub oldest_in_use: Option<OldestInUse>,
    /// Whether `oldest_in_use` covers every MachineSet: false when a build is unknown
    /// (then the oldest may be older still).
    pub oldest_in_use_complete: bool,
    /// MachineSets whose boot image build is unknown (they never count as passing).
    pub unknown_builds: Vec<String>,
    /// Whether the oldest boot image in use is at least MCO's floor.
    pub oldest_meets_floor: Option<bool>,
    /// Whether the record claims a newer boot image than the oldest in use (non-compliant:
    /// MCO's check passes while a scale-up boots an older image). Null: not comparable.
    pub overstated: Option<bool>,
    /// Why skew enforcement makes the cluster non-compliant.
    pub reasons: Vec<String>,
    /// What could not be judged, and other remarks (shown as warnings).
    pub notes: Vec<String>,
}

/// The oldest build in use over `machinesets` (their images; their youngest nodes' builds
/// when observed), and the MachineSets whose build is unknown. Windows MachineSets boot no
/// RHCOS image and do not count; every other skipped one does (its build unknown).
fn oldest(machinesets: &[MachineSetReport]) -> (Option<(BuildId, String)>, Vec<String>) {
    let mut unknown = Vec::new();
    let mut builds: Vec<(BuildId, String)> = Vec::new();
    for m in machinesets
        .iter()
        .filter(|m| m.skip_kind != Some(SkipKind::NotRhcos))
    {
        match parse_build(m.current_build.as_deref()) {
            Some(b) => builds.push((b, format!("MachineSet {}", m.name))),
            None => unknown.push(m.name.clone()),
        }
        if let Some(b) = parse_build(m.observed_build.as_deref()) {
            let node = m.observed_node.as_deref().unwrap_or("?");
            builds.push((b, format!("node {node} (MachineSet {})", m.name)));
        }
    }
    (builds.into_iter().min_by(|a, b| a.0.cmp(&b.0)), unknown)
}

/// The skew enforcement section from MachineConfiguration `cluster` (None: absent or not
/// read), the Infrastructure's `controlPlaneTopology` and the audited MachineSets.
pub fn skew_report(
    mc: Option<&Value>,
    topology: Option<&str>,
    machinesets: &[MachineSetReport],
) -> SkewReport {
    let mut r = SkewReport {
        floor_ocp_version: ocp_text(OCP_FLOOR),
        floor_rhel_version: format!("{}.{}", RHEL_FLOOR.0, RHEL_FLOOR.1),
        ..SkewReport::default()
    };
    let Some(mc) = mc else {
        r.notes.push(
            "MachineConfiguration cluster not read: boot image skew enforcement unknown".into(),
        );
        return r;
    };
    let spec = mc.pointer("/spec/bootImageSkewEnforcement");
    let status = mc.pointer("/status/bootImageSkewEnforcementStatus");
    r.supported = spec.is_some() || status.is_some();
    if !r.supported {
        return r;
    }
    r.spec_mode = text(mc, "/spec/bootImageSkewEnforcement/mode");
    r.status_mode = text(mc, "/status/bootImageSkewEnforcementStatus/mode");
    r.effective_mode = r
        .status_mode
        .clone()
        .or_else(|| (topology == Some("SingleReplica")).then(|| "None".to_string()));
    let spec_manual = spec
        .filter(|s| s.get("mode").and_then(Value::as_str) == Some("Manual"))
        .and_then(|s| s.get("manual"));
    let record = match r.effective_mode.as_deref() {
        Some("Automatic") => status.and_then(|s| s.get("automatic")),
        // MCO copies `spec.manual` into `status.manual`: a spec record the status does not
        // show yet (just written, MCO not reconciled) is the one about to be enforced.
        Some("Manual") => {
            let status_manual = status.and_then(|s| s.get("manual"));
            if let (Some(want), Some(has)) = (spec_manual, status_manual) {
                if want != has {
                    r.notes.push(format!(
                        "MCO has not applied spec.bootImageSkewEnforcement yet: its status records {}, the spec {}; the audit judges the spec's",
                        record_text(has),
                        record_text(want)
                    ));
                }
            }
            spec_manual.or(status_manual)
        }
        Some(_) => None,
        None => spec.and_then(|s| s.get("manual")),
    };
    if let Some(rec) = record {
        r.recorded_ocp_version = text(rec, "/ocpVersion");
        r.recorded_rhcos_version = text(rec, "/rhcosVersion");
    }
    let recorded = record.and_then(Recorded::of);
    let recorded = match recorded {
        Some(Ok(v)) => Some(v),
        Some(Err(e)) => {
            r.notes.push(format!("the skew record cannot be read: {e}"));
            None
        }
        None => None,
    };
    let mode = r.effective_mode.as_deref();
    r.upgradeable = match (mode, &recorded) {
        (Some("None"), _) => Some(true),
        (Some("Automatic" | "Manual"), Some(rec)) => {
            let below = rec.below_floor();
            if let Some(why) = &below {
                r.reasons.push(format!(
                    "boot image skew enforcement blocks minor upgrades: {why}; update the boot images and record them (skew_enforcement)"
                ));
            }
            Some(below.is_none())
        }
        (None, _) => {
            r.notes.push(
                "MachineConfiguration has no bootImageSkewEnforcementStatus yet: MCO has not decided how to enforce boot image skew".into(),
            );
            None
        }
        _ => None,
    };
    let (found, unknown) = oldest(machinesets);
    r.oldest_in_use_complete = unknown.is_empty() && found.is_some();
    if !unknown.is_empty() {
        r.notes.push(format!(
            "the oldest boot image in use is not fully known: the build of MachineSet(s) {} is unknown (give image_builds, or nodes: true)",
            unknown.join(", ")
        ));
    }
    if machinesets.is_empty() {
        r.notes.push(
            "no MachineSets: the boot images live outside the cluster; the skew record is all there is to judge".into(),
        );
    }
    r.unknown_builds = unknown;
    if let Some((b, used_by)) = &found {
        r.oldest_meets_floor = match (b.rhel_version(), b.ocp_version()) {
            (Some(rhel), _) => Some(rhel >= RHEL_FLOOR),
            (None, Some(ocp)) => Some(ocp >= (OCP_FLOOR.0, OCP_FLOOR.1)),
            (None, None) => None,
        };
        r.oldest_in_use = Some(OldestInUse {
            build: b.to_string(),
            ocp_version: b.ocp_version().map(|(x, y)| format!("{x}.{y}.0")),
            rhel_version: b.rhel_version().map(|(x, y)| format!("{x}.{y}")),
            used_by: used_by.clone(),
        });
        if let (Some(rec), Some(mode @ ("Automatic" | "Manual"))) = (&recorded, mode) {
            r.overstated = match rec.overstates(b) {
                Some(true) => Some(true),
                Some(false) if r.oldest_in_use_complete => Some(false),
                _ => None,
            };
            if r.overstated == Some(true) {
                r.reasons.push(format!(
                    "the boot image skew record ({mode}: {}) overstates the oldest boot image in use: {used_by} boots {b}; a scale-up there boots an older image than MCO believes",
                    rec.text()
                ));
            }
        }
        if r.oldest_meets_floor == Some(false) && mode == Some("None") {
            r.notes.push(format!(
                "{used_by} boots {b}, older than MCO's floor (OCP {}, RHEL {}); skew enforcement is off (None), so nothing blocks upgrades, but new machines may fail to join",
                r.floor_ocp_version, r.floor_rhel_version
            ));
        }
    }
    r
}

/// Which form `skew_enforcement` records the oldest boot image in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordAs {
    /// `rhcosVersion` when the build id can be written there (every RHCOS build since 4.4),
    /// else `ocpVersion`.
    #[default]
    Auto,
    /// `manual.mode: RHCOSVersion` + `rhcosVersion`: the build itself, exact.
    Rhcos,
    /// `manual.mode: OCPVersion` + `ocpVersion` `x.y.0` of the build's OpenShift minor
    /// (not for RHEL-versioned builds, whose id names no OpenShift version).
    Ocp,
}

/// The options of the skew step.
#[derive(Debug, Clone, Copy, Default)]
pub struct SkewOptions {
    pub record_as: RecordAs,
    /// Write Manual where MCO enforces in Automatic mode.
    pub allow_automatic: bool,
}

/// What the skew step did or would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SkewAction {
    /// The record is set (or, in check mode, would be).
    Set,
    /// The record already names the oldest boot image in use.
    Unchanged,
    /// Nothing to record: the cluster has no boot image skew enforcement.
    Skipped,
    /// Refused (see `reason`); nothing changed.
    Refused,
}

/// The report of the skew step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SkewOutcome {
    pub action: SkewAction,
    /// `spec.bootImageSkewEnforcement` as read (null: not set).
    pub before: Option<Value>,
    /// `spec.bootImageSkewEnforcement` as the step sets it (null when refused or skipped).
    pub after: Option<Value>,
    /// Why it was skipped or refused.
    pub reason: Option<String>,
}

/// The `spec.bootImageSkewEnforcement` that records `oldest` as `record_as` says.
fn record_for(oldest: &BuildId, record_as: RecordAs) -> Result<Value, String> {
    let rhcos = || {
        oldest.skew_rhcos_version().map(
            |v| json!({"mode": "Manual", "manual": {"mode": "RHCOSVersion", "rhcosVersion": v}}),
        )
    };
    let ocp = || {
        oldest.ocp_version().map(|(x, y)| {
            json!({"mode": "Manual", "manual": {"mode": "OCPVersion", "ocpVersion": format!("{x}.{y}.0")}})
        })
    };
    match record_as {
        RecordAs::Auto => rhcos().or_else(ocp),
        RecordAs::Rhcos => rhcos(),
        RecordAs::Ocp => ocp(),
    }
    .ok_or_else(|| {
        format!(
            "the oldest boot image in use, {oldest}, cannot be recorded as {}: {}",
            match record_as {
                RecordAs::Ocp => "an OCP version",
                _ => "an RHCOS version",
            },
            match record_as {
                RecordAs::Ocp => "its id names no OpenShift version (use record_as: rhcos)",
                _ => "its id is not of the form <major>.<minor>.<timestamp>-<n>",
            }
        )
    })
}

/// The plan of the skew step: set `spec.bootImageSkewEnforcement` of `mc` (MachineConfiguration
/// `cluster`) to Manual with the oldest boot image in use (`report`, from the same
/// snapshot) — never newer. Refuses when the oldest is not fully known, when there is no
/// MachineSet, or (unless `allow_automatic`) where MCO enforces Automatic mode. Also the
/// re-plan after a 409 (`mc` read again).
pub fn plan_skew_record(
    mc: Option<&Value>,
    report: &SkewReport,
    machinesets: &[MachineSetReport],
    opts: SkewOptions,
) -> Plan<SkewOutcome> {
    let before = mc.and_then(|m| m.pointer("/spec/bootImageSkewEnforcement").cloned());
    let outcome = |action, after, reason: Option<String>| SkewOutcome {
        action,
        before: before.clone(),
        after,
        reason,
    };
    let refuse = |why: String| {
        let mut p = Plan::new(
            Vec::new(),
            outcome(SkewAction::Refused, None, Some(why.clone())),
        );
        p.refusals.push(why);
        p
    };
    let Some(mc) = mc else {
        return refuse(
            "MachineConfiguration cluster not found: nothing to record the boot image skew in"
                .into(),
        );
    };
    if !report.supported {
        let why = "this cluster's MachineConfiguration has no boot image skew enforcement (OpenShift before 4.20, or the feature not enabled): nothing to record".to_string();
        let mut p = Plan::new(
            Vec::new(),
            outcome(SkewAction::Skipped, None, Some(why.clone())),
        );
        p.warnings.push(why);
        return p;
    }
    if report.status_mode.as_deref() == Some("Automatic") && !opts.allow_automatic {
        return refuse(
            "MCO enforces boot image skew in Automatic mode here (status.bootImageSkewEnforcementStatus.mode): it updates boot images and records them itself; writing Manual would take that over. Set allow_automatic: true to record the oldest boot image in use anyway".into(),
        );
    }
    if machinesets.is_empty() {
        return refuse(
            "no MachineSets: the oldest boot image in use cannot be read from the cluster (the boot images live outside it); write spec.bootImageSkewEnforcement by hand".into(),
        );
    }
    if !report.unknown_builds.is_empty() {
        return refuse(format!(
            "the oldest boot image in use is not known: the build of MachineSet(s) {} is unknown; recording a version could overstate it (give image_builds for their images)",
            report.unknown_builds.join(", ")
        ));
    }
    let (Some((oldest, _)), _) = oldest(machinesets) else {
        return refuse("no boot image build found".into());
    };
    let record = match record_for(&oldest, opts.record_as) {
        Ok(r) => r,
        Err(why) => return refuse(why),
    };
    if before.as_ref() == Some(&record) {
        return Plan::new(
            Vec::new(),
            outcome(SkewAction::Unchanged, Some(record), None),
        );
    }
    let mut after = mc.clone();
    if let Some(spec) = after.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("bootImageSkewEnforcement".into(), record.clone());
    } else if let Some(obj) = after.as_object_mut() {
        obj.insert(
            "spec".into(),
            json!({"bootImageSkewEnforcement": record.clone()}),
        );
    }
    let manual = &record["manual"];
    let value = manual
        .get("rhcosVersion")
        .or_else(|| manual.get("ocpVersion"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut plan = Plan::new(
        vec![ObjectChange {
            kind: MACHINE_CONFIGURATION,
            namespace: None,
            name: "cluster".into(),
            before: Some(mc.clone()),
            after,
            summary: format!(
                "bootImageSkewEnforcement Manual {} {value}",
                manual
                    .get("mode")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            ),
        }],
        outcome(SkewAction::Set, Some(record), None),
    );
    if report.oldest_meets_floor == Some(false) {
        plan.warnings.push(format!(
            "the oldest boot image in use, {oldest}, is older than MCO's floor (OCP {}, RHEL {}): with this record MCO blocks minor upgrades until the boot images are updated",
            report.floor_ocp_version, report.floor_rhel_version
        ));
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::machineset::Status;

    fn ms(name: &str, build: Option<&str>) -> MachineSetReport {
        MachineSetReport {
            name: name.into(),
            namespace: "openshift-machine-api".into(),
            platform: None,
            architecture: None,
            region: None,
            current_image: None,
            current_build: build.map(str::to_string),
            target_image: None,
            target_build: None,
            status: if build.is_some() {
                Status::Current
            } else {
                Status::Skipped
            },
            reason: None,
            action: None,
            user_data_secret: None,
            mco_managed: false,
            replicas: None,
            observed_build: None,
            observed_machine: None,
            observed_node: None,
            observed_at: None,
            observed_reason: None,
            observed_older_than_image: false,
            observed_drift: false,
            os_stream: None,
            skip_kind: None,
            managed_by: None,
        }
    }

    fn mc(spec: Option<Value>, status: Option<Value>) -> Value {
        let mut m = json!({"metadata": {"name": "cluster"}, "spec": {"logLevel": "Normal"}});
        if let Some(s) = spec {
            m["spec"]["bootImageSkewEnforcement"] = s;
        }
        if let Some(s) = status {
            m["status"] = json!({"bootImageSkewEnforcementStatus": s});
        }
        m
    }

    fn manual_ocp(v: &str) -> Value {
        json!({"mode": "Manual", "manual": {"mode": "OCPVersion", "ocpVersion": v}})
    }

    fn manual_rhcos(v: &str) -> Value {
        json!({"mode": "Manual", "manual": {"mode": "RHCOSVersion", "rhcosVersion": v}})
    }

    /// Right after the skew step writes the spec, MCO's status still holds the old record:
    /// the audit judges the spec's (what MCO mirrors next) and says the status lags.
    #[test]
    fn a_manual_spec_record_the_status_does_not_show_yet_is_judged() {
        let sets = [ms("a", Some("416.94.202510081640-0"))];
        let m = mc(
            Some(manual_rhcos("416.94.202510081640-0")),
            Some(manual_ocp("4.22.0")),
        );
        let r = skew_report(Some(&m), None, &sets);
        assert_eq!(
            r.recorded_rhcos_version.as_deref(),
            Some("416.94.202510081640-0")
        );
        assert_eq!(r.recorded_ocp_version, None);
        assert_eq!(r.overstated, Some(false), "{r:?}");
        assert!(r.reasons.is_empty(), "{:?}", r.reasons);
        assert!(
            r.notes.iter().any(|n| n.contains("not applied")
                && n.contains("ocpVersion 4.22.0")
                && n.contains("rhcosVersion 416.94.202510081640-0")),
            "{:?}",
            r.notes
        );
        // In step: no note, the same judgement.
        let m = mc(Some(manual_ocp("4.22.0")), Some(manual_ocp("4.22.0")));
        let r = skew_report(Some(&m), None, &sets);
        assert_eq!(r.overstated, Some(true));
        assert!(r.notes.is_empty(), "{:?}", r.notes);
        // A status record with no Manual spec (MCO's own) is still read.
        let m = mc(None, Some(manual_ocp("4.12.0")));
        let r = skew_report(Some(&m), None, &sets);
        assert_eq!(r.recorded_ocp_version.as_deref(), Some("4.12.0"));
    }

    #[test]
    fn ocp_versions_and_floors() {
        assert_eq!(parse_ocp_version("4.13.0"), Some((4, 13, 0)));
        assert_eq!(parse_ocp_version("4.22.10"), Some((4, 22, 10)));
        for bad in ["4.13", "4.13.0-rc.1", "", "4..0", "v4.13.0", "4.13.0.1"] {
            assert_eq!(parse_ocp_version(bad), None, "{bad}");
        }
        assert!(Recorded::Ocp((4, 12, 9)).below_floor().is_some());
        assert!(Recorded::Ocp((4, 13, 0)).below_floor().is_none());
        let rh = |v: &str| Recorded::Rhcos(BuildId::from_rhcos_version(v).unwrap());
        assert!(rh("9.2.20230101-0").below_floor().is_none());
        assert!(
            rh("412.86.202301311551-0").below_floor().is_some(),
            "RHEL 8.6"
        );
        assert!(
            rh("413.92.202305021736-0").below_floor().is_none(),
            "RHEL 9.2"
        );
        assert!(
            rh("48.810.202208021106-0").below_floor().is_some(),
            "RHEL 8.10"
        );
    }

    /// Each effective mode × oldest-in-use older / equal / newer than the record.
    #[test]
    fn modes_times_oldest_in_use() {
        let older = [
            ms("a", Some("412.86.202301311551-0")),
            ms("b", Some("418.94.202501221327-0")),
        ];
        let equal = [ms("a", Some("418.94.202501221327-0"))];
        let newer = [ms("a", Some("9.6.20251023-0"))];
        let rec = "418.94.202501221327-0";
        type Case<'a> = (
            &'a str,
            Value,
            &'a [MachineSetReport],
            Option<bool>,
            Option<bool>,
        );
        let cases: Vec<Case> = vec![
            // (name, mc, machinesets, overstated, upgradeable)
            (
                "manual rhcos, older in use",
                mc(Some(manual_rhcos(rec)), Some(manual_rhcos(rec))),
                &older,
                Some(true),
                Some(true),
            ),
            (
                "manual rhcos, equal",
                mc(Some(manual_rhcos(rec)), Some(manual_rhcos(rec))),
                &equal,
                Some(false),
                Some(true),
            ),
            (
                "manual rhcos, newer",
                mc(Some(manual_rhcos(rec)), Some(manual_rhcos(rec))),
                &newer,
                Some(false),
                Some(true),
            ),
            (
                "manual ocp, older",
                mc(Some(manual_ocp("4.18.0")), Some(manual_ocp("4.18.0"))),
                &older,
                Some(true),
                Some(true),
            ),
            (
                "manual ocp, equal",
                mc(Some(manual_ocp("4.18.0")), Some(manual_ocp("4.18.0"))),
                &equal,
                Some(false),
                Some(true),
            ),
            (
                "manual ocp, newer (rhel-versioned)",
                mc(Some(manual_ocp("4.18.0")), Some(manual_ocp("4.18.0"))),
                &newer,
                Some(false),
                Some(true),
            ),
            (
                "automatic, older",
                mc(
                    None,
                    Some(json!({"mode": "Automatic", "automatic": {"ocpVersion": "4.18.1"}})),
                ),
                &older,
                Some(true),
                Some(true),
            ),
            (
                "automatic, equal",
                mc(
                    None,
                    Some(json!({"mode": "Automatic", "automatic": {"ocpVersion": "4.18.1"}})),
                ),
                &equal,
                Some(false),
                Some(true),
            ),
            (
                "automatic, newer",
                mc(
                    None,
                    Some(json!({"mode": "Automatic", "automatic": {"ocpVersion": "4.18.1"}})),
                ),
                &newer,
                Some(false),
                Some(true),
            ),
            (
                "none, older",
                mc(Some(json!({"mode": "None"})), Some(json!({"mode": "None"}))),
                &older,
                None,
                Some(true),
            ),
            (
                "none, newer",
                mc(Some(json!({"mode": "None"})), Some(json!({"mode": "None"}))),
                &newer,
                None,
                Some(true),
            ),
            (
                "manual below floor",
                mc(Some(manual_ocp("4.12.0")), Some(manual_ocp("4.12.0"))),
                &older,
                Some(false),
                Some(false),
            ),
        ];
        for (name, m, sets, overstated, upgradeable) in cases {
            let r = skew_report(Some(&m), None, sets);
            assert!(r.supported, "{name}");
            assert_eq!(r.overstated, overstated, "{name}: {r:?}");
            assert_eq!(r.upgradeable, upgradeable, "{name}: {r:?}");
            assert_eq!(
                r.reasons.is_empty(),
                overstated != Some(true) && upgradeable != Some(false),
                "{name}: {r:?}"
            );
        }
        // Absent: no skew enforcement on this cluster.
        let r = skew_report(Some(&mc(None, None)), None, &older);
        assert!(!r.supported && r.reasons.is_empty() && r.oldest_in_use.is_none());
        // The oldest in use in both forms.
        let r = skew_report(Some(&mc(Some(manual_ocp("4.18.0")), None)), None, &older);
        let o = r.oldest_in_use.unwrap();
        assert_eq!(
            (
                o.build.as_str(),
                o.ocp_version.as_deref(),
                o.rhel_version.as_deref()
            ),
            ("412.86.202301311551-0", Some("4.12.0"), Some("8.6"))
        );
        assert_eq!(o.used_by, "MachineSet a");
        assert_eq!(r.oldest_meets_floor, Some(false));
    }

    #[test]
    fn unknown_builds_never_pass() {
        let sets = [ms("win", None), ms("b", Some("418.94.202501221327-0"))];
        let m = mc(Some(manual_ocp("4.18.0")), Some(manual_ocp("4.18.0")));
        let r = skew_report(Some(&m), None, &sets);
        assert!(!r.oldest_in_use_complete);
        assert_eq!(r.unknown_builds, ["win"]);
        assert_eq!(r.overstated, None, "not provably truthful");
        assert!(
            r.notes.iter().any(|n| n.contains("not fully known")),
            "{r:?}"
        );
        let p = plan_skew_record(Some(&m), &r, &sets, SkewOptions::default());
        assert!(p.changes.is_empty());
        assert!(p.refusals[0].contains("win"), "{:?}", p.refusals);
    }

    #[test]
    fn windows_machinesets_do_not_count_other_skipped_ones_do() {
        let mut windows = ms("windows", None);
        windows.skip_kind = Some(SkipKind::NotRhcos);
        let mut owned = ms("owned", None);
        owned.skip_kind = Some(SkipKind::NotOurs);
        let rhcos = ms("b", Some("418.94.202501221327-0"));
        let m = mc(Some(manual_ocp("4.18.0")), Some(manual_ocp("4.18.0")));
        let r = skew_report(Some(&m), None, &[windows.clone(), rhcos.clone()]);
        assert!(r.oldest_in_use_complete, "{r:?}");
        assert!(r.unknown_builds.is_empty());
        assert_eq!(r.overstated, Some(false));
        let r = skew_report(Some(&m), None, &[windows, owned, rhcos]);
        assert!(!r.oldest_in_use_complete);
        assert_eq!(r.unknown_builds, ["owned"]);
    }

    #[test]
    fn single_node_defaults_to_none() {
        let m = mc(Some(manual_ocp("4.18.0")), None);
        let r = skew_report(Some(&m), Some("SingleReplica"), &[]);
        assert_eq!(r.effective_mode.as_deref(), Some("None"));
        assert_eq!(r.upgradeable, Some(true));
    }

    #[test]
    fn the_step_records_the_oldest_never_newer() {
        let sets = [
            ms("a", Some("9.6.20251023-0")),
            ms("b", Some("418.94.202501221327-0")),
        ];
        let m = mc(Some(manual_ocp("4.22.0")), Some(manual_ocp("4.22.0")));
        let r = skew_report(Some(&m), None, &sets);
        assert_eq!(r.overstated, Some(true));
        let p = plan_skew_record(Some(&m), &r, &sets, SkewOptions::default());
        assert_eq!(p.reports.action, SkewAction::Set);
        assert_eq!(p.reports.after, Some(manual_rhcos("418.94.202501221327-0")));
        let patch = crate::plan::change::merge_patch(
            p.changes[0].before.as_ref().unwrap(),
            &p.changes[0].after,
        )
        .unwrap();
        assert_eq!(
            patch,
            json!({"spec": {"bootImageSkewEnforcement": {"manual": {"mode": "RHCOSVersion", "ocpVersion": null, "rhcosVersion": "418.94.202501221327-0"}}}})
        );
        let ocp = SkewOptions {
            record_as: RecordAs::Ocp,
            ..SkewOptions::default()
        };
        let p = plan_skew_record(Some(&m), &r, &sets, ocp);
        assert_eq!(p.reports.after, Some(manual_ocp("4.18.0")));
        // Idempotent: the record as planned is kept.
        let m2 = mc(
            Some(manual_rhcos("418.94.202501221327-0")),
            Some(manual_rhcos("418.94.202501221327-0")),
        );
        let r2 = skew_report(Some(&m2), None, &sets);
        let p = plan_skew_record(Some(&m2), &r2, &sets, SkewOptions::default());
        assert!(p.changes.is_empty() && p.refusals.is_empty());
        assert_eq!(p.reports.action, SkewAction::Unchanged);
        // OCP form of a RHEL-versioned build is refused, naming the way out.
        let only_new = [ms("a", Some("9.6.20251023-0"))];
        let r3 = skew_report(Some(&m), None, &only_new);
        let p = plan_skew_record(Some(&m), &r3, &only_new, ocp);
        assert!(
            p.refusals[0].contains("record_as: rhcos"),
            "{:?}",
            p.refusals
        );
    }

    #[test]
    fn automatic_needs_to_be_told_and_absent_is_skipped() {
        let sets = [ms("a", Some("418.94.202501221327-0"))];
        let m = mc(
            None,
            Some(json!({"mode": "Automatic", "automatic": {"ocpVersion": "4.18.1"}})),
        );
        let r = skew_report(Some(&m), None, &sets);
        let p = plan_skew_record(Some(&m), &r, &sets, SkewOptions::default());
        assert!(
            p.refusals[0].contains("allow_automatic"),
            "{:?}",
            p.refusals
        );
        let allow = SkewOptions {
            allow_automatic: true,
            ..SkewOptions::default()
        };
        let p = plan_skew_record(Some(&m), &r, &sets, allow);
        assert_eq!(p.changes.len(), 1);
        // spec had no bootImageSkewEnforcement: the patch adds it whole.
        assert_eq!(p.reports.before, None);
        let absent = mc(None, None);
        let r = skew_report(Some(&absent), None, &sets);
        let p = plan_skew_record(Some(&absent), &r, &sets, SkewOptions::default());
        assert_eq!(p.reports.action, SkewAction::Skipped);
        assert!(p.refusals.is_empty() && p.changes.is_empty());
        let p = plan_skew_record(Some(&m), &r, &[], allow);
        assert_eq!(p.reports.action, SkewAction::Skipped);
    }
}
