"""Servers that answer HEAD themselves and redirect every ranged GET (signing front ends of
object stores do: the HEAD says 200 with the size and validators, each GET gets a 302 to a
signed storage URL). rangefs follows such a redirect for the GET itself, with the probe's rules:

- only http and https, at most 10 redirects in a row, a redirect that repeats a hop is a loop;
  any of these, or a redirect without a usable Location, ends the read with EIO and a log line
  that says why;
- the user's credentials (--header lines, URL userinfo) go only to the user's origin unless
  --location-trusted;
- the answer at the target is held to the pinned version like any other (If-Range, the
  validators of the answer);
- the target is remembered for later requests of the file, which go straight there, until a
  request there fails: then the next one goes back to the URL as probed and is redirected anew
  (an expired target, a 403/404/410, first resolves the URL again with a HEAD, once per fetch).

Both the single-range GETs and the first open's multi-range GET (head and tail) are covered.
The servers are the project's range_test_server (redirect=N redirects GETs only, sign=1 makes
each redirect's target a new address, gone_after=K expires an address after K GETs,
location=URL sends any Location); its request log says how many requests went where. Every
filesystem access goes through Mount.call, so a hang kills the daemon and fails the test.
"""

from __future__ import annotations

import base64
import errno
import os
import sys
import time
import unittest
import urllib.parse
import urllib.request
from typing import Optional

import harness
from harness import KiB, MiB

from range_test_server import RangeTestServer  # scripts/lib, on sys.path via harness

BLOCK = 256 * KiB
SIZE = 4 * MiB + 4321        # 17 blocks, not block-aligned
TIMEOUT = 10                  # --timeout
CALL_BOUND = 60.0             # Mount.call kills the daemon after this: a hang, not a failure
READ_BOUND = TIMEOUT + 5.0    # what a failing read may take at most
SECRET = "SECRETTOKENr4d1"    # --header value
PASSWORD = "PASSWORDv7x3"     # URL userinfo password
BASE_ARGS = ["--timeout", str(TIMEOUT), "--stall-timeout", "2", "--block-size", "256K"]
# Blocks read one at a time, two blocks apart: too far apart for readahead to take them for a
# stream, so one request is under way at a time and the log's order is rangefs's decisions'.
SPACED = [0, 3, 6, 9, 12, 15]


def _note(text: str) -> None:
    print(f"\n  {text}", file=sys.stderr)


def _gets(entries: list[dict], options: Optional[str] = None) -> list[dict]:
    """The GETs, of one options segment (as logged, decoded) when given."""
    return [e for e in entries
            if e["method"] == "GET" and (options is None or e["options"] == options)]


def _heads(entries: list[dict]) -> list[dict]:
    return [e for e in entries if e["method"] == "HEAD"]


def _options_of(url: str) -> str:
    """The options segment of a range_test_server URL as its log shows it."""
    return urllib.parse.unquote(urllib.parse.urlsplit(url).path.split("/")[1])


