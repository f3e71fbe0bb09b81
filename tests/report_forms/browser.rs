//! The HTML page in a real headless browser (Debian's `chromium`; skipped visibly
//! without it): its script runs under the page's own policy, sorts the rows by the
//! column the address names (numeric-aware, unknown values last), filters them by text
//! and by status, logs nothing to the console, and the page requests nothing over the
//! network (Chromium's NetLog lists every request; the page's would carry the page's
//! origin as initiator, Chromium's own say "not an origin"; the control page shows the
//! check sees one). The DOM is read back after the load event (`--dump-dom`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ocp_bootimage::report::html;
use scraper::{ElementRef, Html};

use super::fleet::{fleet, runs};
use super::html::{sel, text};

/// The browser, if one is installed (`OCP_BOOTIMAGE_CHROMIUM` names another).
fn chromium() -> Option<String> {
    let named = std::env::var("OCP_BOOTIMAGE_CHROMIUM").ok();
    named
        .into_iter()
        .chain(["chromium", "chromium-browser", "google-chrome"].map(String::from))
        .find(|b| runs(b, &["--version"]))
}

/// What the browser made of a page.
struct Loaded {
    dom: String,
    /// Console messages (Chromium logs each as an `INFO:CONSOLE` line on stderr).
    console: Vec<String>,
    /// URLs requested on the page's behalf.
    page_requests: Vec<String>,
}

fn load(browser: &str, page: &Path, suffix: &str) -> Loaded {
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let netlog = scratch.path().join("netlog.json");
    let url = format!("file://{}{suffix}", page.display());
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            // Chromium's own background requests fail at once instead of leaving.
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ])
        .arg(format!(
            "--user-data-dir={}",
            scratch.path().join("profile").display()
        ))
        .arg(format!("--log-net-log={}", netlog.display()))
        .arg("--dump-dom")
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the browser starts");
    let started = Instant::now();
    while child.try_wait().expect("waits").is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("{browser} did not finish loading {url} in 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("the browser's output");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{browser} failed on {url}: {stderr}");
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(String::from)
        .collect();
    Loaded {
        dom: String::from_utf8_lossy(&out.stdout).to_string(),
        console,
        page_requests: page_requests(&netlog),
    }
}

/// The URLs of the NetLog's requests that a page initiated.
fn page_requests(netlog: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(netlog).expect("a NetLog");
    let log: serde_json::Value = serde_json::from_str(&text).expect("the NetLog is JSON");
    log["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| {
            let p = &e["params"];
            let url = p["url"].as_str()?;
            let initiator = p["initiator"].as_str()?;
            (initiator != "not an origin").then(|| url.to_string())
        })
        .collect()
}

/// The visible rows' cluster indexes (`data-i`), in the order shown.
fn visible_rows(doc: &Html) -> Vec<usize> {
    doc.select(&sel("#clusters tbody tr"))
        .filter(|r| r.value().attr("hidden").is_none())
        .map(|r| {
            r.value()
                .attr("data-i")
                .expect("data-i")
                .parse()
                .expect("a number")
        })
        .collect()
}

fn root_attr(doc: &Html, name: &str) -> Option<String> {
    doc.root_element().value().attr(name).map(String::from)
}

fn aria_sort(doc: &Html, key: &str) -> String {
    let th: ElementRef<'_> = doc
        .select(&sel(&format!("#clusters th[data-key=\"{key}\"]")))
        .next()
        .expect("the heading");
    th.value().attr("aria-sort").unwrap_or("").to_string()
}

fn write_page(dir: &Path) -> (PathBuf, ocp_bootimage::fleet::FleetReport) {
    let report = fleet();
    let page = dir.join("fleet-report.html");
    std::fs::write(&page, html::render(&report)).expect("written");
    (page, report)
}

