#!/usr/bin/env bash
# The soak run of issue 5: 2 goroutines per core, a mixed workload with every
# block pattern-verified, Check every few seconds, RSS sampled; it fails if
# anything breaks, RSS grows after the warm-up, or Trim(0) does not bring RSS
# back within 8 MiB of the start. The last lines give the figures.
#
#   scripts/soak.sh            # 10 minutes
#   scripts/soak.sh 30s        # CI's version
#   scripts/soak.sh 1h -v      # longer, printing every RSS sample
#   OFFHEAP=arena_max=4 scripts/soak.sh   # arenas capped at the number of workers
#
# With the default arena_max (8 x cores) new arenas keep appearing under
# contention during the run, and each keeps the high-water mark of its heaps
# (free chunks inside a heap stay resident until Trim, as in glibc): RSS then
# grows after the warm-up and the flatness test can fail. With arena_max=4 it
# stays flat.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10m}
shift || true
exec go run ./internal/soak -duration "$duration" "$@"
