#!/bin/sh
# The README's second command: every test, in a release build with
# _FORTIFY_SOURCE, then with the broker side under AddressSanitizer, UBSan and
# LeakSanitizer, then each fuzz target for a bounded time. The PostgreSQL tests run
# against a throwaway PostgreSQL 15 cluster started here; if it cannot start, the run
# fails. Any failure, or any test that cannot run, fails the whole run.
set -eu
cd "$(dirname "$0")/.."

scripts/deps.sh
jobs=$(nproc)

echo "== a throwaway PostgreSQL cluster for the PostgreSQL tests (stopped at exit)"
pg_dir=$(mktemp -d /tmp/svrun-pg-XXXXXX)
trap 'scripts/pg.sh stop "$pg_dir"' EXIT INT TERM
scripts/pg.sh start "$pg_dir"
export SVRUN_TEST_PG_DIR="$pg_dir" PGPASSFILE="$pg_dir/pgpass"

echo "== release build (-O2 -D_FORTIFY_SOURCE=2)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DCMAKE_C_FLAGS="-D_FORTIFY_SOURCE=2" >/dev/null
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure --no-tests=error

echo "== sanitizer build (ASan + UBSan + LSan on the broker side)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSV_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	ctest --test-dir build-asan --output-on-failure --no-tests=error

echo "== fuzzing (clang libFuzzer + ASan + UBSan), SVRUN_FUZZ_SECONDS each (default 60)"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DSV_FUZZ=ON \
	-DSV_FUZZ_SECONDS="${SVRUN_FUZZ_SECONDS:-60}" >/dev/null
cmake --build build-fuzz -j "$jobs" --target fuzz_frame fuzz_dispatch fuzz_policy
ctest --test-dir build-fuzz --output-on-failure --no-tests=error -R '^fuzz_'
