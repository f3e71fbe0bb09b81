//! `mcs_cert_info` through the built binary, run the way Ansible runs it: the
//! shipped dump's certificate (SAN, verified by the worker stub's CA) from the
//! test API server (or a real one via `OCP_BOOTIMAGE_TEST_KUBECONFIG`) and from
//! the dump directory, generated CN-only and expired certificates via `path`,
//! broken input — and never any certificate or CA content in the output.

mod common;

use common::{fixture, objects_under, root, run_module, TestCluster};
use serde_json::{json, Value};

const PROCEDURE: &str = "https://access.redhat.com/articles/regenerating_cluster_certificates#regenerating-ca-certificates-for-the-machine-config-server-5";

fn shipped_dump() -> std::path::PathBuf {
    root().join("examples/cluster-dump")
}

fn cluster_with(objects: &[Value]) -> TestCluster {
    let mut c = TestCluster::start();
    c.load(objects);
    c.clear_requests();
    c
}

fn cluster_with_dump() -> TestCluster {
    cluster_with(&objects_under(&shipped_dump()))
}

/// Secret content of the dump that must never show up in any output.
fn secret_content() -> Vec<String> {
    let mut out = vec!["BEGIN CERTIFICATE".to_string(), "PRIVATE KEY".to_string()];
    for o in objects_under(&shipped_dump()) {
        if o["kind"] == "Secret" {
            for v in o["data"].as_object().unwrap().values() {
                let s = v.as_str().unwrap();
                if s.len() >= 40 {
                    out.push(s[..40].to_string());
                    out.push(s[s.len() - 40..].to_string());
                }
            }
        }
    }
    for f in [
        "generated-cn-only-no-san-machine-config-server-tls.crt",
        "generated-expired-san-machine-config-server-tls.crt",
    ] {
        let pem = std::fs::read_to_string(fixture(&format!("certs/{f}"))).unwrap();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        out.push(body[..40].to_string());
    }
    out
}

fn assert_no_content(stdout: &str) {
    for s in secret_content() {
        assert!(!stdout.contains(&s), "output contains {s:?}: {stdout}");
    }
}

#[test]
fn the_shipped_certificate_needs_no_regeneration() {
    let c = cluster_with_dump();
    let r = run_module("mcs_cert_info", &json!({"kubeconfig": c.kubeconfig()}));
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["changed"], false);
    let j = &r.json;
    assert_eq!(
        j["source"],
        "Secret openshift-machine-config-operator/machine-config-server-tls"
    );
    assert_eq!(j["subject_cn"], "api-int.ocp4.communityus.net");
    assert_eq!(j["dns_sans"], json!(["api-int.ocp4.communityus.net"]));
    assert_eq!(j["ip_sans"], json!([]));
    assert_eq!(j["has_san"], true);
    assert_eq!(j["expired"], false);
    assert_eq!(j["ca_verified"], true);
    assert_eq!(j["regeneration_required"], false);
    assert_eq!(j["reasons"], json!([]));
    assert_eq!(j["regeneration_procedure"], Value::Null);
    assert_eq!(j["not_after"], "2030-04-04T21:43:11Z");
    assert!(j["expires_in_days"].as_i64().unwrap() > 0);
    assert_eq!(
        j["fingerprint_sha256"],
        "23:F0:55:40:BB:5B:C6:CE:31:DA:6F:00:AA:BF:BE:44:6C:91:2A:D7:45:86:F6:59:52:42:B2:B0:90:12:D5:A9"
    );
    // The worker stub's CA signed it; the master stub in this dump comes from another cluster.
    assert_eq!(
        j["stub_secrets"],
        json!([
            {"name": "master-user-data", "ca_verified": false,
             "ca_subjects": ["OU=openshift, CN=root-ca"], "error": null},
            {"name": "worker-user-data", "ca_verified": true,
             "ca_subjects": ["OU=openshift, CN=root-ca"], "error": null},
        ])
    );
    let msg = j["msg"].as_str().unwrap();
    assert!(
        msg.contains("needs no regeneration") && msg.contains("worker-user-data"),
        "{msg}"
    );
    assert!(!msg.contains('\n'));
    assert!(
        j["warnings"].to_string().contains("master-user-data"),
        "{}",
        j["warnings"]
    );
    assert_no_content(&r.stdout);
    if let Some(server) = c.server() {
        assert_eq!(server.write_count(), 0);
        let reqs = server.requests();
        assert!(
            reqs.iter().any(
                |q| q.method == "GET" && q.path.ends_with("/secrets/machine-config-server-tls")
            ),
            "{reqs:?}"
        );
    }
}

