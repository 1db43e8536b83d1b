#!/usr/bin/env bash
# Measures fan-out on loopback: a release `fieldgate serve` with one subscriber (nginx answering 204 to every POST),
# wrk posting unique TechLink events for a while, then the time until every delivery is delivered. Reports the
# delivery rate and the end-to-end latency (event received → delivered) from the store. Needs wrk and nginx
# (apt-get install wrk nginx).
#   scripts/measure-delivery.sh [seconds of load, default 10] [ingest connections, default 8] [maxConcurrency, default 32]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
connections="${2:-8}"
concurrency="${3:-32}"
for tool in wrk nginx; do command -v $tool >/dev/null || { echo "$tool is missing: apt-get install $tool" >&2; exit 2; }; done

swift build -c release --product fieldgate >/dev/null 2>&1
binary="$(swift build -c release --show-bin-path)/fieldgate"
work="$(mktemp -d)"
receiver_port=18581
gateway_port=18580
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
error_log $work/nginx-error.log;
pid $work/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work;
    server { listen 127.0.0.1:$receiver_port; location / { return 204; } }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work"
cat >"$work/fieldgate.yaml" <<YAML
server: {host: 127.0.0.1, port: $gateway_port}
storage: {sqlite: $work/delivery.db}
admin: {token: measure}
delivery: {allowNetworks: [127.0.0.0/8]}
tenants:
  - {vendor: techlink, tenant: demo-techlink}
subscribers:
  - {id: sink, url: "http://127.0.0.1:$receiver_port/hook", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", maxConcurrency: $concurrency}
YAML
"$binary" serve --config "$work/fieldgate.yaml" --log-level warning >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do grep -q "listening on" "$work/serve.log" && break; sleep 0.1; done

wrk -t1 -c"$connections" -d"${duration}s" -s scripts/load/techlink-unique.lua "http://127.0.0.1:$gateway_port" >"$work/wrk.out"
python3 - "$work/delivery.db" "$(awk '/Requests\/sec/ {print int($2)}' "$work/wrk.out")" <<'PY'
import sqlite3, sys, time
db, ingest_rate = sys.argv[1], sys.argv[2]
connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
deadline = time.time() + 300
while time.time() < deadline:
    pending = connection.execute("select count(*) from delivery where state = 'pending'").fetchone()[0]
    if pending == 0:
        break
    time.sleep(0.2)
rows = connection.execute(
    "select createdAt, deliveredAt from delivery where state = 'delivered' order by deliveredAt").fetchall()
dead = connection.execute("select count(*) from delivery where state != 'delivered'").fetchone()[0]
latencies = sorted(d - c for c, d in rows)
span = (rows[-1][1] - rows[0][0]) / 1000
def pct(p):
    return latencies[min(len(latencies) - 1, int(len(latencies) * p))]
print(f"| events ingested | ingest req/s | delivered | not delivered | delivery rate (events/s) | latency p50 | p90 | p99 | max |")
print(f"|---|---|---|---|---|---|---|---|---|")
print(f"| {len(rows) + dead} | {ingest_rate} | {len(rows)} | {dead} | {len(rows) / span:.0f} | {pct(0.5)} ms | {pct(0.9)} ms | {pct(0.99)} ms | {latencies[-1]} ms |")
PY
