//! `machineset_bootimage`: swaps each selected MachineSet's boot image to the one
//! the stream names for its platform, region and architecture (or an explicit
//! `image`), never newer than the cluster, recording every old value first.
//!
//! Planning is [`plan_swap`], a pure function of one MachineSet and the
//! assessment context; it also re-plans after a 409.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::bootimage_info::{audit_input, load_streams, selection_and_options};
use super::common::{managed_guard, outcome, WriteParams};
use crate::ansible::{Module, ModuleContext, ModuleError, ModuleOutcome};
use crate::cluster::{name_of, resources, Part, Reads};
use crate::kube::apply::Applier;
use crate::kube::client::get;
use crate::kube::observe;
use crate::kube::ConnectionParams;
use crate::plan::audit::{machineset_context, skip_warnings};
use crate::plan::cluster::{cluster_info, ocp_minor};
use crate::plan::machineset::{assess, MachineSetContext, Status};
use crate::plan::{ObjectChange, StreamSource};
use crate::platform::{self, BootImage, Platform};
use crate::stream::BuildId;

/// Options of `machineset_bootimage`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Params {
    #[serde(flatten)]
    pub connection: ConnectionParams,
    #[serde(flatten)]
    pub write: WriteParams,
    /// Namespace of the MachineSets (and of the rollback record Secret).
    #[serde(default = "super::common::default_namespace")]
    pub namespace: String,
    /// Only these MachineSets (names). Default: every MachineSet in `namespace`.
    #[serde(default)]
    pub machinesets: Vec<String>,
    /// Only MachineSets matching this label selector.
    pub label_selector: Option<String>,
    /// Stream metadata for the targets (`openshift-install coreos print-stream-json` output,
    /// a legacy rhcos.json or a ConfigMap file). Default: the cluster's `coreos-bootimages` ConfigMap.
    #[schemars(extend("x-ansible-type" = "path"))]
    pub stream_file: Option<PathBuf>,
    /// Azure marketplace data to add to the stream (`marketplace-rhcos.json`).
    #[schemars(extend("x-ansible-type" = "path"))]
    pub marketplace_file: Option<PathBuf>,
    /// OS stream of a multi-stream ConfigMap (`rhel-9`, `rhel-10`).
    pub os_stream: Option<String>,
    /// Explicit target image for platforms the stream cannot name (vSphere template,
    /// OpenStack/Nutanix/IBM Cloud/PowerVS image name, a custom AMI): one value for every
    /// selected MachineSet, or a dict MachineSet name → image. Azure takes
    /// `publisher:offer:sku:version` or a resource id; GCP `projects/<p>/global/images/<n>`.
    #[schemars(extend("x-ansible-type" = "raw"))]
    pub image: Option<Value>,
    /// Image or template name → build id, for current images whose build cannot be read.
    #[serde(default)]
    pub image_builds: BTreeMap<String, String>,
    /// The cluster's architecture, when ClusterVersion does not tell it.
    pub architecture: Option<String>,
    /// Accept a target from a newer OpenShift minor than the cluster's (unsupported: boot
    /// images must not be newer than the cluster).
    #[serde(default)]
    pub allow_newer: bool,
    /// Also change MachineSets whose boot images the Machine Config Operator manages
    /// (MachineConfiguration `managedBootImages`); by default they are skipped so the tool
    /// never fights MCO.
    #[serde(default)]
    pub include_mco_managed: bool,
    /// Also change the ControlPlaneMachineSet `cluster`.
    #[serde(default)]
    pub include_control_plane: bool,
    /// Plan as if every spec 2.x stub Ignition secret had been migrated already, to preview
    /// in check mode what an update that runs `stub_ignition` first would change (as
    /// `audit.yml` does). Check mode only: a real run always skips a MachineSet whose stub
    /// is still spec 2.x.
    #[serde(default)]
    pub assume_stubs_migrated: bool,
}

/// One MachineSet's swap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SwapReport {
    pub name: String,
    /// `MachineSet` or `ControlPlaneMachineSet`.
    pub kind: String,
    pub platform: Option<Platform>,
    /// The image before (AMI, GCP path, Azure URN or resource id, template, name).
    pub before: Option<String>,
    /// The image after (equal to `before` when unchanged or skipped).
    pub after: Option<String>,
    pub before_build: Option<String>,
    pub after_build: Option<String>,
    /// Whether this run changed (or in check mode would change) it.
    pub changed: bool,
    pub skipped: bool,
    /// Why it was skipped or left as is.
    pub reason: Option<String>,
}

