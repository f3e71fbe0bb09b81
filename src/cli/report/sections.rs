//! The parts of the audit report under the MachineSets: the user-data secrets (a table:
//! by default how many MachineSets use each, with `-o wide` which), the MCS certificate,
//! autoscaling, the update gate and skew enforcement, the control plane and the last run —
//! each a paragraph wrapped at word boundaries.

use crate::cli::table::{wrap, wrap_at, Layout, Table};
use crate::plan::{AuditReport, Part};

use super::{name_of, opt, yes_no};

/// Appends `text` wrapped to the layout's width (next lines indented by 2).
pub fn para(out: &mut String, text: &str, layout: Layout) {
    out.push_str(&wrap(text, layout.width, 2));
}

/// The user-data secrets table and the errors under it, or that they were not checked.
pub fn user_data(out: &mut String, report: &AuditReport, layout: Layout) {
    if !report.gathered.contains(&Part::Stubs) {
        out.push_str("User-data secrets: not checked (left out by gather_subset)\n");
        return;
    }
    let mut header = vec![
        "USER-DATA SECRET",
        "PRESENT",
        "IGNITION",
        "MIGRATION",
        "MACHINESETS",
    ];
    if layout.wide {
        header.push("USED BY");
    }
    let mut t = Table::new(&header);
    for u in &report.user_data_secrets {
        let mut row = vec![
            u.name.clone(),
            yes_no(u.present),
            opt(&u.ignition_version),
            if u.migration_required {
                "REQUIRED"
            } else {
                "no"
            }
            .into(),
            u.referenced_by.len().to_string(),
        ];
        if layout.wide {
            row.push(u.referenced_by.join(","));
        }
        t.row(row);
    }
    out.push_str(&t.render());
    for u in &report.user_data_secrets {
        if let Some(e) = &u.error {
            out.push_str(&wrap_at(&format!("{}: {e}", u.name), layout.width, 2, 4));
        }
    }
    out.push('\n');
}

/// The MCS certificate and autoscaling paragraphs.
pub fn certificate_and_autoscaling(out: &mut String, report: &AuditReport, layout: Layout) {
    let mcs = &report.mcs_certificate;
    let text = match &mcs.certificate {
        Some(c) => {
            let sans: Vec<&str> = c
                .dns_sans
                .iter()
                .chain(&c.ip_sans)
                .map(String::as_str)
                .collect();
            format!(
                "MCS certificate: CN {} · SANs {} · valid until {} · CA verified {} · regeneration {}",
                opt(&c.subject_cn),
                if sans.is_empty() { "NONE".into() } else { sans.join(", ") },
                c.not_after,
                c.ca_verified.map_or_else(|| "-".into(), yes_no),
                if c.regeneration_required {
                    "REQUIRED"
                } else {
                    "not required"
                }
            )
        }
        None => format!("MCS certificate: {}", opt(&mcs.error)),
    };
    para(out, &text, layout);
    let asr = &report.autoscaling;
    let text = if report.gathered.contains(&Part::Autoscaling) {
        format!(
            "Autoscaling: ClusterAutoscaler {} · {} MachineAutoscaler(s)",
            if asr.cluster_autoscaler {
                "present"
            } else {
                "absent"
            },
            asr.machine_autoscalers.len()
        )
    } else {
        "Autoscaling: not checked (left out by gather_subset)".into()
    };
    para(out, &text, layout);
    out.push('\n');
}

/// The update gate and skew enforcement paragraphs.
pub fn update_and_skew(out: &mut String, report: &AuditReport, layout: Layout) {
    let g = &report.update_gate;
    let text = format!(
        "Update: {} · desired {} · last completed {} · coreos-bootimages releaseVersion {}{}",
        if g.update_in_progress {
            "IN PROGRESS"
        } else {
            "none in progress"
        },
        opt(&g.desired_version),
        opt(&g.last_completed_version),
        opt(&g.configmap_release_version),
        if g.configmap_stale { " (STALE)" } else { "" }
    );
    para(out, &text, layout);
    let k = &report.skew_enforcement;
    if !k.supported {
        para(
            out,
            "Skew enforcement: not on this cluster (MachineConfiguration has no bootImageSkewEnforcement)",
            layout,
        );
        out.push('\n');
        return;
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
    let text = format!(
        "Skew enforcement: mode {} (spec {}) · recorded {} · floor OCP {} / RHEL {} · upgradeable {}",
        opt(&k.effective_mode),
        opt(&k.spec_mode),
        recorded,
        k.floor_ocp_version,
        k.floor_rhel_version,
        tri(k.upgradeable)
    );
    para(out, &text, layout);
    let text = format!(
        "oldest boot image in use: {oldest} · meets floor {} · record overstates it {}",
        tri(k.oldest_meets_floor),
        match k.overstated {
            Some(true) => "YES".into(),
            other => tri(other),
        }
    );
    out.push_str(&wrap_at(&text, layout.width, 2, 4));
    out.push('\n');
}

/// The control plane and last run paragraphs.
pub fn control_plane_and_last_run(out: &mut String, report: &AuditReport, layout: Layout) {
    let text = match &report.control_plane {
        Some(cp) => format!(
            "Control plane: ControlPlaneMachineSet {} · {} · {} · {} ready / {} updated of {} · build {} → {} ({}) · include_control_plane: {}",
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
        ),
        None if !report.gathered.contains(&Part::ControlPlane) => {
            "Control plane: not checked (left out by gather_subset)".into()
        }
        None => "Control plane: no ControlPlaneMachineSet".into(),
    };
    para(out, &text, layout);
    out.push('\n');
    if let Some(r) = &report.last_run {
        let text = format!(
            "Last run: {} · started {} · {} · {} object(s), {} change(s) · {}",
            r.run_id,
            r.started,
            r.modules.join(", "),
            r.objects,
            r.changes,
            r.state.as_str()
        );
        para(out, &text, layout);
        out.push('\n');
    }
}
