#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test:
#   1. the whole suite (raft, sim, wal, kv, ... labels) in ./build;
#   2. the raft and simulator tests again under ASan + UBSan in ./build-asan;
#   3. the libFuzzer targets, each for a bounded run, in ./build-fuzz (clang;
#      docs/fuzzing.md);
#   4. etcd 3.4's own e2e suite against ./build's raftkv, every test it is
#      expected to pass (ctest label etcd-e2e; docs/etcd-e2e.md).
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
if [ ${#ctest_args[@]} -eq 0 ]; then
  (cd build && ctest --output-on-failure --timeout 900 -j"$(nproc)" -LE etcd-e2e)
else
  (cd build && ctest --output-on-failure --timeout 900 -j"$(nproc)" "${ctest_args[@]}")
fi

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

if [ ${#ctest_args[@]} -eq 0 ]; then
  echo "== etcd's own e2e suite against raftkv (tests/etcd_e2e) =="
  (cd build && ctest --verbose -L etcd-e2e)
fi
