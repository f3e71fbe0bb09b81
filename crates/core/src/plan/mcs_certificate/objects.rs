//! The objects `mcs_certificate` writes as oc and library-go write them: the signer and
//! serving Secrets, the CA bundle ConfigMap, the stubs' first CA entry and bare metal's
//! `kube-system/root-ca`.

use super::*;

/// The signer Secret as oc writes it (and as this run marks it).
pub(super) fn signer_secret(
    existing: Option<&Value>,
    ca: &CertAndKey,
    facts: &CertFacts,
    run: &str,
) -> Value {
    let mut s = existing.cloned().unwrap_or_else(|| {
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": CA_NAME, "namespace": resources::MCO_NAMESPACE},
        })
    });
    set_meta(&mut s, "labels", CERT_TYPE_LABEL, "signer");
    set_meta(
        &mut s,
        "annotations",
        NOT_BEFORE,
        &rfc3339(facts.not_before),
    );
    set_meta(&mut s, "annotations", NOT_AFTER, &rfc3339(facts.not_after));
    set_meta(&mut s, "annotations", RUN_ANNOTATION, run);
    s["type"] = json!(TLS_TYPE);
    s["data"] = json!({"tls.crt": b64(&ca.cert_pem), "tls.key": b64(&ca.key_pem)});
    s
}

/// The serving Secret as oc writes it.
pub(super) fn serving_secret(
    existing: &Value,
    leaf: &CertAndKey,
    hostnames: &[String],
    signer_cn: &str,
    run: &str,
) -> Value {
    let mut s = existing.clone();
    let facts = cert_facts(leaf.cert_pem.as_bytes());
    if s.get("type").and_then(Value::as_str) != Some(TLS_TYPE) {
        // Recreated: the old object's server fields go.
        if let Some(m) = s.get_mut("metadata").and_then(Value::as_object_mut) {
            m.retain(|k, _| matches!(k.as_str(), "name" | "namespace" | "labels" | "annotations"));
        }
    }
    set_meta(&mut s, "annotations", HOSTNAMES, &hostnames.join(","));
    set_meta(&mut s, "annotations", ISSUER, signer_cn);
    if let Some(f) = &facts {
        set_meta(&mut s, "annotations", NOT_BEFORE, &rfc3339(f.not_before));
        set_meta(&mut s, "annotations", NOT_AFTER, &rfc3339(f.not_after));
    }
    set_meta(&mut s, "annotations", RUN_ANNOTATION, run);
    s["type"] = json!(TLS_TYPE);
    s["data"] = json!({"tls.crt": b64(&leaf.cert_pem), "tls.key": b64(&leaf.key_pem)});
    s
}

fn set_meta(obj: &mut Value, map: &str, key: &str, value: &str) {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    let meta = &mut obj["metadata"];
    if !meta.get(map).is_some_and(Value::is_object) {
        meta[map] = json!({});
    }
    meta[map][key] = json!(value);
}

/// The data URL Ignition reads a CA from (as oc writes it).
pub fn ca_data_url(bundle: &str) -> String {
    format!(
        "data:text/plain;charset=utf-8;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bundle.as_bytes())
    )
}

