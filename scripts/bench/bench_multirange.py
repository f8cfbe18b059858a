#!/usr/bin/env python3
"""rangefs benchmark, multirange suite: multi-range requests and the open-time prefetch.

    scripts/bench/run.sh --suite multirange [OPTIONS]     installs, builds, runs this
    python3 scripts/bench/bench_multirange.py [OPTIONS]

Same machinery as bench.py (loopback nginx with a JSON access log, rangefs_linkem for the
link profiles, mounts owned by PID, the access log read per phase), other workloads, rangefs
only, each run on a fresh mount:

  gaps      --block-size 64K --no-open-prefetch, --max-ranges 16 against --max-ranges 1.
            Phase A: pread of 64 KiB at 0, 256K, 512K, ... (every fourth block), in file
            order, or shuffled (random access; 8 threads). Phase B,
            on the same mount: the whole file front to back in 1 MiB reads, (a) ordinary
            reads, (b) on a second mount after its own phase A, O_DIRECT reads, so that each
            read reaches rangefs whole and needs several non-adjacent missing blocks.
  unzip     `unzip -l` of a 3000-member zip            --open-prefetch against
  ffprobe   ffprobe of an MP4 whose moov box is last   --no-open-prefetch
  sqlite    one row by an indexed key, ~30 MB database
  seq       1 MiB reads of the big file front to back (what the prefetch costs there)

Every row: requests and bytes nginx logged, wall time; the median of --runs runs. Bytes read
are compared with the source file (every read of gaps and seq; the programs' output for the
others). Prints one Markdown table and the Range headers rangefs sent; --out writes it all as
JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import bench
import bench_report
from bench import BIG_NAME, ZIP_MEMBERS, ZIP_NAME, Bench, Mount
from bench_common import KiB, MiB, BenchError, log, range_summary

MP4_NAME = "moov-at-end.mp4"
SQLITE_NAME = "points.sqlite"
SQLITE_TABLE_ROWS_PER_MB = 730  # 1000-byte random bodies: ~1.37 KB of file per row

GAP_PIECE = 64 * KiB
GAP_STRIDE = 4 * GAP_PIECE
GAP_OPTIONS = ("--no-open-prefetch", "--block-size", "64K")
# Phase A in file order looks like a sequential stream to rangefs's readahead (each skip is
# within its reorder slack), which then fetches the whole file ahead and leaves phase B no
# gaps. In shuffled order (read by GAP_SHUFFLED_THREADS threads, as it only sets the stage) it
# is random access: exactly every fourth block is cached, and phase B's readahead windows and
# O_DIRECT reads meet three missing blocks between cached ones, all along the file.
GAP_SHUFFLED_THREADS = 8
GAP_ORDERS = {"in order": None, "shuffled": 20240601}
GAP_VARIANTS: dict[str, tuple[tuple[str, ...], Optional[int]]] = {
    f"A {order}, max-ranges {n}": ((*GAP_OPTIONS, "--max-ranges", n), seed)
    for order, seed in GAP_ORDERS.items() for n in ("16", "1")}
PREFETCH_VARIANTS: dict[str, tuple[str, ...]] = {
    "prefetch on": ("--open-prefetch",),
    "prefetch off": ("--no-open-prefetch",),
}
WORKLOADS = ["gaps", "unzip", "ffprobe", "sqlite", "seq"]
DEFAULT_PROFILES = ["loopback", "delay20"]


@dataclass
class Row:
    """One line of the table: a workload phase under one variant."""
    key: str
    workload: str
    variant: str


def gap_rows() -> list[Row]:
    phases = [("gaps-A", "gaps A: 64K at every 256K"), ("gaps-B", "gaps B: 1M reads after A"),
              ("gaps-B-direct", "gaps B: O_DIRECT 1M reads after A")]
    return [Row(f"{phase}/{variant}", label, variant)
            for phase, label in phases for variant in GAP_VARIANTS]


def prefetch_rows(args) -> list[Row]:
    labels = {"unzip": f"unzip -l ({ZIP_MEMBERS} members)",
              "ffprobe": "ffprobe (moov at end)",
              "sqlite": "sqlite point query",
              "seq": f"seq read {args.size / MiB:.0f} MiB"}
    return [Row(f"{w}/{variant}", labels[w], variant)
            for w in WORKLOADS if w != "gaps" and w in args.workloads
            for variant in PREFETCH_VARIANTS]


def all_rows(args) -> list[Row]:
    return (gap_rows() if "gaps" in args.workloads else []) + prefetch_rows(args)


# ====================================================================================== data
def mp4_top_level_boxes(path: str) -> list[tuple[str, int, int]]:
    """(type, offset, size) of each top-level ISO BMFF box."""
    boxes = []
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        offset = 0
        while offset + 8 <= size:
            f.seek(offset)
            header = f.read(16)
            length, kind = struct.unpack(">I4s", header[:8])
            if length == 1:
                length = struct.unpack(">Q", header[8:16])[0]
            elif length == 0:
                length = size - offset
            if length < 8:
                raise BenchError(f"{path}: broken box header at {offset}")
            boxes.append((kind.decode("latin-1"), offset, length))
            offset += length
    return boxes


class MultirangeBench(Bench):
    def __init__(self, args):
        super().__init__(args)
        self.mp4_path = os.path.join(self.www, MP4_NAME)
        self.sqlite_path = os.path.join(self.www, SQLITE_NAME)
        self.sqlite_query: Optional[tuple[str, str]] = None  # (SQL, expected output)
        self.data_info: dict[str, Any] = {}
        # Every measured phase, per (profile, row key), in the order run.
        self.runs: dict[tuple[str, str], list[dict]] = {}

    # ----------------------------------------------------------------------------- data
    def make_data(self) -> None:
        args = self.args
        log(f"generating {args.size / MiB:.0f} MiB random file")
        self.write_big_file()
        self.write_zip()  # also what measure_rtt asks for
        if "ffprobe" in args.workloads:
            self.write_mp4()
        if "sqlite" in args.workloads:
            self.write_sqlite()
        for name in os.listdir(self.www):
            self.data_info[name] = {"bytes": os.path.getsize(os.path.join(self.www, name))}

    def write_mp4(self) -> None:
        seconds = self.args.video_seconds
        encoders = bench.run_bounded(["ffmpeg", "-hide_banner", "-encoders"], 30,
                                     capture_output=True, text=True).stdout
        codec = (["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
                 if " libx264 " in encoders else ["-c:v", "mpeg4", "-q:v", "3"])
        log(f"generating a {seconds:.0f} s 720p MP4 ({codec[1]}), moov at the end")
        done = bench.run_bounded(
            ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
             "-i", "testsrc2=size=1280x720:rate=30", "-t", str(seconds), *codec,
             "-threads", "2", self.mp4_path], 600, capture_output=True, text=True)
        if done.returncode != 0:
            raise BenchError(f"ffmpeg failed: {done.stderr[-500:]}")
        boxes = mp4_top_level_boxes(self.mp4_path)
        kinds = [kind for kind, _, _ in boxes]
        if "moov" not in kinds or "mdat" not in kinds or kinds.index("moov") < kinds.index(
                "mdat"):
            raise BenchError(f"{MP4_NAME}: moov is not after mdat: {boxes}")
        self.data_info["mp4_boxes"] = boxes
        moov = next(b for b in boxes if b[0] == "moov")
        log(f"  {os.path.getsize(self.mp4_path) / MiB:.1f} MiB, moov at {moov[1]} "
            f"({moov[2]} bytes), boxes {kinds}")

    def write_sqlite(self) -> None:
        rows = int(self.args.sqlite_mb * SQLITE_TABLE_ROWS_PER_MB)
        rng = random.Random(20240601)
        con = sqlite3.connect(self.sqlite_path)
        try:
            con.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, key TEXT NOT NULL, "
                        "body BLOB NOT NULL)")
            # Keys are hashes: their order has nothing to do with the rows' order.
            con.executemany("INSERT INTO items VALUES (?, ?, ?)",
                            ((i, hashlib.sha1(f"item-{i}".encode()).hexdigest(),
                              rng.randbytes(1000)) for i in range(rows)))
            con.execute("CREATE INDEX items_key ON items (key)")
            con.commit()
            wanted = rows * 2 // 3
            key = hashlib.sha1(f"item-{wanted}".encode()).hexdigest()
            body = con.execute("SELECT body FROM items WHERE id = ?", (wanted,)).fetchone()[0]
        finally:
            con.close()
        self.sqlite_query = (f"SELECT id, hex(substr(body, 1, 8)) FROM items WHERE key = '{key}';",
                             f"{wanted}|{body[:8].hex().upper()}")
        log(f"generated a {os.path.getsize(self.sqlite_path) / MiB:.1f} MiB sqlite database, "
            f"{rows} rows, index on key")

    # ------------------------------------------------------------------------------ run
    def measure_profile(self, profile: str, base: str) -> None:
        args = self.args
        if "gaps" in args.workloads:
            self.each_run(profile, "gaps", list(GAP_VARIANTS),
                          lambda variant, runs: self.gap_run(profile, base, variant, runs))
        for workload in WORKLOADS:
            if workload == "gaps" or workload not in args.workloads:
                continue
            self.each_run(profile, workload, list(PREFETCH_VARIANTS),
                          lambda variant, runs, w=workload:
                          self.prefetch_run(profile, base, w, variant, runs))
        for row in all_rows(args):
            runs = self.runs.get((profile, row.key))
            if runs:
                self.results[profile][row.key] = median_row(runs)

    def each_run(self, profile: str, workload: str, variants: list[str],
                 run_one: Callable[[str, dict[str, list[dict]]], None]) -> None:
        """--runs rounds, each variant once per round (interleaved: a slow spell of the
        machine hits both). A failed run is recorded and the next goes on."""
        for number in range(self.args.runs):
            for variant in variants:
                runs: dict[str, list[dict]] = {}
                try:
                    run_one(variant, runs)
                except BenchError as e:
                    self.errors[profile].setdefault(f"{workload}/{variant}", []).append(str(e))
                    log(f"  {workload} {variant} run {number + 1} FAILED: {e}")
                for key, phases in runs.items():
                    self.runs.setdefault((profile, key), []).extend(phases)

    def phase(self, start: int, end: Optional[int], seconds: float, **extra) -> dict:
        """One measured phase: nginx's requests and bytes between two log offsets."""
        entries = self.phase_entries(start, end)
        stats = bench.AccessLog.summarize(entries)
        return {"requests": stats["requests"], "bytes": stats["bytes"], "seconds": seconds,
                "connections": stats["connections"], "statuses": stats["statuses"],
                "ranges": range_summary(entries, examples=40), **extra}

    def gap_run(self, profile: str, base: str, variant: str,
                runs: dict[str, list[dict]]) -> None:
        args = self.args
        options, shuffle_seed = GAP_VARIANTS[variant]
        argv_for = self.mount_argv("rangefs", f"{base}/{BIG_NAME}", BIG_NAME, options)
        limit = args.phase_seconds + args.slack
        for direct in (False, True):
            phase_b = "gaps-B-direct" if direct else "gaps-B"
            with Mount(self, "rangefs", argv_for, BIG_NAME, f"{profile}-{phase_b}") as m:
                start = self.access.settle()
                a = self.worker("strided", {
                    "path": m.file_path, "size": args.size, "stride": GAP_STRIDE,
                    "length": GAP_PIECE, "max_seconds": args.phase_seconds,
                    "shuffle_seed": shuffle_seed,
                    "threads": 1 if shuffle_seed is None else GAP_SHUFFLED_THREADS,
                    "reference": self.big_path, "drop_page_cache": True}, limit, m)
                middle = self.access.settle()
                b = self.worker("seq", {
                    "path": m.file_path, "direct": direct, "verify_every": 1,
                    "max_seconds": args.phase_seconds, "reference": self.big_path}, limit, m)
            # After unmounting: every request of phase B is finished and logged.
            runs.setdefault(f"gaps-A/{variant}", []).append(self.phase(
                start, middle, a["seconds"], mismatches=a["mismatches"],
                complete=len(a["latencies_ns"]) == a["planned"], before=phase_b))
            runs.setdefault(f"{phase_b}/{variant}", []).append(self.phase(
                middle, None, b["seconds"], mismatches=b["mismatches"],
                complete=b["complete"]))
            log(f"  {variant}: A {a['seconds']:.2f} s, {phase_b} {b['seconds']:.2f} s "
                f"({b['mbps']:.0f} MB/s)")

    def prefetch_run(self, profile: str, base: str, workload: str, variant: str,
                     runs: dict[str, list[dict]]) -> None:
        args = self.args
        name = {"unzip": ZIP_NAME, "ffprobe": MP4_NAME, "sqlite": SQLITE_NAME,
                "seq": BIG_NAME}[workload]
        argv_for = self.mount_argv("rangefs", f"{base}/{name}", name,
                                   PREFETCH_VARIANTS[variant])
        with Mount(self, "rangefs", argv_for, name, f"{profile}-{workload}") as m:
            start = self.access.settle()
            if workload == "seq":
                r = self.worker("seq", {
                    "path": m.file_path, "verify_every": 1, "max_seconds": args.phase_seconds,
                    "reference": self.big_path, "drop_page_cache": True},
                    args.phase_seconds + args.slack, m)
                seconds, extra = r["seconds"], {"mismatches": r["mismatches"],
                                                "complete": r["complete"]}
            else:
                done, seconds = self.run_on_mount(m, self.program(workload, m.file_path),
                                                  args.tool_timeout)
                self.check_output(workload, done)
                extra = {}
        runs.setdefault(f"{workload}/{variant}", []).append(
            self.phase(start, None, seconds, **extra))
        log(f"  {workload} {variant}: {seconds:.3f} s")

    def program(self, workload: str, path: str) -> list[str]:
        if workload == "unzip":
            return ["unzip", "-l", path]
        if workload == "ffprobe":
            return ["ffprobe", "-v", "error", "-show_entries",
                    "format=duration:stream=codec_name,width,height", "-of", "json", path]
        assert workload == "sqlite" and self.sqlite_query
        # immutable=1: no locking, no journal lookups; the file cannot change under us.
        return ["sqlite3", f"file:{path}?mode=ro&immutable=1", self.sqlite_query[0]]

    def check_output(self, workload: str, done: subprocess.CompletedProcess) -> None:
        """The program's answer must be the right one: a wrong byte shows up here."""
        if done.returncode != 0:
            raise BenchError(f"{workload} failed: exit {done.returncode}: {done.stderr[-300:]}")
        out = done.stdout.strip()
        if workload == "unzip":
            last = out.splitlines()[-1:] or [""]
            ok = f"{ZIP_MEMBERS} files" in last[0]
        elif workload == "ffprobe":
            try:
                info = json.loads(out)
                stream = info["streams"][0]
                ok = (stream["width"] == 1280 and stream["height"] == 720 and
                      abs(float(info["format"]["duration"]) - self.args.video_seconds) < 1)
            except (ValueError, KeyError, IndexError, TypeError):
                ok = False
        else:
            ok = out == self.sqlite_query[1]
        if not ok:
            raise BenchError(f"{workload}: unexpected output: {out[-300:]!r}")


