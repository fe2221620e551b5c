"""Covariate balance before and after matching, as R MatchIt's ``summary(m, un = TRUE)`` reports it.

Per term (factors expanded into every level, logicals as 0/1, plus the ``distance`` row):

* **Std. Mean Diff.** (ATT) = (x̄_T,w − x̄_C,w) / s_T, signed, where s_T is the SD of the term among all
  treated units of the original sample (the same denominator before and after); continuous terms:
  n − 1 variance; binary terms (values in {0, 1}): sqrt(p_T (1 − p_T)).
* **Var. Ratio** = var_T,w / var_C,w (not for binary terms), with MatchIt's weighted variance
  sum w (x − x̄_w)² / (1 − sum w²) on weights normalised to sum 1.
* **eCDF mean / max**: mean and maximum over the distinct values of the term of |F_T,w(x) − F_C,w(x)|
  (binary terms: the absolute difference in proportions, for both).
* Matching weights: treated 1; a control in subclass (pair) s gets
  (treated in s) / (controls in s), rescaled so the matched controls' weights sum to their number.

A ``flag`` marks terms with |SMD| > ``threshold`` (0.1) after matching.  Sample sizes: all, matched,
unmatched and discarded per arm.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .propensity import factor_levels


def balance_terms(data: pd.DataFrame, covariates: list[str], categorical: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """The covariates as MatchIt's summary expands them: every factor level as an indicator."""
    out = {}
    for v in covariates:
        s = data[v]
        if v in categorical or s.dtype == object or isinstance(s.dtype, (pd.CategoricalDtype, pd.StringDtype)):
            vals = s.to_numpy(dtype=object)
            for lev in factor_levels(s):
                out[f"{v}{lev}"] = (vals == lev).astype(float)
        else:
            out[v] = pd.to_numeric(s.astype("Float64") if s.dtype == bool or isinstance(s.dtype, pd.BooleanDtype) else s).to_numpy(dtype=float)
    return pd.DataFrame(out, index=data.index)


def matching_weights(treated: np.ndarray, pair: np.ndarray) -> np.ndarray:
    """MatchIt ATT weights from subclass (pair) membership; unmatched units 0."""
    t = np.asarray(treated, dtype=bool)
    p = pd.array(pair, dtype="Int64")
    matched = ~np.asarray(p.isna())
    w = np.zeros(len(t))
    w[t & matched] = 1.0
    if (matched & ~t).any():
        sub = np.asarray(p[matched], dtype=np.int64)
        tt = t[matched]
        n_t = np.bincount(sub[tt], minlength=sub.max() + 1)
        n_c = np.bincount(sub[~tt], minlength=sub.max() + 1)
        ctrl = np.flatnonzero(matched & ~t)
        sc = np.asarray(p[ctrl], dtype=np.int64)
        wc = n_t[sc] / n_c[sc]
        w[ctrl] = wc * len(ctrl) / wc.sum()
    return w


def _ecdf_stats(xs: np.ndarray, ts: np.ndarray, ws: np.ndarray) -> tuple[float, float]:
    """eCDF mean / max of |F_T - F_C| over the distinct values, from the term already sorted (xs) with
    its treated flags and weights in the same order; units with weight 0 do not count."""
    wt = np.where(ts, ws, 0.0)
    wc = np.where(ts, 0.0, ws)
    ft = np.cumsum(wt) / wt.sum()
    fc = np.cumsum(wc) / wc.sum()
    last = np.r_[xs[1:] != xs[:-1], True]  # last position of each distinct value
    present = np.add.reduceat(ws > 0, np.flatnonzero(np.r_[True, last[:-1]])) > 0 if len(xs) else np.zeros(0, bool)
    d = np.abs(ft[last] - fc[last])[present]
    return float(d.mean()), float(d.max())


def _stats(X: pd.DataFrame, t: np.ndarray, w: np.ndarray, sd_t: dict[str, float], binary: dict[str, bool],
           orders: dict[str, np.ndarray]) -> pd.DataFrame:
    """Weighted statistics by dot products with the arm-specific weights (no masked copies)."""
    wt = np.where(t, w, 0.0)
    wc = np.where(t, 0.0, w)
    nt, nc = wt / wt.sum(), wc / wc.sum()
    dt, dc = 1 - np.sum(nt**2), 1 - np.sum(nc**2)
    rows = []
    for term in X.columns:
        x = X[term].to_numpy(dtype=float)
        mt, mc = float(nt @ x), float(nc @ x)
        smd = (mt - mc) / sd_t[term] if sd_t[term] > 0 else (0.0 if mt == mc else float("inf"))
        if binary[term]:
            vr = float("nan")
            em = ex = abs(mt - mc)
        else:
            vt = float(nt @ (x - mt) ** 2) / dt if dt > 0 else float("nan")
            vc = float(nc @ (x - mc) ** 2) / dc if dc > 0 else float("nan")
            vr = vt / vc if vc > 0 else float("nan")
            o = orders[term]
            em, ex = _ecdf_stats(x[o], t[o], w[o])
        rows.append({"term": term, "mean_treated": mt, "mean_control": mc, "smd": smd, "var_ratio": vr,
                     "ecdf_mean": em, "ecdf_max": ex})
    return pd.DataFrame(rows)


def balance_table(X: pd.DataFrame, treated, weights, distance=None, threshold: float = 0.1) -> pd.DataFrame:
    """Balance before (all units, weight 1) and after (matching weights) for every column of ``X``
    (use :func:`balance_terms`), with the ``distance`` row first when given.  Columns: term, then
    ``<stat>_before`` / ``<stat>_after`` for mean_treated, mean_control, smd, var_ratio, ecdf_mean,
    ecdf_max, and ``flag`` (|smd_after| > threshold)."""
    t = np.asarray(treated, dtype=bool)
    w = np.asarray(weights, dtype=float)
    if distance is not None:
        X = pd.concat([pd.DataFrame({"distance": np.asarray(distance, dtype=float)}, index=X.index), X], axis=1)
    binary = {c: bool(np.isin(X[c].to_numpy(dtype=float), [0.0, 1.0]).all()) for c in X.columns}
    sd_t = {}
    for c in X.columns:
        xt = X[c].to_numpy(dtype=float)[t]
        if binary[c]:
            p = xt.mean()
            sd_t[c] = float(np.sqrt(p * (1 - p)))
        else:
            sd_t[c] = float(np.std(xt, ddof=1))
    orders = {c: np.argsort(X[c].to_numpy(dtype=float)) for c in X.columns if not binary[c]}  # ties: any order
    before = _stats(X, t, np.ones(len(t)), sd_t, binary, orders)
    after = _stats(X, t, w, sd_t, binary, orders)
    out = before.merge(after, on="term", suffixes=("_before", "_after"), sort=False)
    out.insert(1, "binary", [binary[c] for c in out["term"]])
    out["flag"] = out["smd_after"].abs() > threshold
    return out


def sample_sizes(treated, matched, discarded) -> pd.DataFrame:
    """All / matched / unmatched / discarded per arm (MatchIt's 'Sample Sizes')."""
    t = np.asarray(treated, dtype=bool)
    m = np.asarray(matched, dtype=bool)
    d = np.asarray(discarded, dtype=bool)
    rows = {"all": (~t, t), "matched": (~t & m, t & m), "unmatched": (~t & ~m & ~d, t & ~m & ~d),
            "discarded": (~t & d, t & d)}
    return pd.DataFrame([{"sample": k, "control": int(c.sum()), "treated": int(tr.sum())} for k, (c, tr) in rows.items()])
