"""Proxy lists (--proxy in CernVM-FS's grammar: `A|B` a group sharing the load, `A;B` groups in
order of preference, DIRECT): a proxy that is down, stops mid-read, or says it failed itself is
left for the next route at once, with one warning; a proxy relaying the origin's own error is
not blamed; a group spreads files over its members, each file's requests keeping to one.

Servers: a real nginx origin (LoopbackNginx) and small forwarding proxies
(forwarding_proxy.py) that can be stopped or told to fail."""

import hashlib
import os
import re
import socket
import unittest

import harness
from forwarding_proxy import ForwardingProxy
from harness import KiB, MiB

FILE_SIZE = 8 * MiB + 123
SMALL_FILES = 20
FAIL_BOUND = 20.0  # a mount whose every route is down refuses within this


def dead_port() -> int:
    """A loopback port nothing listens on: connections to it are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ProxyListTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_environment()
        data = harness.TempDir("rangefs-proxies-")
        cls.addClassCleanup(data.cleanup)
        cls.data = data.path
        cls.digest = harness.write_random_file(os.path.join(cls.data, "big.bin"), FILE_SIZE)
        for i in range(SMALL_FILES):
            harness.write_random_file(os.path.join(cls.data, f"s{i}.bin"), 10 * KiB + i)
        cls.origin = harness.LoopbackNginx(cls.data).start()
        cls.addClassCleanup(cls.origin.cleanup)

    def proxy(self) -> ForwardingProxy:
        proxy = ForwardingProxy().__enter__()
        self.addCleanup(proxy.stop)
        return proxy

    def mount(self, operands, *args) -> harness.Mount:
        mount = harness.Mount(operands, list(args))
        self.addCleanup(mount.cleanup)
        mount.start()
        return mount

    def read_big(self, mount: harness.Mount) -> None:
        data = mount.call(harness.read_whole, mount.path("big.bin"))
        self.assertEqual(sha256(data), self.digest, "wrong bytes through the proxies")

    def warnings(self, mount: harness.Mount, proxy_url: str) -> list[str]:
        return [line for line in mount.stderr().splitlines()
                if f"proxy {proxy_url} failed" in line]

    def test_a_proxy_that_is_down_fails_over_to_the_next_group(self):
        down = f"http://127.0.0.1:{dead_port()}"
        mount = self.mount([self.origin.url("big.bin")], "--proxy", f"{down};DIRECT")
        self.read_big(mount)
        warnings = self.warnings(mount, down)
        self.assertEqual(len(warnings), 1, mount.stderr())
        self.assertIn("requests go through DIRECT", warnings[0])

    def test_a_proxy_that_stops_mid_read_is_left_for_the_next(self):
        first, second = self.proxy(), self.proxy()
        # A small readahead: what follows the first read is still to fetch when `first` stops.
        mount = self.mount([self.origin.url("big.bin")], "--proxy",
                           f"{first.url()};{second.url()}", "--block-size", "256K",
                           "--readahead-max", "1M")
        with open(mount.path("big.bin"), "rb") as f:
            head = mount.call(f.read, MiB)
            self.assertEqual(len(head), MiB)
            self.assertGreater(len(first.requests()), 0, "the first group was not used")
            self.assertEqual(second.requests(), [])
            first.stop()
            rest = mount.call(f.read)
        self.assertEqual(sha256(head + rest), self.digest)
        self.assertGreater(len(second.requests()), 0, "nothing went through the second proxy")
        self.assertEqual(len(self.warnings(mount, first.url())), 1, mount.stderr())

    def test_a_proxy_that_reports_its_own_failure_is_left(self):
        broken, relaying = self.proxy(), self.proxy()
        broken.fail_with(502, {"Proxy-Status": "broken; error=proxy_internal_error"})
        mount = self.mount([self.origin.url("big.bin")], "--proxy",
                           f"{broken.url()};{relaying.url()}")
        self.read_big(mount)
        warnings = self.warnings(mount, broken.url())
        self.assertEqual(len(warnings), 1, mount.stderr())
        self.assertIn("Proxy-Status proxy_internal_error", warnings[0])
        self.assertGreater(len(relaying.requests()), 0)

    def test_a_proxy_relaying_the_origins_failure_is_not_blamed(self):
        # The proxy says the origin refused: failing over would not help, and the proxy is fine.
        relaying = self.proxy()
        relaying.fail_with(502, {"Proxy-Status": "relay; error=connection_refused",
                                 "X-Squid-Error": "ERR_CONNECT_FAIL 111"})
        run = harness.run_expect_failure(
            ["--proxy", f"{relaying.url()};DIRECT", self.origin.url("big.bin")],
            timeout=FAIL_BOUND)
        self.assertFalse(run.mounted)
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("502", run.stderr)
        self.assertNotIn("failed (", run.stderr, "the proxy was blamed for the origin")

    def test_a_group_spreads_files_and_keeps_each_file_on_one_member(self):
        a, b = self.proxy(), self.proxy()
        mount = self.mount([self.origin.url(f"s{i}.bin") for i in range(SMALL_FILES)],
                           "--proxy", f"{a.url()}|{b.url()}")
        for i in range(SMALL_FILES):
            data = mount.call(harness.read_whole, mount.path(f"s{i}.bin"))
            self.assertEqual(len(data), 10 * KiB + i)
        files_of = {}
        for proxy in (a, b):
            for entry in proxy.requests():
                name = entry["target"].rsplit("/", 1)[-1]
                if name.startswith("s"):
                    files_of.setdefault(name, set()).add(proxy.port)
        self.assertEqual(len(files_of), SMALL_FILES, files_of)
        split = [name for name, ports in files_of.items() if len(ports) > 1]
        self.assertEqual(split, [], "a file's requests went through both members")
        used = {port for ports in files_of.values() for port in ports}
        # 20 files over 2 members by hash: all on one member has probability 2^-19.
        self.assertEqual(used, {a.port, b.port}, files_of)

    def test_every_route_down_refuses_the_mount_in_bounded_time(self):
        down = [f"http://127.0.0.1:{dead_port()}" for _ in range(2)]
        run = harness.run_expect_failure(["--proxy", f"{down[0]}|{down[1]}",
                                          self.origin.url("big.bin")], timeout=FAIL_BOUND)
        self.assertFalse(run.timed_out, run.stderr)
        self.assertFalse(run.mounted)
        self.assertNotEqual(run.returncode, 0)
        self.assertRegex(run.stderr, r"(?i)connect", run.stderr)

    def test_a_malformed_list_is_a_usage_error(self):
        run = harness.run_expect_failure(["--proxy", "http://127.0.0.1:1||DIRECT",
                                          self.origin.url("big.bin")], timeout=FAIL_BOUND)
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertIn("empty proxy", run.stderr)
        self.assertFalse(re.search(r"Start|mounted", run.stdout))


if __name__ == "__main__":
    unittest.main()
