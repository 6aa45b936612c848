#!/bin/sh
# Full-dump benchmark: a dump of every kind for a process with 10,000 fds
# of mixed kinds (tools/bench/mixed_fds.c), from eBPF and from /proc plus
# netlink (sock_diag), side by side. Dumps run inside one bpfcp-bench
# process, so the BPF objects load once, in a warm-up dump that is not
# counted. Prints a Markdown table; docs/BENCHMARKS.md records it.
# Needs root and the release build (make bench builds it).
set -eu
cd "$(dirname "$0")/../.."
WORK=${BENCH_DIR:-build/bench/full_dump}
RUNS=${BENCH_RUNS:-9}

rm -rf "$WORK"
mkdir -p "$WORK"
target_pid=""
cleanup() {
	if [ -n "$target_pid" ]; then kill "$target_pid" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

gcc -Wall -O2 -o "$WORK/mixed_fds" tools/bench/mixed_fds.c
"$WORK/mixed_fds" 10000 > "$WORK/ready" &
target_pid=$!
while ! grep -q READY "$WORK/ready" 2>/dev/null; do sleep 0.05; done

echo "full dump of every kind, 10,000 fds of mixed kinds ($RUNS runs)"
.build/release/bpfcp-bench --full-dump "$target_pid" --runs "$RUNS"
