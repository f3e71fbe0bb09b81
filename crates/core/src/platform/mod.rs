//! Platforms: where each provider spec keeps its boot image, and what the
//! stream says it should be.
//!
//! One file per platform, each with the same three pure functions:
//! `read(provider_spec_value) -> ProviderRead`, `target(&ProviderRead, &ArchStream) -> Target`
//! and `current_build(&ProviderRead, &Target, &Lookup) -> Option<BuildId>`.
//! This file holds the exhaustive [`Platform`] enum and dispatches. No I/O.

pub mod aws;
pub mod azure;
pub mod gcp;
pub mod ibmcloud;
pub mod nutanix;
pub mod openstack;
pub mod powervs;
pub mod vsphere;

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::stream::{Arch, ArchStream, BuildId, Catalog};

/// The platforms whose MachineSets carry a boot image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Aws,
    Gcp,
    Azure,
    Vsphere,
    Openstack,
    Nutanix,
    Ibmcloud,
    Powervs,
}

impl Platform {
    /// From `providerSpec.value.kind`.
    pub fn from_provider_kind(kind: &str) -> Option<Platform> {
        Some(match kind {
            "AWSMachineProviderConfig" => Platform::Aws,
            "GCPMachineProviderSpec" => Platform::Gcp,
            "AzureMachineProviderSpec" => Platform::Azure,
            "VSphereMachineProviderSpec" => Platform::Vsphere,
            "OpenstackProviderSpec" => Platform::Openstack,
            "NutanixMachineProviderConfig" => Platform::Nutanix,
            "IBMCloudMachineProviderSpec" => Platform::Ibmcloud,
            "PowerVSMachineProviderConfig" => Platform::Powervs,
            _ => return None,
        })
    }

    /// From the Infrastructure's `status.platformStatus.type` (or `status.platform`).
    pub fn from_infrastructure_type(t: &str) -> Option<Platform> {
        Some(match t.to_ascii_lowercase().as_str() {
            "aws" => Platform::Aws,
            "gcp" => Platform::Gcp,
            "azure" => Platform::Azure,
            "vsphere" => Platform::Vsphere,
            "openstack" => Platform::Openstack,
            "nutanix" => Platform::Nutanix,
            "ibmcloud" => Platform::Ibmcloud,
            "powervs" => Platform::Powervs,
            _ => return None,
        })
    }

    /// The architecture every machine of this platform has (PowerVS is Power only).
    pub fn implied_arch(self) -> Option<Arch> {
        match self {
            Platform::Powervs => Some(Arch::Ppc64le),
            _ => None,
        }
    }

    /// Lower-case name, also the stream's artifact key where one exists.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Aws => "aws",
            Platform::Gcp => "gcp",
            Platform::Azure => "azure",
            Platform::Vsphere => "vsphere",
            Platform::Openstack => "openstack",
            Platform::Nutanix => "nutanix",
            Platform::Ibmcloud => "ibmcloud",
            Platform::Powervs => "powervs",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A boot image reference, typed per platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootImage {
    /// AWS `ami.id`.
    AwsAmi(String),
    /// GCP boot disk image; `project` is None for a bare (cluster-local) image name.
    GcpImage {
        project: Option<String>,
        name: String,
    },
    /// Azure marketplace image.
    AzureMarketplace {
        publisher: String,
        offer: String,
        sku: String,
        version: String,
    },
    /// Azure `image.resourceID` (a managed image or gallery image).
    AzureResourceId(String),
    /// vSphere VM template name.
    VsphereTemplate(String),
    /// An image name (OpenStack Glance, Nutanix, IBM Cloud VPC custom image, PowerVS).
    Named(String),
}

impl fmt::Display for BootImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootImage::AwsAmi(id) => f.write_str(id),
            BootImage::GcpImage {
                project: Some(p),
                name,
            } => write!(f, "projects/{p}/global/images/{name}"),
            BootImage::GcpImage {
                project: None,
                name,
            } => f.write_str(name),
            BootImage::AzureMarketplace {
                publisher,
                offer,
                sku,
                version,
            } => write!(f, "{publisher}:{offer}:{sku}:{version}"),
            BootImage::AzureResourceId(id) => f.write_str(id),
            BootImage::VsphereTemplate(t) => f.write_str(t),
            BootImage::Named(n) => f.write_str(n),
        }
    }
}

