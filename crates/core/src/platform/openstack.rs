//! Openstack: `image` names an image the user uploaded (by name, or
//! `{type, name|uuid}`). The target is the stream's `artifacts.openstack.release`:
//! a build, since the image must be uploaded before a MachineSet can name it.

use serde_json::{Map, Value};

use super::{
    artifact_target, read_named, write_named_string, BootImage, NotWritable, Platform,
    PlatformSpec, ProviderRead, Target,
};
use crate::stream::ArchStream;

/// The OpenStack platform.
pub struct Openstack;

impl PlatformSpec for Openstack {
    fn name(&self) -> &'static str {
        "openstack"
    }

    fn title(&self) -> &'static str {
        "OpenStack"
    }

    fn provider_kind(&self) -> &'static str {
        "OpenstackProviderSpec"
    }

    /// Reads the image name.
    fn read(&self, spec: &Value) -> ProviderRead {
        read_named(spec, Platform::Openstack)
    }

    /// The stream's openstack release.
    fn target(&self, _read: &ProviderRead, arch: &ArchStream) -> Target {
        artifact_target(
            arch,
            "openstack",
            "upload the stream's OpenStack qcow2 to Glance and name it in the MachineSet",
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
