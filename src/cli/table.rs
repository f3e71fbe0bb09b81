//! Renders the typed audit report as readable tables for a terminal (with an
//! `Observed build` column and the observed-build notes when nodes were observed).

use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use serde::Serialize;

use crate::plan::{AuditReport, MachineSetReport, Part};

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

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    t
}

/// One line per MachineSet about its youngest node, then the older-than-image list.
fn observed_notes(machinesets: &[MachineSetReport]) -> String {
    let mut out = String::new();
    for m in machinesets {
        let what = match (&m.observed_build, &m.observed_reason) {
            (Some(b), _) => format!(
                "node {} (Machine {}, created {}) booted {b}",
                opt(&m.observed_node),
                opt(&m.observed_machine),
                opt(&m.observed_at)
            ),
            (None, Some(why)) => format!("not observed: {why}"),
            (None, None) => "not observed".into(),
        };
        let flag = if m.observed_drift {
            " [DRIFT]"
        } else if m.observed_older_than_image {
            " [booted before the image last changed]"
        } else {
            ""
        };
        out.push_str(&format!("Observed {}: {what}{flag}\n", m.name));
    }
    out.push('\n');
    out
}

/// The skew enforcement and upgrade gate lines of the table output.
fn skew_lines(report: &AuditReport) -> String {
    let mut out = String::new();
    let g = &report.update_gate;
    out.push_str(&format!(
        "Update: {} · desired {} · last completed {} · coreos-bootimages releaseVersion {}{}\n",
        if g.update_in_progress {
            "IN PROGRESS"
        } else {
            "none in progress"
        },
        opt(&g.desired_version),
        opt(&g.last_completed_version),
        opt(&g.configmap_release_version),
        if g.configmap_stale { " (STALE)" } else { "" }
    ));
    let k = &report.skew_enforcement;
    if !k.supported {
        out.push_str("Skew enforcement: not on this cluster (MachineConfiguration has no bootImageSkewEnforcement)\n\n");
        return out;
    }
    let recorded = k
        .recorded_ocp_version
        .as_ref()
        .map(|v| format!("OCP {v}"))
        .or_else(|| {
            k.recorded_rhcos_version
                .as_ref()
                .map(|v| format!("RHCOS {v}"))
        })
        .unwrap_or_else(|| "-".into());
    let oldest = match &k.oldest_in_use {
        Some(o) => format!(
            "{} (OCP {}, RHEL {}; {}){}",
            o.build,
            opt(&o.ocp_version),
            opt(&o.rhel_version),
            o.used_by,
            if k.oldest_in_use_complete {
                ""
            } else {
                " — NOT COMPLETE"
            }
        ),
        None => "unknown".into(),
    };
    let tri = |b: Option<bool>| b.map_or_else(|| "-".into(), yes_no);
    out.push_str(&format!(
        "Skew enforcement: mode {} (spec {}) · recorded {} · floor OCP {} / RHEL {} · upgradeable {}\n",
        opt(&k.effective_mode),
        opt(&k.spec_mode),
        recorded,
        k.floor_ocp_version,
        k.floor_rhel_version,
        tri(k.upgradeable)
    ));
    out.push_str(&format!(
        "  oldest boot image in use: {oldest} · meets floor {} · record overstates it {}\n\n",
        tri(k.oldest_meets_floor),
        match k.overstated {
            Some(true) => "YES".into(),
            other => tri(other),
        }
    ));
    out
}

