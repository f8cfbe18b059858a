"""`rangefs warm`: filling the disk cache from a real nginx, seen from nginx's access log.

Each test gets a fresh nginx and a fresh cache directory. A warm fetches every block of a
file once; a second warm of the same file fetches nothing; a warm interrupted with SIGINT
keeps what it stored, and the next one fetches only the rest. Progress is plain lines when
stderr is not a terminal, one line redrawn in place when it is. A URL that fails costs one
line naming it (credentials redacted) and exit status 1.

(That a mount then reads warmed files without range requests is test_disk_cache's.)
"""

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
import unittest

import harness
from harness import KiB, MiB

BLOCK = 256 * KiB
SMALL_SIZE = 5 * MiB + 12_345          # 21 blocks, the last one short
BIG_SIZE = 256 * MiB                   # 16 requests of 16 MiB with --connections 1
MAX_REQUEST = 16 * MiB                 # the mount's largest request, which warm uses too

# Progress lines when stderr is not a terminal.
PLAIN_PROGRESS = re.compile(
    r"^warm: (\S+) \d+(\.\d)? (B|KiB|MiB|GiB) / \d+(\.\d)? (B|KiB|MiB|GiB) \(\d+ %\), "
    r"\d+(\.\d)? (B|KiB|MiB|GiB)/s, (ETA (--|\d+ s|\d+ min \d\d s)|done)$", re.M)


class WarmTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.binary = harness.binary_path()
        data = harness.TempDir("rangefs-warm-data-")
        cls.addClassCleanup(data.cleanup)
        cls.data = data.path
        harness.write_random_file(os.path.join(cls.data, "small.bin"), SMALL_SIZE)
        harness.write_random_file(os.path.join(cls.data, "big.bin"), BIG_SIZE)

    def setUp(self):
        self.server = harness.LoopbackNginx(self.data)
        self.server.start()
        self.addCleanup(self.server.cleanup)
        cache = harness.TempDir("rangefs-warm-cache-")
        self.addCleanup(cache.cleanup)
        self.cache_dir = os.path.join(cache.path, "cache")

    # ------------------------------------------------------------------------- helpers
    def command(self, *args):
        return [self.binary, "warm", "--cache-dir", self.cache_dir, "--block-size", "256K",
                *args]

    def warm(self, *args, timeout=120):
        result = subprocess.run(self.command(*args), stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=timeout)
        return result

    def log_entries(self):
        """Every request nginx finished, once its log has been quiet for a moment."""
        return self.server.quiet_access_log_entries()

    def range_gets(self, entries, name):
        return [e for e in entries if e["method"] == "GET" and e["uri"] == "/" + name]

    def assert_plain(self, output):
        self.assertNotIn("\r", output, "a terminal's redraw in output that is not a terminal")
        self.assertNotIn("\x1b", output, "escape sequences in output that is not a terminal")

    # --------------------------------------------------------------------------- tests
    def test_warm_fetches_each_byte_once_and_a_second_warm_nothing(self):
        first = self.warm(self.server.url("small.bin"))
        self.assertEqual(first.returncode, 0, first.stderr)
        entries = self.log_entries()
        gets = self.range_gets(entries, "small.bin")
        self.assertTrue(gets, f"no GET of small.bin in the log: {entries}")
        harness.check_block_gets(self, entries, {"/small.bin": SMALL_SIZE}, BLOCK, MAX_REQUEST)
        harness.assert_each_byte_fetched_once(self, gets, SMALL_SIZE, "small.bin")
        self.assert_plain(first.stderr)
        self.assertRegex(first.stderr, r"warm: small\.bin 5\.0 MiB cached: 5\.0 MiB fetched in ")
        self.assertIn("warm: 1 file cached (5.0 MiB fetched, 0 B already cached)", first.stderr)
        self.assertEqual(first.stdout, "")

        self.server.clear_access_log()
        second = self.warm(self.server.url("small.bin"))
        self.assertEqual(second.returncode, 0, second.stderr)
        entries = self.log_entries()
        self.assertEqual(self.range_gets(entries, "small.bin"), [],
                         "the second warm fetched blocks the first had cached")
        self.assertEqual([e["method"] for e in entries], ["HEAD"],
                         "the second warm should only probe the file's version")
        self.assertIn("warm: small.bin 5.0 MiB, already cached", second.stderr)
        self.assertIn("warm: 1 file, all already cached; nothing fetched", second.stderr)

    def test_interrupted_warm_keeps_what_it_stored_and_the_next_fetches_only_the_rest(self):
        url = self.server.url("big.bin")
        process = subprocess.Popen(
            self.command("--connections", "1", "--progress-interval", "0.05", url),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: process.poll() is None and process.kill())
        try:
            # A few requests answered, then nginx frozen with the next one in flight, so the
            # signal lands in the middle of the file whatever the speed of this machine.
            self.server.wait_for_access_log(
                lambda entries: len(self.range_gets(entries, "big.bin")) >= 2, timeout=60)
            self.server.pause()
            time.sleep(0.3)  # the next request reaches the frozen nginx
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=20)
        finally:
            self.server.resume()
        self.assertEqual(process.returncode, 130, stderr)
        self.assert_plain(stderr)
        self.assertIn("interrupted by SIGINT", stderr)
        progress = PLAIN_PROGRESS.findall(stderr)
        self.assertTrue(progress, f"no plain progress line in:\n{stderr}")
        self.assertTrue(all(name == "big.bin" for name, *_ in progress), stderr)

        entries = self.log_entries()
        first_gets = self.range_gets(entries, "big.bin")
        # Requests answered in full before the signal: their blocks are in the cache.
        complete = sorted(harness.parse_range(e) for e in first_gets
                          if e["status"] == 206 and e["body_bytes_sent"] == harness.range_bytes(e))
        complete_bytes = sum(last - first + 1 for first, last in complete)
        self.assertGreater(complete_bytes, 0, first_gets)
        self.assertLess(complete_bytes, BIG_SIZE, "the first warm was not interrupted")

        self.server.clear_access_log()
        second = self.warm(url)
        self.assertEqual(second.returncode, 0, second.stderr)
        second_gets = self.range_gets(self.log_entries(), "big.bin")
        fetched = sum(e["body_bytes_sent"] for e in second_gets)
        self.assertEqual(fetched, BIG_SIZE - complete_bytes,
                         "the second warm should fetch exactly what the first had not stored")
        for e in second_gets:
            first, last = harness.parse_range(e)
            for done_first, done_last in complete:
                self.assertFalse(first <= done_last and done_first <= last,
                                 f"{e['range']} fetched again: {done_first}-{done_last} was "
                                 f"stored by the interrupted warm")
        # Together they cover the file.
        harness.assert_each_byte_fetched_once(
            self, second_gets + [e for e in first_gets if harness.parse_range(e) in complete],
            BIG_SIZE, "big.bin over both warms")
        self.assertRegex(second.stderr, r"already there")
        print(f"\n  interrupted after {complete_bytes // MiB} MiB of {BIG_SIZE // MiB} MiB stored; "
              f"the next warm fetched {fetched // MiB} MiB in {len(second_gets)} GETs",
              file=sys.stderr)

    def test_a_url_that_fails_costs_one_line_naming_it_and_status_1(self):
        good = self.server.url("small.bin")
        missing = self.server.url("missing.bin").replace("http://",
                                                         "http://alice:s3cret@")
        result = self.warm(missing, good)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertNotIn("s3cret", result.stderr + result.stdout)
        failures = [line for line in result.stderr.splitlines() if "missing.bin" in line]
        self.assertEqual(len(failures), 1, result.stderr)
        self.assertIn("alice:***@127.0.0.1", failures[0])
        self.assertIn("404", failures[0])
        self.assertTrue(failures[0].startswith("rangefs warm: http://"), failures[0])
        # The other file was warmed all the same.
        self.assertIn("warm: small.bin 5.0 MiB cached", result.stderr)
        self.assertIn("1 file failed", result.stderr)
        again = self.warm(good)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("already cached", again.stderr)

    def test_usage_errors_exit_2(self):
        url = self.server.url("small.bin")
        for args in (["warm", url],                                 # no --cache-dir
                     ["warm", "--cache-dir", self.cache_dir],        # no URL
                     ["warm", "--cache-dir", self.cache_dir, "--block-size", "1K", url],
                     ["warm", "--cache-dir", self.cache_dir, "--disk-cache-min-free", "120%",
                      url],
                     ["warm", "--cache-dir", self.cache_dir, "--no-such-option", url]):
            result = subprocess.run([self.binary, *args], stdin=subprocess.DEVNULL,
                                    capture_output=True, text=True, timeout=30)
            self.assertEqual(result.returncode, 2, f"{args}: {result.stderr}")
            self.assertTrue(result.stderr.strip(), f"{args}: no message")
        self.assertEqual(self.range_gets(self.log_entries(), "small.bin"), [])

    def test_on_a_terminal_one_line_is_redrawn_in_place(self):
        primary, secondary = pty.openpty()
        try:
            process = subprocess.Popen(self.command(self.server.url("small.bin")),
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=secondary)
        finally:
            os.close(secondary)
        output = b""
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([primary], [], [], 1)
                if not ready:
                    continue
                try:
                    chunk = os.read(primary, 65536)
                except OSError:  # EIO: the terminal's last writer is gone
                    break
                if not chunk:
                    break
                output += chunk
            self.assertEqual(process.wait(timeout=30), 0, output)
        finally:
            os.close(primary)
            if process.poll() is None:
                process.kill()
        text = output.decode(errors="replace")
        self.assertIn("warm: small.bin 5.0 MiB cached", text)
        self.assertIn("warm: 1 file cached", text)
        # The bar, drawn when the file starts (and redrawn 4 times a second after), over
        # which the file's last line is written.
        self.assertRegex(text, r"\rsmall\.bin \[[#-]{10,}\] \d+(\.\d)? (B|KiB|MiB) / 5\.0 MiB ")
        self.assertIn("\r\x1b[Kwarm: small.bin 5.0 MiB cached", text)
        # Plain progress lines are for logs and pipes, not for a terminal.
        self.assertIsNone(PLAIN_PROGRESS.search(text.replace("\r\n", "\n")), text)


if __name__ == "__main__":
    unittest.main()
