#!/usr/bin/env bash
# etcd 3.4's own end-to-end suite (tests/e2e in Debian's golang-etcd-server-dev)
# run against raftkv installed under the name `etcd`: the outside judge of
# "drop-in" (docs/etcd-e2e.md).
#
#   tests/etcd_e2e/run.sh SERVER [SELECTION]
#
# SERVER     the binary under test (build/cmd/raftkv, or /usr/bin/etcd as the
#            control). It is linked as `etcd` next to etcdctl in a bin dir.
# SELECTION  expected  (default) every row of expected.tsv marked `pass`; the
#                      run fails if one of them fails. This is what ./test.sh
#                      runs (ctest label etcd-e2e).
#            table     every row of expected.tsv, for the docs table; prints
#                      where the outcome differs from the row's expectation.
#            TIERS     the rows of these tiers, joined with + (kv+watch, tls,
#                      grpc-gateway, ...; see the second column of expected.tsv).
#            REGEX     the binary's tests whose names match (e.g. '^TestCtlV3Put').
#
# Each test runs in its own e2e.test process inside fresh PID and network
# namespaces (unshare, as root), so whatever it leaves running dies with it
# and its fixed ports collide with nothing else on the machine, and in a
# fresh work tree laid out as etcd's repository expects (tests/e2e is the
# working directory; ../../integration/fixtures holds the TLS fixtures).
# Environment: ETCD_E2E_BIN (test binary; default build/etcd-e2e/e2e.test,
# built on first use by build.sh), ETCD_E2E_OUT (results dir),
# ETCD_E2E_TIMEOUT (seconds per test, overriding expected.tsv).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

if [ $# -lt 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 SERVER_BINARY [expected|table|TIER|REGEX]" >&2
  exit 2
fi
server=$(readlink -f "$1")
selection=${2:-expected}
e2e=${ETCD_E2E_BIN:-$root/build/etcd-e2e/e2e.test}
if [ ! -x "$e2e" ]; then
  "$here/build.sh" "$e2e" || { echo "etcd-e2e: cannot build $e2e" >&2; exit 2; }
fi
fixtures=/usr/share/gocode/src/go.etcd.io/etcd/integration/fixtures
if [ ! -f "$fixtures/server.crt" ]; then
  echo "etcd-e2e: no TLS fixtures in $fixtures (apt-get install golang-etcd-server-dev)" >&2
  exit 2
fi
expected=$here/expected.tsv
out=${ETCD_E2E_OUT:-$root/build/etcd-e2e/results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out/logs"

# expected.tsv: test <TAB> tier <TAB> expect (pass|fail|n/a) <TAB> timeout <TAB> why
rows() { awk -F'\t' '!/^#/ && NF >= 4' "$expected"; }
case "$selection" in
  expected) tests=$(rows | awk -F'\t' '$3 == "pass" {print $1}') ;;
  table) tests=$(rows | awk -F'\t' '$3 != "n/a" {print $1}') ;;
  *)
    tests=$(rows | awk -F'\t' -v t="+$selection+" 'index(t, "+" $2 "+") {print $1}')
    if [ -z "$tests" ]; then
      tests=$("$e2e" -test.list '.*' | grep -E -- "$selection" || true)
    fi ;;
esac
count=$(grep -c . <<<"$tests")
if [ "$count" -eq 0 ]; then
  echo "etcd-e2e: no test selected by '$selection'" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/raftkv-etcd-e2e.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
ln -s "$server" "$work/bin/etcd"
ln -s "$(command -v etcdctl)" "$work/bin/etcdctl"

# etcd's harness listens on fixed ports (20000 and up), so two runs on one
# machine would collide: each test gets its own network namespace (with only
# a loopback) as well as its own PID namespace.
isolate=()
if [ "$(id -u)" = 0 ] &&
   unshare --pid --fork --kill-child --mount-proc --net ip link set lo up 2>/dev/null; then
  isolate=(unshare --pid --fork --kill-child --mount-proc --net
           sh -c 'ip link set lo up && exec "$@"' isolated)
else
  echo "etcd-e2e: not root or no namespaces: tests share this machine's ports, and" \
    "processes a test leaves behind are not reaped" >&2
fi

field() { rows | awk -F'\t' -v t="$1" -v f="$2" '$1 == t {print $f; exit}'; }

echo "etcd-e2e: $count test(s) ('$selection'), server $server, logs in $out"
printf 'test\ttier\texpected\tresult\tseconds\n' >"$out/summary.tsv"
passed=0 failed=0 skipped=0 surprises=0 start_all=$SECONDS i=0
for t in $tests; do
  i=$((i + 1))
  top=${t%%/*}
  limit=${ETCD_E2E_TIMEOUT:-$(field "$t" 4)}
  limit=${limit:-120}
  log=$out/logs/${t//\//_}.log
  tree=$work/tree
  rm -rf "$tree" && mkdir -p "$tree/integration" "$tree/tests/e2e" "$tree/tmp"
  ln -s "$fixtures" "$tree/integration/fixtures"
  cp "$here/etcd.conf.yml.sample" "$tree/etcd.conf.yml.sample"
  t0=$SECONDS
  (cd "$tree/tests/e2e" && TMPDIR=$tree/tmp timeout -k 10 $((limit + 30)) \
     "${isolate[@]}" "$e2e" -test.run "^${t}\$" -test.v -test.count 1 \
     -test.timeout "${limit}s" -bin-dir "$work/bin" -cert-dir "$fixtures") \
    >"$log" 2>&1 </dev/null
  rc=$?
  secs=$((SECONDS - t0))
  if grep -q -- "^--- PASS: $top " "$log" && ! grep -q -- "--- FAIL" "$log"; then
    # etcd's TestMain may still fail the process on its goroutine count
    # after every test passed (its pty readers; seen with etcd itself).
    if [ $rc -eq 0 ] || grep -q '^Too many goroutines running after all test(s)' "$log"; then
      result=pass
    else
      result=fail
    fi
  elif grep -q -- "^--- SKIP: $top " "$log" && [ $rc -eq 0 ]; then
    result=skip
  else
    result=fail
  fi
  want=$(field "$t" 3)
  tier=$(field "$t" 2)
  case $result in pass) passed=$((passed + 1)) ;; skip) skipped=$((skipped + 1)) ;; *) failed=$((failed + 1)) ;; esac
  note=""
  if [ -n "$want" ] && [ "$want" != "$result" ] && [ "$result" != skip ]; then
    surprises=$((surprises + 1))
    note="  (expected $want)"
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$t" "${tier:--}" "${want:--}" "$result" "$secs" >>"$out/summary.tsv"
  printf '[%3d/%d] %-4s %-60s %4ss%s\n' "$i" "$count" "$result" "$t" "$secs" "$note"
  if [ "$result" = fail ]; then
    grep -m3 -E '_test\.go:[0-9]+:|^panic:' "$log" | cut -c1-200 | sed 's/^ */         /'
  fi
done
echo "etcd-e2e: $count test(s) in $((SECONDS - start_all))s: $passed passed, $failed failed, $skipped skipped; $surprises differ from expected.tsv"
echo "etcd-e2e: summary $out/summary.tsv"
if [ "$selection" = expected ]; then
  [ "$failed" -eq 0 ]
else
  [ "$surprises" -eq 0 ]
fi
