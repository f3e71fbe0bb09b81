//! One cluster of a fleet audit: how its audit ended ([`Outcome`]), its verdict, and
//! its checks (one per MachineSet, stub, certificate and skew record: the rows of the
//! HTML table, the testcases of the JUnit report, the gauges of the Prometheus one),
//! built from an [`AuditView`] or from why the audit could not run. Pure: the day the
//! ages count to is given.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::Date;

use super::view::{AuditView, MachineSetView, StubView};
use crate::plan::machineset::{SkipKind, Status};
use crate::plan::skew::OCP_FLOOR;
use crate::plan::Verdict;
use crate::stream::BuildId;

/// How one cluster's audit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The audit ran: `verdict` says what it found.
    Audited,
    /// The API server could not be reached (connection refused, DNS, TLS).
    Unreachable,
    /// The credentials were refused (401) or lack a permission the audit needs (403).
    Forbidden,
    /// The audit did not finish within the target's timeout.
    TimedOut,
    /// Any other error (a kubeconfig or context that does not exist, a broken dump, …).
    Failed,
}

/// Which kind of failure stopped an audit: what a failed module result says in
/// `failure_kind`, set where the error happened (the kube client knows a 403 from a
/// refused connection), so no report has to guess it from the words of `msg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// No answer from the server: connection refused, DNS, TLS, a reset.
    Unreachable,
    /// The credentials were refused (401) or lack a permission (403).
    Forbidden,
    /// A request or the whole audit ran out of time.
    TimedOut,
}

impl From<FailureKind> for Outcome {
    fn from(kind: FailureKind) -> Outcome {
        match kind {
            FailureKind::Unreachable => Outcome::Unreachable,
            FailureKind::Forbidden => Outcome::Forbidden,
            FailureKind::TimedOut => Outcome::TimedOut,
        }
    }
}

impl Outcome {
    /// The outcome of an audit that failed with `message` and no `failure_kind` (a result
    /// of an older release, or a failure outside the tool, such as a task Ansible could
    /// not start): sorted by the phrases the tool and the kube client write, matched as
    /// whole words so that a port or a name that holds `403` is no status code.
    pub fn of_failure(message: &str) -> Outcome {
        let m = message.to_ascii_lowercase();
        let words: Vec<&str> = m
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let has_word = |w: &str| words.contains(&w);
        let has = |phrases: &[&str]| phrases.iter().any(|p| contains_words(&words, p));
        if has(&["timed out", "deadline has elapsed", "no answer in time"]) || has_word("timeout") {
            Outcome::TimedOut
        } else if has_word("forbidden")
            || has_word("unauthorized")
            || has(&["http 401", "http 403", "401 unauthorized", "403 forbidden"])
        {
            Outcome::Forbidden
        } else if has(&[
            "connection refused",
            "cannot reach the kubernetes api",
            "tcp connect error",
            "error trying to connect",
            "dns error",
            "failed to lookup address",
            "no route to host",
            "network is unreachable",
            "connection reset",
            "unexpected eof",
            "invalid peer certificate",
        ]) {
            Outcome::Unreachable
        } else {
            Outcome::Failed
        }
    }

    /// How the reports name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Audited => "audited",
            Outcome::Unreachable => "unreachable",
            Outcome::Forbidden => "forbidden",
            Outcome::TimedOut => "timed out",
            Outcome::Failed => "failed",
        }
    }
}

/// Whether `phrase`'s words occur in a row in `words`.
fn contains_words(words: &[&str], phrase: &str) -> bool {
    let want: Vec<&str> = phrase.split(' ').collect();
    words.windows(want.len()).any(|w| w == want.as_slice())
}

/// Where a target's cluster was read from (never a credential).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TargetSource {
    /// `context` (of a kubeconfig), `kubeconfig` (its current context), `dump_dir`, or
    /// `inventory_host` (a playbook's host).
    pub kind: String,
    /// The context name, the file or directory path, or the inventory host.
    pub reference: String,
}

/// What a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// The audit's verdict and the reasons no other check carries (no stream, …).
    Cluster,
    /// A MachineSet's boot image.
    Machineset,
    /// A stub Ignition user-data secret.
    UserDataSecret,
    /// The machine-config-server certificate.
    McsCertificate,
    /// The boot image skew enforcement record (OpenShift 4.20+).
    SkewEnforcement,
}

impl CheckKind {
    /// How the reports name it.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Cluster => "cluster",
            CheckKind::Machineset => "machineset",
            CheckKind::UserDataSecret => "user_data_secret",
            CheckKind::McsCertificate => "mcs_certificate",
            CheckKind::SkewEnforcement => "skew_enforcement",
        }
    }
}

