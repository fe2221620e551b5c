"""Seed-to-seed spread of the reproduction table (development tool).

``python -m hccstudy.synth.seeds FIRST LAST [OUT.json]`` runs the reproduction check for each seed and
prints, per target, how far the recovered values spread over the seeds (their SD and the largest
distance from the published value); with OUT.json it writes the spread that the seed test reads
(``tests/reference/synth_seed_spread.json``).

The default seed of ``hccstudy run`` is :data:`hccstudy.synth.DEFAULT_SEED` (6).  The generator builds
most targets exactly for every seed (counts, Table 1, pairs, KM rates and medians, follow-up, log-rank
P) and steers the KM confidence limits and the Cox and subgroup hazard ratios onto theirs; what is left
-- the after-matching Table 1 of the propensity factors, and what the steering misses -- spreads as this
tool measures (docs/synthetic-cohort.md).
"""

from __future__ import annotations

import json
import sys
import tempfile

import numpy as np
import pandas as pd

from ..cohort.study import load_study
from .calibration import calibration_table
from .generate import generate
from .write import write_cohort


def tables(seeds) -> dict[int, pd.DataFrame]:
    """The reproduction table of each seed's cohort (CSV only: the quicker path)."""
    out = {}
    for seed in seeds:
        with tempfile.TemporaryDirectory() as d:
            write_cohort(generate(seed), d, excel=False)
            out[seed] = calibration_table(load_study(d))
    return out


def seed_spread(by_seed: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Per numeric target: the SD of the recovered value over the seeds and the largest |recovered -
    published|; the widened band of a target is its band +- 2 SD."""
    rows = []
    first = next(iter(by_seed.values()))
    for i, r in first.iterrows():
        try:
            rec = np.array([float(t.loc[i, "recovered"]) for t in by_seed.values()])
            pub = float(r["published"])
        except (TypeError, ValueError):
            continue
        rec = rec[np.isfinite(rec)]
        if not len(rec):
            continue
        rows.append({"group": r["group"], "target": r["target"], "sd": float(np.std(rec, ddof=1)) if len(rec) > 1 else 0.0,
                     "max_miss": float(np.max(np.abs(rec - pub))), "n_seeds": len(rec)})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    a, b = int(sys.argv[1]), int(sys.argv[2])
    spread = seed_spread(tables(range(a, b + 1)))
    print(spread.to_string(index=False))
    if len(sys.argv) > 3:
        with open(sys.argv[3], "w", encoding="utf-8") as f:
            json.dump({"seeds": [a, b], "spread": spread.to_dict(orient="records")}, f, indent=1)
