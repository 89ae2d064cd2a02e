#!/bin/sh
# The VFIO suite: neuronctl vfio on fake target roots made of the distributions' shipped
# files (tests/fixtures/roots), crossed with fixture machines. Golden plans, every
# refusal, apply/idempotence/revert per boot setup, every crash point of apply, status
# against the running kernel of the sysroot. Regeneration tools are recording stand-ins
# (tests/vfio/standins); the real mkinitcpio/update-initramfs/grub-mkconfig run in the
# VM lane (issue 8), which boots a kernel with the plan's parameters.
#
# Regenerate the golden plans: NEURON_REGEN=1 BUILD=$PWD/build sh tests/vfio/run.sh
set -u
: "${BUILD:?BUILD must be set}"
NEURONCTL=${NEURONCTL:-$BUILD/neuronctl}
SYSROOTS=${SYSROOTS:-$BUILD/sysroots}
. "$(dirname "$0")/../lib.sh"
standins=$here/standins
# a tmpfs when there is one: apply fsyncs every file, which a disk makes slow
shm=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && shm=/dev/shm
tmp=$(mktemp -d "$shm/neuron-vfio-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export STANDIN_LOG="$tmp/calls.log"
unset NEURON_FAULT_AFTER STANDIN_FAIL

# fresh NAME: a new copy of fixture root NAME; prints its path
fresh() {
	d=$(mktemp -d "$tmp/root-$1-XXXXXX") && rmdir "$d" &&
	sh "$here/make-root.sh" "$1" "$d" || { echo "cannot make root $1" >&2; exit 1; }
	echo "$d"
}

# nctl MACHINE ROOT ARGS...: neuronctl on that machine and root, stand-ins for the tools
nctl() {
	m=$1 r=$2
	shift 2
	"$NEURONCTL" --sysroot "$SYSROOTS/$m" --root "$r" --param run.standins="$standins" "$@"
}

# A tree's every entry (type, mode, link target) and every file's content hash.
snap() {
	(cd "$1" && find . -printf '%p %y %m %l\n' | LC_ALL=C sort &&
	 find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}

# expect_rc WANT NAME CMD...: run, compare the exit status, keep stdout+stderr in $out
expect_rc() {
	want=$1 name=$2
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq "$want" ]; then ok; else bad "$name: exit $rc, want $want"; echo "$out" | sed 's/^/    /' | head -20; fi
}

# contains NAME TEXT PATTERN: a fixed string in the text
contains() {
	case "$2" in
	*"$3"*) ok ;;
	*) bad "$1: output lacks '$3'"; echo "$2" | sed 's/^/    /' | head -30 ;;
	esac
}
lacks() {
	case "$2" in
	*"$3"*) bad "$1: output has '$3'"; echo "$2" | sed 's/^/    /' | head -30 ;;
	*) ok ;;
	esac
}

same_tree() { # NAME A-SNAPSHOT-FILE ROOT
	snap "$3" > "$tmp/now.snap"
	if cmp -s "$2" "$tmp/now.snap"; then ok; else bad "$1: the tree differs"; diff "$2" "$tmp/now.snap" | head -20 | sed 's/^/    /'; fi
}

# ---------------------------------------------------------------- golden plans
# golden NAME ROOT MACHINE [ARGS...]
golden() {
	name=$1 rootname=$2 machine=$3
	shift 3
	r=$(fresh "$rootname")
	"$NEURONCTL" --sysroot "$SYSROOTS/$machine" --root "$r" vfio plan "$@" > "$tmp/plan.out" 2>&1
	rc=$?
	sed "s|$r|@ROOT@|g" "$tmp/plan.out" > "$tmp/plan.got"
	echo "exit $rc" >> "$tmp/plan.got"
	golden_check "$name" "$tmp/plan.got" "neuronctl vfio plan $*"
	# planning writes nothing
	r2=$(fresh "$rootname")
	snap "$r2" > "$tmp/a.snap"
	snap "$r" > "$tmp/b.snap"
	sed "s|$r2|X|g" "$tmp/a.snap" > "$tmp/a2.snap"
	sed "s|$r|X|g" "$tmp/b.snap" > "$tmp/b2.snap"
	if cmp -s "$tmp/a2.snap" "$tmp/b2.snap"; then ok; else bad "plan $name wrote into the root"; fi
}

golden debian-grub-initramfs-tools--intel-nvidia.plan debian-grub-initramfs-tools intel-nvidia
golden debian-grub-initramfs-tools--amd-two-dgpu.plan debian-grub-initramfs-tools amd-two-dgpu
golden debian-grub-initramfs-tools--shared-audio-id.plan debian-grub-initramfs-tools shared-audio-id
golden debian-sdboot-kernel-install--amd-navi-split-audio.plan debian-sdboot-kernel-install amd-navi-split-audio
golden arch-grub-mkinitcpio--intel-nvidia.plan arch-grub-mkinitcpio intel-nvidia
golden arch-grub-mkinitcpio--nvidia-turing-4fn.plan arch-grub-mkinitcpio nvidia-turing-4fn
golden arch-grub-mkinitcpio--two-identical.plan arch-grub-mkinitcpio two-identical --gpu 02:00.0
golden arch-grub-mkinitcpio--shared-group-include.plan arch-grub-mkinitcpio shared-group --gpu 1f:00.0 --include-group \
	--include-device 03:00.0 --include-device 03:00.1 --include-device 22:00.0
golden arch-grub-mkinitcpio--intel-nvidia.json arch-grub-mkinitcpio intel-nvidia --json
golden arch-sdboot-mkinitcpio--demo.plan arch-sdboot-mkinitcpio demo
golden arch-uki-mkinitcpio--amd-two-dgpu.plan arch-uki-mkinitcpio amd-two-dgpu
golden dracut-grub2-bls--intel-nvidia.plan dracut-grub2-bls intel-nvidia
golden kernel-install-uki-dracut--amd-navi-split-audio.plan kernel-install-uki-dracut amd-navi-split-audio
golden grub-user-edits--amd-two-dgpu.plan grub-user-edits amd-two-dgpu
golden grub-user-edits--intel-nvidia.plan grub-user-edits intel-nvidia
golden grub-dropin-cloudimg--intel-nvidia.plan grub-dropin-cloudimg intel-nvidia
golden ambiguous-initramfs--dracut.plan ambiguous-initramfs intel-nvidia --initramfs dracut
golden two-identical-force-boot-gpu.plan arch-grub-mkinitcpio two-identical --gpu 01:00.0 --force

