"""One lifecycle for the real servers tests and benchmarks start on 127.0.0.1.

A PortProcess is a program started as a private instance: its config, pid file, logs and
scratch files live in a temporary directory of its own, it listens on a free 127.0.0.1 port,
and it is stopped by PID, its children too. The system services are never touched.

    start()    makes the temporary directory, then tries up to bind_attempts free ports: writes
               the config for the port, launches the program (its stdout and stderr go to
               stderr.log) and waits, at most start_timeout, until it is ready on the port. A
               try that fails is killed (SIGKILL, children too) and its logs go into the error
               of the last one. The directory is removed when no try worked.
    stop()     sends _stop_signal by PID, SIGKILL after a bound, and makes sure the children
               are gone too; the logs stay readable.
    cleanup()  stop() and removes the directory; also what leaving a `with` block does.

Subclasses (web_servers.WebServer, cache_tiers.CacheTier, loopback_nginx.LoopbackNginx) keep
what differs: the config and argv (_prepare), their environment (_environment), how they
stop (_stop_signal), their logs (_log_names, _fresh_files) and, where the listening socket
does not tell, when they are ready (_ready). Also here: the process helpers they share (free_port, child_pids,
stop_process_tree, owns_listener, find_binary) and their script mode (serve_until_signalled).

Standard library only.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import Callable, Optional

from procfs import pid_alive

__all__ = ["PortProcess", "PortProcessError", "free_port", "child_pids", "stop_process_tree",
           "listening_inodes", "owns_listener", "find_binary", "read_text",
           "serve_until_signalled"]


class PortProcessError(RuntimeError):
    """A server could not be started (the message carries its logs)."""


# ------------------------------------------------------------------------- process helpers
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_pids(pid: int) -> list[int]:
    """Direct children of pid (nginx workers of a master), from /proc."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(entry))
    return children


def stop_process_tree(process: subprocess.Popen, sig: int, timeout: float = 10.0) -> None:
    """Sends sig to a server process (by PID; SIGCONT first, to it and its children, in case a
    test stopped them), waits for it, SIGKILLs it after timeout, then makes sure the children
    it had are gone too (by PID, bounded)."""
    if process.poll() is not None:
        return
    children = child_pids(process.pid)
    try:
        os.kill(process.pid, signal.SIGCONT)
        for child in children:
            os.kill(child, signal.SIGCONT)
        os.kill(process.pid, sig)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.kill(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)
    deadline = time.monotonic() + 5
    for child in children:
        while pid_alive(child) and time.monotonic() < deadline:
            time.sleep(0.02)
        if pid_alive(child):
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass


def listening_inodes(port: int) -> set[int]:
    """Socket inodes listening on 127.0.0.1:port (or 0.0.0.0:port), from /proc/net/tcp."""
    inodes = set()
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()
                addr, port_hex = fields[1].split(":")
                if (int(port_hex, 16) == port and fields[3] == "0A"
                        and addr in ("0100007F", "00000000")):
                    inodes.add(int(fields[9]))
    except OSError:
        pass
    return inodes


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def owns_listener(pid: int, port: int) -> bool:
    """Whether pid (or a child of it) holds the socket listening on port: tells our server's
    socket apart from someone else's that took the port first."""
    listening = listening_inodes(port)
    if not listening:
        return False
    return any(_socket_inodes(p) & listening for p in [pid, *child_pids(pid)])


def find_binary(*candidates: str) -> Optional[str]:
    """The first candidate (a name looked up in PATH, or an absolute path) that is an
    executable file; None if none is (sbin directories are not always in PATH)."""
    for candidate in candidates:
        found = shutil.which(candidate) or candidate
        if os.path.isabs(found) and os.access(found, os.X_OK):
            return found
    return None


