#!/bin/sh
# The unattended Windows install (issue 16, part 2): autounattend.xml of a profile with
# `unattended`, per Windows version:
#  - golden files (expected/), well-formed (xmllint), with the structure Windows Setup
#    requires: the three passes and their components;
#  - the driver paths of Windows PE exist on a virtio-win layout made here, one set per
#    version (w11, w10), for the storage, network and serial drivers;
#  - the password never in clear (only the encoded form, which decodes to it), from a file
#    of mode 0600 or the terminal; no TPM or Secure Boot bypass for Windows 11;
#  - vm create puts it on the guest-tools media, vm delete removes it;
#  - looking_glass.installer: on the media, run silently at the first logon.
set -u
: "${BUILD:?}" "${NEURONCTL:?}" "${SYSROOTS:?}"
. "$(dirname "$0")/../lib.sh"
scratch
show=$tmp/show
secret='c0rrect horse'
printf '%s\nsecond line ignored\n' "$secret" >"$tmp/pw"
chmod 600 "$tmp/pw"
pw="--set unattended.password_file=$tmp/pw"
# a fixture machine: the memory and CPUs the profiles are judged against
sr="--sysroot $SYSROOTS/intel-nvidia"
# no terminal: a run that would ask the password fails instead of waiting (setsid: no
# controlling terminal, also when the suite runs in one)
cat >"$tmp/notty" <<EOF
#!/bin/sh
exec setsid -w "$NEURONCTL" "\$@" </dev/null
EOF
chmod +x "$tmp/notty"

xp() { # FILE XPATH: the value, namespaces ignored
	xmllint --xpath "$2" "$1" 2>/dev/null
}