def median_row(runs: list[dict]) -> dict:
    """Median requests, bytes and seconds over the runs (each on its own), plus the runs."""
    def median(key: str) -> Optional[float]:
        values = sorted(r[key] for r in runs if r.get(key) is not None)
        return values[len(values) // 2] if values else None
    middle = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
    return {"requests": median("requests"), "bytes": median("bytes"),
            "seconds": median("seconds"), "runs": len(runs),
            "mismatches": sum(r.get("mismatches", 0) for r in runs),
            "complete": all(r.get("complete", True) for r in runs),
            "ranges": middle["ranges"], "per_run": runs}


# ==================================================================================== report
def render(args, results: dict, errors: dict, profile_info: dict) -> dict:
    profiles = [p for p in args.profiles if p in results]
    header = ["workload", "variant"]
    for p in profiles:
        header += [f"{p} requests", f"{p} MiB sent", f"{p} s"]
    rows = []
    for row in all_rows(args):
        cells = [row.workload, row.variant]
        for p in profiles:
            r = results[p].get(row.key)
            if not r:
                cells += ["–"] * 3
                continue
            flag = ("" if r["complete"] else "*") + (" (WRONG DATA)" if r["mismatches"] else "")
            cells += [f"{r['requests']:.0f}", f"{r['bytes'] / MiB:.2f}",
                      f"{r['seconds']:.3f}{flag}"]
        rows.append(cells)
    table = bench_report.grid(header, rows)
    rtts = ", ".join(f"{p} {rtt}" for p, rtt in
                     zip(profiles, bench_report.rtt_cells(profiles, profile_info)))
    lines = ["", "## rangefs benchmark: multi-range requests and open prefetch", "",
             f"big file {args.size / MiB:.0f} MiB; median of {args.runs} run(s), each on a "
             f"fresh mount (gaps A: of both mounts of a run); rangefs args: "
             f"{args.rangefs_args or '(none)'}; measured RTT ms: {rtts}; TCP window of the "
             f"delayed profiles: {args.link_window_source}", "", table, "",
             "`*` stopped at the time budget. `–` not measured. Requests and bytes: nginx's "
             "access log (bytes = body bytes sent). s: wall time of the phase.", "",
             "### Range headers rangefs sent (median run)", ""]
    for row in all_rows(args):
        for p in profiles:
            r = results[p].get(row.key)
            if r:
                lines.append(f"- {row.workload} / {row.variant} / {p}: {describe_ranges(r)}")
    lines += bench_report.problem_lines(errors)
    return {"table_markdown": table, "report_markdown": "\n".join(lines)}


def describe_ranges(result: dict) -> str:
    s = result["ranges"]
    text = (f"{s['gets']} GETs, {s['multi_range_requests']} multi-range "
            f"(max {s['max_ranges_per_request']} ranges), {s['ranges']} ranges")
    if s["median_range_kib"] is not None:
        text += f", median range {s['median_range_kib']:.0f} KiB"
    shown = s["first_multi_ranges"][:1] or s["first_ranges"][:2]
    if shown:
        text += "; e.g. " + ", ".join(f"`{clip(h)}`" for h in shown)
    return text


def clip(text: str, width: int = 110) -> str:
    return text if len(text) <= width else text[:width] + "…"


# ====================================================================================== main
def parse_args(argv: list[str]):
    p = bench.common_parser(
        __doc__.split("\n\n")[0],
        "Example: scripts/bench/run.sh --suite multirange --quick", "256M; 32M with --quick",
        "32 MiB file, 10 s video, 8 MB database, one run", DEFAULT_PROFILES)
    p.add_argument("--workloads", type=bench.parse_list(WORKLOADS), default=WORKLOADS,
                   help=f"comma-separated subset of {','.join(WORKLOADS)} (default: all)")
    p.add_argument("--runs", type=int, default=None,
                   help="fresh-mount runs per row, median shown (default 3; quick: 1)")
    p.add_argument("--phase-seconds", type=float, default=None,
                   help="time budget of one read phase (default 300; quick: 60)")
    p.add_argument("--tool-timeout", type=float, default=120,
                   help="limit for one unzip, ffprobe or sqlite3")
    p.add_argument("--video-seconds", type=float, default=None,
                   help="length of the test video (default 40, ~37 MB; quick: 10)")
    p.add_argument("--sqlite-mb", type=float, default=None,
                   help="size of the database, MB (default 30; quick: 8)")
    args = p.parse_args(argv)
    quick = args.quick
    return bench.resolve_common(args, {
        "size": 32 * MiB if quick else 256 * MiB, "runs": 1 if quick else 3,
        "phase_seconds": 60 if quick else 300, "video_seconds": 10 if quick else 40,
        "sqlite_mb": 8 if quick else 30})


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if bench.fuse_missing():
        return 1
    suite = MultirangeBench(args)
    started = time.monotonic()
    status = bench.run_guarded(suite)
    if suite.results:
        summary = render(args, suite.results, suite.errors, suite.profile_info)
        print(summary["report_markdown"], flush=True)
        if args.out:
            suite.environment.update({
                "ffmpeg": bench.version(["ffmpeg", "-version"]),
                "sqlite3": bench.version(["sqlite3", "-version"]),
                "unzip": bench.version(["unzip", "-v"]), "data": suite.data_info})
            bench.write_json(suite, status, started, summary)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
