#!/usr/bin/env bash
# Installs raftkv's build and test dependencies from Debian 12's archive.
# Idempotent: packages already present are skipped, so a second run is quick.
# Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libleveldb-dev libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev
  libcpp-httplib-dev libgoogle-perftools-dev clang-format
  zlib1g-dev  # kv/hash_kv.cc (HashKV checksum)
  clang-14 libfuzzer-14-dev libclang-rt-14-dev  # tests/fuzz (docs/fuzzing.md)
  etcd-client etcd-server
  golang-etcd-server-dev  # etcd's TLS test certificates (tests/e2e/ctl_tls_test, bench/compare --tls)
  libyaml-cpp-dev  # raftkv --config-file (cmd/raftkv/config_file.cc)
  openssl libssl-dev  # rpc/tls (auto TLS, CRLs); tests make a second CA
  golang-go curl  # tests/etcd_e2e: compiles and runs etcd's own e2e suite
  iproute2 iptables procps psmisc python3
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
