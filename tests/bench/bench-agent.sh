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
agent_pid=$!
pids="$pids $agent_pid"
qga=-
if command -v qemu-ga >/dev/null 2>&1; then
	mkdir -p "$T/qga-state"
	$server qemu-ga -m unix-listen -p "$T/qga.sock" -f "$T/qga.pid" -t "$T/qga-state" 2>"$T/qga.log" &
	qga_pid=$! # taskset execs qemu-ga: the same process
	pids="$pids $qga_pid"
	qga="$T/qga.sock"
fi
i=0
while { [ ! -S "$T/agent.sock" ] || { [ "$qga" != - ] && [ ! -S "$qga" ]; }; } && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
NEURON_BENCH_AGENT_PID=$agent_pid $client "$BUILD/bench/agent_bench" "$T/agent.sock" "$T/state/agent/bench" \
	"$qga" 2000 >"$T/out" || status=1
grep -v '^HANDSHAKE_US \|^AGENT_RSS_IMAGE ' "$T/out"
hs_us=$(sed -n 's/^HANDSHAKE_US //p' "$T/out")
rss_image=$(sed -n 's/^AGENT_RSS_IMAGE //p' "$T/out")

# Memory: the agent's resident set now (idle after the transfers above, its clipboard back
# to a short text: what it keeps of its own), and while its clipboard held the 16 MiB image
# (the memory platform keeps what it is given, as a desktop's clipboard owner does), beside
# qemu-ga's resident set; its peak (VmHWM) over the 16 MiB transfers each way.
kib() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$2/status" 2>/dev/null; }
rss=$(kib VmRSS "$agent_pid") hwm=$(kib VmHWM "$agent_pid")
qrss=-
[ "$qga" != - ] && qrss=$(kib VmRSS "$qga_pid")
if [ -n "$rss" ] && [ -n "$hwm" ]; then
	echo "$rss $hwm $qrss ${rss_image:--}" | awk '{ goal = 1.25 * 16 * 1024 + 16 * 1024;
		printf "neuron-agent memory: steady %.1f MiB (goal 8: ratio %.2f)", $1 / 1024, $1 / 8192;
		if ($3 != "-" && $3 > 0) printf "; qemu-ga idle %.1f MiB: ratio %.2f", $3 / 1024, $1 / $3;
		if ($4 != "-") printf "; %.1f MiB while its clipboard held the 16 MiB image", $4 / 1024;
		printf "\nneuron-agent peak %.1f MiB over the 16 MiB transfers, 5 each way (an image arrives while the last one is still the clipboard; 1.25x + 16 MiB = %.0f MiB: ratio %.2f)\n", $2 / 1024, goal / 1024, $2 / goal }'
fi

# The peak for one 64 MiB transfer each way (the transfer cap): a fresh agent, its VmHWM
# after one clipboard-set and one clipboard-get of a 64 MiB image.
"$BUILD/neuron-agent" --listen "$T/big.sock" --certs "$T/bundle" --platform memory &
big_pid=$!
pids="$pids $big_pid"
i=0
while [ ! -S "$T/big.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
before=$(kib VmRSS "$big_pid")
if NEURON_BENCH_MIB=64 NEURON_BENCH_ROUNDS=1 NEURON_BENCH_NO_V1=1 "$BUILD/bench/agent_bench" "$T/big.sock" "$T/state/agent/bench" - 1 \
	>"$T/big.out" 2>&1; then
	sed -n 's/^clipboard image \(64.0 MiB, .*\) (best of 1)/one \1/p' "$T/big.out"
	echo "$(kib VmHWM "$big_pid") ${before:-0}" | awk '{ goal = 1.25 * 64 * 1024 + 16 * 1024;
		printf "neuron-agent peak for a 64 MiB image each way: %.1f MiB from %.1f MiB at start (1.25x + 16 MiB = %.0f MiB: ratio %.2f)\n", $1 / 1024, $2 / 1024, goal / 1024, $1 / goal }'
else
	echo "64 MiB transfer: failed: $(tail -n 1 "$T/big.out")"
fi
kill "$big_pid" 2>/dev/null

