//! Other controllers that manage a MachineSet and would rewrite a boot image changed
//! here (a fight: each writes its own value back). ownerReferences are a skip rule of
//! their own (`machineset::skip_reason`); this file names the controllers that mark
//! what they manage with labels or annotations instead:
//!
//! - Hive (openshift/hive): MachineSets of a MachinePool carry the labels
//!   `hive.openshift.io/machine-pool: <pool>` and `hive.openshift.io/managed: "true"`
//!   (`constants.HiveManagedLabel`, also injected on everything a SyncSet applies).
//! - Argo CD (argo-cd.readthedocs.io, user-guide/resource_tracking): annotation tracking
//!   (the default since Argo CD 3.0) writes `argocd.argoproj.io/tracking-id:
//!   <app>:<group>/<kind>:<namespace>/<name>`; label tracking (the default before)
//!   writes `app.kubernetes.io/instance: <app>`. That label is also set by Helm charts
//!   and other tools, so it is named as "probably".

use serde_json::Value;

use crate::cluster::{annotation_of, labels_of};

/// The Hive machine pool label.
pub const HIVE_MACHINE_POOL_LABEL: &str = "hive.openshift.io/machine-pool";
/// The label (or annotation) Hive puts on what it manages.
pub const HIVE_MANAGED_LABEL: &str = "hive.openshift.io/managed";
/// Argo CD's annotation tracking.
pub const ARGOCD_TRACKING_ANNOTATION: &str = "argocd.argoproj.io/tracking-id";
/// Argo CD's label tracking (the well-known instance label).
pub const ARGOCD_INSTANCE_LABEL: &str = "app.kubernetes.io/instance";

/// The controller that manages `ms` by label or annotation, as a phrase naming it and
/// the mark it was known by (None: no such mark).
pub fn managing_controller(ms: &Value) -> Option<String> {
    let labels = labels_of(ms);
    if let Some(pool) = labels.get(HIVE_MACHINE_POOL_LABEL) {
        return Some(format!(
            "Hive machine pool {pool} (label {HIVE_MACHINE_POOL_LABEL})"
        ));
    }
    let hive = labels
        .get(HIVE_MANAGED_LABEL)
        .map(String::as_str)
        .or_else(|| annotation_of(ms, HIVE_MANAGED_LABEL));
    if hive.is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Some(format!("Hive ({HIVE_MANAGED_LABEL}: \"true\")"));
    }
    if let Some(id) = annotation_of(ms, ARGOCD_TRACKING_ANNOTATION) {
        let app = id.split(':').next().unwrap_or(id);
        return Some(format!(
            "Argo CD application {app} (annotation {ARGOCD_TRACKING_ANNOTATION})"
        ));
    }
    if let Some(app) = labels.get(ARGOCD_INSTANCE_LABEL) {
        return Some(format!(
            "probably Argo CD application {app} (label {ARGOCD_INSTANCE_LABEL}, Argo CD's label tracking; Helm sets it too)"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_each_controller_by_its_mark() {
        let ms = |meta: Value| json!({"metadata": meta});
        assert_eq!(managing_controller(&ms(json!({"name": "a"}))), None);
        let hive_pool = managing_controller(&ms(json!({"labels": {
            "hive.openshift.io/machine-pool": "worker", "hive.openshift.io/managed": "true"}})));
        assert!(hive_pool.unwrap().starts_with("Hive machine pool worker"));
        let hive = managing_controller(&ms(
            json!({"annotations": {"hive.openshift.io/managed": "true"}}),
        ));
        assert!(hive.unwrap().starts_with("Hive ("));
        let argo = managing_controller(&ms(json!({"annotations": {
            "argocd.argoproj.io/tracking-id": "infra:machine.openshift.io/MachineSet:openshift-machine-api/a"}})));
        assert_eq!(
            argo.as_deref(),
            Some("Argo CD application infra (annotation argocd.argoproj.io/tracking-id)")
        );
        let label = managing_controller(&ms(
            json!({"labels": {"app.kubernetes.io/instance": "infra"}}),
        ));
        assert!(label
            .unwrap()
            .starts_with("probably Argo CD application infra"));
        assert_eq!(
            managing_controller(&ms(
                json!({"labels": {"hive.openshift.io/managed": "false"}})
            )),
            None
        );
    }
}
