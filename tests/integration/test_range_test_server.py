"""The project's fault-injecting test server (scripts/lib/range_test_server.py) checked on its
own, with http.client and raw sockets: Range and multipart answers, validators and
preconditions per the URL options, the request log, keep-alive, a clean stop, every fault
option (what goes on the wire, byte for byte where it matters), and HTTPS. No FUSE and no
rangefs binary needed.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import http.client
import os
import shutil
import socket
import ssl
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request
from typing import Optional

_HERE = os.path.dirname(os.path.abspath(__file__))
_SCRIPTS_LIB = os.path.normpath(os.path.join(_HERE, "..", "..", "scripts", "lib"))
if _SCRIPTS_LIB not in sys.path:
    sys.path.insert(0, _SCRIPTS_LIB)

import procfs  # noqa: E402  (path set up above)
import range_test_server  # noqa: E402
from range_test_server import RangeTestServer, parse_options, OptionError  # noqa: E402

KiB = 1024
MiB = 1024 * KiB
DATA_SIZE = MiB + 12345      # not a multiple of the server's 256 KiB chunk
BIG_SIZE = 64 * MiB          # for speed and for a client that hangs up mid-body
TIMEOUT = 10.0

LOG_FIELDS = {"method", "target", "path", "options", "range", "if_range", "if_match",
              "if_unmodified_since", "if_none_match", "if_modified_since", "headers", "status",
              "body_bytes", "aborted", "fault", "chaos", "content_type", "content_range", "parts",
              "connection", "start", "time"}


def http_date(path: str) -> str:
    return email.utils.formatdate(os.stat(path).st_mtime_ns // 1_000_000_000, usegmt=True)


def multipart_boundary(content_type: str) -> str:
    """The boundary of a multipart/byteranges Content-Type, as a token or quoted-string (the
    server never puts a backslash or a quote in one)."""
    kind, _, params = content_type.partition(";")
    assert kind.strip() == "multipart/byteranges", content_type
    key, _, boundary = params.strip().partition("=")
    assert key == "boundary" and boundary, content_type
    if boundary.startswith('"'):
        assert boundary.endswith('"') and len(boundary) > 2, content_type
        boundary = boundary[1:-1]
    return boundary


def parse_multipart(body: bytes, content_type: str, preamble: bytes = b"",
                    epilogue: bytes = b"") -> list[tuple[dict[str, str], bytes]]:
    """multipart/byteranges by hand, strictly: exactly `preamble` before the first delimiter,
    CRLF before every delimiter but the first, a closing delimiter and exactly `epilogue`
    after it. Returns (headers, data) per part."""
    delim = b"--" + multipart_boundary(content_type).encode()
    opening, closing = preamble + delim + b"\r\n", b"\r\n" + delim + b"--\r\n" + epilogue
    assert body.startswith(opening), body[:100]
    assert body.endswith(closing), body[-100:]
    parts = []
    for raw in body[len(opening):-len(closing)].split(b"\r\n" + delim + b"\r\n"):
        head, sep, data = raw.partition(b"\r\n\r\n")
        assert sep, raw[:200]
        headers = {}
        for line in head.decode("ascii").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        parts.append((headers, data))
    return parts


class _ServerTestCase(unittest.TestCase):
    """One server for the class on a root with data.bin, "a b.bin", empty.bin, big.bin and a
    symlink out of the root; a fresh keep-alive connection and an empty log per test."""

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="range-test-server-it-")
        cls.addClassCleanup(shutil.rmtree, cls.root, True)
        cls.content = {}
        for name, size in (("data.bin", DATA_SIZE), ("a b.bin", 1000), ("empty.bin", 0),
                           ("big.bin", BIG_SIZE)):
            data = os.urandom(size)
            with open(os.path.join(cls.root, name), "wb") as f:
                f.write(data)
            cls.content[name] = data
        os.symlink("/etc/passwd", os.path.join(cls.root, "escape"))
        cls.server = RangeTestServer(cls.root)
        cls.server.start()
        cls.addClassCleanup(cls.server.cleanup)

    def setUp(self):
        self.settle_log()
        self.server.clear_requests()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=TIMEOUT)
        self.addCleanup(self.conn.close)

    def settle_log(self, quiet: float = 0.05, bound: float = 3.0) -> None:
        """Waits (bounded) until the log has not grown for `quiet` seconds: a response of the
        previous test that its client read in full is logged just after its last byte, and
        must not land in this test's log after the clear."""
        deadline = time.monotonic() + bound
        size = os.path.getsize(self.server.log_path)
        while time.monotonic() < deadline:
            time.sleep(quiet)
            now = os.path.getsize(self.server.log_path)
            if now == size:
                return
            size = now

    # ------------------------------------------------------------------------------ helpers
    def fetch(self, name: str, headers: Optional[dict] = None, method: str = "GET",
              conn: Optional[http.client.HTTPConnection] = None, body: Optional[bytes] = None,
              **options) -> tuple[http.client.HTTPResponse, bytes]:
        """One request on self.conn (kept alive); the body is read in full."""
        target = urllib.parse.urlsplit(self.server.url(name, **options)).path
        conn = conn or self.conn
        conn.request(method, target, body=body, headers=headers or {})
        response = conn.getresponse()
        return response, response.read()

    def etag(self, name: str = "data.bin", **options) -> str:
        response, _ = self.fetch(name, method="HEAD", **options)
        return response.getheader("ETag")

    def wait_log(self, count: int) -> list[dict]:
        entries = self.server.wait_for_requests(lambda e: len(e) >= count, TIMEOUT)
        self.assertEqual(len(entries), count, entries)
        return entries

    def assert_one_connection(self, count: int) -> list[dict]:
        """The last `count` requests were all served on one TCP connection."""
        entries = self.wait_log(count)
        self.assertEqual(len({e["connection"] for e in entries}), 1, entries)
        return entries

    def assert_whole(self, response, body: bytes, name: str = "data.bin") -> None:
        self.assertEqual(response.status, 200)
        self.assertIsNone(response.getheader("Content-Range"))
        self.assertEqual(int(response.getheader("Content-Length")), len(self.content[name]))
        self.assertEqual(body, self.content[name])

    def assert_partial(self, response, body: bytes, first: int, last: int,
                       name: str = "data.bin") -> None:
        size = len(self.content[name])
        self.assertEqual(response.status, 206)
        self.assertEqual(response.getheader("Content-Range"), f"bytes {first}-{last}/{size}")
        self.assertEqual(int(response.getheader("Content-Length")), last - first + 1)
        self.assertEqual(body, self.content[name][first:last + 1])


