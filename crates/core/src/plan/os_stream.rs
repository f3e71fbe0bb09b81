//! Which OS stream (`rhel-9`, `rhel-10`) each MachineSet takes its target from.
//!
//! 5.0 MachineSets carry the label `machineconfiguration.openshift.io/osstream` on their
//! own `metadata.labels` (MCO `pkg/controller/bootimage/ms_helpers.go` reads
//! `machineSet.GetLabels()[OSStreamLabelKey]`), and the 5.0 `coreos-bootimages` ConfigMap
//! offers one stream per OS stream (`streams`). A labelled MachineSet takes its own
//! stream's target; an unlabelled one the default (the `os_stream` option, else the
//! source's default stream). A source with one stream (a stream file, a pre-5.0
//! ConfigMap) is the OS stream of its builds' RHEL major (`9.8.…`, `418.94.…` → `rhel-9`;
//! `10.2.…` → `rhel-10`) and applies to MachineSets of that OS stream only. A label this
//! source does not offer (a custom name, or `rhel-10` against a RHEL 9 file) is a skip
//! with its reason, never a retarget to the default. Pure; no I/O.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::cluster::labels_of;
use crate::stream::{BuildId, Stream, StreamSet};

/// The label naming a MachineSet's OS stream (on the MachineSet's `metadata.labels`).
pub const OS_STREAM_LABEL: &str = "machineconfiguration.openshift.io/osstream";

/// The one OS stream MCO's boot image controller updates (`SupportedOSStream =
/// osimagestream.StreamNameRHEL9`, MCO 7ff337a `boot_image_controller.go`); it skips
/// MachineSets labelled with any other.
pub const MCO_SUPPORTED_OS_STREAM: &str = "rhel-9";

/// The OS stream label of a MachineSet, if it has one (trimmed; empty = none).
pub fn label_of(ms: &Value) -> Option<String> {
    labels_of(ms)
        .get(OS_STREAM_LABEL)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The OS stream of a build: `rhel-<major>` of its RHEL version (`9.6.…`, `418.94.…` →
/// `rhel-9`; `10.2.…` → `rhel-10`; `412.86.…` → `rhel-8`). None for Fedora / unknown.
pub fn of_build(build: &BuildId) -> Option<String> {
    build
        .rhel_version()
        .map(|(major, _)| format!("rhel-{major}"))
}

/// The OS stream of a whole stream: that of its newest build.
pub fn of_stream(stream: &Stream) -> Option<String> {
    stream.newest_release().and_then(of_build)
}

/// Whether going from a build of OS stream `from` to one of `to` moves a MachineSet
/// across OS streams. RHEL 8 → RHEL 9 is not a move: until 5.0 there was one RHCOS
/// stream, which went from RHEL 8 to RHEL 9 at 4.13 (no label existed); a move is any
/// change of major where either side is RHEL 10 or later.
pub fn is_cross_stream(from: &str, to: &str) -> bool {
    let major = |s: &str| s.strip_prefix("rhel-").and_then(|m| m.parse::<u32>().ok());
    match (major(from), major(to)) {
        (Some(a), Some(b)) => a != b && a.max(b) >= 10,
        _ => from != to,
    }
}

/// The OS streams a source offers, resolved once per run.
#[derive(Debug, Clone)]
pub struct OsStreams<'a> {
    /// The OS stream unlabelled MachineSets use (the `os_stream` option, else the
    /// source's default stream's), when it can be named.
    pub default_name: Option<String>,
    /// The stream unlabelled MachineSets take targets from, or why there is none.
    pub default: Result<&'a Stream, String>,
    /// Every OS stream of the source by name, or why it cannot be used.
    pub named: BTreeMap<String, Result<&'a Stream, String>>,
}

/// Where one MachineSet's target comes from.
#[derive(Debug, Clone)]
pub enum Pick<'a> {
    /// Its OS stream (None: the source's default stream, whose OS stream is unknown).
    Stream {
        name: Option<String>,
        stream: &'a Stream,
    },
    /// Its OS stream is known, but it has no usable stream: why.
    NoTarget { name: Option<String>, why: String },
    /// Left alone: its label names an OS stream this source does not offer.
    Skip { name: String, why: String },
}

