#!/usr/bin/env python3
"""rangefs benchmark: rangefs against a FUSE ceiling, download tools and peer filesystems.

    scripts/bench/run.sh [OPTIONS]          installs the peers, builds, then runs this
    python3 scripts/bench/bench.py [OPTIONS]

Serves generated files (a big random file, a zip of 3000 members) from a loopback nginx,
optionally behind the link emulator rangefs_linkem, and measures per link profile:

  loopback  nginx directly
  delay20   20 ms one way (RTT 40 ms)
  wan       20 ms one way, 50 MB/s per connection, 400 MB/s in total

  rangefs   sequential read MB/s, random 4 KiB pread p50/p99 (fresh mount: uncached), re-read
            p50 (same blocks, new open: the kernel page cache is gone, rangefs's is not),
            `unzip -l` time/requests/bytes, peak RSS (VmHWM)
  memfs     the in-memory FUSE filesystem: ceiling for sequential MB/s (loopback only)
  curl      one stream, MB/s
  aria2c    -x8 -s8, MB/s
  httpdirfs, httpdirfs-cache, httpfs2, rclone: the same measurements as rangefs
  rangefs-base  with --baseline BINARY: that rangefs binary, the same measurements and the
            same options as rangefs; the two take turns phase by phase (rangefs's seq runs,
            then the baseline's, then rangefs's random reads, ...), so a before/after
            comparison sees the same machine

The delayed profiles give each connection a TCP window (--link-window; by default the
smaller of this machine's tcp_wmem and tcp_rmem maxima), so one stream is held to
window / RTT as a real one would be.

Requests and bytes come from nginx's access log, split per phase. Every filesystem access runs
in a child process with a time limit; a stuck mount is aborted by killing its daemon. Mounts,
processes and temporary files are removed on exit, on error and on SIGINT/SIGTERM.

Prints one Markdown table (rows tool x measurement, columns profiles) and the ratios that
matter; --out writes the table and every raw number as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from typing import Any, Callable, Optional

from bench_common import (GiB, KiB, MB, MiB, FUSERMOUNT, AccessLog, BenchError, Cleanups,
                          Daemon, bench_nginx_template, is_mounted, kill_and_reap, log,
                          loopback_nginx, mounted_points, peak_rss_kib, percentile, run_bounded,
                          tail, wait_until)
import bench_report

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
WORKERS = os.path.join(HERE, "bench_workers.py")

BIG_NAME = "big.bin"
ZIP_NAME = "many.zip"
ZIP_MEMBERS = 3000
# Random reads count as "first touch" when no earlier read of the session fell in the same
# region this size; bigger than any block size rangefs is likely to pick.
FIRST_TOUCH_REGION = 1 * MiB

PROFILES: dict[str, dict[str, Any]] = {
    "loopback": {"delay_ms": 0, "conn_rate": None, "total_rate": None},
    "delay20": {"delay_ms": 20, "conn_rate": None, "total_rate": None},
    "wan": {"delay_ms": 20, "conn_rate": "50M", "total_rate": "400M"},
}
# What the ratios compare against: the profiles' nominal round trip and total capacity.
NOMINAL_RTT_MS = {"loopback": 0.0, "delay20": 40.0, "wan": 40.0}
WAN_LINK_MBPS = 400.0
# Linux's limits of a TCP socket's send and receive buffers, "min default max" in bytes. A
# stream's window can grow to the sender's send buffer and the receiver's receive buffer at
# most, so the smaller maximum is the most one default-configured stream keeps in flight.
TCP_WMEM = "/proc/sys/net/ipv4/tcp_wmem"
TCP_RMEM = "/proc/sys/net/ipv4/tcp_rmem"

DOWNLOAD_TOOLS = ["curl", "aria2c"]
ALL_TOOLS = ["rangefs", "memfs", "curl", "aria2c", "httpdirfs", "httpdirfs-cache", "httpfs2",
             "rclone"]
# --baseline's binary, measured as a tool of its own; in --tools by default only with it.
BASELINE_TOOL = "rangefs-base"
# Measured together, phase by phase, in their --tools order.
RANGEFS_TOOLS = ("rangefs", BASELINE_TOOL)


# ===================================================================================== mounts
# argv of a filesystem daemon from (mount point, scratch directory of that mount).
ArgvFor = Callable[[str, str], list[str]]


class Mount:
    """One FUSE filesystem process mounted on a fresh temporary directory. Context manager:
    unmounts (fusermount3 -u, then -z), stops the process by PID and removes the directory."""

    def __init__(self, bench: "Bench", tool: str, argv_for: ArgvFor,
                 file_name: str, phase: str):
        self.bench = bench
        self.tool = tool
        self.mountpoint = tempfile.mkdtemp(prefix=f"mnt-{tool}-", dir=bench.tmp)
        # For the daemon's caches or config; removed with the mount.
        self.scratch = tempfile.mkdtemp(prefix=f"scratch-{tool}-", dir=bench.tmp)
        self.file_path = os.path.join(self.mountpoint, file_name)
        self.argv = argv_for(self.mountpoint, self.scratch)
        bench.mount_count += 1
        self.log_path = os.path.join(bench.logs, f"{bench.mount_count:03d}-{phase}-{tool}.log")
        self.daemon: Optional[Daemon] = None
        self._undo: Optional[Callable[[], None]] = None
        self.peak_rss_kib: Optional[int] = None

    def __enter__(self) -> "Mount":
        self._undo = self.bench.cleanups.push(f"mount {self.mountpoint}", self.close)
        with open(self.log_path, "a") as f:
            f.write("$ " + shlex.join(self.argv) + "\n")
        try:
            self.daemon = Daemon(self.tool, self.argv, self.log_path)
            timeout = self.bench.args.mount_timeout
            up = wait_until(lambda: is_mounted(self.mountpoint) or not self.daemon.running(),
                            timeout)
            if not is_mounted(self.mountpoint):
                why = "exited" if up else f"not mounted after {timeout:.0f} s"
                raise BenchError(f"{self.tool} did not mount ({why}); log tail:\n"
                                 f"{tail(self.log_path)}")
            # The first lookup (rclone lists the directory, others HEAD) belongs to no phase.
            self.bench.worker("stat", {"path": self.file_path}, timeout, self)
        except BaseException:
            self._undo()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._undo:
            self._undo()

    def record_rss(self) -> Optional[int]:
        if self.daemon and self.daemon.running():
            self.peak_rss_kib = peak_rss_kib(self.daemon.pid)
        return self.peak_rss_kib

    def abort(self) -> None:
        """Ends every request stuck in this mount: killing the daemon closes /dev/fuse, which
        aborts the connection; waiters get ENOTCONN."""
        if self.daemon:
            log(f"aborting {self.tool} mount (killing PID {self.daemon.pid})")
            self.daemon.kill()

    def close(self) -> None:
        if is_mounted(self.mountpoint):
            try:
                subprocess.run([FUSERMOUNT, "-u", self.mountpoint], capture_output=True,
                               timeout=15)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.daemon:
            # Most daemons exit once unmounted; give them a moment, then signal them.
            if not wait_until(lambda: not self.daemon.running(), 5):
                self.daemon.stop(grace=5)
        if is_mounted(self.mountpoint):
            for argv in ([FUSERMOUNT, "-u", "-z", self.mountpoint], ["umount", "-l",
                                                                        self.mountpoint]):
                try:
                    subprocess.run(argv, capture_output=True, timeout=15)
                except (OSError, subprocess.TimeoutExpired):
                    pass
                if not is_mounted(self.mountpoint):
                    break
        if self.daemon is None or not self.daemon.running():
            shutil.rmtree(self.scratch, ignore_errors=True)
        if is_mounted(self.mountpoint):
            log(f"WARNING: {self.mountpoint} is still mounted; leaving the directory")
            return
        try:
            os.rmdir(self.mountpoint)
        except OSError:
            pass


# ====================================================================================== bench
class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.cleanups = Cleanups()
        # Canonical, so mount points under it compare equal to /proc/self/mountinfo's.
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="rangefs-bench-"))
        self.cleanups.push(f"temporary directory {self.tmp}", self._remove_tmp)
        self.logs = os.path.join(self.tmp, "logs")
        self.www = os.path.join(self.tmp, "www")
        os.makedirs(self.logs)
        os.makedirs(self.www)
        self.big_path = os.path.join(self.www, BIG_NAME)
        self.zip_path = os.path.join(self.www, ZIP_NAME)
        self.server: Optional[loopback_nginx.LoopbackNginx] = None
        self.access: Optional[AccessLog] = None
        self.server_features: dict[str, bool] = {}
        self.results: dict[str, dict[str, dict[str, Any]]] = {}
        self.errors: dict[str, dict[str, list[str]]] = {}
        self.profile_info: dict[str, dict[str, Any]] = {}
        self.environment: dict[str, Any] = {}
        self.mount_count = 0
        # The link emulator of each link started (by label), for its PID.
        self.link_daemons: dict[str, Daemon] = {}

    def _remove_tmp(self) -> None:
        busy = [p for p in mounted_points() if p.startswith(self.tmp + os.sep)]
        if busy:
            log(f"WARNING: mounts left under {self.tmp}: {busy}; not removing it")
            return
        if self.args.keep_logs:
            keep = tempfile.mkdtemp(prefix="rangefs-bench-logs-")
            shutil.copytree(self.logs, keep, dirs_exist_ok=True)
            log(f"logs kept in {keep}")
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ----------------------------------------------------------------------------- data
    def make_data(self) -> None:
        log(f"generating {self.args.size / MiB:.0f} MiB random file and a {ZIP_MEMBERS}-member "
            "zip")
        self.write_big_file()
        self.write_zip()

    def write_big_file(self) -> None:
        chunk = 4 * MiB
        with open(self.big_path, "wb") as f:
            left = self.args.size
            while left > 0:
                n = min(chunk, left)
                f.write(os.urandom(n))
                left -= n

    def write_zip(self) -> None:
        with zipfile.ZipFile(self.zip_path, "w", zipfile.ZIP_DEFLATED) as z:
            for i in range(ZIP_MEMBERS):
                z.writestr(f"tree/d{i // 100:02d}/member-{i:05d}.txt",
                           f"member {i}\n" * (i % 40 + 1))

    def start_server(self) -> None:
        template, self.server_features = bench_nginx_template()
        # Scoped to this process: only the nginx this benchmark starts sees it.
        loopback_nginx._CONF_TEMPLATE = template  # pylint: disable=protected-access
        self.server = loopback_nginx.LoopbackNginx(self.www)
        self.server.start()
        self.cleanups.push("nginx", self.server.cleanup)
        if self.args.keep_logs:
            # Runs before the nginx cleanup above, which removes nginx's prefix directory.
            prefix = self.server.prefix
            self.cleanups.push("copy of nginx logs", lambda: shutil.copytree(
                prefix, os.path.join(self.logs, "nginx"), dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("tmp", "*.pid", "*.lock")))
        self.access = AccessLog(self.server.access_log_path)
        log(f"nginx on {self.server.base_url} (extras: "
            f"{', '.join(k for k, v in self.server_features.items() if v) or 'none'})")

    # -------------------------------------------------------------------------- workers
    def worker(self, kind: str, params: dict, timeout: float,
               mount: Optional[Mount] = None) -> dict:
        """Runs one worker; on timeout aborts the mount (which releases the stuck read), kills
        the worker, and raises BenchError."""
        argv = [sys.executable, WORKERS, json.dumps({"kind": kind, "params": params})]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)
        undo = self.cleanups.push(f"worker {proc.pid}", lambda: kill_and_reap(proc))
        try:
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                if mount is not None:
                    mount.abort()
                kill_and_reap(proc)
                raise BenchError(f"{kind} worker took longer than {timeout:.0f} s") from None
        finally:
            undo()
        try:
            result = json.loads(out.decode() or "{}")
        except ValueError:
            result = {"error": f"unreadable worker output: {out[:200]!r} {err[-500:]!r}"}
        if proc.returncode != 0 or "error" in result:
            raise BenchError(f"{kind} worker failed: {result.get('error')} "
                             f"{err.decode(errors='replace')[-500:]}")
        return result

    # ---------------------------------------------------------------------- link profiles
    def start_link(self, profile: str, target_port: Optional[int] = None,
                   label: Optional[str] = None) -> tuple[str, Callable[[], None]]:
        """Base URL for a profile (nginx itself, or rangefs_linkem in front of it) and the
        function that stops the link. target_port: another server on 127.0.0.1 than this
        benchmark's nginx; label: names the link's files when a profile has several links."""
        assert self.server is not None
        port = target_port or self.server.port
        spec = PROFILES[profile]
        if not spec["delay_ms"] and not spec["conn_rate"] and not spec["total_rate"]:
            return f"http://127.0.0.1:{port}", lambda: None
        window = self.link_window(profile)
        linkem = self.args.linkem
        if not (linkem and os.access(linkem, os.X_OK)):
            raise BenchError(f"link emulator not found ({linkem}); build scripts/bench/linkem")
        label = label or profile
        port_file = os.path.join(self.tmp, f"linkem-{label}.port")
        argv = [linkem, "--listen", "127.0.0.1:0", "--target", f"127.0.0.1:{port}",
                "--delay-ms", str(spec["delay_ms"]), "--port-file", port_file]
        if spec["conn_rate"]:
            argv += ["--conn-rate", spec["conn_rate"]]
        if spec["total_rate"]:
            argv += ["--total-rate", spec["total_rate"]]
        if window:
            argv += ["--window", str(window)]
        daemon = Daemon("linkem", argv, os.path.join(self.logs, f"linkem-{label}.log"))
        stop = self.cleanups.push(f"linkem {label}", daemon.stop)
        self.link_daemons[label] = daemon
        try:
            if not wait_until(lambda: os.path.exists(port_file) or not daemon.running(), 15):
                raise BenchError("rangefs_linkem did not write its port file within 15 s")
            if not daemon.running():
                raise BenchError(f"rangefs_linkem exited:\n{tail(daemon.log_path)}")
            with open(port_file) as f:
                port = int(f.read().strip())
        except BaseException:
            stop()
            raise
        return f"http://127.0.0.1:{port}", stop

    def link_window(self, profile: str) -> Optional[int]:
        """The TCP window rangefs_linkem gives each connection of a profile, bytes; None for
        none. Only delayed profiles get one: without delay a window bounds nothing."""
        return self.args.link_window_bytes if PROFILES[profile]["delay_ms"] else None

    def measure_rtt(self, base: str) -> Optional[float]:
        """Round trip seen by an HTTP client on a reused connection: two 1-byte range GETs in
        one curl, the second's time to first byte."""
        url = f"{base}/{ZIP_NAME}"
        try:
            done = run_bounded(["curl", "-s", "-r", "0-0", "-o", "/dev/null", "-o", "/dev/null",
                                "-w", "%{time_starttransfer}\n", url, url], 30,
                               capture_output=True, text=True)
            times = [float(x) for x in done.stdout.split()]
            return times[1] * 1000 if len(times) == 2 else None
        except (BenchError, ValueError):
            return None

    # ------------------------------------------------------------------------- baselines
    def run_curl(self, base: str) -> dict:
        url = f"{base}/{BIG_NAME}"
        start_log = self.access.settle()
        done = run_bounded(["curl", "-s", "-S", "-o", "/dev/null", "--max-time",
                            str(self.args.download_timeout), "-w",
                            "%{http_code} %{size_download} %{time_total}", url],
                           self.args.download_timeout + 30, capture_output=True, text=True)
        fields = done.stdout.split()
        if done.returncode != 0 or len(fields) != 3 or fields[0] != "200":
            raise BenchError(f"curl failed: exit {done.returncode} {done.stdout} {done.stderr}")
        size, seconds = int(fields[1]), float(fields[2])
        if size != self.args.size:
            raise BenchError(f"curl got {size} bytes, expected {self.args.size}")
        stats = AccessLog.summarize(self.access.entries(start_log, self.access.settle()))
        return {"dl_mbps": size / seconds / MB, "dl_seconds": seconds,
                "dl_requests": stats["requests"]}

    def run_aria2c(self, base: str) -> dict:
        url = f"{base}/{BIG_NAME}"
        # tmpfs when there is room: the download should not be limited by a disk.
        parent = self.tmp
        if os.path.isdir("/dev/shm"):
            st = os.statvfs("/dev/shm")
            if st.f_bavail * st.f_frsize > 2 * self.args.size:
                parent = "/dev/shm"
        out_dir = tempfile.mkdtemp(prefix="rangefs-bench-aria2-", dir=parent)
        remove = self.cleanups.push(f"aria2c dir {out_dir}",
                                    lambda: shutil.rmtree(out_dir, ignore_errors=True))
        try:
            start_log = self.access.settle()
            argv = ["aria2c", "--no-conf", "-x8", "-s8", "-k1M", "--file-allocation=none",
                    "--allow-overwrite=true", "--auto-file-renaming=false",
                    "--summary-interval=0", "--console-log-level=error",
                    "--download-result=hide", "--max-tries=1", "--timeout=30",
                    "-d", out_dir, "-o", BIG_NAME, url]
            t0 = time.monotonic()
            done = run_bounded(argv, self.args.download_timeout, capture_output=True, text=True)
            seconds = time.monotonic() - t0
            got = os.path.join(out_dir, BIG_NAME)
            size = os.path.getsize(got) if os.path.exists(got) else -1
            if done.returncode != 0 or size != self.args.size:
                raise BenchError(f"aria2c failed: exit {done.returncode}, {size} bytes; "
                                 f"{done.stdout[-300:]} {done.stderr[-300:]}")
            stats = AccessLog.summarize(self.access.entries(start_log, self.access.settle()))
            return {"dl_mbps": size / seconds / MB, "dl_seconds": seconds,
                    "dl_requests": stats["requests"]}
        finally:
            remove()

    # --------------------------------------------------------------------------- mounts
    def mount_argv(self, tool: str, url: str, name: str,
                   rangefs_options: tuple[str, ...] = ()) -> ArgvFor:
        """How each filesystem is invoked: argv from (mount point, scratch directory), made
        once per Mount. Every daemon runs in the foreground, so its PID is the process we
        started. rangefs and rangefs-base get --rangefs-args, then `rangefs_options`."""
        args = self.args
        if tool in RANGEFS_TOOLS:
            binary = args.rangefs if tool == "rangefs" else args.baseline
            extra = shlex.split(args.rangefs_args or "")
            return lambda m, _: [binary, "-f", *extra, *rangefs_options, url, m]
        if tool == "memfs":
            return lambda m, _: [args.memfs, "--size", str(args.size), "--name", name, "-f", m]
        if tool in ("httpdirfs", "httpdirfs-cache"):
            # --single-file-mode: no directory index needed. --no-range-check: 1.2.5 looks
            # for "Accept-Ranges" in the range reply's headers and exits without it.
            def httpdirfs_argv(m: str, scratch: str) -> list[str]:
                argv = ["httpdirfs", "-f", "--no-range-check"]
                if tool == "httpdirfs-cache":
                    # The mount's own scratch directory: cold phases find no earlier data.
                    argv += ["--cache", "--cache-location", scratch]
                # Must come after --cache: given before it, 1.2.5 silently runs uncached.
                return [*argv, "--single-file-mode", url, m]
            return httpdirfs_argv
        if tool == "httpfs2":
            # -c: its "console", where it writes errors; it must exist (opened without
            # O_CREAT).
            console = os.path.join(self.logs, f"httpfs2-console-{name}.log")
            open(console, "a").close()
            return lambda m, _: ["httpfs2", "-c", console, "-f", url, m]
        if tool == "rclone":
            base = url.rsplit("/", 1)[0] + "/"
            # The config file does not exist: rclone uses defaults and stores nothing.
            return lambda m, scratch: [
                "rclone", "mount", ":http:", m, "--http-url", base, "--read-only",
                "--vfs-cache-mode", "off", "--config", os.path.join(scratch, "rclone.conf"),
                "--cache-dir", scratch]
        raise BenchError(f"unknown tool {tool}")

    def tool_available(self, tool: str) -> Optional[str]:
        """None if the tool can run here, else why not."""
        binaries = {"rangefs": self.args.rangefs, BASELINE_TOOL: self.args.baseline,
                    "memfs": self.args.memfs,
                    "httpdirfs": "httpdirfs", "httpdirfs-cache": "httpdirfs",
                    "httpfs2": "httpfs2", "rclone": "rclone", "curl": "curl",
                    "aria2c": "aria2c"}
        binary = binaries[tool]
        if not binary or not (shutil.which(binary) or os.access(binary, os.X_OK)):
            return f"{binary or tool} not found"
        if tool == "rclone" and not self.server_features.get("autoindex"):
            return "rclone needs a directory index and the nginx config could not be patched"
        if tool == "httpfs2" and not self.server_features.get("accept206"):
            return "httpfs2 needs Accept-Ranges on 206 and the nginx config could not be patched"
        return None

    def phase_entries(self, start: int, end: Optional[int] = None) -> list[dict]:
        """What nginx logged from offset `start` to `end` (default: once the log is quiet)."""
        return self.access.entries(start, self.access.settle() if end is None else end)

    def phase_stats(self, start: int) -> dict:
        """Requests and bytes nginx logged since offset `start`, once the log is quiet."""
        return AccessLog.summarize(self.phase_entries(start))

    def mount_tool_phases(self, tool: str, profile: str, base: str,
                          out: dict) -> list[Callable[[], None]]:
        """A filesystem's phases, to be called in order. Each fills `out` as it goes (peak RSS
        included), so a failure late keeps the earlier numbers."""
        rss: list[int] = []

        def phase(measure: Callable[[str, str, ArgvFor, dict, list[int]], None],
                  argv_for: ArgvFor) -> Callable[[], None]:
            def run() -> None:
                measure(tool, profile, argv_for, out, rss)
                if rss:
                    out["peak_rss_kib"] = max(rss)
                    out["peak_rss_kib_per_phase"] = rss
            return run

        big = self.mount_argv(tool, f"{base}/{BIG_NAME}", BIG_NAME)
        phases = [phase(self.measure_seq, big)]
        if not self.args.skip_random:
            phases.append(phase(self.measure_random, big))
        if tool != "memfs" and not self.args.skip_unzip:
            zip_argv = self.mount_argv(tool, f"{base}/{ZIP_NAME}", ZIP_NAME)
            phases.append(phase(self.measure_unzip, zip_argv))
        return phases

    def download(self, tool: str, base: str, out: dict) -> None:
        out.update(self.run_curl(base) if tool == "curl" else self.run_aria2c(base))
        log(f"  {tool}: {out['dl_mbps']:.1f} MB/s")

    def measure_seq(self, tool: str, profile: str, argv_for: ArgvFor,
                    out: dict, rss: list[int]) -> None:
        """Sequential read of the big file, each run on a fresh mount. Fast runs are repeated
        (up to --seq-repeats, while the time spent stays within one budget) and the median run
        reported: on 2 cores a single run is noisy."""
        args = self.args
        networked = tool != "memfs"
        runs: list[dict] = []
        spent = 0.0
        while len(runs) < args.seq_repeats and (not runs or spent < args.seq_seconds):
            with Mount(self, tool, argv_for, BIG_NAME, f"{profile}-seq") as m:
                start = self.access.settle()
                r = self.worker("seq", {"path": m.file_path, "max_seconds": args.seq_seconds,
                                        "reference": self.big_path if networked else None},
                                args.seq_seconds + args.slack, m)
                if m.record_rss():
                    rss.append(m.peak_rss_kib)
            if networked:  # after unmounting: every request is finished and logged
                stats = self.phase_stats(start)
                r.update({"requests": stats["requests"], "http_bytes": stats["bytes"],
                          "connections": stats["connections"]})
            runs.append(r)
            spent += r["seconds"]
            log(f"  {tool} seq: {r['mbps']:.1f} MB/s over {r['bytes'] / MiB:.0f} MiB"
                f"{'' if r['complete'] else ' (time budget)'}")
        r = sorted(runs, key=lambda run: run["mbps"])[len(runs) // 2]
        out.update({"seq_mbps": r["mbps"], "seq_bytes_read": r["bytes"],
                    "seq_complete": r["complete"], "seq_seconds": r["seconds"],
                    "seq_runs_mbps": [run["mbps"] for run in runs]})
        if any(run["mismatches"] for run in runs):
            out["seq_mismatches"] = sum(run["mismatches"] for run in runs)
        if networked:
            out.update({"seq_requests": r["requests"], "seq_http_bytes": r["http_bytes"],
                        "seq_connections": r["connections"]})

    def measure_random(self, tool: str, profile: str, argv_for: ArgvFor,
                       out: dict, rss: list[int]) -> None:
        """Random 4 KiB preads on a fresh mount (so uncached), then re-reads of the last
        blocks read through a new open with the kernel page cache dropped: what the
        filesystem's own cache answers."""
        args = self.args
        networked = tool != "memfs"
        with Mount(self, tool, argv_for, BIG_NAME, f"{profile}-random") as m:
            start = self.access.settle()
            params = {"path": m.file_path, "size": args.size, "count": args.random_reads,
                      "seed": args.seed, "max_seconds": args.random_seconds,
                      "reference": self.big_path if networked else None}
            r = self.worker("random", params, args.random_seconds + args.slack, m)
            lat_ms = [ns / 1e6 for ns in r["latencies_ns"]]
            first = first_touch(r["offsets"], lat_ms)
            out.update({"rand_reads": len(lat_ms), "rand_planned": r["planned"],
                        "rand_seconds": r["seconds"],
                        "rand_p50_ms": percentile(lat_ms, 50),
                        "rand_p90_ms": percentile(lat_ms, 90),
                        "rand_p99_ms": percentile(lat_ms, 99),
                        "rand_max_ms": max(lat_ms) if lat_ms else None,
                        "rand_mean_ms": sum(lat_ms) / len(lat_ms) if lat_ms else None,
                        "rand_first_touch_reads": len(first),
                        "rand_first_touch_p50_ms": percentile(first, 50),
                        "rand_first_touch_p99_ms": percentile(first, 99)})
            if r["mismatches"]:
                out["rand_mismatches"] = r["mismatches"]
            if networked:
                stats = self.phase_stats(start)
                out.update({"rand_requests": stats["requests"],
                            "rand_http_bytes": stats["bytes"],
                            "rand_kib_per_read": stats["bytes"] / KiB / max(1, len(lat_ms))})
            if lat_ms:
                log(f"  {tool} random: {len(lat_ms)} reads, p50 {out['rand_p50_ms']:.2f} ms, "
                    f"p99 {out['rand_p99_ms']:.2f} ms")

            # The most recent blocks: a cache smaller than all the cold phase fetched still
            # holds them (the oldest may rightly be gone).
            reread = min(args.reread_count, len(lat_ms))
            if reread > 0:
                start = self.access.settle()
                params.update({"skip": len(lat_ms) - reread, "limit": reread,
                               "max_seconds": args.random_seconds, "drop_page_cache": True})
                r = self.worker("random", params, args.random_seconds + args.slack, m)
                re_us = [ns / 1e3 for ns in r["latencies_ns"]]
                out.update({"reread_reads": len(re_us), "reread_p50_us": percentile(re_us, 50),
                            "reread_p99_us": percentile(re_us, 99)})
                if networked:
                    out["reread_requests"] = self.phase_stats(start)["requests"]
                log(f"  {tool} re-read: p50 {out['reread_p50_us']:.0f} us")
            if m.record_rss():
                rss.append(m.peak_rss_kib)

    def run_on_mount(self, mount: Mount, argv: list[str],
                     limit: float) -> tuple[subprocess.CompletedProcess, float]:
        """Runs a program that reads from the mount (output captured as text) and times it;
        past `limit` the mount is aborted, which ends the program's stuck read."""
        t0 = time.monotonic()
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=limit,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            mount.abort()
            raise BenchError(f"{shlex.join(argv[:2])} took longer than {limit:.0f} s") from None
        except OSError as e:
            raise BenchError(f"cannot run {argv[0]}: {e}") from None
        return done, time.monotonic() - t0

    def measure_unzip(self, tool: str, profile: str, argv_for: ArgvFor,
                      out: dict, rss: list[int]) -> None:
        """`unzip -l` of the many-member zip on a fresh mount: time, requests, bytes."""
        with Mount(self, tool, argv_for, ZIP_NAME, f"{profile}-unzip") as m:
            start = self.access.settle()
            done, seconds = self.run_on_mount(m, ["unzip", "-l", m.file_path],
                                              self.args.unzip_timeout)
            last = done.stdout.strip().splitlines()[-1:] or [""]
            if done.returncode != 0 or f"{ZIP_MEMBERS} files" not in last[0]:
                raise BenchError(f"unzip -l failed: exit {done.returncode}: {last[0]} "
                                 f"{done.stderr[-300:]}")
            if m.record_rss():
                rss.append(m.peak_rss_kib)
        stats = self.phase_stats(start)
        out.update({"unzip_seconds": seconds, "unzip_requests": stats["requests"],
                    "unzip_http_bytes": stats["bytes"]})
        log(f"  {tool} unzip -l: {seconds:.2f} s, {stats['requests']} requests, "
            f"{stats['bytes'] / KiB:.0f} KiB")

    # ------------------------------------------------------------------------------- run
    def snapshot_binaries(self) -> None:
        """Copies rangefs, memfs and --baseline into the temporary directory: others rebuild the
        tree while a long run goes on, and every phase must measure the same binary."""
        bin_dir = os.path.join(self.tmp, "bin")
        os.makedirs(bin_dir, exist_ok=True)
        for attr in ("rangefs", "memfs", "baseline"):
            path = getattr(self.args, attr, None)
            if path and os.access(path, os.X_OK):
                # A directory each: rangefs and its baseline have the same name.
                os.makedirs(os.path.join(bin_dir, attr), exist_ok=True)
                copy = os.path.join(bin_dir, attr, os.path.basename(path))
                shutil.copy2(path, copy)
                setattr(self.args, attr, copy)

    def run(self) -> None:
        self.environment = environment(self.args)
        self.snapshot_binaries()
        self.make_data()
        self.start_server()
        self.each_profile(self.measure_profile)

    def each_profile(self, measure: Callable[[str, str], None]) -> None:
        """For each profile of --profiles: starts its link, measures the round trip, calls
        measure(profile, base URL) and stops the link. A profile whose link cannot start is
        recorded as skipped."""
        for profile in self.args.profiles:
            self.results[profile] = {}
            self.errors[profile] = {}
            info: dict[str, Any] = {"spec": PROFILES[profile],
                                    "link_window": self.link_window(profile)}
            self.profile_info[profile] = info
            if PROFILES[profile]["delay_ms"]:
                info["link_window_source"] = self.args.link_window_source
                log(f"profile {profile}; TCP window {self.args.link_window_source}")
            else:
                log(f"profile {profile}")
            try:
                base, stop_link = self.start_link(profile)
            except (BenchError, ValueError) as e:
                log(f"profile {profile} skipped: {e}")
                info["skipped"] = str(e)
                continue
            try:
                info["rtt_ms"] = self.measure_rtt(base)
                if info["rtt_ms"] is not None:
                    log(f"  measured round trip {info['rtt_ms']:.1f} ms")
                measure(profile, base)
            finally:
                stop_link()

    def measure_profile(self, profile: str, base: str) -> None:
        tools = self.args.tools
        paired = [t for t in tools if t in RANGEFS_TOOLS]
        for tool in tools:
            if tool in paired[1:]:
                continue  # measured with paired[0]
            self.measure_tools(profile, base, paired if tool in paired else [tool])

    def measure_tools(self, profile: str, base: str, tools: list[str]) -> None:
        """Measures one tool, or rangefs and its baseline taking turns phase by phase (a slow
        spell of the shared machine then hits both). A failure ends only that tool's later
        phases."""
        phases: dict[str, list[Callable[[], None]]] = {}
        for tool in tools:
            if tool == "memfs" and profile != "loopback":
                continue  # no network: one number is enough
            why = self.tool_available(tool)
            if why:
                self.errors[profile].setdefault(tool, []).append(f"skipped: {why}")
                log(f"  {tool} skipped: {why}")
                continue
            out: dict[str, Any] = {}
            self.results[profile][tool] = out
            if tool in DOWNLOAD_TOOLS:
                phases[tool] = [lambda t=tool, o=out: self.download(t, base, o)]
            else:
                phases[tool] = self.mount_tool_phases(tool, profile, base, out)
        for step in range(max(map(len, phases.values()), default=0)):
            for tool, todo in phases.items():
                if step >= len(todo):
                    continue
                if step == 0:
                    log(f"  {tool} ...")
                try:
                    todo[step]()
                except BenchError as e:
                    self.errors[profile].setdefault(tool, []).append(str(e))
                    log(f"  {tool} FAILED: {e}")
                    del todo[step + 1:]


def first_touch(offsets: list[int], latencies: list[float]) -> list[float]:
    """Latencies of the reads whose FIRST_TOUCH_REGION no earlier read touched."""
    seen: set[int] = set()
    out = []
    for offset, latency in zip(offsets, latencies):
        region = offset // FIRST_TOUCH_REGION
        if region not in seen:
            out.append(latency)
        seen.add(region)
    return out


def version(argv: list[str]) -> Optional[str]:
    """First line a program prints for its version option, or None."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else None


def environment(args: argparse.Namespace) -> dict:
    baseline = getattr(args, "baseline", None)  # bench.py's option; not the multirange suite's
    return {
        "kernel": platform.release(), "cpus": os.cpu_count(), "python": platform.python_version(),
        "rangefs": version([args.rangefs, "--version"]),
        "rangefs_path": os.path.abspath(args.rangefs),
        # Both may print the same version: the paths tell the builds apart.
        **({BASELINE_TOOL: version([baseline, "--version"]),
            "rangefs-base_path": os.path.abspath(baseline)} if baseline else {}),
        "curl": version(["curl", "--version"]), "aria2c": version(["aria2c", "--version"]),
        "httpdirfs": version(["httpdirfs", "--version"]),
        "rclone": version(["rclone", "version"]),
        "nginx": version([loopback_nginx.find_nginx() or "nginx", "-v"]),
    }


# ==================================================================================== main
def parse_size(text: str) -> int:
    units = {"": 1, "k": KiB, "m": MiB, "g": GiB}
    t = text.strip().lower().removesuffix("ib").removesuffix("b")
    suffix = t[-1:] if t[-1:] in "kmg" else ""
    number = t[:-1] if suffix else t
    try:
        value = int(float(number) * units[suffix])
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text} (e.g. 1G, 64M)") from None
    if value < 16 * MiB:
        raise argparse.ArgumentTypeError("size must be at least 16 MiB")
    return value


def parse_link_window(text: str) -> str | int:
    """--link-window: "auto", "off" (also 0), or a byte count in rangefs_linkem's syntax
    (decimal k/K/M/G/T, binary Ki/Mi/Gi/Ti: 4Mi = 4194304)."""
    if text in ("auto", "off"):
        return text
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(k|K|M|G|T|Ki|Mi|Gi|Ti)?", text)
    if not m:
        raise argparse.ArgumentTypeError(f"not auto, off or a byte count: {text} (e.g. 4Mi)")
    unit = m.group(2) or ""
    base = 1024 if unit.endswith("i") else 1000
    power = {"": 0, "k": 1, "K": 1, "M": 2, "G": 3, "T": 4}[unit[:1]]
    value = round(float(m.group(1)) * base ** power)
    return value if value > 0 else "off"


def tcp_buffer_max(path: str) -> int:
    """The third field (max) of tcp_wmem or tcp_rmem."""
    with open(path) as f:
        return int(f.read().split()[2])


def resolve_link_window(choice: str | int) -> tuple[Optional[int], str]:
    """The window of --link-window in bytes (None: off) and, for the report, what it is and
    where it came from."""
    if choice == "off":
        return None, "none (--link-window off)"
    if choice != "auto":
        return choice, f"{choice} bytes (--link-window)"
    try:
        wmem, rmem = tcp_buffer_max(TCP_WMEM), tcp_buffer_max(TCP_RMEM)
    except (OSError, ValueError, IndexError) as e:
        raise SystemExit(f"bench: --link-window auto: cannot read {TCP_WMEM} and {TCP_RMEM} "
                         f"({e}); pass --link-window BYTES or off") from None
    window = min(wmem, rmem)
    return window, f"{window} bytes (auto: min(tcp_wmem max {wmem}, tcp_rmem max {rmem}))"


def parse_list(allowed: list[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        items = [x.strip() for x in text.split(",") if x.strip()]
        bad = [x for x in items if x not in allowed]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(bad) or '(empty)'}; choose from {','.join(allowed)}")
        return items
    return parse


def find_binary(build_dir: str, *relative: str) -> Optional[str]:
    for rel in relative:
        for base in (build_dir, os.path.join(ROOT, "build", "bench")):
            path = os.path.join(base, rel)
            if os.access(path, os.X_OK):
                return path
    return None


def common_parser(description: str, epilog: str, size_default: str, quick: str,
                  profiles: Optional[list[str]] = None) -> argparse.ArgumentParser:
    """The options every suite of the benchmark has: profiles, file size, binaries, output.
    A suite adds its own and then calls resolve_common()."""
    p = argparse.ArgumentParser(description=description, epilog=epilog,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    profiles = profiles or list(PROFILES)
    p.add_argument("--profiles", type=parse_list(list(PROFILES)), default=profiles,
                   help=f"comma-separated subset of {','.join(PROFILES)} (default: "
                        f"{'all' if len(profiles) == len(PROFILES) else ','.join(profiles)})")
    p.add_argument("--size", type=parse_size, default=None,
                   help=f"big file size, e.g. 1G, 256M (default {size_default})")
    p.add_argument("--quick", action="store_true", help=f"smoke run: {quick}")
    p.add_argument("--mount-timeout", type=float, default=30)
    p.add_argument("--rangefs-args", default="",
                   help='extra rangefs options, one string, e.g. "--block-size 1M"')
    p.add_argument("--build-dir", default=os.path.join(ROOT, "build", "release"))
    p.add_argument("--rangefs", help="rangefs binary (default BUILD_DIR/rangefs)")
    p.add_argument("--memfs", help="rangefs_memfs (default BUILD_DIR/scripts/bench/...)")
    p.add_argument("--linkem", help="rangefs_linkem (default BUILD_DIR/scripts/bench/linkem/...)")
    p.add_argument("--link-window", type=parse_link_window, default="auto",
                   metavar="auto|off|BYTES",
                   help="TCP window per connection of the delayed profiles, so one stream gets "
                        "at most window / RTT: auto (the smaller of the tcp_wmem and tcp_rmem "
                        "maxima in /proc/sys/net/ipv4, what a default Linux stream can reach), "
                        "off (none: one stream is held back only by the machine's speed), or "
                        "bytes, e.g. 4Mi (default auto)")
    p.add_argument("--out", help="write the table and raw numbers as JSON here")
    p.add_argument("--keep-logs", action="store_true",
                   help="copy the daemons' logs to a temporary directory before cleanup")
    return p


def resolve_common(args: argparse.Namespace, defaults: dict[str, Any]) -> argparse.Namespace:
    """Fills the options left unset from `defaults` and finds the binaries."""
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.slack = 60.0  # worker limit beyond its own budget: one slow read, start-up
    args.rangefs = args.rangefs or os.path.join(args.build_dir, "rangefs")
    args.memfs = args.memfs or find_binary(args.build_dir, "scripts/bench/rangefs_memfs",
                                           "rangefs_memfs")
    args.linkem = args.linkem or find_binary(args.build_dir,
                                             "scripts/bench/linkem/rangefs_linkem",
                                             "linkem/rangefs_linkem")
    args.link_window_bytes, args.link_window_source = resolve_link_window(args.link_window)
    return args


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = common_parser(__doc__.split("\n\n")[0],
                      "Example: scripts/bench/run.sh --quick --profiles loopback\n"
                      "Before/after: scripts/bench/run.sh --baseline OLD_BUILD/rangefs",
                      "1G; 64M with --quick",
                      "64 MiB file, 200 random reads, short time budgets")
    p.add_argument("--tools", type=parse_list([*ALL_TOOLS, BASELINE_TOOL]), default=None,
                   help=f"comma-separated subset of {','.join(ALL_TOOLS)},{BASELINE_TOOL} "
                        f"(default: all; {BASELINE_TOOL} only with --baseline)")
    p.add_argument("--baseline", metavar="BINARY",
                   help="a second rangefs binary (say, a build of the commit before a change), "
                        f"measured as tool {BASELINE_TOOL} with the same options as rangefs; "
                        "the two take turns phase by phase")
    p.add_argument("--random-reads", type=int, default=None, help="default 2000 (quick: 200)")
    p.add_argument("--reread-count", type=int, default=None,
                   help="blocks re-read for the cache-hit latency (default 500; quick: 100)")
    p.add_argument("--seq-seconds", type=float, default=None,
                   help="time budget per sequential read; slower tools stop early and report "
                        "the rate so far (default 60; quick: 15)")
    p.add_argument("--seq-repeats", type=int, default=3,
                   help="fresh-mount sequential runs per tool, median reported; repeats stop "
                        "once the runs took one --seq-seconds budget (default 3)")
    p.add_argument("--random-seconds", type=float, default=None,
                   help="time budget per random-read phase (default 120; quick: 20)")
    p.add_argument("--unzip-timeout", type=float, default=120)
    p.add_argument("--download-timeout", type=float, default=300,
                   help="limit for one curl or aria2c download")
    p.add_argument("--skip-random", action="store_true")
    p.add_argument("--skip-unzip", action="store_true")
    p.add_argument("--seed", type=int, default=20240601, help="seed for the random offsets")
    args = p.parse_args(argv)
    if args.tools is None:
        args.tools = [*RANGEFS_TOOLS, *ALL_TOOLS[1:]] if args.baseline else ALL_TOOLS
    if BASELINE_TOOL in args.tools and not args.baseline:
        p.error(f"--tools {BASELINE_TOOL} needs --baseline BINARY")
    quick = args.quick
    return resolve_common(args, {
        "size": 64 * MiB if quick else GiB, "random_reads": 200 if quick else 2000,
        "reread_count": 100 if quick else 500, "seq_seconds": 15 if quick else 60,
        "random_seconds": 20 if quick else 120})


def run_guarded(bench: "Bench") -> int:
    """bench.run() with SIGTERM/SIGHUP/Ctrl-C turned into a clean stop; every cleanup runs
    whatever happens. Returns the exit status (0, 1 on failure, 130 if interrupted)."""
    def on_term(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    status = 0
    try:
        bench.run()
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        status = 130
    except (BenchError, loopback_nginx.NginxError) as e:
        log(f"FAILED: {e}")
        status = 1
    finally:
        # A second Ctrl-C during cleanup must not leave mounts behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        bench.cleanups.run_all()
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return status


def write_json(bench: "Bench", status: int, started: float, summary: dict) -> None:
    """--out: the configuration, environment, raw results and the rendered report."""
    document = {
        "config": dict(vars(bench.args)),
        "profiles": bench.profile_info,
        "environment": bench.environment,
        "results": bench.results,
        "errors": bench.errors,
        "elapsed_seconds": time.monotonic() - started,
        "interrupted": status == 130,
        **summary,
    }
    with open(bench.args.out, "w") as f:
        json.dump(document, f, indent=2, default=str)
    log(f"wrote {bench.args.out}")


def fuse_missing() -> bool:
    if os.path.exists("/dev/fuse"):
        return False
    print("bench: /dev/fuse is missing; FUSE measurements are impossible", file=sys.stderr)
    return True


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if fuse_missing():
        return 1
    bench = Bench(args)
    started = time.monotonic()
    status = run_guarded(bench)
    if bench.results:
        summary = bench_report.render(bench_report.RunSummary(
            profiles=args.profiles, tools=args.tools, results=bench.results,
            errors=bench.errors, profile_info=bench.profile_info, size=args.size,
            random_reads=args.random_reads, zip_members=ZIP_MEMBERS,
            rangefs_args=args.rangefs_args, nominal_rtt_ms=NOMINAL_RTT_MS,
            wan_link_mbps=WAN_LINK_MBPS, link_window_source=args.link_window_source))
        print(summary["report_markdown"], flush=True)
        if args.out:
            write_json(bench, status, started, summary)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
