#!/usr/bin/env bash
# The whole test suite, from a fresh clone on a machine that has only the Rust toolchain
# and python3 (3.10+, with venv). ansible-core 2.16 and the newest release are installed
# from PyPI into target/ansible/venv-* for the end-to-end tests with real ansible-playbook
# (tests/ansible_e2e.rs). Integration tests talk HTTP to the in-process test API server;
# set OCP_BOOTIMAGE_TEST_KUBECONFIG=<kubeconfig> to run them against a real API server.
set -euo pipefail
cd "$(dirname "$0")/.."
OCP_BOOTIMAGE_ANSIBLE_VENVS="$(./scripts/setup-ansible.sh --print-venvs)"
export OCP_BOOTIMAGE_ANSIBLE_VENVS
cargo test --workspace --locked "$@"
