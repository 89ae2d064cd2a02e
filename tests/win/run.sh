#!/bin/sh
# The Windows guest agent under Wine 8 (issue 15): the MSI installs, upgrades and
# uninstalls the service; over the real transport (Wine's \\.\Global\org.neuronos.agent.0,
# a pty linked from the prefix's dosdevices/global/, the other end opened by neuronctl as
# a pty channel through tests/agent/ptypair.py) the installed service answers hello, ping,
# info, launch, clipboard text and PNG both ways (checked at the far end with xclip on a
# private Xvfb, which Wine's clipboard is bridged to), resolution, watch events, and the
# hostile-host, resync and reconnect cases of tests/agent/cases.sh; the first-logon commands
# of an unattended install run the media's setup.cmd and its Looking Glass installer; and
# (tests/win/apps.sh) the apps of shortcuts, App Paths and file types made in the prefix,
# their icons, open, the windows ops on a test app, and the shares of the bundle's
# shares.conf.
# The Wine environment (private prefix under $BUILD/win-test, Xvfb, nobody as root) is
# tests/win/lib.sh's.
set -u
: "${BUILD:?}" "${NEURONCTL:?}"
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/win/lib.sh"
T=$BUILD/win-test
W=$BUILD/win
PY=${PYTHON:-python3}
passed=0 failed=0
trap win_cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok: $1"; }
bad() { failed=$((failed + 1)); echo "FAIL: $1"; [ -f "$T/out" ] && sed 's/^/    /' "$T/out" | head -20; }
expect() { # NAME STATUS COMMAND...: run it, output in $T/out, check the exit status
	name=$1 want=$2
	shift 2
	"$@" >"$T/out" 2>&1
	got=$?
	if [ "$got" -eq "$want" ]; then ok "$name"; else bad "$name (exit $got, want $want)"; fi
}
has() { if grep -qF -- "$2" "$T/out"; then ok "$1"; else bad "$1 (no '$2')"; fi; }
same() { if cmp -s "$2" "$3"; then ok "$1"; else bad "$1 ($(wc -c <"$2" 2>/dev/null) vs $(wc -c <"$3" 2>/dev/null) bytes)"; fi; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }

for tool in wine wineserver Xvfb xclip x86_64-w64-mingw32-gcc wixl; do
	command -v $tool >/dev/null 2>&1 || { bad "$tool is installed (make deps: mk/packages/win.txt)"; finish; }
done
for f in neuron-agent.exe neuron-session.exe neuron-agent.msi tests/probe.exe; do
	[ -f "$W/$f" ] || { bad "$W/$f was built (make)"; finish; }
done
start=$(date +%s)
win_setup "$T" >"$BUILD/win-test.setup.log" 2>&1
st=$?
T=$WT
mv "$BUILD/win-test.setup.log" "$T/out" 2>/dev/null
grep '^note:' "$T/out"
[ "$st" -eq 0 ] && ok "a fresh prefix (wineboot), a private X server, the port as a pty pair" ||
	{ bad "a fresh prefix (wineboot), a private X server, the port as a pty pair"; finish; }

# ---- credentials (the host's, and the guest bundle the MSI takes from CERTS=): vm1's come
# on its guest-tools media (the default bundle), as vm create makes it
N="$NEURONCTL --param state_dir=$T/state"
expect "certs for vm1" 0 $N agent certs vm1
ln -s "$T/state/agent/vm1/bundle" "$T/bundle"
expect "certs for another VM" 0 $N agent certs vm2 --bundle "$T/bundle2"
HC=$T/state/agent/vm1
mkdir -p "$C/neuron-certs"
for f in ca.pem guest.pem guest.key host.pem; do cp "$T/bundle/$f" "$C/neuron-certs/"; done
[ -n "$as" ] && chown -R 65534:65534 "$C/neuron-certs"
# a stand-in for the Looking Glass host installer that vm create keeps beside the media
# (profile key looking_glass.installer): it writes the arguments it was run with
cat >"$T/lgsetup.c" <<'EOF'
#include <stdio.h>
int main(int argc, char **argv)
{
	FILE *f = fopen("C:\\lg-setup-args.txt", "w");
	if (!f)
		return 1;
	for (int i = 1; i < argc; i++)
		fprintf(f, "%s%s", i > 1 ? " " : "", argv[i]);
	fputc('\n', f);
	return fclose(f) != 0;
}
EOF
mkdir -p "$T/state/vm/vm1"
expect "the installer stand-in cross-built" 0 x86_64-w64-mingw32-gcc -O2 -o "$T/state/vm/vm1/looking-glass-setup.exe" \
	"$T/lgsetup.c"