class RangeTestServerTest(_ServerTestCase):

    # --------------------------------------------------------------------- plain answers
    def test_head_has_the_get_headers_and_no_body(self):
        path = os.path.join(self.root, "data.bin")
        head, head_body = self.fetch("data.bin", method="HEAD")
        get, get_body = self.fetch("data.bin")
        self.assertEqual((head.status, get.status), (200, 200))
        self.assertEqual(head_body, b"")
        self.assertEqual(get_body, self.content["data.bin"])
        for name in ("Content-Length", "ETag", "Last-Modified", "Accept-Ranges",
                     "Content-Type"):
            self.assertEqual(head.getheader(name), get.getheader(name), name)
        self.assertEqual(head.getheader("Content-Length"), str(DATA_SIZE))
        self.assertRegex(head.getheader("ETag"), r'^"[0-9a-f]+"$')
        self.assertEqual(head.getheader("Last-Modified"), http_date(path))
        self.assertEqual(head.getheader("Accept-Ranges"), "bytes")
        self.assertEqual(head.getheader("Content-Type"), "application/octet-stream")
        self.assertIsNone(head.getheader("Content-Encoding"))
        self.assert_one_connection(2)

    def test_head_ignores_range(self):
        # Range is defined for GET only (RFC 9110 section 14.2).
        response, body = self.fetch("data.bin", {"Range": "bytes=0-9"}, method="HEAD")
        self.assertEqual(response.status, 200)
        self.assertEqual(response.getheader("Content-Length"), str(DATA_SIZE))
        self.assertEqual(body, b"")

    def test_full_get_and_empty_file(self):
        self.assert_whole(*self.fetch("data.bin"))
        self.assert_whole(*self.fetch("a b.bin"), name="a b.bin")
        self.assert_whole(*self.fetch("empty.bin"), name="empty.bin")
        self.assert_one_connection(3)

    def test_big_file_is_fast(self):
        start = time.monotonic()
        response, body = self.fetch("big.bin")
        elapsed = time.monotonic() - start
        self.assertEqual(response.status, 200)
        self.assertEqual(hashlib.sha256(body).digest(),
                         hashlib.sha256(self.content["big.bin"]).digest())
        self.assertLess(elapsed, 10.0, f"64 MiB over loopback took {elapsed:.1f}s")

    # ----------------------------------------------------------------------------- ranges
    def test_single_suffix_and_open_ranges_on_one_connection(self):
        cases = [("bytes=0-0", 0, 0), ("bytes=100-4195", 100, 4195),
                 ("bytes=262140-262150", 262140, 262150),  # across a server chunk
                 ("bytes=-500", DATA_SIZE - 500, DATA_SIZE - 1),
                 ("bytes=-99999999", 0, DATA_SIZE - 1),
                 ("bytes=1000000-", 1000000, DATA_SIZE - 1),
                 ("bytes=1000-99999999", 1000, DATA_SIZE - 1),
                 ("BYTES = 5-6", 5, 6)]
        for header, first, last in cases:
            with self.subTest(header):
                self.assert_partial(*self.fetch("data.bin", {"Range": header}), first, last)
        entries = self.assert_one_connection(len(cases))
        self.assertEqual([e["range"] for e in entries], [c[0] for c in cases])
        self.assertEqual([e["body_bytes"] for e in entries], [c[2] - c[1] + 1 for c in cases])

    def test_unsatisfiable_is_416_with_star_size(self):
        for header in (f"bytes={DATA_SIZE}-", f"bytes={DATA_SIZE + 5}-{DATA_SIZE + 10}",
                       "bytes=-0", f"bytes={DATA_SIZE}-,-0"):
            with self.subTest(header):
                response, body = self.fetch("data.bin", {"Range": header})
                self.assertEqual(response.status, 416)
                self.assertEqual(response.getheader("Content-Range"), f"bytes */{DATA_SIZE}")
                self.assertEqual(int(response.getheader("Content-Length")), len(body))
        response, body = self.fetch("empty.bin", {"Range": "bytes=0-"})
        self.assertEqual(response.status, 416)
        self.assertEqual(response.getheader("Content-Range"), "bytes */0")
        # A suffix of an empty file is "satisfiable" but has no bytes: the empty file.
        self.assert_whole(*self.fetch("empty.bin", {"Range": "bytes=-5"}), name="empty.bin")
        # The 416 bodies were framed right: the connection still works.
        self.assert_partial(*self.fetch("data.bin", {"Range": "bytes=7-8"}), 7, 8)
        self.assertEqual([e["status"] for e in self.assert_one_connection(7)],
                         [416] * 5 + [200, 206])

    def test_invalid_range_is_ignored(self):
        for header in ("bytes=5-2", "bytes=abc", "items=0-1", "bytes=", "bytes=1-2-3",
                       "bytes=--5", "0-1"):
            with self.subTest(header):
                self.assert_whole(*self.fetch("data.bin", {"Range": header}))

    def test_multipart_byteranges(self):
        request = [(0, 9), (100, 199), (DATA_SIZE - 50, DATA_SIZE - 1), (300000, 600000)]
        header = "bytes=0-9, 100-199,-50,300000-600000"
        response, body = self.fetch("data.bin", {"Range": header})
        self.assertEqual(response.status, 206)
        self.assertIsNone(response.getheader("Content-Range"))
        self.assertEqual(int(response.getheader("Content-Length")), len(body))
        multipart_length = len(body)
        self.assertIsNotNone(response.getheader("ETag"))
        parts = parse_multipart(body, response.getheader("Content-Type"))
        self.assertEqual(len(parts), len(request))
        for (headers, data), (first, last) in zip(parts, request):  # in the order asked
            self.assertEqual(headers, {"content-type": "application/octet-stream",
                                       "content-range": f"bytes {first}-{last}/{DATA_SIZE}"})
            self.assertEqual(data, self.content["data.bin"][first:last + 1])
        # Unsatisfiable specs are left out; one left is a plain single-part 206.
        response, body = self.fetch("data.bin", {"Range": f"bytes=5-6,{DATA_SIZE}-,20-29"})
        parts = parse_multipart(body, response.getheader("Content-Type"))
        self.assertEqual([h["content-range"] for h, _ in parts],
                         [f"bytes 5-6/{DATA_SIZE}", f"bytes 20-29/{DATA_SIZE}"])
        self.assert_partial(*self.fetch("data.bin", {"Range": f"bytes={DATA_SIZE}-,3-4"}),
                            3, 4)
        entries = self.assert_one_connection(3)
        self.assertEqual([e["status"] for e in entries], [206] * 3)
        self.assertEqual(entries[0]["body_bytes"], multipart_length)
        self.assertGreater(multipart_length, sum(b - a + 1 for a, b in request))

    def test_overlapping_or_too_many_ranges_get_the_whole_file(self):
        self.assert_whole(*self.fetch("data.bin", {"Range": "bytes=0-99,50-149"}))
        self.assert_whole(*self.fetch("data.bin", {"Range": "bytes=-100,0-"}))
        many = ",".join(f"{i * 10}-{i * 10 + 1}" for i in range(17))
        self.assert_whole(*self.fetch("data.bin", {"Range": "bytes=" + many}))
        sixteen = ",".join(f"{i * 10}-{i * 10 + 1}" for i in range(16))
        response, body = self.fetch("data.bin", {"Range": "bytes=" + sixteen})
        self.assertEqual(len(parse_multipart(body, response.getheader("Content-Type"))), 16)

    # ------------------------------------------------------------------------- If-Range
    def test_if_range_with_current_strong_etag_is_206_and_weak_is_200(self):
        etag = self.etag()
        self.assert_partial(*self.fetch("data.bin", {"Range": "bytes=10-19", "If-Range": etag}),
                            10, 19)
        self.assert_whole(*self.fetch("data.bin", {"Range": "bytes=10-19",
                                                   "If-Range": "W/" + etag}))
        # With etag=weak the server's own (weak) tag can never satisfy If-Range.
        weak = self.etag(etag="weak")
        self.assertEqual(weak, "W/" + etag)
        self.assert_whole(*self.fetch("data.bin", {"Range": "bytes=10-19", "If-Range": weak},
                                      etag="weak"))
        self.assert_whole(*self.fetch("data.bin", {"Range": "bytes=10-19", "If-Range": etag},
                                      etag="weak"))
        self.assert_whole(*self.fetch("data.bin", {"Range": "bytes=10-19", "If-Range": etag},
                                      etag="none"))
        entries = self.assert_one_connection(7)
        self.assertEqual(entries[1]["if_range"], etag)

    def test_if_range_date(self):
        path = os.path.join(self.root, "data.bin")
        mtime = os.stat(path).st_mtime_ns // 1_000_000_000
        date = http_date(path)
        self.assert_partial(*self.fetch("data.bin", {"Range": "bytes=0-4", "If-Range": date}),
                            0, 4)
        for other in (mtime - 1, mtime + 1):
            with self.subTest(other=other):
                self.assert_whole(*self.fetch("data.bin", {
                    "Range": "bytes=0-4",
                    "If-Range": email.utils.formatdate(other, usegmt=True)}))
        # A date matches only the Last-Modified the client could have seen.
        self.assert_whole(*self.fetch("data.bin", {"Range": "bytes=0-4", "If-Range": date},
                                      lm=False))
        self.assert_whole(*self.fetch("data.bin", {"Range": "bytes=0-4",
                                                   "If-Range": "not a date"}))

    def test_file_replaced_by_rename_changes_etag_and_if_range_gets_new_body(self):
        path = os.path.join(self.root, "swap.bin")
        old = os.urandom(5000)
        with open(path, "wb") as f:
            f.write(old)
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        first, body = self.fetch("swap.bin")
        self.assertEqual(body, old)
        old_etag = first.getheader("ETag")

        new = os.urandom(6000)
        with open(path + ".tmp", "wb") as f:
            f.write(new)
        os.rename(path + ".tmp", path)
        response, body = self.fetch("swap.bin", {"Range": "bytes=0-99", "If-Range": old_etag})
        self.assertEqual(response.status, 200)
        self.assertEqual(body, new)
        new_etag = response.getheader("ETag")
        self.assertNotEqual(new_etag, old_etag)
        response, body = self.fetch("swap.bin", {"Range": "bytes=0-99", "If-Range": new_etag})
        self.assertEqual((response.status, body), (206, new[:100]))

        # Same inode and size, only the mtime moves: a new ETag too.
        st = os.stat(path)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
        self.assertNotEqual(self.etag("swap.bin"), new_etag)
        self.assert_one_connection(4)

    # -------------------------------------------------------------------- preconditions
    def test_if_match(self):
        etag = self.etag()
        response, body = self.fetch("data.bin", {"If-Match": '"nope"', "Range": "bytes=0-9"})
        self.assertEqual(response.status, 412)
        self.assertEqual(int(response.getheader("Content-Length")), len(body))
        self.assertGreater(len(body), 0)
        self.assertEqual(self.fetch("data.bin", {"If-Match": "W/" + etag})[0].status, 412)
        self.assertEqual(self.fetch("data.bin", {"If-Match": etag}, etag="weak")[0].status, 412)
        self.assertEqual(self.fetch("data.bin", {"If-Match": etag}, etag="none")[0].status, 412)
        self.assert_partial(*self.fetch("data.bin", {"If-Match": f'"x", {etag}',
                                                     "Range": "bytes=0-9"}), 0, 9)
        self.assert_whole(*self.fetch("data.bin", {"If-Match": "*"}))
        self.assertEqual([e["status"] for e in self.assert_one_connection(7)],
                         [200, 412, 412, 412, 412, 206, 200])

    def test_if_unmodified_since(self):
        path = os.path.join(self.root, "data.bin")
        mtime = os.stat(path).st_mtime_ns // 1_000_000_000
        older = email.utils.formatdate(mtime - 10, usegmt=True)
        self.assertEqual(self.fetch("data.bin", {"If-Unmodified-Since": older})[0].status, 412)
        # Evaluated with the real mtime even when Last-Modified is not sent (lm=0).
        self.assertEqual(self.fetch("data.bin", {"If-Unmodified-Since": older},
                                    lm=False)[0].status, 412)
        self.assert_whole(*self.fetch("data.bin", {"If-Unmodified-Since": http_date(path)}))
        self.assert_whole(*self.fetch("data.bin", {"If-Unmodified-Since": "garbage"}))
        # If-Match present: If-Unmodified-Since is not looked at.
        self.assert_whole(*self.fetch("data.bin", {"If-Match": "*",
                                                   "If-Unmodified-Since": older}))

    def test_if_none_match_and_if_modified_since_give_304(self):
        path = os.path.join(self.root, "data.bin")
        etag = self.etag()
        response, body = self.fetch("data.bin", {"If-None-Match": etag})
        self.assertEqual((response.status, body), (304, b""))
        self.assertEqual(response.getheader("ETag"), etag)
        self.assertIsNone(response.getheader("Content-Length"))
        self.assertEqual(self.fetch("data.bin", {"If-None-Match": "W/" + etag})[0].status, 304)
        self.assert_whole(*self.fetch("data.bin", {"If-None-Match": '"other"'}))
        self.assertEqual(self.fetch("data.bin", {"If-Modified-Since": http_date(path)})[0]
                         .status, 304)
        mtime = os.stat(path).st_mtime_ns // 1_000_000_000
        self.assert_whole(*self.fetch("data.bin", {
            "If-Modified-Since": email.utils.formatdate(mtime - 1, usegmt=True)}))
        # The 304s had no body and did not break the connection.
        self.assertEqual([e["status"] for e in self.assert_one_connection(6)],
                         [200, 304, 304, 200, 304, 200])

    def test_pre_ignore_honors_range_despite_stale_validators(self):
        headers = {"Range": "bytes=3-7", "If-Range": '"stale"', "If-Match": '"stale"',
                   "If-Unmodified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}
        self.assertEqual(self.fetch("data.bin", headers)[0].status, 412)
        self.assert_partial(*self.fetch("data.bin", headers, pre="ignore"), 3, 7)
        del headers["If-Match"], headers["If-Unmodified-Since"]
        self.assert_whole(*self.fetch("data.bin", headers))
        self.assert_partial(*self.fetch("data.bin", headers, pre="ignore"), 3, 7)

    # -------------------------------------------------------------------------- options
    def test_validator_options(self):
        strong = self.etag()
        response, _ = self.fetch("data.bin", method="HEAD", etag="weak")
        self.assertEqual(response.getheader("ETag"), "W/" + strong)
        self.assertIsNotNone(response.getheader("Last-Modified"))
        response, body = self.fetch("data.bin", {"Range": "bytes=0-1"}, etag="none", lm=False)
        self.assert_partial(response, body, 0, 1)
        self.assertIsNone(response.getheader("ETag"))
        self.assertIsNone(response.getheader("Last-Modified"))
        response, _ = self.fetch("data.bin", method="HEAD", lm=False)
        self.assertEqual(response.getheader("ETag"), strong)
        self.assertIsNone(response.getheader("Last-Modified"))

    def test_ranges_off_answers_200(self):
        response, body = self.fetch("data.bin", {"Range": "bytes=0-9"}, ranges=False)
        self.assert_whole(response, body)
        self.assertEqual(response.getheader("Accept-Ranges"), "none")
        response, body = self.fetch("data.bin", {"Range": "bytes=0-9,20-29"}, ranges=0)
        self.assert_whole(response, body)

    def test_bad_options_are_400_naming_the_problem(self):
        for options, words in (({"etag": "strng"}, ("etag", "strng")),
                               ({"lm": "yes"}, ("lm", "yes")),
                               ({"etagg": "weak"}, ("etagg",))):
            with self.subTest(options):
                response, body = self.fetch("data.bin", **options)
                self.assertEqual(response.status, 400)
                for word in words:
                    self.assertIn(word, body.decode())
        self.conn.request("GET", "/data.bin")  # forgot the options segment
        response = self.conn.getresponse()
        self.assertEqual(response.status, 400)
        self.assertIn("key=value", response.read().decode())
        self.conn.request("GET", "/etag=weak,etag=none/data.bin")
        response = self.conn.getresponse()
        self.assertEqual(response.status, 400)
        self.assertIn("twice", response.read().decode())
        self.assertEqual([e["status"] for e in self.assert_one_connection(5)], [400] * 5)

    def test_missing_escaping_and_other_methods(self):
        self.assertEqual(self.fetch("nope.bin")[0].status, 404)
        self.assertEqual(self.fetch("escape")[0].status, 404)  # symlink out of the root
        for target in ("/-/../" + os.path.basename(self.root) + "/data.bin",
                       "/-/%2e%2e/etc/passwd", "/-/", "/-"):
            with self.subTest(target):
                self.conn.request("GET", target)
                response = self.conn.getresponse()
                self.assertEqual(response.status, 404)
                self.assertNotIn(b"root:", response.read())
        response, body = self.fetch("data.bin", method="POST", body=b"x" * 1000)
        self.assertEqual(response.status, 405)
        self.assertEqual(response.getheader("Allow"), "GET, HEAD")
        # The POST body was consumed: the next request on the connection parses.
        self.assert_whole(*self.fetch("data.bin"))
        self.assertEqual([e["status"] for e in self.assert_one_connection(8)],
                         [404] * 6 + [405, 200])

    # ------------------------------------------------------------------------------ log
    def test_log_lines(self):
        other = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=TIMEOUT)
        self.addCleanup(other.close)
        etag = self.etag("a b.bin")
        self.fetch("a b.bin", {"Range": "bytes=1-2", "If-Range": etag}, etag="strong", lm=0)
        self.fetch("a b.bin", {"If-Match": '"x"'})
        self.fetch("a b.bin", {"Range": "bytes=5000-"})
        self.fetch("a b.bin", {"If-None-Match": etag, "If-Modified-Since": "x"})
        self.fetch("a b.bin", conn=other)
        entries = self.wait_log(6)
        # Lines are appended as responses end, so in order of "time"; a response its client
        # has read may still be logged after the next one, so compare in request order.
        times = [e["time"] for e in entries]
        self.assertEqual(times, sorted(times))
        entries.sort(key=lambda e: e["start"])
        for e in entries:
            self.assertLessEqual(e["start"], e["time"])
            self.assertEqual(set(e), LOG_FIELDS, e)
            self.assertEqual(e["path"], "a b.bin")
            self.assertIsInstance(e["time"], float)
            self.assertFalse(e["aborted"])
        self.assertEqual([e["method"] for e in entries], ["HEAD"] + ["GET"] * 5)
        self.assertEqual([e["status"] for e in entries], [200, 206, 412, 416, 304, 200])
        self.assertEqual([e["options"] for e in entries],
                         ["-", "etag=strong,lm=0", "-", "-", "-", "-"])
        self.assertEqual(entries[0]["body_bytes"], 0)  # HEAD
        self.assertEqual(entries[1]["body_bytes"], 2)
        self.assertEqual(entries[1]["range"], "bytes=1-2")
        self.assertEqual(entries[1]["if_range"], etag)
        self.assertEqual(entries[2]["if_match"], '"x"')
        self.assertEqual(entries[4]["if_none_match"], etag)
        self.assertEqual(entries[4]["if_modified_since"], "x")
        self.assertEqual(entries[4]["body_bytes"], 0)
        self.assertEqual(entries[5]["body_bytes"], 1000)
        self.assertEqual(entries[0]["range"], "")
        self.assertEqual(len({e["connection"] for e in entries[:5]}), 1)
        self.assertNotEqual(entries[5]["connection"], entries[0]["connection"])

        self.server.clear_requests()
        self.assertEqual(self.server.requests(), [])
        self.fetch("data.bin", {"Range": "bytes=0-0"})
        self.assertEqual(self.wait_log(1)[0]["status"], 206)
        with self.assertRaises(TimeoutError):
            self.server.wait_for_requests(lambda e: len(e) > 1, timeout=0.2)

    def test_client_hanging_up_mid_body_is_logged_as_aborted(self):
        target = urllib.parse.urlsplit(self.server.url("big.bin")).path
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=TIMEOUT) as s:
            s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            self.assertTrue(s.recv(65536).startswith(b"HTTP/1.1 200 "))
        # Unread data in the receive queue: close() resets the connection.
        entries = self.wait_log(1)
        self.assertTrue(entries[0]["aborted"], entries)
        self.assertEqual(entries[0]["status"], 200)
        self.assertLess(entries[0]["body_bytes"], BIG_SIZE)
        # The server carries on.
        self.assert_whole(*self.fetch("a b.bin"), name="a b.bin")

    # ------------------------------------------------------------------------ lifecycle
    def test_url(self):
        base = self.server.base_url
        self.assertEqual(base, f"http://127.0.0.1:{self.server.port}")
        self.assertEqual(self.server.url("a b.bin", etag="weak", lm=False),
                         f"{base}/etag=weak,lm=0/a%20b.bin")
        self.assertEqual(self.server.url("/d/x.bin"), f"{base}/-/d/x.bin")
        self.assertEqual(self.server.url("x", ranges=True, pre="ignore"),
                         f"{base}/ranges=1,pre=ignore/x")

    def test_stop_leaves_no_process(self):
        server = RangeTestServer(self.root)
        with server:
            pid = server.pid
            port = server.port
            tmpdir = server.tmpdir
            self.assertTrue(procfs.pid_alive(pid))
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
            self.addCleanup(conn.close)
            self.assertEqual(self.fetch("a b.bin", conn=conn)[1], self.content["a b.bin"])
            server.stop()
            self.assertFalse(procfs.pid_alive(pid))
            self.assertFalse(server.running)
            self.assertEqual(len(server.requests()), 1)  # the log outlives stop()
            server.stop()  # idempotent
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
        self.assertFalse(os.path.exists(tmpdir))
        server.cleanup()  # idempotent too

    def test_server_dies_with_its_parent(self):
        # A parent killed hard closes the server's stdin pipe; that alone must end it.
        server = RangeTestServer(self.root)
        self.addCleanup(server.cleanup)
        server.start()
        pid = server.pid
        server.process.stdin.close()
        self.assertTrue(procfs.wait_until(lambda: not procfs.pid_alive(pid), TIMEOUT))


