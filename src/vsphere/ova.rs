//! The OVA file (owns: fetching it into the cache — resumable, sha256 verified before it
//! is used, one download at a time per file — and reading it in place: the tar entries'
//! names, offsets and sizes and the OVF descriptor, never extracting). Memory does not
//! grow with the OVA's size: everything is streamed in chunks.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Instant;

use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Where the OVA comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OvaSource {
    /// Downloaded (HTTP or HTTPS) into the cache directory.
    Url(String),
    /// A local file, used in place.
    Path(PathBuf),
}

/// A verified OVA on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ova {
    pub path: PathBuf,
    /// Lower-case hex sha256 of the whole file.
    pub sha256: String,
    pub size: u64,
}

/// What `fetch_ova` did.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchReport {
    /// The cache held the file: no request was sent.
    pub cached: bool,
    /// Bytes received in this run.
    pub downloaded_bytes: u64,
    /// Where the download resumed (bytes of an earlier `.part` kept), 0 when it started
    /// from the beginning.
    pub resumed_from: u64,
    pub seconds: f64,
}

/// One file in the OVA's tar: its name, where its data starts and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OvaEntry {
    pub name: String,
    pub offset: u64,
    pub size: u64,
}

/// Why fetching or reading the OVA failed.
#[derive(Debug, thiserror::Error)]
pub enum OvaError {
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The download got no (complete) answer.
    #[error("downloading {url} failed: {cause}")]
    Download { url: String, cause: String },
    /// The server answered the download with an error status.
    #[error("downloading {url} failed: HTTP {status}")]
    Http { url: String, status: u16 },
    /// The file's sha256 is not the one expected; nothing was kept or uploaded.
    #[error("the sha256 of {source_name} is {actual}, not the expected {expected}: refused (a corrupted or wrong download; nothing was uploaded)")]
    Sha256Mismatch {
        source_name: String,
        expected: String,
        actual: String,
    },
    /// The OVA is no tar or has no `.ovf` descriptor.
    #[error("{path} is not an OVA: {detail}")]
    NotOva { path: String, detail: String },
    /// A file the import needs is not in the OVA.
    #[error("the OVA {path} has no entry {entry}")]
    MissingEntry { path: String, entry: String },
}

/// The descriptor is read whole; refuse anything larger (an OVF is a few KiB).
const MAX_DESCRIPTOR: u64 = 16 << 20;
/// Read/write chunk size.
const CHUNK: usize = 256 << 10;

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> OvaError + '_ {
    move |source| OvaError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl Ova {
    /// The tar entries (name, data offset, size), read by seeking from header to header.
    pub fn entries(&self) -> Result<Vec<OvaEntry>, OvaError> {
        let file = std::fs::File::open(&self.path).map_err(io_err(&self.path))?;
        let mut archive = tar::Archive::new(file);
        let not_ova = |e: std::io::Error| OvaError::NotOva {
            path: self.path.display().to_string(),
            detail: e.to_string(),
        };
        let mut out = Vec::new();
        for entry in archive.entries_with_seek().map_err(not_ova)? {
            let entry = entry.map_err(not_ova)?;
            let name = entry
                .path()
                .map_err(not_ova)?
                .to_string_lossy()
                .trim_start_matches("./")
                .to_string();
            out.push(OvaEntry {
                name,
                offset: entry.raw_file_position(),
                size: entry.size(),
            });
        }
        Ok(out)
    }

    /// The `.ovf` entry's text.
    pub fn descriptor(&self) -> Result<String, OvaError> {
        let entry = self
            .entries()?
            .into_iter()
            .find(|e| e.name.ends_with(".ovf"))
            .ok_or_else(|| OvaError::NotOva {
                path: self.path.display().to_string(),
                detail: "no .ovf descriptor".to_string(),
            })?;
        if entry.size > MAX_DESCRIPTOR {
            return Err(OvaError::NotOva {
                path: self.path.display().to_string(),
                detail: format!("descriptor {} is {} bytes", entry.name, entry.size),
            });
        }
        let mut file = std::fs::File::open(&self.path).map_err(io_err(&self.path))?;
        file.seek(SeekFrom::Start(entry.offset))
            .map_err(io_err(&self.path))?;
        let mut text = String::new();
        file.take(entry.size)
            .read_to_string(&mut text)
            .map_err(io_err(&self.path))?;
        Ok(text)
    }
}

