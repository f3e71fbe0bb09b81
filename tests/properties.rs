//! Property-based tests (issue 6): the parsers never panic on arbitrary or mutated
//! input, build ids round-trip and order consistently, and the pure planners are
//! idempotent (apply the plan, plan again: nothing left to do).

mod common;

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::SystemTime;

use common::{fixture, objects_in, objects_under, root};
use ocp_bootimage::ignition::{convert_to_v3, inspect_user_data, Conversion, TargetVersion};
use ocp_bootimage::plan::change::apply_merge_patch;
use ocp_bootimage::plan::machineset::MachineSetContext;
use ocp_bootimage::plan::os_stream::OsStreams;
use ocp_bootimage::plan::rollback::plan_rollback;
use ocp_bootimage::plan::step::Decision;
use ocp_bootimage::plan::stub::plan_secret;
use ocp_bootimage::plan::swap::{plan_swap, SwapOptions};
use ocp_bootimage::platform::{Lookup, Platform};
use ocp_bootimage::stream::catalog::Catalog;
use ocp_bootimage::stream::model::StreamSet;
use ocp_bootimage::stream::parse::parse_stream_document;
use ocp_bootimage::stream::{Arch, BuildId};
use proptest::prelude::*;
use serde_json::{json, Value};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn stream_fixture_bytes() -> &'static Vec<Vec<u8>> {
    static S: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    S.get_or_init(|| {
        [
            "stream/rhcos-4.18.json",
            "stream/rhcos-4.12.json",
            "stream/coreos-rhel-9-4.22.json",
            "stream/rhcos-4.8.json",
            "stream/configmap/coreos-bootimages-5.0.yaml",
            "stream/configmap/coreos-bootimages-4.10.yaml",
        ]
        .iter()
        .map(|f| std::fs::read(fixture(f)).unwrap())
        .collect()
    })
}

fn ignition_fixture_bytes() -> &'static Vec<Vec<u8>> {
    static S: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    S.get_or_init(|| {
        let mut v = Vec::new();
        for e in std::fs::read_dir(fixture("ignition")).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                v.push(std::fs::read(p).unwrap());
            }
        }
        v.sort();
        v
    })
}

fn cert_fixture_bytes() -> &'static Vec<Vec<u8>> {
    static S: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    S.get_or_init(|| {
        let mut v: Vec<Vec<u8>> = std::fs::read_dir(fixture("certs"))
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        v.sort();
        v
    })
}

/// A byte mutation of one fixture: overwrite, insert, delete or truncate.
fn mutated(fixtures: &'static [Vec<u8>]) -> impl Strategy<Value = Vec<u8>> {
    (
        0..fixtures.len(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..8),
    )
        .prop_map(move |(i, edits)| {
            let mut b = fixtures[i].clone();
            for (at, byte, op) in edits {
                if b.is_empty() {
                    break;
                }
                let pos = at.index(b.len());
                match op {
                    0 => b[pos] = byte,
                    1 => b.insert(pos, byte),
                    2 => {
                        b.remove(pos);
                    }
                    _ => b.truncate(pos),
                }
            }
            b
        })
}

/// Arbitrary JSON values (small).
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[a-zA-Z0-9 ./:_-]{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "aws",
            "AWSMachineProviderConfig",
            "GCPMachineProviderSpec",
            "AzureMachineProviderSpec",
            "us-east-1",
            "ami-0123456789abcdef0",
            "x86_64",
            "arm64",
            "2.2.0",
            "3.1.0",
        ])
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "kind",
                    "apiVersion",
                    "metadata",
                    "name",
                    "spec",
                    "template",
                    "providerSpec",
                    "value",
                    "ami",
                    "id",
                    "placement",
                    "region",
                    "image",
                    "disks",
                    "osDisk",
                    "ignition",
                    "version",
                    "config",
                    "append",
                    "source",
                    "storage",
                    "files",
                    "userData",
                    "data",
                    "x",
                ]),
                inner,
                0..5,
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

