"""The disk cache's directory changed under rangefs, end to end (real nginx, real mounts):
- deleted while mounted: reads go on from memory and the network, one warning says why nothing
  is written;
- its tmp/ and blocks/ deleted while mounted: made again at the next write, and writing goes on
  without a fault;
- read-only at start: reads work, nothing is written.

Part of integration.test_disk_cache_directory (the helpers are disk_cache_base's).
"""

from __future__ import annotations

import os
import re
import shutil
import unittest

from harness import MiB

from disk_cache_base import DiskCacheBase, READ_ONLY_RE, _note, run_command


class DiskCacheDirectoryTest(DiskCacheBase):
    SIZES = {"small.bin": 3 * MiB + 1234, "one.bin": 24 * MiB, "two.bin": 24 * MiB}

    def warnings(self, log: str, cache: str) -> list[str]:
        return [line for line in log.splitlines()
                if cache in line and re.search(r"warn|error", line, re.IGNORECASE)]

    def test_read_only_directory_reads_still_work(self):
        cache = self.new_cache_dir()
        os.makedirs(cache)
        # Filled by one mount first, so the read-only mounts meet a real cache.
        first = self.start_mount([self.server.url("small.bin")], cache)
        self.assert_sha(first, "small.bin")
        self.wait_disk_cached(first, "small.bin", self.SIZES["small.bin"])
        self.stop_mount(first)
        try:
            run_command(["mount", "--bind", cache, cache])
        except OSError as e:
            self.skipTest(f"cannot bind-mount the cache directory ({e})")
        self.addCleanup(run_command, ["umount", cache])
        operands = [self.server.url(n) for n in ("small.bin", "one.bin", "two.bin")]

        # (Turning it read-only under a running mount is not possible here: the kernel refuses
        # a read-only remount while the index is open for writing, "mount point is busy".)
        run_command(["mount", "-o", "remount,bind,ro", cache])
        with self.assertRaises(OSError):  # root too: the mount is read-only
            open(os.path.join(cache, "probe"), "w").close()
        mount = self.start_mount(operands, cache)
        self.assert_sha(mount, "small.bin")
        self.assert_sha(mount, "two.bin")
        counters = self.metrics(mount)
        log = self.stop_mount(mount)
        lines = self.warnings(log, cache)
        self.assertEqual(len(lines), 1, f"expected one warning about the read-only directory:\n"
                                        f"{log}")
        if not READ_ONLY_RE.search(lines[0]):
            _note("read-only at start: the warning does not say the directory is read-only")
        _note(f"read-only at start: {lines[0].strip()}; disk cache {counters or 'not opened'}")
        if counters is not None:
            self.assertEqual(counters["writes"], 0)

    def test_vanished_directory_reads_still_work(self):
        cache = self.new_cache_dir()
        operands = [self.server.url(n) for n in ("small.bin", "one.bin")]
        mount = self.start_mount(operands, cache)
        self.assert_sha(mount, "small.bin")
        self.wait_disk_cached(mount, "small.bin", self.SIZES["small.bin"])
        shutil.rmtree(cache)  # under the running mount: its blocks, index and tmp go
        self.assertFalse(os.path.exists(cache))
        self.assert_sha(mount, "one.bin")  # its blocks cannot be written
        fd = mount.call(os.open, mount.path("small.bin"), os.O_RDONLY)
        mount.call(os.posix_fadvise, fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
        self.assert_sha(mount, "small.bin")
        counters = self.metrics(mount)
        log = self.stop_mount(mount)
        lines = self.warnings(log, cache)
        self.assertEqual(len(lines), 1, f"expected one warning about the vanished directory:\n"
                                        f"{log}")
        _note(f"vanished: {lines[0].strip()}; disk cache {counters}")
        self.assertGreater(counters["errors"] + counters["dropped"], 0)

    def test_deleted_subdirectories_are_made_again(self):
        cache = self.new_cache_dir()
        mount = self.start_mount([self.server.url(n) for n in ("small.bin", "one.bin")], cache)
        self.assert_sha(mount, "small.bin")
        self.wait_disk_cached(mount, "small.bin", self.SIZES["small.bin"])
        for sub in ("tmp", "blocks"):  # under the running mount: its blocks go too
            shutil.rmtree(os.path.join(cache, sub))
        self.assert_sha(mount, "one.bin")
        size = self.SIZES["one.bin"]
        on_disk = self.wait_disk_cached(mount, "one.bin", size)
        counters = self.metrics(mount)
        log = self.stop_mount(mount)
        self.assertEqual(on_disk, size, f"one.bin not kept after tmp/ and blocks/ were deleted: "
                                        f"{counters}\n{log}")
        self.assertEqual(self.warnings(log, cache), [], "writing paused")
        self.assertEqual(counters["errors"], 0, counters)
        self.assertTrue(os.path.isdir(os.path.join(cache, "tmp")))
        made = [line for line in log.splitlines() if "made its missing directories again" in line]
        self.assertGreaterEqual(len(made), 1, log)
        _note(f"deleted tmp/ and blocks/: {made[0].strip()}; disk cache {counters}")


if __name__ == "__main__":
    unittest.main()
