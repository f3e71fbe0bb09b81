//! PowerVS: `image` is `{type: Name, name}` or `{type: ID, id}` of a boot image
//! imported into the workspace. The target is the stream's
//! `images.powervs.regions.<region>` release when the region is known, else
//! `artifacts.powervs.release`: a build, since the OVA must be imported first.

use serde_json::Value;

use super::{
    artifact_target, named_build, read_named, BootImage, Lookup, Platform, ProviderRead, Target,
};
use crate::stream::{ArchStream, BuildId};

/// Reads the image name or id.
pub fn read(spec: &Value) -> ProviderRead {
    read_named(spec, Platform::Powervs)
}

const HOW: &str = "import the stream's PowerVS OVA as a boot image and name it in the MachineSet";

/// The stream's PowerVS release for the region, else for the architecture.
pub fn target(read: &ProviderRead, arch: &ArchStream) -> Target {
    if let Some(img) = read
        .region
        .as_ref()
        .and_then(|r| arch.powervs_regions.get(r))
    {
        return Target::BuildOnly {
            build: img.release.clone(),
            how: HOW.to_string(),
        };
    }
    if let Some(img) = arch.powervs_regions.values().next() {
        if !arch.artifacts.contains_key("powervs") {
            return Target::BuildOnly {
                build: img.release.clone(),
                how: HOW.to_string(),
            };
        }
    }
    artifact_target(arch, "powervs", HOW)
}

/// A build id in the image name (`rhcos-49-84-202108041519-0`), else unknown.
pub fn current_build(image: &BootImage, lookup: &Lookup) -> Option<BuildId> {
    named_build(image, lookup, "powervs")
}