expect "agent media vm1: the guest-tools media with the MSI" 0 $N agent media vm1
has "the media has the Windows agent" "guest tools"
mkdir -p "$T/media"
expect "the media extracted (xorriso)" 0 xorriso -no_rc -osirrox on -indev "$T/state/vm/vm1/guest-tools.iso" \
	-extract / "$T/media"
# the shared folders' list in the bundle (shares.conf, imported with the credentials):
# tests/win/apps.sh maps S: and not T:
{ printf 'Documents=S:\n# a comment\n\nMissing=T:\nNotADrive=C:\\Users\n=S:\nBad\001Name=S:\n'
  printf 'Lower=s:\\\r\n'; } >"$T/media/certs/shares.conf"
chmod -R u+rwX,go+rX "$T/media"
[ -n "$as" ] && chown -R 65534:65534 "$T/media"

# ---- a test program, cross-built here: the launch marker
cat >"$T/marker.c" <<'EOF'
#include <windows.h>
#include <stdio.h>
/* marker.exe FILE: writes its pid and its user's name into FILE */
int main(int argc, char **argv)
{
	char user[256] = "?";
	DWORD n = sizeof(user);
	FILE *f;
	if (argc != 2 || !(f = fopen(argv[1], "w")))
		return 1;
	GetUserNameA(user, &n);
	fprintf(f, "%lu %s\n", (unsigned long)GetCurrentProcessId(), user);
	fclose(f);
	return 0;
}
EOF
expect "the launch test program cross-built" 0 sh -c "x86_64-w64-mingw32-gcc -O2 -mwindows -o '$T/marker.exe' '$T/marker.c' &&
	cp '$T/marker.exe' '$C/'"

# ---- install: the first-logon command of an unattended install (the autounattend.xml of
# tests/unattend's profile) finds the media on its drive (E: here) and runs its setup.cmd: msiexec
# /qn with CERTS=E:\certs; the service RUNNING with the bundle's credentials
cp "$W/neuron-agent.msi" "$C/neuron-agent.msi"
rm -f "$WINEPREFIX/dosdevices/e:"
ln -s "$T/media" "$WINEPREFIX/dosdevices/e:"
printf 'pw\n' >"$T/pw"
chmod 600 "$T/pw"
(cd "$top" && $N --sysroot "${SYSROOTS:-$BUILD/sysroots}/intel-nvidia" vm unattend \
	--profile tests/unattend/windows11.yaml --set "unattended.password_file=$T/pw") >"$T/unattend.xml" 2>"$T/out"
first_logon=$(xmllint --xpath "string(//*[local-name()='SynchronousCommand'][*[local-name()='Order']='2']/*[local-name()='CommandLine'])" \
	"$T/unattend.xml" 2>/dev/null)
case $first_logon in
"cmd /c "*) ok "the first-logon command from autounattend.xml" ;;
*) bad "the first-logon command from autounattend.xml ('$first_logon')" ;;
esac
# shellcheck disable=SC2086
expect "the first logon runs E:\setup.cmd: msiexec /i /qn with CERTS" 0 wine_ cmd /c "${first_logon#cmd /c }"
has "setup.cmd says it is installed" "The NeuronOS agent is installed"
# the third first-logon command (a profile with looking_glass.installer): the installer
# from the same media, silently
(cd "$top" && $N --sysroot "${SYSROOTS:-$BUILD/sysroots}/intel-nvidia" vm unattend --profile \
	tests/unattend/windows11.yaml --set "unattended.password_file=$T/pw" \
	--set "looking_glass.installer=$T/state/vm/vm1/looking-glass-setup.exe") >"$T/unattend-lg.xml" 2>"$T/out"
