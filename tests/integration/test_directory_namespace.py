"""Remote directories as a live namespace, end to end: URL files (comments, folders, a bad
URL that fails only when used; 100,000 lines: mount time and memory per entry; 10,000 lines
walked with find), listings refreshed after --dir-ttl (files added, removed while open,
replaced), and FUSE forget (drop_caches) with inode numbers that never alias two files.

Helpers are shared with test_directories.py.
"""

from __future__ import annotations

import os
import stat
import time
import unittest

import harness
from harness import MiB
from test_directories import local_tree, note, run_ok, unmount_cleanly

# ------------------------------------------------------------------------------ URL files
class UrlFileTest(unittest.TestCase):

    SIZES = {"a.bin": 1_000, "b.bin": 20_000, "c.bin": 333, "d.bin": 0}

    @classmethod
    def setUpClass(cls):
        harness.require_environment("find", "wc", "sh")
        data = harness.TempDir("rangefs-dirs-urlfile-")
        cls.addClassCleanup(data.cleanup)
        cls.tmp = data.path
        cls.root = os.path.join(cls.tmp, "www")
        os.makedirs(os.path.join(cls.root, "dir"))
        for name, size in cls.SIZES.items():
            harness.write_random_file(os.path.join(cls.root, name), size)
        harness.write_random_file(os.path.join(cls.root, "dir", "x.txt"), 10)
        cls.server = harness.LoopbackNginx(cls.root, autoindex="json").start()
        cls.addClassCleanup(cls.server.cleanup)

    def url_file(self, name: str, lines) -> str:
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            for line in lines:
                f.write(line + "\n")
        return path

    def test_comments_folders_and_a_bad_url(self):
        url = self.server.url
        path = self.url_file("list.txt", [
            "# a URL file", "", "   ", f"top.bin={url('a.bin')}",
            "   # an indented comment", f"folder/inner/renamed.bin={url('b.bin')}",
            url("c.bin"), f"folder/dir={url('dir')}/", f"missing/gone.bin={url('nope.bin')}",
            f"year=2024/part #1.bin={url('d.bin')}",
        ])
        self.server.clear_access_log()
        with harness.Mount([], ["--url-file", path]) as mount:
            self.assertEqual(sorted(mount.call(os.listdir, mount.path())),
                             ["c.bin", "folder", "missing", "top.bin", "year=2024"])
            self.assertEqual(sorted(mount.call(os.listdir, mount.path("folder"))),
                             ["dir", "inner"])
            self.assertEqual(mount.call(os.stat, mount.path("folder/inner/renamed.bin")).st_size,
                             20_000)
            self.assertEqual(mount.call(harness.read_whole, mount.path("top.bin")),
                             harness.read_whole(os.path.join(self.root, "a.bin")))
            self.assertEqual(mount.call(os.listdir, mount.path("folder/dir")), ["x.txt"])
            self.assertEqual(mount.call(os.stat, mount.path("year=2024/part #1.bin")).st_size, 0)
            # The bad line did not refuse the mount; it fails when used, as a missing file.
            with self.assertRaises(FileNotFoundError):
                mount.call(os.stat, mount.path("missing/gone.bin"))
            self.assertTrue(mount.alive())
            self.assertEqual(mount.call(os.stat, mount.path("c.bin")).st_size, 333)
            unmount_cleanly(self, mount)
        uris = [e["uri"] for e in self.server.access_log_entries()]
        self.assertIn("/nope.bin", uris)

    def big_url_file(self, name: str, count: int, layout) -> str:
        urls = [self.server.url(n) for n in sorted(self.SIZES)]
        return self.url_file(name, (f"{layout(i)}={urls[i % len(urls)]}" for i in range(count)))

    def mounted_rss(self, url_file: str) -> tuple[harness.Mount, float, int]:
        """Mounts the URL file; returns (mount, seconds to mount, VmRSS once mounted)."""
        mount = harness.Mount([], ["--url-file", url_file])
        self.addCleanup(mount.cleanup)
        started = time.monotonic()
        mount.start()
        elapsed = time.monotonic() - started
        mount.call(os.listdir, mount.path())
        time.sleep(0.3)  # threads started, allocations settled
        return mount, elapsed, harness.proc_status_bytes(mount.pid, "VmRSS")

    def test_100000_lines_mount_fast_and_small(self):
        count = 100_000
        big = self.big_url_file("big.txt", count, lambda i: f"d{i % 100:02d}/f{i:06d}.bin")
        one = self.big_url_file("one.txt", 1, lambda i: f"d{i % 100:02d}/f{i:06d}.bin")
        self.server.clear_access_log()
        small_mount, small_time, small_rss = self.mounted_rss(one)
        unmount_cleanly(self, small_mount)
        mount, elapsed, rss = self.mounted_rss(big)
        per_entry = (rss - small_rss) / (count - 1)
        note(f"--url-file of {count} lines mounted in {elapsed:.2f}s (1 line: "
             f"{small_time:.2f}s); VmRSS {rss / MiB:.1f} MiB vs {small_rss / MiB:.1f} MiB: "
             f"{per_entry:.0f} bytes per entry")
        self.assertLess(elapsed, 10.0)
        # Entries are not probed at mount.
        self.assertEqual(self.server.quiet_access_log_entries(quiet=0.2), [])
        self.assertEqual(len(mount.call(os.listdir, mount.path())), 100)
        self.assertEqual(len(mount.call(os.listdir, mount.path("d07"))), count // 100)
        self.assertEqual(mount.call(os.stat, mount.path("d07/f000007.bin")).st_size,
                         self.SIZES[sorted(self.SIZES)[7 % 4]])
        if not os.environ.get("RANGEFS_SANITIZED"):
            self.assertLess(per_entry, 2048, "memory per known-but-unopened entry")
        unmount_cleanly(self, mount)

    def test_10000_lines_find_counts_everything(self):
        count = 10_000
        path = self.big_url_file("ten.txt", count,
                                 lambda i: f"g{i // 1000}/h{(i // 100) % 10}/f{i:05d}.bin")
        with harness.Mount([], ["--url-file", path]) as mount:
            started = time.monotonic()
            out = run_ok(self, mount, ["sh", "-c", "find . | wc -l"])
            note(f"find | wc -l over a {count}-line URL file: {time.monotonic() - started:.2f}s")
            # The files, 10 + 100 folders and '.' itself.
            self.assertEqual(int(out.strip()), count + 10 + 100 + 1)
            out = run_ok(self, mount, ["sh", "-c", "find . -type f | wc -l"])
            self.assertEqual(int(out.strip()), count)
            unmount_cleanly(self, mount)


# ------------------------------------------------------------------------------ refresh
class RefreshTest(unittest.TestCase):
    """A docroot changed between reads; --dir-ttl 1 makes the mount see the changes."""

    def setUp(self):
        harness.require_environment()
        data = harness.TempDir("rangefs-dirs-refresh-")
        self.addCleanup(data.cleanup)
        self.tmp = data.path
        self.root = os.path.join(self.tmp, "www")
        os.makedirs(os.path.join(self.root, "sub"))
        self.gone = os.urandom(200_000)
        self.write("keep.txt", b"kept\n")
        self.write("gone.bin", self.gone)
        self.write("replaced.txt", b"old version\n" * 100)
        self.write("sub/inner.txt", b"inner\n")
        self.server = harness.LoopbackNginx(self.root, autoindex="json").start()
        self.addCleanup(self.server.cleanup)

    def write(self, rel: str, data: bytes) -> None:
        """Atomically, as a deploy would: the server never sees half a file."""
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = os.path.join(self.tmp, "incoming")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)

    def wait_for(self, mount, what: str, predicate, bound: float = 10.0):
        deadline = time.monotonic() + bound
        while True:
            value = mount.call(predicate)
            if value:
                return value
            if time.monotonic() >= deadline:
                self.fail(f"{what}: not seen within {bound}s\n{mount.stderr()[-2000:]}")
            time.sleep(0.2)

    def test_added_removed_and_replaced_files(self):
        with harness.Mount([self.server.url("") ], ["--dir-ttl", "1", "--revalidate", "1"]
                           ) as mount:
            self.assertEqual(sorted(mount.call(os.listdir, mount.path())),
                             ["gone.bin", "keep.txt", "replaced.txt", "sub"])
            self.assertEqual(mount.call(os.stat, mount.path("replaced.txt")).st_size, 1200)
            self.assertEqual(mount.call(harness.read_whole, mount.path("replaced.txt")),
                             b"old version\n" * 100)
            fd = mount.call(os.open, mount.path("gone.bin"), os.O_RDONLY)
            try:
                self.assertEqual(mount.call(os.pread, fd, 1000, 5000), self.gone[5000:6000])

                new_content = b"the new version, longer than the old one\n" * 77
                self.write("added.txt", b"added\n")
                os.unlink(os.path.join(self.root, "gone.bin"))
                self.write("replaced.txt", new_content)
                self.write("sub/added-inside.txt", b"inside\n")
                self.write("newdir/f.txt", b"in a new directory\n")
                changed = time.monotonic()

                expected = ["added.txt", "keep.txt", "newdir", "replaced.txt", "sub"]
                self.wait_for(mount, "the new root listing",
                              lambda: sorted(os.listdir(mount.path())) == expected)
                note(f"root listing changed {time.monotonic() - changed:.1f}s after the server")
                # The kernel may keep the name for its entry timeout (--revalidate) more.
                self.wait_for(mount, "ENOENT for the removed file",
                              lambda: not os.path.lexists(mount.path("gone.bin")))
                with self.assertRaises(FileNotFoundError):
                    mount.call(os.stat, mount.path("gone.bin"))
                # The open handle of the removed file still reads its bytes.
                self.assertEqual(mount.call(os.pread, fd, len(self.gone), 0), self.gone)
                self.assertEqual(mount.call(os.pread, fd, 5000, 199_000), self.gone[199_000:])

                self.wait_for(mount, "the replaced file's new size",
                              lambda: os.stat(mount.path("replaced.txt")).st_size
                              == len(new_content))
                self.assertEqual(mount.call(harness.read_whole, mount.path("replaced.txt")),
                                 new_content)
                self.assertEqual(mount.call(harness.read_whole, mount.path("added.txt")),
                                 b"added\n")
                self.wait_for(mount, "the file added to sub/",
                              lambda: "added-inside.txt" in os.listdir(mount.path("sub")))
                self.assertEqual(mount.call(harness.read_whole, mount.path("newdir/f.txt")),
                                 b"in a new directory\n")
            finally:
                os.close(fd)
            unmount_cleanly(self, mount)


