//! A minimal blocking HTTP/1.1 client for the tests: one connection per request, so the
//! raw status line, headers and body are all visible.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::Value;
use test_apiserver::TestApiServer;

/// A raw HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    /// The body as JSON (Null if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// A header value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn dechunk(mut raw: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = raw.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        raw = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// Sends one request; an I/O error (e.g. a reset connection) is returned as such.
pub fn send(
    server: &TestApiServer,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Option<&str>,
) -> std::io::Result<Resp> {
    let mut stream = TcpStream::connect(server.addr())?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Bearer test-token\r\nAccept: application/json\r\n",
        server.addr()
    );
    if let Some(ct) = content_type {
        req.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    let body = body.unwrap_or_default();
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = raw.split_once("\r\n\r\n").ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "no response head")
    })?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Ok(Resp {
        status,
        headers,
        body,
    })
}

pub fn get(s: &TestApiServer, path: &str) -> Resp {
    send(s, "GET", path, None, None).expect("GET")
}

pub fn post(s: &TestApiServer, path: &str, body: &Value) -> Resp {
    send(
        s,
        "POST",
        path,
        Some("application/json"),
        Some(&body.to_string()),
    )
    .expect("POST")
}

pub fn put(s: &TestApiServer, path: &str, body: &Value) -> Resp {
    send(
        s,
        "PUT",
        path,
        Some("application/json"),
        Some(&body.to_string()),
    )
    .expect("PUT")
}

pub fn patch(s: &TestApiServer, path: &str, content_type: &str, body: &Value) -> Resp {
    send(
        s,
        "PATCH",
        path,
        Some(content_type),
        Some(&body.to_string()),
    )
    .expect("PATCH")
}

pub fn merge(s: &TestApiServer, path: &str, body: &Value) -> Resp {
    patch(s, path, "application/merge-patch+json", body)
}

pub fn delete(s: &TestApiServer, path: &str) -> Resp {
    send(s, "DELETE", path, Some("application/json"), None).expect("DELETE")
}

pub const MS: &str =
    "/apis/machine.openshift.io/v1beta1/namespaces/openshift-machine-api/machinesets";

/// A MachineSet with labels and a nested spec.
pub fn machineset(name: &str, labels: Value) -> Value {
    serde_json::json!({
        "apiVersion": "machine.openshift.io/v1beta1",
        "kind": "MachineSet",
        "metadata": {"name": name, "namespace": "openshift-machine-api", "labels": labels},
        "spec": {
            "replicas": 1,
            "template": {"spec": {"providerSpec": {"value": {
                "ami": {"id": "ami-old"},
                "instanceType": "m5.large",
                "tags": [{"name": "a", "value": "1"}]
            }}}}
        }
    })
}

/// Path fixtures live at, relative to this crate.
pub fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}
