"""Several ranges in one request, through a real mount: a read that needs several pieces of a
file at once, and the first open's head-and-tail fetch (--open-prefetch), go out as one
`Range: bytes=a-b,c-d` request; nginx answers with multipart/byteranges, and every byte read
must match the file. `--max-ranges 1` turns it off. A server that ignores Range (200) still
gives correct bytes, and a real one (python3 -m http.server) is said to be one once per file.
"""

import mmap
import os
import re
import subprocess
import unittest

import harness
import web_servers  # scripts/lib, on the path through harness
from harness import KiB, MiB
from range_test_server import RangeTestServer

BLOCK = 256 * KiB
SIZE = 4 * MiB + 12345
MULTI = re.compile(r"^bytes=\d+-\d+(,\d+-\d+)+$")


def direct_pread(path, length, offset):
    """One read of `length` bytes at `offset` with O_DIRECT, so the kernel sends it to the
    filesystem as one request instead of page by page (buffer and offset page-aligned)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        buffer = mmap.mmap(-1, length)
        got = os.preadv(fd, [buffer], offset)
        return bytes(buffer[:got])
    finally:
        os.close(fd)


class MultiRangeTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_environment("unzip")
        data = harness.TempDir("rangefs-multi-data-")
        cls.addClassCleanup(data.cleanup)
        cls.data = data.path
        harness.write_random_file(os.path.join(cls.data, "f.bin"), SIZE)
        with open(os.path.join(cls.data, "f.bin"), "rb") as f:
            cls.content = f.read()
        cls.zip_members = harness.make_zip(os.path.join(cls.data, "a.zip"))

    def start(self, server_kind, args, names=("f.bin",), **options):
        server = (harness.LoopbackNginx(self.data) if server_kind == "nginx"
                  else RangeTestServer(self.data))
        server.start()
        self.addCleanup(server.cleanup)
        mount = harness.Mount([server.url(n, **options) if options else server.url(n)
                               for n in names], ["--block-size", "256K", *args])
        self.addCleanup(mount.cleanup)
        mount.start()
        return server, mount

    @staticmethod
    def demand_gets(server, below):
        """GETs for bytes below `below`: readahead after the test's reads is left out."""
        return [e for e in MultiRangeTest.gets(server)
                if int(e["range"][len("bytes="):].split("-")[0]) < below]

    @staticmethod
    def gets(server):
        server.stop()  # logs every finished request
        entries = (server.access_log_entries() if isinstance(server, harness.LoopbackNginx)
                   else server.requests())
        return [e for e in entries if e["method"] == "GET"]

    def test_read_needing_two_pieces_asks_for_both_in_one_request(self):
        server, mount = self.start("nginx", ["--no-open-prefetch"])
        path = mount.path("f.bin")
        # Block 1 cached first; then one read of blocks 0-2 needs 0 and 2: two pieces.
        self.assertEqual(mount.call(direct_pread, path, BLOCK, BLOCK),
                         self.content[BLOCK:2 * BLOCK])
        self.assertEqual(mount.call(direct_pread, path, 3 * BLOCK, 0),
                         self.content[:3 * BLOCK])
        gets = self.demand_gets(server, 3 * BLOCK)
        ranges = [e["range"] for e in gets]
        self.assertEqual(ranges, [f"bytes={BLOCK}-{2 * BLOCK - 1}",
                                  f"bytes=0-{BLOCK - 1},{2 * BLOCK}-{3 * BLOCK - 1}"], gets)
        self.assertEqual(gets[1]["status"], 206)

    def test_max_ranges_one_asks_for_each_piece_alone(self):
        server, mount = self.start("nginx", ["--no-open-prefetch", "--max-ranges", "1"])
        path = mount.path("f.bin")
        mount.call(direct_pread, path, BLOCK, BLOCK)
        self.assertEqual(mount.call(direct_pread, path, 3 * BLOCK, 0), self.content[:3 * BLOCK])
        ranges = sorted(e["range"] for e in self.demand_gets(server, 3 * BLOCK))
        self.assertEqual(ranges, sorted([f"bytes={BLOCK}-{2 * BLOCK - 1}",
                                         f"bytes=0-{BLOCK - 1}",
                                         f"bytes={2 * BLOCK}-{3 * BLOCK - 1}"]))

    def test_open_prefetch_fetches_head_and_tail_in_one_request(self):
        # No flag: the prefetch is on by default (nginx), and --open-prefetch turns it on.
        for kind, args in (("nginx", []), ("test", ["--open-prefetch"])):
            with self.subTest(server=kind, args=args):
                server, mount = self.start(kind, args, names=("a.zip",))
                size = os.path.getsize(os.path.join(self.data, "a.zip"))
                listing = mount.run(["unzip", "-l", mount.path("a.zip")], timeout=30)
                self.assertEqual(listing.returncode, 0, listing.stderr)
                for name in self.zip_members:
                    self.assertIn(name.encode(), listing.stdout)
                gets = self.gets(server)
                self.assertTrue(gets and MULTI.match(gets[0]["range"]), gets)
                first, tail = gets[0]["range"][len("bytes="):].split(",")
                self.assertEqual(first, f"0-{BLOCK - 1}")
                tail_first, tail_last = map(int, tail.split("-"))
                self.assertEqual(tail_last, size - 1)
                self.assertLessEqual(tail_first, size - 256 * KiB)
                self.assertEqual(gets[0]["status"], 206)
                self.assertEqual(len(gets), 1,
                                 f"unzip -l needed more than the head and tail: {gets}")
                mount.cleanup()

    def test_server_ignoring_range_still_gives_correct_bytes(self):
        server, mount = self.start("test", ["--no-open-prefetch"],
                                   ranges=0)
        path = mount.path("f.bin")
        mount.call(direct_pread, path, BLOCK, BLOCK)
        self.assertEqual(mount.call(direct_pread, path, 3 * BLOCK, 0), self.content[:3 * BLOCK])
        whole = mount.call(harness.read_whole, path, timeout=60)
        self.assertEqual(whole, self.content)

    def test_python_http_server_is_downloaded_whole_and_said_once(self):
        """python3 -m http.server ignores Range. The first open's head-and-tail request (one
        multi-range GET) gets the whole file, and so does every range asked alone: each file is
        then downloaded whole. The log says so in one warning per file, with what it costs,
        and nothing else about the file at warning or info level: a 200 to a range request is
        the server's answer, not a failure to retry. f.bin (over 4 MiB) is past what rangefs
        reads of a 200 to a multi-range request; a.zip is not, and is cut out of it."""
        server = web_servers.start_server("python", "html", self.data)
        self.addCleanup(server.cleanup)
        names = ("f.bin", "a.zip")
        mount = harness.Mount([server.url + name for name in names])
        self.addCleanup(mount.cleanup)
        mount.start()
        for name in names:
            with self.subTest(name=name):
                path = os.path.join(self.data, name)
                result = mount.run(["sha256sum", mount.path(name)], timeout=60)
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertEqual(result.stdout.split()[0].decode(), harness.sha256_file(path))
                result = mount.run(["cat", mount.path(name)], timeout=60)
                self.assertEqual(result.returncode, 0, result.stderr)
                with open(path, "rb") as f:
                    self.assertEqual(result.stdout, f.read())
        self.assertEqual(mount.fusermount_unmount().returncode, 0)
        self.assertEqual(mount.wait_exit(10), 0)
        lines = mount.stderr().splitlines()
        statuses = {e["status"] for e in server.quiet_access_log_entries(quiet=0.2)
                    if e["method"] == "GET"}
        self.assertEqual(statuses, {200}, "the server answered a range: the test proved nothing")
        for name in names:
            with self.subTest(name=name):
                about = [line for line in lines if (" warning: " in line or " info: " in line)
                         and (server.url + name) in line]
                self.assertEqual(len(about), 1, "\n".join(lines))
                self.assertIn(" warning: ", about[0])
                self.assertIn("ignores Range requests; downloading the whole file", about[0])
        warnings = [line for line in lines if " warning: " in line or " error: " in line]
        self.assertEqual(len(warnings), len(names), "\n".join(lines))


if __name__ == "__main__":
    unittest.main()
