//! Reading a cluster dump: a directory of YAML/JSON files as `oc get -o yaml`
//! or `-o json` writes them (single objects, multi-document YAML, `kind: List`
//! with `items`, OpenShift `Template` objects), in any layout.
//!
//! Objects without `kind` (Insights archives drop it) get one from their path
//! when the path names the resource (`machinesets/…`, `config/version.json`,
//! `config/infrastructure.json`). Files that are not YAML/JSON are ignored; a
//! YAML/JSON file that does not parse is an error naming the file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;
use serde_json::Value;

use super::resources::{self, Kind};

/// One object read from a dump, with the file it came from.
#[derive(Debug, Clone)]
pub struct DumpObject {
    pub kind: Kind,
    pub object: Value,
    pub file: PathBuf,
}

/// Every object of a known kind found under a directory (or in one file).
#[derive(Debug, Clone, Default)]
pub struct Dump {
    pub objects: Vec<DumpObject>,
    /// Files read, for messages.
    pub files: usize,
}

fn is_data_file(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("yaml" | "yml" | "json")
    )
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading dump directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if is_data_file(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// Parses the documents of one file (JSON, or YAML with several documents).
pub fn parse_documents(text: &str, path: &Path) -> Result<Vec<Value>> {
    let is_json = path.extension().and_then(|e| e.to_str()) == Some("json")
        || text.trim_start().starts_with('{');
    if is_json {
        if let Ok(v) = serde_json::from_str::<Value>(text) {
            return Ok(vec![v]);
        }
    }
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let v = Value::deserialize(doc)
            .with_context(|| format!("{} is not valid YAML/JSON", path.display()))?;
        if !v.is_null() {
            docs.push(v);
        }
    }
    Ok(docs)
}

/// Guesses the kind of an object that has no `kind` from its file path.
fn kind_from_path(path: &Path) -> Option<Kind> {
    let stem = path.file_stem()?.to_str()?.to_ascii_lowercase();
    let parts: Vec<String> = path
        .components()
        .filter_map(|c| c.as_os_str().to_str().map(str::to_ascii_lowercase))
        .collect();
    for k in resources::ALL {
        if parts.iter().any(|p| p == k.plural) {
            return Some(*k);
        }
    }
    match stem.as_str() {
        "version" | "clusterversion" => Some(resources::CLUSTER_VERSION),
        "infrastructure" => Some(resources::INFRASTRUCTURE),
        _ => None,
    }
}

fn collect(value: Value, path: &Path, out: &mut Vec<DumpObject>) {
    let Value::Object(mut map) = value else {
        return;
    };
    let kind_name = map.get("kind").and_then(Value::as_str).map(str::to_string);
    match kind_name.as_deref() {
        Some(k) if k == "List" || (k.ends_with("List") && map.contains_key("items")) => {
            if let Some(Value::Array(items)) = map.remove("items") {
                for item in items {
                    collect(item, path, out);
                }
            }
        }
        Some("Template") => {
            if let Some(Value::Array(items)) = map.remove("objects") {
                for item in items {
                    collect(item, path, out);
                }
            }
        }
        Some(k) => {
            if let Some(kind) = resources::by_kind(k) {
                out.push(DumpObject {
                    kind,
                    object: Value::Object(map),
                    file: path.to_path_buf(),
                });
            }
        }
        None => {
            if map.get("metadata").and_then(|m| m.get("name")).is_some() {
                if let Some(kind) = kind_from_path(path) {
                    map.insert("kind".into(), Value::String(kind.kind.to_string()));
                    map.insert("apiVersion".into(), Value::String(kind.api_version()));
                    out.push(DumpObject {
                        kind,
                        object: Value::Object(map),
                        file: path.to_path_buf(),
                    });
                }
            }
        }
    }
}

/// Loads every object of a known kind from `path` (a directory, walked
/// recursively in name order, or a single file).
pub fn load(path: &Path) -> Result<Dump> {
    let mut files = Vec::new();
    if path.is_dir() {
        walk(path, &mut files)?;
    } else if path.is_file() {
        files.push(path.to_path_buf());
    } else {
        anyhow::bail!("dump_dir {} does not exist", path.display());
    }
    let mut dump = Dump {
        files: files.len(),
        ..Dump::default()
    };
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        for doc in parse_documents(&text, &file)? {
            collect(doc, &file, &mut dump.objects);
        }
    }
    Ok(dump)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures(p: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(p)
    }

    #[test]
    fn reads_multi_document_yaml_with_machinesets_and_autoscalers() {
        let d = load(&fixtures("machinesets/aws-arm64")).unwrap();
        let sets = d
            .objects
            .iter()
            .filter(|o| o.kind == resources::MACHINE_SET)
            .count();
        let mas = d
            .objects
            .iter()
            .filter(|o| o.kind == resources::MACHINE_AUTOSCALER)
            .count();
        assert_eq!(sets, 3);
        assert_eq!(mas, 3);
    }

    #[test]
    fn infers_kind_of_insights_objects_from_path() {
        let d = load(&fixtures("machinesets/gcp")).unwrap();
        assert_eq!(d.objects.len(), 3);
        assert!(d.objects.iter().all(|o| o.kind == resources::MACHINE_SET));
    }

    #[test]
    fn unwraps_templates() {
        let d = load(&fixtures("machineconfiguration")).unwrap();
        assert_eq!(
            d.objects
                .iter()
                .filter(|o| o.kind == resources::MACHINE_CONFIGURATION)
                .count(),
            4
        );
    }

    #[test]
    fn bad_yaml_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("broken.yaml"), "a: [b\n  c: d").unwrap();
        let err = format!("{:#}", load(dir.path()).unwrap_err());
        assert!(err.contains("broken.yaml"), "{err}");
    }

    #[test]
    fn missing_dir_is_an_error() {
        assert!(load(Path::new("/nonexistent/dump")).is_err());
    }
}
