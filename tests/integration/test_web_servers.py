"""The launchers of real web servers (scripts/lib/web_servers.py) checked on their own: each
server and listing mode starts on a free loopback port, lists a small tree (names with spaces
and UTF-8), answers a ranged GET (206 with exactly the asked bytes; python's http.server
ignores Range and answers 200 with the whole file, which is asserted as such), logs its
requests, and leaves no process behind after stop(). No FUSE and no rangefs binary needed.
"""

from __future__ import annotations

import html
import os
import shutil
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

_HERE = os.path.dirname(os.path.abspath(__file__))
_SCRIPTS_LIB = os.path.normpath(os.path.join(_HERE, "..", "..", "scripts", "lib"))
if _SCRIPTS_LIB not in sys.path:
    sys.path.insert(0, _SCRIPTS_LIB)

import web_servers  # noqa: E402  (path set up above)
from port_process import listening_inodes  # noqa: E402
from procfs import pid_alive  # noqa: E402

TIMEOUT = 10.0
# Short names: Apache's FancyIndexing cuts the displayed name at 23 columns (the href stays
# whole, but this test looks for names in the page, not in parsed links).
ROOT_NAMES = ["alpha.txt", "with space.bin", "café-ü.txt", "sub"]
SUB_NAMES = ["inner.dat", "deeper"]
DATA = bytes(range(256)) * 40  # 10240 bytes


def get(url: str, headers: dict | None = None, method: str = "GET"):
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        return response.status, response.read(), response.headers


def page_mentions(body: bytes, name: str) -> bool:
    """A listing mentions a name as text (HTML-escaped or not) or percent-encoded in a link."""
    text = body.decode("utf-8", errors="replace")
    return (name in text or name in html.unescape(text)
            or urllib.parse.quote(name) in text or name in urllib.parse.unquote(text))


class WebServersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = [kind for kind in {k for k, _ in web_servers.SERVERS}
                   if not web_servers.server_available(kind)]
        if missing:
            raise RuntimeError(f"servers not installed: {missing} (scripts/setup.sh installs "
                               f"them)")
        cls.root = tempfile.mkdtemp(prefix="web-servers-test-")
        cls.addClassCleanup(shutil.rmtree, cls.root, True)
        for name in ROOT_NAMES[:-1]:
            with open(os.path.join(cls.root, name), "wb") as f:
                f.write(DATA)
        os.makedirs(os.path.join(cls.root, "sub", "deeper"))
        with open(os.path.join(cls.root, "sub", "inner.dat"), "wb") as f:
            f.write(b"inner\n")
        with open(os.path.join(cls.root, "sub", "deeper", "leaf.txt"), "wb") as f:
            f.write(b"leaf\n")

    def check_server(self, kind: str, mode: str) -> None:
        server = web_servers.start_server(kind, mode, self.root)
        try:
            self.assertTrue(server.url.startswith("http://127.0.0.1:"), server.url)
            self.assertTrue(server.url.endswith("/"), server.url)
            self.assertTrue(pid_alive(server.pid))
            workdir = server.workdir
            self.assertTrue(workdir and os.path.isdir(workdir))

            status, body, _ = get(server.url)
            self.assertEqual(status, 200)
            for name in ROOT_NAMES:
                self.assertTrue(page_mentions(body, name), f"{name!r} not in:\n{body[:3000]!r}")
            status, body, _ = get(server.url + "sub/")
            self.assertEqual(status, 200)
            for name in SUB_NAMES:
                self.assertTrue(page_mentions(body, name), f"{name!r} not in:\n{body[:3000]!r}")

            url = server.url + urllib.parse.quote("with space.bin")
            status, body, headers = get(url, {"Range": "bytes=1000-1999"})
            if kind == "python":
                # http.server (3.11) has no Range support: the whole file, 200.
                self.assertEqual(status, 200)
                self.assertEqual(body, DATA)
            else:
                self.assertEqual(status, 206)
                self.assertEqual(body, DATA[1000:2000])
                self.assertEqual(headers["Content-Range"], f"bytes 1000-1999/{len(DATA)}")
            status, body, headers = get(url, method="HEAD")
            self.assertEqual((status, body), (200, b""))
            self.assertEqual(int(headers["Content-Length"]), len(DATA))

            # Servers log a request when they have finished it, and a multi-process server
            # (Apache) may finish the next one first: compared by request, not by position.
            entries = server.quiet_access_log_entries(quiet=0.2)
            deadline = time.monotonic() + 10
            while len(entries) < 4 and time.monotonic() < deadline:
                entries = server.quiet_access_log_entries(quiet=0.2)
            by_request = {(e["method"], e["uri"]): e for e in entries}
            self.assertEqual(len(entries), 4, entries)
            self.assertEqual(sorted(by_request),
                             [("GET", "/"), ("GET", "/sub/"),
                              ("GET", "/with%20space.bin"), ("HEAD", "/with%20space.bin")])
            ranged = by_request[("GET", "/with%20space.bin")]
            self.assertEqual([by_request[key]["status"] for key in sorted(by_request)],
                             [200, 200, 200 if kind == "python" else 206, 200])
            if kind != "python":
                self.assertEqual(ranged["range"], "bytes=1000-1999")
            self.assertEqual(server.request_counts(entries), {"GET": 3, "HEAD": 1})

            pid, port = server.pid, server.port
            server.stop()
            self.assertFalse(pid_alive(pid), f"{kind} pid {pid} still running after stop()")
            self.assertEqual(listening_inodes(port), set())
            # The logs outlive stop() (until cleanup()).
            self.assertEqual(len(server.access_log_entries()), 4)
        finally:
            server.cleanup()
        self.assertFalse(os.path.exists(workdir), f"{workdir} left behind")

    def test_each_server_and_mode(self):
        for kind, mode in web_servers.SERVERS:
            with self.subTest(server=kind, mode=mode):
                self.check_server(kind, mode)

    def test_listing_formats_differ_per_mode(self):
        """The modes really are different listing formats, not the same page."""
        with web_servers.start_server("nginx", "json", self.root) as server:
            _, body, headers = get(server.url)
            self.assertIn("json", headers["Content-Type"])
            self.assertIn(b'"name":"sub"', body.replace(b" ", b""))
        with web_servers.start_server("nginx", "xml", self.root) as server:
            _, body, _ = get(server.url)
            self.assertIn(b"<directory", body)
        with web_servers.start_server("apache", "plain", self.root) as server:
            _, body, _ = get(server.url)
            self.assertIn(b"<ul>", body)
            self.assertNotIn(b"<pre>", body)
        with web_servers.start_server("apache", "fancy", self.root) as server:
            _, body, _ = get(server.url)
            self.assertIn(b"<pre>", body)
        with web_servers.start_server("apache", "htmltable", self.root) as server:
            _, body, _ = get(server.url)
            self.assertIn(b"<table>", body)
        with web_servers.start_server("caddy", "browse", self.root) as server:
            _, body, headers = get(server.url, {"Accept": "application/json"})
            self.assertIn("json", headers["Content-Type"])
            self.assertIn(b'"name":"sub/"', body.replace(b" ", b""))

    def test_two_at_once_and_context_manager(self):
        with web_servers.start_server("apache", "fancy", self.root) as a, \
                web_servers.start_server("lighttpd", None, self.root) as b:
            self.assertNotEqual(a.port, b.port)
            self.assertEqual(get(a.url + "alpha.txt")[1], DATA)
            self.assertEqual(get(b.url + "alpha.txt")[1], DATA)
            pids = (a.pid, b.pid)
        for pid in pids:
            self.assertFalse(pid_alive(pid))

    def test_unknown_server_or_mode(self):
        with self.assertRaises(web_servers.WebServerError):
            web_servers.start_server("iis", None, self.root)
        with self.assertRaises(web_servers.WebServerError):
            web_servers.start_server("apache", "json", self.root)


if __name__ == "__main__":
    unittest.main()
