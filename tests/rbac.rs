//! The shipped least-privilege RBAC (`deploy/rbac.yaml`) against a real API server
//! (`OCP_BOOTIMAGE_TEST_KUBECONFIG`, admin credentials; without it: SKIP).
//!
//! 1. With the shipped roles, the audit (as `ocp-bootimage-audit` and as `ocp-bootimage`,
//!    with `nodes: true`, and every mutating module in check mode as the audit account) and
//!    the whole update sequence — autoscaling paused → stub_ignition → machineset_bootimage
//!    → autoscaling resumed → rollback — succeed as the ServiceAccount (impersonated with
//!    the admin credentials: a bare API server runs no token controller); the rollback
//!    returns the cluster to its start.
//! 2. Every rule of every Role/ClusterRole is removed in turn (patched as admin, waited for
//!    with a SubjectAccessReview): the sequence that needs it fails with a clear 403 message
//!    naming the missing verb and resource, and nothing is left half-done: before the
//!    first write the cluster equals the start; after it, the rollback record holds what was
//!    written (an admin rollback of the run restores the start exactly).
//!    The sequence covers every rule: `machineset_bootimage` runs with
//!    `include_control_plane` (a ControlPlaneMachineSet under OnDelete is loaded), and the
//!    canary runs in check mode, where it asks the authorizer for `patch` on machines.
//! 3. The canary for real as the update account, with a stand-in machine controller (the
//!    test creates the Machine when the MachineSet grows and deletes the one marked
//!    `delete-machine` when it shrinks): it scales up, marks its Machine, times out waiting
//!    for a node (a bare API server has no kubelet) and scales back — every write it makes
//!    is allowed by the shipped role.
//! 4. (`secrets_beyond_the_user_data_are_forbidden`) Least privilege for Secrets, with real
//!    impersonated requests: both accounts get 403 on `get`, `list`, `patch` and `delete` of
//!    the cloud credentials `openshift-machine-api/aws-cloud-credentials` (and on `create` of
//!    a Secret there); the audit account gets 403 on the rollback records' namespace
//!    `ocp-bootimage` — while both may still read the user-data secrets by name.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{assert_cluster_equals, objects_under, root, run_module, TestCluster};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{json, Value};

const NS: &str = "openshift-machine-api";
const SA_UPDATE: &str = "system:serviceaccount:openshift-machine-api:ocp-bootimage";
const SA_AUDIT: &str = "system:serviceaccount:openshift-machine-api:ocp-bootimage-audit";
const RECORD: &str = "ocp-bootimage-rollback";
/// The namespace of the rollback records and the run lock (deploy/rbac.yaml creates it).
const RECORD_NS: &str = "ocp-bootimage";
/// A cloud credentials Secret of the kind the Machine API keeps next to the user-data secrets.
const CLOUD_CREDENTIALS: &str = "aws-cloud-credentials";

/// Rules no step of the sequence needs, with why (checked: removing them changes
/// nothing). None: every rule is exercised.
const NOT_EXERCISED: &[(&str, &str, &str)] = &[];

/// The MachineSet the canary scales (2 replicas, no MachineAutoscaler).
const CANARY_MS: &str = "build09-kcxpl-worker-us-east-1a";

fn admin(kubeconfig: &Path) -> (tokio::runtime::Runtime, kube::Client) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = rt.block_on(async {
        let kc = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap();
        kube::Client::try_from(cfg).unwrap()
    });
    (rt, client)
}

fn resource(kind: &str) -> (ApiResource, bool) {
    let (group, plural, namespaced) = match kind {
        "Namespace" => ("", "namespaces", false),
        "ServiceAccount" => ("", "serviceaccounts", true),
        "Role" => ("rbac.authorization.k8s.io", "roles", true),
        "RoleBinding" => ("rbac.authorization.k8s.io", "rolebindings", true),
        "ClusterRole" => ("rbac.authorization.k8s.io", "clusterroles", false),
        "ClusterRoleBinding" => ("rbac.authorization.k8s.io", "clusterrolebindings", false),
        "Secret" => ("", "secrets", true),
        "Lease" => ("coordination.k8s.io", "leases", true),
        other => panic!("unexpected kind {other} in deploy/rbac.yaml"),
    };
    let api_version = if group.is_empty() {
        "v1".to_string()
    } else {
        format!("{group}/v1")
    };
    (
        ApiResource {
            group: group.into(),
            version: "v1".into(),
            api_version,
            kind: kind.into(),
            plural: plural.into(),
        },
        namespaced,
    )
}

fn api_for(client: &kube::Client, kind: &str, ns: Option<&str>) -> Api<DynamicObject> {
    let (ar, namespaced) = resource(kind);
    if namespaced {
        Api::namespaced_with(client.clone(), ns.unwrap_or(NS), &ar)
    } else {
        Api::all_with(client.clone(), &ar)
    }
}

/// The objects of deploy/rbac.yaml.
fn rbac_objects() -> Vec<Value> {
    objects_of("deploy/rbac.yaml")
}

/// The objects of a manifest of this repository.
fn objects_of(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .filter_map(|d| {
            let v: Value = serde::Deserialize::deserialize(d).unwrap();
            (!v.is_null()).then_some(v)
        })
        .collect()
}

