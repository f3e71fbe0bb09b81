//! Nutanix: `image` names an image the user uploaded (by name, or
//! `{type, name|uuid}`). The target is the stream's `artifacts.nutanix.release`:
//! a build, since the image must be uploaded before a MachineSet can name it.

use serde_json::{Map, Value};

use super::{
    artifact_target, read_named, write_named_object, BootImage, NotWritable, Platform,
    PlatformSpec, ProviderRead, Target,
};
use crate::stream::ArchStream;

/// The Nutanix platform.
pub struct Nutanix;

impl PlatformSpec for Nutanix {
    fn name(&self) -> &'static str {
        "nutanix"
    }

    fn title(&self) -> &'static str {
        "Nutanix"
    }

    fn provider_kind(&self) -> &'static str {
        "NutanixMachineProviderConfig"
    }

    /// Reads the image name.
    fn read(&self, spec: &Value) -> ProviderRead {
        read_named(spec, Platform::Nutanix)
    }

    /// The stream's nutanix release.
    fn target(&self, _read: &ProviderRead, arch: &ArchStream) -> Target {
        artifact_target(
            arch,
            "nutanix",
            "upload the stream's Nutanix image and name it in the MachineSet",
        )
    }

    /// Sets the image name, as `{type: name, name}` when `image` is an object.
    fn write_image(
        &self,
        spec: &mut Map<String, Value>,
        image: &BootImage,
    ) -> Result<(), NotWritable> {
        write_named_object(spec, image, "name")
    }
}
