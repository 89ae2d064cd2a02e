#!/bin/sh
# Screen tests (tig's way): the real neuron-tui driven by a key script at a pinned size,
# each dump compared with a golden file, in the C locale and in UTF-8; then the key
# table's self-test and a tmux smoke test of the built binary.
#
#   sh tests/tui/run.sh [NAME...]                 run (all scripts, or the named ones)
#   NEURON_REGEN=1 sh tests/tui/run.sh NAME   rewrite NAME's golden files
#
# A script's first lines may say "# args: ..." (options instead of --demo; $SYSROOTS,
# $SCRATCH and $HERE are expanded), "# size: COLSxLINES" (default 80x24) and "# before: COMMAND"
# (a shell command run first, with $TUI, $HERE and $SCRATCH set: e.g. an apply that is
# cut short on the same scratch root), "# env: NAME=VALUE..." ($HERE and $SCRATCH expanded), and
# "# daemon: silent|frozen" (a libvirt daemon that does not answer, tests/fixtures/
# fake-libvirtd.py, listening on libvirt.sock in the folder the program runs in, so
# that the screen shows the same relative path every time).
set -u
. "$(dirname "$0")/../lib.sh"
verbose=1
BUILD=${BUILD:-$top/build}
SYSROOTS=${SYSROOTS:-$BUILD/sysroots}
TUI=$BUILD/neuron-tui
work=$(mktemp -d)
daemon_pid=
trap 'if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null; fi; rm -rf "$work"' EXIT
export NEURON_DEMO_SYSROOT="$SYSROOTS/demo"
# ncurses and libvirt keep some memory until exit on purpose; LeakSanitizer is told so
export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"
unset NO_COLOR
export TERM=xterm-256color


# ---- the key table ----
if out=$("$TUI" --self-test 2>&1); then ok "key table self-test ($out)"; else bad "key table self-test"; echo "$out"; fi