/// The rules of `objects` on Secrets, with the Role that holds them.
fn secret_rules(objects: &[Value]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for role in objects
        .iter()
        .filter(|o| o["kind"] == "Role" || o["kind"] == "ClusterRole")
    {
        let label = format!(
            "{} {}/{}",
            role["kind"].as_str().unwrap(),
            role["metadata"]["namespace"].as_str().unwrap_or("-"),
            role["metadata"]["name"].as_str().unwrap()
        );
        for rule in role["rules"].as_array().unwrap() {
            let resources = rule["resources"].as_array().unwrap();
            if resources.iter().any(|r| r == "secrets" || r == "*") {
                out.push((label.clone(), rule.clone()));
            }
        }
    }
    out
}

/// Without a server: in the MachineSet namespace every rule on Secrets names its Secrets (the
/// cloud credentials live there) and none lists or watches them; no ClusterRole touches
/// Secrets; `create` there is only in the opt-in deploy/rbac-create-new.yaml; only the
/// update account is bound in the records' namespace.
#[test]
fn secret_rules_name_their_secrets() {
    let shipped = rbac_objects();
    let opt_in = objects_of("deploy/rbac-create-new.yaml");
    for (file, objects) in [("rbac.yaml", &shipped), ("rbac-create-new.yaml", &opt_in)] {
        for (role, rule) in secret_rules(objects) {
            let verbs = rule_verbs(&rule);
            assert!(!role.starts_with("ClusterRole"), "{file}: {role}: {rule}");
            if !role.contains(&format!(" {NS}/")) {
                continue;
            }
            for bad in ["list", "watch", "deletecollection", "*"] {
                assert!(!verbs.contains(&bad), "{file}: {role}: {rule}");
            }
            if verbs == ["create"] {
                assert_eq!(file, "rbac-create-new.yaml", "{role}: {rule}");
            } else {
                let names = rule["resourceNames"].as_array().map_or(0, Vec::len);
                assert!(names > 0, "{file}: {role}: unnamed Secrets: {rule}");
            }
        }
    }
    let bound_in_records: Vec<&Value> = shipped
        .iter()
        .filter(|o| o["kind"] == "RoleBinding" && o["metadata"]["namespace"] == RECORD_NS)
        .flat_map(|b| b["subjects"].as_array().unwrap())
        .collect();
    assert!(!bound_in_records.is_empty());
    for s in bound_in_records {
        assert_eq!(s["name"], "ocp-bootimage", "only the update account: {s}");
    }
    assert!(shipped
        .iter()
        .any(|o| o["kind"] == "Namespace" && o["metadata"]["name"] == RECORD_NS));
}

/// The opt-in deploy/rbac-vsphere-creds.yaml (`vcenter_credentials_from_cluster`) grants
/// exactly `get` of the one Secret `kube-system/vsphere-creds`, to the update account only.
#[test]
fn the_vsphere_creds_opt_in_reads_one_secret_only() {
    let objects = objects_of("deploy/rbac-vsphere-creds.yaml");
    let roles: Vec<&Value> = objects.iter().filter(|o| o["kind"] == "Role").collect();
    assert_eq!(roles.len(), 1);
    assert!(objects
        .iter()
        .all(|o| o["kind"] != "ClusterRole" && o["kind"] != "ClusterRoleBinding"));
    let rules = roles[0]["rules"].as_array().unwrap();
    assert_eq!(roles[0]["metadata"]["namespace"], "kube-system");
    assert_eq!(
        rules,
        &vec![json!({"apiGroups": [""], "resources": ["secrets"],
                     "resourceNames": ["vsphere-creds"], "verbs": ["get"]})]
    );
    let subjects: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "RoleBinding")
        .flat_map(|b| b["subjects"].as_array().unwrap())
        .collect();
    assert_eq!(subjects.len(), 1);
    assert_eq!(
        subjects[0]["name"], "ocp-bootimage",
        "only the update account"
    );
}

/// Creates (or replaces) the RBAC objects as admin, deletes them on drop.
struct Rbac<'a> {
    rt: &'a tokio::runtime::Runtime,
    client: kube::Client,
    objects: Vec<Value>,
}

impl<'a> Rbac<'a> {
    fn apply(rt: &'a tokio::runtime::Runtime, client: kube::Client) -> Self {
        Rbac::apply_objects(rt, client, rbac_objects())
    }

    fn apply_objects(
        rt: &'a tokio::runtime::Runtime,
        client: kube::Client,
        objects: Vec<Value>,
    ) -> Self {
        for o in &objects {
            let api = api_for(
                &client,
                o["kind"].as_str().unwrap(),
                o["metadata"]["namespace"].as_str(),
            );
            let name = o["metadata"]["name"].as_str().unwrap();
            let d: DynamicObject = serde_json::from_value(o.clone()).unwrap();
            match rt.block_on(api.create(&PostParams::default(), &d)) {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 409 => {
                    rt.block_on(api.patch(name, &PatchParams::default(), &Patch::Merge(o)))
                        .unwrap();
                }
                Err(e) => panic!("creating {name}: {e}"),
            }
        }
        Rbac {
            rt,
            client,
            objects,
        }
    }

    fn api(&self, o: &Value) -> Api<DynamicObject> {
        api_for(
            &self.client,
            o["kind"].as_str().unwrap(),
            o["metadata"]["namespace"].as_str(),
        )
    }

