"""The disk cache's directory changed under rangefs, end to end (real nginx, real mounts):
- deleted while mounted: reads go on from memory and the network, one warning says why nothing
  is written;
- its tmp/ and blocks/ deleted while mounted: made again at the next write, and writing goes on
  without a fault;
- read-only at start (a cache filled by rangefs warm, then mounted read-only): its blocks are
  served with no range request, nothing in it changes, one info line says so; warm refuses it.

Part of integration.test_disk_cache_directory (the helpers are disk_cache_base's).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import unittest

import harness

from harness import MiB

from disk_cache_base import BLOCK, READ_ONLY_RE, DiskCacheBase, _note, run_command


def directory_state(path: str) -> dict[str, tuple[int, int]]:
    """Every file under path: its size and mtime (ns)."""
    state = {}
    for root, _, names in os.walk(path):
        for name in names:
            st = os.stat(os.path.join(root, name))
            state[os.path.join(root, name)] = (st.st_size, st.st_mtime_ns)
    return state


class DiskCacheDirectoryTest(DiskCacheBase):
    SIZES = {"small.bin": 3 * MiB + 1234, "one.bin": 24 * MiB, "two.bin": 24 * MiB}

    def warnings(self, log: str, cache: str) -> list[str]:
        return [line for line in log.splitlines()
                if cache in line and re.search(r"warn|error", line, re.IGNORECASE)]

    def test_read_only_cache_filled_by_warm_serves_with_no_range_request(self):
        cache = self.new_cache_dir()
        warmed = ["small.bin", "one.bin"]
        warm = subprocess.run([harness.binary_path(), "warm", "--cache-dir", cache,
                               "--block-size", str(BLOCK),
                               *(self.server.url(n) for n in warmed)],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=120)
        self.assertEqual(warm.returncode, 0, warm.stderr)
        try:
            run_command(["mount", "--bind", cache, cache])
        except OSError as e:
            self.skipTest(f"cannot bind-mount the cache directory ({e})")
        self.addCleanup(run_command, ["umount", cache])
        # (Turning it read-only under a running mount is not possible here: the kernel refuses
        # a read-only remount while the index is open for writing, "mount point is busy".)
        run_command(["mount", "-o", "remount,bind,ro", cache])
        with self.assertRaises(OSError):  # root too: the mount is read-only
            open(os.path.join(cache, "probe"), "w").close()
        before = directory_state(cache)

        # warm cannot keep anything there, and says so.
        again = subprocess.run([harness.binary_path(), "warm", "--cache-dir", cache,
                                "--block-size", str(BLOCK), self.server.url("two.bin")],
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=60)
        self.assertEqual(again.returncode, 1, again.stderr)
        self.assertRegex(again.stderr, READ_ONLY_RE)
        self.quiet_log()
        self.server.clear_access_log()

        mount = self.start_mount([self.server.url(n) for n in [*warmed, "two.bin"]], cache)
        for name in warmed:
            self.assertEqual(self.disk_cached(mount, name), self.SIZES[name])
            self.assert_sha(mount, name)
        self.assert_sha(mount, "two.bin")  # not cached: from the network, and not kept
        self.assertEqual(self.disk_cached(mount, "two.bin"), 0)
        counters = self.metrics(mount)
        log = self.stop_mount(mount)
        entries = self.quiet_log()
        gets = [(e["method"], e["uri"]) for e in entries
                if e["method"] == "GET" and e["uri"] in {"/" + n for n in warmed}]
        self.assertEqual(gets, [], f"the warmed files were fetched again; disk cache "
                                   f"{counters}\n{log}")
        self.assertTrue(any(e["uri"] == "/two.bin" and e["method"] == "GET" for e in entries))
        self.assertEqual(self.warnings(log, cache), [])
        said = [line for line in log.splitlines()
                if f"disk cache in {cache} is read-only: serving its blocks, keeping no new ones"
                in line]
        self.assertEqual(len(said), 1, log)
        self.assertEqual(counters["writes"], 0, counters)
        self.assertEqual(counters["errors"], 0, counters)
        blocks = sum(-(-self.SIZES[n] // BLOCK) for n in warmed)
        self.assertGreaterEqual(counters["hits"], blocks, counters)
        self.assertEqual(directory_state(cache), before, "the read-only directory changed")
        _note(f"read-only, warmed: {said[0].strip()}; disk cache {counters}")

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
