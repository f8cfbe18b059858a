#!/usr/bin/env python3
"""rangefs benchmark, tiers suite (issue 17): many mounts behind one cache tier, and one file
read from two mirrors at once.

    scripts/bench/run.sh --suite tiers [OPTIONS]     installs, builds, runs this
    python3 scripts/bench/bench_tiers.py [OPTIONS]   (build/release by default)

Same machinery as bench.py (a loopback nginx origin with a JSON access log, rangefs_linkem
for the link, mounts and daemons owned by PID, every mount unmounted on exit, error and
signal). Two parts (--parts):

  tiers     An nginx proxy_cache + slice tier (scripts/lib/cache_tiers.py, 1 MiB slices) on
            127.0.0.1 whose upstream is a rangefs_linkem giving 20 ms one way (and the TCP
            window of the delay20 profile) in front of the origin nginx. N = 1, 2, 4, 8
            (--counts) mounts of one tool read the same file (256 MiB; --size) front to back
            in 1 MiB reads, all at once (the reads start at one instant), through the tier:
            rangefs with --proxy, rclone with HTTP_PROXY, httpfs2 (no proxy support) with the
            tier as its server. Each row starts a new tier: a cold cache. Per row: the body
            bytes the origin sent for the file (its access log) over the file's size (target
            1.0: each byte once), aggregate MB/s (bytes read by all mounts / wall time from
            the first read's start to the last one's end), the bytes the tier served, and
            the CPU the mounts, the tier, the link and the origin used during the reads.
  mirrors   Two nginx origins serving the same file (1 GiB; --mirror-size) with different
            ETags (different mtimes), each behind its own rangefs_linkem with bench.py's wan
            profile (20 ms one way, 50 MB/s per connection, 400 MB/s in total). One rangefs
            mount reads the file front to back in 1 MiB reads, mounted `URL1|URL2 --spread`
            against `URL1` alone, for each rangefs option set of --mirror-variants (default:
            the defaults, and --connections 16); MB/s, the ratio (target >= 1.7x) and the
            bytes each mirror sent. Then aria2c -x8 (-s8 -k1M) on one mirror and on both
            (several URIs of the same file), the download-tool baseline, into tmpfs.

Prints one Markdown table per part; --out writes them and every raw number as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Optional

import bench
import bench_report
from bench import Bench, Mount
from bench_common import (GiB, MB, MiB, AccessLog, BenchError, log, loopback_nginx,
                          range_summary, run_bounded)

import cache_tiers  # scripts/lib (on sys.path through bench_common)

TIER_NAME = "tiered.bin"
MIRROR_NAME = "mirrored.bin"
PARTS = ["tiers", "mirrors"]
TIER_TOOLS = ["rangefs", "httpfs2", "rclone"]
# The link between the tier and the origin: bench.py's delay20 (20 ms one way, its window).
TIER_LINK_PROFILE = "delay20"
MIRROR_LINK_PROFILE = "wan"
DEFAULT_MIRROR_VARIANTS = ["", "--connections 16"]
# aria2c: one mirror; both with 8 connections in all (as rangefs's default); both with 8 each.
ARIA2_RUNS = {"aria2c -x8 -s8, one mirror": (1, 8), "aria2c -x8 -s8, both mirrors": (2, 8),
              "aria2c -x8 -s16, both mirrors": (2, 16)}
CLK_TCK = os.sysconf("SC_CLK_TCK")
# rangefs's log lines worth showing (its level names: warning, error, critical).
_NOTABLE = re.compile(r"(?:^|\s)(?:warning|error|critical): ")


# ====================================================================================== CPU
def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, seconds (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu_seconds(pid: Optional[int]) -> float:
    """A server's CPU: the process and its direct children (nginx's workers)."""
    if pid is None:
        return 0.0
    return sum(process_cpu_seconds(p) for p in (pid, *loopback_nginx.child_pids(pid)))


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks) - idle) / CLK_TCK, sum(ticks) / CLK_TCK


class CpuMeter:
    """CPU seconds of named groups of processes, and of the machine, between start() and
    stop(): what was busy while the reads ran."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]],
                 trees: dict[str, Callable[[], Optional[int]]]):
        self.groups = groups  # name -> PIDs counted alone (mount daemons)
        self.trees = trees    # name -> PID counted with its children (servers)
        self.before: dict[str, float] = {}

    def _sample(self) -> dict[str, float]:
        out = {name: sum(process_cpu_seconds(p) for p in pids())
               for name, pids in self.groups.items()}
        out.update({name: tree_cpu_seconds(pid()) for name, pid in self.trees.items()})
        out["machine busy"], out["machine total"] = machine_cpu()
        return out

    def start(self) -> None:
        self.before = self._sample()

    def stop(self, wall: float) -> dict[str, float]:
        """Cores used by each group over `wall` seconds; "machine busy" is of all cores."""
        after = self._sample()
        out = {k: (after[k] - self.before.get(k, 0.0)) / wall
               for k in after if k != "machine total" and wall > 0}
        span = after["machine total"] - self.before.get("machine total", 0.0)
        if span > 0:
            # /proc/stat counts every core: busy share of the machine, in cores.
            out["machine busy"] = (after["machine busy"] - self.before["machine busy"]) / span \
                * (os.cpu_count() or 1)
        return out


