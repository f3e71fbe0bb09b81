//! The page's details: one `<details>` per cluster (open when something is wrong) with
//! why its audit did not run, or its verdict's reasons and the checks that did not pass
//! (what each read, and why).

use super::{esc, status_class};
use crate::fleet::{Check, FleetReport, TargetReport};
use crate::report::status::{seconds, ClusterStatus};

/// Writes the details section.
pub fn write(out: &mut String, report: &FleetReport) {
    out.push_str("<section aria-labelledby=\"h-details\">\n<h2 id=\"h-details\">Details</h2>\n");
    for (i, t) in report.targets.iter().enumerate() {
        cluster(out, i, t);
    }
    out.push_str("</section>\n");
}

fn cluster(out: &mut String, i: usize, t: &TargetReport) {
    let status = ClusterStatus::of(t);
    let failing: Vec<&Check> = t.failing().collect();
    let open = if status == ClusterStatus::Compliant {
        ""
    } else {
        " open"
    };
    let summary = if status.audited() {
        format!("{} — {} failing check(s)", status.label(), failing.len())
    } else {
        format!("{} — not audited", status.label())
    };
    out.push_str(&format!(
        "<details id=\"c-{i}\" data-status=\"{}\"{open}><summary>{} <span class=\"{}\">{}</span></summary>\n",
        status.key(),
        esc(&t.name),
        status_class(status),
        esc(&summary)
    ));
    let mut facts = vec![format!("source: {} {}", t.source.kind, t.source.reference)];
    facts.extend(t.version.as_ref().map(|v| format!("version {v}")));
    facts.extend(t.platform.as_ref().map(|p| format!("platform {p}")));
    facts.extend(
        t.infrastructure_name
            .as_ref()
            .map(|n| format!("infrastructure {n}")),
    );
    facts.push(format!("audit took {} s", seconds(t.duration_ms)));
    out.push_str(&format!(
        "<p class=\"muted\">{}</p>\n",
        esc(&facts.join(" · "))
    ));
    if let Some(e) = &t.error {
        out.push_str(&format!(
            "<p class=\"outcome\"><strong>{}</strong>: {}</p>\n",
            esc(status.label()),
            esc(e)
        ));
    }
    reasons(out, "Not compliant", &t.noncompliant_reasons);
    reasons(out, "Could not be judged", &t.unknown_reasons);
    if !failing.is_empty() {
        checks(out, &failing);
    } else if status.audited() {
        out.push_str("<p>Every check passed or was not this tool's to judge.</p>\n");
    }
    out.push_str("</details>\n");
}

fn reasons(out: &mut String, heading: &str, reasons: &[String]) {
    if reasons.is_empty() {
        return;
    }
    out.push_str(&format!("<p>{heading}:</p>\n<ul>\n"));
    for r in reasons {
        out.push_str(&format!("<li>{}</li>\n", esc(r)));
    }
    out.push_str("</ul>\n");
}

fn checks(out: &mut String, failing: &[&Check]) {
    out.push_str(
        "<table class=\"failing\">\n<thead><tr><th scope=\"col\">Result</th><th scope=\"col\">Check</th>\
         <th scope=\"col\">Name</th><th scope=\"col\">Reason</th><th scope=\"col\">Current → target</th>\
         <th scope=\"col\">Age (days)</th></tr></thead>\n<tbody>\n",
    );
    for c in failing {
        let class = match c.result {
            crate::fleet::CheckResult::Fail => "r-fail",
            _ => "r-unknown",
        };
        let builds = match (&c.current, &c.target) {
            (Some(a), Some(b)) => format!("{a} → {b}"),
            (Some(a), None) => a.clone(),
            (None, Some(b)) => format!("→ {b}"),
            (None, None) => String::new(),
        };
        out.push_str(&format!(
            "<tr><td class=\"{class}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td></tr>\n",
            esc(c.result.as_str()),
            esc(c.kind.as_str()),
            esc(&c.name),
            esc(c.message.as_deref().unwrap_or("")),
            esc(&builds),
            c.age_days.map(|d| d.to_string()).unwrap_or_default(),
        ));
    }
    out.push_str("</tbody>\n</table>\n");
}
