//! The Ansible binary-module protocol, tested by running the built binary the
//! way ansible-core runs it: `AnsiballZ_<module> <args-file>`, stdin closed,
//! one JSON object expected on stdout.

mod common;

use common::{root, run_module, run_module_env};
use serde_json::json;

fn dump() -> String {
    root().join("examples/cluster-dump").display().to_string()
}

#[test]
fn audit_of_the_shipped_dump_as_ansible_runs_it() {
    let r = run_module(
        "bootimage_info",
        &json!({"dump_dir": dump(), "_ansible_check_mode": false, "_ansible_version": "2.16.19", "_ansible_tmpdir": "/tmp/x"}),
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json["changed"], false);
    assert_eq!(r.json["failed"], false);
    assert_eq!(r.json["compliant"], false);
    assert_eq!(r.json["cluster"]["version"], "4.18.1");
    assert_eq!(r.json["summary"]["total"], 4);
    assert!(
        r.json["msg"].as_str().unwrap().starts_with("not compliant"),
        "{}",
        r.json["msg"]
    );
    assert_eq!(
        r.json["invocation"]["module_args"]["namespace"],
        "openshift-machine-api"
    );
    assert_eq!(r.json["invocation"]["module_args"]["dump_dir"], dump());
}

#[test]
fn unknown_option_fails_with_the_valid_names() {
    let r = run_module(
        "bootimage_info",
        &json!({"dump_dir": dump(), "stream_fil": "x"}),
    );
    assert_eq!(r.code, 1);
    assert_eq!(r.json["failed"], true);
    let msg = r.json["msg"].as_str().unwrap();
    assert!(
        msg.contains("Unsupported parameters for (bootimage_info) module: stream_fil"),
        "{msg}"
    );
    assert!(
        msg.contains("stream_file") && msg.contains("verify_ssl"),
        "{msg}"
    );
}

#[test]
fn wrong_types_fail_clearly() {
    let r = run_module(
        "bootimage_info",
        &json!({"dump_dir": dump(), "fail_on_noncompliant": "maybe"}),
    );
    assert_eq!(r.json["failed"], true);
    let msg = r.json["msg"].as_str().unwrap();
    assert!(
        msg.contains("fail_on_noncompliant") && msg.contains("bool"),
        "{msg}"
    );
    let r = run_module(
        "bootimage_info",
        &json!({"dump_dir": dump(), "machinesets": {"a": 1}}),
    );
    assert!(
        r.json["msg"].as_str().unwrap().contains("machinesets"),
        "{}",
        r.json["msg"]
    );
}

#[test]
fn ad_hoc_strings_are_coerced() {
    // `ansible localhost -m bootimage_info -a 'dump_dir=… fail_on_noncompliant=yes machinesets=a,b'`
    let r = run_module(
        "bootimage_info",
        &json!({"dump_dir": dump(), "fail_on_noncompliant": "yes",
                "machinesets": "build09-kcxpl-worker-us-east-1a,build09-kcxpl-worker-aarch64-us-east-2a"}),
    );
    assert_eq!(
        r.json["invocation"]["module_args"]["fail_on_noncompliant"],
        true
    );
    assert_eq!(r.json["summary"]["total"], 2, "{}", r.stdout);
    // Non-compliant + fail_on_noncompliant: failed, exit 1, one-line msg.
    assert_eq!(r.json["failed"], true);
    assert_eq!(r.code, 1);
    assert!(!r.json["msg"].as_str().unwrap().contains('\n'));
    let r = run_module(
        "bootimage_info",
        &json!({"dump_dir": dump(), "fail_on_noncompliant": "off"}),
    );
    assert_eq!(r.json["failed"], false);
}

