//! The machine-config-server certificate check of `mcs_cert_info`: the audit's
//! `mcs_certificate` section (one implementation, [`crate::cert::analyze_mcs_certificate`]
//! with the stubs' CAs) per stub secret and pooled over the usable ones, with the
//! warnings a person needs. Pure: the certificate and stubs are passed in, and `now`.

use std::collections::BTreeMap;
use std::time::SystemTime;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::audit::McsCertificateSection;
use crate::cert::McsCertificateReport;
use crate::cluster::Snapshot;

/// The documented procedure to regenerate the machine-config-server certificate and CA.
pub const REGENERATE_PROCEDURE: &str = "https://access.redhat.com/articles/regenerating_cluster_certificates#regenerating-ca-certificates-for-the-machine-config-server-5";

/// Whether one stub secret's CA verifies the certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct StubSecretCheck {
    /// The user-data secret.
    pub name: String,
    /// Whether a CA in its Ignition `security.tls.certificateAuthorities` issued the
    /// certificate; null when it carries no usable CA.
    pub ca_verified: Option<bool>,
    /// Subjects of the CA certificates it carries.
    pub ca_subjects: Vec<String>,
    /// Why its CAs could not be used (never any content).
    pub error: Option<String>,
}

/// The audit's `mcs_certificate` section for a snapshot holding only `tls_secret`
/// and `stubs`.
fn mcs_section(
    tls_secret: &Value,
    stubs: BTreeMap<String, Value>,
    now: SystemTime,
) -> McsCertificateSection {
    let snapshot = Snapshot {
        mcs_tls_secret: Some(tls_secret.clone()),
        user_data_secrets: stubs,
        secrets_readable: true,
        ..Snapshot::default()
    };
    super::audit::mcs_section(&snapshot, now)
}

/// The certificate checked against every stub's CAs, each stub's own check, and the
/// warnings about stubs that would reject the machine-config-server.
#[derive(Debug, Clone, PartialEq)]
pub struct CertificateCheck {
    /// The facts, `ca_verified` pooled over the stubs whose CAs are usable.
    pub certificate: McsCertificateReport,
    /// Every stub secret and whether its CA verifies the certificate.
    pub stub_secrets: Vec<StubSecretCheck>,
    pub warnings: Vec<String>,
}

/// Checks the certificate Secret(-shaped value) `secret` against `stubs` (by name);
/// `stubs_read` says whether the stubs could be read at all, `namespace` is where they
/// were looked for. The error says why the certificate cannot be checked.
pub fn check_certificate(
    secret: &Value,
    stubs: &BTreeMap<String, Value>,
    stubs_read: bool,
    namespace: &str,
    now: SystemTime,
) -> Result<CertificateCheck, String> {
    let stub_secrets: Vec<StubSecretCheck> = stubs
        .iter()
        .map(|(name, s)| stub_check(secret, name, s, now))
        .collect();
    // The audit's check with every stub's CAs; a stub whose CAs are unusable (see
    // stub_secrets) is left out rather than failing the whole check.
    let usable: BTreeMap<String, Value> = stubs
        .iter()
        .filter(|(name, _)| {
            stub_secrets
                .iter()
                .any(|c| &c.name == *name && c.error.is_none())
        })
        .map(|(n, s)| (n.clone(), s.clone()))
        .collect();
    let pooled = mcs_section(secret, usable, now);
    let Some(certificate) = pooled.certificate else {
        return Err(pooled.error.unwrap_or_else(|| "cannot be checked".into()));
    };
    let warnings = warnings(&certificate, &stub_secrets, stubs_read, namespace);
    Ok(CertificateCheck {
        certificate,
        stub_secrets,
        warnings,
    })
}

/// One stub secret's own check.
fn stub_check(secret: &Value, name: &str, stub: &Value, now: SystemTime) -> StubSecretCheck {
    let one = mcs_section(
        secret,
        BTreeMap::from([(name.to_string(), stub.clone())]),
        now,
    );
    match one.certificate {
        Some(c) => StubSecretCheck {
            name: name.to_string(),
            ca_verified: c.ca_verified,
            ca_subjects: c.ca_subjects,
            error: None,
        },
        None => StubSecretCheck {
            name: name.to_string(),
            ca_verified: None,
            ca_subjects: Vec::new(),
            error: one.error,
        },
    }
}

fn warnings(
    certificate: &McsCertificateReport,
    stub_secrets: &[StubSecretCheck],
    stubs_read: bool,
    namespace: &str,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if stub_secrets.is_empty() && stubs_read {
        warnings.push(format!(
            "no user-data (stub Ignition) secret found in namespace {namespace}: the CA check was skipped"
        ));
    }
    if certificate.ca_verified == Some(true) {
        for s in stub_secrets.iter().filter(|s| s.ca_verified == Some(false)) {
            warnings.push(format!(
                "the CA in stub secret {} does not verify the certificate: machines booting \
                 from it would reject the machine-config-server",
                s.name
            ));
        }
    }
    for s in stub_secrets.iter().filter(|s| s.error.is_some()) {
        warnings.push(format!(
            "stub secret {}: {}",
            s.name,
            s.error.as_deref().unwrap_or_default()
        ));
    }
    if certificate.ca_verified == Some(false) {
        warnings.push(format!(
            "no stub secret's CA verifies the certificate: machines booting from these stubs \
             would reject the machine-config-server; see {REGENERATE_PROCEDURE}"
        ));
    }
    if certificate.not_yet_valid {
        warnings.push(format!(
            "the certificate is not valid before {} (check the clock)",
            certificate.not_before
        ));
    }
    warnings
}
