#!/usr/bin/env bash
# make fuzz: runs each libFuzzer target for a bounded time on a freshly generated seed corpus.
#   tools/run_fuzz.sh BUILD_DIR SECONDS
# The corpus grows in BUILD_DIR/fuzz-corpus/<target> (kept between runs, never committed);
# crashes are written to BUILD_DIR/fuzz-artifacts/<target>/ and fail the run.
set -euo pipefail
BUILD=${1:-build-fuzz}
SECONDS_EACH=${2:-60}
CORPUS="$BUILD/fuzz-corpus"
ARTIFACTS="$BUILD/fuzz-artifacts"
"$BUILD/tests/fuzz/yiwang_fuzz_seeds" "$CORPUS" >/dev/null
# The frame and api targets keep a small RocksDB in TMPDIR (/dev/shm keeps fsyncs cheap);
# libFuzzer exits without destructors, so the directory is removed here.
SCRATCH=$(mktemp -d "${FUZZ_TMPDIR:-/dev/shm}/yiwang-fuzz-run-XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
status=0
for target in frame api key_codec; do
  mkdir -p "$ARTIFACTS/$target"
  log="$BUILD/fuzz-$target.log"
  echo "fuzz: $target for ${SECONDS_EACH}s (log $log)"
  if TMPDIR=$SCRATCH "$BUILD/tests/fuzz/yiwang_${target}_fuzzer" \
      -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="$ARTIFACTS/$target/" "$CORPUS/$target" >"$log" 2>&1; then
    runs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
    cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+' || true)
    echo "fuzz: $target ok: ${runs:-?} inputs, $cov, corpus $(ls "$CORPUS/$target" | wc -l) files"
  else
    status=1
    echo "fuzz: $target FAILED; see $log and $ARTIFACTS/$target/" >&2
    grep -E 'ERROR|violated|SUMMARY' "$log" | head -5 >&2 || true
  fi
done
exit $status
