"""Shared helpers for the rangefs end-to-end tests.

- Mount: runs the real binary in the foreground on a temporary mountpoint and always cleans
  up (unmount, kill by PID, remove the directory), also when a test fails.
- run_expect_failure / run_daemon: run the binary expecting it to exit, with bounds.
- Data helpers: random files, a sparse 5 GiB file with markers above 4 GiB, a zip.

Every filesystem access from a test should go through Mount.call() or Mount.run(): a hung
FUSE request blocks the caller in the kernel, and a SIGKILL does not get a process out of a
request the daemon has already received. On timeout these kill the rangefs process, which
aborts the FUSE connection and so releases every waiter, then fail the test.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import zipfile
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

_HERE = os.path.dirname(os.path.abspath(__file__))
_SCRIPTS_LIB = os.path.normpath(os.path.join(_HERE, "..", "..", "scripts", "lib"))
if _SCRIPTS_LIB not in sys.path:
    sys.path.insert(0, _SCRIPTS_LIB)

from loopback_nginx import LoopbackNginx, free_port  # noqa: E402  (path set up above)
from procfs import mounted_points, pid_alive, unescape_mountinfo, wait_until  # noqa: E402,F401

__all__ = [
    "GiB", "MiB", "KiB", "LoopbackNginx", "Mount", "MountError", "FailedRun",
    "binary_path", "require_environment", "is_mounted", "mounted_points", "mount_info",
    "run_expect_failure", "run_daemon", "DaemonRun", "free_port", "sha256_file",
    "write_random_file", "make_sparse_file", "make_zip", "wait_until", "pid_alive",
    "find_pids_for_mountpoint", "TempDir", "SilentListener", "parse_range", "parse_ranges",
    "range_bytes", "gets_by_uri",
    "check_block_gets", "assert_each_byte_fetched_once", "proc_status_bytes",
    "pread_no_readahead", "max_fuse_read_bytes", "longest_demand_request",
]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

FUSERMOUNT = shutil.which("fusermount3") or "/usr/bin/fusermount3"


# --------------------------------------------------------------------------- environment
def binary_path() -> str:
    """The binary under test from RANGEFS_BINARY. A missing binary is an error, not a skip:
    a suite that silently tests nothing is worse than a red one."""
    path = os.environ.get("RANGEFS_BINARY")
    if not path:
        raise RuntimeError("RANGEFS_BINARY is not set; point it at the rangefs binary "
                           "(ctest sets it)")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise RuntimeError(f"RANGEFS_BINARY={path!r} is not an executable file")
    return os.path.abspath(path)


def require_environment(*tools: str) -> str:
    """Call from setUpClass. Skips (loudly) when FUSE is unavailable on this machine; fails
    when the binary or a required tool is missing. Returns the binary path."""
    try:
        st = os.stat("/dev/fuse")
    except OSError as e:
        raise unittest.SkipTest(f"SKIPPED (no FUSE): /dev/fuse is unavailable ({e}); these "
                                f"end-to-end tests need FUSE (docker: --device /dev/fuse)")
    if not stat.S_ISCHR(st.st_mode):
        raise unittest.SkipTest("SKIPPED (no FUSE): /dev/fuse is not a character device")
    if not os.path.exists(FUSERMOUNT):
        raise unittest.SkipTest("SKIPPED (no FUSE): fusermount3 not found (install fuse3)")
    missing = [t for t in tools if shutil.which(t) is None and not os.path.exists(t)]
    if missing:
        raise RuntimeError(f"required tools missing: {', '.join(missing)}")
    return binary_path()


def mount_info(path: str, mountinfo: str = "/proc/self/mountinfo") -> Optional[dict]:
    """The `mountinfo` entry (this process's, by default) for a mount point: fstype, source,
    mount_options (per-mount, e.g. ro) and super_options (e.g. allow_other); None if not
    mounted."""
    target = os.path.realpath(path)
    found = None
    with open(mountinfo) as f:
        for line in f:
            fields = line.split()
            if unescape_mountinfo(fields[4]) != target:
                continue
            sep = fields.index("-")
            found = {  # the last entry wins: it is the one on top
                "mount_options": set(fields[5].split(",")),
                "fstype": fields[sep + 1],
                "source": unescape_mountinfo(fields[sep + 2]),
                "super_options": set(fields[sep + 3].split(",")) if len(fields) > sep + 3
                else set(),
            }
    return found


def is_mounted(path: str) -> bool:
    return os.path.realpath(path) in mounted_points()


def find_pids_for_mountpoint(binary: str, mountpoint: str) -> list[int]:
    """PIDs of processes running `binary` with `mountpoint` among their arguments."""
    binary = os.path.realpath(binary)
    mountpoint = os.path.realpath(mountpoint)
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            exe = os.path.realpath(f"/proc/{entry}/exe")
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if exe != binary:
            continue
        if any(os.path.realpath(a) == mountpoint for a in args if a.startswith("/")):
            if pid_alive(int(entry)):
                pids.append(int(entry))
    return pids


def fusermount_unmount(mountpoint: str, timeout: float = 15) -> subprocess.CompletedProcess:
    return subprocess.run([FUSERMOUNT, "-u", mountpoint], capture_output=True, text=True,
                          timeout=timeout)


def force_unmount(mountpoint: str) -> None:
    """Best effort: normal unmount, then lazy unmount. Never raises."""
    for args in ([FUSERMOUNT, "-u", mountpoint], [FUSERMOUNT, "-u", "-z", mountpoint],
                 ["umount", "-l", mountpoint]):
        if not is_mounted(mountpoint):
            return
        try:
            subprocess.run(args, capture_output=True, timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            pass


def kill_pid(pid: int, sig: int = signal.SIGKILL) -> None:
    """Sends sig to pid unless it is already gone."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


class TempDir:
    """mkdtemp with a cleanup that refuses to recurse into anything still mounted."""

    def __init__(self, prefix: str = "rangefs-it-"):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def cleanup(self) -> None:
        if not os.path.isdir(self.path):
            return
        for mp in mounted_points():
            if mp == self.path or mp.startswith(self.path + os.sep):
                force_unmount(mp)
        shutil.rmtree(self.path, ignore_errors=True)


# --------------------------------------------------------------------------------- Mount
def call_within(timeout: float, on_timeout: Callable[[], BaseException], fn: Callable,
                *args, **kwargs):
    """fn(*args, **kwargs) in a helper thread; returns its result or re-raises its exception.
    If it takes longer than `timeout`, calls on_timeout (which must release the thread, e.g.
    by killing the daemon the call is stuck in), waits up to 15 s more for the thread, and
    raises what on_timeout returned."""
    box: dict = {}

    def runner():
        try:
            box["result"] = fn(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001  (re-raised in the caller)
            box["error"] = e

    thread = threading.Thread(target=runner, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        error = on_timeout()
        thread.join(15)
        raise error
    if "error" in box:
        raise box["error"]
    return box.get("result")


class MountError(AssertionError):
    pass


class Mount:
    """`rangefs -f [args...] OPERANDS... MOUNTPOINT` on a fresh temporary mountpoint.

    Use as a context manager or call start()/cleanup(). cleanup() is idempotent and always
    leaves nothing mounted, no process running and no directory behind.
    """

    def __init__(self, operands: Sequence[str], args: Sequence[str] = (), *,
                 binary: Optional[str] = None, foreground_flag: str = "-f",
                 start_timeout: float = 30.0):
        self.binary = binary or binary_path()
        self.operands = list(operands)
        self.args = list(args)
        self.foreground_flag = foreground_flag
        self.start_timeout = start_timeout
        self._tmp = tempfile.mkdtemp(prefix="rangefs-mnt-")
        self.mountpoint = os.path.join(self._tmp, "mnt")
        os.mkdir(self.mountpoint)
        self.stderr_path = os.path.join(self._tmp, "stderr.log")
        self.stdout_path = os.path.join(self._tmp, "stdout.log")
        self.process: Optional[subprocess.Popen] = None
        self.aborted = False  # set when a timeout forced us to kill the daemon
        self._cleaned = False

    @property
    def command(self) -> list[str]:
        return [self.binary, self.foreground_flag, *self.args, *self.operands, self.mountpoint]

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> "Mount":
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=err, start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while not is_mounted(self.mountpoint):
            if self.process.poll() is not None:
                raise MountError(f"rangefs exited with status {self.process.returncode} before "
                                 f"mounting; command {self.command}\nstderr:\n{self.stderr()}")
            if time.monotonic() >= deadline:
                self.cleanup()
                raise MountError(f"mount did not appear in /proc/self/mountinfo within "
                                 f"{self.start_timeout}s; stderr:\n{self.stderr()}")
            time.sleep(0.02)
        return self

    def __enter__(self) -> "Mount":
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc) -> None:
        self.cleanup()

    def path(self, name: str = "") -> str:
        return os.path.join(self.mountpoint, name) if name else self.mountpoint

    def stderr(self) -> str:
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()
        except OSError:
            return "<stderr unavailable>"

    @property
    def mounted(self) -> bool:
        return is_mounted(self.mountpoint)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def abort(self) -> None:
        """Kill the daemon by PID: the kernel aborts the FUSE connection, every pending
        request fails and blocked callers return."""
        self.aborted = True
        if self.process is not None and self.process.poll() is None:
            kill_pid(self.process.pid)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    # -------------------------------------------------------------- bounded filesystem use
    def call(self, fn: Callable, *args, timeout: float = 30.0, **kwargs):
        """fn(*args, **kwargs) in a helper thread; returns its result or re-raises its
        exception. If it takes longer than timeout, the daemon is killed (releasing the
        thread) and MountError is raised."""
        def give_up() -> BaseException:
            self.abort()
            return MountError(f"filesystem operation {getattr(fn, '__name__', fn)} did not "
                              f"finish within {timeout}s (rangefs killed)\nstderr tail:\n"
                              f"{self.stderr()[-3000:]}")
        return call_within(timeout, give_up, fn, *args, **kwargs)

    def run(self, cmd: Sequence[str], *, timeout: float = 60.0, cwd: Optional[str] = None,
            **kwargs) -> subprocess.CompletedProcess:
        """Runs a tool (typically reading the mount) with a bound. On timeout the daemon is
        killed first (SIGKILL alone does not free a process inside a FUSE request)."""
        process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, cwd=cwd, **kwargs)
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.abort()
            process.kill()
            out, err = process.communicate(timeout=15)
            raise MountError(f"{list(cmd)} did not finish within {timeout}s (rangefs killed); "
                             f"stderr tail:\n{self.stderr()[-3000:]}")
        return subprocess.CompletedProcess(list(cmd), process.returncode, out, err)

    # -------------------------------------------------------- stopping the way users would
    def fusermount_unmount(self, timeout: float = 15) -> subprocess.CompletedProcess:
        return fusermount_unmount(self.mountpoint, timeout=timeout)

    def wait_exit(self, timeout: float) -> Optional[int]:
        """The daemon's exit status, or None if it is still running after timeout."""
        assert self.process is not None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def send_signal(self, sig: int) -> None:
        assert self.process is not None
        os.kill(self.process.pid, sig)

    # ---------------------------------------------------------------------------- cleanup
    def cleanup(self) -> None:
        if self._cleaned:
            return
        self._cleaned = True
        try:
            if is_mounted(self.mountpoint):
                try:
                    fusermount_unmount(self.mountpoint)
                except subprocess.TimeoutExpired:
                    pass
            if self.process is not None and self.process.poll() is None:
                try:
                    self.process.wait(timeout=5)  # exits by itself once unmounted
                except subprocess.TimeoutExpired:
                    kill_pid(self.process.pid, signal.SIGTERM)
                    try:
                        self.process.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        kill_pid(self.process.pid)
                        self.process.wait(timeout=10)
            force_unmount(self.mountpoint)  # e.g. a killed daemon leaves a dead mount
        finally:
            if not is_mounted(self.mountpoint):
                shutil.rmtree(self._tmp, ignore_errors=True)


# ------------------------------------------------------------------- runs that must fail
@dataclass
class FailedRun:
    returncode: Optional[int]
    stdout: str
    stderr: str
    mounted: bool       # the mountpoint showed up in mountinfo at some point
    elapsed: float
    timed_out: bool
    stray_pids: list    # rangefs processes on the mountpoint still alive after the run


def run_expect_failure(args: Sequence[str], *, timeout: float = 30.0,
                       foreground: bool = True, binary: Optional[str] = None,
                       mountpoint: bool = True) -> FailedRun:
    """Runs `rangefs [-f] ARGS... MOUNTPOINT` (a fresh temporary mountpoint unless
    mountpoint=False), expecting it to exit on its own. Polls mountinfo while waiting: if the
    mountpoint shows up the run is stopped at once and reported with mounted=True. On
    timeout the process is killed and reported with timed_out=True. Never leaves anything
    mounted or running."""
    binary = binary or binary_path()
    tmp = tempfile.mkdtemp(prefix="rangefs-fail-")
    mp = os.path.join(tmp, "mnt")
    os.mkdir(mp)
    cmd = [binary] + (["-f"] if foreground else []) + list(args) + ([mp] if mountpoint else [])
    out_path, err_path = os.path.join(tmp, "stdout"), os.path.join(tmp, "stderr")
    mounted = False
    timed_out = False
    start = time.monotonic()
    try:
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                       start_new_session=True)
        try:
            deadline = start + timeout
            while process.poll() is None:
                if is_mounted(mp):
                    mounted = True
                    break
                if time.monotonic() >= deadline:
                    timed_out = True
                    break
                time.sleep(0.02)
            elapsed = time.monotonic() - start
            if is_mounted(mp):
                mounted = True
        finally:
            if mounted:
                force_unmount(mp)
            if process.poll() is None:
                kill_pid(process.pid)
            process.wait(timeout=15)
            stray = find_pids_for_mountpoint(binary, mp)  # e.g. a daemon that got away
            for pid in stray:
                kill_pid(pid)
            force_unmount(mp)
        with open(out_path, errors="replace") as f:
            stdout = f.read()
        with open(err_path, errors="replace") as f:
            stderr = f.read()
        return FailedRun(None if timed_out else process.returncode, stdout, stderr, mounted,
                         elapsed, timed_out, stray)
    finally:
        if not is_mounted(mp):
            shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class DaemonRun:
    returncode: Optional[int]
    stdout: str
    stderr: str
    elapsed: float
    mounted_at_return: bool
    mountpoint: str