# ---------------------------------------------------------------- refusals
r=$(fresh arch-grub-mkinitcpio)
snap "$r" > "$tmp/orig.snap"
expect_rc 1 "boot GPU" nctl two-identical "$r" vfio apply --yes --gpu 01:00.0
contains "boot GPU" "$out" "drives the host console"
contains "boot GPU: way forward" "$out" "--force"
expect_rc 1 "group not isolated" nctl shared-group "$r" vfio apply --yes
contains "group not isolated" "$out" "is not isolated"
contains "group: the blockers" "$out" "0000:22:00.0"
contains "group: way forward" "$out" "--include-group"
expect_rc 1 "not a GPU" nctl intel-nvidia "$r" vfio plan --gpu 01:00.1
contains "not a GPU" "$out" "is not a GPU"
expect_rc 1 "no such device" nctl intel-nvidia "$r" vfio plan --gpu 05:00.0
contains "no such device" "$out" "no PCI device 05:00.0"
expect_rc 1 "refusal as JSON" nctl shared-group "$r" vfio plan --json
contains "refusal as JSON" "$out" '"error": "GROUP"'
same_tree "refusals change nothing" "$tmp/orig.snap" "$r"

# The IOMMU off is not a dead end (issue 14): the plan turns it on, and only that, and
# says the firmware must too; after the reboot the GPU's plan goes on top, and one revert
# undoes both.
r=$(fresh arch-grub-mkinitcpio)
snap "$r" > "$tmp/orig.snap"
expect_rc 0 "IOMMU off: plan" nctl iommu-off "$r" vfio plan
contains "IOMMU off: the plan says so" "$out" "the IOMMU is off: this plan only adds intel_iommu=on iommu=pt"
contains "IOMMU off: the firmware too" "$out" "Turn on VT-d in the firmware setup"
lacks "IOMMU off: no vfio-pci binding yet" "$out" "/etc/modprobe.d/vfio.conf"
expect_rc 0 "IOMMU off: apply" nctl iommu-off "$r" vfio apply --yes
contains "IOMMU off: the way forward" "$out" "then run 'neuronctl vfio plan' to choose the GPU"
grep -q 'GRUB_CMDLINE_LINUX_DEFAULT="loglevel=3 quiet intel_iommu=on iommu=pt"' "$r/etc/default/grub" && ok ||
	bad "IOMMU off: GRUB did not get the parameters"
[ -e "$r/etc/modprobe.d/vfio.conf" ] && bad "IOMMU off: vfio-pci was bound" || ok
expect_rc 0 "IOMMU off: status" nctl iommu-off "$r" vfio status
contains "IOMMU off: status" "$out" "configured to turn the IOMMU on (intel_iommu=on iommu=pt), no GPU yet"
expect_rc 0 "IOMMU on now: the GPU on top" nctl intel-nvidia "$r" vfio apply --yes
expect_rc 0 "IOMMU on now: status" nctl intel-nvidia "$r" vfio status
contains "IOMMU on now: status" "$out" "configured for GPU 0000:01:00.0"
expect_rc 0 "IOMMU on now: one revert" nctl intel-nvidia "$r" vfio revert --yes
same_tree "IOMMU off, then on: one revert undoes both" "$tmp/orig.snap" "$r"

r=$(fresh unknown-boot)
snap "$r" > "$tmp/orig.snap"
expect_rc 1 "unknown boot setup" nctl intel-nvidia "$r" vfio apply --yes
contains "unknown boot setup" "$out" "cannot tell how the target root boots"
contains "unknown boot setup: no generator" "$out" "no initramfs generator"
contains "unknown boot setup: no loader" "$out" "no boot loader configuration"
contains "unknown boot setup: by hand" "$out" "intel_iommu=on iommu=pt"
same_tree "unknown boot setup changes nothing" "$tmp/orig.snap" "$r"

r=$(fresh ambiguous-initramfs)
expect_rc 1 "two initramfs generators" nctl intel-nvidia "$r" vfio plan
contains "two initramfs generators" "$out" "several initramfs generators are installed"
contains "two initramfs generators: names" "$out" "mkinitcpio, dracut"
contains "two initramfs generators: way forward" "$out" "--initramfs"
expect_rc 1 "bad --initramfs" nctl intel-nvidia "$r" vfio plan --initramfs genkernel
contains "bad --initramfs" "$out" "unknown initramfs generator 'genkernel'"

r=$(fresh uki-no-cmdline)
expect_rc 1 "UKI without /etc/kernel/cmdline" nctl intel-nvidia "$r" vfio plan
contains "UKI without /etc/kernel/cmdline" "$out" "no /etc/kernel/cmdline"

# a symlink in the target leading out of it (a rescue session's /mnt/etc -> /etc)
r=$(fresh arch-grub-mkinitcpio)
outside="$tmp/outside-etc"
mv "$r/etc" "$outside"
ln -s "$outside" "$r/etc"
snap "$outside" > "$tmp/outside.snap"
expect_rc 1 "symlink out of the root" nctl intel-nvidia "$r" vfio apply --yes
contains "symlink out of the root" "$out" "outside the target root"
same_tree "nothing written outside the root" "$tmp/outside.snap" "$outside"
rm "$r/etc"
mkdir -p "$r/etc"
cp -a "$outside/." "$r/etc/"
rm -rf "$r/etc/modprobe.d"
ln -s ../../../../../../../../../../.. "$r/etc/modprobe.d"
expect_rc 1 "relative symlink above the root" nctl intel-nvidia "$r" vfio plan
contains "relative symlink above the root" "$out" "above the target root"

