"""No leaks: the daemon's file descriptors (/proc/PID/fd), threads (/proc/PID/task) and memory
(VmRSS) stay flat over 100,000 opens and 1,000,000 reads of many files.

The load: FILES files of FILE_SIZE on a real nginx, mounted as one rangefs; THREADS Python
threads each read random 4 KiB ranges (os.pread) through descriptors opened with O_DIRECT, so
that every read reaches the daemon instead of the kernel's page cache, and every OPEN_EVERY-th
operation opens a file anew (open, one read, close). The block cache (--cache-size) holds a
little less than the data, so it fills to its bound and keeps evicting and fetching again
(misses go to nginx) instead of serving a fixed set.

"Flat": a warm-up first (every file read whole, then WARMUP_READS of the load) brings the cache
to its bound and the pools (FUSE workers, connections) to their working size. Then two equal
intervals of the load, each half of the total, and each followed by a short rest. With a leak
the second interval adds as much as the first; without, the daemon is where it was:

- descriptors: at the end of each interval at most FD_SLACK more than after the warm-up
  (keep-alive connections to nginx come and go);
- threads: at most THREAD_SLACK more than after the warm-up (libfuse starts and retires
  workers as requests come);
- VmRSS: the second interval grows it by at most RSS_SLACK (a leak of 8 bytes per read, or of
  80 bytes per open, is 4 MiB over an interval), and the whole run after the warm-up by at most
  2 * RSS_SLACK.

The daemon's own counters (the metrics endpoint) say that the reads and opens reached it, that
the cache evicted, and that no handle stays open.
"""

from __future__ import annotations

import os
import random
import re
import sys
import threading
import time
import unittest
import urllib.request

import harness
from harness import KiB, MiB

FILES = 50
FILE_SIZE = 256 * KiB
BLOCK = "64K"
CACHE = "12M"              # the data is 12.5 MiB: 192 of its 200 blocks fit
READ_SIZE = 4 * KiB
THREADS = 4
# AddressSanitizer makes every read several times slower, and keeps freed memory in quarantine
# (resident size says nothing about rangefs there; its leak check at exit does): a sanitized
# run makes a tenth of the load and does not hold VmRSS to a bound.
SANITIZED = bool(os.environ.get("RANGEFS_SANITIZED"))
SCALE = 10 if SANITIZED else 1
TOTAL_READS = 1_000_000 // SCALE
TOTAL_OPENS = 100_000 // SCALE
OPEN_EVERY = TOTAL_READS // TOTAL_OPENS   # every 10th read is through a new open
WARMUP_READS = 50_000 // SCALE
REST_SECONDS = 1.0
FD_SLACK = 8
THREAD_SLACK = 8
RSS_SLACK = 4 * MiB


def _note(text: str) -> None:
    print(f"\n  {text}", file=sys.stderr)


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def thread_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def metric(text: str, name: str) -> float:
    """The sum of a family's samples (without labels: the one sample)."""
    values = [float(m.group(1)) for m in
              re.finditer(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.MULTILINE)]
    if not values:
        raise AssertionError(f"{name} not in the metrics:\n{text[:2000]}")
    return sum(values)


class LeakTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_environment()
        data = harness.TempDir("rangefs-leaks-data-")
        cls.addClassCleanup(data.cleanup)
        cls.names = [f"f{i:02d}.bin" for i in range(FILES)]
        cls.content = {}
        for name in cls.names:
            path = os.path.join(data.path, name)
            harness.write_random_file(path, FILE_SIZE)
            with open(path, "rb") as f:
                cls.content[name] = f.read()
        cls.server = harness.LoopbackNginx(data.path).start()
        cls.addClassCleanup(cls.server.cleanup)

    def snapshot(self, pid: int) -> dict:
        return {"fds": fd_count(pid), "threads": thread_count(pid),
                "rss": harness.proc_status_bytes(pid, "VmRSS")}

    def load(self, mount: harness.Mount, reads: int, seed: int) -> None:
        """`reads` random 4 KiB reads over THREADS threads, every OPEN_EVERY-th through a new
        open; each read is checked against the file. Bounded: a hang kills the daemon."""
        paths = [mount.path(name) for name in self.names]
        per_thread = reads // THREADS
        errors: list = []

        def worker(worker_seed: int) -> None:
            rng = random.Random(worker_seed)
            fds = [os.open(path, os.O_RDONLY | os.O_DIRECT) for path in paths]
            try:
                for i in range(per_thread):
                    index = rng.randrange(FILES)
                    offset = rng.randrange(FILE_SIZE // READ_SIZE) * READ_SIZE
                    if i % OPEN_EVERY == 0:
                        fd = os.open(paths[index], os.O_RDONLY | os.O_DIRECT)
                        try:
                            got = os.pread(fd, READ_SIZE, offset)
                        finally:
                            os.close(fd)
                    else:
                        got = os.pread(fds[index], READ_SIZE, offset)
                    expected = self.content[self.names[index]][offset:offset + READ_SIZE]
                    if got != expected:
                        raise AssertionError(f"WRONG BYTES: {self.names[index]} at {offset}")
            except BaseException as e:  # noqa: BLE001  (reported below)
                errors.append(e)
            finally:
                for fd in fds:
                    os.close(fd)

        def run_all() -> None:
            threads = [threading.Thread(target=worker, args=(seed * 1000 + t,), daemon=True)
                       for t in range(THREADS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        mount.call(run_all, timeout=300)
        if errors:
            raise errors[0]

    def scrape(self, where: str) -> str:
        with urllib.request.urlopen(where, timeout=10) as response:
            return response.read().decode()

    def test_descriptors_threads_and_memory_stay_flat(self):
        mount = harness.Mount([self.server.url(name) for name in self.names],
                              ["--cache-size", CACHE, "--block-size", BLOCK,
                               "--metrics", "127.0.0.1:0"])
        self.addCleanup(mount.cleanup)
        mount.start()
        where = re.search(r"metrics at (\S+)", mount.stderr()).group(1)
        pid = mount.pid
        started = time.monotonic()

        for name in self.names:  # the cache to its bound
            self.assertEqual(mount.call(harness.read_whole, mount.path(name)),
                             self.content[name])
        self.load(mount, WARMUP_READS, seed=1)
        time.sleep(REST_SECONDS)
        warm = self.snapshot(pid)
        before = self.scrape(where)

        half = TOTAL_READS // 2
        self.load(mount, half, seed=2)
        time.sleep(REST_SECONDS)
        first = self.snapshot(pid)
        self.load(mount, half, seed=3)
        time.sleep(REST_SECONDS)
        second = self.snapshot(pid)
        after = self.scrape(where)
        took = time.monotonic() - started

        reads = metric(after, "rangefs_reads_total") - metric(before, "rangefs_reads_total")
        evictions = (metric(after, "rangefs_cache_evictions_total") -
                     metric(before, "rangefs_cache_evictions_total"))
        _note(f"{int(reads)} reads in {took:.0f} s; fds {warm['fds']} -> {first['fds']} -> "
              f"{second['fds']}; threads {warm['threads']} -> {first['threads']} -> "
              f"{second['threads']}; VmRSS {warm['rss'] / MiB:.1f} -> {first['rss'] / MiB:.1f} "
              f"-> {second['rss'] / MiB:.1f} MiB; {int(evictions)} evictions")
        # The load reached the daemon: O_DIRECT reads are not served by the page cache.
        self.assertGreaterEqual(reads, TOTAL_READS, "reads did not reach the daemon")
        self.assertGreater(evictions, 0, "the cache never reached its bound: size it smaller")
        self.assertEqual(metric(after, "rangefs_open_handles"), 0, "handles left open")
        self.assertTrue(mount.alive(), mount.stderr()[-3000:])

        for label, snap in (("first", first), ("second", second)):
            self.assertLessEqual(snap["fds"], warm["fds"] + FD_SLACK,
                                 f"descriptors grew over the {label} interval: {warm} -> {snap}")
            self.assertLessEqual(snap["threads"], warm["threads"] + THREAD_SLACK,
                                 f"threads grew over the {label} interval: {warm} -> {snap}")
        if SANITIZED:
            return
        self.assertLessEqual(second["rss"] - first["rss"], RSS_SLACK,
                             f"VmRSS grew by {(second['rss'] - first['rss']) / MiB:.1f} MiB over "
                             f"the second interval of {half} reads")
        self.assertLessEqual(second["rss"] - warm["rss"], 2 * RSS_SLACK,
                             f"VmRSS grew by {(second['rss'] - warm['rss']) / MiB:.1f} MiB over "
                             f"{2 * half} reads")



if __name__ == "__main__":
    unittest.main()
