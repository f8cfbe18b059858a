"""A soak under random faults: the load, the checks and the table shared by
tests/integration/test_soak.py (about two minutes, ctest label `slow`) and
scripts/bench/soak.py (as long as asked).

The fault server (range_test_server.py, chaos=PERCENT,seed=N) serves several files of random
bytes; a real rangefs mount of them is read by 16 threads at random offsets and lengths (1 byte
to 1 MiB, os.pread) and 4 threads front to back, for a duration. Every byte read is compared
with the file on disk. Each read is timed; a watchdog kills the daemon when one is stuck far
past any bound (the kernel then fails every waiter), so a hang ends the run instead of hanging
it. After each read its pages are dropped from the kernel's page cache
(POSIX_FADV_DONTNEED), so reads keep reaching rangefs.

Which errors are acceptable: EIO (or a short read: the right bytes up to a page that failed,
which is how the kernel reports an EIO after some bytes), for a read that met a fault, i.e. a faulted GET of the same
file was in progress during the read or in the 2 s before it (a failed block fails the same
handle's next read of it for 1 s; 1 s more of slack). Every kind may legitimately end that
way: a drop, stall, trickle or 503 whose retries do not fit in --timeout, and at once a wrong
slice (a lie: not retried) or an answer from another version (the read fails, the probe that
follows finds the version unchanged, so later reads go on). Nothing else: an EIO with no fault
near it, ESTALE (the faults hit GETs only, so probes always confirm the version and no handle
goes stale) or any other errno fails the run.

Standard library only.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from range_test_server import CHAOS_KINDS, RangeTestServer

__all__ = ["SoakConfig", "SoakReport", "make_files", "run_soak", "format_report",
           "process_sample"]

KiB = 1024
MiB = 1024 * KiB
PROMISED_SLACK = 2.0   # what rangefs promises beyond --timeout for one read
SCHEDULING = 1.5       # Python threads, the GIL, a loaded 2-core CI machine
HANG = 60.0            # a read this much over its bound is a hang: the watchdog kills rangefs
MEMORY_OF_FAILURE = 2.0  # a failed block fails the handle's next read of it for 1 s, + slack
# Leaks, from the baseline (after the warm-up, the load paused and the server idle) to the end
# (the same state):
# descriptors other than sockets: not one more. Sockets are the keep-alive connections curl
# keeps, which vary from one quiet moment to another (a server that closed one leaves it in
# CLOSE_WAIT until curl looks at it again): at most its cache's size, CURLMOPT_MAXCONNECTS
# (kMaxCachedConnections in src/http/http_engine.cc), plus the probe's and one in flight.
MAX_SOCKETS = 64 + 2
RSS_GROWTH = 16 * MiB    # allocator noise between two quiet moments with a full cache
# Memory bound: VmRSS (sampled every 0.5 s) and VmHWM stay under the cache size + this:
# code, heaps, libcurl, buffers of transfers in flight, blocks pinned by 20 readers' replies.
RSS_OVERHEAD = 64 * MiB
MIN_READS_PER_MINUTE = 500


@dataclass
class SoakConfig:
    seconds: float = 120.0          # load, warm-up included
    warmup: float = 20.0            # load before the baseline is taken
    files: int = 8
    min_size: int = 8 * MiB
    max_size: int = 64 * MiB
    random_threads: int = 16
    sequential_threads: int = 4
    max_read: int = 1 * MiB
    sequential_chunk: int = 256 * KiB
    percent: int = 5
    seed: int = 1
    timeout: float = 10.0           # rangefs --timeout
    stall_timeout: float = 2.0      # rangefs --stall-timeout
    cache_size: int = 64 * MiB      # rangefs --cache-size: far under the files' total
    reopen_every: int = 20          # a random reader reopens its file once in this many reads
    extra_args: list[str] = field(default_factory=list)
    # Whether memory is held to its bounds: not under AddressSanitizer, whose quarantine and
    # shadow memory put a daemon's RSS in the hundreds of MiB whatever rangefs holds.
    check_memory: bool = True

    @property
    def read_bound(self) -> float:
        return self.timeout + PROMISED_SLACK + SCHEDULING

    def rangefs_args(self) -> list[str]:
        return ["--timeout", f"{self.timeout:g}", "--stall-timeout", f"{self.stall_timeout:g}",
                "--cache-size", str(self.cache_size), *self.extra_args]


@dataclass
class Read:
    """One read as the caller saw it. outcome: "ok", "wrong" (bytes differ from the disk's),
    "short" (fewer bytes than the file has there, all of them right: the kernel's answer to a
    read whose later pages failed, an EIO in all but name), or an errno name ("EIO"); start
    and end are time.time() (the server logs that clock)."""
    worker: str
    file: int
    offset: int
    length: int
    start: float
    end: float
    took: float
    outcome: str
    detail: str = ""
    met: list[str] = field(default_factory=list)  # the fault kinds it met (see _analyse)


def make_files(directory: str, config: SoakConfig) -> list[int]:
    """config.files files of random bytes (f0.bin, ...), sizes drawn from the seed; their sizes."""
    rng = random.Random(config.seed)
    sizes = []
    for i in range(config.files):
        size = rng.randint(config.min_size, config.max_size)
        with open(os.path.join(directory, f"f{i}.bin"), "wb") as f:
            left = size
            while left:
                block = os.urandom(min(4 * MiB, left))
                f.write(block)
                left -= len(block)
        sizes.append(size)
    return sizes


def process_sample(pid: int) -> dict[str, int]:
    """The daemon's open descriptors (sockets and others), threads, VmRSS and VmHWM (bytes)."""
    sockets = others = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:"):
            sockets += 1
        else:
            others += 1
    sample = {"fds": sockets + others, "sockets": sockets, "other_fds": others,
              "threads": len(os.listdir(f"/proc/{pid}/task"))}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                sample[key] = int(value.split()[0]) * 1024
    return sample


class _Load:
    """The reader threads of one phase, and the watchdog over them."""

    def __init__(self, mountpoint: str, data_dir: str, sizes: list[int], config: SoakConfig,
                 phase: int, on_hang: Callable[[str], None]):
        self.mountpoint = mountpoint
        self.data_dir = data_dir
        self.sizes = sizes
        self.config = config
        self.phase = phase
        self.on_hang = on_hang
        self.stop = threading.Event()
        self.reads: list[Read] = []
        self.failures: list[str] = []   # worker crashes: not a product verdict, a test bug
        self._lock = threading.Lock()
        self._busy: dict[str, float] = {}  # worker -> time.monotonic() its read began
        self.hung = False

    def _disk(self) -> list[int]:
        return [os.open(os.path.join(self.data_dir, f"f{i}.bin"), os.O_RDONLY)
                for i in range(len(self.sizes))]

    def _path(self, i: int) -> str:
        return os.path.join(self.mountpoint, f"f{i}.bin")

    def _timed(self, name: str, file: int, offset: int, length: int, fn: Callable[[], bytes]
               ) -> tuple[Optional[bytes], Read]:
        wall, start = time.time(), time.monotonic()
        with self._lock:
            self._busy[name] = start
        data: Optional[bytes] = None
        try:
            data = fn()
            outcome, detail = "ok", ""
        except OSError as e:
            outcome, detail = errno.errorcode.get(e.errno, str(e.errno)), str(e)
        took = time.monotonic() - start
        with self._lock:
            self._busy.pop(name, None)
        return data, Read(name, file, offset, length, wall, wall + took, took, outcome, detail)

    def _check(self, read: Read, data: bytes, disk: int) -> Read:
        expected = os.pread(disk, read.length, read.offset)
        if len(data) < len(expected) and data == expected[:len(data)]:
            # The kernel answers a read whose later pages failed with the bytes before them.
            read.outcome = "short"
            read.detail = f"{len(data)} of {len(expected)} bytes, all right"
        elif data != expected:
            at = next((i for i, (a, b) in enumerate(zip(data, expected)) if a != b),
                      min(len(data), len(expected)))
            read.outcome = "wrong"
            read.detail = (f"{len(data)} bytes read, {len(expected)} expected; first "
                           f"difference at file offset {read.offset + at}")
        return read

    def _record(self, read: Read) -> None:
        with self._lock:
            self.reads.append(read)

    def _random_reader(self, n: int) -> None:
        name = f"random{n}"
        rng = random.Random(self.config.seed * 100003 + self.phase * 1009 + n)
        disk = self._disk()
        fds: dict[int, int] = {}
        try:
            count = 0
            while not self.stop.is_set():
                count += 1
                i = rng.randrange(len(self.sizes))
                length = rng.randint(1, self.config.max_read)
                offset = rng.randrange(self.sizes[i])
                if i in fds and rng.randrange(self.config.reopen_every) == 0:
                    os.close(fds.pop(i))
                if i not in fds:
                    opened, read = self._timed(name, i, 0, 0,
                                               lambda: os.open(self._path(i), os.O_RDONLY))
                    if read.outcome != "ok":
                        read.worker += ":open"
                        self._record(read)
                        continue
                    fds[i] = opened
                fd = fds[i]
                data, read = self._timed(name, i, offset, length,
                                         lambda: os.pread(fd, length, offset))
                if data is not None:
                    self._check(read, data, disk[i])
                self._record(read)
                os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)
        except BaseException as e:  # noqa: BLE001  (reported by the caller)
            self.failures.append(f"{name}: {e!r}")
        finally:
            for fd in list(fds.values()) + disk:
                os.close(fd)

    def _sequential_reader(self, n: int) -> None:
        name = f"sequential{n}"
        disk = self._disk()
        chunk = self.config.sequential_chunk
        i = n % len(self.sizes)
        try:
            while not self.stop.is_set():
                fd, read = self._timed(name, i, 0, 0, lambda: os.open(self._path(i), os.O_RDONLY))
                if read.outcome != "ok":
                    read.worker += ":open"
                    self._record(read)
                    i = (i + 1) % len(self.sizes)
                    continue
                try:
                    offset = 0
                    while offset < self.sizes[i] and not self.stop.is_set():
                        data, read = self._timed(name, i, offset, chunk,
                                                 lambda: os.pread(fd, chunk, offset))
                        if data is not None:
                            self._check(read, data, disk[i])
                        self._record(read)
                        os.posix_fadvise(fd, offset, chunk, os.POSIX_FADV_DONTNEED)
                        offset += chunk
                finally:
                    os.close(fd)
                i = (i + 1) % len(self.sizes)
        except BaseException as e:  # noqa: BLE001
            self.failures.append(f"{name}: {e!r}")
        finally:
            for fd in disk:
                os.close(fd)

    def _watchdog(self, threads: list[threading.Thread]) -> None:
        limit = self.config.read_bound + HANG
        while any(t.is_alive() for t in threads):
            time.sleep(0.25)
            now = time.monotonic()
            with self._lock:
                stuck = [(w, now - t) for w, t in self._busy.items() if now - t > limit]
            if stuck and not self.hung:
                self.hung = True
                self.on_hang(f"{stuck[0][0]}'s read has not returned after {stuck[0][1]:.0f}s")

    def run(self, seconds: float) -> None:
        threads = [threading.Thread(target=self._random_reader, args=(n,), daemon=True)
                   for n in range(self.config.random_threads)]
        threads += [threading.Thread(target=self._sequential_reader, args=(n,), daemon=True)
                    for n in range(self.config.sequential_threads)]
        watchdog = threading.Thread(target=self._watchdog, args=(threads,), daemon=True)
        for t in threads:
            t.start()
        watchdog.start()
        self.stop.wait(seconds)
        self.stop.set()
        for t in threads:
            t.join(self.config.read_bound + HANG + 30)
        watchdog.join(5)
        if any(t.is_alive() for t in threads):
            self.failures.append("reader threads still running after the watchdog's bound")


