//! The normalised stream model shared by every stream format.
//!
//! Owns the data types and the lookups within one stream set (which OS stream,
//! which architecture, which region), with errors that list what is there.
//! Parsing lives in `parse.rs`, lookups that need several streams in
//! `catalog.rs`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Arch, BuildId, StreamError};

/// Which on-disk format a [`Stream`] was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StreamFormat {
    /// `openshift-install coreos print-stream-json` (4.8+), also the ConfigMap's `stream` key.
    CoreosStream,
    /// Pre-4.8 `data/data/rhcos*.json` (`amis.<region>.hvm`, `gcp.image`, `images.*`).
    Legacy,
    /// Azure marketplace-only file (`marketplace-rhcos.json`, `marketplace/coreos-*.json`).
    Marketplace,
}

/// One image in one region (AWS AMI, IBM Cloud / PowerVS object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionImage {
    /// The build the image was made from, e.g. `418.94.202501221327-0`.
    pub release: BuildId,
    /// AMI id (`ami-…`) for AWS; the object name (`rhcos-…-powervs.ova.gz`) for IBM Cloud/PowerVS.
    pub image: String,
}

/// The GCP image of a stream (`images.gcp` or legacy `gcp`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GcpImage {
    /// The build the image was made from.
    pub release: BuildId,
    /// Usually `rhcos-cloud`; legacy files before 4.6 have none (then `None`).
    pub project: Option<String>,
    /// e.g. `rhcos-418-94-202602022246-0-gcp-x86-64`.
    pub name: String,
}

/// An Azure marketplace image (`publisher:offer:sku:version`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AzureMarketplaceImage {
    /// Offer family key in the file: `no-purchase-plan`, `ocp`, `opp`, `oke`, `ocp-emea`, …
    pub plan: String,
    /// `hyperVGen1` or `hyperVGen2`.
    pub generation: String,
    /// e.g. `azureopenshift` (ARO, no purchase plan), `redhat`, `redhat-limited`.
    pub publisher: String,
    /// e.g. `aro4`, `rh-ocp-worker`.
    pub offer: String,
    /// e.g. `420-v2`, `rh-ocp-worker-gen1`.
    pub sku: String,
    /// Image version as published, e.g. `9.6.20251015` or `4.18.2025031114`; see
    /// [`BuildId::from_marketplace_version`].
    pub version: String,
}

/// Everything a stream says about one architecture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ArchStream {
    /// `artifacts.<platform>.release` for every artifact (aws, azure, gcp, metal, openstack,
    /// qemu, vmware, nutanix, ibmcloud, powervs, …). Legacy files: the `buildid` for each
    /// `images.<platform>` key, and `aws`/`azure`/`gcp` when those sections exist.
    pub artifacts: BTreeMap<String, BuildId>,
    /// `images.aws.regions` (legacy: `amis.<region>.hvm`, release = `buildid`).
    pub aws_regions: BTreeMap<String, RegionImage>,
    /// `rhel-coreos-extensions.aws-winli.regions` (4.19+ x86_64): the same build published as
    /// "Windows License Included" AMIs. A MachineSet on one of these must stay on this list.
    pub aws_winli_regions: BTreeMap<String, RegionImage>,
    /// `images.gcp` (legacy: `gcp.image`/`gcp.project`).
    pub gcp: Option<GcpImage>,
    /// `images.ibmcloud.regions`.
    pub ibmcloud_regions: BTreeMap<String, RegionImage>,
    /// `images.powervs.regions`.
    pub powervs_regions: BTreeMap<String, RegionImage>,
    /// `rhel-coreos-extensions.azure-disk` release and URL (legacy: `azure.image`/`azure.url`).
    pub azure_disk: Option<(BuildId, String)>,
    /// `rhel-coreos-extensions.marketplace.azure.*` or a marketplace file's entries.
    pub azure_marketplace: Vec<AzureMarketplaceImage>,
    /// `artifacts.vmware.formats.ova.disk` (legacy: `baseURI` + `images.vmware.path`): the
    /// OVA a vSphere template is imported from.
    pub vmware_ova: Option<OvaArtifact>,
}

/// A downloadable OVA of one build (vSphere).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OvaArtifact {
    pub release: BuildId,
    /// Where to download it (`https://…/rhcos-<build>-vmware.x86_64.ova`).
    pub location: String,
    /// Lower-case hex SHA-256 of the whole OVA file.
    pub sha256: String,
}

/// One parsed stream (one OS stream of one release).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stream {
    /// The file's `stream` field (`rhcos-4.18`, `rhcos-4.22`, `stable`, `c10s`); legacy files: `None`.
    pub name: Option<String>,
    /// The format the stream was read from.
    pub format: StreamFormat,
    /// Per-architecture content; architectures not in [`Arch`] (e.g. `riscv64`) are skipped.
    pub architectures: BTreeMap<Arch, ArchStream>,
}

/// What one stream source yields: the default stream plus, for 5.0+ ConfigMaps, the named
/// OS streams (`streams` key: `rhel-9`, `rhel-10`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamSet {
    /// The ConfigMap's `stream` key, or the only stream of a file.
    pub default: Stream,
    /// 5.0+ ConfigMap `streams` key: OS stream name → stream. Empty otherwise.
    pub named: BTreeMap<String, Stream>,
    /// The ConfigMap's `data.releaseVersion` (payload version), when read from a ConfigMap.
    pub release_version: Option<String>,
}

impl AzureMarketplaceImage {
    /// The `publisher:offer:sku:version` URN as used by `az vm image` and the catalog.
    pub fn urn(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.publisher, self.offer, self.sku, self.version
        )
    }
}

