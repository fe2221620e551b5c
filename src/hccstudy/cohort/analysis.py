"""The reference study's analysis plan as a generic analysis config (``docs/spec/study.md``, Analysis plan).

The derived analysis table of a study (one row per included patient) gets the columns the plan names
(``child_pugh_b``, ``haic_cycles_gt4``, ``female``...) and is analysed by :func:`hccstudy.analyze`:
Table 1 (paper's rows), propensity score on age, sex, maximum diameter, tumour number, vascular
invasion and extrahepatic metastasis with 1:1 nearest-neighbour matching, caliper 0.03 (SE, the smaller
arm, is MatchIt's "treated"), OS and PFS with 6/12/24-month rates, univariable then multivariable Cox
(P < 0.05), subgroups for OS, mRECIST response and adverse events.  HRs are SI vs SE.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis.config import AnalysisConfig, load_analysis_config

TABLE1 = ["age", "sex", "haic_cycles", "hbv", "child_pugh_b", "afp_gt_400", "max_diameter_cm", "multiple_tumours",
          "mvi", "ehs"]
PS_COVARIATES = ["age", "sex", "max_diameter_cm", "multiple_tumours", "mvi", "ehs"]
COX = ["arm", "age", "sex", "haic_cycles_gt4", "child_pugh_b", "afp_gt_400", "max_diameter_cm", "multiple_tumours",
       "mvi", "ehs"]
SUBGROUPS = ["sex", {"variable": "age", "cut": 60}, "haic_cycles_gt4", "afp_gt_400", "child_pugh_b",
             "multiple_tumours", "mvi", "ehs"]


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


def study_analysis_config(caliper: float = 0.03) -> AnalysisConfig:
    return load_analysis_config({
        "data": "analysis_table.parquet",
        "name": "HAIC + targeted + PD-(L)1: sequential (SE) vs simultaneous (SI)",
        "id": "id",
        "arm": {"column": "arm", "treated": "SE", "control": "SI", "labels": {"SE": "SE", "SI": "SI"}},
        "covariates": TABLE1,
        "categorical": ["sex"],
        "matching": {"on": PS_COVARIATES, "caliper": caliper},
        "endpoints": [
            {"name": "os", "time": "os_months", "event": "os_event", "unit": "months", "landmarks": [6, 12, 24]},
            {"name": "pfs", "time": "pfs_months", "event": "pfs_event", "unit": "months", "landmarks": [6, 12, 24]},
        ],
        "cox": {"variables": COX, "select_p": 0.05, "arm_reference": "treated"},
        "subgroups": SUBGROUPS,
        "response": {"column": "bor"},
        "adverse_events": {"prefix": "ae_", "suffix": "_grade"},
    })