class DaemonMount:
    """`rangefs ARGS... MOUNTPOINT` without -f: the command must return once the mount is
    usable. Context manager; cleanup unmounts and kills leftover daemons by PID."""

    def __init__(self, args: Sequence[str], *, binary: Optional[str] = None,
                 timeout: float = 30.0):
        self.binary = binary or binary_path()
        self.args = list(args)
        self.timeout = timeout
        self._tmp = tempfile.mkdtemp(prefix="rangefs-daemon-")
        self.mountpoint = os.path.join(self._tmp, "mnt")
        os.mkdir(self.mountpoint)
        self.result: Optional[DaemonRun] = None

    def __enter__(self) -> "DaemonMount":
        try:
            self.result = self.run()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()

    def run(self) -> DaemonRun:
        out_path = os.path.join(self._tmp, "stdout")
        err_path = os.path.join(self._tmp, "stderr")
        cmd = [self.binary, *self.args, self.mountpoint]
        start = time.monotonic()
        # Files, not pipes: a daemon that keeps inherited pipes open must not hang us.
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        try:
            returncode = process.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
            returncode = None
        elapsed = time.monotonic() - start
        mounted = is_mounted(self.mountpoint)  # checked at once: no polling allowed here
        with open(out_path, errors="replace") as f:
            stdout = f.read()
        with open(err_path, errors="replace") as f:
            stderr = f.read()
        return DaemonRun(returncode, stdout, stderr, elapsed, mounted, self.mountpoint)

    def daemon_pids(self) -> list[int]:
        return find_pids_for_mountpoint(self.binary, self.mountpoint)

    def abort(self) -> None:
        for pid in self.daemon_pids():
            kill_pid(pid)

    def call(self, fn: Callable, *args, timeout: float = 30.0, **kwargs):
        """Like Mount.call: on timeout kills the daemon (found by PID) and fails."""
        def give_up() -> BaseException:
            self.abort()
            return MountError(f"filesystem operation did not finish within {timeout}s")
        return call_within(timeout, give_up, fn, *args, **kwargs)

    def cleanup(self) -> None:
        pids = self.daemon_pids()
        if is_mounted(self.mountpoint):
            try:
                fusermount_unmount(self.mountpoint)
            except subprocess.TimeoutExpired:
                pass
        for pid in pids:
            if not wait_until(lambda: not pid_alive(pid), 5):
                kill_pid(pid)
        force_unmount(self.mountpoint)
        if not is_mounted(self.mountpoint):
            shutil.rmtree(self._tmp, ignore_errors=True)