#[test]
fn no_log_options_are_masked_and_never_printed() {
    let r = run_module(
        "bootimage_info",
        &json!({"dump_dir": dump(), "api_key": "sha256~very-secret-token", "client_key": "/k/key.pem"}),
    );
    assert_eq!(
        r.json["invocation"]["module_args"]["api_key"],
        "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    );
    assert_eq!(
        r.json["invocation"]["module_args"]["client_key"],
        "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    );
    assert!(!r.stdout.contains("very-secret-token"));
    assert!(!r.stderr.contains("very-secret-token"));
    let r = run_module(
        "bootimage_info",
        &json!({"dump_dir": dump(), "_ansible_no_log": true}),
    );
    assert_eq!(
        r.json["invocation"]["module_args"]["dump_dir"],
        "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    );
}

#[test]
fn secrets_never_reach_the_output() {
    let r = run_module(
        "bootimage_info",
        &json!({"dump_dir": dump(), "_ansible_diff": true, "_ansible_verbosity": 5}),
    );
    // userData of the shipped worker stub, its CA data, and the MCS certificate body.
    let secret = std::fs::read_to_string(root().join(
        "examples/cluster-dump/namespaces/openshift-machine-api/core/secrets/worker-user-data.yaml",
    ))
    .unwrap();
    let user_data = secret
        .lines()
        .find(|l| l.trim_start().starts_with("userData:"))
        .unwrap()
        .split(':')
        .nth(1)
        .unwrap()
        .trim();
    assert!(user_data.len() > 100);
    assert!(!r.stdout.contains(&user_data[..64]));
    assert!(!r.stdout.contains("BEGIN CERTIFICATE"));
    assert!(!r.stdout.contains("base64,"), "CA data URL leaked");
}

#[test]
fn aliases_and_unknown_ansible_keys() {
    let r = run_module(
        "bootimage_info",
        &json!({"dump_dir": dump(), "verify_ssl": "no", "_ansible_shell_executable": "/bin/sh", "_ansible_new_future_key": 1}),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["invocation"]["module_args"]["validate_certs"], false);
}

#[test]
fn bad_args_files_still_give_one_json_object() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("AnsiballZ_bootimage_info");
    std::os::unix::fs::symlink(common::binary(), &exe).unwrap();
    for (content, expect) in [
        ("{not json", "not JSON"),
        ("[1,2]", "must be a JSON object"),
        ("", "not JSON"),
    ] {
        let f = dir.path().join("args");
        std::fs::write(&f, content).unwrap();
        let out = std::process::Command::new(&exe).arg(&f).output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["failed"], true);
        assert!(v["msg"].as_str().unwrap().contains(expect), "{}", v["msg"]);
        assert_eq!(out.status.code(), Some(1));
    }
    // No args file at all.
    let out = std::process::Command::new(&exe).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["failed"], true);
    // Missing file.
    let out = std::process::Command::new(&exe)
        .arg(dir.path().join("nope"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["msg"]
        .as_str()
        .unwrap()
        .contains("cannot read the args file"));
}

#[test]
fn bad_inputs_fail_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let bad_yaml = tmp.path().join("broken");
    std::fs::create_dir(&bad_yaml).unwrap();
    std::fs::write(
        bad_yaml.join("ms.yaml"),
        "kind: MachineSet\nmetadata: [unclosed\n",
    )
    .unwrap();
    let bad_stream = tmp.path().join("stream.json");
    std::fs::write(&bad_stream, "{\"architectures\": {\"x86_64\": ").unwrap();
    for (args, expect) in [
        (json!({"dump_dir": "/nonexistent/dir"}), "does not exist"),
        (json!({"dump_dir": bad_yaml}), "ms.yaml"),
        (
            json!({"dump_dir": dump(), "stream_file": bad_stream}),
            "stream.json",
        ),
        (
            json!({"dump_dir": dump(), "label_selector": "a b=c"}),
            "label selector",
        ),
        (
            json!({"dump_dir": dump(), "architecture": "mips"}),
            "architecture",
        ),
        (
            json!({"dump_dir": dump(), "image_builds": {"t": "not-a-build"}}),
            "image_builds",
        ),
    ] {
        let r = run_module("bootimage_info", &args);
        assert_eq!(r.json["failed"], true, "{args}: {}", r.stdout);
        assert_eq!(r.code, 1);
        assert!(
            r.json["msg"].as_str().unwrap().contains(expect),
            "{args}: {}",
            r.json["msg"]
        );
    }
}

#[test]
fn api_down_is_a_clear_failure() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let r = run_module_env(
        "bootimage_info",
        &json!({}),
        &[
            ("K8S_AUTH_HOST", &format!("http://127.0.0.1:{port}")),
            ("K8S_AUTH_API_KEY", "tok"),
        ],
    );
    assert_eq!(r.json["failed"], true);
    let msg = r.json["msg"].as_str().unwrap();
    assert!(msg.contains("cannot reach the Kubernetes API"), "{msg}");
    assert!(!msg.contains("tok\""), "{msg}");
}

#[test]
fn no_cluster_at_all_explains_what_to_give() {
    let r = run_module("bootimage_info", &json!({}));
    assert_eq!(r.json["failed"], true);
    assert!(
        r.json["msg"].as_str().unwrap().contains("dump_dir"),
        "{}",
        r.json["msg"]
    );
}

#[test]
fn cli_help_version_and_module_subcommand() {
    let out = std::process::Command::new(common::binary())
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ocp-bootimage "));
    let out = std::process::Command::new(common::binary())
        .args(["audit", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--from-dir") && help.contains("--stream-file") && help.contains("--output")
    );
    let out = std::process::Command::new(common::binary())
        .args([
            "bootimage_info",
            "--args",
            &json!({"dump_dir": dump()}).to_string(),
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["total"], 4);
    for fmt in ["json", "yaml", "table"] {
        let out = std::process::Command::new(common::binary())
            .args(["audit", "--from-dir", &dump(), "-o", fmt])
            .output()
            .unwrap();
        assert!(out.status.success(), "{fmt}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("build09-kcxpl-worker-aarch64-us-east-2a"),
            "{fmt}: {text}"
        );
    }
    // The table says which parts `--gather` left out instead of showing them empty.
    let out = std::process::Command::new(common::binary())
        .args([
            "audit",
            "--from-dir",
            &dump(),
            "--gather",
            "min,autoscaling",
            "-o",
            "table",
        ])
        .output()
        .unwrap();
    // Prose is wrapped at word boundaries: compare the words.
    let text = String::from_utf8_lossy(&out.stdout);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains("User-data secrets: not checked (left out by gather_subset)")
            && text.contains("MCS certificate: not checked (left out by gather_subset)")
            && text.contains("Autoscaling: ClusterAutoscaler present · 3 MachineAutoscaler(s)")
            && text.contains("not checked: stubs, certificate"),
        "{text}"
    );
}
