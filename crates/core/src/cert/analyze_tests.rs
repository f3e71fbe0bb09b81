//! Tests for [`super::analyze_mcs_certificate`] over the real fixtures in
//! `tests/fixtures/certs/` and the user-data Secrets in
//! `tests/fixtures/ignition/secrets/`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;

use super::*;
use crate::cert::{ca_pems_from_ignition, CertError};

macro_rules! cert_fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/certs/",
            $name
        ))
        .as_slice()
    };
}

const AZURE: &[u8] = cert_fixture!("azure-communityus-machine-config-server-tls.crt");
const AZURE_CA: &[u8] = cert_fixture!("azure-communityus-root-ca.crt");
const OPENSTACK: &[u8] = cert_fixture!("openstack-opentlc-machine-config-server-tls.crt");
const OPENSTACK_CA: &[u8] = cert_fixture!("openstack-opentlc-root-ca.crt");
const SNO: &[u8] = cert_fixture!("resourcewatch-sno-v2-machine-config-server-tls.crt");
const SNO_CA: &[u8] = cert_fixture!("resourcewatch-sno-v2-root-ca.crt");
const NO_SAN: &[u8] = cert_fixture!("generated-cn-only-no-san-machine-config-server-tls.crt");
const EXPIRED: &[u8] = cert_fixture!("generated-expired-san-machine-config-server-tls.crt");
const LEGACY_CA: &[u8] = cert_fixture!("generated-legacy-root-ca.crt");

const AZURE_WORKER_SECRET: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/ignition/secrets/azure-4.x-spec2.2.0-worker-user-data-secret.yaml"
));

const FAKE_KEY: &str = "-----BEGIN PRIVATE KEY-----\n\
                        U0VDUkVUS0VZTUFURVJJQUxTRUNSRVRLRVlNQVRFUklBTA==\n\
                        -----END PRIVATE KEY-----\n";
const FAKE_KEY_BODY: &str = "U0VDUkVUS0VZTUFURVJJQUxTRUNSRVRLRVlNQVRFUklBTA==";

/// Midnight UTC of a calendar date (proleptic Gregorian, year ≥ 1970).
fn utc(year: i64, month: i64, day: i64) -> SystemTime {
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    UNIX_EPOCH + Duration::from_secs(u64::try_from(days * 86_400).unwrap())
}

fn cas(list: &[&[u8]]) -> Vec<Vec<u8>> {
    list.iter().map(|c| c.to_vec()).collect()
}

fn analyze(pem: &[u8], ca_list: &[&[u8]], now: SystemTime) -> McsCertificateReport {
    analyze_mcs_certificate(pem, &cas(ca_list), now).unwrap()
}

fn err(pem: &[u8]) -> CertError {
    analyze_mcs_certificate(pem, &[], utc(2025, 1, 1)).unwrap_err()
}

#[test]
fn utc_helper_is_correct() {
    assert_eq!(
        utc(2025, 1, 1)
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        1_735_689_600
    );
    assert_eq!(
        utc(2000, 3, 1)
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        951_868_800
    );
}

#[test]
fn azure_communityus_dns_san_only_verified_by_its_root_ca() {
    let r = analyze(AZURE, &[AZURE_CA], utc(2025, 1, 1));
    assert_eq!(
        r.subject_cn.as_deref(),
        Some("api-int.ocp4.communityus.net")
    );
    assert_eq!(r.issuer_cn.as_deref(), Some("root-ca"));
    assert_eq!(r.dns_sans, vec!["api-int.ocp4.communityus.net"]);
    assert!(r.ip_sans.is_empty());
    assert!(r.has_san);
    assert_eq!(r.not_before, "2020-04-06T21:15:24Z");
    assert_eq!(r.not_after, "2030-04-04T21:43:11Z");
    assert!(!r.expired);
    assert!(!r.not_yet_valid);
    assert!(!r.regeneration_required);
    assert!(r.reasons.is_empty());
    assert_eq!(r.ca_verified, Some(true));
    assert_eq!(r.ca_subjects, vec!["OU=openshift, CN=root-ca"]);
    assert_eq!(r.serial, "05:2f:78:d0:e6:b1:fb:38");
    assert_eq!(
        r.fingerprint_sha256,
        "23:F0:55:40:BB:5B:C6:CE:31:DA:6F:00:AA:BF:BE:44:6C:91:2A:D7:45:86:F6:59:52:42:B2:B0:90:12:D5:A9"
    );
}