def run_daemon(args: Sequence[str], **kwargs) -> DaemonMount:
    return DaemonMount(args, **kwargs)


# ------------------------------------------------------------------- misbehaving servers
class SilentListener:
    """A TCP listener on 127.0.0.1 that never answers. connect_hangs=False: connections
    complete (kernel backlog) but no byte ever comes back. connect_hangs=True: the accept
    queue is full, further SYNs are dropped, so connect() itself hangs. Context manager."""

    def __init__(self, connect_hangs: bool = False):
        import socket
        self._socket_mod = socket
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._fillers = []
        if connect_hangs:
            self.sock.listen(0)
            for _ in range(4):  # more than the queue holds
                c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                c.setblocking(False)
                try:
                    c.connect(("127.0.0.1", self.port))
                except BlockingIOError:
                    pass
                self._fillers.append(c)
            # Bounded check that the queue is really full: a new connect must not complete.
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probe.settimeout(0.5)
            try:
                probe.connect(("127.0.0.1", self.port))
                raise RuntimeError("could not fill the accept queue; connect does not hang")
            except (TimeoutError, self._socket_mod.timeout):
                pass
            finally:
                probe.close()
        else:
            self.sock.listen(64)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def close(self) -> None:
        for c in self._fillers:
            c.close()
        self.sock.close()

    def __enter__(self) -> "SilentListener":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ------------------------------------------------------------------------------ test data
