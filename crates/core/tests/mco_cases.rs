//! MCO's boot image controller cases (`tests/data/mco-bootimage-cases.yaml`: inputs and
//! MCO's outcome, with provenance) run through the assessment and the swap plan. Where
//! this tool deliberately decides otherwise the case says so (`ours`, `differs`), and
//! docs/decisions.md explains why.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ocp_bootimage_core::cluster::resources;
use ocp_bootimage_core::plan::machineset::{assess, MachineSetContext, Status};
use ocp_bootimage_core::plan::os_stream::OsStreams;
use ocp_bootimage_core::plan::step::Decision;
use ocp_bootimage_core::plan::swap::{plan_swap, SwapOptions};
use ocp_bootimage_core::platform::{Lookup, Platform};
use ocp_bootimage_core::stream::{
    parse_configmap, parse_stream_document, Arch, Catalog, StreamSet,
};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
struct File {
    commit: String,
    streams: BTreeMap<String, Value>,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    id: String,
    source: BTreeMap<String, String>,
    platform: String,
    version: String,
    #[serde(default)]
    arch: Option<String>,
    stream: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    template_labels: BTreeMap<String, String>,
    provider_spec: Value,
    #[serde(default)]
    infrastructure: Option<Value>,
    #[serde(default)]
    machine_configuration: Option<String>,
    #[serde(default)]
    stub: Option<String>,
    #[serde(default)]
    explicit_image: Option<String>,
    mco: Expect,
    #[serde(default)]
    ours: Option<Expect>,
    #[serde(default)]
    differs: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Expect {
    outcome: String,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    os_stream: Option<String>,
    #[serde(default)]
    mco_managed: Option<bool>,
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn load() -> File {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/mco-bootimage-cases.yaml");
    serde_yaml::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn stream_set(file: &File, name: &str) -> StreamSet {
    if let Some(rel) = name.strip_prefix("fixture:") {
        let bytes = std::fs::read(fixtures().join(rel)).unwrap();
        if rel.ends_with(".yaml") {
            let cm: Value = serde_yaml::from_slice(&bytes).unwrap();
            return parse_configmap(&cm).unwrap();
        }
        return parse_stream_document(&bytes).unwrap();
    }
    let doc = serde_json::to_vec(&file.streams[name]).unwrap();
    parse_stream_document(&doc).unwrap()
}

fn machineset(case: &Case) -> Value {
    let mut annotations = json!({});
    if let Some(a) = &case.arch {
        annotations["capacity.cluster-autoscaler.kubernetes.io/labels"] =
            json!(format!("kubernetes.io/arch={a}"));
    }
    let mut spec = case.provider_spec.clone();
    if spec.get("userDataSecret").is_none() {
        spec["userDataSecret"] = json!({"name": "worker-user-data"});
    }
    json!({
        "apiVersion": "machine.openshift.io/v1beta1",
        "kind": "MachineSet",
        "metadata": {"name": case.id, "namespace": "openshift-machine-api",
                     "labels": case.labels, "annotations": annotations},
        "spec": {"replicas": 1, "template": {
            "metadata": {"labels": case.template_labels},
            "spec": {"providerSpec": {"value": spec}}}}
    })
}

fn machine_configuration(which: Option<&str>) -> Option<Value> {
    which.map(|mode| {
        assert_eq!(mode, "all");
        json!({"status": {"managedBootImagesStatus": {"machineManagers": [
            {"resource": "machinesets", "apiGroup": "machine.openshift.io",
             "selection": {"mode": "All"}}]}}})
    })
}

/// What the planner decides for a case, in the file's terms.
fn decide(file: &File, case: &Case) -> (Expect, String) {
    let set = stream_set(file, &case.stream);
    let ms = machineset(case);
    let mc = machine_configuration(case.machine_configuration.as_deref());
    let builds = BTreeMap::new();
    let stubs_unusable = match case.stub.as_deref() {
        Some("missing") => {
            BTreeMap::from([("worker-user-data".to_string(), "does not exist".to_string())])
        }
        None => BTreeMap::new(),
        Some(other) => panic!("unknown stub {other}"),
    };
    let version = case
        .version
        .split_once('.')
        .map(|(a, b)| (a.parse().unwrap(), b.parse().unwrap()));
    let ctx = MachineSetContext {
        cluster_platform: Platform::from_infrastructure_type(&case.platform),
        cluster_arch: Some(Arch::X86_64),
        multi_arch: false,
        cluster_version: version,
        streams: OsStreams::of_set(&set, None, Ok),
        lookup: Lookup {
            catalog: Catalog::embedded(),
            image_builds: &builds,
        },
        machine_configuration: mc.as_ref(),
        infrastructure: case.infrastructure.as_ref(),
        stubs_needing_migration: BTreeMap::new(),
        stubs_unusable,
    };
    let report = assess(&ms, &ctx);
    let mut opts = SwapOptions::default();
    if let Some(i) = &case.explicit_image {
        opts.images.insert(String::new(), i.clone());
    }
    let (outcome, image, reason) = match plan_swap(&ms, &ctx, &opts) {
        Decision::Change(change, r) => {
            assert_eq!(change.kind, resources::MACHINE_SET);
            ("update", r.after.clone(), r.reason.clone())
        }
        Decision::Keep(r) => ("unchanged", None, r.reason.clone()),
        Decision::Skip(r) | Decision::Refuse(r) => {
            let o = if report.status == Status::Skipped {
                "skipped"
            } else {
                "left"
            };
            (o, None, r.reason.clone())
        }
    };
    let status = serde_json::to_value(report.status)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    let got = Expect {
        outcome: outcome.to_string(),
        image,
        status: Some(status),
        reason: reason.clone().or(report.reason.clone()),
        os_stream: report.os_stream.clone(),
        mco_managed: Some(report.mco_managed),
    };
    (got, format!("{report:?}"))
}

#[test]
fn mco_cases_run_through_the_planner() {
    let file = load();
    assert_eq!(file.commit.len(), 40);
    assert!(file.cases.len() >= 30, "{} cases", file.cases.len());
    let mut failures = Vec::new();
    for case in &file.cases {
        assert!(
            case.source.contains_key("test") || case.source.contains_key("code"),
            "{}: no provenance",
            case.id
        );
        let want = case.ours.clone().unwrap_or_else(|| case.mco.clone());
        let ours_differs = want.outcome != case.mco.outcome || want.image != case.mco.image;
        if ours_differs != case.differs.is_some() {
            failures.push(format!(
                "{}: `differs` must be given exactly when ours ({} {:?}) differs from MCO ({} {:?})",
                case.id, want.outcome, want.image, case.mco.outcome, case.mco.image
            ));
        }
        let (got, detail) = decide(&file, case);
        let mut bad = Vec::new();
        if got.outcome != want.outcome {
            bad.push(format!("outcome {} (want {})", got.outcome, want.outcome));
        }
        if want.image.is_some() && got.image != want.image {
            bad.push(format!("image {:?} (want {:?})", got.image, want.image));
        }
        if want.status.is_some() && got.status != want.status {
            bad.push(format!("status {:?} (want {:?})", got.status, want.status));
        }
        if let Some(r) = &want.reason {
            if !got
                .reason
                .as_deref()
                .unwrap_or_default()
                .contains(r.as_str())
            {
                bad.push(format!("reason {:?} lacks {r:?}", got.reason));
            }
        }
        if want.os_stream.is_some() && got.os_stream != want.os_stream {
            bad.push(format!(
                "os_stream {:?} (want {:?})",
                got.os_stream, want.os_stream
            ));
        }
        if want.mco_managed.is_some() && got.mco_managed != want.mco_managed {
            bad.push(format!(
                "mco_managed {:?} (want {:?})",
                got.mco_managed, want.mco_managed
            ));
        }
        if !bad.is_empty() {
            failures.push(format!(
                "{}: {} — reason {:?}\n    {detail}",
                case.id,
                bad.join("; "),
                got.reason
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
