#!/usr/bin/env python3
"""The project's own controllable HTTP/1.1 server: files under a directory, served with Range
support (RFC 9110 sections 13 and 14), for the tests that need what nginx cannot do.

Every request names its behaviour in the first path segment::

    http://127.0.0.1:PORT/<options>/<path relative to root>
    http://127.0.0.1:PORT/-/data.bin                    all defaults
    http://127.0.0.1:PORT/etag=weak,lm=0/data.bin

Options (comma-separated key=value; unknown keys or values are answered 400 so that a typo
in a test fails loudly):

    etag=strong|weak|none   ETag "<hex>" from (st_ino, st_mtime_ns, st_size), W/"<hex>", or
                            none at all (default strong)
    lm=1|0                  send Last-Modified (default 1)
    pre=honor|ignore        evaluate If-Match, If-Unmodified-Since, If-None-Match,
                            If-Modified-Since and If-Range (default honor)
    ranges=1|0              0: ignore Range, always 200 with the whole file and
                            Accept-Ranges: none (default 1)

Library use::

    with RangeTestServer("/some/docroot") as server:
        url = server.url("a b.bin", etag="weak")   # http://127.0.0.1:P/etag=weak/a%20b.bin
        ...
        entries = server.requests()                # list of dicts, one per finished response

Script use::

    python3 scripts/lib/range_test_server.py --root DIR [--port N] [--port-file F] [--log F]

prints the base URL and serves until SIGINT/SIGTERM (or, with --exit-on-stdin-eof, until its
standard input reaches end of file: the library passes a pipe, so the server dies with the
test process even when that is killed hard).

Each request opens the file once and takes size and validators from that descriptor, so one
response always describes one version of the file even if it is renamed over meanwhile. Each
finished response appends one JSON line to the log (see _Handler._new_record for the fields).
Only the Python standard library is used.
"""

from __future__ import annotations

import argparse
import datetime
import email.utils
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Callable, Optional, Union

__all__ = ["RangeTestServer", "RangeTestServerError", "OptionError", "parse_options",
           "parse_range_header", "free_port", "main"]

CHUNK = 256 * 1024
MAX_PARTS = 16  # more ranges than this in one request: answer the whole file instead
# Like nginx's keepalive_timeout: an idle keep-alive connection is closed after this.
IDLE_TIMEOUT = 65.0


# ----------------------------------------------------------------------------- options
class OptionError(ValueError):
    """The options segment of a URL is malformed; the message names the problem."""


