"""Cox proportional-hazards regression as R ``survival::coxph`` (right-censored data).

Partial likelihood with Efron's (default) or Breslow's handling of tied event times, optionally
stratified.  For a tie group of d events at time t with risk-set sums S0, S1, S2 and tied-event sums
E0, E1, E2, Efron's term is  sum_{i in D} eta_i - sum_{r=0}^{d-1} log(S0 - (r/d) E0)  (Breslow: r = 0).

Newton–Raphson exactly as ``coxfit6``: start at beta = 0; step beta + I^-1 U; converged when
|1 - loglik_old / loglik_new| <= eps (1e-9) on a step that was not halved; a step that lowers the
log-likelihood (or is not finite) is halved; at most ``iter_max`` (20) iterations; the variance is
I^-1 at the final estimate.  Non-convergence warns (as R does) and the estimate is reported as it is
(an infinite HR shows as a huge coefficient, like R's).

All sums are vectorised: risk-set sums are reverse cumulative sums over time-sorted rows, and the
information matrix is X' diag(a) X - sum_i a_i a_i' (no per-time loop), so 1e6 rows take a fraction of
a second per iteration.  The sort and tie bookkeeping (:func:`risk_sets`) depend only on time, event and
strata: fits on one sample that differ only in X (univariable then multivariable) share them.

Robust variance (``cluster``): Lin & Wei's sandwich D'D with D = score residuals x I^-1 summed within
clusters -- R's ``coxph(..., cluster = id)``; the score residuals use Efron's weights consistently.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, fields
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import chi2, norm

from .km import kaplan_meier

Ties = Literal["efron", "breslow"]


@dataclass(frozen=True)
class CoxFit:
    """A fitted Cox model.  ``table``: term, coef, hr, se, robust_se (when clustered), z, p, lcl, ucl."""

    coefficients: np.ndarray
    var: np.ndarray
    robust_var: np.ndarray | None
    names: list[str]
    loglik: tuple[float, float]
    score_test: float
    iterations: int
    converged: bool
    n: int
    n_events: int
    ties: str
    conf_level: float = 0.95
    infinite: tuple[bool, ...] = ()
    prep: object = field(default=None, repr=False, compare=False)

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diag(self.var))

    @property
    def table(self) -> pd.DataFrame:
        b = self.coefficients
        se = self.se
        used = se if self.robust_var is None else np.sqrt(np.diag(self.robust_var))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # infinite / dropped terms
            return self._table(b, se, used)

    def _table(self, b, se, used) -> pd.DataFrame:
        z = b / used
        q = norm.ppf(1 - (1 - self.conf_level) / 2)
        out = pd.DataFrame({"term": self.names, "coef": b, "hr": np.exp(b), "se": se})
        if self.robust_var is not None:
            out["robust_se"] = used
        out["z"] = z
        out["p"] = 2 * norm.sf(np.abs(z))
        out["lcl"] = np.exp(b - q * used)
        out["ucl"] = np.exp(b + q * used)
        return out

    @property
    def lr_test(self) -> tuple[float, int, float]:
        stat = 2 * (self.loglik[1] - self.loglik[0])
        df = len(self.coefficients)
        return stat, df, float(chi2.sf(stat, df))

    @property
    def wald_test(self) -> tuple[float, int, float]:
        v = self.var if self.robust_var is None else self.robust_var
        b = self.coefficients
        try:
            stat, df = float(b @ np.linalg.solve(v, b)), len(b)
        except np.linalg.LinAlgError:  # singular variance (e.g. an infinite coefficient): as R's coxph.wtest,
            g = _inverse(v, np.finfo(float).eps ** 0.75)  # a generalised inverse and its rank as the df
            stat, df = float(b @ g @ b), int(np.count_nonzero(np.diag(g)))
        return stat, df, float(chi2.sf(stat, df)) if df else float("nan")

    @property
    def logrank_score_test(self) -> tuple[float, int, float]:
        df = len(self.coefficients)
        return self.score_test, df, float(chi2.sf(self.score_test, df))


@dataclass(frozen=True)
class RiskSets:
    """The sorted risk-set structure of one sample (time, event, strata, ties), independent of the
    covariates: fits on the same sample that differ only in X (univariable then multivariable Cox, the
    arm alone, the robust fit) share it, so the sort and the tie bookkeeping are done once.

    Index arrays that every likelihood evaluation needs are computed here too (they depend only on
    the ordering), so an iteration is a handful of cumulative sums and gathers."""

    order: np.ndarray        # row order: by stratum, then time descending, events before censorings
    time: np.ndarray
    event: np.ndarray
    group: np.ndarray        # tie-group id per row (stratum x time); the same for rows with equal time
    strat_start: np.ndarray  # per row: index of the first row of its stratum (in sorted order)
    ev_rows: np.ndarray      # sorted positions of events
    ev_group: np.ndarray     # tie group of each event
    ev_frac: np.ndarray      # r / d for each event (Efron); 0 for Breslow
    n_groups: int
    multi_strata: bool = False
    ties: str = "efron"
    group_last: np.ndarray | None = None    # last sorted row of each tie group
    group_start: np.ndarray | None = None   # first row of the stratum of each tie group (multi strata)
    ev_first: np.ndarray | None = None      # positions (among events) where a new event tie group starts
    tail_index: np.ndarray | None = None    # per tie group: first group of the next stratum (clipped)
    tail_has: np.ndarray | None = None      # per tie group: whether a next stratum exists
    group_or_event: np.ndarray | None = None  # per row: its tie group, + n_groups for an event

    @property
    def n(self) -> int:
        return len(self.time)


@dataclass(frozen=True)
class _Prepared(RiskSets):
    X: np.ndarray = None     # centred covariates in the risk-set order  # type: ignore[assignment]
    X_events: np.ndarray = None  # X at the events (rows ev_rows), the same every iteration  # type: ignore[assignment]
    X_events_sum: np.ndarray = None  # type: ignore[assignment]


def risk_sets(time, event, strata=None, ties: Ties = "efron") -> RiskSets:
    """Sort one sample for Cox fitting (see :class:`RiskSets`); pass the result to :func:`coxph` as
    ``risk_sets`` for every fit on the same time, event and strata."""
    if ties not in ("efron", "breslow"):
        raise ValueError(f"unknown ties method {ties!r}")
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(bool)
    n = len(time)
    s = np.zeros(n, dtype=np.int64) if strata is None else pd.factorize(np.asarray(strata), sort=True)[0]
    # descending time within stratum (the order of tied rows does not matter for the sums)
    order = np.argsort(-time, kind="stable") if strata is None else np.lexsort((-time, s))
    t, e, ss = time[order], event[order], s[order]
    new_group = np.r_[True, (t[1:] != t[:-1]) | (ss[1:] != ss[:-1])]
    group = np.cumsum(new_group) - 1
    new_strat = np.r_[True, ss[1:] != ss[:-1]]
    strat_start = np.maximum.accumulate(np.where(new_strat, np.arange(n), 0))
    ev_rows = np.flatnonzero(e)
    ev_group = group[ev_rows]
    n_groups = int(group[-1] + 1) if n else 0
    if ties == "efron":
        d = np.bincount(ev_group, minlength=n_groups)
        first = np.r_[True, ev_group[1:] != ev_group[:-1]]
        start = np.maximum.accumulate(np.where(first, np.arange(len(ev_rows)), 0))
        rank = np.arange(len(ev_rows)) - start
        ev_frac = rank / d[ev_group]
    else:
        ev_frac = np.zeros(len(ev_rows))
    multi = bool(strat_start.max() > 0) if n else False
    group_last = np.flatnonzero(np.r_[group[1:] != group[:-1], True]) if n else np.zeros(0, dtype=np.int64)
    ev_first = np.flatnonzero(np.r_[True, ev_group[1:] != ev_group[:-1]]) if len(ev_rows) else np.zeros(0, dtype=np.int64)
    # per tie group: the first group of the next stratum (groups are numbered in stratum order)
    if n:
        ends = np.r_[np.flatnonzero(new_strat)[1:] - 1, n - 1]
        strat_last_group = group[ends][np.cumsum(new_strat) - 1][group_last]
        nxt = strat_last_group + 1
        tail_has = nxt < n_groups
        tail_index = np.minimum(nxt, n_groups - 1)
    else:
        tail_has, tail_index = np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64)
    return RiskSets(order, t, e, group, strat_start, ev_rows, ev_group, ev_frac, n_groups, multi, ties,
                    group_last, strat_start[group_last] if multi else None, ev_first, tail_index, tail_has,
                    group + n_groups * e)


def _prepare(time, event, X, strata, ties: Ties, rs: RiskSets | None = None) -> _Prepared:
    rs = risk_sets(time, event, strata, ties) if rs is None else rs
    Xs = np.asarray(X, dtype=float)[rs.order]
    Xs = Xs - Xs.mean(axis=0) if len(Xs) else Xs
    Xe = Xs[rs.ev_rows]
    return _Prepared(**{f.name: getattr(rs, f.name) for f in fields(RiskSets)}, X=Xs, X_events=Xe,
                     X_events_sum=Xe.sum(axis=0))


def _cum_by_stratum(v: np.ndarray, prep: RiskSets) -> np.ndarray:
    """Risk-set sums per tie group: cumulative sums from the start of each stratum (rows sorted by
    descending time) taken at the last row of each tie group (everyone tied is at risk).  Returns one
    row per tie group; index with a row's or event's group."""
    c = np.cumsum(v, axis=0)
    out = c[prep.group_last]
    if prep.multi_strata:
        start = prep.group_start
        has = start > 0
        out[has] -= c[start[has] - 1]
    return out


def _group_sum(vals: np.ndarray, prep: RiskSets) -> np.ndarray:
    """Sum of per-event rows within each tie group (events are sorted by group): one row per group."""
    eg = prep.ev_group
    shape = (prep.n_groups,) + vals.shape[1:]
    out = np.zeros(shape)
    if len(eg):
        first = prep.ev_first
        out[eg[first]] = np.add.reduceat(vals, first, axis=0)
    return out


def _linear_predictor(X: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """X beta; one covariate as a plain product (the same numbers: a one-term dot product is the
    rounded product), three times faster than matmul's path for an n x 1 matrix."""
    return X[:, 0] * beta[0] if X.shape[1] == 1 else X @ beta