impl<'a> OsStreams<'a> {
    /// One stream (or why there is none) with no OS stream names: every MachineSet,
    /// labelled or not, uses it (tests, and sources whose builds name no RHEL).
    pub fn single(stream: Result<&'a Stream, String>) -> OsStreams<'a> {
        let name = stream.as_ref().ok().and_then(|s| of_stream(s));
        let named = match (&name, &stream) {
            (Some(n), Ok(s)) => BTreeMap::from([(n.clone(), Ok(*s))]),
            _ => BTreeMap::new(),
        };
        OsStreams {
            default_name: name,
            default: stream,
            named,
        }
    }

    /// The OS streams of a source. `option` is the `os_stream` option; `check` may refuse
    /// a stream (a stream file newer than the cluster) with a reason.
    pub fn of_set(
        set: &'a StreamSet,
        option: Option<&str>,
        check: impl Fn(&'a Stream) -> Result<&'a Stream, String>,
    ) -> OsStreams<'a> {
        let mut named: BTreeMap<String, Result<&'a Stream, String>> = set
            .named
            .iter()
            .map(|(k, s)| (k.clone(), check(s)))
            .collect();
        let default_of_source = of_stream(&set.default);
        if set.named.is_empty() {
            if let Some(n) = &default_of_source {
                named.insert(n.clone(), check(&set.default));
            }
        }
        let default = match option {
            Some(o) if named.contains_key(o) => named
                .get(o)
                .cloned()
                .unwrap_or_else(|| Err(format!("no OS stream {o}"))),
            Some(o) => set
                .stream_for(Some(o))
                .map_err(|e| e.to_string())
                .and_then(&check),
            None => check(&set.default),
        };
        let default_name = match option {
            Some(o) if named.contains_key(o) => Some(o.to_string()),
            Some(_) => default.as_ref().ok().and_then(|s| of_stream(s)),
            None => default_of_source,
        };
        OsStreams {
            default_name,
            default,
            named,
        }
    }

    /// The names of the OS streams offered, sorted.
    pub fn names(&self) -> Vec<String> {
        self.named.keys().cloned().collect()
    }

    /// Where a MachineSet with this OS stream label (None: unlabelled) takes its target.
    pub fn pick(&self, label: Option<&str>) -> Pick<'a> {
        let Some(label) = label else {
            return match &self.default {
                Ok(s) => Pick::Stream {
                    name: self.default_name.clone(),
                    stream: s,
                },
                Err(why) => Pick::NoTarget {
                    name: self.default_name.clone(),
                    why: why.clone(),
                },
            };
        };
        match self.named.get(label) {
            Some(Ok(s)) => Pick::Stream {
                name: Some(label.to_string()),
                stream: s,
            },
            Some(Err(why)) => Pick::NoTarget {
                name: Some(label.to_string()),
                why: why.clone(),
            },
            None => {
                let offered = if self.named.is_empty() {
                    "none named".to_string()
                } else {
                    self.names().join(", ")
                };
                let kind = if label.starts_with("rhel-") {
                    "the stream metadata has no stream for OS stream"
                } else {
                    "unknown OS stream"
                };
                Pick::Skip {
                    name: label.to_string(),
                    why: format!(
                        "{kind} {label:?} ({OS_STREAM_LABEL}; the stream metadata offers: {offered}); \
                         left alone, not retargeted to another OS stream"
                    ),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::parse_stream_document;
    use serde_json::json;

    fn fixture(rel: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures")
            .join(rel);
        std::fs::read(path).unwrap()
    }

    fn ms(label: Option<&str>) -> Value {
        let labels = label.map_or(json!({}), |l| json!({ OS_STREAM_LABEL: l }));
        json!({"metadata": {"name": "w", "labels": labels}})
    }

    #[test]
    fn the_label_is_read_from_the_machinesets_own_labels() {
        assert_eq!(label_of(&ms(Some("rhel-10"))).as_deref(), Some("rhel-10"));
        assert_eq!(label_of(&ms(Some(" "))), None);
        assert_eq!(label_of(&ms(None)), None);
        let on_template = json!({"metadata": {}, "spec": {"template": {"metadata": {"labels": {OS_STREAM_LABEL: "rhel-10"}}}}});
        assert_eq!(label_of(&on_template), None);
    }

    #[test]
    fn os_stream_of_builds() {
        let b = |s: &str| s.parse::<BuildId>().unwrap();
        assert_eq!(of_build(&b("9.8.20260403-0")).as_deref(), Some("rhel-9"));
        assert_eq!(of_build(&b("10.2.20260405-0")).as_deref(), Some("rhel-10"));
        assert_eq!(
            of_build(&b("418.94.202501221327-0")).as_deref(),
            Some("rhel-9")
        );
        assert_eq!(
            of_build(&b("412.86.202212081411-0")).as_deref(),
            Some("rhel-8")
        );
        assert!(!is_cross_stream("rhel-8", "rhel-9"));
        assert!(is_cross_stream("rhel-9", "rhel-10"));
        assert!(is_cross_stream("rhel-10", "rhel-9"));
        assert!(!is_cross_stream("rhel-10", "rhel-10"));
    }

    #[test]
    fn the_5_0_configmap_gives_each_label_its_stream() {
        let cm: Value =
            serde_yaml::from_slice(&fixture("stream/configmap/coreos-bootimages-5.0.yaml"))
                .unwrap();
        let set = crate::stream::parse_configmap(&cm).unwrap();
        let streams = OsStreams::of_set(&set, None, Ok);
        assert_eq!(streams.names(), ["rhel-10", "rhel-9"]);
        assert_eq!(streams.default_name.as_deref(), Some("rhel-9"));
        let newest = |p: Pick| match p {
            Pick::Stream { name, stream } => (name, stream.newest_release().unwrap().to_string()),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            newest(streams.pick(Some("rhel-10"))),
            (Some("rhel-10".into()), "10.2.20260405-0".into())
        );
        assert_eq!(
            newest(streams.pick(None)),
            (Some("rhel-9".into()), "9.8.20260403-0".into())
        );
        match streams.pick(Some("custom-stream")) {
            Pick::Skip { why, .. } => {
                assert!(why.contains("unknown OS stream \"custom-stream\""), "{why}");
                assert!(why.contains("rhel-10, rhel-9"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        // The option moves the default for unlabelled MachineSets only.
        let ten = OsStreams::of_set(&set, Some("rhel-10"), Ok);
        assert_eq!(ten.default_name.as_deref(), Some("rhel-10"));
        assert_eq!(newest(ten.pick(Some("rhel-9"))).1, "9.8.20260403-0");
    }

    #[test]
    fn a_single_stream_file_is_the_os_stream_of_its_builds() {
        let set = parse_stream_document(&fixture("stream/coreos-rhel-9-4.22.json")).unwrap();
        let streams = OsStreams::of_set(&set, None, Ok);
        assert_eq!(streams.names(), ["rhel-9"]);
        assert!(matches!(streams.pick(Some("rhel-9")), Pick::Stream { .. }));
        match streams.pick(Some("rhel-10")) {
            Pick::Skip { why, .. } => {
                assert!(why.contains("no stream for OS stream \"rhel-10\""), "{why}")
            }
            other => panic!("{other:?}"),
        }
        let ten = parse_stream_document(&fixture("stream/coreos-rhel-10-4.22.json")).unwrap();
        let streams = OsStreams::of_set(&ten, Some("rhel-10"), Ok);
        assert_eq!(streams.default_name.as_deref(), Some("rhel-10"));
        assert!(matches!(streams.pick(None), Pick::Stream { .. }));
        assert!(matches!(streams.pick(Some("rhel-9")), Pick::Skip { .. }));
        // A refused stream (newer than the cluster) is no target, with the reason.
        let refused = OsStreams::of_set(&set, None, |_| Err("too new".to_string()));
        assert!(
            matches!(refused.pick(Some("rhel-9")), Pick::NoTarget { why, .. } if why == "too new")
        );
    }
}
