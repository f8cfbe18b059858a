"""The --help parser the man page and completion tests rely on: if it missed options, those
tests would pass while checking less. Checked on CLI11 output of the shapes it must read, and
on the live binary."""

from __future__ import annotations

import unittest

from help_options import HelpOption, help_options, parse_help

_SAMPLE = """\
Mount things.
Usage: rangefs [OPTIONS] operands...

Positionals:
  operands TEXT ... REQUIRED  URL|NAME=URL... MOUNTPOINT

Options:
  -h,--help                   Print this help message and exit
  -f,--foreground             Stay in the foreground
  -o OPT[,OPT...] ...         FUSE mount options
  --timeout FLOAT:POSITIVE=60 Seconds a fetch may take
  --block-size UINT:SIZE [b, kb(=1024b), ...]:UINT in [4096 - 67108864]=256K
                              Unit of caching
  --open-prefetch,--no-open-prefetch{false}
                              Fetch a file's first and last bytes
  --header 'NAME: VALUE' ...  Add this header; repeatable

Metrics:
  --metrics ADDR              Serve metrics at ADDR
  --metrics-interval=5        A flag-style default

Each URL becomes one read-only file.
Examples:
  --not-an-option in the footer
"""


class ParseHelpTest(unittest.TestCase):
    def test_sample(self):
        self.assertEqual(parse_help(_SAMPLE), [
            HelpOption(("-h", "--help"), None, None),
            HelpOption(("-f", "--foreground"), None, None),
            HelpOption(("-o",), "OPT[,OPT...]", None),
            HelpOption(("--timeout",), "FLOAT:POSITIVE", "60"),
            HelpOption(("--block-size",),
                       "UINT:SIZE [b, kb(=1024b), ...]:UINT in [4096 - 67108864]", "256K"),
            HelpOption(("--open-prefetch", "--no-open-prefetch"), None, None),
            HelpOption(("--header",), "'NAME: VALUE'", None),
            HelpOption(("--metrics",), "ADDR", None),
            HelpOption(("--metrics-interval",), None, "5"),
        ])

    def test_unparseable_names_fail_loudly(self):
        with self.assertRaises(AssertionError):
            parse_help("Options:\n  -x,+y  odd\n")
        with self.assertRaises(AssertionError):
            parse_help("Usage: rangefs\n")

    def test_live_binary(self):
        options = help_options()
        names = {n for o in options for n in o.names}
        for name in ("--help", "--version", "-f", "-o", "--timeout", "--cache-size",
                     "--no-open-prefetch", "--proxy"):
            self.assertIn(name, names)
        by_name = {o.names[-1]: o for o in options}
        self.assertEqual(by_name["--timeout"].default, "60")
        self.assertEqual(by_name["--cache-size"].default, "256M")
        self.assertEqual(by_name["--cacert"].value, "FILE")
        self.assertIsNone(by_name["--insecure"].value)


if __name__ == "__main__":
    unittest.main()
