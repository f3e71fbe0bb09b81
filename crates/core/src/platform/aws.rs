//! AWS: `ami.id` in `providerSpec.value`, region from `placement.region`; the
//! stream's `images.aws.regions.<region>.image` is the target. An AMI of unknown
//! build (custom, encrypted copy, marketplace) is never replaced without `image`.

use serde_json::{Map, Value};

use super::{str_at, BootImage, Lookup, NotWritable, Platform, PlatformSpec, ProviderRead, Target};
use crate::stream::{Arch, ArchStream, BuildId};

/// The AWS platform.
pub struct Aws;

impl PlatformSpec for Aws {
    fn name(&self) -> &'static str {
        "aws"
    }

    fn title(&self) -> &'static str {
        "AWS"
    }

    fn provider_kind(&self) -> &'static str {
        "AWSMachineProviderConfig"
    }

    /// Reads the AMI and region. An AMI given by ARN or filters cannot be compared: skip.
    fn read(&self, spec: &Value) -> ProviderRead {
        let id = str_at(spec, "/ami/id");
        ProviderRead {
            platform: Platform::Aws,
            region: str_at(spec, "/placement/region").map(str::to_string),
            image: id.map(|i| BootImage::AwsAmi(i.to_string())),
            skip: id.is_none().then(|| no_id_reason(spec)),
        }
    }

    /// The stream's AMI for the MachineSet's region.
    fn target(&self, read: &ProviderRead, arch: &ArchStream) -> Target {
        let Some(region) = &read.region else {
            return Target::None("providerSpec has no placement.region".into());
        };
        match arch.aws_regions.get(region) {
            Some(img) => Target::Image {
                image: BootImage::AwsAmi(img.image.clone()),
                build: img.release.clone(),
            },
            None => Target::None(format!(
                "the stream has no AWS image for region {region} ({} regions known)",
                arch.aws_regions.len()
            )),
        }
    }

    /// Maps an AMI back to its build through the catalog of known streams.
    fn current_build(&self, image: &BootImage, lookup: &Lookup) -> Option<BuildId> {
        match image {
            BootImage::AwsAmi(ami) => lookup.catalog.lookup_aws(ami).map(|(b, _, _)| b),
            _ => None,
        }
    }

    /// The architecture the catalog of known streams lists for an AMI.
    fn image_arch(&self, image: &BootImage, lookup: &Lookup) -> Option<Arch> {
        match image {
            BootImage::AwsAmi(ami) => lookup.catalog.lookup_aws(ami).map(|(_, a, _)| a),
            _ => None,
        }
    }

    /// An AMI id.
    fn parse_image(&self, s: &str) -> BootImage {
        BootImage::AwsAmi(s.to_string())
    }

    /// Sets `ami: {id}` (dropping any ARN or filters).
    fn write_image(
        &self,
        spec: &mut Map<String, Value>,
        image: &BootImage,
    ) -> Result<(), NotWritable> {
        let BootImage::AwsAmi(id) = image else {
            return Err(NotWritable);
        };
        spec.insert("ami".into(), serde_json::json!({ "id": id }));
        Ok(())
    }

    /// Says what an AMI of unknown build probably is, and how to replace it anyway.
    fn unknown_build_reason(&self, reason: String) -> String {
        format!(
            "{reason}: not an AMI of any known RHCOS stream (custom, encrypted copy or marketplace AMI?); give `image` to replace it"
        )
    }
}

/// Why a provider spec without `ami.id` is skipped.
fn no_id_reason(spec: &Value) -> String {
    if spec.pointer("/ami/arn").is_some() || spec.pointer("/ami/filters").is_some() {
        "AMI is chosen by ARN or filters, not by id; leave it to its owner".to_string()
    } else {
        "providerSpec has no ami.id".to_string()
    }
}