def _loglik(beta: np.ndarray, prep: _Prepared, want_hessian: bool = True):
    X = prep.X
    eta = _linear_predictor(X, beta)
    w = np.exp(eta)
    S0 = _cum_by_stratum(w, prep)
    S1 = _cum_by_stratum(w[:, None] * X, prep)
    er, eg, f = prep.ev_rows, prep.ev_group, prep.ev_frac
    G = prep.n_groups
    w_ev = w[er]
    E0 = np.bincount(eg, weights=w_ev, minlength=G)
    E1 = _group_sum(w_ev[:, None] * prep.X_events, prep)
    # per event (sub-step r of its group)
    den = S0[eg] - f * E0[eg]
    num1 = S1[eg] - f[:, None] * E1[eg]
    a = num1 / den[:, None]
    ll = float(eta[er].sum() - np.log(den).sum())
    U = prep.X_events_sum - a.sum(axis=0)
    if not want_hessian:
        return ll, U, None, (den, a, E0, E1)
    H = _information(X, w, prep, den, a)
    return ll, U, H, (den, a, E0, E1)


def _information(X: np.ndarray, w: np.ndarray, prep: _Prepared, den: np.ndarray, a: np.ndarray,
                 c: np.ndarray | None = None) -> np.ndarray:
    """sum over events (Efron sub-steps) of c_i V_i, V_i = S2_i / den_i - a_i a_i' (the weighted
    covariance of the risk set), without a loop over times: the S2 part is X' diag(w A) X with A_j the
    sum of c/den over the tie groups at which row j is at risk."""
    eg, f = prep.ev_group, prep.ev_frac
    G = prep.n_groups
    # c = 1 (the information itself): 1 / den and f / den are exactly c / den and c f / den
    inv = np.bincount(eg, weights=1.0 / den if c is None else c / den, minlength=G)
    finv = np.bincount(eg, weights=f / den if c is None else c * f / den, minlength=G)
    # per row: A of its group, less the tied events' part (finv) for an event -- one gather from a
    # table of 2 x n_groups values (the same numbers as A - B with B = 0 off the events)
    Ag = _reverse_group_sum(inv, prep)
    A = np.concatenate([Ag, Ag - finv])[prep.group_or_event]
    H = (X * (w * A)[:, None]).T @ X
    # a copy, not a itself: numpy computes a.T @ a of one buffer with syrk, whose rounding differs
    H -= (a.copy() if c is None else a * c[:, None]).T @ a
    return H


