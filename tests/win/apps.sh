# The Windows agent's apps, windows and shares (issue 17), sourced by tests/win/run.sh once
# the service is installed and answers (A talks to it over the pty; $C is the prefix's C:).
# Shortcuts made in the test's prefix the way installers make them (mklnk.c: IShellLinkW),
# an App Paths key and file types written with `wine reg add`, a test app (testwin.c) whose
# window is listed, focused and closed; icons checked to be PNGs of their size; the
# default app of a file type and the shares of a shares.conf through the agent's own code
# in-process (tests/win/probe.c), which no neuronctl command asks over the wire yet.

AP() { sub=$1; shift; $N app "$sub" --socket "$CHAN" --certs "$HC" --timeout 15000 "$@"; }
py_json() { # NAME FILE PYTHON: run PYTHON with d = the JSON in FILE
	expect "$1" 0 "$PY" -c "import json,sys; d=json.load(open('$2'))
$3"
}
log_has() { # NAME PATTERN: C:\testwin.log has a line matching PATTERN (grep -E) within 10 s
	i=0
	while ! grep -qE -- "$2" "$C/testwin.log" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if grep -qE -- "$2" "$C/testwin.log" 2>/dev/null; then ok "$1"; else
		cp "$C/testwin.log" "$T/out" 2>/dev/null
		bad "$1 (no line '$2' in testwin.log)"
	fi
}

expect "the apps test programs cross-built" 0 sh -c "
	x86_64-w64-mingw32-gcc -O2 -municode -mwindows -o '$T/testwin.exe' '$top/tests/win/testwin.c' &&
	x86_64-w64-mingw32-gcc -O2 -municode -o '$T/mklnk.exe' '$top/tests/win/mklnk.c' -lole32 -luuid -lshell32 &&
	mkdir -p '$C/apps' '$C/docs' && cp '$T/testwin.exe' '$C/apps/testwin.exe' &&
	cp '$T/testwin.exe' '$C/apps/neurontool.exe' && cp '$T/mklnk.exe' '$W/tests/probe.exe' '$C/'"
printf 'a document\r\n' >"$C/apps/readme.txt"
printf 'a test document\r\n' >"$C/docs/a.ntest"
printf 'another\r\n' >"$C/docs/b.ntest"
[ -n "$as" ] && chown -R 65534:65534 "$C/apps" "$C/docs"

# ---- the prefix's Start Menu, App Paths and file types
expect "a shortcut in all users' Start Menu (a folder)" 0 \
	wine_ 'C:\mklnk.exe' common 'Neuron Test\Test Window.lnk' 'C:\apps\testwin.exe' '--from-menu'
expect "a shortcut of the same name in the user's" 0 wine_ 'C:\mklnk.exe' user 'Test Window.lnk' 'C:\apps\testwin.exe' '--user'
expect "a shortcut whose name is no id" 0 wine_ 'C:\mklnk.exe' user 'Neuron (Beta) & Co.lnk' 'C:\apps\testwin.exe' ''
expect "a shortcut to a document" 0 wine_ 'C:\mklnk.exe' user 'Readme.lnk' 'C:\apps\readme.txt' ''
expect "a shortcut to a program that is not there" 0 wine_ 'C:\mklnk.exe' user 'Gone.lnk' 'C:\apps\gone.exe' ''
many=$(i=0; while [ $i -lt 300 ]; do printf 'a '; i=$((i + 1)); done)
expect "a shortcut with 300 arguments" 0 wine_ 'C:\mklnk.exe' user 'Many.lnk' 'C:\apps\testwin.exe' "$many"
R() { wine_ reg add "$@" /f; }
expect "an App Paths key (HKLM)" 0 R 'HKLM\Software\Microsoft\Windows\CurrentVersion\App Paths\neurontool.exe' \
	/ve /d '"C:\apps\neurontool.exe"'
expect "an App Paths key for a program a shortcut has" 0 \
	R 'HKCU\Software\Microsoft\Windows\CurrentVersion\App Paths\testwin.exe' /ve /d 'C:\apps\testwin.exe'
expect "a file type: .ntest" 0 R 'HKCR\.ntest' /ve /d NeuronTest.Document
expect "its MIME type" 0 R 'HKCR\.ntest' /v 'Content Type' /d application/x-neuron-test
expect "its ProgID opens with the test app" 0 R 'HKCR\NeuronTest.Document\shell\open\command' /ve \
	/d '"C:\apps\testwin.exe" "%1"'
expect "a second extension with a type that is no MIME type" 0 R 'HKCR\.nt3' /ve /d NeuronTest.Document
expect "its bad type" 0 R 'HKCR\.nt3' /v 'Content Type' /d 'not a type'
expect "an extension of the SupportedTypes of Applications, testwin.exe" 0 \
	R 'HKCR\Applications\testwin.exe\SupportedTypes' /v .nt2 /d ''

