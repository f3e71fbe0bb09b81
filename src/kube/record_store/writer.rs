//! Writing one run's record: entries are appended before the changes they describe are
//! made (write-ahead), then settled — each written field's `new` becomes what the server
//! stored (the write's answer), and the run's state is set. A run is written only by the
//! process holding the run lock; appending re-reads the run first when it is not known
//! yet (steps run from a shell with the same run id continue one run).

use anyhow::Result;
use k8s_openapi::api::core::v1::Secret;
use std::collections::HashMap;

use tokio::sync::Mutex;

use super::codec;
use super::secret::SecretRuns;
use super::{now_rfc3339_millis, Backend};
use crate::plan::change::StoredFields;
use crate::record::{RecordEntry, Run, RunState};

const MAX_ATTEMPTS: usize = 5;

/// The record of one run being written.
pub struct RunWriter {
    backend: Backend,
    run_id: String,
    /// For a rollback's own run: the run it restores (written from the first entry on).
    rolls_back: Option<String>,
    state: Mutex<WriterState>,
}

/// A part of the run as stored: its number, its first entry, its Secret as last written.
#[derive(Clone)]
struct Slot {
    part: u32,
    start: usize,
    secret: Option<Secret>,
}

#[derive(Default)]
struct WriterState {
    /// The run as stored (None: not read yet, or to be read again after a failure).
    run: Option<Run>,
    slots: Vec<Slot>,
    /// The first entry appended since the last settling (settling touches only those).
    unsettled_from: Option<usize>,
}

/// A write that found the record changed under it (read again and retry).
struct Conflict;

enum FlushError {
    Conflict(Conflict),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for FlushError {
    fn from(e: anyhow::Error) -> FlushError {
        FlushError::Other(e)
    }
}

impl RunWriter {
    pub(super) fn new(backend: Backend, run_id: &str, rolls_back: Option<String>) -> RunWriter {
        RunWriter {
            backend,
            run_id: run_id.to_string(),
            rolls_back,
            state: Mutex::new(WriterState::default()),
        }
    }

    /// The run id written.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Where this run's record is (`Secret ns/name` of its part 1, or `file path`).
    pub fn location(&self) -> String {
        self.backend.run_location(&self.run_id)
    }

    /// Appends `entries` to the run and writes them before returning: what the caller
    /// changes next is recorded. A concurrent change of the run's record is read again
    /// and the entries appended to it (bounded).
    pub async fn append(&self, entries: Vec<RecordEntry>) -> Result<()> {
        let mut st = self.state.lock().await;
        for _ in 0..MAX_ATTEMPTS {
            self.load(&mut st).await?;
            let Some(run) = st.run.as_mut() else {
                anyhow::bail!("internal: the run record was not read");
            };
            let from = run.entries.len();
            run.append(entries.clone());
            st.unsettled_from.get_or_insert(from);
            match self.flush(&mut st, from).await {
                Ok(()) => return Ok(()),
                Err(FlushError::Conflict(_)) => *st = WriterState::default(),
                Err(FlushError::Other(e)) => {
                    *st = WriterState::default();
                    return Err(e);
                }
            }
        }
        anyhow::bail!(
            "the rollback record {} kept changing under this run ({MAX_ATTEMPTS} attempts); is another run with the same run id running? Try again",
            self.location()
        )
    }

    /// After the writes: every entry appended since the last settling takes as `new`
    /// what the server stored for its field (`stored`: from the writes' answers), and the
    /// run's state becomes `state` (a partially applied run stays so). Nothing appended:
    /// nothing to settle.
    pub async fn settle(&self, stored: &[StoredFields], state: RunState) -> Result<()> {
        let mut st = self.state.lock().await;
        let (Some(from), Some(run)) = (st.unsettled_from.take(), st.run.as_mut()) else {
            return Ok(());
        };
        let index: HashMap<(&str, Option<&str>, &str), &StoredFields> = stored
            .iter()
            .map(|s| ((s.kind, s.namespace.as_deref(), s.name.as_str()), s))
            .collect();
        for e in run.entries.iter_mut().skip(from) {
            let key = (e.kind.as_str(), e.namespace.as_deref(), e.name.as_str());
            let value = index
                .get(&key)
                .and_then(|s| s.fields.iter().find(|(p, _)| *p == e.field));
            if let Some((_, v)) = value {
                e.new = v.clone();
            }
        }
        if run.summary.state != RunState::PartiallyApplied {
            run.summary.state = state;
        }
        if self.rolls_back.is_some() {
            // A rollback's own run is written once more anyway, by `finish_rollback`,
            // which writes these settled values with it: one write instead of two.
            st.unsettled_from = None;
            return Ok(());
        }
        self.flush(&mut st, from).await.map_err(|e| match e {
            FlushError::Conflict(_) => anyhow::anyhow!(
                "the rollback record {} changed under this run",
                self.location()
            ),
            FlushError::Other(e) => e,
        })
    }

