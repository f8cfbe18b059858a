"""A remote file that changes under the mount: no read may ever mix two versions.

rangefs ties every range GET to one version of the file (If-Range with a strong ETag, else
If-Unmodified-Since with the Last-Modified date, else nothing), treats a 200 to If-Range, a
412 or a 206 from another version (ETag, Last-Modified or Content-Range total) as "remote
changed": that read fails with EIO, the file is probed again and the new version adopted
(one `NAME: remote changed (OLD -> NEW)` line on stderr per change). Handles opened before
the change never get bytes of the new version; new opens see it. `--revalidate SECONDS`
bounds how long a version is trusted without a HEAD (kernel entry and attribute timeouts
follow it; 0 probes on every open).

Every version of a test file is self-identifying: each 4 KiB chunk starts with the version
number and the chunk's offset, followed by filler that differs between versions, so any read
can be attributed to exactly one version (or shown to mix them). Files are replaced the way
a careful publisher does it: written under a temporary name in the same directory, given an
explicit modification time (nginx's ETag has one-second resolution), renamed over the old.

Servers: the real nginx (strong ETag "<mtime>-<size>", honours If-Range) and
scripts/lib/range_test_server.py, which can send weak, no or only some validators and can
ignore preconditions. Each test starts its own server on its own data directory.
"""

import email.utils
import errno
import hashlib
import os
import random
import re
import sys
import threading
import time
import unittest
import urllib.parse
import urllib.request

import harness
from harness import KiB, MiB

BLOCK = 256 * KiB
CHUNK = 4 * KiB              # the unit of self-identification
SIZE = 16 * MiB              # most tests
FAR = 12 * MiB + 8 * KiB     # far from offset 0: never cached unless read
FAR2 = 6 * MiB + 20 * KiB    # another uncached block, read after the change was adopted
ACCEPTED_ERRNOS = (errno.EIO, errno.ESTALE)  # for readers racing a change (test 7)


def _note(text):
    print(f"\n  {text}", file=sys.stderr)


# ---------------------------------------------------------------- self-identifying data
class VersionMixError(AssertionError):
    """Bytes read from the mount that are not one version's bytes at that offset."""


def _pad(version):
    return random.Random(f"rangefs-consistency-v{version}").randbytes(CHUNK)


def version_content(version, size):
    """Version `version` of a file of `size` bytes: every 4 KiB chunk is
    b"RANGEFS-V<version:04>-AT-<offset:012>|" followed by filler particular to the version."""
    pad = _pad(version)
    parts = []
    for offset in range(0, size, CHUNK):
        head = b"RANGEFS-V%04d-AT-%012d|" % (version, offset)
        parts.append(head + pad[len(head):])
    return b"".join(parts)[:size]


def _matching_versions(data, offset, versions):
    return [v for v, content in versions.items()
            if content[offset:offset + len(data)] == data]


def describe_read(data, offset, versions):
    """Which versions each 4 KiB-aligned piece of the read matches, as runs:
    "[0, 8192): v1; [8192, 12288): none"."""
    runs = []
    pos = offset
    end = offset + len(data)
    while pos < end:
        stop = min(end, (pos // CHUNK + 1) * CHUNK)
        piece = data[pos - offset:stop - offset]
        label = ",".join(f"v{v}" for v in _matching_versions(piece, pos, versions)) or "none"
        if runs and runs[-1][2] == label:
            runs[-1][1] = stop
        else:
            runs.append([pos, stop, label])
        pos = stop
    return "; ".join(f"[{a}, {b}): {label}" for a, b, label in runs)


def which_version(data, offset, versions):
    """The one version whose bytes at `offset` are exactly `data`. Raises VersionMixError when
    no version (a mix, garbage, or bytes past that version's end) or several match."""
    if not data:
        raise VersionMixError(f"empty read at {offset} cannot be attributed to a version")
    matches = _matching_versions(data, offset, versions)
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise VersionMixError(f"{len(data)} bytes at {offset} match several versions "
                              f"{matches}")
    raise VersionMixError(f"{len(data)} bytes at {offset} are not the bytes of any one version: "
                          f"{describe_read(data, offset, versions)}")


# ------------------------------------------------------------------------------ servers
class _Log:
    """The requests a server saw, in one shape for nginx and the test server: dicts with
    method, uri, range, if_range, if_match, if_unmodified_since ("" when absent) and status."""

    _FIELDS = ("range", "if_range", "if_match", "if_unmodified_since")

    def __init__(self, server, kind):
        self.server = server
        self.kind = kind  # "nginx" or "test"

    def entries(self):
        raw = (self.server.access_log_entries() if self.kind == "nginx"
               else self.server.requests())
        out = []
        for e in raw:
            entry = {"method": e.get("method"), "uri": e.get("uri") or e.get("path") or "",
                     "status": int(e.get("status") or 0)}
            for key in self._FIELDS:
                entry[key] = e.get(key) or ""
            out.append(entry)
        return out

    def clear(self):
        if self.kind == "nginx":
            self.server.clear_access_log()
        else:
            self.server.clear_requests()

    def wait_for(self, predicate, timeout=10.0):
        """Polls until predicate(entries); returns (entries, whether it held)."""
        deadline = time.monotonic() + timeout
        while True:
            entries = self.entries()
            if predicate(entries):
                return entries, True
            if time.monotonic() >= deadline:
                return entries, False
            time.sleep(0.02)


def _gets(entries):
    return [e for e in entries if e["method"] == "GET"]


def _heads(entries):
    return [e for e in entries if e["method"] == "HEAD"]


def _gets_touching(entries, offset):
    """GETs whose single range covers `offset`."""
    out = []
    for e in _gets(entries):
        r = harness.parse_range(e)
        if r and r[0] <= offset <= r[1]:
            out.append(e)
    return out


def head_validators(url):
    """What a HEAD says about the served version: etag, last_modified (strings, "" when
    absent) and size."""
    with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=10) as r:
        return {"etag": r.headers.get("ETag") or "",
                "last_modified": r.headers.get("Last-Modified") or "",
                "size": int(r.headers.get("Content-Length") or -1)}


def _same_date(a, b):
    try:
        return email.utils.parsedate_to_datetime(a) == email.utils.parsedate_to_datetime(b)
    except (TypeError, ValueError):
        return False


def name_in_mount(url):
    """rangefs names a file after the URL's last path segment."""
    return urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])


