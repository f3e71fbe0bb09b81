//! The SOAP transport (owns: the HTTP client, the request envelope, fault decoding, the
//! session cookie `vmware_soap_session`, login and logout). Every call goes through
//! `Session::call`; the password appears only in the Login body, the cookie only in the
//! `Cookie` header.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::error::transport_cause;
use super::xml::{self, esc, Node};
use super::{Credentials, VsphereError};

/// The API version sent in `SOAPAction` (vSphere 6.5: what vcsim speaks, and vCenter 7/8
/// still accept).
const API: &str = "urn:vim25/6.5";
/// How long one SOAP call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// A managed object reference (`<x type="Folder">group-d1</x>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MoRef {
    pub kind: String,
    pub value: String,
}

impl MoRef {
    pub fn new(kind: &str, value: &str) -> Self {
        MoRef {
            kind: kind.to_string(),
            value: value.to_string(),
        }
    }

    /// Read from an element carrying `type="…"`.
    pub fn of(node: &Node) -> Option<MoRef> {
        Some(MoRef::new(node.attr("type")?, node.text.trim()))
    }

    /// As the element `tag`.
    pub fn xml(&self, tag: &str) -> String {
        format!(
            "<{tag} type=\"{}\">{}</{tag}>",
            esc(&self.kind),
            esc(&self.value)
        )
    }
}

/// The service content's managers this client uses.
#[derive(Debug, Clone)]
pub(crate) struct Managers {
    pub property_collector: MoRef,
    pub search_index: MoRef,
    pub ovf_manager: MoRef,
    pub session_manager: MoRef,
}

/// The calls that only read, which [`Session::call`] may try again.
const READ_CALLS: &[&str] = &[
    "RetrieveServiceContent",
    "RetrieveProperties",
    "RetrievePropertiesEx",
    "FindByInventoryPath",
];

/// A logged-in SOAP session (cookie `vmware_soap_session`). Debug shows no cookie.
pub struct Session {
    pub(crate) http: reqwest::Client,
    /// `https://host:port`
    pub(crate) base: String,
    /// `host:port`, for messages and for `*` in lease URLs.
    pub(crate) server: String,
    pub(crate) cookie: SecretString,
    pub(crate) sc: Managers,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// One SOAP call's answer: the `<Method>Response` element and the session cookie set.
struct Answer {
    response: Node,
    cookie: Option<String>,
}

async fn post(
    http: &reqwest::Client,
    base: &str,
    server: &str,
    cookie: Option<&SecretString>,
    method: &str,
    inner: &str,
) -> Result<Answer, VsphereError> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:soapenc=\"http://schemas.xmlsoap.org/soap/encoding/\" \
         xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\
         <soapenv:Body><{method} xmlns=\"urn:vim25\">{inner}</{method}></soapenv:Body>\
         </soapenv:Envelope>"
    );
    let mut req = http
        .post(format!("{base}/sdk"))
        .timeout(CALL_TIMEOUT)
        .header("Content-Type", "text/xml; charset=\"utf-8\"")
        .header("SOAPAction", API)
        .body(body);
    if let Some(c) = cookie {
        req = req.header("Cookie", c.expose_secret());
    }
    let resp = req.send().await.map_err(|e| VsphereError::Unreachable {
        server: server.to_string(),
        cause: transport_cause(&e),
    })?;
    let status = resp.status();
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("vmware_soap_session="))
        .and_then(|v| v.split(';').next())
        .map(str::to_string);
    let text = resp.text().await.map_err(|e| VsphereError::Unreachable {
        server: server.to_string(),
        cause: transport_cause(&e),
    })?;
    let protocol = |detail: String| VsphereError::Protocol {
        call: method.to_string(),
        detail,
    };
    let doc = xml::parse(&text).map_err(|e| {
        protocol(format!(
            "HTTP {status}, not SOAP ({e}); is {server} a vCenter (its API is at /sdk)?"
        ))
    })?;
    let body = doc
        .child("Body")
        .ok_or_else(|| protocol(format!("HTTP {status}, no SOAP Body")))?;
    if let Some(fault) = body.child("Fault") {
        return Err(fault_of(method, fault));
    }
    let want = format!("{method}Response");
    let response = body
        .child(&want)
        .cloned()
        .ok_or_else(|| protocol(format!("HTTP {status}, no {want}")))?;
    Ok(Answer { response, cookie })
}

