#!/usr/bin/env bash
# hostnoise.sh: how much of issue 11 target 3's "every two-P sample at
# least 1.8x the one-P throughput" this machine lets any program meet.
#
#   scripts/hostnoise.sh [N] [WORKLOAD] [PEER]   # default 12 random-live offheap
#
# Each trial times WORKLOAD (a one-thread workload of the bench, e.g.
# random-live, pair/64, thread-shape) for 300 ms in one process alone,
# then in two separate processes at the same time, each on one P
# (GOMAXPROCS=1): nothing is shared between the two but the machine. The
# "scaling" printed is what the pair did against the process alone (2.00 is
# two CPUs' worth), with the steal time the kernel counted meanwhile
# (/proc/stat, in jiffies). A PEER of bench/cpeer (glibc-native,
# jemalloc-native, mimalloc-native) runs its C loop instead.
set -euo pipefail
n=${1:-12}
w=${2:-random-live}
peer=${3:-offheap}
cd "$(dirname "$0")/.."
out=${OUT:-/tmp}
case $peer in
*-native) go build -o "$out/hostnoise-peer" ./bench/cpeer/cmd/cpeer ;;
*) go build -o "$out/hostnoise-peer" ./bench/cmd/gopeer ;;
esac
bin=$out/hostnoise-peer
# ns SAMPLEFILE: the ns/op of the one sample in a peer's JSON output.
ns() { sed -n 's/.*"ns_per_op":\([0-9.e+-]*\).*/\1/p' "$1"; }
steal() { awk '/^cpu / {print $9}' /proc/stat; }
for i in $(seq "$n"); do
	s0=$(steal)
	GOMAXPROCS=1 "$bin" -jobs "$peer=$w" -benchtime 300ms 2>/dev/null | grep '"sample"' >"$out/hostnoise.solo"
	GOMAXPROCS=1 "$bin" -jobs "$peer=$w" -benchtime 300ms 2>/dev/null | grep '"sample"' >"$out/hostnoise.a" &
	GOMAXPROCS=1 "$bin" -jobs "$peer=$w" -benchtime 300ms 2>/dev/null | grep '"sample"' >"$out/hostnoise.b" &
	wait
	s1=$(steal)
	awk -v solo="$(ns "$out/hostnoise.solo")" -v a="$(ns "$out/hostnoise.a")" -v b="$(ns "$out/hostnoise.b")" \
		-v st=$((s1 - s0)) -v w="$w" -v p="$peer" \
		'BEGIN {printf "%s %s: alone %.2f ns, together %.2f and %.2f ns: scaling %.2fx, steal %d\n", p, w, solo, a, b, solo / a + solo / b, st}'
done
