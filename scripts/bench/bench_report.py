"""Markdown table, ratios and problem list of a rangefs benchmark run (bench.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from bench_common import KiB, MiB


@dataclass
class RunSummary:
    """Everything the report needs; results[profile][tool] is a dict of raw numbers."""
    profiles: list[str]
    tools: list[str]
    results: dict[str, dict[str, dict[str, Any]]]
    errors: dict[str, dict[str, list[str]]]
    profile_info: dict[str, dict[str, Any]]
    size: int
    random_reads: int
    zip_members: int
    rangefs_args: str
    nominal_rtt_ms: dict[str, float]
    wan_link_mbps: float
    # How the delayed profiles' TCP window was chosen (bench.py --link-window).
    link_window_source: str


# (key, label, format); a row appears for a tool when any profile has the value.
ROWS: list[tuple[str, str, str]] = [
    ("dl_mbps", "download MB/s", "{:.1f}"),
    ("seq_mbps", "seq read MB/s", "{:.1f}"),
    ("seq_requests", "seq read requests", "{:.0f}"),
    ("rand_p50_ms", "random 4K p50 ms", "{:.2f}"),
    ("rand_p99_ms", "random 4K p99 ms", "{:.2f}"),
    ("rand_first_touch_p50_ms", "random 4K first-touch p50 ms", "{:.2f}"),
    ("rand_kib_per_read", "random KiB fetched/read", "{:.0f}"),
    ("reread_p50_us", "re-read 4K p50 µs", "{:.0f}"),
    ("unzip_seconds", "unzip -l s", "{:.2f}"),
    ("unzip_requests", "unzip -l requests", "{:.0f}"),
    ("unzip_http_bytes", "unzip -l KiB fetched", "{:.0f}"),
    ("peak_rss_kib", "peak RSS MiB", "{:.1f}"),
]
# Stored in bytes or KiB, shown in KiB or MiB.
SCALE = {"unzip_http_bytes": KiB, "peak_rss_kib": KiB}


def cell(key: str, fmt: str, result: dict) -> str:
    value = result.get(key)
    if value is None:
        return "–"
    text = fmt.format(value / SCALE.get(key, 1))
    partial = ((key.startswith("seq_") and result.get("seq_complete") is False) or
               (key.startswith("rand_") and
                result.get("rand_reads", 0) < result.get("rand_planned", 0)))
    if partial:
        text += "*"
    if ((key.startswith("seq_") and result.get("seq_mismatches")) or
            (key.startswith("rand_") and result.get("rand_mismatches"))):
        text += " (WRONG DATA)"
    return text


def grid(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def rtt_cells(profiles: list[str], profile_info: dict[str, dict[str, Any]]) -> list[str]:
    """The measured round trip of each profile, ms."""
    rtts = [profile_info.get(p, {}).get("rtt_ms") for p in profiles]
    return ["–" if r is None else f"{r:.1f}" for r in rtts]


def window_cells(profiles: list[str], profile_info: dict[str, dict[str, Any]]) -> list[str]:
    """The TCP window rangefs_linkem gave each connection of each profile, MiB."""
    windows = [profile_info.get(p, {}).get("link_window") for p in profiles]
    return ["–" if w is None else f"{w / MiB:g}" for w in windows]


def markdown_table(run: RunSummary) -> str:
    profiles = [p for p in run.profiles if p in run.results]
    rows = []
    for tool in run.tools:
        for key, label, fmt in ROWS:
            values = [run.results[p].get(tool, {}) for p in profiles]
            if any(v.get(key) is not None for v in values):
                rows.append([tool, label, *(cell(key, fmt, v) for v in values)])
    rows.append(["(link)", "measured RTT ms", *rtt_cells(profiles, run.profile_info)])
    rows.append(["(link)", "TCP window MiB", *window_cells(profiles, run.profile_info)])
    return grid(["tool", "measurement", *profiles], rows)


def problem_lines(errors: dict[str, dict[str, list[str]]]) -> list[str]:
    """The "Problems" section (empty if none): first line of each error, per profile and
    row."""
    problems = [(p, t, e) for p, tools in errors.items() for t, errs in tools.items()
                for e in errs]
    if not problems:
        return []
    lines = ["", "### Problems", ""]
    for profile, tool, error in problems:
        first = error.strip().splitlines()[0] if error.strip() else error
        lines.append(f"- {profile} / {tool}: {first}")
    return lines


def ratios(run: RunSummary) -> list[tuple[str, Optional[float], str]]:
    """(label, value, what it means)."""

    def get(profile: str, tool: str, key: str) -> Optional[float]:
        return run.results.get(profile, {}).get(tool, {}).get(key)

    def div(a: Optional[float], b: Optional[float]) -> Optional[float]:
        return a / b if a is not None and b else None

    rtt = run.nominal_rtt_ms["delay20"]
    out = [
        ("loopback: rangefs seq / memfs ceiling",
         div(get("loopback", "rangefs", "seq_mbps"), get("loopback", "memfs", "seq_mbps")),
         "share of what FUSE allows on this machine"),
        (f"wan: rangefs seq / {run.wan_link_mbps:.0f} MB/s link",
         div(get("wan", "rangefs", "seq_mbps"), run.wan_link_mbps),
         "share of the link's total capacity"),
        ("wan: rangefs seq / aria2c -x8",
         div(get("wan", "rangefs", "seq_mbps"), get("wan", "aria2c", "dl_mbps")),
         "vs a parallel downloader on the same link"),
        ("delay20: rangefs seq / curl",
         div(get("delay20", "rangefs", "seq_mbps"), get("delay20", "curl", "dl_mbps")),
         "vs one TCP stream"),
    ]
    for key, what in (("rand_p50_ms", "p50"), ("rand_p99_ms", "p99"),
                      ("rand_first_touch_p50_ms", "first-touch p50"),
                      ("rand_first_touch_p99_ms", "first-touch p99")):
        out.append((f"delay20: rangefs random 4K {what} / RTT",
                    div(get("delay20", "rangefs", key), rtt),
                    f"RTT {rtt:.0f} ms; 1.0 = one round trip per read"))
    for profile in run.profiles:
        out.append((f"{profile}: rangefs unzip -l requests",
                    get(profile, "rangefs", "unzip_requests"), "HTTP requests for the listing"))
    for profile in run.profiles:
        rss = get(profile, "rangefs", "peak_rss_kib")
        out.append((f"{profile}: rangefs peak RSS MiB", rss / KiB if rss else None,
                    "VmHWM, max over the phases"))
    if "rangefs-base" in run.tools:  # bench.py --baseline
        for profile in run.profiles:
            for key, what in (("seq_mbps", "seq MB/s"), ("rand_p50_ms", "random 4K p50"),
                              ("rand_p99_ms", "random 4K p99"), ("reread_p50_us", "re-read p50")):
                out.append((f"{profile}: rangefs / rangefs-base {what}",
                            div(get(profile, "rangefs", key), get(profile, "rangefs-base", key)),
                            "1.00 = the same as --baseline"))
    # Only ratios about profiles this run measured.
    return [r for r in out if r[0].split(":", 1)[0] in run.profiles]


def render(run: RunSummary) -> dict:
    """The report as Markdown text, plus its parts for the JSON output."""
    table = markdown_table(run)
    ratio_rows = ratios(run)
    lines = ["", "## rangefs benchmark", "",
             f"file {run.size / MiB:.0f} MiB, {run.random_reads} random reads, "
             f"{run.zip_members}-member zip; rangefs args: {run.rangefs_args or '(none)'}; "
             f"TCP window of the delayed profiles: {run.link_window_source}",
             "", table, "",
             "`*` stopped at the time budget (seq: rate over the bytes read; random: "
             "percentiles over the reads done). `–` not measured. First-touch: reads whose "
             "1 MiB region no earlier read touched. TCP window: what rangefs_linkem lets one "
             "connection have in flight per round trip (one stream: at most window / RTT).", "",
             "### Ratios", ""]
    for label, value, meaning in ratio_rows:
        shown = "–" if value is None else (f"{value:.0f}" if "requests" in label
                                           else f"{value:.2f}")
        lines.append(f"- {label}: **{shown}** ({meaning})")
    lines += problem_lines(run.errors)
    return {"table_markdown": table, "report_markdown": "\n".join(lines),
            "ratios": [{"label": l, "value": v, "meaning": m} for l, v, m in ratio_rows]}
