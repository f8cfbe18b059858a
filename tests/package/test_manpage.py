"""rangefs(1), as built: it renders without warnings, whatis can read its NAME line, and it
documents every option `rangefs --help` lists, each with the default --help shows, and no
option the binary does not know. The examples the issue asks for are there, and copy-paste
as typed (ASCII hyphens and quotes, not typographic ones).

Environment (ctest sets it): RANGEFS_BINARY, RANGEFS_MAN_PAGE (the configured rangefs.1),
RANGEFS_PROJECT_VERSION.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import unittest

from help_options import binary, help_options

_TAG_INDENT = 7  # man(7) .TP tags start at the page's left margin


def man_page() -> str:
    path = os.environ.get("RANGEFS_MAN_PAGE", "")
    if not os.path.isfile(path):
        raise RuntimeError(f"RANGEFS_MAN_PAGE={path!r} is not a file (ctest sets it)")
    return path


def render(path: str, *extra: str) -> subprocess.CompletedProcess:
    """Plain UTF-8 text (no bold or underline escapes), without hyphenation so that words and
    option names stay whole."""
    return subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-P-cbou", "-rHY=0", *extra, path],
                          capture_output=True, text=True, timeout=60)


def sections(text: str) -> dict[str, str]:
    """Section heading (a line at column 0) to the text under it."""
    found: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line and not line[0].isspace() and line.upper() == line:
            current = line.strip()
            found[current] = []
        elif current is not None:
            found[current].append(line)
    return {name: "\n".join(lines) for name, lines in found.items()}


def option_entries(options_section: str) -> dict[str, str]:
    """Each .TP entry of OPTIONS: its tag line ("--timeout SECONDS") to its body."""
    entries: dict[str, list[str]] = {}
    tag = None
    for line in options_section.splitlines():
        indent = len(line) - len(line.lstrip())
        if line.strip() and indent <= _TAG_INDENT:
            tag = line.strip() if line.lstrip().startswith("-") else None
            if tag is not None:
                entries[tag] = []
        elif tag is not None:
            entries[tag].append(line.strip())
    return {t: " ".join(" ".join(body).split()) for t, body in entries.items()}


class ManPageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("groff", "lexgrog"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} is missing: scripts/setup.sh installs it")
        cls.path = man_page()
        cls.options = help_options()
        done = render(cls.path)
        if done.returncode != 0:
            raise AssertionError(f"groff failed ({done.returncode}): {done.stderr}")
        cls.text = done.stdout
        cls.sections = sections(cls.text)
        cls.entries = option_entries(cls.sections.get("OPTIONS", ""))

    def test_renders_without_warnings(self):
        # Exactly as the issue asks, and narrower than a terminal, where lines are harder to
        # break; man-db's own renderer too.
        for extra in ([], ["-rLL=60n"]):
            with self.subTest(extra=extra):
                done = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", *extra, self.path],
                                      capture_output=True, text=True, timeout=60)
                self.assertEqual(done.returncode, 0, done.stderr)
                self.assertEqual(done.stderr, "")
        done = subprocess.run(["man", "--warnings=all", "-l", self.path], capture_output=True,
                              text=True, timeout=60,
                              env={**os.environ, "MANPAGER": "cat", "MANWIDTH": "80",
                                   "MAN_DISABLE_SECCOMP": "1"})
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stderr, "")
        self.assertIn("Each file has a version", " ".join(done.stdout.split()))

    def test_whatis_reads_the_name_line(self):
        done = subprocess.run(["lexgrog", self.path], capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertRegex(done.stdout, r'"rangefs - mount remote HTTP\(S\) files')

    def test_sections(self):
        for name in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "CONSISTENCY", "EXIT STATUS",
                     "ENVIRONMENT", "EXAMPLES", "SEE ALSO"):
            self.assertIn(name, self.sections)

    def test_every_help_option_has_an_entry_with_its_default(self):
        for option in self.options:
            with self.subTest(option=option.names):
                tags = [t for t in self.entries
                        if all(re.search(rf"(^|[ ,]){re.escape(n)}($|[ ,=])", t)
                               for n in option.names)]
                self.assertEqual(len(tags), 1,
                                 f"want one OPTIONS entry naming {', '.join(option.names)}; "
                                 f"entries: {list(self.entries)}")
                tag, body = tags[0], self.entries[tags[0]]
                if option.value is not None:
                    # The value's name follows the option: "--cacert FILE".
                    self.assertRegex(tag, rf"{re.escape(option.names[-1])}[ =]\S",
                                     "an option taking a value shows its value")
                if option.names[-1] in ("--help", "--version"):
                    continue
                self.assertRegex(body, r"Default: ", f"{tag}: no default given")
                if option.default is not None:
                    self.assertRegex(body, rf"Default: {re.escape(option.default)}(?!\w)",
                                     f"{tag}: --help's default {option.default} not stated")

    def test_no_entry_for_an_option_the_binary_lacks(self):
        known = {n for o in self.options for n in o.names}
        for tag in self.entries:
            for name in re.findall(r"(?:^|[ ,])(--?[A-Za-z0-9][A-Za-z0-9-]*)", tag):
                self.assertIn(name, known, f"man page entry {tag!r}: not in --help")

    def test_source_escapes_hyphens_and_quotes(self):
        # Option names typed "\-" and quotes in examples "\(aq" render as the ASCII characters
        # a shell needs with every groff; Debian's man.local maps the plain ones too, so the
        # rendered text alone would not show the mistake here.
        in_example = False
        with open(self.path) as f:
            for number, line in enumerate(f, 1):
                if line.startswith(".\\\""):
                    continue  # a comment
                in_example = (in_example or line.startswith(".EX")) and not line.startswith(".EE")
                with self.subTest(line=number):
                    self.assertNotRegex(line, r"(?<![\\\w])--?[A-Za-z]",
                                        "an option name with a bare hyphen")
                    if in_example:
                        self.assertNotIn("'", line, "a bare quote in an example")

    def test_examples(self):
        examples = self.sections["EXAMPLES"]
        lines = [" ".join(line.split()) for line in examples.splitlines()]
        # Copy-pasteable as typed: no typographic hyphens or quotes (see also
        # test_source_escapes_hyphens_and_quotes).
        for char in "\u2010\u2018\u2019\u201c\u201d":
            self.assertNotIn(char, examples)
        commands = [line for line in lines if line.startswith("rangefs ")]
        self.assertTrue(any(len(re.findall(r"https?://", c)) >= 2 for c in commands),
                        "an example with several URLs")
        self.assertTrue(any(re.search(r"(^| )'?[\w.-]+=https?://", c) for c in commands),
                        "a NAME=URL example")
        self.assertIn("https://example.org/big.iso /mnt/x fuse.rangefs "
                      "ro,_netdev,allow_other,cache_size=1G 0 0", lines)
        self.assertTrue(any(re.fullmatch(r"fusermount3 -u \S+", line) for line in lines))

    def test_consistency_guarantee(self):
        text = " ".join(self.sections["CONSISTENCY"].split())
        self.assertIn("Each file has a version: its strong ETag, else its Last-Modified date, "
                      "else only its size.", text)
        self.assertIn("a handle never receives bytes of two versions", text)
        self.assertIn("--revalidate", text)

    def test_version_in_footer_is_the_binarys(self):
        version = os.environ.get("RANGEFS_PROJECT_VERSION", "")
        self.assertTrue(version, "RANGEFS_PROJECT_VERSION is not set (ctest sets it)")
        footer = [line for line in self.text.splitlines() if line.strip()][-1]
        self.assertRegex(footer, rf"^rangefs {re.escape(version)}\s")
        printed = subprocess.run([binary(), "--version"], capture_output=True, text=True,
                                 timeout=30, check=True).stdout
        self.assertEqual(printed.splitlines()[0], f"rangefs {version}")


if __name__ == "__main__":
    unittest.main()
