//! Renders the typed audit report for people, as `kubectl get` would: header lines, the
//! MachineSets as plain aligned columns (the useful ones by default, every one with
//! `-o wide`), the reasons under the table, then the other parts as paragraphs wrapped
//! at word boundaries; the verdict last. Nothing depends on the terminal but where prose
//! wraps (its width, 80 when unknown), so the same input gives the same text.

mod machinesets;
mod sections;

use serde::Serialize;

use super::table::{wrap, Layout};
use crate::plan::AuditReport;

pub use machinesets::shared_target;

/// An optional value, `-` when absent.
fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "-".into())
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

/// An enum's name as the JSON output spells it (`outdated`, `configmap`, …).
fn name_of<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "-".into(),
    }
}

/// The header lines: the cluster, the stream (with the target every MachineSet shares,
/// in the default layout) and, in the default layout, what the wide columns hold.
fn header(report: &AuditReport, layout: Layout) -> String {
    let cluster = &report.cluster;
    let stream = &report.stream;
    let mut out = wrap(
        &format!(
            "Cluster: version {} · platform {} · arch {} · infra {}{}",
            opt(&cluster.version),
            opt(&cluster.platform),
            opt(&cluster.architecture),
            opt(&cluster.infrastructure_name),
            if cluster.managed {
                format!(" · MANAGED ({})", opt(&cluster.managed_reason))
            } else {
                String::new()
            }
        ),
        layout.width,
        2,
    );
    let target = match (layout.wide, shared_target(&report.machinesets)) {
        (false, Some(t)) => format!(" · target build {t}"),
        _ => String::new(),
    };
    out.push_str(&wrap(
        &format!(
            "Stream:  {} from {}{}{target}",
            opt(&stream.name),
            name_of(&stream.source),
            stream
                .path
                .as_ref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default()
        ),
        layout.width,
        2,
    ));
    if !layout.wide && !report.machinesets.is_empty() {
        out.push_str(&wrap(
            &machinesets::summary_line(&report.machinesets),
            layout.width,
            2,
        ));
    }
    out.push('\n');
    out
}

/// The audit report as text; `msg` and `warnings` are the module result's.
pub fn render(report: &AuditReport, msg: &str, warnings: &[String], layout: Layout) -> String {
    let mut out = header(report, layout);
    out.push_str(&machinesets::render(
        &report.machinesets,
        report.observed_builds.enabled,
        layout,
    ));
    sections::user_data(&mut out, report, layout);
    sections::certificate_and_autoscaling(&mut out, report, layout);
    sections::update_and_skew(&mut out, report, layout);
    sections::control_plane_and_last_run(&mut out, report, layout);
    for w in warnings {
        sections::para(&mut out, &format!("warning: {w}"), layout);
    }
    if !warnings.is_empty() {
        out.push('\n');
    }
    sections::para(&mut out, msg, layout);
    out
}