@dataclass
class KindRow:
    injected: int = 0
    reads_ok: int = 0
    reads_eio: int = 0
    reads_eio_alone: int = 0   # failed reads that met no other kind


@dataclass
class SoakReport:
    config: SoakConfig
    sizes: list[int]
    reads: list[Read]
    requests: int                       # GETs the server logged
    rows: dict[str, KindRow]
    wrong: list[Read]
    over_bound: list[Read]
    unexplained: list[Read]             # errors no fault explains, and errnos other than EIO
    worker_failures: list[str]
    hang: Optional[str]
    baseline: dict[str, int]
    after: dict[str, int]
    peak_rss: int
    unmount_status: Optional[int]
    unmount_output: str
    exit_status: Optional[int]
    alive_at_end: bool
    stderr_tail: str
    bytes_checked: int = 0
    max_took: float = 0.0
    warnings: dict[str, int] = field(default_factory=dict)


def _ranges(value: str, size: int) -> list[tuple[int, int]]:
    """Inclusive ranges of a Range field (bytes=a-b,c-,-n); the whole file without one."""
    if not value.startswith("bytes="):
        return [(0, size - 1)]
    out = []
    for item in value[len("bytes="):].split(","):
        first, _, last = item.strip().partition("-")
        if not first:
            out.append((max(0, size - int(last)), size - 1))
        else:
            out.append((int(first), int(last) if last else size - 1))
    return out


