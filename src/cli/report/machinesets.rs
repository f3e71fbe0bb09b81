//! The MachineSets of the audit as a `kubectl get`-style table: by default NAME, STATUS,
//! CURRENT (and TARGET when the MachineSets have different targets; a target they all
//! share is said once above the table), with `-o wide` also PLATFORM, ARCH, REGION,
//! OBSERVED (with `--nodes`) and TARGET; the reasons and the observed builds listed under
//! the table. See docs/decisions.md, "The CLI's tables".

use std::collections::BTreeMap;

use crate::cli::table::{wrap, wrap_at, Layout, Table};
use crate::plan::MachineSetReport;

use super::{name_of, opt};

/// The one target build every MachineSet that has a target shares (None: there are
/// several, or none).
pub fn shared_target(machinesets: &[MachineSetReport]) -> Option<&str> {
    let mut targets = machinesets.iter().filter_map(|m| m.target_build.as_deref());
    let first = targets.next()?;
    targets.all(|t| t == first).then_some(first)
}

/// `aws` when every value is `aws`, else each value with its count: `aarch64 (3), x86_64 (1)`.
fn tally(values: impl Iterator<Item = String>) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    if counts.len() == 1 {
        return counts.into_keys().collect();
    }
    counts
        .iter()
        .map(|(v, n)| format!("{v} ({n})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The default layout's line over the table: how many MachineSets, on which platforms
/// and architectures (the columns only `-o wide` shows).
pub fn summary_line(machinesets: &[MachineSetReport]) -> String {
    let platforms = machinesets
        .iter()
        .map(|m| m.platform.map_or_else(|| "-".into(), |p| p.as_str().into()));
    let archs = machinesets.iter().map(|m| opt(&m.architecture));
    format!(
        "MachineSets: {} · platform {} · arch {}",
        machinesets.len(),
        tally(platforms),
        tally(archs)
    )
}

/// Why a MachineSet is not `current`, and who else manages it.
fn reason(m: &MachineSetReport) -> Option<String> {
    match (&m.reason, &m.managed_by) {
        (Some(r), Some(who)) => Some(format!("{r}; managed by {who}")),
        (None, Some(who)) => Some(format!("managed by {who}")),
        (r, None) => r.clone(),
    }
}

/// The table, then the reasons (and, when nodes were observed, what each youngest node
/// booted).
pub fn render(machinesets: &[MachineSetReport], observed: bool, layout: Layout) -> String {
    if machinesets.is_empty() {
        return "No MachineSets found.\n\n".into();
    }
    let target_column = layout.wide || shared_target(machinesets).is_none();
    let mut header = vec!["NAME"];
    if layout.wide {
        header.extend(["PLATFORM", "ARCH", "REGION"]);
    }
    header.extend(["STATUS", "CURRENT"]);
    if layout.wide && observed {
        header.push("OBSERVED");
    }
    if target_column {
        header.push("TARGET");
    }
    let mut t = Table::new(&header);
    for m in machinesets {
        let mut row = vec![m.name.clone()];
        if layout.wide {
            row.extend([
                m.platform.map_or_else(|| "-".into(), |p| p.as_str().into()),
                opt(&m.architecture),
                opt(&m.region),
            ]);
        }
        row.extend([name_of(&m.status), opt(&m.current_build)]);
        if layout.wide && observed {
            row.push(opt(&m.observed_build));
        }
        if target_column {
            row.push(opt(&m.target_build));
        }
        t.row(row);
    }
    let mut out = t.render();
    out.push('\n');
    let reasons: Vec<(&str, String)> = machinesets
        .iter()
        .filter_map(|m| Some((m.name.as_str(), reason(m)?)))
        .collect();
    if !reasons.is_empty() {
        out.push_str("Reasons:\n");
        for (name, why) in reasons {
            out.push_str(&wrap_at(&format!("{name}: {why}"), layout.width, 2, 4));
        }
        out.push('\n');
    }
    if observed {
        for m in machinesets {
            out.push_str(&wrap(&observed_note(m), layout.width, 2));
        }
        out.push('\n');
    }
    out
}

/// One line about the youngest node of a MachineSet.
fn observed_note(m: &MachineSetReport) -> String {
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
    format!("Observed {}: {what}{flag}", m.name)
}
