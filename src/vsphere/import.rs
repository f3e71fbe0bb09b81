//! Importing the OVA as a template (owns: `import_template`): OvfManager.CreateImportSpec
//! → ResourcePool.ImportVApp → wait for the HttpNfcLease → upload each disk streamed from
//! the OVA file (HttpNfcLeaseProgress every 2 s) → HttpNfcLeaseComplete → ReconfigVM_Task
//! (extraConfig `BUILD_KEY`, annotation) → MarkAsTemplate. On any failure after
//! ImportVApp the lease is aborted and the VM destroyed, so nothing half-created is left.
//! The upload follows govc (`nfc/lease.go`): PUT when the import spec's file item says
//! `create`, else POST; a `*` host in a device URL is the server itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::inventory::Resolved;
use super::soap::{MoRef, Session};
use super::xml::{self, esc, Node};
use super::{ImportRequest, Ova, OvaEntry, OvaError, VmInfo, VsphereError, BUILD_KEY};

/// How often lease progress is reported while uploading.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);
/// Upload chunk size.
const CHUNK: usize = 256 << 10;

/// A file the import spec asks for.
#[derive(Debug, Clone)]
struct FileItem {
    device_id: String,
    path: String,
    create: bool,
}

/// The name of the OVF's first network (`NetworkSection/Network/@ovf:name`).
fn ovf_network(descriptor: &Node) -> Option<String> {
    descriptor
        .find("NetworkSection")?
        .child("Network")?
        .attr("name")
        .map(str::to_string)
}