def _analyse(reads: list[Read], entries: list[dict], sizes: list[int]
             ) -> tuple[dict[str, KindRow], list[Read]]:
    """Per kind: faults injected and the reads that met them (a faulted GET of the same file, of
    bytes the read asked for, in progress during the read), by how they ended. Returns the rows
    and the errors no fault explains."""
    rows = {kind: KindRow() for kind in CHAOS_KINDS}
    faulted: dict[int, list[tuple[float, float, list[tuple[int, int]], str]]] = {}
    for e in entries:
        if e["method"] != "GET" or not e["fault"]:
            continue
        rows.setdefault(e["fault"], KindRow()).injected += 1
        name = e["path"]
        if not (name.startswith("f") and name.endswith(".bin")):
            continue
        i = int(name[1:-4])
        faulted.setdefault(i, []).append((e["start"], e["time"],
                                          _ranges(e["range"], sizes[i]), e["fault"]))
    unexplained = []
    for read in reads:
        if read.outcome == "wrong":
            continue
        failed = read.outcome != "ok"
        if failed and read.outcome not in ("EIO", "short"):
            unexplained.append(read)
            continue
        first = read.offset
        last = max(first, min(read.offset + read.length, sizes[read.file]) - 1)
        since = read.start - (MEMORY_OF_FAILURE if failed else 0.0)
        met, near = set(), set()
        for start, end, ranges, kind in faulted.get(read.file, ()):
            if start > read.end or end < since:
                continue
            near.add(kind)
            if read.length == 0 or any(a <= last and b >= first for a, b in ranges):
                met.add(kind)
        if failed:
            met = met or near  # a fault on the same file, other bytes: e.g. a failed readahead
            if not met:
                unexplained.append(read)
        read.met = sorted(met)
        for kind in met:
            row = rows.setdefault(kind, KindRow())
            if failed:
                row.reads_eio += 1
                row.reads_eio_alone += len(met) == 1
            else:
                row.reads_ok += 1
    return rows, unexplained


