# Scenario scan-bind, guest half: neuronctl scan on the real sysfs of a kernel with an emulated
# IOMMU. The host half compares the JSON with what the kernel says (sysfs.txt).
. /scenarios/checks.sh
gpu=$(sed -n 's/.*[[:space:]]neuron\.gpu=\([^[:space:]]*\).*/\1/p' /proc/cmdline)

check "the kernel made IOMMU groups" [ -n "$(ls /sys/kernel/iommu_groups)" ]
check "the second VGA $gpu is driven by bochs-drm before the bind" [ "$(driver_of "$gpu")" = bochs-drm ]
section sysfs.txt sysfs_devices
section scan.json neuronctl scan --json
section scan.txt neuronctl scan
finish
