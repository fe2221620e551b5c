"""Two-group hypothesis tests as R computes them (the tests of R tableone / gtsummary Table 1s).

* :func:`chisq_test`: ``chisq.test(correct = TRUE)`` -- Pearson chi-square; Yates' continuity
  correction min(0.5, |O - E|) only on 2 x 2 tables (as R).
* :func:`fisher_test`: ``fisher.test`` -- exact conditional test, two-sided p summing the tables no more
  probable than the observed one (relative tolerance 1e-7, as R); exact for 2 x 2 and r x 2 tables,
  Monte Carlo (100,000 tables, fixed seed) for larger r x c tables (the test label says so).
* :func:`t_test`: Student (pooled variance, ``var.equal = TRUE``, tableone's default) or Welch.
* :func:`wilcoxon_test`: ``wilcox.test`` -- exact when both groups have < 50 values and there are no
  ties, otherwise the normal approximation with tie correction and continuity correction.
* :func:`kruskal_test`: ``kruskal.test`` (tie-corrected).
* :func:`format_p`: as R tableone prints it: 3 decimals, "<0.001" below.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class TestResult:
    test: str
    statistic: float
    p: float


def chisq_test(table, correct: bool = True) -> TestResult:
    """Pearson chi-square test of independence on a contingency table (R ``chisq.test``)."""
    o = np.asarray(table, dtype=float)
    o = o[o.sum(axis=1) > 0][:, o.sum(axis=0) > 0]
    if o.shape[0] < 2 or o.shape[1] < 2:
        return TestResult("chi-square", float("nan"), float("nan"))
    e = np.outer(o.sum(axis=1), o.sum(axis=0)) / o.sum()
    yates = correct and o.shape == (2, 2)
    d = np.abs(o - e)
    if yates:
        d = d - np.minimum(0.5, d)
    stat = float(((d**2) / e).sum())
    df = (o.shape[0] - 1) * (o.shape[1] - 1)
    name = "chi-square (Yates)" if yates else "chi-square"
    return TestResult(name, stat, float(stats.chi2.sf(stat, df)))


def fisher_test(table) -> TestResult:
    """Fisher's exact test, two-sided (R ``fisher.test``)."""
    o = np.asarray(table, dtype=np.int64)
    o = o[o.sum(axis=1) > 0][:, o.sum(axis=0) > 0]
    if o.shape[0] < 2 or o.shape[1] < 2:
        return TestResult("Fisher's exact", float("nan"), float("nan"))
    if o.shape == (2, 2):
        return TestResult("Fisher's exact", float("nan"), _fisher_2x2(o))
    if min(o.shape) == 2:
        p = _fisher_rx2(o if o.shape[1] == 2 else o.T)
        if p is not None:
            return TestResult("Fisher's exact", float("nan"), p)
    mc = stats.MonteCarloMethod(n_resamples=100_000, rng=np.random.default_rng(0))
    return TestResult("Fisher's exact (Monte Carlo)", float("nan"), float(stats.fisher_exact(o, method=mc).pvalue))


def _fisher_2x2(o: np.ndarray) -> float:
    """Hypergeometric two-sided p as R: sum of P(x) over x with P(x) <= P(obs) (1 + 1e-7)."""
    m, n, k = o[0].sum(), o[1].sum(), o[:, 0].sum()
    lo, hi = max(0, k - n), min(k, m)
    x = np.arange(lo, hi + 1)
    d = stats.hypergeom.logpmf(x, m + n, m, k)
    d = np.exp(d - d.max())
    obs = d[o[0, 0] - lo]
    return float(min(1.0, d[d <= obs * (1 + 1e-7)].sum() / d.sum()))


