//! vSphere: `template` names a VM template in vCenter. Its build is known only
//! from the user's mapping (`image_builds`) or a build id in the template name;
//! the target is the stream's `artifacts.vmware.release` (the OVA must be
//! imported as a template first, so the target is a build, not a name).

use serde_json::{Map, Value};

use super::{
    artifact_target, str_at, BootImage, Lookup, NotWritable, Platform, PlatformSpec, ProviderRead,
    Target,
};
use crate::stream::{ArchStream, BuildId};

/// The vSphere platform.
pub struct Vsphere;

/// Whether a template is one the installer made: `<infraID>-rhcos`, or per failure domain
/// `<infraID>-rhcos-<region>-<zone>` (a name or an inventory path). It names no build;
/// the procedure replaces it by a template of the stream's build.
pub fn installer_made(template: &str) -> bool {
    let name = template.rsplit('/').next().unwrap_or(template);
    name.ends_with("-rhcos") || name.contains("-rhcos-")
}

impl PlatformSpec for Vsphere {
    fn name(&self) -> &'static str {
        "vsphere"
    }

    fn title(&self) -> &'static str {
        "vSphere"
    }

    fn provider_kind(&self) -> &'static str {
        "VSphereMachineProviderSpec"
    }

    /// Reads the template name.
    fn read(&self, spec: &Value) -> ProviderRead {
        let template = str_at(spec, "/template");
        ProviderRead {
            platform: Platform::Vsphere,
            region: str_at(spec, "/workspace/datacenter").map(str::to_string),
            image: template.map(|t| BootImage::VsphereTemplate(t.to_string())),
            skip: template
                .is_none()
                .then(|| "providerSpec has no template".to_string()),
        }
    }

    /// The stream's vmware release.
    fn target(&self, _read: &ProviderRead, arch: &ArchStream) -> Target {
        artifact_target(
            arch,
            "vmware",
            "import the stream's OVA as a template (ocp.bootimage.vsphere_template does it and returns the `image` to give)",
        )
    }

    /// A build id in the template name, else unknown.
    fn current_build(&self, image: &BootImage, _lookup: &Lookup) -> Option<BuildId> {
        match image {
            BootImage::VsphereTemplate(t) => BuildId::from_image_name(t),
            _ => None,
        }
    }

    /// `<infraID>-rhcos` (per failure domain `<infraID>-rhcos-<region>-<zone>`).
    fn installer_made(&self, image: &str) -> bool {
        installer_made(image)
    }

    /// A template name.
    fn parse_image(&self, s: &str) -> BootImage {
        BootImage::VsphereTemplate(s.to_string())
    }

    /// Sets `template`.
    fn write_image(
        &self,
        spec: &mut Map<String, Value>,
        image: &BootImage,
    ) -> Result<(), NotWritable> {
        let BootImage::VsphereTemplate(t) = image else {
            return Err(NotWritable);
        };
        spec.insert("template".into(), Value::String(t.clone()));
        Ok(())
    }
}
