#!/bin/sh
# Scenario passthrough, the part that runs inside the outer guest (this machine's userland,
# chrooted, on the guest's kernel with an emulated IOMMU and a second VGA at 00:03.0): the whole
# passthrough workflow with a real libvirtd moving a real (emulated) GPU between drivers.
. "$(dirname "$0")/../lib.sh"
vm_private_mounts "$@"
vm_begin nested-passthrough
# What a host set up for passthrough loads at boot (vfio plan's modules-load/modprobe.d files);
# libvirt refuses a PCI hostdev while /dev/vfio/vfio is missing.
vm_check "the vfio modules load" modprobe -a vfio_pci vfio_iommu_type1
vm_libvirtd_start
vm=neuron-lane-gpu
log=$VM_RUN/inner-serial.log
driver() { # the driver the guest kernel has bound to the GPU, or none
	if [ -L "/sys/bus/pci/devices/$gpu/driver" ]; then
		basename "$(readlink "/sys/bus/pci/devices/$gpu/driver")"
	else
		echo none
	fi
}
scan_driver() { # what neuronctl scan --json says the GPU's driver is
	"$NEURONCTL" scan --json >"$VM_RUN/scan-$1.json" 2>&1
	/usr/bin/python3 -c '
import json, sys
d = {d["addr"]: d for d in json.load(open(sys.argv[1]))["devices"]}
print(d.get(sys.argv[2], {}).get("driver"))' "$VM_RUN/scan-$1.json" "$gpu"
}

# scan picks the GPU to pass through: isolated, not the boot GPU
"$NEURONCTL" scan --json >"$VM_RUN/scan-before.json"
gpu=$(/usr/bin/python3 -c '
import json, sys
g = [g["addr"] for g in json.load(open(sys.argv[1]))["gpus"] if g["isolated"] and not g["boot_vga"]]
print(g[0] if len(g) == 1 else "")' "$VM_RUN/scan-before.json")
vm_check "scan finds one GPU to pass through: 0000:00:03.0 ($gpu)" [ "$gpu" = 0000:00:03.0 ]
[ -n "$gpu" ] || vm_end
group=$(basename "$(readlink "/sys/bus/pci/devices/$gpu/iommu_group")")
vm_check "before: bochs-drm drives it" [ "$(driver)" = bochs-drm ]

# The inner guest is TCG inside TCG: too slow to boot within the lane's time. What the inner VM
# has is asked from its QEMU instead: the device on its PCI bus, the VFIO group it holds open.
vm_write_profile "$vm" none "gpu: \"$gpu\"" >"$VM_RUN/$vm.yaml"
sed -i 's/^memory: .*/memory: 256M/; s/^tpm: .*/tpm: false/; s/^agent: .*/agent: false/
	/^looking_glass:/,/^  resolution/d' "$VM_RUN/$vm.yaml"
vm_check "vm create with gpu: $gpu defines the VM" "$NEURONCTL" vm create --profile "$VM_RUN/$vm.yaml"
vm_check "vm list: shut off" vm_list_state "$vm" "shut off"
vm_check "vm start starts it" "$NEURONCTL" vm start "$vm"
[ "$vm_failed" = 0 ] || vm_end
vm_check "while it runs: libvirt moved the GPU to vfio-pci ($(driver))" [ "$(driver)" = vfio-pci ]
vm_check "while it runs: /dev/vfio/$group is there" [ -c "/dev/vfio/$group" ]
vm_check "while it runs: vm list says running" vm_list_state "$vm" running
st=$(scan_driver running)
vm_check "while it runs: scan says vfio-pci ($st)" [ "$st" = vfio-pci ]
qemu_pid=$(cat "/run/libvirt/qemu/$vm.pid" 2>/dev/null)
vm_check "the inner VM's QEMU holds /dev/vfio/$group open" \
	sh -c "ls -l /proc/$qemu_pid/fd 2>/dev/null | grep -q ' /dev/vfio/$group\$'"
virsh -q qemu-monitor-command --hmp "$vm" 'info pci' >"$VM_RUN/inner-pci.txt" 2>&1
vm_check "the GPU (1234:1111) is on the inner VM's PCI bus" grep -q 'PCI device 1234:1111' "$VM_RUN/inner-pci.txt"
vm_check "vm stop stops it (power off after 2 s: the inner guest is still booting)" \
	"$NEURONCTL" vm stop --timeout 2 --force "$vm"
vm_check "after: vm list says shut off" vm_list_state "$vm" "shut off"
vm_check "after: the GPU is back with bochs-drm ($(driver))" [ "$(driver)" = bochs-drm ]
st=$(scan_driver after)
vm_check "after: scan says bochs-drm ($st)" [ "$st" = bochs-drm ]
vm_check "vm delete removes it" "$NEURONCTL" vm delete "$vm"
vm_end
