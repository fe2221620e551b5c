"""Deterministic construction steps of the synthetic cohort: what the generator builds exactly instead
of only sampling (issue 15, "reproduce tightly").

* :func:`moment_targets` / :func:`moment_match` -- a continuous covariate of an arm, on its recording
  grid (age in whole years, diameter in 0.1 cm), with a mean and SD chosen inside the published
  rounding intervals so that the two-sample t test of Table 1 gives the published P at its decimals.
* :func:`monotone_map` -- a rank-preserving, piecewise-linear rescaling of one arm's event times so
  that its Kaplan-Meier curve passes through published points (landmark rates, median).

All steps work on arrays (a swap search evaluates one candidate per iteration; a few dozen at most).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ..stats.cox import RiskSets, _loglik, _prepare, _solve, newton_raphson


# ----------------------------------------------------------------------------------- moments
def welch_p(m1: float, s1: float, n1: int, m2: float, s2: float, n2: int) -> float:
    """Two-sided P of Welch's t test from summary statistics (R's ``t.test`` default; the paper's)."""
    return float(stats.ttest_ind_from_stats(m1, s1, n1, m2, s2, n2, equal_var=False).pvalue)


def moment_targets(pub: tuple[tuple[float, float], tuple[float, float]], n: tuple[int, int], p_target: float,
                   step: float, mean_decimals: int, sd_decimals: int, p_decimals: int = 3,
                   ) -> tuple[tuple[float, float], tuple[float, float]]:
    """Exact (mean, SD) per arm for a covariate recorded on a grid of ``step``: each mean a multiple of
    step / n (a sum of grid values) that prints as the published mean; each SD inside the interval that
    rounds to the published SD.  Among those, the set whose Welch P is closest to ``p_target`` (the
    middle of the interval that rounds to it, so that a tiny SD error cannot move the P out of it):
    first with the published SDs, then, if that P is not within a quarter of the last decimal, with SDs
    moved inside their rounding intervals (kept 0.001 from the edges: the SD reached on the grid is
    within ~1e-4 of the one asked for)."""
    half = 0.5 * 10.0 ** -mean_decimals
    grids = []
    for (mean, _), k in zip(pub, n, strict=True):
        lo, hi = np.ceil((mean - half) * k / step - 1e-6), np.floor((mean + half) * k / step + 1e-6)
        cand = np.arange(lo, hi + 1) * step / k
        shown = np.char.mod(f"%.{mean_decimals}f", cand)   # as R and Python print it (ties to even)
        cand = cand[shown == f"{mean:.{mean_decimals}f}"]
        grids.append(cand[::max(1, len(cand) // 40)])   # at most ~40 means spread over the interval
    if min(n) < 2 or any(len(g) == 0 for g in grids):
        # a tiny cohort (e.g. --patients 60): no sum of grid values prints as the published mean, or no
        # SD to speak of; the published moments are aimed at as they are
        return tuple((float(mean), float(sd)) for mean, sd in pub)  # type: ignore[return-value]
    sd_half = 0.5 * 10.0 ** -sd_decimals
    tol = 0.25 * 10.0 ** -p_decimals
    best = None
    for width in (0, 1):
        sds = [np.unique(np.r_[sd, np.linspace(sd - sd_half + 1e-3, sd + sd_half - 1e-3, 7) if width else sd])
               for _, sd in pub]
        m1, m2, s1, s2 = np.meshgrid(grids[0], grids[1], sds[0], sds[1], indexing="ij")
        p = stats.ttest_ind_from_stats(m1, s1, n[0], m2, s2, n[1], equal_var=False).pvalue
        cost = np.round(np.abs(p - p_target), 6) + 1e-9 * (np.abs(s1 - pub[0][1]) + np.abs(s2 - pub[1][1]))
        i = np.unravel_index(np.argmin(cost), p.shape)
        best = (float(m1[i]), float(s1[i])), (float(m2[i]), float(s2[i]))
        if abs(p[i] - p_target) <= tol:
            break
    return best


def _on_grid(x: np.ndarray, step: float) -> np.ndarray:
    return np.round(np.round(x / step) * step, 6)


def moment_match(z: np.ndarray, mean: float, sd: float, lo: float, hi: float, step: float) -> np.ndarray:
    """Values on the grid ``step`` within [lo, hi] with mean exactly ``mean`` (a multiple of step / n)
    and SD within a fraction of ``step`` of ``sd``; ranks follow ``z`` (ties aside).

    1. scale: x = grid(clip(mean + k sd z)), k by bisection so that SD(x) is closest to ``sd``;
    2. sum: the missing grid steps are added one each to the patients whose value is furthest below
       (or above) its unrounded one, away from the bounds;
    3. SD: pairs of steps that keep the sum (one patient +step, another -step) move the sum of squares
       by 2 step (x_i - x_j) + 2 step^2 until it is as close as the grid allows.
    """
    z = np.asarray(z, dtype=float)
    n = len(z)
    if n < 3:
        return _on_grid(np.clip(np.full(n, mean), lo, hi), step)
    z = (z - z.mean()) / z.std(ddof=1)
    c, k = mean, 1.0
    for _ in range(4):  # centre and scale of the clipped normal scores (clipping moves both)
        a, b = mean - 2 * sd, mean + 2 * sd
        for _ in range(40):
            c = 0.5 * (a + b)
            a, b = (c, b) if np.clip(c + k * sd * z, lo, hi).mean() < mean else (a, c)
        a, b = 0.3, 3.0
        for _ in range(40):
            k = 0.5 * (a + b)
            a, b = (k, b) if np.clip(c + k * sd * z, lo, hi).std(ddof=1) < sd else (a, k)
    raw = np.clip(c + k * sd * z, lo, hi)
    x = _on_grid(raw, step)
    # 2. exact sum
    need = int(round((mean * n - x.sum()) / step))
    if need:
        s = np.sign(need)
        room = (x + s * step <= hi + 1e-9) & (x + s * step >= lo - 1e-9)
        resid = np.where(room, s * (raw - x), -np.inf)
        pick = np.argsort(-resid, kind="stable")[:min(abs(need), int(room.sum()))]
        x[pick] += s * step
    # 3. sum of squares: each move is +step on patient i and -step on patient j (the sum is kept);
    #    it changes the sum of squares by 2 step (x_i - x_j) + 2 step^2, so one move closes most of the gap
    q_target = (n - 1) * sd**2 + n * mean**2
    for _ in range(50):
        gap = q_target - float(np.sum(x * x))
        want = gap / (2 * step) - step          # the x_i - x_j that closes the gap
        can_up = np.flatnonzero(x + step <= hi + 1e-9)
        can_dn = np.flatnonzero(x - step >= lo - 1e-9)
        if not len(can_up) or not len(can_dn):
            break
        j = can_dn[np.argmin(x[can_dn])] if want >= 0 else can_dn[np.argmax(x[can_dn])]
        ok = can_up[can_up != j]
        if not len(ok):
            break
        i = ok[np.argmin(np.abs(x[ok] - x[j] - want))]
        new = gap - (2 * step * (x[i] - x[j]) + 2 * step * step)
        if abs(new) >= abs(gap):
            break
        x[i] += step
        x[j] -= step
    return _on_grid(x, step)


# ----------------------------------------------------------------------------------- survival curves
def km_at(time: np.ndarray, event: np.ndarray, at) -> np.ndarray:
    """Kaplan-Meier survival at each time in ``at`` (right-continuous: events at that time count).
    Records sorted by time, events before censorings at a tie: the product of (1 - 1/at-risk) over the
    events one by one equals the product of (1 - d/n) over the distinct times."""
    ev = event if event.dtype == bool else event.astype(bool)
    order = np.argsort(2.0 * time + np.where(ev, 0.0, 1e-9 + 1e-12 * np.abs(time)), kind="stable")
    t = time[order]
    k = np.searchsorted(t, np.asarray(at, dtype=float), side="right") - 1
    # the product up to the last position asked for (a cumulative product is sequential: its first
    # m + 1 terms do not depend on the rest)
    m = int(k.max()) + 1 if k.size else 0
    s = np.cumprod(1.0 - ev[order[:m]] / np.arange(len(t), len(t) - m, -1))
    return np.where(k >= 0, s[np.maximum(k, 0)] if m else 1.0, 1.0)


def km_median(time: np.ndarray, event: np.ndarray) -> float:
    """The smallest time at which the Kaplan-Meier curve is <= 0.5 (survival's rule, without its
    averaging of a flat 0.5 stretch); NaN when not reached."""
    uniq = np.unique(time[event.astype(bool)])
    s = km_at(time, event, uniq)
    hit = np.flatnonzero(s <= 0.5 + 1e-12)
    return float(uniq[hit[0]]) if len(hit) else float("nan")


def monotone_map(latent: np.ndarray, knots_out: np.ndarray, knots_in: np.ndarray) -> np.ndarray:
    """Piecewise-linear increasing map latent -> time through (knots_in, knots_out), linear beyond the
    last knot with the last segment's slope."""
    slope = (knots_out[-1] - knots_out[-2]) / max(knots_in[-1] - knots_in[-2], 1e-9)
    inner = np.interp(latent, knots_in, knots_out)
    return np.where(latent > knots_in[-1], knots_out[-1] + (latent - knots_in[-1]) * slope, inner)


# ----------------------------------------------------------------------------------- event times
#: days per month: the pipeline's times are whole days / 30.4375, so the curves are fitted on those
DPM = 30.4375


def _observed(latent, floor, cens, k_in, k_out):
    """(observed months in whole days, event, event time) under the map with knots (k_in, k_out)."""
    t = np.maximum(monotone_map(latent, k_out, k_in), floor)
    return np.floor(np.minimum(t, cens) * DPM) / DPM, t <= cens, t


def fit_km_map(latent: np.ndarray, floor: np.ndarray, cens: np.ndarray, points: list[tuple[float, float]],
               sweeps: int = 2, iters: int = 24, start: np.ndarray | None = None,
               only: tuple[int, ...] | None = None, rescue: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Knots (latent, time) of the increasing piecewise-linear map g for which the Kaplan-Meier curve of
    (min(max(g(latent), floor), cens), event = max(g(latent), floor) <= cens) passes through ``points``
    ((time, survival) pairs, increasing in time): S(time) as close to the survival as the steps allow; a
    point with survival 0.5 is the median (the first time S <= 0.5).  Each knot is found by bisection
    on its latent value (S(time) falls as it grows), knot after knot, ``sweeps`` times (a later knot
    moves the censoring pattern seen by an earlier one a little)."""
    taus = np.array([p[0] for p in points], dtype=float)
    surv = np.array([p[1] for p in points], dtype=float)
    k_out = np.r_[0.0, taus]
    if start is None:
        k_in = np.r_[0.0, np.quantile(latent, np.clip(1 - surv, 0.01, 0.99))]
        k_in = np.maximum.accumulate(k_in + np.arange(len(k_in)) * 1e-6)
    else:
        k_in = np.r_[start[:len(points) + 1], np.zeros(max(0, len(points) + 1 - len(start)))]
        for j in range(len(start), len(k_in)):
            k_in[j] = max(k_in[j - 1] + 1e-3, float(np.quantile(latent, np.clip(1 - surv[j - 1], 0.01, 0.99))))
    top = float(latent.max()) * 4 + 1.0
    for _ in range(sweeps):
        for j in (range(1, len(k_in)) if only is None else only):
            lo = k_in[j - 1] + 1e-6
            hi = k_in[j + 1] - 1e-6 if j + 1 < len(k_in) else top
            is_median = surv[j - 1] == 0.5
            seen: dict[float, float] = {}   # the other knots are held: the miss is a function of x

            def miss(x: float, j: int = j, is_median: bool = is_median, seen: dict = seen) -> float:   # > 0: the knot must move up
                if x not in seen:
                    k_in[j] = x
                    obs, ev, _ = _observed(latent, floor, cens, k_in, k_out)
                    if is_median:
                        med = km_median(obs, ev)
                        seen[x] = np.inf if np.isnan(med) else med - taus[j - 1]
                    else:
                        seen[x] = km_at(obs, ev, [taus[j - 1]])[0] - surv[j - 1]
                return seen[x]

            bracket = (lo, hi)
            for _ in range(iters):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if miss(mid) > 0 else (lo, mid)
            best = lo if abs(miss(lo)) < abs(miss(hi)) else hi
            if rescue and abs(miss(best)) > (0.1 if is_median else 0.005):
                # the curve is not monotone in the knot where an event passes a censoring time (the
                # at-risk count of later events changes): scan the bracket for the best value instead
                grid = np.linspace(bracket[0], min(bracket[1], best + 4 * (best - bracket[0]) + 1), 121)
                best = min(np.r_[grid, best], key=lambda x: abs(miss(x)))
            k_in[j] = best
    # a median still missed by more than 0.1: search the median's knot together with the one before it
    # (kept where its own point is within 1 percentage point)
    for j in range(2, len(k_in) if rescue else 0):
        if surv[j - 1] != 0.5:
            continue
        obs, ev, _ = _observed(latent, floor, cens, k_in, k_out)
        med = km_median(obs, ev)
        if not np.isnan(med) and abs(med - taus[j - 1]) <= 0.1:
            continue
        cost_best, pair = np.inf, (k_in[j - 1], k_in[j])
        for prev in np.linspace(0.5 * (k_in[j - 2] + k_in[j - 1]), 0.5 * (k_in[j - 1] + k_in[j]), 15):
            for cur in np.linspace(prev + 1e-3, prev + 2.5 * (k_in[j] - k_in[j - 1]) + 1e-3, 60):
                kk = k_in.copy()
                kk[j - 1], kk[j] = prev, cur
                if j + 1 < len(kk) and cur >= kk[j + 1]:
                    continue
                obs, ev, _ = _observed(latent, floor, cens, kk, k_out)
                med = km_median(obs, ev)
                off = abs(km_at(obs, ev, [taus[j - 2]])[0] - surv[j - 2]) if j >= 2 else 0.0
                # minimax of the misses in units of ~80% of their bands (median +-0.3 months, rate +-2 pp)
                cost = max(10.0 if np.isnan(med) else abs(med - taus[j - 1]) / 0.25, off / 0.015)
                if cost < cost_best:
                    cost_best, pair = cost, (prev, cur)
        k_in[j - 1], k_in[j] = pair
    return k_in, k_out




def cox_coefficients(time: np.ndarray, event: np.ndarray, X: np.ndarray, risk: RiskSets | None = None,
                     eps: float = 1e-9, iter_max: int = 20) -> tuple[np.ndarray, bool]:
    """(coefficients, converged) of :func:`hccstudy.stats.cox.coxph` (Efron ties, no weights, strata or
    start) by the same Newton-Raphson steps on the same core (``_loglik``, ``_solve``), bit for bit,
    without what the generator does not use: the variance, the score test, the checks of
    infinite coefficients and the fit object.  ``risk``: :func:`~hccstudy.stats.cox.risk_sets` of
    (time, event), shared by fits on one sample.  One covariate: the step I^-1 U is (1 / I) U, which
    is what ``_solve`` computes for a 1 x 1 information that is positive and finite (its Cholesky
    factor is 1, its pivot I)."""
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    if not np.asarray(event).astype(bool).any():
        raise ValueError("no events: Cox regression needs at least one event")
    toler = np.finfo(float).eps ** 0.75
    prep = _prepare(time, event, X, None, "efron", risk)

    def step(H: np.ndarray, U: np.ndarray) -> np.ndarray:
        h = H[0, 0] if H.shape == (1, 1) else np.nan
        return np.array([(1 / h) * U[0]]) if np.isfinite(h) and h > 0 else _solve(H, U, toler)

    beta = np.zeros(X.shape[1])
    loglik, U, H, _ = _loglik(beta, prep)
    beta, _, _, _, converged, _ = newton_raphson(prep, beta, loglik, U, H, step, eps, iter_max)
    return beta, converged


def _score_state(X: np.ndarray, mk: np.ndarray, beta: np.ndarray, ev: np.ndarray, first: np.ndarray,
                 inv: np.ndarray | None = None):
    """Breslow score U at beta for covariate rows X in outcome time order, of the model fitted on the
    rows with mk = 1 only, with what a swap's first-order change needs: the weights w (0 outside the
    model's rows), the risk-set means S1/S0 and prefix sums over positions of e / S0 and e S1 / S0^2
    (e = event x mk; S0, S1: the risk-set sums of w and w x, the risk set of position s starting at
    first[s])."""
    w = np.exp(X @ beta) * mk
    e = ev * mk
    s0 = np.cumsum(w[::-1])[::-1][first]
    s1 = np.cumsum((w[:, None] * X)[::-1], axis=0)[::-1][first]
    pos = s0 > 0
    r0 = np.divide(1.0, s0, out=np.zeros_like(s0), where=pos)
    mean = s1 * r0[:, None]
    u = np.sum(e[:, None] * (X - mean), axis=0)
    pa = np.r_[0.0, np.cumsum(e * r0)]
    pb = np.vstack([np.zeros(X.shape[1]), np.cumsum(e[:, None] * mean * r0[:, None], axis=0)])
    if inv is None:
        s2 = np.cumsum((w[:, None, None] * X[:, :, None] * X[:, None, :])[::-1], axis=0)[::-1][first]
        info = np.sum(e[:, None, None] * (s2 * r0[:, None, None] - mean[:, :, None] * mean[:, None, :]), axis=0)
        inv = np.linalg.pinv(info)
    return w, u, pa, pb, inv, mean


def _score_states_1(X: np.ndarray, mk: np.ndarray, beta: np.ndarray, ev: np.ndarray, first: np.ndarray,
                    inv: np.ndarray | None = None):
    """:func:`_score_state` for M one-covariate models at once, positions x models: ``X`` and ``mk``
    n x M (a column per model), ``beta`` and ``inv`` length M.  The same operations, elementwise, in
    the same order down each column (cumulative sums are sequential along any axis; the two sums over
    positions run along contiguous rows of the transposed products, as numpy sums a 1-d array), so
    each column's result is bit for bit that of :func:`_score_state`; returns (w, u, pa, pb, inv,
    mean): n x M, M, (n + 1) x M, (n + 1) x M, M, n x M."""
    w = np.exp(X * beta) * mk
    e = ev[:, None] * mk
    s0 = np.cumsum(w[::-1], axis=0)[::-1][first]
    s1 = np.cumsum((w * X)[::-1], axis=0)[::-1][first]
    pos = s0 > 0
    r0 = np.divide(1.0, s0, out=np.zeros_like(s0), where=pos)
    mean = s1 * r0
    u = np.sum(np.ascontiguousarray((e * (X - mean)).T), axis=1)
    zero = np.zeros((1, X.shape[1]))
    pa = np.vstack([zero, np.cumsum(e * r0, axis=0)])
    pb = np.vstack([zero, np.cumsum(e * mean * r0, axis=0)])
    if inv is None:
        s2 = np.cumsum((w * X * X)[::-1], axis=0)[::-1][first]
        info = np.sum(np.ascontiguousarray((e * (s2 * r0 - mean * mean)).T), axis=1)
        inv = np.linalg.pinv(info[:, None, None])[:, 0, 0]
    return w, u, pa, pb, inv, mean


def cox_misses(time: np.ndarray, event: np.ndarray, got: np.ndarray,
               models: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
    """The targeted coefficients' misses, in units of their bands, after patient i took outcome
    ``got[i]`` (:func:`polish_cox`'s result): (beta - target) / band per targeted coefficient of each
    model, beta from a full Cox fit (:func:`cox_coefficients`) of the model's rows -- not polish_cox's
    first-order scores."""
    t, ev = time[got], event[got]
    z = []
    for X, _, target, band, rows in models:
        with np.errstate(all="ignore"):
            beta, _ = cox_coefficients(t[rows], ev[rows], X[rows])
        k = ~np.isnan(target)
        z.append((beta[k] - target[k]) / np.broadcast_to(band, target.shape)[k])
    return np.concatenate(z) if z else np.zeros(0)


def polish_cox(rng, time: np.ndarray, event: np.ndarray, group: np.ndarray, floor: np.ndarray,
               models: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
               steps: int = 150, candidates: int = 1000) -> np.ndarray:
    """Swaps of outcomes between two patients of the same ``group`` (arm) that bring Cox coefficients
    onto their targets; returns ``got``: patient i takes outcome got[i] (a permutation within groups).

    ``time``, ``event``: patient i's own outcome; ``floor``: an outcome with time < floor[i] may not go
    to patient i.  ``models``: (X n x p, beta p: the current fit, target p: NaN where free, band p:
    the target's band on the log scale) per model.  The miss of a model is its Newton step from its
    working coefficients beta* (the target where given, else the fit): beta* - target + I^-1 U(beta*)
    (Breslow scores; Cox 1972, Breslow 1974), in units of the band.  For the scores, exchanging two
    patients' outcomes is exchanging their covariate rows with the outcomes held in time order; rows
    at positions a < b change the risk sets that start in (a, b] by one patient's weight, so a swap's
    change of U is, to first order, ev_a (x_b - x_a) + ev_b (x_a - x_b) - [d1 sum ev/S0 - d0 sum ev
    S1/S0^2] over those risk sets (d0, d1: the change of S0, S1) -- prefix sums, O(p) a candidate.
    Each step draws ``candidates`` same-group pairs whose outcomes fit both, takes the one whose
    first-order miss sum_k (miss_k)^2 is least, recomputes the exact scores (the information every 25
    steps), and keeps the best
    arrangement seen; it stops after ``steps``, when no candidate lowers the miss, or when every
    targeted coefficient is within half its band."""
    n = len(time)
    order = np.lexsort((~event.astype(bool), time))       # outcomes in ascending time, events first in ties
    t_sorted = time[order]
    first = np.searchsorted(t_sorted, t_sorted, side="left")
    ev = event[order].astype(float)
    holder = order.copy()                                  # the patient holding the outcome at sorted position s
    groups = [np.flatnonzero(group == g) for g in np.unique(group)]
    sizes = np.array([len(g) for g in groups], dtype=float)
    flat, offset = np.concatenate(groups), np.r_[0, np.cumsum(sizes)[:-1]].astype(np.int64)
    work = [(np.where(np.isnan(t), b, t), t, band, ~np.isnan(t)) for _, b, t, band, _ in models]
    # the one-covariate models (all but the multivariable one) are evaluated together, one column each
    # (:func:`_score_states_1`); the others one by one.  Misses are summed in the models' order.
    one = [q for q, md in enumerate(models) if md[0].shape[1] == 1]
    rest = [q for q in range(len(models)) if q not in set(one)]
    X1 = np.column_stack([models[q][0][:, 0] for q in one]) if one else np.zeros((n, 0))
    R1 = np.column_stack([models[q][4] for q in one]).astype(float) if one else np.zeros((n, 0))
    bw1 = np.array([work[q][0][0] for q in one])
    off1 = bw1 - np.array([work[q][1][0] for q in one])       # beta* - target (NaN where free)
    band1 = np.array([work[q][2][0] for q in one])
    k1 = np.array([bool(work[q][3][0]) for q in one], dtype=bool)
    row1 = {q: r for r, q in enumerate(one)}

    def exact(h, keep=None):
        """the scores at arrangement h (the inverse information kept from ``keep`` when given)."""
        Xh, Mh = X1[h], R1[h]
        st1 = _score_states_1(Xh, Mh, bw1, ev, first, None if keep is None else keep[0][4])
        w1, _, pa1, pb1, _, mean1 = st1
        st1 = (*st1, (w1, w1 * Xh, Mh * Xh, Mh, mean1, pa1, pb1))
        others = {q: _score_state(models[q][0][h], models[q][4][h].astype(float), work[q][0], ev, first,
                                  None if keep is None else keep[1][q][4]) for q in rest}
        z1 = (off1 + st1[4] * st1[1]) / band1
        z = np.concatenate([z1[row1[q]:row1[q] + 1][k1[row1[q]:row1[q] + 1]] if q in row1 else
                            (((work[q][0] - work[q][1]) + others[q][4] @ others[q][1])[work[q][3]] / work[q][2][work[q][3]])
                            for q in range(len(models))])
        return (st1, others), float(np.sum(z**2)), float(np.max(np.abs(z)))

    states, cost, worst = exact(holder)
    best = (cost, holder.copy())
    where = np.empty(n, dtype=np.int64)
    for step in range(steps):
        if worst < 0.5:   # every targeted coefficient within half its band: done
            break
        where[holder] = np.arange(n)
        g = rng.choice(len(groups), candidates, p=sizes / sizes.sum())
        i = flat[offset[g] + (rng.random(candidates) * sizes[g]).astype(np.int64)]
        j = flat[offset[g] + (rng.random(candidates) * sizes[g]).astype(np.int64)]
        a, c = np.minimum(where[i], where[j]), np.maximum(where[i], where[j])
        ok = (a != c) & (t_sorted[where[j]] >= floor[i]) & (t_sorted[where[i]] >= floor[j])
        a, c = a[ok], c[ok]
        if not len(a):
            continue
        lo, hi = np.searchsorted(first, a, side="right"), np.searchsorted(first, c, side="right")
        ha, hc, ev_a, ev_c = holder[a], holder[c], ev[a], ev[c]
        # one-covariate models, one column each (candidates x models): the same expression as below with
        # p = 1, element by element, on the per-position values (positions x models, their rows
        # gathered at a, c, lo and hi); m x and w x at a are the products m x and w x at position a
        u, inv, (w, wx, mx, mk, mean, pa, pb) = states[0][1], states[0][4], states[0][6]
        ma, mc = mk.take(a, axis=0), mk.take(c, axis=0)
        d0 = w.take(a, axis=0) - w.take(c, axis=0)
        d1 = wx.take(a, axis=0) - wx.take(c, axis=0)
        ea, ec = ev_a[:, None], ev_c[:, None]
        du = ((ea - ec) * (mx.take(c, axis=0) - mx.take(a, axis=0))
              - (d1 * (pa.take(hi, axis=0) - pa.take(lo, axis=0)) - d0 * (pb.take(hi, axis=0) - pb.take(lo, axis=0)))
              - ea * (mc - ma) * mean.take(a, axis=0) - ec * (ma - mc) * mean.take(c, axis=0))
        miss1 = ((off1 + (u + du) * inv) / band1) ** 2
        total = np.zeros(len(a))
        for q in range(len(models)):
            if q in row1:
                if k1[row1[q]]:
                    total += miss1[:, row1[q]]
                continue
            (X, _, _, _, rows), (bw, t, band, k) = models[q], work[q]
            w, u, pa, pb, inv, mean = states[1][q]
            ma, mc = rows[ha].astype(float)[:, None], rows[hc].astype(float)[:, None]
            xa, xc = X[ha], X[hc]
            d0 = w[a] - w[c]                               # the patient from a now at c: S0 on (a, c] gains w_a - w_c
            d1 = w[a][:, None] * xa - w[c][:, None] * xc
            du = ((ev_a - ev_c)[:, None] * (mc * xc - ma * xa) - (d1 * (pa[hi] - pa[lo])[:, None] - d0[:, None] * (pb[hi] - pb[lo]))
                  - ev_a[:, None] * (mc - ma) * mean[a] - ev_c[:, None] * (ma - mc) * mean[c])
            total += np.sum((((bw - t) + (u + du) @ inv.T)[:, k] / band[k]) ** 2, axis=1)
        m = int(np.argmin(total))
        if total[m] >= cost:
            break
        holder = holder.copy()
        holder[[a[m], c[m]]] = holder[[c[m], a[m]]]
        states, cost, worst = exact(holder, None if step % 25 == 24 else states)   # the information changes slowly
        if cost < best[0]:
            best = (cost, holder.copy())
    got = np.empty(n, dtype=np.int64)
    got[best[1]] = order
    return got
