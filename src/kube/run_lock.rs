//! The run lock: at most one mutating run at a time on a cluster (or on one local record
//! file), and a second run told at once who holds it.
//!
//! **On a cluster** the lock is a `coordination.k8s.io/v1` Lease (the object Kubernetes'
//! own leader election uses), so runs on different hosts, AAP execution pods and
//! laptops see the same lock. Its spec says who holds it (`holderIdentity`, see
//! [`holder_identity`]: run id, module, pid and host), since when (`acquireTime`), when
//! the holder last proved it is alive (`renewTime`, microseconds) and for how long that
//! proof holds (`leaseDurationSeconds` = [`LEASE_TTL`]). Taking it:
//!
//! - no Lease: create it (an `AlreadyExists` means another run was quicker: look again);
//! - a Lease without a holder (`holderIdentity` empty), or whose holder's
//!   `renewTime + leaseDurationSeconds` has passed (the process died, e.g. `kill -9`):
//!   take it over with a PUT carrying the `resourceVersion` read, `leaseTransitions`
//!   incremented; a 409 means another run won the race, so look again (and find it held);
//! - a live holder, this very identity included: fail at once (`wait` zero), or look
//!   again about every second until `wait` has passed. The error ([`LockHeld`]) names
//!   the holder, how long ago it renewed, when it expires, and what to do.
//!
//! While held, a tokio task renews the Lease every `LEASE_TTL / 3`: a PUT of the Lease
//! it last wrote (so with that `resourceVersion`) with a new `renewTime`. A 409 is
//! looked into: if the Lease still names this holder (someone only added a label), the
//! renewal is retried on the newer object; if it names another holder, or is gone, the
//! lock is **lost**. Failing to renew (errors, a hung request, a starved runtime) until
//! the last written `renewTime` is [`LEASE_TTL`] old also counts as lost, since another
//! run may take it from then on. [`RunLock::lost`] reports it; a run that lost its lock
//! should stop writing. Renewal stops at the first loss.
//!
//! [`RunLock::release`] stops the renewal and deletes the Lease with a `resourceVersion`
//! precondition, so it never deletes another holder's Lease: on a 409 it reads the Lease
//! again and deletes it only if it still names this holder. Dropping a [`RunLock`]
//! without releasing it (an error returned early) aborts the renewal and leaves the
//! Lease to [`release_abandoned`], which the module runner calls after every module
//! (`Drop` cannot send a request). A run killed outright (or a panic) leaves a Lease
//! that expires [`LEASE_TTL`] after its last renewal; the next run then takes it over.
//!
//! Expiry compares the holder's `renewTime` with this host's clock: hosts whose clocks
//! differ by seconds see a lease expire that much earlier or later (a clock ahead by
//! more than [`LEASE_TTL`] could take a live lock). The renewal runs on the caller's
//! tokio runtime: a caller that blocks that runtime for longer than [`LEASE_TTL`] loses
//! the lock ([`RunLock::lost`] notices from the clock even when the task could not run).
//!
//! RBAC: `get`, `create`, `update` and `delete` on `leases.coordination.k8s.io` in the
//! Lease's namespace; a 403 names them.
//!
//! **On a local file** (a rollback record kept with `record_path`), the lock is an OS
//! lock (`flock`, through std's `File::try_lock`) on `<path>.lock`, which holds the
//! holder's identity so a second process can name it. The OS drops the lock when its
//! holder exits, however it exits, so a lock file left by a dead process does not
//! block; the file itself stays (removing it could let two processes lock two different
//! files of one name), emptied on release.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams, Preconditions};
use time::OffsetDateTime;

use crate::kube::client::retrying;
use crate::kube::connection::Connection;
use crate::progress::Progress;

/// How long a holder's renewal keeps the Lease (`leaseDurationSeconds`): a dead holder's
/// lock is taken over this long after its last renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(15);

