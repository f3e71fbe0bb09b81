//! The HTTP front: request logging, fault injection, path routing, authorization (deny
//! list) and the verbs (get, list, watch, create, update, patch, delete,
//! deletecollection, pod logs).

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use crate::conn::ConnInfo;
use crate::faults::{self, FaultAction};
use crate::kinds::{self, KindInfo};
use crate::patch;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{meta_str, Event, EventType, Preconditions, Target};
use crate::{admission, machines, mcs_pods};
use crate::{discovery, lock, RequestRecord, Shared};

/// Largest request body accepted.
const BODY_LIMIT: usize = 64 << 20;

/// Annotation whose value a pod's `/log` returns when no log was registered.
pub const POD_LOG_ANNOTATION: &str = "test-apiserver/log";

/// The router: every request goes through [`handle`].
pub(crate) fn app(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// A handled request's answer.
enum Reply {
    Json(u16, Value),
    Text(String),
    Stream(Body),
}

/// What the verb handlers need from a request.
struct Req {
    method: Method,
    params: HashMap<String, String>,
    content_type: String,
    accept: String,
    body: Bytes,
    dry_run: bool,
    server_address: String,
}

/// A resource URL, parsed.
struct ResourcePath {
    kind: &'static KindInfo,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

enum Route {
    Version,
    Api,
    Apis,
    Group(String),
    Resources(String, String),
    Resource(ResourcePath),
    /// `POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews`: answered from the
    /// [`crate::TestApiServer::deny`] rules, as a real authorizer would from RBAC.
    SelfAccessReview,
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The `Authorization` header's scheme (and a basic-auth user name), never a secret.
fn auth_of(headers: &HeaderMap) -> Option<String> {
    use base64::Engine;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default();
        let user = decoded.split(':').next().unwrap_or_default();
        return Some(format!("Basic {user}"));
    }
    Some(scheme.to_string())
}

/// Whether a DELETE body (`DeleteOptions`) asks for a dry run.
fn body_dry_run(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("dryRun").cloned())
        .and_then(|d| d.as_array().cloned())
        .is_some_and(|d| d.iter().any(|x| x == "All"))
}

fn error_response(err: &ApiError) -> Response {
    let code = StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (code, json_headers(), err.to_status().to_string()).into_response();
    if err.code == 429 {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

fn json_headers() -> [(header::HeaderName, &'static str); 1] {
    [(header::CONTENT_TYPE, "application/json")]
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let method = parts.method.clone();
    let Ok(body) = to_bytes(body, BODY_LIMIT).await else {
        lock(&shared.log).push(RequestRecord {
            method: method.to_string(),
            path,
            query: parts.uri.query().map(str::to_string),
            status: 413,
            content_type: None,
            body: None,
            dry_run: false,
            user_agent: None,
            auth: None,
            accept_encoding: None,
            content_encoding: None,
        });
        return error_response(&ApiError::new(
            413,
            "the request body could not be read or is too large",
        ));
    };
    let params = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let dry_run = params.get("dryRun").is_some_and(|d| d == "All")
        || (method == Method::DELETE && body_dry_run(&body));
    let content_type = header_str(&parts.headers, header::CONTENT_TYPE);
    let index = {
        let mut log = lock(&shared.log);
        log.push(RequestRecord {
            method: method.to_string(),
            path: path.clone(),
            query: parts
                .uri
                .query()
                .filter(|q| !q.is_empty())
                .map(str::to_string),
            status: 0,
            content_type: (!content_type.is_empty()).then(|| content_type.clone()),
            body: (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned()),
            dry_run,
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            auth: auth_of(&parts.headers),
            accept_encoding: parts
                .headers
                .get(header::ACCEPT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            content_encoding: None,
        });
        log.len() - 1
    };
    let fault = faults::take(&mut lock(&shared.faults), index + 1, method.as_str(), &path);
    let response = match fault.as_ref().map(|f| &f.action) {
        Some(FaultAction::Reset) => {
            if let Some(ConnectInfo(conn)) = parts.extensions.get::<ConnectInfo<ConnInfo>>() {
                conn.kill.store(true, Ordering::SeqCst);
            }
            // Never written: the connection fails first. Logged with status 0.
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        Some(FaultAction::Status(code)) => {
            let message = fault
                .as_ref()
                .and_then(|f| f.body_message.clone())
                .unwrap_or_else(|| faults::stock_message(*code).to_string());
            let mut err = ApiError::new(*code, message);
            if let Ok(Route::Resource(rp)) = parse_route(&path) {
                let name = rp.name.as_deref().unwrap_or_default();
                if *code == 409 && fault.as_ref().is_some_and(|f| f.body_message.is_none()) {
                    err = ApiError::conflict(rp.kind, name);
                } else {
                    err.details = ApiError::not_found(rp.kind, name).details;
                }
            }
            if *code == 429 {
                err.details.insert("retryAfterSeconds".into(), json!(1));
            }
            error_response(&err)
        }
        other => {
            if let Some(FaultAction::Delay(ms)) = other {
                tokio::time::sleep(Duration::from_millis(*ms)).await;
            }
            let server_address = parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1")
                .to_string();
            let req = Req {
                method,
                params,
                content_type,
                accept: header_str(&parts.headers, header::ACCEPT),
                body,
                dry_run,
                server_address,
            };
            match dispatch(&shared, &path, &req) {
                Ok(Reply::Json(code, v)) => {
                    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
                    json_response(code, v.to_string(), &parts.headers)
                }
                Ok(Reply::Text(t)) => {
                    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], t).into_response()
                }
                Ok(Reply::Stream(body)) => (json_headers(), body).into_response(),
                Err(e) => error_response(&e),
            }
        }
    };
    if let Some(rec) = lock(&shared.log).get_mut(index) {
        rec.status = response.status().as_u16();
        rec.content_encoding = response
            .headers()
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
    }
    response
}

/// Whether an `Accept-Encoding` header accepts gzip (`gzip`, `gzip;q=1`, not `gzip;q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let q_zero = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            name.eq_ignore_ascii_case("gzip") && !q_zero
        })
}

/// A JSON answer, gzip-compressed as kube-apiserver compresses it: when the client
/// accepts gzip and the body is larger than [`crate::GZIP_THRESHOLD`].
fn json_response(code: StatusCode, text: String, request: &HeaderMap) -> Response {
    if text.len() > crate::GZIP_THRESHOLD && accepts_gzip(request) {
        use std::io::Write;
        // kube-apiserver compresses at level 1 (`defaultGzipContentEncodingLevel`).
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        if let Ok(body) = gz.write_all(text.as_bytes()).and_then(|()| gz.finish()) {
            return (
                code,
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::CONTENT_ENCODING, "gzip"),
                    (header::VARY, "Accept-Encoding"),
                ],
                body,
            )
                .into_response();
        }
    }
    (code, json_headers(), text).into_response()
}

