//! Any text a cluster can carry (names, namespaces, reasons, errors, sources, the
//! report's time: arbitrary Unicode, control characters and markup included) renders
//! without a panic into forms that still parse: JUnit as XML of XML 1.0 characters only,
//! the HTML page without an HTML parse error and with only its own two scripts, the
//! Prometheus text one sample a line.

use ocp_bootimage::fleet::{AuditView, FleetReport, Outcome, TargetReport, TargetSource};
use ocp_bootimage::report::{html, junit, prometheus};
use proptest::prelude::*;
use scraper::Html;
use serde_json::json;
use time::{Date, Month};

use super::html::{sel, text};
use super::junit::read_back;

fn fleet_of(name: &str, other: &str, when: &str) -> FleetReport {
    let audit: AuditView = serde_json::from_value(json!({
        "gathered": ["stubs"],
        "cluster": {"version": other, "platform": other, "infrastructure_name": other},
        "machinesets": [
            {"name": other, "namespace": other, "status": "outdated",
             "current_build": "412.86.202306132230-0", "target_build": other, "reason": other},
            {"name": name, "namespace": "", "status": "unknown", "reason": other}
        ],
        "user_data_secrets": [
            {"name": other, "present": true, "referenced_by": [other],
             "ignition_version": other, "migration_required": true}
        ],
        "verdict": "not_compliant",
        "noncompliant_reasons": [other],
        "unknown_reasons": [name]
    }))
    .expect("an audit");
    let source = TargetSource {
        kind: other.to_string(),
        reference: name.to_string(),
    };
    let today = Date::from_calendar_date(2026, Month::December, 5).expect("a date");
    let targets = vec![
        TargetReport::audited(name.to_string(), source.clone(), &audit, 7, today),
        TargetReport::not_audited(
            format!("{name}-x"),
            source,
            Outcome::of_failure(other),
            other.to_string(),
            u64::MAX,
        ),
    ];
    FleetReport::new(when.to_string(), targets)
}

fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

fn texts() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            any::<char>(),
            prop::sample::select(vec![
                '<', '>', '&', '"', '\'', '\\', '\n', '\r', '\u{0}', '\u{85}', '\u{ffff}', '}',
                '=', ','
            ]),
        ],
        0..24,
    )
    .prop_map(String::from_iter)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_text_renders_into_forms_that_parse(name in texts(), other in texts(), when in texts()) {
        let report = fleet_of(&name, &other, &when);

        let xml = junit::render(&report);
        prop_assert!(xml.chars().all(xml_char), "a character XML 1.0 cannot carry");
        let elements = read_back(&xml);
        let suites: Vec<_> = elements.iter().filter(|e| e.name == "testsuite").collect();
        prop_assert_eq!(suites.len(), 2);
        let want: String = name
            .chars()
            .map(|c| if xml_char(c) { c } else { '\u{fffd}' })
            .collect();
        prop_assert_eq!(suites[0].attrs.get("name"), Some(&want));

        let page = html::render(&report);
        let doc = Html::parse_document(&page);
        prop_assert!(doc.errors.is_empty(), "{:?}", doc.errors);
        prop_assert_eq!(doc.select(&sel("script")).count(), 2);
        let data = text(doc.select(&sel("#fleet-data")).next().expect("data"));
        let data: serde_json::Value = serde_json::from_str(&data).expect("JSON");
        prop_assert_eq!(data["clusters"][0]["name"].as_str(), Some(name.as_str()));
        prop_assert_eq!(doc.select(&sel("#clusters tbody tr")).count(), 2);

        let metrics = prometheus::render(&report);
        for line in metrics.lines() {
            prop_assert!(line.starts_with("# ") || line.starts_with("ocp_bootimage_"), "{:?}", line);
        }
        let audited = metrics
            .lines()
            .filter(|l| l.starts_with("ocp_bootimage_cluster_audited{"))
            .count();
        prop_assert_eq!(audited, 2);
    }
}
