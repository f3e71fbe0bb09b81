//! Renders the audit as readable tables for a terminal (with an `Observed build`
//! column and the observed-build notes when nodes were observed).

use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use serde_json::Value;

fn s(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".into(),
        Some(Value::Bool(b)) => if *b { "yes" } else { "no" }.into(),
        Some(other) => other.to_string(),
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
fn observed_notes(result: &Value) -> String {
    let mut out = String::new();
    for m in result
        .get("machinesets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let what = match (
            m.get("observed_build").and_then(Value::as_str),
            m.get("observed_reason").and_then(Value::as_str),
        ) {
            (Some(b), _) => format!(
                "node {} (Machine {}, created {}) booted {b}",
                s(m, "observed_node"),
                s(m, "observed_machine"),
                s(m, "observed_at")
            ),
            (None, Some(why)) => format!("not observed: {why}"),
            (None, None) => "not observed".into(),
        };
        let flag = if m.get("observed_drift").and_then(Value::as_bool) == Some(true) {
            " [DRIFT]"
        } else if m.get("observed_older_than_image").and_then(Value::as_bool) == Some(true) {
            " [booted before the image last changed]"
        } else {
            ""
        };
        out.push_str(&format!("Observed {}: {what}{flag}\n", s(m, "name")));
    }
    out.push('\n');
    out
}

/// The audit result (module JSON) as text.
pub fn render(result: &Value) -> String {
    let mut out = String::new();
    let cluster = result.get("cluster").cloned().unwrap_or(Value::Null);
    let stream = result.get("stream").cloned().unwrap_or(Value::Null);
    out.push_str(&format!(
        "Cluster: version {} · platform {} · arch {} · infra {}{}\n",
        s(&cluster, "version"),
        s(&cluster, "platform"),
        s(&cluster, "architecture"),
        s(&cluster, "infrastructure_name"),
        if cluster.get("managed").and_then(Value::as_bool) == Some(true) {
            format!(" · MANAGED ({})", s(&cluster, "managed_reason"))
        } else {
            String::new()
        }
    ));
    out.push_str(&format!(
        "Stream:  {} from {}{}\n\n",
        s(&stream, "name"),
        s(&stream, "source"),
        stream
            .get("path")
            .and_then(Value::as_str)
            .map(|p| format!(" ({p})"))
            .unwrap_or_default()
    ));
    let observed = result
        .pointer("/observed_builds/enabled")
        .and_then(Value::as_bool)
        == Some(true);
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
    let machinesets = || {
        result
            .get("machinesets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
    };
    for m in machinesets() {
        let mut row = vec![
            s(m, "name"),
            s(m, "platform"),
            s(m, "architecture"),
            s(m, "region"),
            s(m, "status"),
            s(m, "current_build"),
        ];
        if observed {
            row.push(s(m, "observed_build"));
        }
        row.extend([
            s(m, "target_build"),
            m.get("reason")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        ]);
        t.add_row(row);
    }
    out.push_str(&format!("{t}\n\n"));
    if observed {
        out.push_str(&observed_notes(result));
    }
    // Parts left out by gather_subset are said to be unchecked, not shown empty.
    let gathered = |part: &str| {
        result
            .get("gathered")
            .and_then(Value::as_array)
            .is_none_or(|g| g.iter().any(|x| x == part))
    };
    let mut t = table(&[
        "User-data secret",
        "Present",
        "Ignition",
        "Migration",
        "Used by",
        "Error",
    ]);
    for u in result
        .get("user_data_secrets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let by = u
            .get("referenced_by")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        t.add_row(vec![
            s(u, "name"),
            s(u, "present"),
            s(u, "ignition_version"),
            if u.get("migration_required").and_then(Value::as_bool) == Some(true) {
                "REQUIRED".into()
            } else {
                "no".into()
            },
            by,
            u.get("error")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        ]);
    }
    if gathered("stubs") {
        out.push_str(&format!("{t}\n\n"));
    } else {
        out.push_str("User-data secrets: not checked (left out by gather_subset)\n");
    }
    let mcs = result
        .get("mcs_certificate")
        .cloned()
        .unwrap_or(Value::Null);
    match mcs.get("certificate").filter(|c| !c.is_null()) {
        Some(c) => {
            let sans: Vec<String> = ["dns_sans", "ip_sans"]
                .iter()
                .flat_map(|k| {
                    c.get(*k)
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect::<Vec<_>>()
                })
                .collect();
            out.push_str(&format!(
                "MCS certificate: CN {} · SANs {} · valid until {} · CA verified {} · regeneration {}\n",
                s(c, "subject_cn"),
                if sans.is_empty() { "NONE".into() } else { sans.join(", ") },
                s(c, "not_after"),
                s(c, "ca_verified"),
                if c.get("regeneration_required").and_then(Value::as_bool) == Some(true) {
                    "REQUIRED"
                } else {
                    "not required"
                }
            ));
        }
        None => out.push_str(&format!("MCS certificate: {}\n", s(&mcs, "error"))),
    }
    let asr = result.get("autoscaling").cloned().unwrap_or(Value::Null);
    if !gathered("autoscaling") {
        out.push_str("Autoscaling: not checked (left out by gather_subset)\n\n");
    } else {
        out.push_str(&format!(
            "Autoscaling: ClusterAutoscaler {} · {} MachineAutoscaler(s)\n\n",
            if asr.get("cluster_autoscaler").and_then(Value::as_bool) == Some(true) {
                "present"
            } else {
                "absent"
            },
            asr.get("machine_autoscalers")
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
        ));
    }
    for w in result
        .get("warnings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.push_str(&format!("warning: {}\n", w.as_str().unwrap_or_default()));
    }
    out.push_str(&format!("{}\n", s(result, "msg")));
    out
}
