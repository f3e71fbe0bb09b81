//! The planner of `mcs_certificate` on generated clusters: a CN-only certificate as old
//! installers made it is regenerated, the plan applied in memory is then up to date (and
//! a plan stopped half-way is completed), bare metal gets IP SANs and root-ca, rotation
//! happens once per run id, expiry and the renewal window count, the MCO's own CA and a
//! hosted control plane are left alone, extra CAs in a stub are kept, and a rollback of a
//! key Secret only restores what the run wrote from an intact backup.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, PKCS_RSA_SHA256};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::{json, Value};

use super::*;
use crate::cert::issue::CertAndKey;
use crate::plan::change::apply_merge_patch;
use crate::plan::rollback::{plan_key_secret, EntryResult, KeySecretRestore};

const HOST: &str = "api-int.example.com";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn rsa() -> rsa::RsaPrivateKey {
    rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap()
}

fn keys() -> FreshKeys {
    FreshKeys {
        signer_key: rsa().to_pkcs1_pem(LineEnding::LF).unwrap().to_string(),
        signer_serial: vec![1, 2, 3],
        serving_key: rsa().to_pkcs1_pem(LineEnding::LF).unwrap().to_string(),
        serving_serial: vec![4, 5, 6],
    }
}

/// An installer's `root-ca` and a CN-only leaf it signed, valid for `days`.
fn legacy(days: i64) -> (String, CertAndKey) {
    let pair = |k: &rsa::RsaPrivateKey| {
        let pem = k.to_pkcs8_pem(LineEnding::LF).unwrap();
        KeyPair::from_pkcs8_pem_and_sign_algo(&pem, &PKCS_RSA_SHA256).unwrap()
    };
    let (ca_rsa, leaf_rsa) = (rsa(), rsa());
    let (ca_key, leaf_key) = (pair(&ca_rsa), pair(&leaf_rsa));
    let now = time::OffsetDateTime::now_utc();
    let mut ca = CertificateParams::default();
    ca.distinguished_name.push(DnType::CommonName, "root-ca");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.not_before = now - time::Duration::days(1);
    ca.not_after = now + time::Duration::days(3650);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, &ca_key);
    let mut leaf = CertificateParams::default();
    leaf.distinguished_name.push(DnType::CommonName, HOST);
    leaf.not_before = now - time::Duration::days(1);
    leaf.not_after = now + time::Duration::days(days);
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    (
        ca_cert.pem(),
        CertAndKey {
            cert_pem: leaf_cert.pem(),
            key_pem: leaf_rsa.to_pkcs1_pem(LineEnding::LF).unwrap().to_string(),
        },
    )
}

fn infra(platform: &str, ips: &[&str]) -> Value {
    let mut i = json!({
        "kind": "Infrastructure",
        "metadata": {"name": "cluster"},
        "status": {
            "apiServerInternalURI": format!("https://{HOST}:6443"),
            "controlPlaneTopology": "HighlyAvailable",
            "platformStatus": {"type": platform},
        }
    });
    if !ips.is_empty() {
        i["status"]["platformStatus"]["baremetal"] = json!({"apiServerInternalIPs": ips});
    }
    i
}

fn tls_secret(leaf: &CertAndKey, ty: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": ty,
        "metadata": {"name": "machine-config-server-tls", "namespace": "openshift-machine-config-operator", "resourceVersion": "1"},
        "data": {"tls.crt": b64(leaf.cert_pem.as_bytes()), "tls.key": b64(leaf.key_pem.as_bytes())},
    })
}

fn stub(name: &str, version: &str, cas: &[&str]) -> Value {
    let list: Vec<Value> = cas
        .iter()
        .map(|c| json!({"source": ca_data_url(c)}))
        .collect();
    let ign = json!({"ignition": {"version": version, "security": {"tls": {"certificateAuthorities": list}}}});
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": "openshift-machine-api", "resourceVersion": "1"},
        "data": {"userData": b64(ign.to_string().as_bytes())},
    })
}

fn options(state: McsState, run: &str, renew_days: u64) -> McsOptions {
    McsOptions {
        state,
        renew_within: Duration::from_secs(renew_days * 86_400),
        run_id: run.into(),
        now: SystemTime::now(),
    }
}

/// A cluster's objects, by (kind, name).
#[derive(Clone)]
struct World {
    infra: Value,
    tls: Value,
    ca_secret: Option<Value>,
    ca_bundle: Option<Value>,
    root_ca: Option<Value>,
    stubs: BTreeMap<String, Value>,
    backups: BTreeMap<String, Value>,
}

