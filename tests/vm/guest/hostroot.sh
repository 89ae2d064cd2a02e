# Guest half of the scenarios that run this machine's own userland inside the guest (nested
# libvirt): the host's / over virtfs, read-only, under a tmpfs overlay, so the guest can write
# anywhere without the host seeing it; /proc, /sys, /dev are the guest's. The script named by
# neuron.script=PATH (a host path) then runs chrooted there, under the guest's kernel.
. /scenarios/checks.sh
script=$(sed -n 's/.*[[:space:]]neuron\.script=\([^[:space:]]*\).*/\1/p' /proc/cmdline)
modprobe -a 9pnet_virtio 9p overlay
mkdir -p /host /ov /newroot
check "the host's root is mounted over virtfs" \
	mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=524288,cache=loose hostroot /host
mount -t tmpfs -o size=2g tmpfs /ov
mkdir -p /ov/upper /ov/work
check "a writable overlay on it" \
	mount -t overlay overlay -o lowerdir=/host,upperdir=/ov/upper,workdir=/ov/work /newroot
for m in proc sys dev dev/pts; do mount --bind "/$m" "/newroot/$m"; done
# /run and /dev/shm start empty, as at boot; /tmp stays the overlay's (a tree cloned under the
# host's /tmp must stay visible)
for m in run dev/shm; do mount -t tmpfs tmpfs "/newroot/$m"; done
check "the script $script is there" [ -f "/newroot$script" ]
[ "$checks_failed" = 0 ] || { finish; exit 1; }
chroot /newroot /bin/sh "$script"
rc=$?
check "the chrooted script succeeded (rc=$rc)" [ $rc = 0 ]
finish
