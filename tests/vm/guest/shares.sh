# Scenario shares, guest half: a virtio-fs share from the host, the reference agent on its
# Linux platform with shares.conf (/etc/neuron-agent, as setup.sh puts it): the agent mounts
# the share itself (mount -t virtiofs TAG PATH, being root) and reports it; a desktop entry
# whose program prints the file it is given, with its content, on the console. Cue from the
# host: "done".
. /scenarios/checks.sh
hostname neuron-lane-guest
check "the kernel has virtiofs" grep -qw virtiofs /proc/filesystems
check "shares.conf is there" [ -f /etc/neuron-agent/shares.conf ]
check "the share is not mounted before the agent asks" sh -c '! grep -q " virtiofs " /proc/self/mountinfo'
mkdir -p /mnt/neuron/lanedocs
XDG_DATA_DIRS=/usr/share neuron-agent --platform linux --verbose 2>>/tmp/agent.log &
agent=$!
echo "NEURON-VM-SHARES-UP pid $agent"
while cue=$(timeout 300 head -n 1 /dev/console | tr -d '\r'); do
	case $cue in
	done) break ;;
	esac
done
check "the host said done" [ "$cue" = done ]
check "the agent mounted the share" grep -q " /mnt/neuron/lanedocs .* - virtiofs lanedocs " /proc/self/mountinfo
check "the agent still runs" kill -0 "$agent"
echo "--- the agent's log"
cat /tmp/agent.log
kill "$agent"
umount /mnt/neuron/lanedocs 2>/dev/null
finish
