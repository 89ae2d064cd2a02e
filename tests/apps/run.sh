#!/bin/sh
# The guest's apps on the host (issue 17): neuronctl app list / run / install / uninstall /
# windows / focus / close against the reference agent.
# 1. The memory platform's fixed list, with hostile values: control characters in names,
#    types and window titles (shown sanitised), a name that is not UTF-8 (left out by the
#    agent), an icon that is not PNG (refused by the host), an id with ".." (a safe file
#    name), 300 MIME types (256 taken), 10000 apps (4096 taken, "truncated"), a guest path
#    with "..". Host files through the shares (a domain of libvirt's test driver with
#    virtio-fs folders, the shares the agent reports): the guest path (Linux and a Windows
#    drive), a file outside every share, a symlink or ".." leading out, a share the guest
#    has not mounted: refused with the list of shares; an off VM started first.
# 2. Launchers: install writes desktop entries that desktop-file-validate accepts, icons
#    in the hicolor theme, and uninstall leaves the XDG tree byte-identical to before.
# 3. The Linux platform under a private Xvfb with openbox (EWMH) and a private XDG tree:
#    desktop entries, globs2 extensions, hicolor icons, open with the app's Exec, the
#    windows of the session (xmessage), focus and close; Wayland answers unsupported;
#    shares from shares.conf, mounted when mountinfo lacks them, reported once mounted.
set -u
: "${BUILD:?}" "${NEURONCTL:?}"
unset DISPLAY WAYLAND_DISPLAY XDG_RUNTIME_DIR XDG_SESSION_TYPE XAUTHORITY XDG_DATA_HOME XDG_DATA_DIRS
. "$(dirname "$0")/../lib.sh"
verbose=1
T=$(mktemp -d /tmp/neuron-apps-XXXXXX)
show=$T/out
AGENT="$BUILD/neuron-agent"
pids=""
lg_stop=
cleanup() {
	[ -z "$lg_stop" ] || $lg_stop >/dev/null 2>&1
	for p in $pids; do kill "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

expect() { expect_exit "$@"; }
has() { output_has "$@"; }
lacks() { if grep -qF -- "$2" "$show"; then bad "$1 (has '$2')"; else ok "$1"; fi; }
wait_for() { i=0; while [ ! -e "$1" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done; }
# snapshot DIR: every path under DIR with its type, mode and content hash
snapshot() { (cd "$1" && find . -printf '%y %m %p\n' | sort && find . -type f -exec sha256sum {} + | sort -k2); }

for tool in desktop-file-validate Xvfb openbox wmctrl xmessage xprop; do
	if ! command -v $tool >/dev/null 2>&1; then
		bad "$tool is installed (make deps installs mk/packages/apps.txt)"
		summary apps
		exit 1
	fi
done

# libvirt's test driver: vm1 runs and shares three host folders (Documents, through a
# link in its path; music; Photos, which the guest does not report), vm2 is off; the
# agent is reached by --socket
mkdir -p "$T/home/Documents/sub" "$T/music" "$T/outside" "$T/links" "$T/climb" "$T/relative"
echo c >"$T/climb/c.txt"
echo r >"$T/relative/r.txt"
echo "the file's content" >"$T/home/Documents/sub/a b.txt"
echo outside >"$T/outside/x.txt"
echo secret >"$T/secret.txt"
ln -s "$T/secret.txt" "$T/home/Documents/escape.txt"
ln -s "$T/home" "$T/links/home"
cat >"$T/node.xml" <<EOF
<node>
  <domain type='test'>
    <name>vm1</name><memory>1048576</memory><os><type>hvm</type></os>
    <devices>
      <filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/>
        <source dir='$T/links/home/Documents'/><target dir='Documents'/></filesystem>
      <filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/>
        <source dir='$T/music'/><target dir='music'/></filesystem>
      <filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/>
        <source dir='$T/outside'/><target dir='Photos'/></filesystem>
      <filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/>
        <source dir='$T/climb'/><target dir='climb'/></filesystem>
      <filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/>
        <source dir='$T/relative'/><target dir='relative'/></filesystem>
    </devices>
  </domain>
  <domain type='test'>
    <name>vm3</name><memory>1048576</memory><os><type>hvm</type></os>
    <devices>
      <shmem name='looking-glass'><model type='ivshmem-plain'/><size unit='M'>32</size></shmem>
    </devices>
  </domain>
  <domain type='test'>
    <name>vm2</name><memory>1048576</memory><os><type>hvm</type></os>
    <test:runstate xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>5</test:runstate>
  </domain>
</node>
EOF
N="$NEURONCTL --param state_dir=$T/state --connect test://$T/node.xml"
$N agent certs vm1 --bundle "$T/bundle" >/dev/null || { echo "cannot make certificates"; exit 1; }

# ============================================================ 1. the memory platform
"$AGENT" --listen "$T/m.sock" --certs "$T/bundle" --platform memory 2>"$T/m-agent.err" &
pids="$pids $!"
wait_for "$T/m.sock"
M="--socket $T/m.sock"

expect "list" 0 $N app list $M vm1
has "notepad with its types" "$(printf 'notepad\tNotepad\t.txt .log text/plain')"
has "paint with its types" "$(printf 'paint\tPaint\t.png .bmp image/png image/bmp')"
has "control characters in a name and types shown as ?" "$(printf 'evil\tEvil?[31m?App?\t.ev?il text/x-evil?')"
if tr -d '\t\n' <"$T/out" | LC_ALL=C grep -q '[[:cntrl:]]'; then bad "no control character reaches the terminal"; else ok "no control character reaches the terminal"; fi
has "an id with .. listed as it is" "$(printf '../../dots\tDots')"
lacks "a name that is not UTF-8 is left out by the agent" "latin1"
expect "list --json" 0 $N app list $M vm1 --json
"${PYTHON:-python3}" - "$T/out" >"$T/j" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
apps = {a["id"]: a for a in d["apps"]}
print("ids", " ".join(sorted(apps)))
print("notepad", apps["notepad"]["program"], apps["notepad"]["args"], apps["notepad"]["icons"])
print("many", len(apps["many"]["mimes"]))
print("truncated", d["truncated"])
PY
cp "$T/j" "$T/out"
has "json: the ids" "ids ../../dots evil many notepad paint true"
has "json: program, args, icon sizes" "notepad C:\\Windows\\notepad.exe ['/A'] [48, 256]"
has "json: at most 256 MIME types of an app" "many 256"
has "json: not truncated" "truncated False"

# 10000 apps: the agent sends what one frame holds, the host takes at most 4096
NEURON_AGENT_HUGE_APPS=1 "$AGENT" --listen "$T/h.sock" --certs "$T/bundle" --platform memory 2>/dev/null &
pids="$pids $!"
wait_for "$T/h.sock"
expect "a huge list" 0 $N app list --socket "$T/h.sock" vm1 --json
"${PYTHON:-python3}" -c "import json,sys; d=json.load(open('$T/out')); print('count', len(d['apps']), d['truncated'])" >"$T/j"
cp "$T/j" "$T/out"
has "a huge list: 4096 apps, marked truncated" "count 4096 True"

# --- windows
expect "windows" 0 $N app windows $M vm1
has "a window: id, pid, app, title" "$(printf '0x1\t4242\tnotepad\tUntitled - Notepad')"
has "a title with control characters shown as ?" "$(printf '0x2\t0\tevil\tEvil?]0;owned? title??')"
if tr -d '\t\n' <"$T/out" | LC_ALL=C grep -q '[[:cntrl:]]'; then bad "no control character of a title reaches the terminal"; else ok "no control character of a title reaches the terminal"; fi

# --- run
expect "run a guest file" 0 $N app run $M vm1 notepad 'guest:C:\Users\me\notes.txt'
has "says what started" "started Notepad (pid "
expect "the file's window is there" 0 $N app windows $M vm1
has "its title names the file" 'C:\Users\me\notes.txt - Notepad'
expect "run with a Windows path" 0 $N app run $M vm1 paint 'D:\pics\a.png'
expect "run without files launches the program" 0 $N app run $M vm1 true
has "launch says so" "started True (pid "
# --- host files through the shares (the memory agent reports Documents on
#     /mnt/neuron/Documents and music on Y:\, and hostile ones the host must not use)
expect "a host file under a share" 0 $N app run $M --no-lg vm1 notepad "$T/home/Documents/sub/a b.txt"
expect "opens at the guest's path (the share's link resolved)" 0 $N app windows $M vm1
has "the guest path" '/mnt/neuron/Documents/sub/a b.txt - Notepad'
(cd "$T/home/Documents/sub" && $N app run $M --no-lg vm1 notepad '../sub/a b.txt' --json) >"$T/j.json" 2>/dev/null
"${PYTHON:-python3}" -c 'import json,sys; d=json.load(open(sys.argv[1])); print("lg", d["looking_glass"], d["vm_started"], d["pids"])' \
	"$T/j.json" >"$show" 2>&1
has "json: a relative path with .. that stays inside; Looking Glass left alone; the VM ran" "lg skipped False [50"
echo song >"$T/music/song.txt"
expect "a Windows share: a drive path" 0 $N app run $M vm1 notepad "$T/music/song.txt"
has "no Looking Glass device: said" "no Looking Glass client: the VM has no Looking Glass device"
expect "a Windows share: backslashes" 0 $N app windows $M vm1
has "the drive path" 'Y:\song.txt - Notepad'
expect "a host file outside every share is refused" 1 $N app run $M vm1 notepad "$T/bundle/ca.pem"
has "listing the shares" "is outside the folders vm1 shares with the host: Documents ($T/links/home/Documents), music ($T/music), Photos ($T/outside, not mounted in the guest), climb ($T/climb, not mounted in the guest), relative ($T/relative, not mounted in the guest); put the file in one of them (it is never copied) [REFUSED]"
expect "a symlink in a share that leads out is refused" 1 $N app run $M vm1 notepad "$T/home/Documents/escape.txt"
has "as outside" "[REFUSED]"
expect "a .. that leads out is refused" 1 $N app run $M vm1 notepad "$T/home/Documents/../../bundle/ca.pem"
has "as outside" "[REFUSED]"
expect "a share the guest has not mounted" 1 $N app run $M vm1 notepad "$T/outside/x.txt"
has "says so" "is in the share Photos, which the guest of vm1 has not mounted"
# the guest reports climb on a path with ".." and relative on one that is not absolute:
# never used (the file is as good as in a share the guest has not mounted)
expect "a guest path with .. from the guest is not used" 1 $N app run $M vm1 notepad "$T/climb/c.txt"
has "says so" "is in the share climb, which the guest of vm1 has not mounted"
expect "a relative guest path from the guest is not used" 1 $N app run $M vm1 notepad "$T/relative/r.txt"
has "says so" "is in the share relative, which the guest of vm1 has not mounted"
expect "app shares" 0 $N app shares $M vm1
has "climb: not mounted" "$(printf 'climb\t%s/climb\t(not mounted in the guest)' "$T")"
has "music: the drive" "$(printf 'music\t%s/music\tY:\\' "$T")"
expect "a file that is not there" 1 $N app run $M vm1 notepad "$T/home/Documents/nope.txt"
has "says so" "nope.txt: No such file or directory [NOTFOUND]"
expect "a VM that shares nothing" 1 $NEURONCTL --param state_dir=$T/state --connect test:///default app run $M --certs "$T/state/agent/vm1" test notepad "$T/music/song.txt"
has "says how to share" "shares no folder with the host: add one to its profile"
# a direct channel (--socket) needs no libvirt for a guest file; a host file needs its shares
NL="$NEURONCTL --param state_dir=$T/state --connect test://$T/no-such-node.xml"
expect "without libvirt: a guest file still opens (--socket)" 0 $NL app run $M vm1 notepad 'guest:C:\x.txt'
has "Looking Glass left alone, saying why" "Looking Glass left alone: "
expect "without libvirt: a host file is refused" 1 $NL app run $M vm1 notepad "$T/music/song.txt"
has "saying that its place comes from the VM's shares" "is a host file: its place in the guest comes from the VM's shares, which libvirt did not give"
# an off VM: a file outside is refused before anything starts
expect "outside: refused before starting the VM" 1 $N app run $M vm2 notepad "$T/outside/x.txt"
lacks "nothing started" "starting VM"
# a VM with a Looking Glass device: its client (tests/lg's stand-in) started, supervised,
# then found running by the next app run; lg stop ends it
mkdir -p "$T/sys/dev/shm" "$T/run"
: >"$T/sys/dev/shm/looking-glass"
chmod 0660 "$T/sys/dev/shm/looking-glass"
LGP="--sysroot $T/sys --param runtime_dir=$T/run --param lg.client=$top/tests/lg/fake-client.sh --param lg.stop_ms=300"
expect "Looking Glass: no graphical session is said, the app still runs" 0 $N $LGP app run $M --certs "$T/state/agent/vm1" vm3 true
has "says why there is no client" "no Looking Glass client: "
lg_stop="$N $LGP lg stop vm3"   # cleanup() ends the stand-in should a check below fail
expect "Looking Glass: started after the app" 0 env WAYLAND_DISPLAY=wayland-test $N $LGP app run $M --certs "$T/state/agent/vm1" vm3 true
has "says so" "started the Looking Glass client (pid "
expect "Looking Glass: found running the next time" 0 env WAYLAND_DISPLAY=wayland-test $N $LGP app run $M --certs "$T/state/agent/vm1" vm3 true
has "says so" "the Looking Glass client of the VM runs (pid "
expect "lg stop ends the client app run started" 0 $lg_stop
lg_stop=
expect "an off VM is started, then its agent answers" 0 $N app run $M --certs "$T/state/agent/vm1" vm2 true
has "says it starts the VM" "neuronctl: starting VM vm2"
has "then the app" "started True (pid "
expect "a guest path with .. is refused by the agent" 1 $N app run $M vm1 notepad 'guest:C:\Users\..\Windows\x.txt'
has "saying so" 'the path has a ".." part'
expect "a relative guest path is refused" 1 $N app run $M vm1 notepad 'guest:notes.txt'
has "saying so" "open needs an absolute guest path"
expect "an app the guest does not have" 1 $N app run $M vm1 nosuch
has "names it" "vm1 has no app nosuch (neuronctl app list vm1) [NOTFOUND]"
expect "run needs an app" 2 $N app run $M vm1

# --- focus, close
expect "focus a window" 0 $N app focus $M vm1 0x1
expect "close a window" 0 $N app close $M vm1 0x1
expect "windows after the close" 0 $N app windows $M vm1
lacks "the closed window is gone" "Untitled - Notepad"
expect "focus a closed window" 1 $N app focus $M vm1 0x1
has "the guest says why" "no window 0x1"
expect "windows --json keeps the raw title, escaped" 0 $N app windows $M vm1 --json
has "escaped in JSON" '"title": "Evil\u001b]0;owned\u0007 title\r\n"'

# ============================================================ 2. launchers
X=$T/xdg
mkdir -p "$X/applications" "$X/icons/hicolor/48x48/apps"
printf '[Desktop Entry]\nType=Application\nName=Mine\nExec=mine\n' >"$X/applications/mine.desktop"
printf 'not ours' >"$X/icons/hicolor/48x48/apps/mine.png"
snapshot "$X" >"$T/before"
export XDG_DATA_HOME="$X"
expect "install all" 0 $N app install $M vm1
has "an icon that is not PNG is refused, with a note" "neuron-vm1-evil: no 48x48 icon: the guest's icon is not a PNG"
for f in "$X"/applications/neuron-vm1-*.desktop; do
	expect "desktop-file-validate $(basename "$f")" 0 desktop-file-validate "$f"
done
[ -f "$X/applications/neuron-vm1-notepad.desktop" ] && ok "notepad's entry" || bad "notepad's entry"
[ -f "$X/applications/neuron-vm1-_._.._dots.desktop" ] && ok "an id with .. becomes a file name inside applications/" ||
	bad "an id with .. becomes a file name inside applications/"
[ "$(find "$T" -name 'neuron-vm1-*' | grep -vc "^$X/")" = 0 ] && ok "nothing written outside XDG_DATA_HOME" ||
	bad "nothing written outside XDG_DATA_HOME"
cp "$X/applications/neuron-vm1-notepad.desktop" "$T/out"
has "Name" "Name=Notepad (vm1)"
has "Exec runs the app through neuronctl" 'Exec=neuronctl app run "vm1" "notepad" %F'
has "MimeType" "MimeType=text/plain;"
has "Icon in the hicolor theme" "Icon=neuron-vm1-notepad"
has "a category" "Categories=Utility;"
cp "$X/applications/neuron-vm1-evil.desktop" "$T/out"
lacks "no Icon when the guest's icon is not a PNG" "Icon="
lacks "a MIME type with a control character is left out" "MimeType="
has "control characters in the name become ?" "Name=Evil?[31m?App? (vm1)"
for s in 48 256; do
	head -c 8 "$X/icons/hicolor/${s}x${s}/apps/neuron-vm1-notepad.png" | od -An -c | tr -d ' \n' >"$T/out"
	has "the ${s}x${s} icon is a PNG" '211PNG\r\n032\n'
done
[ ! -e "$X/icons/hicolor/256x256/apps/neuron-vm1-paint.png" ] && ok "no 256 icon where the guest has none" ||
	bad "no 256 icon where the guest has none"
expect "uninstall" 0 $N app uninstall vm1
has "says what it removed" "removed $X/applications/neuron-vm1-notepad.desktop"
snapshot "$X" >"$T/after"
if cmp -s "$T/before" "$T/after"; then ok "install then uninstall leaves the tree byte-identical"; else
	diff "$T/before" "$T/after" >"$T/out"; bad "install then uninstall leaves the tree byte-identical"; fi
expect "uninstall with nothing installed" 1 $N app uninstall vm1
has "says so" "no launchers of vm1 are installed [NOTFOUND]"

expect "install two apps" 0 $N app install $M vm1 notepad paint --json
tr -d ' \n' <"$T/out" >"$T/j"
cp "$T/j" "$T/out"
has "json names them" '"installed":["notepad","paint"]'
expect "install one again (same files)" 0 $N app install $M vm1 paint --category Graphics
grep -q "Categories=Graphics;" "$X/applications/neuron-vm1-paint.desktop" && ok "--category" || bad "--category"
expect "install an app the guest does not have" 1 $N app install $M vm1 nosuch
has "names it" "vm1 has no app nosuch"
expect "uninstall one" 0 $N app uninstall vm1 paint
[ ! -e "$X/applications/neuron-vm1-paint.desktop" ] && [ ! -e "$X/icons/hicolor/48x48/apps/neuron-vm1-paint.png" ] &&
	ok "its entry and icon are gone" || bad "its entry and icon are gone"
[ -f "$X/applications/neuron-vm1-notepad.desktop" ] && ok "the other stays" || bad "the other stays"
expect "uninstall the rest" 0 $N app uninstall vm1
snapshot "$X" >"$T/after"
if cmp -s "$T/before" "$T/after"; then ok "the tree is byte-identical again"; else
	diff "$T/before" "$T/after" >"$T/out"; bad "the tree is byte-identical again"; fi
unset XDG_DATA_HOME

# ============================================================ 3. the Linux platform
if ! xvfb_start "$T" 1280x800x24; then
	bad "Xvfb starts on a free display"
	summary apps
	exit 1
fi
X11=$xvfb_display
ok "Xvfb runs on $X11"
HOME=$T/home DISPLAY=$X11 openbox --sm-disable >"$T/openbox.log" 2>&1 &
pids="$pids $!"
i=0
until DISPLAY=$X11 wmctrl -m >/dev/null 2>&1 || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
[ $i -lt 100 ] && ok "openbox manages the display" || bad "openbox manages the display"

# the guest's private XDG tree: a system dir and the user's, which overrides an entry
G=$T/guest
mkdir -p "$G/sys/applications/sub" "$G/sys/mime" "$G/sys/icons/hicolor/48x48/apps" "$G/home/applications" "$G/bin"
cat >"$G/bin/testapp" <<SH
#!/bin/sh
printf '%s\n' "\$@" >"$T/opened"
exec xmessage -title "neuron-test \$2" "hello"
SH
chmod +x "$G/bin/testapp"
cat >"$G/sys/applications/testapp.desktop" <<DE
[Desktop Entry]
Type=Application
Name=Test App
Name[de]=Testprogramm
Exec=$G/bin/testapp --flag %f
Icon=testapp
MimeType=text/x-neurontest;image/x-neurontest;
DE
printf '[Desktop Entry]\nType=Application\nName=Hidden\nExec=true\nNoDisplay=true\n' >"$G/sys/applications/hidden.desktop"
printf '[Desktop Entry]\nType=Link\nName=A link\nURL=https://neuronos.org\n' >"$G/sys/applications/link.desktop"
printf '[Desktop Entry]\nType=Application\nName=Old name\nExec=true\n' >"$G/sys/applications/over.desktop"
printf '[Desktop Entry]\nType=Application\nName=User\\sname\nExec="%s/bin/testapp" "quoted arg"\n' "$G" >"$G/home/applications/over.desktop"
printf '[Desktop Entry]\nType=Application\nName=Nested\nExec=true\n' >"$G/sys/applications/sub/nested.desktop"
printf '50:text/x-neurontest:*.ntest\n50:image/x-neurontest:*.nimg\n' >"$G/sys/mime/globs2"
printf '\211PNG\r\n\032\nrest of a png' >"$G/sys/icons/hicolor/48x48/apps/testapp.png"

# shares: shares.conf as setup.sh writes it (and lines the agent must skip), a mountinfo
# where Documents is mounted, a mount program that "mounts" music by adding its line
printf 'Documents=/mnt/neuron/Documents\nmusic=/mnt/neuron/music\nbad name=/mnt/neuron/x\nup=/mnt/neuron/../../etc\nrel=mnt/neuron/rel\nPhotos=/mnt/neuron/Photos\n' >"$T/shares.conf"
printf '22 1 0:21 / /proc rw,nosuid - proc proc rw\n90 22 0:50 / /mnt/neuron/Documents rw,relatime - virtiofs Documents rw\n91 22 0:51 / /mnt/neuron/Photos rw - ext4 Photos rw\n' >"$T/mountinfo"
cat >"$T/mount" <<EOF
#!/bin/sh
echo "\$*" >>"$T/mount.log"
case "\$*" in *music*) echo "92 22 0:52 / /mnt/neuron/music rw - virtiofs music rw" >>"$T/mountinfo" ;; *) exit 32 ;; esac
EOF
chmod +x "$T/mount"
XDG_DATA_DIRS="$G/sys" XDG_DATA_HOME="$G/home" DISPLAY=$X11 NEURON_AGENT_SHARES="$T/shares.conf" \
	NEURON_AGENT_MOUNTINFO="$T/mountinfo" NEURON_AGENT_MOUNT="$T/mount" \
	"$AGENT" --listen "$T/l.sock" --certs "$T/bundle" --platform linux 2>"$T/l-agent.err" &
