#!/usr/bin/env bash
# The integration tests again, against a real kube-apiserver + etcd instead of the
# in-process test API server, started by scripts/real-apiserver.sh from
#  - KUBEBUILDER_ASSETS, when set: a directory with etcd, kube-apiserver and kubectl, as
#    controller-runtime's envtest lays them out (what a user who clones the project runs), or
#  - the kube-apiserver build tools of this development environment (CI has them: a read-only
#    `shared/` directory beside the clone), which build kube-apiserver v1.20 + etcd once.
# With neither it prints a SKIPPED line and exits 0, so it is harmless on a developer machine.
#
#   scripts/test-real-apiserver.sh [cargo test arguments after --, e.g. -- --nocapture]
#
# Steps: with the build tools, build kube-apiserver if it is not installed yet (their
# build.sh: root or sudo, apt, ~5 min once, <1 s afterwards) and install kubectl (Debian's
# kubernetes-client) if there is none; start the server in a temporary directory on free
# ports with this repository's CRDs (tests/fixtures/crds: the CRDs the test fixtures are
# written against); run every integration test binary that uses the test harness's
# cluster (tests/*.rs naming `TestCluster::start` or OCP_BOOTIMAGE_TEST_KUBECONFIG) with
# OCP_BOOTIMAGE_TEST_KUBECONFIG set, and the vSphere test files (`mod vcsim;`) against
# vcsim (built by the shared tools/vcsim/build.sh when present); stop the server whatever
# happens.
#
# Env: KUBEBUILDER_ASSETS        envtest's binaries (see above); wins over the build tools
#      OCP_BOOTIMAGE_SHARED      the shared directory (default: <repo>/../shared); its
#                                tools/kube-apiserver/build.sh builds the server
#      OCP_BOOTIMAGE_REAL_TESTS  space-separated test files to run (default: every one)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

say() { echo "test-real-apiserver: $*"; }

shared="${OCP_BOOTIMAGE_SHARED:-$root/../shared}"
kas="$shared/tools/kube-apiserver"
if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
    kas=""
elif [[ -x "$kas/build.sh" ]]; then
    kas="$(cd "$kas" && pwd)"
else
    echo "SKIPPED: neither KUBEBUILDER_ASSETS nor the kube-apiserver build tools (../shared/tools/kube-apiserver) — real API server tests not run"
    exit 0
fi

