//! Openstack: `image` names an image the user uploaded (by name, or
//! `{type, name|uuid}`). The target is the stream's `artifacts.openstack.release`:
//! a build, since the image must be uploaded before a MachineSet can name it.

use serde_json::Value;

use super::{
    artifact_target, named_image, str_at, BootImage, Lookup, Platform, ProviderRead, Target,
};
use crate::stream::{ArchStream, BuildId};

/// Reads the image name.
pub fn read(spec: &Value) -> ProviderRead {
    let image = named_image(spec);
    ProviderRead {
        platform: Platform::Openstack,
        region: str_at(spec, "/region").map(str::to_string),
        skip: image
            .is_none()
            .then(|| "providerSpec has no image".to_string()),
        image,
    }
}

/// The stream's openstack release.
pub fn target(_read: &ProviderRead, arch: &ArchStream) -> Target {
    artifact_target(
        arch,
        "openstack",
        "upload the stream's OpenStack qcow2 to Glance and name it in the MachineSet",
    )
}

/// A build id in the image name (`rhcos-4xx-9x-<timestamp>-0…`), else unknown.
pub fn current_build(image: &BootImage, lookup: &Lookup) -> Option<BuildId> {
    match image {
        BootImage::Named(n) => lookup
            .catalog
            .lookup_object("openstack", n)
            .map(|(b, _)| b)
            .or_else(|| BuildId::from_image_name(n)),
        _ => None,
    }
}