/// Decodes `%XX` escapes in a path segment.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_route(path: &str) -> Result<Route, ApiError> {
    let segs: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    match s.as_slice() {
        ["version"] => Ok(Route::Version),
        ["api"] => Ok(Route::Api),
        ["apis"] => Ok(Route::Apis),
        ["api", "v1"] => Ok(Route::Resources(String::new(), "v1".into())),
        ["apis", g] => Ok(Route::Group((*g).to_string())),
        ["apis", g, v] => Ok(Route::Resources((*g).to_string(), (*v).to_string())),
        ["apis", "authorization.k8s.io", "v1", "selfsubjectaccessreviews"] => {
            Ok(Route::SelfAccessReview)
        }
        ["api", "v1", rest @ ..] => resource_route("", "v1", rest),
        ["apis", g, v, rest @ ..] => resource_route(g, v, rest),
        _ => Err(ApiError::unknown_resource()),
    }
}

fn resource_route(group: &str, version: &str, rest: &[&str]) -> Result<Route, ApiError> {
    let namespace_subresource =
        group.is_empty() && rest.len() == 3 && matches!(rest[2], "status" | "finalize");
    let (namespace, rest) = if rest.len() >= 3 && rest[0] == "namespaces" && !namespace_subresource
    {
        (Some(rest[1].to_string()), &rest[2..])
    } else {
        (None, rest)
    };
    let (plural, name, sub) = match rest {
        [p] => (*p, None, None),
        [p, n] => (*p, Some((*n).to_string()), None),
        [p, n, s] => (*p, Some((*n).to_string()), Some((*s).to_string())),
        _ => return Err(ApiError::unknown_resource()),
    };
    let kind = kinds::by_resource(group, version, plural).ok_or_else(ApiError::unknown_resource)?;
    if (namespace.is_some() && !kind.namespaced)
        || (namespace.is_none() && kind.namespaced && name.is_some())
    {
        return Err(ApiError::unknown_resource());
    }
    match sub.as_deref() {
        None => {}
        Some("status") if kind.has_status_subresource() => {}
        Some("log") if kind.group.is_empty() && kind.plural == "pods" => {}
        Some(_) => return Err(ApiError::unknown_resource()),
    }
    Ok(Route::Resource(ResourcePath {
        kind,
        namespace,
        name,
        sub,
    }))
}

