#!/bin/sh
# Takes real screenshots of bpfcp-top running --demo: the process list, the
# Files tab of the demo's dump, its family and a diff of two checkpoints.
# Each screen is captured from tmux with its colors, turned into HTML by
# aha and rendered to PNG by headless Chromium. Needs root (for eBPF) and the Debian packages tmux, aha and
# chromium, which only this script uses:
#   apt-get install -y aha chromium fonts-dejavu-core
# Usage: tools/screenshots.sh [BINARY]   (default .build/release/bpfcp-top)
set -eu

binary=${1:-.build/release/bpfcp-top}
out=screenshots
cols=120
rows=32
socket=bpfcp-shots-$$
work=$(mktemp -d)
trap 'tmux -L "$socket" kill-server 2>/dev/null || true; rm -rf "$work"' EXIT

for tool in tmux aha chromium; do
	command -v "$tool" >/dev/null || { echo "screenshots: $tool is missing: apt-get install -y aha chromium tmux" >&2; exit 1; }
done
[ -x "$binary" ] || { echo "screenshots: $binary not found: run make release first" >&2; exit 1; }
mkdir -p "$out"

keys() {
	for key in "$@"; do
		tmux -L "$socket" send-keys -t shots "$key"
		sleep 0.5
	done
}

# Renders the pane to $out/$1.png through aha and Chromium.
shoot() {
	tmux -L "$socket" capture-pane -e -p -N -t shots > "$work/$1.ansi"
	aha --black --title "bpfcp-top" < "$work/$1.ansi" |
		sed 's|</head>|<style>body{margin:8px;font-family:"DejaVu Sans Mono",monospace;font-size:14px;line-height:17px}pre{margin:0}</style></head>|' \
		> "$work/$1.html"
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
		--window-size=$((cols * 85 / 10 + 16)),$((rows * 17 + 16)) \
		--screenshot="$PWD/$out/$1.png" "file://$work/$1.html" 2>/dev/null
	echo "screenshots: wrote $out/$1.png"
}

tmux -L "$socket" -f /dev/null new-session -d -s shots -x "$cols" -y "$rows" \
	"env LANG=C.UTF-8 $binary --demo -F bpfcp-"
tmux -L "$socket" set-option -t shots status off
sleep 4

# The demo opens on its dump: go to the Files tab, then back to the tree.
keys Tab Tab
shoot dump-files
# The family of the demo, with the pipe and socket between parent and child.
keys F
sleep 2
shoot family
# Two checkpoints of the demo, marked in the captures list and compared.
keys Escape c
sleep 3
keys c
sleep 3
keys C m Down m D
sleep 2
shoot diff
keys Escape Escape Escape t
sleep 2
shoot process-list
keys q
