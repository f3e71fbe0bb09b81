#!/usr/bin/env bash
# Time and peak memory of importing a test OVA into vcsim (tests/vsphere_bench.rs, two
# #[ignore] tests, each in its own process so each VmHWM is its own): 64 MiB and 1 GiB.
# Memory must not grow with the OVA's size. Needs vcsim (OCP_BOOTIMAGE_VCSIM_BIN,
# /opt/vcsim/bin/vcsim or vcsim on PATH); debug build, like the tests.
#   bench/vsphere-import.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test -q --test vsphere_bench --no-run >/dev/null 2>&1
for t in bench_import_64mib bench_import_1gib; do
    cargo test -q --test vsphere_bench -- --ignored --exact "$t" --nocapture 2>&1 | grep -E '^BENCH|SKIP' || true
done