fn dispatch(shared: &Arc<Shared>, path: &str, req: &Req) -> Result<Reply, ApiError> {
    let get_only = |reply: Result<Value, ApiError>| {
        if req.method == Method::GET {
            reply.map(|v| Reply::Json(200, v))
        } else {
            Err(ApiError::method_not_allowed())
        }
    };
    match parse_route(path)? {
        Route::Version => get_only(Ok(discovery::version())),
        Route::Api => get_only(Ok(discovery::api_versions(&req.server_address))),
        Route::Apis => get_only(Ok(discovery::api_group_list())),
        Route::Group(g) => {
            get_only(discovery::api_group(&g).ok_or_else(ApiError::unknown_resource))
        }
        Route::Resources(g, v) => get_only(discovery::resource_list(&g, &v)),
        Route::Resource(rp) => resource(shared, &rp, req),
        Route::SelfAccessReview if req.method == Method::POST => access_review(shared, req),
        Route::SelfAccessReview => Err(ApiError::method_not_allowed()),
    }
}

/// Whether a [`crate::TestApiServer::deny`] rule forbids `verb` on `resource`
/// (`plural` or `plural/subresource`).
fn is_denied(shared: &Shared, verb: &str, resource: &str) -> bool {
    lock(&shared.denies)
        .iter()
        .any(|(v, r)| (v == "*" || v == verb) && (r == "*" || r == resource))
}

/// A SelfSubjectAccessReview: the review back with `status.allowed`.
fn access_review(shared: &Arc<Shared>, req: &Req) -> Result<Reply, ApiError> {
    let mut review = parse_body(req)?;
    let attrs = review.pointer("/spec/resourceAttributes").cloned();
    let attr = |k: &str| {
        attrs
            .as_ref()
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (verb, plural, sub) = (attr("verb"), attr("resource"), attr("subresource"));
    let resource = if sub.is_empty() {
        plural
    } else {
        format!("{plural}/{sub}")
    };
    let allowed = !is_denied(shared, &verb, &resource);
    review["status"] = serde_json::json!({"allowed": allowed});
    Ok(Reply::Json(201, review))
}

/// The RBAC verb of a request on a resource, or 405.
fn verb(req: &Req, rp: &ResourcePath) -> Result<&'static str, ApiError> {
    let named = rp.name.is_some();
    let collection_ok = rp.namespace.is_some() || !rp.kind.namespaced;
    let watch = matches!(
        req.params.get("watch").map(String::as_str),
        Some("true" | "1")
    );
    let main_or_status = rp.sub.as_deref() != Some("log");
    Ok(match req.method {
        Method::GET if !named && watch => "watch",
        Method::GET if !named => "list",
        Method::GET => "get",
        Method::POST if !named && collection_ok => "create",
        Method::PUT if named && main_or_status => "update",
        Method::PATCH if named && main_or_status => "patch",
        Method::DELETE if named && rp.sub.is_none() => "delete",
        Method::DELETE if !named && collection_ok => "deletecollection",
        _ => return Err(ApiError::method_not_allowed()),
    })
}

