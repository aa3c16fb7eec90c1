#!/bin/sh
# Runs every command the README shows in its ```console blocks, in order, so the README
# cannot drift from the program. A line "$ CMD" is run from a scratch directory that
# looks like the repository root (build/, include/, examples/, policies/ are links);
# "# exits N" at the end of a line is the status it must end with (default 0).
# Usage: check_readme.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1
build=$2
work=$(mktemp -d /tmp/svrun-readme-XXXXXX)
trap 'rm -rf "$work"' EXIT
ln -s "$build" "$work/build"
for d in include examples policies; do
	ln -s "$src/$d" "$work/$d"
done

awk '/^```console$/ { on = 1; next } /^```/ { on = 0 } on && /^\$ / { print substr($0, 3) }' \
	"$src/README.md" >"$work/commands"
count=$(wc -l <"$work/commands")
[ "$count" -gt 0 ] || { echo "check_readme: FAIL: no console commands found" >&2; exit 1; }

n=0
failed=0
while IFS= read -r line; do
	n=$((n + 1))
	want=0
	case $line in
	*"# exits "*) want=${line##*# exits } ;;
	esac
	got=0
	(cd "$work" && sh -c "$line") >"$work/out" 2>&1 </dev/null || got=$?
	if [ "$got" != "$want" ]; then
		echo "check_readme: FAIL: '$line' exited $got, the README says $want:" >&2
		sed 's/^/    /' "$work/out" >&2
		failed=$((failed + 1))
	else
		echo "ok $n: $line"
	fi
done <"$work/commands"
echo "check_readme: $((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
