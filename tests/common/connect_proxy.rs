//! A real HTTP `CONNECT` proxy for the connection tests: it tunnels each connection to
//! the target it is asked for and records what it was asked (the target, and the
//! credentials of `Proxy-Authorization: Basic`, decoded), as a corporate proxy would see
//! them. Blocking threads; stops accepting when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;

/// One `CONNECT` the proxy answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tunnel {
    /// `host:port` asked for.
    pub target: String,
    /// `user:password` of `Proxy-Authorization: Basic`, when sent.
    pub credentials: Option<String>,
}

/// A running proxy.
pub struct ConnectProxy {
    pub addr: SocketAddr,
    tunnels: Arc<Mutex<Vec<Tunnel>>>,
    stop: Arc<AtomicBool>,
}

impl ConnectProxy {
    pub fn start() -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let tunnels = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (t, s) = (tunnels.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let t = t.clone();
                std::thread::spawn(move || {
                    let _ = tunnel(conn, &t);
                });
            }
        });
        ConnectProxy {
            addr,
            tunnels,
            stop,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The tunnels opened so far.
    pub fn tunnels(&self) -> Vec<Tunnel> {
        self.tunnels.lock().unwrap().clone()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn tunnel(client: TcpStream, tunnels: &Mutex<Vec<Tunnel>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut credentials = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("proxy-authorization") {
                let value = value.trim();
                if let Some(b64) = value.strip_prefix("Basic ") {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(b64.trim())
                        .unwrap_or_default();
                    credentials = Some(String::from_utf8_lossy(&bytes).into_owned());
                }
            }
        }
    }
    let mut parts = request_line.split_whitespace();
    let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) else {
        let mut c = client;
        c.write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")?;
        return Ok(());
    };
    tunnels.lock().unwrap().push(Tunnel {
        target: target.to_string(),
        credentials,
    });
    let upstream = TcpStream::connect(target)?;
    let mut c = client;
    c.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")?;
    // Bytes the reader buffered past the header belong to the tunnel.
    let buffered = reader.buffer().to_vec();
    let mut up_w = upstream.try_clone()?;
    up_w.write_all(&buffered)?;
    let mut up_r = upstream;
    let mut c_w = c.try_clone()?;
    let pump = std::thread::spawn(move || {
        let _ = std::io::copy(&mut up_r, &mut c_w);
        let _ = c_w.shutdown(std::net::Shutdown::Write);
    });
    let mut c_r = reader.into_inner();
    let mut buf = [0u8; 16 << 10];
    loop {
        match c_r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if up_w.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = up_w.shutdown(std::net::Shutdown::Write);
    let _ = pump.join();
    Ok(())
}
