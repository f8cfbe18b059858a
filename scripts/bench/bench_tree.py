#!/usr/bin/env python3
"""Directory-tree benchmark: walking a mounted remote directory with rangefs, httpdirfs and
`rclone mount --http-url`, through the link emulator.

    python3 scripts/bench/bench_tree.py [--quick] [--build-dir build/release] [--out F.json]

Generates a tree of small files (10,000 in 100 directories: root/dNN/fNNNNN; --quick: 1,000
in 10), serves it with real servers started by scripts/lib/web_servers.py, each behind its
own rangefs_linkem at 20 ms one way (RTT 40 ms), and for each server and tool, each on a
fresh mount:

  ls -R     time, and the requests the server logged (GET/HEAD)
  find      `find MNT -type f | wc -l`: time, requests; the count must be the number of files
  ls -lR    time, GETs and HEADs (a listing that states exact sizes needs no HEAD)

Servers: nginx autoindex JSON (rangefs; the peers parse HTML only, so they are given the same
tree from an nginx autoindex HTML instance, said so in the table) and Apache mod_autoindex
FancyIndexing (HTML, sizes rounded: "1.2K"). Then rangefs alone: the time from start to a
visible mount of a 100,000-line --url-file.

A tool that cannot mount a directory (rangefs before directory mounts) is reported as
unsupported: the mount fails, or its root does not show the tree. Prints one Markdown table
and the ratios to rangefs; --out writes the raw numbers as JSON. Network only to 127.0.0.1;
every daemon is our child, stopped by PID, and every mount is unmounted (fusermount3 -u, then
-z), also on error and on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Callable, Optional

from bench_common import (FUSERMOUNT, BenchError, Cleanups, Daemon, is_mounted, log, tail,
                          wait_until)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "lib"))

import web_servers  # noqa: E402  (path set up above)

TOOLS = ("rangefs", "httpdirfs", "rclone")
# (label, server kind, mode for rangefs, mode for the peers, which only read HTML)
SERVERS = {
    "nginx-json": ("nginx", "json", "html"),
    "apache-fancy": ("apache", "fancy", "fancy"),
}
MEASUREMENTS = ("ls -R", "find", "ls -lR")


# ================================================================================ the tree
def make_tree(root: str, files: int, dirs: int) -> list[str]:
    """root/dNN/fNNNNN, files spread evenly over dirs; small files of varied sizes (so that a
    size rounded by Apache is not exact). Returns the relative paths."""
    width = max(2, len(str(dirs - 1)))
    paths = []
    for i in range(files):
        d = i % dirs
        rel = f"d{d:0{width}d}/f{i:05d}"
        path = os.path.join(root, rel)
        if i < dirs:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write((f"file {i}\n" * (1 + i % 300)).encode())
        paths.append(rel)
    return paths


# =============================================================================== the link
class Link:
    """rangefs_linkem in front of one server: `url` is the server's root through the link."""

    def __init__(self, linkem: str, target_port: int, delay_ms: float, logs: str, name: str,
                 cleanups: Cleanups):
        port_file = os.path.join(logs, f"linkem-{name}.port")
        argv = [linkem, "--listen", "127.0.0.1:0", "--target", f"127.0.0.1:{target_port}",
                "--delay-ms", str(delay_ms), "--port-file", port_file]
        self.daemon = Daemon(f"linkem {name}", argv, os.path.join(logs, f"linkem-{name}.log"))
        self.stop = cleanups.push(f"linkem {name}", self.daemon.stop)
        if not wait_until(lambda: os.path.exists(port_file) or not self.daemon.running(), 15):
            self.stop()
            raise BenchError("rangefs_linkem did not write its port file within 15 s")
        if not self.daemon.running():
            self.stop()
            raise BenchError(f"rangefs_linkem exited:\n{tail(self.daemon.log_path)}")
        with open(port_file) as f:
            self.url = f"http://127.0.0.1:{int(f.read().strip())}/"


# ============================================================================== the mounts
class Unsupported(BenchError):
    """The tool cannot mount a directory (yet): reported as such, not as a failure."""


