#!/bin/sh
# neuronctl vfio beside its peers, measured in the same run (figures, never pass/fail):
#   plan           vs diff -u of the same files (what a user runs to see the change)
#   apply+revert   vs cp of the originals aside, cp of the new files in place and sync
#                  (the hand-made way, without a journal or atomic renames)
set -u
: "${BUILD:?BUILD must be set}"
NEURONCTL=${NEURONCTL:-$BUILD/neuronctl}
here=$(cd "$(dirname "$0")/.." && pwd)
sysroot=$BUILD/sysroots/intel-nvidia
[ -d "$sysroot" ] || { echo "bench-vfio: build the sysroots first (make check)"; exit 0; }
shm=/tmp
[ -w /dev/shm ] && shm=/dev/shm
tmp=$(mktemp -d "$shm/neuron-bench-vfio-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n=${BENCH_N:-50}

sh "$here/vfio/make-root.sh" arch-grub-mkinitcpio "$tmp/root"
nctl() { "$NEURONCTL" --sysroot "$sysroot" --root "$tmp/root" --param run.standins="$here/vfio/standins" "$@"; }

# the planned files, for the peer
nctl vfio apply --yes >/dev/null 2>&1
mkdir -p "$tmp/new"
cp "$tmp/root/etc/default/grub" "$tmp/new/grub"
cp "$tmp/root/etc/mkinitcpio.conf" "$tmp/new/mkinitcpio.conf"
cp "$tmp/root/etc/modprobe.d/vfio.conf" "$tmp/new/vfio.conf"
nctl vfio revert --yes >/dev/null 2>&1

now() { date +%s%N; }
ms() { echo "$(( ($2 - $1) / 1000000 ))"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

t0=$(now)
i=0; while [ $i -lt "$n" ]; do nctl vfio plan >/dev/null; i=$((i + 1)); done
t1=$(now)
i=0; while [ $i -lt "$n" ]; do
	diff -u "$tmp/root/etc/default/grub" "$tmp/new/grub" >/dev/null
	diff -u "$tmp/root/etc/mkinitcpio.conf" "$tmp/new/mkinitcpio.conf" >/dev/null
	diff -u /dev/null "$tmp/new/vfio.conf" >/dev/null
	i=$((i + 1)); done
t2=$(now)
plan=$(ms "$t0" "$t1") peer=$(ms "$t1" "$t2")
echo "vfio plan x$n: ${plan} ms; diff -u of the 3 files x$n: ${peer} ms; ratio $(ratio "$plan" "$peer")"

t0=$(now)
i=0; while [ $i -lt "$n" ]; do nctl vfio apply --yes >/dev/null; nctl vfio revert --yes >/dev/null; i=$((i + 1)); done
t1=$(now)
i=0; while [ $i -lt "$n" ]; do
	mkdir -p "$tmp/aside" "$tmp/root/etc/modprobe.d"
	cp "$tmp/root/etc/default/grub" "$tmp/root/etc/mkinitcpio.conf" "$tmp/aside/"
	cp "$tmp/new/grub" "$tmp/root/etc/default/grub"
	cp "$tmp/new/mkinitcpio.conf" "$tmp/root/etc/mkinitcpio.conf"
	cp "$tmp/new/vfio.conf" "$tmp/root/etc/modprobe.d/vfio.conf"
	sync "$tmp/root/etc/default/grub" "$tmp/root/etc/mkinitcpio.conf" "$tmp/root/etc/modprobe.d/vfio.conf"
	cp "$tmp/aside/grub" "$tmp/root/etc/default/grub"
	cp "$tmp/aside/mkinitcpio.conf" "$tmp/root/etc/mkinitcpio.conf"
	rm "$tmp/root/etc/modprobe.d/vfio.conf"
	sync "$tmp/root/etc/default/grub" "$tmp/root/etc/mkinitcpio.conf"
	i=$((i + 1)); done
t2=$(now)
cycle=$(ms "$t0" "$t1") peer=$(ms "$t1" "$t2")
echo "vfio apply+revert x$n (journal, fsync, stand-in tools): ${cycle} ms; cp+sync by hand x$n: ${peer} ms; ratio $(ratio "$cycle" "$peer")"
