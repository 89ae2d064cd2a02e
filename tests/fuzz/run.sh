#!/bin/sh
# The agent fuzz target (fuzz_agent.c): built with clang's libFuzzer (+ASan/UBSan) and run
# briefly from the seed corpus; where libFuzzer is missing, a plain driver runs the corpus.
# NEURON_FUZZ_SECONDS sets the run time (default 10; the ASan pass replays the corpus only,
# the target is sanitised already).
set -u
: "${BUILD:?}"
. "$(dirname "$0")/../lib.sh"
verbose=1
out="$BUILD/fuzz"
mkdir -p "$out"
srcs="$here/fuzz_agent.c $top/core/guest/agent_proto.c $top/core/base/util.c $top/core/base/error.c"
flags="-g -O1 -std=gnu11 -D_GNU_SOURCE -I$top/core/include -I$top/core $(pkg-config --cflags json-c)"
libs="$(pkg-config --libs json-c)"
clang=$(command -v clang-14 || command -v clang || true)

if [ -n "$clang" ] && $clang -fsanitize=fuzzer,address,undefined $flags -o "$out/fuzz_agent" $srcs $libs 2>"$out/build.log"; then
	work="$out/corpus"
	rm -rf "$work"
	mkdir -p "$work"
	cp "$here"/corpus/* "$work"/
	if [ "${NEURON_ASAN:-0}" = 1 ]; then
		args="-runs=0"
	else
		args="-max_total_time=${NEURON_FUZZ_SECONDS:-10} -timeout=5 -rss_limit_mb=1024 -max_len=65536"
	fi
	# shellcheck disable=SC2086
	if "$out/fuzz_agent" $args -print_final_stats=0 "$work" >"$out/run.log" 2>&1; then
		ok "libFuzzer $args: $(grep -o 'Done [0-9]* runs[^$]*' "$out/run.log" | tail -n 1)"
	else
		bad "the fuzz target crashed; the input is in $out (reproduce: $out/fuzz_agent FILE)"
		tail -n 40 "$out/run.log"
	fi
else
	echo "note: no clang with libFuzzer (see mk/packages/agent.txt): plain driver on the corpus"
	if cc $flags -o "$out/fuzz_driver" "$here/driver.c" $srcs $libs && "$out/fuzz_driver" "$here"/corpus/*; then
		ok "the plain driver on the corpus"
	else
		bad "the plain driver on the corpus"
	fi
fi
summary fuzz
