#!/usr/bin/env bash
# Where PostgreSQL ingest time goes: one load against gateways on a private PostgreSQL with pg_stat_statements
# (track = all, so the statements inside the hot-path functions are counted one by one) and track_functions, then
# the statements by total time, the functions, how the event rows were stored (compression), and each process's
# CPU. With RATE set, an open loop of the mixed generated corpus (fieldgate replay) instead of wrk. What found the
# hot-path plans and the compression (docs/PERFORMANCE.md). pg_stat_activity cannot tell the committer's connection
# from the pool's other idle ones, so this does not sample it.
#   scripts/profile-postgres.sh BINARY [seconds, default 10] [wrk connections, default 64]
#   N=2 (two gateways: wrk or the corpus split between them)   RATE=2300 (open loop, requests/s in all)
#   PGEXTRA="-c name=value …" (server settings to compare)     PERF=1 (perf record -a for 5 s, CPU by process; PERFKEEP=FILE keeps perf.data)
#   WARM=10 (seconds of closed-loop warm-up on every gateway before the measured load; default 2)
#   AFTERWARM="SQL" / AFTERWARM_SH="shell" (run between the warm-up and the load, e.g. "sleep 20" to let the
#   kernel's writeback of the warm-up's pages fall into the load, or "sync; sleep 20" to keep it out)
#   SHOWLOG="regex" (the server log's matching lines, e.g. with PGEXTRA="-c log_min_duration_statement=15")
# It also prints how much WAL the measured load wrote and how many segment files the server then had.
# Needs wrk and Debian's postgresql; a release build: swift build -c release --product fieldgate.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=$(realpath "$1")
duration="${2:-10}"
connections="${3:-64}"
shared="${FIELDGATE_SHARED:-../shared}"
bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
work="$(mktemp -d)"
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -n "${pg:-}" ] && { kill -INT "$pg" 2>/dev/null || true; wait "$pg" 2>/dev/null || true; }
    rm -rf "$work"
}
trap cleanup EXIT

as_postgres=()
mkdir "$work/pg"
if [ "$(id -u)" = 0 ]; then as_postgres=(setpriv --reuid=postgres --regid=postgres --init-groups); chown postgres:postgres "$work/pg"; fi
"${as_postgres[@]}" "$bin/initdb" -D "$work/pg/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
port=18690
# shellcheck disable=SC2086
"${as_postgres[@]}" "$bin/postgres" -D "$work/pg/data" -p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories= \
    -c max_connections=200 -c shared_buffers=256MB -c shared_preload_libraries=pg_stat_statements \
    -c pg_stat_statements.track=all -c track_functions=all ${PGEXTRA:-} >"$work/postgres.log" 2>&1 &
pg=$!
for _ in $(seq 1 100); do "$bin/pg_isready" -q -h 127.0.0.1 -p $port -U postgres && break; sleep 0.1; done
sql() { psql -h 127.0.0.1 -p $port -U postgres -d "${2:-one}" -XAc "$1"; }
psql -h 127.0.0.1 -p $port -U postgres -XAtqc "CREATE DATABASE one" >/dev/null
sql "CREATE EXTENSION pg_stat_statements" >/dev/null

python3 - "$shared/corpus/fieldgate.yaml" "{postgres: \"postgres://postgres@127.0.0.1:$port/one?sslmode=disable\"}" >"$work/gateway.yaml" <<'PY'
import sys
source, storage = sys.argv[1], sys.argv[2]
lines = open(source).read().split("\n")
tenants = [line for line in lines[lines.index("tenants:"):] if not line.startswith("subscribers:")]
print("server: {host: 127.0.0.1, port: 0, maxBodyBytes: 1048576}")
print(f"storage: {storage}")
print("admin: {token: measure}")
print("delivery: {allowNetworks: [127.0.0.0/8], maxConcurrency: 64}")
print("\n".join(tenants).rstrip())
print("  - {vendor: techlink, tenant: demo-techlink}")
PY
n="${N:-1}"
bases=()
for i in $(seq 1 "$n"); do
    "$binary" serve --config "$work/gateway.yaml" --log-level warning >"$work/gateway$i.log" 2>"$work/gateway$i.err" &
    pids+=($!)
    for _ in $(seq 1 200); do grep -q "listening on" "$work/gateway$i.log" && break; sleep 0.1; done
    bases+=("$(grep -o 'http://127.0.0.1:[0-9]*' "$work/gateway$i.log" | head -1)")
done

