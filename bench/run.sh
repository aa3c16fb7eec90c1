#!/bin/sh
# The benchmark: svrun side by side with what an operator would use instead, in one run,
# every row a ratio. Builds svrun (release) if needed, installs bubblewrap if missing.
# Usage: bench/run.sh   (about two minutes; prints one table)
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
scripts/deps.sh
if ! command -v bwrap >/dev/null 2>&1 || ! command -v gnuplot >/dev/null 2>&1; then
	if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
	$sudo apt-get install -y -q bubblewrap gnuplot-nox >/dev/null
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target svrun svrun-sandbox >/dev/null
svrun=$root/build/bin/svrun
work=$(mktemp -d /tmp/svrun-bench-XXXXXX)
pids=""
pg=""
cleanup() {
	[ -n "$pids" ] && kill $pids 2>/dev/null || true
	[ -n "$pg" ] && scripts/pg.sh stop "$pg"
	rm -rf "$work"
}
trap cleanup EXIT
cc -O2 -Wall $(pkg-config --cflags libpq) -o "$work/tools" bench/tools.c -lsqlite3 -lpq
for p in noop idle query conc; do
	mkdir -p "$work/$p"
	cc -O2 -shared -fPIC -Iinclude "bench/$p.c" -o "$work/$p/$p.so"
done
db=$work/bench.db
"$svrun" init --demo --db "sqlite:$db" >/dev/null
sqlite3 "$db" "WITH RECURSIVE n(i) AS (SELECT 4 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
	INSERT INTO users(id, tenant_id, email, display_name) SELECT i, 1, 'u' || i || '@x', 'user ' || i FROM n;"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) printf "-"; else printf "%.2f", a / b }'; }

echo "svrun benchmark, $(date -u +%Y-%m-%d): $(nproc) vCPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), Linux $(uname -r); no CPU pinning unless stated"
echo

n=50
set -- $("$work/tools" spawn $n "$svrun" --db "sqlite:$db" "$work/noop/noop.so"); sv_med=$1 sv_p90=$2
set -- $("$work/tools" spawn $n bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc /bin/true); bw_med=$1 bw_p90=$2
set -- $("$work/tools" spawn $n unshare --user --map-root-user --pid --net --ipc --uts --mount --fork /bin/true); un_med=$1 un_p90=$2
set -- $("$work/tools" nsspawn $n /bin/true); ns_med=$1 ns_p90=$2
set -- $("$work/tools" spawn $n "$svrun" --version); ve_med=$1 ve_p90=$2
set -- $("$work/tools" spawn $n /bin/true); tr_med=$1 tr_p90=$2
printf '%-58s %10s %10s %8s\n' "spawn (median / p90 in µs, $n runs)" median p90 "vs bwrap"
printf '%-58s %10s %10s %8s\n' "svrun noop.so (6 namespaces, Landlock, 2 filters, dlopen)" "$sv_med" "$sv_p90" "$(ratio "$sv_med" "$bw_med")x"
printf '%-58s %10s %10s %8s\n' "bwrap --unshare-all --ro-bind / / ... /bin/true" "$bw_med" "$bw_p90" "1.00x"
printf '%-58s %10s %10s %8s\n' "unshare into the same six namespaces, then /bin/true" "$un_med" "$un_p90" "$(ratio "$un_med" "$bw_med")x"
printf '%-58s %10s %10s %8s\n' "clone3 into the same six namespaces, exec /bin/true" "$ns_med" "$ns_p90" "$(ratio "$ns_med" "$bw_med")x"
printf '%-58s %10s %10s %8s\n' "svrun --version (exec of svrun and its libraries only)" "$ve_med" "$ve_p90" "$(ratio "$ve_med" "$bw_med")x"
printf '%-58s %10s %10s %8s\n' "fork + exec /bin/true" "$tr_med" "$tr_p90" "$(ratio "$tr_med" "$bw_med")x"
echo