# ------------------------------------------------------------------------------- forget
class ForgetTest(unittest.TestCase):
    """The kernel forgets inodes (drop_caches); stat again: same sizes, and an inode number
    seen for one path is never seen for another while the mount lives."""

    def test_drop_caches_keeps_sizes_and_never_aliases_inodes(self):
        harness.require_environment()
        data = harness.TempDir("rangefs-dirs-forget-")
        self.addCleanup(data.cleanup)
        for d in range(5):
            for f in range(40):
                path = os.path.join(data.path, f"d{d}", f"e{d % 2}" if f % 3 else "", f"f{f}.bin")
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as out:
                    out.write(b"x" * (d * 1000 + f))
        files, dirs = local_tree(data.path)
        server = harness.LoopbackNginx(data.path, autoindex="json").start()
        self.addCleanup(server.cleanup)

        def snapshot(root):
            """{path: (st_ino, size or None)}; d_ino of each listing agrees with st_ino."""
            seen = {}
            pending = [root]
            while pending:
                with os.scandir(pending.pop()) as it:
                    entries = list(it)
                for entry in entries:
                    st = os.stat(entry.path)
                    if entry.inode() != st.st_ino:
                        raise AssertionError(f"{entry.path}: d_ino {entry.inode()}, st_ino "
                                             f"{st.st_ino}")
                    if stat.S_ISDIR(st.st_mode):
                        pending.append(entry.path)
                    seen[os.path.relpath(entry.path, root)] = (
                        st.st_ino, st.st_size if stat.S_ISREG(st.st_mode) else None)
            return seen

        def drop_caches():
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("2\n")

        # -d: FUSE's debug output names each request, FORGET ones included.
        with harness.Mount([server.url("")], ["-d"]) as mount:
            owner = {}  # inode number -> the one path it was ever seen for
            kept_fd = mount.call(os.open, mount.path("d1/f0.bin"), os.O_RDONLY)
            changed = 0
            previous = None
            try:
                for round_ in range(4):
                    seen = mount.call(snapshot, mount.path(), timeout=60)
                    self.assertEqual(set(seen), set(files) | dirs)
                    for path, (ino, size) in seen.items():
                        if path in files:
                            self.assertEqual(size, files[path], path)
                        self.assertEqual(owner.setdefault(ino, path), path,
                                         f"round {round_}: inode {ino} of {owner[ino]!r} is now "
                                         f"also {path!r}")
                    self.assertEqual(len({ino for ino, _ in seen.values()}), len(seen))
                    if previous is not None:
                        changed += sum(1 for p in seen if seen[p][0] != previous[p][0])
                    previous = seen
                    if round_ < 3:
                        try:
                            drop_caches()
                        except OSError as e:
                            self.skipTest(f"cannot write /proc/sys/vm/drop_caches ({e}); "
                                          f"this test needs root")
                self.assertEqual(mount.call(os.pread, kept_fd, 10, 0), b"x" * 10)
            finally:
                os.close(kept_fd)
            log = mount.stderr()
            forgets = log.count("FORGET")
            note(f"forget: {forgets} FORGET/BATCH_FORGET requests logged; {changed} path "
                 f"lookups got a new inode number after a drop; {len(owner)} numbers seen")
            self.assertGreater(forgets, 0, "drop_caches made the kernel forget nothing: the "
                                           "test exercised nothing")
            unmount_cleanly(self, mount)


if __name__ == "__main__":
    unittest.main(verbosity=2)
