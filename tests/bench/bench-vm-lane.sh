#!/bin/sh
# The VM lane's guest boot: QEMU (TCG) from start to the guest's power-off, booting the
# uncompressed vmlinux the lane uses (PVH entry, no decompressor) beside the Debian bzImage it
# comes from (the usual way), same initramfs, same machine. Also the guest build: cached vs cold.
# Figures and ratios only; never fails on time.
set -u
: "${BUILD:?BUILD must be set}"
here=$(cd "$(dirname "$0")/../vm" && pwd)
runs=${VM_BENCH_RUNS:-3}
guest=$(sh "$here/build-guest.sh") || { echo "bench-vm: cannot build the guest"; exit 1; }
set -- $guest
vmlinux=$1 bzimage=$2 initrd=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

now() { date +%s.%N; }
calc() { awk "BEGIN { print $1 }"; }
boot() { # kernel -> seconds from QEMU's start to its exit, best of $runs
	best=""
	i=0
	while [ $i -lt "$runs" ]; do
		t0=$(now)
		timeout 120 qemu-system-x86_64 -accel tcg -machine q35 -cpu qemu64,vendor=GenuineIntel \
			-m 512 -smp 1 -display none -no-reboot -nic none -no-user-config -monitor none \
			-serial "file:$tmp/serial.log" -kernel "$1" -initrd "$initrd" \
			-append "console=ttyS0 panic=-1 loglevel=1 neuron.scenario=none" >/dev/null 2>&1
		t=$(calc "$(now) - $t0")
		grep -aq 'NEURON-VM-RESULT' "$tmp/serial.log" || { echo "bench-vm: the guest did not reach /init"; return 1; }
		if [ -z "$best" ] || [ "$(calc "$t < $best")" = 1 ]; then best=$t; fi
		i=$((i + 1))
	done
	echo "$best"
}
a=$(boot "$vmlinux") || exit 1
b=$(boot "$bzimage") || exit 1
printf 'guest boot to power-off, best of %s (TCG):\n' "$runs"
printf '  vmlinux (PVH, the lane)   %6.2f s\n' "$a"
printf '  bzImage (the usual way)   %6.2f s\n' "$b"
printf '  ratio bzImage / vmlinux   %6.2f\n' "$(calc "$b / $a")"

t0=$(now)
sh "$here/build-guest.sh" >/dev/null
cached=$(calc "$(now) - $t0")
t0=$(now)
VM_CACHE=$tmp/cache sh "$here/build-guest.sh" >/dev/null
cold=$(calc "$(now) - $t0")
printf 'guest build:\n'
printf '  cached (inputs unchanged) %6.2f s\n' "$cached"
printf '  cold (empty cache)        %6.2f s\n' "$cold"
printf '  ratio cold / cached       %6.1f\n' "$(calc "$cold / $cached")"