# ---- app list
expect "app list --json" 0 AP list --json vm1
cp "$T/out" "$T/apps.json"
py_json "the all users' shortcut: id, name, program, args" "$T/apps.json" "
a={x['id']:x for x in d['apps']}['test-window']
assert a['name']=='Test Window' and a['program'].lower()=='c:\\\\apps\\\\testwin.exe' and a['args']==['--from-menu'], a
assert sorted(a['icons'])==[48,256], a"
py_json "its file types: ProgID, OpenWith and SupportedTypes extensions, MIME types" "$T/apps.json" "
a={x['id']:x for x in d['apps']}['test-window']
assert {'.ntest','.nt3','.nt2'} <= set(a['extensions']), a['extensions']
assert 'application/x-neuron-test' in a['mimes'] and 'not a type' not in a['mimes'], a['mimes']"
py_json "the user's shortcut of the same name: its own id" "$T/apps.json" "
a={x['id']:x for x in d['apps']}['test-window-2']
assert a['args']==['--user'], a"
py_json "a name with no id's characters: an id of its words" "$T/apps.json" "
a={x['id']:x for x in d['apps']}['neuron-beta-co']
assert a['name']=='Neuron (Beta) & Co' and a['args']==[], a"
py_json "App Paths: a program no shortcut has, named by its key" "$T/apps.json" "
a={x['id']:x for x in d['apps']}['neurontool']
assert a['program'].lower()=='c:\\\\apps\\\\neurontool.exe' and a['args']==[], a"
py_json "left out: a document, a missing program, 300 arguments, App Paths of a listed program" "$T/apps.json" "
ps=[x['program'].lower() for x in d['apps']]
assert not any(p.endswith(('readme.txt','gone.exe')) for p in ps), ps
assert not any(len(x['args'])>256 for x in d['apps'])
assert 'many' not in [x['id'] for x in d['apps']] and 'testwin' not in [x['id'] for x in d['apps']], [x['id'] for x in d['apps']]
ids=[x['id'] for x in d['apps']]; assert len(ids)==len(set(ids)), ids
assert d['truncated'] is False"
expect "app list again" 0 AP list --json vm1
cp "$T/out" "$T/apps2.json"
py_json "the ids are stable" "$T/apps2.json" "
assert [(x['id'],x['program'],x['args']) for x in d['apps']]==[(x['id'],x['program'],x['args']) for x in json.load(open('$T/apps.json'))['apps']]"
expect "app list (text)" 0 AP list vm1
has "the text list names the app" "Test Window"

# ---- icons: through app install, which fetches both sizes (PNG signature checked by the host)
mkdir -p "$T/hostxdg"
XDG_DATA_HOME="$T/hostxdg" expect "app install fetches the icons" 0 AP install vm1 test-window neurontool
for id in test-window neurontool; do
	for s in 48 256; do
		f=$T/hostxdg/icons/hicolor/${s}x$s/apps/neuron-vm1-$id.png
		expect "$id: a ${s}x$s PNG (signature, IHDR)" 0 "$PY" -c "
import struct; b=open('$f','rb').read()
assert b[:8]==b'\x89PNG\r\n\x1a\n' and b[12:16]==b'IHDR', b[:16]
assert struct.unpack('>II', b[16:24])==($s,$s), struct.unpack('>II', b[16:24])"
	done
done
has_line() { if grep -qx -- "$2" "$3"; then ok "$1"; else cp "$3" "$T/out"; bad "$1 (no line '$2')"; fi; }
has_line "the launcher has the app's MIME type" "MimeType=application/x-neuron-test;" \
	"$T/hostxdg/applications/neuron-vm1-test-window.desktop"
expect "an icon of an app the guest does not have" 1 AP install vm1 nosuch

