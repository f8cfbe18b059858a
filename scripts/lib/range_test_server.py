#!/usr/bin/env python3
"""The project's own controllable HTTP/1.1 server: files under a directory, served with Range
support (RFC 9110 sections 13 and 14), for the tests that need what nginx cannot do: odd
validators, and faults (dropped, stalled, short or long bodies, error statuses, wrong or
malformed headers, redirects, expiring URLs), over HTTP or HTTPS.

Every request names its behaviour in the first path segment::

    http://127.0.0.1:PORT/<options>/<path relative to root>
    http://127.0.0.1:PORT/-/data.bin                    all defaults
    http://127.0.0.1:PORT/etag=weak,lm=0/data.bin
    http://127.0.0.1:PORT/drop=400,times=2/data.bin     the first 2 GETs end after 400 bytes

The segment is a comma-separated list of key=value; key and value are each percent-decoded
after the split, so a value may carry ',' '=' '/' ':' as %2C %3D %2F %3A (url() does this).
Unknown keys, bad values and contradictory combinations are answered 400 naming the problem,
so that a typo in a test fails loudly.

Validators and ranges:

    etag=strong|weak|none   ETag "<hex>" from (st_ino, st_mtime_ns, st_size), W/"<hex>", or
                            none at all (default strong)
    lm=1|0                  send Last-Modified (default 1)
    pre=honor|ignore        evaluate If-Match, If-Unmodified-Since, If-None-Match,
                            If-Modified-Since and If-Range (default honor)
    ranges=1|0              0: ignore Range, always 200 with the whole file and
                            Accept-Ranges: none (default 1)

Which requests a fault hits:

    times=K                 only the first K matching requests are faulted, later ones are
                            served normally (default: every one). Requests are counted per
                            (path, options segment as logged), in the server process.
    after=K                 the first K matching requests are served normally, the faults
                            (with times: the next K' of them) hit the ones after
    head=1                  HEAD requests match too (default: only GET; a HEAD is never
                            faulted without this)

Faults (each applies to matching requests only). At most one of status, redirect and
location; one of drop, short, stall, stall_headers, long, trickle, trickle_headers,
endless_headers and close; crnum goes with neither cr nor total; at most one of total, crnum
and crstar. The header and transfer faults (junk, huge_header, cl, drop, short, stall, long) damage
whatever is answered, a status or a redirect too. The log's "fault" field names those applied.

    status=CODE             answer CODE (400-599) with a short text body
    retry_after=VALUE       with status: a Retry-After field, sent verbatim ("2", an HTTP-date)
    redirect=N              302 to the same URL with redirect=N-1: N redirects, then the file.
                            The last one drops redirect (and redirect_status, and times and
                            head when no fault is left), so the file's URL is a valid one
    location=URL            a redirect with exactly this Location (e.g. file:///etc/passwd)
    redirect_status=CODE    301|302|303|307|308 for redirect and location (default 302)
    sign=1                  with redirect: the Location's options segment also carries sig=K,
                            K numbering the redirects of this URL (1, 2, ...; the number of the
                            request as times counts it): a new address each time, as a front end
                            that signs a storage URL per request makes. With gone_after, each
                            signed address expires on its own
    sig=TEXT                no effect: what sign=1 adds (a signature that makes the URL unique)
    drop=N                  headers and N body bytes, then shutdown + close
    short=N                 the full Content-Length, N body bytes fewer, then shutdown + close
    stall=N                 headers and N body bytes, then silence, the connection held open
                            until the client goes away (at most STALL_LIMIT seconds)
    stall_headers=1         the same silence before any header is sent
    trickle=RATE            the head at once, then the body at RATE bytes a second (a slice
                            every 0.1 s) until it ends, the client goes away, STALL_LIMIT
                            passes or the server stops: never silent long enough to stall
    trickle_headers=RATE    the head itself at RATE bytes a second, then the body at once
    endless_headers=1       the status line, then header lines (X-Endless-N) as fast as they
                            are read, never the blank line that ends the head
    long=N                  N bytes of LONG_FILLER after the promised body, same connection
    cr=shift|wider|none     on a single-part 206: Content-Range says first+1-last+1 (the
                            asked bytes are sent); or a 206 for the asked range widened to
                            64 KiB boundaries (clamped to the file; correct Content-Range and
                            bytes); or no Content-Range at all
    total=N                 Content-Range total N instead of the size (bytes still correct)
    crstar=1                Content-Range total "*" ("bytes a-b/*": complete length unknown,
                            RFC 9110 section 14.4) instead of the size, on a single-part 206
                            and in every part of a multipart one (ranges and bytes still
                            correct); a 416 keeps "bytes */N"
    crnum=overflow|overflow_last|negative|negative_first|wrap
                            Content-Range numbers a 64-bit parser must refuse: total or last
                            = 99999999999999999999999; total or first = -5; or every number
                            + 2**64 (a parser that wraps silently sees the right ones)
    gzip=1                  Content-Encoding: gzip with the gzipped bytes (on 200 and a
                            single-part 206; Content-Range still about the identity bytes)
    cl=INTEGER              this Content-Length verbatim (e.g. -5, 99999999999999999999999)
                            instead of the real one; the body is the real one, then close
    junk=1                  malformed header lines: no colon, only spaces, a NUL byte,
                            bytes that are not UTF-8
    huge_header=BYTES       one X-Huge header whose value is BYTES long
    changed=1               the answer describes another version of the file, as if it had
                            been replaced since the client's last request: another ETag (of
                            the same kind), a Last-Modified CHANGED_MTIME_STEP seconds later,
                            preconditions evaluated against those (so an If-Range with the
                            real ETag gets a 200 with the whole file), and every body byte of
                            the file inverted (XOR 0xFF): a client that used them would hand
                            out wrong bytes
    close=after|unanswered  after: the answer is sent as usual, without Connection: close,
                            then the connection is closed (a keep-alive connection the server
                            drops while idle); unanswered: the request is read and the
                            connection closed without any answer (status 0 in the log), as a
                            server does that closes an idle connection just as a request
                            arrives on it. unanswered goes with no other fault

Multi-range answers. A request whose Range lists 2 or more ranges is answered (without these
options) with multipart/byteranges, one part per satisfiable range in the order asked. multi=
and mpgarbage= change that answer, and they narrow every fault of the URL to such requests
(mpgarbage=single: to single-range requests): other requests are neither faulted nor counted by
times, so the single-range requests a client retries with are served normally. A mode that
works on the multipart answer leaves anything else (a 200 for overlapping ranges, a single-part
206 when one range is satisfiable) alone. The transfer faults (drop, short, stall, long, status,
junk, cl, huge_header) damage a multipart answer like any other; multi=plain applies them to
multi-range requests only. At most one of multi and mpgarbage.

    multi=MODE              answers RFC 9110 section 14 allows, if unusual:
        plain               the usual multipart answer (only the narrowing)
        coalesce            one single-part 206 for first..last of all the ranges
        merge               multipart, each two neighbouring ranges (in file order) merged into
                            one part covering both and the gap between them
        reverse             multipart, the parts in the reverse of the order asked
        first               a single-part 206 for the first range asked only
        omit                multipart without the last range asked
        whole               200 with the whole file (nginx's slice cache answers so)
        refuse              416 with "Content-Range: bytes */SIZE", the validators and an
                            empty body, as Varnish 7.1 answers several ranges
        quoted              multipart whose boundary needs the quoted-string form
                            (boundary="rangefs quoted:<hex>")
        notype              multipart without a Content-Type in the parts
        preamble            multipart with a preamble before the first delimiter and an
                            epilogue after the close delimiter
    mpgarbage=MODE          answers no client can use as they are:
        shift               every part's Content-Range says first+1-last+1 (the asked bytes
                            are sent, as with cr=shift)
        shift_back          every part not starting at byte 0 says first-1-last-1
        outside             the last range asked is answered with a part for bytes nobody asked
                            for: the first stretch of the file outside every range asked, as
                            long as that range or shorter (correct bytes and Content-Range)
        total               the last part's Content-Range total is the size + 1
        long                the first part carries MP_EXTRA bytes of LONG_FILLER more than its
                            Content-Range says
        short               the first part carries its first bytes but MP_SHORT fewer than its
                            Content-Range says, then the next delimiter at once
        delimiter           the delimiters after the first part carry another boundary
        nodelimiter         no delimiter line between the first part and the second
        noboundary          Content-Type: multipart/byteranges without a boundary parameter
        single              a single-range request answered with a one-part multipart body
        cut                 the whole Content-Length promised, the body cut off (shutdown +
                            close) in the middle of the last part's bytes; with none of drop,
                            short, stall, stall_headers, long

Random faults (a soak test's server; see tests/integration/test_soak.py):

    chaos=PERCENT           each matching request (GETs; HEADs too with head=1) is faulted
                            with probability PERCENT/100 (0-100), with one kind drawn
                            uniformly from chaos_kinds:
        drop                drop=N, N uniform in [0, body length)
        status              status=503 with Retry-After: CHAOS_RETRY_AFTER (1 second)
        stall               stall=N, N uniform in [0, body length)
        trickle             trickle=CHAOS_TRICKLE (64 bytes a second)
        slice               wrong slices: cr=shift on a single-part 206, mpgarbage=shift on a
                            multipart one
        version             changed=1
        keepalive           close=unanswered on a reused connection (half of the time),
                            else close=after
    seed=N                  the random generator's seed (default 0)
    chaos_kinds=K1+K2...    the kinds drawn from (default all, in the order above)

chaos combines with no other fault option (nor times, after). The server keeps one
random.Random per seed (so in practice one per server), drawn from under a lock: the same seed
gives the same sequence of outcomes (fault or not, kind, parameter) in order of arrival, but
the order in which concurrent requests arrive, and so which request meets which outcome,
still varies between runs. A faulted request's log line names the kind in its fault field
and what was done in its chaos field ("drop=1234", "status=503,retry_after=1", "cr=shift",
"changed=1", "close=after"); a kind that cannot apply to the answer (a slice of a 200 or a
416, a drop or stall of an empty body or a HEAD) leaves it unfaulted, with fault "" and chaos
"none:KIND".

Conditions (not limited by times):

    require_header=Name:value   401 unless the request has exactly one Name field whose value
                                is value (e.g. require_header=Authorization%3ABearer%20x)
    gone_after=K            after K successful (2xx) GETs on this path and options segment, 403
                            forever (to GETs, and to HEADs with head=1): an expired presigned URL

Directory listings (the requests they cover are "listing requests"; everything else is a file
request, served as above):

    listing=html            a directory (a path ending in '/', or the options segment's root)
                            answers an nginx-style HTML listing of the real directory; a
                            directory's path without its '/' is 301 to the path with it. Without
                            listing= (and s3=) a directory is 404, as before
    listing=names           a fixed tree held in memory (NAMES_TREE), not the docroot: hrefs
                            with spaces, '+', %2F, UTF-8 (percent-encoded and raw), invalid
                            UTF-8 (%FF%FE), '..' and NUL (as %2E%2E/ and %00), a name listed
                            twice and one listed under two spellings, a subdirectory with a
                            space; each file listed answers NAMES_CONTENT(name) with Range
    s3=1                    the options segment's root is a public S3 bucket (path-style; for
                            virtual-hosted style, where the bucket is the origin and objects are
                            at /KEY, start the server with --options s3=1, see below): a GET of
                            the root with ?list-type=2[&prefix=P][&delimiter=D]
                            [&continuation-token=T][&max-keys=N][&start-after=K]
                            [&encoding-type=url] answers ListObjectsV2's ListBucketResult XML
                            for the regular files under the docroot (keys are their paths, in
                            UTF-8 byte order); objects are files as usual, a missing key is a
                            404 NoSuchKey XML error
    s3_page=N               at most N keys and common prefixes per ListObjectsV2 page (default
                            1000; max-keys can ask for fewer)
    only=dirs|files         the faults of the URL hit (and times/after count) only listing
                            requests, or only file requests: e.g. listing=html,only=dirs,
                            status=500,after=2 answers 500 to every listing request of a
                            directory after its first two (a listing that breaks on refresh)
    lfault=MODE             listing faults (fault options: times, after and head select them;
                            they hit listing requests only; need listing= or s3=):
        endless             an HTML listing that never ends: no Content-Length, a new link
                            every `interval` ms (default 50; 0: as fast as the client reads)
                            until the client leaves, STALL_LIMIT passes or the server stops
        huge                a valid HTML listing `mib` MiB long (default 50) of distinct links
        links               a valid HTML listing of `count` links (default 1000000)
        loop                listings show an extra directory loop/ holding a/ and b/;
                            loop/a/ is 302 to loop/b/, and loop/b/ is 302 to loop/a/
        self                the real listing plus links to the directory itself and to its
                            parent (".", "./", "", "../", "/", and their absolute URLs)
        bomb                (s3 only) the ListBucketResult is a billion-laughs XML bomb: nested
                            entity definitions that expand to 3 * 10**9 bytes
    mib=N, count=N, interval=MS   the parameters above

Server-wide options: --options SEGMENT (RangeTestServer(root, options="s3=1")) makes the
server apply SEGMENT to every request and take the whole path as the file's: URLs have no
options segment (http://127.0.0.1:P/dir/file), which is how an S3 bucket's virtual-hosted URLs
look (http://127.0.0.1:P/?list-type=2&prefix=dir/). url() then leaves the segment out (and
refuses options).

Library use::

    with RangeTestServer("/some/docroot") as server:
        url = server.url("a b.bin", etag="weak")   # http://127.0.0.1:P/etag=weak/a%20b.bin
        url = server.url("x.bin", status=503, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
        ...
        entries = server.requests()                # list of dicts, one per finished response

    with RangeTestServer(root, tls=True) as server:  # https://127.0.0.1:P, self-signed
        context = ssl.create_default_context(cafile=server.cert_path)

Script use::

    python3 scripts/lib/range_test_server.py --root DIR [--port N] [--port-file F] [--log F]
                                             [--tls [--cert-dir D]] [--options SEGMENT]

prints the base URL (and with --tls the certificate's path) and serves until SIGINT/SIGTERM (or,
with --exit-on-stdin-eof, until its standard input reaches end of file: the library passes a
pipe, so the server dies with the test process even when that is killed hard). --tls makes a
certificate for 127.0.0.1 and localhost with the openssl command (cert.pem and key.pem in
--cert-dir, else in a temporary directory removed at exit).

Each request opens the file once and takes size and validators from that descriptor, so one
response always describes one version of the file even if it is renamed over meanwhile. Each
finished response appends one JSON line to the log (see _Handler._new_record for the fields).
Everything is bounded: a stall ends when the client goes away, after STALL_LIMIT seconds, or
when the server stops. Only the Python standard library (and the openssl command for --tls)
is used.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import email.utils
import gzip
import hashlib
import json
import os
import random
import re
import secrets
import select
import shutil
import signal
import socket
import ssl
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

from procfs import wait_until  # scripts/lib, beside this file

__all__ = ["RangeTestServer", "RangeTestServerError", "OptionError", "parse_options",
           "parse_range_header", "make_certificate", "main", "LISTING_MODES", "LISTING_FAULTS",
           "NAMES_TREE", "NAMES_CONTENT", "NAMES_FILES", "S3_NAMESPACE", "bucket_keys",
           "FAULT_OPTIONS", "LONG_FILLER", "MP_EXTRA", "MP_SHORT", "MULTI_MODES", "MPGARBAGE_MODES",
           "OVERFLOW", "STALL_LIMIT", "WIDE", "CHAOS_KINDS", "CHAOS_TRICKLE", "CHAOS_RETRY_AFTER"]

CHUNK = 256 * 1024
MAX_PARTS = 16  # more ranges than this in one request: answer the whole file instead
# Like nginx's keepalive_timeout: an idle keep-alive connection is closed after this.
IDLE_TIMEOUT = 65.0
STALL_LIMIT = 300.0          # longest a stall holds a connection
PACE_INTERVAL = 0.1          # trickle=: seconds between two slices of the body
TLS_HANDSHAKE_TIMEOUT = 10.0
WIDE = 64 * 1024             # cr=wider rounds the range out to multiples of this
OVERFLOW = "99999999999999999999999"  # does not fit 64 bits, signed or not
LONG_FILLER = b"LONG-BODY-EXTRA-BYTES|"  # long=N sends N bytes of this, repeated
MP_EXTRA = 100               # mpgarbage=long: bytes of LONG_FILLER after the first part's data
MP_SHORT = 1000              # mpgarbage=short: bytes the first part lacks (fewer if it is shorter)
LISTING_MODES = ("html", "names")
LISTING_FAULTS = ("endless", "huge", "links", "loop", "self", "bomb")
MULTI_MODES = ("plain", "coalesce", "merge", "reverse", "first", "omit", "whole", "refuse",
               "quoted", "notype", "preamble")
MPGARBAGE_MODES = ("shift", "shift_back", "outside", "total", "long", "short", "delimiter",
                   "nodelimiter", "noboundary", "single", "cut")
CLOSE_MODES = ("after", "unanswered")
# chaos=: the kinds of fault drawn, and their fixed parameters.
CHAOS_KINDS = ("drop", "status", "stall", "trickle", "slice", "version", "keepalive")
CHAOS_TRICKLE = 64           # bytes a second: far under rangefs's --min-rate default (1 KiB/s)
CHAOS_RETRY_AFTER = "1"      # seconds, with the 503
# changed=1: the other version's Last-Modified is this many seconds after the real one.
CHANGED_MTIME_STEP = 60
_INVERT = bytes(255 - i for i in range(256))  # changed=1's bytes: every bit flipped
# multi=preamble: text a client must skip before the first delimiter and after the last.
PREAMBLE = b"This is the preamble of a multipart/byteranges body; it is to be ignored.\r\n"
EPILOGUE = b"This is the epilogue; it is to be ignored too.\r\n"
MAX_HUGE_HEADER = 64 * 1024 * 1024
# junk=1: lines no HTTP parser should accept as they are.
JUNK_LINES = (b"ThisLineHasNoColon", b"   ", b"X-Junk-Nul: before\x00after",
              b"X-Junk-Bytes: caf\xe9 \xff\xfe \xc3\x28")


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


def _count(low: int = 0, high: Optional[int] = None) -> Callable[[str], int]:
    """A decimal integer in [low, high]."""
    def parse(text: str) -> int:
        if not re.fullmatch(r"[0-9]{1,19}", text):
            raise ValueError("expected a non-negative decimal integer")
        value = int(text)
        if value < low or (high is not None and value > high):
            raise ValueError(f"expected {low} to {high if high is not None else 'any'}")
        return value
    return parse


def _status_code(low: int, high: int, allowed: Optional[tuple[int, ...]] = None
                 ) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not re.fullmatch(r"[0-9]{3}", text):
            raise ValueError("expected a three-digit status code")
        code = int(text)
        if allowed is not None and code not in allowed:
            raise ValueError(f"expected one of {'|'.join(map(str, allowed))}")
        if not low <= code <= high:
            raise ValueError(f"expected a status from {low} to {high}")
        return code
    return parse


def _field_value(text: str) -> str:
    """Text that can be sent verbatim in a header field: not empty, no CR, LF or NUL."""
    if not text or any(c in text for c in "\r\n\0"):
        raise ValueError("expected a non-empty value without CR, LF or NUL")
    return text


def _integer_literal(text: str) -> str:
    """Any decimal integer, signed and as long as wanted: sent verbatim."""
    if not re.fullmatch(r"[+-]?[0-9]{1,64}", text):
        raise ValueError("expected a decimal integer, optionally signed")
    return text


_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _chaos_kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(text.split("+"))
    unknown = [kind for kind in kinds if kind not in CHAOS_KINDS]
    if unknown or len(set(kinds)) != len(kinds):
        raise ValueError(f"expected distinct kinds from {'|'.join(CHAOS_KINDS)} joined by '+'")
    return kinds


def _header_requirement(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not _TOKEN_RE.fullmatch(name):
        raise ValueError("expected Name:value with a header field name before the colon")
    return name, _field_value(value.strip()) if value.strip() else ""


# key -> (parser, default). The planner and writer read them from the parsed dict; the fault
# options default to None (not given).
_OPTION_SPECS: dict[str, tuple[Callable[[str], object], object]] = {
    "etag": (_choice("strong", "weak", "none"), "strong"),
    "lm": (_flag, True),
    "pre": (_choice("honor", "ignore"), "honor"),
    "ranges": (_flag, True),
    # which requests
    "times": (_count(), None),
    "after": (_count(), None),
    "head": (_flag, False),
    # faults
    "status": (_status_code(400, 599), None),
    "retry_after": (_field_value, None),
    "redirect": (_count(0, 1000), None),
    "location": (_field_value, None),
    "redirect_status": (_status_code(300, 399, (301, 302, 303, 307, 308)), None),
    "sign": (_flag, False),
    "sig": (_field_value, None),
    "drop": (_count(), None),
    "short": (_count(), None),
    "stall": (_count(), None),
    "stall_headers": (_flag, None),
    "trickle": (_count(1, 1 << 30), None),
    "trickle_headers": (_count(1, 1 << 30), None),
    "endless_headers": (_flag, None),
    "long": (_count(0, 64 * 1024 * 1024), None),
    "cr": (_choice("shift", "wider", "none"), None),
    "total": (_count(), None),
    "crstar": (_flag, None),
    "crnum": (_choice("overflow", "overflow_last", "negative", "negative_first", "wrap"), None),
    "gzip": (_flag, None),
    "cl": (_integer_literal, None),
    "junk": (_flag, None),
    "huge_header": (_count(1, MAX_HUGE_HEADER), None),
    "multi": (_choice(*MULTI_MODES), None),
    "mpgarbage": (_choice(*MPGARBAGE_MODES), None),
    "changed": (_flag, None),
    "close": (_choice(*CLOSE_MODES), None),
    # random faults
    "chaos": (_count(0, 100), None),
    "seed": (_count(), 0),
    "chaos_kinds": (_chaos_kinds, CHAOS_KINDS),
    # conditions
    "require_header": (_header_requirement, None),
    "gone_after": (_count(), None),
    # directory listings
    "listing": (_choice(*LISTING_MODES), None),
    "s3": (_flag, False),
    "s3_page": (_count(1, 100000), 1000),
    "only": (_choice("dirs", "files"), None),
    "lfault": (_choice(*LISTING_FAULTS), None),
    "mib": (_count(1, 1024), 50),
    "count": (_count(1, 10_000_000), 1_000_000),
    "interval": (_count(0, 60_000), 50),
}

# The options `times`, `after` and `head` select requests for. A flag set to 0 is no fault.
FAULT_OPTIONS = ("status", "redirect", "location", "drop", "short", "stall", "stall_headers",
                 "trickle", "trickle_headers", "endless_headers", "long", "cr", "total",
                 "crstar", "crnum", "gzip", "cl", "junk", "huge_header", "multi", "mpgarbage",
                 "changed", "close", "lfault")
# At most one option of each group.
_EXCLUSIVE = (("status", "redirect", "location", "lfault"),
              ("drop", "short", "stall", "stall_headers", "trickle", "trickle_headers",
               "endless_headers", "long", "close"),
              ("cr", "crnum"), ("total", "crnum", "crstar"), ("multi", "mpgarbage"))


def active_faults(options: dict) -> list[str]:
    """The fault options that are set, in FAULT_OPTIONS order."""
    return [key for key in FAULT_OPTIONS
            if options[key] is not None and options[key] is not False]


def parse_options(segment: str) -> dict:
    """The options segment as it appears in the URL ("-" or "key=value,...", each key and
    value percent-encoded) as a dict with every key filled in."""
    options = {key: default for key, (_, default) in _OPTION_SPECS.items()}
    if segment in ("-", ""):
        return options
    seen = set()
    for item in segment.split(","):
        raw_key, sep, raw_value = item.partition("=")
        key = urllib.parse.unquote(raw_key)
        value = urllib.parse.unquote(raw_value)
        if not sep:
            raise OptionError(f"option {key!r} is not key=value (options segment "
                              f"{urllib.parse.unquote(segment)!r}; use '-' for all defaults)")
        if key not in _OPTION_SPECS:
            raise OptionError(f"unknown option {key!r} (known: {', '.join(_OPTION_SPECS)})")
        if key in seen:
            raise OptionError(f"option {key!r} given twice")
        seen.add(key)
        try:
            options[key] = _OPTION_SPECS[key][0](value)
        except ValueError as e:
            raise OptionError(f"bad value {value!r} for option {key!r}: {e}") from None
    for group in _EXCLUSIVE:
        given = [key for key in group if key in seen]
        if len(given) > 1:
            raise OptionError(f"options {' and '.join(given)} cannot be combined")
    if options["mpgarbage"] == "cut":
        given = [key for key in _EXCLUSIVE[1] if key in seen]
        if given:
            raise OptionError(f"option mpgarbage=cut cannot be combined with {given[0]}")
    if options["chaos"] is not None:
        given = [key for key in seen if key in FAULT_OPTIONS or key in ("times", "after")]
        if given:
            raise OptionError(f"option chaos draws its own faults; {given[0]!r} cannot be "
                              f"combined with it")
    for key in ("seed", "chaos_kinds"):
        if key in seen and options["chaos"] is None:
            raise OptionError(f"option {key!r} needs 'chaos'")
    if options["close"] == "unanswered":
        given = [key for key in seen if key in FAULT_OPTIONS and key != "close"]
        if given:
            raise OptionError(f"option close=unanswered sends no answer for {given[0]!r} to "
                              f"damage")
    if "retry_after" in seen and "status" not in seen:
        raise OptionError("option 'retry_after' needs 'status'")
    if "redirect_status" in seen and not seen & {"redirect", "location"}:
        raise OptionError("option 'redirect_status' needs 'redirect' or 'location'")
    if "sign" in seen and "redirect" not in seen:
        raise OptionError("option 'sign' needs 'redirect'")
    for selector in ("times", "after"):
        if selector in seen and not active_faults(options):
            raise OptionError(f"option '{selector}' given without a fault to limit")
    if ("head" in seen and not active_faults(options) and "gone_after" not in seen
            and options["chaos"] is None):
        raise OptionError("option 'head' given without a fault, chaos or gone_after")
    if "listing" in seen and options["s3"]:
        raise OptionError("options listing and s3 cannot be combined")
    listed = "listing" in seen or options["s3"]
    for key in ("only", "lfault", "s3_page"):
        if key in seen and not listed:
            raise OptionError(f"option {key!r} needs 'listing' or 's3'")
    if "only" in seen and not active_faults(options):
        raise OptionError("option 'only' given without a fault to limit")
    if options["lfault"] == "bomb" and not options["s3"]:
        raise OptionError("option lfault=bomb needs s3=1 (it is an XML answer)")
    if options["lfault"] is not None and options["only"] == "files":
        raise OptionError("option lfault hits listing requests only; only=files contradicts it")
    for key, mode in (("mib", "huge"), ("count", "links"), ("interval", "endless")):
        if key in seen and options["lfault"] != mode:
            raise OptionError(f"option {key!r} needs lfault={mode}")
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


# A header line: (name, value), or raw bytes sent as they are (junk=1).
HeaderLine = Union[tuple[str, str], bytes]


@dataclass
class Damage:
    """What the writer does to the transfer itself. cut_after: body bytes sent before
    `action` ("drop": shutdown and close; "stall": silence until the client leaves), None for
    all of them; extra: bytes sent after the body (long=N); stall_headers: silence before the
    status line; rate/head_rate: bytes a second the body/head are paced at (trickle=,
    trickle_headers=); endless_headers: header lines forever instead of the head; invert: the
    file's bytes are sent with every bit flipped (changed=1); close: "after" closes the
    connection once the answer is sent, "unanswered" sends nothing and closes (close=)."""
    cut_after: Optional[int] = None
    action: Optional[str] = None
    extra: int = 0
    stall_headers: bool = False
    rate: Optional[int] = None
    head_rate: Optional[int] = None
    endless_headers: bool = False
    invert: bool = False
    close: Optional[str] = None


@dataclass
class Plan:
    """Everything the writer needs: status, headers (Content-Length is added by the writer
    from the body unless content_length overrides it), the body as segments, and the damage
    to do while sending. range/size describe a single-part 206 (offset, length of the file)
    for the faults that rewrite it."""
    status: int
    headers: list[HeaderLine] = field(default_factory=list)
    body: list[Segment] = field(default_factory=list)
    close: bool = False  # send Connection: close and end the connection afterwards
    content_length: Optional[str] = None
    damage: Damage = field(default_factory=Damage)
    range: Optional[tuple[int, int]] = None
    size: Optional[int] = None
    # A multipart answer: the satisfiable ranges asked, in the order asked (for the multi-range
    # modes), and the Content-Range of each part as sent, in body order (for the log).
    parts: Optional[list[tuple[int, int]]] = None
    labels: list[str] = field(default_factory=list)
    # lfault=endless: after the body, a new link every this many seconds, forever; the head
    # has no Content-Length and the connection's end is the body's.
    endless: Optional[float] = None

    @property
    def length(self) -> int:
        return sum(len(s) if isinstance(s, bytes) else s[1] for s in self.body)

    def set_header(self, name: str, value: Optional[str]) -> None:
        """Replaces every `name` field by one with `value` (in the first one's place), or
        removes them for None."""
        lowered = name.lower()
        out: list[HeaderLine] = []
        placed = False
        for line in self.headers:
            if isinstance(line, tuple) and line[0].lower() == lowered:
                if value is not None and not placed:
                    out.append((name, value))
                    placed = True
                continue
            out.append(line)
        if value is not None and not placed:
            out.append((name, value))
        self.headers = out


def _text_plan(status: int, text: str, headers: Optional[list[HeaderLine]] = None,
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


def _other_version(v: _Validators) -> _Validators:
    """changed=1: the validators of another version of the same file, as if it had been
    replaced (same size, another ETag of the same kind, a later Last-Modified)."""
    opaque = hashlib.sha256(f"changed:{v.opaque}".encode()).hexdigest()[:24]
    etag = None if v.etag is None else (f'W/"{opaque}"' if v.weak else f'"{opaque}"')
    mtime = v.mtime + CHANGED_MTIME_STEP
    return _Validators(v.size, mtime, opaque, etag, v.weak,
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


@dataclass
class _Part:
    """One part of a multipart body as sent: its bytes (file segments or literal bytes), the
    Content-Range value, and the boundary its delimiter line carries (None: the body's own;
    "": no delimiter line at all)."""
    data: list[Segment]
    label: str
    delimiter: Optional[str] = None


def _file_part(offset: int, length: int, size: int) -> _Part:
    return _Part([(offset, length)], f"bytes {offset}-{offset + length - 1}/{size}")


def _multipart_body(boundary: str, parts: list[_Part], part_type: bool = True,
                    preamble: bytes = b"", epilogue: bytes = b"") -> list[Segment]:
    """multipart/byteranges (RFC 9110 section 14.6, syntax of RFC 2046 section 5.1.1)."""
    body: list[Segment] = [preamble] if preamble else []
    for i, part in enumerate(parts):
        # The CRLF before a delimiter belongs to the delimiter (RFC 2046), so none before
        # the first one and one after every part's data.
        delimiter = boundary if part.delimiter is None else part.delimiter
        head = f"--{delimiter}\r\n" if delimiter else ""
        if part_type:
            head += "Content-Type: application/octet-stream\r\n"
        head += f"Content-Range: {part.label}\r\n\r\n"
        body.append((b"\r\n" if i else b"") + head.encode("ascii"))
        body.extend(part.data)
    body.append(f"\r\n--{boundary}--\r\n".encode("ascii"))
    if epilogue:
        body.append(epilogue)
    return body


def _boundary() -> str:
    return "rangefs-" + secrets.token_hex(12)


def _set_multipart(plan: Plan, parts: list[_Part], boundary: Optional[str] = None,
                   quoted: bool = False, **layout) -> None:
    """Makes plan a multipart 206 of these parts (layout: _multipart_body's keywords)."""
    boundary = boundary or _boundary()
    parameter = f'"{boundary}"' if quoted else boundary
    plan.status = 206
    plan.set_header("Content-Type", f"multipart/byteranges; boundary={parameter}")
    plan.set_header("Content-Range", None)
    plan.body = _multipart_body(boundary, parts, **layout)
    plan.labels = [part.label for part in parts]
    plan.range = None


def _set_single_part(plan: Plan, offset: int, length: int, size: int) -> None:
    """Makes plan a single-part 206 for length bytes at offset."""
    plan.status = 206
    plan.set_header("Content-Type", "application/octet-stream")
    plan.set_header("Content-Range", f"bytes {offset}-{offset + length - 1}/{size}")
    plan.body = [(offset, length)]
    plan.range = (offset, length)
    plan.labels = []


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
                 [(0, v.size)] if v.size else [], size=v.size)
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
                          ("Accept-Ranges", "bytes"), *common], [parts[0]],
                    range=parts[0], size=v.size)
    ordered = sorted(parts)
    if any(b[0] < a[0] + a[1] for a, b in zip(ordered, ordered[1:])):
        return whole  # overlapping ranges: a client asking for that gets the plain file
    plan = Plan(206, [("Content-Type", ""), ("Accept-Ranges", "bytes"), *common],
                size=v.size, parts=parts)
    _set_multipart(plan, [_file_part(offset, length, v.size) for offset, length in parts])
    return plan




