//! Observing: filling the core's [`Snapshot`] from a live cluster or a dump.
//!
//! From a live cluster: one LIST per collection kind (MachineSets with the
//! label selector applied by the server, MachineAutoscalers, ClusterAutoscalers), one
//! GET per singleton (ClusterVersion, Infrastructure, MachineConfiguration, the stream
//! ConfigMap, the MCS certificate secret) and one GET per user-data secret name — those
//! the [`Reads`] ask for — all concurrently. The Secrets of the MachineSet namespace are
//! never LISTed: that would return the cloud credentials too, and need an RBAC rule that
//! grants them. The installer's four user-data secrets (and any asked for by name) are
//! read with the first batch; a name only a selected MachineSet references costs one GET
//! more after the MachineSets are read (one per distinct name, never one per MachineSet).
//! From a dump: the same objects picked out of the files. Both apply the same
//! selection.
//!
//! When nodes are observed too (`bootimage_info`'s `nodes: true`), Machines, Nodes and
//! machine-config-daemon pods are LISTed alongside, then the needed daemon logs are
//! read, bounded ([`super::nodes`]).

use std::collections::BTreeSet;

use anyhow::Result;
use futures::StreamExt;
use kube::api::ListParams;
use serde_json::Value;

use super::client::{get, list};
use super::connection::Connection;
use super::dump::Dump;
use super::nodes;
use crate::cluster::nodes::pods_to_read;
use crate::cluster::resources::{self, Kind};
use crate::cluster::{
    name_of, Reads, Selection, Snapshot, SnapshotPart, Unreadable, DEFAULT_USER_DATA_SECRETS,
};
use crate::plan::cluster::{cluster_version_names_arch, is_control_plane_node};

/// Builds a snapshot from a loaded dump.
pub fn from_dump(dump: &Dump, sel: &Selection, reads: Reads) -> Snapshot {
    from_dump_observing(dump, sel, reads, false)
}

/// Builds a snapshot from a loaded dump; with `nodes`, also its Machines, Nodes,
/// machine-config-daemon pods and the log files of the pods the MachineSets need.
pub fn from_dump_observing(dump: &Dump, sel: &Selection, reads: Reads, nodes: bool) -> Snapshot {
    let single = |k: Kind, ns: Option<&str>, name: &str| -> Option<Value> {
        dump.of_kind(k, ns).into_iter().find(|o| name_of(o) == name)
    };
    let mut snap = Snapshot {
        reads,
        secrets_readable: true,
        ..Snapshot::default()
    };
    snap.select_machinesets(
        dump.of_kind(resources::MACHINE_SET, Some(&sel.namespace)),
        sel,
        true,
    );
    if reads.user_data_secrets {
        snap.keep_user_data_secrets(dump.of_kind(resources::SECRET, Some(&sel.namespace)));
    }
    if reads.mcs_certificate {
        snap.mcs_tls_secret = single(
            resources::SECRET,
            Some(resources::MCO_NAMESPACE),
            resources::MCS_TLS_SECRET,
        );
    }
    if reads.stream_configmap {
        snap.bootimages_configmap = single(
            resources::CONFIG_MAP,
            Some(resources::MCO_NAMESPACE),
            resources::BOOTIMAGES_CONFIGMAP,
        );
    }
    // Insights archives keep ClusterVersion/Infrastructure under other names; take the
    // canonical name first, else the only one.
    let mut notes = Vec::new();
    let mut singleton = |k: Kind, name: &str| {
        let all = dump.of_kind(k, None);
        if all.len() > 1 {
            notes.push(format!(
                "the dump holds {} {} objects; using the one named {name:?} (or the first)",
                all.len(),
                k.kind
            ));
        }
        let named = all.iter().position(|o| name_of(o) == name).unwrap_or(0);
        all.into_iter().nth(named)
    };
    if reads.cluster_version {
        snap.cluster_version = singleton(resources::CLUSTER_VERSION, "version");
    }
    snap.infrastructure = singleton(resources::INFRASTRUCTURE, "cluster");
    if reads.machine_configuration {
        snap.machine_configuration = singleton(resources::MACHINE_CONFIGURATION, "cluster");
    }
    snap.notes = notes;
    if reads.autoscalers {
        snap.machine_autoscalers =
            dump.of_kind(resources::MACHINE_AUTOSCALER, Some(&sel.namespace));
        snap.cluster_autoscalers = dump.of_kind(resources::CLUSTER_AUTOSCALER, None);
    }
    if nodes {
        snap.nodes = Some(nodes::from_dump(dump, &sel.namespace, &snap.machinesets));
    }
    if reads.control_plane_machine_set {
        snap.control_plane_machine_set = single(
            resources::CONTROL_PLANE_MACHINE_SET,
            Some(&sel.namespace),
            "cluster",
        );
    }
    if reads.control_plane_arch {
        snap.control_plane_nodes = dump
            .of_kind(resources::NODE, None)
            .into_iter()
            .filter(is_control_plane_node)
            .collect();
    }
    snap
}

