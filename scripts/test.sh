#!/usr/bin/env bash
# Runs every test suite of sealdb. This is the README's test command and
# exactly what CI (.ci/run) runs.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== cargo test"
cargo test --workspace
