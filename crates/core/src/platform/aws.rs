//! AWS: `ami.id` in `providerSpec.value`, region from `placement.region`; the
//! stream's `images.aws.regions.<region>.image` is the target.

use serde_json::Value;

use super::{str_at, BootImage, Lookup, Platform, ProviderRead, Target};
use crate::stream::{ArchStream, BuildId};

/// Reads the AMI and region. An AMI given by ARN or filters cannot be compared: skip.
pub fn read(spec: &Value) -> ProviderRead {
    let id = str_at(spec, "/ami/id");
    let skip = if id.is_none() {
        if spec.pointer("/ami/arn").is_some() || spec.pointer("/ami/filters").is_some() {
            Some("AMI is chosen by ARN or filters, not by id; leave it to its owner".to_string())
        } else {
            Some("providerSpec has no ami.id".to_string())
        }
    } else {
        None
    };
    ProviderRead {
        platform: Platform::Aws,
        region: str_at(spec, "/placement/region").map(str::to_string),
        image: id.map(|i| BootImage::AwsAmi(i.to_string())),
        skip,
    }
}

/// The stream's AMI for the MachineSet's region.
pub fn target(read: &ProviderRead, arch: &ArchStream) -> Target {
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
pub fn current_build(image: &BootImage, lookup: &Lookup) -> Option<BuildId> {
    match image {
        BootImage::AwsAmi(ami) => lookup.catalog.lookup_aws(ami).map(|(b, _, _)| b),
        _ => None,
    }
}
