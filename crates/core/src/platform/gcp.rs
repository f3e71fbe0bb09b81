//! GCP: the image of the disk with `boot: true` (`projects/<p>/global/images/<n>`,
//! a full URL, or a bare cluster-local name); the stream's `images.gcp` is the target.

use serde_json::Value;

use super::{str_at, BootImage, Lookup, Platform, ProviderRead, Target};
use crate::stream::{ArchStream, BuildId};

/// Splits `projects/<p>/global/images/<n>` (optionally behind a URL prefix).
pub fn parse_image(s: &str) -> BootImage {
    if let Some(idx) = s.find("projects/") {
        let parts: Vec<&str> = s[idx..].split('/').collect();
        if parts.len() >= 5 && parts[2] == "global" && parts[3] == "images" {
            return BootImage::GcpImage {
                project: Some(parts[1].to_string()),
                name: parts[4..].join("/"),
            };
        }
    }
    BootImage::GcpImage {
        project: None,
        name: s.to_string(),
    }
}

/// Reads the boot disk's image.
pub fn read(spec: &Value) -> ProviderRead {
    let disks = spec.get("disks").and_then(Value::as_array);
    let boot = disks.and_then(|d| {
        d.iter()
            .find(|disk| disk.get("boot").and_then(Value::as_bool) == Some(true))
    });
    let image = boot.and_then(|d| str_at(d, "/image")).map(parse_image);
    let skip = match (disks, boot) {
        (None, _) => Some("providerSpec has no disks".to_string()),
        (Some(_), None) => Some("no disk has boot: true".to_string()),
        (Some(_), Some(_)) if image.is_none() => Some("the boot disk has no image".to_string()),
        _ => None,
    };
    ProviderRead {
        platform: Platform::Gcp,
        region: str_at(spec, "/region").map(str::to_string),
        image,
        skip,
    }
}

/// The stream's GCP image.
pub fn target(_read: &ProviderRead, arch: &ArchStream) -> Target {
    match &arch.gcp {
        Some(g) => Target::Image {
            image: BootImage::GcpImage {
                project: Some(g.project.clone().unwrap_or_else(|| "rhcos-cloud".into())),
                name: g.name.clone(),
            },
            build: g.release.clone(),
        },
        None => Target::None("the stream has no GCP image for this architecture".into()),
    }
}

/// Catalog lookup by image name, else the build embedded in the name.
pub fn current_build(image: &BootImage, lookup: &Lookup) -> Option<BuildId> {
    match image {
        BootImage::GcpImage { name, .. } => lookup
            .catalog
            .lookup_gcp(name)
            .map(|(b, _)| b)
            .or_else(|| BuildId::from_image_name(name)),
        _ => None,
    }
}
