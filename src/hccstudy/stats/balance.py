"""Covariate balance before and after matching, as R MatchIt's ``summary(m, un = TRUE)`` reports it
(``bal1var``/``qqsum``/``pair.dist`` of MatchIt 4.5.4; checked against ``lalonde.matchit_variants.json``).

Per term (factors expanded into every level, logicals as 0/1, plus the ``distance`` row); a term is
*binary* when every value of the whole sample is 0 or 1:

* **Std. Mean Diff.** (ATT) = (x̄_T,w − x̄_C,w) / s_T, signed, where s_T is the SD of the term among all
  treated units of the original sample (the same denominator before and after); continuous terms:
  n − 1 variance; binary terms: sqrt(p_T (1 − p_T)).  As MatchIt: when |x̄_T,w − x̄_C,w| ≤ sqrt(machine
  eps) the raw difference is reported; when s_T < sqrt(eps) a pooled SD sqrt((s_T² + s_C²) / 2) is
  used instead (that fallback is not covered by the R fixtures).
* **Var. Ratio** = var_T,w / var_C,w (not for binary terms), with MatchIt's weighted variance
  sum w (x − x̄_w)² / (1 − sum w²) on weights normalised to sum 1.
* **eCDF mean / max** (Kolmogorov–Smirnov): with the weights normalised to sum 1 in each arm, the
  mean and the maximum over **every distinct value of the whole sample** of |F_T,w(x) − F_C,w(x)|.
  Unmatched units stay in the sample with weight 0: their values are evaluation points although they
  add nothing to either eCDF (MatchIt's ``qqsum``).  Binary terms: |difference in proportions|.
* **Std. Pair Dist.** (after matching only) = mean over the matched (treated, control) pairs of
  |x_T − x_C|, divided by the SMD denominator (Stuart and Green 2008; MatchIt's ``pair.dist``); every
  pair of a 1:k set counts once.
* When fewer than two units carry weight in both arms, the variance ratio and eCDF statistics (and the
  standardised difference) are undefined (NaN), as in MatchIt.

**Weighted balance** (:func:`weighted_balance`, for IPT weights) follows R ``cobalt``'s ``bal.tab``
defaults for a binary treatment (``col_w_smd``, ``col_w_vr``, ``col_w_ks``, ``col.w.v``; Greifer,
cobalt 4.x): the SMD denominator is computed once, from the **unweighted** full sample, and chosen by
the estimand: ATE and ATO the pooled SD sqrt((s_T² + s_C²) / 2), ATT s_T, ATC s_C (continuous: n − 1
variance; binary: p (1 − p)); no MatchIt fallback.  Means, variance ratios and eCDF statistics use the
weights as above (the same weighted variance formula as cobalt's ``col.w.v``; the KS statistic is
cobalt's weighted ``col_w_ks``, identical to the eCDF max here).  ``smd`` is standardised for every term;
``diff`` is what cobalt prints by default (``binary = "raw"``): the raw difference in proportions for a
binary term, the SMD otherwise.  Units of weight 0 (trimmed) are in the "before" sample and are
evaluation points of the weighted eCDFs, as in cobalt.

Matching weights come from :func:`hccstudy.stats.matching.matchit_weights`.  A ``flag`` marks terms
with |SMD| > ``threshold`` (0.1) after matching.  Sample sizes: all, matched, unmatched and discarded
per arm, plus the effective sample size (sum w)² / sum w² of the matched sample.
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


_SQRT_EPS = float(np.sqrt(np.finfo(float).eps))


def _ecdf_stats(xs: np.ndarray, ts: np.ndarray, ws: np.ndarray) -> tuple[float, float]:
    """eCDF mean / max of |F_T - F_C| over the distinct values of the whole sample, from the term
    already sorted (xs) with its treated flags and weights in the same order (weight-0 units included:
    they are evaluation points; MatchIt's ``qqsum``)."""
    wt = np.where(ts, ws, 0.0)
    wc = np.where(ts, 0.0, ws)
    diff = np.cumsum(wt / wt.sum() - wc / wc.sum())
    last = np.r_[xs[1:] != xs[:-1], True]  # last position of each distinct value
    d = np.abs(diff[last])
    return float(d.mean()), float(d.max())


def _ratio(a: float, b: float) -> float:
    """a / b as R divides: ±Inf when b is 0 (a term constant within both arms but different between)."""
    return a / b if b != 0 else float(np.copysign(np.inf, a))


def _pair_distance(x: np.ndarray, pairs: tuple[np.ndarray, np.ndarray] | None) -> float:
    if pairs is None or len(pairs[0]) == 0:
        return float("nan")
    return float(np.mean(np.abs(x[pairs[0]] - x[pairs[1]])))


def _stats(names: list[str], cols: list[np.ndarray], t: np.ndarray, w: np.ndarray, sd_t: list[float],
           binary: list[bool], orders: list[np.ndarray | None],
           pairs: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """Weighted statistics by dot products with the arm-specific weights (no masked copies)."""
    wt = np.where(t, w, 0.0)
    wc = np.where(t, 0.0, w)
    nt, nc = wt / wt.sum(), wc / wc.sum()
    dt, dc = 1 - np.sum(nt**2), 1 - np.sum(nc**2)
    too_small = np.count_nonzero(wt) < 2 and np.count_nonzero(wc) < 2
    rows = []
    for term, x, sd, is_bin, o in zip(names, cols, sd_t, binary, orders, strict=True):
        mt, mc = float(nt @ x), float(nc @ x)
        md = mt - mc
        pd_raw = _pair_distance(x, pairs)
        if abs(md) > _SQRT_EPS:
            smd = float("nan") if too_small else _ratio(md, sd)
            pdist = float("nan") if too_small else (_ratio(pd_raw, sd) if abs(pd_raw) > 1e-8 else pd_raw)
        else:
            smd, pdist = md, pd_raw
        vr = em = ex = float("nan")
        if is_bin:
            em = ex = abs(md)
        elif not too_small:
            vt = float(nt @ (x - mt) ** 2) / dt if dt > 0 else float("nan")
            vc = float(nc @ (x - mc) ** 2) / dc if dc > 0 else float("nan")
            vr = vt / vc if vc > 0 else float("nan")
            em, ex = _ecdf_stats(x[o], t[o], w[o])
        rows.append({"term": term, "mean_treated": mt, "mean_control": mc, "smd": smd, "var_ratio": vr,
                     "ecdf_mean": em, "ecdf_max": ex, "pair_distance": pdist})
    return pd.DataFrame(rows)


def _sd_treated(x: np.ndarray, t: np.ndarray, is_bin: bool) -> float:
    """The SMD denominator: SD among the treated (binary: sqrt(p(1-p))), a pooled SD when it is ~0."""
    xt, xc = x[t], x[~t]
    if is_bin:
        p, q = xt.mean(), xc.mean()
        s, s_c = float(np.sqrt(p * (1 - p))), float(np.sqrt(q * (1 - q)))
    else:
        s = float(np.std(xt, ddof=1)) if len(xt) > 1 else float("nan")
        s_c = float(np.std(xc, ddof=1)) if len(xc) > 1 else float("nan")
    if not np.isfinite(s) or s < _SQRT_EPS:  # MatchIt: avoid dividing by zero
        s = float(np.sqrt((np.nan_to_num(s) ** 2 + np.nan_to_num(s_c) ** 2) / 2))
    return s


def _columns(X: pd.DataFrame, distance) -> tuple[list[str], list[np.ndarray], list[bool]]:
    """The balance terms as float columns (the distance first, when given), with their names and
    whether each is binary (only 0 and 1)."""
    names = [str(c) for c in X.columns]
    cols = [X.iloc[:, j].to_numpy(dtype=float) for j in range(X.shape[1])]
    if distance is not None:
        names.insert(0, "distance")
        cols.insert(0, np.asarray(distance, dtype=float))
    return names, cols, [bool(np.isin(x, [0.0, 1.0]).all()) for x in cols]


def balance_table(X: pd.DataFrame, treated, weights, distance=None, threshold: float = 0.1,
                  pairs: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """Balance before (all units, weight 1) and after (matching weights) for every column of ``X``
    (use :func:`balance_terms`), with the ``distance`` row (the propensity score) first when given --
    always the first row, even when a covariate is called ``distance`` too (terms are taken by position,
    never by name).  ``pairs``: the matched (treated rows, control rows), for the standardised pair
    distance.  Columns: term, binary, then ``<stat>_before`` / ``<stat>_after`` for mean_treated,
    mean_control, smd, var_ratio, ecdf_mean, ecdf_max, ``pair_distance_after`` and ``flag``
    (|smd_after| > threshold)."""
    t = np.asarray(treated, dtype=bool)
    w = np.asarray(weights, dtype=float)
    names, cols, binary = _columns(X, distance)
    sd_t = [_sd_treated(x, t, b) for x, b in zip(cols, binary, strict=True)]
    orders = [None if b else np.argsort(x, kind="stable") for x, b in zip(cols, binary, strict=True)]
    before = _stats(names, cols, t, np.ones(len(t)), sd_t, binary, orders).drop(columns="pair_distance")
    after = _stats(names, cols, t, w, sd_t, binary, orders, pairs)
    out = pd.concat([before, after.drop(columns="term")], axis=1, keys=["before", "after"])
    out.columns = ["term" if b == "term" else f"{b}_{a}" for a, b in out.columns]
    stats = ["mean_treated", "mean_control", "smd", "var_ratio", "ecdf_mean", "ecdf_max"]
    out = out[["term", *[f"{s}_{k}" for k in ("before", "after") for s in stats], "pair_distance_after"]]
    out.insert(1, "binary", binary)
    out["flag"] = out["smd_after"].abs() > threshold
    return out


def sample_sizes(treated, matched, discarded, weights=None) -> pd.DataFrame:
    """All / matched / unmatched / discarded per arm (MatchIt's 'Sample Sizes'), and with ``weights``
    the matched sample's effective size (sum w)² / sum w² ("Matched (ESS)")."""
    t = np.asarray(treated, dtype=bool)
    m = np.asarray(matched, dtype=bool)
    d = np.asarray(discarded, dtype=bool)
    rows = {"all": (~t, t), "matched": (~t & m, t & m), "unmatched": (~t & ~m & ~d, t & ~m & ~d),
            "discarded": (~t & d, t & d)}
    out = [{"sample": k, "control": int(c.sum()), "treated": int(tr.sum())} for k, (c, tr) in rows.items()]
    if weights is not None:
        w = np.asarray(weights, dtype=float)

        def ess(v):
            return float(v.sum() ** 2 / (v**2).sum()) if (v > 0).any() else 0.0

        out.insert(2, {"sample": "matched (ESS)", "control": ess(w[~t]), "treated": ess(w[t])})
    return pd.DataFrame(out)


WEIGHTED_SD_DENOMINATOR = {"ATE": "pooled", "ATO": "pooled", "ATT": "treated", "ATC": "control"}


def _sd_denominator(x: np.ndarray, t: np.ndarray, is_bin: bool, which: str) -> float:
    """cobalt's SD denominator from the unweighted sample: pooled, treated or control."""
    def var(v: np.ndarray) -> float:
        if is_bin:
            p = v.mean() if len(v) else float("nan")
            return float(p * (1 - p))
        return float(np.var(v, ddof=1)) if len(v) > 1 else float("nan")
    if which == "treated":
        return float(np.sqrt(var(x[t])))
    if which == "control":
        return float(np.sqrt(var(x[~t])))
    return float(np.sqrt((var(x[t]) + var(x[~t])) / 2))


def weighted_balance(X: pd.DataFrame, treated, weights, estimand: str = "ATE", distance=None,
                     threshold: float = 0.1) -> pd.DataFrame:
    """Balance before (weight 1) and after weighting (e.g. IPT weights) for every column of ``X`` (use
    :func:`balance_terms`), as cobalt's ``bal.tab`` computes it for ``estimand`` (module docstring), with
    the ``distance`` row first when given.  Columns: term, binary, sd_denominator, then
    ``<stat>_before`` / ``<stat>_after`` for mean_treated, mean_control, smd, diff, var_ratio,
    ecdf_mean, ecdf_max (= cobalt's KS), and ``flag`` (|smd_after| > threshold)."""
    est = str(estimand).upper()
    if est not in WEIGHTED_SD_DENOMINATOR:
        raise ValueError(f"estimand must be one of {', '.join(WEIGHTED_SD_DENOMINATOR)}, got {estimand!r}")
    t = np.asarray(treated, dtype=bool)
    w = np.asarray(weights, dtype=float)
    if w.shape != t.shape:
        raise ValueError(f"weights must have one value per unit ({len(t)}), got shape {w.shape}")
    if (w < 0).any() or not np.isfinite(w).all():
        raise ValueError("weights must be finite and non-negative")
    names, cols, binary = _columns(X, distance)
    den = [_sd_denominator(x, t, b, WEIGHTED_SD_DENOMINATOR[est]) for x, b in zip(cols, binary, strict=True)]
    orders = [None if b else np.argsort(x, kind="stable") for x, b in zip(cols, binary, strict=True)]
    parts = []
    for key, ww in (("before", np.ones(len(t))), ("after", w)):
        st = _stats(names, cols, t, ww, den, binary, orders).drop(columns="pair_distance")
        st.insert(4, "diff", np.where(binary, st["mean_treated"] - st["mean_control"], st["smd"]))
        st = st.drop(columns="term")
        st.columns = [f"{c}_{key}" for c in st.columns]
        parts.append(st)
    out = pd.concat([pd.DataFrame({"term": names, "binary": binary, "sd_denominator": den}), *parts], axis=1)
    stats = ["mean_treated", "mean_control", "smd", "diff", "var_ratio", "ecdf_mean", "ecdf_max"]
    out = out[["term", "binary", "sd_denominator", *[f"{s}_{k}" for k in ("before", "after") for s in stats]]]
    out["flag"] = out["smd_after"].abs() > threshold
    return out
