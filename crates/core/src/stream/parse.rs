//! Parsing stream metadata in every shipped format into the normalised model.
//!
//! Owns format detection and the readers for: CoreOS stream JSON (4.8+),
//! legacy pre-4.8 `rhcos*.json`, the Azure marketplace file, and the
//! `coreos-bootimages` ConfigMap (YAML or JSON, `data.stream` plus 5.0+
//! `data.streams`), and the [`StreamError`] type of the whole `stream` module.
//! Pure functions over bytes / `serde_json::Value`, no I/O (the shell reads
//! files and wraps its errors in [`StreamError::Io`] / [`StreamError::File`]).
//! Never panics on any input.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::{Map, Value};

use super::build_id::ParseBuildIdError;
use super::model::{
    ArchStream, AzureMarketplaceImage, GcpImage, OvaArtifact, RegionImage, Stream, StreamFormat,
    StreamSet,
};
use super::{Arch, BuildId};

/// Everything that can go wrong reading stream metadata or looking things up in it.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The input is empty (or only whitespace / a YAML `null`).
    #[error("stream document is empty")]
    Empty,
    /// The input starts like JSON but is not valid JSON.
    #[error("stream document is not valid JSON (line {line}, column {column}): {message}")]
    InvalidJson {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What serde_json reported.
        message: String,
    },
    /// The input is neither JSON nor valid YAML.
    #[error("stream document is not valid YAML{}: {message}", location(*.line, *.column))]
    InvalidYaml {
        /// 1-based line of the error, when known.
        line: Option<usize>,
        /// 1-based column of the error, when known.
        column: Option<usize>,
        /// What serde_yaml reported.
        message: String,
    },
    /// Valid JSON/YAML, but none of the stream metadata formats.
    #[error(
        "not stream metadata: expected `architectures` (stream JSON), `buildid`/`amis` (legacy) \
         or a ConfigMap with data.stream; found {found}"
    )]
    NotStreamMetadata {
        /// A short description of what was found (`a MachineSet object`, the top-level keys …).
        found: String,
    },
    /// A ConfigMap that has no `data.stream`.
    #[error(
        "ConfigMap {name} has no data.stream (the JSON stream metadata written by the \
         installer/CVO); its data keys are: {keys}. Is this the \
         openshift-machine-config-operator/coreos-bootimages ConfigMap?"
    )]
    ConfigMapWithoutStream {
        /// `namespace/name` of the ConfigMap.
        name: String,
        /// Its `data` keys, comma-separated, or `(none)`.
        keys: String,
    },
    /// A stream document without `architectures`, or without any architecture this tool knows.
    #[error("stream {stream} has no usable architectures{}", found_arches(.found))]
    NoArchitectures {
        /// The stream's name.
        stream: String,
        /// Architecture keys that were present but are not known (`riscv64`, …).
        found: Vec<String>,
    },
    /// A field has the wrong JSON type.
    #[error("field `{field}`: expected {expected}, found {found}")]
    WrongType {
        /// Dotted path of the field.
        field: String,
        /// The expected type.
        expected: &'static str,
        /// What is there instead.
        found: String,
    },
    /// A required field is absent.
    #[error("field `{field}` is missing")]
    MissingField {
        /// Dotted path of the field.
        field: String,
    },
    /// A `release`/`buildid` field that does not hold a build id.
    #[error("field `{field}`: {cause}")]
    InvalidRelease {
        /// Dotted path of the field.
        field: String,
        /// Why it is not a build id.
        cause: ParseBuildIdError,
    },
    /// An error inside a document embedded in a ConfigMap (`data.stream`, `data.streams.<name>`).
    #[error("in ConfigMap {key}: {cause}")]
    Embedded {
        /// Which embedded document: `data.stream`, `data.streams` or `data.streams.<name>`.
        key: String,
        /// The error inside it.
        cause: Box<StreamError>,
    },
    /// A stream file could not be read.
    #[error("cannot read stream file {}: {cause}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// A stream file was read but could not be parsed.
    #[error("stream file {}: {cause}", .path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The parse error.
        cause: Box<StreamError>,
    },
    /// An OS stream name (`rhel-10`) that the stream source does not have.
    #[error("{}", unknown_os_stream(.requested, .available, .default))]
    UnknownOsStream {
        /// The requested name.
        requested: String,
        /// The named OS streams there are (5.0+ ConfigMap `data.streams`).
        available: Vec<String>,
        /// The default stream's label.
        default: String,
    },
    /// An architecture the stream does not have.
    #[error("stream {stream} has no architecture {arch}; it has: {}", list(.available))]
    MissingArch {
        /// The stream's label.
        stream: String,
        /// The requested architecture.
        arch: Arch,
        /// The architectures it has.
        available: Vec<Arch>,
    },
    /// A region the stream has no image for.
    #[error(
        "the stream has no {platform} image for region {region}; it lists {known} other \
         region(s) for this architecture (copy an image to the region, or pass one explicitly)"
    )]
    MissingRegion {
        /// `AWS`, `IBM Cloud`, `PowerVS`.
        platform: &'static str,
        /// The requested region.
        region: String,
        /// How many regions the stream does list.
        known: usize,
    },
    /// A line of an image index (`data/rhcos-image-index.tsv` or a user file) is malformed.
    #[error("image index line {line}: {reason}")]
    InvalidIndex {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" (line {l}, column {c})"),
        (Some(l), None) => format!(" (line {l})"),
        _ => String::new(),
    }
}

fn found_arches(found: &[String]) -> String {
    if found.is_empty() {
        "; expected an `architectures` map with x86_64, aarch64, ppc64le or s390x".to_string()
    } else {
        format!(
            "; it has only {} (known: x86_64, aarch64, ppc64le, s390x)",
            found.join(", ")
        )
    }
}

fn unknown_os_stream(requested: &str, available: &[String], default: &str) -> String {
    if available.is_empty() {
        format!(
            "no OS stream `{requested}`: this stream source has no named OS streams, only the \
             default stream {default} (named streams such as rhel-9/rhel-10 come from the 5.0+ \
             coreos-bootimages ConfigMap)"
        )
    } else {
        format!(
            "no OS stream `{requested}`; this stream source has: {} (default: {default})",
            available.join(", ")
        )
    }
}

fn list<T: std::fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "(none)".to_string();
    }
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses stream metadata in any supported format, detected from the content:
/// CoreOS stream JSON (`architectures`), legacy JSON (`buildid`/`amis`), Azure marketplace JSON
/// (top-level arch keys with `azure`), or a `coreos-bootimages` ConfigMap in YAML or JSON.
pub fn parse_stream_document(bytes: &[u8]) -> Result<StreamSet, StreamError> {
    let value = parse_bytes(bytes)?;
    parse_value(&value)
}

