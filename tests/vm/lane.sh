#!/bin/sh
# The VM lane (make test-vm): each scenario of tests/vm/scenarios/ against a real Linux kernel
# under QEMU (TCG) and, where it needs one, a real libvirtd started by the scenario itself.
# usage: lane.sh [SCENARIO...]   (names or numbers: 01-scan-bind, scan-bind, 01; default all)
# Env: BUILD (absolute build dir), VM_SCENARIO_TIMEOUT (seconds, default 480): a scenario still
# running then is stopped (TERM to its process group, its traps stop what it started, by pid).
# Prints one block per scenario and, last, "N passed, N failed"; exits 1 when one failed. A
# scenario that exits 77 was skipped (it prints why: no private mount namespace in a chroot).
set -u
: "${BUILD:?BUILD must be set}"
here=$(cd "$(dirname "$0")" && pwd)
export BUILD NEURONCTL="${NEURONCTL:-$BUILD/neuronctl}" LC_ALL=C
export VM_TIMEOUT="${VM_TIMEOUT:-120}"

t0=$(date +%s)
guest=$(sh "$here/build-guest.sh") || { echo "vm: cannot build the guest"; echo "0 passed, 1 failed"; exit 1; }
[ $# -gt 0 ] || set -- $(cd "$here/scenarios" && ls *.sh | sed 's/\.sh$//')
set -- $guest "$@"
export VM_KERNEL="$1" VM_BZIMAGE="$2" VM_INITRD="$3"
shift 3
echo "vm: guest ready in $(( $(date +%s) - t0 )) s: $(basename "$VM_KERNEL") $(basename "$VM_INITRD")"

passed=0 failed=0 skipped=0 failed_names=""
for want in "$@"; do
	script=""
	for s in "$here"/scenarios/*.sh; do
		n=$(basename "$s" .sh)
		case $want in "$n" | "${n#*-}" | "${n%%-*}") script=$s ;; esac
	done
	if [ -z "$script" ]; then
		echo "vm: no scenario '$want' in tests/vm/scenarios"
		failed=$((failed + 1)) failed_names="$failed_names $want"
		continue
	fi
	name=$(basename "$script" .sh)
	echo "== vm: $name"
	s0=$(date +%s)
	timeout -k 15 "${VM_SCENARIO_TIMEOUT:-480}" sh "$script"
	rc=$?
	took=$(( $(date +%s) - s0 ))
	if [ $rc = 0 ]; then
		echo "vm: $name: PASS (${took} s)"
		passed=$((passed + 1))
	elif [ $rc = 77 ]; then
		echo "vm: $name: SKIP (it says why above)"
		skipped=$((skipped + 1))
	else
		[ $rc = 124 ] && echo "vm: $name: stopped after ${VM_SCENARIO_TIMEOUT:-480} s"
		echo "vm: $name: FAIL (${took} s, rc=$rc)"
		failed=$((failed + 1)) failed_names="$failed_names $name"
	fi
done
echo "vm: lane took $(( $(date +%s) - t0 )) s"
[ -z "$failed_names" ] || echo "vm: failed:$failed_names"
[ "$skipped" = 0 ] || echo "vm: $skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