# ---- open with an app, then its window: listed, focused, closed
rm -f "$C/testwin.log"
expect "app run test-window a.ntest (open with the app)" 0 AP run --json vm1 test-window 'C:\docs\a.ntest'
cp "$T/out" "$T/run.json"
log_has "the app started with its arguments and the file" '^start [0-9]+ --from-menu C:\\docs\\a\.ntest$'
pid1=$(sed -n 's/^start \([0-9]*\) --from-menu .*/\1/p' "$C/testwin.log" | head -n 1)
py_json "the reply's pid is the app's" "$T/run.json" "assert d['pids']==[int('${pid1:-0}')], d"
expect "app run neurontool (no file: launch)" 0 AP run vm1 neurontool
log_has "the App Paths program started" '^start [0-9]+$'
pid2=$(sed -n 's/^start \([0-9]*\)$/\1/p' "$C/testwin.log" | head -n 1)
expect "open of a file that is not there" 1 AP run vm1 test-window 'C:\docs\nothere.ntest'
has "the guest says so" "[AGENT_REMOTE]"
sleep 1
expect "app windows --json" 0 AP windows --json vm1
cp "$T/out" "$T/windows.json"
py_json "the window: its title without the control character, the exe, the pid" "$T/windows.json" "
w=[x for x in d['windows'] if x['pid']==int('${pid1:-0}')]
assert len(w)==1 and w[0]['title']=='Neuron test window a.ntest' and w[0]['app'].lower()=='testwin.exe', d
assert w[0]['id'].startswith('0x'), w
assert any(x['pid']==int('${pid2:-0}') and x['app'].lower()=='neurontool.exe' for x in d['windows']), d
assert not any(x['title']=='NeuronOS agent' for x in d['windows']), d"
wid1=$("$PY" -c "import json; print([x['id'] for x in json.load(open('$T/windows.json'))['windows'] if x['pid']==int('${pid1:-0}')][0])" 2>/dev/null)
wid2=$("$PY" -c "import json; print([x['id'] for x in json.load(open('$T/windows.json'))['windows'] if x['pid']==int('${pid2:-0}')][0])" 2>/dev/null)
expect "app windows (text)" 0 AP windows vm1
has "the text list has the window" "Neuron test window a.ntest"
: >"$C/testwin.log"
expect "app focus (the first app's window, behind the second)" 0 AP focus vm1 "$wid1"
log_has "the window came to the front" "^active ${pid1:-x}\$"
expect "app focus of the other" 0 AP focus vm1 "$wid2"
log_has "the other came to the front" "^active ${pid2:-x}\$"
expect "app focus of an id that is no window" 1 AP focus vm1 0x0
expect "app focus of an id that is not hex" 1 AP focus vm1 0xzz
has "a malformed id is a bad request" "bad-request"
expect "app close" 0 AP close vm1 "$wid1"
log_has "the window was asked to close (WM_CLOSE)" "^close ${pid1:-x}\$"
sleep 1
expect "app windows after the close" 0 AP windows --json vm1
cp "$T/out" "$T/windows2.json"
py_json "the closed window is gone, the other is there" "$T/windows2.json" "
assert not any(x['id']=='$wid1' for x in d['windows']) and any(x['id']=='$wid2' for x in d['windows']), d"
expect "app focus of the closed window" 1 AP focus vm1 "$wid1"
has "it is gone" "no window"
expect "app close of the other" 0 AP close vm1 "$wid2"
log_has "the other closed" "^close ${pid2:-x}\$"

# ---- open with the guest's default app for the type (in-process: no neuronctl command
# opens without an app)
: >"$C/testwin.log"
expect "open b.ntest with its default app" 0 wine_ 'C:\probe.exe' open 'C:\docs\b.ntest'
log_has "the type's app opened the file" '^start [0-9]+ C:\\docs\\b\.ntest$'
pid3=$(sed -n 's/^start \([0-9]*\) .*/\1/p' "$C/testwin.log" | head -n 1)
sleep 1
expect "its window" 0 AP windows --json vm1
cp "$T/out" "$T/windows3.json"
wid3=$("$PY" -c "import json; print([x['id'] for x in json.load(open('$T/windows3.json'))['windows'] if x['pid']==int('${pid3:-0}')][0])" 2>/dev/null)
expect "closed" 0 AP close vm1 "${wid3:-0x0}"
expect "open of a missing file with the default app" 1 wine_ 'C:\probe.exe' open 'C:\docs\none.ntest'

# ---- shares: shares.conf came with the credentials (the media's certs\), imported by the
# service; the entries whose drive is there, as X:\ (S: mapped in dosdevices, T: not)
same "the service imported shares.conf with the credentials" "$T/media/certs/shares.conf" "$CRED/shares.conf"
mkdir -p "$T/share"
[ -n "$as" ] && chown 65534:65534 "$T/share"
rm -f "$WINEPREFIX/dosdevices/s:" "$WINEPREFIX/dosdevices/t:"
$as ln -s "$T/share" "$WINEPREFIX/dosdevices/s:"
expect "shares of the imported shares.conf" 0 wine_ 'C:\probe.exe' shares 'C:\ProgramData\NeuronOS\agent'
tr -d '\r' <"$T/out" >"$T/shares.out"
printf 'Documents=S:\\\nLower=S:\\\n' >"$T/shares.want"
same "the shares whose drive is there, as the drive's root (not T:, not a bad name or path)" "$T/shares.want" "$T/shares.out"
expect "shares without a shares.conf: none" 0 wine_ 'C:\probe.exe' shares 'C:\docs'
if [ -s "$T/out" ]; then bad "no shares.conf, no shares"; else ok "no shares.conf, no shares"; fi