/// A check's result.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CheckResult {
    Pass,
    /// Not compliant (`message` says why).
    Fail,
    /// Could not be judged (`message` says why): the cluster's verdict is unknown.
    Unknown,
    /// Not this tool's to judge (owned, Windows): does not count.
    Skipped,
}

impl CheckResult {
    /// How the reports name it.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckResult::Pass => "pass",
            CheckResult::Fail => "fail",
            CheckResult::Unknown => "unknown",
            CheckResult::Skipped => "skipped",
        }
    }
}

/// One check of one cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Check {
    pub kind: CheckKind,
    /// `namespace/name` of a MachineSet, a secret's name, `verdict`, …
    pub name: String,
    pub result: CheckResult,
    /// The audit's own word for it (`current`, `outdated`, `3.2.0`, `Manual`, …).
    pub status: Option<String>,
    /// Why it did not pass (also a note for a passing one, e.g. a certificate's expiry).
    pub message: Option<String>,
    /// A MachineSet's current build (else its image).
    pub current: Option<String>,
    /// A MachineSet's target build (else its image).
    pub target: Option<String>,
    /// Days from the current build's date to the report's day.
    pub age_days: Option<i64>,
    /// OpenShift minors between the current build and MCO's skew floor (4.13): negative
    /// means below it. A RHEL-versioned build (4.19+) names no OpenShift version and
    /// counts as 4.19, so its margin is a lower bound.
    pub skew_margin_minors: Option<i64>,
}

/// The oldest boot image a cluster's MachineSets use, against its version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BootImageAge {
    /// The oldest build in use (Windows MachineSets do not count).
    pub oldest_build: String,
    /// Its build date (`YYYY-MM-DD`).
    pub build_date: String,
    /// Days from the build date to the report's day.
    pub age_days: i64,
    /// Where it is used (`namespace/name` of a MachineSet).
    pub used_by: String,
    /// See [`Check::skew_margin_minors`].
    pub skew_margin_minors: Option<i64>,
}

/// One cluster of the fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TargetReport {
    /// The target's name: a context's, a dump directory's base name, an inventory host,
    /// or the `NAME=` given.
    pub name: String,
    pub source: TargetSource,
    pub outcome: Outcome,
    /// Why the audit did not run (with every outcome but `audited`).
    pub error: Option<String>,
    /// How long its audit took, in milliseconds.
    pub duration_ms: u64,
    /// The cluster's version (ClusterVersion's history), when read.
    pub version: Option<String>,
    /// Its platform (Infrastructure `status.platformStatus.type`).
    pub platform: Option<String>,
    /// Its infrastructure name.
    pub infrastructure_name: Option<String>,
    /// The audit's verdict (null when it did not run).
    pub verdict: Option<Verdict>,
    pub noncompliant_reasons: Vec<String>,
    pub unknown_reasons: Vec<String>,
    /// The oldest boot image in use (null: no build known).
    pub boot_image_age: Option<BootImageAge>,
    pub checks: Vec<Check>,
}

impl TargetReport {
    /// A cluster whose audit did not run.
    pub fn not_audited(
        name: String,
        source: TargetSource,
        outcome: Outcome,
        error: String,
        duration_ms: u64,
    ) -> TargetReport {
        TargetReport {
            name,
            source,
            outcome,
            error: Some(error),
            duration_ms,
            version: None,
            platform: None,
            infrastructure_name: None,
            verdict: None,
            noncompliant_reasons: Vec::new(),
            unknown_reasons: Vec::new(),
            boot_image_age: None,
            checks: Vec::new(),
        }
    }

