#!/usr/bin/env bash
# Installs dependencies, builds, and runs the main job. Until the server
# exists that is the Raft core micro-benchmark.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/install-deps.sh
./scripts/build.sh build -- raft_bench
exec ./build/bench/raft_bench --benchmark_counters_tabular=true "$@"
