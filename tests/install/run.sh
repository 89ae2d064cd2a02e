#!/bin/sh
# make install into a DESTDIR: the file list is the expected manifest, the installed programs
# run from there (--version, --help, the demo machine), the installed man pages render, the
# installed completion completes, make uninstall removes everything; PREFIX, BINDIR, MANDIR and
# SYSCONFDIR are honoured; PKGBUILD's .SRCINFO is current (makepkg --printsrcinfo).
# NEURON_REGEN=1 rewrites tests/install/manifest.txt.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
: "${BUILD:?}" "${NEURONCTL:?}" "${SYSROOTS:?}"
. "$(dirname "$0")/../lib.sh"
scratch
export LC_ALL=C MANWIDTH=100 MANPAGER=cat PAGER=cat
unset MANOPT DESTDIR PREFIX BINDIR MANDIR SYSCONFDIR DATADIR

# make in the project with this build directory; variables of an outer make (BUILD, SANFLAGS
# of the ASan run) come along through MAKEFLAGS, so nothing is rebuilt.
mk() { make --no-print-directory -s -C "$top" BUILD="$BUILD" "$@"; }

# The installed tree as a list: files (with their mode), symlinks, empty directories. The demo
# sysroot is one line with its count of entries (it is compared whole below).
listing() {
	(cd "$1" && find . -mindepth 1 \( -type f -printf 'f %m %P\n' \) -o \( -type l -printf 'l %P\n' \) \
		-o \( -type d -empty -printf 'd %P/\n' \)) |
		awk '$NF ~ /^usr\/share\/neuron\/demo\// { demo++; next } { print } END { printf "demo usr/share/neuron/demo/ %d entries\n", demo }' |
		sort
}

# ---- make install PREFIX=/usr DESTDIR=... ---------------------------------------------------
d=$tmp/dest
if ! mk install PREFIX=/usr DESTDIR="$d" >"$tmp/log" 2>&1; then
	cat "$tmp/log"
	bad "make install PREFIX=/usr DESTDIR=$d failed"
	echo "install: $pass passed, $fail failed"
	exit 1
fi
ok
listing "$d" >"$tmp/manifest"
# What was built decides which programs and pages are there: the manifest of a build without
# neuron-tui or neuron-agent (an area not merged yet) leaves their lines out.
want=$tmp/want
grep -v -e '^#' "$here/manifest.txt" |
	{ if [ -x "$BUILD/neuron-tui" ]; then cat; else grep -v 'neuron-tui'; fi; } |
	{ if [ -x "$BUILD/neuron-agent" ]; then cat; else grep -v 'neuron-agent'; fi; } |
	{ if [ -f "$BUILD/win/neuron-agent.msi" ]; then cat; else grep -v 'neuron-agent.msi'; fi; } >"$want"
if [ "${NEURON_REGEN:-}" = 1 ]; then
	[ -x "$BUILD/neuron-tui" ] && [ -x "$BUILD/neuron-agent" ] ||
		echo "note: neuron-tui or neuron-agent is not built: the new manifest leaves them out"
	{ sed -n '/^#/p' "$here/manifest.txt"; cat "$tmp/manifest"; } >"$here/manifest.txt.new" &&
		mv "$here/manifest.txt.new" "$here/manifest.txt"
	cp "$tmp/manifest" "$want"
fi
if cmp -s "$want" "$tmp/manifest"; then
	ok
else
	bad "the installed files differ from tests/install/manifest.txt (- expected, + installed):"
	diff -u "$want" "$tmp/manifest" | sed -n '3,$p' | head -40
	echo "  to accept the new list: make && BUILD=$BUILD NEURONCTL=$NEURONCTL SYSROOTS=$SYSROOTS NEURON_REGEN=1 sh tests/install/run.sh"
fi