/// Return values of `machineset_bootimage`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Output {
    pub machinesets: Vec<SwapReport>,
    /// The run id the record entries carry (pass it to `rollback`).
    pub run_id: String,
    /// Where the rollback record is (`Secret ns/name` or `file path`).
    pub record: String,
}

/// Swap settings that are not about reading.
#[derive(Debug, Clone, Default)]
pub struct SwapOptions {
    /// MachineSet name → explicit image ("" key: every MachineSet).
    pub images: BTreeMap<String, String>,
    pub allow_newer: bool,
    pub include_mco_managed: bool,
    /// Plan as if the spec 2.x stubs were migrated (check-mode previews only).
    pub assume_stubs_migrated: bool,
}

impl SwapOptions {
    fn image_for(&self, name: &str) -> Option<&str> {
        self.images
            .get(name)
            .or_else(|| self.images.get(""))
            .map(String::as_str)
    }
}

/// The decision for one MachineSet.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Swap(Box<ObjectChange>, SwapReport),
    Keep(SwapReport),
    Skip(SwapReport),
}

/// Where the provider spec sits in a MachineSet or a ControlPlaneMachineSet.
fn provider_pointer(kind: &str) -> &'static str {
    if kind == "ControlPlaneMachineSet" {
        "/spec/template/machines_v1beta1_machine_openshift_io/spec/providerSpec/value"
    } else {
        "/spec/template/spec/providerSpec/value"
    }
}

/// A ControlPlaneMachineSet seen as a MachineSet (same provider spec), for assessment.
fn as_machineset(obj: &Value) -> Value {
    if obj.get("kind").and_then(Value::as_str) != Some("ControlPlaneMachineSet") {
        return obj.clone();
    }
    let spec = obj
        .pointer("/spec/template/machines_v1beta1_machine_openshift_io/spec")
        .cloned()
        .unwrap_or(Value::Null);
    serde_json::json!({"metadata": obj.get("metadata").cloned().unwrap_or(Value::Null), "spec": {"template": {"spec": spec}}})
}

