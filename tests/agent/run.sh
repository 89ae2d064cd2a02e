#!/bin/sh
# The agent from the command line: neuronctl agent certs / ping / info / launch / clipboard /
# resolution / shutdown against the reference agent, the channel found through libvirt's
# test driver, usage errors, and interop with OpenSSL (s_client against our agent,
# s_server against our host client) using the generated certificates.
set -u
: "${BUILD:?}" "${NEURONCTL:?}"
. "$(dirname "$0")/../lib.sh"
verbose=1
T=$(mktemp -d /tmp/neuron-agent-suite-XXXXXX)
show=$T/out
S=$(mktemp -d /tmp/nrXXXXXX) # openssl s_server fails on longer unix socket paths
AGENT="$BUILD/neuron-agent"
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	rm -rf "$T" "$S"
}
trap cleanup EXIT

expect() { expect_exit "$@"; }    # NAME STATUS COMMAND...: output in $T/out
has() { output_has "$@"; }         # NAME TEXT: $T/out holds TEXT
wait_for() { i=0; while [ ! -e "$1" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done; }

N="$NEURONCTL --param state_dir=$T/state"

# --- certificates
expect "certs made" 0 $N agent certs vm1 --bundle "$T/bundle"
has "certs print the guest fingerprint" "guest:            SHA256:"
for f in ca.pem ca.key host.pem host.key guest.pem; do
	[ -f "$T/state/agent/vm1/$f" ] && ok "state has $f" || bad "state has $f"
done
[ ! -e "$T/state/agent/vm1/guest.key" ] && ok "host keeps no guest key" || bad "host keeps no guest key"
for f in ca.pem guest.pem guest.key host.pem; do
	[ -f "$T/bundle/$f" ] && ok "bundle has $f" || bad "bundle has $f"
done
[ "$(stat -c %a "$T/state/agent/vm1/host.key")" = 600 ] && ok "host.key 0600" || bad "host.key 0600"
[ "$(stat -c %a "$T/state/agent/vm1/ca.key")" = 600 ] && ok "ca.key 0600" || bad "ca.key 0600"
[ "$(stat -c %a "$T/bundle/guest.key")" = 600 ] && ok "guest.key 0600" || bad "guest.key 0600"
expect "openssl verifies the chain" 0 openssl verify -CAfile "$T/bundle/ca.pem" "$T/bundle/guest.pem" "$T/bundle/host.pem"
expect "openssl reads the keys as P-256" 0 sh -c "openssl pkey -in '$T/bundle/guest.key' -noout -text | grep -q 'NIST CURVE: P-256'"
expect "certs kept without --force" 1 $N agent certs vm1 --bundle "$T/bundle"
has "refusal names EXISTS" "[EXISTS]"
expect "certs --json, default bundle dir" 0 $N agent certs vm2 --json
has "json has the bundle dir" "\"bundle_dir\": \"$T/state/agent/vm2/bundle\""
[ "$(stat -c %a "$T/state/agent" "$T/state/agent/vm1" "$T/bundle" | sort -u)" = 700 ] &&
	ok "state and bundle directories 0700" || bad "state and bundle directories 0700"

# --- key directories others can write to: ours are made private, another user's refused
mkdir -m 777 "$T/open-bundle" "$T/state/agent/vm3"
expect "certs into group/world-writable directories of ours" 0 $N agent certs vm3 --bundle "$T/open-bundle"
[ "$(stat -c %a "$T/open-bundle" "$T/state/agent/vm3" | sort -u)" = 700 ] &&
	ok "our open directories made 0700" || bad "our open directories made 0700 ($(stat -c %a "$T/open-bundle" "$T/state/agent/vm3"))"
ls -a "$T/open-bundle" "$T/state/agent/vm3" | grep -q '\.new$' && bad "no temp file left" || ok "no temp file left"
if [ "$(id -u)" = 0 ]; then
	mkdir -m 777 "$T/their-bundle"
	chown nobody "$T/their-bundle"
	expect "certs into another user's world-writable bundle" 1 $N agent certs vm4 --bundle "$T/their-bundle"
	has "says whose it is and why" "is writable by everyone and belongs to another user (uid $(id -u nobody))"
	has "as PERM" "[PERM]"
	[ -z "$(ls -A "$T/their-bundle")" ] && ok "nothing written there" || bad "nothing written there"
	[ ! -e "$T/state/agent/vm4" ] && ok "no empty credentials folder left for vm4" ||
		bad "no empty credentials folder left for vm4 ($(ls -A "$T/state/agent/vm4"))"
fi
expect "certs with a bundle folder that cannot be made" 1 $N agent certs vm5 --bundle /proc/self/no-such/bundle
[ ! -e "$T/state/agent/vm5" ] && ok "a refused certs run leaves no folder for the VM" ||
	bad "a refused certs run leaves no folder for the VM"
# --- under --root: the state directory is reached by the confined walk (core/root), as
# vfio and lg reach it: a var/lib/neuron that links out of the root is refused
mkdir -p "$T/root/var/lib" "$T/outside"
ln -s ../../../outside "$T/root/var/lib/neuron"
expect "certs under --root: a state dir linking above the root" 1 $NEURONCTL --root "$T/root" agent certs vm1 --bundle "$T/rb"
has "refused as ESCAPE" "[ESCAPE]"
rm "$T/root/var/lib/neuron"
ln -s "$T/outside" "$T/root/var/lib/neuron"
expect "certs under --root: a state dir linking to an outside path" 1 $NEURONCTL --root "$T/root" agent certs vm1 --bundle "$T/rb"
has "refused as ESCAPE" "[ESCAPE]"
[ -z "$(ls -A "$T/outside")" ] && ok "nothing written outside the root" || bad "nothing written outside the root"
rm "$T/root/var/lib/neuron"
expect "certs under --root" 0 $NEURONCTL --root "$T/root" agent certs vm1 --bundle "$T/rb"
[ -f "$T/root/var/lib/neuron/agent/vm1/host.key" ] && ok "state inside the root" || bad "state inside the root"

# --- neuron-agent refuses credentials it cannot trust, and says why
cp -a "$T/bundle" "$T/loose"
chmod 644 "$T/loose/guest.key"
expect "agent with a key others can read" 1 timeout 5 "$AGENT" --stdio --certs "$T/loose" --platform memory
has "says the key must be 0600" "guest.key can be read or written by others (mode 0644): a private key must be 0600"
cp -a "$T/bundle" "$T/mismatch"
cp "$T/open-bundle/guest.key" "$T/mismatch/guest.key"
expect "agent with a key of another pair" 1 timeout 5 "$AGENT" --stdio --certs "$T/mismatch" --platform memory
has "says the key is not the certificate's" "guest.key is not the key of $T/mismatch/guest.pem"

# --- the reference agent on a unix socket, found through the libvirt test driver
"$AGENT" --listen "$T/sock" --certs "$T/bundle" --platform memory 2>"$T/agent.err" &
agent=$!
pids="$pids $agent"
wait_for "$T/sock"
cat >"$T/node.xml" <<XML
<node>
  <domain type='test'><name>vm1</name><memory>1048576</memory><os><type>hvm</type></os>
    <devices>
      <channel type='unix'><source mode='bind' path='$T/sock'/>
        <target type='virtio' name='org.neuronos.agent.0'/></channel>
    </devices></domain>
  <domain type='test'><name>plain</name><memory>1048576</memory><os><type>hvm</type></os>
    <devices/></domain>
</node>
XML
V="$N --connect test://$T/node.xml"
expect "ping through the domain XML" 0 $V agent ping vm1
has "ping says pong" "pong in"
has "ping names the agent" "neuron-agent 0.1.0"
expect "info --json" 0 $V agent info vm1 --json
cp "$T/out" "$T/info.json"
expect "info fields" 0 "${PYTHON:-python3}" -c "
import json,sys; d=json.load(open('$T/info.json'))
assert d['os']=='in-memory test platform' and d['agent_version']=='0.1.0' and d['width']==1920, d"
expect "resolution set" 0 $V agent resolution vm1 1280x720
expect "resolution get" 0 $V agent resolution vm1
has "resolution is the one set" "1280x720"
expect "clipboard set text" 0 $V agent clipboard vm1 --set "from the host"
expect "clipboard get text" 0 $V agent clipboard vm1
has "clipboard text came back" "from the host"
head -c 3000000 /dev/urandom >"$T/img.png"
expect "clipboard set image" 0 $V agent clipboard vm1 --mime image/png --set-file "$T/img.png"
expect "clipboard get image" 0 $V agent clipboard vm1 --mime image/png --output "$T/back.png"
expect "image identical" 0 cmp "$T/img.png" "$T/back.png"
expect "launch" 0 $V agent launch vm1 sh -c "echo ran > '$T/launched'"
wait_for "$T/launched"
[ "$(cat "$T/launched" 2>/dev/null)" = ran ] && ok "launched program ran" || bad "launched program ran"
expect "launch of a missing program" 1 $V agent launch vm1 /nonexistent/prog
has "names the guest's refusal" "[AGENT_REMOTE]"
expect "--socket without libvirt" 0 $N agent ping --socket "$T/sock" vm1
# events: the memory platform plays a copy on SIGUSR1 and a resolution change on SIGUSR2
$V agent watch vm1 --count 2 --for 5000 >"$T/events" 2>&1 &
watcher=$!
sleep 0.5
kill -USR1 "$agent"
sleep 0.5
kill -USR2 "$agent"
wait "$watcher"
st=$?
cp "$T/events" "$T/out"
[ "$st" -eq 0 ] && ok "watch got its events" || bad "watch got its events (exit $st)"
has "watch: clipboard" "clipboard-changed text/plain 12 bytes"
has "watch: resolution (1280x720 set above toggles to 1920x1080)" "resolution-changed 1920x1080"
expect "watch with nothing to see" 1 $V agent watch vm1 --for 300

# --- errors and usage
expect "VM without the channel" 1 $V agent ping plain
has "names AGENT_NOCHANNEL" "[AGENT_NOCHANNEL]"
expect "VM without credentials" 1 $N agent ping --socket "$T/sock" vm9
has "names AGENT_NOCERTS" "[AGENT_NOCERTS]"
expect "nothing listening" 1 $N agent ping --socket "$T/nosock" vm1
has "names AGENT_CLOSED" "[AGENT_CLOSED]"
expect "no subcommand" 2 $N agent
expect "unknown subcommand" 2 $N agent frobnicate vm1
expect "no VM" 2 $N agent ping
expect "bad resolution" 2 $V agent resolution vm1 big
expect "image needs --output" 2 $V agent clipboard vm1 --mime image/png
for sub in ping info launch clipboard resolution watch shutdown certs; do
	expect "agent $sub --help" 0 $N agent $sub --help
done
expect "agent --help" 0 $N agent --help

# --- interop: openssl s_client (host certificate) against our agent
# after the hello and ping: malformed requests with a valid id (the errors carry it, as
# PROTOCOL.md 5 says), and a clipboard-set of more text than clipboard-get can return
"${PYTHON:-python3}" -c '
import sys
f = lambda t: b"\x02" + t + b"\x03"
sys.stdout.buffer.write(f(b"{\"id\":1,\"op\":\"hello\",\"args\":{\"versions\":[1]}}") + f(b"{\"id\":2,\"op\":\"ping\"}")
    + f(b"{\"id\":11}") + f(b"{\"id\":12,\"op\":5}") + f(b"{\"id\":13,\"op\":\"ping\",\"args\":[]}")
    + f(b"{\"id\":14,\"op\":\"clipboard-set\",\"args\":{\"mime\":\"text/plain\",\"text\":\"" + b"x" * 614400 + b"\"}}")
    + f(b"{\"id\":15,\"op\":\"clipboard-get\"}"))' >"$T/req"
(cat "$T/req"; sleep 1) | timeout 10 openssl s_client -unix "$T/sock" -tls1_3 -brief \
	-cert "$T/state/agent/vm1/host.pem" -key "$T/state/agent/vm1/host.key" \
	-CAfile "$T/state/agent/vm1/ca.pem" -verify_return_error >"$T/out" 2>&1
has "s_client: TLS 1.3" "Protocol version: TLSv1.3"
has "s_client: our certificate verifies" "Verification: OK"
has "s_client: framed ping answered" '{"id":2,"ok":true,"result":{}}'
has "s_client: a request with only an id is answered with it" '{"id":11,"ok":false,"error":{"code":"bad-request"'
has "s_client: an op that is not a string is answered with its id" '{"id":12,"ok":false,"error":{"code":"bad-request"'
has "s_client: args that are not an object are answered with their id" '{"id":13,"ok":false,"error":{"code":"bad-request"'
has "s_client: 600 KiB of clipboard text refused" '{"id":14,"ok":false,"error":{"code":"too-large"'
has "s_client: the clipboard kept what it had (the copy played above)" '{"id":15,"ok":true,"result":{"mime":"text/plain","text":"guest copy 1"}}'
# and with a certificate from another VM, our agent refuses
(sleep 1) | timeout 10 openssl s_client -unix "$T/sock" -tls1_3 -brief \
	-cert "$T/state/agent/vm2/host.pem" -key "$T/state/agent/vm2/host.key" \
	-CAfile "$T/state/agent/vm1/ca.pem" >"$T/out" 2>&1
if grep -q '"ok":true' "$T/out"; then bad "s_client with another VM's certificate refused"; else ok "s_client with another VM's certificate refused"; fi

# --- interop: our host client against openssl s_server (guest certificate). The resync
# happens below TLS: a small shim answers it, then relays to s_server.
cat >"$T/shim.py" <<'PY'
import os, socket, sys, threading
front, back = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX); srv.bind(front); srv.listen(1)
c, _ = srv.accept()
buf = b""
while b"\x03" not in buf:
    d = c.recv(4096)
    if not d: sys.exit(1)
    buf += d
