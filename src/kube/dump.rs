//! Reading a cluster dump: a directory of YAML/JSON files as `oc get -o yaml`
//! or `-o json` writes them (single objects, multi-document YAML, `kind: List`
//! with `items`, OpenShift `Template` objects), in any layout.
//!
//! Objects without `kind` (Insights archives drop it) get one from their path
//! when the path names the resource (`machinesets/…`, `config/version.json`,
//! `config/infrastructure.json`). Pod logs are kept as files, by path (see
//! [`DumpLog`]) and read only when needed. Other files are ignored; a YAML/JSON file
//! that does not parse is an error naming the file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;
use serde_json::Value;

use crate::cluster::namespace_of;
use crate::cluster::resources::{self, Kind};

/// One object read from a dump, with the file it came from.
#[derive(Debug, Clone)]
pub struct DumpObject {
    pub kind: Kind,
    pub object: Value,
    pub file: PathBuf,
}

/// A pod log file of a dump (`*.log`), with the pod and container its path names:
///
/// | path | namespace | pod | container |
/// |---|---|---|---|
/// | `…/pods/<namespace>/<pod>/<container>.log` | `<namespace>` | `<pod>` | `<container>` |
/// | `…/pods/<namespace>/<pod>.log` | `<namespace>` | `<pod>` | any |
/// | `…/<pod>.log` (e.g. next to the pod objects) | any | `<pod>` | any |
/// | `…/namespaces/<ns>/pods/<pod>/<c>/<c>/logs/current.log` (`oc adm must-gather`) | `<ns>` | `<pod>` | `<c>` |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpLog {
    /// The pod's namespace, when the path names it.
    pub namespace: Option<String>,
    /// The pod's name.
    pub pod: String,
    /// The container, when the path names it (else the log stands for any container).
    pub container: Option<String>,
    /// The file.
    pub file: PathBuf,
}

/// Every object of a known kind found under a directory (or in one file).
#[derive(Debug, Clone, Default)]
pub struct Dump {
    pub objects: Vec<DumpObject>,
    /// Files read, for messages.
    pub files: usize,
    /// Pod log files, in path order (their content is read on demand).
    pub logs: Vec<DumpLog>,
}

impl Dump {
    /// The objects of kind `kind` (copies), in `namespace` when given: an object without
    /// a namespace counts as in every namespace (dumps often drop it), as a LIST of that
    /// namespace would have returned it.
    pub fn of_kind(&self, kind: Kind, namespace: Option<&str>) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|o| o.kind == kind)
            .filter(|o| {
                namespace.is_none_or(|ns| {
                    let got = namespace_of(&o.object);
                    got == ns || got.is_empty()
                })
            })
            .map(|o| o.object.clone())
            .collect()
    }

    /// The log file of a pod's container: one naming the container first, then one for
    /// any container; the first in path order.
    pub fn find_log(&self, namespace: &str, pod: &str, container: &str) -> Option<&DumpLog> {
        let candidates = || {
            self.logs.iter().filter(move |l| {
                l.pod == pod && l.namespace.as_deref().is_none_or(|ns| ns == namespace)
            })
        };
        candidates()
            .find(|l| l.container.as_deref() == Some(container))
            .or_else(|| candidates().find(|l| l.container.is_none()))
    }
}

/// The first `limit` bytes of a file as text (invalid UTF-8, e.g. a character cut at the
/// limit, becomes U+FFFD), as a log is read from the API with `limitBytes`.
pub fn read_log_start(path: &Path, limit: usize) -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(u64::try_from(limit).unwrap_or(u64::MAX))
        .read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn is_log_file(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("log"))
}