/// Url: the cache file `<cache_dir>/<sha256>.ova` (when the expected sha256 is given;
/// else a name from the URL); present and matching → cached, no request. Else the body is
/// streamed to `<file>.part` (resumed with a Range request when a `.part` exists and the
/// server answers 206; restarted when it answers 200), hashed as it is written, with
/// progress; the sha256 is verified BEFORE the file is renamed into place; a mismatch
/// deletes the `.part` and is an error naming both digests. An exclusive lock on
/// `<file>.lock` keeps two runs from downloading the same file at once.
/// Path: the file is hashed (streamed) and verified when an expected sha256 is given; no
/// copy.
pub async fn fetch_ova(
    src: &OvaSource,
    expected_sha256: Option<&str>,
    cache_dir: &Path,
    validate_certs: bool,
    progress: &mut (dyn FnMut(u64, Option<u64>) + Send),
) -> Result<(Ova, FetchReport), OvaError> {
    let started = Instant::now();
    let expected = expected_sha256.map(|s| s.trim().to_ascii_lowercase());
    match src {
        OvaSource::Path(path) => {
            let (sha256, size) = hash_file(path, progress).await?;
            check(&path.display().to_string(), expected.as_deref(), &sha256)?;
            let ova = Ova {
                path: path.clone(),
                sha256,
                size,
            };
            Ok((
                ova,
                FetchReport {
                    cached: true,
                    downloaded_bytes: 0,
                    resumed_from: 0,
                    seconds: started.elapsed().as_secs_f64(),
                },
            ))
        }
        OvaSource::Url(url) => {
            download(
                url,
                expected.as_deref(),
                cache_dir,
                validate_certs,
                progress,
                started,
            )
            .await
        }
    }
}

fn check(source_name: &str, expected: Option<&str>, actual: &str) -> Result<(), OvaError> {
    match expected {
        Some(e) if e != actual => Err(OvaError::Sha256Mismatch {
            source_name: source_name.to_string(),
            expected: e.to_string(),
            actual: actual.to_string(),
        }),
        _ => Ok(()),
    }
}

/// Where [`fetch_ova`] keeps the download of `url` in `cache_dir` (whether or not it is
/// there yet).
pub fn cache_path(cache_dir: &Path, url: &str, expected_sha256: Option<&str>) -> PathBuf {
    cache_dir.join(cache_name(url, expected_sha256))
}

/// The cache file's name for `url`: `<sha256>.ova`, else the URL's last path segment
/// (made safe), else `download.ova`.
fn cache_name(url: &str, expected: Option<&str>) -> String {
    if let Some(sha) = expected {
        return format!("{sha}.ova");
    }
    let last = url
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .rsplit('/')
        .next()
        .unwrap_or("");
    let safe: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = safe.trim_start_matches('.').to_string();
    if safe.is_empty() {
        "download.ova".to_string()
    } else {
        safe
    }
}

/// Hashes a file, streamed; (hex sha256, size).
async fn hash_file(
    path: &Path,
    progress: &mut (dyn FnMut(u64, Option<u64>) + Send),
) -> Result<(String, u64), OvaError> {
    let mut file = tokio::fs::File::open(path).await.map_err(io_err(path))?;
    let total = file.metadata().await.map_err(io_err(path))?.len();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut done = 0u64;
    loop {
        let n = file.read(&mut buf).await.map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        done += n as u64;
        progress(done, Some(total));
    }
    Ok((hex(&hasher.finalize()), done))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Takes the exclusive lock on `<file>.lock` (waits for another run's download).
async fn lock(path: PathBuf) -> Result<std::fs::File, OvaError> {
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        file.lock().map_err(io_err(&path))?;
        Ok(file)
    })
    .await
    .map_err(|e| OvaError::Io {
        path: "download lock".to_string(),
        source: std::io::Error::other(e.to_string()),
    })?
}