# a read-only root (a private mount namespace: nothing of this machine is touched)
r=$(fresh arch-grub-mkinitcpio)
if unshare -m sh -c "mount --bind '$r' '$r' && mount -o remount,bind,ro '$r'" 2>/dev/null; then
	out=$(unshare -m sh -c "mount --bind '$r' '$r' && mount -o remount,bind,ro '$r' &&
		'$NEURONCTL' --sysroot '$SYSROOTS/intel-nvidia' --root '$r' --param run.standins='$standins' vfio apply --yes" 2>&1)
	rc=$?
	[ "$rc" -eq 1 ] && ok || bad "read-only root: exit $rc"
	contains "read-only root" "$out" "is not writable"
	contains "read-only root: way forward" "$out" "remount,rw"
else
	echo "skip: read-only root (no mount namespaces here)"
fi

# ---------------------------------------------------------------- as the tools read them
# The files as grub-mkconfig (sh), mkinitcpio and dracut (bash) really read them: sourced by
# a shell in the root, so quoting and self-references are judged by the shell itself.
grub_view() { # ROOT: the kernel command line grub-mkconfig would build
	[ -f "$1/etc/default/grub" ] || return 0
	(cd "$1" && sh -c '. ./etc/default/grub
		for f in ./etc/default/grub.d/*.cfg; do [ -e "$f" ] && . "$f"; done
		echo "$GRUB_CMDLINE_LINUX $GRUB_CMDLINE_LINUX_DEFAULT"' 2>/dev/null)
}
initrd_view() { # ROOT: MODULES/FILES of mkinitcpio, force_drivers of dracut
	(cd "$1" && bash -c '
		if [ -f ./etc/mkinitcpio.conf ]; then
			. ./etc/mkinitcpio.conf
			for f in ./etc/mkinitcpio.conf.d/*.conf; do [ -e "$f" ] && . "$f"; done
			echo "MODULES=${MODULES[*]} FILES=${FILES[*]}"
		fi
		for f in ./etc/dracut.conf ./etc/dracut.conf.d/*.conf; do [ -e "$f" ] && . "$f"; done
		[ -n "${force_drivers:-}" ] && echo "force_drivers=$(echo $force_drivers)"
		true' 2>/dev/null)
}
# shell_check NAME BEFORE-ROOT AFTER-ROOT PARAMS: the command line after is the one before
# plus only the wanted parameters it lacked; vfio modules come first in MODULES
shell_check() {
	name=$1 before=$(grub_view "$2") after=$(grub_view "$3") params=$4
	[ -n "$params" ] || bad "$name: no kernel parameters to look for"
	if [ -f "$3/etc/default/grub" ]; then
		case "$after" in
		"$before"*) ok ;;
		*) bad "$name: GRUB's command line lost what was there"; echo "    before: $before"; echo "    after:  $after" ;;
		esac
		rest=${after#"$before"}
		for p in $rest; do
			case " $params " in *" $p "*) ok ;; *) bad "$name: GRUB got '$p' it should not"; esac
		done
		for p in $params; do
			case " $after " in *" $p "*) ok ;; *) bad "$name: GRUB lacks $p: $after"; esac
			n=$(echo " $after " | tr ' ' '\n' | grep -c -x -F "$p")
			[ "$n" -eq 1 ] && ok || bad "$name: $p appears $n times"
		done
	fi
	ib=$(initrd_view "$2") ia=$(initrd_view "$3")
	case "$ia" in
	"MODULES=vfio_pci vfio vfio_iommu_type1"*|*"force_drivers=vfio_pci vfio vfio_iommu_type1"*) ok ;;
	"") ;;
	*) bad "$name: the initramfs does not load vfio first: $ia" ;;
	esac
	# the user's own MODULES are all still there, in order, after ours
	mb=$(echo "$ib" | sed -n 's/^MODULES=\(.*\) FILES=.*/\1/p')
	ma=$(echo "$ia" | sed -n 's/^MODULES=\(.*\) FILES=.*/\1/p')
	if [ -n "$mb" ]; then
		case "$ma" in *" $mb") ok ;; *) bad "$name: MODULES lost '$mb': $ma" ;; esac
	fi
}

# ---------------------------------------------------------------- apply, again, revert
# flow ROOT MACHINE EXPECTED-CALLS...: each boot setup end to end
flow() {
	rootname=$1 machine=$2
	shift 2
	r=$(fresh "$rootname")
	snap "$r" > "$tmp/orig.snap"
	: > "$STANDIN_LOG"
	expect_rc 0 "$rootname: apply" nctl "$machine" "$r" vfio apply --yes
	contains "$rootname: apply" "$out" "Applied:"
	shell_check "$rootname" "$(fresh "$rootname")" "$r" "$(sed -n 's/^  kernel params: *//p' "$expected/$rootname--$machine.plan")"
	calls=$(cat "$STANDIN_LOG")
	want_calls=$(for c in "$@"; do echo "$c"; done)
	[ "$calls" = "$want_calls" ] && ok || { bad "$rootname: commands after apply"; echo "    got: $calls"; echo "    want: $want_calls"; }
	contains "$rootname: tool output streamed" "$out" "working on"
	expect_rc 0 "$rootname: plan after apply" nctl "$machine" "$r" vfio plan
	contains "$rootname: plan after apply" "$out" "Nothing to change"
	expect_rc 0 "$rootname: status" nctl "$machine" "$r" vfio status
	contains "$rootname: status" "$out" "configured for GPU"
	contains "$rootname: status, running kernel" "$out" "reboot"
	snap "$r" > "$tmp/applied.snap"
	: > "$STANDIN_LOG"
	expect_rc 0 "$rootname: apply again" nctl "$machine" "$r" vfio apply --yes
	contains "$rootname: apply again" "$out" "Nothing to change"
	[ -s "$STANDIN_LOG" ] && bad "$rootname: apply again ran commands" || ok
	same_tree "$rootname: apply again changes nothing" "$tmp/applied.snap" "$r"
	expect_rc 0 "$rootname: revert" nctl "$machine" "$r" vfio revert --yes
	same_tree "$rootname: revert is byte for byte" "$tmp/orig.snap" "$r"
	calls=$(cat "$STANDIN_LOG")
	[ "$calls" = "$want_calls" ] && ok || { bad "$rootname: commands after revert"; echo "    got: $calls"; }
	expect_rc 0 "$rootname: status after revert" nctl "$machine" "$r" vfio status
	contains "$rootname: status after revert" "$out" "not configured"
	expect_rc 1 "$rootname: revert twice" nctl "$machine" "$r" vfio revert --yes
	contains "$rootname: revert twice" "$out" "nothing to revert"
}

flow debian-grub-initramfs-tools intel-nvidia "update-initramfs -u -k all" "grub-mkconfig -o /boot/grub/grub.cfg"
flow debian-sdboot-kernel-install amd-navi-split-audio "update-initramfs -u -k all"
flow arch-grub-mkinitcpio intel-nvidia "mkinitcpio -P" "grub-mkconfig -o /boot/grub/grub.cfg"
flow arch-sdboot-mkinitcpio demo "mkinitcpio -P"
flow arch-uki-mkinitcpio amd-two-dgpu "mkinitcpio -P"
flow dracut-grub2-bls intel-nvidia "dracut --regenerate-all -f" "grub2-mkconfig -o /boot/grub2/grub.cfg"
flow kernel-install-uki-dracut amd-navi-split-audio "dracut --regenerate-all -f" \
	"kernel-install add 6.7.4-200.fc39.x86_64 /usr/lib/modules/6.7.4-200.fc39.x86_64/vmlinuz"