/// The pod (and namespace, container) a `.log` path names; see [`DumpLog`].
fn log_of_path(path: &Path) -> Option<DumpLog> {
    let parts: Vec<&str> = path
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .collect();
    // `back(0)` is the file name, `back(1)` its directory, …
    let back = |i: usize| {
        parts
            .len()
            .checked_sub(i + 1)
            .and_then(|at| parts.get(at))
            .copied()
    };
    let stem = path.file_stem()?.to_str()?.to_string();
    let owned = |s: Option<&str>| s.map(str::to_string);
    let log = |namespace: Option<&str>, pod: &str, container: Option<&str>| DumpLog {
        namespace: owned(namespace),
        pod: pod.to_string(),
        container: owned(container),
        file: path.to_path_buf(),
    };
    if back(1) == Some("logs") && back(5) == Some("pods") {
        // must-gather: namespaces/<ns>/pods/<pod>/<c>/<c>/logs/current.log (previous.log is
        // the container before its last restart: not what the API serves).
        if back(0) != Some("current.log") {
            return None;
        }
        return Some(log(back(6), back(4)?, back(2)));
    }
    if back(3) == Some("pods") {
        return Some(log(back(2), back(1)?, Some(&stem)));
    }
    if back(2) == Some("pods") {
        return Some(log(back(1), &stem, None));
    }
    Some(log(None, &stem, None))
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

fn walk(dir: &Path, out: &mut Vec<PathBuf>, logs: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading dump directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out, logs)?;
        } else if is_data_file(&p) {
            out.push(p);
        } else if is_log_file(&p) {
            logs.push(p);
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
/// recursively in name order, or a single file), and notes its pod log files.
pub fn load(path: &Path) -> Result<Dump> {
    let mut files = Vec::new();
    let mut logs = Vec::new();
    if path.is_dir() {
        walk(path, &mut files, &mut logs)?;
    } else if path.is_file() {
        files.push(path.to_path_buf());
    } else {
        anyhow::bail!("dump_dir {} does not exist", path.display());
    }
    let mut dump = Dump {
        files: files.len(),
        logs: logs.iter().filter_map(|p| log_of_path(p)).collect(),
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
    fn keeps_pod_log_files_in_every_documented_layout() {
        let dir = tempfile::tempdir().unwrap();
        let files = [
            "pods/openshift-machine-config-operator/mcd-a/machine-config-daemon.log",
            "pods/openshift-machine-config-operator/mcd-b.log",
            "namespaces/openshift-machine-config-operator/core/pods/mcd-c.log",
            "namespaces/ns1/pods/mcd-d/machine-config-daemon/machine-config-daemon/logs/current.log",
            "namespaces/ns1/pods/mcd-d/machine-config-daemon/machine-config-daemon/logs/previous.log",
        ];
        for f in files {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, f).unwrap();
        }
        let d = load(dir.path()).unwrap();
        let keys: Vec<(Option<&str>, &str, Option<&str>)> = d
            .logs
            .iter()
            .map(|l| {
                (
                    l.namespace.as_deref(),
                    l.pod.as_str(),
                    l.container.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            keys,
            [
                (Some("ns1"), "mcd-d", Some("machine-config-daemon")),
                (None, "mcd-c", None),
                (
                    Some("openshift-machine-config-operator"),
                    "mcd-a",
                    Some("machine-config-daemon")
                ),
                (Some("openshift-machine-config-operator"), "mcd-b", None),
            ]
        );
        assert_eq!(d.files, 0, "log files are not data files");
        let mco = "openshift-machine-config-operator";
        assert!(d.find_log(mco, "mcd-a", "machine-config-daemon").is_some());
        assert!(d.find_log(mco, "mcd-a", "kube-rbac-proxy").is_none());
        assert!(d.find_log(mco, "mcd-b", "anything").is_some());
        assert!(d
            .find_log("other", "mcd-b", "machine-config-daemon")
            .is_none());
        assert!(d.find_log(mco, "mcd-d", "machine-config-daemon").is_none());
        let log = d.find_log("ns1", "mcd-d", "machine-config-daemon").unwrap();
        assert_eq!(read_log_start(&log.file, 10).unwrap(), "namespaces");
    }

    #[test]
    fn a_log_next_to_the_pod_objects_stands_for_any_namespace() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mcd-x.log"), "hello").unwrap();
        let d = load(dir.path()).unwrap();
        let log = d.find_log("any", "mcd-x", "machine-config-daemon").unwrap();
        assert_eq!(log.namespace, None);
        assert_eq!(read_log_start(&log.file, 1 << 16).unwrap(), "hello");
    }

    #[test]
    fn missing_dir_is_an_error() {
        assert!(load(Path::new("/nonexistent/dump")).is_err());
    }
}
