//! CoreOS build ids (RHCOS, FCOS, SCOS) as a real type.
//!
//! Owns [`BuildId`]: parsing every build id form that stream metadata has
//! used, the Azure Marketplace image versions derived from them, finding a
//! build id inside an image/template/object name, and the chronological order
//! between ids of different forms. No I/O.
//!
//! Forms accepted by `str::parse::<BuildId>()` ([`BuildIdKind`]):
//!
//! | form | example | meaning |
//! |---|---|---|
//! | OCP-versioned | `418.94.202501221327-0` | OCP 4.18, RHEL 9.4, 2025-01-22 13:27, serial 0 |
//! | OCP-versioned, dot serial (≤ 4.3) | `43.81.202001142154.0` | OCP 4.3, RHEL 8.1 |
//! | OCP-versioned, date only (4.1/4.2) | `410.8.20190520.0`, `42.80.20191002.0` | OCP 4.1 / 4.2 |
//! | RHEL-versioned (4.19+, SCOS c10s) | `9.6.20251015-0`, `10.2.20260405-0` | RHEL 9.6 / 10.2, a date |
//! | Fedora CoreOS | `39.20231101.3.0` | Fedora 39, 2023-11-01, stream 3 (stable), serial 0 |
//!
//! Azure Marketplace versions (`411.86.20221004`, `9.6.20251015`,
//! `4.18.2025031114`) are not build ids: they drop the serial and sometimes the
//! time, or carry the OCP version and an hour-precision timestamp instead. They
//! are accepted only by [`BuildId::from_marketplace_version`], so a stream whose
//! `release` field holds such a string is reported as malformed.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest input echoed back in an error message (longer input is cut).
const MAX_ECHO: usize = 80;

/// Which form a [`BuildId`] was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BuildIdKind {
    /// `<ocp major><ocp minor>.<rhel major><rhel minor>.<YYYYMMDDHHMM>-<n>` (RHCOS and OKD/SCOS
    /// 4.x up to 4.18), including `43.81.202001142154.0` (dot before the serial, ≤ 4.3) and the
    /// date-only 4.1/4.2 ids `410.8.20190520.0` / `42.80.20191002.0`.
    OcpVersioned,
    /// `<rhel major>.<rhel minor>.<YYYYMMDD>-<n>` (RHCOS 4.19+/5.x, SCOS `c10s`: `10.0.20251103-0`).
    RhelVersioned,
    /// Fedora CoreOS `<fedora>.<YYYYMMDD>.<stream>.<n>`, e.g. `39.20231101.3.0`.
    Fedora,
    /// An Azure Marketplace image version (see [`BuildId::from_marketplace_version`]).
    Marketplace,
}

/// The build time encoded in a build id, normalised so that ids of every form compare
/// chronologically. Date-only ids have `hour` and `minute` 0; hour-precision marketplace
/// versions have `minute` 0. Times are as written in the id (UTC by convention).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BuildTime {
    /// Four-digit year.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–31.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
}

impl fmt::Display for BuildTime {
    /// `YYYY-MM-DDTHH:MM`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute
        )
    }
}

/// Why a string is not a [`BuildId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseBuildIdError {
    /// The input is empty (or only whitespace).
    #[error("build id is empty")]
    Empty,
    /// The input does not have the shape of any known build id form.
    #[error(
        "`{text}` is not a CoreOS build id ({reason}); expected a form like \
         418.94.202501221327-0, 43.81.202001142154.0, 9.6.20251015-0 or 39.20231101.3.0"
    )]
    Malformed {
        /// The offending input (cut to 80 characters).
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The shape is right but the timestamp part is not a real date/time.
    #[error("`{text}` is not a CoreOS build id: `{timestamp}` is not a valid YYYYMMDD[HH[MM]] timestamp")]
    BadTimestamp {
        /// The offending input (cut to 80 characters).
        text: String,
        /// The timestamp part.
        timestamp: String,
    },
    /// Not an Azure Marketplace image version either.
    #[error(
        "`{text}` is not an Azure Marketplace RHCOS image version; expected a build id or a form \
         like 411.86.20221004, 9.6.20251015 or 4.18.2025031114"
    )]
    NotMarketplaceVersion {
        /// The offending input (cut to 80 characters).
        text: String,
    },
}

