# Sourced by the host halves of the VM lane's scenarios (tests/vm/scenarios/*.sh).
# Every process a scenario starts is recorded by pid and stopped by pid when the scenario
# exits, however it exits (success, failure, its own timeout, a signal from the lane).
# Env from lane.sh: BUILD, NEURONCTL, VM_KERNEL (vmlinux), VM_BZIMAGE (for libvirt domains),
# VM_INITRD, VM_TIMEOUT (seconds per wait).
set -u
: "${BUILD:?BUILD must be set}" "${VM_KERNEL:?}" "${VM_INITRD:?}"
VM_TIMEOUT=${VM_TIMEOUT:-120}
vm_pids=""          # started by this scenario, stopped in reverse order
vm_cleanups=""      # functions run before the pids are stopped (libvirt: destroy domains)
vm_serial=""        # the serial log shown on failure
vm_failed=0

vm_log() { echo "  $*"; }

# Stops one process: TERM, up to 5 s, then KILL. Only pids this scenario started.
vm_stop_pid() {
	kill -0 "$1" 2>/dev/null || return 0
	kill -TERM "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null || true
}

vm_cleanup() {
	trap - EXIT INT TERM
	for f in $vm_cleanups; do "$f" || true; done
	pids=""
	for p in $vm_pids; do pids="$p $pids"; done
	for p in $pids; do vm_stop_pid "$p"; done
}

# A scenario starts with vm_begin NAME: its own run dir, the traps.
vm_begin() {
	vm_name=$1
	VM_RUN=$BUILD/vm/run/$vm_name
	rm -rf "$VM_RUN"
	mkdir -p "$VM_RUN"
	chmod 755 "$VM_RUN"
	trap 'vm_cleanup' EXIT
	trap 'echo "  interrupted"; vm_failed=1; vm_tail; exit 1' INT TERM
}

vm_track() { vm_pids="$vm_pids $1"; }
vm_on_cleanup() { vm_cleanups="$1 $vm_cleanups"; }

# The last lines of the guest's serial console, where the guest says what went wrong.
vm_tail() {
	[ -n "$vm_serial" ] && [ -f "$vm_serial" ] || return 0
	echo "  --- last 40 lines of the guest's serial console ($vm_serial)"
	tail -n 40 "$vm_serial" | tr -d '\r' | sed 's/^/  | /'
	echo "  ---"
}

# A failed check: says what, shows the serial log once, and the scenario fails at vm_end.
vm_fail() {
	echo "  not ok - $*"
	[ "$vm_failed" = 1 ] || vm_tail
	vm_failed=1
}
vm_ok() { echo "  ok - $*"; }
# A check: the command's output is shown only when it fails.
vm_check() { # description command...
	d=$1
	shift
	if "$@" >"$VM_RUN/check.out" 2>&1; then
		vm_ok "$d"
	else
		sed 's/^/    | /' "$VM_RUN/check.out"
		vm_fail "$d"
	fi
}
vm_end() {
	[ "$vm_failed" = 0 ]
	exit $?
}

# Boots the test kernel under QEMU (TCG: /dev/kvm here does not run ordinary guests), in the
# background, its serial console in LOG. Never a network interface. The initramfs is
# $vm_initrd when set (vm_initrd_with), else the lane's.
# vm_qemu LOG "KERNEL ARGS" QEMU-ARGS...
vm_qemu() {
	log=$1 append=$2
	shift 2
	vm_serial=$log
	rm -f "$log"
	# An Intel CPU to go with the emulated Intel IOMMU (TCG's default model takes this
	# machine's vendor, and vfio plan rightly picks the kernel parameter by vendor).
	qemu-system-x86_64 -accel tcg -machine q35 -cpu qemu64,vendor=GenuineIntel \
		-m "${VM_MEM:-512}" -smp "${VM_CPUS:-1}" -display none \
		-no-reboot -nic none -no-user-config -serial "file:$log" -monitor none \
		-kernel "$VM_KERNEL" -initrd "${vm_initrd:-$VM_INITRD}" \
		-append "console=ttyS0 panic=-1 loglevel=1 $append" "$@" \
		>"$log.qemu" 2>&1 </dev/null &
	vm_qemu_pid=$!
	vm_track "$vm_qemu_pid"
}

