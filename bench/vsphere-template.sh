#!/usr/bin/env bash
# Time and peak memory of the whole `vsphere_template` run (the release binary, as the CLI
# runs it): download a test OVA from an in-process HTTP server into an empty cache, check
# its sha256, import it into vcsim. 64 MiB and 1 GiB, each in its own run; memory must not
# grow with the OVA. Needs vcsim (OCP_BOOTIMAGE_VCSIM_BIN, /opt/vcsim/bin/vcsim or on PATH)
# and /usr/bin/time.
#   bench/vsphere-template.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release
export OCP_BOOTIMAGE_BENCH_BIN="$PWD/target/release/ocp-bootimage"
cargo test -q --test vsphere_template --no-run >/dev/null 2>&1
for mib in 64 1024; do
    OCP_BOOTIMAGE_BENCH_OVA_MIB=$mib cargo test -q --test vsphere_template -- --ignored --exact bench_module_import --nocapture 2>&1 | grep -E '^BENCH|SKIP' || true
done
