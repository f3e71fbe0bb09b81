//! The server over plain HTTP: shapes, semantics and errors of the real API server.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use test_apiserver::{Fault, FaultAction, TestApiServer, POD_LOG_ANNOTATION};

fn server() -> TestApiServer {
    TestApiServer::start().expect("server starts")
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    i["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn seed(s: &TestApiServer) {
    for (name, labels) in [
        ("c", json!({"role": "worker", "zone": "a"})),
        ("a", json!({"role": "infra", "zone": "b"})),
        ("b", json!({"role": "worker"})),
    ] {
        assert_eq!(post(s, MS, &machineset(name, labels)).status, 201);
    }
}

#[test]
fn discovery_documents() {
    let s = server();
    let v = get(&s, "/version").json();
    assert_eq!(
        (v["major"].as_str(), v["minor"].as_str()),
        (Some("1"), Some("33"))
    );
    assert_eq!(v["gitVersion"], "v1.33.0-test");
    assert_eq!(get(&s, "/api").json()["versions"], json!(["v1"]));
    let apis = get(&s, "/apis").json();
    assert_eq!(apis["kind"], "APIGroupList");
    let machine = apis["groups"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["name"] == "machine.openshift.io"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        machine["preferredVersion"]["groupVersion"],
        "machine.openshift.io/v1"
    );
    let rl = get(&s, "/apis/machine.openshift.io/v1beta1").json();
    assert_eq!(rl["groupVersion"], "machine.openshift.io/v1beta1");
    let ms = rl["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "machinesets"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(ms["kind"], "MachineSet");
    assert_eq!(ms["namespaced"], true);
    assert_eq!(ms["singularName"], "machineset");
    assert!(ms["verbs"]
        .as_array()
        .is_some_and(|v| v.contains(&json!("patch"))));
    let core = get(&s, "/api/v1").json();
    let nodes = core["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "nodes"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(nodes["namespaced"], false);
    assert!(core["resources"]
        .as_array()
        .is_some_and(|r| r.iter().any(|r| r["name"] == "pods/log")));
    let ca = get(&s, "/apis/autoscaling.openshift.io/v1").json();
    assert_eq!(ca["resources"][0]["name"], "clusterautoscalers");
    assert_eq!(ca["resources"][0]["namespaced"], false);
    assert_eq!(get(&s, "/apis/nope.io/v1").status, 404);
}

#[test]
fn create_get_and_list_with_selectors() {
    let s = server();
    seed(&s);
    let created = s
        .get(
            "machine.openshift.io/v1beta1",
            "MachineSet",
            Some("openshift-machine-api"),
            "a",
        )
        .unwrap_or_default();
    assert_eq!(created["metadata"]["generation"], 1);
    assert_eq!(created["metadata"]["uid"].as_str().map(str::len), Some(36));
    assert!(created["metadata"]["creationTimestamp"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));

    let one = get(&s, &format!("{MS}/a"));
    assert_eq!(one.status, 200);
    assert_eq!(one.header("content-type"), Some("application/json"));
    assert_eq!(one.json(), created);

    let list = get(&s, MS).json();
    assert_eq!(list["kind"], "MachineSetList");
    assert_eq!(list["apiVersion"], "machine.openshift.io/v1beta1");
    assert_eq!(
        list["metadata"]["resourceVersion"],
        s.resource_version().to_string()
    );
    assert_eq!(names(&list), ["a", "b", "c"]);
    assert_eq!(list["items"][0]["kind"], "MachineSet");

    let sel = |q: &str| names(&get(&s, &format!("{MS}?labelSelector={q}")).json());
    assert_eq!(sel("role%3Dworker"), ["b", "c"]);
    assert_eq!(sel("role%3D%3Dworker,zone%3Da"), ["c"]);
    assert_eq!(sel("role!%3Dworker"), ["a"]);
    assert_eq!(sel("zone"), ["a", "c"]);
    assert_eq!(sel("!zone"), ["b"]);
    assert_eq!(sel("zone%20in%20(a,b)"), ["a", "c"]);
    assert_eq!(sel("zone%20notin%20(a)"), ["a", "b"]);
    assert_eq!(
        get(&s, &format!("{MS}?labelSelector=zone%20in%20a")).status,
        400
    );

    let fsel = |q: &str| names(&get(&s, &format!("{MS}?fieldSelector={q}")).json());
    assert_eq!(fsel("metadata.name%3Db"), ["b"]);
    assert_eq!(fsel("metadata.name!%3Db"), ["a", "c"]);
    assert_eq!(fsel("metadata.namespace%3Dother"), Vec::<String>::new());
    let bad = get(&s, &format!("{MS}?fieldSelector=spec.replicas%3D1"));
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.json()["message"],
        "field label not supported: spec.replicas"
    );

    // All namespaces, and another namespace.
    let all = get(&s, "/apis/machine.openshift.io/v1beta1/machinesets").json();
    assert_eq!(names(&all), ["a", "b", "c"]);
    let other = get(
        &s,
        "/apis/machine.openshift.io/v1beta1/namespaces/x/machinesets",
    )
    .json();
    assert_eq!(names(&other), Vec::<String>::new());

    // Pagination.
    let page = get(&s, &format!("{MS}?limit=2")).json();
    assert_eq!(names(&page), ["a", "b"]);
    assert_eq!(page["metadata"]["remainingItemCount"], 1);
    let token = page["metadata"]["continue"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let next = get(&s, &format!("{MS}?limit=2&continue={token}")).json();
    assert_eq!(names(&next), ["c"]);
    assert!(next["metadata"].get("continue").is_none());
}

#[test]
fn create_conflicts_generate_name_and_validation() {
    let s = server();
    seed(&s);
    let dup = post(&s, MS, &machineset("a", json!({})));
    assert_eq!(dup.status, 409);
    assert_eq!(
        dup.json(),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "machinesets.machine.openshift.io \"a\" already exists",
               "reason": "AlreadyExists",
               "details": {"name": "a", "group": "machine.openshift.io", "kind": "machinesets"},
               "code": 409})
    );
    let generated = post(
        &s,
        "/api/v1/namespaces/ns1/configmaps",
        &json!({"metadata": {"generateName": "cm-"}, "data": {"k": "v"}}),
    );
    assert_eq!(generated.status, 201);
    let obj = generated.json();
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(name.starts_with("cm-") && name.len() == 8, "{name}");
    assert_eq!(obj["kind"], "ConfigMap");
    assert_eq!(obj["apiVersion"], "v1");
    assert_eq!(obj["metadata"]["namespace"], "ns1");
    assert!(obj["metadata"].get("generation").is_none());

    let nameless = post(
        &s,
        "/api/v1/namespaces/ns1/configmaps",
        &json!({"metadata": {}}),
    );
    assert_eq!(nameless.status, 422);
    let wrong_ns = post(
        &s,
        "/api/v1/namespaces/ns1/configmaps",
        &json!({"metadata": {"name": "x", "namespace": "ns2"}}),
    );
    assert_eq!(wrong_ns.status, 400);
    let wrong_kind = post(
        &s,
        MS,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}),
    );
    assert_eq!(wrong_kind.status, 400);
    let with_rv = post(
        &s,
        MS,
        &json!({"metadata": {"name": "x", "resourceVersion": "5"}}),
    );
    assert_eq!(with_rv.status, 500);
    assert_eq!(post(&s, MS, &json!("not an object")).status, 400);
    let bad_json = send(&s, "POST", MS, Some("application/json"), Some("{"));
    assert_eq!(bad_json.map(|r| r.status).ok(), Some(400));
}

