#!/usr/bin/env bash
# profilecost.sh: issue 13's target 1, what default-rate heap profiling
# costs bench's single-thread workloads, as benchstat tables.
#
#   scripts/profilecost.sh [count]        # default 10
#   WALL=1 scripts/profilecost.sh [count] # wall-clock ns/op instead
#
# Each round runs every workload with sampling off (OFFHEAP=profile_rate=0)
# and at the default rate (no OFFHEAP), one after the other, so that both
# see the same load. By default a workload's ns/op is the process's CPU time
# (perf stat's task-clock) for n operations less that for n/5, divided by
# the 4n/5 operations between: on a shared machine, wall-clock time counts
# the time the process waits for a CPU, which here swamps a 2% difference,
# and the difference of two run lengths leaves out start-up. WALL=1 takes
# the benchmark's own ns/op (b.Elapsed) instead. The lines are in the Go
# benchmark format, so benchstat compares the two sets.
#
# Needs benchstat (go install golang.org/x/perf/cmd/benchstat@latest) and,
# without WALL=1, perf.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-10}
out=${OUT:-/tmp/offheap-profilecost}
mkdir -p "$out"
go test -c -o "$out/bench.test" ./bench
names=(Pair/64 Pair/4096 Pair/65536 RandomLive ThreadShape)
pats=('^BenchmarkPair$/^64$/^offheap$' '^BenchmarkPair$/^4096$/^offheap$' '^BenchmarkPair$/^65536$/^offheap$'
  '^BenchmarkRandomLive$/^offheap$' '^BenchmarkThreadShape$/^offheap$')
ops=(10000000 10000000 10000000 5000000 6000000)

# cpu N PATTERN: milliseconds of CPU for a run of N operations.
cpu() {
  perf stat -x, -e task-clock "$out/bench.test" -test.run '^$' -test.bench "$2" -test.benchtime "$1x" 2>&1 >/dev/null |
    awk -F, '/task-clock/ {print $1}'
}
# measure I: one Go benchmark line for workload I.
measure() {
  local n=${ops[$1]} small=$((${ops[$1]} / 5))
  if [ -n "${WALL:-}" ]; then
    "$out/bench.test" -test.run '^$' -test.bench "${pats[$1]}" -test.benchtime "${n}x" | grep '^Benchmark' | awk '{print $1, $2, $3, "ns/op"}'
    return
  fi
  local a b
  a=$(cpu "$small" "${pats[$1]}")
  b=$(cpu "$n" "${pats[$1]}")
  awk -v name="${names[$1]}" -v n=$((n - small)) -v a="$a" -v b="$b" \
    'BEGIN {printf "Benchmark%s/offheap-2 %d %.3f ns/op\n", name, n, (b - a) * 1e6 / n}'
}
: >"$out/off.txt"
: >"$out/on.txt"
for round in $(seq "$count"); do
  for i in "${!names[@]}"; do
    (export OFFHEAP=profile_rate=0; measure "$i") >>"$out/off.txt"
    (unset OFFHEAP; measure "$i") >>"$out/on.txt"
  done
done
benchstat off="$out/off.txt" default="$out/on.txt"