flow grub-user-edits amd-two-dgpu "update-initramfs -u -k all" "grub-mkconfig -o /boot/grub/grub.cfg"
flow grub-dropin-cloudimg intel-nvidia "update-initramfs -u -k all" "grub-mkconfig -o /boot/grub/grub.cfg"

# ---------------------------------------------------------------- confirmation
r=$(fresh arch-grub-mkinitcpio)
snap "$r" > "$tmp/orig.snap"
out=$(echo n | nctl intel-nvidia "$r" vfio apply 2>&1); rc=$?
[ "$rc" -eq 1 ] && ok || bad "apply answered no: exit $rc"
contains "apply answered no" "$out" "Apply these changes?"
same_tree "apply answered no changes nothing" "$tmp/orig.snap" "$r"
out=$(echo y | nctl intel-nvidia "$r" vfio apply 2>&1); rc=$?
[ "$rc" -eq 0 ] && ok || bad "apply answered yes: exit $rc"
out=$(echo n | nctl intel-nvidia "$r" vfio revert 2>&1); rc=$?
[ "$rc" -eq 1 ] && ok || bad "revert answered no: exit $rc"
contains "revert lists what it restores" "$out" "restore /etc/default/grub"

# the user edits a file after the apply: status and revert say so
printf '# mine\n' >> "$r/etc/default/grub"
expect_rc 0 "status sees a later edit" nctl intel-nvidia "$r" vfio status
contains "status sees a later edit" "$out" "/etc/default/grub  (changed since the apply)"
out=$(echo n | nctl intel-nvidia "$r" vfio revert 2>&1)
contains "revert warns about a later edit" "$out" "those changes go too"

# ---------------------------------------------------------------- the real runner: chroot
# No stand-ins: the commands run chrooted into the root, in a private mount namespace
# with /proc, /sys and /dev bound (read here, never written). The root gets /bin/sh and
# its libraries from this machine, and tools that report what they see.
if unshare -m true 2>/dev/null && [ -x /bin/dash ]; then
	r=$(fresh debian-grub-initramfs-tools)
	mkdir -p "$r/usr/bin" "$r/lib64" "$r/proc" "$r/sys" "$r/dev"
	cp /bin/dash "$r/usr/bin/sh"
	ln -s usr/bin "$r/bin"
	for lib in $(ldd /bin/dash | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		mkdir -p "$r/$(dirname "$lib")"
		cp -L "$lib" "$r/$lib"
	done
	printf 'target\n' > "$r/etc/hostname"
	for tool in update-initramfs grub-mkconfig; do
		cat > "$r/usr/sbin/$tool" <<'TOOL'
#!/bin/sh
read h < /etc/hostname
echo "$0 $*: inside $h"
[ -d /proc/self ] && echo "proc bound"
[ -c /dev/null ] && echo "dev bound"
[ -d /sys/bus ] && echo "sys bound"
exit 0
TOOL
		chmod 755 "$r/usr/sbin/$tool"
	done
	out=$("$NEURONCTL" --sysroot "$SYSROOTS/intel-nvidia" --root "$r" vfio apply --yes 2>&1); rc=$?
	[ "$rc" -eq 0 ] && ok || { bad "chroot runner: exit $rc"; echo "$out" | sed 's/^/    /' | head; }
	contains "chroot runner: inside the target" "$out" "/usr/sbin/update-initramfs -u -k all: inside target"
	contains "chroot runner: grub-mkconfig" "$out" "/usr/sbin/grub-mkconfig -o /boot/grub/grub.cfg: inside target"
	contains "chroot runner: /proc" "$out" "proc bound"
	contains "chroot runner: /dev" "$out" "dev bound"
	contains "chroot runner: /sys" "$out" "sys bound"
	# the binds lived in the command's own namespace: nothing is left mounted
	if grep -q "$r" /proc/self/mounts; then bad "chroot runner left a mount"; else ok; fi
	# and a revert leaves the root as it was, mount points included
	snap "$r" > "$tmp/chroot-applied.snap"
	expect_rc 0 "chroot runner: revert" "$NEURONCTL" --sysroot "$SYSROOTS/intel-nvidia" --root "$r" vfio revert --yes
	[ -z "$(ls -A "$r/proc")" ] && ok || bad "chroot runner: something was left in the root's /proc"
else
	echo "skip: chroot runner (no mount namespaces here)"
fi

# ---------------------------------------------------------------- regeneration failing / skipped
r=$(fresh arch-grub-mkinitcpio)
snap "$r" > "$tmp/orig.snap"
out=$(STANDIN_FAIL=mkinitcpio nctl intel-nvidia "$r" vfio apply --yes 2>&1); rc=$?
[ "$rc" -eq 1 ] && ok || bad "failing mkinitcpio: exit $rc"
contains "failing mkinitcpio: reported" "$out" "'mkinitcpio -P' failed (exit status 1)"
contains "failing mkinitcpio: its output streamed" "$out" "simulated failure"
contains "failing mkinitcpio: the way forward" "$out" "run 'neuronctl vfio apply' again"
expect_rc 0 "failing mkinitcpio: status" nctl intel-nvidia "$r" vfio status
contains "failing mkinitcpio: status says pending" "$out" "have not completed"
: > "$STANDIN_LOG"
expect_rc 0 "failing mkinitcpio: apply again" nctl intel-nvidia "$r" vfio apply --yes
[ "$(cat "$STANDIN_LOG")" = "$(printf 'mkinitcpio -P\ngrub-mkconfig -o /boot/grub/grub.cfg')" ] && ok ||
	bad "failing mkinitcpio: apply again reran $(cat "$STANDIN_LOG")"
expect_rc 0 "failing mkinitcpio: status after" nctl intel-nvidia "$r" vfio status
lacks "failing mkinitcpio: nothing pending" "$out" "have not completed"
out=$(STANDIN_FAIL=grub-mkconfig nctl intel-nvidia "$r" vfio revert --yes 2>&1); rc=$?
[ "$rc" -eq 1 ] && ok || bad "failing grub-mkconfig in revert: exit $rc"
contains "failing grub-mkconfig in revert: way forward" "$out" "run 'neuronctl vfio revert' again"
expect_rc 0 "failing grub-mkconfig in revert: status" nctl intel-nvidia "$r" vfio status
contains "failing grub-mkconfig in revert: status" "$out" "a revert was interrupted"
expect_rc 0 "revert after a failed command" nctl intel-nvidia "$r" vfio revert --yes
same_tree "revert after a failed command" "$tmp/orig.snap" "$r"

r=$(fresh debian-grub-initramfs-tools)
: > "$STANDIN_LOG"
expect_rc 0 "--no-regenerate" nctl intel-nvidia "$r" vfio apply --yes --no-regenerate
[ -s "$STANDIN_LOG" ] && bad "--no-regenerate ran a command" || ok
expect_rc 0 "--no-regenerate: status" nctl intel-nvidia "$r" vfio status
contains "--no-regenerate: status" "$out" "have not completed"

# ---------------------------------------------------------------- status and the running kernel
r=$(fresh arch-grub-mkinitcpio)
expect_rc 0 "status, nothing configured, vfio-pci bound" nctl vfio-bound "$r" vfio status
contains "status, set up by other means" "$out" "not configured by neuronctl"
contains "status, running kernel bound" "$out" "vfio-pci has 0000:01:00.0 0000:01:00.1"
contains "status, by other means" "$out" "set up by other means"
expect_rc 0 "apply for the bound machine" nctl intel-nvidia "$r" vfio apply --yes
expect_rc 0 "status after reboot" nctl vfio-bound "$r" vfio status --json
contains "status json: configured" "$out" '"state": "configured"'
contains "status json: all bound" "$out" '"all_bound": true'
contains "status json: iommu params" "$out" '"iommu_params": true'
expect_rc 0 "status before reboot" nctl intel-nvidia "$r" vfio status --json
contains "status json before reboot" "$out" '"all_bound": false'

# ---------------------------------------------------------------- crash points
# crash ROOT MACHINE: stop apply after each of its steps; status reports it, then
# apply finishes it (all new) or revert rolls it back (all original), byte for byte.
crash() {
	rootname=$1 machine=$2
	r=$(fresh "$rootname")
	snap "$r" > "$tmp/orig-$rootname.snap"
	nctl "$machine" "$r" vfio apply --yes > /dev/null 2>&1
	snap "$r" > "$tmp/applied-$rootname.snap"
	n=1
	while [ "$n" -lt 40 ]; do
		for way in apply revert; do
			r=$(fresh "$rootname")
			out=$(NEURON_FAULT_AFTER=$n nctl "$machine" "$r" vfio apply --yes 2>&1); rc=$?
			if [ "$rc" -eq 0 ]; then
				[ "$n" -gt 5 ] && ok || bad "$rootname: apply finished after only $n steps"
				return
			fi
			contains "$rootname: stop at $n" "$out" "stopped by NEURON_FAULT_AFTER=$n"
			st=$(nctl "$machine" "$r" vfio status 2>&1)
			case "$st" in
			*"an apply was interrupted"*|*"have not completed"*) ok ;;
			*"An apply stopped before it recorded anything"*)
				# stopped between staging its journal and renaming it into place
				[ "$n" -eq 1 ] && ok || bad "$rootname: nothing recorded after step $n" ;;
			*"configured for GPU"*)
				# stopped after the very last step: nothing is left to finish
				same_tree "$rootname: complete at the last step $n" "$tmp/applied-$rootname.snap" "$r" ;;
			*) bad "$rootname: status after a stop at step $n"; echo "$st" | sed 's/^/    /' ;;
			esac
			expect_rc 0 "$rootname: $way after a stop at $n" nctl "$machine" "$r" vfio "$way" --yes
			same_tree "$rootname: $way after a stop at step $n" "$tmp/$( [ $way = apply ] && echo applied || echo orig)-$rootname.snap" "$r"
		done
		n=$((n + 1))
	done
	bad "$rootname: apply never finished"
}
crash arch-grub-mkinitcpio intel-nvidia
# under ASan one root is enough here: test_plan stops the engine at every step too
if [ "${NEURON_ASAN:-}" != 1 ]; then
	crash debian-sdboot-kernel-install amd-navi-split-audio
	crash arch-sdboot-mkinitcpio demo
