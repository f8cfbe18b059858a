"""Remote directories end to end: real servers' listings mounted as a tree and read with real
tools (find, ls, unzip, tar, sha256sum); operands mixing files and directories; S3
ListObjectsV2 with continuation pages.

URL files, refresh after --dir-ttl and FUSE forget are in test_directory_namespace.py; bad
listings (limits, endless pages, loops, XML bombs, odd names) in test_directory_faults.py.
Both share the helpers below.
"""

from __future__ import annotations

import collections
import math
import os
import stat
import sys
import tarfile
import time
import unittest
import urllib.parse

import harness
from harness import MiB
import range_test_server  # scripts/lib, on the path through harness
import web_servers  # scripts/lib, on the path through harness

# ls and find print names as they are (bytes), never quoted or escaped.
TOOL_ENV = dict(os.environ, LC_ALL="C.UTF-8", QUOTING_STYLE="literal")
TREE_MTIME = 1_600_000_000


def note(text: str) -> None:
    print(f"\n  {text}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------- helpers
def local_tree(root: str) -> tuple[dict[str, int], set[str]]:
    """({relative file path: size}, {relative directory path}) of a local tree."""
    files, dirs = {}, set()
    for directory, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(directory, root)
        for name in dirnames:
            dirs.add(os.path.normpath(os.path.join(rel, name)))
        for name in filenames:
            files[os.path.normpath(os.path.join(rel, name))] = os.path.getsize(
                os.path.join(directory, name))
    return files, dirs


def run_ok(tc: unittest.TestCase, mount: harness.Mount, cmd: list[str], *, cwd: str = "",
           timeout: float = 60.0) -> str:
    """Runs a tool in the mount (cwd relative to it), asserts exit status 0, returns stdout
    (bytes decoded with surrogateescape, so names that are not UTF-8 survive)."""
    result = mount.run(cmd, cwd=mount.path(cwd), timeout=timeout, env=TOOL_ENV)
    tc.assertEqual(result.returncode, 0,
                   f"{cmd} failed: {result.stderr.decode(errors='replace')}\nrangefs log tail:\n"
                   f"{mount.stderr()[-3000:]}")
    return result.stdout.decode("utf-8", "surrogateescape")


def find_paths(tc, mount, kind: str, cwd: str = "") -> list[str]:
    """`find . -type KIND` in the mount, as sorted relative paths."""
    out = run_ok(tc, mount, ["find", ".", "-mindepth", "1", "-type", kind], cwd=cwd)
    return sorted(line[2:] for line in out.split("\n") if line)


def ls_lr(tc, mount, cwd: str = "") -> tuple[dict[str, int], set[str]]:
    """`ls -lRn` of the mount parsed: ({file: size}, {directory})."""
    out = run_ok(tc, mount, ["ls", "-lRn", "--time-style=+%s", "."], cwd=cwd)
    files, dirs = {}, set()
    current = None
    for line in out.split("\n"):
        if not line or line.startswith("total "):
            continue
        if line.startswith(".") and line.endswith(":"):
            current = line[:-1]
            continue
        fields = line.split(None, 6)
        tc.assertEqual(len(fields), 7, f"unexpected ls line {line!r}")
        tc.assertIsNotNone(current, out)
        path = os.path.normpath(os.path.join(current, fields[6]))
        if fields[0].startswith("d"):
            dirs.add(path)
        else:
            tc.assertTrue(fields[0].startswith("-"), line)
            files[path] = int(fields[4])
    return files, dirs


def sha256_in_mount(tc, mount, paths, cwd: str = "") -> dict[str, str]:
    """sha256sum of the paths (relative to cwd in the mount), one run of the real tool."""
    out = run_ok(tc, mount, ["sha256sum", "--", *paths], cwd=cwd, timeout=120)
    digests = {}
    for line in out.split("\n"):
        if line:
            digest, _, name = line.partition("  ")
            digests[name] = digest
    return digests


def unmount_cleanly(tc: unittest.TestCase, mount: harness.Mount) -> None:
    """fusermount3 -u works and the daemon then exits 0 (a crash or a hang fails here)."""
    tc.assertTrue(mount.alive(), f"rangefs died (status {mount.process.returncode}):\n"
                                 f"{mount.stderr()[-3000:]}")
    result = mount.fusermount_unmount()
    tc.assertEqual(result.returncode, 0, f"fusermount3 -u failed: {result.stderr}")
    code = mount.wait_exit(20)
    tc.assertEqual(code, 0, f"rangefs exit status {code} after unmount:\n"
                            f"{mount.stderr()[-3000:]}")


def make_tree(root: str) -> None:
    """The tree every real server serves: 3 levels, a zip, a tar, a fake video, names with
    spaces, UTF-8, '+', '&', a long one (Apache's fancy index cuts the text at 23 columns),
    an empty file and an empty directory."""
    def write(rel: str, data: bytes) -> None:
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    write("top.txt", b"top level file\n" * 300)
    write("with space.txt", os.urandom(12_345))
    write("é.txt", "é, è, ü, 日本\n".encode() * 500)
    write("a rather long file name for a fancy index.bin", os.urandom(5_000))
    write("plus+and & amp.txt", b"plus and ampersand\n" * 10)
    harness.make_zip(os.path.join(root, "archive.zip"))
    write("level1/video.mp4", b"\x00\x00\x00\x20ftypisom" + os.urandom(3 * MiB + 7))
    write("level1/notes.md", b"# notes\n" * 1000)
    write("level1/sub dir ü/deep.bin", os.urandom(100_003))
    write("level1/sub dir ü/level3/leaf.txt", b"leaf\n")
    write("level1/sub dir ü/level3/empty.bin", b"")
    write("日本語/データ.txt", "データ\n".encode() * 100)
    os.makedirs(os.path.join(root, "emptydir"))
    with tarfile.open(os.path.join(root, "bundle.tar"), "w") as tar:
        for rel in ("top.txt", "level1/notes.md", "level1/sub dir ü/level3/leaf.txt"):
            tar.add(os.path.join(root, rel), arcname=rel)
    # Files older than a second: Apache gives a file modified within the last second a weak
    # ETag (W/"x") and the same file a second later a strong one ("x"), which rangefs rightly
    # takes for another version (the open file then fails with EIO).
    for directory, _, filenames in os.walk(root):
        for name in filenames:
            os.utime(os.path.join(directory, name), (TREE_MTIME, TREE_MTIME))


# ------------------------------------------------------------------------- real servers
class RealServersTest(unittest.TestCase):
    """Every real server and listing mode serving the same tree, mounted as the root."""

    # Listings that state exact sizes: `ls -lR` must make no HEAD at all.
    EXACT_SIZES = {("nginx", "html"), ("nginx", "json"), ("nginx", "xml"), ("caddy", "browse")}

    @classmethod
    def setUpClass(cls):
        harness.require_environment("find", "ls", "unzip", "tar", "sha256sum")
        missing = [kind for kind in {k for k, _ in web_servers.SERVERS}
                   if not web_servers.server_available(kind)]
        if missing:
            raise RuntimeError(f"servers not installed: {missing} (scripts/setup.sh)")
        tree = harness.TempDir("rangefs-dirs-tree-")
        cls.addClassCleanup(tree.cleanup)
        # Servers running as another user (none here, but lighttpd/apache may drop) can read.
        os.chmod(tree.path, 0o755)
        cls.root = tree.path
        make_tree(cls.root)
        cls.files, cls.dirs = local_tree(cls.root)
        cls.sha = {rel: harness.sha256_file(os.path.join(cls.root, rel)) for rel in cls.files}
        with tarfile.open(os.path.join(cls.root, "bundle.tar")) as tar:
            cls.tar_members = sorted(tar.getnames())

    def check_server(self, kind: str, mode: str) -> None:
        started = time.monotonic()
        server = web_servers.start_server(kind, mode, self.root)
        self.addCleanup(server.cleanup)
        with harness.Mount([server.url]) as mount:
            # The walk: find lists every directory; ls -lR stats every entry.
            self.assertEqual(find_paths(self, mount, "f"), sorted(self.files))
            self.assertEqual(find_paths(self, mount, "d"), sorted(self.dirs))
            ls_files, ls_dirs = ls_lr(self, mount)
            self.assertEqual(ls_files, self.files, "ls -lR sizes differ from the tree's")
            self.assertEqual(ls_dirs, self.dirs)
            self.check_walk_requests(kind, mode, server.quiet_access_log_entries())

            listing = run_ok(self, mount, ["unzip", "-l", "archive.zip"])
            for member in ("stored.bin", "deflated.txt", "dir/sub/small.txt", "empty.txt"):
                self.assertIn(member, listing)
            tar_names = sorted(run_ok(self, mount, ["tar", "-tf", "bundle.tar"]).split("\n")[:-1])
            self.assertEqual(tar_names, self.tar_members)
            self.assertEqual(sha256_in_mount(self, mount, sorted(self.files)), self.sha)
            unmount_cleanly(self, mount)
        note(f"{kind}/{mode}: {time.monotonic() - started:.1f}s")

    def check_walk_requests(self, kind: str, mode: str, entries: list[dict]) -> None:
        """Mount + find + ls -lR: each directory listed exactly once (one GET of its URL, the
        TTL being 60 s), and no HEAD where the listing had exact sizes (otherwise at most one
        per file: find needs no size, ls -l every one)."""
        def path_of(uri: str) -> str:
            return urllib.parse.unquote(urllib.parse.urlsplit(uri).path)

        listed = collections.Counter(path_of(e["uri"]) for e in entries
                                     if e["method"] == "GET" and path_of(e["uri"]).endswith("/"))
        expected = {"/": 1, **{f"/{d}/": 1 for d in self.dirs}}
        self.assertEqual(dict(listed), expected, f"{kind}/{mode}: directory GETs")
        heads = collections.Counter(path_of(e["uri"]) for e in entries if e["method"] == "HEAD")
        if (kind, mode) in self.EXACT_SIZES:
            self.assertEqual(dict(heads), {}, f"{kind}/{mode}: HEAD requests although the "
                                              f"listing states exact sizes")
        else:
            # No exact sizes: ls -l needs every file's, and probes each exactly once.
            self.assertEqual(dict(heads), {f"/{f}": 1 for f in self.files},
                             f"{kind}/{mode}: HEAD requests of the walk")

    def test_nginx_html(self):
        self.check_server("nginx", "html")

    def test_nginx_json(self):
        self.check_server("nginx", "json")

    def test_nginx_xml(self):
        self.check_server("nginx", "xml")

    def test_apache_plain(self):
        self.check_server("apache", "plain")

    def test_apache_fancy(self):
        self.check_server("apache", "fancy")

    def test_apache_htmltable(self):
        self.check_server("apache", "htmltable")

    def test_lighttpd(self):
        self.check_server("lighttpd", "html")

    def test_caddy(self):
        self.check_server("caddy", "browse")

    def test_python_http_server(self):
        self.check_server("python", "html")


# ------------------------------------------------------------------------------ operands
class OperandsTest(unittest.TestCase):
    """Files and directories mixed on the command line, and a redirect to a directory."""

    @classmethod
    def setUpClass(cls):
        harness.require_environment("find", "sha256sum")
        data = harness.TempDir("rangefs-dirs-operands-")
        cls.addClassCleanup(data.cleanup)
        cls.root = data.path
        cls.content = {}
        for rel, size in (("one.bin", 70_001), ("two.bin", 4_096), ("dir/x.txt", 10),
                          ("dir/sub/y.bin", 200_000), ("other/z.txt", 3)):
            path = os.path.join(cls.root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            harness.write_random_file(path, size)
            with open(path, "rb") as f:
                cls.content[rel] = f.read()
        cls.server = harness.LoopbackNginx(cls.root, autoindex="json").start()
        cls.addClassCleanup(cls.server.cleanup)

    def read(self, mount, rel):
        return mount.call(harness.read_whole, mount.path(rel))

    def test_files_named_file_and_directory(self):
        operands = [self.server.url("one.bin"), f"renamed.bin={self.server.url('two.bin')}",
                    self.server.url("dir") + "/"]
        with harness.Mount(operands) as mount:
            self.assertEqual(sorted(mount.call(os.listdir, mount.path())),
                             ["dir", "one.bin", "renamed.bin"])
            self.assertTrue(stat.S_ISDIR(mount.call(os.stat, mount.path("dir")).st_mode))
            self.assertEqual(find_paths(self, mount, "f"),
                             ["dir/sub/y.bin", "dir/x.txt", "one.bin", "renamed.bin"])
            self.assertEqual(self.read(mount, "one.bin"), self.content["one.bin"])
            self.assertEqual(self.read(mount, "renamed.bin"), self.content["two.bin"])
            self.assertEqual(self.read(mount, "dir/sub/y.bin"), self.content["dir/sub/y.bin"])
            unmount_cleanly(self, mount)

    def test_named_directory_operand(self):
        with harness.Mount([f"mine={self.server.url('dir')}/",
                            self.server.url("one.bin")]) as mount:
            self.assertEqual(sorted(mount.call(os.listdir, mount.path())), ["mine", "one.bin"])
            self.assertEqual(sorted(mount.call(os.listdir, mount.path("mine"))), ["sub", "x.txt"])
            unmount_cleanly(self, mount)

    # nginx answers ".../other" with a 301 to ".../other/", whose chunked listing has no
    # Content-Length: the probe fails for want of a length, and the URL with a slash lists.
    def test_url_redirected_to_a_directory_is_the_root(self):
        url = self.server.url("other")  # nginx answers 301 to .../other/
        with harness.Mount([url]) as mount:
            self.assertEqual(mount.call(os.listdir, mount.path()), ["z.txt"])
            self.assertEqual(self.read(mount, "z.txt"), self.content["other/z.txt"])
            self.assertIn("a directory", mount.stderr())
            unmount_cleanly(self, mount)
        self.assertIn(301, [e["status"] for e in self.server.access_log_entries()
                            if e["uri"] == "/other"])

    def test_url_redirected_to_a_directory_among_operands(self):
        with harness.Mount([self.server.url("one.bin"), self.server.url("dir")]) as mount:
            self.assertEqual(sorted(mount.call(os.listdir, mount.path())), ["dir", "one.bin"])
            self.assertEqual(find_paths(self, mount, "f", cwd="dir"), ["sub/y.bin", "x.txt"])
            unmount_cleanly(self, mount)

    def test_redirect_to_a_listing_with_a_length_is_a_directory(self):
        """The test server's listing=html answers .../sub with a 301 to .../sub/, whose page
        has a Content-Length: the probe succeeds and its final URL makes it a directory."""
        with range_test_server.RangeTestServer(self.root) as server:
            url = server.url("dir", listing="html")
            self.assertFalse(url.endswith("/"))
            with harness.Mount([self.server.url("one.bin"), url]) as mount:
                self.assertEqual(sorted(mount.call(os.listdir, mount.path())), ["dir", "one.bin"])
                self.assertEqual(find_paths(self, mount, "f", cwd="dir"), ["sub/y.bin", "x.txt"])
                self.assertEqual(mount.call(harness.read_whole, mount.path("dir/sub/y.bin")),
                                 self.content["dir/sub/y.bin"])
                unmount_cleanly(self, mount)
            self.assertIn(301, [r["status"] for r in server.requests() if r["path"] == "dir"])

    def test_bad_operand_refuses_the_mount(self):
        good = self.server.url("one.bin")
        for bad in (self.server.url("missing.bin"), self.server.url("missing-dir") + "/"):
            with self.subTest(bad=bad):
                run = harness.run_expect_failure([good, bad], timeout=30)
                self.assertFalse(run.mounted, run.stderr)
                self.assertEqual(run.returncode, 1, run.stderr)
                self.assertIn(bad, run.stderr)
                self.assertEqual(run.stray_pids, [])


# ------------------------------------------------------------------------------------ S3
class S3Test(unittest.TestCase):
    """ListObjectsV2 with continuation pages, from the project's test server."""

    PAGE = 2

    @classmethod
    def setUpClass(cls):
        harness.require_environment("find", "ls", "sha256sum")
        data = harness.TempDir("rangefs-dirs-s3-")
        cls.addClassCleanup(data.cleanup)
        cls.root = data.path
        for rel, size in (("top.bin", 100_000), ("z.txt", 5), ("m.txt", 17), ("k.bin", 4096),
                          ("a/one.txt", 11), ("a/two.bin", 70_000), ("a/b/three.bin", 1234),
                          ("a/b/c/four.txt", 4), ("a/b/c/five.txt", 5), ("a/b/c/six.txt", 6),
                          ("with space/é.txt", 33), ("with space/x+y.bin", 3)):
            path = os.path.join(cls.root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            harness.write_random_file(path, size)
        cls.files, cls.dirs = local_tree(cls.root)
        cls.sha = {rel: harness.sha256_file(os.path.join(cls.root, rel)) for rel in cls.files}

    def expected_pages(self) -> int:
        """Listing requests of a whole walk: per prefix, ceil(entries / page), at least 1."""
        total = 0
        for prefix in [""] + [d + "/" for d in sorted(self.dirs)]:
            directory = os.path.join(self.root, prefix)
            total += max(1, math.ceil(len(os.listdir(directory)) / self.PAGE))
        return total

    def check(self, server, url: str) -> None:
        with harness.Mount([url]) as mount:
            self.assertEqual(find_paths(self, mount, "f"), sorted(self.files))
            self.assertEqual(find_paths(self, mount, "d"), sorted(self.dirs))
            self.assertEqual(ls_lr(self, mount), (self.files, self.dirs))
            requests = server.settled_requests()
            self.assertEqual([r for r in requests if r["method"] == "HEAD"], [],
                             "ls -lR of an S3 listing (exact sizes) made HEAD requests")
            listings = [r for r in requests if r["method"] == "GET" and r["path"] == ""]
            self.assertEqual(len(listings), self.expected_pages(),
                             "one GET per listing page of each prefix")
            self.assertEqual(sha256_in_mount(self, mount, sorted(self.files)), self.sha)
            unmount_cleanly(self, mount)

    def test_path_style_bucket(self):
        with range_test_server.RangeTestServer(self.root) as server:
            url = (f"{server.base_url}/s3=1,s3_page={self.PAGE}/"
                   f"?list-type=2&prefix=&delimiter=/")
            self.check(server, url)

    def test_virtual_hosted_bucket(self):
        with range_test_server.RangeTestServer(self.root,
                                               options=f"s3=1,s3_page={self.PAGE}") as server:
            self.check(server, f"{server.base_url}/?list-type=2&prefix=&delimiter=/")

    def test_prefix_mounts_a_subtree(self):
        with range_test_server.RangeTestServer(self.root,
                                               options=f"s3=1,s3_page={self.PAGE}") as server:
            url = f"{server.base_url}/?list-type=2&prefix=a/&delimiter=/"
            with harness.Mount([url]) as mount:
                self.assertEqual(find_paths(self, mount, "f"),
                                 sorted(p[2:] for p in self.files if p.startswith("a/")))
                self.assertEqual(mount.call(harness.read_whole, mount.path("b/c/six.txt")),
                                 harness.read_whole(os.path.join(self.root, "a/b/c/six.txt")))
                unmount_cleanly(self, mount)


if __name__ == "__main__":
    unittest.main(verbosity=2)
