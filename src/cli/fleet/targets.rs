//! The clusters a fleet audit reads, from `audit`'s repeatable flags: `--kubeconfig`
//! (each its current context), `--context` (in the kubeconfig(s) given, else the default
//! one), `--all-contexts` (every context of them), `--dump-dir` (each a dump). Each
//! target has a name — its context's, its dump directory's base name, or the `NAME=`
//! written before the value — and names are unique.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use kube::config::Kubeconfig;

use crate::fleet::TargetSource;

/// The target flags as given (each value may start with `NAME=`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetFlags {
    pub kubeconfigs: Vec<String>,
    pub contexts: Vec<String>,
    pub dump_dirs: Vec<String>,
    pub all_contexts: bool,
}

impl TargetFlags {
    /// Whether these flags ask for a fleet rather than one cluster: more than one
    /// target, `--all-contexts`, or a `NAME=`.
    pub fn is_fleet(&self) -> bool {
        let values = || {
            self.kubeconfigs
                .iter()
                .chain(&self.contexts)
                .chain(&self.dump_dirs)
        };
        let count = if self.contexts.is_empty() {
            self.kubeconfigs.len() + self.dump_dirs.len()
        } else {
            self.contexts.len() * self.kubeconfigs.len().max(1) + self.dump_dirs.len()
        };
        self.all_contexts || count > 1 || values().any(|v| split_name(v).0.is_some())
    }
}

/// One cluster to audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub source: TargetSource,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub dump_dir: Option<PathBuf>,
}

/// `NAME=value` → (`NAME`, `value`) when the part before the first `=` is a name
/// (letters, digits, `.`, `_`, `-`; not a path).
pub fn split_name(value: &str) -> (Option<&str>, &str) {
    match value.split_once('=') {
        Some((name, rest))
            if !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) =>
        {
            (Some(name), rest)
        }
        _ => (None, value),
    }
}

/// The kubeconfig used when none is given, as kubectl finds it: the first file of
/// `KUBECONFIG`, else `~/.kube/config`.
fn default_kubeconfig(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(k) = env("KUBECONFIG").filter(|k| !k.is_empty()) {
        return std::env::split_paths(&k).next();
    }
    env("HOME").map(|h| Path::new(&h).join(".kube").join("config"))
}

fn read(path: &Path) -> Result<Kubeconfig, String> {
    Kubeconfig::read_from(path).map_err(|e| format!("kubeconfig {}: {e}", path.display()))
}

/// The targets the flags name, in the order given (dumps last), or why they are wrong.
pub fn resolve(
    flags: &TargetFlags,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Target>, String> {
    let mut targets = Vec::new();
    let kubeconfigs: Vec<(Option<&str>, PathBuf)> = flags
        .kubeconfigs
        .iter()
        .map(|k| {
            let (name, path) = split_name(k);
            (name, PathBuf::from(path))
        })
        .collect();
    if flags.all_contexts || !flags.contexts.is_empty() {
        let files: Vec<PathBuf> = if kubeconfigs.is_empty() {
            default_kubeconfig(env).into_iter().collect()
        } else {
            kubeconfigs.iter().map(|(_, p)| p.clone()).collect()
        };
        if files.is_empty() {
            return Err("no kubeconfig to read contexts from: give --kubeconfig".into());
        }
        let configs = files
            .iter()
            .map(|f| read(f).map(|k| (f.clone(), k)))
            .collect::<Result<Vec<_>, _>>()?;
        context_targets(flags, &configs, &mut targets)?;
    } else {
        for (name, path) in &kubeconfigs {
            let current = read(path).ok().and_then(|k| k.current_context);
            let name = name
                .map(str::to_string)
                .or_else(|| current.clone())
                .unwrap_or_else(|| base_name(path));
            targets.push(Target {
                name,
                source: TargetSource {
                    kind: "kubeconfig".into(),
                    reference: path.display().to_string(),
                },
                kubeconfig: Some(path.clone()),
                context: None,
                dump_dir: None,
            });
        }
    }
    for d in &flags.dump_dirs {
        let (name, path) = split_name(d);
        let path = PathBuf::from(path);
        targets.push(Target {
            name: name.map_or_else(|| base_name(&path), str::to_string),
            source: TargetSource {
                kind: "dump_dir".into(),
                reference: path.display().to_string(),
            },
            kubeconfig: None,
            context: None,
            dump_dir: Some(path),
        });
    }
    unique(&targets)?;
    Ok(targets)
}

/// The targets of `--context` / `--all-contexts` over the kubeconfigs read.
fn context_targets(
    flags: &TargetFlags,
    configs: &[(PathBuf, Kubeconfig)],
    targets: &mut Vec<Target>,
) -> Result<(), String> {
    let target = |name: String, file: &Path, context: &str| Target {
        name,
        source: TargetSource {
            kind: "context".into(),
            reference: context.to_string(),
        },
        kubeconfig: Some(file.to_path_buf()),
        context: Some(context.to_string()),
        dump_dir: None,
    };
    if flags.all_contexts {
        for (file, k) in configs {
            for c in &k.contexts {
                targets.push(target(c.name.clone(), file, &c.name));
            }
        }
    }
    for c in &flags.contexts {
        let (name, context) = split_name(c);
        let file = configs
            .iter()
            .find(|(_, k)| k.contexts.iter().any(|n| n.name == context))
            .map(|(f, _)| f)
            .ok_or_else(|| {
                let files: Vec<String> = configs
                    .iter()
                    .map(|(f, _)| f.display().to_string())
                    .collect();
                format!("context {context:?} is in none of {}", files.join(", "))
            })?;
        let name = name.unwrap_or(context).to_string();
        if !(flags.all_contexts && name == context) {
            targets.push(target(name, file, context));
        }
    }
    Ok(())
}

fn base_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| path.display().to_string())
}

