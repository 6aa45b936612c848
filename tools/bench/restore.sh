#!/bin/sh
# Restore benchmark: time of `bpfcp restore` for the restore_basic fixture
# with 64 MiB of patterned memory (heap and anonymous) and 200 open files,
# from opening the image to the final registers loaded (verification off,
# it is timed separately). Each run checkpoints a fresh target, kills it,
# restores it at its pid and asks the restored process to check itself.
# Needs root and the release build (make bench builds it).
set -eu
cd "$(dirname "$0")/../.."
BPFCP=.build/release/bpfcp
WORK=${BENCH_DIR:-build/bench/restore}
RUNS=${BENCH_RUNS:-5}

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

echo "restore of a 64 MiB target with 200 open files ($RUNS runs)"
echo "run  restore_ms  open_ms  plan_ms  verify_ms  syscalls"
for run in $(seq 1 "$RUNS"); do
	rm -rf "$WORK/image" "$WORK"/f* "$WORK/ready"
	"$WORK/target" "$WORK" 64 200 > "$WORK/ready" &
	pid=$!
	while ! grep -q READY "$WORK/ready" 2>/dev/null; do sleep 0.05; done
	check_target
	"$BPFCP" dump "$pid" -D "$WORK/image" --kill > /dev/null
	wait "$pid" 2>/dev/null || true

	"$BPFCP" --json restore -D "$WORK/image" > "$WORK/report.json"
	check_target
	python3 - "$WORK/report.json" "$run" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))["restore"]
print("%3s  %10.2f  %7.2f  %7.2f  %9.2f  %8d" % (sys.argv[2], report["elapsed_ns"] / 1e6, report["open_ns"] / 1e6,
                                             report["plan_ns"] / 1e6, report["verify_ns"] / 1e6, report["syscalls"]))
PY
	kill "$pid"
	pid=""
done
