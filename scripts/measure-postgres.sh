#!/usr/bin/env bash
# Measures the shared store on loopback, side by side with SQLite in the same run (issue 13's targets):
#   1. durable ingest, closed loop: one gateway on SQLite, one on PostgreSQL, two on one PostgreSQL database (each
#      loaded by its own wrk with half the connections; the rates add up);
#   2. open loop at half the one-instance PostgreSQL rate (fieldgate replay, latency from each request's intended
#      start) against one PostgreSQL gateway, and against two behind nothing (half the rate each);
#   3. fan-out from two instances: what wrk posted for a while, spread over J jobs, is queued for one subscriber at
#      once (POST …/recover), both
#      instances deliver to nginx answering 204; the rate is deliveries over the span from first to last, and the
#      order of each job's deliveries is checked against acceptance order.
# PostgreSQL is a private server started here (initdb into a temporary folder, fsync and synchronous_commit on, as
# the postgres user when run as root), stopped and removed at the end. Needs wrk, nginx and Debian's postgresql.
#   scripts/measure-postgres.sh [seconds per run, default 15] [connections, default 64] [fan-out jobs, default 5000]
# WAL=recycled (default) or fresh: whether 1 GB of WAL segments is written and recycled before the runs. A fresh
# cluster has none to recycle and zero-fills each new 16 MB segment while holding the WAL write lock: every commit
# waits for it (tens of ms on this VM), which a server that has run a while does not do (docs/PERFORMANCE.md).
# SETTLE=1 (default) or 0: whether each phase starts with a sync. Without it the kernel writes back the previous
# phase's pages (30 s after they were dirtied) during the next one, and the WAL's flushes wait behind that
# writeback (docs/PERFORMANCE.md). Not a CHECKPOINT: after one, each page's first change is written to the WAL
# whole, which slows the phase that follows.
# FANOUT_CONCURRENCY (default 256): the fan-out subscriber's maxConcurrency and each gateway's delivery.maxConcurrency.
# The closed-loop table also gives the CPU time each accepted request cost the gateway(s) and the PostgreSQL server
# (all its processes), from /proc before and after the run: on two shared cores the rate follows their sum.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-15}"
connections="${2:-64}"
fanout="${3:-5000}"
fanout_concurrency="${FANOUT_CONCURRENCY:-256}"
for tool in wrk nginx psql; do command -v $tool >/dev/null || { echo "$tool is missing (apt-get install wrk nginx postgresql)" >&2; exit 2; }; done
bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"

swift build -c release --product fieldgate >/dev/null
binary="$(swift build -c release --show-bin-path)/fieldgate"
work="$(mktemp -d)"
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    [ -n "${pg:-}" ] && { kill -INT "$pg" 2>/dev/null || true; wait "$pg" 2>/dev/null || true; }
    rm -rf "$work"
}
trap cleanup EXIT

# --- PostgreSQL ---------------------------------------------------------------------------------------------------
as_postgres=()
if [ "$(id -u)" = 0 ]; then as_postgres=(setpriv --reuid=postgres --regid=postgres --init-groups); mkdir "$work/pg"; chown postgres:postgres "$work/pg"; else mkdir "$work/pg"; fi
"${as_postgres[@]}" "$bin/initdb" -D "$work/pg/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
pgport=18590
"${as_postgres[@]}" "$bin/postgres" -D "$work/pg/data" -p "$pgport" -c listen_addresses=127.0.0.1 \
    -c unix_socket_directories= -c max_connections=200 -c shared_buffers=256MB -c min_wal_size=1GB \
    -c log_autovacuum_min_duration=0 -c "log_line_prefix=%m " >"$work/postgres.log" 2>&1 &
pg=$!
for _ in $(seq 1 100); do "$bin/pg_isready" -q -h 127.0.0.1 -p "$pgport" -U postgres && break; sleep 0.1; done
if [ "${WAL:-recycled}" = recycled ]; then
    # 64 segment switches, then two checkpoints: the old segments become the next ones (min_wal_size keeps 1 GB).
    psql -h 127.0.0.1 -p "$pgport" -U postgres -XAtq >/dev/null <<'SQL'
