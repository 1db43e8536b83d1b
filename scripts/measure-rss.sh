#!/usr/bin/env bash
# Server memory under sustained load: a release `fieldgate serve` on a fresh SQLite file, wrk posting unique TechLink
# events (every request a durable insert) for the whole run, and the server's RSS printed every interval.
# Needs wrk (apt-get install wrk).
#   scripts/measure-rss.sh [seconds, default 300] [connections, default 32] [interval seconds, default 30]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-300}"
connections="${2:-32}"
interval="${3:-30}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }

swift build -c release --product fieldgate >/dev/null
binary="$(swift build -c release --show-bin-path)/fieldgate"
work="$(mktemp -d)"
port=18490
"$binary" serve --database "$work/rss.db" --port "$port" --log-level warning >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do grep -q "listening on" "$work/serve.log" && break; sleep 0.1; done

rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$server/status"; }
echo "RSS before the load: $(rss) MiB"
wrk -t2 -c"$connections" -d"${duration}s" --latency -s scripts/load/techlink-unique.lua "http://127.0.0.1:$port" \
    >"$work/wrk.out" &
load=$!
elapsed=0
echo "| elapsed (s) | RSS (MiB) | events stored | WAL (MiB) |"
echo "|---|---|---|---|"
while kill -0 "$load" 2>/dev/null; do
    sleep "$interval"
    elapsed=$((elapsed + interval))
    kill -0 "$load" 2>/dev/null || break
    events=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from event').fetchone()[0])" "$work/rss.db")
    echo "| $elapsed | $(rss) | $events | $(( $(stat -c %s "$work/rss.db-wal") / 1048576 )) |"
done
wait "$load"
echo
awk '/Requests\/sec/ {print "wrk: " int($2) " requests/s over the run"}' "$work/wrk.out"
echo "RSS after the load: $(rss) MiB"
