//! Ibmcloud: `image` names an image the user uploaded (by name, or
//! `{type, name|uuid}`). The target is the stream's `artifacts.ibmcloud.release`:
//! a build, since the image must be uploaded before a MachineSet can name it.

use serde_json::{Map, Value};

use super::{
    artifact_target, read_named, write_named_string, BootImage, NotWritable, Platform,
    PlatformSpec, ProviderRead, Target,
};
use crate::stream::ArchStream;

/// The IBM Cloud (VPC) platform.
pub struct Ibmcloud;

impl PlatformSpec for Ibmcloud {
    fn name(&self) -> &'static str {
        "ibmcloud"
    }

    fn title(&self) -> &'static str {
        "IBM Cloud"
    }

    fn provider_kind(&self) -> &'static str {
        "IBMCloudMachineProviderSpec"
    }

    /// Reads the image name.
    fn read(&self, spec: &Value) -> ProviderRead {
        read_named(spec, Platform::Ibmcloud)
    }

    /// The stream's ibmcloud release.
    fn target(&self, _read: &ProviderRead, arch: &ArchStream) -> Target {
        artifact_target(
            arch,
            "ibmcloud",
            "import the stream's IBM Cloud image as a VPC custom image and name it in the MachineSet",
        )
    }

    /// Sets `image` to the name.
    fn write_image(
        &self,
        spec: &mut Map<String, Value>,
        image: &BootImage,
    ) -> Result<(), NotWritable> {
        write_named_string(spec, image)
    }
}