class TreeMount:
    """One tool's mount of a directory URL on a fresh mount point; stop() unmounts and ends
    the daemon (by PID), whatever state it is in."""

    def __init__(self, tool: str, argv_for: Callable[[str, str], list[str]], tmp: str,
                 logs: str, cleanups: Cleanups, timeout: float):
        self.tool = tool
        self.dir = tempfile.mkdtemp(prefix=f"{tool}-", dir=tmp)
        self.mountpoint = os.path.realpath(os.path.join(self.dir, "mnt"))
        os.mkdir(self.mountpoint)
        scratch = os.path.join(self.dir, "scratch")
        os.mkdir(scratch)
        self.log_path = os.path.join(logs, f"{os.path.basename(self.dir)}.log")
        self.argv = argv_for(self.mountpoint, scratch)
        self.started = time.monotonic()
        self.daemon = Daemon(tool, self.argv, self.log_path)
        self.stop = cleanups.push(f"{tool} mount {self.mountpoint}", self._stop)
        deadline = time.monotonic() + timeout
        while not is_mounted(self.mountpoint):
            if not self.daemon.running():
                self.stop()
                raise Unsupported(f"{tool} exited ({self.daemon.process.returncode}) without "
                                  f"mounting: {tail(self.log_path, 3)}")
            if time.monotonic() > deadline:
                self.stop()
                raise BenchError(f"{tool} did not mount within {timeout:.0f} s: "
                                 f"{tail(self.log_path, 3)}")
            time.sleep(0.005)
        self.mount_seconds = time.monotonic() - self.started

    def run(self, shell: str, timeout: float) -> tuple[float, str]:
        """Runs `shell` (MNT in it is the mount point) in the mount; (seconds, stdout). On
        timeout the daemon is killed first: that aborts the FUSE connection and frees the
        command."""
        command = shell.replace("MNT", self.mountpoint)
        start = time.monotonic()
        proc = subprocess.Popen(["sh", "-c", command], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=15)
            raise BenchError(f"`{command}` took longer than {timeout:.0f} s")
        seconds = time.monotonic() - start
        if proc.returncode != 0:
            raise BenchError(f"`{command}` failed ({proc.returncode}): "
                             f"{err.decode(errors='replace')[-300:]}")
        return seconds, out.decode(errors="replace")

    def _stop(self) -> None:
        for args in ([FUSERMOUNT, "-u", self.mountpoint], [FUSERMOUNT, "-u", "-z",
                                                             self.mountpoint]):
            if not is_mounted(self.mountpoint):
                break
            try:
                subprocess.run(args, capture_output=True, timeout=15)
            except (OSError, subprocess.TimeoutExpired):
                pass
            wait_until(lambda: not is_mounted(self.mountpoint), 5)
        # A FUSE daemon exits once unmounted; give it a moment, then make it.
        if not wait_until(lambda: not self.daemon.running(), 10):
            self.daemon.stop(grace=5)
        if not is_mounted(self.mountpoint):
            shutil.rmtree(self.dir, ignore_errors=True)


