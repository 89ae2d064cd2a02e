#!/bin/sh
# VM profiles end to end through neuronctl:
#  - golden domain XML of every example profile on several fixture machines, each one
#    validated against libvirt's own RNG schema (virt-xml-validate);
#  - every bad profile in bad/ with its message (file:line:column and the fix);
#  - vm create/list/start/stop/destroy/delete on the libvirt test driver;
#  - gpu bind/unbind on a copy of a fixture sysroot: the writes and the refusals.
# Golden files live in expected/; NEURON_REGEN=1 rewrites them.
set -u
: "${BUILD:?}" "${NEURONCTL:?}" "${SYSROOTS:?}"
. "$(dirname "$0")/../lib.sh"
scratch
daemon_pid=
trap 'if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null; fi; rm -rf "$tmp"' EXIT

# 1. Every example profile on machines of different kinds. A machine where a profile
#    cannot be built (no isolated GPU) is a golden error; every XML must validate.
machines="intel-nvidia demo nvidia-turing-4fn amd-navi-split-audio two-identical single-gpu"
for m in $machines; do
	for f in "$top"/config/profiles/*.yaml; do
		p=$(basename "$f" .yaml)
		golden "$m.$p.xml" --sysroot "$SYSROOTS/$m" vm xml --profile "config/profiles/$p.yaml"
		if (cd "$top" && "$NEURONCTL" --sysroot "$SYSROOTS/$m" vm xml --profile "config/profiles/$p.yaml") \
			>"$tmp/d.xml" 2>/dev/null; then
			if virt-xml-validate "$tmp/d.xml" domain >"$tmp/v" 2>&1; then ok; else
				bad "$m.$p.xml does not validate against libvirt's schema"
				cat "$tmp/v"
			fi
		fi
	done
done
# The same profiles edited from the command line, as the TUI's form edits them.
golden demo.windows11.edited.xml --sysroot "$SYSROOTS/demo" vm xml --profile config/profiles/windows11.yaml \
	--set name=gaming --set memory=24G --set cpu.vcpus=12 --set looking_glass.resolution=4k \
	--set looking_glass.hdr=true --set gpu=0000:01:00.0 --set hostdevs.usb=046d:c52b --set network=default
(cd "$top" && "$NEURONCTL" --sysroot "$SYSROOTS/demo" vm xml --profile config/profiles/windows11.yaml \
	--set name=gaming --set looking_glass.hdr=true --set hostdevs.usb=046d:c52b --set network=default) >"$tmp/e.xml"
if virt-xml-validate "$tmp/e.xml" domain >"$tmp/v" 2>&1; then ok; else bad "edited XML does not validate"; cat "$tmp/v"; fi
# gpu_mode single (the host shows on the VM's GPU though it is not the boot GPU): kept in the
# domain's <metadata>, which libvirt's schema allows, for vm start and the hook to read.
golden intel-nvidia.windows11.single.xml --sysroot "$SYSROOTS/intel-nvidia" vm xml \
	--profile config/profiles/windows11.yaml --set gpu_mode=single
(cd "$top" && "$NEURONCTL" --sysroot "$SYSROOTS/intel-nvidia" vm xml --profile config/profiles/windows11.yaml \
	--set gpu_mode=single) >"$tmp/s.xml"
if virt-xml-validate "$tmp/s.xml" domain >"$tmp/v" 2>&1; then ok; else bad "gpu_mode single does not validate"; cat "$tmp/v"; fi
golden single-no-gpu --sysroot "$SYSROOTS/intel-nvidia" vm xml --profile config/profiles/windows11.yaml \
	--set gpu_mode=single --set gpu=none
# The VM lane's form of the Linux profile: a kernel, TCG, the console into a file.
golden intel-nvidia.linux.vm-lane.xml --sysroot "$SYSROOTS/intel-nvidia" vm xml --profile config/profiles/linux.yaml \
	--set serial_log=/var/tmp/lane/serial.log --set on_reboot=destroy --set looking_glass=true
(cd "$top" && "$NEURONCTL" --sysroot "$SYSROOTS/intel-nvidia" vm xml --profile config/profiles/linux.yaml \
	--set serial_log=/var/tmp/lane/serial.log --set on_reboot=destroy --set looking_glass=true) >"$tmp/l.xml"
if virt-xml-validate "$tmp/l.xml" domain >"$tmp/v" 2>&1; then ok; else bad "VM-lane XML does not validate"; cat "$tmp/v"; fi
# Shared folders: virtio-fs with the shared memory it needs, ~ from HOME.
shares="--set shares=Documents=~/Documents --set shares=/srv/music/"
HOME=/home/ann golden intel-nvidia.linux.shares.xml --sysroot "$SYSROOTS/intel-nvidia" vm xml \
	--profile config/profiles/linux.yaml $shares
(cd "$top" && HOME=/home/ann "$NEURONCTL" --sysroot "$SYSROOTS/demo" vm xml --profile config/profiles/windows11.yaml \
	--set hugepages=true $shares) >"$tmp/s.xml"
if virt-xml-validate "$tmp/s.xml" domain >"$tmp/v" 2>&1; then ok; else bad "XML with shares does not validate"; cat "$tmp/v"; fi

# 2. Bad profiles: one per rule, each with its message. Most are judged on intel-nvidia;
#    the isolation cases on the machine whose GPUs share a group.
for f in "$here"/bad/*.yaml; do
	b=$(basename "$f" .yaml)
	case $b in
	gpu-not-isolated|gpu-auto-none-isolated) m=shared-group ;;
	pinning-not-on-host|pinning-more-than-vcpus|memory-too-much) m=demo ;;  # 32 CPUs, 32G
	*) m=intel-nvidia ;;
	esac
	golden "bad.$b" --sysroot "$SYSROOTS/$m" vm xml --profile "tests/vm-xml/bad/$b.yaml"
done
golden bad.missing-file vm xml --profile tests/vm-xml/bad/no-such-file.yaml
golden bad.set-unknown --sysroot "$SYSROOTS/intel-nvidia" vm xml --profile config/profiles/linux.yaml --set cpu.vcpu=4
golden bad.set-form --sysroot "$SYSROOTS/intel-nvidia" vm xml --profile config/profiles/linux.yaml --set memory
# an error about a key --set changed names the --set value, not the file's line for it
golden bad.set-located --sysroot "$SYSROOTS/demo" vm xml --profile config/profiles/windows11.yaml --set tpm=false
golden bad.set-located-pinning --sysroot "$SYSROOTS/demo" vm xml --profile config/profiles/windows11.yaml \
	--set cpu.pinning=40-47
# a profile is a short file: /dev/zero (or a log given by mistake) is refused, not read until killed
bound=120 golden bad.profile-too-large vm xml --profile /dev/zero
bound=

# 3. VMs on the libvirt test driver. test:///default starts afresh for each process, so
#    create --start does both in one run; node.xml is a driver state with running VMs.
nodes="test://$here/node.xml"
# vm create makes the VM's guest-tools media and credentials under the state directory
st="--param state_dir=$tmp/state"
golden vm.create-start $st --connect test:///default --sysroot "$SYSROOTS/intel-nvidia" vm create \
	--profile config/profiles/linux.yaml --start
golden vm.create-disk-in-pool $st --connect test:///default --sysroot "$SYSROOTS/intel-nvidia" vm create \
	--profile config/profiles/windows11.yaml --set disk.path=/default-pool/win11.qcow2 --set disk.size=40G --start
golden vm.create-no-room $st --connect test:///default --sysroot "$SYSROOTS/intel-nvidia" vm create \
	--profile config/profiles/windows11.yaml --set disk.path=/default-pool/win11.qcow2
golden vm.create-exists $st --connect "$nodes" --sysroot "$SYSROOTS/intel-nvidia" vm create \
	--profile config/profiles/windows10.yaml --set disk=none
golden vm.list --connect "$nodes" --sysroot "$SYSROOTS/intel-nvidia" vm list
golden vm.list.json --connect "$nodes" --sysroot "$SYSROOTS/intel-nvidia" vm list --json
golden vm.list-default --connect test:///default --sysroot "$SYSROOTS/iommu-off" vm list
golden vm.start-running --connect "$nodes" vm start win10
golden vm.stop --connect "$nodes" vm stop win10 --timeout 5
golden vm.destroy --connect "$nodes" vm destroy plain
golden vm.delete-running --connect "$nodes" vm delete win10
golden vm.delete-none --connect "$nodes" vm delete nosuch
golden vm.stop-bad-timeout --connect "$nodes" vm stop win10 --timeout soon
golden vm.no-name --connect "$nodes" vm start
golden vm.help vm --help
golden vm.help-xml vm xml --help
golden vm.help-stop vm stop --help
golden vm.unknown vm frobnicate
golden vm.no-libvirt --connect test:///nonexistent/node.xml vm list

# 3b. A daemon that accepts and never answers, and one that stops answering once
#     connected: every call ends with a clear error (virt.connect_ms bounds connecting,
#     keepalive every later call). timeout(1) only keeps a broken build from hanging
#     the suite; what is checked is the message and the exit status.
daemon() { # MODE: a fake libvirtd on $tmp/MODE.sock, its pid in $daemon_pid
	rm -f "$tmp/$1.ready"
	"$PYTHON" "$top/tests/fixtures/fake-libvirtd.py" "$tmp/$1.sock" "$1" "$tmp/$1.ready" &
	daemon_pid=$!
	i=0
	while [ ! -e "$tmp/$1.ready" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
}
PYTHON=${PYTHON:-python3}
bound=120
daemon silent
golden vm.libvirt-not-answering --connect "qemu+unix:///system?socket=$tmp/silent.sock" \
	--param virt.connect_ms=500 vm list
kill "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null
daemon frozen
golden vm.libvirt-stops-answering --connect "qemu+unix:///system?socket=$tmp/frozen.sock" \
	--param virt.keepalive_s=1 --param virt.keepalive_count=1 vm list
kill "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null
daemon_pid= bound=
golden vm.bad-connect-param --connect test:///default --param virt.connect_ms=soon vm list

# 4. gpu bind/unbind on a copy of intel-nvidia with the files the kernel would have.
cp -a "$SYSROOTS/intel-nvidia" "$tmp/sr"
mkdir -p "$tmp/sr/sys/bus/pci/drivers/vfio-pci"
(cd "$tmp/sr/sys/bus/pci" && : >drivers_probe && for d in drivers/*; do : >"$d/bind"; : >"$d/unbind"; done)
run="--param runtime_dir=$tmp/run"
golden gpu.bind-dry-run --sysroot "$tmp/sr" --connect test:///default $run gpu bind 01:00.0 --dry-run
golden gpu.bind --sysroot "$tmp/sr" --connect test:///default $run gpu bind 01:00.0
if [ "$(cat "$tmp/sr/sys/bus/pci/devices/0000:01:00.0/driver_override")" = vfio-pci ] &&
	[ "$(cat "$tmp/sr/sys/bus/pci/drivers/snd_hda_intel/unbind")" = 0000:01:00.1 ] &&
	[ "$(cat "$tmp/run/gpu-bind/0000:01:00.0")" = "$(printf '0000:01:00.0 nvidia\n0000:01:00.1 snd_hda_intel')" ]; then
	ok
else
	bad "gpu bind: the sysfs files or the record do not hold what was written"
fi
# the kernel would now show vfio-pci as their driver
for a in 0000:01:00.0 0000:01:00.1; do
	(cd "$tmp/sr/sys/bus/pci/devices/$a" && rm driver && ln -s ../../../bus/pci/drivers/vfio-pci driver)
done
golden gpu.unbind --sysroot "$tmp/sr" --connect test:///default $run gpu unbind 01:00.0
golden gpu.boot-refused --sysroot "$tmp/sr" --connect test:///default $run gpu bind 00:02.0
golden gpu.busy --sysroot "$tmp/sr" --connect "$nodes" $run gpu bind 01:00.0
golden gpu.not-isolated --sysroot "$SYSROOTS/shared-group" --connect test:///default $run gpu bind 1f:00.0
golden gpu.no-libvirt --sysroot "$SYSROOTS/vfio-bound" --connect test:///nonexistent/node.xml $run gpu bind 01:00.0
golden gpu.help gpu --help
golden gpu.no-addr gpu bind

summary vm-xml