# query.so logs "ns_per_query N" (one at a time) and "ns_per_query_pipelined N".
field() { sed -n "s/.*$1 \([0-9]*\).*/\1/p"; }
out=$("$svrun" --db "sqlite:$db" "$work/query/query.so" 2>&1)
q=$(echo "$out" | field ns_per_query)
qp=$(echo "$out" | field ns_per_query_pipelined)
out=$(taskset -c 0 "$svrun" --db "sqlite:$db" "$work/query/query.so" 2>&1)
q1=$(echo "$out" | field ns_per_query)
ip=$("$work/tools" inproc "$db" 200000)
ipt=$("$work/tools" inproc "$db" 200000 tx)
pp=$("$work/tools" pingpong 200000 128)
pp1=$(taskset -c 0 "$work/tools" pingpong 200000 128)
pps=$("$work/tools" pingpong 200000 128 50000)
printf '%-58s %10s %8s\n' "point query through v_plugin_users (10k users)" "ns/query" "vs in-proc"
printf '%-58s %10s %8s\n' "brokered, one at a time (svrun query.so, sv_query)" "$q" "$(ratio "$q" "$ip")x"
printf '%-58s %10s %8s\n' "brokered, pipelined 64 deep (sv_query_send/recv)" "$qp" "$(ratio "$qp" "$ip")x"
printf '%-58s %10s %8s\n' "brokered, both sides on CPU 0 (taskset -c 0)" "$q1" "$(ratio "$q1" "$ip")x"
printf '%-58s %10s %8s\n' "in-process sqlite3, prepared once" "$ip" "1.00x"
printf '%-58s %10s %8s\n' "in-process, all in one read transaction (no locking)" "$ipt" "$(ratio "$ipt" "$ip")x"
printf '%-58s %10s %8s\n' "socketpair ping-pong, 128 bytes (transport floor)" "$pp" "$(ratio "$pp" "$ip")x"
printf '%-58s %10s %8s\n' "socketpair ping-pong, each side polling 50 µs first" "$pps" "$(ratio "$pps" "$ip")x"
printf '%-58s %10s %8s\n' "socketpair ping-pong, both on CPU 0" "$pp1" "$(ratio "$pp1" "$ip")x"
echo

# PostgreSQL: the same point query through the broker (as the plugin's role) and direct.
pg=$(mktemp -d /tmp/svrun-bench-pg-XXXXXX)
scripts/pg.sh start "$pg" >/dev/null
export PGPASSFILE="$pg/pgpass"
psql -X -q -h "$pg/sock" -p 5499 -U postgres -d postgres -c "CREATE DATABASE bench OWNER svc_core"
pguri="postgresql:///bench?host=$pg/sock&port=5499&user=svc_core"
"$svrun" init --demo --db "$pguri" >/dev/null
psql -X -q "$pguri" -c "INSERT INTO users(id, tenant_id, email, display_name)
	SELECT i, 1, 'u' || i || '@x', 'user ' || i FROM generate_series(4, 10000) i"
"$svrun" install --db "$pguri" "$work/query/query.so" >/dev/null
# Unpinned, the cost of a round trip depends on where the scheduler puts the three
# processes (waking a sleeper on the other vCPU costs ~40-90 µs here), so each way runs
# three times, alternating, and the median counts. Pinned, the client side (svrun and its
# plugin, or the libpq program) runs on CPU 0 and the server on CPU 1: every round trip
# to the server crosses CPUs, the same for both.
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
pg_brokered() { $1 "$svrun" --db "$pguri" "$work/query/query.so" 2>&1 | field ns_per_query; }
pg_direct() { $1 "$work/tools" pgdirect "$pguri" 20000 ${2:-}; }
b1=$(pg_brokered "") d1=$(pg_direct "") p1=$(pg_direct "" prepared)
b2=$(pg_brokered "") d2=$(pg_direct "") p2=$(pg_direct "" prepared)
b3=$(pg_brokered "") d3=$(pg_direct "") p3=$(pg_direct "" prepared)
pq=$(median3 "$b1" "$b2" "$b3") pd=$(median3 "$d1" "$d2" "$d3") pp=$(median3 "$p1" "$p2" "$p3")
postmaster=$(head -n 1 "$pg/data/postmaster.pid")
taskset -p -c 1 "$postmaster" >/dev/null
pq1=$(pg_brokered "taskset -c 0") pd1=$(pg_direct "taskset -c 0")
printf '%-58s %10s %8s\n' "PostgreSQL 15 point query, same view (Unix socket)" "ns/query" "vs libpq"
printf '%-58s %10s %8s\n' "brokered (svrun query.so, as svc_plugin_query), median of 3" "$pq" "$(ratio "$pq" "$pd")x"
printf '%-58s %10s %8s\n' "direct libpq PQexecParams, as the core role, median of 3" "$pd" "1.00x"
printf '%-58s %10s %8s\n' "direct libpq, prepared once (PQexecPrepared), median of 3" "$pp" "$(ratio "$pp" "$pd")x"
printf '%-58s %10s %8s\n' "brokered, client on CPU 0, server on CPU 1" "$pq1" "$(ratio "$pq1" "$pd1")x"
printf '%-58s %10s %8s\n' "direct libpq, client on CPU 0, server on CPU 1" "$pd1" "1.00x"
echo

