#!/bin/sh
# Scenario 7: single-GPU passthrough against a real kernel and a real libvirtd (issue 18). A TCG
# guest with an emulated Intel IOMMU and ONE VGA, its console on it through bochs-drm's
# framebuffer, runs this machine's userland (as scenario 6) and in it tests/vm/nested/single-gpu.sh:
# vm start hands the boot GPU to an inner VM (console unbound, display-manager stand-in stopped,
# vfio-pci), vm stop gives it back (bochs-drm, console, /dev/fb0, the stand-in); the escape
# chord typed on a uinput keyboard destroys the VM and gives it back; a VM that fails to start
# is given up and everything is back at once.
. "$(dirname "$0")/../lib.sh"
vm_begin single-gpu
log=$VM_RUN/serial.log
VM_CPUS=2 vm_nested "$log" "$(cd "$(dirname "$0")/.." && pwd)/nested/single-gpu.sh" \
	-device VGA,addr=0x2 -device virtio-rng-pci,addr=0x6
VM_TIMEOUT=440 vm_guest_result "$log" hostroot "$vm_qemu_pid"
rc=$?
vm_guest_checks "$log"
vm_check "single-GPU mode inside the guest passed (rc=$rc)" [ $rc = 0 ]
vm_wait_exit "$vm_qemu_pid" 30 || vm_fail "the guest powered off"
vm_end
