#!/usr/bin/env bash
# Compiles etcd 3.4's e2e test package from Debian's golang-etcd-server-dev
# (GOPATH mode: Debian installs the source tree, not a module) into one test
# binary, OUT (default build/etcd-e2e/e2e.test). The Go build cache lives next
# to it, so a second build is quick. Nothing under /usr/share is written.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/build/etcd-e2e/e2e.test}
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
src=/usr/share/gocode/src/go.etcd.io/etcd/tests/e2e
[ -d "$src" ] || { echo "build.sh: $src missing (apt-get install golang-etcd-server-dev)" >&2; exit 2; }
command -v go >/dev/null || { echo "build.sh: go missing (apt-get install golang-go)" >&2; exit 2; }
echo "etcd-e2e: compiling etcd's e2e tests from $src (a minute or two the first time)"
cd "$(dirname "$out")"
GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= \
  GOCACHE=${GOCACHE:-$(dirname "$out")/gocache} \
  go test -c -o "$out" go.etcd.io/etcd/tests/e2e
echo "etcd-e2e: built $out ($("$out" -test.list '.*' | grep -c '^Test') tests)"
