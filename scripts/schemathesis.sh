#!/usr/bin/env bash
# Fuzz the HTTP API against its own OpenAPI document with schemathesis (issue 17): a live `fieldgate serve` with a
# subscriber, events, dead letters and quarantine already present, so the stateful links (list → get → replay,
# create → patch → delete, …) reach real resources. It must report no failure.
#
# The fuzzer invents subscriber URLs and the gateway would deliver to them, so the gateway and schemathesis run in a
# network namespace that has only loopback (`unshare --net`): no generated address can be reached outside this
# machine. schemathesis is installed before entering it.
#
# Usage: scripts/schemathesis.sh [more schemathesis run options, e.g. --include-operation-id getEvent]
# Environment: FIELDGATE_BINARY (default: the debug build, `swift build --show-bin-path`), SCHEMATHESIS_MAX_EXAMPLES
# (default 25), SCHEMATHESIS_SEED (default 17).
set -euo pipefail
cd "$(dirname "$0")/.."

version=4.32.5
port=8080
token=dev-admin-token

if [ "${FIELDGATE_LOOPBACK_ONLY:-}" != 1 ]; then
    if ! python3 -m pip show schemathesis 2>/dev/null | grep -qx "Version: $version"; then
        python3 -m pip install -q "schemathesis==$version"
    fi
    binary="${FIELDGATE_BINARY:-$(swift build --show-bin-path)/fieldgate}"
    [ -x "$binary" ] || { echo "no fieldgate binary at $binary (run swift build)" >&2; exit 1; }
    # Never fall back to running without the namespace: then a generated URL could reach the network.
    FIELDGATE_BINARY="$(realpath "$binary")" exec unshare --net env FIELDGATE_LOOPBACK_ONLY=1 bash "$0" "$@"
fi

# --- inside the namespace: loopback only
ip link set lo up
if ip -o link show | grep -v ': lo:' | grep -q .; then
    echo "the namespace has an interface besides loopback; refusing to fuzz" >&2
    exit 1
fi
if ip route get 192.0.2.1 >/dev/null 2>&1; then
    echo "the namespace has a route off this machine; refusing to fuzz" >&2
    exit 1
fi

binary="$FIELDGATE_BINARY"
arguments=("$@")
work="$(mktemp -d)"
server=""
cleanup() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

base="http://127.0.0.1:$port"
"$binary" serve --config examples/fieldgate.yaml --database "$work/fieldgate.db" --port "$port" \
    --log-level error > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
    curl -fsS "$base/readyz" >/dev/null 2>&1 && break
    kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
    sleep 0.2
done

admin() { curl -fsS -H "Authorization: Bearer $token" "$@"; }

echo "== seed: two subscribers (one dead-letters at the first failure), then examples/sample.ndjson"
# Port 9 on loopback: nothing listens, so every attempt is refused at once.
admin -H 'Content-Type: application/json' -X POST "$base/v1/subscribers" \
    -d '{"id":"billing","url":"http://127.0.0.1:9/hooks","secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw","types":["job.*"]}' \
    >/dev/null
admin -H 'Content-Type: application/json' -X POST "$base/v1/subscribers" \
    -d '{"id":"portal","url":"http://127.0.0.1:9/portal","retrySchedule":[]}' >/dev/null
"$binary" replay examples/sample.ndjson --target "$base" > "$work/replay.txt"
for _ in $(seq 1 50); do
    admin "$base/v1/deliveries?state=dead&limit=1" | grep -q '"eventId"' && break
    sleep 0.2
done
count() { admin "$base/v1/$1" | python3 -c "import json,sys; print(len(json.load(sys.stdin)['$2']))"; }
echo "events: $(count 'events?limit=500' events), quarantined: $(count 'quarantine?limit=500' requests)," \
    "dead letters: $(count 'deliveries?state=dead&limit=500' deliveries)," \
    "subscribers: $(count subscribers subscribers)"
for check in "events?limit=1 events" "quarantine?limit=1 requests" "deliveries?state=dead&limit=1 deliveries"; do
    set -- $check
    [ "$(count "$1" "$2")" -ge 1 ] || { echo "seeding left no $2 ($1)" >&2; exit 1; }
done

# The identifiers seeding created, offered to the operations that take them half of the time (the other half is
# generated), so the fuzzer reaches real resources and not only 404s: replaying a quarantined request, redelivering
# a dead letter, reading an event, a job and a delivery.
ids() { admin "$base/v1/$1" | python3 -c "import json,sys; print(json.dumps([e['$3'] for e in json.load(sys.stdin)['$2']]))"; }
{
    cat scripts/schemathesis.toml
    echo ''
    echo '# Added by scripts/schemathesis.sh: what seeding created.'
    echo '[dictionaries]'
    echo "quarantine = { values = $(ids 'quarantine?limit=500' requests id) }"
    echo "events = { values = $(ids 'events?limit=500' events id) }"
    echo "jobs = { values = $(ids 'jobs?limit=500' jobs key) }"
    echo "deliveries = { values = $(ids 'deliveries?limit=500' deliveries id) }"
    # dictionary, parameter, operations
    for binding in "quarantine path.id getQuarantinedRequest replayQuarantinedRequest" "events path.id getEvent" \
        "jobs path.key getJobTimeline" "deliveries path.id getDelivery redeliver"; do
        set -- $binding
        dictionary="$1" parameter="$2"
        shift 2
        echo ''
        echo '[[operations]]'
        echo "include-operation-id = [$(printf '"%s",' "$@" | sed 's/,$//')]"
        echo "parameters = { \"$parameter\" = { dictionary = \"$dictionary\", probability = 0.5 } }"
    done
    # The live stream never ends: schemathesis reads a stream for its request timeout or until it has
    # `max-stream-events` events. One second shows the opening comment and the replay a stored `Last-Event-ID`
    # asks for; the 5 s of every other operation made the stream two thirds of the run.
    echo ''
    echo '[[operations]]'
    echo 'include-operation-id = ["streamEvents"]'
    echo 'request-timeout = 1'
    echo 'max-stream-events = 3'
    echo 'parameters = { "header.Last-Event-ID" = { dictionary = "events", probability = 0.5 } }'
} > "$work/schemathesis.toml"

echo "== the served document is valid OpenAPI 3.1 on its own"
curl -fsS "$base/openapi.yaml" > "$work/openapi.yaml"
python3 -m openapi_spec_validator "$work/openapi.yaml"

echo "== schemathesis $version: every check, seed ${SCHEMATHESIS_SEED:-17}, ${SCHEMATHESIS_MAX_EXAMPLES:-25} examples per operation"
# From the scratch folder: schemathesis keeps a crash cache in its working directory.
cd "$work"
schemathesis --config-file "$work/schemathesis.toml" run "$base/openapi.yaml" \
    -H "Authorization: Bearer $token" \
    --checks all \
    --seed "${SCHEMATHESIS_SEED:-17}" \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-25}" \
    --request-timeout 5 \
    --generation-database none \
    --no-color \
    "${arguments[@]}"