echo "machine: $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# Warm-up: a closed loop on every gateway (WARM seconds, 2 by default; measure-postgres.sh's open loop follows a
# 10 s one on the same gateway and database).
warmups=()
for i in $(seq 1 "$n"); do
    FIELDGATE_PREFIX=W$i wrk -t1 -c$((connections / n)) -d"${WARM:-2}s" -s scripts/load/techlink-unique.lua \
        "${bases[$((i - 1))]}" >/dev/null &
    warmups+=($!)
done
wait "${warmups[@]}"
[ -n "${AFTERWARM:-}" ] && sql "$AFTERWARM" >/dev/null
[ -n "${AFTERWARM_SH:-}" ] && bash -c "$AFTERWARM_SH"
sql "SELECT pg_stat_statements_reset(), pg_stat_reset()" >/dev/null
lsn0=$(psql -h 127.0.0.1 -p $port -U postgres -XAtc "SELECT pg_current_wal_lsn()")
if [ -n "${PERF:-}" ]; then
    (sleep 2; perf record -e cpu-clock -F 999 -g -a -o "$work/perf.data" -- sleep 5 >/dev/null 2>&1) &
    perfpid=$!
fi
if [ -n "${RATE:-}" ]; then
    "$binary" corpus generate --events $((RATE * duration + 1000)) --seed 13 --duplicates 0 --bad 0 >"$work/corpus.ndjson" 2>/dev/null
    sql "SELECT pg_stat_statements_reset()" >/dev/null
    replays=()
    for i in $(seq 0 $((n - 1))); do
        # Alternate lines to each gateway: a job's events arrive at all of them, as behind a load balancer.
        awk -v n="$n" -v i="$i" 'NR % n == i' "$work/corpus.ndjson" >"$work/corpus$i.ndjson"
        "$binary" replay "$work/corpus$i.ndjson" --target "${bases[$i]}" --rate $((RATE / n)) --duration "${duration}s" \
            2>/dev/null | grep -E "^(requests|latency)" &
        replays+=($!)
    done
    wait "${replays[@]}"
else
    wrks=()
    for i in $(seq 1 "$n"); do
        FIELDGATE_PREFIX=P$i wrk -t$((n == 1 ? 2 : 1)) -c$((connections / n)) -d"${duration}s" --latency \
            -s scripts/load/techlink-unique.lua "${bases[$((i - 1))]}" >"$work/wrk$i.out" &
        wrks+=($!)
    done
    wait "${wrks[@]}"
    grep -hE "Requests/sec|99%" "$work"/wrk*.out
fi
[ -n "${perfpid:-}" ] && wait "$perfpid"
psql -h 127.0.0.1 -p $port -U postgres -XAtc "SELECT 'WAL during the run: ' || pg_size_pretty(pg_current_wal_lsn() - '$lsn0'::pg_lsn) || ', segment files: ' || (SELECT count(*) FROM pg_ls_waldir())"
# Whether the server checkpointed during the run, and how long its commits (with their WAL flush) took in all.
sql "SELECT checkpoints_timed + checkpoints_req AS checkpoints, buffers_checkpoint, buffers_backend FROM pg_stat_bgwriter"
sql "SELECT calls, round(total_exec_time::numeric, 1) AS ms, query FROM pg_stat_statements WHERE query = 'COMMIT'"
sql "SELECT calls, round(total_exec_time::numeric, 1) AS ms, round((total_exec_time / calls)::numeric, 3) AS per_call, rows,
     left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS statement
     FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 20"
sql "SELECT funcname, calls, round(total_time::numeric, 1) AS total, round(self_time::numeric, 1) AS self
     FROM pg_stat_user_functions ORDER BY total_time DESC"
sql "SELECT vendor, count(*), count(*) FILTER (WHERE pg_column_compression(raw_body) IS NOT NULL) AS bodies_compressed,
     string_agg(DISTINCT pg_column_compression(raw_body), ',') AS method, avg(pg_column_size(event.*))::int AS row_bytes
     FROM event GROUP BY vendor"
[ -n "${SHOWLOG:-}" ] && { grep -E "$SHOWLOG" "$work/postgres.log" | cut -c1-220 | tail -40 || true; }
echo "CPU (cumulative, warm-up included):"
ps -o pid,time,comm -u postgres --sort=-time | head -4
for pid in "${pids[@]}"; do ps -o pid,time,comm -p "$pid" | tail -1; done
if [ -n "${PERF:-}" ]; then
    perf report -i "$work/perf.data" --no-children --sort comm --stdio 2>/dev/null | grep -E "^ +[0-9]" | head -8
    if [ -n "${PERFKEEP:-}" ]; then cp "$work/perf.data" "$PERFKEEP"; fi
fi
