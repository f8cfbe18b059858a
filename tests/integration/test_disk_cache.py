"""The persistent disk cache (--cache-dir, issue 15) end to end: real mounts, a real nginx (its
access log says what was fetched), the fault server for a version without validators, and
the cache directory itself, looked at and damaged from outside.

What a user is promised and these tests hold rangefs to:
- after an unmount and a remount, a file read before is read again with no range request
  (only the revalidation HEAD), also by unzip -l and a sqlite3 query;
- a remote that changed while unmounted is served new, never from the old blocks;
- a kill -9 mid-read, and block files truncated or corrupted afterwards (a power cut), leave
  a cache the next mount uses without serving a wrong byte;
- two mounts on one directory read concurrently, every byte right, within one size bound;
- a full disk, a directory of another format: reads keep working, one log line says why the
  cache is not written (a read-only, vanished or partly deleted directory:
  test_disk_cache_directory);
- a version without validators is never stored;
- a start-up over an index of 1,000,000 blocks takes well under the mount timeout
  (scripts/bench/bench_disk_cache.py measures it against the < 1 s target).

The disk cache writes on a background thread, and the daemon writes what is queued when it
exits: every remount here first unmounts, then waits for the old process to be gone (by its
PID) before the next one starts.

DiskCacheTest is the quick part (ctest integration.test_disk_cache); DiskCacheSlowTest reads
256 MiB and waits out the 30 s pause of writing after ENOSPC (integration.test_disk_cache_slow,
label slow).
"""

from __future__ import annotations

import os
import threading
import time
import unittest

import harness
from harness import KiB, MiB

import disk_cache_index  # scripts/lib, on sys.path via harness
from disk_cache_base import (BLOCK, CHECKSUM_RE, NO_SPACE_RE, NOT_USED_RE, DiskCacheBase,
                             _note, block_files, block_index_of, log_lines, make_sqlite,
                             run_command)
from range_test_server import RangeTestServer