#[test]
fn openstack_opentlc_dns_and_ip_sans_including_ip_as_dns() {
    let r = analyze(OPENSTACK, &[OPENSTACK_CA], utc(2025, 1, 1));
    assert_eq!(
        r.subject_cn.as_deref(),
        Some("api-int.76f2.green.osp.opentlc.com")
    );
    assert_eq!(
        r.dns_sans,
        vec!["api-int.76f2.green.osp.opentlc.com", "192.168.47.5"]
    );
    assert_eq!(r.ip_sans, vec!["192.168.47.5"]);
    assert!(r.has_san);
    assert!(!r.regeneration_required);
    assert_eq!(r.ca_verified, Some(true));
    assert_eq!(r.serial, "43:57:f7:35:8d:75:08:83");
    assert_eq!(r.not_after, "2030-03-18T15:10:26Z");
}

#[test]
fn resourcewatch_sno_v2_system_cn_valid_until_2033() {
    let r = analyze(SNO, &[SNO_CA], utc(2026, 11, 25));
    assert_eq!(
        r.subject_cn.as_deref(),
        Some("system:machine-config-server")
    );
    assert_eq!(r.issuer_cn.as_deref(), Some("root-ca"));
    assert_eq!(r.dns_sans, vec!["api-int.ocp.choomba.one"]);
    assert!(r.ip_sans.is_empty());
    assert_eq!(r.not_before, "2023-03-09T14:10:14Z");
    assert_eq!(r.not_after, "2033-03-06T14:10:15Z");
    assert!(!r.expired);
    assert!(!r.regeneration_required);
    assert_eq!(r.ca_verified, Some(true));
    assert_eq!(
        r.fingerprint_sha256,
        "5E:1C:0C:B4:60:BA:A7:8E:23:7F:64:EB:18:59:BC:1D:84:2B:B9:E1:BA:D4:86:16:58:4F:CB:B0:69:6A:E2:65"
    );

    // The same certificate after its end of validity.
    let later = analyze(SNO, &[SNO_CA], utc(2033, 3, 7));
    assert!(later.expired);
    assert!(later.regeneration_required);
    assert_eq!(later.reasons.len(), 1);
    assert!(later.reasons[0].contains("expired at 2033-03-06T14:10:15Z"));
}

#[test]
fn expiry_boundary_is_exclusive() {
    // not_after = 2021-01-01T00:00:00Z exactly.
    let at = analyze(EXPIRED, &[], utc(2021, 1, 1));
    assert!(!at.expired);
    let after = analyze(EXPIRED, &[], utc(2021, 1, 1) + Duration::from_secs(1));
    assert!(after.expired);
}

#[test]
fn generated_cn_only_certificate_requires_regeneration() {
    let r = analyze(NO_SAN, &[LEGACY_CA], utc(2027, 6, 1));
    assert_eq!(r.subject_cn.as_deref(), Some("api-int.legacy.example.com"));
    assert!(!r.has_san);
    assert!(r.dns_sans.is_empty() && r.ip_sans.is_empty());
    assert!(!r.expired);
    assert!(r.regeneration_required);
    assert_eq!(r.reasons.len(), 1);
    assert!(r.reasons[0].contains("no Subject Alternative Name"));
    assert!(r.reasons[0].contains("Regenerate"));
    assert_eq!(r.ca_verified, Some(true));
    assert_eq!(r.serial, "02");
}

#[test]
fn generated_cn_only_certificate_is_not_yet_valid_before_its_start() {
    // Generated with notBefore 2026-11-25T15:42:04Z.
    let r = analyze(NO_SAN, &[], utc(2026, 1, 1));
    assert!(r.not_yet_valid);
    assert!(!r.expired);
    assert_eq!(r.not_before, "2026-11-25T15:42:04Z");
}

#[test]
fn generated_expired_certificate_requires_regeneration() {
    let r = analyze(EXPIRED, &[LEGACY_CA], utc(2025, 1, 1));
    assert_eq!(
        r.subject_cn.as_deref(),
        Some("system:machine-config-server")
    );
    assert_eq!(r.dns_sans, vec!["api-int.expired.example.com"]);
    assert!(r.has_san);
    assert!(r.expired);
    assert!(!r.not_yet_valid);
    assert!(r.regeneration_required);
    assert_eq!(r.reasons.len(), 1);
    assert!(r.reasons[0].contains("expired at 2021-01-01T00:00:00Z"));
    assert_eq!(r.ca_verified, Some(true));
    assert_eq!(r.not_before, "2020-01-01T00:00:00Z");
}

