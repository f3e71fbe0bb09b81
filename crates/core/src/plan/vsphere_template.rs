//! vSphere templates (`vsphere_template`): the pure planner. For each selected vSphere
//! MachineSet that the swap would move to the stream's build, where its template must be
//! (the MachineSet's `workspace`: server, datacenter, datastore, folder, resource pool,
//! and its network), under which name (`{build}-{infra_id}-rhcos`), and from which OVA;
//! the same for every failure domain of the Infrastructure. Then, from what vCenter holds
//! at each path, whether to import, keep, finish or refuse ([`decide`]).
//!
//! The shell downloads the OVA, talks to vCenter, records and imports.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::machineset::{assess, MachineSetContext, Status};
use super::swap::{plan_swap, SwapOptions};
use super::Decision;
use crate::platform::Platform;
use crate::stream::OvaArtifact;

/// The default template name: the procedure's `{build-id}-{cluster-name}-rhcos`.
pub const DEFAULT_NAME: &str = "{build}-{infra_id}-rhcos";
/// The default with more than one failure domain (one template per failure domain, as the
/// installer makes `<infraID>-rhcos-<region>-<zone>`).
pub const DEFAULT_NAME_PER_FAILURE_DOMAIN: &str = "{build}-{infra_id}-rhcos-{failure_domain}";
/// The MachineSet label holding the infrastructure id.
const CLUSTER_LABEL: &str = "machine.openshift.io/cluster-api-cluster";

/// Where a template goes in vCenter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
pub struct Placement {
    /// The vCenter (`workspace.server`).
    pub server: String,
    pub datacenter: String,
    /// A datastore name or its inventory path.
    pub datastore: String,
    /// The VM folder's inventory path (`/<datacenter>/vm` when the workspace names none).
    pub folder: String,
    /// The resource pool's inventory path.
    pub resource_pool: String,
    /// The network of the template's NIC (`network.devices[0].networkName`).
    pub network: Option<String>,
}

/// One template to make sure of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct TemplateSpec {
    pub placement: Placement,
    /// The template's name, and its inventory path (`<folder>/<name>`).
    pub name: String,
    pub path: String,
    /// The build it holds.
    pub build: String,
    /// The stream's OVA of that build (None: the stream names none; `ova_url`/`ova_path`
    /// must give it).
    #[schemars(skip)]
    #[serde(skip)]
    pub ova: Option<OvaArtifact>,
    /// The MachineSets that will name it.
    pub machinesets: Vec<String>,
    /// The failure domains it serves.
    pub failure_domains: Vec<String>,
}

/// One MachineSet's template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct MachineSetTemplate {
    pub name: String,
    /// The template it names now.
    pub current: Option<String>,
    /// The template (inventory path) it is to name — the one it names when already current;
    /// null when skipped.
    pub template: Option<String>,
    /// That template's build.
    pub build: Option<String>,
    pub skipped: bool,
    pub reason: Option<String>,
}

/// The planner's result: the templates, each MachineSet's, warnings and refusals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplatePlan {
    pub templates: Vec<TemplateSpec>,
    pub machinesets: Vec<MachineSetTemplate>,
    pub warnings: Vec<String>,
    /// Inputs the plan cannot be made from (nothing is done).
    pub refusals: Vec<String>,
}

/// Settings of the planner.
#[derive(Debug, Clone, Default)]
pub struct TemplateOptions {
    /// The name pattern (`{build}`, `{infra_id}`, `{failure_domain}`, `{datastore}`);
    /// None: [`DEFAULT_NAME`], or [`DEFAULT_NAME_PER_FAILURE_DOMAIN`] with several
    /// failure domains.
    pub name: Option<String>,
    /// The swap's own guards, as `machineset_bootimage` will be run.
    pub swap: SwapOptions,
}

/// A failure domain of `Infrastructure.spec.platformSpec.vsphere.failureDomains`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureDomain {
    pub name: String,
    pub placement: Placement,
}

