#!/usr/bin/env bash
# Read less, faster (issue 17): on a REAL kube-apiserver with N MachineSets (default 1,000,
# bench/gen.py), in one run, beside the floor:
#   - one plain `curl` LIST of the MachineSets (a quorum read from etcd),
#   - the same LIST with resourceVersion=0 (resourceVersionMatch=NotOlderThan: the watch cache),
#   - the same with resourceVersion=0 and gzip (`curl --compressed`),
#   - `ocp-bootimage audit` (release build) as shipped (watch cache + gzip) and with --quorum-read.
# Times: farm-bench (median of 7 runs, each paired with the plain quorum curl LIST: the ratio
# is taken pair by pair), straight to the API server. Bytes: one run of each through
# bench/relay.py, a TCP relay in front of the API server counting the bytes each way on the
# wire (TLS records, headers and handshakes included).
#   KUBEBUILDER_ASSETS=DIR bench/read-less.sh       start a fresh server (scripts/real-apiserver.sh)
#   BENCH_KUBECONFIG=FILE bench/read-less.sh        use a running one (its admin context must
#                                                   use a client certificate, as real-apiserver.sh's)
# Needs: cargo, python3 with PyYAML, curl, farm-bench.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-1000}"
RUNS="${RUNS:-7}"
NS=openshift-machine-api
work="$PWD/target/bench/read-less"
mkdir -p "$work"
cargo build -q --release -p ocp-bootimage
bin="$PWD/target/release/ocp-bootimage"

# --- the server
cleanup=()
trap 'for c in "${cleanup[@]}"; do eval "$c"; done' EXIT
if [ -n "${BENCH_KUBECONFIG:-}" ]; then
    kc="$BENCH_KUBECONFIG"
else
    dir="$work/real-apiserver"
    scripts/real-apiserver.sh start --dir "$dir" >/dev/null 2>"$work/kas.log" ||
        { echo "could not start a real API server: see $work/kas.log" >&2; exit 1; }
    cleanup+=("scripts/real-apiserver.sh stop --dir '$dir' >/dev/null 2>&1 || true")
    kc="$dir/kubeconfig"
fi

# Credentials and the URL for curl, from the kubeconfig's current context.
python3 - "$kc" "$work" <<'PY'
import base64, sys, yaml
kc, work = sys.argv[1], sys.argv[2]
doc = yaml.safe_load(open(kc))
ctx = next(c["context"] for c in doc["contexts"] if c["name"] == doc["current-context"])
cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == ctx["cluster"])
user = next(u["user"] for u in doc["users"] if u["name"] == ctx["user"])
for key, field in [("ca", cluster.get("certificate-authority-data")),
                   ("crt", user.get("client-certificate-data")),
                   ("key", user.get("client-key-data"))]:
    if not field:
        sys.exit(f"the kubeconfig has no {key} data (needs a client certificate context)")
    open(f"{work}/{key}.pem", "wb").write(base64.b64decode(field))
open(f"{work}/server", "w").write(cluster["server"])
PY
server="$(cat "$work/server")"
hostport="${server#https://}"

# --- N MachineSets (loaded once: a server that has them already is reused as it is)
have="$(curl -sS --cacert "$work/ca.pem" --cert "$work/crt.pem" --key "$work/key.pem" \
    "$server/apis/machine.openshift.io/v1beta1/namespaces/$NS/machinesets?resourceVersion=0" |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("items") or []))')"
if [ "$have" -lt "$N" ]; then
    echo "loading $N MachineSets (and the rest of the dump) into $server ..." >&2
    rm -rf "$work/dump"
    python3 bench/gen.py "$N" "$work/dump" >/dev/null
    BENCH_DUMP="$work/dump" OCP_BOOTIMAGE_TEST_KUBECONFIG="$kc" \
        cargo test -q --test server_dry_run -- --ignored --exact bench_load_dump_into_the_real_server >/dev/null
fi

