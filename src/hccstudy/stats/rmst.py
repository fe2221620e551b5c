"""Restricted mean survival time (RMST), as R ``print(survfit(...), rmean = tau)`` reports ``*rmean`` and
``se(*rmean)`` (``survival:::survmean``, survival 3.5).

RMST(tau) = integral_0^tau S(t) dt, the area under the Kaplan–Meier step function from the start time
(``min(0, first time)``) to tau; beyond the last observed time the curve is carried forward (R does
the same; tau may exceed the follow-up, which then extrapolates a flat curve -- avoid it).

Variance (survmean): var = sum_{t_j <= tau} A_j^2 d_j / (n_j (n_j - d_j)), where A_j is the area under
the curve from t_j to tau (terms with n_j = d_j are 0), i.e. Greenwood's formula for the mean
(Klein and Moeschberger 2003, 4.5).  **With case weights R uses the same formula on the weighted
counts n_j, d_j, not the robust (infinitesimal-jackknife) variance that ``survfit`` reports for S(t)
when the weights are not whole numbers; this module reproduces R and so does the same.**  For IPT
weights that SE ignores the estimation of the weights and treats the weighted counts as counts:
read it as approximate (a bootstrap is the safer interval).

Difference between two arms (:func:`rmst_difference`): RMST_1 - RMST_0 with
se = sqrt(se_1^2 + se_0^2) (independent arms), a normal (Wald) CI and two-sided P (Royston and
Parmar 2013).  Default tau: the smaller of the two arms' last follow-up times (event or censoring),
so that neither curve is extrapolated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from .km import kaplan_meier


@dataclass(frozen=True)
class Rmst:
    """RMST up to ``tau`` and its standard error (R's ``*rmean``, ``se(*rmean)``)."""

    rmst: float
    se: float
    tau: float


@dataclass(frozen=True)
class RmstDifference:
    """RMST of arm 1 (``group`` true) minus arm 0, with the per-arm values, Wald CI and P."""

    tau: float
    rmst_1: float
    se_1: float
    rmst_0: float
    se_0: float
    diff: float
    se: float
    lcl: float
    ucl: float
    p: float
    conf_level: float


def rmst_from_curve(time, surv, n_risk, n_event, tau: float) -> Rmst:
    """RMST from a Kaplan–Meier table (one row per distinct time, as :func:`kaplan_meier` gives it)."""
    time = np.asarray(time, dtype=float)
    surv = np.asarray(surv, dtype=float)
    n = np.asarray(n_risk, dtype=float)
    d = np.asarray(n_event, dtype=float)
    tau = float(tau)
    start = min(0.0, float(time[0])) if len(time) else 0.0
    if not tau > start:
        raise ValueError(f"tau must be after the start of follow-up ({start:g}), got {tau:g}")
    with np.errstate(divide="ignore", invalid="ignore"):
        hh = np.where(n - d == 0, 0.0, d / (n * (n - d)))
    keep = time <= tau
    tt = np.r_[time[keep], tau]
    ss = np.r_[surv[keep], surv[keep][-1] if keep.any() else 1.0]
    hh = np.r_[hh[keep], 0.0]
    rect = np.diff(np.r_[start, tt]) * np.r_[1.0, ss[:-1]]
    # A_j = area after t_j up to tau = sum of rect[j+1:]
    after = np.cumsum(rect[::-1])[::-1]
    var = float(np.sum(np.r_[after[1:], 0.0] ** 2 * hh))
    return Rmst(float(rect.sum() + start), float(np.sqrt(var)), tau)


def rmst(time, event, tau: float, weights=None) -> Rmst:
    """RMST of one sample up to ``tau`` (optionally with case weights: weighted Kaplan–Meier, R's
    Greenwood-type SE on weighted counts, see the module docstring)."""
    t = kaplan_meier(time, event, weights=weights).table
    return rmst_from_curve(t["time"], t["surv"], t["n_risk"], t["n_event"], tau)


def default_tau(time, group) -> float:
    """The smaller of the two arms' last follow-up times."""
    time = np.asarray(time, dtype=float)
    g = _group(group, len(time))
    if g.all() or not g.any():
        raise ValueError("rmst_difference needs both arms: group has only one value")
    return float(min(time[g].max(), time[~g].max()))


def _group(group, n: int) -> np.ndarray:
    g = np.asarray(group)
    if g.shape != (n,):
        raise ValueError(f"group must have one value per observation ({n}), got shape {g.shape}")
    if g.dtype != bool:
        if not np.isin(g, [0, 1]).all():
            raise ValueError("group must be boolean or 0/1 (1 = the arm whose RMST comes first in the difference)")
        g = g.astype(bool)
    return g


def rmst_difference(time, event, group, tau: float | None = None, weights=None,
                    conf_level: float = 0.95) -> RmstDifference:
    """RMST of arm 1 (``group`` true/1) minus arm 0 up to ``tau`` (default :func:`default_tau`),
    se = sqrt(se_1^2 + se_0^2), Wald CI and two-sided P (module docstring)."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event)
    g = _group(group, len(time))
    if tau is None:
        tau = default_tau(time, g)
    elif g.all() or not g.any():
        raise ValueError("rmst_difference needs both arms: group has only one value")
    w = None if weights is None else np.asarray(weights, dtype=float)
    r1 = rmst(time[g], event[g], tau, None if w is None else w[g])
    r0 = rmst(time[~g], event[~g], tau, None if w is None else w[~g])
    diff = r1.rmst - r0.rmst
    se = float(np.hypot(r1.se, r0.se))
    z = norm.ppf(1 - (1 - conf_level) / 2)
    p = float(2 * norm.sf(abs(diff) / se)) if se > 0 else float("nan")
    return RmstDifference(float(tau), r1.rmst, r1.se, r0.rmst, r0.se, diff, se, diff - z * se, diff + z * se,
                          p, conf_level)
