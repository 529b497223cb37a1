#!/usr/bin/env bash
# The soak run of issue 5: 2 goroutines per core, a mixed workload with every
# block pattern-verified, Check every few seconds, RSS sampled; it fails if
# anything breaks, RSS grows after the warm-up, or Trim(0) does not bring RSS
# back within 8 MiB of the start. The last lines give the figures.
#
#   scripts/soak.sh            # 10 minutes
#   scripts/soak.sh 30s        # CI's version
#   scripts/soak.sh 1h -v      # longer, printing every RSS sample
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10m}
shift || true
exec go run ./internal/soak -duration "$duration" "$@"