/// A CoreOS build id such as `418.94.202501221327-0` (see the module docs for all forms).
///
/// The original text is kept unchanged ([`BuildId::raw`], `Display`, serde) and the parts are
/// decoded once. Equality is equality of the text.
///
/// Order (`Ord`): chronological by [`BuildId::timestamp`] (date-only ids count as that day
/// 00:00), then by serial (no serial sorts before serial 0), then by the raw text. This makes
/// `43.81.202001142154.0 < 46.82.202011260640-0 < 418.94.202501221327-0 < 9.6.20251015-0 <
/// 10.2.20260405-0` even though the forms differ. It says nothing about OS stream (a RHEL 9 and a
/// RHEL 10 build of the same day compare by serial and text only).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BuildId {
    raw: String,
    kind: BuildIdKind,
    ocp: Option<(u32, u32)>,
    rhel: Option<(u32, u32)>,
    fedora: Option<u32>,
    time: BuildTime,
    serial: Option<u32>,
}

impl BuildId {
    /// The id exactly as written, e.g. `43.81.202001142154.0`.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Which form the id has.
    pub fn kind(&self) -> BuildIdKind {
        self.kind
    }

    /// The OpenShift (major, minor) the build belongs to, for OCP-versioned ids and marketplace
    /// versions that carry it: `418.94.…` → `(4, 18)`, `46.82.…` → `(4, 6)`,
    /// `4.18.2025031114` → `(4, 18)`. `None` for RHEL-versioned and Fedora ids.
    pub fn ocp_version(&self) -> Option<(u32, u32)> {
        self.ocp
    }

    /// The RHEL (major, minor) the build is based on: `418.94.…` → `(9, 4)`, `9.6.…` → `(9, 6)`,
    /// `10.2.…` → `(10, 2)`. A single-digit RHEL part (`410.8.…`, SCOS `413.9.…`) gives
    /// `(major, 0)`. For SCOS `c10s` ids (`10.0.…`) this is the CentOS Stream version.
    /// `None` for Fedora ids and for marketplace versions without it.
    pub fn rhel_version(&self) -> Option<(u32, u32)> {
        self.rhel
    }

    /// The Fedora release of a Fedora CoreOS id (`39.20231101.3.0` → 39).
    pub fn fedora_version(&self) -> Option<u32> {
        self.fedora
    }

    /// The normalised build time (see [`BuildTime`]).
    pub fn timestamp(&self) -> BuildTime {
        self.time
    }

    /// The build serial (`-0`/`.0` → 0); `None` for marketplace versions, which have none.
    pub fn serial(&self) -> Option<u32> {
        self.serial
    }

    /// Parses an Azure Marketplace image version (the `version` of a
    /// `publisher:offer:sku:version` image reference). Accepts every build id form, plus:
    ///
    /// - `411.86.20221004` — OCP-versioned id cut to the date (ARO `aro4` offer before 4.19):
    ///   OCP 4.11, RHEL 8.6, 2022-10-04;
    /// - `9.6.20251015` — RHEL-versioned id without serial (ARO `aro4` offer, 4.19+);
    /// - `4.18.2025031114` — the `redhat` offers (`rh-ocp-worker`, …): OCP 4.18 and
    ///   `YYYYMMDDHH`; no RHEL version.
    ///
    /// The result has kind [`BuildIdKind::Marketplace`] (unless the text was a full build id)
    /// and no serial, so it sorts just before a build id with the same timestamp.
    pub fn from_marketplace_version(text: &str) -> Result<BuildId, ParseBuildIdError> {
        if let Ok(id) = text.parse::<BuildId>() {
            return Ok(id);
        }
        let not = || ParseBuildIdError::NotMarketplaceVersion { text: echo(text) };
        let parts: Vec<&str> = text.split('.').collect();
        let [a, b, t] = parts.as_slice() else {
            return Err(not());
        };
        if !(is_digits(a, 1, 3) && is_digits(b, 1, 2) && is_digits(t, 8, 12)) {
            return Err(not());
        }
        let time = parse_time(t).ok_or_else(not)?;
        let (ocp, rhel) = match t.len() {
            // `4.18.2025031114`: OCP major.minor + YYYYMMDDHH.
            10 if a.len() == 1 && no_leading_zero(a) && no_leading_zero(b) => (
                Some((num(a).ok_or_else(not)?, num(b).ok_or_else(not)?)),
                None,
            ),
            8 | 12 if is_ocp_code(a) => (ocp_from_code(a, b), rhel_from_code(b)),
            8 if is_rhel_major(a) && no_leading_zero(b) => (
                None,
                Some((num(a).ok_or_else(not)?, num(b).ok_or_else(not)?)),
            ),
            _ => return Err(not()),
        };
        if ocp.is_none() && rhel.is_none() {
            return Err(not());
        }
        Ok(BuildId {
            raw: text.to_string(),
            kind: BuildIdKind::Marketplace,
            ocp,
            rhel,
            fedora: None,
            time,
            serial: None,
        })
    }

