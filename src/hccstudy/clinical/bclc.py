"""BCLC stage, 2022 update, and the ECOG performance-status scale.

Source: Reig M et al., J Hepatol 2022;76:681–693 (PMC8866082), Figure 1.  Applied in this order:

1. end-stage liver function (DECISION: Child–Pugh class in ``end_stage_classes``, default C) or
   ECOG ≥ 3 → D
2. macrovascular invasion or extrahepatic spread → C
3. ECOG 1–2 (cancer-related; ``ecog_cancer_related`` false overrides) → C
4. PS 0: single ≤ 2 cm → 0; single > 2 cm, or 2–3 nodules all ≤ 3 cm → A; otherwise → B

A single tumour of any size is A (the pre-2018 5-cm limit is gone).  Child–Pugh B patients are staged by
tumour and PS and flagged (``bclc_cp_b_flag``) for sensitivity analysis.  ECOG (Oken et al., Am J Clin
Oncol 1982;5:649–655) is an integer 0–5; Karnofsky scores are not mapped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._compare import le

ECOG_SCALE = {
    0: "Fully active; no restriction of pre-disease activity",
    1: "Restricted in strenuous activity; ambulatory; light or desk work",
    2: "Ambulatory, all self-care, unable to work; up > 50% of waking hours",
    3: "Limited self-care; in bed or chair > 50% of waking hours",
    4: "Completely disabled; no self-care; confined to bed or chair",
    5: "Dead",
}


def bclc_stage(
    tumour_number,
    max_diameter_cm,
    mvi,
    ehs,
    ecog,
    child_pugh_class,
    ecog_cancer_related=None,
    *,
    end_stage_classes: tuple[str, ...] = ("C",),
) -> pd.Series:
    """BCLC 2022 stage '0', 'A', 'B', 'C' or 'D' (missing when an input needed for the decision is)."""
    n = np.asarray(pd.array(tumour_number, dtype="Float64").to_numpy(dtype=float, na_value=np.nan))
    d = np.asarray(max_diameter_cm, dtype=float)
    mvi_b = pd.array(mvi, dtype="boolean")
    ehs_b = pd.array(ehs, dtype="boolean")
    ps = pd.array(ecog, dtype="Float64").to_numpy(dtype=float, na_value=np.nan)
    cp = pd.array(child_pugh_class, dtype="string")
    rel = (
        np.ones(len(ps), dtype=bool) if ecog_cancer_related is None
        else pd.array(ecog_cancer_related, dtype="boolean").fillna(True).to_numpy(dtype=bool)
    )
    end_stage = np.asarray(pd.Series(cp).isin(list(end_stage_classes)).to_numpy(dtype=bool))
    cp_known = ~np.asarray(cp.isna())
    mvi_t = mvi_b.fillna(False).to_numpy(dtype=bool)
    ehs_t = ehs_b.fillna(False).to_numpy(dtype=bool)
    spread_known = ~(np.asarray(mvi_b.isna()) | np.asarray(ehs_b.isna()))
    ps_known = ~np.isnan(ps)
    ps_eff = np.where((ps >= 1) & (ps <= 2) & ~rel, 0.0, ps)

    single = n == 1
    stage0 = single & le(d, 2.0)
    stage_a = (single & ~le(d, 2.0)) | ((n >= 2) & (n <= 3) & le(d, 3.0))
    burden = np.where(stage0, "0", np.where(stage_a, "A", "B")).astype(object)
    burden_known = ~np.isnan(n) & ~np.isnan(d)

    stage = np.full(len(ps), None, dtype=object)
    is_d = end_stage | (ps >= 3)
    is_c = ~is_d & (mvi_t | ehs_t)
    is_c_ps = ~is_d & ~is_c & (ps_eff >= 1) & (ps_eff <= 2)
    rest = ~is_d & ~is_c & ~is_c_ps
    stage[is_d] = "D"
    stage[is_c] = "C"
    stage[is_c_ps] = "C"
    stage[rest] = burden[rest]
    # What could not be decided from the data given stays missing.
    unknown_d = ~is_d & (~cp_known | ~ps_known)
    unknown_c = ~is_d & ~is_c & ~spread_known
    unknown_rest = rest & ~burden_known
    stage[unknown_d | unknown_c | unknown_rest] = None
    return pd.Series(pd.array(stage, dtype="string"))
