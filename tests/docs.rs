//! `docs/modules/` must equal what the code generates (`UPDATE_DOCS=1` rewrites it),
//! and every module documents its options, examples and return values.

mod common;

#[test]
fn module_docs_are_in_sync_with_the_code() {
    let dir = common::root().join("docs/modules");
    let update = std::env::var("UPDATE_DOCS").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for doc in ocp_bootimage::modules::docs() {
        let path = dir.join(format!("{}.md", doc.name));
        let want = ocp_bootimage::ansible::docs::markdown(&doc);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &want).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(want.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale docs (run UPDATE_DOCS=1 cargo test --test docs): {stale:?}"
    );
}

#[test]
fn every_module_has_examples_and_a_description() {
    for doc in ocp_bootimage::modules::docs() {
        assert!(
            !doc.description.trim().is_empty(),
            "{} has no DESCRIPTION",
            doc.name
        );
        assert!(
            doc.examples.contains(&format!("{}:", doc.name)),
            "{} has no example task",
            doc.name
        );
        let parsed: serde_yaml::Value = serde_yaml::from_str(doc.examples)
            .unwrap_or_else(|e| panic!("{} EXAMPLES is not YAML: {e}", doc.name));
        assert!(
            parsed.as_sequence().is_some_and(|s| !s.is_empty()),
            "{} EXAMPLES is not a list of tasks",
            doc.name
        );
    }
}

/// The sidecars `ocp-bootimage collection --write` generates read back as the documentation of
/// their module and keep to the layout ansible-lint's yamllint rules check (`scripts/test.sh`
/// runs ansible-lint itself): no line over 160 columns but a single word, and no sequence flush
/// with its key.
#[test]
fn sidecars_read_back_and_keep_to_ansible_lints_layout() {
    for doc in ocp_bootimage::modules::docs() {
        let text = ocp_bootimage::ansible::docs::ansible_sidecar(&doc, "0.1.0");
        let parsed: serde_yaml::Value = serde_yaml::from_str(&text)
            .unwrap_or_else(|e| panic!("{} sidecar is not YAML: {e}\n{text}", doc.name));
        assert_eq!(
            parsed["DOCUMENTATION"]["module"].as_str(),
            Some(doc.name),
            "{}",
            doc.name
        );
        assert_eq!(
            parsed["DOCUMENTATION"]["short_description"].as_str(),
            Some(doc.short_description)
        );
        assert_eq!(
            parsed["EXAMPLES"].as_str().map(str::trim),
            Some(doc.examples.trim())
        );
        for name in doc.options.options.keys() {
            assert!(
                parsed["DOCUMENTATION"]["options"][name.as_str()]["description"]
                    .as_sequence()
                    .is_some_and(|d| !d.is_empty()),
                "{}: option {name} has no description",
                doc.name
            );
        }
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            assert!(
                line.chars().count() <= 160 || !line.trim().contains(' '),
                "{} line {}: over 160 columns: {line}",
                doc.name,
                i + 1
            );
            let indent = |l: &str| l.len() - l.trim_start().len();
            if let Some(next) = lines.get(i + 1) {
                if line.ends_with(':') && next.trim_start().starts_with("- ") {
                    assert!(
                        indent(next) > indent(line),
                        "{} line {}: a sequence flush with its key",
                        doc.name,
                        i + 2
                    );
                }
            }
        }
    }
}