#[test]
fn a_dump_gives_the_same_answer_and_the_audit_agrees() {
    let c = cluster_with_dump();
    let live = run_module("mcs_cert_info", &json!({"kubeconfig": c.kubeconfig()}));
    let mut offline = run_module("mcs_cert_info", &json!({"dump_dir": shipped_dump()})).json;
    let mut live = live.json;
    for v in [&mut live, &mut offline] {
        v.as_object_mut().unwrap().remove("invocation");
        v.as_object_mut().unwrap().remove("expires_in_days");
    }
    assert_eq!(live, offline);
    // One implementation: every certificate fact equals the audit's.
    let audit = run_module("bootimage_info", &json!({"dump_dir": shipped_dump()}));
    let cert = audit.json["mcs_certificate"]["certificate"]
        .as_object()
        .unwrap();
    for (k, v) in cert {
        assert_eq!(&offline[k], v, "{k}");
    }
}

#[test]
fn a_cn_only_certificate_must_be_regenerated() {
    let c = cluster_with_dump();
    let path = fixture("certs/generated-cn-only-no-san-machine-config-server-tls.crt");
    let r = run_module(
        "mcs_cert_info",
        &json!({"kubeconfig": c.kubeconfig(), "path": path}),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.code, 0);
    let j = &r.json;
    assert_eq!(j["source"], format!("file {}", path.display()));
    assert_eq!(j["subject_cn"], "api-int.legacy.example.com");
    assert_eq!(j["has_san"], false);
    assert_eq!(j["dns_sans"], json!([]));
    assert_eq!(j["regeneration_required"], true);
    assert_eq!(j["regeneration_procedure"], PROCEDURE);
    assert!(j["reasons"][0]
        .as_str()
        .unwrap()
        .contains("no Subject Alternative Name"));
    // Signed by a CA no stub of this cluster carries.
    assert_eq!(j["ca_verified"], false);
    let msg = j["msg"].as_str().unwrap();
    assert!(
        msg.contains("must be regenerated")
            && msg.contains("no Subject Alternative Name")
            && msg.contains(PROCEDURE),
        "{msg}"
    );
    assert_no_content(&r.stdout);

    let r = run_module(
        "mcs_cert_info",
        &json!({"kubeconfig": c.kubeconfig(), "path": path, "fail_if_regeneration_required": true}),
    );
    assert_eq!(r.json["failed"], true, "{}", r.stdout);
    assert_eq!(r.code, 1);
    assert_eq!(r.json["changed"], false);
    assert!(r.json["msg"].as_str().unwrap().contains(PROCEDURE));
    assert_eq!(r.json["regeneration_required"], true);
}

#[test]
fn fail_if_regeneration_required_passes_a_good_certificate() {
    let r = run_module(
        "mcs_cert_info",
        &json!({"dump_dir": shipped_dump(), "fail_if_regeneration_required": true}),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.code, 0);
}