def sha256_file(path: str, chunk: int = 4 * MiB) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                return h.hexdigest()
            h.update(block)


def write_random_file(path: str, size: int, chunk: int = 4 * MiB) -> str:
    """Writes size random bytes (os.urandom, in chunks); returns their sha256 hex digest."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        remaining = size
        while remaining:
            block = os.urandom(min(chunk, remaining))
            f.write(block)
            h.update(block)
            remaining -= len(block)
    return h.hexdigest()


def class_data_dir(cls: type, prefix: str, sizes: dict[str, int]) -> dict[str, str]:
    """For a test class's setUpClass: a temporary directory (cls.data) holding a random file of
    each size, removed after the class's tests. Returns each file's sha256 hex digest."""
    data = TempDir(prefix)
    cls.addClassCleanup(data.cleanup)
    cls.data = data.path
    return {name: write_random_file(os.path.join(data.path, name), size)
            for name, size in sizes.items()}


def make_sparse_file(path: str, size: int = 5 * GiB) -> dict[int, bytes]:
    """A sparse file of exactly `size` bytes (truncate) with distinct non-zero markers, most
    of them above 4 GiB and straddling the 2 GiB and 4 GiB boundaries. Returns
    {offset: bytes}."""
    assert size >= 4 * GiB + 8 * MiB
    markers = {
        0: b"RANGEFS-SPARSE-START",
        2 * GiB - 7: b"<2GiB-boundary-marker>",             # crosses 2^31
        4 * GiB - 9: b"<<4GiB-boundary-marker>>",           # crosses 2^32
        4 * GiB + 123: b"marker-above-4GiB+123:" + os.urandom(40),
        4 * GiB + 3 * MiB + 4095: b"page-straddling" + os.urandom(17),
        size - 10: b"LAST10BYTE",                           # ends exactly at EOF
    }
    with open(path, "wb") as f:
        f.truncate(size)
        for offset, data in markers.items():
            f.seek(offset)
            f.write(data)
    assert os.path.getsize(path) == size
    return markers


def make_zip(path: str) -> dict[str, bytes]:
    """A zip with several members, including stored and deflated ones, with fixed
    timestamps. Returns {member name: content}."""
    rng_text = "".join(f"line {i}: the quick brown fox jumps over the lazy dog\n"
                       for i in range(20000)).encode()
    members = [
        ("stored.bin", os.urandom(3 * MiB + 17), zipfile.ZIP_STORED),
        ("deflated.txt", rng_text, zipfile.ZIP_DEFLATED),
        ("dir/deflated-random.bin", os.urandom(1 * MiB + 5), zipfile.ZIP_DEFLATED),
        ("dir/sub/small.txt", b"hello from inside the archive\n", zipfile.ZIP_DEFLATED),
        ("empty.txt", b"", zipfile.ZIP_STORED),
    ]
    contents = {}
    with zipfile.ZipFile(path, "w") as zf:
        for i, (name, data, method) in enumerate(members):
            info = zipfile.ZipInfo(name, date_time=(2021, 3, 4, 5, 6, 8 + 2 * i))
            info.compress_type = method
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
            contents[name] = data
    return contents


def pread_file(path, length, offset):
    """Opens `path`, reads `length` bytes at `offset` with one pread, closes it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, length, offset)
    finally:
        os.close(fd)


