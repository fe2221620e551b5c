"""Benchmark: propensity score + 1:1 caliper matching + balance at scale.

    python benchmarks/bench_matching.py [--patients 100000 1000000] [--json benchmarks/results/matching.json]

Data: N patients, 35% treated, 8 covariates (5 continuous, 2 binary, 1 three-level factor), treatment
from a logistic model.  Each size runs in a fresh process and times the three steps of
``hccstudy analyze``: the R-glm propensity score (IRLS), MatchIt nearest-neighbour matching with a 0.2 SD
caliper on the logit, and MatchIt's balance summary (SMD, variance ratio, eCDF, before and after).
Target (issue 4): 1,000,000 patients in under 5 s and 2 GB on 2 cores.  For scale: R MatchIt 4.5
takes ~8 s at 100,000 and ~13 minutes (extrapolated) at 1,000,000.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _common import RESULTS, child, report

CHILD = """
import json, resource, sys, time
import numpy as np, pandas as pd
from hccstudy.stats.propensity import design_matrix, logistic_irls
from hccstudy.stats.matching import nearest_neighbor
from hccstudy.stats.balance import balance_table, balance_terms
n = int(sys.argv[1])
rng = np.random.default_rng(1)
df = pd.DataFrame({f"x{i}": rng.standard_normal(n) for i in range(5)})
df["b1"] = (rng.random(n) < 0.3).astype(float)
df["b2"] = (rng.random(n) < 0.6).astype(float)
df["f"] = rng.choice(["a", "b", "c"], n)
cov = list(df.columns)
X, names, _ = design_matrix(df, cov, ["f"])
beta = np.r_[-0.9, rng.normal(0, 0.3, X.shape[1] - 1)]
treated = rng.random(n) < 1 / (1 + np.exp(-X @ beta))
t0 = time.perf_counter()
X, names, _ = design_matrix(df, cov, ["f"])
fit = logistic_irls(X, treated, names)
t1 = time.perf_counter()
m = nearest_neighbor(fit.linear_predictor, treated, caliper=0.2)
t2 = time.perf_counter()
w = m.weights
bal = balance_table(balance_terms(df, cov, ["f"]), treated, w, fit.linear_predictor)
t3 = time.perf_counter()
print(json.dumps({"ps_s": t1 - t0, "match_s": t2 - t1, "balance_s": t3 - t2, "total_s": t3 - t0,
                  "treated": int(treated.sum()), "pairs": m.n_pairs, "max_abs_smd_after": float(bal["smd_after"].abs().max()),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--json", type=Path, default=RESULTS / "matching.json")
    args = ap.parse_args()
    rows = []
    for n in args.patients:
        r = child(CHILD, n)
        rows.append({"patients": n, **{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()},
                     "target": "< 5 s, < 2048 MB" if n == 1_000_000 else ""})
    report("matching", rows, ["patients", "treated", "pairs", "ps_s", "match_s", "balance_s", "total_s", "peak_rss_mb"],
           args.json)

if __name__ == "__main__":
    main()
