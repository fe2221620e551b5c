"""Treatment arm from dates: sequential (SE) or simultaneous (SI) triple therapy.

Rule (``docs/spec/study.md``, Treatment; configurable in ``arm``):

* triple therapy needs a targeted agent (TKI or anti-VEGF antibody) and a PD-(L)1 blocker;
* SI: both classes started no later than ``first_cycle_days + si_window_days`` (2 + 21) days after HAIC
  cycle 1, i.e. within 3 weeks after the end of the first cycle;
* SE: the first systemic agent started only after the last HAIC cycle (after the HAIC phase);
* anything else (no triple therapy, systemic therapy before HAIC, or started mid-HAIC after the SI
  window) is neither, with the reason in ``arm_detail``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import ArmRule

TARGETED = ("tki", "anti_vegf")
CHECKPOINT = ("pd1", "pdl1")


def derive_arms(
    patients: pd.DataFrame, systemic: pd.DataFrame, cycles: pd.DataFrame, keys: list[str], rule: ArmRule = ArmRule()
) -> pd.DataFrame:
    """Per patient (aligned with ``patients``): first targeted / checkpoint start, last HAIC date,
    ``arm_derived`` (SE / SI / missing) and ``arm_detail``."""
    pidx = pd.MultiIndex.from_frame(patients[keys])
    s = systemic.dropna(subset=[*keys, "start_date"])
    first_t = s[s["drug_class"].isin(TARGETED)].groupby(keys)["start_date"].min().reindex(pidx)
    first_c = s[s["drug_class"].isin(CHECKPOINT)].groupby(keys)["start_date"].min().reindex(pidx)
    last_cycle = cycles.dropna(subset=[*keys, "date"]).groupby(keys)["date"].max().reindex(pidx)
    c1 = patients["first_haic_date"].to_numpy()
    last = np.where(pd.isna(last_cycle.to_numpy()), c1, last_cycle.to_numpy())
    ft, fc = first_t.to_numpy(), first_c.to_numpy()
    combo = np.maximum(ft, fc)  # NaT propagates
    first_any = np.minimum(ft, fc)
    no_triple = pd.isna(ft) | pd.isna(fc)
    no_origin = pd.isna(c1)
    before = first_any < c1 - np.timedelta64(rule.pre_haic_tolerance_days, "D")
    si = combo <= c1 + np.timedelta64(rule.first_cycle_days + rule.si_window_days, "D")
    se = first_any > last
    detail = np.select(
        [no_origin, no_triple, before, si & ~before, se],
        ["no first HAIC date", "not triple therapy (targeted + PD-(L)1)", "systemic therapy started before HAIC",
         "SI: both classes within the window after HAIC cycle 1", "SE: systemic therapy after the HAIC phase"],
        default="systemic therapy started during HAIC, after the SI window",
    )
    arm = np.full(len(detail), None, dtype=object)
    arm[np.char.startswith(detail.astype(str), "SI:")] = "SI"
    arm[np.char.startswith(detail.astype(str), "SE:")] = "SE"
    return pd.DataFrame({
        "first_targeted_date": first_t.to_numpy(), "first_checkpoint_date": first_c.to_numpy(),
        "last_haic_date": last_cycle.to_numpy(),
        "arm_derived": pd.array(arm, dtype="string"), "arm_detail": detail,
    }, index=patients.index)
