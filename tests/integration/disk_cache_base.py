"""What the disk cache's integration tests share (test_disk_cache, test_disk_cache_directory):
the log patterns, helpers that look into a cache directory, and DiskCacheBase, whose tests get
a fresh nginx each, mount with a cache directory and a metrics endpoint, and unmount waiting for
the daemon to be gone (it writes what is still queued when it exits).
"""

from __future__ import annotations

import glob
import os
import re
import sqlite3
import subprocess
import sys
import time
import unittest
from typing import Optional

import harness
from harness import KiB, MiB

from test_metrics import WHERE_RE, scrape, value

BLOCK = 256 * KiB  # rangefs's default --block-size, also given explicitly below
XATTR = "user.rangefs.disk_cached_bytes"
DISK_METRICS = ("hits", "misses", "writes", "evictions", "errors", "dropped")

# What the log says about the disk cache, by subject (the wording is the implementation's;
# the tests count lines, so a message logged once per event must match exactly one pattern).
NO_SPACE_RE = re.compile(r"no space|ENOSPC|disk is full|disk full", re.IGNORECASE)
READ_ONLY_RE = re.compile(r"read-?only|EROFS", re.IGNORECASE)
CHECKSUM_RE = re.compile(r"checksum", re.IGNORECASE)
NOT_USED_RE = re.compile(r"(not used|without (a )?disk cache|disk cache (is )?off|"
                         r"not using|ignor)", re.IGNORECASE)


def _note(text: str) -> None:
    print(f"\n  {text}", file=sys.stderr)


def log_lines(text: str, pattern: re.Pattern) -> list[str]:
    return [line for line in text.splitlines() if pattern.search(line)]


def make_sqlite(path: str, rows: int = 20000) -> tuple[str, str]:
    """A database with an indexed text key over random-looking rows (~5 MB for 20000 rows).
    Returns (query, expected output of the sqlite3 command)."""
    con = sqlite3.connect(path)
    try:
        con.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, key TEXT NOT NULL, "
                    "body BLOB NOT NULL)")
        con.executemany("INSERT INTO items VALUES (?, ?, ?)",
                        ((i, f"{(i * 2654435761) % 2**32:08x}", os.urandom(200))
                         for i in range(rows)))
        con.execute("CREATE INDEX items_key ON items (key)")
        con.commit()
        wanted = rows * 2 // 3
        key = f"{(wanted * 2654435761) % 2**32:08x}"
        body = con.execute("SELECT body FROM items WHERE id = ?", (wanted,)).fetchone()[0]
    finally:
        con.close()
    return (f"SELECT id, hex(substr(body, 1, 8)) FROM items WHERE key = '{key}';",
            f"{wanted}|{body[:8].hex().upper()}")


def block_files(cache_dir: str) -> list[str]:
    return sorted(p for p in glob.glob(os.path.join(cache_dir, "blocks", "*", "*"))
                  if os.path.isfile(p))


def block_index_of(path: str) -> int:
    """The block index in a block file's name (<hash>-<index>)."""
    return int(os.path.basename(path).rsplit("-", 1)[1])


