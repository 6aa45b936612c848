#!/bin/sh
# Restore benchmark: time of `bpfcp restore` for the restore_basic fixture
# with 200 open files and 64 MiB of touched anonymous memory, the size the
# CRIU comparison uses: 32 MiB of patterned heap and 32 MiB of patterned
# anonymous memory. RESTORE_MIB=N sets each of the two to N MiB. Runs
# before 2026-12-05 08:10 UTC used 64 (128 MiB of pages).
#
# restore_ms runs from opening the image to the final registers loaded,
# the point where the restored process could run. It leaves out the
# verification that `restore` runs by default, which has no counterpart in
# CRIU's restore: verify_ms loads the BPF objects, dumps the restored
# process and compares it with the image. with_verify_ms is the sum of the
# two, and wall_ms the whole command, process start included.
#
# The other columns split restore_ms into phases (the phases object in
# docs/JSON.md). check is the pages checksum on its own thread, which
# overlaps open, plan, spawn and memory, and wait the part of it that
# restore waited for. other is the rest: process settings, threads,
# limits, credentials, signals and registers.
#
# Each run checkpoints a fresh target, kills it, restores it at its pid
# and asks the restored process to check itself. Needs root and the
# release build (make bench builds it). BPFCP=PATH times another bpfcp
# binary; one without the phases object prints 0 for the phases after plan.
set -eu
cd "$(dirname "$0")/../.."
BPFCP=${BPFCP:-.build/release/bpfcp}
WORK=${BENCH_DIR:-build/bench/restore}
RUNS=${BENCH_RUNS:-5}
MIB=${RESTORE_MIB:-32}

rm -rf "$WORK"
mkdir -p "$WORK"
gcc -O2 -Wall -o "$WORK/target" Tests/Fixtures/restore_basic.c
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# Asks the target to check itself; fails unless it reports "pass".
check_target() {
	rm -f "$WORK/result"
	touch "$WORK/check"
	tries=0
	while [ ! -e "$WORK/result" ] && [ $tries -lt 500 ]; do sleep 0.01; tries=$((tries + 1)); done
	grep -q '^pass' "$WORK/result" || { echo "restored process failed its check: $(cat "$WORK/result" 2>/dev/null)"; exit 1; }
}

echo "restore of a target with $((MIB * 2)) MiB of anonymous memory and 200 open files ($RUNS runs)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "run  restore_ms  open  plan  spawn  memory  pages  check  wait  files  other  verify_ms  with_verify_ms  wall_ms  syscalls"
for run in $(seq 1 "$RUNS"); do
	rm -rf "$WORK/image" "$WORK"/f* "$WORK/ready"
	"$WORK/target" "$WORK" "$MIB" 200 > "$WORK/ready" &
	pid=$!
	while ! grep -q READY "$WORK/ready" 2>/dev/null; do sleep 0.05; done
	check_target
	"$BPFCP" dump "$pid" -D "$WORK/image" --kill > /dev/null
	wait "$pid" 2>/dev/null || true

	start=$(date +%s%N)
	"$BPFCP" --json restore -D "$WORK/image" > "$WORK/report.json"
	end=$(date +%s%N)
	check_target
	python3 - "$WORK/report.json" "$run" "$((end - start))" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))["restore"]
phases = report.get("phases", {"open_ns": report["open_ns"], "plan_ns": report["plan_ns"]})
ms = lambda key: phases.get(key, 0) / 1e6
other = report["elapsed_ns"] / 1e6 - sum(ms(key) for key in ["open_ns", "plan_ns", "spawn_ns", "memory_ns", "pages_wait_ns", "files_ns"])
print("%3s  %10.2f  %4.1f  %4.1f  %5.1f  %6.1f  %5.1f  %5.1f  %4.1f  %5.1f  %5.1f  %9.2f  %14.2f  %7.1f  %8d" % (
    sys.argv[2], report["elapsed_ns"] / 1e6, ms("open_ns"), ms("plan_ns"), ms("spawn_ns"), ms("memory_ns"), ms("pages_ns"),
    ms("pages_check_ns"), ms("pages_wait_ns"), ms("files_ns"), other, report["verify_ns"] / 1e6,
    (report["elapsed_ns"] + report["verify_ns"]) / 1e6, int(sys.argv[3]) / 1e6, report["syscalls"]))
PY
	kill "$pid"
	pid=""
done
