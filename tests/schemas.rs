//! `schemas/` must equal what the code generates (run with `UPDATE_SCHEMAS=1`
//! to rewrite them after changing an option or a return value).

mod common;

#[test]
fn schemas_are_in_sync_with_the_code() {
    let dir = common::root().join("schemas");
    let update = std::env::var("UPDATE_SCHEMAS").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for (module, input, output) in ocp_bootimage::modules::schemas() {
        for (which, schema) in [("input", input), ("output", output)] {
            let path = dir.join(format!("{module}.{which}.json"));
            let want = format!(
                "{}\n",
                serde_json::to_string_pretty(schema.as_value()).unwrap()
            );
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &want).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(want.as_str()) {
                stale.push(path.display().to_string());
            }
        }
    }
    for (stem, schema) in ocp_bootimage::modules::extra_schemas() {
        let path = dir.join(format!("{stem}.json"));
        let want = format!(
            "{}\n",
            serde_json::to_string_pretty(schema.as_value()).unwrap()
        );
        if update {
            std::fs::write(&path, &want).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(want.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale schemas (run UPDATE_SCHEMAS=1 cargo test --test schemas): {stale:?}"
    );
}

#[test]
fn input_schemas_document_every_option() {
    for (module, input, _) in ocp_bootimage::modules::schemas() {
        let props = input.as_value()["properties"].as_object().unwrap().clone();
        for (name, prop) in props {
            let d = prop["description"].as_str().unwrap_or_default();
            assert!(d.len() > 10, "{module}: option {name} has no description");
        }
    }
}

#[test]
fn module_output_validates_against_its_schema() {
    // The real output of the shipped dump's audit must validate against the output schema.
    let r = common::run_module(
        "bootimage_info",
        &serde_json::json!({"dump_dir": common::root().join("examples/cluster-dump")}),
    );
    let schema_text =
        std::fs::read_to_string(common::root().join("schemas/bootimage_info.output.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&schema_text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&r.json)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}