#[test]
fn merge_patch_semantics() {
    let s = server();
    seed(&s);
    let before = get(&s, &format!("{MS}/a")).json();
    let rv0 = before["metadata"]["resourceVersion"].clone();
    let r = merge(
        &s,
        &format!("{MS}/a"),
        &json!({
            "metadata": {"labels": {"zone": null, "new": "x"}},
            "spec": {"template": {"spec": {"providerSpec": {"value": {
                "ami": {"id": "ami-new"},
                "instanceType": null,
                "tags": [{"name": "b"}]
            }}}}}
        }),
    );
    assert_eq!(r.status, 200);
    let after = r.json();
    assert_eq!(
        after["metadata"]["labels"],
        json!({"role": "infra", "new": "x"})
    );
    let value = &after["spec"]["template"]["spec"]["providerSpec"]["value"];
    assert_eq!(
        value,
        &json!({"ami": {"id": "ami-new"}, "tags": [{"name": "b"}]})
    );
    assert_eq!(after["spec"]["replicas"], 1);
    assert_eq!(after["metadata"]["generation"], 2);
    assert_eq!(after["metadata"]["uid"], before["metadata"]["uid"]);
    assert_ne!(after["metadata"]["resourceVersion"], rv0);
    assert_eq!(
        after["metadata"]["resourceVersion"],
        s.resource_version().to_string()
    );
    assert_eq!(get(&s, &format!("{MS}/a")).json(), after);

    // Metadata-only change: new resourceVersion, same generation.
    let labelled = merge(
        &s,
        &format!("{MS}/a"),
        &json!({"metadata": {"labels": {"more": "y"}}}),
    )
    .json();
    assert_eq!(labelled["metadata"]["generation"], 2);
    assert_ne!(
        labelled["metadata"]["resourceVersion"],
        after["metadata"]["resourceVersion"]
    );

    // No-op patch: nothing written, resourceVersion unchanged.
    let rv = s.resource_version();
    let same = merge(
        &s,
        &format!("{MS}/a"),
        &json!({"metadata": {"labels": {"more": "y"}}}),
    )
    .json();
    assert_eq!(same, labelled);
    assert_eq!(s.resource_version(), rv);

    // Matching resourceVersion in the patch is accepted.
    let ok = merge(
        &s,
        &format!("{MS}/a"),
        &json!({"metadata": {"resourceVersion": labelled["metadata"]["resourceVersion"]}, "spec": {"replicas": 3}}),
    );
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["spec"]["replicas"], 3);

    assert_eq!(merge(&s, &format!("{MS}/missing"), &json!({})).status, 404);
    // Strategic merge: 415 for custom resources, merge for core kinds.
    let smp = patch(
        &s,
        &format!("{MS}/a"),
        "application/strategic-merge-patch+json",
        &json!({}),
    );
    assert_eq!(smp.status, 415);
    assert_eq!(smp.json()["reason"], "UnsupportedMediaType");
    assert_eq!(
        patch(
            &s,
            &format!("{MS}/a"),
            "application/apply-patch+yaml",
            &json!({})
        )
        .status,
        415
    );
    post(
        &s,
        "/api/v1/namespaces/ns/configmaps",
        &json!({"metadata": {"name": "cm"}, "data": {"a": "1", "b": "2"}}),
    );
    let core = patch(
        &s,
        "/api/v1/namespaces/ns/configmaps/cm",
        "application/strategic-merge-patch+json",
        &json!({"data": {"a": null, "c": "3"}}),
    );
    assert_eq!(core.status, 200);
    assert_eq!(core.json()["data"], json!({"b": "2", "c": "3"}));
}