/// How often a waiting run looks at the Lease again.
const LEASE_POLL: Duration = Duration::from_secs(1);

/// How often a waiting run tries the lock file again.
const FILE_POLL: Duration = Duration::from_millis(200);

/// How many lost races in a row (create or take-over answered 409) before giving up.
const MAX_RACES: usize = 5;

/// The RBAC a Lease lock needs, for 403 messages.
const LEASE_RBAC: &str = "the verbs get, create, update and delete on leases.coordination.k8s.io";

/// "run <run_id> (<module>, pid <pid> on <hostname>)": the identity a run holds the lock
/// under (the Lease's `holderIdentity`, the lock file's text).
pub fn holder_identity(run_id: &str, module: &str) -> String {
    format!(
        "run {run_id} ({module}, pid {} on {})",
        std::process::id(),
        hostname()
    )
}

/// This host's name, as the kernel has it (else `/etc/hostname`, `$HOSTNAME`).
fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "an unknown host".to_string())
}

/// The lock is held by another run: the error a taker gets (inside the `anyhow::Error`,
/// for callers that want to tell it from other failures with `downcast_ref`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHeld {
    /// The lock: `Lease <namespace>/<name>` or `lock file <path>`.
    pub lock: String,
    /// The holder's identity, as the lock names it.
    pub holder: String,
    /// When a Lease holder last renewed and when its lease expires (empty for files).
    pub renewal: String,
    /// How long this run waited for it.
    pub waited: Duration,
    /// What frees a dead holder's lock.
    pub expiry: String,
}

impl std::fmt::Display for LockHeld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the run lock ({}) is held by {}{}",
            self.lock, self.holder, self.renewal
        )?;
        if self.waited.is_zero() {
            f.write_str("; wait for it to finish, or pass lock_timeout to wait")?;
        } else {
            write!(
                f,
                ", still after waiting {} s; wait for it to finish, or pass a longer lock_timeout",
                self.waited.as_secs()
            )?;
        }
        write!(f, "; {}", self.expiry)
    }
}

impl std::error::Error for LockHeld {}

/// The spinner of a run waiting for the lock `held` names.
fn waiting_for(held: &LockHeld) -> Progress {
    Progress::wait(format!(
        "waiting for the run lock ({}), held by {}",
        held.lock, held.holder
    ))
}

/// A held run lock. A Lease lock renews itself in the background while held.
#[must_use = "release the lock when done (a Lease dropped unreleased waits for release_abandoned, or expires)"]
pub struct RunLock {
    inner: Held,
}

enum Held {
    Lease(Box<LeaseHold>),
    File(FileHold),
}

impl std::fmt::Debug for RunLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Held::Lease(h) => f
                .debug_struct("RunLock")
                .field("lease", &h.target.describe())
                .field("holder", &h.target.holder)
                .field("lost", &h.shared.lost())
                .finish(),
            Held::File(h) => f
                .debug_struct("RunLock")
                .field("file", &h.path)
                .finish_non_exhaustive(),
        }
    }
}

impl RunLock {
    /// Takes the Lease `name` in `namespace` for `holder` (see [`holder_identity`]),
    /// waiting up to `wait` (ZERO: fail at once) while another run holds it. The error
    /// when it stays held is a [`LockHeld`].
    pub async fn lease(
        conn: &Connection,
        namespace: &str,
        name: &str,
        holder: &str,
        wait: Duration,
    ) -> Result<RunLock> {
        RunLock::lease_renewing_every(conn, namespace, name, holder, wait, LEASE_TTL / 3).await
    }