impl ArchStream {
    /// The AWS AMI for `region`, or an error naming the region and how many regions the stream
    /// does list.
    pub fn aws_image(&self, region: &str) -> Result<&RegionImage, StreamError> {
        self.aws_regions
            .get(region)
            .ok_or_else(|| StreamError::MissingRegion {
                platform: "AWS",
                region: region.to_string(),
                known: self.aws_regions.len(),
            })
    }

    /// Every build id this architecture mentions (artifacts and images; not marketplace
    /// versions), with repetitions.
    pub fn releases(&self) -> impl Iterator<Item = &BuildId> {
        self.artifacts
            .values()
            .chain(self.aws_regions.values().map(|r| &r.release))
            .chain(self.aws_winli_regions.values().map(|r| &r.release))
            .chain(self.gcp.iter().map(|g| &g.release))
            .chain(self.ibmcloud_regions.values().map(|r| &r.release))
            .chain(self.powervs_regions.values().map(|r| &r.release))
            .chain(self.azure_disk.iter().map(|(b, _)| b))
    }

    /// The newest build this architecture mentions (see [`BuildId`]'s order).
    pub fn newest_release(&self) -> Option<&BuildId> {
        self.releases().max()
    }
}

impl Stream {
    /// A name for messages: the `stream` field, or the format when the file has none.
    pub fn label(&self) -> String {
        match (&self.name, self.format) {
            (Some(name), _) => name.clone(),
            (None, StreamFormat::Legacy) => "(legacy rhcos.json)".to_string(),
            (None, StreamFormat::Marketplace) => "(Azure marketplace file)".to_string(),
            (None, StreamFormat::CoreosStream) => "(unnamed stream)".to_string(),
        }
    }

    /// The content for one architecture, or an error listing the architectures the stream has.
    pub fn arch(&self, arch: Arch) -> Result<&ArchStream, StreamError> {
        self.architectures
            .get(&arch)
            .ok_or_else(|| StreamError::MissingArch {
                stream: self.label(),
                arch,
                available: self.architectures.keys().copied().collect(),
            })
    }

    /// The newest build id anywhere in the stream (all architectures).
    pub fn newest_release(&self) -> Option<&BuildId> {
        self.architectures
            .values()
            .flat_map(ArchStream::releases)
            .max()
    }

    /// The OpenShift (major, minor) of the stream: from the name (`rhcos-4.18` → `(4, 18)`)
    /// when it has that shape, else the OCP part of the newest OCP-versioned build
    /// (`43.81.…` → `(4, 3)`); `None` for streams such as FCOS `stable` or SCOS `c10s` with
    /// RHEL-versioned builds. Note that files can lag: the RHEL 9 stream of 4.22 is named
    /// `rhcos-4.21`.
    pub fn ocp_version(&self) -> Option<(u32, u32)> {
        if let Some(version) = self.name.as_deref().and_then(ocp_version_from_name) {
            return Some(version);
        }
        self.architectures
            .values()
            .flat_map(ArchStream::releases)
            .filter(|b| b.ocp_version().is_some())
            .max()
            .and_then(BuildId::ocp_version)
    }
}

/// `rhcos-4.18` → `(4, 18)`; `None` for `stable`, `c10s`.
fn ocp_version_from_name(name: &str) -> Option<(u32, u32)> {
    let version = name.rsplit('-').next()?;
    let (major, minor) = version.split_once('.')?;
    let is_num = |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
    if !is_num(major) || !is_num(minor) {
        return None;
    }
    Some((major.parse().ok()?, minor.parse().ok()?))
}

impl StreamSet {
    /// A set holding just one stream (every format except the 5.0+ ConfigMap).
    pub fn single(stream: Stream) -> StreamSet {
        StreamSet {
            default: stream,
            named: BTreeMap::new(),
            release_version: None,
        }
    }

    /// The stream to use: `None` → the default stream; `Some(name)` → the named OS stream
    /// (`rhel-9`, `rhel-10`), or the default stream when `name` is its `stream` field.
    /// An unknown name is an error listing the names there are.
    pub fn stream_for(&self, os_stream: Option<&str>) -> Result<&Stream, StreamError> {
        let Some(name) = os_stream else {
            return Ok(&self.default);
        };
        if let Some(stream) = self.named.get(name) {
            return Ok(stream);
        }
        if self.default.name.as_deref() == Some(name) {
            return Ok(&self.default);
        }
        Err(StreamError::UnknownOsStream {
            requested: name.to_string(),
            available: self.named.keys().cloned().collect(),
            default: self.default.label(),
        })
    }

    /// The default stream followed by the named ones (`None` name = default).
    pub fn streams(&self) -> impl Iterator<Item = (Option<&str>, &Stream)> {
        std::iter::once((None, &self.default))
            .chain(self.named.iter().map(|(k, v)| (Some(k.as_str()), v)))
    }
}

impl StreamSet {
    /// Adds the Azure marketplace entries of `marketplace` (a marketplace-only file) to
    /// every stream of this set, per architecture, without duplicates.
    pub fn add_marketplace(&mut self, marketplace: &Stream) {
        let streams = std::iter::once(&mut self.default).chain(self.named.values_mut());
        for stream in streams {
            for (arch, m) in &marketplace.architectures {
                let entry = stream.architectures.entry(*arch).or_default();
                for image in &m.azure_marketplace {
                    if !entry.azure_marketplace.contains(image) {
                        entry.azure_marketplace.push(image.clone());
                    }
                }
            }
        }
    }
}