# The whole command a user waits for (process start, connect, handshake, hello, ping),
# beside neuronctl --version (the process alone), alternating.
"$PYTHON" - "$NEURONCTL" "$T" <<'EOF_PY'
import statistics, subprocess, sys, time
nc, t = sys.argv[1], sys.argv[2]
ping = [nc, "--param", "state_dir=%s/state" % t, "agent", "ping", "--socket", t + "/agent.sock", "bench"]
a, b = [], []
for _ in range(31):
    for cmd, v in ((ping, a), ([nc, "--version"], b)):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        v.append((time.perf_counter() - t0) * 1000)
pa, pb = statistics.median(a), statistics.median(b)
print("neuronctl agent ping (whole command): median %.1f ms; neuronctl --version %.1f ms: ratio %.2f; "
      "ratio to the 15 ms goal %.2f" % (pa, pb, pa / pb, pa / 15))
EOF_PY

# OpenSSL's own TLS 1.3 handshake with the same certificates (P-256 keys, the same CA,
# the client's certificate asked for and verified, ECDHE on P-256), new connections for
# 3 s with s_time, on loopback TCP (s_time has no unix sockets).
if command -v openssl >/dev/null 2>&1 && [ -n "$hs_us" ]; then
	printf 'openssl_conf = oc\n[oc]\nssl_conf = sc\n[sc]\nsystem_default = sd\n[sd]\nGroups = P-256\n' >"$T/ossl.cnf"
	port=$((20000 + $$ % 20000))
	b=$T/bundle s=$T/state/agent/bench
	OPENSSL_CONF=$T/ossl.cnf $server openssl s_server -quiet -accept "127.0.0.1:$port" -tls1_3 \
		-cert "$b/guest.pem" -key "$b/guest.key" -CAfile "$b/ca.pem" -Verify 1 </dev/null >/dev/null 2>&1 &
	pids="$pids $!"
	sleep 0.5
	conns=$(OPENSSL_CONF=$T/ossl.cnf $client openssl s_time -connect "127.0.0.1:$port" -new -tls1_3 -time 3 \
		-cert "$s/host.pem" -key "$s/host.key" -CAfile "$s/ca.pem" -verify 1 2>/dev/null |
		sed -n 's/^\([0-9][0-9]*\) connections in \([0-9.]*\) real seconds.*/\1 \2/p' | tail -n 1)
	if [ -n "$conns" ]; then
		echo "$conns $hs_us" | awk '{ us = $2 * 1e6 / $1;
			printf "OpenSSL TLS 1.3 handshake (s_server/s_time, same certificates, P-256): %.1f us a connection; ours / OpenSSL: %.2f (goal: within 2)\n", us, $3 / us }'
	else
		echo "OpenSSL handshake: s_time gave no figure (port $port busy?)"
	fi
	# The transfer peer: OpenSSL's TLS 1.3 with AES-128-GCM (the agent's cipher with the
	# assembly build), the same certificates, moving the clipboard's 16 MiB each way over a
	# unix socket (tls_peer.py: Python's ssl module, large writes), best of 5 like ours.
	printf 'Ciphersuites = TLS_AES_128_GCM_SHA256\n' >>"$T/ossl.cnf"
	peer=$(OPENSSL_CONF=$T/ossl.cnf $client "$PYTHON" "$(dirname "$0")/tls_peer.py" "$b" "$s" 16 2>/dev/null)
	set_mbs=$(sed -n 's/^clipboard image .*, host to guest: *\([0-9.]*\) MB\/s.*/\1/p' "$T/out")
	get_mbs=$(sed -n 's/^clipboard image .*, guest to host: *\([0-9.]*\) MB\/s.*/\1/p' "$T/out")
	if [ -n "$peer" ]; then
		echo "$peer ${set_mbs:-0} ${get_mbs:-0}" | awk '{
			printf "OpenSSL TLS 1.3 (%s), 16 MiB each way over a unix socket: %.1f MB/s out, %.1f MB/s back; clipboard / OpenSSL: set %.2f, get %.2f (goal: 0.8)\n", $1, $2, $3, $4 / $2, $5 / $3 }'
	else
		echo "OpenSSL transfer: tls_peer.py gave no figure"
	fi
else
	echo "OpenSSL handshake and transfer: not measured (no openssl)"
fi
exit ${status:-0}