/// What a provider spec says about its boot image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRead {
    pub platform: Platform,
    pub region: Option<String>,
    pub image: Option<BootImage>,
    /// A reason to leave this MachineSet alone whatever the stream says.
    pub skip: Option<String>,
}

/// What the stream says the boot image should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The stream names an image this tool can write into the MachineSet.
    Image { image: BootImage, build: BuildId },
    /// The stream names a build, but the image must be made first (uploaded
    /// template, imported Glance/VPC/PowerVS image): the build is the target.
    BuildOnly { build: BuildId, how: String },
    /// No target: why.
    None(String),
}

impl Target {
    /// The target build, when there is one.
    pub fn build(&self) -> Option<&BuildId> {
        match self {
            Target::Image { build, .. } | Target::BuildOnly { build, .. } => Some(build),
            Target::None(_) => None,
        }
    }
}

/// Everything `current_build` may consult to map an image back to its build.
pub struct Lookup<'a> {
    pub catalog: &'a Catalog,
    /// User-supplied image/template name → build id.
    pub image_builds: &'a BTreeMap<String, BuildId>,
}

/// A provider spec this tool cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    /// No `spec.template.spec.providerSpec.value`.
    #[error("MachineSet has no spec.template.spec.providerSpec.value")]
    NoProviderSpec,
    /// A provider kind this tool does not know.
    #[error("unsupported provider spec kind {0:?} (supported: AWS, GCP, Azure, vSphere, OpenStack, Nutanix, IBM Cloud, PowerVS)")]
    UnknownKind(String),
}

/// The provider spec value of a MachineSet.
pub fn provider_spec(ms: &Value) -> Option<&Value> {
    ms.pointer("/spec/template/spec/providerSpec/value")
        .filter(|v| v.is_object())
}

/// Reads the boot image of a MachineSet. `cluster_platform` is used when the
/// provider spec has no `kind`.
pub fn read(ms: &Value, cluster_platform: Option<Platform>) -> Result<ProviderRead, PlatformError> {
    let spec = provider_spec(ms).ok_or(PlatformError::NoProviderSpec)?;
    let kind = spec.get("kind").and_then(Value::as_str);
    let platform = match kind {
        Some(k) => Platform::from_provider_kind(k)
            .ok_or_else(|| PlatformError::UnknownKind(k.to_string()))?,
        None => cluster_platform.ok_or_else(|| PlatformError::UnknownKind(String::new()))?,
    };
    Ok(match platform {
        Platform::Aws => aws::read(spec),
        Platform::Gcp => gcp::read(spec),
        Platform::Azure => azure::read(spec),
        Platform::Vsphere => vsphere::read(spec),
        Platform::Openstack => openstack::read(spec),
        Platform::Nutanix => nutanix::read(spec),
        Platform::Ibmcloud => ibmcloud::read(spec),
        Platform::Powervs => powervs::read(spec),
    })
}

/// What the stream (for the MachineSet's architecture) says the image should be.
pub fn target(read: &ProviderRead, arch: &ArchStream) -> Target {
    match read.platform {
        Platform::Aws => aws::target(read, arch),
        Platform::Gcp => gcp::target(read, arch),
        Platform::Azure => azure::target(read, arch),
        Platform::Vsphere => vsphere::target(read, arch),
        Platform::Openstack => openstack::target(read, arch),
        Platform::Nutanix => nutanix::target(read, arch),
        Platform::Ibmcloud => ibmcloud::target(read, arch),
        Platform::Powervs => powervs::target(read, arch),
    }
}

