#!/usr/bin/env bash
# The soak run of issue 5: 2 goroutines per core, a mixed workload with every
# block pattern-verified, Check every few seconds, RSS sampled, and one more
# goroutine per core creating, filling and destroying private heaps (issue
# 14; -heaps 0 is one per core, -heaps -1 none); it fails if anything
# breaks, RSS grows after the warm-up, or Trim(0) does not bring RSS back
# within 8 MiB of the start. The last lines give the figures.
#
#   scripts/soak.sh            # 10 minutes
#   scripts/soak.sh 30s        # CI's version
#   scripts/soak.sh 1h -v      # longer, printing every RSS sample
#   OFFHEAP=arena_max=16 scripts/soak.sh  # glibc's 8 x cores
#   scripts/soak.sh 10m -heaps 4 -heap-blocks 20000   # more, larger private heaps
#
# The default arena_max is one arena per P (GOMAXPROCS): with glibc's 8 x
# cores, new arenas kept appearing under contention during the run and each
# kept the high-water mark of its heaps, so RSS grew after the warm-up.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10m}
shift || true
exec go run ./internal/soak -duration "$duration" "$@"
