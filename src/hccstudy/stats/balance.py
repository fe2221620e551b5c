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


def _wmean(x, w):
    return float(np.sum(w * x) / np.sum(w))


def _wvar(x, w):
    w = w / w.sum()
    m = np.sum(w * x)
    den = 1 - np.sum(w**2)
    return float(np.sum(w * (x - m) ** 2) / den) if den > 0 else float("nan")


def _ecdf_stats(x, t, w) -> tuple[float, float]:
    xt, wt = x[t], w[t]
    xc, wc = x[~t], w[~t]
    pts = np.unique(x[w > 0])
    ot, oc = np.argsort(xt, kind="stable"), np.argsort(xc, kind="stable")
    ft = np.cumsum(wt[ot]) / wt.sum()
    fc = np.cumsum(wc[oc]) / wc.sum()
    it = np.searchsorted(xt[ot], pts, side="right") - 1
    ic = np.searchsorted(xc[oc], pts, side="right") - 1
    Ft = np.where(it >= 0, ft[np.maximum(it, 0)], 0.0)
    Fc = np.where(ic >= 0, fc[np.maximum(ic, 0)], 0.0)
    d = np.abs(Ft - Fc)
    return float(d.mean()), float(d.max())


def _stats(X: pd.DataFrame, t: np.ndarray, w: np.ndarray, sd_t: dict[str, float], binary: dict[str, bool]) -> pd.DataFrame:
    keep = w > 0
    rows = []
    for term in X.columns:
        x = X[term].to_numpy(dtype=float)[keep]
        tt, ww = t[keep], w[keep]
        mt, mc = _wmean(x[tt], ww[tt]), _wmean(x[~tt], ww[~tt])
        smd = (mt - mc) / sd_t[term] if sd_t[term] > 0 else (0.0 if mt == mc else float("inf"))
        if binary[term]:
            vr = float("nan")
            em = ex = abs(mt - mc)
        else:
            vc = _wvar(x[~tt], ww[~tt])
            vr = _wvar(x[tt], ww[tt]) / vc if vc > 0 else float("nan")
            em, ex = _ecdf_stats(x, tt, ww)
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
    before = _stats(X, t, np.ones(len(t)), sd_t, binary)
    after = _stats(X, t, w, sd_t, binary)
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