def _quiet(server: RangeTestServer, seconds: float) -> None:
    """Waits until the server has no response in progress (a stall ends when rangefs gives up
    on it), then a moment more for the daemon to finish what it was doing."""
    try:
        server.settled_requests(timeout=seconds)
    except TimeoutError:
        pass
    time.sleep(1.0)


def run_soak(config: SoakConfig, data_dir: str, mount_factory: Callable[..., object],
             log: Callable[[str], None] = lambda _: None) -> SoakReport:
    """The whole soak: files in data_dir (made here), the fault server, the mount
    (mount_factory(operands, args) -> a started harness.Mount-like object: pid, mountpoint,
    abort(), alive(), process, stderr(), cleanup()), warm-up, baseline, load, measurements,
    unmount. Never leaves anything running."""
    log(f"soak: writing {config.files} files into {data_dir}")
    sizes = make_files(data_dir, config)
    with RangeTestServer(data_dir) as server:
        operands = [f"f{i}.bin=" + server.url(f"f{i}.bin", chaos=config.percent, seed=config.seed)
                    for i in range(config.files)]
        mount = mount_factory(operands, config.rangefs_args())
        try:
            return _run_mounted(config, sizes, data_dir, server, mount, log)
        finally:
            mount.cleanup()


def _run_mounted(config: SoakConfig, sizes: list[int], data_dir: str, server: RangeTestServer,
                 mount, log: Callable[[str], None]) -> SoakReport:
    pid = mount.pid
    hang: list[str] = []

    def on_hang(what: str) -> None:
        hang.append(what)
        log(f"soak: HANG: {what}; killing rangefs")
        mount.abort()

    peak = [0]
    sampling = threading.Event()

    def sample_rss() -> None:
        while not sampling.wait(0.5):
            try:
                peak[0] = max(peak[0], process_sample(pid)["VmRSS"])
            except (OSError, KeyError):
                return

    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    reads: list[Read] = []
    failures: list[str] = []
    warmup = min(config.warmup, config.seconds / 2)
    baseline: dict[str, int] = {}
    after: dict[str, int] = {}
    for phase, seconds in enumerate((warmup, config.seconds - warmup)):
        log(f"soak: phase {phase} ({'warm-up' if phase == 0 else 'load'}): {seconds:.0f}s")
        load = _Load(mount.mountpoint, data_dir, sizes, config, phase, on_hang)
        load.run(seconds)
        reads += load.reads
        failures += load.failures
        if hang or not mount.alive():
            break
        _quiet(server, config.stall_timeout * 3 + 10)
        if mount.alive():
            (baseline if phase == 0 else after).update(process_sample(pid))
            log(f"soak: {'baseline' if phase == 0 else 'after'}: "
                f"{(baseline if phase == 0 else after)}")
    sampling.set()
    sampler.join(5)
    alive = mount.alive()
    unmount_status, unmount_output, exit_status = None, "", None
    if alive:
        import subprocess  # noqa: PLC0415  (only here)
        try:
            done = subprocess.run(["fusermount3", "-u", mount.mountpoint], capture_output=True,
                                  text=True, timeout=30)
            unmount_status, unmount_output = done.returncode, done.stdout + done.stderr
        except subprocess.TimeoutExpired:
            unmount_output = "fusermount3 -u did not return within 30 s"
        try:
            exit_status = mount.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            exit_status = None
    entries = server.requests()
    rows, unexplained = _analyse(reads, entries, sizes)
    stderr = mount.stderr()
    warnings: dict[str, int] = {}
    for line in stderr.splitlines():
        _, _, message = line.partition(" rangefs ")
        level, _, text = message.partition(": ")
        if level in ("warning", "error", "critical"):
            # Without the file's name and the numbers: a rough kind of message.
            text = re.sub(r'"[^"]*"', '"..."', text.split(": ", 1)[-1])
            text = re.sub(r"[0-9]+", "#", text)[:90]
            key = f"{level}: {text}"
            warnings[key] = warnings.get(key, 0) + 1
    return SoakReport(
        config=config, sizes=sizes, reads=reads,
        requests=sum(1 for e in entries if e["method"] == "GET"), rows=rows,
        wrong=[r for r in reads if r.outcome == "wrong"],
        over_bound=[r for r in reads if r.took > config.read_bound],
        unexplained=unexplained, worker_failures=failures, hang=hang[0] if hang else None,
        baseline=baseline, after=after, peak_rss=peak[0], unmount_status=unmount_status,
        unmount_output=unmount_output, exit_status=exit_status, alive_at_end=alive,
        stderr_tail=stderr[-4000:],
        bytes_checked=sum(r.length for r in reads if r.outcome == "ok"),
        max_took=max((r.took for r in reads), default=0.0), warnings=warnings)