CREATE TABLE wal_preheat (n int);
DO $$ BEGIN FOR i IN 1..64 LOOP INSERT INTO wal_preheat VALUES (i); PERFORM pg_switch_wal(); END LOOP; END $$;
DROP TABLE wal_preheat;
CHECKPOINT;
CHECKPOINT;
SQL
fi
settle() { # the kernel's dirty pages of one phase are written back before the next starts, not during it
    [ "${SETTLE:-1}" = 0 ] && return
    sync
}
database() { psql -h 127.0.0.1 -p "$pgport" -U postgres -XAtqc "CREATE DATABASE $1" >/dev/null; echo "postgres://postgres@127.0.0.1:$pgport/$1?sslmode=disable"; }

# --- gateways -----------------------------------------------------------------------------------------------------
shared="${FIELDGATE_SHARED:-../shared}"
config() { # name storage [delivery concurrency]: the shared corpus's tenants (for the generated corpus) and demo-techlink (for wrk)
    python3 - "$shared/corpus/fieldgate.yaml" "$2" "${3:-64}" >"$work/$1.yaml" <<'PY'
import sys
source, storage, concurrency = sys.argv[1], sys.argv[2], sys.argv[3]
lines = open(source).read().split("\n")
tenants = lines[lines.index("tenants:"):]
tenants = [line for line in tenants if not line.startswith("subscribers:")]
print("server: {host: 127.0.0.1, port: 0, maxBodyBytes: 1048576}")
print(f"storage: {storage}")
print("admin: {token: measure}")
print(f"delivery: {{allowNetworks: [127.0.0.0/8], maxConcurrency: {concurrency}}}")
print("retention: {events: 3650d, quarantine: 3650d, deliveries: 3650d}")
print("\n".join(tenants).rstrip())
print("  - {vendor: techlink, tenant: demo-techlink}")
PY
}
start() { # name config -> sets $base
    "$binary" serve --config "$2" --log-level warning >"$work/$1.log" 2>"$work/$1.err" &
    pids+=($!)
    for _ in $(seq 1 200); do grep -q "listening on" "$work/$1.log" && break; sleep 0.1; done
    base=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/$1.log" | head -1)
}
stop_all() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; pids=(); }
wrk_run() { # base connections threads out [prefix]
    FIELDGATE_PREFIX="${5:-}" wrk -t"$3" -c"$2" -d"${duration}s" --latency -s scripts/load/techlink-unique.lua "$1" >"$4"
}
ticks() { # CPU clock ticks (user + system) of the given processes, 0 for one that is gone
    local sum=0 pid
    for pid in "$@"; do sum=$((sum + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0))); done
    echo "$sum"
}
server_pids() { pgrep -d ' ' -P "$pg" || true; echo "$pg"; }
cpu_before() { gateway_ticks=$(ticks "$@"); server_ticks=$(ticks $(server_pids)); }
cpu_after() { # gateway pids...: gateway_ticks and server_ticks become what the run between cost (row divides them)
    gateway_ticks=$(($(ticks "$@") - gateway_ticks)); server_ticks=$(($(ticks $(server_pids)) - server_ticks))
}
row() { # label out...
    local label=$1; shift
    local rps=0 requests=0 out
    for out in "$@"; do
        rps=$((rps + $(awk '/Requests\/sec/ {print int($2)}' "$out")))
        requests=$((requests + $(awk '/requests in/ {print $1}' "$out")))
    done
    local first=$1 per=$((1000000 / $(getconf CLK_TCK)))
    echo "| $label | $rps | $(awk '$1=="50%" {print $2}' "$first") | $(awk '$1=="90%" {print $2}' "$first") | $(awk '$1=="99%" {print $2}' "$first") | $(awk '/Non-2xx/ {print $5}' "$first" | head -1) | $((gateway_ticks * per / requests)) | $((server_ticks * per / requests)) |"
}

