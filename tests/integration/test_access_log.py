"""What goes over the wire: nginx's access log after real reads through the mount.

rangefs reads through a block cache: every request is for whole blocks (`--block-size`), a
sequential reader is served by readahead requests of several blocks, random reads fetch the
blocks they touch, and the kernel keeps its page cache across opens. These tests pin that
down from the server's side.

Each test gets a fresh nginx and a fresh mount (so neither rangefs's cache nor the kernel's
page cache is shared between tests), does its reads, unmounts, stops nginx gracefully (which
guarantees every request has been logged) and only then inspects the log. Tests that depend
on the block size pass it explicitly, so the default may change without breaking them.
"""

import os
import sys
import unittest

import harness
from harness import KiB, MiB

BLOCK = 256 * KiB
# These tests pin down which blocks the read path fetches, so the first open's head-and-tail
# fetch is off; test_open_prefetch covers it.
MOUNT_ARGS = ["--block-size", "256K", "--cache-size", "256M", "--no-open-prefetch"]

BIG_SIZE = 64 * MiB
MID_SIZE = 16 * MiB + 4321
ODD_SIZE = 300_007           # one full 256 KiB block and a 37,863-byte tail block


class AccessLogTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_environment("sha256sum")
        data = harness.TempDir("rangefs-log-data-")
        cls.addClassCleanup(data.cleanup)
        cls.data = data.path
        cls.shas = {
            "big.bin": harness.write_random_file(os.path.join(cls.data, "big.bin"), BIG_SIZE),
            "mid.bin": harness.write_random_file(os.path.join(cls.data, "mid.bin"), MID_SIZE),
            "odd.bin": harness.write_random_file(os.path.join(cls.data, "odd.bin"), ODD_SIZE),
        }
        open(os.path.join(cls.data, "empty.bin"), "wb").close()
        cls.names = ["big.bin", "mid.bin", "odd.bin", "empty.bin"]
        cls.sizes = {n: os.path.getsize(os.path.join(cls.data, n)) for n in cls.names}

    def setUp(self):
        self.server = harness.LoopbackNginx(self.data)
        self.server.start()
        self.addCleanup(self.server.cleanup)
        self.mount = None

    def start_mount(self, args=MOUNT_ARGS):
        self.mount = harness.Mount([self.server.url(n) for n in self.names], args)
        self.addCleanup(self.mount.cleanup)
        self.mount.start()
        return self.mount

    # ------------------------------------------------------------------------- helpers
    def local(self, name, length, offset):
        with open(os.path.join(self.data, name), "rb") as f:
            f.seek(offset)
            return f.read(length)

    def pread(self, name, length, offset):
        return self.mount.call(harness.pread_file, self.mount.path(name), length, offset,
                               timeout=60)

    def sha256_via_mount(self, name):
        result = self.mount.run(["sha256sum", name], cwd=self.mount.path(), timeout=180)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.decode().split()[0], self.shas[name],
                         f"{name} read through the mount differs from the served file")

    def finish(self):
        """Unmount, stop nginx (flushes the log), return (entries, GETs by uri)."""
        result = self.mount.fusermount_unmount()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIsNotNone(self.mount.wait_exit(15), "rangefs did not exit after unmount")
        self.server.stop()
        entries = self.server.access_log_entries()
        return entries, harness.gets_by_uri(entries)

    @staticmethod
    def uri(name):
        return "/" + name

    def assert_block_gets(self, entries, block=BLOCK):
        harness.check_block_gets(self, entries, {self.uri(n): s for n, s in self.sizes.items()},
                                 block)

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

    # --------------------------------------------------------------------------- tests
    def test_sequential_read_fetches_every_block_once_in_few_requests(self):
        self.start_mount()
        self.sha256_via_mount("big.bin")
        entries, gets = self.finish()
        self.assert_heads_first(entries)
        self.assert_block_gets(entries)
        self.assertEqual(set(gets), {self.uri("big.bin")}, "GETs for files that were never read")
        big = gets[self.uri("big.bin")]
        # No byte twice (the ranges do not overlap), no gap, the whole file exactly once.
        harness.assert_each_byte_fetched_once(self, big, BIG_SIZE, "big.bin")
        blocks = BIG_SIZE // BLOCK
        print(f"\n  sequential read of {BIG_SIZE // MiB} MiB: {len(big)} GETs for {blocks} "
              f"blocks of {BLOCK // KiB} KiB; largest GET "
              f"{max(e['body_bytes_sent'] for e in big) // KiB} KiB", file=sys.stderr)
        self.assertLessEqual(len(big), blocks // 4,
                             f"{len(big)} requests for a sequential read of {blocks} blocks")
        # That bound alone would also hold without readahead (one request per 1 MiB kernel
        # read is exactly blocks / 4). Readahead shows in request sizes: most of the file
        # must arrive in GETs longer than any one kernel read could ask for.
        longest = harness.longest_demand_request(BLOCK)
        in_long = sum(e["body_bytes_sent"] for e in big if e["body_bytes_sent"] > longest)
        print(f"  {in_long // MiB} MiB of {BIG_SIZE // MiB} MiB arrived in GETs longer than "
              f"{longest // KiB} KiB", file=sys.stderr)
        self.assertGreaterEqual(in_long, BIG_SIZE // 2,
                                "readahead did not batch the sequential read into requests "
                                "longer than the kernel's reads")

    def read_mid_three_times(self, cache_size):
        """Reads mid.bin through the mount, then twice more through new opens; returns the
        GETs of the first read and of all three (checking the bytes and the block shape)."""
        self.start_mount(["--block-size", "256K", "--cache-size", cache_size,
                          "--no-open-prefetch"])
        self.sha256_via_mount("mid.bin")
        # Every block has been delivered; wait until nginx has logged all of them.
        uri = self.uri("mid.bin")
        self.server.wait_for_access_log(
            lambda es: sum(e["body_bytes_sent"] for e in harness.gets_by_uri(es).get(uri, []))
            >= MID_SIZE, timeout=15)
        # A block fetched twice would reach that sum with a GET still unlogged: count once the
        # log has been quiet a while, and say so if the first read fetched a byte twice.
        first = harness.gets_by_uri(self.server.quiet_access_log_entries(quiet=0.5))[uri]
        harness.assert_each_byte_fetched_once(self, first, MID_SIZE, "mid.bin, first read")
        # One descriptor stays open meanwhile so the kernel cannot evict the idle inode (and its
        # pages) between opens; each new open still decides, through keep_cache, whether the
        # pages survive it.
        holder = os.open(self.mount.path("mid.bin"), os.O_RDONLY)
        try:
            self.sha256_via_mount("mid.bin")
            whole = self.mount.call(harness.read_whole, self.mount.path("mid.bin"), timeout=60)
        finally:
            os.close(holder)
        self.assertEqual(whole, self.local("mid.bin", MID_SIZE, 0))
        entries, gets = self.finish()
        self.assert_block_gets(entries)
        self.assertEqual(set(gets), {uri}, "GETs for files that were never read")
        print(f"\n  mid.bin, --cache-size {cache_size}: {len(first)} GETs for the first read, "
              f"{len(gets[uri]) - len(first)} for the second and third", file=sys.stderr)
        return first, gets[uri]

    def test_second_full_read_makes_no_request(self):
        # The block cache holds the 16 MiB file: later reads cost nothing, whatever the kernel
        # keeps of its page cache.
        first, every = self.read_mid_three_times("256M")
        self.assertEqual(len(every), len(first),
                         f"a second full read made {len(every) - len(first)} new GETs: "
                         f"{every[len(first):][:5]}")
        harness.assert_each_byte_fetched_once(self, every, MID_SIZE, "mid.bin")

    def test_page_cache_is_kept_across_opens(self):
        # A 4 MiB block cache cannot hold the 16 MiB file: what later reads do not fetch again,
        # the kernel's page cache served, kept across opens by keep_cache. Without it every
        # new open drops the pages and each read fetches at least the 48 blocks the block
        # cache lacks. Not zero: this machine's kernel reclaims page cache all the time, even
        # with 22 GiB free (/proc/meminfo's Cached shrank by 320 MB in 40 s), and fresh-clone
        # CI runs saw 1 and 17 blocks fetched again.
        first, every = self.read_mid_three_times("4M")
        blocks = MID_SIZE // BLOCK
        self.assertLess(len(every) - len(first), blocks // 2,
                        f"the second and third reads made {len(every) - len(first)} new GETs "
                        f"for {blocks} blocks: the page cache was not kept across opens")

    def test_small_uncached_pread_fetches_only_its_block(self):
        self.start_mount()
        # POSIX_FADV_RANDOM stops the kernel's readahead, so the filesystem sees just the
        # page the read touches. Even a kernel that still read ahead would stay inside the
        # same block: both offsets are chosen so that the read plus the 128 KiB after it lie
        # in one 256 KiB block. So exactly one block each, nothing else.
        mid_offset = 40 * BLOCK + 7          # block 40 of mid.bin
        odd_offset = 290_000                 # the tail block of odd.bin (block 1)
        self.assertLessEqual(mid_offset + 100 + 128 * KiB, 41 * BLOCK)
        for name, offset in (("mid.bin", mid_offset), ("odd.bin", odd_offset)):
            got = self.mount.call(harness.pread_no_readahead, self.mount.path(name), 100, offset,
                                  timeout=60)
            self.assertEqual(got, self.local(name, 100, offset), name)
        entries, gets = self.finish()
        self.assert_heads_first(entries)
        self.assert_block_gets(entries)
        fetched = {uri: [e["range"] for e in es] for uri, es in gets.items()}
        self.assertEqual(fetched, {
            self.uri("mid.bin"): [f"bytes={40 * BLOCK}-{41 * BLOCK - 1}"],
            self.uri("odd.bin"): [f"bytes={BLOCK}-{ODD_SIZE - 1}"],
        }, "a 100-byte read must fetch exactly the one block it touches")

    def test_reads_at_or_past_eof_make_no_request(self):
        self.start_mount()
        self.assertEqual(self.pread("odd.bin", 4096, ODD_SIZE), b"")
        self.assertEqual(self.pread("odd.bin", 1, ODD_SIZE + 12345), b"")
        self.assertEqual(self.pread("big.bin", 1, BIG_SIZE), b"")
        self.assertEqual(self.mount.call(harness.read_whole, self.mount.path("empty.bin")), b"")
        self.assertEqual(self.pread("empty.bin", 100, 0), b"")
        entries, gets = self.finish()
        self.assert_heads_first(entries)
        self.assert_block_gets(entries)
        self.assertEqual(gets, {}, "reads at or past EOF must not make requests")

    def test_read_spanning_eof_fetches_the_tail_block(self):
        self.start_mount()
        got = self.pread("odd.bin", 64 * KiB, ODD_SIZE - 1000)
        self.assertEqual(got, self.local("odd.bin", 1000, ODD_SIZE - 1000))
        entries, gets = self.finish()
        self.assert_block_gets(entries)  # includes: last <= size - 1, status 206
        # Whatever the kernel reads ahead lies in the tail block: one GET, ending at EOF.
        self.assertEqual([e["range"] for e in gets.get(self.uri("odd.bin"), [])],
                         [f"bytes={BLOCK}-{ODD_SIZE - 1}"])
        self.assertEqual(set(gets), {self.uri("odd.bin")})

    def test_block_size_option_is_honoured(self):
        # 96 KiB: a suffixed size that is not a power of two and does not divide 256 KiB, so
        # requests cut at the default size would not be aligned to it.
        block = 96 * KiB
        self.start_mount(["--block-size", "96K", "--cache-size", "64M"])
        self.sha256_via_mount("mid.bin")
        self.sha256_via_mount("odd.bin")
        entries, gets = self.finish()
        self.assert_heads_first(entries)
        self.assert_block_gets(entries, block)
        self.assertEqual(set(gets), {self.uri("mid.bin"), self.uri("odd.bin")})
        # Aligned to 96 KiB, every byte once, the last GET ending at EOF (a short tail block).
        for name in ("mid.bin", "odd.bin"):
            harness.assert_each_byte_fetched_once(self, gets[self.uri(name)], self.sizes[name],
                                                  name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