/// Observes a live cluster: [`Reads::requests`] requests (at most 4 LISTs, 5 GETs of
/// singletons and one GET per user-data secret name), concurrently. A LIST of autoscalers answered 404 is noted in
/// [`Snapshot::not_served`].
pub async fn from_cluster(conn: &Connection, sel: &Selection, reads: Reads) -> Result<Snapshot> {
    from_cluster_observing(conn, sel, reads, false).await
}

/// Observes a live cluster; with `nodes`, also LISTs Machines, Nodes and
/// machine-config-daemon pods (concurrently with the other reads), then reads the
/// start of the daemon log of the pod on each selected MachineSet's youngest
/// Machine's node, at most [`nodes::LOG_CONCURRENCY`] at a time.
pub async fn from_cluster_observing(
    conn: &Connection,
    sel: &Selection,
    reads: Reads,
    nodes: bool,
) -> Result<Snapshot> {
    let node_lists = async {
        if nodes {
            Some(nodes::list_objects(conn, &sel.namespace).await)
        } else {
            None
        }
    };
    let (snap, node_lists) = tokio::join!(read_cluster(conn, sel, reads), node_lists);
    let mut snap = snap?;
    if reads.control_plane_arch
        && node_lists.is_none()
        && !snap.machinesets.is_empty()
        && !cluster_version_names_arch(snap.cluster_version.as_ref())
    {
        match nodes::control_plane_nodes(conn).await {
            Ok(found) => snap.control_plane_nodes = found,
            Err(why) => snap.notes.push(format!(
                "could not list the control-plane Nodes to learn the cluster's architecture: {why}"
            )),
        }
    }
    if let Some(mut obs) = node_lists {
        let pods = pods_to_read(&snap.machinesets, &obs);
        obs.logs = nodes::read_logs(conn, pods).await;
        snap.nodes = Some(obs);
    }
    Ok(snap)
}

/// The reads of a live snapshot, concurrently; a part not in `reads` costs no request.
async fn read_cluster(conn: &Connection, sel: &Selection, reads: Reads) -> Result<Snapshot> {
    let ns = sel.namespace.as_str();
    let mut lp = ListParams::default();
    if let Some(s) = &sel.label_selector {
        if !s.as_str().is_empty() {
            lp = lp.labels(s.as_str());
        }
    }
    let all = ListParams::default();
    let singleton = |wanted, kind, name| when(wanted, get(conn, kind, None, name));
    // The user-data secrets known before the MachineSets are: the installer's four and
    // those asked for by name.
    let first_secrets: BTreeSet<String> = if reads.user_data_secrets {
        DEFAULT_USER_DATA_SECRETS
            .iter()
            .map(|n| n.to_string())
            .chain(sel.user_data_secrets.iter().cloned())
            .filter(|n| !n.is_empty())
            .collect()
    } else {
        BTreeSet::new()
    };
    let (machinesets, secrets, mcs, cm, cv, infra, mc, mas, cas, cpms) = tokio::join!(
        list(conn, resources::MACHINE_SET, Some(ns), &lp),
        get_secrets(conn, ns, first_secrets.iter().cloned().collect()),
        when(
            reads.mcs_certificate,
            get(
                conn,
                resources::SECRET,
                Some(resources::MCO_NAMESPACE),
                resources::MCS_TLS_SECRET
            )
        ),
        when(
            reads.stream_configmap,
            get(
                conn,
                resources::CONFIG_MAP,
                Some(resources::MCO_NAMESPACE),
                resources::BOOTIMAGES_CONFIGMAP
            )
        ),
        singleton(reads.cluster_version, resources::CLUSTER_VERSION, "version"),
        get(conn, resources::INFRASTRUCTURE, None, "cluster"),
        singleton(
            reads.machine_configuration,
            resources::MACHINE_CONFIGURATION,
            "cluster"
        ),
        when(
            reads.autoscalers,
            list(conn, resources::MACHINE_AUTOSCALER, Some(ns), &all)
        ),
        when(
            reads.autoscalers,
            list(conn, resources::CLUSTER_AUTOSCALER, None, &all)
        ),
        when(
            reads.control_plane_machine_set,
            get(
                conn,
                resources::CONTROL_PLANE_MACHINE_SET,
                Some(ns),
                "cluster"
            )
        ),
    );
    let mut snap = Snapshot {
        reads,
        ..Snapshot::default()
    };
    // MachineSets are the point of the run: any failure is fatal.
    let machinesets = machinesets?.ok_or_else(|| {
        anyhow::anyhow!(
            "the API server at {} does not serve machinesets.machine.openshift.io: \
                 is this an OpenShift cluster with the Machine API?",
            conn.server
        )
    })?;
    snap.select_machinesets(machinesets, sel, false);
    snap.secrets_readable = reads.user_data_secrets;
    keep_secrets(&mut snap, ns, secrets);
    if reads.user_data_secrets {
        // The names only the selected MachineSets reference: usually none.
        let more: Vec<String> = snap
            .user_data_secret_names(&sel.user_data_secrets)
            .difference(&first_secrets)
            .cloned()
            .collect();
        let more = get_secrets(conn, ns, more).await;
        keep_secrets(&mut snap, ns, more);
    }
    snap.mcs_tls_secret = optional(&mut snap.unreadable, SnapshotPart::McsTlsSecret, mcs);
    snap.bootimages_configmap =
        optional(&mut snap.unreadable, SnapshotPart::BootimagesConfigMap, cm);
    snap.cluster_version = optional(&mut snap.unreadable, SnapshotPart::ClusterVersion, cv);
    snap.infrastructure = optional(&mut snap.unreadable, SnapshotPart::Infrastructure, infra);
    snap.machine_configuration =
        optional(&mut snap.unreadable, SnapshotPart::MachineConfiguration, mc);
    snap.control_plane_machine_set = optional(
        &mut snap.unreadable,
        SnapshotPart::ControlPlaneMachineSet,
        cpms,
    );
    let wanted = reads.autoscalers;
    snap.machine_autoscalers = items(&mut snap, SnapshotPart::MachineAutoscalers, wanted, mas);
    snap.cluster_autoscalers = items(&mut snap, SnapshotPart::ClusterAutoscalers, wanted, cas);
    Ok(snap)
}

