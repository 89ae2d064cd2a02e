#!/bin/sh
# neuronctl agent sync: the host desktop's clipboard kept in sync with a guest's, both ways.
# The host desktop is a private Xvfb (X11: XFixes change events, xclip) and a weston nested
# in it (Wayland: wl-clipboard; weston has no data-control protocol, so wl-paste --watch
# ends and sync polls, saying so). The guest is the reference agent on its memory platform
# with NEURON_AGENT_TEST_DIR: every clipboard set lands in $G/clipboard and one line of
# $G/sets.log, and a user's copy in the guest (SIGUSR1) takes $G/copy.
#
# What is checked, each at the far end byte for byte: text and a PNG both ways; 100
# alternating copies make exactly 100 transfers (and a marker after them one more: no echo
# went back and forth); the agent restarted mid-sync (sync reconnects, resyncs once, no
# duplicate paste); the cap refused with a message, both ways; sync paused while a Looking
# Glass header that advertises the clipboard is present, resumed when it goes; the status
# file the TUI reads; no desktop session is a clear error.
#
# Waits are for something to happen (a line in sync's output, a file), bounded so that a
# failure cannot hang the suite; nothing asserts on time. Needs mk/packages/desktop.txt.
set -u
: "${BUILD:?}" "${NEURONCTL:?}"
unset DISPLAY WAYLAND_DISPLAY XDG_RUNTIME_DIR XDG_SESSION_TYPE XAUTHORITY
. "$(dirname "$0")/../lib.sh"
verbose=1
T=$(mktemp -d /tmp/neuron-sync-XXXXXX)
show=$T/out
AGENT="$BUILD/neuron-agent"
PY=${PYTHON:-python3}
G=$T/guest
mkdir -p "$G" "$T/run" "$T/xdg" && chmod 700 "$T/run" "$T/xdg"
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

for tool in Xvfb xclip weston wl-copy wl-paste; do
	if ! command -v $tool >/dev/null 2>&1; then
		bad "$tool is installed (make deps installs mk/packages/desktop.txt)"
		summary sync
		exit 1
	fi
done

N="$NEURONCTL --param state_dir=$T/state --param runtime_dir=$T/run"
$N agent certs vm1 --bundle "$T/bundle" >/dev/null || { echo "cannot make certificates"; exit 1; }

same() { # NAME FILE1 FILE2: byte-identical
	if cmp -s "$2" "$3"; then ok "$1"; else bad "$1 ($(wc -c <"$2" 2>/dev/null) vs $(wc -c <"$3" 2>/dev/null) bytes)"; fi
}
# until_true COMMAND...: run COMMAND until it succeeds (at most about 20 s); its status
until_true() {
	_i=0
	while ! "$@"; do
		[ $_i -ge 400 ] && return 1
		sleep 0.05
		_i=$((_i + 1))
	done
}
# events KIND: how many lines of sync's output are events of KIND
events() { grep -c "\"event\": *\"$1\"" "$T/sync.out" 2>/dev/null || true; }
at_least() { [ "$(events "$1")" -ge "$2" ]; }
transfers() { events transfer; }
# wait_transfers N: until sync made N transfers in all
wait_transfers() { until_true at_least transfer "$1"; }
sets() { if [ -f "$G/sets.log" ]; then wc -l <"$G/sets.log" | tr -d ' '; else echo 0; fi; }

# --- test data: a PNG of noise (about 600 kB), a small PNG, UTF-8 text, 2 MiB over the cap
"$PY" - "$T/img.png" 400 500 "$T/small.png" <<'PY'
import os, struct, sys, zlib
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
def png(w, h, rows):
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) \
        + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b"")
w, h = int(sys.argv[2]), int(sys.argv[3])
open(sys.argv[1], "wb").write(png(w, h, b"".join(b"\0" + os.urandom(w * 3) for _ in range(h))))
open(sys.argv[4], "wb").write(png(32, 32, b"".join(b"\0" + bytes((x * 5 + y) & 255 for x in range(96)) for y in range(32))))
PY
printf 'h\303\251llo from the host \342\234\223\n\ttab' >"$T/host.txt"
printf 'copied in the guest \346\227\245\346\234\254' >"$T/guest.txt"
head -c 2097152 /dev/zero | tr '\0' 'x' >"$T/big.txt"

