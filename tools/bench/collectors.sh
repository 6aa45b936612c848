#!/bin/sh
# Collector benchmark: the eBPF and /proc collectors side by side on
# workloads bpfcp-bench starts itself (1,000 sleeping processes, a process
# with 10,000 fds, one with 20,000 memory areas), plus bpfcp-top's start and
# CPU use. Replaces its own section of docs/BENCHMARKS.md. Needs root and
# the release build (make bench builds it).
set -eu
cd "$(dirname "$0")/../.."
.build/release/bpfcp-bench --output docs/BENCHMARKS.md "$@"