def _choice(*values: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in values:
            raise ValueError(f"expected one of {'|'.join(values)}")
        return text
    return parse


def _flag(text: str) -> bool:
    if text not in ("0", "1"):
        raise ValueError("expected 1 or 0")
    return text == "1"


# key -> (parser, default). Fault options (issue 5: drop=N, stall, status=503, ...) are added
# here with their parsers; the planner and writer read them from the parsed dict.
_OPTION_SPECS: dict[str, tuple[Callable[[str], object], object]] = {
    "etag": (_choice("strong", "weak", "none"), "strong"),
    "lm": (_flag, True),
    "pre": (_choice("honor", "ignore"), "honor"),
    "ranges": (_flag, True),
}


def parse_options(segment: str) -> dict:
    """The options segment ("-" or "key=value,...") as a dict with every key filled in."""
    options = {key: default for key, (_, default) in _OPTION_SPECS.items()}
    if segment in ("-", ""):
        return options
    seen = set()
    for item in segment.split(","):
        key, sep, value = item.partition("=")
        if not sep:
            raise OptionError(f"option {item!r} is not key=value (options segment "
                              f"{segment!r}; use '-' for all defaults)")
        if key not in _OPTION_SPECS:
            raise OptionError(f"unknown option {key!r} (known: {', '.join(_OPTION_SPECS)})")
        if key in seen:
            raise OptionError(f"option {key!r} given twice")
        seen.add(key)
        try:
            options[key] = _OPTION_SPECS[key][0](value)
        except ValueError as e:
            raise OptionError(f"bad value {value!r} for option {key!r}: {e}") from None
    return options


# ------------------------------------------------------------------- header field parsing
_RANGE_SPEC_RE = re.compile(r"([0-9]*)-([0-9]*)")
_ETAG_RE = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*')

# A range spec: (first, last) with last None for "first-", or (None, n) for the suffix "-n".
RangeSpec = tuple[Optional[int], Optional[int]]


def parse_range_header(value: str) -> Optional[list[RangeSpec]]:
    """The specs of a `bytes=` Range field, or None when it is not one (wrong unit, bad
    syntax, last < first): such a field is ignored, as RFC 9110 section 14.2 allows."""
    unit, sep, rest = value.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    specs: list[RangeSpec] = []
    for item in rest.split(","):
        item = item.strip(" \t")
        if not item:  # the list rule allows empty elements
            continue
        m = _RANGE_SPEC_RE.fullmatch(item)
        if not m or m.group(0) == "-":
            return None
        first, last = m.groups()
        if not first:
            specs.append((None, int(last)))
        else:
            start = int(first)
            end = int(last) if last else None
            if end is not None and end < start:
                return None
            specs.append((start, end))
    return specs or None


def _parse_etags(value: str) -> Optional[list[tuple[bool, str]]]:
    """A list of entity-tags as (weak, opaque); None for a malformed field."""
    tags = []
    for item in value.split(","):
        if not item.strip():
            continue
        m = _ETAG_RE.fullmatch(item)
        if not m:
            return None
        tags.append((m.group(1) is not None, m.group(2)))
    return tags


def _parse_http_date(value: str) -> Optional[int]:
    """Seconds since the epoch, or None for anything that is not an HTTP-date."""
    if not value or value.lstrip().startswith(("\"", "W/")):
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:  # "-0000" comes back naive; HTTP dates are GMT
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return int(parsed.timestamp())


# ----------------------------------------------------------------------- the response plan
# A body segment: literal bytes, or (offset, length) of the opened file.
Segment = Union[bytes, tuple[int, int]]


@dataclass
class Plan:
    """Everything the writer needs: status, headers (Content-Length is added by the writer
    from the body), and the body as segments."""
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: list[Segment] = field(default_factory=list)
    close: bool = False  # send Connection: close and end the connection afterwards

    @property
    def length(self) -> int:
        return sum(len(s) if isinstance(s, bytes) else s[1] for s in self.body)


def _text_plan(status: int, text: str, headers: Optional[list[tuple[str, str]]] = None,
               close: bool = False) -> Plan:
    return Plan(status, [("Content-Type", "text/plain; charset=utf-8"), *(headers or [])],
                [(text + "\n").encode()], close)


@dataclass
class _Validators:
    size: int
    mtime: int                # whole seconds, as Last-Modified carries them
    opaque: str               # the hex inside the ETag quotes
    etag: Optional[str]       # the ETag field as sent, None with etag=none
    weak: bool                # the ETag sent is weak
    last_modified: str        # the HTTP-date of mtime


def _validators(st: os.stat_result, options: dict) -> _Validators:
    opaque = hashlib.sha256(f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}".encode()
                            ).hexdigest()[:24]
    mode = options["etag"]
    etag = None if mode == "none" else (f'W/"{opaque}"' if mode == "weak" else f'"{opaque}"')
    mtime = st.st_mtime_ns // 1_000_000_000
    return _Validators(st.st_size, mtime, opaque, etag, mode == "weak",
                       email.utils.formatdate(mtime, usegmt=True))


def _strong_match(tag: tuple[bool, str], v: _Validators) -> bool:
    return v.etag is not None and not v.weak and not tag[0] and tag[1] == v.opaque


def _weak_match(tag: tuple[bool, str], v: _Validators) -> bool:
    return v.etag is not None and tag[1] == v.opaque


