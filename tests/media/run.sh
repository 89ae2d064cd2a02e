#!/bin/sh
# Each VM's guest-tools media (issue 16, part 1), through neuronctl on libvirt's test driver:
#  - vm create writes STATE/vm/NAME/guest-tools.iso with xorriso: read back with xorriso,
#    label NEURON_TOOLS, Joliet and Rock Ridge, the files and their modes; 0600 on the host,
#    its folders 0711; given to the user qemu.conf names;
#  - the guest's half of the credentials only: the extracted media holds neither the host's
#    nor the CA's private key, and its guest certificate is the one the host pins;
#  - setup.cmd installs the MSI silently with CERTS=<drive>\certs; setup.sh installs the agent,
#    its user unit, the udev rule and the credentials (run into a scratch DESTDIR);
#  - the domain XML has the read-only SATA CD-ROM (and validates); guest_tools: false has none;
#  - agent media remakes it (after agent certs --force: the new certificate); a stale bundle,
#    a missing MSI, a missing xorriso are said clearly; vm delete removes it.
set -u
: "${BUILD:?}" "${NEURONCTL:?}" "${SYSROOTS:?}"
. "$(dirname "$0")/../lib.sh"
scratch
show=$tmp/show
st=$tmp/state
N="$NEURONCTL --param state_dir=$st"
iso=$st/vm/win11/guest-tools.iso

# masks the date and sizes of xorriso's long listing: "MODE NAME"
iso_list() {
	xorriso -no_rc -indev "$1" -find / -exec lsdl 2>/dev/null | awk '{ print $1, $NF }'
}

# 1. vm create makes the media and the credentials, and says what to run in the guest
golden create --connect test:///default --sysroot "$SYSROOTS/intel-nvidia" --param "state_dir=$tmp/state" \
	vm create --profile config/profiles/windows11.yaml --set disk=none
check "the ISO exists" test -f "$iso"
check "the ISO is 0600" test "$(stat -c %a "$iso")" = 600
check "STATE/vm and STATE/vm/win11 are 0711 (QEMU passes, nobody lists)" \
	test "$(stat -c %a "$st/vm") $(stat -c %a "$st/vm/win11")" = "711 711"
# o+x: the last octal digit odd
check "STATE gets o+x, its agent/ folder stays 0700" \
	test "$(($(stat -c %a "$st" | rev | cut -c1) % 2)) $(stat -c %a "$st/agent")" = "1 700"
check "the credentials were made" test -f "$st/agent/win11/ca.key" -a -f "$st/agent/win11/bundle/guest.key"
# no temporary file or staging folder is left beside it
check "nothing but the ISO in STATE/vm/win11" test "$(ls -A "$st/vm/win11")" = guest-tools.iso

# 2. read back: label, Joliet, Rock Ridge, the files
xorriso -no_rc -indev "$iso" -pvd_info >"$show" 2>&1
output_has "the volume label is NEURON_TOOLS" "Volume Id    : NEURON_TOOLS"
if python3 - "$iso" <<'EOF'
import sys
# volume descriptors from sector 16: a supplementary one (type 2) with a UCS-2 escape is Joliet
with open(sys.argv[1], "rb") as f:
    for s in range(16, 32):
        f.seek(s * 2048)
        d = f.read(2048)
        if d[0] == 255:
            break
        if d[0] == 2 and d[1:6] == b"CD001" and d[88:91] in (b"%/@", b"%/C", b"%/E"):
            sys.exit(0)
sys.exit(1)
EOF
then ok "Joliet"; else bad "no Joliet volume descriptor"; fi
iso_list "$iso" >"$tmp/list"
{
	echo "drwxr-xr-x '/'"
	echo "-rw-r--r-- '/README.txt'"
	echo "drwxr-xr-x '/certs'"
	echo "-rw-r--r-- '/certs/ca.pem'"
	echo "-rw------- '/certs/guest.key'"
	echo "-rw-r--r-- '/certs/guest.pem'"
	echo "-rw-r--r-- '/certs/host.pem'"
	echo "drwxr-xr-x '/linux'"
	echo "-rw-r--r-- '/linux/70-neuron-agent.rules'"
	echo "-rwxr-xr-x '/linux/neuron-agent'"
	echo "-rw-r--r-- '/linux/neuron-agent.service'"
	echo "-rw-r--r-- '/setup.cmd'"
	echo "-rwxr-xr-x '/setup.sh'"
	if [ -f "$BUILD/win/neuron-agent.msi" ]; then
		echo "drwxr-xr-x '/windows'"
		echo "-rw-r--r-- '/windows/neuron-agent.msi'"
	fi
} >"$tmp/want"
# Rock Ridge: the names as written and the modes (guest.key 0600) come from its entries
if cmp -s "$tmp/want" "$tmp/list"; then ok "the media's files and Rock Ridge modes"; else
	bad "the media's files and modes"
	diff -u "$tmp/want" "$tmp/list" | head -30