#[test]
fn no_ca_given_means_not_checked() {
    let r = analyze(AZURE, &[], utc(2025, 1, 1));
    assert_eq!(r.ca_verified, None);
    assert!(r.ca_subjects.is_empty());
}

#[test]
fn wrong_ca_with_same_subject_fails_signature_check() {
    // All OpenShift root CAs are named "OU=openshift, CN=root-ca": only the
    // signature tells them apart.
    for (cert, wrong) in [
        (AZURE, OPENSTACK_CA),
        (OPENSTACK, SNO_CA),
        (SNO, LEGACY_CA),
        (NO_SAN, AZURE_CA),
        (EXPIRED, SNO_CA),
    ] {
        let r = analyze(cert, &[wrong], utc(2025, 1, 1));
        assert_eq!(r.ca_verified, Some(false));
        assert_eq!(r.ca_subjects, vec!["OU=openshift, CN=root-ca"]);
    }
}

#[test]
fn ca_whose_subject_differs_from_issuer_is_not_accepted() {
    // A leaf certificate given as "CA": subject is not the issuer.
    let r = analyze(AZURE, &[SNO], utc(2025, 1, 1));
    assert_eq!(r.ca_verified, Some(false));
    assert_eq!(r.ca_subjects, vec!["CN=system:machine-config-server"]);
}

#[test]
fn any_of_several_cas_and_bundles_may_verify() {
    let r = analyze(AZURE, &[OPENSTACK_CA, AZURE_CA], utc(2025, 1, 1));
    assert_eq!(r.ca_verified, Some(true));
    assert_eq!(r.ca_subjects.len(), 2);

    let bundle = [SNO_CA, OPENSTACK_CA].concat();
    let r = analyze(OPENSTACK, &[&bundle], utc(2025, 1, 1));
    assert_eq!(r.ca_verified, Some(true));
    assert_eq!(r.ca_subjects.len(), 2);
}

#[test]
fn ca_extracted_from_real_user_data_secret_verifies_azure_certificate() {
    let secret: serde_json::Value = serde_yaml::from_str(AZURE_WORKER_SECRET).unwrap();
    let user_data = secret["data"]["userData"].as_str().unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(user_data)
        .unwrap();
    let ignition: serde_json::Value = serde_json::from_slice(&decoded).unwrap();
    assert_eq!(ignition["ignition"]["version"], "2.2.0");

    let ca_pems = ca_pems_from_ignition(&ignition);
    assert_eq!(ca_pems.len(), 1);
    // The fixture root CA was decoded from this very data URL.
    assert_eq!(ca_pems[0], AZURE_CA);

    let r = analyze_mcs_certificate(AZURE, &ca_pems, utc(2025, 1, 1)).unwrap();
    assert_eq!(r.ca_verified, Some(true));
    assert!(!r.regeneration_required);

    // The CA of another cluster does not verify it.
    let r = analyze_mcs_certificate(OPENSTACK, &ca_pems, utc(2025, 1, 1)).unwrap();
    assert_eq!(r.ca_verified, Some(false));
}

#[test]
fn cas_of_every_ignition_fixture_are_usable_bundles() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/ignition");
    let mut with_ca = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("ign") {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let ca_pems = ca_pems_from_ignition(&value);
        if ca_pems.is_empty() {
            continue;
        }
        with_ca += 1;
        let r = analyze_mcs_certificate(AZURE, &ca_pems, utc(2025, 1, 1))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(r.ca_verified, Some(false), "{}", path.display());
        assert_eq!(r.ca_subjects, vec!["OU=openshift, CN=root-ca"]);
    }
    assert_eq!(with_ca, 6);
}

#[test]
fn first_certificate_of_a_chain_is_the_serving_certificate() {
    let chain = [AZURE, AZURE_CA].concat();
    let r = analyze(&chain, &[AZURE_CA], utc(2025, 1, 1));
    assert_eq!(
        r.subject_cn.as_deref(),
        Some("api-int.ocp4.communityus.net")
    );

    let reversed = [AZURE_CA, AZURE].concat();
    let r = analyze(&reversed, &[], utc(2025, 1, 1));
    assert_eq!(r.subject_cn.as_deref(), Some("root-ca"));
    assert!(!r.has_san);
}