    /// [`RunLock::lease`] with another renewal interval (for tests: a short one shows
    /// renewals without waiting seconds). The Lease's duration stays [`LEASE_TTL`].
    #[doc(hidden)]
    pub async fn lease_renewing_every(
        conn: &Connection,
        namespace: &str,
        name: &str,
        holder: &str,
        wait: Duration,
        every: Duration,
    ) -> Result<RunLock> {
        let target = LeaseRef {
            api: Api::namespaced(conn.client.clone(), namespace),
            server: conn.server.clone(),
            namespace: namespace.to_string(),
            name: name.to_string(),
            holder: holder.to_string(),
        };
        let start = Instant::now();
        let mut races = 0;
        let mut progress = None;
        let lease = loop {
            match target.try_take().await? {
                Attempt::Taken(lease) => break *lease,
                Attempt::Raced => {
                    races += 1;
                    if races >= MAX_RACES {
                        anyhow::bail!(
                            "the run lock ({}) changed under us {races} times in a row; try again",
                            target.describe()
                        );
                    }
                }
                Attempt::Held(mut held) => {
                    let waited = start.elapsed();
                    if waited >= wait {
                        held.waited = if wait.is_zero() { wait } else { waited };
                        return Err(held.into());
                    }
                    progress.get_or_insert_with(|| waiting_for(&held));
                    tokio::time::sleep(LEASE_POLL.min(wait - waited)).await;
                }
            }
        };
        Ok(RunLock {
            inner: Held::Lease(Box::new(LeaseHold::start(target, lease, every))),
        })
    }

    /// Takes an OS lock on `<path>.lock` (created with mode 0600 if missing), writing
    /// `holder` into it so a second process can name it; tries again every 200 ms while
    /// another process holds it, up to `wait` (ZERO: fail at once; the error is a
    /// [`LockHeld`]). Blocks the calling thread while it waits.
    pub fn file(path: &Path, holder: &str, wait: Duration) -> Result<RunLock> {
        let path = lock_path(path);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("opening the run lock file {}", path.display()))?;
        let start = Instant::now();
        let mut progress = None;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    let waited = start.elapsed();
                    if waited >= wait {
                        return Err(file_held(&mut file, &path, wait, waited).into());
                    }
                    if progress.is_none() {
                        progress = Some(waiting_for(&file_held(&mut file, &path, wait, waited)));
                    }
                    std::thread::sleep(FILE_POLL.min(wait - waited));
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(e)
                        .with_context(|| format!("locking the run lock file {}", path.display()))
                }
            }
        }
        write_holder(&mut file, holder)
            .with_context(|| format!("writing the run lock file {}", path.display()))?;
        Ok(RunLock {
            inner: Held::File(FileHold { file, path }),
        })
    }

    /// Whether a renewal found the Lease taken by someone else (or gone), or the Lease
    /// could not be renewed before it expired. Always false for a file lock (the OS
    /// holds it for as long as this process keeps it).
    pub fn lost(&self) -> bool {
        match &self.inner {
            Held::Lease(h) => h.shared.lost(),
            Held::File(_) => false,
        }
    }

    /// Releases: stops renewing and deletes the Lease with a `resourceVersion`
    /// precondition (never another holder's: see the module documentation); empties
    /// and unlocks the lock file. A failure is ignored (the Lease then expires after
    /// [`LEASE_TTL`]); [`RunLock::try_release`] reports it.
    pub async fn release(self) {
        let _ = self.try_release().await;
    }

    /// [`RunLock::release`], reporting a failure to delete the Lease or to empty the
    /// lock file (the lock is released all the same, or expires).
    pub async fn try_release(self) -> Result<()> {
        match self.inner {
            Held::Lease(h) => h.release().await,
            Held::File(h) => h.release(),
        }
    }
}

/// `<path>.lock`.
fn lock_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// The error for a lock file held by another process, naming the holder it wrote.
fn file_held(file: &mut File, path: &Path, wait: Duration, waited: Duration) -> LockHeld {
    let mut text = String::new();
    let read = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_string(&mut text));
    let holder = match read {
        Ok(_) if !text.trim().is_empty() => text.trim().to_string(),
        _ => "another process (it has not written its name yet)".to_string(),
    };
    LockHeld {
        lock: format!("lock file {}", path.display()),
        holder,
        renewal: String::new(),
        waited: if wait.is_zero() { wait } else { waited },
        expiry: "a dead holder's lock is released when its process exits".to_string(),
    }
}