# ============================================================ no desktop session
expect_exit "no desktop session: sync refuses to start" 1 $N agent sync --socket "$T/none.sock" vm1
output_has "no desktop session: says what is missing" "no desktop session: neither WAYLAND_DISPLAY nor DISPLAY"
expect_exit "--cap must be a size" 2 env DISPLAY=:0 $N agent sync --cap lots --socket "$T/none.sock" vm1
output_has "--cap: the usage error says the form" "--cap: 'lots' is not a size; write it like 16G or 512M"

# ============================================================ X11
if ! xvfb_start "$T" 1024x768x24; then
	bad "Xvfb starts on a free display"
	summary sync
	exit 1
fi
X=$xvfb_display
xu() { env DISPLAY="$X" "$@"; } # the user on the host's X desktop
host_copy() { xu xclip -selection clipboard -i -t "$1" <"$2" >/dev/null 2>&1; } # TYPE FILE
host_paste() { xu xclip -selection clipboard -o -t "$1" >"$2" 2>/dev/null; }      # TYPE FILE
guest_copy() { cp "$1" "$G/copy.tmp" && mv "$G/copy.tmp" "$G/copy" && kill -USR1 "$agent"; } # FILE

start_agent() {
	NEURON_AGENT_TEST_DIR=$G "$AGENT" --listen "$T/g.sock" --certs "$T/bundle" --platform memory \
		2>>"$T/agent.err" &
	agent=$!
	pids="$pids $agent"
	until_true test -S "$T/g.sock"
}
stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
start_sync() { # ENV... : sync on the X desktop (more environment words first)
	: >"$T/sync.out"
	env DISPLAY="$X" "$@" $N agent sync --socket "$T/g.sock" --cap 1M --timeout 20000 --json vm1 \
		>"$T/sync.out" 2>"$T/sync.err" &
	sync=$!
	pids="$pids $sync"
}

start_agent
start_sync
if until_true at_least connected 1; then ok "x11: sync connects to the agent"; else bad "x11: sync connects"; cat "$T/sync.err"; fi
grep -q '"watching".*XFixes selection events' "$T/sync.out" && ok "x11: host changes come from XFixes events" ||
	bad "x11: host changes come from XFixes events ($(head -1 "$T/sync.out"))"

# --- while sync holds the agent, another command says so at once (the agent serves one host)
expect_exit "x11: agent ping while sync runs is refused" 1 $N agent ping --socket "$T/g.sock" vm1
output_has "x11: it names the sync and how to stop it" "agent sync (pid $sync) holds the agent of vm1"
output_has "x11: as BUSY" "[BUSY]"

# --- host -> guest: text, then a PNG
n=$(transfers)
host_copy UTF8_STRING "$T/host.txt"
wait_transfers $((n + 1))
same "x11: host text reaches the guest" "$T/host.txt" "$G/clipboard"
grep -q '"direction": *"to-guest", *"mime": *"text/plain"' "$T/sync.out" && ok "x11: reported as text to the guest" ||
	bad "x11: reported as text to the guest"
host_copy image/png "$T/img.png"
wait_transfers $((n + 2))
same "x11: host PNG ($(wc -c <"$T/img.png") bytes) reaches the guest" "$T/img.png" "$G/clipboard"
[ "$(tail -1 "$G/sets.log")" = "image/png $(wc -c <"$T/img.png" | tr -d ' ')" ] && ok "x11: the guest got it as image/png" ||
	bad "x11: the guest got it as image/png ($(tail -1 "$G/sets.log"))"

# --- guest -> host: text, then a PNG
guest_copy "$T/guest.txt"
wait_transfers $((n + 3))
host_paste UTF8_STRING "$T/got.txt"
same "x11: guest text reaches the host" "$T/guest.txt" "$T/got.txt"
guest_copy "$T/small.png"
wait_transfers $((n + 4))
host_paste image/png "$T/got.png"
same "x11: guest PNG reaches the host" "$T/small.png" "$T/got.png"
[ "$(sets)" = 2 ] && ok "x11: what came from the guest was not sent back to it" || bad "x11: nothing echoed to the guest (sets: $(sets))"