# ------------------------------------------------------------------------------- faults
def _content_range_fault(plan: Plan, options: dict) -> None:
    """cr=, total=, crstar= and crnum= on a single-part 206 (anything else is left alone)."""
    if plan.status != 206 or plan.range is None or plan.size is None:
        return
    offset, length = plan.range
    first, last, size = offset, offset + length - 1, plan.size
    total = size if options["total"] is None else options["total"]
    if options["crstar"]:
        total = "*"
    mode = options["cr"]
    if mode == "none":
        plan.set_header("Content-Range", None)
        return
    if mode == "shift":
        value = f"bytes {first + 1}-{last + 1}/{total}"
    elif mode == "wider":
        start = first // WIDE * WIDE
        end = min(size, (last // WIDE + 1) * WIDE)  # exclusive
        plan.body = [(start, end - start)]
        plan.range = (start, end - start)
        value = f"bytes {start}-{end - 1}/{total}"
    else:
        value = f"bytes {first}-{last}/{total}"
    crnum = options["crnum"]
    if crnum == "overflow":
        value = f"bytes {first}-{last}/{OVERFLOW}"
    elif crnum == "overflow_last":
        value = f"bytes {first}-{OVERFLOW}/{size}"
    elif crnum == "negative":
        value = f"bytes {first}-{last}/-5"
    elif crnum == "negative_first":
        value = f"bytes -5-{last}/{size}"
    elif crnum == "wrap":
        value = f"bytes {first + 2**64}-{last + 2**64}/{size + 2**64}"
    plan.set_header("Content-Range", value)


_PART_TOTAL_RE = re.compile(rb"(Content-Range: bytes [0-9]+-[0-9]+)/[0-9]+\r\n")


def _unknown_part_totals(plan: Plan) -> None:
    """crstar= on a multipart answer: every part's Content-Range total becomes "*"."""
    if plan.status != 206 or not plan.labels:
        return
    plan.body = [_PART_TOTAL_RE.sub(rb"\1/*\r\n", s) if isinstance(s, bytes) else s
                 for s in plan.body]
    plan.labels = [re.sub(r"/[0-9]+$", "/*", label) for label in plan.labels]


def _first_gap(parts: list[tuple[int, int]], size: int) -> Optional[tuple[int, int]]:
    """The first stretch of the file outside every (offset, length): (offset, length)."""
    pos = 0
    for offset, length in sorted(parts):
        if offset > pos:
            return pos, offset - pos
        pos = max(pos, offset + length)
    return (pos, size - pos) if pos < size else None


def _multi_range_mode(plan: Plan, options: dict) -> None:
    """multi= and mpgarbage= (but cut, a transfer fault) on a multipart answer, and
    mpgarbage=single on a single-part 206; anything else is left alone."""
    multi, garbage = options["multi"], options["mpgarbage"]
    size = plan.size
    if garbage == "single":
        if plan.status == 206 and plan.range is not None and size is not None:
            _set_multipart(plan, [_file_part(*plan.range, size)])
        return
    if plan.parts is None or size is None or multi in (None, "plain") and garbage in (None, "cut"):
        return
    asked = plan.parts
    parts = [_file_part(offset, length, size) for offset, length in asked]
    ends = [(offset, offset + length) for offset, length in asked]  # end exclusive
    if multi == "coalesce":
        first = min(a for a, _ in ends)
        _set_single_part(plan, first, max(b for _, b in ends) - first, size)
    elif multi == "first":
        _set_single_part(plan, *asked[0], size)
    elif multi == "whole":
        plan.status = 200
        plan.set_header("Content-Type", "application/octet-stream")
        plan.set_header("Content-Range", None)
        plan.body = [(0, size)] if size else []
        plan.range = None
        plan.labels = []
    elif multi == "refuse":
        plan.status = 416
        plan.set_header("Content-Type", None)
        plan.set_header("Content-Range", f"bytes */{size}")
        plan.body = []
        plan.range = None
        plan.labels = []
    elif multi == "merge":
        ordered = sorted(ends)
        merged = [(pair[0][0], pair[-1][1]) for pair in
                  (ordered[i:i + 2] for i in range(0, len(ordered), 2))]
        _set_multipart(plan, [_file_part(a, b - a, size) for a, b in merged])
    elif multi == "reverse":
        _set_multipart(plan, parts[::-1])
    elif multi == "omit":
        _set_multipart(plan, parts[:-1])
    elif multi == "quoted":
        _set_multipart(plan, parts, boundary="rangefs quoted:" + secrets.token_hex(8),
                       quoted=True)
    elif multi == "notype":
        _set_multipart(plan, parts, part_type=False)
    elif multi == "preamble":
        _set_multipart(plan, parts, preamble=PREAMBLE, epilogue=EPILOGUE)
    elif garbage in ("shift", "shift_back"):
        step = 1 if garbage == "shift" else -1
        for part, (a, b) in zip(parts, ends):
            if step > 0 or a > 0:
                part.label = f"bytes {a + step}-{b - 1 + step}/{size}"
        _set_multipart(plan, parts)
    elif garbage == "outside":
        gap = _first_gap(asked, size)
        if gap is not None:
            parts[-1] = _file_part(gap[0], min(gap[1], asked[-1][1]), size)
        _set_multipart(plan, parts)
    elif garbage == "total":
        a, b = ends[-1]
        parts[-1].label = f"bytes {a}-{b - 1}/{size + 1}"
        _set_multipart(plan, parts)
    elif garbage == "long":
        parts[0].data.append(long_filler(MP_EXTRA))
        _set_multipart(plan, parts)
    elif garbage == "short":
        offset, length = asked[0]
        parts[0].data = [(offset, max(1, length - MP_SHORT))]
        _set_multipart(plan, parts)
    elif garbage == "delimiter":
        other = "other-" + secrets.token_hex(12)
        for part in parts[1:]:
            part.delimiter = other
        _set_multipart(plan, parts)
    elif garbage == "nodelimiter":
        parts[1].delimiter = ""
        _set_multipart(plan, parts)
    elif garbage == "noboundary":
        _set_multipart(plan, parts)
        plan.set_header("Content-Type", "multipart/byteranges")


def _cut_in_last_part(plan: Plan) -> int:
    """mpgarbage=cut: body bytes before the middle of the last file segment's bytes."""
    sizes = [len(s) if isinstance(s, bytes) else s[1] for s in plan.body]
    last = max(i for i, s in enumerate(plan.body) if not isinstance(s, bytes))
    return sum(sizes[:last]) + sizes[last] // 2


def _read_segments(body: list[Segment], fd: Optional[int]) -> bytes:
    out = []
    for segment in body:
        if isinstance(segment, bytes):
            out.append(segment)
            continue
        assert fd is not None
        offset, remaining = segment
        while remaining > 0:
            data = os.pread(fd, min(CHUNK, remaining), offset)
            if not data:
                break
            out.append(data)
            offset += len(data)
            remaining -= len(data)
    return b"".join(out)


def apply_body_faults(plan: Plan, options: dict, fd: Optional[int]) -> None:
    """The faults that change what a file answer says: the multi-range modes, Content-Range
    and the encoding."""
    _multi_range_mode(plan, options)
    _content_range_fault(plan, options)
    if options["crstar"]:
        _unknown_part_totals(plan)
    if options["gzip"] and plan.status in (200, 206) and plan.size is not None:
        if plan.status == 200 or plan.range is not None:  # not multipart
            plan.body = [gzip.compress(_read_segments(plan.body, fd), compresslevel=1, mtime=0)]
            plan.set_header("Content-Encoding", "gzip")


def _apply_faults(plan: Plan, options: dict, fd: Optional[int]) -> None:
    """The body faults (on a file's answer, whose descriptor is fd) and the transfer faults;
    fd is closed if they fail, since the caller then never gets to send the plan."""
    try:
        if fd is not None:
            apply_body_faults(plan, options, fd)
        apply_transfer_faults(plan, options)
    except BaseException:
        if fd is not None:
            os.close(fd)
        raise


def apply_transfer_faults(plan: Plan, options: dict) -> None:
    """The faults of any answer: header lines, framing, and damage to the transfer."""
    extra: list[HeaderLine] = []
    if options["junk"]:
        extra.extend(JUNK_LINES)
    if options["huge_header"]:
        extra.append(("X-Huge", "h" * options["huge_header"]))
    plan.headers = [*extra, *plan.headers]
    if options["cl"] is not None:
        plan.content_length = options["cl"]
        plan.close = True  # the framing is a lie: only the end of the connection ends it
    damage = plan.damage
    if options["drop"] is not None:
        damage.cut_after, damage.action = options["drop"], "drop"
    elif options["short"] is not None:
        damage.cut_after, damage.action = max(0, plan.length - options["short"]), "drop"
    elif options["stall"] is not None:
        damage.cut_after, damage.action = options["stall"], "stall"
    elif options["stall_headers"]:
        damage.stall_headers = True
    elif options["trickle"] is not None:
        damage.rate = options["trickle"]
    elif options["trickle_headers"] is not None:
        damage.head_rate = options["trickle_headers"]
    elif options["endless_headers"]:
        damage.endless_headers = True
    elif options["long"]:
        damage.extra = options["long"]
    elif options["mpgarbage"] == "cut" and plan.parts is not None and plan.labels:
        damage.cut_after, damage.action = _cut_in_last_part(plan), "drop"
    elif options["close"] is not None:
        damage.close = options["close"]
    if options["changed"]:
        damage.invert = True


def _has_matching_shape(options: dict, range_field: str) -> bool:
    """Whether a request's Range has the shape multi= and mpgarbage= narrow the faults to:
    2 or more ranges (1 for mpgarbage=single); always true without those options."""
    if options["multi"] is None and options["mpgarbage"] is None:
        return True
    count = len(parse_range_header(range_field) or []) if range_field else 0
    return count == 1 if options["mpgarbage"] == "single" else count >= 2


def _next_redirect_segment(raw_segment: str, redirect: int,
                           signature: Optional[int] = None) -> str:
    """The options segment with redirect=N-1; at 0 without redirect, and then also without
    what only made sense with it (redirect_status, sign; times, after and head when no fault
    is left). With a signature (sign=1), sig=<signature> in place of any earlier sig."""
    items = [(urllib.parse.unquote(item.partition("=")[0]), item)
             for item in raw_segment.split(",")]
    if signature is not None:
        items = [(key, item) for key, item in items if key != "sig"]
    if redirect > 1:
        items = [(key, f"redirect={redirect - 1}" if key == "redirect" else item)
                 for key, item in items]
    else:
        items = [(key, item) for key, item in items
                 if key not in ("redirect", "redirect_status", "sign")]
        keys = {key for key, _ in items}
        if not keys & set(FAULT_OPTIONS):
            items = [(key, item) for key, item in items
                     if key not in ("times", "after")
                     and (key != "head" or "gone_after" in keys)]
    if signature is not None:
        items.append(("sig", f"sig={signature}"))
    return ",".join(item for _, item in items) or "-"


def long_filler(count: int) -> bytes:
    return (LONG_FILLER * (count // len(LONG_FILLER) + 1))[:count]


# ------------------------------------------------------------------------------ listings
# listing=names: directory (decoded path relative to the segment root, "" for the root) ->
# the links of its page, in page order, as (href exactly as written in the page, the name
# it decodes to). A name ending in '/' is a directory. Every decoded name that is a usable
# file name (not empty, '.', '..', without '/' or NUL) is a file served with NAMES_CONTENT.
NAMES_TREE: dict[bytes, list[tuple[bytes, bytes]]] = {
    b"": [
        (b"with%20space.txt", b"with space.txt"),
        (b"plus+sign.txt", b"plus+sign.txt"),
        (b"caf%C3%A9.txt", "café.txt".encode()),
        ("café.txt".encode(), "café.txt".encode()),   # the same name, spelled raw
        (b"%E6%97%A5%E6%9C%AC.bin", "日本.bin".encode()),
        (b"bad%FF%FEname.txt", b"bad\xff\xfename.txt"),  # not UTF-8
        (b"a%2Fb.txt", b"a/b.txt"),                    # a '/' after decoding: not a name
        (b"%2E%2E/", b"../"),                          # '..' after decoding
        (b"nul%00.txt", b"nul\x00.txt"),               # a NUL after decoding
        (b"dup.txt", b"dup.txt"),
        (b"dup.txt", b"dup.txt"),                      # listed twice
        (b"sub%20dir/", b"sub dir/"),
    ],
    b"sub dir/": [
        (b"inner.txt", b"inner.txt"),
        (b"%C3%BC.txt", "ü.txt".encode()),
    ],
}


def NAMES_CONTENT(path: bytes) -> bytes:  # noqa: N802  (a constant-like table function)
    """The content of the listing=names file at `path` (decoded, relative to the root): 64
    lines naming it, so that ranged reads can be checked."""
    return b"".join(b"%04d %s\n" % (i, path) for i in range(64))


def _names_files() -> set[bytes]:
    files = set()
    for directory, links in NAMES_TREE.items():
        for _, name in links:
            if name.endswith(b"/") or name in (b"", b".", b"..") or b"/" in name \
                    or b"\0" in name:
                continue
            files.add(directory + name)
    return files


NAMES_FILES = frozenset(_names_files())


def _html_page(title: str, rows: list[tuple[bytes, bytes, str]]) -> bytes:
    """An nginx-autoindex-like page: rows of (href as written, text bytes, right column)."""
    head = (f'<html>\r\n<head><title>Index of {_escape(title)}</title></head>\r\n<body>\r\n'
            f'<h1>Index of {_escape(title)}</h1><hr><pre><a href="../">../</a>\r\n').encode()
    body = [head]
    for href, text, info in rows:
        body.append(b'<a href="' + href + b'">' + text + b"</a>" + b" " * 8 + info.encode()
                    + b"\r\n")
    body.append(b"</pre><hr></body>\r\n</html>\r\n")
    return b"".join(body)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(
        '"', "&quot;")


def _escape_bytes(data: bytes) -> bytes:
    return (data.replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;")
            .replace(b'"', b"&quot;"))


def _listing_date(mtime: float) -> str:
    return time.strftime("%d-%b-%Y %H:%M", time.gmtime(mtime))


def directory_page(path: str, title: str, extra: Optional[list[tuple[bytes, bytes, str]]] = None
                   ) -> Optional[bytes]:
    """The listing=html page of the real directory `path`: directories first, then files, each
    sorted by name, hrefs percent-encoded from the names' bytes; None if it is not one."""
    try:
        with os.scandir(path) as it:
            entries = list(it)
    except OSError:
        return None
    dirs, files = [], []
    for entry in entries:
        name = os.fsencode(entry.name)
        try:
            st = entry.stat()
        except OSError:
            continue
        href = urllib.parse.quote_from_bytes(name).encode()
        if entry.is_dir():
            dirs.append((href + b"/", _escape_bytes(name) + b"/",
                         f"{_listing_date(st.st_mtime)}                   -"))
        elif entry.is_file():
            files.append((href, _escape_bytes(name),
                          f"{_listing_date(st.st_mtime)} {st.st_size:>19}"))
    rows = sorted(dirs) + sorted(files) + (extra or [])
    return _html_page(title, rows)


def _generated_links(count: Optional[int] = None, size: Optional[int] = None) -> bytes:
    """A valid listing page of distinct links: `count` of them, or as many as make the page
    `size` bytes (padded to exactly that with a comment before the end)."""
    head = b'<html>\r\n<head><title>Index of /</title></head>\r\n<body>\r\n<pre>\r\n'
    tail = b"</pre></body>\r\n</html>\r\n"
    parts = [head]
    total = len(head) + len(tail)
    i = 0
    while True:
        if count is not None and i >= count:
            break
        line = b'<a href="file-%08d.bin">file-%08d.bin</a>  01-Jan-2024 00:00  4096\r\n' % (i, i)
        if size is not None and total + len(line) + 8 > size:
            break
        parts.append(line)
        total += len(line)
        i += 1
    if size is not None and total < size:
        pad = size - total
        parts.append(b"<!--" + b"x" * max(0, pad - 7) + b"-->" if pad >= 7 else b" " * pad)
    parts.append(tail)
    return b"".join(parts)


def endless_link(i: int) -> bytes:
    return b'<a href="endless-%010d.bin">endless-%010d.bin</a>\r\n' % (i, i)


# ---------------------------------------------------------------------------- S3 listings
S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"


def _xml(text: str) -> str:
    """XML character data (S3 escapes these five)."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


def _s3_error(status: int, code: str, message: str) -> Plan:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{_xml(message)}</Message></Error>\n").encode()
    return Plan(status, [("Content-Type", "application/xml")], [body])


def bucket_keys(root: str) -> list[tuple[str, os.stat_result]]:
    """Every regular file under root as (key, stat), in UTF-8 byte order of the keys."""
    out = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            path = os.path.join(directory, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                key = os.path.relpath(path, root).replace(os.sep, "/")
                out.append((key, st))
    out.sort(key=lambda item: item[0].encode("utf-8", "surrogateescape"))
    return out


def _token(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode("utf-8", "surrogateescape")).decode()


def _untoken(token: str) -> Optional[str]:
    try:
        value = base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True)
        return value.decode("utf-8", "surrogateescape") if value else None
    except (ValueError, UnicodeError):  # binascii.Error is a ValueError
        return None


def s3_list_objects_v2(root: str, bucket: str, query: dict[str, list[str]], page: int,
                       options: dict) -> Plan:
    """ListObjectsV2 (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html)
    over the regular files under root."""
    def arg(name: str) -> Optional[str]:
        values = query.get(name)
        return values[0] if values else None

    if arg("list-type") != "2":
        return _s3_error(400, "InvalidArgument",
                         "this test bucket answers ListObjectsV2 only (list-type=2)")
    prefix = arg("prefix") or ""
    delimiter = arg("delimiter") or ""
    encoding = arg("encoding-type")
    if encoding not in (None, "url"):
        return _s3_error(400, "InvalidArgument", "Invalid Encoding Method specified in Request")
    max_keys_text = arg("max-keys")
    max_keys = 1000
    if max_keys_text is not None:
        if not re.fullmatch(r"[0-9]{1,9}", max_keys_text):
            return _s3_error(400, "InvalidArgument", "Provided max-keys not an integer or "
                                                     "within integer range")
        max_keys = min(int(max_keys_text), 1000)
    limit = min(max_keys, page)
    token = arg("continuation-token")
    after = arg("start-after") or ""
    if token is not None:
        last = _untoken(token)
        if last is None:
            return _s3_error(400, "InvalidArgument", "The continuation token provided is "
                                                     "incorrect")
        after = max(after, last, key=lambda v: v.encode("utf-8", "surrogateescape"))
    after_bytes = after.encode("utf-8", "surrogateescape")

    contents: list[tuple[str, os.stat_result]] = []
    prefixes: list[str] = []
    truncated = False
    last_value = None
    for key, st in bucket_keys(root):
        if not key.startswith(prefix):
            continue
        value = key
        common = False
        if delimiter:
            cut = key.find(delimiter, len(prefix))
            if cut >= 0:
                value = key[:cut + len(delimiter)]
                common = True
        value_bytes = value.encode("utf-8", "surrogateescape")
        if after and value_bytes <= after_bytes:
            continue  # returned on an earlier page (a common prefix repeats for its keys)
        if value == last_value:
            continue
        if len(contents) + len(prefixes) >= limit:
            truncated = True
            break
        last_value = value
        if common:
            prefixes.append(value)
        else:
            contents.append((key, st))

    def enc(text: str) -> str:
        if encoding == "url":
            return urllib.parse.quote(text.encode("utf-8", "surrogateescape"), safe="/")
        return _xml(text)

    body = ['<?xml version="1.0" encoding="UTF-8"?>\n',
            f'<ListBucketResult xmlns="{S3_NAMESPACE}">',
            f"<Name>{_xml(bucket)}</Name>",
            f"<Prefix>{enc(prefix)}</Prefix>"]
    if arg("start-after") is not None:
        body.append(f"<StartAfter>{enc(arg('start-after') or '')}</StartAfter>")
    if token is not None:
        body.append(f"<ContinuationToken>{_xml(token)}</ContinuationToken>")
    body.append(f"<KeyCount>{len(contents) + len(prefixes)}</KeyCount>")
    body.append(f"<MaxKeys>{max_keys}</MaxKeys>")
    if delimiter:
        body.append(f"<Delimiter>{enc(delimiter)}</Delimiter>")
    if encoding:
        body.append(f"<EncodingType>{encoding}</EncodingType>")
    body.append(f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>")
    if truncated and last_value is not None:
        body.append(f"<NextContinuationToken>{_token(last_value)}</NextContinuationToken>")
    for key, st in contents:
        modified = datetime.datetime.fromtimestamp(st.st_mtime_ns // 1_000_000 / 1000,
                                                   datetime.timezone.utc)
        etag = _validators(st, {"etag": "strong"}).opaque
        body.append(f"<Contents><Key>{enc(key)}</Key>"
                    f"<LastModified>{modified.strftime('%Y-%m-%dT%H:%M:%S.')}"
                    f"{modified.microsecond // 1000:03d}Z</LastModified>"
                    f"<ETag>&quot;{etag}&quot;</ETag><Size>{st.st_size}</Size>"
                    f"<StorageClass>STANDARD</StorageClass></Contents>")
    for common in prefixes:
        body.append(f"<CommonPrefixes><Prefix>{enc(common)}</Prefix></CommonPrefixes>")
    body.append("</ListBucketResult>\n")
    data = "".join(body).encode("utf-8", "surrogateescape")
    return Plan(200, [("Content-Type", "application/xml")], [data])


def xml_bomb(bucket: str) -> bytes:
    """Billion laughs: ten levels of ten references; &lol9; expands to 10**9 'lol's."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<!DOCTYPE ListBucketResult [",
             '  <!ENTITY lol "lol">']
    previous = "lol"
    for level in range(1, 10):
        lines.append(f'  <!ENTITY lol{level} "' + f"&{previous};" * 10 + '">')
        previous = f"lol{level}"
    lines.append("]>")
    lines.append(f'<ListBucketResult xmlns="{S3_NAMESPACE}"><Name>{_xml(bucket)}</Name>'
                 "<Prefix></Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys>"
                 "<IsTruncated>false</IsTruncated><Contents><Key>&lol9;</Key>"
                 "<LastModified>2024-01-01T00:00:00.000Z</LastModified>"
                 "<ETag>&quot;0&quot;</ETag><Size>3</Size><StorageClass>STANDARD"
                 "</StorageClass></Contents></ListBucketResult>")
    return ("\n".join(lines) + "\n").encode()


# --------------------------------------------------------------------------------- server
_LOGGED_FIELDS = {  # log key -> request header
    "range": "Range", "if_range": "If-Range", "if_match": "If-Match",
    "if_unmodified_since": "If-Unmodified-Since", "if_none_match": "If-None-Match",
    "if_modified_since": "If-Modified-Since",
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], root: str, log_path: Optional[str],
                 ssl_context: Optional[ssl.SSLContext] = None,
                 fixed_options: Optional[str] = None):
        self.root = os.path.realpath(root)
        # --options: applied to every request, whose whole path is then the file's.
        self.fixed_options = fixed_options
        # Generated content (listing=names files, huge pages), one memfd each, made once so
        # that a file keeps its validators; each response reads a dup of it.
        self._memfds: dict[tuple, int] = {}
        self._memfds_lock = threading.Lock()
        self.ssl_context = ssl_context
        self.scheme = "https" if ssl_context is not None else "http"
        self.stopping = threading.Event()  # ends stalls when the server stops
        self._log_file = open(log_path, "ab") if log_path else None
        self._log_lock = threading.Lock()
        # Responses begun but not yet logged, published in LOG.busy for settled_requests():
        # a client can hold every byte it needs before the server logs (a multipart answer's
        # closing delimiter, a response the client abandoned).
        self._busy_fd = (os.open(log_path + ".busy", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
                         if log_path else None)
        self._in_flight = 0  # Guarded by _log_lock
        self._publish_in_flight()
        self._ids_lock = threading.Lock()
        self._next_id = 0
        # (path, options segment) -> [matching requests, successful GETs for gone_after]
        self._counters: dict[tuple[str, str], list[int]] = {}
        self._counters_lock = threading.Lock()
        # chaos=: one generator per seed, drawn from under the lock.
        self._chaos: dict[int, random.Random] = {}
        self._chaos_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall on a
        # machine with slow DNS; the name is never used here.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server_address[1]}"

    def finish_request(self, request, client_address) -> None:
        """With TLS, the handshake happens here, in the connection's own thread and bounded,
        so that a client that never completes it holds up nothing else."""
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        try:
            request.settimeout(TLS_HANDSHAKE_TIMEOUT)
            tls = self.ssl_context.wrap_socket(request, server_side=True,
                                               do_handshake_on_connect=False)
        except OSError as e:
            sys.stderr.write(f"range_test_server: TLS setup failed: {e!r}\n")
            return
        try:
            try:
                tls.do_handshake()
            except (OSError, ValueError) as e:  # ssl.SSLError is an OSError
                sys.stderr.write(f"range_test_server: TLS handshake with {client_address} "
                                 f"failed: {e!r}\n")
                return
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def next_connection_id(self) -> int:
        with self._ids_lock:
            self._next_id += 1
            return self._next_id

    def count_request(self, key: tuple[str, str]) -> int:
        """Counts one matching request for key; returns its number (1 for the first)."""
        with self._counters_lock:
            counter = self._counters.setdefault(key, [0, 0])
            counter[0] += 1
            return counter[0]

    def chaos_draw(self, seed: int, percent: int, kinds: tuple[str, ...]
                   ) -> Optional[tuple[str, float]]:
        """chaos=: whether this request is faulted (with probability percent/100), and if so
        the kind and a uniform number in [0, 1) for its parameters; None for no fault. Every
        request drawn for draws the same three numbers, so the sequence of outcomes depends
        only on the seed and the order in which requests arrive."""
        with self._chaos_lock:
            rng = self._chaos.get(seed)
            if rng is None:
                rng = self._chaos[seed] = random.Random(seed)
            hit, pick, u = rng.random(), rng.random(), rng.random()
        if hit * 100 >= percent:
            return None
        return kinds[min(len(kinds) - 1, int(pick * len(kinds)))], u

    def claim_success(self, key: tuple[str, str], limit: int) -> bool:
        """gone_after: reserves one of `limit` successful GETs; False once they are used."""
        with self._counters_lock:
            counter = self._counters.setdefault(key, [0, 0])
            if counter[1] >= limit:
                return False
            counter[1] += 1
            return True

    def release_success(self, key: tuple[str, str]) -> None:
        """The reserved GET was not answered 2xx after all."""
        with self._counters_lock:
            self._counters[key][1] -= 1

    def begin_response(self) -> None:
        """A response starts; log() of its record ends it."""
        with self._log_lock:
            self._in_flight += 1
            self._publish_in_flight()

    def log(self, record: dict) -> None:
        line = (json.dumps(record, ensure_ascii=True) + "\n").encode()
        with self._log_lock:
            if self._log_file is not None:  # else closed meanwhile, or no log at all
                self._log_file.write(line)
                self._log_file.flush()
            self._in_flight -= 1
            self._publish_in_flight()

    def _publish_in_flight(self) -> None:
        """REQUIRES: _log_lock held (or no thread serving yet). Fixed width, one pwrite, so a
        reader never sees a mix of two counts."""
        if self._busy_fd is not None:
            os.pwrite(self._busy_fd, f"{self._in_flight:12d}\n".encode(), 0)

    def memfd(self, key: tuple, make: Callable[[], bytes]) -> int:
        """A new descriptor (the caller closes it) of the in-memory file for key, made with
        make() the first time. Made outside the lock: two first requests may both build it,
        and the first one stored wins."""
        with self._memfds_lock:
            fd = self._memfds.get(key)
            if fd is not None:
                return os.dup(fd)
        data = make()
        new = os.memfd_create("range-test-server", os.MFD_CLOEXEC)
        view = memoryview(data)
        while view:
            view = view[os.write(new, view):]
        with self._memfds_lock:
            fd = self._memfds.setdefault(key, new)
            if fd != new:
                os.close(new)
            return os.dup(fd)

    def shutdown(self) -> None:
        self.stopping.set()
        super().shutdown()

    def server_close(self) -> None:
        self.stopping.set()
        super().server_close()
        with self._log_lock:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None
            if self._busy_fd is not None:
                os.close(self._busy_fd)
                self._busy_fd = None
        with self._memfds_lock:
            for fd in self._memfds.values():
                os.close(fd)
            self._memfds.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rangefs-test-server/1"
    timeout = IDLE_TIMEOUT
    server: _Server
    _pace: Optional[int] = None  # trickle=: bytes a second _send paces the body at
    _pace_deadline = 0.0

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connection_id = self.server.next_connection_id()
        self._requests_on_connection = 0  # requests read on this connection so far

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
        """One log line. method, target (the request target as sent: origin-form, or the absolute
        form a client writes to a proxy, which is served the same), path (relative to the root,
        decoded), options (the options segment, decoded), the precondition and Range fields
        (repeated fields joined with ", "; "" when absent), headers (every request field, names
        lower-cased), status, body_bytes (bytes sent after the head, long=N's extra included),
        aborted (the body was cut: by the client, by a fault, or by a file that shrank), fault (the
        fault options applied, comma-separated; "" for none), content_type and content_range (of the
        answer as sent; "" when absent), parts (the Content-Range of each part of a multipart
        answer, in body order; [] for any other answer), chaos (with chaos=: what was injected, see
        the module docstring; "" otherwise), connection (a number per TCP connection), start and
        time (when the request was read and when the response ended, seconds since the epoch)."""
        headers = getattr(self, "headers", None)  # unset when the request line was bad
        fields = {}
        for key, header in _LOGGED_FIELDS.items():
            # Repeated fields are combined as RFC 9110 section 5.3 allows: what is logged is
            # what is evaluated.
            values = headers.get_all(header, []) if headers is not None else []
            fields[key] = ", ".join(values)
        every: dict[str, str] = {}
        for name, value in (headers.items() if headers is not None else []):
            name = name.lower()
            every[name] = f"{every[name]}, {value}" if name in every else value
        record = {"method": getattr(self, "command", None) or "",
                  "target": getattr(self, "path", None) or "", "path": "", "options": "",
                  **fields, "headers": every, "status": 0, "body_bytes": 0, "aborted": False,
                  "fault": "", "chaos": "", "content_type": "", "content_range": "",
                  "parts": [],
                  "connection": self.connection_id, "start": time.time(),
                  "time": 0.0}
        self.server.begin_response()  # every record made is logged once, which ends it
        return record

    def _serve(self) -> None:
        self._requests_on_connection += 1
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

    def _has_required_header(self, requirement: tuple[str, str]) -> bool:
        name, value = requirement
        values = self.headers.get_all(name, [])
        return len(values) == 1 and values[0].strip() == value

    def _redirect_plan(self, options: dict, raw_segment: str, raw_rest: str,
                       number: int) -> Plan:
        """`number`: of this request among the matching ones (sign=1's signature)."""
        status = options["redirect_status"] or 302
        if options["location"] is not None:
            location = options["location"]
        elif self.server.fixed_options is not None:
            location = f"{self.server.base_url}/{raw_rest}"  # nothing in the URL to count down
        else:
            segment = _next_redirect_segment(raw_segment, options["redirect"],
                                             number if options["sign"] else None)
            location = f"{self.server.base_url}/{segment}/{raw_rest}"
        return _text_plan(status, f"redirected to {location}", [("Location", location)])

    def _plan(self, record: dict) -> tuple[Plan, Optional[int]]:
        """Builds the response from the URL, the options and the request header fields.
        Returns the plan and the opened file (the caller closes it). The conditions
        (require_header, gone_after) and the faults that replace the answer (status,
        redirects) come first; the file's plan is then damaged by the others."""
        target = self.path
        if target.startswith(("http://", "https://")):  # absolute-form request target
            split = urllib.parse.urlsplit(target)
            target = (split.path or "/") + (f"?{split.query}" if split.query else "")
        target, _, query_text = target.split("#", 1)[0].partition("?")
        self._query = urllib.parse.parse_qs(query_text, keep_blank_values=True,
                                             errors="surrogateescape")
        if self.server.fixed_options is not None:
            segment, rest = self.server.fixed_options, target.lstrip("/")
        else:
            segment, _, rest = target.lstrip("/").partition("/")
        self._raw_segment = segment
        record["options"] = urllib.parse.unquote(segment)
        relative = os.fsdecode(urllib.parse.unquote_to_bytes(rest))
        record["path"] = relative
        try:
            options = parse_options(segment)
        except OptionError as e:
            return _text_plan(400, f"bad options segment: {e}"), None
        if self.command not in ("GET", "HEAD"):
            return _text_plan(405, f"method {self.command} not allowed",
                              [("Allow", "GET, HEAD")]), None

        if options["require_header"] is not None \
                and not self._has_required_header(options["require_header"]):
            record["fault"] = "require_header"
            return _text_plan(401, f"needs {options['require_header'][0]}",
                              [("WWW-Authenticate", 'Bearer realm="range-test-server"')]), None
        key = (relative, record["options"])
        matching = self.command == "GET" or options["head"]
        self._listing_request = self._is_listing_request(options, relative)
        if options["only"] == "dirs" or options["lfault"] is not None:
            matching = matching and self._listing_request
        elif options["only"] == "files":
            matching = matching and not self._listing_request
        claimed = False
        if options["gone_after"] is not None and matching:
            if self.command == "GET":
                claimed = self.server.claim_success(key, options["gone_after"])
                expired = not claimed
            else:  # a HEAD with head=1: expired once the GETs are used up
                expired = not self.server.claim_success(key, options["gone_after"])
                if not expired:
                    self.server.release_success(key)
            if expired:
                record["fault"] = "gone_after"
                return _text_plan(403, "this URL has expired"), None
        try:
            plan, fd = self._plan_answer(record, options, key, matching, segment, rest)
        except BaseException:
            if claimed:
                self.server.release_success(key)
            raise
        if claimed and not 200 <= plan.status <= 299:
            self.server.release_success(key)
        return plan, fd

    def _plan_answer(self, record: dict, options: dict, key: tuple[str, str], matching: bool,
                     raw_segment: str, raw_rest: str) -> tuple[Plan, Optional[int]]:
        if options["chaos"] is not None:
            return self._plan_chaos(record, options, matching)
        faults = active_faults(options)
        active = False
        number = 0
        if faults and matching and not _has_matching_shape(options, record["range"]):
            matching = False
        if faults and matching:
            number = self.server.count_request(key)
            skipped = options["after"] or 0
            active = number > skipped and (options["times"] is None
                                           or number <= skipped + options["times"])
        if active:
            record["fault"] = ",".join(faults)
            replaced = None
            if options["status"] is not None:
                headers: list[HeaderLine] = []
                if options["retry_after"] is not None:
                    headers.append(("Retry-After", options["retry_after"]))
                replaced = _text_plan(options["status"],
                                      f"injected status {options['status']}", headers)
            elif options["location"] is not None or options["redirect"]:
                replaced = self._redirect_plan(options, raw_segment, raw_rest, number)
            if replaced is not None:
                apply_transfer_faults(replaced, options)
                return replaced, None

        # changed=1 makes the planner describe another version: only when the fault hits.
        target_options = options if active or not options["changed"] else {**options,
                                                                            "changed": None}
        plan, fd = self._plan_target(record, target_options,
                                     options["lfault"] if active else None)
        if active:
            _apply_faults(plan, options, fd)
        return plan, fd

    def _plan_chaos(self, record: dict, options: dict, matching: bool
                    ) -> tuple[Plan, Optional[int]]:
        """chaos=PERCENT: a matching request is faulted with that probability, with a kind
        drawn from chaos_kinds (see the module's docstring); the draws come from the server's
        generator for the seed. The log's fault field names the kind, its chaos field what
        was done ("drop=1234"); a kind that cannot apply to this answer (a slice of a 200, a
        drop of an empty body) leaves it unfaulted, with chaos "none:KIND"."""
        drawn = self.server.chaos_draw(options["seed"], options["chaos"],
                                       options["chaos_kinds"]) if matching else None
        if drawn is None:
            return self._plan_target(record, options, None)
        kind, u = drawn
        faults: dict[str, object] = {}
        if kind == "status":
            faults = {"status": 503, "retry_after": CHAOS_RETRY_AFTER}
        elif kind == "trickle":
            faults = {"trickle": CHAOS_TRICKLE}
        elif kind == "version":
            faults = {"changed": True}
        elif kind == "keepalive":
            # A request on a reused connection may meet a server that closes it just then;
            # the first request of a connection is answered, and the connection closed.
            reused = self._requests_on_connection > 1
            faults = {"close": "unanswered" if reused and u < 0.5 else "after"}
        faulted = {**options, **faults}
        detail = ",".join(f"{k}={int(v) if isinstance(v, bool) else v}"
                          for k, v in faults.items())
        if kind == "status":
            plan, fd = _text_plan(503, "injected status 503 (chaos)",
                                  [("Retry-After", CHAOS_RETRY_AFTER)]), None
        elif faults.get("close") == "unanswered":
            plan, fd = Plan(0), None
        else:
            plan, fd = self._plan_target(record, faulted, None)
        try:
            if kind in ("drop", "stall"):
                if plan.length > 0 and self.command != "HEAD":
                    faulted[kind] = min(plan.length - 1, int(u * plan.length))
                    detail = f"{kind}={faulted[kind]}"
            elif kind == "slice":
                if plan.status == 206 and plan.range is not None:
                    faulted["cr"] = "shift"
                    detail = "cr=shift"
                elif plan.status == 206 and plan.parts is not None and plan.labels:
                    faulted["mpgarbage"] = "shift"
                    detail = "mpgarbage=shift"
            if not detail:
                record["chaos"] = f"none:{kind}"
                return plan, fd
            record["fault"] = kind
            record["chaos"] = detail
        except BaseException:
            if fd is not None:
                os.close(fd)
            raise
        _apply_faults(plan, faulted, fd)
        return plan, fd

    # ------------------------------------------------------------------------- listings
    def _is_listing_request(self, options: dict, relative: str) -> bool:
        """Whether the request is for a listing: with s3=1 a GET of the bucket's root with a
        query; with listing= the segment's root, a path ending in '/', or (listing=html) a
        real directory, which is then redirected to its path with a '/'."""
        if options["s3"]:
            return relative == "" and bool(self._query)
        if options["listing"] is None:
            return False
        if relative == "" or relative.endswith("/"):
            return True
        if options["listing"] == "html":
            parts = [p for p in relative.split("/") if p]
            return os.path.isdir(os.path.join(self.server.root, *parts))
        return os.fsencode(relative) + b"/" in NAMES_TREE

    def _root_url(self) -> str:
        """The URL of the options segment's root (the bucket, the listed tree), with '/'."""
        if self.server.fixed_options is not None:
            return f"{self.server.base_url}/"
        return f"{self.server.base_url}/{self._raw_segment}/"

    def _url_of(self, relative: str) -> str:
        return self._root_url() + urllib.parse.quote(os.fsencode(relative))

    def _plan_memfd(self, record: dict, options: dict, key: tuple,
                    make: Callable[[], bytes], content_type: str = "application/octet-stream"
                    ) -> tuple[Plan, Optional[int]]:
        """A file answer (Range, validators, preconditions) for generated content."""
        fd = self.server.memfd(key, make)
        try:
            fields = {k: record[k] for k in _LOGGED_FIELDS}
            plan = plan_file_response(self.command, fields,
                                      self._validators(os.fstat(fd), options), options)
            if plan.status == 200:
                plan.set_header("Content-Type", content_type)
        except BaseException:
            os.close(fd)
            raise
        return plan, fd

    def _plan_target(self, record: dict, options: dict, lfault: Optional[str]
                     ) -> tuple[Plan, Optional[int]]:
        """The answer before the body and transfer faults: an S3 listing or object, a
        listing page (damaged by lfault, when it is active), a listing=names file, or a file
        of the docroot."""
        relative = record["path"]
        if options["s3"]:
            bucket = record["options"] if self.server.fixed_options is None else "rangefs-test"
            if self._listing_request:
                if lfault == "bomb":
                    return Plan(200, [("Content-Type", "application/xml")],
                                [xml_bomb(bucket)]), None
                return s3_list_objects_v2(self.server.root, bucket, self._query,
                                          options["s3_page"], options), None
            plan, fd = self._plan_file(record, options)
            if fd is None and plan.status == 404:
                return _s3_error(404, "NoSuchKey", "The specified key does not exist."), None
            return plan, fd
        mode = options["listing"]
        if mode is None:
            return self._plan_file(record, options)
        if self._listing_request and relative and not relative.endswith("/"):
            location = self._url_of(relative) + "/"
            return _text_plan(301, f"moved to {location}", [("Location", location)]), None
        if not self._listing_request:
            if mode == "names":
                name = os.fsencode(relative)
                if name not in NAMES_FILES:
                    return _text_plan(404, f"no such file: {relative!r}"), None
                return self._plan_memfd(record, options, ("names", name),
                                        lambda: NAMES_CONTENT(name))
            return self._plan_file(record, options)

        html = "text/html; charset=utf-8"
        title = "/" + relative
        if lfault == "endless":
            head = (f"<html>\r\n<head><title>Index of {_escape(title)}</title></head>\r\n"
                    f"<body>\r\n<h1>Index of {_escape(title)}</h1><hr><pre>\r\n").encode()
            return Plan(200, [("Content-Type", html)], [head], close=True,
                        endless=options["interval"] / 1000.0), None
        if lfault == "huge":
            mib = options["mib"]
            return self._plan_memfd(record, options, ("huge", mib),
                                    lambda: _generated_links(size=mib * 1024 * 1024), html)
        if lfault == "links":
            count = options["count"]
            return self._plan_memfd(record, options, ("links", count),
                                    lambda: _generated_links(count=count), html)
        extra: list[tuple[bytes, bytes, str]] = []
        if lfault == "loop":
            if relative in ("loop/a/", "loop/b/"):
                other = self._url_of("loop/b/" if relative == "loop/a/" else "loop/a/")
                return _text_plan(302, f"redirected to {other}", [("Location", other)]), None
            if relative == "loop/":
                return Plan(200, [("Content-Type", html)],
                            [_html_page(title, [(b"a/", b"a/", "-"), (b"b/", b"b/", "-")])]), None
            extra.append((b"loop/", b"loop/", "01-Jan-2024 00:00                   -"))
        if lfault == "self":
            here = self._url_of(relative).encode()
            parent = self._url_of(relative.rstrip("/").rpartition("/")[0] + "/"
                                  if "/" in relative.rstrip("/") else "").encode()
            for href in (b".", b"./", b"", b"../", b"/", here, parent, b"?C=N;O=D", b"#top"):
                extra.append((href, _escape_bytes(href or b"(empty)"), "-"))
        if mode == "names":
            links = NAMES_TREE.get(os.fsencode(relative))
            if links is None:
                return _text_plan(404, f"no such directory: {relative!r}"), None
            rows = [(href, _escape_bytes(name), "01-Jan-2024 00:00" +
                     (" " * 19 + "-" if name.endswith(b"/")
                      else f"{len(NAMES_CONTENT(os.fsencode(relative) + name)):>20}"))
                    for href, name in links] + extra
            return Plan(200, [("Content-Type", html)], [_html_page(title, rows)]), None
        parts = [p for p in relative.split("/") if p]
        if any(p in (".", "..") for p in parts) or "\0" in relative:
            return _text_plan(404, f"no such directory: {relative!r}"), None
        path = os.path.join(self.server.root, *parts)
        real = os.path.realpath(path)
        if os.path.commonpath([real, self.server.root]) != self.server.root:
            return _text_plan(404, f"no such directory: {relative!r} (outside the root)"), None
        page = directory_page(real, title, extra)
        if page is None:
            return _text_plan(404, f"no such directory: {relative!r}"), None
        return Plan(200, [("Content-Type", html)], [page]), None

    def _validators(self, st: os.stat_result, options: dict) -> _Validators:
        """The file's validators, or (changed=1: the fault is active) another version's."""
        v = _validators(st, options)
        return _other_version(v) if options["changed"] else v

    def _plan_file(self, record: dict, options: dict) -> tuple[Plan, Optional[int]]:
        relative = record["path"]
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
            plan = plan_file_response(self.command, fields, self._validators(st, options),
                                      options)
        except BaseException:
            os.close(fd)
            raise
        return plan, fd

    # ---------------------------------------------------------------------------- writing
    def _head_bytes(self, plan: Plan) -> bytes:
        reason = self.responses.get(plan.status, ("Injected",))[0]
        lines = [f"{self.protocol_version} {plan.status} {reason}".encode("latin-1"),
                 f"Server: {self.version_string()}".encode("latin-1"),
                 f"Date: {self.date_time_string()}".encode("latin-1")]
        for line in plan.headers:
            if isinstance(line, bytes):
                lines.append(line)
            else:
                lines.append(f"{line[0]}: {line[1]}".encode("latin-1"))
        # RFC 9110 section 8.6: a 304 carries no Content-Length unless it is the 200's;
        # leaving it out is the simple correct choice.
        if plan.status != 304 and plan.endless is None:
            length = plan.content_length if plan.content_length is not None else plan.length
            lines.append(f"Content-Length: {length}".encode("latin-1"))
        if plan.close:
            lines.append(b"Connection: close")
            self.close_connection = True
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def _send(self, data: bytes, record: dict) -> None:
        if self._pace is None:
            self.wfile.write(data)
            record["body_bytes"] += len(data)
            return
        for piece in self._paced(data, self._pace):
            self.wfile.write(piece)
            record["body_bytes"] += len(piece)

    def _paced(self, data: bytes, rate: int):
        """Slices of data, one every PACE_INTERVAL seconds, so that `rate` bytes a second go
        out. Ends early (raising TimeoutError, an OSError the writer treats as a client gone)
        once the connection has been paced for STALL_LIMIT seconds or the server stops."""
        step = max(1, int(rate * PACE_INTERVAL))
        for start in range(0, len(data), step):
            if start and self.server.stopping.wait(PACE_INTERVAL):
                raise TimeoutError("the server is stopping")
            if time.monotonic() > self._pace_deadline:
                raise TimeoutError("paced for STALL_LIMIT seconds")
            yield data[start:start + step]

    def _send_head(self, plan: Plan, damage: Damage) -> None:
        head = self._head_bytes(plan)
        if damage.endless_headers:
            # The status line and nothing that ends the head: header lines until the client
            # gives up (the write fails), STALL_LIMIT passes or the server stops.
            self.close_connection = True
            self.wfile.write(head.split(b"\r\n", 1)[0] + b"\r\n")
            deadline = time.monotonic() + STALL_LIMIT
            i = 0
            while not self.server.stopping.is_set() and time.monotonic() < deadline:
                self.wfile.write(b"".join(b"X-Endless-%d: %s\r\n" % (i + k, b"e" * 64)
                                          for k in range(256)))
                i += 256
            raise TimeoutError("endless headers ended")
        if damage.head_rate is None:
            self.wfile.write(head)
            return
        self._pace_deadline = time.monotonic() + STALL_LIMIT
        for piece in self._paced(head, damage.head_rate):
            self.wfile.write(piece)

    def _send_body(self, plan: Plan, fd: Optional[int], budget: Optional[int],
                   record: dict) -> bool:
        """Sends the body, or its first `budget` bytes. False when the file shrank under us:
        the promised length cannot be kept, and only closing the connection tells the client
        so."""
        for segment in plan.body:
            if budget is not None and budget <= 0:
                return True
            if isinstance(segment, bytes):
                data = segment if budget is None else segment[:budget]
                self._send(data, record)
                if budget is not None:
                    budget -= len(data)
                continue
            assert fd is not None
            offset, remaining = segment
            if budget is not None:
                remaining = min(remaining, budget)
            while remaining > 0:
                data = os.pread(fd, min(CHUNK, remaining), offset)
                if not data:
                    return False
                self._send(data.translate(_INVERT) if plan.damage.invert else data, record)
                offset += len(data)
                remaining -= len(data)
                if budget is not None:
                    budget -= len(data)
        return True

    def _drop(self) -> None:
        """Ends the connection now: no more bytes, no TLS close_notify."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.connection.close()
        except OSError:
            pass

    def _stall(self) -> None:
        """Sends nothing until the client closes the connection (what it sends meanwhile is
        read and thrown away), STALL_LIMIT passes, or the server stops."""
        self.close_connection = True
        sock = self.connection
        deadline = time.monotonic() + STALL_LIMIT
        try:
            sock.settimeout(0.5)
        except OSError:
            return
        while not self.server.stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                readable, _, _ = select.select([sock], [], [], min(0.5, left))
            except (OSError, ValueError):
                return
            if not readable:
                continue
            try:
                if not sock.recv(65536):
                    return  # the client closed its end
            except (socket.timeout, ssl.SSLWantReadError):
                continue
            except OSError:
                return

    def _trickle(self, interval: float, record: dict) -> None:
        """lfault=endless: links until the client goes away (the send fails), STALL_LIMIT
        passes or the server stops; with interval 0 in batches, as fast as they are read."""
        deadline = time.monotonic() + STALL_LIMIT
        i = 0
        while not self.server.stopping.is_set() and time.monotonic() < deadline:
            batch = 1 if interval > 0 else 256
            self._send(b"".join(endless_link(i + k) for k in range(batch)), record)
            i += batch
            if interval > 0 and self.server.stopping.wait(interval):
                break
        self._drop()

    def _write(self, plan: Plan, fd: Optional[int], record: dict) -> None:
        """Sends the plan, doing its damage: silence before the head, a body cut short by a
        close or a stall, extra bytes after it."""
        record["status"] = plan.status
        for line in plan.headers:
            if isinstance(line, tuple) and line[0].lower() in ("content-type", "content-range"):
                record[line[0].lower().replace("-", "_")] = line[1]
        record["parts"] = list(plan.labels)
        damage = plan.damage
        try:
            if damage.close == "unanswered":
                record["status"] = 0
                record["aborted"] = True
                self._drop()
                return
            if damage.stall_headers:
                self._stall()
                record["aborted"] = True
                return
            self._send_head(plan, damage)
            has_body = getattr(self, "command", None) != "HEAD" and plan.status != 304
            if has_body:
                if damage.rate is not None:
                    self._pace = damage.rate
                    self._pace_deadline = time.monotonic() + STALL_LIMIT
                    self.close_connection = True
                sent = self._send_body(plan, fd, damage.cut_after, record)
                self._pace = None
                if not sent:
                    record["aborted"] = True
                    self.close_connection = True
                    return
            if damage.action == "drop":
                record["aborted"] = True
                self._drop()
            elif damage.action == "stall":
                record["aborted"] = True
                self._stall()
            elif damage.extra:
                self._send(long_filler(damage.extra), record)
            elif damage.close == "after":
                self.wfile.flush()
                self._drop()
            if plan.endless is not None and has_body:
                record["aborted"] = True  # it never ends by itself
                self._trickle(plan.endless, record)
        except OSError:  # the client went away (EPIPE, ECONNRESET, timeout)
            record["aborted"] = True
            self.close_connection = True


def make_certificate(directory: str, timeout: float = 60.0) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and localhost (2 days) made with the openssl
    command: (cert.pem, key.pem) in directory."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
               "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
               "-keyout", key, "-out", cert]
    try:
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                                timeout=timeout)
    except FileNotFoundError:
        raise RangeTestServerError("--tls needs the openssl command (Debian package openssl)")
    except subprocess.TimeoutExpired:
        raise RangeTestServerError(f"openssl did not make a certificate within {timeout}s")
    if result.returncode != 0:
        raise RangeTestServerError(f"openssl failed ({result.returncode}): "
                                   f"{result.stderr.decode(errors='replace')}")
    return cert, key


def serve(root: str, port: int, log_path: Optional[str],
          tls: Optional[tuple[str, str]] = None, fixed_options: Optional[str] = None) -> _Server:
    """A bound and listening server (not yet serving); port 0 picks a free one. tls:
    (certificate, key) files to serve HTTPS with. fixed_options: an options segment applied
    to every request, whose URLs then carry none."""
    context = None
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
    return _Server(("127.0.0.1", port), root, log_path, context, fixed_options)
# ------------------------------------------------------------------------------ library
class RangeTestServerError(RuntimeError):
    """The server could not be started (the message carries its output)."""


class RangeTestServer:
    """range_test_server.py as a subprocess on 127.0.0.1 serving `root`. Context manager.

    The request log, the server's output and (tls=True) its certificate live in a private
    temporary directory that cleanup() removes; stop() keeps them readable. With tls=True it
    serves HTTPS with a self-signed certificate for 127.0.0.1 and localhost, made at start
    (cert_path: trust it to connect)."""

    def __init__(self, root: str, *, port: Optional[int] = None, start_timeout: float = 30.0,
                 tls: bool = False, options: Optional[str] = None):
        """options: an options segment ("s3=1", "listing=html,lfault=self") applied to every
        request; URLs then have no options segment (--options)."""
        if options is not None:
            parse_options(options)  # a typo fails here, not as a 400 later
        self.fixed_options = options
        self.root = os.path.abspath(root)
        if not os.path.isdir(self.root):
            raise RangeTestServerError(f"document root {self.root} is not a directory")
        self._requested_port = port
        self._start_timeout = start_timeout
        self.tls = tls
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
            if self.tls:
                command += ["--tls", "--cert-dir", self.tmpdir]
            if self.fixed_options is not None:
                command += ["--options", self.fixed_options]
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
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def cert_path(self) -> str:
        """The self-signed certificate (PEM) of a tls=True server: what a client trusts."""
        if not self.tls:
            raise RangeTestServerError("not a TLS server (RangeTestServer(root, tls=True))")
        if self.tmpdir is None:
            raise RangeTestServerError("not started")
        return os.path.join(self.tmpdir, "cert.pem")

    def url(self, path: str, **options) -> str:
        """URL of a path relative to the root with the given options, in the given order:
        url("a b.bin", etag="weak", lm=False) -> .../etag=weak,lm=0/a%20b.bin. Keys and values
        are percent-encoded (',' '=' ':' '/' too), so any text can be a value. Options are not
        checked here: the server answers 400 to a bad one. A server started with options=
        takes none per URL: url(path) is base_url/path."""
        if self.fixed_options is not None:
            if options:
                raise RangeTestServerError("this server applies options= to every request; "
                                           "URLs carry no options")
            return f"{self.base_url}/{urllib.parse.quote(path.lstrip('/'))}"
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

    def in_flight(self) -> int:
        """Responses the server has begun and not yet logged."""
        with open(self.log_path + ".busy", "rb") as f:
            return int(f.read().strip() or b"0")

    def settled_requests(self, timeout: float = 10.0) -> list[dict]:
        """requests() once no response is in progress: what a client has read is logged,
        though the client may have had every byte it wanted before the server finished (a
        multipart answer's closing delimiter). Raises TimeoutError after `timeout` (a stall
        holds its response open until the client goes away)."""
        # The count first: a response's line is written before its count drops, so once it
        # reads 0 the log holds every response begun before.
        if not wait_until(lambda: self.in_flight() == 0, timeout, interval=0.01):
            raise TimeoutError(f"{self.in_flight()} responses still in progress after "
                               f"{timeout}s")
        return self.requests()

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
    parser.add_argument("--tls", action="store_true",
                        help="serve HTTPS with a self-signed certificate for 127.0.0.1 and "
                             "localhost, made with the openssl command")
    parser.add_argument("--cert-dir", help="with --tls: write cert.pem and key.pem here "
                                           "(default: a temporary directory removed at exit)")
    parser.add_argument("--options", help="apply this options segment (e.g. s3=1) to every "
                                          "request; URLs then carry no options segment")
    args = parser.parse_args(argv)
    if args.options is not None:
        try:
            parse_options(args.options)
        except OptionError as e:
            parser.error(f"--options: {e}")
    if not os.path.isdir(args.root):
        parser.error(f"--root {args.root} is not a directory")
    if args.cert_dir and not args.tls:
        parser.error("--cert-dir needs --tls")

    stop = threading.Event()

    def on_signal(_signum, _frame):
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    if args.exit_on_stdin_eof:
        def watch_stdin():
            # os.read, not sys.stdin: a daemon thread blocked inside a buffered reader holds
            # its lock, and the interpreter aborts at exit when it cannot take that lock.
            try:
                while os.read(0, 4096):
                    pass
            except OSError:
                pass
            stop.set()
        threading.Thread(target=watch_stdin, name="stdin-watcher", daemon=True).start()

    cert_dir = None
    tls = None
    if args.tls:
        cert_dir = args.cert_dir or tempfile.mkdtemp(prefix="range-test-server-tls-")
        try:
            tls = make_certificate(cert_dir)
        except RangeTestServerError as e:
            print(f"range_test_server: {e}", file=sys.stderr)
            if not args.cert_dir:
                shutil.rmtree(cert_dir, ignore_errors=True)
            return 1

    try:
        server = serve(args.root, args.port, args.log, tls, args.options)
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
            print(server.base_url, flush=True)
            if tls is not None:
                print(f"certificate: {tls[0]}", flush=True)
            # Bounded waits so that signals are handled promptly in the main thread.
            while not stop.wait(0.2):
                pass
        finally:
            # Stalled connections see `stopping` within half a second; their threads are
            # daemons, so nothing here waits for them.
            server.shutdown()
            server.server_close()
            if args.port_file:
                try:
                    os.unlink(args.port_file)
                except OSError:
                    pass
    finally:
        if cert_dir is not None and not args.cert_dir:
            shutil.rmtree(cert_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
