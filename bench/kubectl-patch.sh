#!/usr/bin/env bash
# The `kubectl patch` loop the write benchmark compares with (bench/bench.py, job update_real):
# one `kubectl patch machineset --type merge` per line "NAME AMI" of PATCHES, in order,
# as a person or a shell script would do it without ocp-bootimage (no record, no checks).
# Usage: kubectl-patch.sh KUBECONFIG NAMESPACE PATCHES
set -euo pipefail
kc=$1 ns=$2 patches=$3
while read -r name ami; do
    [[ -n "$name" ]] || continue
    kubectl --kubeconfig "$kc" -n "$ns" patch machineset "$name" --type merge \
        -p "{\"spec\":{\"template\":{\"spec\":{\"providerSpec\":{\"value\":{\"ami\":{\"id\":\"$ami\"}}}}}}}" >/dev/null
done <"$patches"
