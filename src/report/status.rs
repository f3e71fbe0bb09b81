//! One word for where a cluster stands, shared by the JUnit, HTML and Prometheus forms:
//! its verdict when its audit ran, else how the audit ended. Machine-readable keys
//! (`not_compliant`, `timed_out`: label values, CSS classes, URL fragments) and the
//! words people read (`not compliant`, `timed out`).

use crate::fleet::{Outcome, TargetReport};
use crate::plan::Verdict;

/// Where one cluster stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterStatus {
    Compliant,
    NotCompliant,
    /// Audited, but something could not be judged (or no verdict was given).
    Unknown,
    /// Its audit did not run: how it ended.
    NotAudited(Outcome),
}

impl ClusterStatus {
    /// The status of `t`.
    pub fn of(t: &TargetReport) -> ClusterStatus {
        match (t.outcome, t.verdict) {
            (Outcome::Audited, Some(Verdict::Compliant)) => ClusterStatus::Compliant,
            (Outcome::Audited, Some(Verdict::NotCompliant)) => ClusterStatus::NotCompliant,
            (Outcome::Audited, Some(Verdict::Unknown) | None) => ClusterStatus::Unknown,
            (o, _) => ClusterStatus::NotAudited(o),
        }
    }

    /// Its key: `compliant`, `not_compliant`, `unknown`, or the outcome's
    /// (`unreachable`, `forbidden`, `timed_out`, `failed`).
    pub fn key(self) -> &'static str {
        match self {
            ClusterStatus::Compliant => "compliant",
            ClusterStatus::NotCompliant => "not_compliant",
            ClusterStatus::Unknown => "unknown",
            ClusterStatus::NotAudited(o) => outcome_key(o),
        }
    }

    /// How people read it (`not compliant`, `timed out`).
    pub fn label(self) -> &'static str {
        match self {
            ClusterStatus::Compliant => "compliant",
            ClusterStatus::NotCompliant => "not compliant",
            ClusterStatus::Unknown => "unknown",
            ClusterStatus::NotAudited(o) => o.as_str(),
        }
    }

    /// Whether the audit ran.
    pub fn audited(self) -> bool {
        !matches!(self, ClusterStatus::NotAudited(_))
    }
}

/// The key of an outcome (`audited`, `unreachable`, `forbidden`, `timed_out`, `failed`).
pub fn outcome_key(o: Outcome) -> &'static str {
    match o {
        Outcome::Audited => "audited",
        Outcome::Unreachable => "unreachable",
        Outcome::Forbidden => "forbidden",
        Outcome::TimedOut => "timed_out",
        Outcome::Failed => "failed",
    }
}

/// The outcomes of audits that did not run, in the order the reports list them.
pub const NOT_AUDITED: [Outcome; 4] = [
    Outcome::Unreachable,
    Outcome::Forbidden,
    Outcome::TimedOut,
    Outcome::Failed,
];

/// Milliseconds as seconds with three decimals (`1234` → `1.234`).
pub fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_read_as_seconds() {
        assert_eq!(seconds(0), "0.000");
        assert_eq!(seconds(1234), "1.234");
        assert_eq!(seconds(30_005), "30.005");
    }
}