# ======================================================================== the quick part
class DiskCacheTest(DiskCacheBase):
    # remount.bin, the zip and the database together stay within the writer's queue (64 MiB):
    # read at full speed, nothing is dropped even if the writer (at nice 10) barely runs.
    SIZES = {"remount.bin": 56 * MiB, "shared.bin": 24 * MiB, "one.bin": 24 * MiB,
             "two.bin": 24 * MiB, "small.bin": 3 * MiB + 1234}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        harness.make_zip(os.path.join(cls.data, "archive.zip"))
        cls.sqlite_query = make_sqlite(os.path.join(cls.data, "items.sqlite"))

    def test_remount_rereads_with_no_range_request(self):
        cache = self.new_cache_dir()
        names = ["remount.bin", "archive.zip", "items.sqlite"]
        urls = [self.server.url(n) for n in names]
        query, expected = self.sqlite_query
        sqlite_args = ["sqlite3", "file:items.sqlite?mode=ro&immutable=1", query]

        first = self.start_mount(urls, cache)
        size = self.SIZES["remount.bin"]
        self.assert_sha(first, "remount.bin")  # at full speed, as a user reads
        unzip = first.run(["unzip", "-l", "archive.zip"], cwd=first.path())
        self.assertEqual(unzip.returncode, 0, unzip.stderr)
        rows = first.run(sqlite_args, cwd=first.path())
        self.assertEqual(rows.stdout.decode().strip(), expected, rows.stderr)
        # Written behind the reads: the whole file reaches the disk, nothing dropped.
        on_disk = self.wait_disk_cached(first, "remount.bin", size)
        counters = self.metrics(first)
        self.assertEqual(on_disk, size, f"the first mount never had the whole file on disk: "
                                        f"{counters}")
        self.assertEqual(counters["dropped"], 0, counters)
        self.stop_mount(first)
        self.assertTrue(os.path.exists(os.path.join(cache, "format")), os.listdir(cache))
        self.quiet_log()
        self.server.clear_access_log()

        second = self.start_mount(urls, cache)
        self.assertEqual(self.disk_cached(second, "remount.bin"), size,
                         "after the remount the xattr does not count the whole file")
        self.assert_sha(second, "remount.bin")
        again = second.run(["unzip", "-l", "archive.zip"], cwd=second.path())
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertEqual(again.stdout, unzip.stdout)
        rows = second.run(sqlite_args, cwd=second.path())
        self.assertEqual(rows.stdout.decode().strip(), expected, rows.stderr)
        self.assertEqual(self.disk_cached(second, "remount.bin"), size)
        counters = self.metrics(second)
        self.stop_mount(second)
        entries = self.quiet_log()
        gets = [(e["method"], e["uri"], e["range"]) for e in entries if e["method"] != "HEAD"]
        self.assertEqual(gets, [], f"the second mount asked for more than HEAD probes; disk "
                                   f"cache {counters}")
        self.assertTrue(all(e["uri"] in {"/" + n for n in names} for e in entries), entries)
        _note(f"second mount: {len(entries)} HEAD request(s), no GET; disk cache "
              f"{counters['hits']:.0f} hits, {counters['misses']:.0f} misses")
        self.assertGreaterEqual(counters["hits"], size // BLOCK,
                                "fewer disk hits than the file has blocks")

    def test_changed_remote_after_remount_serves_the_new_bytes(self):
        cache = self.new_cache_dir()
        name = "changing.bin"
        path = os.path.join(self.data, name)
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        old_sha = harness.write_random_file(path, 8 * MiB)
        url = self.server.url(name)

        first = self.start_mount([url], cache)
        self.assert_sha(first, name, old_sha)
        self.wait_disk_cached(first, name, 8 * MiB)
        self.stop_mount(first)
        self.quiet_log()
        self.server.clear_access_log()

        # Same size, new bytes, a later mtime: nginx's ETag (mtime-size) changes.
        old_mtime = os.stat(path).st_mtime
        replacement = path + ".new"
        new_sha = harness.write_random_file(replacement, 8 * MiB)
        os.utime(replacement, (old_mtime + 100, old_mtime + 100))
        os.replace(replacement, path)

        second = self.start_mount([url], cache)
        self.assertEqual(self.disk_cached(second, name), 0,
                         "blocks of the old version are counted for the new one")
        self.assert_sha(second, name, new_sha)
        self.stop_mount(second)
        gets = self.range_gets(self.quiet_log(), name)
        fetched = sum(harness.range_bytes(e) for e in gets)
        self.assertGreaterEqual(fetched, 8 * MiB,
                                f"the new version was not fetched whole ({fetched} bytes in "
                                f"{len(gets)} GETs)")

    def test_two_mounts_share_one_directory_within_its_bound(self):
        cache = self.new_cache_dir()
        bound = 32 * MiB
        args = ["--disk-cache-size", "32M", "--cache-size", "16M", "--revalidate", "600"]
        names = ["shared.bin", "one.bin", "two.bin"]
        urls = [self.server.url(n) for n in names]
        a = self.start_mount(urls, cache, args)
        b = self.start_mount(urls, cache, args)

        def check(mount, name):
            return lambda: self.assert_sha(mount, name)

        # The same file from both at once, and a different one each: 72 MiB through a 32 MiB
        # directory, evicted from both processes.
        harness.run_threads([check(a, "shared.bin"), check(b, "shared.bin"),
                             check(a, "one.bin"), check(b, "two.bin")], timeout=600)
        # Again the other way round, page cache dropped: what each reads now was written (or
        # evicted) by the other too.
        for mount in (a, b):
            for name in names:
                fd = mount.call(os.open, mount.path(name), os.O_RDONLY)
                mount.call(os.posix_fadvise, fd, 0, 0, os.POSIX_FADV_DONTNEED)
                os.close(fd)
        harness.run_threads([check(b, "one.bin"), check(a, "two.bin"),
                             check(a, "shared.bin"), check(b, "shared.bin")], timeout=600)
        counters = {"a": self.metrics(a), "b": self.metrics(b)}
        self.stop_mount(a)
        self.stop_mount(b)
        _note("two mounts: " + "; ".join(
            f"{k}: " + ", ".join(f"{m} {v:.0f}" for m, v in c.items())
            for k, c in counters.items()))
        self.assertGreater(counters["a"]["evictions"] + counters["b"]["evictions"], 0,
                           "72 MiB through a 32 MiB cache and nothing was evicted")
        self.assertGreater(counters["a"]["writes"], 0)
        self.assertGreater(counters["b"]["writes"], 0)
        slack = 4 * BLOCK  # "a few blocks"
        total = disk_cache_index.block_bytes(cache)
        self.assertLessEqual(total, bound + slack, f"the index accounts {total} bytes")
        files = block_files(cache)
        on_disk = sum(os.path.getsize(p) for p in files)
        # Each file is a header (the FileKey in full: well under 4 KiB) and the block.
        self.assertLessEqual(on_disk, bound + slack + len(files) * 4 * KiB,
                             f"{len(files)} block files hold {on_disk} bytes")
        self.assertGreater(total, 0)
        _note(f"index total {total / MiB:.2f} MiB, {len(files)} block files, "
              f"{on_disk / MiB:.2f} MiB on disk (bound {bound / MiB:.0f} MiB)")

    def test_another_format_is_left_alone(self):
        cache = self.new_cache_dir()
        os.makedirs(cache)
        foreign = b"some-other-cache 99\n"
        with open(os.path.join(cache, "format"), "wb") as f:
            f.write(foreign)
        mount = self.start_mount([self.server.url("small.bin")], cache)
        self.assert_sha(mount, "small.bin")
        log = self.stop_mount(mount)
        lines = [line for line in log_lines(log, NOT_USED_RE) if "format" in line.lower()]
        self.assertEqual(len(lines), 1, f"expected one line saying the directory is not used "
                                        f"because of its format:\n{log}")
        _note(f"logged: {lines[0].strip()}")
        with open(os.path.join(cache, "format"), "rb") as f:
            self.assertEqual(f.read(), foreign, "the other format's version file was changed")
        self.assertEqual(sorted(os.listdir(cache)), ["format"],
                         "rangefs wrote into a directory of another format")

    def test_version_without_validators_is_never_stored(self):
        cache = self.new_cache_dir()
        server = RangeTestServer(self.data)
        server.start()
        self.addCleanup(server.cleanup)
        url = server.url("small.bin", etag="none", lm=False)
        for _ in range(2):
            mount = self.start_mount([url], cache)
            self.assert_sha(mount, "small.bin")
            self.assertEqual(self.disk_cached(mount, "small.bin"), 0)
            counters = self.metrics(mount)
            self.stop_mount(mount)
            self.assertEqual(counters["writes"], 0)
            self.assertEqual(block_files(cache), [])
        gets = [r for r in server.settled_requests() if r["method"] == "GET"]
        fetched = sum(r["body_bytes"] for r in gets)
        self.assertGreaterEqual(fetched, 2 * self.SIZES["small.bin"],
                                "the second mount did not fetch the file again")

    def test_start_up_with_a_million_cached_blocks(self):
        cache = self.new_cache_dir()
        # A real directory first (format, index schema), then 1,000,000 rows in its index.
        first = self.start_mount([self.server.url("small.bin")], cache)
        self.assert_sha(first, "small.bin")
        self.wait_disk_cached(first, "small.bin", self.SIZES["small.bin"])
        self.stop_mount(first)
        started = time.monotonic()
        rows = disk_cache_index.fill(cache, 1_000_000)
        _note(f"index of {rows} rows built in {time.monotonic() - started:.1f} s")

        mount = self.start_mount([self.server.url("small.bin")], cache)
        seconds = mount.start_seconds
        _note(f"mount with {rows} cached blocks up in {seconds:.3f} s")
        self.assertLess(seconds, 5.0, "start-up seems to scan the cache")
        self.assert_sha(mount, "small.bin")
        self.stop_mount(mount)


