//! The server through the `kube` client, the way the project's code talks to clusters.

mod common;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Node};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, Discovery};
use serde_json::json;
use test_apiserver::{Fault, TestApiServer};

async fn client(server: &TestApiServer) -> Client {
    let kubeconfig = Kubeconfig::read_from(server.kubeconfig_path()).expect("kubeconfig parses");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

fn machinesets(client: Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("machine.openshift.io", "v1beta1", "MachineSet");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "machinesets");
    Api::namespaced_with(client, "openshift-machine-api", &ar)
}

fn api_error(err: kube::Error) -> (u16, String) {
    match err {
        kube::Error::Api(status) => (status.code, status.reason.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn dynamic_machinesets_round_trip() {
    let server = TestApiServer::start().expect("start");
    server
        .load_path(&common::fixtures().join("machinesets/aws-arm64"))
        .expect("load");
    let client = client(&server).await;
    let version = client.apiserver_version().await.expect("version");
    assert_eq!(version.git_version, "v1.33.0-test");

    let api = machinesets(client.clone());
    let list = api
        .list(
            &ListParams::default().labels("machine.openshift.io/cluster-api-cluster=build09-kcxpl"),
        )
        .await
        .expect("list");
    assert_eq!(list.items.len(), 3);
    let name = list.items[0].metadata.name.clone().unwrap_or_default();
    let stale_rv = list.items[0].metadata.resource_version.clone();

    let patch = json!({"spec": {"template": {"spec": {"providerSpec": {"value": {"ami": {"id": "ami-new"}}}}}}});
    let patched = api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("merge patch");
    assert_eq!(
        patched.data["spec"]["template"]["spec"]["providerSpec"]["value"]["ami"]["id"],
        "ami-new"
    );
    assert_eq!(patched.metadata.generation, Some(2));

    // Optimistic concurrency through a merge patch carrying the old resourceVersion.
    let guarded = json!({"metadata": {"resourceVersion": stale_rv}, "spec": {"replicas": 3}});
    let err = api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&guarded))
        .await
        .expect_err("stale resourceVersion");
    assert_eq!(api_error(err), (409, "Conflict".to_string()));

    // Dry run through kube's parameters.
    let rv = server.resource_version();
    let dry = api
        .patch(
            &name,
            &PatchParams::default().dry_run(),
            &Patch::Merge(&json!({"spec": {"replicas": 9}})),
        )
        .await
        .expect("dry run");
    assert_eq!(dry.data["spec"]["replicas"], 9);
    assert_eq!(server.resource_version(), rv);

    let err = api.get("missing").await.expect_err("404");
    assert_eq!(api_error(err), (404, "NotFound".to_string()));
    assert!(api.get_opt("missing").await.expect("get_opt").is_none());

    let metas = api
        .list_metadata(&ListParams::default())
        .await
        .expect("list_metadata");
    assert_eq!(metas.items.len(), 3);

    let autoscalers = Api::<DynamicObject>::all_with(
        client,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("autoscaling.openshift.io", "v1beta1", "MachineAutoscaler"),
            "machineautoscalers",
        ),
    );
    assert_eq!(
        autoscalers
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .len(),
        3
    );
}

#[tokio::test]
async fn typed_core_objects_and_watch() {
    let server = TestApiServer::start().expect("start");
    let client = client(&server).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "ns");
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("boot".into());
    cm.data = Some([("k".to_string(), "v".to_string())].into_iter().collect());
    let created = cms
        .create(&PostParams::default(), &cm)
        .await
        .expect("create");
    assert!(created.metadata.uid.is_some());
    let err = cms
        .create(&PostParams::default(), &cm)
        .await
        .expect_err("exists");
    assert_eq!(api_error(err), (409, "AlreadyExists".to_string()));

    let mut stream = cms
        .watch(&WatchParams::default().timeout(10), "0")
        .await
        .expect("watch")
        .boxed();
    let first = stream.try_next().await.expect("event");
    assert!(matches!(first, Some(WatchEvent::Added(_))));

    let mut replaced = created.clone();
    replaced.data = Some([("k".to_string(), "w".to_string())].into_iter().collect());
    let replaced = cms
        .replace("boot", &PostParams::default(), &replaced)
        .await
        .expect("replace");
    let err = cms
        .replace("boot", &PostParams::default(), &created)
        .await
        .expect_err("stale replace");
    assert_eq!(api_error(err), (409, "Conflict".to_string()));
    match stream.try_next().await.expect("event") {
        Some(WatchEvent::Modified(obj)) => {
            assert_eq!(
                obj.metadata.resource_version,
                replaced.metadata.resource_version
            )
        }
        other => panic!("unexpected {other:?}"),
    }

    let deleted = cms
        .delete("boot", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(deleted.is_left());
    assert!(matches!(
        stream.try_next().await.expect("event"),
        Some(WatchEvent::Deleted(_))
    ));

    server.deny("list", "nodes");
    let nodes: Api<Node> = Api::all(client);
    let err = nodes
        .list(&ListParams::default())
        .await
        .expect_err("forbidden");
    assert_eq!(api_error(err), (403, "Forbidden".to_string()));
}

#[tokio::test]
async fn discovery_and_faults() {
    let server = TestApiServer::start().expect("start");
    let client = client(&server).await;
    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    let (ar, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk(
            "machine.openshift.io",
            "v1beta1",
            "MachineSet",
        ))
        .expect("machinesets discovered");
    assert_eq!(ar.plural, "machinesets");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);

    let api = machinesets(client);
    server.inject(Fault::status(500).on_method("GET"));
    let err = api.list(&ListParams::default()).await.expect_err("500");
    assert_eq!(api_error(err), (500, "InternalError".to_string()));
    assert!(api.list(&ListParams::default()).await.is_ok());

    server.inject(Fault::reset());
    let err = api.list(&ListParams::default()).await.expect_err("reset");
    assert!(!matches!(err, kube::Error::Api(_)), "{err:?}");
    assert!(api.list(&ListParams::default()).await.is_ok());
    assert!(server.requests().iter().all(|r| r.method == "GET"));
}