def _precondition_status(method: str, fields: dict[str, str], v: _Validators) -> Optional[int]:
    """RFC 9110 section 13.2.2, steps 1 to 4: 412, 304, or None to go on."""
    if fields["if_match"].strip():
        value = fields["if_match"].strip()
        if value != "*":  # "*" matches: the file exists (we are past the 404)
            tags = _parse_etags(value) or []
            if not any(_strong_match(t, v) for t in tags):
                return 412
    elif fields["if_unmodified_since"].strip():
        # Evaluated against the real mtime even with lm=0: a client can only have such a date
        # from elsewhere, and tests need to see that a stale one is refused either way.
        date = _parse_http_date(fields["if_unmodified_since"])
        if date is not None and v.mtime > date:
            return 412
    if fields["if_none_match"].strip():
        value = fields["if_none_match"].strip()
        tags = _parse_etags(value) or []
        if value == "*" or any(_weak_match(t, v) for t in tags):
            return 304 if method in ("GET", "HEAD") else 412
    elif fields["if_modified_since"].strip() and method in ("GET", "HEAD"):
        # Same choice as If-Unmodified-Since: the real mtime, whatever lm says.
        date = _parse_http_date(fields["if_modified_since"])
        if date is not None and v.mtime <= date:
            return 304
    return None


def _if_range_matches(value: str, v: _Validators, options: dict) -> bool:
    """RFC 9110 section 13.1.5: an entity-tag matches only by strong comparison with a strong
    current ETag; a date only when it is exactly the Last-Modified we send."""
    value = value.strip()
    if value.startswith(("\"", "W/")):
        tags = _parse_etags(value)
        return tags is not None and len(tags) == 1 and _strong_match(tags[0], v)
    date = _parse_http_date(value)
    return bool(options["lm"]) and date is not None and date == v.mtime


def _resolve(specs: list[RangeSpec], size: int) -> list[tuple[int, int]]:
    """The satisfiable specs as (offset, length), clamped to the file, in request order."""
    out = []
    for first, last in specs:
        if first is None:
            assert last is not None
            if last == 0 or size == 0:
                continue
            n = min(last, size)
            out.append((size - n, n))
        elif first < size:
            end = size - 1 if last is None else min(last, size - 1)
            out.append((first, end - first + 1))
    return out


def _multipart(parts: list[tuple[int, int]], size: int) -> tuple[str, list[Segment]]:
    """multipart/byteranges (RFC 9110 section 14.6): the boundary and the body segments."""
    boundary = "rangefs-" + secrets.token_hex(12)
    body: list[Segment] = []
    for i, (offset, length) in enumerate(parts):
        # The CRLF before a delimiter belongs to the delimiter (RFC 2046), so none before
        # the first one and one after every part's data.
        head = (f"--{boundary}\r\n"
                f"Content-Type: application/octet-stream\r\n"
                f"Content-Range: bytes {offset}-{offset + length - 1}/{size}\r\n\r\n")
        body.append((b"\r\n" if i else b"") + head.encode("ascii"))
        body.append((offset, length))
    body.append(f"\r\n--{boundary}--\r\n".encode("ascii"))
    return boundary, body


