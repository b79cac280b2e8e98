#!/usr/bin/env bash
# Runs every test suite of sealdb. This is the README's test command and
# exactly what CI (.ci/run) runs:
#   fmt, clippy, the Rust tests (which include the check that
#   include/sealdb.h is current), the C example, the C bad-input test and
#   the C backup example (under valgrind), and the Python DB-API suite
#   (pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== cargo test"
cargo test --workspace

# The C library in the same (dev) profile the tests just built: no second
# build of the core.
echo "== C: example, bad-input test and backup example, under valgrind"
cargo build -p sealdb-ffi --lib --quiet
LIBDIR=$TARGET/debug
CC=${CC:-cc}
OUT=$TARGET/c
mkdir -p "$OUT"
for prog in example bad_input backup; do
  "$CC" -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -g -I include \
    "examples/c/$prog.c" -L "$LIBDIR" -lsealdb_ffi -lpthread -Wl,-rpath,"$LIBDIR" -o "$OUT/$prog"
done
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
VALGRIND=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1)
"$OUT/example" "$WORK/example-db" "$WORK/example.key"           # creates the key and the store
"${VALGRIND[@]}" "$OUT/example" "$WORK/example-db" "$WORK/example.key" >/dev/null   # reopens them
mkdir -p "$WORK/bad"
"${VALGRIND[@]}" "$OUT/bad_input" "$WORK/bad"
mkdir -p "$WORK/backup"
"${VALGRIND[@]}" "$OUT/backup" "$WORK/backup" >/dev/null
echo "valgrind: no leaks, no errors"

echo "== pytest (python/)"
SEALDB_LIBRARY=$LIBDIR/libsealdb_ffi.so PYTHONPATH=$ROOT/python \
  python3 -m pytest -q -p no:cacheprovider python/tests
