//! Migrating stub Ignition (`stub_ignition`): the pure planner of one user-data secret
//! (in place, or into a new `<name>-ignv3` secret with the MachineSets that use the old
//! one repointed), of every secret of a run, and the re-plan of one object after a 409.
//! Also the report of a stub read from a local file (the shell does the file I/O).
//!
//! Secret content never reaches a report or a message: reports carry digests and
//! lengths, errors name the secret and the Ignition key paths only.

use std::collections::BTreeMap;

use base64::Engine;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Value};

use super::change::secret_digest;
use super::step::Plan;
use super::ObjectChange;
use crate::cluster::{name_of, resources, user_data_secret_of};
use crate::ignition::{
    convert_to_v3, decode_secret_user_data, Conversion, ConvertError, IgnitionError, TargetVersion,
};

/// Where a MachineSet names its user-data secret.
const USER_DATA_SECRET_NAME: &str = "/spec/template/spec/providerSpec/value/userDataSecret/name";

/// One migrated (or inspected) stub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct StubReport {
    /// Secret name, or the file path.
    pub name: String,
    /// `ignition.version` found.
    pub from_version: Option<String>,
    /// `ignition.version` written (same as `from_version` when unchanged).
    pub to_version: Option<String>,
    pub changed: bool,
    /// With `create_new`: the secret written.
    pub new_secret: Option<String>,
    /// With `create_new`: MachineSets pointed at the new secret.
    pub machinesets_repointed: Vec<String>,
    /// `sha256:<hex> (<n> bytes)` of the stub before and after (never the content).
    pub before: Option<String>,
    pub after: Option<String>,
    /// What the conversion translated (key paths only).
    pub notes: Vec<String>,
}

/// Why a stub migration cannot be planned: the run fails before anything is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StubError {
    /// A secret to migrate does not exist.
    #[error("secret {name} not found in namespace {namespace}")]
    NotFound { name: String, namespace: String },
    /// The secret's `userData` cannot be read.
    #[error("secret {name}")]
    UserData {
        name: String,
        #[source]
        source: IgnitionError,
    },
    /// The stub is not an Ignition config, or has content without a spec 3 equivalent.
    #[error("secret {name} was left untouched")]
    Convert {
        name: String,
        #[source]
        source: ConvertError,
    },
}

/// How the stubs are migrated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StubOptions {
    /// The Ignition spec version to write.
    pub target: TargetVersion,
    /// Write `<name>-ignv3` and repoint the MachineSets instead of changing in place.
    pub create_new: bool,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `sha256:<hex> (<n> bytes)` of stub bytes.
fn digest(bytes: &[u8]) -> String {
    secret_digest(&b64(bytes), true)
}

/// The name of the secret `create_new` writes for `name`.
pub fn new_secret_name(name: &str) -> String {
    format!("{name}-ignv3")
}

/// Converts the stub `bytes` (named `name` in the report: a secret or a file path):
/// the report, and the bytes to write (None when already spec 3).
pub fn migrate_stub(
    name: &str,
    bytes: &[u8],
    target: TargetVersion,
) -> Result<(StubReport, Option<Vec<u8>>), ConvertError> {
    let mut report = StubReport {
        name: name.to_string(),
        from_version: None,
        to_version: None,
        changed: false,
        new_secret: None,
        machinesets_repointed: Vec::new(),
        before: Some(digest(bytes)),
        after: Some(digest(bytes)),
        notes: Vec::new(),
    };
    match convert_to_v3(bytes, target)? {
        Conversion::AlreadyV3 { version } => {
            report.from_version = Some(version.clone());
            report.to_version = Some(version);
            Ok((report, None))
        }
        Conversion::Converted {
            bytes: new,
            from_version,
            notes,
            ..
        } => {
            report.from_version = Some(from_version);
            report.to_version = Some(target.to_string());
            report.after = Some(digest(&new));
            report.notes = notes;
            report.changed = true;
            Ok((report, Some(new)))
        }
    }
}

/// Plans the migration of one secret. Returns the report and the changes (the secret,
/// or the new secret plus the MachineSets to repoint).
pub fn plan_secret(
    secret: &Value,
    machinesets: &[Value],
    target: TargetVersion,
    create_new: bool,
) -> Result<(StubReport, Vec<ObjectChange>), StubError> {
    let name = name_of(secret).to_string();
    let bytes = decode_secret_user_data(secret).map_err(|source| StubError::UserData {
        name: name.clone(),
        source,
    })?;
    let (mut report, new_bytes) =
        migrate_stub(&name, &bytes, target).map_err(|source| StubError::Convert {
            name: name.clone(),
            source,
        })?;
    let Some(new_bytes) = new_bytes else {
        return Ok((report, Vec::new()));
    };
    let from = report.from_version.clone().unwrap_or_else(|| "?".into());
    if !create_new {
        let change = in_place(secret, &new_bytes, format!("Ignition {from} → {target}"));
        return Ok((report, vec![change]));
    }
    let new_name = new_secret_name(&name);
    let mut changes = vec![new_secret(
        secret,
        &new_name,
        &new_bytes,
        format!("new secret {new_name}: Ignition {from} → {target}"),
    )];
    for ms in machinesets
        .iter()
        .filter(|m| user_data_secret_of(m) == Some(name.as_str()))
    {
        report.machinesets_repointed.push(name_of(ms).to_string());
        changes.push(repoint(ms, &name, namespace_of(secret)));
    }
    report.new_secret = Some(new_name);
    Ok((report, changes))
}