    /// For a rollback's own run: notes the entries of the restored run now restored and
    /// this run's state, and writes them with the values `settle` left in memory (the run
    /// is created if nothing was appended). Nothing appended and nothing restored:
    /// nothing to write.
    pub async fn finish_rollback(&self, restored: Vec<u64>, state: RunState) -> Result<()> {
        let mut st = self.state.lock().await;
        if st.run.is_none() && restored.is_empty() {
            return Ok(());
        }
        self.load(&mut st).await?;
        let Some(run) = st.run.as_mut() else {
            return Ok(());
        };
        run.restored.extend(restored);
        run.restored.sort_unstable();
        run.restored.dedup();
        run.summary.state = state;
        self.flush(&mut st, 0).await.map_err(|e| match e {
            FlushError::Conflict(_) => anyhow::anyhow!(
                "the rollback record {} changed under this run",
                self.location()
            ),
            FlushError::Other(e) => e,
        })
    }

    /// Reads the run as stored, or starts it, unless known.
    async fn load(&self, st: &mut WriterState) -> Result<()> {
        if st.run.is_some() {
            return Ok(());
        }
        let (run, slots) = match &self.backend {
            Backend::Secrets(s) => {
                let secrets = s.read_run(&self.run_id).await?;
                if secrets.is_empty() {
                    (None, Vec::new())
                } else {
                    let run = s.decode(&self.run_id, &secrets)?;
                    let slots = slots_of(&secrets, &run)?;
                    (Some(run), slots)
                }
            }
            Backend::File(f) => (f.run(&self.run_id)?, Vec::new()),
        };
        let mut run = run.unwrap_or_else(|| Run::new(&self.run_id, &now_rfc3339_millis()));
        if run.summary.rolls_back.is_none() {
            run.summary.rolls_back.clone_from(&self.rolls_back);
        }
        st.run = Some(run);
        st.slots = slots;
        Ok(())
    }

    /// Writes the run from entry `from` on (and its summary).
    async fn flush(&self, st: &mut WriterState, from: usize) -> Result<(), FlushError> {
        let Some(run) = st.run.as_ref() else {
            return Ok(());
        };
        match &self.backend {
            Backend::File(f) => Ok(f.save(run)?),
            Backend::Secrets(s) => flush_secrets(s, run, &mut st.slots, from).await,
        }
    }
}

/// The slots of a run read from its Secrets (part 1 first).
fn slots_of(secrets: &[Secret], run: &Run) -> Result<Vec<Slot>> {
    let mut slots = Vec::new();
    let mut start = 0;
    for (i, s) in secrets.iter().enumerate() {
        let part = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let n = s
            .data
            .as_ref()
            .and_then(|d| d.get(codec::PART_KEY))
            .map(|b| codec::decode(&b.0, "rollback record part"))
            .transpose()?
            .map_or(0, |p| p.entries.len());
        slots.push(Slot {
            part,
            start,
            secret: Some(s.clone()),
        });
        start += n;
    }
    debug_assert_eq!(start, run.entries.len());
    Ok(slots)
}

/// Writes the parts holding entries `from..` of `run` (re-packed from the part that
/// holds `from`), deletes parts no longer needed, and refreshes part 1's summary.
async fn flush_secrets(
    s: &SecretRuns,
    run: &Run,
    slots: &mut Vec<Slot>,
    from: usize,
) -> Result<(), FlushError> {
    let k = slots.iter().rposition(|sl| sl.start <= from).unwrap_or(0);
    let (first_part, start) = slots.get(k).map_or((1, 0), |sl| (sl.part, sl.start));
    let restored: &[u64] = if first_part == 1 { &run.restored } else { &[] };
    let tail = run.entries.get(start..).unwrap_or_default().to_vec();
    let packed = codec::pack(
        &run.summary.run_id,
        first_part,
        restored,
        tail,
        s.part_limit,
    )?;
    let old_tail = slots.split_off(k.min(slots.len()));
    let mut start = start;
    for (i, (part, bytes)) in packed.into_iter().enumerate() {
        let previous = old_tail.get(i).and_then(|sl| sl.secret.as_ref());
        let n = part.entries.len();
        let secret = s.part_secret(run, part.part, bytes, previous);
        let written = write_part(s, &secret).await?;
        slots.push(Slot {
            part: part.part,
            start,
            secret: Some(written),
        });
        start += n;
    }
    for stale in old_tail.iter().skip(slots.len() - k) {
        if let Some(sec) = &stale.secret {
            let listed = super::secret::ListedRun {
                summary: run.summary.clone(),
                secrets: vec![sec.clone()],
            };
            s.delete(&listed).await?;
        }
    }
    if k > 0 {
        // Part 1 carries the run's summary: refresh it (its payload unchanged).
        if let Some(first) = slots.first_mut() {
            let payload = first
                .secret
                .as_ref()
                .and_then(|x| x.data.as_ref())
                .and_then(|d| d.get(codec::PART_KEY))
                .map(|b| b.0.clone())
                .unwrap_or_default();
            let secret = s.part_secret(run, 1, payload, first.secret.as_ref());
            first.secret = Some(write_part(s, &secret).await?);
        }
    }
    Ok(())
}

async fn write_part(s: &SecretRuns, secret: &Secret) -> Result<Secret, FlushError> {
    let name = secret.metadata.name.clone().unwrap_or_default();
    match s.write(secret).await {
        Ok(w) => Ok(w),
        Err(kube::Error::Api(e)) if e.code == 409 => Err(FlushError::Conflict(Conflict)),
        Err(e) => {
            let verb = if secret.metadata.resource_version.is_some() {
                "update"
            } else {
                "create"
            };
            Err(FlushError::Other(anyhow::anyhow!(
                s.explain(&e, verb, &name)
            )))
        }
    }
}
