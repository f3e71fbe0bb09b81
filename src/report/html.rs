//! The fleet report as one self-contained static HTML page: the fleet's verdict and
//! counts, a table of clusters × checks (coloured and labelled by result) that sorts
//! and filters in the browser, a bar chart of boot image age per cluster, and each
//! cluster's failing checks with their reasons.
//!
//! No external asset and no network: the style and the script are inline, allowed by a
//! Content-Security-Policy that names their SHA-256 hashes and nothing else
//! (`default-src 'none'`), so not even an injected `<script>` or `style` attribute
//! would run. Every text comes from a cluster and is escaped; the data the script
//! sorts and filters by is JSON inside `<script type="application/json">` with `<`,
//! `>` and `&` escaped, read with `JSON.parse` and never written as markup.
//!
//! - [`clusters`]: the table and each cluster's cells and sort keys.
//! - [`chart`]: the SVG chart.
//! - [`details`]: each cluster's failing checks.

mod chart;
mod clusters;
mod details;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use super::status::ClusterStatus;
use crate::fleet::{FleetReport, FleetVerdict};

/// The page's style.
const STYLE: &str = include_str!("html/page.css");
/// The page's script: sorting and filtering the table.
const SCRIPT: &str = include_str!("html/page.js");

/// `report` as one HTML page.
pub fn render(report: &FleetReport) -> String {
    let rows = clusters::rows(report);
    let mut out = String::with_capacity(16 * 1024 + report.targets.len() * 2048);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(&format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n",
        content_security_policy()
    ));
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<meta name=\"generator\" content=\"ocp-bootimage\">\n");
    out.push_str(&format!(
        "<title>Fleet audit: {} — ocp-bootimage</title>\n",
        esc(report.verdict.as_str())
    ));
    out.push_str(&format!("<style>{STYLE}</style>\n</head>\n<body>\n"));
    header(&mut out, report);
    out.push_str("<main>\n");
    clusters::write_table(&mut out, &rows);
    chart::write(&mut out, report);
    details::write(&mut out, report);
    out.push_str("</main>\n");
    out.push_str(&format!(
        "<footer><p>Written by ocp-bootimage ({}) at {}. A static page: it reads nothing \
         from the network.</p><pre id=\"js-errors\" hidden></pre></footer>\n",
        esc(&report.schema),
        esc(&report.generated_at)
    ));
    out.push_str(&format!(
        "<script type=\"application/json\" id=\"fleet-data\">{}</script>\n",
        clusters::data_json(&rows)
    ));
    out.push_str(&format!("<script>{SCRIPT}</script>\n</body>\n</html>\n"));
    out
}

/// The page's policy: nothing but its own style and script, by hash.
pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; script-src '{}'; style-src '{}'; img-src 'none'; \
         base-uri 'none'; form-action 'none'",
        sha256_source(SCRIPT),
        sha256_source(STYLE)
    )
}