fn unique(targets: &[Target]) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for t in targets {
        if !seen.insert(t.name.as_str()) {
            return Err(format!(
                "two targets are named {:?}: name them with NAME=, e.g. --dump-dir prod={}",
                t.name, t.source.reference
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig(dir: &Path, file: &str, contexts: &[&str], current: &str) -> PathBuf {
        let ctx: Vec<String> = contexts
            .iter()
            .map(|c| format!("- name: {c}\n  context: {{cluster: c, user: u}}\n"))
            .collect();
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'https://127.0.0.1:1'}}\nusers:\n- name: u\n  user: {{token: t}}\ncontexts:\n{}current-context: {current}\n",
            ctx.concat()
        );
        let p = dir.join(file);
        std::fs::write(&p, text).expect("write");
        p
    }

    fn names(t: &[Target]) -> Vec<&str> {
        t.iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn targets_are_named_by_context_dump_dir_or_name_prefix() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = kubeconfig(dir.path(), "a", &["prod", "stage"], "prod");
        let b = kubeconfig(dir.path(), "b", &["lab"], "lab");
        let no_env = |_: &str| None;
        let flags = TargetFlags {
            kubeconfigs: vec![a.display().to_string(), format!("edge={}", b.display())],
            dump_dirs: vec!["/x/cluster-dump".into(), "old=/x/cluster-dump".into()],
            ..TargetFlags::default()
        };
        assert!(flags.is_fleet());
        let t = resolve(&flags, &no_env).expect("resolves");
        assert_eq!(names(&t), ["prod", "edge", "cluster-dump", "old"]);
        assert_eq!(t[1].kubeconfig.as_deref(), Some(b.as_path()));
        assert_eq!(t[2].dump_dir.as_deref(), Some(Path::new("/x/cluster-dump")));

        let all = TargetFlags {
            kubeconfigs: vec![a.display().to_string(), b.display().to_string()],
            all_contexts: true,
            ..TargetFlags::default()
        };
        let t = resolve(&all, &no_env).expect("resolves");
        assert_eq!(names(&t), ["prod", "stage", "lab"]);
        assert_eq!(t[2].context.as_deref(), Some("lab"));
        assert_eq!(t[2].kubeconfig.as_deref(), Some(b.as_path()));

        let env = |k: &str| (k == "KUBECONFIG").then(|| a.display().to_string());
        let ctx = TargetFlags {
            contexts: vec!["stage".into(), "p=prod".into()],
            ..TargetFlags::default()
        };
        let t = resolve(&ctx, &env).expect("resolves");
        assert_eq!(names(&t), ["stage", "p"]);
        assert_eq!(t[1].context.as_deref(), Some("prod"));
    }

    #[test]
    fn wrong_targets_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = kubeconfig(dir.path(), "a", &["prod"], "prod");
        let env = |k: &str| (k == "KUBECONFIG").then(|| a.display().to_string());
        let missing = TargetFlags {
            contexts: vec!["nope".into()],
            ..TargetFlags::default()
        };
        assert!(resolve(&missing, &env)
            .unwrap_err()
            .contains("\"nope\" is in none"));
        let twice = TargetFlags {
            dump_dirs: vec!["/a/d".into(), "/b/d".into()],
            ..TargetFlags::default()
        };
        assert!(resolve(&twice, &env)
            .unwrap_err()
            .contains("two targets are named \"d\""));
        // A path with `=` after a slash is not a name.
        assert_eq!(split_name("./a=b"), (None, "./a=b"));
        assert_eq!(split_name("prod=./d"), (Some("prod"), "./d"));
        assert!(!TargetFlags {
            dump_dirs: vec!["d".into()],
            ..TargetFlags::default()
        }
        .is_fleet());
    }
}
