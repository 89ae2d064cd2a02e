#!/bin/sh
# Screen tests (tig's way): the real neuron-tui driven by a key script at a pinned size,
# each dump compared with a golden file, in the C locale and in UTF-8; then the key
# table's self-test and a tmux smoke test of the built binary.
#
#   sh tests/tui/run.sh [NAME...]                 run (all scripts, or the named ones)
#   NEURON_TUI_REGEN=1 sh tests/tui/run.sh NAME   rewrite NAME's golden files
#
# A script's first lines may say "# args: ..." (options instead of --demo; $SYSROOTS and
# $SCRATCH are expanded), "# size: COLSxLINES" (default 80x24) and "# before: COMMAND"
# (a shell command run first, with $TUI, $HERE and $SCRATCH set: e.g. an apply that is
# cut short on the same scratch root).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$top/build}
SYSROOTS=${SYSROOTS:-$BUILD/sysroots}
TUI=$BUILD/neuron-tui
here=$top/tests/tui
passed=0 failed=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export NEURON_DEMO_SYSROOT="$SYSROOTS/demo"
# ncurses and libvirt keep some memory until exit on purpose; LeakSanitizer is told so
export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"
unset NO_COLOR
export TERM=xterm-256color

ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }

# ---- the key table ----
if out=$("$TUI" --self-test 2>&1); then ok "key table self-test ($out)"; else fail "key table self-test"; echo "$out"; fi

# ---- screen dumps ----
names=${*:-$(cd "$here/scripts" && ls *.keys | sed 's/\.keys$//')}
for name in $names; do
	script=$here/scripts/$name.keys
	args=$(sed -n 's/^# args: //p' "$script" | head -n 1)
	size=$(sed -n 's/^# size: //p' "$script" | head -n 1)
	before=$(sed -n 's/^# before: //p' "$script" | head -n 1)
	[ -n "$args" ] || args=--demo
	[ -n "$size" ] || size=80x24
	for loc in C C.UTF-8; do
		tag=${loc#C.}
		scratch=$work/$name.$tag
		mkdir -p "$scratch/root"
		expanded=$(SYSROOTS=$SYSROOTS SCRATCH=$scratch/root eval "echo $args")
		if [ -n "$before" ]; then
			(TUI=$TUI HERE=$here SCRATCH=$scratch/root SYSROOTS=$SYSROOTS; export LC_ALL=$loc; eval "$before") 2>"$work/before.err" ||
				{ fail "$name ($loc): the before command failed"; cat "$work/before.err"; continue; }
		fi
		got=$work/$name.$tag.txt
		err=$work/$name.$tag.err
		expected=$here/expected/$name.$tag.txt
		# shellcheck disable=SC2086
		LC_ALL=$loc "$TUI" $expanded --test-size "$size" --test-script "$script" --test-dump "$got" 2>"$err"
		rc=$?
		if [ "${NEURON_TUI_REGEN:-}" = 1 ]; then
			cp "$got" "$expected"
			echo "wrote $expected"
		fi
		if [ $rc -ne 0 ]; then
			fail "$name ($loc): exit $rc"; cat "$err"
		elif [ -s "$err" ]; then
			# libvirt, libpci and curses must never print past the screen
			fail "$name ($loc): wrote to stderr"; head -n 20 "$err"
		elif ! [ -f "$expected" ]; then
			fail "$name ($loc): no golden file $expected"
			echo "  make it: NEURON_TUI_REGEN=1 BUILD=$BUILD sh tests/tui/run.sh $name"
		elif ! diff -u "$expected" "$got" >"$work/diff" 2>&1; then
			fail "$name ($loc): screen differs from $expected"
			head -n 60 "$work/diff"
			echo "  regenerate (after checking the new screens are right):"
			echo "  NEURON_TUI_REGEN=1 BUILD=$BUILD sh tests/tui/run.sh $name"
		else
			ok "$name ($loc)"
		fi
	done
done

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
	if waitfor "IOMMU groups, 16 devices"; then ok "tmux: first frame"; else fail "tmux: first frame"; cap; fi
	tmux -S "$sock" send-keys -t smoke 2
	if waitfor "READY"; then ok "tmux: GPUs panel on key 2"; else fail "tmux: GPUs panel"; cap; fi
	tmux -S "$sock" send-keys -t smoke F1
	if waitfor "Show this help screen"; then ok "tmux: F1 opens help"; else fail "tmux: F1 help"; cap; fi
	tmux -S "$sock" send-keys -t smoke Escape
	sleep 0.2
	tmux -S "$sock" resize-window -t smoke -x 100 -y 30 2>/dev/null
	if waitfor "BOOT GPU" && [ "$(cap | head -n 1 | wc -c)" -gt 81 ]; then ok "tmux: resize to 100x30"; else fail "tmux: resize"; cap; fi
	tmux -S "$sock" send-keys -t smoke q
	if waitfor "EXITED 0"; then ok "tmux: q quits with status 0"; else fail "tmux: quit"; cap; fi
	tmux -S "$sock" kill-server 2>/dev/null
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