# ========================================================================= the slow part
class DiskCacheSlowTest(DiskCacheBase):
    SIZES = {"big.bin": 256 * MiB, "full.bin": 128 * MiB, "after.bin": 16 * MiB}

    def test_kill_9_mid_read_then_power_cut(self):
        cache = self.new_cache_dir()
        size = self.SIZES["big.bin"]
        url = self.server.url("big.bin")
        mount = self.start_mount([url], cache)
        progress = {"bytes": 0, "error": None}

        def reader():
            try:
                with open(mount.path("big.bin"), "rb") as f:
                    while True:
                        chunk = f.read(MiB)
                        if not chunk:
                            return
                        progress["bytes"] += len(chunk)
            except OSError as e:
                progress["error"] = e

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        reached = harness.wait_until(lambda: progress["bytes"] >= 100 * MiB or
                                     not thread.is_alive(), 120, interval=0.005)
        self.assertTrue(reached and progress["bytes"] < size,
                        f"the read did not stop between 100 MiB and the end: {progress}")
        mount.abort()  # SIGKILL, by PID; waits for it
        self.assertFalse(harness.pid_alive(mount.pid))
        thread.join(30)
        self.assertFalse(thread.is_alive(), "the reader stayed blocked on the dead mount")
        killed_at = progress["bytes"]
        mount.cleanup()  # fusermount3 -u, then -z, of the dead mount
        files = block_files(cache)
        _note(f"killed after {killed_at / MiB:.0f} MiB read; {len(files)} block files on disk")
        self.assertGreater(len(files), 0, "nothing was written before the kill")

        # After a kill: the next mount reads everything right.
        # At the writer's pace (paced_read), so no block is dropped: the cache is whole
        # before the power cut, and exactly the damaged blocks must miss after it.
        second = self.start_mount([url], cache, ["--readahead-max", "4M"])
        self.assertEqual(self.paced_read(second, "big.bin", size), self.shas["big.bin"])
        counters = self.metrics(second)
        self.stop_mount(second)  # writes what it still has queued
        _note(f"after the kill: {len(block_files(cache))} block files; second mount's disk "
              f"cache {counters}")
        self.assertEqual(len(block_files(cache)), size // BLOCK,
                         "the mount after the kill did not complete the cache")
        self.assertEqual(disk_cache_index.row_count(cache), size // BLOCK,
                         "index rows and block files disagree after the kill")

        # A power cut: some block files short, one empty, one with a flipped byte.
        files = block_files(cache)
        self.assertGreaterEqual(len(files), 8)
        damaged = {}
        for path in files[1:4]:
            os.truncate(path, os.path.getsize(path) // 2)
            damaged[path] = "truncated to half"
        os.truncate(files[5], 0)
        damaged[files[5]] = "truncated to 0"
        with open(files[7], "r+b") as f:
            f.seek(-100, os.SEEK_END)  # in the block's bytes, not the header
            byte = f.read(1)
            f.seek(-100, os.SEEK_END)
            f.write(bytes([byte[0] ^ 0x01]))
        damaged[files[7]] = "one byte flipped"
        self.quiet_log()
        self.server.clear_access_log()

        third = self.start_mount([url], cache)
        self.assert_sha(third, "big.bin")
        counters = self.metrics(third)
        log = self.stop_mount(third)
        gets = self.range_gets(self.quiet_log(), "big.bin")
        fetched = [r for e in gets for r in harness.parse_ranges(e)]
        for path, how in damaged.items():
            first_byte = block_index_of(path) * BLOCK
            self.assertTrue(any(a <= first_byte <= b for a, b in fetched),
                            f"block {block_index_of(path)} ({how}) was not fetched again")
        mentions = log_lines(log, CHECKSUM_RE)
        self.assertLessEqual(len(mentions), 1, f"the checksum failure logged more than once:\n"
                                               f"{mentions}")
        # The cache was whole before the damage: exactly the damaged blocks miss, as errors.
        self.assertEqual(counters["misses"], len(damaged), counters)
        self.assertEqual(counters["errors"], len(damaged), counters)
        _note(f"after the power cut: {len(gets)} GETs, disk cache {counters}; "
              f"log: {mentions}")

    def test_disk_full_then_space_returns(self):
        top = self.new_cache_dir()
        os.makedirs(top)
        try:
            run_command(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", top])
        except OSError as e:
            self.skipTest(f"cannot mount a 64 MiB tmpfs ({e})")
        self.addCleanup(run_command, ["umount", top])
        cache = os.path.join(top, "cache")
        ballast = os.path.join(top, "ballast")
        harness.write_random_file(ballast, 24 * MiB)

        # A bound larger than the tmpfs and no free-space floor: the writes meet ENOSPC.
        mount = self.start_mount([self.server.url(n) for n in ("full.bin", "after.bin")],
                                 cache, ["--disk-cache-size", "1G",
                                         "--disk-cache-min-free", "0",
                                         "--readahead-max", "4M"])  # for paced_read
        self.assert_sha(mount, "full.bin")
        harness.wait_until(lambda: log_lines(mount.stderr(), NO_SPACE_RE), 30)
        lines = log_lines(mount.stderr(), NO_SPACE_RE)
        paused_at = time.monotonic()
        self.assertEqual(len(lines), 1, f"expected one line about no space:\n{mount.stderr()}")
        before = self.metrics(mount)
        _note(f"logged: {lines[0].strip()}; {before}")
        self.assertGreater(before["errors"] + before["dropped"], 0)

        os.unlink(ballast)  # space returns
        # Writing is paused for 30 s after the fault; a read after that is written again.
        time.sleep(max(0.0, 32 - (time.monotonic() - paused_at)))
        size = self.SIZES["after.bin"]
        self.assertEqual(self.paced_read(mount, "after.bin", size), self.shas["after.bin"])
        got = self.disk_cached(mount, "after.bin")
        after = self.metrics(mount)
        log = self.stop_mount(mount)
        self.assertGreater(after["writes"], before["writes"], "writing never resumed")
        self.assertEqual(got, size, f"after.bin only partly on disk: {got}")
        self.assertEqual(len(log_lines(log, NO_SPACE_RE)), 1, log)


if __name__ == "__main__":
    unittest.main()