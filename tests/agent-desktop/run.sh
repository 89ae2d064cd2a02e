#!/bin/sh
# neuron-agent --platform linux against real display servers: an X server (Xvfb) with
# xclip and xrandr, and a Wayland compositor (weston) with wl-clipboard, all private to
# this run. Driven through neuronctl like a host would: clipboard text and PNG images
# both ways (checked against the display server with xclip / wl-paste on the "user" side),
# clipboard-changed and resolution-changed events, set-resolution, launch in the session,
# and what happens when a tool hangs or the display is gone.
#
# Never touches the user's display: DISPLAY, WAYLAND_DISPLAY and XDG_RUNTIME_DIR are
# cleared and replaced by private ones (an X display number nobody uses, a runtime dir
# under the temp dir). Needs mk/packages/desktop.txt (make deps).
#
# set-resolution: Xvfb (xorg-server 21.1) starts with one mode, its -screen size, which is
# also the largest it allows; xrandr-modes.py gives it two smaller ones for the test.
#
# Wayland: weston's headless backend has no seat, and wl-clipboard 2.1 needs one (weston
# 10 has no data-control protocol, so wl-copy/wl-paste map a tiny surface and wait for
# keyboard focus): under --backend=headless-backend.so every wl-copy fails with
# "Missing a seat". Weston's x11 backend, nested in our Xvfb, does have a seat (Xvfb's
# core keyboard and pointer), so that is what runs here: a real weston and the real
# Wayland clipboard protocol, only its output is a window on the private X server.
set -u
: "${BUILD:?}" "${NEURONCTL:?}"
unset DISPLAY WAYLAND_DISPLAY XDG_RUNTIME_DIR XDG_SESSION_TYPE XAUTHORITY
. "$(dirname "$0")/../lib.sh"
verbose=1
T=$(mktemp -d /tmp/neuron-desktop-XXXXXX)
show=$T/out
AGENT="$BUILD/neuron-agent"
PY=${PYTHON:-python3}
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	[ -f "$T/fake.pids" ] && while read -r p; do kill "$p" 2>/dev/null; done <"$T/fake.pids"
	rm -rf "$T"
}
trap cleanup EXIT

check_quiet() { # NAME COMMAND...: passes when COMMAND succeeds (output not shown)
	name=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$name"; else bad "$name"; fi
}
expect() { expect_exit "$@"; }    # NAME STATUS COMMAND...: output in $T/out
has() { output_has "$@"; }         # NAME TEXT: $T/out holds TEXT
wait_for() { i=0; while [ ! -e "$1" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done; }
same() { # NAME FILE1 FILE2: byte-identical
	if cmp -s "$2" "$3"; then ok "$1"; else cmp "$2" "$3" >"$T/out" 2>&1; bad "$1 ($(wc -c <"$2") vs $(wc -c <"$3") bytes)"; fi
}
# watch_during NAME SECONDS COMMAND...: start `agent watch` for one event, run COMMAND in the
# guest while it watches, wait; the events in $T/out, the watch's status in $watch_status
watch_during() {
	w_sock=$1 w_ms=$2
	shift 2
	$N agent watch --socket "$w_sock" vm1 --count 1 --for "$w_ms" >"$T/events" 2>&1 &
	w_pid=$!
	sleep 0.8
	"$@" >/dev/null 2>&1
	wait $w_pid
	watch_status=$?
	cp "$T/events" "$T/out"
}
# children PID: the live and the zombie children of PID, as "LIVE ZOMBIES" (from /proc:
# procps is not on every Debian)
children() {
	live=0 zombies=0
	for f in /proc/[0-9]*/stat; do
		# pid (comm) state ppid ...: state and ppid follow the last ')'
		sp=$(sed -n 's/.*) \([A-Za-z]\) \([0-9]*\) .*/\1 \2/p' "$f" 2>/dev/null)
		[ "${sp#* }" = "$1" ] || continue
		case $sp in Z*) zombies=$((zombies + 1)) ;; *) live=$((live + 1)) ;; esac
	done
	echo "$live $zombies"
}
# xclips: how many xclip processes serve the private display (selection owners)
xclips() {
	c=0
	for d in /proc/[0-9]*; do
		[ "$(cat "$d/comm" 2>/dev/null)" = xclip ] || continue
		grep -q "^State:.*Z" "$d/status" 2>/dev/null && continue
		{ tr '\0' '\n' <"$d/environ"; } 2>/dev/null | grep -qx "DISPLAY=$X" && c=$((c + 1))
	done
	echo $c
}
# wlcopies: the same for wl-copy on the private Wayland display
wlcopies() {
	c=0
	for d in /proc/[0-9]*; do
		[ "$(cat "$d/comm" 2>/dev/null)" = wl-copy ] || continue
		grep -q "^State:.*Z" "$d/status" 2>/dev/null && continue
		{ tr '\0' '\n' <"$d/environ"; } 2>/dev/null | grep -qx "WAYLAND_DISPLAY=$WL" && c=$((c + 1))
	done
	echo $c
}