def run_command(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise OSError(f"{args}: exit {done.returncode}: {done.stderr.strip()}")


class DiskCacheBase(unittest.TestCase):
    SIZES: dict[str, int] = {}

    @classmethod
    def setUpClass(cls):
        harness.require_environment("sha256sum", "unzip", "sqlite3", "curl")
        cls.shas = harness.class_data_dir(cls, "rangefs-disk-cache-data-", cls.SIZES)

    def setUp(self):
        self.server = harness.LoopbackNginx(self.data)
        self.server.start()
        self.addCleanup(self.server.cleanup)

    # ------------------------------------------------------------------------- helpers
    def new_cache_dir(self) -> str:
        tmp = harness.TempDir("rangefs-disk-cache-")
        self.addCleanup(tmp.cleanup)
        return os.path.join(tmp.path, "cache")

    def start_mount(self, operands, cache_dir: str, args=()) -> harness.Mount:
        """A mount of the URLs (or NAME=URL operands) with this cache directory and a metrics
        endpoint (mount.where)."""
        mount = harness.Mount(list(operands),
                              ["--cache-dir", cache_dir, "--metrics", "127.0.0.1:0",
                               "--block-size", str(BLOCK), *args])
        self.addCleanup(mount.cleanup)
        started = time.monotonic()
        mount.start()
        mount.start_seconds = time.monotonic() - started  # until it shows in mountinfo
        found = harness.wait_until(lambda: WHERE_RE.search(mount.stderr()), 10)
        self.assertTrue(found, f"the metrics endpoint was not logged:\n{mount.stderr()}")
        mount.where = WHERE_RE.search(mount.stderr()).group(1)
        return mount

    def stop_mount(self, mount: harness.Mount) -> str:
        """Unmounts cleanly, waits until the daemon (its PID) is gone, checks it exited 0;
        returns what it logged."""
        result = mount.fusermount_unmount(timeout=30)
        self.assertEqual(result.returncode, 0, f"fusermount3 -u: {result.stderr}")
        status = mount.wait_exit(120)  # it writes what is still queued first
        self.assertIsNotNone(status, "rangefs did not exit within 120 s of the unmount")
        self.assertFalse(harness.pid_alive(mount.pid))
        log = mount.stderr()
        self.assertEqual(status, 0, f"rangefs exited with {status}:\n{log[-3000:]}")
        mount.cleanup()
        return log

    def sha256(self, mount: harness.Mount, name: str, timeout: float = 120) -> str:
        result = mount.run(["sha256sum", name], cwd=mount.path(), timeout=timeout)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout.decode().split()[0]

    def assert_sha(self, mount: harness.Mount, name: str, expected: str = None) -> None:
        self.assertEqual(self.sha256(mount, name), expected or self.shas[name],
                         f"{name}: wrong bytes through the mount")

    def disk_cached(self, mount: harness.Mount, name: str) -> int:
        return int(mount.call(os.getxattr, mount.path(name), XATTR).decode())

    def wait_disk_cached(self, mount: harness.Mount, name: str, size: int,
                         timeout: float = 60) -> int:
        """Waits (bounded) until the xattr says the whole file is on disk; returns the last
        value seen."""
        seen = [0]

        def whole():
            seen[0] = self.disk_cached(mount, name)
            return seen[0] >= size

        harness.wait_until(whole, timeout, interval=0.1)
        return seen[0]

    def paced_read(self, mount: harness.Mount, name: str, size: int,
                   chunk: int = 4 * MiB) -> str:
        """Reads the file front to back, chunk by chunk, waiting after each until the disk
        cache holds everything read so far; returns the sha256. With --readahead-max 4M (16
        blocks) the writer's queue (32 blocks) never overflows, so nothing is dropped: the
        whole file ends up on disk whatever the writer's queue holds."""
        import hashlib
        digest = hashlib.sha256()
        fd = mount.call(os.open, mount.path(name), os.O_RDONLY)
        try:
            position = 0
            while position < size:
                data = mount.call(os.pread, fd, chunk, position)
                self.assertTrue(data, f"{name}: EOF at {position} of {size}")
                digest.update(data)
                position += len(data)
                stored = self.wait_disk_cached(mount, name, position, timeout=30)
                self.assertGreaterEqual(stored, position, f"{name}: the writer fell behind "
                                                          f"at {position}: {self.metrics(mount)}")
        finally:
            os.close(fd)
        return digest.hexdigest()

    def metrics(self, mount: harness.Mount) -> Optional[dict[str, float]]:
        """The disk cache's counters; None when the mount has no disk cache (it could not
        open the directory)."""
        families = scrape(mount.where)
        if "rangefs_disk_cache_hits_total" not in families:
            return None
        out = {m: value(families, f"rangefs_disk_cache_{m}_total") for m in DISK_METRICS}
        out["used_bytes"] = value(families, "rangefs_disk_cache_used_bytes")
        return out

    def quiet_log(self) -> list[dict]:
        return self.server.quiet_access_log_entries(quiet=0.5, bound=15)

    def range_gets(self, entries, name: str) -> list[dict]:
        return [e for e in entries if e["uri"] == "/" + name and e["method"] == "GET"]