fn resource(shared: &Arc<Shared>, rp: &ResourcePath, req: &Req) -> Result<Reply, ApiError> {
    let verb = verb(req, rp)?;
    let kind = rp.kind;
    let name = rp.name.as_deref().unwrap_or_default();
    {
        let resource = match &rp.sub {
            Some(sub) => format!("{}/{}", kind.plural, sub),
            None => kind.plural.to_string(),
        };
        if is_denied(shared, verb, &resource) {
            let user = lock(&shared.user).clone();
            return Err(ApiError::forbidden(
                kind,
                rp.sub.as_deref(),
                verb,
                rp.namespace.as_deref(),
                name,
                &user,
            ));
        }
    }
    if let Some(d) = req.params.get("dryRun") {
        if d != "All" {
            return Err(ApiError::bad_request(format!(
                "dryRun: Unsupported value: \"{d}\": supported values: \"All\""
            )));
        }
    }
    let ns = rp.namespace.as_deref().unwrap_or_default();
    let target = if rp.sub.as_deref() == Some("status") {
        Target::Status
    } else {
        Target::Main
    };
    match verb {
        "list" => list(shared, rp, req),
        "watch" => watch(shared, rp, req),
        "get" if rp.sub.as_deref() == Some("log") => pod_log(shared, ns, name, req),
        "get" => {
            let store = lock(&shared.store);
            let obj = store
                .get(kind, ns, name)
                .ok_or_else(|| ApiError::not_found(kind, name))?;
            Ok(Reply::Json(200, metadata_only(obj, req)))
        }
        "create" => {
            let body = parse_body(req)?;
            admission::review(&lock(&shared.admission), kind.kind, &body)?;
            let obj = lock(&shared.store).create(kind, ns, body, req.dry_run)?;
            if !req.dry_run {
                simulate(shared, kind, &obj, false);
            }
            Ok(Reply::Json(201, obj))
        }
        "update" => {
            let body = parse_body(req)?;
            admission::review(&lock(&shared.admission), kind.kind, &body)?;
            let (obj, gone) =
                lock(&shared.store).update(kind, ns, name, body, target, req.dry_run)?;
            if !req.dry_run {
                simulate(shared, kind, &obj, gone);
            }
            Ok(Reply::Json(200, obj))
        }
        "patch" => patch_object(shared, rp, req, target),
        "delete" => {
            let pre = preconditions(&req.body);
            let (obj, gone) = lock(&shared.store).delete(kind, ns, name, &pre, req.dry_run)?;
            if gone && !req.dry_run {
                simulate(shared, kind, &obj, true);
            }
            Ok(Reply::Json(
                if gone || req.dry_run { 200 } else { 202 },
                obj,
            ))
        }
        "deletecollection" => {
            let (labels, fields) = selectors(kind, req)?;
            let mut store = lock(&shared.store);
            let mut items = Vec::new();
            let mut removed = Vec::new();
            for obj in store.list(kind, rp.namespace.as_deref()) {
                if labels.matches(&obj) && fields.matches(&obj) {
                    let o_ns = meta_str(&obj, "namespace").unwrap_or_default().to_string();
                    let o_name = meta_str(&obj, "name").unwrap_or_default().to_string();
                    let (deleted, gone) = store.delete(
                        kind,
                        &o_ns,
                        &o_name,
                        &Preconditions::default(),
                        req.dry_run,
                    )?;
                    if gone && !req.dry_run {
                        removed.push(deleted.clone());
                    }
                    items.push(deleted);
                }
            }
            let doc = list_doc(kind, store.current_rv(), items, None);
            drop(store);
            for obj in &removed {
                simulate(shared, kind, obj, true);
            }
            Ok(Reply::Json(200, doc))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// Lets the opt-in simulations react to a successful, non-dry-run client write: `obj`
/// is the object as written (or as deleted, when `gone`). Call with the store unlocked.
fn simulate(shared: &Arc<Shared>, kind: &'static KindInfo, obj: &Value, gone: bool) {
    machines::observe(shared, kind, obj, gone);
    mcs_pods::observe(shared, kind, obj, gone);
}

/// A JSON (or YAML, by content type) request body.
fn parse_body(req: &Req) -> Result<Value, ApiError> {
    let parsed = if req.content_type.contains("yaml") {
        serde_yaml::from_slice::<Value>(&req.body).map_err(|e| e.to_string())
    } else {
        serde_json::from_slice::<Value>(&req.body).map_err(|e| e.to_string())
    };
    parsed.map_err(|e| {
        ApiError::bad_request(format!("the body of the request could not be decoded: {e}"))
    })
}

/// `DeleteOptions.preconditions` from a DELETE body.
fn preconditions(body: &[u8]) -> Preconditions {
    let opts: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let field = |f: &str| {
        opts.pointer(&format!("/preconditions/{f}"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Preconditions {
        resource_version: field("resourceVersion"),
        uid: field("uid"),
    }
}

fn selectors(kind: &KindInfo, req: &Req) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(req.params.get("labelSelector").map_or("", String::as_str))?;
    let fields = FieldSelector::parse(
        req.params.get("fieldSelector").map_or("", String::as_str),
        kind,
    )?;
    Ok((labels, fields))
}

/// Whether the client asked for `PartialObjectMetadata[List]` (kube's `*_metadata` calls).
fn wants_metadata(req: &Req) -> bool {
    req.accept.contains("as=PartialObjectMetadata")
}

/// The object, or its `PartialObjectMetadata` form when asked for.
fn metadata_only(obj: &Value, req: &Req) -> Value {
    if wants_metadata(req) {
        json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
        })
    } else {
        obj.clone()
    }
}

fn list_doc(kind: &KindInfo, rv: u64, items: Vec<Value>, cont: Option<(String, usize)>) -> Value {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if let Some((token, remaining)) = cont {
        meta["continue"] = json!(token);
        meta["remainingItemCount"] = json!(remaining);
    }
    json!({
        "apiVersion": kind.api_version(),
        "kind": format!("{}List", kind.kind),
        "metadata": meta,
        "items": items,
    })
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    if s.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect();
    String::from_utf8(bytes?).ok()
}

/// kube-apiserver's checks of `resourceVersionMatch` on a LIST (`ValidateListOptions`):
/// it needs a `resourceVersion`, no `continue`, is `Exact` or `NotOlderThan`, and `Exact`
/// is not allowed with `resourceVersion=0`. Every version is answered with the current
/// state (this server has no older one and no cache).
fn check_version_match(req: &Req) -> Result<(), ApiError> {
    let Some(m) = req
        .params
        .get("resourceVersionMatch")
        .filter(|m| !m.is_empty())
    else {
        return Ok(());
    };
    let rv = req.params.get("resourceVersion").map(String::as_str);
    let problem = if rv.is_none_or(str::is_empty) {
        "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
    } else if req.params.get("continue").is_some_and(|c| !c.is_empty()) {
        "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided"
    } else if m != "Exact" && m != "NotOlderThan" {
        "resourceVersionMatch: Unsupported value: supported values: \"Exact\", \"NotOlderThan\", \"\""
    } else if m == "Exact" && rv == Some("0") {
        "resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""
    } else {
        return Ok(());
    };
    Err(ApiError::bad_request(problem))
}

fn list(shared: &Shared, rp: &ResourcePath, req: &Req) -> Result<Reply, ApiError> {
    check_version_match(req)?;
    let (labels, fields) = selectors(rp.kind, req)?;
    let (rv, all) = {
        let store = lock(&shared.store);
        (
            store.current_rv(),
            store.list(rp.kind, rp.namespace.as_deref()),
        )
    };
    let key = |o: &Value| {
        format!(
            "{}\u{0}{}",
            meta_str(o, "namespace").unwrap_or_default(),
            meta_str(o, "name").unwrap_or_default()
        )
    };
    let mut items: Vec<Value> = all
        .into_iter()
        .filter(|o| labels.matches(o) && fields.matches(o))
        .collect();
    if let Some(token) = req.params.get("continue").filter(|t| !t.is_empty()) {
        let after =
            unhex(token).ok_or_else(|| ApiError::bad_request("continue key is not valid"))?;
        items.retain(|o| key(o) > after);
    }
    let limit: usize = req
        .params
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut cont = None;
    if limit > 0 && items.len() > limit {
        let remaining = items.len() - limit;
        items.truncate(limit);
        cont = items.last().map(|last| (hex(&key(last)), remaining));
    }
    if wants_metadata(req) {
        let items: Vec<Value> = items.iter().map(|o| metadata_only(o, req)).collect();
        let mut doc = list_doc(rp.kind, rv, items, cont);
        doc["apiVersion"] = json!("meta.k8s.io/v1");
        doc["kind"] = json!("PartialObjectMetadataList");
        return Ok(Reply::Json(200, doc));
    }
    Ok(Reply::Json(200, list_doc(rp.kind, rv, items, cont)))
}

fn patch_object(
    shared: &Arc<Shared>,
    rp: &ResourcePath,
    req: &Req,
    target: Target,
) -> Result<Reply, ApiError> {
    let kind = rp.kind;
    let ns = rp.namespace.as_deref().unwrap_or_default();
    let name = rp.name.as_deref().unwrap_or_default();
    let media = req
        .content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let unsupported = || {
        let types = if kind.is_custom() {
            "application/json-patch+json, application/merge-patch+json"
        } else {
            "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json"
        };
        ApiError::new(
            415,
            format!("the body of the request was in an unknown format - accepted media types include: {types}"),
        )
    };
    let json_patch = match media.as_str() {
        "application/merge-patch+json" => false,
        "application/strategic-merge-patch+json" if !kind.is_custom() => false,
        "application/json-patch+json" => true,
        _ => return Err(unsupported()),
    };
    let body: Value = serde_json::from_slice(&req.body).map_err(|e| {
        ApiError::bad_request(format!("the body of the request could not be decoded: {e}"))
    })?;
    let mut store = lock(&shared.store);
    let current = store
        .get(kind, ns, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(kind, name))?;
    let mut patched = current.clone();
    if json_patch {
        if !body.is_array() {
            return Err(ApiError::bad_request(
                "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
            ));
        }
        patch::json_patch(&mut patched, &body).map_err(|e| {
            let mut err = ApiError::new(
                422,
                "the server rejected our request due to an error in our request",
            );
            err.details.insert(
                "causes".into(),
                json!([{"reason": "UnexpectedServerResponse", "message": e}]),
            );
            err
        })?;
    } else {
        if !body.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request must be a JSON object",
            ));
        }
        patch::merge_patch(&mut patched, &body);
    }
    // A resourceVersion the patch put in the object is a precondition.
    if let Some(rv) = meta_str(&patched, "resourceVersion") {
        if Some(rv) != meta_str(&current, "resourceVersion") {
            return Err(ApiError::conflict(kind, name));
        }
    }
    admission::review(&lock(&shared.admission), kind.kind, &patched)?;
    let (obj, gone) = store.update(kind, ns, name, patched, target, req.dry_run)?;
    let reverting = lock(&shared.reverting)
        .iter()
        .any(|(k, n)| k == kind.kind && n == name);
    if reverting && !req.dry_run && !gone {
        // Another controller writes its value back (after the answer was made).
        let mut back = current.clone();
        if let Some(m) = back.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
        }
        store.update(kind, ns, name, back, target, false)?;
    }
    drop(store);
    if !req.dry_run {
        simulate(shared, kind, &obj, gone);
    }
    Ok(Reply::Json(200, obj))
}

