//! Fault injection: the next matching request(s) get an error, a delay, or a dropped
//! connection instead of (or before) normal handling.

/// What a fault does to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer with this HTTP status and a `Status` body; the request is not applied.
    /// 429 also carries `Retry-After: 1`.
    Status(u16),
    /// Sleep this many milliseconds, then handle the request normally.
    Delay(u64),
    /// Drop the connection (TCP reset) without answering; the request is not applied.
    Reset,
}

/// A fault for the next `times` requests that match `method` and `path_contains`.
///
/// ```
/// use test_apiserver::Fault;
/// let fault = Fault::status(500).on_method("PATCH").on_path("machinesets").times(2);
/// assert_eq!(fault.times, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// HTTP method to match (case-insensitive); `None` matches any.
    pub method: Option<String>,
    /// Substring the request path must contain; `None` matches any.
    pub path_contains: Option<String>,
    /// What to do.
    pub action: FaultAction,
    /// How many matching requests the fault applies to.
    pub times: usize,
    /// The `message` of the `Status` body for [`FaultAction::Status`] (a stock message
    /// for the code when `None`).
    pub body_message: Option<String>,
}

/// A queued fault, with the request position it waits for
/// ([`crate::TestApiServer::inject_at`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pending {
    pub fault: Fault,
    /// Only the request with this 1-based position in the request log (the k-th since
    /// the last [`crate::TestApiServer::clear_requests`]); `None`: any position.
    pub at_request: Option<usize>,
}

impl Fault {
    /// A fault answering one matching request with `code`.
    pub fn status(code: u16) -> Fault {
        Fault::with_action(FaultAction::Status(code))
    }

    /// A fault delaying one matching request by `ms` milliseconds.
    pub fn delay(ms: u64) -> Fault {
        Fault::with_action(FaultAction::Delay(ms))
    }

    /// A fault dropping the connection of one matching request.
    pub fn reset() -> Fault {
        Fault::with_action(FaultAction::Reset)
    }

    /// A fault with an action, matching any request, once.
    pub fn with_action(action: FaultAction) -> Fault {
        Fault {
            method: None,
            path_contains: None,
            action,
            times: 1,
            body_message: None,
        }
    }

    /// Only requests with this HTTP method.
    pub fn on_method(mut self, method: &str) -> Fault {
        self.method = Some(method.to_string());
        self
    }

    /// Only requests whose path contains `fragment`.
    pub fn on_path(mut self, fragment: &str) -> Fault {
        self.path_contains = Some(fragment.to_string());
        self
    }

    /// Applies to this many matching requests.
    pub fn times(mut self, times: usize) -> Fault {
        self.times = times;
        self
    }

    /// Uses this `Status` message.
    pub fn message(mut self, message: &str) -> Fault {
        self.body_message = Some(message.to_string());
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.times > 0
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| path.contains(p))
    }
}

/// Takes one use of the first pending fault matching a request (`position`: 1-based,
/// in the request log since the last clear).
pub(crate) fn take(
    faults: &mut Vec<Pending>,
    position: usize,
    method: &str,
    path: &str,
) -> Option<Fault> {
    let i = faults.iter().position(|p| {
        p.at_request.is_none_or(|k| k == position) && p.fault.matches(method, path)
    })?;
    faults[i].fault.times -= 1;
    let fault = faults[i].fault.clone();
    if faults[i].fault.times == 0 {
        faults.remove(i);
    }
    Some(fault)
}

/// The stock `Status` message for an injected error code.
pub(crate) fn stock_message(code: u16) -> &'static str {
    match code {
        429 => "Too many requests, please try again later.",
        500 => "Internal error occurred: injected fault",
        503 => "the server is currently unable to handle the request",
        504 => "Timeout: request did not complete within the allotted timeout",
        _ => "injected fault",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_in_order_and_expires() {
        let mut faults: Vec<Pending> = [
            Fault::status(500).on_method("patch").times(2),
            Fault::reset().on_path("/nodes"),
        ]
        .into_iter()
        .map(|fault| Pending {
            fault,
            at_request: None,
        })
        .collect();
        assert_eq!(take(&mut faults, 1, "GET", "/api/v1/pods"), None);
        assert_eq!(
            take(&mut faults, 1, "PATCH", "/x").map(|f| f.action),
            Some(FaultAction::Status(500))
        );
        assert_eq!(
            take(&mut faults, 1, "PATCH", "/x").map(|f| f.action),
            Some(FaultAction::Status(500))
        );
        assert_eq!(take(&mut faults, 1, "PATCH", "/x"), None);
        assert_eq!(
            take(&mut faults, 1, "GET", "/api/v1/nodes").map(|f| f.action),
            Some(FaultAction::Reset)
        );
        assert!(faults.is_empty());
    }

    #[test]
    fn nth_fires_only_at_its_position() {
        let at = |fault: Fault, k: usize| Pending {
            fault,
            at_request: Some(k),
        };
        let mut faults = vec![at(Fault::reset(), 3)];
        assert_eq!(take(&mut faults, 1, "GET", "/a"), None);
        assert_eq!(take(&mut faults, 2, "PATCH", "/a"), None);
        assert_eq!(
            take(&mut faults, 3, "GET", "/a").map(|f| f.action),
            Some(FaultAction::Reset)
        );
        assert!(faults.is_empty());
        let mut faults = vec![at(Fault::status(500).on_method("PATCH"), 2)];
        assert_eq!(take(&mut faults, 2, "GET", "/a"), None);
        assert_eq!(faults.len(), 1);
    }
}
