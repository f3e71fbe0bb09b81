//! Stub Ignition (machine-api user-data Secret) handling.
//!
//! Owns: reading `userData` out of a user-data Secret, parsing it as an
//! Ignition config (spec 2.x or 3.x), and inspecting it (spec version,
//! whether the 2.x → 3.x migration is needed, merge/append pointer, CA
//! count, content hash), and the 2.x → 3.x migration (`convert`).
//! Must not do: any I/O (input is bytes/values), fetch the pointed-to
//! config, validate certificates (see `crate::cert`), or put user-data
//! content into errors or output (only hashes, lengths, versions).

pub mod convert;
mod error;
mod inspect;
mod secret;

pub use convert::{convert_to_v3, Conversion, ConvertError, TargetVersion};
pub use error::IgnitionError;
pub use inspect::{inspect_user_data, parse_ignition, StubInspection};
pub use secret::decode_secret_user_data;
