#!/bin/sh
# Install what the build and the tests need, only when something is missing,
# so that a second run costs a few pkg-config calls.
#
# Debian/Ubuntu: installed here with apt-get (as root).
# Arch (pacman):  ncurses libvirt pciutils hwdata libyaml wolfssl libxml2 json-c cmocka
#                 python-yaml pkgconf valgrind
# Fedora (dnf):   ncurses-devel libvirt-devel pciutils-devel pciutils hwdata libyaml-devel
#                 wolfssl-devel libxml2-devel json-c-devel libcmocka-devel python3-pyyaml
#                 pkgconf valgrind
set -u

PKGCONF="ncursesw libvirt libpci yaml-0.1 wolfssl libxml-2.0 json-c cmocka"
missing=""

need_pkg() { missing="$missing $1"; }

command -v pkg-config >/dev/null 2>&1 || need_pkg pkg-config
command -v cc >/dev/null 2>&1 || need_pkg gcc
for lib in $PKGCONF; do
	if ! pkg-config --exists "$lib" 2>/dev/null; then
		case $lib in
		ncursesw)   need_pkg libncurses-dev ;;
		libvirt)    need_pkg libvirt-dev ;;
		libpci)     need_pkg libpci-dev ;;
		yaml-0.1)   need_pkg libyaml-dev ;;
		wolfssl)    need_pkg libwolfssl-dev ;;
		libxml-2.0) need_pkg libxml2-dev ;;
		json-c)     need_pkg libjson-c-dev ;;
		cmocka)     need_pkg libcmocka-dev ;;
		esac
	fi
done
command -v lspci >/dev/null 2>&1 || need_pkg pciutils
[ -r /usr/share/misc/pci.ids ] || [ -r /usr/share/hwdata/pci.ids ] || need_pkg pci.ids
command -v virsh >/dev/null 2>&1 || need_pkg libvirt-clients
command -v virt-xml-validate >/dev/null 2>&1 || need_pkg libvirt-clients
command -v xmllint >/dev/null 2>&1 || need_pkg libxml2-utils
/usr/bin/python3 -c 'import yaml' >/dev/null 2>&1 || need_pkg python3-yaml
command -v tmux >/dev/null 2>&1 || need_pkg tmux
command -v valgrind >/dev/null 2>&1 || need_pkg valgrind
for extra in ${NEURON_EXTRA_DEPS:-}; do
	dpkg -s "$extra" >/dev/null 2>&1 || need_pkg "$extra"
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
apt-get update -q >/dev/null || exit 1
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null || exit 1