def plan_file_response(method: str, fields: dict[str, str], v: _Validators,
                       options: dict) -> Plan:
    """The answer for an existing regular file: preconditions, then Range."""
    common: list[tuple[str, str]] = []
    if v.etag is not None:
        common.append(("ETag", v.etag))
    if options["lm"]:
        common.append(("Last-Modified", v.last_modified))

    if options["pre"] == "honor":
        status = _precondition_status(method, fields, v)
        if status == 304:
            return Plan(304, common)
        if status == 412:
            return _text_plan(412, "precondition failed")

    whole = Plan(200, [("Content-Type", "application/octet-stream"),
                       ("Accept-Ranges", "bytes" if options["ranges"] else "none"), *common],
                 [(0, v.size)] if v.size else [])
    # Range handling is defined for GET only (RFC 9110 section 14.2), so HEAD gets 200.
    if not options["ranges"] or method != "GET" or not fields["range"]:
        return whole
    if (options["pre"] == "honor" and fields["if_range"].strip()
            and not _if_range_matches(fields["if_range"], v, options)):
        return whole
    specs = parse_range_header(fields["range"])
    if specs is None or len(specs) > MAX_PARTS:
        return whole
    if v.size == 0:
        # An empty file has no byte to point at; a non-empty suffix is still "satisfiable"
        # (RFC 9110 section 14.1.1), and the empty whole file is the only sensible answer.
        if any(first is None and last for first, last in specs):
            return whole
    parts = _resolve(specs, v.size)
    if not parts:
        return _text_plan(416, "range not satisfiable",
                          [("Content-Range", f"bytes */{v.size}"), *common])
    if len(parts) == 1:
        offset, length = parts[0]
        return Plan(206, [("Content-Type", "application/octet-stream"),
                          ("Content-Range", f"bytes {offset}-{offset + length - 1}/{v.size}"),
                          ("Accept-Ranges", "bytes"), *common], [parts[0]])
    ordered = sorted(parts)
    if any(b[0] < a[0] + a[1] for a, b in zip(ordered, ordered[1:])):
        return whole  # overlapping ranges: a client asking for that gets the plain file
    boundary, body = _multipart(parts, v.size)
    return Plan(206, [("Content-Type", f"multipart/byteranges; boundary={boundary}"),
                      ("Accept-Ranges", "bytes"), *common], body)