pids="$pids $!"
wait_for "$T/l.sock"
L="--socket $T/l.sock"
expect "linux: list" 0 $N app list $L vm1
has "linux: an entry with its extensions and types" "$(printf 'testapp\tTest App\t.ntest .nimg text/x-neurontest image/x-neurontest')"
has "linux: XDG_DATA_HOME overrides XDG_DATA_DIRS" "$(printf 'over\tUser name')"
lacks "linux: the overridden entry is hidden" "Old name"
has "linux: an entry in a subdirectory has its prefixed id" "$(printf 'sub-nested\tNested')"
lacks "linux: NoDisplay entries are left out" "Hidden"
lacks "linux: links are left out" "A link"
expect "linux: list --json" 0 $N app list $L vm1 --json
"${PYTHON:-python3}" -c "
import json; d = {a['id']: a for a in json.load(open('$T/out'))['apps']}
print('testapp', d['testapp']['program'], d['testapp']['args'], d['testapp']['icons'])
print('over', d['over']['args'])" >"$T/j"
cp "$T/j" "$T/out"
has "linux: program, args without field codes, the 48 icon" "testapp $G/bin/testapp ['--flag'] [48]"
has "linux: quoted Exec words" "over ['quoted arg']"
XDG_DATA_HOME=$T/hostxdg expect "linux: install fetches the hicolor icon" 0 $N app install $L vm1 testapp
cmp -s "$T/hostxdg/icons/hicolor/48x48/apps/neuron-vm1-testapp.png" "$G/sys/icons/hicolor/48x48/apps/testapp.png" &&
	ok "linux: the icon is the guest's file" || bad "linux: the icon is the guest's file"