fi

# 3. the extracted files: the agents as built, the guest's credentials, no private key of the
#    host or the CA anywhere
xorriso -no_rc -osirrox on -indev "$iso" -extract / "$tmp/x" >/dev/null 2>&1
chmod -R u+rwX "$tmp/x"
check "the Linux agent is the one built" cmp -s "$tmp/x/linux/neuron-agent" "$BUILD/neuron-agent"
check "its unit is config/guest's" cmp -s "$tmp/x/linux/neuron-agent.service" "$top/config/guest/neuron-agent.service"
if [ -f "$BUILD/win/neuron-agent.msi" ]; then
	check "the MSI is the one built" cmp -s "$tmp/x/windows/neuron-agent.msi" "$BUILD/win/neuron-agent.msi"
fi
check "guest.key is the bundle's" cmp -s "$tmp/x/certs/guest.key" "$st/agent/win11/bundle/guest.key"
check "guest.pem is the one the host pins" cmp -s "$tmp/x/certs/guest.pem" "$st/agent/win11/guest.pem"
check "host.pem is the host's certificate" cmp -s "$tmp/x/certs/host.pem" "$st/agent/win11/host.pem"
leaked=
for key in ca.key host.key; do
	# every base64 line of the key: none may appear in any file of the media
	sed '/^-----/d' "$st/agent/win11/$key" >"$tmp/pattern"
	if grep -rqF -f "$tmp/pattern" "$tmp/x"; then leaked="$leaked $key"; fi
	if find "$tmp/x" -name "$key" | grep -q .; then leaked="$leaked $key(file)"; fi
done
if [ -z "$leaked" ]; then ok "no host or CA private key on the media"; else bad "on the media:$leaked"; fi
check "the guest key is on the media (the grep above can see keys)" \
	grep -qF -f "$(sed '/^-----/d' "$st/agent/win11/bundle/guest.key" >"$tmp/gk" && echo "$tmp/gk")" "$tmp/x/certs/guest.key"

# 4. the scripts
check "setup.cmd: a silent msiexec with CERTS=<drive>\\certs" \
	grep -qF 'msiexec /i "%~dp0windows\neuron-agent.msi" /qn CERTS=%~d0\certs' "$tmp/x/setup.cmd"
check "setup.cmd has CRLF line ends" test "$(grep -c "$(printf '\r')\$" "$tmp/x/setup.cmd")" = "$(wc -l <"$tmp/x/setup.cmd")"
check "setup.sh parses" sh -n "$tmp/x/setup.sh"
user=$(id -un)
home=$(getent passwd "$user" | cut -d: -f6)
if DESTDIR=$tmp/guest sh "$tmp/x/setup.sh" "$user" >"$show" 2>&1; then ok "setup.sh ran"; else bad "setup.sh failed"; fi
g=$tmp/guest
check "setup.sh: the agent in /usr/local/bin" cmp -s "$g/usr/local/bin/neuron-agent" "$BUILD/neuron-agent"
check "setup.sh: the user unit" test -f "$g/etc/systemd/user/neuron-agent.service"
check "setup.sh: the udev rule" test -f "$g/etc/udev/rules.d/70-neuron-agent.rules"
check "setup.sh: guest.key 0600 for $user, in a 0700 folder" \
	test "$(stat -c '%a %U' "$g$home/.config/neuron-agent/guest.key") $(stat -c %a "$g$home/.config/neuron-agent")" = "600 $user 700"