# --- the relay and a kubeconfig through it
python3 bench/relay.py "$hostport" >"$work/relay.ports" &
relay=$!
cleanup+=("kill $relay 2>/dev/null || true")
for _ in $(seq 100); do [ -s "$work/relay.ports" ] && break; sleep 0.1; done
read -r rport cport <"$work/relay.ports"
python3 - "$kc" "$work/kc-relay" "$rport" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
for c in doc["clusters"]:
    host = c["cluster"]["server"].rsplit(":", 1)[0]
    c["cluster"]["server"] = f"{host}:{sys.argv[3]}"
yaml.safe_dump(doc, open(sys.argv[2], "w"))
PY
totals() { python3 -c "import socket,sys; s=socket.create_connection(('127.0.0.1',$cport)); print(s.makefile().readline().strip())"; }

url="$server/apis/machine.openshift.io/v1beta1/namespaces/$NS/machinesets"
rurl="https://127.0.0.1:$rport/apis/machine.openshift.io/v1beta1/namespaces/$NS/machinesets"
rv0="resourceVersion=0&resourceVersionMatch=NotOlderThan"
curl_base="curl -sS -o /dev/null --cacert $work/ca.pem --cert $work/crt.pem --key $work/key.pem"
declare -A cmd=(
    [quorum]="$curl_base $url"
    [rv0]="$curl_base $url?$rv0"
    [rv0_gzip]="$curl_base --compressed $url?$rv0"
    [audit]="$bin audit -o json --kubeconfig $kc"
    [audit_quorum]="$bin audit -o json --quorum-read --kubeconfig $kc"
)
declare -A through=(
    [quorum]="$curl_base $rurl"
    [rv0]="$curl_base $rurl?$rv0"
    [rv0_gzip]="$curl_base --compressed $rurl?$rv0"
    [audit]="$bin audit -o json --kubeconfig $work/kc-relay"
    [audit_quorum]="$bin audit -o json --quorum-read --kubeconfig $work/kc-relay"
)
order=(quorum rv0 rv0_gzip audit audit_quorum)

# The audit must see all N (and agree with and without --quorum-read).
for k in audit audit_quorum; do
    ${cmd[$k]} >"$work/$k.json" 2>"$work/$k.err" || true
    python3 - "$work/$k.json" "$N" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
n = sum(1 for m in r["machinesets"] if m["name"].startswith("bench-"))
assert n == int(sys.argv[2]), f"{sys.argv[1]}: {n} bench MachineSets audited"
PY
done
cmp -s <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps(r["machinesets"], sort_keys=True))' "$work/audit.json") \
       <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps(r["machinesets"], sort_keys=True))' "$work/audit_quorum.json") ||
    { echo "the audit differs with --quorum-read" >&2; exit 1; }

version="$(curl -sS --cacert "$work/ca.pem" --cert "$work/crt.pem" --key "$work/key.pem" "$server/version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["gitVersion"])')"
echo "# read-less: N=$N MachineSets, kube-apiserver $version at $server"
echo "## bytes on the wire (one run each through bench/relay.py; down = server->client)"
printf '%-14s %12s %10s %6s\n' what down up conns
for k in "${order[@]}"; do
    read -r u0 d0 c0 < <(totals)
    ${through[$k]} >/dev/null 2>&1 || true
    sleep 0.2
    read -r u1 d1 c1 < <(totals)
    printf '%-14s %12d %10d %6d\n' "$k" $((d1 - d0)) $((u1 - u0)) $((c1 - c0))
done

echo "## wall time (farm-bench, median of $RUNS; A/B = paired ratio to the plain quorum curl LIST)"
for k in rv0 rv0_gzip audit audit_quorum; do
    echo "### A = $k, B = quorum"
    # shellcheck disable=SC2086
    farm-bench -n "$RUNS" --warmup 1 --timeout 600 --vs "${cmd[quorum]}" -- ${cmd[$k]}
done