# Concurrency: N copies of conc.so under one broker (database $2), each 5,000 point
# queries one at a time. Aggregate requests/s over the span from the first start to the
# last end; p50 is the median of the plugins' own p50s, p99 the worst plugin's p99.
conc_run() {
	d="$work/conc$3$1"
	mkdir -p "$d"
	for i in $(seq -w 1 "$1"); do cp "$work/conc/conc.so" "$d/conc$i.so"; done
	case $2 in
	postgresql:*) for f in "$d"/*.so; do "$svrun" install --db "$2" "$f" >/dev/null; done ;;
	esac
	lines=$("$svrun" --db "$2" --timeout 300 --plugins "$d" 2>&1 | grep -o 'conc start .*')
	[ "$(echo "$lines" | wc -l)" -eq "$1" ] || { echo "conc: not every plugin reported" >&2; exit 1; }
	first=$(echo "$lines" | awk '{ print $3 }' | sort -n | head -n 1)
	last=$(echo "$lines" | awk '{ print $5 }' | sort -n | tail -n 1)
	p50=$(echo "$lines" | awk '{ print $7 }' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
	p99=$(echo "$lines" | awk '{ print $9 }' | sort -n | tail -n 1)
	rps=$(awk -v n="$1" -v s="$first" -v e="$last" 'BEGIN { printf "%.0f", n * 5000 / ((e - s) / 1e9) }')
	echo "$1 $rps $((p50 / 1000)) $((p99 / 1000))"
}
printf '%-40s %10s %8s %8s %8s %9s\n' "N plugins under one broker, 5,000 queries each" "req/s" "vs N=1" "p50 µs" "p99 µs" "p99/p50"
: >"$work/conc.dat"
for n in 1 8 64; do
	set -- $(conc_run $n "sqlite:$db" "")
	echo "$*" >>"$work/conc.dat"
	[ "$n" -eq 1 ] && one=$2
	printf '%-40s %10s %8s %8s %8s %9s\n' "N = $n" "$2" "$(ratio "$2" "$one")x" "$3" "$4" "$(ratio "$4" "$3")x"
done
# The same on PostgreSQL, the server unpinned again.
taskset -a -p -c 0-$(($(nproc) - 1)) "$postmaster" >/dev/null
: >"$work/conc-pg.dat"
for n in 1 8 64; do
	set -- $(conc_run $n "$pguri" pg)
	echo "$*" >>"$work/conc-pg.dat"
	[ "$n" -eq 1 ] && one=$2
	printf '%-40s %10s %8s %8s %8s %9s\n' "PostgreSQL, N = $n" "$2" "$(ratio "$2" "$one")x" "$3" "$4" "$(ratio "$4" "$3")x"
done
echo
gnuplot -e "set terminal dumb 78 18; set logscale x 2; set xlabel 'plugins under one broker';
	set ylabel 'requests/s'; set key right top;
	plot '$work/conc.dat' using 1:2 with linespoints title 'aggregate requests/s, SQLite',
	     '$work/conc-pg.dat' using 1:2 with linespoints title 'PostgreSQL'"
gnuplot -e "set terminal dumb 78 18; set logscale x 2; set xlabel 'plugins under one broker';
	set ylabel 'µs'; set logscale y 10; set key left top;
	plot '$work/conc.dat' using 1:3 with linespoints title 'p50 latency, SQLite',
	     '$work/conc.dat' using 1:4 with linespoints title 'p99 (worst plugin), SQLite',
	     '$work/conc-pg.dat' using 1:3 with linespoints title 'p50, PostgreSQL',
	     '$work/conc-pg.dat' using 1:4 with linespoints title 'p99, PostgreSQL'"

# Memory: total PSS of every process of 100 idle sandboxes, each way, and the kernel's
# own memory they hold (slab, kernel stacks, page tables: /proc/meminfo before and with
# them; the machine's other work moves this by a few MiB).
kmem() { awk '/^(Slab|KernelStack|PageTables):/ { s += $2 } END { print int(s / 1024) }' /proc/meminfo; }
pss_of_tree() {
	total=0
	for p in "$@"; do
		for q in $p $(cat /proc/$p/task/*/children 2>/dev/null) $(for c in $(cat /proc/$p/task/*/children 2>/dev/null); do cat /proc/$c/task/*/children 2>/dev/null; done); do
			kb=$(awk '/^Pss:/ { print $2 }' /proc/$q/smaps_rollup 2>/dev/null || echo 0)
			total=$((total + ${kb:-0}))
		done
	done
	echo $((total / 1024))
}
pids=""
k0=$(kmem)
for i in $(seq 1 100); do
	"$svrun" --db "sqlite:$db" --timeout 60 "$work/idle/idle.so" >/dev/null 2>"$work/idle.$i.err" &
	pids="$pids $!"
