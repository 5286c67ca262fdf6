#!/usr/bin/env bash
# make fuzz: runs each libFuzzer target, one after another, from its committed seed corpus.
#   tools/run_fuzz.sh BUILD_DIR [TARGET...]
# Environment:
#   FUZZ_RUNS=N     inputs per target (libFuzzer -runs; default 10000000)
#   FUZZ_SECONDS=S  instead: a time budget per target (-max_total_time), when set
#   FUZZ_WORKERS=W  processes per target (default 1), sharing its corpus directory (each
#                   reloads what the others add); with FUZZ_RUNS each runs FUZZ_RUNS/W inputs
#                   (rounded up), the reported inputs are their sum and the edges the most any
#                   worker reached. Logs: BUILD_DIR/fuzz-<target>.<w>.log
# The working corpus starts as a copy of tests/fuzz/corpus/<target> and grows in
# BUILD_DIR/fuzz-corpus/<target> (kept between runs, never committed); crashes are written to
# BUILD_DIR/fuzz-artifacts/<target>/ and fail the run. One line per target reports inputs,
# edges (cov), corpus size, seconds and inputs/s.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD=${1:-build-fuzz}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(frame api key_codec image open311 case_machine)
RUNS=${FUZZ_RUNS:-10000000}
WORKERS=${FUZZ_WORKERS:-1}
if [ -n "${FUZZ_SECONDS:-}" ]; then
  BUDGET=(-max_total_time="$FUZZ_SECONDS")
  what="${FUZZ_SECONDS}s"
else
  BUDGET=(-runs="$(( (RUNS + WORKERS - 1) / WORKERS ))")
  what="$RUNS inputs"
fi
[ "$WORKERS" -eq 1 ] || what="$what, $WORKERS workers"
# ASan keeps the stack of every allocation and free in a depot that only grows. Inputs that
# recurse to ever new depths (nested protobuf groups, JSON) add new stacks all the time: the
# frame target grew ~350 MiB per million inputs with the default 30 frames, toward the RSS limit,
# and ran at half the speed. A report still shows the stack of the bad access; run the binary
# on the saved input (below) for the allocation and free stacks too.
export ASAN_OPTIONS="${ASAN_OPTIONS:-malloc_context_size=0}"
CORPUS="$BUILD/fuzz-corpus"
ARTIFACTS="$BUILD/fuzz-artifacts"
# The harnesses keep their stores on RocksDB's in-memory file system; TMPDIR only gets empty
# directories, removed here (a fuzzer that crashes exits without running destructors).
SCRATCH=$(mktemp -d "${FUZZ_TMPDIR:-/tmp}/yiwang-fuzz-run-XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
status=0
for target in "${TARGETS[@]}"; do
  mkdir -p "$ARTIFACTS/$target" "$CORPUS/$target"
  cp -n "$ROOT/tests/fuzz/corpus/$target/"* "$CORPUS/$target/"
  logs=()
  if [ "$WORKERS" -eq 1 ]; then logs=("$BUILD/fuzz-$target.log")
  else for w in $(seq 1 "$WORKERS"); do logs+=("$BUILD/fuzz-$target.$w.log"); done; fi
  echo "fuzz: $target for $what (log ${logs[*]})"
  start=$(date +%s)
  pids=()
  for log in "${logs[@]}"; do
    TMPDIR=$SCRATCH "$BUILD/tests/fuzz/yiwang_${target}_fuzzer" \
        "${BUDGET[@]}" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix="$ARTIFACTS/$target/" "$CORPUS/$target" >"$log" 2>&1 &
    pids+=($!)
  done
  failed=0
  for _ in "${pids[@]}"; do  # the first worker to fail stops the others
    wait -n || { failed=1; kill "${pids[@]}" 2>/dev/null || true; }
  done
  secs=$(( $(date +%s) - start ))
  runs=0
  for log in "${logs[@]}"; do
    n=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
    runs=$(( runs + ${n:-0} ))
  done
  if [ "$failed" -eq 0 ]; then
    cov=$(for log in "${logs[@]}"; do grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+'
          done | sort -t' ' -k2 -n | tail -1 || true)
    echo "fuzz: $target ok: $runs inputs, $cov, corpus $(ls "$CORPUS/$target" | wc -l)" \
         "files, ${secs}s ($(( runs / (secs > 0 ? secs : 1) )) inputs/s), 0 findings"
  else
    status=1
    echo "fuzz: $target FAILED after $runs inputs; see ${logs[*]} and $ARTIFACTS/$target/" >&2
    grep -hE 'ERROR|violated|SUMMARY' "${logs[@]}" | head -5 >&2 || true
  fi
done
exit $status
