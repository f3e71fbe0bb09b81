//! CPU architectures of boot images.
//!
//! Owns the [`Arch`] enum and the mapping between the two naming schemes in
//! play: RPM names (`x86_64`, `aarch64`, …) used by stream metadata and image
//! names, and Go/Kubernetes names (`amd64`, `arm64`, …) used in node labels and
//! the cluster-autoscaler capacity annotation.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A CPU architecture that RHCOS/FCOS/SCOS boot images are built for.
///
/// Serialises (and deserialises) as the RPM name, e.g. `"x86_64"`. The order
/// (`Ord`) is the declaration order, which is only meant for stable sorting.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub enum Arch {
    /// `x86_64` (Kubernetes: `amd64`).
    #[serde(rename = "x86_64")]
    X86_64,
    /// `aarch64` (Kubernetes: `arm64`).
    #[serde(rename = "aarch64")]
    Aarch64,
    /// `ppc64le` (same name in Kubernetes).
    #[serde(rename = "ppc64le")]
    Ppc64le,
    /// `s390x` (same name in Kubernetes).
    #[serde(rename = "s390x")]
    S390x,
}

/// The error of `"…".parse::<Arch>()`: the text is neither an RPM nor a Kubernetes arch name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown architecture `{0}`; expected one of x86_64 (amd64), aarch64 (arm64), ppc64le, s390x"
)]
pub struct ParseArchError(pub String);

impl Arch {
    /// Every architecture, in declaration order.
    pub const ALL: [Arch; 4] = [Arch::X86_64, Arch::Aarch64, Arch::Ppc64le, Arch::S390x];

    /// Parses an RPM architecture name exactly (`x86_64`, `aarch64`, `ppc64le`, `s390x`).
    pub fn from_rpm(name: &str) -> Option<Arch> {
        match name {
            "x86_64" => Some(Arch::X86_64),
            "aarch64" => Some(Arch::Aarch64),
            "ppc64le" => Some(Arch::Ppc64le),
            "s390x" => Some(Arch::S390x),
            _ => None,
        }
    }

    /// Parses a Go/Kubernetes architecture name exactly (`amd64`, `arm64`, `ppc64le`, `s390x`),
    /// as found in `kubernetes.io/arch` labels.
    pub fn from_kube(name: &str) -> Option<Arch> {
        match name {
            "amd64" => Some(Arch::X86_64),
            "arm64" => Some(Arch::Aarch64),
            "ppc64le" => Some(Arch::Ppc64le),
            "s390x" => Some(Arch::S390x),
            _ => None,
        }
    }

    /// Parses either naming scheme, ignoring ASCII case and surrounding whitespace.
    pub fn parse_any(name: &str) -> Option<Arch> {
        let lower = name.trim().to_ascii_lowercase();
        Arch::from_rpm(&lower).or_else(|| Arch::from_kube(&lower))
    }

    /// The RPM name: `x86_64`, `aarch64`, `ppc64le`, `s390x`.
    pub fn as_rpm(&self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
            Arch::Ppc64le => "ppc64le",
            Arch::S390x => "s390x",
        }
    }

    /// The Go/Kubernetes name: `amd64`, `arm64`, `ppc64le`, `s390x`.
    pub fn as_kube(&self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Aarch64 => "arm64",
            Arch::Ppc64le => "ppc64le",
            Arch::S390x => "s390x",
        }
    }

    /// Finds an architecture mentioned inside a file name, path or URL, e.g.
    /// `rhcos-46.82.202109180809-0-metal.ppc64le.raw.gz` → `ppc64le`,
    /// `rhcos-418-94-202501221327-0-gcp-aarch64` → `aarch64`,
    /// `…-gcp-x86-64` → `x86_64`. Case-insensitive. Returns `None` when no
    /// architecture, or more than one different one, is mentioned.
    pub fn find_in(text: &str) -> Option<Arch> {
        let lower = text.to_ascii_lowercase();
        let patterns: [(&str, Arch); 7] = [
            ("x86_64", Arch::X86_64),
            ("x86-64", Arch::X86_64),
            ("amd64", Arch::X86_64),
            ("aarch64", Arch::Aarch64),
            ("arm64", Arch::Aarch64),
            ("ppc64le", Arch::Ppc64le),
            ("s390x", Arch::S390x),
        ];
        let mut found: Option<Arch> = None;
        for (pattern, arch) in patterns {
            if lower.contains(pattern) {
                match found {
                    Some(other) if other != arch => return None,
                    _ => found = Some(arch),
                }
            }
        }
        found
    }
}

