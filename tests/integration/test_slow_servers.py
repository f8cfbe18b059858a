"""Servers that are slow rather than broken: every read returns, with the right bytes or EIO,
within --timeout plus 2 s, whatever the server does.

What rangefs promises (and these tests hold it to):

- A response must average at least --min-rate bytes a second (default 1K) over every
  --stall-timeout; one that trickles slower is cut off and retried from its first missing
  byte like a stall, so a server sending a few bytes a second no longer holds a read until
  the request's whole timeout.
- A read waits at most --timeout + 2 s for its bytes (the fetch's own deadline normally ends
  it first), and a block whose load just failed fails the same handle's next read of it at
  once for a second: the kernel answers a failed readahead by reading the page again at once,
  which used to wait out a second --timeout (a `cat` of a trickling file took 2 x --timeout).
- Headers that trickle, a head that never ends, a TLS handshake that never finishes, a HEAD
  that trickles at lookup: all end within the same bounds.

The faults come from scripts/lib/range_test_server.py (trickle=RATE, trickle_headers=RATE,
endless_headers=1, times=K); harness.SilentListener accepts connections and never answers.
Every filesystem access goes through Mount.call, so a hang fails the test instead of hanging
it. Slow (each failing read waits out TIMEOUT): ctest label `slow`.
"""

from __future__ import annotations

import errno
import hashlib
import os
import unittest
from typing import Optional

import harness
from harness import KiB, MiB

from range_test_server import RangeTestServer  # scripts/lib, on sys.path via harness

SIZE = 2 * MiB + 4321
TIMEOUT = 6                   # --timeout
STALL_TIMEOUT = 2             # --stall-timeout: also the window --min-rate is averaged over
PROMISED_SLACK = 2.0          # what rangefs promises beyond --timeout
SCHEDULING = 1.5              # process start, Python, a loaded CI machine
READ_BOUND = TIMEOUT + PROMISED_SLACK + SCHEDULING
CALL_BOUND = 120.0            # Mount.call kills the daemon after this: a hang
BASE_ARGS = ["--timeout", str(TIMEOUT), "--stall-timeout", str(STALL_TIMEOUT),
             "--block-size", "256K"]


def _cat(path: str) -> bytes:
    """What `cat` does: read() in a loop through the kernel's page cache and readahead."""
    with open(path, "rb") as f:
        return f.read()


def _stat_size(path: str) -> int:
    return os.stat(path).st_size


class SlowServersTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        data = harness.TempDir("rangefs-slow-data-")
        cls.addClassCleanup(data.cleanup)
        cls.data = data.path
        path = os.path.join(cls.data, "data.bin")
        harness.write_random_file(path, SIZE)
        with open(path, "rb") as f:
            cls.content = f.read()

    def setUp(self):
        self.server = RangeTestServer(self.data)
        self.server.start()
        self.addCleanup(self.server.cleanup)

    def mount(self, operands: list[str], args: Optional[list[str]] = None) -> harness.Mount:
        mount = harness.Mount(operands, BASE_ARGS + (args or []))
        self.addCleanup(mount.cleanup)
        mount.start()
        return mount

    def url_file_mount(self, entries: dict[str, str],
                       args: Optional[list[str]] = None) -> harness.Mount:
        """A mount of `entries` (name -> URL) from a URL file: not probed at mount, so the
        first lookup makes the probe."""
        directory = harness.TempDir("rangefs-slow-urls-")
        self.addCleanup(directory.cleanup)
        path = os.path.join(directory.path, "urls")
        with open(path, "w") as f:
            for name, url in entries.items():
                f.write(f"{name}={url}\n")
        return self.mount([], ["--url-file", path] + (args or []))

    def tail(self, mount: harness.Mount) -> str:
        return f"\nrangefs stderr tail:\n{mount.stderr()[-3000:]}"

    def assert_eio_within(self, result, took: float, mount: harness.Mount, what: str,
                          bound: float = READ_BOUND) -> None:
        if not isinstance(result, OSError):
            self.fail(f"{what}: returned {len(result)} bytes instead of failing{self.tail(mount)}")
        self.assertEqual(result.errno, errno.EIO, f"{what}: {result}{self.tail(mount)}")
        self.assertLess(took, bound, f"{what}: EIO after {took:.1f}s; promised within "
                                     f"{TIMEOUT}s + {PROMISED_SLACK}s{self.tail(mount)}")

    def assert_correct(self, result, took: float, mount: harness.Mount, what: str,
                       bound: float = READ_BOUND) -> None:
        self.assertNotIsInstance(result, OSError, f"{what}: {result} after {took:.1f}s"
                                                  f"{self.tail(mount)}")
        self.assertEqual(len(result), len(self.content), what)
        self.assertEqual(hashlib.sha256(result).hexdigest(),
                         hashlib.sha256(self.content).hexdigest(), f"{what}: WRONG BYTES")
        self.assertLess(took, bound, f"{what}: took {took:.1f}s")

    def assert_still_serving(self, mount: harness.Mount) -> None:
        """The daemon lives on and reads a healthy URL of the same server right."""
        self.assertTrue(mount.alive(), f"rangefs died{self.tail(mount)}")
        result = mount.call(_stat_size, mount.path("healthy.bin"), timeout=CALL_BOUND)
        self.assertEqual(result, SIZE)
        data, took = mount.call(harness.timed, _cat, mount.path("healthy.bin"), timeout=CALL_BOUND)
        self.assert_correct(data, took, mount, "a healthy file afterwards")

    def two_files(self, **options) -> list[str]:
        return [f"data.bin={self.server.url('data.bin', **options)}",
                f"healthy.bin={self.server.url('data.bin')}"]

    # ------------------------------------------------------------------- trickled bodies
    def test_cat_of_a_trickling_file_fails_within_the_timeout(self):
        # 64 bytes a second: never silent for a whole --stall-timeout, far under --min-rate.
        mount = self.mount(self.two_files(trickle=64))
        result, took = mount.call(harness.timed, _cat, mount.path("data.bin"), timeout=CALL_BOUND)
        self.assert_eio_within(result, took, mount, "cat of a trickling file")
        self.assertIn("too slow", mount.stderr(), "the log does not say why" + self.tail(mount))
        self.assert_still_serving(mount)

    def test_one_uncached_read_of_a_trickling_file_fails_within_the_timeout(self):
        mount = self.mount(self.two_files(trickle=64), ["--no-open-prefetch"])
        result, took = mount.call(harness.timed, harness.pread_no_readahead, mount.path("data.bin"),
                                  4 * KiB, 1 * MiB, timeout=CALL_BOUND)
        self.assert_eio_within(result, took, mount, "a 4 KiB pread of a trickling file")

    def test_a_trickle_that_passes_is_resumed_and_the_bytes_are_right(self):
        # The first GETs trickle and are cut off after one window; their retries ask only for
        # the bytes still missing, and the server answers them at full speed.
        mount = self.mount([f"data.bin={self.server.url('data.bin', trickle=64, times=2)}"],
                           ["--no-open-prefetch"])
        result, took = mount.call(harness.timed, _cat, mount.path("data.bin"), timeout=CALL_BOUND)
        self.assert_correct(result, took, mount, "cat after two trickled answers")
        trickled = [e for e in self.server.requests() if e["fault"] == "trickle"]
        self.assertTrue(trickled, "no GET was trickled")
        for e in trickled:
            self.assertTrue(e["aborted"], "rangefs waited a trickle out")

    def test_a_slow_but_steady_server_is_read_in_full(self):
        # 64 KiB a second per response is slow, but above --min-rate: nothing is cut off.
        small = 512 * KiB
        mount = self.mount([f"data.bin={self.server.url('data.bin', trickle=65536)}"],
                           ["--no-open-prefetch", "--timeout", "30"])
        result, took = mount.call(harness.timed, harness.pread_file, mount.path("data.bin"), small, 0,
                                  timeout=CALL_BOUND)
        self.assertNotIsInstance(result, OSError, f"{result}{self.tail(mount)}")
        self.assertEqual(result, self.content[:small], "WRONG BYTES")
        self.assertNotIn("too slow", mount.stderr(), self.tail(mount))
        self.assertNotIn("stalled", mount.stderr(), self.tail(mount))

    # ------------------------------------------------------------------ trickled heads
    def test_headers_that_trickle_end_the_read_within_the_timeout(self):
        mount = self.mount(self.two_files(trickle_headers=16))
        result, took = mount.call(harness.timed, _cat, mount.path("data.bin"), timeout=CALL_BOUND)
        self.assert_eio_within(result, took, mount, "cat while the GETs' headers trickle")
        self.assert_still_serving(mount)

    def test_a_head_that_never_ends_fails_the_read_within_the_timeout(self):
        mount = self.mount(self.two_files(endless_headers=1))
        result, took = mount.call(harness.timed, _cat, mount.path("data.bin"), timeout=CALL_BOUND)
        self.assert_eio_within(result, took, mount, "cat while the GETs' heads never end")
        self.assert_still_serving(mount)

    def test_a_trickled_head_at_lookup_ends_within_the_timeout(self):
        mount = self.url_file_mount({
            "data.bin": self.server.url("data.bin", trickle_headers=16, head=1),
            "healthy.bin": self.server.url("data.bin")})
        result, took = mount.call(harness.timed, _stat_size, mount.path("data.bin"), timeout=CALL_BOUND)
        self.assertIsInstance(result, OSError, f"stat returned {result}{self.tail(mount)}")
        self.assertLess(took, READ_BOUND, f"stat failed after {took:.1f}s{self.tail(mount)}")
        self.assert_still_serving(mount)

    def test_a_tls_handshake_that_never_finishes_ends_within_the_connect_timeout(self):
        with harness.SilentListener() as silent:
            url = f"https://127.0.0.1:{silent.port}/data.bin"
            mount = self.url_file_mount({"data.bin": url,
                                         "healthy.bin": self.server.url("data.bin")},
                                        # Without retries (a lookup's probe is retried
                                        # within --timeout), so that the handshake's own bound
                                        # is what ends the stat.
                                        ["--connect-timeout", "2", "--retries", "0"])
            result, took = mount.call(harness.timed, _stat_size, mount.path("data.bin"),
                                      timeout=CALL_BOUND)
            self.assertIsInstance(result, OSError, f"stat returned {result}{self.tail(mount)}")
            self.assertLess(took, 2 + PROMISED_SLACK + SCHEDULING,
                            f"stat failed after {took:.1f}s{self.tail(mount)}")
            self.assert_still_serving(mount)


if __name__ == "__main__":
    unittest.main()