# vSphere: the test files that talk to vcsim (tests/*.rs declaring `mod vcsim;`) run in
# the same cargo invocation, against a vcsim built by the shared tools' build.sh (idempotent,
# ~1 min once; root or sudo). Without the tools they still run and skip visibly ("SKIP: no
# vcsim"), unless a vcsim is installed anyway.
vcsim_tools="$shared/tools/vcsim"
vsphere_tests=()
mapfile -t vsphere_tests < <(grep -l '^mod vcsim;' tests/*.rs | xargs -n1 basename | sed 's/\.rs$//')
if [[ -x "$vcsim_tools/build.sh" ]]; then
    say "building vcsim if needed ($vcsim_tools/build.sh)"
    "$vcsim_tools/build.sh"
    OCP_BOOTIMAGE_VCSIM_BIN="${VCSIM_PREFIX:-/opt/vcsim}/bin/vcsim"
    export OCP_BOOTIMAGE_VCSIM_BIN
    say "vSphere tests against vcsim ($OCP_BOOTIMAGE_VCSIM_BIN): ${vsphere_tests[*]}"
else
    say "no $vcsim_tools: the vSphere tests (${vsphere_tests[*]}) skip unless a vcsim is installed"
fi

t0=$SECONDS
work="$(mktemp -d)"
dir="$work/kube-apiserver"
stop() {
    ./scripts/real-apiserver.sh stop --dir "$dir" || say "WARNING: real-apiserver.sh stop --dir $dir failed"
    rm -rf -- "$work"
}
trap stop EXIT
trap 'exit 130' INT TERM HUP
if [[ -n "$kas" ]]; then
    say "building kube-apiserver if needed ($kas/build.sh)"
    "$kas/build.sh"
    if ! command -v kubectl >/dev/null 2>&1; then
        say "no kubectl: installing Debian's kubernetes-client (kubectl v1.20, as the server)"
        sudo=()
        [[ "$(id -u)" == 0 ]] || sudo=(sudo)
        apt_install() {
            "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -q --no-install-recommends kubernetes-client >/dev/null
        }
        apt_install || { "${sudo[@]}" apt-get update -qq && apt_install; }
    fi
    # The built binaries, laid out as envtest's KUBEBUILDER_ASSETS.
    KUBEBUILDER_ASSETS="$work/assets"
    mkdir -p "$KUBEBUILDER_ASSETS"
    ln -s "${KUBE_APISERVER_PREFIX:-/opt/kube-apiserver}/bin/etcd" \
        "${KUBE_APISERVER_PREFIX:-/opt/kube-apiserver}/bin/kube-apiserver" \
        "$(command -v kubectl)" "$KUBEBUILDER_ASSETS/"
    export KUBEBUILDER_ASSETS
fi
t_build=$((SECONDS - t0))

# Test binaries that talk to a cluster through tests/common (the others would only
# repeat what scripts/test.sh just ran).
mapfile -t cluster_tests < <(grep -l -e 'TestCluster::start' -e 'OCP_BOOTIMAGE_TEST_KUBECONFIG' tests/*.rs |
    xargs -n1 basename | sed 's/\.rs$//')
((${#cluster_tests[@]})) || { say "ERROR: no integration test uses TestCluster"; exit 1; }
# OCP_BOOTIMAGE_REAL_TESTS="rbac last_run": only these (a developer rerunning one file).
if [[ -n "${OCP_BOOTIMAGE_REAL_TESTS:-}" ]]; then
    read -r -a cluster_tests <<< "$OCP_BOOTIMAGE_REAL_TESTS"
else
    cluster_tests+=("${vsphere_tests[@]}")
fi

OCP_BOOTIMAGE_ANSIBLE_VENVS="$(./scripts/setup-ansible.sh --print-venvs)"
export OCP_BOOTIMAGE_ANSIBLE_VENVS

log="$root/target/test-real-apiserver.log"

t1=$SECONDS
./scripts/real-apiserver.sh start --dir "$dir" >/dev/null
export OCP_BOOTIMAGE_TEST_KUBECONFIG="$dir/kubeconfig"
say "kube-apiserver $("$KUBEBUILDER_ASSETS/kube-apiserver" --version 2>/dev/null | sed 's/^Kubernetes //') at $(sed -n 's/^ *server: //p' "$dir/kubeconfig" | head -n 1)"
say "running ${#cluster_tests[@]} test binaries against it: ${cluster_tests[*]}"

test_args=()
for t in "${cluster_tests[@]}"; do test_args+=(--test "$t"); done
mkdir -p target
set +e
cargo test --workspace --locked --no-fail-fast "${test_args[@]}" "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e

# The runner's summary: one line per test binary, then the totals.
echo
say "summary (real kube-apiserver; full output in ${log#"$root/"}):"
awk '
    /^ *Running / { bin = $2 }
    /^test result:/ {
        printf "  %-28s %s\n", bin, $0
        for (i = 1; i <= NF; i++) {
            if ($(i) ~ /^passed;?$/) p += $(i - 1)
            if ($(i) ~ /^failed;?$/) f += $(i - 1)
            if ($(i) ~ /^ignored;?$/) ig += $(i - 1)
        }
    }
    END { printf "  total: %d passed, %d failed, %d ignored\n", p, f, ig }
' "$log"
say "(passed includes tests that return early on a real server: those that need the in-process"
say " server's fault or 403 injection, request log or simulated machine lifecycle, and tests"
say " that use no cluster at all)"
say "build/setup ${t_build}s, server start + tests $((SECONDS - t1))s"
exit "$rc"
