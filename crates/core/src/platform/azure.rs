//! Azure: `image` is a marketplace reference (publisher/offer/sku/version) or a
//! `resourceID` (a managed image made at install time, or a gallery image).
//! Targets come from the stream's marketplace entries with the same
//! publisher/offer and Hyper-V generation; resourceID images need the VHD
//! (`rhel-coreos-extensions.azure-disk`) uploaded first. Skipped as MCO skips them: any
//! `securityProfile.settings.securityType` (ConfidentialVM, TrustedLaunch), ppc64le and
//! s390x; and Azure Stack Hub (`cloudName: AzureStackCloud`: no marketplace images).
//! arm64 is always Hyper-V Gen2. A resource id of unknown build is the installer's
//! image and may be replaced.

use serde_json::{Map, Value};

use super::{str_at, BootImage, Lookup, NotWritable, Platform, PlatformSpec, ProviderRead, Target};
use crate::stream::{Arch, ArchStream, AzureMarketplaceImage, BuildId};

/// The Azure platform.
pub struct Azure;

impl PlatformSpec for Azure {
    fn name(&self) -> &'static str {
        "azure"
    }

    fn title(&self) -> &'static str {
        "Azure"
    }

    fn provider_kind(&self) -> &'static str {
        "AzureMachineProviderSpec"
    }

    /// Reads the image; skips any security type (MCO skips every non-empty one:
    /// ConfidentialVM needs a confidential image, TrustedLaunch a Gen2 image with secure
    /// boot; the stream names neither).
    fn read(&self, spec: &Value) -> ProviderRead {
        let image = read_image(spec);
        let security = str_at(spec, "/securityProfile/settings/securityType");
        let skip = match (security, &image) {
            (Some(t), _) => {
                let what = match t.to_ascii_lowercase().as_str() {
                    "confidentialvm" => "a confidential VM",
                    "trustedlaunch" => "a trusted launch VM",
                    _ => "a VM",
                };
                Some(format!(
                    "{what} (Azure securityType {t} in securityProfile.settings) needs an image made for it, \
                     which the stream does not name; not managed (as MCO)"
                ))
            }
            (_, None) => Some("providerSpec has no image".to_string()),
            _ => None,
        };
        ProviderRead {
            platform: Platform::Azure,
            region: str_at(spec, "/location").map(str::to_string),
            image,
            skip,
        }
    }

    /// The stream's marketplace image for the same offer and generation.
    fn target(&self, read: &ProviderRead, arch: &ArchStream) -> Target {
        target_of(read, arch, None)
    }

    /// arm64 machines boot only Hyper-V Gen2 images, whatever the current SKU says.
    fn target_for_arch(&self, read: &ProviderRead, arch: Arch, stream: &ArchStream) -> Target {
        let gen = (arch == Arch::Aarch64).then_some("hyperVGen2");
        target_of(read, stream, gen)
    }

    /// Azure Stack Hub has no marketplace images and MCO leaves it alone; ppc64le and
    /// s390x machines do not exist on Azure (MCO skips them).
    fn cluster_skip(
        &self,
        _read: &ProviderRead,
        arch: Option<Arch>,
        infrastructure: Option<&Value>,
    ) -> Option<String> {
        let cloud =
            infrastructure.and_then(|i| str_at(i, "/status/platformStatus/azure/cloudName"));
        if cloud.is_some_and(|c| c.eq_ignore_ascii_case("AzureStackCloud")) {
            return Some(
                "Azure Stack Hub (Infrastructure cloudName AzureStackCloud) has no marketplace \
                 images; its boot images are uploaded by hand"
                    .into(),
            );
        }
        match arch {
            Some(a @ (Arch::Ppc64le | Arch::S390x)) => Some(format!(
                "architecture {} has no Azure boot images",
                a.as_rpm()
            )),
            _ => None,
        }
    }

    /// Marketplace versions carry the build; resource ids may embed one in their name.
    fn current_build(&self, image: &BootImage, _lookup: &Lookup) -> Option<BuildId> {
        match image {
            BootImage::AzureMarketplace { version, .. } => {
                BuildId::from_marketplace_version(version).ok()
            }
            BootImage::AzureResourceId(id) => {
                BuildId::from_image_name(id.rsplit('/').next().unwrap_or(id))
            }
            _ => None,
        }
    }

    /// A resource id (`/subscriptions/…`) or a URN `publisher:offer:sku:version`;
    /// anything else is taken as a resource id.
    fn parse_image(&self, s: &str) -> BootImage {
        if s.starts_with('/') {
            return BootImage::AzureResourceId(s.to_string());
        }
        match s.split(':').collect::<Vec<&str>>().as_slice() {
            [publisher, offer, sku, version] => BootImage::AzureMarketplace {
                publisher: publisher.to_string(),
                offer: offer.to_string(),
                sku: sku.to_string(),
                version: version.to_string(),
            },
            _ => BootImage::AzureResourceId(s.to_string()),
        }
    }

    /// Sets `image` to the marketplace reference (with its plan type) or the resource id.
    fn write_image(
        &self,
        spec: &mut Map<String, Value>,
        image: &BootImage,
    ) -> Result<(), NotWritable> {
        match image {
            BootImage::AzureMarketplace {
                publisher,
                offer,
                sku,
                version,
            } => write_marketplace(spec, publisher, offer, sku, version),
            BootImage::AzureResourceId(id) => {
                spec.insert(
                    "image".into(),
                    serde_json::json!({"publisher": "", "offer": "", "sku": "", "version": "", "resourceID": id}),
                );
            }
            _ => return Err(NotWritable),
        }
        Ok(())
    }

    /// A resource id is an image the installer made (or a gallery image of the same kind).
    fn installer_made(&self, image: &str) -> bool {
        image.starts_with('/')
    }
}