    /// Parses an RHCOS version as MachineConfiguration's `bootImageSkewEnforcement` writes it
    /// (`manual.rhcosVersion`, `status.…automatic.rhcosVersion`): the CRD accepts only
    /// `<a>.<b>.<YYYYMMDD>-<n>` (RHEL-versioned, `9.6.20251023-0`: RHEL 9.6) or the legacy
    /// `<a>.<b>.<YYYYMMDDHHMM>-<n>` (`418.94.202501221327-0`: OCP 4.18, RHEL 9.4; `810` is
    /// RHEL 8.10), 14–21 characters (openshift/api `operator/v1`
    /// `types_machineconfiguration.go`). A build id of another form (`43.81.202001142154.0`,
    /// Fedora CoreOS) is refused, so what this accepts can be written there.
    pub fn from_rhcos_version(text: &str) -> Result<BuildId, ParseBuildIdError> {
        let id: BuildId = text.parse()?;
        let malformed = |reason| ParseBuildIdError::Malformed {
            text: echo(text),
            reason,
        };
        if id.skew_rhcos_version().is_none() {
            return Err(malformed(
                "an RHCOS version is <major>.<minor>.<YYYYMMDD or YYYYMMDDHHMM>-<n>",
            ));
        }
        Ok(id)
    }

    /// This build as the `rhcosVersion` of MachineConfiguration's `bootImageSkewEnforcement`
    /// (see [`BuildId::from_rhcos_version`]): the id itself when it has that shape and a RHEL
    /// version, else `None` (ids ≤ 4.3 with a dot serial, 4.1/4.2 date-only ids, Fedora).
    pub fn skew_rhcos_version(&self) -> Option<&str> {
        let shaped = matches!(
            self.kind,
            BuildIdKind::OcpVersioned | BuildIdKind::RhelVersioned
        ) && self.rhel.is_some()
            && (14..=21).contains(&self.raw.len())
            && self.raw.rsplit_once('-').is_some_and(|(head, serial)| {
                !serial.is_empty()
                    && head
                        .rsplit('.')
                        .next()
                        .is_some_and(|t| t.len() == 8 || t.len() == 12)
            });
        shaped.then_some(self.raw.as_str())
    }

    /// Finds a build id embedded in an image, template or object name, e.g.
    /// `rhcos-46-82-202011260640-0-gcp-x86-64` → `46.82.202011260640-0`,
    /// `rhcos-43.81.202001142154.0-azure.x86_64.vhd` → `43.81.202001142154.0`,
    /// `415.92.202311241643-0-mycluster-rhcos` → `415.92.202311241643-0`,
    /// `fedora-coreos-39-20231101-3-0-gcp-x86-64` → `39.20231101.3.0`.
    ///
    /// Dashed (GCP/PowerVS style) ids are rewritten to the dotted form; ids of OCP ≤ 4.3 get a
    /// dot before the serial (`rhcos-43-81-202001142154-0` → `43.81.202001142154.0`), as the
    /// real builds had. Returns `None` when the name holds no build id
    /// (`ocp-cl02-xdqkk-rhcos`, `rhcos-ibmcloud-qcow`). This is a heuristic for names that
    /// are not in any known stream; prefer the stream catalog when it knows the image.
    pub fn from_image_name(name: &str) -> Option<BuildId> {
        let bytes = name.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if !bytes[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            // A maximal run of digit groups joined by single separators.
            let mut groups: Vec<&str> = Vec::new();
            let mut seps: Vec<u8> = Vec::new();
            let mut j = i;
            loop {
                let start = j;
                while j < bytes.len() && bytes[j].is_ascii_digit() {
                    j += 1;
                }
                groups.push(name.get(start..j)?);
                let joins = j + 1 < bytes.len()
                    && matches!(bytes[j], b'.' | b'-' | b'_')
                    && bytes[j + 1].is_ascii_digit();
                if !joins {
                    break;
                }
                seps.push(bytes[j]);
                j += 1;
            }
            let found = groups
                .windows(4)
                .zip(seps.windows(3))
                .find_map(|(g, s)| candidate(g, s));
            if found.is_some() {
                return found;
            }
            i = j.max(i + 1);
        }
        None
    }
}

