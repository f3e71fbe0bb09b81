#!/usr/bin/env bash
# A real Kubernetes API server for the integration tests (and for trying the modules), started
# from binaries you supply or with kind, with this repository's CRDs (tests/fixtures/crds)
# loaded and the OpenShift namespaces the fixtures live in created.
#
#   scripts/real-apiserver.sh start [--dir DIR]          start it, print the kubeconfig, leave it running
#   scripts/real-apiserver.sh stop  [--dir DIR]          stop what `start` started in DIR
#   scripts/real-apiserver.sh run   [--dir DIR] -- CMD…  start, run CMD with
#                                                        OCP_BOOTIMAGE_TEST_KUBECONFIG set, stop
#                                                        (also when CMD fails or on Ctrl-C; a
#                                                        server `start` left running is reused
#                                                        and left running); exits with CMD's status
#
# Where the server comes from, first match wins:
#   KUBEBUILDER_ASSETS  a directory holding `etcd`, `kube-apiserver` and (optionally) `kubectl`,
#                       laid out as controller-runtime's envtest does (e.g. the directory that
#                       `setup-envtest use -p path 1.30.x` prints). etcd and kube-apiserver run
#                       as this user on free 127.0.0.1 ports, with certificates, keys and the
#                       service-account key pair generated here with openssl. Needs: openssl,
#                       kubectl (from the assets or PATH).
#   kind                a `kind` on PATH (and a container runtime it can use): a throw-away
#                       cluster `ocp-bootimage-<random>`, deleted by `stop`.
# With neither, it says so and exits 2.
#
# The kubeconfig (DIR/kubeconfig) has two contexts: `admin` (current; cluster-admin) and
# `limited` (a user without any RBAC grant: tests/audit_api.rs checks the 403 with it).
# DIR defaults to <repo>/target/real-apiserver; logs are DIR/*.log.
#
# Env: OCP_BOOTIMAGE_REAL_APISERVER_DIR  the default for --dir
#      KUBE_READY_TIMEOUT                seconds to wait for readiness (default 120)
#      KIND_NODE_IMAGE                   `kind create cluster --image` (default: kind's own)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
crd_dir="$repo/tests/fixtures/crds"
namespaces=(openshift-machine-api openshift-machine-config-operator openshift-config)
ready_timeout="${KUBE_READY_TIMEOUT:-120}"
marker=".ocp-bootimage-real-apiserver"

say() { echo "real-apiserver: $*" >&2; }
die() {
    say "error: $*"
    exit 2
}
usage() { sed -n '2,31p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

# ---------------------------------------------------------------- arguments
mode="${1:-}"
[ $# -gt 0 ] && shift
dir="${OCP_BOOTIMAGE_REAL_APISERVER_DIR:-$repo/target/real-apiserver}"
cmd=()
assets=""
etcd_port=""
peer_port=""
api_port=""
extra=()
started=""
kubectl=""
while [ $# -gt 0 ]; do
    case "$1" in
    --dir) dir="${2:?--dir needs a directory}"; shift 2 ;;
    --dir=*) dir="${1#*=}"; shift ;;
    --) shift; cmd=("$@"); break ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
    esac