for tool in Xvfb xclip xrandr weston wl-copy wl-paste; do
	if ! command -v $tool >/dev/null 2>&1; then
		bad "$tool is installed (make deps installs mk/packages/desktop.txt)"
		summary agent-desktop
		exit 1
	fi
done

N="$NEURONCTL --param state_dir=$T/state"
$N agent certs vm1 --bundle "$T/bundle" >/dev/null || { echo "cannot make certificates"; exit 1; }
mkdir -p "$T/xdg" && chmod 700 "$T/xdg"

# --- test data: a real PNG of a few MB (noise does not compress), texts
"$PY" - "$T/img.png" 1400 900 <<'PY'
import os, struct, sys, zlib
path, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
rows = b"".join(b"\0" + os.urandom(w * 3) for _ in range(h))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b"")
open(path, "wb").write(png)
PY
"$PY" - "$T/img2.png" <<'PY'
import struct, sys, zlib
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
rows = b"".join(b"\0" + bytes((x * 7 + y) & 255 for x in range(64 * 3)) for y in range(64))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0))
                              + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
PY
printf 'h\303\251llo w\303\266rld \342\234\223 \346\227\245\346\234\254\350\252\236 \360\237\231\202\n\ttab and\nlines' >"$T/utf8.txt"
# near the 512 KiB limit of one text: 524000 bytes of plain text and UTF-8 (no JSON escapes)
"$PY" -c "
import sys
out = ''.join('line %06d caf\u00e9 \u2713 abcdefghijklmnopqrstuvwxyz\n' % i for i in range(20000))
b = out.encode()[:524000]
while True:
    try: b.decode(); break
    except UnicodeDecodeError: b = b[:-1]
open('$T/big.txt', 'wb').write(b)"

# ============================================================ X11 (Xvfb)
if ! xvfb_start "$T" 1920x1080x24; then
	bad "Xvfb starts on a free display"
	cat "$T/xvfb.log"
	summary agent-desktop
	exit 1
fi
X=$xvfb_display
ok "Xvfb runs on $X"
xu() { env DISPLAY="$X" "$@"; } # the "user" side of the X session

DISPLAY="$X" "$AGENT" --listen "$T/x.sock" --certs "$T/bundle" --platform linux 2>"$T/x-agent.err" &
xagent=$!
pids="$pids $xagent"
wait_for "$T/x.sock"
A() { sub=$1; shift; $N agent "$sub" --socket "$T/x.sock" vm1 "$@"; }