/// The namespace of an object, if it names one.
fn namespace_of(obj: &Value) -> Option<String> {
    obj.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The secret with `userData` replaced by `new_bytes` (a `stringData.userData` dropped).
fn in_place(secret: &Value, new_bytes: &[u8], summary: String) -> ObjectChange {
    let mut after = secret.clone();
    after["data"]["userData"] = Value::String(b64(new_bytes));
    if let Some(sd) = after.get_mut("stringData").and_then(Value::as_object_mut) {
        sd.remove("userData");
    }
    ObjectChange::update(resources::SECRET, secret, after, summary)
}

/// A new secret `new_name` like `secret` (type, labels, other keys) holding `new_bytes`.
fn new_secret(secret: &Value, new_name: &str, new_bytes: &[u8], summary: String) -> ObjectChange {
    let ns = namespace_of(secret);
    let mut data = secret.get("data").cloned().unwrap_or_else(|| json!({}));
    data["userData"] = Value::String(b64(new_bytes));
    let mut metadata = json!({"name": new_name, "namespace": ns});
    if let Some(labels) = secret.pointer("/metadata/labels") {
        metadata["labels"] = labels.clone();
    }
    let after = json!({"apiVersion": "v1", "kind": "Secret", "type": secret.get("type").cloned().unwrap_or(json!("Opaque")),
                        "metadata": metadata, "data": data});
    ObjectChange {
        kind: resources::SECRET,
        namespace: ns,
        name: new_name.to_string(),
        before: None,
        after,
        summary,
    }
}

/// The MachineSet `ms` (which names the secret `old`) pointed at `<old>-ignv3`;
/// `namespace` is where the change is made.
fn repoint(ms: &Value, old: &str, namespace: Option<String>) -> ObjectChange {
    let new_name = new_secret_name(old);
    let mut after = ms.clone();
    if let Some(v) = after.pointer_mut(USER_DATA_SECRET_NAME) {
        *v = Value::String(new_name.clone());
    }
    ObjectChange {
        kind: resources::MACHINE_SET,
        namespace,
        name: name_of(ms).to_string(),
        before: Some(ms.clone()),
        after,
        summary: format!("userDataSecret {old} → {new_name}"),
    }
}

/// The secrets a run migrates: `requested`, or (when none) every user-data secret a
/// MachineSet references; sorted, each once.
pub fn stub_names(requested: &[String], machinesets: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = if requested.is_empty() {
        machinesets
            .iter()
            .filter_map(user_data_secret_of)
            .map(str::to_string)
            .collect()
    } else {
        requested.to_vec()
    };
    names.sort();
    names.dedup();
    names
}

/// One run's migration: which secrets, of which MachineSets, how.
#[derive(Debug, Clone)]
pub struct StubMigration<'a> {
    /// The secrets to migrate (see [`stub_names`]).
    pub names: Vec<String>,
    /// The MachineSets of the namespace (repointed with `create_new`).
    pub machinesets: &'a [Value],
    pub options: StubOptions,
}

