"""The matched sample by construction (issue 15): the published number of pairs and the published
Table 1 after matching, from within-arm exchanges of covariate values.

The paper matched 182 SE patients 1:1 to SI patients on a propensity score (logistic regression on age,
sex, diameter, multiple tumours, vascular invasion and extrahepatic spread; greedy nearest-neighbour
matching, caliper 0.03 SD).  Its Table 1 after matching gives the counts per matched arm and their P
values.  :func:`matched_sample` makes the pipeline's own matching of the generated cohort give those
numbers.  A move exchanges the age (or the diameter) of two patients of the same arm, so every count,
mean and SD of Table 1 *before* matching stays exactly as it was; the propensity model is refitted, the
patients rematched, and the move kept only when the loss (:class:`_Loss`) falls.

Why random moves and not aimed ones: a greedy caliper matching is chaotic in the scores.  A change of
the fitted coefficients of 1e-4 re-pairs dozens of patients.  Measured on the built-in cohort, an
exchange of any covariate between two patients changes the matched flag of 40-100 of the 535 and the
pair count by several.  Exchanges built to move neither patient's score nor the fit (a factor moved
with compensating covariates between two patients of close scores) still change 4-30 flags, and the
counts they aim at moved as often the wrong way as the right one.  Each refit and rematch is therefore
close to a fresh draw of the matched sample around the same expectation, and a greedy search over
those draws is the cheapest route measured: the default seed reaches every target in 88 evaluations
(~0.3 s; seed 1 too), seed 4 in 1,269; others stop at ``max_evaluations`` (2,400, ~5 s) with the best
sample found -- at 800, the budget before, seeds 2 and 3 stayed outside their widened bands -- and the
seed-to-seed spread of what is left is measured (docs/synthetic-cohort.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import chdtrc, stdtr

from ..stats.matching import match_rows, matching_options
from ..stats.propensity import _linkinv, design_matrix, logistic_irls, matching_distance

#: the P-value scale of the loss: a P this far beyond its slack costs as much as one count beyond its slack
P_SCALE = 0.03
#: the covariates whose values the search exchanges (continuous: each exchange moves the scores a little)
RANDOM_MOVES = ("age", "max_diameter_cm")


@dataclass(frozen=True)
class MatchedSampleTargets:
    """What :func:`matched_sample` builds: ``pairs`` matched pairs; per binary covariate (a 0/1 column, or
    ``sex`` counted as female) the number with the factor among the matched (treated, control); per
    covariate a P value of Table 1 after matching (Welch's or Student's t test, ``t_test``, for a
    continuous one; Pearson's chi-square with Yates' correction for a binary one).  A count within
    ``count_slack`` of its target and a P within ``p_slack`` of its target are reached."""

    pairs: int
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    p_values: dict[str, float] = field(default_factory=dict)
    t_test: str = "welch"
    count_slack: int = 2
    p_slack: float = 0.08


@dataclass(frozen=True)
class MatchedSample:
    """The result of :func:`matched_sample`: per covariate of the model the permutation of rows its values
    took (``frame[v].to_numpy()[perm[v]]`` are the new values: the caller moves whatever belongs to a value
    with it), the number of pairs and the matched flags of the pipeline's own matching, the final loss
    (0: every target reached) and the number of candidate evaluations."""

    perm: dict[str, np.ndarray]
    n_pairs: int
    matched: np.ndarray
    loss: float
    evaluations: int


def propensity_pairs(frame: pd.DataFrame, treated: np.ndarray, spec) -> tuple[int, np.ndarray]:
    """The plan's propensity-score matching on ``frame`` (the analysis table's columns and row order):
    logistic regression on ``spec.on`` by the pipeline's IRLS, then the plan's matching
    (:func:`hccstudy.stats.matching.match_rows`, the matches of ``match_by_spec``).  Returns (number of
    pairs, matched flag per row)."""
    X, names, _ = design_matrix(frame, spec.on, [c for c in ("sex",) if c in spec.on])
    return _pairs_of(X, names, np.asarray(treated, dtype=bool), spec)


def _pairs_of(X: np.ndarray, names: list[str], treated: np.ndarray, spec) -> tuple[int, np.ndarray]:
    fit = logistic_irls(X, treated.astype(float), names)
    return _matches(fit.distance(spec.link), treated, spec)


def _matches(distance: np.ndarray, treated: np.ndarray, spec) -> tuple[int, np.ndarray]:
    m = match_rows(distance, treated, **matching_options(spec))
    matched = np.zeros(len(treated), dtype=bool)
    matched[m.treated] = True
    matched[m.control] = True
    return len(np.unique(m.treated)), matched


def _newton(X: np.ndarray, y: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """The logistic model's maximum-likelihood coefficients by Newton-Raphson from ``beta`` (the last
    fit: two or three steps to |step| < 1e-10).  Equal to the pipeline's IRLS fit to ~1e-10 in the scores,
    so a candidate is judged as the pipeline would judge it; :func:`matched_sample` re-checks its result
    with the IRLS fit itself."""
    for _ in range(25):
        mu = _linkinv(X @ beta)
        step = np.linalg.solve((X * (mu * (1 - mu))[:, None]).T @ X, X.T @ (y - mu))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta


def yates_p(a, b, n1: int, n2: int) -> np.ndarray:
    """P of Pearson's chi-square test with Yates' continuity correction (R's ``chisq.test`` default) for
    a/n1 vs b/n2, elementwise: X^2 = sum over the four cells of (|O - E| - min(0.5, |O - E|))^2 / E (in a
    2x2 table |O - E| is the same in every cell).  P = 1 where a margin is empty."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n = n1 + n2
    r1, r2 = a + b, n - a - b
    dev = np.abs(a - n1 * r1 / n)
    corr = (dev - np.minimum(0.5, dev)) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        x2 = corr * n * n / (n1 * n2) * (1 / np.maximum(r1, 1e-300) + 1 / np.maximum(r2, 1e-300))
    return np.where((r1 > 0) & (r2 > 0), chdtrc(1, x2), 1.0)


def t_test_p(s1, q1, n1: int, s2, q2, n2: int, welch: bool) -> np.ndarray:
    """Two-sided P of the two-sample t test (Welch's or Student's) from each sample's sum ``s`` and sum of
    squares ``q``, elementwise (mean s/n, variance (q - s^2/n)/(n - 1))."""
    m1, m2 = np.asarray(s1) / n1, np.asarray(s2) / n2
    v1 = np.maximum(np.asarray(q1) - np.asarray(s1) * m1, 0) / (n1 - 1)
    v2 = np.maximum(np.asarray(q2) - np.asarray(s2) * m2, 0) / (n2 - 1)
    if welch:
        se2 = v1 / n1 + v2 / n2
        with np.errstate(divide="ignore", invalid="ignore"):
            df = se2**2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    else:
        df = np.full(np.shape(m1), n1 + n2 - 2.0)
        se2 = ((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2) * (1 / n1 + 1 / n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(m1 - m2) / np.sqrt(se2)
    return np.where(se2 > 0, 2 * stdtr(df, -t), 1.0)


class _Loss:
    """The search's loss from the matched arms' sums S[a, c] and sums of squares Q[a, c] of the design
    columns (a = 0 treated, 1 control) and the arms' sizes:

        L = 1000 |pairs - target| + sum over (factor, arm) of max(0, |count - target| - count_slack)^2
            + sum over P targets of (max(0, |P - target| - p_slack) / P_SCALE)^2

    Returns (L, the signed misses by target).  Its chi-square and t tests (:func:`yates_p`,
    :func:`t_test_p`) are Table 1's (:mod:`hccstudy.stats.tests`, checked against scipy) from the arms'
    sums: calling those made the search nearly 3x slower (0.24 -> 0.66 s CPU for the default seed)."""

    def __init__(self, targets: MatchedSampleTargets, col: dict[str, int], level_is_zero: dict[str, bool]):
        self.t = targets
        self.col = col
        self.flip = level_is_zero   # the counted level is the design column's 0 (sex: female vs sexmale)

    def counts(self, S: np.ndarray, n: np.ndarray, v: str) -> np.ndarray:
        c = S[..., self.col[v]]
        return n - c if self.flip[v] else c

    def __call__(self, S: np.ndarray, Q: np.ndarray, n: np.ndarray, pairs: int) -> tuple[np.ndarray, dict]:
        t = self.t
        total = np.full(S.shape[:-2], 1000.0 * abs(pairs - t.pairs))
        miss: dict = {}
        for v, goal in t.counts.items():
            cnt = self.counts(S, n, v)
            for a in (0, 1):
                d = cnt[..., a] - goal[a]
                miss[(v, a)] = d
                total = total + np.maximum(0, np.abs(d) - t.count_slack) ** 2
        for v, goal in t.p_values.items():
            k = self.col[v]
            if v in t.counts:
                cnt = self.counts(S, n, v)
                p = yates_p(cnt[..., 0], cnt[..., 1], int(n[0]), int(n[1]))
            else:
                p = t_test_p(S[..., 0, k], Q[..., 0, k], int(n[0]), S[..., 1, k], Q[..., 1, k], int(n[1]),
                             t.t_test != "student")
            miss[v] = p - goal
            total = total + (np.maximum(0.0, np.abs(p - goal) - t.p_slack) / P_SCALE) ** 2
        return total, miss


def _arm_sums(X: np.ndarray, matched: np.ndarray, treated: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arms = (matched & treated, matched & ~treated)
    S = np.stack([X[m].sum(axis=0) for m in arms])
    Q = np.stack([(X[m] ** 2).sum(axis=0) for m in arms])
    return S, Q, np.array([m.sum() for m in arms], dtype=float)


def matched_sample(rng, frame: pd.DataFrame, treated: np.ndarray, spec, targets: MatchedSampleTargets,
                   max_evaluations: int = 2400) -> MatchedSample:
    """Exchanges of age or diameter values within the arms of ``frame`` (the analysis table's model columns
    and row order; ``treated`` the matching's treated flag), each kept when the plan's matching (``spec``)
    of the result comes closer to ``targets`` (:class:`_Loss`), until every target is reached or after
    ``max_evaluations`` refits and rematches (module docstring).  The search scores candidates with a
    Newton fit of the propensity model warm-started from the last one (:func:`_newton`); the result is
    the pipeline's own fit and matching of the final values.  Every count, mean and SD per arm of
    ``frame`` is unchanged."""
    X, names, terms = design_matrix(frame, spec.on, [c for c in ("sex",) if c in spec.on])
    col = {v: names.index(terms[v][0]) for v in spec.on}
    flip = {v: v == "sex" and names[col[v]] != "sexfemale" for v in spec.on}
    loss = _Loss(targets, col, flip)
    by_col = {col[v]: v for v in spec.on}
    perm = {v: np.arange(len(frame)) for v in spec.on}
    t = np.asarray(treated, dtype=bool)
    y = t.astype(float)
    arms = (np.flatnonzero(t), np.flatnonzero(~t))
    moving = [col[v] for v in RANDOM_MOVES if v in col] or [col[v] for v in spec.on]

    beta = _newton(X, y, np.nan_to_num(logistic_irls(X, y, names).coefficients.to_numpy(dtype=float)))
    pairs, matched = _matches(_distance(X, beta, spec), t, spec)
    cur = float(loss(*_arm_sums(X, matched, t), pairs)[0])

    def exchange(i: int, j: int, c: int) -> None:
        X[[i, j], c] = X[[j, i], c]
        p = perm[by_col[c]]
        p[[i, j]] = p[[j, i]]

    evaluations = 0
    while evaluations < max_evaluations and cur > 0:
        a = int(rng.integers(2))
        i, j = (int(k) for k in rng.choice(arms[a], size=2, replace=False))
        c = moving[int(rng.integers(len(moving)))]
        evaluations += 1
        if X[i, c] == X[j, c]:
            continue
        exchange(i, j, c)
        b_new = _newton(X, y, beta)
        k_pairs, m = _matches(_distance(X, b_new, spec), t, spec)
        new = float(loss(*_arm_sums(X, m, t), k_pairs)[0])
        if new < cur:
            cur, beta, pairs, matched = new, b_new, k_pairs, m
        else:
            exchange(i, j, c)
    final, flags = _pairs_of(X, names, t, spec)    # the pipeline's own fit decides
    if final != pairs or not np.array_equal(flags, matched):
        cur = float(loss(*_arm_sums(X, flags, t), final)[0])
    return MatchedSample(perm, final, flags, cur, evaluations)


def _distance(X: np.ndarray, beta: np.ndarray, spec) -> np.ndarray:
    return matching_distance(X @ beta, spec.link)