lg_logon=$(xmllint --xpath "string(//*[local-name()='SynchronousCommand'][*[local-name()='Order']='3']/*[local-name()='CommandLine'])" \
	"$T/unattend-lg.xml" 2>/dev/null)
rm -f "$C/lg-setup-args.txt"
expect "the first logon runs the Looking Glass installer from the media" 0 wine_ cmd /c "${lg_logon#cmd /c }"
wait_for "$C/lg-setup-args.txt" 100
if [ "$(tr -d '\r' <"$C/lg-setup-args.txt" 2>/dev/null)" = /S ]; then ok "it ran with /S (silent)"; else
	bad "it ran with /S (got '$(cat "$C/lg-setup-args.txt" 2>/dev/null)')"; fi
PF="$C/Program Files/NeuronOS/Agent"
for f in neuron-agent.exe neuron-session.exe; do
	same "installed: $f" "$W/$f" "$PF/$f"
done
if win_running; then ok "sc query: NeuronAgent RUNNING"; else cp "$T/sc" "$T/out"; bad "sc query: NeuronAgent RUNNING"; fi
CRED="$C/ProgramData/NeuronOS/agent"
wait_for "$CRED/guest.key" 200
for f in ca.pem guest.pem guest.key host.pem; do same "credentials imported: $f" "$T/bundle/$f" "$CRED/$f"; done
# (the directory's DACL, SYSTEM and Administrators only: Wine keeps no DACL on the
# prefix's files and reads back one made from their Unix modes: docs/windows-agent.md)
wait_for "$CRED/agent.log" 200
cp "$CRED/agent.log" "$T/out" 2>/dev/null
has "the service logs to agent.log beside the credentials" "service started"
if grep -q "cannot restrict" "$T/out"; then bad "the service restricted the credentials directory"; else ok "the service restricted the credentials directory"; fi

# ---- over the pty: hello, ping, info
A() { sub=$1; shift; $N agent "$sub" --socket "$CHAN" --certs "$HC" --timeout 15000 vm1 "$@"; }
expect "hello and ping through the service" 0 A ping
has "the Windows agent answers" "neuron-agent 0.1.0"
expect "info --json" 0 A info --json
cp "$T/out" "$T/info.json"
expect "info: Windows, this prefix's host name, an uptime" 0 "$PY" -c "
import json,socket; d=json.load(open('$T/info.json'))
assert 'Windows' in d['os'] and d['agent_version']=='0.1.0' and d['hostname'] and d['uptime_s']>=0, d"

# ---- clipboard, checked at the far end (the X selection Wine bridges its clipboard to)
expect "clipboard set text" 0 A clipboard --set "from the host: h$(printf '\303\251')llo"
sleep 0.5
expect "xclip reads what the host set" 0 xclip_ -selection clipboard -o
has "the X selection holds the host's text" "from the host: h$(printf '\303\251')llo"
printf 'from X: %s' "$(date +%s)" >"$T/xtext"
xclip_ -selection clipboard -i "$T/xtext" 2>/dev/null &
pids="$pids $!"
sleep 1
expect "clipboard get text" 0 A clipboard
has "the host reads what xclip set" "$(cat "$T/xtext")"
cat >"$T/png.py" <<'EOF'
import struct, sys, zlib
w, h = int(sys.argv[2]), int(sys.argv[3])
rows = b"".join(b"\0" + bytes(v for x in range(w) for v in (x * 4 % 256, y * 7 % 256, (x * y) % 256, 255))
                for y in range(h))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)) +
                              chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
