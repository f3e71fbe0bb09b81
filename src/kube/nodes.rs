//! Reading Machines, Nodes and machine-config-daemon pods and the start of the daemon
//! logs, live (bounded, concurrent) or from a dump's log files, into the core's
//! [`NodeObservation`]. Walking Machine → Node → pod is in `cluster::nodes` (core).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use futures::{AsyncReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams};
use serde_json::Value;

use super::client::{list, list_metadata};
use super::connection::Connection;
use super::dump::{read_log_start, Dump};
use crate::cluster::nodes::{
    is_mcd_pod, pods_to_read, NodeObservation, PodLog, LOG_CONCURRENCY, LOG_LIMIT_BYTES,
    MCD_CONTAINER, MCD_LABEL_SELECTOR,
};
use crate::cluster::resources::{self, MCO_NAMESPACE};
use crate::plan::cluster::CONTROL_PLANE_LABELS;

/// The observation from a dump: its Machines (in `namespace`), Nodes, MCD pods, and the
/// log files of the pods the selected MachineSets need (their first [`LOG_LIMIT_BYTES`]).
pub fn from_dump(dump: &Dump, namespace: &str, machinesets: &[Value]) -> NodeObservation {
    let mut obs = NodeObservation {
        machines: Ok(dump.of_kind(resources::MACHINE, Some(namespace))),
        nodes: Ok(dump.of_kind(resources::NODE, None)),
        mcd_pods: Ok(dump
            .of_kind(resources::POD, Some(MCO_NAMESPACE))
            .into_iter()
            .filter(is_mcd_pod)
            .collect()),
        logs: BTreeMap::new(),
    };
    for pod in pods_to_read(machinesets, &obs) {
        if let Some(file) = dump.find_log(MCO_NAMESPACE, &pod, MCD_CONTAINER) {
            let log = match read_log_start(&file.file, LOG_LIMIT_BYTES) {
                Ok(text) => PodLog::Text(text),
                Err(e) => PodLog::Unreadable {
                    reason: format!("reading {}: {e}", file.file.display()),
                    forbidden: false,
                },
            };
            obs.logs.insert(pod, log);
        }
    }
    obs
}

fn list_result(
    what: &str,
    r: Result<Option<Vec<Value>>>,
) -> std::result::Result<Vec<Value>, String> {
    match r {
        Ok(Some(items)) => Ok(items),
        Ok(None) => Err(format!("the API server does not serve {what}")),
        Err(e) => Err(format!("{e:#}")),
    }
}

/// Lists Machines (in `namespace`), Nodes (metadata only) and MCD pods, concurrently;
/// no log is read yet.
pub async fn list_objects(conn: &Connection, namespace: &str) -> NodeObservation {
    let all = ListParams::default();
    let mcd = ListParams::default().labels(MCD_LABEL_SELECTOR);
    let (machines, nodes, pods) = tokio::join!(
        list(conn, resources::MACHINE, Some(namespace), &all),
        list_metadata(conn, resources::NODE, None, &all),
        list(conn, resources::POD, Some(MCO_NAMESPACE), &mcd),
    );
    NodeObservation {
        machines: list_result("machines.machine.openshift.io", machines),
        nodes: list_result("nodes", nodes),
        mcd_pods: list_result("pods", pods),
        logs: BTreeMap::new(),
    }
}

/// The metadata of the control-plane nodes, for the cluster's architecture: a LIST (from
/// the watch cache, so no `limit`, which would make it a quorum read) by the label every
/// OpenShift 4 control-plane node carries (`node-role.kubernetes.io/master`), then by
/// `node-role.kubernetes.io/control-plane` only if none carries it. Empty when no node carries either label; an error (a 403:
/// `list nodes` is missing from the RBAC) says why the nodes could not be read, for the
/// caller's warning.
pub async fn control_plane_nodes(conn: &Connection) -> Result<Vec<Value>, String> {
    for label in CONTROL_PLANE_LABELS {
        let lp = ListParams::default().labels(label);
        match list_metadata(conn, resources::NODE, None, &lp).await {
            Ok(Some(items)) if !items.is_empty() => return Ok(items),
            Ok(_) => continue,
            Err(e) => return Err(format!("{e:#}")),
        }
    }
    Ok(Vec::new())
}

/// Reads the first [`LOG_LIMIT_BYTES`] of the `machine-config-daemon` container log of
/// an MCD pod (`limitBytes` asks the server to stop there; no more is read anyway).
pub async fn read_mcd_log(conn: &Connection, pod: &str) -> PodLog {
    let api: Api<Pod> = Api::namespaced(conn.client.clone(), MCO_NAMESPACE);
    let lp = LogParams {
        container: Some(MCD_CONTAINER.to_string()),
        limit_bytes: i64::try_from(LOG_LIMIT_BYTES).ok(),
        ..LogParams::default()
    };
    let unreadable = |reason: String, forbidden: bool| PodLog::Unreadable { reason, forbidden };
    match super::client::retrying(false, || api.log_stream(pod, &lp)).await {
        Ok(stream) => {
            let limit = u64::try_from(LOG_LIMIT_BYTES).unwrap_or(u64::MAX);
            let stream = std::pin::pin!(stream);
            let mut reader = stream.take(limit);
            let mut bytes = Vec::new();
            match reader.read_to_end(&mut bytes).await {
                Ok(_) => PodLog::Text(String::from_utf8_lossy(&bytes).into_owned()),
                Err(e) => unreadable(format!("reading the log of pod {pod}: {e}"), false),
            }
        }
        Err(kube::Error::Api(s)) if s.code == 403 => unreadable(
            format!(
                "forbidden: cannot get pods/log in namespace {MCO_NAMESPACE}; grant the `get` verb on \
                 `pods/log` there to read the machine-config-daemon logs (API server said: {})",
                s.message
            ),
            true,
        ),
        Err(kube::Error::Api(s)) if s.code == 404 => unreadable(
            format!("pod {pod} is gone (deleted since it was listed): {}", s.message),
            false,
        ),
        Err(kube::Error::Api(s)) => unreadable(
            format!(
                "the log of pod {pod} could not be read: HTTP {}{} ({})",
                s.code,
                if s.reason.is_empty() {
                    String::new()
                } else {
                    format!(" {}", s.reason)
                },
                s.message
            ),
            false,
        ),
        Err(e) => unreadable(
            format!(
                "cannot read the log of pod {pod} from the Kubernetes API at {}: {e}",
                conn.server
            ),
            false,
        ),
    }
}

/// Reads the MCD logs of `pods`, at most [`LOG_CONCURRENCY`] at a time.
pub async fn read_logs(conn: &Connection, pods: BTreeSet<String>) -> BTreeMap<String, PodLog> {
    futures::stream::iter(pods)
        .map(|pod| async move {
            let log = read_mcd_log(conn, &pod).await;
            (pod, log)
        })
        .buffer_unordered(LOG_CONCURRENCY)
        .collect()
        .await
}
