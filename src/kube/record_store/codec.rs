//! How a run's record is stored in Secrets: gzip-compressed JSON parts, each under a
//! Secret's size, and the names and labels that find them again.

use std::io::{Read, Write};

use anyhow::{Context, Result};
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::record::{RecordEntry, RunPart, RUN_FORMAT};

/// A Secret holds at most 1 MiB (data, keys and metadata together): a part's compressed
/// payload stays under this.
pub const PART_LIMIT: usize = 900 * 1024;

/// The data key of a part's payload.
pub const PART_KEY: &str = "run.json.gz";

/// The payload of one part: gzip-compressed JSON.
pub fn encode(part: &RunPart) -> Result<Vec<u8>> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    serde_json::to_writer(&mut gz, part).context("encoding the rollback record")?;
    gz.flush().context("compressing the rollback record")?;
    gz.finish().context("compressing the rollback record")
}

/// The part a payload holds (decompressed as it is parsed).
pub fn decode(bytes: &[u8], what: &str) -> Result<RunPart> {
    let mut json = Vec::new();
    GzDecoder::new(bytes)
        .read_to_end(&mut json)
        .with_context(|| format!("{what}: the payload is not gzip data"))?;
    let part: RunPart =
        serde_json::from_slice(&json).with_context(|| format!("{what}: not a run record"))?;
    if part.format != RUN_FORMAT {
        anyhow::bail!(
            "{what} has format {:?}; this version reads {RUN_FORMAT:?}",
            part.format
        );
    }
    Ok(part)
}

/// Splits `entries` into batches whose encoded part (as part `part`, with `restored` in
/// the first) stays under `limit`; a single entry over it is an error.
pub fn pack(
    run_id: &str,
    first_part: u32,
    restored: &[u64],
    entries: Vec<RecordEntry>,
    limit: usize,
) -> Result<Vec<(RunPart, Vec<u8>)>> {
    let part = RunPart {
        format: RUN_FORMAT.to_string(),
        run_id: run_id.to_string(),
        part: first_part,
        restored: restored.to_vec(),
        entries,
    };
    let bytes = encode(&part)?;
    if bytes.len() <= limit {
        return Ok(vec![(part, bytes)]);
    }
    if part.entries.len() <= 1 {
        anyhow::bail!(
            "one record entry ({} {}) is {} bytes compressed, more than a Secret holds ({limit})",
            part.entries.first().map_or("", |e| e.kind.as_str()),
            part.entries.first().map_or("", |e| e.name.as_str()),
            bytes.len()
        );
    }
    let RunPart { mut entries, .. } = part;
    let rest = entries.split_off(entries.len() / 2);
    let mut out = pack(run_id, first_part, restored, entries, limit)?;
    let next = first_part + u32::try_from(out.len()).unwrap_or(u32::MAX);
    out.extend(pack(run_id, next, &[], rest, limit)?);
    Ok(out)
}

/// The name part of a run id in Secret names: lower case letters, digits and `-`; a run
/// id that is not already so (or is long) gets a hash of itself appended, so that two
/// run ids never share a name.
pub fn slug(run_id: &str) -> String {
    let mut s: String = run_id
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '-') => c,
            _ => '-',
        })
        .collect();
    s = s.trim_matches('-').to_string();
    if s != run_id || s.len() > 180 || s.is_empty() {
        s.truncate(180);
        let s = s.trim_end_matches('-');
        return if s.is_empty() {
            format!("{:08x}", fnv1a(run_id))
        } else {
            format!("{s}-{:08x}", fnv1a(run_id))
        };
    }
    s
}

/// The name of part `part` (1, 2, …) of the run `run_id` in the record `record`:
/// `<record>-<slug>`, then `<record>-<slug>.2`, ….
pub fn part_name(record: &str, run_id: &str, part: u32) -> String {
    if part <= 1 {
        format!("{record}-{}", slug(run_id))
    } else {
        format!("{record}-{}.{part}", slug(run_id))
    }
}

/// `s` as a label value (at most 63 characters of `[A-Za-z0-9._-]`, alphanumeric at
/// both ends), or a hash of it when it is not one.
pub fn label_value(s: &str) -> String {
    let ok = s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        s.to_string()
    } else {
        format!("h{:08x}", fnv1a(s))
    }
}

/// 32-bit FNV-1a: a short, stable name suffix (not a security measure).
fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(i: u64) -> RecordEntry {
        RecordEntry {
            run_id: "r".into(),
            seq: i,
            time: "2026-01-01T00:00:00Z".into(),
            module: "machineset_bootimage".into(),
            api_version: "machine.openshift.io/v1beta1".into(),
            kind: "MachineSet".into(),
            namespace: Some("openshift-machine-api".into()),
            name: format!("ms-{i}"),
            field: "/spec/x".into(),
            // Incompressible enough that a few entries fill a small limit.
            old: json!(format!("{:x}", fnv1a(&i.to_string())).repeat(20)),
            new: json!(format!("{:x}", i.wrapping_mul(2_654_435_761)).repeat(20)),
            secret: false,
            rolled_back: None,
        }
    }

    #[test]
    fn parts_round_trip_and_stay_under_the_limit() {
        let entries: Vec<RecordEntry> = (1..=200).map(entry).collect();
        let parts = pack("r", 1, &[7], entries.clone(), 2_000).unwrap();
        assert!(parts.len() > 1, "{}", parts.len());
        let mut back = Vec::new();
        for (i, (part, bytes)) in parts.iter().enumerate() {
            assert!(bytes.len() <= 2_000);
            assert_eq!(part.part, 1 + i as u32);
            let decoded = decode(bytes, "test").unwrap();
            assert_eq!(&decoded, part);
            assert_eq!(decoded.restored.is_empty(), i > 0);
            back.extend(decoded.entries);
        }
        assert_eq!(back, entries);
        assert!(pack("r", 1, &[], vec![entry(1)], 10).is_err());
    }

    #[test]
    fn names_are_valid_and_distinct() {
        assert_eq!(slug("20261204-074000-3f9a"), "20261204-074000-3f9a");
        let odd = slug("Legacy Run/1");
        assert!(odd.starts_with("legacy-run-1-"), "{odd}");
        assert_ne!(slug("A"), slug("a"));
        assert_eq!(part_name("rec", "r1", 1), "rec-r1");
        assert_eq!(part_name("rec", "r1", 3), "rec-r1.3");
        assert_eq!(
            label_value("ocp-bootimage-rollback"),
            "ocp-bootimage-rollback"
        );
        assert!(label_value(&"x".repeat(64)).starts_with('h'));
    }
}