impl World {
    fn legacy(platform: &str, ips: &[&str]) -> (World, String) {
        let (ca, leaf) = legacy(3650);
        let mut stubs = BTreeMap::new();
        stubs.insert(
            "worker-user-data".into(),
            stub("worker-user-data", "2.2.0", &[&ca]),
        );
        stubs.insert(
            "master-user-data".into(),
            stub("master-user-data", "3.2.0", &[&ca]),
        );
        let w = World {
            infra: infra(platform, ips),
            tls: tls_secret(&leaf, "Opaque"),
            ca_secret: None,
            ca_bundle: None,
            root_ca: None,
            stubs,
            backups: BTreeMap::new(),
        };
        (w, ca)
    }

    fn objects(&self) -> McsObjects<'_> {
        McsObjects {
            infrastructure: Some(&self.infra),
            tls: Some(&self.tls),
            ca_secret: self.ca_secret.as_ref(),
            ca_bundle: self.ca_bundle.as_ref(),
            root_ca: self.root_ca.as_ref(),
            stubs: &self.stubs,
        }
    }

    fn try_plan(&self, state: McsState, run: &str, renew_days: u64) -> Result<McsPlan, McsError> {
        let options = options(state, run, renew_days);
        plan_mcs_certificate(&self.objects(), &self.backups, &options, Some(&keys()))
    }

    fn plan(&self, state: McsState, run: &str, renew_days: u64) -> McsPlan {
        self.try_plan(state, run, renew_days).unwrap()
    }

    /// Applies the first `steps` writes of `plan` in its order (backups and signer,
    /// then each object change, then the serving Secret).
    fn apply(&mut self, plan: &McsPlan, steps: usize) {
        let mut done = 0;
        let mut step = |w: &mut World, f: &dyn Fn(&mut World)| {
            if done < steps {
                f(w);
                done += 1;
            }
        };
        if let Some(s) = &plan.signer {
            step(self, &|w| w.ca_secret = Some(s.after.clone()));
        }
        for b in [&plan.signer, &plan.serving].into_iter().flatten() {
            if let (Some(b), Some(n)) = (&b.backup, &b.backup_name) {
                self.backups.insert(n.clone(), b.clone());
            }
        }
        for c in &plan.changes {
            step(self, &|w| {
                let mut obj = c.before.clone().unwrap_or(json!({}));
                match c.patch() {
                    Some(p) => apply_merge_patch(&mut obj, &p),
                    None => obj = c.after.clone(),
                }
                match (c.kind.kind, c.name.as_str()) {
                    ("ConfigMap", "root-ca") => w.root_ca = Some(obj),
                    ("ConfigMap", _) => w.ca_bundle = Some(obj),
                    _ => {
                        w.stubs.insert(c.name.clone(), obj);
                    }
                }
            });
        }
        if let Some(s) = &plan.serving {
            step(self, &|w| w.tls = s.after.clone());
        }
    }
}

fn stub_cas(w: &World, name: &str) -> Vec<Vec<u8>> {
    let s = &w.stubs[name];
    let ign: Value =
        serde_json::from_slice(&crate::ignition::decode_secret_user_data(s).unwrap()).unwrap();
    crate::cert::ca_pems_from_ignition(&ign)
}

fn tls_report(w: &World, name: &str) -> crate::cert::McsCertificateReport {
    let crt = data_bytes(&w.tls, "tls.crt").unwrap();
    crate::cert::analyze_mcs_certificate(&crt, &stub_cas(w, name), SystemTime::now()).unwrap()
}

#[test]
fn a_cn_only_certificate_is_regenerated_and_then_up_to_date() {
    let (mut w, old_ca) = World::legacy("AWS", &[]);
    let plan = w.plan(McsState::Regenerated, "run-1", 365);
    assert_eq!(plan.report.action, McsAction::Regenerate);
    assert!(plan.report.reasons[0].contains("no Subject Alternative Name"));
    assert_eq!(plan.report.hostnames, vec![HOST]);
    let signer = plan.signer.as_ref().unwrap();
    assert!(signer.before.is_none() && signer.backup.is_none());
    let serving = plan.serving.as_ref().unwrap();
    assert!(serving.recreate, "Opaque → kubernetes.io/tls is recreated");
    assert_eq!(
        serving.backup_name.as_deref(),
        Some("machine-config-server-tls-backup")
    );
    // Bundle ConfigMap created, both stubs updated.
    assert_eq!(plan.changes.len(), 3);
    assert_eq!(plan.report.ca_bundle_certificates, 2);
    // The record entries hold digests, never content.
    let entry = serving.record_entry("run-1", "t", "mcs_certificate");
    assert!(!entry.old.to_string().contains("LS0t"));
    assert!(entry.new["sha256"].as_str().unwrap().starts_with("sha256:"));

    w.apply(&plan, usize::MAX);
    for stub in ["worker-user-data", "master-user-data"] {
        let r = tls_report(&w, stub);
        assert_eq!(r.dns_sans, vec![HOST]);
        assert_eq!(r.ca_verified, Some(true));
        // The old CA is still trusted (valid): the bundle carries both.
        let bundle = String::from_utf8(stub_cas(&w, stub).remove(0)).unwrap();
        assert!(bundle.contains(old_ca.lines().nth(1).unwrap()));
    }
    let again = w.plan(McsState::Regenerated, "run-2", 365);
    assert_eq!(
        again.report.action,
        McsAction::UpToDate,
        "{:?}",
        again.report
    );
    assert!(!again.writes());
    assert_eq!(again.report.signer.as_ref().unwrap().source, "existing");
}