# ---- screen dumps ----
names=${*:-$(cd "$here/scripts" && ls *.keys | sed 's/\.keys$//')}
for name in $names; do
	script=$here/scripts/$name.keys
	args=$(sed -n 's/^# args: //p' "$script" | head -n 1)
	size=$(sed -n 's/^# size: //p' "$script" | head -n 1)
	before=$(sed -n 's/^# before: //p' "$script" | head -n 1)
	envs=$(sed -n 's/^# env: //p' "$script" | head -n 1)
	daemon=$(sed -n 's/^# daemon: //p' "$script" | head -n 1)
	[ -n "$args" ] || args=--demo
	[ -n "$size" ] || size=80x24
	for loc in C C.UTF-8; do
		tag=${loc#C.}
		scratch=$work/$name.$tag
		mkdir -p "$scratch/root"
		expanded=$(SYSROOTS=$SYSROOTS SCRATCH=$scratch/root HERE=$here eval "echo $args")
		envs_x=$(HERE=$here SCRATCH=$scratch/root eval "echo $envs")
		if [ -n "$before" ]; then
			(TUI=$TUI HERE=$here SCRATCH=$scratch/root SYSROOTS=$SYSROOTS; export LC_ALL=$loc; eval "$before") 2>"$work/before.err" ||
				{ bad "$name ($loc): the before command failed"; cat "$work/before.err"; continue; }
		fi
		if [ -n "$daemon" ]; then
			python3 "$top/tests/fixtures/fake-libvirtd.py" "$scratch/libvirt.sock" "$daemon" "$scratch/daemon.ready" &
			daemon_pid=$!
			i=0
			while [ ! -e "$scratch/daemon.ready" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
		fi
		got=$work/$name.$tag.txt
		err=$work/$name.$tag.err
		expected=$here/expected/$name.$tag.txt
		# shellcheck disable=SC2086
		# timeout(1) only keeps a frozen program from hanging the suite (exit 124 fails)
		(cd "$scratch" && env $envs_x LC_ALL=$loc timeout 300 "$TUI" $expanded --test-size "$size" \
			--test-script "$script" --test-dump "$got") 2>"$err"
		rc=$?
		# a certificate made during the run (vm create makes the VM's) has a fresh fingerprint
		[ -f "$got" ] && sed -i 's/SHA256:[0-9A-F:]*/SHA256:<fingerprint>/g' "$got"
		if [ -n "$daemon_pid" ]; then
			kill "$daemon_pid" 2>/dev/null
			wait "$daemon_pid" 2>/dev/null
			daemon_pid=
		fi
		if [ "${NEURON_REGEN:-}" = 1 ]; then
			cp "$got" "$expected"
			echo "wrote $expected"
		fi
		if [ $rc -ne 0 ]; then
			bad "$name ($loc): exit $rc"; cat "$err"
		elif [ -s "$err" ]; then
			# libvirt, libpci and curses must never print past the screen
			bad "$name ($loc): wrote to stderr"; head -n 20 "$err"
		elif ! [ -f "$expected" ]; then
			bad "$name ($loc): no golden file $expected"
			echo "  make it: NEURON_REGEN=1 BUILD=$BUILD sh tests/tui/run.sh $name"
		elif ! diff -u "$expected" "$got" >"$work/diff" 2>&1; then
			bad "$name ($loc): screen differs from $expected"
			head -n 60 "$work/diff"
			echo "  regenerate (after checking the new screens are right):"
			echo "  NEURON_REGEN=1 BUILD=$BUILD sh tests/tui/run.sh $name"
		else
			ok "$name ($loc)"
		fi
	done
done

# ---- a live agent: the agents panel over a real TLS session with neuron-agent ----
# libvirt's test driver loads a node with a running VM whose agent channel is a unix
# socket; the reference agent serves it with the certificates neuronctl made for it.
if [ $# -eq 0 ] && [ -x "$BUILD/neuron-agent" ]; then
	ag=$work/agent
	mkdir -p "$ag/root"
	cat >"$ag/node.xml" <<XML
<node>
  <domain type='test'>
    <name>agentvm</name>
    <memory>524288</memory>
    <os><type>hvm</type></os>
    <devices>
      <channel type='unix'>
        <source mode='bind' path='$ag/sock'/>
        <target type='virtio' name='org.neuronos.agent.0'/>
      </channel>
    </devices>
  </domain>
</node>
XML
	printf 'key 4\ndump live agent\n' >"$ag/keys"
	if "$BUILD/neuronctl" --root "$ag/root" agent certs agentvm --bundle "$ag/bundle" >"$ag/certs.out" 2>&1; then
		"$BUILD/neuron-agent" --listen "$ag/sock" --certs "$ag/bundle" --platform memory 2>"$ag/agent.err" &
		agent_pid=$!
		i=0
		while [ ! -S "$ag/sock" ] && [ $i -lt 50 ]; do sleep 0.05; i=$((i + 1)); done
		LC_ALL=C "$TUI" --sysroot "$SYSROOTS/demo" --root "$ag/root" --connect "test://$ag/node.xml" \
			--test-script "$ag/keys" --test-dump "$ag/screen" 2>"$ag/tui.err"
		kill $agent_pid 2>/dev/null
		wait $agent_pid 2>/dev/null
		pinned=$(sed -n 's/^guest: *//p' "$ag/certs.out")
		for want in "agentvm           + connected   0.1.0" "1 of 1 agent connected" \
			"+ The guest's certificate matches the pinned one" "Agent neuron-agent 0.1.0, protocol 2" "Guest resolution: 1920x1080" \
			"Pinned certificate: $(printf '%s' "$pinned" | cut -c1-58)"; do
			if grep -qF -- "$want" "$ag/screen"; then ok "live agent: $want"; else bad "live agent: no '$want'"; cat "$ag/screen" "$ag/tui.err"; fi
		done
		# the app list: Enter on the connected VM, a launcher in and out of the menu (a
		# private XDG_DATA_HOME, as it was after), an app started through nr_app_run
		"$BUILD/neuron-agent" --listen "$ag/sock" --certs "$ag/bundle" --platform memory 2>"$ag/agent.err" &
		agent_pid=$!
		i=0
		while [ ! -S "$ag/sock" ] && [ $i -lt 50 ]; do sleep 0.05; i=$((i + 1)); done
		printf 'key 4\nkey Enter\nwait\ndump apps\nkey Down\nkey i\nwait\ndump installed\nshell ls "%s/data/applications" >"%s/ls" 2>&1\nkey x\ndump removed\nkey End\nkey Enter\nwait\ndump launched\nkey Esc\ndump back\n' \
			"$ag" "$ag" >"$ag/keys"
		LC_ALL=C XDG_DATA_HOME="$ag/data" "$TUI" --sysroot "$SYSROOTS/demo" --root "$ag/root" \
			--connect "test://$ag/node.xml" --test-script "$ag/keys" --test-dump "$ag/screen" 2>"$ag/tui.err"
		kill $agent_pid 2>/dev/null
		wait $agent_pid 2>/dev/null
		for want in "=== apps (80x24)" ">Notepad                    .txt .log                                -" \
			" Evil?[31m?App?             .ev?il" "6 apps in VM agentvm. Enter start, i/x launcher in/out of the menu, Esc back" \
			">Paint                      .png .bmp                                yes" \
			"launcher of paint installed in the host's menu" "launcher of paint removed from the host's menu" \
			"started true in VM agentvm" ">agentvm           + connected"; do
			if grep -qF -- "$want" "$ag/screen"; then ok "app list: $want"; else bad "app list: no '$want'"; cat "$ag/screen" "$ag/tui.err"; fi
		done
		if grep -qx "neuron-agentvm-paint.desktop" "$ag/ls"; then ok "app list: i wrote the desktop entry"; else bad "app list: no desktop entry"; cat "$ag/ls"; fi
		if [ ! -e "$ag/data" ]; then ok "app list: x left XDG_DATA_HOME as it was (none)"; else bad "app list: x left $(find "$ag/data")"; fi
		if LC_ALL=C grep -q '[^ -~]' "$ag/screen"; then bad "app list: only ASCII on a C-locale screen"; else ok "app list: only ASCII on a C-locale screen"; fi
	else
		bad "live agent: neuronctl agent certs"; cat "$ag/certs.out"
	fi
fi

# ---- tmux: the built binary in a real pty ----
if [ $# -eq 0 ] && command -v tmux >/dev/null 2>&1; then
	sock=$work/tmux.sock
	cap() { tmux -S "$sock" capture-pane -p -t smoke; }
	waitfor() { # text: up to 5 s for it to appear on the pane
		i=0
		while [ $i -lt 50 ]; do
			cap | grep -q -- "$1" && return 0
			sleep 0.1; i=$((i + 1))
		done
		return 1
	}
	tmux -S "$sock" -f /dev/null new-session -d -s smoke -x 80 -y 24 \
		"env LC_ALL=C.UTF-8 NEURON_DEMO_SYSROOT=$NEURON_DEMO_SYSROOT LSAN_OPTIONS=$LSAN_OPTIONS $TUI --demo; echo EXITED \$?; sleep 5"
	if waitfor "IOMMU groups, 16 devices"; then ok "tmux: first frame"; else bad "tmux: first frame"; cap; fi
	tmux -S "$sock" send-keys -t smoke 2
	if waitfor "READY"; then ok "tmux: GPUs panel on key 2"; else bad "tmux: GPUs panel"; cap; fi
	tmux -S "$sock" send-keys -t smoke F1
	if waitfor "Show this help screen"; then ok "tmux: F1 opens help"; else bad "tmux: F1 help"; cap; fi
	tmux -S "$sock" send-keys -t smoke Escape
	sleep 0.2
	tmux -S "$sock" resize-window -t smoke -x 100 -y 30 2>/dev/null
	if waitfor "BOOT GPU" && [ "$(cap | head -n 1 | wc -c)" -gt 81 ]; then ok "tmux: resize to 100x30"; else bad "tmux: resize"; cap; fi
	tmux -S "$sock" send-keys -t smoke q
	if waitfor "EXITED 0"; then ok "tmux: q quits with status 0"; else bad "tmux: quit"; cap; fi
	tmux -S "$sock" kill-session -t smoke 2>/dev/null

	# a terminal that cannot move the cursor gets a sentence, not an empty screen
	tmux -S "$sock" -f /dev/null new-session -d -s smoke -x 80 -y 24 \
		"env TERM=dumb LC_ALL=C $TUI --demo; echo EXITED \$?; sleep 5"
	if waitfor "EXITED 1" && cap | grep -q "cannot run a full-screen program"; then
		ok "tmux: TERM=dumb says the terminal cannot run it"
	else
		bad "tmux: TERM=dumb"; cap
	fi
	tmux -S "$sock" kill-session -t smoke 2>/dev/null

	# the demo's scratch directory (under TMPDIR) goes on Ctrl-C, SIGTERM and SIGHUP (an
	# SSH drop closes the terminal: tmux sends SIGHUP when its session goes)
	for how in C-c TERM HUP; do
		td=$work/tmp.$how
		mkdir -p "$td"
		tmux -S "$sock" -f /dev/null new-session -d -s smoke -x 80 -y 24 \
			"exec env TMPDIR=$td LC_ALL=C NEURON_DEMO_SYSROOT=$NEURON_DEMO_SYSROOT LSAN_OPTIONS=$LSAN_OPTIONS $TUI --demo"
		if ! waitfor "IOMMU groups, 16 devices" || [ -z "$(ls "$td")" ]; then
			bad "tmux: $how: the demo did not start with a scratch directory in $td"; cap
			tmux -S "$sock" kill-session -t smoke 2>/dev/null
			continue
		fi
		pid=$(tmux -S "$sock" display-message -p -t smoke '#{pane_pid}')
		case $how in
		C-c) tmux -S "$sock" send-keys -t smoke C-c ;;
		TERM) kill -TERM "$pid" ;;
		HUP) tmux -S "$sock" kill-session -t smoke ;;
		esac
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		if kill -0 "$pid" 2>/dev/null; then
			bad "tmux: $how: neuron-tui is still running"
			kill -KILL "$pid" 2>/dev/null
		elif [ -n "$(ls "$td")" ]; then
			bad "tmux: $how: the demo's scratch directory stayed: $(ls "$td")"
		else
			ok "tmux: $how: the demo's scratch directory is gone"
		fi
		tmux -S "$sock" kill-session -t smoke 2>/dev/null
	done
	tmux -S "$sock" kill-server 2>/dev/null
fi

summary tui
