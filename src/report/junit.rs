//! The fleet report as JUnit XML, for CI (Jenkins, GitLab, …) to show natively: one
//! `<testsuite>` per cluster (its version, platform and source as `<properties>`), one
//! `<testcase>` per check (classname `<cluster>.<check kind>`), a `<failure>` for a
//! check that failed, a `<skipped>` for one that could not be judged or is not this
//! tool's to judge, and for a cluster whose audit did not run one testcase `audit` with
//! an `<error>` (type: the outcome). It validates against the Jenkins xunit plugin's
//! `junit-10.xsd` (`tests/fixtures/junit/`), which allows `name`, `tests`, `failures`,
//! `errors` and `time` on `<testsuites>`: the skipped counts and timestamps are on each
//! `<testsuite>`.
//!
//! Every text comes from a cluster and is escaped; characters XML 1.0 cannot carry
//! (control characters, U+FFFE, U+FFFF) become U+FFFD.

use super::status::{seconds, ClusterStatus};
use crate::fleet::{Check, CheckResult, FleetReport, TargetReport};

/// The name of the `<testsuites>`.
pub const SUITES_NAME: &str = "ocp-bootimage fleet audit";

/// `report` as JUnit XML.
pub fn render(report: &FleetReport) -> String {
    let suites: Vec<Suite> = report.targets.iter().map(suite).collect();
    let total = |f: fn(&Suite) -> usize| suites.iter().map(f).sum::<usize>();
    let ms = report
        .targets
        .iter()
        .fold(0u64, |sum, t| sum.saturating_add(t.duration_ms));
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{}\">\n",
        attr(SUITES_NAME),
        total(|s| s.cases.len()),
        total(|s| s.count(Kind::Failure)),
        total(|s| s.count(Kind::Error)),
        seconds(ms),
    ));
    for (t, s) in report.targets.iter().zip(&suites) {
        write_suite(&mut out, t, s, &report.generated_at);
    }
    out.push_str("</testsuites>\n");
    out
}

/// What a testcase holds besides its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pass,
    Failure,
    Error,
    Skipped,
}

/// One testcase before it is written.
struct Case {
    classname: String,
    name: String,
    kind: Kind,
    /// The `type` of a failure or error.
    kind_type: String,
    message: String,
    /// The element's text (the details of a failure).
    body: String,
}

/// One cluster's testcases.
struct Suite {
    cases: Vec<Case>,
}

impl Suite {
    fn count(&self, kind: Kind) -> usize {
        self.cases.iter().filter(|c| c.kind == kind).count()
    }
}

fn suite(t: &TargetReport) -> Suite {
    let status = ClusterStatus::of(t);
    let cases = if status.audited() {
        t.checks.iter().map(|c| case(t, c)).collect()
    } else {
        vec![Case {
            classname: format!("{}.cluster", t.name),
            name: "audit".into(),
            kind: Kind::Error,
            kind_type: status.key().into(),
            message: format!(
                "{}: {}",
                status.label(),
                t.error.as_deref().unwrap_or("the audit did not run")
            ),
            body: format!("source: {} {}", t.source.kind, t.source.reference),
        }]
    };
    Suite { cases }
}

fn case(t: &TargetReport, c: &Check) -> Case {
    let message = c.message.clone().unwrap_or_default();
    let (kind, message) = match c.result {
        CheckResult::Pass => (Kind::Pass, String::new()),
        CheckResult::Fail => (Kind::Failure, message),
        CheckResult::Unknown => (
            Kind::Skipped,
            format!("could not be judged: {}", or_unsaid(&message)),
        ),
        CheckResult::Skipped => (Kind::Skipped, format!("skipped: {}", or_unsaid(&message))),
    };
    Case {
        classname: format!("{}.{}", t.name, c.kind.as_str()),
        name: c.name.clone(),
        kind,
        kind_type: c.status.clone().unwrap_or_else(|| c.result.as_str().into()),
        message,
        body: details(c),
    }
}

fn or_unsaid(message: &str) -> &str {
    if message.is_empty() {
        "no reason given"
    } else {
        message
    }
}

