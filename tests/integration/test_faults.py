"""Faults between rangefs and the server: every read returns the right bytes or fails with EIO
within its deadline, never wrong bytes, never a hang, never a crash.

What rangefs promises (and these tests hold it to):

- `--retries N` (default 5) retries after the first attempt, `--timeout SECONDS` (default 60)
  bounds one read with all its attempts and waits, `--stall-timeout SECONDS` (default 15)
  aborts a response that delivers nothing for that long, `--connect-timeout`.
- Retried: refused or reset connections, a body that ends early, a stall, HTTP 408, 429, 500,
  502, 503, 504; exponential backoff with full jitter (0.1 s doubling, at most 5 s);
  Retry-After (seconds or HTTP-date) on 429 and 503 is waited for, at most until the deadline.
- A transfer that dies after delivering bytes is resumed: the retry asks for
  `bytes=<first missing byte>-<same last byte>` with the same If-Range precondition.
- Not retried (EIO at once, a log line naming the server): a Content-Range that does not
  contain the asked range, none on a 206, a body longer than promised, a Content-Encoding,
  malformed or overflowing numbers. A Content-Range that contains the asked range is fine.
- A 403, 404 or 410 from a URL reached by redirect: probe the original URL again, once.
- A server that ignores Range is streamed once into a private temporary file (up to
  `--max-full-fetch`, default 1G; beyond it reads fail with EIO and a log line).
- A server that is gone: EIO within the deadline, other servers' files keep working,
  fusermount3 -u and SIGTERM unmount at once.

The faults come from scripts/lib/range_test_server.py (URL options: drop=N, status=503,
times=K, ...), whose request log says what each request asked for and got. Each test starts
its own server (fault counters start at zero) and its own mount, and ends by unmounting it
with fusermount3 and seeing the daemon exit. Every filesystem access goes through
Mount.call / Mount.run, so a hang kills the daemon and fails the test instead of hanging it.
"""

from __future__ import annotations

import email.utils
import errno
import hashlib
import os
import signal
import sys
import threading
import time
import unittest
import urllib.parse
import urllib.request
from typing import Callable, Optional

import harness
from harness import KiB, MiB

from range_test_server import RangeTestServer  # scripts/lib, on sys.path via harness

BLOCK = 256 * KiB
SIZE = 4 * MiB + 12345        # not a multiple of the block size nor of 64 KiB
OTHER_SIZE = 1 * MiB + 777
BIG_SIZE = 32 * MiB           # ranges=0 beyond --max-full-fetch
TIMEOUT = 10                  # --timeout: one read's deadline
STALL_TIMEOUT = 1             # --stall-timeout
SLACK = 5.0                   # scheduling, process start, slow CI
READ_BOUND = TIMEOUT + SLACK  # what a failing read may take at most
CALL_BOUND = 60.0             # Mount.call kills the daemon after this: a hang, not a failure
QUICK = 3.0                   # "at once": an error that is not retried
BASE_OPTIONS = {"--timeout": str(TIMEOUT), "--stall-timeout": str(STALL_TIMEOUT),
                "--block-size": "256K"}
# Every test here pins the shape of single-range requests (the fault hits the first GET, the
# retry asks for its missing tail): the first open's head-and-tail request would be the first
# GET instead. The same faults on multi-range answers are test_multirange_faults' subject.
BASE_FLAGS = ["--no-open-prefetch"]


def _note(text: str) -> None:
    print(f"\n  {text}", file=sys.stderr)


# --------------------------------------------------------------------------- filesystem
def _describe(result) -> str:
    if isinstance(result, OSError):
        return f"{errno.errorcode.get(result.errno, result.errno)} ({result})"
    return f"{len(result)} bytes"


def _first_difference(a: bytes, b: bytes) -> int:
    for i in range(0, min(len(a), len(b)), 4096):
        if a[i:i + 4096] != b[i:i + 4096]:
            return i + next(j for j in range(4096) if a[i + j:i + j + 1] != b[i + j:i + j + 1])
    return min(len(a), len(b))


# ------------------------------------------------------------------------- request log
def _gets(entries: list[dict], path: Optional[str] = None) -> list[dict]:
    return [e for e in entries if e["method"] == "GET" and (path is None or e["path"] == path)]


def _by_start(entries: list[dict]) -> list[dict]:
    return sorted(entries, key=lambda e: e["start"])


def _faulted(entries: list[dict], fault: str) -> list[dict]:
    return [e for e in entries if fault in e["fault"].split(",")]


def _short_entry(e: dict) -> str:
    return (f"{e['method']} {e['options']}/{e['path']} {e['range'] or '-'} -> {e['status']} "
            f"{e['body_bytes']}B{' aborted' if e['aborted'] else ''}"
            f"{' fault=' + e['fault'] if e['fault'] else ''} if-range={e['if_range'] or '-'} "
            f"at {e['start']:.3f}-{e['time']:.3f}")


