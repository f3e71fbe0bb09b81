//! Per-MachineSet OS streams on a 5.0-shaped cluster (the 5.0 `coreos-bootimages`
//! ConfigMap with `streams{rhel-9, rhel-10}`): the audit reports each MachineSet's OS
//! stream and target, the swap moves each to its own stream's image (a custom stream is
//! skipped, never retargeted), a second run changes nothing, and an explicit image of
//! another OS stream is refused unless `allow_stream_change`. Runs on the test server
//! and on a real kube-apiserver (`OCP_BOOTIMAGE_REAL_TESTS=os_streams`).

mod common;

use common::{
    fixture, machineset, objects_in, objects_under, root, run_module, with_v3_stubs, TestCluster,
};
use serde_json::{json, Value};

const LABEL: &str = "machineconfiguration.openshift.io/osstream";
const OLD_AMI: &str = "ami-06f85a7940faa3217";
const RHEL9_AMI: &str = "ami-06a6b025350ff1e23";
const RHEL10_AMI: &str = "ami-04b3d999e39d62c5b";

/// The shipped dump as a 5.0 cluster: the 5.0 ConfigMap, version 5.0.0-ec.2, and four
/// us-east-1 MachineSets made from its x86_64 one — unlabelled, `rhel-9`, `rhel-10`
/// and `custom-stream` (the aarch64 us-east-2 ones are left out: the 5.0 ConfigMap
/// names no image there).
fn objects() -> Vec<Value> {
    let configmap = objects_in(&fixture("stream/configmap/coreos-bootimages-5.0.yaml"))
        .pop()
        .unwrap();
    let mut out = Vec::new();
    for mut o in with_v3_stubs(objects_under(&root().join("examples/cluster-dump"))) {
        match o["kind"].as_str() {
            Some("ConfigMap") if o["metadata"]["name"] == "coreos-bootimages" => {
                out.push(configmap.clone());
            }
            Some("ClusterVersion") => {
                o["status"]["desired"]["version"] = json!("5.0.0-ec.2");
                if let Some(h) = o["status"]["history"].as_array_mut() {
                    for e in h.iter_mut() {
                        e["version"] = json!("5.0.0-ec.2");
                    }
                }
                out.push(o);
            }
            Some("MachineSet") if o["metadata"]["name"] == "build09-kcxpl-worker-us-east-1a" => {
                for (name, label) in [
                    ("w-unlabelled", None),
                    ("w-rhel9", Some("rhel-9")),
                    ("w-rhel10", Some("rhel-10")),
                    ("w-custom", Some("custom-stream")),
                ] {
                    let mut ms = o.clone();
                    ms["metadata"]["name"] = json!(name);
                    for k in ["uid", "resourceVersion", "creationTimestamp", "generation"] {
                        ms["metadata"].as_object_mut().unwrap().remove(k);
                    }
                    if let Some(l) = label {
                        ms["metadata"]["labels"][LABEL] = json!(l);
                    }
                    ms["spec"]["replicas"] = json!(0);
                    ms["spec"]["template"]["spec"]["providerSpec"]["value"]["ami"] =
                        json!({"id": OLD_AMI});
                    out.push(ms);
                }
            }
            Some("MachineSet") | Some("MachineAutoscaler") | Some("Machine") => {}
            _ => out.push(o),
        }
    }
    out
}

fn cluster() -> TestCluster {
    let mut c = TestCluster::start();
    c.load(&objects());
    c
}

fn ami(c: &TestCluster, name: &str) -> String {
    c.get("MachineSet", Some("openshift-machine-api"), name)
        .unwrap()["spec"]["template"]["spec"]["providerSpec"]["value"]["ami"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn audited<'a>(audit: &'a Value, name: &str) -> &'a Value {
    audit["machinesets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {audit}"))
}

