# The Wine environment of tests/win/run.sh and tests/bench/bench-win.sh (sourced): a fresh
# prefix, a private X server, the agent's port as a pty pair, and what drives them.
# Private to the run: WINEPREFIX under the given directory, an X display nobody uses;
# win_cleanup stops every process started by its pid and Wine's with `wineserver -k`.
# ~/.wine is never touched: HOME is the run's own. As root (CI), Wine, the X server and
# the pty relay run as nobody through setpriv: Wine wants the prefix to belong to the user
# that runs it, and as root it would share its wineserver directory (/tmp/.wine-0) with
# any other root Wine on the machine.
unset DISPLAY WAYLAND_DISPLAY XAUTHORITY
export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" WINEARCH=win64
as=""
[ "$(id -u)" = 0 ] && as="setpriv --reuid=65534 --regid=65534 --clear-groups"
pids=""

wine_() { $as env DISPLAY="$DISP" wine "$@"; }
xclip_() { $as env DISPLAY="$DISP" xclip "$@"; }
wait_for() { i=0; while [ ! -e "$1" ] && [ $i -lt "${2:-200}" ]; do sleep 0.05; i=$((i + 1)); done; [ -e "$1" ]; }

# win_setup DIR: everything under DIR (made afresh), or under /tmp when nobody cannot reach
# DIR. Sets WT (where it is), WINEPREFIX, HOME, DISP, C (the prefix's C:) and CHAN (the host
# end of the port).
win_setup() {
	WT=$1
	rm -rf "$WT"
	mkdir -p "$WT/home" && chmod 755 "$WT" || return 1
	if [ -n "$as" ]; then
		chown 65534:65534 "$WT" "$WT/home"
		# a checkout nobody may not enter (under /root): the run goes to /tmp instead
		if ! $as test -w "$WT/home"; then
			rm -rf "$WT"
			WT=$(mktemp -d /tmp/neuron-win-XXXXXX) && mkdir "$WT/home" && chmod 755 "$WT" &&
				chown 65534:65534 "$WT" "$WT/home" || return 1
			echo "note: nobody cannot reach $1: the Wine prefix is under $WT"
		fi
	fi
	# what runs as nobody, where nobody can read it
	cp "$top/tests/agent/ptypair.py" "$top/tests/agent-desktop/xrandr-modes.py" "$WT/"
	WINEPREFIX=$WT/prefix
	export WINEPREFIX HOME="$WT/home"
	# A free display: no lock file and no socket here is not enough (a chroot, or another
	# network namespace's view of /tmp, can miss an X server whose abstract socket holds
	# the number): Xvfb reports the display once it listens (-displayfd), and a number it
	# cannot take makes it exit, so the next one is tried.
	dn=$((90 + $$ % 400)) tries=0 DISP=
	while [ -z "$DISP" ] && [ $tries -lt 20 ]; do
		if [ ! -e "/tmp/.X11-unix/X$dn" ] && [ ! -e "/tmp/.X$dn-lock" ]; then
			: >"$WT/displayfd"
			$as Xvfb ":$dn" -screen 0 1280x1024x24 -nolisten tcp -displayfd 3 3>"$WT/displayfd" \
				>"$WT/xvfb.log" 2>&1 &
			xp=$!
			i=0
			while [ ! -s "$WT/displayfd" ] && kill -0 $xp 2>/dev/null && [ $i -lt 400 ]; do
				sleep 0.05
				i=$((i + 1))
			done
			if [ -s "$WT/displayfd" ]; then
				DISP=:$dn
				pids="$pids $xp"
			else
				kill $xp 2>/dev/null
			fi
		fi
		dn=$((dn + 1)) tries=$((tries + 1))
	done
	[ -n "$DISP" ] || { echo "Xvfb did not start:"; cat "$WT/xvfb.log"; return 1; }
	# two more sizes than Xvfb's one, before Wine reads them (held until win_cleanup)
	$as env DISPLAY="$DISP" XRANDR_MODES_HOLD=3600 /usr/bin/python3 "$WT/xrandr-modes.py" \
		1024x768 800x600 >"$WT/modes.out" 2>&1 </dev/null &
	pids="$pids $!"
	i=0
	while ! grep -q ready "$WT/modes.out" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	# A new prefix restarts its services once more after wineboot -i returns (an
	# msiexec then races two services.exe): wait for that first boot to end, then one
	# wineserver for the whole run (until win_cleanup's wineserver -k), booted again.
	wine_ wineboot -i >"$WT/wineboot.log" 2>&1
	[ -d "$WINEPREFIX/drive_c/windows" ] || { echo "wineboot made no prefix"; return 1; }
	$as wineserver -w
	$as wineserver -p
	wine_ wineboot >>"$WT/wineboot.log" 2>&1
	C=$WINEPREFIX/drive_c
	# the port: a pty pair, the guest end where Wine looks for \\.\Global\NAME
	$as mkdir -p "$WINEPREFIX/dosdevices/global"
	$as /usr/bin/python3 "$WT/ptypair.py" "$WINEPREFIX/dosdevices/global/org.neuronos.agent.0" \
		"$WT/port.host" >"$WT/ptypair.out" 2>&1 &
	pids="$pids $!"
	wait_for "$WT/port.host" || { echo "no pty pair"; return 1; }
	CHAN=$WT/port.host
}

# The service NeuronAgent RUNNING within 30 s.
win_running() {
	i=0
	while [ $i -lt 60 ]; do
		wine_ sc query NeuronAgent >"$WT/sc" 2>&1
		grep -q RUNNING "$WT/sc" && return 0
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}

win_cleanup() {
	[ -n "${WINEPREFIX:-}" ] && [ -d "$WINEPREFIX" ] && $as wineserver -k >/dev/null 2>&1
	for p in $pids; do kill "$p" 2>/dev/null; done
	[ -n "${WT:-}" ] && rm -rf "$WT"
}