done
case "$mode" in
start | stop) [ ${#cmd[@]} -eq 0 ] || die "$mode takes no command" ;;
run) [ ${#cmd[@]} -gt 0 ] || die "run needs a command after --" ;;
-h | --help) usage; exit 0 ;;
*) usage >&2; die "the first argument is start, stop or run, not '${mode}'" ;;
esac
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
[ "$dir" != / ] || die "refusing to use / as the state directory"

# ---------------------------------------------------------------- helpers
kubectl_bin() { # the kubectl to use: the assets' one, else PATH's
    if [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/kubectl" ]; then
        echo "$KUBEBUILDER_ASSETS/kubectl"
    else
        command -v kubectl || true
    fi
}
kc() { "$kubectl" --kubeconfig "$dir/kubeconfig" --context admin "$@"; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
etcd_healthy() { # etcd's own /health on $etcd_port (not just anything listening there)
    (
        exec 3<>"/dev/tcp/127.0.0.1/$etcd_port" || exit 1
        printf 'GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
        timeout 5 cat <&3
    ) 2>/dev/null | grep -q '"health": *"true"'
}
free_port() { # a port nothing listens on, below Linux's ephemeral range (32768-60999)
    local p
    for _ in $(seq 1 200); do
        p=$((10000 + (RANDOM * 32768 + RANDOM) % 22000))
        port_in_use "$p" || { echo "$p"; return 0; }
    done
    die "found no free port on 127.0.0.1"
}

pid_is_ours() { # $1 pid, $2 binary name: alive, that binary, and started with our DIR
    local pid="$1" name="$2" cmdline
    [[ "$pid" =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ] || return 1
    grep -q '^State:[[:space:]]*[^ZX]' "/proc/$pid/status" 2>/dev/null || return 1
    cmdline="$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null || true)"
    [ "$(basename -- "${cmdline%% *}")" = "$name" ] && [[ "$cmdline" == *"$dir/"* ]]
}

started_as() { # $1 pid file, $2 binary name: wait until the background child has exec'd it
    local pid
    pid="$(cat "$1")"
    for _ in $(seq 1 50); do
        pid_is_ours "$pid" "$2" && return 0
        [ -r "/proc/$pid/status" ] || return 0
        sleep 0.1
    done
}

stop_pid() { # $1 pid file, $2 binary name: TERM, then KILL after 20 s
    local pid
    [ -f "$1" ] || return 0
    pid="$(cat "$1")"
    pid_is_ours "$pid" "$2" || return 0
    say "stopping $2 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        pid_is_ours "$pid" "$2" || return 0
        sleep 0.2
    done
    say "$2 (pid $pid) still runs after 20 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}

do_stop() {
    [ -e "$dir" ] || return 0
    [ -f "$dir/$marker" ] || die "$dir was not made by this script (no $marker); not touching it"
    if [ -f "$dir/kind-cluster" ]; then
        local name
        name="$(cat "$dir/kind-cluster")"
        say "deleting the kind cluster $name"
        kind delete cluster --name "$name" >&2 || say "warning: kind delete cluster --name $name failed"
    fi
    stop_pid "$dir/kube-apiserver.pid" kube-apiserver
    stop_pid "$dir/etcd.pid" etcd
    if pid_is_ours "$(cat "$dir/kube-apiserver.pid" 2>/dev/null)" kube-apiserver ||
        pid_is_ours "$(cat "$dir/etcd.pid" 2>/dev/null)" etcd; then
        die "a process of $dir still runs; keeping $dir"
    fi
    rm -rf -- "$dir"
    say "stopped; removed $dir"
}

# ---------------------------------------------------------------- certificates
make_pki() { # CA, serving certificate, admin and limited client certificates, SA key pair
    mkdir -p "$dir/pki"
    (
        cd "$dir/pki"
        exec 2>openssl.log
        openssl req -x509 -newkey rsa:2048 -nodes -days 365 -keyout ca.key -out ca.crt \
            -subj "/CN=ocp-bootimage-test-ca" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"
        issue() { # name subject extension-lines
            openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2"
            printf '%s\n' "basicConstraints=critical,CA:FALSE" \
                "keyUsage=critical,digitalSignature,keyEncipherment" "$3" >"$1.ext"
            openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 \
                -out "$1.crt" -extfile "$1.ext"
        }
        issue apiserver "/CN=kube-apiserver" "$(printf '%s\n' 'extendedKeyUsage=serverAuth' \
            'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc')"
        issue admin "/O=system:masters/CN=admin" "extendedKeyUsage=clientAuth"
        issue limited "/CN=limited" "extendedKeyUsage=clientAuth"
        openssl genrsa -out sa.key 2048
        openssl rsa -in sa.key -pubout -out sa.pub
        rm -f ./*.csr ./*.ext ca.srl
        chmod 600 ./*.key
    ) || die "openssl failed (log: $dir/pki/openssl.log)"
}

write_kubeconfig() { # $1 server URL
    local b64ca b64
    b64() { base64 -w0 <"$1"; }
    b64ca="$(b64 "$dir/pki/ca.crt")"
    cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: ocp-bootimage-test
  cluster:
    server: $1
    certificate-authority-data: $b64ca
users:
- name: admin
  user:
    client-certificate-data: $(b64 "$dir/pki/admin.crt")
    client-key-data: $(b64 "$dir/pki/admin.key")
- name: limited
  user:
    client-certificate-data: $(b64 "$dir/pki/limited.crt")
    client-key-data: $(b64 "$dir/pki/limited.key")
contexts:
- name: admin
  context: {cluster: ocp-bootimage-test, user: admin}
- name: limited
  context: {cluster: ocp-bootimage-test, user: limited}
current-context: admin
EOF
    chmod 600 "$dir/kubeconfig"
}

# ---------------------------------------------------------------- the backends
start_assets() {
    assets="$KUBEBUILDER_ASSETS"
    local minor
    for b in etcd kube-apiserver; do
        [ -x "$assets/$b" ] || die "KUBEBUILDER_ASSETS=$assets has no executable $b (envtest's layout: etcd, kube-apiserver, kubectl)"
    done
    command -v openssl >/dev/null || die "openssl is needed to make the certificates (Debian: apt-get install openssl)"
    say "using KUBEBUILDER_ASSETS=$assets: $("$assets/kube-apiserver" --version), etcd $("$assets/etcd" --version | sed -n 's/^etcd Version: //p')"
    make_pki
    # A port found free can be taken before the server binds it: up to three tries each.
    local try
    for try in 1 2 3; do
        start_etcd && break
        grep -q 'address already in use' "$dir/etcd.log" && [ "$try" -lt 3 ] || die "etcd exited"
        say "etcd's port was taken meanwhile: again on other ports"
    done
    # kube-apiserver up to 1.23 also serves an unauthenticated port 8080 unless told not to
    # (the flag is gone in 1.24).
    minor="$("$assets/kube-apiserver" --version | sed -n 's/^Kubernetes v1\.\([0-9]*\).*/\1/p')"
    if [ -n "$minor" ] && [ "$minor" -lt 24 ]; then extra+=(--insecure-port=0); fi
    for try in 1 2 3; do
        start_kube_apiserver && break
        grep -q 'address already in use' "$dir/kube-apiserver.log" && [ "$try" -lt 3 ] || die "kube-apiserver exited"
        say "kube-apiserver's port was taken meanwhile: again on another port"
    done
}

start_etcd() { # on free ports; returns 1 when etcd exits
    etcd_port="$(free_port)" && peer_port="$(free_port)" || die "found no free port on 127.0.0.1"
    while [ "$peer_port" = "$etcd_port" ]; do peer_port="$(free_port)"; done
    say "starting etcd on 127.0.0.1:$etcd_port"
    rm -rf "$dir/etcd-data"
    setsid "$assets/etcd" --name ocp-bootimage-test --data-dir "$dir/etcd-data" \
        --listen-client-urls "http://127.0.0.1:$etcd_port" \
        --advertise-client-urls "http://127.0.0.1:$etcd_port" \
        --listen-peer-urls "http://127.0.0.1:$peer_port" \
        --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
        --initial-cluster "ocp-bootimage-test=http://127.0.0.1:$peer_port" \
        </dev/null >"$dir/etcd.log" 2>&1 &
    echo $! >"$dir/etcd.pid"
    started_as "$dir/etcd.pid" etcd
    for _ in $(seq 1 60); do
        sleep 0.5
        pid_is_ours "$(cat "$dir/etcd.pid")" etcd || return 1
        etcd_healthy && return 0
    done
    die "etcd is not healthy after 30 s"
}

start_kube_apiserver() { # on a free port; returns 1 when it exits before it is ready
    api_port="$(free_port)" || die "found no free port on 127.0.0.1"
    while [ "$api_port" = "$etcd_port" ] || [ "$api_port" = "$peer_port" ]; do api_port="$(free_port)"; done
    say "starting kube-apiserver on https://127.0.0.1:$api_port"
    setsid "$assets/kube-apiserver" \
        --advertise-address=127.0.0.1 --bind-address=127.0.0.1 --secure-port="$api_port" \
        --etcd-servers="http://127.0.0.1:$etcd_port" \
        --cert-dir="$dir/pki" --tls-cert-file="$dir/pki/apiserver.crt" \
        --tls-private-key-file="$dir/pki/apiserver.key" --client-ca-file="$dir/pki/ca.crt" \
        --authorization-mode=RBAC --anonymous-auth=false \
        --service-account-key-file="$dir/pki/sa.pub" \
        --service-account-signing-key-file="$dir/pki/sa.key" \
        --service-account-issuer=https://kubernetes.default.svc \
        --service-cluster-ip-range=10.0.0.0/24 --endpoint-reconciler-type=none \
        "${extra[@]}" </dev/null >"$dir/kube-apiserver.log" 2>&1 &
    echo $! >"$dir/kube-apiserver.pid"
    started_as "$dir/kube-apiserver.pid" kube-apiserver
    write_kubeconfig "https://127.0.0.1:$api_port"

    say "waiting up to ${ready_timeout}s for /readyz"
    local deadline=$((SECONDS + ready_timeout))
    until [ "$(kc get --raw /readyz 2>/dev/null || true)" = ok ]; do
        pid_is_ours "$(cat "$dir/kube-apiserver.pid")" kube-apiserver || return 1
        pid_is_ours "$(cat "$dir/etcd.pid")" etcd || die "etcd exited"
        [ "$SECONDS" -lt "$deadline" ] || die "kube-apiserver not ready after ${ready_timeout}s"
        sleep 1
    done
}

start_kind() {
    local name="ocp-bootimage-$RANDOM$RANDOM" image=() token server
    [ -z "${KIND_NODE_IMAGE:-}" ] || image=(--image "$KIND_NODE_IMAGE")
    echo "$name" >"$dir/kind-cluster"
    say "creating the kind cluster $name"
    kind create cluster --name "$name" "${image[@]}" --kubeconfig "$dir/kubeconfig" \
        --wait "${ready_timeout}s" >&2 || die "kind create cluster failed"
    chmod 600 "$dir/kubeconfig"
    "$kubectl" --kubeconfig "$dir/kubeconfig" config rename-context "kind-$name" admin >/dev/null
    "$kubectl" --kubeconfig "$dir/kubeconfig" config use-context admin >/dev/null
    # `limited`: a ServiceAccount's token, with no RBAC grant.
    kc -n default create serviceaccount limited >/dev/null
    token="$(kc -n default create token limited --duration=24h)" ||
        die "kubectl create token failed (kind's Kubernetes and kubectl must be >= 1.24)"
    server="$(kc config view --minify -o jsonpath='{.clusters[0].name}')"
    "$kubectl" --kubeconfig "$dir/kubeconfig" config set-credentials limited --token="$token" >/dev/null
    "$kubectl" --kubeconfig "$dir/kubeconfig" config set-context limited --cluster="$server" --user=limited >/dev/null
}

apply_crds() {
    local files
    files="$(find "$crd_dir" -maxdepth 1 -type f \( -name '*.yaml' -o -name '*.yml' \) | wc -l)"
    say "applying $files CRDs from ${crd_dir#"$repo/"}"
    if ! kc apply --server-side --force-conflicts -f "$crd_dir" >"$dir/crd-apply.log" 2>&1; then
        # A server older than the CRDs (e.g. 1.20, before x-kubernetes-validations) refuses
        # fields it does not know in a server-side apply; a plain create or replace without
        # kubectl's schema check stores the CRD without them (what the server would keep anyway).
        say "this server refuses fields of the CRDs it does not know ($(grep -o 'x-kubernetes-[a-z-]*' "$dir/crd-apply.log" | sort -u | tr '\n' ' ')): creating them without those"
        local f
        for f in "$crd_dir"/*.yaml; do
            if kc get -f "$f" >/dev/null 2>&1; then
                kc replace --validate=false -f "$f" >>"$dir/crd-apply.log" 2>&1
            else
                kc create --validate=false -f "$f" >>"$dir/crd-apply.log" 2>&1
            fi || die "applying $f failed: $(tail -n 5 "$dir/crd-apply.log")"
        done
    fi
    local names
    names="$(kc get -f "$crd_dir" -o name)" || die "listing the CRDs failed"
    # shellcheck disable=SC2086
    kc wait --for condition=established --timeout=60s $names >/dev/null ||
        die "the CRDs did not become established"
    for ns in "${namespaces[@]}"; do
        kc get namespace "$ns" >/dev/null 2>&1 || kc create namespace "$ns" >/dev/null
    done
    say "CRDs established; namespaces ${namespaces[*]}"
}

start_failed() { # show the logs (the directory goes), stop what the start started
    local f
    for f in etcd.log kube-apiserver.log crd-apply.log; do
        [ -s "$dir/$f" ] || continue
        echo "----- last lines of $f -----" >&2
        tail -n 15 "$dir/$f" >&2
    done
    say "start failed: stopping what it started"
    do_stop || true
}

do_start() {
    if [ -e "$dir" ]; then
        if [ -f "$dir/$marker" ] && [ -f "$dir/kubeconfig" ] && kubectl_ok &&
            [ "$(kc get --raw /readyz 2>/dev/null || true)" = ok ]; then
            say "already running in $dir (stop it with: $0 stop --dir $dir)"
            started=""
            return 0
        fi
        [ -f "$dir/$marker" ] || die "$dir exists and was not made by this script; choose another --dir"
        say "$dir holds a stopped server: cleaning it up"
        do_stop
    fi
    local backend
    if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
        backend=assets
    elif command -v kind >/dev/null 2>&1; then
        backend=kind
    else
        die "no API server to start: set KUBEBUILDER_ASSETS to a directory with etcd, kube-apiserver and kubectl (e.g. from controller-runtime's setup-envtest: \`go install sigs.k8s.io/controller-runtime/tools/setup-envtest@latest && export KUBEBUILDER_ASSETS=\$(setup-envtest use -p path 1.30.x)\`), or install kind (https://kind.sigs.k8s.io)"
    fi
    kubectl_ok || die "kubectl is needed (in KUBEBUILDER_ASSETS or on PATH)"
    mkdir -p "$dir"
    chmod 700 "$dir"
    touch "$dir/$marker"
    trap 'rc=$?; if [ "$rc" != 0 ]; then start_failed; fi' EXIT
    case "$backend" in
    assets) start_assets ;;
    kind) start_kind ;;
    esac
    apply_crds
    trap - EXIT
    started=1
    say "ready: $(kc config view --minify -o jsonpath='{.clusters[0].cluster.server}') (state and logs in $dir; stop with: $0 stop --dir $dir)"
}

kubectl_ok() {
    kubectl="$(kubectl_bin)"
    [ -n "$kubectl" ]
}

case "$mode" in
start)
    do_start
    echo "export KUBECONFIG=$dir/kubeconfig OCP_BOOTIMAGE_TEST_KUBECONFIG=$dir/kubeconfig"
    ;;
stop)
    kubectl_ok || true
    do_stop
    ;;
run)
    do_start
    [ -z "$started" ] || trap 'do_stop' EXIT
    trap 'exit 130' INT TERM HUP
    set +e
    OCP_BOOTIMAGE_TEST_KUBECONFIG="$dir/kubeconfig" "${cmd[@]}"
    rc=$?
    set -e
    exit "$rc"
    ;;
esac
