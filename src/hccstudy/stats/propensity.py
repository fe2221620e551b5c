"""Propensity score: unpenalised logistic regression fitted exactly as R's ``glm.fit`` (IRLS).

``docs/spec/matching-spec.md``, Algorithm step 2: to agree with R (and MatchIt's ``distance = "glm"``) to ~1e-13 the fit copies
``glm.fit``: start at mu = (y + 0.5) / 2, iteratively reweighted least squares with working response
z = eta + (y - mu) / mu.eta(eta) and weights mu.eta^2 / var(mu), stop when
|dev - dev_old| / (|dev| + 0.1) < epsilon (1e-8), at most 25 iterations.  A term that is a linear
combination of earlier ones (a constant column, collinear indicators; |R_jj| <= 1e-11 ||x_j|| in the
QR, glm.fit's tolerance) is aliased as R does: its coefficient is NaN (R's NA), the others are fitted
and a warning names it.  Iterating to full
convergence moves the scores by ~1e-9, enough to reorder near-ties in the matching.

The design matrix follows R's ``model.matrix`` with treatment contrasts: an intercept, numeric
columns as they are, a factor as one indicator per non-reference level (first level, in sorted
order, is the reference), named ``<variable><level>`` (R's term names, e.g. ``racehispan``); a
logical column becomes ``<variable>TRUE``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

_EPS = np.finfo(float).eps
_THRESH = 30.0


def factor_levels(s: pd.Series) -> list:
    """Levels as R's ``factor()`` orders them: sorted unique non-missing values (categorical: its categories)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return [c for c in s.cat.categories if (s == c).any()]
    vals = pd.unique(s.dropna())
    try:
        return sorted(vals.tolist())
    except TypeError:
        return sorted(vals.tolist(), key=str)


def design_matrix(data: pd.DataFrame, covariates: list[str], categorical: list[str] | tuple[str, ...] = (),
                  intercept: bool = True) -> tuple[np.ndarray, list[str], dict[str, list[str]]]:
    """R-style design matrix.  Returns (X, term names, {variable: [its term names]})."""
    cols: list[np.ndarray] = []
    names: list[str] = []
    terms: dict[str, list[str]] = {}
    n = len(data)
    if intercept:
        cols.append(np.ones(n))
        names.append("(Intercept)")
    for v in covariates:
        s = data[v]
        if v in categorical or s.dtype == object or isinstance(s.dtype, (pd.CategoricalDtype, pd.StringDtype)):
            levels = factor_levels(s)
            # compare each distinct value with the level once, not each row (an object array of 10^6
            # strings compared value by value); missing values (code -1) match no level
            codes, uniques = pd.factorize(s)
            t = []
            for lev in levels[1:]:
                match = np.array([bool(u == lev) for u in uniques] + [False])
                cols.append(match[codes].astype(float))
                t.append(f"{v}{lev}")
            names += t
            terms[v] = t
        elif s.dtype == bool or isinstance(s.dtype, pd.BooleanDtype):
            cols.append(s.to_numpy(dtype=float))
            names.append(f"{v}TRUE")
            terms[v] = [f"{v}TRUE"]
        else:
            cols.append(s.to_numpy(dtype=float))
            names.append(v)
            terms[v] = [v]
    X = np.column_stack(cols) if cols else np.empty((n, 0))
    return X, names, terms


def _linkinv(eta: np.ndarray) -> np.ndarray:
    tmp = np.where(eta < -_THRESH, _EPS, np.where(eta > _THRESH, 1 / _EPS, np.exp(np.clip(eta, -_THRESH, _THRESH))))
    return tmp / (1 + tmp)


def _mu_eta(eta: np.ndarray) -> np.ndarray:
    e = np.exp(np.clip(eta, -_THRESH, _THRESH))
    return np.where(np.abs(eta) > _THRESH, _EPS, e / (1 + e) ** 2)


