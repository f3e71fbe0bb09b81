//! API errors and the `Status` objects the real API server answers them with.

use serde_json::{json, Map, Value};

use crate::kinds::KindInfo;

/// An error answered with a `Status` object.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `reason` of the Status.
    pub reason: &'static str,
    /// Human-readable message.
    pub message: String,
    /// `details` of the Status (omitted when empty).
    pub details: Map<String, Value>,
}

/// The `reason` the API server uses for an HTTP status code.
pub(crate) fn reason_for(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        409 => "Conflict",
        410 => "Expired",
        413 => "RequestEntityTooLarge",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "Unknown",
    }
}

/// `details` naming an object of a kind.
fn details(kind: &KindInfo, name: &str) -> Map<String, Value> {
    let mut d = Map::new();
    if !name.is_empty() {
        d.insert("name".into(), json!(name));
    }
    if !kind.group.is_empty() {
        d.insert("group".into(), json!(kind.group));
    }
    d.insert("kind".into(), json!(kind.plural));
    d
}

impl ApiError {
    /// An error with a code, its usual reason, and a message.
    pub fn new(code: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason: reason_for(code),
            message: message.into(),
            details: Map::new(),
        }
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, message)
    }

    /// 404 for a path or resource the server does not serve.
    pub fn unknown_resource() -> ApiError {
        ApiError::new(404, "the server could not find the requested resource")
    }

    /// 405 for a verb a path does not support.
    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            405,
            "the server does not allow this method on the requested resource",
        )
    }

    /// 404 NotFound for a named object.
    pub fn not_found(kind: &KindInfo, name: &str) -> ApiError {
        ApiError {
            details: details(kind, name),
            ..ApiError::new(404, format!("{} \"{}\" not found", kind.qualified(), name))
        }
    }

    /// 409 AlreadyExists.
    pub fn already_exists(kind: &KindInfo, name: &str) -> ApiError {
        ApiError {
            reason: "AlreadyExists",
            details: details(kind, name),
            ..ApiError::new(
                409,
                format!("{} \"{}\" already exists", kind.qualified(), name),
            )
        }
    }

    /// 409 Conflict for a stale resourceVersion.
    pub fn conflict(kind: &KindInfo, name: &str) -> ApiError {
        ApiError::conflict_with(
            kind,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 409 Conflict with a cause after the standard prefix.
    pub fn conflict_with(kind: &KindInfo, name: &str, cause: &str) -> ApiError {
        ApiError {
            details: details(kind, name),
            ..ApiError::new(
                409,
                format!(
                    "Operation cannot be fulfilled on {} \"{}\": {}",
                    kind.qualified(),
                    name,
                    cause
                ),
            )
        }
    }

    /// 422 Invalid with one field cause.
    pub fn invalid(kind: &KindInfo, name: &str, field: &str, detail: &str) -> ApiError {
        let mut d = details(kind, name);
        d.insert(
            "causes".into(),
            json!([{ "reason": "FieldValueInvalid", "message": detail, "field": field }]),
        );
        ApiError {
            details: d,
            ..ApiError::new(
                422,
                format!(
                    "{} \"{}\" is invalid: {}: {}",
                    kind.kind, name, field, detail
                ),
            )
        }
    }

    /// 403 Forbidden in the RBAC authorizer's words.
    pub fn forbidden(
        kind: &KindInfo,
        subresource: Option<&str>,
        verb: &str,
        namespace: Option<&str>,
        name: &str,
        user: &str,
    ) -> ApiError {
        let resource = match subresource {
            Some(sub) => format!("{}/{}", kind.plural, sub),
            None => kind.plural.to_string(),
        };
        let target = if name.is_empty() {
            kind.qualified()
        } else {
            format!("{} \"{}\"", kind.qualified(), name)
        };
        let scope = match namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".to_string(),
        };
        ApiError {
            details: details(kind, name),
            ..ApiError::new(
                403,
                format!(
                    "{target} is forbidden: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"{}\" {scope}",
                    kind.group
                ),
            )
        }
    }

    /// The `Status` object for this error.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        });
        if let Some(obj) = status.as_object_mut() {
            if !self.details.is_empty() {
                obj.insert("details".into(), Value::Object(self.details.clone()));
            }
            obj.insert("code".into(), json!(self.code));
        }
        status
    }
}
