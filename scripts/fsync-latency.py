#!/usr/bin/env python3
"""Measures this disk's fdatasync latency with nothing else running: durable ingest waits on one per commit, so a
disk that stalls for hundreds of milliseconds shows up as the gateway's tail latency whatever the code does.

    scripts/fsync-latency.py [seconds, default 30] [directory, default /tmp]
"""
import os
import sys
import tempfile
import time

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
directory = sys.argv[2] if len(sys.argv) > 2 else tempfile.gettempdir()
fd, path = tempfile.mkstemp(dir=directory, prefix="fsync-latency-")
latencies = []
block = b"x" * 8192
try:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        os.write(fd, block)
        start = time.perf_counter()
        os.fdatasync(fd)
        latencies.append(time.perf_counter() - start)
finally:
    os.close(fd)
    os.unlink(path)

latencies.sort()
count = len(latencies)


def ms(q):
    return latencies[min(count - 1, int(count * q))] * 1e3


print(
    f"{count} fdatasyncs of 8 KiB appends in {seconds:.0f} s: p50 {ms(0.5):.2f} ms  p99 {ms(0.99):.2f} ms  "
    f"p99.9 {ms(0.999):.2f} ms  max {latencies[-1] * 1e3:.1f} ms  over 50 ms: {sum(1 for x in latencies if x > 0.05)}"
)
