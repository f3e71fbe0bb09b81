//! What the fleet reads of one cluster's audit: the part of `bootimage_info`'s return
//! values ([`crate::plan::AuditReport`] as JSON) a fleet report needs. It is read back
//! from JSON, so the CLI (which has the typed report) and a playbook (which has the
//! registered result of a `bootimage_info` task on each inventory host) build the same
//! fleet report from the same data. Every field is optional or defaulted: a result of an
//! older or newer release still reads.

use serde::Deserialize;

use crate::plan::machineset::{SkipKind, Status};
use crate::plan::Verdict;

/// The fleet's view of one audit.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuditView {
    /// The parts audited besides the MachineSets (`stubs`, `certificate`, …).
    #[serde(default)]
    pub gathered: Vec<String>,
    #[serde(default)]
    pub cluster: ClusterView,
    #[serde(default)]
    pub machinesets: Vec<MachineSetView>,
    #[serde(default)]
    pub user_data_secrets: Vec<StubView>,
    #[serde(default)]
    pub mcs_certificate: Option<CertificateSectionView>,
    #[serde(default)]
    pub skew_enforcement: Option<SkewView>,
    pub verdict: Option<Verdict>,
    #[serde(default)]
    pub noncompliant_reasons: Vec<String>,
    #[serde(default)]
    pub unknown_reasons: Vec<String>,
}

/// `cluster` of the audit.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClusterView {
    pub version: Option<String>,
    pub platform: Option<String>,
    pub infrastructure_name: Option<String>,
    pub architecture: Option<String>,
}

/// One of `machinesets`.
#[derive(Debug, Clone, Deserialize)]
pub struct MachineSetView {
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    pub platform: Option<String>,
    pub current_image: Option<String>,
    pub current_build: Option<String>,
    pub target_image: Option<String>,
    pub target_build: Option<String>,
    pub status: Status,
    pub reason: Option<String>,
    pub skip_kind: Option<SkipKind>,
    pub replicas: Option<i64>,
}

/// One of `user_data_secrets`.
#[derive(Debug, Clone, Deserialize)]
pub struct StubView {
    pub name: String,
    #[serde(default)]
    pub present: bool,
    #[serde(default)]
    pub referenced_by: Vec<String>,
    pub ignition_version: Option<String>,
    #[serde(default)]
    pub migration_required: bool,
    pub error: Option<String>,
}

/// `mcs_certificate` of the audit.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CertificateSectionView {
    #[serde(default)]
    pub present: bool,
    pub certificate: Option<CertificateView>,
    pub error: Option<String>,
}

/// `mcs_certificate.certificate`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CertificateView {
    pub not_after: Option<String>,
    #[serde(default)]
    pub expired: bool,
    #[serde(default)]
    pub regeneration_required: bool,
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// `skew_enforcement` of the audit.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SkewView {
    #[serde(default)]
    pub supported: bool,
    pub effective_mode: Option<String>,
    pub recorded_ocp_version: Option<String>,
    pub recorded_rhcos_version: Option<String>,
    #[serde(default)]
    pub reasons: Vec<String>,
}
