#!/usr/bin/env bash
# Measures durable ingest on loopback: a release `fieldgate serve` on a fresh SQLite file (synchronous=FULL), wrk
# posting unique TechLink events (every request an fsync-backed insert) and then duplicates, and the server's RSS
# sampled once a second. Needs wrk (apt-get install wrk). Prints a Markdown table.
#   scripts/measure-ingest.sh [seconds per run, default 20] [connections..., default "16 64"]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-20}"
shift || true
connections=("${@:-16}")
[ $# -eq 0 ] && connections=(16 64)
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }

swift build -c release --product fieldgate >/dev/null
binary="$(swift build -c release --show-bin-path)/fieldgate"
work="$(mktemp -d)"
port=18480
"$binary" serve --database "$work/load.db" --port "$port" --log-level warning >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do grep -q "listening on" "$work/serve.log" && break; sleep 0.1; done

rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$server/status"; }
sample_rss() { local peak=0; while kill -0 "$1" 2>/dev/null; do r=$(rss); [ "$r" -gt "$peak" ] && peak=$r; echo "$peak" >"$work/peak"; sleep 1; done; }

echo "| load | connections | requests/s | p50 | p90 | p99 | max | non-2xx | peak RSS (MiB) |"
echo "|---|---|---|---|---|---|---|---|---|"
for script in techlink-unique techlink-duplicate; do
    for c in "${connections[@]}"; do
        wrk -t2 -c"$c" -d"${duration}s" --latency -s "scripts/load/$script.lua" "http://127.0.0.1:$port" >"$work/wrk.out" &
        load=$!
        sample_rss "$load" &
        sampler=$!
        wait "$load"
        wait "$sampler" || true
        rps=$(awk '/Requests\/sec/ {print int($2)}' "$work/wrk.out")
        p50=$(awk '$1=="50%" {print $2}' "$work/wrk.out")
        p90=$(awk '$1=="90%" {print $2}' "$work/wrk.out")
        p99=$(awk '$1=="99%" {print $2}' "$work/wrk.out")
        max=$(awk '/Latency/ && !seen {print $4; seen=1}' "$work/wrk.out")
        non2xx=$(awk '/Non-2xx/ {print $5}' "$work/wrk.out")
        echo "| $script | $c | $rps | $p50 | $p90 | $p99 | $max | ${non2xx:-0} | $(cat "$work/peak") |"
    done
done
echo
echo "events stored: $(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from event').fetchone()[0])" "$work/load.db")"
echo "RSS after the runs: $(rss) MiB"
