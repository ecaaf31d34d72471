#!/usr/bin/env bash
# Starts N raftkv members on 127.0.0.1 (member i: clients :i2379, peers
# :i2380, /health and /metrics :i2381), prefixes each member's log lines
# with its name, and stops them all on Ctrl-C or when one exits.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-3}
bin=./build/cmd/raftkv
data=./local-cluster
mkdir -p "$data"
cluster=""
endpoints=""
for i in $(seq 1 "$size"); do
  cluster+="${cluster:+,}m$i=http://127.0.0.1:${i}2380"
  endpoints+="${endpoints:+,}127.0.0.1:${i}2379"
done
pids=()
cleanup() {
  trap - INT TERM EXIT
  echo "stopping ${#pids[@]} members..."
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT
for i in $(seq 1 "$size"); do
  "$bin" --name "m$i" --data-dir "$data/m$i" \
    --listen-client-urls "http://127.0.0.1:${i}2379" \
    --listen-peer-urls "http://127.0.0.1:${i}2380" \
    --initial-advertise-peer-urls "http://127.0.0.1:${i}2380" \
    --listen-metrics-urls "http://127.0.0.1:${i}2381" \
    --initial-cluster "$cluster" > >(sed -u "s/^/[m$i] /") 2>&1 &
  pids+=($!)
done
cat <<MSG

raftkv: $size members on 127.0.0.1 (data in $data). Try:
  ./build/cmd/raftkvctl --endpoints $endpoints put greeting hello
  ./build/cmd/raftkvctl --endpoints $endpoints get greeting -w json
  ETCDCTL_API=3 etcdctl --endpoints $endpoints endpoint status -w table
  curl http://127.0.0.1:12381/health
Ctrl-C stops the cluster.

MSG
wait -n
