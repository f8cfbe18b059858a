"""Correctness of rangefs_linkem, the benchmark link emulator (scripts/bench/linkem).

The real binary (from RANGEFS_LINKEM) in front of a real nginx on 127.0.0.1, plus a tiny echo
server for half-close. Only behaviour is checked: bytes through the proxy are the file's bytes
(with delay, window, per-connection and total caps on), EOF travels both ways, connections do
not leak descriptors, and the proxy exits on SIGTERM/SIGINT. Speed is the benchmarks' business,
except for --window: a window the proxy ignored would still carry every byte, so its tests
check a single stream's throughput against the model's bound, in a band loose enough for a
busy machine and tight enough that an ignored window cannot pass.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from typing import Callable, Optional, Sequence

_HERE = os.path.dirname(os.path.abspath(__file__))
_SCRIPTS_LIB = os.path.normpath(os.path.join(_HERE, "..", "..", "scripts", "lib"))
if _SCRIPTS_LIB not in sys.path:
    sys.path.insert(0, _SCRIPTS_LIB)

from loopback_nginx import LoopbackNginx  # noqa: E402  (path set up above)
import procfs  # noqa: E402

MiB = 1024 * 1024
FILE_SIZE = 4 * MiB + 12345  # not a multiple of any buffer size
# Every wait below is bounded by this; none is expected to come close.
TIMEOUT = 15.0
# The options the data tests run with: a little delay, a window and both caps, so that every
# code path of the relay (timed queue, window, connection bucket, shared bucket) carries the
# bytes. The window (256 KiB per 10 ms round trip, ~26 MB/s) is about the connection cap.
LINK_ARGS = ["--delay-ms", "5", "--window", "256Ki", "--conn-rate", "20M", "--total-rate", "40M"]
# The window tests: 1 MiB per 40 ms round trip is 26.2 MB/s, so 32 MiB take about 1.3 s.
WINDOW = 1 * MiB
WINDOW_DELAY_MS = 20
WINDOW_FILE_SIZE = 32 * MiB
# A measured rate must be within these factors of the model's. Above: the window cannot be
# exceeded, and the first window arriving with the headers adds only 1/32. Below: timers that
# fire late on a loaded machine stretch every round trip a little, never by half.
RATE_BAND = (0.5, 1.2)


def linkem_binary() -> str:
    """RANGEFS_LINKEM, checked. Missing is an error, not a skip."""
    path = os.environ.get("RANGEFS_LINKEM")
    if not path:
        raise RuntimeError("RANGEFS_LINKEM is not set; point it at the rangefs_linkem binary "
                           "(ctest sets it)")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise RuntimeError(f"RANGEFS_LINKEM={path!r} is not an executable file")
    return os.path.abspath(path)


def wait_until(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    return procfs.wait_until(predicate, timeout)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Linkem:
    """One rangefs_linkem process on a free port. Context manager; always killed on exit."""

    def __init__(self, target_port: int, args: Sequence[str] = ()):
        self._tmp = tempfile.mkdtemp(prefix="linkem-it-")
        self.port_file = os.path.join(self._tmp, "port")
        self.command = [linkem_binary(), "--listen", "127.0.0.1:0",
                        "--target", f"127.0.0.1:{target_port}",
                        "--port-file", self.port_file, *args]
        self._stderr = open(os.path.join(self._tmp, "stderr"), "w+b")
        self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=self._stderr)
        self.port = 0

    def __enter__(self) -> "Linkem":
        try:
            if not wait_until(lambda: os.path.exists(self.port_file)
                              or self.process.poll() is not None):
                raise AssertionError("rangefs_linkem wrote no port file")
            if self.process.poll() is not None:
                raise AssertionError(f"rangefs_linkem exited with {self.process.returncode}: "
                                     f"{self.stderr()}")
            with open(self.port_file) as f:
                self.port = int(f.read())
            # It also prints the port, right after writing the file.
            ready, _, _ = select.select([self.process.stdout], [], [], TIMEOUT)
            if not ready:
                raise AssertionError("rangefs_linkem printed no port")
            printed = self.process.stdout.readline().decode().strip()
            if printed != str(self.port):
                raise AssertionError(f"printed {printed!r}, port file says {self.port}")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=TIMEOUT)
        self.process.stdout.close()
        self._stderr.close()
        for name in os.listdir(self._tmp):
            os.unlink(os.path.join(self._tmp, name))
        os.rmdir(self._tmp)


class EchoServer:
    """Accepts connections on 127.0.0.1; for each, reads until EOF, then sends back what it
    read and closes. Shows whether a half-close crosses the proxy: without it the reply
    never comes."""

    def __init__(self):
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(TIMEOUT)
        self.port = self._listener.getsockname()[1]
        self._accept_thread = threading.Thread(target=self._serve_one, daemon=True)
        self._accept_thread.start()

    def _serve_one(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(TIMEOUT)
            data = bytearray()
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            conn.sendall(data)

    def close(self) -> None:
        self._listener.close()
        self._accept_thread.join(timeout=TIMEOUT)


def timed_get(port: int, path: str, headers: Optional[dict] = None) -> tuple[bytes, float]:
    """The body of a GET and its rate in bytes/s, timed from the response headers to the last
    byte: the transfer alone, without the handshake and request round trips before it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        started = time.monotonic()
        body = response.read()
        return body, len(body) / (time.monotonic() - started)
    finally:
        conn.close()


