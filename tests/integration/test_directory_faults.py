"""Bad listings from the project's fault server (scripts/lib/range_test_server.py): pages over
--max-listing-size or --max-dir-entries, a page that never ends, a redirect loop, self and
parent links, a listing that breaks on refresh, an XML bomb, names that are not names. Each
costs an EIO on that directory (or nothing at all) and a log line, never a crash or a hang:
after each, the rest of the mount still reads, fusermount3 -u works and the daemon exits 0.

A directory that cannot be listed refuses the mount when it is an operand (it is listed at
mount), so most tests put the bad directory in a --url-file, whose entries are listed on
first use, beside a good file.
"""

from __future__ import annotations

import os
import time
import unittest

import harness
from harness import MiB
from range_test_server import NAMES_CONTENT, RangeTestServer
from test_directories import TREE_MTIME, find_paths, note, run_ok, unmount_cleanly

S3_QUERY = "?list-type=2&prefix=&delimiter=/"


class DirectoryFaultsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_environment("ls", "find")
        data = harness.TempDir("rangefs-dir-faults-")
        cls.addClassCleanup(data.cleanup)
        cls.tmp = data.path
        cls.root = os.path.join(cls.tmp, "www")
        os.makedirs(os.path.join(cls.root, "sub"))
        cls.content = {"a.txt": b"file a\n" * 50, "b.txt": b"file b\n", "sub/c.txt": b"c\n"}
        for rel, data_ in cls.content.items():
            path = os.path.join(cls.root, rel)
            with open(path, "wb") as f:
                f.write(data_)
            os.utime(path, (TREE_MTIME, TREE_MTIME))
        cls.server = RangeTestServer(cls.root).start()
        cls.addClassCleanup(cls.server.cleanup)

    # ------------------------------------------------------------------------- helpers
    def mount_with_bad(self, bad: dict[str, str], args=()) -> harness.Mount:
        """A mount of a good file (good.txt) and the directories in `bad` (name -> URL), these
        through a URL file so that they are listed on first use."""
        path = os.path.join(self.tmp, f"urls-{self.id().rsplit('.', 1)[-1]}.txt")
        with open(path, "w") as f:
            f.write(f"good.txt={self.server.url('a.txt')}\n")
            for name, url in bad.items():
                f.write(f"{name}={url}\n")
        mount = harness.Mount([], ["--url-file", path, *args])
        self.addCleanup(mount.cleanup)
        return mount.start()

    def assert_ls_fails_with_eio(self, mount: harness.Mount, rel: str, bound: float = 30.0,
                                 error: bytes | None = b"Input/output error") -> float:
        """`ls` of the directory fails (with EIO unless error is None) within bound seconds;
        the daemon lives and the good file still reads. Returns the seconds ls took."""
        started = time.monotonic()
        result = mount.run(["ls", mount.path(rel)], timeout=bound + 30)
        elapsed = time.monotonic() - started
        self.assertNotEqual(result.returncode, 0, f"ls {rel} succeeded: {result.stdout[:500]}")
        self.assertLess(elapsed, bound, f"ls {rel} took {elapsed:.1f}s")
        if error is not None:
            self.assertIn(error, result.stderr)
        self.assertTrue(mount.alive(), mount.stderr()[-3000:])
        self.assertEqual(mount.call(harness.read_whole, mount.path("good.txt")),
                         self.content["a.txt"])
        return elapsed

    def listing_requests(self, options: str, path: str = "") -> list[dict]:
        return [r for r in self.server.requests()
                if r["method"] == "GET" and r["options"] == options and r["path"] == path]

    # -------------------------------------------------------------------------- limits
    def test_huge_listing_over_max_listing_size(self):
        url = self.server.url("", listing="html", lfault="huge", mib=4)
        mount = self.mount_with_bad({"huge": url}, ["--max-listing-size", "1M"])
        self.assert_ls_fails_with_eio(mount, "huge")
        self.assert_ls_fails_with_eio(mount, "huge")  # again: still an error, not a hang
        self.assertIn("--max-listing-size", mount.stderr())
        unmount_cleanly(self, mount)

    def test_huge_listing_operand_refuses_the_mount(self):
        url = self.server.url("", listing="html", lfault="huge", mib=4)
        run = harness.run_expect_failure(["--max-listing-size", "1M", url], timeout=30)
        self.assertFalse(run.mounted)
        self.assertEqual(run.returncode, 1, run.stderr)
        lines = [line for line in run.stderr.splitlines() if url in line]
        self.assertTrue(lines, run.stderr)
        self.assertIn("--max-listing-size", lines[0])
        self.assertEqual(run.stray_pids, [])

    def test_too_many_links_over_max_dir_entries(self):
        many = self.server.url("", listing="html", lfault="links", count=3000)
        too_many = self.server.url("", listing="html", lfault="links", count=5000)
        mount = self.mount_with_bad({"many": many, "too-many": too_many},
                                    ["--max-dir-entries", "4000"])
        self.assert_ls_fails_with_eio(mount, "too-many")
        self.assertIn("more than 4000 entries", mount.stderr())
        names = mount.call(os.listdir, mount.path("many"))
        self.assertEqual(len(names), 3000)
        self.assertIn("file-00002999.bin", names)
        unmount_cleanly(self, mount)

    def test_endless_listing_never_hangs(self):
        url = self.server.url("", listing="html", lfault="endless", interval=50)
        mount = self.mount_with_bad({"endless": url}, ["--timeout", "2"])
        # Bound: three tries of --timeout each (see the next test) and slack.
        elapsed = self.assert_ls_fails_with_eio(mount, "endless", bound=3 * 2 + 10)
        note(f"an endless listing trickling a link every 50 ms, --timeout 2: ls failed after "
             f"{elapsed:.1f}s")
        unmount_cleanly(self, mount)

    # --timeout is "seconds a fetch may take, retries and their waits included": a listing
    # page's retries share it.
    def test_endless_listing_fails_within_the_timeout(self):
        url = self.server.url("", listing="html", lfault="endless", interval=50)
        mount = self.mount_with_bad({"endless": url}, ["--timeout", "5"])
        try:
            self.assert_ls_fails_with_eio(mount, "endless", bound=5 + 5)
        finally:
            unmount_cleanly(self, mount)

    def test_endless_listing_is_cut_by_the_size_limit(self):
        url = self.server.url("", listing="html", lfault="endless", interval=0)
        mount = self.mount_with_bad({"endless": url},
                                    ["--timeout", "30", "--max-listing-size", "2M"])
        elapsed = self.assert_ls_fails_with_eio(mount, "endless", bound=15)
        note(f"an endless listing as fast as it is read, --max-listing-size 2M: ls failed "
             f"after {elapsed:.1f}s")
        self.assertIn("--max-listing-size", mount.stderr())
        unmount_cleanly(self, mount)

    # ---------------------------------------------------------------------- link shapes
    def test_redirect_loop_between_two_directories(self):
        with harness.Mount([self.server.url("", listing="html", lfault="loop")]) as mount:
            self.assertEqual(sorted(mount.call(os.listdir, mount.path())),
                             ["a.txt", "b.txt", "loop", "sub"])
            self.assertEqual(sorted(mount.call(os.listdir, mount.path("loop"))), ["a", "b"])
            for name in ("a", "b"):
                result = mount.run(["ls", mount.path(f"loop/{name}")], timeout=60)
                self.assertNotEqual(result.returncode, 0)
                self.assertIn(b"Input/output error", result.stderr)
            self.assertRegex(mount.stderr(), r"more than 10 redirects")
            self.assertEqual(mount.call(harness.read_whole, mount.path("sub/c.txt")), b"c\n")
            unmount_cleanly(self, mount)

    def test_links_to_itself_and_its_parent_are_not_entries(self):
        with harness.Mount([self.server.url("", listing="html", lfault="self")]) as mount:
            self.assertEqual(sorted(mount.call(os.listdir, mount.path())),
                             ["a.txt", "b.txt", "sub"])
            self.assertEqual(mount.call(os.listdir, mount.path("sub")), ["c.txt"])
            self.assertEqual(find_paths(self, mount, "f"), ["a.txt", "b.txt", "sub/c.txt"])
            self.assertEqual(find_paths(self, mount, "d"), ["sub"])
            unmount_cleanly(self, mount)

    # ------------------------------------------------------------------------- refresh
    def check_refresh_failure(self, status: int) -> None:
        options = dict(listing="html", only="dirs", status=status, after=1)
        url = self.server.url("", **options)
        segment = url.rstrip("/").rsplit("/", 1)[1]
        logged_options = ",".join(f"{k}={v}" for k, v in options.items())
        self.assertEqual(segment, logged_options)
        with harness.Mount([url], ["--dir-ttl", "1", "--revalidate", "1"]) as mount:
            names = ["a.txt", "b.txt", "sub"]
            self.assertEqual(sorted(mount.call(os.listdir, mount.path())), names)
            self.assertEqual(len(self.listing_requests(logged_options)), 1)
            time.sleep(1.5)  # the TTL passes; the next readdir fetches again, and fails
            self.assertEqual(sorted(run_ok(self, mount, ["ls"]).split()), names)
            failed = self.listing_requests(logged_options)
            self.assertGreater(len(failed), 1, "no refresh was tried")
            self.assertTrue(all(r["status"] == status for r in failed[1:]), failed)
            self.assertIn("the last good listing stays", mount.stderr())
            # The failed refresh is tried again later (after the TTL here, shorter than 10 s).
            time.sleep(1.5)
            self.assertEqual(sorted(run_ok(self, mount, ["ls"]).split()), names)
            self.assertGreater(len(self.listing_requests(logged_options)), len(failed))
            self.assertEqual(mount.call(harness.read_whole, mount.path("b.txt")), b"file b\n")
            unmount_cleanly(self, mount)

    def test_listing_answering_500_on_refresh_keeps_the_last_good_one(self):
        self.check_refresh_failure(500)

    def test_listing_answering_404_on_refresh_keeps_the_last_good_one(self):
        self.check_refresh_failure(404)

    # ----------------------------------------------------------------------------- XML
    def test_xml_bomb_is_refused_without_expanding_it(self):
        url = self.server.url("", s3=1, lfault="bomb") + S3_QUERY
        mount = self.mount_with_bad({"bomb": url})
        before = harness.proc_status_bytes(mount.pid, "VmHWM")
        # Which error: see the next test.
        self.assert_ls_fails_with_eio(mount, "bomb", error=None)
        peak = harness.proc_status_bytes(mount.pid, "VmHWM")
        note(f"XML bomb: VmHWM {before / MiB:.1f} MiB before, {peak / MiB:.1f} MiB after")
        if not os.environ.get("RANGEFS_SANITIZED"):
            self.assertLess(peak - before, 64 * MiB, "the bomb's entities were expanded")
        self.assertIn("malformed XML", mount.stderr())
        unmount_cleanly(self, mount)

    # A page that cannot be read as a listing ("not a directory listing: malformed XML") is
    # the server's answer being unusable: EIO, as every other bad listing.
    def test_xml_bomb_is_eio(self):
        url = self.server.url("", s3=1, lfault="bomb") + S3_QUERY
        mount = self.mount_with_bad({"bomb": url})
        try:
            self.assert_ls_fails_with_eio(mount, "bomb")
        finally:
            unmount_cleanly(self, mount)

    # --------------------------------------------------------------------------- names
    def test_names_that_are_not_names_are_skipped_and_logged(self):
        with harness.Mount([self.server.url("", listing="names")]) as mount:
            names = set(mount.call(os.listdir, os.fsencode(mount.path())))
            expected = {b"with space.txt", b"plus+sign.txt", "café.txt".encode(),
                        "日本.bin".encode(), b"bad\xff\xfename.txt", b"dup.txt", b"sub dir"}
            self.assertEqual(names, expected)
            for name in expected - {b"sub dir"}:
                with self.subTest(name=name):
                    got = mount.call(harness.read_whole, os.fsencode(mount.path()) + b"/" + name)
                    self.assertEqual(got, NAMES_CONTENT(name))
            self.assertEqual(set(mount.call(os.listdir, mount.path("sub dir"))),
                             {"inner.txt", "ü.txt"})
            self.assertEqual(mount.call(harness.read_whole, mount.path("sub dir/ü.txt")),
                             NAMES_CONTENT("sub dir/ü.txt".encode()))
            log = mount.stderr()
            for what in ("a name with '/'", "a dot name", "a name with NUL", '"dup.txt"',
                         '"caf'):
                self.assertIn(what, "\n".join(line for line in log.splitlines()
                                              if "skipped" in line), f"{what}:\n{log}")
            unmount_cleanly(self, mount)


if __name__ == "__main__":
    unittest.main(verbosity=2)
