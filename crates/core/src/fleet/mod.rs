//! The fleet audit's result: many clusters' audits as one document
//! (`ocp-bootimage.fleet/v1`, JSON Schema `schemas/fleet-report.json`), from which every
//! report form is rendered (JSON, YAML, table, JUnit, HTML, Prometheus). Pure: the
//! clusters' audits and the time come in; what the fleet's verdict is and which exit
//! code it gives are decided here.
//!
//! - [`view`]: the part of one `bootimage_info` result the fleet reads.
//! - [`target`]: one cluster — its outcome, verdict, checks and boot image age.

pub mod target;
pub mod view;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use target::{
    BootImageAge, Check, CheckKind, CheckResult, FailureKind, Outcome, TargetReport, TargetSource,
};
pub use view::AuditView;

use crate::plan::Verdict;

/// The `schema` of a fleet report.
pub const FLEET_SCHEMA: &str = "ocp-bootimage.fleet/v1";

/// The fleet's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FleetVerdict {
    /// Every cluster was audited and is compliant.
    Compliant,
    /// Every cluster was audited; some are not compliant.
    NotCompliant,
    /// Every cluster was audited; none is non-compliant, but some verdicts are unknown.
    Unknown,
    /// Some clusters could not be audited (unreachable, forbidden, timed out, failed).
    Incomplete,
}

impl FleetVerdict {
    /// How the reports name it.
    pub fn as_str(self) -> &'static str {
        match self {
            FleetVerdict::Compliant => "compliant",
            FleetVerdict::NotCompliant => "not compliant",
            FleetVerdict::Unknown => "unknown",
            FleetVerdict::Incomplete => "incomplete",
        }
    }

    /// The exit code of `ocp-bootimage audit` for a fleet: 0 compliant, 1 some not
    /// compliant (or unknown, unless `allow_unknown`), 2 some could not be audited.
    pub fn exit_code(self, allow_unknown: bool) -> u8 {
        match self {
            FleetVerdict::Compliant => 0,
            FleetVerdict::Unknown if allow_unknown => 0,
            FleetVerdict::NotCompliant | FleetVerdict::Unknown => 1,
            FleetVerdict::Incomplete => 2,
        }
    }
}

/// Counts over the fleet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FleetSummary {
    pub clusters: usize,
    pub compliant: usize,
    pub not_compliant: usize,
    pub unknown: usize,
    /// Clusters whose audit did not run (see each one's `outcome`).
    pub not_audited: usize,
    pub machinesets: usize,
    /// MachineSets whose check failed (outdated, newer than the cluster).
    pub failing_machinesets: usize,
    /// The oldest boot image age in days over the fleet.
    pub oldest_boot_image_age_days: Option<i64>,
}

impl FleetSummary {
    /// The counts of `targets`.
    pub fn of(targets: &[TargetReport]) -> FleetSummary {
        let verdicts = |v: Verdict| targets.iter().filter(|t| t.verdict == Some(v)).count();
        let machinesets = || {
            targets
                .iter()
                .flat_map(|t| &t.checks)
                .filter(|c| c.kind == CheckKind::Machineset)
        };
        FleetSummary {
            clusters: targets.len(),
            compliant: verdicts(Verdict::Compliant),
            not_compliant: verdicts(Verdict::NotCompliant),
            unknown: verdicts(Verdict::Unknown),
            not_audited: targets
                .iter()
                .filter(|t| t.outcome != Outcome::Audited)
                .count(),
            machinesets: machinesets().count(),
            failing_machinesets: machinesets()
                .filter(|c| c.result == CheckResult::Fail)
                .count(),
            oldest_boot_image_age_days: targets
                .iter()
                .filter_map(|t| t.boot_image_age.as_ref().map(|a| a.age_days))
                .max(),
        }
    }

    /// The fleet's verdict from the counts.
    pub fn verdict(&self) -> FleetVerdict {
        if self.not_audited > 0 {
            FleetVerdict::Incomplete
        } else if self.not_compliant > 0 {
            FleetVerdict::NotCompliant
        } else if self.unknown > 0 {
            FleetVerdict::Unknown
        } else {
            FleetVerdict::Compliant
        }
    }
}

/// `t` as a report's `generated_at`: RFC 3339 in UTC, to the second.
pub fn timestamp(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A fleet audit: every cluster's result, the counts and the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FleetReport {
    /// `ocp-bootimage.fleet/v1`.
    pub schema: String,
    /// When the audit ran (RFC 3339, UTC): the day boot image ages count to.
    pub generated_at: String,
    pub verdict: FleetVerdict,
    pub summary: FleetSummary,
    /// One per cluster, in the order the targets were given.
    pub targets: Vec<TargetReport>,
}