#[test]
fn stale_resource_version_conflicts() {
    let s = server();
    seed(&s);
    let obj = get(&s, &format!("{MS}/a")).json();
    let stale_rv = obj["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        merge(&s, &format!("{MS}/a"), &json!({"spec": {"replicas": 2}})).status,
        200
    );

    let message = "Operation cannot be fulfilled on machinesets.machine.openshift.io \"a\": the object has been modified; please apply your changes to the latest version and try again";
    let mut stale = obj.clone();
    stale["spec"]["replicas"] = json!(5);
    let r = put(&s, &format!("{MS}/a"), &stale);
    assert_eq!(r.status, 409);
    let status = r.json();
    assert_eq!(status["reason"], "Conflict");
    assert_eq!(status["message"], message);
    assert_eq!(
        status["details"],
        json!({"name": "a", "group": "machine.openshift.io", "kind": "machinesets"})
    );

    let r = merge(
        &s,
        &format!("{MS}/a"),
        &json!({"metadata": {"resourceVersion": stale_rv}, "spec": {"replicas": 5}}),
    );
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["message"], message);
    assert_eq!(get(&s, &format!("{MS}/a")).json()["spec"]["replicas"], 2);

    // A PUT with the current resourceVersion, and one without any, both succeed.
    let mut current = get(&s, &format!("{MS}/a")).json();
    current["spec"]["replicas"] = json!(7);
    let r = put(&s, &format!("{MS}/a"), &current);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["metadata"]["generation"], 3);
    let mut unconditional = r.json();
    if let Some(m) = unconditional["metadata"].as_object_mut() {
        m.remove("resourceVersion");
    }
    unconditional["spec"]["replicas"] = json!(8);
    assert_eq!(put(&s, &format!("{MS}/a"), &unconditional).status, 200);
    // Name mismatch and missing object.
    assert_eq!(put(&s, &format!("{MS}/b"), &unconditional).status, 400);
    let mut ghost = unconditional.clone();
    ghost["metadata"]["name"] = json!("ghost");
    assert_eq!(put(&s, &format!("{MS}/ghost"), &ghost).status, 404);
}