# Installed files are the sources, byte for byte.
for f in "$top"/templates/*.xml; do
	[ -f "$f" ] || continue
	check "templates/$(basename "$f") installed as is" cmp -s "$f" "$d/usr/share/neuron/templates/$(basename "$f")"
done
for f in "$top"/config/profiles/*.yaml; do
	[ -f "$f" ] || continue
	check "config/profiles/$(basename "$f") installed as is" cmp -s "$f" "$d/usr/share/neuron/profiles/$(basename "$f")"
done
check "config/systemd/neuron-sync@.service installed as the user unit template" \
	cmp -s "$top/config/systemd/neuron-sync@.service" "$d/usr/lib/systemd/user/neuron-sync@.service"
check "neuron-sync@VM.service runs neuronctl agent sync VM" \
	grep -qx 'ExecStart=/usr/bin/env neuronctl agent sync %i' "$d/usr/lib/systemd/user/neuron-sync@.service"
check "completion installed as is" cmp -s "$top/completion/neuronctl.bash" "$d/usr/share/bash-completion/completions/neuronctl"
# The demo machine is the generated sysroot of tests/fixtures/machines/demo.yaml, links and all.
if diff -r --no-dereference -x .stamp "$SYSROOTS/demo" "$d/usr/share/neuron/demo" >"$tmp/diff" 2>&1; then
	ok
else
	bad "usr/share/neuron/demo differs from the generated demo sysroot"
	head -10 "$tmp/diff"
fi

# What make install takes from the source tree is committed, not hidden by .gitignore (a clean
# clone would lack it).
# (Only in a checkout: built from a tarball inside another repository, as makepkg does in
# the project's own src/, the answer would be about that repository.)
in_checkout=no
[ "$(git -C "$top" rev-parse --show-toplevel 2>/dev/null)" = "$top" ] && in_checkout=yes
if [ $in_checkout = yes ]; then
	hidden=$(cd "$top" && git ls-files --others --ignored --exclude-standard -- config docs completion templates)
	check "no installed source is ignored by git (ignored: $hidden)" test -z "$hidden"
fi

# ---- the installed programs run from there ------------------------------------------------------
bin=$d/usr/bin
version=$(sed -n 's/^VERSION *:= *//p' "$top/mk/install.mk")
for p in neuronctl neuron-tui neuron-agent; do
	[ -x "$BUILD/$p" ] || continue
	out=$("$bin/$p" --version 2>&1)
	case "$out" in
	"$p $version"|"$p $version "*) ok ;;   # "neuron-agent 0.1.0 (protocol 1)"
	*) bad "installed $p --version is '$out', not '$p $version'" ;;
	esac
	"$bin/$p" --help >"$tmp/help" 2>&1
	rc=$?
	check "installed $p --help: exit 0 and a usage line" test "$rc" = 0 -a "$(grep -c "^usage: $p" "$tmp/help")" -ge 1
	"$bin/$p" --no-such-option >/dev/null 2>&1
	check "installed $p --no-such-option: exit 2" test "$?" = 2
done
# neuronctl on the installed demo machine says what the golden test of the demo says.
"$bin/neuronctl" --sysroot "$d/usr/share/neuron/demo" scan >"$tmp/scan" 2>&1
echo "exit: $?" >>"$tmp/scan"
check "installed neuronctl scans the installed demo like tests/cli/expected/demo.scan" \
	cmp -s "$tmp/scan" "$top/tests/cli/expected/demo.scan"
# The installed neuronctl finds what the guest-tools media carries: neuron-agent beside it,
# the unit, the udev rule and the MSI under PREFIX/share/neuron/guest.
if [ -x "$BUILD/neuron-agent" ] && command -v xorriso >/dev/null 2>&1; then
	"$bin/neuronctl" --param "state_dir=$tmp/state" agent media --json inst >"$tmp/media" 2>&1
	xorriso -no_rc -indev "$tmp/state/vm/inst/guest-tools.iso" -find / -type f 2>/dev/null | sort >"$tmp/media.list"
	want_files="'/linux/70-neuron-agent.rules' '/linux/neuron-agent' '/linux/neuron-agent.service'"
	[ -f "$BUILD/win/neuron-agent.msi" ] && want_files="$want_files '/windows/neuron-agent.msi'"
	missing=
	for f in $want_files; do grep -qxF "$f" "$tmp/media.list" || missing="$missing $f"; done
	check "installed neuronctl puts the installed agent files on the media (missing:$missing)" test -z "$missing"
