#!/bin/sh
# make screenshots: PNGs of the TUI from real runs. Each scene starts build/neuron-tui
# --demo in a tmux pane of 80x24 (UTF-8, 256 colours), sends its keys, captures the pane
# with its colours, turns it into HTML with aha and renders that with headless Chromium.
#   sh tests/tui/screenshots.sh [OUTDIR]     (default screenshots/)
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
scene() {
	name=$1 title=$2
	shift 2
	tmux -S "$sock" -f /dev/null new-session -d -s shot -x 80 -y 24 \
		"env LC_ALL=C.UTF-8 TERM=tmux-256color NEURON_DEMO_SYSROOT=$BUILD/sysroots/demo $BUILD/neuron-tui --demo"
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
scene 02-gpus "GPUs panel with a verdict in words" 2 || status=1
scene 03-gpu-shared "A GPU that shares its IOMMU group" 2 j || status=1
scene 04-help "Help, generated from the key table" F1 || status=1
scene 10-setup-checklist "Setup wizard: readiness checklist" F2 || status=1
scene 11-setup-pick-gpu "Setup wizard: pick the GPU, with reasons" F2 Enter j || status=1
exit $status