/// The failure domains of the Infrastructure (empty when it has none).
pub fn failure_domains(infrastructure: Option<&Value>) -> Vec<FailureDomain> {
    let Some(fds) = infrastructure
        .and_then(|i| i.pointer("/spec/platformSpec/vsphere/failureDomains"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    fds.iter()
        .filter_map(|fd| {
            let s = |p: &str| fd.pointer(p).and_then(Value::as_str).map(str::to_string);
            let datacenter = s("/topology/datacenter")?;
            Some(FailureDomain {
                name: s("/name")?,
                placement: Placement {
                    server: s("/server")?,
                    folder: s("/topology/folder").unwrap_or_else(|| format!("/{datacenter}/vm")),
                    datastore: s("/topology/datastore")?,
                    resource_pool: s("/topology/resourcePool").or_else(|| {
                        s("/topology/computeCluster").map(|c| format!("{c}/Resources"))
                    })?,
                    network: fd
                        .pointer("/topology/networks/0")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    datacenter,
                },
            })
        })
        .collect()
}

/// The last element of an inventory path (a datastore's name).
fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The placement a MachineSet's `workspace` names, or why it names none.
fn workspace_placement(ms: &Value) -> Result<Placement, String> {
    let spec = ms
        .pointer("/spec/template/spec/providerSpec/value")
        .unwrap_or(&Value::Null);
    let s = |p: &str| {
        spec.pointer(p)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let missing = |f: &str| format!("its providerSpec has no workspace.{f}");
    let datacenter = s("/workspace/datacenter").ok_or_else(|| missing("datacenter"))?;
    Ok(Placement {
        server: s("/workspace/server").ok_or_else(|| missing("server"))?,
        datastore: s("/workspace/datastore").ok_or_else(|| missing("datastore"))?,
        folder: s("/workspace/folder").unwrap_or_else(|| format!("/{datacenter}/vm")),
        resource_pool: s("/workspace/resourcePool").ok_or_else(|| missing("resourcePool"))?,
        network: s("/network/devices/0/networkName"),
        datacenter,
    })
}

/// The failure domain a MachineSet's placement lies in: same server, datacenter and
/// datastore.
fn failure_domain_of<'f>(p: &Placement, fds: &'f [FailureDomain]) -> Option<&'f FailureDomain> {
    fds.iter().find(|fd| {
        fd.placement.server == p.server
            && base(&fd.placement.datacenter) == base(&p.datacenter)
            && base(&fd.placement.datastore) == base(&p.datastore)
    })
}

/// The stream's OVA of `build`, from any OS stream and architecture offered.
fn ova_of(ctx: &MachineSetContext, build: &str) -> Option<OvaArtifact> {
    let streams = ctx.streams.default.iter().copied().chain(
        ctx.streams
            .named
            .values()
            .filter_map(|s| s.as_ref().ok().copied()),
    );
    for s in streams {
        for a in s.architectures.values() {
            if let Some(ova) = a.vmware_ova.as_ref().filter(|o| o.release.raw() == build) {
                return Some(ova.clone());
            }
        }
    }
    None
}

/// A template name from the pattern. `{failure_domain}` without one becomes `default`.
pub fn template_name(
    pattern: &str,
    build: &str,
    infra_id: &str,
    failure_domain: Option<&str>,
    datastore: &str,
) -> String {
    pattern
        .replace("{build}", build)
        .replace("{infra_id}", infra_id)
        .replace("{failure_domain}", failure_domain.unwrap_or("default"))
        .replace("{datastore}", base(datastore))
}

/// Plans the templates of the vSphere MachineSets among `machinesets` (others are
/// reported skipped) and of the Infrastructure's failure domains. Pure.
pub fn plan_templates(
    machinesets: &[Value],
    ctx: &MachineSetContext,
    opts: &TemplateOptions,
) -> TemplatePlan {
    let mut plan = TemplatePlan::default();
    let fds = failure_domains(ctx.infrastructure);
    let infra_id = ctx
        .infrastructure
        .and_then(|i| i.pointer("/status/infrastructureName"))
        .and_then(Value::as_str)
        .or_else(|| {
            machinesets.iter().find_map(|m| {
                m.pointer("/metadata/labels")
                    .and_then(|l| l.get(CLUSTER_LABEL))
                    .and_then(Value::as_str)
            })
        })
        .map(str::to_string);
    let pattern = opts.name.clone().unwrap_or_else(|| {
        if fds.len() > 1 {
            DEFAULT_NAME_PER_FAILURE_DOMAIN.into()
        } else {
            DEFAULT_NAME.into()
        }
    });
    if infra_id.is_none() && pattern.contains("{infra_id}") {
        plan.refusals.push(
            "the infrastructure id is unknown (no Infrastructure status.infrastructureName, no \
             MachineSet label machine.openshift.io/cluster-api-cluster): give template_name without {infra_id}"
                .into(),
        );
        return plan;
    }
    let infra_id = infra_id.unwrap_or_default();
    // Templates by (server, path).
    let mut templates: BTreeMap<(String, String), TemplateSpec> = BTreeMap::new();
    // A template's name and inventory path in its placement.
    let named = |placement: &Placement, fd: Option<&str>, build: &str| {
        let name = template_name(&pattern, build, &infra_id, fd, &placement.datastore);
        let path = format!("{}/{name}", placement.folder.trim_end_matches('/'));
        (name, path)
    };
    let mut add = |plan: &mut TemplatePlan,
                   placement: Placement,
                   (name, path): (String, String),
                   fd: Option<&str>,
                   build: &str,
                   ova: Option<OvaArtifact>,
                   ms: Option<&str>|
     -> Result<String, String> {
        let key = (placement.server.clone(), path.clone());
        let t = templates.entry(key).or_insert_with(|| TemplateSpec {
            placement: placement.clone(),
            name,
            path: path.clone(),
            build: build.to_string(),
            ova,
            machinesets: Vec::new(),
            failure_domains: Vec::new(),
        });
        if t.placement.datastore != placement.datastore
            || t.placement.resource_pool != placement.resource_pool
            || t.build != build
        {
            let why = format!(
                "template {path} would be needed twice: build {} on {} and build {build} on {}; \
                 set template_name with {{failure_domain}}, {{datastore}} or {{build}} to tell them apart",
                t.build, t.placement.datastore, placement.datastore
            );
            plan.warnings.push(why.clone());
            return Err(why);
        }
        t.machinesets.extend(ms.map(str::to_string));
        t.failure_domains.extend(fd.map(str::to_string));
        Ok(path)
    };
    let mut builds: Vec<String> = Vec::new();
    for ms in machinesets {
        let r = assess(ms, ctx);
        let mut report = MachineSetTemplate {
            name: r.name.clone(),
            current: r.current_image.clone(),
            template: None,
            build: None,
            skipped: true,
            reason: None,
        };
        let why = |report: &mut MachineSetTemplate, why: String| report.reason = Some(why);
        if r.platform != Some(Platform::Vsphere) {
            why(&mut report, "not a vSphere MachineSet".into());
            plan.machinesets.push(report);
            continue;
        }
        let acceptable = match r.status {
            Status::Outdated => true,
            // The installer's `<infraID>-rhcos` names no build: replaced, as the procedure does.
            Status::Unknown => r
                .current_image
                .as_deref()
                .is_some_and(crate::platform::vsphere::installer_made),
            Status::Current => {
                // Named in `images` as it is, so the swap says "already the target image".
                report.skipped = false;
                report.template = r.current_image.clone();
                report.build = r.current_build.clone();
                why(&mut report, "already the stream's build".into());
                plan.machinesets.push(report);
                continue;
            }
            Status::NewerThanCluster | Status::Skipped => false,
        };
        let Some(build) = r.target_build.clone().filter(|_| acceptable) else {
            why(
                &mut report,
                r.reason
                    .clone()
                    .unwrap_or_else(|| "no target build for it".into()),
            );
            plan.machinesets.push(report);
            continue;
        };
        let placement = match workspace_placement(ms) {
            Ok(p) => p,
            Err(e) => {
                why(&mut report, e);
                plan.machinesets.push(report);
                continue;
            }
        };
        let fd = failure_domain_of(&placement, &fds).map(|f| f.name.clone());
        let (name, path) = named(&placement, fd.as_deref(), &build);
        // The swap's own guards (MCO-managed, other controllers, OS streams, newer than the
        // cluster), as `machineset_bootimage` will apply them; a stub still to migrate does
        // not stop a template from being made.
        let mut swap = opts.swap.clone();
        swap.images = BTreeMap::from([(r.name.clone(), path.clone())]);
        swap.assume_stubs_migrated = true;
        if let Decision::Skip(s) = plan_swap(ms, ctx, &swap) {
            why(&mut report, s.reason.unwrap_or_default());
            plan.machinesets.push(report);
            continue;
        }
        let ova = ova_of(ctx, &build);
        match add(
            &mut plan,
            placement,
            (name, path),
            fd.as_deref(),
            &build,
            ova,
            Some(&r.name),
        ) {
            Ok(path) => {
                report.skipped = false;
                report.template = Some(path);
                report.build = Some(build.clone());
                if !builds.contains(&build) {
                    builds.push(build);
                }
            }
            Err(e) => why(&mut report, e),
        }
        plan.machinesets.push(report);
    }
    // Every failure domain gets the template(s) too, so a new MachineSet there has one.
    for build in &builds {
        for fd in &fds {
            let ova = ova_of(ctx, build);
            let at = named(&fd.placement, Some(&fd.name), build);
            let _ = add(
                &mut plan,
                fd.placement.clone(),
                at,
                Some(&fd.name),
                build,
                ova,
                None,
            );
        }
    }
    plan.templates = templates.into_values().collect();
    plan
}

/// A VM that vCenter holds at a template's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub is_template: bool,
    /// The build this tool stored on it (`ocp-bootimage.build`), if any.
    pub build: Option<String>,
}

