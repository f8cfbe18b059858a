#!/usr/bin/env python3
"""Real web servers serving a directory as a listing on 127.0.0.1, for tests and benchmarks.

Every server the directory-mount feature must understand, each started as a private instance:
its config, pid file, logs and scratch files live in a temporary directory, it listens on a
free 127.0.0.1 port, and it is stopped by PID. The system services are never touched.

    with start_server("apache", "fancy", "/some/docroot") as server:
        print(server.url)                       # http://127.0.0.1:PORT/  (the root listing)
        print(server.pid, server.access_log_path)
        entries = server.access_log_entries()   # [{"method", "uri", "status", "range"}, ...]

Servers and listing modes (SERVERS lists them all):
    nginx     html | json | xml          autoindex, autoindex_format (via loopback_nginx.py)
    apache    plain | fancy | htmltable  mod_autoindex: no FancyIndexing / FancyIndexing /
                                         FancyIndexing HTMLTable (apache2 -X, mpm_event)
    lighttpd  html                       mod_dirlisting (lighttpd -D)
    caddy     browse                     file_server browse (answers JSON to
                                         Accept: application/json)
    python    html                       python3 -m http.server (ignores Range: always 200)

stop() ends the process (by PID, bounded, SIGKILL as a last resort) and keeps the logs
readable; cleanup() (also what leaving the `with` block does) stops and removes the temporary
directory. The interface is WebServer's (web_server_base.py), the start and stop
port_process.PortProcess's. Servers log a request when they finish it, a moment after the client got the last
byte: call quiet_access_log_entries() or stop() before counting.

Script use (serves until SIGINT/SIGTERM):

    python3 scripts/lib/web_servers.py SERVER MODE DOCROOT

Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from typing import Optional

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import loopback_nginx  # noqa: E402  (path set up above)
from port_process import find_binary, read_text, serve_until_signalled  # noqa: E402
from web_server_base import WebServer, WebServerError  # noqa: E402

__all__ = ["SERVERS", "WebServer", "WebServerError", "start_server", "server_available",
           "NginxServer", "ApacheServer", "LighttpdServer", "CaddyServer", "PythonServer"]


# ---------------------------------------------------------------------------- access logs
# The line formats of the servers' access logs (see WebServer.access_log_entries).
_REQUEST_LINE_RE = re.compile(r"^(\S+) (\S+)(?: HTTP/[0-9.]+)?$")


def _tab_entry(line: str) -> Optional[dict]:
    """`STATUS<TAB>REQUEST LINE<TAB>RANGE` (the format given to Apache and lighttpd)."""
    parts = line.split("\t")
    if len(parts) < 3 or not parts[0].isdigit():
        return None
    m = _REQUEST_LINE_RE.match(parts[1])
    if not m:
        return None
    rng = parts[2]
    return {"method": m.group(1), "uri": m.group(2), "status": int(parts[0]),
            "range": "" if rng == "-" else rng}


# 127.0.0.1 - - [07/Dec/2026 09:37:00] "GET /a HTTP/1.1" 200 -
_PYTHON_LINE_RE = re.compile(r'\] "(\S+) (\S+) HTTP/[0-9.]+" (\d{3}) ')


# ------------------------------------------------------------------------------ the servers
class NginxServer(WebServer):
    """nginx autoindex in autoindex_format html, json or xml: loopback_nginx.LoopbackNginx
    (which has its own start, port retry and graceful stop) behind this interface."""

    kind = "nginx"
    modes = loopback_nginx.AUTOINDEX_FORMATS

    def __init__(self, docroot: str, mode: Optional[str] = None, **kwargs):
        super().__init__(docroot, mode, **kwargs)
        self._nginx: Optional[loopback_nginx.LoopbackNginx] = None

    def start(self) -> "NginxServer":
        if self._nginx is not None:
            raise WebServerError("already started")
        try:
            self._nginx = loopback_nginx.LoopbackNginx(
                self.docroot, autoindex=self.mode, start_timeout=self.start_timeout,
                bind_attempts=self.bind_attempts).start()
        except loopback_nginx.NginxError as e:
            self._nginx = None
            raise WebServerError(str(e)) from e
        self.workdir = self._nginx.prefix
        self.port = self._nginx.port
        self.process = self._nginx.process
        return self

    def stop(self) -> None:
        if self._nginx is not None:
            self._nginx.stop()

    def cleanup(self) -> None:
        if self._nginx is not None:
            self._nginx.cleanup()
        self.workdir = None

    @property
    def nginx(self) -> loopback_nginx.LoopbackNginx:
        """The LoopbackNginx underneath (its richer access-log entries, pause/resume)."""
        assert self._nginx is not None
        return self._nginx

    def access_log_entries(self) -> list[dict]:
        if self._nginx is None or self._nginx.prefix is None:
            return []
        return self._nginx.access_log_entries()

    @classmethod
    def binary(cls) -> Optional[str]:
        return loopback_nginx.find_nginx()


_APACHE_MODULES_DIR = "/usr/lib/apache2/modules"
_APACHE_INDEX_OPTIONS = {
    "plain": "-FancyIndexing Charset=UTF-8",
    "fancy": "FancyIndexing Charset=UTF-8",
    "htmltable": "FancyIndexing HTMLTable Charset=UTF-8",
}


class ApacheServer(WebServer):
    """Apache httpd mod_autoindex, one process (-X) with mpm_event's threads. Modes: plain (a
    <ul> list), fancy (FancyIndexing: a <pre> table, names cut at 23 columns in the text but
    whole in the href) and htmltable (FancyIndexing HTMLTable).

    Run as root, Apache refuses `User root`; with -X and no User it keeps the caller's
    identity (after logging an AH02155 alert), so it can read a private docroot."""

    kind = "apache"
    modes = ("plain", "fancy", "htmltable")

    @classmethod
    def binary(cls) -> Optional[str]:
        return find_binary("apache2", "/usr/sbin/apache2", "httpd")

    @staticmethod
    def _built_in_modules(binary: str) -> set[str]:
        """Modules compiled in (`apache2 -l`: mod_log_config.c, mod_unixd.c, ...): loading
        one of them again is a configuration error."""
        out = subprocess.run([binary, "-l"], capture_output=True, text=True, timeout=10).stdout
        return {line.strip()[:-2] for line in out.splitlines() if line.strip().endswith(".c")}

    def _prepare(self, port: int) -> list[str]:
        assert self.workdir is not None
        binary = self.binary()
        if binary is None:
            raise WebServerError("apache2 not found")
        built_in = self._built_in_modules(binary)
        loads = []
        for name in ("mpm_event", "authz_core", "dir", "autoindex", "mime", "log_config"):
            if f"mod_{name}" not in built_in:
                loads.append(f"LoadModule {name}_module {_APACHE_MODULES_DIR}/mod_{name}.so")
        w = self.workdir
        conf = "\n".join([
            "# Generated by web_servers.py; lives only as long as the server.",
            f'ServerRoot "{w}"',
            f'PidFile "{w}/apache2.pid"',
            f'DefaultRuntimeDir "{w}"',
            f"Mutex file:{w} default",
            f"Listen 127.0.0.1:{port}",
            "ServerName 127.0.0.1",
            *loads,
            # -X runs one process; Debian's packaged Apache serves 150 requests at once
            # (MaxRequestWorkers over several processes). One process of 64 threads stays closer
            # to that than mpm_event's default 25, which would make the test server, not the
            # client, the bound on parallel requests.
            "ThreadLimit 64",
            "ThreadsPerChild 64",
            "MaxRequestWorkers 64",
            f'ErrorLog "{w}/error.log"',
            "LogLevel warn",
            # STATUS, the request line (Apache escapes quotes and control bytes) and Range.
            r'LogFormat "%>s\t%r\t%{Range}i\t%B" rangefs',
            f'CustomLog "{w}/access.log" rangefs',
            "TypesConfig /etc/mime.types",
            "ServerTokens Prod",
            f'DocumentRoot "{self.docroot}"',
            f'<Directory "{self.docroot}">',
            "    Options +Indexes",
            "    AllowOverride None",
            "    Require all granted",
            f"    IndexOptions {_APACHE_INDEX_OPTIONS[self.mode]}",
            "</Directory>",
            "",
        ])
        conf_path = self._write("httpd.conf", conf)
        return [binary, "-X", "-d", w, "-f", conf_path]

    def _parse_log_line(self, line: str) -> Optional[dict]:
        return _tab_entry(line)


class LighttpdServer(WebServer):
    """lighttpd mod_dirlisting (lighttpd -D, in the foreground). Its access log is buffered
    (written out about once a second or on SIGHUP): count requests with
    quiet_access_log_entries(), after flush_access_log(), or after stop()."""

    kind = "lighttpd"
    modes = ("html",)

    def flush_access_log(self) -> None:
        """SIGHUP: lighttpd flushes and reopens its logs on the next turn of its event loop
        (up to a second when idle) and says so in the error log; waits for that line."""
        if not self.running:
            return
        before = read_text(self.error_log_path).count("logfiles cycled")
        os.kill(self.pid, signal.SIGHUP)
        deadline = time.monotonic() + 5
        while (time.monotonic() < deadline and self.running
               and read_text(self.error_log_path).count("logfiles cycled") <= before):
            time.sleep(0.01)

    @classmethod
    def binary(cls) -> Optional[str]:
        return find_binary("lighttpd", "/usr/sbin/lighttpd")

    def _prepare(self, port: int) -> list[str]:
        assert self.workdir is not None
        binary = self.binary()
        if binary is None:
            raise WebServerError("lighttpd not found")
        w = self.workdir
        conf = "\n".join([
            "# Generated by web_servers.py; lives only as long as the server.",
            'server.modules = ( "mod_dirlisting", "mod_accesslog" )',
            f'server.document-root = "{self.docroot}"',
            'server.bind = "127.0.0.1"',
            f"server.port = {port}",
            f'server.pid-file = "{w}/lighttpd.pid"',
            f'server.errorlog = "{w}/error.log"',
            f'server.upload-dirs = ( "{w}" )',
            'server.tag = "lighttpd"',
            'dir-listing.activate = "enable"',
            'dir-listing.encoding = "utf-8"',
            f'accesslog.filename = "{w}/access.log"',
            r'accesslog.format = "%s\t%r\t%{Range}i\t%b"',
            'mimetype.assign = ( ".txt" => "text/plain", ".html" => "text/html", '
            '"" => "application/octet-stream" )',
            "",
        ])
        conf_path = self._write("lighttpd.conf", conf)
        return [binary, "-D", "-f", conf_path]

    def _parse_log_line(self, line: str) -> Optional[dict]:
        return _tab_entry(line)


class CaddyServer(WebServer):
    """Caddy `file_server browse` (HTML, and JSON to `Accept: application/json`), admin API
    off, automatic HTTPS off, HOME and XDG_* pointed into the temporary directory."""

    kind = "caddy"
    modes = ("browse",)

    @classmethod
    def binary(cls) -> Optional[str]:
        return find_binary("caddy", "/usr/bin/caddy")

    def _prepare(self, port: int) -> list[str]:
        assert self.workdir is not None
        binary = self.binary()
        if binary is None:
            raise WebServerError("caddy not found")
        w = self.workdir
        for sub in ("home", "data", "config"):
            os.makedirs(os.path.join(w, sub), exist_ok=True)
        caddyfile = "\n".join([
            "# Generated by web_servers.py; lives only as long as the server.",
            "{",
            "    admin off",
            "    auto_https off",
            f"    storage file_system {w}/data",
            "}",
            f"http://127.0.0.1:{port} {{",
            "    bind 127.0.0.1",
            f'    root * "{self.docroot}"',
            "    file_server browse",
            "    log {",
            f"        output file {w}/access.log {{",
            "            roll_disabled",
            "        }",
            "        format json",
            "    }",
            "}",
            "",
        ])
        path = self._write("Caddyfile", caddyfile)
        return [binary, "run", "--config", path, "--adapter", "caddyfile"]

    def _environment(self) -> dict[str, str]:
        w = self.workdir
        return {"HOME": f"{w}/home", "XDG_DATA_HOME": f"{w}/data",
                "XDG_CONFIG_HOME": f"{w}/config"}

    def _parse_log_line(self, line: str) -> Optional[dict]:
        try:
            record = json.loads(line)
            request = record["request"]
            rng = request.get("headers", {}).get("Range", [""])
            return {"method": request["method"], "uri": request["uri"],
                    "status": int(record["status"]), "range": rng[0] if rng else ""}
        except (ValueError, KeyError, TypeError):
            return None


class PythonServer(WebServer):
    """`python3 -m http.server` (threaded). Its log is its stderr, kept as the access log. It
    ignores Range: a ranged GET answers 200 with the whole file."""

    kind = "python"
    modes = ("html",)

    @classmethod
    def binary(cls) -> Optional[str]:
        return sys.executable or find_binary("python3")

    def _prepare(self, port: int) -> list[str]:
        return [self.binary() or "python3", "-u", "-m", "http.server", "--bind", "127.0.0.1",
                str(port), "--directory", self.docroot]

    def _environment(self) -> dict[str, str]:
        return {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}

    @property
    def access_log_path(self) -> str:
        assert self.workdir is not None
        return os.path.join(self.workdir, "stderr.log")

    def _parse_log_line(self, line: str) -> Optional[dict]:
        m = _PYTHON_LINE_RE.search(line)
        if not m:
            return None
        return {"method": m.group(1), "uri": m.group(2), "status": int(m.group(3)),
                "range": ""}


_CLASSES = {cls.kind: cls for cls in (NginxServer, ApacheServer, LighttpdServer, CaddyServer,
                                      PythonServer)}

# Every (server, mode) pair this module can start.
SERVERS: tuple[tuple[str, str], ...] = tuple(
    (kind, mode) for kind, cls in _CLASSES.items() for mode in cls.modes)


def server_available(kind: str) -> bool:
    """Whether the server's binary is installed."""
    return _CLASSES[kind].binary() is not None


def start_server(kind: str, mode: Optional[str], docroot: str, **kwargs) -> WebServer:
    """Starts `kind` (nginx, apache, lighttpd, caddy, python) in `mode` (None: its first)
    serving docroot; returns the running server. Raises WebServerError."""
    if kind not in _CLASSES:
        raise WebServerError(f"unknown server {kind!r}; known: {sorted(_CLASSES)}")
    return _CLASSES[kind](docroot, mode, **kwargs).start()


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description="Serve a directory listing with a real server on 127.0.0.1 until "
                    "SIGINT/SIGTERM.")
    parser.add_argument("server", choices=sorted(_CLASSES))
    parser.add_argument("mode", nargs="?", default=None)
    parser.add_argument("docroot")
    args = parser.parse_args(argv)

    def announce(server: WebServer) -> None:
        print(server.url, flush=True)
        print(f"pid {server.pid}, access log {server.access_log_path}", file=sys.stderr,
              flush=True)

    return serve_until_signalled(lambda: start_server(args.server, args.mode, args.docroot),
                                 announce)


if __name__ == "__main__":
    sys.exit(main())
