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
golden arch-grub-mkinitcpio--shared-group-include.plan arch-grub-mkinitcpio shared-group --gpu 1f:00.0 --include-group
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
expect_rc 1 "IOMMU off" nctl iommu-off "$r" vfio apply --yes
contains "IOMMU off" "$out" "IOMMU is off"
contains "IOMMU off: way forward" "$out" "intel_iommu=on"
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

summary vfio
