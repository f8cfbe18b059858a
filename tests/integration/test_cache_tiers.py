"""rangefs behind the HTTP cache tiers users put in front of an origin (issue 17).

Each tier is the real Debian server (scripts/lib/cache_tiers.py: nginx proxy_cache + slice,
Varnish 7.1, Squid 5.7) started on a free loopback port in front of an origin nginx whose
access log records every response's body bytes, and rangefs reaches it as a forward proxy
(`--proxy http://127.0.0.1:PORT`). For each tier:

- four mounts read the same 256 MiB file whole at once, every byte checked (sha256): the
  origin sent each byte at most once, and the ratio of origin bytes to the file's size is
  printed;
- then, the origin stopped, a fresh mount through the warm tier reads the file whole again:
  its probe and every range are answered from the tier's cache;
- and, the tier stopped, a mount given `--proxy "http://127.0.0.1:DEADPORT;DIRECT"` (CernVM-FS's
  grammar: `;` fails over in order, DIRECT is no proxy) reads the file from the origin.
"""

import collections
import os
import re
import sys
import time
import unittest

import harness
from harness import MiB

import cache_tiers  # scripts/lib, on sys.path through harness

SIZE = 256 * MiB
NAME = "tiered.bin"
MOUNTS = 4
READ_TIMEOUT = 180.0

_data = None  # harness.TempDir holding the file, made by setUpModule
_sha = ""


def setUpModule():
    global _data, _sha
    harness.require_environment("sha256sum")
    _data = harness.TempDir("rangefs-tiers-data-")
    _sha = harness.write_random_file(os.path.join(_data.path, NAME), SIZE)


def tearDownModule():
    if _data is not None:
        _data.cleanup()


def origin_spans(entries):
    """[(first byte, bytes sent)] of every response body the origin sent for the file: a 206
    starts at its (single) range, a 200 at 0. HEADs send no body."""
    spans = []
    for e in entries:
        if e["uri"] != "/" + NAME or e["body_bytes_sent"] == 0:
            continue
        ranges = harness.parse_ranges(e) if e["status"] == 206 else None
        if e["status"] == 206 and (ranges is None or len(ranges) != 1):
            raise AssertionError(f"the origin answered a tier's multi-range request: {e}")
        spans.append((ranges[0][0] if ranges else 0, e["body_bytes_sent"]))
    return sorted(spans)


def covered(entries):
    """The byte ranges [a, b) of the file the origin's successful GETs covered, merged."""
    asked = []
    for e in entries:
        if e["uri"] == "/" + NAME and e["method"] == "GET" and e["status"] == 200:
            asked.append((0, SIZE))
        elif e["uri"] == "/" + NAME and e["method"] == "GET" and e["status"] == 206:
            asked += [(first, last + 1) for first, last in harness.parse_ranges(e) or []]
    merged = []
    for first, end in sorted(asked):
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((first, end))
    return merged


def overlaps(spans):
    """Byte ranges [a, b) the origin sent more than once."""
    twice, end = [], 0
    for first, length in spans:
        if first < end:
            twice.append((first, min(end, first + length)))
        end = max(end, first + length)
    return twice


_NOTABLE = re.compile(r"(?:^|\s)(?:warning|error|critical): ")


def notable_lines(mount):
    """rangefs's warning and error lines (the tests print them: through a tier they show what
    rangefs makes of its answers)."""
    return [line for line in mount.stderr().splitlines() if _NOTABLE.search(line)]


