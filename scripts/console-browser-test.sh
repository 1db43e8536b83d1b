#!/usr/bin/env bash
# The operator console in headless Chromium (Tests/Browser/console_test.py), inside a network namespace that has
# only loopback: the gateway, the test receiver and the browser cannot reach anything outside this machine.
# Needs root (unshare --net), chromium, chromium-driver and selenium (.ci/run installs them before calling this).
#   bash scripts/console-browser-test.sh [--screenshots docs/console]
set -euo pipefail
cd "$(dirname "$0")/.."
binary="$(swift build --show-bin-path)/fieldgate"
[ -x "$binary" ] || swift build --product fieldgate
shared="${FIELDGATE_SHARED:-../shared}"
exec unshare --net -- bash -c '
    set -euo pipefail
    ip link set lo up
    exec timeout 300 python3 Tests/Browser/console_test.py --binary "$0" --shared "$1" "${@:2}"
' "$binary" "$shared" "$@"
