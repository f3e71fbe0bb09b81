//! Platforms: where each provider spec keeps its boot image, and what the
//! stream says it should be (MCO's `reconcilePlatform`, one file per platform).
//!
//! Each platform file implements [`PlatformSpec`]: reading the provider spec (image,
//! region, skip rules), the target from the stream, the build of the current image,
//! parsing and writing an image, the architecture of an image, and the swap's rules
//! for images of unknown build. This file holds the exhaustive [`Platform`] enum, the
//! one registry ([`spec`]), the shared types and thin generic code. No I/O.
//!
//! Adding a platform: a new file implementing [`PlatformSpec`], its `pub mod` line,
//! its [`Platform`] variant and its line in the `registry!` below.

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
use serde_json::{Map, Value};

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

/// Generates the registry from one `Variant => spec` line per platform: [`spec`], an
/// exhaustive match (a variant without a line does not compile), and [`Platform::ALL`]
/// in the same order, so the two cannot drift apart.
macro_rules! registry {
    ($($variant:ident => $spec:path),+ $(,)?) => {
        impl Platform {
            /// Every platform, in declaration order.
            pub const ALL: &'static [Platform] = &[$(Platform::$variant),+];
        }

        /// The [`PlatformSpec`] of a platform: the registry.
        pub fn spec(platform: Platform) -> &'static dyn PlatformSpec {
            match platform {
                $(Platform::$variant => &$spec),+
            }
        }
    };
}

registry! {
    Aws => aws::Aws,
    Gcp => gcp::Gcp,
    Azure => azure::Azure,
    Vsphere => vsphere::Vsphere,
    Openstack => openstack::Openstack,
    Nutanix => nutanix::Nutanix,
    Ibmcloud => ibmcloud::Ibmcloud,
    Powervs => powervs::Powervs,
}

impl Platform {
    /// From `providerSpec.value.kind`.
    pub fn from_provider_kind(kind: &str) -> Option<Platform> {
        Platform::ALL
            .iter()
            .copied()
            .find(|p| spec(*p).provider_kind() == kind)
    }

    /// From the Infrastructure's `status.platformStatus.type` (or `status.platform`).
    pub fn from_infrastructure_type(t: &str) -> Option<Platform> {
        let t = t.to_ascii_lowercase();
        Platform::ALL.iter().copied().find(|p| p.as_str() == t)
    }

    /// The architecture every machine of this platform has (PowerVS is Power only).
    pub fn implied_arch(self) -> Option<Arch> {
        spec(self).implied_arch()
    }

