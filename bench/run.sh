#!/usr/bin/env bash
# Reproduces BENCHMARKS.md: builds the release binaries, prepares a venv with ansible
# (which bundles kubernetes.core) and the kubernetes client under target/bench/venv, and
# runs bench/bench.py. Needs: cargo, python3 (3.11, with PyYAML), kubectl, jq, /usr/bin/time,
# target/ansible/venv-latest (scripts/setup-ansible.sh) for the per-task overhead.
# Env: BENCH_NS (10,100,1000), BENCH_REPS (5), BENCH_SLOW_REPS (1: kubernetes.core and the
#      kubectl patch loop at N=1000), BENCH_SKIP_ANSIBLE_OVERHEAD=1,
#      BENCH_JOBS (read,write), BENCH_WRITE_REPS (3: real update + rollback, raw PATCH floor),
#      BENCH_SERVER (test | real: the write jobs against ../shared/tools/kube-apiserver).
# Output: bench/results/{results.json,results.md,time-vs-n.svg} (read jobs),
#         bench/results/results-write-<server>.{json,md} (write jobs).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p test-apiserver -p ocp-bootimage
if [[ ",${BENCH_JOBS:-read,write}," == *,read,* ]]; then
  [ -x target/ansible/venv-latest/bin/ansible-playbook ] || scripts/setup-ansible.sh
  if [ ! -x target/bench/venv/bin/ansible-playbook ]; then
    mkdir -p target/bench
    python3 -m venv target/bench/venv
    target/bench/venv/bin/pip install -q ansible kubernetes
  fi
fi
for t in kubectl jq /usr/bin/time; do command -v "$t" >/dev/null || { echo "bench: $t is missing" >&2; exit 1; }; done
exec python3 bench/bench.py