# --- clipboard: text
expect "x11: set text" 0 A clipboard --set "from the host"
expect "x11: the X selection holds it" 0 xu xclip -o -selection clipboard -t UTF8_STRING
has "x11: xclip reads the host's text" "from the host"
expect "x11: get text" 0 A clipboard --output "$T/got.txt"
printf 'from the host' >"$T/want.txt"
same "x11: text round trip" "$T/want.txt" "$T/got.txt"
expect "x11: set UTF-8 text" 0 A clipboard --set-file "$T/utf8.txt"
xu xclip -o -selection clipboard -t UTF8_STRING >"$T/xsel.txt" 2>/dev/null
same "x11: the X selection holds the UTF-8 bytes" "$T/utf8.txt" "$T/xsel.txt"
expect "x11: get UTF-8 text" 0 A clipboard --output "$T/got.txt"
same "x11: UTF-8 round trip" "$T/utf8.txt" "$T/got.txt"
expect "x11: set 524000 bytes of text" 0 A clipboard --set-file "$T/big.txt"
expect "x11: get 524000 bytes of text" 0 A clipboard --output "$T/got.txt"
same "x11: big text round trip" "$T/big.txt" "$T/got.txt"
xu xclip -o -selection clipboard -t UTF8_STRING >"$T/xsel.txt" 2>/dev/null
same "x11: the X selection holds the big text" "$T/big.txt" "$T/xsel.txt"
# the user copies in the guest (another X client owns the selection now)
printf 'copied by the user \342\234\223' >"$T/user.txt"
xu xclip -selection clipboard -i -t UTF8_STRING <"$T/user.txt" >/dev/null 2>&1
expect "x11: get the user's text" 0 A clipboard --output "$T/got.txt"
same "x11: the user's text came through" "$T/user.txt" "$T/got.txt"
# an application that offers only STRING (ISO 8859-1): the host still gets UTF-8
printf 'caf\351 cr\350me' | xu xclip -selection clipboard -i -t STRING >/dev/null 2>&1
expect "x11: get Latin-1 STRING text" 0 A clipboard --output "$T/got.txt"
printf 'caf\303\251 cr\303\250me' >"$T/want.txt"
same "x11: STRING converted to UTF-8" "$T/want.txt" "$T/got.txt"
# one that offers only text/plain, in UTF-8 (browsers list it beside UTF8_STRING)
xu xclip -selection clipboard -i -t text/plain <"$T/utf8.txt" >/dev/null 2>&1
expect "x11: get text/plain-only text" 0 A clipboard --output "$T/got.txt"
same "x11: text/plain taken as UTF-8" "$T/utf8.txt" "$T/got.txt"

# --- clipboard: a PNG image, chunked, both ways
expect "x11: set image" 0 A clipboard --mime image/png --set-file "$T/img.png"
expect "x11: the X selection offers image/png" 0 xu xclip -o -selection clipboard -t TARGETS
has "x11: TARGETS has image/png" "image/png"
xu xclip -o -selection clipboard -t image/png >"$T/xsel.png" 2>/dev/null
same "x11: the X selection holds the PNG" "$T/img.png" "$T/xsel.png"
expect "x11: get image" 0 A clipboard --mime image/png --output "$T/got.png"
same "x11: image round trip ($(wc -c <"$T/img.png") bytes)" "$T/img.png" "$T/got.png"
expect "x11: text while the clipboard holds an image" 1 A clipboard
has "x11: no text is a failure, not the PNG's bytes" "answered failed"
xu xclip -selection clipboard -i -t image/png <"$T/img2.png" >/dev/null 2>&1
expect "x11: get the user's image" 0 A clipboard --mime image/png --output "$T/got.png"
same "x11: the user's image came through" "$T/img2.png" "$T/got.png"
expect "x11: set text again" 0 A clipboard --set "text again"
expect "x11: image while the clipboard holds text" 1 A clipboard --mime image/png --output "$T/got.png"
has "x11: no image is a failure, not the text's bytes" "answered failed"


# --- one selection owner at a time: each set replaces the xclip that served the last
for i in 1 2 3 4 5; do A clipboard --set "owner $i" >/dev/null 2>&1; done
sleep 0.3
[ "$(xclips)" = 1 ] && ok "x11: one xclip owns the selection after five sets" ||
	{ ps -ef | grep '[x]clip' >"$T/out"; bad "x11: one xclip owns the selection after five sets ($(xclips))"; }
expect "x11: the last set won" 0 A clipboard
has "x11: ... it is the fifth" "owner 5"

# --- clipboard-changed when another X client takes the selection
printf 'user copy' >"$T/user.txt"
watch_during "$T/x.sock" 8000 xu xclip -selection clipboard -i -t UTF8_STRING "$T/user.txt"
[ "$watch_status" -eq 0 ] && ok "x11: watch sees the user's copy" || bad "x11: watch sees the user's copy (exit $watch_status)"
has "x11: clipboard-changed names text and size" "clipboard-changed text/plain 9 bytes"
watch_during "$T/x.sock" 8000 xu xclip -selection clipboard -i -t image/png "$T/img2.png"
[ "$watch_status" -eq 0 ] && ok "x11: watch sees the user copy an image" || bad "x11: watch sees the user copy an image (exit $watch_status)"
has "x11: clipboard-changed names the image and its size" "clipboard-changed image/png $(wc -c <"$T/img2.png") bytes"
A clipboard --mime image/png --set-file "$T/img.png" >/dev/null 2>&1
expect "x11: the host's own image is no event" 1 $N agent watch --socket "$T/x.sock" vm1 --for 2000