/// Azure Stack Hub: Infrastructure `status.platformStatus.azure.cloudName` is
/// `AzureStackCloud` (MCO switches its boot image controller off there:
/// `pkg/controller/common/featuregates.go`).
pub fn is_azure_stack(infrastructure: Option<&Value>) -> bool {
    infrastructure
        .and_then(|i| str_at(i, "/status/platformStatus/azure/cloudName"))
        .is_some_and(|c| c.eq_ignore_ascii_case("AzureStackCloud"))
}

/// The target of an Azure image; `gen` forces a Hyper-V generation (arm64: Gen2).
fn target_of(read: &ProviderRead, arch: &ArchStream, gen: Option<&'static str>) -> Target {
    {
        match &read.image {
            Some(BootImage::AzureMarketplace {
                publisher,
                offer,
                sku,
                ..
            }) => {
                let gen = gen.unwrap_or_else(|| generation_of_sku(sku));
                match marketplace_target(arch, publisher, offer, sku, gen) {
                    Some(m) => marketplace_image(m),
                    None => Target::None(format!(
                        "the stream has no marketplace image for {publisher}:{offer} ({gen}); give the marketplace stream file"
                    )),
                }
            }
            Some(BootImage::AzureResourceId(id)) => resource_id_target(arch, id, gen),
            _ => Target::None("no image to compare".into()),
        }
    }
}

/// The image of a provider spec: `image.resourceID`, else the marketplace reference.
fn read_image(spec: &Value) -> Option<BootImage> {
    if let Some(id) = str_at(spec, "/image/resourceID") {
        return Some(BootImage::AzureResourceId(id.to_string()));
    }
    let field = |f: &str| {
        str_at(spec, &format!("/image/{f}"))
            .unwrap_or_default()
            .to_string()
    };
    str_at(spec, "/image/publisher").map(|p| BootImage::AzureMarketplace {
        publisher: p.to_string(),
        offer: field("offer"),
        sku: field("sku"),
        version: field("version"),
    })
}

/// Writes a marketplace reference into `image` (kept when it is not an object),
/// clearing `resourceID`; `azureopenshift` images have no purchase plan.
fn write_marketplace(
    spec: &mut Map<String, Value>,
    publisher: &str,
    offer: &str,
    sku: &str,
    version: &str,
) {
    let img = spec.entry("image").or_insert_with(|| serde_json::json!({}));
    let plan = if publisher == "azureopenshift" {
        "MarketplaceNoPlan"
    } else {
        "MarketplaceWithPlan"
    };
    if let Some(m) = img.as_object_mut() {
        m.insert("publisher".into(), publisher.into());
        m.insert("offer".into(), offer.into());
        m.insert("sku".into(), sku.into());
        m.insert("version".into(), version.into());
        m.insert("resourceID".into(), "".into());
        m.insert("type".into(), plan.into());
    }
}

/// Hyper-V generation implied by a marketplace SKU (`…-gen1`, `aro_4xx` = Gen1).
fn generation_of_sku(sku: &str) -> &'static str {
    let s = sku.to_ascii_lowercase();
    if s.ends_with("gen1") || s.starts_with("aro_") {
        "hyperVGen1"
    } else {
        "hyperVGen2"
    }
}

/// The marketplace entry of the stream that replaces `current`.
fn marketplace_target<'a>(
    arch: &'a ArchStream,
    publisher: &str,
    offer: &str,
    sku: &str,
    gen: &str,
) -> Option<&'a AzureMarketplaceImage> {
    arch.azure_marketplace
        .iter()
        .find(|m| {
            m.publisher == publisher && m.offer == offer && m.sku == sku && m.generation == gen
        })
        .or_else(|| {
            arch.azure_marketplace
                .iter()
                .find(|m| m.publisher == publisher && m.offer == offer && m.generation == gen)
        })
}

/// A stream marketplace entry as a target (its version is the build).
fn marketplace_image(m: &AzureMarketplaceImage) -> Target {
    match BuildId::from_marketplace_version(&m.version) {
        Ok(build) => Target::Image {
            image: BootImage::AzureMarketplace {
                publisher: m.publisher.clone(),
                offer: m.offer.clone(),
                sku: m.sku.clone(),
                version: m.version.clone(),
            },
            build,
        },
        Err(_) => Target::None(format!(
            "marketplace version {} is not a build id",
            m.version
        )),
    }
}

/// The target of a resource id image. Installer-made images (`…/images/<infra>` Gen1,
/// `…-gen2` Gen2) are replaced by the stream's no-purchase-plan marketplace image of
/// the same generation, when it has one; else the VHD must be uploaded.
fn resource_id_target(arch: &ArchStream, id: &str, gen: Option<&'static str>) -> Target {
    let gen = gen.unwrap_or(if id.to_ascii_lowercase().contains("gen2") {
        "hyperVGen2"
    } else {
        "hyperVGen1"
    });
    let marketplace = arch
        .azure_marketplace
        .iter()
        .find(|m| m.plan == "no-purchase-plan" && m.generation == gen);
    match (marketplace, &arch.azure_disk) {
        (Some(m), _) => marketplace_image(m),
        (None, Some((build, _))) => Target::BuildOnly {
            build: build.clone(),
            how:
                "upload the stream's azure-disk VHD as a new image and name it in the MachineSet, \
                  or give marketplace data (marketplace_file) to switch to the marketplace image"
                    .into(),
        },
        (None, None) => {
            Target::None("the stream has no azure-disk image for this architecture".into())
        }
    }
}
