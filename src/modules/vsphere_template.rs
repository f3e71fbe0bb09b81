//! `vsphere_template`: makes sure a VM template of the stream's build exists where each
//! selected vSphere MachineSet (and each failure domain) takes its VMs from — the
//! procedure's vSphere section: download the OVA, check its sha256, import it, mark it
//! as a template — and returns the template per MachineSet for `machineset_bootimage`'s
//! `image`.
//!
//! Planning is the core's [`plan_templates`] and [`decide`]; this file parses the
//! options, reads the cluster, asks vCenter what is at each path, records each import
//! before it starts, downloads (cached) and imports through [`crate::vsphere`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::inputs::{
    audit_input, credentials_for, load_streams, selection_and_options, stream_reads,
};
use crate::ansible::{DiffEntry, Module, ModuleContext, ModuleError, ModuleOutcome};
use crate::cluster::{Reads, SnapshotPart};
use crate::execute::{Observation, RunRecord, Step};
use crate::kube::record_store::now_rfc3339;
use crate::options::{
    ConnectionParams, GateParams, SelectionParams, StreamParams, SwapGuardParams, VsphereParams,
    WriteParams,
};
use crate::plan::rollback::{template_entry, TEMPLATE_KIND};
use crate::plan::swap::swap_context;
use crate::plan::vsphere_template::{
    decide, plan_templates, Found, MachineSetTemplate, TemplateAction, TemplateOptions,
    TemplateSpec,
};
use crate::progress::Progress;
use crate::record::RunState;
use crate::vsphere::ova::{cache_path, fetch_ova, FetchReport, Ova, OvaSource};
use crate::vsphere::{ImportRequest, Location, Session};

/// Options of `vsphere_template`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct Params {
    #[serde(flatten)]
    pub connection: ConnectionParams,
    #[serde(flatten)]
    pub write: WriteParams,
    #[serde(flatten)]
    pub gate: GateParams,
    #[serde(flatten)]
    pub selection: SelectionParams,
    #[serde(flatten)]
    pub stream: StreamParams,
    #[serde(flatten)]
    pub guards: SwapGuardParams,
    #[serde(flatten)]
    pub vcenter: VsphereParams,
    /// The template's name: `{build}`, `{infra_id}` (Infrastructure
    /// `status.infrastructureName`), `{failure_domain}` and `{datastore}` are filled in.
    /// Default `{build}-{infra_id}-rhcos` (the procedure's convention), and
    /// `{build}-{infra_id}-rhcos-{failure_domain}` when the cluster has more than one
    /// failure domain. The template goes into the MachineSet's `workspace.folder`.
    pub template_name: Option<String>,
    /// Import the OVA from this URL (a local mirror for disconnected sites) instead of the
    /// stream's `artifacts.vmware.formats.ova.disk.location`. Its sha256 must still match
    /// (`ova_sha256`, default the stream's).
    pub ova_url: Option<String>,
    /// Import this local OVA file instead of downloading one (checked against
    /// `ova_sha256`, default the stream's).
    #[schemars(extend("x-ansible-type" = "path"))]
    pub ova_path: Option<PathBuf>,
    /// The OVA's expected SHA-256 (hex). Default: the stream's
    /// `artifacts.vmware.formats.ova.disk.sha256`. Always checked before any upload.
    pub ova_sha256: Option<String>,
    /// Where downloaded OVAs are kept (`<sha256>.ova`), so a second MachineSet, failure
    /// domain or run does not download again. Default `$XDG_CACHE_HOME/ocp-bootimage/ova`,
    /// else `~/.cache/ocp-bootimage/ova`.
    #[schemars(extend("x-ansible-type" = "path"))]
    pub cache_dir: Option<PathBuf>,
    /// Thin-provision the template's disk (default true); false: thick.
    #[serde(default = "default_true")]
    pub thin_provisioning: bool,
}

fn default_true() -> bool {
    true
}

/// One template and what was (or in check mode would be) done about it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TemplateReport {
    /// The vCenter.
    pub server: String,
    /// The inventory path (`<folder>/<name>`).
    pub path: String,
    pub build: String,
    pub datacenter: String,
    pub datastore: String,
    pub resource_pool: String,
    pub network: Option<String>,
    pub action: TemplateAction,
    /// Whether this run imported (or marked) it; in check mode: would.
    pub changed: bool,
    pub reason: Option<String>,
    /// The MachineSets that will name it.
    pub machinesets: Vec<String>,
    /// The failure domains it serves.
    pub failure_domains: Vec<String>,
    /// Seconds the import took.
    pub seconds: Option<f64>,
}

