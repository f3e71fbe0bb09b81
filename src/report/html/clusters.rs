//! The page's table: one row per cluster, one column per kind of check, each cell
//! coloured and labelled by its worst result; and the JSON the script sorts and filters
//! the rows by (one object per row, `data-i` its index).

use serde_json::{json, Value};

use super::{esc, script_json, status_class};
use crate::fleet::{Check, CheckKind, CheckResult, FleetReport, TargetReport};
use crate::report::status::ClusterStatus;

/// One cell: its colour, what it says, its tooltip and its sort rank.
pub struct Cell {
    pub class: &'static str,
    pub label: String,
    pub title: String,
    /// Worst first: fail 0, unknown 1, pass 2, skipped 3, no check 4, not audited 5.
    pub rank: u8,
}

/// One row of the table.
pub struct Row<'a> {
    pub target: &'a TargetReport,
    pub status: ClusterStatus,
    pub machinesets: Cell,
    pub machinesets_failing: Option<usize>,
    pub machinesets_passing: Option<usize>,
    pub stubs: Cell,
    pub certificate: Cell,
    pub skew: Cell,
}

/// The rows of `report`, in its order.
pub fn rows(report: &FleetReport) -> Vec<Row<'_>> {
    report.targets.iter().map(row).collect()
}

fn row(t: &TargetReport) -> Row<'_> {
    let status = ClusterStatus::of(t);
    let of = |kind: CheckKind| t.checks.iter().filter(move |c| c.kind == kind);
    let count = |r: CheckResult| of(CheckKind::Machineset).filter(|c| c.result == r).count();
    let audited = status.audited();
    Row {
        target: t,
        status,
        machinesets: machineset_cell(audited, of(CheckKind::Machineset).collect()),
        machinesets_failing: audited.then(|| count(CheckResult::Fail)),
        machinesets_passing: audited.then(|| count(CheckResult::Pass)),
        stubs: cell(audited, of(CheckKind::UserDataSecret).collect()),
        certificate: cell(audited, of(CheckKind::McsCertificate).collect()),
        skew: cell(audited, of(CheckKind::SkewEnforcement).collect()),
    }
}

fn rank(r: CheckResult) -> u8 {
    match r {
        CheckResult::Fail => 0,
        CheckResult::Unknown => 1,
        CheckResult::Pass => 2,
        CheckResult::Skipped => 3,
    }
}

fn class(r: CheckResult) -> &'static str {
    match r {
        CheckResult::Fail => "r-fail",
        CheckResult::Unknown => "r-unknown",
        CheckResult::Pass => "r-pass",
        CheckResult::Skipped => "r-none",
    }
}

fn not_audited() -> Cell {
    Cell {
        class: "r-na",
        label: "not audited".into(),
        title: "the cluster's audit did not run".into(),
        rank: 5,
    }
}

fn not_checked() -> Cell {
    Cell {
        class: "r-none",
        label: "not checked".into(),
        title: "the audit did not check this (not gathered, or not on this version)".into(),
        rank: 4,
    }
}

/// The worst result of `checks`, with how many share it.
fn cell(audited: bool, checks: Vec<&Check>) -> Cell {
    if !audited {
        return not_audited();
    }
    let Some(worst) = checks.iter().map(|c| c.result).min_by_key(|r| rank(*r)) else {
        return not_checked();
    };
    let n = checks.iter().filter(|c| c.result == worst).count();
    let label = if checks.len() > 1 {
        format!("{} ({n} of {})", worst.as_str(), checks.len())
    } else {
        worst.as_str().to_string()
    };
    let title = checks
        .iter()
        .map(|c| match &c.message {
            Some(m) => format!("{} {}: {m}", c.result.as_str(), c.name),
            None => format!("{} {}", c.result.as_str(), c.name),
        })
        .collect::<Vec<_>>()
        .join("\n");
    Cell {
        class: class(worst),
        label,
        title,
        rank: rank(worst),
    }
}

/// The MachineSets' counts by result, coloured by the worst.
fn machineset_cell(audited: bool, checks: Vec<&Check>) -> Cell {
    let mut c = cell(audited, checks.clone());
    if !audited || checks.is_empty() {
        if audited {
            c.label = "none".into();
        }
        return c;
    }
    let count = |r: CheckResult| checks.iter().filter(|c| c.result == r).count();
    let mut parts = vec![
        format!("{} pass", count(CheckResult::Pass)),
        format!("{} fail", count(CheckResult::Fail)),
    ];
    for r in [CheckResult::Unknown, CheckResult::Skipped] {
        if count(r) > 0 {
            parts.push(format!("{} {}", count(r), r.as_str()));
        }
    }
    c.label = parts.join(" · ");
    c
}

/// The columns: sort key and heading.
const COLUMNS: [(&str, &str); 10] = [
    ("name", "Cluster"),
    ("status", "Status"),
    ("version", "Version"),
    ("platform", "Platform"),
    ("machinesets", "MachineSets"),
    ("stubs", "Stubs"),
    ("certificate", "Certificate"),
    ("skew", "Skew"),
    ("oldest", "Oldest boot image"),
    ("age", "Age (days)"),
];