fn pod_log(shared: &Shared, ns: &str, name: &str, req: &Req) -> Result<Reply, ApiError> {
    let pod = {
        let store = lock(&shared.store);
        let kind = kinds::by_resource("", "v1", "pods").ok_or_else(ApiError::unknown_resource)?;
        store
            .get(kind, ns, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(kind, name))?
    };
    let container = req.params.get("container").cloned();
    let text = {
        let logs = lock(&shared.pod_logs);
        let key = |c: Option<String>| (ns.to_string(), name.to_string(), c);
        logs.get(&key(container.clone()))
            .or_else(|| logs.get(&key(None)))
            .cloned()
    }
    .or_else(|| {
        pod.pointer(&format!(
            "/metadata/annotations/{}",
            POD_LOG_ANNOTATION.replace('/', "~1")
        ))
        .and_then(Value::as_str)
        .map(str::to_string)
    })
    .unwrap_or_default();
    let text = match req
        .params
        .get("tailLines")
        .and_then(|t| t.parse::<usize>().ok())
    {
        Some(n) => {
            let lines: Vec<&str> = text.lines().collect();
            let mut tail = lines[lines.len().saturating_sub(n)..].join("\n");
            if n > 0 && !tail.is_empty() {
                tail.push('\n');
            }
            tail
        }
        None => text,
    };
    // `limitBytes`: the first bytes only (cut back to a character boundary).
    let text = match req
        .params
        .get("limitBytes")
        .and_then(|l| l.parse::<usize>().ok())
    {
        Some(limit) if limit < text.len() => {
            let mut end = limit;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.get(..end).unwrap_or_default().to_string()
        }
        _ => text,
    };
    Ok(Reply::Text(text))
}