impl fmt::Display for Arch {
    /// Prints the RPM name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_rpm())
    }
}

impl FromStr for Arch {
    type Err = ParseArchError;

    /// Same as [`Arch::parse_any`], with an error naming the accepted values.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Arch::parse_any(s).ok_or_else(|| ParseArchError(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpm_and_kube_names_round_trip() {
        for arch in Arch::ALL {
            assert_eq!(Arch::from_rpm(arch.as_rpm()), Some(arch));
            assert_eq!(Arch::from_kube(arch.as_kube()), Some(arch));
            assert_eq!(Arch::parse_any(arch.as_rpm()), Some(arch));
            assert_eq!(Arch::parse_any(arch.as_kube()), Some(arch));
            assert_eq!(arch.to_string(), arch.as_rpm());
        }
    }

    #[test]
    fn exact_parsers_do_not_mix_schemes() {
        assert_eq!(Arch::from_rpm("amd64"), None);
        assert_eq!(Arch::from_rpm("arm64"), None);
        assert_eq!(Arch::from_kube("x86_64"), None);
        assert_eq!(Arch::from_kube("aarch64"), None);
        assert_eq!(Arch::from_rpm("X86_64"), None);
    }

    #[test]
    fn parse_any_is_case_insensitive() {
        assert_eq!(Arch::parse_any("AMD64"), Some(Arch::X86_64));
        assert_eq!(Arch::parse_any(" Aarch64 "), Some(Arch::Aarch64));
        assert_eq!(Arch::parse_any("S390X"), Some(Arch::S390x));
        assert_eq!(Arch::parse_any("riscv64"), None);
        assert_eq!(Arch::parse_any(""), None);
        assert_eq!(Arch::parse_any("ä"), None);
    }

    #[test]
    fn from_str_error_lists_accepted_names() {
        let err = "i386".parse::<Arch>().unwrap_err();
        assert!(err.to_string().contains("i386"));
        assert!(err.to_string().contains("x86_64 (amd64)"));
        assert_eq!("arm64".parse::<Arch>(), Ok(Arch::Aarch64));
    }

    #[test]
    fn serializes_as_rpm_name() {
        assert_eq!(serde_json::to_string(&Arch::X86_64).unwrap(), "\"x86_64\"");
        assert_eq!(
            serde_json::from_str::<Arch>("\"ppc64le\"").unwrap(),
            Arch::Ppc64le
        );
        let schema = serde_json::to_value(schemars::schema_for!(Arch)).unwrap();
        let text = schema.to_string();
        assert!(text.contains("x86_64") && text.contains("s390x"), "{text}");
    }

    #[test]
    fn find_in_names() {
        assert_eq!(
            Arch::find_in("rhcos-46.82.202109180809-0-metal.ppc64le.raw.gz"),
            Some(Arch::Ppc64le)
        );
        assert_eq!(
            Arch::find_in("rhcos-418-94-202501221327-0-gcp-aarch64"),
            Some(Arch::Aarch64)
        );
        assert_eq!(
            Arch::find_in("rhcos-46-82-202011260640-0-gcp-x86-64"),
            Some(Arch::X86_64)
        );
        assert_eq!(
            Arch::find_in("https://x/releases/rhcos-4.6-s390x/46.82/s390x/"),
            Some(Arch::S390x)
        );
        assert_eq!(Arch::find_in("rhcos-ibmcloud-qcow"), None);
        assert_eq!(Arch::find_in("x86_64 and aarch64"), None);
    }
}
