//! A benchmark, not a test (`#[ignore]`; run by `bench/vsphere-import.sh`): import a test
//! OVA of 64 MiB and of 1 GiB into vcsim and print the wall time of the hash (the
//! `fetch_ova` of a local path) and of the import, and the process's peak RSS (VmHWM).
//! Run each size in its own process so each peak is its own: memory must not grow with
//! the OVA's size (every read, hash and upload is streamed in chunks).

mod vcsim;

use std::time::Instant;

use ocp_bootimage::vsphere::{fetch_ova, ImportRequest, OvaSource};
use vcsim::{default_location, make_ova, Spoil, Vcsim};

/// The process's peak resident set size in KiB (`VmHWM` of /proc/self/status).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn import_of(disk_bytes: u64) {
    let Some(sim) = Vcsim::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let (path, sha) = make_ova(dir.path(), "bench.ova", disk_bytes, 11, Spoil::None);
    let made = t0.elapsed().as_secs_f64();
    let rss_made = peak_rss_kib();
    let t1 = Instant::now();
    let (ova, _) = fetch_ova(
        &OvaSource::Path(path),
        Some(&sha),
        &dir.path().join("cache"),
        true,
        &mut |_, _| {},
    )
    .await
    .unwrap();
    let hashed = t1.elapsed().as_secs_f64();
    let s = sim.session().await;
    let req = ImportRequest {
        location: default_location(),
        name: "bench".into(),
        build: "bench".into(),
        thin: true,
    };
    let mut calls = 0u32;
    let t2 = Instant::now();
    let info = s
        .import_template(&req, &ova, &mut |_, _| calls += 1)
        .await
        .unwrap();
    let imported = t2.elapsed().as_secs_f64();
    assert!(info.is_template);
    println!(
        "BENCH ova_bytes={} make_s={made:.1} hash_s={hashed:.1} import_s={imported:.1} \
         import_MiB_per_s={:.0} progress_calls={calls} peak_rss_after_make_kib={rss_made} peak_rss_kib={}",
        ova.size,
        ova.size as f64 / 1048576.0 / imported,
        peak_rss_kib()
    );
}

#[tokio::test]
#[ignore = "benchmark: bench/vsphere-import.sh"]
async fn bench_import_64mib() {
    import_of(64 << 20).await;
}

#[tokio::test]
#[ignore = "benchmark: bench/vsphere-import.sh"]
async fn bench_import_1gib() {
    import_of(1 << 30).await;
}
