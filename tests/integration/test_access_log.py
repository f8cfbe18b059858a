"""What goes over the wire: nginx's access log after real reads through the mount.

Each test gets a fresh nginx and a fresh mount (so no page cache is shared between tests),
does its reads, unmounts, stops nginx gracefully (which guarantees every request has been
logged) and only then inspects the log.
"""

import os
import re
import resource
import unittest

import harness
from harness import MiB

BIG_SIZE = 64 * MiB
MID_SIZE = 16 * MiB + 4321
ODD_SIZE = 300_007
RANGE_RE = re.compile(r"^bytes=(\d+)-(\d+)$")


def _max_fuse_read() -> int:
    """Upper bound on one FUSE read: max_pages_limit (default 256) pages."""
    pages = 256
    try:
        with open("/proc/sys/fs/fuse/max_pages_limit") as f:
            pages = int(f.read())
    except (OSError, ValueError):
        pass
    return pages * resource.getpagesize()


class AccessLogTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_environment("sha256sum")
        data = harness.TempDir("rangefs-log-data-")
        cls.addClassCleanup(data.cleanup)
        cls.data = data.path
        cls.big_sha = harness.write_random_file(os.path.join(cls.data, "big.bin"), BIG_SIZE)
        harness.write_random_file(os.path.join(cls.data, "mid.bin"), MID_SIZE)
        harness.write_random_file(os.path.join(cls.data, "odd.bin"), ODD_SIZE)
        open(os.path.join(cls.data, "empty.bin"), "wb").close()
        cls.names = ["big.bin", "mid.bin", "odd.bin", "empty.bin"]
        cls.sizes = {n: os.path.getsize(os.path.join(cls.data, n)) for n in cls.names}

    def setUp(self):
        self.server = harness.LoopbackNginx(self.data)
        self.server.start()
        self.addCleanup(self.server.cleanup)
        self.mount = harness.Mount([self.server.url(n) for n in self.names])
        self.addCleanup(self.mount.cleanup)
        self.mount.start()

    # ------------------------------------------------------------------------- helpers
    def local(self, name, length, offset):
        with open(os.path.join(self.data, name), "rb") as f:
            f.seek(offset)
            return f.read(length)

    def pread(self, name, length, offset):
        return self.mount.call(harness.pread_file, self.mount.path(name), length, offset, timeout=60)

    def finish(self):
        """Unmount, stop nginx (flushes the log), return (entries, gets by uri)."""
        result = self.mount.fusermount_unmount()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIsNotNone(self.mount.wait_exit(15), "rangefs did not exit after unmount")
        self.server.stop()
        entries = self.server.access_log_entries()
        gets = {}
        for e in entries:
            if e["method"] == "GET":
                gets.setdefault(e["uri"], []).append(e)
        return entries, gets

    def uri(self, name):
        return "/" + name

    def assert_well_formed_gets(self, entries):
        """Every GET: one inclusive range bytes=N-M, inside the file, answered 206 with
        exactly that many bytes, no larger than one FUSE read."""
        max_read = _max_fuse_read()
        size_by_uri = {self.uri(n): s for n, s in self.sizes.items()}
        for e in entries:
            self.assertIn(e["method"], ("HEAD", "GET"), e)
            if e["method"] != "GET":
                continue
            with self.subTest(entry=e):
                m = RANGE_RE.match(e["range"])
                self.assertIsNotNone(m, f"GET without a single bytes=N-M Range: {e}")
                first, last = int(m.group(1)), int(m.group(2))
                self.assertLessEqual(first, last, e)
                self.assertIn(e["uri"], size_by_uri, e)
                self.assertLess(last, size_by_uri[e["uri"]], f"range not clamped to EOF: {e}")
                self.assertEqual(e["status"], 206, e)
                self.assertEqual(e["body_bytes_sent"], last - first + 1, e)
                self.assertLessEqual(last - first + 1, max_read,
                                     f"one GET larger than any FUSE read: {e}")

    def assert_heads_first(self, entries):
        heads = [e for e in entries if e["method"] == "HEAD"]
        self.assertEqual(sorted(e["uri"] for e in heads),
                         sorted(self.uri(n) for n in self.names),
                         "expected exactly one HEAD per URL")
        for e in heads:
            self.assertEqual(e["status"], 200, e)
        first_get = next((i for i, e in enumerate(entries) if e["method"] == "GET"),
                         len(entries))
        last_head = max(i for i, e in enumerate(entries) if e["method"] == "HEAD")
        self.assertLess(last_head, first_get, "HEAD probes must all precede the first GET")

    @staticmethod
    def ranges_of(gets):
        out = []
        for e in gets:
            first, last = map(int, RANGE_RE.match(e["range"]).groups())
            out.append((first, last))
        return out

    # --------------------------------------------------------------------------- tests
    def test_full_read_fetches_only_what_is_read(self):
        result = self.mount.run(["sha256sum", "big.bin"], cwd=self.mount.path(), timeout=180)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.decode().split()[0], self.big_sha)
        bytes_read = BIG_SIZE
        for offset, length in [(0, 4096), (BIG_SIZE // 2 + 11, 100_000),
                               (BIG_SIZE - 4096, 4096)]:
            self.assertEqual(self.pread("big.bin", length, offset),
                             self.local("big.bin", length, offset))
            bytes_read += length

        entries, gets = self.finish()
        self.assert_heads_first(entries)
        self.assert_well_formed_gets(entries)
        big_gets = gets.get(self.uri("big.bin"), [])
        self.assertTrue(big_gets, "no GET at all for big.bin")
        self.assertEqual(set(gets), {self.uri("big.bin")},
                         "GETs for files that were never read")
        total = sum(e["body_bytes_sent"] for e in big_gets)
        self.assertGreaterEqual(total, BIG_SIZE)  # every byte had to come from somewhere
        self.assertLessEqual(total, bytes_read * 1.25,
                             f"{total} bytes fetched for {bytes_read} bytes read")
        # The ranges together cover the whole file (the content check above relies on it).
        covered = 0
        for first, last in sorted(self.ranges_of(big_gets)):
            self.assertLessEqual(first, covered, f"gap in the fetched ranges at {covered}")
            covered = max(covered, last + 1)
        self.assertEqual(covered, BIG_SIZE)

    def test_small_uncached_pread_fetches_small_range(self):
        offset = 10 * MiB + 7
        self.assertEqual(self.pread("mid.bin", 100, offset), self.local("mid.bin", 100, offset))
        entries, gets = self.finish()
        self.assert_heads_first(entries)
        self.assert_well_formed_gets(entries)
        mid = gets.get(self.uri("mid.bin"), [])
        self.assertTrue(self._covers(self.ranges_of(mid), offset, offset + 100),
                        f"the GETs did not cover the bytes read: {mid}")
        total = sum(e["body_bytes_sent"] for e in mid)
        # Kernel readahead may add a little; fetching the 16 MiB file is a bug.
        self.assertLessEqual(total, 2 * MiB, f"{total} bytes fetched for a 100-byte read")

    @staticmethod
    def _covers(ranges, start, end):
        pos = start
        for first, last in sorted(ranges):
            if first <= pos <= last:
                pos = last + 1
        return pos >= end

    def test_reads_at_or_past_eof_make_no_request(self):
        self.assertEqual(self.pread("odd.bin", 4096, ODD_SIZE), b"")
        self.assertEqual(self.pread("odd.bin", 1, ODD_SIZE + 12345), b"")
        self.assertEqual(self.mount.call(harness.read_whole, self.mount.path("empty.bin")), b"")
        self.assertEqual(self.pread("empty.bin", 100, 0), b"")
        entries, gets = self.finish()
        self.assert_heads_first(entries)
        self.assert_well_formed_gets(entries)
        self.assertEqual(gets, {}, "reads at or past EOF must not make requests")

    def test_read_spanning_eof_is_clamped(self):
        got = self.pread("odd.bin", 64 * 1024, ODD_SIZE - 1000)
        self.assertEqual(got, self.local("odd.bin", 1000, ODD_SIZE - 1000))
        entries, gets = self.finish()
        self.assert_well_formed_gets(entries)  # includes: last <= size - 1, status 206
        odd = gets.get(self.uri("odd.bin"), [])
        self.assertTrue(odd)
        self.assertIn(ODD_SIZE - 1, [last for _, last in self.ranges_of(odd)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
