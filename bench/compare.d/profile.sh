#!/usr/bin/env bash
# Profiles one member (the leader) of a 3-member cluster under a
# raftkv-bench workload: syscall counts (fdatasync, write, sendmsg, futex)
# with `perf stat`, then a CPU profile with `perf record` (cpu-clock, DWARF
# call graphs). Used for the profile notes in docs/benchmark.md.
#
#   bench/compare.d/profile.sh raftkv|etcd OUTDIR [raftkv-bench args...]
#   e.g. bench/compare.d/profile.sh raftkv /tmp/prof put --clients 64 \
#          --conns 8 --val-size 256 --key-space-size 100000
# Environment: RAFTKV, BENCH (binaries), BASE_PORT (default 24100),
# SECONDS_STAT (5), SECONDS_RECORD (8).
set -euo pipefail
system=$1 out=$2
shift 2
here=$(cd "$(dirname "$0")/../.." && pwd)
raftkv=${RAFTKV:-$here/build/cmd/raftkv}
bench=${BENCH:-$here/build/cmd/raftkv-bench}
base=${BASE_PORT:-24100}
binary=$raftkv
[ "$system" = etcd ] && binary=$(command -v etcd)
mkdir -p "$out"
rm -rf "$out/data"
cluster=""
endpoints=""
for i in 0 1 2; do
  cluster+="${cluster:+,}m$i=http://127.0.0.1:$((base + 10 + i))"
  endpoints+="${endpoints:+,}127.0.0.1:$((base + i))"
done
pids=()
cleanup() { kill -9 "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
for i in 0 1 2; do
  extra=()
  [ "$system" = etcd ] && extra=(--log-outputs=stderr)
  "$binary" --name "m$i" --data-dir "$out/data/m$i" \
    --listen-client-urls "http://127.0.0.1:$((base + i))" \
    --advertise-client-urls "http://127.0.0.1:$((base + i))" \
    --listen-peer-urls "http://127.0.0.1:$((base + 10 + i))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((base + 10 + i))" \
    --initial-cluster "$cluster" --initial-cluster-token "profile-$system" \
    --heartbeat-interval 100 --election-timeout 1000 "${extra[@]}" \
    > "$out/m$i.log" 2>&1 &
  pids+=($!)
done
"$bench" probe --endpoints "127.0.0.1:$base" --timeout 30s > /dev/null
# The leader, by etcdctl (both systems answer it).
leader=""
for _ in $(seq 100); do
  leader=$(ETCDCTL_API=3 etcdctl --endpoints "$endpoints" endpoint status \
    -w json | python3 -c '
import json, sys
for i, s in enumerate(json.load(sys.stdin)):
    if s["Status"]["header"]["member_id"] == s["Status"]["leader"]:
        print(i)' || true)
  [ -n "$leader" ] && break
  "$bench" probe --endpoints "127.0.0.1:$base" --timeout 1s > /dev/null
done
pid=${pids[$leader]}
ordered="127.0.0.1:$((base + leader))"
for i in 0 1 2; do
  [ "$i" != "$leader" ] && ordered+=",127.0.0.1:$((base + i))"
done
total=$(( ${SECONDS_STAT:-5} + ${SECONDS_RECORD:-8} + 4 ))
"$bench" "$@" --endpoints "$ordered" --duration "${total}s" --progress=false \
  > "$out/bench.txt" 2>&1 &
bench_pid=$!
"$bench" probe --endpoints "127.0.0.1:$base" --timeout 2s > /dev/null
perf stat -e 'syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync,syscalls:sys_enter_write,syscalls:sys_enter_pwrite64,syscalls:sys_enter_sendmsg,syscalls:sys_enter_futex,syscalls:sys_enter_epoll_wait,task-clock,context-switches' \
  -p "$pid" -o "$out/stat.txt" -- sleep "${SECONDS_STAT:-5}"
perf record -e cpu-clock -F 499 --call-graph dwarf,16384 -p "$pid" \
  -o "$out/perf.data" -- sleep "${SECONDS_RECORD:-8}" 2> /dev/null
wait "$bench_pid" || true
echo "leader m$leader pid $pid"
cat "$out/stat.txt" "$out/bench.txt"