/// A SOAP fault as an error: the fault's type (from `detail`) and its message.
fn fault_of(method: &str, fault: &Node) -> VsphereError {
    let message = fault
        .child_text("faultstring")
        .unwrap_or("")
        .trim()
        .to_string();
    let kind = fault
        .child("detail")
        .and_then(|d| d.children.first())
        .map(|d| {
            d.xsi_type
                .clone()
                .unwrap_or_else(|| d.name.trim_end_matches("Fault").to_string())
        })
        .unwrap_or_else(|| "Fault".to_string());
    VsphereError::Fault {
        call: method.to_string(),
        fault: kind,
        message,
    }
}

impl Session {
    /// Logs in: RetrieveServiceContent, then SessionManager.Login.
    pub async fn login(c: &Credentials) -> Result<Session, VsphereError> {
        let server = if c.server.contains(':') && !c.server.starts_with('[') {
            format!("[{}]:{}", c.server, c.port)
        } else {
            format!("{}:{}", c.server, c.port)
        };
        let base = format!("https://{server}");
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .danger_accept_invalid_certs(!c.validate_certs)
            .danger_accept_invalid_hostnames(!c.validate_certs)
            .build()
            .map_err(|e| VsphereError::Unreachable {
                server: server.clone(),
                cause: transport_cause(&e),
            })?;
        let si = MoRef::new("ServiceInstance", "ServiceInstance");
        let sc = post(
            &http,
            &base,
            &server,
            None,
            "RetrieveServiceContent",
            &si.xml("_this"),
        )
        .await?;
        let rv = sc.response.child("returnval").cloned().unwrap_or_default();
        let manager = |name: &str| {
            rv.child(name)
                .and_then(MoRef::of)
                .ok_or_else(|| VsphereError::Protocol {
                    call: "RetrieveServiceContent".into(),
                    detail: format!("no {name}"),
                })
        };
        let managers = Managers {
            property_collector: manager("propertyCollector")?,
            search_index: manager("searchIndex")?,
            ovf_manager: manager("ovfManager")?,
            session_manager: manager("sessionManager")?,
        };
        let login = format!(
            "{}<userName>{}</userName><password>{}</password>",
            managers.session_manager.xml("_this"),
            esc(&c.username),
            esc(c.password.expose_secret())
        );
        let answer = post(&http, &base, &server, None, "Login", &login)
            .await
            .map_err(|e| match e {
                VsphereError::Fault { fault, .. } if fault == "InvalidLogin" => {
                    VsphereError::InvalidLogin {
                        server: server.clone(),
                        username: c.username.clone(),
                    }
                }
                other => other,
            })?;
        let cookie = answer.cookie.ok_or_else(|| VsphereError::Protocol {
            call: "Login".into(),
            detail: "no vmware_soap_session cookie".into(),
        })?;
        Ok(Session {
            http,
            base,
            server,
            cookie: SecretString::from(cookie),
            sc: managers,
        })
    }

    /// SessionManager.Logout.
    pub async fn logout(self) -> Result<(), VsphereError> {
        let this = self.sc.session_manager.xml("_this");
        self.call("Logout", &this).await.map(|_| ())
    }

    /// One call with this session: `inner` is the method's parameters as XML; the answer
    /// is the `<method>Response` element.
    /// One call. A read that got no answer (a connection closed or reset under load) is
    /// tried again, at most twice, 200 ms and 400 ms later — as the Kubernetes client
    /// retries its reads; a call that changes something is never repeated.
    pub(crate) async fn call(&self, method: &str, inner: &str) -> Result<Node, VsphereError> {
        let mut attempt: u32 = 0;
        loop {
            let answer = post(
                &self.http,
                &self.base,
                &self.server,
                Some(&self.cookie),
                method,
                inner,
            )
            .await;
            match answer {
                Err(VsphereError::Unreachable { .. })
                    if READ_CALLS.contains(&method) && attempt < 2 =>
                {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(200 * u64::from(attempt)))
                        .await;
                }
                other => return other.map(|a| a.response),
            }
        }
    }
}
