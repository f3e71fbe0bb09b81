//! Why a request got no answer, in words a person can act on — for every HTTP client of
//! the shell (the Kubernetes API in `kube/`, vCenter and OVA downloads in `vsphere/`):
//! the TLS certificate is not trusted, the name does not resolve, nothing listens on the
//! port, no answer in time; else the whole source chain of the error (clients' own Display
//! often stops at "client error (Connect)"). Each caller names its own options in [`Hints`].
//! The same reading sorts a failure into a [`FailureKind`], carried by a [`KindedError`].

use ocp_bootimage_core::fleet::FailureKind;

/// What to tell the user for each cause, naming the caller's options.
pub struct Hints {
    pub untrusted: &'static str,
    pub dns: &'static str,
    pub refused: &'static str,
    pub timeout: &'static str,
}

/// Why a request got no answer, from its error's source chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unanswered {
    /// The server's TLS certificate is not trusted.
    Untrusted,
    /// The server's name does not resolve.
    Dns,
    /// Nothing listens on the port.
    Refused,
    /// No answer in time.
    Timeout,
    /// Anything else (a reset, a body cut short, a proxy's refusal, …).
    Other,
}

impl Unanswered {
    /// The kind of failure a report names it by.
    pub fn failure_kind(self) -> FailureKind {
        match self {
            Unanswered::Timeout => FailureKind::TimedOut,
            _ => FailureKind::Unreachable,
        }
    }
}

/// Why `err` got no answer, and its whole source chain as text (each message once).
pub fn classify(err: &(dyn std::error::Error + 'static)) -> (Unanswered, String) {
    let mut chain: Vec<String> = Vec::new();
    let mut io_kind = None;
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            io_kind = io_kind.or(Some(io.kind()));
        }
        let text = e.to_string();
        if !chain.contains(&text) {
            chain.push(text);
        }
        cur = e.source();
    }
    let all = chain.join(": ");
    let lower = all.to_ascii_lowercase();
    use std::io::ErrorKind as K;
    let why = if lower.contains("certificate") || lower.contains("unknownissuer") {
        Unanswered::Untrusted
    } else if lower.contains("dns error")
        || lower.contains("failed to lookup address")
        || lower.contains("name or service not known")
    {
        Unanswered::Dns
    } else if io_kind == Some(K::ConnectionRefused) || lower.contains("connection refused") {
        Unanswered::Refused
    } else if io_kind == Some(K::TimedOut)
        || lower.contains("timed out")
        || lower.contains("deadline has elapsed")
        || lower.contains("elapsed")
    {
        Unanswered::Timeout
    } else {
        Unanswered::Other
    };
    (why, all)
}

/// The cause of `err` from its source chain: a hint and the chain, or the chain alone.
pub fn cause(err: &(dyn std::error::Error + 'static), hints: &Hints) -> String {
    let (why, all) = classify(err);
    let hint = match why {
        Unanswered::Untrusted => hints.untrusted,
        Unanswered::Dns => hints.dns,
        Unanswered::Refused => hints.refused,
        Unanswered::Timeout => hints.timeout,
        Unanswered::Other => return all,
    };
    format!("{hint} ({all})")
}

/// An error that knows which kind of failure it is ([`FailureKind`]): the message a
/// person reads, and the kind a failed module result carries as `failure_kind` (found in
/// an error's chain by [`failure_kind_of`]), so a fleet report never guesses it from words.
#[derive(Debug)]
pub struct KindedError {
    pub kind: FailureKind,
    pub message: String,
}

impl std::fmt::Display for KindedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for KindedError {}

/// `message` as an error of `kind`, or a plain one when the failure has no kind.
pub fn kinded(kind: Option<FailureKind>, message: String) -> anyhow::Error {
    match kind {
        Some(kind) => anyhow::Error::new(KindedError { kind, message }),
        None => anyhow::Error::msg(message),
    }
}

/// The kind of the first [`KindedError`] in `err`'s chain (context added on top of it
/// keeps it).
pub fn failure_kind_of(err: &anyhow::Error) -> Option<FailureKind> {
    err.chain()
        .find_map(|e| e.downcast_ref::<KindedError>())
        .map(|k| k.kind)
}