/// The audit report as text; `msg` and `warnings` are the module result's.
pub fn render(report: &AuditReport, msg: &str, warnings: &[String]) -> String {
    let mut out = String::new();
    let cluster = &report.cluster;
    let stream = &report.stream;
    out.push_str(&format!(
        "Cluster: version {} · platform {} · arch {} · infra {}{}\n",
        opt(&cluster.version),
        opt(&cluster.platform),
        opt(&cluster.architecture),
        opt(&cluster.infrastructure_name),
        if cluster.managed {
            format!(" · MANAGED ({})", opt(&cluster.managed_reason))
        } else {
            String::new()
        }
    ));
    out.push_str(&format!(
        "Stream:  {} from {}{}\n\n",
        opt(&stream.name),
        name_of(&stream.source),
        stream
            .path
            .as_ref()
            .map(|p| format!(" ({p})"))
            .unwrap_or_default()
    ));
    let observed = report.observed_builds.enabled;
    let mut header = vec![
        "MachineSet",
        "Platform",
        "Arch",
        "Region",
        "Status",
        "Current build",
    ];
    if observed {
        header.push("Observed build");
    }
    header.extend(["Target build", "Reason"]);
    let mut t = table(&header);
    for m in &report.machinesets {
        let mut row = vec![
            m.name.clone(),
            m.platform.map_or_else(|| "-".into(), |p| p.as_str().into()),
            opt(&m.architecture),
            opt(&m.region),
            name_of(&m.status),
            opt(&m.current_build),
        ];
        if observed {
            row.push(opt(&m.observed_build));
        }
        let reason = match (&m.reason, &m.managed_by) {
            (Some(r), Some(who)) => format!("{r}; managed by {who}"),
            (None, Some(who)) => format!("managed by {who}"),
            (r, None) => r.clone().unwrap_or_default(),
        };
        row.extend([opt(&m.target_build), reason]);
        t.add_row(row);
    }
    out.push_str(&format!("{t}\n\n"));
    if observed {
        out.push_str(&observed_notes(&report.machinesets));
    }
    // Parts left out by gather_subset are said to be unchecked, not shown empty.
    let gathered = |part: Part| report.gathered.contains(&part);
    let mut t = table(&[
        "User-data secret",
        "Present",
        "Ignition",
        "Migration",
        "Used by",
        "Error",
    ]);
    for u in &report.user_data_secrets {
        t.add_row(vec![
            u.name.clone(),
            yes_no(u.present),
            opt(&u.ignition_version),
            if u.migration_required {
                "REQUIRED"
            } else {
                "no"
            }
            .into(),
            u.referenced_by.join(", "),
            u.error.clone().unwrap_or_default(),
        ]);
    }
    if gathered(Part::Stubs) {
        out.push_str(&format!("{t}\n\n"));
    } else {
        out.push_str("User-data secrets: not checked (left out by gather_subset)\n");
    }
    let mcs = &report.mcs_certificate;
    match &mcs.certificate {
        Some(c) => {
            let sans: Vec<&str> = c
                .dns_sans
                .iter()
                .chain(&c.ip_sans)
                .map(String::as_str)
                .collect();
            out.push_str(&format!(
                "MCS certificate: CN {} · SANs {} · valid until {} · CA verified {} · regeneration {}\n",
                opt(&c.subject_cn),
                if sans.is_empty() { "NONE".into() } else { sans.join(", ") },
                c.not_after,
                c.ca_verified.map_or_else(|| "-".into(), yes_no),
                if c.regeneration_required {
                    "REQUIRED"
                } else {
                    "not required"
                }
            ));
        }
        None => out.push_str(&format!("MCS certificate: {}\n", opt(&mcs.error))),
    }
    let asr = &report.autoscaling;
    if !gathered(Part::Autoscaling) {
        out.push_str("Autoscaling: not checked (left out by gather_subset)\n\n");
    } else {
        out.push_str(&format!(
            "Autoscaling: ClusterAutoscaler {} · {} MachineAutoscaler(s)\n\n",
            if asr.cluster_autoscaler {
                "present"
            } else {
                "absent"
            },
            asr.machine_autoscalers.len()
        ));
    }
    out.push_str(&skew_lines(report));
    match &report.control_plane {
        Some(cp) => out.push_str(&format!(
            "Control plane: ControlPlaneMachineSet {} · {} · {} · {} ready / {} updated of {} · build {} → {} ({}) · include_control_plane: {}\n\n",
            cp.name,
            cp.state,
            cp.strategy,
            cp.ready_replicas.unwrap_or(0),
            cp.updated_replicas.unwrap_or(0),
            cp.replicas.map_or_else(|| "-".into(), |r| r.to_string()),
            opt(&cp.current_build),
            opt(&cp.target_build),
            name_of(&cp.status),
            if cp.include_control_plane_would_change {
                "would change it".to_string()
            } else {
                format!("would not change it ({})", opt(&cp.include_control_plane_note))
            }
        )),
        None if !gathered(Part::ControlPlane) => {
            out.push_str("Control plane: not checked (left out by gather_subset)\n\n")
        }
        None => out.push_str("Control plane: no ControlPlaneMachineSet\n\n"),
    }
    if let Some(r) = &report.last_run {
        out.push_str(&format!(
            "Last run: {} · started {} · {} · {} object(s), {} change(s) · {}\n\n",
            r.run_id,
            r.started,
            r.modules.join(", "),
            r.objects,
            r.changes,
            r.state.as_str()
        ));
    }
    for w in warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out.push_str(&format!("{msg}\n"));
    out
}
