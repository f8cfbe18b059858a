"""Small process and mount helpers shared by the integration tests and the benchmark.

Standard library only. Nothing here touches a mount point itself: stat of a hung FUSE mount
blocks, so mounts are read from /proc/self/mountinfo.
"""

from __future__ import annotations

import time
from typing import Callable

__all__ = ["wait_until", "unescape_mountinfo", "mounted_points", "pid_alive"]


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Bounded polling. Returns whether predicate became true within timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def unescape_mountinfo(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo (octal)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 4 <= len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounted_points() -> dict[str, str]:
    """Mount point -> filesystem type, from /proc/self/mountinfo."""
    result = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            result[unescape_mountinfo(fields[4])] = fields[sep + 1]
    return result


def pid_alive(pid: int) -> bool:
    """True for a live process; a zombie counts as gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in (b"Z", b"X")