done
for i in $(seq 1 100); do
	until grep -q idle "$work/idle.$i.err" 2>/dev/null; do sleep 0.1; done
done
sv_mem=$(pss_of_tree $pids)
sv_k=$(($(kmem) - k0))
kill $pids 2>/dev/null || true
wait 2>/dev/null || true
pids=""
sleep 1
k0=$(kmem)
mkdir -p "$work/idle100"
for i in $(seq -w 1 100); do cp "$work/idle/idle.so" "$work/idle100/idle$i.so"; done
"$svrun" --db "sqlite:$db" --timeout 60 --plugins "$work/idle100" >/dev/null 2>"$work/idle100.err" &
pids=$!
until [ "$(grep -c '] idle$' "$work/idle100.err")" -ge 100 ]; do sleep 0.1; done
one_mem=$(pss_of_tree $pids)
one_k=$(($(kmem) - k0))
kill $pids 2>/dev/null || true
wait 2>/dev/null || true
pids=""
sleep 1
k0=$(kmem)
for i in $(seq 1 100); do
	bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc sleep 60 &
	pids="$pids $!"
done
sleep 3
bw_mem=$(pss_of_tree $pids)
bw_k=$(($(kmem) - k0))
kill $pids 2>/dev/null || true
wait 2>/dev/null || true
pids=""
printf '%-58s %10s %8s %10s %8s\n' "100 idle sandboxes: PSS of all their processes, kernel" "PSS MiB" "vs bwrap" "kernel MiB" "vs bwrap"
printf '%-58s %10s %8s %10s %8s\n' "one svrun --plugins DIR (one broker, 100 sandboxed children)" "$one_mem" "$(ratio "$one_mem" "$bw_mem")x" "$one_k" "$(ratio "$one_k" "$bw_k")x"
printf '%-58s %10s %8s %10s %8s\n' "100 svrun idle.so (a broker and a sandboxed child each)" "$sv_mem" "$(ratio "$sv_mem" "$bw_mem")x" "$sv_k" "$(ratio "$sv_k" "$bw_k")x"
printf '%-58s %10s %8s %10s %8s\n' "bwrap ... sleep 60" "$bw_mem" "1.00x" "$bw_k" "1.00x"