# --- resolution: Xvfb gets two more modes (see xrandr-modes.py for why a helper holds them)
expect "x11: get-resolution" 0 A resolution
has "x11: resolution is Xvfb's screen" "1920x1080"
DISPLAY="$X" "$PY" "$(dirname "$0")/xrandr-modes.py" 1280x720 1600x900 >"$T/modes.out" 2>&1 </dev/null &
pids="$pids $!"
i=0
while ! grep -q ready "$T/modes.out" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
check_quiet "x11: Xvfb has the modes 1280x720 and 1600x900" sh -c "DISPLAY=$X xrandr | grep -q '1600x900'"
expect "x11: set-resolution 1280x720" 0 A resolution 1280x720
has "x11: set-resolution answers the new size" "1280x720"
xu xrandr --current >"$T/out" 2>&1
has "x11: xrandr sees 1280x720" "current 1280 x 720"
expect "x11: get-resolution after the change" 0 A resolution
has "x11: ... 1280x720" "1280x720"
expect "x11: set-resolution to a mode the screen lacks" 1 A resolution 2560x1440
has "x11: ... is a failure that names the size" "2560x1440"
xu xrandr --current >"$T/out" 2>&1
has "x11: ... and leaves the screen alone" "current 1280 x 720"
watch_during "$T/x.sock" 8000 xu xrandr -s 1600x900
[ "$watch_status" -eq 0 ] && ok "x11: watch sees the resolution change" || bad "x11: watch sees the resolution change (exit $watch_status)"
has "x11: resolution-changed 1600x900" "resolution-changed 1600x900"
expect "x11: info has the size" 0 A info --json
has "x11: info width" '"width": 1600'
expect "x11: back to 1920x1080" 0 A resolution 1920x1080
A clipboard --set "the host's own" >/dev/null 2>&1
expect "x11: the host's own text and resolution are no event" 1 $N agent watch --socket "$T/x.sock" vm1 --for 2000

# --- launch: a program in the session sees its display
expect "x11: launch" 0 A launch sh -c "echo \"\$DISPLAY\" >'$T/launched.tmp'; mv '$T/launched.tmp' '$T/launched'"
wait_for "$T/launched"
[ "$(cat "$T/launched" 2>/dev/null)" = "$X" ] && ok "x11: the launched program has DISPLAY=$X" ||
	bad "x11: the launched program has DISPLAY=$X (got '$(cat "$T/launched" 2>/dev/null)')"
# it ends after the host went away: the agent does not keep it as a zombie
A launch sh -c "sleep 0.5; : >'$T/ended'" >/dev/null 2>&1
wait_for "$T/ended"
sleep 0.3
set -- $(children $xagent)
[ "$2" -eq 0 ] && ok "x11: no zombie left by launched programs" || bad "x11: no zombie left by launched programs ($2)"
expect "x11: launch of a missing program" 1 A launch /nonexistent/program
has "x11: ... names the failure" "answered failed"

# --- the selection outlives the agent: xclip serves it from its own process group
A clipboard --set "kept after the agent" >/dev/null 2>&1
kill $xagent
wait $xagent 2>/dev/null
sleep 0.2
expect "x11: the selection outlives the agent" 0 xu xclip -o -selection clipboard -t UTF8_STRING
has "x11: ... with the text set through it" "kept after the agent"

# --- a session without xclip, and no session at all: "unsupported"
mkdir -p "$T/noclip"
ln -s "$(command -v xrandr)" "$T/noclip/xrandr"
DISPLAY="$X" PATH="$T/noclip" "$AGENT" --listen "$T/noclip.sock" --certs "$T/bundle" 2>"$T/noclip.err" &
pids="$pids $!"
wait_for "$T/noclip.sock"
expect "no xclip: clipboard" 1 $N agent clipboard --socket "$T/noclip.sock" vm1
has "no xclip: ... answered unsupported" "answered unsupported"
expect "no xclip: resolution still works" 0 $N agent resolution --socket "$T/noclip.sock" vm1
has "no xclip: ... 1920x1080" "1920x1080"
"$AGENT" --listen "$T/none.sock" --certs "$T/bundle" 2>"$T/none.err" &
pids="$pids $!"
wait_for "$T/none.sock"
expect "no session: clipboard" 1 $N agent clipboard --socket "$T/none.sock" vm1 --set x
has "no session: ... answered unsupported" "answered unsupported"
expect "no session: resolution" 1 $N agent resolution --socket "$T/none.sock" vm1
has "no session: ... answered unsupported" "answered unsupported"
expect "no session: info, size 0" 0 $N agent info --socket "$T/none.sock" vm1 --json
has "no session: ... width 0" '"width": 0'

