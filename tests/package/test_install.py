"""`cmake --install` into a scratch prefix: the binary, rangefs(1) and the bash completion land
where man(1) and bash-completion look for them, and nothing else is installed.

Environment (ctest sets it): RANGEFS_BINARY, RANGEFS_BUILD_DIR, RANGEFS_MAN_PAGE,
RANGEFS_COMPLETION, RANGEFS_PROJECT_VERSION.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import tempfile
import unittest


BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"

# What `cmake --install` puts under the prefix, and where it comes from.
EXPECTED = {
    "bin/rangefs": "RANGEFS_BINARY",
    "share/man/man1/rangefs.1": "RANGEFS_MAN_PAGE",
    "share/bash-completion/completions/rangefs": "RANGEFS_COMPLETION",
}


def env_path(name: str) -> str:
    path = os.environ.get(name, "")
    if not os.path.exists(path):
        raise RuntimeError(f"{name}={path!r} does not exist (ctest sets it)")
    return path


def installed_files(root: str) -> set[str]:
    found = set()
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            found.add(os.path.relpath(os.path.join(dirpath, name), root))
    return found


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("cmake", "man", "bash"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} is missing: scripts/setup.sh installs it")
        if not os.path.isfile(BASH_COMPLETION):
            raise RuntimeError(f"{BASH_COMPLETION} is missing: scripts/setup.sh installs "
                               f"bash-completion")
        cls.scratch = tempfile.TemporaryDirectory(prefix="rangefs-install-")
        cls.prefix = os.path.join(cls.scratch.name, "usr", "local")
        done = subprocess.run(["cmake", "--install", env_path("RANGEFS_BUILD_DIR"),
                               "--prefix", cls.prefix],
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise AssertionError(f"cmake --install failed: {done.stdout}{done.stderr}")

    @classmethod
    def tearDownClass(cls):
        cls.scratch.cleanup()

    def test_installs_exactly_the_binary_man_page_and_completion(self):
        self.assertEqual(installed_files(self.prefix), set(EXPECTED))
        for relative, source in EXPECTED.items():
            with self.subTest(file=relative):
                self.assertTrue(filecmp.cmp(os.path.join(self.prefix, relative),
                                            env_path(source), shallow=False))
        self.assertTrue(os.access(os.path.join(self.prefix, "bin/rangefs"), os.X_OK))

    def test_installed_binary_runs(self):
        done = subprocess.run([os.path.join(self.prefix, "bin/rangefs"), "--version"],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.splitlines()[0],
                         f"rangefs {os.environ['RANGEFS_PROJECT_VERSION']}")

    def test_man_finds_and_renders_the_page(self):
        env = {**os.environ, "MANPAGER": "cat", "MANWIDTH": "80", "MAN_DISABLE_SECCOMP": "1"}
        manpath = os.path.join(self.prefix, "share/man")
        where = subprocess.run(["man", "-M", manpath, "-w", "rangefs"], capture_output=True,
                               text=True, timeout=60, env=env)
        self.assertEqual(where.returncode, 0, where.stderr)
        self.assertEqual(where.stdout.strip(), os.path.join(manpath, "man1/rangefs.1"))
        shown = subprocess.run(["man", "-M", manpath, "rangefs"], capture_output=True,
                               text=True, timeout=60, env=env)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertIn("rangefs - mount remote HTTP(S) files as local read-only files",
                      shown.stdout)

    def test_bash_completion_loads_it_from_the_prefix(self):
        # bash-completion's own loader, as on the first Tab after "rangefs", with the prefix's
        # share/ as the only data directory; extdebug makes declare -F name the source file.
        home = os.path.join(self.scratch.name, "home")
        os.makedirs(home, exist_ok=True)
        script = (f'source {BASH_COMPLETION} || exit 3\n'
                  '__load_completion rangefs || exit 4\n'
                  'complete -p rangefs\n'
                  'shopt -s extdebug\n'
                  'declare -F _rangefs\n')
        done = subprocess.run(["bash", "--norc", "--noprofile", "-c", script],
                              capture_output=True, text=True, timeout=30,
                              env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                   "HOME": home,
                                   "XDG_DATA_DIRS": os.path.join(self.prefix, "share")})
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        lines = done.stdout.splitlines()
        self.assertEqual(lines[0], "complete -F _rangefs rangefs")
        self.assertEqual(lines[1].split(" ", 2)[2],
                         os.path.join(self.prefix, "share/bash-completion/completions/rangefs"))


if __name__ == "__main__":
    unittest.main()
