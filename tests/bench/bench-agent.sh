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
# Where the processes run decides a round trip more than what they do: a wakeup on the
# same CPU is a hand-over, on the other an interrupt between CPUs (costlier still in a VM).
# Left to the scheduler, whichever server shared the client's CPU looked fast and the other
# slow, by 3x either way between runs. So both servers get CPU 1 and the client CPU 0, as
# a guest's agent runs on its own vCPU.
server="" client=""
if [ "$(nproc 2>/dev/null || echo 1)" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
	server="taskset -c 1" client="taskset -c 0"
	echo "CPUs: neuron-agent and qemu-ga on CPU 1, the host side on CPU 0"
fi
$server "$BUILD/neuron-agent" --listen "$T/agent.sock" --certs "$T/bundle" --platform memory &
pids="$pids $!"
qga=-
if command -v qemu-ga >/dev/null 2>&1; then
	mkdir -p "$T/qga-state"
	$server qemu-ga -m unix-listen -p "$T/qga.sock" -f "$T/qga.pid" -t "$T/qga-state" 2>"$T/qga.log" &
	pids="$pids $!"
	qga="$T/qga.sock"
fi
i=0
while { [ ! -S "$T/agent.sock" ] || { [ "$qga" != - ] && [ ! -S "$qga" ]; }; } && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
$client "$BUILD/bench/agent_bench" "$T/agent.sock" "$T/state/agent/bench" "$qga" 2000
