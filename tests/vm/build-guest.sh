#!/bin/sh
# Build the VM lane's guest from Debian's packages only: the kernel of linux-image-amd64 (as an
# uncompressed vmlinux, which QEMU boots directly through its PVH note, skipping the decompressor),
# and an initramfs made of two concatenated cpio archives (the kernel unpacks both):
#   base.cpio  busybox-static, dash as /bin/sh (busybox's sh runs its own applets before PATH:
#              its modprobe, not kmod's, even inside modprobe.d install hooks), kmod (the real
#              modprobe: install hooks, softdeps, modprobe.d options), the kernel
#              modules the scenarios need with their dependencies (modprobe --show-depends),
#              modules.* from depmod, pci.ids
#   app.cpio   /init, the guest halves of the scenarios, our binaries, the shared libraries ldd
#              finds for them, small static guest tools
# Each piece is cached under $VM_CACHE, keyed on a hash of its inputs, so a second run with the
# same inputs costs a few hashes. Prints "VMLINUX BZIMAGE INITRD" on stdout: the bzImage is for
# libvirt domains (booting the PVH vmlinux through libvirt's QEMU set-up puts the initramfs over
# SeaBIOS's ACPI tables: no ACPI, and power-off becomes a halt).
# Env: BUILD (absolute build dir), VM_CACHE (default $BUILD/vm/cache).
set -eu
: "${BUILD:?BUILD must be set}"
here=$(cd "$(dirname "$0")" && pwd)
cache=${VM_CACHE:-$BUILD/vm/cache}
mkdir -p "$cache"
exec 8>"$cache/.lock"
flock 8   # two lanes of the same build dir must not write the same cache at once

# The modules any scenario needs; their dependencies are found by modprobe --show-depends.
# drivers the guest's devices use: bochs (VGA), snd_hda_intel, xhci_pci, virtio_*; the ACPI
# power button and evdev (libvirt's shutdown, `vm stop`, presses it); vfio for the bind;
# 9p + overlay for the nested libvirt scenario (the host's root over virtfs).
MODULES="virtio_pci virtio_console virtio_rng bochs snd_hda_intel xhci_pci button evdev
	vfio vfio_pci vfio_iommu_type1 9p 9pnet_virtio overlay virtiofs"

kver=$(ls /lib/modules 2>/dev/null | grep -- '-amd64$' | sort -V | tail -n 1)
if [ -z "$kver" ] || [ ! -f "/boot/vmlinuz-$kver" ]; then
	echo "build-guest: no Debian kernel found (install linux-image-amd64: make deps)" >&2
	exit 1
fi
for tool in busybox:/bin/busybox kmod:/bin/kmod dash:/bin/dash cpio:/usr/bin/cpio; do
	[ -x "${tool#*:}" ] || { echo "build-guest: ${tool%%:*} missing: make deps" >&2; exit 1; }
done

key() { # files... -> one hash of their contents and names
	for f in "$@"; do printf '%s ' "$f"; sha256sum <"$f"; done | sha256sum | cut -c1-16
}

# Copies a file to the same path under a root, following links, with its directory.
put() { # root file [dest]
	mkdir -p "$1$(dirname "${3:-$2}")"
	cp -L "$2" "$1${3:-$2}"
}

# The shared libraries of the given ELF files (ldd), and the loader.
libs_of() {
	for f in "$@"; do
		ldd "$f" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p'
	done | sort -u
}

cpio_of() { # dir out
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$2.tmp"
	mv "$2.tmp" "$2"
}

# --- kernel: vmlinux out of the bzImage (XZ payload) -------------------------------------------
vmlinuz=/boot/vmlinuz-$kver
kkey=$(key "$vmlinuz")
vmlinux=$cache/vmlinux-$kkey
if [ ! -s "$vmlinux" ]; then
	rm -f "$cache"/vmlinux-*
	/usr/bin/python3 - "$vmlinuz" "$vmlinux.tmp" <<'EOF'
import lzma, sys
data = open(sys.argv[1], 'rb').read()
at = data.find(b'\xfd7zXZ\x00')
if at < 0:
    sys.exit("build-guest: %s has no XZ payload" % sys.argv[1])
