"""The project's fault-injecting test server (scripts/lib/range_test_server.py) checked on its
own, with http.client: Range and multipart answers, validators and preconditions per the URL
options, the request log, keep-alive, and a clean stop. No FUSE and no rangefs binary needed.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import os
import shutil
import socket
import sys
import tempfile
import time
import unittest
import urllib.parse
from typing import Optional

_HERE = os.path.dirname(os.path.abspath(__file__))
_SCRIPTS_LIB = os.path.normpath(os.path.join(_HERE, "..", "..", "scripts", "lib"))
if _SCRIPTS_LIB not in sys.path:
    sys.path.insert(0, _SCRIPTS_LIB)

import procfs  # noqa: E402  (path set up above)
from range_test_server import RangeTestServer  # noqa: E402

KiB = 1024
MiB = 1024 * KiB
DATA_SIZE = MiB + 12345      # not a multiple of the server's 256 KiB chunk
BIG_SIZE = 64 * MiB          # for speed and for a client that hangs up mid-body
TIMEOUT = 10.0

LOG_FIELDS = {"method", "path", "options", "range", "if_range", "if_match",
              "if_unmodified_since", "if_none_match", "if_modified_since", "status",
              "body_bytes", "aborted", "connection", "time"}


def http_date(path: str) -> str:
    return email.utils.formatdate(os.stat(path).st_mtime_ns // 1_000_000_000, usegmt=True)


def parse_multipart(body: bytes, content_type: str) -> list[tuple[dict[str, str], bytes]]:
    """multipart/byteranges by hand, strictly: no preamble, CRLF before every delimiter but
    the first, a closing delimiter and nothing after it. Returns (headers, data) per part."""
    kind, _, params = content_type.partition(";")
    assert kind.strip() == "multipart/byteranges", content_type
    key, _, boundary = params.strip().partition("=")
    assert key == "boundary" and boundary, content_type
    delim = b"--" + boundary.encode()
    opening, closing = delim + b"\r\n", b"\r\n" + delim + b"--\r\n"
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


class RangeTestServerTest(unittest.TestCase):

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
        self.server.clear_requests()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=TIMEOUT)
        self.addCleanup(self.conn.close)

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
        for e in entries:
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
        times = [e["time"] for e in entries]
        self.assertEqual(times, sorted(times))

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


if __name__ == "__main__":
    unittest.main()
