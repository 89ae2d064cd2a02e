#!/bin/sh
# Scenario 4: the agent over real virtio-serial. `neuronctl agent certs` makes the VM's
# credentials; the guest's bundle goes into its initramfs; the reference agent in the guest
# answers `neuronctl agent ping`, `agent info` and a clipboard round trip, over TLS through
# libvirt's channel socket; after the agent restarts in the guest, the host reconnects.
. "$(dirname "$0")/../lib.sh"
vm_private_mounts "$@"
vm_begin agent
vm_libvirtd_start
vm=neuron-lane-agent
log=$VM_RUN/serial.log
N="$NEURONCTL --param state_dir=$VM_RUN/state"

vm_check "agent certs makes the VM's credentials and the guest's bundle" \
	$N agent certs "$vm" --bundle "$VM_RUN/extra/etc/neuron-agent" --json
guest_fp=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["guest"])' "$VM_RUN/check.out")
vm_initrd_with "$VM_RUN/extra" "$VM_RUN/initrd-agent"
vm_initrd=$VM_RUN/initrd-agent
vm_write_profile "$vm" agent >"$VM_RUN/$vm.yaml"
sed -i 's/^tpm: .*/tpm: false/; /^looking_glass:/,/^  resolution/d' "$VM_RUN/$vm.yaml"
vm_check "vm create with agent: true" "$NEURONCTL" vm create --profile "$VM_RUN/$vm.yaml"
vm_check "vm start" "$NEURONCTL" vm start "$vm"
[ "$vm_failed" = 0 ] || vm_end
vm_console "$vm" "$log"
vm_wait "$log" 'NEURON-VM-AGENT-UP' "$VM_TIMEOUT" || { vm_fail "the agent started in the guest"; vm_end; }

json() { # FILE EXPR: a Python expression over the JSON in FILE (as j)
	/usr/bin/python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null
}
vm_check "agent ping answers over TLS" $N agent ping "$vm" --timeout 30000 --json
cp "$VM_RUN/check.out" "$VM_RUN/ping.json"
fp=$(json "$VM_RUN/ping.json" 'j["fingerprint"]')
vm_check "the agent that answered holds the guest certificate ($fp)" [ "$fp" = "$guest_fp" ]
vm_check "agent info" $N agent info "$vm" --json
cp "$VM_RUN/check.out" "$VM_RUN/info.json"
vm_check "info: the guest's hostname and uptime" \
	[ "$(json "$VM_RUN/info.json" 'j["hostname"] + " " + str(j["uptime_s"] > 0)')" = "neuron-lane-guest True" ]
text="neuron lane $(date +%s) ünïcödé"
vm_check "clipboard --set" $N agent clipboard "$vm" --set "$text"
vm_check "clipboard gives back what was set" sh -c "[ \"\$($N agent clipboard $vm)\" = '$text' ]"

vm_console_say restart
if vm_wait "$log" 'NEURON-VM-AGENT-RESTARTED' "$VM_TIMEOUT"; then
	vm_check "after the agent restarted: ping reconnects" $N agent ping "$vm" --timeout 30000
	vm_check "after the agent restarted: info" $N agent info "$vm"
else
	vm_fail "the agent restarted in the guest"
fi
vm_console_say done
vm_guest_result "$log" agent
rc=$?
vm_guest_checks "$log"
vm_check "the guest's side (rc=$rc)" [ $rc = 0 ]
vm_wait_state "$vm" "shut off" 60
vm_check "vm delete" "$NEURONCTL" vm delete "$vm"
vm_end