fi

# a revert stopped half-way: status says so, revert again finishes it
r=$(fresh debian-grub-initramfs-tools)
snap "$r" > "$tmp/orig.snap"
nctl intel-nvidia "$r" vfio apply --yes > /dev/null 2>&1
n=1
while [ "$n" -lt 12 ]; do
	rr="$tmp/revert-stop-$n"
	cp -a "$r" "$rr"
	out=$(NEURON_FAULT_AFTER=$n nctl intel-nvidia "$rr" vfio revert --yes 2>&1); rc=$?
	[ "$rc" -eq 0 ] && break
	st=$(nctl intel-nvidia "$rr" vfio status 2>&1)
	case "$st" in
	*"a revert was interrupted. Run 'neuronctl vfio revert' to finish it"*) ok ;;
	*"not configured"*)
		# stopped after its very last step: done already
		same_tree "revert stopped after its last step $n" "$tmp/orig.snap" "$rr"
		n=$((n + 1))
		continue ;;
	*) bad "status after a revert stopped at $n"; echo "$st" | sed 's/^/    /' ;;
	esac
	: > "$STANDIN_LOG"
	expect_rc 0 "revert again after a stop at $n" nctl intel-nvidia "$rr" vfio revert --yes
	same_tree "revert again after a stop at $n" "$tmp/orig.snap" "$rr"
	# the regeneration always follows the restored files, even after a stop
	[ "$(cat "$STANDIN_LOG")" = "$(printf 'update-initramfs -u -k all\ngrub-mkconfig -o /boot/grub/grub.cfg')" ] && ok ||
		bad "revert again after a stop at $n ran: $(cat "$STANDIN_LOG")"
	n=$((n + 1))
done
[ "$n" -gt 8 ] && ok || bad "revert finished after only $n steps"


# ---------------------------------------------------------------- promises (issue 14)
# Each of these failed before its fix.

# Two GPUs, an apply stopped at step 4, finished by the advised 'vfio apply --yes' (which
# would plan one GPU by itself): it ends as the uninterrupted apply of both, and the
# notes the plan had are said again.
r0=$(fresh grub-dropin-cloudimg)
nctl two-identical "$r0" vfio apply --gpu 02:00.0 --gpu 01:00.0 --force --yes > /dev/null 2>&1
snap "$r0" > "$tmp/two-applied.snap"
r=$(fresh grub-dropin-cloudimg)
plan_out=$(nctl two-identical "$r" vfio plan --gpu 02:00.0 --gpu 01:00.0 --force 2>&1)
expect_rc 1 "two GPUs: stopped" env NEURON_FAULT_AFTER=4 "$NEURONCTL" --sysroot "$SYSROOTS/two-identical" \
	--root "$r" --param run.standins="$standins" vfio apply --gpu 02:00.0 --gpu 01:00.0 --force --yes