/// Writes the table section.
pub fn write_table(out: &mut String, rows: &[Row<'_>]) {
    out.push_str("<section aria-labelledby=\"h-clusters\">\n<h2 id=\"h-clusters\">Clusters</h2>\n");
    out.push_str(
        "<p class=\"legend\"><span class=\"r-pass\">pass</span><span class=\"r-fail\">fail</span>\
         <span class=\"r-unknown\">unknown (could not be judged)</span>\
         <span class=\"r-na\">not audited</span> Click a heading to sort.</p>\n",
    );
    out.push_str(
        "<div class=\"controls\">\n<label>Filter <input type=\"search\" id=\"filter\" \
         placeholder=\"name, version, platform\" autocomplete=\"off\"></label>\n\
         <label>Status <select id=\"status\">\n<option value=\"\">all</option>\n\
         <option value=\"compliant\">compliant</option>\n\
         <option value=\"not_compliant\">not compliant</option>\n\
         <option value=\"unknown\">unknown</option>\n\
         <option value=\"not_audited\">not audited</option>\n</select></label>\n\
         <span id=\"shown\" aria-live=\"polite\"></span>\n</div>\n",
    );
    out.push_str("<table id=\"clusters\">\n<thead><tr>");
    for (key, heading) in COLUMNS {
        out.push_str(&format!(
            "<th scope=\"col\" data-key=\"{key}\" aria-sort=\"none\"><button type=\"button\">{heading}</button></th>"
        ));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (i, r) in rows.iter().enumerate() {
        write_row(out, i, r);
    }
    out.push_str("</tbody>\n</table>\n");
    out.push_str("<p id=\"none-shown\" hidden>No cluster matches the filter.</p>\n</section>\n");
}

fn td(out: &mut String, c: &Cell) {
    out.push_str(&format!(
        "<td class=\"{}\" title=\"{}\">{}</td>",
        c.class,
        esc(&c.title),
        esc(&c.label)
    ));
}

fn plain(out: &mut String, v: Option<&str>, numeric: bool) {
    let class = if numeric { " class=\"num\"" } else { "" };
    match v {
        Some(v) => out.push_str(&format!("<td{class}>{}</td>", esc(v))),
        None => out.push_str(&format!("<td{class}><span class=\"r-none\">—</span></td>")),
    }
}

fn write_row(out: &mut String, i: usize, r: &Row<'_>) {
    let t = r.target;
    out.push_str(&format!(
        "<tr data-i=\"{i}\" data-status=\"{}\">",
        r.status.key()
    ));
    out.push_str(&format!(
        "<th scope=\"row\"><a href=\"#c-{i}\">{}</a></th>",
        esc(&t.name)
    ));
    let status_title = t.error.as_deref().unwrap_or("");
    out.push_str(&format!(
        "<td class=\"{}\" title=\"{}\">{}</td>",
        status_class(r.status),
        esc(status_title),
        esc(r.status.label())
    ));
    plain(out, t.version.as_deref(), false);
    plain(out, t.platform.as_deref(), false);
    td(out, &r.machinesets);
    td(out, &r.stubs);
    td(out, &r.certificate);
    td(out, &r.skew);
    let age = t.boot_image_age.as_ref();
    match age {
        Some(a) => out.push_str(&format!(
            "<td title=\"used by {}\"><code>{}</code> <span class=\"muted\">({})</span></td>",
            esc(&a.used_by),
            esc(&a.oldest_build),
            esc(&a.build_date)
        )),
        None => plain(out, None, false),
    }
    plain(out, age.map(|a| a.age_days.to_string()).as_deref(), true);
    out.push_str("</tr>\n");
}

/// The group the status filter offers (every outcome but `audited` is `not_audited`).
fn group(s: ClusterStatus) -> &'static str {
    if s.audited() {
        s.key()
    } else {
        "not_audited"
    }
}

/// The rank the status column sorts by: worst first.
fn status_rank(s: ClusterStatus) -> u8 {
    match s {
        ClusterStatus::NotCompliant => 0,
        ClusterStatus::Unknown => 1,
        ClusterStatus::NotAudited(_) => 2,
        ClusterStatus::Compliant => 3,
    }
}

fn data(r: &Row<'_>) -> Value {
    let t = r.target;
    let search = [
        Some(t.name.as_str()),
        t.version.as_deref(),
        t.platform.as_deref(),
        t.infrastructure_name.as_deref(),
        Some(r.status.label()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ")
    .to_lowercase();
    json!({
        "name": t.name,
        "status": r.status.key(),
        "group": group(r.status),
        "status_rank": status_rank(r.status),
        "version": t.version,
        "platform": t.platform,
        "machinesets_failing": r.machinesets_failing,
        "machinesets_passing": r.machinesets_passing,
        "stubs_rank": r.stubs.rank,
        "certificate_rank": r.certificate.rank,
        "skew_rank": r.skew.rank,
        "oldest": t.boot_image_age.as_ref().map(|a| &a.oldest_build),
        "age": t.boot_image_age.as_ref().map(|a| a.age_days),
        "search": search,
    })
}

/// The rows' data for the script, safe inside a `<script>` element.
pub fn data_json(rows: &[Row<'_>]) -> String {
    let clusters: Vec<Value> = rows.iter().map(data).collect();
    script_json(&json!({ "clusters": clusters }).to_string())
}
