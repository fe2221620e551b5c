"""Benchmark: Kaplan–Meier + log-rank + multivariable Cox (9 covariates, Efron).

    python benchmarks/bench_survival.py [--patients 100000 1000000] [--repeat 1000] [--json ...]

Each size runs in a fresh process: KM per arm (with medians), the log-rank test by arm and a Cox model
on arm + 8 covariates.  "575 x R" repeats the same on a 575-patient cohort R times (bootstrap scale).
Targets (issue 5): 1,000,000 patients in under 3 s; 575 patients x 1,000 in under 10 s, on 2 cores.
For scale, R survival here: survfit ~1.6 s, survdiff ~1.7 s, coxph ~6 s at 1,000,000.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _common import RESULTS, child, report

CHILD = """
import json, resource, sys, time
import numpy as np
from hccstudy.stats.km import kaplan_meier
from hccstudy.stats.logrank import logrank_test
from hccstudy.stats.cox import coxph
n, reps = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(1)
X = np.column_stack([rng.random(n) < 0.5] + [rng.standard_normal(n) for _ in range(5)] + [rng.random(n) < 0.3 for _ in range(3)]).astype(float)
beta = np.r_[-0.4, rng.normal(0, 0.2, 8)]
t = np.round(rng.exponential(20, n) * np.exp(-X @ beta), 1) + 0.1   # rounded: many ties
c = rng.exponential(30, n)
time_, event = np.minimum(t, c), t <= c
arm = X[:, 0]
def run(tm, ev, a, Xm):
    for g in (0, 1):
        kaplan_meier(tm[a == g], ev[a == g]).median
    logrank_test(tm, ev, a)
    coxph(tm, ev, Xm, [f"x{i}" for i in range(Xm.shape[1])])
t0 = time.perf_counter()
for _ in range(reps):
    run(time_, event, arm, X)
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "events": int(event.sum())}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=1000)
    ap.add_argument("--json", type=Path, default=RESULTS / "survival.json")
    args = ap.parse_args()
    rows = []
    for n, reps, target in [*((n, 1, "< 3 s" if n == 1_000_000 else "") for n in args.patients),
                            (575, args.repeat, "< 10 s" if args.repeat == 1000 else "")]:
        r = child(CHILD, n, reps)
        rows.append({"patients": n, "repeats": reps, "seconds": round(r["seconds"], 3), "events": r["events"],
                     "peak_rss_mb": round(r["peak_rss_mb"], 1), "target": target})
    report("survival", rows, ["patients", "repeats", "events", "seconds", "peak_rss_mb", "target"], args.json)

if __name__ == "__main__":
    main()
