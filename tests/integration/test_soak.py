"""A soak under random faults (about two minutes; ctest label `slow`).

The project's fault server injects, at random with a fixed seed, drops, 503s with Retry-After,
stalls, trickles, wrong slices, answers from another version and closed keep-alive connections
into 5 % of the GETs, while 16 threads read random ranges and 4 read sequentially across 8 files
of 8-64 MiB through a real mount (--timeout 10, --stall-timeout 2, a 64 MiB cache: eviction
all the time). scripts/lib/soak.py has the load, the pass criteria (problems()) and says which
errors are acceptable; scripts/bench/soak.py runs the same for longer (--minutes 10).

Pass:
- zero wrong bytes: every byte read is compared with the file on disk;
- every read returns within --timeout + 2 s (rangefs's promise) + 1.5 s (Python threads and a
  loaded 2-core machine), with the right bytes or EIO, and an EIO only near a fault;
- no leak: from the baseline (after 20 s of warm-up, the load paused and the server idle) to
  the end (same state), descriptors other than sockets and threads not at all, VmRSS by at
  most soak.RSS_GROWTH; sockets (curl's keep-alive connections) at most soak.MAX_SOCKETS;
- VmRSS never above the cache size + soak.RSS_OVERHEAD (sampled every 0.5 s; VmHWM at the end;
  not under AddressSanitizer, whose quarantine alone holds hundreds of MiB);
- the daemon alive at the end, `fusermount3 -u` succeeds and rangefs exits 0;
- every kind of fault injected at least once, and enough reads to mean something.

The table of faults injected and how the reads that met them ended is printed (stderr).
RANGEFS_SOAK_SECONDS sets the duration (default 120; 60 under sanitizers).
"""

from __future__ import annotations

import os
import sys
import unittest

import harness

import soak  # scripts/lib, on sys.path via harness

# Under AddressSanitizer the daemon's RSS says nothing about rangefs: memory is not checked,
# and one minute keeps the suite's time (the release build runs the full two).
SANITIZED = bool(os.environ.get("RANGEFS_SANITIZED"))
SECONDS = float(os.environ.get("RANGEFS_SOAK_SECONDS", "60" if SANITIZED else "120"))


def _mount(operands, args):
    mount = harness.Mount(operands, args)
    try:
        return mount.start()
    except BaseException:
        mount.cleanup()
        raise


class SoakTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        harness.require_environment("fusermount3")

    def test_random_faults_under_load(self):
        data = harness.TempDir("rangefs-soak-data-")
        self.addCleanup(data.cleanup)
        report = soak.run_soak(soak.SoakConfig(seconds=SECONDS, check_memory=not SANITIZED), data.path, _mount,
                               log=lambda line: print(line, file=sys.stderr, flush=True))
        print("\n" + soak.format_report(report), file=sys.stderr, flush=True)
        self.assertEqual(soak.problems(report), [])


if __name__ == "__main__":
    unittest.main()