    fn set_rules(&self, role: &Value, rules: &[Value]) {
        let name = role["metadata"]["name"].as_str().unwrap();
        self.rt
            .block_on(self.api(role).patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"rules": rules})),
            ))
            .unwrap();
    }

    /// Waits until the authorizer answers `allowed` for `rule` (its first verb) as `user`.
    fn wait_for(&self, user: &str, ns: Option<&str>, rule: &Value, allowed: bool) {
        let sar_ar = ApiResource {
            group: "authorization.k8s.io".into(),
            version: "v1".into(),
            api_version: "authorization.k8s.io/v1".into(),
            kind: "SubjectAccessReview".into(),
            plural: "subjectaccessreviews".into(),
        };
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &sar_ar);
        let res = rule["resources"][0].as_str().unwrap();
        let (resource, sub) = res.split_once('/').unwrap_or((res, ""));
        let mut attrs = json!({
            "group": rule["apiGroups"][0],
            "resource": resource,
            "subresource": sub,
            "verb": rule["verbs"][0],
        });
        if let Some(ns) = ns {
            attrs["namespace"] = json!(ns);
        }
        if let Some(n) = rule["resourceNames"][0].as_str() {
            attrs["name"] = json!(n);
        }
        let body: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "metadata": {},
            "spec": {"user": user, "groups": groups(), "resourceAttributes": attrs},
        }))
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let r = self
                .rt
                .block_on(api.create(&PostParams::default(), &body))
                .unwrap();
            if r.data["status"]["allowed"].as_bool().unwrap_or(false) == allowed {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the authorizer never saw {rule} (allowed={allowed})"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Deletes (as the admin) every record the tool wrote: the runs' Secrets in
    /// `ocp-bootimage`, a v1 record in the MachineSet namespace, and the run lock Lease
    /// a failed step may have left; waits until they are gone.
    fn delete_record(&self) {
        let secrets = api_for(&self.client, "Secret", Some(RECORD_NS));
        let lp =
            kube::api::ListParams::default().labels("app.kubernetes.io/managed-by=ocp-bootimage");
        let runs = |lp: &kube::api::ListParams| {
            self.rt
                .block_on(secrets.list(lp))
                .unwrap()
                .items
                .into_iter()
                .filter_map(|s| s.metadata.name)
        };
        for name in runs(&lp) {
            let _ = self
                .rt
                .block_on(secrets.delete(&name, &DeleteParams::default()));
        }
        let v1 = api_for(&self.client, "Secret", Some(NS));
        let _ = self
            .rt
            .block_on(v1.delete(RECORD, &DeleteParams::default()));
        let leases = api_for(&self.client, "Lease", Some(RECORD_NS));
        let _ = self
            .rt
            .block_on(leases.delete(RECORD, &DeleteParams::default()));
        for _ in 0..100 {
            let gone = runs(&lp).next().is_none()
                && self.rt.block_on(v1.get_opt(RECORD)).unwrap().is_none()
                && self.rt.block_on(leases.get_opt(RECORD)).unwrap().is_none();
            if gone {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the rollback record was not deleted");
    }
}

impl Drop for Rbac<'_> {
    /// Deletes every object but the Namespace: with no controller manager (the bare test
    /// API server) a deleted namespace stays `Terminating` for ever, and the next run could
    /// not create its Role there.
    fn drop(&mut self) {
        for o in self
            .objects
            .iter()
            .rev()
            .filter(|o| o["kind"] != "Namespace")
        {
            let name = o["metadata"]["name"].as_str().unwrap();
            let _ = self
                .rt
                .block_on(self.api(o).delete(name, &DeleteParams::default()));
        }
    }
}

/// Runs `bootimage_canary` for real as the update account while a thread plays the
/// machine controller for [`CANARY_MS`]; asserts the scale-up, the `delete-machine` mark
/// on the canary Machine and the scale-back all went through.
fn canary_with_a_stand_in_machine_controller(kc: &Path) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let stop = Arc::new(AtomicBool::new(false));
    let kc_owned = kc.to_path_buf();
    let stop_flag = stop.clone();
    // (created Machine, whether it carried the mark when deleted)
    let controller = std::thread::spawn(move || -> Vec<(String, bool)> {
        let (rt, client) = admin(&kc_owned);
        let ms_ar = ApiResource {
            group: "machine.openshift.io".into(),
            version: "v1beta1".into(),
            api_version: "machine.openshift.io/v1beta1".into(),
            kind: "MachineSet".into(),
            plural: "machinesets".into(),
        };
        let m_ar = ApiResource {
            kind: "Machine".into(),
            plural: "machines".into(),
            ..ms_ar.clone()
        };
        let sets: Api<DynamicObject> = Api::namespaced_with(client.clone(), NS, &ms_ar);
        let machines: Api<DynamicObject> = Api::namespaced_with(client, NS, &m_ar);
        let label = format!("machine.openshift.io/cluster-api-machineset={CANARY_MS}");
        let mut seen = Vec::new();
        while !stop_flag.load(Ordering::SeqCst) {
            let ms = rt.block_on(sets.get(CANARY_MS)).unwrap();
            let want = ms.data["spec"]["replicas"].as_i64().unwrap_or(0);
            let lp = kube::api::ListParams::default().labels(&label);
            let have = rt.block_on(machines.list(&lp)).unwrap().items;
            if (have.len() as i64) < want {
                let name = format!("{CANARY_MS}-canary-{}", seen.len());
                let m: DynamicObject = serde_json::from_value(json!({
                    "apiVersion": "machine.openshift.io/v1beta1", "kind": "Machine",
                    "metadata": {"name": name, "namespace": NS,
                                 "labels": {"machine.openshift.io/cluster-api-machineset": CANARY_MS}},
                    "spec": {}
                }))
                .unwrap();
                rt.block_on(machines.create(&PostParams::default(), &m))
                    .unwrap();
                seen.push((name, false));
            } else if (have.len() as i64) > want {
                let marked = have.iter().find(|m| {
                    m.metadata
                        .annotations
                        .as_ref()
                        .is_some_and(|a| a.contains_key("machine.openshift.io/delete-machine"))
                });
                let victim = marked.or_else(|| have.last()).unwrap();
                let name = victim.metadata.name.clone().unwrap();
                rt.block_on(machines.delete(&name, &DeleteParams::default()))
                    .unwrap();
                if let Some(s) = seen.iter_mut().find(|(n, _)| *n == name) {
                    s.1 = marked.is_some();
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        seen
    });
    let r = run_module(
        "bootimage_canary",
        &as_sa(
            SA_UPDATE,
            kc,
            json!({"machineset": CANARY_MS, "run_id": "rbac-canary", "timeout": 3, "poll_interval": 1}),
        ),
    );
    // Let the stand-in controller remove the canary after the scale-back.
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::SeqCst);
    let seen = controller.join().unwrap();
    let msg = r.json["msg"].as_str().unwrap_or_default();
    assert_eq!(r.json["failed"], true, "{}", r.stdout);
    assert!(
        msg.contains("timed out after 3s waiting for a node for Machine"),
        "the canary should time out waiting for a node (no kubelet here): {}",
        r.stdout
    );
    assert_eq!(r.json["restored"], true, "{}", r.stdout);
    assert!(
        !r.stdout.contains("could not mark") && !r.stdout.contains("forbidden"),
        "{}",
        r.stdout
    );
    assert_eq!(
        seen,
        vec![(format!("{CANARY_MS}-canary-0"), true)],
        "one canary Machine, marked delete-machine before the scale-back removed it"
    );
    eprintln!("canary as the update account: scaled up, marked its Machine, timed out (no kubelet), scaled back");
}

/// A client acting as the ServiceAccount `user` (impersonated with the admin credentials).
fn client_as(rt: &tokio::runtime::Runtime, kubeconfig: &Path, user: &str) -> kube::Client {
    rt.block_on(async {
        let kc = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
        let mut cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap();
        cfg.auth_info.impersonate = Some(user.to_string());
        cfg.auth_info.impersonate_groups = Some(
            groups()
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g.as_str().unwrap().to_string())
                .collect(),
        );
        kube::Client::try_from(cfg).unwrap()
    })
}

/// Asserts that a request was refused by the authorizer (403), not answered.
fn assert_forbidden<T: std::fmt::Debug>(r: Result<T, kube::Error>, what: &str) {
    match r {
        Err(kube::Error::Api(e)) if e.code == 403 => {}
        other => panic!("{what}: expected 403 Forbidden, got {other:?}"),
    }
}

fn secret_object(ns: &str, name: &str, data: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": name, "namespace": ns}, "data": data,
    }))
    .unwrap()
}

