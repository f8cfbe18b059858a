#!/usr/bin/env python3
"""Real HTTP cache tiers in front of one origin, on 127.0.0.1, for tests and benchmarks.

What users put between many rangefs mounts and an origin, each started as a private instance
(config, pid file, logs and cache in a temporary directory, a free 127.0.0.1 port, stopped by
PID; the system services are never touched). Each is a forward proxy for that origin: rangefs
reaches it with `--proxy http://127.0.0.1:PORT`, and libcurl then sends absolute-form requests
(`GET http://127.0.0.1:ORIGINPORT/file`). nginx (no host in its key) and Varnish (its VCL sets
one Host) share entries however a client writes the origin's host; Squid keys on the URL as
written, host lower-cased: `127.0.0.1` and `localhost` are two entries, two origin fetches.

    with start_tier("varnish", origin.base_url) as tier:
        print(tier.proxy_url)                   # http://127.0.0.1:PORT

Tiers (TIERS lists them): nginx (proxy_cache + slice), varnish, squid; each class says how it
is set up. Each answers with a header saying hit or miss (nginx X-Cache-Status, Varnish and
Squid X-Cache). The origin sends no Cache-Control, so each tier keeps what it fetched for a day
(their defaults would expire it within minutes and revalidate at the origin).

stop() ends the process (and its children) by PID and keeps the logs; cleanup() (also leaving
the `with` block) stops it and removes the temporary directory.

Script use, serving until SIGINT/SIGTERM: `python3 scripts/lib/cache_tiers.py TIER ORIGIN_URL`.
Standard library only.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from typing import Optional

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from loopback_nginx import find_nginx, free_port, stop_process_tree  # noqa: E402
from web_servers import owns_listener  # noqa: E402

__all__ = ["TIERS", "CacheTier", "CacheTierError", "NginxSliceTier", "VarnishTier",
           "SquidTier", "start_tier", "tier_available"]

MiB = 1024 * 1024


class CacheTierError(RuntimeError):
    """A tier could not be started (the message carries its logs)."""


def _read(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


class CacheTier:
    """A cache tier on 127.0.0.1:<free port> in front of `origin` (http://127.0.0.1:PORT).
    Context manager. Not thread-safe; one owner starts and stops it."""

    kind = ""
    _stop_signal = signal.SIGTERM
    _log_names: tuple[str, ...] = ("error.log",)

    def __init__(self, origin: str, *, start_timeout: float = 30.0, bind_attempts: int = 5):
        parsed = urllib.parse.urlsplit(origin)
        if parsed.scheme != "http" or not parsed.hostname or not parsed.port:
            raise CacheTierError(f"origin must be http://HOST:PORT, not {origin!r}")
        self.origin_host = parsed.hostname.lower()
        self.origin_port = parsed.port
        self.start_timeout = start_timeout
        self.bind_attempts = bind_attempts
        self.workdir: Optional[str] = None
        self.port: Optional[int] = None
        self.process: Optional[subprocess.Popen] = None

    @property
    def canonical_host(self) -> str:
        """The Host nginx and Varnish send the origin (Varnish's hash includes it)."""
        return f"{self.origin_host}:{self.origin_port}"

    @property
    def proxy_url(self) -> str:
        if self.port is None:
            raise CacheTierError("not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def logs(self) -> str:
        """Everything the tier wrote about itself (its error log and stderr)."""
        w = self.workdir or ""
        return "".join(_read(os.path.join(w, name)) for name in (*self._log_names, "stderr.log"))

    def start(self) -> "CacheTier":
        if self.process is not None:
            raise CacheTierError("already started")
        self.workdir = tempfile.mkdtemp(prefix=f"tier-{self.kind}-")
        try:
            last_error = ""
            for _ in range(self.bind_attempts):
                port = free_port()
                ok, last_error = self._try_start(port)
                if ok:
                    self.port = port
                    return self
            raise CacheTierError(f"{self.kind} did not start after {self.bind_attempts} "
                                 f"attempt(s):\n{last_error}")
        except BaseException:
            self._remove_workdir()
            raise

    def _try_start(self, port: int) -> tuple[bool, str]:
        assert self.workdir is not None
        argv = self._prepare(port)
        stderr_path = os.path.join(self.workdir, "stderr.log")
        with open(stderr_path, "wb") as stderr_file:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stderr_file,
                                       stderr=stderr_file, cwd=self.workdir,
                                       start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            # The listening socket held by the process or a child of it, not by someone who
            # took the port first. (A request sent before Varnish's child accepts waits in
            # the backlog.)
            if owns_listener(process.pid, port):
                self.process = process
                return True, ""
            time.sleep(0.02)
        stop_process_tree(process, signal.SIGKILL)
        return False, (f"port {port}, command {argv}, exit status {process.returncode}:\n"
                       f"{self.logs()}")

    def stop(self) -> None:
        """Stops the tier by PID (children too) and waits for it; logs stay until cleanup()."""
        if self.process is not None:
            stop_process_tree(self.process, self._stop_signal)

    def cleanup(self) -> None:
        self.stop()
        self._remove_workdir()

    def _remove_workdir(self) -> None:
        if self.workdir and os.path.isdir(self.workdir):
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir = None

    def __enter__(self) -> "CacheTier":
        return self if self.process is not None else self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()

    def _prepare(self, port: int) -> list[str]:
        """Writes the config for `port` into workdir; returns the argv."""
        raise NotImplementedError

    @classmethod
    def binary(cls) -> Optional[str]:
        raise NotImplementedError

    def _write(self, name: str, text: str) -> str:
        assert self.workdir is not None
        path = os.path.join(self.workdir, name)
        with open(path, "w") as f:
            f.write(text)
        return path


def _find(*candidates: str) -> Optional[str]:
    for candidate in candidates:
        found = shutil.which(candidate) or candidate
        if os.path.isabs(found) and os.access(found, os.X_OK):
            return found
    return None


class NginxSliceTier(CacheTier):
    """nginx proxy_cache + slice, as nginx's documentation sets up the slice module. nginx
    takes absolute-form request targets ($uri is the path) and passes every request to the
    one origin. Access log: access.log, one JSON object a line, with $upstream_cache_status."""

    kind = "nginx"
    _stop_signal = signal.SIGQUIT  # graceful: finish requests, flush logs
    SLICE = 1 * MiB

    @classmethod
    def binary(cls) -> Optional[str]:
        return find_nginx()

    def _prepare(self, port: int) -> list[str]:
        w = self.workdir
        assert w is not None
        os.makedirs(f"{w}/tmp", exist_ok=True)
        os.makedirs(f"{w}/cache", exist_ok=True)
        log = ('{"method":"$request_method","uri":"$request_uri","status":"$status",'
               '"range":"$http_range","cache":"$upstream_cache_status",'
               '"body_bytes_sent":"$body_bytes_sent"}')
        conf = f"""# Generated by cache_tiers.py; lives only as long as the tier.
{"user root;" if os.geteuid() == 0 else ""}
daemon off;
master_process on;
worker_processes 1;
pid {w}/nginx.pid;
lock_file {w}/nginx.lock;
error_log {w}/error.log info;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {w}/tmp/body;
    proxy_temp_path {w}/tmp/proxy;
    fastcgi_temp_path {w}/tmp/fastcgi;
    uwsgi_temp_path {w}/tmp/uwsgi;
    scgi_temp_path {w}/tmp/scgi;
    log_format tier escape=json '{log}';
    access_log {w}/access.log tier;
    proxy_cache_path {w}/cache levels=1:2 keys_zone=tier:16m max_size=2g inactive=1d
                     use_temp_path=off;
    upstream origin {{
        server {self.canonical_host};
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            slice {self.SLICE // MiB}m;
            proxy_cache tier;
            proxy_cache_key $uri$is_args$args$slice_range;
            proxy_set_header Range $slice_range;
            proxy_set_header Host {self.canonical_host};
            proxy_set_header Connection "";
            proxy_http_version 1.1;
            proxy_cache_valid 200 206 1d;
            # One request per slice reaches the origin; the others wait for it. The defaults
            # (5 s) would let a waiter go to the origin itself, uncached, on a busy machine.
            proxy_cache_lock on;
            proxy_cache_lock_age 60s;
            proxy_cache_lock_timeout 60s;
            add_header X-Cache-Status $upstream_cache_status always;
            proxy_pass http://origin;
        }}
    }}
}}
"""
        path = self._write("nginx.conf", conf)
        return [self.binary() or "nginx", "-p", w, "-c", path, "-e", f"{w}/error.log"]


class VarnishTier(CacheTier):
    """Varnish: varnishd in the foreground (-F), no jail (-j none: runs as the caller, so it can
    use the temporary directory), no management port (-T none), its shared memory in the
    temporary directory (-n), objects in 1 GiB of malloc storage. A miss (a HEAD too) fetches
    the whole object once; requests meanwhile stream from that fetch."""

    kind = "varnish"

    @classmethod
    def binary(cls) -> Optional[str]:
        return _find("varnishd", "/usr/sbin/varnishd")

    def _prepare(self, port: int) -> list[str]:
        w = self.workdir
        assert w is not None
        vcl = f"""vcl 4.1;
# Generated by cache_tiers.py; lives only as long as the tier.
backend origin {{
    .host = "{self.origin_host}";
    .port = "{self.origin_port}";
}}
sub vcl_recv {{
    # Varnish 7.1 itself turns an absolute-form target into its path and the Host written in
    # it (which then overrides the client's Host header). The hash is URL and Host: one Host,
    # so that clients writing the origin differently (a name, a case) share one entry.
    set req.http.Host = "{self.canonical_host}";
}}
sub vcl_backend_response {{
    set beresp.ttl = 1d;
    set beresp.grace = 1d;
}}
sub vcl_deliver {{
    if (obj.hits > 0) {{
        set resp.http.X-Cache = "HIT";
    }} else {{
        set resp.http.X-Cache = "MISS";
    }}
}}
"""
        path = self._write("tier.vcl", vcl)
        return [self.binary() or "varnishd", "-F", "-j", "none", "-n", f"{w}/varnish",
                "-a", f"127.0.0.1:{port}", "-T", "none", "-f", path, "-s", "malloc,1G",
                "-P", f"{w}/varnishd.pid"]


class SquidTier(CacheTier):
    """Squid in the foreground (-N: one process), memory cache only. Started as root it
    switches to the `proxy` user, so the temporary directory is handed to that user. Access
    log: access.log (result code/status, method, URL, Range, bytes sent)."""

    kind = "squid"
    _log_names = ("cache.log",)
    USER = "proxy"

    @classmethod
    def binary(cls) -> Optional[str]:
        return _find("squid", "/usr/sbin/squid")

    def _prepare(self, port: int) -> list[str]:
        w = self.workdir
        assert w is not None
        user_line = ""
        if os.geteuid() == 0:
            entry = pwd.getpwnam(self.USER)
            for path in (w, *(os.path.join(w, n) for n in os.listdir(w))):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            user_line = f"cache_effective_user {self.USER}"
        conf = f"""# Generated by cache_tiers.py; lives only as long as the tier.
http_port 127.0.0.1:{port}
{user_line}
visible_hostname rangefs-tier
pid_filename {w}/squid.pid
cache_log {w}/cache.log
logformat tier %ts.%03tu %Ss/%03>Hs %rm %ru "%{{Range}}>h" %<st
access_log stdio:{w}/access.log tier
cache_store_log none
coredump_dir {w}
netdb_filename none
pinger_enable off
shutdown_lifetime 0 seconds
http_access allow localhost
http_access deny all
# Memory only: big enough for a 256 MiB file with room to spare.
cache_mem 1024 MB
maximum_object_size 512 MB
maximum_object_size_in_memory 512 MB
# A range miss fetches the whole object from its start, once: requests for the same URL wait
# for that fetch (collapsed), which goes on when its first client has what it asked for.
range_offset_limit none
collapsed_forwarding on
quick_abort_min -1 KB
# No Cache-Control from the origin: keep what was fetched for a day, never revalidate.
refresh_pattern . 1440 100% 1440
"""
        path = self._write("squid.conf", conf)
        return [self.binary() or "squid", "-N", "-f", path]


_CLASSES = {cls.kind: cls for cls in (NginxSliceTier, VarnishTier, SquidTier)}

TIERS: tuple[str, ...] = tuple(_CLASSES)


def tier_available(kind: str) -> bool:
    """Whether the tier's binary is installed."""
    return _CLASSES[kind].binary() is not None


def start_tier(kind: str, origin: str, **kwargs) -> CacheTier:
    """Starts tier `kind` (nginx, varnish, squid) in front of `origin` (http://HOST:PORT);
    returns the running tier. Raises CacheTierError."""
    if kind not in _CLASSES:
        raise CacheTierError(f"unknown tier {kind!r}; known: {sorted(_CLASSES)}")
    return _CLASSES[kind](origin, **kwargs).start()


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run a cache tier in front of an origin on 127.0.0.1 until SIGINT/SIGTERM.")
    parser.add_argument("tier", choices=TIERS)
    parser.add_argument("origin", help="http://127.0.0.1:PORT")
    args = parser.parse_args(argv)
    stop_requested = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda s, f: stop_requested.append(s))
    with start_tier(args.tier, args.origin) as tier:
        print(tier.proxy_url, flush=True)
        print(f"pid {tier.process.pid}, directory {tier.workdir}", file=sys.stderr, flush=True)
        while not stop_requested and tier.running:
            time.sleep(0.2)
        if not tier.running and not stop_requested:
            print(f"{tier.kind} exited unexpectedly:\n{tier.logs()}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
