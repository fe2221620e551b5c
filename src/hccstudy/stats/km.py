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
        return pd.DataFrame({"time": times, "n_risk": nrisk.astype(np.int64), "surv": take("surv", 1.0),
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


def kaplan_meier(time, event, conf_level: float = 0.95, conf_type: ConfType = "log") -> KaplanMeier:
    """Kaplan–Meier curve of right-censored data (``event`` true/1 = event)."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(bool)
    if np.isnan(time).any():
        raise ValueError("time has missing values")
    if not np.isfinite(time).all():
        raise ValueError(f"time has {int((~np.isfinite(time)).sum())} infinite value(s): a survival time must be a finite number")
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


def median_followup(time, event) -> tuple[float, float, float]:
    """Median follow-up by reverse Kaplan–Meier (censoring is the 'event'); (median, lower, upper)."""
    return kaplan_meier(time, ~np.asarray(event).astype(bool)).median
