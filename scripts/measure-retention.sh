#!/usr/bin/env bash
# Database and write-ahead log size over a long run with short retention: `fieldgate serve` on a fresh SQLite file
# with retention {events, quarantine, deliveries} = 1m (the shortest setting) and 1-minute dedupe windows, a local
# receiver subscribed to every event, and `fieldgate replay` sending a generated corpus (2 % bad requests,
# quarantined) at a fixed rate with new IDs on every pass. Prints the sizes every interval: once a minute's worth is kept, both level off.
#   scripts/measure-retention.sh [seconds, default 900] [requests/s, default 300] [interval seconds, default 30]
# BUILD=debug uses the debug build (sizes do not depend on it; the machine may be shared); FIELDGATE_BINARY=path uses
# that binary as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-900}"
rate="${2:-300}"
interval="${3:-30}"
build="${BUILD:-release}"
shared="${FIELDGATE_SHARED:-../shared}"

if [ -n "${FIELDGATE_BINARY:-}" ]; then
    binary="$FIELDGATE_BINARY"
else
    swift build -c "$build" --product fieldgate >/dev/null
    binary="$(swift build -c "$build" --show-bin-path)/fieldgate"
fi
work="$(mktemp -d)"
cleanup() {
    for pid in ${replay:-} ${server:-} ${receiver:-}; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A receiver that answers 204 to everything, on a free loopback port.
python3 - "$work/receiver.port" <<'PY' &
import http.server, socketserver, sys
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204); self.end_headers()
    def log_message(self, *args): pass
class Server(socketserver.ThreadingMixIn, http.server.HTTPServer): daemon_threads = True
server = Server(("127.0.0.1", 0), Hook)
open(sys.argv[1], "w").write(str(server.server_address[1]))
server.serve_forever()
PY
receiver=$!
for _ in $(seq 1 50); do [ -s "$work/receiver.port" ] && break; sleep 0.1; done

# The shared corpus's tenants with 1-minute dedupe windows (an event is kept while its window runs, so with the
# default 7 days nothing would go), short retention and the receiver.
grep -v -e '^server:' -e '^storage:' -e '^subscribers:' "$shared/corpus/fieldgate.yaml" |
    sed -e 's/^\(  - vendor: .*\)$/\1\n    dedupeWindow: 1m/' >"$work/fieldgate.yaml"
cat >>"$work/fieldgate.yaml" <<YAML
server: {host: 127.0.0.1, port: 0}
storage: {sqlite: $work/retention.db}
delivery: {allowNetworks: [127.0.0.0/8]}
retention: {events: 1m, quarantine: 1m, deliveries: 1m}
subscribers:
  - {id: receiver, url: "http://127.0.0.1:$(cat "$work/receiver.port")/hook"}
YAML

"$binary" corpus generate --events 20000 --seed 7 >"$work/corpus.ndjson"
"$binary" serve --config "$work/fieldgate.yaml" --log-level warning >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do grep -q "listening on" "$work/serve.log" && break; sleep 0.1; done
base="$(grep -o 'listening on [^ ]*' "$work/serve.log" | head -1 | cut -d' ' -f3)"

"$binary" replay "$work/corpus.ndjson" --target "$base" --rate "$rate" --duration "${duration}s" --vary-ids \
    >"$work/replay.out" 2>&1 &
replay=$!

count() {
    python3 -c "import sqlite3,sys; db=sqlite3.connect('file:'+sys.argv[1]+'?mode=ro', uri=True); \
print(*[db.execute('select count(*) from '+t).fetchone()[0] for t in ('event','quarantine','delivery')])" \
        "$work/retention.db" 2>/dev/null || echo "? ? ?"
}
mib() { awk -v bytes="$(stat -c %s "$1" 2>/dev/null || echo 0)" 'BEGIN { printf "%.1f", bytes / 1048576 }'; }
echo "rate $rate requests/s for ${duration}s, retention 1m, build $build, $(nproc) cores"
echo "| elapsed (s) | database (MiB) | WAL (MiB) | events | quarantined | deliveries |"
echo "|---|---|---|---|---|---|"
elapsed=0
while kill -0 "$replay" 2>/dev/null; do
    sleep "$interval"
    elapsed=$((elapsed + interval))
    read -r events quarantined deliveries <<<"$(count)"
    echo "| $elapsed | $(mib "$work/retention.db") | $(mib "$work/retention.db-wal") | $events | $quarantined | $deliveries |"
done
wait "$replay" || true
echo
grep -E "requests/s|sent|status" "$work/replay.out" | head -8
