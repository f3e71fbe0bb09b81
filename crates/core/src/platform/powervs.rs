//! PowerVS: `image` is `{type: Name, name}` or `{type: ID, id}` of a boot image
//! imported into the workspace. The target is the stream's
//! `images.powervs.regions.<region>` release when the region is known, else
//! `artifacts.powervs.release`: a build, since the OVA must be imported first.
//! Every PowerVS machine is ppc64le.

use serde_json::{Map, Value};

use super::{
    artifact_target, read_named, write_named_object, BootImage, NotWritable, Platform,
    PlatformSpec, ProviderRead, Target,
};
use crate::stream::{Arch, ArchStream, RegionImage};

/// The PowerVS platform.
pub struct Powervs;

const HOW: &str = "import the stream's PowerVS OVA as a boot image and name it in the MachineSet";

/// `BuildOnly` of a regional PowerVS image's release.
fn build_only(img: &RegionImage) -> Target {
    Target::BuildOnly {
        build: img.release.clone(),
        how: HOW.to_string(),
    }
}

impl PlatformSpec for Powervs {
    fn name(&self) -> &'static str {
        "powervs"
    }

    fn title(&self) -> &'static str {
        "PowerVS"
    }

    fn provider_kind(&self) -> &'static str {
        "PowerVSMachineProviderConfig"
    }

    /// PowerVS is Power only.
    fn implied_arch(&self) -> Option<Arch> {
        Some(Arch::Ppc64le)
    }

    /// Reads the image name or id.
    fn read(&self, spec: &Value) -> ProviderRead {
        read_named(spec, Platform::Powervs)
    }

    /// The stream's PowerVS release for the region, else for the architecture.
    fn target(&self, read: &ProviderRead, arch: &ArchStream) -> Target {
        if let Some(img) = read
            .region
            .as_ref()
            .and_then(|r| arch.powervs_regions.get(r))
        {
            return build_only(img);
        }
        if let Some(img) = arch.powervs_regions.values().next() {
            if !arch.artifacts.contains_key("powervs") {
                return build_only(img);
            }
        }
        artifact_target(arch, "powervs", HOW)
    }

    /// Sets the image name, as `{type: Name, name}` when `image` is an object.
    fn write_image(
        &self,
        spec: &mut Map<String, Value>,
        image: &BootImage,
    ) -> Result<(), NotWritable> {
        write_named_object(spec, image, "Name")
    }
}
