"""WebServer: what every server of web_servers.py offers over port_process.PortProcess's
lifecycle (free port, start, stop by PID, cleanup): its root URL, its error log and its access
log, each line parsed into {"method", "uri", "status": int, "range"} ("uri" the request
target as sent, percent-encoded, with the query; "range" the Range header or ""). The servers
themselves, and start_server(), are in web_servers.py.

Standard library only.
"""

from __future__ import annotations

import collections
import os
import time
from typing import Optional

from port_process import PortProcess, PortProcessError

__all__ = ["WebServer", "WebServerError"]


class WebServerError(PortProcessError):
    """A server could not be started (the message carries its logs)."""


class WebServer(PortProcess):
    """A real server on 127.0.0.1:<free port> serving `docroot` with directory listings.
    Context manager. Not thread-safe; one owner starts and stops it. The lifecycle (free
    ports, start, stop by PID, cleanup) is port_process.PortProcess's."""

    modes: tuple[str, ...] = ()
    error = WebServerError
    _workdir_prefix = "web-"
    _fresh_files = ("access.log", "error.log")

    def __init__(self, docroot: str, mode: Optional[str] = None, *, start_timeout: float = 15.0,
                 bind_attempts: int = 5):
        self.docroot = os.path.abspath(docroot)
        if not os.path.isdir(self.docroot):
            raise WebServerError(f"document root {self.docroot} is not a directory")
        self.mode = mode or self.modes[0]
        if self.mode not in self.modes:
            raise WebServerError(f"{self.kind}: mode must be one of {self.modes}, "
                                 f"not {self.mode!r}")
        super().__init__(start_timeout=start_timeout, bind_attempts=bind_attempts)

    # ------------------------------------------------------------------------- interface
    @property
    def url(self) -> str:
        """The root directory's URL, with its trailing slash: http://127.0.0.1:PORT/"""
        if self.port is None:
            raise WebServerError("not started")
        return f"http://127.0.0.1:{self.port}/"

    @property
    def access_log_path(self) -> str:
        assert self.workdir is not None
        return os.path.join(self.workdir, "access.log")

    @property
    def error_log_path(self) -> str:
        assert self.workdir is not None
        return os.path.join(self.workdir, "error.log")

    def access_log_entries(self) -> list[dict]:
        """Every complete access-log line, parsed: method, uri, status (int), range."""
        try:
            with open(self.access_log_path, "rb") as f:
                data = f.read()
        except OSError:
            return []
        entries = []
        for raw in data.split(b"\n")[:-1]:  # the last one may be half written
            entry = self._parse_log_line(raw.decode("utf-8", errors="replace"))
            if entry is not None:
                entries.append(entry)
        return entries

    def quiet_access_log_entries(self, quiet: float = 0.3, bound: float = 10.0) -> list[dict]:
        """The access log once it has not grown for `quiet` seconds (at most `bound`),
        flushing the server's log buffer (flush_access_log) before each look."""
        deadline = time.monotonic() + bound
        self.flush_access_log()
        entries = self.access_log_entries()
        while time.monotonic() < deadline:
            time.sleep(quiet)
            self.flush_access_log()
            now = self.access_log_entries()
            if len(now) == len(entries):
                break
            entries = now
        return entries

    def flush_access_log(self) -> None:
        """Makes the lines of finished requests reach the file (a no-op where the server
        writes each line as the request ends)."""

    def request_counts(self, entries: Optional[list[dict]] = None) -> collections.Counter:
        """Requests per method (GET, HEAD, ...) in the access log (or in `entries`)."""
        if entries is None:
            entries = self.access_log_entries()
        return collections.Counter(e["method"] for e in entries)

    def clear_access_log(self) -> None:
        """Truncates the access log; the servers append, so later lines start at 0."""
        with open(self.access_log_path, "r+b") as f:
            f.truncate(0)

    def error_log(self) -> str:
        """The error log, then stderr."""
        return self.logs()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind}/{self.mode} {self.url if self.port else ''}>"

    def _name(self) -> str:
        return f"{self.kind} ({self.mode})"

    # ----------------------------------------------------------------- per-server parts
    def _parse_log_line(self, line: str) -> Optional[dict]:
        raise NotImplementedError

    @classmethod
    def binary(cls) -> Optional[str]:
        raise NotImplementedError


