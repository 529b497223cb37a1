#!/usr/bin/env bash
# profilecost.sh: issue 13's target 1, what default-rate heap profiling
# costs bench's single-thread workloads, as benchstat tables.
#
#   scripts/profilecost.sh [count]             # default 10
#   WALL=1 scripts/profilecost.sh [count]      # wall-clock ns/op instead
#   CALLGRIND=1 scripts/profilecost.sh 1       # instructions per op (valgrind)
#
# Each round runs every workload with sampling off (OFFHEAP=profile_rate=0)
# and at the default rate (no OFFHEAP), one after the other, so that both
# see the same load. By default a workload's ns/op is the process's CPU time
# (perf stat's task-clock) for n operations less that for n/5, divided by
# the 4n/5 operations between: on a shared machine, wall-clock time counts
# the time the process waits for a CPU, which here swamps a 2% difference,
# and the difference of two run lengths leaves out start-up. WALL=1 takes
# the benchmark's own ns/op (b.Elapsed) instead. CALLGRIND=1 counts
# instructions under valgrind's callgrind, the same difference of two run
# lengths: a figure no other process's load changes (though it weighs an
# atomic read-modify-write as one instruction). The lines are in the Go
# benchmark format, so benchstat compares the two sets.
#
# Needs benchstat (go install golang.org/x/perf/cmd/benchstat@latest) and,
# without WALL=1, perf (or valgrind for CALLGRIND=1).
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
# instr N PATTERN: instructions for a run of N operations, under callgrind
# (GODEBUG=asyncpreemptoff=1: callgrind does not survive Go's preemption
# signals).
instr() {
  GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" \
    "$out/bench.test" -test.run '^$' -test.bench "$2" -test.benchtime "$1x" >/dev/null 2>&1
  callgrind_annotate "$out/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done {gsub(",", "", $1); print $1; done = 1}'
}
# measure I: one Go benchmark line for workload I.
measure() {
  local n=${ops[$1]} small=$((${ops[$1]} / 5))
  if [ -n "${CALLGRIND:-}" ]; then
    n=600000 small=200000
    local a b
    a=$(instr "$small" "${pats[$1]}")
    b=$(instr "$n" "${pats[$1]}")
    awk -v name="${names[$1]}" -v n=$((n - small)) -v a="$a" -v b="$b" \
      'BEGIN {printf "Benchmark%s/offheap-2 %d %.1f instructions/op\n", name, n, (b - a) / n}'
    return
  fi
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
