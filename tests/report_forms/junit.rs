//! The JUnit form: valid against the Jenkins xunit plugin's `junit-10.xsd` (with
//! `xmllint`, skipped visibly without it), and read back with an XML parser: one
//! testsuite per cluster, one testcase per check, failures with the checks' reasons.

use std::collections::HashMap;
use std::process::Command;

use ocp_bootimage::fleet::{CheckResult, FleetReport};
use ocp_bootimage::report::junit;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::{Reader, XmlVersion};

use super::fleet::{fleet, keep, root, runs, CONTROL, HOSTILE};

/// One element read back: its name, its attributes (unescaped) and its text.
#[derive(Debug, Clone)]
pub struct Element {
    pub name: String,
    pub attrs: HashMap<String, String>,
    pub depth: usize,
    pub text: String,
}

pub fn read_back(xml: &str) -> Vec<Element> {
    let mut reader = Reader::from_str(xml);
    let mut out: Vec<Element> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    loop {
        let event = reader.read_event().expect("well-formed XML");
        let (e, empty) = match &event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::Text(t) => {
                if let Some(&i) = open.last() {
                    out[i]
                        .text
                        .push_str(&t.xml_content(XmlVersion::Implicit1_0));
                }
                continue;
            }
            Event::GeneralRef(r) => {
                if let Some(&i) = open.last() {
                    let resolved = match r.resolve_char_ref().expect("a reference") {
                        Some(c) => c.to_string(),
                        None => resolve_predefined_entity(&r.xml_content(XmlVersion::Implicit1_0))
                            .expect("a predefined entity")
                            .to_string(),
                    };
                    out[i].text.push_str(&resolved);
                }
                continue;
            }
            Event::End(_) => {
                open.pop();
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let attrs = e
            .attributes()
            .map(|a| {
                let a = a.expect("an attribute");
                let key = a.key.as_ref().to_string();
                let value = a
                    .normalized_value(XmlVersion::Implicit1_0)
                    .expect("an attribute value")
                    .to_string();
                (key, value)
            })
            .collect();
        out.push(Element {
            name: e.name().as_ref().to_string(),
            attrs,
            depth: open.len(),
            text: String::new(),
        });
        if !empty {
            open.push(out.len() - 1);
        }
    }
    out
}

fn attr<'a>(e: &'a Element, name: &str) -> &'a str {
    e.attrs
        .get(name)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("{} has no {name}: {e:?}", e.name))
}

