//! Reading objects over HTTP: LIST and GET through kube-rs's dynamic API, with
//! errors explained the way a person can act on them (403 names the verb and
//! resource to grant; an unreachable server names the URL). 404 is `None`.
//!
//! Freshness ([`Freshness`]): an observing LIST is answered from the API server's watch
//! cache (`resourceVersion=0`), a LIST that verifies this run's writes ([`list_latest`])
//! and every GET with a quorum read; `quorum_read` makes every LIST a quorum read. Answers
//! come gzip-compressed when the server compresses them (kube's `gzip` feature: the
//! request says `Accept-Encoding: gzip`, the body is inflated as it is received, and the
//! LIST is still parsed item by item).
//!
//! Retries ([`retrying`]): a read (GET, LIST, pod log) that meets a transient failure —
//! HTTP 429, 500, 502, 503, 504, a reset connection or a timeout — is tried again, at
//! most [`ATTEMPTS`] times in all, after 200 ms · 2ⁿ (capped at 2 s) or the server's
//! `Retry-After` (`details.retryAfterSeconds`, capped at 10 s) when that is longer.
//! Writes are retried only on 429, which the API server answers before it handles the
//! request (so nothing was applied); any other failure of a write stops the module and is
//! reported (the rollback record was written before). kube-rs's own retry layer is off
//! (see `connection.rs`): it retried writes too, up to 15 times with no useful bound.

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, Result};
use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::ApiResource;
use serde_json::Value;

use super::connection::Connection;
use super::list_stream::ItemSplitter;
use crate::cluster::resources::Kind;
use crate::cluster::shrunk;
use crate::fleet::FailureKind;

/// The kube-rs resource description of a kind, for dynamic APIs.
pub fn api_resource(kind: Kind) -> ApiResource {
    ApiResource {
        group: kind.group.to_string(),
        version: kind.version.to_string(),
        api_version: kind.api_version(),
        kind: kind.kind.to_string(),
        plural: kind.plural.to_string(),
    }
}

/// The dynamic API of a kind, namespaced when the kind is and `ns` is given.
pub fn api(conn: &Connection, kind: Kind, ns: Option<&str>) -> Api<DynamicObject> {
    let ar = api_resource(kind);
    match ns {
        Some(ns) if kind.namespaced => Api::namespaced_with(conn.client.clone(), ns, &ar),
        _ => Api::all_with(conn.client.clone(), &ar),
    }
}

/// `forbidden: cannot <verb> <resource>[ in namespace <ns>]; grant the `<verb>` verb on
/// `<resource>``: how every missing permission is named, whether the server refused a
/// request or the authorizer said beforehand that it would.
pub fn forbidden(verb: &str, kind: Kind, ns: Option<&str>) -> String {
    let where_ = ns.map(|n| format!(" in namespace {n}")).unwrap_or_default();
    let resource = kind.resource_name();
    format!("forbidden: cannot {verb} {resource}{where_}; grant the `{verb}` verb on `{resource}`")
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
            "{} (API server said: {})",
            forbidden(verb, kind, ns),
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
        other => format!(
            "cannot reach the Kubernetes API at {}: {}",
            conn.server,
            transport_cause(other)
        ),
    }
}

/// The kind of failure `err` is ([`FailureKind`]): a 401 or 403 is forbidden, a request
/// that got no answer unreachable or timed out; any other error has no kind.
pub fn failure_kind(err: &kube::Error) -> Option<FailureKind> {
    match err {
        kube::Error::Api(s) if s.code == 401 || s.code == 403 => Some(FailureKind::Forbidden),
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => {
            Some(crate::transport::classify(err).0.failure_kind())
        }
        _ => None,
    }
}

/// [`explain`] as an error that carries its [`failure_kind`].
pub fn explained(
    err: &kube::Error,
    conn: &Connection,
    verb: &str,
    kind: Kind,
    ns: Option<&str>,
) -> anyhow::Error {
    crate::transport::kinded(failure_kind(err), explain(err, conn, verb, kind, ns))
}