EOF
"$PY" "$T/png.py" "$T/img.png" 61 37
"$PY" "$T/png.py" "$T/img2.png" 23 45
expect "clipboard set image/png" 0 A clipboard --mime image/png --set-file "$T/img.png"
sleep 0.5
xclip_ -selection clipboard -t image/png -o >"$T/x.png" 2>"$T/out"
same "xclip reads the host's PNG, byte for byte" "$T/img.png" "$T/x.png"
expect "clipboard get image/png" 0 A clipboard --mime image/png --output "$T/back.png"
same "the PNG comes back whole" "$T/img.png" "$T/back.png"
# the bitmap beside the PNG is made when a program asks for one (delayed rendering of
# CF_DIB, which Wine offers to X as image/bmp): the same size, 32 bits per pixel
xclip_ -selection clipboard -o -t TARGETS >"$T/targets" 2>&1
expect "the X side is offered a bitmap beside the PNG" 0 grep -qx 'image/bmp' "$T/targets"
xclip_ -selection clipboard -t image/bmp -o >"$T/x.bmp" 2>"$T/out"
expect "a bitmap rendered on request has the PNG's size" 0 "$PY" -c "
import struct; b=open('$T/x.bmp','rb').read()
assert b[:2]==b'BM', b[:16]
w, h, planes, bpp = struct.unpack('<iiHH', b[18:30])
assert (w, abs(h), bpp) == (61, 37, 32), (w, h, bpp)"
printf 'not a PNG at all' >"$T/notpng"
expect "clipboard set of bytes that are not a PNG is refused" 1 A clipboard --mime image/png --set-file "$T/notpng"
has "the refusal says why" "not a PNG"
expect "the refused set left the PNG in place" 0 A clipboard --mime image/png --output "$T/back-after.png"
same "the PNG is still the host's" "$T/img.png" "$T/back-after.png"
# an image copied on the X side
xclip_ -selection clipboard -t image/png -i "$T/img2.png" 2>/dev/null &
pids="$pids $!"
sleep 1
expect "clipboard get of an X image" 0 A clipboard --mime image/png --output "$T/fromx.png"
expect "the X image is a PNG of the same size" 0 "$PY" -c "
import struct; a=open('$T/img2.png','rb').read(); b=open('$T/fromx.png','rb').read()
assert b[:8]==b'\x89PNG\r\n\x1a\n' and b[16:24]==a[16:24], (b[:32], a[16:24])"

# ---- watch: a copy on the X side becomes a clipboard-changed event
A watch --count 1 --for 8000 >"$T/events" 2>&1 &
w_pid=$!
sleep 2
printf 'copied in X %s' "$(date +%N)" >"$T/xtext2"
xclip_ -selection clipboard -i "$T/xtext2" 2>/dev/null &
pids="$pids $!"
wait "$w_pid"
st=$?
cp "$T/events" "$T/out"
[ "$st" -eq 0 ] && ok "watch: an event came" || bad "watch: an event came (exit $st)"
has "watch: clipboard-changed" "clipboard-changed text/plain"

# ---- resolution: get, and set among the sizes Wine offers
expect "resolution get" 0 A resolution
res0=$(grep -o '[0-9]*x[0-9]*' "$T/out" | head -n 1)
expect "a size the display does not list is refused" 1 A resolution 1x1
has "refused as unsupported" "answered unsupported"
other=$(sed -n 's/.*it offers //p' "$T/out" | tr ' ' '\n' | grep -o '^[0-9]*x[0-9]*' | grep -v "^$res0\$" | head -n 1)
if [ -n "$other" ]; then
	expect "resolution set $other (one Wine offers)" 0 A resolution "$other"
	expect "resolution get after set" 0 A resolution
	has "the display is at $other" "$other"
	expect "resolution back to $res0" 0 A resolution "$res0"
else
	bad "Wine offers a second size to set (got: $(cat "$T/out"))"
fi

# ---- launch: a test program in the user's session; the reply's pid is its pid
rm -f "$C/marker.txt"
expect "launch" 0 A launch --json 'C:\marker.exe' 'C:\marker.txt'
cp "$T/out" "$T/launch.json"
if wait_for "$C/marker.txt" 200 && sleep 0.3 && [ -s "$C/marker.txt" ]; then ok "the launched program left its marker"; else bad "the launched program left its marker"; fi
expect "the reply's pid is the program's pid, not SYSTEM's" 0 "$PY" -c "
import json; d=json.load(open('$T/launch.json')); pid, user = open('$C/marker.txt').read().split(None, 1)
assert d['pid']==int(pid) and user.strip().upper()!='SYSTEM', (d, pid, user)"
expect "launch of a missing program" 1 A launch 'C:\nonexistent.exe'
has "the guest's refusal" "[AGENT_REMOTE]"