def problems(report: SoakReport) -> list[str]:
    """Every pass criterion the run failed, in words; [] for a pass."""
    c = report.config
    tail = f"\nrangefs stderr tail:\n{report.stderr_tail}"
    out = []
    if report.hang:
        out.append(f"hang: {report.hang}")
    out += [f"the load failed: {f}" for f in report.worker_failures]
    out += [f"WRONG BYTES: {describe(r)}" for r in report.wrong[:10]]
    out += [f"over {c.read_bound:.1f}s: {describe(r)}" for r in report.over_bound[:10]]
    out += [f"error no fault explains: {describe(r)}" for r in report.unexplained[:10]]
    if len(report.reads) < MIN_READS_PER_MINUTE * c.seconds / 60:
        out.append(f"only {len(report.reads)} reads in {c.seconds:.0f}s")
    out += [f"no {kind} fault was injected" for kind, row in report.rows.items()
            if row.injected == 0]
    if not report.alive_at_end:
        out.append("rangefs died")
    else:
        if report.unmount_status != 0:
            out.append(f"fusermount3 -u failed ({report.unmount_status}): "
                       f"{report.unmount_output}")
        if report.exit_status != 0:
            out.append(f"rangefs exited {report.exit_status} after the unmount")
    base, after = report.baseline, report.after
    if base and after:
        if after["other_fds"] > base["other_fds"]:
            out.append(f"descriptors (not sockets) leak: {base['other_fds']} -> "
                       f"{after['other_fds']}")
        if after["sockets"] > MAX_SOCKETS:
            out.append(f"sockets leak: {after['sockets']}, more than curl's connection cache "
                       f"holds ({MAX_SOCKETS})")
        if after["threads"] > base["threads"]:
            out.append(f"threads leak: {base['threads']} -> {after['threads']}")
        if c.check_memory and after["VmRSS"] > base["VmRSS"] + RSS_GROWTH:
            out.append(f"memory grows: VmRSS {base['VmRSS']} -> {after['VmRSS']}")
        bound = c.cache_size + RSS_OVERHEAD
        if c.check_memory and max(report.peak_rss, after["VmHWM"]) > bound:
            out.append(f"memory over the bound {bound}: peak VmRSS {report.peak_rss}, "
                       f"VmHWM {after['VmHWM']}")
    elif report.alive_at_end:
        out.append("no baseline or final measurement of the daemon")
    if out:
        out.append(tail)
    return out


