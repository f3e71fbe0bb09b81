//! Why a request got no answer, in words a person can act on — for every HTTP client of
//! the shell (the Kubernetes API in `kube/`, vCenter and OVA downloads in `vsphere/`):
//! the TLS certificate is not trusted, the name does not resolve, nothing listens on the
//! port, no answer in time; else the whole source chain of the error (clients' own Display
//! often stops at "client error (Connect)"). Each caller names its own options in [`Hints`].

/// What to tell the user for each cause, naming the caller's options.
pub struct Hints {
    pub untrusted: &'static str,
    pub dns: &'static str,
    pub refused: &'static str,
    pub timeout: &'static str,
}

/// The cause of `err` from its source chain: a hint and the chain, or the chain alone.
pub fn cause(err: &(dyn std::error::Error + 'static), hints: &Hints) -> String {
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
        hints.untrusted
    } else if lower.contains("dns error")
        || lower.contains("failed to lookup address")
        || lower.contains("name or service not known")
    {
        hints.dns
    } else if io_kind == Some(K::ConnectionRefused) || lower.contains("connection refused") {
        hints.refused
    } else if io_kind == Some(K::TimedOut)
        || lower.contains("timed out")
        || lower.contains("deadline has elapsed")
        || lower.contains("elapsed")
    {
        hints.timeout
    } else {
        return all;
    };
    format!("{why} ({all})")
}
