//! Loading objects from YAML/JSON files and directories, and pod logs from `.log` files
//! beside them (the layouts of `ocp-bootimage`'s dump loader).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;
use serde_json::Value;

use crate::kinds;
use crate::store::Store;

/// Every `.yaml`/`.yml`/`.json` file under `path` (or `path` itself), sorted.
fn files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    files_with(path, &["yaml", "yml", "json"])
}

/// Every file with one of `extensions` under `path` (or `path` itself), sorted.
fn files_with(path: &Path, extensions: &[&str]) -> anyhow::Result<Vec<PathBuf>> {
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
            out.extend(files_with(&entry, extensions)?);
        } else if entry
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.contains(&e))
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

/// A pod log file under a loaded directory: (namespace if the path names it, pod,
/// container if the path names it, file).
pub(crate) type LogFile = (Option<String>, String, Option<String>, PathBuf);

/// The pod log files under `path` (a directory): `…/pods/<namespace>/<pod>/<container>.log`,
/// `…/pods/<namespace>/<pod>.log`, `<pod>.log` anywhere, and must-gather's
/// `…/namespaces/<ns>/pods/<pod>/<c>/<c>/logs/current.log`.
pub(crate) fn log_files(path: &Path) -> anyhow::Result<Vec<LogFile>> {
    if !path.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for file in files_with(path, &["log"])? {
        let parts: Vec<String> = file
            .components()
            .filter_map(|c| c.as_os_str().to_str().map(str::to_string))
            .collect();
        let back = |i: usize| {
            parts
                .len()
                .checked_sub(i + 1)
                .and_then(|at| parts.get(at))
                .cloned()
        };
        let Some(stem) = file
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        let entry = if back(1).as_deref() == Some("logs") && back(5).as_deref() == Some("pods") {
            match (back(0).as_deref(), back(4)) {
                (Some("current.log"), Some(pod)) => (back(6), pod, back(2)),
                _ => continue,
            }
        } else if back(3).as_deref() == Some("pods") {
            match back(1) {
                Some(pod) => (back(2), pod, Some(stem)),
                None => continue,
            }
        } else if back(2).as_deref() == Some("pods") {
            (back(1), stem, None)
        } else {
            (None, stem, None)
        };
        out.push((entry.0, entry.1, entry.2, file));
    }
    Ok(out)
}
