# Scenario vfio-boot, second boot: this guest's / carries the files vfio apply wrote, the
# kernel command line is what it put in GRUB, and /init loaded the initramfs's early modules
# before the drivers of the devices. Nobody runs gpu bind: vfio-pci must have the GPU from boot.
. /scenarios/checks.sh
arg() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" /proc/cmdline; }
gpu=$(arg neuron.gpu)
boot=$(arg neuron.boot_gpu)
group=$(group_of "$gpu")
check "the IOMMU is on from the planned kernel parameters" [ -n "$(ls /sys/kernel/iommu_groups)" ]
check "$gpu is bound to vfio-pci from boot ($(driver_of "$gpu"))" [ "$(driver_of "$gpu")" = vfio-pci ]
check "the boot GPU $boot, same ids, kept bochs-drm ($(driver_of "$boot"))" \
	[ "$(driver_of "$boot")" = bochs-drm ]
check "/dev/vfio/$group opens and gives the device" vfio-open "$group" "$gpu"
section status.json neuronctl vfio status --json
section status.txt neuronctl vfio status
finish