#[test]
fn each_machineset_takes_its_own_os_stream() {
    let c = cluster();
    let kc = c.kubeconfig();

    let info = run_module("bootimage_info", &json!({"kubeconfig": kc}));
    assert_eq!(info.json["failed"], false, "{}", info.stdout);
    let stream = &info.json["stream"];
    assert_eq!(stream["available_os_streams"], json!(["rhel-10", "rhel-9"]));
    assert_eq!(stream["os_stream"], "rhel-9");
    assert_eq!(
        stream["os_stream_releases"]["rhel-10"]["x86_64"],
        "10.2.20260405-0"
    );
    for (name, os, target) in [
        ("w-unlabelled", "rhel-9", RHEL9_AMI),
        ("w-rhel9", "rhel-9", RHEL9_AMI),
        ("w-rhel10", "rhel-10", RHEL10_AMI),
    ] {
        let m = audited(&info.json, name);
        assert_eq!(m["os_stream"], os, "{m}");
        assert_eq!(m["target_image"], target, "{m}");
        assert_eq!(m["status"], "outdated", "{m}");
    }
    let custom = audited(&info.json, "w-custom");
    assert_eq!(custom["status"], "skipped");
    assert_eq!(custom["os_stream"], "custom-stream");
    assert!(
        custom["reason"]
            .as_str()
            .unwrap()
            .contains("not retargeted"),
        "{custom}"
    );
    assert_eq!(custom["target_image"], Value::Null);

    let dir = tempfile::tempdir().unwrap();
    let args = json!({"kubeconfig": kc, "record_path": dir.path().join("record.json")});
    let swap = run_module("machineset_bootimage", &args);
    assert_eq!(swap.json["changed"], true, "{}", swap.stdout);
    assert_eq!(ami(&c, "w-unlabelled"), RHEL9_AMI);
    assert_eq!(ami(&c, "w-rhel9"), RHEL9_AMI);
    assert_eq!(ami(&c, "w-rhel10"), RHEL10_AMI);
    assert_eq!(ami(&c, "w-custom"), OLD_AMI);
    assert_eq!(
        machineset(&swap.json, "w-rhel10")["after_build"],
        "10.2.20260405-0"
    );
    assert_eq!(machineset(&swap.json, "w-custom")["skipped"], true);
    assert!(swap.json["warnings"].to_string().contains("custom-stream"));

    let again = run_module("machineset_bootimage", &args);
    assert_eq!(again.json["changed"], false, "{}", again.stdout);
    let info = run_module("bootimage_info", &json!({"kubeconfig": kc}));
    for name in ["w-unlabelled", "w-rhel9", "w-rhel10"] {
        assert_eq!(audited(&info.json, name)["status"], "current");
    }
}

#[test]
fn an_explicit_image_never_moves_a_machineset_across_os_streams_unless_asked() {
    let c = cluster();
    let kc = c.kubeconfig();
    let check = |extra: Value| {
        let mut args = json!({"kubeconfig": kc, "_ansible_check_mode": true,
                              "machinesets": ["w-rhel9"], "image": RHEL10_AMI});
        for (k, v) in extra.as_object().unwrap() {
            args[k] = v.clone();
        }
        run_module("machineset_bootimage", &args)
    };
    let refused = check(json!({}));
    assert_eq!(refused.json["changed"], false, "{}", refused.stdout);
    let r = machineset(&refused.json, "w-rhel9");
    assert_eq!(r["skipped"], true);
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .contains("never moves across OS streams"),
        "{r}"
    );
    let allowed = check(json!({"allow_stream_change": true}));
    assert_eq!(allowed.json["changed"], true, "{}", allowed.stdout);
    assert_eq!(machineset(&allowed.json, "w-rhel9")["after"], RHEL10_AMI);
    assert_eq!(ami(&c, "w-rhel9"), OLD_AMI, "check mode wrote");
    // os_stream moves the default of unlabelled MachineSets, not across streams: the
    // unlabelled one boots a RHEL 9 build, so rhel-10 is refused for it too.
    let r = run_module(
        "machineset_bootimage",
        &json!({"kubeconfig": kc, "_ansible_check_mode": true, "os_stream": "rhel-10"}),
    );
    let unlabelled = machineset(&r.json, "w-unlabelled");
    assert_eq!(unlabelled["skipped"], true, "{unlabelled}");
    assert_eq!(machineset(&r.json, "w-rhel10")["after"], RHEL10_AMI);
    assert_eq!(machineset(&r.json, "w-rhel9")["after"], RHEL9_AMI);
}

#[test]
fn a_single_stream_file_applies_to_its_own_os_stream_only() {
    let c = cluster();
    let r = run_module(
        "bootimage_info",
        &json!({"kubeconfig": c.kubeconfig(), "stream_file": fixture("stream/coreos-rhel-10-4.22.json")}),
    );
    assert_eq!(r.json["stream"]["available_os_streams"], json!(["rhel-10"]));
    let ten = audited(&r.json, "w-rhel10");
    assert_eq!(ten["os_stream"], "rhel-10");
    assert!(
        ten["target_image"].as_str().unwrap().starts_with("ami-"),
        "{ten}"
    );
    let nine = audited(&r.json, "w-rhel9");
    assert_eq!(nine["status"], "skipped", "{nine}");
    assert!(nine["reason"]
        .as_str()
        .unwrap()
        .contains("no stream for OS stream \"rhel-9\""));
}