def _reverse_group_sum(per_group: np.ndarray, prep: RiskSets) -> np.ndarray:
    """Per tie group g: sum of ``per_group`` over the groups of the same stratum with time <= t_g."""
    # groups are numbered in descending time within stratum; groups with time <= t_g are g' >= g
    # up to the stratum's last group: the sum over g' >= g less the sum over the next strata.
    rc = per_group[::-1].cumsum()[::-1]  # sum over g' >= g
    if not prep.multi_strata:            # no next stratum: nothing to take off
        return rc
    return rc - np.where(prep.tail_has, rc[prep.tail_index], 0.0)


def _reverse_group_cum(per_group: np.ndarray, prep: RiskSets) -> np.ndarray:
    """Per row j: sum of ``per_group`` over tie groups of the same stratum with time <= t_j."""
    return _reverse_group_sum(per_group, prep)[prep.group]


def coxph(time, event, X, names: list[str] | None = None, *, strata=None, cluster=None, ties: Ties = "efron",
          eps: float = 1e-9, iter_max: int = 20, conf_level: float = 0.95,
          toler_chol: float = np.finfo(float).eps ** 0.75, risk_sets: RiskSets | None = None) -> CoxFit:
    """Fit a Cox model (see module docstring).  ``X``: n x p covariate matrix (no intercept).
    ``risk_sets``: :func:`risk_sets` of the same time, event, strata and ties, to share the sort
    across fits that differ only in ``X`` (the result is identical to fitting without it)."""
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    p = X.shape[1]
    names = names or [f"x{i + 1}" for i in range(p)]
    t_arr = np.asarray(time, dtype=float)
    if not np.isfinite(t_arr).all():
        raise ValueError(f"time has {int((~np.isfinite(t_arr)).sum())} missing or infinite value(s): Cox regression "
                         f"needs finite times")
    bad = [nm for j, nm in enumerate(names) if not np.isfinite(X[:, j]).all()]
    if bad:
        raise ValueError(f"covariate(s) {bad} have missing or infinite values: Cox regression needs finite values")
    if risk_sets is not None and (risk_sets.n != len(X) or risk_sets.ties != ties):
        raise ValueError(f"risk_sets: built for {risk_sets.n} rows with ties={risk_sets.ties!r}, but X has "
                         f"{len(X)} rows and ties={ties!r}")
    prep = _prepare(time, event, X, strata, ties, risk_sets)
    beta = np.zeros(p)
    ll0, U, H, _ = _loglik(beta, prep)
    score = float(U @ _solve(H, U, toler_chol)) if p else 0.0
    loglik = ll0
    newbeta = beta + _solve(H, U, toler_chol)
    converged = False
    halving = False
    it = 0
    for it in range(1, iter_max + 1):  # noqa: B007
        newlk, U, H, _ = _loglik(newbeta, prep)
        finite = np.isfinite(newlk) and np.all(np.isfinite(U))
        if finite and abs(1 - loglik / newlk) <= eps and not halving:
            loglik, beta = newlk, newbeta
            converged = True
            break
        if it == iter_max:
            break
        if not finite or newlk < loglik:
            halving = True
            newbeta = (newbeta + beta) / 2
        else:
            halving = False
            loglik = newlk
            beta = newbeta
            newbeta = newbeta + _solve(H, U, toler_chol)
    if not converged:
        loglik, beta = newlk, newbeta
        warnings.warn("Ran out of iterations and did not converge", RuntimeWarning, stacklevel=2)
    var = _inverse(H, toler_chol)
    # R coxph.fit: a coefficient whose remaining score step is large relative to it is "infinite"
    infs = np.abs(U @ var) if p else np.zeros(0)
    infinite = (infs > eps) & (infs > np.sqrt(eps) * np.abs(beta))
    if converged and infinite.any():
        which = ", ".join(str(i + 1) for i in np.flatnonzero(infinite))
        warnings.warn(f"Loglik converged before variable {which}; coefficient may be infinite.", RuntimeWarning,
                      stacklevel=2)
    robust = None
    if cluster is not None:
        resid = score_residuals(beta, prep)
        D = resid @ var
        cl = pd.factorize(np.asarray(cluster)[prep.order])[0]
        Dc = np.column_stack([np.bincount(cl, weights=D[:, k], minlength=cl.max() + 1) for k in range(p)])
        robust = Dc.T @ Dc
    return CoxFit(beta, var, robust, list(names), (ll0, loglik), score, it, converged, len(prep.time),
                  int(prep.event.sum()), ties, conf_level, tuple(bool(v) for v in infinite), prep)