fi
# neuron-tui --demo finds the installed demo machine: its first screen names the demo GPU.
if [ -x "$BUILD/neuron-tui" ] && command -v tmux >/dev/null 2>&1; then
	sock=$tmp/tmux
	mkdir -p "$tmp/scratch"
	tmux -S "$sock" -f /dev/null new-session -d -x 100 -y 30 \
		"env -i TERM=xterm LC_ALL=C PATH=/usr/bin:/bin HOME=$tmp TMPDIR=$tmp/scratch $bin/neuron-tui --demo; sleep 5"
	shown=
	for _ in $(seq 50); do
		shown=$(tmux -S "$sock" capture-pane -p 2>/dev/null)
		case $shown in *4090*) break ;; esac
		sleep 0.1
	done
	case $shown in
	*4090*) ok ;;
	*) bad "installed neuron-tui --demo does not show the demo machine's RTX 4090:"; printf '%s\n' "$shown" | head -12 ;;
	esac
	# The new-VM wizard (F3) offers the installed example profiles.
	tmux -S "$sock" send-keys F3 2>/dev/null
	for _ in $(seq 50); do
		shown=$(tmux -S "$sock" capture-pane -p 2>/dev/null)
		case $shown in *windows11.yaml*) break ;; esac
		sleep 0.1
	done
	demo_dir=$(ls "$tmp/scratch")
	tmux -S "$sock" kill-server 2>/dev/null
	case $shown in
	*windows11.yaml*) ok ;;
	*) bad "installed neuron-tui's new-VM wizard does not offer the installed profiles:"; printf '%s\n' "$shown" | head -8 ;;
	esac
	# Closing the terminal (SIGHUP) ends it cleanly: its scratch directory (in TMPDIR) goes.
	for _ in $(seq 50); do
		[ -z "$(ls "$tmp/scratch")" ] && break
		sleep 0.1
	done
	check "neuron-tui --demo made its scratch directory in TMPDIR" test -n "$demo_dir"
	check "neuron-tui --demo removes its scratch directory when its terminal goes (SIGHUP)" \
		test -z "$(ls "$tmp/scratch")"
fi
# The installed neuronctl builds a domain from an installed profile and the installed template.
if [ -f "$top/config/profiles/windows11.yaml" ]; then
	(cd / && "$bin/neuronctl" --sysroot "$d/usr/share/neuron/demo" --connect test:///default \
		vm xml --profile "$d/usr/share/neuron/profiles/windows11.yaml") >"$tmp/xml" 2>"$tmp/err"
	if grep -q '<domain' "$tmp/xml"; then ok; else bad "installed neuronctl vm xml: $(head -c 300 "$tmp/err")"; fi
fi

