#!/usr/bin/env bash
# Installs ansible-core from PyPI into two virtualenvs under target/ansible/ (nothing
# system-wide), for the end-to-end tests (tests/ansible_e2e.rs) and for trying the
# collection by hand:
#
#   target/ansible/venv-2.16    ansible-core >=2.16,<2.17  (the oldest version users run)
#   target/ansible/venv-latest  ansible-core               (the newest this Python supports)
#                               + ansible-lint and antsibull-changelog, pinned below, for
#                               `scripts/build-collection.sh --lint` and the changelog
#
# Idempotent: a venv that already holds a working ansible-core of the right version is
# kept. Prints the versions, and with --print-venvs prints (on stdout, alone) the
# colon-separated venv list that OCP_BOOTIMAGE_ANSIBLE_VENVS takes:
#
#   export OCP_BOOTIMAGE_ANSIBLE_VENVS="$(scripts/setup-ansible.sh --print-venvs)"
#
# Options:
#   --print-venvs   print the venv list on stdout (progress goes to stderr anyway)
#   --upgrade       re-resolve venv-latest to the newest ansible-core even if it works
#   --dir DIR       where the venvs go (default: target/ansible; env OCP_BOOTIMAGE_ANSIBLE_DIR)
# Env: PYTHON (default python3; needs the venv module), pip's own PIP_* settings.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${OCP_BOOTIMAGE_ANSIBLE_DIR:-$root/target/ansible}"
python="${PYTHON:-python3}"
print_venvs=0
upgrade=0

while [ $# -gt 0 ]; do
    case "$1" in
        --print-venvs) print_venvs=1 ;;
        --upgrade) upgrade=1 ;;
        --dir) dest="$2"; shift ;;
        --dir=*) dest="${1#--dir=}" ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "setup-ansible.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

log() { echo "setup-ansible: $*" >&2; }
die() { echo "setup-ansible: ERROR: $*" >&2; exit 1; }

command -v "$python" >/dev/null 2>&1 || die "'$python' not found: install Python 3 (3.10+ for ansible-core 2.16, 3.11+ for 2.19) or set PYTHON"
"$python" -c 'import venv, ensurepip' 2>/dev/null \
    || die "'$python' has no working venv/ensurepip module (Debian: apt-get install python3-venv)"
pyver="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"

mkdir -p "$dest" || die "cannot create $dest"
dest="$(cd "$dest" && pwd)"

# Two test runs may set up at the same time: one at a time.
exec 9>"$dest/.setup.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi

# The ansible-core version a venv holds ("" when none works).
core_version() {
    local venv="$1"
    [ -x "$venv/bin/python" ] && [ -x "$venv/bin/ansible-playbook" ] || return 0
    "$venv/bin/python" - <<'EOF' 2>/dev/null || true
from ansible.release import __version__
print(__version__)
EOF
}

# ensure_venv NAME PIP_SPEC VERSION_GLOB
ensure_venv() {
    local name="$1" spec="$2" want="$3" venv="$dest/$1" have
    have="$(core_version "$venv")"
    if [ -n "$have" ] && [[ "$have" == $want ]] && { [ "$name" != venv-latest ] || [ "$upgrade" = 0 ]; }; then
        log "$name: ansible-core $have already installed (kept)"
        return 0
    fi
    if [ -n "$have" ]; then
        log "$name: has ansible-core $have, want '$spec': recreating"
    else
        log "$name: creating with '$spec' (Python $pyver)"
    fi
    rm -rf "$venv"
    "$python" -m venv "$venv" || die "$name: '$python -m venv $venv' failed"
    "$venv/bin/python" -m pip install --quiet --upgrade pip >&2 \
        || log "$name: could not upgrade pip (continuing with the bundled one)"
    if ! "$venv/bin/python" -m pip install --quiet "$spec" >&2; then
        rm -rf "$venv"
        die "$name: 'pip install $spec' failed (is PyPI reachable? does Python $pyver support it?)"
    fi
    have="$(core_version "$venv")"
    if [ -z "$have" ] || [[ "$have" != $want ]]; then
        die "$name: after installing '$spec' ansible-core reports '${have:-nothing}', expected $want"
    fi
    log "$name: installed ansible-core $have"
}

# ensure_tool VENV PACKAGE VERSION: PACKAGE==VERSION in VENV (kept when it is there already);
# its requirements may not change the venv's ansible-core.
ensure_tool() {
    local venv="$dest/$1" pkg="$2" want="$3" have core
    have="$("$venv/bin/python" -m pip show "$pkg" 2>/dev/null | sed -n 's/^Version: //p' || true)"
    if [ "$have" = "$want" ]; then
        log "$1: $pkg $have already installed (kept)"
        return 0
    fi
    core="$(core_version "$venv")"
    "$venv/bin/python" -m pip install --quiet "$pkg==$want" "ansible-core==$core" >&2 \
        || die "$1: 'pip install $pkg==$want' failed (is PyPI reachable? does Python $pyver support it?)"
    log "$1: installed $pkg $want"
}

ensure_venv venv-2.16 'ansible-core>=2.16,<2.17' '2.16.*'
ensure_venv venv-latest 'ansible-core' '2.*'
# Pinned, like the versions CI was last run with; ansible-lint 26 runs on ansible-core >= 2.16.
ensure_tool venv-latest ansible-lint 26.10.1
ensure_tool venv-latest antsibull-changelog 0.36.0

for v in venv-2.16 venv-latest; do
    printf '%-12s %s\n' "$v" "$("$dest/$v/bin/ansible" --version 2>/dev/null | head -n 1)" >&2
done
printf '%-12s ansible-lint %s, antsibull-changelog %s\n' venv-latest \
    "$("$dest/venv-latest/bin/python" -m pip show ansible-lint 2>/dev/null | sed -n 's/^Version: //p' || true)" \
    "$("$dest/venv-latest/bin/antsibull-changelog" --version 2>/dev/null)" >&2

if [ "$print_venvs" = 1 ]; then
    echo "$dest/venv-2.16:$dest/venv-latest"
fi
