//! A validating admission webhook for a real API server: an HTTPS server on 127.0.0.1
//! (its own CA, made here) that answers `AdmissionReview` v1 requests with the
//! [`AdmissionRule`]s it was started with, and the `ValidatingWebhookConfiguration` that
//! points a kube-apiserver at it. Tests use it where the in-process server takes the
//! rules directly ([`crate::TestApiServer::admission_rule`]); the API server then answers
//! a denied write itself (400 `admission webhook "…" denied the request: …`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::State;
use axum::serve::Listener;
use axum::Json;
use base64::Engine;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::admission::{denial, AdmissionRule};

/// A running webhook server. Stops when dropped.
pub struct AdmissionWebhook {
    addr: SocketAddr,
    ca_pem: String,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// A CA and a serving certificate for 127.0.0.1 / localhost it signed:
/// (CA PEM, certificate DER, key DER).
fn certificates() -> anyhow::Result<(String, Vec<u8>, Vec<u8>)> {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "test admission webhook CA");
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, &ca_key);
    let key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()])?;
    leaf.subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    let cert = leaf.signed_by(&key, &issuer)?;
    Ok((ca_cert.pem(), cert.der().to_vec(), key.serialize_der()))
}

/// The answer to one `AdmissionReview`.
async fn review(
    State(rules): State<Arc<Vec<AdmissionRule>>>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let request = &body["request"];
    let kind = request["kind"]["kind"].as_str().unwrap_or_default();
    let response = match denial(&rules, kind, &request["object"]) {
        Some(rule) => json!({
            "uid": request["uid"],
            "allowed": false,
            "status": {"code": 400, "message": rule.message},
        }),
        None => json!({"uid": request["uid"], "allowed": true}),
    };
    Json(json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": response,
    }))
}

impl AdmissionWebhook {
    /// Starts the server (in its own thread) judging with `rules`.
    pub fn start(rules: Vec<AdmissionRule>) -> anyhow::Result<AdmissionWebhook> {
        let (ca_pem, cert, key) = certificates()?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.into()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.into()),
            )?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let app = axum::Router::new()
            .route("/validate", axum::routing::post(review))
            .with_state(Arc::new(rules));
        std::thread::Builder::new()
            .name(format!("admission-webhook-{}", addr.port()))
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    let Ok(tcp) = TcpListener::from_std(std_listener) else {
                        return;
                    };
                    let serve = std::future::IntoFuture::into_future(axum::serve(
                        TlsListener { tcp, acceptor },
                        app,
                    ));
                    tokio::select! {
                        _ = serve => {}
                        _ = shutdown_rx => {}
                    }
                });
            })
            .context("starting the admission webhook thread")?;
        Ok(AdmissionWebhook {
            addr,
            ca_pem,
            _shutdown: shutdown,
        })
    }

    /// `https://127.0.0.1:<port>/validate`.
    pub fn url(&self) -> String {
        format!("https://{}/validate", self.addr)
    }

    /// The `ValidatingWebhookConfiguration` `name` that sends writes (create, update) of
    /// `resource` in `group`/`version` to this server, for objects labelled with
    /// `selector` (key, value) only. `failurePolicy: Ignore`, so a configuration left
    /// behind by a killed test never blocks other writes.
    pub fn configuration(
        &self,
        name: &str,
        webhook: &str,
        (group, version, resource): (&str, &str, &str),
        selector: (&str, &str),
    ) -> Value {
        json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": name},
            "webhooks": [{
                "name": webhook,
                "clientConfig": {
                    "url": self.url(),
                    "caBundle": base64::engine::general_purpose::STANDARD.encode(&self.ca_pem),
                },
                "rules": [{
                    "apiGroups": [group],
                    "apiVersions": [version],
                    "operations": ["CREATE", "UPDATE"],
                    "resources": [resource],
                }],
                "objectSelector": {"matchLabels": {selector.0: selector.1}},
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "failurePolicy": "Ignore",
                "timeoutSeconds": 10,
            }],
        })
    }
}