/// Tries one window of four digit groups from [`BuildId::from_image_name`].
fn candidate(groups: &[&str], seps: &[u8]) -> Option<BuildId> {
    let [g0, g1, g2, g3] = groups else {
        return None;
    };
    let [s0, s1, s2] = seps else {
        return None;
    };
    let text = if *s0 == b'.' && *s1 == b'.' && matches!(s2, b'.' | b'-') {
        // Already written as a build id.
        format!("{g0}.{g1}.{g2}{}{g3}", char::from(*s2))
    } else if g1.len() == 8 {
        // Fedora CoreOS, dashed: 39-20231101-3-0.
        format!("{g0}.{g1}.{g2}.{g3}")
    } else {
        let dot_serial = is_ocp_code(g0)
            && match g2.len() {
                8 => true,
                12 => g0.len() == 2 && *g0 <= "43",
                _ => false,
            };
        let sep = if dot_serial { '.' } else { '-' };
        format!("{g0}.{g1}.{g2}{sep}{g3}")
    };
    text.parse().ok()
}

impl FromStr for BuildId {
    type Err = ParseBuildIdError;

    /// Parses a build id in any form listed in the module docs (not marketplace versions).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.trim().is_empty() {
            return Err(ParseBuildIdError::Empty);
        }
        let malformed = |reason| ParseBuildIdError::Malformed {
            text: echo(text),
            reason,
        };
        if !text
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
        {
            return Err(malformed("only digits, `.` and `-` are allowed"));
        }
        // Split into digit groups and the separators between them.
        let groups: Vec<&str> = text.split(['.', '-']).collect();
        let seps: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_digit()).collect();
        if groups.iter().any(|g| g.is_empty()) {
            return Err(malformed("empty part"));
        }
        let [a, b, c, d] = groups.as_slice() else {
            return Err(malformed("expected four numeric parts"));
        };
        let bad_time = || ParseBuildIdError::BadTimestamp {
            text: echo(text),
            timestamp: echo(if b.len() == 8 && seps == b"..." { b } else { c }),
        };
        let serial = Some(num(d).ok_or_else(|| malformed("serial is not a small number"))?);

        // Fedora CoreOS: 39.20231101.3.0
        if seps == b"..." && b.len() == 8 && is_digits(a, 2, 3) {
            if !(is_digits(c, 1, 3) && is_digits(d, 1, 3)) {
                return Err(malformed("Fedora CoreOS ids end in .<stream>.<serial>"));
            }
            return Ok(BuildId {
                raw: text.to_string(),
                kind: BuildIdKind::Fedora,
                ocp: None,
                rhel: None,
                fedora: num(a),
                time: parse_time(b).ok_or_else(bad_time)?,
                serial,
            });
        }
        if !(seps == b"..-" || seps == b"...") {
            return Err(malformed("expected `<a>.<b>.<timestamp>-<serial>`"));
        }
        let dash_serial = seps.last() == Some(&b'-');
        match c.len() {
            8 | 12 if is_ocp_code(a) && is_digits(b, 1, 3) => Ok(BuildId {
                raw: text.to_string(),
                kind: BuildIdKind::OcpVersioned,
                ocp: ocp_from_code(a, b),
                rhel: rhel_from_code(b),
                fedora: None,
                time: parse_time(c).ok_or_else(bad_time)?,
                serial,
            }),
            8 if dash_serial && is_rhel_major(a) && is_digits(b, 1, 2) && no_leading_zero(b) => {
                Ok(BuildId {
                    raw: text.to_string(),
                    kind: BuildIdKind::RhelVersioned,
                    ocp: None,
                    rhel: num(a).zip(num(b)),
                    fedora: None,
                    time: parse_time(c).ok_or_else(bad_time)?,
                    serial,
                })
            }
            8 | 12 => Err(malformed(
                "the version parts before the timestamp are not an OCP or RHEL version",
            )),
            _ => Err(malformed(
                "the third part must be a YYYYMMDD or YYYYMMDDHHMM timestamp",
            )),
        }
    }
}

impl Ord for BuildId {
    /// Timestamp, then serial (`None` first), then raw text; see the type docs.
    fn cmp(&self, other: &Self) -> Ordering {
        self.time
            .cmp(&other.time)
            .then_with(|| self.serial.cmp(&other.serial))
            .then_with(|| self.raw.cmp(&other.raw))
    }
}

