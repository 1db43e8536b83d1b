#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/) with -sanitize=fuzzer,address and runs each for a while.
#
#   scripts/fuzz.sh [--seconds N] [--parallel N] [--timeout S] [target ...]
#                                                  targets: json hellotracks techlink tracktik (default: all)
#
# --seconds is each target's run (30 by default); --parallel runs that many targets at once (1 by default);
# --timeout is the longest one input may take (20 s by default: far above any linear path at 64 KiB in this
# debug, sanitized build, whose inputs take milliseconds, yet a 5 s limit fired falsely on a loaded shared machine).
# Seeds come from Contracts/vendors/ and ../shared/corpus/ (FIELDGATE_SHARED overrides ../shared) and from the
# committed regressions; the corpus each target grows stays in .build-fuzz/corpus/<target>/ for the next run.
# An input that crashes, breaks one of FuzzChecks' invariants, takes longer than --timeout (a superlinear path)
# or makes the process grow past 2 GiB is written to .build-fuzz/artifacts/<target>/ (emptied as the target
# starts), printed (base64) with the command that replays it, and the script exits 1: copy it to
# Tests/AdapterTests/FuzzRegressions/<target>/ so that `swift test` replays it for good. Builds and runs under
# `nice -n 19`, so other work on the machine keeps its cores.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
parallel=1
timeout=20
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --parallel) parallel="$2"; shift 2 ;;
        --timeout) timeout="$2"; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        -*) echo "unknown option '$1' (see --help)" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=(json hellotracks techlink tracktik)
shared="${FIELDGATE_SHARED:-../shared}"
scratch="${FIELDGATE_FUZZ_SCRATCH:-.build-fuzz}"

product() {
    case "$1" in
        json) echo FuzzJSON ;; hellotracks) echo FuzzHellotracks ;; techlink) echo FuzzTechLink ;;
        tracktik) echo FuzzTrackTik ;; *) echo "unknown fuzz target '$1'" >&2; return 2 ;;
    esac
}
for target in "${targets[@]}"; do product "$target" >/dev/null; done

echo "== fuzz: build ($(printf '%s ' "${targets[@]}"))"
mkdir -p "$scratch"
started=$SECONDS
for target in "${targets[@]}"; do
    # The first product builds the shared modules; the others only compile their entry point and link.
    if ! FIELDGATE_FUZZ=1 nice -n 19 swift build --scratch-path "$scratch" -c debug --product "$(product "$target")" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library > "$scratch/build.log" 2>&1; then
        grep -E "error:" "$scratch/build.log" | head -20 >&2 || tail -20 "$scratch/build.log" >&2
        echo "fuzz: $(product "$target") did not build (log: $scratch/build.log)" >&2
        exit 2
    fi
done
rm -f "$scratch/build.log"
echo "fuzz: built in $((SECONDS - started)) s"

echo "== fuzz: seeds"
rm -rf "$scratch/seeds"
python3 scripts/fuzz-seeds.py "$scratch/seeds" "$shared/corpus"

pids=()
trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done' EXIT INT TERM

run() {
    local target="$1" corpus="$scratch/corpus/$1" artifacts="$scratch/artifacts/$1"
    mkdir -p "$corpus" "$artifacts"
    local inputs=("$corpus" "$scratch/seeds/$target")
    [ -d "Tests/AdapterTests/FuzzRegressions/$target" ] && inputs+=("Tests/AdapterTests/FuzzRegressions/$target")
    local dictionary=()
    [ "$target" != hellotracks ] && dictionary=(-dict=Fuzz/json.dict)
    # -jobs/-workers are not used: they redirect the output to ./fuzz-N.log and hide the exit status.
    # Swift's own backtracer would run inside the sanitizer's crash handling (and trip it); libFuzzer's stack is enough.
    SWIFT_BACKTRACE=enable=no nice -n 19 "$scratch/debug/$(product "$target")" "${inputs[@]}" "${dictionary[@]}" \
        -max_total_time="$seconds" -max_len=65536 -timeout="$timeout" -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" > "$scratch/$target.log" 2>&1
}

report() {
    local target="$1" status="$2" log="$scratch/$1.log" artifacts="$scratch/artifacts/$1"
    local line
    line="$(grep -E '^#[0-9]+' "$log" | tail -1 || true)"
    echo "fuzz: $target: ${line:-no progress line} ($(grep -E 'stat::number_of_executed_units' "$log" || true))"
    [ "$status" -eq 0 ] && return 0
    echo "fuzz: $target FAILED (exit $status); log in $log" >&2
    grep -E "ERROR|Assertion|Fatal error|failed:|==[0-9]+==|Test unit written|SUMMARY" "$log" | head -20 >&2 || true
    local artifact
    for artifact in "$artifacts"/*; do
        [ -f "$artifact" ] || continue
        echo "fuzz: reproducer $artifact ($(wc -c < "$artifact") bytes), base64:" >&2
        base64 -w 0 "$artifact" >&2
        echo >&2
        echo "fuzz: replay: $scratch/debug/$(product "$target") $artifact   (decode: base64 -d > FILE)" >&2
    done
    return 1
}

status=0
queue=("${targets[@]}")
while [ ${#queue[@]} -gt 0 ]; do
    batch=("${queue[@]:0:$parallel}")
    queue=("${queue[@]:$parallel}")
    pids=()
    for target in "${batch[@]}"; do
        rm -f "$scratch/artifacts/$target"/*
        echo "== fuzz: $target for ${seconds}s"
        run "$target" &
        pids+=($!)
    done
    for i in "${!batch[@]}"; do
        code=0
        wait "${pids[$i]}" || code=$?
        report "${batch[$i]}" "$code" || status=1
    done
done
pids=()
exit $status