# --- an owner that takes the selection late (xclip's child, under load: xclip returns
# before the X server has seen its child own the selection): clipboard-set is answered
# only once the selection holds the bytes
mkdir -p "$T/late"
real_xclip=$(command -v xclip)
cat >"$T/late/xclip" <<SH
#!/bin/sh
case "\$*" in
*" -i "*)
	cat >"$T/late/data.\$\$"
	(sleep 0.7; "$real_xclip" "\$@" <"$T/late/data.\$\$"; rm -f "$T/late/data.\$\$") >/dev/null 2>&1 &
	exit 0 ;;
esac
exec "$real_xclip" "\$@"
SH
chmod +x "$T/late/xclip"
DISPLAY="$X" PATH="$T/late:$PATH" "$AGENT" --listen "$T/late.sock" --certs "$T/bundle" 2>"$T/late.err" &
late=$!
pids="$pids $late"
wait_for "$T/late.sock"
expect "x11, late owner: set text" 0 $N agent clipboard --socket "$T/late.sock" vm1 --set "taken late"
xu xclip -o -selection clipboard -t UTF8_STRING >"$T/xsel.txt" 2>/dev/null
printf 'taken late' >"$T/want.txt"
same "x11, late owner: the selection holds the text when the agent answers" "$T/want.txt" "$T/xsel.txt"
kill "$late"

# --- a tool that hangs: the agent answers "failed" in time and stays responsive
mkdir -p "$T/fake"
cat >"$T/fake/xclip" <<SH
#!/bin/sh
echo \$\$ >>"$T/fake.pids"
cat >/dev/null
exec sleep 30
SH
chmod +x "$T/fake/xclip"
# three agents, so that the get and the set (3 s each before the agent gives up) overlap,
# and the third has not yet rested its polls when its late request comes;
# the host's default 5 s request timeout: a change poll that runs just before (at most
# about 1.25 s) and the request's own budget must both fit in it
for h in hang1 hang2 hang3; do
	DISPLAY="$X" PATH="$T/fake:$PATH" "$AGENT" --listen "$T/$h.sock" --certs "$T/bundle" 2>"$T/$h.err" &
	pids="$pids $!"
	wait_for "$T/$h.sock"
done
timeout 20 $N agent clipboard --socket "$T/hang2.sock" vm1 --set x >"$T/hang2.out" 2>&1 &
hang2=$!
expect "hung xclip: get fails in time" 1 timeout 20 $N agent clipboard --socket "$T/hang1.sock" vm1
has "hung xclip: the agent says it did not finish" "did not finish"
wait $hang2
st=$?
cp "$T/hang2.out" "$T/out"
[ $st -eq 1 ] && ok "hung xclip: set fails in time" || bad "hung xclip: set fails in time (exit $st)"
has "hung xclip: ... the set too" "did not finish"
# the request that comes just as a change poll started (the poll gives up on the hung
# tool after its own budget, then the request has its own): still answered in time
expect "hung xclip: a request during a change poll is answered in time" 0 \
	timeout 20 "$PY" "$(dirname "$0")/late-request.py" "$T/hang3.sock" "$T/state/agent/vm1" 0.3 clipboard-get '{"mime":"text/plain"}'
has "hung xclip: ... with failed" '"code":"failed"'
expect "hung xclip: the agent still answers" 0 timeout 10 $N agent resolution --socket "$T/hang1.sock" vm1
alive=0
while read -r p; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done <"$T/fake.pids"
[ "$alive" -eq 0 ] && ok "hung xclip: the agent killed the hung tools" || bad "hung xclip: the agent killed the hung tools ($alive left)"