#[test]
fn an_expired_certificate_must_be_regenerated() {
    let path = fixture("certs/generated-expired-san-machine-config-server-tls.crt");
    let r = run_module(
        "mcs_cert_info",
        &json!({"dump_dir": shipped_dump(), "path": path}),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    let j = &r.json;
    assert_eq!(j["expired"], true);
    assert_eq!(j["has_san"], true);
    assert_eq!(j["not_after"], "2021-01-01T00:00:00Z");
    assert!(
        j["expires_in_days"].as_i64().unwrap() < -365,
        "{}",
        j["expires_in_days"]
    );
    assert_eq!(j["regeneration_required"], true);
    let msg = j["msg"].as_str().unwrap();
    assert!(
        msg.contains("expired at 2021-01-01T00:00:00Z") && msg.contains(PROCEDURE),
        "{msg}"
    );
}

/// A dump directory with user-data secrets (namespace `legacy`) whose Ignition carries
/// these CA PEMs.
fn dump_with_stubs(stubs: &[(&str, &[u8])]) -> tempfile::TempDir {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let dir = tempfile::tempdir().unwrap();
    for (name, ca) in stubs {
        let ign = json!({"ignition": {"version": "3.2.0",
            "config": {"merge": [{"source": "https://api-int.legacy.example.com:22623/config/worker"}]},
            "security": {"tls": {"certificateAuthorities": [
                {"source": format!("data:text/plain;charset=utf-8;base64,{}", b64(ca))}]}}}});
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": "legacy"},
            "data": {"userData": b64(ign.to_string().as_bytes())}});
        std::fs::write(
            dir.path().join(format!("{name}.json")),
            serde_json::to_string(&secret).unwrap(),
        )
        .unwrap();
    }
    dir
}

#[test]
fn the_signing_ca_in_a_stub_verifies_a_path_certificate() {
    let ca = std::fs::read(fixture("certs/generated-legacy-root-ca.crt")).unwrap();
    let dir = dump_with_stubs(&[("worker-user-data", &ca)]);
    let r = run_module(
        "mcs_cert_info",
        &json!({"dump_dir": dir.path(), "namespace": "legacy",
                "path": fixture("certs/generated-cn-only-no-san-machine-config-server-tls.crt")}),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["ca_verified"], true);
    assert_eq!(r.json["stub_secrets"][0]["name"], "worker-user-data");
    assert_eq!(r.json["stub_secrets"][0]["ca_verified"], true);
    assert_eq!(r.json["regeneration_required"], true);
}

#[test]
fn a_stub_with_an_unusable_ca_is_reported_not_fatal() {
    let ca = std::fs::read(fixture("certs/generated-legacy-root-ca.crt")).unwrap();
    let broken = b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n";
    let dir = dump_with_stubs(&[("worker-user-data", &ca), ("infra-user-data", broken)]);
    let r = run_module(
        "mcs_cert_info",
        &json!({"dump_dir": dir.path(), "namespace": "legacy",
                "path": fixture("certs/generated-expired-san-machine-config-server-tls.crt")}),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["ca_verified"], true, "{}", r.stdout);
    let broken = &r.json["stub_secrets"][0];
    assert_eq!(broken["name"], "infra-user-data");
    assert_eq!(broken["ca_verified"], Value::Null);
    assert!(
        broken["error"].as_str().unwrap().contains("unusable"),
        "{broken}"
    );
    assert!(
        r.json["warnings"].to_string().contains("infra-user-data"),
        "{}",
        r.json["warnings"]
    );
    assert!(!r.stdout.contains("not base64 at all"));
}

