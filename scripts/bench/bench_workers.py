#!/usr/bin/env python3
"""Measurement workers of the rangefs benchmark, run as child processes:

    python3 bench_workers.py '{"kind": "seq", "params": {...}}'

prints one JSON object (the result, or {"error": ...}). Each filesystem access happens here, not
in the driver, so a read stuck in a FUSE request can be ended by killing the filesystem daemon
(which aborts the connection) without hanging the driver. Standard library only.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from typing import Callable

MiB = 1024 * 1024
MB = 1_000_000
BLOCK = 4096  # random reads: 4 KiB at 4 KiB-aligned offsets


def _worker_stat(p: dict) -> dict:
    st = os.stat(p["path"])
    return {"size": st.st_size}


def _worker_seq(p: dict) -> dict:
    """Reads the file front to back in 1 MiB reads until EOF or the time budget."""
    chunk = p.get("chunk", MiB)
    buf = bytearray(chunk)
    view = memoryview(buf)
    ref = open(p["reference"], "rb") if p.get("reference") else None
    mismatches = 0
    total = 0
    complete = False
    index = 0
    fd = os.open(p["path"], os.O_RDONLY)
    try:
        start = time.monotonic()
        deadline = start + p["max_seconds"]
        while True:
            n = os.readv(fd, [view])
            if n == 0:
                complete = True
                break
            # Checks a sample (1 MiB in 64) against the source: cheap next to the read.
            if ref is not None and index % 64 == 0:
                ref.seek(total)
                if ref.read(n) != bytes(view[:n]):
                    mismatches += 1
            total += n
            index += 1
            if time.monotonic() >= deadline:
                break
        elapsed = time.monotonic() - start
    finally:
        os.close(fd)
        if ref is not None:
            ref.close()
    return {"bytes": total, "seconds": elapsed, "complete": complete, "mismatches": mismatches,
            "mbps": total / elapsed / MB if elapsed > 0 else None}


def random_offsets(size: int, count: int, seed: int) -> list[int]:
    """count distinct 4 KiB-aligned offsets, uniformly at random, same for every tool."""
    blocks = size // BLOCK
    count = min(count, blocks)
    return [b * BLOCK for b in random.Random(seed).sample(range(blocks), count)]


def _worker_random(p: dict) -> dict:
    """pread of 4 KiB at each offset, timed one by one, until done or the time budget."""
    offsets = random_offsets(p["size"], p["count"], p["seed"])
    # skip/limit pick a slice: the re-read phase takes the last blocks the cold phase read.
    skip = p.get("skip", 0)
    offsets = offsets[skip: skip + p["limit"] if p.get("limit") else None]
    latencies_ns: list[int] = []
    data: list[bytes] = []
    fd = os.open(p["path"], os.O_RDONLY)
    try:
        if p.get("drop_page_cache"):
            # A filesystem that keeps the kernel page cache across opens would otherwise
            # answer from it; the re-read is meant to reach the filesystem's own cache.
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        start = time.monotonic()
        deadline = start + p["max_seconds"]
        for offset in offsets:
            t0 = time.perf_counter_ns()
            block = os.pread(fd, BLOCK, offset)
            latencies_ns.append(time.perf_counter_ns() - t0)
            data.append(block)
            if time.monotonic() >= deadline:
                break
        elapsed = time.monotonic() - start
    finally:
        os.close(fd)
    mismatches = 0
    if p.get("reference"):
        with open(p["reference"], "rb") as ref:
            for offset, block in zip(offsets, data):
                ref.seek(offset)
                if ref.read(BLOCK) != block:
                    mismatches += 1
    return {"offsets": offsets[: len(latencies_ns)], "latencies_ns": latencies_ns,
            "seconds": elapsed, "planned": len(offsets), "mismatches": mismatches}


WORKERS: dict[str, Callable[[dict], dict]] = {
    "stat": _worker_stat, "seq": _worker_seq, "random": _worker_random}


def main(spec: str) -> int:
    request = json.loads(spec)
    try:
        result = WORKERS[request["kind"]](request["params"])
    except OSError as e:
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