#[test]
fn json_patch_operations() {
    let s = server();
    seed(&s);
    let path = format!("{MS}/a");
    let r = patch(
        &s,
        &path,
        "application/json-patch+json",
        &json!([
            {"op": "test", "path": "/spec/template/spec/providerSpec/value/ami/id", "value": "ami-old"},
            {"op": "replace", "path": "/spec/template/spec/providerSpec/value/ami/id", "value": "ami-new"},
            {"op": "add", "path": "/metadata/labels/added", "value": "yes"},
            {"op": "remove", "path": "/metadata/labels/zone"},
            {"op": "add", "path": "/spec/template/spec/providerSpec/value/tags/-", "value": {"name": "z"}}
        ]),
    );
    assert_eq!(r.status, 200);
    let obj = r.json();
    assert_eq!(
        obj["spec"]["template"]["spec"]["providerSpec"]["value"]["ami"]["id"],
        "ami-new"
    );
    assert_eq!(
        obj["metadata"]["labels"],
        json!({"role": "infra", "added": "yes"})
    );
    assert_eq!(
        obj["spec"]["template"]["spec"]["providerSpec"]["value"]["tags"][1]["name"],
        "z"
    );

    let rv = s.resource_version();
    let failed = patch(
        &s,
        &path,
        "application/json-patch+json",
        &json!([
            {"op": "replace", "path": "/spec/replicas", "value": 9},
            {"op": "test", "path": "/spec/template/spec/providerSpec/value/ami/id", "value": "ami-old"}
        ]),
    );
    assert_eq!(failed.status, 422);
    assert_eq!(failed.json()["reason"], "Invalid");
    assert_eq!(s.resource_version(), rv);
    assert_eq!(get(&s, &path).json()["spec"]["replicas"], 1);
    // A test on a stale resourceVersion fails the same way; replacing it is a conflict.
    let stale = patch(
        &s,
        &path,
        "application/json-patch+json",
        &json!([{"op": "replace", "path": "/metadata/resourceVersion", "value": "1"}]),
    );
    assert_eq!(stale.status, 409);
    assert_eq!(
        patch(
            &s,
            &path,
            "application/json-patch+json",
            &json!({"op": "add"})
        )
        .status,
        400
    );
}

#[test]
fn dry_run_leaves_storage_unchanged() {
    let s = server();
    seed(&s);
    let rv = s.resource_version();
    let before = s.list("machine.openshift.io/v1beta1", "MachineSet", None);
    s.clear_requests();

    let created = post(&s, &format!("{MS}?dryRun=All"), &machineset("d", json!({})));
    assert_eq!(created.status, 201);
    assert_eq!(created.json()["metadata"]["name"], "d");
    let patched = merge(
        &s,
        &format!("{MS}/a?dryRun=All"),
        &json!({"spec": {"replicas": 4}}),
    );
    assert_eq!(patched.status, 200);
    assert_eq!(patched.json()["spec"]["replicas"], 4);
    assert_eq!(patched.json()["metadata"]["generation"], 2);
    let mut obj = get(&s, &format!("{MS}/b")).json();
    obj["spec"]["replicas"] = json!(6);
    assert_eq!(
        put(&s, &format!("{MS}/b?dryRun=All"), &obj).json()["spec"]["replicas"],
        6
    );
    assert_eq!(
        send(&s, "DELETE", &format!("{MS}/c?dryRun=All"), None, None)
            .map(|r| r.status)
            .ok(),
        Some(200)
    );
    // kube sends dry-run deletes as DeleteOptions in the body.
    let body = json!({"dryRun": ["All"]}).to_string();
    let r = send(
        &s,
        "DELETE",
        &format!("{MS}/c"),
        Some("application/json"),
        Some(&body),
    );
    assert_eq!(r.map(|r| r.status).ok(), Some(200));
    // Conflicts are still reported in a dry run.
    assert_eq!(
        merge(
            &s,
            &format!("{MS}/a?dryRun=All"),
            &json!({"metadata": {"resourceVersion": "1"}})
        )
        .status,
        409
    );

    assert_eq!(s.resource_version(), rv);
    assert_eq!(
        s.list("machine.openshift.io/v1beta1", "MachineSet", None),
        before
    );
    assert_eq!(s.write_count(), 0);
    assert!(s
        .requests()
        .iter()
        .filter(|r| matches!(r.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE"))
        .all(|r| r.dry_run && !r.is_write()));
    // An unknown dryRun value is rejected (and, not being a dry run, counts as a write).
    assert_eq!(
        merge(&s, &format!("{MS}/a?dryRun=Bogus"), &json!({})).status,
        400
    );
    assert_eq!(s.write_count(), 1);
}

#[test]
fn not_found_and_forbidden_statuses() {
    let s = server();
    let r = get(&s, &format!("{MS}/x"));
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "machinesets.machine.openshift.io \"x\" not found", "reason": "NotFound",
               "details": {"name": "x", "group": "machine.openshift.io", "kind": "machinesets"},
               "code": 404})
    );
    let core = get(&s, "/api/v1/namespaces/ns/secrets/x").json();
    assert_eq!(core["message"], "secrets \"x\" not found");
    assert_eq!(core["details"], json!({"name": "x", "kind": "secrets"}));
    for path in [
        "/apis/machine.openshift.io/v1beta1/namespaces/ns/widgets",
        "/apis/machine.openshift.io/v2/namespaces/ns/machinesets",
        "/api/v1/namespaces/ns/nodes",
        "/apis/machine.openshift.io/v1beta1/machinesets/x",
        "/healthz/nope",
        "/",
    ] {
        let r = get(&s, path);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(
            r.json()["message"],
            "the server could not find the requested resource",
            "{path}"
        );
        assert_eq!(r.json()["reason"], "NotFound");
    }
    assert_eq!(delete(&s, &format!("{MS}/x")).status, 404);
    assert_eq!(
        send(&s, "POST", "/version", None, None)
            .map(|r| r.status)
            .ok(),
        Some(405)
    );

    s.set_user("system:serviceaccount:x:y");
    s.deny("list", "machinesets");
    let r = get(&s, MS);
    assert_eq!(r.status, 403);
    let status = r.json();
    assert_eq!(status["reason"], "Forbidden");
    assert_eq!(status["code"], 403);
    assert_eq!(
        status["message"],
        "machinesets.machine.openshift.io is forbidden: User \"system:serviceaccount:x:y\" cannot list resource \"machinesets\" in API group \"machine.openshift.io\" in the namespace \"openshift-machine-api\""
    );
    assert_eq!(
        get(&s, &format!("{MS}/x")).status,
        404,
        "get is still allowed"
    );
    s.deny("patch", "*");
    s.deny("get", "nodes");
    let r = merge(&s, &format!("{MS}/x"), &json!({}));
    assert_eq!(r.status, 403);
    assert!(r.json()["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("machinesets.machine.openshift.io \"x\" is forbidden")));
    let r = get(&s, "/api/v1/nodes/n1").json();
    assert_eq!(
        r["message"],
        "nodes \"n1\" is forbidden: User \"system:serviceaccount:x:y\" cannot get resource \"nodes\" in API group \"\" at the cluster scope"
    );
    // Subresources are separate RBAC resources.
    s.insert(
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}}),
    )
    .expect("pod");
    s.deny("get", "pods/log");
    assert_eq!(get(&s, "/api/v1/namespaces/ns/pods/p").status, 200);
    let r = get(&s, "/api/v1/namespaces/ns/pods/p/log").json();
    assert_eq!(
        r["message"],
        "pods \"p\" is forbidden: User \"system:serviceaccount:x:y\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"ns\""
    );
    s.clear_denies();
    assert_eq!(get(&s, MS).status, 200);
}

