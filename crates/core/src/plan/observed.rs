//! Observed builds (`nodes: true`): the build each MachineSet's youngest node really
//! booted, from the `CoreOS aleph version` line of its machine-config-daemon log — the
//! documented way to tell a boot image that the image field cannot (vSphere templates,
//! cluster-local GCP and Azure images).
//!
//! Fills the `observed_*` fields of each MachineSet, derives `status` from the observed
//! build where the image's own build is unknown, and tells nodes that booted before the
//! image last changed (older: expected) from drift (another, not older build: a
//! warning). Pure: the caller passes what was read.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::machineset::{MachineSetReport, Status};
use crate::cluster::name_of;
use crate::cluster::nodes::{trail, NodeObservation, PodLog, LOG_LIMIT_BYTES, MCD_CONTAINER};
use crate::cluster::resources::MCO_NAMESPACE;
use crate::mcd::{parse_mcd_log, AlephError};
use crate::stream::{BuildId, BuildIdKind};

/// A MachineSet whose youngest node booted another build than its image's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ObservedMismatch {
    /// The MachineSet.
    pub machineset: String,
    /// Its youngest Machine.
    pub machine: Option<String>,
    /// That Machine's node.
    pub node: Option<String>,
    /// The build the node booted.
    pub observed_build: String,
    /// The build of the image the MachineSet names (`current_build`).
    pub current_build: String,
}

/// Observed builds over the selected MachineSets (`nodes: true`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ObservedBuildsReport {
    /// Whether nodes were observed (`nodes: true`); without it the rest is empty.
    pub enabled: bool,
    /// Machines read in the MachineSet namespace.
    pub machines: usize,
    /// Nodes read.
    pub nodes: usize,
    /// machine-config-daemon pods read.
    pub mcd_pods: usize,
    /// machine-config-daemon logs read: at most one per MachineSet, that of its youngest node.
    pub logs_read: usize,
    /// MachineSets with an observed build.
    pub observed: usize,
    /// MachineSets whose youngest node booted a build older than the image the MachineSet
    /// names: it booted before the image last changed. Expected, for information.
    pub older_than_image: Vec<ObservedMismatch>,
    /// MachineSets whose youngest node booted another build than the image the MachineSet
    /// names, and not an older one (drift; each is also a warning).
    pub drift: Vec<ObservedMismatch>,
    /// MachineSets whose `status` comes from the observed build, because the build of
    /// their image cannot be read from it.
    pub status_from_observed: Vec<String>,
}

/// What was observed for one MachineSet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// The build its youngest node booted.
    pub build: Option<BuildId>,
    /// The youngest Machine.
    pub machine: Option<String>,
    /// Its node.
    pub node: Option<String>,
    /// The Machine's `creationTimestamp`.
    pub at: Option<String>,
    /// Why `build` is None.
    pub reason: Option<String>,
    /// Whether the log was forbidden (403).
    pub forbidden: bool,
}