grep -q "^MimeType=text/x-neurontest;image/x-neurontest;$" "$T/hostxdg/applications/neuron-vm1-testapp.desktop" &&
	ok "linux: MimeType carried over" || bad "linux: MimeType carried over"
expect "linux: the entry validates" 0 desktop-file-validate "$T/hostxdg/applications/neuron-vm1-testapp.desktop"
XDG_DATA_HOME=$T/hostxdg $N app uninstall vm1 >/dev/null
[ ! -e "$T/hostxdg" ] || [ -z "$(find "$T/hostxdg" -mindepth 1)" ] && ok "linux: uninstall leaves nothing" ||
	bad "linux: uninstall leaves nothing"

printf 'data' >"$T/file.ntest"
expect "linux: run with a guest file" 0 $N app run $L vm1 testapp "guest:$T/file.ntest"
wait_for "$T/opened"
printf -- '--flag\n%s\n' "$T/file.ntest" >"$T/want"
cmp -s "$T/want" "$T/opened" && ok "linux: Exec ran with the file for %f" || { cp "$T/opened" "$T/out"; bad "linux: Exec ran with the file for %f"; }
# its window shows up in the EWMH list
i=0
while [ $i -lt 50 ]; do
	$N app windows $L vm1 >"$T/out" 2>&1
	grep -q "neuron-test $T/file.ntest" "$T/out" && break
	sleep 0.2
	i=$((i + 1))
