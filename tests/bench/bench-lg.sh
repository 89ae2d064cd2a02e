#!/bin/sh
# neuronctl lg status (one read: map the shm read-only, probe every known layout) beside the
# shell's way of looking at the same header (dd + od of the first 64 KiB), and lg size beside
# shell arithmetic. Figures and ratios only; never a pass or a fail.
set -u
: "${BUILD:?}"
N=${NEURONCTL:-$BUILD/neuronctl}
PY=${PYTHON:-/usr/bin/python3}
here=$(cd "$(dirname "$0")/../lg" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
runs=200
"$PY" "$here/shm.py" make garbage "$tmp/shm"     # unknown layout: one read, no waiting
truncate -s 128M "$tmp/shm"

now() { date +%s%N; }
loop() { # N CMD...
	k=$1; shift
	t0=$(now)
	i=0
	while [ $i -lt "$k" ]; do "$@" >/dev/null 2>&1; i=$((i + 1)); done
	echo $(( ($(now) - t0) / k / 1000 ))
}
peer_probe() { dd if="$tmp/shm" bs=65536 count=1 2>/dev/null | od -A d -t x4 | head -n 2; }

ours=$(loop $runs "$N" lg status --shm "$tmp/shm")
peer=$(loop $runs peer_probe)
echo "lg status (128 MiB shm, one read): ${ours} us per run; dd|od of the header: ${peer} us;" \
	"ratio $(awk "BEGIN { printf \"%.2f\", $ours / ($peer ? $peer : 1) }")"
ours=$(loop $runs "$N" lg size 1920x1080)
peer=$(loop $runs sh -c 'echo $(( (1920 * 1080 * 8 + 1048575) / 1048576 + 10 ))')
echo "lg size 1920x1080: ${ours} us per run; sh arithmetic (sh -c): ${peer} us;" \
	"ratio $(awk "BEGIN { printf \"%.2f\", $ours / ($peer ? $peer : 1) }")"
base=$(loop $runs "$N" --version)
echo "neuronctl --version (start-up alone, most of the figures above): ${base} us"