#[test]
fn the_page_sorts_and_filters_in_a_real_browser_and_requests_nothing() {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIP the_page_sorts_and_filters_in_a_real_browser_and_requests_nothing: no \
             chromium (Debian package chromium); the page was checked with an HTML parser only"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (page, report) = write_page(dir.path());
    let n = report.targets.len();
    let check = |suffix: &str| -> Html {
        let loaded = load(&browser, &page, suffix);
        assert!(
            loaded.console.is_empty(),
            "{suffix}: console: {:?}",
            loaded.console
        );
        assert!(
            loaded.page_requests.is_empty(),
            "{suffix}: {:?}",
            loaded.page_requests
        );
        let doc = Html::parse_document(&loaded.dom);
        assert_eq!(
            root_attr(&doc, "data-ready").as_deref(),
            Some("true"),
            "{suffix}: the script ran"
        );
        assert_eq!(
            root_attr(&doc, "data-js-errors"),
            None,
            "{suffix}: {}",
            loaded.dom
        );
        doc
    };

    // As written: the report's order, all shown.
    let doc = check("");
    assert_eq!(visible_rows(&doc), (0..n).collect::<Vec<_>>());
    assert_eq!(root_attr(&doc, "data-shown"), Some(n.to_string()));
    let shown = text(doc.select(&sel("#shown")).next().expect("the count"));
    assert_eq!(shown, format!("{n} of {n} cluster(s) shown"));

    // Sorted by age, oldest first; clusters without an age last, in the report's order.
    let doc = check("#sort=age&dir=desc");
    let mut want: Vec<usize> = (0..n).collect();
    let age = |i: usize| {
        report.targets[i]
            .boot_image_age
            .as_ref()
            .map(|a| a.age_days)
    };
    want.sort_by_key(|&i| (age(i).is_none(), std::cmp::Reverse(age(i)), i));
    assert_eq!(visible_rows(&doc), want);
    assert_ne!(
        want,
        (0..n).collect::<Vec<_>>(),
        "the sort changed the order"
    );
    assert_eq!(aria_sort(&doc, "age"), "descending");
    assert_eq!(aria_sort(&doc, "name"), "none");

    // By name, numeric-aware: edge-9 before edge-17.
    let doc = check("#sort=name");
    let names: Vec<&str> = visible_rows(&doc)
        .into_iter()
        .map(|i| report.targets[i].name.as_str())
        .collect();
    let p9 = names.iter().position(|n| *n == "edge-9").expect("edge-9");
    let p17 = names.iter().position(|n| *n == "edge-17").expect("edge-17");
    assert!(p9 < p17, "{names:?}");
    assert_eq!(aria_sort(&doc, "name"), "ascending");

    // A text filter hides the rest.
    let doc = check("#filter=ocp-4.22");
    assert_eq!(visible_rows(&doc), vec![1, 3, 4]);
    assert_eq!(root_attr(&doc, "data-shown").as_deref(), Some("3"));

    // The status filter, from the query string too.
    let doc = check("?status=not_audited");
    let not_audited: Vec<usize> = (0..n)
        .filter(|&i| report.targets[i].outcome.as_str() != "audited")
        .collect();
    assert_eq!(visible_rows(&doc), not_audited);
    let doc = check("?filter=EDGE#status=not_audited&sort=name&dir=desc");
    let edges: Vec<&str> = visible_rows(&doc)
        .into_iter()
        .map(|i| report.targets[i].name.as_str())
        .collect();
    assert_eq!(edges, ["edge-17", "edge-9"]);
    // Nothing matches: the note says so.
    let doc = check("#filter=no-such-cluster");
    assert!(visible_rows(&doc).is_empty());
    let none = doc.select(&sel("#none-shown")).next().expect("the note");
    assert!(none.value().attr("hidden").is_none());
}

#[test]
fn the_request_and_console_checks_see_a_page_that_loads_something() {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIP the_request_and_console_checks_see_a_page_that_loads_something: no chromium"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let page = dir.path().join("control.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><img src=\"http://example.invalid/x.png\" alt=\"\">\
         <script>console.log('control');</script></body></html>",
    )
    .expect("written");
    let loaded = load(&browser, &page, "");
    assert_eq!(loaded.page_requests, ["http://example.invalid/x.png"]);
    assert_eq!(loaded.console.len(), 1, "{:?}", loaded.console);
}
