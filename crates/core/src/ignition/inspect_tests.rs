//! Tests for [`super::inspect_user_data`] / [`super::parse_ignition`] over
//! every file in `tests/fixtures/ignition/` (`*.ign`, `*.json`) and
//! `tests/fixtures/ignition/secrets/*.yaml`, plus malformed inputs.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::json;

use super::*;
use crate::ignition::{decode_secret_user_data, IgnitionError};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/ignition");

/// Expected inspection of one fixture file.
struct Expect {
    file: &'static str,
    version: &'static str,
    mode: Option<&'static str>,
    ca_count: usize,
    warnings: &'static [&'static str],
}

const NETWORKD_WARNING: &str = "2.x-only key `networkd` present in a 3.x config";

const EXPECTED: &[Expect] = &[
    Expect {
        file: "spec2.0.0-networkd-filesystems-drewfus.json",
        version: "2.0.0",
        mode: None,
        ca_count: 0,
        warnings: &[],
    },
    Expect {
        file: "spec2.1.0-append-bootstrap-ironicbadger.ign",
        version: "2.1.0",
        mode: Some("append"),
        ca_count: 0,
        warnings: &[],
    },
    Expect {
        file: "spec2.2.0-master-pointer-Dawnday101.ign",
        version: "2.2.0",
        mode: Some("append"),
        ca_count: 1,
        warnings: &[],
    },
    Expect {
        file: "spec2.2.0-worker-pointer-Dawnday101.ign",
        version: "2.2.0",
        mode: Some("append"),
        ca_count: 1,
        warnings: &[],
    },
    Expect {
        file: "spec3.1.0-master-pointer-ChrisPhillips.ign",
        version: "3.1.0",
        mode: Some("merge"),
        ca_count: 1,
        warnings: &[],
    },
    Expect {
        file: "spec3.1.0-worker-pointer-ChrisPhillips.ign",
        version: "3.1.0",
        mode: Some("merge"),
        ca_count: 1,
        warnings: &[],
    },
    Expect {
        file: "spec3.1.0-worker-pointer-ibm-power.ign",
        version: "3.1.0",
        mode: Some("merge"),
        ca_count: 1,
        warnings: &[],
    },
    Expect {
        file: "spec3.2.0-append-bootstrap-with-2x-keys-grmhay-okd.ign",
        version: "3.2.0",
        mode: Some("merge"),
        ca_count: 0,
        warnings: &[NETWORKD_WARNING],
    },
    Expect {
        file: "spec3.2.0-worker-pointer-azure-upi.ign",
        version: "3.2.0",
        mode: Some("merge"),
        ca_count: 1,
        warnings: &[],
    },
    Expect {
        file: "secrets/azure-4.x-spec2.2.0-master-user-data-secret.yaml",
        version: "2.2.0",
        mode: Some("append"),
        ca_count: 1,
        warnings: &[],
    },
    Expect {
        file: "secrets/azure-4.x-spec2.2.0-worker-user-data-secret.yaml",
        version: "2.2.0",
        mode: Some("append"),
        ca_count: 1,
        warnings: &[],
    },
    Expect {
        file: "secrets/vsphere-4.9-spec3.2.0-master-user-data-secret.yaml",
        version: "3.2.0",
        mode: Some("merge"),
        ca_count: 1,
        warnings: &[],
    },
    Expect {
        file: "secrets/vsphere-4.9-spec3.2.0-worker-user-data-secret.yaml",
        version: "3.2.0",
        mode: Some("merge"),
        ca_count: 1,
        warnings: &[],
    },
];

/// Fixture files (relative to [`FIXTURES`]) that this test must cover.
fn fixture_files() -> Vec<String> {
    let mut files = Vec::new();
    for (dir, exts) in [("", &["ign", "json"][..]), ("secrets", &["yaml"][..])] {
        let base = Path::new(FIXTURES).join(dir);
        for entry in std::fs::read_dir(&base).unwrap() {
            let path: PathBuf = entry.unwrap().path();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if path.is_file() && exts.contains(&ext) {
                let name = path.file_name().unwrap().to_str().unwrap();
                files.push(if dir.is_empty() {
                    name.to_string()
                } else {
                    format!("{dir}/{name}")
                });
            }
        }
    }
    files.sort();
    files
}