#[test]
fn a_run_stopped_half_way_is_completed_with_its_signer() {
    let (mut w, _) = World::legacy("AWS", &[]);
    let plan = w.plan(McsState::Regenerated, "run-1", 365);
    // Signer and bundle written, stubs and the serving certificate not.
    w.apply(&plan, 2);
    let signer = w.ca_secret.clone().unwrap();
    let rest = w.plan(McsState::Regenerated, "run-1", 365);
    assert_eq!(rest.report.action, McsAction::Regenerate);
    assert!(rest.signer.is_none(), "the run's signer is reused");
    assert_eq!(rest.changes.len(), 2, "the two stubs are left");
    w.apply(&rest, usize::MAX);
    assert_eq!(w.ca_secret, Some(signer));
    assert_eq!(tls_report(&w, "worker-user-data").ca_verified, Some(true));
    assert!(!w.plan(McsState::Regenerated, "run-1", 365).writes());
}

#[test]
fn bare_metal_gets_ip_sans_and_root_ca() {
    let (mut w, _) = World::legacy("BareMetal", &["192.0.2.5", "2001:db8::5"]);
    w.root_ca = Some(
        json!({"kind": "ConfigMap", "metadata": {"name": "root-ca", "namespace": "kube-system"}, "data": {"ca.crt": "old"}}),
    );
    let plan = w.plan(McsState::Regenerated, "run-1", 365);
    assert_eq!(
        plan.report.hostnames,
        vec![HOST, "192.0.2.5", "2001:db8::5"]
    );
    assert_eq!(plan.report.root_ca.as_deref(), Some("update"));
    w.apply(&plan, usize::MAX);
    let r = tls_report(&w, "worker-user-data");
    assert_eq!(r.ip_sans, vec!["192.0.2.5", "2001:db8::5"]);
    let root = w.root_ca.as_ref().unwrap()["data"]["ca.crt"]
        .as_str()
        .unwrap();
    assert!(root.contains("BEGIN CERTIFICATE"));
    assert!(!w.plan(McsState::Regenerated, "run-2", 365).writes());
}

#[test]
fn rotation_happens_once_per_run_id() {
    let (mut w, _) = World::legacy("AWS", &[]);
    let first = w.plan(McsState::Regenerated, "run-1", 365);
    w.apply(&first, usize::MAX);
    // run-1 is let go: its backup deleted (see another_runs_backup_is_never_overwritten).
    w.backups.clear();
    let rotate = w.plan(McsState::Rotated, "run-2", 365);
    assert_eq!(rotate.report.action, McsAction::Regenerate);
    assert!(rotate
        .report
        .reasons
        .contains(&"state: rotated".to_string()));
    let signer = rotate.signer.as_ref().unwrap();
    assert!(
        signer.backup.is_some(),
        "the old signer is kept in a backup"
    );
    w.apply(&rotate, usize::MAX);
    assert!(!w.plan(McsState::Rotated, "run-2", 365).writes());
    w.backups.clear();
    assert!(w.plan(McsState::Rotated, "run-3", 365).writes());
}

#[test]
fn expiry_and_the_renewal_window_count() {
    let (ca, leaf) = legacy(100);
    let (mut w, _) = World::legacy("AWS", &[]);
    // A SAN certificate from a previous run would be fine; make one that ends in 100 days.
    w.stubs = BTreeMap::from([(
        "worker-user-data".to_string(),
        stub("worker-user-data", "3.2.0", &[&ca]),
    )]);
    w.tls = tls_secret(&leaf, "kubernetes.io/tls");
    let soon = w.plan(McsState::Regenerated, "r", 365);
    assert!(soon
        .report
        .reasons
        .iter()
        .any(|r| r.contains("within the renewal window")));
    let plan = w.plan(McsState::Regenerated, "r", 30);
    // Only the missing SAN remains as a reason with a 30-day window.
    assert!(!plan.report.reasons.iter().any(|r| r.contains("renewal")));
}