# ================================================================================= faults
def head_fields(head: bytes) -> tuple[int, list[bytes]]:
    """(status, header lines) of a raw response head (without the blank line)."""
    lines = head.split(b"\r\n")
    return int(lines[0].split()[1]), lines[1:]


def head_value(head: bytes, name: str) -> Optional[str]:
    """The first `name` field's value in a raw head, None if absent."""
    prefix = name.lower().encode() + b":"
    for line in head_fields(head)[1]:
        if line.lower().startswith(prefix):
            return line[len(prefix):].strip().decode("latin-1")
    return None


class FaultOptionsTest(_ServerTestCase):
    """Every fault option, checked on the wire. Each test reads a file of its own (a hard
    link to data.bin named after the test), so the per-(path, options) counters start at 0."""

    def setUp(self):
        super().setUp()
        self.name = f"{self._testMethodName}.bin"
        path = os.path.join(self.root, self.name)
        if not os.path.exists(path):
            os.link(os.path.join(self.root, "data.bin"), path)
        self.content[self.name] = self.content["data.bin"]
        self.data = self.content["data.bin"]

    # ------------------------------------------------------------------------- raw helpers
    def target(self, name: Optional[str] = None, **options) -> str:
        return urllib.parse.urlsplit(self.server.url(name or self.name, **options)).path

    def raw(self, target: str, headers: Optional[dict] = None, method: str = "GET",
            sock: Optional[socket.socket] = None) -> socket.socket:
        """Sends one request on a new (or the given) connection; returns the socket."""
        if sock is None:
            sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=TIMEOUT)
            self.addCleanup(sock.close)
        lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        return sock

    @staticmethod
    def read_head(sock: socket.socket, pending: bytes = b"") -> tuple[bytes, bytes]:
        """(head without the blank line, bytes already read after it)."""
        data = pending
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed inside the head: {data[:300]!r}")
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        return head, rest

    @staticmethod
    def read_exactly(sock: socket.socket, count: int, pending: bytes = b"") -> bytes:
        data = pending
        while len(data) < count:
            chunk = sock.recv(min(65536, count - len(data)))
            if not chunk:
                raise AssertionError(f"connection closed after {len(data)} of {count} bytes")
            data += chunk
        return data

    @staticmethod
    def read_rest(sock: socket.socket, pending: bytes = b"", wait: float = TIMEOUT
                  ) -> tuple[bytes, bool]:
        """Everything until the server closes (eof True) or `wait` seconds of silence."""
        data = pending
        sock.settimeout(wait)
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return data, True
                data += chunk
        except (TimeoutError, socket.timeout):
            return data, False
        except ConnectionResetError:
            return data, True

    def entry(self, count: int = 1) -> dict:
        return self.wait_log(count)[-1]

    # ---------------------------------------------------------------------------- the log
    def test_log_has_every_request_header(self):
        self.conn.putrequest("GET", self.target(), skip_accept_encoding=True)
        self.conn.putheader("X-Custom", "some value")
        self.conn.putheader("User-Agent", "fault-test/1")
        self.conn.putheader("X-Twice", "1")
        self.conn.putheader("X-Twice", "2")
        self.conn.putheader("Range", "bytes=0-9")
        self.conn.endheaders()
        response = self.conn.getresponse()
        self.assertEqual(response.read(), self.data[:10])
        e = self.entry()
        self.assertEqual(set(e), LOG_FIELDS, e)
        self.assertEqual(e["headers"], {"host": f"127.0.0.1:{self.server.port}",
                                        "x-custom": "some value", "user-agent": "fault-test/1",
                                        "x-twice": "1, 2", "range": "bytes=0-9"})
        self.assertEqual(e["fault"], "")
        self.assertEqual(e["target"], self.target())
        self.assertLessEqual(e["start"], e["time"])

    def test_absolute_form_target_is_served_and_logged_as_sent(self):
        # What a client writes to a proxy (RFC 9112 section 3.2.2): a test can point --proxy
        # at this server and see, in the log, the URL and Host each request went out with.
        absolute = f"http://Some.Host.invalid{self.target()}"
        self.conn.request("GET", absolute, headers={"Host": "some.host.invalid",
                                                    "Range": "bytes=0-9"})
        response = self.conn.getresponse()
        self.assertEqual((response.status, response.read()), (206, self.data[:10]))
        e = self.entry()
        self.assertEqual((e["target"], e["path"]), (absolute, self.name))
        self.assertEqual(e["headers"]["host"], "some.host.invalid")

    # -------------------------------------------------------------------- times and head
    def test_times_counts_matching_gets_per_path_and_options(self):
        range_ = {"Range": "bytes=0-9"}
        statuses = []
        for method in ("GET", "HEAD", "GET", "GET", "GET"):
            response, _ = self.fetch(self.name, range_, method=method, status=503, times=2)
            statuses.append(response.status)
        # HEAD is not faulted and not counted: GETs 1 and 2 fail, GET 3 and 4 are served.
        self.assertEqual(statuses, [503, 200, 503, 206, 206])
        # Another options segment and another path have counters of their own.
        self.assertEqual(self.fetch(self.name, range_, status=503, times=2, lm=1)[0].status,
                         503)
        self.assertEqual(self.fetch("a b.bin", range_, status=503, times=2)[0].status, 503)
        entries = self.wait_log(7)
        self.assertEqual([e["fault"] for e in entries],
                         ["status", "", "status", "", "", "status", "status"])
        self.assertEqual(entries[0]["options"], "status=503,times=2")
        # head=1: HEADs match and are counted.
        statuses = [self.fetch(self.name, range_, method=m, status=500, times=1, head=1)[0]
                    .status for m in ("HEAD", "HEAD", "GET")]
        self.assertEqual(statuses, [500, 200, 206])
        # times=0: never faulted.
        self.assert_partial(*self.fetch(self.name, range_, drop=0, times=0), 0, 9,
                            name=self.name)

    def test_after_spares_the_first_matching_gets(self):
        range_ = {"Range": "bytes=0-9"}
        statuses = [self.fetch(self.name, range_, method=m, status=503, after=2)[0].status
                    for m in ("GET", "HEAD", "GET", "GET", "GET")]
        # HEAD is neither faulted nor counted: GETs 1 and 2 are served, 3 and 4 fail.
        self.assertEqual(statuses, [206, 200, 206, 503, 503])
        # With times: GETs after the first one, two of them.
        statuses = [self.fetch(self.name, range_, status=500, after=1, times=2)[0].status
                    for _ in range(5)]
        self.assertEqual(statuses, [206, 500, 500, 206, 206])
        # Like times, it needs a fault to select for.
        self.assertEqual(self.fetch(self.name, range_, after=1)[0].status, 400)

    # ------------------------------------------------------------- damaged transfers
    def test_drop_closes_after_n_body_bytes(self):
        sock = self.raw(self.target(drop=1000), {"Range": "bytes=0-99999"})
        head, rest = self.read_head(sock)
        self.assertEqual(head_fields(head)[0], 206)
        self.assertEqual(head_value(head, "Content-Length"), "100000")
        self.assertEqual(head_value(head, "Content-Range"), f"bytes 0-99999/{DATA_SIZE}")
        body, eof = self.read_rest(sock, rest)
        self.assertTrue(eof, "the connection stayed open after the drop")
        self.assertEqual(body, self.data[:1000])
        e = self.entry()
        self.assertEqual((e["status"], e["body_bytes"], e["aborted"], e["fault"]),
                         (206, 1000, True, "drop"))
        # http.client sees an incomplete body; with times=1 the next request is whole.
        response, _ = None, None
        self.conn.request("GET", self.target(drop=7, times=1), headers={"Range": "bytes=0-99"})
        response = self.conn.getresponse()
        with self.assertRaises(http.client.IncompleteRead) as caught:
            response.read()
        self.assertEqual(caught.exception.partial, self.data[:7])
        self.conn.close()
        self.assert_partial(*self.fetch(self.name, {"Range": "bytes=0-99"}, drop=7, times=1),
                            0, 99, name=self.name)

    def test_drop_beyond_the_body_sends_it_all_then_closes(self):
        sock = self.raw(self.target(drop=5000), {"Range": "bytes=10-19"})
        head, rest = self.read_head(sock)
        body, eof = self.read_rest(sock, rest)
        self.assertEqual((body, eof), (self.data[10:20], True))

    def test_short_promises_everything_and_sends_less(self):
        sock = self.raw(self.target(short=300), {"Range": "bytes=500-1499"})
        head, rest = self.read_head(sock)
        self.assertEqual(head_value(head, "Content-Length"), "1000")
        body, eof = self.read_rest(sock, rest)
        self.assertTrue(eof)
        self.assertEqual(body, self.data[500:1200])
        e = self.entry()
        self.assertEqual((e["body_bytes"], e["aborted"], e["fault"]), (700, True, "short"))

    def test_stall_holds_the_connection_until_the_client_leaves(self):
        sock = self.raw(self.target(stall=500), {"Range": "bytes=0-9999"})
        head, rest = self.read_head(sock)
        self.assertEqual(head_value(head, "Content-Length"), "10000")
        body = self.read_exactly(sock, 500, rest)
        more, eof = self.read_rest(sock, body[500:], wait=0.7)
        self.assertEqual((more, eof), (b"", False), "bytes or a close during the stall")
        self.assertEqual(body[:500], self.data[:500])
        self.assertEqual(self.server.requests(), [], "logged before the stall ended")
        self.assertEqual(self.server.in_flight(), 1, "the stalled response is in progress")
        with self.assertRaises(TimeoutError):
            self.server.settled_requests(timeout=0.2)
        sock.close()
        entries = self.server.settled_requests()
        self.assertEqual(self.server.in_flight(), 0)
        self.assertEqual(len(entries), 1, entries)
        e = entries[0]
        self.assertEqual((e["status"], e["body_bytes"], e["aborted"], e["fault"]),
                         (206, 500, True, "stall"))
        self.assertGreaterEqual(e["time"] - e["start"], 0.6)

    def test_stall_headers_sends_nothing(self):
        sock = self.raw(self.target(stall_headers=1), {"Range": "bytes=0-9"})
        data, eof = self.read_rest(sock, wait=0.7)
        self.assertEqual((data, eof), (b"", False))
        sock.close()
        e = self.entry()
        self.assertEqual((e["body_bytes"], e["aborted"], e["fault"]),
                         (0, True, "stall_headers"))

    def test_trickle_paces_the_body_and_sends_it_whole(self):
        start = time.monotonic()
        sock = self.raw(self.target(trickle=1000), {"Range": "bytes=0-399"})
        head, rest = self.read_head(sock)
        self.assertEqual(head_value(head, "Content-Length"), "400")
        body = self.read_exactly(sock, 400, rest)
        took = time.monotonic() - start
        self.assertEqual(body, self.data[:400])
        # 100 bytes every 0.1 s: the last slice goes out 0.3 s after the first.
        self.assertGreaterEqual(took, 0.3)
        sock.close()
        e = self.entry()
        self.assertEqual((e["status"], e["body_bytes"], e["fault"]), (206, 400, "trickle"))

    def test_trickle_headers_paces_the_head(self):
        start = time.monotonic()
        sock = self.raw(self.target(trickle_headers=500), {"Range": "bytes=0-9"})
        head, rest = self.read_head(sock)
        took = time.monotonic() - start
        self.assertGreaterEqual(took, 0.2, "a head of over 150 bytes at 500 bytes a second")
        self.assertEqual(self.read_exactly(sock, 10, rest), self.data[:10])
        sock.close()
        self.assertEqual(self.entry()["fault"], "trickle_headers")

    def test_endless_headers_never_end_the_head(self):
        sock = self.raw(self.target(endless_headers=1), {"Range": "bytes=0-9"})
        data = b""
        sock.settimeout(TIMEOUT)
        while len(data) < 256 * 1024:  # never ends by itself: read a bounded amount
            chunk = sock.recv(65536)
            self.assertTrue(chunk, "the server closed the connection")
            data += chunk
        self.assertTrue(data.startswith(b"HTTP/1.1 206"), data[:40])
        self.assertGreater(len(data), 64 * 1024, "header lines as fast as they are read")
        self.assertNotIn(b"\r\n\r\n", data, "the head ended")
        sock.close()
        self.assertEqual(self.entry()["fault"], "endless_headers")

    def test_long_sends_extra_bytes_on_the_same_connection(self):
        sock = self.raw(self.target(long=50), {"Range": "bytes=0-99"})
        head, rest = self.read_head(sock)
        self.assertEqual(head_value(head, "Content-Length"), "100")
        data = self.read_exactly(sock, 150, rest)
        self.assertEqual(data[:100], self.data[:100])
        self.assertEqual(data[100:150], range_test_server.long_filler(50))
        self.assertTrue(data[100:150].startswith(range_test_server.LONG_FILLER))
        # The connection stays open: a second request is answered after the extra bytes.
        self.raw(self.target(), {"Range": "bytes=0-1"}, sock=sock)
        head, rest = self.read_head(sock, data[150:])
        self.assertEqual(head_fields(head)[0], 206)
        self.assertEqual(self.read_exactly(sock, 2, rest), self.data[:2])
        entries = self.wait_log(2)
        self.assertEqual(entries[0]["body_bytes"], 150)
        self.assertEqual(entries[0]["connection"], entries[1]["connection"])

    # ------------------------------------------------------------------ error statuses
    def test_status_with_and_without_retry_after(self):
        date = "Wed, 21 Oct 2015 07:28:00 GMT"
        for options, status, retry_after in (({"status": 503, "retry_after": 2}, 503, "2"),
                                             ({"status": 429, "retry_after": date}, 429, date),
                                             ({"status": 500}, 500, None),
                                             ({"status": 404}, 404, None),
                                             ({"status": 403}, 403, None),
                                             ({"status": 410}, 410, None),
                                             ({"status": 599}, 599, None)):
            with self.subTest(options):
                response, body = self.fetch(self.name, {"Range": "bytes=0-9"}, **options)
                self.assertEqual(response.status, status)
                self.assertEqual(response.getheader("Retry-After"), retry_after)
                self.assertTrue(0 < len(body) < 200, body)
                self.assertIsNone(response.getheader("Content-Range"))
        # Bodies framed right: everything went over the one connection.
        self.assert_one_connection(7)
        self.assertEqual(self.fetch(self.name, method="HEAD", status=503)[0].status, 200)

    # ------------------------------------------------------------------ Content-Range
    def test_cr_shift_wider_none_and_total(self):
        size = DATA_SIZE
        response, body = self.fetch(self.name, {"Range": "bytes=100-199"}, cr="shift")
        self.assertEqual(response.status, 206)
        self.assertEqual(response.getheader("Content-Range"), f"bytes 101-200/{size}")
        self.assertEqual(body, self.data[100:200])

        for first, last, wide_first, wide_last in (
                (70000, 70009, 65536, 131071), (0, 0, 0, 65535),
                (65535, 65536, 0, 131071), (size - 10, size - 1, 16 * 65536, size - 1)):
            with self.subTest(wider=(first, last)):
                response, body = self.fetch(self.name, {"Range": f"bytes={first}-{last}"},
                                            cr="wider")
                self.assertEqual(response.status, 206)
                self.assertEqual(response.getheader("Content-Range"),
                                 f"bytes {wide_first}-{wide_last}/{size}")
                self.assertEqual(body, self.data[wide_first:wide_last + 1])

        response, body = self.fetch(self.name, {"Range": "bytes=5-9"}, cr="none")
        self.assertEqual(response.status, 206)
        self.assertIsNone(response.getheader("Content-Range"))
        self.assertEqual(body, self.data[5:10])

        response, body = self.fetch(self.name, {"Range": "bytes=0-9"}, total=5)
        self.assertEqual(response.getheader("Content-Range"), "bytes 0-9/5")
        self.assertEqual(body, self.data[:10])
        response, body = self.fetch(self.name, {"Range": "bytes=0-9"}, cr="shift", total=7)
        self.assertEqual(response.getheader("Content-Range"), "bytes 1-10/7")
        # Only single-part 206s are touched: a 200 and a multipart 206 are as usual.
        self.assert_whole(*self.fetch(self.name, cr="shift"), name=self.name)
        response, body = self.fetch(self.name, {"Range": "bytes=0-1,5-6"}, cr="none")
        self.assertEqual(len(parse_multipart(body, response.getheader("Content-Type"))), 2)

    def test_crstar_says_the_total_is_unknown(self):
        """crstar=1: "bytes a-b/*" on a single-part 206 and in every part of a multipart one,
        bytes unchanged; a 416 and a 200 as usual; not with total=."""
        size = DATA_SIZE
        response, body = self.fetch(self.name, {"Range": "bytes=100-199"}, crstar=1)
        self.assertEqual(response.status, 206)
        self.assertEqual(response.getheader("Content-Range"), "bytes 100-199/*")
        self.assertEqual(body, self.data[100:200])
        response, body = self.fetch(self.name, {"Range": "bytes=100-199"}, crstar=1,
                                    cr="shift")
        self.assertEqual(response.getheader("Content-Range"), "bytes 101-200/*")
        response, body = self.multi_fetch(crstar=1)
        self.assert_parts(parse_multipart(body, response.getheader("Content-Type")), self.ASKED,
                          total="*")
        response, body = self.multi_fetch(crstar=1, multi="coalesce")
        self.assertEqual(response.getheader("Content-Range"), "bytes 0-300049/*")
        self.assertEqual(body, self.data[:300050])
        response, _ = self.fetch(self.name, {"Range": f"bytes={size}-"}, crstar=1)
        self.assertEqual(response.status, 416)
        self.assertEqual(response.getheader("Content-Range"), f"bytes */{size}")
        self.assert_whole(*self.fetch(self.name, crstar=1), name=self.name)
        entries = self.wait_log(6)
        self.assertEqual(entries[2]["parts"], [f"bytes {a}-{b}/*" for a, b in self.ASKED])
        self.assertEqual(self.fetch(self.name, crstar=1, total=5)[0].status, 400)

    def test_crnum_puts_impossible_numbers_in_content_range(self):
        size = DATA_SIZE
        big = range_test_server.OVERFLOW
        self.assertGreater(int(big), 2**64)
        for crnum, value in (("overflow", f"bytes 10-19/{big}"),
                             ("overflow_last", f"bytes 10-{big}/{size}"),
                             ("negative", "bytes 10-19/-5"),
                             ("negative_first", f"bytes -5-19/{size}"),
                             ("wrap", f"bytes {10 + 2**64}-{19 + 2**64}/{size + 2**64}")):
            with self.subTest(crnum):
                response, body = self.fetch(self.name, {"Range": "bytes=10-19"}, crnum=crnum)
                self.assertEqual(response.status, 206)
                self.assertEqual(response.getheader("Content-Range"), value)
                self.assertEqual(body, self.data[10:20])

    # ---------------------------------------------------------------- encoding, framing
    def test_gzip_encodes_the_body_and_keeps_the_identity_content_range(self):
        response, body = self.fetch(self.name, {"Range": "bytes=1000-1999"}, gzip=1)
        self.assertEqual(response.status, 206)
        self.assertEqual(response.getheader("Content-Encoding"), "gzip")
        self.assertEqual(response.getheader("Content-Range"), f"bytes 1000-1999/{DATA_SIZE}")
        self.assertEqual(int(response.getheader("Content-Length")), len(body))
        self.assertEqual(gzip.decompress(body), self.data[1000:2000])
        response, body = self.fetch(self.name, gzip=1)
        self.assertEqual((response.status, response.getheader("Content-Encoding")),
                         (200, "gzip"))
        self.assertEqual(gzip.decompress(body), self.data)
        self.assert_one_connection(2)

    def test_junk_header_lines(self):
        sock = self.raw(self.target(junk=1), {"Range": "bytes=0-99"})
        head, rest = self.read_head(sock)
        lines = head_fields(head)[1]
        for junk in range_test_server.JUNK_LINES:
            self.assertIn(junk, lines)
        self.assertIn(b"ThisLineHasNoColon", lines)
        self.assertTrue(any(line.strip() == b"" and line for line in lines), lines)
        self.assertTrue(any(b"\x00" in line for line in lines))
        with self.assertRaises(UnicodeDecodeError):
            b"\r\n".join(lines).decode("utf-8")
        # The junk comes before the fields that matter; the body is intact.
        junk_at = lines.index(b"ThisLineHasNoColon")
        range_at = next(i for i, line in enumerate(lines) if line.startswith(b"Content-Range"))
        self.assertLess(junk_at, range_at)
        self.assertEqual(self.read_exactly(sock, 100, rest), self.data[:100])

    def test_huge_header(self):
        sock = self.raw(self.target(huge_header=200 * KiB), {"Range": "bytes=0-99"})
        head, rest = self.read_head(sock)
        self.assertIn(b"X-Huge: " + b"h" * (200 * KiB), head_fields(head)[1])
        self.assertEqual(self.read_exactly(sock, 100, rest), self.data[:100])

    def test_cl_is_sent_verbatim_then_the_body_and_a_close(self):
        for value in ("-5", "99999999999999999999999", "+3"):
            with self.subTest(value):
                sock = self.raw(self.target(cl=value), {"Range": "bytes=0-99"})
                head, rest = self.read_head(sock)
                self.assertEqual(head_value(head, "Content-Length"), value)
                self.assertEqual(head_value(head, "Connection"), "close")
                body, eof = self.read_rest(sock, rest)
                self.assertEqual((body, eof), (self.data[:100], True))

    # ------------------------------------------------------------------------ redirects
    def test_redirect_chain_ends_at_the_file(self):
        target = self.target(redirect=3, etag="weak")
        for remaining in (2, 1, 0):
            self.conn.request("GET", target, headers={"Range": "bytes=0-9"})
            response = self.conn.getresponse()
            response.read()
            self.assertEqual(response.status, 302)
            options = f"redirect={remaining},etag=weak" if remaining else "etag=weak"
            expected = f"{self.server.base_url}/{options}/{self.name}"
            self.assertEqual(response.getheader("Location"), expected)
            target = urllib.parse.urlsplit(expected).path
        self.conn.request("GET", target, headers={"Range": "bytes=0-9"})
        response = self.conn.getresponse()
        self.assert_partial(response, response.read(), 0, 9, name=self.name)
        self.assertTrue(response.getheader("ETag").startswith("W/"))
        # A line is logged just after its response's last byte: wait for the 206's before
        # the next requests, whose lines could otherwise come first.
        self.wait_log(4)
        # urllib follows the whole chain; 307 on request.
        with urllib.request.urlopen(self.server.url(self.name, redirect=4,
                                                    redirect_status=307),
                                    timeout=TIMEOUT) as r:
            self.assertEqual(r.read(), self.data)
        entries = self.wait_log(9)  # 3 redirects + the 206 above, 4 more + the 200
        self.assertEqual([e["status"] for e in entries[4:]], [307] * 4 + [200])
        # The last redirect drops what only made sense with it; nothing left is "-".
        for options, segment in (({"redirect": 1}, "-"),
                                 ({"redirect": 1, "redirect_status": 307, "times": 5}, "-"),
                                 ({"redirect": 1, "head": 1, "gone_after": 3},
                                  "head=1,gone_after=3"),
                                 ({"redirect": 1, "times": 1, "cr": "shift"},
                                  "times=1,cr=shift"),
                                 ({"redirect": 2, "redirect_status": 307},
                                  "redirect=1,redirect_status=307")):
            with self.subTest(options):
                response, _ = self.fetch(self.name, **options)
                self.assertEqual(response.getheader("Location"),
                                 f"{self.server.base_url}/{segment}/{self.name}")

    def test_sign_gives_each_redirect_its_own_address(self):
        """sign=1: each redirect's Location carries sig=<its number>, so each is a new address;
        with gone_after each such address expires on its own, and HEAD is not redirected."""
        base = self.server.base_url
        for number in (1, 2):
            response, _ = self.fetch(self.name, redirect=1, sign=1, gone_after=1)
            self.assertEqual(response.status, 302)
            self.assertEqual(response.getheader("Location"),
                             f"{base}/gone_after=1,sig={number}/{self.name}")
        self.assert_whole(*self.fetch(self.name, gone_after=1, sig=1), name=self.name)
        self.assertEqual(self.fetch(self.name, gone_after=1, sig=1)[0].status, 403)
        self.assert_whole(*self.fetch(self.name, gone_after=1, sig=2), name=self.name)
        response, _ = self.fetch(self.name, method="HEAD", redirect=1, sign=1, gone_after=1)
        self.assertEqual(response.status, 200)
        # Longer chains keep sign until the last hop; a signature replaces an earlier one.
        response, _ = self.fetch(self.name, redirect=2, sign=1, sig="old")
        self.assertEqual(response.getheader("Location"),
                         f"{base}/redirect=1,sign=1,sig=1/{self.name}")
        response, _ = self.fetch(self.name, sign=1, redirect=1, sig="old")
        self.assertEqual(response.getheader("Location"), f"{base}/sig=1/{self.name}")
        response, _ = self.fetch(self.name, sign=1)
        self.assertEqual(response.status, 400)

    def test_location_is_sent_verbatim(self):
        for location, status in (("file:///etc/passwd", 302),
                                 ("http://127.0.0.1:1/x.bin?a=b,c", 301),
                                 ("/-/a%20b.bin", 308)):
            with self.subTest(location):
                response, body = self.fetch(self.name, location=location,
                                            redirect_status=status)
                self.assertEqual(response.status, status)
                self.assertEqual(response.getheader("Location"), location)
        response, _ = self.fetch(self.name, location="file:///etc/passwd", times=1)
        self.assertEqual(response.status, 302)
        self.assert_whole(*self.fetch(self.name, location="file:///etc/passwd", times=1),
                          name=self.name)

    # ------------------------------------------------------------------------ conditions
    def test_require_header(self):
        options = {"require_header": "X-Token:secret value"}
        response, _ = self.fetch(self.name, {"Range": "bytes=0-9"}, **options)
        self.assertEqual(response.status, 401)
        self.assertIsNotNone(response.getheader("WWW-Authenticate"))
        for value in ("secret", "secret value!", "SECRET VALUE"):
            response, _ = self.fetch(self.name, {"Range": "bytes=0-9", "X-Token": value},
                                     **options)
            self.assertEqual(response.status, 401, value)
        self.assert_partial(*self.fetch(self.name, {"Range": "bytes=0-9",
                                                    "X-Token": "secret value"}, **options),
                            0, 9, name=self.name)
        self.assertEqual(self.fetch(self.name, method="HEAD", **options)[0].status, 401)
        entries = self.wait_log(6)
        self.assertEqual([e["fault"] for e in entries],
                         ["require_header"] * 4 + ["", "require_header"])

    def test_gone_after_k_successful_gets(self):
        range_ = {"Range": "bytes=0-9"}
        # A 412 is not a success and does not use up the URL.
        self.assertEqual(self.fetch(self.name, {**range_, "If-Match": '"x"'},
                                    gone_after=2)[0].status, 412)
        statuses = [self.fetch(self.name, range_, gone_after=2)[0].status for _ in range(4)]
        self.assertEqual(statuses, [206, 206, 403, 403])
        self.assertEqual(self.fetch(self.name, method="HEAD", gone_after=2)[0].status, 200)
        # head=1: HEADs are refused too once expired, and do not use it up before.
        statuses = [self.fetch(self.name, range_, method=m, gone_after=1, head=1)[0].status
                    for m in ("HEAD", "HEAD", "GET", "HEAD", "GET")]
        self.assertEqual(statuses, [200, 200, 206, 403, 403])
        entries = self.wait_log(11)
        self.assertEqual([e["fault"] for e in entries],
                         ["", "", "", "gone_after", "gone_after", "", "", "", "", "gone_after",
                          "gone_after"])

    # ------------------------------------------------------------------------- options
    def test_option_values_are_percent_decoded_after_the_split(self):
        url = self.server.url("x.bin", location="http://h/a?b=c,d", retry_after="a b")
        segment = urllib.parse.urlsplit(url).path.split("/")[1]
        self.assertEqual(segment, "location=http%3A%2F%2Fh%2Fa%3Fb%3Dc%2Cd,retry_after=a%20b")
        with self.assertRaises(OptionError):  # retry_after without status
            parse_options(segment)
        options = parse_options("status=503,retry_after=Wed%2C%2021%20Oct%202015")
        self.assertEqual((options["status"], options["retry_after"]), (503, "Wed, 21 Oct 2015"))
        self.assertEqual(parse_options("require_header=A%3Ab%3Ac")["require_header"],
                         ("A", "b:c"))
        self.assertEqual(parse_options("-")["drop"], None)

    def test_bad_fault_options_are_400_naming_the_problem(self):
        for segment, words in (("drop=-1", ("drop", "-1")),
                               ("drop=x", ("drop",)),
                               ("status=200", ("status", "200")),
                               ("status=5033", ("status",)),
                               ("cr=sideways", ("cr", "sideways")),
                               ("crnum=big", ("crnum",)),
                               ("cl=12a", ("cl",)),
                               ("huge_header=0", ("huge_header",)),
                               ("redirect_status=200,redirect=1", ("redirect_status",)),
                               ("retry_after=2", ("retry_after", "status")),
                               ("redirect_status=302", ("redirect_status", "redirect")),
                               ("times=2", ("times",)),
                               ("head=1", ("head",)),
                               ("status=503,redirect=1", ("status", "redirect")),
                               ("drop=1,stall=2", ("drop", "stall")),
                               ("cr=shift,crnum=wrap", ("cr", "crnum")),
                               ("require_header=nocolon", ("require_header",)),
                               ("require_header=a%20b%3Ac", ("require_header",)),
                               ("location=a%0Db", ("location",)),
                               ("gzip=2", ("gzip",)),
                               ("multi=sideways", ("multi", "sideways", "coalesce")),
                               ("mpgarbage=nonsense", ("mpgarbage", "nonsense", "shift")),
                               ("multi=plain,mpgarbage=cut", ("multi", "mpgarbage")),
                               ("mpgarbage=cut,drop=5", ("cut", "drop")),
                               ("times=1,multi=", ("multi",)),
                               ("chaos=5,drop=1", ("chaos", "drop")),
                               ("chaos=5,times=1", ("chaos", "times")),
                               ("seed=1", ("seed", "chaos")),
                               ("chaos=101", ("chaos",)),
                               ("chaos=5,chaos_kinds=drop+nope", ("chaos_kinds",)),
                               ("close=sometimes", ("close",)),
                               ("close=after,drop=1", ("close", "drop")),
                               ("close=unanswered,changed=1", ("unanswered", "changed"))):
            with self.subTest(segment):
                self.conn.request("GET", f"/{segment}/{self.name}")
                response = self.conn.getresponse()
                body = response.read().decode()
                self.assertEqual(response.status, 400, body)
                for word in words:
                    self.assertIn(word, body)

    # ------------------------------------------------- another version, closed connections
    def test_changed_answers_from_another_version_with_other_bytes(self):
        real = self.etag(self.name)
        response, body = self.fetch(self.name, {"Range": "bytes=100-199"}, changed=1)
        self.assertEqual(response.status, 206)
        self.assertNotEqual(response.getheader("ETag"), real)
        self.assertTrue(response.getheader("ETag").startswith('"'))
        self.assertGreater(email.utils.parsedate_to_datetime(response.getheader("Last-Modified")),
                           email.utils.parsedate_to_datetime(http_date(
                               os.path.join(self.root, self.name))))
        self.assertEqual(body, bytes(255 - b for b in self.data[100:200]))
        self.assertEqual(self.entry(2)["fault"], "changed")  # after etag()'s HEAD
        # The client's If-Range names the version it has: the "new" one answers 200, whole.
        response, body = self.fetch(self.name, {"Range": "bytes=100-199", "If-Range": real},
                                    changed=1)
        self.assertEqual(response.status, 200)
        self.assertEqual(body, bytes(255 - b for b in self.data))
        # Not faulted (times used up): the real version.
        response, body = self.fetch(self.name, {"Range": "bytes=100-199"}, changed=1, times=0)
        self.assertEqual((response.getheader("ETag"), body), (real, self.data[100:200]))

    def test_close_after_answers_then_closes_without_saying_so(self):
        sock = self.raw(self.target(close="after"), {"Range": "bytes=0-99"})
        head, rest = self.read_head(sock)
        self.assertEqual(head_fields(head)[0], 206)
        self.assertIsNone(head_value(head, "Connection"))
        body, eof = self.read_rest(sock, rest)
        self.assertEqual((body, eof), (self.data[:100], True))
        e = self.entry()
        self.assertEqual((e["status"], e["aborted"], e["fault"]), (206, False, "close"))

    def test_close_unanswered_reads_the_request_and_closes(self):
        sock = self.raw(self.target(), {"Range": "bytes=0-9"})
        head, rest = self.read_head(sock)
        self.assertEqual(self.read_exactly(sock, 10, rest), self.data[:10])
        self.raw(self.target(close="unanswered"), {"Range": "bytes=0-9"}, sock=sock)
        self.assertEqual(self.read_rest(sock), (b"", True))
        e = self.entry(2)
        self.assertEqual((e["status"], e["aborted"], e["fault"]), (0, True, "close"))

    def chaos_faults(self, server: RangeTestServer, count: int, **options) -> list[str]:
        """`count` GETs in a row, each on a new connection, answered or not; the log's
        (fault, chaos) of each, in order."""
        target = urllib.parse.urlsplit(server.url("data.bin", **options)).path
        server.settled_requests()
        server.clear_requests()
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
            with sock:
                lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1", "Range: bytes=0-999"]
                sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
                self.read_rest(sock, wait=0.15)  # a stall is left after 0.15 s
        server.wait_for_requests(lambda e: len(e) >= count)
        entries = server.settled_requests()
        entries.sort(key=lambda e: e["connection"])
        return [f"{e['fault']}:{e['chaos']}" for e in entries]

    def test_chaos_draws_faults_from_the_seed(self):
        options = dict(chaos=50, seed=7, chaos_kinds="drop+status+stall+slice+version")
        first = self.chaos_faults(self.server, 30, **options)
        with RangeTestServer(self.root) as other:
            self.assertEqual(self.chaos_faults(other, 30, **options), first)
            self.assertNotEqual(self.chaos_faults(other, 30, **{**options, "seed": 8}), first)
        faulted = [f for f in first if not f.startswith(":")]
        self.assertTrue(5 <= len(faulted) <= 25, first)
        kinds = {f.partition(":")[0] for f in faulted}
        self.assertEqual(kinds, {"drop", "status", "stall", "slice", "version"}, first)
        for f in faulted:
            kind, _, detail = f.partition(":")
            expected = {"drop": r"drop=\d+", "stall": r"stall=\d+", "slice": r"cr=shift",
                        "status": r"status=503,retry_after=1", "version": r"changed=1"}[kind]
            self.assertRegex(detail, f"^{expected}$")
        self.assertEqual(set(self.chaos_faults(self.server, 10, chaos=0)), {":"})

    def test_chaos_keepalive_and_multi_range_slices(self):
        target = self.target(chaos=100, chaos_kinds="keepalive")
        sock = self.raw(target, {"Range": "bytes=0-9"})
        head, rest = self.read_head(sock)
        self.assertEqual(self.read_rest(sock, rest), (self.data[:10], True))
        self.assertEqual(self.entry()["chaos"], "close=after")  # a first request is answered
        response, _ = self.fetch(self.name, {"Range": "bytes=0-9,100-109"}, chaos=100,
                                 chaos_kinds="slice")
        self.assertEqual(response.status, 206)
        self.assertEqual(self.entry(2)["chaos"], "mpgarbage=shift")
        response, _ = self.fetch(self.name, {}, chaos=100, chaos_kinds="slice")
        self.assertEqual(response.status, 200)
        e = self.entry(3)
        self.assertEqual((e["fault"], e["chaos"]), ("", "none:slice"))

    # ---------------------------------------------------------------- multi-range answers
    # Four ranges, not in file order, none at the end of the file: each mode shows.
    MULTI = "bytes=100-199,0-9,5000-5099,300000-300049"
    ASKED = [(100, 199), (0, 9), (5000, 5099), (300000, 300049)]

    def multi_fetch(self, **options) -> tuple[http.client.HTTPResponse, bytes]:
        return self.fetch(self.name, {"Range": self.MULTI}, **options)

    def assert_parts(self, parts: list[tuple[dict[str, str], bytes]],
                     ranges: list[tuple[int, int]], total: int | str = DATA_SIZE,
                     typed: bool = True) -> None:
        """The parts are these ranges of data.bin, in this order, correctly labelled."""
        self.assertEqual([h["content-range"] for h, _ in parts],
                         [f"bytes {a}-{b}/{total}" for a, b in ranges])
        for (headers, data), (first, last) in zip(parts, ranges):
            self.assertEqual(data, self.data[first:last + 1])
            if typed:
                self.assertEqual(headers["content-type"], "application/octet-stream")
            else:
                self.assertNotIn("content-type", headers)

    def test_multi_modes_narrow_every_fault_to_multi_range_requests(self):
        # A single-range request is served normally and not counted by times.
        options = {"multi": "plain", "status": 503, "times": 1}
        self.assert_partial(*self.fetch(self.name, {"Range": "bytes=0-9"}, **options), 0, 9,
                            name=self.name)
        self.assert_whole(*self.fetch(self.name, **options), name=self.name)
        self.assertEqual(self.multi_fetch(**options)[0].status, 503)
        response, body = self.multi_fetch(**options)  # times=1 is used up
        self.assert_parts(parse_multipart(body, response.getheader("Content-Type")), self.ASKED)
        entries = self.wait_log(4)
        self.assertEqual([e["fault"] for e in entries], ["", "", "status,multi", ""])
        # mpgarbage=single narrows to single-range requests instead.
        response, body = self.multi_fetch(mpgarbage="single")
        self.assert_parts(parse_multipart(body, response.getheader("Content-Type")), self.ASKED)
        self.assertEqual(self.entry(5)["fault"], "")
        # Two ranges that make one satisfiable part count as multi-range, but a mode that
        # works on the multipart answer leaves the single-part 206 alone.
        self.assert_partial(*self.fetch(self.name, {"Range": f"bytes=3-4,{DATA_SIZE}-"},
                                        multi="reverse"), 3, 4, name=self.name)
        self.assertEqual(self.entry(6)["fault"], "multi")

    def test_multi_legitimate_answers(self):
        size = DATA_SIZE
        preamble = range_test_server.PREAMBLE
        epilogue = range_test_server.EPILOGUE
        multipart = {  # mode -> (parts in body order, typed, preamble, epilogue)
            "plain": (self.ASKED, True, b"", b""),
            "merge": ([(0, 199), (5000, 300049)], True, b"", b""),
            "reverse": (self.ASKED[::-1], True, b"", b""),
            "omit": (self.ASKED[:-1], True, b"", b""),
            "quoted": (self.ASKED, True, b"", b""),
            "notype": (self.ASKED, False, b"", b""),
            "preamble": (self.ASKED, True, preamble, epilogue),
        }
        for mode, (ranges, typed, before, after) in multipart.items():
            with self.subTest(mode):
                response, body = self.multi_fetch(multi=mode)
                self.assertEqual(response.status, 206)
                self.assertIsNone(response.getheader("Content-Range"))
                self.assertEqual(int(response.getheader("Content-Length")), len(body))
                content_type = response.getheader("Content-Type")
                parts = parse_multipart(body, content_type, before, after)
                self.assert_parts(parts, ranges, typed=typed)
                boundary = content_type.partition("boundary=")[2]
                if mode == "quoted":
                    self.assertRegex(boundary, r'^"rangefs quoted:[0-9a-f]+"$')
                else:
                    self.assertRegex(boundary, r"^rangefs-[0-9a-f]+$")
                e = self.entry()
                self.assertEqual((e["fault"], e["content_type"], e["content_range"]),
                                 ("multi", content_type, ""))
                self.assertEqual(e["parts"], [f"bytes {a}-{b}/{size}" for a, b in ranges])
                self.server.clear_requests()
        for mode, (first, last) in (("coalesce", (0, 300049)), ("first", (100, 199))):
            with self.subTest(mode):
                self.assert_partial(*self.multi_fetch(multi=mode), first, last, name=self.name)
                self.assertEqual(self.entry()["content_range"], f"bytes {first}-{last}/{size}")
                self.server.clear_requests()
        with self.subTest("whole"):
            self.assert_whole(*self.multi_fetch(multi="whole"), name=self.name)
            self.assertEqual((self.entry()["status"], self.entry()["parts"]), (200, []))
            self.server.clear_requests()
        with self.subTest("refuse"):  # what Varnish 7.1 answers
            response, body = self.multi_fetch(multi="refuse")
            self.assertEqual((response.status, body), (416, b""))
            self.assertEqual(response.getheader("Content-Range"), f"bytes */{size}")
            self.assertEqual(response.getheader("ETag"), self.etag(self.name))
            self.assertIsNotNone(response.getheader("Last-Modified"))
            self.assertIsNone(response.getheader("Content-Type"))
            e = self.wait_log(2)[0]
            self.assertEqual((e["status"], e["fault"], e["parts"]), (416, "multi", []))
            # A single range is served as usual.
            self.assert_partial(*self.fetch(self.name, {"Range": "bytes=0-9"}, multi="refuse"),
                                0, 9, name=self.name)
        # Every answer was framed right: one connection for all of them.
        self.assertEqual(len({e["connection"] for e in self.server.requests()}), 1)

    def test_mpgarbage_content_range_lies(self):
        size = DATA_SIZE
        content_type = lambda response: response.getheader("Content-Type")  # noqa: E731
        response, body = self.multi_fetch(mpgarbage="shift")
        parts = parse_multipart(body, content_type(response))
        self.assertEqual([h["content-range"] for h, _ in parts],
                         [f"bytes {a + 1}-{b + 1}/{size}" for a, b in self.ASKED])
        self.assertEqual([d for _, d in parts], [self.data[a:b + 1] for a, b in self.ASKED])

        response, body = self.multi_fetch(mpgarbage="shift_back")
        parts = parse_multipart(body, content_type(response))
        self.assertEqual([h["content-range"] for h, _ in parts],
                         [f"bytes {a - 1 if a else a}-{b - 1 if a else b}/{size}"
                          for a, b in self.ASKED])
        self.assertEqual([d for _, d in parts], [self.data[a:b + 1] for a, b in self.ASKED])

        # The first stretch nobody asked for is 10-99; the last range asked has 50 bytes.
        response, body = self.multi_fetch(mpgarbage="outside")
        self.assert_parts(parse_multipart(body, content_type(response)),
                          [*self.ASKED[:-1], (10, 59)])

        response, body = self.multi_fetch(mpgarbage="total")
        parts = parse_multipart(body, content_type(response))
        self.assertEqual([h["content-range"] for h, _ in parts],
                         [f"bytes {a}-{b}/{size}" for a, b in self.ASKED[:-1]]
                         + [f"bytes 300000-300049/{size + 1}"])
        self.assertEqual(parts[-1][1], self.data[300000:300050])

        entries = self.wait_log(4)
        self.assertEqual([e["fault"] for e in entries], ["mpgarbage"] * 4)
        self.assertEqual(entries[0]["parts"],
                         [f"bytes {a + 1}-{b + 1}/{size}" for a, b in self.ASKED])

    def test_mpgarbage_framing_lies(self):
        response, body = self.multi_fetch(mpgarbage="long")
        self.assertEqual(int(response.getheader("Content-Length")), len(body))
        boundary = multipart_boundary(response.getheader("Content-Type")).encode()
        extra = range_test_server.long_filler(range_test_server.MP_EXTRA)
        # Part 1 (bytes 100-199) has its 100 bytes, then the extra ones, then the delimiter.
        head, _, rest = body.partition(b"\r\n\r\n")
        self.assertIn(b"Content-Range: bytes 100-199/", head)
        self.assertTrue(rest.startswith(self.data[100:200] + extra + b"\r\n--" + boundary),
                        rest[:300])
        # Without the extra bytes the body is a correct one.
        fixed = body.replace(self.data[100:200] + extra, self.data[100:200], 1)
        self.assert_parts(parse_multipart(fixed, response.getheader("Content-Type")),
                          self.ASKED)

        response, body = self.multi_fetch(mpgarbage="short")
        self.assertEqual(int(response.getheader("Content-Length")), len(body))
        boundary = multipart_boundary(response.getheader("Content-Type")).encode()
        # Part 1 (bytes 100-199, fewer than MP_SHORT) keeps one byte, then the delimiter.
        kept = max(1, 100 - range_test_server.MP_SHORT)
        head, _, rest = body.partition(b"\r\n\r\n")
        self.assertIn(b"Content-Range: bytes 100-199/", head)
        self.assertTrue(rest.startswith(self.data[100:100 + kept] + b"\r\n--" + boundary),
                        rest[:300])

        response, body = self.multi_fetch(mpgarbage="delimiter")
        boundary = multipart_boundary(response.getheader("Content-Type")).encode()
        self.assertTrue(body.startswith(b"--" + boundary + b"\r\n"))
        self.assertEqual(body.count(b"\r\n--" + boundary), 1, "only the close delimiter")
        others = body.split(b"\r\n--other-")
        self.assertEqual(len(others), 4, "three delimiters with another boundary")
        self.assertTrue(all(piece[:24].isalnum() for piece in others[1:]))

        response, body = self.multi_fetch(mpgarbage="nodelimiter")
        boundary = multipart_boundary(response.getheader("Content-Type")).encode()
        self.assertIn(self.data[100:200] + b"\r\nContent-Type: application/octet-stream\r\n"
                      b"Content-Range: bytes 0-9/", body)
        self.assertEqual(body.count(b"--" + boundary + b"\r\n"), 3, "4 parts, 3 delimiters")

        response, body = self.multi_fetch(mpgarbage="noboundary")
        self.assertEqual(response.getheader("Content-Type"), "multipart/byteranges")
        boundary = body.partition(b"\r\n")[0][2:].decode()
        self.assert_parts(parse_multipart(body, f"multipart/byteranges; boundary={boundary}"),
                          self.ASKED)
        self.assertEqual([e["fault"] for e in self.wait_log(5)], ["mpgarbage"] * 5)

    def test_mpgarbage_single_answers_one_range_with_multipart(self):
        response, body = self.fetch(self.name, {"Range": "bytes=70-79"}, mpgarbage="single")
        self.assertEqual(response.status, 206)
        self.assertIsNone(response.getheader("Content-Range"))
        self.assert_parts(parse_multipart(body, response.getheader("Content-Type")),
                          [(70, 79)])
        e = self.entry()
        self.assertEqual((e["fault"], e["parts"]), ("mpgarbage", [f"bytes 70-79/{DATA_SIZE}"]))

    def test_mpgarbage_cut_closes_in_the_last_part(self):
        sock = self.raw(self.target(mpgarbage="cut"), {"Range": self.MULTI})
        head, rest = self.read_head(sock)
        self.assertEqual(head_fields(head)[0], 206)
        body, eof = self.read_rest(sock, rest)
        self.assertTrue(eof, "the connection stayed open after the cut")
        promised = int(head_value(head, "Content-Length"))
        # The last part's head and 25 of its 50 bytes came, nothing after them.
        self.assertTrue(body.endswith(b"Content-Range: bytes 300000-300049/%d\r\n\r\n"
                                      % DATA_SIZE + self.data[300000:300025]), body[-200:])
        self.assertEqual(promised - len(body), 25 + len(b"\r\n--") + 24 + len("rangefs-")
                         + len(b"--\r\n"))
        e = self.entry()
        self.assertEqual((e["body_bytes"], e["aborted"], e["fault"]),
                         (len(body), True, "mpgarbage"))

    def test_transfer_faults_damage_multipart_answers(self):
        plain = self.multi_fetch()
        length = int(plain[0].getheader("Content-Length"))
        for options, kept, eof in (({"drop": 300}, 300, True),
                                   ({"short": 40}, length - 40, True),
                                   ({"long": 30}, length + 30, False),
                                   ({"stall": 200}, 200, False)):
            with self.subTest(options):
                sock = self.raw(self.target(multi="plain", **options), {"Range": self.MULTI})
                head, rest = self.read_head(sock)
                self.assertEqual(head_value(head, "Content-Length"), str(length))
                self.assertTrue(head_value(head, "Content-Type").startswith(
                    "multipart/byteranges"))
                body, closed = self.read_rest(sock, rest, wait=0.5)
                self.assertEqual((len(body), closed), (kept, eof))
                self.assertTrue(body[:100].startswith(b"--rangefs-"), body[:100])
                sock.close()
        # The stalled answer is logged once the server sees the client gone: before the next
        # request, so that the log's order is the requests' order.
        self.server.settled_requests()
        response, body = self.multi_fetch(multi="plain", status=503)
        self.assertEqual((response.status, response.getheader("Content-Type")),
                         (503, "text/plain; charset=utf-8"))
        entries = self.wait_log(6)
        self.assertEqual([e["fault"] for e in entries[1:]],
                         ["drop,multi", "short,multi", "long,multi", "stall,multi",
                          "status,multi"])

    # ----------------------------------------------------------------------------- stop
    def test_stop_is_prompt_with_a_stall_in_progress(self):
        server = RangeTestServer(self.root)
        self.addCleanup(server.cleanup)
        server.start()
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
        self.addCleanup(sock.close)
        target = urllib.parse.urlsplit(server.url(self.name, stall=10)).path
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n\r\n".encode())
        head, rest = self.read_head(sock)
        self.read_exactly(sock, 10, rest)
        start = time.monotonic()
        server.stop(timeout=5)
        self.assertLess(time.monotonic() - start, 3.0)
        self.assertEqual(server.process.returncode, 0, server.output())