/// A MachineSet-shaped value with arbitrary holes, to exercise the platform reader.
fn arb_machineset() -> impl Strategy<Value = Value> {
    (arb_json(), arb_json(), prop::sample::select(vec![
        "AWSMachineProviderConfig", "GCPMachineProviderSpec", "AzureMachineProviderSpec",
        "VSphereMachineProviderSpec", "OpenstackProviderSpec", "IBMCloudMachineProviderSpec",
        "NutanixMachineProviderConfig", "PowerVSMachineProviderConfig", "Unknown",
    ]))
        .prop_map(|(value, extra, kind)| {
            let mut v = if value.is_object() { value } else { json!({}) };
            v["kind"] = json!(kind);
            v["extra"] = extra;
            json!({"kind": "MachineSet", "metadata": {"name": "m"}, "spec": {"template": {"spec": {"providerSpec": {"value": v}}}}})
        })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn stream_parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_stream_document(&bytes);
    }

    #[test]
    fn stream_parser_never_panics_on_mutated_fixtures(bytes in mutated(stream_fixture_bytes())) {
        let _ = parse_stream_document(&bytes);
    }

    #[test]
    fn stream_parser_never_panics_on_json(v in arb_json()) {
        let _ = parse_stream_document(v.to_string().as_bytes());
        let _ = parse_stream_document(json!({"stream": "rhcos", "architectures": {"x86_64": v}}).to_string().as_bytes());
    }

    #[test]
    fn build_ids_round_trip(
        old in (1u32..10, 80u32..90, 2019u32..2100, 1u32..13, 1u32..29, 0u32..24, 0u32..60, 0u32..10),
        new in (10u32..30, 90u32..100, 2019u32..2100, 1u32..13, 1u32..29, 0u32..24, 0u32..60, 0u32..10),
    ) {
        for text in [
            format!("4{}.{}.{:04}{:02}{:02}{:02}{:02}.{}", old.0, old.1, old.2, old.3, old.4, old.5, old.6, old.7),
            format!("4{}.{}.{:04}{:02}{:02}{:02}{:02}-{}", new.0, new.1, new.2, new.3, new.4, new.5, new.6, new.7),
        ] {
            let b: BuildId = text.parse().map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            prop_assert_eq!(b.to_string(), text.clone());
            let again: BuildId = b.to_string().parse().unwrap();
            prop_assert_eq!(&again, &b);
            prop_assert_eq!(again.cmp(&b), std::cmp::Ordering::Equal);
        }
    }

    #[test]
    fn build_id_parser_never_panics(text in "[0-9.-]{0,40}|\\PC{0,40}") {
        if let Ok(b) = text.parse::<BuildId>() {
            let again: Result<BuildId, _> = b.to_string().parse();
            prop_assert_eq!(again.as_ref(), Ok(&b));
        }
        let _ = BuildId::from_marketplace_version(&text);
        let _ = BuildId::from_image_name(&text);
    }

    #[test]
    fn build_id_order_is_consistent(
        a in (8u32..10, 0u32..100, 0u64..3, 0u32..3),
        b in (8u32..10, 0u32..100, 0u64..3, 0u32..3),
        c in (8u32..10, 0u32..100, 0u64..3, 0u32..3),
    ) {
        let mk = |(ocp, rhel, t, serial): (u32, u32, u64, u32)| -> BuildId {
            let ts = 202_401_011_200u64 + t * 100;
            let text = if rhel % 2 == 0 {
                format!("4{ocp}.{}.{ts}-{serial}", 90 + rhel % 10)
            } else {
                format!("4{ocp}.{}.{ts}.{serial}", 80 + rhel % 10)
            };
            text.parse().unwrap()
        };
        let (a, b, c) = (mk(a), mk(b), mk(c));
        prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        prop_assert_eq!(a == b, a.cmp(&b) == std::cmp::Ordering::Equal);
        prop_assert_eq!(a.partial_cmp(&b), Some(a.cmp(&b)));
        if a <= b && b <= c {
            prop_assert!(a <= c);
        }
    }

    #[test]
    fn platform_reader_never_panics(ms in arb_machineset(), any_json in arb_json()) {
        for p in [None, Some(Platform::Aws), Some(Platform::Gcp), Some(Platform::Azure), Some(Platform::Vsphere)] {
            let _ = ocp_bootimage::platform::read(&ms, p);
            let _ = ocp_bootimage::platform::read(&any_json, p);
        }
    }

    #[test]
    fn ignition_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = inspect_user_data(&bytes);
        let _ = convert_to_v3(&bytes, TargetVersion::V3_1);
    }

    #[test]
    fn ignition_never_panics_and_converts_once(
        bytes in prop_oneof![mutated(ignition_fixture_bytes()), arb_json().prop_map(|v| json!({"ignition": v}).to_string().into_bytes())],
        target in prop::sample::select(TargetVersion::ALL.to_vec()),
    ) {
        let _ = inspect_user_data(&bytes);
        if let Ok(Conversion::Converted { bytes: out, .. }) = convert_to_v3(&bytes, target) {
            let again = convert_to_v3(&out, target);
            prop_assert!(matches!(again, Ok(Conversion::AlreadyV3 { .. })), "{:?}", again);
            let _ = inspect_user_data(&out);
        }
    }

    #[test]
    fn certificate_analysis_never_panics(
        crt in prop_oneof![prop::collection::vec(any::<u8>(), 0..512), mutated(cert_fixture_bytes())],
        ca in prop_oneof![prop::collection::vec(any::<u8>(), 0..256), mutated(cert_fixture_bytes())],
    ) {
        let now = SystemTime::now();
        let _ = ocp_bootimage::cert::analyze_mcs_certificate(&crt, &[], now);
        let _ = ocp_bootimage::cert::analyze_mcs_certificate(&crt, &[ca], now);
    }
}