#[test]
fn injected_faults() {
    let s = server();
    seed(&s);
    let path = format!("{MS}/a");
    s.inject(
        Fault::status(500)
            .on_method("PATCH")
            .on_path("/machinesets/a"),
    );
    let r = merge(&s, &path, &json!({"spec": {"replicas": 2}}));
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["reason"], "InternalError");
    assert_eq!(get(&s, &path).json()["spec"]["replicas"], 1, "not applied");
    assert_eq!(
        merge(&s, &path, &json!({"spec": {"replicas": 2}})).status,
        200
    );

    s.inject(Fault::status(429).times(2));
    for _ in 0..2 {
        let r = get(&s, &path);
        assert_eq!(r.status, 429);
        assert_eq!(r.header("retry-after"), Some("1"));
        assert_eq!(r.json()["reason"], "TooManyRequests");
        assert_eq!(r.json()["details"]["retryAfterSeconds"], 1);
    }
    assert_eq!(get(&s, &path).status, 200);

    s.inject(Fault::status(409).on_method("PUT"));
    let r = put(&s, &path, &get(&s, &path).json());
    assert_eq!(r.status, 409);
    assert!(r.json()["message"]
        .as_str()
        .is_some_and(|m| m.contains("the object has been modified")));

    s.inject(Fault::status(503).message("etcdserver: leader changed"));
    let r = get(&s, &path).json();
    assert_eq!(
        (r["reason"].as_str(), r["message"].as_str()),
        (
            Some("ServiceUnavailable"),
            Some("etcdserver: leader changed")
        )
    );

    s.inject(Fault {
        method: Some("GET".into()),
        path_contains: Some("/machinesets/b".into()),
        action: FaultAction::Delay(300),
        times: 1,
        body_message: None,
    });
    let start = Instant::now();
    assert_eq!(get(&s, &format!("{MS}/b")).status, 200);
    assert!(start.elapsed() >= Duration::from_millis(300));

    s.inject(Fault::reset().on_method("DELETE"));
    assert!(send(&s, "DELETE", &format!("{MS}/b"), None, None).is_err());
    assert!(s
        .get(
            "machine.openshift.io/v1",
            "MachineSet",
            Some("openshift-machine-api"),
            "b"
        )
        .is_some());
    assert_eq!(s.requests().last().map(|r| r.status), Some(0));
    assert_eq!(delete(&s, &format!("{MS}/b")).status, 200);
}

