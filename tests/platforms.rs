//! Every fixture MachineSet, read by the audit planner against a named stream
//! fixture: platform, architecture, region, current image and build, target and status.

mod common;

use std::collections::BTreeMap;

use common::fixture;
use ocp_bootimage::cluster::{Reads, Selection};
use ocp_bootimage::kube::{dump, observe};
use ocp_bootimage::plan::{audit, AuditInput, AuditOptions, StreamSource};
use ocp_bootimage::stream::{BuildId, Catalog};
use serde_json::Value;

/// Audits the MachineSets of one fixture file against one stream fixture.
fn audit_of(ms_file: &str, stream_file: &str, namespace: &str, options: AuditOptions) -> Value {
    audit_with(&[ms_file], stream_file, None, namespace, options)
}

fn audit_with(
    files: &[&str],
    stream_file: &str,
    marketplace: Option<&str>,
    namespace: &str,
    options: AuditOptions,
) -> Value {
    let mut d = dump::Dump::default();
    for f in files {
        d.objects.extend(dump::load(&fixture(f)).unwrap().objects);
    }
    let snapshot = observe::from_dump(
        &d,
        &Selection {
            namespace: namespace.into(),
            ..Selection::default()
        },
        Reads::ALL,
    );
    let mut set = ocp_bootimage::stream_file::read_stream_file(&fixture(stream_file)).unwrap();
    if let Some(m) = marketplace {
        set.add_marketplace(
            &ocp_bootimage::stream_file::read_stream_file(&fixture(m))
                .unwrap()
                .default,
        );
    }
    let report = audit(&AuditInput {
        snapshot: &snapshot,
        streams: Ok((&set, StreamSource::File, Some(stream_file.into()))),
        catalog: Catalog::embedded(),
        options: &options,
        now: std::time::SystemTime::now(),
    });
    serde_json::to_value(report).unwrap()
}

fn only(report: &Value) -> &Value {
    let sets = report["machinesets"].as_array().unwrap();
    assert_eq!(sets.len(), 1, "{report}");
    &sets[0]
}

fn check(ms: &Value, expect: &[(&str, Value)]) {
    for (k, v) in expect {
        assert_eq!(&ms[*k], v, "field {k} of {}", ms);
    }
}

fn n() -> Value {
    Value::Null
}
fn s(v: &str) -> Value {
    Value::String(v.into())
}

const ARM: &str = "machinesets/aws-arm64/openshift-release-build09-worker-aarch64.yaml";
const B01: &str = "machinesets/aws/openshift-release-build01-9hdwj-worker-us-east-1a.yaml";
const NS: &str = "openshift-machine-api";

