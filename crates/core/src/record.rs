//! The rollback record's format (versioned, documented by its JSON Schema). The
//! entries of a planned change are made beside the change (`plan::change`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The format tag written into every record.
pub const RECORD_FORMAT: &str = "ocp-bootimage.rollback/v1";

/// The whole record: entries in the order they were written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Record {
    /// Always `ocp-bootimage.rollback/v1`.
    pub format: String,
    /// Every change any run recorded, oldest first. Never removed, only marked rolled back.
    pub entries: Vec<RecordEntry>,
}

impl Default for Record {
    fn default() -> Record {
        Record {
            format: RECORD_FORMAT.to_string(),
            entries: Vec::new(),
        }
    }
}

/// One field of one object that a run changed (or was about to change).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecordEntry {
    /// Groups the entries of one run (a playbook passes the same `run_id` to every step).
    pub run_id: String,
    /// Position in the record (1, 2, …), unique and increasing.
    pub seq: u64,
    /// When the entry was written (RFC 3339, UTC).
    pub time: String,
    /// The module that wrote it (`autoscaling`, `stub_ignition`, `machineset_bootimage`, `rollback`).
    pub module: String,
    /// The object's `apiVersion`, `kind`, namespace and name.
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    /// JSON pointer of the field (`/spec/template/spec/providerSpec/value/ami/id`);
    /// `""` means the whole object (it was created: rollback deletes it).
    pub field: String,
    /// The value before (`null` = absent).
    pub old: Value,
    /// The value the run writes (`null` = removed).
    pub new: Value,
    /// Whether `old`/`new` hold Secret data (never shown in output).
    #[serde(default)]
    pub secret: bool,
    /// Set when `rollback` restored `old`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back: Option<RolledBack>,
}

/// When and by which run an entry was rolled back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RolledBack {
    pub time: String,
    pub run_id: String,
}

impl Record {
    /// Appends entries, renumbering them after the existing ones.
    pub fn append(&mut self, entries: Vec<RecordEntry>) {
        let mut seq = self.entries.last().map_or(0, |e| e.seq);
        for mut e in entries {
            seq += 1;
            e.seq = seq;
            self.entries.push(e);
        }
    }

    /// The id of the newest run that changed something (rollback runs excluded).
    pub fn last_run_id(&self) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.module != "rollback")
            .map(|e| e.run_id.as_str())
    }
}
