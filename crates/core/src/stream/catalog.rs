//! The image catalog: which build an existing boot image was made from.
//!
//! Owns [`Catalog`], an index of every image named in every known stream
//! (platform, arch, region, image → build), the generated TSV form of that
//! index (`data/rhcos-image-index.tsv`, embedded in the binary) and lookups by
//! AMI, GCP image name or other object name. Pure: the embedded index is
//! compiled in; streams given by the user are added with
//! [`Catalog::with_streams`].
//!
//! Platform keys: `aws`, `aws-winli` (Windows License Included AMIs), `gcp`,
//! `azure` (VHD blob name), `azure-marketplace` (`publisher:offer:sku:version`,
//! build = the marketplace version), `ibmcloud`, `powervs` (object name). The
//! region column is empty for global images (GCP, Azure).

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use super::model::StreamSet;
use super::{Arch, BuildId, StreamError};

/// The committed index, generated from `tests/fixtures/stream` (see the
/// `catalog_index_is_in_sync` test: `UPDATE_INDEX=1 cargo test --lib stream::catalog`).
const EMBEDDED_INDEX: &str = include_str!("../../../../data/rhcos-image-index.tsv");

/// Header lines of the generated index.
const INDEX_HEADER: &str = "# RHCOS/FCOS/SCOS boot images named in known stream metadata.\n\
# Generated from tests/fixtures/stream by `UPDATE_INDEX=1 cargo test --lib stream::catalog`; do not edit.\n\
# platform\tarch\tregion\timage\tbuild\n";

/// One image of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CatalogEntry {
    /// Platform key (`aws`, `gcp`, …; see the module docs).
    pub platform: String,
    /// The image's architecture.
    pub arch: Arch,
    /// Region for regional images (AWS, PowerVS, IBM Cloud); empty otherwise.
    pub region: String,
    /// AMI id, GCP image name, VHD blob name, PowerVS object, or marketplace URN.
    pub image: String,
    /// The build the image was made from.
    pub build: BuildId,
}

/// An index of every known boot image → build. Build it from streams
/// ([`Catalog::from_streams`]) or use the compiled-in one ([`Catalog::embedded`]).
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    entries: Vec<CatalogEntry>,
    /// (platform, image) → index of the first entry with it.
    by_image: HashMap<(String, String), usize>,
}