/// The build of the current image, when it can be known: the target's build if
/// the image is the target, else the user's mapping, the catalog of known
/// streams, or a build id embedded in the image name.
pub fn current_build(read: &ProviderRead, target: &Target, lookup: &Lookup) -> Option<BuildId> {
    let image = read.image.as_ref()?;
    if let Target::Image { image: t, build } = target {
        if t == image {
            return Some(build.clone());
        }
    }
    let shown = image.to_string();
    if let Some(b) = lookup.image_builds.get(&shown) {
        return Some(b.clone());
    }
    match read.platform {
        Platform::Aws => aws::current_build(image, lookup),
        Platform::Gcp => gcp::current_build(image, lookup),
        Platform::Azure => azure::current_build(image, lookup),
        Platform::Vsphere => vsphere::current_build(image, lookup),
        Platform::Openstack => openstack::current_build(image, lookup),
        Platform::Nutanix => nutanix::current_build(image, lookup),
        Platform::Ibmcloud => ibmcloud::current_build(image, lookup),
        Platform::Powervs => powervs::current_build(image, lookup),
    }
}

/// Parses an explicit image value (the `image` option) for a platform: an AMI id,
/// a GCP image path, an Azure URN `publisher:offer:sku:version` or resource id,
/// a vSphere template or an image name.
pub fn parse_image(platform: Platform, s: &str) -> BootImage {
    let s = s.trim();
    match platform {
        Platform::Aws => BootImage::AwsAmi(s.to_string()),
        Platform::Gcp => gcp::parse_image(s),
        Platform::Azure if s.starts_with('/') => BootImage::AzureResourceId(s.to_string()),
        Platform::Azure => {
            let parts: Vec<&str> = s.split(':').collect();
            match parts.as_slice() {
                [publisher, offer, sku, version] => BootImage::AzureMarketplace {
                    publisher: publisher.to_string(),
                    offer: offer.to_string(),
                    sku: sku.to_string(),
                    version: version.to_string(),
                },
                _ => BootImage::AzureResourceId(s.to_string()),
            }
        }
        Platform::Vsphere => BootImage::VsphereTemplate(s.to_string()),
        _ => BootImage::Named(s.to_string()),
    }
}

/// A boot image that cannot be written into a provider spec of this platform.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{image} is not a {platform} boot image")]
pub struct WrongImage {
    pub image: String,
    pub platform: Platform,
}

/// Writes `image` into a provider spec value (the planner's only edit).
pub fn write_image(
    platform: Platform,
    spec: &mut Value,
    image: &BootImage,
) -> Result<(), WrongImage> {
    let wrong = || WrongImage {
        image: image.to_string(),
        platform,
    };
    let Some(obj) = spec.as_object_mut() else {
        return Err(wrong());
    };
    match (platform, image) {
        (Platform::Aws, BootImage::AwsAmi(id)) => {
            obj.insert("ami".into(), serde_json::json!({ "id": id }));
        }
        (Platform::Gcp, BootImage::GcpImage { .. }) => {
            let disks = obj
                .get_mut("disks")
                .and_then(Value::as_array_mut)
                .ok_or_else(wrong)?;
            let boot = disks
                .iter_mut()
                .find(|d| d.get("boot").and_then(Value::as_bool) == Some(true))
                .ok_or_else(wrong)?;
            boot["image"] = Value::String(image.to_string());
        }
        (
            Platform::Azure,
            BootImage::AzureMarketplace {
                publisher,
                offer,
                sku,
                version,
            },
        ) => {
            let img = obj.entry("image").or_insert_with(|| serde_json::json!({}));
            let plan = if publisher == "azureopenshift" {
                "MarketplaceNoPlan"
            } else {
                "MarketplaceWithPlan"
            };
            if let Some(m) = img.as_object_mut() {
                m.insert("publisher".into(), publisher.clone().into());
                m.insert("offer".into(), offer.clone().into());
                m.insert("sku".into(), sku.clone().into());
                m.insert("version".into(), version.clone().into());
                m.insert("resourceID".into(), "".into());
                m.insert("type".into(), plan.into());
            }
        }
        (Platform::Azure, BootImage::AzureResourceId(id)) => {
            obj.insert(
                "image".into(),
                serde_json::json!({"publisher": "", "offer": "", "sku": "", "version": "", "resourceID": id}),
            );
        }
        (Platform::Vsphere, BootImage::VsphereTemplate(t)) => {
            obj.insert("template".into(), Value::String(t.clone()));
        }
        (Platform::Openstack | Platform::Ibmcloud, BootImage::Named(n)) => {
            obj.insert("image".into(), Value::String(n.clone()));
        }
        (Platform::Nutanix | Platform::Powervs, BootImage::Named(n)) => {
            match obj.get_mut("image") {
                Some(Value::String(s)) => *s = n.clone(),
                Some(Value::Object(m)) => {
                    m.insert("name".into(), Value::String(n.clone()));
                    let t = if platform == Platform::Powervs {
                        "Name"
                    } else {
                        "name"
                    };
                    m.insert("type".into(), t.into());
                    m.remove("uuid");
                    m.remove("id");
                }
                _ => {
                    let t = if platform == Platform::Powervs {
                        "Name"
                    } else {
                        "name"
                    };
                    obj.insert("image".into(), serde_json::json!({"type": t, "name": n}));
                }
            }
        }
        _ => return Err(wrong()),
    }
    Ok(())
}

