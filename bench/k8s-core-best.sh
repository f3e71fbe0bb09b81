#!/usr/bin/env bash
# ocp-bootimage vs kubernetes.core on a real kube-apiserver: the best playbook an experienced
# user writes (bench/k8s-core-best.yml: reads with the k8s lookup, one Jinja expression for
# the facts, one k8s run for every patch; bench/k8s-core-best-info.yml: the same with one
# k8s_info per kind) and the naive one (bench/k8s-core.yml: per-item set_fact loop, one k8s
# run per MachineSet), audit and check-mode update, N = 10, 100, 1000.
# Checks first that the best playbooks compute the naive one's facts and, in --check, report
# the MachineSets ours plans as changed. See bench/k8s_core_best.py and BENCHMARKS.md.
#   KUBEBUILDER_ASSETS=DIR bench/k8s-core-best.sh     # DIR: etcd, kube-apiserver, kubectl
# Env: BENCH_NS (10,100,1000), BENCH_REPS (3), BENCH_NAIVE_SLOW_REPS (1), BENCH_NAIVE_MAX_N (1000).
# Needs: cargo, python3 with PyYAML, openssl, /usr/bin/time; creates target/bench/venv
# (pip install ansible kubernetes) when missing, as bench/run.sh does.
# Output: bench/results/k8s-core-best-real.{json,md}. About 25 minutes, most of it the
# naive playbook at N=1000.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${KUBEBUILDER_ASSETS:?set KUBEBUILDER_ASSETS to a directory with etcd, kube-apiserver and kubectl}"
export KUBEBUILDER_ASSETS
cargo build -q --release -p ocp-bootimage
cargo test -q --no-run -p ocp-bootimage --test server_dry_run 2>/dev/null
if [ ! -x target/bench/venv/bin/ansible-playbook ]; then
    mkdir -p target/bench
    python3 -m venv target/bench/venv
    target/bench/venv/bin/pip install -q ansible kubernetes
fi
exec python3 bench/k8s_core_best.py
