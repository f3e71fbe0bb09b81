#!/usr/bin/env bash
# The whole test suite, from a fresh clone on a machine that has only the Rust toolchain
# and python3 (3.10+, with venv). ansible-core 2.16 and the newest release are installed
# from PyPI into target/ansible/venv-* for the end-to-end tests with real ansible-playbook
# (tests/ansible_e2e.rs), for `ansible-test sanity` on the built collection, and
# (venv-latest) ansible-lint and antsibull-changelog.
# Integration tests talk HTTP to the in-process test API server; set
# OCP_BOOTIMAGE_TEST_KUBECONFIG=<kubeconfig> to run them against a real API server.
set -euo pipefail
cd "$(dirname "$0")/.."
OCP_BOOTIMAGE_ANSIBLE_VENVS="$(./scripts/setup-ansible.sh --print-venvs)"
export OCP_BOOTIMAGE_ANSIBLE_VENVS
cargo test --workspace --locked "$@"
# ansible-test sanity of the collection, with each ansible-core version (the debug binary,
# stripped: the sanity tests read the docs, not the code's speed), and ansible-lint
# --profile production on the installed collection with the newest (the venv that has it;
# the changelog fragments are linted by every build).
strip -o target/ocp-bootimage.stripped target/debug/ocp-bootimage
IFS=: read -r -a venvs <<< "$OCP_BOOTIMAGE_ANSIBLE_VENVS"
linted=""
for venv in "${venvs[@]}"; do
    lint=()
    if [ -x "$venv/bin/ansible-lint" ]; then
        lint=(--lint)
        linted="$venv"
    fi
    ./scripts/build-collection.sh --binary target/ocp-bootimage.stripped \
        --out "target/collection-sanity/$(basename "$venv")" \
        --ansible-galaxy "$venv/bin/ansible-galaxy" --sanity "${lint[@]}" >/dev/null
done
echo "ansible-test sanity: passed with ${#venvs[@]} ansible-core versions"
[ -n "$linted" ] || { echo "ansible-lint: no venv has it (scripts/setup-ansible.sh installs it)" >&2; exit 1; }
echo "ansible-lint --profile production: passed on the installed collection ($(basename "$linted"))"
