//! `rollback` of the vSphere templates a `vsphere_template` run imported: once the
//! MachineSets are restored, each template no MachineSet (nor the ControlPlaneMachineSet)
//! names any more, and that still holds the run's build, is deleted from its vCenter.
//! The rule is the core's [`template_removal`]; this file reads the MachineSets, asks
//! vCenter and deletes.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::cluster::resources;
use crate::kube::client::{get, list};
use crate::kube::connection::Connection;
use crate::modules::inputs::credentials_for;
use crate::options::VsphereParams;
use crate::plan::rollback::{
    template_removal, EntryReport, EntryResult, ObjectEntries, TemplateRemoval,
};
use crate::vsphere::Session;

/// What the template part of a rollback did.
#[derive(Default)]
pub(super) struct Removed {
    pub reports: Vec<EntryReport>,
    /// Entries now rolled back (deleted, or already gone).
    pub done: Vec<u64>,
    pub warnings: Vec<String>,
    /// A template was (in check mode: would be) deleted.
    pub changed: bool,
}

const TEMPLATE_POINTER: &str = "/spec/template/spec/providerSpec/value/template";
const CPMS_TEMPLATE_POINTER: &str =
    "/spec/template/machines_v1beta1_machine_openshift_io/spec/providerSpec/value/template";

/// Every template a MachineSet of the namespace (and the ControlPlaneMachineSet) names
/// once the rollback is done: as read now, with `restored` (MachineSet → the template the
/// rollback puts back) laid over, so check mode sees what a real run leaves.
async fn templates_after(
    conn: &Connection,
    ns: &str,
    restored: &BTreeMap<String, String>,
) -> Result<Vec<String>> {
    let lp = kube::api::ListParams::default();
    let items = list(conn, resources::MACHINE_SET, Some(ns), &lp)
        .await?
        .unwrap_or_default();
    let mut out = Vec::new();
    for ms in &items {
        let name = ms.pointer("/metadata/name").and_then(Value::as_str);
        let now = ms.pointer(TEMPLATE_POINTER).and_then(Value::as_str);
        match name.and_then(|n| restored.get(n)) {
            Some(t) => out.push(t.clone()),
            None => out.extend(now.map(str::to_string)),
        }
    }
    if let Some(cpms) = get(
        conn,
        resources::CONTROL_PLANE_MACHINE_SET,
        Some(ns),
        "cluster",
    )
    .await?
    {
        out.extend(
            cpms.pointer(CPMS_TEMPLATE_POINTER)
                .and_then(Value::as_str)
                .map(str::to_string),
        );
    }
    Ok(out)
}

/// Removes the run's templates that nothing names any more (check mode: reports it).
pub(super) async fn remove(
    conn: Option<&Connection>,
    ns: &str,
    vcenter: &VsphereParams,
    templates: &[ObjectEntries<'_>],
    restored: &BTreeMap<String, String>,
    check: bool,
) -> Result<Removed> {
    let conn = conn
        .context("the record's templates need the cluster, to see which MachineSets name them")?;
    let after = templates_after(conn, ns, restored).await?;
    let mut out = Removed::default();
    let mut by_server: BTreeMap<&str, Vec<&ObjectEntries>> = BTreeMap::new();
    for t in templates {
        by_server
            .entry(t.key.1.as_deref().unwrap_or_default())
            .or_default()
            .push(t);
    }
    for (server, entries) in by_server {
        let names: Vec<&str> = entries.iter().map(|e| e.key.2.as_str()).collect();
        let creds = match credentials_for(vcenter, server, conn).await {
            Ok(c) => c,
            Err(e) => {
                out.warnings.push(format!(
                    "template(s) {} on vCenter {server} imported by the run are left in place: {e:#}",
                    names.join(", ")
                ));
                continue;
            }
        };
        let session = Session::login(&creds)
            .await
            .with_context(|| format!("vCenter {server}"))?;
        for t in entries {
            let path = t.key.2.as_str();
            let Some(first) = t.entries.first() else {
                continue;
            };
            let build = first.new.get("build").and_then(Value::as_str);
            let found = session
                .find_vm(path)
                .await
                .with_context(|| format!("looking for {path} on {server}"))?;
            let (removal, reason) = template_removal(
                path,
                build,
                found.as_ref().map(|v| (v.build.as_deref(), v.is_template)),
                &after,
            );
            let result = match removal {
                TemplateRemoval::Delete => {
                    if !check {
                        session
                            .destroy_vm(path)
                            .await
                            .with_context(|| format!("deleting {path} on {server}"))?;
                    }
                    out.changed = true;
                    EntryResult::Restored
                }
                TemplateRemoval::Gone => EntryResult::AlreadyRestored,
                TemplateRemoval::KeepReferenced => EntryResult::Kept,
                TemplateRemoval::KeepNotOurs => EntryResult::Conflict,
            };
            if matches!(result, EntryResult::Restored | EntryResult::AlreadyRestored) {
                out.done.extend(t.entries.iter().map(|e| e.seq));
            }
            if let Some(why) = &reason {
                out.warnings
                    .push(format!("template {path} on {server}: {why}"));
            }
            out.reports.extend(
                t.entries
                    .iter()
                    .map(|e| EntryReport::of(e, result, reason.clone())),
            );
        }
        let _ = session.logout().await;
    }
    Ok(out)
}
