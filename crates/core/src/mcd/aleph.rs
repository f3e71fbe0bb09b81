//! Parsing the `CoreOS aleph version` line of a machine-config-daemon log into
//! the [`BuildId`] the node's boot image was built as (and the aleph file's mtime).
//!
//! Forms the MCD has written (real excerpts in `tests/fixtures/mcd-logs/`):
//!
//! | form | example |
//! |---|---|
//! | fields (MCO PR 2994) | `CoreOS aleph version: mtime=2022-01-25 12:16:35.638 +0000 UTC build=410.84.202201251210-0 imgid=rhcos-410.84.202201251210-0` |
//! | the same with its klog header, as `oc logs` prints it | `I1221 04:58:14.425691    1476 coreos.go:54] CoreOS aleph version: mtime=… build=415.92.202310310037-0 imgid=…` |
//! | JSON (MCO PR 4034): `mtime=…`, then the aleph file indented | `CoreOS aleph version: mtime=2023-12-01 15:49:05.098094105 +0000 UTC` / `{` / `   "build": "…",` … |
//!
//! Anything before the line is skipped (the `Defaulted container "machine-config-daemon"
//! out of: …` preamble of `oc logs`, other daemon output). A JSON blob cut short (a log
//! read with a byte limit, an excerpt) still gives its top-level `"build"` when that line
//! is there; without `build`, a `version` that is a build id (Fedora CoreOS) or a build id
//! inside `imgid` is taken. No I/O.

use serde_json::Value;

use crate::stream::{BuildId, ParseBuildIdError};

/// The text that marks the aleph line.
pub const ALEPH_MARKER: &str = "CoreOS aleph version:";

/// How many lines after the aleph line a JSON blob may span.
const MAX_JSON_LINES: usize = 200;

/// The longest build text echoed back in an error.
const MAX_ECHO: usize = 80;

/// Which form the aleph line had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlephFormat {
    /// `mtime=… build=… imgid=…` on the line itself (with or without a klog header).
    Fields,
    /// `mtime=…` on the line, followed by the aleph file as indented JSON.
    Json,
}

/// What the aleph line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aleph {
    /// The build of the disk image the node was installed from: its boot image.
    pub build: BuildId,
    /// The aleph file's mtime as logged, in RFC 3339 (UTC), when it could be read. It
    /// is written when the disk image is built (minutes after the build id's time),
    /// so it dates the image, not the node.
    pub mtime: Option<String>,
    /// The form of the line.
    pub format: AlephFormat,
}

/// Why a log gives no build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlephError {
    /// The text holds no `CoreOS aleph version` line.
    #[error("no `CoreOS aleph version` line")]
    NoAlephLine,
    /// The line is there but names no build (e.g. its JSON is cut short before `build`).
    #[error("the `CoreOS aleph version` line names no build")]
    NoBuild {
        /// The aleph file's mtime (RFC 3339), when the line carried one.
        mtime: Option<String>,
    },
    /// The line names a build that is not a CoreOS build id.
    #[error(
        "the `CoreOS aleph version` line names build `{text}`, which is not a CoreOS build id"
    )]
    BadBuild {
        /// The build text (cut to 80 characters).
        text: String,
        /// Why it is not a build id.
        #[source]
        source: ParseBuildIdError,
    },
}

/// Finds the first `CoreOS aleph version` line of a log that names a build. When no
/// line does, the error is about the first aleph line (or says there is none).
pub fn parse_mcd_log(text: &str) -> Result<Aleph, AlephError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut first_error = None;
    for (i, line) in lines.iter().enumerate() {
        let Some(at) = line.find(ALEPH_MARKER) else {
            continue;
        };
        let rest = line.get(at + ALEPH_MARKER.len()..).unwrap_or_default();
        let following = lines.get(i + 1..).unwrap_or_default();
        match parse_entry(rest, following) {
            Ok(aleph) => return Ok(aleph),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(AlephError::NoAlephLine))
}

