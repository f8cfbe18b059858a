"""Multi-range requests through the routes cache tiers make, through a real mount. Varnish 7.1
answers a request for several ranges with 416 ("Content-Range: bytes */SIZE", as
range_test_server's multi=refuse does) and nginx's slice cache with 200 and the whole file
(multi=whole). Either means "not several ranges at once through this route": rangefs says so in
one info line per route (no warning, no retry), asks for each range alone at once, and asks
that route one range at a time from then on.

Through a configured proxy rangefs starts with single ranges: one multi-range request at a
time is the route's trial (the others meanwhile go out as single ranges), and a usable 206 makes
the route one to ask several ranges at once. The proxy here is range_test_server itself, which
serves the absolute-form requests a client sends a proxy; the file's URL names a host that does
not resolve, so every request must have gone through it. The URL is written non-canonically
(Origin.INVALID:80), and every request must name it canonically (Host: origin.invalid), as
caches that key on Host need.

The scenario (as in test_multirange_faults): in each region of seven 64 KiB blocks, blocks 1
and 5 are read first, then one O_DIRECT read of the region needs blocks 0, 2-4 and 6: three
pieces, one multi-range request where rangefs asks for several ranges at once.
"""

from __future__ import annotations

import os
import threading
import unittest
import urllib.parse
from dataclasses import dataclass, field

import harness
from harness import KiB, MiB
from range_test_server import RangeTestServer
from test_multirange import direct_pread

BLOCK = 64 * KiB
SIZE = 24 * MiB + 12345
REGION_BLOCKS = 7
REGIONS = (0, 160, 320)  # first block of each: 10 MiB apart (see test_multirange_faults)
WARM = (1, 5)
PIECES = ((0, 0), (2, 4), (6, 6))
MOUNT_ARGS = ["--no-open-prefetch", "--block-size", "64K", "--stall-timeout", "1"]
ORIGIN = "http://Origin.INVALID:80"   # what the user writes
CANONICAL = "http://origin.invalid"   # what every request must name
# multi=plain,trickle: the trial's answer takes about 5 s (320 KiB of pieces at 64 kB/s, a
# slice every 0.1 s, well above --min-rate), long enough for another read to go out meanwhile.
TRICKLE = 64000


def pieces(region: int) -> list[tuple[int, int]]:
    base = region * BLOCK
    return [(base + a * BLOCK, base + (b + 1) * BLOCK - 1) for a, b in PIECES]


@dataclass
class RegionLog:
    """The GETs for one region, oldest first, the warm-up reads left out."""
    multi: list[dict] = field(default_factory=list)
    singles: list[tuple[int, int]] = field(default_factory=list)


def region_log(entries: list[dict], region: int) -> RegionLog:
    low, high = region * BLOCK, (region + REGION_BLOCKS) * BLOCK - 1
    warm = {((region + b) * BLOCK, (region + b + 1) * BLOCK - 1) for b in WARM}
    log = RegionLog()
    for e in sorted((e for e in entries if e["method"] == "GET"), key=lambda e: e["start"]):
        ranges = harness.parse_ranges(e)
        if not ranges or not all(low <= a and b <= high for a, b in ranges):
            continue
        if len(ranges) > 1:
            log.multi.append(e)
        elif ranges[0] not in warm:
            log.singles.append(ranges[0])
    return log


def log_lines(stderr: str, level: str) -> list[str]:
    return [line for line in stderr.splitlines() if f" {level}: " in line]


class MultiRangeRoutesTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_environment()
        data = harness.TempDir("rangefs-routes-data-")
        cls.addClassCleanup(data.cleanup)
        cls.data = data.path
        cls.content = os.urandom(SIZE)
        with open(os.path.join(cls.data, "f.bin"), "wb") as f:
            f.write(cls.content)

    # ---------------------------------------------------------------------------- helpers
    def start_server(self) -> RangeTestServer:
        server = RangeTestServer(self.data)
        server.start()
        self.addCleanup(server.cleanup)
        return server

    def mount(self, url: str, *args: str) -> harness.Mount:
        mount = harness.Mount([url], [*MOUNT_ARGS, *args])
        self.addCleanup(mount.cleanup)
        mount.start()
        return mount

    def finish(self, mount: harness.Mount) -> str:
        """Unmounts; returns what rangefs logged (gone once the mount is cleaned up)."""
        self.assertEqual(mount.fusermount_unmount().returncode, 0)
        self.assertEqual(mount.wait_exit(10), 0)
        stderr = mount.stderr()
        mount.cleanup()
        return stderr

    def read(self, mount: harness.Mount, length: int, offset: int) -> None:
        got = mount.call(direct_pread, mount.path("f.bin"), length, offset)
        self.assertEqual(len(got), length, f"short read at {offset}")
        self.assertTrue(got == self.content[offset:offset + length],
                        f"WRONG BYTES: {length} at {offset}")

    def warm(self, mount: harness.Mount, region: int) -> None:
        for block in WARM:
            self.read(mount, BLOCK, (region + block) * BLOCK)

    def read_region(self, mount: harness.Mount, region: int) -> None:
        self.read(mount, REGION_BLOCKS * BLOCK, region * BLOCK)

    def assert_quiet_refusal(self, stderr: str, route: str) -> None:
        """One info line about the route refusing several ranges; no warning, no retry."""
        self.assertEqual(log_lines(stderr, "warning") + log_lines(stderr, "error"), [], stderr)
        about = [line for line in log_lines(stderr, "info") if "multi-range" in line]
        self.assertEqual(len(about), 1, stderr)
        self.assertIn(f"{route}: ", about[0])
        self.assertIn("one range at a time", about[0])
        self.assertEqual([line for line in stderr.splitlines() if " retry " in line], [],
                         "a refusal was retried as a failure")

    # ------------------------------------------------------------------- without a proxy
    def run_refusal(self, options: dict) -> tuple[list[RegionLog], str, str]:
        """Mounts f.bin with `options`, reads regions 1 and 2; returns their logs, the mount's
        stderr and the route's key (the origin)."""
        server = self.start_server()
        mount = self.mount(server.url("f.bin", **options))
        for region in REGIONS[:2]:
            self.warm(mount, region)
            self.read_region(mount, region)
        stderr = self.finish(mount)
        entries = server.settled_requests()
        return ([region_log(entries, r) for r in REGIONS[:2]], stderr,
                f"http://127.0.0.1:{server.port}")

    def test_416_to_several_ranges_is_a_quiet_refusal(self):
        # Varnish's answer (multi=refuse), and a bare 416 without Content-Range or validators.
        for options in ({"multi": "refuse"}, {"multi": "plain", "status": 416}):
            with self.subTest(**options):
                logs, stderr, route = self.run_refusal(options)
                first, second = logs
                self.assertEqual([e["status"] for e in first.multi], [416], first.multi)
                self.assertEqual(harness.parse_ranges(first.multi[0]), pieces(REGIONS[0]))
                self.assertEqual(sorted(first.singles), pieces(REGIONS[0]),
                                 "each piece asked for alone, once")
                self.assertEqual(second.multi, [], "the route was not remembered")
                self.assertEqual(sorted(second.singles), pieces(REGIONS[1]))
                self.assert_quiet_refusal(stderr, route)

    def test_whole_file_200_to_several_ranges_is_a_quiet_refusal(self):
        # nginx's slice cache (multi=whole). Region 1 lies in the first 4 MiB: its pieces are
        # cut out of the 200; region 2 is asked for one range at a time, without a 200 first.
        logs, stderr, route = self.run_refusal({"multi": "whole"})
        first, second = logs
        self.assertEqual([e["status"] for e in first.multi], [200], first.multi)
        self.assertEqual(first.singles, [])
        self.assertEqual(second.multi, [])
        self.assertEqual(sorted(second.singles), pieces(REGIONS[1]))
        self.assert_quiet_refusal(stderr, route)

    def test_whole_file_200_far_into_the_file_asks_each_piece_alone_at_once(self):
        server = self.start_server()
        mount = self.mount(server.url("f.bin", multi="whole"))
        self.warm(mount, REGIONS[1])
        self.read_region(mount, REGIONS[1])
        stderr = self.finish(mount)
        log = region_log(server.settled_requests(), REGIONS[1])
        self.assertEqual([e["status"] for e in log.multi], [200])
        self.assertEqual(sorted(log.singles), pieces(REGIONS[1]))
        self.assert_quiet_refusal(stderr, f"http://127.0.0.1:{server.port}")

    # ---------------------------------------------------------------- through a proxy
    def proxied(self, server: RangeTestServer, **options) -> tuple[str, str, str]:
        """The file's URL as the user writes it (an origin reached only through the proxy),
        the --proxy value, and the route's key as rangefs logs it."""
        path = urllib.parse.urlsplit(server.url("f.bin", **options)).path
        proxy = f"http://127.0.0.1:{server.port}"
        return f"{ORIGIN}{path}", proxy, f"{CANONICAL}:80 via {proxy}"

    def assert_through_proxy_canonically(self, entries: list[dict]) -> None:
        self.assertTrue(entries)
        for e in entries:
            self.assertTrue(e["target"].startswith(CANONICAL + "/"), e)
            self.assertEqual(e["headers"].get("host"), "origin.invalid", e)

    def test_proxy_that_refuses_several_ranges_costs_one_trial(self):
        server = self.start_server()
        url, proxy, route = self.proxied(server, multi="refuse")
        mount = self.mount(url, "--proxy", proxy)
        for region in REGIONS:
            self.warm(mount, region)
            self.read_region(mount, region)
        stderr = self.finish(mount)
        entries = server.settled_requests()
        self.assert_through_proxy_canonically(entries)
        multi = [e for e in entries if len(harness.parse_ranges(e) or []) > 1]
        self.assertEqual([e["status"] for e in multi], [416], "one trial, refused")
        self.assertEqual(harness.parse_ranges(multi[0]), pieces(REGIONS[0]))
        for region in REGIONS:
            self.assertEqual(sorted(region_log(entries, region).singles), pieces(region))
        self.assert_quiet_refusal(stderr, route)

    def test_a_refusal_is_remembered_in_the_cache_dir_for_the_next_mount(self):
        server = self.start_server()
        url, proxy, route = self.proxied(server, multi="refuse")
        cache = harness.TempDir("rangefs-routes-cache-")
        self.addCleanup(cache.cleanup)
        stderrs = []
        for region in REGIONS[:2]:  # another region each time: the disk cache holds neither
            mount = self.mount(url, "--proxy", proxy, "--cache-dir", cache.path)
            self.warm(mount, region)
            self.read_region(mount, region)
            stderrs.append(self.finish(mount))
        entries = server.settled_requests()
        multi = [e for e in entries if len(harness.parse_ranges(e) or []) > 1]
        self.assertEqual([e["status"] for e in multi], [416], "the second mount tried again")
        self.assertEqual(harness.parse_ranges(multi[0]), pieces(REGIONS[0]))
        self.assertEqual(sorted(region_log(entries, REGIONS[1]).singles), pieces(REGIONS[1]))
        self.assert_quiet_refusal(stderrs[0], route)
        with open(os.path.join(cache.path, "routes")) as f:
            self.assertIn(f"bad\t{route}\n", f.read())

    def test_proxy_route_is_tried_one_request_at_a_time(self):
        # The first multi-range request is the trial, trickled; a read meanwhile goes out as
        # single ranges; once the trial's multipart 206 is in, several ranges go at once.
        server = self.start_server()
        url, proxy, _ = self.proxied(server, multi="plain", trickle=TRICKLE, times=1)
        mount = self.mount(url, "--proxy", proxy)
        for region in REGIONS:
            self.warm(mount, region)
        server.settled_requests()  # nothing in flight but what the trial's read starts
        failure: list[BaseException] = []

        def trial_read():
            try:
                self.read_region(mount, REGIONS[0])
            except BaseException as e:  # noqa: BLE001  (re-raised on the test's thread)
                failure.append(e)

        trial = threading.Thread(target=trial_read, daemon=True)
        trial.start()
        self.addCleanup(trial.join, 60)
        self.assertTrue(harness.wait_until(lambda: server.in_flight() >= 1, 10),
                        "the trial did not start")
        self.read_region(mount, REGIONS[1])
        trial_entries = [e for e in server.requests() if e["fault"]]
        self.assertEqual(trial_entries, [],
                         f"the trial ended before the other read: trickle faster than "
                         f"{TRICKLE} B/s? {trial_entries}")
        trial.join(60)
        self.assertFalse(trial.is_alive(), "the trial's read did not end")
        if failure:
            raise failure[0]
        self.read_region(mount, REGIONS[2])
        stderr = self.finish(mount)

        entries = server.settled_requests()
        self.assert_through_proxy_canonically(entries)
        first, meanwhile, after = (region_log(entries, r) for r in REGIONS)
        self.assertEqual(len(first.multi), 1, first.multi)
        trial_entry = first.multi[0]
        self.assertEqual((trial_entry["status"], trial_entry["fault"]), (206, "trickle,multi"))
        self.assertEqual(len(trial_entry["parts"]), 3, trial_entry)
        self.assertEqual(first.singles, [], "the trial's answer was not fully used")
        self.assertEqual(meanwhile.multi, [], "a second multi-range request during the trial")
        self.assertEqual(sorted(meanwhile.singles), pieces(REGIONS[1]))
        self.assertEqual([harness.parse_ranges(e) for e in after.multi], [pieces(REGIONS[2])],
                         "the route was not remembered as good")
        self.assertEqual(after.singles, [])
        # No other multi-range request while the trial was in flight, whoever made it.
        others = [e for e in entries if e is not trial_entry
                  and len(harness.parse_ranges(e) or []) > 1
                  and trial_entry["start"] <= e["start"] <= trial_entry["time"]]
        self.assertEqual(others, [])
        self.assertEqual(log_lines(stderr, "warning"), [], stderr)

    def test_without_a_proxy_several_ranges_go_at_once_from_the_start(self):
        # Today's behaviour, kept: no trial, no single ranges first.
        server = self.start_server()
        mount = self.mount(server.url("f.bin"))
        self.warm(mount, REGIONS[0])
        self.read_region(mount, REGIONS[0])
        mount.cleanup()
        log = region_log(server.settled_requests(), REGIONS[0])
        self.assertEqual([harness.parse_ranges(e) for e in log.multi], [pieces(REGIONS[0])])
        self.assertEqual(log.singles, [])


if __name__ == "__main__":
    unittest.main()