# --- a tool that writes without end: the agent stops reading past 64 MiB
mkdir -p "$T/flood"
cat >"$T/flood/xclip" <<'SH'
#!/bin/sh
case "$*" in *TARGETS*) echo image/png; exit 0 ;; esac
exec cat /dev/zero
SH
chmod +x "$T/flood/xclip"
DISPLAY="$X" PATH="$T/flood:$PATH" "$AGENT" --listen "$T/flood.sock" --certs "$T/bundle" 2>"$T/flood.err" &
pids="$pids $!"
wait_for "$T/flood.sock"
expect "endless tool: the image get fails" 1 timeout 20 $N agent clipboard --socket "$T/flood.sock" vm1 --mime image/png --output "$T/flood.png"
has "endless tool: ... saying so" "wrote more than 64 MiB"

# --- a slow clipboard owner (each xclip run takes 1.2 s; a read on X is two runs): the
# request fits its budget and is answered within the host's default timeout, whatever
# the change poll (which gives up on it) was doing when the request came
real_xclip=$(command -v xclip)
mkdir -p "$T/slow"
cat >"$T/slow/xclip" <<SH
#!/bin/sh
sleep 1.2
exec "$real_xclip" "\$@"
SH
chmod +x "$T/slow/xclip"
DISPLAY="$X" xclip -selection clipboard -i -t UTF8_STRING <<TXT
slow but there
TXT
DISPLAY="$X" PATH="$T/slow:$PATH" "$AGENT" --listen "$T/slow.sock" --certs "$T/bundle" 2>"$T/slow.err" &
pids="$pids $!"
wait_for "$T/slow.sock"
expect "slow xclip: get within the default timeout" 0 timeout 20 $N agent clipboard --socket "$T/slow.sock" vm1
has "slow xclip: ... the text" "slow but there"
expect "slow xclip: a get during a change poll is answered in time" 0 \
	timeout 20 "$PY" "$(dirname "$0")/late-request.py" "$T/slow.sock" "$T/state/agent/vm1" 0.3 clipboard-get '{"mime":"text/plain"}'
has "slow xclip: ... with the text" "slow but there"