def _log_text(entries: list[dict], limit: int = 40) -> str:
    lines = [f"{e['method']} {e['options']}/{e['path']} {e['range'] or '-'} -> {e['status']} "
             f"{e['body_bytes']}B if-range={e['if_range'] or '-'}"
             for e in sorted(entries, key=lambda e: e["start"])]
    if len(lines) > limit:
        lines = lines[:limit // 2] + [f"... {len(lines) - limit} more ..."] + lines[-limit // 2:]
    return "\n    " + "\n    ".join(lines)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _with_userinfo(url: str, user: str, password: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.netloc}"))


def _pread_or_error(path: str, length: int, offset: int):
    try:
        return harness.pread_no_readahead(path, length, offset)
    except OSError as e:
        return e


def _read_or_error(path: str):
    try:
        return harness.read_whole(path)
    except OSError as e:
        return e


class GetRedirectTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_environment()
        data = harness.TempDir("rangefs-getredir-data-")
        cls.addClassCleanup(data.cleanup)
        cls.data = data.path
        harness.write_random_file(os.path.join(cls.data, "data.bin"), SIZE)
        with open(os.path.join(cls.data, "data.bin"), "rb") as f:
            cls.content = f.read()
        # Another version of data.bin, served by a storage server that is out of step.
        other = harness.TempDir("rangefs-getredir-other-")
        cls.addClassCleanup(other.cleanup)
        cls.other_data = other.path
        harness.write_random_file(os.path.join(cls.other_data, "data.bin"), SIZE)

    # ------------------------------------------------------------------------ fixtures
    def start_server(self, root: Optional[str] = None, **kwargs) -> RangeTestServer:
        server = RangeTestServer(root or self.data, **kwargs)
        server.start()
        self.addCleanup(server.cleanup)
        return server

    def start_mount(self, url: str, *args: str, open_prefetch: bool = False) -> harness.Mount:
        flags = [] if open_prefetch else ["--no-open-prefetch"]
        mount = harness.Mount([url], [*BASE_ARGS, *flags, *args])
        self.addCleanup(mount.cleanup)
        mount.start()
        return mount

    def quiet_requests(self, *servers: RangeTestServer, quiet: float = 1.0) -> list[dict]:
        """The servers' logs, together, once no request has come for `quiet` seconds (the
        retries and readahead of a failed read may still be under way when it returns):
        bounded by READ_BOUND."""
        deadline = time.monotonic() + READ_BOUND
        count, since = -1, time.monotonic()
        entries: list[dict] = []
        while time.monotonic() < deadline:
            entries = [e for server in servers for e in server.requests()]
            if len(entries) != count:
                count, since = len(entries), time.monotonic()
            elif time.monotonic() - since >= quiet:
                return entries
            time.sleep(0.1)
        self.fail(f"requests still coming {READ_BOUND}s after the read{_log_text(entries)}")

    def tail(self, mount: harness.Mount) -> str:
        return f"\nrangefs stderr tail:\n{mount.stderr()[-3000:]}"

    def read_block(self, mount: harness.Mount, index: int):
        """One pread of block `index` without kernel readahead: its bytes or the OSError.
        self.took says how long it took."""
        offset = index * BLOCK
        length = min(BLOCK, SIZE - offset)
        start = time.monotonic()
        result = mount.call(_pread_or_error, mount.path("data.bin"), length, offset,
                            timeout=CALL_BOUND)
        self.took = time.monotonic() - start
        return result

    def assert_block(self, mount: harness.Mount, index: int) -> None:
        result = self.read_block(mount, index)
        offset = index * BLOCK
        self.assertNotIsInstance(result, OSError, f"block {index}: {result}{self.tail(mount)}")
        self.assertTrue(result == self.content[offset:offset + BLOCK],
                        f"block {index}: WRONG BYTES{self.tail(mount)}")

    def assert_whole_file(self, mount: harness.Mount) -> None:
        result = mount.call(_read_or_error, mount.path("data.bin"), timeout=CALL_BOUND)
        self.assertNotIsInstance(result, OSError, f"whole file: {result}{self.tail(mount)}")
        self.assertEqual(len(result), SIZE)
        self.assertTrue(result == self.content, f"whole file: WRONG BYTES{self.tail(mount)}")

    def assert_eio(self, mount: harness.Mount, result, what: str) -> None:
        """`result` of read_block is EIO, within the bound of a failing read."""
        self.assertIsInstance(result, OSError, f"{what}: returned data{self.tail(mount)}")
        self.assertEqual(result.errno, errno.EIO, f"{what}: {result}{self.tail(mount)}")
        self.assertLess(self.took, READ_BOUND, f"{what}: EIO after {self.took:.1f}s")

    def assert_preconditioned(self, gets: list[dict], etag: str, entries: list[dict]) -> None:
        """Every ranged GET carries the pinned version's If-Range."""
        for e in gets:
            self.assertEqual(e["if_range"], etag, f"a GET without the pinned If-Range"
                                                  f"{_log_text(entries)}")

    @staticmethod
    def file_etag(server: RangeTestServer) -> str:
        request = urllib.request.Request(server.url("data.bin"), method="HEAD")
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.headers["ETag"]

    # ============================================================== followed, remembered
    def test_get_redirect_is_followed_and_later_reads_go_straight_to_the_target(self):
        """HEAD answers 200, every GET of the URL a 302 to the file (redirect=1). The first
        read follows the redirect; every later read asks the target directly, with the
        pinned If-Range; no re-probe, and one log line says what happens."""
        server = self.start_server()
        etag = self.file_etag(server)
        url = server.url("data.bin", redirect=1)
        front = _options_of(url)
        mount = self.start_mount(url)
        self.assert_block(mount, 0)
        first = server.settled_requests()
        redirected = _gets(first, front)
        self.assertTrue(redirected and all(e["status"] == 302 for e in redirected),
                        f"the first read did not meet the redirect{_log_text(first)}")
        self.assertTrue(_gets(first, "-"), f"the redirect was not followed{_log_text(first)}")

        server.clear_requests()
        self.assert_whole_file(mount)
        for index in (5, 2, 7):
            self.assert_block(mount, index)
        later = server.settled_requests()
        self.assertEqual(_gets(later, front), [],
                         f"later reads went to the redirecting URL again{_log_text(later)}")
        self.assertEqual(_heads(later), [], f"a re-probe{_log_text(later)}")
        at_target = _gets(later, "-")
        self.assertTrue(at_target, f"no GET at the target{_log_text(later)}")
        self.assertTrue(all(e["status"] == 206 for e in at_target), _log_text(later))
        self.assert_preconditioned(at_target + _gets(first), etag, first + later)
        stderr = mount.stderr()
        self.assertEqual(stderr.count("redirects range requests"), 1, self.tail(mount))
        self.assertNotIn("[warning]", stderr, self.tail(mount))
        self.assertNotIn("[error]", stderr, self.tail(mount))
        _note(f"{len(redirected)} redirected GET(s), then {len(at_target)} straight to the "
              f"target")

    def test_multi_range_get_redirect_is_followed(self):
        """The first open's head-and-tail request (several ranges in one GET) is redirected:
        each range is asked at the target, the bytes are right, and nothing later goes to the
        redirecting URL."""
        server = self.start_server()
        url = server.url("data.bin", redirect=1)
        front = _options_of(url)
        mount = self.start_mount(url, open_prefetch=True)
        self.assert_whole_file(mount)
        entries = server.settled_requests()
        multi = [e for e in _gets(entries, front) if len(harness.parse_ranges(e) or []) >= 2]
        self.assertTrue(multi, f"no multi-range GET met the redirect{_log_text(entries)}")
        self.assertTrue(all(e["status"] == 302 for e in _gets(entries, front)),
                        _log_text(entries))
        asked_at_target = set()
        for e in _gets(entries, "-"):
            self.assertIn(e["status"], (206,), _log_text(entries))
            asked_at_target.update(harness.parse_ranges(e) or [])
        for first, last in harness.parse_ranges(multi[0]):
            self.assertTrue(any(a <= first and last <= b for a, b in asked_at_target),
                            f"bytes={first}-{last} of the redirected request never asked at "
                            f"the target{_log_text(entries)}")
        last_redirect = max(e["start"] for e in _gets(entries, front))
        self.assertTrue([e for e in _gets(entries, "-") if e["start"] > last_redirect],
                        f"nothing after the redirects went to the target{_log_text(entries)}")

    # ======================================================== the target fails, expires
    def test_signed_targets_that_expire_are_replaced(self):
        """Each GET redirect leads to a newly signed address (sign=1) that serves two GETs and
        then answers 403 (gone_after=2). Reading the blocks one at a time: each address serves
        its two, the 403 makes rangefs probe the URL once more (HEAD) and ask it again, which
        redirects to a new address; every block reads right, and nothing goes anywhere else."""
        server = self.start_server()
        etag = self.file_etag(server)
        url = server.url("data.bin", redirect=1, sign=1, gone_after=2)
        front = _options_of(url)
        mount = self.start_mount(url)
        server.clear_requests()  # the probe; one per expiry is counted below
        for index in SPACED:
            self.assert_block(mount, index)
        entries = sorted(server.settled_requests(), key=lambda e: e["start"])
        # sig=1: two blocks, then 403; HEAD, 302 to sig=2: two blocks, then 403; ...
        expected = []
        signatures = (len(SPACED) + 1) // 2
        for signature in range(1, signatures + 1):
            target = f"gone_after=2,sig={signature}"
            if signature > 1:
                expected += [("GET", f"gone_after=2,sig={signature - 1}", 403),
                             ("HEAD", front, 200)]
            expected += [("GET", front, 302)]
            expected += [("GET", target, 206)] * min(2, len(SPACED) - 2 * (signature - 1))
        self.assertEqual([(e["method"], e["options"], e["status"]) for e in entries], expected,
                         _log_text(entries))
        self.assert_preconditioned(_gets(entries), etag, entries)
        self.assertEqual(mount.stderr().count("redirects range requests"), signatures,
                         self.tail(mount))

    def test_target_that_fails_is_forgotten(self):
        """The target answers 503 to its third GET (once). The retry of that read goes back
        to the redirecting URL, which redirects to the target again; the reads after it go
        straight there; every block reads right."""
        server = self.start_server()
        target = server.url("data.bin", status=503, after=2, times=1)
        url = server.url("data.bin", location=target)
        front, at = _options_of(url), _options_of(target)
        mount = self.start_mount(url)
        for index in SPACED:
            self.assert_block(mount, index)
        entries = sorted(server.settled_requests(), key=lambda e: e["start"])
        got = [(e["options"], e["status"]) for e in _gets(entries)]
        expected = ([(front, 302), (at, 206), (at, 206), (at, 503), (front, 302)]
                    + [(at, 206)] * (len(SPACED) - 2))
        self.assertEqual(got, expected, _log_text(entries))
        self.assertEqual(len(_heads(entries)), 1, "a re-probe for a 503")

    # ============================================================ credentials, version
    def test_credentials_go_to_another_origin_only_with_location_trusted(self):
        """The redirect leads to another server (another port: another origin). The user's
        header and URL userinfo reach the user's origin, and the other one only with
        --location-trusted; the bytes are right either way."""
        front = self.start_server()
        storage = self.start_server()
        url = _with_userinfo(front.url("data.bin", location=storage.url("data.bin")),
                             "alice", PASSWORD)
        for trusted in (False, True):
            with self.subTest(location_trusted=trusted):
                front.clear_requests()
                storage.clear_requests()
                args = ["--header", f"X-Api-Key: {SECRET}"]
                if trusted:
                    args.append("--location-trusted")
                mount = self.start_mount(url, *args)
                self.assert_whole_file(mount)
                self.assertNotIn(PASSWORD, mount.stderr())
                self.assertNotIn(SECRET, mount.stderr())
                mount.cleanup()
                at_front = front.settled_requests()
                self.assertTrue(_gets(at_front) and _heads(at_front), _log_text(at_front))
                for e in at_front:
                    self.assertEqual(e["headers"].get("x-api-key"), SECRET, e)
                    self.assertEqual(e["headers"].get("authorization"),
                                     _basic("alice", PASSWORD), e)
                at_storage = storage.settled_requests()
                self.assertTrue(_gets(at_storage), _log_text(at_storage))
                self.assertEqual(_heads(at_storage), [], "the probe went to the storage")
                for e in at_storage:
                    self.assertEqual(e["status"], 206, e)
                    if trusted:
                        self.assertEqual(e["headers"].get("x-api-key"), SECRET, e)
                        self.assertEqual(e["headers"].get("authorization"),
                                         _basic("alice", PASSWORD), e)
                    else:
                        self.assertNotIn("x-api-key", e["headers"], e)
                        self.assertNotIn("authorization", e["headers"], e)

    def test_target_with_another_version_fails_the_read(self):
        """The storage the GETs are redirected to holds another version of the file: it is
        asked with the pinned If-Range, its answer does not match, and the read fails with
        EIO instead of returning its bytes."""
        front = self.start_server()
        etag = self.file_etag(front)
        storage = self.start_server(self.other_data)
        self.assertNotEqual(self.file_etag(storage), etag)
        mount = self.start_mount(front.url("data.bin", location=storage.url("data.bin")))
        result = self.read_block(mount, 1)
        self.assert_eio(mount, result, "a read answered by another version")
        at_storage = storage.settled_requests()
        self.assertTrue(_gets(at_storage), "the redirect was not followed")
        self.assert_preconditioned(_gets(at_storage), etag, at_storage)

    # =============================================================== what is not followed
    def test_redirect_loop_fails_the_read_with_a_log_line(self):
        """Two servers that redirect every GET to each other (HEAD is answered): EIO, few
        requests, and the log says it is a loop."""
        port_a, port_b = harness.free_port(), harness.free_port()
        a = self.start_server(port=port_a,
                              options=f"location=http://127.0.0.1:{port_b}/data.bin")
        b = self.start_server(port=port_b,
                              options=f"location=http://127.0.0.1:{port_a}/data.bin")
        mount = self.start_mount(a.url("data.bin"))
        result = self.read_block(mount, 3)
        self.assert_eio(mount, result, "a redirect loop")
        gets = _gets(self.quiet_requests(a, b))
        loops = [line for line in mount.stderr().splitlines() if "redirect loop" in line]
        self.assertTrue(loops, self.tail(mount))
        self.assertIn(f"127.0.0.1:{port_b}", loops[0])
        # Each fetch: A, B, A again (the hop A -> B repeats), one line; nothing else.
        self.assertEqual(len(gets), 3 * len(loops), f"{_log_text(gets)}{self.tail(mount)}")
        self.assertTrue(all(e["status"] == 302 for e in gets), _log_text(gets))
        self.assertTrue(mount.alive())

    def test_ten_get_redirects_are_followed_eleven_are_not(self):
        """redirect=N: N redirects in a row for each GET (HEAD is answered). Ten are followed;
        at eleven the read fails with EIO, one log line per fetch, and the file's own URL is
        never asked."""
        server = self.start_server()
        mount = self.start_mount(server.url("data.bin", redirect=10))
        self.assert_block(mount, 3)
        entries = _gets(server.settled_requests())
        self.assertEqual([e["options"] for e in entries],
                         [f"redirect={n}" for n in range(10, 0, -1)] + ["-"], _log_text(entries))
        mount.cleanup()

        server.clear_requests()
        mount = self.start_mount(server.url("data.bin", redirect=11))
        result = self.read_block(mount, 3)
        self.assert_eio(mount, result, "eleven redirects")
        entries = _gets(self.quiet_requests(server))
        refusals = [line for line in mount.stderr().splitlines()
                    if "more than 10 redirects" in line]
        self.assertTrue(refusals, self.tail(mount))
        self.assertEqual(_gets(entries, "-"), [], _log_text(entries))
        self.assertEqual(len(entries), 11 * len(refusals), f"{_log_text(entries)}"
                                                           f"{self.tail(mount)}")

    def test_unusable_locations_fail_the_read(self):
        """A Location that is no http(s) URL, or none libcurl can use: EIO at once, with a
        log line naming the problem; nothing else is asked."""
        server = self.start_server()
        for location, words in (("file:///etc/passwd", "only http and https"),
                                ("gopher://127.0.0.1/x", "only http and https"),
                                (" ", "without a usable Location")):
            with self.subTest(location=location):
                server.clear_requests()
                mount = self.start_mount(server.url("data.bin", location=location))
                result = self.read_block(mount, 0)
                self.assert_eio(mount, result, f"Location {location!r}")
                self.assertIn(words, mount.stderr(), self.tail(mount))
                entries = server.settled_requests()
                self.assertTrue(all(e["status"] == 302 for e in _gets(entries)),
                                _log_text(entries))
                self.assertTrue(mount.alive())
                mount.cleanup()


if __name__ == "__main__":
    unittest.main()