fn write_holder(file: &mut File, holder: &str) -> std::io::Result<()> {
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(format!("{holder}\n").as_bytes())?;
    file.sync_all()
}

/// A held lock file.
struct FileHold {
    file: File,
    path: PathBuf,
}

impl FileHold {
    /// Empties the file (so it names no one) and unlocks it.
    fn release(self) -> Result<()> {
        let emptied = self.file.set_len(0);
        let unlocked = self.file.unlock();
        emptied
            .and(unlocked)
            .with_context(|| format!("releasing the run lock file {}", self.path.display()))
    }
}

/// The Lease a run locks with, and who it takes it for.
#[derive(Clone)]
struct LeaseRef {
    api: Api<Lease>,
    server: String,
    namespace: String,
    name: String,
    holder: String,
}

/// One try at taking the Lease.
enum Attempt {
    Taken(Box<Lease>),
    Held(LockHeld),
    /// Another run wrote the Lease between our read and our write: look again.
    Raced,
}

/// Who holds a Lease, by its spec and the time now.
enum Holder<'a> {
    /// No holder, or one whose lease has expired: free to take.
    Free { previous: Option<&'a str> },
    /// A live holder.
    Live {
        holder: &'a str,
        renewed: OffsetDateTime,
        expires: OffsetDateTime,
    },
}

fn holder_of<'a>(spec: &'a LeaseSpec, now: OffsetDateTime) -> Holder<'a> {
    let Some(holder) = spec.holder_identity.as_deref().filter(|h| !h.is_empty()) else {
        return Holder::Free { previous: None };
    };
    let free = Holder::Free {
        previous: Some(holder),
    };
    // No time at all: nothing shows the holder is alive.
    let Some(renewed) = spec
        .renew_time
        .as_ref()
        .or(spec.acquire_time.as_ref())
        .and_then(from_micro_time)
    else {
        return free;
    };
    let seconds = spec
        .lease_duration_seconds
        .filter(|s| *s > 0)
        .map_or(LEASE_TTL.as_secs() as i64, i64::from);
    let expires = renewed + time::Duration::seconds(seconds);
    if expires <= now {
        free
    } else {
        Holder::Live {
            holder,
            renewed,
            expires,
        }
    }
}

fn to_micro_time(t: OffsetDateTime) -> MicroTime {
    let micros = i64::try_from(t.unix_timestamp_nanos() / 1_000).unwrap_or(0);
    MicroTime(
        k8s_openapi::jiff::Timestamp::from_microsecond(micros)
            .unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
    )
}

fn from_micro_time(t: &MicroTime) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.0.as_microsecond()) * 1_000).ok()
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The spec of a Lease this run takes now.
fn taken_spec(holder: &str, now: OffsetDateTime, transitions: i32) -> LeaseSpec {
    LeaseSpec {
        holder_identity: Some(holder.to_string()),
        lease_duration_seconds: Some(LEASE_TTL.as_secs() as i32),
        acquire_time: Some(to_micro_time(now)),
        renew_time: Some(to_micro_time(now)),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    }
}

fn holder_identity_of(lease: &Lease) -> Option<&str> {
    lease
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.as_deref())
}

fn code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

impl LeaseRef {
    fn describe(&self) -> String {
        format!("Lease {}/{}", self.namespace, self.name)
    }