/// The lines of a failure's text: what the check read.
fn details(c: &Check) -> String {
    let mut lines = Vec::new();
    if let Some(s) = &c.status {
        lines.push(format!("status: {s}"));
    }
    if let Some(m) = &c.message {
        lines.push(format!("reason: {m}"));
    }
    if let Some(v) = &c.current {
        lines.push(format!("current: {v}"));
    }
    if let Some(v) = &c.target {
        lines.push(format!("target: {v}"));
    }
    if let Some(d) = c.age_days {
        lines.push(format!("boot image age: {d} days"));
    }
    if let Some(m) = c.skew_margin_minors {
        lines.push(format!("skew margin: {m} minor(s)"));
    }
    lines.join("\n")
}

fn write_suite(out: &mut String, t: &TargetReport, s: &Suite, timestamp: &str) {
    let hostname = t.infrastructure_name.as_deref().unwrap_or(&t.name);
    out.push_str(&format!(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" \
         time=\"{}\" timestamp=\"{}\" hostname=\"{}\">\n",
        attr(&t.name),
        s.cases.len(),
        s.count(Kind::Failure),
        s.count(Kind::Error),
        s.count(Kind::Skipped),
        seconds(t.duration_ms),
        attr(timestamp),
        attr(hostname),
    ));
    out.push_str("    <properties>\n");
    for (name, value) in properties(t) {
        out.push_str(&format!(
            "      <property name=\"{}\" value=\"{}\"/>\n",
            attr(name),
            attr(&value)
        ));
    }
    out.push_str("    </properties>\n");
    for c in &s.cases {
        write_case(out, c);
    }
    out.push_str("  </testsuite>\n");
}

/// The cluster's `<properties>` (those known).
fn properties(t: &TargetReport) -> Vec<(&'static str, String)> {
    let status = ClusterStatus::of(t);
    let mut p = vec![
        ("status", status.key().to_string()),
        (
            "source",
            format!("{} {}", t.source.kind, t.source.reference),
        ),
    ];
    let known = [
        ("version", t.version.clone()),
        ("platform", t.platform.clone()),
        ("infrastructure_name", t.infrastructure_name.clone()),
        (
            "oldest_boot_image",
            t.boot_image_age.as_ref().map(|a| a.oldest_build.clone()),
        ),
        (
            "boot_image_age_days",
            t.boot_image_age.as_ref().map(|a| a.age_days.to_string()),
        ),
    ];
    p.extend(known.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
    p
}

fn write_case(out: &mut String, c: &Case) {
    let open = format!(
        "    <testcase classname=\"{}\" name=\"{}\"",
        attr(&c.classname),
        attr(&c.name)
    );
    let element = match c.kind {
        Kind::Pass => {
            out.push_str(&open);
            out.push_str("/>\n");
            return;
        }
        Kind::Failure => "failure",
        Kind::Error => "error",
        Kind::Skipped => "skipped",
    };
    out.push_str(&open);
    out.push_str(">\n");
    let type_attr = if c.kind == Kind::Skipped {
        String::new()
    } else {
        format!(" type=\"{}\"", attr(&c.kind_type))
    };
    if c.body.is_empty() || c.kind == Kind::Skipped {
        out.push_str(&format!(
            "      <{element} message=\"{}\"{type_attr}/>\n",
            attr(&c.message)
        ));
    } else {
        out.push_str(&format!(
            "      <{element} message=\"{}\"{type_attr}>{}</{element}>\n",
            attr(&c.message),
            text(&c.body)
        ));
    }
    out.push_str("    </testcase>\n");
}

/// `c` if XML 1.0 can carry it, else U+FFFD.
fn xml_char(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' => c,
        '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => '\u{fffd}',
        _ => c,
    }
}

/// `s` as element text.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(xml_char) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // A bare CR would read back as LF.
            '\r' => out.push_str("&#13;"),
            _ => out.push(c),
        }
    }
    out
}

/// `s` as a double-quoted attribute value (tabs and line breaks kept as references:
/// a parser turns literal ones into spaces).
pub fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(xml_char) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_characters_xml_cannot_carry_are_escaped_or_replaced() {
        assert_eq!(
            attr("<script>alert(1)</script>\"&'\n\t\u{0}\u{1b}\u{ffff}é"),
            "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&amp;&apos;&#10;&#9;\u{fffd}\u{fffd}\u{fffd}é"
        );
        assert_eq!(text("a<b>&c\r\n\u{7}"), "a&lt;b&gt;&amp;c&#13;\n\u{fffd}");
    }
}
