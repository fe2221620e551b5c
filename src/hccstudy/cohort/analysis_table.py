"""The derived analysis table with the columns the built-in study's plan names.

The plan itself is data (``hccstudy/data/study_plan.yaml``, study.yaml's ``analysis:``); this module
only derives, from the cohort's analysis table (one row per included patient), the columns a plan can
refer to that the derivation does not already hold: ``id`` (centre/patient_id), ``child_pugh_b``,
``haic_cycles_gt4``, the binary factors as 0/1 (as the paper's factors), ``bor`` with NE for not
evaluable, AE grades with 0 for "measured, no AE", and ``systemic_start_months`` (the exposure start of
the sensitivity analyses: months from the first HAIC, the endpoints' origin, to the first systemic
agent).  Every other derived column stays available.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: days per month of the endpoints (cohort.endpoints: 365.25 / 12)
DAYS_PER_MONTH = 30.4375


def systemic_start_months(analysis: pd.DataFrame, days_per_month: float = DAYS_PER_MONTH) -> np.ndarray:
    """Months (whole days / ``days_per_month``, as OS and PFS) from ``first_haic_date`` to the first
    systemic agent: the earlier of ``first_targeted_date`` and ``first_checkpoint_date`` (the dates the arm
    is derived from, cohort.arms), else the recorded ``first_systemic_date``; NaN when none is known."""
    dates = [pd.to_datetime(analysis[c]) for c in ("first_targeted_date", "first_checkpoint_date") if c in analysis]
    start = pd.concat(dates, axis=1).min(axis=1) if dates else pd.Series(pd.NaT, index=analysis.index)  # NaT skipped
    if "first_systemic_date" in analysis:
        start = start.fillna(pd.to_datetime(analysis["first_systemic_date"]))
    delta = (start - pd.to_datetime(analysis["first_haic_date"])).to_numpy().astype("timedelta64[D]")
    return np.where(np.isnat(delta), np.nan, delta.astype(float)) / days_per_month


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
    if "first_haic_date" in a:
        a["systemic_start_months"] = systemic_start_months(a)
    for c in [c for c in a.columns if c.startswith("ae_") and c.endswith("_grade")]:
        a[c] = pd.to_numeric(a[c]).fillna(0).to_numpy(dtype=np.int64)
    return a