/// What to do about one template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TemplateAction {
    /// A template of the build is there: nothing to do.
    Present,
    /// Nothing is there: import the OVA.
    Import,
    /// A VM of the build that an earlier run imported but did not mark as a template
    /// (it stopped in between): mark it.
    MarkAsTemplate,
    /// A VM without the build mark, not a template, where a run of this tool that never
    /// finished was importing (its record says so): that run's half-done import, deleted
    /// and imported again.
    Reimport,
    /// Something else is at the path: never overwritten.
    Refuse,
}

/// What to do at a template's path, and why. `interrupted`: a run of this tool that never
/// finished recorded an import at this path. Pure.
pub fn decide(
    spec: &TemplateSpec,
    found: Option<&Found>,
    interrupted: bool,
) -> (TemplateAction, Option<String>) {
    match found {
        None => (TemplateAction::Import, None),
        Some(f) if f.build.is_none() && !f.is_template && interrupted => (
            TemplateAction::Reimport,
            Some("the half-done import of a run that stopped (its record names this path): deleted and imported again".into()),
        ),
        Some(f) if f.build.as_deref() == Some(spec.build.as_str()) && f.is_template => {
            (TemplateAction::Present, None)
        }
        Some(f) if f.build.as_deref() == Some(spec.build.as_str()) => (
            TemplateAction::MarkAsTemplate,
            Some(
                "a VM of this build that an earlier run imported but did not mark as a template"
                    .into(),
            ),
        ),
        Some(f) => {
            let what = if f.is_template { "a template" } else { "a VM" };
            let build = match &f.build {
                Some(b) => format!("of build {b}"),
                None => "of unknown build (not made by this tool, or an import that stopped half-way: `rollback` of that run removes it)".into(),
            };
            (
                TemplateAction::Refuse,
                Some(format!(
                    "{what} {build} is already at {} (wanted build {}): never overwritten; remove it, or set template_name",
                    spec.path, spec.build
                )),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::os_stream::OsStreams;
    use crate::platform::Lookup;
    use crate::stream::{parse_stream_document, Arch, Catalog, StreamSet};
    use serde_json::json;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures");

    fn stream() -> StreamSet {
        let bytes = std::fs::read(format!("{FIXTURES}/stream/rhcos-4.18.json")).unwrap();
        parse_stream_document(&bytes).unwrap()
    }

    /// The installer's 4.9 vSphere MachineSet (real fixture), renamed and re-placed.
    fn machineset(name: &str, template: &str, datastore: &str) -> Value {
        let text = std::fs::read_to_string(format!(
            "{FIXTURES}/machinesets/vsphere/installer-generated-4.9-ocp-cl02-worker-machineset-0.yaml"
        ))
        .unwrap();
        let mut ms: Value = serde_yaml::from_str(&text).unwrap();
        ms["metadata"]["name"] = json!(name);
        let v = &mut ms["spec"]["template"]["spec"]["providerSpec"]["value"];
        v["template"] = json!(template);
        v["workspace"]["datastore"] = json!(datastore);
        ms
    }

    fn infrastructure(fds: Value) -> Value {
        json!({"status": {"infrastructureName": "ocp-cl02-xdqkk", "platform": "VSphere"},
               "spec": {"platformSpec": {"type": "VSphere", "vsphere": {"failureDomains": fds}}}})
    }

    fn plan_with(mss: &[Value], infra: &Value, opts: &TemplateOptions) -> TemplatePlan {
        let set = stream();
        let builds = BTreeMap::new();
        let ctx = MachineSetContext {
            cluster_platform: Some(Platform::Vsphere),
            cluster_arch: Some(Arch::X86_64),
            multi_arch: false,
            cluster_version: Some((4, 18)),
            streams: OsStreams::of_set(&set, None, Ok),
            lookup: Lookup {
                catalog: Catalog::embedded(),
                image_builds: &builds,
            },
            machine_configuration: None,
            infrastructure: Some(infra),
            stubs_needing_migration: BTreeMap::new(),
            stubs_unusable: BTreeMap::new(),
        };
        plan_templates(mss, &ctx, opts)
    }

    fn target() -> String {
        stream().default.architectures[&Arch::X86_64].artifacts["vmware"].to_string()
    }

    #[test]
    fn the_installers_template_gets_one_of_the_streams_build_in_its_workspace() {
        let ms = machineset("w", "ocp-cl02-xdqkk-rhcos", "vsanDatastore");
        let p = plan_with(
            &[ms],
            &infrastructure(json!([])),
            &TemplateOptions::default(),
        );
        assert!(p.refusals.is_empty(), "{p:?}");
        assert_eq!(p.templates.len(), 1);
        let t = &p.templates[0];
        let build = target();
        assert_eq!(t.name, format!("{build}-ocp-cl02-xdqkk-rhcos"));
        assert_eq!(
            t.path,
            format!("/SUN01/vm/ocp-cl02-xdqkk/{build}-ocp-cl02-xdqkk-rhcos")
        );
        assert_eq!(t.placement.server, "sun01-vcenter00.acepod.com");
        assert_eq!(t.placement.resource_pool, "/SUN01/host/CL01-MGMT/Resources");
        assert_eq!(
            t.placement.network.as_deref(),
            Some("VDS01-VLAN114-Workload-Net")
        );
        assert_eq!(t.machinesets, vec!["w"]);
        let ova = t.ova.as_ref().unwrap();
        assert_eq!(ova.release.to_string(), build);
        assert!(ova.location.ends_with(".ova"));
        assert_eq!(p.machinesets[0].template.as_deref(), Some(t.path.as_str()));
        // The swap reads the build from the name.
        assert_eq!(
            crate::stream::BuildId::from_image_name(&t.path).map(|b| b.to_string()),
            Some(build)
        );
    }

    #[test]
    fn two_machinesets_in_one_workspace_share_one_template_and_a_custom_one_is_left_alone() {
        let a = machineset("a", "ocp-cl02-xdqkk-rhcos", "ds");
        let b = machineset("b", "/SUN01/vm/ocp-cl02-xdqkk/ocp-cl02-xdqkk-rhcos", "ds");
        let c = machineset("c", "my-golden-image", "ds");
        let p = plan_with(
            &[a, b, c],
            &infrastructure(json!([])),
            &TemplateOptions::default(),
        );
        assert_eq!(p.templates.len(), 1);
        assert_eq!(p.templates[0].machinesets, vec!["a", "b"]);
        let c = &p.machinesets[2];
        assert!(c.skipped && c.template.is_none(), "{c:?}");
    }

    #[test]
    fn a_template_already_of_the_streams_build_needs_nothing() {
        let build = target();
        let ms = machineset("w", &format!("{build}-ocp-cl02-xdqkk-rhcos"), "ds");
        let p = plan_with(
            &[ms],
            &infrastructure(json!([])),
            &TemplateOptions::default(),
        );
        assert!(p.templates.is_empty());
        assert!(!p.machinesets[0].skipped);
        assert_eq!(
            p.machinesets[0].reason.as_deref(),
            Some("already the stream's build")
        );
    }

    #[test]
    fn every_failure_domain_gets_its_own_named_template() {
        let fd = |name: &str, ds: &str| {
            json!({"name": name, "region": "r", "zone": name, "server": "sun01-vcenter00.acepod.com",
                   "topology": {"datacenter": "SUN01", "computeCluster": "/SUN01/host/CL01-MGMT",
                                "datastore": format!("/SUN01/datastore/{ds}"), "networks": ["net-a"],
                                "folder": "/SUN01/vm/ocp-cl02-xdqkk"}})
        };
        let infra = infrastructure(json!([fd("fd-a", "dsA"), fd("fd-b", "dsB")]));
        let ms = machineset("w", "ocp-cl02-xdqkk-rhcos", "dsA");
        let p = plan_with(&[ms], &infra, &TemplateOptions::default());
        let build = target();
        let names: Vec<_> = p.templates.iter().map(|t| t.name.clone()).collect();
        assert_eq!(
            names,
            vec![
                format!("{build}-ocp-cl02-xdqkk-rhcos-fd-a"),
                format!("{build}-ocp-cl02-xdqkk-rhcos-fd-b")
            ]
        );
        assert_eq!(p.templates[0].machinesets, vec!["w"]);
        assert_eq!(p.templates[0].failure_domains, vec!["fd-a"]);
        assert!(p.templates[1].machinesets.is_empty());
        assert_eq!(
            p.templates[1].placement.resource_pool,
            "/SUN01/host/CL01-MGMT/Resources"
        );
        assert_eq!(p.templates[1].placement.network.as_deref(), Some("net-a"));
        // One name for both: the second place is refused, with how to tell them apart.
        let one = TemplateOptions {
            name: Some(DEFAULT_NAME.into()),
            ..TemplateOptions::default()
        };
        let p = plan_with(
            &[machineset("w", "ocp-cl02-xdqkk-rhcos", "dsA")],
            &infra,
            &one,
        );
        assert_eq!(p.templates.len(), 1);
        assert!(
            p.warnings
                .iter()
                .any(|w| w.contains("would be needed twice")),
            "{p:?}"
        );
    }

    #[test]
    fn mco_managed_and_other_controllers_make_no_template() {
        let mut ms = machineset("w", "ocp-cl02-xdqkk-rhcos", "ds");
        ms["metadata"]["labels"]["hive.openshift.io/machine-pool"] = json!("worker");
        let p = plan_with(
            &[ms],
            &infrastructure(json!([])),
            &TemplateOptions::default(),
        );
        assert!(p.templates.is_empty());
        assert!(
            p.machinesets[0].reason.as_deref().unwrap().contains("Hive"),
            "{p:?}"
        );
    }

    #[test]
    fn decide_keeps_imports_finishes_and_refuses() {
        let ms = machineset("w", "ocp-cl02-xdqkk-rhcos", "ds");
        let p = plan_with(
            &[ms],
            &infrastructure(json!([])),
            &TemplateOptions::default(),
        );
        let t = &p.templates[0];
        let found = |is_template: bool, build: Option<&str>| Found {
            is_template,
            build: build.map(str::to_string),
        };
        assert_eq!(decide(t, None, false).0, TemplateAction::Import);
        assert_eq!(
            decide(t, Some(&found(true, Some(&t.build))), false).0,
            TemplateAction::Present
        );
        assert_eq!(
            decide(t, Some(&found(false, Some(&t.build))), false).0,
            TemplateAction::MarkAsTemplate
        );
        let (a, why) = decide(t, Some(&found(true, Some("412.86.202212081411-0"))), true);
        assert_eq!(a, TemplateAction::Refuse);
        assert!(why.unwrap().contains("of build 412.86.202212081411-0"));
        assert_eq!(
            decide(t, Some(&found(false, None)), false).0,
            TemplateAction::Refuse
        );
        // An unmarked VM where an unfinished run was importing: that run's half import.
        assert_eq!(
            decide(t, Some(&found(false, None)), true).0,
            TemplateAction::Reimport
        );
        // Never a template without the mark, even there.
        assert_eq!(
            decide(t, Some(&found(true, None)), true).0,
            TemplateAction::Refuse
        );
    }
}