# --- 100 alternating copies: 100 transfers, then a marker makes one more
n=$(transfers) s=$(sets)
i=1
while [ $i -le 50 ]; do
	printf 'host copy %d' $i >"$T/h.txt"
	host_copy UTF8_STRING "$T/h.txt"
	wait_transfers $((n + 2 * i - 1)) || break
	printf 'guest copy %d' $i >"$T/g.txt"
	guest_copy "$T/g.txt"
	wait_transfers $((n + 2 * i)) || break
	i=$((i + 1))
done
printf 'marker' >"$T/marker.txt"
host_copy UTF8_STRING "$T/marker.txt"
wait_transfers $((n + 101))
same "loop: the marker after 100 alternating copies reached the guest" "$T/marker.txt" "$G/clipboard"
[ "$(transfers)" = $((n + 101)) ] && ok "loop: 100 copies and the marker made 101 transfers, no echo" ||
	bad "loop: 101 transfers, no echo (got $(($(transfers) - n)))"
# A request that timed out on a loaded machine is reported as failed and resynced after; if
# the agent did take it late, the guest was set once more without an echo: counted apart.
late=$(grep '"failed"' "$T/sync.out" | grep -c '"to-guest"')
# what a failure shows: the events that are not transfers, then each set of the guest beside
# the to-guest transfers sync reported, in order
{
	grep -v '"transfer"' "$T/sync.out"
	sed -n 's/.*"to-guest","mime":"\([^"]*\)","size":\([0-9]*\).*/\1 \2/p' "$T/sync.out" >"$T/to-guest"
	diff "$T/to-guest" "$G/sets.log" | head -n 12
} >"$show" 2>&1
[ "$(sets)" -ge $((s + 51)) ] && [ "$(sets)" -le $((s + 51 + late)) ] &&
	ok "loop: the guest was set 51 times (50 host copies and the marker; $late late)" ||
	bad "loop: the guest was set 51 times (got $(($(sets) - s)), $late failed sets)"

# --- the status file the TUI's Agents panel reads
st=$T/run/sync/vm1.json
"$PY" - "$st" "$sync" "$(transfers)" <<'PY' >"$show" 2>&1 && ok "status file: pid, state, transfers, last transfer" || bad "status file: pid, state, transfers, last transfer"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["pid"] == int(sys.argv[2]), d
assert d["state"] == "syncing", d
assert d["transfers"] == int(sys.argv[3]), d
assert d["last"]["direction"] == "to-guest" and d["last"]["mime"] == "text/plain" and d["last"]["size"] == 6, d
PY

# --- the TUI's Agents panel reads it: sync runs, its last transfer and size; the agent
# that sync holds is not pinged (the channel takes one host at a time)
cat >"$T/node.xml" <<XML
<node><domain type='test'><name>vm1</name><memory>524288</memory><os><type>hvm</type></os>
<devices><channel type='unix'><source mode='bind' path='$T/g.sock'/>
<target type='virtio' name='org.neuronos.agent.0'/></channel></devices></domain></node>
XML
tui_agents() { # the Agents panel's screen into $show
	printf 'key 4\ndump agents\n' >"$T/keys"
	LC_ALL=C "$BUILD/neuron-tui" --sysroot "${SYSROOTS:-$BUILD/sysroots}/demo" --connect "test://$T/node.xml" \
		--param state_dir="$T/state" --param runtime_dir="$T/run" \
		--test-script "$T/keys" --test-dump "$T/screen" 2>"$T/tui.err"
	cp "$T/screen" "$show"
}
tui_agents
for want in "vm1               + connected   -         by sync    -          syncing" \
	"+ Clipboard sync runs (pid $sync): syncing, $(transfers) transfers" \
	"Last transfer host -> guest, " ": text/plain, 6 bytes" "1 of 1 agent connected" \
	"Agent of VM vm1: connected over TLS 1.3, held by agent sync"; do
	output_has "tui: the Agents panel shows '$want'" "$want"
done

# --- the cap (1M here): refused both ways, with a message; nothing moved
n=$(transfers)
host_copy UTF8_STRING "$T/big.txt"
if until_true at_least refused 1; then ok "cap: host content over the cap is refused"; else bad "cap: host content over the cap is refused"; fi
grep '"refused"' "$T/sync.out" | head -1 >"$show"
output_has "cap: the message names the size and the cap" "text/plain of 2097152 bytes is over the cap of 1048576 bytes"
guest_copy "$T/big.txt"
until_true at_least refused 2 && ok "cap: guest content over the cap is refused" || bad "cap: guest content over the cap is refused"
grep '"refused"' "$T/sync.out" | tail -1 >"$show"
output_has "cap: the guest's refusal says its direction" "guest -> host"
[ "$(transfers)" = "$n" ] && ok "cap: nothing over the cap was copied" || bad "cap: nothing over the cap was copied"
same "cap: the guest still holds the marker" "$T/marker.txt" "$G/clipboard"