echo "machine: $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "PostgreSQL WAL: ${WAL:-recycled} ($(psql -h 127.0.0.1 -p "$pgport" -U postgres -XAtc "SELECT count(*) FROM pg_ls_waldir()") segment files at the start)"
echo
echo "## Durable ingest, closed loop (wrk, $connections connections, ${duration}s, every request a new event) — started $(date +%T)"
echo
echo "| gateway | requests/s | p50 | p90 | p99 | non-2xx | gateway CPU µs/request | PostgreSQL CPU µs/request |"
echo "|---|---|---|---|---|---|---|---|"
settle
config sqlite "{sqlite: $work/ingest.db}"
start sqlite "$work/sqlite.yaml"
cpu_before "${pids[-1]}"
wrk_run "$base" "$connections" 2 "$work/sqlite.out"
cpu_after "${pids[-1]}"
row "one instance, SQLite (synchronous=FULL)" "$work/sqlite.out"
sqlite_base=$base

settle
config one "{postgres: \"$(database one)\"}"
start one "$work/one.yaml"
cpu_before "${pids[-1]}"
wrk_run "$base" "$connections" 2 "$work/one.out" P
cpu_after "${pids[-1]}"
row "one instance, PostgreSQL (synchronous_commit=on)" "$work/one.out"
pg_one=$(awk '/Requests\/sec/ {print int($2)}' "$work/one.out")
one_base=$base

settle
config two "{postgres: \"$(database two)\"}"
start twoA "$work/two.yaml"; a=$base
start twoB "$work/two.yaml"; b=$base
cpu_before "${pids[-2]}" "${pids[-1]}"
wrk_run "$a" $((connections / 2)) 1 "$work/twoA.out" A &
w1=$!
wrk_run "$b" $((connections / 2)) 1 "$work/twoB.out" B &
w2=$!
wait $w1 $w2
cpu_after "${pids[-2]}" "${pids[-1]}"
row "two instances, one PostgreSQL (sum; latency of A)" "$work/twoA.out" "$work/twoB.out"
echo

half=$((pg_one / 2))
echo "## Open loop at half the one-instance PostgreSQL rate ($half req/s, fieldgate replay, ${duration}s) — started $(date +%T)"
echo
# The mixed generated corpus (TrackTik, Hellotracks, TechLink; every line a new event), big enough for the run.
"$binary" corpus generate --events $((half * duration + 1000)) --seed 13 --duplicates 0 --bad 0 >"$work/corpus.ndjson" 2>/dev/null
settle
echo '```'
echo "### one instance"
"$binary" replay "$work/corpus.ndjson" --target "$one_base" --rate "$half" --duration "${duration}s" 2>/dev/null | grep -E "^(requests|outcomes|statuses|latency)"
settle
echo "### one instance on SQLite, the same corpus and rate (the same disk, for comparison)"
"$binary" replay "$work/corpus.ndjson" --target "$sqlite_base" --rate "$half" --duration "${duration}s" 2>/dev/null | grep -E "^(requests|outcomes|statuses|latency)"
echo "### two instances, half of it each (a fresh corpus seed, so that nothing is a duplicate of the run above;"
echo "### started $(date +%T)"
echo "### alternate lines to each instance: a job's events arrive at both, as behind a load balancer)"
"$binary" corpus generate --events $((half * duration + 1000)) --seed 14 --duplicates 0 --bad 0 >"$work/corpus2.ndjson" 2>/dev/null
awk 'NR % 2 == 1' "$work/corpus2.ndjson" >"$work/corpusA.ndjson"
awk 'NR % 2 == 0' "$work/corpus2.ndjson" >"$work/corpusB.ndjson"
settle
"$binary" replay "$work/corpusA.ndjson" --target "$a" --rate $((half / 2)) --duration "${duration}s" >"$work/ra" 2>/dev/null &
r1=$!
"$binary" replay "$work/corpusB.ndjson" --target "$b" --rate $((half / 2)) --duration "${duration}s" >"$work/rb" 2>/dev/null &
r2=$!
wait $r1 $r2
echo "A:"; grep -E "^(requests|outcomes|latency)" "$work/ra"
echo "B:"; grep -E "^(requests|outcomes|latency)" "$work/rb"
echo '```'
stop_all
echo

