"""Kaplan–Meier estimate as R ``survival::survfit`` computes and prints it.

* S(t) = prod_{t_j <= t} (1 - d_j / n_j) with n_j = #{time >= t_j} (censored at t_j are at risk at t_j).
* Greenwood: ``std.err`` (of the cumulative hazard, as survfit stores it) = sqrt(sum d / (n (n - d))).
* Confidence intervals (``conf_type``): ``log`` (R's default) S exp(+-z se), upper capped at 1;
  ``log-log`` exp(-exp(log(-log S) -+ z se / log S)); ``plain`` S (1 +- z se) clipped to [0, 1].
  Undefined (NaN) where S = 0 or the variance is infinite.
* Median and its CI by ``print.survfit``'s rule (survival 3.x ``minmin``): the first time the curve
  (or the upper / lower band for the lower / upper limit) is <= 0.5; when it is exactly 0.5 (within
  sqrt(machine eps)) over an interval, the midpoint between that time and the next drop.  Not reached
  -> NaN (shown as "NR").
* ``surv_at``: ``summary(fit, times, extend = TRUE)`` -- the step function at each time, n at risk =
  #{time >= t}; beyond the last time the curve is carried forward with n at risk 0.
* ``median_followup``: reverse Kaplan–Meier (censoring as the event) median, the usual definition.

**Case weights** (``weights=``), exactly as ``survfit(Surv(t, e) ~ 1, weights = w)`` (survival 3.5):
n_j and d_j are sums of weights (``n_risk``, ``n_event``, ``n_censor`` are then floats; ``n`` and
``events`` stay unweighted counts, R's "records"), S(t) = prod (1 - d_j / n_j) (survfit's default
``stype = 1``, the product-limit curve; ``ctype`` only concerns the cumulative hazard, not used here).
The variance depends on the weights, as ``survfitKM``'s default ``robust = NULL`` decides (robust is
TRUE when a weight is not a whole number, or with ``cluster``/``id``, which are not offered here):

* all weights whole numbers (frequency weights): Greenwood on the weighted counts, as above;
* any non-integer weight (e.g. IPT weights): ``robust = TRUE`` with every unit its own cluster, the
  infinitesimal-jackknife (IJ) variance var S(t) = sum_i (w_i D_i(t))^2, where D_i is the derivative
  of S(t) with respect to w_i: D_i(t) = -S(t) sum_{t_j <= min(t, T_i)} (dN_i(t_j) - h_j) / (n_j - d_j),
  h_j = d_j / n_j.  Closed form used here (per distinct time, no per-unit loop): with
  A(t) = sum_{t_j <= t} d_j / (n_j (n_j - d_j)), a unit still at risk after t contributes w_i^2 A(t)^2,
  a unit with T_i <= t contributes w_i^2 (A(T_i) - delta_i / (n_{T_i} - d_{T_i}))^2; summed per
  distinct time from two weighted counts (sum w^2, sum w^2 delta), so O(n log n) for the sort only.
  Where n_j = 0 (only weight-0 units remain) there is no hazard: S and its SE are carried forward.
  Where S(t) = 0 (all at risk fail) every derivative is 0, so the SE is 0, as R gives it.

R stores ``std.err`` of S itself for the robust fit (``logse = FALSE``) and of the cumulative hazard
for Greenwood; ``survfit_confint`` divides the former by S before building the band.  Here ``std_err``
is always on the log-S (cumulative hazard) scale, so R's robust ``std.err`` = ``surv * std_err``, and
the bands use the same ``confidence_band`` formulas (R's ``conf.type``).  ``robust=`` overrides R's
default choice.  Units of weight 0 stay in the table (their times are rows, as in R) and add nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import norm

ConfType = Literal["log", "log-log", "plain"]
_TOL = np.finfo(float).eps ** 0.5


@dataclass(frozen=True)
class KaplanMeier:
    """One Kaplan–Meier curve: ``table`` has one row per distinct time (event or censoring):
    time, n_risk, n_event, n_censor, surv, std_err, lower, upper."""

    table: pd.DataFrame
    n: int
    events: int
    conf_level: float
    conf_type: str
    variance: str = "greenwood"  # "robust" (infinitesimal jackknife) for survfit's default with non-integer weights

    @property
    def median(self) -> tuple[float, float, float]:
        """(median, lower, upper) by ``print.survfit``'s rule; NaN = not reached."""
        t = self.table
        x = t["time"].to_numpy()
        return (_minmin(t["surv"].to_numpy(), x), _minmin(t["lower"].to_numpy(), x),
                _minmin(t["upper"].to_numpy(), x))

    def surv_at(self, times) -> pd.DataFrame:
        """Survival, CI and n at risk at given times (``summary(fit, times, extend = TRUE)``)."""
        times = np.asarray(times, dtype=float)
        t = self.table
        x = t["time"].to_numpy()
        i = np.searchsorted(x, times, side="right") - 1  # last step at or before each time
        take = lambda col, fill: np.where(i >= 0, t[col].to_numpy()[np.maximum(i, 0)], fill)  # noqa: E731
        j = np.searchsorted(x, times, side="left")  # first time >= t
        nrisk = np.where(j < len(x), t["n_risk"].to_numpy()[np.minimum(j, len(x) - 1)], 0)
        return pd.DataFrame({"time": times, "n_risk": nrisk.astype(t["n_risk"].dtype), "surv": take("surv", 1.0),
                             "std_err": take("std_err", 0.0), "lower": take("lower", 1.0), "upper": take("upper", 1.0)})


