#!/usr/bin/env bash
# Runs one libFuzzer target as a ctest (see CMakeLists.txt, docs/fuzzing.md):
#   run_fuzz.sh <target-binary> <corpus-dir> <crashers-dir> <runs> <max-seconds>
# 1. Every committed crash reproducer (crashers-dir, files not ending in
#    .txt) is run once: each must now pass.
# 2. The target fuzzes for <runs> inputs (capped at <max-seconds>) with a
#    fixed seed, starting from a copy of the committed corpus in a temporary
#    directory, so the committed files are never modified.
# Exits non-zero on any crash, sanitizer report, leak or timeout; the failing
# input is then kept in ./fuzz-artifacts-<target>/ (ctest runs in the build
# directory's tests/fuzz/).
set -euo pipefail
target=$1 corpus=$2 crashers=$3 runs=$4 max_time=$5
work=$(mktemp -d "${TMPDIR:-/tmp}/raftkv-fuzz.XXXXXX")
keep="$PWD/fuzz-artifacts-$(basename "$target")"
cleanup() {
  local rc=$?
  if [ $rc -ne 0 ] && [ -n "$(ls -A "$work/artifacts" 2>/dev/null)" ]; then
    mkdir -p "$keep" && cp "$work/artifacts"/* "$keep/"
    echo "failing inputs kept in $keep"
  fi
  rm -rf "$work"
  return $rc
}
trap cleanup EXIT
mkdir -p "$work/corpus" "$work/artifacts"
cp -r "$corpus"/. "$work/corpus/" 2>/dev/null || true

repros=()
if [ -d "$crashers" ]; then
  while IFS= read -r -d '' f; do repros+=("$f"); done \
    < <(find "$crashers" -maxdepth 1 -type f ! -name '*.txt' -print0 | sort -z)
fi
if [ ${#repros[@]} -gt 0 ]; then
  echo "== ${#repros[@]} crash reproducers =="
  "$target" -artifact_prefix="$work/artifacts/" "${repros[@]}"
fi

echo "== fuzzing: $runs runs, at most ${max_time}s, seed 1 =="
"$target" -seed=1 -runs="$runs" -max_total_time="$max_time" -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus"