/// One aleph line: `rest` is the text after the marker, `following` the lines after it.
fn parse_entry(rest: &str, following: &[&str]) -> Result<Aleph, AlephError> {
    let fields = fields(rest);
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let mtime = get("mtime").and_then(go_time_to_rfc3339);
    if let Some(build) = get("build") {
        let text = build.split_whitespace().next().unwrap_or_default();
        return match text.parse::<BuildId>() {
            Ok(build) => Ok(Aleph {
                build,
                mtime,
                format: AlephFormat::Fields,
            }),
            Err(source) => Err(AlephError::BadBuild {
                text: echo(text),
                source,
            }),
        };
    }
    if let Some(build) = get("imgid").and_then(BuildId::from_image_name) {
        return Ok(Aleph {
            build,
            mtime,
            format: AlephFormat::Fields,
        });
    }
    match json_blob(following).and_then(|blob| build_from_json(&blob)) {
        Some(Ok(build)) => Ok(Aleph {
            build,
            mtime,
            format: AlephFormat::Json,
        }),
        Some(Err((text, source))) => Err(AlephError::BadBuild {
            text: echo(&text),
            source,
        }),
        None => Err(AlephError::NoBuild { mtime }),
    }
}

/// `key=value` fields of the line; a value runs until the next `key=` token (the Go
/// time in `mtime=2022-01-25 12:16:35.638 +0000 UTC` has spaces).
fn fields(rest: &str) -> Vec<(&str, String)> {
    let mut out: Vec<(&str, String)> = Vec::new();
    for token in rest.split_whitespace() {
        match token.split_once('=') {
            Some((key, value)) if is_key(key) => out.push((key, value.to_string())),
            _ => {
                if let Some((_, value)) = out.last_mut() {
                    if !value.is_empty() {
                        value.push(' ');
                    }
                    value.push_str(token);
                }
            }
        }
    }
    out
}

fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_')
}

/// Go's `time.Time` string (`2023-12-01 15:49:05.098094105 +0000 UTC`) as RFC 3339 UTC.
fn go_time_to_rfc3339(go: &str) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    let mut parts = go.split_whitespace();
    let (date, clock, offset) = (parts.next()?, parts.next()?, parts.next()?);
    let (sign, hhmm) = offset.split_at_checked(1)?;
    if !matches!(sign, "+" | "-") || hhmm.len() != 4 || !hhmm.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hh, mm) = hhmm.split_at_checked(2)?;
    let text = format!("{date}T{clock}{sign}{hh}:{mm}");
    let t = time::OffsetDateTime::parse(&text, &Rfc3339).ok()?;
    t.to_offset(time::UtcOffset::UTC).format(&Rfc3339).ok()
}

/// A klog header (`I1221 04:58:14.425691 …`): the start of the next log entry.
fn is_log_header(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 6
        && matches!(b[0], b'I' | b'W' | b'E' | b'F')
        && b[1..5].iter().all(u8::is_ascii_digit)
        && b[5] == b' '
}

/// The JSON blob right after the aleph line: from a line opening with `{` to the
/// unindented `}` (or the next log entry, or the end of the text when it is cut short).
fn json_blob<'a>(following: &[&'a str]) -> Option<Vec<&'a str>> {
    let mut lines = following.iter().take(MAX_JSON_LINES);
    let first = lines.next()?;
    if !first.trim_start().starts_with('{') {
        return None;
    }
    let mut blob = vec![*first];
    for line in lines {
        if is_log_header(line) {
            break;
        }
        blob.push(line);
        if line.trim_end() == "}" {
            break;
        }
    }
    Some(blob)
}

/// The build named by the aleph JSON: `build`, else a `version` that is a build id, else
/// a build id in `imgid`. `Err` carries a `build` text that is not a build id.
fn build_from_json(blob: &[&str]) -> Option<Result<BuildId, (String, ParseBuildIdError)>> {
    let parsed = serde_json::from_str::<Value>(&blob.join("\n")).ok();
    let top = top_level_strings(blob);
    let get = |key: &str| -> Option<String> {
        match &parsed {
            Some(Value::Object(map)) => map.get(key).and_then(Value::as_str).map(str::to_string),
            _ => top.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()),
        }
    };
    if let Some(text) = get("build").filter(|t| !t.trim().is_empty()) {
        return Some(text.trim().parse().map_err(|e| (text.clone(), e)));
    }
    if let Some(build) = get("version").and_then(|v| v.trim().parse().ok()) {
        return Some(Ok(build));
    }
    get("imgid")
        .as_deref()
        .and_then(BuildId::from_image_name)
        .map(Ok)
}