/// Why a request to the API server got no answer ([`crate::transport::cause`], naming
/// `ca_cert` / `validate_certs` / `host` and `OCP_BOOTIMAGE_TIMEOUT_SECS`).
pub fn transport_cause(err: &(dyn std::error::Error + 'static)) -> String {
    crate::transport::cause(
        err,
        &crate::transport::Hints {
            untrusted: "the server's TLS certificate is not trusted: give the CA that signed it with \
                `ca_cert` (or the kubeconfig's certificate-authority), or set `validate_certs: false` \
                (insecure)",
            dns: "the server's name does not resolve (DNS): check the host in `host` or the kubeconfig",
            refused: "connection refused: nothing listens there (wrong host or port, or the API server is down)",
            timeout: "no answer in time (a firewall, a proxy, or an overloaded API server; \
                OCP_BOOTIMAGE_TIMEOUT_SECS sets how long to wait)",
        },
    )
}

/// How many times a request is tried in all (the first try included).
pub const ATTEMPTS: u32 = 4;
const BACKOFF_BASE: Duration = Duration::from_millis(200);
const BACKOFF_CAP: Duration = Duration::from_secs(2);
const RETRY_AFTER_CAP: Duration = Duration::from_secs(10);

/// Whether a request may be sent again after `err`: its delay, or `None`.
/// `attempt` counts the tries made so far (1 after the first).
pub fn retry_delay(err: &kube::Error, attempt: u32, write: bool) -> Option<Duration> {
    if attempt >= ATTEMPTS {
        return None;
    }
    let backoff = BACKOFF_BASE
        .saturating_mul(1 << (attempt - 1).min(16))
        .min(BACKOFF_CAP);
    match err {
        kube::Error::Api(s)
            if s.code == 429 || (!write && matches!(s.code, 500 | 502 | 503 | 504)) =>
        {
            let server = s
                .details
                .as_ref()
                .map(|d| Duration::from_secs(u64::from(d.retry_after_seconds)))
                .unwrap_or_default()
                .min(RETRY_AFTER_CAP);
            Some(backoff.max(server))
        }
        // Transport failures (reset, refused, timeout, a body cut short): a read is
        // safe to repeat; a write may have been applied, so it is not repeated.
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_)
            if !write =>
        {
            Some(backoff)
        }
        _ => None,
    }
}

/// Runs `op` (a read unless `write`) with the retry policy of this module (see the top).
pub async fn retrying<T, F, Fut>(write: bool, mut op: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match op().await {
            Err(e) => match retry_delay(&e, attempt, write) {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(e),
            },
            ok => return ok,
        }
    }
}

/// How fresh a LIST must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Observing (the audit, planning): from the API server's watch cache
    /// (`resourceVersion=0`, `resourceVersionMatch=NotOlderThan`) unless the connection
    /// asks for quorum reads (`quorum_read`). The cache may lag etcd by a moment: safe,
    /// because every write carries the `resourceVersion` it was planned from, so a
    /// stale read ends in a 409 and a re-plan, never in a lost update.
    Observe,
    /// Verifying this run's own writes (the revert check, a wait for what a write
    /// caused): always a quorum read from etcd, so nothing older than the write is seen.
    Latest,
}

/// The parameters `lp` of a LIST read with `freshness` over `conn`: observing LISTs are
/// answered from the watch cache unless the connection asks for quorum reads. A `limit`
/// makes kube send no `resourceVersion` (the watch cache of older API servers ignores
/// `limit` with `resourceVersion=0`): such a LIST stays a quorum read.
pub fn list_params(conn: &Connection, lp: &ListParams, freshness: Freshness) -> ListParams {
    match freshness {
        Freshness::Observe if !conn.quorum_read => lp.clone().match_any(),
        _ => lp.clone(),
    }
}

/// LIST of a kind (items with apiVersion/kind set) as observed ([`Freshness::Observe`]:
/// from the watch cache unless `quorum_read`); `None` when the server does not serve the
/// kind (404), an explained error otherwise.
pub async fn list(
    conn: &Connection,
    kind: Kind,
    ns: Option<&str>,
    lp: &ListParams,
) -> Result<Option<Vec<Value>>> {
    list_fresh(conn, kind, ns, lp, Freshness::Observe).await
}

/// LIST of a kind with a quorum read ([`Freshness::Latest`]), for reads that verify this
/// run's own writes; otherwise as [`list`].
pub async fn list_latest(
    conn: &Connection,
    kind: Kind,
    ns: Option<&str>,
    lp: &ListParams,
) -> Result<Option<Vec<Value>>> {
    list_fresh(conn, kind, ns, lp, Freshness::Latest).await
}