#[test]
fn fixtures_convert_twice_to_already_v3() {
    for bytes in ignition_fixture_bytes() {
        for t in TargetVersion::ALL {
            if let Ok(Conversion::Converted { bytes: out, .. }) = convert_to_v3(bytes, t) {
                assert!(matches!(
                    convert_to_v3(&out, t),
                    Ok(Conversion::AlreadyV3 { .. })
                ));
            }
        }
    }
}

// ---- The planners: apply the plan, plan again → nothing left to do.

struct World {
    streams: StreamSet,
    machinesets: Vec<Value>,
    catalog: &'static Catalog,
    builds: BTreeMap<String, BuildId>,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let streams =
            parse_stream_document(&std::fs::read(fixture("stream/rhcos-4.18.json")).unwrap())
                .unwrap();
        let mut machinesets: Vec<Value> = objects_under(&root().join("examples/cluster-dump"))
            .into_iter()
            .filter(|o| o["kind"] == "MachineSet")
            .collect();
        for f in ["machinesets/aws", "machinesets/aws-arm64"] {
            for e in std::fs::read_dir(fixture(f)).unwrap() {
                machinesets.extend(
                    objects_in(&e.unwrap().path())
                        .into_iter()
                        .filter(|o| o["kind"] == "MachineSet"),
                );
            }
        }
        assert!(machinesets.len() >= 4);
        World {
            streams,
            machinesets,
            catalog: Catalog::embedded(),
            builds: BTreeMap::new(),
        }
    })
}

/// A MachineSet around the fixtures: a random fixture, region among the stream's, AMI
/// known (the stream's for some region/arch) or unknown.
fn arb_aws_machineset() -> impl Strategy<Value = (Value, bool)> {
    let w = world();
    let stream = w.streams.stream_for(None).unwrap();
    let mut regions: Vec<String> = Vec::new();
    let mut amis: Vec<String> = Vec::new();
    for a in stream.architectures.values() {
        for (r, img) in &a.aws_regions {
            regions.push(r.clone());
            amis.push(img.image.clone());
        }
    }
    regions.sort();
    regions.dedup();
    (
        0..w.machinesets.len(),
        prop::sample::select(regions),
        prop_oneof![prop::sample::select(amis), "ami-[0-9a-f]{17}"],
        any::<bool>(),
    )
        .prop_map(|(i, region, ami, allow_newer)| {
            let mut ms = world().machinesets[i].clone();
            let v = ms
                .pointer_mut("/spec/template/spec/providerSpec/value")
                .unwrap();
            v["placement"]["region"] = json!(region);
            v["ami"] = json!({"id": ami});
            (ms, allow_newer)
        })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn machineset_plan_is_idempotent((ms, allow_newer) in arb_aws_machineset(), explicit in prop::option::of("ami-[0-9a-f]{8}")) {
        let w = world();
        let ctx = MachineSetContext {
            cluster_platform: Some(Platform::Aws),
            cluster_arch: Some(Arch::X86_64),
            multi_arch: false,
            cluster_version: Some((4, 18)),
            streams: OsStreams::single(Ok(w.streams.stream_for(None).unwrap())),
            lookup: Lookup { catalog: w.catalog, image_builds: &w.builds },
            machine_configuration: None,
            infrastructure: None,
            stubs_needing_migration: Default::default(),
            stubs_unusable: Default::default(),
        };
        let mut opts = SwapOptions { allow_newer, ..SwapOptions::default() };
        if let Some(img) = explicit {
            opts.images.insert(String::new(), img);
        }
        if let Decision::Change(change, _) = plan_swap(&ms, &ctx, &opts) {
            let mut applied = ms.clone();
            apply_merge_patch(&mut applied, &change.patch().expect("a swap has a patch"));
            match plan_swap(&applied, &ctx, &opts) {
                Decision::Change(again, _) => prop_assert!(false, "planned again: {}", again.summary),
                Decision::Keep(_) | Decision::Skip(_) | Decision::Refuse(_) => {}
            }
            // Rolling the swap back, then planning the rollback again: nothing left.
            let entries = change.record_entries("run", "machineset_bootimage", "t");
            let newest_first: Vec<_> = entries.iter().rev().collect();
            let (rb, _) = plan_rollback(Some(&applied), &newest_first, false);
            let rb = rb.expect("the swap can be rolled back");
            let mut restored = applied.clone();
            apply_merge_patch(&mut restored, &rb.patch().expect("a restore has a patch"));
            prop_assert_eq!(&restored, &ms);
            let (again, _) = plan_rollback(Some(&restored), &newest_first, false);
            prop_assert!(again.is_none(), "rollback planned again: {:?}", again.map(|c| c.summary));
        }
    }
}

