"""Extended attributes: what each file of the mount is and what it has cost, read with
os.getxattr / os.listxattr, the raw getxattr(2) size protocol (ctypes) and the real getfattr
and setfattr tools, and checked against the server's own request log.

    user.rangefs.url            the URL given, its password shown as ***
    user.rangefs.etag           the version's ETag as the server sent it (absent: none sent)
    user.rangefs.last_modified  its Last-Modified, as an HTTP date (absent: none sent)
    user.rangefs.cached_bytes   bytes of this version in the block cache
    user.rangefs.requests       HTTP requests made for the URL: probes, GETs, retries
    user.rangefs.bytes_fetched  body bytes received for it (what the server's log counts)
    user.rangefs.retries        fetches tried again after a failure that may pass

Read-only; reading or listing them makes no request.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import subprocess
import unittest
import urllib.request

import harness
from harness import KiB, MiB

from range_test_server import RangeTestServer  # scripts/lib, on sys.path via harness

BLOCK = 256 * KiB
DATA_SIZE = 3 * MiB + 1234
SMALL_SIZE = 100 * KiB + 5
PASSWORD = "s3cret-pw"
NAMES = ["user.rangefs.url", "user.rangefs.etag", "user.rangefs.last_modified",
         "user.rangefs.cached_bytes", "user.rangefs.requests", "user.rangefs.bytes_fetched",
         "user.rangefs.retries"]
# Versions stay trusted for the whole test: a lookup never probes, so every request in the
# log is one the reads (or the mount) made.
MOUNT_ARGS = ["--block-size", "256K", "--revalidate", "600"]

_libc = ctypes.CDLL(None, use_errno=True)
_libc.getxattr.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
_libc.getxattr.restype = ctypes.c_ssize_t
_libc.listxattr.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
_libc.listxattr.restype = ctypes.c_ssize_t


def raw_getxattr(path: str, name: str, size: int) -> tuple[int, int, bytes]:
    """getxattr(2) with a buffer of `size` bytes (NULL for 0): (result, errno, bytes)."""
    buffer = ctypes.create_string_buffer(size) if size else None
    ctypes.set_errno(0)
    result = _libc.getxattr(path.encode(), name.encode(), buffer, size)
    return result, ctypes.get_errno(), (buffer.raw[:result] if buffer and result > 0 else b"")


def raw_listxattr(path: str, size: int) -> tuple[int, int, bytes]:
    buffer = ctypes.create_string_buffer(size) if size else None
    ctypes.set_errno(0)
    result = _libc.listxattr(path.encode(), buffer, size)
    return result, ctypes.get_errno(), (buffer.raw[:result] if buffer and result > 0 else b"")


def attributes(path: str) -> dict[str, str]:
    return {name: os.getxattr(path, name).decode() for name in os.listxattr(path)}


def parse_getfattr_dump(text: str) -> dict[str, str]:
    """`getfattr -d` output: name="value" lines, the value with backslash escapes."""
    values = {}
    for line in text.splitlines():
        m = re.match(r'^([^=#][^=]*)="(.*)"$', line)
        if not m:
            continue
        # One pass: \NNN (octal), \\ and \" are the escapes getfattr writes.
        values[m.group(1)] = re.sub(
            r'\\([0-7]{3}|\\|")',
            lambda e: chr(int(e.group(1), 8)) if len(e.group(1)) == 3 else e.group(1),
            m.group(2))
    return values


def head(url: str) -> dict[str, str]:
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=10) as r:
        return {k: v for k, v in r.headers.items()}


class XattrNginxTest(unittest.TestCase):
    """Against nginx: values, counters against its access log, no request, read-only."""

    @classmethod
    def setUpClass(cls):
        harness.require_environment("getfattr", "setfattr", "sha256sum")
        cls.shas = harness.class_data_dir(cls, "rangefs-xattr-data-",
                                          {"data.bin": DATA_SIZE, "small.bin": SMALL_SIZE})

    def setUp(self):
        self.server = harness.LoopbackNginx(self.data)
        self.server.start()
        self.addCleanup(self.server.cleanup)
        # What nginx itself says the versions are; these HEADs are not the mount's.
        self.headers = {name: head(self.server.url(name)) for name in self.shas}
        # nginx logs a response after sending it: wait for both lines before clearing them.
        self.server.wait_for_access_log(lambda entries: len(entries) >= len(self.shas))
        self.server.clear_access_log()
        # data.bin through a URL with a password, which must never show.
        self.data_url = self.server.url("data.bin").replace(
            "http://", f"http://alice:{PASSWORD}@", 1)
        self.mount = harness.Mount([self.data_url, self.server.url("small.bin")], MOUNT_ARGS)
        self.addCleanup(self.mount.cleanup)
        self.mount.start()

    # ------------------------------------------------------------------------- helpers
    def path(self, name: str) -> str:
        return self.mount.path(name)

    def attributes(self, name: str) -> dict[str, str]:
        return self.mount.call(attributes, self.path(name))

    def log_for(self, entries: list[dict], name: str) -> list[dict]:
        return [e for e in entries if e["uri"] == "/" + name]

    def settled_attributes(self, entries: list[dict], name: str) -> dict[str, str]:
        """The attributes once rangefs has counted every request the log shows (nginx logs a
        response when it hands the last byte to the kernel; rangefs counts it when it has read
        it: a moment apart)."""
        want = len(self.log_for(entries, name))
        harness.wait_until(lambda: int(self.attributes(name)["user.rangefs.requests"]) >= want,
                           10)
        return self.attributes(name)

    def assert_agrees_with_log(self, name: str, entries: list[dict], values: dict[str, str]):
        mine = self.log_for(entries, name)
        self.assertEqual(int(values["user.rangefs.requests"]), len(mine),
                         f"{name}: requests differ from nginx's log: {mine}")
        self.assertEqual(int(values["user.rangefs.bytes_fetched"]),
                         sum(e["body_bytes_sent"] for e in mine),
                         f"{name}: bytes_fetched differs from nginx's body_bytes_sent")
        self.assertEqual(values["user.rangefs.retries"], "0")
        # A block cache that holds everything: each asked byte is cached, once.
        self.assertEqual(int(values["user.rangefs.cached_bytes"]),
                         sum(harness.range_bytes(e) for e in mine if e["method"] == "GET"),
                         f"{name}: cached_bytes differs from the bytes the GETs asked for")

    # --------------------------------------------------------------------------- tests
    def test_values_agree_with_the_server(self):
        result = self.mount.run(["sha256sum", "data.bin"], cwd=self.mount.path(), timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.decode().split()[0], self.shas["data.bin"])
        got = self.mount.call(harness.pread_no_readahead, self.path("small.bin"), 100, 70_000)
        with open(os.path.join(self.data, "small.bin"), "rb") as f:
            f.seek(70_000)
            self.assertEqual(got, f.read(100))

        entries = self.server.quiet_access_log_entries(quiet=0.5)
        for name in self.shas:
            with self.subTest(name=name):
                values = self.settled_attributes(entries, name)
                self.assertEqual(sorted(values), sorted(NAMES))
                self.assertEqual(values["user.rangefs.etag"], self.headers[name]["ETag"])
                self.assertEqual(values["user.rangefs.last_modified"],
                                 self.headers[name]["Last-Modified"])
                self.assert_agrees_with_log(name, entries, values)
        data = self.attributes("data.bin")
        self.assertGreater(int(data["user.rangefs.bytes_fetched"]), DATA_SIZE - 1,
                           "the whole file was read")
        self.assertEqual(data["user.rangefs.url"],
                         f"http://alice:***@127.0.0.1:{self.server.port}/data.bin")
        self.assertNotIn(PASSWORD, "".join(data.values()))
        self.assertEqual(self.attributes("small.bin")["user.rangefs.url"],
                         self.server.url("small.bin"))
        # Nothing further happened: the log is what it was when the values were read.
        self.assertEqual(len(self.server.quiet_access_log_entries(quiet=0.5)), len(entries))

    def test_listing_and_reading_them_makes_no_request(self):
        before = self.server.quiet_access_log_entries(quiet=0.3)
        self.assertEqual(sorted(e["method"] for e in before), ["HEAD", "HEAD"],
                         "the mount should have probed each URL once and read nothing")
        for _ in range(5):
            for name in self.shas:
                self.attributes(name)
        dump = self.mount.run(["getfattr", "-d", "-m", "-", "data.bin", "small.bin"],
                              cwd=self.mount.path())
        self.assertEqual(dump.returncode, 0, dump.stderr)
        after = self.server.quiet_access_log_entries(quiet=0.5)
        self.assertEqual(after, before, "reading extended attributes made requests")
        for name in self.shas:
            values = self.attributes(name)
            self.assertEqual(values["user.rangefs.requests"], "1", values)  # the mount's HEAD
            self.assertEqual(values["user.rangefs.bytes_fetched"], "0")
            self.assertEqual(values["user.rangefs.cached_bytes"], "0")

    def test_getfattr_shows_the_same_values(self):
        self.mount.call(harness.read_whole, self.path("small.bin"))
        entries = self.server.quiet_access_log_entries(quiet=0.5)
        expected = self.settled_attributes(entries, "small.bin")
        dump = self.mount.run(["getfattr", "-d", "-m", "-", "small.bin"], cwd=self.mount.path())
        self.assertEqual(dump.returncode, 0, dump.stderr)
        print(f"\n  getfattr -d -m - small.bin:\n{dump.stdout.decode()}", end="")
        self.assertEqual(parse_getfattr_dump(dump.stdout.decode()), expected)
        only = self.mount.run(["getfattr", "--only-values", "-n", "user.rangefs.etag",
                               "small.bin"], cwd=self.mount.path())
        self.assertEqual(only.returncode, 0, only.stderr)
        self.assertEqual(only.stdout.decode(), self.headers["small.bin"]["ETag"])

    def test_size_probe_and_erange(self):
        path = self.path("small.bin")
        value = self.headers["small.bin"]["ETag"].encode()
        # Size 0 asks for the length; a buffer one byte short is ERANGE; the exact size works.
        self.assertEqual(self.mount.call(raw_getxattr, path, "user.rangefs.etag", 0),
                         (len(value), 0, b""))
        result, error, _ = self.mount.call(raw_getxattr, path, "user.rangefs.etag",
                                           len(value) - 1)
        self.assertEqual((result, error), (-1, errno.ERANGE))
        self.assertEqual(self.mount.call(raw_getxattr, path, "user.rangefs.etag", len(value)),
                         (len(value), 0, value))
        names = b"".join(n.encode() + b"\0" for n in NAMES)
        self.assertEqual(self.mount.call(raw_listxattr, path, 0), (len(names), 0, b""))
        result, error, _ = self.mount.call(raw_listxattr, path, len(names) - 1)
        self.assertEqual((result, error), (-1, errno.ERANGE))
        self.assertEqual(self.mount.call(raw_listxattr, path, 4096), (len(names), 0, names))

    def test_unknown_names_and_the_directory(self):
        with self.assertRaises(OSError) as caught:
            self.mount.call(os.getxattr, self.path("small.bin"), "user.rangefs.nope")
        self.assertEqual(caught.exception.errno, errno.ENODATA)
        with self.assertRaises(OSError) as caught:
            self.mount.call(os.getxattr, self.path("small.bin"), "security.selinux")
        self.assertEqual(caught.exception.errno, errno.ENODATA)
        self.assertEqual(self.mount.call(os.listxattr, self.mount.path()), [])
        result = self.mount.run(["getfattr", "-n", "user.rangefs.nope", "small.bin"],
                                cwd=self.mount.path())
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("No such attribute", result.stderr.decode())

    def test_attributes_are_read_only(self):
        path = self.path("small.bin")
        for name in ("user.rangefs.url", "user.other"):
            with self.subTest(name=name):
                with self.assertRaises(OSError) as caught:
                    self.mount.call(os.setxattr, path, name, b"x")
                self.assertEqual(caught.exception.errno, errno.EROFS)
                result = self.mount.run(["setfattr", "-n", name, "-v", "x", "small.bin"],
                                        cwd=self.mount.path())
                self.assertNotEqual(result.returncode, 0)
                self.assertIn("Read-only file system", result.stderr.decode())
        with self.assertRaises(OSError) as caught:
            self.mount.call(os.removexattr, path, "user.rangefs.url")
        self.assertEqual(caught.exception.errno, errno.EROFS)
        result = self.mount.run(["setfattr", "-x", "user.rangefs.url", "small.bin"],
                                cwd=self.mount.path())
        self.assertNotEqual(result.returncode, 0)
        self.assertEqual(self.attributes("small.bin")["user.rangefs.url"],
                         self.server.url("small.bin"), "the value changed")


class XattrFaultServerTest(unittest.TestCase):
    """Against the project's test server: absent validators, and retries."""

    @classmethod
    def setUpClass(cls):
        harness.require_environment("getfattr")
        data = harness.TempDir("rangefs-xattr-faults-")
        cls.addClassCleanup(data.cleanup)
        cls.data = data.path
        harness.write_random_file(os.path.join(cls.data, "f.bin"), SMALL_SIZE)

    def setUp(self):
        self.server = RangeTestServer(self.data)
        self.server.start()
        self.addCleanup(self.server.cleanup)

    def mount(self, url: str) -> harness.Mount:
        mount = harness.Mount([url], MOUNT_ARGS + ["--timeout", "20"])
        self.addCleanup(mount.cleanup)
        return mount.start()

    def test_absent_validators_are_absent_attributes(self):
        mount = self.mount(self.server.url("f.bin", etag="none", lm=False))
        names = mount.call(os.listxattr, mount.path("f.bin"))
        self.assertEqual(sorted(names), sorted(n for n in NAMES if n not in (
            "user.rangefs.etag", "user.rangefs.last_modified")))
        for name in ("user.rangefs.etag", "user.rangefs.last_modified"):
            with self.assertRaises(OSError) as caught:
                mount.call(os.getxattr, mount.path("f.bin"), name)
            self.assertEqual(caught.exception.errno, errno.ENODATA, name)
        dump = mount.run(["getfattr", "-d", "-m", "-", "f.bin"], cwd=mount.path())
        self.assertEqual(dump.returncode, 0, dump.stderr)
        self.assertNotIn("user.rangefs.etag", dump.stdout.decode())
        self.assertNotIn("user.rangefs.last_modified", dump.stdout.decode())
        self.assertIn("user.rangefs.url=", dump.stdout.decode())

    def test_retries_and_requests_agree_with_the_server_log(self):
        # The first two GETs get a 503 (the mount's HEAD is not faulted): two retries.
        mount = self.mount(self.server.url("f.bin", status=503, times=2))
        with open(os.path.join(self.data, "f.bin"), "rb") as f:
            self.assertEqual(mount.call(harness.read_whole, mount.path("f.bin")), f.read())
        log = self.server.settled_requests()
        statuses = [(e["method"], e["status"]) for e in log]
        self.assertEqual(statuses[:3], [("HEAD", 200), ("GET", 503), ("GET", 503)], log)
        harness.wait_until(lambda: int(mount.call(os.getxattr, mount.path("f.bin"),
                                                  "user.rangefs.requests")) >= len(log), 10)
        values = mount.call(attributes, mount.path("f.bin"))
        self.assertEqual(values["user.rangefs.retries"], "2")
        self.assertEqual(int(values["user.rangefs.requests"]), len(log), log)
        self.assertEqual(int(values["user.rangefs.bytes_fetched"]),
                         sum(e["body_bytes"] for e in log), log)
        self.assertEqual(int(values["user.rangefs.cached_bytes"]), SMALL_SIZE)


if __name__ == "__main__":
    unittest.main()