# =================================================================================== TLS
class TlsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="range-test-server-tls-")
        cls.addClassCleanup(shutil.rmtree, cls.root, True)
        cls.data = os.urandom(300 * KiB + 7)
        with open(os.path.join(cls.root, "data.bin"), "wb") as f:
            f.write(cls.data)
        cls.server = RangeTestServer(cls.root, tls=True)
        cls.server.start()
        cls.addClassCleanup(cls.server.cleanup)

    def connection(self, host: str = "127.0.0.1", cafile: Optional[str] = None
                   ) -> http.client.HTTPSConnection:
        context = ssl.create_default_context(cafile=cafile or self.server.cert_path)
        conn = http.client.HTTPSConnection(host, self.server.port, timeout=TIMEOUT,
                                           context=context)
        self.addCleanup(conn.close)
        return conn

    def get(self, conn, url: str, headers: Optional[dict] = None):
        conn.request("GET", urllib.parse.urlsplit(url).path, headers=headers or {})
        return conn.getresponse()

    def test_https_with_the_certificate_for_ip_and_localhost(self):
        self.assertEqual(self.server.base_url, f"https://127.0.0.1:{self.server.port}")
        self.assertTrue(self.server.url("data.bin").startswith("https://127.0.0.1:"))
        with open(self.server.cert_path) as f:
            self.assertIn("BEGIN CERTIFICATE", f.read())
        for host in ("127.0.0.1", "localhost"):
            with self.subTest(host):
                conn = self.connection(host)
                response = self.get(conn, self.server.url("data.bin"), {"Range": "bytes=5-9"})
                self.assertEqual((response.status, response.read()), (206, self.data[5:10]))
                # keep-alive over TLS
                response = self.get(conn, self.server.url("data.bin"))
                self.assertEqual(response.read(), self.data)

    def test_untrusted_without_the_certificate(self):
        context = ssl.create_default_context()
        conn = http.client.HTTPSConnection("127.0.0.1", self.server.port, timeout=TIMEOUT,
                                           context=context)
        self.addCleanup(conn.close)
        with self.assertRaises(ssl.SSLCertVerificationError):
            conn.request("GET", "/-/data.bin")
        # Plain HTTP to the TLS port: no answer worth the name, and the server carries on.
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=TIMEOUT) as s:
            s.sendall(b"GET /-/data.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(TIMEOUT)
            try:
                data = s.recv(100)
            except (ConnectionResetError, TimeoutError):
                data = b""
            self.assertFalse(data.startswith(b"HTTP/1.1 200"), data)
        response = self.get(self.connection(), self.server.url("data.bin"))
        self.assertEqual(response.read(), self.data)

    def test_faults_over_tls(self):
        conn = self.connection()
        response = self.get(conn, self.server.url("data.bin", drop=100), {"Range": "bytes=0-999"})
        self.assertEqual(response.status, 206)
        with self.assertRaises(http.client.IncompleteRead) as caught:
            response.read()
        self.assertEqual(caught.exception.partial, self.data[:100])
        response = self.get(self.connection(), self.server.url("data.bin", status=503,
                                                               retry_after=1))
        self.assertEqual((response.status, response.getheader("Retry-After")), (503, "1"))
        response.read()
        response = self.get(self.connection(), self.server.url("data.bin", redirect=1))
        self.assertEqual(response.getheader("Location"),
                         f"{self.server.base_url}/-/data.bin")

    def test_cert_path_needs_tls(self):
        server = RangeTestServer(self.root)
        with self.assertRaises(range_test_server.RangeTestServerError):
            server.cert_path


if __name__ == "__main__":
    unittest.main()


class ListingTest(unittest.TestCase):
    """Directory listings: listing=html and listing=names pages, the S3 ListObjectsV2 bucket
    (path-style and, with options=, virtual-hosted style), and every listing fault."""

    TREE = {"top.txt": b"top\n", "d1/a.txt": b"a" * 100, "d1/b.txt": b"bb\n",
            "d1/sub/c.txt": b"c\n", "d2/x y.bin": os.urandom(5000), "d2/\u00e9t\u00e9.txt": b"summer\n",
            "d3/k1": b"1", "d3/k2": b"2", "d3/k3": b"3", "d3/k4": b"4", "d3/k5": b"5"}

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="range-test-server-listing-")
        cls.addClassCleanup(shutil.rmtree, cls.root, True)
        for name, data in cls.TREE.items():
            path = os.path.join(cls.root, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        os.makedirs(os.path.join(cls.root, "empty"))
        cls.server = RangeTestServer(cls.root)
        cls.server.start()
        cls.addClassCleanup(cls.server.cleanup)

    def get(self, target: str, headers: Optional[dict] = None, method: str = "GET",
            server: Optional[RangeTestServer] = None) -> tuple[http.client.HTTPResponse, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", (server or self.server).port,
                                          timeout=TIMEOUT)
        self.addCleanup(conn.close)
        conn.request(method, target, headers=headers or {})
        response = conn.getresponse()
        return response, response.read()

    # ------------------------------------------------------------------------ S3 helpers
    NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"

    def s3_page(self, segment: str, server: Optional[RangeTestServer] = None, **query):
        query.setdefault("list-type", "2")
        target = f"/{segment}/?" if segment else "/?"
        response, body = self.get(target + urllib.parse.urlencode(query), server=server)
        self.assertEqual(response.status, 200, body[:500])
        self.assertEqual(response.getheader("Content-Type"), "application/xml")
        import xml.etree.ElementTree as ET
        root = ET.fromstring(body)
        self.assertEqual(root.tag, self.NS + "ListBucketResult")
        return root

    def text(self, element, name: str) -> Optional[str]:
        found = element.find(self.NS + name)
        return None if found is None else (found.text or "")

    def s3_all(self, segment: str, server: Optional[RangeTestServer] = None, **query
               ) -> tuple[list[str], list[str], int]:
        """Follows continuation tokens: (keys, common prefixes, pages)."""
        keys, prefixes, pages, token = [], [], 0, None
        while True:
            q = dict(query)
            if token:
                q["continuation-token"] = token
            page = self.s3_page(segment, server, **q)
            pages += 1
            self.assertLess(pages, 100)
            contents = page.findall(self.NS + "Contents")
            commons = page.findall(self.NS + "CommonPrefixes")
            self.assertEqual(int(self.text(page, "KeyCount")), len(contents) + len(commons))
            keys += [self.text(c, "Key") for c in contents]
            prefixes += [self.text(c, "Prefix") for c in commons]
            if token:
                self.assertEqual(self.text(page, "ContinuationToken"), token)
            if self.text(page, "IsTruncated") == "false":
                self.assertIsNone(self.text(page, "NextContinuationToken"))
                return keys, prefixes, pages
            self.assertEqual(self.text(page, "IsTruncated"), "true")
            token = self.text(page, "NextContinuationToken")
            self.assertTrue(token)

    def all_keys(self) -> list[str]:
        return sorted(self.TREE, key=lambda k: k.encode())

    # ----------------------------------------------------------------------- listing=html
    def test_html_listing_of_the_real_directory(self):
        response, body = self.get("/listing=html/")
        self.assertEqual(response.status, 200)
        self.assertTrue(response.getheader("Content-Type").startswith("text/html"))
        for href in (b'href="d1/"', b'href="d2/"', b'href="empty/"', b'href="top.txt"'):
            self.assertIn(href, body)
        _, body = self.get("/listing=html/d2/")
        self.assertIn(b'href="x%20y.bin"', body)
        self.assertIn(b'href="%C3%A9t%C3%A9.txt"', body)
        self.assertIn(b">x y.bin</a>", body)
        self.assertIn(str(len(self.TREE["d2/x y.bin"])).encode(), body)
        # A directory without its '/' is redirected, like nginx does; files are files.
        response, _ = self.get("/listing=html/d1")
        self.assertEqual(response.status, 301)
        self.assertEqual(response.getheader("Location"),
                         f"{self.server.base_url}/listing=html/d1/")
        response, body = self.get("/listing=html/d2/x%20y.bin", {"Range": "bytes=10-19"})
        self.assertEqual((response.status, body), (206, self.TREE["d2/x y.bin"][10:20]))
        response, _ = self.get("/listing=html/nothing/")
        self.assertEqual(response.status, 404)
        response, body = self.get("/listing=html/d1/", method="HEAD")
        self.assertEqual((response.status, body), (200, b""))
        # Without listing= a directory stays a 404, as before.
        response, _ = self.get("/-/d1/")
        self.assertEqual(response.status, 404)

    def test_listing_that_fails_from_the_nth_request_on(self):
        for status in (404, 500):
            segment = f"listing=html,only=dirs,status={status},after=2"
            got = [self.get(f"/{segment}/d1/")[0].status for _ in range(4)]
            self.assertEqual(got, [200, 200, status, status])
            # Files under the same options are not hit, nor counted.
            got = [self.get(f"/{segment}/d1/a.txt")[0].status for _ in range(4)]
            self.assertEqual(got, [200] * 4)
        entries = self.server.wait_for_requests(lambda e: len(e) >= 16, TIMEOUT)
        self.assertEqual(sum(1 for e in entries if e["fault"] == "status"), 4)

    def test_only_files(self):
        segment = "listing=html,only=files,status=503"
        self.assertEqual(self.get(f"/{segment}/d1/")[0].status, 200)
        self.assertEqual(self.get(f"/{segment}/d1/a.txt")[0].status, 503)

    # ---------------------------------------------------------------------- listing=names
    def test_names_tree(self):
        response, body = self.get("/listing=names/")
        self.assertEqual(response.status, 200)
        pos = 0
        for href, _ in range_test_server.NAMES_TREE[b""]:  # in order, duplicates included
            pos = body.index(b'<a href="' + href + b'">', pos) + 1
        self.assertEqual(body.count(b'<a href="dup.txt">'), 2)
        for name in range_test_server.NAMES_FILES:
            target = "/listing=names/" + urllib.parse.quote_from_bytes(name)
            response, data = self.get(target)
            self.assertEqual((response.status, data), (200, range_test_server.NAMES_CONTENT(name)),
                             name)
            etag = response.getheader("ETag")
            response, data = self.get(target, {"Range": "bytes=5-20"})
            self.assertEqual((response.status, data),
                             (206, range_test_server.NAMES_CONTENT(name)[5:21]))
            self.assertEqual(response.getheader("ETag"), etag)  # stable: one file in memory
        self.assertIn(b"bad\xff\xfename.txt", range_test_server.NAMES_FILES)
        self.assertIn("sub dir/\u00fc.txt".encode(), range_test_server.NAMES_FILES)
        for target in ("/listing=names/a%2Fb.txt", "/listing=names/nul%00.txt",
                       "/listing=names/missing.txt", "/listing=names/nodir/"):
            self.assertEqual(self.get(target)[0].status, 404, target)
        response, body = self.get("/listing=names/sub%20dir/")
        self.assertIn(b'href="%C3%BC.txt"', body)
        response, _ = self.get("/listing=names/sub%20dir")
        self.assertEqual(response.status, 301)
        self.assertTrue(response.getheader("Location").endswith("/listing=names/sub%20dir/"))

    # ------------------------------------------------------------------------- S3 bucket
    def test_s3_list_with_delimiter_has_every_field(self):
        page = self.s3_page("s3=1", prefix="", delimiter="/")
        self.assertEqual(self.text(page, "Name"), "s3=1")
        self.assertEqual(self.text(page, "Prefix"), "")
        self.assertEqual(self.text(page, "Delimiter"), "/")
        self.assertEqual(self.text(page, "MaxKeys"), "1000")
        self.assertEqual(self.text(page, "KeyCount"), "4")
        self.assertEqual(self.text(page, "IsTruncated"), "false")
        contents = page.findall(self.NS + "Contents")
        self.assertEqual([self.text(c, "Key") for c in contents], ["top.txt"])
        top = contents[0]
        self.assertEqual(self.text(top, "Size"), "4")
        self.assertEqual(self.text(top, "StorageClass"), "STANDARD")
        self.assertRegex(self.text(top, "LastModified"),
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        response, _ = self.get("/s3=1/top.txt", method="HEAD")
        self.assertEqual(self.text(top, "ETag"), response.getheader("ETag"))
        self.assertEqual([self.text(c, "Prefix") for c in page.findall(self.NS + "CommonPrefixes")],
                         ["d1/", "d2/", "d3/"])  # the empty directory has no key

        page = self.s3_page("s3=1", prefix="d1/", delimiter="/")
        self.assertEqual([self.text(c, "Key") for c in page.findall(self.NS + "Contents")],
                         ["d1/a.txt", "d1/b.txt"])
        self.assertEqual([self.text(c, "Prefix") for c in page.findall(self.NS + "CommonPrefixes")],
                         ["d1/sub/"])
        page = self.s3_page("s3=1", prefix="d2/", delimiter="/")
        self.assertEqual([self.text(c, "Key") for c in page.findall(self.NS + "Contents")],
                         ["d2/x y.bin", "d2/\u00e9t\u00e9.txt"])
        page = self.s3_page("s3=1", prefix="nothing/", delimiter="/")
        self.assertEqual((self.text(page, "KeyCount"), page.find(self.NS + "Contents")), ("0", None))

    def test_s3_continuation_tokens(self):
        for page_size in (1, 2, 3):
            segment = f"s3=1,s3_page={page_size}"
            keys, prefixes, pages = self.s3_all(segment)
            self.assertEqual((keys, prefixes), (self.all_keys(), []))
            # The last page is not truncated even when it is full: no empty page at the end.
            self.assertEqual(pages, -(-len(self.TREE) // page_size))
            keys, prefixes, _ = self.s3_all(segment, delimiter="/")
            self.assertEqual((keys, prefixes), (["top.txt"], ["d1/", "d2/", "d3/"]))
            keys, prefixes, _ = self.s3_all(segment, prefix="d3/", delimiter="/")
            self.assertEqual((keys, prefixes), ([f"d3/k{i}" for i in range(1, 6)], []))
        # max-keys asks for fewer than the page size; start-after skips.
        page = self.s3_page("s3=1", **{"max-keys": "2", "prefix": "d3/"})
        self.assertEqual([self.text(c, "Key") for c in page.findall(self.NS + "Contents")],
                         ["d3/k1", "d3/k2"])
        self.assertEqual((self.text(page, "MaxKeys"), self.text(page, "IsTruncated")), ("2", "true"))
        page = self.s3_page("s3=1", **{"start-after": "d3/k3", "prefix": "d3/"})
        self.assertEqual([self.text(c, "Key") for c in page.findall(self.NS + "Contents")],
                         ["d3/k4", "d3/k5"])
        self.assertEqual(self.text(page, "StartAfter"), "d3/k3")
        page = self.s3_page("s3=1", **{"encoding-type": "url", "prefix": "d2/"})
        self.assertEqual([self.text(c, "Key") for c in page.findall(self.NS + "Contents")],
                         ["d2/x%20y.bin", "d2/%C3%A9t%C3%A9.txt"])
        for bad in ({"continuation-token": "!!"}, {"list-type": "1"}, {"max-keys": "x"}):
            response, body = self.get("/s3=1/?" + urllib.parse.urlencode(
                {"list-type": "2", **bad}))
            self.assertEqual(response.status, 400, bad)
            self.assertIn(b"<Code>InvalidArgument</Code>", body)

    def test_s3_objects_have_range_and_head(self):
        data = self.TREE["d2/x y.bin"]
        response, body = self.get("/s3=1/d2/x%20y.bin", {"Range": "bytes=100-199"})
        self.assertEqual((response.status, body), (206, data[100:200]))
        response, body = self.get("/s3=1/d2/x%20y.bin", method="HEAD")
        self.assertEqual((response.status, int(response.getheader("Content-Length"))),
                         (200, len(data)))
        response, body = self.get("/s3=1/d2/nokey")
        self.assertEqual(response.status, 404)
        self.assertIn(b"<Code>NoSuchKey</Code>", body)

    def test_s3_virtual_hosted_style(self):
        with RangeTestServer(self.root, options="s3=1,s3_page=3") as server:
            keys, prefixes, pages = self.s3_all("", server, delimiter="/")
            self.assertEqual((keys, prefixes, pages), (["top.txt"], ["d1/", "d2/", "d3/"], 2))
            self.assertEqual(self.text(self.s3_page("", server), "Name"), "rangefs-test")
            response, body = self.get("/d1/a.txt", {"Range": "bytes=0-9"}, server=server)
            self.assertEqual((response.status, body), (206, b"a" * 10))
            self.assertEqual(server.url("d2/x y.bin"), f"{server.base_url}/d2/x%20y.bin")
            with self.assertRaises(range_test_server.RangeTestServerError):
                server.url("top.txt", etag="weak")
        with self.assertRaises(OptionError):
            RangeTestServer(self.root, options="s3=2")

    def test_s3_xml_bomb(self):
        response, body = self.get("/s3=1,lfault=bomb/?list-type=2&delimiter=/")
        self.assertEqual(response.status, 200)
        self.assertLess(len(body), 4096)  # tiny on the wire ...
        self.assertIn(b"<!DOCTYPE ListBucketResult [", body)
        self.assertEqual(body.count(b"<!ENTITY lol"), 10)
        self.assertEqual(body.count(b"&lol8;"), 10)  # ... 10**9 'lol's once expanded
        self.assertIn(b"<Key>&lol9;</Key>", body)
        # Objects under the same options are not hit.
        response, body = self.get("/s3=1,lfault=bomb/top.txt")
        self.assertEqual((response.status, body), (200, b"top\n"))

    # ---------------------------------------------------------------------- listing faults
    def test_endless_listing_trickles_until_the_client_leaves(self):
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=TIMEOUT)
        self.addCleanup(sock.close)
        sock.sendall(b"GET /listing=html,lfault=endless,interval=20/d1/ HTTP/1.1\r\n"
                     b"Host: x\r\n\r\n")
        data = b""
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline or b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertIn(b"200", head.split(b"\r\n")[0])
        self.assertNotIn(b"content-length", head.lower())
        self.assertNotIn(b"transfer-encoding", head.lower())
        links = body.count(b"<a href=")
        self.assertGreater(links, 5)
        self.assertLess(links, 200)  # trickling: about one per 20 ms
        sock.close()
        entries = self.server.wait_for_requests(
            lambda e: any(x["fault"] == "lfault" for x in e), TIMEOUT)
        entry = [e for e in entries if e["fault"] == "lfault"][-1]
        self.assertTrue(entry["aborted"])

    def test_endless_at_full_speed(self):
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=TIMEOUT)
        self.addCleanup(sock.close)
        sock.sendall(b"GET /listing=html,lfault=endless,interval=0/ HTTP/1.1\r\nHost: x\r\n\r\n")
        received = 0
        while received < 20 * MiB:
            chunk = sock.recv(1 << 20)
            self.assertTrue(chunk)
            received += len(chunk)

    def test_huge_and_million_link_pages(self):
        response, body = self.get("/listing=html,lfault=huge,mib=3/d1/")
        self.assertEqual(response.status, 200)
        self.assertEqual(int(response.getheader("Content-Length")), 3 * MiB)
        self.assertEqual(len(body), 3 * MiB)
        self.assertTrue(body.endswith(b"</html>\r\n"))
        self.assertGreater(body.count(b"<a href="), 40000)
        response, body = self.get("/listing=html,lfault=links/")
        self.assertEqual(response.status, 200)
        self.assertEqual(body.count(b"<a href="), 1_000_000)
        self.assertIn(b'<a href="file-00999999.bin">', body)
        response, body = self.get("/listing=html,lfault=links,count=10/")
        self.assertEqual(body.count(b"<a href="), 10)
        # times=1: the first listing request is faulted, the next one is the real listing.
        segment = "listing=html,lfault=links,count=3,times=1"
        self.assertEqual(self.get(f"/{segment}/d1/")[1].count(b'<a href="file-'), 3)
        self.assertIn(b'href="a.txt"', self.get(f"/{segment}/d1/")[1])

    def test_redirect_loop_between_two_directories(self):
        segment = "listing=html,lfault=loop"
        _, body = self.get(f"/{segment}/")
        self.assertIn(b'href="loop/"', body)
        self.assertIn(b'href="d1/"', body)
        _, body = self.get(f"/{segment}/loop/")
        self.assertIn(b'href="a/"', body)
        self.assertIn(b'href="b/"', body)
        base = f"{self.server.base_url}/{segment}"
        response, _ = self.get(f"/{segment}/loop/a/")
        self.assertEqual((response.status, response.getheader("Location")),
                         (302, f"{base}/loop/b/"))
        response, _ = self.get(f"/{segment}/loop/b/")
        self.assertEqual((response.status, response.getheader("Location")),
                         (302, f"{base}/loop/a/"))

    def test_page_linking_to_itself_and_its_parent(self):
        segment = "listing=html,lfault=self"
        _, body = self.get(f"/{segment}/d1/sub/")
        base = f"{self.server.base_url}/{segment}"
        for href in (".", "./", "", "../", "/", f"{base}/d1/sub/", f"{base}/d1/", "?C=N;O=D",
                     "#top", "c.txt"):
            self.assertIn(f'<a href="{href}">'.encode(), body, href)

    def test_listing_option_errors(self):
        for segment, words in (("lfault=self", "needs 'listing'"),
                               ("listing=html,lfault=bomb", "needs s3=1"),
                               ("listing=html,mib=3", "needs lfault=huge"),
                               ("listing=html,s3=1", "cannot be combined"),
                               ("listing=html,only=dirs", "without a fault"),
                               ("listing=html,lfault=self,status=500", "cannot be combined"),
                               ("listing=html,lfault=self,only=files", "contradicts"),
                               ("listing=xml", "expected one of")):
            response, body = self.get(f"/{segment}/")
            self.assertEqual(response.status, 400, segment)
            self.assertIn(words.encode(), body, segment)
