#!/bin/sh
# Runs every benchmark in tools/bench/*.sh against the release build.
# Each script prints its own figures; docs/BENCHMARKS.md records them.
set -eu
cd "$(dirname "$0")/.."
status=0
for script in tools/bench/*.sh; do
	echo "== $script"
	sh "$script" || status=1
done
exit $status