def _log_text(entries: list[dict], limit: int = 40) -> str:
    lines = [_short_entry(e) for e in _by_start(entries)]
    if len(lines) > limit:
        lines = lines[:limit // 2] + [f"... {len(lines) - limit} more ..."] + lines[-limit // 2:]
    return "\n    " + "\n    ".join(lines)


class FaultsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_environment("sha256sum")
        data = harness.TempDir("rangefs-faults-data-")
        cls.addClassCleanup(data.cleanup)
        cls.data = data.path
        cls.content = {}
        for name, size in (("data.bin", SIZE), ("other.bin", OTHER_SIZE)):
            path = os.path.join(cls.data, name)
            harness.write_random_file(path, size)
            with open(path, "rb") as f:
                cls.content[name] = f.read()
        # Sparse and never read in full: only for the --max-full-fetch refusal.
        with open(os.path.join(cls.data, "big.bin"), "wb") as f:
            f.truncate(BIG_SIZE)
            f.write(b"big file head")

    # ------------------------------------------------------------------------ fixtures
    def start_server(self) -> RangeTestServer:
        server = RangeTestServer(self.data)
        server.start()
        self.addCleanup(server.cleanup)
        return server

    def setUp(self):
        self.server = self.start_server()
        with urllib.request.urlopen(urllib.request.Request(self.server.url("data.bin"),
                                                           method="HEAD"), timeout=10) as r:
            self.etag = r.headers["ETag"]
        self.assertTrue(self.etag and self.etag.startswith('"'), self.etag)

    def start_mount(self, operands: list[str], options: Optional[dict] = None
                    ) -> harness.Mount:
        """rangefs -f with BASE_OPTIONS, each replaced or completed by `options`, and
        BASE_FLAGS."""
        args = [item for pair in {**BASE_OPTIONS, **(options or {})}.items() for item in pair]
        args += BASE_FLAGS
        mount = harness.Mount(operands, args)
        self.addCleanup(mount.cleanup)
        mount.start()
        self.stderr_at_start = len(mount.stderr())
        return mount

    def tail(self, mount: harness.Mount) -> str:
        return f"\nrangefs stderr tail:\n{mount.stderr()[-3000:]}"

    def new_stderr(self, mount: harness.Mount) -> str:
        return mount.stderr()[self.stderr_at_start:]

    def wait_log(self, server: RangeTestServer, predicate: Callable[[list[dict]], bool],
                 timeout: float = 5.0) -> list[dict]:
        """The request log once predicate holds (a line is written just after a response's
        last byte, so a reader that is done may be a moment early), or as it is after
        timeout: the assertions that follow then say what is missing."""
        try:
            return server.wait_for_requests(predicate, timeout)
        except TimeoutError:
            return server.requests()

    # ------------------------------------------------------------------------- reading
    def read(self, mount: harness.Mount, name: str, length: Optional[int] = None,
             offset: int = 0):
        """(bytes or OSError, seconds): the whole file through one handle, or one pread of
        `length` at `offset` without kernel readahead."""
        path = mount.path(name)
        if length is None:
            return mount.call(harness.timed, harness.read_whole, path, timeout=CALL_BOUND)
        return mount.call(harness.timed, harness.pread_no_readahead, path, length, offset,
                          timeout=CALL_BOUND)

    def read_in_background(self, mount: harness.Mount, name: str, length: int,
                           offset: int) -> tuple[threading.Thread, dict]:
        """self.read in a thread; the dict gets "result" (its tuple) or "error"."""
        box: dict = {}

        def run():
            try:
                box["result"] = self.read(mount, name, length, offset)
            except BaseException as e:  # noqa: BLE001  (reported by the test)
                box["error"] = e

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread, box

    def expected(self, name: str, length: Optional[int] = None, offset: int = 0) -> bytes:
        data = self.content[name]
        return data if length is None else data[offset:offset + length]

    def assert_not_wrong(self, result, expected: bytes, took: float, mount: harness.Mount,
                         what: str, bound: float = READ_BOUND) -> str:
        """The one rule of every read: the right bytes, or EIO within `bound` seconds.
        Returns "ok" or "eio"."""
        if isinstance(result, OSError):
            self.assertEqual(result.errno, errno.EIO,
                             f"{what}: failed with {_describe(result)}, not EIO{self.tail(mount)}")
            self.assertLess(took, bound, f"{what}: EIO after {took:.1f}s, bound {bound}s"
                                         f"{self.tail(mount)}")
            return "eio"
        if result != expected:
            at = _first_difference(result, expected)
            self.fail(f"{what}: WRONG BYTES: {len(result)} bytes read, {len(expected)} expected, "
                      f"first difference at offset {at}{self.tail(mount)}")
        return "ok"

    def assert_correct(self, result, expected: bytes, took: float, mount: harness.Mount,
                       what: str, bound: float = READ_BOUND) -> None:
        self.assertNotIsInstance(result, OSError, f"{what}: failed with {_describe(result)} "
                                                  f"after {took:.1f}s{self.tail(mount)}")
        self.assert_not_wrong(result, expected, took, mount, what)
        self.assertLess(took, bound, f"{what}: took {took:.1f}s")
        self.assertEqual(hashlib.sha256(result).hexdigest(),
                         hashlib.sha256(expected).hexdigest())

    def assert_eio(self, result, took: float, mount: harness.Mount, what: str,
                   bound: float = READ_BOUND) -> None:
        self.assertIsInstance(result, OSError, f"{what}: returned {_describe(result)} instead "
                                               f"of failing with EIO{self.tail(mount)}")
        self.assert_not_wrong(result, b"", took, mount, what, bound)

    def assert_still_serving(self, mount: harness.Mount, name: str = "other.bin") -> None:
        """The daemon survived and a healthy file of the same mount reads right."""
        self.assertTrue(mount.alive(), f"rangefs died{self.tail(mount)}")
        result, took = self.read(mount, name)
        self.assert_correct(result, self.expected(name), took, mount,
                            f"{name}, a healthy file, afterwards")

    def unmount_cleanly(self, mount: harness.Mount, bound: float = 5.0) -> None:
        """fusermount3 -u works and the daemon exits with 0, both within `bound` seconds."""
        self.assertTrue(mount.alive(), f"rangefs died before the unmount{self.tail(mount)}")
        start = time.monotonic()
        result = mount.fusermount_unmount(timeout=15)
        self.assertEqual(result.returncode, 0, f"fusermount3 -u: {result.stderr}"
                                               f"{self.tail(mount)}")
        status = mount.wait_exit(bound)
        took = time.monotonic() - start
        self.assertIsNotNone(status, f"rangefs still running {bound}s after the unmount"
                                     f"{self.tail(mount)}")
        self.assertEqual(status, 0, f"exit status after the unmount{self.tail(mount)}")
        self.assertFalse(mount.mounted)
        self.assertLess(took, bound)

    # ---------------------------------------------------------------------- log checks
    def assert_retried(self, entries: list[dict], faulted: list[dict], what: str,
                       resume: bool = True) -> list[dict]:
        """Each faulted GET is followed by a GET for what it did not deliver: with resume,
        bytes=<first + delivered>-<same last>; a GET that delivered nothing (or resume=False)
        by one for the same range. The follow-up carries the file's If-Range. Returns the
        follow-ups."""
        self.assertTrue(faulted, f"{what}: no faulted request in the log{_log_text(entries)}")
        followups = []
        gets = _gets(entries)
        for e in faulted:
            asked = harness.parse_range(e)
            self.assertIsNotNone(asked, f"{what}: a GET without one bytes=N-M range: "
                                        f"{_short_entry(e)}")
            first, last = asked
            delivered = e["body_bytes"] if resume and e["status"] == 206 else 0
            if delivered >= last - first + 1:
                continue
            want = (first + delivered, last)
            later = [g for g in gets if g is not e and g["start"] >= e["start"]
                     and harness.parse_range(g) == want]
            self.assertTrue(later, f"{what}: no retry asking for bytes={want[0]}-{want[1]} after "
                                   f"{_short_entry(e)}{_log_text(entries)}")
            retry = later[0]
            self.assertEqual(retry["if_range"], self.etag,
                             f"{what}: the retry lacks If-Range {self.etag}: "
                             f"{_short_entry(retry)}")
            followups.append(retry)
        return followups

    def assert_all_preconditioned(self, entries: list[dict], what: str) -> None:
        for e in _gets(entries):
            if harness.parse_range(e):
                self.assertEqual(e["if_range"], self.etag,
                                 f"{what}: a range GET without If-Range: {_short_entry(e)}")

    def assert_log_names_server(self, mount: harness.Mount, server: RangeTestServer,
                                what: str) -> None:
        address = f"127.0.0.1:{server.port}"
        lines = [line for line in self.new_stderr(mount).splitlines() if address in line]
        self.assertTrue(lines, f"{what}: no log line names the server {address}"
                               f"{self.tail(mount)}")

    def assert_requests_stop(self, server: RangeTestServer, what: str,
                             within: float = READ_BOUND, quiet: float = 1.5) -> list[dict]:
        """Requests stop: within `within` seconds the log stays unchanged for `quiet` seconds.
        (Readahead of a failing file may retry a little longer than the read that failed,
        but not beyond its own deadline.)"""
        deadline = time.monotonic() + within
        count = len(server.requests())
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now = len(server.requests())
            if now != count:
                count, quiet_since = now, time.monotonic()
            elif time.monotonic() - quiet_since >= quiet:
                return server.requests()
        entries = server.requests()
        self.fail(f"{what}: requests still going on {within}s after the read failed"
                  f"{_log_text(entries)}")

    # ================================================================ damaged transfers
    # ------------------------------------------------------ readahead never delays a read
    def test_read_waiting_for_a_queued_prefetch_does_not_wait_for_a_connection(self):
        """One connection for readahead: data.bin's prefetch stalls in it (the server answers
        data.bin's first GET, then holds every later one silent), so other.bin's prefetch
        queues behind it. A read of the blocks other.bin's prefetch is to bring must not wait
        for that connection: the queued prefetch starts at once, as a demand request."""
        stalled = self.server.url("data.bin", stall_headers=1, after=1)
        plain = self.server.url("other.bin")
        mount = self.start_mount([f"data.bin={stalled}", f"other.bin={plain}"],
                                 {"--connections": "1", "--stall-timeout": "60",
                                  "--timeout": "120"})
        for name in ("data.bin", "other.bin"):
            # A demand read of block 0, then a read next to it: a sequential stream, whose
            # readahead asks for the blocks after block 0 in one prefetch.
            for offset in (0, 128 * KiB):
                got, _ = self.read(mount, name, 128 * KiB, offset)
                self.assertEqual(got, self.expected(name, 128 * KiB, offset),
                                 name + self.tail(mount))
            if name == "data.bin":
                self.assertTrue(harness.wait_until(lambda: self.server.in_flight() >= 1, 10),
                                "data.bin's prefetch never reached the server")
        self.assertEqual([e["range"] for e in _gets(self.server.requests(), "other.bin")],
                         [f"bytes=0-{BLOCK - 1}"],
                         "other.bin's prefetch should wait behind the stalled one"
                         + self.tail(mount))

        got, seconds = self.read(mount, "other.bin", 4 * KiB, BLOCK + 10)
        self.assertEqual(got, self.expected("other.bin", 4 * KiB, BLOCK + 10), self.tail(mount))
        self.assertGreaterEqual(self.server.in_flight(), 1,
                                "the read returned only after data.bin's stall ended")
        entries = self.wait_log(self.server, lambda es: len(_gets(es, "other.bin")) >= 2)
        ranges = [e["range"] for e in _gets(entries, "other.bin")]
        self.assertEqual(len(ranges), 2, ranges)
        self.assertTrue(ranges[1].startswith(f"bytes={BLOCK}-"), ranges)
        _note(f"read behind a queued prefetch: {seconds:.3f} s, while data.bin's prefetch "
              f"stayed stalled; other.bin GETs {ranges}")

    def test_drop_resumes_at_the_first_missing_byte(self):
        """drop=N for the first K GETs: the file reads right, and each dropped GET is followed
        by one for exactly the bytes it did not deliver, with the same If-Range."""
        n, k = 100_000, 3
        url = self.server.url("data.bin", drop=n, times=k)
        mount = self.start_mount([url])
        result, took = self.read(mount, "data.bin")
        self.assert_correct(result, self.expected("data.bin"), took, mount, "read across drops")

        def resumed(entries):
            faulted = _faulted(entries, "drop")
            return len(faulted) == k and all(
                any(harness.parse_range(g) == (harness.parse_range(e)[0] + e["body_bytes"],
                                               harness.parse_range(e)[1])
                    for g in _gets(entries) if g["start"] >= e["start"] and g is not e)
                for e in faulted if harness.parse_range(e))

        entries = self.wait_log(self.server, resumed)
        faulted = _faulted(entries, "drop")
        self.assertEqual(len(faulted), k, f"expected the first {k} GETs dropped"
                                          f"{_log_text(entries)}")
        for e in faulted:
            first, last = harness.parse_range(e)
            self.assertEqual(e["body_bytes"], min(n, last - first + 1), _short_entry(e))
            self.assertTrue(e["aborted"], _short_entry(e))
        retries = self.assert_retried(entries, faulted, "drop")
        for retry in retries:
            first, _ = harness.parse_range(retry)
            self.assertNotEqual(first % BLOCK, 0, f"a resume that starts block-aligned: "
                                                  f"{_short_entry(retry)}")
        self.assert_all_preconditioned(entries, "drop")
        _note(f"drop={n} x{k}: read in {took:.2f}s; resumes: "
              f"{[r['range'] for r in retries]}")
        self.unmount_cleanly(mount)

    def test_short_body_is_resumed(self):
        """short=N (full Content-Length promised, N bytes fewer sent, closed): resumed at the
        first byte that did not come."""
        n, k = 70_000, 2
        mount = self.start_mount([self.server.url("data.bin", short=n, times=k)])
        result, took = self.read(mount, "data.bin")
        self.assert_correct(result, self.expected("data.bin"), took, mount, "read across shorts")
        entries = self.wait_log(self.server, lambda es: len(_faulted(es, "short")) == k and
                                len(_gets(es)) > k)
        faulted = _faulted(entries, "short")
        self.assertEqual(len(faulted), k, _log_text(entries))
        for e in faulted:
            first, last = harness.parse_range(e)
            self.assertEqual(e["body_bytes"], max(0, last - first + 1 - n), _short_entry(e))
        # Wait for the follow-ups' lines too before judging them.
        entries = self.wait_log(self.server, lambda es: all(
            any(harness.parse_range(g) == (harness.parse_range(e)[0] + e["body_bytes"],
                                           harness.parse_range(e)[1]) for g in _gets(es))
            for e in faulted))
        self.assert_retried(entries, faulted, "short")
        self.unmount_cleanly(mount)

    def test_stall_is_aborted_and_resumed(self):
        """stall=N on the first GET: N bytes, then silence on an open connection. After
        --stall-timeout (1 s) rangefs gives up on it and asks for the rest; the read succeeds
        within a few seconds."""
        n = 50_000
        mount = self.start_mount([self.server.url("data.bin", stall=n, times=1)])
        result, took = self.read(mount, "data.bin")
        self.assert_correct(result, self.expected("data.bin"), took, mount, "read across a stall",
                            bound=STALL_TIMEOUT + SLACK)
        entries = self.wait_log(self.server, lambda es: len(_faulted(es, "stall")) == 1)
        stalled = _faulted(entries, "stall")
        self.assertEqual(len(stalled), 1, _log_text(entries))
        self.assertEqual(stalled[0]["body_bytes"], n)
        entries = self.wait_log(self.server, lambda es: any(
            harness.parse_range(g) and harness.parse_range(g)[0] ==
            harness.parse_range(stalled[0])[0] + n for g in _gets(es)))
        retry = self.assert_retried(entries, stalled, "stall")[0]
        gap = retry["start"] - stalled[0]["start"]
        _note(f"stall after {n} bytes: retry {gap:.2f}s after the stalled request, read in "
              f"{took:.2f}s")
        self.assertGreater(gap, STALL_TIMEOUT * 0.8, "retried before the stall timeout")
        self.assertLess(gap, STALL_TIMEOUT + SLACK)
        self.unmount_cleanly(mount)

    def test_stall_before_headers_is_retried(self):
        """stall_headers=1 on the first GET: not even a status line. Aborted after the stall
        timeout and asked again for the same range."""
        mount = self.start_mount([self.server.url("data.bin", stall_headers=1, times=1)])
        result, took = self.read(mount, "data.bin", 4096, 0)
        self.assert_correct(result, self.expected("data.bin", 4096, 0), took, mount,
                            "read across a silent server", bound=STALL_TIMEOUT + SLACK)
        entries = self.wait_log(self.server, lambda es: _faulted(es, "stall_headers") and
                                len(_gets(es)) >= 2)
        stalled = _faulted(entries, "stall_headers")
        retry = self.assert_retried(entries, stalled, "stall_headers", resume=False)[0]
        self.assertGreater(retry["start"] - stalled[0]["start"], STALL_TIMEOUT * 0.8)
        self.unmount_cleanly(mount)

    def test_long_body_never_gives_wrong_bytes(self):
        """long=N: N bytes more than Content-Length on every answer. EIO or the right bytes
        (the extra must never end up in a read, nor break the next response unnoticed)."""
        mount = self.start_mount([self.server.url("data.bin", long=1000),
                                  self.server.url("other.bin")])
        result, took = self.read(mount, "data.bin")
        outcome = self.assert_not_wrong(result, self.expected("data.bin"), took, mount,
                                        "long body")
        result, took = self.read(mount, "data.bin", 4096, 3 * MiB)
        self.assert_not_wrong(result, self.expected("data.bin", 4096, 3 * MiB), took, mount,
                              "long body, a second read")
        _note(f"long=1000: {outcome}")
        self.assert_still_serving(mount)
        self.unmount_cleanly(mount)

    # ==================================================================== HTTP statuses
    def test_503_with_retry_after_is_waited_for(self):
        """503 with Retry-After: 1 on the first GET: the retry comes at least ~1 s later and
        the read succeeds."""
        mount = self.start_mount([self.server.url("data.bin", status=503, retry_after=1,
                                                  times=1)])
        result, took = self.read(mount, "data.bin")
        self.assert_correct(result, self.expected("data.bin"), took, mount, "read after a 503")
        entries = self.wait_log(self.server, lambda es: len(_gets(es)) >= 2)
        faulted = _faulted(entries, "status")
        self.assertEqual([e["status"] for e in faulted], [503], _log_text(entries))
        retry = self.assert_retried(entries, faulted, "503")[0]
        gap = retry["start"] - faulted[0]["time"]
        _note(f"503 Retry-After 1: retried after {gap:.2f}s")
        self.assertGreaterEqual(gap, 0.9, f"Retry-After: 1 not honoured{_log_text(entries)}")
        self.assertLess(gap, 1 + SLACK)
        self.assertGreaterEqual(took, 0.9)
        self.unmount_cleanly(mount)

    def test_429_is_retried(self):
        """429 without Retry-After on the first GET: retried with backoff, read succeeds."""
        mount = self.start_mount([self.server.url("data.bin", status=429, times=1)])
        result, took = self.read(mount, "data.bin")
        self.assert_correct(result, self.expected("data.bin"), took, mount, "read after a 429")
        entries = self.wait_log(self.server, lambda es: len(_gets(es)) >= 2)
        faulted = _faulted(entries, "status")
        self.assertEqual([e["status"] for e in faulted], [429], _log_text(entries))
        self.assert_retried(entries, faulted, "429")
        self.assertLess(took, QUICK, "a backoff of 0.1 s took too long")
        self.unmount_cleanly(mount)

    def test_429_with_http_date_retry_after(self):
        """Retry-After as an HTTP-date some seconds ahead: the retry waits until about then."""
        when = int(time.time()) + 4
        date = email.utils.formatdate(when, usegmt=True)
        mount = self.start_mount([self.server.url("data.bin", status=429, retry_after=date,
                                                  times=1)])
        result, took = self.read(mount, "data.bin", 4096, 0)
        self.assert_correct(result, self.expected("data.bin", 4096, 0), took, mount,
                            "read after a 429 with a date")
        entries = self.wait_log(self.server, lambda es: len(_gets(es)) >= 2)
        faulted = _faulted(entries, "status")
        retry = self.assert_retried(entries, faulted, "429 with a date")[0]
        _note(f"429 Retry-After {date}: retried at {retry['start'] - when:+.2f}s from it")
        # The date has whole seconds: the retry comes no earlier than a second before it.
        self.assertGreater(retry["start"], when - 1.0, f"retried before the Retry-After date"
                                                       f"{_log_text(entries)}")
        self.assertLess(retry["start"], when + SLACK)
        self.unmount_cleanly(mount)

    def test_500_twice_then_ok(self):
        """500 for the first two GETs: both retried, the read succeeds."""
        mount = self.start_mount([self.server.url("data.bin", status=500, times=2)])
        result, took = self.read(mount, "data.bin")
        self.assert_correct(result, self.expected("data.bin"), took, mount, "read after 500s")
        entries = self.wait_log(self.server, lambda es: len(_gets(es)) >= 3)
        faulted = _faulted(entries, "status")
        self.assertEqual([e["status"] for e in faulted], [500, 500], _log_text(entries))
        self.assert_retried(entries, faulted, "500")
        self.unmount_cleanly(mount)

    def test_408_502_504_are_retried(self):
        """The other retryable statuses, once each on its own file."""
        codes = (408, 502, 504)
        mount = self.start_mount([f"s{code}.bin=" + self.server.url("data.bin", status=code,
                                                                    times=1)
                                  for code in codes])
        for code in codes:
            with self.subTest(status=code):
                result, took = self.read(mount, f"s{code}.bin", 4096, 0)
                self.assert_correct(result, self.expected("data.bin", 4096, 0), took, mount,
                                    f"read after a {code}")
        entries = self.wait_log(self.server, lambda es: len(_gets(es)) >= 2 * len(codes))
        for code in codes:
            with self.subTest(status=code):
                faulted = [e for e in _faulted(entries, "status") if e["status"] == code]
                self.assertEqual(len(faulted), 1, _log_text(entries))
                mine = [e for e in entries if e["options"] == faulted[0]["options"]]
                self.assert_retried(mine, faulted, f"{code}")
        self.unmount_cleanly(mount)

    def test_503_forever_fails_within_the_deadline(self):
        """503 to every GET: EIO within --timeout (plus slack), a bounded number of requests,
        and none after the read has failed."""
        mount = self.start_mount([self.server.url("data.bin", status=503),
                                  self.server.url("other.bin")])
        result, took = self.read(mount, "data.bin", 4096, 0)
        self.assert_eio(result, took, mount, "503 forever")
        entries = self.assert_requests_stop(self.server, "503 forever")
        gets = _gets(entries, "data.bin")
        _note(f"503 forever: EIO after {took:.2f}s and {len(gets)} GETs")
        per_range: dict = {}
        for e in gets:
            per_range[e["range"]] = per_range.get(e["range"], 0) + 1
        for range_, count in per_range.items():
            # 1 + 5 retries per read; the kernel may ask once more after a failed page.
            self.assertLessEqual(count, 2 * (1 + 5), f"{range_} asked {count} times"
                                                     f"{_log_text(entries)}")
        self.assertGreaterEqual(max(per_range.values(), default=0), 2, "never retried")
        self.assert_still_serving(mount)
        self.unmount_cleanly(mount)

    def test_retry_after_beyond_the_deadline_is_cut_short(self):
        """503 with Retry-After: 100 to every GET and --timeout 4: EIO when the deadline
        comes, not 100 s later."""
        mount = self.start_mount([self.server.url("data.bin", status=503, retry_after=100)],
                                 {"--timeout": "4"})
        result, took = self.read(mount, "data.bin", 4096, 0)
        self.assert_eio(result, took, mount, "Retry-After beyond the deadline", bound=4 + SLACK)
        self.unmount_cleanly(mount)

    def test_403_without_redirect_is_not_retried(self):
        """A 403 from the URL as given (no redirect): EIO at once."""
        mount = self.start_mount([self.server.url("data.bin", status=403)])
        result, took = self.read(mount, "data.bin", 4096, 0)
        self.assert_eio(result, took, mount, "403", bound=QUICK)
        self.unmount_cleanly(mount)

    # ================================================================== Content-Range
    def test_shifted_content_range_fails_at_once_and_is_not_repeated(self):
        """cr=shift (Content-Range one byte off): EIO at once, a log line naming the server,
        each range asked at most twice (the kernel may repeat a failed read once), and
        nothing asked after the read failed."""
        mount = self.start_mount([self.server.url("data.bin", cr="shift"),
                                  self.server.url("other.bin")])
        result, took = self.read(mount, "data.bin", 4096, 0)
        self.assert_eio(result, took, mount, "shifted Content-Range", bound=QUICK)
        entries = self.assert_requests_stop(self.server, "shifted Content-Range")
        gets = _gets(entries, "data.bin")
        self.assertTrue(gets, "no GET at all")
        for range_ in {e["range"] for e in gets}:
            count = sum(1 for e in gets if e["range"] == range_)
            self.assertLessEqual(count, 2, f"{range_} asked {count} times: retried"
                                           f"{_log_text(entries)}")
        self.assert_log_names_server(mount, self.server, "shifted Content-Range")
        self.assert_still_serving(mount)
        self.unmount_cleanly(mount)

    def test_wider_content_range_is_accepted(self):
        """cr=wider (a 206 for the asked range rounded out to 64 KiB, correct Content-Range):
        accepted, only the asked bytes used. 4 KiB blocks make requests that are not 64 KiB
        aligned, so the answers really are wider."""
        mount = self.start_mount([self.server.url("data.bin", cr="wider")],
                                 {"--block-size": "4K"})
        for offset in (100 * KiB, 2 * MiB + 12 * KiB, SIZE - 5000):
            result, took = self.read(mount, "data.bin", 4096, offset)
            self.assert_correct(result, self.expected("data.bin", 4096, offset), took, mount,
                                f"read at {offset}")
        result, took = self.read(mount, "data.bin")
        self.assert_correct(result, self.expected("data.bin"), took, mount, "whole file")
        entries = self.server.requests()
        wider = [e for e in _gets(entries) if harness.parse_range(e) and e["status"] == 206
                 and e["body_bytes"] > harness.parse_range(e)[1] - harness.parse_range(e)[0] + 1]
        self.assertTrue(wider, f"no answer was wider than asked: the test proved nothing"
                               f"{_log_text(entries)}")
        self.unmount_cleanly(mount)

    def test_unknown_total_content_range_is_accepted(self):
        """crstar=1: every 206 says "bytes a-b/*" (RFC 9110 section 14.4: the server does not
        know the complete length), the slice and the bytes right. The size the probe found
        stands for the total: reads are right, at the start, in the middle and at the end,
        and each range is asked for once (accepted, not refused and retried)."""
        mount = self.start_mount([self.server.url("data.bin", crstar=1)])
        for offset in (0, 2 * MiB + 12 * KiB, SIZE - 5000):
            result, took = self.read(mount, "data.bin", 4096, offset)
            self.assert_correct(result, self.expected("data.bin", 4096, offset), took, mount,
                                f"read at {offset}")
        result, took = self.read(mount, "data.bin")
        self.assert_correct(result, self.expected("data.bin"), took, mount, "whole file")
        entries = self.server.requests()
        gets = _gets(entries)
        starred = [e for e in gets if e["status"] == 206 and e["content_range"].endswith("/*")]
        self.assertTrue(starred, f"no answer said /*: the test proved nothing{_log_text(entries)}")
        ranges = [e["range"] for e in gets]
        self.assertEqual(len(ranges), len(set(ranges)),
                         f"a range was asked for twice: refused and retried{_log_text(entries)}")
        self.assertNotIn("wrongly", mount.stderr(), self.tail(mount))
        self.unmount_cleanly(mount)

    def test_impossible_numbers_never_give_wrong_bytes(self):
        """Content-Length -5 or beyond 64 bits, and Content-Range numbers that are negative,
        beyond 64 bits, or wrap around 2**64: EIO or the right bytes, no crash."""
        cases = {"cl-negative": {"cl": "-5"},
                 "cl-overflow": {"cl": "99999999999999999999999"},
                 "cr-overflow": {"crnum": "overflow"},
                 "cr-overflow-last": {"crnum": "overflow_last"},
                 "cr-negative": {"crnum": "negative"},
                 "cr-negative-first": {"crnum": "negative_first"},
                 "cr-wrap": {"crnum": "wrap"}}
        mount = self.start_mount([f"{name}.bin=" + self.server.url("data.bin", **options)
                                  for name, options in cases.items()]
                                 + [self.server.url("other.bin")])
        outcomes = {}
        for name in cases:
            with self.subTest(name):
                result, took = self.read(mount, f"{name}.bin", 4096, MiB)
                outcomes[name] = self.assert_not_wrong(
                    result, self.expected("data.bin", 4096, MiB), took, mount, name)
                self.assertTrue(mount.alive(), f"rangefs died on {name}{self.tail(mount)}")
        _note(f"impossible numbers: {outcomes}")
        self.assert_still_serving(mount)
        self.unmount_cleanly(mount)

    # ============================================================ encoding and headers
    def test_gzip_encoding_fails_with_eio(self):
        """Content-Encoding: gzip (the range's bytes compressed): EIO, never the compressed
        bytes, not retried."""
        mount = self.start_mount([self.server.url("data.bin", gzip=1),
                                  self.server.url("other.bin")])
        result, took = self.read(mount, "data.bin", 4096, 0)
        self.assert_eio(result, took, mount, "gzip", bound=QUICK)
        self.assert_log_names_server(mount, self.server, "gzip")
        self.assert_still_serving(mount)
        self.unmount_cleanly(mount)

    def test_junk_header_lines_do_not_crash(self):
        """Header lines without a colon, of spaces only, with a NUL, with bytes that are not
        UTF-8: EIO or the right bytes; the daemon then serves another file."""
        mount = self.start_mount([self.server.url("data.bin", junk=1),
                                  self.server.url("other.bin")])
        result, took = self.read(mount, "data.bin")
        outcome = self.assert_not_wrong(result, self.expected("data.bin"), took, mount, "junk")
        _note(f"junk headers: {outcome}")
        self.assert_still_serving(mount)
        self.unmount_cleanly(mount)

    def test_huge_header_does_not_crash(self):
        """One 200 KiB header line: EIO or the right bytes; the daemon then serves another
        file."""
        mount = self.start_mount([self.server.url("data.bin", huge_header=200 * KiB),
                                  self.server.url("other.bin")])
        result, took = self.read(mount, "data.bin", 4096, 0)
        outcome = self.assert_not_wrong(result, self.expected("data.bin", 4096, 0), took, mount,
                                        "huge header")
        _note(f"200 KiB header: {outcome}")
        self.assert_still_serving(mount)
        self.unmount_cleanly(mount)

    # ======================================================================= redirects
    def test_redirect_chain_is_followed(self):
        """Three redirects in a row (for HEAD and GET alike), then the file: the probe
        follows them, and reads are right."""
        mount = self.start_mount([self.server.url("data.bin", redirect=3, head=1)])
        result, took = self.read(mount, "data.bin")
        self.assert_correct(result, self.expected("data.bin"), took, mount, "after redirects")
        self.unmount_cleanly(mount)

    def test_expired_redirect_target_is_probed_again_from_the_original_url(self):
        """The original URL redirects (once: times=1, head=1) to a "presigned" URL that
        answers 403 after two GETs (gone_after=2). On the 403 rangefs probes the original URL
        again, which now serves the file itself, and the read goes on there, right."""
        target = self.server.url("data.bin", gone_after=2)
        original = self.server.url("data.bin", location=target, head=1, times=1)
        mount = self.start_mount([original])
        result, took = self.read(mount, "data.bin")
        self.assert_correct(result, self.expected("data.bin"), took, mount,
                            "read across an expired URL")
        entries = self.server.requests()
        expired = [e for e in entries if e["fault"] == "gone_after"]
        self.assertTrue(expired, f"the target never expired: the test proved nothing"
                                 f"{_log_text(entries)}")
        original_options = urllib.parse.unquote(urllib.parse.urlsplit(original).path
                                                .split("/")[1])
        reprobes = [e for e in entries if e["options"] == original_options
                    and e["start"] >= expired[0]["start"] and not e["fault"]]
        self.assertTrue(reprobes, f"no request to the original URL after the 403"
                                  f"{_log_text(entries)}")
        self.assertLessEqual(len([e for e in reprobes if e["method"] == "HEAD"]), len(expired),
                             f"more re-probes than 403s{_log_text(entries)}")
        self.unmount_cleanly(mount)

    # ==================================================================== server gone
    def test_server_killed_mid_read(self):
        """Server A is killed (SIGKILL) while a read from it is under way: that read and
        another uncached one fail with EIO within the deadline; a file from server B in the
        same mount still reads; fusermount3 -u then works within a couple of seconds."""
        other = self.start_server()
        # Every GET from A sends 100000 bytes and stalls; a stall timeout of 5 s keeps the
        # first one in flight when A dies. The read wants bytes beyond those 100000.
        mount = self.start_mount([self.server.url("data.bin", stall=100_000),
                                  other.url("other.bin")], {"--stall-timeout": "5"})
        reader, box = self.read_in_background(mount, "data.bin", 4096, 2 * MiB + 200 * KiB)
        time.sleep(0.7)
        self.assertTrue(reader.is_alive(), f"the read was over before the kill: {box}")
        killed_at = time.monotonic()
        os.kill(self.server.pid, signal.SIGKILL)
        self.server.process.wait(timeout=10)
        reader.join(CALL_BOUND + 10)
        self.assertFalse(reader.is_alive(), "the read never returned")
        if "error" in box:
            raise box["error"]
        result, _ = box["result"]
        took = time.monotonic() - killed_at
        self.assert_eio(result, took, mount, "read under way when the server died")
        result, took = self.read(mount, "data.bin", 4096, 3 * MiB)
        self.assert_eio(result, took, mount, "uncached read from the dead server")
        self.assert_still_serving(mount, "other.bin")
        self.unmount_cleanly(mount, bound=2.5)

    def test_sigterm_unmounts_at_once_while_a_read_retries(self):
        """The server is gone and a read is retrying (many retries, long deadline): SIGTERM
        still unmounts and ends the daemon at once; the reader gets an error, not bytes."""
        url = self.server.url("data.bin")
        mount = self.start_mount([url], {"--timeout": "60", "--retries": "100"})
        self.server.stop()
        reader, box = self.read_in_background(mount, "data.bin", 4096, 2 * MiB)
        time.sleep(1.0)
        self.assertTrue(reader.is_alive(), f"the read was over at once: {box}")
        start = time.monotonic()
        mount.send_signal(signal.SIGTERM)
        status = mount.wait_exit(5)
        took = time.monotonic() - start
        if status is None:
            tail = self.tail(mount)
            mount.abort()  # SIGKILL: the failure should not wait out the read's deadline
            self.fail(f"rangefs still running 5 s after SIGTERM{tail}")
        self.assertEqual(status, 0, self.tail(mount))
        self.assertLess(took, 3.0)
        self.assertFalse(mount.mounted)
        reader.join(15)
        self.assertFalse(reader.is_alive(), "the reader is still blocked after the exit")
        if "error" in box:
            raise box["error"]
        result, _ = box["result"]
        self.assertIsInstance(result, OSError, f"the read returned {_describe(result)}")

    # ============================================================ server without ranges
    def test_server_without_ranges_is_streamed_once(self):
        """ranges=0 (200 with the whole file to every request): a read at the end, then
        sha256sum of the whole file, are right, and the server sent the whole file at most
        twice (not once per read)."""
        mount = self.start_mount([self.server.url("data.bin", ranges=0)])
        result, took = self.read(mount, "data.bin", 4096, SIZE - 4096)
        self.assert_correct(result, self.expected("data.bin", 4096, SIZE - 4096), took, mount,
                            "read at the end")
        run = mount.run(["sha256sum", mount.path("data.bin")], timeout=CALL_BOUND)
        self.assertEqual(run.returncode, 0, f"sha256sum: {run.stderr}{self.tail(mount)}")
        self.assertEqual(run.stdout.split()[0].decode(),
                         hashlib.sha256(self.content["data.bin"]).hexdigest(),
                         f"WRONG BYTES from a server without ranges{self.tail(mount)}")
        entries = self.server.requests()
        gets = _gets(entries)
        full = [e for e in gets if e["status"] == 200 and e["body_bytes"] == SIZE]
        _note(f"ranges=0: {len(gets)} GETs, {len(full)} of the whole file")
        self.assertGreaterEqual(len(full), 1, _log_text(entries))
        self.assertLessEqual(len(full), 2, f"the whole file was sent {len(full)} times"
                                           f"{_log_text(entries)}")
        self.assertLessEqual(len(gets), 4, f"{len(gets)} GETs{_log_text(entries)}")
        # The probe's HEAD says "Accept-Ranges: none", so no range request is even tried: the
        # first GET already asks for the whole file.
        self.assertEqual(gets[0]["range"], f"bytes=0-{SIZE - 1}", _log_text(entries))
        self.unmount_cleanly(mount)

    def test_server_without_ranges_beyond_max_full_fetch_fails(self):
        """ranges=0 and a file larger than --max-full-fetch: EIO and a log line naming the
        file, instead of downloading it."""
        url = self.server.url("big.bin", ranges=0)
        mount = self.start_mount([url, self.server.url("other.bin")],
                                 {"--max-full-fetch": "1M"})
        result, took = self.read(mount, "big.bin", 4096, 0)
        self.assert_eio(result, took, mount, "beyond --max-full-fetch", bound=QUICK)
        # Logged when probed or when read, as long as it says why.
        lines = [line for line in mount.stderr().splitlines()
                 if "big.bin" in line and "max-full-fetch" in line]
        self.assertTrue(lines, f"no log line names big.bin and --max-full-fetch"
                               f"{self.tail(mount)}")
        entries = self.server.requests()
        self.assertFalse([e for e in _gets(entries, "big.bin") if e["body_bytes"] >= BIG_SIZE],
                         f"the whole file was downloaded anyway{_log_text(entries)}")
        self.assert_still_serving(mount)
        self.unmount_cleanly(mount)


if __name__ == "__main__":
    unittest.main(verbosity=2)
