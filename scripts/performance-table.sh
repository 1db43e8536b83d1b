#!/usr/bin/env bash
# Reproduces the comparison table of docs/PERFORMANCE.md on this machine, everything in one run:
#   1. nginx answering 202 to the same POSTs (the loopback ceiling),
#   2. a minimal Hummingbird server reading the body and answering 202 (the framework ceiling),
#   3. `fieldgate serve` with durable acknowledgements (202 after the fsync of the WAL),
# each loaded by wrk with the same Lua script (a new TechLink event per request), then Fieldgate open-loop at half
# its measured rate with `fieldgate replay --rate` (latency from the intended start), the replay tool's own ceiling
# against nginx, and the parse-path benchmarks (package-benchmark) beside orjson on the same payloads.
# Needs wrk and nginx (apt-get install wrk nginx) and python3 with orjson.
#   scripts/performance-table.sh [seconds per run, default 15] [connections, default 64]
# SKIP_BENCHMARKS=1 stops after the HTTP and orjson parts.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-15}"
connections="${2:-64}"
for tool in wrk nginx python3; do command -v $tool >/dev/null || { echo "$tool is missing" >&2; exit 2; }; done

echo "building (release) …" >&2
swift build -c release --product fieldgate >/dev/null 2>&1
FIELDGATE_BENCHMARKS=1 swift build -c release --scratch-path .build-bench --product BareHummingbird >/dev/null 2>&1
fieldgate="$(swift build -c release --show-bin-path)/fieldgate"
bare="$(FIELDGATE_BENCHMARKS=1 swift build -c release --scratch-path .build-bench --show-bin-path)/BareHummingbird"

work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
error_log $work/nginx-error.log;
pid $work/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work;
    server {
        listen 127.0.0.1:18710;
        location / { client_body_buffer_size 64k; default_type application/json; return 202 '{"status":"accepted","id":"00000000000000000000000000000000"}'; }
    }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work"
"$bare" 18711 >"$work/bare.log" 2>&1 & pids+=($!)
sed "s#storage: {sqlite: fieldgate-dev.db}#storage: {sqlite: $work/table.db}#" ../shared/corpus/fieldgate.yaml >"$work/fieldgate.yaml"
"$fieldgate" serve --config "$work/fieldgate.yaml" --port 18712 --log-level warning >"$work/serve.log" 2>&1 & pids+=($!)
server=${pids[-1]}
sleep 2

rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$1/status"; }
run() { # name port
    FIELDGATE_TENANT=cobalt-pos wrk -t2 -c"$connections" -d"${seconds}s" --latency -s scripts/load/techlink-unique.lua \
        "http://127.0.0.1:$2" >"$work/$1.wrk"
    awk '/Requests\/sec/ {print int($2)}' "$work/$1.wrk"
}
nginx_rps=$(run nginx 18710)
bare_rps=$(run bare 18711)
fieldgate_rps=$(run fieldgate 18712)
fieldgate_rss=$(rss "$server")
p() { awk -v q="$2" '$1==q {print $2}' "$work/$1.wrk"; }

echo "## HTTP ingest, wrk -t2 -c$connections -d${seconds}s, one new TechLink event per request"
echo
echo "| server | requests/s | share of nginx | share of bare Hummingbird | p50 | p99 (closed loop) |"
echo "|---|---|---|---|---|---|"
echo "| nginx \`return 202\` | $nginx_rps | 100 % | — | $(p nginx 50%) | $(p nginx 99%) |"
echo "| Hummingbird reading the body, 202 | $bare_rps | $((100 * bare_rps / nginx_rps)) % | 100 % | $(p bare 50%) | $(p bare 99%) |"
echo "| fieldgate serve, durable 202 | $fieldgate_rps | $((100 * fieldgate_rps / nginx_rps)) % | $((100 * fieldgate_rps / bare_rps)) % | $(p fieldgate 50%) | $(p fieldgate 99%) |"
echo
echo "fieldgate RSS after the run: ${fieldgate_rss} MiB"
echo

half=$((fieldgate_rps / 2))
quarter=$((fieldgate_rps / 4))
# Enough distinct events for both runs, so the replay tool sends the corpus as written (no --vary-ids rewrite, which
# costs the tool CPU that the gateway on the same two cores would miss); each run gets its own part, so every request
# is a new event.
first=$((half * seconds + 500))
"$fieldgate" corpus generate --events $((first + quarter * seconds + 500)) --seed 5 --duplicates 0 --bad 0 \
    >"$work/corpus.ndjson"
head -n "$first" "$work/corpus.ndjson" >"$work/corpus-$half.ndjson"
tail -n +"$((first + 1))" "$work/corpus.ndjson" >"$work/corpus-$quarter.ndjson"
TIMEFORMAT='replay tool CPU: %U s user + %S s system in %R s'
for rate in "$half" "$quarter"; do
    echo "## Open loop at $rate req/s: fieldgate replay --rate $rate --duration ${seconds}s"
    echo
    echo '```'
    { time "$fieldgate" replay "$work/corpus-$rate.ndjson" --target http://127.0.0.1:18712 --rate "$rate" \
        --duration "${seconds}s" 2>&1; } 2>&1
    echo '```'
    echo "fieldgate RSS after the open-loop run: $(rss "$server") MiB"
    echo
done

echo "## The replay tool's own ceiling: fieldgate replay --concurrency $connections against nginx"
echo
echo '```'
"$fieldgate" replay "$work/corpus.ndjson" --target http://127.0.0.1:18710 --concurrency "$connections" --duration "${seconds}s" --vary-ids
echo '```'
echo

echo "## Parse path: orjson on the same payloads (python3 -m timeit)"
echo
python3 - <<'PY'
import re, timeit, json
import orjson
source = open("Benchmarks/Normalize/Normalize.swift").read()
log = re.search(r'let trackTikLog = #"""\n    (.*?)\n    """#', source, re.S).group(1).encode()
techlink = re.search(r'let techLinkStatusChange = #"(.*?)"#', source).group(1).encode()
print("| payload | bytes | orjson.loads | json.loads |")
print("|---|---|---|---|")
for name, payload in [("TrackTik workflow log", log), ("TechLink status change", techlink)]:
    n = 200000
    o = timeit.timeit(lambda: orjson.loads(payload), number=n) / n * 1e9
    j = timeit.timeit(lambda: json.loads(payload), number=n) / n * 1e9
    print(f"| {name} | {len(payload)} | {o/1000:.2f} µs | {j/1000:.2f} µs |")
PY
echo
[ -n "${SKIP_BENCHMARKS:-}" ] && exit 0   # the HTTP part only
echo "## Parse path: package-benchmark (FIELDGATE_BENCHMARKS=1 swift package benchmark --target Normalize)"
echo
echo '```'
FIELDGATE_BENCHMARKS=1 swift package --scratch-path .build-bench --disable-sandbox benchmark --target Normalize \
    --no-progress 2>/dev/null | grep -v '^$' || true
echo '```'