#[test]
fn private_key_blocks_are_skipped_and_never_echoed() {
    for pem in [
        [FAKE_KEY.as_bytes(), SNO].concat(),
        [SNO, FAKE_KEY.as_bytes()].concat(),
    ] {
        let r = analyze(&pem, &[SNO_CA], utc(2025, 1, 1));
        assert_eq!(
            r.subject_cn.as_deref(),
            Some("system:machine-config-server")
        );
        assert_eq!(r.ca_verified, Some(true));
        let json = serde_json::to_string(&r).unwrap();
        assert!(!json.contains(FAKE_KEY_BODY));
    }
}

#[test]
fn private_key_only_is_no_certificate() {
    let e = err(FAKE_KEY.as_bytes());
    assert_eq!(e, CertError::NoCertificate { other_blocks: 1 });
    let msg = e.to_string();
    assert!(msg.contains("tls.key"), "{msg}");
    assert!(!msg.contains(FAKE_KEY_BODY));
    assert!(!msg.contains("PRIVATE"));
}

#[test]
fn empty_input_is_a_clear_error() {
    assert_eq!(err(b""), CertError::Empty);
    assert_eq!(err(b"  \r\n\t\n"), CertError::Empty);
    assert!(err(b"").to_string().contains("empty"));
}

#[test]
fn garbage_is_invalid_pem_without_echo() {
    for garbage in [
        "not a certificate at all",
        "{\"apiVersion\":\"v1\",\"kind\":\"Secret\"}",
        "-----BEGIN-----\nabc\n-----END-----\n",
        "-----BEGIN CERTIFICATE\nabcd\n-----END CERTIFICATE-----\n",
    ] {
        let e = err(garbage.as_bytes());
        assert!(
            matches!(e, CertError::InvalidPem { .. }),
            "{garbage}: {e:?}"
        );
        assert!(!e.to_string().contains(garbage));
    }
    let binary: Vec<u8> = (0u8..=255).rev().cycle().take(4096).collect();
    assert!(matches!(err(&binary), CertError::InvalidPem { .. }));
    let invalid_utf8 = b"\xff\xfe\xfd-----BEGIN CERTIFICATE-----\n\xff\n";
    assert!(matches!(err(invalid_utf8), CertError::InvalidPem { .. }));
}

#[test]
fn still_base64_encoded_or_der_input_gets_a_hint() {
    let encoded = base64::engine::general_purpose::STANDARD.encode(AZURE);
    let e = err(encoded.as_bytes());
    assert!(e.to_string().contains("base64-encoded"), "{e}");
    assert!(!e.to_string().contains(&encoded[..20]));

    let der = super::super::pem::first_certificate_block(AZURE)
        .unwrap()
        .der;
    let e = err(&der);
    assert!(e.to_string().contains("DER"), "{e}");
}

#[test]
fn truncated_pem_is_a_clear_error() {
    let text = std::str::from_utf8(AZURE).unwrap();
    // Cut in the middle: no END line.
    let e = err(&AZURE[..AZURE.len() / 2]);
    assert!(matches!(e, CertError::InvalidPem { .. }), "{e:?}");
    assert!(e.to_string().contains("no `-----END` line"), "{e}");

    // Lines missing from the middle: the base64 still decodes, the DER is short.
    let lines: Vec<&str> = text.lines().collect();
    let shortened = [&lines[..4], &lines[lines.len() - 1..]].concat().join("\n");
    let e = err(shortened.as_bytes());
    assert!(
        matches!(e, CertError::InvalidCertificate { line: 1, .. }),
        "{e:?}"
    );
    assert!(!e.to_string().contains(lines[2]));

    // A line cut in half: invalid base64.
    let mut broken = lines.clone();
    broken[3] = &lines[3][..10];
    let e = err(broken.join("\n").as_bytes());
    assert!(matches!(e, CertError::InvalidPem { .. }), "{e:?}");
    assert!(!e.to_string().contains(broken[3]));
}