/// The property above is not vacuous: the shipped dump's MachineSets do plan swaps.
#[test]
fn fixtures_plan_swaps() {
    let w = world();
    let ctx = MachineSetContext {
        cluster_platform: Some(Platform::Aws),
        cluster_arch: Some(Arch::X86_64),
        multi_arch: false,
        cluster_version: Some((4, 18)),
        streams: OsStreams::single(Ok(w.streams.stream_for(None).unwrap())),
        lookup: Lookup {
            catalog: w.catalog,
            image_builds: &w.builds,
        },
        machine_configuration: None,
        infrastructure: None,
        stubs_needing_migration: Default::default(),
        stubs_unusable: Default::default(),
    };
    let swaps = w
        .machinesets
        .iter()
        .filter(|m| {
            matches!(
                plan_swap(m, &ctx, &SwapOptions::default()),
                Decision::Change(..)
            )
        })
        .count();
    assert!(swaps >= 1, "no fixture MachineSet plans a swap");
}

fn user_data_secrets() -> &'static Vec<Value> {
    static S: OnceLock<Vec<Value>> = OnceLock::new();
    S.get_or_init(|| {
        use base64::Engine;
        let mut v: Vec<Value> = objects_under(&root().join("examples/cluster-dump"))
            .into_iter()
            .filter(|o| o["kind"] == "Secret" && o.pointer("/data/userData").is_some())
            .collect();
        for e in std::fs::read_dir(fixture("ignition/secrets")).unwrap() {
            v.extend(objects_in(&e.unwrap().path()));
        }
        for (i, b) in ignition_fixture_bytes().iter().enumerate() {
            v.push(json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": format!("stub-{i}"), "namespace": "openshift-machine-api", "resourceVersion": "7"},
                "data": {"userData": base64::engine::general_purpose::STANDARD.encode(b), "disableTemplating": "dHJ1ZQ=="}}));
        }
        v
    })
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn stub_plan_is_idempotent(
        i in 0..user_data_secrets().len(),
        target in prop::sample::select(TargetVersion::ALL.to_vec()),
        create_new in any::<bool>(),
    ) {
        let secret = &user_data_secrets()[i];
        let name = secret["metadata"]["name"].as_str().unwrap().to_string();
        let machinesets: Vec<Value> = world().machinesets.iter().map(|m| {
            let mut m = m.clone();
            m["spec"]["template"]["spec"]["providerSpec"]["value"]["userDataSecret"] = json!({"name": name});
            m
        }).collect();
        let Ok((report, changes)) = plan_secret(secret, &machinesets, target, create_new) else {
            return Ok(());
        };
        if !report.changed {
            prop_assert!(changes.is_empty());
            return Ok(());
        }
        // The secret as written (in place) or the new secret (create_new): nothing left to do.
        let written = if create_new {
            changes[0].after.clone()
        } else {
            let mut s = secret.clone();
            apply_merge_patch(&mut s, &changes[0].patch().unwrap());
            s
        };
        let (again, more) = plan_secret(&written, &machinesets, target, false).unwrap();
        prop_assert!(!again.changed && more.is_empty(), "{:?}", again);
        // Rolling back in place, then again: nothing left.
        if !create_new {
            let entries = changes[0].record_entries("run", "stub_ignition", "t");
            let newest_first: Vec<_> = entries.iter().rev().collect();
            let (rb, _) = plan_rollback(Some(&written), &newest_first, false);
            let mut restored = written.clone();
            apply_merge_patch(&mut restored, &rb.unwrap().patch().unwrap());
            prop_assert_eq!(&restored, secret);
            let (rb2, _) = plan_rollback(Some(&restored), &newest_first, false);
            prop_assert!(rb2.is_none());
        }
    }
}
