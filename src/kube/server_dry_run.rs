//! Check mode through the API server, as kubernetes.core's check mode does it: every
//! planned change is sent exactly as the real run would write it, with `dryRun=All`, so
//! admission (validating webhooks such as OpenShift's machine-api one, quotas, CEL rules)
//! and validation judge it and nothing is stored. A rejection is reported per object:
//! the real run would fail there. The requests go out concurrently, in plan order.

use futures::StreamExt;
use schemars::JsonSchema;
use serde::Serialize;

use super::apply::Applier;
use super::client::transport_cause;
use crate::plan::ObjectChange;

/// Dry-run requests in flight at once.
pub const CONCURRENCY: usize = 16;

/// What the API server said of the planned changes (`server_dry_run` in check mode).
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct ServerDryRun {
    /// How many planned changes were sent as dry runs.
    pub sent: usize,
    /// How many of them the server accepted.
    pub accepted: usize,
    /// The changes the server rejected: the real run would fail on each.
    pub rejected: Vec<Rejection>,
    /// Objects changed or deleted since they were read (HTTP 409 / 404): a real run reads
    /// them again and plans them anew.
    pub changed_meanwhile: Vec<String>,
    /// Changes that could not be checked (no answer, HTTP 429 or 5xx), with why: neither
    /// accepted nor rejected.
    pub unchecked: Vec<String>,
    /// Changes this account may not make (RBAC: HTTP 403 from the authorizer, not from a
    /// webhook), with the server's message: not judged. A read-only account (the audit
    /// account) gets this for every change; the real run's account decides.
    pub forbidden: Vec<String>,
}

/// One planned change the API server rejected.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Rejection {
    /// `Kind namespace/name`.
    pub object: String,
    /// The HTTP status (400 or 422: admission or validation; 403: RBAC or a webhook).
    pub code: u16,
    /// The server's reason (`BadRequest`, `Invalid`, `Forbidden`, …).
    pub reason: String,
    /// The server's message, e.g. `admission webhook "…" denied the request: …`.
    pub message: String,
}

/// Sends each of `changes` as a dry run and sorts the answers.
pub async fn check(applier: &Applier<'_>, changes: &[ObjectChange]) -> ServerDryRun {
    let answers = futures::stream::iter(changes.iter().map(|change| async move {
        // Only whether it was accepted: the objects the server would store are dropped.
        (change, applier.write(change, true).await.map(|_| ()))
    }))
    .buffered(CONCURRENCY);
    futures::pin_mut!(answers);
    let mut out = ServerDryRun {
        sent: changes.len(),
        ..ServerDryRun::default()
    };
    while let Some((change, answer)) = answers.next().await {
        match answer {
            Ok(()) => out.accepted += 1,
            Err(kube::Error::Api(s)) if s.code == 409 || s.code == 404 => {
                out.changed_meanwhile.push(change.describe());
            }
            // The authorizer's 403 ("… is forbidden: User … cannot patch …"), not a webhook's.
            Err(kube::Error::Api(s))
                if s.code == 403 && !s.message.contains("admission webhook") =>
            {
                out.forbidden
                    .push(format!("{}: {}", change.describe(), s.message));
            }
            Err(kube::Error::Api(s)) if s.code == 429 || s.code >= 500 => out.unchecked.push(
                format!("{}: HTTP {} {}", change.describe(), s.code, s.message),
            ),
            Err(kube::Error::Api(s)) => out.rejected.push(Rejection {
                object: change.describe(),
                code: s.code,
                reason: s.reason.clone(),
                message: s.message.clone(),
            }),
            Err(other) => out.unchecked.push(format!(
                "{}: {}",
                change.describe(),
                transport_cause(&other)
            )),
        }
    }
    out
}
