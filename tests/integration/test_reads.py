"""End-to-end reads: real nginx serving real files, read through a real rangefs mount."""

import errno
import os
import random
import stat
import unittest

import harness
from harness import GiB, MiB

# Fixed, distinct Last-Modified times (whole seconds; HTTP dates have 1 s resolution). A
# mount that reported "now" or the epoch for st_mtime fails the comparison.
MTIMES = {
    "random.bin": 1_600_000_001,
    "odd.bin": 1_500_000_002,
    "scatter.bin": 1_400_000_003,
    "empty.bin": 1_300_000_004,
    "sparse5g.bin": 1_200_000_005,
    "Big File.bin": 1_100_000_006,
}

RANDOM_SIZE = 64 * MiB
ODD_SIZE = 1_000_003            # not a multiple of the page size
SCATTER_SIZE = 8 * MiB + 333
SPARSE_SIZE = 5 * GiB
RENAMED = "renamed via NAME.bin"  # NAME=URL operand for odd.bin


class ReadsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_environment("sha256sum", "cmp")
        data = harness.TempDir("rangefs-reads-data-")
        cls.addClassCleanup(data.cleanup)
        cls.data = data.path

        cls.random_sha = harness.write_random_file(cls._local("random.bin"), RANDOM_SIZE)
        harness.write_random_file(cls._local("odd.bin"), ODD_SIZE)
        harness.write_random_file(cls._local("scatter.bin"), SCATTER_SIZE)
        harness.write_random_file(cls._local("Big File.bin"), 70_001)
        open(cls._local("empty.bin"), "wb").close()
        cls.sparse_markers = harness.make_sparse_file(cls._local("sparse5g.bin"), SPARSE_SIZE)
        for name, mtime in MTIMES.items():
            os.utime(cls._local(name), (mtime, mtime))

        cls.server = harness.LoopbackNginx(cls.data)
        cls.server.start()
        cls.addClassCleanup(cls.server.cleanup)

        operands = [cls.server.url(n) for n in
                    ("random.bin", "odd.bin", "scatter.bin", "empty.bin", "sparse5g.bin")]
        # Percent-encoded on the wire: .../Big%20File.bin
        big_url = cls.server.url("Big File.bin")
        assert "%20" in big_url, big_url
        operands.append(big_url)
        operands.append(f"{RENAMED}={cls.server.url('odd.bin')}")
        cls.mount = harness.Mount(operands)
        cls.addClassCleanup(cls.mount.cleanup)
        cls.mount.start()

    @classmethod
    def _local(cls, name):
        return os.path.join(cls.data, name)

    def _mnt(self, name):
        return self.mount.path(name)

    def pread(self, name, length, offset):
        return self.mount.call(harness.pread_file, self._mnt(name), length, offset, timeout=60)

    def local_pread(self, name, length, offset):
        with open(self._local(name), "rb") as f:
            f.seek(offset)
            return f.read(length)

    def test_inode_numbers_are_distinct_and_a_listing_agrees_with_stat(self):
        """The adapter deals out inode numbers: the root is 1, each file has its own, and the
        number a directory listing shows (d_ino) is the one stat shows (st_ino)."""
        def listing():
            return {entry.name: entry.inode() for entry in os.scandir(self.mount.path())}

        listed = self.mount.call(listing)
        self.assertEqual(self.mount.call(os.stat, self.mount.path()).st_ino, 1)
        self.assertEqual(len(set(listed.values())), len(listed), f"shared numbers: {listed}")
        self.assertNotIn(1, listed.values())
        for name, number in listed.items():
            self.assertEqual(self.mount.call(os.stat, self._mnt(name)).st_ino, number, name)
        # Looked up again, a name keeps its number.
        self.assertEqual(self.mount.call(listing), listed)

    def tearDown(self):
        # Every test must leave the daemon alive and mounted; a crash shows up here at once.
        self.assertTrue(self.mount.alive(),
                        f"rangefs died (status {self.mount.process.returncode}); stderr:\n"
                        f"{self.mount.stderr()[-3000:]}")
        self.assertTrue(self.mount.mounted, "mount disappeared")

    # ------------------------------------------------------------------------- directory
    def test_directory_lists_exactly_the_operands(self):
        names = self.mount.call(os.listdir, self.mount.path())
        self.assertEqual(sorted(names), sorted(
            ["random.bin", "odd.bin", "scatter.bin", "empty.bin", "sparse5g.bin",
             "Big File.bin", RENAMED]))

    def test_missing_name_is_enoent(self):
        with self.assertRaises(FileNotFoundError):
            self.mount.call(os.stat, self._mnt("no-such-file.bin"))

    # ------------------------------------------------------------------------- full reads
    def test_full_read_sha256sum_matches(self):
        result = self.mount.run(["sha256sum", "random.bin"], cwd=self.mount.path(),
                                timeout=180)
        self.assertEqual(result.returncode, 0, result.stderr)
        digest, _, name = result.stdout.decode().strip().partition("  ")
        self.assertEqual(name, "random.bin")
        self.assertEqual(digest, self.random_sha)

    def test_full_read_cmp_identical(self):
        result = self.mount.run(["cmp", self._local("odd.bin"), self._mnt("odd.bin")],
                                timeout=120)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    # ---------------------------------------------------------------------- partial reads
    def test_first_and_last_byte(self):
        self.assertEqual(self.pread("scatter.bin", 1, 0), self.local_pread("scatter.bin", 1, 0))
        self.assertEqual(self.pread("scatter.bin", 1, SCATTER_SIZE - 1),
                         self.local_pread("scatter.bin", 1, SCATTER_SIZE - 1))

    def test_read_spanning_eof_returns_short_tail(self):
        got = self.pread("odd.bin", 4096, ODD_SIZE - 37)
        self.assertEqual(len(got), 37)
        self.assertEqual(got, self.local_pread("odd.bin", 37, ODD_SIZE - 37))
        got = self.pread("odd.bin", 1 * MiB, ODD_SIZE - 5000)
        self.assertEqual(len(got), 5000)
        self.assertEqual(got, self.local_pread("odd.bin", 5000, ODD_SIZE - 5000))

    def test_read_at_and_past_eof_returns_empty(self):
        self.assertEqual(self.pread("odd.bin", 10, ODD_SIZE), b"")
        self.assertEqual(self.pread("odd.bin", 10, ODD_SIZE + 1000), b"")
        self.assertEqual(self.pread("odd.bin", 10, 10 * GiB), b"")

    def test_random_preads_match_local(self):
        rng = random.Random(1234)
        cases = [(0, 1), (4095, 2), (4096, 4096), (SCATTER_SIZE - 4097, 4097)]
        for _ in range(150):
            offset = rng.randrange(SCATTER_SIZE)
            length = rng.choice([1, 7, 512, 4096, 5000, 65536, 200_000])
            cases.append((offset, length))
        for offset, length in cases:
            with self.subTest(offset=offset, length=length):
                self.assertEqual(self.pread("scatter.bin", length, offset),
                                 self.local_pread("scatter.bin", length, offset))

    def test_sequential_reads_in_odd_chunks(self):
        def read_in_chunks(path):
            parts = []
            with open(path, "rb", buffering=0) as f:
                while True:
                    chunk = f.read(12_345)
                    if not chunk:
                        return b"".join(parts)
                    parts.append(chunk)
        got = self.mount.call(read_in_chunks, self._mnt(RENAMED), timeout=60)
        self.assertEqual(got, harness.read_whole(self._local("odd.bin")))

    # ----------------------------------------------------------------------- empty file
    def test_zero_length_file(self):
        st = self.mount.call(os.stat, self._mnt("empty.bin"))
        self.assertEqual(st.st_size, 0)
        self.assertTrue(stat.S_ISREG(st.st_mode))
        self.assertEqual(self.mount.call(harness.read_whole, self._mnt("empty.bin")), b"")
        self.assertEqual(self.pread("empty.bin", 100, 0), b"")

    # --------------------------------------------------------------------- large offsets
    def test_sparse_5gib_size_exact(self):
        st = self.mount.call(os.stat, self._mnt("sparse5g.bin"))
        self.assertEqual(st.st_size, SPARSE_SIZE)

    def test_sparse_5gib_reads_above_4gib(self):
        for offset, marker in self.sparse_markers.items():
            with self.subTest(offset=offset):
                # A window around each marker, so zeros on both sides are checked too.
                start = max(0, offset - 100)
                length = len(marker) + 200
                expected = self.local_pread("sparse5g.bin", length, start)
                self.assertIn(marker, expected)  # guards the test data itself
                self.assertEqual(self.pread("sparse5g.bin", length, start), expected)
        # The exact offsets the contract names.
        for offset in (4 * GiB + 123, 5 * GiB - 10):
            with self.subTest(offset=offset):
                self.assertEqual(self.pread("sparse5g.bin", 10, offset),
                                 self.local_pread("sparse5g.bin", 10, offset))
        self.assertEqual(self.pread("sparse5g.bin", 100, 5 * GiB - 10), b"LAST10BYTE")

    # ------------------------------------------------------------------------ attributes
    def test_file_attributes(self):
        for name, local_name in [(n, n) for n in MTIMES] + [(RENAMED, "odd.bin")]:
            with self.subTest(name=name):
                st = self.mount.call(os.stat, self._mnt(name))
                local = os.stat(self._local(local_name))
                self.assertTrue(stat.S_ISREG(st.st_mode), oct(st.st_mode))
                self.assertEqual(stat.S_IMODE(st.st_mode), 0o444, oct(st.st_mode))
                self.assertEqual(st.st_uid, os.getuid())
                self.assertEqual(st.st_gid, os.getgid())
                self.assertEqual(st.st_size, local.st_size)
                self.assertEqual(int(st.st_mtime), int(local.st_mtime))
                self.assertEqual(int(st.st_mtime), MTIMES[local_name])
                self.assertGreaterEqual(st.st_nlink, 1)

    def test_directory_attributes(self):
        st = self.mount.call(os.stat, self.mount.path())
        self.assertTrue(stat.S_ISDIR(st.st_mode), oct(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o555, oct(st.st_mode))
        self.assertEqual(st.st_uid, os.getuid())
        self.assertEqual(st.st_gid, os.getgid())

    def test_ls_l_shows_modes_and_sizes(self):
        result = self.mount.run(["ls", "-ln", "--time-style=+%s", "."], cwd=self.mount.path(),
                                timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        rows = {}
        for line in result.stdout.decode().splitlines()[1:]:  # skip "total N"
            fields = line.split(None, 6)
            rows[fields[6]] = fields
        self.assertEqual(set(rows), set(MTIMES) | {RENAMED})
        for name, fields in rows.items():
            local_name = "odd.bin" if name == RENAMED else name
            with self.subTest(name=name):
                self.assertEqual(fields[0][:10], "-r--r--r--")
                self.assertEqual(int(fields[4]), os.path.getsize(self._local(local_name)))
                self.assertEqual(int(fields[5]), MTIMES[local_name])

    # ---------------------------------------------------------------------------- naming
    def test_percent_encoded_name_is_decoded(self):
        self.assertIn("Big File.bin", self.mount.call(os.listdir, self.mount.path()))
        self.assertNotIn("Big%20File.bin", self.mount.call(os.listdir, self.mount.path()))
        self.assertEqual(self.mount.call(harness.read_whole, self._mnt("Big File.bin")),
                         harness.read_whole(self._local("Big File.bin")))

    def test_name_equals_url_operand(self):
        st = self.mount.call(os.stat, self._mnt(RENAMED))
        self.assertEqual(st.st_size, ODD_SIZE)
        self.assertEqual(self.pread(RENAMED, 1000, 500_000),
                         self.local_pread("odd.bin", 1000, 500_000))

    # ------------------------------------------------------------------------- read-only
    def test_cannot_write_or_create(self):
        denied = (errno.EROFS, errno.EACCES, errno.EPERM)
        with self.assertRaises(OSError) as cm:
            fd = self.mount.call(os.open, self._mnt("odd.bin"), os.O_WRONLY)
            os.close(fd)
        self.assertIn(cm.exception.errno, denied)
        with self.assertRaises(OSError) as cm:
            fd = self.mount.call(os.open, self._mnt("new.bin"), os.O_WRONLY | os.O_CREAT, 0o644)
            os.close(fd)
        self.assertIn(cm.exception.errno, denied)
        with self.assertRaises(OSError) as cm:
            self.mount.call(os.mkdir, self._mnt("newdir"))
        self.assertIn(cm.exception.errno, denied)
        with self.assertRaises(OSError) as cm:
            self.mount.call(os.unlink, self._mnt("odd.bin"))
        self.assertIn(cm.exception.errno, denied)
        # And nothing changed.
        self.assertEqual(self.mount.call(os.stat, self._mnt("odd.bin")).st_size, ODD_SIZE)


if __name__ == "__main__":
    unittest.main(verbosity=2)
