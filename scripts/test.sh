#!/usr/bin/env bash
# The whole test suite, from a fresh clone on a machine that has only the Rust toolchain.
# Integration tests talk HTTP to the in-process test API server; set
# OCP_BOOTIMAGE_TEST_KUBECONFIG=<kubeconfig> to run the same tests against a real API server.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked "$@"