def _deviance(y: np.ndarray, mu: np.ndarray) -> float:
    """The binomial deviance of a 0/1 outcome, 2 sum(y log(y/mu) + (1-y) log((1-y)/(1-mu))) (R's
    ``binomial()$dev.resids``).  With y in {0, 1} one term of each row is 0 and the other is log(1/mu)
    (y = 1) or log(1/(1-mu)) (y = 0), computed as such: the same operations on the same operands as
    the two-term formula, so the same bits, at a third of the array passes (the IRLS of every bootstrap
    and jackknife chain calls this ~5 times)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.log(1.0 / np.where(y > 0, mu, 1 - mu))
    return float(2 * np.sum(terms))


_RANK_TOL = 1e-11  # glm.fit: Cdqrls(tol = min(1e-07, epsilon / 1000))


class _Aliased(Exception):
    """The design matrix is rank deficient: column ``first`` is a combination of the ones before it."""

    def __init__(self, first: int):
        super().__init__(first)
        self.first = first
        self.iteration = 1


def _wls(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least squares min |A x - b| by the corrected semi-normal equations (Björck): R from a QR of A
    (R only: ~5x faster than forming Q at 1e6 rows), x = R^-1 R^-T A'b, plus one refinement step on the
    residual, which restores the accuracy of a full QR solve."""
    r = np.linalg.qr(A, mode="r")
    norms = np.linalg.norm(A, axis=0)
    aliased = (np.abs(np.diag(r)) <= _RANK_TOL * norms) | (norms == 0)
    if aliased.any():
        raise _Aliased(int(np.flatnonzero(aliased)[0]))
    rt = r.T

    def solve(rhs):
        return np.linalg.solve(r, np.linalg.solve(rt, rhs))

    x = solve(A.T @ b)
    return x + solve(A.T @ (b - A @ x))


