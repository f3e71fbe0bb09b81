//! GCP: the image of the disk with `boot: true` (`projects/<p>/global/images/<n>`,
//! a full URL, or a bare cluster-local name); the stream's `images.gcp` is the target.
//! A bare `…-rhcos-image` of unknown build is the installer's and may be replaced (the
//! report says so). An image in any other project (`projects/<their-project>/…`, a copy
//! in the customer's own project) is skipped, as MCO does: organisation policies may
//! restrict which projects images may come from.

use serde_json::{Map, Value};

use super::{str_at, BootImage, Lookup, NotWritable, Platform, PlatformSpec, ProviderRead, Target};
use crate::stream::{Arch, ArchStream, BuildId};

/// The GCP platform.
pub struct Gcp;

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

/// The projects that publish CoreOS images for GCP (RHCOS; FCOS for OKD).
pub const PUBLIC_IMAGE_PROJECTS: [&str; 2] = ["rhcos-cloud", "fedora-coreos-cloud"];

/// Why an image is left alone: it lives in a project that is not a public CoreOS one.
fn own_project_reason(image: &BootImage) -> Option<String> {
    match image {
        BootImage::GcpImage {
            project: Some(p),
            name,
        } if !PUBLIC_IMAGE_PROJECTS.contains(&p.as_str()) => Some(format!(
            "image {name} is in project {p}, not rhcos-cloud: a copy in the customer's own project \
             (organisation policies may restrict image projects); left alone, as MCO does"
        )),
        _ => None,
    }
}

/// The disk with `boot: true`.
fn is_boot(disk: &Value) -> bool {
    disk.get("boot").and_then(Value::as_bool) == Some(true)
}

impl PlatformSpec for Gcp {
    fn name(&self) -> &'static str {
        "gcp"
    }

    fn title(&self) -> &'static str {
        "GCP"
    }

    fn provider_kind(&self) -> &'static str {
        "GCPMachineProviderSpec"
    }

    /// Reads the boot disk's image.
    fn read(&self, spec: &Value) -> ProviderRead {
        let disks = spec.get("disks").and_then(Value::as_array);
        let boot = disks.and_then(|d| d.iter().find(|disk| is_boot(disk)));
        let image = boot.and_then(|d| str_at(d, "/image")).map(parse_image);
        let skip = match (disks, boot) {
            (None, _) => Some("providerSpec has no disks".to_string()),
            (Some(_), None) => Some("no disk has boot: true".to_string()),
            (Some(_), Some(_)) if image.is_none() => Some("the boot disk has no image".to_string()),
            _ => image.as_ref().and_then(own_project_reason),
        };
        ProviderRead {
            platform: Platform::Gcp,
            region: str_at(spec, "/region").map(str::to_string),
            image,
            skip,
        }
    }

    /// The stream's GCP image.
    fn target(&self, _read: &ProviderRead, arch: &ArchStream) -> Target {
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
    fn current_build(&self, image: &BootImage, lookup: &Lookup) -> Option<BuildId> {
        match image {
            BootImage::GcpImage { name, .. } => lookup
                .catalog
                .lookup_gcp(name)
                .map(|(b, _)| b)
                .or_else(|| BuildId::from_image_name(name)),
            _ => None,
        }
    }

    /// The architecture the catalog of known streams lists for the image name.
    fn image_arch(&self, image: &BootImage, lookup: &Lookup) -> Option<Arch> {
        match image {
            BootImage::GcpImage { name, .. } => lookup.catalog.lookup_gcp(name).map(|(_, a)| a),
            _ => None,
        }
    }

    /// A GCP image path, URL or bare name.
    fn parse_image(&self, s: &str) -> BootImage {
        parse_image(s)
    }

    /// Sets the boot disk's `image`; a spec without a boot disk cannot take one.
    fn write_image(
        &self,
        spec: &mut Map<String, Value>,
        image: &BootImage,
    ) -> Result<(), NotWritable> {
        if !matches!(image, BootImage::GcpImage { .. }) {
            return Err(NotWritable);
        }
        let boot = spec
            .get_mut("disks")
            .and_then(Value::as_array_mut)
            .and_then(|disks| disks.iter_mut().find(|d| is_boot(d)))
            .ok_or(NotWritable)?;
        boot["image"] = Value::String(image.to_string());
        Ok(())
    }

    /// A bare cluster-local `…-rhcos-image` is the one the installer made.
    fn installer_made(&self, image: &str) -> bool {
        !image.contains('/') && image.ends_with("-rhcos-image")
    }
}
