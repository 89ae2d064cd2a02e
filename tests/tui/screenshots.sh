#!/bin/sh
# make screenshots: PNGs of the TUI from real runs. Each scene starts build/neuron-tui
# --demo in a tmux pane of 80x24 (UTF-8, 256 colours), sends its keys, captures the pane
# with its colours, turns it into HTML with aha and renders that with headless Chromium.
#   sh tests/tui/screenshots.sh [OUTDIR]     (default screenshots/)
#   ONLY=NAME sh tests/tui/screenshots.sh    (only the scene NAME, e.g. 07-apps)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$top/build}
out=${1:-$top/screenshots}
work=$(mktemp -d)
sock=$work/tmux.sock
trap 'tmux -S "$sock" kill-server 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$out"
for tool in tmux aha chromium; do
	command -v $tool >/dev/null 2>&1 || { echo "screenshots: $tool is missing (make deps)" >&2; exit 1; }
done

# scene NAME "title" KEY... : a fresh demo run, the keys one by one (a key "@wait"
# waits for the screen to settle a little longer), then a capture.
# ARGS (default --demo) are the program's options for the next scene.
ARGS=--demo
# XDG_DATA_HOME is the scratch folder's: a launcher a scene installs stays there.
scene() {
	name=$1 title=$2
	shift 2
	if [ -n "${ONLY:-}" ] && [ "$ONLY" != "$name" ]; then return 0; fi
	tmux -S "$sock" -f /dev/null new-session -d -s shot -x 80 -y 24 \
		"env LC_ALL=C.UTF-8 TERM=tmux-256color XDG_DATA_HOME=$work/data NEURON_DEMO_SYSROOT=$BUILD/sysroots/demo $BUILD/neuron-tui $ARGS"
	sleep 0.5
	for k in "$@"; do
		case $k in
		@wait) sleep 1.5 ;;
		@type:*) tmux -S "$sock" send-keys -t shot -l "${k#@type:}"; sleep 0.1 ;;
		*) tmux -S "$sock" send-keys -t shot "$k"; sleep 0.15 ;;
		esac
	done
	sleep 0.3
	tmux -S "$sock" capture-pane -e -p -N -t shot >"$work/$name.ans"
	tmux -S "$sock" kill-server 2>/dev/null
	aha --black --title "$title" <"$work/$name.ans" |
		sed 's|<pre>|<pre style="font-family: '"'"'DejaVu Sans Mono'"'"', monospace; font-size: 14px; line-height: 17px; margin: 8px;">|' \
		>"$work/$name.html"
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=696,424 \
		--screenshot="$out/$name.png" "file://$work/$name.html" >/dev/null 2>&1
	if [ -s "$out/$name.png" ]; then echo "screenshots/$name.png: $title"; else echo "screenshots: $name failed" >&2; return 1; fi
}

status=0
scene 01-groups "IOMMU groups panel" || status=1
scene 02-gpus "GPUs panel: a verdict in words for each GPU" 2 || status=1
scene 03-gpu-shared "A GPU that shares its IOMMU group, and why" 2 Down || status=1
scene 04-help "Help, generated from the key table" F1 || status=1
scene 05-vms "VMs panel over libvirt (test:///default in the demo)" F3 Down Down Enter Enter Enter Enter @wait Enter || status=1
# a live agent: libvirt's test driver with a running VM whose agent channel is a unix
# socket, served by the reference neuron-agent with the certificates neuronctl made
ag=$work/agent
mkdir -p "$ag/root"
cat >"$ag/node.xml" <<XML
<node><domain type='test'><name>win11</name><memory>16777216</memory><os><type>hvm</type></os>
<devices><channel type='unix'><source mode='bind' path='$ag/sock'/>
<target type='virtio' name='org.neuronos.agent.0'/></channel></devices></domain></node>
XML
if "$BUILD/neuronctl" --root "$ag/root" agent certs win11 --bundle "$ag/bundle" >/dev/null 2>&1; then
	"$BUILD/neuron-agent" --listen "$ag/sock" --certs "$ag/bundle" --platform memory 2>/dev/null &
	agent_pid=$!
	sleep 0.3
	ARGS="--sysroot $BUILD/sysroots/demo --root $ag/root --connect test://$ag/node.xml"
	scene 06-agents "Agents panel: a live TLS session with the guest agent" 4 @wait || status=1
	# the app list: Enter on the VM; Paint's launcher put in the host's menu (i)
	scene 07-apps "A VM's app list: the guest's apps, a launcher in the host's menu" 4 @wait Enter @wait Down i @wait || status=1
	# the same agent with neuronctl agent sync holding it, on a private X display: a copy on
	# the host reaches the guest, and the panel shows the sync and its last transfer
	if command -v Xvfb >/dev/null 2>&1 && command -v xclip >/dev/null 2>&1 &&
		. "$top/tests/lib.sh" && xvfb_start "$work" 1024x768x24; then
		sync_n="$BUILD/neuronctl --root $ag/root --param runtime_dir=$ag/run"
		mkdir -p "$ag/run" && chmod 700 "$ag/run"
		DISPLAY=$xvfb_display $sync_n agent sync win11 --socket "$ag/sock" --json >"$ag/sync.out" 2>&1 &
		sync_pid=$!
		i=0
		until grep -q '"connected"' "$ag/sync.out" || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
		printf 'Hello from the host desktop' | DISPLAY=$xvfb_display xclip -selection clipboard -i 2>/dev/null
		i=0
		until grep -q '"transfer"' "$ag/sync.out" || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
		ARGS="$ARGS --param runtime_dir=$ag/run"
		scene 07-agents-sync "Agents panel while neuronctl agent sync keeps the clipboard" 4 @wait || status=1
		kill $sync_pid $pids 2>/dev/null
		wait $sync_pid $pids 2>/dev/null
	fi
	ARGS=--demo
	kill $agent_pid 2>/dev/null
else
	scene 06-agents "Agents panel" F3 Down Down Enter Enter Enter Enter @wait Enter 4 || status=1
fi
scene 10-setup-checklist "Setup wizard 1/5: readiness checklist" F2 || status=1
scene 11-setup-pick-gpu "Setup wizard 2/5: pick the GPU, with the reasons" F2 Enter Down || status=1
scene 12-setup-plan "Setup wizard 3/5: the plan as diffs" F2 Enter Enter || status=1
scene 13-setup-confirm "Setup wizard: apply asks first" F2 Enter Enter Enter || status=1
scene 14-setup-apply "Setup wizard 4/5: apply, with the commands' output" F2 Enter Enter Enter Enter @wait || status=1
scene 15-setup-done "Setup wizard 5/5: what now, how to undo" F2 Enter Enter Enter Enter @wait Enter || status=1
scene 16-setup-revert "Revert (F8): what comes back" F2 Enter Enter Enter Enter @wait Enter Enter F8 || status=1
scene 20-newvm-profile "New-VM wizard 1/4: pick a profile" F3 || status=1
scene 21-newvm-form "New-VM wizard 2/4: the settings form" F3 Down Down Enter Down || status=1
scene 22-newvm-xml "New-VM wizard 3/4: the domain XML" F3 Down Down Enter Enter || status=1
scene 23-newvm-done "New-VM wizard 4/4: defined and started" F3 Down Down Enter Enter Enter Enter @wait || status=1
exit $status
