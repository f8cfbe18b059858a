"""The disk cache's index (DIR/index.sqlite, issue 15) read and filled from outside, for the
integration tests and the benchmark. Standard library only (sqlite3).

The index has one table of blocks (a row per block: the file's hash, the block's index, its
bytes, its last use) and the total of their bytes, kept by triggers. These helpers find the
table and its columns by looking (PRAGMA table_info), so a renamed column fails loudly here
rather than filling something else.
"""

from __future__ import annotations

import os
import sqlite3
import time

__all__ = ["INDEX_NAME", "block_bytes", "row_count", "fill", "blocks_table"]

INDEX_NAME = "index.sqlite"


def _connect(cache_dir: str, writable: bool = False) -> sqlite3.Connection:
    path = os.path.join(cache_dir, INDEX_NAME)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    mode = "rw" if writable else "ro"
    con = sqlite3.connect(f"file:{path}?mode={mode}", uri=True, timeout=30)
    con.execute("PRAGMA busy_timeout = 30000")
    return con


def blocks_table(con: sqlite3.Connection) -> tuple[str, dict[str, str]]:
    """(table name, {role: column}) of the table of blocks: the table with a `bytes` column and
    a text column; roles file (text), index, bytes, used (integers)."""
    tables = [r[0] for r in con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    for table in tables:
        info = list(con.execute(f"PRAGMA table_info({table})"))
        names = [r[1] for r in info]
        types = {r[1]: (r[2] or "").upper() for r in info}
        text = [n for n in names if "TEXT" in types[n] or "BLOB" in types[n]]
        if "bytes" not in names or not text:
            continue
        index = next((n for n in names if n in ("idx", "index", "block", "block_index")), None)
        used = next((n for n in names if n in ("used", "last_use", "last_used", "atime")), None)
        if index is None or used is None:
            raise AssertionError(f"table {table} has columns {names}: which is the block index "
                                 f"and which the last use?")
        extra = [n for n in names if n not in (text[0], index, "bytes", used)]
        if extra:
            raise AssertionError(f"table {table} has columns this helper does not fill: {extra}")
        return table, {"file": text[0], "index": index, "bytes": "bytes", "used": used}
    raise AssertionError(f"no table of blocks (with a bytes column) among {tables}")


def block_bytes(cache_dir: str) -> int:
    """Sum of the bytes of every block row."""
    con = _connect(cache_dir)
    try:
        table, _ = blocks_table(con)
        return int(con.execute(f"SELECT COALESCE(SUM(bytes), 0) FROM {table}").fetchone()[0])
    finally:
        con.close()


def row_count(cache_dir: str) -> int:
    con = _connect(cache_dir)
    try:
        table, _ = blocks_table(con)
        return int(con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        con.close()


def fill(cache_dir: str, rows: int, block_bytes_each: int = 4096,
         blocks_per_file: int = 1000) -> int:
    """Adds rows for blocks that are not on disk (files named by made-up hashes) until the
    index has `rows`; returns the count. Their last use is a day ago, so real blocks are more
    recent. 4 KiB each by default: a million of them account 3.8 GiB, within the default bound
    of 10G, so the first write evicts nothing. The index must exist (a mount made it)."""
    con = _connect(cache_dir, writable=True)
    try:
        table, col = blocks_table(con)
        have = int(con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        day_ago_us = int((time.time() - 86400) * 1e6)
        missing = max(0, rows - have)
        # One statement in one transaction, a big page cache, no syncs: the rows are made by
        # SQLite itself (a recursive CTE), which takes a million of them in seconds where
        # executemany from Python takes a minute or more.
        con.execute("PRAGMA cache_size = -262144")
        con.execute("PRAGMA synchronous = OFF")
        with con:
            con.execute(
                f"WITH RECURSIVE n(i) AS (SELECT 0 WHERE ? > 0 UNION ALL "
                f"SELECT i + 1 FROM n WHERE i + 1 < ?) "
                f"INSERT INTO {table} ({col['file']}, {col['index']}, {col['bytes']}, "
                f"{col['used']}) SELECT printf('%032x', ? + i / ?), i % ?, ?, ? + i FROM n",
                (missing, missing, 0xFEED0000, blocks_per_file, blocks_per_file,
                 block_bytes_each, day_ago_us))
        return int(con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        con.close()
