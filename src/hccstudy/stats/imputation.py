"""Multiple imputation by chained equations (MICE; van Buuren & Groothuis-Oudshoorn 2011), seeded.

``mice_impute`` follows R ``mice``'s algorithm but not its random-number stream (the results are
deterministic for a seed, not R-identical).  Missing values of each imputed column start as random draws
from its observed values; then, ``iterations`` times, each column with missing values (in the order
given) is imputed from a model on its observed rows, with all other listed columns (at their current,
partly imputed values) and the given complete ``predictors`` as covariates (numeric as is, binary as 0/1,
categorical as dummies of all but the first level, plus an intercept).  Methods:

* ``pmm`` (numeric; ``mice.impute.pmm``, matching type 1): least squares on the observed rows, beta-hat
  = V X'y with V = (X'X)^-1 (normal equations by Cholesky) (a ridge of 1e-5 diag(X'X) when X'X is singular, as ``mice:::estimice``); a Bayesian
  draw sigma* = sqrt(RSS / chi2_{n_obs - p}), beta* = beta-hat + sigma* chol(V)' z; predicted means
  X_obs beta-hat for the observed and X_mis beta* for the missing rows; each missing row takes the observed
  value of a donor drawn at random among the ``donors`` (5) observed rows with the closest predicted mean.
  Imputed values are therefore always observed values.
* ``logreg`` (binary; ``mice.impute.logreg``): logistic regression by IRLS on the observed rows, with a
  small ridge (1e-4 on the non-intercept coefficients) in place of mice's data augmentation against
  perfect prediction; beta* = beta-hat + chol(cov)' z; y* ~ Bernoulli(expit(X_mis beta*)).
* ``polyreg`` (unordered categorical, > 2 levels; ``mice.impute.polyreg``): multinomial logistic
  regression (same small ridge), then each missing row is drawn from its fitted category probabilities
  (as mice, which uses ``nnet::multinom``'s fitted probabilities without a parameter draw).  Imputed
  values are always observed levels.

Seeds: imputation i uses ``numpy.random.SeedSequence(seed).spawn(m)[i]``, so it does not depend on m, on
the other imputations or on how they are spread over workers (:func:`impute_one` computes one).

References: van Buuren S, Groothuis-Oudshoorn K. mice: Multivariate Imputation by Chained Equations in R.
J Stat Softw 2011;45(3).  van Buuren S. Flexible Imputation of Missing Data, 2nd ed. CRC, 2018 (sec. 3.4
on predictive mean matching; Algorithm 3.3 for the Bayesian linear-regression draw).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, log_softmax

METHODS = ("pmm", "logreg", "polyreg")
RIDGE_LS = 1e-5
RIDGE_GLM = 1e-4


@dataclass(frozen=True)
class _Column:
    """A column's working state: numeric values (``levels`` None) or integer level codes."""

    name: str
    method: str | None          # None: complete, used only as a predictor
    levels: tuple | None        # observed levels (binary/categorical), in sorted order
    missing: np.ndarray         # boolean mask


def _kind(s: pd.Series) -> str:
    obs = s.dropna()
    if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object or pd.api.types.is_bool_dtype(s.dtype) \
            or pd.api.types.is_string_dtype(s.dtype):
        return "logreg" if obs.nunique() <= 2 else "polyreg"
    if pd.api.types.is_numeric_dtype(s.dtype):
        return "logreg" if obs.nunique() == 2 else "pmm"
    raise ValueError(f"column {s.name!r}: cannot impute values of type {s.dtype}")


def _levels(s: pd.Series) -> tuple:
    if isinstance(s.dtype, pd.CategoricalDtype):
        present = set(s.dropna().unique())
        return tuple(c for c in s.cat.categories if c in present)
    return tuple(sorted(s.dropna().unique(), key=lambda v: (str(type(v)), v)))


def _prepare(df: pd.DataFrame, columns: list[str], predictors: list[str], methods: Mapping[str, str]):
    missing_cols = [c for c in [*columns, *predictors] if c not in df.columns]
    if missing_cols:
        raise ValueError(f"column(s) {missing_cols} not in the data")
    dup = set(columns) & set(predictors)
    if dup:
        raise ValueError(f"column(s) {sorted(dup)} are both imputed and fixed predictors")
    unknown = {k: v for k, v in methods.items() if k not in columns or v not in METHODS}
    if unknown:
        raise ValueError(f"methods {unknown}: keys must be imputed columns and values one of {METHODS}")
    cols, state = [], {}
    for name in [*columns, *predictors]:
        s = df[name]
        miss = s.isna().to_numpy()
        if miss.all():
            raise ValueError(f"column {name!r} has no observed values: nothing to impute from")
        if name in predictors and miss.any():
            raise ValueError(f"predictor {name!r} has {int(miss.sum())} missing value(s): list it in the imputed "
                             f"columns or give a complete predictor")
        method = methods.get(name) or _kind(s)
        if method == "pmm":
            if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
                raise ValueError(f"column {name!r}: pmm needs a numeric column, got {s.dtype}")
            levels, values = None, s.to_numpy(dtype=float, na_value=np.nan)
        else:
            levels = _levels(s)
            if method == "logreg" and len(levels) > 2:
                raise ValueError(f"column {name!r}: logreg needs a binary column, got {len(levels)} levels")
            codes = pd.Categorical(s, categories=list(levels)).codes.astype(float)
            values = np.where(miss, np.nan, codes)
        cols.append(_Column(name, method if (name in columns and miss.any()) else None, levels, miss))
        state[name] = values
    return cols, state


