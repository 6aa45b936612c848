#!/bin/sh
# Sockets benchmark: time of the sockets kind for a target with 1,000 unix
# socket pairs and 100 loopback TCP connections (both ends held), from BPF
# and from /proc with sock_diag. Prints the section's elapsed time as
# `bpfcp --json dump --only sockets` reports it and the wall time of the
# whole command. Each run is a new bpfcp process, so the BPF figure
# includes loading the sockets object (BTF parse and verification) and the
# pass over every process's socket fds that finds the peers' owners.
# Needs root and the release build (make bench builds it).
set -eu
cd "$(dirname "$0")/../.."
BPFCP=${BPFCP:-.build/release/bpfcp}
WORK=${BENCH_DIR:-build/bench/sockets}
RUNS=${BENCH_RUNS:-5}

rm -rf "$WORK"
mkdir -p "$WORK"
target_pid=""
cleanup() {
	if [ -n "$target_pid" ]; then kill "$target_pid" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

python3 - > "$WORK/ready" <<'PY' &
import resource, signal, socket
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
pairs = [socket.socketpair() for _ in range(1000)]
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(128)
connections = []
for _ in range(100):
    client = socket.create_connection(server.getsockname())
    accepted, _ = server.accept()
    connections += [client, accepted]
print("READY", flush=True)
signal.pause()
PY
target_pid=$!
while ! grep -q READY "$WORK/ready" 2>/dev/null; do sleep 0.05; done

# Prints "section_ms wall_ms sockets" for one dump of the sockets kind; $1 is "" or "--proc".
dump_sockets() {
	start_ns=$(date +%s%N)
	"$BPFCP" --json dump "$target_pid" --only sockets $1 > "$WORK/dump.json"
	end_ns=$(date +%s%N)
	python3 - "$WORK/dump.json" "$start_ns" "$end_ns" <<'PY'
import json, sys
section = json.load(open(sys.argv[1]))["kinds"]["sockets"]
wall = (int(sys.argv[3]) - int(sys.argv[2])) / 1e6
print("%.2f %.1f %d" % (section["elapsed_ns"] / 1e6, wall, len(section["items"])))
PY
}

echo "sockets kind: 1,000 unix socket pairs and 100 loopback TCP connections ($RUNS runs)"
echo "run  bpf_ms  bpf_wall_ms  proc_ms  proc_wall_ms  sockets"
for run in $(seq 1 "$RUNS"); do
	set -- $(dump_sockets "")
	bpf_ms=$1 bpf_wall=$2 count=$3
	set -- $(dump_sockets "--proc")
	printf "%3s  %6s  %11s  %7s  %12s  %7s\n" "$run" "$bpf_ms" "$bpf_wall" "$1" "$2" "$count"
done