/// Plans the swap of one MachineSet (or ControlPlaneMachineSet). Pure.
pub fn plan_swap(obj: &Value, ctx: &MachineSetContext, opts: &SwapOptions) -> Decision {
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("MachineSet")
        .to_string();
    let r = assess(&as_machineset(obj), ctx);
    let mut report = SwapReport {
        name: r.name.clone(),
        kind: kind.clone(),
        platform: r.platform,
        before: r.current_image.clone(),
        after: r.current_image.clone(),
        before_build: r.current_build.clone(),
        after_build: r.current_build.clone(),
        changed: false,
        skipped: false,
        reason: None,
    };
    let skip = |mut report: SwapReport, why: String| {
        report.skipped = true;
        report.reason = Some(why);
        Decision::Skip(report)
    };
    if r.status == Status::Skipped {
        return skip(report, r.reason.unwrap_or_default());
    }
    if kind == "ControlPlaneMachineSet" {
        // An Active CPMS with RollingUpdate/Recreate replaces every control plane machine
        // when its provider spec deviates from the machines (MCO PR 5332): boot images
        // only change safely under OnDelete (or an Inactive CPMS).
        let state = obj
            .pointer("/spec/state")
            .and_then(Value::as_str)
            .unwrap_or("Active");
        let strategy = obj
            .pointer("/spec/strategy/type")
            .and_then(Value::as_str)
            .unwrap_or("RollingUpdate");
        if state == "Active" && strategy != "OnDelete" {
            return skip(
                report,
                format!(
                    "changing the ControlPlaneMachineSet's image under strategy {strategy} would replace every \
                     control plane machine; set spec.strategy.type to OnDelete first"
                ),
            );
        }
    }
    let Some(platform) = r.platform else {
        return skip(
            report,
            r.reason.unwrap_or_else(|| "unknown platform".into()),
        );
    };
    if r.mco_managed && !opts.include_mco_managed {
        return skip(
            report,
            "the Machine Config Operator manages this MachineSet's boot image (managedBootImages); \
             set include_mco_managed: true to change it anyway"
                .into(),
        );
    }
    let (target, target_build): (BootImage, Option<String>) = match opts.image_for(&r.name) {
        Some(explicit) => (platform::parse_image(platform, explicit), None),
        None => {
            let Some(t) = r.target_image.as_deref() else {
                let mut why = r.reason.clone().unwrap_or_else(|| "no target image".into());
                if let Some(action) = &r.action {
                    why = format!("{why}; {action}, then give it as `image`");
                } else {
                    why = format!("{why}; give `image` to set one");
                }
                return skip(report, why);
            };
            let acceptable = match r.status {
                Status::Outdated | Status::NewerThanCluster | Status::Current => true,
                // Build unknown: only for images an installer made (safe to replace).
                Status::Unknown => match platform {
                    Platform::Gcp => r
                        .current_image
                        .as_deref()
                        .is_some_and(|i| !i.contains('/') && i.ends_with("-rhcos-image")),
                    Platform::Azure => r
                        .current_image
                        .as_deref()
                        .is_some_and(|i| i.starts_with('/')),
                    _ => false,
                },
                Status::Skipped => false,
            };
            if !acceptable {
                let why = match platform {
                    Platform::Aws => format!(
                        "{}: not an AMI of any known RHCOS stream (custom, encrypted copy or marketplace AMI?); give `image` to replace it",
                        r.reason.clone().unwrap_or_default()
                    ),
                    _ => r.reason.clone().unwrap_or_default(),
                };
                return skip(report, why);
            }
            (platform::parse_image(platform, t), r.target_build.clone())
        }
    };
    let target_id: Option<BuildId> = target_build.as_deref().and_then(|b| b.parse().ok());
    if let (Some(b), Some(cv)) = (&target_id, ctx.cluster_version) {
        if let Some(bv) = b.ocp_version() {
            if bv > cv && !opts.allow_newer {
                return skip(
                    report,
                    format!("target build {b} is from OpenShift {}.{}, newer than the cluster ({}.{}); set allow_newer to force", bv.0, bv.1, cv.0, cv.1),
                );
            }
        }
    }
    // The stub guard: a node of a 4.6+ boot image reads only Ignition spec 3, so with a
    // spec 2.x stub the MachineSet could not boot a single machine (procedure step 2).
    let stub = r
        .user_data_secret
        .as_deref()
        .and_then(|s| ctx.stubs_needing_migration.get_key_value(s));
    let target_reads_only_v3 = target_id
        .as_ref()
        .and_then(BuildId::ocp_version)
        .is_none_or(|v| v >= (4, 6));
    let after_image = target.to_string();
    let already = r.current_image.as_deref() == Some(after_image.as_str());
    if let (Some((secret, version)), true, false, false) = (
        stub,
        target_reads_only_v3,
        opts.assume_stubs_migrated,
        already,
    ) {
        return skip(
            report,
            format!(
                "its user-data secret {secret} holds an Ignition spec {version} stub, which the new boot image \
                 cannot read: migrate it first (ocp.bootimage.stub_ignition)"
            ),
        );
    }
    report.after = Some(after_image.clone());
    report.after_build = target_build.or_else(|| {
        r.target_build
            .clone()
            .filter(|_| opts.image_for(&r.name).is_none())
    });
    if already {
        report.reason = Some("already the target image".into());
        return Decision::Keep(report);
    }
    let mut after = obj.clone();
    let pointer = provider_pointer(&kind);
    let Some(spec) = after.pointer_mut(pointer) else {
        return skip(report, "no providerSpec.value".into());
    };
    if let Err(e) = platform::write_image(platform, spec, &target) {
        return skip(report, e.to_string());
    }
    report.changed = true;
    let k = if kind == "ControlPlaneMachineSet" {
        resources::CONTROL_PLANE_MACHINE_SET
    } else {
        resources::MACHINE_SET
    };
    let change = ObjectChange {
        kind: k,
        namespace: obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_string),
        name: r.name.clone(),
        before: Some(obj.clone()),
        after,
        summary: format!(
            "{} → {}",
            r.current_image.as_deref().unwrap_or("none"),
            after_image
        ),
    };
    Decision::Swap(Box::new(change.compact()), report)
}

