//! vSphere test harness shared by the test files that talk to vCenter (`mod vcsim;`):
//! a running vcsim (govmomi's vSphere API simulator) — the one `OCP_BOOTIMAGE_TEST_VCSIM`
//! names (`https://user:pass@host:port/sdk`), else one started from
//! `OCP_BOOTIMAGE_VCSIM_BIN`, `/opt/vcsim/bin/vcsim` or `vcsim` on PATH on a free loopback
//! port (killed on Drop) —, test OVAs made here (`tests/fixtures/vsphere/test-rhcos.ovf` +
//! a disk of pseudo-random bytes, streamed, so a 1 GiB one costs no memory) and an
//! in-process HTTP file server with Range support, a request log and a mid-body failure.
//! Without vcsim, `Vcsim::start` prints a SKIP line and the test returns.
//! `OCP_BOOTIMAGE_VCSIM_LOG=<file>` keeps vcsim's log (its NFC lines show the bytes received).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ocp_bootimage::vsphere::{Credentials, Location, Session};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

/// The message a test prints when it cannot run.
pub const SKIP: &str = "SKIP: no vcsim (set OCP_BOOTIMAGE_TEST_VCSIM=https://user:pass@host:port/sdk or install /opt/vcsim/bin/vcsim)";

/// A running vcsim.
pub struct Vcsim {
    child: Option<Child>,
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: String,
}

fn vcsim_binary() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("OCP_BOOTIMAGE_VCSIM_BIN") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let opt = PathBuf::from("/opt/vcsim/bin/vcsim");
    if opt.is_file() {
        return Some(opt);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("vcsim"))
            .find(|p| p.is_file())
    })
}

/// vcsim's log: the file `OCP_BOOTIMAGE_VCSIM_LOG` names (appended), else nowhere.
fn log_to() -> Stdio {
    std::env::var_os("OCP_BOOTIMAGE_VCSIM_LOG")
        .and_then(|p| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .ok()
        })
        .map_or_else(Stdio::null, Stdio::from)
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Vcsim {
    /// The default inventory (`/DC0`, cluster `DC0_C0`, `LocalDS_0`, `VM Network`).
    pub fn start() -> Option<Vcsim> {
        Self::start_with(&[])
    }

    /// With extra vcsim flags (`-dc 2`, `-ds 2`, `-folder 1` …); these need a vcsim of
    /// our own, so `OCP_BOOTIMAGE_TEST_VCSIM` is used only without extra flags.
    pub fn start_with(args: &[&str]) -> Option<Vcsim> {
        if args.is_empty() {
            if let Ok(url) = std::env::var("OCP_BOOTIMAGE_TEST_VCSIM") {
                return Some(Self::external(&url));
            }
        }
        let Some(bin) = vcsim_binary() else {
            eprintln!("{SKIP}");
            return None;
        };
        let port = free_port();
        let (username, password) = ("user".to_string(), "pass-Wörd&<1>".to_string());
        let child = Command::new(&bin)
            .arg("-l")
            .arg(format!("127.0.0.1:{port}"))
            .args(["-username", &username, "-password", &password])
            .args(args)
            .stdout(Stdio::null())
            .stderr(log_to())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let sim = Vcsim {
            child: Some(child),
            host: "127.0.0.1".into(),
            port,
            username,
            password,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "vcsim did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(sim)
    }

    fn external(url: &str) -> Vcsim {
        let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
        let (auth, hostport) = rest
            .split_once('@')
            .expect("user:pass@ in OCP_BOOTIMAGE_TEST_VCSIM");
        let (username, password) = auth.split_once(':').expect("user:pass");
        let hostport = hostport.split('/').next().unwrap();
        let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "443"));
        Vcsim {
            child: None,
            host: host.to_string(),
            port: port.parse().unwrap(),
            username: username.to_string(),
            password: password.to_string(),
        }
    }

    /// Credentials for this vcsim (its certificate is self-signed: not validated).
    pub fn credentials(&self) -> Credentials {
        Credentials {
            server: self.host.clone(),
            port: self.port,
            username: self.username.clone(),
            password: SecretString::from(self.password.clone()),
            validate_certs: false,
        }
    }

    /// A logged-in session.
    pub async fn session(&self) -> Session {
        Session::login(&self.credentials()).await.unwrap()
    }
}

impl Drop for Vcsim {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM first: vcsim removes its temporary datastore directories.
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// vcsim's default location.
pub fn default_location() -> Location {
    Location {
        datacenter: "DC0".into(),
        datastore: "LocalDS_0".into(),
        folder: "/DC0/vm".into(),
        resource_pool: "/DC0/host/DC0_C0/Resources".into(),
        network: Some("VM Network".into()),
    }
}

/// How to spoil a test OVA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spoil {
    None,
    /// The descriptor only: no `disk.vmdk` entry.
    NoDisk,
    /// The file ends in the middle of the disk.
    Truncated,
}