# Waits until a line matching REGEX is in FILE; fails after TIMEOUT seconds, or as soon as PID
# (the process that would write it) has exited without writing it.
# vm_wait FILE REGEX [TIMEOUT [PID]]
vm_wait() {
	t=$(( $(date +%s) + ${3:-$VM_TIMEOUT} ))
	while ! grep -aqE "$2" "$1" 2>/dev/null; do
		if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then
			grep -aqE "$2" "$1" 2>/dev/null && return 0
			echo "  $(basename "$1"): the writer (pid $4) exited without /$2/"
			[ -s "$1.qemu" ] && sed 's/^/  qemu: /' "$1.qemu" | tail -n 5
			return 1
		fi
		if [ "$(date +%s)" -ge "$t" ]; then
			echo "  $(basename "$1"): no /$2/ within ${3:-$VM_TIMEOUT} s"
			return 1
		fi
		sleep 0.2
	done
}

# Waits for the guest's result marker; returns the guest scenario's exit status (99: none).
vm_guest_result() { # LOG NAME [PID]
	vm_wait "$1" "NEURON-VM-RESULT $2 rc=" "$VM_TIMEOUT" "${3:-}" || return 99
	rc=$(tr -d '\r' <"$1" | sed -n "s/.*NEURON-VM-RESULT $2 rc=\([0-9]*\).*/\1/p" | tail -n 1)
	return "${rc:-99}"
}

# Waits for QEMU to exit by itself (the guest powered off), up to TIMEOUT seconds.
vm_wait_exit() { # PID [TIMEOUT]
	t=$(( $(date +%s) + ${2:-30} ))
	while kill -0 "$1" 2>/dev/null; do
		[ "$(date +%s)" -ge "$t" ] && return 1
		sleep 0.2
	done
	wait "$1" 2>/dev/null || true
}

# Extracts what the guest printed between NEURON-VM-BEGIN NAME and NEURON-VM-END NAME.
vm_section() { # LOG NAME > file
	tr -d '\r' <"$1" | awk -v n="$2" '
		$0 == "NEURON-VM-BEGIN " n { on = 1; next }
		index($0, "NEURON-VM-END " n " ") == 1 { on = 0 }
		on && !/^\[ *[0-9]+\.[0-9]+\] / { print }'
}

# The guest's own check lines, shown indented.
vm_guest_checks() { # LOG
	tr -d '\r' <"$1" | grep -aE '^ *(not )?ok - |^guest checks:|^ *libvirtd up' | sed 's/^ */  guest: /'
}

