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
