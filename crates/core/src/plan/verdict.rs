//! The audit's verdict: `compliant`, `not_compliant` or `unknown`, from the reasons the
//! parts of the audit give. A cluster is compliant only when nothing is wrong *and*
//! everything the verdict depends on could be judged: an audit that could not judge
//! (no stream metadata, no ClusterVersion or Infrastructure, MachineSets whose build is
//! unknown or that were skipped for want of facts, no MachineSet at all) answers
//! `unknown`, never `compliant` (issue 13 § 7). Pure: the reasons come from any part
//! (MachineSets, stubs, certificate, skew enforcement, …); this file only weighs them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::machineset::{MachineSetReport, SkipKind, Status};

/// The three values of the audit's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Nothing is wrong and everything could be judged.
    Compliant,
    /// Something is wrong (`noncompliant_reasons`), whatever could not be judged.
    NotCompliant,
    /// Nothing found wrong, but something could not be judged (`unknown_reasons`).
    Unknown,
}

impl Verdict {
    /// The verdict of the reasons: any non-compliant reason wins, then any unknown one.
    pub fn of(noncompliant: &[String], unknown: &[String]) -> Verdict {
        if !noncompliant.is_empty() {
            Verdict::NotCompliant
        } else if !unknown.is_empty() {
            Verdict::Unknown
        } else {
            Verdict::Compliant
        }
    }

    /// How `msg` and the table name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Compliant => "compliant",
            Verdict::NotCompliant => "not compliant",
            Verdict::Unknown => "unknown",
        }
    }

    /// Whether `fail_on_noncompliant` fails the task on this verdict (`allow_unknown`:
    /// an unknown verdict passes).
    pub fn fails(self, allow_unknown: bool) -> bool {
        match self {
            Verdict::Compliant => false,
            Verdict::NotCompliant => true,
            Verdict::Unknown => !allow_unknown,
        }
    }
}

/// What the audit could not judge, beside what it read.
pub struct UnknownFacts<'a> {
    /// Why there is no stream metadata (None: there is).
    pub stream_error: Option<&'a str>,
    /// ClusterVersion gave no version.
    pub no_cluster_version: bool,
    /// Infrastructure gave no platform.
    pub no_platform: bool,
    /// Parts that could not be read (`{part}: {reason}`).
    pub unreadable: Vec<String>,
    /// Whether nodes were observed (`nodes: true`), for the no-MachineSet advice.
    pub nodes_observed: bool,
}

/// The reasons the audit's verdict is unknown: the facts it lacked, the MachineSets
/// whose build is unknown, those skipped for want of facts ([`SkipKind::Undetermined`];
/// a MachineSet skipped because it is not ours to judge — owned, Windows — is not
/// counted), and a cluster without any MachineSet to judge (UPI, bare metal: the boot
/// images live outside the cluster).
pub fn unknown_reasons(machinesets: &[MachineSetReport], facts: &UnknownFacts) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(e) = facts.stream_error {
        out.push(format!("no stream metadata: {e}"));
    }
    if facts.no_cluster_version {
        out.push(
            "the cluster's version is unknown (no ClusterVersion `version`): a boot image newer \
             than the cluster cannot be told"
                .into(),
        );
    }
    if facts.no_platform {
        out.push("the cluster's platform is unknown (no Infrastructure `cluster`)".into());
    }
    out.extend(
        facts
            .unreadable
            .iter()
            .map(|u| format!("could not check {u}")),
    );
    let names = |f: &dyn Fn(&MachineSetReport) -> bool| {
        super::audit::name_list(machinesets.iter().filter(|m| f(m)).map(|m| m.name.as_str()))
    };
    let unknown = machinesets
        .iter()
        .filter(|m| m.status == Status::Unknown)
        .count();
    if unknown > 0 {
        out.push(format!(
            "{unknown} MachineSet(s) whose boot image build is unknown: {}",
            names(&|m| m.status == Status::Unknown)
        ));
    }
    let undetermined = |m: &MachineSetReport| {
        m.status == Status::Skipped && m.skip_kind == Some(SkipKind::Undetermined)
    };
    let skipped = machinesets.iter().filter(|m| undetermined(m)).count();
    if skipped > 0 {
        out.push(format!(
            "{skipped} MachineSet(s) skipped without a judgement of their boot image: {}",
            names(&undetermined)
        ));
    }
    let judged = machinesets
        .iter()
        .filter(|m| m.status != Status::Skipped)
        .count();
    if machinesets.is_empty() {
        out.push(format!(
            "no MachineSets: this cluster's boot images live outside it (UPI, bare metal, \
             agent-based: the images the nodes were installed from); {}",
            if facts.nodes_observed {
                "compare the nodes' builds and the boot image skew record (MachineConfiguration \
                 bootImageSkewEnforcement) with the cluster's version"
            } else {
                "audit with `nodes: true` for what the nodes booted, and check the boot image skew \
                 record (MachineConfiguration bootImageSkewEnforcement)"
            }
        ));
    } else if judged == 0 && skipped == 0 {
        out.push(format!(
            "no selected MachineSet's boot image could be judged (every one was skipped: {})",
            names(&|m| m.status == Status::Skipped)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noncompliant_wins_then_unknown() {
        let some = vec!["x".to_string()];
        assert_eq!(Verdict::of(&some, &some), Verdict::NotCompliant);
        assert_eq!(Verdict::of(&[], &some), Verdict::Unknown);
        assert_eq!(Verdict::of(&[], &[]), Verdict::Compliant);
        assert!(Verdict::Unknown.fails(false));
        assert!(!Verdict::Unknown.fails(true));
        assert!(Verdict::NotCompliant.fails(true));
        assert!(!Verdict::Compliant.fails(false));
    }

    #[test]
    fn no_machinesets_and_no_facts_is_unknown_with_every_reason() {
        let facts = UnknownFacts {
            stream_error: Some("ConfigMap not found"),
            no_cluster_version: true,
            no_platform: true,
            unreadable: vec![],
            nodes_observed: false,
        };
        let r = unknown_reasons(&[], &facts);
        assert_eq!(r.len(), 4, "{r:?}");
        assert!(r[0].starts_with("no stream metadata"));
        assert!(r[3].starts_with("no MachineSets") && r[3].contains("nodes: true"));
    }
}
