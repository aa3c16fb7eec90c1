#!/bin/sh
# Fuzzes one target for a bounded time from a copy of its seed corpus (the corpus in the
# repository stays as committed). A crash fails the test and leaves the input in the
# working directory, to be added to regressions/<target>/.
# Usage: run_fuzzer.sh FUZZER CORPUS SECONDS
set -eu
fuzzer=$1
corpus=$2
seconds=$3
work=$(mktemp -d /tmp/svrun-fuzz-XXXXXX)
cp -r "$corpus/." "$work/"
status=0
"$fuzzer" -close_fd_mask=3 -max_total_time="$seconds" -max_len=65536 -timeout=10 \
	-rss_limit_mb=2048 -artifact_prefix="./" -print_final_stats=1 "$work" || status=$?
rm -rf "$work"
if [ "$status" -ne 0 ]; then
	echo "run_fuzzer: $(basename "$fuzzer") found a failure (status $status); the input is in $(pwd)" >&2
fi
exit "$status"