/// The stub's change so that its first `certificateAuthorities` entry is `bundle`.
pub(super) fn stub_change(
    name: &str,
    stub: &Value,
    bundle: &str,
) -> (Option<ObjectChange>, StubCaReport) {
    let report = |action: &str, reason: Option<String>| StubCaReport {
        name: name.to_string(),
        action: action.into(),
        reason,
    };
    if name.ends_with("-user-data-managed") {
        return (
            None,
            report(
                "skip",
                Some("managed by the Machine Config Operator, which writes it back".into()),
            ),
        );
    }
    let Some(mut ign) = decode_secret_user_data(stub)
        .ok()
        .and_then(|u| serde_json::from_slice::<Value>(&u).ok())
        .filter(|v| v.get("ignition").is_some_and(Value::is_object))
    else {
        return (
            None,
            report(
                "skip",
                Some("not an Ignition config (e.g. Windows user data): left alone".into()),
            ),
        );
    };
    let Some(first) = ign
        .pointer_mut("/ignition/security/tls/certificateAuthorities")
        .and_then(Value::as_array_mut)
        .and_then(|a| a.first_mut())
        .and_then(Value::as_object_mut)
    else {
        return (
            None,
            report(
                "skip",
                Some("carries no certificateAuthorities entry: left alone".into()),
            ),
        );
    };
    let want = ca_data_url(bundle);
    let holds = first
        .get("source")
        .and_then(Value::as_str)
        .is_some_and(|s| {
            crate::cert::ca_pems_from_ignition(&json!({"ignition": {"security": {"tls": {
            "certificateAuthorities": [{"source": s}]}}}}))
            .first()
            .is_some_and(|p| p == bundle.as_bytes())
        })
        && first
            .get("compression")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
    if holds {
        return (None, report("unchanged", None));
    }
    first.insert("source".into(), Value::String(want));
    first.remove("compression");
    if let Some(v) = first.get_mut("verification").and_then(Value::as_object_mut) {
        v.remove("hash");
    }
    let mut after = stub.clone();
    let text = ign.to_string();
    if let Some(d) = after.get_mut("stringData").and_then(Value::as_object_mut) {
        d.remove("userData");
    }
    after["data"]["userData"] = b64(&text);
    let change = ObjectChange::update(
        SECRET,
        stub,
        after,
        "certificateAuthorities[0] = the machine-config-server CA bundle".into(),
    );
    (
        Some(change),
        report(
            "update",
            Some("gets the machine-config-server CA bundle".into()),
        ),
    )
}

/// The bundle ConfigMap's change (None: it holds `bundle` already).
pub(super) fn bundle_change(existing: Option<&Value>, bundle: &str) -> Option<ObjectChange> {
    if existing.and_then(|c| text(c, "/data/ca-bundle.crt")) == Some(bundle)
        && existing.and_then(|c| {
            c.pointer(&format!(
                "/metadata/labels/{}",
                CERT_TYPE_LABEL.replace('/', "~1")
            ))
        }) == Some(&json!("ca-bundle"))
    {
        return None;
    }
    let mut after = existing.cloned().unwrap_or_else(|| {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": CA_NAME, "namespace": resources::MCO_NAMESPACE},
        })
    });
    set_meta(&mut after, "labels", CERT_TYPE_LABEL, "ca-bundle");
    after["data"] = json!({ "ca-bundle.crt": bundle });
    let summary = "ca-bundle.crt = the machine-config-server CA bundle".to_string();
    Some(match existing {
        Some(e) => ObjectChange::update(CONFIG_MAP, e, after, summary),
        None => ObjectChange {
            kind: CONFIG_MAP,
            namespace: Some(resources::MCO_NAMESPACE.into()),
            name: CA_NAME.into(),
            before: None,
            after,
            summary: "create with the machine-config-server CA bundle".into(),
        },
    })
}

/// `kube-system/root-ca`'s change on bare metal (None: not bare metal, absent, or holds
/// `bundle` already).
pub(super) fn root_ca_change(
    infra: &Value,
    root_ca: Option<&Value>,
    bundle: &str,
) -> (Option<ObjectChange>, Option<String>) {
    if text(infra, "/status/platformStatus/type") != Some("BareMetal") {
        return (None, None);
    }
    let Some(root) = root_ca else {
        return (None, None);
    };
    if text(root, "/data/ca.crt") == Some(bundle) {
        return (None, Some("unchanged".into()));
    }
    let mut after = root.clone();
    after["data"]["ca.crt"] = json!(bundle);
    (
        Some(ObjectChange::update(
            CONFIG_MAP,
            root,
            after,
            "ca.crt = the machine-config-server CA bundle".into(),
        )),
        Some("update".into()),
    )
}
