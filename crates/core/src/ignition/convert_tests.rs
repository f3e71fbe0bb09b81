//! Tests for [`super::convert_to_v3`]: every real fixture in
//! `tests/fixtures/ignition/` (files and user-data Secrets), checked against
//! the JSON Schemas of Ignition spec 3.0–3.4 (`schema/ignition-v3_N.schema.json`),
//! both as published and in a strict form that also rejects keys the target
//! spec does not have; plus the translation rules, refusals and bad inputs.

use std::path::Path;
use std::str::FromStr;

use serde_json::{json, Map, Value};

use super::*;
use crate::ignition::{decode_secret_user_data, inspect_user_data};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/ignition");

/// The real spec 2.x pointer configs (files and Secrets).
const SPEC2_POINTERS: &[&str] = &[
    "spec2.2.0-master-pointer-Dawnday101.ign",
    "spec2.2.0-worker-pointer-Dawnday101.ign",
    "spec2.1.0-append-bootstrap-ironicbadger.ign",
    "secrets/azure-4.x-spec2.2.0-master-user-data-secret.yaml",
    "secrets/azure-4.x-spec2.2.0-worker-user-data-secret.yaml",
];

/// The real spec 3.x configs and their versions.
const SPEC3: &[(&str, &str)] = &[
    ("spec3.1.0-master-pointer-ChrisPhillips.ign", "3.1.0"),
    ("spec3.1.0-worker-pointer-ChrisPhillips.ign", "3.1.0"),
    ("spec3.1.0-worker-pointer-ibm-power.ign", "3.1.0"),
    (
        "spec3.2.0-append-bootstrap-with-2x-keys-grmhay-okd.ign",
        "3.2.0",
    ),
    ("spec3.2.0-worker-pointer-azure-upi.ign", "3.2.0"),
    (
        "secrets/vsphere-4.9-spec3.2.0-master-user-data-secret.yaml",
        "3.2.0",
    ),
    (
        "secrets/vsphere-4.9-spec3.2.0-worker-user-data-secret.yaml",
        "3.2.0",
    ),
];

const DREWFUS: &str = "spec2.0.0-networkd-filesystems-drewfus.json";

/// The user data of a fixture: the file itself, or a Secret's decoded `userData`.
fn user_data_of(file: &str) -> Vec<u8> {
    let bytes = std::fs::read(Path::new(FIXTURES).join(file)).unwrap();
    if file.ends_with(".yaml") {
        let secret: Value = serde_yaml::from_slice(&bytes).unwrap();
        decode_secret_user_data(&secret).unwrap()
    } else {
        bytes
    }
}

fn json_of(file: &str) -> Value {
    serde_json::from_slice(&user_data_of(file)).unwrap()
}

fn bytes_of(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

/// The published JSON Schema of a target spec.
fn schema(target: TargetVersion) -> Value {
    let minor = &target.as_str()[2..3];
    let path = Path::new(FIXTURES).join(format!("schema/ignition-v3_{minor}.schema.json"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Resolves a local `#/definitions/...` reference.
fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').unwrap();
            resolve(root, root.pointer(pointer).unwrap())
        }
        None => node,
    }
}

/// The property schemas an object schema allows (through `$ref` and `allOf`).
fn properties<'a>(root: &'a Value, node: &'a Value, out: &mut Map<String, Value>) {
    let node = resolve(root, node);
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            out.insert(k.clone(), v.clone());
        }
    }
    if let Some(all) = node.get("allOf").and_then(Value::as_array) {
        for part in all {
            properties(root, part, out);
        }
    }
}

