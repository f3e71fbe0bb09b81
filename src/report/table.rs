//! The fleet report for people: one line per cluster (as `kubectl get` prints rows),
//! then, per cluster, the checks that did not pass and why a cluster was not audited.

use crate::cli::table::Table;
use crate::fleet::{FleetReport, Outcome, TargetReport};

/// `report` as a table.
pub fn render(report: &FleetReport) -> String {
    let mut t = Table::new(&[
        "CLUSTER",
        "STATUS",
        "VERSION",
        "PLATFORM",
        "MACHINESETS",
        "FAILING",
        "OLDEST",
        "AGE",
    ]);
    for target in &report.targets {
        t.row(row(target));
    }
    let mut out = t.render();
    for target in &report.targets {
        let lines = details(target);
        if !lines.is_empty() {
            out.push_str(&format!("\n{}:\n", target.name));
            for l in lines {
                out.push_str(&format!("  {l}\n"));
            }
        }
    }
    let s = &report.summary;
    out.push_str(&format!(
        "\nfleet: {} — {} cluster(s): {} compliant, {} not compliant, {} unknown, {} not audited\n",
        report.verdict.as_str(),
        s.clusters,
        s.compliant,
        s.not_compliant,
        s.unknown,
        s.not_audited
    ));
    out
}

fn or_dash(v: Option<&str>) -> String {
    v.unwrap_or("-").to_string()
}

fn row(t: &TargetReport) -> Vec<String> {
    let status = match (t.outcome, t.verdict) {
        (Outcome::Audited, Some(v)) => v.as_str().to_string(),
        (Outcome::Audited, None) => "unknown".to_string(),
        (o, _) => o.as_str().to_string(),
    };
    let machinesets = t
        .checks
        .iter()
        .filter(|c| c.kind == crate::fleet::CheckKind::Machineset)
        .count();
    let failing = t.failing().count();
    let audited = t.outcome == Outcome::Audited;
    let count = |n: usize| if audited { n.to_string() } else { "-".into() };
    let age = t.boot_image_age.as_ref();
    vec![
        t.name.clone(),
        status,
        or_dash(t.version.as_deref()),
        or_dash(t.platform.as_deref()),
        count(machinesets),
        count(failing),
        or_dash(age.map(|a| a.oldest_build.as_str())),
        age.map_or("-".into(), |a| format!("{}d", a.age_days)),
    ]
}

/// The lines under a cluster: why it was not audited, or its checks that did not pass.
fn details(t: &TargetReport) -> Vec<String> {
    if let Some(e) = &t.error {
        return vec![format!("{}: {e}", t.outcome.as_str())];
    }
    let mut lines: Vec<String> = t
        .failing()
        .map(|c| {
            let why = c.message.as_deref().unwrap_or("");
            format!(
                "{} {} {}: {why}",
                c.result.as_str(),
                c.kind.as_str(),
                c.name
            )
        })
        .collect();
    if lines.is_empty() {
        lines.extend(t.noncompliant_reasons.iter().map(|r| format!("fail: {r}")));
        lines.extend(t.unknown_reasons.iter().map(|r| format!("unknown: {r}")));
    }
    lines
}
