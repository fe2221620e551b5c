"""A synthetic analysis-ready table of any size, with its `hccstudy analyze` config (the issue 13 workload).

    python benchmarks/analyze_table.py N DIR        # -> DIR/table.parquet, DIR/analyze.yaml

The workload: PS on 6 covariates, 1:1 nearest-neighbour matching with a 0.2 SD caliper, Table 1 on 8
variables, one endpoint (KM, log-rank, landmarks), univariable -> multivariable Cox on 9 variables, and
the full report.  Rows are drawn with numpy from a fixed seed (vectorised; 1e6 rows in about a second), so
every run of the benchmark sees the same table.  Survival follows a proportional-hazards model with a
treatment HR of 0.7 and covariate effects, with uniform administrative censoring.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

CONFIG = """\
data: table.parquet
id: id
arm: {column: arm, treated: SE, control: SI}
covariates: [age, sex, ecog, max_diameter_cm, multiple_tumours, mvi, ehs, afp_gt_400]
categorical: [sex]
matching:
  on: [age, sex, max_diameter_cm, multiple_tumours, mvi, ehs]
  caliper: 0.2
endpoints:
  - {name: os, time: os_months, event: os_event, unit: months, landmarks: [6, 12, 24]}
cox:
  variables: [arm, age, sex, ecog, max_diameter_cm, multiple_tumours, mvi, ehs, afp_gt_400]
  select_p: 0.05
  arm_reference: treated
"""


def make_table(n: int, seed: int = 20240501) -> pd.DataFrame:
    """``n`` patients; about 40% SE, whose PS depends on diameter, tumour number and MVI."""
    rng = np.random.default_rng(seed)
    age = np.round(rng.normal(52, 11, n).clip(18, 90), 0)
    sex = np.where(rng.random(n) < 0.86, "Male", "Female")
    ecog = (rng.random(n) < 0.45).astype(np.int64)
    diam = np.round(np.exp(rng.normal(2.1, 0.45, n)).clip(1, 25), 1)
    multi = (rng.random(n) < 0.6).astype(np.int64)
    mvi = (rng.random(n) < 0.55).astype(np.int64)
    ehs = (rng.random(n) < 0.35).astype(np.int64)
    afp = (rng.random(n) < 0.5).astype(np.int64)
    lin = -0.6 + 0.04 * (diam - 8) + 0.25 * multi - 0.2 * mvi + 0.1 * ehs
    se = rng.random(n) < 1 / (1 + np.exp(-lin))
    hazard = 0.035 * np.exp(np.log(0.7) * (~se) + 0.01 * (age - 52) + 0.3 * ecog + 0.04 * (diam - 8)
                            + 0.4 * multi + 0.35 * mvi + 0.3 * ehs + 0.25 * afp)
    t_event = rng.exponential(1 / hazard)
    t_cens = rng.uniform(6, 60, n)
    return pd.DataFrame({
        "id": np.char.add("P", np.arange(1, n + 1).astype(str)),
        "arm": np.where(se, "SE", "SI"), "age": age, "sex": sex, "ecog": ecog, "max_diameter_cm": diam,
        "multiple_tumours": multi, "mvi": mvi, "ehs": ehs, "afp_gt_400": afp,
        "os_months": np.round(np.minimum(t_event, t_cens), 2), "os_event": (t_event <= t_cens).astype(np.int64),
    })


def write(n: int, folder: Path) -> Path:
    """Write ``folder``/table.parquet and ``folder``/analyze.yaml; returns the config path."""
    folder.mkdir(parents=True, exist_ok=True)
    make_table(n).to_parquet(folder / "table.parquet", index=False)
    (folder / "analyze.yaml").write_text(CONFIG)
    return folder / "analyze.yaml"


if __name__ == "__main__":
    print(write(int(float(sys.argv[1])), Path(sys.argv[2])))
