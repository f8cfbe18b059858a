"""`rangefs --version`: rangefs's version, and the libfuse, libcurl and Boost it was built with
and runs with, checked against what this machine has: the headers it was built from, the
shared libraries the binary loads (ldd), and the curl tool, which loads the same libcurl.
"""

from __future__ import annotations

import os
import re
import subprocess
import unittest

import harness


def run(*cmd: str) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise AssertionError(f"{cmd} failed ({result.returncode}): {result.stderr}")
    return result.stdout


def header_define(path: str, name: str) -> str:
    with open(path) as f:
        m = re.search(rf"^#define {name} (.+)$", f.read(), re.M)
    assert m, f"{name} not in {path}"
    return m.group(1).strip().strip('"')


def loaded_library(binary: str, soname: str) -> str:
    """The file `binary` loads for `soname`, symlinks resolved (libfuse3.so.3.14.0)."""
    m = re.search(rf"^\s*{re.escape(soname)} => (\S+)", run("ldd", binary), re.M)
    assert m, f"{binary} does not load {soname}"
    return os.path.realpath(m.group(1))


def include(*candidates: str) -> str:
    for path in candidates:
        if os.path.exists(path):
            return path
    raise AssertionError(f"none of {candidates} exists")


class VersionTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.binary = harness.binary_path()
        result = subprocess.run([cls.binary, "--version"], capture_output=True, text=True,
                                timeout=30)
        cls.result = result
        cls.lines = result.stdout.splitlines()
        print(f"\n{result.stdout}", end="")

    def line(self, prefix: str) -> str:
        found = [line for line in self.lines if line.startswith(prefix + " ")]
        self.assertEqual(len(found), 1, f"one line starting with {prefix!r}: {self.lines}")
        return found[0]

    def test_exits_zero_with_one_line_each(self):
        self.assertEqual(self.result.returncode, 0, self.result.stderr)
        self.assertEqual(len(self.lines), 4, self.lines)
        self.assertRegex(self.lines[0], r"^rangefs \d+\.\d+\.\d+$")

    def test_libfuse(self):
        fuse_common = include("/usr/include/fuse3/fuse_common.h")
        built = (f"{header_define(fuse_common, 'FUSE_MAJOR_VERSION')}."
                 f"{header_define(fuse_common, 'FUSE_MINOR_VERSION')}")
        # libfuse3.so.3.14.0: its file name carries the version of the library loaded.
        loaded = os.path.basename(loaded_library(self.binary, "libfuse3.so.3"))
        runtime = loaded[len("libfuse3.so."):]
        self.assertEqual(self.line("libfuse"),
                         f"libfuse {runtime} (built with {built}, API 314)")

    def test_libcurl_with_tls_and_http2(self):
        curlver = include("/usr/include/x86_64-linux-gnu/curl/curlver.h",
                          "/usr/include/curl/curlver.h")
        built = header_define(curlver, "LIBCURL_VERSION")
        # The curl tool loads the same libcurl as rangefs, and says what that one supports.
        self.assertEqual(loaded_library("/usr/bin/curl", "libcurl.so.4"),
                         loaded_library(self.binary, "libcurl.so.4"))
        tool = run("curl", "--version")
        first = tool.splitlines()[0]
        runtime = re.search(r"\blibcurl/(\S+)", first).group(1)
        tls = re.search(r"\b((?:OpenSSL|GnuTLS|NSS|mbedTLS|wolfSSL|Schannel|rustls)/\S+)",
                        first).group(1)
        features = re.search(r"^Features: (.*)$", tool, re.M).group(1).split()
        line = self.line("libcurl")
        self.assertTrue(line.startswith(f"libcurl {runtime} (built with {built}), TLS {tls}, "),
                        line)
        if "HTTP2" in features:
            nghttp2 = re.search(r"\bnghttp2/(\S+)", first).group(1)
            self.assertTrue(line.endswith(f", HTTP/2 yes (nghttp2 {nghttp2})"), line)
        else:
            self.assertTrue(line.endswith(", HTTP/2 no"), line)

    def test_boost(self):
        version = int(header_define(include("/usr/include/boost/version.hpp"), "BOOST_VERSION"))
        lib_version = header_define("/usr/include/boost/version.hpp", "BOOST_LIB_VERSION")
        dotted = f"{version // 100000}.{version // 100 % 1000}.{version % 100}"
        self.assertTrue(dotted.startswith(lib_version.replace("_", ".")), (dotted, lib_version))
        self.assertEqual(self.line("Boost"), f"Boost {dotted} (built with; header-only)")


if __name__ == "__main__":
    unittest.main()