# ============================================================================ the benchmark
class TreeBench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.cleanups = Cleanups()
        self.tmp = tempfile.mkdtemp(prefix="rangefs-bench-tree-")
        self.logs = os.path.join(self.tmp, "logs")
        os.mkdir(self.logs)
        self.cleanups.push("temporary directory",
                           lambda: shutil.rmtree(self.tmp, ignore_errors=True))
        self.results: dict = {"files": args.files, "dirs": args.dirs,
                              "delay_ms": args.delay_ms, "rows": [], "url_file": None}

    # ------------------------------------------------------------------------- tool argv
    def argv_for(self, tool: str, url: str) -> Callable[[str, str], list[str]]:
        if tool == "rangefs":
            extra = self.args.rangefs_args.split()
            return lambda m, _: [self.args.rangefs, "-f", *extra, url, m]
        if tool == "httpdirfs":
            # Directory mode (its default). --no-range-check: 1.2.5 otherwise wants
            # Accept-Ranges in a range reply and refuses to start without it.
            return lambda m, scratch: ["httpdirfs", "-f", "--no-range-check", url, m]
        if tool == "rclone":
            # The config file does not exist: rclone uses defaults and stores nothing.
            return lambda m, scratch: [
                "rclone", "mount", ":http:", m, "--http-url", url, "--read-only",
                "--vfs-cache-mode", "off", "--config", os.path.join(scratch, "rclone.conf"),
                "--cache-dir", scratch]
        raise BenchError(f"unknown tool {tool}")

    def tool_missing(self, tool: str) -> Optional[str]:
        binary = self.args.rangefs if tool == "rangefs" else tool
        if not (shutil.which(binary) or os.access(binary, os.X_OK)):
            return f"{binary} not found"
        return None

    # ----------------------------------------------------------------------- measurements
    def measure(self, tool: str, label: str, server: web_servers.WebServer, url: str,
                measurement: str) -> dict:
        """One measurement on a fresh mount: mount, check the tree is there, run, count."""
        timeout = self.args.command_timeout
        before = len(server.access_log_entries())
        mount = TreeMount(tool, self.argv_for(tool, url), self.tmp, self.logs, self.cleanups,
                          self.args.mount_timeout)
        row: dict = {"server": label, "tool": tool, "measurement": measurement,
                     "mount_s": mount.mount_seconds}
        try:
            start_entries = len(server.quiet_access_log_entries(quiet=0.3))
            row["mount_requests"] = start_entries - before
            if measurement == "ls -R":
                seconds, _ = mount.run("ls -R MNT >/dev/null", timeout)
            elif measurement == "find":
                seconds, out = mount.run("find MNT -type f | wc -l", timeout)
                row["count"] = int(out.strip() or 0)
            else:
                seconds, _ = mount.run("ls -lR MNT >/dev/null", timeout)
            row["seconds"] = seconds
            # Checked after the command, so that its counts include the root's listing: the
            # root must show the tree. An older rangefs mounts the listing page as one file,
            # which is not a directory mount.
            _, top = mount.run("ls -A MNT", timeout)
            if self.first_dir not in top.split():
                raise Unsupported(f"{tool} mounted, but its root shows {top.split()[:3]} "
                                  f"instead of the tree (no directory mounts)")
            if "count" in row and row["count"] != self.args.files:
                row["error"] = f"find counted {row['count']} files, not {self.args.files}"
            entries = server.quiet_access_log_entries(quiet=0.5)[start_entries:]
            counts = server.request_counts(entries)
            row["gets"] = counts.get("GET", 0)
            row["heads"] = counts.get("HEAD", 0)
            row["requests"] = len(entries)
            row["errors_4xx_5xx"] = sum(1 for e in entries if e["status"] >= 400)
        finally:
            mount.stop()
        return row

    def run_server(self, label: str) -> None:
        kind, own_mode, peer_mode = SERVERS[label]
        started: dict[str, tuple[web_servers.WebServer, str]] = {}
        for mode in {own_mode, peer_mode}:
            server = web_servers.start_server(kind, mode, self.www)
            self.cleanups.push(f"{kind} {mode}", server.cleanup)
            link = Link(self.args.linkem, server.port, self.args.delay_ms, self.logs,
                        f"{label}-{mode}", self.cleanups)
            started[mode] = (server, link.url)
            log(f"{kind} {mode}: {server.url} (pid {server.pid}), through the link {link.url}")
        for tool in self.args.tools:
            missing = self.tool_missing(tool)
            mode = own_mode if tool == "rangefs" else peer_mode
            server, url = started[mode]
            shown = f"{label}" if mode == own_mode else f"{kind}-{mode}"
            for measurement in MEASUREMENTS:
                row = {"server": shown, "tool": tool, "measurement": measurement}
                if missing:
                    row["unsupported"] = missing
                else:
                    log(f"{shown} {tool}: {measurement}")
                    try:
                        row = self.measure(tool, shown, server, url, measurement)
                    except Unsupported as e:
                        row["unsupported"] = str(e)
                        log(f"  unsupported: {e}")
                    except BenchError as e:
                        row["error"] = str(e)
                        log(f"  failed: {e}")
                self.results["rows"].append(row)
                if "unsupported" in row:
                    # The same reason holds for the other measurements.
                    for rest in MEASUREMENTS[MEASUREMENTS.index(measurement) + 1:]:
                        self.results["rows"].append({**row, "measurement": rest})
                    break

    def run_url_file(self) -> None:
        """rangefs --url-file of N lines NAME=URL, names in folders of 1000: start to mount."""
        kind, mode, _ = SERVERS["nginx-json"]
        lines = self.args.url_file_lines
        result: dict = {"lines": lines}
        self.results["url_file"] = result
        missing = self.tool_missing("rangefs")
        if missing:
            result["unsupported"] = missing
            return
        server = web_servers.start_server(kind, mode, self.www)
        stop_server = self.cleanups.push(f"{kind} {mode} (url file)", server.cleanup)
        try:
            path = os.path.join(self.tmp, "urls.txt")
            with open(path, "w") as f:
                f.write("# bench_tree.py: every file of the tree, many times over\n")
                for i in range(lines):
                    rel = self.paths[i % len(self.paths)]
                    f.write(f"g{i // 1000:03d}/u{i:06d}={server.url}{rel}\n")
            argv = lambda m, _: [self.args.rangefs, "-f", "--url-file", path, m]  # noqa: E731
            try:
                mount = TreeMount("rangefs", argv, self.tmp, self.logs, self.cleanups,
                                  self.args.mount_timeout)
            except Unsupported as e:
                result["unsupported"] = str(e)
                return
            except BenchError as e:
                result["error"] = str(e)
                return
            try:
                result["mount_s"] = mount.mount_seconds
                result["requests_at_mount"] = len(server.quiet_access_log_entries())
                _, top = mount.run("ls MNT | wc -l", self.args.command_timeout)
                result["top_entries"] = int(top.strip() or 0)
            finally:
                mount.stop()
        finally:
            stop_server()

    def run(self) -> dict:
        try:
            log(f"tree: {self.args.files} files in {self.args.dirs} directories")
            self.www = os.path.join(self.tmp, "www")
            os.mkdir(self.www)
            self.paths = make_tree(self.www, self.args.files, self.args.dirs)
            self.first_dir = self.paths[0].split("/")[0]
            for label in self.args.servers:
                self.run_server(label)
            if self.args.url_file_lines:
                log(f"rangefs --url-file of {self.args.url_file_lines} lines")
                self.run_url_file()
        finally:
            self.cleanups.run_all()
        return self.results


