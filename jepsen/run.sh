#!/usr/bin/env bash
# One Jepsen-style run against raftkv or etcd; see jepsen/README.md.
#   jepsen/run.sh --target raftkv --workload register --nemesis partition \
#                 --time 30 --nodes 3
#   jepsen/run.sh --cleanup
cd "$(dirname "$0")/.." && exec python3 -m jepsen.harness.run "$@"