elf = lzma.LZMADecompressor().decompress(data[at:])
if elf[:4] != b'\x7fELF':
    sys.exit("build-guest: the payload of %s is not an ELF vmlinux" % sys.argv[1])
open(sys.argv[2], 'wb').write(elf)
EOF
	mv "$vmlinux.tmp" "$vmlinux"
fi

# --- base.cpio: busybox, kmod, modules ----------------------------------------------------------
kos=$(for m in $MODULES; do modprobe -S "$kver" --show-depends "$m"; done |
	awk '$1 == "insmod" { print $2 }' | sort -u)
[ -n "$kos" ] || { echo "build-guest: no modules found for $kver" >&2; exit 1; }
bkey=$(printf '%s\n' "$kver" "$MODULES" $(dpkg-query -W -f '${Version} ' busybox-static kmod dash \
	"linux-image-$kver" 2>/dev/null) | sha256sum | cut -c1-8)$(key "$0" /bin/busybox /bin/kmod /bin/dash)
base=$cache/base-$bkey.cpio
if [ ! -s "$base" ]; then
	rm -f "$cache"/base-*.cpio
	r=$cache/base-root
	rm -rf "$r"
	mkdir -p "$r/bin" "$r/sbin" "$r/usr/bin" "$r/usr/sbin" "$r/lib/modules/$kver" \
		"$r/etc/modprobe.d" "$r/proc" "$r/sys" "$r/dev" "$r/run" "$r/tmp" "$r/root" "$r/var/lib"
	cp /bin/busybox "$r/bin/busybox"
	put "$r" /bin/kmod
	put "$r" /bin/dash
	ln -s dash "$r/bin/sh"
	kmod_tools="modprobe insmod rmmod lsmod modinfo depmod"
	for t in $kmod_tools; do ln -s ../bin/kmod "$r/sbin/$t"; done
	for a in $(/bin/busybox --list); do
		case " $kmod_tools busybox sh " in *" $a "*) continue ;; esac
		ln -s busybox "$r/bin/$a"
	done
	for lib in $(libs_of /bin/kmod /bin/dash); do put "$r" "$lib"; done
	for ko in $kos; do put "$r" "$ko"; done
	for f in modules.order modules.builtin modules.builtin.modinfo; do
		cp "/lib/modules/$kver/$f" "$r/lib/modules/$kver/"
	done
	depmod -b "$r" "$kver"
	[ -f /usr/share/misc/pci.ids ] && put "$r" /usr/share/misc/pci.ids
	cpio_of "$r" "$base"
	rm -rf "$r"
fi

# --- app.cpio: /init, scenarios, our binaries and their libraries, guest tools ----------------
bins=""
for b in neuronctl neuron-agent; do
	[ -x "$BUILD/$b" ] && bins="$bins $BUILD/$b"
done
[ -n "$bins" ] || { echo "build-guest: $BUILD/neuronctl is missing: make first" >&2; exit 1; }
guest_files=$(find "$here/guest" -type f | LC_ALL=C sort)
akey=$(key "$0" $bins $guest_files $(libs_of $bins))
app=$cache/app-$akey.cpio
if [ ! -s "$app" ]; then
	rm -f "$cache"/app-*.cpio
	r=$cache/app-root
	rm -rf "$r"
	mkdir -p "$r/usr/bin" "$r/scenarios"
	install -m 755 "$here/guest/init" "$r/init"
	for s in "$here"/guest/*.sh; do install -m 644 "$s" "$r/scenarios/"; done
	for b in $bins; do install -m 755 "$b" "$r/usr/bin/"; done
	for lib in $(libs_of $bins); do put "$r" "$lib"; done
	for c in "$here"/guest/*.c; do
		[ -f "$c" ] || continue
		n=$(basename "$c" .c)
		cc -static -O2 -Wall -Wextra -o "$r/usr/bin/$n" "$c"
	done
	cpio_of "$r" "$app"
	rm -rf "$r"
fi

initrd=$cache/initrd-$bkey-$akey.cpio
if [ ! -s "$initrd" ]; then
	rm -f "$cache"/initrd-*.cpio
	cat "$base" "$app" >"$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
fi
echo "$vmlinux $vmlinuz $initrd"
