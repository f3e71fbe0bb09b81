#!/usr/bin/env bash
# The fleet audit benchmark (BENCHMARKS.md, "Fleet audit"): builds the release binaries
# and runs bench/fleet.py (100 test API servers x 50 MachineSets by default; its options
# pass through, e.g. `bench/fleet.sh --clusters 20 --latency 0`). Needs python3 with
# PyYAML (bench/gen.py). About 3 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p test-apiserver -p ocp-bootimage
python3 -c 'import yaml' 2>/dev/null || { echo "bench: python3 needs PyYAML (pip install pyyaml)" >&2; exit 1; }
# 100 servers and a fleet run of 100 kubeconfigs: raise the open-file limit where allowed.
ulimit -n 8192 2>/dev/null || true
exec python3 bench/fleet.py "$@"
