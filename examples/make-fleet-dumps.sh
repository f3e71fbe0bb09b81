#!/usr/bin/env bash
# Writes examples/fleet/cluster-dump-updated: the shipped dump (examples/cluster-dump) as it
# is after the update procedure, made by this tool itself. It loads the shipped dump into the
# test API server, runs the real steps on it (stub_ignition: the worker stub 2.2.0 → 3.x;
# machineset_bootimage: each MachineSet to the stream's image), then writes the changed
# objects back over a copy of the dump: the MachineSets and the worker stub secret as the
# server stored them. With the shipped dump it makes a fleet of two for the quick start:
#   ocp-bootimage audit --dump-dir examples/cluster-dump --dump-dir examples/fleet/cluster-dump-updated
# Needs: cargo, curl, python3. Run from anywhere; it rewrites only examples/fleet/.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p test-apiserver -p ocp-bootimage
bin=target/release
out=examples/fleet/cluster-dump-updated
tmp=$(mktemp -d)
trap 'kill "$srv" 2>/dev/null || true; rm -rf "$tmp"' EXIT
"$bin/test-apiserver" --load examples/cluster-dump --kubeconfig-out "$tmp/kc" >"$tmp/url" 2>/dev/null &
srv=$!
for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.1; done
url=$(head -1 "$tmp/url")
args() { printf '{"kubeconfig": "%s", "record_path": "%s/record.json"}' "$tmp/kc" "$tmp"; }
"$bin/ocp-bootimage" stub_ignition --args "$(args)" >/dev/null
"$bin/ocp-bootimage" machineset_bootimage --args "$(args)" >/dev/null
rm -rf "$out"
mkdir -p examples/fleet
cp -r examples/cluster-dump "$out"
rm "$out/README.md"
ns=namespaces/openshift-machine-api
curl -fsS "$url/apis/machine.openshift.io/v1beta1/namespaces/openshift-machine-api/machinesets" \
    >"$tmp/machinesets.json"
curl -fsS "$url/api/v1/namespaces/openshift-machine-api/secrets/worker-user-data" >"$tmp/stub.json"
python3 - "$tmp" "$out/$ns" <<'PY'
import json, sys
tmp, ns = sys.argv[1], sys.argv[2]
def clean(o):
    o["metadata"] = {k: v for k, v in o["metadata"].items()
                     if k not in ("managedFields", "resourceVersion", "uid", "generation")}
    return o
ms = json.load(open(f"{tmp}/machinesets.json"))
ms = {"apiVersion": "v1", "kind": "List", "items": [clean(
    {"apiVersion": "machine.openshift.io/v1beta1", "kind": "MachineSet", **i}) for i in ms["items"]]}
import os
os.remove(f"{ns}/machine.openshift.io/machinesets.yaml")
json.dump(ms, open(f"{ns}/machine.openshift.io/machinesets.json", "w"), indent=2)
stub = clean(json.load(open(f"{tmp}/stub.json")))
os.remove(f"{ns}/core/secrets/worker-user-data.yaml")
json.dump(stub, open(f"{ns}/core/secrets/worker-user-data.json", "w"), indent=2)
PY
echo "wrote $out"
