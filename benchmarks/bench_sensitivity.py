"""Benchmark: the sensitivity analyses of issue 14 -- the bootstrap on Dask, the whole block, IPTW at scale.

    python benchmarks/bench_sensitivity.py [--replicates 1000] [--rows 1000000] [--json benchmarks/results/sensitivity.json]

1. The bootstrap of the matched HR with re-matching (``hccstudy.analysis.resampling.bootstrap_psm``) on
   the built-in study (the calibrated synthetic cohort, seed 6: 575 patients, both endpoints from the
   same replicates), ``--replicates`` replicates plus the jackknife of the chain for BCa (575 more
   chains, the same job), with 1 worker (in-process) and 2 local Dask workers.  ``cold``: including
   the start of the local cluster (worker processes importing numpy/pandas/scipy/hccstudy); ``warm``:
   on a started cluster, the median of ``--repeats`` runs (this 2-core VM's timings vary by +-15 %
   from run to run).  Speed-up = 1 worker / 2 workers.  ``ceiling``: the same chains on a plain
   ``multiprocessing`` fork pool of 2 processes (no Dask): what this machine gives at best.  Targets (issue 14): 1,000 replicates <= 10 s on 2
   cores; speed-up >= 1.7x.  ``cpu_ms_per_chain`` (1 worker): CPU time per chain (PS, matching, Cox of
   both endpoints), the number that does not depend on how busy the machine is.
2. The whole sensitivity block on the built-in study: ``analyze`` with the built-in plan minus the same
   ``analyze`` with ``sensitivity: null`` (target <= 20 s), with 2 local workers.
3. IPTW + weighted Cox on ``--rows`` rows (benchmarks/analyze_table.py's table): the propensity score
   (R glm), ATE weights, and the weighted Cox of the arm with the robust variance (target <= 5 s).

Each measurement runs in a fresh process; the built-in study's table is derived once (~1 minute).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _common import RESULTS, child, report

TABLE = """
import sys
from pathlib import Path
from hccstudy.synth import DEFAULT_SEED, generate, write_cohort
from hccstudy.cohort.study import load_study
from hccstudy.cohort.analysis_table import study_table
from hccstudy.config import load_config
out = Path(sys.argv[1])
write_cohort(generate(DEFAULT_SEED), out / "raw")
study = load_study(out / "raw", load_config(None))
study_table(study.analysis).to_parquet(out / "table.parquet", index=False)
print('{"n": %d}' % len(study.analysis))
"""

BOOTSTRAP = """
import json, statistics, sys, time
from types import SimpleNamespace
import pandas as pd
from hccstudy.analysis.config import builtin_plan
from hccstudy.analysis.run import prepare
from hccstudy.analysis.replicates import replicate_pool
from hccstudy.analysis import resampling as RS
table, workers, replicates, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
cfg = builtin_plan().with_data("table.parquet")
spec = SimpleNamespace(bootstrap=SimpleNamespace(replicates=replicates, seed=1), endpoints=None, scheduler=None,
                       workers=None)
data, _, _ = prepare(cfg, pd.read_parquet(table))
t0 = time.perf_counter()
with replicate_pool(workers=workers) as pool:
    pool.map(len, [[0]], progress=False)                # start the cluster (workers > 1)
    t1 = time.perf_counter()
    warm, cpu = [], []
    for _ in range(repeats):                             # the same job again: the median of the repeats
        a, c = time.perf_counter(), time.process_time()
        b = RS.bootstrap_psm(data, cfg, None, spec, progress=False)
        warm.append(time.perf_counter() - a)
        cpu.append(time.process_time() - c)
os_ = b["os"]
print(json.dumps({"workers": workers, "replicates": replicates, "start_s": round(t1 - t0, 2),
                  "warm_s": round(statistics.median(warm), 2), "runs_s": [round(w, 2) for w in warm],
                  "cold_s": round(t1 - t0 + warm[0], 2), "failed": os_.failed,
                  "cpu_ms_per_chain": round(statistics.median(cpu) / (replicates + len(data)) * 1000, 2)
                  if workers == 1 else None,
                  "hr": round(os_.hr, 4), "bca": [round(v, 4) for v in os_.bca],
                  "pairs_median": os_.pairs_distribution()["median"]}))
"""

#: the machine's own ceiling for this job: the same chains on a plain fork pool of 2 processes (no Dask)
CEILING = """
import json, statistics, sys, time
from multiprocessing import get_context
from types import SimpleNamespace
import numpy as np
import pandas as pd
from hccstudy.analysis.config import builtin_plan
from hccstudy.analysis.run import prepare
from hccstudy.analysis import resampling as RS
table, replicates, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cfg = builtin_plan().with_data("table.parquet")
data, _, _ = prepare(cfg, pd.read_parquet(table))
f = RS._BootstrapAndJackknife(RS.MatchedChain.from_data(data, cfg, list(cfg.endpoints)))
items = [*np.random.SeedSequence(1).spawn(replicates), *range(len(data))]
def run(ch):
    return [f(x) for x in ch]
