//! Reading objects over HTTP: LIST and GET through kube-rs's dynamic API, with
//! errors explained the way a person can act on them (403 names the verb and
//! resource to grant; an unreachable server names the URL). 404 is `None`.

use anyhow::{Context, Result};
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;

use super::connection::Connection;
use super::resources::Kind;

/// The dynamic API of a kind, namespaced when the kind is and `ns` is given.
pub fn api(conn: &Connection, kind: Kind, ns: Option<&str>) -> Api<DynamicObject> {
    let ar = kind.api_resource();
    match ns {
        Some(ns) if kind.namespaced => Api::namespaced_with(conn.client.clone(), ns, &ar),
        _ => Api::all_with(conn.client.clone(), &ar),
    }
}

/// Explains a kube error the way a person can act on it.
pub fn explain(
    err: &kube::Error,
    conn: &Connection,
    verb: &str,
    kind: Kind,
    ns: Option<&str>,
) -> String {
    let where_ = ns.map(|n| format!(" in namespace {n}")).unwrap_or_default();
    match err {
        kube::Error::Api(status) if status.code == 403 => format!(
            "forbidden: cannot {verb} {}{where_}; grant the `{verb}` verb on `{}` (API server said: {})",
            kind.resource_name(),
            kind.resource_name(),
            status.message
        ),
        kube::Error::Api(status) if status.code == 401 => format!(
            "unauthorized at {}: the credentials were rejected ({})",
            conn.server, status.message
        ),
        kube::Error::Api(status) => format!(
            "{verb} {}{where_} failed: HTTP {} {} ({})",
            kind.resource_name(),
            status.code,
            status.reason,
            status.message
        ),
        other => format!("cannot reach the Kubernetes API at {}: {other}", conn.server),
    }
}

/// LIST of a kind (items with apiVersion/kind set); `None` when the server does not
/// serve the kind (404), an explained error otherwise.
pub async fn list(
    conn: &Connection,
    kind: Kind,
    ns: Option<&str>,
    lp: &ListParams,
) -> Result<Option<Vec<Value>>> {
    match api(conn, kind, ns).list(lp).await {
        Ok(list) => {
            let items = list
                .items
                .into_iter()
                .map(|o| {
                    let mut v = serde_json::to_value(o)?;
                    set_type(&mut v, kind);
                    Ok(v)
                })
                .collect::<Result<Vec<Value>, serde_json::Error>>()
                .context("decoding list items")?;
            Ok(Some(items))
        }
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(e) => Err(anyhow::anyhow!(explain(&e, conn, "list", kind, ns))),
    }
}

/// LIST of only the objects' metadata (`PartialObjectMetadata`): smaller answers for
/// kinds whose spec and status are not needed (Nodes). Items carry apiVersion/kind of
/// `kind`, `metadata` and nothing else.
pub async fn list_metadata(
    conn: &Connection,
    kind: Kind,
    ns: Option<&str>,
    lp: &ListParams,
) -> Result<Option<Vec<Value>>> {
    match api(conn, kind, ns).list_metadata(lp).await {
        Ok(list) => {
            let items = list
                .items
                .into_iter()
                .map(|o| {
                    let mut v =
                        serde_json::json!({ "metadata": serde_json::to_value(o.metadata)? });
                    set_type(&mut v, kind);
                    Ok(v)
                })
                .collect::<Result<Vec<Value>, serde_json::Error>>()
                .context("decoding list items")?;
            Ok(Some(items))
        }
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(e) => Err(anyhow::anyhow!(explain(&e, conn, "list", kind, ns))),
    }
}

/// GET of one object; `None` when it (or its kind) does not exist.
pub async fn get(
    conn: &Connection,
    kind: Kind,
    ns: Option<&str>,
    name: &str,
) -> Result<Option<Value>> {
    match api(conn, kind, ns).get_opt(name).await {
        Ok(Some(o)) => {
            let mut v = serde_json::to_value(o).context("decoding object")?;
            set_type(&mut v, kind);
            Ok(Some(v))
        }
        Ok(None) => Ok(None),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(e) => Err(anyhow::anyhow!(explain(&e, conn, "get", kind, ns))),
    }
}

/// List items come without apiVersion/kind; put them back so objects look the same everywhere.
pub fn set_type(v: &mut Value, kind: Kind) {
    if let Some(m) = v.as_object_mut() {
        m.entry("apiVersion")
            .or_insert_with(|| Value::String(kind.api_version()));
        m.entry("kind")
            .or_insert_with(|| Value::String(kind.kind.to_string()));
    }
}
