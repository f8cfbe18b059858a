#!/usr/bin/env python3
"""Checks that rangefs's layers point one way, by following #include lines transitively.

Rules (docs/ARCHITECTURE.md, "Layers"):
  1. The core (every header in include/rangefs/ but the HTTP layer's public ones, and every
     source outside src/http/, src/fuse/ and src/cli/) includes no HTTP, FUSE or command-line
     header: nothing under src/http/, src/fuse/ or src/cli/, no <curl/...>, no <fuse...>.
  2. Nothing under src/http/ includes the cache or the read path, directly or through another
     header.
  3. The listing parsers (src/listing/) are pure: they include the base headers of
     include/rangefs/ (LISTING_BASE_HEADERS), their own, and libcurl's URL API, and nothing of
     src/http/, src/read/, src/fs/, src/fuse/, src/cli/ or any other layer. The core does not
     include them (the HTTP lister does).
Prints each violation with the include chain that makes it, and exits 1 if there is any.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]', re.M)
# The HTTP layer's public face: main() builds the HTTP source through it, and the command line
# parses the user's request headers into its types.
HTTP_PUBLIC_HEADERS = {"include/rangefs/http_range_source.h", "include/rangefs/header_file.h",
                       "include/rangefs/http_directory_lister.h"}
# What the HTTP layer must not see: the cache and the read path above it.
CACHE_HEADERS = {
    f"include/rangefs/{name}.h"
    for name in ("block", "block_buffers", "block_cache", "block_fetcher", "prefetcher", "file_reader",
                 "readahead_policy", "filesystem", "mounted_file", "file_version",
                 "metrics_collection")
}
OUTER_DIRS = ("src/http/", "src/fuse/", "src/cli/")
LISTING_DIR = "src/listing/"
# What the listing parsers may see of the rest of rangefs: errors, dates, the listing seam.
LISTING_BASE_HEADERS = {f"include/rangefs/{name}.h"
                        for name in ("status", "imf_date", "directory_listing")}


def resolve(name, quoted, including):
    """The project file an include names, or None for a system header."""
    if not quoted:
        return None
    for base in (including.parent, ROOT / "include", ROOT / "src"):
        candidate = (base / name).resolve()
        if candidate.is_file() and ROOT in candidate.parents:
            return candidate
    return None


def includes_of(path, cache={}):
    if path not in cache:
        found = []
        for quote, name in INCLUDE.findall(path.read_text(encoding="utf-8", errors="replace")):
            found.append((name, resolve(name, quote == '"', path)))
        cache[path] = found
    return cache[path]


def closure(start):
    """Every include reachable from `start`: name -> chain of files that leads to it."""
    seen = {}
    stack = [(start, [rel(start)])]
    visited = set()
    while stack:
        path, chain = stack.pop()
        if path in visited:
            continue
        visited.add(path)
        for name, target in includes_of(path):
            key = rel(target) if target else f"<{name}>"
            seen.setdefault(key, chain + [key])
            if target:
                stack.append((target, chain + [key]))
    return seen


def rel(path):
    return str(path.relative_to(ROOT))


def is_outer(key):
    return (key.startswith(OUTER_DIRS) or key.startswith(LISTING_DIR)
            or key in HTTP_PUBLIC_HEADERS or key.startswith("<curl/")
            or key.startswith("<fuse"))


def listing_may_not_see(key):
    if key.startswith("<"):
        return key.startswith("<fuse")
    return not (key.startswith(LISTING_DIR) or key in LISTING_BASE_HEADERS)


def main():
    files = sorted(p for p in (ROOT / "src").rglob("*") if p.suffix in (".cc", ".h"))
    files += sorted((ROOT / "include" / "rangefs").glob("*.h"))
    problems = []
    for path in files:
        name = rel(path)
        reach = closure(path)
        if name.startswith("src/http/"):
            for key, chain in reach.items():
                if key in CACHE_HEADERS:
                    problems.append(f"{name}: HTTP sees the cache: {' -> '.join(chain)}")
        elif name.startswith(LISTING_DIR):
            for key, chain in reach.items():
                if listing_may_not_see(key):
                    problems.append(f"{name}: the listing parsers see another layer: "
                                    f"{' -> '.join(chain)}")
        elif not name.startswith(OUTER_DIRS) and name not in HTTP_PUBLIC_HEADERS \
                and name != "src/main.cc":
            for key, chain in reach.items():
                if is_outer(key):
                    problems.append(f"{name}: the core sees an outer layer: {' -> '.join(chain)}")
    for problem in problems:
        print(problem)
    print(f"check_layers: {len(files)} files, {len(problems)} violations")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
