"""Inverse-variance meta-analysis of estimates on the log (or any additive) scale, as R ``metafor::rma``.

Given study estimates y_i with standard errors s_i (v_i = s_i^2), k studies:

* fixed effect (``rma(method = "FE")``): w_i = 1 / v_i, theta = sum w_i y_i / sum w_i, SE = 1 / sqrt(sum w_i);
* Cochran's Q = sum w_i (y_i - theta_FE)^2 on df = k - 1, P_Q = P(chi2_df > Q);
* DerSimonian-Laird (``rma(method = "DL")``): tau^2 = max(0, (Q - df) / (sum w - sum w^2 / sum w)),
  random-effects weights w*_i = 1 / (v_i + tau^2), theta_RE and its SE as above with w*;
* I^2 = max(0, (Q - df) / Q) in percent (Higgins & Thompson 2002); for DL this equals metafor's
  tau^2 / (tau^2 + typical within-study variance);
* each pooled estimate: z = theta / SE, two-sided normal P, CI theta -/+ z_{1 - alpha/2} SE;
  study weights in percent of the total (``weights(rma(...))``).

References: DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin Trials 1986;7:177-188.
Higgins JPT, Thompson SG. Quantifying heterogeneity in a meta-analysis. Stat Med 2002;21:1539-1558.
Viechtbauer W. Conducting meta-analyses in R with the metafor package. J Stat Softw 2010;36(3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import chi2, norm


@dataclass(frozen=True)
class Pooled:
    """One pooled estimate: ``estimate`` (log scale), ``se``, ``lcl``, ``ucl``, ``z``, ``p``, and the study
    weights in percent (same order as the input)."""

    estimate: float
    se: float
    lcl: float
    ucl: float
    z: float
    p: float
    weights: np.ndarray


@dataclass(frozen=True)
class MetaAnalysis:
    """Fixed-effect and DerSimonian-Laird random-effects meta-analysis (see module docstring).  ``i2`` is
    in percent.  ``studies``: label, estimate, se, lcl, ucl, weight_fixed, weight_random (weights in %)."""

    fixed: Pooled
    random: Pooled
    q: float
    df: int
    p_q: float
    i2: float
    tau2: float
    k: int
    conf_level: float
    studies: pd.DataFrame


def _pool(y: np.ndarray, w: np.ndarray, zq: float) -> Pooled:
    sw = w.sum()
    est = float((w * y).sum() / sw)
    se = float(1 / np.sqrt(sw))
    z = est / se
    return Pooled(est, se, est - zq * se, est + zq * se, z, float(2 * norm.sf(abs(z))), 100 * w / sw)


def meta_analysis(estimate, se, labels=None, conf_level: float = 0.95) -> MetaAnalysis:
    """Meta-analyse ``estimate`` (e.g. per-centre log HRs) with standard errors ``se``.  ``labels`` name
    the studies (default "1", "2", ...).  Studies must have finite estimates and positive finite SEs."""
    y = np.asarray(estimate, dtype=float).ravel()
    s = np.asarray(se, dtype=float).ravel()
    if y.shape != s.shape:
        raise ValueError(f"estimate has {y.size} values but se has {s.size}")
    k = y.size
    labels = [str(i + 1) for i in range(k)] if labels is None else [str(v) for v in labels]
    if len(labels) != k:
        raise ValueError(f"{len(labels)} labels for {k} studies")
    if k == 0:
        raise ValueError("meta-analysis needs at least one study")
    bad = [lab for lab, yi, si in zip(labels, y, s, strict=True)
           if not (np.isfinite(yi) and np.isfinite(si) and si > 0)]
    if bad:
        raise ValueError(f"studies {bad}: estimate must be finite and se finite and > 0")
    if not 0 < conf_level < 1:
        raise ValueError(f"conf_level must be in (0, 1), got {conf_level}")
    zq = float(norm.ppf(1 - (1 - conf_level) / 2))
    v = s * s
    w = 1 / v
    fixed = _pool(y, w, zq)
    df = k - 1
    q = float((w * (y - fixed.estimate) ** 2).sum())
    p_q = float(chi2.sf(q, df)) if df > 0 else float("nan")
    c = w.sum() - (w * w).sum() / w.sum()
    tau2 = max(0.0, (q - df) / c) if df > 0 else 0.0
    random = _pool(y, 1 / (v + tau2), zq)
    i2 = 100 * max(0.0, (q - df) / q) if q > 0 else 0.0
    studies = pd.DataFrame({"label": labels, "estimate": y, "se": s, "lcl": y - zq * s, "ucl": y + zq * s,
                            "weight_fixed": fixed.weights, "weight_random": random.weights})
    return MetaAnalysis(fixed, random, q, df, p_q, i2, tau2, k, conf_level, studies)