#[test]
fn aws_arm64_build09_is_the_418_aarch64_us_east_2_image() {
    let r = audit_of(
        ARM,
        "stream/rhcos-4.18-at-e3b4c94fca.json",
        NS,
        AuditOptions::default(),
    );
    let sets = r["machinesets"].as_array().unwrap();
    assert_eq!(sets.len(), 3);
    for ms in sets {
        check(
            ms,
            &[
                ("platform", s("aws")),
                // No arch annotation: the AMI itself is a known aarch64 image.
                ("architecture", s("aarch64")),
                ("region", s("us-east-2")),
                ("current_image", s("ami-0b04071739ccf4af2")),
                ("current_build", s("418.94.202501221327-0")),
                ("target_image", s("ami-0b04071739ccf4af2")),
                ("target_build", s("418.94.202501221327-0")),
                ("status", s("current")),
                ("reason", n()),
                ("user_data_secret", s("worker-user-data")),
            ],
        );
    }
    // The MachineAutoscalers interleaved in the same file are read too.
    assert_eq!(
        r["autoscaling"]["machine_autoscalers"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // Against the 4.18 branch tip the same image is outdated.
    let r = audit_of(ARM, "stream/rhcos-4.18.json", NS, AuditOptions::default());
    check(
        &r["machinesets"][0],
        &[
            ("status", s("outdated")),
            ("target_build", s("418.94.202602022246-0")),
        ],
    );
}

#[test]
fn aws_build01_is_the_43_legacy_image() {
    let r = audit_of(
        B01,
        "stream/legacy/rhcos-4.3-at-4cb41cd581.json",
        NS,
        AuditOptions::default(),
    );
    check(
        only(&r),
        &[
            ("platform", s("aws")),
            ("architecture", s("x86_64")),
            ("region", s("us-east-1")),
            ("current_image", s("ami-06f85a7940faa3217")),
            ("current_build", s("43.81.202001142154.0")),
            ("target_image", s("ami-06f85a7940faa3217")),
            ("status", s("current")),
        ],
    );
    let r = audit_of(B01, "stream/rhcos-4.18.json", NS, AuditOptions::default());
    check(
        only(&r),
        &[
            ("current_build", s("43.81.202001142154.0")),
            ("target_image", s("ami-06ba758975c79332b")),
            ("target_build", s("418.94.202602022246-0")),
            ("status", s("outdated")),
        ],
    );
}

#[test]
fn gcp_build02_rhcos_cloud_image() {
    let f = "machinesets/gcp/openshift-release-build02-build0-gstfj-w-b.yaml";
    let r = audit_of(
        f,
        "stream/legacy/rhcos-4.6-at-ffd717dbf.json",
        NS,
        AuditOptions::default(),
    );
    check(
        only(&r),
        &[
            ("platform", s("gcp")),
            ("region", s("us-east1")),
            (
                "current_image",
                s("projects/rhcos-cloud/global/images/rhcos-46-82-202011260640-0-gcp-x86-64"),
            ),
            ("current_build", s("46.82.202011260640-0")),
            ("status", s("current")),
            ("user_data_secret", s("worker-user-data-ignv3")),
        ],
    );
    let r = audit_of(f, "stream/rhcos-4.16.json", NS, AuditOptions::default());
    let ms = only(&r);
    assert_eq!(ms["status"], "outdated");
    assert!(
        ms["target_image"]
            .as_str()
            .unwrap()
            .starts_with("projects/rhcos-cloud/global/images/rhcos-416-94-"),
        "{ms}"
    );
}

#[test]
fn gcp_cluster_local_images_are_unknown_without_a_mapping() {
    for f in [
        "machinesets/gcp/insights-sample-ci-ln-fyvthbt-f76d1-nl2fh-worker-b.json",
        "machinesets/gcp/insights-sample-ci-ln-fyvthbt-f76d1-nl2fh-worker-c.json",
    ] {
        let r = audit_of(f, "stream/rhcos-4.12.json", NS, AuditOptions::default());
        let ms = only(&r);
        check(
            ms,
            &[
                ("platform", s("gcp")),
                ("current_image", s("ci-ln-fyvthbt-f76d1-nl2fh-rhcos-image")),
                ("current_build", n()),
                ("status", s("unknown")),
            ],
        );
        assert!(ms["reason"]
            .as_str()
            .unwrap()
            .contains("cannot be determined"));
        assert!(ms["target_image"]
            .as_str()
            .unwrap()
            .contains("rhcos-412-86-"));
    }
    // With the user's mapping, the build is known.
    let mut image_builds = BTreeMap::new();
    image_builds.insert(
        "ci-ln-fyvthbt-f76d1-nl2fh-rhcos-image".to_string(),
        "46.82.202010011740-0".parse::<BuildId>().unwrap(),
    );
    let r = audit_of(
        "machinesets/gcp/insights-sample-ci-ln-fyvthbt-f76d1-nl2fh-worker-b.json",
        "stream/rhcos-4.12.json",
        NS,
        AuditOptions {
            image_builds,
            ..AuditOptions::default()
        },
    );
    check(
        only(&r),
        &[
            ("current_build", s("46.82.202010011740-0")),
            ("status", s("outdated")),
        ],
    );
}

#[test]
fn azure_resource_id_images_need_an_upload() {
    for f in [
        "machinesets/azure/installer-generated-communityus-worker-machineset-0.yaml",
        "machinesets/azure/installer-generated-communityus-worker-machineset-1.yaml",
    ] {
        let r = audit_of(f, "stream/rhcos-4.14.json", NS, AuditOptions::default());
        let ms = only(&r);
        check(ms, &[
            ("platform", s("azure")),
            ("region", s("westus2")),
            ("current_image", s("/resourceGroups/ocp4-9p5nn-rg/providers/Microsoft.Compute/images/ocp4-9p5nn")),
            ("target_image", n()),
            ("status", s("unknown")),
        ]);
        assert!(
            ms["target_build"].as_str().unwrap().starts_with("414.92."),
            "{ms}"
        );
        assert!(ms["action"].as_str().unwrap().contains("VHD"), "{ms}");
    }
}

#[test]
fn azure_aro_marketplace_is_read_and_the_cluster_is_managed() {
    let f = "machinesets/azure/aro-marketplace-aro4-heredoc-extract.yaml";
    let r = audit_with(
        &[f],
        "stream/rhcos-4.20.json",
        Some("stream/marketplace-rhcos-4.20.json"),
        NS,
        AuditOptions::default(),
    );
    check(
        only(&r),
        &[
            ("platform", s("azure")),
            ("region", s("eastus")),
            (
                "current_image",
                s("azureopenshift:aro4:aro_411:411.86.20221004"),
            ),
            ("current_build", s("411.86.20221004")),
            (
                "target_image",
                s("azureopenshift:aro4:aro_420:9.6.20251015"),
            ),
            ("status", s("outdated")),
        ],
    );
    assert_eq!(r["cluster"]["managed"], true);
    assert!(r["cluster"]["managed_reason"]
        .as_str()
        .unwrap()
        .starts_with("ARO"));
    // Without marketplace data there is no target, and the reason says what to give.
    let r = audit_of(f, "stream/rhcos-4.20.json", NS, AuditOptions::default());
    let ms = only(&r);
    assert_eq!(ms["status"], "unknown");
    assert!(
        ms["reason"].as_str().unwrap().contains("marketplace"),
        "{ms}"
    );
}

#[test]
fn vsphere_template_needs_a_mapping_or_a_build_in_its_name() {
    let f = "machinesets/vsphere/installer-generated-4.9-ocp-cl02-worker-machineset-0.yaml";
    let r = audit_of(f, "stream/rhcos-4.9.json", NS, AuditOptions::default());
    let ms = only(&r);
    check(
        ms,
        &[
            ("platform", s("vsphere")),
            ("current_image", s("ocp-cl02-xdqkk-rhcos")),
            ("current_build", n()),
            ("target_image", n()),
            ("status", s("unknown")),
        ],
    );
    let vmware = ms["target_build"].as_str().unwrap().to_string();
    assert!(vmware.starts_with("49.84."), "{vmware}");
    let mut image_builds = BTreeMap::new();
    image_builds.insert(
        "ocp-cl02-xdqkk-rhcos".to_string(),
        vmware.parse::<BuildId>().unwrap(),
    );
    let r = audit_of(
        f,
        "stream/rhcos-4.9.json",
        NS,
        AuditOptions {
            image_builds,
            ..AuditOptions::default()
        },
    );
    check(
        only(&r),
        &[("current_build", s(&vmware)), ("status", s("current"))],
    );
}

#[test]
fn openstack_ibmcloud_and_powervs_targets_are_builds() {
    let r = audit_of(
        "machinesets/openstack/installer-generated-opentlc-worker-machineset-0.yaml",
        "stream/rhcos-4.12.json",
        NS,
        AuditOptions::default(),
    );
    let ms = only(&r);
    check(
        ms,
        &[
            ("platform", s("openstack")),
            ("current_image", s("76f2-5s6hr-rhcos")),
            ("status", s("unknown")),
        ],
    );
    assert!(ms["action"].as_str().unwrap().contains("Glance"));
    assert!(ms["target_build"].as_str().unwrap().starts_with("412.86."));

    let r = audit_of(
        "machinesets/ibmcloud/machine-api-provider-ibmcloud-example.yaml",
        "stream/rhcos-4.12.json",
        NS,
        AuditOptions::default(),
    );
    check(
        only(&r),
        &[
            ("platform", s("ibmcloud")),
            ("region", s("us-south")),
            ("current_image", s("rhcos-ibmcloud-qcow")),
            ("status", s("unknown")),
        ],
    );

    let r = audit_of(
        "machinesets/powervs/machine-api-provider-powervs-example.yaml",
        "stream/rhcos-4.18.json",
        NS,
        AuditOptions::default(),
    );
    check(
        only(&r),
        &[
            ("platform", s("powervs")),
            ("architecture", s("ppc64le")),
            ("current_image", s("rhcos-49-84-202108041519-0")),
            ("current_build", s("49.84.202108041519-0")),
            ("target_build", s("418.94.202602022246-0")),
            ("status", s("outdated")),
        ],
    );
}

#[test]
fn nutanix_without_an_image_is_skipped() {
    let r = audit_of(
        "machinesets/nutanix/machine-api-provider-nutanix-worker-machineset.yaml",
        "stream/rhcos-4.18.json",
        "default",
        AuditOptions::default(),
    );
    let ms = only(&r);
    check(
        ms,
        &[
            ("platform", s("nutanix")),
            ("status", s("skipped")),
            ("user_data_secret", s("worker-userdata-secret")),
        ],
    );
    assert!(ms["reason"].as_str().unwrap().contains("no image"));
}

#[test]
fn skip_rules_owned_windows_confidential_and_ami_filters() {
    let base: Value =
        serde_yaml::from_str(&std::fs::read_to_string(fixture(B01)).unwrap()).unwrap();
    let mut owned = base.clone();
    owned["metadata"]["name"] = s("owned");
    owned["metadata"]["ownerReferences"] = serde_json::json!([{"kind": "ClusterDeployment", "name": "hive-x", "apiVersion": "hive.openshift.io/v1", "uid": "1"}]);
    let mut windows = base.clone();
    windows["metadata"]["name"] = s("windows");
    windows["metadata"]["labels"]["machine.openshift.io/os-id"] = s("Windows");
    let mut filters = base.clone();
    filters["metadata"]["name"] = s("filters");
    filters["spec"]["template"]["spec"]["providerSpec"]["value"]["ami"] =
        serde_json::json!({"filters": [{"name": "name", "values": ["rhcos-*"]}]});
    let azure: Value = serde_yaml::from_str(
        &std::fs::read_to_string(fixture(
            "machinesets/azure/installer-generated-communityus-worker-machineset-0.yaml",
        ))
        .unwrap(),
    )
    .unwrap();
    let mut confidential = azure.clone();
    confidential["metadata"]["name"] = s("confidential");
    confidential["spec"]["template"]["spec"]["providerSpec"]["value"]["securityProfile"] =
        serde_json::json!({"settings": {"securityType": "ConfidentialVM"}});
    let mut arm_annotated = base.clone();
    arm_annotated["metadata"]["name"] = s("bad-arch");
    arm_annotated["metadata"]["annotations"] = serde_json::json!({"capacity.cluster-autoscaler.kubernetes.io/labels": "kubernetes.io/arch=mips"});
    let dir = tempfile::tempdir().unwrap();
    for (i, o) in [owned, windows, filters, confidential, arm_annotated]
        .iter()
        .enumerate()
    {
        std::fs::write(
            dir.path().join(format!("{i}.json")),
            serde_json::to_string(o).unwrap(),
        )
        .unwrap();
    }
    let d = dump::load(dir.path()).unwrap();
    let snapshot = observe::from_dump(
        &d,
        &Selection {
            namespace: NS.into(),
            ..Selection::default()
        },
        Reads::ALL,
    );
    let set =
        ocp_bootimage::stream_file::read_stream_file(&fixture("stream/rhcos-4.18.json")).unwrap();
    let report = audit(&AuditInput {
        snapshot: &snapshot,
        streams: Ok((&set, StreamSource::File, None)),
        catalog: Catalog::embedded(),
        options: &AuditOptions::default(),
        now: std::time::SystemTime::now(),
    });
    let by_name: BTreeMap<&str, _> = report
        .machinesets
        .iter()
        .map(|m| (m.name.as_str(), m))
        .collect();
    for (name, fragment) in [
        ("owned", "owned by ClusterDeployment/hive-x"),
        ("windows", "Windows"),
        ("filters", "ARN or filters"),
        ("confidential", "confidential VM"),
        ("bad-arch", "unknown architecture"),
    ] {
        let m = by_name[name];
        assert_eq!(serde_json::to_value(m.status).unwrap(), "skipped", "{name}");
        assert!(
            m.reason.as_deref().unwrap().contains(fragment),
            "{name}: {:?}",
            m.reason
        );
        assert!(
            report.warnings.iter().any(|w| w.contains(name)),
            "{name} not in warnings"
        );
    }
}

#[test]
fn a_stream_newer_than_the_cluster_gives_no_targets() {
    let r = audit_with(
        &[B01, "cluster/resourcewatch-sno-v2-clusterversion.yaml"],
        "stream/rhcos-4.18.json",
        None,
        NS,
        AuditOptions::default(),
    );
    assert_eq!(
        r["cluster"]["version"].as_str().unwrap().get(..4),
        Some("4.13")
    );
    let ms = only(&r);
    assert_eq!(ms["status"], "unknown");
    assert!(
        ms["reason"]
            .as_str()
            .unwrap()
            .contains("newer than the cluster"),
        "{ms}"
    );
}

#[test]
fn a_boot_image_newer_than_the_cluster_is_flagged() {
    // build09's 4.18 image in a cluster that runs 4.13.
    let r = audit_with(
        &[ARM, "cluster/resourcewatch-sno-v2-clusterversion.yaml"],
        "stream/rhcos-4.13.json",
        None,
        NS,
        AuditOptions::default(),
    );
    let ms = &r["machinesets"][0];
    assert_eq!(ms["status"], "newer_than_cluster", "{ms}");
    assert_eq!(r["compliant"], false);
}

#[test]
fn mco_managed_boot_images_are_detected() {
    let with = |mc: &str| {
        let r = audit_with(
            &[B01, mc],
            "stream/rhcos-4.18.json",
            None,
            NS,
            AuditOptions::default(),
        );
        r["machinesets"][0]["mco_managed"].as_bool().unwrap()
    };
    assert!(with(
        "machineconfiguration/mco-template-managedbootimages-all.yaml"
    ));
    assert!(!with(
        "machineconfiguration/mco-template-managedbootimages-none.yaml"
    ));
    assert!(!with(
        "machineconfiguration/mco-template-managedbootimages-empty.yaml"
    ));
    // Partial: selects MachineSets labelled test=boot; build01's set has no such label.
    assert!(!with(
        "machineconfiguration/mco-template-managedbootimages-partial.yaml"
    ));
}
