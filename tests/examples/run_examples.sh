#!/bin/sh
# Runs every example plugin against a fresh demo database and checks what each says:
# the examples are documentation, so they must keep working.
# Usage: run_examples.sh SVRUN PLUGIN_DIR
set -eu
svrun=$1
plugins=$2
work=$(mktemp -d /tmp/svrun-examples-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() {
	echo "run_examples: FAIL: $*" >&2
	exit 1
}

"$svrun" init --demo --db "sqlite:$work/demo.db" >/dev/null
"$svrun" install --db "sqlite:$work/demo.db" "$plugins/hello.so" >/dev/null

# expect PLUGIN STREAM LINE: the plugin exits 0 and prints LINE on STREAM.
expect() {
	"$svrun" --db "sqlite:$work/demo.db" "$plugins/$1.so" >"$work/out" 2>"$work/err" ||
		fail "$1 exited $?: $(cat "$work/err")"
	grep -qxF "$3" "$work/$2" || fail "$1 did not print '$3' on std$2: $(cat "$work/$2")"
	echo "ok: $1: $3"
}

expect hello err "[hello] user 3: Carol"
expect hello err "[hello] visits recorded so far: 2"
expect hello err "[hello] reading the users table: not permitted: access to users (as it should be)"
expect boards err "[boards] board 'Support' owned by Bob"
expect greeter out "[greeter] hello, Alice"
expect greeter out "[greeter] refused as expected: not permitted: access to users"