fn sha256_source(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

fn header(out: &mut String, report: &FleetReport) {
    let s = &report.summary;
    let class = match report.verdict {
        FleetVerdict::Compliant => "r-pass",
        FleetVerdict::NotCompliant => "r-fail",
        FleetVerdict::Unknown => "r-unknown",
        FleetVerdict::Incomplete => "r-na",
    };
    out.push_str("<header>\n<h1>OpenShift boot image fleet audit</h1>\n");
    out.push_str(&format!(
        "<p id=\"fleet-verdict\" class=\"verdict {class}\" data-verdict=\"{}\">Fleet verdict: \
         <strong>{}</strong></p>\n",
        verdict_key(report.verdict),
        esc(report.verdict.as_str())
    ));
    out.push_str(&format!(
        "<p class=\"muted\">Audited at <time datetime=\"{0}\">{0}</time>; boot image ages \
         count to that day.</p>\n",
        esc(&report.generated_at)
    ));
    let oldest = s
        .oldest_boot_image_age_days
        .map_or("unknown".to_string(), |d| format!("{d} days"));
    let counts = [
        ("clusters", s.clusters.to_string(), "cluster(s)", ""),
        ("compliant", s.compliant.to_string(), "compliant", "r-pass"),
        (
            "not_compliant",
            s.not_compliant.to_string(),
            "not compliant",
            "r-fail",
        ),
        ("unknown", s.unknown.to_string(), "unknown", "r-unknown"),
        (
            "not_audited",
            s.not_audited.to_string(),
            "not audited",
            "r-na",
        ),
        (
            "failing_machinesets",
            format!("{} of {}", s.failing_machinesets, s.machinesets),
            "MachineSets failing",
            "",
        ),
        ("oldest", oldest, "oldest boot image", ""),
    ];
    out.push_str("<ul class=\"counts\" id=\"counts\">\n");
    for (key, n, label, class) in counts {
        out.push_str(&format!(
            "<li data-count=\"{key}\"><span class=\"n\">{}</span> <span class=\"{class}\">{}</span></li>\n",
            esc(&n),
            esc(label)
        ));
    }
    out.push_str("</ul>\n</header>\n");
}

/// The fleet verdict's key, as the JSON report spells it.
fn verdict_key(v: FleetVerdict) -> &'static str {
    match v {
        FleetVerdict::Compliant => "compliant",
        FleetVerdict::NotCompliant => "not_compliant",
        FleetVerdict::Unknown => "unknown",
        FleetVerdict::Incomplete => "incomplete",
    }
}

/// The CSS class of a cluster's status (its colour).
fn status_class(s: ClusterStatus) -> &'static str {
    match s {
        ClusterStatus::Compliant => "r-pass",
        ClusterStatus::NotCompliant => "r-fail",
        ClusterStatus::Unknown => "r-unknown",
        ClusterStatus::NotAudited(_) => "r-na",
    }
}

/// `c` if an HTML document can carry it without a parse error, else U+FFFD: control
/// characters other than white space, and noncharacters.
fn html_char(c: char) -> char {
    let n = u32::from(c);
    let noncharacter = (0xFDD0..=0xFDEF).contains(&n) || n & 0xFFFE == 0xFFFE;
    match c {
        '\t' | '\n' => c,
        c if c.is_control() || noncharacter => '\u{fffd}',
        c => c,
    }
}

/// `s` as HTML text or a double-quoted attribute value.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(html_char) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `json` made safe inside `<script type="application/json">`: `<`, `>`, `&` and the
/// characters an HTML parser reports (controls, noncharacters) as `\uXXXX` escapes,
/// which JSON allows only inside strings, where they mean the same characters.
fn script_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if matches!(c, '<' | '>' | '&') || html_char(c) != c {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_characters_html_reports_are_replaced() {
        assert_eq!(
            esc("<script>alert(1)</script>\"&'\u{0}\u{85}\u{fdd0}\u{1fffe}é\n"),
            "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&amp;&#39;\u{fffd}\u{fffd}\u{fffd}\u{fffd}é\n"
        );
    }

    #[test]
    fn json_in_a_script_element_cannot_close_it() {
        let j = serde_json::to_string(&serde_json::json!({"n": "</script><!--&\u{85}\u{1fffe}"}))
            .expect("json");
        let safe = script_json(&j);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'));
        assert_eq!(
            safe,
            r#"{"n":"\u003c/script\u003e\u003c!--\u0026\u0085\ud83f\udffe"}"#
        );
        let back: serde_json::Value = serde_json::from_str(&safe).expect("still JSON");
        assert_eq!(back["n"], "</script><!--&\u{85}\u{1fffe}");
    }

    #[test]
    fn the_policy_names_the_hashes_of_the_inline_style_and_script() {
        let p = content_security_policy();
        assert!(p.starts_with("default-src 'none'; script-src 'sha256-"));
        assert!(!p.contains("unsafe"));
        assert_eq!(
            sha256_source("alert('Hello, world.');"),
            // The example of the CSP Level 3 specification (hash-source).
            "sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng="
        );
    }
}
