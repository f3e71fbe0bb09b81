//! Asking the API server's authorizer whether the caller may do something, before a
//! module starts a change it could not finish: a SelfSubjectAccessReview (which every
//! authenticated user may create, through the default `system:basic-user` role).

use anyhow::Result;
use serde_json::{json, Value};

use super::client::{forbidden, retrying};
use super::connection::Connection;
use crate::cluster::resources::Kind;

/// Whether the caller may `verb` `kind` in `ns`: `Some(allowed)`, or `None` when the
/// server does not answer access reviews (then the write itself will tell).
pub async fn can_i(
    conn: &Connection,
    verb: &str,
    kind: Kind,
    ns: Option<&str>,
) -> Result<Option<bool>> {
    let mut attrs = json!({
        "group": kind.group,
        "resource": kind.plural,
        "verb": verb,
    });
    if let (Some(ns), true) = (ns, kind.namespaced) {
        attrs["namespace"] = json!(ns);
    }
    let body = json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attrs},
    });
    let answer = retrying(false, || async {
        let req = http::Request::post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(&body).map_err(kube::Error::SerdeError)?)
            .map_err(|e| kube::Error::BuildRequest(kube::core::request::Error::BuildRequest(e)))?;
        conn.client.request::<Value>(req).await
    })
    .await;
    match answer {
        Ok(review) => Ok(review.pointer("/status/allowed").and_then(Value::as_bool)),
        // Not served (404), or the review itself not allowed: no answer, not a refusal.
        Err(kube::Error::Api(s)) if (403..=405).contains(&s.code) => Ok(None),
        Err(e) => Err(anyhow::anyhow!(
            "cannot ask the API server at {} whether {verb} on {} is allowed: {e}",
            conn.server,
            kind.resource_name()
        )),
    }
}

/// The message for a permission a module checked it lacks (the same wording as a 403
/// on the request itself).
pub fn missing(verb: &str, kind: Kind, ns: Option<&str>, why: &str) -> String {
    format!("{} ({why}). Nothing was changed", forbidden(verb, kind, ns))
}
