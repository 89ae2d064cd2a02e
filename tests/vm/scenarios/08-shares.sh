#!/bin/sh
# Scenario 8: a host folder in the guest over virtio-fs (issue 17). The profile's shares
# become a <filesystem> with Debian's virtiofsd and memfd shared memory; the guest's agent
# mounts the share by its tag (shares.conf) and reports it; `neuronctl app run` of a guest
# test app with a host file under the share opens the translated guest path, and the app
# prints what it read there on the console: the file's content, through virtio-fs. A host
# file outside the shares is refused with the list of shares.
. "$(dirname "$0")/../lib.sh"
vm_private_mounts "$@"
vm_begin shares
vm_libvirtd_start
vm=neuron-lane-shares
log=$VM_RUN/serial.log
N="$NEURONCTL --param state_dir=$VM_RUN/state"
share=$VM_RUN/share
content="neuron lane share $(date +%s) through virtio-fs"

mkdir -p "$share/sub dir" "$VM_RUN/extra/etc/neuron-agent" "$VM_RUN/extra/usr/share/applications" \
	"$VM_RUN/extra/usr/bin"
printf '%s\n' "$content" >"$share/sub dir/doc.txt"
echo "not shared" >"$VM_RUN/outside.txt"
vm_check "agent certs makes the VM's credentials and the guest's bundle" \
	$N agent certs "$vm" --bundle "$VM_RUN/extra/etc/neuron-agent"
# what the guest-tools media's setup.sh puts in /etc/neuron-agent (tests/media checks that)
echo "lanedocs=/mnt/neuron/lanedocs" >"$VM_RUN/extra/etc/neuron-agent/shares.conf"
cat >"$VM_RUN/extra/usr/share/applications/lanetest.desktop" <<'DESKTOP'
[Desktop Entry]
Type=Application
Name=Lane test app
Exec=/usr/bin/lane-open %f
MimeType=text/plain;
DESKTOP
printf '#!/bin/sh\necho "NEURON-VM-OPENED $1: $(cat "$1")" >/dev/console\n' >"$VM_RUN/extra/usr/bin/lane-open"
chmod 755 "$VM_RUN/extra/usr/bin/lane-open"
vm_initrd_with "$VM_RUN/extra" "$VM_RUN/initrd-shares"
vm_initrd=$VM_RUN/initrd-shares
vm_write_profile "$vm" shares "shares: [{name: lanedocs, path: $share}]" >"$VM_RUN/$vm.yaml"
sed -i 's/^tpm: .*/tpm: false/; /^looking_glass:/,/^  resolution/d' "$VM_RUN/$vm.yaml"
vm_check "vm create with a share" "$NEURONCTL" vm create --profile "$VM_RUN/$vm.yaml"
"$NEURONCTL" vm xml --profile "$VM_RUN/$vm.yaml" >"$VM_RUN/domain.xml" 2>&1
vm_check "the domain has virtio-fs and shared memory" \
	sh -c "grep -q \"<driver type=\\\"virtiofs\\\"/>\" '$VM_RUN/domain.xml' && grep -q 'access mode=\"shared\"' '$VM_RUN/domain.xml'"
vm_check "vm start (libvirt starts virtiofsd)" "$NEURONCTL" vm start "$vm"
[ "$vm_failed" = 0 ] || vm_end
vm_console "$vm" "$log"
vm_wait "$log" 'NEURON-VM-SHARES-UP' "$VM_TIMEOUT" || { vm_fail "the agent started in the guest"; vm_end; }

vm_check "agent ping" $N agent ping "$vm" --timeout 30000
vm_check "app shares: the guest mounted the share where shares.conf says" \
	sh -c "$N app shares '$vm' --timeout 30000 | grep -qF \"$(printf 'lanedocs\t%s\t/mnt/neuron/lanedocs' "$share")\""
vm_check "app run with a host file under the share" \
	$N app run "$vm" lanetest "$share/sub dir/doc.txt" --no-lg --timeout 30000
if vm_wait "$log" 'NEURON-VM-OPENED' 120; then
	vm_check "the guest app read the file's content at the translated path" \
		grep -qF "NEURON-VM-OPENED /mnt/neuron/lanedocs/sub dir/doc.txt: $content" "$log"
else
	vm_fail "the guest app was started with the file"
fi
vm_check "app run of a host file outside the shares fails" \
	sh -c "! $N app run '$vm' lanetest '$VM_RUN/outside.txt' --no-lg --timeout 30000"
cp "$VM_RUN/check.out" "$VM_RUN/refused.out"
vm_check "refused with the list of shares" \
	grep -qF "is outside the folders $vm shares with the host: lanedocs ($share); put the file in one of them (it is never copied) [REFUSED]" "$VM_RUN/refused.out"
vm_console_say done
vm_guest_result "$log" shares
rc=$?
vm_guest_checks "$log"
vm_check "the guest's side (rc=$rc)" [ $rc = 0 ]
vm_wait_state "$vm" "shut off" 60
vm_check "vm delete" "$NEURONCTL" vm delete "$vm"
vm_end
