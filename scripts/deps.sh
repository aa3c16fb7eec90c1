#!/bin/sh
# Installs the Debian 12 packages svrun builds and tests with, when any is missing.
# Runs apt-get as root, or through sudo when that is available.
set -eu

packages="build-essential g++ cmake pkg-config libseccomp-dev libcap-dev libsqlite3-dev
libpq-dev libinih-dev postgresql-15 protobuf-c-compiler libprotobuf-c-dev libcriterion-dev sqlite3 man-db
clang libclang-rt-14-dev"

missing=""
for p in $packages; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "svrun: installing missing packages:$missing"
if [ "$(id -u)" -eq 0 ]; then
	sudo=""
elif command -v sudo >/dev/null 2>&1; then
	sudo="sudo"
else
	echo "svrun: need root or sudo to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing
