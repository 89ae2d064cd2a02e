#!/bin/sh
# Run every unit binary given as an argument, then every tests/*/run.sh suite.
# Each suite prints its own "N passed, N failed" line; this sums them up and
# fails when anything failed. BUILD is the absolute build directory.
set -u
: "${BUILD:?BUILD must be set}"
export BUILD
export NEURONCTL="$BUILD/neuronctl" SYSROOTS="$BUILD/sysroots"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
# Under ASan, libvirt's remote driver (the tests of daemons that do not answer) crashes in
# ASan's own XDR interceptors: glibc no longer has xdr_* (libtirpc does), so they call a
# NULL pointer ("failed to intercept 'xdr_int'"). libtirpc loaded first gives libvirt the
# real functions; ASan is then not first in the link order, which it may be told is fine.
if [ "${NEURON_ASAN:-}" = 1 ]; then
	tirpc=$(/sbin/ldconfig -p 2>/dev/null | sed -n 's/^[[:space:]]*libtirpc\.so\.3 (.*) => //p' | head -n 1)
	if [ -n "$tirpc" ]; then
		export LD_PRELOAD="$tirpc${LD_PRELOAD:+:$LD_PRELOAD}"
		ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0"
	fi
fi
export LC_ALL=C
top=$(cd "$(dirname "$0")/.." && pwd)
passed=0 failed=0 failed_names=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT

count() { # name, exit status, log
	p=$(sed -n 's/^\(.*: \)\{0,1\}\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*$/\2/p' "$3" | tail -n 1)
	f=$(sed -n 's/^\(.*: \)\{0,1\}\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*$/\3/p' "$3" | tail -n 1)
	if [ -z "$p" ]; then  # cmocka
		p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\./\1/p' "$3" | tail -n 1)
		f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s).*/\1/p' "$3" | tail -n 1)
	fi
	p=${p:-0} f=${f:-0}
	if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	passed=$((passed + p)) failed=$((failed + f))
	[ "$f" -eq 0 ] || failed_names="$failed_names $1"
}

for bin in "$@"; do
	name=$(basename "$bin")
	echo "== unit: $name"
	"$bin" >"$log" 2>&1
	rc=$?
	cat "$log"
	count "$name" "$rc" "$log"
done

for suite in "$top"/tests/*/run.sh; do
	[ -f "$suite" ] || continue
	name=$(basename "$(dirname "$suite")")
	case " ${NEURON_SKIP_SUITES:-} " in *" $name "*) continue ;; esac
	echo "== suite: $name"
	sh "$suite" >"$log" 2>&1
	rc=$?
	cat "$log"
	count "$name" "$rc" "$log"
done

echo
[ -z "$failed_names" ] || echo "failed:$failed_names"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
