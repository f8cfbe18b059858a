"""The Debian package: CPack builds it from the build directory, `dpkg -x` unpacks it into a
scratch root, and the binary there runs. Its control fields name the package, version and
maintainer; its Depends come from dpkg-shlibdeps and cover every library the binary loads,
plus fuse3; it holds exactly the binary, rangefs(1) and the bash completion.

Environment (ctest sets it): RANGEFS_BINARY, RANGEFS_BUILD_DIR, RANGEFS_MAN_PAGE,
RANGEFS_COMPLETION, RANGEFS_PROJECT_VERSION.
"""

from __future__ import annotations

import email.parser
import filecmp
import glob
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from help_options import binary, help_options

FILES = {  # path in the package: where it was built
    "./usr/bin/rangefs": "RANGEFS_BINARY",
    "./usr/share/man/man1/rangefs.1": "RANGEFS_MAN_PAGE",
    "./usr/share/bash-completion/completions/rangefs": "RANGEFS_COMPLETION",
}


def run(*args: str, timeout: float = 120) -> str:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}): "
                             f"{done.stdout}{done.stderr}")
    return done.stdout


def env_path(name: str) -> str:
    path = os.environ.get(name, "")
    if not os.path.exists(path):
        raise RuntimeError(f"{name}={path!r} does not exist (ctest sets it)")
    return path


def parse_depends(field: str) -> list[list[tuple[str, str | None]]]:
    """"a (>= 1), b | c" -> [[("a", ">= 1")], [("b", None), ("c", None)]]."""
    result = []
    for clause in field.split(","):
        alternatives = []
        for alternative in clause.split("|"):
            match = re.fullmatch(r"\s*([a-z0-9][a-z0-9+.-]*)(?::\w+)?\s*(?:\(([^)]*)\))?\s*",
                                 alternative)
            if not match:
                raise AssertionError(f"malformed Depends entry {alternative!r} in {field!r}")
            alternatives.append((match.group(1), match.group(2)))
        result.append(alternatives)
    return result


def installed_packages() -> dict[str, tuple[str, set[str]]]:
    """Installed package name -> (version, the virtual packages it provides)."""
    listing = run("dpkg-query", "-W", "-f=${db:Status-Abbrev}|${Package}|${Version}|${Provides}\n")
    installed = {}
    for line in listing.splitlines():
        status, name, version, provides = line.split("|", 3)
        if status.startswith("ii"):
            installed[name] = (version, {p for clause in parse_depends(provides)
                                         for p, _ in clause} if provides else set())
    return installed


def owning_package(library_path: str) -> str:
    """The installed package that ships this library file (merged /usr: either spelling)."""
    real = os.path.realpath(library_path)
    candidates = {library_path, real}
    for path in list(candidates):
        if path.startswith("/usr/"):
            candidates.add(path[len("/usr"):])
        else:
            candidates.add("/usr" + path)
    for path in candidates:
        done = subprocess.run(["dpkg-query", "-S", path], capture_output=True, text=True,
                              timeout=30)
        if done.returncode == 0:
            return done.stdout.split(":", 1)[0].split(",")[0].strip()
    raise AssertionError(f"no installed package ships {library_path}")


class DebTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("cpack", "dpkg", "dpkg-deb", "dpkg-shlibdeps", "readelf", "ldd"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} is missing: scripts/setup.sh installs it")
        cls.version = os.environ.get("RANGEFS_PROJECT_VERSION", "")
        if not cls.version:
            raise RuntimeError("RANGEFS_PROJECT_VERSION is not set (ctest sets it)")
        cls.scratch = tempfile.TemporaryDirectory(prefix="rangefs-deb-")
        out = os.path.join(cls.scratch.name, "out")
        config = os.path.join(env_path("RANGEFS_BUILD_DIR"), "CPackConfig.cmake")
        run("cpack", "-G", "DEB", "--config", config, "-B", out, timeout=240)
        debs = glob.glob(os.path.join(out, "*.deb"))
        if len(debs) != 1:
            raise AssertionError(f"cpack made {debs}, not one .deb")
        cls.deb = debs[0]
        cls.root = os.path.join(cls.scratch.name, "root")
        run("dpkg", "-x", cls.deb, cls.root)
        cls.control = email.parser.Parser().parsestr(run("dpkg", "-I", cls.deb, "control"))
        cls.arch = run("dpkg", "--print-architecture").strip()

    @classmethod
    def tearDownClass(cls):
        cls.scratch.cleanup()

    def test_control_fields(self):
        self.assertEqual(os.path.basename(self.deb), f"rangefs_{self.version}_{self.arch}.deb")
        self.assertEqual(self.control["Package"], "rangefs")
        self.assertEqual(self.control["Version"], self.version)
        self.assertEqual(self.control["Architecture"], self.arch)
        self.assertEqual(self.control["Section"], "utils")
        self.assertEqual(self.control["Priority"], "optional")
        self.assertRegex(self.control["Maintainer"], r"^\S.* <[^@<>\s]+@[^@<>\s]+>$")
        self.assertEqual(self.control["Recommends"], "ca-certificates")
        summary, _, extended = self.control["Description"].partition("\n")
        self.assertEqual(summary, "mount remote HTTP(S) files as local read-only files")
        self.assertIn("FUSE filesystem", extended)
        for line in extended.splitlines():
            self.assertRegex(line, r"^ \S", "extended description lines start with a space")

    def test_depends_cover_every_library_the_binary_loads(self):
        depends = parse_depends(self.control["Depends"])
        names = {name for clause in depends for name, _ in clause}
        for package in ("fuse3", "libfuse3-3", "libcurl4", "libc6", "libstdc++6"):
            self.assertIn(package, names)
        self.assertFalse([n for n in names if n.endswith("-dev")], "a -dev package in Depends")
        packaged = os.path.join(self.root, "usr/bin/rangefs")
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                            run("readelf", "-d", packaged))
        self.assertIn("libfuse3.so.3", needed)
        self.assertTrue([n for n in needed if n.startswith("libcurl.so.")], needed)
        resolved = dict(re.findall(r"^\s*(\S+) => (/\S+)", run("ldd", packaged), re.M))
        installed = installed_packages()
        for library in needed:
            with self.subTest(library=library):
                self.assertIn(library, resolved, "the packaged binary cannot find it")
                owner = owning_package(resolved[library])
                # Directly, or through a virtual package naming the ABI (libspdlog1.10 provides
                # libspdlog1.10-fmt9, the spdlog built against fmt 9).
                self.assertTrue(({owner} | installed[owner][1]) & names,
                                f"{library} is in {owner}, which Depends does not name")

    def test_depends_are_satisfied_here(self):
        # So `apt install ./rangefs_*.deb` on the machine that built it needs nothing new
        # beyond what the build needed, and versions are not made up.
        installed = installed_packages()
        for clause in parse_depends(self.control["Depends"]):
            with self.subTest(clause=clause):
                satisfied = []
                for name, constraint in clause:
                    if constraint is None:
                        if name in installed or any(name in provides
                                                    for _, provides in installed.values()):
                            satisfied.append(name)
                        continue
                    if name not in installed:
                        continue  # a versioned dependency needs the real package
                    op, wanted = constraint.split()
                    relation = {">=": "ge", "<=": "le", "=": "eq", ">>": "gt", "<<": "lt"}[op]
                    if subprocess.run(["dpkg", "--compare-versions", installed[name][0],
                                       relation, wanted], timeout=30).returncode == 0:
                        satisfied.append(name)
                self.assertTrue(satisfied, f"no installed package satisfies {clause}")

    def test_contents(self):
        listing = run("dpkg", "-c", self.deb).splitlines()
        files = {}
        for line in listing:
            mode, owner, _size, _date, _time, path = line.split(None, 5)
            self.assertEqual(owner, "root/root", line)
            if not mode.startswith("d"):
                files[path] = mode
        self.assertEqual(files, {"./usr/bin/rangefs": "-rwxr-xr-x",
                                 "./usr/share/man/man1/rangefs.1": "-rw-r--r--",
                                 "./usr/share/bash-completion/completions/rangefs":
                                     "-rw-r--r--"})

    def test_man_page_and_completion_are_the_built_ones(self):
        for path in ("./usr/share/man/man1/rangefs.1",
                     "./usr/share/bash-completion/completions/rangefs"):
            with self.subTest(path=path):
                self.assertTrue(filecmp.cmp(os.path.join(self.root, path),
                                            env_path(FILES[path]), shallow=False))

    def test_binary_is_the_build_stripped(self):
        packaged = os.path.join(self.root, "usr/bin/rangefs")

        def build_id(path: str) -> str:
            match = re.search(r"Build ID: ([0-9a-f]+)", run("readelf", "-n", path))
            self.assertIsNotNone(match, f"{path} has no build ID")
            return match.group(1)

        self.assertEqual(build_id(packaged), build_id(binary()))
        sections = set(re.findall(r"^\s*\[\s*\d+\]\s+(\S+)", run("readelf", "-S", "-W", packaged),
                                  re.M))
        self.assertIn(".text", sections)
        self.assertFalse(sections & {".debug_info", ".symtab"},
                         "debug information or the symbol table left in")

    def test_version_runs_from_the_scratch_root(self):
        packaged = os.path.join(self.root, "usr/bin/rangefs")
        done = subprocess.run([packaged, "--version"], capture_output=True, text=True,
                              timeout=30)
        self.assertEqual(done.returncode, 0, done.stderr)
        lines = done.stdout.splitlines()
        self.assertEqual(lines[0], f"rangefs {self.version}")
        self.assertRegex(lines[1], r"^libfuse 3\.\d+")
        self.assertRegex(lines[2], r"^libcurl \d+\.\d+.*, TLS \S+, HTTP/2 (yes|no)")
        # The same program as the build: the same options.
        self.assertEqual(help_options(packaged), help_options())


if __name__ == "__main__":
    unittest.main()
