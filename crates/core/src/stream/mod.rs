//! Stream metadata: the source of target boot images.
//!
//! Owns parsing of every format the installer and the cluster have shipped
//! (CoreOS stream JSON 4.8+, legacy pre-4.8 `rhcos*.json`, Azure marketplace
//! JSON, the `coreos-bootimages` ConfigMap) into one normalised, I/O-free
//! model, plus the typed build id and the image → build catalog. Must not do:
//! file or network I/O (the shell reads stream files), and no knowledge of
//! MachineSets.

pub mod arch;
pub mod build_id;
pub mod catalog;
pub mod model;
pub mod parse;

pub use arch::{Arch, ParseArchError};
pub use build_id::{BuildId, BuildIdKind, BuildTime, ParseBuildIdError};
pub use catalog::{Catalog, CatalogEntry};
pub use model::{
    ArchStream, AzureMarketplaceImage, GcpImage, OvaArtifact, RegionImage, Stream, StreamFormat,
    StreamSet,
};
pub use parse::{parse_configmap, parse_stream_document, StreamError};