/// `"key": "string"` lines at the top level of a (possibly cut) indented JSON object:
/// the indentation of its first key.
fn top_level_strings(blob: &[&str]) -> Vec<(String, String)> {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let Some(top) = blob
        .iter()
        .skip(1)
        .find(|l| l.trim_start().starts_with('"'))
        .map(|l| indent(l))
    else {
        return Vec::new();
    };
    blob.iter()
        .skip(1)
        .filter(|l| indent(l) == top)
        .filter_map(|l| {
            let line = l.trim();
            let (key, value) = line.split_once("\":")?;
            let key = key.strip_prefix('"')?;
            let value = value.trim().trim_end_matches(',');
            let value: String = serde_json::from_str(value).ok()?;
            Some((key.to_string(), value))
        })
        .collect()
}

fn echo(text: &str) -> String {
    if text.chars().count() <= MAX_ECHO {
        text.to_string()
    } else {
        let cut: String = text.chars().take(MAX_ECHO).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::BuildIdKind;

    const PR2994: &str =
        include_str!("../../../../tests/fixtures/mcd-logs/mco-pr2994-comment-excerpt.log");
    const PR4034: &str =
        include_str!("../../../../tests/fixtures/mcd-logs/mco-pr4034-comment-excerpt.log");
    const PR4083: &str =
        include_str!("../../../../tests/fixtures/mcd-logs/mco-pr4083-comment-excerpt.log");
    const PREAMBLE: &str = "Defaulted container \"machine-config-daemon\" out of: machine-config-daemon, kube-rbac-proxy\n";

    #[test]
    fn single_line_fields_form() {
        let a = parse_mcd_log(PR2994).unwrap();
        assert_eq!(a.build.raw(), "410.84.202201251210-0");
        assert_eq!(a.build.ocp_version(), Some((4, 10)));
        assert_eq!(a.mtime.as_deref(), Some("2022-01-25T12:16:35.638Z"));
        assert_eq!(a.format, AlephFormat::Fields);
    }

    #[test]
    fn klog_line_form() {
        let a = parse_mcd_log(PR4083).unwrap();
        assert_eq!(a.build.raw(), "415.92.202310310037-0");
        assert_eq!(a.mtime.as_deref(), Some("2023-10-31T00:44:27.92Z"));
        assert_eq!(a.format, AlephFormat::Fields);
    }

    #[test]
    fn json_form_cut_before_build_has_no_build_but_its_mtime() {
        // The real excerpt stops inside `container-image`, before any build field.
        assert_eq!(
            parse_mcd_log(PR4034),
            Err(AlephError::NoBuild {
                mtime: Some("2023-12-01T15:49:05.098094105Z".into())
            })
        );
    }

    #[test]
    fn json_form_with_a_top_level_build_line_even_when_cut() {
        let text = PR4034.replacen("{\n", "{\n   \"build\": \"39.20231101.3.0\",\n", 1);
        let a = parse_mcd_log(&text).unwrap();
        assert_eq!(a.build.raw(), "39.20231101.3.0");
        assert_eq!(a.build.kind(), BuildIdKind::Fedora);
        assert_eq!(a.format, AlephFormat::Json);
        assert_eq!(a.mtime.as_deref(), Some("2023-12-01T15:49:05.098094105Z"));
    }

    #[test]
    fn complete_json_form_with_klog_header_and_following_entries() {
        let text = "I0203 09:14:05.000000    2280 coreos.go:54] CoreOS aleph version: mtime=2025-01-22 13:52:10 +0000 UTC\n\
                    {\n   \"build\": \"418.94.202501221327-0\",\n   \"imgid\": \"rhcos-418.94.202501221327-0-aws.aarch64.vmdk.gz\",\n   \"ref\": \"\"\n}\n\
                    I0203 09:14:05.000100    2280 coreos.go:69] Ignition provisioning: time=2025-02-03T09:11:40Z\n";
        let a = parse_mcd_log(text).unwrap();
        assert_eq!(a.build.raw(), "418.94.202501221327-0");
        assert_eq!(a.mtime.as_deref(), Some("2025-01-22T13:52:10Z"));
        assert_eq!(a.format, AlephFormat::Json);
    }

    #[test]
    fn fedora_version_or_imgid_when_build_is_absent() {
        let version = "CoreOS aleph version: mtime=2023-12-01 15:49:05 +0000 UTC\n{\n   \"ref\": \"x\",\n   \"version\": \"39.20231101.3.0\"\n}\n";
        assert_eq!(
            parse_mcd_log(version).unwrap().build.raw(),
            "39.20231101.3.0"
        );
        let imgid = "CoreOS aleph version: mtime=2023-10-31 00:44:27.92 +0000 UTC imgid=rhcos-415.92.202310310037-0-qemu.x86_64.qcow2";
        assert_eq!(
            parse_mcd_log(imgid).unwrap().build.raw(),
            "415.92.202310310037-0"
        );
    }

    #[test]
    fn nested_build_keys_of_a_cut_blob_are_not_top_level() {
        let text = "CoreOS aleph version: mtime=2023-12-01 15:49:05 +0000 UTC\n{\n   \"container-image\": {\n      \"build\": \"39.20231101.3.0\",\n";
        assert!(matches!(
            parse_mcd_log(text),
            Err(AlephError::NoBuild { .. })
        ));
    }

    #[test]
    fn tolerates_the_oc_logs_preamble_and_crlf() {
        let a = parse_mcd_log(&format!("{PREAMBLE}{PR2994}")).unwrap();
        assert_eq!(a.build.raw(), "410.84.202201251210-0");
        let crlf = format!("{PREAMBLE}{PR4083}").replace('\n', "\r\n");
        assert_eq!(
            parse_mcd_log(&crlf).unwrap().build.raw(),
            "415.92.202310310037-0"
        );
    }

    #[test]
    fn a_later_line_with_a_build_wins_over_an_earlier_one_without() {
        let text = format!("{PR4034}\n{PR2994}");
        assert_eq!(
            parse_mcd_log(&text).unwrap().build.raw(),
            "410.84.202201251210-0"
        );
    }

    #[test]
    fn garbage_has_no_aleph_line() {
        for text in [
            "",
            "\n\n",
            PREAMBLE,
            "I0101 00:00:00.000000 1 start.go:61] Version: v4.18.0\nrandom \u{1F980} text {\n",
            "CoreOS aleph verison: build=410.84.202201251210-0",
        ] {
            assert_eq!(
                parse_mcd_log(text),
                Err(AlephError::NoAlephLine),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_build_that_is_not_a_build_id_is_an_error() {
        let err = parse_mcd_log(
            "CoreOS aleph version: mtime=2022-01-25 12:16:35 +0000 UTC build=latest imgid=x",
        )
        .unwrap_err();
        assert!(
            matches!(&err, AlephError::BadBuild { text, .. } if text == "latest"),
            "{err:?}"
        );
        assert!(err.to_string().contains("latest"));
        let err = parse_mcd_log("CoreOS aleph version: mtime=2022-01-25 12:16:35 +0000 UTC\n{\n   \"build\": \"nope\"\n}\n").unwrap_err();
        assert!(
            matches!(&err, AlephError::BadBuild { text, .. } if text == "nope"),
            "{err:?}"
        );
    }

    #[test]
    fn aleph_line_without_anything_names_no_build() {
        assert_eq!(
            parse_mcd_log("I1221 04:58:14.425691 1476 coreos.go:54] CoreOS aleph version:\nI1221 04:58:14.5 next"),
            Err(AlephError::NoBuild { mtime: None })
        );
        // A cut Go time is not an mtime.
        assert_eq!(
            parse_mcd_log("CoreOS aleph version: mtime=2022-01-25 12:16"),
            Err(AlephError::NoBuild { mtime: None })
        );
    }
}
