"""Failure paths and lifecycle: probe failures, usage errors, a server that goes away or
hangs, signals, fusermount3, daemon mode."""

import errno
import os
import signal
import subprocess
import time
import unittest

import harness
from harness import MiB

FILE_SIZE = 32 * MiB
PROBE_BOUND = 30.0       # seconds a failing probe may take (connect timeout is 15 s)
USAGE_BOUND = 10.0       # usage errors need no network at all


def _timed_pread(path, length, offset):
    """(result or OSError, seconds taken)."""
    start = time.monotonic()
    try:
        result = harness.pread_file(path, length, offset)
    except OSError as e:
        result = e
    return result, time.monotonic() - start


class ErrorsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.binary = harness.require_environment()
        data = harness.TempDir("rangefs-err-data-")
        cls.addClassCleanup(data.cleanup)
        cls.data = data.path
        harness.write_random_file(os.path.join(cls.data, "data.bin"), FILE_SIZE)
        harness.write_random_file(os.path.join(cls.data, "other.bin"), 10_000)
        os.mkdir(os.path.join(cls.data, "sub"))
        harness.write_random_file(os.path.join(cls.data, "sub", "data.bin"), 5_000)
        cls.server = harness.LoopbackNginx(cls.data)
        cls.server.start()
        cls.addClassCleanup(cls.server.cleanup)

    def local(self, length, offset):
        with open(os.path.join(self.data, "data.bin"), "rb") as f:
            f.seek(offset)
            return f.read(length)

    # ------------------------------------------------------------------ helper assertions
    def assert_failed(self, run, code, bound, culprits=()):
        self.assertFalse(run.timed_out, f"did not exit within {bound}s; stderr:\n{run.stderr}")
        self.assertFalse(run.mounted, f"it mounted although it should fail:\n{run.stderr}")
        self.assertEqual(run.returncode, code, f"stderr:\n{run.stderr}")
        self.assertLess(run.elapsed, bound)
        for culprit in culprits:
            self.assertIn(culprit, run.stderr)
        self.assertEqual(run.stray_pids, [], "a rangefs process outlived the failed run")

    def line_naming(self, stderr, text):
        lines = [line for line in stderr.splitlines() if text in line]
        self.assertTrue(lines, f"no stderr line names {text!r}:\n{stderr}")
        return lines[0]

    # ------------------------------------------------------------------- probe failures
    def test_404_exits_1_and_names_url(self):
        url = self.server.url("missing.bin")
        run = harness.run_expect_failure([url], timeout=PROBE_BOUND)
        self.assert_failed(run, 1, PROBE_BOUND, [url])
        self.assertIn("404", self.line_naming(run.stderr, url))

    def test_unresolvable_host_exits_1(self):
        url = "http://no-such-host.invalid/x.bin"
        run = harness.run_expect_failure([url], timeout=PROBE_BOUND)
        self.assert_failed(run, 1, PROBE_BOUND, [url])
        line = self.line_naming(run.stderr, url)
        self.assertRegex(line.lower(), r"resolv|host|name", "reason missing")

    def test_connection_refused_exits_1(self):
        port = harness.free_port()
        url = f"http://127.0.0.1:{port}/x.bin"
        run = harness.run_expect_failure([url], timeout=PROBE_BOUND)
        self.assert_failed(run, 1, PROBE_BOUND, [url])
        line = self.line_naming(run.stderr, url)
        self.assertRegex(line.lower(), r"refused|connect", "reason missing")

    def test_tls_error_exits_1(self):
        # https to a plain-HTTP port: the TLS handshake fails.
        url = f"https://127.0.0.1:{self.server.port}/data.bin"
        run = harness.run_expect_failure([url], timeout=PROBE_BOUND)
        self.assert_failed(run, 1, PROBE_BOUND, [url])
        line = self.line_naming(run.stderr, url)
        self.assertGreater(len(line.replace(url, "").strip(" :-")), 3, "reason missing")

    def test_connect_timeout_applies_to_probe(self):
        with harness.SilentListener(connect_hangs=True) as listener:
            url = listener.url("x.bin")
            run = harness.run_expect_failure(["--connect-timeout", "2", url], timeout=30)
        # Default is 15 s; 2 s plus slack proves the option is honoured.
        self.assert_failed(run, 1, 10, [url])

    def test_request_timeout_applies_to_probe(self):
        with harness.SilentListener(connect_hangs=False) as listener:
            url = listener.url("x.bin")
            run = harness.run_expect_failure(["--timeout", "2", url], timeout=30)
        self.assert_failed(run, 1, 10, [url])

    def test_every_failing_url_reported_and_nothing_mounted(self):
        good = self.server.url("data.bin")
        bad1 = self.server.url("missing-one.bin")
        bad2 = f"http://127.0.0.1:{harness.free_port()}/other.bin"
        run = harness.run_expect_failure([good, bad1, bad2], timeout=PROBE_BOUND)
        self.assert_failed(run, 1, PROBE_BOUND, [bad1, bad2])
        line1, line2 = self.line_naming(run.stderr, bad1), self.line_naming(run.stderr, bad2)
        self.assertNotEqual(line1, line2, "expected one line per failing URL")
        self.assertNotIn(good, run.stderr.replace(bad1, "").replace(bad2, ""),
                         "the healthy URL was reported as failing")

    # --------------------------------------------------------------------- usage errors
    def test_directory_that_cannot_be_listed_exits_1_and_names_url(self):
        # A path ending in '/' is a directory: listed at mount, and a refusal refuses the mount.
        url = "http://127.0.0.1:1/"
        run = harness.run_expect_failure([url], timeout=PROBE_BOUND)
        self.assert_failed(run, 1, PROBE_BOUND, [url])

    def test_duplicate_names_are_usage_error(self):
        a = self.server.url("data.bin")
        b = self.server.url("sub/data.bin")
        run = harness.run_expect_failure([a, b], timeout=USAGE_BOUND)
        self.assert_failed(run, 2, USAGE_BOUND, ["data.bin"])

    def test_duplicate_explicit_names_are_usage_error(self):
        a = "same.bin=" + self.server.url("data.bin")
        b = "same.bin=" + self.server.url("other.bin")
        run = harness.run_expect_failure([a, b], timeout=USAGE_BOUND)
        self.assert_failed(run, 2, USAGE_BOUND, ["same.bin"])

    def test_decoded_name_with_slash_is_usage_error(self):
        url = self.server.base_url + "/a%2Fb.bin"
        run = harness.run_expect_failure([url], timeout=USAGE_BOUND)
        self.assert_failed(run, 2, USAGE_BOUND)
        self.assertTrue("a%2Fb.bin" in run.stderr or "a/b.bin" in run.stderr, run.stderr)

    def test_no_operands_is_usage_error(self):
        run = harness.run_expect_failure([], timeout=USAGE_BOUND)
        self.assert_failed(run, 2, USAGE_BOUND)

    def test_unknown_option_is_usage_error(self):
        run = harness.run_expect_failure(["--no-such-option", self.server.url("data.bin")],
                                         timeout=USAGE_BOUND)
        self.assert_failed(run, 2, USAGE_BOUND)
        self.assertIn("no-such-option", run.stderr)

    def test_version_and_help(self):
        for flag, expect in (("--version", None), ("--help", "--timeout")):
            with self.subTest(flag=flag):
                result = subprocess.run([self.binary, flag], capture_output=True, text=True,
                                        timeout=USAGE_BOUND)
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertTrue(result.stdout.strip(), "nothing printed on stdout")
                if expect:
                    self.assertIn(expect, result.stdout)

    # ------------------------------------------------------------- server trouble later
    def test_server_stopped_after_mount_gives_eio(self):
        server = harness.LoopbackNginx(self.data)
        server.start()
        self.addCleanup(server.cleanup)
        with harness.Mount([server.url("data.bin")], ["--timeout", "5"]) as mount:
            self.assertEqual(mount.call(harness.pread_file, mount.path("data.bin"), 4096, 0),
                             self.local(4096, 0))
            server.stop()
            result, took = mount.call(_timed_pread, mount.path("data.bin"), 4096, 20 * MiB,
                                      timeout=30)
            self.assertIsInstance(result, OSError, f"read succeeded without a server: "
                                                   f"{result!r:.80}")
            self.assertEqual(result.errno, errno.EIO, result)
            self.assertLess(took, 15, "EIO took too long")
            self.assertTrue(mount.alive(), f"rangefs died on a read error:\n{mount.stderr()}")
            unmount = mount.fusermount_unmount()
            self.assertEqual(unmount.returncode, 0, unmount.stderr)
            self.assertIsNotNone(mount.wait_exit(15), "rangefs still running after unmount")
            self.assertFalse(mount.mounted)

    def test_hung_server_read_fails_with_eio_within_timeout(self):
        server = harness.LoopbackNginx(self.data)
        server.start()
        self.addCleanup(server.cleanup)
        with harness.Mount([server.url("data.bin")], ["--timeout", "3"]) as mount:
            self.assertEqual(mount.call(harness.pread_file, mount.path("data.bin"), 4096, 0),
                             self.local(4096, 0))
            server.pause()  # accepts connections (kernel backlog), never answers
            try:
                result, took = mount.call(_timed_pread, mount.path("data.bin"), 4096,
                                          24 * MiB, timeout=40)
            finally:
                server.resume()
            self.assertIsInstance(result, OSError, "read from a hung server succeeded")
            self.assertEqual(result.errno, errno.EIO, result)
            # --timeout 3 per request; allow for a retry or two and slow CI, not for 60 s.
            self.assertLess(took, 15, "the per-request --timeout was not applied")
            # Nothing can fail early here: the server accepts and stays silent.
            self.assertGreater(took, 2.0, "EIO came before the deadline could have passed")
            # Once the server answers again, reads work again.
            self.assertEqual(mount.call(harness.pread_file, mount.path("data.bin"), 4096, 28 * MiB),
                             self.local(4096, 28 * MiB))

    # ------------------------------------------------------------------- stopping cleanly
    def _signal_stops_cleanly(self, sig):
        with harness.Mount([self.server.url("data.bin")]) as mount:
            self.assertEqual(mount.call(harness.pread_file, mount.path("data.bin"), 100, 1000),
                             self.local(100, 1000))
            mount.send_signal(sig)
            status = mount.wait_exit(15)
            self.assertIsNotNone(status, f"rangefs still running 15 s after signal {sig}")
            self.assertFalse(mount.mounted, "still mounted after the process exited")
            self.assertEqual(status, 0, f"exit status after signal {sig}; stderr:\n"
                                        f"{mount.stderr()}")

    def test_sigterm_unmounts_and_exits_0(self):
        self._signal_stops_cleanly(signal.SIGTERM)

    def test_sigint_unmounts_and_exits_0(self):
        self._signal_stops_cleanly(signal.SIGINT)

    def test_fusermount_unmount_ends_foreground_process(self):
        with harness.Mount([self.server.url("data.bin")]) as mount:
            self.assertEqual(mount.call(os.listdir, mount.path()), ["data.bin"])
            result = mount.fusermount_unmount()
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertFalse(mount.mounted)
            self.assertIsNotNone(mount.wait_exit(15), "rangefs still running after unmount")

    def test_debug_flag_runs_in_foreground_and_logs(self):
        with harness.Mount([self.server.url("data.bin")], foreground_flag="-d") as mount:
            self.assertTrue(mount.alive(), "-d must stay in the foreground")
            before = len(mount.stderr())
            self.assertEqual(mount.call(harness.pread_file, mount.path("data.bin"), 100, 5000),
                             self.local(100, 5000))
            # The read itself gets logged.
            self.assertTrue(harness.wait_until(lambda: len(mount.stderr()) > before, 5),
                            "-d logged nothing for a read")
            self.assertIn(self.server.url("data.bin"), mount.stderr())

    def test_mount_options_are_passed_to_fuse(self):
        with harness.Mount([self.server.url("data.bin")], ["-o", "allow_other"]) as mount:
            info = harness.mount_info(mount.path())
            self.assertIsNotNone(info)
            self.assertIn("allow_other", info["super_options"], info)
            self.assertEqual(mount.call(harness.pread_file, mount.path("data.bin"), 10, 0),
                             self.local(10, 0))
        with harness.Mount([self.server.url("data.bin")]) as mount:
            info = harness.mount_info(mount.path())
            self.assertNotIn("allow_other", info["super_options"], info)
            self.assertTrue(info["fstype"].startswith("fuse"), info)

    # ----------------------------------------------------------------------- daemon mode
    def test_daemon_mode_returns_once_usable(self):
        with harness.run_daemon([self.server.url("data.bin")], timeout=PROBE_BOUND) as d:
            r = d.result
            self.assertEqual(r.returncode, 0, f"stderr:\n{r.stderr}")
            self.assertTrue(r.mounted_at_return, "command returned before the mount was up")
            # Usable right away: no waiting, no polling.
            self.assertEqual(d.call(harness.pread_file, os.path.join(d.mountpoint, "data.bin"),
                                    4096, 12345), self.local(4096, 12345))
            pids = d.daemon_pids()
            self.assertEqual(len(pids), 1, f"expected one daemon process, found {pids}")
            unmount = harness.fusermount_unmount(d.mountpoint)
            self.assertEqual(unmount.returncode, 0, unmount.stderr)
            self.assertFalse(harness.is_mounted(d.mountpoint))
            self.assertTrue(harness.wait_until(lambda: not harness.pid_alive(pids[0]), 15),
                            "daemon still running 15 s after unmount")

    def test_daemon_mode_failure_exits_nonzero_without_mount(self):
        url = self.server.url("missing.bin")
        run = harness.run_expect_failure([url], timeout=PROBE_BOUND, foreground=False)
        self.assert_failed(run, 1, PROBE_BOUND, [url])


if __name__ == "__main__":
    unittest.main(verbosity=2)
