#!/bin/sh
# Scenario single-gpu, the part that runs inside the outer guest (this machine's userland,
# chrooted, on the guest's kernel with an emulated IOMMU): its only VGA, 00:02.0, is the boot
# GPU and carries the console (bochs-drm's framebuffer, vtcon1). A display-manager stand-in
# (display-manager.service under the root, a systemctl stand-in that runs a process holding
# /dev/dri/card0) plays the desktop. The real kernel and libvirtd move the GPU; the escape
# chord comes from a uinput keyboard (keyboard.py).
. "$(dirname "$0")/../lib.sh"
vm_private_mounts "$@"
vm_begin nested-single-gpu
vm_check "the vfio modules load" modprobe -a vfio_pci vfio_iommu_type1
vm_libvirtd_start
gpu=0000:00:02.0
vm=neuron-lane-single
group=$(basename "$(readlink "/sys/bus/pci/devices/$gpu/iommu_group")")
driver() {
	if [ -L "/sys/bus/pci/devices/$gpu/driver" ]; then basename "$(readlink "/sys/bus/pci/devices/$gpu/driver")"; else echo none; fi
}
fbcon() { # the vtcon bound to the framebuffer: its bind file's value
	for c in /sys/class/vtconsole/vtcon*; do
		grep -q 'frame buffer' "$c/name" 2>/dev/null && { cat "$c/bind"; return; }
	done
	echo none
}

# The display-manager stand-in: its unit under the root, and a systemctl that runs it.
si=$VM_RUN/standins
mkdir -p "$si" /usr/lib/systemd/system /etc/systemd/system
: >/usr/lib/systemd/system/neuron-lane-dm.service
ln -sf /usr/lib/systemd/system/neuron-lane-dm.service /etc/systemd/system/display-manager.service
cat >"$si/systemctl" <<SH
#!/bin/sh
pid=$VM_RUN/dm.pid
[ "\$1" = --user ] && exit 3          # no user session here
case "\$1:\$2" in
is-active:neuron-lane-dm.service) [ -f "\$pid" ] && [ -e "/proc/\$(cat "\$pid")/fd/3" ] ;;
stop:neuron-lane-dm.service)
	[ -f "\$pid" ] || exit 0
	p=\$(cat "\$pid")
	kill "\$p"
	# gone once its descriptors are (a zombie nobody reaps yet holds none)
	while [ -e "/proc/\$p/fd/3" ]; do sleep 0.1; done
	rm -f "\$pid" ;;
start:neuron-lane-dm.service)
	setsid sh -c 'exec 3</dev/dri/card0; exec sleep 100000' </dev/null >/dev/null 2>&1 &
	echo \$! >"\$pid" ;;
*) exit 3 ;;
esac
SH
chmod +x "$si/systemctl"
# The watchdog's log (gpu watch, started by vm start): its Nth start, its Nth end.
wlog=$VM_RUN/rt/single-watch.log
lines() { n=$(grep -c -e "$1" "$wlog" 2>/dev/null); echo "${n:-0}"; }
wait_lines() { # PATTERN N: up to 30 s
	i=0
	while [ "$(lines "$1")" -lt "$2" ] && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
}
dm_running() { [ -f "$VM_RUN/dm.pid" ] && [ -e "/proc/$(cat "$VM_RUN/dm.pid")/fd/3" ]; }
cleanup_dm() { [ -f "$VM_RUN/dm.pid" ] && kill "$(cat "$VM_RUN/dm.pid")" 2>/dev/null; return 0; }
vm_on_cleanup cleanup_dm
P="--param run.standins=$si --param runtime_dir=$VM_RUN/rt --param single.poll_ms=200"
"$si/systemctl" start neuron-lane-dm.service
sleep 0.5

vm_check "before: bochs-drm drives the boot GPU ($(driver))" [ "$(driver)" = bochs-drm ]
vm_check "before: the console is on its framebuffer ($(fbcon))" [ "$(fbcon)" = 1 ]
vm_check "before: /dev/fb0 is there" [ -c /dev/fb0 ]
vm_check "before: the display-manager stand-in holds /dev/dri/card0" dm_running
vm_check "check offers single-GPU mode" sh -c "'$NEURONCTL' check | grep -q 'only the boot GPU 00:02.0: single-GPU mode'"

vm_write_profile "$vm" none "gpu: \"$gpu\"" >"$VM_RUN/$vm.yaml"
sed -i 's/^memory: .*/memory: 256M/; s/^tpm: .*/tpm: false/; s/^agent: .*/agent: false/
	/^looking_glass:/,/^  resolution/d' "$VM_RUN/$vm.yaml"