def _fisher_rx2(t: np.ndarray, max_states: int = 300_000) -> float | None:
    """Exact r x 2 Fisher test (a small network algorithm).

    A table with the observed margins is fixed by its first column a_1..a_r and has probability
    prod_i C(r_i, a_i) / C(N, c_1).  Rows are added one at a time; each partial table (partial total
    s, log-weight w) is settled as soon as the bounds of its completions allow: if even its most
    probable completion is <= P(observed) (1 + 1e-7), all its completions count, with total weight
    e^w C(N_rest, c_1 - s) (Vandermonde); if even its least probable completion is above, none count.
    Partial tables with equal (s, w) are merged.  The bounds are exact maxima / minima over the
    remaining rows by dynamic programming.  None when the open states exceed ``max_states``."""
    from scipy.special import gammaln, logsumexp
    rows = t.sum(axis=1).astype(np.int64)
    r_n = len(rows)
    c1 = int(t[:, 0].sum())
    lchoose = lambda n, k: gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)  # noqa: E731
    obs = float(lchoose(rows, t[:, 0]).sum()) + np.log1p(1e-7)
    # bounds over rows i..r-1 for each remaining total: hi[i][k], lo[i][k]; rest[i] = sum of rows i..
    rest = np.r_[np.cumsum(rows[::-1])[::-1], 0]
    hi = [None] * (r_n + 1)
    lo = [None] * (r_n + 1)
    hi[r_n] = np.array([0.0])
    lo[r_n] = np.array([0.0])
    for i in range(r_n - 1, -1, -1):
        size = rest[i] + 1
        h = np.full(size, -np.inf)
        low = np.full(size, np.inf)
        a = np.arange(rows[i] + 1)
        w = lchoose(rows[i], a)
        for k in range(size):  # over remaining totals (<= N), not patients
            ok = (k - a >= 0) & (k - a <= rest[i + 1])
            if ok.any():
                h[k] = np.max(w[ok] + hi[i + 1][k - a[ok]])
                low[k] = np.min(w[ok] + lo[i + 1][k - a[ok]])
        hi[i], lo[i] = h, low
    total = float(lchoose(rest[0], c1))
    counted: list[float] = []
    tot = np.zeros(1, dtype=np.int64)
    lp = np.zeros(1)
    lmult = np.zeros(1)  # log multiplicity
    for i in range(r_n):
        a = np.arange(rows[i] + 1)
        w = lchoose(rows[i], a)
        tot = (tot[:, None] + a[None, :]).ravel()
        lp = (lp[:, None] + w[None, :]).ravel()
        lmult = np.repeat(lmult, len(a))
        need = c1 - tot
        keep = (need >= 0) & (need <= rest[i + 1])
        tot, lp, lmult, need = tot[keep], lp[keep], lmult[keep], need[keep]
        all_in = lp + hi[i + 1][need] <= obs
        none_in = lp + lo[i + 1][need] > obs
        if all_in.any():
            counted.append(float(logsumexp(lp[all_in] + lmult[all_in] + lchoose(rest[i + 1], need[all_in]))))
        open_ = ~all_in & ~none_in
        tot, lp, lmult = tot[open_], lp[open_], lmult[open_]
        if len(tot) == 0:
            break
        key = np.round(lp, 9)
        order = np.lexsort((key, tot))
        tot, key, lp, lmult = tot[order], key[order], lp[order], lmult[order]
        new = np.r_[True, (tot[1:] != tot[:-1]) | (key[1:] != key[:-1])]
        idx = np.cumsum(new) - 1
        lmult = np.log(np.bincount(idx, weights=np.exp(lmult - lmult.max()))) + lmult.max()
        tot, lp = tot[new], lp[new]
        if len(tot) > max_states:
            return None
    if not counted:
        return 0.0
    return float(min(1.0, np.exp(logsumexp(counted) - total)))


def categorical_test(table, *, exact: bool = False, fisher_expected_below: float | None = 5.0) -> TestResult:
    """The Table 1 rule for a contingency table: Fisher's exact test when asked (``exact``) or when an
    expected count is below ``fisher_expected_below`` (None: never), else chi-square with Yates on 2 x 2."""
    o = np.asarray(table, dtype=float)
    expected = np.outer(o.sum(axis=1), o.sum(axis=0)) / max(o.sum(), 1)
    auto = fisher_expected_below is not None and o.shape[0] > 1 and (expected < fisher_expected_below).any()
    return fisher_test(table) if exact or auto else chisq_test(table, correct=True)


def t_test(x, y, equal_var: bool = True) -> TestResult:
    """Two-sample t test: Student (pooled) by default, Welch with ``equal_var=False``."""
    r = stats.ttest_ind(np.asarray(x, dtype=float), np.asarray(y, dtype=float), equal_var=equal_var)
    return TestResult("t-test (Student)" if equal_var else "t-test (Welch)", float(r.statistic), float(r.pvalue))


def wilcoxon_test(x, y) -> TestResult:
    """Wilcoxon rank-sum / Mann–Whitney U test as R ``wilcox.test`` (see module docstring)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ties = len(np.unique(np.r_[x, y])) < len(x) + len(y)
    exact = len(x) < 50 and len(y) < 50 and not ties
    r = stats.mannwhitneyu(x, y, use_continuity=True, alternative="two-sided",
                           method="exact" if exact else "asymptotic")
    return TestResult("Wilcoxon rank-sum" + (" (exact)" if exact else ""), float(r.statistic), float(min(1.0, r.pvalue)))


def kruskal_test(*groups) -> TestResult:
    r = stats.kruskal(*[np.asarray(g, dtype=float) for g in groups])
    return TestResult("Kruskal-Wallis", float(r.statistic), float(r.pvalue))


def format_p(p: float, digits: int = 3) -> str:
    """P value as R tableone prints it: fixed ``digits`` decimals, "<0.001" below 10^-digits."""
    if p is None or not np.isfinite(p):
        return ""
    if p < 10**-digits:
        return "<" + f"{10**-digits:.{digits}f}"
    return f"{p:.{digits}f}"
