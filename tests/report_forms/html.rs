//! The HTML form, parsed with html5ever (`scraper`): no parse error, nothing loaded from
//! anywhere, a policy that allows exactly the inline style and script, hostile text as
//! text, and the table, chart and details the report says.

use ocp_bootimage::report::html;
use scraper::{ElementRef, Html, Selector};
use sha2::{Digest as _, Sha256};

use super::fleet::{fleet, keep, HOSTILE};

pub fn sel(s: &str) -> Selector {
    Selector::parse(s).expect("a selector")
}

pub fn text(e: ElementRef<'_>) -> String {
    e.text().collect()
}

fn hash_source(s: &str) -> String {
    use base64::Engine as _;
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s.as_bytes()))
    )
}

#[test]
fn the_page_parses_without_error_and_loads_nothing() {
    let page = html::render(&fleet());
    keep("fleet-report.html", &page);
    let doc = Html::parse_document(&page);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    // Exactly two scripts: the data (not executed) and the page's own.
    let scripts: Vec<ElementRef<'_>> = doc.select(&sel("script")).collect();
    assert_eq!(scripts.len(), 2);
    assert_eq!(scripts[0].value().attr("type"), Some("application/json"));
    assert_eq!(scripts[1].value().attr("type"), None);
    assert!(scripts.iter().all(|s| s.value().attr("src").is_none()));
    // No element loads anything: no src, no link, no href but to the page itself.
    for e in doc
        .root_element()
        .descendants()
        .filter_map(ElementRef::wrap)
    {
        let v = e.value();
        assert!(v.attr("src").is_none(), "{}", v.name());
        assert!(
            v.attr("style").is_none(),
            "an inline style attribute would be blocked"
        );
        if let Some(href) = v.attr("href") {
            assert!(href.starts_with('#'), "{href}");
        }
        assert!(
            !matches!(
                v.name(),
                "link" | "img" | "iframe" | "object" | "embed" | "base"
            ),
            "{}",
            v.name()
        );
    }
    let style = text(doc.select(&sel("style")).next().expect("a style"));
    assert!(!style.contains("url("), "the style loads nothing");
    let script = text(scripts[1]);
    for word in [
        "fetch(",
        "XMLHttpRequest",
        "innerHTML",
        "eval(",
        "import(",
        "WebSocket",
    ] {
        assert!(!script.contains(word), "{word}");
    }
    // The policy names the hashes of exactly that style and that script.
    let csp = doc
        .select(&sel("meta[http-equiv=\"Content-Security-Policy\"]"))
        .next()
        .expect("a policy")
        .value()
        .attr("content")
        .expect("content")
        .to_string();
    assert!(csp.starts_with("default-src 'none';"), "{csp}");
    assert!(
        csp.contains(&format!("script-src {};", hash_source(&script))),
        "{csp}"
    );
    assert!(
        csp.contains(&format!("style-src {};", hash_source(&style))),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
}

#[test]
fn hostile_names_and_reasons_are_text() {
    let report = fleet();
    let page = html::render(&report);
    let doc = Html::parse_document(&page);
    let names: Vec<String> = doc.select(&sel("#clusters tbody th")).map(text).collect();
    assert_eq!(names.len(), report.targets.len());
    assert_eq!(names[5], HOSTILE);
    assert_eq!(names[7], "finance\u{fffd}\u{fffd}-ctl\u{fffd}");
    // In the chart and the details too, as text.
    let bars: Vec<String> = doc
        .select(&sel("#age-chart g.bar"))
        .filter_map(|g| g.value().attr("data-cluster").map(String::from))
        .collect();
    assert!(bars.contains(&HOSTILE.to_string()), "{bars:?}");
    let summaries: Vec<String> = doc.select(&sel("details > summary")).map(text).collect();
    assert!(summaries[5].starts_with(HOSTILE), "{}", summaries[5]);
    let outcome = text(doc.select(&sel("#c-7 .outcome")).next().expect("the error"));
    assert!(
        outcome.contains("<b>\u{fffd}\n</b> & more (403)"),
        "{outcome:?}"
    );
    // The data for the script is JSON with the names as they are.
    let json = text(doc.select(&sel("#fleet-data")).next().expect("data"));
    let data: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(data["clusters"][5]["name"], HOSTILE);
    assert!(!json.contains("</"), "the data cannot close its element");
}

#[test]
fn the_table_chart_and_details_say_what_the_report_says() {
    let report = fleet();
    let page = html::render(&report);
    let doc = Html::parse_document(&page);
    let verdict = doc
        .select(&sel("#fleet-verdict"))
        .next()
        .expect("the verdict");
    assert_eq!(verdict.value().attr("data-verdict"), Some("incomplete"));
    assert!(text(verdict).contains("incomplete"));
    let count = |k: &str| {
        text(
            doc.select(&sel(&format!("#counts li[data-count=\"{k}\"] .n")))
                .next()
                .expect(k),
        )
    };
    assert_eq!(count("clusters"), "10");
    assert_eq!(count("not_compliant"), "4");
    assert_eq!(count("not_audited"), "4");
    let heads: Vec<String> = doc.select(&sel("#clusters thead th")).map(text).collect();
    assert_eq!(
        heads,
        [
            "Cluster",
            "Status",
            "Version",
            "Platform",
            "MachineSets",
            "Stubs",
            "Certificate",
            "Skew",
            "Oldest boot image",
            "Age (days)"
        ]
    );
    let rows: Vec<ElementRef<'_>> = doc.select(&sel("#clusters tbody tr")).collect();
    let cells = |i: usize| -> Vec<(String, String)> {
        rows[i]
            .select(&sel("td"))
            .map(|c| (c.value().attr("class").unwrap_or("").to_string(), text(c)))
            .collect()
    };
    // The shipped dump: not compliant, red, with its four outdated MachineSets.
    let dump = cells(0);
    assert_eq!(dump[0], ("r-fail".into(), "not compliant".into()));
    assert_eq!(
        dump[1].1,
        report.targets[0].version.clone().expect("a version")
    );
    assert_eq!(dump[3], ("r-fail".into(), "0 pass · 4 fail".into()));
    assert_eq!(dump[4].0, "r-fail", "the 2.2.0 worker stub");
    assert_eq!(dump[6].1, "not checked", "no skew record before 4.20");
    let age = report.targets[0].boot_image_age.as_ref().expect("an age");
    assert_eq!(dump[8].1, age.age_days.to_string());
    // The compliant selection is green, the Windows-only one amber, an unreachable grey.
    assert_eq!(cells(3)[0], ("r-pass".into(), "compliant".into()));
    assert_eq!(cells(3)[3], ("r-pass".into(), "1 pass · 0 fail".into()));
    assert_eq!(cells(4)[0], ("r-unknown".into(), "unknown".into()));
    assert_eq!(cells(6)[0], ("r-na".into(), "unreachable".into()));
    assert_eq!(cells(6)[3], ("r-na".into(), "not audited".into()));
    assert_eq!(cells(8)[0], ("r-na".into(), "timed out".into()));
    // 4.22's skew record fails.
    assert_eq!(cells(1)[6].0, "r-fail");

    // The chart: one bar per cluster with a known age, oldest first, with its version.
    let bars: Vec<ElementRef<'_>> = doc.select(&sel("#age-chart g.bar")).collect();
    let with_age = report
        .targets
        .iter()
        .filter(|t| t.boot_image_age.is_some())
        .count();
    assert_eq!(bars.len(), with_age);
    let ages: Vec<i64> = bars
        .iter()
        .map(|b| {
            b.value()
                .attr("data-age")
                .expect("age")
                .parse()
                .expect("a number")
        })
        .collect();
    assert!(ages.windows(2).all(|w| w[0] >= w[1]), "{ages:?}");
    let first = text(bars[0]);
    assert!(first.contains(" days old"), "{first}");
    let label = text(bars[0].select(&sel("text")).next().expect("a label"));
    assert!(label.contains('(') && label.contains("4."), "{label}");

    // Details: open where something is wrong, with the failing checks' reasons.
    let details: Vec<ElementRef<'_>> = doc.select(&sel("details")).collect();
    assert_eq!(details.len(), report.targets.len());
    assert!(details[0].value().attr("open").is_some());
    assert!(
        details[3].value().attr("open").is_none(),
        "compliant: closed"
    );
    let reasons: Vec<String> = details[0]
        .select(&sel("table.failing tbody tr"))
        .map(text)
        .collect();
    assert_eq!(reasons.len(), report.targets[0].failing().count());
    let outdated = report.targets[0]
        .failing()
        .next()
        .and_then(|c| c.message.clone())
        .expect("a reason");
    assert!(reasons[0].contains(&outdated), "{reasons:?}");
}
