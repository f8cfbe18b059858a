"""The bash completion script: loaded into a plain bash, the function it registers for
`rangefs` is called the way bash calls it (COMP_WORDS, COMP_CWORD, and the command, current
and previous words as arguments), and what it offers is compared with `rangefs --help`.

Environment (ctest sets it): RANGEFS_BINARY, RANGEFS_COMPLETION (the script).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import unittest

from help_options import help_options

# Calls the completion function `complete -p rangefs` names, as bash would for the words given
# as arguments (the last one is the word being completed), and prints the offers one a line.
_DRIVER = r"""
source "$RANGEFS_COMPLETION" || exit 3
spec=$(complete -p rangefs) || exit 4
[[ $spec =~ -F\ ([^ ]+) ]] || exit 5
COMP_WORDS=(rangefs "$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE="${COMP_WORDS[*]}"
COMP_POINT=${#COMP_LINE}
COMPREPLY=()
"${BASH_REMATCH[1]}" rangefs "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\n' "${COMPREPLY[@]}"
"""


def completion_script() -> str:
    path = os.environ.get("RANGEFS_COMPLETION", "")
    if not os.path.isfile(path):
        raise RuntimeError(f"RANGEFS_COMPLETION={path!r} is not a file (ctest sets it)")
    return os.path.abspath(path)


def complete(words: list[str], cwd: str | None = None, script: str | None = None) -> list[str]:
    """What the completion offers for `rangefs WORDS...`, the last word being completed."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "RANGEFS_COMPLETION": script or completion_script()}
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", _DRIVER, "driver", *words],
                          capture_output=True, text=True, timeout=30, cwd=cwd, env=env)
    if done.returncode != 0 or done.stderr:
        raise AssertionError(f"completing {words}: exit {done.returncode}: {done.stderr}")
    return [line for line in done.stdout.split("\n") if line]


class CompletionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("bash") is None:
            raise RuntimeError("bash is missing")
        cls.options = help_options()
        cls.long_names = {n for o in cls.options for n in o.long_names}
        cls.all_names = {n for o in cls.options for n in o.names}
        cls.dir = tempfile.TemporaryDirectory(prefix="rangefs-completion-")
        # A file with a space, a file and a directory sharing a prefix with it.
        for name in ("ca.pem", "ca bundle.pem", "mfile"):
            with open(os.path.join(cls.dir.name, name), "w") as f:
                f.write("x\n")
        os.mkdir(os.path.join(cls.dir.name, "cab"))
        os.mkdir(os.path.join(cls.dir.name, "mnt"))

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def test_offers_exactly_the_long_options_of_help(self):
        offered = complete(["--"])
        self.assertEqual(len(offered), len(set(offered)), "an option offered twice")
        self.assertEqual(set(offered), self.long_names,
                         f"missing: {sorted(self.long_names - set(offered))}, "
                         f"unknown to --help: {sorted(set(offered) - self.long_names)}")

    def test_a_dash_offers_short_options_too(self):
        self.assertEqual(set(complete(["-"])), self.all_names)

    def test_a_prefix_narrows_the_offer(self):
        for prefix in ("--con", "--header", "--no-", "--max-"):
            with self.subTest(prefix=prefix):
                want = {n for n in self.long_names if n.startswith(prefix)}
                self.assertTrue(want, f"no option starts with {prefix}")
                self.assertEqual(set(complete(["--timeout", "5", prefix])), want)

    def test_file_options_complete_file_names(self):
        file_options = [o for o in self.options if o.value == "FILE"]
        self.assertTrue(file_options, "--help lists no option taking a FILE")
        for option in file_options:
            # "--cacert=ca" reaches the function as three words (COMP_WORDBREAKS has "="), and
            # "--cacert=" as two, the current one "=".
            for words in ([option.names[-1], "ca"], [option.names[-1], "=", "ca"]):
                with self.subTest(words=words):
                    self.assertEqual(set(complete(words, cwd=self.dir.name)),
                                     {"ca.pem", "ca bundle.pem", "cab"})
            with self.subTest(words=[option.names[-1], "="]):
                self.assertEqual(set(complete([option.names[-1], "="], cwd=self.dir.name)),
                                 set(os.listdir(self.dir.name)))

    def test_directory_options_complete_directories(self):
        directory_options = [o for o in self.options if o.value == "DIR"]
        self.assertTrue(directory_options, "--help lists no option taking a DIR")
        for option in directory_options:
            for words in ([option.names[-1], ""], [option.names[-1], "=", ""]):
                with self.subTest(words=words):
                    self.assertEqual(set(complete(words, cwd=self.dir.name)), {"cab", "mnt"})

    def test_other_values_get_no_offer(self):
        # A number, a size, a header, a URL: neither options nor file names.
        for option in self.options:
            if (option.value is None or option.value in ("FILE", "DIR")
                    or option.names == ("-o",)):
                continue
            for words in ([option.names[-1], ""], [option.names[-1], "="],
                          [option.names[-1], "=", ""]):
                with self.subTest(words=words):
                    self.assertEqual(complete(words, cwd=self.dir.name), [])

    def test_fuse_options_after_o(self):
        offered = complete(["-o", "allow"])
        self.assertEqual(set(offered), {"allow_other", "allow_root"})

    def test_operands_complete_directories_for_the_mountpoint(self):
        for words in (["https://example.org/x.iso", "m"], ["--insecure", "m"],
                      ["-f", "--no-open-prefetch", "https://example.org/x.iso", "m"]):
            with self.subTest(words=words):
                self.assertEqual(complete(words, cwd=self.dir.name), ["mnt"])


if __name__ == "__main__":
    unittest.main()
