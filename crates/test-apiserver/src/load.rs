//! Loading objects from YAML/JSON files and directories.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;
use serde_json::Value;

use crate::kinds;
use crate::store::Store;

/// Every `.yaml`/`.yml`/`.json` file under `path` (or `path` itself), sorted.
fn files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("reading directory {}", path.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading directory {}", path.display()))?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            out.extend(files(&entry)?);
        } else if entry
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        {
            out.push(entry);
        }
    }
    Ok(out)
}

/// The documents of a file (multi-document YAML; JSON is read as YAML too).
fn documents(file: &Path) -> anyhow::Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    if file.extension().is_some_and(|e| e == "json") {
        if let Ok(v) = serde_json::from_str(&text) {
            return Ok(vec![v]);
        }
    }
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).with_context(|| format!("parsing {}", file.display())))
        .collect()
}

/// Flattens `List`s into their items.
fn objects(doc: Value, out: &mut Vec<Value>) {
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
    if kind == "List" || (kind.ends_with("List") && doc.get("items").is_some_and(Value::is_array)) {
        if let Some(Value::Array(items)) = doc.get("items") {
            for item in items {
                objects(item.clone(), out);
            }
        }
    } else if doc.is_object() {
        out.push(doc);
    }
}

/// Loads every object of a known kind under `path` into the store; documents without
/// `apiVersion`/`kind`, or of kinds the server does not serve, are skipped.
pub(crate) fn load_path(store: &mut Store, path: &Path) -> anyhow::Result<usize> {
    let mut count = 0;
    for file in files(path)? {
        let mut objs = Vec::new();
        for doc in documents(&file)? {
            objects(doc, &mut objs);
        }
        for obj in objs {
            let api_version = obj
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
            if kinds::by_api_version_kind(api_version, kind).is_none() {
                continue;
            }
            store
                .insert(obj)
                .with_context(|| format!("loading {}", file.display()))?;
            count += 1;
        }
    }
    Ok(count)
}
