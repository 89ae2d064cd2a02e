# Scenario lg-status, guest half: the ivshmem device's BAR2 is the Looking Glass shared memory;
# lg-writer plays the B7 host application on it until the host side says stop, then the guest
# stays up without writing (a hung host application), until the host destroys it.
. /scenarios/checks.sh
iv=""
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x1af4:0x1110 ] && iv=$d
done
check "an ivshmem device is present" [ -n "$iv" ]
[ -n "$iv" ] || { finish; exit 1; }
echo 1 >"$iv/enable"
check "lg-writer wrote and moved the timestamp until told to stop" lg-writer "$iv/resource2"
finish
echo "NEURON-VM-LG-IDLE"
sleep 600