expect_rc 0 "two GPUs: status" nctl two-identical "$r" vfio status
contains "two GPUs: status says interrupted" "$out" "an apply was interrupted"
expect_rc 0 "two GPUs: the advised apply finishes it" nctl two-identical "$r" vfio apply --yes
finish_out=$out
echo "$plan_out" | sed -n '/^Notes:/,$s/^  - //p' > "$tmp/notes"
[ -s "$tmp/notes" ] || bad "two GPUs: the plan has no note to carry"
while IFS= read -r note; do contains "two GPUs: no note lost" "$finish_out" "note: $note"; done < "$tmp/notes"
expect_rc 0 "two GPUs: status after" nctl two-identical "$r" vfio status
contains "two GPUs: configured for both" "$out" "configured for GPU 0000:02:00.0 0000:01:00.0"
same_tree "two GPUs: as the uninterrupted apply" "$tmp/two-applied.snap" "$r"
# the TUI's finish key does the same
if [ -x "$BUILD/neuron-tui" ]; then
	# (the demo's stand-ins are mkinitcpio's and grub-mkconfig's: an Arch root)
	r=$(fresh arch-grub-mkinitcpio)
	NEURON_FAULT_AFTER=4 nctl two-identical "$r" vfio apply --gpu 02:00.0 --gpu 01:00.0 --force --yes > /dev/null 2>&1
	printf 'key F2\nkey f\nwait\ndump finished\n' > "$tmp/finish.keys"
	NEURON_DEMO_SYSROOT="$SYSROOTS/demo" LC_ALL=C "$BUILD/neuron-tui" --demo --sysroot "$SYSROOTS/two-identical" \
		--root "$r" --test-script "$tmp/finish.keys" --test-dump "$tmp/finish.dump" 2> "$tmp/tui.err"
	grep -q "The passthrough set-up is in place for GPU 0000:02:00.0 0000:01:00.0\|Finishing the interrupted apply: done" \
		"$tmp/finish.dump" && ok || { bad "two GPUs: the TUI's finish key"; cat "$tmp/finish.dump" "$tmp/tui.err"; }
	expect_rc 0 "two GPUs, TUI: status" nctl two-identical "$r" vfio status
	contains "two GPUs, TUI: configured for both" "$out" "configured for GPU 0000:02:00.0 0000:01:00.0"
	cmp -s "$r/etc/modprobe.d/vfio.conf" "$r0/etc/modprobe.d/vfio.conf" && ok ||
		bad "two GPUs, TUI: vfio.conf is not the one of both GPUs"
fi

# A missing backup outside an apply that stopped: revert refuses, keeps everything, says
# what is missing and what to do (it used to report success and leave GRUB changed).
r=$(fresh arch-grub-mkinitcpio)
nctl intel-nvidia "$r" vfio apply --yes > /dev/null 2>&1
rm "$r/var/lib/neuron/backup/vfio/etc/default/grub"
snap "$r" > "$tmp/before.snap"
expect_rc 1 "missing backup: revert refuses" nctl intel-nvidia "$r" vfio revert --yes
contains "missing backup: what is missing" "$out" "the original of /etc/default/grub is missing"
contains "missing backup: what to do" "$out" "Put the original back there"
same_tree "missing backup: journal and backups kept, nothing changed" "$tmp/before.snap" "$r"

# A journal entry that leaves the root: refused by status and revert, nothing read outside.
r=$(fresh arch-grub-mkinitcpio)
nctl intel-nvidia "$r" vfio apply --yes > /dev/null 2>&1
printf 'outside\n' > "$tmp/outside-file"
echo "file R 0000000000000000 ../../../../../../../../..$tmp/outside-file" >> "$r/var/lib/neuron/plans/vfio.journal"
snap "$r" > "$tmp/before.snap"
expect_rc 1 "journal leaving the root: status" nctl intel-nvidia "$r" vfio status
contains "journal leaving the root: status says why" "$out" "not a path inside the target root"
expect_rc 1 "journal leaving the root: revert" nctl intel-nvidia "$r" vfio revert --yes
same_tree "journal leaving the root: kept" "$tmp/before.snap" "$r"
[ "$(cat "$tmp/outside-file")" = outside ] && ok || bad "journal leaving the root: the outside file changed"

# Reads are confined like writes: backups or plans behind a symlink out of the root.
r=$(fresh arch-grub-mkinitcpio)
nctl intel-nvidia "$r" vfio apply --yes > /dev/null 2>&1
mv "$r/var/lib/neuron/backup" "$tmp/outside-backup"
printf 'OUTSIDE BYTES\n' > "$tmp/outside-backup/vfio/etc/default/grub"
ln -s "$tmp/outside-backup" "$r/var/lib/neuron/backup"
expect_rc 1 "backups through a symlink: revert refuses" nctl intel-nvidia "$r" vfio revert --yes
contains "backups through a symlink: says why" "$out" "backup is a symbolic link where a directory was expected"
grep -q "OUTSIDE BYTES" "$r/etc/default/grub" && bad "backups through a symlink: outside bytes copied in" || ok
r=$(fresh arch-grub-mkinitcpio)
nctl intel-nvidia "$r" vfio apply --yes > /dev/null 2>&1
mv "$r/var/lib/neuron/plans" "$tmp/outside-plans"
ln -s "$tmp/outside-plans" "$r/var/lib/neuron/plans"
expect_rc 1 "journal through a symlink: status refuses" nctl intel-nvidia "$r" vfio status
contains "journal through a symlink: says why" "$out" "symbolic link"
lacks "journal through a symlink: nothing read" "$out" "configured for GPU"
expect_rc 1 "journal through a symlink: revert refuses" nctl intel-nvidia "$r" vfio revert --yes

# FIFOs where files are expected: refused at once, never waited on (timeout says 124).
fifo_check() { # NAME ROOT-NAME MACHINE PATH-IN-ROOT SUBCOMMAND...
	name=$1 rn=$2 m=$3 path=$4
	shift 4
	r=$(fresh "$rn")
	rm -f "$r/$path"
	mkfifo "$r/$path"
	expect_rc 1 "FIFO $name: $*" timeout 20 "$NEURONCTL" --sysroot "$SYSROOTS/$m" --root "$r" \
		--param run.standins="$standins" "$@"
	contains "FIFO $name: named" "$out" "FIFO"
}
fifo_check grub arch-grub-mkinitcpio intel-nvidia etc/default/grub vfio plan
fifo_check grub arch-grub-mkinitcpio intel-nvidia etc/default/grub vfio apply --yes
fifo_check mkinitcpio.conf arch-grub-mkinitcpio intel-nvidia etc/mkinitcpio.conf vfio plan
fifo_check "loader entry" arch-sdboot-mkinitcpio demo boot/loader/entries/arch.conf vfio plan
r=$(fresh arch-grub-mkinitcpio)
nctl intel-nvidia "$r" vfio apply --yes > /dev/null 2>&1
rm "$r/var/lib/neuron/plans/vfio.journal"
mkfifo "$r/var/lib/neuron/plans/vfio.journal"
for sub in status "revert --yes" "apply --yes"; do
	# shellcheck disable=SC2086
	expect_rc 1 "FIFO journal: $sub" timeout 20 "$NEURONCTL" --sysroot "$SYSROOTS/intel-nvidia" --root "$r" \
		--param run.standins="$standins" vfio $sub
	contains "FIFO journal: $sub names it" "$out" "FIFO"
