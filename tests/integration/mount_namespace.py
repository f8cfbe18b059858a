"""A private mount namespace, for tests that must change what the programs they run see in
the file tree, without touching the machine:

- mount(8) clears PATH before it runs a helper, so mount.fuse3's `/bin/sh -c 'rangefs ...'`
  finds rangefs only in the shell's default PATH (/usr/local/sbin:/usr/local/bin:...).
  bind_first_on_default_path() puts the binary under test there, for this namespace only.
- glibc's syslog() writes to /dev/log. with_dev_log() gives the namespace a /dev of its own (an
  overlay over the real one, so /dev/fuse and /dev/null are still there) whose /dev/log is a
  socket the test owns, or that has no /dev/log at all.

The namespace lives as long as a holder process (`unshare --mount --propagation private cat`)
and whatever runs in it: commands enter it with nsenter, and the test reads its files through
/proc/HOLDER/root. Mounts made inside never show up outside. cleanup() unmounts what is
mounted inside, kills the rangefs processes found on those mountpoints and the holder (each by
PID); with the last process gone the kernel drops the namespace and every mount left in it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from typing import Callable, Optional, Sequence

import harness

# dash's PATH when none is set (what mount.fuse3's /bin/sh gets from mount(8)).
SHELL_DEFAULT_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin",
                      "/bin")


def require_tools() -> str:
    """For setUpClass of a test running mount(8) in a namespace: harness.require_environment
    with mount.fuse3, unshare, nsenter, mount and umount. Returns the binary under test."""
    return harness.require_environment("/sbin/mount.fuse3", "unshare", "nsenter", "mount",
                                       "umount")


class MountNamespace:
    def __init__(self, *, start_timeout: float = 10.0):
        self._tmp = tempfile.mkdtemp(prefix="rangefs-ns-")
        self._mountpoints: list[str] = []
        self._binaries: set[str] = set()
        # stdin is a pipe: if the test process dies, cat sees EOF and the holder goes too.
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--", "cat"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        own = os.readlink("/proc/self/ns/mnt")
        if not harness.wait_until(lambda: self._namespace() not in (None, own), start_timeout):
            self.cleanup()
            raise RuntimeError("unshare did not enter a new mount namespace")

    def _namespace(self) -> Optional[str]:
        try:
            return os.readlink(f"/proc/{self.holder.pid}/ns/mnt")
        except OSError:
            return None

    def __enter__(self) -> "MountNamespace":
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()

    # ---------------------------------------------------------------------------- commands
    def command(self, cmd: Sequence[str]) -> list[str]:
        return ["nsenter", f"--target={self.holder.pid}", "--mount", "--", *cmd]

    def run(self, cmd: Sequence[str], *, timeout: float = 60.0,
            stderr_path: Optional[str] = None) -> subprocess.CompletedProcess:
        """Runs cmd inside. Output goes to files, not pipes, so that a daemon that keeps an
        inherited descriptor cannot make us wait; returns it as text."""
        out_path = os.path.join(self._tmp, "run.out")
        err_path = stderr_path or os.path.join(self._tmp, "run.err")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            process = subprocess.Popen(self.command(cmd), stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=err)
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
            raise AssertionError(f"{list(cmd)} did not finish within {timeout}s")
        with open(out_path, errors="replace") as f:
            stdout = f.read()
        with open(err_path, errors="replace") as f:
            stderr = f.read()
        return subprocess.CompletedProcess(list(cmd), returncode, stdout, stderr)

    def check(self, cmd: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
        result = self.run(cmd, **kwargs)
        if result.returncode != 0:
            raise AssertionError(f"{list(cmd)} failed with status {result.returncode}:\n"
                                 f"{result.stdout}{result.stderr}")
        return result

    # --------------------------------------------------------------------- what it sees
    def path(self, path: str) -> str:
        """`path` as the namespace sees it, from outside."""
        return f"/proc/{self.holder.pid}/root{os.path.abspath(path)}"

    def mount_info(self, path: str) -> Optional[dict]:
        """harness.mount_info, inside: the top mount at `path`, or None."""
        return harness.mount_info(path, f"/proc/{self.holder.pid}/mountinfo")

    def mount_count(self, path: str) -> int:
        target = os.path.realpath(path)
        with open(f"/proc/{self.holder.pid}/mountinfo") as f:
            return sum(1 for line in f
                       if harness.unescape_mountinfo(line.split()[4]) == target)

    def call(self, fn: Callable, *args, timeout: float = 30.0, **kwargs):
        """fn(*args, **kwargs) in a helper thread, for anything that touches a mount inside.
        On timeout the rangefs daemons inside are killed, which releases the thread from the
        kernel, and the test fails."""
        def give_up() -> BaseException:
            for pid in self.rangefs_pids():
                harness.kill_pid(pid)
            return AssertionError(f"{getattr(fn, '__name__', fn)} did not finish within "
                                  f"{timeout}s (rangefs killed)")
        return harness.call_within(timeout, give_up, fn, *args, **kwargs)

    # ---------------------------------------------------------------------- set-up steps
    def bind_first_on_default_path(self, binary: str, name: str = "rangefs") -> str:
        """Makes `name` on the shell's default PATH run `binary`, inside only: a directory
        holding a symlink is bound over the first default PATH directory that exists.
        Returns that directory."""
        bin_dir = os.path.join(self._tmp, "bin")
        os.mkdir(bin_dir)
        os.symlink(binary, os.path.join(bin_dir, name))
        target = next(d for d in SHELL_DEFAULT_PATH if os.path.isdir(d))
        self.check(["mount", "--bind", bin_dir, target])
        self._binaries.add(os.path.realpath(binary))
        return target

    def with_dev_log(self, socket_path: Optional[str]) -> None:
        """Gives the namespace its own /dev: the real one seen through an overlay whose upper
        layer is a tmpfs mounted inside, with /dev/log a symlink to `socket_path`, or with no
        /dev/log at all when socket_path is None (whatever the machine has)."""
        layers = os.path.join(self._tmp, "dev-layers")
        os.mkdir(layers)
        self.check(["mount", "-t", "tmpfs", "-o", "mode=700", "tmpfs", layers])
        self.check(["mkdir", os.path.join(layers, "upper"), os.path.join(layers, "work")])
        self.check(["mount", "-t", "overlay", "overlay", "-o",
                    f"lowerdir=/dev,upperdir={layers}/upper,workdir={layers}/work", "/dev"])
        self.check(["rm", "-f", "/dev/log"])
        if socket_path is not None:
            self.check(["ln", "-s", socket_path, "/dev/log"])

    def mountpoint(self, name: str = "mnt") -> str:
        """A fresh directory for a mount inside; cleanup() unmounts it."""
        path = os.path.join(self._tmp, name)
        os.mkdir(path)
        self._mountpoints.append(path)
        return path

    def rangefs_pids(self) -> list[int]:
        pids = []
        for binary in self._binaries or {harness.binary_path()}:
            for mp in self._mountpoints:
                pids += harness.find_pids_for_mountpoint(binary, mp)
        return sorted(set(pids))

    # --------------------------------------------------------------------------- cleanup
    def cleanup(self) -> None:
        try:
            if self.holder.poll() is None:
                pids = self.rangefs_pids()
                for mp in reversed(self._mountpoints):
                    for _ in range(3):  # stacked mounts come off one at a time
                        if not self.mount_info(mp):
                            break
                        try:
                            self.run(["umount", "-l", mp], timeout=15)
                        except AssertionError:
                            break
                for pid in pids:
                    if not harness.wait_until(lambda: not harness.pid_alive(pid), 5):
                        harness.kill_pid(pid)
                self.holder.stdin.close()
                harness.kill_pid(self.holder.pid, signal.SIGTERM)
                try:
                    self.holder.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    harness.kill_pid(self.holder.pid)
                    self.holder.wait(timeout=10)
            # A daemon could outlive the holder and keep the namespace: none may be left.
            def none_left() -> bool:
                pids = self.rangefs_pids()
                for pid in pids:
                    harness.kill_pid(pid)
                return not pids
            harness.wait_until(none_left, 10)
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)


