"""Benchmark: generate the calibrated synthetic cohort at several sizes.

    python benchmarks/bench_synth.py [--patients 3923 100000 1000000] [--json benchmarks/results/synth.json]

Each size runs in a fresh process: ``hccstudy.synth.generate(seed, n)`` (all tables in memory), then
writing the study folder as CSV (sizes up to 100,000 only; the 1,000,000 cohort is ~15 million rows).
Reports wall time, rows and peak resident memory.  Targets (issue 3): 3,923 patients in under 10 s;
time linear in the number of patients.

One more line: the built-in study's cohort, ``generate(6)`` (it runs at the start of every built-in run,
``hccstudy synth --check`` and many tests), as CPU time (``time.process_time``, after the imports and
one warm-up call), the median of ``--cpu-repeats`` (5) calls in one fresh process.  Target: <= 1.5 s.
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

CPU_CHILD = """
import json, statistics, sys, time
from hccstudy.synth import generate
generate(6)
ts = []
for _ in range(int(sys.argv[1])):
    t0 = time.process_time()
    generate(6)
    ts.append(time.process_time() - t0)
print(json.dumps({"cpu_s": statistics.median(ts), "runs": ts}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, nargs="+", default=[3923, 100_000, 1_000_000])
    ap.add_argument("--json", type=Path, default=RESULTS / "synth.json")
    ap.add_argument("--cpu-repeats", type=int, default=5, help="calls of generate(6) for its CPU-time median (0: skip)")
    args = ap.parse_args()
    rows = []
    if args.cpu_repeats:
        r = child(CPU_CHILD, args.cpu_repeats)
        rows.append({"patients": "generate(6)", "generate_cpu_s": round(r["cpu_s"], 2),
                     "cpu_runs_s": " ".join(f"{t:.2f}" for t in r["runs"]), "target": "<= 1.5 s CPU (median)"})
    for n in args.patients:
        r = child(CHILD, n, "1" if n <= 100_000 else "0")
        rows.append({"patients": n, "rows": r["rows"], "generate_s": round(r["generate_s"], 2),
                     "write_s": None if r["write_s"] is None else round(r["write_s"], 2),
                     "us_per_patient": round(r["generate_s"] / n * 1e6, 1), "peak_rss_mb": round(r["peak_rss_mb"], 1),
                     "target": "< 10 s (generate + write)" if n == 3923 else ""})
    report("synth", rows, ["patients", "rows", "generate_s", "generate_cpu_s", "cpu_runs_s", "write_s", "us_per_patient",
                           "peak_rss_mb", "target"], args.json)

if __name__ == "__main__":
    main()
