#!/bin/sh
# The README's first command: build svrun, create a demo database, install the example
# plugin (its manifest: what it reads, the table it owns), and run it in the sandbox.
set -eu
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)"

mkdir -p build/demo
rm -f build/demo/sovereign.db
build/bin/svrun init --demo --db sqlite:build/demo/sovereign.db
build/bin/svrun install --db sqlite:build/demo/sovereign.db build/plugins/hello.so
echo "+ svrun --db sqlite:build/demo/sovereign.db build/plugins/hello.so"
status=0
build/bin/svrun --db sqlite:build/demo/sovereign.db build/plugins/hello.so || status=$?
echo "svrun: the plugin exited with status $status"
exit "$status"