impl PartialOrd for BuildId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for BuildId {
    /// Prints the id unchanged.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl Serialize for BuildId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for BuildId {
    /// Deserialises from a string with [`FromStr`] (build ids only, not marketplace versions).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for BuildId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "BuildId".into()
    }

    fn json_schema(_generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "CoreOS build id, e.g. 418.94.202501221327-0, 43.81.202001142154.0, \
                            9.6.20251015-0 or 39.20231101.3.0",
            "examples": ["418.94.202501221327-0", "9.6.20251015-0"]
        })
    }
}

/// Cuts `text` for use in an error message.
fn echo(text: &str) -> String {
    if text.chars().count() <= MAX_ECHO {
        text.to_string()
    } else {
        let cut: String = text.chars().take(MAX_ECHO).collect();
        format!("{cut}…")
    }
}

/// `s` is `min..=max` ASCII digits.
fn is_digits(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

fn no_leading_zero(s: &str) -> bool {
    s == "0" || !s.starts_with('0')
}

/// A short all-digit string as a number (at most 9 digits, so it fits a `u32`).
fn num(s: &str) -> Option<u32> {
    if is_digits(s, 1, 9) {
        s.parse().ok()
    } else {
        None
    }
}

/// The first part of a RHEL-versioned id: a RHEL (or CentOS Stream) major, 8–39.
fn is_rhel_major(s: &str) -> bool {
    is_digits(s, 1, 2) && no_leading_zero(s) && num(s).is_some_and(|n| (8..40).contains(&n))
}

/// The first part of an OCP-versioned id: `46`, `418` (two or three digits, ≥ 40).
fn is_ocp_code(s: &str) -> bool {
    is_digits(s, 2, 3) && !s.starts_with('0') && s >= "40"
}

/// `46` → 4.6, `418` → 4.18. `410` is 4.10, except with a one-digit RHEL part
/// (`410.8.20190520.0`), which is 4.1 (4.10 ids have `410.84`).
fn ocp_from_code(code: &str, rhel_code: &str) -> Option<(u32, u32)> {
    if code == "410" && rhel_code.len() == 1 {
        return Some((4, 1));
    }
    let major = num(code.get(..1)?)?;
    Some((major, num(code.get(1..)?)?))
}

/// `94` → 9.4, `8` → 8.0, `810` → 8.10 (the first digit is the RHEL major, as MCO's
/// `checkRHCOSVersionSkew` reads it).
fn rhel_from_code(code: &str) -> Option<(u32, u32)> {
    match code.len() {
        1 => Some((num(code)?, 0)),
        2 | 3 => Some((num(code.get(..1)?)?, num(code.get(1..)?)?)),
        _ => None,
    }
}

/// `YYYYMMDD`, `YYYYMMDDHH` or `YYYYMMDDHHMM` with range checks.
fn parse_time(s: &str) -> Option<BuildTime> {
    if !matches!(s.len(), 8 | 10 | 12) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let part = |from: usize, to: usize| -> Option<u32> { s.get(from..to)?.parse().ok() };
    let year = part(0, 4)?;
    let month = part(4, 6)?;
    let day = part(6, 8)?;
    let hour = if s.len() >= 10 { part(8, 10)? } else { 0 };
    let minute = if s.len() == 12 { part(10, 12)? } else { 0 };
    let valid = (1970..=9999).contains(&year)
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour <= 23
        && minute <= 59;
    if !valid {
        return None;
    }
    Some(BuildTime {
        year: u16::try_from(year).ok()?,
        month: u8::try_from(month).ok()?,
        day: u8::try_from(day).ok()?,
        hour: u8::try_from(hour).ok()?,
        minute: u8::try_from(minute).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> BuildId {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn time(y: u16, mo: u8, d: u8, h: u8, mi: u8) -> BuildTime {
        BuildTime {
            year: y,
            month: mo,
            day: d,
            hour: h,
            minute: mi,
        }
    }

    #[test]
    fn parses_every_form() {
        // (text, kind, ocp, rhel, time, serial)
        type Row = (
            &'static str,
            BuildIdKind,
            Option<(u32, u32)>,
            Option<(u32, u32)>,
            BuildTime,
            u32,
        );
        use BuildIdKind::*;
        let rows: Vec<Row> = vec![
            (
                "43.81.202001142154.0",
                OcpVersioned,
                Some((4, 3)),
                Some((8, 1)),
                time(2020, 1, 14, 21, 54),
                0,
            ),
            (
                "46.82.202011260640-0",
                OcpVersioned,
                Some((4, 6)),
                Some((8, 2)),
                time(2020, 11, 26, 6, 40),
                0,
            ),
            (
                "418.94.202501221327-0",
                OcpVersioned,
                Some((4, 18)),
                Some((9, 4)),
                time(2025, 1, 22, 13, 27),
                0,
            ),
            (
                "415.92.202311241643-0",
                OcpVersioned,
                Some((4, 15)),
                Some((9, 2)),
                time(2023, 11, 24, 16, 43),
                0,
            ),
            (
                "410.84.202201251210-0",
                OcpVersioned,
                Some((4, 10)),
                Some((8, 4)),
                time(2022, 1, 25, 12, 10),
                0,
            ),
            (
                "410.8.20190520.0",
                OcpVersioned,
                Some((4, 1)),
                Some((8, 0)),
                time(2019, 5, 20, 0, 0),
                0,
            ),
            (
                "42.80.20191002.0",
                OcpVersioned,
                Some((4, 2)),
                Some((8, 0)),
                time(2019, 10, 2, 0, 0),
                0,
            ),
            (
                "413.9.202302280609-0",
                OcpVersioned,
                Some((4, 13)),
                Some((9, 0)),
                time(2023, 2, 28, 6, 9),
                0,
            ),
            (
                "9.6.20251015-0",
                RhelVersioned,
                None,
                Some((9, 6)),
                time(2025, 10, 15, 0, 0),
                0,
            ),
            (
                "9.6.20260217-1",
                RhelVersioned,
                None,
                Some((9, 6)),
                time(2026, 2, 17, 0, 0),
                1,
            ),
            (
                "10.2.20260405-0",
                RhelVersioned,
                None,
                Some((10, 2)),
                time(2026, 4, 5, 0, 0),
                0,
            ),
            (
                "9.8.20260403-0",
                RhelVersioned,
                None,
                Some((9, 8)),
                time(2026, 4, 3, 0, 0),
                0,
            ),
            (
                "10.0.20251103-0",
                RhelVersioned,
                None,
                Some((10, 0)),
                time(2025, 11, 3, 0, 0),
                0,
            ),
            (
                "39.20231101.3.0",
                Fedora,
                None,
                None,
                time(2023, 11, 1, 0, 0),
                0,
            ),
        ];
        for (text, kind, ocp, rhel, t, serial) in rows {
            let b = id(text);
            assert_eq!(b.raw(), text);
            assert_eq!(b.to_string(), text);
            assert_eq!(b.kind(), kind, "{text}");
            assert_eq!(b.ocp_version(), ocp, "{text}");
            assert_eq!(b.rhel_version(), rhel, "{text}");
            assert_eq!(b.timestamp(), t, "{text}");
            assert_eq!(b.serial(), Some(serial), "{text}");
        }
        assert_eq!(id("39.20231101.3.0").fedora_version(), Some(39));
    }

    #[test]
    fn orders_chronologically_across_forms() {
        let ordered = [
            "42.80.20191002.0",
            "43.81.202001142154.0",
            "46.82.202011260640-0",
            "415.92.202311241643-0",
            "418.94.202501221327-0",
            "9.6.20251015-0",
            "9.6.20251015-1",
            "10.2.20260405-0",
        ];
        for pair in ordered.windows(2) {
            assert!(id(pair[0]) < id(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        let mut shuffled: Vec<BuildId> = ordered.iter().rev().map(|s| id(s)).collect();
        shuffled.sort();
        let sorted: Vec<&str> = shuffled.iter().map(BuildId::raw).collect();
        assert_eq!(sorted, ordered);
        // Same day: date-only counts as 00:00, so the timestamped build is newer.
        assert!(id("410.8.20220125.0") < id("410.84.202201250001-0"));
        // Marketplace version (no serial) sorts just before the same build's id.
        let m = BuildId::from_marketplace_version("9.6.20251015").unwrap();
        assert!(m < id("9.6.20251015-0"));
        assert!(m > id("418.94.202501221327-0"));
        assert_eq!(
            id("9.6.20251015-0").cmp(&id("9.6.20251015-0")),
            Ordering::Equal
        );
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert_eq!("".parse::<BuildId>(), Err(ParseBuildIdError::Empty));
        assert_eq!("  ".parse::<BuildId>(), Err(ParseBuildIdError::Empty));
        for bad in [
            "abc",
            "4.18",
            "4.18.0",
            "418.94",
            "418.94.202501221327",
            "418.94.202501221327-",
            "-418.94.202501221327-0",
            "418..202501221327-0",
            "418.94.202501221327-0-1",
            "418.94.2025012213-0",
            "418.94.202501221327--0",
            "+418.94.202501221327-0",
            " 418.94.202501221327-0",
            "418.94.202501221327-99999999999999999999",
            "9.6.20251015.0",
            "9.6.20251015",
            "411.86.20221004",
            "4.18.2025031114",
            "4١8.94.202501221327-0",
            "rhcos-418.94.202501221327-0",
            "ä.ö.ü-ß",
            "🦀",
            "06.2.20251015-0",
            "1234.94.202501221327-0",
        ] {
            let err = bad.parse::<BuildId>();
            assert!(err.is_err(), "{bad:?} parsed as {err:?}");
        }
        for bad_time in [
            "418.94.202513221327-0",
            "418.94.202501321327-0",
            "418.94.202501222527-0",
            "418.94.202501221360-0",
            "9.6.20250015-0",
            "39.20231301.3.0",
        ] {
            assert!(
                matches!(
                    bad_time.parse::<BuildId>(),
                    Err(ParseBuildIdError::BadTimestamp { .. })
                ),
                "{bad_time}"
            );
        }
        let long = "9".repeat(1000);
        let msg = long.parse::<BuildId>().unwrap_err().to_string();
        assert!(msg.len() < 400, "{msg}");
    }

    #[test]
    fn error_messages_name_the_input() {
        let msg = "abc".parse::<BuildId>().unwrap_err().to_string();
        assert!(
            msg.contains("`abc`") && msg.contains("418.94.202501221327-0"),
            "{msg}"
        );
    }

    #[test]
    fn marketplace_versions() {
        let a = BuildId::from_marketplace_version("411.86.20221004").unwrap();
        assert_eq!(a.kind(), BuildIdKind::Marketplace);
        assert_eq!(a.ocp_version(), Some((4, 11)));
        assert_eq!(a.rhel_version(), Some((8, 6)));
        assert_eq!(a.timestamp(), time(2022, 10, 4, 0, 0));
        assert_eq!(a.serial(), None);
        assert_eq!(a.raw(), "411.86.20221004");

        let b = BuildId::from_marketplace_version("9.6.20251015").unwrap();
        assert_eq!(b.ocp_version(), None);
        assert_eq!(b.rhel_version(), Some((9, 6)));
        assert_eq!(b.timestamp(), time(2025, 10, 15, 0, 0));

        let c = BuildId::from_marketplace_version("4.18.2025031114").unwrap();
        assert_eq!(c.ocp_version(), Some((4, 18)));
        assert_eq!(c.rhel_version(), None);
        assert_eq!(c.timestamp(), time(2025, 3, 11, 14, 0));

        // Full build ids are accepted as they are.
        let d = BuildId::from_marketplace_version("418.94.202501221327-0").unwrap();
        assert_eq!(d.kind(), BuildIdKind::OcpVersioned);
        let e = BuildId::from_marketplace_version("410.84.20220125").unwrap();
        assert_eq!(e.ocp_version(), Some((4, 10)));

        for bad in [
            "",
            "latest",
            "1.2.3",
            "4.18",
            "4.18.20250311",
            "ä.1.20251015",
            "4.99.2025133114",
            "4.18.20250311",
            "1.2.20250101",
        ] {
            assert!(
                BuildId::from_marketplace_version(bad).is_err(),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn finds_build_id_in_image_names() {
        let cases = [
            ("rhcos-46-82-202011260640-0-gcp-x86-64", Some("46.82.202011260640-0")),
            ("rhcos-49-84-202108041519-0", Some("49.84.202108041519-0")),
            (
                "rhcos-418-94-202602022246-0-ppc64le-powervs.ova.gz",
                Some("418.94.202602022246-0"),
            ),
            (
                "rhcos-43.81.202001142154.0-azure.x86_64.vhd",
                Some("43.81.202001142154.0"),
            ),
            ("rhcos-43-81-202001142154-0", Some("43.81.202001142154.0")),
            (
                "rhcos-415.92.202311241643-0-qemu.x86_64.qcow2",
                Some("415.92.202311241643-0"),
            ),
            (
                "rhcos-415.92.202311241643-0-vmware.x86_64",
                Some("415.92.202311241643-0"),
            ),
            (
                "415.92.202311241643-0-mycluster-rhcos",
                Some("415.92.202311241643-0"),
            ),
            ("rhcos-9-6-20251015-0-gcp-x86-64", Some("9.6.20251015-0")),
            ("rhcos-10-2-20260405-0-gcp-aarch64", Some("10.2.20260405-0")),
            (
                "scos-10-0-20251103-0-ppc64le-powervs.ova.gz",
                Some("10.0.20251103-0"),
            ),
            (
                "rhcos-9.6.20251015-0-azure.x86_64.vhd",
                Some("9.6.20251015-0"),
            ),
            (
                "fedora-coreos-39-20231101-3-0-gcp-x86-64",
                Some("39.20231101.3.0"),
            ),
            (
                "https://example.com/releases/rhcos-4.18/418.94.202501221327-0/x86_64/rhcos-418.94.202501221327-0-aws.x86_64.vmdk.gz",
                Some("418.94.202501221327-0"),
            ),
            ("418.94.202501221327-0", Some("418.94.202501221327-0")),
            ("ocp-cl02-xdqkk-rhcos", None),
            ("rhcos-ibmcloud-qcow", None),
            ("ci-ln-fyvthbt-f76d1-nl2fh-rhcos-image", None),
            ("76f2-5s6hr-rhcos", None),
            ("ami-06f85a7940faa3217", None),
            ("", None),
            ("1-2-3-4-5-6-7-8", None),
            ("🦀-418-94-202501221327-0-🦀", Some("418.94.202501221327-0")),
        ];
        for (name, want) in cases {
            let got = BuildId::from_image_name(name);
            assert_eq!(got.as_ref().map(BuildId::raw), want, "{name}");
        }
    }

    #[test]
    fn rhcos_versions_of_skew_enforcement() {
        // The two forms MCO's checkRHCOSVersionSkew reads (pkg/operator/status.go).
        let new = BuildId::from_rhcos_version("9.6.20251023-0").unwrap();
        assert_eq!(new.rhel_version(), Some((9, 6)));
        assert_eq!(new.ocp_version(), None);
        let legacy = BuildId::from_rhcos_version("418.94.202501221327-0").unwrap();
        assert_eq!(legacy.rhel_version(), Some((9, 4)));
        assert_eq!(legacy.ocp_version(), Some((4, 18)));
        assert_eq!(id("416.810.202402131256-0").rhel_version(), Some((8, 10)));
        // 22 characters: longer than the CRD's 21, so not writable there.
        assert!(BuildId::from_rhcos_version("416.810.202402131256-0").is_err());
        assert_eq!(
            BuildId::from_rhcos_version("48.810.202208021106-0")
                .unwrap()
                .rhel_version(),
            Some((8, 10))
        );
        assert_eq!(
            id("48.84.202208021106-0").skew_rhcos_version(),
            Some("48.84.202208021106-0")
        );
        assert_eq!(id("10.2.20260405-0").rhel_version(), Some((10, 2)));
        for not_skew in [
            "43.81.202001142154.0",
            "410.8.20190520.0",
            "39.20231101.3.0",
        ] {
            assert_eq!(id(not_skew).skew_rhcos_version(), None, "{not_skew}");
            assert!(BuildId::from_rhcos_version(not_skew).is_err(), "{not_skew}");
        }
        for bad in ["", "9.6", "4.22.0", "9.6.2025102-0", "rhcos-9.6.20251023-0"] {
            assert!(BuildId::from_rhcos_version(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serde_and_schema() {
        let b = id("418.94.202501221327-0");
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            "\"418.94.202501221327-0\""
        );
        let back: BuildId = serde_json::from_str("\"418.94.202501221327-0\"").unwrap();
        assert_eq!(back, b);
        assert!(serde_json::from_str::<BuildId>("\"nope\"").is_err());
        let schema = serde_json::to_value(schemars::schema_for!(BuildId)).unwrap();
        assert_eq!(schema["type"], "string");
    }

    #[test]
    fn never_panics_on_arbitrary_short_inputs() {
        let alphabet = ['1', '9', '0', '.', '-', 'a', 'é'];
        let mut stack = vec![String::new()];
        while let Some(s) = stack.pop() {
            let _ = s.parse::<BuildId>();
            let _ = BuildId::from_marketplace_version(&s);
            let _ = BuildId::from_image_name(&s);
            if s.chars().count() < 6 {
                for c in alphabet {
                    stack.push(format!("{s}{c}"));
                }
            }
        }
    }
}