/// The OVA a run used.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OvaReport {
    pub build: String,
    /// The URL or local path it came from.
    pub source: String,
    pub sha256: String,
    /// Where it is on disk (null in check mode when not downloaded yet).
    pub path: Option<String>,
    pub size: Option<u64>,
    /// Found in the cache: nothing downloaded.
    pub cached: bool,
    pub downloaded_bytes: u64,
    /// A download resumed from this many bytes of an earlier, interrupted one.
    pub resumed_from: u64,
    pub seconds: f64,
}

/// Return values of `vsphere_template`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Output {
    pub templates: Vec<TemplateReport>,
    /// Per selected MachineSet: the template it is to name (its own when already current;
    /// null: skipped).
    pub machinesets: Vec<MachineSetTemplate>,
    /// MachineSet name → template path: pass it as `machineset_bootimage`'s `image` (a
    /// MachineSet already on a template of the build is named with its own, so the swap
    /// keeps it).
    pub images: BTreeMap<String, String>,
    /// Template path → build: pass it as `image_builds` (the build is also in the name).
    pub image_builds: BTreeMap<String, String>,
    /// The OVAs downloaded or read (none when every template is there); in check mode the
    /// ones an import would use, `cached` telling whether a download would be needed.
    pub ova: Vec<OvaReport>,
    #[serde(flatten)]
    pub run: RunRecord,
}

/// The module.
pub struct VsphereTemplate;

impl Module for VsphereTemplate {
    const NAME: &'static str = "vsphere_template";
    const SHORT_DESCRIPTION: &'static str =
        "Import the stream's RHCOS OVA as a vSphere template where each MachineSet needs it";
    const DESCRIPTION: &'static str = r#"
The procedure's vSphere section as one idempotent step. For each selected vSphere
MachineSet that `machineset_bootimage` would move to the stream's build (the same guards:
MCO-managed, other controllers, OS streams, newer than the cluster), and for each failure
domain of `Infrastructure.spec.platformSpec.vsphere.failureDomains`, makes sure a template
of that build exists in the MachineSet's `workspace` (server, datacenter, folder,
datastore, resource pool; its network): downloads the stream's OVA (or `ova_url` /
`ova_path`) into a cache, checks its sha256 before any upload, imports it
(OvfManager.CreateImportSpec → ResourcePool.ImportVApp → HttpNfcLease upload →
MarkAsTemplate) as `{build}-{infra_id}-rhcos`, and stores the build on it (ExtraConfig
`ocp-bootimage.build`). Returns `images` (MachineSet → template) for
`machineset_bootimage`'s `image`.

A template of the build already there is kept (`changed: false`); anything else at the
path (another build, a VM this tool did not mark) is refused, never overwritten. Each
import is recorded before it starts; `rollback` of the run deletes the templates it
imported once no MachineSet names them (given vCenter credentials). A failed import
leaves nothing behind. Check mode contacts vCenter to see what is there but downloads
and uploads nothing; `diff` shows the MachineSets' `template` values.
"#;
    const EXAMPLES: &'static str = r#"
- name: Make the templates of the stream's build (credentials as community.vmware takes them)
  ocp.bootimage.vsphere_template:
    hostname: vcenter.example.com
    username: "{{ vcenter_user }}"
    password: "{{ vcenter_password }}"
    run_id: "{{ update_run_id }}"
  register: templates

- name: Point the MachineSets at them
  ocp.bootimage.machineset_bootimage:
    image: "{{ templates.images }}"
    image_builds: "{{ templates.image_builds }}"
    run_id: "{{ update_run_id }}"

- name: Disconnected site - import from a local mirror, credentials from the cluster
  ocp.bootimage.vsphere_template:
    ova_url: https://mirror.example.com/rhcos/rhcos-vmware.x86_64.ova
    vcenter_credentials_from_cluster: true
