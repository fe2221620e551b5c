"""Percentile and BCa bootstrap confidence intervals, exactly as R ``boot::boot.ci(type = c("perc", "bca"))``.

Given the estimate t0 on the full sample and R finite bootstrap replicates t*_r (non-finite replicates are
dropped, as boot does):

* Order statistics are interpolated on the normal-quantile scale (``boot:::norm.inter``): for a tail
  probability alpha, k = floor((R + 1) alpha); if (R + 1) alpha is an integer the k-th order statistic is
  used; otherwise t*_(k) + (Phi^-1(alpha) - Phi^-1(k/(R+1))) / (Phi^-1((k+1)/(R+1)) - Phi^-1(k/(R+1)))
  (t*_(k+1) - t*_(k)); k = 0 or k = R use the extreme order statistic (boot warns; so do we).
* Percentile interval: alpha = (1 -/+ conf) / 2.
* BCa (Efron 1987; Davison & Hinkley 1997, sec. 5.3.2): bias correction z0 = Phi^-1(#{t* < t0} / R),
  acceleration a = sum L_i^3 / (6 (sum L_i^2)^1.5) from empirical influence values L_i, and
  alpha_adj = Phi(z0 + (z0 + z_alpha) / (1 - a (z0 + z_alpha))), then interpolated as above.

Influence values.  By default ``boot.ci`` (ordinary nonparametric bootstrap) estimates L by *regression*
on the bootstrap frequencies (``empinf(type = "reg")``, ``boot:::empinf.reg``): the OLS fit of t*_r on
f_rj / n for j = 2..n with an intercept, L_1 = 0, then L centred to mean 0.  Pass ``indices`` (the R x n
resampling index matrix, ``boot.array(b, indices = TRUE)``, 0- or 1-based is irrelevant as long as it is
consistent) to reproduce that default.  Alternatively pass the leave-one-out estimates ``jackknife``
(t_(-i)), giving boot's ``empinf(type = "jack")``: L_i = (n - 1)(t0 - t_(-i)); or the influence values
themselves (``influence``), as ``boot.ci(..., L = )``.  Without any of these the BCa interval is NaN.

``bias`` = mean(t*) - t0 and ``se`` = sd(t*) (as ``print.boot``).

References: Davison AC, Hinkley DV. Bootstrap Methods and Their Application. Cambridge, 1997.  Efron B.
Better bootstrap confidence intervals. J Am Stat Assoc 1987;82:171-185.  Canty A, Ripley B. boot (R).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm


@dataclass(frozen=True)
class BootstrapInterval:
    """Bootstrap CIs of one statistic.  ``z0``: the BCa bias correction; ``acceleration``: BCa's a (NaN
    without influence information); ``n_replicates``: finite replicates used."""

    estimate: float
    percentile: tuple[float, float]
    bca: tuple[float, float]
    bias: float
    se: float
    z0: float
    acceleration: float
    n_replicates: int
    conf_level: float


def norm_inter(t: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Quantiles of the replicates ``t`` at tail probabilities ``alpha``, interpolated on the normal scale
    as ``boot:::norm.inter`` (see module docstring)."""
    t = np.sort(np.asarray(t, dtype=float)[np.isfinite(t)])
    alpha = np.asarray(alpha, dtype=float)
    R = t.size
    rk = (R + 1) * alpha
    if not np.all((rk > 1) & (rk < R)):
        warnings.warn("extreme order statistics used as endpoints", RuntimeWarning, stacklevel=3)
    k = np.trunc(rk).astype(int)
    out = np.empty(alpha.shape)
    ints = k == rk
    lo = k == 0
    hi = k == R
    out[ints] = t[np.clip(k[ints] - 1, 0, R - 1)]
    out[lo] = t[0]
    out[hi] = t[R - 1]
    mid = ~ints & ~lo & ~hi
    km = k[mid]
    z1 = norm.ppf(alpha[mid])
    z2 = norm.ppf(km / (R + 1))
    z3 = norm.ppf((km + 1) / (R + 1))
    tk, tk1 = t[km - 1], t[km]
    out[mid] = tk + (z1 - z2) / (z3 - z2) * (tk1 - tk)
    return out