class CacheTierTests:
    """The tests for one tier; a subclass per tier names it in KIND."""

    KIND = ""

    @classmethod
    def setUpClass(cls):
        if not cache_tiers.tier_available(cls.KIND):
            raise RuntimeError(f"{cls.KIND} is not installed (bash scripts/setup.sh)")

    def start_origin(self):
        origin = harness.LoopbackNginx(_data.path)
        self.addCleanup(origin.cleanup)
        origin.start()
        return origin

    def start_tier(self, origin):
        tier = cache_tiers.start_tier(self.KIND, origin.base_url)
        self.addCleanup(tier.cleanup)
        return tier

    def mount(self, origin, proxy):
        mount = harness.Mount([origin.url(NAME)], ["--proxy", proxy])
        self.addCleanup(mount.cleanup)
        mount.start()
        return mount

    def read_whole(self, mount):
        result = mount.run(["sha256sum", mount.path(NAME)], timeout=READ_TIMEOUT)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.decode().split()[0], _sha,
                         f"{NAME} read through {self.KIND} differs from the origin's file; "
                         f"rangefs said:\n{mount.stderr()[-3000:]}")

    def unmount(self, mount):
        result = mount.fusermount_unmount()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIsNotNone(mount.wait_exit(15), "rangefs did not exit after unmount")

    def report(self, text):
        print(f"\n  [{self.KIND}] {text}", file=sys.stderr, flush=True)

    # ------------------------------------------------------------------------------ tests
    def test_four_mounts_fetch_each_byte_once_and_a_warm_tier_serves_without_origin(self):
        origin = self.start_origin()
        tier = self.start_tier(origin)
        mounts = []
        harness.run_threads(
            [lambda: mounts.append(self.mount(origin, tier.proxy_url)) for _ in range(MOUNTS)])
        self.assertEqual(len(mounts), MOUNTS)
        start = time.monotonic()
        harness.run_threads([lambda m=m: self.read_whole(m) for m in mounts])
        elapsed = time.monotonic() - start
        for m in mounts:
            self.unmount(m)
        # A graceful stop: every response the origin began is finished and logged.
        origin.stop()
        entries = origin.access_log_entries()
        spans = origin_spans(entries)
        sent = sum(length for _, length in spans)
        kinds = collections.Counter(f"{e['method']} {e['status']}" for e in entries)
        answers = ", ".join(f"{kind}: {n}" for kind, n in sorted(kinds.items()))
        self.report(f"{MOUNTS} mounts read {SIZE // MiB} MiB each in {elapsed:.1f} s; the "
                    f"origin answered {len(entries)} requests ({answers}) and sent {sent} body "
                    f"bytes: ratio {sent / SIZE:.3f}")
        for i, m in enumerate(mounts):
            for line in notable_lines(m):
                self.report(f"mount {i}: {line}")
        self.assertEqual(overlaps(spans), [], f"the origin sent these bytes more than once "
                         f"through {self.KIND}; its responses: {spans}")
        # Every byte is in the tier now (the mounts read it all), so the origin sent each one
        # exactly once: the sum is the size, with no allowance. A HEAD's body is empty; a
        # probe the tier turned into a GET (nginx: the first slice; Varnish: the whole file)
        # fills the cache like any other fetch and is counted in the sum. Squid sometimes
        # revalidates requests that arrive during its one fetch (TCP_REFRESH_UNMODIFIED in its
        # log): conditional GETs the origin answers 304, requests without body bytes.
        self.assertEqual(sent, SIZE, f"origin responses: {spans}")

        # The origin is gone: a fresh mount's probe and every range come from the tier.
        fresh = self.mount(origin, tier.proxy_url)
        start = time.monotonic()
        self.read_whole(fresh)
        self.report(f"origin stopped: a fresh mount read the file from the warm tier in "
                    f"{time.monotonic() - start:.1f} s")
        for line in notable_lines(fresh):
            self.report(f"fresh mount: {line}")
        self.unmount(fresh)
        self.assertTrue(tier.running, f"{self.KIND} exited:\n{tier.logs()[-3000:]}")

    def test_tier_stopped_fails_over_to_direct(self):
        origin = self.start_origin()
        tier = self.start_tier(origin)
        dead = tier.proxy_url
        tier.stop()
        self.assertFalse(tier.running)
        # Needs the proxy grammar of issue 17 (`A;B` fails over in order, DIRECT is no proxy).
        mount = self.mount(origin, f"{dead};DIRECT")
        self.read_whole(mount)
        self.unmount(mount)
        origin.stop()
        self.assertEqual(covered(origin.access_log_entries()), [(0, SIZE)],
                         "the origin did not send every byte of the file")


class NginxSliceTierTest(CacheTierTests, unittest.TestCase):
    KIND = "nginx"


class VarnishTierTest(CacheTierTests, unittest.TestCase):
    KIND = "varnish"


class SquidTierTest(CacheTierTests, unittest.TestCase):
    KIND = "squid"


if __name__ == "__main__":
    unittest.main()