/// The real API server's admin kubeconfig, or None with a SKIP message: these tests
/// need a real authorizer.
fn admin_kubeconfig() -> Option<std::path::PathBuf> {
    let kc = common::real_kubeconfig();
    if kc.is_none() {
        eprintln!("SKIP: OCP_BOOTIMAGE_TEST_KUBECONFIG is not set (a real API server with admin credentials)");
    }
    kc
}

/// Part 4: neither account may touch the cloud credentials next to the user-data secrets, nor
/// list Secrets there; the audit account cannot see the rollback records (they hold old
/// user data). Real impersonated requests; positive controls show the impersonation works.
#[test]
fn secrets_beyond_the_user_data_are_forbidden() {
    let Some(kc) = admin_kubeconfig() else {
        return;
    };
    let mut c = TestCluster::start();
    let mut objects = objects_under(&root().join("examples/cluster-dump"));
    // base64 of "AKIAEXAMPLE" / "not-a-real-secret"
    let credentials = json!({"aws_access_key_id": "QUtJQUVYQU1QTEU=",
                             "aws_secret_access_key": "bm90LWEtcmVhbC1zZWNyZXQ="});
    objects.push(serde_json::to_value(secret_object(NS, CLOUD_CREDENTIALS, credentials)).unwrap());
    c.load(&objects);
    let (rt, admin_client) = admin(&kc);
    let rbac = Rbac::apply(&rt, admin_client.clone());
    // Wait until the authorizer sees the shipped roles (the user-data rule, the record Role).
    let roles: Vec<&Value> = rbac
        .objects
        .iter()
        .filter(|o| o["kind"] == "Role")
        .collect();
    let rule_of = |ns: &str, name: &str, resource: &str| -> Value {
        roles
            .iter()
            .find(|r| r["metadata"]["namespace"] == ns && r["metadata"]["name"] == name)
            .and_then(|r| {
                r["rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|rule| rule["resources"][0] == resource)
                    .cloned()
            })
            .unwrap_or_else(|| panic!("no {resource} rule in Role {ns}/{name}"))
    };
    let user_data_rule = rule_of(NS, "ocp-bootimage-audit", "secrets");
    rbac.wait_for(SA_AUDIT, Some(NS), &user_data_rule, true);
    let record_rule = rule_of(RECORD_NS, "ocp-bootimage-update", "secrets");
    rbac.wait_for(SA_UPDATE, Some(RECORD_NS), &record_rule, true);

    let secrets = |client: &kube::Client, ns: &str| api_for(client, "Secret", Some(ns));
    let original = rt
        .block_on(secrets(&admin_client, NS).get(CLOUD_CREDENTIALS))
        .unwrap();
    for (user, label) in [(SA_AUDIT, "audit account"), (SA_UPDATE, "update account")] {
        let client = client_as(&rt, &kc, user);
        let api = secrets(&client, NS);
        let what = |verb: &str| format!("{label}: {verb} secret {NS}/{CLOUD_CREDENTIALS}");
        assert_forbidden(rt.block_on(api.get(CLOUD_CREDENTIALS)), &what("get"));
        assert_forbidden(
            rt.block_on(api.list(&Default::default())),
            &format!("{label}: list secrets in {NS}"),
        );
        let label_it = Patch::Merge(json!({"metadata": {"labels": {"touched": "yes"}}}));
        assert_forbidden(
            rt.block_on(api.patch(CLOUD_CREDENTIALS, &PatchParams::default(), &label_it)),
            &what("patch"),
        );
        assert_forbidden(
            rt.block_on(api.delete(CLOUD_CREDENTIALS, &DeleteParams::default())),
            &what("delete"),
        );
        // Nor create a Secret there (only deploy/rbac-create-new.yaml grants that).
        let probe = secret_object(NS, "ocp-bootimage-probe", json!({}));
        assert_forbidden(
            rt.block_on(api.create(&PostParams::default(), &probe)),
            &format!("{label}: create a secret in {NS}"),
        );
        // Positive control: the user-data secrets stay readable by name.
        let stub = rt.block_on(api.get("worker-user-data"));
        assert!(stub.is_ok(), "{label}: get worker-user-data: {stub:?}");
    }
    // The audit account: no access at all to the records' namespace.
    let audit = client_as(&rt, &kc, SA_AUDIT);
    assert_forbidden(
        rt.block_on(secrets(&audit, RECORD_NS).list(&Default::default())),
        &format!("audit account: list secrets in {RECORD_NS}"),
    );
    assert_forbidden(
        rt.block_on(secrets(&audit, RECORD_NS).get(RECORD)),
        &format!("audit account: get secret {RECORD_NS}/{RECORD}"),
    );
    // Positive control: the update account lists the records there.
    let update = client_as(&rt, &kc, SA_UPDATE);
    let listed = rt.block_on(secrets(&update, RECORD_NS).list(&Default::default()));
    assert!(
        listed.is_ok(),
        "update account: list secrets in {RECORD_NS}: {listed:?}"
    );
    // Nothing the accounts tried changed the credentials.
    let after = rt
        .block_on(secrets(&admin_client, NS).get(CLOUD_CREDENTIALS))
        .unwrap();
    assert_eq!(
        after.metadata.resource_version, original.metadata.resource_version,
        "the cloud credentials were changed"
    );
    eprintln!(
        "cloud credentials: 403 on get/list/patch/delete (and create in {NS}) for both accounts; audit account: 403 on secrets in {RECORD_NS}"
    );
}

/// The verbs of an RBAC rule.
fn rule_verbs(rule: &Value) -> Vec<&str> {
    rule["verbs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

/// Whether `text` is a clear 403: it says forbidden and names the resource (without a
/// subresource) and one of the verbs.
fn names_the_403(text: &str, resource: &str, verbs: &[&str]) -> bool {
    text.contains("forbidden")
        && text.contains(resource.split('/').next().unwrap())
        && verbs
            .iter()
            .any(|v| text.contains(&format!("`{v}`")) || text.contains(&format!("cannot {v} ")))
}

fn groups() -> Value {
    json!([
        "system:serviceaccounts",
        "system:serviceaccounts:openshift-machine-api",
        "system:authenticated"
    ])
}

fn as_sa(user: &str, kc: &Path, mut args: Value) -> Value {
    args["kubeconfig"] = json!(kc);
    args["impersonate_user"] = json!(user);
    args["impersonate_groups"] = groups();
    args
}

/// The steps, in order: (module, extra args, user).
fn sequence(run_id: &str) -> Vec<(&'static str, Value, &'static str)> {
    vec![
        (
            "bootimage_info",
            json!({"nodes": true, "fail_on_noncompliant": false}),
            SA_AUDIT,
        ),
        ("mcs_cert_info", json!({}), SA_AUDIT),
        (
            "autoscaling",
            json!({"state": "paused", "run_id": run_id}),
            SA_UPDATE,
        ),
        ("stub_ignition", json!({"run_id": run_id}), SA_UPDATE),
        (
            "machineset_bootimage",
            json!({"run_id": run_id, "include_control_plane": true}),
            SA_UPDATE,
        ),
        (
            "bootimage_canary",
            json!({"run_id": run_id, "machineset": CANARY_MS, "_ansible_check_mode": true}),
            SA_UPDATE,
        ),
        ("skew_enforcement", json!({"run_id": run_id}), SA_UPDATE),
        (
            "autoscaling",
            json!({"state": "resumed", "run_id": run_id}),
            SA_UPDATE,
        ),
        ("rollback", json!({"run_id": run_id}), SA_UPDATE),
    ]
}

#[test]
fn shipped_rbac_suffices_and_every_rule_is_needed() {
    let Some(kc) = admin_kubeconfig() else {
        return;
    };
    let t0 = Instant::now();
    let mut c = TestCluster::start();
    let mut objects = objects_under(&root().join("examples/cluster-dump"));
    objects.push(common::cpms("OnDelete"));
    // A 4.22-shaped MachineConfiguration, so skew_enforcement has a record to patch.
    for o in &mut objects {
        if o["kind"] == "MachineConfiguration" {
            o["spec"]["bootImageSkewEnforcement"] =
                json!({"mode": "Manual", "manual": {"mode": "OCPVersion", "ocpVersion": "4.22.0"}});
        }
    }
    c.load(&objects);
    let start = c.read_back(&objects);
    let (rt, client) = admin(&kc);
    let rbac = Rbac::apply(&rt, client);
    rbac.delete_record();

    // 1. The shipped roles suffice.
    for (user, label) in [(SA_AUDIT, "audit account"), (SA_UPDATE, "update account")] {
        let r = run_module("bootimage_info", &as_sa(user, &kc, json!({"nodes": true})));
        assert_eq!(
            r.json["failed"], false,
            "audit as the {label}: {}",
            r.stdout
        );
        assert_eq!(r.json["machinesets"].as_array().unwrap().len(), 4);
    }
    for (module, extra) in [
        ("autoscaling", json!({"state": "paused"})),
        ("stub_ignition", json!({})),
        ("mcs_cert_info", json!({})),
        ("skew_enforcement", json!({})),
        ("machineset_bootimage", json!({})),
    ] {
        let mut a = as_sa(SA_AUDIT, &kc, extra);
        a["_ansible_check_mode"] = json!(true);
        let r = run_module(module, &a);
        assert_eq!(
            r.json["failed"], false,
            "{module} --check as the audit account: {}",
            r.stdout
        );
    }
    // The audit account cannot write.
    let r = run_module(
        "autoscaling",
        &as_sa(
            SA_AUDIT,
            &kc,
            json!({"state": "paused", "run_id": "audit-write"}),
        ),
    );
    assert_eq!(r.json["failed"], true, "{}", r.stdout);
    assert!(
        r.json["msg"].as_str().unwrap().contains("forbidden"),
        "{}",
        r.stdout
    );
    assert_cluster_equals(&c, &start);
    rbac.delete_record();

    for (module, extra, user) in sequence("rbac-ok") {
        let r = run_module(module, &as_sa(user, &kc, extra));
        assert_eq!(r.json["failed"], false, "{module} as {user}: {}", r.stdout);
        if !["bootimage_info", "mcs_cert_info", "rollback"].contains(&module) {
            assert_eq!(r.json["changed"], true, "{module}: {}", r.stdout);
        }
        if module == "machineset_bootimage" {
            let cp = r.json["machinesets"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["kind"] == "ControlPlaneMachineSet")
                .cloned();
            assert_eq!(
                cp.as_ref().map(|m| m["changed"].clone()),
                Some(json!(true)),
                "the ControlPlaneMachineSet was not swapped: {}",
                r.stdout
            );
        }
    }
    assert_cluster_equals(&c, &start);
    eprintln!("shipped roles: audit and full update sequence OK as the ServiceAccounts");

    // 3. The canary's real writes as the update account.
    canary_with_a_stand_in_machine_controller(&kc);
    assert_cluster_equals(&c, &start);
    rbac.delete_record();

    // 2. Each rule removed in turn.
    let roles: Vec<Value> = rbac
        .objects
        .iter()
        .filter(|o| o["kind"] == "Role" || o["kind"] == "ClusterRole")
        .cloned()
        .collect();
    let (mut proved, mut skipped, mut degraded) = (0, Vec::new(), Vec::<String>::new());
    for role in &roles {
        let role_name = role["metadata"]["name"].as_str().unwrap();
        let role_ns = role["metadata"]["namespace"].as_str();
        let rules = role["rules"].as_array().unwrap().clone();
        for (i, rule) in rules.iter().enumerate() {
            let resource = rule["resources"][0].as_str().unwrap();
            let verbs = rule_verbs(rule);
            let label = format!(
                "{} {}/{} rule {i} ({:?} {resource})",
                role["kind"].as_str().unwrap(),
                role_ns.unwrap_or("-"),
                role_name,
                verbs
            );
            // Does another rule of the same role grant the same (resource, verb)? Then
            // removing this one cannot fail anything (not the case in the shipped file).
            let mut without = rules.clone();
            without.remove(i);
            rbac.set_rules(role, &without);
            let user = if role_name.contains("update") {
                SA_UPDATE
            } else {
                SA_AUDIT
            };
            rbac.wait_for(user, role_ns, rule, false);
            rbac.delete_record();

            let run_id = format!("rbac-{role_name}-{}-{i}", role_ns.unwrap_or("cluster"));
            let mut failure: Option<(String, Value, usize)> = None;
            let mut wrote = false;
            // Steps that went on with the missing permission reported as a warning.
            let mut warned: Vec<(String, String, bool)> = Vec::new();
            let clear = |text: &str| names_the_403(text, resource, &verbs);
            for (step_no, (module, extra, user)) in sequence(&run_id).into_iter().enumerate() {
                let r = run_module(module, &as_sa(user, &kc, extra));
                if r.json["failed"] == true {
                    failure = Some((module.to_string(), r.json, step_no));
                    break;
                }
                let changed = r.json["changed"] == true && module != "bootimage_info";
                wrote |= changed;
                if let Some(w) = r.json["warnings"]
                    .as_array()
                    .and_then(|ws| ws.iter().filter_map(Value::as_str).find(|w| clear(w)))
                {
                    warned.push((module.to_string(), w.to_string(), changed));
                }
            }
            match failure {
                None if !warned.is_empty() => {
                    // The missing read degraded the run to a warning naming the 403; the
                    // sequence (which ends with the rollback) left the start in place.
                    assert_cluster_equals(&c, &start);
                    let wrote_anyway: Vec<&str> = warned
                        .iter()
                        .filter(|(_, _, changed)| *changed)
                        .map(|(m, _, _)| m.as_str())
                        .collect();
                    degraded.push(format!(
                        "{label}: no step failed; warning in {} → {}{}",
                        warned
                            .iter()
                            .map(|(m, _, _)| m.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        warned[0].1,
                        if wrote_anyway.is_empty() {
                            String::new()
                        } else {
                            format!(" — and these steps WROTE despite it: {wrote_anyway:?}")
                        }
                    ));
                }
                None => {
                    let why = NOT_EXERCISED
                        .iter()
                        .find(|(r, res, _)| *r == role_name && *res == resource)
                        .map(|(_, _, why)| *why)
                        .unwrap_or_else(|| {
                            panic!("{label}: removed, yet the whole sequence succeeded without a word about it")
                        });
                    skipped.push(format!("{label}: not exercised ({why})"));
                    assert_cluster_equals(&c, &start);
                }
                Some((module, out, _)) => {
                    let msg = out["msg"].as_str().unwrap_or_default().to_string();
                    assert!(
                        clear(&msg),
                        "{label}: {module} did not fail with a clear 403 naming the verb and resource: {msg}"
                    );
                    if !wrote {
                        // Nothing was written before the failing step: nothing changed.
                        assert_cluster_equals(&c, &start);
                    }
                    // Whatever was written is in the record: an admin rollback restores the start.
                    // (A run that wrote nothing has no entry: then the start must be intact.)
                    let rb = run_module("rollback", &json!({"kubeconfig": kc, "run_id": run_id}));
                    let rb_msg = rb.json["msg"].as_str().unwrap_or_default();
                    if rb.json["failed"] == true && rb_msg.contains("is not in the rollback record")
                    {
                        assert!(
                            !wrote,
                            "{label}: steps wrote but the record has no entry: {rb_msg}"
                        );
                    } else {
                        assert_eq!(
                            rb.json["failed"], false,
                            "{label}: admin rollback: {}",
                            rb.stdout
                        );
                        assert_eq!(rb.json["conflicts"], 0, "{label}: {}", rb.stdout);
                    }
                    assert_cluster_equals(&c, &start);
                    eprintln!("{label}: {module} → {msg}");
                    proved += 1;
                }
            }
            rbac.set_rules(role, &rules);
            rbac.wait_for(user, role_ns, rule, true);
        }
    }
    rbac.delete_record();
    for s in skipped.iter().chain(&degraded) {
        eprintln!("{s}");
    }
    eprintln!(
        "{proved} rules proven needed (the step fails with a clear 403, no partial change), {} \
         degrade to a warning naming the 403, {} not exercised by the sequence; {:?}",
        degraded.len(),
        skipped.len(),
        t0.elapsed()
    );
    assert!(skipped.len() <= NOT_EXERCISED.len());
}

/// Without a server: the opt-in deploy/rbac-mcs-certificate.yaml is for the update account
/// only, in the MCO namespace (and kube-system's root-ca): no ClusterRole, no list or watch
/// of Secrets, every Secret rule but `create` names its Secrets.
#[test]
fn the_mcs_certificate_opt_in_is_narrow() {
    let objects = objects_of("deploy/rbac-mcs-certificate.yaml");
    assert!(objects
        .iter()
        .all(|o| o["kind"] != "ClusterRole" && o["kind"] != "ClusterRoleBinding"));
    for o in objects.iter().filter(|o| o["kind"] == "Role") {
        let ns = o["metadata"]["namespace"].as_str().unwrap();
        assert!(
            ns == "openshift-machine-config-operator" || ns == "kube-system",
            "{o}"
        );
    }
    for (role, rule) in secret_rules(&objects) {
        let verbs = rule_verbs(&rule);
        for bad in ["list", "watch", "deletecollection", "*"] {
            assert!(!verbs.contains(&bad), "{role}: {rule}");
        }
        if verbs != ["create"] {
            assert!(
                rule["resourceNames"]
                    .as_array()
                    .is_some_and(|n| !n.is_empty()),
                "{role}: {rule}"
            );
        }
    }
    for b in objects.iter().filter(|o| o["kind"] == "RoleBinding") {
        for s in b["subjects"].as_array().unwrap() {
            assert_eq!(s["name"], "ocp-bootimage", "only the update account: {s}");
        }
    }
}

/// The MCS objects a run may change, as stored (what a rollback must give back).
fn mcs_state(c: &TestCluster) -> Vec<Option<Value>> {
    use common::legacy_mcs::{MAPI, MCO};
    let content = |o: Value| json!({"type": o["type"], "data": o["data"]});
    let mut out = vec![
        c.get("Secret", Some(MCO), "machine-config-server-tls")
            .map(content),
        c.get("Secret", Some(MCO), "machine-config-server-ca")
            .map(content),
        c.get("Secret", Some(MCO), "machine-config-server-tls-backup")
            .map(content),
        c.get("ConfigMap", Some(MCO), "machine-config-server-ca")
            .map(|o| o["data"].clone()),
    ];
    for n in ["worker-user-data", "master-user-data"] {
        out.push(c.get("Secret", Some(MAPI), n).map(content));
    }
    out
}

/// Rules of the opt-in no run on the (AWS) test cluster exercises, with why.
const MCS_NOT_EXERCISED: &[(&str, &str)] = &[(
    "kube-system",
    "root-ca is written on bare metal only (the planner's tests cover it)",
)];

/// With a real authorizer: `mcs_certificate` as the audit account gets a clear 403 (it reads
/// the CA Secret, a key); as the update account it needs the opt-in; with it, the run and
/// its rollback succeed; and every rule of the opt-in is needed — removed in turn, the run or
/// its rollback fails with a clear 403 naming the verb and resource, and an admin rollback
/// gives back the start.
#[test]
fn mcs_certificate_needs_the_opt_in_rbac_and_every_rule_of_it() {
    let Some(kc) = admin_kubeconfig() else {
        return;
    };
    let (mut objects, _) = common::legacy_mcs::legacy_cluster();
    // The installer's type (the Opaque case, deleted and created again, is tested in
    // tests/mcs_certificate.rs): so the run and its rollback PUT the Secret.
    for o in objects
        .iter_mut()
        .filter(|o| o["metadata"]["name"] == "machine-config-server-tls")
    {
        o["type"] = json!("kubernetes.io/tls");
    }
    let mut c = TestCluster::start();
    common::legacy_mcs::clean_leftovers(&c);
    c.load(&objects);
    c.load(&common::legacy_mcs::mcs_pods());
    let start = mcs_state(&c);
    let (rt, client) = admin(&kc);
    let rbac = Rbac::apply(&rt, client.clone());
    rbac.delete_record();
    let run = |user: &str, module: &str, extra: Value| run_module(module, &as_sa(user, &kc, extra));
    let forbidden = |r: &common::ModuleRun, what: &str| {
        let msg = r.json["msg"].as_str().unwrap_or_default();
        assert_eq!(r.json["failed"], true, "{what}: {}", r.stdout);
        assert!(
            msg.contains("forbidden") && msg.contains("secrets"),
            "{what}: {msg}"
        );
    };
    let r = run(
        SA_AUDIT,
        "mcs_certificate",
        json!({"_ansible_check_mode": true}),
    );
    forbidden(&r, "check mode as the audit account");
    let r = run(
        SA_UPDATE,
        "mcs_certificate",
        json!({"run_id": "mcs-no-opt-in"}),
    );
    forbidden(&r, "the update account without the opt-in");
    assert_eq!(mcs_state(&c), start);
    // mcs_cert_info as the audit account says what would be done.
    let info = run(SA_AUDIT, "mcs_cert_info", json!({}));
    assert_eq!(
        info.json["mcs_certificate"]["action"], "regenerate",
        "{}",
        info.stdout
    );

    let opt_in = Rbac::apply_objects(&rt, client, objects_of("deploy/rbac-mcs-certificate.yaml"));
    let roles: Vec<Value> = opt_in
        .objects
        .iter()
        .filter(|o| o["kind"] == "Role")
        .cloned()
        .collect();
    for role in &roles {
        let rule = &role["rules"][0];
        opt_in.wait_for(
            SA_UPDATE,
            role["metadata"]["namespace"].as_str(),
            rule,
            true,
        );
    }
    let r = run(
        SA_UPDATE,
        "mcs_certificate",
        json!({"run_id": "mcs-rbac", "wait_timeout": 2}),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(r.json["changed"], true);
    let info = run(SA_AUDIT, "mcs_cert_info", json!({}));
    assert_eq!(
        info.json["mcs_certificate"]["action"], "up_to_date",
        "{}",
        info.stdout
    );
    let rb = run(
        SA_UPDATE,
        "rollback",
        json!({"run_id": "mcs-rbac", "wait_timeout": 1}),
    );
    assert_eq!(rb.json["failed"], false, "{}", rb.stdout);
    assert_eq!(rb.json["conflicts"], 0, "{}", rb.stdout);
    assert_eq!(mcs_state(&c), start, "the rollback as the update account");
    rbac.delete_record();

    let mut proved = 0;
    for role in &roles {
        let ns = role["metadata"]["namespace"].as_str();
        let rules = role["rules"].as_array().unwrap().clone();
        for (i, rule) in rules.iter().enumerate() {
            let label = format!(
                "{}/{} rule {i} ({rule})",
                ns.unwrap_or("-"),
                role["metadata"]["name"]
            );
            if let Some((_, why)) = MCS_NOT_EXERCISED.iter().find(|(n, _)| Some(*n) == ns) {
                eprintln!("{label}: not exercised ({why})");
                continue;
            }
            let mut without = rules.clone();
            without.remove(i);
            opt_in.set_rules(role, &without);
            opt_in.wait_for(SA_UPDATE, ns, rule, false);
            let run_id = format!("mcs-rbac-{i}");
            let resource = rule["resources"][0].as_str().unwrap();
            let verbs = rule_verbs(rule);
            let clear = |text: &str| names_the_403(text, resource, &verbs);
            c.load(&common::legacy_mcs::mcs_pods());
            let fwd = run(
                SA_UPDATE,
                "mcs_certificate",
                json!({"run_id": run_id, "wait_timeout": 2}),
            );
            let text = if fwd.json["failed"] == true {
                fwd.json["msg"].to_string()
            } else {
                let rb = run(
                    SA_UPDATE,
                    "rollback",
                    json!({"run_id": run_id, "wait_timeout": 1}),
                );
                format!(
                    "{} {} (the run: {} {})",
                    rb.json["msg"], rb.json["warnings"], fwd.json["msg"], fwd.json["mcs_pods"]
                )
            };
            assert!(
                clear(&text),
                "{label}: removed, yet nothing failed with a clear 403 naming it: {text}"
            );
            // An admin rollback gives back the start.
            let rb = run_module(
                "rollback",
                &json!({"kubeconfig": kc, "run_id": run_id, "wait_timeout": 1}),
            );
            let rb_msg = rb.json["msg"].as_str().unwrap_or_default();
            assert!(
                rb.json["failed"] == false || rb_msg.contains("is not in the rollback record"),
                "{label}: {}",
                rb.stdout
            );
            assert_eq!(mcs_state(&c), start, "{label}");
            opt_in.set_rules(role, &rules);
            opt_in.wait_for(SA_UPDATE, ns, rule, true);
            rbac.delete_record();
            eprintln!(
                "{label}: needed → {}",
                text.chars().take(200).collect::<String>()
            );
            proved += 1;
        }
    }
    eprintln!("mcs_certificate opt-in: {proved} rules proven needed");
    drop(opt_in);
}