    /// A kube error on this Lease, explained the way a person can act on it.
    fn explain(&self, e: &kube::Error, verb: &str) -> anyhow::Error {
        let (ns, name) = (&self.namespace, &self.name);
        anyhow::anyhow!(match e {
            kube::Error::Api(s) if s.code == 403 => format!(
                "forbidden: cannot {verb} the run lock Lease {ns}/{name}; grant {LEASE_RBAC} \
                 in namespace {ns} (API server said: {})",
                s.message
            ),
            kube::Error::Api(s) => format!(
                "{verb} the run lock Lease {ns}/{name} failed: HTTP {} {} ({})",
                s.code, s.reason, s.message
            ),
            other => format!(
                "{verb} the run lock Lease {ns}/{name} at {}: {other}",
                self.server
            ),
        })
    }

    async fn get(&self) -> Result<Option<Lease>> {
        retrying(false, || self.api.get_opt(&self.name))
            .await
            .map_err(|e| self.explain(&e, "get"))
    }

    /// One try: create, take over, or report the live holder.
    async fn try_take(&self) -> Result<Attempt> {
        let now = OffsetDateTime::now_utc();
        let Some(current) = self.get().await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    namespace: Some(self.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(taken_spec(&self.holder, now, 0)),
            };
            let pp = PostParams::default();
            return match retrying(true, || self.api.create(&pp, &lease)).await {
                Ok(lease) => Ok(Attempt::Taken(Box::new(lease))),
                Err(e) if code(&e) == Some(409) => Ok(Attempt::Raced),
                Err(e) => Err(self.explain(&e, "create")),
            };
        };
        let spec = current.spec.clone().unwrap_or_default();
        let previous = match holder_of(&spec, now) {
            Holder::Live {
                holder,
                renewed,
                expires,
            } => {
                return Ok(Attempt::Held(LockHeld {
                    lock: self.describe(),
                    holder: holder.to_string(),
                    renewal: format!(
                        ", renewed {} s ago, expires in {} s (at {})",
                        (now - renewed).whole_seconds().max(0),
                        (expires - now).whole_seconds().max(0),
                        rfc3339(expires)
                    ),
                    waited: Duration::ZERO,
                    expiry: format!(
                        "a dead holder's lock expires after {} s",
                        LEASE_TTL.as_secs()
                    ),
                }))
            }
            Holder::Free { previous } => previous,
        };
        let transitions =
            spec.lease_transitions.unwrap_or(0) + i32::from(previous != Some(self.holder.as_str()));
        let mut next = current;
        next.metadata.managed_fields = None;
        next.spec = Some(taken_spec(&self.holder, now, transitions));
        match self.replace(&next).await {
            Ok(lease) => Ok(Attempt::Taken(Box::new(lease))),
            Err(e) if matches!(code(&e), Some(409 | 404)) => Ok(Attempt::Raced),
            Err(e) => Err(self.explain(&e, "update")),
        }
    }

    /// PUT of `lease` (its `resourceVersion` is the precondition).
    async fn replace(&self, lease: &Lease) -> Result<Lease, kube::Error> {
        let pp = PostParams::default();
        retrying(true, || self.api.replace(&self.name, &pp, lease)).await
    }

    /// Deletes the Lease if it is still ours: with the `resourceVersion` of `last`, and
    /// on a 409 with the newer one while the Lease still names this holder.
    async fn delete_if_ours(&self, last: Lease) -> Result<()> {
        let mut rv = last.metadata.resource_version;
        for _ in 0..MAX_RACES {
            let dp = DeleteParams {
                preconditions: Some(Preconditions {
                    resource_version: rv.clone(),
                    uid: None,
                }),
                ..DeleteParams::default()
            };
            match retrying(true, || self.api.delete(&self.name, &dp)).await {
                Ok(_) => return Ok(()),
                Err(e) if code(&e) == Some(404) => return Ok(()),
                Err(e) if code(&e) == Some(409) => match self.get().await? {
                    Some(now) if holder_identity_of(&now) == Some(self.holder.as_str()) => {
                        rv = now.metadata.resource_version;
                    }
                    _ => return Ok(()),
                },
                Err(e) => return Err(self.explain(&e, "delete")),
            }
        }
        anyhow::bail!(
            "the run lock ({}) kept changing while it was released; it expires {} s after \
             its last renewal",
            self.describe(),
            LEASE_TTL.as_secs()
        )
    }
}

