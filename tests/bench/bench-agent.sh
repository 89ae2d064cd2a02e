#!/bin/sh
# Guest agent channel: ping round trip and clipboard throughput over TLS on a unix socket
# (libneuron's client against build/neuron-agent, memory platform), beside
# qemu-guest-agent's guest-ping over a unix socket (qemu-ga -m unix-listen) in the same run.
# Figures and ratios only: never a pass/fail on time.
set -u
: "${BUILD:?}" "${NEURONCTL:?}"
top=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/neuron-bench-agent-XXXXXX)
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$T"' EXIT

cc -O2 -std=gnu11 -D_GNU_SOURCE -I"$top/core/include" -o "$T/agent_bench" "$top/tests/bench/agent_bench.c" \
	"$BUILD/libneuron.a" $(pkg-config --libs libvirt libpci yaml-0.1 wolfssl libxml-2.0 json-c) -lm -lpthread || exit 1
"$NEURONCTL" --param state_dir="$T/state" agent certs bench --bundle "$T/bundle" >/dev/null || exit 1
"$BUILD/neuron-agent" --listen "$T/agent.sock" --certs "$T/bundle" --platform memory &
pids="$pids $!"
qga=-
if command -v qemu-ga >/dev/null 2>&1; then
	mkdir -p "$T/qga-state"
	qemu-ga -m unix-listen -p "$T/qga.sock" -f "$T/qga.pid" -t "$T/qga-state" 2>"$T/qga.log" &
	pids="$pids $!"
	qga="$T/qga.sock"
fi
i=0
while { [ ! -S "$T/agent.sock" ] || { [ "$qga" != - ] && [ ! -S "$qga" ]; }; } && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
"$T/agent_bench" "$T/agent.sock" "$T/state/agent/bench" "$qga" 2000
