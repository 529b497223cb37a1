#!/usr/bin/env bash
# replayab.sh: offheap against glibc on one trace, alternating, one process
# each run: the medians and minimums of their replay times, and their
# page faults.
#
#   scripts/replayab.sh N TRACE [VAR=value ...]   # e.g. OFFHEAP=populate=off
#
# The replay command prints three targets per run, Go's heap between them;
# this runs offheap and glibc alone, N times, so that the two see the same
# load (cc1's replay takes 9 ms, and the spread between runs is larger than
# the difference it is asked about). The variables go to the environment
# of the replay (OFFHEAP reaches the offheap child).
set -euo pipefail
n=${1:?usage: replayab.sh N TRACE [VAR=value ...]}
trace=${2:?usage: replayab.sh N TRACE [VAR=value ...]}
shift 2
trace=$(realpath "$trace")
cd "$(dirname "$0")/.."
bin=${OUT:-/tmp}/offheap-replayab
go build -o "$bin" ./cmd/offheap
for _ in $(seq "$n"); do
  env "$@" "$bin" replay -syscalls=false -json -targets offheap,glibc "$trace" 2>/dev/null
done | python3 -c '
import json, statistics, sys
dec, s, i, res = json.JSONDecoder(), sys.stdin.read(), 0, {}
while True:
    while i < len(s) and s[i].isspace():
        i += 1
    if i >= len(s):
        break
    d, i = dec.raw_decode(s, i)
    for r in d:
        res.setdefault(r["target"], []).append((r["elapsed_ns"] / 1e6, r.get("faults", 0)))
for t, v in res.items():
    ms = [x[0] for x in v]
    print("%-8s median %.2f ms  min %.2f ms  faults %d  (%d runs)" % (t, statistics.median(ms), min(ms), v[0][1], len(v)))
'
