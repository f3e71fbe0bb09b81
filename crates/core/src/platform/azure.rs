//! Azure: `image` is a marketplace reference (publisher/offer/sku/version) or a
//! `resourceID` (a managed image made at install time, or a gallery image).
//! Targets come from the stream's marketplace entries with the same
//! publisher/offer and Hyper-V generation; resourceID images need the VHD
//! (`rhel-coreos-extensions.azure-disk`) uploaded first. Confidential VMs are skipped.

use serde_json::Value;

use super::{str_at, BootImage, Lookup, Platform, ProviderRead, Target};
use crate::stream::{ArchStream, AzureMarketplaceImage, BuildId};

/// Reads the image; skips confidential VMs.
pub fn read(spec: &Value) -> ProviderRead {
    let resource_id = str_at(spec, "/image/resourceID");
    let publisher = str_at(spec, "/image/publisher");
    let image = match (resource_id, publisher) {
        (Some(id), _) => Some(BootImage::AzureResourceId(id.to_string())),
        (None, Some(p)) => Some(BootImage::AzureMarketplace {
            publisher: p.to_string(),
            offer: str_at(spec, "/image/offer").unwrap_or_default().to_string(),
            sku: str_at(spec, "/image/sku").unwrap_or_default().to_string(),
            version: str_at(spec, "/image/version")
                .unwrap_or_default()
                .to_string(),
        }),
        (None, None) => None,
    };
    let security = str_at(spec, "/securityProfile/settings/securityType");
    let skip = match (security, &image) {
        (Some(t), _) if t.eq_ignore_ascii_case("ConfidentialVM") => Some(
            "confidential VM (securityType ConfidentialVM) needs a confidential image; not managed"
                .to_string(),
        ),
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
) -> Option<&'a AzureMarketplaceImage> {
    let gen = generation_of_sku(sku);
    arch.azure_marketplace
        .iter()
        .find(|m| m.publisher == publisher && m.offer == offer && m.sku == sku)
        .or_else(|| {
            arch.azure_marketplace
                .iter()
                .find(|m| m.publisher == publisher && m.offer == offer && m.generation == gen)
        })
}

/// The stream's marketplace image for the same offer and generation.
pub fn target(read: &ProviderRead, arch: &ArchStream) -> Target {
    match &read.image {
        Some(BootImage::AzureMarketplace {
            publisher,
            offer,
            sku,
            ..
        }) => match marketplace_target(arch, publisher, offer, sku) {
            Some(m) => match BuildId::from_marketplace_version(&m.version).ok() {
                Some(build) => Target::Image {
                    image: BootImage::AzureMarketplace {
                        publisher: m.publisher.clone(),
                        offer: m.offer.clone(),
                        sku: m.sku.clone(),
                        version: m.version.clone(),
                    },
                    build,
                },
                None => Target::None(format!(
                    "marketplace version {} is not a build id",
                    m.version
                )),
            },
            None => Target::None(format!(
                "the stream has no marketplace image for {publisher}:{offer} ({}); give the marketplace stream file",
                generation_of_sku(sku)
            )),
        },
        Some(BootImage::AzureResourceId(id)) => {
            // Installer-made images (`…/images/<infra>` Gen1, `…-gen2` Gen2) are replaced by the
            // stream's no-purchase-plan marketplace image of the same generation, when it has one.
            let gen = if id.to_ascii_lowercase().contains("gen2") { "hyperVGen2" } else { "hyperVGen1" };
            let marketplace = arch
                .azure_marketplace
                .iter()
                .find(|m| m.plan == "no-purchase-plan" && m.generation == gen);
            match (marketplace, &arch.azure_disk) {
                (Some(m), _) => match BuildId::from_marketplace_version(&m.version) {
                    Ok(build) => Target::Image {
                        image: BootImage::AzureMarketplace {
                            publisher: m.publisher.clone(),
                            offer: m.offer.clone(),
                            sku: m.sku.clone(),
                            version: m.version.clone(),
                        },
                        build,
                    },
                    Err(_) => Target::None(format!("marketplace version {} is not a build id", m.version)),
                },
                (None, Some((build, _))) => Target::BuildOnly {
                    build: build.clone(),
                    how: "upload the stream's azure-disk VHD as a new image and name it in the MachineSet, \
                          or give marketplace data (marketplace_file) to switch to the marketplace image"
                        .into(),
                },
                (None, None) => Target::None("the stream has no azure-disk image for this architecture".into()),
            }
        }
        _ => Target::None("no image to compare".into()),
    }
}

/// Marketplace versions carry the build; resource ids may embed one in their name.
pub fn current_build(image: &BootImage, _lookup: &Lookup) -> Option<BuildId> {
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