/// Which events a watch passes on.
struct WatchFilter {
    kind: &'static KindInfo,
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl WatchFilter {
    fn matches(&self, obj: &Value) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| meta_str(obj, "namespace") == Some(ns))
            && self.labels.matches(obj)
            && self.fields.matches(obj)
    }

    /// The watch line for an event, if it concerns this watch.
    fn render(&self, ev: &Event) -> Option<String> {
        if !std::ptr::eq(ev.kind, self.kind) {
            return None;
        }
        let now = self.matches(&ev.object);
        let before = ev.old.as_ref().is_some_and(|o| self.matches(o));
        let ty = match ev.ty {
            EventType::Added if now => "ADDED",
            EventType::Deleted if now => "DELETED",
            EventType::Modified if now && before => "MODIFIED",
            EventType::Modified if now => "ADDED",
            EventType::Modified if before => "DELETED",
            _ => return None,
        };
        Some(watch_line(ty, &ev.object))
    }
}

fn watch_line(ty: &str, obj: &Value) -> String {
    format!("{}\n", json!({"type": ty, "object": obj}))
}

struct WatchState {
    pending: VecDeque<String>,
    rx: tokio::sync::broadcast::Receiver<Event>,
    filter: WatchFilter,
    deadline: tokio::time::Instant,
    done: bool,
}

