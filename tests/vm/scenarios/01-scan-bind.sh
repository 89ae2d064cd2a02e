#!/bin/sh
# Scenario 1: scan and bind on a real kernel. QEMU q35 with an emulated Intel IOMMU
# (intel_iommu=on iommu=pt), two VGAs (the boot one at 00:02.0, the one to pass through at
# 00:03.0, both 1234:1111), HDA audio, an xHCI controller and virtio-rng. In the guest,
# `neuronctl scan --json` on the real sysfs must say what the kernel says; `neuronctl gpu bind`
# moves the second VGA to vfio-pci for real (/dev/vfio/N appears and opens as QEMU opens it),
# scan then says vfio-pci, and `neuronctl gpu unbind` gives it back to bochs-drm.
. "$(dirname "$0")/../lib.sh"
vm_begin scan-bind
boot=0000:00:02.0 gpu=0000:00:03.0
log=$VM_RUN/serial.log

vm_qemu "$log" "intel_iommu=on iommu=pt neuron.scenario=scan-bind neuron.gpu=$gpu neuron.boot_gpu=$boot" \
	-device intel-iommu,intremap=on,caching-mode=on \
	-device VGA,addr=0x2 -device VGA,addr=0x3 \
	-audiodev none,id=snd0 -device ich9-intel-hda,addr=0x4 -device hda-duplex,audiodev=snd0 \
	-device qemu-xhci,addr=0x5 -device virtio-rng-pci,addr=0x6
vm_guest_result "$log" scan-bind "$vm_qemu_pid"
rc=$?
vm_guest_checks "$log"
[ $rc = 0 ] && vm_ok "the guest's checks passed" || vm_fail "the guest's checks (rc=$rc)"
vm_section "$log" scan.json >"$VM_RUN/scan.json"
vm_section "$log" sysfs.txt >"$VM_RUN/sysfs.txt"
if [ -s "$VM_RUN/scan.json" ] && [ -s "$VM_RUN/sysfs.txt" ]; then
	/usr/bin/python3 "$(dirname "$0")/../check-scan.py" "$VM_RUN/scan.json" "$VM_RUN/sysfs.txt" \
		"$gpu" "$boot" || vm_fail "neuronctl scan --json agrees with the guest kernel"
else
	vm_fail "the guest printed scan.json and sysfs.txt"
fi
vm_section "$log" scan-bound.json >"$VM_RUN/scan-bound.json"
vm_check "while bound, scan says $gpu has vfio-pci" /usr/bin/python3 -c '
import json, sys
d = {d["addr"]: d for d in json.load(open(sys.argv[1]))["devices"]}
sys.exit(d[sys.argv[2]]["driver"] != "vfio-pci")' "$VM_RUN/scan-bound.json" "$gpu"
vm_wait_exit "$vm_qemu_pid" 30 || vm_fail "the guest powered off"
vm_end
