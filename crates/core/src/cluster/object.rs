//! Reading the common fields of Kubernetes objects held as JSON.

use std::collections::BTreeMap;

use serde_json::Value;

/// Labels of an object as a map.
/// The annotation `key` of `obj`, if it is a string.
pub fn annotation_of<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

pub fn labels_of(obj: &Value) -> BTreeMap<String, String> {
    obj.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `metadata.name` or "".
pub fn name_of(obj: &Value) -> &str {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `metadata.namespace` or "".
pub fn namespace_of(obj: &Value) -> &str {
    obj.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The user-data secret a MachineSet references, if any.
pub fn user_data_secret_of(ms: &Value) -> Option<&str> {
    ms.pointer("/spec/template/spec/providerSpec/value/userDataSecret/name")
        .and_then(Value::as_str)
}

/// The value rebuilt with every map and list at its exact size. Parsing and building
/// grow them by doubling, which leaves a third or more of a small map's memory unused
/// (a one-key map built with `insert` holds room for three): objects kept for the whole
/// run (a LIST's items, planned changes) are rebuilt once, at exact size.
pub fn shrunk(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = serde_json::Map::with_capacity(m.len());
            for (k, v) in m {
                out.insert(k, shrunk(v));
            }
            Value::Object(out)
        }
        Value::Array(a) => {
            let mut out: Vec<Value> = a.into_iter().map(shrunk).collect();
            out.shrink_to_fit();
            Value::Array(out)
        }
        other => other,
    }
}