chunks = [items[i::32] for i in range(32)]
one, two = [], []
with get_context("fork").Pool(2) as p:
    p.map(len, [[0], [1]])
    for _ in range(repeats):
        a = time.perf_counter(); run(items); one.append(time.perf_counter() - a)
        a = time.perf_counter(); p.map(run, chunks, chunksize=1); two.append(time.perf_counter() - a)
print(json.dumps({"one_s": round(statistics.median(one), 2), "two_s": round(statistics.median(two), 2),
                  "speedup": round(statistics.median(one) / statistics.median(two), 2),
                  "runs": [[round(a, 2), round(b, 2)] for a, b in zip(one, two)]}))
"""

BLOCK = """
import json, sys, time
import pandas as pd
from hccstudy.analysis import analyze
from hccstudy.analysis.config import builtin_plan
from hccstudy.analysis.replicates import replicate_pool, use_progress
table = pd.read_parquet(sys.argv[1])
plan = builtin_plan()
off = plan.model_copy(update={"sensitivity": None})
t0 = time.perf_counter()
analyze(off.with_data("table.parquet"), table)
t1 = time.perf_counter()
with use_progress(None), replicate_pool(workers=2):
    r = analyze(plan.with_data("table.parquet"), table)
t2 = time.perf_counter()
print(json.dumps({"without_s": round(t1 - t0, 2), "with_s": round(t2 - t1, 2),
                  "block_s": round((t2 - t1) - (t1 - t0), 2), "methods": sum(len(s.methods) for s in r.sensitivity.values())}))
"""

IPTW = """
import json, sys, time
sys.path.insert(0, sys.argv[2])
import numpy as np
from analyze_table import make_table
from hccstudy.stats.propensity import design_matrix, logistic_irls
from hccstudy.stats.weighting import iptw_weights
from hccstudy.stats.cox import coxph
df = make_table(int(sys.argv[1]))
t0 = time.perf_counter()
treated = (df["arm"] == "SE").to_numpy()
X, names, _ = design_matrix(df, ["age", "sex", "max_diameter_cm", "multiple_tumours", "mvi", "ehs"], ["sex"])
fit = logistic_irls(X, treated, names)
t1 = time.perf_counter()
w = iptw_weights(fit.fitted, treated, "ATE")
w = getattr(w, "weights", w)
t2 = time.perf_counter()
cox = coxph(df["os_months"].to_numpy(float), df["os_event"].to_numpy(bool), (~treated).astype(float)[:, None], ["arm"],
            weights=w, robust=True)
t3 = time.perf_counter()
print(json.dumps({"rows": len(df), "ps_s": round(t1 - t0, 2), "weights_s": round(t2 - t1, 2),
                  "weighted_cox_s": round(t3 - t2, 2), "total_s": round(t3 - t0, 2),
                  "hr": round(float(np.exp(cox.coefficients[0])), 4)}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=1000)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3, help="runs of the bootstrap per pool (the median is reported)")
    ap.add_argument("--json", type=Path, default=RESULTS / "sensitivity.json")
    ap.add_argument("--skip", nargs="*", default=[], choices=["bootstrap", "block", "iptw"])
    args = ap.parse_args()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        if not {"bootstrap", "block"} <= set(args.skip):
            n = child(TABLE, tmp)["n"]
            print(f"built-in study: {n} patients")
        table = str(Path(tmp) / "table.parquet")
        if "bootstrap" not in args.skip:
            by = {w: child(BOOTSTRAP, table, w, args.replicates, args.repeats) for w in (1, 2)}
            for w, r in by.items():
                rows.append({"what": f"bootstrap {args.replicates} + jackknife, {w} worker(s)", **r})
            rows.append({"what": "speed-up 1 -> 2 workers",
                         "warm_s": round(by[1]["warm_s"] / by[2]["warm_s"], 2),
                         "cold_s": round(by[1]["cold_s"] / by[2]["cold_s"], 2)})
            c = child(CEILING, table, args.replicates, args.repeats)
            rows.append({"what": "ceiling: the same chains, plain fork pool, 1 -> 2 processes",
                         "warm_s": c["speedup"], "runs_s": c["runs"]})
        if "block" not in args.skip:
            rows.append({"what": "whole sensitivity block (2 workers)", **child(BLOCK, table)})
    if "iptw" not in args.skip:
        rows.append({"what": f"IPTW + weighted Cox, {args.rows} rows", **child(IPTW, args.rows, Path(__file__).parent)})
    cols = ["what", "workers", "start_s", "warm_s", "runs_s", "cold_s", "cpu_ms_per_chain", "failed", "hr", "bca", "without_s", "with_s", "block_s",
            "ps_s", "weights_s", "weighted_cox_s", "total_s"]
    report("sensitivity", rows, cols, args.json)


if __name__ == "__main__":
    main()
