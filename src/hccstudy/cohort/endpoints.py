"""Overall and progression-free survival from dates (``docs/spec/clinical-rules.md`` section 8).

Origin: first HAIC cycle.  Months = days / ``days_per_month`` (30.4375 = 365.25 / 12, DECISION).

* OS: origin -> death from any cause; alive patients are censored at the earlier of the last-known-alive
  date and the data cut-off (a death after the cut-off is censored at the cut-off).  An alive patient
  with no last-known-alive date has no OS (missing time and event), never a time to a sentinel date.
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
    """Whole days from b to a; NaN where either date is missing (NaT must never become a number)."""
    delta = (pd.to_datetime(a) - pd.to_datetime(b)).to_numpy().astype("timedelta64[D]")
    return np.where(np.isnat(delta), np.nan, delta.astype(float))


def derive_endpoints(
    patients: pd.DataFrame, mrecist_pd: pd.Series, last_assessment: pd.Series, options: Endpoints,
    data_cutoff: pd.Timestamp | None,
) -> pd.DataFrame:
    """OS and PFS (months and event flags) for each row of ``patients``; the two Series align with it."""
    origin = patients["first_haic_date"]
    recorded_death = patients["death_date"]
    followup = patients["last_followup_date"]
    if data_cutoff is None:  # no cut-off: nothing is censored administratively (never a sentinel date)
        death = recorded_death
        alive_until = followup
    else:
        cutoff = pd.Timestamp(data_cutoff)
        death = recorded_death.where(recorded_death <= cutoff)
        # known alive at the cut-off: followed beyond it, or died after it
        past_cutoff = (followup > cutoff) | (recorded_death > cutoff)
        alive_until = followup.where(~past_cutoff.to_numpy(dtype=bool), cutoff)
    os_event = death.notna()
    # alive with no last-follow-up date: OS is unknown (missing), not censored at some far date
    os_end = death.where(os_event, alive_until)

    recorded = patients["progression_date"]
    if options.pfs_progression == "mrecist":
        prog = mrecist_pd
    elif options.pfs_progression == "recorded":
        prog = recorded
    else:
        prog = pd.concat([mrecist_pd, recorded], axis=1).min(axis=1)
    if data_cutoff is not None:
        prog = prog.where(prog <= pd.Timestamp(data_cutoff))
    event_date = pd.concat([prog, death], axis=1).min(axis=1)
    pfs_event = event_date.notna()
    if options.pfs_censor == "last_assessment":
        scans = last_assessment if data_cutoff is None else last_assessment.where(last_assessment <= pd.Timestamp(data_cutoff))
        censor = scans.fillna(origin)
    else:
        censor = alive_until
    pfs_end = event_date.where(pfs_event, censor)
    dpm = options.days_per_month
    os_months = _days(os_end, origin) / dpm
    pfs_months = _days(pfs_end, origin) / dpm
    # an unknown time has an unknown event status too (Int64 <NA>), so it can never be counted
    out = pd.DataFrame({
        "os_months": os_months,
        "os_event": _event(os_event, os_months),
        "pfs_months": pfs_months,
        "pfs_event": _event(pfs_event, pfs_months),
        "progression_source_date": prog.to_numpy(),
    }, index=patients.index)
    return out


def _event(event: pd.Series, months: np.ndarray) -> pd.arrays.IntegerArray:
    e = event.to_numpy(dtype=bool).astype("int64")
    return pd.array(np.where(np.isnan(months), None, e), dtype="Int64")