# --------------------------------------------------------------------------------- server
_LOGGED_FIELDS = {  # log key -> request header
    "range": "Range", "if_range": "If-Range", "if_match": "If-Match",
    "if_unmodified_since": "If-Unmodified-Since", "if_none_match": "If-None-Match",
    "if_modified_since": "If-Modified-Since",
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], root: str, log_path: Optional[str]):
        self.root = os.path.realpath(root)
        self._log_file = open(log_path, "ab") if log_path else None
        self._log_lock = threading.Lock()
        self._ids_lock = threading.Lock()
        self._next_id = 0
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall on a
        # machine with slow DNS; the name is never used here.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def next_connection_id(self) -> int:
        with self._ids_lock:
            self._next_id += 1
            return self._next_id

    def log(self, record: dict) -> None:
        if self._log_file is None:
            return
        line = (json.dumps(record, ensure_ascii=True) + "\n").encode()
        with self._log_lock:
            self._log_file.write(line)
            self._log_file.flush()

    def server_close(self) -> None:
        super().server_close()
        with self._log_lock:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rangefs-test-server/1"
    timeout = IDLE_TIMEOUT
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connection_id = self.server.next_connection_id()

    def __getattr__(self, name: str):
        # Every method other than GET and HEAD goes through _serve too, which answers 405
        # (BaseHTTPRequestHandler would say 501 for a method it has no do_X for).
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def do_GET(self) -> None:  # noqa: N802  (name fixed by BaseHTTPRequestHandler)
        self._serve()

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve()

    def version_string(self) -> str:
        return self.server_version  # without the Python version the base appends

    def log_request(self, code="-", size="-") -> None:
        pass  # the JSON log is written when the response is finished, see _serve

    def log_message(self, format, *args) -> None:  # noqa: A002  (signature of the base)
        sys.stderr.write(f"range_test_server: {format % args}\n")

    # -------------------------------------------------------------------- per request
    def _new_record(self) -> dict:
        fields = {}
        for key, header in _LOGGED_FIELDS.items():
            # Repeated fields are combined as RFC 9110 section 5.3 allows: what is logged is
            # what is evaluated.
            headers = getattr(self, "headers", None)  # unset when the request line was bad
            values = headers.get_all(header, []) if headers is not None else []
            fields[key] = ", ".join(values)
        return {"method": getattr(self, "command", None) or "", "path": "", "options": "",
                **fields, "status": 0, "body_bytes": 0, "aborted": False,
                "connection": self.connection_id, "time": 0.0}

    def _serve(self) -> None:
        record = self._new_record()
        fd = None
        try:
            self._discard_request_body()
            try:
                plan, fd = self._plan(record)
            except Exception as e:  # noqa: BLE001  (a bug here must not kill the connection)
                self.log_error("planning %s failed: %r", self.path, e)
                plan = _text_plan(500, f"internal error: {e!r}", close=True)
            self._write(plan, fd, record)
        finally:
            if fd is not None:
                os.close(fd)
            record["time"] = time.time()
            self.server.log(record)

    def send_error(self, code, message=None, explain=None) -> None:
        # Protocol errors found by BaseHTTPRequestHandler itself (bad request line, headers
        # too long, ...) go through the same writer and log as everything else.
        record = self._new_record()
        text = message or self.responses.get(code, ("error",))[0]
        try:
            self._write(_text_plan(code, text, close=True), None, record)
        finally:
            record["time"] = time.time()
            self.server.log(record)

    def _discard_request_body(self) -> None:
        """GET and HEAD have no body, but a client may send one anyway; it must be read for
        the next request on the connection to parse. Chunked or huge bodies: close instead."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > 1024 * 1024:
            self.close_connection = True
            return
        while length > 0:
            data = self.rfile.read(min(length, CHUNK))
            if not data:
                self.close_connection = True
                return
            length -= len(data)

    def _plan(self, record: dict) -> tuple[Plan, Optional[int]]:
        """Builds the response from the URL, the options and the request header fields.
        Returns the plan and the opened file (the caller closes it). Fault modes that change
        what is answered (status=503 with Retry-After, a wrong Content-Range, gzip) plug in
        here, after the file's plan is built."""
        target = self.path
        if target.startswith(("http://", "https://")):  # absolute-form request target
            target = urllib.parse.urlsplit(target).path or "/"
        target = target.split("?", 1)[0].split("#", 1)[0]
        segment, _, rest = target.lstrip("/").partition("/")
        record["options"] = urllib.parse.unquote(segment)
        relative = os.fsdecode(urllib.parse.unquote_to_bytes(rest))
        record["path"] = relative
        try:
            options = parse_options(record["options"])
        except OptionError as e:
            return _text_plan(400, f"bad options segment: {e}"), None
        if self.command not in ("GET", "HEAD"):
            return _text_plan(405, f"method {self.command} not allowed",
                              [("Allow", "GET, HEAD")]), None
        parts = [p for p in relative.split("/") if p]
        if not parts or any(p in (".", "..") for p in parts) or "\0" in relative:
            return _text_plan(404, f"no such file: {relative!r}"), None
        path = os.path.join(self.server.root, *parts)
        real = os.path.realpath(path)
        if os.path.commonpath([real, self.server.root]) != self.server.root:
            return _text_plan(404, f"no such file: {relative!r} (outside the root)"), None
        try:
            fd = os.open(real, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            return _text_plan(404, f"no such file: {relative!r} ({e.strerror})"), None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                os.close(fd)
                return _text_plan(404, f"not a regular file: {relative!r}"), None
            fields = {key: record[key] for key in _LOGGED_FIELDS}
            plan = plan_file_response(self.command, fields, _validators(st, options), options)
        except BaseException:
            os.close(fd)
            raise
        return plan, fd

    def _write(self, plan: Plan, fd: Optional[int], record: dict) -> None:
        """Sends the plan. Fault modes that damage the transfer itself (drop=N: close after
        N body bytes, stall) plug in here, in the body loop."""
        record["status"] = plan.status
        try:
            self.send_response(plan.status)
            for name, value in plan.headers:
                self.send_header(name, value)
            # RFC 9110 section 8.6: a 304 carries no Content-Length unless it is the 200's;
            # leaving it out is the simple correct choice.
            if plan.status != 304:
                self.send_header("Content-Length", str(plan.length))
            if plan.close:
                self.send_header("Connection", "close")  # also sets close_connection
            self.end_headers()
            if getattr(self, "command", None) == "HEAD" or plan.status == 304:
                return
            for segment in plan.body:
                if isinstance(segment, bytes):
                    self.wfile.write(segment)
                    record["body_bytes"] += len(segment)
                    continue
                assert fd is not None
                offset, remaining = segment
                while remaining > 0:
                    data = os.pread(fd, min(CHUNK, remaining), offset)
                    if not data:
                        # Truncated in place under us: the promised length cannot be kept,
                        # and only closing the connection tells the client so.
                        record["aborted"] = True
                        self.close_connection = True
                        return
                    self.wfile.write(data)
                    record["body_bytes"] += len(data)
                    offset += len(data)
                    remaining -= len(data)
        except OSError:  # the client went away (EPIPE, ECONNRESET, timeout)
            record["aborted"] = True
            self.close_connection = True


def serve(root: str, port: int, log_path: Optional[str]) -> _Server:
    """A bound and listening server (not yet serving); port 0 picks a free one."""
    return _Server(("127.0.0.1", port), root, log_path)


# ------------------------------------------------------------------------------ library
class RangeTestServerError(RuntimeError):
    """The server could not be started (the message carries its output)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RangeTestServer:
    """range_test_server.py as a subprocess on 127.0.0.1 serving `root`. Context manager.

    The request log and the server's output live in a private temporary directory that
    cleanup() removes; stop() keeps them readable."""

    def __init__(self, root: str, *, port: Optional[int] = None, start_timeout: float = 10.0):
        self.root = os.path.abspath(root)
        if not os.path.isdir(self.root):
            raise RangeTestServerError(f"document root {self.root} is not a directory")
        self._requested_port = port
        self._start_timeout = start_timeout
        self.tmpdir: Optional[str] = None
        self.port: Optional[int] = None
        self.process: Optional[subprocess.Popen] = None

    # ----------------------------------------------------------------------------- lifecycle
    def start(self) -> "RangeTestServer":
        if self.process is not None:
            raise RangeTestServerError("already started")
        self.tmpdir = tempfile.mkdtemp(prefix="range-test-server-")
        try:
            open(self.log_path, "wb").close()
            # The server binds port 0 itself unless told otherwise and reports what it got,
            # so there is no window in which another process can take a port we picked.
            port_file = os.path.join(self.tmpdir, "port")
            command = [sys.executable, os.path.abspath(__file__), "--root", self.root,
                       "--port", str(self._requested_port or 0), "--port-file", port_file,
                       "--log", self.log_path, "--exit-on-stdin-eof"]
            with open(self.output_path, "wb") as output:
                self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=output,
                                                stderr=output, start_new_session=True)
            deadline = time.monotonic() + self._start_timeout
            while True:
                port = self._read_port(port_file)
                if port:
                    # The file is written after listen(): connections are accepted now.
                    self.port = port
                    return self
                if self.process.poll() is not None:
                    raise RangeTestServerError(
                        f"server exited with status {self.process.returncode} before "
                        f"serving:\n{self.output()}")
                if time.monotonic() >= deadline:
                    raise RangeTestServerError(f"server did not start within "
                                               f"{self._start_timeout}s:\n{self.output()}")
                time.sleep(0.01)
        except BaseException:
            self.cleanup()
            raise

    @staticmethod
    def _read_port(path: str) -> int:
        try:
            with open(path) as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM by PID, bounded wait, then SIGKILL. Idempotent."""
        process = self.process
        if process is None:
            return
        if process.returncode is None:
            try:
                os.kill(process.pid, signal.SIGCONT)  # in case a test stopped it
                os.kill(process.pid, signal.SIGTERM)
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
        if process.stdin is not None and not process.stdin.closed:
            try:
                process.stdin.close()
            except OSError:
                pass

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cleanup(self) -> None:
        self.stop()
        if self.tmpdir and os.path.isdir(self.tmpdir):
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.tmpdir = None

    def __enter__(self) -> "RangeTestServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cleanup()

    # ----------------------------------------------------------------------------- accessors
    @property
    def pid(self) -> int:
        if self.process is None:
            raise RangeTestServerError("not started")
        return self.process.pid

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RangeTestServerError("not started")
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str, **options) -> str:
        """URL of a path relative to the root with the given options, in the given order:
        url("a b.bin", etag="weak", lm=False) -> .../etag=weak,lm=0/a%20b.bin. Options are not
        checked here: the server answers 400 to a bad one."""
        items = []
        for key, value in options.items():
            if isinstance(value, bool):
                value = int(value)
            items.append(f"{urllib.parse.quote(key, safe='')}="
                         f"{urllib.parse.quote(str(value), safe='')}")
        segment = ",".join(items) or "-"
        return f"{self.base_url}/{segment}/{urllib.parse.quote(path.lstrip('/'))}"

    @property
    def log_path(self) -> str:
        if self.tmpdir is None:
            raise RangeTestServerError("not started")
        return os.path.join(self.tmpdir, "requests.jsonl")

    @property
    def output_path(self) -> str:
        if self.tmpdir is None:
            raise RangeTestServerError("not started")
        return os.path.join(self.tmpdir, "output.log")

    def output(self) -> str:
        """What the server printed (its URL, tracebacks)."""
        try:
            with open(self.output_path, errors="replace") as f:
                return f.read()
        except (OSError, RangeTestServerError):
            return ""

    def requests(self) -> list[dict]:
        """One dict per finished response, oldest first (complete lines only)."""
        with open(self.log_path, "rb") as f:
            data = f.read()
        return [json.loads(line) for line in data.split(b"\n")[:-1] if line.strip()]

    def clear_requests(self) -> None:
        """Truncates the log (the server appends, so later lines start at 0)."""
        with open(self.log_path, "r+b") as f:
            f.truncate(0)

    def wait_for_requests(self, predicate: Callable[[list[dict]], bool],
                          timeout: float = 10.0) -> list[dict]:
        """Polls the log until predicate(entries) holds; returns the entries. Raises
        TimeoutError with the last entries seen otherwise. A line is written just after the
        response's last byte, so a client that has read everything may still be early."""
        deadline = time.monotonic() + timeout
        while True:
            entries = self.requests()
            if predicate(entries):
                return entries
            if time.monotonic() >= deadline:
                raise TimeoutError(f"request log condition not met within {timeout}s; "
                                   f"{len(entries)} entries: {entries[-5:]}")
            time.sleep(0.01)


