#!/bin/sh
# Checkpoint benchmark: frozen and total time for a target with 200 open
# files, a pipe, an eventfd, a unix socket pair and 64 MiB of touched
# anonymous memory. Then, at 1 GiB, it compares the page write bandwidth
# of each of BENCH_BIG_RUNS checkpoints with dd writing and syncing the
# same bytes to the same file system right after it. Needs root and the
# release build (make bench builds it).
# BPFCP=PATH runs another build of bpfcp, to compare two side by side.
set -eu
cd "$(dirname "$0")/../.."
BPFCP=${BPFCP:-.build/release/bpfcp}
WORK=${BENCH_DIR:-build/bench/checkpoint}
RUNS=${BENCH_RUNS:-5}
BIG_RUNS=${BENCH_BIG_RUNS:-3}

rm -rf "$WORK"
mkdir -p "$WORK"
gcc -O2 -Wall -o "$WORK/target" tools/bench/checkpoint_target.c
target_pid=""
cleanup() {
	if [ -n "$target_pid" ]; then kill "$target_pid" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# Starts the target with $1 MiB and waits for its READY line.
start_target() {
	"$WORK/target" "$1" "$WORK" > "$WORK/ready" &
	target_pid=$!
	while ! grep -q READY "$WORK/ready" 2>/dev/null; do sleep 0.05; done
}

stop_target() {
	kill "$target_pid"
	wait "$target_pid" 2>/dev/null || true
	target_pid=""
}

# Prints "frozen_ms total_ms sync_ms total_without_sync_ms memory_ms pages
# wall_ms source reap_ms writer" for one checkpoint to $1.
# total_without_sync_ms is total_ms less the time spent waiting for fsync,
# the figure to compare with a tool that leaves its images in the page
# cache. source is where the private pages were read: "snapshot" (a
# copy-on-write copy, after the release) or "held". reap_ms is the second,
# one-thread hold that reaps the copy. writer is who wrote the copy's pages
# to the file: "copy" (the copy itself), "bpfcp" (read through
# /proc/PID/mem), "mixed", or "-" without a copy. Extra arguments go to
# bpfcp dump (BENCH_DUMP_FLAGS=--no-snapshot measures the held path).
# The phases of the checkpoint, in ms, are appended to $WORK/phases as
# one line.
checkpoint() {
	start_ns=$(date +%s%N)
	"$BPFCP" --json dump "$target_pid" -D "$1" ${BENCH_DUMP_FLAGS:-} > "$WORK/report.json"
	end_ns=$(date +%s%N)
	python3 - "$WORK/report.json" "$start_ns" "$end_ns" "$PHASES" <<'PY'
import json, sys
stats = json.load(open(sys.argv[1]))["stats"]
wall = (int(sys.argv[3]) - int(sys.argv[2])) / 1e6
sync = stats["sync_ns"] / 1e6
total = stats["total_ns"] / 1e6
print("%.2f %.2f %.2f %.2f %.2f %d %.1f %s %.2f %s" % (stats["frozen_ns"] / 1e6, total, sync, total - sync,
                                                    stats["memory_ns"] / 1e6, stats["pages_written"], wall,
                                                    stats.get("memory_source", "held"), stats.get("reap_ns", 0) / 1e6,
                                                    stats.get("page_writer", "-")))
phases = stats.get("phases", {})
with open(sys.argv[1] + ".phases", "w") as out:
    out.write(" ".join("%.2f" % (phases[name + "_ns"] / 1e6) if name + "_ns" in phases else "-"
                       for name in sys.argv[4].split()) + "\n")
PY
	cat "$WORK/report.json.phases" >> "$WORK/phases"
}

# Prints "cache_ms synced_ms direct_ms", the times dd takes to write 64 MiB
# to a new file in $WORK in three ways. "cache" leaves the bytes in the page
# cache, as a tool that skips fsync would. "synced" adds conv=fsync, and
# "direct" writes with O_DIRECT, then syncs. No durable image of these
# pages can be written faster than the lesser of the last two.
plain_writes() {
	line=""
	for flags in "" "conv=fsync" "oflag=direct conv=fsync"; do
		start=$(date +%s%N)
		dd if=/dev/zero of="$WORK/plain" bs=8M count=8 $flags status=none
		end=$(date +%s%N)
		rm -f "$WORK/plain"
		line="$line $(( (end - start) / 1000 ))"
	done
	echo "$line" | awk '{ printf "%.1f %.1f %.1f\n", $1 / 1000, $2 / 1000, $3 / 1000 }'
}

PHASES="prepare freeze held kinds memory sections staging encode write sync rename"

echo "64 MiB target, 200 files, pipe, eventfd, unix socket pair ($RUNS runs)"
echo "run frozen_ms total_ms sync_ms total_without_sync_ms memory_ms pages command_wall_ms source reap_ms writer"
start_target 64
: > "$WORK/phases"
: > "$WORK/plain-writes"
for run in $(seq 1 "$RUNS"); do
	echo "$run $(checkpoint "$WORK/image-$run")"
	rm -rf "$WORK/image-$run"
	plain_writes >> "$WORK/plain-writes"
done
stop_target
echo
echo "the same 64 MiB written by dd to the same file system right after each run, ms"
echo "(cache: into the page cache, no sync; synced: then fsync; direct: O_DIRECT, then fsync)"
echo "run cache synced direct"
awk '{ print NR, $0 }' "$WORK/plain-writes"
echo
echo "phases of the same runs, ms (stats.phases; \"-\" from a bpfcp without them)"
echo "run $PHASES"
awk '{ print NR, $0 }' "$WORK/phases"

echo
echo "1 GiB target: checkpoint page bandwidth against dd of the same bytes ($BIG_RUNS runs)"
echo "(checkpoint time: memory_ms plus sync_ms, since dd's time includes its fsync)"
start_target 1024
for run in $(seq 1 "$BIG_RUNS"); do
	set -- $(checkpoint "$WORK/image-big")
	pages=$6
	memory_ms=$(python3 -c "print($5 + $3)")
	bytes=$((pages * 4096))
	rm -rf "$WORK/image-big"
	dd_start=$(date +%s%N)
	dd if=/dev/zero of="$WORK/plain" bs=4M count=$((bytes / 4194304)) conv=fsync status=none
	dd_end=$(date +%s%N)
	rm -f "$WORK/plain"
	python3 - "$bytes" "$memory_ms" "$dd_start" "$dd_end" "$1" "${10}" <<'PY'
import sys
size, memory_ms, start, end, frozen = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
writer = sys.argv[6]
plain_ms = (end - start) / 1e6
checkpoint_bw = size / (memory_ms / 1e3) / 2**20
plain_bw = (size // 4194304 * 4194304) / (plain_ms / 1e3) / 2**20
print("pages %.0f MiB: checkpoint %.0f MiB/s (%.0f ms, frozen %s ms, writer %s), dd %.0f MiB/s (%.0f ms): %.0f%%"
      % (size / 2**20, checkpoint_bw, memory_ms, frozen, writer, plain_bw, plain_ms, 100 * checkpoint_bw / plain_bw))
PY
done
stop_target