frame, rest = buf.split(b"\x03", 1)
nonce = frame.split(b'"sync":"')[1].split(b'"')[0]
c.sendall(b'\x02{"sync-ack":"' + nonce + b'"}\x03')
s = socket.socket(socket.AF_UNIX); s.connect(back)
if rest: s.sendall(rest)
def pump(a, b):
    while True:
        try:
            d = a.recv(65536)
            if not d: break
            b.sendall(d)
        except OSError:
            break
    try: b.shutdown(socket.SHUT_WR)
    except OSError: pass
t = threading.Thread(target=pump, args=(s, c), daemon=True); t.start()
pump(c, s); t.join(5)
PY
printf '\002{"id":1,"ok":true,"result":{"version":1,"agent":"openssl s_server"}}\003\002{"id":2,"ok":true,"result":{}}\003' >"$T/replies"
(cat "$T/replies"; sleep 3) | timeout 10 openssl s_server -unix "$S/o.sock" -tls1_3 -naccept 1 -quiet \
	-cert "$T/bundle/guest.pem" -key "$T/bundle/guest.key" -CAfile "$T/bundle/ca.pem" \
	-Verify 1 -verify_return_error >"$T/s_server.out" 2>&1 &
sserver=$!
pids="$pids $sserver"
wait_for "$S/o.sock"
timeout 10 "${PYTHON:-python3}" "$T/shim.py" "$T/shim.sock" "$S/o.sock" &
pids="$pids $!"
wait_for "$T/shim.sock"
expect "our client against s_server" 0 $N agent ping --socket "$T/shim.sock" vm1
has "s_server answered the framed ping" "from openssl s_server"
wait "$sserver"
if grep -qF '"op":"ping"' "$T/s_server.out"; then ok "s_server got our framed ping"; else bad "s_server got our framed ping"; fi