done

# NUL bytes and a 2 GiB sparse file: refused with the reason, nothing read whole, no backup.
r=$(fresh arch-grub-mkinitcpio)
printf 'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n\000GRUB_TIMEOUT=5\n' > "$r/etc/default/grub"
snap "$r" > "$tmp/before.snap"
expect_rc 1 "NUL byte: refused" nctl intel-nvidia "$r" vfio apply --yes
contains "NUL byte: where" "$out" "/etc/default/grub:2 has a NUL byte"
same_tree "NUL byte: nothing written" "$tmp/before.snap" "$r"
r=$(fresh arch-grub-mkinitcpio)
truncate -s 2G "$r/etc/default/grub"
snap "$r" > "$tmp/before.snap"
expect_rc 1 "2 GiB sparse file: refused" timeout 60 "$NEURONCTL" --sysroot "$SYSROOTS/intel-nvidia" --root "$r" \
	--param run.standins="$standins" vfio apply --yes
contains "2 GiB sparse file: why" "$out" "2147483648 bytes, more than"
same_tree "2 GiB sparse file: nothing written" "$tmp/before.snap" "$r"

# Unbalanced quotes or an unclosed '(': refused with file:line and what is open.
r=$(fresh kernel-install-uki-dracut)
printf 'root=UUID=1e2f rootflags="subvol=@ quiet\n' > "$r/etc/kernel/cmdline"
expect_rc 1 "unbalanced /etc/kernel/cmdline" nctl amd-navi-split-audio "$r" vfio plan
contains "unbalanced /etc/kernel/cmdline: where" "$out" "/etc/kernel/cmdline:1: a double quote opened at column 26 is never closed"
r=$(fresh arch-grub-mkinitcpio)
sed -i 's/^GRUB_CMDLINE_LINUX_DEFAULT="loglevel=3 quiet"/GRUB_CMDLINE_LINUX_DEFAULT="loglevel=3 quiet/' "$r/etc/default/grub"
line=$(grep -n '^GRUB_CMDLINE_LINUX_DEFAULT' "$r/etc/default/grub" | cut -d: -f1)
expect_rc 1 "unbalanced GRUB" nctl intel-nvidia "$r" vfio plan
contains "unbalanced GRUB: where" "$out" "/etc/default/grub:$line: a double quote opened at column 28 runs past the end of its line"
r=$(fresh arch-sdboot-mkinitcpio)
sed -i 's/^options .*/& acpi_osi=(Linux/' "$r/boot/loader/entries/arch.conf"
expect_rc 1 "unbalanced loader entry" nctl demo "$r" vfio plan
contains "unbalanced loader entry: where" "$out" "/boot/loader/entries/arch.conf:"
contains "unbalanced loader entry: what" "$out" "a '(' opened at column"

# Directories apply makes do not follow the caller's umask.
r=$(fresh arch-grub-mkinitcpio)
(umask 077 && nctl intel-nvidia "$r" vfio apply --yes > /dev/null 2>&1)
for d in var var/lib var/lib/neuron var/lib/neuron/plans var/lib/neuron/backup var/lib/neuron/backup/vfio/etc; do
	[ "$(stat -c %a "$r/$d")" = 755 ] && ok || bad "umask 077: $d is $(stat -c %a "$r/$d"), want 755"
done

# Rescue: an absolute symlink inside the target is read as the target sees it.
r=$(fresh arch-grub-mkinitcpio)
mv "$r/etc/default/grub" "$r/etc/default/grub.real"
ln -s /etc/default/grub.real "$r/etc/default/grub"
snap "$r" > "$tmp/before.snap"
expect_rc 0 "absolute symlink in the target: apply" nctl intel-nvidia "$r" vfio apply --yes
grep -q 'intel_iommu=on iommu=pt' "$r/etc/default/grub.real" && ok || bad "absolute symlink: grub.real not edited"
[ "$(readlink "$r/etc/default/grub")" = /etc/default/grub.real ] && ok || bad "absolute symlink: the link changed"
expect_rc 0 "absolute symlink in the target: revert" nctl intel-nvidia "$r" vfio revert --yes
same_tree "absolute symlink in the target: revert" "$tmp/before.snap" "$r"

# The loser of two concurrent applies says only that it lost.
r=$(fresh arch-grub-mkinitcpio)
NEURON_FAULT_AFTER=3 nctl intel-nvidia "$r" vfio apply --yes > /dev/null 2>&1
flock "$r" sleep 30 &
holder=$!
i=0
while [ $i -lt 50 ] && flock -n "$r" true; do sleep 0.1; i=$((i + 1)); done
expect_rc 1 "concurrent apply: the loser" nctl intel-nvidia "$r" vfio apply --yes
contains "concurrent apply: BUSY" "$out" "another neuronctl is changing"
lacks "concurrent apply: nothing misleading" "$out" "finishing"
lacks "concurrent apply: nothing misleading (2)" "$out" "interrupted"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null

# Devices the host needs are refused with --include-group unless named one by one.
r=$(fresh arch-grub-mkinitcpio)
expect_rc 1 "host devices: refused" nctl shared-group "$r" vfio plan --gpu 1f:00.0 --include-group
contains "host devices: the root disk's controller" "$out" "0000:03:00.1 holds the root file system (/dev/sda2"
contains "host devices: the only network card" "$out" "0000:22:00.0 is the host's only network interface (enp34s0)"
contains "host devices: the keyboard" "$out" "0000:03:00.0 has the host's only keyboard (Logitech USB Keyboard)"
contains "host devices: the way forward" "$out" "--include-device"
expect_rc 1 "host devices: two of three named" nctl shared-group "$r" vfio plan --gpu 1f:00.0 --include-group \
	--include-device 03:00.1 --include-device 22:00.0
