//! Bad-input corpus (issue 6): at least 200 invalid inputs generated deterministically
//! from the real fixtures (a seeded generator, no committed files), each run through the
//! built binary the way Ansible runs a module. Every one must give exactly one JSON
//! object on stdout with `failed: true`, a readable `msg`, exit code 1, and write nothing
//! (input files unchanged, no record or backup file, no write request to the server).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use common::{fixture, root, run_module, TestCluster};
use serde_json::{json, Value};

/// A tiny deterministic generator (xorshift64*), so the corpus is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One bad input: the module, its args, and the files it must leave alone.
struct Case {
    category: &'static str,
    label: String,
    module: &'static str,
    args: Value,
    /// Files whose bytes must not change.
    inputs: Vec<PathBuf>,
    /// Files that must not come to exist.
    absent: Vec<PathBuf>,
    /// Runs against the in-process server (checked for write requests).
    cluster: bool,
    /// Text `msg` must contain (the option at fault).
    names: Option<String>,
}

fn shipped_dump() -> PathBuf {
    root().join("examples/cluster-dump")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn insert_at(bytes: &[u8], pos: usize, what: &[u8]) -> Vec<u8> {
    let mut v = bytes[..pos].to_vec();
    v.extend_from_slice(what);
    v.extend_from_slice(&bytes[pos..]);
    v
}

/// Messages must be sentences for people, not Rust debug output.
fn assert_readable(label: &str, msg: &str) {
    let m = msg.trim();
    assert!(!m.is_empty(), "{label}: empty msg");
    for bad in [
        "Error {",
        "Os {",
        "kind: ",
        "panicked",
        "backtrace",
        "RUST_BACKTRACE",
        "Custom {",
        "Syntax(",
        "Message(",
    ] {
        assert!(
            !m.contains(bad),
            "{label}: msg looks like a debug dump ({bad}): {m}"
        );
    }
    assert!(
        m.chars().next().is_some_and(|c| !c.is_whitespace()),
        "{label}: msg {m:?}"
    );
}

struct Corpus {
    cases: Vec<Case>,
    work: PathBuf,
    n: usize,
}

impl Corpus {
    /// A file in the work directory holding `bytes`.
    fn file(&mut self, name: &str, bytes: &[u8]) -> PathBuf {
        self.n += 1;
        let dir = self.work.join(format!("c{}", self.n));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn push(
        &mut self,
        category: &'static str,
        label: String,
        module: &'static str,
        args: Value,
        inputs: Vec<PathBuf>,
    ) {
        self.cases.push(Case {
            category,
            label,
            module,
            args,
            inputs,
            absent: Vec::new(),
            cluster: false,
            names: None,
        });
    }

    /// A stream file case: `bootimage_info` on the shipped dump with this stream file.
    fn stream(&mut self, category: &'static str, label: String, bytes: &[u8]) {
        let p = self.file("stream.json", bytes);
        self.push(
            category,
            label,
            "bootimage_info",
            json!({"dump_dir": shipped_dump(), "stream_file": p}),
            vec![p],
        );
    }

    /// A stub Ignition file case: `stub_ignition` with `path` and `record_path`.
    fn ignition(&mut self, category: &'static str, label: String, bytes: &[u8]) {
        let p = self.file("stub.ign", bytes);
        let record = p.with_file_name("record.json");
        let bak = p.with_file_name("stub.ign.bak");
        self.cases.push(Case {
            category,
            label,
            module: "stub_ignition",
            args: json!({"path": p, "record_path": record}),
            inputs: vec![p],
            absent: vec![record, bak],
            cluster: false,
            names: None,
        });
    }

    /// A PEM file case: `mcs_cert_info` with `path`.
    fn pem(&mut self, category: &'static str, label: String, bytes: &[u8]) {
        let p = self.file("tls.crt", bytes);
        self.push(
            category,
            label,
            "mcs_cert_info",
            json!({"path": p}),
            vec![p],
        );
    }
}

fn stream_fixtures() -> Vec<PathBuf> {
    [
        "rhcos-4.18.json",
        "rhcos-4.12.json",
        "coreos-rhel-9-4.22.json",
        "fcos-4.16.json",
        "scos-4.22.json",
    ]
    .iter()
    .map(|f| fixture(&format!("stream/{f}")))
    .collect()
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn pem_block(label: &str, der: &[u8]) -> String {
    let body = b64(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn der_of(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .unwrap()
}

fn build_corpus(work: &Path, kubeconfig: &Path, cluster_secrets: &mut Vec<Value>) -> Corpus {
    let mut c = Corpus {
        cases: Vec::new(),
        work: work.to_path_buf(),
        n: 0,
    };
    let mut rng = Rng(0x6f63_702d_626f_6f74);

    // --- Stream files: truncated (a strict prefix of a JSON object never parses).
    for f in stream_fixtures() {
        let bytes = std::fs::read(&f).unwrap();
        let end = String::from_utf8_lossy(&bytes).trim_end().len();
        for _ in 0..8 {
            let cut = rng.below(end - 1);
            c.stream(
                "stream: truncated JSON",
                format!("{} cut at {cut}", f.display()),
                &bytes[..cut],
            );
        }
    }
    // --- Stream files: corrupted (a NUL or an invalid UTF-8 byte is invalid anywhere in JSON and YAML).
    for f in stream_fixtures() {
        let bytes = std::fs::read(&f).unwrap();
        for i in 0..6 {
            let pos = rng.below(bytes.len());
            let junk: &[u8] = if i % 2 == 0 { b"\x00" } else { b"\xff\xfe" };
            c.stream(
                "stream: corrupted bytes",
                format!("{} junk at {pos}", f.display()),
                &insert_at(&bytes, pos, junk),
            );
        }
    }
    // --- Stream ConfigMap YAML: corrupted.
    for f in std::fs::read_dir(fixture("stream/configmap")).unwrap() {
        let f = f.unwrap().path();
        let bytes = std::fs::read(&f).unwrap();
        for _ in 0..3 {
            let pos = rng.below(bytes.len());
            c.stream(
                "stream: corrupted bytes",
                format!("{} NUL at {pos}", f.display()),
                &insert_at(&bytes, pos, b"\x00"),
            );
        }
    }
    // --- Stream files without their architectures / with the wrong shape.
    let s418: Value =
        serde_json::from_slice(&std::fs::read(fixture("stream/rhcos-4.18.json")).unwrap()).unwrap();
    let mut shapes: Vec<(&str, Value)> = Vec::new();
    {
        let mut v = s418.clone();
        v.as_object_mut().unwrap().remove("architectures");
        shapes.push(("no architectures", v));
        for (what, arch) in [
            ("architectures = []", json!([])),
            ("architectures = \"x86_64\"", json!("x86_64")),
            ("architectures = 7", json!(7)),
            ("architectures = null", Value::Null),
            ("architectures = {}", json!({})),
        ] {
            let mut v = s418.clone();
            v["architectures"] = arch;
            shapes.push((what, v));
        }
        let mut v = s418.clone();
        let archs = v["architectures"].as_object().unwrap().clone();
        let mut renamed = serde_json::Map::new();
        for (i, (_, a)) in archs.into_iter().enumerate() {
            renamed.insert(format!("sparc{i}"), a);
        }
        v["architectures"] = Value::Object(renamed);
        shapes.push(("only unknown architectures", v));
        shapes.push(("a JSON array", json!([s418.clone()])));
        shapes.push(("a JSON string", json!("rhcos-4.18")));
        shapes.push(("a JSON number", json!(418)));
        shapes.push(("JSON null", Value::Null));
        shapes.push(("an empty object", json!({})));
        shapes.push((
            "a Secret, not a stream",
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "data": {}}),
        ));
        shapes.push(("a ConfigMap without stream", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "coreos-bootimages"}, "data": {"releaseVersion": "4.18.1"}})));
        shapes.push(("a ConfigMap with a broken stream", json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "coreos-bootimages"}, "data": {"stream": "{\"architectures\": "}})));
    }
    for (what, v) in shapes {
        c.stream(
            "stream: missing architectures / wrong shape",
            what.to_string(),
            serde_json::to_string(&v).unwrap().as_bytes(),
        );
    }
    c.stream("stream: empty", "empty file".into(), b"");
    c.stream("stream: empty", "whitespace".into(), b"  \n\t\n");
    // --- Unicode garbage as stream.
    for (i, u) in [
        "流れ🚀{\"architectures\"",
        "ÿþ\u{202e}{}",
        "\u{feff}[\u{2028}",
        "архитектуры: [",
        "{\"stream\": \"rhcos\", \"architectures\": {\"x86_64\": ☃}}",
    ]
    .iter()
    .enumerate()
    {
        c.stream("unicode", format!("unicode stream {i}"), u.as_bytes());
    }
    // --- Huge stream: a few MB, truncated.
    {
        let mut big = String::from(
            "{\"stream\": \"rhcos-4.18\", \"architectures\": {\"x86_64\": {\"padding\": \"",
        );
        big.push_str(&"A".repeat(3 << 20));
        c.stream("huge", "3 MiB unterminated string".into(), big.as_bytes());
        let deep = "[".repeat(2 << 20);
        c.stream("huge", "2 MiB of nesting".into(), deep.as_bytes());
    }

    // --- Dump directories with one corrupted YAML/JSON file (copies of the shipped dump).
    {
        let mut files = Vec::new();
        files_under(&shipped_dump(), &mut files);
        files.retain(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "json")
            )
        });
        for (i, f) in files.iter().enumerate() {
            let rel = f.strip_prefix(shipped_dump()).unwrap().to_path_buf();
            c.n += 1;
            let dir = work.join(format!("dump{}", c.n));
            copy_dir(&shipped_dump(), &dir);
            let target = dir.join(&rel);
            let bytes = std::fs::read(&target).unwrap();
            let corrupted =
                if rel.extension().and_then(|e| e.to_str()) == Some("json") && i % 2 == 0 {
                    let end = String::from_utf8_lossy(&bytes).trim_end().len();
                    bytes[..rng.below(end - 1).max(1)].to_vec()
                } else {
                    let pos = rng.below(bytes.len());
                    insert_at(&bytes, pos, if i % 2 == 0 { b"\x00" } else { b"\xff" })
                };
            std::fs::write(&target, &corrupted).unwrap();
            c.push(
                "dump: truncated / corrupted file",
                format!("{}", rel.display()),
                "bootimage_info",
                json!({"dump_dir": dir}),
                vec![target.clone()],
            );
            // The same bad dump through mcs_cert_info.
            if i % 3 == 0 {
                c.push(
                    "dump: truncated / corrupted file",
                    format!("mcs_cert_info {}", rel.display()),
                    "mcs_cert_info",
                    json!({"dump_dir": dir}),
                    vec![target],
                );
            }
        }
    }

    // --- Stub Ignition files that are not Ignition.
    let mut not_ignition: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), b"".to_vec()),
        ("shell script".into(), b"#!/bin/bash\necho hello\n".to_vec()),
        (
            "cloud-config".into(),
            b"#cloud-config\nusers:\n  - name: core\n".to_vec(),
        ),
        ("plain text".into(), b"this is not ignition".to_vec()),
        (
            "JSON without ignition".into(),
            br#"{"storage": {"files": []}}"#.to_vec(),
        ),
        (
            "ignition not an object".into(),
            br#"{"ignition": "2.2.0"}"#.to_vec(),
        ),
        (
            "no version".into(),
            br#"{"ignition": {"config": {}}}"#.to_vec(),
        ),
        (
            "version is a number".into(),
            br#"{"ignition": {"version": 2.2}}"#.to_vec(),
        ),
        (
            "unknown version".into(),
            br#"{"ignition": {"version": "9.9.9"}}"#.to_vec(),
        ),
        (
            "version 1.0.0".into(),
            br#"{"ignition": {"version": "1.0.0"}}"#.to_vec(),
        ),
        (
            "garbage version".into(),
            br#"{"ignition": {"version": "two"}}"#.to_vec(),
        ),
        ("JSON array".into(), b"[1, 2, 3]".to_vec()),
        ("JSON null".into(), b"null".to_vec()),
        ("JSON string".into(), b"\"ignition\"".to_vec()),
        ("binary".into(), vec![0, 159, 146, 150, 255, 0, 1]),
        (
            "gzip magic".into(),
            vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3],
        ),
        (
            "unicode".into(),
            "{\"ignition\": {\"version\": \"２.２.０\"}}"
                .as_bytes()
                .to_vec(),
        ),
        ("unicode text".into(), "İgnítıön 🚀 ✓".as_bytes().to_vec()),
        ("huge".into(), {
            let mut v = b"{\"ignition\": {\"version\": \"2.2.0\"}, \"pad\": \"".to_vec();
            v.extend(std::iter::repeat_n(b'x', 3 << 20));
            v
        }),
    ];
    for f in [
        "ignition/spec2.2.0-worker-pointer-Dawnday101.ign",
        "ignition/spec2.2.0-master-pointer-Dawnday101.ign",
        "ignition/spec2.1.0-append-bootstrap-ironicbadger.ign",
        "ignition/spec3.1.0-worker-pointer-ChrisPhillips.ign",
    ] {
        let bytes = std::fs::read(fixture(f)).unwrap();
        let end = String::from_utf8_lossy(&bytes).trim_end().len();
        for _ in 0..3 {
            let cut = rng.below(end - 1);
            not_ignition.push((format!("{f} cut at {cut}"), bytes[..cut].to_vec()));
        }
        let pos = rng.below(bytes.len());
        not_ignition.push((format!("{f} NUL at {pos}"), insert_at(&bytes, pos, b"\x00")));
        // base64 text of the stub (Ignition is not base64 in a file).
        not_ignition.push((format!("{f} base64"), b64(&bytes).into_bytes()));
    }
    for (label, bytes) in not_ignition {
        let cat = if label.starts_with("huge") {
            "huge"
        } else if label.starts_with("unicode") {
            "unicode"
        } else {
            "userData: not Ignition"
        };
        c.ignition(cat, label, &bytes);
    }

    // --- userData secrets in the cluster: base64 garbage and non-Ignition content.
    {
        let template = common::objects_in(&fixture(
            "ignition/secrets/azure-4.x-spec2.2.0-worker-user-data-secret.yaml",
        ))
        .remove(0);
        let mut variants: Vec<(String, Value)> = vec![
            ("not base64".into(), json!("this is not base64!!")),
            ("bad padding".into(), json!("eyJpZ25pdGlvbiI6")),
            ("base64 of binary".into(), json!(b64(&[0, 255, 1, 254]))),
            ("base64 of text".into(), json!(b64(b"hello world"))),
            ("base64 of shell".into(), json!(b64(b"#!/bin/sh\nexit 0\n"))),
            (
                "base64 of 9.9.9".into(),
                json!(b64(br#"{"ignition":{"version":"9.9.9"}}"#)),
            ),
            ("number".into(), json!(42)),
            ("object".into(), json!({"a": 1})),
            ("unicode".into(), json!("ÿ流🚀")),
            ("empty".into(), json!("")),
            ("base64url alphabet".into(), json!("_-_-_-_-")),
        ];
        for i in 0..9 {
            let len = 8 + rng.below(64);
            let s: String = (0..len)
                .map(|_| {
                    let alphabet =
                        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=*%$ \n";
                    alphabet[rng.below(alphabet.len())] as char
                })
                .collect();
            variants.push((format!("random base64-ish {i}"), json!(s)));
        }
        for (i, (label, user_data)) in variants.into_iter().enumerate() {
            let name = format!("bad-user-data-{i}");
            let mut s = template.clone();
            s["metadata"] = json!({"name": name, "namespace": "openshift-machine-api"});
            s["data"] = json!({"userData": user_data});
            if !user_data.is_string() {
                // The API would refuse a non-string; keep the stored Secret valid.
                s["data"] = json!({"userData": b64(user_data.to_string().as_bytes())});
            }
            cluster_secrets.push(s);
            c.n += 1;
            let record = work.join(format!("rec{}.json", c.n));
            for create_new in [false, true] {
                c.cases.push(Case {
                    category: "base64 garbage / non-Ignition userData (cluster)",
                    label: format!("{label} create_new={create_new}"),
                    module: "stub_ignition",
                    args: json!({"kubeconfig": kubeconfig, "secrets": [name], "record_path": record, "create_new": create_new}),
                    inputs: Vec::new(),
                    absent: vec![record.clone()],
                    cluster: true,
                    names: None,
                });
            }
        }
    }

    // --- PEM garbage and non-certificate PEM.
    let certs = [
        "certs/azure-communityus-machine-config-server-tls.crt",
        "certs/openstack-opentlc-machine-config-server-tls.crt",
        "certs/resourcewatch-sno-v2-machine-config-server-tls.crt",
        "certs/generated-expired-san-machine-config-server-tls.crt",
    ];
    let mut pems: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), b"".to_vec()),
        ("text".into(), b"not a certificate".to_vec()),
        (
            "begin only".into(),
            b"-----BEGIN CERTIFICATE-----\n".to_vec(),
        ),
        (
            "empty block".into(),
            b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n".to_vec(),
        ),
        (
            "garbage body".into(),
            b"-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n".to_vec(),
        ),
        (
            "mismatched labels".into(),
            b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END PRIVATE KEY-----\n".to_vec(),
        ),
        (
            "private key".into(),
            pem_block("PRIVATE KEY", &[0x30, 0x03, 0x02, 0x01, 0x00]).into_bytes(),
        ),
        (
            "RSA private key".into(),
            pem_block("RSA PRIVATE KEY", b"0123456789abcdef").into_bytes(),
        ),
        (
            "public key".into(),
            pem_block("PUBLIC KEY", b"0123456789abcdef").into_bytes(),
        ),
        (
            "CSR".into(),
            pem_block("CERTIFICATE REQUEST", b"0123456789abcdef").into_bytes(),
        ),
        (
            "X509 CRL".into(),
            pem_block("X509 CRL", b"0123456789abcdef").into_bytes(),
        ),
        ("DER bytes".into(), vec![0x30, 0x82, 0x01, 0x0a, 0x02]),
        (
            "unicode".into(),
            "-----BEGIN CERTIFICATE-----\n证书🚀\n-----END CERTIFICATE-----\n"
                .as_bytes()
                .to_vec(),
        ),
        (
            "unicode label".into(),
            pem_block("CERTIFICATÉ", b"abc").into_bytes(),
        ),
        ("huge".into(), {
            let mut v = b"-----BEGIN CERTIFICATE-----\n".to_vec();
            for _ in 0..(3 << 20) / 65 {
                v.extend_from_slice(&[b'A'; 64]);
                v.push(b'\n');
            }
            v.extend_from_slice(b"-----END CERTIFICATE-----\n");
            v
        }),
    ];
    for f in certs {
        let text = std::fs::read_to_string(fixture(f)).unwrap();
        let der = der_of(&text);
        for _ in 0..4 {
            let cut = 1 + rng.below(der.len() - 2);
            pems.push((
                format!("{f} DER cut at {cut}"),
                pem_block("CERTIFICATE", &der[..cut]).into_bytes(),
            ));
        }
        // The outer SEQUENCE tag replaced: not a certificate any more.
        let mut wrong_tag = der.clone();
        wrong_tag[0] = 0x31;
        pems.push((
            format!("{f} wrong outer tag"),
            pem_block("CERTIFICATE", &wrong_tag).into_bytes(),
        ));
        // Relabelled as a key.
        pems.push((
            format!("{f} labelled as a key"),
            text.replace("CERTIFICATE", "PRIVATE KEY").into_bytes(),
        ));
        // PEM body lines of the certificate with the armour cut off.
        let body: Vec<&str> = text.lines().filter(|l| !l.starts_with("-----")).collect();
        pems.push((format!("{f} without armour"), body.join("\n").into_bytes()));
    }
    for (label, bytes) in pems {
        let cat = if label == "huge" {
            "huge"
        } else if label.starts_with("unicode") {
            "unicode"
        } else {
            "PEM garbage / non-certificate PEM"
        };
        c.pem(cat, label, &bytes);
    }

    // --- Corrupted rollback records: every writing module must refuse before writing.
    {
        let entry = json!({"run_id": "r1", "seq": 1, "time": "2026-01-01T00:00:00Z", "module": "autoscaling",
            "api_version": "autoscaling.openshift.io/v1beta1", "kind": "MachineAutoscaler",
            "namespace": "openshift-machine-api", "name": "build09-kcxpl-worker-aarch64-us-east-2a",
            "field": "/spec/minReplicas", "old": 0, "new": 1, "secret": false});
        let valid =
            json!({"format": ocp_bootimage::record::RECORD_FORMAT, "entries": [entry]}).to_string();
        let end = valid.len();
        let mut records: Vec<(String, Vec<u8>)> = vec![
            ("garbage".into(), b"not a record".to_vec()),
            (
                "other format".into(),
                br#"{"format": "other/v9", "entries": []}"#.to_vec(),
            ),
            (
                "entries not a list".into(),
                json!({"format": ocp_bootimage::record::RECORD_FORMAT, "entries": {"a": 1}})
                    .to_string()
                    .into_bytes(),
            ),
            (
                "entry missing fields".into(),
                json!({"format": ocp_bootimage::record::RECORD_FORMAT, "entries": [{"seq": 1}]})
                    .to_string()
                    .into_bytes(),
            ),
            ("a JSON array".into(), b"[]".to_vec()),
            (
                "unicode".into(),
                "{\"format\": \"ocp-bootimage.rollback/v1\", \"entries\": [\"🚀\"]}"
                    .as_bytes()
                    .to_vec(),
            ),
        ];
        for _ in 0..2 {
            let cut = 1 + rng.below(end - 2);
            records.push((format!("cut at {cut}"), valid.as_bytes()[..cut].to_vec()));
        }
        let pos = rng.below(end);
        records.push((
            format!("NUL at {pos}"),
            insert_at(valid.as_bytes(), pos, b"\x00"),
        ));
        for (label, bytes) in records {
            for (module, extra) in [
                ("autoscaling", json!({"state": "paused"})),
                // A 2.x stub no MachineSet uses (the shipped ones are migrated below, so
                // that the MachineSets can be swapped).
                ("stub_ignition", json!({"secrets": [LEGACY_STUB]})),
                ("machineset_bootimage", json!({})),
                ("rollback", json!({})),
            ] {
                let p = c.file("record.json", &bytes);
                let mut args = extra;
                args["kubeconfig"] = json!(kubeconfig);
                args["record_path"] = json!(p);
                c.cases.push(Case {
                    category: "rollback record: corrupted",
                    label: format!("{module} {label}"),
                    module,
                    args,
                    inputs: vec![p],
                    absent: Vec::new(),
                    cluster: true,
                    names: None,
                });
            }
        }
    }
    // --- Bad stream files for the modules that write (against the cluster).
    for (i, bytes) in [
        b"{\"architectures\": ".to_vec(),
        b"{}".to_vec(),
        b"\x00\xff".to_vec(),
    ]
    .into_iter()
    .enumerate()
    {
        for (module, extra) in [
            ("machineset_bootimage", json!({})),
            (
                "bootimage_canary",
                json!({"machineset": "build09-kcxpl-worker-us-east-1a", "_ansible_check_mode": true}),
            ),
        ] {
            let p = c.file("stream.json", &bytes);
            let record = p.with_file_name("record.json");
            let mut args = extra;
            args["kubeconfig"] = json!(kubeconfig);
            args["stream_file"] = json!(p);
            args["record_path"] = json!(record);
            c.cases.push(Case {
                category: "stream: bad file for a writing module",
                label: format!("{module} stream {i}"),
                module,
                args,
                inputs: vec![p],
                absent: vec![record],
                cluster: true,
                names: None,
            });
        }
    }

    // --- Arguments: unknown options and wrong types, for every module.
    for module in ocp_bootimage::modules::names() {
        let schema: Value = serde_json::from_slice(
            &std::fs::read(root().join(format!("schemas/{module}.input.json"))).unwrap(),
        )
        .unwrap();
        let record = work.join(format!("{module}-record.json"));
        let base = json!({"kubeconfig": kubeconfig, "record_path": record, "machineset": "x", "state": "paused"});
        let mut base = base.as_object().unwrap().clone();
        let props = schema["properties"].as_object().unwrap();
        base.retain(|k, _| props.contains_key(k));
        if module == "mcs_certificate" {
            base.insert("state".into(), json!("regenerated"));
        }
        let mut arg_case = |category: &'static str, label: String, extra: Vec<(String, Value)>| {
            let mut args = base.clone();
            // The message must name the option at fault.
            let named = extra.first().map(|(k, _)| k.clone());
            for (k, v) in extra {
                args.insert(k, v);
            }
            c.cases.push(Case {
                category,
                label: format!("{module}: {label}"),
                module,
                args: Value::Object(args),
                inputs: Vec::new(),
                absent: vec![record.clone()],
                cluster: true,
                names: named,
            });
        };
        for unknown in [
            "bogus",
            "dump-dir",
            "DUMP_DIR",
            "ñame🚀",
            "ansible_check_mode",
        ] {
            arg_case(
                "args: unknown option",
                unknown.to_string(),
                vec![(unknown.to_string(), json!(1))],
            );
        }
        arg_case(
            "huge",
            "3 MiB unknown option".into(),
            vec![("x".repeat(64), json!("y".repeat(3 << 20)))],
        );
        for (name, p) in props {
            let ty = match &p["type"] {
                Value::String(t) => vec![t.clone()],
                Value::Array(a) => a
                    .iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect(),
                _ => Vec::new(),
            };
            let wrong: Vec<Value> = if ty.iter().any(|t| t == "boolean") {
                vec![json!("maybe"), json!([true])]
            } else if ty.iter().any(|t| t == "integer") {
                vec![json!("soon"), json!({"a": 1})]
            } else if ty.iter().any(|t| t == "array") {
                vec![json!({"a": {"b": 1}}), json!([[1]])]
            } else if ty.iter().any(|t| t == "object") {
                vec![json!([1, 2]), json!("not-a-dict")]
            } else if ty.iter().any(|t| t == "string") {
                vec![json!({"a": [1]})]
            } else if name == "state" || name == "target_version" {
                vec![json!("sideways"), json!(7)]
            } else {
                Vec::new()
            };
            for w in wrong {
                arg_case(
                    "args: wrong type",
                    format!("{name} = {w}"),
                    vec![(name.clone(), w)],
                );
            }
        }
    }
    c
}

