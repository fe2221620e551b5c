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
    """BCLC 2022 stage '0', 'A', 'B', 'C' or 'D'.

    The stage is missing only when a missing input could change it: with ECOG 1 the stage is C
    whatever macrovascular invasion is; with ECOG 3 it is D whatever the Child–Pugh class is; four or
    more nodules are B without a diameter.  A missing ``ecog_cancer_related`` counts as cancer-related.
    """
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
    cp_known = ~np.asarray(cp.isna())
    end_stage = np.asarray(pd.Series(cp).isin(list(end_stage_classes)).to_numpy(dtype=bool)) & cp_known
    ps_known = ~np.isnan(ps)
    ps_eff = np.where((ps >= 1) & (ps <= 2) & ~rel, 0.0, ps)

    # Each step is a three-valued test (true / false / unknown): a missing input leaves the stage
    # missing only where it could change the stage.
    d_true = end_stage | (ps_known & (ps >= 3))
    d_false = cp_known & ~end_stage & ps_known & (ps < 3)
    spread_true = mvi_b.fillna(False).to_numpy(dtype=bool) | ehs_b.fillna(False).to_numpy(dtype=bool)
    spread_false = ~mvi_b.fillna(True).to_numpy(dtype=bool) & ~ehs_b.fillna(True).to_numpy(dtype=bool)
    ps_c_true = ps_known & (ps_eff >= 1) & (ps_eff <= 2)
    ps_c_false = ps_known & ~((ps_eff >= 1) & (ps_eff <= 2))

    single = n == 1
    stage0 = single & le(d, 2.0)
    stage_a = (single & ~le(d, 2.0)) | ((n >= 2) & (n <= 3) & le(d, 3.0))
    burden = np.where(stage0, "0", np.where(stage_a, "A", "B")).astype(object)
    # four or more nodules are B whatever their size; otherwise both number and size are needed
    burden_known = (~np.isnan(n) & ~np.isnan(d)) | (n >= 4)

    stage = np.full(len(ps), None, dtype=object)
    is_c = d_false & (spread_true | ps_c_true)
    rest = d_false & spread_false & ps_c_false & burden_known
    stage[rest] = burden[rest]
    stage[is_c] = "C"
    stage[d_true] = "D"
    return pd.Series(pd.array(stage, dtype="string"))
