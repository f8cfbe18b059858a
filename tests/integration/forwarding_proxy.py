"""A small HTTP forward proxy for the integration tests: absolute-form GET and HEAD requests,
each logged (method, target, headers with lower-case names) and forwarded with http.client.
It can be told to fail the way real proxies do (answer every request with a status and
headers of its own, as Squid's error pages and RFC 9209's Proxy-Status do) and be stopped
mid-test. Context manager; stop() closes its listening socket, so later connections are
refused."""

import http.client
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that went away, or stop() closing connections mid-answer: expected here.
        pass


class ForwardingProxy:
    def __init__(self):
        self.entries = []
        self.lock = threading.Lock()
        # (status, headers): every request is answered with this instead of being forwarded.
        self.failure: Optional[tuple[int, dict]] = None
        self._stopped = False
        self._connections = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def setup(self):
                super().setup()
                with proxy.lock:
                    proxy._connections.append(self.connection)

            def do_GET(self):  # noqa: N802
                self.forward()

            def do_HEAD(self):  # noqa: N802
                self.forward()

            def forward(self):
                headers = {k.lower(): v for k, v in self.headers.items()}
                with proxy.lock:
                    proxy.entries.append({"method": self.command, "target": self.path,
                                          "headers": headers})
                    failure = proxy.failure
                if failure is not None:
                    status, extra = failure
                    self.send_response(status)
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                target = urllib.parse.urlsplit(self.path)
                if target.scheme != "http" or not target.hostname:
                    self.send_error(400, "absolute-form http URL expected")
                    return
                forwarded = {k: v for k, v in self.headers.items()
                             if k.lower() not in ("proxy-connection", "proxy-authorization",
                                                  "connection", "keep-alive")}
                path = target.path + (f"?{target.query}" if target.query else "")
                upstream = http.client.HTTPConnection(target.hostname, target.port or 80,
                                                      timeout=30)
                try:
                    upstream.request(self.command, path, headers=forwarded)
                    response = upstream.getresponse()
                    body = response.read()
                    self.send_response(response.status, response.reason)
                    for name, value in response.getheaders():
                        if name.lower() not in ("connection", "keep-alive",
                                                "transfer-encoding", "content-length"):
                            self.send_header(name, value)
                    length = response.getheader("Content-Length")
                    if self.command == "HEAD" and length is not None:
                        self.send_header("Content-Length", length)
                    else:
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(body)
                finally:
                    upstream.close()

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, user: str = "", password: str = "") -> str:
        userinfo = f"{user}:{password}@" if user else ""
        return f"http://{userinfo}127.0.0.1:{self.port}"

    def requests(self):
        with self.lock:
            return list(self.entries)

    def fail_with(self, status: int, headers: dict) -> None:
        with self.lock:
            self.failure = (status, headers)

    def stop(self) -> None:
        """Stops serving: the listening socket is closed (new connections are refused) and so
        are the open ones, kept alive or mid-request, as when a proxy process dies."""
        if self._stopped:
            return
        self._stopped = True
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(10)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()