/// A spec 2.x stub secret no MachineSet references.
const LEGACY_STUB: &str = "legacy-user-data";

#[test]
fn every_bad_input_fails_cleanly_and_writes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let mut cluster = TestCluster::start();
    if cluster.is_real() {
        eprintln!("bad-input corpus: skipped against a real API server");
        return;
    }
    let mut secrets = Vec::new();
    let corpus = build_corpus(work.path(), &cluster.kubeconfig(), &mut secrets);
    // The whole shipped dump: the writing modules have something to change.
    // Stubs migrated (else no MachineSet could be swapped), plus one 2.x stub for
    // `stub_ignition` to change.
    let original = common::objects_under(&shipped_dump());
    let mut legacy = original
        .iter()
        .find(|o| o["kind"] == "Secret" && o["metadata"]["name"] == "worker-user-data")
        .cloned()
        .unwrap();
    legacy["metadata"]["name"] = json!(LEGACY_STUB);
    let mut objects = common::with_v3_stubs(original);
    objects.push(legacy);
    objects.extend(secrets);
    cluster.load(&objects);
    cluster.clear_requests();

    let started = std::time::Instant::now();
    let snapshots: Vec<Vec<(PathBuf, Vec<u8>)>> = corpus
        .cases
        .iter()
        .map(|c| {
            c.inputs
                .iter()
                .map(|p| (p.clone(), std::fs::read(p).unwrap()))
                .collect()
        })
        .collect();
    let mut failures = Vec::new();
    let mut per_category: BTreeMap<&str, usize> = BTreeMap::new();
    for (case, before) in corpus.cases.iter().zip(&snapshots) {
        let label = format!("[{}] {} {}", case.category, case.module, case.label);
        let r = run_module(case.module, &case.args);
        // Exactly one JSON object on stdout (run_module parsed it whole).
        assert!(r.json.is_object(), "{label}: {}", r.stdout);
        let failed = r.json["failed"] == json!(true);
        if !failed || r.code != 1 {
            failures.push(format!(
                "{label}: failed={} code={} msg={}",
                r.json["failed"], r.code, r.json["msg"]
            ));
            continue;
        }
        let msg = r.json["msg"].as_str().unwrap_or_default();
        if let Some(name) = &case.names {
            if !msg.contains(name.as_str()) {
                failures.push(format!("{label}: msg does not name {name}: {msg}"));
                continue;
            }
        }
        if let Err(e) = std::panic::catch_unwind(|| assert_readable(&label, msg)) {
            failures.push(format!(
                "{label}: {}",
                e.downcast_ref::<String>().cloned().unwrap_or_default()
            ));
            continue;
        }
        assert!(!r.stderr.contains("panicked"), "{label}: {}", r.stderr);
        for (p, bytes) in before {
            assert!(
                &std::fs::read(p).unwrap() == bytes,
                "{label}: {} changed",
                p.display()
            );
        }
        for p in &case.absent {
            assert!(!p.exists(), "{label}: {} was written", p.display());
        }
        if case.cluster {
            let writes = cluster.writes().unwrap_or_default();
            assert!(writes.is_empty(), "{label}: wrote {writes:?}");
            cluster.clear_requests();
        }
        *per_category.entry(case.category).or_default() += 1;
    }
    let total: usize = per_category.values().sum();
    eprintln!(
        "bad-input corpus: {total} cases in {:.1?}",
        started.elapsed()
    );
    for (cat, n) in &per_category {
        eprintln!("  {n:4}  {cat}");
    }
    assert!(
        failures.is_empty(),
        "{} bad inputs did not fail cleanly:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(total >= 200, "only {total} bad inputs");
}
