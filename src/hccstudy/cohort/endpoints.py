"""Overall and progression-free survival from dates (``clinical-rules.md`` section 8).

Origin: first HAIC cycle.  Months = days / ``days_per_month`` (30.4375 = 365.25 / 12, DECISION).

* OS: origin -> death from any cause; alive patients are censored at the earlier of the last-known-alive
  date and the data cut-off (a death after the cut-off is censored at the cut-off).
* PFS: origin -> first of progression and death.  Progression from mRECIST (first scan with overall
  PD, new lesions backdated), from the recorded ``progression_date``, or the earliest of both
  (``pfs_progression``).  Without an event: censored at the last adequate tumour assessment (FDA
  guidance; default) or at last follow-up (``pfs_censor``); alive with no post-baseline scan -> day 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import Endpoints


def _days(a, b) -> np.ndarray:
    return (pd.to_datetime(a) - pd.to_datetime(b)).to_numpy().astype("timedelta64[D]").astype(float)


def derive_endpoints(
    patients: pd.DataFrame, mrecist_pd: pd.Series, last_assessment: pd.Series, options: Endpoints,
    data_cutoff: pd.Timestamp | None,
) -> pd.DataFrame:
    """OS and PFS (months and event flags) for each row of ``patients``; the two Series align with it."""
    origin = patients["first_haic_date"]
    cutoff = pd.Timestamp(data_cutoff) if data_cutoff is not None else pd.Timestamp.max.normalize()
    death = patients["death_date"].where(patients["death_date"] <= cutoff)
    alive_until = patients["last_followup_date"].where(patients["last_followup_date"] <= cutoff, cutoff)
    os_event = death.notna()
    os_end = death.where(os_event, alive_until)

    recorded = patients["progression_date"]
    if options.pfs_progression == "mrecist":
        prog = mrecist_pd
    elif options.pfs_progression == "recorded":
        prog = recorded
    else:
        prog = pd.concat([mrecist_pd, recorded], axis=1).min(axis=1)
    prog = prog.where(prog <= cutoff)
    event_date = pd.concat([prog, death], axis=1).min(axis=1)
    pfs_event = event_date.notna()
    if options.pfs_censor == "last_assessment":
        censor = last_assessment.where(last_assessment <= cutoff).fillna(origin)
    else:
        censor = alive_until
    pfs_end = event_date.where(pfs_event, censor)
    dpm = options.days_per_month
    out = pd.DataFrame({
        "os_months": _days(os_end, origin) / dpm,
        "os_event": os_event.astype("int64").to_numpy(),
        "pfs_months": _days(pfs_end, origin) / dpm,
        "pfs_event": pfs_event.astype("int64").to_numpy(),
        "progression_source_date": prog.to_numpy(),
    }, index=patients.index)
    out.loc[origin.isna().to_numpy(), ["os_months", "pfs_months"]] = np.nan
    return out