# ---- apps, windows and shares (issue 17)
. "$top/tests/win/apps.sh"

# ---- a session helper that dies is started again (its pid: the process of this prefix
# whose command line is neuron-session.exe --pipe)
helper_pid() {
	for d in /proc/[0-9]*; do
		tr '\0' ' ' <"$d/cmdline" 2>/dev/null | grep -q 'neuron-session.exe --pipe' &&
			tr '\0' '\n' <"$d/environ" 2>/dev/null | grep -qx "WINEPREFIX=$WINEPREFIX" && echo "${d#/proc/}"
	done 2>/dev/null | head -n 1
}
hp=$(helper_pid)
if [ -n "$hp" ]; then ok "the session helper runs"; else bad "the session helper runs"; fi
[ -n "$hp" ] && kill -9 "$hp"
expect "after the helper was killed: clipboard set" 0 A clipboard --set "after a restart"
expect "and get" 0 A clipboard
has "the new helper has the clipboard" "after a restart"
hp2=$(helper_pid)
if [ -n "$hp2" ] && [ "$hp2" != "$hp" ]; then ok "a new helper process"; else bad "a new helper process ($hp, $hp2)"; fi

# ---- the cases every agent passes (tests/agent/cases.sh)
. "$top/tests/agent/cases.sh"
agent_cases windows "$CHAN" "$HC" "$T/state/agent/vm2" "$T" \
	"[ \"\$(grep -c 'service started' '$CRED/agent.log')\" -eq 1 ]" "$CRED/agent.log"

# ---- the overlapped path (virtio-win's vioserial port's): the same agent in console
# mode serving a named pipe (--listen), the desktop in its own process; a relay in Wine
# joins that pipe to a second pty pair, whose host end neuronctl opens. Reads stay
# pending while writes go, as on a vioserial port.
cat >"$T/pipe2pty.c" <<'EOF'
#include <windows.h>
/* pipe2pty.exe PORT PIPE: relays between a serial port (synchronous, comm timeouts) and a
 * named pipe (overlapped, so its read and write do not wait for each other). */
