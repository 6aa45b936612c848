#!/bin/sh
# Installs the Debian packages that building and testing bpfcp need, when
# any is missing. Run as root; otherwise prints the exact command to run.
set -eu

packages="libbpf-dev libelf-dev zlib1g-dev clang-14 bpftool libncursesw5-dev tmux gcc make python3 strace util-linux e2fsprogs"

missing=""
for pkg in $packages; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $pkg"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "bpfcp: missing Debian packages:$missing" >&2
	echo "bpfcp: install them as root: apt-get update && apt-get install -y$missing" >&2
	exit 1
fi

echo "bpfcp: installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq $missing
