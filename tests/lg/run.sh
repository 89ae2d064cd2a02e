#!/bin/sh
# Looking Glass, whole neuronctl runs: lg size, lg status on shared memory files made
# here (empty, B7 alive with a writer process, B7 stale, LGMP 10 alive and restarted, truncated,
# garbage ...), and the supervised client with a stand-in that records its arguments,
# crashes on request and ignores SIGTERM. libvirt is the test driver on a node file of
# our own; nothing outside a temporary directory is touched.
# Golden files: tests/lg/expected/; NEURON_REGEN=1 rewrites them.
set -u
: "${BUILD:?}" "${NEURONCTL:?}"
. "$(dirname "$0")/../lib.sh"
PY=${PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d /tmp/neuron-lg.XXXXXX)
writers=""
G=""
uid=$(id -u) gid=$(id -g)

cleanup() {
	for p in $writers; do kill "$p" 2>/dev/null; done
	for vm in win11 kvmfr; do "$NEURONCTL" $G lg stop $vm >/dev/null 2>&1; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# expect NAME CONDITION...: a named check.
expect() { check "$@"; }
# run ARGS...: neuronctl with the common options; output in $tmp/out, $tmp/err, $rc.
FAST="--param lg.watch_ms=50 --param lg.stale_ms=200"
# The installed client (its version) is a stand-in run through the command runner:
# none (an empty directory) unless STANDINS names tests/lg/standins.
mkdir -p "$tmp/noclient"
STANDINS=$tmp/noclient
run() {
	"$NEURONCTL" --param runtime_dir="$tmp/rt" --param run.standins="$STANDINS" $FAST $G "$@" \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
}
has() { grep -q -- "$1" "$2"; }
# golden CASE ARGS...: compare stdout + stderr + exit with expected/CASE, timings masked.
golden() {
	name=$1
	shift
	run "$@"
	outcome "$tmp/out" "$tmp/err" "$rc" |
		sed "s#$tmp#TMP#g; s#$here#HERE#g; s/[0-9][0-9]* ms/N ms/g; s/after [0-9.]* s/after N s/g; s/owner $uid, group $gid/owner UID, group GID/g; s/\"watched_ms\": [0-9][0-9]*/\"watched_ms\": N/; s/\"timestamp_ms\": [0-9][0-9]*/\"timestamp_ms\": N/" >"$tmp/got"
	golden_check "$name" "$tmp/got" "neuronctl $*"
}

# wait_for CMD...: poll up to 5 s.
wait_for() {
	i=0
	while ! "$@"; do
		i=$((i + 1))
		[ $i -gt 250 ] && return 1
		sleep 0.02
	done
}
# A zombie (no init reaping in some containers) counts as dead.
alive() { kill -0 "$1" 2>/dev/null && ! grep -q "^[0-9]* ([^)]*) Z" "/proc/$1/stat" 2>/dev/null; }
dead() { ! alive "$1"; }
runs() { [ "$(grep -c '^run ' "$tmp/record" 2>/dev/null || echo 0)" -ge "$1" ]; }
json_eval() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$tmp/out" "$1"; }
json_get() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d'+sys.argv[2]))" "$tmp/out" "$1"; }

# ---- lg size -------------------------------------------------------------------------
# The installed client is the stand-in in tests/lg/standins (its version from
# FAKE_LG_VERSION), or none (run's default).
size_is() { # EXPECTED RES [--hdr] [--stack S]
	exp_mib=$1
	shift
	run lg size "$@"
	expect "lg size $*" test "$rc" = 0 -a "$(cat "$tmp/out")" = "$exp_mib"
}
size_is 32 1920x1080
size_is 32 1080p
size_is 64 2560x1440
size_is 64 1440p
size_is 128 3840x2160
size_is 128 2160p
size_is 64 1920x1080 --hdr
size_is 128 --hdr 2560x1440
size_is 256 4k --hdr
size_is 64 3440x1440
# The table for both stacks (DESIGN.md): 720p, 1080p, 1440p, 4K, 5K, each with HDR.
for row in "720p 32 32 16 16" "1080p 32 64 32 32" "1440p 64 128 64 64" "4k 128 256 128 128" \
	"5k 128 256 256 256"; do
	set -- $row
	size_is $2 $1 --stack b7
	size_is $3 $1 --stack b7 --hdr
	size_is $4 $1 --stack idd
	size_is $5 $1 --stack idd --hdr
done
golden size.badstack lg size 1080p --stack b8
# The default follows the installed client: none or B7 -> b7, a build past B7 -> idd.
run lg size 720p --json
expect "no client: b7" test "$(json_get "['stack']")" = b7 -a "$(json_get "['size_mib']")" = 32
STANDINS=$here/standins
FAKE_LG_VERSION=B7 FAKE_LG_ARGS=$tmp/client-args run lg size 720p --json
expect "B7 client: b7" test "$(json_get "['stack']")" = b7 -a "$(json_get "['size_mib']")" = 32
expect "the client is asked with --help (never --version: B7 would start)" \
	test "$(cat "$tmp/client-args")" = "--help"
FAKE_LG_VERSION=B7-412-g8cb6a687 run lg size 720p --json
expect "client past B7: idd" test "$(json_get "['stack']")" = idd -a "$(json_get "['size_mib']")" = 16
expect "client past B7: said where the stack came from" test "$(json_get "['stack_from_client']")" = True
FAKE_LG_VERSION=B7-412-g8cb6a687 run lg size 720p --stack b7
expect "--stack wins over the client" test "$(cat "$tmp/out")" = 32
STANDINS=$tmp/noclient
golden size.json lg size 1440p --json
golden size.bad lg size 1920by1080
golden size.none lg size
golden lg.none lg
for sub in size start stop restart status; do
	run lg $sub --help
	expect "lg $sub --help" test "$rc" = 0
	expect "lg $sub --help names its usage" has "usage: neuronctl lg $sub" "$tmp/out"
done
golden lg.unknown lg frob

# ---- lg status on files made here --------------------------------------------------------
mk() { "$PY" "$here/shm.py" make "$1" "$tmp/$2"; }
# The first stale verdict takes the real timings (reads 200 ms apart, stale after 1 s);
# the others shorten them to keep the suite quick.
mk b7-stale b7-stale.shm
FAST=""
golden status.b7-stale lg status --shm "$tmp/b7-stale.shm"
FAST="--param lg.watch_ms=50 --param lg.stale_ms=200"
for kind in empty zeros lgmp10-stale lgmp10-nokvmfr lgmp10-udata-lies lgmp10-truncated lgmp-v99 \
	b7-nokvmfr truncated tiny garbage b7-evil-hostver; do
	mk $kind $kind.shm
	golden status.$kind lg status --shm "$tmp/$kind.shm"
done
golden status.b7-stale.json lg status --json --shm "$tmp/b7-stale.shm"
golden status.lgmp10-stale.json lg status --shm "$tmp/lgmp10-stale.shm" --json
run lg status --shm "$tmp/lgmp10-stale.shm" --json
expect "lgmp10: layout" test "$(json_get "['shm']['layout']")" = lgmp10
expect "lgmp10: protocol version" test "$(json_get "['shm']['version']")" = 10
expect "lgmp10: magic after the five queues" test "$(json_get "['shm']['header_offset']")" = 8064
expect "lgmp10: KVMFR version" test "$(json_get "['shm']['kvmfr']['version']")" = 34
expect "lgmp10: clipboard feature" test "$(json_get "['shm']['kvmfr']['features']['clipboard']")" = True
expect "lgmp10: window size feature" test "$(json_get "['shm']['kvmfr']['features']['window_size']")" = True
# The installed client beside the host: a mismatch says what to install.
STANDINS=$here/standins
FAKE_LG_VERSION=B7 golden status.lgmp10-mismatch lg status --shm "$tmp/lgmp10-stale.shm"
FAKE_LG_VERSION=B7 run lg status --shm "$tmp/lgmp10-stale.shm" --json
expect "mismatch: client version" test "$(json_get "['shm']['client_version']")" = B7
expect "mismatch: what to install" has "install looking-glass-client B7-412-g8cb6a687" "$tmp/out"
FAKE_LG_VERSION=B7-412-g8cb6a687 run lg status --shm "$tmp/lgmp10-stale.shm" --json
expect "same build: no mismatch" test "$(json_get "['shm']['version_mismatch']")" = None
FAKE_LG_VERSION=B7-412-g8cb6a687 run lg status --shm "$tmp/lgmp10-stale.shm"
expect "same build: said" has "host B7-412-g8cb6a687: the same" "$tmp/out"
STANDINS=$tmp/noclient
run lg status --shm "$tmp/lgmp10-udata-lies.shm" --json
expect "udata size that lies: no KVMFR read" test "$(json_get "['shm']['kvmfr']")" = None
expect "udata size that lies: said so" has "larger than the shared memory" "$tmp/out"
run lg status --shm "$tmp/b7-stale.shm" --json
expect "b7: only the cursor feature" test "$(json_get "['shm']['kvmfr']['features']['clipboard']")" = False
golden status.garbage.json lg status --shm "$tmp/garbage.shm" --json
golden status.missing lg status --shm "$tmp/nowhere"
# A FIFO where the shared memory should be: refused at once, never waited on (issue 14).
mkfifo "$tmp/fifo.shm"
timeout 20 "$NEURONCTL" --param runtime_dir="$tmp/rt" $FAST lg status --shm "$tmp/fifo.shm" >"$tmp/out" 2>"$tmp/err"
rc=$?
expect "status of a FIFO: refused, not waited on" test "$rc" = 1
expect "status of a FIFO: says what it is" has "is a FIFO" "$tmp/err"

# B7 alive: a writer process moves the timestamp like a running host application.
mk b7 alive.shm
"$PY" "$here/shm.py" bump "$tmp/alive.shm" --every 10 --for 20000 --ready "$tmp/alive.ready" &
writers="$writers $!"
wait_for test -e "$tmp/alive.ready"
golden status.b7-alive lg status --shm "$tmp/alive.shm"
run lg status --shm "$tmp/alive.shm" --json
expect "alive: host" test "$(json_get "['shm']['host']")" = alive
expect "alive: layout" test "$(json_get "['shm']['layout']")" = b7
expect "alive: host version" test "$(json_get "['shm']['kvmfr']['host_version']")" = B7
expect "alive: no session change" test "$(json_get "['shm']['session_changed']")" = False
# The writer stops: the same file turns stale.
kill $writers 2>/dev/null
wait 2>/dev/null
writers=""
run lg status --shm "$tmp/alive.shm" --json
expect "stopped writer: stale" test "$rc" = 1 -a "$(json_get "['shm']['host']")" = stale

# The host application restarts while we watch: a new session id.
mk b7 restart.shm
"$PY" "$here/shm.py" bump "$tmp/restart.shm" --every 1000 --restart-after 100 --for 20000 \
	--ready "$tmp/restart.ready" &
writers="$writers $!"
wait_for test -e "$tmp/restart.ready"
golden status.b7-restarted lg status --shm "$tmp/restart.shm"
kill $writers 2>/dev/null
wait 2>/dev/null
writers=""

# LGMP 10: the heartbeat at offset 0 moves, then the session id after the queues changes.
mk lgmp10 alive10.shm
"$PY" "$here/shm.py" bump "$tmp/alive10.shm" --every 10 --for 20000 --ready "$tmp/alive10.ready" &
writers="$writers $!"
wait_for test -e "$tmp/alive10.ready"
golden status.lgmp10-alive lg status --shm "$tmp/alive10.shm"
kill $writers 2>/dev/null
wait 2>/dev/null
writers=""
mk lgmp10 restart10.shm
"$PY" "$here/shm.py" bump "$tmp/restart10.shm" --every 1000 --restart-after 100 --for 20000 \
	--ready "$tmp/restart10.ready" &
writers="$writers $!"
wait_for test -e "$tmp/restart10.ready"
run lg status --shm "$tmp/restart10.shm" --json
expect "lgmp10 restarted: session changed" test "$(json_get "['shm']['session_changed']")" = True
kill $writers 2>/dev/null
wait 2>/dev/null
writers=""

# The host application restarted between two status runs: the session id is remembered.
mk b7 sess.shm
run lg status --shm "$tmp/sess.shm" --json
expect "first look: no previous session" test "$(json_get "['shm']['previous_session_id']")" = None
"$PY" -c "import struct,sys; f=open(sys.argv[1],'r+b'); f.seek(8); f.write(struct.pack('<I', 77)); f.close()" "$tmp/sess.shm"
golden status.b7-restarted-since lg status --shm "$tmp/sess.shm"
run lg status --shm "$tmp/sess.shm" --json
expect "same session again: not restarted" test "$(json_get "['shm']['restarted_since_last_status']")" = False
expect "same session again: previous" test "$(json_get "['shm']['previous_session_id']")" = 77

# The default path is lg.shm under the sysroot.
mkdir -p "$tmp/sys/dev/shm"
mk lgmp10 sys/dev/shm/looking-glass
run --sysroot "$tmp/sys" lg status
expect "default shm under the sysroot" has "shared memory  $tmp/sys/dev/shm/looking-glass" "$tmp/out"
expect "default shm: lgmp10 layout" has "layout         lgmp10 (LGMP protocol 10, magic at offset 8064" "$tmp/out"
# Nothing is written to the shared memory by a status read.
cp "$tmp/sys/dev/shm/looking-glass" "$tmp/before"
chmod 0444 "$tmp/sys/dev/shm/looking-glass"
run --sysroot "$tmp/sys" lg status
expect "status reads a read-only file" has "layout         lgmp10" "$tmp/out"
expect "status leaves the bytes alone" cmp -s "$tmp/before" "$tmp/sys/dev/shm/looking-glass"
chmod 0660 "$tmp/sys/dev/shm/looking-glass"

# ---- lg setup: plans on fake target roots --------------------------------------------------
# debian12/ holds the qemu.conf Debian 12 ships, arch/ one a user edited and the kvmfr module
# installed by dkms. Users and groups are made here; ids are masked in the golden files.
uid=$(id -u) gid=$(id -g)
mkroot() { # NAME SRC
	rm -rf "$tmp/$1"
	cp -a "$here/roots/$2" "$tmp/$1"
	printf 'root:x:0:0::/root:/bin/sh\nalice:x:%s:%s::/home/alice:/bin/sh\n' "$uid" "$gid" >"$tmp/$1/etc/passwd"
	printf 'root:x:0:\nkvm:x:%s:alice\n' "$gid" >"$tmp/$1/etc/group"
	cp -a "$tmp/$1" "$tmp/$1.orig"
}
same_tree() { diff -r "$tmp/$1" "$tmp/$1.orig" >"$tmp/tree.diff" 2>&1; }
mkroot deb debian12
mkroot arch arch
# the live machine for these: a fake sysroot (no kvmfr device, AppArmor off), never /sys
mkdir -p "$tmp/fsys/dev" "$tmp/fsys/sys/module/apparmor/parameters"
echo N >"$tmp/fsys/sys/module/apparmor/parameters/enabled"
S="--sysroot $tmp/fsys"
G="--root $tmp/deb $S"
golden setup.shm.plan lg setup plan --user alice
golden setup.kvmfr.plan lg setup plan --mode kvmfr --user alice --resolution 2560x1440
G="--root $tmp/arch $S"
golden setup.kvmfr.arch.plan lg setup plan --mode kvmfr --user alice --size 64
run lg setup plan --mode kvmfr --user alice --json
expect "plan json: four edits" test "$(json_eval "len(d['edits'])")" = 4
expect "plan json: qemu.conf changes" test "$(json_get "['edits'][3]['changes']")" = True
expect "plan json: no module note with dkms kvmfr" test "$(json_eval "len([n for n in d['notes'] if 'not installed' in n])")" = 0
expect "plan wrote nothing" same_tree arch
golden setup.usage lg setup plan --mode nfs
golden setup.nouser lg setup plan --user bob
golden setup.badsize lg setup plan --user alice --size 48

# Where AppArmor is on, the plan allows the device in the local libvirt-qemu abstraction.
mkdir -p "$tmp/aasys/dev" "$tmp/aasys/sys/module/apparmor/parameters"
echo Y >"$tmp/aasys/sys/module/apparmor/parameters/enabled"
G="--root $tmp/arch --sysroot $tmp/aasys"
run lg setup plan --mode kvmfr --user alice --size 64 --json
expect "AppArmor on: the local abstraction is planned" \
	test "$(json_eval "[e['path'] for e in d['edits']][-1]")" = /etc/apparmor.d/local/abstractions/libvirt-qemu
run lg setup plan --mode kvmfr --user alice --size 64
expect "AppArmor on: the device rule" has '^+/dev/kvmfr0 rw,$' "$tmp/out"
expect "AppArmor on: the udev rule gives uaccess" has 'TAG+="uaccess"' "$tmp/out"

# Without --yes and nobody to answer: nothing is written.
G="--root $tmp/deb $S"
run lg setup apply --user alice </dev/null
expect "apply unconfirmed: exit 1" test "$rc" = 1
expect "apply unconfirmed: nothing written" same_tree deb
# kvmfr: apply, idempotent second apply, byte-identical revert.
run lg setup apply --mode kvmfr --user alice --yes
expect "kvmfr apply: exit 0" test "$rc" = 0
expect "kvmfr apply: qemu.conf has kvmfr0" has '"/dev/kvmfr0"' "$tmp/deb/etc/libvirt/qemu.conf"
expect "kvmfr apply: modprobe size" has 'options kvmfr static_size_mb=32' "$tmp/deb/etc/modprobe.d/kvmfr.conf"
cp -a "$tmp/deb" "$tmp/deb.applied"
run lg setup apply --mode kvmfr --user alice --yes
expect "kvmfr second apply: nothing changed" has "Nothing changed" "$tmp/out"
expect "kvmfr second apply: same bytes" diff -r "$tmp/deb" "$tmp/deb.applied"
golden setup.kvmfr.status lg setup status
# The kvmfr checks against the live side: a regular file where the device should be (a VM
# started before the module), the size against what the VM needs, AppArmor on.
: >"$tmp/fsys/dev/kvmfr0"
golden setup.kvmfr.checks lg setup status --mode kvmfr --size 64
run lg setup status --mode kvmfr --json
expect "checks json: the device is a regular file" \
	test "$(json_eval "[c['status'] for c in d['kvmfr']['checks'] if c['id'] == 'kvmfr_device'][0]")" = FAIL
expect "checks json: size not compared without --size" \
	test "$(json_eval "[c['status'] for c in d['kvmfr']['checks'] if c['id'] == 'kvmfr_size'][0]")" = PASS
rm -f "$tmp/fsys/dev/kvmfr0"
run lg setup revert --yes
expect "kvmfr revert: exit 0" test "$rc" = 0
expect "kvmfr revert: byte-identical" same_tree deb
run lg setup revert --yes
expect "revert again: exit 1" test "$rc" = 1
expect "revert again: nothing to revert" has "nothing to revert" "$tmp/err"

# shm on a running target (ROOT/dev/shm exists): the file is made now, and removed by revert.
mkdir -p "$tmp/deb/dev/shm" "$tmp/deb.orig/dev/shm"
golden setup.shm.plan-running lg setup plan --user alice --resolution 4k
run lg setup apply --user alice --resolution 4k --yes
expect "shm apply: exit 0" test "$rc" = 0
expect "shm apply: the rule" has "^f /dev/shm/looking-glass 0660 alice kvm -$" "$tmp/deb/etc/tmpfiles.d/10-looking-glass.conf"
expect "shm apply: file mode, owner, group, size" \
	test "$(stat -c '%a %u %g %s' "$tmp/deb/dev/shm/looking-glass")" = "660 $uid $gid 134217728"
run lg setup apply --user alice --resolution 4k --yes
expect "shm second apply: nothing changed" has "Nothing changed" "$tmp/out"
run lg setup revert --mode shm --yes
expect "shm revert: byte-identical, file gone" same_tree deb

# A crash during apply: status says so, apply finishes it, revert undoes it.
NEURON_FAULT_AFTER=3 "$NEURONCTL" $G lg setup apply --mode kvmfr --user alice --yes >/dev/null 2>&1
expect "fault: apply stopped" test $? = 1
run lg setup status
expect "fault: status says interrupted" has "kvmfr  applying: an apply was interrupted" "$tmp/out"
run lg setup apply --mode kvmfr --user alice --yes
expect "fault: apply finishes" test "$rc" = 0
run lg setup status --json
expect "fault: applied after all" test "$(json_get "['kvmfr']['state']")" = applied
run lg setup revert --mode kvmfr --yes
expect "fault: revert byte-identical" same_tree deb

# check: the Looking Glass items. The demo machine's sys and proc, with a dev of our own.
mkdir -p "$tmp/chk/dev/shm"
ln -s "$SYSROOTS/demo/sys" "$tmp/chk/sys"
ln -s "$SYSROOTS/demo/proc" "$tmp/chk/proc"
mk lgmp10 chk/dev/shm/looking-glass
G="--sysroot $tmp/chk --root $tmp/deb"
run check --json
expect "check, no client: no version item" test "$(json_eval "len([c for c in d['checks'] if c['id'] == 'lg_versions'])")" = 0
expect "check, no kvmfr: no kvmfr items" test "$(json_eval "len([c for c in d['checks'] if c['id'].startswith('kvmfr')])")" = 0
STANDINS=$here/standins
FAKE_LG_VERSION=B7 run check --json
expect "check: version mismatch warns" \
	test "$(json_eval "[c['status'] for c in d['checks'] if c['id'] == 'lg_versions'][0]")" = WARN
expect "check: version mismatch says what to install" has "install looking-glass-client B7-412-g8cb6a687" "$tmp/out"
FAKE_LG_VERSION=B7-412-g8cb6a687 run check --json
expect "check: same versions pass" \
	test "$(json_eval "[c['status'] for c in d['checks'] if c['id'] == 'lg_versions'][0]")" = PASS
STANDINS=$tmp/noclient
: >"$tmp/chk/dev/kvmfr0"
golden check.kvmfr check
expect "check: a regular /dev/kvmfr0 blocks" test "$rc" = 1
rm -f "$tmp/chk/dev/kvmfr0"

# A symlink that leads out of the target root is refused: the live /etc is never edited.
mkroot esc debian12
mkdir -p "$tmp/elsewhere"
rm -rf "$tmp/esc/etc/modprobe.d"
ln -s "$tmp/elsewhere" "$tmp/esc/etc/modprobe.d"
G="--root $tmp/esc $S"
run lg setup apply --mode kvmfr --user alice --yes
expect "escape: refused" test "$rc" = 1
expect "escape: nothing outside root" test -z "$(ls -A "$tmp/elsewhere")"
G=""

# ---- the VM's shared memory, from its domain XML -------------------------------------------
cat >"$tmp/node.xml" <<EOF
<node>
  <domain type='test'>
    <name>win11</name>
    <memory>1048576</memory>
    <os><type>hvm</type></os>
    <devices>
      <shmem name='looking-glass'><model type='ivshmem-plain'/><size unit='M'>32</size></shmem>
    </devices>
  </domain>
  <domain type='test'>
    <name>nolg</name>
    <memory>1048576</memory>
    <os><type>hvm</type></os>
  </domain>
  <domain type='test'>
    <name>lg0</name>
    <memory>1048576</memory>
    <os><type>hvm</type></os>
    <devices>
      <shmem name='lg0'><model type='ivshmem-plain'/><size unit='M'>32</size></shmem>
    </devices>
  </domain>
</node>
EOF
G="--connect test://$tmp/node.xml --sysroot $tmp/sys --param runtime_dir=$tmp/run"
G="$G --param lg.client=$here/fake-client.sh --param lg.backoff_ms=20 --param lg.stop_ms=300"
export FAKE_LG_RECORD="$tmp/record" FAKE_LG_MODES="$tmp/modes"
golden vm.status-idle lg status win11
golden vm.status-nolg lg status nolg
golden vm.status-lg0 lg status lg0
# vm list reads the VMs as the TUI's VMs panel does (nr_vm_list): it shows Looking Glass
# for exactly the VMs where lg status finds it
run vm list --json
cp "$tmp/out" "$tmp/vms.json"
expect "vm list: Looking Glass on win11 alone" test "$(json_eval '" ".join(v["name"] for v in d if v["looking_glass"])')" = win11
for vm in win11 nolg lg0; do
	in_list=$("$PY" -c "import json,sys; print(any(v['name'] == sys.argv[2] and v['looking_glass'] for v in json.load(open(sys.argv[1]))))" "$tmp/vms.json" "$vm")
	run lg status "$vm"
	if has "no Looking Glass shared memory" "$tmp/err"; then by_status=False; else by_status=True; fi
	expect "$vm: vm list and lg status agree" test "$in_list" = "$by_status"
done
golden vm.status-novm lg status ghost
# check --vm: the VM's host version beside the client's (the demo machine's sys and proc,
# our dev). The kvmfr size against a domain's is in test_lg: the test driver keeps no
# qemu:commandline, where a kvmfr domain says its size.
STANDINS=$here/standins
FAKE_LG_VERSION=B7 run --sysroot "$tmp/chk" --param lg.client=looking-glass-client check --vm win11 --json
expect "check --vm: the VM's host version against the client" \
	test "$(json_eval "[c['detail'] for c in d['checks'] if c['id'] == 'lg_versions'][0]")" = "client B7, host B7-412-g8cb6a687"
STANDINS=$tmp/noclient
run --sysroot "$tmp/chk" check --vm ghost
expect "check --vm of no such VM: exit 1, says so" test "$rc" = 1 -a -s "$tmp/err"

# ---- the client --------------------------------------------------------------------------
unset DISPLAY WAYLAND_DISPLAY
golden start.headless lg start win11
export WAYLAND_DISPLAY=wayland-test
golden start.nolg lg start nolg
golden start.novm lg start ghost
run --param lg.client= lg start win11
expect "missing client: exit 1" test "$rc" = 1
expect "missing client: how to install" has "install the Looking Glass client" "$tmp/err"
mv "$tmp/sys/dev/shm/looking-glass" "$tmp/shm.away"
run lg start win11
expect "no shm yet: exit 1" test "$rc" = 1
expect "no shm yet: says so" has "does not exist: start the VM first" "$tmp/err"
mv "$tmp/shm.away" "$tmp/sys/dev/shm/looking-glass"

# Start: the client gets -f PATH and the options; it runs under a supervisor.
rm -f "$tmp/record" "$tmp/modes"
run lg start --fullscreen --escape KEY_RIGHTCTRL --no-spice win11 -- app:renderer=EGL
expect "start: exit 0" test "$rc" = 0
expect "start: says started" has "started looking-glass-client for VM win11" "$tmp/out"
wait_for runs 1
printf 'run PID\n-f\n%s\nwin:fullScreen=yes\ninput:escapeKey=KEY_RIGHTCTRL\nspice:enable=no\napp:renderer=EGL\n' \
	"$tmp/sys/dev/shm/looking-glass" >"$tmp/want"
sed 's/^run [0-9]*$/run PID/' "$tmp/record" >"$tmp/got-args"
expect "start: the client's arguments" cmp -s "$tmp/want" "$tmp/got-args"
client=$(sed -n 's/^run //p' "$tmp/record" | tail -n 1)
run lg status win11 --json
expect "status: running" test "$(json_get "['client']['state']")" = running
expect "status: client pid" test "$(json_get "['client']['client_pid']")" = "$client"
sup=$(json_get "['client']['supervisor_pid']")
expect "status: supervisor alive" alive "$sup"
# A second start is refused, from another process.
run lg start win11
expect "second start: exit 1" test "$rc" = 1
expect "second start: already supervised" has "already supervised" "$tmp/err"
# Stop ends a client that ignores SIGTERM (SIGKILL after lg.stop_ms), and its supervisor.
run lg stop win11
expect "stop: exit 0" test "$rc" = 0
expect "stop: client gone" dead "$client"
expect "stop: supervisor gone" wait_for dead "$sup"
expect "stop: SIGKILL was needed" has "ignored SIGTERM" "$tmp/run/lg-win11.log"
golden vm.status-stopped lg status win11
run lg stop win11
expect "stop again: exit 1" test "$rc" = 1

# Crashes are restarted with backoff.
rm -f "$tmp/record"
printf 'crash\nfail\n' >"$tmp/modes"
run lg start win11
expect "crashing start: exit 0" test "$rc" = 0
wait_for runs 3
sleep 0.1
run lg status win11 --json
expect "after two crashes: running" test "$(json_get "['client']['state']")" = running
expect "after two crashes: 2 restarts" test "$(json_get "['client']['restarts']")" = 2
expect "after two crashes: last exit" test "$(json_get "['client']['last_exit']" | cut -c1-13)" = "exit status 3"
expect "log: the crash by signal" has "killed by signal 11" "$tmp/run/lg-win11.log"
expect "log: the client's own output" has "failing on purpose" "$tmp/run/lg-win11.log"
expect "log: first restart after the backoff" has "restarting it in 20 ms" "$tmp/run/lg-win11.log"
expect "log: the backoff doubles" has "restarting it in 40 ms" "$tmp/run/lg-win11.log"

# Restart: a new supervisor and client, the old ones gone.
old_sup=$(json_get "['client']['supervisor_pid']")
old_client=$(json_get "['client']['client_pid']")
run lg restart win11
expect "restart: exit 0" test "$rc" = 0
expect "restart: old client gone" dead "$old_client"
expect "restart: old supervisor gone" wait_for dead "$old_sup"
run lg status win11 --json
expect "restart: running again" test "$(json_get "['client']['state']")" = running
new_sup=$(json_get "['client']['supervisor_pid']")
expect "restart: a new supervisor" test "$new_sup" != "$old_sup"

# A supervisor killed outright leaves a stale pid file; its client dies with it.
new_client=$(json_get "['client']['client_pid']")
kill -9 "$new_sup"
wait_for dead "$new_client"
expect "killed supervisor: client died too" dead "$new_client"
golden vm.status-stale lg status win11
expect "stale pid file removed" test ! -e "$tmp/run/lg-win11.pid"

# Repeated quick crashes: given up, with the last log lines shown.
rm -f "$tmp/record" "$tmp/run/lg-win11.log"
printf 'crash\ncrash\ncrash\ncrash\ncrash\ncrash\n' >"$tmp/modes"
run --param lg.give_up=3 lg start win11
wait_for test ! -e "$tmp/run/lg-win11.pid"
golden vm.status-gave-up lg status win11
run lg status win11 --json
expect "gave up: json state" test "$(json_get "['client']['state']")" = gave-up
# The same in the foreground: the command itself reports it.
rm -f "$tmp/run/lg-win11.log"
printf 'crash\ncrash\ncrash\n' >"$tmp/modes"
run --param lg.give_up=3 lg start --foreground win11
expect "foreground give-up: exit 1" test "$rc" = 1
expect "foreground give-up: says so" has "crashed 3 times in a row" "$tmp/err"
expect "foreground give-up: last lines" has "last lines of the log" "$tmp/err"
expect "foreground give-up: log lines" has "mode crash" "$tmp/err"
# In the foreground a clean exit of the client ends the supervision with success.
printf 'exit0\n' >"$tmp/modes"
run lg start --foreground win11
expect "foreground clean exit: exit 0" test "$rc" = 0
rm -f "$tmp/modes"

summary lg