# ----------------------------------------------------------------------- mount helpers
def changed_lines(stderr):
    return [line for line in stderr.splitlines() if "remote changed" in line]


def _try_pread(fd, length, offset):
    """The bytes, or the OSError the read raised."""
    try:
        return os.pread(fd, length, offset)
    except OSError as e:
        return e


def _read_with_size(path):
    """(fstat size, whole content) through one new handle."""
    with open(path, "rb") as f:
        return os.fstat(f.fileno()).st_size, f.read()


def _open_close(path):
    os.close(os.open(path, os.O_RDONLY))


def _errno_name(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if isinstance(e, OSError) else None


class ConsistencyTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_environment()

    def setUp(self):
        data = harness.TempDir("rangefs-consistency-data-")
        self.addCleanup(data.cleanup)
        self.data = data.path
        # Versions get whole-second modification times in the past, ten seconds apart: nginx's
        # ETag and every Last-Modified have one-second resolution, and If-Unmodified-Since
        # needs each version to be later than the one before.
        self.base_mtime = int(time.time()) - 3600
        self.versions = {}  # name -> {version: content}

    # ------------------------------------------------------------------------ fixtures
    def publish(self, name, version, size):
        """Atomically replaces (or creates) `name` with version `version` of `size` bytes."""
        known = self.versions.setdefault(name, {})
        content = known.get(version)
        if content is None or len(content) != size:
            content = known[version] = version_content(version, size)
        final = os.path.join(self.data, name)
        tmp = os.path.join(self.data, f".{name}.tmp-v{version}")
        with open(tmp, "wb") as f:
            f.write(content)
        mtime = self.base_mtime + 10 * version
        os.utime(tmp, (mtime, mtime))
        os.rename(tmp, final)
        return content

    def start_nginx(self):
        server = harness.LoopbackNginx(self.data)
        server.start()
        self.addCleanup(server.cleanup)
        return server, _Log(server, "nginx")

    def start_test_server(self):
        try:
            from range_test_server import RangeTestServer  # scripts/lib, via harness
        except ImportError as e:
            raise AssertionError(f"scripts/lib/range_test_server.py is missing: {e}")
        server = RangeTestServer(self.data)
        server.start()
        self.addCleanup(server.cleanup)
        return server, _Log(server, "test")

    def start_mount(self, url, revalidate, extra=(), open_prefetch=False):
        # Most tests pin which GET carries which precondition, block by block: the first
        # open's head-and-tail request is left out unless a test is about it.
        prefetch = "--open-prefetch" if open_prefetch else "--no-open-prefetch"
        mount = harness.Mount([url], ["--block-size", "256K", "--revalidate", str(revalidate),
                                      prefetch, *extra])
        self.addCleanup(mount.cleanup)
        mount.start()
        return mount

    def tail(self, mount):
        return f"\nrangefs stderr tail:\n{mount.stderr()[-3000:]}"

    def assert_version(self, data, offset, name, expected, mount, what):
        try:
            got = which_version(data, offset, self.versions[name])
        except VersionMixError as e:
            self.fail(f"{what}: {e}{self.tail(mount)}")
        self.assertEqual(got, expected, f"{what}: read version {got}, expected version "
                                        f"{expected}{self.tail(mount)}")

    def assert_eio(self, result, name, offset, mount, what):
        """`result` (bytes or OSError) must be EIO; bytes are reported by version."""
        if isinstance(result, OSError):
            self.assertEqual(result.errno, errno.EIO,
                             f"{what}: failed with {_errno_name(result)} ({result}), expected "
                             f"EIO{self.tail(mount)}")
            return
        desc = describe_read(result, offset, self.versions[name]) if result else "empty"
        self.fail(f"{what}: returned {len(result)} bytes ({desc}) instead of failing with "
                  f"EIO{self.tail(mount)}")

    def assert_one_change_line(self, mount, name, count=1):
        lines = changed_lines(mount.stderr())
        self.assertEqual(len(lines), count,
                         f"expected exactly {count} 'remote changed' line(s) for {name}, got "
                         f"{len(lines)}: {lines}{self.tail(mount)}")
        for line in lines:
            self.assertIn(name, line, f"'remote changed' line does not name the file: {line!r}")
            self.assertIn("->", line, f"'remote changed' line lacks (OLD -> NEW): {line!r}")
        return lines

    def assert_new_open_sees(self, mount, name, version):
        """A new open by path: fstat size and every byte are exactly version `version`."""
        expected = self.versions[name][version]
        size, data = mount.call(_read_with_size, mount.path(name), timeout=60)
        self.assertEqual(size, len(expected),
                         f"new open: size {size}, version {version} has {len(expected)} bytes"
                         f"{self.tail(mount)}")
        if data != expected:
            self.fail(f"new open read {len(data)} bytes that are not version {version} "
                      f"({len(expected)} bytes): {describe_read(data, 0, self.versions[name])}"
                      f"{self.tail(mount)}")
        self.assertEqual(hashlib.sha256(data).hexdigest(),
                         harness.sha256_file(os.path.join(self.data, name)))

    # ------------------------------------------------- an old handle across a change
    def old_handle_across_change(self, mount, log, name, new_size):
        """One handle reads 4 KiB at 0 (version 1), the file is replaced by version 2 of
        `new_size` bytes, then the same handle reads an uncached block far away: that read
        must fail with EIO, the change must be logged once, a later uncached read on the
        handle must fail too, a re-read of offset 0 may only give version 1 (or EIO), and a
        new open must see exactly version 2. Returns the requests, once the GET of the failed
        read has been logged."""
        path = mount.path(name)
        old_size = len(self.versions[name][1])
        self.assertLess(FAR + CHUNK, min(old_size, new_size))
        out = {}

        def run():
            fd = os.open(path, os.O_RDONLY)
            try:
                # No kernel readahead: the filesystem sees only the pages read. Reads far
                # apart do not start rangefs's readahead either, so FAR and FAR2 stay uncached.
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
                out["first"] = _try_pread(fd, CHUNK, 0)
                self.publish(name, 2, new_size)
                out["far"] = _try_pread(fd, CHUNK, FAR)
                out["logged"] = harness.wait_until(lambda: changed_lines(mount.stderr()), 10)
                out["far2"] = _try_pread(fd, CHUNK, FAR2)
                out["again0"] = _try_pread(fd, CHUNK, 0)
            finally:
                os.close(fd)

        mount.call(run, timeout=60)
        self.assertNotIsInstance(out["first"], OSError,
                                 f"first read failed: {out['first']}{self.tail(mount)}")
        self.assert_version(out["first"], 0, name, 1, mount, "first read, before the change")
        self.assert_eio(out["far"], name, FAR, mount,
                        "old handle, uncached block, after the change")
        self.assertTrue(out["logged"], f"no 'remote changed' line within 10 s of the failed "
                                       f"read{self.tail(mount)}")
        self.assert_eio(out["far2"], name, FAR2, mount,
                        "old handle, another uncached block, after the change was adopted")
        if not isinstance(out["again0"], OSError):  # cached old bytes may still be served
            self.assert_version(out["again0"], 0, name, 1, mount,
                                "old handle re-reading offset 0 after the change")
        else:
            self.assertEqual(out["again0"].errno, errno.EIO, str(out["again0"]))
        self.assert_new_open_sees(mount, name, 2)
        self.assert_one_change_line(mount, name)
        entries, ok = log.wait_for(lambda es: _gets_touching(es, FAR), timeout=10)
        self.assertTrue(ok, f"no GET for the block at {FAR} was logged: {entries[-5:]}")
        return entries

    def assert_no_precondition(self, entries, mount):
        for e in _gets(entries):
            self.assertEqual((e["if_range"], e["if_match"], e["if_unmodified_since"]),
                             ("", "", ""),
                             f"a GET carries a precondition although the file has no usable "
                             f"validator: {e}{self.tail(mount)}")

    def assert_if_unmodified_since(self, entries, old, new, mount):
        """Every range GET carries If-Unmodified-Since with a version's Last-Modified date and
        never the (weak) ETag, with or without its W/, in If-Range or If-Match; the failed
        read's GET was answered 412 to the old date. old/new: head_validators()."""
        old_lm, new_lm = old["last_modified"], new["last_modified"]
        tags = [t[2:] if t.startswith("W/") else t for t in (old["etag"], new["etag"]) if t]
        gets = _gets(entries)
        self.assertTrue(gets, "no GET logged")
        for e in gets:
            self.assertTrue(e["range"], f"GET without Range: {e}")
            for header in ("if_range", "if_match"):
                self.assertNotIn("W/", e[header], f"a weak ETag in {header}: {e}")
                for tag in tags:
                    self.assertNotIn(tag, e[header], f"the weak ETag used in {header}: {e}")
            self.assertTrue(_same_date(e["if_unmodified_since"], old_lm) or
                            _same_date(e["if_unmodified_since"], new_lm),
                            f"GET without If-Unmodified-Since {old_lm!r} (or the new "
                            f"{new_lm!r}): {e}{self.tail(mount)}")
        first = [e for e in gets if harness.parse_range(e) and harness.parse_range(e)[0] == 0]
        self.assertTrue(first and _same_date(first[0]["if_unmodified_since"], old_lm),
                        f"the first read's GET did not carry the old date {old_lm!r}: {first}")
        failed = _gets_touching(entries, FAR)
        self.assertTrue(any(_same_date(e["if_unmodified_since"], old_lm) and e["status"] == 412
                            for e in failed),
                        f"the failed read's GET was not If-Unmodified-Since {old_lm!r} answered "
                        f"412: {failed}")

    # ======================================================================== tests
    def test_nginx_same_size_change_fails_old_handle_and_new_open_sees_it(self):
        """Spec 1, 2, 3, 4: strong ETag from nginx, If-Range, 200 means changed."""
        name = "data.bin"
        self.publish(name, 1, SIZE)
        server, log = self.start_nginx()
        old = head_validators(server.url(name))
        self.assertTrue(old["etag"].startswith('"'), f"nginx sent no strong ETag: {old}")
        log.clear()
        mount = self.start_mount(server.url(name), 3600)
        entries = self.old_handle_across_change(mount, log, name, SIZE)
        new = head_validators(server.url(name))
        self.assertNotEqual(old["etag"], new["etag"], "the replacement kept nginx's ETag")
        first = _gets_touching(entries, 0)
        self.assertTrue(first, f"no GET for block 0: {entries}")
        self.assertEqual((first[0]["if_range"], first[0]["status"]), (old["etag"], 206),
                         f"the first read's GET: {first[0]}")
        failed = _gets_touching(entries, FAR)
        self.assertTrue(any(e["if_range"] == old["etag"] and e["status"] == 200 for e in failed),
                        f"the failed read's GET was not If-Range {old['etag']} answered 200: "
                        f"{failed}")
        for e in _gets(entries):
            self.assertIn(e["if_range"], (old["etag"], new["etag"]),
                          f"a GET without If-Range <strong ETag>: {e}")
            self.assertEqual(e["if_match"], "", e)

    def test_open_prefetch_of_a_changed_file_gives_no_new_bytes(self):
        """The first open's head-and-tail request carries the version too: when the file
        changed between the probe and that open, nginx answers the multi-range If-Range with
        a 200 of the new version; the handle (pinned to the old one) gets EIO, never new
        bytes, the change is logged once, and a new open reads the new version."""
        name = "data.bin"
        self.publish(name, 1, SIZE)
        server, log = self.start_nginx()
        old = head_validators(server.url(name))
        mount = self.start_mount(server.url(name), 3600, open_prefetch=True)
        log.clear()
        self.publish(name, 2, SIZE)
        new = head_validators(server.url(name))
        self.assertNotEqual(old["etag"], new["etag"], "the replacement kept nginx's ETag")

        def first_read():
            fd = os.open(mount.path(name), os.O_RDONLY)
            try:
                return _try_pread(fd, CHUNK, 0)
            finally:
                os.close(fd)

        got = mount.call(first_read)
        if not isinstance(got, OSError):
            self.fail(f"the old version's handle read {len(got)} bytes: "
                      f"{describe_read(got, 0, self.versions[name])}{self.tail(mount)}")
        self.assertEqual(got.errno, errno.EIO, got)
        entries, ok = log.wait_for(lambda es: any("," in e["range"] for e in _gets(es)))
        multi = [e for e in _gets(entries) if "," in e["range"]]
        self.assertTrue(ok and multi, f"no multi-range GET at the first open: {entries}")
        self.assertEqual((multi[0]["if_range"], multi[0]["status"]), (old["etag"], 200),
                         f"the first open's GET: {multi[0]}")
        self.assert_new_open_sees(mount, name, 2)
        self.assert_one_change_line(mount, name)

    def test_nginx_size_change_shows_in_stat_within_revalidate_interval(self):
        """Spec 4: --revalidate 1, kernel attribute/entry timeouts follow it; a stat alone
        notices the new size; stats within the interval make no HEAD each."""
        name = "data.bin"
        s1, s2 = 8 * MiB, 8 * MiB + 12_345
        self.publish(name, 1, s1)
        server, log = self.start_nginx()
        mount = self.start_mount(server.url(name), 1)
        path = mount.path(name)
        first = mount.call(os.stat, path)
        self.assertEqual(first.st_size, s1)
        self.publish(name, 2, s2)
        changed_at = time.monotonic()
        seen = None
        sizes = []
        while time.monotonic() - changed_at < 10:
            st = mount.call(os.stat, path)
            sizes.append(st.st_size)
            if st.st_size == s2:
                seen = time.monotonic() - changed_at
                # Each version is its own inode, so the kernel's page cache of one never
                # holds bytes of another.
                self.assertNotEqual(st.st_ino, first.st_ino, "the new version kept the inode")
                break
            self.assertEqual(st.st_ino, first.st_ino, "the inode changed, the size did not")
            time.sleep(0.05)
        _note(f"--revalidate 1: stat showed the new size after "
              f"{'never' if seen is None else f'{seen:.2f}s'} ({len(sizes)} stats)")
        self.assertIsNotNone(seen, f"stat never showed the new size {s2} within 10 s (sizes "
                                   f"seen: {sorted(set(sizes))}){self.tail(mount)}")
        self.assertLess(seen, 5.0, "the new size took longer than the 1 s interval + slack")
        self.assertEqual(_gets(log.entries()), [], "GETs although nothing was read")
        self.assert_new_open_sees(mount, name, 2)
        self.assert_one_change_line(mount, name)

        # Within the interval nothing is probed per stat. Let the interval run out, stat once
        # (that must re-probe: spec 4), then a burst of 20 stats right after it.
        time.sleep(1.3)
        before = len(_heads(log.entries()))
        mount.call(os.stat, path)
        entries, ok = log.wait_for(lambda es: len(_heads(es)) > before, timeout=5)
        self.assertTrue(ok, f"a stat more than 1 s after the last confirmation made no HEAD"
                            f"{self.tail(mount)}")
        after_confirmation = len(_heads(entries))

        def burst():
            start = time.monotonic()
            for _ in range(20):
                os.stat(path)
            return time.monotonic() - start

        took = mount.call(burst)
        self.assertLess(took, 0.5, "20 stats took too long for the check to mean anything")
        time.sleep(0.3)  # let nginx log whatever the burst caused
        extra = len(_heads(log.entries())) - after_confirmation
        _note(f"20 stats in {took * 1000:.1f} ms right after a confirmation: {extra} HEAD(s)")
        self.assertLessEqual(extra, 2, f"{extra} HEADs for 20 stats within the 1 s interval")

    def test_strong_etag_same_size_change(self):
        """Spec 1, 2, 3 with the test server's strong ETag."""
        name = "file.bin"
        self.publish(name, 1, SIZE)
        server, log = self.start_test_server()
        url = server.url(name)
        old = head_validators(url)
        self.assertTrue(old["etag"].startswith('"'), f"no strong ETag: {old}")
        log.clear()
        mount = self.start_mount(url, 3600)
        entries = self.old_handle_across_change(mount, log, name_in_mount(url), SIZE)
        new = head_validators(url)
        self.assertNotEqual(old["etag"], new["etag"])
        gets = _gets(entries)
        for e in gets:
            self.assertIn(e["if_range"], (old["etag"], new["etag"]),
                          f"a GET without If-Range <strong ETag>: {e}")
        failed = _gets_touching(entries, FAR)
        self.assertTrue(any(e["if_range"] == old["etag"] and e["status"] == 200 for e in failed),
                        f"the failed read's GET was not If-Range {old['etag']} answered 200: "
                        f"{failed}")

    def test_server_ignoring_preconditions_is_caught_by_response_etag(self):
        """Spec 2, third case: a server that ignores If-Range answers 206 with bytes of the new
        version; the 206's ETag differs from the version, so the read still fails."""
        name = "file.bin"
        self.publish(name, 1, SIZE)
        server, log = self.start_test_server()
        url = server.url(name, pre="ignore")
        old = head_validators(url)
        log.clear()
        mount = self.start_mount(url, 3600)
        entries = self.old_handle_across_change(mount, log, name_in_mount(url), SIZE)
        failed = _gets_touching(entries, FAR)
        self.assertTrue(any(e["if_range"] == old["etag"] and e["status"] == 206 for e in failed),
                        f"expected the failed read's GET to carry If-Range {old['etag']} and be "
                        f"answered 206 by the server that ignores it: {failed}")

    def test_weak_etag_uses_if_unmodified_since(self):
        """Spec 1, 2, 3: a weak ETag is never used as a precondition; Last-Modified is."""
        name = "file.bin"
        self.publish(name, 1, SIZE)
        server, log = self.start_test_server()
        url = server.url(name, etag="weak")
        old = head_validators(url)
        self.assertTrue(old["etag"].startswith("W/"), f"expected a weak ETag: {old}")
        self.assertTrue(old["last_modified"], old)
        log.clear()
        mount = self.start_mount(url, 3600)
        entries = self.old_handle_across_change(mount, log, name_in_mount(url), SIZE)
        new = head_validators(url)
        self.assertFalse(_same_date(old["last_modified"], new["last_modified"]))
        self.assert_if_unmodified_since(entries, old, new, mount)

    def test_weak_etag_only_no_precondition_size_change_caught(self):
        """Spec 1, 2, 5: a weak ETag alone gives no precondition; a size change is still
        caught (Content-Range total)."""
        name = "file.bin"
        self.publish(name, 1, SIZE)
        server, log = self.start_test_server()
        url = server.url(name, etag="weak", lm=False)
        old = head_validators(url)
        self.assertTrue(old["etag"].startswith("W/") and not old["last_modified"], old)
        log.clear()
        mount = self.start_mount(url, 3600)
        entries = self.old_handle_across_change(mount, log, name_in_mount(url),
                                                SIZE + 3 * BLOCK + 111)
        self.assert_no_precondition(entries, mount)
        self.assertTrue(any(e["status"] == 206 for e in _gets_touching(entries, FAR)),
                        f"the failed read's GET was not a 206: {_gets_touching(entries, FAR)}")

    def test_last_modified_only_uses_if_unmodified_since(self):
        """Spec 1, 2, 3: no ETag, Last-Modified only; a same-size change with a later mtime
        is caught by If-Unmodified-Since (412)."""
        name = "file.bin"
        self.publish(name, 1, SIZE)
        server, log = self.start_test_server()
        url = server.url(name, etag="none")
        old = head_validators(url)
        self.assertTrue(not old["etag"] and old["last_modified"], old)
        log.clear()
        mount = self.start_mount(url, 3600)
        entries = self.old_handle_across_change(mount, log, name_in_mount(url), SIZE)
        new = head_validators(url)
        self.assert_if_unmodified_since(entries, old, new, mount)

    def test_no_validators_size_change_caught(self):
        """Spec 1, 2, 3, 5: no validators at all: no precondition, but a change of size is
        caught (the 206's Content-Range total) and the old handle never sees new bytes. (A
        same-size change cannot be detected without validators; not tested.)"""
        name = "file.bin"
        self.publish(name, 1, SIZE)
        server, log = self.start_test_server()
        url = server.url(name, etag="none", lm=False)
        old = head_validators(url)
        self.assertTrue(not old["etag"] and not old["last_modified"], old)
        log.clear()
        mount = self.start_mount(url, 3600)
        entries = self.old_handle_across_change(mount, log, name_in_mount(url),
                                                SIZE - 5 * BLOCK - 777)
        self.assert_no_precondition(entries, mount)
        self.assertTrue(any(e["status"] == 206 for e in _gets_touching(entries, FAR)),
                        f"the failed read's GET was not a 206: {_gets_touching(entries, FAR)}")

    def test_concurrent_readers_never_mix_versions(self):
        """Spec 2, 3, 4: eight readers stream the file (nginx, --revalidate 0) while it is
        replaced twice; every pass reads one version only, a pass that reaches EOF has the
        full length of its version, failures are EIO (or ESTALE), and afterwards a new open
        reads exactly the last version."""
        name = "stream.bin"
        sizes = {1: 32 * MiB, 2: 32 * MiB + 70_001, 3: 32 * MiB - 130_003}
        for v, s in sizes.items():  # build them all up front: the readers need all three
            self.versions.setdefault(name, {})[v] = version_content(v, s)
        self.publish(name, 1, sizes[1])
        server, _log = self.start_nginx()
        # Neither cache may hold a whole version: readers dropping what they read from the
        # page cache and a block cache half a version's size make a pass that is under way at
        # a change go to the server again (instead of finishing from old cached bytes).
        mount = self.start_mount(server.url(name), 0,
                                 ["--cache-size", "16M", "--readahead-max", "2M"])
        path = mount.path(name)
        versions = self.versions[name]
        readers, chunk, min_run, max_run = 8, 128 * KiB, 3.0, 30.0
        lock = threading.Lock()
        stop = threading.Event()
        problems = []
        stats = {"passes": {1: 0, 2: 0, 3: 0}, "complete": {1: 0, 2: 0, 3: 0},
                 "errors": {}, "open_errors": {}}
        replaced = {}

        def one_pass():
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError as e:
                with lock:
                    if e.errno in ACCEPTED_ERRNOS:
                        stats["open_errors"][_errno_name(e)] = \
                            stats["open_errors"].get(_errno_name(e), 0) + 1
                    else:
                        problems.append(f"open failed with {_errno_name(e)}: {e}")
                return
            first, offset, complete, error = None, 0, False, None
            try:
                while True:
                    try:
                        data = os.pread(fd, chunk, offset)
                    except OSError as e:
                        error = e
                        break
                    os.posix_fadvise(fd, offset, chunk, os.POSIX_FADV_DONTNEED)
                    if not data:
                        complete = True
                        break
                    try:
                        v = which_version(data, offset, versions)
                    except VersionMixError as e:
                        with lock:
                            problems.append(f"pass starting with v{first}: {e}")
                        return
                    if first is None:
                        first = v
                    elif v != first:
                        with lock:
                            problems.append(f"pass mixes versions: v{first} up to {offset}, "
                                            f"then v{v} at {offset}")
                        return
                    offset += len(data)
            finally:
                os.close(fd)
            with lock:
                if first is not None:
                    stats["passes"][first] += 1
                if error is not None:
                    if error.errno in ACCEPTED_ERRNOS:
                        key = _errno_name(error)
                        stats["errors"][key] = stats["errors"].get(key, 0) + 1
                    else:
                        problems.append(f"read at {offset} failed with {_errno_name(error)}: "
                                        f"{error}")
                elif complete:
                    if first is None or offset != sizes[first]:
                        problems.append(f"pass of v{first} ended at {offset}, version size "
                                        f"{sizes.get(first)}")
                    else:
                        stats["complete"][first] += 1

        def reader():
            while not stop.is_set():
                one_pass()

        def run_all():
            threads = [threading.Thread(target=reader, daemon=True) for _ in range(readers)]
            start = time.monotonic()
            for t in threads:
                t.start()
            try:
                for v, at in ((2, 0.3), (3, 0.6)):
                    time.sleep(max(0.0, start + at - time.monotonic()))
                    self.publish(name, v, sizes[v])
                    replaced[v] = time.monotonic() - start
                # At least min_run seconds, and until a pass read all of version 3 (bounded).
                while time.monotonic() - start < max_run:
                    with lock:
                        done = stats["complete"][3] > 0
                    if done and time.monotonic() - start >= min_run:
                        break
                    time.sleep(0.05)
            finally:
                stop.set()
                for t in threads:
                    t.join()
            return time.monotonic() - start

        elapsed = mount.call(run_all, timeout=120)
        _note(f"{readers} readers for {elapsed:.1f}s, replaced at {replaced}: passes by "
              f"version {stats['passes']}, complete {stats['complete']}, read errors "
              f"{stats['errors']}, open errors {stats['open_errors']}")
        self.assertEqual(problems, [], f"{len(problems)} bad passes; first: {problems[:5]}"
                                       f"{self.tail(mount)}")
        self.assertGreater(stats["complete"][3], 0,
                           f"no reader completed a pass of the last version{self.tail(mount)}")
        # A pass under way at a change can neither finish from caches that do not hold the
        # whole old version nor (checked above) mix: it must have failed. None failing means
        # no change ever happened under a reader, and the test proved nothing.
        self.assertGreater(sum(stats["errors"].values()), 0,
                           "no read failed: no pass was under way at a change")
        self.assert_new_open_sees(mount, name, 3)
        lines = changed_lines(mount.stderr())
        self.assertTrue(1 <= len(lines) <= 2,
                        f"two changes, {len(lines)} 'remote changed' lines: {lines}")
        transitions = [m.group(1) if m else line for line in lines
                       for m in [re.search(r"remote changed \((.*)\)", line)]]
        self.assertEqual(len(transitions), len(set(transitions)),
                         f"a change was logged more than once: {lines}")

    # ------------------------------------------------- probes during revalidation
    def test_transient_failure_of_a_revalidation_probe_is_retried(self):
        """--revalidate 1. The file changes; the HEAD of the next stat's revalidation is
        answered 503 (with and without Retry-After) or 429, once (the mount's own HEAD is
        served: after=1). The probe is retried like a read, so that very stat shows the new
        size, and the new version reads right."""
        name = "data.bin"
        s1, s2 = 1 * MiB, 1 * MiB + 4321
        cases = {"503": {"status": 503},
                 "503 + Retry-After": {"status": 503, "retry_after": "1"},
                 "429": {"status": 429}}
        for label, fault in cases.items():
            with self.subTest(label):
                self.publish(name, 1, s1)
                server, log = self.start_test_server()
                mount = self.start_mount(
                    server.url(name, head=1, times=1, after=1, **fault), 1,
                    extra=["--timeout", "10"])
                path = mount.path(name)
                self.assertEqual(mount.call(os.stat, path).st_size, s1)
                self.publish(name, 2, s2)
                time.sleep(1.3)  # the confirmation and the kernel's entry expire
                started = time.monotonic()
                st = mount.call(os.stat, path)
                took = time.monotonic() - started
                heads = _heads(log.wait_for(lambda es: len(_heads(es)) >= 3, 5.0)[0])
                # The kernel may look the name up again once it hears of the new version, and
                # a confirmation dates from its probe's first try: another HEAD may follow.
                self.assertEqual([h["status"] for h in heads[:3]], [200, fault["status"], 200],
                                 f"{label}: the HEADs{self.tail(mount)}")
                self.assertEqual(st.st_size, s2, f"{label}: stat after a {label} at "
                                                 f"revalidation{self.tail(mount)}")
                self.assertLess(took, 5.0, f"{label}: the stat took {took:.1f}s")
                self.assert_new_open_sees(mount, name, 2)
                mount.cleanup()

    def test_revalidation_probe_that_keeps_failing_keeps_the_last_version(self):
        """Every HEAD after the mount's is 503: the revalidation retries (--retries 2) within
        --timeout, then gives up; stat still answers, with the last confirmed version, and the
        log says the version could not be confirmed."""
        name = "data.bin"
        s1 = 1 * MiB
        self.publish(name, 1, s1)
        server, log = self.start_test_server()
        timeout = 4
        mount = self.start_mount(server.url(name, head=1, after=1, status=503), 1,
                                 extra=["--timeout", str(timeout), "--retries", "2"])
        path = mount.path(name)
        self.assertEqual(mount.call(os.stat, path).st_size, s1)
        time.sleep(1.3)
        started = time.monotonic()
        st = mount.call(os.stat, path)
        took = time.monotonic() - started
        self.assertEqual(st.st_size, s1)
        self.assertLess(took, timeout + 2.0, f"the stat took {took:.1f}s, --timeout {timeout}")
        heads = _heads(log.wait_for(lambda es: len(_heads(es)) >= 4, 2.0)[0])
        self.assertEqual([h["status"] for h in heads], [200, 503, 503, 503],
                         f"the mount's HEAD, then the revalidation's, retried twice"
                         f"{self.tail(mount)}")
        self.assertIn("could not confirm the version", mount.stderr())

    def test_mount_probe_failing_is_not_retried(self):
        """At mount a bad URL fails at once: a 503 (or 404) to the probe refuses the mount
        with one request, no retry."""
        self.publish("data.bin", 1, 1000)
        server, log = self.start_test_server()
        for fault in ({"status": 503, "head": 1}, {"status": 404, "head": 1}):
            with self.subTest(**fault):
                log.clear()
                run = harness.run_expect_failure([server.url("data.bin", **fault)], timeout=30)
                self.assertEqual(run.returncode, 1, run.stderr)
                self.assertFalse(run.mounted)
                self.assertLess(run.elapsed, 3.0, run.stderr)
                self.assertIn(f"HTTP {fault['status']}", run.stderr)
                self.assertEqual(len(log.entries()), 1, log.entries())

    def test_revalidate_zero_probes_every_open_and_sees_change_at_once(self):
        """Spec 4 with --revalidate 0: every open makes a HEAD, and the next open after a
        change reads the new version with no failed read."""
        name = "data.bin"
        size = 8 * MiB
        self.publish(name, 1, size)
        server, log = self.start_nginx()
        mount = self.start_mount(server.url(name), 0)
        path = mount.path(name)
        self.assert_new_open_sees(mount, name, 1)
        log.clear()
        for _ in range(3):
            mount.call(_open_close, path)
        entries, ok = log.wait_for(lambda es: len(_heads(es)) >= 3, timeout=5)
        _note(f"--revalidate 0: {len(_heads(entries))} HEADs for 3 opens")
        self.assertTrue(ok, f"{len(_heads(entries))} HEADs for 3 opens with --revalidate 0: "
                            f"{entries}{self.tail(mount)}")
        self.assertEqual(_gets(entries), [], "opens without reads made GETs")

        self.publish(name, 2, size)  # same size, ten seconds later
        new = head_validators(server.url(name))
        log.clear()
        self.assert_new_open_sees(mount, name, 2)  # no EIO, every byte version 2
        self.assert_one_change_line(mount, name)
        server.stop()  # a graceful stop: every request is in the log
        entries = log.entries()
        self.assertTrue(_heads(entries) and _gets(entries),
                        f"no HEAD and GET logged for the new open: {entries}")
        first_get = next(i for i, e in enumerate(entries) if e["method"] == "GET")
        self.assertTrue(any(e["method"] == "HEAD" for e in entries[:first_get]),
                        f"the open did not probe before reading: {entries[:first_get + 1]}")
        for e in _gets(entries):
            self.assertEqual((e["status"], e["if_range"]), (206, new["etag"]),
                             f"a failed or stale read after the change: {e}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