def _solve(H: np.ndarray, U: np.ndarray, toler: float) -> np.ndarray:
    """H^-1 U, treating directions with a tiny pivot as singular (their step is 0), like cholesky2."""
    if H.size == 0:
        return np.zeros(0)
    return _inverse(H, toler) @ U


def _inverse(H: np.ndarray, toler: float) -> np.ndarray:
    """Generalised inverse of the (positive semi-definite) information matrix via a Cholesky-type
    decomposition that zeroes non-pivotal columns (R's ``cholesky2``/``chinv2``)."""
    p = H.shape[0]
    if p == 0:
        return np.zeros((0, 0))
    m = H.copy()
    eps_scale = toler * max(np.max(np.abs(np.diag(m))), 0) if p else 0.0
    diag = np.zeros(p)
    L = np.eye(p)
    keep = np.ones(p, dtype=bool)
    # LDL' decomposition
    for i in range(p):
        pivot = m[i, i] - (L[i, :i] ** 2 * diag[:i]).sum()
        if pivot < eps_scale or not np.isfinite(pivot):
            keep[i] = False
            diag[i] = 0.0
            continue
        diag[i] = pivot
        for j in range(i + 1, p):
            L[j, i] = (m[j, i] - (L[j, :i] * L[i, :i] * diag[:i]).sum()) / pivot
    out = np.zeros((p, p))
    k = np.flatnonzero(keep)
    if len(k):
        Lk = L[np.ix_(k, k)]
        Linv = np.linalg.inv(Lk)
        out[np.ix_(k, k)] = Linv.T @ np.diag(1 / diag[k]) @ Linv
    return out