/// How many user-data secrets are read at a time.
pub const SECRET_CONCURRENCY: usize = 8;

/// GETs the Secrets `names` of `ns`, at most [`SECRET_CONCURRENCY`] at a time: each
/// name with its answer (`None`: it does not exist), sorted by name.
async fn get_secrets(
    conn: &Connection,
    ns: &str,
    names: Vec<String>,
) -> Vec<(String, Result<Option<Value>>)> {
    let mut answers: Vec<(String, Result<Option<Value>>)> = futures::stream::iter(names)
        .map(|name| async move {
            let answer = get(conn, resources::SECRET, Some(ns), &name).await;
            (name, answer)
        })
        .buffer_unordered(SECRET_CONCURRENCY)
        .collect()
        .await;
    answers.sort_by(|a, b| a.0.cmp(&b.0));
    answers
}

/// Keeps the user-data secrets read; a secret whose read failed (a 403: the RBAC names
/// the secrets it grants) makes the part unreadable, with a reason naming the secret.
fn keep_secrets(snap: &mut Snapshot, ns: &str, answers: Vec<(String, Result<Option<Value>>)>) {
    for (name, answer) in answers {
        match answer {
            Ok(Some(secret)) => {
                snap.user_data_secrets.insert(name, secret);
            }
            Ok(None) => {}
            Err(e) => {
                let mut reason = format!("secret {ns}/{name}: {e:#}");
                if reason.contains("forbidden: cannot get") {
                    reason.push_str(&format!(
                        " (deploy/rbac.yaml grants `get` on user-data secrets by name: add \
                         {name} to the resourceNames of that rule)"
                    ));
                }
                snap.unreadable.push(Unreadable {
                    part: SnapshotPart::UserDataSecrets,
                    reason: reason.clone(),
                });
                snap.unreadable_secrets.insert(name, reason);
                snap.secrets_readable = false;
            }
        }
    }
}

/// The items of a wanted collection LIST: an error makes the part unreadable, a kind
/// the server does not serve (404) is noted in [`Snapshot::not_served`].
fn items(
    snap: &mut Snapshot,
    part: SnapshotPart,
    wanted: bool,
    r: Result<Option<Vec<Value>>>,
) -> Vec<Value> {
    if wanted && matches!(r, Ok(None)) {
        snap.not_served.push(part);
    }
    optional(&mut snap.unreadable, part, r).unwrap_or_default()
}

/// Runs a read only when it is wanted; an unwanted read is "nothing there" and sends no
/// request (futures are lazy).
async fn when<T>(
    wanted: bool,
    read: impl std::future::Future<Output = Result<Option<T>>>,
) -> Result<Option<T>> {
    if wanted {
        read.await
    } else {
        Ok(None)
    }
}

fn optional<T>(
    unreadable: &mut Vec<Unreadable>,
    part: SnapshotPart,
    r: Result<Option<T>>,
) -> Option<T> {
    match r {
        Ok(v) => v,
        Err(e) => {
            unreadable.push(Unreadable {
                part,
                reason: format!("{e:#}"),
            });
            None
        }
    }
}
