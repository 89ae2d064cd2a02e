# Scenario vm-libvirt, guest half: the domain `neuronctl vm create` defined has what it says:
# a TPM 2.0 (swtpm behind it), the Looking Glass ivshmem device, the agent's virtio-serial port,
# and no network interface.
. /scenarios/checks.sh
has_pci() { # vendor:device
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor"):$(cat "$d/device")" = "$1" ] && return 0
	done
	return 1
}
port_named() {
	for n in /sys/class/virtio-ports/*/name; do
		[ -f "$n" ] && [ "$(cat "$n")" = "$1" ] && [ -c "/dev/$(basename "$(dirname "$n")")" ] && return 0
	done
	return 1
}
check "a TPM 2.0 answers (tpm0, version 2)" [ "$(cat /sys/class/tpm/tpm0/tpm_version_major 2>/dev/null)" = 2 ]
check "the Looking Glass ivshmem device (1af4:1110) is there" has_pci 0x1af4:0x1110
check "the agent port org.neuronos.agent.0 is there" port_named org.neuronos.agent.0
check "no network interface but lo" [ "$(ls /sys/class/net)" = lo ]
finish