/// Parses the `coreos-bootimages` ConfigMap as returned by the Kubernetes API: `data.stream`
/// (a JSON string, or an already-decoded object) is the default stream, 5.0+ `data.streams`
/// (a JSON string of a map OS-stream name → stream document) the named ones, and
/// `data.releaseVersion` the payload version.
pub fn parse_configmap(obj: &Value) -> Result<StreamSet, StreamError> {
    let Value::Object(root) = obj else {
        return Err(StreamError::NotStreamMetadata {
            found: describe(obj),
        });
    };
    if let Some(kind) = root.get("kind").and_then(Value::as_str) {
        if kind != "ConfigMap" {
            return Err(StreamError::NotStreamMetadata {
                found: describe(obj),
            });
        }
    }
    let name = configmap_name(root);
    let data = opt_obj(root, "data", "")?;
    let keys = data
        .map(|d| d.keys().cloned().collect::<Vec<_>>().join(", "))
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| "(none)".to_string());
    let Some(data) = data else {
        return Err(StreamError::ConfigMapWithoutStream { name, keys });
    };
    let Some(stream_value) = data.get("stream").filter(|v| !v.is_null()) else {
        return Err(StreamError::ConfigMapWithoutStream { name, keys });
    };
    let default = embedded_stream(stream_value, "data.stream")?;

    let mut named = BTreeMap::new();
    if let Some(streams_value) = data.get("streams").filter(|v| !v.is_null()) {
        let decoded = embedded_value(streams_value, "data.streams")?;
        let Value::Object(map) = &decoded else {
            return Err(StreamError::Embedded {
                key: "data.streams".to_string(),
                cause: Box::new(StreamError::WrongType {
                    field: "(top level)".to_string(),
                    expected: "an object mapping OS stream names to stream documents",
                    found: describe(&decoded),
                }),
            });
        };
        for (os_stream, doc) in map {
            let key = format!("data.streams.{os_stream}");
            named.insert(os_stream.clone(), embedded_stream(doc, &key)?);
        }
    }
    let release_version = opt_str(data, "releaseVersion", "data")?.map(str::to_string);
    Ok(StreamSet {
        default,
        named,
        release_version,
    })
}

/// Bytes → JSON value: JSON when it starts with `{`/`[`, YAML otherwise.
fn parse_bytes(bytes: &[u8]) -> Result<Value, StreamError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let Some(first) = bytes.iter().find(|b| !b.is_ascii_whitespace()) else {
        return Err(StreamError::Empty);
    };
    let value = if matches!(first, b'{' | b'[') {
        serde_json::from_slice::<Value>(bytes).map_err(|e| StreamError::InvalidJson {
            line: e.line(),
            column: e.column(),
            message: strip_location(&e.to_string()),
        })?
    } else {
        serde_yaml::from_slice::<Value>(bytes).map_err(|e| {
            let loc = e.location();
            StreamError::InvalidYaml {
                line: loc.as_ref().map(serde_yaml::Location::line),
                column: loc.as_ref().map(serde_yaml::Location::column),
                message: strip_location(&e.to_string()),
            }
        })?
    };
    if value.is_null() {
        return Err(StreamError::Empty);
    }
    Ok(value)
}

/// Drops the first " at line X column Y" of a serde message (the error's own location, which
/// is reported separately); a later one (YAML's "while parsing … at line …") stays.
fn strip_location(message: &str) -> String {
    const MARK: &str = " at line ";
    let Some(start) = message.find(MARK) else {
        return message.to_string();
    };
    let rest = &message[start + MARK.len()..];
    let after_line = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    let after_column = match after_line.strip_prefix(" column ") {
        Some(col) => col.trim_start_matches(|c: char| c.is_ascii_digit()),
        None => after_line,
    };
    format!("{}{after_column}", &message[..start])
}

/// Dispatches a decoded document on its shape.
fn parse_value(value: &Value) -> Result<StreamSet, StreamError> {
    let Value::Object(root) = value else {
        return Err(StreamError::NotStreamMetadata {
            found: describe(value),
        });
    };
    if is_kube_object(root) || is_configmap_like(root) {
        return parse_configmap(value);
    }
    parse_single(root).map(StreamSet::single)
}

/// One stream document that is not a ConfigMap: CoreOS stream, legacy or marketplace.
fn parse_single(root: &Map<String, Value>) -> Result<Stream, StreamError> {
    if root.contains_key("architectures") {
        return parse_coreos_stream(root);
    }
    if root.contains_key("buildid") || root.contains_key("amis") {
        return parse_legacy(root);
    }
    if is_marketplace(root) {
        return parse_marketplace(root);
    }
    if let Some(name) = root.get("stream").and_then(Value::as_str) {
        return Err(StreamError::NoArchitectures {
            stream: name.to_string(),
            found: Vec::new(),
        });
    }
    Err(StreamError::NotStreamMetadata {
        found: describe_object(root),
    })
}

/// A document embedded in a ConfigMap key: a JSON string or an already-decoded object.
fn embedded_stream(value: &Value, key: &str) -> Result<Stream, StreamError> {
    let wrap = |cause| StreamError::Embedded {
        key: key.to_string(),
        cause: Box::new(cause),
    };
    let decoded = embedded_value(value, key)?;
    let Value::Object(root) = &decoded else {
        return Err(wrap(StreamError::NotStreamMetadata {
            found: describe(&decoded),
        }));
    };
    if is_kube_object(root) {
        return Err(wrap(StreamError::NotStreamMetadata {
            found: describe(&decoded),
        }));
    }
    parse_single(root).map_err(wrap)
}

fn embedded_value(value: &Value, key: &str) -> Result<Value, StreamError> {
    match value {
        Value::String(text) => {
            parse_bytes(text.as_bytes()).map_err(|cause| StreamError::Embedded {
                key: key.to_string(),
                cause: Box::new(cause),
            })
        }
        Value::Object(_) => Ok(value.clone()),
        other => Err(StreamError::WrongType {
            field: key.to_string(),
            expected: "a string holding JSON",
            found: describe(other),
        }),
    }
}

fn is_kube_object(root: &Map<String, Value>) -> bool {
    root.get("kind").is_some_and(Value::is_string) && root.contains_key("apiVersion")
}

/// No `kind`, but a `data` map with `stream`/`streams` (a ConfigMap with its header cut off).
fn is_configmap_like(root: &Map<String, Value>) -> bool {
    !root.contains_key("architectures")
        && root
            .get("data")
            .and_then(Value::as_object)
            .is_some_and(|d| d.contains_key("stream") || d.contains_key("streams"))
}

/// Top-level keys are architectures whose values hold an `azure` map.
fn is_marketplace(root: &Map<String, Value>) -> bool {
    !root.is_empty()
        && root.keys().any(|k| Arch::from_rpm(k).is_some())
        && root
            .values()
            .all(|v| v.as_object().is_some_and(|o| o.contains_key("azure")))
}