# --- --listen has one slot: a second agent does not take the socket over, and a peer that
# is silent, slow, does not read, or stops in the middle of a message loses the slot
expect "a second agent on the same socket" 1 timeout 5 "$AGENT" --listen "$T/sock" --certs "$T/bundle" --platform memory
has "says another agent listens there" "another agent is listening on $T/sock"
expect "the first agent still answers" 0 $N agent ping --socket "$T/sock" vm1
cat >"$T/peer.py" <<'PY'
import os, socket, ssl, sys, time
mode, path, certs = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX)
s.connect(path)
end = time.time() + 60
if mode == "silent":
    time.sleep(60)
elif mode == "slow":  # one byte a second, never a handshake
    while time.time() < end:
        s.send(b"A")
        time.sleep(1)
elif mode == "nonreading":  # syncs, and never a read of the acks
    s.setblocking(False)
    frame = b'\x02{"sync":"0123456789abcdef0123456789abcdef"}\x03' * 1000
    while time.time() < end:
        try:
            s.send(frame)
        except BlockingIOError:
            time.sleep(0.05)
elif mode == "stalled":  # a session, then a frame begun and fed a byte a second
    s.sendall(b'\x02{"sync":"00112233445566778899aabbccddeeff"}\x03')
    buf = b""
    while b"\x03" not in buf:
        buf += s.recv(100)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.load_verify_locations(certs + "/ca.pem")
    ctx.load_cert_chain(certs + "/host.pem", certs + "/host.key")
    t = ctx.wrap_socket(s)
    t.sendall(b'\x02{"id":1,')
    while time.time() < end:
        t.sendall(b" ")
        time.sleep(1)
