#!/bin/sh
# A throwaway PostgreSQL cluster for the tests, on a private socket directory and no TCP.
#
#   scripts/pg.sh start DIR   creates and starts it in DIR (an empty directory)
#   scripts/pg.sh stop DIR    stops it and removes DIR
#   scripts/pg.sh restart DIR restarts it (fast: every session is cut), for fault tests
#   scripts/pg.sh env DIR     prints what the tests read: SVRUN_TEST_PG_DIR and PGPASSFILE
#
# The bootstrap superuser "postgres" connects without a password on the private socket
# (only the test harness uses it, to make and drop a database per test). The core role
# svc_core (LOGIN CREATEROLE, no superuser) has a random password in DIR/pgpass (0600),
# which libpq reads through PGPASSFILE, as an operator's svrun would. Every other role
# logs in with SCRAM only: plugin roles get a password for the instant of a launch.
# Run as root, the server runs as the "postgres" user the Debian package created.
set -eu

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|restart|env DIR" >&2; exit 2; }
port=5499
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bindir/initdb" ] || { echo "pg.sh: no PostgreSQL server (apt-get install postgresql-15)" >&2; exit 1; }

# Runs a command as the cluster's owner.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

case "$cmd" in
start)
	mkdir -p "$dir"
	chmod 0755 "$dir"
	mkdir -m 0700 "$dir/data" "$dir/sock"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir/data" "$dir/sock"
	printf 'local all postgres trust\nlocal all all scram-sha-256\n' >"$dir/hba.conf"
	as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	cp "$dir/hba.conf" "$dir/data/pg_hba.conf"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir/data/pg_hba.conf"
	touch "$dir/server.log"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$dir/server.log"
	as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-k $dir/sock -c listen_addresses= -p $port -c fsync=off -c max_connections=200" \
		start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
	password=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
	umask 077
	printf '*:*:*:svc_core:%s\n' "$password" >"$dir/pgpass"
	"$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir/sock" -p "$port" -U postgres -d postgres <<-EOF
		CREATE ROLE svc_core LOGIN CREATEROLE PASSWORD '$password';
		REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC;
		REVOKE CONNECT, TEMPORARY ON DATABASE template1 FROM PUBLIC;
	EOF
	echo "pg.sh: PostgreSQL $("$bindir/postgres" -V | awk '{print $3}') running on $dir/sock (port $port)"
	;;
restart)
	as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -m fast restart \
		>/dev/null || { cat "$dir/server.log" >&2; exit 1; }
	;;
stop)
	[ -d "$dir/data" ] && as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	rm -rf "$dir"
	;;
env)
	echo "SVRUN_TEST_PG_DIR=$dir"
	echo "PGPASSFILE=$dir/pgpass"
	;;
*)
	echo "usage: $0 start|stop|restart|env DIR" >&2
	exit 2
	;;
esac
