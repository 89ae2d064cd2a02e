#!/bin/sh
# Scenario 5: Looking Glass status over real IVSHMEM. A VM made by `neuronctl vm create` with
# Looking Glass (ivshmem-plain <shmem>, 32 MiB, /dev/shm/looking-glass); in the guest lg-writer plays
# the B7 host application on the ivshmem BAR. On the host, `neuronctl lg status VM` must say
# none before it writes, alive while it moves the timestamp, stale once it stops (the guest still
# running: a hung host application).
. "$(dirname "$0")/../lib.sh"
vm_private_mounts "$@"
vm_begin lg-status
vm_libvirtd_start
vm=neuron-lane-lg
log=$VM_RUN/serial.log
vm_serial=$log
vm_write_profile "$vm" lg-status >"$VM_RUN/$vm.yaml"
sed -i 's/^tpm: .*/tpm: false/; s/^agent: .*/agent: false/' "$VM_RUN/$vm.yaml"

lg_host() { # what lg status --json says about the guest's host application, and its exit status
	"$NEURONCTL" lg status "$vm" --json >"$VM_RUN/lg-$1.json" 2>"$VM_RUN/lg-$1.err"
	echo "rc=$? host=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["shm"].get("host"))' \
		"$VM_RUN/lg-$1.json" 2>/dev/null)"
}

vm_check "vm create defines it (Looking Glass for 1080p: 32 MiB)" "$NEURONCTL" vm create --profile "$VM_RUN/$vm.yaml"
vm_check "vm start starts it" "$NEURONCTL" vm start "$vm"
[ "$vm_failed" = 0 ] || vm_end
vm_console "$vm" "$log"
st=$(lg_host before)
vm_check "lg status before the guest writes: none, exit 1 ($st)" [ "$st" = "rc=1 host=none" ]
if vm_wait "$log" '^lg-writer: header written' "$VM_TIMEOUT"; then
	st=$(lg_host alive)
	vm_check "lg status while the guest writes: alive, exit 0 ($st)" [ "$st" = "rc=0 host=alive" ]
	vm_check "it reads the B7 layout and the KVMFR record the guest wrote" /usr/bin/python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))["shm"]
sys.exit(not (s["layout"] == "b7" and s["version"] == 6 and s["header_offset"] == 0
              and s["kvmfr"]["host_version"] == "B7-neuron-vm-lane"))' "$VM_RUN/lg-alive.json"
	printf 'NEURON-VM-LG-STOP\0' | dd of=/dev/shm/looking-glass bs=1 seek=1048576 conv=notrunc status=none
	if vm_wait "$log" '^NEURON-VM-LG-IDLE' "$VM_TIMEOUT"; then
		vm_check "the guest is still running" sh -c "virsh -q domstate $vm | grep -qx running"
		st=$(lg_host stale)
		vm_check "lg status once the guest stopped writing: stale, exit 1 ($st)" [ "$st" = "rc=1 host=stale" ]
	else
		vm_fail "the guest stopped writing when told"
	fi
else
	vm_fail "the guest wrote the Looking Glass header"
fi
vm_guest_checks "$log"
vm_check "vm destroy powers it off" "$NEURONCTL" vm destroy "$vm"
vm_check "vm delete removes it" "$NEURONCTL" vm delete "$vm"
vm_end