def influence_regression(replicates, indices) -> np.ndarray:
    """Empirical influence values by regression on the bootstrap frequencies (``boot:::empinf.reg``,
    unstratified): OLS of t* on f/n for observations 2..n with an intercept; L_1 = 0; centred."""
    t = np.asarray(replicates, dtype=float)
    idx = np.asarray(indices)
    if idx.ndim != 2 or idx.shape[0] != t.size:
        raise ValueError(f"indices must be R x n with R = {t.size} replicates, got shape {idx.shape}")
    n = idx.shape[1]
    base = idx.min()  # 0- or 1-based
    fins = np.isfinite(t)
    rows = idx[fins] - base
    R = rows.shape[0]
    if n >= R:
        raise ValueError(f"regression influence values need more finite replicates ({R}) than observations "
                         f"({n}); give jackknife estimates instead")
    f = np.zeros((R, n))
    np.add.at(f, (np.repeat(np.arange(R), n), rows.ravel()), 1.0)
    X = np.column_stack([np.ones(R), f[:, 1:] / n])
    beta = np.linalg.lstsq(X, t[fins], rcond=None)[0]
    L = np.concatenate([[0.0], beta[1:]])
    return L - L.mean()


def bootstrap_intervals(estimate: float, replicates, jackknife=None, conf_level: float = 0.95, *,
                        influence=None, indices=None) -> BootstrapInterval:
    """Percentile and BCa intervals of ``estimate`` from its bootstrap ``replicates`` (see module
    docstring).  BCa needs one of ``jackknife`` (leave-one-out estimates), ``influence`` (L values) or
    ``indices`` (the R x n resampling index matrix: boot's default regression estimate)."""
    t = np.asarray(replicates, dtype=float).ravel()
    t0 = float(estimate)
    if not np.isfinite(t0):
        raise ValueError(f"the full-sample estimate must be finite, got {estimate}")
    if not 0 < conf_level < 1:
        raise ValueError(f"conf_level must be in (0, 1), got {conf_level}")
    given = [x is not None for x in (jackknife, influence, indices)]
    if sum(given) > 1:
        raise ValueError("give at most one of jackknife, influence and indices")
    tf = t[np.isfinite(t)]
    if tf.size < 2:
        raise ValueError(f"bootstrap intervals need at least 2 finite replicates, got {tf.size}")
    alpha = (1 + np.array([-conf_level, conf_level])) / 2
    perc = norm_inter(tf, alpha)
    with np.errstate(divide="ignore"):
        z0 = float(norm.ppf(np.mean(tf < t0)))
    L = None
    if jackknife is not None:
        jk = np.asarray(jackknife, dtype=float).ravel()
        L = (jk.size - 1) * (t0 - jk)
    elif influence is not None:
        L = np.asarray(influence, dtype=float).ravel()
    elif indices is not None:
        L = influence_regression(t, indices)
    a = float("nan")
    bca = (float("nan"), float("nan"))
    if L is not None:
        if not np.isfinite(L).all():
            raise ValueError("influence values (or jackknife estimates) must be finite")
        a = float((L**3).sum() / (6 * (L**2).sum() ** 1.5))
        if np.isfinite(z0) and np.isfinite(a):
            za = norm.ppf(alpha)
            adj = norm.cdf(z0 + (z0 + za) / (1 - a * (z0 + za)))
            lo, hi = norm_inter(tf, adj)
            bca = (float(lo), float(hi))
    return BootstrapInterval(t0, (float(perc[0]), float(perc[1])), bca, float(tf.mean() - t0),
                             float(tf.std(ddof=1)), z0, a, int(tf.size), conf_level)
