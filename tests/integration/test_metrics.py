"""The metrics endpoint (--metrics): scraped with curl from a running mount, parsed, and held
against nginx's access log and the bytes the test read.

The parser below reads the Prometheus text format strictly (HELP and TYPE before a family's
samples, label escapes, histogram buckets cumulative and ending in le="+Inf" equal to
_count), so a malformed exposition fails the test that scrapes it.
"""

from __future__ import annotations

import collections
import os
import re
import socket
import subprocess
import unittest
from dataclasses import dataclass, field
from typing import Optional

import harness
from harness import KiB, MiB

BLOCK = 256 * KiB
BIG_SIZE = 16 * MiB + 7
SMALL_SIZE = 300_007  # one full block and a short one
PAGE = os.sysconf("SC_PAGE_SIZE")
WHERE_RE = re.compile(r"metrics at (\S+)")


# ------------------------------------------------------------------------------ the parser
@dataclass
class Family:
    name: str
    type: str = ""
    help: Optional[str] = None
    samples: list = field(default_factory=list)  # (sample name, labels dict, value)


_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE_RE = re.compile(rf"^({_NAME})(?:\{{(.*)\}})? (\S+)$")
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def _labels(text: str) -> dict[str, str]:
    labels, at = {}, 0
    while at < len(text):
        m = _LABEL_RE.match(text, at)
        if not m:
            raise ValueError(f"malformed labels: {text!r}")
        labels[m.group(1)] = re.sub(r"\\.", lambda e: _UNESCAPE[e.group(0)], m.group(2))
        at = m.end()
    return labels


def parse_exposition(text: str) -> dict[str, Family]:
    """Families by name. Raises ValueError for anything the format does not allow."""
    families: dict[str, Family] = {}
    if text and not text.endswith("\n"):
        raise ValueError("the exposition does not end with a line feed")
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            _, kind, name, *rest = line.split(" ", 3)
            family = families.setdefault(name, Family(name))
            if kind == "HELP":
                if family.help is not None or family.samples:
                    raise ValueError(f"HELP after samples or twice: {line}")
                family.help = rest[0] if rest else ""
            else:
                if family.type or family.samples:
                    raise ValueError(f"TYPE after samples or twice: {line}")
                family.type = rest[0]
                if family.type not in ("counter", "gauge", "histogram", "summary", "untyped"):
                    raise ValueError(f"unknown type: {line}")
            continue
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE_RE.match(line)
        if not m:
            raise ValueError(f"not a sample line: {line!r}")
        name, labels, value = m.group(1), _labels(m.group(2) or ""), float(m.group(3))
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        family = families.get(name) or families.get(base)
        if family is None or not family.type:
            raise ValueError(f"sample without a TYPE line before it: {line}")
        if family.name != name and family.type != "histogram":
            raise ValueError(f"{name} in {family.type} family {family.name}")
        family.samples.append((name, labels, value))
    for family in families.values():
        if family.help is None:
            raise ValueError(f"{family.name} has no HELP")
        if family.type == "histogram":
            _check_histogram(family)
    return families


def _check_histogram(family: Family) -> None:
    buckets = [(s[1]["le"], s[2]) for s in family.samples if s[0].endswith("_bucket")]
    counts = [s[2] for s in family.samples if s[0].endswith("_count")]
    sums = [s[2] for s in family.samples if s[0].endswith("_sum")]
    if not buckets or len(counts) != 1 or len(sums) != 1:
        raise ValueError(f"{family.name}: needs buckets, one _sum and one _count")
    if buckets[-1][0] != "+Inf" or buckets[-1][1] != counts[0]:
        raise ValueError(f"{family.name}: the last bucket must be le=\"+Inf\" equal to _count")
    bounds = [float(le) for le, _ in buckets]
    if bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
        raise ValueError(f"{family.name}: bucket bounds not strictly ascending")
    values = [v for _, v in buckets]
    if values != sorted(values):
        raise ValueError(f"{family.name}: buckets are not cumulative: {values}")


def value(families: dict[str, Family], name: str, **labels) -> float:
    """The one sample `name` with exactly these labels (0 for a labelled counter never seen)."""
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    family = families.get(name) or families[base]
    found = [v for n, ls, v in family.samples if n == name and ls == labels]
    if not found and labels and family.type == "counter":
        return 0
    assert len(found) == 1, f"{name}{labels}: {len(found)} samples in {family.samples}"
    return found[0]


def by_label(families: dict[str, Family], name: str, label: str) -> dict[str, float]:
    return {ls[label]: v for n, ls, v in families[name].samples if n == name}