fn images_option(v: Option<&Value>) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    match v {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.trim_start().starts_with('{') => {
            let parsed: Value =
                serde_json::from_str(s).context("`image` looks like JSON but does not parse")?;
            return images_option(Some(&parsed));
        }
        Some(Value::String(s)) => {
            out.insert(String::new(), s.clone());
        }
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let s = v
                    .as_str()
                    .with_context(|| format!("image[{k}] must be a string"))?;
                out.insert(k.clone(), s.to_string());
            }
        }
        Some(_) => anyhow::bail!("`image` must be a string or a dict of MachineSet name → image"),
    }
    Ok(out)
}

/// The module.
pub struct MachinesetBootimage;

impl Module for MachinesetBootimage {
    const NAME: &'static str = "machineset_bootimage";
    const SHORT_DESCRIPTION: &'static str =
        "Swap MachineSet boot images to the stream's images, with a rollback record";
    const DESCRIPTION: &'static str = r#"
Swaps each selected MachineSet's boot image to the one the stream metadata names for its
platform, region and architecture (or to an explicit `image` where the stream cannot name
one: vSphere templates, OpenStack/Nutanix/IBM Cloud/PowerVS images). Never to a build
newer than the cluster (unless `allow_newer`), never on managed clusters (unless
`allow_managed`), never on MachineSets the Machine Config Operator manages (unless
`include_mco_managed`), and skips owned, Windows, confidential and custom-image
MachineSets with a reason. A MachineSet whose user-data secret still holds a spec 2.x stub
Ignition is skipped too, naming the secret: a boot image of OpenShift 4.6 or later reads
only spec 3, so not one machine would boot. Run `stub_ignition` first (procedure step 2).

Every old value goes into the rollback record before the first change. Changes are JSON
merge patches carrying the `resourceVersion` read; a concurrent change (409) is re-read and
re-planned. Check mode sends no write request and returns the same `changed` and `diff`
as a real run; a second run changes nothing.
"#;
    const EXAMPLES: &'static str = r#"
- name: Show what would change (no write request)
  ocp.bootimage.machineset_bootimage:
  check_mode: true
  diff: true

- name: Swap worker boot images to the cluster's own stream, one run id for the whole update
  ocp.bootimage.machineset_bootimage:
    label_selector: machine.openshift.io/cluster-api-machine-role=worker
    run_id: "{{ update_run_id }}"

- name: vSphere - point the MachineSets at a template imported from the stream's OVA
  ocp.bootimage.machineset_bootimage:
    image:
      ocp-cl02-xdqkk-worker: rhcos-418.94.202501221327-0-template
"#;
    type Params = Params;
    type Output = Output;