static HANDLE port, pipe;
static void xwrite(HANDLE h, const char *p, DWORD n, BOOL ov)
{
	OVERLAPPED o = { .hEvent = ov ? CreateEventW(NULL, TRUE, FALSE, NULL) : NULL };
	DWORD k;
	while (n) {
		if (!WriteFile(h, p, n, &k, ov ? &o : NULL) && (!ov || GetLastError() != ERROR_IO_PENDING))
			ExitProcess(1);
		if (ov && !GetOverlappedResult(h, &o, &k, TRUE))
			ExitProcess(1);
		p += k;
		n -= k;
	}
	if (o.hEvent)
		CloseHandle(o.hEvent);
}
static DWORD WINAPI from_pipe(void *arg)
{
	static char buf[65536];
	OVERLAPPED o = { .hEvent = CreateEventW(NULL, TRUE, FALSE, NULL) };
	DWORD n;
	for (;;) {
		if (!ReadFile(pipe, buf, sizeof(buf), &n, &o) && GetLastError() != ERROR_IO_PENDING)
			ExitProcess(0);
		if (!GetOverlappedResult(pipe, &o, &n, TRUE))
			ExitProcess(0);
		xwrite(port, buf, n, FALSE);
	}
}
int wmain(int argc, wchar_t **argv)
{
	static char buf[65536];
	COMMTIMEOUTS t = { MAXDWORD, MAXDWORD, 200, 0, 1000 };
	DWORD n;
	if (argc != 3)
		return 2;
	port = CreateFileW(argv[1], GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
	for (int i = 0; i < 300; i++) {
		pipe = CreateFileW(argv[2], GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, NULL);
		if (pipe != INVALID_HANDLE_VALUE)
			break;
		Sleep(100);
	}
	if (port == INVALID_HANDLE_VALUE || pipe == INVALID_HANDLE_VALUE || !SetCommTimeouts(port, &t))
		return 1;
	CreateThread(NULL, 0, from_pipe, NULL, 0, NULL);
	for (;;)
		if (ReadFile(port, buf, sizeof(buf), &n, NULL) && n)
			xwrite(pipe, buf, n, TRUE);
}
EOF
expect "the pipe relay cross-built" 0 sh -c "x86_64-w64-mingw32-gcc -O2 -municode -o '$T/pipe2pty.exe' '$T/pipe2pty.c' &&
	mkdir -p '$C/console' && cp '$T/pipe2pty.exe' '$W/neuron-agent.exe' '$W/neuron-session.exe' '$C/console/'"
$as /usr/bin/python3 "$T/ptypair.py" "$WINEPREFIX/dosdevices/global/org.neuronos.test.1" "$T/port2.host" \
	>"$T/ptypair2.out" 2>&1 &
pids="$pids $!"
wait_for "$T/port2.host"
wine_ 'C:\console\neuron-agent.exe' --console --listen '\\.\pipe\neuron-test' --certs 'C:\ProgramData\NeuronOS\agent' \
	--verbose >"$T/console.log" 2>&1 &
pids="$pids $!"
wine_ 'C:\console\pipe2pty.exe' '\\.\Global\org.neuronos.test.1' '\\.\pipe\neuron-test' >/dev/null 2>&1 &
pids="$pids $!"
P() { sub=$1; shift; $N agent "$sub" --socket "$T/port2.host" --certs "$HC" --timeout 15000 vm1 "$@"; }
expect "console mode over a named pipe: ping" 0 P ping
"$PY" "$T/png.py" "$T/img3.png" 700 500
expect "console mode: clipboard set of a PNG" 0 P clipboard --mime image/png --set-file "$T/img3.png"
expect "console mode: clipboard get of the PNG" 0 P clipboard --mime image/png --output "$T/back3.png"
same "console mode: the PNG whole through the overlapped path" "$T/img3.png" "$T/back3.png"
expect "console mode: a second host" 0 P ping
cp "$T/console.log" "$T/out"
has "console mode logs its sessions (--verbose)" "session with host"

# ---- upgrade in place: a higher version, no CERTS: credentials kept, service back
mkdir -p "$T/newer" && cp "$W/neuron-agent.exe" "$W/neuron-session.exe" "$T/newer/"
expect "a newer MSI (wixl)" 0 sh -c "cd '$T' && wixl -a x64 -D BinDir=newer -D Version=99.0.0 -o newer.msi '$top/agent/win/neuron-agent.wxs'"
cp "$T/newer.msi" "$C/newer.msi"
expect "msiexec /i newer.msi /qn (upgrade)" 0 wine_ msiexec /i 'C:\newer.msi' /qn
if win_running; then ok "after the upgrade: NeuronAgent RUNNING"; else cp "$T/sc" "$T/out"; bad "after the upgrade: NeuronAgent RUNNING"; fi
for f in ca.pem guest.pem guest.key host.pem; do same "the upgrade kept $f" "$T/bundle/$f" "$CRED/$f"; done
expect "ping after the upgrade" 0 A ping

# ---- uninstall: files and service gone
expect "msiexec /x /qn" 0 wine_ msiexec /x 'C:\newer.msi' /qn
# (under load Wine's msiexec may return while the stopped service's files are still
# being let go: a few seconds' grace, then what is left is shown)
i=0
while { [ -e "$PF/neuron-agent.exe" ] || [ -e "$PF/neuron-session.exe" ]; } && [ $i -lt 40 ]; do sleep 0.25; i=$((i + 1)); done
if [ ! -e "$PF/neuron-agent.exe" ] && [ ! -e "$PF/neuron-session.exe" ]; then
	ok "uninstall removed the programs"
else
	{ ls -l "$PF"; ps -eo pid,args | grep -i 'neuron-\(agent\|session\)' | grep -v grep; } >"$T/out" 2>&1
	bad "uninstall removed the programs"
fi
wine_ sc query NeuronAgent >"$T/out" 2>&1
if grep -q RUNNING "$T/out" || grep -q STOPPED "$T/out"; then bad "uninstall removed the service"; else ok "uninstall removed the service"; fi

echo "win: $(($(date +%s) - start)) s under Wine"
finish