    /// Lower-case name, also the stream's artifact key where one exists.
    pub fn as_str(self) -> &'static str {
        spec(self).name()
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A boot image that does not fit a provider spec (another platform's image, or
/// no place for it, such as a GCP spec without a boot disk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotWritable;

/// Everything platform-specific about a MachineSet's boot image. One implementation
/// per platform file; [`spec`] finds it. The defaults fit a platform whose `image`
/// names an uploaded image ([`BootImage::Named`]) known to the catalog under [`name`].
///
/// [`name`]: PlatformSpec::name
pub trait PlatformSpec: Sync {
    /// Lower-case name: the serde name of the [`Platform`], its Infrastructure type
    /// (compared case-insensitively) and its key in the stream and the catalog.
    fn name(&self) -> &'static str;

    /// The name in messages (`AWS`, `vSphere`, `IBM Cloud`).
    fn title(&self) -> &'static str;

    /// `providerSpec.value.kind` of its MachineSets.
    fn provider_kind(&self) -> &'static str;

    /// The architecture every machine of this platform has, if there is only one.
    fn implied_arch(&self) -> Option<Arch> {
        None
    }

    /// Reads the provider spec value: image, region and any reason to skip it.
    fn read(&self, spec: &Value) -> ProviderRead;

    /// What the stream (for the MachineSet's architecture) says the image should be.
    fn target(&self, read: &ProviderRead, arch: &ArchStream) -> Target;

    /// [`target`](PlatformSpec::target) knowing the MachineSet's architecture (Azure:
    /// arm64 is always Hyper-V Gen2). Default: the architecture does not matter.
    fn target_for_arch(&self, read: &ProviderRead, _arch: Arch, stream: &ArchStream) -> Target {
        self.target(read, stream)
    }

    /// A reason to leave the MachineSet alone that needs more than its provider spec:
    /// its architecture (when known) and the cluster's Infrastructure (when read).
    /// Default: none.
    fn cluster_skip(
        &self,
        _read: &ProviderRead,
        _arch: Option<Arch>,
        _infrastructure: Option<&Value>,
    ) -> Option<String> {
        None
    }

    /// The build of an image that is neither the target nor mapped by the user.
    /// Default: the catalog of known streams, else a build id in the image name.
    fn current_build(&self, image: &BootImage, lookup: &Lookup) -> Option<BuildId> {
        named_build(image, lookup, self.name())
    }

    /// The architecture of an image, when a known stream lists it.
    /// Default: the catalog's entry for an image name.
    fn image_arch(&self, image: &BootImage, lookup: &Lookup) -> Option<Arch> {
        match image {
            BootImage::Named(n) => lookup.catalog.lookup_object(self.name(), n).map(|(_, a)| a),
            _ => None,
        }
    }

    /// Parses an explicit, trimmed image value (the `image` option). Default: an image name.
    fn parse_image(&self, s: &str) -> BootImage {
        BootImage::Named(s.to_string())
    }

    /// Writes `image` into a provider spec object (the planner's only edit).
    fn write_image(
        &self,
        spec: &mut Map<String, Value>,
        image: &BootImage,
    ) -> Result<(), NotWritable>;

    /// Whether `image`, whose build is unknown, may still be replaced by the stream's
    /// image: only images an installer made are safe. Default: never.
    fn installer_made(&self, _image: &str) -> bool {
        false
    }

    /// Why a swap leaves an image of unknown build alone, from the assessment's
    /// `reason`. Default: the reason as is.
    fn unknown_build_reason(&self, reason: String) -> String {
        reason
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
    #[error("unsupported provider spec kind {0:?} (supported: {supported})", supported = supported_titles())]
    UnknownKind(String),
}

/// The titles of every platform, for messages (`AWS, GCP, …`).
fn supported_titles() -> String {
    Platform::ALL
        .iter()
        .map(|p| spec(*p).title())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The provider spec value of a MachineSet.
pub fn provider_spec(ms: &Value) -> Option<&Value> {
    ms.pointer("/spec/template/spec/providerSpec/value")
        .filter(|v| v.is_object())
}

/// Reads the boot image of a MachineSet. `cluster_platform` is used when the
/// provider spec has no `kind`.
pub fn read(ms: &Value, cluster_platform: Option<Platform>) -> Result<ProviderRead, PlatformError> {
    let value = provider_spec(ms).ok_or(PlatformError::NoProviderSpec)?;
    let kind = value.get("kind").and_then(Value::as_str);
    let platform = match kind {
        Some(k) => Platform::from_provider_kind(k)
            .ok_or_else(|| PlatformError::UnknownKind(k.to_string()))?,
        None => cluster_platform.ok_or_else(|| PlatformError::UnknownKind(String::new()))?,
    };
    Ok(spec(platform).read(value))
}

/// What the stream (for the MachineSet's architecture `arch`) says the image should be.
pub fn target(read: &ProviderRead, arch: Arch, stream: &ArchStream) -> Target {
    spec(read.platform).target_for_arch(read, arch, stream)
}

/// The build of the current image, when it can be known: the target's build if
/// the image is the target, else the user's mapping, else what the platform knows
/// (the catalog of known streams, or a build id embedded in the image name).
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
    spec(read.platform).current_build(image, lookup)
}

/// Parses an explicit image value (the `image` option) for a platform: an AMI id,
/// a GCP image path, an Azure URN `publisher:offer:sku:version` or resource id,
/// a vSphere template or an image name.
pub fn parse_image(platform: Platform, s: &str) -> BootImage {
    spec(platform).parse_image(s.trim())
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
    value: &mut Value,
    image: &BootImage,
) -> Result<(), WrongImage> {
    value
        .as_object_mut()
        .ok_or(NotWritable)
        .and_then(|obj| spec(platform).write_image(obj, image))
        .map_err(|NotWritable| WrongImage {
            image: image.to_string(),
            platform,
        })
}

/// The architecture of the current image, when a known stream lists it
/// (e.g. an aarch64 AMI in a MachineSet without an arch annotation).
pub fn image_arch(read: &ProviderRead, lookup: &Lookup) -> Option<Arch> {
    spec(read.platform).image_arch(read.image.as_ref()?, lookup)
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

/// Writes an image name as `image: <name>` (OpenStack, IBM Cloud).
pub(crate) fn write_named_string(
    obj: &mut Map<String, Value>,
    image: &BootImage,
) -> Result<(), NotWritable> {
    let BootImage::Named(n) = image else {
        return Err(NotWritable);
    };
    obj.insert("image".into(), Value::String(n.clone()));
    Ok(())
}

/// Writes an image name into `image`, keeping its form: a string stays a string, an
/// object becomes `{type: <type_word>, name}` (Nutanix `name`, PowerVS `Name`).
pub(crate) fn write_named_object(
    obj: &mut Map<String, Value>,
    image: &BootImage,
    type_word: &str,
) -> Result<(), NotWritable> {
    let BootImage::Named(n) = image else {
        return Err(NotWritable);
    };
    match obj.get_mut("image") {
        Some(Value::String(s)) => *s = n.clone(),
        Some(Value::Object(m)) => {
            m.insert("name".into(), Value::String(n.clone()));
            m.insert("type".into(), type_word.into());
            m.remove("uuid");
            m.remove("id");
        }
        _ => {
            obj.insert(
                "image".into(),
                serde_json::json!({"type": type_word, "name": n}),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serde_names() {
        for p in Platform::ALL {
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str(), "{p:?}");
            assert_eq!(
                Platform::from_infrastructure_type(&p.as_str().to_uppercase()),
                Some(*p)
            );
        }
    }

    #[test]
    fn the_registry_lists_every_platform_once_in_order() {
        assert!(Platform::ALL.windows(2).all(|w| w[0] < w[1]));
        for p in Platform::ALL {
            assert_eq!(
                Platform::from_provider_kind(spec(*p).provider_kind()),
                Some(*p)
            );
        }
    }

    #[test]
    fn provider_kinds_and_the_supported_list_are_unchanged() {
        for (kind, p) in [
            ("AWSMachineProviderConfig", Platform::Aws),
            ("GCPMachineProviderSpec", Platform::Gcp),
            ("AzureMachineProviderSpec", Platform::Azure),
            ("VSphereMachineProviderSpec", Platform::Vsphere),
            ("OpenstackProviderSpec", Platform::Openstack),
            ("NutanixMachineProviderConfig", Platform::Nutanix),
            ("IBMCloudMachineProviderSpec", Platform::Ibmcloud),
            ("PowerVSMachineProviderConfig", Platform::Powervs),
        ] {
            assert_eq!(Platform::from_provider_kind(kind), Some(p));
        }
        assert_eq!(Platform::from_provider_kind("Foo"), None);
        assert_eq!(Platform::from_infrastructure_type("BareMetal"), None);
        assert!(PlatformError::UnknownKind("Foo".into())
            .to_string()
            .starts_with(
                "unsupported provider spec kind \"Foo\" (supported: AWS, GCP, Azure, vSphere, \
                 OpenStack, Nutanix, IBM Cloud, PowerVS"
            ));
    }

    #[test]
    fn only_powervs_implies_an_architecture() {
        for p in Platform::ALL {
            let want = (*p == Platform::Powervs).then_some(Arch::Ppc64le);
            assert_eq!(p.implied_arch(), want, "{p}");
        }
    }
}