/// The user data of a fixture: the file itself, or a Secret's decoded `userData`.
fn user_data_of(file: &str) -> Vec<u8> {
    let bytes = std::fs::read(Path::new(FIXTURES).join(file)).unwrap();
    if file.ends_with(".yaml") {
        let secret: serde_json::Value = serde_yaml::from_slice(&bytes).unwrap();
        decode_secret_user_data(&secret).unwrap()
    } else {
        bytes
    }
}

#[test]
fn every_fixture_has_an_expectation() {
    let mut expected: Vec<String> = EXPECTED.iter().map(|e| e.file.to_string()).collect();
    expected.sort();
    assert_eq!(
        fixture_files(),
        expected,
        "a fixture was added or removed: update EXPECTED"
    );
}

#[test]
fn every_fixture_is_inspected_as_expected() {
    for e in EXPECTED {
        let data = user_data_of(e.file);
        let r = inspect_user_data(&data);
        let ctx = e.file;
        assert_eq!(r.error, None, "{ctx}");
        assert_eq!(r.ignition_version.as_deref(), Some(e.version), "{ctx}");
        let major: u32 = e.version[..1].parse().unwrap();
        assert_eq!(r.spec_major, Some(major), "{ctx}");
        assert_eq!(r.migration_required, major == 2, "{ctx}");
        assert_eq!(r.merge_or_append.as_deref(), e.mode, "{ctx}");
        assert_eq!(r.ca_count, e.ca_count, "{ctx}");
        assert_eq!(r.warnings, e.warnings, "{ctx}");
        assert_eq!(r.length, data.len(), "{ctx}");
        assert_eq!(r.sha256.len(), 64, "{ctx}");

        let value = parse_ignition(&data).unwrap();
        assert_eq!(value["ignition"]["version"], e.version, "{ctx}");
        // CA count agrees with what the cert module can extract (all inline).
        assert_eq!(
            crate::cert::ca_pems_from_ignition(&value).len(),
            e.ca_count,
            "{ctx}"
        );
    }
}

#[test]
fn sha256_and_length_match_sha256sum() {
    let okd = user_data_of("spec3.2.0-append-bootstrap-with-2x-keys-grmhay-okd.ign");
    let r = inspect_user_data(&okd);
    assert_eq!(
        r.sha256,
        "bedc3503c68df458e9822d57e42f82500b40983ce40515fe378acffb82e28d5b"
    );
    assert_eq!(r.length, 313);

    // Decoded Secret userData (checked with python base64 + hashlib).
    let worker = user_data_of("secrets/azure-4.x-spec2.2.0-worker-user-data-secret.yaml");
    let r = inspect_user_data(&worker);
    assert_eq!(
        r.sha256,
        "738393c8ed8b4ff0aa6b29223d2e27d14f96513484a8bcd619f58c996bc80dc2"
    );
    assert_eq!(r.length, 1825);
}

#[test]
fn malformed_3x_with_networkd_is_accepted_with_warning() {
    let data = user_data_of("spec3.2.0-append-bootstrap-with-2x-keys-grmhay-okd.ign");
    let r = inspect_user_data(&data);
    assert_eq!(r.ignition_version.as_deref(), Some("3.2.0"));
    assert!(!r.migration_required);
    assert_eq!(
        r.warnings,
        vec!["2.x-only key `networkd` present in a 3.x config"]
    );
}

#[test]
fn parse_preserves_key_order() {
    let data = user_data_of("spec2.1.0-append-bootstrap-ironicbadger.ign");
    let value = parse_ignition(&data).unwrap();
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["ignition", "networkd", "passwd", "storage", "systemd"]
    );
}