impl FleetReport {
    /// The report of `targets`, audited at `generated_at`.
    pub fn new(generated_at: String, targets: Vec<TargetReport>) -> FleetReport {
        let summary = FleetSummary::of(&targets);
        FleetReport {
            schema: FLEET_SCHEMA.to_string(),
            generated_at,
            verdict: summary.verdict(),
            summary,
            targets,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::date;

    use super::*;

    fn source() -> TargetSource {
        TargetSource {
            kind: "dump_dir".into(),
            reference: "d".into(),
        }
    }

    fn audit(verdict: &str, status: &str) -> AuditView {
        serde_json::from_value(json!({
            "gathered": ["stubs"],
            "cluster": {"version": "4.14.8", "platform": "AWS", "extra": 1},
            "machinesets": [
                {"name": "w1", "namespace": "openshift-machine-api", "status": status,
                 "current_build": "412.86.202306132230-0", "target_build": "414.92.202312011602-0",
                 "reason": "older than the stream", "skip_kind": null},
                {"name": "win", "namespace": "openshift-machine-api", "status": "skipped",
                 "current_build": "410.84.202201251210-0", "skip_kind": "not_rhcos"}
            ],
            "user_data_secrets": [
                {"name": "worker-user-data", "present": true, "referenced_by": ["w1"],
                 "ignition_version": "2.2.0", "migration_required": true}
            ],
            "verdict": verdict,
            "noncompliant_reasons": ["1 outdated MachineSet(s): w1"],
            "unknown_reasons": []
        }))
        .expect("reads")
    }

    #[test]
    fn an_audit_becomes_checks_with_ages_and_margins() {
        let t = TargetReport::audited(
            "prod".into(),
            source(),
            &audit("not_compliant", "outdated"),
            12,
            date!(2024 - 06 - 13),
        );
        assert_eq!(t.version.as_deref(), Some("4.14.8"));
        let kinds: Vec<_> = t.checks.iter().map(|c| (c.kind, c.result)).collect();
        assert_eq!(
            kinds,
            vec![
                (CheckKind::Cluster, CheckResult::Fail),
                (CheckKind::Machineset, CheckResult::Fail),
                (CheckKind::Machineset, CheckResult::Skipped),
                (CheckKind::UserDataSecret, CheckResult::Fail),
            ]
        );
        let w1 = &t.checks[1];
        assert_eq!(w1.name, "openshift-machine-api/w1");
        assert_eq!(w1.age_days, Some(366));
        assert_eq!(w1.skew_margin_minors, Some(-1));
        // The Windows MachineSet's older build does not count.
        let age = t.boot_image_age.as_ref().expect("an age");
        assert_eq!(age.oldest_build, "412.86.202306132230-0");
        assert_eq!(age.build_date, "2023-06-13");
        assert_eq!(t.failing().count(), 2);
    }

    #[test]
    fn the_fleet_verdict_and_exit_code_follow_the_worst_cluster() {
        let today = date!(2024 - 06 - 13);
        let ok = TargetReport::audited(
            "a".into(),
            source(),
            &audit("compliant", "current"),
            1,
            today,
        );
        let bad = TargetReport::audited(
            "b".into(),
            source(),
            &audit("not_compliant", "outdated"),
            1,
            today,
        );
        let unknown =
            TargetReport::audited("u".into(), source(), &audit("unknown", "unknown"), 1, today);
        let gone = TargetReport::not_audited(
            "c".into(),
            source(),
            Outcome::of_failure(
                "error trying to connect: tcp connect error: Connection refused (os error 111)",
            ),
            "refused".into(),
            3,
        );
        assert_eq!(gone.outcome, Outcome::Unreachable);
        let fleet = |ts: Vec<TargetReport>| FleetReport::new("2024-06-13T00:00:00Z".into(), ts);
        let f = fleet(vec![ok.clone()]);
        assert_eq!(
            (f.verdict, f.verdict.exit_code(false)),
            (FleetVerdict::Compliant, 0)
        );
        let f = fleet(vec![ok.clone(), unknown.clone()]);
        assert_eq!(
            (f.verdict, f.verdict.exit_code(false)),
            (FleetVerdict::Unknown, 1)
        );
        assert_eq!(f.verdict.exit_code(true), 0);
        let f = fleet(vec![ok.clone(), bad.clone(), unknown]);
        assert_eq!(
            (f.verdict, f.verdict.exit_code(true)),
            (FleetVerdict::NotCompliant, 1)
        );
        let f = fleet(vec![ok, bad, gone]);
        assert_eq!(
            (f.verdict, f.verdict.exit_code(false)),
            (FleetVerdict::Incomplete, 2)
        );
        assert_eq!(f.summary.not_audited, 1);
        assert_eq!(f.summary.machinesets, 4);
        assert_eq!(f.summary.failing_machinesets, 1);
        assert_eq!(f.summary.oldest_boot_image_age_days, Some(366));
    }

    #[test]
    fn a_registered_result_becomes_a_target_whatever_it_holds() {
        let today = date!(2024 - 06 - 13);
        let of = |r: serde_json::Value| TargetReport::of_result("h".into(), source(), &r, 0, today);
        // Failed by fail_on_noncompliant, or kept by failed_when: false: still audited.
        let t = of(
            json!({"failed": true, "msg": "not compliant", "verdict": "not_compliant",
            "invocation": {"module_args": {"api_key": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"}}}),
        );
        assert_eq!(
            (t.outcome, t.verdict),
            (Outcome::Audited, Some(Verdict::NotCompliant))
        );
        // A module failure: its message sorted.
        let t = of(json!({"failed": false, "failed_when_result": false,
            "msg": "ApiError: forbidden: User cannot list machinesets (403)"}));
        assert_eq!(t.outcome, Outcome::Forbidden);
        assert!(t.error.as_deref().is_some_and(|e| e.contains("403")));
        // No result at all, a skipped task, an empty one: failed, saying why.
        let t = of(serde_json::Value::Null);
        assert_eq!(t.outcome, Outcome::Failed);
        assert!(t
            .error
            .as_deref()
            .is_some_and(|e| e.contains("did not run")));
        let t = of(json!({"skipped": true, "skip_reason": "Conditional result was False"}));
        assert_eq!(t.outcome, Outcome::Failed);
        assert!(t
            .error
            .as_deref()
            .is_some_and(|e| e.contains("Conditional result")));
        let t = of(json!({}));
        assert_eq!(t.outcome, Outcome::Failed);
        assert!(t.error.as_deref().is_some_and(|e| e.contains("no verdict")));
    }

    #[test]
    fn a_failure_kind_in_the_result_is_the_outcome_whatever_msg_says() {
        let today = time::macros::date!(2024 - 06 - 13);
        for (kind, want) in [
            ("unreachable", Outcome::Unreachable),
            ("forbidden", Outcome::Forbidden),
            ("timed_out", Outcome::TimedOut),
            ("something_new", Outcome::Failed),
        ] {
            let result = serde_json::json!({
                "failed": true, "failure_kind": kind, "msg": "port 403 said nothing"
            });
            let t = TargetReport::of_result("a".into(), source(), &result, 1, today);
            assert_eq!(t.outcome, want, "{kind}");
            assert_eq!(t.error.as_deref(), Some("port 403 said nothing"));
        }
    }

    #[test]
    fn a_timestamp_is_utc_to_the_second() {
        let t = time::macros::datetime!(2024-06-13 10:20:30.123 +02:00);
        assert_eq!(timestamp(t), "2024-06-13T08:20:30Z");
    }

    #[test]
    fn failures_are_sorted_by_what_the_errors_say() {
        for (m, want) in [
            (
                "ApiError: forbidden: User \"x\" cannot list resource \"machinesets\" (403)",
                Outcome::Forbidden,
            ),
            ("Unauthorized (401)", Outcome::Forbidden),
            ("audit timed out after 30 s", Outcome::TimedOut),
            (
                "dns error: failed to lookup address information",
                Outcome::Unreachable,
            ),
            ("kubeconfig: context \"nope\" not found", Outcome::Failed),
            // CI saw this one sorted as forbidden: the port holds "403".
            (
                "cannot reach the Kubernetes API at http://127.0.0.1:40329/: connection refused: \
                 nothing listens there (tcp connect error: Connection refused (os error 111))",
                Outcome::Unreachable,
            ),
            (
                "list machinesets failed: HTTP 403 Forbidden (no)",
                Outcome::Forbidden,
            ),
            ("the tls certificate of the MCS expires", Outcome::Failed),
            ("dump /tmp/403/timeouts: no such file", Outcome::Failed),
        ] {
            assert_eq!(Outcome::of_failure(m), want, "{m}");
        }
    }
}