def read_whole(path):
    with open(path, "rb") as f:
        return f.read()


# ------------------------------------------------------------------- access-log checks
_RANGE_RE = re.compile(r"^bytes=(\d+)-(\d+)$")


def parse_range(entry: dict) -> Optional[tuple[int, int]]:
    """(first, last) of an access-log entry whose Range header is exactly one inclusive
    `bytes=N-M`; None for anything else (no header, suffix or open ranges, several ranges)."""
    m = _RANGE_RE.match(entry.get("range", ""))
    return (int(m.group(1)), int(m.group(2))) if m else None


_RANGES_RE = re.compile(r"^bytes=\d+-\d+(,\d+-\d+)*$")


def parse_ranges(entry: dict) -> Optional[list[tuple[int, int]]]:
    """The inclusive ranges of an access-log entry whose Range header lists one or more
    `N-M` (a multi-range request, as rangefs sends when a read needs several pieces); None for
    anything else."""
    value = entry.get("range", "")
    if not _RANGES_RE.match(value):
        return None
    return [tuple(int(n) for n in part.split("-")) for part in value[len("bytes="):].split(",")]


def range_bytes(entry: dict) -> int:
    """Bytes of the file a GET asked for (the sum of its ranges); 0 without a usable Range."""
    return sum(last - first + 1 for first, last in (parse_ranges(entry) or []))


