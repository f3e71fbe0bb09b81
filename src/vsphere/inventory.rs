//! Inventory lookups, properties and tasks (owns: inventory paths → managed objects,
//! RetrieveProperties, waiting for tasks, `check_location`, `find_vm`, `destroy_vm`,
//! `vms_in_folder`).

use std::time::Duration;

use super::soap::{MoRef, Session};
use super::xml::{esc, Node};
use super::{Location, VmInfo, VsphereError, BUILD_KEY};

/// A `Location` resolved to managed objects.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub datastore: MoRef,
    pub folder: MoRef,
    pub pool: MoRef,
    pub network: Option<MoRef>,
    /// The folder's inventory path, normalized.
    pub folder_path: String,
}

/// How long a task or lease is waited for before giving up.
const WAIT_LIMIT: Duration = Duration::from_secs(30 * 60);

fn not_found(what: &str, path: &str) -> VsphereError {
    VsphereError::NotFound {
        what: what.to_string(),
        path: path.to_string(),
    }
}

/// `/a/b/` → `/a/b`; `a` → `<under>/a`.
fn absolute(path: &str, under: &str) -> String {
    let p = path.trim_end_matches('/');
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("{under}/{p}")
    }
}

impl Session {
    /// SearchIndex.FindByInventoryPath: the object at `path`, or None.
    pub(crate) async fn find_path(&self, path: &str) -> Result<Option<MoRef>, VsphereError> {
        let inner = format!(
            "{}<inventoryPath>{}</inventoryPath>",
            self.sc.search_index.xml("_this"),
            esc(path)
        );
        let r = self.call("FindByInventoryPath", &inner).await?;
        Ok(r.child("returnval").and_then(MoRef::of))
    }

    /// RetrieveProperties of `paths` on each of `objs` (one kind): per object, the
    /// properties set (unset ones are absent).
    pub(crate) async fn props_many(
        &self,
        kind: &str,
        objs: &[MoRef],
        paths: &[&str],
    ) -> Result<Vec<(MoRef, Vec<(String, Node)>)>, VsphereError> {
        if objs.is_empty() {
            return Ok(Vec::new());
        }
        let path_set: String = paths
            .iter()
            .map(|p| format!("<pathSet>{}</pathSet>", esc(p)))
            .collect();
        let object_set: String = objs
            .iter()
            .map(|o| format!("<objectSet>{}</objectSet>", o.xml("obj")))
            .collect();
        let inner = format!(
            "{}<specSet><propSet><type>{}</type>{path_set}</propSet>{object_set}</specSet>",
            self.sc.property_collector.xml("_this"),
            esc(kind)
        );
        let r = self.call("RetrieveProperties", &inner).await?;
        Ok(r.all("returnval")
            .filter_map(|rv| {
                let obj = MoRef::of(rv.child("obj")?)?;
                let props = rv
                    .all("propSet")
                    .filter_map(|p| {
                        Some((p.child_text("name")?.to_string(), p.child("val")?.clone()))
                    })
                    .collect();
                Some((obj, props))
            })
            .collect())
    }

    /// RetrieveProperties of `paths` on one object.
    pub(crate) async fn props(
        &self,
        obj: &MoRef,
        paths: &[&str],
    ) -> Result<Vec<(String, Node)>, VsphereError> {
        let mut all = self
            .props_many(&obj.kind, std::slice::from_ref(obj), paths)
            .await?;
        Ok(all.pop().map(|(_, p)| p).unwrap_or_default())
    }

    /// The names of `objs` (any managed entities), in their order.
    async fn names(&self, objs: &[MoRef]) -> Result<Vec<(MoRef, String)>, VsphereError> {
        let got = self.props_many("ManagedEntity", objs, &["name"]).await?;
        Ok(objs
            .iter()
            .filter_map(|o| {
                let (_, props) = got.iter().find(|(m, _)| m == o)?;
                let name = props.iter().find(|(n, _)| n == "name")?.1.text.clone();
                Some((o.clone(), name))
            })
            .collect())
    }