# --- DISPLAY names a display that is not there
dead=$((${X#:} + 1))
while [ -e "/tmp/.X11-unix/X$dead" ] || [ -e "/tmp/.X$dead-lock" ]; do dead=$((dead + 1)); done
DISPLAY=":$dead" "$AGENT" --listen "$T/dead.sock" --certs "$T/bundle" 2>"$T/dead.err" &
pids="$pids $!"
wait_for "$T/dead.sock"
expect "no X server: clipboard get fails" 1 $N agent clipboard --socket "$T/dead.sock" vm1
has "no X server: ... and says the display is not there" "display :$dead"
expect "no X server: clipboard set fails" 1 $N agent clipboard --socket "$T/dead.sock" vm1 --set x
has "no X server: ... the set too" "display :$dead"
expect "no X server: resolution fails" 1 $N agent resolution --socket "$T/dead.sock" vm1
has "no X server: ... answered failed" "answered failed"
expect "no X server: info still works" 0 $N agent info --socket "$T/dead.sock" vm1 --json


# ============================================================ Wayland (weston)
# weston's x11 backend on our Xvfb (the headless backend has no seat: see the top); its
# socket in our private runtime dir, no weston.ini read.
WL="wl-neuron-$$"
env -u WAYLAND_DISPLAY DISPLAY="$X" XDG_RUNTIME_DIR="$T/xdg" XDG_CONFIG_HOME="$T/cfg" \
	weston --backend=x11-backend.so --use-pixman --no-config --idle-time=0 --socket="$WL" \
	>"$T/weston.log" 2>&1 &
weston=$!
pids="$pids $weston"
wait_for "$T/xdg/$WL"
wu() { env -u DISPLAY WAYLAND_DISPLAY="$WL" XDG_RUNTIME_DIR="$T/xdg" "$@"; } # the Wayland user
i=0
until printf probe | wu wl-copy --type text/plain 2>/dev/null || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
if wu wl-paste --no-newline --type text/plain 2>/dev/null | grep -qx probe; then
	ok "weston runs, wl-copy and wl-paste work on it"
else
	bad "weston runs, wl-copy and wl-paste work on it"
	sed 's/^/    /' "$T/weston.log" | tail -20
fi

env -u DISPLAY WAYLAND_DISPLAY="$WL" XDG_RUNTIME_DIR="$T/xdg" \
	"$AGENT" --listen "$T/wl.sock" --certs "$T/bundle" --platform linux 2>"$T/wl-agent.err" &
wlagent=$!
pids="$pids $wlagent"
wait_for "$T/wl.sock"
W() { sub=$1; shift; $N agent "$sub" --socket "$T/wl.sock" vm1 "$@"; }

expect "wayland: set text" 0 W clipboard --set "from the host"
wu wl-paste --no-newline --type text/plain >"$T/wsel.txt" 2>/dev/null
printf 'from the host' >"$T/want.txt"
same "wayland: wl-paste reads the host's text" "$T/want.txt" "$T/wsel.txt"
expect "wayland: get text" 0 W clipboard --output "$T/got.txt"
same "wayland: text round trip" "$T/want.txt" "$T/got.txt"
expect "wayland: set UTF-8 text" 0 W clipboard --set-file "$T/utf8.txt"
expect "wayland: get UTF-8 text" 0 W clipboard --output "$T/got.txt"
same "wayland: UTF-8 round trip" "$T/utf8.txt" "$T/got.txt"
expect "wayland: set 524000 bytes of text" 0 W clipboard --set-file "$T/big.txt"
expect "wayland: get 524000 bytes of text" 0 W clipboard --output "$T/got.txt"
same "wayland: big text round trip" "$T/big.txt" "$T/got.txt"
wu wl-paste --no-newline --type text/plain >"$T/wsel.txt" 2>/dev/null
same "wayland: the compositor's selection holds the big text" "$T/big.txt" "$T/wsel.txt"
printf 'copied by the user \342\234\223' >"$T/user.txt"
wu wl-copy --type text/plain <"$T/user.txt" >/dev/null 2>&1
expect "wayland: get the user's text" 0 W clipboard --output "$T/got.txt"
same "wayland: the user's text came through" "$T/user.txt" "$T/got.txt"
expect "wayland: set image" 0 W clipboard --mime image/png --set-file "$T/img.png"
wu wl-paste --no-newline --type image/png >"$T/wsel.png" 2>/dev/null
same "wayland: wl-paste reads the PNG" "$T/img.png" "$T/wsel.png"
expect "wayland: get image" 0 W clipboard --mime image/png --output "$T/got.png"
same "wayland: image round trip" "$T/img.png" "$T/got.png"
expect "wayland: text while the clipboard holds an image" 1 W clipboard
has "wayland: ... answered failed" "answered failed"
wu wl-copy --type image/png <"$T/img2.png" >/dev/null 2>&1
expect "wayland: get the user's image" 0 W clipboard --mime image/png --output "$T/got.png"
same "wayland: the user's image came through" "$T/img2.png" "$T/got.png"
expect "wayland: set text again" 0 W clipboard --set "text again"
expect "wayland: image while the clipboard holds text" 1 W clipboard --mime image/png --output "$T/got.png"
has "wayland: ... answered failed" "answered failed"
for i in 1 2 3 4 5; do W clipboard --set "owner $i" >/dev/null 2>&1; done
sleep 0.3
[ "$(wlcopies)" = 1 ] && ok "wayland: one wl-copy serves the selection after five sets" ||
	bad "wayland: one wl-copy serves the selection after five sets ($(wlcopies))"
printf 'user copy' >"$T/user.txt"
watch_during "$T/wl.sock" 8000 wu wl-copy --type text/plain "user copy"
[ "$watch_status" -eq 0 ] && ok "wayland: watch sees the user's copy" || bad "wayland: watch sees the user's copy (exit $watch_status)"
has "wayland: clipboard-changed text/plain 9 bytes" "clipboard-changed text/plain 9 bytes"
watch_during "$T/wl.sock" 8000 sh -c "env -u DISPLAY WAYLAND_DISPLAY='$WL' XDG_RUNTIME_DIR='$T/xdg' wl-copy --type image/png <'$T/img2.png'"
[ "$watch_status" -eq 0 ] && ok "wayland: watch sees the user copy an image" || bad "wayland: watch sees the user copy an image (exit $watch_status)"
has "wayland: clipboard-changed image/png" "clipboard-changed image/png $(wc -c <"$T/img2.png") bytes"
W clipboard --set "the host's own" >/dev/null 2>&1
expect "wayland: the host's own set is no event" 1 $N agent watch --socket "$T/wl.sock" vm1 --for 2000
expect "wayland: resolution without X" 1 W resolution
has "wayland: ... is unsupported" "answered unsupported"
expect "wayland: launch" 0 W launch sh -c "echo \"\$WAYLAND_DISPLAY\" >'$T/wlaunched.tmp'; mv '$T/wlaunched.tmp' '$T/wlaunched'"
wait_for "$T/wlaunched"
[ "$(cat "$T/wlaunched" 2>/dev/null)" = "$WL" ] && ok "wayland: the launched program has WAYLAND_DISPLAY" ||
	bad "wayland: the launched program has WAYLAND_DISPLAY (got '$(cat "$T/wlaunched" 2>/dev/null)')"
kill $weston
wait $weston 2>/dev/null
expect "wayland: compositor gone: get fails" 1 W clipboard
has "wayland: ... and says the display does not answer" "Wayland display $WL does not answer"

# ============================================================ leaks (under ASan: LSan)
# One agent process per connection, serving stdin/stdout (--stdio), so that each one ends
# by itself at the end of its stream and LeakSanitizer looks at it.
cat >"$T/inetd.py" <<'PY'
import os, socket, subprocess, sys
path, status, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
srv = socket.socket(socket.AF_UNIX)
srv.bind(path)
srv.listen(4)
srv.settimeout(60)
while True:
    try:
        c, _ = srv.accept()
    except socket.timeout:
        break
    p = subprocess.Popen(argv, stdin=c.fileno(), stdout=c.fileno(), stderr=subprocess.PIPE)
    c.close()
    err = p.communicate(timeout=30)[1]
    with open(status, "a") as f:
        f.write("%d\n" % p.returncode)
    if p.returncode:
        sys.stderr.buffer.write(err)
PY
DISPLAY="$X" "$PY" "$T/inetd.py" "$T/inetd.sock" "$T/inetd.status" \
	"$AGENT" --stdio --certs "$T/bundle" --platform linux 2>"$T/inetd.err" &
inetd=$!
pids="$pids $inetd"
wait_for "$T/inetd.sock"
I() { sub=$1; shift; $N agent "$sub" --socket "$T/inetd.sock" vm1 "$@"; }
expect "stdio: set text" 0 I clipboard --set-file "$T/utf8.txt"
expect "stdio: get text" 0 I clipboard --output "$T/got.txt"
same "stdio: UTF-8 round trip" "$T/utf8.txt" "$T/got.txt"
expect "stdio: set image" 0 I clipboard --mime image/png --set-file "$T/img.png"
expect "stdio: get image" 0 I clipboard --mime image/png --output "$T/got.png"
same "stdio: image round trip" "$T/img.png" "$T/got.png"
expect "stdio: text while an image" 1 I clipboard
expect "stdio: resolution" 0 I resolution 1280x720
expect "stdio: info" 0 I info
expect "stdio: launch" 0 I launch true
expect "stdio: launch of a missing program" 1 I launch /nonexistent/program
# (a fresh agent takes its first look as the baseline: a slow start could see the first
# copy as that, so a second one follows)
watch_during "$T/inetd.sock" 8000 sh -c "DISPLAY=$X xclip -selection clipboard -i -t UTF8_STRING '$T/user.txt'
	sleep 1.5; echo second | DISPLAY=$X xclip -selection clipboard -i -t UTF8_STRING"
[ "$watch_status" -eq 0 ] && ok "stdio: watch sees a copy" || bad "stdio: watch sees a copy (exit $watch_status)"
i=0
while [ "$(wc -l <"$T/inetd.status" 2>/dev/null || echo 0)" -lt 10 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
if [ "$(sort -u "$T/inetd.status" 2>/dev/null)" = 0 ] && [ "$(wc -l <"$T/inetd.status")" -eq 10 ]; then
	ok "stdio: ten agents ended cleanly (exit 0, no leak under ASan)"
else
	cp "$T/inetd.err" "$T/out"
	bad "stdio: ten agents ended cleanly (statuses: $(tr '\n' ' ' <"$T/inetd.status" 2>/dev/null))"
fi

summary agent-desktop