/// LIST of a kind read with `freshness`.
///
/// The answer is parsed item by item while it is received ([`ItemSplitter`]), dropping
/// each item's `metadata.managedFields` as it goes: no typed `DynamicObject` step (whose
/// flattened `data` makes serde buffer every object twice) and no copy of the whole
/// answer, so 1,000 MachineSets cost one copy of themselves and one item of text.
async fn list_fresh(
    conn: &Connection,
    kind: Kind,
    ns: Option<&str>,
    lp: &ListParams,
    freshness: Freshness,
) -> Result<Option<Vec<Value>>> {
    let api = api(conn, kind, ns);
    let lp = list_params(conn, lp, freshness);
    let answer = retrying(false, || async {
        let mut req = kube::core::Request::new(api.resource_url())
            .list(&lp)
            .map_err(kube::Error::BuildRequest)?;
        req.extensions_mut().insert("list");
        list_streamed(conn, req).await
    })
    .await;
    list_items(answer, conn, kind, ns, Ok)
}

/// Sends the LIST `req` and parses its items from the received chunks as they arrive
/// (each chunk dropped once scanned; only the item being received is kept): a large
/// LIST never exists as one text next to its parsed values (kube's `Client::request`
/// copies the whole body into a `String` first). Errors are kube's: an HTTP error status
/// becomes `Error::Api` with the server's `Status`.
async fn list_streamed(
    conn: &Connection,
    req: http::Request<Vec<u8>>,
) -> Result<Vec<Value>, kube::Error> {
    use http_body_util::BodyExt;
    let res = conn.client.send(req.map(kube::client::Body::from)).await?;
    let code = res.status();
    let mut body = res.into_body();
    if code.is_client_error() || code.is_server_error() {
        let bytes = body.collect().await?.to_bytes();
        let status = serde_json::from_slice::<kube::core::Status>(&bytes).unwrap_or_else(|_| {
            kube::core::Status::failure(
                String::from_utf8_lossy(&bytes).trim(),
                "Failed to parse error data",
            )
            .with_code(code.as_u16())
        });
        return Err(kube::Error::Api(status.boxed()));
    }
    let mut items = Vec::new();
    let mut split = ItemSplitter::new(parse_item);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            split
                .feed(&data, &mut items)
                .map_err(kube::Error::SerdeError)?;
        }
    }
    split.finish().map_err(kube::Error::SerdeError)?;
    Ok(items)
}

/// An object as read and kept: without `metadata.managedFields` (server bookkeeping that
/// no planner reads and that is often the largest part of an object, e.g. half of a
/// MachineSet from kube-apiserver) and at exact size ([`shrunk`]).
fn trimmed(mut v: Value) -> Value {
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    shrunk(v)
}

/// One item of a LIST answer, parsed and [`trimmed`].
fn parse_item(bytes: &[u8]) -> serde_json::Result<Value> {
    serde_json::from_slice(bytes).map(trimmed)
}

/// LIST of only the objects' metadata (`PartialObjectMetadata`): smaller answers for
/// kinds whose spec and status are not needed (Nodes). Items carry apiVersion/kind of
/// `kind`, `metadata` and nothing else. Observing, as [`list`].
pub async fn list_metadata(
    conn: &Connection,
    kind: Kind,
    ns: Option<&str>,
    lp: &ListParams,
) -> Result<Option<Vec<Value>>> {
    let api = api(conn, kind, ns);
    let lp = list_params(conn, lp, Freshness::Observe);
    let answer = retrying(false, || api.list_metadata(&lp)).await;
    list_items(answer.map(|l| l.items), conn, kind, ns, |o| {
        Ok(serde_json::json!({ "metadata": serde_json::to_value(o.metadata)? }))
    })
}

/// The common end of a LIST: items as values with apiVersion/kind set, 404 as `None`,
/// any other error explained.
fn list_items<T>(
    answer: Result<Vec<T>, kube::Error>,
    conn: &Connection,
    kind: Kind,
    ns: Option<&str>,
    to_value: impl Fn(T) -> serde_json::Result<Value>,
) -> Result<Option<Vec<Value>>> {
    match answer {
        Ok(items) => {
            let mut items = items
                .into_iter()
                .map(|o| {
                    let mut v = to_value(o)?;
                    set_type(&mut v, kind);
                    Ok(v)
                })
                .collect::<Result<Vec<Value>, serde_json::Error>>()
                .context("decoding list items")?;
            items.sort_by(|a, b| key_of(a).cmp(&key_of(b)));
            Ok(Some(items))
        }
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(e) => Err(explained(&e, conn, "list", kind, ns)),
    }
}