#[test]
fn request_log_and_write_count() {
    let s = server();
    seed(&s);
    assert_eq!(s.write_count(), 3);
    s.clear_requests();
    assert_eq!(s.write_count(), 0);
    get(&s, &format!("{MS}?labelSelector=role%3Dworker"));
    merge(&s, &format!("{MS}/a"), &json!({"spec": {"replicas": 2}}));
    get(&s, &format!("{MS}/nope"));
    let log = s.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].path, MS);
    assert_eq!(log[0].query.as_deref(), Some("labelSelector=role%3Dworker"));
    assert_eq!(log[0].status, 200);
    assert_eq!(log[1].method, "PATCH");
    assert_eq!(
        log[1].content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(log[1].body.as_deref(), Some(r#"{"spec":{"replicas":2}}"#));
    assert_eq!(log[2].status, 404);
    assert_eq!(log[2].query, None);
    assert_eq!(s.write_count(), 1);
}

#[test]
fn delete_and_finalizers() {
    let s = server();
    seed(&s);
    let r = delete(&s, &format!("{MS}/a"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["metadata"]["name"], "a");
    assert_eq!(get(&s, &format!("{MS}/a")).status, 404);

    let mut fin = machineset("f", json!({}));
    fin["metadata"]["finalizers"] = json!(["example.com/hold"]);
    assert_eq!(post(&s, MS, &fin).status, 201);
    let r = delete(&s, &format!("{MS}/f"));
    assert_eq!(r.status, 202);
    assert!(r.json()["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(get(&s, &format!("{MS}/f")).status, 200);
    let r = merge(
        &s,
        &format!("{MS}/f"),
        &json!({"metadata": {"finalizers": null}}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(get(&s, &format!("{MS}/f")).status, 404);

    // Preconditions and collection deletes.
    let body = json!({"preconditions": {"uid": "other"}}).to_string();
    let r = send(
        &s,
        "DELETE",
        &format!("{MS}/b"),
        Some("application/json"),
        Some(&body),
    )
    .map(|r| r.status);
    assert_eq!(r.ok(), Some(409));
    let r = send(
        &s,
        "DELETE",
        &format!("{MS}?labelSelector=role%3Dworker"),
        None,
        None,
    )
    .map(|r| r.json());
    assert_eq!(
        r.map(|l| names(&l)).ok(),
        Some(vec!["b".to_string(), "c".to_string()])
    );
    assert!(s
        .list("machine.openshift.io/v1beta1", "MachineSet", None)
        .is_empty());
}

#[test]
fn status_subresource() {
    let s = server();
    let mut ms = machineset("s", json!({}));
    ms["status"] = json!({"replicas": 1});
    let created = post(&s, MS, &ms).json();
    assert!(
        created.get("status").is_none(),
        "status is dropped on create"
    );
    s.insert({
        let mut o = created.clone();
        o["status"] = json!({"replicas": 1});
        o
    })
    .expect("insert");
    let path = format!("{MS}/s");
    let r = merge(
        &s,
        &path,
        &json!({"status": {"replicas": 9}, "spec": {"replicas": 2}}),
    )
    .json();
    assert_eq!(
        r["status"],
        json!({"replicas": 1}),
        "main resource ignores status"
    );
    assert_eq!(r["spec"]["replicas"], 2);
    let r = merge(
        &s,
        &format!("{path}/status"),
        &json!({"status": {"readyReplicas": 1}, "spec": {"replicas": 5}}),
    )
    .json();
    assert_eq!(r["status"], json!({"replicas": 1, "readyReplicas": 1}));
    assert_eq!(r["spec"]["replicas"], 2, "status subresource ignores spec");
    assert_eq!(r["metadata"]["generation"], 2);
    assert_eq!(
        get(&s, &format!("{path}/status")).json()["status"]["readyReplicas"],
        1
    );
    assert_eq!(
        get(&s, "/api/v1/namespaces/ns/configmaps/x/status").status,
        404
    );
}

#[test]
fn cluster_scoped_kinds_and_pod_logs() {
    let s = server();
    s.insert(json!({
        "apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "config.openshift.io/v1", "kind": "Infrastructure", "metadata": {"name": "cluster", "namespace": "ignored"}, "status": {"platform": "AWS"}},
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/worker": ""}}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "mcd-1", "namespace": "openshift-machine-config-operator",
             "annotations": {POD_LOG_ANNOTATION: "line1\nline2\nline3\n"}}, "spec": {"nodeName": "n1"}}
        ]
    }))
    .expect("insert list");
    let infra = get(&s, "/apis/config.openshift.io/v1/infrastructures/cluster").json();
    assert_eq!(infra["status"]["platform"], "AWS");
    assert!(infra["metadata"].get("namespace").is_none());
    let nodes = get(
        &s,
        "/api/v1/nodes?labelSelector=node-role.kubernetes.io%2Fworker",
    )
    .json();
    assert_eq!(names(&nodes), ["n1"]);
    let pods = get(&s, "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1").json();
    assert_eq!(names(&pods), ["mcd-1"]);
    let logs = "/api/v1/namespaces/openshift-machine-config-operator/pods/mcd-1/log";
    let r = get(&s, logs);
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/plain")));
    assert_eq!(r.body, "line1\nline2\nline3\n");
    assert_eq!(get(&s, &format!("{logs}?tailLines=1")).body, "line3\n");
    assert_eq!(get(&s, &format!("{logs}?limitBytes=8")).body, "line1\nli");
    assert_eq!(
        get(&s, &format!("{logs}?limitBytes=100")).body,
        "line1\nline2\nline3\n"
    );
    s.set_pod_log(
        "openshift-machine-config-operator",
        "mcd-1",
        Some("machine-config-daemon"),
        "registered\n",
    );
    assert_eq!(
        get(&s, &format!("{logs}?container=machine-config-daemon")).body,
        "registered\n"
    );
    assert_eq!(get(&s, "/api/v1/namespaces/x/pods/none/log").status, 404);
    let ns = post(
        &s,
        "/api/v1/namespaces",
        &json!({"metadata": {"name": "team"}}),
    );
    assert_eq!(ns.status, 201);
    assert_eq!(
        get(&s, "/api/v1/namespaces/team").json()["kind"],
        "Namespace"
    );
}

#[test]
fn watch_streams_changes() {
    let s = server();
    seed(&s);
    let rv = s.resource_version();
    let mut stream = std::net::TcpStream::connect(s.addr()).expect("connect");
    let req = format!(
        "GET {MS}?watch=true&labelSelector=role%3Dworker&resourceVersion={rv}&timeoutSeconds=10 HTTP/1.1\r\nHost: x\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).expect("write");
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while line != "\r\n" {
        line.clear();
        reader.read_line(&mut line).expect("head");
    }
    merge(&s, &format!("{MS}/a"), &json!({"spec": {"replicas": 2}})); // not selected
    merge(&s, &format!("{MS}/b"), &json!({"spec": {"replicas": 2}}));
    merge(
        &s,
        &format!("{MS}/c"),
        &json!({"metadata": {"labels": {"role": "gone"}}}),
    );
    let mut events = Vec::new();
    while events.len() < 2 {
        line.clear();
        reader.read_line(&mut line).expect("event");
        if let Ok(v) = serde_json::from_str::<Value>(line.trim()) {
            events.push((
                v["type"].as_str().unwrap_or_default().to_string(),
                v["object"]["metadata"]["name"].clone(),
            ));
        }
    }
    assert_eq!(
        events,
        [
            ("MODIFIED".to_string(), json!("b")),
            ("DELETED".to_string(), json!("c"))
        ]
    );
}

#[test]
fn load_fixture_directories() {
    let s = server();
    let fixtures = fixtures();
    let n = s
        .load_path(&fixtures.join("machinesets"))
        .expect("machinesets load");
    let sets = s.list("machine.openshift.io/v1beta1", "MachineSet", None);
    let autoscalers = s.list(
        "autoscaling.openshift.io/v1beta1",
        "MachineAutoscaler",
        None,
    );
    assert!(sets.len() >= 10, "{}", sets.len());
    assert!(!autoscalers.is_empty());
    assert_eq!(n, sets.len() + autoscalers.len());
    // Kept from the file: uid, resourceVersion; the counter moves past them.
    let gcp = s
        .get(
            "machine.openshift.io/v1beta1",
            "MachineSet",
            Some("openshift-machine-api"),
            "ci-ln-fyvthbt-f76d1-nl2fh-worker-b",
        )
        .unwrap_or_default();
    assert_eq!(
        gcp["metadata"]["uid"],
        "c01e9178-6a18-41e8-8eab-143d4d4b5f9d"
    );
    assert!(s.resource_version() >= 15794);
    assert_eq!(
        get(&s, MS).json()["items"].as_array().map(Vec::len),
        Some(
            sets.iter()
                .filter(|o| o["metadata"]["namespace"] == "openshift-machine-api")
                .count()
        )
    );

    assert_eq!(
        s.load_path(&fixtures.join("crds")).expect("crds skipped"),
        0
    );
    let all = TestApiServer::start().expect("start");
    let total = all.load_path(&fixtures).expect("whole fixture tree");
    assert!(total > n);
    assert!(all
        .get("config.openshift.io/v1", "Infrastructure", None, "cluster")
        .is_some());
    assert!(all
        .get(
            "machine.openshift.io/v1",
            "ControlPlaneMachineSet",
            Some("openshift-machine-api"),
            "cluster"
        )
        .is_some());

    assert!(s
        .insert(json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "x"}}))
        .is_err());
    assert!(s
        .insert(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}))
        .is_err());
    assert!(s.load_path(&fixtures.join("does-not-exist")).is_err());
}