# ---------------------------------------------------------------------------- script mode
def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description="Serve a directory with Range support on 127.0.0.1 until SIGINT/SIGTERM. "
                    "URLs: http://127.0.0.1:PORT/<options or ->/<path>.")
    parser.add_argument("--root", required=True, help="document root")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--port-file", help="write the port number to this file once serving")
    parser.add_argument("--log", help="append one JSON line per finished response here")
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="also exit when standard input reaches end of file (a pipe from "
                             "a parent that may die without stopping us)")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.root):
        parser.error(f"--root {args.root} is not a directory")

    stop = threading.Event()

    def on_signal(_signum, _frame):
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    if args.exit_on_stdin_eof:
        def watch_stdin():
            try:
                while sys.stdin.buffer.read(4096):
                    pass
            except (OSError, ValueError):
                pass
            stop.set()
        threading.Thread(target=watch_stdin, name="stdin-watcher", daemon=True).start()

    server = serve(args.root, args.port, args.log)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="serve", daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        if args.port_file:
            tmp = args.port_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(f"{port}\n")
            os.replace(tmp, args.port_file)
        print(f"http://127.0.0.1:{port}", flush=True)
        # Bounded waits so that signals are handled promptly in the main thread.
        while not stop.wait(0.2):
            pass
    finally:
        server.shutdown()
        server.server_close()
        if args.port_file:
            try:
                os.unlink(args.port_file)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