#[test]
fn garbage_is_a_clear_failure_without_content() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("garbage.pem", "this is not a certificate\n", "not valid PEM"),
        (
            "broken.pem",
            "-----BEGIN CERTIFICATE-----\nMIIBnotbase64!!\n-----END CERTIFICATE-----\n",
            "not valid PEM",
        ),
        (
            "key.pem",
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n",
            "no CERTIFICATE PEM block",
        ),
        ("empty.pem", "", "empty"),
    ];
    for (name, text, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let r = run_module(
            "mcs_cert_info",
            &json!({"dump_dir": shipped_dump(), "path": path}),
        );
        assert_eq!(r.json["failed"], true, "{name}: {}", r.stdout);
        assert_eq!(r.code, 1);
        let msg = r.json["msg"].as_str().unwrap();
        assert!(msg.contains(want) && msg.contains(name), "{name}: {msg}");
        for content in [
            "MII",
            "BEGIN CERTIFICATE",
            "BEGIN PRIVATE KEY",
            "not a certificate",
        ] {
            assert!(!r.stdout.contains(content), "{name}: {}", r.stdout);
        }
    }
    let r = run_module(
        "mcs_cert_info",
        &json!({"dump_dir": shipped_dump(), "path": dir.path().join("missing.pem")}),
    );
    assert_eq!(r.json["failed"], true);
    assert!(
        r.json["msg"].as_str().unwrap().contains("cannot read path"),
        "{}",
        r.json["msg"]
    );
}

#[test]
fn a_path_without_a_cluster_skips_the_ca_check_with_a_warning() {
    let path = fixture("certs/generated-cn-only-no-san-machine-config-server-tls.crt");
    let r = run_module("mcs_cert_info", &json!({"path": path}));
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["ca_verified"], Value::Null);
    assert_eq!(r.json["stub_secrets"], json!([]));
    assert_eq!(r.json["regeneration_required"], true);
    assert!(
        r.json["warnings"]
            .to_string()
            .contains("stub secrets not checked"),
        "{}",
        r.json["warnings"]
    );
}

#[test]
fn a_missing_secret_fails_and_names_the_way_out() {
    let objects: Vec<Value> = objects_under(&shipped_dump())
        .into_iter()
        .filter(|o| o["metadata"]["name"] != "machine-config-server-tls")
        .collect();
    let c = cluster_with(&objects);
    let r = run_module("mcs_cert_info", &json!({"kubeconfig": c.kubeconfig()}));
    assert_eq!(r.json["failed"], true, "{}", r.stdout);
    let msg = r.json["msg"].as_str().unwrap();
    assert!(
        msg.contains("machine-config-server-tls not found") && msg.contains("`path`"),
        "{msg}"
    );
}

#[test]
fn a_forbidden_secret_is_a_clear_failure() {
    let c = cluster_with_dump();
    let Some(server) = c.server() else { return };
    server.deny("get", "secrets");
    let r = run_module("mcs_cert_info", &json!({"kubeconfig": c.kubeconfig()}));
    assert_eq!(r.json["failed"], true, "{}", r.stdout);
    let msg = r.json["msg"].as_str().unwrap();
    assert!(
        msg.contains("machine-config-server-tls")
            && msg.contains("forbidden")
            && msg.contains("get"),
        "{msg}"
    );
}

#[test]
fn check_mode_changes_nothing_either() {
    let c = cluster_with_dump();
    let r = run_module(
        "mcs_cert_info",
        &json!({"kubeconfig": c.kubeconfig(), "_ansible_check_mode": true, "_ansible_diff": true}),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["changed"], false);
    assert_eq!(r.json.get("diff"), None);
    if let Some(server) = c.server() {
        assert_eq!(server.write_count(), 0);
    }
}

#[test]
fn the_output_matches_the_output_schema() {
    let (_, _, output) = ocp_bootimage::modules::schemas()
        .into_iter()
        .find(|(m, _, _)| *m == "mcs_cert_info")
        .expect("mcs_cert_info is registered");
    let validator = jsonschema::validator_for(output.as_value()).unwrap();
    for path in [
        None,
        Some(fixture(
            "certs/generated-cn-only-no-san-machine-config-server-tls.crt",
        )),
    ] {
        let r = run_module(
            "mcs_cert_info",
            &json!({"dump_dir": shipped_dump(), "path": path}),
        );
        let errors: Vec<String> = validator
            .iter_errors(&r.json)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }
}
