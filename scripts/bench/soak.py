#!/usr/bin/env python3
"""The soak under random faults, as long as wanted (tests/integration/test_soak.py is its
two-minute CI cut): the fault server injects drops, 503s, stalls, trickles, wrong slices,
answers from another version and closed keep-alive connections into --percent % of the GETs
while 16 threads read random ranges and 4 read sequentially through a real mount; every byte is
checked. Prints the table of faults injected and how the reads that met them ended, the
daemon's descriptors, threads and memory, and every pass criterion missed (exit status 1).

    scripts/bench/soak.py --minutes 10 [--binary build/release/rangefs] [--seed 1]
                          [--percent 5] [--json soak.json]

The load, the criteria and the table are in scripts/lib/soak.py.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))  # harness; it adds scripts/lib

import harness  # noqa: E402
import soak  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--binary", default=os.path.join(ROOT, "build", "release", "rangefs"),
                        help="the rangefs binary (default: the release build)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--percent", type=int, default=5, help="faulted GETs, in %%")
    parser.add_argument("--json", help="also write the report (without the reads) here")
    parser.add_argument("--failed", type=int, default=20,
                        help="list this many failed reads with the faults they met")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        parser.error(f"{binary} is not an executable (build it, or give --binary)")
    os.environ["RANGEFS_BINARY"] = binary

    def mount(operands, mount_args):
        m = harness.Mount(operands, mount_args, binary=binary)
        try:
            return m.start()
        except BaseException:
            m.cleanup()
            raise

    # SIGTERM unwinds like Ctrl-C, so that the mount, the server and the data are cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    config = soak.SoakConfig(seconds=args.minutes * 60, seed=args.seed, percent=args.percent)
    with tempfile.TemporaryDirectory(prefix="rangefs-soak-") as data:
        report = soak.run_soak(config, data, mount, log=lambda line: print(line, flush=True))
    print()
    print(soak.format_report(report))
    failed = [r for r in report.reads if r.outcome not in ("ok",)]
    if failed and args.failed:
        print(f"\nfailed reads ({len(failed)}; the first {min(len(failed), args.failed)}):")
        for r in failed[:args.failed]:
            print(f"  {soak.describe(r)} met {','.join(r.met) or 'nothing'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(soak.as_dict(report), f, indent=1, default=str)
    found = soak.problems(report)
    print("\nPASS" if not found else "\nFAIL:\n" + "\n".join(found))
    return 0 if not found else 1


if __name__ == "__main__":
    sys.exit(main())