/// What the holder and its renewal task share.
struct Shared {
    /// The Lease as last written (or read back, still ours), and when that write was sent.
    last: Mutex<(Lease, Instant)>,
    lost: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst) || lock(&self.last).1.elapsed() >= LEASE_TTL
    }
}

/// A held Lease and its renewal task.
struct LeaseHold {
    target: LeaseRef,
    shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl LeaseHold {
    fn start(target: LeaseRef, lease: Lease, every: Duration) -> LeaseHold {
        let shared = Arc::new(Shared {
            last: Mutex::new((lease, Instant::now())),
            lost: AtomicBool::new(false),
        });
        let task = tokio::spawn(renew_loop(target.clone(), shared.clone(), every));
        LeaseHold {
            target,
            shared,
            task: Some(task),
        }
    }

    async fn release(mut self: Box<Self>) -> Result<()> {
        if let Some(task) = self.task.take() {
            task.abort();
            // A renewal sent before the abort may still land: delete_if_ours copes.
            let _ = task.await;
        }
        let last = lock(&self.shared.last).0.clone();
        self.target.delete_if_ours(last).await
    }
}

impl Drop for LeaseHold {
    /// Dropped without release (an error returned after the lock was taken): stops the
    /// renewal and leaves the Lease to [`release_abandoned`], which the module runner
    /// calls before the process answers (`Drop` cannot send a request).
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            if !self.shared.lost.load(Ordering::SeqCst) {
                let last = lock(&self.shared.last).0.clone();
                lock(&ABANDONED).push((self.target.clone(), last));
            }
        }
    }
}

/// Leases held by a [`RunLock`] dropped without release, with the Lease last written.
static ABANDONED: Mutex<Vec<(LeaseRef, Lease)>> = Mutex::new(Vec::new());

/// Releases every Lease whose [`RunLock`] was dropped without release (a module that
/// failed after taking the lock), so that the next run need not wait [`LEASE_TTL`] for
/// it to expire. Best effort: a Lease that cannot be deleted still expires. The module
/// runner calls it after every module, on the runtime the lock was taken on.
pub async fn release_abandoned() {
    let held = std::mem::take(&mut *lock(&ABANDONED));
    for (target, last) in held {
        let _ = target.delete_if_ours(last).await;
    }
}

/// Renews every `every` until the lock is lost (or the task is aborted).
async fn renew_loop(target: LeaseRef, shared: Arc<Shared>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let (last, sent) = lock(&shared.last).clone();
        // The Lease expires LEASE_TTL after the last renewal sent: no answer by then is a loss.
        let left = LEASE_TTL.saturating_sub(sent.elapsed());
        match tokio::time::timeout(left, renew_once(&target, last)).await {
            Ok(Ok(Some(written))) => *lock(&shared.last) = written,
            Ok(Ok(None)) => break,
            // Transient: try again next time, while the Lease lasts.
            Ok(Err(_)) => {}
            Err(_) => break,
        }
        if sent.elapsed() >= LEASE_TTL && lock(&shared.last).1 == sent {
            break;
        }
    }
    shared.lost.store(true, Ordering::SeqCst);
}