# --- the agent restarted mid-sync: reconnect, one resync, no duplicate
host_copy UTF8_STRING "$T/host.txt"
wait_transfers $((n + 1))
stop_pid "$agent"
rm -f "$G/sets.log" "$G/clipboard" "$G/copy"
c=$(events connected)
start_agent
until_true at_least connected $((c + 1)) && ok "restart: sync reconnects to the restarted agent" ||
	bad "restart: sync reconnects"
wait_transfers $((n + 2))
same "restart: the resync gave the new agent the host's clipboard" "$T/host.txt" "$G/clipboard"
host_copy UTF8_STRING "$T/marker.txt"
wait_transfers $((n + 3))
same "restart: sync carries on after it" "$T/marker.txt" "$G/clipboard"
[ "$(sets)" = 2 ] && ok "restart: the guest was set once by the resync and once by the next copy (no duplicate)" ||
	bad "restart: no duplicate paste (sets: $(sets): $(tr '\n' ';' <"$G/sets.log"))"
grep -q '"waiting"' "$T/sync.out" && ok "restart: sync said it was waiting for the agent" || bad "restart: sync said it was waiting"
stop_pid "$sync"
"$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['state']=='stopped', d" "$st" &&
	ok "status file: a stopped sync says so" || bad "status file: a stopped sync says so"

# --- Looking Glass carries the clipboard: sync pauses, says so, resumes when it goes
shm=$T/looking-glass
"$PY" "$top/tests/lg/shm.py" make lgmp10 "$shm"
: >"$T/sync.out"
env DISPLAY="$X" $N agent sync --socket "$T/g.sock" --lg-shm "$shm" --json vm1 >"$T/sync.out" 2>"$T/sync.err" &
sync=$!
pids="$pids $sync"
until_true at_least paused 1 && ok "lg: sync pauses while a Looking Glass host advertises the clipboard" ||
	bad "lg: sync pauses while Looking Glass carries the clipboard"
grep '"paused"' "$T/sync.out" >"$show"
output_has "lg: and says why" "carries the clipboard itself (KVMFR feature clipboard)"
printf 'copied while paused' >"$T/paused.txt"
host_copy UTF8_STRING "$T/paused.txt"
rm -f "$shm"
until_true at_least resumed 1 && ok "lg: sync resumes when the header goes" || bad "lg: sync resumes"
until_true at_least transfer 1
same "lg: what was copied while paused reaches the guest after" "$T/paused.txt" "$G/clipboard"
"$PY" - "$T/sync.out" <<'PY' >"$show" 2>&1 && ok "lg: nothing moved while paused" || bad "lg: nothing moved while paused"
import json, sys
kinds = [json.loads(l)["event"] for l in open(sys.argv[1])]
assert kinds.index("transfer") > kinds.index("resumed"), kinds
PY
"$PY" "$top/tests/lg/shm.py" make b7 "$shm"
# the B7 header alone (no SPICE in a domain given by --socket) does not pause
host_copy UTF8_STRING "$T/host.txt"
until_true at_least transfer 2 && ok "lg: a B7 host without SPICE does not pause sync" || bad "lg: a B7 host without SPICE does not pause sync"
# a sync killed without a word leaves its file saying "syncing": its dead pid tells the panel
kill -KILL "$sync"
wait "$sync" 2>/dev/null
grep -q '"state":"syncing"' "$st" && ok "killed: the status file still says syncing" || bad "killed: the status file still says syncing"
tui_agents
output_has "tui: a killed sync is not shown as running" "Clipboard sync: off (neuronctl agent sync vm1"

