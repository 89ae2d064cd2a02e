#!/bin/sh
# Scenario 6: the whole passthrough workflow against a real kernel and a real libvirtd. A TCG
# guest with an emulated Intel IOMMU and two VGAs runs this machine's own userland (its / over
# virtfs, read-only, under an overlay) and in it tests/vm/nested/passthrough.sh: scan picks the
# second VGA, vm create/start make libvirt move it to vfio-pci and an inner VM runs with it,
# vm stop gives it back, vm list and scan say so at each step.
. "$(dirname "$0")/../lib.sh"
vm_begin passthrough
log=$VM_RUN/serial.log
VM_CPUS=2 vm_nested "$log" "$(cd "$(dirname "$0")/.." && pwd)/nested/passthrough.sh" \
	-device VGA,addr=0x2 -device VGA,addr=0x3 -device virtio-rng-pci,addr=0x6
VM_TIMEOUT=440 vm_guest_result "$log" hostroot "$vm_qemu_pid"
rc=$?
vm_guest_checks "$log"
vm_check "the workflow inside the guest passed (rc=$rc)" [ $rc = 0 ]
vm_wait_exit "$vm_qemu_pid" 30 || vm_fail "the guest powered off"
vm_end