done
has "linux: windows lists the app's window" "neuron-test $T/file.ntest"
has "linux: with its class" "$(printf '\txmessage\t')"
wid=$(sed -n "s/^\(0x[0-9a-f]*\)\t.*neuron-test.*/\1/p" "$T/out" | head -n 1)
expect "linux: focus" 0 $N app focus $L vm1 "$wid"
i=0
while [ $i -lt 30 ]; do
	active=$(DISPLAY=$X11 xprop -root _NET_ACTIVE_WINDOW | sed 's/.*# //')
	[ "$((active))" = "$((wid))" ] && break
	sleep 0.1
	i=$((i + 1))
done
[ "$((active))" = "$((wid))" ] && ok "linux: the window is active" || bad "linux: the window is active ($active, not $wid)"
expect "linux: close" 0 $N app close $L vm1 "$wid"
i=0
while [ $i -lt 50 ]; do
	$N app windows $L vm1 >"$T/out" 2>&1
	grep -q "neuron-test" "$T/out" || break
	sleep 0.2
	i=$((i + 1))
done
lacks "linux: the window closed" "neuron-test"
# app run raises the Looking Glass client of a VM when it runs already (wmctrl, EWMH): a
# window of its class under another one becomes the active window
DISPLAY=$X11 xmessage -name looking-glass-client -title "the client" "frames" >/dev/null 2>&1 &
pids="$pids $!"
DISPLAY=$X11 xmessage -title "on top" "another window" >/dev/null 2>&1 &
pids="$pids $!"
i=0
until DISPLAY=$X11 wmctrl -lx | grep -q 'on top' || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
lgwin=$(DISPLAY=$X11 wmctrl -lx | sed -n 's/^\(0x[0-9a-f]*\) .*looking-glass-client.*/\1/p' | head -n 1)
lg_stop="$N $LGP lg stop vm3"
expect "linux: lg start (the stand-in client)" 0 env -u WAYLAND_DISPLAY DISPLAY=$X11 $N $LGP lg start vm3
expect "linux: app run with the client running" 0 env -u WAYLAND_DISPLAY DISPLAY=$X11 $N $LGP app run $M --certs "$T/state/agent/vm1" vm3 true
has "linux: says the client was raised" "the Looking Glass client of the VM runs (pid "
has "linux: raised" ", raised"
active=$(DISPLAY=$X11 xprop -root _NET_ACTIVE_WINDOW | sed 's/.*# //')
[ -n "$lgwin" ] && [ "$((active))" = "$((lgwin))" ] && ok "linux: the client's window is active" ||
	bad "linux: the client's window is active ($active, not $lgwin)"
