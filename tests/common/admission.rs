//! Validating admission for a test, the same on both servers: the in-process server
//! takes the rule directly; on a real API server a webhook server is started here and a
//! `ValidatingWebhookConfiguration` sends it the writes of the objects labelled
//! [`LABEL`] (so it judges only this test's objects), removed again when the guard drops.

use std::time::{Duration, Instant};

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use serde_json::Value;
use test_apiserver::{AdmissionRule, AdmissionWebhook};

use super::{real_client, TestCluster};

/// The label an object needs for a real server's webhook to judge it.
pub const LABEL: (&str, &str) = ("ocp-bootimage.test/admission", "judged");

const CONFIG_NAME: &str = "ocp-bootimage-test-admission";

/// Labels `objects` of `kind` with [`LABEL`] (before they are loaded).
pub fn judged(mut objects: Vec<Value>, kind: &str) -> Vec<Value> {
    for o in objects.iter_mut().filter(|o| o["kind"] == kind) {
        o["metadata"]["labels"][LABEL.0] = Value::String(LABEL.1.into());
    }
    objects
}

/// Keeps the rule in force; on a real server removes the configuration when dropped.
pub struct Admission<'a> {
    cluster: &'a TestCluster,
    _webhook: Option<AdmissionWebhook>,
}

fn api(
    cluster: &TestCluster,
) -> Option<(
    tokio::runtime::Runtime,
    kube::Api<ValidatingWebhookConfiguration>,
)> {
    match cluster {
        TestCluster::InProcess(_) => None,
        TestCluster::Real { kubeconfig, .. } => {
            let (rt, client) = real_client(kubeconfig);
            Some((rt, kube::Api::all(client)))
        }
    }
}

impl TestCluster {
    /// Puts `rule` in force for the objects labelled [`LABEL`]; `probe` is a write the
    /// rule denies (a dry run of it is retried until the real server's webhook answers).
    pub fn admission(&self, rule: AdmissionRule, probe: &dyn Fn() -> bool) -> Admission<'_> {
        let webhook = match self {
            TestCluster::InProcess(s) => {
                s.admission_rule(rule);
                None
            }
            TestCluster::Real { .. } => {
                let (group, version) = ("machine.openshift.io", "v1beta1");
                let resource = format!("{}s", rule.kind.to_lowercase());
                let name = rule.webhook.clone();
                let webhook = AdmissionWebhook::start(vec![rule]).unwrap();
                let config =
                    webhook.configuration(CONFIG_NAME, &name, (group, version, &resource), LABEL);
                let (rt, api) = api(self).unwrap();
                let _ = rt.block_on(api.delete(CONFIG_NAME, &Default::default()));
                let config: ValidatingWebhookConfiguration =
                    serde_json::from_value(config).unwrap();
                rt.block_on(api.create(&Default::default(), &config))
                    .unwrap();
                Some(webhook)
            }
        };
        // The API server picks a new configuration up within a second or so.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !probe() {
            assert!(
                Instant::now() < deadline,
                "the admission rule never took effect"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Admission {
            cluster: self,
            _webhook: webhook,
        }
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        match self.cluster {
            TestCluster::InProcess(s) => s.clear_admission_rules(),
            TestCluster::Real { .. } => {
                if let Some((rt, api)) = api(self.cluster) {
                    let _ = rt.block_on(api.delete(CONFIG_NAME, &Default::default()));
                }
            }
        }
    }
}