# --- the same decision from the VM's domain: its channel, its Looking Glass memory (under the
# sysroot) and SPICE graphics, through libvirt's test driver. A B7 host carries the clipboard
# over SPICE: sync pauses; with the client told not to use SPICE (lg.spice=no) it does not.
mkdir -p "$T/sys/dev/shm"
"$PY" "$top/tests/lg/shm.py" make b7 "$T/sys/dev/shm/looking-glass"
cat >"$T/node-lg.xml" <<XML
<node><domain type='test'><name>vm1</name><memory>524288</memory><os><type>hvm</type></os>
<devices><channel type='unix'><source mode='bind' path='$T/g.sock'/>
<target type='virtio' name='org.neuronos.agent.0'/></channel>
<graphics type='spice' autoport='yes'/>
<shmem name='looking-glass'><model type='ivshmem-plain'/><size unit='M'>32</size></shmem>
</devices></domain></node>
XML
: >"$T/sync.out"
env DISPLAY="$X" $N --connect "test://$T/node-lg.xml" --sysroot "$T/sys" agent sync --json vm1 \
	>"$T/sync.out" 2>"$T/sync.err" &
sync=$!
pids="$pids $sync"
until_true at_least paused 1 && ok "domain: a B7 host with SPICE in the domain pauses sync" ||
	bad "domain: a B7 host with SPICE in the domain pauses sync ($(cat "$T/sync.err"))"
grep '"paused"' "$T/sync.out" >"$show"
output_has "domain: and says why" "B7 host in $T/sys/dev/shm/looking-glass carries the clipboard over the VM's SPICE channel"
stop_pid "$sync"
: >"$T/sync.out"
env DISPLAY="$X" $N --connect "test://$T/node-lg.xml" --sysroot "$T/sys" --param lg.spice=no \
	agent sync --json vm1 >"$T/sync.out" 2>"$T/sync.err" &
sync=$!
pids="$pids $sync"
printf 'the client has no SPICE' >"$T/nospice.txt"
host_copy UTF8_STRING "$T/nospice.txt"
until_true cmp -s "$T/nospice.txt" "$G/clipboard"
same "domain: with lg.spice=no the B7 host does not pause sync" "$T/nospice.txt" "$G/clipboard"
[ "$(events paused)" = 0 ] && ok "domain: and it never said paused" || bad "domain: and it never said paused"
stop_pid "$sync"

# ============================================================ Wayland (weston in the Xvfb)
WL="wl-sync-$$"
env -u WAYLAND_DISPLAY DISPLAY="$X" XDG_RUNTIME_DIR="$T/xdg" XDG_CONFIG_HOME="$T/cfg" \
	weston --backend=x11-backend.so --use-pixman --no-config --idle-time=0 --socket="$WL" \
	>"$T/weston.log" 2>&1 &
weston=$!
pids="$pids $weston"
until_true test -S "$T/xdg/$WL"
wu() { env -u DISPLAY WAYLAND_DISPLAY="$WL" XDG_RUNTIME_DIR="$T/xdg" "$@"; } # the Wayland user
i=0
until printf probe | wu wl-copy --type text/plain 2>/dev/null || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
: >"$T/sync.out"
# (env itself in the background, not a function: $! is then the sync's own pid)
env -u DISPLAY WAYLAND_DISPLAY="$WL" XDG_RUNTIME_DIR="$T/xdg" $N agent sync --socket "$T/g.sock" --json vm1 \
	>"$T/sync.out" 2>"$T/sync.err" &
sync=$!
pids="$pids $sync"
until_true at_least connected 1 && ok "wayland: sync connects" || bad "wayland: sync connects"
n=$(transfers)
until_true grep -q '"watching".*polling' "$T/sync.out" &&
	ok "wayland: without data-control, sync says it polls" || bad "wayland: sync says it polls ($(grep watching "$T/sync.out"))"
wu wl-copy --type text/plain <"$T/host.txt"
until_true cmp -s "$T/host.txt" "$G/clipboard"
same "wayland: host text reaches the guest" "$T/host.txt" "$G/clipboard"
n=$(transfers)
guest_copy "$T/small.png"
wait_transfers $((n + 1))
wu wl-paste --no-newline --type image/png >"$T/got.png" 2>/dev/null
same "wayland: guest PNG reaches the host" "$T/small.png" "$T/got.png"
# the session ends (the compositor goes): sync ends too, and says why
stop_pid "$weston"
wait "$sync"
[ $? = 1 ] && ok "wayland: sync ends with the session (exit 1)" || bad "wayland: sync ends with the session (exit 1)"
tail -n 3 "$T/sync.out" "$T/sync.err" >"$show"
output_has "wayland: and says the session ended" "the desktop session ended: the Wayland display $WL does not answer"

summary sync