"#;
    type Params = Params;
    type Output = Output;

    async fn run(
        params: Params,
        ctx: &ModuleContext,
    ) -> Result<ModuleOutcome<Output>, ModuleError> {
        let check = ctx.meta.check_mode;
        if params.ova_url.is_some() && params.ova_path.is_some() {
            return Err(anyhow::anyhow!("give ova_url or ova_path, not both").into());
        }
        let (sel, mut options) = selection_and_options(&params.selection, &params.stream)?;
        options.allow_newer_stream = params.guards.allow_newer;
        let (reads, needed) = reads_and_needs(&params.stream, options.architecture.is_none());
        let observation = Observation {
            selection: &sel,
            reads,
            needed: &needed,
            gate: Some(&params.gate),
        };
        let (mut step, mut snapshot) = Step::open(
            Self::NAME,
            "template(s)",
            &params.connection,
            &params.write,
            observation,
            &ctx.meta,
        )
        .await?;
        let streams = load_streams(&params.stream, &snapshot)?;
        let machinesets = std::mem::take(&mut snapshot.machinesets);
        let input = audit_input(&snapshot, &streams, &options);
        let swap = params.guards.swap_options();
        let (msctx, mut warnings) = swap_context(&input, &machinesets, &swap);
        let topts = TemplateOptions {
            name: params.template_name.clone(),
            swap,
        };
        let mut plan = plan_templates(&machinesets, &msctx, &topts);
        drop(machinesets);
        warnings.append(&mut step.warnings);
        warnings.append(&mut plan.warnings);
        if !plan.refusals.is_empty() {
            step.release().await;
            return Err(anyhow::anyhow!("{}", plan.refusals.join("; ")).into());
        }
        if let Some(only) = &params.vcenter.vcenter_hostname {
            only_on(
                only,
                &mut plan.templates,
                &mut plan.machinesets,
                &mut warnings,
            );
        }
        let result = run_templates(&params, &mut step, plan.templates, check).await;
        let (templates, ova) = match result {
            Ok(done) => done,
            Err(e) => {
                step.release().await;
                return Err(e.into());
            }
        };
        step.release().await;
        Ok(finish(
            &ctx.meta,
            templates,
            plan.machinesets,
            ova,
            warnings,
            step.run_record(),
        ))
    }
}

/// What the planner reads: [`stream_reads`] (no Secrets: a template needs no stub), and a
/// control-plane node's architecture when ClusterVersion does not name it.
fn reads_and_needs(stream: &StreamParams, arch_unknown: bool) -> (Reads, Vec<SnapshotPart>) {
    let (mut reads, needed) = stream_reads(stream);
    reads.control_plane_arch = arch_unknown;
    (reads, needed)
}

/// Keeps the templates on vCenter `only` (`vcenter_hostname`), with a warning per other;
/// a MachineSet whose template is elsewhere gets none (it is not in `images`).
fn only_on(
    only: &str,
    templates: &mut Vec<TemplateSpec>,
    machinesets: &mut [MachineSetTemplate],
    warnings: &mut Vec<String>,
) {
    templates.retain(|t| {
        let keep = t.placement.server == only;
        if !keep {
            warnings.push(format!(
                "template {} is on vCenter {}, not {only} (vcenter_hostname): not made",
                t.path, t.placement.server
            ));
            for m in machinesets.iter_mut() {
                if t.machinesets.contains(&m.name) {
                    m.template = None;
                    m.build = None;
                    m.skipped = true;
                    m.reason = Some(format!(
                        "its vCenter is {}, not {only} (vcenter_hostname)",
                        t.placement.server
                    ));
                }
            }
        }
        keep
    });
}