vm_check "vm create with the boot GPU defines the VM" "$NEURONCTL" vm create --profile "$VM_RUN/$vm.yaml"
vm_check "vm start without --yes asks and changes nothing" sh -c "! '$NEURONCTL' $P vm start '$vm' </dev/null"
vm_check "nothing changed: bochs-drm ($(driver))" [ "$(driver)" = bochs-drm ]
vm_check "nothing changed: the stand-in runs" dm_running
vm_check "vm start --yes hands the GPU over and starts it" "$NEURONCTL" $P vm start --yes "$vm"
[ "$vm_failed" = 0 ] || vm_end
vm_check "while it runs: no console is on the GPU's framebuffer ($(fbcon))" [ "$(fbcon)" != 1 ]
vm_check "while it runs: the display-manager stand-in is stopped" sh -c "! [ -f '$VM_RUN/dm.pid' ]"
vm_check "while it runs: vfio-pci has the GPU ($(driver))" [ "$(driver)" = vfio-pci ]
qemu_pid=$(cat "/run/libvirt/qemu/$vm.pid" 2>/dev/null)
vm_check "the inner VM's QEMU holds /dev/vfio/$group open" \
	sh -c "ls -l /proc/$qemu_pid/fd 2>/dev/null | grep -q ' /dev/vfio/$group\$'"
vm_check "the hand-off is journaled" [ -f /var/lib/neuron/plans/single.journal ]
vm_check "vm stop stops it" "$NEURONCTL" vm stop --timeout 2 --force "$vm"
# the watchdog (gpu watch, started by vm start) sees it gone and releases
wait_lines 'the GPU was given back' 1
sed 's/^/    watch| /' "$wlog" 2>/dev/null
vm_check "after: the watchdog says the VM stopped" grep -q '^the VM stopped: the GPU was given back' "$wlog"
vm_check "after: the watchdog released it (nothing recorded)" sh -c "! ls /var/lib/neuron/plans/single.* 2>/dev/null"
vm_check "after: bochs-drm has the GPU again ($(driver))" [ "$(driver)" = bochs-drm ]
vm_check "after: the console is bound again ($(fbcon))" [ "$(fbcon)" = 1 ]
vm_check "after: /dev/fb0 is back" [ -c /dev/fb0 ]
vm_check "after: the display-manager stand-in runs again" dm_running

# The escape chord on a host keyboard (a uinput one): the VM is destroyed, the screen back.
vm_check "uinput loads" modprobe uinput
/usr/bin/python3 "$(dirname "$0")/keyboard.py" "$VM_RUN/kbd.ready" "$VM_RUN/kbd.type" >"$VM_RUN/kbd.log" 2>&1 &
vm_track $!
i=0
while [ ! -f "$VM_RUN/kbd.ready" ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
vm_check "a uinput keyboard is there" [ -f "$VM_RUN/kbd.ready" ]
vm_check "vm start --yes hands the GPU over again" "$NEURONCTL" $P vm start --yes "$vm"
vm_check "vfio-pci has the GPU ($(driver))" [ "$(driver)" = vfio-pci ]
# the second watchdog has opened the keyboards once it says it watches
wait_lines '^watching VM' 2
vm_check "the second watchdog runs" [ "$(lines '^watching VM')" -ge 2 ]
: >"$VM_RUN/kbd.type"
wait_lines 'the GPU was given back' 2
sed 's/^/    watch| /' "$wlog" 2>/dev/null
vm_check "the chord: the watchdog says so" grep -q '^the escape chord was typed: the VM was destroyed: the GPU was given back' "$wlog"
vm_check "the chord: the VM was destroyed" vm_list_state "$vm" "shut off"
vm_check "the chord: released (nothing recorded)" sh -c "! ls /var/lib/neuron/plans/single.* 2>/dev/null"
vm_check "the chord: bochs-drm has the GPU again ($(driver))" [ "$(driver)" = bochs-drm ]
vm_check "the chord: the console is bound again ($(fbcon))" [ "$(fbcon)" = 1 ]
vm_check "the chord: the display-manager stand-in runs again" dm_running

# A VM that fails to start (its kernel is gone): the hand-off is undone at once.
virsh -q dumpxml "$vm" | sed "s#<kernel>[^<]*</kernel>#<kernel>$VM_RUN/no-such-vmlinuz</kernel>#" >"$VM_RUN/broken.xml"
vm_check "the VM made to fail at start" sh -c "virsh -q define '$VM_RUN/broken.xml' && virsh -q dumpxml '$vm' | grep -q no-such-vmlinuz"
[ "$vm_failed" = 0 ] || vm_end
vm_check "vm start of a VM that cannot start fails" sh -c "! '$NEURONCTL' $P vm start --yes '$vm'"
vm_check "then: bochs-drm has the GPU ($(driver))" [ "$(driver)" = bochs-drm ]
vm_check "then: the console is bound ($(fbcon))" [ "$(fbcon)" = 1 ]
vm_check "then: the display-manager stand-in runs" dm_running
vm_check "then: nothing is recorded" sh -c "! ls /var/lib/neuron/plans/single.* 2>/dev/null"
vm_check "vm delete removes it" "$NEURONCTL" vm delete "$vm"
vm_end