def format_report(report: SoakReport) -> str:
    c = report.config
    reads = [r for r in report.reads if not r.worker.endswith(":open")]
    ok = sum(1 for r in reads if r.outcome == "ok")
    eio = sum(1 for r in reads if r.outcome == "EIO")
    short = sum(1 for r in reads if r.outcome == "short")
    lines = [
        f"soak: {c.seconds:.0f}s, {c.files} files ({sum(report.sizes) / MiB:.0f} MiB), "
        f"{c.random_threads} random + {c.sequential_threads} sequential readers, chaos "
        f"{c.percent}% seed {c.seed}, rangefs {' '.join(c.rangefs_args())}",
        f"reads: {len(reads)} ({ok} ok, {eio} EIO, {short} short (EIO after some bytes), "
        f"{len(report.wrong)} wrong bytes, "
        f"{len(reads) - ok - eio - short - len(report.wrong)} other errors); "
        f"{report.bytes_checked / MiB:.0f} MiB checked; slowest read {report.max_took:.2f}s "
        f"(bound {c.read_bound:.1f}s: --timeout + {PROMISED_SLACK:g}s promised + "
        f"{SCHEDULING:g}s scheduling); {report.requests} GETs",
        "",
        "Reads that met a fault: a faulted GET of the same file and of bytes the read asked for",
        "was in progress during the read (for a failed read: or in the 2 s before; or of other",
        "bytes of the file). A read meeting two kinds counts under both; 'alone': under that one.",
        "",
        "| fault | injected | reads that met it: ok | failed (EIO or short) | failed, alone |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, row in report.rows.items():
        lines.append(f"| {kind} | {row.injected} | {row.reads_ok} | {row.reads_eio} | "
                     f"{row.reads_eio_alone} |")
    total = sum(row.injected for row in report.rows.values())
    lines.append(f"| all | {total} | | | |")
    b, a = report.baseline, report.after
    if b and a:
        lines += ["",
                  f"daemon after warm-up -> end: descriptors {b['other_fds']} -> "
                  f"{a['other_fds']} and sockets {b['sockets']} -> {a['sockets']}, threads "
                  f"{b['threads']} -> {a['threads']}, VmRSS {b['VmRSS'] / MiB:.1f} -> "
                  f"{a['VmRSS'] / MiB:.1f} MiB; peak VmRSS {report.peak_rss / MiB:.1f} MiB, "
                  f"VmHWM {a['VmHWM'] / MiB:.1f} MiB (cache {c.cache_size / MiB:.0f} MiB)"]
    lines.append(f"unmount: fusermount3 -u status {report.unmount_status}, rangefs exit "
                 f"{report.exit_status}")
    if report.warnings:
        lines.append("rangefs warnings (count, message):")
        for key, count in sorted(report.warnings.items(), key=lambda kv: -kv[1])[:12]:
            lines.append(f"  {count:6d}  {key}")
    return "\n".join(lines)


def describe(read: Read) -> str:
    return (f"{read.worker} f{read.file}.bin [{read.offset}, +{read.length}) at "
            f"{read.start:.3f}: {read.outcome} after {read.took:.2f}s {read.detail}")


def as_dict(report: SoakReport) -> dict:
    """For JSON: everything but the reads themselves."""
    out = dataclasses.asdict(report)
    out.pop("reads")
    return out
