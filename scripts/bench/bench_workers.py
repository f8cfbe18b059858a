#!/usr/bin/env python3
"""Measurement workers of the rangefs benchmark, run as child processes:

    python3 bench_workers.py '{"kind": "seq", "params": {...}}'

prints one JSON object (the result, or {"error": ...}). Each filesystem access happens here, not
in the driver, so a read stuck in a FUSE request can be ended by killing the filesystem daemon
(which aborts the connection) without hanging the driver. Standard library only.
"""

from __future__ import annotations

import json
import mmap
import os
import random
import sys
import threading
import time
from typing import Callable, Optional

MiB = 1024 * 1024
MB = 1_000_000
BLOCK = 4096  # random reads: 4 KiB at 4 KiB-aligned offsets


def _worker_stat(p: dict) -> dict:
    st = os.stat(p["path"])
    return {"size": st.st_size}


def _open(p: dict, direct: bool = False) -> int:
    """Opens p["path"] read-only; with p["drop_page_cache"] the kernel's cached pages of the
    file are dropped first (a filesystem that keeps the page cache across opens would answer
    from it)."""
    fd = os.open(p["path"], os.O_RDONLY | (os.O_DIRECT if direct else 0))
    if p.get("drop_page_cache"):
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    return fd


def _worker_seq(p: dict) -> dict:
    """Reads the file front to back in 1 MiB reads until EOF or the time budget. With
    "direct", through O_DIRECT into a page-aligned buffer (mmap): each read reaches the
    filesystem as one request instead of the kernel's page-cache readahead. With "start_at"
    (a time.monotonic() value: CLOCK_MONOTONIC, the same in every process), it waits until
    then before the open, so that several workers start reading together; "started" and
    "ended" (the same clock) bound the read."""
    if p.get("start_at") is not None:
        time.sleep(max(0.0, p["start_at"] - time.monotonic()))
    chunk = p.get("chunk", MiB)
    direct = bool(p.get("direct"))
    buf = mmap.mmap(-1, chunk) if direct else bytearray(chunk)
    view = memoryview(buf)
    ref = open(p["reference"], "rb") if p.get("reference") else None
    # A sample (1 MiB in 64 by default) is checked against the source: cheap next to the read.
    verify_every = p.get("verify_every", 64)
    mismatches = 0
    total = 0
    complete = False
    index = 0
    fd = _open(p, direct)
    try:
        start = time.monotonic()
        deadline = start + p["max_seconds"]
        while True:
            n = os.readv(fd, [view])
            if n == 0:
                complete = True
                break
            if ref is not None and index % verify_every == 0:
                ref.seek(total)
                if ref.read(n) != view[:n]:
                    mismatches += 1
            total += n
            index += 1
            if time.monotonic() >= deadline:
                break
        ended = time.monotonic()
        elapsed = ended - start
    finally:
        os.close(fd)
        view.release()
        if ref is not None:
            ref.close()
    return {"bytes": total, "seconds": elapsed, "complete": complete, "mismatches": mismatches,
            "mbps": total / elapsed / MB if elapsed > 0 else None, "started": start,
            "ended": ended}


def random_offsets(size: int, count: int, seed: int) -> list[int]:
    """count distinct 4 KiB-aligned offsets, uniformly at random, same for every tool."""
    blocks = size // BLOCK
    count = min(count, blocks)
    return [b * BLOCK for b in random.Random(seed).sample(range(blocks), count)]


def _timed_preads(p: dict, offsets: list[int], length: int) -> dict:
    """pread of `length` bytes at each offset, timed one by one, until done or the time
    budget; every piece is then compared with p["reference"] if given. With p["threads"] > 1
    the offsets are read by that many threads at once, each taking the next one left."""
    threads = max(1, int(p.get("threads", 1)))
    latencies_ns: list[Optional[int]] = [None] * len(offsets)
    data: list[Optional[bytes]] = [None] * len(offsets)
    next_index = iter(range(len(offsets)))
    lock = threading.Lock()
    fd = _open(p)
    start = time.monotonic()
    deadline = start + p["max_seconds"]

    def read_some() -> None:
        while time.monotonic() < deadline:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            t0 = time.perf_counter_ns()
            data[i] = os.pread(fd, length, offsets[i])
            latencies_ns[i] = time.perf_counter_ns() - t0

    try:
        if threads == 1:
            read_some()
        else:
            pool = [threading.Thread(target=read_some) for _ in range(threads)]
            for thread in pool:
                thread.start()
            for thread in pool:
                thread.join()
        elapsed = time.monotonic() - start
    finally:
        os.close(fd)
    done = [i for i in range(len(offsets)) if data[i] is not None]
    mismatches = 0
    if p.get("reference"):
        with open(p["reference"], "rb") as ref:
            for i in done:
                ref.seek(offsets[i])
                if ref.read(length) != data[i]:
                    mismatches += 1
    return {"offsets": [offsets[i] for i in done],
            "latencies_ns": [latencies_ns[i] for i in done],
            "seconds": elapsed, "planned": len(offsets), "mismatches": mismatches,
            "bytes": sum(len(data[i]) for i in done)}


def _worker_random(p: dict) -> dict:
    """4 KiB preads at the seeded random offsets."""
    offsets = random_offsets(p["size"], p["count"], p["seed"])
    # skip/limit pick a slice: the re-read phase takes the last blocks the cold phase read.
    skip = p.get("skip", 0)
    offsets = offsets[skip: skip + p["limit"] if p.get("limit") else None]
    return _timed_preads(p, offsets, BLOCK)


def _worker_strided(p: dict) -> dict:
    """preads of p["length"] bytes at 0, stride, 2 * stride, ... up to p["size"]: in order,
    or shuffled with p["shuffle_seed"]."""
    offsets = list(range(0, p["size"], p["stride"]))
    if p.get("shuffle_seed") is not None:
        random.Random(p["shuffle_seed"]).shuffle(offsets)
    return _timed_preads(p, offsets, p["length"])


WORKERS: dict[str, Callable[[dict], dict]] = {
    "stat": _worker_stat, "seq": _worker_seq, "random": _worker_random,
    "strided": _worker_strided}


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
