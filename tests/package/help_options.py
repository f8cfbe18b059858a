"""The options `rangefs --help` lists, parsed from the live binary, so that the man page and
completion tests compare against what the binary really accepts (including options added
after those files were last edited).

CLI11 prints one option a line: names, then the value's type with its default after "=",
padded to column 30, then the description; a first column of 30 characters or more puts the
description on the next line, indented by 30 spaces. Options are listed under "Options:", and
under a heading of their own for each option group (app.add_option_group, or ->group()), so
every section up to the footer is read, not only the first. (A footer whose first line looks
like a heading, "Examples:", would have its indented lines read as options.)
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from typing import Optional

_DESCRIPTION_COLUMN = 30  # CLI11's default column width


@dataclass(frozen=True)
class HelpOption:
    names: tuple[str, ...]    # e.g. ("-f", "--foreground")
    value: Optional[str]      # the value's type as printed ("FILE", "FLOAT:POSITIVE"), or None
    default: Optional[str]    # the default --help shows ("60", "256K"), or None

    @property
    def long_names(self) -> tuple[str, ...]:
        return tuple(n for n in self.names if n.startswith("--"))


def binary() -> str:
    path = os.environ.get("RANGEFS_BINARY")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError(f"RANGEFS_BINARY={path!r} is not an executable (ctest sets it)")
    return path


def help_text(path: Optional[str] = None) -> str:
    done = subprocess.run([path or binary(), "--help"], capture_output=True, text=True,
                          timeout=30, check=True)
    return done.stdout


def parse_help(text: str) -> list[HelpOption]:
    lines = text.splitlines()
    if "Options:" not in lines:
        raise AssertionError(f"no 'Options:' section in --help:\n{text}")
    options = []
    for i, line in enumerate(lines[lines.index("Options:"):], lines.index("Options:")):
        heading = line.endswith(":") and not lines[i - 1].strip()
        if line[:1].strip() and not heading:
            break  # the footer (app.footer): text at the margin that is not a heading
        if not line.startswith("  -"):
            continue  # headings, blank lines, descriptions continued on their own line
        next_line = lines[i + 1] if i + 1 < len(lines) else ""
        if next_line.startswith(" " * _DESCRIPTION_COLUMN) and next_line.strip():
            first_column = line.strip()
        else:
            first_column = line[:_DESCRIPTION_COLUMN].strip()
        names_part, _, value_part = first_column.partition(" ")
        names_part = re.sub(r"\{[^}]*\}$", "", names_part)  # "--a,--no-a{false}"
        names_part, eq, flag_default = names_part.partition("=")
        names = tuple(n for n in names_part.split(",") if n)
        if not names or not all(re.fullmatch(r"--?[A-Za-z0-9][A-Za-z0-9-]*", n) for n in names):
            raise AssertionError(f"cannot parse option names from --help line {line!r}")
        value_part = value_part.strip()
        value_part = re.sub(r"\s*\.\.\.$", "", value_part)  # repeatable
        default = flag_default if eq else None
        match = re.search(r"=([^\s=()\[\]]+)$", value_part)
        if match:
            default = match.group(1)
            value_part = value_part[:match.start()]
        options.append(HelpOption(names, value_part or None, default))
    if not options:
        raise AssertionError(f"no options found in --help:\n{text}")
    return options


def help_options(path: Optional[str] = None) -> list[HelpOption]:
    return parse_help(help_text(path))
