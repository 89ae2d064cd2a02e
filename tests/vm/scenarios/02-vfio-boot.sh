#!/bin/sh
# Scenario 2: the boot configuration works. First boot (same machine as scenario 1: two VGAs
# with the same ids, an emulated IOMMU): `neuronctl vfio plan` / `vfio apply` for the second VGA
# into a Debian 12 target root (GRUB, initramfs-tools; tests/fixtures/roots). Then the lane does
# what update-initramfs and update-grub would: the applied files go into the second boot's
# initramfs, and its kernel command line is GRUB's, as the plan left it (the lane adds only the
# console and the scenario's name: no intel_iommu=on of its own). Second boot: the GPU is on
# vfio-pci from boot, the boot GPU is not, and `neuronctl vfio status` says so.
. "$(dirname "$0")/../lib.sh"
vm_begin vfio-boot
boot=0000:00:02.0 gpu=0000:00:03.0
machine() {
	vm_qemu "$1" "$2" \
		-device intel-iommu,intremap=on,caching-mode=on \
		-device VGA,addr=0x2 -device VGA,addr=0x3 \
		-audiodev none,id=snd0 -device ich9-intel-hda,addr=0x4 -device hda-duplex,audiodev=snd0 \
		-device qemu-xhci,addr=0x5 -device virtio-rng-pci,addr=0x6
}
top=$(cd "$(dirname "$0")/../../.." && pwd)

# First boot: plan and apply into /target
mkdir -p "$VM_RUN/first"
sh "$top/tests/vfio/make-root.sh" debian-grub-initramfs-tools "$VM_RUN/first/target" ||
	{ vm_fail "the Debian 12 target root is assembled"; vm_end; }
vm_initrd_with "$VM_RUN/first" "$VM_RUN/initrd-first"
log=$VM_RUN/first.log
vm_initrd=$VM_RUN/initrd-first
machine "$log" "intel_iommu=on iommu=pt neuron.scenario=vfio-plan neuron.gpu=$gpu"
vm_guest_result "$log" vfio-plan "$vm_qemu_pid"
rc=$?
vm_guest_checks "$log"
vm_check "first boot: plan and apply in the guest (rc=$rc)" [ $rc = 0 ]
vm_section "$log" plan.json >"$VM_RUN/plan.json"
vm_check "the plan binds $gpu by address (its ids are the boot GPU's too)" /usr/bin/python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))
sys.exit(not (p["bind"] == "address" and p["devices"] == [sys.argv[2]] and sys.argv[3] in p["collisions"]))' \
	"$VM_RUN/plan.json" "$gpu" "$boot"
mkdir -p "$VM_RUN/applied"
vm_section "$log" target.tar.b64 | base64 -d | tar -C "$VM_RUN/applied" -xf - ||
	vm_fail "the applied target came back from the guest"
vm_wait_exit "$vm_qemu_pid" 30
[ "$vm_failed" = 0 ] || vm_end

# What update-grub would put on the kernel command line
grub_var() { sed -n "s/^$1=\"\(.*\)\"$/\1/p" "$VM_RUN/applied/etc/default/grub" | tail -n 1; }
params="$(grub_var GRUB_CMDLINE_LINUX) $(grub_var GRUB_CMDLINE_LINUX_DEFAULT)"
vm_log "kernel parameters from the applied /etc/default/grub: $params"
vm_check "they turn the IOMMU on" sh -c "echo ' $params ' | grep -q ' intel_iommu=on '"

# Second boot: what vfio apply wrote (etc/, and its journal and backups under var/) in the
# initramfs, GRUB's command line
mkdir -p "$VM_RUN/second"
cp -a "$VM_RUN/applied/etc" "$VM_RUN/applied/var" "$VM_RUN/second/"
vm_initrd_with "$VM_RUN/second" "$VM_RUN/initrd-second"
log=$VM_RUN/second.log
vm_initrd=$VM_RUN/initrd-second
machine "$log" "$params neuron.scenario=vfio-boot neuron.gpu=$gpu neuron.boot_gpu=$boot"
vm_guest_result "$log" vfio-boot "$vm_qemu_pid"
rc=$?
vm_guest_checks "$log"
vm_check "second boot: vfio-pci has the GPU from boot (rc=$rc)" [ $rc = 0 ]
vm_section "$log" status.json >"$VM_RUN/status.json"
vm_check "vfio status in the guest: configured for $gpu, vfio-pci has it" /usr/bin/python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(s)
sys.exit(not (s["state"] == "configured" and s["gpus"] == [sys.argv[2]] and s["all_bound"] is True
              and s["vfio_bound"] == [sys.argv[2]] and s["iommu_params"] is True))' "$VM_RUN/status.json" "$gpu"
vm_wait_exit "$vm_qemu_pid" 30 || vm_fail "the guest powered off"
vm_end
