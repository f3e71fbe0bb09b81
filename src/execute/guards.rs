//! The safety guards a step runs on what it observed, before it plans: the parts its
//! checks need must be readable, managed clusters are refused unless `allow_managed`,
//! boot image steps wait for a cluster update to end (the upgrade gate, unless
//! `allow_progressing`), and named MachineSets that do not exist are warned about.

use serde_json::Value;

use super::Observation;
use crate::cluster::{name_of, Selection, Snapshot, SnapshotPart};
use crate::options::{GateParams, WriteParams};
use crate::plan::cluster::{managed_reason, update_gate};

/// Fails a mutating run when something its safety checks depend on could not be read
/// (`needed` names the snapshot parts, e.g. [`SnapshotPart::Infrastructure`]): changing a cluster
/// whose managed status, version or MCO management is unknown would be guessing.
pub fn require_readable(snapshot: &Snapshot, needed: &[SnapshotPart]) -> anyhow::Result<()> {
    let missing = snapshot.unreadable_of(needed);
    if missing.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "nothing was changed: could not read {}",
        missing
            .iter()
            .map(|m| m.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    )
}

/// Refuses managed clusters unless `allow`; returns a warning when allowed anyway.
pub fn managed_guard(
    infra: Option<&Value>,
    machinesets: &[Value],
    allow: bool,
) -> anyhow::Result<Option<String>> {
    match managed_reason(infra, machinesets) {
        None => Ok(None),
        Some(why) if allow => Ok(Some(format!(
            "changing a managed cluster ({why}) because allow_managed is set"
        ))),
        Some(why) => anyhow::bail!(
            "refusing to change a managed cluster: {why}. Its provider manages boot images; \
             contact Red Hat support, or set allow_managed: true if you are sure"
        ),
    }
}

/// The upgrade gate ([`update_gate`] over the snapshot's ClusterVersion and, when read,
/// `coreos-bootimages` ConfigMap): refuses while an update is in progress or the ConfigMap
/// is stale, unless `allow_progressing` (then a warning). What cannot be judged is a warning.
pub fn progress_guard(snapshot: &Snapshot, gate: &GateParams) -> anyhow::Result<Vec<String>> {
    let g = update_gate(
        snapshot.cluster_version.as_ref(),
        snapshot.bootimages_configmap.as_ref(),
    );
    let mut warnings = g.notes.clone();
    if let Some(refusal) = g.refusal() {
        if !gate.allow_progressing {
            anyhow::bail!("{refusal}");
        }
        warnings.push(format!(
            "changing boot images although {} because allow_progressing is set",
            g.reasons.join("; ")
        ));
    }
    Ok(warnings)
}

/// The guards of a mutating step, in order: every part in `observation.needed` readable
/// (else nothing is changed), a managed cluster refused unless `allow_managed`, the upgrade
/// gate when `observation.gate` is given ([`progress_guard`]); the
/// warnings name the unreadable parts and the named MachineSets not found.
pub fn standard_guards(
    snapshot: &Snapshot,
    observation: &Observation<'_>,
    write: &WriteParams,
) -> anyhow::Result<Vec<String>> {
    require_readable(snapshot, observation.needed)?;
    let mut warnings: Vec<String> = snapshot
        .unreadable
        .iter()
        .map(|u| format!("could not read {u}"))
        .collect();
    warnings.extend(managed_guard(
        snapshot.infrastructure.as_ref(),
        &snapshot.machinesets,
        write.allow_managed,
    )?);
    if let Some(gate) = observation.gate {
        warnings.extend(progress_guard(snapshot, gate)?);
    }
    warnings.extend(missing_machinesets(snapshot, observation.selection));
    Ok(warnings)
}

/// `MachineSet <name> not found in namespace <ns>` for each name the selection gives
/// that the snapshot does not hold.
pub fn missing_machinesets(snapshot: &Snapshot, sel: &Selection) -> Vec<String> {
    sel.names
        .iter()
        .filter(|n| {
            !snapshot
                .machinesets
                .iter()
                .any(|o| name_of(o) == n.as_str())
        })
        .map(|n| format!("MachineSet {n} not found in namespace {}", sel.namespace))
        .collect()
}
