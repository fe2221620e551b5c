"""Log-rank test (G-rho family) as R ``survival::survdiff``.

For k groups, at each distinct event time t (pooled, within stratum): n_t at risk, d_t events,
n_gt and d_gt per group.  O_g = sum d_gt, E_g = sum w_t d_t n_gt / n_t ... with weights
w_t = S(t-)^rho (pooled left-continuous Kaplan–Meier; rho = 0 is the log-rank test):

    O_g - E_g = sum w_t (d_gt - d_t n_gt / n_t)
    V_gh      = sum w_t^2 d_t (n_t - d_t) / (n_t - 1) * n_gt / n_t * (delta_gh - n_ht / n_t)

chi-square = (O - E)' V^- (O - E) on k - 1 df (generalised inverse, as survdiff).  Stratified: O, E and
V summed over strata.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import chi2


@dataclass(frozen=True)
class LogRank:
    """survdiff result: per-group n, observed, expected; chi-square, df, p."""

    groups: pd.DataFrame
    chisq: float
    df: int
    p: float


def _values(x):
    """A pandas text column as its own array (Arrow strings are factorized without a detour through an
    object array; code-point order either way), anything else as a numpy array."""
    if isinstance(x, pd.Series) and isinstance(x.dtype, (pd.ArrowDtype, pd.StringDtype)):
        return x.array
    return np.asarray(x)


def logrank_test(time, event, group, strata=None, rho: float = 0.0) -> LogRank:
    """k-group (optionally stratified) G-rho test; see module docstring."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(bool)
    if not np.isfinite(time).all():
        raise ValueError(f"time has {int((~np.isfinite(time)).sum())} missing or infinite value(s): the log-rank "
                         f"test needs finite times")
    g_codes, g_levels = pd.factorize(_values(group), sort=True)
    k = len(g_levels)
    s_codes = np.zeros(len(time), dtype=np.int64) if strata is None else pd.factorize(_values(strata), sort=True)[0]
    # sort by stratum, then time (one stratum: a stable sort by time, the same order as lexsort's)
    order = np.argsort(time, kind="stable") if strata is None else np.lexsort((time, s_codes))
    t, e, g, s = time[order], event[order], g_codes[order], s_codes[order]
    key = s.astype(np.int64)
    new = np.r_[True, (t[1:] != t[:-1]) | (key[1:] != key[:-1])]
    tid = np.cumsum(new) - 1                       # distinct (stratum, time)
    nt = tid[-1] + 1 if len(t) else 0
    # per (stratum, time) x group counts: one bincount each (the counts are integers, so exact)
    cell = tid * k + g
    d_tg = np.bincount(cell, weights=e.astype(float), minlength=nt * k).reshape(nt, k)
    c_tg = np.bincount(cell, minlength=nt * k).astype(float).reshape(nt, k)  # all leaving at t
    first = np.flatnonzero(new)
    t_strat = s[first]
    # at risk: reverse cumulative sum within stratum = global reverse cumulative sum less the part
    # beyond the stratum's last time (integer counts: exact, no loop over strata)
    rc = c_tg[::-1].cumsum(axis=0)[::-1]
    s_new = np.r_[True, t_strat[1:] != t_strat[:-1]] if nt else np.zeros(0, dtype=bool)
    s_first = np.flatnonzero(s_new)                # first time row of each stratum
    s_next = np.r_[s_first[1:], nt]                # one past its last time row
    beyond = np.vstack([rc, np.zeros((1, k))])[s_next]
    n_tg = rc - np.repeat(beyond, np.diff(np.r_[s_first, nt]), axis=0)
    n_t = n_tg.sum(axis=1)
    d_t = d_tg.sum(axis=1)
    w = np.ones(nt)
    if rho != 0 and nt:
        # pooled left-continuous KM within each stratum: a grouped cumulative product
        sid = np.cumsum(s_new) - 1
        surv = pd.Series(1 - d_t / n_t).groupby(sid).cumprod().to_numpy()
        prev = np.r_[1.0, surv[:-1]]
        prev[s_first] = 1.0
        w = prev ** rho
    ev = d_t > 0
    n_tg, d_tg, n_t, d_t, w = n_tg[ev], d_tg[ev], n_t[ev], d_t[ev], w[ev]
    obs = (w[:, None] * d_tg).sum(axis=0)
    exp_ = (w[:, None] * d_t[:, None] * n_tg / n_t[:, None]).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(n_t > 1, w**2 * d_t * (n_t - d_t) / (n_t - 1), 0.0)
    p_tg = n_tg / n_t[:, None]
    V = np.diag((f[:, None] * p_tg).sum(axis=0)) - (f[:, None, None] * p_tg[:, :, None] * p_tg[:, None, :]).sum(axis=0)
    diff = obs - exp_
    # survdiff: generalised inverse of V (drops the last group when non-singular)
    chisq = float(diff[:-1] @ np.linalg.pinv(V[:-1, :-1]) @ diff[:-1]) if k > 1 else 0.0
    df = int(np.linalg.matrix_rank(V[:-1, :-1])) if k > 1 else 0
    p = float(chi2.sf(chisq, df)) if df > 0 else float("nan")
    n = np.bincount(g_codes, minlength=k)
    groups = pd.DataFrame({"group": list(g_levels), "n": n, "observed": obs, "expected": exp_})
    return LogRank(groups, chisq, df, p)
