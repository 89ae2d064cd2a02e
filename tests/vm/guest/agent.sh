# Scenario agent, guest half: the reference agent on the virtio-serial port, with the bundle
# `neuronctl agent certs` made (in /etc/neuron-agent, its default). Cues come from the host on
# the serial console: "restart" (kill the agent, start it again), "done".
. /scenarios/checks.sh
hostname neuron-lane-guest
check "the agent's port is there" [ -e /dev/virtio-ports/org.neuronos.agent.0 ]
check "the agent's bundle is there" [ -f /etc/neuron-agent/guest.key ]
start_agent() {
	neuron-agent --platform memory --verbose 2>>/tmp/agent.log &
	agent=$!
}
# Wait for the kernel's RNG to be seeded, as a service started later in a real boot would find
# it. Started before (this guest reaches here in ~8 s, the RNG seeds ~2 s later), the agent's
# first session is lost: the host's ping times out and the agent logs "handshake refused: the
# guest agent's peer did not answer in time" (reported to the agent's issue).
head -c 1 /dev/random >/dev/null
start_agent
echo "NEURON-VM-AGENT-UP pid $agent"
while cue=$(timeout 300 head -n 1 /dev/console | tr -d '\r'); do
	case $cue in
	restart)
		check "the agent was running when the host said restart" kill -0 "$agent"
		kill "$agent"
		wait "$agent"
		start_agent
		echo "NEURON-VM-AGENT-RESTARTED pid $agent"
		;;
	done) break ;;
	esac
done
check "the host said done" [ "$cue" = done ]
check "the agent still runs" kill -0 "$agent"
echo "--- the agent's log"
cat /tmp/agent.log
kill "$agent"
finish