#[test]
fn the_mcos_own_ca_and_a_hosted_control_plane_are_left_alone() {
    let (mut w, _) = World::legacy("AWS", &[]);
    w.ca_bundle = Some(json!({"kind": "ConfigMap", "metadata": {"name": CA_NAME,
        "annotations": {OWNING_COMPONENT: MCO_COMPONENT}}, "data": {}}));
    let plan = w.plan(McsState::Rotated, "r", 365);
    assert_eq!(plan.report.action, McsAction::CheckOnly);
    assert!(!plan.writes());
    assert!(
        !plan.warnings.is_empty(),
        "the bad certificate is still named"
    );
    let (mut w, _) = World::legacy("AWS", &[]);
    w.infra["status"]["controlPlaneTopology"] = json!("External");
    let plan = w.plan(McsState::Rotated, "r", 365);
    assert_eq!(plan.report.action, McsAction::Skipped);
    assert!(!plan.writes());
}

#[test]
fn extra_cas_in_a_stub_are_kept_and_non_ignition_is_skipped() {
    let (mut w, ca) = World::legacy("AWS", &[]);
    let (other, _) = legacy(10);
    w.stubs.insert(
        "extra-user-data".into(),
        stub("extra-user-data", "3.2.0", &[&ca, &other]),
    );
    w.stubs.insert(
        "windows-user-data".into(),
        json!({"metadata": {"name": "windows-user-data"}, "data": {"userData": b64(b"<powershell/>")}}),
    );
    w.stubs.insert(
        "worker-user-data-managed".into(),
        stub("worker-user-data-managed", "3.2.0", &[&ca]),
    );
    let plan = w.plan(McsState::Regenerated, "r", 365);
    let action = |n: &str| {
        plan.report
            .stubs
            .iter()
            .find(|s| s.name == n)
            .unwrap()
            .action
            .clone()
    };
    assert_eq!(action("windows-user-data"), "skip");
    assert_eq!(action("worker-user-data-managed"), "skip");
    assert_eq!(action("extra-user-data"), "update");
    w.apply(&plan, usize::MAX);
    let cas = stub_cas(&w, "extra-user-data");
    assert_eq!(cas.len(), 2);
    assert_eq!(cas[1], other.as_bytes());
}

#[test]
fn a_key_secret_is_restored_only_from_an_intact_backup_of_what_the_run_replaced() {
    let (mut w, _) = World::legacy("AWS", &[]);
    let plan = w.plan(McsState::Regenerated, "run-1", 365);
    let serving = plan.serving.clone().unwrap();
    let entry = serving.record_entry("run-1", "t", "mcs_certificate");
    w.apply(&plan, usize::MAX);
    let backup = w.backups["machine-config-server-tls-backup"].clone();
    let entries = [&entry];
    // Holds what the run wrote, backup intact: restored from it, with the old metadata.
    let (action, reports) = plan_key_secret(&entries, Some(&w.tls), Some(&backup), false);
    assert_eq!(
        action,
        KeySecretRestore::FromBackup {
            backup: "machine-config-server-tls-backup".into()
        }
    );
    assert_eq!(reports[0].result, EntryResult::Restored);
    let restored = restored_from_backup("machine-config-server-tls", &backup);
    assert_eq!(
        secret_content_digest(&restored),
        secret_content_digest(serving.before.as_ref().unwrap())
    );
    // Changed since: a conflict; a tampered backup: a conflict even when forced.
    let mut changed = w.tls.clone();
    changed["data"]["tls.key"] = json!("eA==");
    assert_eq!(
        plan_key_secret(&entries, Some(&changed), Some(&backup), false).1[0].result,
        EntryResult::Conflict
    );
    let mut tampered = backup.clone();
    tampered["data"]["tls.key"] = json!("eA==");
    assert_eq!(
        plan_key_secret(&entries, Some(&w.tls), Some(&tampered), true).0,
        KeySecretRestore::Nothing
    );
    // Already back (the run stopped before replacing it): only the run's backup goes.
    let (a, r) = plan_key_secret(&entries, Some(&restored), Some(&backup), false);
    assert_eq!(
        (a, r[0].result),
        (
            KeySecretRestore::DropBackup {
                backup: "machine-config-server-tls-backup".into()
            },
            EntryResult::AlreadyRestored
        )
    );
    let (a, _) = plan_key_secret(&entries, Some(&restored), None, false);
    assert_eq!(a, KeySecretRestore::Nothing);
    // A Secret the run created is deleted while it holds what the run wrote.
    let signer = plan.signer.unwrap();
    let created = signer.record_entry("run-1", "t", "mcs_certificate");
    assert_eq!(
        plan_key_secret(&[&created], Some(&signer.after), None, false).0,
        KeySecretRestore::Delete
    );
    assert_eq!(
        plan_key_secret(&[&created], None, None, false).1[0].result,
        EntryResult::AlreadyRestored
    );
}

