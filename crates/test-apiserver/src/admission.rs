//! Validating admission, as a webhook such as OpenShift's machine-api one judges writes:
//! rules registered with [`crate::TestApiServer::admission_rule`] see the object a create,
//! update or patch would store — dry runs included, as a real API server calls webhooks
//! for `dryRun=All` requests with `sideEffects: None` — and deny it with the real
//! server's answer: 400 `admission webhook "<name>" denied the request: <message>`.

use serde_json::Value;

use crate::status::ApiError;

/// One validating rule: deny a write of `kind` when the value at `pointer` (the whole
/// object when `None`), as JSON text, contains `contains`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionRule {
    /// The webhook's name, for the message (e.g. `validation.machineset.machine.openshift.io`).
    pub webhook: String,
    /// The kind it judges (`MachineSet`).
    pub kind: String,
    /// A JSON pointer into the object (`/spec/template/spec/providerSpec/value/ami/id`).
    pub pointer: Option<String>,
    /// Text whose presence denies the write.
    pub contains: String,
    /// Why, as the webhook says it.
    pub message: String,
}

/// The first rule that denies `obj` (of `kind`), as the API server's error.
pub(crate) fn review(rules: &[AdmissionRule], kind: &str, obj: &Value) -> Result<(), ApiError> {
    match denial(rules, kind, obj) {
        Some(rule) => Err(ApiError::bad_request(format!(
            "admission webhook \"{}\" denied the request: {}",
            rule.webhook, rule.message
        ))),
        None => Ok(()),
    }
}

/// The first rule that denies `obj` (of `kind`).
pub fn denial<'a>(
    rules: &'a [AdmissionRule],
    kind: &str,
    obj: &Value,
) -> Option<&'a AdmissionRule> {
    for rule in rules.iter().filter(|r| r.kind == kind) {
        let value = match &rule.pointer {
            Some(p) => obj.pointer(p),
            None => Some(obj),
        };
        let text = match value {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => continue,
        };
        if text.contains(&rule.contains) {
            return Some(rule);
        }
    }
    None
}