/// Inspects `input`, asserts an error that does not echo the input, returns it.
fn error_of(input: &[u8]) -> String {
    let r = inspect_user_data(input);
    let error = r
        .error
        .clone()
        .unwrap_or_else(|| panic!("no error for {:?}", String::from_utf8_lossy(input)));
    assert_eq!(r.ignition_version, None);
    assert_eq!(r.spec_major, None);
    assert!(!r.migration_required);
    assert_eq!(r.merge_or_append, None);
    assert_eq!(r.ca_count, 0);
    assert_eq!(r.length, input.len());
    assert_eq!(r.sha256.len(), 64);
    let trimmed = String::from_utf8_lossy(input.trim_ascii()).to_string();
    // Inputs of four characters or fewer (`null`) may coincide with type names.
    if trimmed.len() > 4 {
        assert!(!error.contains(&trimmed), "error echoes input: {error}");
    }
    assert!(parse_ignition(input).is_err());
    error
}

#[test]
fn malformed_inputs_set_error_without_echo() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "empty"),
        (b" \n\t ", "empty"),
        (b"not json at all", "not JSON"),
        (b"#cloud-config\nusers: []\n", "cloud-init"),
        (b"{\"ignition\": {\"version\": \"3.2.0\"", "cut short"),
        (b"[1, 2, 3]", "an array"),
        (b"\"just a string secret-value\"", "a string"),
        (b"null", "JSON null"),
        (b"{}", "no `ignition.version`"),
        (b"{\"ignition\":{}}", "no `ignition.version`"),
        (b"{\"ignition\":5}", "no `ignition.version`"),
        (b"{\"ignitionVersion\":1}", "spec 1"),
        (b"{\"ignition\":{\"version\":3}}", "a number"),
        (b"{\"ignition\":{\"version\":null}}", "is null"),
        (b"{\"ignition\":{\"version\":\"1.0.0\"}}", "\"1.0.0\""),
        (b"{\"ignition\":{\"version\":\"4.0.0\"}}", "not a supported"),
        (b"{\"ignition\":{\"version\":\"3.2\"}}", "not a supported"),
        (
            b"{\"ignition\":{\"version\":\"3.2.0.1\"}}",
            "not a supported",
        ),
        (
            b"{\"ignition\":{\"version\":\"v3.2.0\"}}",
            "not a supported",
        ),
        (b"{\"ignition\":{\"version\":\"3.2.x\"}}", "not a supported"),
        (
            b"{\"ignition\":{\"version\":\"3.2.0-\"}}",
            "not a supported",
        ),
        (b"{\"ignition\":{\"version\":\"\"}}", "0 characters"),
        (
            b"{\"ignition\":{\"version\":\"my-secret-token-abcdef\"}}",
            "22 characters",
        ),
        (b"\x1f\x8b\x08\x00\x00\x00", "gzip"),
        (b"\xff\xfe{\"ignition\"", "not JSON"),
        (
            b"{\"ignition\":{\"version\":\"3.2.0\"}} trailing",
            "not JSON",
        ),
    ];
    for (input, expected) in cases {
        let error = error_of(input);
        assert!(
            error.contains(expected),
            "{:?}: {error:?} lacks {expected:?}",
            String::from_utf8_lossy(input)
        );
    }
    let secret_version = error_of(b"{\"ignition\":{\"version\":\"my-secret-token-abcdef\"}}");
    assert!(!secret_version.contains("my-secret"));
}

#[test]
fn base64_still_encoded_user_data_gets_a_hint() {
    let data = user_data_of("spec3.1.0-worker-pointer-ibm-power.ign");
    let encoded = base64::engine::general_purpose::STANDARD.encode(&data);
    let error = error_of(encoded.as_bytes());
    assert!(error.contains("base64-encoded"), "{error}");
    assert!(!error.contains(&encoded[..16]));
}

