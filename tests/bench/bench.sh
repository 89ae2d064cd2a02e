#!/bin/sh
# make bench: every tests/bench/bench-*.sh in turn. Benchmarks print figures and ratios
# against a peer measured in the same run; they never pass or fail on time.
set -u
: "${BUILD:?BUILD must be set}"
export BUILD NEURONCTL="$BUILD/neuronctl" PYTHON="${PYTHON:-/usr/bin/python3}"
status=0
for b in "$(dirname "$0")"/bench-*.sh; do
	[ -f "$b" ] || continue
	echo "== $(basename "$b" .sh)"
	sh "$b" || status=1
	echo
done
exit $status
