//! kubernetes.core's connection options on every module: users copy their
//! `module_defaults` for `group/k8s` into `group/ocp.bootimage.cluster`, so every module
//! takes kubernetes.core's `AUTH_ARG_SPEC` (the extract in
//! `tests/fixtures/kubernetes-core/auth-options.json`) with the same names, aliases,
//! types, `no_log` and `K8S_AUTH_*` fallbacks, and each option does what it does there:
//! a block of all of them runs every module (check mode) with the same result as a plain
//! kubeconfig, through a real `CONNECT` proxy with its credentials, or past it with
//! `no_proxy`; basic auth, the `User-Agent`, an inline kubeconfig and the env fallbacks
//! are seen by the server. Runs against a real API server too
//! (`OCP_BOOTIMAGE_TEST_KUBECONFIG`); the checks of request headers need the in-process one.

mod common;

use common::connect_proxy::ConnectProxy;
use common::{fixture, objects_under, root, run_module, run_module_env, TestCluster};
use serde_json::{json, Map, Value};

fn auth_options() -> Map<String, Value> {
    let text = std::fs::read_to_string(fixture("kubernetes-core/auth-options.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["options"].as_object().unwrap().clone()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_module_takes_kubernetes_core_connection_options_as_kubernetes_core_declares_them() {
    let spec = auth_options();
    // Every module that talks to a cluster; `fleet_report` (which only writes the
    // fleet report of results already gathered) takes no connection options at all.
    let (docs, offline): (Vec<_>, Vec<_>) = ocp_bootimage::modules::docs()
        .into_iter()
        .partition(|d| d.connects());
    assert_eq!(docs.len(), 11);
    let offline: Vec<&str> = offline.iter().map(|d| d.name).collect();
    assert_eq!(offline, ["fleet_report"]);
    let d = ocp_bootimage::modules::find("fleet_report").unwrap().doc();
    for name in spec.keys() {
        assert!(
            !d.options.options.contains_key(name),
            "fleet_report: {name}"
        );
    }
    for doc in &docs {
        for (name, want) in &spec {
            let opt = doc.options.options.get(name).unwrap_or_else(|| {
                panic!("{}: no option {name} (kubernetes.core has it)", doc.name)
            });
            assert_eq!(
                opt.kind.ansible_name(),
                want["type"].as_str().unwrap(),
                "{}: type of {name}",
                doc.name
            );
            for alias in strings(&want["aliases"]) {
                assert!(
                    opt.aliases.contains(&alias),
                    "{}: {name} lacks alias {alias}",
                    doc.name
                );
            }
            for env in strings(&want["env"]) {
                assert!(
                    opt.env.contains(&env),
                    "{}: {name} lacks env {env}",
                    doc.name
                );
            }
            if want["no_log"] == true {
                assert!(opt.no_log, "{}: {name} must be no_log", doc.name);
            }
        }
        // No alias of another option takes one of kubernetes.core's names.
        for opt in doc.options.options.values() {
            for alias in &opt.aliases {
                assert!(
                    !spec.contains_key(alias),
                    "{}: {alias} is an alias of {} but kubernetes.core's own option",
                    doc.name,
                    opt.name
                );
            }
        }
    }
}

/// The test cluster's kubeconfig as a dict (kubernetes.core's inline `kubeconfig`).
fn inline_kubeconfig(c: &TestCluster) -> Value {
    let text = std::fs::read_to_string(c.kubeconfig()).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

/// `host:port` of the cluster's API server.
fn server_authority(c: &TestCluster) -> String {
    let kc = inline_kubeconfig(c);
    let server = kc["clusters"][0]["cluster"]["server"]
        .as_str()
        .unwrap()
        .to_string();
    let uri: http::Uri = server.parse().unwrap();
    let port = uri.port_u16().unwrap_or(443);
    format!("{}:{port}", uri.host().unwrap())
}

/// The arguments of one check-mode run of `module` on the shipped dump (its record in a
/// file where it keeps one, so the runs leave nothing in the cluster).
fn module_args(module: &str, connection: &Value, record: &std::path::Path) -> Value {
    let mut a = connection.clone();
    a["_ansible_check_mode"] = json!(true);
    let doc = ocp_bootimage::modules::docs()
        .into_iter()
        .find(|d| d.name == module)
        .unwrap();
    if doc.options.options.contains_key("record_path") {
        a["record_path"] = json!(record);
    }
    match module {
        "autoscaling" => a["state"] = json!("paused"),
        "bootimage_canary" => a["machineset"] = json!("build09-kcxpl-worker-aarch64-us-east-2a"),
        _ => {}
    }
    a
}

fn summary(r: &Value) -> (Value, Value) {
    (r["failed"].clone(), r["changed"].clone())
}

#[test]
fn a_kubernetes_core_module_defaults_block_runs_every_module_through_a_proxy_as_a_kubeconfig_does()
{
    let mut c = TestCluster::start();
    c.load(&objects_under(&root().join("examples/cluster-dump")));
    let proxy = ConnectProxy::start();
    // kubernetes.core's options, as a `module_defaults: group/k8s` block would give them.
    let block = json!({
        "kubeconfig": inline_kubeconfig(&c),
        "proxy": proxy.url(),
        "no_proxy": "localhost,.svc,.cluster.local,10.0.0.0/8",
        "proxy_headers": {
            "proxy_basic_auth": "automation:proxy-secret-7",
            "user_agent": "k8s-parity/1.0"
        },
        "persist_config": false,
    });
    let plain = json!({"kubeconfig": c.kubeconfig()});
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("record.json");
    let connecting = ocp_bootimage::modules::docs()
        .into_iter()
        .filter(|d| d.connects())
        .map(|d| d.name);
    for module in connecting {
        let with_block = run_module(module, &module_args(module, &block, &record));
        let with_plain = run_module(module, &module_args(module, &plain, &record));
        let msg = with_block.json["msg"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            !msg.contains("Unsupported parameters") && !msg.contains("invalid module arguments"),
            "{module}: {msg}"
        );
        assert_eq!(
            summary(&with_block.json),
            summary(&with_plain.json),
            "{module}: block {}\nplain {}",
            with_block.stdout,
            with_plain.stdout
        );
        assert_eq!(
            with_block.json["invocation"]["module_args"]["kubeconfig"],
            "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER",
            "{module}: an inline kubeconfig holds credentials: {}",
            with_block.stdout
        );
        for secret in ["proxy-secret-7", "test-token"] {
            assert!(
                !with_block.stdout.contains(secret),
                "{module} leaked: {}",
                with_block.stdout
            );
        }
    }
    // Every request went through the proxy, with its credentials, to the API server.
    let tunnels = proxy.tunnels();
    assert!(tunnels.len() >= 11, "{tunnels:?}");
    let target = server_authority(&c);
    for t in &tunnels {
        assert_eq!(t.target, target);
        assert_eq!(t.credentials.as_deref(), Some("automation:proxy-secret-7"));
    }
    if let Some(requests) = c.requests() {
        let agents: Vec<_> = requests.iter().map(|r| r.user_agent.clone()).collect();
        assert!(
            agents
                .iter()
                .any(|a| a.as_deref() == Some("k8s-parity/1.0")),
            "{agents:?}"
        );
    }
}

#[test]
fn no_proxy_reaches_the_server_directly_and_the_env_fallbacks_apply() {
    let mut c = TestCluster::start();
    c.load(&objects_under(&root().join("examples/cluster-dump")));
    let proxy = ConnectProxy::start();
    let host = server_authority(&c).rsplit_once(':').unwrap().0.to_string();
    for no_proxy in [host.clone(), format!("{host}/32"), "*".to_string()] {
        let no_proxy = if no_proxy.parse::<std::net::IpAddr>().is_err() && no_proxy.ends_with("/32")
        {
            continue; // a CIDR only for an IP address
        } else {
            no_proxy
        };
        let r = run_module(
            "bootimage_info",
            &json!({"kubeconfig": c.kubeconfig(), "proxy": proxy.url(), "no_proxy": no_proxy}),
        );
        assert_eq!(r.json["failed"], false, "{}", r.stdout);
    }
    assert_eq!(
        proxy.tunnels(),
        vec![],
        "no_proxy names the server: no tunnel"
    );
    // The same through K8S_AUTH_* (kubernetes.core's fallbacks).
    c.clear_requests();
    let kc = c.kubeconfig().display().to_string();
    let url = proxy.url();
    let r = run_module_env(
        "bootimage_info",
        &json!({}),
        &[
            ("K8S_AUTH_KUBECONFIG", kc.as_str()),
            ("K8S_AUTH_PROXY", url.as_str()),
            (
                "K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH",
                "env-user:env-pass",
            ),
            ("K8S_AUTH_PROXY_HEADERS_USER_AGENT", "from-env/2.0"),
        ],
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    let tunnels = proxy.tunnels();
    assert!(!tunnels.is_empty());
    assert!(tunnels
        .iter()
        .all(|t| t.credentials.as_deref() == Some("env-user:env-pass")));
    if let Some(requests) = c.requests() {
        assert!(requests
            .iter()
            .all(|r| r.user_agent.as_deref() == Some("from-env/2.0")));
    }
    let r = run_module_env(
        "bootimage_info",
        &json!({"proxy": url}),
        &[
            ("K8S_AUTH_KUBECONFIG", kc.as_str()),
            ("K8S_AUTH_NO_PROXY", "*"),
        ],
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert_eq!(
        proxy.tunnels().len(),
        tunnels.len(),
        "K8S_AUTH_NO_PROXY=* bypasses"
    );
}

#[test]
fn basic_auth_is_sent_unless_a_token_is_given_and_never_shown() {
    let mut c = TestCluster::start();
    let Some(server) = c.server() else {
        eprintln!("SKIP basic auth: the real API server is not configured for basic auth");
        return;
    };
    let url = server.url();
    c.load(&objects_under(&root().join("examples/cluster-dump")));
    c.clear_requests();
    let r = run_module(
        "bootimage_info",
        &json!({"host": url, "username": "alice", "password": "basic-secret-9", "_ansible_verbosity": 3}),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert!(!r.stdout.contains("basic-secret-9"), "{}", r.stdout);
    assert_eq!(
        r.json["invocation"]["module_args"]["password"],
        "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    );
    let requests = c.requests().unwrap();
    assert!(!requests.is_empty());
    assert!(
        requests
            .iter()
            .all(|r| r.auth.as_deref() == Some("Basic alice")),
        "{requests:?}"
    );
    // A token wins over basic auth, as the kubeconfig's token does.
    c.clear_requests();
    let r = run_module(
        "bootimage_info",
        &json!({"host": url, "username": "alice", "password": "basic-secret-9", "api_key": "tok-1"}),
    );
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    assert!(c
        .requests()
        .unwrap()
        .iter()
        .all(|r| r.auth.as_deref() == Some("Bearer")));
    // Half of basic auth is an error, not an anonymous request.
    let r = run_module("bootimage_info", &json!({"host": url, "username": "alice"}));
    assert_eq!(r.json["failed"], true);
    assert!(
        r.json["msg"]
            .as_str()
            .unwrap()
            .contains("both `username` and `password`"),
        "{}",
        r.stdout
    );
}

#[test]
fn an_inline_kubeconfig_works_and_a_malformed_one_fails_without_quoting_it() {
    let mut c = TestCluster::start();
    c.load(&objects_under(&root().join("examples/cluster-dump")));
    let inline = inline_kubeconfig(&c);
    let r = run_module("bootimage_info", &json!({"kubeconfig": inline}));
    assert_eq!(r.json["failed"], false, "{}", r.stdout);
    let by_path = run_module("bootimage_info", &json!({"kubeconfig": c.kubeconfig()}));
    assert_eq!(r.json["machinesets"], by_path.json["machinesets"]);
    let mut bad = inline.clone();
    bad["clusters"] = json!("token-looking-secret-3");
    let r = run_module("bootimage_info", &json!({"kubeconfig": bad}));
    assert_eq!(r.json["failed"], true);
    let msg = r.json["msg"].as_str().unwrap();
    assert!(msg.contains("inline kubeconfig"), "{msg}");
    assert!(!r.stdout.contains("token-looking-secret-3"), "{}", r.stdout);
    // Unknown proxy header keys are refused, as kubernetes.core's suboptions are.
    let r = run_module(
        "bootimage_info",
        &json!({"kubeconfig": c.kubeconfig(), "proxy_headers": {"x_custom": "1"}}),
    );
    assert_eq!(r.json["failed"], true);
    assert!(
        r.json["msg"].as_str().unwrap().contains("x_custom"),
        "{}",
        r.stdout
    );
}