def read_text(path: str) -> str:
    """The file's text ("" if it cannot be read)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


# ------------------------------------------------------------------------------- lifecycle
class PortProcess:
    """A program on 127.0.0.1:<free port> with a temporary directory of its own (workdir).
    Context manager. Not thread-safe; one owner starts and stops it."""

    kind = ""
    # What start() raises; each family has its own subclass of PortProcessError.
    error: type[PortProcessError] = PortProcessError
    # The temporary directory is named {_workdir_prefix}{kind}-XXXXXXXX.
    _workdir_prefix = ""
    # What stop() sends first (SIGKILL follows after a bound).
    _stop_signal = signal.SIGTERM
    # The program's own logs in workdir, which logs() returns before stderr.log.
    _log_names: tuple[str, ...] = ("error.log",)
    # Files in workdir emptied before each try, so that a log holds only the running try.
    _fresh_files: tuple[str, ...] = ()

    def __init__(self, *, start_timeout: float, bind_attempts: int):
        self.start_timeout = start_timeout
        self.bind_attempts = bind_attempts
        self.workdir: Optional[str] = None
        self.port: Optional[int] = None
        self.process: Optional[subprocess.Popen] = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise self.error("not started")
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def logs(self) -> str:
        """Everything the program wrote about itself (its own logs, then its stderr)."""
        w = self.workdir or ""
        return "".join(read_text(os.path.join(w, name)) for name in (*self._log_names,
                                                                     "stderr.log"))

    def start(self) -> "PortProcess":
        if self.process is not None:
            raise self.error("already started")
        self.workdir = tempfile.mkdtemp(prefix=f"{self._workdir_prefix}{self.kind}-")
        try:
            last_error = ""
            for _ in range(self.bind_attempts):
                port = self._next_port()
                ok, last_error = self._try_start(port)
                if ok:
                    self.port = port
                    return self
            raise self.error(f"{self._name()} did not start after {self.bind_attempts} "
                             f"attempt(s):\n{last_error}")
        except BaseException:
            self._remove_workdir()
            raise

    def _try_start(self, port: int) -> tuple[bool, str]:
        assert self.workdir is not None
        for name in self._fresh_files:
            open(os.path.join(self.workdir, name), "w").close()
        argv = self._prepare(port)
        extra = self._environment()
        env = dict(os.environ, **extra) if extra else None
        with open(os.path.join(self.workdir, "stderr.log"), "wb") as stderr_file:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stderr_file,
                                       stderr=stderr_file, env=env, cwd=self.workdir,
                                       start_new_session=True)
        try:
            deadline = time.monotonic() + self.start_timeout
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    break
                if self._ready(process, port):
                    self.process = process
                    return True, ""
                time.sleep(0.02)
        finally:
            # Not ready in time, exited, or interrupted while waiting: no process is left.
            if self.process is not process:
                stop_process_tree(process, signal.SIGKILL)
        return False, (f"port {port}, command {argv}, exit status {process.returncode}:\n"
                       f"{self.logs()}")

    def stop(self) -> None:
        """Stops the program by PID (children too) and waits for it; logs stay until
        cleanup()."""
        if self.process is not None:
            stop_process_tree(self.process, self._stop_signal)

    def cleanup(self) -> None:
        self.stop()
        self._remove_workdir()

    def _remove_workdir(self) -> None:
        if self.workdir and os.path.isdir(self.workdir):
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir = None

    def __enter__(self):
        # The start_* functions return a started instance, and `with start_...(...)` must work.
        return self if self.process is not None else self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()

    def _write(self, name: str, text: str) -> str:
        """Writes workdir/name; returns its path."""
        assert self.workdir is not None
        path = os.path.join(self.workdir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    # ------------------------------------------------------------------ per-program parts
    def _prepare(self, port: int) -> list[str]:
        """Writes the config for `port` into workdir; returns the argv."""
        raise NotImplementedError

    def _environment(self) -> dict[str, str]:
        """Variables set for the program, over the caller's environment (after _prepare)."""
        return {}

    def _ready(self, process: subprocess.Popen, port: int) -> bool:
        """Whether the program serves on port: the listening socket is held by the process
        or a child of it, not by someone who took the port first. (A request sent before a
        worker accepts waits in the backlog.)"""
        return owns_listener(process.pid, port)

    def _next_port(self) -> int:
        """The port of the next try."""
        return free_port()

    def _name(self) -> str:
        """How errors name the program."""
        return self.kind


def serve_until_signalled(make: Callable[[], PortProcess],
                          announce: Callable[[PortProcess], None]) -> int:
    """Script use: with SIGINT/SIGTERM caught first, starts make()'s program, announces it,
    serves until a signal (returns 0) or until the program exits by itself (returns 1, its
    logs on stderr); stops it and removes its directory either way."""
    stop_requested = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda s, f: stop_requested.append(s))
    with make() as server:
        announce(server)
        while not stop_requested and server.running:
            time.sleep(0.2)
        if not server.running and not stop_requested:
            print(f"{server.kind} exited unexpectedly:\n{server.logs()}", file=sys.stderr)
            return 1
    return 0