fn configmap_name(root: &Map<String, Value>) -> String {
    let meta = root.get("metadata");
    let field = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_str);
    match (field("namespace"), field("name")) {
        (Some(ns), Some(name)) => format!("{ns}/{name}"),
        (None, Some(name)) => name.to_string(),
        _ => "(unnamed)".to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// CoreOS stream JSON

fn parse_coreos_stream(root: &Map<String, Value>) -> Result<Stream, StreamError> {
    let name = opt_str(root, "stream", "")?.map(str::to_string);
    let label = name
        .clone()
        .unwrap_or_else(|| "(unnamed stream)".to_string());
    let Some(arches) = opt_obj(root, "architectures", "")? else {
        return Err(StreamError::NoArchitectures {
            stream: label,
            found: Vec::new(),
        });
    };
    let mut architectures = BTreeMap::new();
    let mut unknown = Vec::new();
    for (arch_name, arch_value) in arches {
        let Some(arch) = Arch::from_rpm(arch_name) else {
            unknown.push(arch_name.clone());
            continue;
        };
        let path = format!("architectures.{arch_name}");
        let arch_obj = as_obj(arch_value, &path)?;
        architectures.insert(arch, parse_arch_stream(arch_obj, &path)?);
    }
    if architectures.is_empty() {
        return Err(StreamError::NoArchitectures {
            stream: label,
            found: unknown,
        });
    }
    Ok(Stream {
        name,
        format: StreamFormat::CoreosStream,
        architectures,
    })
}

/// `formats.ova.disk` of the `vmware` artifact, when the stream names one.
fn ova_artifact(
    artifact: &Map<String, Value>,
    build: &BuildId,
    path: &str,
) -> Result<Option<OvaArtifact>, StreamError> {
    let fpath = format!("{path}.formats");
    let Some(formats) = opt_obj(artifact, "formats", path)? else {
        return Ok(None);
    };
    let opath = format!("{fpath}.ova");
    let Some(ova) = opt_obj(formats, "ova", &fpath)? else {
        return Ok(None);
    };
    let dpath = format!("{opath}.disk");
    let Some(disk) = opt_obj(ova, "disk", &opath)? else {
        return Ok(None);
    };
    Ok(Some(OvaArtifact {
        release: build.clone(),
        location: req_str(disk, "location", &dpath)?.to_string(),
        sha256: req_str(disk, "sha256", &dpath)?.to_ascii_lowercase(),
    }))
}

fn parse_arch_stream(obj: &Map<String, Value>, path: &str) -> Result<ArchStream, StreamError> {
    let mut out = ArchStream::default();
    if let Some(artifacts) = opt_obj(obj, "artifacts", path)? {
        for (platform, artifact) in artifacts {
            let p = format!("{path}.artifacts.{platform}");
            let artifact = as_obj(artifact, &p)?;
            let build = release(artifact, "release", &p)?;
            if platform == "vmware" {
                out.vmware_ova = ova_artifact(artifact, &build, &p)?;
            }
            out.artifacts.insert(platform.clone(), build);
        }
    }
    let images_path = format!("{path}.images");
    if let Some(images) = opt_obj(obj, "images", path)? {
        out.aws_regions = regions(images, "aws", &images_path, &["image"])?;
        out.ibmcloud_regions = regions(images, "ibmcloud", &images_path, &["object", "image"])?;
        out.powervs_regions = regions(images, "powervs", &images_path, &["object", "image"])?;
        let gcp_path = format!("{images_path}.gcp");
        if let Some(gcp) = opt_obj(images, "gcp", &images_path)?.filter(|g| !g.is_empty()) {
            let name = req_str(gcp, "name", &gcp_path)?;
            // Early 4.8 streams (the 4.8 payload ConfigMap) have no `images.gcp.release`:
            // use the gcp artifact's release, else the build in the image name.
            let gcp_release = if gcp.contains_key("release") {
                release(gcp, "release", &gcp_path)?
            } else if let Some(build) = out
                .artifacts
                .get("gcp")
                .cloned()
                .or_else(|| BuildId::from_image_name(name))
            {
                build
            } else {
                return Err(StreamError::MissingField {
                    field: format!("{gcp_path}.release"),
                });
            };
            out.gcp = Some(GcpImage {
                release: gcp_release,
                project: opt_str(gcp, "project", &gcp_path)?.map(str::to_string),
                name: name.to_string(),
            });
        }
    }
    let ext_path = format!("{path}.rhel-coreos-extensions");
    if let Some(ext) = opt_obj(obj, "rhel-coreos-extensions", path)? {
        out.aws_winli_regions = regions(ext, "aws-winli", &ext_path, &["image"])?;
        let disk_path = format!("{ext_path}.azure-disk");
        // 5.0 ConfigMaps carry `"azure-disk": {}` for architectures without one.
        if let Some(disk) = opt_obj(ext, "azure-disk", &ext_path)?.filter(|d| !d.is_empty()) {
            out.azure_disk = Some((
                release(disk, "release", &disk_path)?,
                req_str(disk, "url", &disk_path)?.to_string(),
            ));
        }
        let mp_path = format!("{ext_path}.marketplace");
        if let Some(marketplace) = opt_obj(ext, "marketplace", &ext_path)? {
            let azure_path = format!("{mp_path}.azure");
            if let Some(azure) = opt_obj(marketplace, "azure", &mp_path)? {
                out.azure_marketplace = parse_azure_marketplace(azure, &azure_path)?;
            }
        }
    }
    Ok(out)
}

/// `<parent>.<platform>.regions.<region>.{release, <image key>}`; the first of `image_keys`
/// present is the image (`object` for PowerVS/IBM Cloud, `image` for AWS).
fn regions(
    parent: &Map<String, Value>,
    platform: &str,
    parent_path: &str,
    image_keys: &[&str],
) -> Result<BTreeMap<String, RegionImage>, StreamError> {
    let mut out = BTreeMap::new();
    let path = format!("{parent_path}.{platform}");
    let Some(section) = opt_obj(parent, platform, parent_path)? else {
        return Ok(out);
    };
    let regions_path = format!("{path}.regions");
    let Some(regions) = opt_obj(section, "regions", &path)? else {
        return Ok(out);
    };
    for (region, entry) in regions {
        let p = format!("{regions_path}.{region}");
        let entry = as_obj(entry, &p)?;
        let image_key = image_keys
            .iter()
            .find(|k| entry.contains_key(**k))
            .or(image_keys.first())
            .copied()
            .unwrap_or("image");
        out.insert(
            region.clone(),
            RegionImage {
                release: release(entry, "release", &p)?,
                image: req_str(entry, image_key, &p)?.to_string(),
            },
        );
    }
    Ok(out)
}

/// `<plan>.<hyperVGen1|hyperVGen2>.{publisher, offer, sku, version}`; empty plans are skipped.
fn parse_azure_marketplace(
    azure: &Map<String, Value>,
    path: &str,
) -> Result<Vec<AzureMarketplaceImage>, StreamError> {
    let mut out = Vec::new();
    for (plan, generations) in azure {
        let plan_path = format!("{path}.{plan}");
        for (generation, image) in as_obj(generations, &plan_path)? {
            let p = format!("{plan_path}.{generation}");
            let image = as_obj(image, &p)?;
            out.push(AzureMarketplaceImage {
                plan: plan.clone(),
                generation: generation.clone(),
                publisher: req_str(image, "publisher", &p)?.to_string(),
                offer: req_str(image, "offer", &p)?.to_string(),
                sku: req_str(image, "sku", &p)?.to_string(),
                version: req_str(image, "version", &p)?.to_string(),
            });
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Marketplace file

fn parse_marketplace(root: &Map<String, Value>) -> Result<Stream, StreamError> {
    let mut architectures = BTreeMap::new();
    for (arch_name, value) in root {
        let Some(arch) = Arch::from_rpm(arch_name) else {
            continue;
        };
        let obj = as_obj(value, arch_name)?;
        let azure_path = format!("{arch_name}.azure");
        let images = match opt_obj(obj, "azure", arch_name)? {
            Some(azure) => parse_azure_marketplace(azure, &azure_path)?,
            None => Vec::new(),
        };
        architectures.insert(
            arch,
            ArchStream {
                azure_marketplace: images,
                ..ArchStream::default()
            },
        );
    }
    Ok(Stream {
        name: None,
        format: StreamFormat::Marketplace,
        architectures,
    })
}

// ---------------------------------------------------------------------------------------------
// Legacy rhcos.json (≤ 4.8)

fn parse_legacy(root: &Map<String, Value>) -> Result<Stream, StreamError> {
    let build = if root.contains_key("buildid") {
        release(root, "buildid", "")?
    } else if root.contains_key("ostree-version") {
        release(root, "ostree-version", "")?
    } else {
        return Err(StreamError::MissingField {
            field: "buildid".to_string(),
        });
    };
    let mut out = ArchStream::default();

    if let Some(images) = opt_obj(root, "images", "")? {
        for name in images.keys() {
            out.artifacts.insert(name.clone(), build.clone());
        }
    }
    if let Some(amis) = opt_obj(root, "amis", "")? {
        for (region, entry) in amis {
            let p = format!("amis.{region}");
            let entry = as_obj(entry, &p)?;
            out.aws_regions.insert(
                region.clone(),
                RegionImage {
                    release: build.clone(),
                    image: req_str(entry, "hvm", &p)?.to_string(),
                },
            );
        }
        if !out.aws_regions.is_empty() {
            out.artifacts.insert("aws".to_string(), build.clone());
        }
    }
    if let Some(gcp) = opt_obj(root, "gcp", "")?.filter(|g| !g.is_empty()) {
        out.gcp = Some(GcpImage {
            release: build.clone(),
            project: opt_str(gcp, "project", "gcp")?.map(str::to_string),
            name: req_str(gcp, "image", "gcp")?.to_string(),
        });
        out.artifacts.insert("gcp".to_string(), build.clone());
    }
    if let Some(azure) = opt_obj(root, "azure", "")?.filter(|a| !a.is_empty()) {
        let location = match opt_str(azure, "url", "azure")? {
            Some(url) => url,
            None => req_str(azure, "image", "azure")?,
        };
        out.azure_disk = Some((build.clone(), location.to_string()));
        out.artifacts.insert("azure".to_string(), build.clone());
    }
    if let (Some(base), Some(vmware)) = (
        opt_str(root, "baseURI", "")?,
        opt_obj(root, "images", "")?.and_then(|i| i.get("vmware")),
    ) {
        let vmware = as_obj(vmware, "images.vmware")?;
        out.vmware_ova = Some(OvaArtifact {
            release: build.clone(),
            location: format!(
                "{}/{}",
                base.trim_end_matches('/'),
                req_str(vmware, "path", "images.vmware")?
            ),
            sha256: req_str(vmware, "sha256", "images.vmware")?.to_ascii_lowercase(),
        });
    }
    let mut architectures = BTreeMap::new();
    architectures.insert(legacy_arch(root), out);
    Ok(Stream {
        name: None,
        format: StreamFormat::Legacy,
        architectures,
    })
}

/// Legacy files do not say their architecture: take it from `baseURI`, else from the image
/// file names (`….ppc64le.qcow2.gz`), else x86_64 (the only arch with a plain `rhcos.json`).
fn legacy_arch(root: &Map<String, Value>) -> Arch {
    if let Some(arch) = root
        .get("baseURI")
        .and_then(Value::as_str)
        .and_then(Arch::find_in)
    {
        return arch;
    }
    let mut found = BTreeSet::new();
    if let Some(images) = root.get("images").and_then(Value::as_object) {
        for image in images.values() {
            if let Some(arch) = image
                .get("path")
                .and_then(Value::as_str)
                .and_then(Arch::find_in)
            {
                found.insert(arch);
            }
        }
    }
    match (found.len(), found.first()) {
        (1, Some(arch)) => *arch,
        _ => Arch::X86_64,
    }
}

// ---------------------------------------------------------------------------------------------
// Field helpers

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn as_obj<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, StreamError> {
    value.as_object().ok_or_else(|| StreamError::WrongType {
        field: path.to_string(),
        expected: "an object",
        found: describe(value),
    })
}

/// `parent[key]` as an object; absent or `null` → `None`. `parent_path` is the parent's
/// dotted path (`""` for the root).
fn opt_obj<'a>(
    parent: &'a Map<String, Value>,
    key: &str,
    parent_path: &str,
) -> Result<Option<&'a Map<String, Value>>, StreamError> {
    match parent.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => as_obj(v, &join(parent_path, key)).map(Some),
    }
}

/// `parent[key]` as a string; absent or `null` → `None`. `parent_path` as for [`opt_obj`].
fn opt_str<'a>(
    parent: &'a Map<String, Value>,
    key: &str,
    parent_path: &str,
) -> Result<Option<&'a str>, StreamError> {
    match parent.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(StreamError::WrongType {
            field: join(parent_path, key),
            expected: "a string",
            found: describe(other),
        }),
    }
}