def score_residuals(beta: np.ndarray, prep: _Prepared) -> np.ndarray:
    """Efron/Breslow score residuals (rows in the prepared order): U_i = int (x_i - xbar(t)) dM_i(t),
    with Efron's sub-step weights (tied events carry weight 1 - r/d in sub-step r)."""
    X = prep.X
    w = np.exp(X @ beta)
    _, _, _, (den, a, _, _) = _loglik(beta, prep, want_hessian=False)
    er, eg, f = prep.ev_rows, prep.ev_group, prep.ev_frac
    G = prep.n_groups
    p = X.shape[1]
    h = np.bincount(eg, weights=1 / den, minlength=G)           # sum_r 1/den_r per group
    g = _group_sum(a / den[:, None], prep)                      # sum_r xbar_r/den_r per group
    hf = np.bincount(eg, weights=f / den, minlength=G)          # sum_r (r/d)/den_r
    gf = _group_sum((f / den)[:, None] * a, prep)
    H_cum = _reverse_group_cum(h, prep)
    G_cum = np.column_stack([_reverse_group_cum(g[:, k], prep) for k in range(p)]) if p else np.zeros((len(w), 0))
    resid = -w[:, None] * (X * H_cum[:, None] - G_cum)
    # tied events: their own sub-step weights are (1 - r/d): add back the r/d part
    resid[er] += w[er, None] * (X[er] * hf[eg][:, None] - gf[eg])
    # event part: x_i - mean over sub-steps of xbar
    d = np.bincount(eg, minlength=G).astype(float)
    abar = _group_sum(a, prep)
    resid[er] += X[er] - abar[eg] / d[eg][:, None]
    return resid