/// Follows a MachineSet to its youngest node's machine-config-daemon log and reads the build.
pub fn observe(machineset: &str, obs: &NodeObservation) -> Observed {
    let t = trail(machineset, obs);
    let mut o = Observed {
        machine: t.machine.clone(),
        node: t.node.clone(),
        at: t.machine_created.clone(),
        ..Observed::default()
    };
    if let Some(gap) = &t.gap {
        o.reason = Some(gap.to_string());
        return o;
    }
    let (Some(pod), Some(node)) = (t.pod.as_deref(), t.node.as_deref()) else {
        o.reason = Some("no machine-config-daemon pod was found".into());
        return o;
    };
    match obs.logs.get(pod) {
        None => {
            o.reason = Some(format!(
                "no log of machine-config-daemon pod {pod} (node {node}) was read; a dump holds it \
                 as pods/{MCO_NAMESPACE}/{pod}/{MCD_CONTAINER}.log or {pod}.log"
            ))
        }
        Some(PodLog::Unreadable { reason, forbidden }) => {
            o.reason = Some(reason.clone());
            o.forbidden = *forbidden;
        }
        Some(PodLog::Text(text)) => match parse_mcd_log(text) {
            Ok(aleph) => o.build = Some(aleph.build),
            Err(AlephError::NoAlephLine) => {
                let restarts = match t.pod_restarts {
                    0 => String::new(),
                    n => format!(" (its container restarted {n} times)"),
                };
                o.reason = Some(format!(
                    "the first {} KiB of the log of machine-config-daemon pod {pod} (node {node}) hold no \
                     `CoreOS aleph version` line: the daemon writes it when it starts, so the log was \
                     rotated or the daemon restarted since{restarts}",
                    LOG_LIMIT_BYTES / 1024
                ));
            }
            Err(e) => {
                o.reason = Some(format!(
                    "the log of machine-config-daemon pod {pod} (node {node}): {e}"
                ))
            }
        },
    }
    o
}

/// Whether an observed build is the build a MachineSet's image names: the same id, or an
/// Azure Marketplace version derived from it (`411.86.20221004` for
/// `411.86.202210041234-0`, `9.6.20251015` for `9.6.20251015-0`, `4.18.2025031114`
/// for a 4.18 build of that hour).
pub fn same_build(observed: &BuildId, named: &BuildId) -> bool {
    if observed == named {
        return true;
    }
    if named.kind() != BuildIdKind::Marketplace {
        return false;
    }
    if observed.raw().starts_with(named.raw()) {
        return true;
    }
    let (o, n) = (observed.timestamp(), named.timestamp());
    observed.ocp_version().is_some()
        && observed.ocp_version() == named.ocp_version()
        && (o.year, o.month, o.day, o.hour) == (n.year, n.month, n.day, n.hour)
}

/// A build id or marketplace version from a report field (also the skew audit's).
pub(super) fn parse_build(text: Option<&str>) -> Option<BuildId> {
    text.and_then(|t| BuildId::from_marketplace_version(t).ok())
}

/// How the observed build relates to the image's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    /// The same build.
    Same,
    /// Older: the node booted before the image last changed.
    Older,
    /// Another, not older build.
    Drift,
}

/// What [`apply`] did with an observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Applied {
    /// No build was observed.
    Nothing,
    /// The image's build is known: the observed one was compared with it.
    Compared(Relation),
    /// The image's build is unknown: the status now comes from the observed build.
    StatusFromObserved,
    /// Recorded only (no image build to compare, no target to derive a status from).
    Recorded,
}

/// Fills one MachineSet's `observed_*` fields and, where its image's build is unknown,
/// its status from the observed build.
fn apply(
    report: &mut MachineSetReport,
    o: &Observed,
    cluster_version: Option<(u32, u32)>,
) -> Applied {
    report.observed_build = o.build.as_ref().map(ToString::to_string);
    report.observed_machine = o.machine.clone();
    report.observed_node = o.node.clone();
    report.observed_at = o.at.clone();
    report.observed_reason = o.reason.clone();
    let Some(build) = &o.build else {
        return Applied::Nothing;
    };
    let current = parse_build(report.current_build.as_deref());
    let target = parse_build(report.target_build.as_deref());
    if let Some(current) = current {
        let relation = if same_build(build, &current) {
            Relation::Same
        } else if *build < current {
            report.observed_older_than_image = true;
            Relation::Older
        } else {
            report.observed_drift = true;
            Relation::Drift
        };
        return Applied::Compared(relation);
    }
    let (Status::Unknown, Some(target)) = (report.status, target) else {
        return Applied::Recorded;
    };
    let node = o.node.as_deref().unwrap_or("?");
    let image = report.current_image.as_deref().unwrap_or("its image");
    let from = format!(
        "the build of {image} cannot be read from the image; its youngest node {node} booted {build}"
    );
    let newer = match (build.ocp_version(), cluster_version) {
        (Some(b), Some(c)) => b > c,
        _ => false,
    };
    let (status, reason) = if newer {
        let ((maj, min), (cmaj, cmin)) = (
            build.ocp_version().unwrap_or_default(),
            cluster_version.unwrap_or_default(),
        );
        (
            Status::NewerThanCluster,
            format!("{from}, from OpenShift {maj}.{min}, newer than the cluster ({cmaj}.{cmin})"),
        )
    } else if same_build(build, &target) || *build >= target {
        (
            Status::Current,
            format!("{from}, at least the stream's {target}"),
        )
    } else {
        (
            Status::Outdated,
            format!(
                "{from}, older than the stream's {target} (a node booted after the image last \
                 changed would show the new build)"
            ),
        )
    };
    report.status = status;
    report.reason = Some(reason);
    Applied::StatusFromObserved
}

