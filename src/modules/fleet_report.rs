//! `fleet_report`: the fleet report of a playbook run over an inventory of clusters —
//! each host's registered `bootimage_info` result in, the report's forms (JSON, YAML,
//! table, JUnit, HTML, Prometheus) and one JSON file per cluster out. Talks to no
//! cluster: it runs on the controller, once per play. Each cluster's entry is built as
//! the CLI builds it ([`TargetReport::of_result`]), so both report the same fleet the
//! same way; the report's forms are [`crate::report`]'s.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ansible::{Module, ModuleContext, ModuleError, ModuleOutcome};
use crate::fleet::{FleetReport, FleetSummary, FleetVerdict, Outcome, TargetReport, TargetSource};
use crate::plan::Verdict;
use crate::report::{write_whole, Form};

/// Options of `fleet_report`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Params {
    /// Inventory host (one per cluster) → the registered result of its `bootimage_info`
    /// task, as `dict(ansible_play_hosts_all | zip(ansible_play_hosts_all |
    /// map('extract', hostvars) | map(attribute='audit', default=none)))` gives it. A
    /// result with a verdict is an audited cluster (also one whose task failed with
    /// `fail_on_noncompliant`); a failed one (kept with `failed_when: false`) is a cluster
    /// that could not be audited, sorted by its `msg` (unreachable, forbidden, timed out,
    /// failed); a null or skipped one is a cluster whose audit did not run, saying so.
    /// Hidden from the task's `invocation` (the results are large, and the fleet report
    /// is what this module is for); a result's own `invocation` is never copied.
    #[schemars(extend("x-no-log" = true))]
    pub audits: Map<String, Value>,
    /// The directory the report is written to (created if missing): one file per form
    /// (`fleet-report.json`, `.yaml`, `.txt`, `.junit.xml`, `.html`, `.prom`) and
    /// `clusters/<host>.json`, each cluster's `bootimage_info` return values (without
    /// `invocation` and Ansible's own keys; the host name made file-safe: characters
    /// other than letters, digits, `.`, `_` and `-` become `_`). A leading `~/` is the
    /// controller user's home.
    #[schemars(extend("x-ansible-type" = "path"))]
    pub report_dir: PathBuf,
    /// The forms of the fleet report to write (default: all).
    #[serde(default = "all_forms")]
    pub forms: Vec<Form>,
    /// An `unknown` fleet verdict counts as passing: `exit_code` 0 (and, with
    /// `fail_on_noncompliant`, the task does not fail).
    #[serde(default)]
    pub allow_unknown: bool,
    /// Fail the task unless `exit_code` is 0 (every cluster audited and compliant; with
    /// `allow_unknown`, also unknown). The report is written first either way. The
    /// shipped playbook fails each cluster's host instead, so the job's per-host status
    /// says which.
    #[serde(default)]
    pub fail_on_noncompliant: bool,
}

fn all_forms() -> Vec<Form> {
    Form::ALL.to_vec()
}

/// Return values of `fleet_report`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Output {
    /// The fleet's verdict: `compliant`, `not_compliant`, `unknown` or `incomplete` (some
    /// clusters could not be audited).
    pub verdict: FleetVerdict,
    /// The counts over the fleet (as `summary` of `fleet-report.json`).
    pub summary: FleetSummary,
    /// What `ocp-bootimage audit` exits with for this fleet: 0 compliant (or unknown with
    /// `allow_unknown`), 1 some not compliant or unknown, 2 some not audited.
    pub exit_code: u8,
    /// The report's time (`generated_at` of `fleet-report.json`).
    pub generated_at: String,
    /// The report directory, as written to.
    pub report_dir: String,
    /// Every file of the report: the forms, then `clusters/*.json`.
    pub paths: Vec<String>,
    /// The files whose content differs from what was there, written (in check mode:
    /// that would be written).
    pub written: Vec<String>,
    /// The hosts whose cluster is not compliant.
    pub not_compliant: Vec<String>,
    /// The hosts whose cluster's verdict is unknown.
    pub unknown: Vec<String>,
    /// The hosts whose cluster could not be audited.
    pub not_audited: Vec<String>,
}

/// The module.
pub struct FleetReportModule;

