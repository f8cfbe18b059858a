#!/usr/bin/env python3
"""rangefs benchmark, disk cache suite (issue 15): what --cache-dir buys after a remount and
what it costs the first read.

    python3 scripts/bench/bench_disk_cache.py [OPTIONS]     (build/release by default)
    scripts/bench/run.sh --suite disk-cache [OPTIONS]       installs, builds, runs this

Same machinery as bench.py (loopback nginx with a JSON access log, rangefs_linkem for the
delayed profiles, mounts owned by PID, the access log read per phase); rangefs only, profile
delay20 (20 ms one way) by default. Every mount with a cache directory is unmounted and its
daemon waited for by PID (it writes what is still queued before it exits) before the next
mount uses the directory.

  ceiling      rangefs_memfs, the same size, front to back in 1 MiB reads: the FUSE ceiling
  cold seq     the big file front to back on a fresh mount, disk cache off against on (a
               fresh empty directory): MB/s, peak RSS, and how long the daemon takes to exit
               after the unmount (writing what is queued)
  warm seq     then a remount on that directory, the same read: MB/s (target >= 0.7x the
               ceiling), requests (target: the probes only, no GET), peak RSS; and again
               once the whole file is on disk (blocks the writer could not keep up with are
               dropped, so more reads on remounts fill the gaps first: --fill-passes)
  programs     unzip -l (3000 members), ffprobe (moov at the end; skipped without ffmpeg),
               a sqlite point query: once on a fresh mount with an empty cache directory,
               then after a remount: time and requests (target: no GET, time within 1.5x of
               the program on the local file, which is stricter than a FUSE ceiling)
  mount time   rangefs up (in /proc/self/mountinfo) without a cache directory, with an
               empty one, and with an index of --index-rows rows (default 1,000,000; target
               < 1 s); peak RSS after a read with that index

Rows are medians of --runs runs (the cold runs alternate off and on, so a slow spell of the
shared machine hits both). Prints one Markdown table; --out writes it and every raw number as
JSON.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any, Optional

import bench
import bench_report
from bench import BIG_NAME, ZIP_MEMBERS, ZIP_NAME, Mount
from bench_common import (FUSERMOUNT, KiB, MB, MiB, BenchError, Daemon, is_mounted, log,
                          peak_rss_kib, tail, wait_until)
from bench_multirange import MP4_NAME, SQLITE_NAME, MultirangeBench

import disk_cache_index  # scripts/lib (on sys.path through bench_common)

PROGRAMS = ["unzip", "ffprobe", "sqlite"]
PROGRAM_FILES = {"unzip": ZIP_NAME, "ffprobe": MP4_NAME, "sqlite": SQLITE_NAME}
DEFAULT_PROFILES = ["delay20"]


def median(values: list[float]) -> Optional[float]:
    values = sorted(v for v in values if v is not None)
    return values[len(values) // 2] if values else None


class CacheMount(Mount):
    """A rangefs mount that records how long it took to appear in mountinfo (mount_seconds)
    and, on close, waits for the daemon to exit after the unmount (bounded by --exit-timeout,
    by PID), recording exit_seconds: a daemon with a disk cache writes its queue first, and
    the next mount must find every block written."""

    mount_seconds: Optional[float] = None
    exit_seconds: Optional[float] = None

    def __enter__(self) -> "CacheMount":
        self._undo = self.bench.cleanups.push(f"mount {self.mountpoint}", self.close)
        with open(self.log_path, "a") as f:
            f.write("$ " + shlex.join(self.argv) + "\n")
        try:
            started = time.monotonic()
            self.daemon = Daemon(self.tool, self.argv, self.log_path)
            timeout = self.bench.args.mount_timeout
            wait_until(lambda: is_mounted(self.mountpoint) or not self.daemon.running(),
                       timeout, interval=0.002)
            self.mount_seconds = time.monotonic() - started
            if not is_mounted(self.mountpoint):
                raise BenchError(f"{self.tool} did not mount; log tail:\n"
                                 f"{tail(self.log_path)}")
            self.bench.worker("stat", {"path": self.file_path}, timeout, self)
        except BaseException:
            self._undo()
            raise
        return self

    def close(self) -> None:
        if is_mounted(self.mountpoint):
            try:
                subprocess.run([FUSERMOUNT, "-u", self.mountpoint], capture_output=True,
                               timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.daemon is not None and self.exit_seconds is None:
            started = time.monotonic()
            if wait_until(lambda: not self.daemon.running(), self.bench.args.exit_timeout,
                          interval=0.01):
                self.exit_seconds = time.monotonic() - started
            else:
                log(f"WARNING: rangefs (PID {self.daemon.pid}) still running "
                    f"{self.bench.args.exit_timeout:.0f} s after the unmount")
        super().close()


class DiskCacheBench(MultirangeBench):
    def __init__(self, args):
        super().__init__(args)
        self.caches = os.path.join(self.tmp, "caches")
        os.makedirs(self.caches)
        self.memfs_done = False
        # Every measured run, per (profile, key).
        self.samples: dict[tuple[str, str], list[dict]] = {}

    # ----------------------------------------------------------------------------- data
    def make_data(self) -> None:
        args = self.args
        log(f"generating a {args.size / MiB:.0f} MiB random file and a {ZIP_MEMBERS}-member "
            "zip")
        self.write_big_file()
        self.write_zip()
        if "ffprobe" in args.programs:
            if shutil.which("ffmpeg") and shutil.which("ffprobe"):
                self.write_mp4()
            else:
                log("ffmpeg/ffprobe not installed: the ffprobe row is skipped")
                args.programs = [p for p in args.programs if p != "ffprobe"]
                self.errors.setdefault("all", {})["ffprobe"] = ["skipped: ffprobe not installed"]
        if "sqlite" in args.programs:
            self.write_sqlite()

    def new_cache_dir(self) -> str:
        return tempfile.mkdtemp(prefix="cache-", dir=self.caches)

    def record(self, profile: str, key: str, sample: dict) -> None:
        self.samples.setdefault((profile, key), []).append(sample)

    def cache_options(self, cache: Optional[str]) -> tuple[str, ...]:
        # The metrics endpoint too: the disk cache's counters (drops) are read from it.
        return ("--cache-dir", cache, "--metrics", "127.0.0.1:0") if cache else ()

    # ------------------------------------------------------------------------------ run
    def measure_profile(self, profile: str, base: str) -> None:
        args = self.args
        if not self.memfs_done:
            self.measure_memfs(profile)
            self.memfs_done = True
        for number in range(args.runs):
            log(f"  run {number + 1} of {args.runs}")
            self.guarded(profile, "seq", lambda: self.cold_and_warm(profile, base))
            for program in args.programs:
                self.guarded(profile, program,
                             lambda p=program: self.program_run(profile, base, p))
            self.guarded(profile, "mount", lambda: self.mount_times(profile, base))
        self.guarded(profile, "local", lambda: self.local_program_times(profile))

    def guarded(self, profile: str, what: str, fn) -> None:
        try:
            fn()
        except BenchError as e:
            self.errors.setdefault(profile, {}).setdefault(what, []).append(str(e))
            log(f"  {what} FAILED: {e}")

    def seq(self, mount: Mount, reference: Optional[str]) -> dict:
        args = self.args
        return self.worker("seq", {
            "path": mount.file_path, "max_seconds": args.phase_seconds,
            "reference": reference, "verify_every": 16, "drop_page_cache": True},
            args.phase_seconds + args.slack, mount)

    def measure_memfs(self, profile: str) -> None:
        args = self.args
        if not (args.memfs and os.access(args.memfs, os.X_OK)):
            raise BenchError("rangefs_memfs not found (build scripts/bench)")
        argv_for = self.mount_argv("memfs", "", BIG_NAME)
        for _ in range(args.runs):
            with Mount(self, "memfs", argv_for, BIG_NAME, "memfs") as m:
                r = self.seq(m, None)
            self.record("all", "memfs", {"mbps": r["mbps"], "complete": r["complete"]})
            log(f"  memfs: {r['mbps']:.0f} MB/s")

    def cold_and_warm(self, profile: str, base: str) -> None:
        """Cold reads with the cache off and on (fresh directory), then a remount on that
        directory and the same read again."""
        url = f"{base}/{BIG_NAME}"
        cache = self.new_cache_dir()
        try:
            for variant in ("off", "on"):
                argv_for = self.mount_argv("rangefs", url, BIG_NAME,
                                           self.cache_options(cache if variant == "on" else None))
                with CacheMount(self, "rangefs", argv_for, BIG_NAME,
                                f"{profile}-cold-{variant}") as m:
                    start = self.access.settle()
                    r = self.seq(m, self.big_path)
                    rss = m.record_rss()
                    counters = disk_counters(m)
                stats = self.phase_stats(start)
                if counters:
                    log(f"  disk cache after the cold read: {counters}")
                self.record(profile, f"cold-{variant}", {
                    "disk_dropped": counters.get("dropped"), "disk_writes": counters.get("writes"),
                    "mbps": r["mbps"], "complete": r["complete"], "mismatches": r["mismatches"],
                    "rss_kib": rss, "requests": stats["requests"], "bytes": stats["bytes"],
                    "exit_seconds": m.exit_seconds})
                log(f"  cold seq, disk cache {variant}: {r['mbps']:.0f} MB/s, RSS "
                    f"{(rss or 0) / KiB:.0f} MiB, exit after unmount {m.exit_seconds or 0:.2f} s")
            try:
                used = disk_cache_index.block_bytes(cache)
            except (OSError, AssertionError) as e:
                raise BenchError(f"cannot read the cache's index after the cold read: {e}")
            argv_for = self.mount_argv("rangefs", url, BIG_NAME, self.cache_options(cache))
            start = self.access.settle()  # the mount's own probes count too
            with CacheMount(self, "rangefs", argv_for, BIG_NAME, f"{profile}-warm") as m:
                r = self.seq(m, self.big_path)
                rss = m.record_rss()
            entries = self.phase_entries(start)
            self.record(profile, "warm", {
                "mbps": r["mbps"], "complete": r["complete"], "mismatches": r["mismatches"],
                "rss_kib": rss, **request_counts(entries), "cache_bytes_before": used})
            log(f"  warm seq after remount: {r['mbps']:.0f} MB/s, "
                f"{request_counts(entries)}, {used / MiB:.0f} MiB were in the index")
            self.warm_whole(profile, url, cache)
        finally:
            shutil.rmtree(cache, ignore_errors=True)

    def warm_whole(self, profile: str, url: str, cache: str) -> None:
        """The warm read again once the whole file is on disk: blocks offered faster than the
        writer writes them are dropped, so one cold read may leave part of the file out; more
        reads on remounts fetch (and offer) only what is missing, until the index holds it
        all (--fill-passes at most). Then a measured read: the disk alone against the
        ceiling."""
        argv_for = self.mount_argv("rangefs", url, BIG_NAME, self.cache_options(cache))
        passes = 0
        while (disk_cache_index.block_bytes(cache) < self.args.size and
               passes < self.args.fill_passes):
            passes += 1
            with CacheMount(self, "rangefs", argv_for, BIG_NAME, f"{profile}-fill") as m:
                self.seq(m, None)
        used = disk_cache_index.block_bytes(cache)
        if used < self.args.size:
            raise BenchError(f"after {passes} fill passes the index holds {used} bytes of "
                             f"{self.args.size}")
        start = self.access.settle()
        with CacheMount(self, "rangefs", argv_for, BIG_NAME, f"{profile}-warm-whole") as m:
            r = self.seq(m, self.big_path)
            rss = m.record_rss()
        entries = self.phase_entries(start)
        self.record(profile, "warm-whole", {
            "mbps": r["mbps"], "complete": r["complete"], "mismatches": r["mismatches"],
            "rss_kib": rss, **request_counts(entries), "fill_passes": passes})
        log(f"  warm seq, whole file on disk (after {passes} fill passes): {r['mbps']:.0f} "
            f"MB/s, {request_counts(entries)}")

    def program_run(self, profile: str, base: str, program: str) -> None:
        """The program on a fresh mount with an empty cache directory, then after a remount."""
        name = PROGRAM_FILES[program]
        cache = self.new_cache_dir()
        try:
            argv_for = self.mount_argv("rangefs", f"{base}/{name}", name,
                                       self.cache_options(cache))
            for phase in ("cold", "warm"):
                start = self.access.settle()
                with CacheMount(self, "rangefs", argv_for, name,
                                f"{profile}-{program}-{phase}") as m:
                    done, seconds = self.run_on_mount(m, self.program(program, m.file_path),
                                                      self.args.tool_timeout)
                    self.check_output(program, done)
                entries = self.phase_entries(start)
                self.record(profile, f"{program}-{phase}",
                            {"seconds": seconds, **request_counts(entries)})
                log(f"  {program} {phase}: {seconds:.3f} s, {request_counts(entries)}")
        finally:
            shutil.rmtree(cache, ignore_errors=True)

    def local_program_times(self, profile: str) -> None:
        for program in self.args.programs:
            path = os.path.join(self.www, PROGRAM_FILES[program])
            for _ in range(self.args.runs):
                t0 = time.monotonic()
                done = subprocess.run(self.program(program, path), capture_output=True,
                                      text=True, timeout=self.args.tool_timeout)
                seconds = time.monotonic() - t0
                self.check_output(program, done)
                self.record("all", f"{program}-local", {"seconds": seconds})

    def mount_times(self, profile: str, base: str) -> None:
        """Time to a visible mount without a cache directory, with an empty one, and with an
        index of --index-rows rows; peak RSS after reading the zip with each."""
        url = f"{base}/{ZIP_NAME}"
        cache = self.new_cache_dir()
        try:
            variants: list[tuple[str, Optional[str]]] = [("none", None), ("empty", cache)]
            for variant, directory in variants:
                self.timed_mount(profile, url, variant, directory)
            started = time.monotonic()
            try:
                rows = disk_cache_index.fill(cache, self.args.index_rows)
            except (OSError, AssertionError) as e:
                raise BenchError(f"cannot fill the cache's index: {e}") from None
            log(f"  index of {rows} rows built in {time.monotonic() - started:.1f} s")
            self.timed_mount(profile, url, "rows", cache, rows=rows)
        finally:
            shutil.rmtree(cache, ignore_errors=True)

    def timed_mount(self, profile: str, url: str, variant: str, cache: Optional[str],
                    rows: Optional[int] = None) -> None:
        argv_for = self.mount_argv("rangefs", url, ZIP_NAME, self.cache_options(cache))
        with CacheMount(self, "rangefs", argv_for, ZIP_NAME, f"{profile}-mount-{variant}") as m:
            done, _ = self.run_on_mount(m, self.program("unzip", m.file_path),
                                        self.args.tool_timeout)
            self.check_output("unzip", done)
            rss = m.record_rss()
        self.record(profile, f"mount-{variant}", {"seconds": m.mount_seconds, "rss_kib": rss,
                                                  "rows": rows})
        log(f"  mount ({variant}{f', {rows} rows' if rows else ''}): "
            f"{m.mount_seconds or 0:.3f} s, RSS {(rss or 0) / KiB:.0f} MiB")

    # ------------------------------------------------------------------------- summary
    def summary(self, profile: str) -> dict[str, Any]:
        def get(key: str, field: str, where: str = profile) -> Optional[float]:
            return median([s.get(field) for s in self.samples.get((where, key), [])])

        out: dict[str, Any] = {"memfs_mbps": get("memfs", "mbps", "all")}
        for key in ("cold-off", "cold-on", "warm", "warm-whole"):
            for field in ("mbps", "rss_kib", "requests", "gets", "range_gets", "heads",
                          "exit_seconds", "cache_bytes_before", "fill_passes", "disk_dropped",
                          "disk_writes"):
                out[f"{key}/{field}"] = get(key, field)
            out[f"{key}/mismatches"] = sum(s.get("mismatches", 0)
                                           for s in self.samples.get((profile, key), []))
        for program in self.args.programs:
            out[f"{program}/local_seconds"] = get(f"{program}-local", "seconds", "all")
            for phase in ("cold", "warm"):
                for field in ("seconds", "requests", "gets", "range_gets"):
                    out[f"{program}-{phase}/{field}"] = get(f"{program}-{phase}", field)
        for variant in ("none", "empty", "rows"):
            out[f"mount-{variant}/seconds"] = get(f"mount-{variant}", "seconds")
            out[f"mount-{variant}/rss_kib"] = get(f"mount-{variant}", "rss_kib")
        return out


def disk_counters(mount: Mount) -> dict[str, float]:
    """The daemon's rangefs_disk_cache_* samples (from --metrics, whose address it logged);
    {} when there are none."""
    try:
        with open(mount.log_path, errors="replace") as f:
            found = re.search(r"metrics at (\S+)", f.read())
        if not found:
            return {}
        with urllib.request.urlopen(found.group(1), timeout=10) as response:
            text = response.read().decode()
    except (OSError, ValueError):
        return {}
    out = {}
    for line in text.splitlines():
        m = re.match(r"rangefs_disk_cache_(\w+?)(?:_total)? (\S+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def request_counts(entries: list[dict]) -> dict[str, int]:
    gets = [e for e in entries if e.get("method") == "GET"]
    return {"requests": len(entries), "heads": sum(e.get("method") == "HEAD" for e in entries),
            "gets": len(gets), "range_gets": sum(bool(e.get("range")) for e in gets),
            "bytes": sum(int(e.get("body_bytes_sent") or 0) for e in entries)}


# ==================================================================================== report
def fmt(value: Optional[float], spec: str = ".0f", suffix: str = "") -> str:
    return "–" if value is None else f"{value:{spec}}{suffix}"


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a is not None and b else None


def render(args, suite: DiskCacheBench) -> str:
    lines = ["", "## rangefs benchmark: the disk cache", "",
             f"big file {args.size / MiB:.0f} MiB; median of {args.runs} run(s); rangefs args: "
             f"{args.rangefs_args or '(none)'}; index rows: {args.index_rows}; TCP window of "
             f"the delayed profiles: {args.link_window_source}", ""]
    for profile in args.profiles:
        if profile not in suite.results:
            continue
        s = suite.summary(profile)
        suite.results[profile]["summary"] = s
        rtt = suite.profile_info.get(profile, {}).get("rtt_ms")
        rows = []

        def add(what, value, target="", note=""):
            rows.append([what, value, target, note])

        warm_ratio = ratio(s["warm/mbps"], s["memfs_mbps"])
        add("FUSE ceiling (memfs) seq MB/s", fmt(s["memfs_mbps"]))
        whole_ratio = ratio(s["warm-whole/mbps"], s["memfs_mbps"])
        add("warm seq after remount, whole file on disk, MB/s", fmt(s["warm-whole/mbps"]),
            ">= 0.7x ceiling", f"{fmt(whole_ratio, '.2f')}x; filled by "
            f"{fmt(s['warm-whole/fill_passes'])} more read(s)")
        add("  its requests (HEAD / GET)",
            f"{fmt(s['warm-whole/heads'])} / {fmt(s['warm-whole/gets'])}", "probes only")
        add("warm seq after one cold read and a remount MB/s", fmt(s["warm/mbps"]),
            ">= 0.7x ceiling", f"{fmt(warm_ratio, '.2f')}x; "
            f"{fmt(kib(kib(s['warm/cache_bytes_before'])))} MiB of "
            f"{args.size / MiB:.0f} were on disk")
        add("  its requests (HEAD / GET)",
            f"{fmt(s['warm/heads'])} / {fmt(s['warm/gets'])}", "probes only")
        for program in args.programs:
            local = s[f"{program}/local_seconds"]
            warm = s[f"{program}-warm/seconds"]
            add(f"{program} after remount s (cold s)",
                f"{fmt(warm, '.3f')} ({fmt(s[f'{program}-cold/seconds'], '.3f')})",
                "<= 1.5x local", f"local {fmt(local, '.3f')} s, "
                f"{fmt(ratio(warm, local), '.2f')}x")
            add(f"{program} after remount requests (GET) (cold)",
                f"{fmt(s[f'{program}-warm/requests'])} ({fmt(s[f'{program}-warm/gets'])}) "
                f"({fmt(s[f'{program}-cold/requests'])})", "0 GET")
        cold_ratio = ratio(s["cold-on/mbps"], s["cold-off/mbps"])
        add("cold seq MB/s, disk cache off / on",
            f"{fmt(s['cold-off/mbps'])} / {fmt(s['cold-on/mbps'])}", "on >= 0.9x off",
            f"{fmt(cold_ratio, '.2f')}x")
        add("blocks written / dropped by the cold read (disk cache on)",
            f"{fmt(s['cold-on/disk_writes'])} / {fmt(s['cold-on/disk_dropped'])}", "0 dropped",
            "counters read just before the unmount")
        add("daemon exit after unmount s, off / on",
            f"{fmt(s['cold-off/exit_seconds'], '.2f')} / {fmt(s['cold-on/exit_seconds'], '.2f')}",
            "", "on: writes the queue first")
        add("peak RSS MiB: cold off / cold on / warm / warm whole",
            f"{fmt(kib(s['cold-off/rss_kib']))} / {fmt(kib(s['cold-on/rss_kib']))} / "
            f"{fmt(kib(s['warm/rss_kib']))} / {fmt(kib(s['warm-whole/rss_kib']))}",
            "unchanged")
        add("mount s: no cache dir / empty / index rows",
            f"{fmt(s['mount-none/seconds'], '.3f')} / {fmt(s['mount-empty/seconds'], '.3f')} / "
            f"{fmt(s['mount-rows/seconds'], '.3f')}", "< 1 s with rows")
        add("peak RSS MiB after unzip -l: no cache dir / empty / index rows",
            f"{fmt(kib(s['mount-none/rss_kib']))} / {fmt(kib(s['mount-empty/rss_kib']))} / "
            f"{fmt(kib(s['mount-rows/rss_kib']))}", "no growth with rows")
        wrong = sum(s[f"{k}/mismatches"] for k in ("cold-off", "cold-on", "warm", "warm-whole"))
        if wrong:
            add("WRONG DATA", str(wrong), "0", "1 MiB reads that differed from the source")
        lines += [f"### {profile} (measured RTT {fmt(rtt, '.1f')} ms)", "",
                  bench_report.grid(["measurement", "value", "target", "note"], rows), ""]
    lines += bench_report.problem_lines(suite.errors)
    return "\n".join(lines)


def kib(value: Optional[float]) -> Optional[float]:
    return None if value is None else value / KiB


# ====================================================================================== main
def parse_args(argv: list[str]):
    p = bench.common_parser(
        __doc__.split("\n\n")[0],
        "Example: python3 scripts/bench/bench_disk_cache.py --size 256M --runs 1",
        "1G; 64M with --quick", "64 MiB file, 10 s video, 8 MB database, 100,000 index rows, "
        "one run", DEFAULT_PROFILES)
    p.add_argument("--runs", type=int, default=None, help="runs per row (default 3; quick: 1)")
    p.add_argument("--programs", type=bench.parse_list(PROGRAMS), default=PROGRAMS,
                   help=f"comma-separated subset of {','.join(PROGRAMS)} (default: all)")
    p.add_argument("--index-rows", type=int, default=None,
                   help="rows of the index for the mount time (default 1000000; quick: 100000)")
    p.add_argument("--phase-seconds", type=float, default=300,
                   help="time budget of one sequential read")
    p.add_argument("--fill-passes", type=int, default=6,
                   help="most extra reads that fill the cache before the whole-file warm read")
    p.add_argument("--exit-timeout", type=float, default=300,
                   help="how long the daemon may take to exit after the unmount")
    p.add_argument("--tool-timeout", type=float, default=120,
                   help="limit for one unzip, ffprobe or sqlite3")
    p.add_argument("--video-seconds", type=float, default=None,
                   help="length of the test video (default 40; quick: 10)")
    p.add_argument("--sqlite-mb", type=float, default=None,
                   help="size of the database, MB (default 30; quick: 8)")
    args = p.parse_args(argv)
    quick = args.quick
    return bench.resolve_common(args, {
        "size": 64 * MiB if quick else 1024 * MiB, "runs": 1 if quick else 3,
        "index_rows": 100_000 if quick else 1_000_000,
        "video_seconds": 10 if quick else 40, "sqlite_mb": 8 if quick else 30})


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if bench.fuse_missing():
        return 1
    suite = DiskCacheBench(args)
    started = time.monotonic()
    status = bench.run_guarded(suite)
    if suite.samples:
        report = render(args, suite)
        print(report, flush=True)
        if args.out:
            suite.results["samples"] = {f"{p}/{k}": v for (p, k), v in suite.samples.items()}
            bench.write_json(suite, status, started, {"report_markdown": report})
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
