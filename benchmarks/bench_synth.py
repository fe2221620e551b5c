"""Benchmark: generate the calibrated synthetic cohort at several sizes.

    python benchmarks/bench_synth.py [--patients 3923 100000 1000000] [--json benchmarks/results/synth.json]

Each size runs in a fresh process: ``hccstudy.synth.generate(seed, n)`` (all tables in memory), then
writing the study folder as CSV (sizes up to 100,000 only; the 1,000,000 cohort is ~15 million rows).
Reports wall time, rows and peak resident memory.  Targets (issue 3): 3,923 patients in under 10 s;
time linear in the number of patients.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _common import RESULTS, child, report

CHILD = """
import json, resource, sys, tempfile, time
n, write = int(sys.argv[1]), sys.argv[2] == "1"
from hccstudy.synth import generate, write_cohort
t0 = time.perf_counter()
c = generate(6, n)
t1 = time.perf_counter()
w = None
if write:
    with tempfile.TemporaryDirectory() as d:
        write_cohort(c, d, excel=n <= 20000)
        w = time.perf_counter() - t1
rows = sum(len(df) for t in c.tables.values() for df in t.values())
print(json.dumps({"generate_s": t1 - t0, "write_s": w, "rows": rows,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, nargs="+", default=[3923, 100_000, 1_000_000])
    ap.add_argument("--json", type=Path, default=RESULTS / "synth.json")
    args = ap.parse_args()
    rows = []
    for n in args.patients:
        r = child(CHILD, n, "1" if n <= 100_000 else "0")
        rows.append({"patients": n, "rows": r["rows"], "generate_s": round(r["generate_s"], 2),
                     "write_s": None if r["write_s"] is None else round(r["write_s"], 2),
                     "us_per_patient": round(r["generate_s"] / n * 1e6, 1), "peak_rss_mb": round(r["peak_rss_mb"], 1),
                     "target": "< 10 s (generate + write)" if n == 3923 else ""})
    report("synth", rows, ["patients", "rows", "generate_s", "write_s", "us_per_patient", "peak_rss_mb"], args.json)

if __name__ == "__main__":
    main()