impl Catalog {
    /// The catalog compiled into the binary (all stream files in `tests/fixtures/stream`:
    /// OCP 4.3 … 5.0, FCOS, SCOS), parsed on first use. A test guarantees that it parses; if it
    /// ever did not, this returns an empty catalog rather than panicking.
    pub fn embedded() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| Catalog::from_index(EMBEDDED_INDEX).unwrap_or_default())
    }

    /// A catalog of the images in `sets` (every OS stream of every set).
    pub fn from_streams(sets: &[StreamSet]) -> Catalog {
        Catalog::from_entries(entries_of(sets))
    }

    /// This catalog plus the images of `extra` (e.g. stream files the user passed). When an
    /// image is in both, this catalog's entry answers lookups.
    pub fn with_streams(&self, extra: &[StreamSet]) -> Catalog {
        let mut entries = self.entries.clone();
        entries.extend(entries_of(extra));
        Catalog::from_entries(entries)
    }

    /// The index text for `sets`: the header, then one `platform\tarch\tregion\timage\tbuild`
    /// line per image, without duplicates, sorted by platform, arch (x86_64, aarch64, ppc64le,
    /// s390x), region, image, build. Marketplace images whose version is not a recognisable
    /// version, and images whose fields contain a tab or a line break, are left out.
    pub fn index_from_streams(sets: &[StreamSet]) -> String {
        let rows: BTreeSet<CatalogEntry> = entries_of(sets).into_iter().collect();
        let mut out = String::from(INDEX_HEADER);
        for e in rows {
            let fields = [
                e.platform.as_str(),
                e.arch.as_rpm(),
                &e.region,
                &e.image,
                e.build.raw(),
            ];
            if fields.iter().any(|f| f.contains(['\t', '\n', '\r'])) {
                continue;
            }
            out.push_str(&fields.join("\t"));
            out.push('\n');
        }
        out
    }

    /// Parses index text as written by [`Catalog::index_from_streams`] (`#` lines and blank
    /// lines are ignored).
    pub fn from_index(text: &str) -> Result<Catalog, StreamError> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: String| StreamError::InvalidIndex {
                line: n + 1,
                reason,
            };
            let fields: Vec<&str> = line.split('\t').collect();
            let [platform, arch, region, image, build] = fields.as_slice() else {
                return Err(bad(format!(
                    "expected 5 tab-separated fields (platform, arch, region, image, build), found {}",
                    fields.len()
                )));
            };
            let arch = Arch::from_rpm(arch).ok_or_else(|| bad(format!("unknown arch `{arch}`")))?;
            let build = if *platform == MARKETPLACE {
                BuildId::from_marketplace_version(build)
            } else {
                build.parse()
            }
            .map_err(|e| bad(e.to_string()))?;
            if image.is_empty() {
                return Err(bad("empty image".to_string()));
            }
            entries.push(CatalogEntry {
                platform: platform.to_string(),
                arch,
                region: region.to_string(),
                image: image.to_string(),
                build,
            });
        }
        Ok(Catalog::from_entries(entries))
    }

    /// All entries, in the order given (index order for the embedded catalog).
    pub fn entries(&self) -> &[CatalogEntry] {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for an image on a platform, matched exactly after normalising the name
    /// (see [`Catalog::lookup_object`]).
    pub fn find(&self, platform: &str, image: &str) -> Option<&CatalogEntry> {
        let key = (platform.to_string(), normalise(platform, image).to_string());
        self.by_image.get(&key).and_then(|&i| self.entries.get(i))
    }

    /// The build, arch and region of an RHCOS AMI (`ami-…`). `None` for AMIs no known stream
    /// lists (custom or encrypted copies, marketplace AMIs, Windows-LI AMIs — look those up
    /// with platform `aws-winli`).
    pub fn lookup_aws(&self, ami: &str) -> Option<(BuildId, Arch, String)> {
        self.find(AWS, ami)
            .map(|e| (e.build.clone(), e.arch, e.region.clone()))
    }

    /// The build and arch of a GCP image; accepts the bare name or a
    /// `projects/<p>/global/images/<name>` path or URL.
    pub fn lookup_gcp(&self, name: &str) -> Option<(BuildId, Arch)> {
        self.lookup_object(GCP, name)
    }

    /// The build and arch of an image on any platform key (see the module docs). The name is
    /// normalised first: for `gcp` and `azure` everything up to the last `/` (and an URL query)
    /// is dropped, so `projects/rhcos-cloud/global/images/<name>` and VHD URLs work.
    pub fn lookup_object(&self, platform: &str, name: &str) -> Option<(BuildId, Arch)> {
        self.find(platform, name).map(|e| (e.build.clone(), e.arch))
    }

    fn from_entries(entries: Vec<CatalogEntry>) -> Catalog {
        let mut by_image = HashMap::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            by_image
                .entry((e.platform.clone(), e.image.clone()))
                .or_insert(i);
        }
        Catalog { entries, by_image }
    }
}

const AWS: &str = "aws";
const AWS_WINLI: &str = "aws-winli";
const GCP: &str = "gcp";
const AZURE: &str = "azure";
const MARKETPLACE: &str = "azure-marketplace";
const IBMCLOUD: &str = "ibmcloud";
const POWERVS: &str = "powervs";

/// The name part used as catalog key.
fn normalise<'a>(platform: &str, name: &'a str) -> &'a str {
    let name = name.trim();
    match platform {
        GCP | AZURE => {
            let no_query = name.split(['?', '#']).next().unwrap_or(name);
            no_query.rsplit('/').next().unwrap_or(no_query)
        }
        _ => name,
    }
}