/// The architecture of the current image, when a known stream lists it
/// (e.g. an aarch64 AMI in a MachineSet without an arch annotation).
pub fn image_arch(read: &ProviderRead, lookup: &Lookup) -> Option<Arch> {
    match read.image.as_ref()? {
        BootImage::AwsAmi(ami) => lookup.catalog.lookup_aws(ami).map(|(_, a, _)| a),
        BootImage::GcpImage { name, .. } => lookup.catalog.lookup_gcp(name).map(|(_, a)| a),
        BootImage::Named(n) => lookup
            .catalog
            .lookup_object(read.platform.as_str(), n)
            .map(|(_, a)| a),
        _ => None,
    }
}

/// A string field of a JSON object, empty strings as None.
pub(crate) fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// An image named by `name` (`image: name` or `image: {type: Name, name: …}`).
pub(crate) fn named_image(spec: &Value) -> Option<BootImage> {
    match spec.get("image") {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(BootImage::Named(s.trim().into())),
        Some(obj @ Value::Object(_)) => {
            let kind = str_at(obj, "/type").unwrap_or("name").to_ascii_lowercase();
            match kind.as_str() {
                "uuid" | "id" => str_at(obj, "/uuid")
                    .or_else(|| str_at(obj, "/id"))
                    .map(|s| BootImage::Named(s.into())),
                _ => str_at(obj, "/name").map(|s| BootImage::Named(s.into())),
            }
        }
        _ => None,
    }
}

/// The provider spec of a platform whose `image` names an uploaded image (OpenStack,
/// Nutanix, IBM Cloud, PowerVS): the image and `region`; no image is a skip.
pub(crate) fn read_named(spec: &Value, platform: Platform) -> ProviderRead {
    let image = named_image(spec);
    ProviderRead {
        platform,
        region: str_at(spec, "/region").map(str::to_string),
        skip: image
            .is_none()
            .then(|| "providerSpec has no image".to_string()),
        image,
    }
}

/// The build of an image named by name: the known-image catalog under `catalog_key`,
/// else a build id in the name (`rhcos-4xx-9x-<timestamp>-0…`).
pub(crate) fn named_build(
    image: &BootImage,
    lookup: &Lookup,
    catalog_key: &str,
) -> Option<BuildId> {
    match image {
        BootImage::Named(n) => lookup
            .catalog
            .lookup_object(catalog_key, n)
            .map(|(b, _)| b)
            .or_else(|| BuildId::from_image_name(n)),
        _ => None,
    }
}

/// `BuildOnly` from a stream artifact release, or `None` naming what is missing.
pub(crate) fn artifact_target(arch: &ArchStream, artifact: &str, how: &str) -> Target {
    match arch.artifacts.get(artifact) {
        Some(b) => Target::BuildOnly {
            build: b.clone(),
            how: how.to_string(),
        },
        None => Target::None(format!(
            "the stream has no `{artifact}` artifact for this architecture"
        )),
    }
}
