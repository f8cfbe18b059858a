#!/usr/bin/env python3
"""Captures the listing pages in this folder from real servers (run by hand, not by tests).

Builds a small tree in a temporary directory, serves it with each server on a free 127.0.0.1
port with a config written next to it, saves the root's listing page as <server-mode>.<ext>,
and stops each server by its PID. Usage: capture.py [OUTPUT_DIR] (default: this folder).
"""
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile

OUT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent)
BASE_TIME = 1444812053  # Wed, 14 Oct 2015 08:40:53 GMT


def build_tree(root):
    """Three levels; names with spaces, UTF-8, '%' and '#'; a zip; sizes above and below 1 KiB."""
    files = {
        "hello.txt": b"hello\n",
        "with space.txt": b"x" * 1500,
        "\u00e9.txt": b"e\n" * 10,
        "100%.txt": b"percent\n",
        "a#b.txt": b"hash\n",
        "sub dir/inner.txt": b"inner\n",
        "sub dir/deeper/leaf.txt": b"leaf\n",
        "big.bin": b"\0" * (3 * 1024 * 1024 + 5),
    }
    for offset, (name, data) in enumerate(sorted(files.items())):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (BASE_TIME + offset * 3600, BASE_TIME + offset * 3600))
    with zipfile.ZipFile(root / "archive.zip", "w") as archive:
        archive.writestr(zipfile.ZipInfo("inside.txt", (2015, 10, 14, 8, 40, 52)), "zipped\n")
    os.utime(root / "archive.zip", (BASE_TIME - 86400, BASE_TIME - 86400))
    for directory in ("sub dir/deeper", "sub dir"):
        os.utime(root / directory, (BASE_TIME + 86400, BASE_TIME + 86400))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url, accept=None):
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.read(), response.headers.get("Content-Type", "")
        except (ConnectionError, urllib.error.URLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def serve(argv, url, saves, cwd=None):
    """Starts argv, saves each (file name, Accept) of `url`, stops it by PID."""
    process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for name, accept in saves:
            body, content_type = fetch(url, accept)
            (OUT / name).write_bytes(body)
            print(f"{name}: {len(body)} bytes, Content-Type: {content_type}, from {url}")
    finally:
        process.terminate()
        process.wait(timeout=10)


NGINX = """daemon off; pid {tmp}/nginx-{fmt}.pid; error_log {tmp}/nginx-error.log;
events {{}}
http {{ access_log off; client_body_temp_path {tmp}; proxy_temp_path {tmp};
  fastcgi_temp_path {tmp}; uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  server {{ listen 127.0.0.1:{port}; root {root}; autoindex on; autoindex_format {fmt}; }} }}
"""
APACHE = """ServerRoot /usr/lib/apache2
LoadModule mpm_event_module modules/mod_mpm_event.so
LoadModule authz_core_module modules/mod_authz_core.so
LoadModule dir_module modules/mod_dir.so
LoadModule autoindex_module modules/mod_autoindex.so
LoadModule mime_module modules/mod_mime.so
Listen 127.0.0.1:{port}
PidFile {tmp}/apache-{mode}.pid
ErrorLog {tmp}/apache-error.log
TypesConfig /etc/mime.types
ServerName 127.0.0.1
DocumentRoot {root}
<Directory {root}>
  Options +Indexes
  Require all granted
  {index_options}
</Directory>
"""
LIGHTTPD = """server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {port}
server.modules = ("mod_dirlisting")
dir-listing.activate = "enable"
dir-listing.encoding = "utf-8"
"""
CADDY = """{{
  admin off
  auto_https off
}}
http://127.0.0.1:{port} {{
  root * {root}
  file_server browse
}}
"""


def main():
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = pathlib.Path(tmp_name)
        root = tmp / "tree"
        root.mkdir()
        build_tree(root)
        for fmt, ext in (("html", "html"), ("json", "json"), ("xml", "xml")):
            port = free_port()
            conf = tmp / f"nginx-{fmt}.conf"
            conf.write_text(NGINX.format(tmp=tmp, fmt=fmt, port=port, root=root))
            serve(["nginx", "-p", str(tmp), "-c", str(conf)], f"http://127.0.0.1:{port}/",
                  [(f"nginx-{fmt}.{ext}", None)])
        for mode, options in (("plain", "IndexOptions -FancyIndexing"),
                              ("fancy", "IndexOptions FancyIndexing"),
                              ("table", "IndexOptions FancyIndexing HTMLTable")):
            port = free_port()
            conf = tmp / f"apache-{mode}.conf"
            conf.write_text(APACHE.format(tmp=tmp, mode=mode, port=port, root=root,
                                          index_options=options))
            serve(["/usr/sbin/apache2", "-f", str(conf), "-X"], f"http://127.0.0.1:{port}/",
                  [(f"apache-{mode}.html", None)])
        port = free_port()
        conf = tmp / "lighttpd.conf"
        conf.write_text(LIGHTTPD.format(root=root, port=port))
        serve(["lighttpd", "-D", "-f", str(conf)], f"http://127.0.0.1:{port}/",
              [("lighttpd.html", None)])
        port = free_port()
        conf = tmp / "Caddyfile"
        conf.write_text(CADDY.format(root=root, port=port))
        env_home = tmp / "caddy-home"
        env_home.mkdir()
        os.environ["XDG_DATA_HOME"] = str(env_home)
        os.environ["XDG_CONFIG_HOME"] = str(env_home)
        serve(["caddy", "run", "--config", str(conf), "--adapter", "caddyfile"],
              f"http://127.0.0.1:{port}/",
              [("caddy.html", "text/html"), ("caddy.json", "application/json")])
        port = free_port()
        serve([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
              f"http://127.0.0.1:{port}/", [("python.html", None)], cwd=root)


if __name__ == "__main__":
    main()