    async fn run(
        params: Params,
        ctx: &ModuleContext,
    ) -> Result<ModuleOutcome<Output>, ModuleError> {
        let (sel, mut options) = selection_and_options(
            &params.namespace,
            &params.machinesets,
            params.label_selector.as_deref(),
            params.architecture.as_deref(),
            &params.image_builds,
            params.os_stream.clone(),
        )?;
        options.allow_newer_stream = params.allow_newer;
        let swap = SwapOptions {
            images: images_option(params.image.as_ref())?,
            allow_newer: params.allow_newer,
            include_mco_managed: params.include_mco_managed,
            assume_stubs_migrated: params.assume_stubs_migrated,
        };
        if params.assume_stubs_migrated && !ctx.meta.check_mode {
            return Err(anyhow::anyhow!(
                "assume_stubs_migrated is for check-mode previews only: migrate the stubs with \
                 ocp.bootimage.stub_ignition, then run without it"
            )
            .into());
        }
        let conn = params.connection.connect().await?;
        let mut snapshot = observe::from_cluster(
            &conn,
            &sel,
            Reads {
                // The stub guard: a 2.x stub cannot boot a new image.
                user_data_secrets: true,
                stream_configmap: params.stream_file.is_none(),
                ..Reads::MIN
            },
        )
        .await?;
        // What the safety checks need: managed status, cluster version, MCO management,
        // and the stream when no stream_file is given.
        let mut needed = vec![
            Part::Infrastructure,
            Part::ClusterVersion,
            Part::MachineConfiguration,
        ];
        if params.stream_file.is_none() {
            needed.push(Part::BootimagesConfigMap);
        }
        super::common::require_readable(&snapshot, &needed)?;
        let mut warnings: Vec<String> = snapshot
            .unreadable
            .iter()
            .map(|u| format!("could not read {u}"))
            .collect();
        if let Some(w) = managed_guard(
            snapshot.infrastructure.as_ref(),
            &snapshot.machinesets,
            params.write.allow_managed,
        )? {
            warnings.push(w);
        }
        for name in &params.machinesets {
            if !snapshot.machinesets.iter().any(|o| name_of(o) == name) {
                warnings.push(format!(
                    "MachineSet {name} not found in namespace {}",
                    params.namespace
                ));
            }
        }
        if params.include_control_plane {
            match get(
                &conn,
                resources::CONTROL_PLANE_MACHINE_SET,
                Some(&params.namespace),
                "cluster",
            )
            .await?
            {
                Some(cpms) => snapshot.machinesets.push(cpms),
                None => warnings.push("no ControlPlaneMachineSet `cluster` to change".into()),
            }
        }
        let streams = load_streams(
            params.stream_file.as_ref(),
            params.marketplace_file.as_ref(),
            &snapshot,
        )?;
        let input = audit_input(&snapshot, &streams, &options);
        let cluster = cluster_info(
            snapshot.cluster_version.as_ref(),
            snapshot.infrastructure.as_ref(),
            &snapshot.machinesets,
            options.architecture,
        );
        if let (Ok((_, StreamSource::File, _)), None) =
            (&streams, cluster.version.as_deref().and_then(ocp_minor))
        {
            warnings.push("the cluster version is unknown: cannot check that targets are not newer than the cluster".into());
        }
        let msctx = machineset_context(&input, &cluster, &mut warnings);
        if params.assume_stubs_migrated && !msctx.stubs_needing_migration.is_empty() {
            warnings.push(format!(
                "planned as if the spec 2.x stub(s) {} were migrated (assume_stubs_migrated): \
                 a real run skips their MachineSets until stub_ignition has run",
                msctx
                    .stubs_needing_migration
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let mut changes = Vec::new();
        let mut reports = Vec::new();
        for obj in &snapshot.machinesets {
            match plan_swap(obj, &msctx, &swap) {
                Decision::Swap(c, r) => {
                    changes.push(*c);
                    reports.push(r);
                }
                Decision::Keep(r) => reports.push(r),
                Decision::Skip(r) => reports.push(r),
            }
        }
        warnings.extend(skip_warnings(reports.iter().filter(|r| r.skipped).map(
            |r| {
                (
                    r.kind.as_str(),
                    r.name.as_str(),
                    r.reason.as_deref().unwrap_or_default(),
                )
            },
        )));
        let run_id = params.write.run_id();
        let store = params.write.store(Some(&conn), &params.namespace)?;
        let record = store.location.to_string();
        if ctx.meta.check_mode {
            let out = Output {
                machinesets: reports,
                run_id,
                record,
            };
            return Ok(outcome(
                ctx.meta.diff,
                &changes,
                None,
                "MachineSet(s)",
                out,
                warnings,
            ));
        }
        let applier = Applier {
            conn: &conn,
            store: &store,
            module: Self::NAME,
            run_id: &run_id,
        };
        let replan = |fresh: &Value| -> Result<Option<ObjectChange>> {
            Ok(match plan_swap(fresh, &msctx, &swap) {
                Decision::Swap(c, _) => Some(*c),
                Decision::Keep(_) | Decision::Skip(_) => None,
            })
        };
        let applied = applier.apply(changes.clone(), &replan).await;
        let applied_names: Vec<&str> = applied.applied.iter().map(|c| c.name.as_str()).collect();
        for r in &mut reports {
            if r.changed && !applied_names.contains(&r.name.as_str()) {
                r.changed = false;
                r.after = r.before.clone();
                r.after_build = r.before_build.clone();
                r.reason = Some("not changed (see msg)".into());
            }
        }
        let out = Output {
            machinesets: reports,
            run_id,
            record,
        };
        Ok(outcome(
            ctx.meta.diff,
            &changes,
            Some(&applied),
            "MachineSet(s)",
            out,
            warnings,
        ))
    }
}
