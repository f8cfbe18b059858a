"""Process, mount and server plumbing for the rangefs benchmark (bench.py): bounded waits,
background daemons owned by PID, a LIFO of cleanups, nginx's access log read per phase, and
the nginx config tweaks the peers need. Standard library only."""

from __future__ import annotations

import json
import os
import signal
import shutil
import subprocess
import sys
import time
from typing import Callable, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "lib"))

import loopback_nginx  # noqa: E402  (path set up above)
from procfs import mounted_points, wait_until  # noqa: E402,F401  (also used by bench.py)

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
MB = 1_000_000  # rates are in MB/s (10^6), as curl, aria2c and link specs use

FUSERMOUNT = shutil.which("fusermount3") or "/usr/bin/fusermount3"


class BenchError(RuntimeError):
    """One measurement failed; the run goes on with the next."""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ================================================================================= helpers
def percentile(values: list[float], pct: float) -> Optional[float]:
    """Nearest-rank percentile (no interpolation); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil
    return ordered[int(rank) - 1]


def peak_rss_kib(pid: int) -> Optional[int]:
    """VmHWM of a live process, KiB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def is_mounted(path: str) -> bool:
    """Whether path (canonical: no symlinks, no trailing slash) is a mount point. Never touches
    the path itself: stat of a hung FUSE mount would block."""
    return path in mounted_points()


def tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 16 * KiB))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    # Peers sometimes dump binary bodies into their logs; keep it printable.
    text = "".join(c if c.isprintable() or c == "\n" else "?" for c in text)
    return "\n".join(text.splitlines()[-lines:])


def run_bounded(argv: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """subprocess.run that turns a timeout or a missing program into BenchError."""
    try:
        return subprocess.run(argv, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{argv[0]} took longer than {timeout:.0f} s") from None
    except OSError as e:
        raise BenchError(f"cannot run {argv[0]}: {e}") from None


# ============================================================================ process owner
class Daemon:
    """A background process started by us, in its own session (Ctrl-C in the terminal does
    not reach it; we stop it), output to a log file. stop() is bounded and idempotent."""

    def __init__(self, name: str, argv: list[str], log_path: str):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        with open(log_path, "ab") as out:
            try:
                self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                                stderr=out, start_new_session=True)
            except OSError as e:
                raise BenchError(f"cannot start {name}: {e}") from None
        self.pid = self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
            try:
                self.process.send_signal(sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def kill(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.kill()
                self.process.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass


class Cleanups:
    """LIFO of cleanup actions; each runs once, failures are reported, never raised."""

    def __init__(self) -> None:
        self._actions: list[tuple[str, Callable[[], None]]] = []

    def push(self, what: str, action: Callable[[], None]) -> Callable[[], None]:
        entry = (what, action)
        self._actions.append(entry)

        def run_now() -> None:
            if entry in self._actions:
                self._actions.remove(entry)
                _run_cleanup(what, action)
        return run_now

    def run_all(self) -> None:
        while self._actions:
            what, action = self._actions.pop()
            _run_cleanup(what, action)


def _run_cleanup(what: str, action: Callable[[], None]) -> None:
    try:
        action()
    except BaseException as e:  # noqa: BLE001  (cleanup must go on: KeyboardInterrupt too)
        log(f"cleanup of {what} failed: {e!r}")


# ==================================================================================== server
def bench_nginx_template() -> tuple[str, dict[str, bool]]:
    """loopback_nginx's config plus two things peers need, each applied only if the template
    still has the line it anchors on:
      autoindex   rclone's http backend finds files by listing the directory's HTML index
      accept206   httpfs2 0.1.4 insists on `Accept-Ranges: bytes` in every reply, and nginx
                  sends it only with 200. add_header runs before nginx's range filter has
                  set the status, so the header is keyed on the request having a Range."""
    template = loopback_nginx._CONF_TEMPLATE  # pylint: disable=protected-access
    features = {"autoindex": False, "accept206": False}
    if "autoindex off;" in template and "try_files $uri =404;" in template:
        template = template.replace("autoindex off;", "autoindex on;")
        template = template.replace("try_files $uri =404;", "try_files $uri $uri/ =404;")
        features["autoindex"] = True
    if "    log_format" in template and "etag on;" in template:
        template = template.replace(
            "    log_format",
            '    map $http_range $bench_accept_ranges {{ "" ""; default bytes; }}\n'
            '    log_format', 1)
        template = template.replace(
            "etag on;", "etag on;\n        add_header Accept-Ranges $bench_accept_ranges;", 1)
        features["accept206"] = True
    return template, features


class AccessLog:
    """Reads nginx's JSON access log incrementally, by byte offset."""

    def __init__(self, path: str):
        self.path = path

    def size(self) -> int:
        try:
            return os.path.getsize(self.path)
        except OSError:
            return 0

    def settle(self, quiet: float = 0.3, timeout: float = 5.0) -> int:
        """Waits until the log stops growing for `quiet` seconds (nginx logs a request when
        it finalizes it); returns the offset reached."""
        deadline = time.monotonic() + timeout
        last = self.size()
        last_change = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now = self.size()
            if now != last:
                last, last_change = now, time.monotonic()
            elif time.monotonic() - last_change >= quiet:
                break
        return last

    def entries(self, start: int, end: Optional[int] = None) -> list[dict]:
        with open(self.path, "rb") as f:
            f.seek(start)
            data = f.read() if end is None else f.read(max(0, end - start))
        out = []
        for line in data.split(b"\n")[:-1]:
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out

    @staticmethod
    def summarize(entries: list[dict]) -> dict:
        def num(entry: dict, key: str) -> int:
            try:
                return int(entry.get(key) or 0)
            except ValueError:
                return 0
        return {
            "requests": len(entries),
            "bytes": sum(num(e, "body_bytes_sent") for e in entries),
            "connections": len({e.get("connection") for e in entries}),
            "statuses": sorted({str(e.get("status")) for e in entries}),
        }


def range_summary(entries: list[dict], examples: int = 3) -> dict:
    """What the GETs of a phase asked for: how many carried several ranges (`bytes=a-b,c-d`),
    the most ranges in one request, the median length of one range, and a few Range headers
    as logged (the first ones, and the first multi-range ones)."""
    gets = [e for e in entries if e.get("method") == "GET"]
    headers = [str(e.get("range") or "") for e in gets]
    counts = [len(h.split(",")) for h in headers if h]
    lengths = []
    for h in headers:
        for spec in h.removeprefix("bytes=").split(","):
            first, _, last = spec.partition("-")
            if first.isdigit() and last.isdigit():
                lengths.append(int(last) - int(first) + 1)
    multi = [h for h in headers if "," in h]
    return {"gets": len(gets), "without_range": len(gets) - len(counts),
            "multi_range_requests": len(multi), "ranges": sum(counts),
            "max_ranges_per_request": max(counts, default=0),
            "median_range_kib": (sorted(lengths)[len(lengths) // 2] / KiB if lengths
                                 else None),
            "first_ranges": headers[:examples], "first_multi_ranges": multi[:examples]}


def kill_and_reap(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            proc.kill()
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        log(f"WARNING: process {proc.pid} did not exit after SIGKILL")
