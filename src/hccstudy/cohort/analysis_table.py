"""The derived analysis table with the columns the built-in study's plan names.

The plan itself is data (``hccstudy/data/study_plan.yaml``, study.yaml's ``analysis:``); this module
only derives, from the cohort's analysis table (one row per included patient), the columns a plan can
refer to that the derivation does not already hold: ``id`` (centre/patient_id), ``child_pugh_b``,
``haic_cycles_gt4``, the binary factors as 0/1 (as the paper's factors), ``bor`` with NE for not
evaluable, and AE grades with 0 for "measured, no AE".  Every other derived column stays available.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def study_table(analysis: pd.DataFrame) -> pd.DataFrame:
    """The derived analysis table with the plan's columns (booleans as 0/1, as the paper's factors)."""
    a = analysis.copy()
    a["id"] = (a["centre"].astype(str) + "/" + a["patient_id"].astype(str)).to_numpy()
    a["child_pugh_b"] = (a["child_pugh_class"] == "B").to_numpy(dtype=int)
    a["haic_cycles_gt4"] = (a["haic_cycles"] > 4).to_numpy(dtype=int)
    for c in ("hbv", "afp_gt_400", "multiple_tumours", "mvi", "ehs"):
        a[c] = pd.array(a[c], dtype="boolean").to_numpy(dtype=float, na_value=np.nan)
    a["sex"] = a["sex"].astype(str).to_numpy()
    a["bor"] = a["bor"].astype(object).where(a["bor"].notna(), "NE").to_numpy()
    a["arm"] = a["arm"].astype(str).to_numpy()
    for c in [c for c in a.columns if c.startswith("ae_") and c.endswith("_grade")]:
        a[c] = pd.to_numeric(a[c]).fillna(0).to_numpy(dtype=np.int64)
    return a