# --- libvirt -------------------------------------------------------------------------------------
# A scenario that needs libvirt calls vm_private_mounts first (it re-executes the scenario in a
# mount namespace of its own), then vm_libvirtd_start. There, /etc/libvirt is a copy (with the
# `default` network's autostart link removed: that network is never started), /run is a fresh
# tmpfs, /var/lib/libvirt, /var/log/libvirt and swtpm's local CA are directories of the
# scenario's run dir (kept for a post-mortem), /var/cache/libvirt is kept under the build dir (the
# QEMU capabilities cache makes the next start faster), /dev/shm is a fresh tmpfs. So the lane's
# libvirtd sees nothing of this machine's libvirt state, and leaves nothing behind in it, and two
# lanes (or another libvirtd) on the machine do not meet. Everything inside runs as usual: the
# default URI qemu:///system, libvirt-qemu as QEMU's user, tss as swtpm's.
vm_private_mounts() { # "$@" of the scenario
	[ -n "${VM_IN_NAMESPACE:-}" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "  not ok - this scenario starts libvirtd as root: run the lane as root"
		exit 1
	fi
	# In a chroot (fresh-debian's minimal Debian is one) "/" is no mount point, so its
	# propagation cannot be made private; libvirtd's mounts would then reach this machine's
	# own. The scenario is skipped there, saying why; on a machine it runs.
	if ! unshare --mount --propagation private true 2>/dev/null; then
		echo "  skip - no private mount namespace here (/ is no mount point: a chroot?): a private libvirtd cannot run"
		exit 77
	fi
	VM_IN_NAMESPACE=1 exec unshare --mount --propagation private sh "$0" "$@"
}

vm_libvirtd_start() {
	[ -n "${VM_IN_NAMESPACE:-}" ] || { vm_fail "vm_private_mounts first"; vm_end; }
	L=$VM_RUN/libvirt
	mkdir -p "$L/etc" "$L/lib" "$L/log" "$L/swtpm-localca" "$BUILD/vm/cache/libvirt"
	cp -a /etc/libvirt/. "$L/etc/"
	rm -f "$L"/etc/qemu/networks/autostart/*.xml
	echo 'log_outputs = "3:file:/var/log/libvirt/libvirtd.log"' >>"$L/etc/libvirtd.conf"
	# Inside the nested guest's chroot, QEMU's private /dev would not hold /dev/vfio/N.
	[ -z "${VM_NESTED:-}" ] || echo 'namespaces = [ ]' >>"$L/etc/qemu.conf"
	chown tss:root "$L/swtpm-localca" 2>/dev/null
	chmod 750 "$L/swtpm-localca"
	mount -t tmpfs -o mode=755 tmpfs /run &&
		mount --bind "$L/etc" /etc/libvirt &&
		mount --bind "$L/lib" /var/lib/libvirt &&
		mount --bind "$L/log" /var/log/libvirt &&
		mount --bind "$BUILD/vm/cache/libvirt" /var/cache/libvirt &&
		mount --bind "$L/swtpm-localca" /var/lib/swtpm-localca &&
		mount -t tmpfs -o mode=1777 tmpfs /dev/shm ||
		{ vm_fail "private mounts for libvirt"; vm_end; }
	[ ! -e /etc/libvirt/qemu/networks/autostart/default.xml ] ||
		{ vm_fail "the default network must not autostart"; vm_end; }

	s0=$(date +%s)
	virtlogd -d -p /run/virtlogd.pid || { vm_fail "virtlogd starts"; vm_end; }
	vm_track "$(cat /run/virtlogd.pid)"
	libvirtd -d -p /run/libvirtd.pid || { vm_fail "libvirtd starts"; vm_end; }
	vm_track "$(cat /run/libvirtd.pid)"
	vm_on_cleanup vm_libvirt_cleanup
	t=$(( s0 + 60 ))
	until virsh -q -c qemu:///system version >/dev/null 2>&1; do
		if [ "$(date +%s)" -ge "$t" ] || ! kill -0 "$(cat /run/libvirtd.pid)" 2>/dev/null; then
			vm_fail "libvirtd answers within 60 s"
			tail -n 20 /var/log/libvirt/libvirtd.log 2>/dev/null | sed 's/^/  libvirtd: /'
			vm_end
		fi
		sleep 0.2
	done
	vm_log "libvirtd up in $(( $(date +%s) - s0 )) s (pids $(cat /run/libvirtd.pid) $(cat /run/virtlogd.pid))"
	if [ -n "$(virsh -q -c qemu:///system net-list --name 2>/dev/null | tr -d '[:space:]')" ]; then
		vm_fail "no libvirt network is active"
		vm_end
	fi
}

# Domains left running are destroyed, then whatever QEMU or swtpm libvirt started (their pid
# files under /run/libvirt) is stopped by pid, before the daemons themselves.
vm_libvirt_cleanup() {
	for d in $(virsh -q -c qemu:///system list --name 2>/dev/null); do
		timeout 20 virsh -q -c qemu:///system destroy "$d" >/dev/null 2>&1
	done
	for f in /run/libvirt/qemu/*.pid /run/libvirt/qemu/swtpm/*.pid; do
		[ -f "$f" ] && vm_stop_pid "$(cat "$f")"
	done
	if [ "$vm_failed" = 1 ] && [ -f /var/log/libvirt/libvirtd.log ]; then
		echo "  --- last libvirtd errors"
		grep -a ' error ' /var/log/libvirt/libvirtd.log | tail -n 10 | sed 's/^/  | /'
	fi
	return 0
}

# --- this machine's userland inside a guest (nested libvirt) ----------------------------------
# Boots a guest with an emulated IOMMU and this machine's / shared read-only over virtfs; the
# guest runs SCRIPT (a file of this tree) chrooted into that root under a tmpfs overlay, with
# the lane's environment. The guest's PCI devices come after the options.
# vm_nested LOG SCRIPT QEMU-ARGS...
vm_nested() {
	log=$1 script=$2
	shift 2
	cat >"$VM_RUN/nested-run.sh" <<EOS
export BUILD='$BUILD' NEURONCTL='$NEURONCTL' VM_KERNEL='$VM_KERNEL' VM_BZIMAGE='$VM_BZIMAGE'
export VM_INITRD='$VM_INITRD' VM_TIMEOUT='$VM_TIMEOUT' VM_NESTED=1 PATH=/usr/sbin:/usr/bin:/sbin:/bin
exec sh '$script'
EOS
	VM_MEM=3072 vm_qemu "$log" "intel_iommu=on iommu=pt neuron.scenario=hostroot neuron.script=$VM_RUN/nested-run.sh" \
		-device intel-iommu,intremap=on,caching-mode=on \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		"$@"
}

# --- VMs made by neuronctl ----------------------------------------------------------------------
# A profile (docs/profiles.md) for a small Linux guest that boots the lane's kernel and initramfs
# directly and runs the guest scenario SCENARIO; extra YAML lines as arguments.
# vm_write_profile NAME SCENARIO [YAML-LINE...]  > FILE
vm_write_profile() {
	name=$1 scenario=$2
	shift 2
	# libvirt changes the owner of what it boots: copies, not the build's files
	cp "$VM_BZIMAGE" "$VM_RUN/vmlinuz"
	cp "${vm_initrd:-$VM_INITRD}" "$VM_RUN/initrd"
	cat <<YAML
name: $name
template: linux
type: qemu
firmware: bios
memory: 512M
cpu:
  vcpus: 1
disk: none
boot:
  kernel: $VM_RUN/vmlinuz
  initrd: $VM_RUN/initrd
  cmdline: "console=ttyS0 panic=-1 loglevel=1 neuron.scenario=$scenario"
looking_glass:
  resolution: 1920x1080
agent: true
# the lane's guests get their credentials in the initramfs; vm create would otherwise make
# guest-tools media under the host's /var/lib/neuron (tests/media covers the media)
guest_tools: false
tpm: true
network: none
YAML
	for line in "$@"; do echo "$line"; done
}

# What `neuronctl vm list --json` says a VM's state is.
vm_list_state() { # NAME STATE
	"$NEURONCTL" vm list --json >"$VM_RUN/vm-list.json" 2>&1
	/usr/bin/python3 -c '
import json, sys
vms = {v["name"]: v for v in json.load(open(sys.argv[1]))}
state = vms.get(sys.argv[2], {}).get("state")
print("    vm list says %s is %r" % (sys.argv[2], state))
sys.exit(state != sys.argv[3])' "$VM_RUN/vm-list.json" "$1" "$2"
}

vm_wait_state() { # NAME STATE TIMEOUT
	t=$(( $(date +%s) + $3 ))
	until virsh -q domstate "$1" 2>/dev/null | grep -qx "$2"; do
		[ "$(date +%s)" -ge "$t" ] && return 1
		sleep 0.2
	done
}

vm_swtpm_running() {
	for f in /run/libvirt/qemu/swtpm/*.pid; do
		[ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && return 0
	done
	return 1
}

# The serial console of a running domain whose XML gives it a pty (the templates do): copied
# into LOG by a reader this scenario tracks by pid, raw and without echo (an echo would type
# the guest's own output back into it).
vm_console() { # NAME LOG
	vm_serial=$2
	pty=$(virsh -q dumpxml "$1" | sed -n "s/.*<source path='\(\/dev\/pts\/[0-9]*\)'.*/\1/p" | head -n 1)
	if [ -z "$pty" ]; then
		vm_fail "$1 has a serial console on a pty"
		return 1
	fi
	stty -F "$pty" raw -echo 2>/dev/null
	cat "$pty" >"$2" 2>/dev/null &
	vm_track $!
	vm_console_pty=$pty
}

# Types a line on the guest's serial console (vm_console first): the guest halves read their
# cues from there, a channel apart from what the scenario tests.
vm_console_say() { printf '%s\n' "$1" >"$vm_console_pty"; }

# The lane's initramfs with the files of DIR added at / (one more cpio archive after the others:
# the kernel unpacks them in order, later files win).
vm_initrd_with() { # DIR OUT
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$2.extra" &&
		cat "$VM_INITRD" "$2.extra" >"$2" && rm -f "$2.extra"
}