fn watch(shared: &Shared, rp: &ResourcePath, req: &Req) -> Result<Reply, ApiError> {
    let (labels, fields) = selectors(rp.kind, req)?;
    let filter = WatchFilter {
        kind: rp.kind,
        namespace: rp.namespace.clone(),
        labels,
        fields,
    };
    let timeout = req
        .params
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(1_800);
    let from: Option<u64> = match req.params.get("resourceVersion").map(String::as_str) {
        None | Some("") | Some("0") => None,
        Some(rv) => Some(
            rv.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version {rv:?}")))?,
        ),
    };
    let initial_events = req
        .params
        .get("sendInitialEvents")
        .is_some_and(|v| v == "true");
    let store = lock(&shared.store);
    let rx = store.subscribe();
    let mut pending = VecDeque::new();
    let mut done = false;
    match from {
        Some(rv) if !initial_events => match store.events_since(rv) {
            Some(events) => pending.extend(events.iter().filter_map(|e| filter.render(e))),
            None => {
                let mut gone = ApiError::new(
                    410,
                    format!("too old resource version: {rv} ({})", store.current_rv()),
                );
                gone.reason = "Expired";
                pending.push_back(watch_line("ERROR", &gone.to_status()));
                done = true;
            }
        },
        _ => {
            for obj in store.list(rp.kind, rp.namespace.as_deref()) {
                if filter.matches(&obj) {
                    pending.push_back(watch_line("ADDED", &obj));
                }
            }
            if initial_events {
                let bookmark = json!({
                    "apiVersion": rp.kind.api_version(),
                    "kind": rp.kind.kind,
                    "metadata": {
                        "resourceVersion": store.current_rv().to_string(),
                        "annotations": {"k8s.io/initial-events-end": "true"},
                    },
                });
                pending.push_back(watch_line("BOOKMARK", &bookmark));
            }
        }
    }
    drop(store);
    let state = WatchState {
        pending,
        rx,
        filter,
        deadline: tokio::time::Instant::now() + Duration::from_secs(timeout),
        done,
    };
    let stream = futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(line) = st.pending.pop_front() {
                return Some((Ok::<Bytes, Infallible>(Bytes::from(line)), st));
            }
            if st.done {
                return None;
            }
            match tokio::time::timeout_at(st.deadline, st.rx.recv()).await {
                Err(_) | Ok(Err(RecvError::Closed)) => return None,
                Ok(Ok(ev)) => {
                    if let Some(line) = st.filter.render(&ev) {
                        st.pending.push_back(line);
                    }
                }
                Ok(Err(RecvError::Lagged(_))) => {
                    let mut gone = ApiError::new(410, "too old resource version");
                    gone.reason = "Expired";
                    st.pending.push_back(watch_line("ERROR", &gone.to_status()));
                    st.done = true;
                }
            }
        }
    });
    Ok(Reply::Stream(Body::from_stream(stream)))
}