expect "linux: lg stop" 0 $lg_stop
lg_stop=
expect "linux: a window id that is not one" 1 $N app focus $L vm1 'x;rm -rf /'
has "linux: refused" "an X11 window id is 0x and hex digits"
expect "linux: an app the guest does not have" 1 $N app run $L vm1 nosuch
expect "linux: shares" 0 $N app shares $L vm1
has "linux: a mounted share at its mount point" "$(printf 'Documents\t%s/links/home/Documents\t/mnt/neuron/Documents' "$T")"
has "linux: a share mounted on the way" "$(printf 'music\t%s/music\t/mnt/neuron/music' "$T")"
has "linux: one whose mount is not virtiofs is not reported" "$(printf 'Photos\t%s/outside\t(not mounted in the guest)' "$T")"
# root mounts the tag itself; a user by the fstab line setup.sh wrote
if [ "$(id -u)" = 0 ]; then
	want=$(printf -- '-t virtiofs music /mnt/neuron/music\n-t virtiofs Photos /mnt/neuron/Photos')
else
	want=$(printf '/mnt/neuron/music\n/mnt/neuron/Photos')
fi
check "linux: mount was run for the shares not mounted, and only for good lines" test "$(cat "$T/mount.log")" = "$want"

# Wayland: no client list; said plainly
XDG_DATA_DIRS="$G/sys" XDG_DATA_HOME="$G/home" WAYLAND_DISPLAY=wayland-none \
	"$AGENT" --listen "$T/w.sock" --certs "$T/bundle" --platform linux 2>/dev/null &
pids="$pids $!"
wait_for "$T/w.sock"
expect "wayland: windows" 1 $N app windows --socket "$T/w.sock" vm1
has "wayland: unsupported, saying why" "unsupported: windows are not listed on Wayland"
expect "wayland: apps still listed" 0 $N app list --socket "$T/w.sock" vm1
has "wayland: the entry" "testapp"

summary apps
