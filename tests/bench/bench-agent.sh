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
# qemu-ga was seen hanging in its exit path (a futex, SIGTERM blocked): a second later it
# gets SIGKILL, so that it can never hold make bench's output pipe open.
stop() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	sleep 1
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap stop EXIT

# $BUILD/bench/agent_bench is built by make bench, with the flags and the wolfSSL of the programs.
[ -x "$BUILD/bench/agent_bench" ] || { echo "bench-agent: $BUILD/bench/agent_bench missing (make bench)"; exit 1; }
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
"$BUILD/bench/agent_bench" "$T/agent.sock" "$T/state/agent/bench" "$qga" 2000
