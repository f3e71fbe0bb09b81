//! The machine-config-server pods: which still serve an older certificate (started before
//! it was written), and whether a pod is Ready.

use super::*;

/// When the serving Secret's certificate was written: its `not-before` annotation or the
/// certificate's start (issued a minute before it was written), plus that minute.
pub fn serving_written_at(tls: &Value) -> Option<i64> {
    let from_annotation = annotation_of(tls, NOT_BEFORE).and_then(parse_rfc3339);
    let from_cert = data_bytes(tls, "tls.crt")
        .and_then(|c| cert_facts(&c))
        .map(|f| f.not_before);
    from_annotation.or(from_cert).map(|t| t + 60)
}

/// The MCS pods (names) started before `since` (seconds since the epoch): they still
/// serve the certificate they loaded at start.
pub fn stale_mcs_pods(pods: &[Value], since: i64) -> Vec<String> {
    pods.iter()
        .filter(|p| {
            text(p, "/metadata/creationTimestamp")
                .and_then(parse_rfc3339)
                .is_none_or(|t| t < since)
        })
        .map(|p| name_of(p).to_string())
        .collect()
}

/// Whether a pod is Ready (its `Ready` condition is `True`).
pub fn pod_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}
