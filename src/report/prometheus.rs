//! The fleet report in the Prometheus text exposition format (version 0.0.4), for the
//! node_exporter textfile collector or a Pushgateway: gauges per fleet, cluster and
//! MachineSet. Each family has its `# HELP` and `# TYPE` once, then its samples; a
//! sample whose value is not known (a cluster that was not audited has no boot image
//! age, a MachineSet that was skipped is neither compliant nor outdated) is left out
//! rather than written as a made-up number. Label values are escaped (`\\`, `\"`,
//! `\n`); other control characters become U+FFFD so line-oriented readers keep one
//! sample a line.

use std::collections::HashSet;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::status::{outcome_key, seconds, ClusterStatus, NOT_AUDITED};
use crate::fleet::{Check, CheckKind, CheckResult, FleetReport, TargetReport};

/// The prefix of every metric.
pub const PREFIX: &str = "ocp_bootimage_";

/// `report` in the Prometheus text format.
pub fn render(report: &FleetReport) -> String {
    let mut out = String::new();
    let mut skipped = 0;
    for f in families(report) {
        skipped += f.write(&mut out);
    }
    if skipped > 0 {
        out.push_str(&format!(
            "# {skipped} sample(s) left out: their labels repeat (two targets of one name)\n"
        ));
    }
    out
}

/// One metric family (all gauges).
struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, String)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            samples: Vec::new(),
        }
    }

    fn add(&mut self, labels: Vec<(&'static str, String)>, value: impl ToString) {
        self.samples.push((labels, value.to_string()));
    }

    /// Writes the family; returns how many samples were left out as repeats.
    fn write(&self, out: &mut String) -> usize {
        let name = format!("{PREFIX}{}", self.name);
        out.push_str(&format!("# HELP {name} {}\n", help(self.help)));
        out.push_str(&format!("# TYPE {name} gauge\n"));
        let mut seen = HashSet::new();
        let mut repeats = 0;
        for (labels, value) in &self.samples {
            let labels = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", label_value(v)))
                .collect::<Vec<_>>()
                .join(",");
            if !seen.insert(labels.clone()) {
                repeats += 1;
                continue;
            }
            if labels.is_empty() {
                out.push_str(&format!("{name} {value}\n"));
            } else {
                out.push_str(&format!("{name}{{{labels}}} {value}\n"));
            }
        }
        repeats
    }
}

fn families(report: &FleetReport) -> Vec<Family> {
    let mut timestamp = Family::new(
        "audit_timestamp_seconds",
        "When the fleet audit ran (Unix time, from the report's generated_at).",
    );
    if let Ok(t) = OffsetDateTime::parse(&report.generated_at, &Rfc3339) {
        timestamp.add(Vec::new(), t.unix_timestamp());
    }
    let mut clusters = Family::new(
        "fleet_clusters",
        "Clusters of the fleet by state: their verdict when audited, else how the audit ended.",
    );
    let states = ["compliant", "not_compliant", "unknown"]
        .into_iter()
        .chain(NOT_AUDITED.into_iter().map(outcome_key));
    for state in states {
        let n = report
            .targets
            .iter()
            .filter(|t| ClusterStatus::of(t).key() == state)
            .count();
        clusters.add(vec![("state", state.to_string())], n);
    }
    let mut fams = vec![timestamp, clusters];
    fams.extend(cluster_families(&report.targets));
    fams.extend(machineset_families(&report.targets));
    fams
}

fn cluster_families(targets: &[TargetReport]) -> Vec<Family> {
    let mut audited = Family::new(
        "cluster_audited",
        "1 if the cluster's audit ran, 0 if it could not (unreachable, forbidden, timed out, failed).",
    );
    let mut compliant = Family::new(
        "cluster_compliant",
        "1 if the cluster's verdict is compliant, else 0 (also when it was not audited).",
    );
    let mut verdict = Family::new(
        "cluster_verdict",
        "The audited cluster's verdict, one-hot (compliant, not_compliant, unknown).",
    );
    let mut age = Family::new(
        "cluster_boot_image_age_days",
        "Days since the build date of the oldest boot image the cluster's MachineSets use.",
    );
    let mut margin = Family::new(
        "cluster_skew_margin_minors",
        "OpenShift minors between the oldest boot image in use and the boot image skew floor (negative: below it).",
    );
    let mut duration = Family::new(
        "cluster_audit_duration_seconds",
        "How long the cluster's audit took.",
    );
    for t in targets {
        let cluster = || vec![("cluster", t.name.clone())];
        let status = ClusterStatus::of(t);
        audited.add(cluster(), u8::from(status.audited()));
        compliant.add(cluster(), u8::from(status == ClusterStatus::Compliant));
        if status.audited() {
            for v in ["compliant", "not_compliant", "unknown"] {
                let mut labels = cluster();
                labels.push(("verdict", v.to_string()));
                verdict.add(labels, u8::from(status.key() == v));
            }
        }
        if let Some(a) = &t.boot_image_age {
            age.add(cluster(), a.age_days);
            if let Some(m) = a.skew_margin_minors {
                margin.add(cluster(), m);
            }
        }
        duration.add(cluster(), seconds(t.duration_ms));
    }
    vec![audited, compliant, verdict, age, margin, duration]
}

fn machineset_families(targets: &[TargetReport]) -> Vec<Family> {
    let mut compliant = Family::new(
        "machineset_compliant",
        "1 if the MachineSet's boot image is current, 0 if it is not (left out: not judged or skipped).",
    );
    let mut outdated = Family::new(
        "machineset_outdated",
        "1 if the MachineSet's boot image is older than the cluster's stream, else 0 (left out: not judged or skipped).",
    );
    let mut age = Family::new(
        "machineset_boot_image_age_days",
        "Days since the build date of the MachineSet's boot image.",
    );
    let mut margin = Family::new(
        "machineset_skew_margin_minors",
        "OpenShift minors between the MachineSet's boot image and the boot image skew floor (negative: below it).",
    );
    for t in targets {
        for c in t.checks.iter().filter(|c| c.kind == CheckKind::Machineset) {
            let labels = || machineset_labels(t, c);
            if let Some(judged) = judged(c) {
                compliant.add(labels(), u8::from(judged));
                outdated.add(labels(), u8::from(c.status.as_deref() == Some("outdated")));
            }
            if let Some(d) = c.age_days {
                age.add(labels(), d);
            }
            if let Some(m) = c.skew_margin_minors {
                margin.add(labels(), m);
            }
        }
    }
    vec![compliant, outdated, age, margin]
}

/// Whether a MachineSet passed (None: not judged, or not this tool's to judge).
fn judged(c: &Check) -> Option<bool> {
    match c.result {
        CheckResult::Pass => Some(true),
        CheckResult::Fail => Some(false),
        CheckResult::Unknown | CheckResult::Skipped => None,
    }
}

fn machineset_labels(t: &TargetReport, c: &Check) -> Vec<(&'static str, String)> {
    let (namespace, name) = c.name.split_once('/').unwrap_or(("", &c.name));
    vec![
        ("cluster", t.name.clone()),
        ("namespace", namespace.to_string()),
        ("machineset", name.to_string()),
    ]
}

/// A label value: `\`, `"` and line feeds escaped, other control characters replaced.
pub fn label_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A `# HELP` text: `\` and line feeds escaped.
fn help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_quotes_backslashes_and_line_feeds() {
        assert_eq!(
            label_value("a\\b\"c\nd\re\u{0}"),
            "a\\\\b\\\"c\\nd\u{fffd}e\u{fffd}"
        );
        assert_eq!(label_value("<script>é"), "<script>é");
    }
}