    /// Polls a task's `info` until success (→ its result) or error (→ `Task` with the
    /// fault's message).
    pub(crate) async fn wait_task(
        &self,
        task: &MoRef,
        call: &str,
        object: &str,
    ) -> Result<Option<Node>, VsphereError> {
        let started = std::time::Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            let props = self.props(task, &["info"]).await?;
            let info = props
                .into_iter()
                .find(|(n, _)| n == "info")
                .map(|(_, v)| v)
                .unwrap_or_default();
            match info.child_text("state").unwrap_or("") {
                "success" => return Ok(info.child("result").cloned()),
                "error" => {
                    let message = info
                        .at(&["error", "localizedMessage"])
                        .map(|n| n.text.clone())
                        .filter(|m| !m.is_empty())
                        .or_else(|| {
                            info.at(&["error", "fault"])
                                .and_then(|f| f.xsi_type.clone())
                        })
                        .unwrap_or_else(|| "no message".to_string());
                    return Err(VsphereError::Task {
                        call: call.to_string(),
                        object: object.to_string(),
                        message,
                    });
                }
                _ => {}
            }
            if started.elapsed() > WAIT_LIMIT {
                return Err(VsphereError::Task {
                    call: call.to_string(),
                    object: object.to_string(),
                    message: format!("not done after {} s", WAIT_LIMIT.as_secs()),
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    /// The object at `path` if it is one of `kinds`, else `NotFound` naming `what`.
    async fn expect(&self, path: &str, kinds: &[&str], what: &str) -> Result<MoRef, VsphereError> {
        match self.find_path(path).await? {
            Some(m) if kinds.contains(&m.kind.as_str()) => Ok(m),
            Some(m) => Err(not_found(what, &format!("{path} (a {} is there)", m.kind))),
            None => Err(not_found(what, path)),
        }
    }

    /// A datastore or network: an inventory path, or a name among the datacenter's
    /// `datastore` / `network` objects.
    async fn by_name(
        &self,
        dc: &MoRef,
        prop: &str,
        given: &str,
        kinds: &[&str],
        what: &str,
    ) -> Result<MoRef, VsphereError> {
        if given.starts_with('/') {
            return self.expect(given, kinds, what).await;
        }
        let props = self.props(dc, &[prop]).await?;
        let members: Vec<MoRef> = props
            .iter()
            .filter(|(n, _)| n == prop)
            .flat_map(|(_, v)| v.children.iter().filter_map(MoRef::of))
            .collect();
        self.names(&members)
            .await?
            .into_iter()
            .find(|(_, n)| n == given)
            .map(|(m, _)| m)
            .ok_or_else(|| not_found(what, given))
    }

    /// Every part of `l` as a managed object; the first missing one is the error.
    pub(crate) async fn resolve(&self, l: &Location) -> Result<Resolved, VsphereError> {
        let dc_path = absolute(&l.datacenter, "");
        let dc = self.expect(&dc_path, &["Datacenter"], "datacenter").await?;
        let datastore = self
            .by_name(&dc, "datastore", &l.datastore, &["Datastore"], "datastore")
            .await?;
        let folder_path = absolute(&l.folder, &format!("{dc_path}/vm"));
        let folder = self.expect(&folder_path, &["Folder"], "folder").await?;
        let pool_path = absolute(&l.resource_pool, &format!("{dc_path}/host"));
        let found = self
            .expect(
                &pool_path,
                &[
                    "ResourcePool",
                    "VirtualApp",
                    "ClusterComputeResource",
                    "ComputeResource",
                ],
                "resource pool",
            )
            .await?;
        let pool = if found.kind.ends_with("ComputeResource") {
            let props = self.props(&found, &["resourcePool"]).await?;
            props
                .iter()
                .find(|(n, _)| n == "resourcePool")
                .and_then(|(_, v)| MoRef::of(v))
                .ok_or_else(|| not_found("resource pool", &pool_path))?
        } else {
            found
        };
        let network = match &l.network {
            Some(n) => Some(
                self.by_name(
                    &dc,
                    "network",
                    n,
                    &["Network", "DistributedVirtualPortgroup", "OpaqueNetwork"],
                    "network",
                )
                .await?,
            ),
            None => None,
        };
        Ok(Resolved {
            datastore,
            folder,
            pool,
            network,
            folder_path,
        })
    }

    /// Datacenter, datastore, folder, resource pool (and network when Some) exist; one
    /// error naming the first missing one.
    pub async fn check_location(&self, l: &Location) -> Result<(), VsphereError> {
        self.resolve(l).await.map(|_| ())
    }

    /// SearchIndex.FindByInventoryPath (`/DC0/vm/folder/name`) + properties; None when
    /// absent.
    pub async fn find_vm(&self, inventory_path: &str) -> Result<Option<VmInfo>, VsphereError> {
        match self.find_path(inventory_path).await? {
            None => Ok(None),
            Some(m) if m.kind == "VirtualMachine" => {
                self.vm_info(&m, inventory_path).await.map(Some)
            }
            Some(m) => Err(not_found(
                "virtual machine",
                &format!("{inventory_path} (a {} is there)", m.kind),
            )),
        }
    }

    /// A VM's `VmInfo` from its properties.
    pub(crate) async fn vm_info(&self, vm: &MoRef, path: &str) -> Result<VmInfo, VsphereError> {
        let props = self
            .props(vm, &["config.template", "config.extraConfig", "datastore"])
            .await?;
        let get = |name: &str| props.iter().find(|(n, _)| n == name).map(|(_, v)| v);
        let is_template = get("config.template").is_some_and(|v| v.text.trim() == "true");
        let build = get("config.extraConfig").and_then(|v| {
            v.children
                .iter()
                .find(|o| o.child_text("key") == Some(BUILD_KEY))
                .and_then(|o| o.child_text("value"))
                .map(str::to_string)
        });
        let ds: Vec<MoRef> = get("datastore")
            .map(|v| v.children.iter().filter_map(MoRef::of).collect())
            .unwrap_or_default();
        let datastores = self.names(&ds).await?.into_iter().map(|(_, n)| n).collect();
        Ok(VmInfo {
            path: path.to_string(),
            moref: vm.value.clone(),
            is_template,
            build,
            datastores,
        })
    }

    /// Destroy_Task of a VM/template; Ok(false) when it was already gone.
    pub async fn destroy_vm(&self, inventory_path: &str) -> Result<bool, VsphereError> {
        match self.find_path(inventory_path).await? {
            None => Ok(false),
            Some(m) if m.kind == "VirtualMachine" => {
                self.destroy(&m, inventory_path).await.map(|()| true)
            }
            Some(m) => Err(not_found(
                "virtual machine",
                &format!("{inventory_path} (a {} is there)", m.kind),
            )),
        }
    }

    /// MarkAsTemplate of the VM at `inventory_path` (an import a run stopped before marking).
    pub async fn mark_as_template(&self, inventory_path: &str) -> Result<(), VsphereError> {
        let vm = self
            .expect(inventory_path, &["VirtualMachine"], "virtual machine")
            .await?;
        self.call("MarkAsTemplate", &vm.xml("_this"))
            .await
            .map(|_| ())
    }

    /// Destroy_Task of `vm` and wait for it.
    pub(crate) async fn destroy(&self, vm: &MoRef, path: &str) -> Result<(), VsphereError> {
        let r = self.call("Destroy_Task", &vm.xml("_this")).await?;
        let task =
            r.child("returnval")
                .and_then(MoRef::of)
                .ok_or_else(|| VsphereError::Protocol {
                    call: "Destroy_Task".into(),
                    detail: "no task".into(),
                })?;
        self.wait_task(&task, "Destroy_Task", path)
            .await
            .map(|_| ())
    }

    /// The names of the VMs and templates directly in the folder at `folder_path`.
    pub async fn vms_in_folder(&self, folder_path: &str) -> Result<Vec<String>, VsphereError> {
        let folder = self.expect(folder_path, &["Folder"], "folder").await?;
        let props = self.props(&folder, &["childEntity"]).await?;
        let vms: Vec<MoRef> = props
            .iter()
            .filter(|(n, _)| n == "childEntity")
            .flat_map(|(_, v)| v.children.iter().filter_map(MoRef::of))
            .filter(|m| m.kind == "VirtualMachine")
            .collect();
        let mut names: Vec<String> = self
            .names(&vms)
            .await?
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::absolute;

    #[test]
    fn relative_paths_go_under_the_datacenter() {
        assert_eq!(absolute("DC0", ""), "/DC0");
        assert_eq!(absolute("/DC0/vm/infra/", "/DC0/vm"), "/DC0/vm/infra");
        assert_eq!(absolute("infra", "/DC0/vm"), "/DC0/vm/infra");
    }
}