/// An item's `(namespace, name)`: LIST answers are put in this order, the order of a
/// quorum read from etcd, because the watch cache (`resourceVersion=0`) answers in no fixed
/// order (kube-apiserver 1.20 keeps it in a hash map), and what is planned and reported
/// must not depend on where the answer came from.
fn key_of(item: &Value) -> (&str, &str) {
    let field = |k: &str| {
        item.get("metadata")
            .and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    (field("namespace"), field("name"))
}

/// GET of one object, [`trimmed`] as LIST items are; `None` when it (or its kind) does not
/// exist. Always a quorum read: a GET is small, and the same GET verifies writes (the
/// re-read after a 409, the revert check).
pub async fn get(
    conn: &Connection,
    kind: Kind,
    ns: Option<&str>,
    name: &str,
) -> Result<Option<Value>> {
    let api = api(conn, kind, ns);
    match retrying(false, || api.get_opt(name)).await {
        Ok(Some(o)) => {
            let mut v = trimmed(serde_json::to_value(o).context("decoding object")?);
            set_type(&mut v, kind);
            Ok(Some(v))
        }
        Ok(None) => Ok(None),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(e) => Err(explained(&e, conn, "get", kind, ns)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn api_error(code: u16, retry_after: Option<u32>) -> kube::Error {
        let mut s = kube::core::Status::failure("injected", "InternalError").with_code(code);
        if let Some(secs) = retry_after {
            s.details = serde_json::from_value(serde_json::json!({
                "name": "", "group": "", "kind": "", "uid": "", "causes": [],
                "retryAfterSeconds": secs
            }))
            .unwrap();
        }
        kube::Error::Api(s.boxed())
    }

    #[test]
    fn reads_retry_transient_errors_with_capped_backoff() {
        let e = api_error(500, None);
        assert_eq!(retry_delay(&e, 1, false), Some(Duration::from_millis(200)));
        assert_eq!(retry_delay(&e, 2, false), Some(Duration::from_millis(400)));
        assert_eq!(retry_delay(&e, 3, false), Some(Duration::from_millis(800)));
        assert_eq!(retry_delay(&e, ATTEMPTS, false), None);
        assert_eq!(retry_delay(&api_error(404, None), 1, false), None);
        assert_eq!(retry_delay(&api_error(409, None), 1, false), None);
        assert_eq!(retry_delay(&api_error(403, None), 1, false), None);
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let e = api_error(429, Some(1));
        assert_eq!(retry_delay(&e, 1, false), Some(Duration::from_secs(1)));
        assert_eq!(retry_delay(&e, 1, true), Some(Duration::from_secs(1)));
        let e = api_error(429, Some(3600));
        assert_eq!(retry_delay(&e, 1, false), Some(Duration::from_secs(10)));
    }

    #[test]
    fn list_items_are_parsed_whole_without_managed_fields() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/cluster-dump/namespaces/openshift-machine-api/machine.openshift.io/machinesets.yaml"
        ))
        .unwrap();
        let docs: Value = serde_yaml::from_str(&text).unwrap();
        let mut items: Vec<Value> = match docs.get("items") {
            Some(Value::Array(a)) => a.clone(),
            _ => vec![docs.clone()],
        };
        items[0]["metadata"]["managedFields"] =
            serde_json::json!([{"manager": "m", "fieldsV1": {"f:spec": {}}}]);
        let body = serde_json::json!({"kind": "MachineSetList", "items": items}).to_string();
        let mut parsed = Vec::new();
        let mut split = ItemSplitter::new(parse_item);
        for chunk in body.as_bytes().chunks(1000) {
            split.feed(chunk, &mut parsed).unwrap();
        }
        split.finish().unwrap();
        assert_eq!(parsed.len(), items.len());
        for (got, mut want) in parsed.into_iter().zip(items) {
            if let Some(m) = want["metadata"].as_object_mut() {
                m.remove("managedFields");
            }
            assert_eq!(got, want);
            // Same keys in the same order.
            assert_eq!(got.to_string(), want.to_string());
        }
    }

    #[test]
    fn writes_retry_only_429() {
        for code in [500, 502, 503, 504, 409] {
            assert_eq!(retry_delay(&api_error(code, None), 1, true), None, "{code}");
        }
    }

    #[tokio::test]
    async fn retrying_is_bounded() {
        let mut calls = 0;
        let r: Result<(), kube::Error> = retrying(false, || {
            calls += 1;
            async { Err(api_error(503, None)) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls, ATTEMPTS);
    }
}
