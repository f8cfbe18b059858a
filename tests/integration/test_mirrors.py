"""Mirrors (--mirror URL, NAME=URL1|URL2): the same bytes at several addresses, served by real
nginx origins whose ETags differ for the same bytes (their files have different mtimes).
Reads fail over when one origin is stopped mid-read, --spread reads from both at once, a mirror
serving another size is dropped for that file (logged, never asked for a byte), and a primary
that is down at mount is served by its mirror."""

import hashlib
import os
import re
import shutil
import subprocess
import threading
import unittest

import harness
from harness import MiB

FILE_SIZE = 24 * MiB + 321


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class MirrorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_environment()
        tmp = harness.TempDir("rangefs-mirrors-")
        cls.addClassCleanup(tmp.cleanup)
        cls.roots = [os.path.join(tmp.path, name) for name in ("a", "b")]
        for root in cls.roots:
            os.makedirs(root)
        source = os.path.join(cls.roots[0], "data.bin")
        cls.digest = harness.write_random_file(source, FILE_SIZE)
        shutil.copyfile(source, os.path.join(cls.roots[1], "data.bin"))
        # Another size at the second origin only.
        harness.write_random_file(os.path.join(cls.roots[0], "odd.bin"), FILE_SIZE)
        harness.write_random_file(os.path.join(cls.roots[1], "odd.bin"), FILE_SIZE - 1)
        # Different mtimes: nginx's ETags ("mtime-size") differ for the same bytes.
        os.utime(os.path.join(cls.roots[0], "data.bin"), (1_600_000_000, 1_600_000_000))
        os.utime(os.path.join(cls.roots[1], "data.bin"), (1_700_000_000, 1_700_000_000))

    def origins(self):
        servers = []
        for root in self.roots:
            server = harness.LoopbackNginx(root).start()
            self.addCleanup(server.cleanup)
            servers.append(server)
        return servers

    def mount(self, operands, *args) -> harness.Mount:
        mount = harness.Mount(operands, list(args))
        self.addCleanup(mount.cleanup)
        mount.start()
        return mount

    @staticmethod
    def gets(server) -> list:
        return [e for e in server.access_log_entries() if e["method"] == "GET"]

    def test_the_etags_differ_for_the_same_bytes(self):
        a, b = self.origins()
        etags = []
        for server in (a, b):
            run = subprocess.run(["curl", "-sSI", server.url("data.bin")],
                                         capture_output=True, text=True, timeout=20)
            etags.append([line for line in run.stdout.splitlines()
                          if line.lower().startswith("etag")])
        self.assertNotEqual(etags[0], etags[1])

    def test_a_mirror_takes_over_when_the_primary_stops_mid_read(self):
        a, b = self.origins()
        # A small readahead: what follows the first read is still to fetch when `a` stops.
        mount = self.mount([a.url("data.bin")], "--mirror", b.url("data.bin"),
                           "--timeout", "10", "--metrics", "127.0.0.1:0",
                           "--readahead-max", "2M")
        with open(mount.path("data.bin"), "rb") as f:
            head = mount.call(f.read, 4 * MiB)
            a.stop()
            rest = mount.call(f.read, timeout=60)
        self.assertEqual(sha256(head + rest), self.digest, "wrong bytes after the failover")
        self.assertGreater(len(self.gets(b)), 0, "nothing was read from the mirror")
        origin_a = a.base_url.rstrip("/")
        origin_b = b.base_url.rstrip("/")
        self.assertEqual(mount.stderr().count(f"{origin_a} failed ("), 1, mount.stderr())
        # Which address is bad, as an operator sees it: the xattr and the metrics.
        addresses = mount.call(os.getxattr, mount.path("data.bin"),
                               "user.rangefs.addresses").decode()
        self.assertIn(f"{a.url('data.bin')} down", addresses)
        self.assertIn(f"{b.url('data.bin')} up", addresses)
        where = re.search(r"metrics at (\S+)", mount.stderr())
        self.assertIsNotNone(where, mount.stderr())
        text = subprocess.run(["curl", "-sS", "--noproxy", "*", "--max-time", "10",
                               where.group(1)], capture_output=True, text=True,
                              timeout=20).stdout
        self.assertIn(f'rangefs_address_up{{kind="origin",address="{origin_a}"}} 0', text)
        self.assertIn(f'rangefs_address_up{{kind="origin",address="{origin_b}"}} 1', text)
        served = re.search(r'rangefs_address_body_bytes_total\{kind="origin",address="'
                           + re.escape(origin_b) + r'"\} (\d+)', text)
        self.assertIsNotNone(served, text)
        self.assertGreater(int(served.group(1)), 0)

    def test_spread_reads_from_both_origins(self):
        a, b = self.origins()
        mount = self.mount([a.url("data.bin")], "--mirror", b.url("data.bin"), "--spread",
                           "--block-size", "1M")
        # Several readers at once, each its own quarter: every segment of the file is read.
        results = [None] * 4
        quarter = FILE_SIZE // 4 + 1

        def read(i):
            results[i] = harness.pread_file(mount.path("data.bin"), quarter, i * quarter)

        threads = [threading.Thread(target=read, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(sha256(b"".join(results)), self.digest)
        self.assertGreater(len(self.gets(a)), 0, "the primary served nothing")
        self.assertGreater(len(self.gets(b)), 0, "the mirror served nothing")

    def test_a_mirror_of_another_size_is_dropped_and_never_read(self):
        a, b = self.origins()
        mount = self.mount([f"odd.bin={a.url('odd.bin')}|{b.url('odd.bin')}"], "--spread")
        data = mount.call(harness.read_whole, mount.path("odd.bin"))
        self.assertEqual(len(data), FILE_SIZE)
        with open(os.path.join(self.roots[0], "odd.bin"), "rb") as f:
            self.assertEqual(sha256(data), sha256(f.read()))
        self.assertEqual(self.gets(b), [], "a byte was asked of the mirror of another size")
        self.assertEqual(mount.stderr().count(f"serves {FILE_SIZE - 1} bytes"), 1,
                         mount.stderr())

    def test_a_primary_down_at_mount_is_served_by_its_mirror(self):
        a, b = self.origins()
        a.stop()
        mount = self.mount([f"data.bin={a.url('data.bin')}|{b.url('data.bin')}"])
        data = mount.call(harness.read_whole, mount.path("data.bin"))
        self.assertEqual(sha256(data), self.digest)
        self.assertGreater(len(self.gets(b)), 0)


if __name__ == "__main__":
    unittest.main()
