#!/bin/sh
# Install what the build and the tests need, only when something is missing, so that
# a second run costs a few checks. What is needed is listed in mk/packages/*.txt;
# with arguments, in those list files instead (make bench: mk/packages/extra/bench.txt).
#
# Debian/Ubuntu: installed here with apt-get (as root).
# Arch (pacman):  ncurses libvirt pciutils hwdata libyaml wolfssl libxml2 json-c cmocka
#                 python-yaml pkgconf valgrind tmux
#                 tests: xorg-server-xvfb xclip xorg-xrandr weston wl-clipboard mingw-w64-gcc
#                 Windows agent: cmake wine msitools osslsigncode
# Fedora (dnf):   ncurses-devel libvirt-devel pciutils-devel pciutils hwdata libyaml-devel
#                 wolfssl-devel libxml2-devel json-c-devel libcmocka-devel python3-pyyaml
#                 pkgconf valgrind tmux
#                 tests: xorg-x11-server-Xvfb xclip xrandr weston wl-clipboard
#                 mingw64-gcc
#                 Windows agent: cmake wine msitools osslsigncode
# Elsewhere build with make WOLFSSL=system (mk/wolfssl.sh rebuilds Debian's wolfSSL source).
set -u
cd "$(dirname "$0")/.." || exit 1

missing=""
ok() {
	case $1 in
	pc:*)   pkg-config --exists "${1#pc:}" 2>/dev/null ;;
	cmd:*)  command -v "${1#cmd:}" >/dev/null 2>&1 ;;
	file:*) [ -e "${1#file:}" ] ;;
	py:*)   /usr/bin/python3 -c "import ${1#py:}" >/dev/null 2>&1 ;;
	dpkg:*) dpkg -s "${1#dpkg:}" >/dev/null 2>&1 ;;
	*)      false ;;
	esac
}
[ $# -gt 0 ] || set -- mk/packages/*.txt
for list in "$@"; do
	while read -r check pkg; do
		case $check in ''|'#'*) continue ;; esac
		ok "$check" && continue
		case " $missing " in *" $pkg "*) ;; *) missing="$missing $pkg" ;; esac
	done <"$list"
done
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
	echo "deps: missing:$missing" >&2
	echo "deps: install them with your package manager (see the names at the top of mk/deps.sh)" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing:$missing; run 'make deps' as root, or: apt-get install$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# One apt at a time, also when several builds run side by side.
exec 9>/tmp/neuron-deps.lock
flock 9
apt-get update -q >/dev/null || exit 1
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null || exit 1