/// Every image of every stream in `sets`, in stream order.
fn entries_of(sets: &[StreamSet]) -> Vec<CatalogEntry> {
    let mut out = Vec::new();
    for set in sets {
        for (_, stream) in set.streams() {
            for (&arch, a) in &stream.architectures {
                let mut push = |platform: &str, region: &str, image: &str, build: &BuildId| {
                    let image = normalise(platform, image);
                    if !image.is_empty() {
                        out.push(CatalogEntry {
                            platform: platform.to_string(),
                            arch,
                            region: region.to_string(),
                            image: image.to_string(),
                            build: build.clone(),
                        });
                    }
                };
                for (platform, regions) in [
                    (AWS, &a.aws_regions),
                    (AWS_WINLI, &a.aws_winli_regions),
                    (IBMCLOUD, &a.ibmcloud_regions),
                    (POWERVS, &a.powervs_regions),
                ] {
                    for (region, r) in regions {
                        push(platform, region, &r.image, &r.release);
                    }
                }
                if let Some(gcp) = &a.gcp {
                    push(GCP, "", &gcp.name, &gcp.release);
                }
                if let Some((build, url)) = &a.azure_disk {
                    push(AZURE, "", url, build);
                }
                for m in &a.azure_marketplace {
                    if let Ok(build) = BuildId::from_marketplace_version(&m.version) {
                        push(MARKETPLACE, "", &m.urn(), &build);
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::parse_stream_document;
    use std::path::{Path, PathBuf};

    const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

    fn stream_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stream_files(&path, out);
            } else {
                out.push(path);
            }
        }
    }

    fn fixture_sets() -> Vec<StreamSet> {
        let mut files = Vec::new();
        stream_files(&Path::new(ROOT).join("tests/fixtures/stream"), &mut files);
        files.sort();
        files
            .iter()
            .map(|f| {
                parse_stream_document(&std::fs::read(f).unwrap())
                    .unwrap_or_else(|e| panic!("{}: {e}", f.display()))
            })
            .collect()
    }

    fn b(s: &str) -> BuildId {
        s.parse().unwrap()
    }

    #[test]
    fn catalog_index_is_in_sync() {
        let generated = Catalog::index_from_streams(&fixture_sets());
        let path = Path::new(ROOT).join("data/rhcos-image-index.tsv");
        if std::env::var_os("UPDATE_INDEX").is_some_and(|v| v == "1") {
            std::fs::write(&path, &generated).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap();
        assert!(
            committed == generated,
            "data/rhcos-image-index.tsv is out of date with tests/fixtures/stream; \
             regenerate it with `UPDATE_INDEX=1 cargo test --lib stream::catalog`"
        );
    }

    #[test]
    fn embedded_index_parses_completely() {
        let parsed = Catalog::from_index(EMBEDDED_INDEX).unwrap();
        let rows = EMBEDDED_INDEX
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .count();
        assert_eq!(parsed.len(), rows);
        assert!(rows > 1000, "{rows}");
        assert_eq!(Catalog::embedded().len(), rows);
    }

    #[test]
    fn no_image_maps_to_two_builds() {
        let mut seen: HashMap<(&str, &str), &BuildId> = HashMap::new();
        let catalog = Catalog::embedded();
        for e in catalog.entries() {
            let prev = seen.insert((&e.platform, &e.image), &e.build);
            if let Some(prev) = prev {
                assert_eq!(prev, &e.build, "{} {}", e.platform, e.image);
            }
        }
    }

    #[test]
    fn answers_the_known_images() {
        let c = Catalog::embedded();
        assert_eq!(
            c.lookup_aws("ami-06f85a7940faa3217"),
            Some((
                b("43.81.202001142154.0"),
                Arch::X86_64,
                "us-east-1".to_string()
            ))
        );
        assert_eq!(
            c.lookup_aws("ami-0b04071739ccf4af2"),
            Some((
                b("418.94.202501221327-0"),
                Arch::Aarch64,
                "us-east-2".to_string()
            ))
        );
        let (build, arch, region) = c.lookup_aws("ami-06e267b8c26b558f6").unwrap();
        assert_eq!((build, arch), (b("413.86.202302150245-0"), Arch::X86_64));
        assert_eq!(region, "us-east-1");
        assert_eq!(
            c.lookup_aws("ami-0ff64f495c7e977cf"),
            Some((
                b("412.86.202212081411-0"),
                Arch::X86_64,
                "us-east-2".to_string()
            ))
        );
        assert_eq!(
            c.lookup_gcp("rhcos-46-82-202011260640-0-gcp-x86-64"),
            Some((b("46.82.202011260640-0"), Arch::X86_64))
        );
        assert_eq!(
            c.lookup_gcp(
                "projects/rhcos-cloud/global/images/rhcos-46-82-202011260640-0-gcp-x86-64"
            ),
            Some((b("46.82.202011260640-0"), Arch::X86_64))
        );
        assert_eq!(
            c.lookup_gcp("rhcos-43-81-202001142154-0"),
            Some((b("43.81.202001142154.0"), Arch::X86_64))
        );
        assert_eq!(
            c.lookup_object(
                "powervs",
                "rhcos-418-94-202602022246-0-ppc64le-powervs.ova.gz"
            ),
            Some((b("418.94.202602022246-0"), Arch::Ppc64le))
        );
        assert_eq!(
            c.lookup_object(
                "azure",
                "https://rhcos.blob.core.windows.net/imagebucket/rhcos-43.81.202001142154.0-azure.x86_64.vhd"
            ),
            Some((b("43.81.202001142154.0"), Arch::X86_64))
        );
        let (build, arch) = c
            .lookup_object(
                "azure-marketplace",
                "azureopenshift:aro4:420-arm:9.6.20251015",
            )
            .unwrap();
        assert_eq!((build.raw(), arch), ("9.6.20251015", Arch::Aarch64));
        assert!(c
            .lookup_object("aws-winli", "ami-0f00691d8919286c4")
            .is_some());
        assert_eq!(c.lookup_aws("ami-0f00691d8919286c4"), None);
        assert_eq!(c.lookup_aws("ami-0000000000000000"), None);
        assert_eq!(c.lookup_gcp("ci-ln-fyvthbt-f76d1-nl2fh-rhcos-image"), None);
        assert_eq!(c.lookup_object("nutanix", "rhcos"), None);
    }

    #[test]
    fn with_streams_adds_user_streams() {
        let doc = br#"{"stream":"custom","architectures":{"x86_64":{"images":{"aws":{"regions":{"eu-mars-1":{"release":"418.94.202501221327-0","image":"ami-custom"}}}}}}}"#;
        let set = crate::stream::parse_stream_document(doc).unwrap();
        let base = Catalog::embedded();
        assert_eq!(base.lookup_aws("ami-custom"), None);
        let extended = base.with_streams(&[set]);
        assert_eq!(extended.len(), base.len() + 1);
        assert_eq!(
            extended.lookup_aws("ami-custom"),
            Some((
                b("418.94.202501221327-0"),
                Arch::X86_64,
                "eu-mars-1".to_string()
            ))
        );
        assert!(extended.lookup_aws("ami-06f85a7940faa3217").is_some());
    }

    #[test]
    fn bad_index_lines_are_reported() {
        let err = Catalog::from_index("# c\naws\tx86_64\n").unwrap_err();
        assert!(
            matches!(err, StreamError::InvalidIndex { line: 2, .. }),
            "{err:?}"
        );
        let err = Catalog::from_index("aws\triscv\tr\tami-1\t418.94.202501221327-0\n").unwrap_err();
        assert!(err.to_string().contains("riscv"), "{err}");
        let err = Catalog::from_index("aws\tx86_64\tr\tami-1\tnope\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        let ok = Catalog::from_index("\n# only comments\n").unwrap();
        assert!(ok.is_empty());
    }
}
