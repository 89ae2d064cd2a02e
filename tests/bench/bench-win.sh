#!/bin/sh
# The Windows agent under Wine beside the Linux agent, in the same run and over the same
# transport (a pty pair, tests/agent/ptypair.py): ping round trip and 16 MiB clipboard
# image throughput (a real PNG, which the Windows agent decodes with WIC to put a bitmap
# beside it), with libneuron's client (agent_bench). The Linux agent runs the memory
# platform; the Windows one is the service the MSI installs, its clipboard Wine's. Figures
# and the ratios Windows / Linux (the goal: within 2x); never a pass or fail.
set -u
: "${BUILD:?}" "${NEURONCTL:?}"
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/win/lib.sh"
B=$BUILD/bench-win
trap 'win_cleanup; rm -rf "$B.linux"' EXIT
for t in wine Xvfb; do
	command -v $t >/dev/null 2>&1 || { echo "bench-win: $t missing (make deps)"; exit 0; }
done
[ -f "$BUILD/win/neuron-agent.msi" ] && [ -x "$BUILD/bench/agent_bench" ] || { echo "bench-win: build first (make bench)"; exit 1; }
win_setup "$B" >/dev/null 2>&1 || { echo "bench-win: no Wine environment"; exit 1; }
B=$WT
L=$B.linux
rm -rf "$L" && mkdir -p "$L"
N="$NEURONCTL --param state_dir=$L/state"
$N agent certs bench --bundle "$L/bundle" >/dev/null || exit 1
mkdir -p "$C/neuron-certs"
cp "$L"/bundle/* "$C/neuron-certs/"
[ -n "$as" ] && chown -R 65534:65534 "$C/neuron-certs"
cp "$BUILD/win/neuron-agent.msi" "$C/"
wine_ msiexec /i 'C:\neuron-agent.msi' /qn 'CERTS=C:\neuron-certs' >/dev/null 2>&1
win_running || { echo "bench-win: the service did not start"; exit 1; }
# a 16 MiB PNG: 2048x2048 RGBA, stored (level 0) so that it stays 16 MiB
"${PYTHON:-python3}" - "$L/img.png" <<'PY'
import struct, sys, zlib
w = h = 2048
row = lambda y: b"\0" + bytes((x * 7 + y) & 255 for x in range(w * 4))
raw = b"".join(row(y) for y in range(h))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)) +
                              chunk(b"IDAT", zlib.compress(raw, 0)) + chunk(b"IEND", b""))
PY
# the Linux agent on a pty pair of its own
"${PYTHON:-python3}" "$top/tests/agent/ptypair.py" "$L/port.guest" "$L/port.host" >/dev/null 2>&1 &
pids="$pids $!"
wait_for "$L/port.host"
"$BUILD/neuron-agent" --port "$L/port.guest" --certs "$L/bundle" --platform memory &
pids="$pids $!"
"$BUILD/bench/agent_bench" "$L/port.host" "$L/state/agent/bench" - 300 "$L/img.png" >"$L/linux.txt" 2>&1 ||
	{ echo "bench-win: the Linux agent:"; cat "$L/linux.txt"; exit 1; }
"$BUILD/bench/agent_bench" "$CHAN" "$L/state/agent/bench" - 300 "$L/img.png" >"$L/win.txt" 2>&1 ||
	{ echo "bench-win: the Windows agent:"; cat "$L/win.txt"; exit 1; }
echo "Linux agent (memory platform):"
sed -n 's/^neuron-agent ping/  ping/p; s/^clipboard image/  clipboard/p' "$L/linux.txt"
echo "Windows agent under Wine (the installed service, Wine's clipboard):"
sed -n 's/^neuron-agent ping/  ping/p; s/^clipboard image/  clipboard/p' "$L/win.txt"
"${PYTHON:-python3}" - "$L/linux.txt" "$L/win.txt" <<'PY'
import re, sys
def figs(p):
    t = open(p).read()
    ping = float(re.search(r"median\s+([0-9.]+) us", t).group(1))
    mbs = [float(x) for x in re.findall(r"([0-9.]+) MB/s", t)]
    return ping, mbs[0], mbs[1]
l, w = figs(sys.argv[1]), figs(sys.argv[2])
print("ratio Windows / Linux: ping %.2f (round trip, above 1: Windows slower)" % (w[0] / l[0]))
print("ratio Linux / Windows: clipboard set %.2f, get %.2f (throughput, above 1: Windows slower; goal within 2x)"
      % (l[1] / w[1], l[2] / w[2]))
PY
