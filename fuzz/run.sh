#!/usr/bin/env bash
# Builds the fuzz targets with cargo-fuzz on the stable toolchain and runs
# each for a number of executions, printing a table of the figures.
#
#   fuzz/run.sh                 # every target, 10,000,000 executions each
#   RUNS=200000 fuzz/run.sh jws # one target, fewer executions
#   SECONDS_PER_TARGET=60 fuzz/run.sh   # a time budget instead (CI smoke)
#
# cargo-fuzz needs nightly-only rustc flags; RUSTC_BOOTSTRAP=1 lets the stable
# compiler take them. `-s none`: no sanitizer (the code is `unsafe`-free Rust;
# ASan needs a nightly std). Debug assertions and overflow checks stay on.
set -euo pipefail
cd "$(dirname "$0")"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/target}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
cargo fuzz build -s none --release --debug-assertions
printf '| target | executions | seconds | exec/s | corpus | crashes |\n|---|---:|---:|---:|---:|---:|\n'
status=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  limit=(-runs="${RUNS:-10000000}")
  [ -n "${SECONDS_PER_TARGET:-}" ] && limit=(-max_total_time="$SECONDS_PER_TARGET")
  log="artifacts/$t/last-run.log"
  start=$(date +%s.%N)
  if cargo fuzz run -s none --release --debug-assertions "$t" "corpus/$t" "seeds/$t" -- \
      "${limit[@]}" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
      -artifact_prefix="artifacts/$t/" -print_final_stats=1 >"$log" 2>&1; then crashes=0
  else crashes=$(find "artifacts/$t" -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' | wc -l); status=1
  fi
  end=$(date +%s.%N)
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  secs=$(awk "BEGIN {print $end - $start}")
  rate=$(awk "BEGIN {printf \"%d\", $execs / $secs}")
  units=$(find "corpus/$t" -type f | wc -l)
  printf '| %s | %s | %.0f | %s | %s | %s |\n' "$t" "$execs" "$secs" "$rate" "$units" "$crashes"
done
exit $status