# ================================================================================ report
def fmt(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def report(results: dict) -> str:
    rows = results["rows"]
    rtt = 2 * results["delay_ms"] / 1000
    out = [f"Tree: {results['files']} files in {results['dirs']} directories (2 levels), "
           f"link {results['delay_ms']:g} ms one way (RTT {rtt * 1000:.0f} ms). Requests are "
           f"what the server logged during the command (the mount's own before it are "
           f"not counted); each command runs on a fresh mount.", "",
           "| server | tool | ls -R s | ls -R req | find s | find req | find count | "
           "ls -lR s | ls -lR GET | ls -lR HEAD | mount s |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    keys = []
    for r in rows:
        if (r["server"], r["tool"]) not in keys:
            keys.append((r["server"], r["tool"]))
    by = {(r["server"], r["tool"], r["measurement"]): r for r in rows}
    notes = []
    for server, tool in keys:
        cells = []
        first = by.get((server, tool, "ls -R"), {})
        if "unsupported" in first:
            notes.append(f"- {tool} on {server}: unsupported ({first['unsupported']})")
            out.append(f"| {server} | {tool} | unsupported | | | | | | | | |")
            continue
        for m in MEASUREMENTS:
            r = by.get((server, tool, m), {})
            if "error" in r:
                notes.append(f"- {tool} on {server}, {m}: {r['error']}")
            bad = "!" if "error" in r else ""
            if m == "ls -R":
                cells += [fmt(r.get("seconds")) + bad, fmt(r.get("requests"))]
            elif m == "find":
                cells += [fmt(r.get("seconds")) + bad, fmt(r.get("requests")),
                          fmt(r.get("count"))]
            else:
                cells += [fmt(r.get("seconds")) + bad, fmt(r.get("gets")), fmt(r.get("heads"))]
        cells.append(fmt(first.get("mount_s")))
        out.append(f"| {server} | {tool} | " + " | ".join(cells) + " |")
    # Ratios: each peer's time over rangefs's on the same tree (the peers' nginx rows are the
    # HTML instance of the same server kind).
    ratio_lines = []
    for server, tool in keys:
        if tool == "rangefs":
            continue
        kind = server.split("-")[0]
        ours = [k for k in keys if k[1] == "rangefs" and k[0].split("-")[0] == kind
                and by.get((k[0], "rangefs", "ls -R"), {}).get("seconds")]
        if not ours:
            ratio_lines.append(f"- {tool} / rangefs on {kind}: n/a (no rangefs times)")
            continue
        parts = []
        for m in MEASUREMENTS:
            a = by.get((server, tool, m), {}).get("seconds")
            b = by.get((ours[0][0], "rangefs", m), {}).get("seconds")
            parts.append(f"{m} {a / b:.1f}x" if a and b else f"{m} n/a")
        ratio_lines.append(f"- {tool} / rangefs on {kind}: " + ", ".join(parts))
    if ratio_lines:
        out += ["", "Time ratios (higher: rangefs faster):", *ratio_lines]
    bound = 1.3 * 2 * rtt
    out += ["", f"Target for find: one request per directory ({results['dirs'] + 1}) and at "
                f"most 1.3 x (2 levels x RTT + transfer) = {bound:.3f} s + 1.3 x transfer."]
    uf = results.get("url_file")
    if uf:
        if "unsupported" in uf:
            line = f"rangefs --url-file of {uf['lines']} lines: unsupported ({uf['unsupported']})"
        elif "error" in uf:
            line = f"rangefs --url-file of {uf['lines']} lines: failed ({uf['error']})"
        else:
            line = (f"rangefs --url-file of {uf['lines']} lines: mounted in {uf['mount_s']:.2f} s "
                    f"(target < 2 s), {uf['requests_at_mount']} requests at mount, "
                    f"{uf['top_entries']} top-level entries")
        out += ["", line]
    if notes:
        out += ["", "Notes:", *notes]
    return "\n".join(out)


# ================================================================================== main
def find_binary(build_dir: str, *relative: str) -> Optional[str]:
    for rel in relative:
        for base in (build_dir, os.path.join(ROOT, "build", "bench")):
            path = os.path.join(base, rel)
            if os.access(path, os.X_OK):
                return path
    return None


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="1,000 files in 10 directories and a 10,000-line URL file")
    p.add_argument("--files", type=int, default=None, help="default 10000 (quick: 1000)")
    p.add_argument("--dirs", type=int, default=None, help="default 100 (quick: 10)")
    p.add_argument("--url-file-lines", type=int, default=None,
                   help="lines of the --url-file mount (default 100000, quick: 10000; 0: skip)")
    p.add_argument("--delay-ms", type=float, default=20.0, help="one-way delay (default 20)")
    p.add_argument("--tools", default=",".join(TOOLS),
                   help=f"comma-separated subset of {','.join(TOOLS)}")
    p.add_argument("--servers", default=",".join(SERVERS),
                   help=f"comma-separated subset of {','.join(SERVERS)}")
    p.add_argument("--build-dir", default=os.path.join(ROOT, "build", "release"))
    p.add_argument("--rangefs", help="rangefs binary (default BUILD_DIR/rangefs)")
    p.add_argument("--rangefs-args", default="", help="extra rangefs options, one string")
    p.add_argument("--linkem", help="rangefs_linkem (default BUILD_DIR/scripts/bench/linkem/...)")
    p.add_argument("--mount-timeout", type=float, default=60.0)
    p.add_argument("--command-timeout", type=float, default=600.0,
                   help="bound on each ls/find (default 600 s)")
    p.add_argument("--out", help="write the raw numbers and the table as JSON here")
    args = p.parse_args(argv)
    args.files = args.files or (1000 if args.quick else 10000)
    args.dirs = args.dirs or (10 if args.quick else 100)
    if args.url_file_lines is None:
        args.url_file_lines = 10000 if args.quick else 100000
    args.tools = [t for t in args.tools.split(",") if t]
    args.servers = [s for s in args.servers.split(",") if s]
    for name, allowed in (("tools", TOOLS), ("servers", SERVERS)):
        bad = [x for x in getattr(args, name) if x not in allowed]
        if bad:
            p.error(f"--{name}: unknown {', '.join(bad)}; choose from {', '.join(allowed)}")
    if not 0 < args.dirs <= args.files:
        p.error("need 0 < --dirs <= --files")
    args.rangefs = os.path.abspath(args.rangefs or os.path.join(args.build_dir, "rangefs"))
    args.linkem = args.linkem or find_binary(args.build_dir,
                                             "scripts/bench/linkem/rangefs_linkem",
                                             "linkem/rangefs_linkem")
    if not args.linkem:
        p.error("rangefs_linkem not found: build the target rangefs_linkem or pass --linkem")
    return args


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    bench = TreeBench(args)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    try:
        results = bench.run()
    except KeyboardInterrupt:
        log("interrupted; everything was stopped and unmounted")
        return 130
    table = report(results)
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({**results, "table": table}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