check "setup.sh: the unit reads the credentials setup.sh wrote" \
	grep -q '^ExecStart=/usr/local/bin/neuron-agent --certs %E/neuron-agent$' "$g/etc/systemd/user/neuron-agent.service"

# 5. the domain: a read-only SATA CD-ROM on the media
(cd "$top" && $N --sysroot "$SYSROOTS/intel-nvidia" vm xml --profile config/profiles/windows11.yaml) >"$tmp/d.xml"
got=$(xmllint --xpath "string(//disk[@device='cdrom'][source/@file='$iso']/target/@bus)" "$tmp/d.xml" 2>/dev/null)
check "the domain has the media as a SATA CD-ROM" test "$got" = sata
check "read-only" test "$(xmllint --xpath "count(//disk[source/@file='$iso']/readonly)" "$tmp/d.xml")" = 1
if virt-xml-validate "$tmp/d.xml" domain >"$show" 2>&1; then ok "the domain validates"; else bad "the domain does not validate"; fi
(cd "$top" && $N --sysroot "$SYSROOTS/intel-nvidia" vm xml --profile config/profiles/windows11.yaml \
	--set guest_tools=false) >"$tmp/n.xml"
check "guest_tools: false: no CD-ROM" test "$(xmllint --xpath "count(//disk[contains(source/@file,'guest-tools')])" "$tmp/n.xml")" = 0
(cd "$top" && $N --sysroot "$SYSROOTS/intel-nvidia" vm xml --profile config/profiles/windows11.yaml \
	--set agent=false) >"$tmp/n.xml"
check "agent: false: no CD-ROM" test "$(xmllint --xpath "count(//disk[contains(source/@file,'guest-tools')])" "$tmp/n.xml")" = 0
golden create-no-tools --connect test:///default --sysroot "$SYSROOTS/intel-nvidia" --param "state_dir=$tmp/st2" \
	vm create --profile config/profiles/windows11.yaml --set disk=none --set guest_tools=false
check "guest_tools: false: no media made" test ! -e "$tmp/st2/vm"

# 6. agent media: remade after new credentials; the failures a user can act on
check "agent certs --force" $N agent certs --force win11 >/dev/null
golden media --param "state_dir=$tmp/state" agent media win11
xorriso -no_rc -osirrox on -indev "$iso" -extract /certs/guest.pem "$tmp/new.pem" >/dev/null 2>&1
check "the remade media has the new guest certificate" cmp -s "$tmp/new.pem" "$st/agent/win11/guest.pem"
if cmp -s "$tmp/new.pem" "$tmp/x/certs/guest.pem"; then bad "the guest certificate did not change"; else ok; fi
cp "$iso" "$tmp/before.iso"
golden media-no-xorriso --param "state_dir=$tmp/state" --param media.xorriso=/nonexistent/xorriso agent media win11
check "a failed remake keeps the media that was there" cmp -s "$iso" "$tmp/before.iso"
check "and leaves no temporary file" test "$(ls -A "$st/vm/win11")" = guest-tools.iso
mkdir -p "$tmp/files"
cp "$BUILD/neuron-agent" "$top/config/guest/neuron-agent.service" "$top/config/guest/70-neuron-agent.rules" "$tmp/files/"
golden media-no-msi --param "state_dir=$tmp/state" --param "media.files=$tmp/files" agent media win11
iso_list "$iso" >"$tmp/list"
if grep -q windows "$tmp/list"; then bad "without the MSI: a windows folder"; else ok; fi
xorriso -no_rc -osirrox on -indev "$iso" -extract /README.txt "$tmp/readme" >/dev/null 2>&1
check "README.txt says the Windows agent is missing" grep -q "NOTE: this media has no Windows agent" "$tmp/readme"
golden media-no-msi.json --param "state_dir=$tmp/state" --param "media.files=$tmp/files" agent media --json win11
# credentials remade with their bundle elsewhere: the default bundle is stale
$N agent certs --force --bundle "$tmp/elsewhere" win11 >/dev/null 2>&1
golden media-stale-bundle --param "state_dir=$tmp/state" agent media win11
golden media-bad-name --param "state_dir=$tmp/state" agent media ..
golden media-help agent media --help

# 7. the user QEMU runs as (qemu.conf under --root) gets the ISO, still 0600
if [ "$(id -u)" = 0 ] && getent passwd nobody >/dev/null; then
	mkdir -p "$tmp/root/etc/libvirt"
	printf '# user = "root"\nuser = "nobody"\ngroup = "kvm"\n' >"$tmp/root/etc/libvirt/qemu.conf"
	$NEURONCTL --root "$tmp/root" agent media owned >"$show" 2>&1
	output_has "says whose it is" "owner nobody"
	check "owned by qemu.conf's user, 0600" \
		test "$(stat -c '%U %a' "$tmp/root/var/lib/neuron/vm/owned/guest-tools.iso")" = "nobody 600"
fi

# 7b. shares: certs/shares.conf on the media, NAME=GUESTPATH in profile order (Linux: the
#     mount point; Windows: drive letters from Z: down); setup.sh installs it with the fstab
#     lines the agent mounts by; setup.cmd copies it and starts one virtiofs instance per share
for t in linux windows11; do
	$N --connect test:///default --sysroot "$SYSROOTS/intel-nvidia" vm create --set name=sh-$t \
		--profile config/profiles/$t.yaml --set disk=none --set gpu=none \
		--set shares=Documents=~/Documents --set shares=/srv/music >"$show" 2>&1
	xorriso -no_rc -osirrox on -indev "$st/vm/sh-$t/guest-tools.iso" -extract / "$tmp/sh-$t" >/dev/null 2>&1
	chmod -R u+rwX "$tmp/sh-$t"
done
check "linux: shares.conf has the mount points" \
	test "$(cat "$tmp/sh-linux/certs/shares.conf")" = "$(printf 'Documents=/mnt/neuron/Documents\nmusic=/mnt/neuron/music')"
check "windows: shares.conf has drive letters from Z: down" \
	test "$(cat "$tmp/sh-windows11/certs/shares.conf")" = "$(printf 'Documents=Z:\nmusic=Y:')"
if DESTDIR=$tmp/sguest sh "$tmp/sh-linux/setup.sh" "$user" >"$show" 2>&1; then ok "setup.sh with shares ran"; else bad "setup.sh with shares failed"; cat "$show"; fi
check "setup.sh: shares.conf in /etc/neuron-agent" cmp -s "$tmp/sguest/etc/neuron-agent/shares.conf" "$tmp/sh-linux/certs/shares.conf"
check "setup.sh: the mount points" test -d "$tmp/sguest/mnt/neuron/Documents" -a -d "$tmp/sguest/mnt/neuron/music"
check "setup.sh: fstab lines the agent's user may mount" \
	grep -qx "Documents /mnt/neuron/Documents virtiofs rw,nofail,user 0 0" "$tmp/sguest/etc/fstab"
DESTDIR=$tmp/sguest sh "$tmp/sh-linux/setup.sh" "$user" >"$show" 2>&1
check "setup.sh again: each fstab line once" test "$(grep -c virtiofs "$tmp/sguest/etc/fstab")" = 2
check "setup.cmd copies shares.conf beside the agent's credentials" \
	grep -qF 'copy /y "%~d0\certs\shares.conf" "%NEURON_DIR%\shares.conf"' "$tmp/sh-windows11/setup.cmd"
check "setup.cmd starts one virtiofs launcher instance per share" \
	grep -qF 'launchctl-x64.exe" start virtiofs neuron-%%%%a %%%%a %%%%b' "$tmp/sh-windows11/setup.cmd"
check "setup.cmd with shares keeps CRLF line ends" \
	test "$(grep -c "$(printf '\r')\$" "$tmp/sh-windows11/setup.cmd")" = "$(wc -l <"$tmp/sh-windows11/setup.cmd")"
check "no shares: no shares.conf" test ! -e "$tmp/x/certs/shares.conf"

# 8. vm delete removes it with the VM's folder (a defined, shut-off VM of the test driver)
shut_off_node win11 "$tmp/node.xml"
$N agent media win11 >/dev/null 2>&1
golden delete --connect "test://$tmp/node.xml" --param "state_dir=$tmp/state" vm delete win11
check "vm delete removed the media and STATE/vm/win11" test ! -e "$st/vm/win11"
check "the credentials stay (agent certs --force replaces them)" test -f "$st/agent/win11/ca.pem"

summary media
