#!/bin/sh
# Single-GPU passthrough through neuronctl, on a copy of the single-gpu fixture machine with
# the consoles, efifb and a display manager (a systemctl stand-in whose units are files):
#  - gpu handoff --dry-run: the steps and the warning, nothing changed;
#  - gpu restore with nothing recorded (what the boot unit runs every boot);
#  - gpu hook install / revert under --root: the hook's bytes and mode, a second install that
#    changes nothing, the revert back to the same tree; beside someone else's hook;
#  - gpu hook run as libvirt calls it: a VM without the boot GPU is left alone; a hand-off that
#    fails part-way (this fake sysroot's files are no kernel) gives everything back and says so.
# The steps themselves, fault by fault, are tests/unit/test_single.c.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
: "${BUILD:?}" "${NEURONCTL:?}" "${SYSROOTS:?}"
. "$(dirname "$0")/../lib.sh"
scratch
show=$tmp/show
bound=60

sr=$tmp/sr root=$tmp/root
cp -a "$SYSROOTS/single-gpu" "$sr"
(cd "$sr" && mkdir -p sys/bus/pci/drivers/vfio-pci sys/class/vtconsole/vtcon0 sys/class/vtconsole/vtcon1 \
	sys/bus/platform/drivers/efi-framebuffer proc &&
	: >sys/bus/pci/drivers_probe && for d in sys/bus/pci/drivers/*; do : >"$d/bind"; : >"$d/unbind"; done &&
	: >sys/bus/platform/drivers/efi-framebuffer/bind && : >sys/bus/platform/drivers/efi-framebuffer/unbind &&
	ln -s ../../../../devices/platform/efi-framebuffer.0 sys/bus/platform/drivers/efi-framebuffer/efi-framebuffer.0 &&
	echo 1 >sys/class/vtconsole/vtcon0/bind && echo '(S) dummy device' >sys/class/vtconsole/vtcon0/name &&
	echo 1 >sys/class/vtconsole/vtcon1/bind && echo '(M) frame buffer device' >sys/class/vtconsole/vtcon1/name)
mkdir -p "$root/etc/systemd/system" "$root/usr/lib/systemd/system" "$root/run/units" "$tmp/standins"
: >"$root/usr/lib/systemd/system/sddm.service"
ln -s /usr/lib/systemd/system/sddm.service "$root/etc/systemd/system/display-manager.service"
echo active >"$root/run/units/sddm.service"
cat >"$tmp/standins/systemctl" <<'SH'
#!/bin/sh
echo "systemctl $*" >>"$NEURON_ROOT/../commands.log"
[ "$1" = --user ] && shift 3
f="$NEURON_ROOT/run/units/$2"
case $1 in
is-active) [ "$(cat "$f" 2>/dev/null)" = active ] ;;
stop) [ ! -e "$f" ] || echo inactive >"$f" ;;
start) [ -e "$f" ] && echo active >"$f" ;;
esac
SH
chmod +x "$tmp/standins/systemctl"
opts="--sysroot $sr --root $root --connect test:///default --param run.standins=$tmp/standins --param runtime_dir=$tmp/run"
snap() { (cd "$tmp" && find sr root -printf '%p %m %l\n' | sort && find sr root -type f -exec md5sum {} + | sort); }
snap >"$tmp/before"

# ---- the hand-off, shown -------------------------------------------------------------------
golden handoff-dry-run $opts gpu handoff 09:00.0 --dry-run
snap >"$tmp/after"
check "handoff --dry-run changes nothing" cmp -s "$tmp/before" "$tmp/after"
golden handoff-not-a-gpu $opts gpu handoff 09:00.1 --dry-run
golden handoff-refused-unanswered $opts gpu handoff 09:00.0 </dev/null

# ---- restore with nothing recorded -----------------------------------------------------------
golden restore-nothing $opts gpu restore

# ---- libvirt's hook ----------------------------------------------------------------------------
golden hook-install-dry-run $opts gpu hook install --dry-run
golden hook-install $opts gpu hook install --yes
hook=$root/etc/libvirt/hooks/qemu
check "the hook is executable" test "$(stat -c %a "$hook")" = 755
check "the hook runs neuronctl gpu hook run" grep -qx 'exec neuronctl gpu hook run "$@"' "$hook"
golden hook-install-again $opts gpu hook install --yes
golden hook-revert $opts gpu hook revert --yes
snap >"$tmp/after"
check "hook revert: the root is as it was" cmp -s "$tmp/before" "$tmp/after"
# beside another program's hook, which stays as it is
mkdir -p "$root/etc/libvirt/hooks"
printf '#!/bin/sh\n# VFIO-Tools hook manager\n' >"$hook"
chmod 755 "$hook"
snap >"$tmp/before-foreign"
golden hook-install-beside $opts gpu hook install --yes
check "the other hook is untouched" grep -q VFIO-Tools "$hook"
check "ours is in qemu.d" test -x "$root/etc/libvirt/hooks/qemu.d/neuron-single"
golden hook-revert-beside $opts gpu hook revert --yes
snap >"$tmp/after"
check "hook revert beside: the root is as it was" cmp -s "$tmp/before-foreign" "$tmp/after"
rm -r "$root/etc/libvirt"

# ---- the hook as libvirt runs it ---------------------------------------------------------------
xml() { printf "<domain type='kvm'><name>%s</name><devices>%s</devices></domain>" "$1" "$2"; }
hostdev() { printf "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x%s' slot='0x00' function='0x%s'/></source></hostdev>" "$1" "$2"; }
xml other "" >"$tmp/other.xml"
golden hook-run-other $opts gpu hook run other prepare begin - <"$tmp/other.xml"
xml win "$(hostdev 09 0)$(hostdev 09 1)" >"$tmp/win.xml"
golden hook-run-started $opts gpu hook run win started begin - <"$tmp/win.xml"
golden hook-run-release-nothing $opts gpu hook run win release end - <"$tmp/win.xml"
# A prepare on these files: the consoles and the display manager go, then the framebuffer
# stays (no kernel unbinds it here): the hook fails, libvirt does not start the VM, and
# everything already done is undone.
rm -f "$tmp/commands.log"
golden hook-run-prepare-fails $opts gpu hook run win prepare begin - <"$tmp/win.xml"
check "the display manager stand-in runs again" test "$(cat "$root/run/units/sddm.service")" = active
check "the console is bound again" test "$(cat "$sr/sys/class/vtconsole/vtcon1/bind")" = 1
check "nothing is recorded" test ! -e "$root/var/lib/neuron/plans/single.journal"
golden_check hook-run-prepare-commands "$tmp/commands.log" "the commands of a failed prepare"

# ---- a crash in the middle of a hand-off, then gpu restore (what the boot unit runs) -----------
snap >"$tmp/before"
# stopped right after the display manager went (journal, applying, the unit): as a power cut would
NEURON_FAULT_AFTER=3 "$NEURONCTL" $opts gpu handoff 09:00.0 --yes >"$show" 2>&1
check "the stopped hand-off says so" grep -q 'stopped by NEURON_FAULT_AFTER=3' "$show"
check "the display manager stand-in is stopped" test "$(cat "$root/run/units/sddm.service")" = inactive
golden restore-after-crash-dry-run $opts gpu restore --dry-run
golden restore-after-crash $opts gpu restore
snap >"$tmp/after"
check "gpu restore after a crash: the tree is as it was" cmp -s "$tmp/before" "$tmp/after"
golden restore-after-crash-again $opts gpu restore
# the watchdog of a VM that never comes up (none of that name here), with a limit of 0 s
NEURON_FAULT_AFTER=4 "$NEURONCTL" $opts gpu handoff 09:00.0 --yes >"$show" 2>&1
check "the console is unbound before the watchdog" test "$(cat "$sr/sys/class/vtconsole/vtcon1/bind")" = 0
golden watch-never-starts $opts --param single.start_s=0 gpu watch ghost
snap >"$tmp/after"
check "the watchdog gave everything back" cmp -s "$tmp/before" "$tmp/after"

# ---- vm start of a VM that holds the boot GPU ---------------------------------------------------
nodes="test://$here/node.xml"
vopts="--sysroot $sr --root $root --connect $nodes --param run.standins=$tmp/standins --param runtime_dir=$tmp/run"
golden vm-start-plain $vopts vm start plain
golden vm-start-asks $vopts vm start single </dev/null
snap >"$tmp/before"
# without the hook the hand-off runs here: on these files it stops at the framebuffer, is
# undone, and the VM is not started
golden vm-start-handoff-fails $vopts vm start single --yes
snap >"$tmp/after"
# (the control files hold the same writes as after the failed prepare above)
check "a failed hand-off at vm start leaves the tree as it was" cmp -s "$tmp/before" "$tmp/after"
check "the VM did not start" sh -c "'$NEURONCTL' --connect '$nodes' vm list | grep -q '^single  *shut off'"
# with the hook installed, libvirt's hook does it: vm start only asks and starts
"$NEURONCTL" $opts gpu hook install --yes >/dev/null
golden vm-start-hooked $vopts vm start single --yes

summary single
