"""Security: TLS verification (--cacert, --insecure), which redirects are followed (http and
https only, never from https down to http unless allowed, at most 10), credentials (--header,
--header-file, URL userinfo, --netrc-file) that reach the user's origin and nowhere else and
never show up in rangefs's output, and proxies (--proxy, http_proxy).

Servers: the project's range_test_server (HTTP and HTTPS with a self-signed certificate,
redirect and require_header options, a request log with every header) and, for the proxy
tests, a small forwarding proxy (forwarding_proxy.py)."""

import base64
import errno
import os
import subprocess
import unittest
import urllib.parse

import harness
from forwarding_proxy import ForwardingProxy
from harness import KiB

FILE_SIZE = 300 * KiB + 17  # a few blocks, not block-aligned
BLOCK = "64K"
FAIL_BOUND = 30.0
SECRET = "SECRETTOKEN7f3a"  # header value
PASSWORD = "PASSWORDq9z2"    # URL userinfo password
PROXY_PASSWORD = "PROXYPASSk4m1"
NETRC_PASSWORD = "NETRCPASSw8e5"


def _encode_all(text: str) -> str:
    """Every character percent-encoded: the server decodes it, while the URL (which rangefs may
    log) never holds the text literally."""
    return "".join(f"%{b:02X}" for b in text.encode())


def _options_url(server, path: str, **options) -> str:
    """Like server.url(), but option values fully percent-encoded (see _encode_all)."""
    segment = ",".join(f"{key}={_encode_all(str(value))}" for key, value in options.items())
    return f"{server.base_url}/{segment or '-'}/{urllib.parse.quote(path)}"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _with_userinfo(url: str, user: str, password: str) -> str:
    parts = urllib.parse.urlsplit(url)
    netloc = f"{user}:{password}@{parts.netloc}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))




class SecurityTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.binary = harness.require_environment("openssl")
        try:
            from range_test_server import RangeTestServer  # scripts/lib, via harness
        except ImportError as e:
            raise AssertionError(f"scripts/lib/range_test_server.py is missing: {e}")
        data = harness.TempDir("rangefs-sec-data-")
        cls.addClassCleanup(data.cleanup)
        cls.data = data.path
        cls.name = "file.bin"
        harness.write_random_file(os.path.join(cls.data, cls.name), FILE_SIZE)
        with open(os.path.join(cls.data, cls.name), "rb") as f:
            cls.content = f.read()
        cls.http = RangeTestServer(cls.data).start()
        cls.addClassCleanup(cls.http.cleanup)
        cls.other = RangeTestServer(cls.data).start()  # another origin: another port
        cls.addClassCleanup(cls.other.cleanup)
        cls.https = RangeTestServer(cls.data, tls=True).start()
        cls.addClassCleanup(cls.https.cleanup)

    def setUp(self):
        for server in (self.http, self.other, self.https):
            server.clear_requests()

    # ------------------------------------------------------------------------------ helpers
    def mount(self, url, *args, name=None):
        operand = f"{name}={url}" if name else url
        mount = harness.Mount([operand], ["--block-size", BLOCK, *args])
        self.addCleanup(mount.cleanup)
        mount.start()
        return mount

    def read_all(self, mount, name=None):
        path = mount.path(name or self.name)
        data = mount.call(harness.read_whole, path)
        self.assertEqual(len(data), FILE_SIZE, mount.stderr()[-3000:])
        self.assertEqual(data, self.content, "bytes differ from the served file")
        return data

    def fail_run(self, args, code, *expected_text):
        run = harness.run_expect_failure(args, timeout=FAIL_BOUND)
        self.assertFalse(run.timed_out, f"did not exit; stderr:\n{run.stderr}")
        self.assertFalse(run.mounted, f"mounted although it should fail:\n{run.stderr}")
        self.assertEqual(run.returncode, code, f"stderr:\n{run.stderr}")
        self.assertEqual(run.stray_pids, [])
        for text in expected_text:
            self.assertIn(text, run.stderr)
        return run

    def assert_not_in_output(self, secret, text, what):
        self.assertNotIn(secret, text, f"{what} shows a credential:\n{text[-4000:]}")

    @staticmethod
    def methods(entries):
        return sorted({e["method"] for e in entries})

    # ------------------------------------------------------------------------------- TLS
    def test_https_with_cacert_reads_the_right_bytes(self):
        mount = self.mount(self.https.url(self.name), "--cacert", self.https.cert_path)
        self.read_all(mount)
        self.assertIn("GET", self.methods(self.https.settled_requests()))

    def test_https_self_signed_without_cacert_fails(self):
        run = self.fail_run([self.https.url(self.name)], 1)
        self.assertRegex(run.stderr.lower(), r"certificate")
        self.assertIn(self.https.url(self.name), run.stderr)

    def test_insecure_mounts_and_warns(self):
        mount = self.mount(self.https.url(self.name), "--insecure")
        self.read_all(mount)
        self.assertIn("--insecure", mount.stderr())
        self.assertIn("not verified", mount.stderr())

    def test_unreadable_cacert_is_a_usage_error(self):
        missing = os.path.join(self.data, "no-such-ca.pem")
        self.fail_run(["--cacert", missing, self.https.url(self.name)], 2, missing)
        self.fail_run(["--cacert", self.data, self.https.url(self.name)], 2)  # a directory

    # -------------------------------------------------------------------------- redirects
    def test_https_to_http_redirect_is_refused_unless_allowed(self):
        target = self.http.url(self.name)
        url = self.https.url(self.name, location=target, head=1)
        run = self.fail_run(["--cacert", self.https.cert_path, url], 1)
        refusal = [line for line in run.stderr.splitlines() if "refused" in line]
        self.assertTrue(refusal, run.stderr)
        self.assertIn(target, refusal[0])  # names both URLs
        self.assertIn("https://", refusal[0])
        self.assertIn("--allow-insecure-redirect", refusal[0])
        self.assertEqual(self.http.settled_requests(), [], "a request went to the http URL")

        mount = self.mount(url, "--cacert", self.https.cert_path, "--allow-insecure-redirect")
        self.read_all(mount)
        self.assertIn("GET", self.methods(self.http.settled_requests()))

    def test_redirect_to_file_url_is_refused(self):
        url = self.http.url(self.name, location="file:///etc/passwd", head=1)
        run = self.fail_run([url], 1, "file:///etc/passwd")
        self.assertIn("only http and https", run.stderr)

    def test_ten_redirects_are_followed_eleven_are_not(self):
        mount = self.mount(self.http.url(self.name, redirect=10, head=1))
        self.read_all(mount)
        heads = [e for e in self.http.settled_requests() if e["method"] == "HEAD"]
        self.assertEqual(len(heads), 11, heads)
        gets = [e for e in self.http.settled_requests() if e["method"] == "GET"]
        self.assertTrue(gets)
        for e in gets:  # straight to the final URL
            self.assertEqual(e["options"], "-", e)
            self.assertEqual(e["status"], 206, e)

        self.http.clear_requests()
        run = self.fail_run([self.http.url(self.name, redirect=11, head=1)], 1)
        self.assertIn("more than 10 redirects", run.stderr)

    def test_redirect_answer_to_a_range_get_follows_the_probes_rules(self):
        # HEAD is not redirected (no head=1), so the probe stays on this URL; every GET is,
        # and the GET's redirect is checked as the probe's would be (test_get_redirects has
        # the redirects that are followed).
        mount = self.mount(self.http.url(self.name, location="file:///etc/passwd"))
        result = mount.call(_pread_or_error, mount.path(self.name), 4096, 0)
        self.assertIsInstance(result, OSError, "a 302 to file: returned data")
        self.assertEqual(result.errno, errno.EIO)
        self.assertIn("only http and https", mount.stderr())
        gets = [e for e in self.http.settled_requests() if e["method"] == "GET"]
        self.assertTrue(gets)
        self.assertTrue(all(e["status"] == 302 for e in gets), gets)  # nothing followed
        mount.cleanup()

        # From https down to http only with --allow-insecure-redirect.
        self.http.clear_requests()
        url = self.https.url(self.name, location=self.http.url(self.name))
        mount = self.mount(url, "--cacert", self.https.cert_path)
        result = mount.call(_pread_or_error, mount.path(self.name), 4096, 0)
        self.assertIsInstance(result, OSError, "a GET followed a redirect from https to http")
        self.assertEqual(result.errno, errno.EIO)
        self.assertIn("--allow-insecure-redirect", mount.stderr())
        self.assertEqual(self.http.settled_requests(), [], "a request went to the http URL")
        mount.cleanup()
        mount = self.mount(url, "--cacert", self.https.cert_path, "--allow-insecure-redirect")
        self.read_all(mount)
        self.assertEqual(self.methods(self.http.settled_requests()), ["GET"])

    # ------------------------------------------------------------------------ credentials
    def test_header_reaches_every_request_and_never_the_log(self):
        url = _options_url(self.http, self.name, require_header=f"Authorization:Bearer {SECRET}")
        mount = self.mount(url, "-d", "--header", f"Authorization: Bearer {SECRET}",
                           "--header", "X-Api-Key: key-" + SECRET)
        self.read_all(mount)
        entries = self.http.settled_requests()
        self.assertEqual(self.methods(entries), ["GET", "HEAD"])
        for e in entries:
            self.assertEqual(e["headers"].get("authorization"), f"Bearer {SECRET}", e)
            self.assertEqual(e["headers"].get("x-api-key"), f"key-{SECRET}", e)
            self.assertIn(e["status"], (200, 206), e)
        stderr = mount.stderr()
        self.assertIn("debug", stderr)  # -d logged the requests...
        self.assert_not_in_output(SECRET, stderr, "debug log")  # ...and not the header

    def test_missing_header_fails_the_mount(self):
        url = _options_url(self.http, self.name, require_header=f"Authorization:Bearer {SECRET}")
        run = self.fail_run([url], 1, "401")
        self.assert_not_in_output(SECRET, run.stderr, "error message")

    def test_userinfo_is_sent_as_basic_auth_and_never_shown(self):
        required = f"Authorization:{_basic('alice', PASSWORD)}"
        url = _with_userinfo(_options_url(self.http, self.name, require_header=required),
                             "alice", PASSWORD)
        mount = self.mount(url, "-d")
        self.read_all(mount)
        entries = self.http.settled_requests()
        self.assertEqual(self.methods(entries), ["GET", "HEAD"])
        for e in entries:
            self.assertEqual(e["headers"].get("authorization"), _basic("alice", PASSWORD), e)
        self.assert_not_in_output(PASSWORD, mount.stderr(), "debug log")

    def test_password_never_in_a_failing_mounts_message(self):
        url = _with_userinfo(self.http.url(self.name, status=404, head=1), "alice", PASSWORD)
        run = self.fail_run(["-d", url], 1, "404", "alice:***@")
        self.assert_not_in_output(PASSWORD, run.stderr, "error message")
        # Refused before any request: a URL libcurl cannot parse (a '/' in the password).
        broken = f"http://alice:{PASSWORD}/x@127.0.0.1:{self.http.port}/-/{self.name}"
        run = self.fail_run([broken], 2)
        self.assert_not_in_output(PASSWORD, run.stderr, "usage error")
        run = self.fail_run([f"n={broken}"], 2)
        self.assert_not_in_output(PASSWORD, run.stderr, "usage error")
        # A redirect's error names both URLs, redacted.
        url = _with_userinfo(self.http.url(self.name, location="file:///etc/passwd", head=1),
                             "alice", PASSWORD)
        run = self.fail_run([url], 1, "file:///etc/passwd")
        self.assert_not_in_output(PASSWORD, run.stderr, "redirect error")

    def test_netrc_file_credentials(self):
        netrc = os.path.join(self.data, "netrc")
        with open(netrc, "w") as f:
            f.write(f"machine 127.0.0.1 login nina password {NETRC_PASSWORD}\n")
        os.chmod(netrc, 0o600)
        url = _options_url(self.http, self.name,
                           require_header=f"Authorization:{_basic('nina', NETRC_PASSWORD)}")
        mount = self.mount(url, "-d", "--netrc-file", netrc)
        self.read_all(mount)
        for e in self.http.settled_requests():
            self.assertEqual(e["headers"].get("authorization"), _basic("nina", NETRC_PASSWORD))
        self.assert_not_in_output(NETRC_PASSWORD, mount.stderr(), "debug log")
        self.fail_run(["--netrc-file", os.path.join(self.data, "no-netrc"), url], 2)

    def test_credentials_stay_with_the_origin_after_a_redirect(self):
        netrc = os.path.join(self.data, "netrc-both")
        with open(netrc, "w") as f:  # netrc matches hosts, not ports: it names both servers
            f.write(f"machine 127.0.0.1 login nina password {NETRC_PASSWORD}\n")
        target = self.other.url(self.name)
        for trusted in (False, True):
            with self.subTest(location_trusted=trusted):
                self.http.clear_requests()
                self.other.clear_requests()
                # A same-origin hop first (it keeps the credentials), then the other server.
                hop = self.http.url(self.name, location=target, head=1)
                url = self.http.url(self.name, location=hop, head=1)
                args = ["--header", f"Authorization: Bearer {SECRET}",
                        "--header", f"X-Api-Key: {SECRET}"]
                if trusted:
                    args.append("--location-trusted")
                mount = self.mount(_with_userinfo(url, "alice", PASSWORD), *args)
                self.read_all(mount)
                mount.cleanup()
                origin = self.http.settled_requests()
                self.assertEqual(len(origin), 2, origin)  # the two HEADs
                for e in origin:  # the user's origin gets the header (it wins over userinfo)
                    self.assertEqual(e["headers"].get("x-api-key"), SECRET, e)
                    self.assertEqual(e["headers"].get("authorization"), f"Bearer {SECRET}", e)
                elsewhere = self.other.settled_requests()
                self.assertEqual(self.methods(elsewhere), ["GET", "HEAD"])
                for e in elsewhere:
                    if trusted:
                        self.assertEqual(e["headers"].get("x-api-key"), SECRET, e)
                        self.assertEqual(e["headers"].get("authorization"), f"Bearer {SECRET}",
                                         e)
                    else:
                        self.assertNotIn("x-api-key", e["headers"], e)
                        self.assertNotIn("authorization", e["headers"], e)

    def test_userinfo_and_netrc_stay_with_the_origin(self):
        netrc = os.path.join(self.data, "netrc-origin")
        with open(netrc, "w") as f:
            f.write(f"machine 127.0.0.1 login nina password {NETRC_PASSWORD}\n")
        target = self.other.url(self.name)
        for url in (_with_userinfo(self.http.url(self.name, location=target, head=1), "alice",
                                   PASSWORD),
                    self.http.url(self.name, location=target, head=1)):
            with self.subTest(url=url):
                self.http.clear_requests()
                self.other.clear_requests()
                mount = self.mount(url, "--netrc-file", netrc)
                self.read_all(mount)
                mount.cleanup()
                heads = self.http.settled_requests()
                self.assertTrue(heads)
                for e in heads:
                    self.assertTrue(e["headers"].get("authorization", "").startswith("Basic "),
                                    e)
                for e in self.other.settled_requests():
                    self.assertNotIn("authorization", e["headers"], e)

    def test_same_origin_redirects_keep_the_header(self):
        url = self.http.url(self.name, redirect=3, head=1)
        mount = self.mount(url, "--header", f"X-Api-Key: {SECRET}")
        self.read_all(mount)
        entries = self.http.settled_requests()
        self.assertEqual(len([e for e in entries if e["method"] == "HEAD"]), 4)
        for e in entries:
            self.assertEqual(e["headers"].get("x-api-key"), SECRET, e)

    def test_header_file(self):
        headers = os.path.join(self.data, "headers.txt")
        with open(headers, "w") as f:
            f.write("# token for the test server\n\n"
                    f"Authorization: Bearer {SECRET}\r\n"
                    "   \n"
                    "X-Second: two\n")
        url = _options_url(self.http, self.name, require_header=f"Authorization:Bearer {SECRET}")
        mount = self.mount(url, "-d", "--header-file", headers)
        self.read_all(mount)
        for e in self.http.settled_requests():
            self.assertEqual(e["headers"].get("authorization"), f"Bearer {SECRET}", e)
            self.assertEqual(e["headers"].get("x-second"), "two", e)
        self.assert_not_in_output(SECRET, mount.stderr(), "debug log")

    def test_malformed_headers_are_usage_errors_that_do_not_echo(self):
        url = self.http.url(self.name)
        bad = os.path.join(self.data, "bad-headers.txt")
        with open(bad, "w") as f:
            f.write(f"# comment\nX-Fine: 1\nBearer {SECRET}\nX-After: 2\n")
        run = self.fail_run(["--header-file", bad, url], 2, "line 3")
        self.assert_not_in_output(SECRET, run.stderr, "usage error")
        run = self.fail_run(["--header-file", os.path.join(self.data, "none.txt"), url], 2)
        run = self.fail_run(["--header", f"Bearer {SECRET}", url], 2)
        self.assert_not_in_output(SECRET, run.stderr, "usage error")
        run = self.fail_run(["--header", "Range: bytes=0-", url], 2, "Range")
        self.assertEqual(self.http.settled_requests(), [], "a usage error sent requests")

    # ---------------------------------------------------------------------------- proxies
    def test_proxy_option(self):
        with ForwardingProxy() as proxy:
            url = self.http.url(self.name)
            mount = self.mount(url, "-d", "--proxy", proxy.url("pat", PROXY_PASSWORD))
            self.read_all(mount)
            stderr = mount.stderr()
            mount.cleanup()
            seen = proxy.requests()
        self.assertEqual(self.methods(seen), ["GET", "HEAD"], seen)
        for e in seen:
            self.assertEqual(e["target"], url, e)
            self.assertEqual(e["headers"].get("proxy-authorization"),
                             _basic("pat", PROXY_PASSWORD), e)
        self.assertEqual(len(seen), len(self.http.settled_requests()))
        self.assertIn("pat:***@", stderr)
        self.assert_not_in_output(PROXY_PASSWORD, stderr, "debug log")

    def test_http_proxy_environment_variable(self):
        saved = {k: os.environ.get(k) for k in ("http_proxy", "no_proxy", "NO_PROXY",
                                                "all_proxy", "ALL_PROXY")}
        with ForwardingProxy() as proxy:
            try:
                for key in saved:
                    os.environ.pop(key, None)
                os.environ["http_proxy"] = proxy.url()
                url = self.http.url(self.name)
                mount = self.mount(url)  # the environment is read when the process starts
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
            self.read_all(mount)
            mount.cleanup()
            seen = proxy.requests()
        self.assertEqual(self.methods(seen), ["GET", "HEAD"], seen)
        self.assertTrue(all(e["target"] == url for e in seen), seen)

    # ------------------------------------------------------------------------------- help
    def test_help_lists_the_options_with_defaults(self):
        result = subprocess.run([self.binary, "--help"], capture_output=True, text=True,
                                timeout=10)
        self.assertEqual(result.returncode, 0)
        for option in ("--header", "--header-file", "--netrc-file", "--location-trusted",
                       "--allow-insecure-redirect", "--cacert", "--insecure", "--proxy"):
            self.assertIn(option, result.stdout)
        self.assertGreaterEqual(result.stdout.count("Default:"), 8)


def _pread_or_error(path, length, offset):
    try:
        return harness.pread_file(path, length, offset)
    except OSError as e:
        return e


if __name__ == "__main__":
    unittest.main()