async fn download(
    url: &str,
    expected: Option<&str>,
    cache_dir: &Path,
    validate_certs: bool,
    progress: &mut (dyn FnMut(u64, Option<u64>) + Send),
    started: Instant,
) -> Result<(Ova, FetchReport), OvaError> {
    tokio::fs::create_dir_all(cache_dir)
        .await
        .map_err(io_err(cache_dir))?;
    let name = cache_name(url, expected);
    let target = cache_dir.join(&name);
    let part = cache_dir.join(format!("{name}.part"));
    let _lock = lock(cache_dir.join(format!("{name}.lock"))).await?;
    let report = |cached, downloaded_bytes, resumed_from| FetchReport {
        cached,
        downloaded_bytes,
        resumed_from,
        seconds: started.elapsed().as_secs_f64(),
    };
    if tokio::fs::try_exists(&target).await.unwrap_or(false) {
        let (sha256, size) = hash_file(&target, progress).await?;
        if expected.is_none_or(|e| e == sha256) {
            let ova = Ova {
                path: target,
                sha256,
                size,
            };
            return Ok((ova, report(true, 0, 0)));
        }
        // A cached file that does not match (a truncated copy): fetch it again.
        tokio::fs::remove_file(&target)
            .await
            .map_err(io_err(&target))?;
    }
    let dl_err = |e: reqwest::Error| OvaError::Download {
        url: url.to_string(),
        cause: super::error::transport_cause(&e),
    };
    let http = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(30))
        .danger_accept_invalid_certs(!validate_certs)
        .build()
        .map_err(dl_err)?;
    // What an earlier, interrupted run left: hash it again (it is ours, under the lock).
    let mut hasher = Sha256::new();
    let mut have = 0u64;
    if let Ok(mut f) = tokio::fs::File::open(&part).await {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = f.read(&mut buf).await.map_err(io_err(&part))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            have += n as u64;
        }
    }
    let mut req = http.get(url);
    if have > 0 {
        req = req.header("Range", format!("bytes={have}-"));
    }
    let resp = req.send().await.map_err(dl_err)?;
    let status = resp.status().as_u16();
    let resumed_from = if status == 206 && have > 0 {
        have
    } else if status == 200 {
        0
    } else if status == 416 && have > 0 {
        // The .part is complete or longer than the file: start again.
        tokio::fs::remove_file(&part).await.map_err(io_err(&part))?;
        return Box::pin(download(
            url,
            expected,
            cache_dir,
            validate_certs,
            progress,
            started,
        ))
        .await;
    } else {
        return Err(OvaError::Http {
            url: url.to_string(),
            status,
        });
    };
    if resumed_from == 0 {
        hasher = Sha256::new();
    }
    let total = resp.content_length().map(|l| l + resumed_from);
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed_from > 0)
        .truncate(resumed_from == 0)
        .open(&part)
        .await
        .map_err(io_err(&part))?;
    let mut done = resumed_from;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(dl_err)?;
        file.write_all(&chunk).await.map_err(io_err(&part))?;
        hasher.update(&chunk);
        done += chunk.len() as u64;
        progress(done, total);
    }
    file.flush().await.map_err(io_err(&part))?;
    file.sync_all().await.map_err(io_err(&part))?;
    drop(file);
    let sha256 = hex(&hasher.finalize());
    if let Err(e) = check(url, expected, &sha256) {
        tokio::fs::remove_file(&part).await.map_err(io_err(&part))?;
        return Err(e);
    }
    tokio::fs::rename(&part, &target)
        .await
        .map_err(io_err(&target))?;
    let ova = Ova {
        path: target,
        sha256,
        size: done,
    };
    Ok((ova, report(false, done - resumed_from, resumed_from)))
}

#[cfg(test)]
mod tests {
    use super::cache_name;

    #[test]
    fn cache_names() {
        assert_eq!(cache_name("https://x/a.ova", Some("ab")), "ab.ova");
        assert_eq!(
            cache_name("https://x/p/rhcos-vmware.x86_64.ova?sig=1", None),
            "rhcos-vmware.x86_64.ova"
        );
        assert_eq!(cache_name("https://x/../", None), "download.ova");
    }
}