impl Session {
    /// Imports `ova` as the template `r.name` in `r.location` (see the module header).
    /// `progress(bytes_done, bytes_total)` is called while the disks upload.
    pub async fn import_template(
        &self,
        r: &ImportRequest,
        ova: &Ova,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<VmInfo, VsphereError> {
        let at = self.resolve(&r.location).await?;
        let path = format!("{}/{}", at.folder_path, r.name);
        if self.find_path(&path).await?.is_some() {
            return Err(VsphereError::Exists { path });
        }
        let descriptor = ova.descriptor()?;
        let entries = ova.entries()?;
        let parsed = xml::parse(&descriptor).map_err(|detail| OvaError::NotOva {
            path: ova.path.display().to_string(),
            detail: format!("its OVF descriptor: {detail}"),
        })?;
        let (spec, items) = self.import_spec(r, &at, &descriptor, &parsed).await?;
        let inner = format!(
            "{}{}{}",
            at.pool.xml("_this"),
            spec.to_xml_as("spec"),
            at.folder.xml("folder")
        );
        let lease = self
            .call("ImportVApp", &inner)
            .await?
            .child("returnval")
            .and_then(MoRef::of)
            .ok_or_else(|| VsphereError::Protocol {
                call: "ImportVApp".into(),
                detail: "no lease".into(),
            })?;
        let mut entity = None;
        match self
            .finish(
                r,
                ova,
                &entries,
                &items,
                &lease,
                &path,
                &mut entity,
                progress,
            )
            .await
        {
            Ok(info) => Ok(info),
            Err(cause) => Err(self.clean_up(cause, &lease, entity, &path).await),
        }
    }

    /// OvfManager.CreateImportSpec: the import spec (as the server wrote it) and the
    /// files it asks for.
    async fn import_spec(
        &self,
        r: &ImportRequest,
        at: &Resolved,
        descriptor: &str,
        parsed: &Node,
    ) -> Result<(Node, Vec<FileItem>), VsphereError> {
        let mut cisp = format!(
            "<locale></locale><deploymentOption></deploymentOption><entityName>{}</entityName>",
            esc(&r.name)
        );
        if let (Some(net), Some(ovf_name)) = (&at.network, ovf_network(parsed)) {
            cisp.push_str(&format!(
                "<networkMapping><name>{}</name>{}</networkMapping>",
                esc(&ovf_name),
                net.xml("network")
            ));
        }
        cisp.push_str(&format!(
            "<diskProvisioning>{}</diskProvisioning>",
            if r.thin { "thin" } else { "thick" }
        ));
        let inner = format!(
            "{}<ovfDescriptor>{}</ovfDescriptor>{}{}<cisp>{cisp}</cisp>",
            self.sc.ovf_manager.xml("_this"),
            esc(descriptor),
            at.pool.xml("resourcePool"),
            at.datastore.xml("datastore"),
        );
        let answer = self.call("CreateImportSpec", &inner).await?;
        let rv = answer.child("returnval").cloned().unwrap_or_default();
        if let Some(err) = rv.child("error") {
            return Err(VsphereError::Fault {
                call: "CreateImportSpec".into(),
                fault: err
                    .child("fault")
                    .and_then(|f| f.xsi_type.clone())
                    .unwrap_or_else(|| "OvfImportFailed".into()),
                message: err.child_text("localizedMessage").unwrap_or("").to_string(),
            });
        }
        let spec = rv
            .child("importSpec")
            .cloned()
            .ok_or_else(|| VsphereError::Protocol {
                call: "CreateImportSpec".into(),
                detail: "no importSpec".into(),
            })?;
        let items = rv
            .all("fileItem")
            .filter_map(|f| {
                Some(FileItem {
                    device_id: f.child_text("deviceId")?.to_string(),
                    path: f.child_text("path")?.to_string(),
                    create: f.child_text("create") == Some("true"),
                })
            })
            .collect();
        Ok((spec, items))
    }

    /// Everything after ImportVApp; `entity` is set as soon as the VM is known.
    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        r: &ImportRequest,
        ova: &Ova,
        entries: &[OvaEntry],
        items: &[FileItem],
        lease: &MoRef,
        path: &str,
        entity: &mut Option<MoRef>,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<VmInfo, VsphereError> {
        let info = self.wait_lease(lease, &r.name).await?;
        let vm = info
            .child("entity")
            .and_then(MoRef::of)
            .ok_or_else(|| VsphereError::Lease {
                name: r.name.clone(),
                message: "the lease names no VM".into(),
            })?;
        *entity = Some(vm.clone());
        let mut uploads = Vec::new();
        for item in items {
            let entry = entries
                .iter()
                .find(|e| e.name == item.path)
                .ok_or_else(|| OvaError::MissingEntry {
                    path: ova.path.display().to_string(),
                    entry: item.path.clone(),
                })?;
            let url = info
                .all("deviceUrl")
                .find(|d| d.child_text("importKey") == Some(item.device_id.as_str()))
                .and_then(|d| d.child_text("url"))
                .ok_or_else(|| VsphereError::Lease {
                    name: r.name.clone(),
                    message: format!("no device URL for {} ({})", item.path, item.device_id),
                })?;
            uploads.push((item, entry, self.device_url(url)));
        }
        let total: u64 = uploads.iter().map(|(_, e, _)| e.size).sum();
        let mut done = 0u64;
        progress(0, total);
        for (item, entry, url) in uploads {
            self.upload(ova, item, entry, &url, lease, done, total, progress)
                .await?;
            done += entry.size;
        }
        progress(done, total);
        self.call("HttpNfcLeaseComplete", &lease.xml("_this"))
            .await?;
        let spec = format!(
            "{}<spec><annotation>{}</annotation><extraConfig xsi:type=\"OptionValue\"><key>{}</key>\
             <value xsi:type=\"xsd:string\">{}</value></extraConfig></spec>",
            vm.xml("_this"),
            esc(&format!(
                "Red Hat Enterprise Linux CoreOS {} — imported by ocp-bootimage",
                r.build
            )),
            esc(BUILD_KEY),
            esc(&r.build)
        );
        let task = self
            .call("ReconfigVM_Task", &spec)
            .await?
            .child("returnval")
            .and_then(MoRef::of)
            .ok_or_else(|| VsphereError::Protocol {
                call: "ReconfigVM_Task".into(),
                detail: "no task".into(),
            })?;
        self.wait_task(&task, "ReconfigVM_Task", path).await?;
        self.call("MarkAsTemplate", &vm.xml("_this")).await?;
        self.vm_info(&vm, path).await
    }

    /// A device URL with a `*` host made the server's.
    fn device_url(&self, url: &str) -> String {
        match url.split_once("://*") {
            Some((scheme, rest)) => format!("{scheme}://{}{rest}", self.server),
            None => url.to_string(),
        }
    }

    /// Polls the lease until ready (→ its `info`) or error.
    async fn wait_lease(&self, lease: &MoRef, name: &str) -> Result<Node, VsphereError> {
        let lease_err = |message: String| VsphereError::Lease {
            name: name.to_string(),
            message,
        };
        for _ in 0..3600 {
            let props = self.props(lease, &["state", "error", "info"]).await?;
            let get = |n: &str| props.iter().find(|(k, _)| k == n).map(|(_, v)| v);
            match get("state").map(|s| s.text.trim()) {
                Some("ready") => {
                    return get("info")
                        .cloned()
                        .ok_or_else(|| lease_err("ready without info".into()))
                }
                Some("error") => {
                    let msg = get("error")
                        .and_then(|e| e.child_text("localizedMessage"))
                        .unwrap_or("no message");
                    return Err(lease_err(msg.to_string()));
                }
                Some("done") => return Err(lease_err("the lease ended before the upload".into())),
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
        Err(lease_err("not ready after 30 minutes".into()))
    }

    /// Uploads one OVA entry to its device URL, reporting progress (to the caller and
    /// to the lease, which keeps it alive) every `PROGRESS_EVERY`.
    #[allow(clippy::too_many_arguments)]
    async fn upload(
        &self,
        ova: &Ova,
        item: &FileItem,
        entry: &OvaEntry,
        url: &str,
        lease: &MoRef,
        before: u64,
        total: u64,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<(), VsphereError> {
        let upload_err = |message: String| VsphereError::Upload {
            file: item.path.clone(),
            message,
        };
        let mut file = tokio::fs::File::open(&ova.path)
            .await
            .map_err(|e| upload_err(e.to_string()))?;
        file.seek(std::io::SeekFrom::Start(entry.offset))
            .await
            .map_err(|e| upload_err(e.to_string()))?;
        let sent = Arc::new(AtomicU64::new(0));
        let body = reqwest::Body::wrap_stream(entry_stream(file, entry.size, sent.clone()));
        let method = if item.create {
            reqwest::Method::PUT
        } else {
            reqwest::Method::POST
        };
        let send = self
            .http
            .request(method, url)
            .header("Content-Type", "application/x-vnd.vmware-streamVmdk")
            .header("Content-Length", entry.size)
            .header("Cookie", self.cookie.expose_secret())
            .body(body)
            .send();
        tokio::pin!(send);
        let mut tick = tokio::time::interval(PROGRESS_EVERY);
        tick.tick().await;
        let resp = loop {
            tokio::select! {
                r = &mut send => break r,
                _ = tick.tick() => {
                    let done = before + sent.load(Ordering::Relaxed);
                    progress(done, total);
                    let percent = (done.saturating_mul(100)).checked_div(total).unwrap_or(0);
                    self.call(
                        "HttpNfcLeaseProgress",
                        &format!("{}<percent>{}</percent>", lease.xml("_this"), percent.min(100)),
                    )
                    .await?;
                }
            }
        };
        let resp = resp.map_err(|e| upload_err(super::error::transport_cause(&e)))?;
        if !resp.status().is_success() {
            return Err(upload_err(format!("HTTP {}", resp.status())));
        }
        Ok(())
    }

    /// After a failed import: abort the lease (it may be over already) and destroy the
    /// VM; the error is the import's, or `Cleanup` when something is left.
    async fn clean_up(
        &self,
        cause: VsphereError,
        lease: &MoRef,
        entity: Option<MoRef>,
        path: &str,
    ) -> VsphereError {
        let _ = self.call("HttpNfcLeaseAbort", &lease.xml("_this")).await;
        // Without the lease's info, the VM is found by path: it did not exist before
        // ImportVApp (checked), so what is there now is this import's.
        let vm = match entity {
            Some(vm) => Some(vm),
            None => match self.find_path(path).await {
                Ok(found) => found.filter(|m| m.kind == "VirtualMachine"),
                Err(e) => {
                    return VsphereError::Cleanup {
                        cause: Box::new(cause),
                        left: path.to_string(),
                        cleanup: Box::new(e),
                    }
                }
            },
        };
        let Some(vm) = vm else { return cause };
        match self.destroy(&vm, path).await {
            Ok(()) => cause,
            // Gone already (vCenter removes the VM of an aborted lease itself).
            Err(VsphereError::Fault { fault, .. }) if fault == "ManagedObjectNotFound" => cause,
            Err(e) => VsphereError::Cleanup {
                cause: Box::new(cause),
                left: path.to_string(),
                cleanup: Box::new(e),
            },
        }
    }
}

/// The `size` bytes from `file`'s position, in chunks, counting into `sent`; the OVA
/// ending early is an error (a truncated download), never a short upload.
fn entry_stream(
    file: tokio::fs::File,
    size: u64,
    sent: Arc<AtomicU64>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    futures::stream::try_unfold((file, size, sent), |(mut f, left, sent)| async move {
        if left == 0 {
            return Ok(None);
        }
        let want = usize::try_from(left).unwrap_or(CHUNK).min(CHUNK);
        let mut buf = vec![0u8; want];
        let n = f.read(&mut buf).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("the OVA file ends {left} bytes before the end of this disk (truncated)"),
            ));
        }
        buf.truncate(n);
        sent.fetch_add(n as u64, Ordering::Relaxed);
        Ok(Some((buf, (f, left - n as u64, sent))))
    })
}
