"""The Cox coefficient of one binary covariate (the arm), fast: for the bootstrap's ~1000 refits.

With a single 0/1 covariate x the partial likelihood depends on the data only through, per distinct
event time t_k, the (weighted) numbers at risk by arm W0_k, W1_k and of events by arm V0_k, V1_k
(d_k events).  With r = exp(beta), Efron's approximation (Efron 1977, *JASA* 72:557; R ``coxph``'s
default) has, for the sub-steps j = 0..d_k-1 with g = j / d_k (Breslow: g = 0),

    den_kj  = (W0_k - V0_k) + (W1_k - V1_k) r + (1 - g)(V0_k + V1_k r)
    xbar_kj = ((W1_k - V1_k) r + (1 - g) V1_k r) / den_kj
    loglik  = beta sum_k V1_k - sum_kj m_k log den_kj,      m_k = (V0_k + V1_k) / d_k
    U       = sum_k V1_k - sum_kj m_k xbar_kj,   I = sum_kj m_k xbar_kj (1 - xbar_kj)

(case weights as R's ``coxfit6``: each sub-step carries the mean event weight m_k).  The Newton–Raphson
loop is :func:`hccstudy.stats.cox.coxph`'s (start at 0, step halving when the log-likelihood falls,
converged when |1 - loglik_old / loglik_new| <= eps on a full step, at most ``iter_max`` iterations),
so the coefficient is coxph's to rounding (tested to 1e-10); each iteration is O(events) instead of
O(n), and the per-call overhead of the general engine (sorting into cells, the generalised inverse) is
gone: ~10x faster on a few hundred patients.  No variance is computed: use ``coxph`` for inference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ArmCoef:
    """The fitted coefficient, whether Newton–Raphson converged, and whether it diverges (R's
    "coefficient may be infinite": monotone likelihood, e.g. no event in one arm)."""

    coef: float
    converged: bool
    infinite: bool
    iterations: int


def _tables(time, event, x, weights):
    t = np.asarray(time, dtype=float)
    e = np.asarray(event).astype(bool)
    xx = np.asarray(x).astype(bool)
    w = np.ones(len(t)) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(t, kind="stable")
    t, e, xx, w = t[order], e[order], xx[order], w[order]
    w1 = np.where(xx, w, 0.0)
    w0 = w - w1
    c0 = np.r_[np.cumsum(w0[::-1])[::-1], 0.0]     # weight at risk (time >= t_i) by arm
    c1 = np.r_[np.cumsum(w1[::-1])[::-1], 0.0]
    te = t[e]
    ut = np.unique(te)
    pos = np.searchsorted(t, ut, side="left")
    k = np.searchsorted(ut, te)
    d = np.bincount(k, minlength=len(ut))
    V0 = np.bincount(k, weights=w0[e], minlength=len(ut))
    V1 = np.bincount(k, weights=w1[e], minlength=len(ut))
    return c0[pos], c1[pos], V0, V1, d


def arm_coefficient(time, event, x, weights=None, *, ties: str = "efron", eps: float = 1e-9,
                    iter_max: int = 20) -> ArmCoef:
    """Cox coefficient of the 0/1 covariate ``x`` (module docstring); NaN when it is not estimable
    (no event, or x constant among the rows at risk at every event)."""
    if ties not in ("efron", "breslow"):
        raise ValueError(f"unknown ties method {ties!r}")
    W0, W1, V0, V1, d = _tables(time, event, x, weights)
    if len(d) == 0:
        return ArmCoef(float("nan"), False, False, 0)
    kk = np.repeat(np.arange(len(d)), d)
    g = (np.arange(len(kk)) - np.repeat(np.cumsum(d) - d, d)) / d[kk] if ties == "efron" else np.zeros(len(kk))
    keep = 1.0 - g
    R0, R1 = (W0 - V0)[kk], (W1 - V1)[kk]
    E0, E1 = V0[kk], V1[kk]
    m = ((V0 + V1) / d)[kk]
    v1 = float(V1.sum())

    def loglik(beta: float):
        r = np.exp(beta)
        num = (R1 + keep * E1) * r
        den = R0 + keep * E0 + num
        xbar = num / den
        return beta * v1 - float(m @ np.log(den)), v1 - float(m @ xbar), float(m @ (xbar * (1 - xbar)))

    beta = 0.0
    ll, U, H = loglik(beta)
    if not H > 0:
        return ArmCoef(float("nan"), False, False, 0)
    newbeta = beta + U / H
    converged = halving = False
    it = 0
    for it in range(1, iter_max + 1):  # noqa: B007 -- reported
        newlk, U, H = loglik(newbeta)
        finite = np.isfinite(newlk) and np.isfinite(U)
        if finite and abs(1 - ll / newlk) <= eps and not halving:
            ll, beta, converged = newlk, newbeta, True
            break
        if it == iter_max:
            break
        if not finite or newlk < ll:
            halving = True
            newbeta = (newbeta + beta) / 2
        else:
            halving = False
            ll, beta = newlk, newbeta
            newbeta = newbeta + (U / H if H > 0 else 0.0)
    if not converged:
        beta = newbeta
    infs = abs(U / H) if H > 0 else 0.0
    infinite = bool(infs > eps and infs > np.sqrt(eps) * abs(beta))
    return ArmCoef(float(beta), converged, infinite, it)