# --- fan-out ------------------------------------------------------------------------------------------------------
receiver=18591
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
error_log $work/nginx-error.log;
pid $work/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work;
    keepalive_requests 100000;
    server { listen 127.0.0.1:$receiver; location / { return 204; } }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work"
url=$(database fanout)
config fanout "{postgres: \"$url\"}" "$fanout_concurrency"
start fanA "$work/fanout.yaml"; a=$base
start fanB "$work/fanout.yaml"; b=$base
# Ingest first, with nobody subscribed: wrk on both instances for a while, events spread over $fanout jobs.
FIELDGATE_PREFIX=A FIELDGATE_JOBS=$fanout wrk -t1 -c16 -d"${duration}s" -s scripts/load/techlink-jobs.lua "$a" >/dev/null &
w1=$!
FIELDGATE_PREFIX=B FIELDGATE_JOBS=$fanout wrk -t1 -c16 -d"${duration}s" -s scripts/load/techlink-jobs.lua "$b" >/dev/null &
w2=$!
wait $w1 $w2
settle
subscriber='{"id":"sink","url":"http://127.0.0.1:'$receiver'/hook","secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw","maxConcurrency":'$fanout_concurrency',"timeout":"10s"}'
curl -sS -o /dev/null -X POST "$a/v1/subscribers" -H 'Authorization: Bearer measure' -H 'Content-Type: application/json' -d "$subscriber"
echo "## Fan-out from two instances (the subscriber's maxConcurrency $fanout_concurrency) — queued at $(date +%T)"
echo
curl -sS -o /dev/null -X POST "$a/v1/subscribers/sink/recover?since=2000-01-01T00:00:00Z" -H 'Authorization: Bearer measure'
python3 - "$pgport" <<'PY'
import subprocess, sys, time
port = sys.argv[1]
def sql(query):
    return subprocess.run(["psql", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", "fanout", "-XAtqc", query],
                          capture_output=True, text=True, check=True).stdout.strip()
deadline = time.time() + 600
while time.time() < deadline and int(sql("select count(*) from delivery where state <> 'delivered'")) > 0:
    time.sleep(0.5)
count = int(sql("select count(*) from delivery"))
delivered, first, last = sql("select count(*), min(delivered_at), max(delivered_at) from delivery where state = 'delivered'").split("|")
span = (int(last) - int(first)) / 1000
# Per job, deliveries must have been delivered in id (acceptance) order.
out_of_order = int(sql("""
    select count(*) from (select job_key, id, delivered_at,
        lag(delivered_at) over (partition by job_key order by id) as previous from delivery) d
    where previous is not null and delivered_at < previous"""))
attempts = sql("select count(*) from delivery_attempt")
print(f"| deliveries | attempts | span | deliveries/s | jobs delivered out of order |")
print(f"|---|---|---|---|---|")
print(f"| {delivered} of {count} | {attempts} | {span:.2f} s | {int(delivered) / span:.0f} | {out_of_order} |")
PY
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
# Autovacuum visits each database about once a minute; a visit during a run takes CPU from it and, by ANALYZE,
# makes every connection plan its statements again: the times say which run it fell into.
echo "autovacuum during the runs (server log; phase start times above):"
grep -E "automatic (vacuum|analyze) of table" "$work/postgres.log" |
    sed -E 's/^[0-9-]+ ([0-9:.]+) [A-Z]+ +LOG: +automatic (vacuum|analyze) of table "([^"]+)".*/  \1 \2 \3/' || echo "  none"
