//! The observed cluster, as the planners see it: the [`Snapshot`] of every object a
//! run reads (filled by the shell from a live cluster or a dump), what was selected
//! and read, what could not be read ([`Unreadable`]), the kinds this tool knows, label
//! selectors, object accessors and the Machine → Node → machine-config-daemon trail.
//! Must not read anything itself.

pub mod nodes;
pub mod object;
pub mod resources;
pub mod selector;
pub mod snapshot;

pub use object::{annotation_of, labels_of, name_of, namespace_of, shrunk, user_data_secret_of};
pub use resources::Kind;
pub use selector::LabelSelector;
pub use snapshot::{
    Reads, Selection, Snapshot, SnapshotPart, Unreadable, DEFAULT_USER_DATA_SECRETS,
};
