#!/bin/sh
# Scenario 3: real libvirt. The scenario's own libvirtd (started here, as root, no systemd,
# stopped by pid). `neuronctl vm create` with a profile that boots the test kernel directly
# (boot: {kernel, initrd, cmdline}) defines a domain with the Looking Glass shmem, the agent
# channel and a swtpm TPM; `vm start` boots it; `vm list` shows it running; the guest finds
# each device; when it powers off, `vm list` says so. A libvirtd that does not answer (SIGSTOP)
# ends `vm list` with the connect timeout's message.
. "$(dirname "$0")/../lib.sh"
vm_private_mounts "$@"
vm_begin vm-libvirt
vm_libvirtd_start
vm=neuron-lane-vm
log=$VM_RUN/serial.log
vm_write_profile "$vm" vm-libvirt >"$VM_RUN/$vm.yaml"

vm_check "vm create defines the domain" "$NEURONCTL" vm create --profile "$VM_RUN/$vm.yaml"
virsh -q dumpxml "$vm" >"$VM_RUN/$vm.xml" 2>&1
vm_check "the domain has the Looking Glass shmem, the agent channel, a swtpm TPM, no interface" \
	/usr/bin/python3 - "$VM_RUN/$vm.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
d = ET.parse(sys.argv[1]).getroot().find("devices")
ok = [d.find("shmem[@name='looking-glass']/model[@type='ivshmem-plain']") is not None,
      d.find("channel[@type='unix']/target[@name='org.neuronos.agent.0']") is not None,
      d.find("tpm/backend[@type='emulator']") is not None,
      d.find("interface") is None]
sys.exit(0 if all(ok) else 1)
PY
vm_check "vm list: shut off" vm_list_state "$vm" "shut off"
vm_check "vm start boots it" "$NEURONCTL" vm start "$vm"
vm_console "$vm" "$log"
vm_check "vm list: running" vm_list_state "$vm" running
vm_check "swtpm runs beside it" vm_swtpm_running
vm_guest_result "$log" vm-libvirt
rc=$?
vm_guest_checks "$log"
vm_check "the guest found every device (rc=$rc)" [ $rc = 0 ]
vm_wait_state "$vm" "shut off" 60
vm_check "vm list: shut off once the guest powered off" vm_list_state "$vm" "shut off"
vm_check "vm delete removes it" "$NEURONCTL" vm delete "$vm"
vm_check "virsh no longer knows it" sh -c "! virsh -q dominfo $vm >/dev/null 2>&1"
# A libvirtd that accepts and never answers (stopped with SIGSTOP: the kernel still accepts
# on its socket): vm list ends with "not answering" within virt.connect_ms, not never.
# timeout(1) only keeps a broken build from hanging the lane; the message is the check.
libvirtd_pid=$(cat /run/libvirtd.pid)
kill -STOP "$libvirtd_pid"
vm_check "vm list ends when libvirtd does not answer, and says so" sh -c \
	"timeout 120 \"$NEURONCTL\" --param virt.connect_ms=3000 vm list 2>&1 | tee /dev/stderr | grep -q 'is not answering'"
kill -CONT "$libvirtd_pid"
vm_check "libvirtd answers again once resumed" "$NEURONCTL" vm list
vm_end