def _linear_predictor(X: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """X beta accumulated column by column (as the reference BLAS ``dgemv`` behind R's ``x %*% start``),
    so that rows with identical covariates get bit-identical scores.  A blocked/SIMD matrix product can
    round identical rows differently by one ulp, which splits MatchIt's distance ties (lalonde has 19
    controls sharing 8 covariate patterns) and changes which tied control a treated unit gets."""
    eta = np.zeros(X.shape[0])
    for j in range(X.shape[1]):
        eta += beta[j] * X[:, j]
    return eta


@dataclass(frozen=True)
class LogisticFit:
    """A fitted logistic model: coefficients by R term name, fitted probabilities and linear predictor."""

    coefficients: pd.Series
    fitted: np.ndarray
    linear_predictor: np.ndarray
    deviance: float
    iterations: int
    converged: bool

    def distance(self, link: str) -> np.ndarray:
        """The matching distance for MatchIt's ``link`` (:func:`matching_distance`)."""
        return matching_distance(self.linear_predictor, link, self.fitted)


def matching_distance(eta: np.ndarray, link: str, mu: np.ndarray | None = None) -> np.ndarray:
    """The matching distance for MatchIt's ``link`` from the linear predictor ``eta``: the fitted
    probability for ``"logit"`` (``mu`` where already computed, else the inverse logit of ``eta``),
    the linear predictor itself (the logit of the score) for ``"linear.logit"``."""
    if link != "logit":
        return eta
    return _linkinv(eta) if mu is None else mu


def logistic_irls(X: np.ndarray, y: np.ndarray, names: list[str], epsilon: float = 1e-8, maxit: int = 25) -> LogisticFit:
    """Logistic regression by R's ``glm.fit`` IRLS (see module docstring)."""
    X, y = _checked(X, y, names)
    beta, eta, mu, dev, it, converged, keep = _fit(X, y, epsilon, maxit)
    if not converged:
        warnings.warn("glm.fit: algorithm did not converge", RuntimeWarning, stacklevel=2)
    if np.any(mu > 1 - 10 * _EPS) or np.any(mu < 10 * _EPS):
        warnings.warn("glm.fit: fitted probabilities numerically 0 or 1 occurred", RuntimeWarning, stacklevel=2)
    if not keep.all():
        dropped = [n for n, k in zip(names, keep, strict=True) if not k]
        warnings.warn(f"glm: {len(dropped)} coefficient(s) not defined because of singularities (NA, as R): "
                      f"{', '.join(dropped)}", RuntimeWarning, stacklevel=2)
    return LogisticFit(pd.Series(beta, index=names), mu, eta, dev, it, converged)


def logistic_distance(X: np.ndarray, y: np.ndarray, names: list[str], link: str, epsilon: float = 1e-8,
                      maxit: int = 25) -> np.ndarray:
    """``logistic_irls(X, y, names).distance(link)`` without the fit's object and warnings: the same
    checks (ValueError), the same arithmetic and so the same bits.  For loops that only need the
    matching distance (the bootstrap and jackknife re-fit the score ~1,600 times per study; the
    coefficient Series and the warnings cost a fifth of a fit there, and those loops ignore them)."""
    X, y = _checked(X, y, names)
    _, eta, mu, *_ = _fit(X, y, epsilon, maxit)
    return matching_distance(eta, link, mu)


def _checked(X, y, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """X and y as float arrays, or the ValueError of a term with missing values, an outcome that is
    not 0/1, or fewer rows than coefficients."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if not np.isfinite(X).all():
        bad = [nm for j, nm in enumerate(names) if not np.isfinite(X[:, j]).all()]
        raise ValueError(f"logistic regression: term(s) {bad} have missing or infinite values")
    if not ((y == 0.0) | (y == 1.0)).all():
        raise ValueError("logistic regression: the outcome must be 0/1")
    if X.shape[0] <= X.shape[1]:
        raise ValueError(f"logistic regression: the {X.shape[1]} coefficients ({', '.join(names)}) cannot be "
                         f"estimated from {X.shape[0]} rows")
    return X, y


def _fit(X: np.ndarray, y: np.ndarray, epsilon: float, maxit: int):
    """The IRLS with R's aliasing: (beta with NaN for aliased terms, eta, mu, deviance, iterations,
    converged, kept-term mask)."""
    keep = np.ones(X.shape[1], dtype=bool)
    while True:  # R's glm.fit: a term that is a combination of earlier ones is aliased (NA), the rest fitted
        try:
            beta_k, eta, mu, dev, it, converged = _irls(X[:, keep], y, epsilon, maxit)
            break
        except _Aliased as a:
            if a.iteration > 1:  # aliasing that appears only under later IRLS weights: not R's structure
                raise ValueError("logistic regression: the weighted design matrix became rank deficient") from a
            keep[np.flatnonzero(keep)[a.first]] = False
    beta = np.full(X.shape[1], np.nan)
    beta[keep] = beta_k
    eta = _linear_predictor(X[:, keep], beta_k)  # the final scores row-consistently: tied covariates, tied scores
    mu = _linkinv(eta)
    return beta, eta, mu, dev, it, converged, keep


def _irls(X: np.ndarray, y: np.ndarray, epsilon: float, maxit: int):
    mu = (y + 0.5) / 2
    eta = np.log(mu / (1 - mu))
    dev_old = _deviance(y, mu)
    beta = np.zeros(X.shape[1])
    converged = False
    it = 0
    for it in range(1, maxit + 1):  # noqa: B007 -- reported as iterations
        me = _mu_eta(eta)
        var = mu * (1 - mu)
        z = eta + (y - mu) / me
        w = np.sqrt(me**2 / var)
        try:
            beta_new = _wls(X * w[:, None], z * w)
        except _Aliased as a:
            a.iteration = it
            raise
        eta_new = X @ beta_new
        mu_new = _linkinv(eta_new)
        dev = _deviance(y, mu_new)
        step = 0
        while not np.isfinite(dev) and step < 30:  # step halving, as glm.fit does for a non-finite deviance
            beta_new = (beta_new + beta) / 2
            eta_new = X @ beta_new
            mu_new = _linkinv(eta_new)
            dev = _deviance(y, mu_new)
            step += 1
        beta, eta, mu = beta_new, eta_new, mu_new
        if abs(dev - dev_old) / (abs(dev) + 0.1) < epsilon:
            converged = True
            break
        dev_old = dev
    return beta, eta, mu, dev, it, converged


def propensity_score(data: pd.DataFrame, treated: np.ndarray, covariates: list[str],
                     categorical: list[str] | tuple[str, ...] = ()) -> LogisticFit:
    """P(treated | covariates) by logistic regression with R's design matrix and fit."""
    X, names, _ = design_matrix(data, covariates, categorical)
    return logistic_irls(X, np.asarray(treated, dtype=float), names)
