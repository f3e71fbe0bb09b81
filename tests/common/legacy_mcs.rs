//! A cluster as installers up to 4.5 left it, for the machine-config-server certificate
//! tests: the shipped dump with a CN-only serving certificate (no SAN; generated here,
//! signed by a `root-ca` whose key is then thrown away, as the installer's is), an
//! `Opaque` serving Secret, a spec 2.2 worker stub and a spec 3.2 master stub carrying that
//! CA, and a Windows user-data secret.

use base64::Engine;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, PKCS_RSA_SHA256};
use serde_json::{json, Value};

use super::{fixture, objects_in, objects_under, root, TestCluster};

pub const MCO: &str = "openshift-machine-config-operator";
pub const MAPI: &str = "openshift-machine-api";
/// The host of the dump's `apiServerInternalURI`.
pub const API_INT: &str = "api-int.vrutkovs.origin-gce.dev.openshift.com";

pub fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

pub fn unb64(s: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s.as_str().unwrap())
        .unwrap()
}

fn rsa_key() -> KeyPair {
    use rsa::pkcs8::EncodePrivateKey;
    let k = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
    let pem = k.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    KeyPair::from_pkcs8_pem_and_sign_algo(&pem, &PKCS_RSA_SHA256).unwrap()
}

/// What an old installer made: a `root-ca` (OU openshift) and a CN-only serving
/// certificate for `api-int.<domain>` it signed. Returns (CA PEM, leaf PEM, leaf key PEM).
pub fn legacy_certificates() -> (String, String, String) {
    let ca_key = rsa_key();
    let mut ca = CertificateParams::default();
    ca.distinguished_name
        .push(DnType::OrganizationalUnitName, "openshift");
    ca.distinguished_name.push(DnType::CommonName, "root-ca");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, &ca_key);
    let leaf_key = rsa_key();
    let mut leaf = CertificateParams::default();
    leaf.distinguished_name.push(DnType::CommonName, API_INT);
    leaf.subject_alt_names = Vec::new();
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    (ca_cert.pem(), leaf_cert.pem(), leaf_key.serialize_pem())
}

/// A stub secret `name` from an Ignition fixture secret, its CA replaced by `ca_pem`.
fn stub(path: &str, name: &str, ca_pem: &str) -> Value {
    let mut s = objects_in(&fixture(path)).remove(0);
    let mut ign: Value = serde_json::from_slice(&unb64(&s["data"]["userData"])).unwrap();
    ign["ignition"]["security"]["tls"]["certificateAuthorities"] = json!([{
        "source": format!("data:text/plain;charset=utf-8;base64,{}", b64(ca_pem.as_bytes()))
    }]);
    s["metadata"] = json!({"name": name, "namespace": MAPI});
    s["data"]["userData"] = json!(b64(ign.to_string().as_bytes()));
    s
}

/// The shipped dump with a CN-only certificate, a spec 2.2 worker stub, a spec 3.2 master
/// stub and a Windows user-data secret; the old serving Secret is `Opaque` (type changes).
pub fn legacy_cluster() -> (Vec<Value>, String) {
    let (ca, leaf, key) = legacy_certificates();
    let mut objects: Vec<Value> = objects_under(&root().join("examples/cluster-dump"))
        .into_iter()
        .filter(|o| !(o["kind"] == "Secret"))
        .collect();
    objects.push(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "machine-config-server-tls", "namespace": MCO,
                     "labels": {"installer": "yes"}},
        "data": {"tls.crt": b64(leaf.as_bytes()), "tls.key": b64(key.as_bytes())},
    }));
    objects.push(stub(
        "ignition/secrets/azure-4.x-spec2.2.0-worker-user-data-secret.yaml",
        "worker-user-data",
        &ca,
    ));
    objects.push(stub(
        "ignition/secrets/vsphere-4.9-spec3.2.0-master-user-data-secret.yaml",
        "master-user-data",
        &ca,
    ));
    objects.push(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "windows-user-data", "namespace": MAPI},
        "data": {"userData": b64(b"<powershell>Write-Host hello</powershell>")},
    }));
    (objects, ca)
}

/// Three machine-config-server pods as a real API server stores them (no node, no kubelet:
/// deleted at once, and nothing brings them back).
pub fn mcs_pods() -> Vec<Value> {
    (0..3)
        .map(|i| {
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("machine-config-server-real{i}"),
                             "namespace": MCO,
                             "labels": {"k8s-app": "machine-config-server"}},
                "spec": {"containers": [{"name": "machine-config-server",
                                         "image": "example.invalid/mcs:1"}]},
            })
        })
        .collect()
}

/// Deletes what `mcs_certificate` creates (its CA Secret and ConfigMap, its backups) where an
/// earlier test on the same real server left them: each test starts from the installer's
/// state.
pub fn clean_leftovers(c: &TestCluster) {
    for (kind, name) in [
        ("Secret", "machine-config-server-ca"),
        ("Secret", "machine-config-server-ca-backup"),
        ("Secret", "machine-config-server-tls-backup"),
        ("ConfigMap", "machine-config-server-ca"),
    ] {
        c.delete(kind, Some(MCO), name);
    }
}