def gets_by_uri(entries: Sequence[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for e in entries:
        if e["method"] == "GET":
            out.setdefault(e["uri"], []).append(e)
    return out


def check_block_gets(tc: unittest.TestCase, entries: Sequence[dict],
                     size_by_uri: dict[str, int], block: int,
                     max_request: int = 16 * MiB,
                     unmount_started: Optional[float] = None) -> int:
    """What every request of the block cache must look like: only HEAD and GET; each GET
    for a known URL with one or more ranges N-M (several when a read needs several pieces at
    once), each N block-aligned, M+1 block-aligned or M the last byte of the file, answered
    206 with exactly the asked bytes (a multi-range answer also carries multipart headers, so
    at least them), and no range longer than the larger of one block and `max_request` (the
    documented longest request).

    unmount_started (time.time() just before the unmount): readahead still in flight when
    the file system goes away is abandoned, and nginx logs it with a short body. A short body
    is accepted only for a request nginx finished after that moment; returns how many."""
    cut_by_unmount = 0
    for e in entries:
        tc.assertIn(e["method"], ("HEAD", "GET"), e)
        if e["method"] != "GET":
            continue
        tc.assertIn(e["uri"], size_by_uri, f"GET for an unexpected URL: {e}")
        size = size_by_uri[e["uri"]]
        ranges = parse_ranges(e)
        tc.assertIsNotNone(ranges, f"GET without a bytes=N-M[,N-M...] Range: {e}")
        for first, last in ranges:
            tc.assertLessEqual(first, last, e)
            tc.assertEqual(first % block, 0,
                           f"range start not aligned to the {block}-byte block: {e}")
            tc.assertTrue((last + 1) % block == 0 or last == size - 1,
                          f"range end neither at a block boundary nor at EOF ({size}): {e}")
            tc.assertLess(last, size, f"range not clamped to EOF ({size}): {e}")
            tc.assertLessEqual(last - first + 1, max(block, max_request),
                               f"one range longer than the largest request rangefs makes: {e}")
        tc.assertEqual(e["status"], 206, e)
        asked = range_bytes(e)
        if (unmount_started is not None and e["body_bytes_sent"] < asked
                and e["msec"] >= unmount_started - 0.005):  # nginx's clock has 1 ms steps
            cut_by_unmount += 1
        elif len(ranges) == 1:
            tc.assertEqual(e["body_bytes_sent"], asked, f"short or long body (not at unmount): {e}")
        else:
            tc.assertGreater(e["body_bytes_sent"], asked, f"short multipart body: {e}")
    return cut_by_unmount


def assert_each_byte_fetched_once(tc: unittest.TestCase, gets: Sequence[dict], size: int,
                                  what: str = "") -> None:
    """The GETs of one file, sorted, tile [0, size) exactly: no gap, no overlap (no byte
    fetched twice), and their bodies add up to the file size."""
    ranges = sorted(r for e in gets for r in parse_ranges(e))
    pos = 0
    for first, last in ranges:
        tc.assertGreaterEqual(first, pos, f"{what}: bytes {first}-{min(last, pos - 1)} fetched "
                              f"twice (ranges {ranges})")
        tc.assertEqual(first, pos, f"{what}: bytes {pos}-{first - 1} never fetched")
        pos = last + 1
    tc.assertEqual(pos, size, f"{what}: fetched ranges end at {pos}, file size {size}")
    tc.assertEqual(sum(e["body_bytes_sent"] for e in gets if len(parse_ranges(e)) == 1)
                   + sum(range_bytes(e) for e in gets if len(parse_ranges(e)) > 1), size, what)


def proc_status_bytes(pid: int, field: str) -> int:
    """A memory field of /proc/PID/status (VmHWM, VmRSS, ...) in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                value, unit = line.split()[1:3]
                assert unit == "kB", line
                return int(value) * 1024
    raise KeyError(f"{field} not in /proc/{pid}/status")


def timed(fn: Callable, *args):
    """(fn's result or the OSError it raised, seconds taken)."""
    start = time.monotonic()
    try:
        result = fn(*args)
    except OSError as e:
        result = e
    return result, time.monotonic() - start


def pread_no_readahead(path, length, offset):
    """Like pread_file, but tells the kernel not to read ahead first (POSIX_FADV_RANDOM), so
    the filesystem is asked for the pages the read touches and nothing after them."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
        return os.pread(fd, length, offset)
    finally:
        os.close(fd)


def max_fuse_read_bytes() -> int:
    """Upper bound on one FUSE read request: max_pages_limit (default 256) pages."""
    import resource
    pages = 256
    try:
        with open("/proc/sys/fs/fuse/max_pages_limit") as f:
            pages = int(f.read())
    except (OSError, ValueError):
        pass
    return pages * resource.getpagesize()


def longest_demand_request(block: int) -> int:
    """The longest GET a single FUSE read can cause without readahead: the blocks a maximal
    read touches when it is not block-aligned (one more than it spans)."""
    return (-(-max_fuse_read_bytes() // block) + 1) * block


def run_threads(targets, timeout: float | None = None) -> None:
    """Runs the callables in threads, joins them (each for at most `timeout` seconds, when
    given) and re-raises the first failure. Callers bound their filesystem access themselves
    (Mount.run / Mount.call: a hung read kills the daemon, which makes every blocked read
    return)."""
    errors = []

    def wrap(fn):
        def body():
            try:
                fn()
            except BaseException as e:  # noqa: BLE001  (re-raised below)
                errors.append(e)
        return body

    threads = [threading.Thread(target=wrap(t), daemon=True) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    if errors:
        raise errors[0]