class ParserTest(unittest.TestCase):
    """The parser itself: it must refuse what a real scraper would."""

    def test_accepts_a_well_formed_exposition(self):
        families = parse_exposition(
            '# HELP a_total A "quoted" help.\n# TYPE a_total counter\n'
            'a_total{code="200",file="x\\"y\\\\z\\n"} 3\n'
            "# HELP h H.\n# TYPE h histogram\n"
            'h_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1.5\nh_count 2\n')
        self.assertEqual(value(families, "a_total", code="200", file='x"y\\z\n'), 3)
        self.assertEqual(value(families, "h_count"), 2)

    def test_refuses_malformed_expositions(self):
        for text in ("a 1\n",                                           # no TYPE
                     "# TYPE a counter\na 1\n",                          # no HELP
                     "# HELP a x\n# TYPE a counter\na{b=c} 1\n",         # unquoted label
                     "# HELP h x\n# TYPE h histogram\n"                  # not cumulative
                     'h_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
                     "# HELP h x\n# TYPE h histogram\n"                  # +Inf != count
                     'h_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n',
                     "# HELP a x\n# TYPE a counter\na 1"):               # no final newline
            with self.subTest(text=text), self.assertRaises((ValueError, AssertionError)):
                parse_exposition(text)


# --------------------------------------------------------------------------- scraping
def curl(*args: str, timeout: float = 15) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "--silent", "--show-error", "--noproxy", "*",
                           "--max-time", "10", *args],
                          capture_output=True, text=True, timeout=timeout)


def scrape(url: str, unix_socket: Optional[str] = None) -> dict[str, Family]:
    args = ["--fail", "--include"]
    if unix_socket:
        args += ["--unix-socket", unix_socket]
    # Bytes, not text: text mode would turn the CRLFs that end the head into LFs.
    result = subprocess.run(["curl", "--silent", "--show-error", "--noproxy", "*",
                             "--max-time", "10", *args, url], capture_output=True, timeout=15)
    if result.returncode != 0:
        raise AssertionError(f"curl {url} failed ({result.returncode}): {result.stderr}")
    head, _, body = result.stdout.decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 200"), head
    assert "content-type: text/plain; version=0.0.4" in head.lower(), head
    return parse_exposition(body)


def total_requests(families: dict[str, Family]) -> float:
    return sum(by_label(families, "rangefs_http_requests_total", "code").values())


class MetricsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_environment("curl", "sha256sum")
        cls.shas = harness.class_data_dir(cls, "rangefs-metrics-data-",
                                          {"big.bin": BIG_SIZE, "small.bin": SMALL_SIZE})

    def setUp(self):
        self.server = harness.LoopbackNginx(self.data)
        self.server.start()
        self.addCleanup(self.server.cleanup)

    def start_mount(self, args=(), metrics: str = "127.0.0.1:0",
                    revalidate: str = "600") -> harness.Mount:
        # By default versions stay trusted: a lookup never probes, so every request in the
        # log is one the mount or the reads made.
        mount = harness.Mount([self.server.url(n) for n in self.shas],
                              ["--metrics", metrics, "--block-size", "256K",
                               "--revalidate", revalidate, *args])
        self.addCleanup(mount.cleanup)
        mount.start()
        found = WHERE_RE.search(mount.stderr())
        self.assertIsNotNone(found, f"the endpoint was not logged:\n{mount.stderr()}")
        self.where = found.group(1)
        return mount

    def sha256(self, mount: harness.Mount, name: str) -> None:
        result = mount.run(["sha256sum", name], cwd=mount.path(), timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.decode().split()[0], self.shas[name])

    def settled_scrape(self, entries: list[dict]) -> dict[str, Family]:
        """A scrape once rangefs has counted every request of the (quiet) log."""
        box = {}

        def counted():
            box["families"] = scrape(self.where)
            return total_requests(box["families"]) >= len(entries)

        harness.wait_until(counted, 10)
        return box["families"]

    # --------------------------------------------------------------------------- tests
    def test_counters_agree_with_the_server_log_and_the_reads(self):
        mount = self.start_mount()
        self.assertTrue(self.where.startswith("http://127.0.0.1:"), self.where)
        self.sha256(mount, "big.bin")
        # Two whole pages of small.bin, without kernel readahead: exactly those bytes are read.
        got = mount.call(harness.pread_no_readahead, mount.path("small.bin"), 2 * PAGE,
                         16 * PAGE)
        with open(os.path.join(self.data, "small.bin"), "rb") as f:
            f.seek(16 * PAGE)
            self.assertEqual(got, f.read(2 * PAGE))

        entries = self.server.quiet_access_log_entries(quiet=0.5)
        m = self.settled_scrape(entries)
        statuses = collections.Counter(str(e["status"]) for e in entries)
        self.assertEqual(by_label(m, "rangefs_http_requests_total", "code"),
                         {code: float(n) for code, n in statuses.items()},
                         "requests by status differ from nginx's log")
        fetched = sum(e["body_bytes_sent"] for e in entries)
        self.assertEqual(value(m, "rangefs_fetched_bytes_total"), fetched)
        self.assertEqual(value(m, "rangefs_http_transport_errors_total"), 0)
        self.assertEqual(value(m, "rangefs_retries_total"), 0)
        self.assertEqual(value(m, "rangefs_version_changes_total"), 0)
        self.assertEqual(value(m, "rangefs_read_errors_total"), 0)
        served = value(m, "rangefs_read_bytes_total")
        print(f"\n  served {served:.0f} bytes in {value(m, 'rangefs_reads_total'):.0f} reads, "
              f"fetched {fetched} in {len(entries)} requests "
              f"(read amplification {fetched / served:.3f})", file=__import__("sys").stderr)
        # The kernel asks for each byte the test read once (its page cache keeps it), plus
        # nothing: whole files end at their size, and the pread had no readahead.
        self.assertEqual(served, BIG_SIZE + 2 * PAGE)
        # Every request is timed, each once.
        self.assertEqual(value(m, "rangefs_http_request_duration_seconds_count"), len(entries))
        self.assertGreater(value(m, "rangefs_http_request_duration_seconds_sum"), 0)
        self.assertEqual(value(m, "rangefs_http_first_byte_seconds_count"), len(entries))
        # The block cache holds both files: each asked byte once, nothing evicted.
        asked = sum(harness.range_bytes(e) for e in entries if e["method"] == "GET")
        self.assertEqual(value(m, "rangefs_cache_bytes"), asked)
        self.assertEqual(value(m, "rangefs_cache_evictions_total"), 0)
        self.assertEqual(value(m, "rangefs_cache_capacity_bytes"), 256 * MiB)
        self.assertGreater(value(m, "rangefs_cache_misses_total"), 0)
        # A sequential 16 MiB read ramps readahead from its 1 MiB window.
        windows = value(m, "rangefs_readahead_window_bytes_count")
        self.assertGreater(windows, 0)
        self.assertGreater(value(m, "rangefs_readahead_window_bytes_bucket", le="1048576"), 0)
        harness.wait_until(
            lambda: value(scrape(self.where), "rangefs_open_handles") == 0, 10)
        self.assertEqual(value(scrape(self.where), "rangefs_open_handles"), 0)

    def test_cache_hits_when_the_page_cache_is_dropped(self):
        mount = self.start_mount()
        self.sha256(mount, "small.bin")
        entries = self.server.quiet_access_log_entries(quiet=0.5)
        before = self.settled_scrape(entries)

        def reread(path):
            fd = os.open(path, os.O_RDONLY)
            try:
                # The kernel forgets its copy of the pages: the next read comes to rangefs,
                # whose block cache has both blocks.
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                return os.pread(fd, SMALL_SIZE, 0)
            finally:
                os.close(fd)

        with open(os.path.join(self.data, "small.bin"), "rb") as f:
            self.assertEqual(mount.call(reread, mount.path("small.bin")), f.read())
        after = scrape(self.where)
        hits = value(after, "rangefs_cache_hits_total") - value(before, "rangefs_cache_hits_total")
        self.assertGreaterEqual(hits, 2, "the re-read did not hit the block cache")
        self.assertEqual(value(after, "rangefs_read_bytes_total")
                         - value(before, "rangefs_read_bytes_total"), SMALL_SIZE)
        self.assertEqual(len(self.server.quiet_access_log_entries(quiet=0.3)), len(entries),
                         "a re-read of cached blocks made requests")
        self.assertEqual(total_requests(after), len(entries))

    def test_evictions_with_a_small_cache(self):
        mount = self.start_mount(["--cache-size", "1M"])
        self.sha256(mount, "big.bin")
        entries = self.server.quiet_access_log_entries(quiet=0.5)
        m = self.settled_scrape(entries)
        fetched_blocks = sum(-(-(last - first + 1) // BLOCK)
                             for e in entries if e["method"] == "GET"
                             for first, last in harness.parse_ranges(e))
        cached = value(m, "rangefs_cache_blocks")
        self.assertLessEqual(value(m, "rangefs_cache_bytes"), 1 * MiB)
        self.assertEqual(value(m, "rangefs_cache_evictions_total"), fetched_blocks - cached,
                         "every block fetched and no longer cached was evicted")
        self.assertGreater(fetched_blocks - cached, BIG_SIZE // BLOCK - 5)

    def test_open_handles_and_version_changes(self):
        mount = self.start_mount(revalidate="0")
        fds = [mount.call(os.open, mount.path(n), os.O_RDONLY) for n in ("big.bin", "small.bin")]
        try:
            self.assertEqual(value(scrape(self.where), "rangefs_open_handles"), 2)
        finally:
            for fd in fds:
                os.close(fd)
        # Releases reach rangefs after close() returns.
        harness.wait_until(lambda: value(scrape(self.where), "rangefs_open_handles") == 0, 10)
        self.assertEqual(value(scrape(self.where), "rangefs_open_handles"), 0)

        self.assertEqual(value(scrape(self.where), "rangefs_version_changes_total"), 0)
        with open(os.path.join(self.data, "small.bin"), "ab") as f:
            f.write(b"a new version")
        size = mount.call(lambda: os.stat(mount.path("small.bin")).st_size)
        self.assertEqual(size, SMALL_SIZE + 13)
        self.assertEqual(value(scrape(self.where), "rangefs_version_changes_total"), 1)

    def test_unix_socket_endpoint(self):
        tmp = harness.TempDir("rangefs-metrics-sock-")
        self.addCleanup(tmp.cleanup)
        path = os.path.join(tmp.path, "metrics.sock")
        mount = self.start_mount(metrics=f"unix:{path}")
        self.assertEqual(self.where, f"unix:{path}")
        self.assertTrue(os.path.exists(path))
        entries = self.server.quiet_access_log_entries(quiet=0.3)
        m = scrape("http://localhost/metrics", unix_socket=path)
        self.assertEqual(by_label(m, "rangefs_http_requests_total", "code"),
                         {"200": float(len(entries))}, "the mount's probes: one HEAD per file")
        self.assertEqual(len(entries), 2)
        result = mount.fusermount_unmount()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIsNotNone(mount.wait_exit(15))
        self.assertFalse(os.path.exists(path), "the socket outlived the mount")

    def test_a_daemonized_mount_serves_metrics(self):
        # The server thread starts after the fork (threads do not survive it); the address was
        # logged on the terminal before.
        with harness.run_daemon(["--metrics", "127.0.0.1:0", self.server.url("small.bin")],
                                timeout=30) as daemon:
            self.assertEqual(daemon.result.returncode, 0, daemon.result.stderr)
            found = WHERE_RE.search(daemon.result.stderr)
            self.assertIsNotNone(found, daemon.result.stderr)
            with open(os.path.join(self.data, "small.bin"), "rb") as f:
                self.assertEqual(daemon.call(harness.read_whole,
                                             os.path.join(daemon.mountpoint, "small.bin")),
                                 f.read())
            entries = self.server.quiet_access_log_entries(quiet=0.5)
            self.where = found.group(1)
            m = self.settled_scrape(entries)
            self.assertEqual(total_requests(m), len(entries))
            self.assertEqual(value(m, "rangefs_read_bytes_total"), SMALL_SIZE)

    def test_only_get_metrics_is_answered(self):
        self.start_mount()
        base = self.where[:-len("/metrics")]
        for args, status in ((["--request", "POST"], "405"), ([], "404"),
                             (["--head"], "200")):
            url = self.where if status != "404" else base + "/other"
            result = curl("--output", "/dev/null", "--write-out", "%{http_code}", *args, url)
            self.assertEqual(result.stdout, status, (args, result.stderr))

    def test_non_loopback_addresses_are_refused(self):
        url = self.server.url("small.bin")
        for address in ("0.0.0.0:9100", "192.0.2.1:9100", "[::]:9100", "example.org:9100",
                        "unix:relative.sock"):
            with self.subTest(address=address):
                run = harness.run_expect_failure(["--metrics", address, url], timeout=15)
                self.assertEqual(run.returncode, 2, run.stderr)
                self.assertFalse(run.mounted)
                self.assertIn("--metrics", run.stderr)
        self.assertIn("not a loopback address",
                      harness.run_expect_failure(["--metrics", "0.0.0.0:9100", url]).stderr)

    def test_a_taken_port_fails_the_mount(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            run = harness.run_expect_failure(
                ["--metrics", f"127.0.0.1:{port}", self.server.url("small.bin")], timeout=15)
        self.assertEqual(run.returncode, 1, run.stderr)
        self.assertFalse(run.mounted)
        self.assertIn("in use", run.stderr)


if __name__ == "__main__":
    unittest.main()
