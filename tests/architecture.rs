//! The house rules the crate split cannot express, as a test (ARCHITECTURE.md, "Never").
//!
//! The core crate cannot import the shell at all (its manifest has no path to it, and no
//! HTTP, runtime or CLI crate: checked here too). Inside the shell, imports run one way:
//! the front ends (`cli`, `ansible`) over `modules`, `modules` over `execute`, `kube`,
//! `options` and the core; `kube` knows nothing of modules or front ends; no module
//! imports another module.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The `crate::…` paths a file names (in `use` lines and inline paths), test modules
/// included: a test must not reach around the layers either.
fn crate_paths(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut out = Vec::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.push(name);
        }
    }
    out
}

#[test]
fn the_core_manifest_has_no_shell_dependency() {
    let manifest = std::fs::read_to_string(root().join("crates/core/Cargo.toml")).unwrap();
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap();
    for forbidden in [
        "kube",
        "k8s-openapi",
        "tokio",
        "http",
        "clap",
        "futures",
        "anyhow",
        "ocp-bootimage",
    ] {
        let declared = deps
            .lines()
            .any(|l| l.split('=').next().unwrap().trim() == forbidden);
        assert!(!declared, "crates/core depends on {forbidden}");
    }
}

#[test]
fn shell_layers_import_one_way() {
    // (directory or file under src/, names of `crate::` modules it must not use)
    let rules: &[(&str, &[&str])] = &[
        ("kube", &["ansible", "modules", "cli", "execute"]),
        (
            "stream_file.rs",
            &["ansible", "modules", "cli", "execute", "kube"],
        ),
        (
            "options.rs",
            &["ansible", "modules", "cli", "execute", "kube"],
        ),
        ("vsphere", &["ansible", "modules", "cli", "execute", "kube"]),
        (
            "transport.rs",
            &["ansible", "modules", "cli", "execute", "kube", "vsphere"],
        ),
        (
            "progress.rs",
            &[
                "ansible", "modules", "cli", "execute", "kube", "vsphere", "options",
            ],
        ),
        ("execute", &["cli", "modules"]),
        ("modules", &["cli"]),
        ("ansible", &["cli"]),
    ];
    let mut broken = Vec::new();
    for (place, forbidden) in rules {
        let path = root().join("src").join(place);
        let files = if path.is_dir() {
            rust_files(&path)
        } else {
            vec![path]
        };
        for f in files {
            for used in crate_paths(&f) {
                if forbidden.contains(&used.as_str()) {
                    broken.push(format!("{} uses crate::{used}", f.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

#[test]
fn no_module_imports_another_module() {
    let dir = root().join("src/modules");
    let modules: Vec<String> = rust_files(&dir)
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|m| !["mod", "inputs"].contains(&m.as_str()))
        .collect();
    let mut broken = Vec::new();
    for f in rust_files(&dir) {
        let me = f.file_stem().unwrap().to_string_lossy().into_owned();
        if me == "mod" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for other in modules.iter().filter(|m| **m != me) {
            if text.contains(&format!("super::{other}::"))
                || text.contains(&format!("modules::{other}::"))
            {
                broken.push(format!("{} imports modules::{other}", f.display()));
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}
