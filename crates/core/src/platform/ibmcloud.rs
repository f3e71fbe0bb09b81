//! Ibmcloud: `image` names an image the user uploaded (by name, or
//! `{type, name|uuid}`). The target is the stream's `artifacts.ibmcloud.release`:
//! a build, since the image must be uploaded before a MachineSet can name it.

use serde_json::Value;

use super::{
    artifact_target, named_build, read_named, BootImage, Lookup, Platform, ProviderRead, Target,
};
use crate::stream::{ArchStream, BuildId};

/// Reads the image name.
pub fn read(spec: &Value) -> ProviderRead {
    read_named(spec, Platform::Ibmcloud)
}

/// The stream's ibmcloud release.
pub fn target(_read: &ProviderRead, arch: &ArchStream) -> Target {
    artifact_target(
        arch,
        "ibmcloud",
        "import the stream's IBM Cloud image as a VPC custom image and name it in the MachineSet",
    )
}

/// A build id in the image name (`rhcos-4xx-9x-<timestamp>-0…`), else unknown.
pub fn current_build(image: &BootImage, lookup: &Lookup) -> Option<BuildId> {
    named_build(image, lookup, "ibmcloud")
}