def _minmin(y: np.ndarray, x: np.ndarray) -> float:
    keep = ~np.isnan(y) & (y < 0.5 + _TOL)
    if not keep.any():
        return float("nan")
    x, y = x[keep], y[keep]
    if abs(y[0] - 0.5) < _TOL and (y < y[0]).any():
        return float((x[0] + x[np.flatnonzero(y < y[0])[0]]) / 2)
    return float(x[0])


def confidence_band(surv: np.ndarray, std_err: np.ndarray, conf_level: float = 0.95,
                    conf_type: ConfType = "log") -> tuple[np.ndarray, np.ndarray]:
    """Pointwise CI of S(t) from the cumulative-hazard standard error (survfit's ``std.err``)."""
    z = norm.ppf(1 - (1 - conf_level) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "log":
            xx = np.where(surv == 0, np.nan, surv)
            lower = np.exp(np.log(xx) - z * std_err)
            upper = np.minimum(np.exp(np.log(xx) + z * std_err), 1.0)
        elif conf_type == "log-log":
            xx = np.where((surv == 0) | (surv == 1), np.nan, surv)
            temp1 = np.log(-np.log(xx))
            se2 = z * std_err / np.log(xx)
            lower = np.exp(-np.exp(temp1 - se2))
            upper = np.exp(-np.exp(temp1 + se2))
        elif conf_type == "plain":
            se2 = z * std_err * surv
            lower = np.maximum(surv - se2, 0.0)
            upper = np.minimum(surv + se2, 1.0)
        else:
            raise ValueError(f"unknown conf_type {conf_type!r}")
    bad = ~np.isfinite(std_err)
    lower = np.where(bad, np.nan, lower)
    upper = np.where(bad, np.nan, upper)
    if conf_type == "log-log":  # S = 1: band is [1, 1] in R
        lower = np.where(surv == 1, 1.0, lower)
        upper = np.where(surv == 1, 1.0, upper)
    return lower, upper


def kaplan_meier(time, event, conf_level: float = 0.95, conf_type: ConfType = "log", weights=None,
                 robust: bool | None = None) -> KaplanMeier:
    """Kaplan–Meier curve of right-censored data (``event`` true/1 = event), optionally with case
    ``weights`` (module docstring: weighted counts; IJ variance when a weight is not a whole number
    or ``robust=True``, Greenwood otherwise)."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(bool)
    if np.isnan(time).any():
        raise ValueError("time has missing values")
    if not np.isfinite(time).all():
        raise ValueError(f"time has {int((~np.isfinite(time)).sum())} infinite value(s): a survival time must be a finite number")
    if weights is not None:
        return _weighted_km(time, event, _check_weights(weights, len(time)), conf_level, conf_type, robust)
    ut, inv = np.unique(time, return_inverse=True)
    d = np.bincount(inv, weights=event, minlength=len(ut))
    c = np.bincount(inv, weights=~event, minlength=len(ut))
    tot = d + c
    n_risk = tot[::-1].cumsum()[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1 - d / n_risk)
        inc = np.where(d > 0, d / (n_risk * (n_risk - d)), 0.0)
    std_err = np.sqrt(np.cumsum(inc))
    lower, upper = confidence_band(surv, std_err, conf_level, conf_type)
    table = pd.DataFrame({"time": ut, "n_risk": n_risk.astype(np.int64), "n_event": d.astype(np.int64),
                          "n_censor": c.astype(np.int64), "surv": surv, "std_err": std_err,
                          "lower": lower, "upper": upper})
    return KaplanMeier(table, int(len(time)), int(event.sum()), conf_level, conf_type)


def _check_weights(weights, n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,):
        raise ValueError(f"weights must have one value per observation ({n}), got shape {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError("weights must be finite")
    if (w < 0).any():
        raise ValueError("weights must be non-negative")
    return w


def _weighted_km(time: np.ndarray, event: np.ndarray, w: np.ndarray, conf_level: float,
                 conf_type: ConfType, robust: bool | None) -> KaplanMeier:
    """survfitKM with case weights (module docstring); vectorised over the distinct times."""
    if not (w > 0).any():
        raise ValueError("weights are all zero: no unit carries weight")
    if robust is None:  # survfitKM: has.rwt <- any(weights != floor(weights))
        robust = bool((w != np.floor(w)).any())
    ut, inv = np.unique(time, return_inverse=True)
    m = len(ut)
    d = np.bincount(inv, weights=np.where(event, w, 0.0), minlength=m)
    c = np.bincount(inv, weights=np.where(event, 0.0, w), minlength=m)
    n_risk = (d + c)[::-1].cumsum()[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        # n_j = 0 (only weight-0 units left): no hazard, the curve and its SE are carried forward (as R)
        surv = np.cumprod(1 - np.where(n_risk > 0, d / n_risk, 0.0))
        a = np.where(d > 0, d / (n_risk * (n_risk - d)), 0.0)
        cum_a = np.cumsum(a)
        if robust:
            w2 = w * w
            w2_all = np.bincount(inv, weights=w2, minlength=m)  # sum w^2 of the units whose time is t_j
            w2_ev = np.bincount(inv, weights=np.where(event, w2, 0.0), minlength=m)  # ... with an event
            after = w2.sum() - np.cumsum(w2_all)  # sum w^2 over T_i > t_j
            # units ending at t_j: sum w^2 (A_j - delta_i c_j)^2, c_j = 1 / (n_j - d_j)
            cj = np.where(w2_ev > 0, 1 / (n_risk - d), 0.0)
            ending = cum_a**2 * w2_all + np.where(w2_ev > 0, (cj * cj - 2 * cum_a * cj) * w2_ev, 0.0)
            var = cum_a**2 * after + np.cumsum(ending)
            # where S = 0 (n_j = d_j) every unit's derivative of S is exactly 0: R's se(S) is 0 and
            # survfit_confint keeps a 0 SE as 0 (log band NaN, plain band [0, 0])
            std_err = np.where(surv == 0, 0.0, np.sqrt(var))
        else:
            std_err = np.sqrt(cum_a)
    lower, upper = confidence_band(surv, std_err, conf_level, conf_type)
    table = pd.DataFrame({"time": ut, "n_risk": n_risk, "n_event": d, "n_censor": c, "surv": surv,
                          "std_err": std_err, "lower": lower, "upper": upper})
    return KaplanMeier(table, int(len(time)), int(event.sum()), conf_level, conf_type,
                       "robust" if robust else "greenwood")


def median_followup(time, event) -> tuple[float, float, float]:
    """Median follow-up by reverse Kaplan–Meier (censoring is the 'event'); (median, lower, upper)."""
    return kaplan_meier(time, ~np.asarray(event).astype(bool)).median
