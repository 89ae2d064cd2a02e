# Scenario scan-bind, guest half: neuronctl scan on the real sysfs of a kernel with an emulated
# IOMMU (the host half compares the JSON with what the kernel says, sysfs.txt), then
# neuronctl gpu bind / unbind moving the second VGA between bochs-drm and vfio-pci for real.
. /scenarios/checks.sh
arg() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" /proc/cmdline; }
gpu=$(arg neuron.gpu)
boot=$(arg neuron.boot_gpu)

check "the kernel made IOMMU groups" [ -n "$(ls /sys/kernel/iommu_groups)" ]
check "the second VGA $gpu is driven by bochs-drm before the bind" [ "$(driver_of "$gpu")" = bochs-drm ]
section sysfs.txt sysfs_devices
section scan.json neuronctl scan --json
section scan.txt neuronctl scan

group=$(group_of "$gpu")
# A host set up for passthrough loads vfio-pci at boot; gpu bind expects it (and says so).
# kmod follows vfio's softdep to vfio_iommu_type1, which vfio-open needs (busybox's would not).
check "modprobe vfio-pci" modprobe vfio-pci
check "gpu bind refuses the boot GPU $boot without --force" sh -c "! neuronctl gpu bind $boot"
check "the boot GPU kept bochs-drm" [ "$(driver_of "$boot")" = bochs-drm ]
check "gpu bind $gpu succeeds" neuronctl gpu bind "$gpu"
check "$gpu is bound to vfio-pci" [ "$(driver_of "$gpu")" = vfio-pci ]
check "/dev/vfio/$group appeared" [ -c "/dev/vfio/$group" ]
check "the group opens and gives the device like QEMU needs it" vfio-open "$group" "$gpu"
section scan-bound.json neuronctl scan --json
check "gpu unbind $gpu succeeds" neuronctl gpu unbind "$gpu"
check "$gpu is back with bochs-drm" [ "$(driver_of "$gpu")" = bochs-drm ]
check "/dev/vfio/$group is gone" [ ! -e "/dev/vfio/$group" ]
check "the boot GPU still has bochs-drm" [ "$(driver_of "$boot")" = bochs-drm ]
finish