#[test]
fn kubeconfig_and_version_mapping() {
    let s = server();
    let text = std::fs::read_to_string(s.kubeconfig_path()).expect("kubeconfig");
    assert!(text.contains(&format!("server: {}", s.url())));
    assert!(text.contains("token: test-token"));
    assert!(text.contains("current-context: test"));
    s.insert(json!({"apiVersion": "machine.openshift.io/v1alpha1", "kind": "MachineSet", "metadata": {"name": "old", "namespace": "ns"}}))
        .expect("known group, other version");
    let obj = get(
        &s,
        "/apis/machine.openshift.io/v1beta1/namespaces/ns/machinesets/old",
    )
    .json();
    assert_eq!(obj["apiVersion"], "machine.openshift.io/v1beta1");
    let path = s.kubeconfig_path().to_path_buf();
    s.stop();
    assert!(!path.exists(), "kubeconfig removed with the server");
}

#[test]
fn load_path_serves_log_files_next_to_pods() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pods = dir.path().join("namespaces/mco/core/pods");
    std::fs::create_dir_all(&pods).expect("mkdir");
    for name in ["mcd-a", "mcd-b"] {
        std::fs::write(
            pods.join(format!("{name}.yaml")),
            format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: mco\n"),
        )
        .expect("write pod");
    }
    std::fs::write(pods.join("mcd-a.log"), "any container\n").expect("write log");
    let by_container = dir.path().join("pods/mco/mcd-b");
    std::fs::create_dir_all(&by_container).expect("mkdir");
    std::fs::write(by_container.join("machine-config-daemon.log"), "mcd\n").expect("write log");
    std::fs::write(dir.path().join("not-a-pod.log"), "ignored\n").expect("write log");
    let s = server();
    assert_eq!(s.load_path(dir.path()).expect("load"), 2);
    let log = |pod: &str, query: &str| {
        get(&s, &format!("/api/v1/namespaces/mco/pods/{pod}/log{query}")).body
    };
    assert_eq!(log("mcd-a", "?container=whatever"), "any container\n");
    assert_eq!(log("mcd-b", "?container=machine-config-daemon"), "mcd\n");
    assert_eq!(log("mcd-b", "?container=kube-rbac-proxy"), "");
}