/// The module's outcome from what was done.
fn finish(
    meta: &crate::ansible::AnsibleMeta,
    templates: Vec<TemplateReport>,
    machinesets: Vec<MachineSetTemplate>,
    ova: Vec<OvaReport>,
    warnings: Vec<String>,
    run: RunRecord,
) -> ModuleOutcome<Output> {
    let refused: Vec<&TemplateReport> = templates
        .iter()
        .filter(|t| t.action == TemplateAction::Refuse)
        .collect();
    let changed = templates.iter().any(|t| t.changed);
    let images: BTreeMap<String, String> = machinesets
        .iter()
        .filter_map(|m| Some((m.name.clone(), m.template.clone()?)))
        .collect();
    let image_builds: BTreeMap<String, String> = machinesets
        .iter()
        .filter_map(|m| Some((m.template.clone()?, m.build.clone()?)))
        .collect();
    let made = templates.iter().filter(|t| t.changed).count();
    let verb = if meta.check_mode {
        "would import"
    } else {
        "imported"
    };
    // The MachineSets that will move (a current one is in `images` as it is).
    let moving: Vec<&MachineSetTemplate> = machinesets
        .iter()
        .filter(|m| m.template.is_some() && m.template != m.current)
        .collect();
    let mut msg = format!(
        "{made} template(s) {verb}, {} present, for {} MachineSet(s) to move",
        templates
            .iter()
            .filter(|t| t.action == TemplateAction::Present)
            .count(),
        moving.len()
    );
    let failed = !refused.is_empty();
    if failed {
        msg = format!(
            "{}; nothing was imported. {msg}",
            refused
                .iter()
                .map(|t| t.reason.clone().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    let diff = if meta.diff && !moving.is_empty() {
        let before: serde_json::Map<String, Value> = moving
            .iter()
            .map(|m| (m.name.clone(), json!(m.current)))
            .collect();
        let after: serde_json::Map<String, Value> = moving
            .iter()
            .map(|m| (m.name.clone(), json!(m.template)))
            .collect();
        vec![DiffEntry {
            before_header: "MachineSet templates (now)".into(),
            after_header: "MachineSet templates (for machineset_bootimage)".into(),
            before: Value::Object(before),
            after: Value::Object(after),
        }]
    } else {
        Vec::new()
    };
    ModuleOutcome {
        changed,
        failed,
        msg,
        warnings,
        diff,
        output: Output {
            templates,
            machinesets,
            images,
            image_builds,
            ova,
            run,
        },
    }
}

/// One vCenter's session and what to do at each of its templates' paths.
struct Looked {
    session: Session,
    planned: Vec<(TemplateSpec, TemplateAction, Option<String>)>,
}

/// Logs in to every vCenter and asks what is at each template's path (and, for an
/// import, that the datacenter, datastore, folder, pool and network exist) before anything
/// is done: a refusal anywhere stops the run before the first download or import.
async fn look(params: &Params, step: &Step, templates: Vec<TemplateSpec>) -> Result<Vec<Looked>> {
    let mut by_server: BTreeMap<String, Vec<TemplateSpec>> = BTreeMap::new();
    for t in templates {
        by_server
            .entry(t.placement.server.clone())
            .or_default()
            .push(t);
    }
    let interrupted = interrupted_imports(step).await?;
    let mut looked = Vec::new();
    for (server, specs) in by_server {
        let creds = credentials_for(&params.vcenter, &server, &step.conn).await?;
        let session = Session::login(&creds)
            .await
            .with_context(|| format!("vCenter {server}"))?;
        let mut planned = Vec::new();
        for spec in specs {
            let found = session
                .find_vm(&spec.path)
                .await
                .with_context(|| format!("looking for {} on {server}", spec.path))?
                .map(|vm| Found {
                    is_template: vm.is_template,
                    build: vm.build,
                });
            let was_importing = interrupted.contains(&(server.clone(), spec.path.clone()));
            let (action, reason) = decide(&spec, found.as_ref(), was_importing);
            if matches!(action, TemplateAction::Import | TemplateAction::Reimport) {
                session
                    .check_location(&location(&spec))
                    .await
                    .with_context(|| format!("where {} goes", spec.path))?;
            }
            planned.push((spec, action, reason));
        }
        looked.push(Looked { session, planned });
    }
    Ok(looked)
}

/// (vCenter, path) of every template import a run of this tool recorded and never
/// finished (the run is still `applying` or `partially-applied`, the entry open).
async fn interrupted_imports(step: &Step) -> Result<std::collections::BTreeSet<(String, String)>> {
    let runs = step.store.runs().await?;
    let mut out = std::collections::BTreeSet::new();
    let unfinished = runs.list.iter().filter(|r| {
        matches!(r.state, RunState::Applying | RunState::PartiallyApplied)
            && r.modules.iter().any(|m| m == VsphereTemplate::NAME)
    });
    for summary in unfinished {
        let Some(run) = step.store.load_run(&runs, &summary.run_id)? else {
            continue;
        };
        out.extend(
            run.entries
                .iter()
                .filter(|e| e.kind == TEMPLATE_KIND && e.rolled_back.is_none())
                .filter_map(|e| Some((e.namespace.clone()?, e.name.clone()))),
        );
    }
    Ok(out)
}

/// Asks each vCenter what is at each template's path; unless something is refused or in
/// check mode, downloads each needed OVA once and imports (recording each import first).
async fn run_templates(
    params: &Params,
    step: &mut Step,
    templates: Vec<TemplateSpec>,
    check: bool,
) -> Result<(Vec<TemplateReport>, Vec<OvaReport>)> {
    let looked = look(params, step, templates).await?;
    let refused = looked.iter().any(|l| {
        l.planned
            .iter()
            .any(|(_, a, _)| *a == TemplateAction::Refuse)
    });
    let mut reports = Vec::new();
    let mut ovas: BTreeMap<String, (Ova, OvaReport)> = BTreeMap::new();
    let mut recorded = false;
    let mut previews: Vec<OvaReport> = Vec::new();
    for Looked { session, planned } in looked {
        for (spec, action, reason) in planned {
            let mut r = report(&spec, action.clone(), reason);
            let acts = matches!(
                action,
                TemplateAction::Import | TemplateAction::Reimport | TemplateAction::MarkAsTemplate
            );
            if acts && !refused {
                r.changed = true;
                let imports = action != TemplateAction::MarkAsTemplate;
                if check && imports && !previews.iter().any(|o: &OvaReport| o.build == spec.build) {
                    previews.push(ova_preview(params, &spec)?);
                }
                if !check {
                    recorded = true;
                    let start = Instant::now();
                    make(params, step, &session, &spec, &action, &mut ovas).await?;
                    r.seconds = Some(start.elapsed().as_secs_f64());
                }
            }
            reports.push(r);
        }
        let _ = session.logout().await;
    }
    if recorded {
        step.writer.settle(&[], RunState::Applied).await?;
    }
    previews.extend(ovas.into_values().map(|(_, r)| r));
    Ok((reports, previews))
}

/// Makes one template: fetches the OVA of its build (once per build), records the
/// template, then imports it — or marks the VM an earlier run imported.
async fn make(
    params: &Params,
    step: &Step,
    session: &Session,
    spec: &TemplateSpec,
    action: &TemplateAction,
    ovas: &mut BTreeMap<String, (Ova, OvaReport)>,
) -> Result<()> {
    // The OVA first (downloaded and checked: nothing is recorded for a bad download).
    let imports = matches!(action, TemplateAction::Import | TemplateAction::Reimport);
    if imports && !ovas.contains_key(&spec.build) {
        let got = fetch(params, spec).await?;
        ovas.insert(spec.build.clone(), got);
    }
    let entry = template_entry(
        &step.run_id,
        &now_rfc3339(),
        VsphereTemplate::NAME,
        &spec.placement.server,
        &spec.path,
        &spec.build,
    );
    step.writer.append(vec![entry]).await?;
    if *action == TemplateAction::MarkAsTemplate {
        return session
            .mark_as_template(&spec.path)
            .await
            .with_context(|| format!("marking {} as a template", spec.path));
    }
    if *action == TemplateAction::Reimport {
        session
            .destroy_vm(&spec.path)
            .await
            .with_context(|| format!("deleting the half-done import at {}", spec.path))?;
    }
    let (ova, _) = ovas
        .get(&spec.build)
        .context("the OVA of the build was not fetched")?;
    let req = ImportRequest {
        location: location(spec),
        name: spec.name.clone(),
        build: spec.build.clone(),
        thin: params.thin_provisioning,
    };
    session
        .import_template(&req, ova, &mut {
            let mut bytes = progress(format!("uploading to {}", spec.path));
            move |done, total| bytes(done, Some(total))
        })
        .await
        .with_context(|| format!("importing {} on {}", spec.path, spec.placement.server))?;
    Ok(())
}

/// Where the OVA of `spec`'s build comes from, and the sha256 it must have.
fn ova_source(params: &Params, spec: &TemplateSpec) -> Result<(OvaSource, String)> {
    let stream_ova = spec.ova.as_ref();
    let source = match (&params.ova_path, &params.ova_url, stream_ova) {
        (Some(p), _, _) => OvaSource::Path(p.clone()),
        (None, Some(u), _) => OvaSource::Url(u.clone()),
        (None, None, Some(o)) => OvaSource::Url(o.location.clone()),
        (None, None, None) => anyhow::bail!(
            "the stream names no OVA for build {} (artifacts.vmware.formats.ova): give ova_url or ova_path",
            spec.build
        ),
    };
    let sha = params
        .ova_sha256
        .as_deref()
        .map(str::to_ascii_lowercase)
        .or_else(|| stream_ova.map(|o| o.sha256.clone()))
        .with_context(|| {
            format!(
                "no sha256 to check the OVA of build {} against: give ova_sha256",
                spec.build
            )
        })?;
    Ok((source, sha))
}

/// What check mode says of the OVA an import would use: from where, and whether it is in
/// the cache already (then nothing would be downloaded).
fn ova_preview(params: &Params, spec: &TemplateSpec) -> Result<OvaReport> {
    let (source, sha) = ova_source(params, spec)?;
    let (name, cached) = match &source {
        OvaSource::Url(u) => {
            let p = cache_path(&cache_dir(params.cache_dir.as_ref()), u, Some(&sha));
            let there = p.is_file();
            (u.clone(), there.then(|| p.display().to_string()))
        }
        OvaSource::Path(p) => (p.display().to_string(), Some(p.display().to_string())),
    };
    Ok(OvaReport {
        build: spec.build.clone(),
        source: name,
        sha256: sha,
        cached: cached.is_some(),
        path: cached,
        size: None,
        downloaded_bytes: 0,
        resumed_from: 0,
        seconds: 0.0,
    })
}

/// Downloads (or reads, or finds in the cache) the OVA of `spec`'s build.
async fn fetch(params: &Params, spec: &TemplateSpec) -> Result<(Ova, OvaReport)> {
    let (source, sha) = ova_source(params, spec)?;
    let cache = cache_dir(params.cache_dir.as_ref());
    let validate = params.vcenter.vcenter_validate_certs.unwrap_or(true);
    let (ova, rep): (Ova, FetchReport) = fetch_ova(
        &source,
        Some(&sha),
        &cache,
        validate,
        &mut progress(format!("downloading the OVA of {}", spec.build)),
    )
    .await
    .with_context(|| format!("getting the OVA of build {}", spec.build))?;
    let report = OvaReport {
        build: spec.build.clone(),
        source: match &source {
            OvaSource::Url(u) => u.clone(),
            OvaSource::Path(p) => p.display().to_string(),
        },
        sha256: ova.sha256.clone(),
        path: Some(ova.path.display().to_string()),
        size: Some(ova.size),
        cached: rep.cached,
        downloaded_bytes: rep.downloaded_bytes,
        resumed_from: rep.resumed_from,
        seconds: rep.seconds,
    };
    Ok((ova, report))
}

/// The OVA cache: the option, else `$XDG_CACHE_HOME/ocp-bootimage/ova`, else
/// `~/.cache/ocp-bootimage/ova`, else the temp dir's.
fn cache_dir(option: Option<&PathBuf>) -> PathBuf {
    if let Some(p) = option {
        return p.clone();
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("ocp-bootimage").join("ova")
}

fn location(spec: &TemplateSpec) -> Location {
    Location {
        datacenter: spec.placement.datacenter.clone(),
        datastore: spec.placement.datastore.clone(),
        folder: spec.placement.folder.clone(),
        resource_pool: spec.placement.resource_pool.clone(),
        network: spec.placement.network.clone(),
    }
}

fn report(spec: &TemplateSpec, action: TemplateAction, reason: Option<String>) -> TemplateReport {
    TemplateReport {
        server: spec.placement.server.clone(),
        path: spec.path.clone(),
        build: spec.build.clone(),
        datacenter: spec.placement.datacenter.clone(),
        datastore: spec.placement.datastore.clone(),
        resource_pool: spec.placement.resource_pool.clone(),
        network: spec.placement.network.clone(),
        action,
        changed: false,
        reason,
        machinesets: spec.machinesets.clone(),
        failure_domains: spec.failure_domains.clone(),
        seconds: None,
    }
}

/// A byte counter for the OVA download and upload (shown only when progress is on:
/// `crate::progress`).
fn progress(what: String) -> impl FnMut(u64, Option<u64>) + Send {
    let bar = Progress::bytes(None, what);
    move |done, total| bar.set(done, total)
}
