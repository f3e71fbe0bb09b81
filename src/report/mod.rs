//! The forms of a fleet report ([`crate::fleet::FleetReport`]): JSON and YAML (the
//! report itself), a table for people, JUnit XML for CI, one self-contained HTML page,
//! and the Prometheus text format. Each form is a pure function of the report; the
//! CLI (`audit -o`, `--report-dir`) and the `fleet_report` module write them.

pub mod html;
pub mod junit;
pub mod prometheus;
pub mod status;
pub mod table;

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::ValueEnum;

use crate::atomic_file::write_atomic;
use crate::fleet::FleetReport;

/// A form of the fleet report.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    ValueEnum,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Form {
    /// The fleet report (JSON Schema `fleet-report.json`).
    Json,
    /// The same as YAML.
    Yaml,
    /// For people: one line per cluster, then the checks that did not pass.
    Table,
    /// JUnit XML: a testsuite per cluster, a testcase per check.
    Junit,
    /// One self-contained HTML page: a sortable, filterable table and a chart.
    Html,
    /// Prometheus text exposition format (textfile collector, Pushgateway).
    Prometheus,
}

impl Form {
    /// Every form, in the order `--report-dir` writes them.
    pub const ALL: [Form; 6] = [
        Form::Json,
        Form::Yaml,
        Form::Table,
        Form::Junit,
        Form::Html,
        Form::Prometheus,
    ];

    /// The file `--report-dir` writes this form to.
    pub fn file_name(self) -> &'static str {
        match self {
            Form::Json => "fleet-report.json",
            Form::Yaml => "fleet-report.yaml",
            Form::Table => "fleet-report.txt",
            Form::Junit => "fleet-report.junit.xml",
            Form::Html => "fleet-report.html",
            Form::Prometheus => "fleet-report.prom",
        }
    }
}

/// `report` in `form`.
pub fn render(form: Form, report: &FleetReport) -> String {
    match form {
        Form::Json => {
            let mut s = serde_json::to_string_pretty(report).unwrap_or_default();
            s.push('\n');
            s
        }
        Form::Yaml => serde_yaml::to_string(report).unwrap_or_default(),
        Form::Table => table::render(report),
        Form::Junit => junit::render(report),
        Form::Html => html::render(report),
        Form::Prometheus => prometheus::render(report),
    }
}

/// Writes `report` in each of `forms` to `dir` (created if missing), each file whole or
/// not at all ([`write_whole`]). Returns the paths written.
pub fn write_dir(dir: &Path, report: &FleetReport, forms: &[Form]) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for &form in forms {
        let path = dir.join(form.file_name());
        write_whole(&path, &render(form, report))?;
        written.push(path);
    }
    Ok(written)
}

/// Writes `text` to `path` whole or not at all ([`write_atomic`], mode 0644), its
/// directory created if missing.
pub fn write_whole(path: &Path, text: &str) -> anyhow::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    write_atomic(path, text.as_bytes(), 0o644)
}