for v in windows11 windows10; do
	case $v in windows11) dir=w11 ;; windows10) dir=w10 ;; esac
	golden "$v.xml" $sr vm unattend --profile "tests/unattend/$v.yaml" $pw
	(cd "$top" && "$NEURONCTL" $sr vm unattend --profile "tests/unattend/$v.yaml" $pw) >"$tmp/$v.xml" 2>"$show"
	check "$v: well-formed" xmllint --noout "$tmp/$v.xml"
	check "$v: root unattend in Windows Setup's namespace" \
		test "$(xp "$tmp/$v.xml" "namespace-uri(/*)")" = urn:schemas-microsoft-com:unattend
	for phase in windowsPE specialize oobeSystem; do
		check "$v: pass $phase" test "$(xp "$tmp/$v.xml" "count(/*/*[local-name()='settings'][@pass='$phase'])")" = 1
	done
	for c in windowsPE:Microsoft-Windows-International-Core-WinPE windowsPE:Microsoft-Windows-PnpCustomizationsWinPE \
		windowsPE:Microsoft-Windows-Setup specialize:Microsoft-Windows-Shell-Setup \
		oobeSystem:Microsoft-Windows-International-Core oobeSystem:Microsoft-Windows-Shell-Setup; do
		got=$(xp "$tmp/$v.xml" "count(/*/*[@pass='${c%%:*}']/*[local-name()='component'][@name='${c#*:}'][@processorArchitecture='amd64'][@publicKeyToken='31bf3856ad364e35'])")
		check "$v: ${c%%:*} has ${c#*:}" test "$got" = 1
	done
	check "$v: GPT for UEFI (EFI, MSR, Windows on partition 3)" test \
		"$(xp "$tmp/$v.xml" "string-join(//*[local-name()='CreatePartition']/*[local-name()='Type'], ',')" ||
			xp "$tmp/$v.xml" "concat(//*[local-name()='CreatePartition'][1]/*[local-name()='Type'],',',//*[local-name()='CreatePartition'][2]/*[local-name()='Type'],',',//*[local-name()='CreatePartition'][3]/*[local-name()='Type'])")" = "EFI,MSR,Primary"
	check "$v: installed to disk 0, partition 3" test \
		"$(xp "$tmp/$v.xml" "concat(//*[local-name()='InstallTo']/*[local-name()='DiskID'],':',//*[local-name()='InstallTo']/*[local-name()='PartitionID'])")" = "0:3"
	check "$v: one automatic logon" test "$(xp "$tmp/$v.xml" "string(//*[local-name()='AutoLogon']/*[local-name()='LogonCount'])")" = 1
	check "$v: the first logon installs the agent from the media" grep -qF 'call %d:\setup.cmd' "$tmp/$v.xml"

	# the driver paths against a virtio-win layout (its folders as the ISO has them)
	rm -rf "$tmp/virtio"
	for d in viostor vioscsi NetKVM vioserial; do
		for w in w10 w11; do
			mkdir -p "$tmp/virtio/$d/$w/amd64"
			: >"$tmp/virtio/$d/$w/amd64/$d.inf"
		done
	done
	: >"$tmp/virtio/virtio-win-guest-tools.exe"
	xp "$tmp/$v.xml" "//*[local-name()='PathAndCredentials']/*[local-name()='Path']/text()" |
		sed 's/^[A-Z]:\\//; s#\\#/#g' | LC_ALL=C sort -u >"$tmp/paths"
	missing=
	while read -r path; do
		[ -f "$tmp/virtio/$path/${path%%/*}.inf" ] || missing="$missing $path"
	done <"$tmp/paths"
	check "$v: every driver path is on the virtio-win layout (missing:$missing)" test -z "$missing"
	check "$v: the storage, network and serial drivers, for $dir" test "$(tr '\n' ' ' <"$tmp/paths")" = \
		"NetKVM/$dir/amd64 vioscsi/$dir/amd64 vioserial/$dir/amd64 viostor/$dir/amd64 "
	check "$v: each on the drive letters D to H" test "$(xp "$tmp/$v.xml" "count(//*[local-name()='PathAndCredentials'])")" = 20

	# the password: encoded, never in clear
	if grep -qF "$secret" "$tmp/$v.xml"; then bad "$v: the password is in clear"; else ok; fi
	enc=$(xp "$tmp/$v.xml" "string(//*[local-name()='LocalAccount']/*[local-name()='Password']/*[local-name()='Value'])")
	dec=$(python3 -c 'import base64,sys; print(base64.b64decode(sys.argv[1]).decode("utf-16-le"))' "$enc")
	check "$v: the encoded password is Windows Setup's form of it" test "$dec" = "${secret}Password"
	check "$v: PlainText false" test "$(xp "$tmp/$v.xml" "string(//*[local-name()='LocalAccount']/*[local-name()='Password']/*[local-name()='PlainText'])")" = false
	if grep -qi 'bypass' "$tmp/$v.xml"; then bad "$v: a TPM or Secure Boot bypass"; else ok; fi
done

# The password: a file others can read is refused; no file and no terminal: said, not waited on.
cp "$tmp/pw" "$tmp/pw-open"
chmod 644 "$tmp/pw-open"
golden pw-readable $sr vm unattend --profile tests/unattend/windows11.yaml --set "unattended.password_file=$tmp/pw-open"
NEURONCTL_REAL=$NEURONCTL
NEURONCTL=$tmp/notty
golden pw-no-terminal $sr vm unattend --profile tests/unattend/windows11.yaml
NEURONCTL=$NEURONCTL_REAL
golden no-unattended $sr vm unattend --profile config/profiles/linux.yaml
golden help vm unattend --help

# vm create: the answers on the media (0600 there too), kept beside it, gone with vm delete.
st=$tmp/state
golden create $sr --connect test:///default --param "state_dir=$st" vm create --profile tests/unattend/windows11.yaml \
	$pw --set disk.path=/default-pool/win11.qcow2 --set disk.size=1G
iso=$st/vm/win11/guest-tools.iso
xorriso -no_rc -indev "$iso" -find /autounattend.xml -exec lsdl 2>/dev/null | awk '{ print $1, $NF }' >"$show"
output_has "autounattend.xml at the media's root, 0600" "-rw------- '/autounattend.xml'"
xorriso -no_rc -osirrox on -indev "$iso" -extract /autounattend.xml "$tmp/on-media.xml" >/dev/null 2>&1
chmod u+rw "$tmp/on-media.xml" 2>/dev/null
check "it is what vm unattend prints" cmp -s "$tmp/on-media.xml" "$tmp/windows11.xml"
xorriso -no_rc -osirrox on -indev "$iso" -extract /README.txt "$tmp/readme" >/dev/null 2>&1
check "README.txt says Windows installs by itself" grep -q "^autounattend.xml: Windows Setup reads it" "$tmp/readme"
check "kept 0600 beside the media" test "$(stat -c %a "$st/vm/win11/autounattend.xml")" = 600
golden media-remade --param "state_dir=$st" agent media win11
xorriso -no_rc -indev "$iso" -find /autounattend.xml 2>/dev/null >"$show"
output_has "agent media keeps it on the media" "/autounattend.xml"
# The Looking Glass host installer the profile names: kept beside the media, at its root,
# run silently at the first logon; a file that is not there is refused before the define.
printf 'MZ not a real installer %s\n' "$$" >"$tmp/lg-host-setup.exe"
lgset="--set looking_glass.installer=$tmp/lg-host-setup.exe"
check "without an installer: two first-logon commands" \
	test "$(xp "$tmp/windows11.xml" "count(//*[local-name()='SynchronousCommand'])")" = 2
(cd "$top" && "$NEURONCTL" $sr vm unattend --profile tests/unattend/windows11.yaml $pw $lgset) >"$tmp/lg.xml" 2>"$show"
check "with one: a third" test "$(xp "$tmp/lg.xml" "count(//*[local-name()='SynchronousCommand'])")" = 3
check "it runs the installer from the media with /S" test \
	"$(xp "$tmp/lg.xml" "string(//*[local-name()='SynchronousCommand'][*[local-name()='Order']='3']/*[local-name()='CommandLine'])")" = \
	'cmd /c for %d in (D E F G H) do @if exist %d:\certs\guest.pem if exist %d:\looking-glass-setup.exe start "" /wait %d:\looking-glass-setup.exe /S'
golden lg-not-exe $sr vm unattend --profile tests/unattend/windows11.yaml $pw --set looking_glass.installer=/isos/lg.msi
golden lg-no-lg $sr vm unattend --profile tests/unattend/windows11.yaml $pw $lgset --set looking_glass=false
golden lg-missing $sr --connect test:///default --param "state_dir=$tmp/st-lg" vm create \
	--profile tests/unattend/windows11.yaml $pw --set looking_glass.installer=$tmp/no-such-setup.exe \
	--set disk.path=/default-pool/win11lg.qcow2 --set disk.size=1G
check "a missing installer: nothing made" test ! -e "$tmp/st-lg/vm"
(cd "$top" && "$NEURONCTL" $sr --connect test:///default --param "state_dir=$st" vm create --profile \
	tests/unattend/windows11.yaml $pw $lgset --set name=win11lg --set disk.path=/default-pool/win11lg.qcow2 --set disk.size=1G) >"$show" 2>&1
output_has "vm create says the installer is on the media" \
	"looking-glass-setup.exe on it: the first logon installs the Looking Glass host"
lgiso=$st/vm/win11lg/guest-tools.iso
rm -f "$tmp/lg-on-media"
xorriso -no_rc -osirrox on -indev "$lgiso" -extract /looking-glass-setup.exe "$tmp/lg-on-media" >/dev/null 2>&1
check "the installer at the media's root, as given" cmp -s "$tmp/lg-on-media" "$tmp/lg-host-setup.exe"
check "kept beside the media" cmp -s "$st/vm/win11lg/looking-glass-setup.exe" "$tmp/lg-host-setup.exe"
xorriso -no_rc -osirrox on -indev "$lgiso" -extract /README.txt "$tmp/lg-readme" >/dev/null 2>&1
check "README.txt names it" grep -q "^looking-glass-setup.exe: the Looking Glass host installer" "$tmp/lg-readme"
rm -f "$tmp/lg-host-setup.exe"
(cd "$top" && "$NEURONCTL" --param "state_dir=$st" agent media win11lg) >"$show" 2>&1
rm -f "$tmp/lg-on-media"
xorriso -no_rc -osirrox on -indev "$lgiso" -extract /looking-glass-setup.exe "$tmp/lg-on-media" >/dev/null 2>&1
check "agent media keeps it (the user's file gone)" cmp -s "$tmp/lg-on-media" "$st/vm/win11lg/looking-glass-setup.exe"
shut_off_node win11lg "$tmp/node-lg.xml"
(cd "$top" && "$NEURONCTL" --connect "test://$tmp/node-lg.xml" --param "state_dir=$st" vm delete win11lg) >"$show" 2>&1
check "vm delete removed the installer with the media" test ! -e "$st/vm/win11lg"

shut_off_node win11 "$tmp/node.xml"
golden delete --connect "test://$tmp/node.xml" --param "state_dir=$st" vm delete win11
check "vm delete removed the answers and the media" test ! -e "$st/vm/win11"

summary unattend