impl Module for FleetReportModule {
    const NAME: &'static str = "fleet_report";
    const SHORT_DESCRIPTION: &'static str =
        "Write the fleet report of many clusters' bootimage_info results (JSON, JUnit, HTML, Prometheus)";
    const DESCRIPTION: &'static str = r#"
Builds the fleet report of a play over an inventory where each host is a cluster: each
host's registered `bootimage_info` result becomes that cluster's entry — its outcome
(`audited`, `unreachable`, `forbidden`, `timed_out`, `failed`), its verdict and its checks
(one per MachineSet, stub, certificate and skew record) — exactly as `ocp-bootimage audit`
builds it for a fleet on the command line, and the fleet's verdict follows the worst
cluster. Writes the report's forms into `report_dir` (the same files as `ocp-bootimage
audit --report-dir`) and each cluster's result as `clusters/<host>.json`.

Runs on the controller and talks to no cluster: run it once per play (`run_once: true`,
`delegate_to: localhost`) after every host's audit; it takes no connection options.

A file is rewritten only when its content differs from what is there, and `changed` says
whether any did. The report's time (`generated_at`) does not count: when the fleet report
is the same as the one in `fleet-report.json` apart from its time (same clusters, same
results, same day, so the same boot image ages), that file's time is kept and a rerun
changes nothing. Check mode writes nothing and lists in `written` what would be written.
"#;
    const EXAMPLES: &'static str = r#"
# Each inventory host is a cluster; every host's audit is kept, failed or not.
- name: Audit the boot images
  ocp.bootimage.bootimage_info:
  delegate_to: localhost
  failed_when: false
  register: audit

- name: Write the fleet report
  ocp.bootimage.fleet_report:
    audits: "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars) | map(attribute='audit', default=none))) }}"
    report_dir: /srv/reports/bootimage
    forms: [json, junit, html]
  run_once: true
  delegate_to: localhost
  register: fleet
"#;
    type Params = Params;
    type Output = Output;

    async fn run(
        params: Params,
        ctx: &ModuleContext,
    ) -> Result<ModuleOutcome<Output>, ModuleError> {
        if params.audits.is_empty() {
            return Err(anyhow::anyhow!("audits is empty: no cluster to report on").into());
        }
        let dir = expand_home(&params.report_dir);
        let fleet = fleet_of(&params, &dir);
        let forms: Vec<Form> = params.forms.iter().copied().fold(Vec::new(), |mut v, f| {
            if !v.contains(&f) {
                v.push(f);
            }
            v
        });
        let files = report_files(&dir, &fleet, &forms, &params.audits);
        if !ctx.meta.check_mode {
            for f in files.iter().filter(|f| f.differs) {
                write_whole(&f.path, &f.text)?;
            }
        }
        let show = |p: &Path| p.display().to_string();
        let written: Vec<String> = files
            .iter()
            .filter(|f| f.differs)
            .map(|f| show(&f.path))
            .collect();
        let hosts = |pick: &dyn Fn(&TargetReport) -> bool| -> Vec<String> {
            fleet
                .targets
                .iter()
                .filter(|t| pick(t))
                .map(|t| t.name.clone())
                .collect()
        };
        let not_audited = hosts(&|t| t.outcome != Outcome::Audited);
        let not_compliant = hosts(&|t| t.verdict == Some(Verdict::NotCompliant));
        let unknown = hosts(&|t| t.verdict == Some(Verdict::Unknown));
        let exit_code = fleet.verdict.exit_code(params.allow_unknown);
        let msg = message(&fleet, &not_audited, &written, files.len(), &dir, ctx);
        Ok(ModuleOutcome {
            changed: !written.is_empty(),
            failed: params.fail_on_noncompliant && exit_code != 0,
            msg,
            warnings: Vec::new(),
            diff: Vec::new(),
            output: Output {
                verdict: fleet.verdict,
                summary: fleet.summary.clone(),
                exit_code,
                generated_at: fleet.generated_at.clone(),
                report_dir: show(&dir),
                paths: files.iter().map(|f| show(&f.path)).collect(),
                written,
                not_compliant,
                unknown,
                not_audited,
            },
        })
    }
}

/// The fleet report of the hosts' results.
fn fleet_of(params: &Params, dir: &Path) -> FleetReport {
    let now = time::OffsetDateTime::now_utc();
    let targets = params
        .audits
        .iter()
        .map(|(host, result)| {
            let source = TargetSource {
                kind: "inventory_host".into(),
                reference: host.clone(),
            };
            // A playbook's result carries no duration.
            TargetReport::of_result(host.clone(), source, result, 0, now.date())
        })
        .collect();
    let mut fleet = FleetReport::new(crate::fleet::timestamp(now), targets);
    if params.forms.contains(&Form::Json) {
        keep_earlier_time(&mut fleet, &dir.join(Form::Json.file_name()));
    }
    fleet
}

/// One file of the report.
struct ReportFile {
    path: PathBuf,
    text: String,
    /// Whether its content differs from the file's (or there is no file).
    differs: bool,
}

/// Every file of the report: the forms, then the clusters' results.
fn report_files(
    dir: &Path,
    fleet: &FleetReport,
    forms: &[Form],
    audits: &Map<String, Value>,
) -> Vec<ReportFile> {
    let forms = forms
        .iter()
        .map(|&f| (dir.join(f.file_name()), crate::report::render(f, fleet)));
    forms
        .chain(cluster_files(dir, audits))
        .map(|(path, text)| ReportFile {
            differs: std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()),
            path,
            text,
        })
        .collect()
}

/// The one-line summary.
fn message(
    fleet: &FleetReport,
    not_audited: &[String],
    written: &[String],
    files: usize,
    dir: &Path,
    ctx: &ModuleContext,
) -> String {
    let s = &fleet.summary;
    let missing = if not_audited.is_empty() {
        String::new()
    } else {
        format!(" ({})", not_audited.join(", "))
    };
    let files = match (written.len(), ctx.meta.check_mode) {
        (0, _) => format!("the {files} file(s) in {} are up to date", dir.display()),
        (n, true) => format!("would write {n} of {files} file(s) in {}", dir.display()),
        (n, false) => format!("wrote {n} of {files} file(s) in {}", dir.display()),
    };
    format!(
        "fleet {}: {} cluster(s), {} compliant, {} not compliant, {} unknown, {} not audited{missing}; {files}",
        fleet.verdict.as_str(),
        s.clusters,
        s.compliant,
        s.not_compliant,
        s.unknown,
        s.not_audited,
    )
}

/// Keeps the time of the report at `path` when `fleet` is that report apart from its
/// time, so that an unchanged fleet rewrites no file.
fn keep_earlier_time(fleet: &mut FleetReport, path: &Path) {
    let Some(old) = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<FleetReport>(&t).ok())
    else {
        return;
    };
    let same = FleetReport {
        generated_at: old.generated_at.clone(),
        ..fleet.clone()
    };
    if same == old {
        fleet.generated_at = old.generated_at;
    }
}

/// `clusters/<host>.json` of every host with a result: its return values without
/// `invocation` and Ansible's keys.
fn cluster_files(dir: &Path, audits: &Map<String, Value>) -> Vec<(PathBuf, String)> {
    let mut taken = BTreeSet::new();
    audits
        .iter()
        .filter_map(|(host, result)| {
            let result = result.as_object()?;
            let kept: Map<String, Value> = result
                .iter()
                .filter(|(k, _)| {
                    k.as_str() != "invocation"
                        && k.as_str() != "failed_when_result"
                        && !k.starts_with("_ansible")
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let mut text = serde_json::to_string_pretty(&Value::Object(kept)).ok()?;
            text.push('\n');
            let stem = unique(file_stem(host), &mut taken);
            Some((dir.join("clusters").join(format!("{stem}.json")), text))
        })
        .collect()
}

/// `name` as a file name: letters, digits, `.`, `_` and `-` kept, anything else `_`; never
/// hidden, never empty.
pub fn file_stem(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '_',
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        s.insert(0, '_');
    }
    s
}

/// `stem`, or `stem-2`, `stem-3`, … when two hosts' names give the same file.
fn unique(stem: String, taken: &mut BTreeSet<String>) -> String {
    let mut candidate = stem.clone();
    let mut n = 2;
    while !taken.insert(candidate.to_ascii_lowercase()) {
        candidate = format!("{stem}-{n}");
        n += 1;
    }
    candidate
}

/// A leading `~/` as the home directory.
fn expand_home(p: &Path) -> PathBuf {
    match (p.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => p.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_become_distinct_file_safe_stems() {
        let mut taken = BTreeSet::new();
        let got: Vec<String> = ["prod/east", "prod_east", ".hidden", "", "api.c1:6443"]
            .iter()
            .map(|n| unique(file_stem(n), &mut taken))
            .collect();
        assert_eq!(
            got,
            vec!["prod_east", "prod_east-2", "_.hidden", "_", "api.c1_6443"]
        );
    }
}