#[test]
fn a_run_killed_between_delete_and_create_finishes_from_its_backup() {
    let (mut w, _) = World::legacy("AWS", &[]);
    let plan = w.plan(McsState::Rotated, "run-1", 365);
    assert!(plan.serving.as_ref().unwrap().recreate);
    // Everything but the serving Secret, which was deleted and not created again.
    w.apply(&plan, plan.changes.len() + 1);
    let original = w.tls.clone();
    let objects = McsObjects {
        tls: None,
        ..w.objects()
    };
    let options = options(McsState::Rotated, "run-1", 365);
    let rest = plan_mcs_certificate(&objects, &w.backups, &options, Some(&keys())).unwrap();
    let serving = rest.serving.unwrap();
    assert!(serving.before.is_none() && !serving.recreate, "created");
    assert!(rest.signer.is_none(), "the run's signer is reused");
    assert_eq!(
        serving.after["metadata"]["name"],
        "machine-config-server-tls"
    );
    assert_eq!(
        restored_from_backup(
            "machine-config-server-tls",
            &w.backups["machine-config-server-tls-backup"]
        )["data"],
        original["data"]
    );
    // Without the run's backup there is nothing to go on.
    let none = BTreeMap::new();
    assert_eq!(
        plan_mcs_certificate(&objects, &none, &options, Some(&keys())).unwrap_err(),
        McsError::NoTlsSecret
    );
}

#[test]
fn an_assessment_says_what_a_run_would_do_and_writes_nothing() {
    let (w, _) = World::legacy("AWS", &[]);
    let options = options(McsState::Regenerated, "r", 365);
    let a = plan_mcs_certificate(&w.objects(), &BTreeMap::new(), &options, None).unwrap();
    assert_eq!(a.report.action, McsAction::Regenerate);
    assert!(a.report.reasons[0].contains("no Subject Alternative Name"));
    assert!(!a.writes());
}

#[test]
fn another_runs_backup_is_never_overwritten() {
    let (mut w, _) = World::legacy("AWS", &[]);
    let first = w.plan(McsState::Regenerated, "run-1", 365);
    w.apply(&first, usize::MAX);
    // run-1's backup still holds the installer's certificate: rotating again would have to
    // overwrite it, and rolling run-1 back would then restore the wrong key.
    let err = w.try_plan(McsState::Rotated, "run-2", 365).unwrap_err();
    assert!(
        matches!(&err, McsError::BackupTaken { run, .. } if run == "run-1"),
        "{err}"
    );
    assert!(err
        .to_string()
        .contains("delete secret machine-config-server-tls-backup"));
    // Once the backup is gone (run-1 rolled back or let go), the rotation plans.
    w.backups.clear();
    assert!(w.try_plan(McsState::Rotated, "run-2", 365).is_ok());
}

#[test]
fn the_hostnames_are_the_internal_api_host_and_the_platforms_internal_ips() {
    let infra = |uri: &str, status: Value| json!({"status": {"apiServerInternalURI": uri, "platformStatus": status}});
    let vsphere = infra(
        "https://api-int.v.example.com:6443",
        json!({"type": "VSphere", "vsphere": {"apiServerInternalIP": "10.0.0.5"}}),
    );
    assert_eq!(
        mcs_hostnames(&vsphere).unwrap(),
        vec!["api-int.v.example.com", "10.0.0.5"]
    );
    let aws = infra("https://api-int.a.example.com:6443", json!({"type": "AWS"}));
    assert_eq!(mcs_hostnames(&aws).unwrap(), vec!["api-int.a.example.com"]);
    let v6 = infra(
        "https://[fd00::1]:6443",
        json!({"type": "BareMetal", "baremetal": {"apiServerInternalIPs": ["fd00::1", "fd00::2"]}}),
    );
    assert_eq!(mcs_hostnames(&v6).unwrap(), vec!["fd00::1", "fd00::2"]);
    assert_eq!(
        mcs_hostnames(&json!({"status": {}})).unwrap_err(),
        McsError::NoInternalUri
    );
}