/// One renewal: the Lease written with a new `renewTime` and when it was sent, or
/// `None` when it is no longer ours.
async fn renew_once(target: &LeaseRef, mut last: Lease) -> Result<Option<(Lease, Instant)>> {
    for _ in 0..MAX_RACES {
        let sent = Instant::now();
        if let Some(spec) = last.spec.as_mut() {
            spec.renew_time = Some(to_micro_time(OffsetDateTime::now_utc()));
        }
        match target.replace(&last).await {
            Ok(written) => return Ok(Some((written, sent))),
            Err(e) if code(&e) == Some(404) => return Ok(None),
            Err(e) if code(&e) == Some(409) => match target.get().await? {
                // Changed by someone, still ours (a label, an annotation): renew that.
                Some(now) if holder_identity_of(&now) == Some(target.holder.as_str()) => {
                    last = now;
                }
                _ => return Ok(None),
            },
            Err(e) => return Err(target.explain(&e, "renew")),
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(holder: Option<&str>, renewed_secs_ago: Option<i64>, duration: i32) -> LeaseSpec {
        let now = OffsetDateTime::now_utc();
        LeaseSpec {
            holder_identity: holder.map(str::to_string),
            lease_duration_seconds: Some(duration),
            renew_time: renewed_secs_ago.map(|s| to_micro_time(now - time::Duration::seconds(s))),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn liveness_by_renew_time_and_duration() {
        let now = OffsetDateTime::now_utc();
        assert!(matches!(
            holder_of(&spec(Some("a"), Some(3), 15), now),
            Holder::Live { holder: "a", .. }
        ));
        assert!(matches!(
            holder_of(&spec(Some("a"), Some(16), 15), now),
            Holder::Free {
                previous: Some("a")
            }
        ));
        assert!(matches!(
            holder_of(&spec(Some(""), Some(1), 15), now),
            Holder::Free { previous: None }
        ));
        assert!(matches!(
            holder_of(&spec(None, Some(1), 15), now),
            Holder::Free { previous: None }
        ));
        // No time: nothing shows the holder is alive.
        assert!(matches!(
            holder_of(&spec(Some("a"), None, 15), now),
            Holder::Free { .. }
        ));
        // A duration of 0 (or none) counts as LEASE_TTL.
        assert!(matches!(
            holder_of(&spec(Some("a"), Some(10), 0), now),
            Holder::Live { .. }
        ));
    }

    #[test]
    fn micro_time_round_trips_and_serializes_with_microseconds() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_796_370_000_123_456_789).unwrap();
        let m = to_micro_time(t);
        assert_eq!(
            from_micro_time(&m).unwrap(),
            OffsetDateTime::from_unix_timestamp_nanos(1_796_370_000_123_456_000).unwrap()
        );
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            serde_json::json!("2026-12-04T07:40:00.123456Z")
        );
    }

    #[test]
    fn holder_identity_names_run_module_pid_and_host() {
        let id = holder_identity("20261204T074000Z-ab12", "machineset_bootimage");
        assert!(id.starts_with("run 20261204T074000Z-ab12 (machineset_bootimage, pid "));
        assert!(id.contains(&format!("pid {} on ", std::process::id())));
        assert!(id.ends_with(')'));
    }

    #[test]
    fn held_message_says_what_to_do() {
        let held = LockHeld {
            lock: "Lease ns/x".into(),
            holder: "run r1 (m, pid 1 on h)".into(),
            renewal: ", renewed 2 s ago, expires in 13 s (at 2026-12-04T07:40:15Z)".into(),
            waited: Duration::ZERO,
            expiry: "a dead holder's lock expires after 15 s".into(),
        };
        assert_eq!(
            held.to_string(),
            "the run lock (Lease ns/x) is held by run r1 (m, pid 1 on h), renewed 2 s ago, \
             expires in 13 s (at 2026-12-04T07:40:15Z); wait for it to finish, or pass \
             lock_timeout to wait; a dead holder's lock expires after 15 s"
        );
        let waited = LockHeld {
            waited: Duration::from_secs(5),
            ..held
        };
        assert!(waited.to_string().contains(
            "still after waiting 5 s; wait for it to finish, or pass a longer lock_timeout"
        ));
    }

    #[test]
    fn lock_path_appends_lock() {
        assert_eq!(
            lock_path(Path::new("/tmp/rec.json")),
            PathBuf::from("/tmp/rec.json.lock")
        );
    }
}