fn req_str<'a>(
    parent: &'a Map<String, Value>,
    key: &str,
    parent_path: &str,
) -> Result<&'a str, StreamError> {
    opt_str(parent, key, parent_path)?.ok_or_else(|| StreamError::MissingField {
        field: join(parent_path, key),
    })
}

/// A required build id field.
fn release(
    parent: &Map<String, Value>,
    key: &str,
    parent_path: &str,
) -> Result<BuildId, StreamError> {
    let text = req_str(parent, key, parent_path)?;
    text.parse().map_err(|cause| StreamError::InvalidRelease {
        field: join(parent_path, key),
        cause,
    })
}

/// A short description of a value for error messages.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => {
            let cut: String = s.chars().take(40).collect();
            let more = if s.chars().count() > 40 { "…" } else { "" };
            format!("a string ({cut:?}{more})")
        }
        Value::Array(a) => format!("an array of {} item(s)", a.len()),
        Value::Object(o) => describe_object(o),
    }
}

fn describe_object(obj: &Map<String, Value>) -> String {
    if let Some(kind) = obj.get("kind").and_then(Value::as_str) {
        return format!("a Kubernetes {kind} object");
    }
    if obj.is_empty() {
        return "an empty object".to_string();
    }
    let mut out = String::from("an object with keys: ");
    for (i, key) in obj.keys().take(8).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let cut: String = key.chars().take(40).collect();
        out.push_str(&cut);
    }
    if obj.len() > 8 {
        let _ = write!(out, ", … ({} keys)", obj.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures");

    fn fixture_path(rel: &str) -> PathBuf {
        Path::new(FIXTURES).join(rel)
    }

    fn parse_fixture(rel: &str) -> StreamSet {
        let bytes = std::fs::read(fixture_path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        parse_stream_document(&bytes).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn b(s: &str) -> BuildId {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// Every file below `dir`, relative to `base`, sorted.
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, base, out);
            } else {
                out.push(
                    path.strip_prefix(base)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }

    /// One value per fixture that proves the right part of the file was read.
    enum Known {
        Aws(Arch, &'static str, &'static str, &'static str),
        Gcp(Arch, &'static str, &'static str),
        Artifact(Arch, &'static str, &'static str),
        PowerVs(Arch, &'static str, &'static str, &'static str),
        Market(Arch, &'static str, &'static str, &'static str, &'static str),
        AzureDisk(Arch, &'static str, &'static str),
    }

    struct Case {
        file: &'static str,
        format: StreamFormat,
        name: Option<&'static str>,
        arches: &'static [Arch],
        known: Known,
    }

    const ALL4: &[Arch] = &[Arch::X86_64, Arch::Aarch64, Arch::Ppc64le, Arch::S390x];
    const NO_S390X: &[Arch] = &[Arch::X86_64, Arch::Aarch64, Arch::Ppc64le];

    fn cases() -> Vec<Case> {
        use Arch::*;
        use Known::*;
        use StreamFormat::*;
        let c = |file, format, name, arches, known| Case {
            file,
            format,
            name,
            arches,
            known,
        };
        vec![
            c("stream/configmap/coreos-bootimages-4.10.yaml", CoreosStream, Some("rhcos-4.10"), ALL4,
              Artifact(X86_64, "vmware", "410.84.202111111322-0")),
            c("stream/configmap/coreos-bootimages-4.13-live-resourcewatch-sno-v2.yaml", CoreosStream,
              Some("rhcos-4.13"), ALL4,
              Aws(X86_64, "us-east-1", "ami-06e267b8c26b558f6", "413.86.202302150245-0")),
            c("stream/configmap/coreos-bootimages-4.8.yaml", CoreosStream, Some("rhcos-4.8"),
              &[X86_64, Ppc64le, S390x], Artifact(S390x, "metal", "48.84.202104271619-0")),
            c("stream/configmap/coreos-bootimages-5.0.yaml", CoreosStream, Some("rhcos-4.21"),
              NO_S390X, Aws(X86_64, "us-east-1", "ami-06a6b025350ff1e23", "9.8.20260403-0")),
            c("stream/coreos-rhel-10-4.22.json", CoreosStream, Some("rhcos-4.22"), ALL4,
              Gcp(Aarch64, "rhcos-10-2-20260405-0-gcp-aarch64", "10.2.20260405-0")),
            c("stream/coreos-rhel-9-4.22.json", CoreosStream, Some("rhcos-4.21"), ALL4,
              Gcp(X86_64, "rhcos-9-8-20260403-0-gcp-x86-64", "9.8.20260403-0")),
            c("stream/fcos-4.16.json", CoreosStream, Some("stable"), ALL4,
              Gcp(X86_64, "fedora-coreos-39-20231101-3-0-gcp-x86-64", "39.20231101.3.0")),
            c("stream/legacy/rhcos-4.3-at-4cb41cd581.json", Legacy, None, &[X86_64],
              Aws(X86_64, "us-east-1", "ami-06f85a7940faa3217", "43.81.202001142154.0")),
            c("stream/legacy/rhcos-4.6-at-ffd717dbf.json", Legacy, None, &[X86_64],
              Gcp(X86_64, "rhcos-46-82-202011260640-0-gcp-x86-64", "46.82.202011260640-0")),
            c("stream/legacy/rhcos-4.6-ppc64le.json", Legacy, None, &[Ppc64le],
              Artifact(Ppc64le, "metal4k", "46.82.202109180809-0")),
            c("stream/legacy/rhcos-4.6-s390x.json", Legacy, None, &[S390x],
              Artifact(S390x, "dasd", "46.82.202109180304-0")),
            c("stream/legacy/rhcos-4.6.json", Legacy, None, &[X86_64],
              AzureDisk(X86_64, "46.82.202109242004-0",
                        "https://rhcos.blob.core.windows.net/imagebucket/rhcos-46.82.202109242004-0-azure.x86_64.vhd")),
            c("stream/legacy/rhcos-4.7.json", Legacy, None, &[X86_64],
              Artifact(X86_64, "ibmcloud", "47.84.202206131038-0")),
            c("stream/legacy/rhcos-4.8-aarch64.json", Legacy, None, &[Aarch64],
              Artifact(Aarch64, "aws", "48.84.202106171757-0")),
            c("stream/legacy/rhcos-4.8.json", Legacy, None, &[X86_64],
              Aws(X86_64, "us-east-1", "ami-059fea61e7f8e7516", "48.84.202208021106-0")),
            c("stream/marketplace-coreos-rhel-9-4.22.json", Marketplace, None, &[X86_64, Aarch64],
              Market(Aarch64, "no-purchase-plan", "hyperVGen2", "420-arm", "9.6.20251015")),
            c("stream/marketplace-rhcos-4.20.json", Marketplace, None, &[X86_64, Aarch64],
              Market(X86_64, "ocp", "hyperVGen1", "rh-ocp-worker-gen1", "4.18.2025031114")),
            c("stream/rhcos-4.10-at-604a5a16e.json", CoreosStream, Some("rhcos-4.10"), ALL4,
              Gcp(X86_64, "rhcos-410-84-202201251210-0-gcp-x86-64", "410.84.202201251210-0")),
            c("stream/rhcos-4.10.json", CoreosStream, Some("rhcos-4.10"), ALL4,
              Aws(Aarch64, "ap-east-1", "ami-071e1d5f9457f4546", "410.84.202210040011-0")),
            c("stream/rhcos-4.11.json", CoreosStream, Some("rhcos-4.11"), ALL4,
              PowerVs(Ppc64le, "au-syd", "rhcos-411-86-202308081056-0-ppc64le-powervs.ova.gz",
                      "411.86.202308081056-0")),
            c("stream/rhcos-4.12-at-7bed61e721.json", CoreosStream, Some("rhcos-4.12"), ALL4,
              Aws(X86_64, "us-east-2", "ami-0ff64f495c7e977cf", "412.86.202212081411-0")),
            c("stream/rhcos-4.12.json", CoreosStream, Some("rhcos-4.12"), ALL4,
              Artifact(X86_64, "vmware", "412.86.202402272018-0")),
            c("stream/rhcos-4.13.json", CoreosStream, Some("rhcos-4.13"), ALL4,
              Artifact(X86_64, "vmware", "413.92.202402131523-0")),
            c("stream/rhcos-4.14.json", CoreosStream, Some("rhcos-4.14"), ALL4,
              Artifact(X86_64, "vmware", "414.92.202407091253-0")),
            c("stream/rhcos-4.15.json", CoreosStream, Some("rhcos-4.15"), ALL4,
              Artifact(X86_64, "vmware", "415.92.202407091355-0")),
            c("stream/rhcos-4.16.json", CoreosStream, Some("rhcos-4.16"), ALL4,
              Artifact(X86_64, "vmware", "416.94.202510081640-0")),
            c("stream/rhcos-4.17.json", CoreosStream, Some("rhcos-4.17"), ALL4,
              Artifact(X86_64, "vmware", "417.94.202601272318-0")),
            c("stream/rhcos-4.18-at-e3b4c94fca.json", CoreosStream, Some("rhcos-4.18"), ALL4,
              Aws(Aarch64, "us-east-2", "ami-0b04071739ccf4af2", "418.94.202501221327-0")),
            c("stream/rhcos-4.18.json", CoreosStream, Some("rhcos-4.18"), ALL4,
              PowerVs(Ppc64le, "au-syd", "rhcos-418-94-202602022246-0-ppc64le-powervs.ova.gz",
                      "418.94.202602022246-0")),
            c("stream/rhcos-4.19.json", CoreosStream, Some("rhcos-4.19"), ALL4,
              AzureDisk(Aarch64, "9.6.20260112-0",
                        "https://rhcos.blob.core.windows.net/imagebucket/rhcos-9.6.20260112-0-azure.aarch64.vhd")),
            c("stream/rhcos-4.20.json", CoreosStream, Some("rhcos-4.20"), ALL4,
              Artifact(S390x, "qemu-secex", "9.6.20260217-1")),
            c("stream/rhcos-4.21.json", CoreosStream, Some("rhcos-4.21"), ALL4,
              Gcp(Aarch64, "rhcos-9-6-20251212-1-gcp-aarch64", "9.6.20251212-1")),
            c("stream/rhcos-4.8.json", CoreosStream, Some("rhcos-4.8"), ALL4,
              Aws(Aarch64, "ap-east-1", "ami-01036528aad4eba5e", "48.84.202106171757-0")),
            c("stream/rhcos-4.9.json", CoreosStream, Some("rhcos-4.9"), ALL4,
              Artifact(Ppc64le, "openstack", "49.84.202207212012-0")),
            c("stream/scos-4.22.json", CoreosStream, Some("c10s"), ALL4,
              PowerVs(Ppc64le, "us-east", "scos-10-0-20251103-0-ppc64le-powervs.ova.gz",
                      "10.0.20251103-0")),
        ]
    }

    fn check_known(file: &str, stream: &Stream, known: &Known) {
        match known {
            Known::Aws(arch, region, ami, rel) => {
                let img = stream.arch(*arch).unwrap().aws_image(region).unwrap();
                assert_eq!(img.image, *ami, "{file}");
                assert_eq!(img.release, b(rel), "{file}");
            }
            Known::Gcp(arch, name, rel) => {
                let gcp = stream.arch(*arch).unwrap().gcp.as_ref().unwrap();
                assert_eq!(gcp.name, *name, "{file}");
                assert_eq!(gcp.release, b(rel), "{file}");
            }
            Known::Artifact(arch, platform, rel) => {
                let a = stream.arch(*arch).unwrap();
                assert_eq!(a.artifacts.get(*platform), Some(&b(rel)), "{file}");
            }
            Known::PowerVs(arch, region, object, rel) => {
                let r = &stream.arch(*arch).unwrap().powervs_regions[*region];
                assert_eq!(r.image, *object, "{file}");
                assert_eq!(r.release, b(rel), "{file}");
            }
            Known::Market(arch, plan, generation, sku, version) => {
                let a = stream.arch(*arch).unwrap();
                let m = a
                    .azure_marketplace
                    .iter()
                    .find(|m| m.plan == *plan && m.generation == *generation)
                    .unwrap_or_else(|| panic!("{file}: no {plan}/{generation}"));
                assert_eq!(m.sku, *sku, "{file}");
                assert_eq!(m.version, *version, "{file}");
            }
            Known::AzureDisk(arch, rel, url) => {
                let a = stream.arch(*arch).unwrap();
                assert_eq!(a.azure_disk, Some((b(rel), url.to_string())), "{file}");
            }
        }
    }

    #[test]
    fn every_fixture_stream_file_parses() {
        let base = Path::new(FIXTURES);
        let mut files = Vec::new();
        walk(&base.join("stream"), base, &mut files);
        let cases = cases();
        let listed: BTreeSet<&str> = cases.iter().map(|c| c.file).collect();
        let present: BTreeSet<&str> = files.iter().map(String::as_str).collect();
        assert_eq!(
            present, listed,
            "every file under tests/fixtures/stream needs a row in cases()"
        );
        for case in &cases {
            let set = parse_fixture(case.file);
            let stream = &set.default;
            assert_eq!(stream.format, case.format, "{}", case.file);
            assert_eq!(stream.name.as_deref(), case.name, "{}", case.file);
            let arches: BTreeSet<Arch> = stream.architectures.keys().copied().collect();
            let want: BTreeSet<Arch> = case.arches.iter().copied().collect();
            assert_eq!(arches, want, "{}", case.file);
            check_known(case.file, stream, &case.known);
            // Every stream has releases (except marketplace files) and serialises.
            if case.format != StreamFormat::Marketplace {
                assert!(stream.newest_release().is_some(), "{}", case.file);
            }
            serde_json::to_string(&set).unwrap();
        }
    }

    #[test]
    fn configmap_5_0_has_named_streams() {
        let set = parse_fixture("stream/configmap/coreos-bootimages-5.0.yaml");
        assert_eq!(set.release_version.as_deref(), Some("5.0.0-ec.2"));
        let names: Vec<&str> = set.named.keys().map(String::as_str).collect();
        assert_eq!(names, ["rhel-10", "rhel-9"]);
        let rhel10 = set.stream_for(Some("rhel-10")).unwrap();
        assert_eq!(rhel10.name.as_deref(), Some("rhcos-4.22"));
        let x86 = rhel10.arch(Arch::X86_64).unwrap();
        assert_eq!(
            x86.aws_image("us-east-1").unwrap().release,
            b("10.2.20260405-0")
        );
        // Empty `azure-disk: {}` / marketplace plans on ppc64le are "absent", not errors.
        let ppc = rhel10.arch(Arch::Ppc64le).unwrap();
        assert_eq!(ppc.azure_disk, None);
        assert!(ppc.azure_marketplace.is_empty());
        let rhel9 = set.stream_for(Some("rhel-9")).unwrap();
        let market = &rhel9.arch(Arch::X86_64).unwrap().azure_marketplace;
        assert!(market
            .iter()
            .any(|m| m.urn() == "azureopenshift:aro4:420-v2:9.6.20251015"));
        assert!(!x86.aws_winli_regions.is_empty());
        assert_eq!(set.stream_for(None).unwrap(), &set.default);
        let err = set.stream_for(Some("rhel-11")).unwrap_err();
        assert!(matches!(err, StreamError::UnknownOsStream { .. }));
        assert!(err.to_string().contains("rhel-10, rhel-9"), "{err}");
    }

    #[test]
    fn configmap_from_api_json() {
        let text = std::fs::read_to_string(fixture_path(
            "stream/configmap/coreos-bootimages-4.13-live-resourcewatch-sno-v2.yaml",
        ))
        .unwrap();
        let value: Value = serde_yaml::from_str(&text).unwrap();
        let set = parse_configmap(&value).unwrap();
        assert_eq!(set.release_version.as_deref(), Some("0.0.1-snapshot"));
        assert_eq!(set.default.ocp_version(), Some((4, 13)));
        // Same object as JSON bytes.
        let json = serde_json::to_vec(&value).unwrap();
        assert_eq!(parse_stream_document(&json).unwrap(), set);
        // data.stream already decoded into an object is accepted too.
        let mut decoded = value.clone();
        let inner: Value = serde_json::from_str(value["data"]["stream"].as_str().unwrap()).unwrap();
        decoded["data"]["stream"] = inner;
        assert_eq!(parse_configmap(&decoded).unwrap(), set);
    }

    #[test]
    fn lookups_and_their_errors() {
        let set = parse_fixture("stream/rhcos-4.18-at-e3b4c94fca.json");
        let s = &set.default;
        assert_eq!(s.ocp_version(), Some((4, 18)));
        assert_eq!(s.newest_release(), Some(&b("418.94.202501221327-0")));
        let err = s
            .arch(Arch::X86_64)
            .unwrap()
            .aws_image("mars-east-1")
            .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, StreamError::MissingRegion { .. }));
        assert!(msg.contains("mars-east-1") && msg.contains("AWS"), "{msg}");

        let legacy = parse_fixture("stream/legacy/rhcos-4.6-ppc64le.json");
        let err = legacy.default.arch(Arch::X86_64).unwrap_err();
        assert_eq!(
            err.to_string(),
            "stream (legacy rhcos.json) has no architecture x86_64; it has: ppc64le"
        );
        assert_eq!(legacy.default.ocp_version(), Some((4, 6)));
        let err = legacy.stream_for(Some("rhel-9")).unwrap_err();
        assert!(err.to_string().contains("no named OS streams"), "{err}");

        let cm = parse_fixture("stream/configmap/coreos-bootimages-4.8.yaml");
        let err = cm.default.arch(Arch::Aarch64).unwrap_err();
        assert_eq!(
            err.to_string(),
            "stream rhcos-4.8 has no architecture aarch64; it has: x86_64, ppc64le, s390x"
        );
        let fcos = parse_fixture("stream/fcos-4.16.json");
        assert_eq!(fcos.default.ocp_version(), None);
        let rhel9 = parse_fixture("stream/rhcos-4.20.json");
        assert_eq!(rhel9.default.ocp_version(), Some((4, 20)));
        assert_eq!(rhel9.default.newest_release(), Some(&b("9.6.20260217-1")));
    }

    fn err_of(input: &str) -> StreamError {
        parse_stream_document(input.as_bytes()).expect_err(input)
    }

    #[test]
    fn bad_inputs_give_the_right_error() {
        assert!(matches!(err_of(""), StreamError::Empty));
        assert!(matches!(err_of("  \n\t"), StreamError::Empty));
        assert!(matches!(err_of("---\n"), StreamError::Empty));

        let full = std::fs::read_to_string(fixture_path("stream/rhcos-4.18.json")).unwrap();
        let truncated = &full[..full.len() / 2];
        match err_of(truncated) {
            StreamError::InvalidJson { line, column, .. } => {
                assert!(line > 100 && column > 0, "line {line} column {column}");
            }
            other => panic!("{other:?}"),
        }
        let msg = err_of("{\"architectures\": }").to_string();
        assert!(msg.contains("line 1, column 19"), "{msg}");

        let err = err_of("a: [\nb: c");
        match &err {
            StreamError::InvalidYaml { line, .. } => assert_eq!(*line, Some(3)),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            err.to_string(),
            "stream document is not valid YAML (line 3, column 1): did not find expected ',' or \
             ']', while parsing a flow sequence at line 1 column 4"
        );

        let machineset = std::fs::read_to_string(fixture_path(
            "machinesets/aws/openshift-release-build01-9hdwj-worker-us-east-1a.yaml",
        ))
        .unwrap();
        let err = err_of(&machineset);
        assert!(
            matches!(err, StreamError::NotStreamMetadata { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("MachineSet"), "{err}");

        let err = err_of("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: coreos-bootimages\n  namespace: openshift-machine-config-operator\ndata:\n  releaseVersion: 4.18.1\n");
        assert!(
            matches!(err, StreamError::ConfigMapWithoutStream { .. }),
            "{err:?}"
        );
        assert!(err
            .to_string()
            .contains("openshift-machine-config-operator/coreos-bootimages"));
        assert!(err.to_string().contains("releaseVersion"));
        let err = err_of("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n");
        assert!(
            matches!(err, StreamError::ConfigMapWithoutStream { .. }),
            "{err:?}"
        );

        let err = err_of(r#"{"stream": "rhcos-4.18", "metadata": {}}"#);
        assert!(
            matches!(err, StreamError::NoArchitectures { .. }),
            "{err:?}"
        );
        let err = err_of(r#"{"stream": "rhcos-4.18", "architectures": {"riscv64": {}}}"#);
        assert!(err.to_string().contains("riscv64"), "{err}");
        let err = err_of(r#"{"stream": "rhcos-4.18", "architectures": []}"#);
        assert!(matches!(err, StreamError::WrongType { .. }), "{err:?}");

        let err = err_of(
            r#"{"stream":"s","architectures":{"x86_64":{"artifacts":{"aws":{"release":418}}}}}"#,
        );
        match &err {
            StreamError::WrongType { field, .. } => {
                assert_eq!(field, "architectures.x86_64.artifacts.aws.release")
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("a number (418)"), "{err}");

        let err = err_of(
            r#"{"stream":"s","architectures":{"x86_64":{"images":{"aws":{"regions":{"us-east-1":{"release":"latest","image":"ami-1"}}}}}}}"#,
        );
        match &err {
            StreamError::InvalidRelease { field, .. } => {
                assert_eq!(
                    field,
                    "architectures.x86_64.images.aws.regions.us-east-1.release"
                )
            }
            other => panic!("{other:?}"),
        }
        let err = err_of(
            r#"{"stream":"s","architectures":{"x86_64":{"images":{"aws":{"regions":{"us-east-1":{"release":"9.6.20251015-0"}}}}}}}"#,
        );
        assert!(matches!(err, StreamError::MissingField { .. }), "{err:?}");
        assert!(err.to_string().contains("regions.us-east-1.image"), "{err}");

        let err = err_of(r#"{"buildid": 43, "amis": {}}"#);
        assert!(matches!(err, StreamError::WrongType { .. }), "{err:?}");
        let err = err_of(r#"{"buildid": "43.81", "amis": {}}"#);
        assert!(matches!(err, StreamError::InvalidRelease { .. }), "{err:?}");
        let err = err_of(r#"{"amis": {"us-east-1": {"hvm": "ami-1"}}}"#);
        assert!(matches!(err, StreamError::MissingField { .. }), "{err:?}");

        assert!(matches!(
            err_of("[1, 2]"),
            StreamError::NotStreamMetadata { .. }
        ));
        assert!(matches!(
            err_of("just a string"),
            StreamError::NotStreamMetadata { .. }
        ));
        assert!(matches!(
            err_of("{}"),
            StreamError::NotStreamMetadata { .. }
        ));
        assert!(matches!(
            err_of(r#"{"foo": 1}"#),
            StreamError::NotStreamMetadata { .. }
        ));
    }

    #[test]
    fn configmap_embedded_errors_say_where() {
        let err =
            err_of("kind: ConfigMap\napiVersion: v1\ndata:\n  stream: '{\"architectures\": '\n");
        match &err {
            StreamError::Embedded { key, cause } => {
                assert_eq!(key, "data.stream");
                assert!(
                    matches!(**cause, StreamError::InvalidJson { .. }),
                    "{cause:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        let err = err_of(
            "kind: ConfigMap\napiVersion: v1\ndata:\n  stream: '{\"buildid\": \"43.81.202001142154.0\"}'\n  streams: '{\"rhel-9\": {\"stream\": \"x\"}}'\n",
        );
        match &err {
            StreamError::Embedded { key, cause } => {
                assert_eq!(key, "data.streams.rhel-9");
                assert!(
                    matches!(**cause, StreamError::NoArchitectures { .. }),
                    "{cause:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        let err = err_of("kind: ConfigMap\napiVersion: v1\ndata:\n  stream: 5\n");
        assert!(matches!(err, StreamError::WrongType { .. }), "{err:?}");
        let err = err_of(
            "kind: ConfigMap\napiVersion: v1\ndata:\n  stream: '{\"buildid\": \"43.81.202001142154.0\"}'\n  streams: '[]'\n",
        );
        assert!(err.to_string().contains("data.streams"), "{err}");
    }

    #[test]
    fn never_panics_on_truncated_or_mangled_input() {
        let docs = [
            std::fs::read(fixture_path("stream/legacy/rhcos-4.6-ppc64le.json")).unwrap(),
            std::fs::read(fixture_path("stream/marketplace-rhcos-4.20.json")).unwrap(),
            br#"kind: ConfigMap
apiVersion: v1
data:
  stream: '{"stream":"s","architectures":{"x86_64":{"images":{"aws":{"regions":{"us-east-1":{"release":"9.6.20251015-0","image":"ami-1"}}}}}}}'
"#
            .to_vec(),
        ];
        for doc in &docs {
            for end in 0..doc.len() {
                let _ = parse_stream_document(&doc[..end]);
            }
            let mut mangled = doc.clone();
            for i in (0..mangled.len()).step_by(7) {
                mangled[i] = b'"';
                let _ = parse_stream_document(&mangled);
            }
        }
        let _ = parse_stream_document(&[0xff, 0xfe, 0x00]);
        let _ = parse_stream_document("{\"a\":".repeat(10_000).as_bytes());
        let _ = parse_stream_document("- ".repeat(10_000).as_bytes());
    }
    #[test]
    fn the_vmware_ova_of_every_stream_with_a_vmware_artifact() {
        let s = parse_fixture("stream/rhcos-4.18.json");
        let ova = s.default.architectures[&Arch::X86_64]
            .vmware_ova
            .clone()
            .unwrap();
        let rel = ova.release.to_string();
        assert!(rel.starts_with("418.94."), "{rel}");
        assert!(ova
            .location
            .ends_with(&format!("/rhcos-{rel}-vmware.x86_64.ova")));
        assert!(ova
            .sha256
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        let legacy = parse_fixture("stream/legacy/rhcos-4.3-at-4cb41cd581.json");
        let ova = legacy.default.architectures[&Arch::X86_64]
            .vmware_ova
            .clone()
            .unwrap();
        assert_eq!(ova.location, "https://releases-art-rhcos.svc.ci.openshift.org/art/storage/releases/rhcos-4.3/43.81.202001142154.0/x86_64/rhcos-43.81.202001142154.0-vmware.x86_64.ova");
        assert_eq!(
            ova.sha256,
            "29b98763bc538ec0b7ad39774b643ef69dc0c0fdad25bd0da3078e54ab86253b"
        );
        // Every x86_64 stream that names a vmware release names its OVA (4.8 → 4.22, rhel-10).
        for f in [
            "rhcos-4.8.json",
            "rhcos-4.12.json",
            "rhcos-4.21.json",
            "coreos-rhel-10-4.22.json",
            "coreos-rhel-9-4.22.json",
        ] {
            let s = parse_fixture(&format!("stream/{f}"));
            let a = &s.default.architectures[&Arch::X86_64];
            let ova = a
                .vmware_ova
                .as_ref()
                .unwrap_or_else(|| panic!("{f}: no ova"));
            assert_eq!(Some(&ova.release), a.artifacts.get("vmware"), "{f}");
            assert_eq!(ova.sha256.len(), 64, "{f}");
        }
        // aarch64 has no vmware artifact: no OVA.
        assert!(s.default.architectures[&Arch::Aarch64].vmware_ova.is_none());
    }
}
