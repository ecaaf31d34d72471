#!/usr/bin/env bash
# Installs dependencies, builds, and starts a local raftkv cluster on
# 127.0.0.1 in the foreground: ./run.sh (3 members) or ./run.sh 5.
# Ctrl-C stops every member. Data lives in ./local-cluster/.
set -euo pipefail
cd "$(dirname "$0")"
size=${1:-3}
if ! [[ "$size" =~ ^[1-9]$ ]]; then
  echo "usage: ./run.sh [members 1-9]" >&2
  exit 2
fi
./scripts/install-deps.sh
./scripts/build.sh build -- raftkv raftkvctl
exec ./scripts/local-cluster.sh "$size"