impl<'a> StubMigration<'a> {
    /// The migration of the secrets `requested` (none: every one a MachineSet references).
    pub fn new(
        requested: &[String],
        machinesets: &'a [Value],
        options: StubOptions,
    ) -> StubMigration<'a> {
        StubMigration {
            names: stub_names(requested, machinesets),
            machinesets,
            options,
        }
    }

    /// Plans every secret first: one secret that is missing or cannot be migrated fails
    /// the run before any write. `secrets` are the user-data secrets read, by name, in
    /// `namespace`. Warns when no secret is to be migrated.
    pub fn plan(
        &self,
        secrets: &BTreeMap<String, Value>,
        namespace: &str,
    ) -> Result<Plan<Vec<StubReport>>, StubError> {
        let mut plan = Plan::new(Vec::new(), Vec::new());
        for name in &self.names {
            let secret = secrets.get(name).ok_or_else(|| StubError::NotFound {
                name: name.clone(),
                namespace: namespace.to_string(),
            })?;
            let (report, mut changes) = plan_secret(
                secret,
                self.machinesets,
                self.options.target,
                self.options.create_new,
            )?;
            plan.reports.push(report);
            plan.changes.append(&mut changes);
        }
        if self.names.is_empty() {
            plan.warnings.push(format!(
                "no user-data secret is referenced by a MachineSet in {namespace}"
            ));
        }
        Ok(plan)
    }

    /// Re-plans one object after a 409, from a fresh read: a MachineSet is repointed only
    /// if it still names a migrated secret; an existing `-ignv3` secret is left alone if
    /// it is spec 3 already; a secret is planned again.
    pub fn replan(&self, fresh: &Value) -> Result<Option<ObjectChange>, StubError> {
        let kind = fresh
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let name = name_of(fresh);
        if kind == "MachineSet" {
            return Ok(self
                .names
                .iter()
                .find(|n| user_data_secret_of(fresh) == Some(n.as_str()))
                .map(|old| repoint(fresh, old, namespace_of(fresh))));
        }
        let target = self.options.target;
        if self.options.create_new && name.ends_with("-ignv3") {
            let (_, c) = plan_secret(fresh, &[], target, false)?;
            return Ok(c.into_iter().next());
        }
        let (_, c) = plan_secret(fresh, self.machinesets, target, self.options.create_new)?;
        Ok(c.into_iter().find(|c| c.name == name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(name: &str, config: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
               "metadata": {"name": name, "namespace": "ns", "labels": {"a": "b"}},
               "data": {"userData": b64(config.as_bytes()), "disableTemplating": "dHJ1ZQ=="}})
    }

    fn machineset(name: &str, secret: &str) -> Value {
        json!({"kind": "MachineSet", "metadata": {"name": name, "namespace": "ns"},
               "spec": {"template": {"spec": {"providerSpec": {"value": {"userDataSecret": {"name": secret}}}}}}})
    }

    const V2: &str = r#"{"ignition":{"version":"2.2.0","config":{"append":[{"source":"https://api-int:22623/config/worker"}]}}}"#;
    const V3: &str = r#"{"ignition":{"version":"3.1.0"}}"#;

    #[test]
    fn in_place_changes_the_secret_only() {
        let (report, changes) = plan_secret(
            &secret("w", V2),
            &[machineset("m", "w")],
            TargetVersion::default(),
            false,
        )
        .unwrap();
        assert!(report.changed);
        assert_eq!(report.from_version.as_deref(), Some("2.2.0"));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].name, "w");
        assert!(report.machinesets_repointed.is_empty());
    }

    #[test]
    fn create_new_writes_the_secret_and_repoints() {
        let ms = [machineset("m1", "w"), machineset("m2", "other")];
        let (report, changes) =
            plan_secret(&secret("w", V2), &ms, TargetVersion::default(), true).unwrap();
        assert_eq!(report.new_secret.as_deref(), Some("w-ignv3"));
        assert_eq!(report.machinesets_repointed, vec!["m1".to_string()]);
        assert_eq!(changes.len(), 2);
        assert!(changes[0].before.is_none());
        assert_eq!(changes[0].after["metadata"]["labels"], json!({"a": "b"}));
        assert_eq!(
            changes[1].after.pointer(USER_DATA_SECRET_NAME),
            Some(&json!("w-ignv3"))
        );
    }

    #[test]
    fn spec_3_is_left_alone_and_errors_name_the_secret() {
        let (report, changes) =
            plan_secret(&secret("w", V3), &[], TargetVersion::default(), false).unwrap();
        assert!(!report.changed && changes.is_empty());
        let e = plan_secret(
            &secret("c", "#cloud-config"),
            &[],
            TargetVersion::default(),
            false,
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("secret c was left untouched"),
            "{e}"
        );
        let missing = StubMigration {
            names: vec!["x".into()],
            machinesets: &[],
            options: StubOptions::default(),
        }
        .plan(&BTreeMap::new(), "ns")
        .unwrap_err();
        assert_eq!(missing.to_string(), "secret x not found in namespace ns");
    }

    #[test]
    fn names_default_to_the_referenced_secrets_and_none_warns() {
        let ms = [
            machineset("a", "w"),
            machineset("b", "w"),
            machineset("c", "v"),
        ];
        assert_eq!(stub_names(&[], &ms), vec!["v".to_string(), "w".to_string()]);
        let plan = StubMigration {
            names: Vec::new(),
            machinesets: &[],
            options: StubOptions::default(),
        }
        .plan(&BTreeMap::new(), "ns")
        .unwrap();
        assert_eq!(
            plan.warnings,
            vec!["no user-data secret is referenced by a MachineSet in ns".to_string()]
        );
    }

    #[test]
    fn replan_repoints_only_machinesets_that_still_name_the_old_secret() {
        let ms = [machineset("m", "w")];
        let m = StubMigration {
            names: vec!["w".into()],
            machinesets: &ms,
            options: StubOptions {
                create_new: true,
                ..StubOptions::default()
            },
        };
        let change = m.replan(&ms[0]).unwrap().unwrap();
        assert_eq!(change.summary, "userDataSecret w → w-ignv3");
        assert!(m.replan(&machineset("m", "w-ignv3")).unwrap().is_none());
        // The new secret exists already as spec 3: nothing to do.
        assert!(m.replan(&secret("w-ignv3", V3)).unwrap().is_none());
        // The old secret, re-read: only its own change (none with create_new).
        assert!(m.replan(&secret("w", V2)).unwrap().is_none());
    }
}