PY
for mode in silent slow nonreading stalled; do
	"${PYTHON:-python3}" "$T/peer.py" $mode "$T/sock" "$T/state/agent/vm1" >"$T/peer.out" 2>&1 &
	peer=$!
	pids="$pids $peer"
	sleep 0.5
	t0=$(date +%s)
	expect "a $mode peer loses the slot: the next host gets in" 0 $N agent ping --socket "$T/sock" vm1 --timeout 40000
	t=$(($(date +%s) - t0))
	[ "$t" -le 20 ] && ok "a $mode peer held the slot ${t}s (at most 20 s)" || bad "a $mode peer held the slot ${t}s (at most 20 s)"
	kill "$peer" 2>/dev/null
	wait "$peer" 2>/dev/null
done

# --- the Linux platform without a graphical session: what it cannot do is "unsupported".
# (Never ask this one to shut down: it would run systemctl poweroff.)
env -u DISPLAY -u WAYLAND_DISPLAY "$AGENT" --listen "$T/linux.sock" --certs "$T/bundle" 2>"$T/linux.err" &
linux_agent=$!
pids="$pids $linux_agent"
wait_for "$T/linux.sock"
expect "linux: info" 0 $N agent info --socket "$T/linux.sock" vm1 --json
cp "$T/out" "$T/linux.json"
expect "linux: os from os-release and uname" 0 "${PYTHON:-python3}" -c "
import json,os; d=json.load(open('$T/linux.json'))
assert os.uname().release in d['os'] and d['width']==0, d"
expect "linux: clipboard without a session" 1 $N agent clipboard --socket "$T/linux.sock" vm1
has "linux: clipboard unsupported" "answered unsupported"
expect "linux: resolution without xrandr" 1 env -u DISPLAY $N agent resolution --socket "$T/linux.sock" vm1
has "linux: resolution unsupported" "answered unsupported"
expect "linux: launch" 0 $N agent launch --socket "$T/linux.sock" vm1 sh -c "echo linux > '$T/linux-launched'"
wait_for "$T/linux-launched"
[ "$(cat "$T/linux-launched" 2>/dev/null)" = linux ] && ok "linux: launched program ran" || bad "linux: launched program ran"
kill "$linux_agent"

# --- the hostile-host, resync and reconnect cases (tests/agent/cases.sh, the same list
# tests/win runs against the Windows service) on a port made of two ptys, the agent on its
# guest end and the host opening the other as a pty channel
. "$top/tests/agent/cases.sh"
"${PYTHON:-python3}" "$top/tests/agent/ptypair.py" "$T/port.guest" "$T/port.host" >"$T/ptypair.out" 2>&1 &
pids="$pids $!"
wait_for "$T/port.host"
"$AGENT" --port "$T/port.guest" --certs "$T/bundle" --platform memory 2>"$T/port-agent.err" &
port_agent=$!
pids="$pids $port_agent"
agent_cases linux "$T/port.host" "$T/state/agent/vm1" "$T/state/agent/vm2" "$T" "kill -0 $port_agent" "$T/port-agent.err"
kill "$port_agent"

# --- shutdown ends the memory agent cleanly (under ASan: without a leak)
expect "shutdown" 0 $V agent shutdown vm1
wait "$agent"
st=$?
if [ "$st" -eq 0 ]; then ok "agent exit status 0"; else bad "agent exit status $st"; sed 's/^/    /' "$T/agent.err" | head -30; fi

summary agent