/// Keys of `value` the schema does not know (the published schemas have no
/// `additionalProperties: false`, so Ignition's own "unused key" check is
/// done here).
fn unknown_keys(root: &Value, node: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    let node = resolve(root, node);
    match value {
        Value::Object(obj) => {
            let mut props = Map::new();
            properties(root, node, &mut props);
            for (k, v) in obj {
                match props.get(k) {
                    Some(sub) => unknown_keys(root, sub, v, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k}")),
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = node.get("items") {
                for (i, item) in items.iter().enumerate() {
                    unknown_keys(root, item_schema, item, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

/// Asserts that `config` is a valid spec config of `target`: the published
/// schema, no unknown keys, and the version string.
fn assert_valid(config: &Value, target: TargetVersion, ctx: &str) {
    let schema = schema(target);
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(config)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{ctx} → {target}: {errors:#?}");
    let mut unknown = Vec::new();
    unknown_keys(&schema, &schema, config, "", &mut unknown);
    assert!(
        unknown.is_empty(),
        "{ctx} → {target}: unknown keys {unknown:?}"
    );
    assert_eq!(config["ignition"]["version"], target.as_str(), "{ctx}");
}

/// The parts of a [`Conversion::Converted`]; panics on anything else.
fn converted(
    result: Result<Conversion, ConvertError>,
    ctx: &str,
) -> (Value, Vec<u8>, String, Vec<String>) {
    match result {
        Ok(Conversion::Converted {
            config,
            bytes,
            from_version,
            notes,
        }) => (config, bytes, from_version, notes),
        other => panic!("{ctx}: expected Converted, got {other:?}"),
    }
}

fn convert_value(value: &Value, target: TargetVersion) -> Result<Conversion, ConvertError> {
    convert_to_v3(&bytes_of(value), target)
}

fn convert_ok(value: &Value, target: TargetVersion) -> (Value, Vec<String>) {
    let (config, _, _, notes) = converted(convert_value(value, target), "input");
    assert_valid(&config, target, "input");
    (config, notes)
}

fn convert_err(value: &Value, target: TargetVersion) -> ConvertError {
    match convert_value(value, target) {
        Err(e) => e,
        Ok(other) => panic!("expected an error, got {other:?}"),
    }
}

/// A minimal spec 2 config of `version` with extra top-level content.
fn spec2(version: &str, extra: Value) -> Value {
    let mut config = json!({"ignition": {"version": version}});
    if let (Some(obj), Value::Object(extra)) = (config.as_object_mut(), extra) {
        obj.extend(extra);
    }
    config
}

// ---------------------------------------------------------------------------
// Real fixtures

#[test]
fn the_json_schemas_accept_the_real_installer_spec3_stubs() {
    // Sanity check of the oracle itself (strict key check included).
    for (file, version) in SPEC3 {
        if file.contains("2x-keys") {
            continue; // carries the 2.x-only `networkd` key on purpose
        }
        let target = TargetVersion::from_str(version).unwrap();
        assert_valid(&json_of(file), target, file);
    }
}

#[test]
fn every_real_spec2_pointer_converts_to_every_target_and_validates() {
    for file in SPEC2_POINTERS {
        let input = json_of(file);
        let input_bytes = user_data_of(file);
        let before = inspect_user_data(&input_bytes);
        for target in TargetVersion::ALL {
            let ctx = format!("{file} → {target}");
            let (config, bytes, from, notes) = converted(convert_to_v3(&input_bytes, target), &ctx);
            assert_valid(&config, target, &ctx);
            assert_eq!(
                from,
                input["ignition"]["version"].as_str().unwrap(),
                "{ctx}"
            );

            // The merge entries are the append entries, exactly.
            assert_eq!(
                config["ignition"]["config"]["merge"], input["ignition"]["config"]["append"],
                "{ctx}"
            );
            assert!(
                config["ignition"]["config"].get("append").is_none(),
                "{ctx}"
            );
            // The CAs are kept exactly (source and verification).
            assert_eq!(
                config.pointer("/ignition/security/tls/certificateAuthorities"),
                input.pointer("/ignition/security/tls/certificateAuthorities"),
                "{ctx}"
            );
            assert_eq!(
                config["ignition"]["timeouts"], input["ignition"]["timeouts"],
                "{ctx}"
            );
            assert!(config.get("networkd").is_none(), "{ctx}");
            for section in ["passwd", "storage", "systemd"] {
                assert_eq!(config[section], json!({}), "{ctx}: {section}");
            }

            // The bytes are the compact form of the config.
            assert_eq!(bytes, bytes_of(&config), "{ctx}");
            assert!(!bytes.contains(&b'\n'), "{ctx}");

            // What the audit will say about the new content.
            let after = inspect_user_data(&bytes);
            assert_eq!(after.error, None, "{ctx}");
            assert_eq!(
                after.ignition_version.as_deref(),
                Some(target.as_str()),
                "{ctx}"
            );
            assert_eq!(after.spec_major, Some(3), "{ctx}");
            assert!(!after.migration_required, "{ctx}");
            assert_eq!(after.merge_or_append.as_deref(), Some("merge"), "{ctx}");
            assert_eq!(after.ca_count, before.ca_count, "{ctx}");
            assert!(after.warnings.is_empty(), "{ctx}: {:?}", after.warnings);

            // Idempotent: the output is already spec 3.
            assert_eq!(
                convert_to_v3(&bytes, target),
                Ok(Conversion::AlreadyV3 {
                    version: target.as_str().to_owned()
                }),
                "{ctx}"
            );

            // The notes never carry content.
            assert!(notes.len() >= 3, "{ctx}: {notes:?}");
            let source = input["ignition"]["config"]["append"][0]["source"]
                .as_str()
                .unwrap();
            for note in &notes {
                assert!(!note.contains(source), "{ctx}: {note}");
                assert!(!note.contains("data:"), "{ctx}: {note}");
            }
        }
    }
}

#[test]
fn converted_worker_stub_is_the_input_with_merge_and_3_1_0_and_no_networkd() {
    let input = String::from_utf8(user_data_of("spec2.2.0-worker-pointer-Dawnday101.ign")).unwrap();
    let expected = input
        .trim_end()
        .replace(r#""append":"#, r#""merge":"#)
        .replace(r#""version":"2.2.0""#, r#""version":"3.1.0""#)
        .replace(r#""networkd":{},"#, "");
    let (_, bytes, from, notes) = converted(
        convert_to_v3(input.as_bytes(), TargetVersion::default()),
        "worker",
    );
    assert_eq!(String::from_utf8(bytes).unwrap(), expected);
    assert!(expected.starts_with(
        r#"{"ignition":{"config":{"merge":[{"source":"https://api-int.test.example.com:22623/config/worker","verification":{}}]},"security":{"tls":{"certificateAuthorities":[{"source":"data:text/plain;charset=utf-8;base64,"#
    ));
    assert!(expected.ends_with(
        r#""verification":{}}]}},"timeouts":{},"version":"3.1.0"},"passwd":{},"storage":{},"systemd":{}}"#
    ));
    assert_eq!(from, "2.2.0");
    assert_eq!(
        notes,
        [
            "`ignition.version` 2.2.0 → 3.1.0",
            "dropped empty `networkd` (spec 3 has no networkd section)",
            "`ignition.config.append` → `ignition.config.merge` (1 entry; sources and \
             verification kept)",
        ]
    );
}

#[test]
fn converted_secret_stub_keeps_the_installer_key_order() {
    let data = user_data_of("secrets/azure-4.x-spec2.2.0-worker-user-data-secret.yaml");
    let (_, bytes, _, _) = converted(convert_to_v3(&data, TargetVersion::V3_1), "secret");
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.starts_with(
        r#"{"ignition":{"config":{"merge":[{"source":"https://api-int.ocp4.communityus.net:22623/config/worker","verification":{}}]},"security":"#
    ));
    assert!(text
        .ends_with(r#""timeouts":{},"version":"3.1.0"},"passwd":{},"storage":{},"systemd":{}}"#));
}

#[test]
fn converted_bootstrap_append_is_exact() {
    let data = user_data_of("spec2.1.0-append-bootstrap-ironicbadger.ign");
    for target in TargetVersion::ALL {
        let (_, bytes, from, _) = converted(convert_to_v3(&data, target), "bootstrap");
        assert_eq!(from, "2.1.0");
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            format!(
                r#"{{"ignition":{{"config":{{"merge":[{{"source":"http://192.168.1.160:8080/ignition/bootstrap.ign","verification":{{}}}}]}},"timeouts":{{}},"version":"{target}"}},"passwd":{{}},"storage":{{}},"systemd":{{}}}}"#
            )
        );
    }
}

#[test]
fn real_spec3_configs_are_already_v3() {
    for (file, version) in SPEC3 {
        for target in TargetVersion::ALL {
            assert_eq!(
                convert_to_v3(&user_data_of(file), target),
                Ok(Conversion::AlreadyV3 {
                    version: (*version).to_owned()
                }),
                "{file}"
            );
        }
    }
}

#[test]
fn drewfus_networkd_units_are_refused_by_name() {
    let data = user_data_of(DREWFUS);
    for target in TargetVersion::ALL {
        let e = convert_to_v3(&data, target).unwrap_err();
        assert_eq!(
            e,
            ConvertError::Untranslatable {
                path: "networkd.units".to_owned(),
                reason: "networkd units have no spec 3 equivalent; write them as \
                         `storage.files` under /etc/systemd/network (mode 0644) and convert \
                         again",
            }
        );
        let msg = e.to_string();
        assert!(
            msg.starts_with("`networkd.units` cannot be converted: "),
            "{msg}"
        );
        assert!(!msg.contains("DHCP") && !msg.contains("enp"), "{msg}");
    }
}

#[test]
fn drewfus_without_networkd_and_disks_translates_filesystems_and_units() {
    let mut input = json_of(DREWFUS);
    let obj = input.as_object_mut().unwrap();
    obj.remove("networkd");
    // Partitioning is refused by name...
    assert_eq!(
        convert_err(&input, TargetVersion::V3_1),
        ConvertError::Untranslatable {
            path: "storage.disks".to_owned(),
            reason: "partitioning and RAID are not converted by this tool (partition sizes and \
                     defaults changed in spec 3); a stub config should not carry them, rewrite \
                     them as spec 3 by hand",
        }
    );
    // ...the rest translates exactly.
    input["storage"].as_object_mut().unwrap().remove("disks");
    for target in TargetVersion::ALL {
        let (config, notes) = convert_ok(&input, target);
        assert_eq!(
            config["storage"],
            json!({"filesystems": [{"device": "/dev/sda", "format": "ext4", "wipeFilesystem": true}]})
        );
        let units = &config["systemd"]["units"];
        assert_eq!(units[0], json!({"name": "sshd.service", "enabled": true}));
        assert_eq!(units[1]["enabled"], true);
        assert_eq!(
            units[1]["contents"],
            input["systemd"]["units"][1]["contents"]
        );
        assert_eq!(units[2], input["systemd"]["units"][2]);
        assert!(notes
            .iter()
            .any(|n| n == "`systemd.units[0].enable` → `systemd.units[0].enabled`"));
        assert!(notes
            .iter()
            .any(|n| n.starts_with("`storage.filesystems[0]` (spec 2 name + mount)")));
    }
}

// ---------------------------------------------------------------------------
// The pointer rules

#[test]
fn verification_hashes_are_kept_exactly() {
    let hash = format!("sha512-{}", "0123456789abcdef".repeat(8));
    let mut input = json_of("spec2.2.0-worker-pointer-Dawnday101.ign");
    input["ignition"]["config"]["append"][0]["verification"] = json!({"hash": hash});
    input["ignition"]["security"]["tls"]["certificateAuthorities"][0]["verification"] =
        json!({"hash": hash});
    input["ignition"]["config"]["replace"] =
        json!({"source": "https://example.com/replace.ign", "verification": {"hash": hash}});
    for target in TargetVersion::ALL {
        let (config, _) = convert_ok(&input, target);
        assert_eq!(
            config["ignition"]["config"]["merge"][0]["verification"]["hash"],
            hash.as_str()
        );
        assert_eq!(
            config["ignition"]["config"]["merge"],
            input["ignition"]["config"]["append"]
        );
        assert_eq!(
            config["ignition"]["config"]["replace"],
            input["ignition"]["config"]["replace"]
        );
        assert_eq!(
            config["ignition"]["security"],
            input["ignition"]["security"]
        );
    }
}

#[test]
fn conversion_is_idempotent() {
    let data = user_data_of("spec2.2.0-master-pointer-Dawnday101.ign");
    let (_, once, _, _) = converted(convert_to_v3(&data, TargetVersion::V3_2), "once");
    assert_eq!(
        convert_to_v3(&once, TargetVersion::V3_2),
        Ok(Conversion::AlreadyV3 {
            version: "3.2.0".to_owned()
        })
    );
    // And deterministic.
    let (_, again, _, _) = converted(convert_to_v3(&data, TargetVersion::V3_2), "again");
    assert_eq!(once, again);
}

#[test]
fn proxy_needs_target_3_1_or_later() {
    let proxy =
        json!({"httpProxy": "http://proxy.example.com:3128", "noProxy": [".cluster.local"]});
    let input = spec2(
        "2.4.0",
        json!({"ignition": {"version": "2.4.0", "proxy": proxy}}),
    );
    let e = convert_err(&input, TargetVersion::V3_0);
    assert_eq!(
        e,
        ConvertError::NeedsNewerTarget {
            path: "ignition.proxy".to_owned(),
            target: TargetVersion::V3_0,
            minimum: TargetVersion::V3_1,
        }
    );
    let msg = e.to_string();
    assert_eq!(
        msg,
        "`ignition.proxy` is set, but target spec 3.0.0 does not have it; choose target 3.1.0 \
         or later (3.1.0 is the default)"
    );
    assert!(!msg.contains("proxy.example.com"));
    for target in &TargetVersion::ALL[1..] {
        let (config, _) = convert_ok(&input, *target);
        assert_eq!(config["ignition"]["proxy"], proxy);
    }
}

#[test]
fn empty_proxy_is_dropped_for_3_0_and_kept_otherwise() {
    let input = spec2(
        "2.4.0",
        json!({"ignition": {"version": "2.4.0", "proxy": {"httpProxy": ""}, "timeouts": {}}}),
    );
    let (config, notes) = convert_ok(&input, TargetVersion::V3_0);
    assert_eq!(
        config["ignition"],
        json!({"version": "3.0.0", "timeouts": {}})
    );
    assert!(notes.contains(
        &"dropped empty `ignition.proxy` (target spec 3.0.0 does not have it)".to_owned()
    ));
    let (config, _) = convert_ok(&input, TargetVersion::V3_4);
    // The empty string meant "unset" in spec 2; spec 3 would read it as a URL.
    assert_eq!(config["ignition"]["proxy"], json!({}));
}

#[test]
fn proxy_in_a_config_older_than_2_4_is_refused() {
    let input = json!({"ignition": {"version": "2.2.0", "proxy": {"httpsProxy": "http://p:3128"}}});
    let e = convert_err(&input, TargetVersion::V3_1);
    assert_eq!(
        e.to_string(),
        "`ignition.proxy` does not exist in spec 2.2.0 (it came with 2.4.0), so Ignition ignored \
         it; remove it, or raise `ignition.version` to 2.4.0 if it is meant to apply"
    );
}

#[test]
fn http_headers_need_2_4_and_target_3_1() {
    let headers = json!([{"name": "Authorization", "value": "Bearer s3cr3t-t0ken"}]);
    let input = json!({"ignition": {"version": "2.4.0", "config": {"append": [
        {"source": "https://mcs.example.com:22623/config/worker", "httpHeaders": headers}
    ]}}});
    let e = convert_err(&input, TargetVersion::V3_0);
    assert_eq!(
        e,
        ConvertError::NeedsNewerTarget {
            path: "ignition.config.append[0].httpHeaders".to_owned(),
            target: TargetVersion::V3_0,
            minimum: TargetVersion::V3_1,
        }
    );
    assert!(!e.to_string().contains("s3cr3t"));
    let (config, _) = convert_ok(&input, TargetVersion::V3_1);
    assert_eq!(
        config["ignition"]["config"]["merge"][0]["httpHeaders"],
        headers
    );

    let mut old = input.clone();
    old["ignition"]["version"] = json!("2.3.0");
    assert!(matches!(
        convert_err(&old, TargetVersion::V3_1),
        ConvertError::NotInSourceVersion { since: "2.4.0", .. }
    ));
}

#[test]
fn replace_is_kept_and_an_empty_one_is_dropped_for_3_0() {
    let input =
        json!({"ignition": {"version": "2.2.0", "config": {"replace": {"verification": {}}}}});
    let (config, notes) = convert_ok(&input, TargetVersion::V3_0);
    assert_eq!(config["ignition"]["config"], json!({}));
    assert!(notes
        .iter()
        .any(|n| n.starts_with("dropped `ignition.config.replace` without a source")));
    let (config, _) = convert_ok(&input, TargetVersion::V3_1);
    assert_eq!(
        config["ignition"]["config"],
        json!({"replace": {"verification": {}}})
    );

    let with_source =
        json!({"ignition": {"version": "2.2.0", "config": {"replace": {"source": "https://x/y"}}}});
    for target in TargetVersion::ALL {
        let (config, _) = convert_ok(&with_source, target);
        assert_eq!(
            config["ignition"]["config"]["replace"],
            json!({"source": "https://x/y"})
        );
    }
}

#[test]
fn spec3_keys_in_a_spec2_config_are_refused() {
    let input = json!({"ignition": {"version": "2.2.0", "config": {
        "append": [{"source": "https://a/b"}], "merge": [{"source": "https://c/d"}]
    }}});
    let e = convert_err(&input, TargetVersion::V3_1);
    assert_eq!(
        e.to_string(),
        "`ignition.config.merge` is a spec 3 key that Ignition 2.x ignored; remove it (the spec 2 \
         `ignition.config.append` becomes `ignition.config.merge` in the conversion)"
    );
}

#[test]
fn unknown_keys_are_refused_by_path_without_their_values() {
    let secret = "hunter2-very-secret";
    for (input, path) in [
        (
            json!({"ignition": {"version": "2.2.0"}, "extra": secret}),
            "extra",
        ),
        (
            json!({"ignition": {"version": "2.2.0", "extra": {"a": secret}}}),
            "ignition.extra",
        ),
        (
            json!({"ignition": {"version": "2.2.0", "config": {"append": [{"source": "https://a", "token": secret}]}}}),
            "ignition.config.append[0].token",
        ),
        (
            json!({"ignition": {"version": "2.2.0", "security": {"tls": {"certificateAuthorities": [{"source": "data:,x", "verification": {"hash": "sha512-00", "sig": secret}}]}}}}),
            "ignition.security.tls.certificateAuthorities[0].verification.sig",
        ),
        (
            json!({"ignition": {"version": "2.2.0"}, "storage": {"files": [{"filesystem": "root", "path": "/a", "secret": secret}]}}),
            "storage.files[0].secret",
        ),
    ] {
        let e = convert_err(&input, TargetVersion::V3_1);
        assert_eq!(
            e,
            ConvertError::UnknownKey {
                path: path.to_owned()
            }
        );
        assert!(!e.to_string().contains(secret), "{e}");
    }
    // A key that does not look like a key name (digits, spaces, long) is
    // described, not quoted: it could be content pasted in the wrong place.
    let e = convert_err(
        &json!({"ignition": {"version": "2.2.0", "config": {"hunter2": 1}}}),
        TargetVersion::V3_1,
    );
    assert_eq!(
        e,
        ConvertError::UnknownKey {
            path: "ignition.config.(a key of 7 characters)".to_owned()
        }
    );
    let long_key = "k".repeat(200);
    let e = convert_err(
        &json!({"ignition": {"version": "2.2.0"}, long_key.clone(): 1}),
        TargetVersion::V3_1,
    );
    assert_eq!(
        e,
        ConvertError::UnknownKey {
            path: "(a key of 200 characters)".to_owned()
        }
    );
    let e = convert_err(
        &json!({"ignition": {"version": "2.2.0"}, "pass word=hunter2": 1}),
        TargetVersion::V3_1,
    );
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

#[test]
fn wrong_types_and_missing_sources_are_refused_by_path() {
    for (input, expected) in [
        (
            json!({"ignition": {"version": "2.2.0", "config": {"append": {"source": "https://a"}}}}),
            "`ignition.config.append` is an object, expected an array",
        ),
        (
            json!({"ignition": {"version": "2.2.0", "config": {"append": [{"verification": {}}]}}}),
            "`ignition.config.append[0].source` is missing; Ignition spec 2 requires it",
        ),
        (
            json!({"ignition": {"version": "2.2.0", "config": {"append": [{"source": ""}]}}}),
            "`ignition.config.append[0].source` is an empty string, expected a non-empty string",
        ),
        (
            json!({"ignition": {"version": "2.2.0", "config": {"append": [{"source": "https://a", "verification": {"hash": 5}}]}}}),
            "`ignition.config.append[0].verification.hash` is a number, expected a string",
        ),
        (
            json!({"ignition": {"version": "2.2.0", "timeouts": {"httpTotal": "10"}}}),
            "`ignition.timeouts.httpTotal` is a string, expected an integer",
        ),
        (
            json!({"ignition": {"version": "2.2.0", "timeouts": {"httpTotal": 1.5}}}),
            "`ignition.timeouts.httpTotal` is a number that is not a 64-bit integer, expected an \
             integer",
        ),
        (
            json!({"ignition": {"version": "2.2.0", "security": {"tls": {"certificateAuthorities": [null]}}}}),
            "`ignition.security.tls.certificateAuthorities[0]` is null, expected an object",
        ),
        (
            json!({"ignition": {"version": "2.2.0"}, "storage": []}),
            "`storage` is an array, expected an object",
        ),
    ] {
        assert_eq!(
            convert_err(&input, TargetVersion::V3_1).to_string(),
            expected
        );
    }
}

#[test]
fn nulls_mean_unset_as_in_ignition_2() {
    let input = json!({"ignition": {"version": "2.2.0", "config": {"append": [
        {"source": "https://a/b", "verification": null}
    ], "replace": null}, "timeouts": {"httpTotal": null}, "security": null},
    "networkd": null, "passwd": null, "storage": {"files": null}, "systemd": {"units": null}});
    let (config, _) = convert_ok(&input, TargetVersion::V3_0);
    assert_eq!(
        config,
        json!({"ignition": {"config": {"merge": [{"source": "https://a/b"}]}, "timeouts": {}, "version": "3.0.0"}, "storage": {}, "systemd": {}})
    );
}

#[test]
fn keys_newer_than_the_source_version_are_refused_unless_empty() {
    // 2.0.0 had no timeouts: an empty one is dropped, a set one refused.
    let empty = json!({"ignition": {"version": "2.0.0", "timeouts": {}}});
    let (config, notes) = convert_ok(&empty, TargetVersion::V3_1);
    assert_eq!(config["ignition"], json!({"version": "3.1.0"}));
    assert!(notes
        .contains(&"dropped empty `ignition.timeouts` (spec 2.0.0 does not have it)".to_owned()));
    let set = json!({"ignition": {"version": "2.0.0", "timeouts": {"httpTotal": 5}}});
    assert!(matches!(
        convert_err(&set, TargetVersion::V3_1),
        ConvertError::NotInSourceVersion { since: "2.1.0", .. }
    ));
    // 2.1.0 had no security section.
    let ca = json!({"ignition": {"version": "2.1.0", "security": {"tls": {"certificateAuthorities": [{"source": "data:,x"}]}}}});
    assert_eq!(
        convert_err(&ca, TargetVersion::V3_1).to_string(),
        "`ignition.security` does not exist in spec 2.1.0 (it came with 2.2.0), so Ignition \
         ignored it; remove it, or raise `ignition.version` to 2.2.0 if it is meant to apply"
    );
}

#[test]
fn unreleased_spec2_versions_are_refused() {
    for (version, shown) in [
        ("2.5.0", "\"2.5.0\""),
        ("2.2.1", "\"2.2.1\""),
        ("2.4.0-experimental", "(a value of 18 characters)"),
    ] {
        let e = convert_err(
            &json!({"ignition": {"version": version}}),
            TargetVersion::V3_1,
        );
        assert_eq!(
            e,
            ConvertError::UnsupportedSourceVersion {
                shown: shown.to_owned()
            }
        );
    }
    // Every 3.x is left alone, whatever it is.
    for version in ["3.0.0", "3.5.0", "3.6.0-experimental"] {
        assert_eq!(
            convert_value(
                &json!({"ignition": {"version": version}}),
                TargetVersion::V3_1
            ),
            Ok(Conversion::AlreadyV3 {
                version: version.to_owned()
            })
        );
    }
}

// ---------------------------------------------------------------------------
// Beyond the pointer: storage, systemd, passwd

/// A spec 2.2.0 config using every translated storage/systemd/passwd shape.
fn full_spec2() -> Value {
    json!({
        "ignition": {"version": "2.2.0", "config": {"append": [{"source": "https://mcs:22623/config/worker"}]}},
        "storage": {
            "files": [
                {"filesystem": "root", "path": "/etc/hostname", "mode": 420,
                 "contents": {"source": "data:,node1", "verification": {}},
                 "user": {"name": "root"}, "group": {"id": 0}},
                {"filesystem": "root", "path": "/etc/motd", "append": true,
                 "contents": {"source": "data:,hello"}},
                {"filesystem": "root", "path": "/etc/empty", "mode": 384},
                {"filesystem": "root", "path": "/etc/kept", "overwrite": false,
                 "contents": {"source": "data:,x", "compression": ""}}
            ],
            "directories": [{"filesystem": "root", "path": "/var/lib/x", "mode": 493}],
            "links": [{"filesystem": "root", "path": "/etc/localtime", "target": "/usr/share/zoneinfo/UTC", "hard": false}],
            "filesystems": [{"name": "root"}]
        },
        "systemd": {"units": [
            {"name": "a.service", "enable": true, "contents": "[Unit]\n"},
            {"name": "b.service", "enabled": false, "enable": true},
            {"name": "c.service", "mask": true, "dropins": [{"name": "10-x.conf", "contents": "[Service]\n"}]}
        ]},
        "passwd": {
            "users": [{"name": "core", "sshAuthorizedKeys": ["ssh-ed25519 AAAA"], "groups": ["wheel"], "uid": 1000}],
            "groups": [{"name": "ops", "gid": 4000, "system": true}]
        }
    })
}

#[test]
fn storage_systemd_and_passwd_translate_like_ign_converter() {
    for target in TargetVersion::ALL {
        let (config, notes) = convert_ok(&full_spec2(), target);
        let files = &config["storage"]["files"];
        assert_eq!(
            files[0],
            json!({"path": "/etc/hostname", "mode": 420,
                   "contents": {"source": "data:,node1", "verification": {}},
                   "user": {"name": "root"}, "group": {"id": 0}, "overwrite": true})
        );
        assert_eq!(
            files[1],
            json!({"path": "/etc/motd", "append": [{"source": "data:,hello"}], "overwrite": false})
        );
        assert_eq!(
            files[2],
            json!({"path": "/etc/empty", "mode": 384, "overwrite": true, "contents": {"source": "data:,"}})
        );
        assert_eq!(
            files[3],
            json!({"path": "/etc/kept", "overwrite": false, "contents": {"source": "data:,x"}})
        );
        assert_eq!(
            config["storage"]["directories"],
            json!([{"path": "/var/lib/x", "mode": 493}])
        );
        assert_eq!(
            config["storage"]["links"],
            json!([{"path": "/etc/localtime", "target": "/usr/share/zoneinfo/UTC", "hard": false}])
        );
        assert_eq!(config["storage"]["filesystems"], json!([]));
        assert_eq!(
            config["systemd"]["units"],
            json!([
                {"name": "a.service", "enabled": true, "contents": "[Unit]\n"},
                {"name": "b.service", "enabled": false},
                {"name": "c.service", "mask": true, "dropins": [{"name": "10-x.conf", "contents": "[Service]\n"}]}
            ])
        );
        assert_eq!(config["passwd"], full_spec2()["passwd"]);
        for expected in [
            "dropped `filesystem: \"root\"` from 6 storage entries (spec 3 paths are on the root \
             filesystem)",
            "set `overwrite: true` on 2 files (spec 2 always replaced existing files, spec 3 \
             only does with `overwrite: true`)",
            "`storage.files[1].append: true` → `append` list with `overwrite: false`",
            "`storage.files[2]` has no contents source: written as `data:,` (the empty file spec \
             2 created)",
            "dropped `storage.filesystems[0]` named \"root\" (spec 3 implies the root filesystem)",
        ] {
            assert!(
                notes.iter().any(|n| n == expected),
                "{expected}\n{notes:#?}"
            );
        }
    }
}

/// An edit of a test config.
type Edit = Box<dyn Fn(&mut Value)>;

#[test]
fn storage_shapes_without_a_spec3_equivalent_are_refused_by_path() {
    let base = full_spec2();
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|c| c["storage"]["files"][0]["filesystem"] = json!("data")),
            "`storage.files[0].filesystem` cannot be converted: only files on the \"root\" \
             filesystem",
        ),
        (
            Box::new(|c| {
                c["storage"]["files"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("filesystem");
            }),
            "`storage.files[0].filesystem` is missing",
        ),
        (
            Box::new(|c| c["storage"]["files"][0]["path"] = json!("etc/hostname")),
            "`storage.files[0].path` is a relative path, expected an absolute path",
        ),
        (
            Box::new(|c| c["storage"]["files"][1]["overwrite"] = json!(true)),
            "`storage.files[1].overwrite` cannot be converted: `append: true` with `overwrite: \
             true` is invalid in spec 2",
        ),
        (
            Box::new(|c| c["storage"]["files"][2]["contents"] = json!({"compression": "gzip"})),
            "`storage.files[2].contents` cannot be converted: the file has no contents source",
        ),
        (
            Box::new(|c| c["storage"]["files"][0]["user"] = json!({"id": 0, "name": "root"})),
            "`storage.files[0].user` cannot be converted: both `id` and `name` are set",
        ),
        (
            Box::new(|c| c["storage"]["directories"][0]["path"] = json!("/etc//motd/")),
            "`storage.directories[0]` has the same path as `storage.files[1]`",
        ),
        (
            Box::new(|c| c["storage"]["files"][0]["path"] = json!("/etc/localtime/x")),
            "`storage.files[0].path` cannot be converted: the path goes through a link",
        ),
        (
            Box::new(|c| {
                c["storage"]["filesystems"] = json!([{"name": "data", "path": "/var/data"}]);
            }),
            "`storage.filesystems[0].path` cannot be converted: the spec 2 `path` form",
        ),
        (
            Box::new(|c| {
                c["storage"]["filesystems"] =
                    json!([{"name": "root", "mount": {"device": "/dev/sda4", "format": "xfs"}}]);
            }),
            "`storage.filesystems[0].mount` cannot be converted: a spec 2 filesystem named \"root\"",
        ),
        (
            Box::new(|c| {
                c["storage"]["filesystems"] = json!([{"name": "d", "mount": {"device": "/dev/sdb", "format": "xfs", "create": {"force": false}}}]);
            }),
            "`storage.filesystems[0].mount.create` cannot be converted: `create` without `force: \
             true`",
        ),
        (
            Box::new(|c| {
                c["storage"]["filesystems"] = json!([
                    {"name": "d", "mount": {"device": "/dev/sdb", "format": "xfs"}},
                    {"name": "e", "mount": {"device": "/dev/sdb", "format": "ext4"}}
                ]);
            }),
            "`storage.filesystems[1]` has the same mount device as `storage.filesystems[0]`",
        ),
        (
            Box::new(|c| c["storage"]["raid"] = json!([{"name": "md0", "level": "raid1", "devices": ["/dev/sda", "/dev/sdb"]}])),
            "`storage.raid` cannot be converted: partitioning and RAID",
        ),
        (
            Box::new(|c| c["systemd"]["units"][2]["name"] = json!("a.service")),
            "`systemd.units[2]` has the same unit name as `systemd.units[0]`",
        ),
        (
            Box::new(|c| c["passwd"]["users"][0]["create"] = json!({"uid": 1000})),
            "`passwd.users[0].create` cannot be converted: the deprecated `create` object",
        ),
        (
            Box::new(|c| {
                c["passwd"]["groups"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"name": "ops"}));
            }),
            "`passwd.groups[1]` has the same name as `passwd.groups[0]`",
        ),
    ];
    for (edit, expected) in cases {
        let mut input = base.clone();
        edit(&mut input);
        let msg = convert_err(&input, TargetVersion::V3_1).to_string();
        assert!(msg.starts_with(expected), "{expected}\n{msg}");
        assert!(!msg.contains("data:,"), "{msg}");
    }
}

#[test]
fn spec2_1_has_no_overwrite_or_append() {
    let input = json!({"ignition": {"version": "2.1.0"}, "storage": {"files": [
        {"filesystem": "root", "path": "/a", "overwrite": false, "contents": {"source": "data:,"}}
    ]}});
    assert!(matches!(
        convert_err(&input, TargetVersion::V3_1),
        ConvertError::NotInSourceVersion { since: "2.2.0", .. }
    ));
}

// ---------------------------------------------------------------------------
// Bad inputs and the target version

#[test]
fn non_ignition_inputs_are_errors_that_do_not_echo_the_input() {
    let deep_array = "[".repeat(100_000);
    let deep_object = format!(
        "{{\"ignition\":{{\"version\":\"2.2.0\"}},\"storage\":{}1{}}}",
        "{\"a\":".repeat(5_000),
        "}".repeat(5_000)
    );
    let inputs: Vec<Vec<u8>> = vec![
        b"not json at all: password=hunter2".to_vec(),
        b"[\"hunter2\", 1, 2]".to_vec(),
        br#"{"ignitionVersion": 1, "hunter2": true}"#.to_vec(),
        br#"{"ignition": {"version": 2}, "hunter2": true}"#.to_vec(),
        br#"{"ignition": {"version": "1.0.0-hunter2"}}"#.to_vec(),
        br#"{"hunter2": {}}"#.to_vec(),
        b"".to_vec(),
        b"  \n ".to_vec(),
        vec![0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad],
        (0u8..=255).cycle().take(4096).collect(),
        vec![0xff; 64],
        b"#cloud-config\npassword: hunter2\n".to_vec(),
        b"eyJpZ25pdGlvbiI6e319".to_vec(),
        deep_array.into_bytes(),
        deep_object.into_bytes(),
        br#"{"ignition":{"version":"2.2.0"}"#.to_vec(),
    ];
    for input in inputs {
        for target in TargetVersion::ALL {
            let e = convert_to_v3(&input, target).unwrap_err();
            assert!(matches!(e, ConvertError::NotIgnition(_)), "{e:?}");
            let msg = e.to_string();
            assert!(
                msg.starts_with(
                    "the user data was not converted because it is not an Ignition config: "
                ),
                "{msg}"
            );
            assert!(!msg.contains("hunter2"), "{msg}");
            assert!(!msg.contains("eyJ"), "{msg}");
            assert!(msg.len() < 400, "{msg}");
        }
    }
}

#[test]
fn deep_nesting_inside_a_known_key_is_refused_without_recursion() {
    let depth = 120; // below serde_json's limit: parses, then is refused
    let nested = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    let text =
        format!(r#"{{"ignition":{{"version":"2.2.0","timeouts":{{"httpTotal":{nested}}}}}}}"#);
    let e = convert_to_v3(text.as_bytes(), TargetVersion::V3_1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`ignition.timeouts.httpTotal` is an array, expected an integer"
    );
}

#[test]
fn target_version_parses_displays_and_defaults_to_3_1_0() {
    for (text, target) in [
        ("3.0.0", TargetVersion::V3_0),
        ("3.1.0", TargetVersion::V3_1),
        ("3.2.0", TargetVersion::V3_2),
        ("3.3.0", TargetVersion::V3_3),
        ("3.4.0", TargetVersion::V3_4),
    ] {
        assert_eq!(TargetVersion::from_str(text), Ok(target));
        assert_eq!(target.to_string(), text);
        assert_eq!(serde_json::to_value(target).unwrap(), json!(text));
        assert_eq!(
            serde_json::from_value::<TargetVersion>(json!(text)).unwrap(),
            target
        );
    }
    assert_eq!(TargetVersion::default(), TargetVersion::V3_1);
    assert_eq!(TargetVersion::ALL.len(), 5);
}

#[test]
fn unknown_target_versions_list_the_allowed_values() {
    let e = TargetVersion::from_str("3.5.0").unwrap_err();
    assert_eq!(
        e.to_string(),
        "\"3.5.0\" is not a supported target Ignition spec version; allowed values: 3.0.0, \
         3.1.0, 3.2.0, 3.3.0, 3.4.0"
    );
    for target in TargetVersion::ALL {
        assert!(e.to_string().contains(target.as_str()));
    }
    for bad in ["", "3.1", "v3.1.0", "2.2.0", " 3.1.0", "3.1.0-experimental"] {
        assert!(TargetVersion::from_str(bad).is_err(), "{bad}");
    }
    let e = TargetVersion::from_str("token=hunter2").unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

/// Every JSON pointer below `value` (containers and leaves).
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(obj) => {
            for (k, v) in obj {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(v, p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(v, p, out);
            }
        }
        _ => {}
    }
}

#[test]
fn any_value_of_any_type_anywhere_converts_validly_or_errors_without_panic() {
    let validators: Vec<(TargetVersion, jsonschema::Validator, Value)> = TargetVersion::ALL
        .into_iter()
        .map(|t| {
            let s = schema(t);
            (t, jsonschema::validator_for(&s).unwrap(), s)
        })
        .collect();
    let replacements = [
        json!(null),
        json!(true),
        json!(false),
        json!(0),
        json!(-1),
        json!(""),
        json!("x"),
        json!([]),
        json!([null]),
        json!({}),
        json!({"hunter2": 1}),
    ];
    let bases = [
        full_spec2(),
        json_of("spec2.2.0-worker-pointer-Dawnday101.ign"),
        json_of(DREWFUS),
    ];
    let (mut ok, mut refused) = (0, 0);
    for base in &bases {
        let mut all = Vec::new();
        pointers(base, String::new(), &mut all);
        for pointer in all {
            for replacement in &replacements {
                let mut input = base.clone();
                *input.pointer_mut(&pointer).unwrap() = replacement.clone();
                for (target, validator, schema) in &validators {
                    match convert_value(&input, *target) {
                        Ok(Conversion::Converted { config, bytes, .. }) => {
                            ok += 1;
                            let errors: Vec<String> = validator
                                .iter_errors(&config)
                                .map(|e| e.to_string())
                                .collect();
                            assert!(errors.is_empty(), "{pointer} = {replacement}: {errors:?}");
                            let mut unknown = Vec::new();
                            unknown_keys(schema, schema, &config, "", &mut unknown);
                            assert!(unknown.is_empty(), "{pointer} = {replacement}: {unknown:?}");
                            assert!(!inspect_user_data(&bytes).migration_required);
                        }
                        Ok(Conversion::AlreadyV3 { .. }) => {}
                        Err(e) => {
                            refused += 1;
                            assert!(!e.to_string().contains("hunter2"), "{e}");
                        }
                    }
                }
            }
        }
    }
    assert!(ok > 500 && refused > 5000, "ok {ok}, refused {refused}");
}

#[test]
fn every_truncation_of_a_real_stub_is_an_error_without_echo() {
    let data = user_data_of("spec2.2.0-worker-pointer-Dawnday101.ign");
    for len in 0..data.len() {
        let e = convert_to_v3(&data[..len], TargetVersion::V3_1).unwrap_err();
        assert!(matches!(e, ConvertError::NotIgnition(_)), "{len}: {e:?}");
        let msg = e.to_string();
        assert!(!msg.contains("api-int") && !msg.contains("LS0t"), "{msg}");
    }
}