    /// A cluster from what its `bootimage_info` run returned (its result as JSON: the
    /// return values of a success, or `msg` of a failure): audited when the result
    /// carries a verdict (a task failed by `fail_on_noncompliant` still does), else not
    /// audited, the outcome its `failure_kind` (else sorted from `msg`, [`Outcome::of_failure`]). A null result (a
    /// playbook host whose task never ran) and a skipped task are `failed`, saying so.
    /// The one way both the CLI (which has the typed result) and the `fleet_report`
    /// module (which has each host's registered result) build a cluster's entry.
    pub fn of_result(
        name: String,
        source: TargetSource,
        result: &serde_json::Value,
        duration_ms: u64,
        today: Date,
    ) -> TargetReport {
        let view = AuditView::deserialize(result)
            .ok()
            .filter(|v| v.verdict.is_some());
        if let Some(view) = view {
            return TargetReport::audited(name, source, &view, duration_ms, today);
        }
        let text = |k: &str| {
            result
                .get(k)
                .and_then(serde_json::Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let why = if !result.is_object() {
            "no bootimage_info result (its task did not run for this host)".to_string()
        } else if result.get("skipped").and_then(serde_json::Value::as_bool) == Some(true) {
            format!(
                "the bootimage_info task was skipped{}",
                text("skip_reason").map_or(String::new(), |r| format!(": {r}"))
            )
        } else {
            text("msg")
                .unwrap_or("bootimage_info returned no verdict and no message")
                .to_string()
        };
        let kind = result
            .get("failure_kind")
            .and_then(|k| FailureKind::deserialize(k).ok());
        let outcome = match (kind, result.is_object() && text("msg").is_some()) {
            (Some(kind), _) => kind.into(),
            (None, true) => Outcome::of_failure(&why),
            (None, false) => Outcome::Failed,
        };
        TargetReport::not_audited(name, source, outcome, why, duration_ms)
    }

    /// A cluster whose audit ran; `today` is the day ages count to.
    pub fn audited(
        name: String,
        source: TargetSource,
        audit: &AuditView,
        duration_ms: u64,
        today: Date,
    ) -> TargetReport {
        let mut checks = vec![verdict_check(audit)];
        checks.extend(audit.machinesets.iter().map(|m| machineset_check(m, today)));
        if audit.gathered.iter().any(|p| p == "stubs") {
            checks.extend(audit.user_data_secrets.iter().map(stub_check));
        }
        if audit.gathered.iter().any(|p| p == "certificate") {
            checks.extend(certificate_check(audit));
        }
        checks.extend(skew_check(audit));
        TargetReport {
            name,
            source,
            outcome: Outcome::Audited,
            error: None,
            duration_ms,
            version: audit.cluster.version.clone(),
            platform: audit.cluster.platform.clone(),
            infrastructure_name: audit.cluster.infrastructure_name.clone(),
            verdict: audit.verdict,
            noncompliant_reasons: audit.noncompliant_reasons.clone(),
            unknown_reasons: audit.unknown_reasons.clone(),
            boot_image_age: boot_image_age(&audit.machinesets, today),
            checks,
        }
    }

    /// The checks that did not pass (failed first, then unknown).
    pub fn failing(&self) -> impl Iterator<Item = &Check> {
        let mut v: Vec<&Check> = self
            .checks
            .iter()
            .filter(|c| matches!(c.result, CheckResult::Fail | CheckResult::Unknown))
            .filter(|c| c.kind != CheckKind::Cluster)
            .collect();
        v.sort_by_key(|c| c.result);
        v.into_iter()
    }
}

fn check(kind: CheckKind, name: String, result: CheckResult) -> Check {
    Check {
        kind,
        name,
        result,
        status: None,
        message: None,
        current: None,
        target: None,
        age_days: None,
        skew_margin_minors: None,
    }
}

/// The cluster's verdict as a check, with every reason.
fn verdict_check(audit: &AuditView) -> Check {
    let result = match audit.verdict {
        Some(Verdict::Compliant) => CheckResult::Pass,
        Some(Verdict::NotCompliant) => CheckResult::Fail,
        Some(Verdict::Unknown) | None => CheckResult::Unknown,
    };
    let reasons: Vec<&str> = audit
        .noncompliant_reasons
        .iter()
        .chain(&audit.unknown_reasons)
        .map(String::as_str)
        .collect();
    Check {
        status: audit.verdict.map(|v| v.as_str().to_string()),
        message: (!reasons.is_empty()).then(|| reasons.join("; ")),
        ..check(CheckKind::Cluster, "verdict".into(), result)
    }
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Current => "current",
        Status::Outdated => "outdated",
        Status::NewerThanCluster => "newer_than_cluster",
        Status::Unknown => "unknown",
        Status::Skipped => "skipped",
    }
}

fn machineset_check(m: &MachineSetView, today: Date) -> Check {
    let result = match (m.status, m.skip_kind) {
        (Status::Current, _) => CheckResult::Pass,
        (Status::Outdated | Status::NewerThanCluster, _) => CheckResult::Fail,
        (Status::Unknown, _) | (Status::Skipped, Some(SkipKind::Undetermined)) => {
            CheckResult::Unknown
        }
        (Status::Skipped, _) => CheckResult::Skipped,
    };
    let build = parse(m.current_build.as_deref());
    Check {
        status: Some(status_word(m.status).into()),
        message: m.reason.clone(),
        current: m.current_build.clone().or_else(|| m.current_image.clone()),
        target: m.target_build.clone().or_else(|| m.target_image.clone()),
        age_days: build.as_ref().and_then(|b| age_days(b, today)),
        skew_margin_minors: build.as_ref().map(skew_margin),
        ..check(CheckKind::Machineset, qualified(m), result)
    }
}

fn qualified(m: &MachineSetView) -> String {
    if m.namespace.is_empty() {
        m.name.clone()
    } else {
        format!("{}/{}", m.namespace, m.name)
    }
}

fn stub_check(s: &StubView) -> Check {
    let used = !s.referenced_by.is_empty();
    let (result, message) = if let Some(e) = &s.error {
        (CheckResult::Unknown, Some(e.clone()))
    } else if !s.present {
        let r = if used {
            CheckResult::Unknown
        } else {
            CheckResult::Skipped
        };
        (r, Some("the secret does not exist".to_string()))
    } else if s.migration_required && used {
        (
            CheckResult::Fail,
            Some(format!(
                "spec {} stub: new boot images cannot read it; migrate it to 3.x",
                s.ignition_version.as_deref().unwrap_or("2.x")
            )),
        )
    } else if s.migration_required {
        (
            CheckResult::Pass,
            Some("spec 2.x stub that no selected MachineSet uses".to_string()),
        )
    } else {
        (CheckResult::Pass, None)
    };
    Check {
        status: s.ignition_version.clone(),
        message,
        ..check(CheckKind::UserDataSecret, s.name.clone(), result)
    }
}

fn certificate_check(audit: &AuditView) -> Option<Check> {
    let section = audit.mcs_certificate.as_ref()?;
    let name = "machine-config-server-tls".to_string();
    let c = match &section.certificate {
        Some(c) => {
            let result = if c.regeneration_required {
                CheckResult::Fail
            } else {
                CheckResult::Pass
            };
            let message = if c.reasons.is_empty() {
                c.not_after.as_ref().map(|t| format!("valid until {t}"))
            } else {
                Some(c.reasons.join("; "))
            };
            Check {
                status: c.not_after.clone(),
                message,
                ..check(CheckKind::McsCertificate, name, result)
            }
        }
        None => Check {
            message: section
                .error
                .clone()
                .or_else(|| Some("the certificate's secret was not found".into())),
            ..check(CheckKind::McsCertificate, name, CheckResult::Unknown)
        },
    };
    Some(c)
}

fn skew_check(audit: &AuditView) -> Option<Check> {
    let skew = audit.skew_enforcement.as_ref().filter(|s| s.supported)?;
    let result = if skew.reasons.is_empty() {
        CheckResult::Pass
    } else {
        CheckResult::Fail
    };
    let recorded = skew
        .recorded_ocp_version
        .clone()
        .or_else(|| skew.recorded_rhcos_version.clone());
    Some(Check {
        status: skew.effective_mode.clone(),
        message: if skew.reasons.is_empty() {
            recorded.map(|r| format!("records {r}"))
        } else {
            Some(skew.reasons.join("; "))
        },
        ..check(
            CheckKind::SkewEnforcement,
            "bootImageSkewEnforcement".into(),
            result,
        )
    })
}

fn parse(build: Option<&str>) -> Option<BuildId> {
    build.and_then(|b| BuildId::from_marketplace_version(b).ok())
}

/// Days from a build's date to `today` (None: a date that does not exist).
fn age_days(build: &BuildId, today: Date) -> Option<i64> {
    let t = build.timestamp();
    let month = time::Month::try_from(t.month).ok()?;
    let date = Date::from_calendar_date(i32::from(t.year), month, t.day).ok()?;
    Some((today - date).whole_days())
}

/// The last minor of OpenShift 4 (5.0 follows it).
const LAST_4_MINOR: i64 = 22;

/// See [`Check::skew_margin_minors`]: minors past the floor, 5.y counting as 4.(23+y).
fn skew_margin(build: &BuildId) -> i64 {
    let (major, minor) = build.ocp_version().unwrap_or((4, 19));
    let (floor_major, floor_minor, _) = OCP_FLOOR;
    let minor = i64::from(minor);
    let as_4 = if major > floor_major {
        LAST_4_MINOR + 1 + minor
    } else {
        minor
    };
    as_4 - i64::from(floor_minor)
}

/// The oldest build the MachineSets use (Windows ones do not count).
fn boot_image_age(machinesets: &[MachineSetView], today: Date) -> Option<BootImageAge> {
    let (build, m) = machinesets
        .iter()
        .filter(|m| m.skip_kind != Some(SkipKind::NotRhcos))
        .filter_map(|m| parse(m.current_build.as_deref()).map(|b| (b, m)))
        .min_by(|a, b| a.0.cmp(&b.0))?;
    let t = build.timestamp();
    Some(BootImageAge {
        oldest_build: build.raw().to_string(),
        build_date: format!("{:04}-{:02}-{:02}", t.year, t.month, t.day),
        age_days: age_days(&build, today)?,
        used_by: qualified(m),
        skew_margin_minors: Some(skew_margin(&build)),
    })
}
