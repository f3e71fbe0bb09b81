//! The fleet the tests render: real audits (`bootimage_info`, in process) of the shipped
//! dump and the shaped 4.22 / 5.0 dumps (whole, and with a selection that is compliant
//! and one whose verdict is unknown), the shipped dump again under a hostile name, and
//! three clusters whose audit did not run (one with control characters in its name and
//! markup in its error).

use std::path::{Path, PathBuf};

use ocp_bootimage::ansible::entry::block_on;
use ocp_bootimage::ansible::runner::run_module_typed;
use ocp_bootimage::fleet::{AuditView, FleetReport, Outcome, TargetReport, TargetSource};
use ocp_bootimage::modules::bootimage_info::BootimageInfo;
use serde_json::{json, Value};
use time::{Date, Month};

/// The name no report may let run as markup.
pub const HOSTILE: &str = "<script>alert(1)</script>\"&'";
/// A name with characters XML 1.0 and HTML cannot carry.
pub const CONTROL: &str = "finance\u{1}\u{b}-ctl\u{ffff}";
/// When the fleet was audited.
pub const GENERATED_AT: &str = "2026-12-05T04:00:00Z";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn today() -> Date {
    Date::from_calendar_date(2026, Month::December, 5).expect("a date")
}

/// The audit of `dir` with `extra` arguments, as the fleet reads it.
pub fn audit(dir: &Path, extra: Value) -> AuditView {
    let mut args = json!({ "dump_dir": dir });
    if let (Some(a), Value::Object(e)) = (args.as_object_mut(), extra) {
        a.extend(e);
    }
    let env = |_: &str| None;
    let (result, _) = block_on(run_module_typed::<BootimageInfo>(&args, &env)).expect("a runtime");
    let value = result.into_json();
    assert_eq!(value["failed"], false, "{value}");
    serde_json::from_value(value).expect("the fleet reads the audit")
}

fn audited(name: &str, dir: &str, extra: Value, ms: u64) -> TargetReport {
    let dir = root().join(dir);
    TargetReport::audited(
        name.to_string(),
        TargetSource {
            kind: "dump_dir".into(),
            reference: dir.display().to_string(),
        },
        &audit(&dir, extra),
        ms,
        today(),
    )
}

fn not_audited(name: &str, context: &str, error: &str, ms: u64) -> TargetReport {
    TargetReport::not_audited(
        name.to_string(),
        TargetSource {
            kind: "context".into(),
            reference: context.into(),
        },
        Outcome::of_failure(error),
        error.to_string(),
        ms,
    )
}

/// The fleet.
pub fn fleet() -> FleetReport {
    let shaped = "tests/fixtures/shaped/ocp-4.22-aws";
    let targets = vec![
        audited("cluster-dump", "examples/cluster-dump", json!({}), 212),
        audited("ocp-4.22-aws", shaped, json!({}), 1340),
        audited(
            "ocp-5.0-aws",
            "tests/fixtures/shaped/ocp-5.0-aws",
            json!({}),
            987,
        ),
        audited(
            "ocp-4.22-aws-1b",
            shaped,
            json!({"machinesets": ["ocp422-k8d2x-worker-us-east-1b"]}),
            95,
        ),
        audited(
            "ocp-4.22-windows",
            shaped,
            json!({"machinesets": ["ocp422-k8d2x-windows-us-east-1c"]}),
            77,
        ),
        audited(HOSTILE, "examples/cluster-dump", json!({}), 150),
        not_audited(
            "prod-east",
            "prod-east/api-prod-east:6443/admin",
            "error trying to connect: tcp connect error: Connection refused (os error 111)",
            31,
        ),
        not_audited(
            CONTROL,
            "finance",
            "ApiError: forbidden: User \"system:serviceaccount:audit\" cannot list resource \
             \"machinesets\" <b>\u{7}\n</b> & more (403)",
            12,
        ),
        not_audited("edge-17", "edge-17", "audit timed out after 30 s", 30_000),
        not_audited(
            "edge-9",
            "edge-9",
            "dns error: failed to lookup address information: Name or service not known",
            4,
        ),
    ];
    FleetReport::new(GENERATED_AT.into(), targets)
}

/// A scratch directory; with `OCP_BOOTIMAGE_KEEP_REPORTS=DIR` the rendered forms are
/// also written there to look at.
pub fn keep(file: &str, text: &str) {
    if let Some(dir) = std::env::var_os("OCP_BOOTIMAGE_KEEP_REPORTS") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("a directory");
        std::fs::write(dir.join(file), text).expect("written");
    }
}

/// Whether `program` runs (`--version` or the given probe arguments).
pub fn runs(program: &str, probe: &[&str]) -> bool {
    std::process::Command::new(program)
        .args(probe)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
