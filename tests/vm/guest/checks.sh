# Sourced by the guest halves of the scenarios (dash, busybox tools): one line per check, counted.
# "ok - WHAT" or "not ok - WHAT"; finish prints the counts and returns non-zero on a failure.
checks_failed=0 checks_passed=0
check() { # description command...
	what=$1
	shift
	if "$@"; then
		echo "ok - $what"
		checks_passed=$((checks_passed + 1))
	else
		echo "not ok - $what"
		checks_failed=$((checks_failed + 1))
	fi
}
# The driver bound to a PCI device, or "none".
driver_of() {
	if [ -L "/sys/bus/pci/devices/$1/driver" ]; then
		basename "$(readlink "/sys/bus/pci/devices/$1/driver")"
	else
		echo none
	fi
}
group_of() { basename "$(readlink "/sys/bus/pci/devices/$1/iommu_group")"; }
# Print a file or a command's output between markers the host side extracts.
section() { # name command...
	name=$1
	shift
	echo "NEURON-VM-BEGIN $name"
	"$@"
	echo "NEURON-VM-END $name rc=$?"
}
# What the kernel itself says about every PCI device, one line each, independent of neuronctl:
# addr class vendor device iommu_group driver boot_vga
sysfs_devices() {
	for d in /sys/bus/pci/devices/*; do
		a=$(basename "$d")
		g=null
		[ -L "$d/iommu_group" ] && g=$(group_of "$a")
		printf '%s %s %s %s %s %s %s\n' "$a" "$(cat "$d/class")" "$(cat "$d/vendor")" \
			"$(cat "$d/device")" "$g" "$(driver_of "$a")" "$(cat "$d/boot_vga" 2>/dev/null || echo -)"
	done
}
finish() {
	echo "guest checks: $checks_passed passed, $checks_failed failed"
	[ "$checks_failed" -eq 0 ]
}