@dataclass(frozen=True)
class PHTest:
    """``cox.zph`` result: per term (and GLOBAL) chi-square, df, p."""

    table: pd.DataFrame
    transform: str

    @property
    def global_p(self) -> float:
        return float(self.table.loc[self.table["term"] == "GLOBAL", "p"].iloc[0])


def _quadratic_form(u: np.ndarray, m: np.ndarray) -> float:
    """u' M^-1 u; NaN when M is singular (R's cox.zph stops with "system is exactly singular" there,
    e.g. with a coefficient tending to infinity: the test is then not defined)."""
    try:
        return float(u @ np.linalg.solve(m, u))
    except np.linalg.LinAlgError:
        return float("nan")


def cox_zph(fit: CoxFit, terms: dict[str, list[str]] | None = None, transform: str = "km") -> PHTest:
    """Test of proportional hazards as R ``cox.zph`` (survival >= 3.0): the score test, at the fitted
    coefficients, for adding g(t) x to the model, g = 1 - KM(t-) (pooled, left-continuous; "km") or
    t ("identity") or log t ("log"), centred over the events.  Per term (its coefficients together,
    ``terms``: {term: [column names]}, default one per column) and GLOBAL."""
    prep: _Prepared = fit.prep
    X = prep.X
    p = X.shape[1]
    beta = fit.coefficients
    w = np.exp(X @ beta)
    _, _, _, (den, a, _, _) = _loglik(beta, prep, want_hessian=False)
    er = prep.ev_rows
    t_ev = prep.time[er]
    if transform == "km":
        km = kaplan_meier(prep.time, prep.event).table  # pooled over strata, as R
        left = np.r_[1.0, km["surv"].to_numpy()][np.searchsorted(km["time"].to_numpy(), t_ev, side="left")]
        g = 1.0 - left
    elif transform == "identity":
        g = t_ev.copy()
    elif transform == "log":
        g = np.log(t_ev)
    else:
        raise ValueError(f"unknown transform {transform!r}")
    g = g - g.mean()
    u = np.r_[np.zeros(p), (g[:, None] * (X[er] - a)).sum(axis=0)]
    i_bb = _information(X, w, prep, den, a)
    i_bg = _information(X, w, prep, den, a, c=g)
    i_gg = _information(X, w, prep, den, a, c=g**2)
    imat = np.block([[i_bb, i_bg], [i_bg.T, i_gg]])
    names = fit.names
    groups = terms or {n: [n] for n in names}
    rows = []
    for term, cols in groups.items():
        j = [names.index(c) for c in cols]
        ii = list(range(p)) + [k + p for k in j]  # every coefficient free, the term's g(t) x added
        stat = _quadratic_form(u[ii], imat[np.ix_(ii, ii)])
        rows.append({"term": term, "chisq": stat, "df": len(j), "p": float(chi2.sf(stat, len(j)))})
    stat = _quadratic_form(u, imat)
    rows.append({"term": "GLOBAL", "chisq": stat, "df": p, "p": float(chi2.sf(stat, p))})
    return PHTest(pd.DataFrame(rows), transform)
