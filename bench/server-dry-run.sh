#!/usr/bin/env bash
# The cost of check mode through the server (`server_dry_run`) at N MachineSets, every one
# of which the swap changes (N AWS x86_64 MachineSets from bench/gen.py):
# `machineset_bootimage --check` with `server_dry_run` true (N dry-run PATCHes, 16 in
# flight) against false (reads only), timed side by side with farm-bench (median of 5,
# paired A/B), plus the requests of one run of each.
#   bench/server-dry-run.sh            # N=1000 on test-apiserver (release build)
#   BENCH_KUBE_APISERVER=1 KUBEBUILDER_ASSETS=DIR bench/server-dry-run.sh
#       also on a real kube-apiserver, started for this run by scripts/real-apiserver.sh
#       (KUBEBUILDER_ASSETS or kind), loaded by tests/server_dry_run.rs's ignored loader, stopped
# Needs: cargo, python3 with PyYAML, farm-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-1000}"
work="target/bench/server-dry-run"
rm -rf "$work" && mkdir -p "$work"
cargo build -q --release -p ocp-bootimage -p test-apiserver
bin="$PWD/target/release/ocp-bootimage"
python3 bench/gen.py "$N" "$work/dump" aws >/dev/null

time_pair() { # $1 = label, $2 = kubeconfig, $3 = namespace (one run of each first, then the timing)
    local a b
    a="$(printf '{"kubeconfig": "%s", "namespace": "%s", "record_path": "%s/rec.json"}' "$2" "$3" "$PWD/$work")"
    b="$(printf '{"kubeconfig": "%s", "namespace": "%s", "record_path": "%s/rec.json", "server_dry_run": false}' "$2" "$3" "$PWD/$work")"
    for args in "$a" "$b"; do
        "$bin" machineset_bootimage --check --args "$args" >"$work/out.json" 2>/dev/null || true
        python3 - "$work/out.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
d = r.get("server_dry_run")
print(f"  one run: failed={r['failed']} changed={r['changed']} server_dry_run={json.dumps({k: (len(v) if isinstance(v, list) else v) for k, v in d.items()}) if d else None}")
PY
    done
    echo "$1: A = server_dry_run true, B = false (reads only)"
    farm-bench -n 5 --warmup 1 --timeout 600 \
        --vs "$bin machineset_bootimage --check --args '$b'" \
        -- "$bin" machineset_bootimage --check --args "$a"
}

# --- test-apiserver
target/release/test-apiserver --load "$work/dump" >"$work/url" 2>/dev/null &
srv=$!
trap 'kill $srv 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$work/url" ] && break; sleep 0.1; done
url="$(head -1 "$work/url")"
cat >"$work/kc" <<KC
apiVersion: v1
kind: Config
clusters: [{name: t, cluster: {server: "$url"}}]
users: [{name: t, user: {token: test-token}}]
contexts: [{name: t, context: {cluster: t, user: t}}]
current-context: t
KC
time_pair "test-apiserver, N=$N" "$PWD/$work/kc" openshift-machine-api

# --- a real kube-apiserver (a fresh one for this run)
if [ -n "${BENCH_KUBE_APISERVER:-}" ]; then
    dir="$PWD/$work/real-apiserver"
    scripts/real-apiserver.sh start --dir "$dir" >/dev/null 2>"$work/kas.log" ||
        { echo "could not start a real API server: see $work/kas.log" >&2; exit 1; }
    trap 'kill $srv 2>/dev/null || true; scripts/real-apiserver.sh stop --dir "$dir" >/dev/null 2>&1 || true' EXIT
    BENCH_DUMP="$PWD/$work/dump" OCP_BOOTIMAGE_TEST_KUBECONFIG="$dir/kubeconfig" \
        cargo test -q --test server_dry_run -- --ignored --exact bench_load_dump_into_the_real_server >/dev/null
    time_pair "real kube-apiserver, N=$N" "$dir/kubeconfig" openshift-machine-api
fi