#[test]
fn prerelease_versions_are_accepted() {
    let r = inspect_user_data(br#"{"ignition":{"version":"3.5.0-experimental"}}"#);
    assert_eq!(r.error, None);
    assert_eq!(r.ignition_version.as_deref(), Some("3.5.0-experimental"));
    assert_eq!(r.spec_major, Some(3));
    assert_eq!(r.merge_or_append, None);
}

#[test]
fn pointer_mode_and_cross_version_warnings() {
    let replace = json!({"ignition": {"version": "3.1.0", "config": {
        "merge": [{"source": "https://a/config/worker"}],
        "replace": {"source": "https://b/config/worker"}}}});
    let r = inspect_user_data(replace.to_string().as_bytes());
    assert_eq!(r.merge_or_append.as_deref(), Some("replace"));

    // The installer's `replace: {verification: {}}` (no source) does not count.
    let doc_example = json!({"ignition": {"version": "3.1.0", "config": {
        "merge": [{"source": "https://x/config/worker", "verification": {}}],
        "replace": {"verification": {}}}}});
    let r = inspect_user_data(doc_example.to_string().as_bytes());
    assert_eq!(r.merge_or_append.as_deref(), Some("merge"));

    let empty = json!({"ignition": {"version": "3.1.0", "config": {"merge": []}}});
    assert_eq!(
        inspect_user_data(empty.to_string().as_bytes()).merge_or_append,
        None
    );

    let append_in_3 = json!({"ignition": {"version": "3.2.0", "config": {
        "append": [{"source": "https://x/config/worker"}]}}});
    let r = inspect_user_data(append_in_3.to_string().as_bytes());
    assert_eq!(r.merge_or_append.as_deref(), Some("append"));
    assert_eq!(r.warnings.len(), 1);
    assert!(r.warnings[0].contains("`ignition.config.append`"));

    let merge_in_2 = json!({"ignition": {"version": "2.2.0", "config": {
        "merge": [{"source": "https://x/config/worker"}]}}});
    let r = inspect_user_data(merge_in_2.to_string().as_bytes());
    assert!(r.migration_required);
    assert_eq!(r.warnings.len(), 1);
    assert!(r.warnings[0].contains("`ignition.config.merge`"));
}

#[test]
fn ca_count_counts_entries_of_any_kind() {
    let config = json!({"ignition": {"version": "3.2.0", "security": {"tls": {
    "certificateAuthorities": [
        {"source": "https://example.com/ca.pem"},
        {"source": "data:,abc"}
    ]}}}});
    assert_eq!(inspect_user_data(config.to_string().as_bytes()).ca_count, 2);
}

#[test]
fn every_prefix_of_a_fixture_is_handled() {
    let data = user_data_of("spec2.2.0-worker-pointer-Dawnday101.ign");
    for len in 0..data.len() {
        let r = inspect_user_data(&data[..len]);
        assert!(r.error.is_some(), "prefix {len} parsed");
    }
    assert_eq!(inspect_user_data(&data).error, None);
}

#[test]
fn deeply_nested_json_does_not_overflow() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let error = error_of(deep.as_bytes());
    assert!(error.contains("not JSON"), "{error}");
}

#[test]
fn inspection_serializes_and_schema_has_field_descriptions() {
    let r = inspect_user_data(&user_data_of("spec3.1.0-worker-pointer-ibm-power.ign"));
    let json = serde_json::to_value(&r).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "ignition_version",
            "spec_major",
            "migration_required",
            "merge_or_append",
            "ca_count",
            "warnings",
            "error",
            "sha256",
            "length"
        ]
    );
    // No content (sources, CA data) in the output.
    let text = json.to_string();
    assert!(!text.contains("api-int"));
    assert!(!text.contains("LS0t"));

    let schema = serde_json::to_value(schemars::schema_for!(StubInspection)).unwrap();
    let props = schema["properties"].as_object().unwrap();
    assert_eq!(props.len(), 9);
    for (name, prop) in props {
        assert!(
            prop.get("description").and_then(|d| d.as_str()).is_some(),
            "{name} has no description"
        );
    }
}

#[test]
fn ignition_error_messages_are_actionable() {
    assert!(IgnitionError::MissingUserData
        .to_string()
        .contains("userDataSecret"));
}