#[test]
fn leases_have_optimistic_concurrency_and_delete_preconditions() {
    let s = server();
    let rl = get(&s, "/apis/coordination.k8s.io/v1").json();
    let leases = rl["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "leases"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(leases["kind"], "Lease");
    assert_eq!(leases["namespaced"], true);
    // No status subresource.
    assert!(rl["resources"]
        .as_array()
        .is_some_and(|r| !r.iter().any(|r| r["name"] == "leases/status")));
    assert!(get(&s, "/apis").json()["groups"]
        .as_array()
        .is_some_and(|g| g.iter().any(|g| g["name"] == "coordination.k8s.io")));

    let base = "/apis/coordination.k8s.io/v1/namespaces/openshift-machine-api/leases";
    let path = format!("{base}/run");
    let lease = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "run"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15,
                 "renewTime": "2026-01-01T00:00:00.000000Z", "leaseTransitions": 0}
    });
    let created = post(&s, base, &lease);
    assert_eq!(created.status, 201);
    let created = created.json();
    assert_eq!(created["metadata"]["namespace"], "openshift-machine-api");
    assert!(created["metadata"].get("generation").is_none());
    let first_rv = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    // PUT with the resourceVersion read: accepted; again with it (now stale): 409.
    let mut taken = created.clone();
    taken["spec"]["holderIdentity"] = json!("b");
    let r = put(&s, &path, &taken);
    assert_eq!(r.status, 200);
    let current_rv = r.json()["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_ne!(current_rv, first_rv);
    taken["spec"]["holderIdentity"] = json!("c");
    let r = put(&s, &path, &taken);
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["reason"], "Conflict");
    assert_eq!(
        r.json()["details"],
        json!({"name": "run", "group": "coordination.k8s.io", "kind": "leases"})
    );
    assert_eq!(get(&s, &path).json()["spec"]["holderIdentity"], "b");

    // DELETE with a stale resourceVersion precondition: 409, the Lease stays; with the
    // current one: deleted.
    let stale = json!({"preconditions": {"resourceVersion": first_rv}}).to_string();
    let r = send(&s, "DELETE", &path, Some("application/json"), Some(&stale)).map(|r| r.status);
    assert_eq!(r.ok(), Some(409));
    assert_eq!(get(&s, &path).status, 200);
    let fresh = json!({"preconditions": {"resourceVersion": current_rv}}).to_string();
    let r = send(&s, "DELETE", &path, Some("application/json"), Some(&fresh)).map(|r| r.status);
    assert_eq!(r.ok(), Some(200));
    assert_eq!(get(&s, &path).status, 404);
}