#[test]
fn junit_validates_against_the_jenkins_junit_schema() {
    let xml = junit::render(&fleet());
    keep("fleet-report.junit.xml", &xml);
    if !runs("xmllint", &["--version"]) {
        eprintln!(
            "SKIP junit_validates_against_the_jenkins_junit_schema: xmllint not installed \
             (Debian package libxml2-utils)"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("fleet.junit.xml");
    std::fs::write(&file, &xml).expect("written");
    let schema = root().join("tests/fixtures/junit/junit-10.xsd");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(&file)
        .output()
        .expect("xmllint runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "xmllint: {stderr}\n{xml}");
    assert!(stderr.contains("validates"), "{stderr}");
}

#[test]
fn the_schema_check_catches_what_junit_10_forbids() {
    // The oracle is not a rubber stamp: an attribute junit-10.xsd does not know fails.
    if !runs("xmllint", &["--version"]) {
        eprintln!("SKIP the_schema_check_catches_what_junit_10_forbids: xmllint not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("bad.xml");
    std::fs::write(
        &file,
        "<testsuites skipped=\"1\"><testsuite name=\"a\" tests=\"0\" failures=\"0\" errors=\"0\"/></testsuites>",
    )
    .expect("written");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(root().join("tests/fixtures/junit/junit-10.xsd"))
        .arg(&file)
        .output()
        .expect("xmllint runs");
    assert!(!out.status.success());
}

#[test]
fn junit_reads_back_one_suite_per_cluster_and_one_case_per_check() {
    let report = fleet();
    let xml = junit::render(&report);
    let elements = read_back(&xml);
    let root_el = &elements[0];
    assert_eq!(root_el.name, "testsuites");
    assert_eq!(attr(root_el, "name"), "ocp-bootimage fleet audit");
    let suites: Vec<&Element> = elements.iter().filter(|e| e.name == "testsuite").collect();
    assert_eq!(suites.len(), report.targets.len());
    let cases = elements.iter().filter(|e| e.name == "testcase").count();
    assert_eq!(attr(root_el, "tests"), cases.to_string());
    let failures = elements.iter().filter(|e| e.name == "failure").count();
    let errors = elements.iter().filter(|e| e.name == "error").count();
    assert_eq!(attr(root_el, "failures"), failures.to_string());
    assert_eq!(attr(root_el, "errors"), errors.to_string());
    assert_eq!(errors, 4, "one error per cluster not audited");

    for (t, s) in report.targets.iter().zip(&suites) {
        // The hostile name comes back as the same text.
        assert_eq!(
            attr(s, "name"),
            t.name.replace(['\u{1}', '\u{b}', '\u{ffff}'], "\u{fffd}")
        );
        assert_eq!(attr(s, "timestamp"), report.generated_at);
        let want_cases = if t.checks.is_empty() {
            1
        } else {
            t.checks.len()
        };
        assert_eq!(attr(s, "tests"), want_cases.to_string(), "{}", t.name);
        let count = |r: CheckResult| t.checks.iter().filter(|c| c.result == r).count();
        assert_eq!(attr(s, "failures"), count(CheckResult::Fail).to_string());
        assert_eq!(
            attr(s, "skipped"),
            (count(CheckResult::Unknown) + count(CheckResult::Skipped)).to_string()
        );
    }
    check_cases(&report, &elements);
}

/// Each failing check's testcase has a failure with its reason; each testcase's
/// classname is `<cluster>.<kind>`.
fn check_cases(report: &FleetReport, elements: &[Element]) {
    let dump = &report.targets[0];
    let outdated = dump
        .checks
        .iter()
        .find(|c| c.result == CheckResult::Fail && c.kind.as_str() == "machineset")
        .expect("an outdated MachineSet");
    let i = elements
        .iter()
        .position(|e| {
            e.name == "testcase"
                && e.attrs.get("name") == Some(&outdated.name)
                && e.attrs.get("classname").map(String::as_str) == Some("cluster-dump.machineset")
        })
        .expect("the MachineSet's testcase");
    let failure = &elements[i + 1];
    assert_eq!(failure.name, "failure");
    assert_eq!(attr(failure, "type"), "outdated");
    assert_eq!(Some(attr(failure, "message")), outdated.message.as_deref());
    assert!(failure.text.contains("current: "), "{}", failure.text);
    assert!(
        failure.text.contains("boot image age: "),
        "{}",
        failure.text
    );

    // A check that could not be judged is skipped, saying so.
    let windows = elements
        .iter()
        .position(|e| e.name == "testcase" && attr(e, "classname") == "ocp-4.22-windows.cluster")
        .expect("the unknown cluster's verdict");
    assert_eq!(elements[windows + 1].name, "skipped");
    assert!(attr(&elements[windows + 1], "message").starts_with("could not be judged: "));

    // A cluster not audited: one testcase `audit` with an error typed by the outcome.
    let errors: Vec<(&str, &str)> = elements
        .iter()
        .filter(|e| e.name == "error")
        .map(|e| (attr(e, "type"), attr(e, "message")))
        .collect();
    assert_eq!(errors[0].0, "unreachable");
    assert_eq!(errors[1].0, "forbidden");
    assert_eq!(errors[2].0, "timed_out");
    assert_eq!(errors[3].0, "unreachable");
    // Markup and a line break in the error come back as text; the BEL is replaced.
    assert!(
        errors[1].1.contains("<b>\u{fffd}\n</b> & more (403)"),
        "{:?}",
        errors[1].1
    );
    let hostile = elements
        .iter()
        .filter(|e| e.name == "testcase")
        .filter(|e| attr(e, "classname").starts_with(HOSTILE))
        .count();
    assert_eq!(hostile, report.targets[5].checks.len());
    assert!(!CONTROL.is_empty());
    for e in elements.iter().filter(|e| e.name == "testcase") {
        assert_eq!(e.depth, 2, "testcases sit in a testsuite");
    }
}