contains "host devices: the third still refused" "$out" "0000:03:00.0 has the host's only keyboard"
lacks "host devices: the named ones pass" "$out" "0000:03:00.1 holds"
expect_rc 0 "host devices: all named" nctl shared-group "$r" vfio plan --gpu 1f:00.0 --include-group \
	--include-device 03:00.1 --include-device 22:00.0 --include-device 03:00.0
contains "host devices: said in the plan" "$out" "0000:03:00.1 is a device the host needs"
expect_rc 1 "host devices: a device not in the plan" nctl shared-group "$r" vfio plan --gpu 1f:00.0 --include-group \
	--include-device 26:00.0

# A read-only /boot: the hint names that mount, not the root.
r=$(fresh arch-sdboot-mkinitcpio)
if unshare -m sh -c "mount --bind '$r/boot' '$r/boot' && mount -o remount,bind,ro '$r/boot'" 2>/dev/null; then
	out=$(unshare -m sh -c "mount --bind '$r/boot' '$r/boot' && mount -o remount,bind,ro '$r/boot' &&
		'$NEURONCTL' --sysroot '$SYSROOTS/demo' --root '$r' --param run.standins='$standins' vfio apply --yes" 2>&1)
	contains "read-only /boot: names the mount" "$out" "on the read-only mount $r/boot;"
	contains "read-only /boot: the command" "$out" "mount -o remount,rw $r/boot)"
else
	echo "skip: read-only /boot (no mount namespaces here)"
fi

# A full file system: before the journal, nothing is left and the way forward is said;
# after it, apply says how to finish; a revert needs no free space at all.
if unshare -m true 2>/dev/null; then
	r=$(fresh arch-grub-mkinitcpio)
	mkdir -p "$r/var/lib"
	snap "$r" > "$tmp/before.snap"
	out=$(unshare -m sh -c "mount -t tmpfs -o size=16k tmpfs '$r/var/lib' &&
		dd if=/dev/zero of='$r/var/lib/filler' bs=4k count=64 2>/dev/null
		'$NEURONCTL' --sysroot '$SYSROOTS/intel-nvidia' --root '$r' --param run.standins='$standins' vfio apply --yes
		echo \"rc=\$?\"; rm -f '$r/var/lib/filler'; echo \"left: [\$(ls -A '$r/var/lib')]\"" 2>&1)
	contains "ENOSPC before the journal: fails" "$out" "rc=1"
	contains "ENOSPC before the journal: says so" "$out" "No space left on device"
	contains "ENOSPC before the journal: nothing changed" "$out" "nothing was changed"
	contains "ENOSPC before the journal: way forward" "$out" "free some space"
	contains "ENOSPC before the journal: nothing left" "$out" "left: []"
	lacks "ENOSPC before the journal: no finish to advise" "$out" "to finish"
	same_tree "ENOSPC before the journal: the root as it was" "$tmp/before.snap" "$r"

	# /etc on a full file system of its own: the apply stops part-way and says how to go on
	r=$(fresh arch-grub-mkinitcpio)
	m=$tmp/full-etc
	mkdir -p "$m"
	out=$(unshare -m sh -c "mount -t tmpfs -o size=4m tmpfs '$m' && cp -a '$r/.' '$m/' &&
		mount -t tmpfs -o size=64k tmpfs '$m/etc' && cp -a '$r/etc/.' '$m/etc/' &&
		dd if=/dev/zero of='$m/etc/filler' bs=4k count=64 2>/dev/null
		N='$NEURONCTL --sysroot $SYSROOTS/intel-nvidia --root $m --param run.standins=$standins'
		\$N vfio apply --yes; echo \"apply=\$?\"
		\$N vfio status
		rm -f '$m/etc/filler'
		\$N vfio apply --yes; echo \"finish=\$?\"
		\$N vfio status" 2>&1)
	contains "ENOSPC mid-apply: fails" "$out" "apply=1"
	contains "ENOSPC mid-apply: part-way" "$out" "the apply stopped part-way"
	contains "ENOSPC mid-apply: way forward" "$out" "when there is space again, run 'neuronctl vfio apply' to finish"
	contains "ENOSPC mid-apply: status" "$out" "an apply was interrupted"
	contains "ENOSPC mid-apply: finished" "$out" "finish=0"
	contains "ENOSPC mid-apply: configured" "$out" "configured for GPU 0000:01:00.0"

	# a revert on a file system with no byte free: it starts, and completes
	r=$(fresh arch-grub-mkinitcpio)
	m=$tmp/full-root
	mkdir -p "$m"
	out=$(unshare -m sh -c "mount -t tmpfs -o size=4m tmpfs '$m' && cp -a '$r/.' '$m/' &&
		N='$NEURONCTL --sysroot $SYSROOTS/intel-nvidia --root $m --param run.standins=$standins'
		\$N vfio apply --yes > /dev/null; echo \"apply=\$?\"
		dd if=/dev/zero of='$m/filler' bs=4k count=2000 2>/dev/null
		echo \"free: \$(df --output=avail '$m' | tail -n 1 | tr -d ' ')\"
		\$N vfio revert --yes; echo \"revert=\$?\"
		rm -f '$m/filler'
		cd '$m' && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum > '$tmp/full.sums'" 2>&1)
	contains "ENOSPC: applied first" "$out" "apply=0"
	contains "ENOSPC: the file system is full" "$out" "free: 0"
	contains "ENOSPC: revert on a full file system" "$out" "revert=0"
	(cd "$r" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum) > "$tmp/orig.sums"
	cmp -s "$tmp/orig.sums" "$tmp/full.sums" && ok || { bad "ENOSPC: revert is byte for byte"; diff "$tmp/orig.sums" "$tmp/full.sums" | head; }
else
	echo "skip: full file systems (no mount namespaces here)"
fi

# kill -9 before the journal is in place (NEURON_FAULT_AFTER=1 stops right there): status
# says what was left, and the advised revert makes the root byte-identical again.
r=$(fresh arch-grub-mkinitcpio)
snap "$r" > "$tmp/before.snap"
expect_rc 1 "stopped before the journal" env NEURON_FAULT_AFTER=1 "$NEURONCTL" --sysroot "$SYSROOTS/intel-nvidia" \
	--root "$r" --param run.standins="$standins" vfio apply --yes
expect_rc 0 "stopped before the journal: status" nctl intel-nvidia "$r" vfio status
contains "stopped before the journal: status says" "$out" "An apply stopped before it recorded anything"
contains "stopped before the journal: the advice" "$out" "Run 'neuronctl vfio revert' to remove it"
expect_rc 0 "stopped before the journal: revert" nctl intel-nvidia "$r" vfio revert --yes
same_tree "stopped before the journal: byte-identical again" "$tmp/before.snap" "$r"

summary vfio