/// Observes every MachineSet (`machinesets` and `reports` in the same order), fills their
/// `observed_*` fields and statuses, adds warnings, and sums it up.
pub fn observe_all(
    machinesets: &[Value],
    reports: &mut [MachineSetReport],
    obs: &NodeObservation,
    cluster_version: Option<(u32, u32)>,
    warnings: &mut Vec<String>,
) -> ObservedBuildsReport {
    let count = |r: &Result<Vec<Value>, String>, what: &str, warnings: &mut Vec<String>| match r {
        Ok(items) => items.len(),
        Err(e) => {
            warnings.push(format!("could not read {what} for observed builds: {e}"));
            0
        }
    };
    let mut out = ObservedBuildsReport {
        enabled: true,
        machines: count(&obs.machines, "Machines", warnings),
        nodes: count(&obs.nodes, "Nodes", warnings),
        mcd_pods: count(&obs.mcd_pods, "machine-config-daemon pods", warnings),
        logs_read: obs
            .logs
            .values()
            .filter(|l| matches!(l, PodLog::Text(_)))
            .count(),
        ..ObservedBuildsReport::default()
    };
    let mut forbidden: Vec<String> = Vec::new();
    for (ms, report) in machinesets.iter().zip(reports.iter_mut()) {
        let o = observe(name_of(ms), obs);
        if o.forbidden {
            forbidden.extend(o.reason.clone());
        }
        let applied = apply(report, &o, cluster_version);
        if report.observed_build.is_some() {
            out.observed += 1;
        }
        let mismatch = || ObservedMismatch {
            machineset: report.name.clone(),
            machine: report.observed_machine.clone(),
            node: report.observed_node.clone(),
            observed_build: report.observed_build.clone().unwrap_or_default(),
            current_build: report.current_build.clone().unwrap_or_default(),
        };
        match applied {
            Applied::StatusFromObserved => out.status_from_observed.push(report.name.clone()),
            Applied::Compared(Relation::Older) => out.older_than_image.push(mismatch()),
            Applied::Compared(Relation::Drift) => {
                let m = mismatch();
                warnings.push(format!(
                    "drift: MachineSet {} names an image of build {}, but its youngest node {} booted {}, \
                     which is not older: the image was changed back since, or its build is mapped wrongly",
                    m.machineset,
                    m.current_build,
                    m.node.as_deref().unwrap_or("?"),
                    m.observed_build
                ));
                out.drift.push(m);
            }
            Applied::Compared(Relation::Same) | Applied::Nothing | Applied::Recorded => {}
        }
    }
    if let Some(first) = forbidden.first() {
        warnings.push(format!(
            "could not read the machine-config-daemon logs of {} MachineSet(s); their observed builds are null: {first}",
            forbidden.len()
        ));
    }
    let unreadable: Vec<&str> = obs
        .logs
        .values()
        .filter_map(|log| match log {
            PodLog::Unreadable {
                reason,
                forbidden: false,
            } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    match unreadable.as_slice() {
        [] => {}
        [one] => warnings.push(format!("could not read a machine-config-daemon log: {one}")),
        [first, ..] => warnings.push(format!(
            "could not read {} machine-config-daemon logs; the first: {first}",
            unreadable.len()
        )),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::nodes::MACHINESET_LABEL;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn b(s: &str) -> BuildId {
        BuildId::from_marketplace_version(s).unwrap()
    }

    #[test]
    fn same_build_knows_marketplace_versions() {
        assert!(same_build(
            &b("418.94.202501221327-0"),
            &b("418.94.202501221327-0")
        ));
        assert!(same_build(
            &b("411.86.202210041234-0"),
            &b("411.86.20221004")
        ));
        assert!(same_build(&b("9.6.20251015-0"), &b("9.6.20251015")));
        assert!(same_build(
            &b("418.94.202503111412-0"),
            &b("4.18.2025031114")
        ));
        assert!(!same_build(
            &b("418.94.202503111512-0"),
            &b("4.18.2025031114")
        ));
        assert!(!same_build(
            &b("418.94.202501221327-0"),
            &b("418.94.202602022246-0")
        ));
    }

    fn report(current: Option<&str>, target: Option<&str>, status: Status) -> MachineSetReport {
        MachineSetReport {
            name: "ms".into(),
            namespace: "openshift-machine-api".into(),
            platform: None,
            architecture: Some("x86_64".into()),
            os_stream: None,
            region: None,
            current_image: Some("ocp-cl02-xdqkk-rhcos".into()),
            current_build: current.map(str::to_string),
            target_image: None,
            target_build: target.map(str::to_string),
            status,
            reason: Some("unknown".into()),
            skip_kind: None,
            managed_by: None,
            action: None,
            user_data_secret: None,
            mco_managed: false,
            replicas: Some(1),
            observed_build: None,
            observed_machine: None,
            observed_node: None,
            observed_at: None,
            observed_reason: None,
            observed_older_than_image: false,
            observed_drift: false,
        }
    }

    fn seen(build: &str) -> Observed {
        Observed {
            build: Some(b(build)),
            machine: Some("ms-abcde".into()),
            node: Some("node-1".into()),
            at: Some("2025-02-03T09:10:00Z".into()),
            reason: None,
            forbidden: false,
        }
    }

    #[test]
    fn status_comes_from_the_observed_build_when_the_image_build_is_unknown() {
        let target = Some("418.94.202602022246-0");
        let cases = [
            ("418.94.202602022246-0", Status::Current),
            ("418.94.202501221327-0", Status::Outdated),
            ("419.96.202505011200-0", Status::NewerThanCluster),
        ];
        for (build, want) in cases {
            let mut r = report(None, target, Status::Unknown);
            let applied = apply(&mut r, &seen(build), Some((4, 18)));
            assert_eq!(applied, Applied::StatusFromObserved, "{build}");
            assert_eq!(r.status, want, "{build}");
            assert_eq!(r.observed_build.as_deref(), Some(build));
            let reason = r.reason.unwrap();
            assert!(reason.contains("youngest node node-1"), "{reason}");
        }
        // No target: the status stays unknown.
        let mut r = report(None, None, Status::Unknown);
        assert_eq!(
            apply(&mut r, &seen("418.94.202602022246-0"), Some((4, 18))),
            Applied::Recorded
        );
        assert_eq!(r.status, Status::Unknown);
    }

    #[test]
    fn older_is_expected_and_newer_is_drift() {
        let mut r = report(Some("418.94.202602022246-0"), None, Status::Current);
        let applied = apply(&mut r, &seen("418.94.202501221327-0"), Some((4, 18)));
        assert_eq!(applied, Applied::Compared(Relation::Older));
        assert!(r.observed_older_than_image && !r.observed_drift);
        assert_eq!(r.status, Status::Current, "status stays the image's");

        let mut r = report(Some("418.94.202501221327-0"), None, Status::Outdated);
        let applied = apply(&mut r, &seen("418.94.202602022246-0"), Some((4, 18)));
        assert_eq!(applied, Applied::Compared(Relation::Drift));
        assert!(r.observed_drift && !r.observed_older_than_image);

        let mut r = report(Some("411.86.20221004"), None, Status::Current);
        let applied = apply(&mut r, &seen("411.86.202210041234-0"), Some((4, 11)));
        assert_eq!(applied, Applied::Compared(Relation::Same));
        assert!(!r.observed_drift && !r.observed_older_than_image);
    }

    #[test]
    fn observe_all_reports_reasons_warnings_and_lists() {
        let machine = |name: &str, ms: &str, node: &str| {
            json!({"metadata": {"name": name, "namespace": "openshift-machine-api",
                   "creationTimestamp": "2025-02-03T09:10:00Z", "labels": {MACHINESET_LABEL: ms}},
                   "status": {"nodeRef": {"name": node}}})
        };
        let pod = |name: &str, node: &str| {
            json!({"metadata": {"name": name, "labels": {"k8s-app": "machine-config-daemon"}},
                   "spec": {"nodeName": node},
                   "status": {"phase": "Running",
                              "containerStatuses": [{"name": MCD_CONTAINER, "restartCount": 3}]}})
        };
        let obs = NodeObservation {
            machines: Ok(vec![
                machine("a-1", "a", "n1"),
                machine("b-1", "b", "n2"),
                machine("c-1", "c", "n3"),
            ]),
            nodes: Ok(vec![
                json!({"metadata": {"name": "n1"}}),
                json!({"metadata": {"name": "n2"}}),
                json!({"metadata": {"name": "n3"}}),
            ]),
            mcd_pods: Ok(vec![pod("mcd-1", "n1"), pod("mcd-2", "n2"), pod("mcd-3", "n3")]),
            logs: BTreeMap::from([
                (
                    "mcd-1".to_string(),
                    PodLog::Text("CoreOS aleph version: mtime=2025-01-22 13:52:10 +0000 UTC build=418.94.202501221327-0 imgid=x".into()),
                ),
                ("mcd-2".to_string(), PodLog::Text("I0101 00:00:00.000000 1 daemon.go:1] rotated\n".into())),
                (
                    "mcd-3".to_string(),
                    PodLog::Unreadable { reason: "forbidden: cannot get pods/log".into(), forbidden: true },
                ),
            ]),
        };
        let sets: Vec<Value> = ["a", "b", "c", "d"]
            .iter()
            .map(|n| json!({"metadata": {"name": n}}))
            .collect();
        let mut reports: Vec<MachineSetReport> = sets
            .iter()
            .map(|s| {
                let mut r = report(Some("418.94.202602022246-0"), None, Status::Current);
                r.name = name_of(s).to_string();
                r
            })
            .collect();
        let mut warnings = Vec::new();
        let out = observe_all(&sets, &mut reports, &obs, Some((4, 18)), &mut warnings);
        assert_eq!(
            (out.machines, out.nodes, out.mcd_pods, out.logs_read),
            (3, 3, 3, 2)
        );
        assert_eq!(out.observed, 1);
        assert_eq!(out.older_than_image.len(), 1);
        assert_eq!(out.older_than_image[0].machineset, "a");
        assert!(out.drift.is_empty());
        let why = reports[1].observed_reason.as_deref().unwrap();
        assert!(
            why.contains("no `CoreOS aleph version` line") && why.contains("restarted 3 times"),
            "{why}"
        );
        assert!(reports[2]
            .observed_reason
            .as_deref()
            .unwrap()
            .contains("forbidden"));
        assert_eq!(
            reports[3].observed_reason.as_deref(),
            Some("the MachineSet has no Machine")
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("forbidden"), "{warnings:?}");
    }
}
