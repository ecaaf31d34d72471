#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test:
#   1. the whole suite (raft, sim, wal, kv, ... labels) in ./build;
#   2. the raft and simulator tests again under ASan + UBSan in ./build-asan;
#   3. the libFuzzer targets, each for a bounded run, in ./build-fuzz (clang;
#      docs/fuzzing.md).
# Existing build directories are reused. Pass ctest arguments after --, e.g.
#   ./test.sh -- -L raft
set -euo pipefail
cd "$(dirname "$0")"
ctest_args=()
if [ "${1:-}" = "--" ]; then shift; ctest_args=("$@"); fi

./scripts/install-deps.sh
echo "== build (RelWithDebInfo) =="
./scripts/build.sh build
echo "== tests =="
(cd build && ctest --output-on-failure --timeout 900 -j"$(nproc)" "${ctest_args[@]}")

if [ ${#ctest_args[@]} -eq 0 ]; then
  echo "== raft and simulator tests under ASan + UBSan =="
  ./scripts/build.sh build-asan -DRAFTKV_SANITIZE=ON -- raft_tests_all
  (cd build-asan && ctest --output-on-failure --timeout 900 -j"$(nproc)" -L 'raft|sim')
fi

if [ ${#ctest_args[@]} -eq 0 ]; then
  echo "== fuzz targets (libFuzzer + ASan + UBSan, bounded runs) =="
  ./scripts/build.sh build-fuzz -DRAFTKV_FUZZ=ON \
    -DCMAKE_CXX_COMPILER=clang++-14 -- fuzz_all
  (cd build-fuzz && ctest --output-on-failure --timeout 900 -j"$(nproc)" -L fuzz)
fi