def http_get(port: int, path: str, headers: Optional[dict] = None,
             conn: Optional[http.client.HTTPConnection] = None) -> tuple[int, bytes]:
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        if own:
            conn.close()


class LinkemTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        linkem_binary()  # fail early and clearly
        cls._root = tempfile.TemporaryDirectory(prefix="linkem-root-")
        cls.data = os.urandom(FILE_SIZE)
        with open(os.path.join(cls._root.name, "file.bin"), "wb") as f:
            f.write(cls.data)
        with open(os.path.join(cls._root.name, "small.txt"), "wb") as f:
            f.write(b"hello through the link\n")
        cls.big_data = os.urandom(WINDOW_FILE_SIZE)
        with open(os.path.join(cls._root.name, "big.bin"), "wb") as f:
            f.write(cls.big_data)
        cls.nginx = LoopbackNginx(cls._root.name).start()

    @classmethod
    def tearDownClass(cls):
        cls.nginx.cleanup()
        cls._root.cleanup()

    def assertSameBytes(self, got: bytes, want: bytes) -> None:
        # Digests, not a multi-MiB diff, when they differ.
        self.assertEqual(len(got), len(want))
        self.assertEqual(hashlib.sha256(got).hexdigest(), hashlib.sha256(want).hexdigest())

    # ------------------------------------------------------------------------------- bytes
    def test_full_file_and_ranges_are_the_files_bytes(self):
        with Linkem(self.nginx.port, LINK_ARGS) as link:
            status, body = http_get(link.port, "/file.bin")
            self.assertEqual(status, 200)
            self.assertSameBytes(body, self.data)

            first, last = 1000, 3 * MiB + 17  # inclusive
            status, body = http_get(link.port, "/file.bin",
                                    {"Range": f"bytes={first}-{last}"})
            self.assertEqual(status, 206)
            self.assertSameBytes(body, self.data[first:last + 1])

    def test_requests_on_one_kept_alive_connection(self):
        with Linkem(self.nginx.port, LINK_ARGS) as link:
            conn = http.client.HTTPConnection("127.0.0.1", link.port, timeout=TIMEOUT)
            try:
                for first in (0, 123457, FILE_SIZE - 1000):
                    status, body = http_get(link.port, "/file.bin",
                                            {"Range": f"bytes={first}-{first + 99999}"}, conn)
                    self.assertEqual(status, 206)
                    self.assertSameBytes(body, self.data[first:first + 100000])
            finally:
                conn.close()
            # All three went over the one connection nginx saw.
            entries = self.nginx.wait_for_access_log(lambda e: len(e) >= 3, timeout=TIMEOUT)
            self.assertEqual(len({e["connection"] for e in entries[-3:]}), 1)

    def test_parallel_connections_share_the_total_cap_intact(self):
        with Linkem(self.nginx.port, LINK_ARGS) as link:
            quarter = FILE_SIZE // 4
            results: dict[int, tuple[int, bytes]] = {}

            def fetch(i: int) -> None:
                first = i * quarter
                last = FILE_SIZE - 1 if i == 3 else first + quarter - 1
                results[i] = http_get(link.port, "/file.bin", {"Range": f"bytes={first}-{last}"})

            threads = [threading.Thread(target=fetch, args=(i,)) for i in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=TIMEOUT)
            self.assertEqual(sorted(results), [0, 1, 2, 3])
            self.assertTrue(all(status == 206 for status, _ in results.values()))
            self.assertSameBytes(b"".join(results[i][1] for i in range(4)), self.data)

    def test_half_close_crosses_both_ways(self):
        echo = EchoServer()
        try:
            with Linkem(echo.port, LINK_ARGS) as link:
                payload = os.urandom(300000)
                with socket.create_connection(("127.0.0.1", link.port), timeout=TIMEOUT) as s:
                    s.sendall(payload)
                    # The echo server replies only after it sees EOF, so the reply proves the
                    # proxy passed the client's FIN on (after the data), and the EOF that ends
                    # the loop below proves it passed the server's FIN back.
                    s.shutdown(socket.SHUT_WR)
                    received = bytearray()
                    while True:
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        received += chunk
                self.assertSameBytes(bytes(received), payload)
        finally:
            echo.close()

    # ------------------------------------------------------------------------------ window
    def assertRateNear(self, rate: float, model: float, what: str) -> None:
        low, high = RATE_BAND
        self.assertTrue(low * model <= rate <= high * model,
                        f"{what}: {rate / 1e6:.1f} MB/s, model {model / 1e6:.1f} MB/s "
                        f"(band {low}x-{high}x)")

    def test_window_bounds_a_single_stream(self):
        model = WINDOW / (2 * WINDOW_DELAY_MS / 1000)
        args = ["--delay-ms", str(WINDOW_DELAY_MS), "--window", str(WINDOW)]
        with Linkem(self.nginx.port, args) as link:
            body, windowed = timed_get(link.port, "/big.bin")
            self.assertSameBytes(body, self.big_data)
            self.assertRateNear(windowed, model, "--window 1Mi, 20 ms")
        # The same link without a window: only the queue limit (50 MB at 20 ms uncapped)
        # bounds the stream, so the machine's speed does.
        with Linkem(self.nginx.port, args[:2]) as link:
            body, unwindowed = timed_get(link.port, "/big.bin")
            self.assertSameBytes(body, self.big_data)
        self.assertGreater(unwindowed, 3 * model,
                           f"no window: {unwindowed / 1e6:.1f} MB/s, windowed "
                           f"{windowed / 1e6:.1f} MB/s")

    def test_window_and_connection_cap_the_smaller_wins(self):
        window_rate = WINDOW / (2 * WINDOW_DELAY_MS / 1000)
        base = ["--delay-ms", str(WINDOW_DELAY_MS), "--window", str(WINDOW)]
        # A cap well above the window's rate changes nothing; one well below it is the limit.
        for caps, model, length in (
                (["--conn-rate", "100M", "--total-rate", "200M"], window_rate, WINDOW_FILE_SIZE),
                (["--conn-rate", "10M"], 10e6, 12 * MiB)):
            with self.subTest(caps=caps), Linkem(self.nginx.port, base + caps) as link:
                body, rate = timed_get(link.port, "/big.bin", {"Range": f"bytes=0-{length - 1}"})
                self.assertSameBytes(body, self.big_data[:length])
                self.assertRateNear(rate, model, " ".join(base + caps))

    # ------------------------------------------------------------------------- connections
    def test_many_sequential_connections_do_not_leak(self):
        with Linkem(self.nginx.port, ["--conn-rate", "20M", "--total-rate", "40M"]) as link:
            # A first connection allocates whatever stays for the process's lifetime.
            self.assertEqual(http_get(link.port, "/small.txt")[1], b"hello through the link\n")
            baseline = open_fds(link.process.pid)
            for i in range(200):
                status, body = http_get(link.port, "/small.txt")
                self.assertEqual((status, body), (200, b"hello through the link\n"), i)
            # The proxy closes its two sockets once EOF has gone both ways, just after the
            # client saw the response: poll (bounded) for the count to come back.
            settled = wait_until(lambda: open_fds(link.process.pid) <= baseline)
            self.assertTrue(settled, f"{open_fds(link.process.pid)} fds open, {baseline} "
                                     f"before 200 connections")
            self.assertIsNone(link.process.poll())

    def test_unreachable_target_closes_the_client(self):
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            dead_port = unused.getsockname()[1]  # bound, never listening: refuses
            with Linkem(dead_port) as link:
                with socket.create_connection(("127.0.0.1", link.port), timeout=TIMEOUT) as s:
                    try:
                        self.assertEqual(s.recv(1), b"")
                    except ConnectionResetError:
                        pass  # a reset is the expected way to say it
                self.assertIsNone(link.process.poll())

    # ----------------------------------------------------------------------------- lifetime
    def test_sigterm_exits_cleanly_with_open_connections(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(signal=sig.name), Linkem(self.nginx.port, LINK_ARGS) as link:
                idle = socket.create_connection(("127.0.0.1", link.port), timeout=TIMEOUT)
                try:
                    self.assertEqual(http_get(link.port, "/small.txt")[0], 200)
                    link.process.send_signal(sig)
                    self.assertEqual(link.process.wait(timeout=TIMEOUT), 0, link.stderr())
                    self.assertFalse(os.path.exists(link.port_file))
                    self.assertEqual(link.stderr(), "")  # nothing per connection by default
                finally:
                    idle.close()

    def test_bad_arguments_are_rejected(self):
        binary = linkem_binary()
        for args in (["--listen", "127.0.0.1:0"],  # no --target
                     ["--listen", "0.0.0.0:0", "--target", "127.0.0.1:1"],  # not loopback
                     ["--listen", "127.0.0.1:0", "--target", "10.1.2.3:80"],
                     ["--listen", "127.0.0.1:0", "--target", "127.0.0.1:1", "--conn-rate", "5X"],
                     ["--listen", "127.0.0.1:0", "--target", "127.0.0.1:1", "--window", "-1"],
                     ["--listen", "127.0.0.1:0", "--target", "127.0.0.1:1", "--delay-ms", "-1"]):
            with self.subTest(args=args):
                result = subprocess.run([binary, *args], capture_output=True, timeout=TIMEOUT)
                self.assertEqual(result.returncode, 2, result.stderr)


if __name__ == "__main__":
    unittest.main()
