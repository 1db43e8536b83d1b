#!/usr/bin/env python3
"""The ratio table of docs/PERFORMANCE.md from a Hostile benchmark run.

Reads `swift package benchmark --target Hostile --format markdown` output (a file or stdin) and prints, per shape,
the p50 wall clock of the pathological body and of its plain twin (same vendor, same length), their ratio, and the
malloc counts. The last line names the worst ratio.

    FIELDGATE_BENCHMARKS=1 swift package --scratch-path .build-bench --disable-sandbox benchmark --target Hostile \
        --format markdown --no-progress > hostile.md
    python3 scripts/hostile-ratios.py hostile.md
"""
import re
import sys


def parse(text):
    """{benchmark name: {metric: p50 as a number}} from package-benchmark's markdown tables."""
    results, name = {}, None
    for line in text.splitlines():
        heading = re.match(r"^### (\S+)", line)
        if heading:
            name = heading.group(1)
            results[name] = {}
            continue
        row = re.match(r"^\| (.+?)\s+\|\s+(\S+) \|\s+(\S+) \|\s+(\S+) \|", line)
        if name and row and not row.group(1).startswith(("Metric", ":")):
            metric = row.group(1).strip()
            scale = 1000 if "(K)" in metric else 1_000_000 if "(M)" in metric and "Malloc" in metric else 1
            try:
                results[name][metric] = float(row.group(4).replace(",", "")) * scale
            except ValueError:
                pass
    return results


def metric(values, prefix):
    for key, value in values.items():
        if key.startswith(prefix):
            unit = "ms" if "(ms)" in key else "s" if "(s)" in key else "μs" if "(μs)" in key else "ns"
            factor = {"s": 1e6, "ms": 1e3, "μs": 1, "ns": 1e-3}[unit]
            return value * factor if prefix.startswith("Time") else value
    return None


def main():
    text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
    results = parse(text)
    shapes = sorted({name.rsplit(".", 1)[0] for name in results if name.endswith((".hostile", ".plain"))})
    print("| shape | hostile p50 | plain p50 | ratio | mallocs hostile / plain |")
    print("|---|---|---|---|---|")
    worst = (0, None)
    for shape in shapes:
        hostile, plain = results.get(shape + ".hostile", {}), results.get(shape + ".plain", {})
        h, p = metric(hostile, "Time (wall clock)"), metric(plain, "Time (wall clock)")
        mh, mp = metric(hostile, "Malloc (total)"), metric(plain, "Malloc (total)")
        if h is None or p is None:
            continue
        ratio = h / p
        worst = max(worst, (ratio, shape))
        print(f"| {shape} | {h:,.0f} µs | {p:,.0f} µs | {ratio:.2f}× | {mh:,.0f} / {mp:,.0f} |")
    print(f"\nworst ratio: {worst[0]:.2f}× ({worst[1]})")


if __name__ == "__main__":
    main()
