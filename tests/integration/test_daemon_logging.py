"""Where a daemonized rangefs logs once mounted: syslog, or the documented fallbacks where no
syslog daemon listens on /dev/log, or --log-file. Errors before the mount is up go to the
terminal (stderr) in every case.

Each test runs rangefs in a private mount namespace (mount_namespace.py) with a /dev of its
own: /dev/log is either a datagram socket the test owns and reads (real syslog delivery
through glibc's syslog(), as a syslog daemon would receive it) or absent. The later error is
a real one: nginx is stopped, a read then fails with EIO, and the log must say why."""

import errno
import os
import re
import select
import socket
import subprocess
import threading
import time
import unittest
from typing import Optional

import harness
import mount_namespace
from harness import MiB

FILE_SIZE = 24 * MiB
MOUNT_BOUND = 60.0
LOG_BOUND = 20.0  # seconds for a log line to arrive after the failed read returned
# LOG_DAEMON (3) * 8 + severity
PRIORITY_WARNING = 3 * 8 + 4
PRIORITY_INFO = 3 * 8 + 6
NO_SYSLOG_WARNING = "nothing listens on /dev/log"
# glibc's syslog(): "<PRI>Mmm dd hh:mm:ss TAG[PID]: MESSAGE" (the level is in PRI only)
SYSLOG_LINE = re.compile(r"^<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d rangefs\[(\d+)\]: (.*)$", re.S)


class SyslogSocket:
    """A datagram socket standing in for a syslog daemon's /dev/log. A thread drains it at
    once (the kernel queues only max_dgram_qlen datagrams, 10 by default, and then syslog()
    blocks the daemon) and keeps every message."""

    def __init__(self, path: str):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.1)
        self._messages: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self._messages.append(data.decode(errors="replace"))

    def messages(self) -> list[str]:
        with self._lock:
            return list(self._messages)

    def parsed(self) -> list[tuple[int, int, str]]:
        """(priority, pid, message) of every message; raises on one not in syslog form."""
        out = []
        for raw in self.messages():
            match = SYSLOG_LINE.match(raw)
            if not match:
                raise AssertionError(f"not a syslog(3) datagram: {raw!r}")
            out.append((int(match[1]), int(match[2]), match[3]))
        return out

    def wait_for(self, predicate, timeout: float) -> bool:
        return harness.wait_until(lambda: any(predicate(*m) for m in self.parsed()), timeout)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def _read_result(path: str, length: int, offset: int):
    try:
        return harness.pread_file(path, length, offset)
    except OSError as e:
        return e


class DaemonLoggingTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.binary = mount_namespace.require_tools()
        harness.class_data_dir(cls, "rangefs-log-data-", {"data.bin": FILE_SIZE})
        with open(os.path.join(cls.data, "data.bin"), "rb") as f:
            cls.head = f.read(4096)

    def setUp(self):
        self.tmp = harness.TempDir("rangefs-log-")
        self.addCleanup(self.tmp.cleanup)
        # Its own server: the test stops it to make reads fail.
        self.server = harness.LoopbackNginx(self.data)
        self.server.start()
        self.addCleanup(self.server.cleanup)
        self.url = self.server.url("data.bin")

    def namespace(self, *, syslog: bool) -> tuple[mount_namespace.MountNamespace,
                                                   Optional[SyslogSocket]]:
        ns = mount_namespace.MountNamespace()
        self.addCleanup(ns.cleanup)
        log = None
        if syslog:
            log = SyslogSocket(os.path.join(self.tmp.path, "devlog"))
            self.addCleanup(log.close)
        ns.with_dev_log(log.path if log else None)
        return ns, log

    def start_daemon(self, ns, mnt, args=(), stderr_name="stderr"):
        """`rangefs ARGS URL MNT` inside, stderr to a file; returns (pid, stderr path)."""
        stderr_path = os.path.join(self.tmp.path, stderr_name)
        result = ns.run([self.binary, "--timeout", "5", "--retries", "1", *args, self.url, mnt],
                        timeout=MOUNT_BOUND, stderr_path=stderr_path)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIsNotNone(ns.mount_info(mnt), "the command returned before the mount was up")
        pids = ns.rangefs_pids()
        self.assertEqual(len(pids), 1, pids)
        return pids[0], stderr_path

    def make_a_later_error(self, ns, mnt):
        """A read that works, then the server goes away and a read of uncached bytes fails."""
        path = ns.path(os.path.join(mnt, "data.bin"))
        self.assertEqual(ns.call(harness.pread_file, path, 4096, 0), self.head)
        self.server.stop()
        result = ns.call(_read_result, path, 4096, 20 * MiB, timeout=30)
        self.assertIsInstance(result, OSError, "a read succeeded without a server")
        self.assertEqual(result.errno, errno.EIO, result)

    def is_read_failure(self, message: str) -> bool:
        """The log line that says why the read failed: the URL and the bytes given up on."""
        return bool(re.search(rf"^{re.escape(self.url)} bytes=\d+-\d+: (giving up|no complete)",
                              message))

    def unmount(self, ns, mnt, pid):
        result = ns.run(["umount", mnt], timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(harness.wait_until(lambda: not harness.pid_alive(pid), 15),
                        "rangefs still running after umount")

    @staticmethod
    def read(path: str) -> str:
        with open(path, errors="replace") as f:
            return f.read()

    # --------------------------------------------------------------------------- syslog
    def test_later_error_reaches_syslog(self):
        ns, log = self.namespace(syslog=True)
        mnt = ns.mountpoint()
        pid, stderr_path = self.start_daemon(ns, mnt)
        self.assertNotIn(NO_SYSLOG_WARNING, self.read(stderr_path))
        self.assertTrue(log.wait_for(lambda pri, p, m: (pri, p, m) == (
            PRIORITY_INFO, pid, f"mounted at {mnt}"), LOG_BOUND),
            f"no 'mounted at' line from PID {pid} in syslog: {log.messages()}")

        self.make_a_later_error(ns, mnt)
        self.assertTrue(log.wait_for(lambda pri, p, m: pri == PRIORITY_WARNING and p == pid
                                     and self.is_read_failure(m), LOG_BOUND),
                        f"the read failure did not reach syslog as daemon.warning from PID "
                        f"{pid}: {log.messages()}")
        # Nothing after daemonizing went to the terminal.
        self.assertNotIn(self.url, self.read(stderr_path))
        self.unmount(ns, mnt, pid)
        self.assertTrue(log.wait_for(lambda pri, p, m: (pri, p, m) == (
            PRIORITY_INFO, pid, f"unmounted {mnt}"), LOG_BOUND), log.messages())

    def test_error_before_mount_goes_to_terminal_not_syslog(self):
        ns, log = self.namespace(syslog=True)
        mnt = ns.mountpoint()
        missing = self.server.url("missing.bin")
        result = ns.run([self.binary, missing, mnt], timeout=MOUNT_BOUND)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertRegex(result.stderr, rf"rangefs: cannot mount {re.escape(missing)}: .*404")
        self.assertIsNone(ns.mount_info(mnt))
        # rangefs has exited: whatever it sent is queued or read already.
        self.assertEqual(log.messages(), [])

    # -------------------------------------------------------------- no syslog: fallbacks
    def test_no_syslog_stderr_file_gets_later_errors(self):
        ns, _ = self.namespace(syslog=False)
        mnt = ns.mountpoint()
        pid, stderr_path = self.start_daemon(ns, mnt)
        # stderr is a regular file: kept, so no warning about lost messages.
        self.assertNotIn(NO_SYSLOG_WARNING, self.read(stderr_path))
        self.assertTrue(harness.wait_until(
            lambda: f"info: mounted at {mnt}" in self.read(stderr_path), LOG_BOUND))
        self.make_a_later_error(ns, mnt)
        self.assertTrue(harness.wait_until(
            lambda: any(self.is_read_failure(line.split(" warning: ", 1)[-1])
                        for line in self.read(stderr_path).splitlines()
                        if " rangefs warning: " in line), LOG_BOUND),
            f"the read failure is not in the daemon's stderr file:\n{self.read(stderr_path)}")
        self.assertEqual(os.readlink(f"/proc/{pid}/fd/2"), stderr_path)
        self.unmount(ns, mnt, pid)

    def test_no_syslog_pipe_is_not_kept_and_warns(self):
        ns, _ = self.namespace(syslog=False)
        mnt = ns.mountpoint()
        # The way `out=$(mount ... 2>&1)` runs it: a daemon that kept the pipe would make the
        # reader wait until unmount.
        process = subprocess.Popen(ns.command([self.binary, self.url, mnt]),
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
        self.addCleanup(process.stdout.close)
        try:
            returncode = process.wait(timeout=MOUNT_BOUND)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
            raise
        self.assertEqual(returncode, 0)
        output, eof = b"", False
        deadline = time.monotonic() + 15
        while not eof and time.monotonic() < deadline:
            ready, _, _ = select.select([process.stdout], [], [], 0.5)
            if ready:
                chunk = os.read(process.stdout.fileno(), 65536)
                eof = not chunk
                output += chunk
        self.assertTrue(eof, "the daemon kept the pipe open after mounting")
        self.assertIn(NO_SYSLOG_WARNING, output.decode(errors="replace"))
        self.assertIn("--log-file", output.decode(errors="replace"))
        pids = ns.rangefs_pids()
        self.assertEqual(len(pids), 1, pids)
        self.assertEqual(ns.call(harness.pread_file, ns.path(os.path.join(mnt, "data.bin")),
                                 4096, 0), self.head)
        self.unmount(ns, mnt, pids[0])

    # ------------------------------------------------------------------------ --log-file
    def test_log_file_option_through_mount(self):
        # -o log_file= from an fstab-style mount wins over a listening syslog.
        ns, log = self.namespace(syslog=True)
        ns.bind_first_on_default_path(self.binary)
        mnt = ns.mountpoint()
        log_file = os.path.join(self.tmp.path, "rangefs.log")
        result = ns.run(["mount", "-t", "fuse.rangefs", self.url, mnt, "-o",
                         f"ro,_netdev,timeout=5,retries=1,log_file={log_file}"],
                        timeout=MOUNT_BOUND)
        self.assertEqual(result.returncode, 0, result.stderr)
        pids = ns.rangefs_pids()
        self.assertEqual(len(pids), 1, pids)
        self.assertEqual(os.stat(log_file).st_mode & 0o777, 0o600)
        self.make_a_later_error(ns, mnt)
        self.assertTrue(harness.wait_until(
            lambda: any(self.is_read_failure(line.split(" warning: ", 1)[-1])
                        for line in self.read(log_file).splitlines()
                        if " rangefs warning: " in line), LOG_BOUND),
            f"the read failure is not in --log-file:\n{self.read(log_file)}")
        self.assertIn(f"info: mounted at {mnt}", self.read(log_file))
        self.assertNotIn(self.url, result.stderr)
        self.unmount(ns, mnt, pids[0])
        self.assertIn(f"info: unmounted {mnt}", self.read(log_file))
        self.assertEqual(log.messages(), [], "lines went to syslog despite --log-file")

    def test_unwritable_log_file_fails_before_mounting(self):
        ns, _ = self.namespace(syslog=False)
        mnt = ns.mountpoint()
        bad = os.path.join(self.tmp.path, "no-such-dir", "rangefs.log")
        result = ns.run([self.binary, "--log-file", bad, self.url, mnt], timeout=MOUNT_BOUND)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn(f"--log-file {bad}: No such file or directory", result.stderr)
        self.assertIsNone(ns.mount_info(mnt))


if __name__ == "__main__":
    unittest.main(verbosity=2)