/// Pseudo-random bytes (xorshift), `left` of them.
struct Noise {
    state: u64,
    left: u64,
}

impl Read for Noise {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        for chunk in buf[..n].chunks_mut(8) {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            let bytes = self.state.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Writes `dir/name` — an OVA of `tests/fixtures/vsphere/test-rhcos.ovf` (its `ovf:size`
/// set to `disk_bytes`) and `disk.vmdk` of `disk_bytes` pseudo-random bytes (`seed`) —
/// and returns its path and sha256.
pub fn make_ova(
    dir: &Path,
    name: &str,
    disk_bytes: u64,
    seed: u64,
    spoil: Spoil,
) -> (PathBuf, String) {
    let ovf = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vsphere/test-rhcos.ovf"),
    )
    .unwrap()
    .replace("ovf:size=\"1024\"", &format!("ovf:size=\"{disk_bytes}\""));
    let path = dir.join(name);
    let file = std::fs::File::create(&path).unwrap();
    let mut tar = tar::Builder::new(std::io::BufWriter::new(file));
    let mut h = tar::Header::new_ustar();
    h.set_size(ovf.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append_data(&mut h, "rhcos.ovf", ovf.as_bytes())
        .unwrap();
    if spoil != Spoil::NoDisk {
        let mut h = tar::Header::new_ustar();
        h.set_size(disk_bytes);
        h.set_mode(0o644);
        h.set_cksum();
        let noise = Noise {
            state: seed | 1,
            left: disk_bytes,
        };
        tar.append_data(&mut h, "disk.vmdk", noise).unwrap();
    }
    tar.into_inner().unwrap().flush().unwrap();
    if spoil == Spoil::Truncated {
        // header blocks: 512 (ovf header) + ovf padded + 512 (disk header) + half the disk
        let ovf_blocks = (ovf.len() as u64).div_ceil(512) * 512;
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(512 + ovf_blocks + 512 + disk_bytes / 2).unwrap();
    }
    (path.clone(), sha256_file(&path))
}

/// The sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> String {
    let mut f = std::fs::File::open(path).unwrap();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A request the file server saw: path and Range header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub path: String,
    pub range: Option<String>,
}

/// An in-process HTTP server for one file (at any path), with Range support.
pub struct FileServer {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Seen>>>,
    /// While > 0: the next request's body stops after this many bytes (then it is reset).
    pub fail_after: Arc<AtomicU64>,
    served: Arc<AtomicUsize>,
}

impl FileServer {
    pub fn serve(file: PathBuf) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let fail_after = Arc::new(AtomicU64::new(0));
        let served = Arc::new(AtomicUsize::new(0));
        let (r, f, s) = (requests.clone(), fail_after.clone(), served.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (r, f, s, file) = (r.clone(), f.clone(), s.clone(), file.clone());
                std::thread::spawn(move || {
                    let _ = handle(conn, &file, &r, &f, &s);
                });
            }
        });
        FileServer {
            url: format!("http://127.0.0.1:{port}/rhcos-test-vmware.x86_64.ova"),
            requests,
            fail_after,
            served,
        }
    }

    /// How many requests were made.
    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

fn handle(
    conn: TcpStream,
    file: &Path,
    requests: &Mutex<Vec<Seen>>,
    fail_after: &AtomicU64,
    _served: &AtomicUsize,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range = None;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        if h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("range") {
                range = Some(v.trim().to_string());
            }
        }
    }
    requests.lock().unwrap().push(Seen {
        path,
        range: range.clone(),
    });
    let mut out = conn;
    let mut f = std::fs::File::open(file)?;
    let len = f.metadata()?.len();
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<u64>().ok())
        .filter(|n| *n < len);
    let (status, from) = match start {
        Some(n) => ("206 Partial Content", n),
        None => ("200 OK", 0),
    };
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n",
        len - from
    );
    if start.is_some() {
        head.push_str(&format!(
            "Content-Range: bytes {from}-{}/{len}\r\n",
            len - 1
        ));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    f.seek(SeekFrom::Start(from))?;
    let limit = fail_after.swap(0, Ordering::SeqCst);
    let mut left = if limit > 0 { limit } else { len - from };
    let mut buf = vec![0u8; 64 << 10];
    while left > 0 {
        let n = f.read(&mut buf[..usize::try_from(left.min(64 << 10)).unwrap()])?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])?;
        left -= n as u64;
    }
    out.flush()?;
    // A failure: drop the connection short of Content-Length.
    Ok(())
}