def cpu_text(cores: dict[str, float]) -> str:
    order = ["mounts", "tier", "link", "origin", "machine busy"]
    return ", ".join(f"{k} {cores[k]:.2f}" for k in order if k in cores)


# ================================================================================== suite
class TiersBench(Bench):
    def __init__(self, args):
        super().__init__(args)
        self.tier_path = os.path.join(self.www, TIER_NAME)
        self.mirror_path = os.path.join(self.www, MIRROR_NAME)
        self.www2 = os.path.join(self.tmp, "www-mirror")
        os.makedirs(self.www2)
        self.results = {"tiers": {"rows": [], "routes": {}}, "mirrors": {"rows": {}}}
        self.errors = {"tiers": {}, "mirrors": {}}
        self.notes: list[str] = []

    # ----------------------------------------------------------------------------- data
    def make_data(self) -> None:
        args = self.args
        if "tiers" in args.parts:
            log(f"generating a {args.size / MiB:.0f} MiB random file for the tier")
            write_random(self.tier_path, args.size)
        if "mirrors" in args.parts:
            log(f"generating a {args.mirror_size / MiB:.0f} MiB random file for the mirrors")
            write_random(self.mirror_path, args.mirror_size)
            second = os.path.join(self.www2, MIRROR_NAME)
            shutil.copyfile(self.mirror_path, second)
            # Different mtimes: nginx's ETags ("mtime-size") differ, as real mirrors' do.
            os.utime(self.mirror_path, (1_600_000_000, 1_600_000_000))
            os.utime(second, (1_700_000_000, 1_700_000_000))

    def run(self) -> None:
        self.environment = bench.environment(self.args)
        self.environment["httpfs2"] = "0.1.4" if shutil.which("httpfs2") else None
        self.snapshot_binaries()
        self.make_data()
        self.start_server()
        if "tiers" in self.args.parts:
            self.measure_tiers()
        if "mirrors" in self.args.parts:
            self.measure_mirrors()

    # ------------------------------------------------------------------------ part 1
    def measure_tiers(self) -> None:
        args = self.args
        info: dict[str, Any] = {"spec": bench.PROFILES[TIER_LINK_PROFILE],
                                "link_window": self.link_window(TIER_LINK_PROFILE)}
        self.profile_info["tiers"] = info
        log(f"tiers: nginx slice cache, its upstream through rangefs_linkem "
            f"({TIER_LINK_PROFILE}: 20 ms one way; TCP window {args.link_window_source})")
        link_base, stop_link = self.start_link(TIER_LINK_PROFILE, label="tier-upstream")
        try:
            info["rtt_ms"] = measure_rtt(f"{link_base}/{TIER_NAME}")
            if info["rtt_ms"] is not None:
                log(f"  round trip cache -> origin {info['rtt_ms']:.1f} ms")
            for tool in args.tools:
                why = self.tier_tool_missing(tool)
                if why:
                    self.errors["tiers"].setdefault(tool, []).append(f"skipped: {why}")
                    log(f"  {tool} skipped: {why}")
                    continue
                for n in args.counts:
                    try:
                        self.tier_row(tool, n, link_base)
                    except (BenchError, cache_tiers.CacheTierError) as e:
                        self.errors["tiers"].setdefault(f"{tool} N={n}", []).append(str(e))
                        log(f"  {tool} N={n} FAILED: {e}")
        finally:
            stop_link()

    def tier_tool_missing(self, tool: str) -> Optional[str]:
        if not cache_tiers.tier_available("nginx"):
            return "nginx not found"
        if tool == "rangefs":
            return None if os.access(self.args.rangefs, os.X_OK) else "rangefs not found"
        return self.tool_available(tool)

    def tier_argv(self, tool: str, tier: cache_tiers.CacheTier) -> tuple[bench.ArgvFor, str]:
        """How a tool reaches the origin through the tier, and that route in words."""
        origin_url = f"{self.server.base_url}/{TIER_NAME}"
        if tool == "rangefs":
            return (self.mount_argv("rangefs", origin_url, TIER_NAME,
                                    ("--proxy", tier.proxy_url)),
                    "--proxy TIER (forward proxy)")
        if tool == "httpfs2":
            # httpfs2 0.1.4 speaks HTTP over its own sockets and has no proxy option (nor
            # reads http_proxy): the slice tier also serves origin-form requests, as a
            # reverse proxy.
            return (self.mount_argv("httpfs2", f"{tier.proxy_url}/{TIER_NAME}", TIER_NAME),
                    "tier as its server (reverse proxy): httpfs2 has no proxy support; the "
                    "tier adds Accept-Ranges to its 206 replies, which httpfs2 requires")
        assert tool == "rclone"
        host = loopback_name()
        if host is None:
            # Go's ProxyFromEnvironment never proxies "localhost" or a loopback IP.
            argv_for = self.mount_argv("rclone", f"{tier.proxy_url}/{TIER_NAME}", TIER_NAME)
            return argv_for, ("tier as its server (reverse proxy): no host name of this "
                              "machine other than localhost resolves to 127.0.0.0/8, and Go "
                              "sends requests to localhost and loopback IPs direct")
        inner = self.mount_argv("rclone", f"http://{host}:{self.server.port}/{TIER_NAME}",
                                TIER_NAME)

        def argv_for(mountpoint: str, scratch: str) -> list[str]:
            # env execs rclone: the PID we own is rclone's. No NO_PROXY to exempt the host.
            return ["env", "-u", "NO_PROXY", "-u", "no_proxy",
                    f"HTTP_PROXY={tier.proxy_url}", f"http_proxy={tier.proxy_url}",
                    *inner(mountpoint, scratch)]
        return argv_for, (f"HTTP_PROXY=TIER, origin written http://{host}:PORT/ (Go sends "
                          f"requests to 127.0.0.1 and localhost direct, ignoring HTTP_PROXY; "
                          f"{host} resolves to 127.0.0.1)")

    def tier_row(self, tool: str, n: int, link_base: str) -> None:
        args = self.args
        load_before = os.getloadavg()[0]
        log(f"  {tool}, {n} mount(s); load average {load_before:.2f}")
        tier_class = AcceptRangesSliceTier if tool == "httpfs2" else cache_tiers.NginxSliceTier
        tier = tier_class(link_base)
        tier.start()
        stop_tier = self.cleanups.push(f"nginx slice tier {tier.proxy_url}", tier.cleanup)
        try:
            assert tier.workdir is not None
            tier_log = AccessLog(os.path.join(tier.workdir, "access.log"))
            origin_start = self.access.settle()
            argv_for, route = self.tier_argv(tool, tier)
            self.results["tiers"]["routes"][tool] = route
            mounts: list[Mount] = []
            with contextlib.ExitStack() as stack:
                for _ in range(n):
                    mounts.append(stack.enter_context(
                        Mount(self, tool, argv_for, TIER_NAME, f"tiers-{tool}-n{n}")))
                meter = CpuMeter(
                    {"mounts": lambda: [m.daemon.pid for m in mounts if m.daemon]},
                    {"tier": lambda: tier.process.pid if tier.process else None,
                     "link": lambda: self.link_daemons["tier-upstream"].pid,
                     "origin": lambda: self.server.process.pid})
                reads, wall, cores = self.read_together(
                    mounts, self.tier_path, meter, args.read_seconds)
                rss = [m.record_rss() for m in mounts]
            # Unmounted; a graceful stop of the tier finishes and logs every response.
            tier.stop()
            origin = self.access.entries(origin_start, self.access.settle())
            served = tier_log.entries(0)
            if args.keep_logs:
                shutil.copyfile(tier_log.path, os.path.join(
                    self.logs, f"tier-{tool}-n{n}-access.log"))
            notable = [line for m in mounts for line in notable_lines(m.log_path)]
        finally:
            stop_tier()
        file_bytes = sum(body(e) for e in origin if e.get("uri") == f"/{TIER_NAME}")
        read = sum(r["bytes"] for r in reads)
        row = {
            "tool": tool, "mounts": n, "route": route, "wall_seconds": wall,
            "bytes_read": read, "aggregate_mbps": read / wall / MB if wall > 0 else None,
            "per_mount_mbps": [r["mbps"] for r in reads],
            "complete": all(r["complete"] for r in reads),
            "mismatches": sum(r["mismatches"] for r in reads),
            "origin_file_bytes": file_bytes, "origin_ratio": file_bytes / args.size,
            "origin_requests": len(origin),
            "origin_other_bytes": sum(body(e) for e in origin) - file_bytes,
            "origin_statuses": sorted({str(e.get("status")) for e in origin}),
            "tier_requests": len(served),
            "tier_body_bytes": sum(body(e) for e in served if e.get("uri", "").endswith(
                f"/{TIER_NAME}")),
            "tier_cache_status": count_by(served, "cache"),
            "tier_ranges": range_summary([e for e in served
                                          if e.get("uri", "").endswith(f"/{TIER_NAME}")]),
            "origin_ranges": range_summary(origin), "cpu_cores": cores,
            "load_average_before": load_before,
            "peak_rss_kib": max((r for r in rss if r), default=None),
            "notable_log_lines": notable[:40], "notable_log_line_count": len(notable)}
        self.results["tiers"]["rows"].append(row)
        log(f"    origin {file_bytes / MiB:.1f} MiB for the file (ratio "
            f"{row['origin_ratio']:.3f}), {row['aggregate_mbps'] or 0:.0f} MB/s aggregate over "
            f"{wall:.2f} s; tier served {row['tier_body_bytes'] / MiB:.0f} MiB; CPU cores: "
            f"{cpu_text(cores)}")
        for line in notable[:5]:
            log(f"    {tool} said: {line}")

    def read_together(self, mounts: list[Mount], reference: str, meter: CpuMeter,
                      budget: float) -> tuple[list[dict], float, dict[str, float]]:
        """Each mount's file front to back in 1 MiB reads, by one worker each, all starting
        at the same instant. Returns the workers' results, the wall time from the first
        read's start to the last one's end, and the CPU cores used meanwhile."""
        # Room for the workers' interpreters to start on a loaded machine.
        lead = 1.0 + 0.2 * len(mounts)
        start_at = time.monotonic() + lead
        results: list[Optional[dict]] = [None] * len(mounts)
        failures: list[str] = []

        def read(i: int, m: Mount) -> None:
            try:
                results[i] = self.worker("seq", {
                    "path": m.file_path, "max_seconds": budget, "reference": reference,
                    "verify_every": 16, "start_at": start_at}, budget + lead + self.args.slack, m)
            except BenchError as e:
                failures.append(f"mount {i}: {e}")

        threads = [threading.Thread(target=read, args=(i, m)) for i, m in enumerate(mounts)]
        for t in threads:
            t.start()
        time.sleep(max(0.0, start_at - time.monotonic()))
        meter.start()
        for t in threads:
            t.join()
        done = [r for r in results if r is not None]
        wall = (max(r["ended"] for r in done) - min(r["started"] for r in done)) if done else 0
        cores = meter.stop(wall) if wall > 0 else {}
        if failures:
            raise BenchError("; ".join(failures))
        return done, wall, cores

    # ------------------------------------------------------------------------ part 2
    def measure_mirrors(self) -> None:
        args = self.args
        # The second origin: the same nginx config (this process's template), its own root.
        second = loopback_nginx.LoopbackNginx(self.www2)
        second.start()
        self.cleanups.push("nginx (second mirror)", second.cleanup)
        self.server2 = second
        logs = {"A": self.access, "B": AccessLog(second.access_log_path)}
        info: dict[str, Any] = {"spec": bench.PROFILES[MIRROR_LINK_PROFILE],
                                "link_window": self.link_window(MIRROR_LINK_PROFILE)}
        self.profile_info["mirrors"] = info
        log(f"mirrors: two nginx origins, each behind rangefs_linkem ({MIRROR_LINK_PROFILE}: "
            f"20 ms one way, 50 MB/s per connection, 400 MB/s per server; TCP window "
            f"{args.link_window_source})")
        base_a, stop_a = self.start_link(MIRROR_LINK_PROFILE, label="mirror-A")
        try:
            base_b, stop_b = self.start_link(MIRROR_LINK_PROFILE, target_port=second.port,
                                             label="mirror-B")
            try:
                url_a, url_b = f"{base_a}/{MIRROR_NAME}", f"{base_b}/{MIRROR_NAME}"
                info["rtt_ms"] = measure_rtt(url_a)
                info["rtt_ms_B"] = measure_rtt(url_b)
                etags = [etag(u) for u in (url_a, url_b)]
                info["etags"] = etags
                log(f"  round trips {fmt(info['rtt_ms'], '.1f')} / "
                    f"{fmt(info['rtt_ms_B'], '.1f')} ms; ETags {etags[0]} / {etags[1]}")
                meter = lambda extra: CpuMeter(  # noqa: E731
                    extra, {"link": lambda: self.link_daemons["mirror-A"].pid,
                            "link B": lambda: self.link_daemons["mirror-B"].pid,
                            "origin": lambda: self.server.process.pid,
                            "origin B": lambda: second.process.pid})
                for number in range(args.runs):
                    log(f"  run {number + 1} of {args.runs}")
                    # Alternate which mount goes first: a slow spell hits both.
                    order = [("one", url_a), ("both", f"{url_a}|{url_b}")]
                    if number % 2:
                        order.reverse()
                    for variant in args.mirror_variants:
                        for mode, operand in order:
                            self.guarded(f"rangefs {variant_label(variant)} {mode}",
                                         lambda v=variant, m=mode, o=operand:
                                         self.mirror_mount_run(v, m, o, logs, meter))
                    if shutil.which("aria2c"):
                        for label, (uris, split) in ARIA2_RUNS.items():
                            self.guarded(label, lambda lab=label, u=uris, s=split:
                                         self.aria2c_run(lab, [url_a, url_b][:u], s, logs,
                                                         meter))
                    elif number == 0:
                        self.errors["mirrors"].setdefault("aria2c", []).append(
                            "skipped: aria2c not installed")
            finally:
                stop_b()
        finally:
            stop_a()

    def guarded(self, what: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except BenchError as e:
            self.errors["mirrors"].setdefault(what, []).append(str(e))
            log(f"  {what} FAILED: {e}")

    def record_mirror(self, key: str, sample: dict) -> None:
        self.results["mirrors"]["rows"].setdefault(key, []).append(sample)

    def mirror_mount_run(self, variant: str, mode: str, operand: str,
                         logs: dict[str, AccessLog], meter_for) -> None:
        args = self.args
        options = tuple(shlex.split(variant)) + (("--spread",) if mode == "both" else ())
        argv_for = self.mount_argv("rangefs", operand, MIRROR_NAME, options)
        key = f"rangefs {variant_label(variant)}|{mode}"
        load_before = os.getloadavg()[0]
        starts = {k: lg.settle() for k, lg in logs.items()}
        with Mount(self, "rangefs", argv_for, MIRROR_NAME, f"mirrors-{mode}") as m:
            meter = meter_for({"mounts": lambda: [m.daemon.pid] if m.daemon else []})
            reads, wall, cores = self.read_together([m], self.mirror_path, meter,
                                                    args.read_seconds)
            rss = m.record_rss()
        sent = {k: sum(body(e) for e in lg.entries(starts[k], lg.settle())
                       if e.get("uri") == f"/{MIRROR_NAME}") for k, lg in logs.items()}
        r = reads[0]
        notable = notable_lines(m.log_path)
        self.record_mirror(key, {
            "mbps": r["mbps"], "seconds": r["seconds"], "bytes": r["bytes"],
            "complete": r["complete"], "mismatches": r["mismatches"], "bytes_from": sent,
            "cpu_cores": cores, "peak_rss_kib": rss, "argv": m.argv,
            "load_average_before": load_before,
            "notable_log_lines": notable[:40]})
        log(f"    {key}: {r['mbps']:.0f} MB/s; sent A {sent['A'] / MiB:.0f} MiB, "
            f"B {sent['B'] / MiB:.0f} MiB; CPU cores: {cpu_text(cores)}")
        for line in notable[:5]:
            log(f"    rangefs said: {line}")

    def aria2c_run(self, label: str, uris: list[str], split: int,
                   logs: dict[str, AccessLog], meter_for) -> None:
        args = self.args
        parent = self.tmp
        if os.path.isdir("/dev/shm"):
            st = os.statvfs("/dev/shm")
            if st.f_bavail * st.f_frsize > 2 * args.mirror_size:
                parent = "/dev/shm"
        out_dir = tempfile.mkdtemp(prefix="rangefs-bench-aria2-", dir=parent)
        remove = self.cleanups.push(f"aria2c dir {out_dir}",
                                    lambda: shutil.rmtree(out_dir, ignore_errors=True))
        try:
            starts = {k: lg.settle() for k, lg in logs.items()}
            argv = ["aria2c", "--no-conf", "-x8", f"-s{split}", "-k1M",
                    "--file-allocation=none", "--allow-overwrite=true",
                    "--auto-file-renaming=false", "--summary-interval=0",
                    "--console-log-level=error", "--download-result=hide", "--max-tries=1",
                    "--timeout=30", "-d", out_dir, "-o", MIRROR_NAME, *uris]
            meter = meter_for({})
            meter.start()
            t0 = time.monotonic()
            done = run_bounded(argv, args.read_seconds + 60, capture_output=True, text=True)
            seconds = time.monotonic() - t0
            cores = meter.stop(seconds)
            got = os.path.join(out_dir, MIRROR_NAME)
            size = os.path.getsize(got) if os.path.exists(got) else -1
            if done.returncode != 0 or size != args.mirror_size:
                raise BenchError(f"aria2c failed: exit {done.returncode}, {size} bytes; "
                                 f"{done.stdout[-300:]} {done.stderr[-300:]}")
            mismatches = sample_mismatches(got, self.mirror_path)
            sent = {k: sum(body(e) for e in lg.entries(starts[k], lg.settle())
                           if e.get("uri") == f"/{MIRROR_NAME}") for k, lg in logs.items()}
        finally:
            remove()
        self.record_mirror(f"{label}|", {
            "mbps": size / seconds / MB, "seconds": seconds, "bytes": size, "complete": True,
            "mismatches": mismatches, "bytes_from": sent, "cpu_cores": cores, "argv": argv})
        log(f"    {label}: {size / seconds / MB:.0f} MB/s; sent A {sent['A'] / MiB:.0f} MiB, "
            f"B {sent['B'] / MiB:.0f} MiB")


# ================================================================================ helpers
class AcceptRangesSliceTier(cache_tiers.NginxSliceTier):
    """The nginx slice tier plus `Accept-Ranges: bytes` in its replies to range requests, for
    httpfs2 0.1.4, which requires the header in every reply: nginx's range filter drops it
    from a 206 (the origin's and its own), so the tier adds it as the benchmark's origin
    does (bench_common.bench_nginx_template). Nothing else differs."""

    ANCHOR = "add_header X-Cache-Status $upstream_cache_status always;"

    def _prepare(self, port: int) -> list[str]:
        argv = super()._prepare(port)
        assert self.workdir is not None
        path = os.path.join(self.workdir, "nginx.conf")
        with open(path) as f:
            conf = f.read()
        if self.ANCHOR not in conf or "    log_format" not in conf:
            raise cache_tiers.CacheTierError("the slice tier's config has no add_header or "
                                             "log_format line to anchor Accept-Ranges on")
        conf = conf.replace("    log_format", '    map $http_range $bench_accept_ranges '
                            '{ "" ""; default bytes; }\n    log_format', 1)
        conf = conf.replace(self.ANCHOR, f"{self.ANCHOR}\n            add_header Accept-Ranges "
                            "$bench_accept_ranges;", 1)
        with open(path, "w") as f:
            f.write(conf)
        return argv


def write_random(path: str, size: int) -> None:
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(4 * MiB, left)
            f.write(os.urandom(n))
            left -= n


def body(entry: dict) -> int:
    try:
        return int(entry.get("body_bytes_sent") or 0)
    except ValueError:
        return 0


def count_by(entries: list[dict], key: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in entries:
        value = str(e.get(key) or "-")
        out[value] = out.get(value, 0) + 1
    return out


def notable_lines(path: str) -> list[str]:
    """A daemon's warning, error and critical lines (rangefs's levels), from its log."""
    try:
        with open(path, errors="replace") as f:
            return [line.rstrip() for line in f if _NOTABLE.search(line)]
    except OSError:
        return []


def loopback_name() -> Optional[str]:
    """This machine's host name if it resolves to 127.0.0.0/8 and is not "localhost": Go
    (rclone) then honours HTTP_PROXY for it; it never does for localhost or a loopback IP."""
    name = socket.gethostname()
    if not name or name.lower() == "localhost" or "." in name.strip("."):
        return None
    try:
        address = socket.gethostbyname(name)  # /etc/hosts: no network
    except OSError:
        return None
    return name if address.startswith("127.") else None


def measure_rtt(url: str) -> Optional[float]:
    """Two 1-byte range GETs on one curl connection: the second's time to first byte, ms."""
    try:
        done = run_bounded(["curl", "-s", "-r", "0-0", "-o", "/dev/null", "-o", "/dev/null",
                            "-w", "%{time_starttransfer}\n", url, url], 30,
                           capture_output=True, text=True)
        times = [float(x) for x in done.stdout.split()]
        return times[1] * 1000 if len(times) == 2 else None
    except (BenchError, ValueError):
        return None


def etag(url: str) -> Optional[str]:
    try:
        done = run_bounded(["curl", "-sSI", url], 30, capture_output=True, text=True)
    except BenchError:
        return None
    for line in done.stdout.splitlines():
        if line.lower().startswith("etag:"):
            return line.split(":", 1)[1].strip()
    return None


def sample_mismatches(path: str, reference: str, every: int = 64) -> int:
    """1 MiB blocks (one in `every`) that differ between a download and its source."""
    bad = 0
    with open(path, "rb") as a, open(reference, "rb") as b:
        offset = 0
        size = os.path.getsize(reference)
        while offset < size:
            a.seek(offset)
            b.seek(offset)
            if a.read(MiB) != b.read(MiB):
                bad += 1
            offset += every * MiB
    return bad


def variant_label(variant: str) -> str:
    return variant.strip() or "defaults"


def fmt(value: Optional[float], spec: str = ".0f") -> str:
    return "–" if value is None else f"{value:{spec}}"


def median(values: list[float]) -> Optional[float]:
    values = sorted(v for v in values if v is not None)
    return values[len(values) // 2] if values else None


# ================================================================================= report
def render(args, suite: TiersBench) -> str:
    lines = ["", "## rangefs benchmark: cache tiers and mirrors", "",
             f"cores: {os.cpu_count()}; rangefs args: {args.rangefs_args or '(none)'}; TCP "
             f"window of the delayed links: {args.link_window_source}", ""]
    if "tiers" in args.parts:
        lines += render_tiers(args, suite)
    if "mirrors" in args.parts:
        lines += render_mirrors(args, suite)
    for part, errors in suite.errors.items():
        problems = bench_report.problem_lines({part: errors})
        lines += problems
    return "\n".join(lines)


def render_tiers(args, suite: TiersBench) -> list[str]:
    data = suite.results["tiers"]
    info = suite.profile_info.get("tiers", {})
    rows = []
    for r in data["rows"]:
        flag = ("" if r["complete"] else "*") + (" WRONG DATA" if r["mismatches"] else "")
        per = r["per_mount_mbps"]
        expected = r["mounts"] * args.size
        through = r["tier_body_bytes"] / expected if expected else None
        rows.append([r["tool"], str(r["mounts"]), f"{r['origin_ratio']:.3f}",
                     f"{r['origin_file_bytes'] / MiB:.1f}",
                     f"{fmt(r['aggregate_mbps'])}{flag}",
                     f"{min(per):.0f}–{max(per):.0f}" if per else "–",
                     f"{r['wall_seconds']:.2f}", fmt(through, ".2f"),
                     " / ".join(fmt(r["cpu_cores"].get(k), ".2f")
                                for k in ("mounts", "tier", "link", "origin", "machine busy")),
                     f"{r['load_average_before']:.1f}", str(r["notable_log_line_count"])])
    table = bench_report.grid(
        ["tool", "N", "origin bytes / file", "origin MiB", "aggregate MB/s",
         "per mount MB/s", "wall s", "tier served / (N x file)",
         "CPU cores: mounts / tier / link / origin / machine", "load before",
         "warnings"], rows)
    out = [f"### Mounts behind one nginx slice cache (file {args.size / MiB:.0f} MiB, cache "
           f"to origin 20 ms one way, measured RTT {fmt(info.get('rtt_ms'), '.1f')} ms)", "",
           table, "",
           "Every row on a new tier (cold cache); the N mounts read at once. origin bytes / "
           "file: body bytes the origin sent for the file over its size (target 1.0: each "
           "byte once). aggregate: bytes read by all mounts / wall time. CPU: cores used "
           "during the reads (machine: all processes, others' too; at most "
           f"{os.cpu_count()}). load before: the 1-minute load average as the row began "
           "(the machine is shared). warnings: rangefs's warning and error lines (none "
           "counted for the peers). `*`: a read stopped at its time budget.", ""]
    out.append("Routes to the tier:")
    for tool, route in data["routes"].items():
        out.append(f"- {tool}: {route}")
    cores = os.cpu_count() or 1
    if max(args.counts) > cores:
        out += ["", f"With {max(args.counts)} mounts on {cores} cores the reads are "
                "CPU-bound: every mount's daemon and its reader, the tier (one nginx worker), "
                "the link emulator and the origin share the cores (a machine column near "
                f"{cores} says so), so the aggregate stops growing with N long before the "
                "link or the tier would bound it.", ""]
    bound = [f"{r['tool']} N={r['mounts']}" for r in data["rows"]
             if r["cpu_cores"].get("machine busy", 0) >= 0.9 * cores]
    if bound:
        out.append(f"Rows with the machine at >= 90 % of its {cores} cores: "
                   f"{', '.join(bound)}.")
        out.append("")
    for r in data["rows"]:
        for line in r["notable_log_lines"][:3]:
            out.append(f"- {r['tool']} N={r['mounts']} said: `{line}`")
    return out + [""]


def render_mirrors(args, suite: TiersBench) -> list[str]:
    data = suite.results["mirrors"]["rows"]
    info = suite.profile_info.get("mirrors", {})
    summary: dict[str, Any] = {}
    rows = []

    def med(key: str, field: str) -> Optional[float]:
        return median([s.get(field) for s in data.get(key, [])])

    for variant in args.mirror_variants:
        label = variant_label(variant)
        one = med(f"rangefs {label}|one", "mbps")
        both = med(f"rangefs {label}|both", "mbps")
        ratio = both / one if one and both else None
        summary[label] = {"one_mbps": one, "both_mbps": both, "ratio": ratio}
        for mode, value in (("one", one), ("both", both)):
            samples = data.get(f"rangefs {label}|{mode}", [])
            rows.append(mirror_row(
                f"rangefs {label}", "URL1" if mode == "one" else "URL1\\|URL2 --spread",
                value, samples, ratio if mode == "both" else None,
                ">= 1.7x" if mode == "both" else ""))
    one = med(f"{list(ARIA2_RUNS)[0]}|", "mbps")
    for label in ARIA2_RUNS:
        samples = data.get(f"{label}|", [])
        value = med(f"{label}|", "mbps")
        both = "both" in label
        rows.append(mirror_row(label.split(",")[0], "URL1 URL2" if both else "URL1", value,
                               samples, value / one if both and one and value else None, ""))
    suite.results["mirrors"]["summary"] = summary
    table = bench_report.grid(
        ["reader", "addresses", "MB/s", "runs MB/s", "vs one mirror", "target",
         "MiB from A / B", "CPU cores: reader daemon / links / origins / machine"], rows)
    return [f"### One file from two mirrors (file {args.mirror_size / MiB:.0f} MiB, wan link "
            f"per mirror: 20 ms one way, 50 MB/s per connection, 400 MB/s per server; measured "
            f"RTT {fmt(info.get('rtt_ms'), '.1f')} ms; ETags {info.get('etags')})", "", table,
            "", f"MB/s: median of {args.runs} run(s), each on a fresh mount, 1 MiB reads front "
            "to back (a sample checked against the source); aria2c writes to tmpfs. MiB from "
            "A / B: body bytes each mirror's nginx sent (median run). CPU: cores used during "
            "the read (reader daemon: rangefs; machine: all processes, others' too).", "",
            "One wan connection carries at most 50 MB/s and one server 400 MB/s; "
            "`--connections` counts rangefs's readahead requests in flight over all files and "
            "addresses, so with the default 8 two mirrors share the same 8 requests that one "
            "mirror gets (the readahead window, 64 MiB, is also the same); a second mirror "
            "adds link capacity, not requests in flight.", ""]


def mirror_row(reader: str, addresses: str, value: Optional[float], samples: list[dict],
               ratio: Optional[float], target: str) -> list[str]:
    if not samples:
        return [reader, addresses, "–", "–", "–", target, "–", "–"]
    middle = sorted(samples, key=lambda s: s["mbps"])[len(samples) // 2]
    flag = ("" if all(s["complete"] for s in samples) else "*") + \
        (" WRONG DATA" if any(s["mismatches"] for s in samples) else "")
    cores = middle["cpu_cores"]
    cpu = " / ".join([fmt(cores.get("mounts"), ".2f"),
                      fmt(cores.get("link", 0) + cores.get("link B", 0), ".2f"),
                      fmt(cores.get("origin", 0) + cores.get("origin B", 0), ".2f"),
                      fmt(cores.get("machine busy"), ".2f")])
    sent = middle["bytes_from"]
    return [reader, addresses, f"{fmt(value)}{flag}",
            ", ".join(f"{s['mbps']:.0f}" for s in samples),
            "–" if ratio is None else f"{ratio:.2f}x", target,
            f"{sent.get('A', 0) / MiB:.0f} / {sent.get('B', 0) / MiB:.0f}", cpu]


# =================================================================================== main
def parse_counts(text: str) -> list[int]:
    try:
        counts = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        counts = []
    if not counts or any(c < 1 or c > 32 for c in counts):
        raise argparse.ArgumentTypeError(f"not a list of mount counts 1..32: {text}")
    return counts


def parse_args(argv: list[str]):
    p = bench.common_parser(
        __doc__.split("\n\n")[0],
        "Examples: scripts/bench/run.sh --suite tiers --quick\n"
        "          scripts/bench/run.sh --suite tiers --parts mirrors --out mirrors.json",
        "256M; 64M with --quick", "64 MiB tier file, 256 MiB mirrored file, one run",
        [TIER_LINK_PROFILE])
    for action in p._actions:  # pylint: disable=protected-access
        if action.dest == "profiles":
            action.help = argparse.SUPPRESS  # the links are fixed: delay20 and wan
    p.add_argument("--parts", type=bench.parse_list(PARTS), default=PARTS,
                   help=f"comma-separated subset of {','.join(PARTS)} (default: both)")
    p.add_argument("--tools", type=bench.parse_list(TIER_TOOLS), default=TIER_TOOLS,
                   help=f"mounts behind the tier: subset of {','.join(TIER_TOOLS)}")
    p.add_argument("--counts", type=parse_counts, default=[1, 2, 4, 8],
                   help="numbers of concurrent mounts behind the tier (default 1,2,4,8)")
    p.add_argument("--mirror-size", type=bench.parse_size, default=None,
                   help="size of the mirrored file (default 1G; quick: 256M)")
    p.add_argument("--mirror-variants", action="append", default=None, metavar="ARGS",
                   help="rangefs options of one mirror comparison, one string (repeatable; "
                        "default: the defaults, and \"--connections 16\"); '' for defaults")
    p.add_argument("--runs", type=int, default=None,
                   help="runs of each mirror comparison, median shown (default 3; quick: 1)")
    p.add_argument("--read-seconds", type=float, default=None,
                   help="time budget of one read (default 300; quick: 120)")
    args = p.parse_args(argv)
    args.baseline = None  # bench.py's --baseline: not measured here
    quick = args.quick
    args = bench.resolve_common(args, {
        "size": 64 * MiB if quick else 256 * MiB,
        "mirror_size": 256 * MiB if quick else GiB, "runs": 1 if quick else 3,
        "read_seconds": 120 if quick else 300,
        "mirror_variants": list(DEFAULT_MIRROR_VARIANTS)})
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if bench.fuse_missing():
        return 1
    suite = TiersBench(args)
    started = time.monotonic()
    status = bench.run_guarded(suite)
    if suite.results["tiers"]["rows"] or suite.results["mirrors"]["rows"]:
        report = render(args, suite)
        print(report, flush=True)
        if args.out:
            bench.write_json(suite, status, started, {"report_markdown": report})
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
