//! Restarting the machine-config-server pods so they load a new certificate (needed up
//! to OpenShift 4.18; 4.19+ reloads it, and a restart does no harm), as oc does — delete
//! the pods labelled `k8s-app=machine-config-server`, each only as read — then waiting,
//! bounded, until the DaemonSet's new pods are Ready. No pods (a dump, a bare test
//! server) is a warning, never a failure.

use std::time::{Duration, Instant};

use anyhow::Result;
use kube::api::{DeleteParams, ListParams, Preconditions};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::client::{api, list, list_latest, retrying};
use super::connection::Connection;
use crate::cluster::name_of;
use crate::cluster::resources::{self, POD};
use crate::plan::mcs_certificate::{pod_ready, stale_mcs_pods, MCS_POD_SELECTOR};
use crate::progress::Progress;

/// What the restart did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct McsPodsReport {
    /// The pods deleted (or, in check mode, to delete).
    pub restarted: Vec<String>,
    /// Whether every machine-config-server pod was Ready at the end (null: not waited).
    pub ready: Option<bool>,
    /// How many pods there are now.
    pub pods: usize,
}

/// The MCS pods as observed (from the watch cache unless `quorum_read`: planning).
pub async fn list_pods(conn: &Connection) -> Result<Vec<Value>> {
    let lp = ListParams::default().labels(MCS_POD_SELECTOR);
    Ok(list(conn, POD, Some(resources::MCO_NAMESPACE), &lp)
        .await?
        .unwrap_or_default())
}

/// The MCS pods now, with a quorum read: after this run's own write (the new certificate)
/// and while waiting for the pods its deletes replace, a stale read could show pods that
/// are gone or miss new ones.
pub async fn list_pods_latest(conn: &Connection) -> Result<Vec<Value>> {
    let lp = ListParams::default().labels(MCS_POD_SELECTOR);
    Ok(list_latest(conn, POD, Some(resources::MCO_NAMESPACE), &lp)
        .await?
        .unwrap_or_default())
}

/// Deletes the MCS pods started before `since` (all when None), then waits up to
/// `timeout` for every MCS pod to be Ready; warnings say what could not be seen.
pub async fn restart(
    conn: &Connection,
    pods: &[Value],
    since: Option<i64>,
    timeout: Duration,
    warnings: &mut Vec<String>,
) -> Result<McsPodsReport> {
    let stale = match since {
        Some(s) => stale_mcs_pods(pods, s),
        None => pods.iter().map(|p| name_of(p).to_string()).collect(),
    };
    let mut report = McsPodsReport {
        pods: pods.len(),
        ..McsPodsReport::default()
    };
    if pods.is_empty() {
        warnings.push(format!(
            "no machine-config-server pod found ({MCS_POD_SELECTOR} in {}): none was restarted; \
             on a cluster, check that the machine-config-server serves the new certificate",
            resources::MCO_NAMESPACE
        ));
        return Ok(report);
    }
    let api = api(conn, POD, Some(resources::MCO_NAMESPACE));
    for pod in pods
        .iter()
        .filter(|p| stale.iter().any(|s| s == name_of(p)))
    {
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: None,
                uid: pod
                    .pointer("/metadata/uid")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            }),
            ..DeleteParams::default()
        };
        let name = name_of(pod).to_string();
        match retrying(true, || api.delete(&name, &dp)).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
            Err(e) => anyhow::bail!(
                "deleting machine-config-server pod {name}: {}",
                super::client::explain(&e, conn, "delete", POD, Some(resources::MCO_NAMESPACE))
            ),
        }
        report.restarted.push(name);
    }
    if report.restarted.is_empty() {
        return Ok(report);
    }
    let start = Instant::now();
    let progress = Progress::wait("waiting for the machine-config-server pods to be Ready");
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = list_pods_latest(conn).await?;
        let fresh: Vec<&Value> = now
            .iter()
            .filter(|p| !report.restarted.iter().any(|r| r == name_of(p)))
            .collect();
        report.pods = fresh.len();
        let all_ready = fresh.len() >= pods.len() && fresh.iter().all(|p| pod_ready(p));
        progress.set_message(format!(
            "waiting for the machine-config-server pods to be Ready ({} of {})",
            fresh.iter().filter(|p| pod_ready(p)).count(),
            pods.len()
        ));
        if all_ready {
            report.ready = Some(true);
            return Ok(report);
        }
        if start.elapsed() >= timeout {
            report.ready = Some(false);
            warnings.push(format!(
                "the machine-config-server pods were not all Ready after {} s ({} of {} back): \
                 new machines cannot fetch their Ignition until they are; check `oc -n {} get \
                 pods -l {MCS_POD_SELECTOR}`",
                timeout.as_secs(),
                fresh.iter().filter(|p| pod_ready(p)).count(),
                pods.len(),
                resources::MCO_NAMESPACE
            ));
            return Ok(report);
        }
    }
}