#[test]
fn every_prefix_of_a_certificate_fails_cleanly_or_parses() {
    let full = [AZURE, FAKE_KEY.as_bytes()].concat();
    for len in 0..full.len() {
        match analyze_mcs_certificate(&full[..len], &[], utc(2025, 1, 1)) {
            Ok(r) => assert_eq!(r.serial, "05:2f:78:d0:e6:b1:fb:38"),
            Err(e) => assert!(!e.to_string().contains(FAKE_KEY_BODY)),
        }
    }
}

#[test]
fn structural_pem_errors() {
    let mismatched = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----\n";
    let e = err(mismatched.as_bytes());
    assert!(e.to_string().contains("does not match"), "{e}");

    let nested = "-----BEGIN CERTIFICATE-----\nAAAA\n-----BEGIN CERTIFICATE-----\n";
    let e = err(nested.as_bytes());
    assert!(
        e.to_string().contains("before the block from line 1"),
        "{e}"
    );

    let empty_block = "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
    let e = err(empty_block.as_bytes());
    assert!(e.to_string().contains("no content"), "{e}");
}

#[test]
fn valid_base64_that_is_not_a_certificate() {
    let pem = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
    let e = err(pem.as_bytes());
    assert!(matches!(e, CertError::InvalidCertificate { .. }), "{e:?}");
    assert!(!e.to_string().contains("hello"));
}

#[test]
fn trailing_bytes_after_der_are_rejected() {
    let mut der = super::super::pem::first_certificate_block(AZURE)
        .unwrap()
        .der;
    der.extend_from_slice(b"xyz");
    let body = base64::engine::general_purpose::STANDARD.encode(&der);
    let pem = format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n");
    let e = err(pem.as_bytes());
    assert!(e.to_string().contains("3 unexpected byte(s)"), "{e}");
}

#[test]
fn crlf_and_surrounding_text_are_accepted() {
    let crlf = std::str::from_utf8(SNO).unwrap().replace('\n', "\r\n");
    let text = format!("subject=CN = system:machine-config-server\r\n{crlf}trailer\n");
    let r = analyze(text.as_bytes(), &[SNO_CA], utc(2025, 1, 1));
    assert_eq!(r.ca_verified, Some(true));
}

#[test]
fn invalid_ca_bundle_is_reported_with_its_index() {
    let bundles = cas(&[AZURE_CA, b"garbage", FAKE_KEY.as_bytes()]);
    let e = analyze_mcs_certificate(AZURE, &bundles, utc(2025, 1, 1)).unwrap_err();
    assert!(
        matches!(e, CertError::InvalidCaBundle { index: 1, .. }),
        "{e:?}"
    );
    assert!(!e.to_string().contains("garbage"));

    let e =
        analyze_mcs_certificate(AZURE, &cas(&[FAKE_KEY.as_bytes()]), utc(2025, 1, 1)).unwrap_err();
    assert!(
        matches!(e, CertError::InvalidCaBundle { index: 0, .. }),
        "{e:?}"
    );
    assert!(!e.to_string().contains(FAKE_KEY_BODY));

    let e = analyze_mcs_certificate(AZURE, &[Vec::new()], utc(2025, 1, 1)).unwrap_err();
    assert!(e.to_string().contains("CA bundle #0"), "{e}");
}

#[test]
fn before_unix_epoch_is_handled() {
    let r = analyze(AZURE, &[], UNIX_EPOCH - Duration::from_secs(10));
    assert!(r.not_yet_valid);
    assert!(!r.expired);
}

#[test]
fn report_serializes_and_schema_has_field_descriptions() {
    let r = analyze(SNO, &[SNO_CA], utc(2025, 1, 1));
    let json = serde_json::to_value(&r).unwrap();
    for key in [
        "subject_cn",
        "issuer_cn",
        "dns_sans",
        "ip_sans",
        "not_before",
        "not_after",
        "expired",
        "not_yet_valid",
        "has_san",
        "regeneration_required",
        "reasons",
        "ca_verified",
        "ca_subjects",
        "serial",
        "fingerprint_sha256",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    assert_eq!(json.as_object().unwrap().len(), 15);

    let schema = serde_json::to_value(schemars::schema_for!(McsCertificateReport)).unwrap();
    let props = schema["properties"].as_object().unwrap();
    assert_eq!(props.len(), 15);
    for (name, prop) in props {
        assert!(
            prop.get("description").and_then(|d| d.as_str()).is_some(),
            "{name} has no description"
        );
    }
}
