"""Multi-range requests against servers that answer them oddly or wrongly, through a real
mount. range_test_server's multi= modes give answers RFC 9110 section 14 allows (coalesced,
merged, reordered or partial parts, the whole file, a quoted boundary, no part Content-Type,
a preamble); its mpgarbage= modes give answers no client can use as they are; the transfer
faults (drop, short, stall, long, status) hit the multipart answer. For every mode:

(a) a read gets exactly the file's bytes, or fails with EIO; never other bytes. A legitimate
    answer must give the bytes.
(b) the request log shows the read's pieces asked for in one request and answered the way
    the mode says. After garbage, rangefs remembers the origin and asks it for one range at a
    time; after a legitimate answer or a transfer fault (which a single range can meet just as
    well), it keeps asking for several ranges at once.
(c) what the answer left out is asked for again, alone, from its first missing byte.

The scenario: two regions far apart, each seven 64 KiB blocks; blocks 1 and 5 of a region are
read first (cached), then one O_DIRECT read of the whole region needs blocks 0, 2-4 and 6: three
pieces, one request. The second region shows what rangefs learned from the first.
"""

from __future__ import annotations

import errno
import os
import unittest
from dataclasses import dataclass, field
from typing import Optional

import harness
from harness import KiB, MiB
from range_test_server import FAULT_OPTIONS, RangeTestServer
from test_multirange import direct_pread

BLOCK = 64 * KiB
SIZE = 12 * MiB + 12345
REGION_BLOCKS = 7
# First block of each region: 10 MiB apart, more than rangefs's reorder slack (2 MiB) plus the
# first readahead window, so no read of one continues a readahead stream of the other.
REGIONS = (0, 160)
WARM = (1, 5)                         # blocks read (and cached) before the region's read
PIECES = ((0, 0), (2, 4), (6, 6))     # first and last block of each piece the read then needs
MOUNT_ARGS = ["--no-open-prefetch", "--block-size", "64K", "--stall-timeout", "1"]


def pieces(region: int) -> list[tuple[int, int]]:
    """The byte ranges (inclusive) a region's read needs once its WARM blocks are cached."""
    base = region * BLOCK
    return [(base + a * BLOCK, base + (b + 1) * BLOCK - 1) for a, b in PIECES]


def in_region(ranges: list[tuple[int, int]], region: int) -> bool:
    low, high = region * BLOCK, (region + REGION_BLOCKS) * BLOCK - 1
    return all(low <= first and last <= high for first, last in ranges)


def label(first: int, last: int, total: int | str = SIZE) -> str:
    return f"bytes {first}-{last}/{total}"


@dataclass
class RegionLog:
    """The GETs for one region, in the order they were made (the warm-up reads left out)."""
    multi: list[dict] = field(default_factory=list)    # with several ranges
    singles: list[tuple[int, int]] = field(default_factory=list)  # ranges asked alone


@dataclass
class Refetch:
    """A piece (index into PIECES) asked for again alone: from its first byte (whole) or from
    somewhere inside it (a resume after part of it arrived), always to its last byte."""
    piece: int
    whole: bool = True


class MultiRangeFaultsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_environment()
        data = harness.TempDir("rangefs-mpfaults-data-")
        cls.addClassCleanup(data.cleanup)
        cls.data = data.path
        cls.content = os.urandom(SIZE)
        with open(os.path.join(cls.data, "f.bin"), "wb") as f:
            f.write(cls.content)

    # --------------------------------------------------------------------------- scenario
    def read_or_eio(self, mount: harness.Mount, length: int, offset: int,
                    name: str = "f.bin") -> Optional[bytes]:
        """One O_DIRECT read; None when it failed with EIO. (a): never other bytes."""
        try:
            got = mount.call(direct_pread, mount.path(name), length, offset)
        except OSError as e:
            self.assertEqual(e.errno, errno.EIO, f"read at {offset} failed with {e!r}, not EIO")
            return None
        self.assertEqual(len(got), length, f"short read at {offset}")
        if got != self.content[offset:offset + length]:
            wrong = [offset + i for i in range(length) if got[i] != self.content[offset + i]]
            self.fail(f"WRONG BYTES: read {length} at {offset}: {len(wrong)} bytes differ, "
                      f"from {wrong[0]} to {wrong[-1]}")
        return got

    def read_regions(self, mount: harness.Mount, name: str = "f.bin") -> list[Optional[bytes]]:
        """Each region: its WARM blocks, then the read that needs its three pieces."""
        results = []
        for region in REGIONS:
            for block in WARM:
                offset = (region + block) * BLOCK
                self.assertIsNotNone(self.read_or_eio(mount, BLOCK, offset, name),
                                     f"warm-up read of block {region + block} failed")
            results.append(self.read_or_eio(mount, REGION_BLOCKS * BLOCK, region * BLOCK, name))
        return results

    def run_regions(self, server, url: str) -> tuple[list[Optional[bytes]], list[RegionLog]]:
        """Mounts url, reads both regions, unmounts; returns each region's read (None: EIO)
        and its GETs. The log is read once it is quiet: a stalled or abandoned answer is
        logged only when the server notices the client has gone."""
        mount = harness.Mount([url], MOUNT_ARGS)
        self.addCleanup(mount.cleanup)
        mount.start()
        results = self.read_regions(mount)
        self.assertTrue(mount.alive(), f"rangefs died:\n{mount.stderr()[-3000:]}")
        mount.cleanup()
        entries = self.quiet_log(server)
        return results, self.region_logs(entries)

    @staticmethod
    def quiet_log(server) -> list[dict]:
        """The log once every response is in it (nginx: once it has gone quiet)."""
        if isinstance(server, RangeTestServer):
            return server.settled_requests()
        return server.quiet_access_log_entries()

    @staticmethod
    def region_logs(entries: list[dict]) -> list[RegionLog]:
        gets = [e for e in entries if e["method"] == "GET"]
        gets.sort(key=lambda e: e.get("start", e.get("msec", 0.0)))
        logs = []
        for region in REGIONS:
            log = RegionLog()
            warm = {((region + b) * BLOCK, (region + b + 1) * BLOCK - 1) for b in WARM}
            for e in gets:
                ranges = harness.parse_ranges(e)
                if not ranges or not in_region(ranges, region):
                    continue  # readahead beyond the region, or the other region
                if len(ranges) > 1:
                    log.multi.append(e)
                elif ranges[0] not in warm:
                    log.singles.append(ranges[0])
            logs.append(log)
        return logs

    def start_server(self, **options) -> tuple[RangeTestServer, str]:
        server = RangeTestServer(self.data)
        server.start()
        self.addCleanup(server.cleanup)
        return server, server.url("f.bin", **options)

    # ---------------------------------------------------------------------- assertions
    def check(self, options: dict, answer, refetched: list[Refetch], remembered: bool,
              must_read: bool) -> None:
        """Runs the scenario against range_test_server with `options` and checks (a)-(c).
        answer(entry, region) checks how the multi-range request was answered; refetched: the
        pieces asked for again alone after it; remembered: whether the origin is then asked
        one range at a time (so region 2 sees no multi-range request)."""
        server, url = self.start_server(**options)
        results, logs = self.run_regions(server, url)
        fault = ",".join(key for key in FAULT_OPTIONS if key in options)
        for index, (region, result, log) in enumerate(zip(REGIONS, results, logs)):
            with self.subTest(region=region):
                if must_read:
                    self.assertIsNotNone(result, f"region {region}: the read failed (EIO)")
                if index == 1 and remembered:
                    # (b) remembered: one request per piece, none with several ranges.
                    self.assertEqual(log.multi, [], "the origin was not remembered as bad")
                    self.assertEqual(sorted(log.singles), pieces(region))
                    continue
                # (b) one request for the three pieces, answered as the mode says.
                self.assertEqual(len(log.multi), 1, log.multi)
                entry = log.multi[0]
                self.assertEqual(harness.parse_ranges(entry), pieces(region), entry)
                self.assertEqual(entry["fault"], fault, entry)
                answer(entry, region)
                # (c) what it left out, asked for again alone; nothing else.
                self.assert_refetched(log.singles, refetched, region)
        if not remembered:
            self.assertEqual(len(logs[1].multi), 1,
                             "a usable answer made rangefs stop asking for several ranges")

    def assert_refetched(self, singles: list[tuple[int, int]], refetched: list[Refetch],
                         region: int) -> None:
        wanted = pieces(region)
        self.assertEqual(len(singles), len(refetched),
                         f"single-range requests {singles}, expected refetches {refetched}")
        for (first, last), expected in zip(sorted(singles), sorted(refetched,
                                                                   key=lambda r: r.piece)):
            piece_first, piece_last = wanted[expected.piece]
            self.assertEqual(last, piece_last, (first, last, expected))
            if expected.whole:
                self.assertEqual(first, piece_first, (first, last, expected))
            else:
                self.assertTrue(piece_first < first <= piece_last, (first, last, expected))

    def multipart(self, labels_of, usable: bool = True):
        """answer(): a multipart 206 whose parts are labels_of(pieces) in body order. A usable
        one is read to its end; rangefs may hang up on garbage as soon as it sees it."""
        def answer(entry: dict, region: int) -> None:
            self.assertEqual(entry["status"], 206, entry)
            self.assertTrue(entry["content_type"].startswith("multipart/byteranges"), entry)
            self.assertEqual(entry["parts"], labels_of(pieces(region)), entry)
            if usable:
                self.assertFalse(entry["aborted"], entry)
        return answer

    @staticmethod
    def asked(p: list[tuple[int, int]]) -> list[str]:
        return [label(a, b) for a, b in p]

    def single_part_labelled(self, label_of):
        """answer(): a single-part 206 whose Content-Range is label_of(pieces)."""
        def answer(entry: dict, region: int) -> None:
            self.assertEqual(entry["status"], 206, entry)
            self.assertEqual(entry["content_range"], label_of(pieces(region)), entry)
            self.assertEqual(entry["parts"], [], entry)
        return answer

    def single_part(self, range_of):
        """answer(): a single-part 206 for range_of(pieces)."""
        def answer(entry: dict, region: int) -> None:
            self.assertEqual(entry["status"], 206, entry)
            self.assertEqual(entry["content_range"], label(*range_of(pieces(region))), entry)
            self.assertEqual(entry["parts"], [], entry)
        return answer

    # ------------------------------------------------------- legitimate unusual answers
    def test_plain_multipart(self):
        self.check({"multi": "plain"}, self.multipart(self.asked), [], remembered=False,
                   must_read=True)

    def test_coalesced_into_one_single_part(self):
        self.check({"multi": "coalesce"}, self.single_part(lambda p: (p[0][0], p[-1][1])), [],
                   remembered=False, must_read=True)

    def test_neighbours_merged_into_fewer_parts(self):
        self.check({"multi": "merge"},
                   self.multipart(lambda p: [label(p[0][0], p[1][1]), label(*p[2])]), [],
                   remembered=False, must_read=True)

    def test_parts_in_reverse_order(self):
        self.check({"multi": "reverse"}, self.multipart(lambda p: self.asked(p)[::-1]), [],
                   remembered=False, must_read=True)

    def test_single_part_for_the_first_range_only(self):
        self.check({"multi": "first"}, self.single_part(lambda p: p[0]),
                   [Refetch(1), Refetch(2)], remembered=False, must_read=True)

    def test_multipart_leaving_out_the_last_range(self):
        self.check({"multi": "omit"}, self.multipart(lambda p: self.asked(p)[:-1]),
                   [Refetch(2)], remembered=False, must_read=True)

    def test_whole_file_200(self):
        # A server that answers several ranges with the whole file does not do several at
        # once (S3 is one): the pieces near the start are cut out of it (rangefs stops reading
        # once it has them; socket buffers may hold more of the file by then, so how much the
        # server sent says nothing), and the origin is asked one range at a time from then on.
        def answer(entry: dict, region: int) -> None:
            self.assertEqual((entry["status"], entry["content_range"], entry["parts"]),
                             (200, "", []))
        self.check({"multi": "whole"}, answer, [], remembered=True, must_read=True)

    def test_whole_file_200_far_into_the_file_is_not_read_through(self):
        # The second region lies 10 MiB in: past what rangefs reads of a 200 (4 MiB), so it
        # asks for each piece alone instead of downloading everything before them.
        server = RangeTestServer(self.data)
        server.start()
        self.addCleanup(server.cleanup)
        url = server.url("f.bin", multi="whole")
        mount = harness.Mount([url], MOUNT_ARGS)
        self.addCleanup(mount.cleanup)
        mount.start()
        region = REGIONS[1]
        for block in WARM:
            self.assertIsNotNone(self.read_or_eio(mount, BLOCK, (region + block) * BLOCK))
        got = self.read_or_eio(mount, REGION_BLOCKS * BLOCK, region * BLOCK)
        self.assertIsNotNone(got, f"the read failed:\n{mount.stderr()[-3000:]}")
        mount.cleanup()
        gets = [e for e in server.settled_requests() if e["method"] == "GET"]
        wholes = [e for e in gets if e["status"] == 200]
        self.assertEqual(len(wholes), 1, gets)
        alone = sorted(harness.parse_range(e) for e in gets if e["status"] == 206
                       and "," not in e["range"] and harness.parse_range(e)[0] >= region * BLOCK)
        for piece in pieces(region):
            self.assertIn(piece, alone, f"piece {piece} was not asked for alone: {gets}")

    def test_unknown_total_in_every_part(self):
        # "bytes a-b/*" in every part (RFC 9110 section 14.4): the size the probe found stands
        # for the total, so the parts are used as they are: nothing asked for again, and the
        # origin still asked for several ranges at once.
        self.check({"crstar": 1, "multi": "plain"},
                   self.multipart(lambda p: [label(a, b, "*") for a, b in p]), [],
                   remembered=False, must_read=True)

    def test_unknown_total_in_a_coalesced_single_part(self):
        self.check({"crstar": 1, "multi": "coalesce"},
                   self.single_part_labelled(lambda p: label(p[0][0], p[-1][1], "*")), [],
                   remembered=False, must_read=True)

    def test_quoted_boundary(self):
        def answer(entry: dict, region: int) -> None:
            self.assertRegex(entry["content_type"], r'boundary="rangefs quoted:[0-9a-f]+"$')
            self.multipart(self.asked)(entry, region)
        self.check({"multi": "quoted"}, answer, [], remembered=False, must_read=True)

    def test_parts_without_content_type(self):
        self.check({"multi": "notype"}, self.multipart(self.asked), [], remembered=False,
                   must_read=True)

    def test_preamble_and_epilogue(self):
        self.check({"multi": "preamble"}, self.multipart(self.asked), [], remembered=False,
                   must_read=True)

    # ------------------------------------------------------------------------- garbage
    # In every case the single ranges rangefs falls back to are answered correctly, so the
    # reads could succeed; EIO is allowed, other bytes are not.
    def test_content_range_shifted_forward(self):
        # Every part says first+1-last+1: the first part already cuts an asked range, so the
        # answer is refused there, every piece is asked for again alone, and the origin is
        # remembered.
        self.check({"mpgarbage": "shift"},
                   self.multipart(lambda p: [label(a + 1, b + 1) for a, b in p], False),
                   [Refetch(0), Refetch(1), Refetch(2)], remembered=True, must_read=False)

    def test_content_range_shifted_back(self):
        # A part labelled bytes P-1..Q-1 that carries bytes P..Q (every part not at byte 0):
        # taken at its word it would shift the piece's bytes by one. It cuts the asked range
        # P..Q, so it is refused (as a single-range answer with the same lie is): the first
        # piece, correctly labelled, is used; the others are asked for again alone.
        self.check({"mpgarbage": "shift_back"},
                   self.multipart(lambda p: [label(a - 1 if a else a, b - 1 if a else b)
                                             for a, b in p], False),
                   [Refetch(1), Refetch(2)], remembered=True, must_read=False)

    def test_part_outside_what_was_asked(self):
        # A part for bytes nobody asked for, instead of the last piece: refused, the last
        # piece is asked for again alone, and the origin is remembered.
        def outside(p: list[tuple[int, int]]) -> list[str]:
            gap = (p[0][1] + 1, p[0][1] + BLOCK) if p[0][0] == 0 else (0, BLOCK - 1)
            return [*self.asked(p)[:-1], label(*gap)]
        self.check({"mpgarbage": "outside"}, self.multipart(outside, False), [Refetch(2)],
                   remembered=True, must_read=False)

    def test_part_total_differs_from_the_size(self):
        self.check({"mpgarbage": "total"},
                   self.multipart(lambda p: [*self.asked(p)[:-1], label(*p[-1], SIZE + 1)],
                                  False),
                   [Refetch(2)], remembered=True, must_read=False)

    def test_parts_that_do_not_end_where_their_content_range_says(self):
        # long: part 1 carries more bytes than its label; short: fewer, so the next delimiter
        # lies inside its labelled length; delimiter, nodelimiter: what follows it is not its
        # delimiter. Either way its last bytes (held back until its delimiter matches) are not
        # trusted, nor is a delimiter or header byte taken for file data: piece 1 is asked for
        # again from where its trusted bytes stopped, the others whole.
        for mode in ("long", "short", "delimiter", "nodelimiter"):
            with self.subTest(mpgarbage=mode):
                self.check({"mpgarbage": mode}, self.multipart(self.asked, False),
                           [Refetch(0, whole=False), Refetch(1), Refetch(2)], remembered=True,
                           must_read=False)

    def test_multipart_content_type_without_boundary(self):
        def answer(entry: dict, region: int) -> None:
            self.assertEqual(entry["content_type"], "multipart/byteranges")
            self.assertEqual(entry["status"], 206)
        self.check({"mpgarbage": "noboundary"}, answer, [Refetch(0), Refetch(1), Refetch(2)],
                   remembered=True, must_read=False)

    def test_body_cut_off_in_a_part(self):
        # A connection that breaks is what networks do, not a lie: the rest of the cut piece
        # is asked for alone, and the origin keeps getting multi-range requests.
        def answer(entry: dict, region: int) -> None:
            self.assertEqual(entry["parts"], self.asked(pieces(region)))
            self.assertTrue(entry["aborted"], entry)
        self.check({"mpgarbage": "cut"}, answer, [Refetch(2, whole=False)], remembered=False,
                   must_read=True)

    def test_multipart_answer_to_a_single_range(self):
        # mpgarbage=single: every single-range request for f.bin gets a one-part multipart
        # body, which RFC 9110 section 14.6 forbids. rangefs refuses it (EIO, or the right
        # bytes); it says nothing about several ranges, so the origin's other URL (the same
        # file as g.bin, answered normally) still gets multi-range requests.
        server, url = self.start_server(mpgarbage="single")
        link = os.path.join(self.data, "g.bin")
        if not os.path.exists(link):
            os.link(os.path.join(self.data, "f.bin"), link)
        mount = harness.Mount([url, server.url("g.bin")], MOUNT_ARGS)
        self.addCleanup(mount.cleanup)
        mount.start()
        self.read_or_eio(mount, BLOCK, 3 * BLOCK)
        self.read_or_eio(mount, 3 * BLOCK, 0)  # blocks 0-2: one range, one lie
        results = self.read_regions(mount, "g.bin")
        mount.cleanup()
        entries = self.quiet_log(server)
        lies = [e for e in entries if e["method"] == "GET" and e["path"] == "f.bin"]
        self.assertTrue(lies)
        for e in lies:
            self.assertEqual(len(harness.parse_ranges(e)), 1, e)
            self.assertEqual((e["status"], e["fault"], e["parts"]),
                             (206, "mpgarbage", [label(*harness.parse_range(e))]), e)
            self.assertRegex(e["content_type"], r"^multipart/byteranges; boundary=")
        logs = self.region_logs([e for e in entries if e["path"] == "g.bin"])
        for region, result, log in zip(REGIONS, results, logs):
            self.assertIsNotNone(result)
            self.assertEqual([harness.parse_ranges(e) for e in log.multi], [pieces(region)])
            self.assertEqual(log.singles, [])

    # ------------------------------------------------ transfer faults on multipart answers
    # multi=plain narrows them to the multi-range request; the single ranges asked for
    # afterwards are served normally. None of them is a lie: the origin is not remembered.
    # 100000 body bytes end inside the second piece (the first part is 64 KiB and a head).
    CUT = 100000

    def cut_at(self, entry: dict, region: int) -> None:
        self.assertEqual((entry["body_bytes"], entry["aborted"]), (self.CUT, True), entry)

    def test_drop_in_a_part(self):
        self.check({"multi": "plain", "drop": self.CUT}, self.cut_at,
                   [Refetch(1, whole=False), Refetch(2)], remembered=False, must_read=True)

    def test_short_body(self):
        # 1000 bytes short: the close delimiter and the end of the last piece are missing.
        def answer(entry: dict, region: int) -> None:
            self.assertTrue(entry["aborted"], entry)
        self.check({"multi": "plain", "short": 1000}, answer, [Refetch(2, whole=False)],
                   remembered=False, must_read=True)

    def test_stall_in_a_part(self):
        # rangefs gives up on the silent answer after --stall-timeout 1 and asks again.
        self.check({"multi": "plain", "stall": self.CUT}, self.cut_at,
                   [Refetch(1, whole=False), Refetch(2)], remembered=False, must_read=True)

    def test_extra_bytes_after_the_multipart_body(self):
        def answer(entry: dict, region: int) -> None:
            self.assertEqual(entry["parts"], self.asked(pieces(region)))
        self.check({"multi": "plain", "long": 5000}, answer, [], remembered=False,
                   must_read=True)

    def test_error_status_to_the_multi_range_request(self):
        def answer(entry: dict, region: int) -> None:
            self.assertEqual((entry["status"], entry["parts"]), (503, []))
        self.check({"multi": "plain", "status": 503}, answer,
                   [Refetch(0), Refetch(1), Refetch(2)], remembered=False, must_read=True)

    def test_refusal_of_several_ranges(self):
        # 400, 416 and 501 to a request for several ranges say "not like this", not "busy":
        # each piece is asked for alone at once (a 501 is not retried as a failing server),
        # and the origin is asked one range at a time from then on.
        for code in (400, 416, 501):
            with self.subTest(status=code):
                def answer(entry: dict, region: int, code=code) -> None:
                    self.assertEqual((entry["status"], entry["parts"]), (code, []))
                self.check({"multi": "plain", "status": code}, answer,
                           [Refetch(0), Refetch(1), Refetch(2)], remembered=True,
                           must_read=True)

    # ---------------------------------------------------------------------- real server
    def test_nginx_multipart_answers_are_used_and_kept(self):
        server = harness.LoopbackNginx(self.data)
        server.start()
        self.addCleanup(server.cleanup)
        results, logs = self.run_regions(server, server.url("f.bin"))
        for region, result, log in zip(REGIONS, results, logs):
            self.assertIsNotNone(result)
            self.assertEqual([harness.parse_ranges(e) for e in log.multi], [pieces(region)])
            entry = log.multi[0]
            self.assertEqual(entry["status"], 206, entry)
            self.assertGreater(entry["body_bytes_sent"], harness.range_bytes(entry), entry)
            self.assertEqual(log.singles, [], "nginx's multipart answer was not fully used")


if __name__ == "__main__":
    unittest.main()