# ---- the installed man pages and completion -----------------------------------------------------
for page in "$d"/usr/share/man/man*/*; do
	man --warnings -l "$page" >"$tmp/page" 2>"$tmp/warn"
	check "installed $(basename "$page") renders without a warning" test ! -s "$tmp/warn" -a -s "$tmp/page"
done
MANPATH=$d/usr/share/man man -w neuronctl >/dev/null 2>&1
check "man finds neuronctl(1) in the installed MANPATH" test "$?" = 0
PATH=$bin:$PATH bash -c '
	source "$1"
	COMP_WORDS=(neuronctl --sysroot "$2" check --gpu "")
	COMP_CWORD=5
	_neuronctl
	printf "%s\n" "${COMPREPLY[@]}"' _ "$d/usr/share/bash-completion/completions/neuronctl" \
	"$d/usr/share/neuron/demo" >"$tmp/comp"
check "installed completion completes the demo's GPUs with the installed neuronctl" \
	test "$(sort "$tmp/comp" | tr '\n' ' ')" = "0000:01:00.0 0000:05:00.0 0000:15:00.0 "

# The boot unit that finishes an interrupted single-GPU release runs the installed neuronctl.
unit=$d/usr/lib/systemd/system/neuron-gpu-restore.service
check "the boot unit runs /usr/bin/neuronctl gpu restore" grep -qx 'ExecStart=/usr/bin/neuronctl gpu restore' "$unit"
check "the boot unit is wanted by multi-user.target" grep -qx 'WantedBy=multi-user.target' "$unit"
if command -v systemd-analyze >/dev/null 2>&1; then
	# its ExecStart must exist for verify: point it at the staged program
	sed "s#ExecStart=/usr/bin/#ExecStart=$d/usr/bin/#" "$unit" >"$tmp/neuron-gpu-restore.service"
	check "systemd-analyze verify accepts the boot unit" systemd-analyze verify --man=no "$tmp/neuron-gpu-restore.service"
fi

# ---- make uninstall -----------------------------------------------------------------------------
mk uninstall PREFIX=/usr DESTDIR="$d" >"$tmp/log" 2>&1
check "make uninstall succeeds" test "$?" = 0
left=$(cd "$d" && find . \( -type f -o -type l \) | head -5)
check "make uninstall leaves no file behind (left: $left)" test -z "$left"

# ---- PREFIX=/usr/local (the default), and each directory on its own -----------------------------
d2=$tmp/local
mk install DESTDIR="$d2" >"$tmp/log" 2>&1 || { cat "$tmp/log"; bad "make install DESTDIR=$d2 failed"; }
for f in usr/local/bin/neuronctl usr/local/share/man/man1/neuronctl.1 usr/local/share/neuron/demo/proc/cmdline \
	usr/local/share/bash-completion/completions/neuronctl usr/local/lib/tmpfiles.d/neuron.conf; do
	check "default PREFIX=/usr/local puts $f" test -e "$d2/$f"
done
check "default PREFIX=/usr/local: SYSCONFDIR is /usr/local/etc" test -d "$d2/usr/local/etc/neuron"
check "default PREFIX=/usr/local: nothing outside usr/local" test "$(ls "$d2")" = usr -a "$(ls "$d2/usr")" = local
if [ -f "$top/config/profiles/windows11.yaml" ]; then
	(cd / && "$d2/usr/local/bin/neuronctl" --sysroot "$d2/usr/local/share/neuron/demo" --connect test:///default \
		vm xml --profile "$d2/usr/local/share/neuron/profiles/windows11.yaml") >"$tmp/xml" 2>"$tmp/err"
	if grep -q '<domain' "$tmp/xml"; then ok; else bad "PREFIX=/usr/local: neuronctl vm xml finds no template: $(head -c 300 "$tmp/err")"; fi
fi
d3=$tmp/dirs
mk install PREFIX=/opt/neuron BINDIR=/opt/bin MANDIR=/opt/man SYSCONFDIR=/opt/etc DESTDIR="$d3" >"$tmp/log" 2>&1 ||
	{ cat "$tmp/log"; bad "make install with BINDIR, MANDIR, SYSCONFDIR failed"; }
check "BINDIR is honoured" test -x "$d3/opt/bin/neuronctl" -a ! -e "$d3/opt/neuron/bin"
check "BINDIR is honoured in the boot unit" grep -qx 'ExecStart=/opt/bin/neuronctl gpu restore' \
	"$d3/opt/neuron/lib/systemd/system/neuron-gpu-restore.service"
check "MANDIR is honoured" test -f "$d3/opt/man/man1/neuronctl.1" -a ! -e "$d3/opt/neuron/share/man"
check "SYSCONFDIR is honoured" test -d "$d3/opt/etc/neuron"
check "PREFIX is honoured for the data" test -d "$d3/opt/neuron/share/neuron/demo/sys"

# ---- PKGBUILD -------------------------------------------------------------------------------------
pkgver=$(sed -n 's/^pkgver=//p' "$top/PKGBUILD")
check "PKGBUILD pkgver ($pkgver) is the program's version ($version)" test "$pkgver" = "$version"
for dep in ncurses libvirt pciutils libyaml wolfssl libxml2 json-c; do
	grep -qx "	depends = $dep" "$top/.SRCINFO" || bad "PKGBUILD does not depend on $dep"
done
for opt in qemu edk2-ovmf swtpm looking-glass; do
	grep -q "^	optdepends = $opt:" "$top/.SRCINFO" || bad "PKGBUILD does not suggest $opt"
done
if command -v makepkg >/dev/null 2>&1; then
	mkdir -p "$tmp/pkg"
	cp "$top/PKGBUILD" "$tmp/pkg/"
	if [ "$(id -u)" = 0 ]; then   # makepkg refuses to run as root
		chown -R 65534:65534 "$tmp/pkg"
		chmod 755 "$tmp"
		(cd "$tmp/pkg" && setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$tmp/pkg" \
			makepkg --printsrcinfo) >"$tmp/srcinfo" 2>"$tmp/err"
	else
		(cd "$tmp/pkg" && makepkg --printsrcinfo) >"$tmp/srcinfo" 2>"$tmp/err"
	fi
	if [ -s "$tmp/srcinfo" ] && cmp -s "$tmp/srcinfo" "$top/.SRCINFO"; then
		ok
	else
		bad ".SRCINFO is not what makepkg --printsrcinfo makes of PKGBUILD: $(head -c 300 "$tmp/err")"
		diff -u "$top/.SRCINFO" "$tmp/srcinfo" | head -20
		echo "  to update it: makepkg --printsrcinfo > .SRCINFO (as a user, not root)"
	fi
else
	echo "SKIP makepkg --printsrcinfo: makepkg is not installed (make deps installs it)"
fi

# The package itself (slow: a whole build; NEURON_MAKEPKG=1 asks for it): makepkg builds the
# committed tree (make dist) and the package holds the manifest's files (man pages gzipped).
if [ "${NEURON_MAKEPKG:-}" = 1 ] && command -v makepkg >/dev/null 2>&1 && command -v bsdtar >/dev/null 2>&1 &&
	[ $in_checkout = yes ]; then
	p=$tmp/makepkg
	mkdir -p "$p"
	git -C "$top" archive --format=tar.gz --prefix="neuron-$version/" -o "$p/neuron-$version.tar.gz" HEAD
	py=/usr/bin/python
	[ -x $py ] || py=/usr/bin/python3   # Debian has no /usr/bin/python
	sed "s|PYTHON=/usr/bin/python |PYTHON=$py |" "$top/PKGBUILD" >"$p/PKGBUILD"
	if [ "$(id -u)" = 0 ]; then
		chown -R 65534:65534 "$p"
		chmod 755 "$tmp"
		(cd "$p" && setpriv --reuid=65534 --regid=65534 --clear-groups \
			env -u BUILD -u MAKEFLAGS -u MFLAGS -u MAKELEVEL HOME="$p" makepkg -d --nocheck) >"$tmp/log" 2>&1
	else
		(cd "$p" && env -u BUILD -u MAKEFLAGS -u MFLAGS -u MAKELEVEL makepkg -d --nocheck) >"$tmp/log" 2>&1
	fi
	pkgfile=$(ls "$p"/neuron-"$version"-*.pkg.tar.* 2>/dev/null | head -n 1)
	if [ -n "$pkgfile" ]; then
		ok
		mkdir -p "$tmp/pkgroot"
		bsdtar -xf "$pkgfile" -C "$tmp/pkgroot" --exclude .PKGINFO --exclude .BUILDINFO --exclude .MTREE
		gunzip "$tmp"/pkgroot/usr/share/man/man*/*.gz
		listing "$tmp/pkgroot" >"$tmp/pkglist"
		if cmp -s "$want" "$tmp/pkglist"; then ok; else
			bad "the package's files differ from the manifest"
			diff -u "$want" "$tmp/pkglist" | sed -n '3,$p' | head -20
		fi
	else
		bad "makepkg made no package"
		tail -15 "$tmp/log"
	fi
fi

summary install
