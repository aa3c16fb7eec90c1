#!/bin/sh
# Installs svrun the two ways an operator would, and uses it from outside the source tree:
#  1) cmake --install into a prefix: plugins built with pkg-config and with
#     find_package(SovereignPlugin), the demo run, the man pages rendered without warnings;
#  2) the .deb from CPack, installed into this machine with dpkg, run, and removed.
# Usage: check_install.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1
build=$2
work=$(mktemp -d /tmp/svrun-pkg-XXXXXX)
deb_installed=0
cleanup() {
	if [ "$deb_installed" = 1 ]; then
		dpkg -r svrun >/dev/null 2>&1 || echo "check_install: could not remove the svrun package" >&2
	fi
	rm -rf "$work"
}
trap cleanup EXIT
fail() {
	echo "check_install: FAIL: $*" >&2
	exit 1
}
cd "$work"

echo "== cmake --install into $work/prefix"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
prefix=$work/prefix
export PKG_CONFIG_PATH="$prefix/share/pkgconfig"
"$prefix/bin/svrun" --version | grep -q '^svrun ' || fail "installed svrun --version"
"$prefix/bin/svrun" init --demo --db "sqlite:$work/demo.db" >/dev/null

# The PostgreSQL backend is a module svrun loads from its own install: a server that is
# not there must fail in the module (a connection error), not for want of the module.
"$prefix/bin/svrun" init --db "postgresql:///x?host=/nonexistent&connect_timeout=1" \
	>/dev/null 2>err.txt && fail "init against no PostgreSQL server succeeded"
grep -q 'cannot connect to PostgreSQL' err.txt ||
	fail "installed svrun did not reach its PostgreSQL module: $(cat err.txt)"

cc -shared -fPIC $(pkg-config --cflags sovereign-plugin) \
	"$prefix/share/doc/svrun/examples/hello.c" -o "$work/hello.so"
"$prefix/bin/svrun" --db "sqlite:$work/demo.db" "$work/hello.so" >out.txt 2>err.txt ||
	fail "hello.so built with pkg-config exited $?: $(cat err.txt)"
grep -q '^\[hello\] user 1: Alice$' err.txt || fail "hello.so did not list the demo users"

mkdir consumer
cp "$prefix/share/doc/svrun/examples/boards.c" consumer/
cat >consumer/CMakeLists.txt <<'CMAKE'
cmake_minimum_required(VERSION 3.18)
project(consumer C)
find_package(SovereignPlugin 0.1 REQUIRED)
sovereign_add_plugin(boards boards.c)
CMAKE
cmake -S consumer -B consumer/build -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build consumer/build >/dev/null
"$prefix/bin/svrun" --db "sqlite:$work/demo.db" consumer/build/boards.so >out.txt 2>err.txt ||
	fail "boards.so built with find_package exited $?: $(cat err.txt)"
grep -q "board 'Roadmap' owned by Alice" err.txt || fail "boards.so output"

for page in man1/svrun.1 man5/svrun-policy.5 man5/svrun-manifest.5; do
	warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$prefix/share/man/$page" 2>&1 >/dev/null)
	[ -z "$warnings" ] || fail "man $page: $warnings"
done
[ -f "$prefix/share/bash-completion/completions/svrun" ] || fail "bash completion not installed"
bash -n "$prefix/share/bash-completion/completions/svrun" || fail "bash completion syntax"
echo "prefix install: ok"

echo "== .deb from cpack, installed with dpkg"
[ "$(id -u)" -eq 0 ] || fail "installing the .deb needs root; run the tests as root (CI does)"
if dpkg-query -W -f='${Status}' svrun 2>/dev/null | grep -q "install ok installed"; then
	fail "an svrun package is already installed on this machine; remove it first"
fi
cmake -S "$src" -B debbuild -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
	-DBUILD_TESTING=OFF >/dev/null
cmake --build debbuild -j "$(nproc)" >/dev/null
(cd debbuild && cpack -G DEB >/dev/null)
deb=$(ls debbuild/svrun_*.deb)
dpkg-deb -c "$deb" >contents.txt
for f in ./usr/bin/svrun ./usr/libexec/svrun/svrun-sandbox ./usr/libexec/svrun/svrun-backend-pg.so \
	./usr/share/svrun/policies/default.policy \
	./usr/include/sovereign/plugin.h ./usr/share/pkgconfig/sovereign-plugin.pc \
	./usr/share/man/man1/svrun.1 ./usr/share/man/man5/svrun-policy.5 \
	./usr/share/man/man5/svrun-manifest.5; do
	grep -q " $f\$" contents.txt || fail "$deb lacks $f"
done
dpkg -i "$deb" >/dev/null
deb_installed=1
/usr/bin/svrun init --demo --db "sqlite:$work/deb.db" >/dev/null
cc -shared -fPIC $(PKG_CONFIG_PATH= pkg-config --cflags sovereign-plugin) \
	/usr/share/doc/svrun/examples/hello.c -o "$work/consumer/hello.so"
/usr/bin/svrun --db "sqlite:$work/deb.db" "$work/consumer/hello.so" >out.txt 2>err.txt ||
	fail "the packaged svrun exited $?: $(cat err.txt)"
grep -q '^\[hello\] reading the users table: not permitted' err.txt || fail "packaged run output"
echo ".deb install: ok"