def _design(cols: list[_Column], state: dict, target: str) -> np.ndarray:
    parts = [np.ones(len(state[target]))]
    for c in cols:
        if c.name == target:
            continue
        v = state[c.name]
        if c.levels is None or len(c.levels) <= 2:
            parts.append(v)
        else:
            codes = v.astype(int)
            parts.append((codes[:, None] == np.arange(1, len(c.levels))[None, :]).astype(float))
    return np.column_stack(parts)


def _chol_draw(v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    v = (v + v.T) / 2
    try:
        low = np.linalg.cholesky(v)
    except np.linalg.LinAlgError:
        w, q = np.linalg.eigh(v)
        low = q * np.sqrt(np.clip(w, 0, None))
    return low @ rng.standard_normal(v.shape[0])


def _pmm(y, X, miss, donors, rng):
    Xo, yo = X[~miss], y[~miss]
    xtx = Xo.T @ Xo
    try:
        low_inv = np.linalg.inv(np.linalg.cholesky(xtx))
        v = low_inv.T @ low_inv
    except np.linalg.LinAlgError:  # (nearly) collinear predictors: mice's ridge
        v = np.linalg.inv(xtx + np.diag(RIDGE_LS * np.diag(xtx)))
    coef = v @ (Xo.T @ yo)
    resid = yo - Xo @ coef
    df = max(len(yo) - X.shape[1], 1)
    sigma = np.sqrt((resid @ resid) / rng.chisquare(df))
    beta = coef + _chol_draw(v, rng) * sigma
    yhat_obs = Xo @ coef
    yhat_mis = X[miss] @ beta
    order = np.argsort(yhat_obs, kind="stable")
    sorted_obs = yhat_obs[order]
    n_obs = len(sorted_obs)
    d = min(donors, n_obs)
    # the d nearest observed predictions lie within d places either side of the insertion point
    pos = np.searchsorted(sorted_obs, yhat_mis)
    window = np.clip(pos[:, None] + np.arange(-d, d)[None, :], 0, n_obs - 1)
    dist = np.abs(sorted_obs[window] - yhat_mis[:, None])
    dist = np.where(np.diff(window, axis=1, prepend=-1) == 0, np.inf, dist)  # clipped duplicates
    # ties in distance are broken at random (mice shuffles the donors for the same reason)
    dist = dist + rng.random(dist.shape) * 1e-12 * (1 + np.abs(dist))
    nearest = np.argpartition(dist, d - 1, axis=1)[:, :d]
    pick = nearest[np.arange(len(yhat_mis)), rng.integers(0, d, size=len(yhat_mis))]
    return yo[order[window[np.arange(len(yhat_mis)), pick]]]


def _logistic_fit(X, y):
    beta = np.zeros(X.shape[1])
    pen = np.full(X.shape[1], RIDGE_GLM)
    pen[0] = 0.0
    for _ in range(50):
        p = expit(X @ beta)
        w = p * (1 - p)
        H = (X * w[:, None]).T @ X + np.diag(pen)
        step = np.linalg.solve(H, X.T @ (y - p) - pen * beta)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    p = expit(X @ beta)
    H = (X * (p * (1 - p))[:, None]).T @ X + np.diag(pen)
    return beta, np.linalg.inv(H)


def _logreg(y, X, miss, rng):
    beta, cov = _logistic_fit(X[~miss], y[~miss])
    beta_star = beta + _chol_draw(cov, rng)
    p = expit(X[miss] @ beta_star)
    return (rng.random(p.size) <= p).astype(float)


def _multinomial_fit(X, y, k):
    """Ridge-stabilised multinomial logistic regression (first level = reference) by Newton-Raphson;
    the log-likelihood is concave, so full steps converge (halved if one fails to increase it)."""
    n, q = X.shape
    Y = (y.astype(int)[:, None] == np.arange(1, k)[None, :]).astype(float)
    pen = np.full((q, k - 1), RIDGE_GLM)
    pen[0] = 0.0

    def loglik(b):
        logp = log_softmax(np.column_stack([np.zeros(n), X @ b]), axis=1)
        return (logp[np.arange(n), y.astype(int)]).sum() - 0.5 * (pen * b * b).sum(), np.exp(logp[:, 1:])

    B = np.zeros((q, k - 1))
    ll, p = loglik(B)
    for _ in range(50):
        grad = X.T @ (Y - p) - pen * B
        H4 = np.empty((q, k - 1, q, k - 1))  # block (a, b): X' diag(p_a (delta_ab - p_b)) X
        for a in range(k - 1):
            for b in range(a, k - 1):
                w = p[:, a] * ((a == b) - p[:, b])
                H4[:, a, :, b] = H4[:, b, :, a] = (X * w[:, None]).T @ X
        H = H4.reshape(q * (k - 1), q * (k - 1)) + np.diag(pen.ravel())
        step = np.linalg.solve(H, grad.ravel()).reshape(q, k - 1)
        for _half in range(30):
            new_ll, new_p = loglik(B + step)
            if new_ll >= ll - 1e-12 * abs(ll):
                break
            step = step / 2
        B, ll, p = B + step, new_ll, new_p
        if np.max(np.abs(step)) < 1e-9:
            break
    return np.column_stack([np.zeros(q), B])


def _polyreg(y, X, miss, k, rng):
    B = _multinomial_fit(X[~miss], y[~miss], k)
    prob = np.exp(log_softmax(X[miss] @ B, axis=1))
    u = rng.random(prob.shape[0])[:, None]
    return np.minimum((np.cumsum(prob, axis=1) < u).sum(axis=1), k - 1).astype(float)


def impute_one(df: pd.DataFrame, columns: Iterable[str], seed_sequence: np.random.SeedSequence, *,
               iterations: int = 10, predictors: Iterable[str] = (), methods: Mapping[str, str] | None = None,
               donors: int = 5) -> pd.DataFrame:
    """One completed copy of ``df`` (see :func:`mice_impute`), from its own ``seed_sequence``."""
    columns, predictors = list(columns), list(predictors)
    if iterations < 1 or donors < 1:
        raise ValueError(f"iterations ({iterations}) and donors ({donors}) must be >= 1")
    cols, state = _prepare(df, columns, predictors, dict(methods or {}))
    rng = np.random.default_rng(seed_sequence)
    todo = [c for c in cols if c.method is not None]
    for c in todo:  # start: random draws from the observed values
        obs = state[c.name][~c.missing]
        state[c.name] = state[c.name].copy()
        state[c.name][c.missing] = obs[rng.integers(0, obs.size, size=int(c.missing.sum()))]
    for _ in range(iterations):
        for c in todo:
            y = state[c.name]
            observed = y[~c.missing]
            if (observed == observed[0]).all():  # one observed value: nothing to model
                y[c.missing] = observed[0]
                continue
            X = _design(cols, state, c.name)
            if c.method == "pmm":
                draw = _pmm(y, X, c.missing, donors, rng)
            elif c.method == "logreg":
                draw = _logreg(y, X, c.missing, rng)
            else:
                draw = _polyreg(y, X, c.missing, len(c.levels), rng)
            y[c.missing] = draw
    out = df.copy()
    for c in todo:
        s = out[c.name].copy()
        vals = state[c.name][c.missing]
        if c.levels is None:
            s[c.missing] = vals  # observed values: integral where the column is
        else:
            labels = np.asarray(c.levels, dtype=object)[vals.astype(int)]
            if s.dtype != object and not isinstance(s.dtype, pd.CategoricalDtype) \
                    and not pd.api.types.is_extension_array_dtype(s.dtype):
                labels = labels.astype(s.dtype)
            s[c.missing] = labels
        out[c.name] = s
    return out


def mice_impute(df: pd.DataFrame, columns: Iterable[str], m: int = 20, *, seed: int, iterations: int = 10,
                predictors: Iterable[str] = (), methods: Mapping[str, str] | None = None,
                donors: int = 5) -> list[pd.DataFrame]:
    """Impute the missing values of ``columns`` m times by chained equations; return m completed copies of
    ``df`` (``df`` itself is never modified; other columns are copied unchanged).

    Method by column type unless ``methods`` says otherwise: ``pmm`` for numeric columns with more than
    two observed values, ``logreg`` for binary columns (two observed values: bool, 0/1, two labels),
    ``polyreg`` for unordered categorical columns (object, string or category, more than two levels).
    Each column's model uses the other ``columns`` and the complete ``predictors``.  ``seed`` is required:
    imputation i is seeded by ``SeedSequence(seed).spawn(m)[i]`` (see module docstring)."""
    if m < 1:
        raise ValueError(f"m must be >= 1, got {m}")
    columns = list(columns)
    children = np.random.SeedSequence(seed).spawn(m)
    return [impute_one(df, columns, ss, iterations=iterations, predictors=predictors, methods=methods,
                       donors=donors) for ss in children]
