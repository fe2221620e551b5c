"""Cox proportional-hazards regression as R ``survival::coxph``: right-censored or counting-process
(start, stop] data, case weights, strata, robust (sandwich) variance.

Partial likelihood with Efron's (default) or Breslow's handling of tied event times, optionally
stratified.  For a tie group of d events at time t with risk-set sums S0, S1, S2 and tied-event sums
E0, E1, E2, Efron's term is  sum_{i in D} eta_i - sum_{r=0}^{d-1} log(S0 - (r/d) E0)  (Breslow: r = 0).

Case weights v_i (R's ``weights``; ``coxfit6``/``agfit4``): every risk-set sum is of v_i exp(eta_i); the
events contribute sum_{i in D} v_i eta_i; each of Efron's d sub-steps counts with the mean weight of the
tied events, m = sum_{i in D} v_i / d (Breslow: the one step counts with sum_{i in D} v_i):
loglik = sum_D v_i eta_i - m sum_r log(S0 - (r/d) E0), and likewise m times each sub-step's score and
information term (Therneau & Grambsch 2000, sec. 7.2).  ``n`` and ``n_events`` are unweighted (R's
``fit$n``, ``fit$nevent``).

Counting process (``start``; R's ``Surv(start, stop, event)``, ``agreg.fit``): a row is at risk at t when
start < t <= stop (late entry, several rows per subject, time-dependent covariates; Therneau & Grambsch
2000, ch. 3).  The risk set at an event time t is "stop >= t" (the cumulative sums below) less "start >=
t": each row also records the first event group (stratum, t) at which it has not entered yet, and the
rows are summed by that group and cumulated -- two cumulative sums per iteration, no per-time loop.

Newton–Raphson exactly as ``coxfit6``: start at beta = 0; step beta + I^-1 U; converged when
|1 - loglik_old / loglik_new| <= eps (1e-9) on a step that was not halved; a step that lowers the
log-likelihood (or is not finite) is halved; at most ``iter_max`` (20) iterations; the variance is
I^-1 at the final estimate.  Non-convergence warns (as R does) and the estimate is reported as it is
(an infinite HR shows as a huge coefficient, like R's).

All sums are vectorised and reduced per distinct time: rows are sorted so that each *cell* (stratum,
time, event status) is contiguous; an iteration sums w = exp(X beta) and w x per cell
(``np.add.reduceat``), and the risk sets are cumulative sums over cells (real follow-up times are heavily
tied: ~6000 distinct times for 10^6 rows).  Writing the risk set less the tied events as R0, R1, Efron's
sub-step r has den_r = R0 + (1 - r/d) E0 and mean a_r = (R1 + (1 - r/d) E1) / den_r, so the score and
the a a' part of the information need only per-time sums of 1/den_r, (1 - r/d)/den_r, ... (scalars per
event); the S2 part is X' diag(w A) X with A per cell.  The sort and tie bookkeeping (:func:`risk_sets`)
depend only on time, event, strata and start: fits on one sample that differ only in X or the weights
(univariable then multivariable) share them.

Robust variance (``robust``, ``cluster``): Lin & Wei's (1989) sandwich D'D, D the weighted dfbeta
residuals v_i U_i I^-1 (U_i the score residual, with Efron's weights) summed within clusters, each row
its own cluster when no ``cluster`` is given -- R's ``coxph(..., robust = TRUE)`` /
``cluster = id``, i.e. ``crossprod(residuals(fit, "dfbeta", weighted = TRUE, collapse = cluster))``.
``CoxFit.table`` then gives z, P and the CI from the robust SE, as ``summary.coxph``; the Wald test uses
the robust variance and ``robust_score`` is R's robust score test (``fit$rscore``).  R's default
(``robust=None``) is robust when a cluster is given or a weight is not an integer (IPTW weights).

References: Therneau TM, Grambsch PM. Modeling Survival Data: Extending the Cox Model. Springer 2000.
Lin DY, Wei LJ. The robust inference for the Cox proportional hazards model. JASA 1989;84:1074-8.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import cached_property, partial
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import chi2, norm

from .km import kaplan_meier

Ties = Literal["efron", "breslow"]


@dataclass(frozen=True)
class CoxFit:
    """A fitted Cox model.  ``table``: term, coef, hr, se, robust_se (robust fits), z, p, lcl, ucl -- z, p and
    the CI from the robust SE when robust (``summary.coxph``).  ``n``, ``n_events``: rows and events,
    unweighted (R's ``fit$n``, ``fit$nevent``)."""

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
    clusters: np.ndarray | None = field(default=None, repr=False, compare=False)  # robust: codes, sorted rows

    @cached_property
    def robust_score(self) -> float | None:
        """R's ``fit$rscore`` (robust fits only): the score test at beta = 0 with the sandwich variance
        of the score, u' (S'S)^-1 u, S the weighted score residuals at 0 summed within clusters.
        Computed on first use (it needs a second pass of score residuals)."""
        if self.robust_var is None or self.prep is None or not len(self.coefficients):
            return None
        S0 = _by_cluster(_weighted_residuals(np.zeros(len(self.coefficients)), self.prep), self.clusters)
        u0 = S0.sum(axis=0)
        return float(u0 @ _inverse(S0.T @ S0, np.finfo(float).eps ** 0.75) @ u0)

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

    Rows are sorted by stratum, time descending, and censorings before events within a time, so each
    *cell* (rows of one stratum and time with the same event status) is a contiguous run.  Every sum
    the likelihood needs is a sum over cells (``np.add.reduceat``) followed by cumulative sums over
    cells: with tied times (two decimals of months: ~6000 distinct times for 10^6 rows) an iteration
    is O(n p) for X beta and the cell sums, and O(cells) for the rest."""

    order: np.ndarray        # row order: by stratum, then time descending, censorings before events
    time: np.ndarray         # sorted
    event: np.ndarray        # sorted
    ties: str
    cell_start: np.ndarray   # first sorted row of each cell
    cell_len: np.ndarray     # rows per cell
    ev_cell: np.ndarray      # per event time (tie group with events, "event group" k): its event cell
    ev_rows: np.ndarray      # sorted positions of the events (grouped by k, in k order)
    ev_group: np.ndarray     # per event: its event group k
    ev_first: np.ndarray     # per event group: the position (among events) of its first event
    ev_keep: np.ndarray      # per event: 1 - r/d, the weight of the tied events in Efron's sub-step r (1: Breslow)
    ev_d: np.ndarray         # per event group: its number of events d
    multi_strata: bool = False
    ev_strat_first: np.ndarray | None = None  # per event group: first cell of its stratum (multi strata)
    cell_next_strat: np.ndarray | None = None  # per cell: first cell of the next stratum (n_cells if none)
    ev_after: np.ndarray | None = None  # per event group: the next cell in its stratum (n_cells if none)
    # counting process (start, stop] only (None for right-censored data):
    entry_group: np.ndarray | None = None  # per row: first event group (global index) at which it is not yet
    #                                        at risk (event time <= start, same stratum); K if none
    entry_next: np.ndarray | None = None   # per row: first event group of the next stratum (K if none or no entry)
    ev_group_strat_first: np.ndarray | None = None  # per event group: the first event group of its stratum

    @property
    def n(self) -> int:
        return len(self.time)

    @property
    def n_cells(self) -> int:
        return len(self.cell_start)

    @property
    def n_event_groups(self) -> int:
        return len(self.ev_cell)


@dataclass(frozen=True)
class _Prepared(RiskSets):
    XT: np.ndarray = None    # centred covariates in the risk-set order, p x n  # type: ignore[assignment]
    X_events_sum: np.ndarray = None  # sum over events of (case weight) x  # type: ignore[assignment]
    wt: np.ndarray | None = None     # case weights in the risk-set order (None: all 1)
    ev_m: np.ndarray | None = None   # per event group: the mean case weight of its events (R's meanwt)
    ev_wd: np.ndarray | None = None  # per event group: the sum of the case weights of its events

    @property
    def X(self) -> np.ndarray:
        """n x p view of the centred, sorted covariates."""
        return self.XT.T


def risk_sets(time, event, strata=None, ties: Ties = "efron", start=None) -> RiskSets:
    """Sort one sample for Cox fitting (see :class:`RiskSets`); pass the result to :func:`coxph` as
    ``risk_sets`` for every fit on the same time, event, strata, ties and ``start``.

    ``start`` (counting-process data, R's ``Surv(start, stop, event)``): a row is at risk at t when
    start < t <= stop.  The rows are sorted by stop time as for right-censored data (the risk set at t
    is then every row with stop >= t) and each row also records the first event group at which it has not
    entered yet (event time <= start): the risk set is "stopped at or after t" less "entered at or after
    t", two cumulative sums -- the same bookkeeping as R's ``agfit4``."""
    if ties not in ("efron", "breslow"):
        raise ValueError(f"unknown ties method {ties!r}")
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(bool)
    n = len(time)
    s = np.zeros(n, dtype=np.int64) if strata is None else pd.factorize(np.asarray(strata), sort=True)[0]
    order = np.lexsort((event, -time)) if strata is None else np.lexsort((event, -time, s))
    t, e, ss = time[order], event[order], s[order]
    if n == 0:
        z = np.zeros(0, dtype=np.int64)
        return RiskSets(order, t, e, ties, z, z, z, z, z, z, np.zeros(0), z,
                        **({} if start is None else {"entry_group": z, "entry_next": z, "ev_group_strat_first": z}))
    new_strat = np.r_[True, ss[1:] != ss[:-1]]
    new_cell = new_strat | np.r_[True, (t[1:] != t[:-1]) | (e[1:] != e[:-1])]
    cell_start = np.flatnonzero(new_cell)
    cell_len = np.diff(np.r_[cell_start, n])
    ev_cell = np.flatnonzero(e[cell_start])
    ev_rows = np.flatnonzero(e)
    d = cell_len[ev_cell]
    K = len(ev_cell)
    ev_group = np.repeat(np.arange(K), d)
    ev_first = np.r_[0, np.cumsum(d)[:-1]] if K else np.zeros(0, dtype=np.int64)
    if ties == "efron":
        rank = np.arange(len(ev_rows)) - ev_first[ev_group]
        dd = d[ev_group]
        ev_keep = (dd - rank) / dd
    else:
        ev_keep = np.ones(len(ev_rows))
    counting = {} if start is None else _entries(_checked_start(start, time)[order], ss, t[cell_start[ev_cell]],
                                                 ss[cell_start[ev_cell]])
    cell_strat = np.cumsum(new_strat[cell_start]) - 1
    multi = bool(cell_strat[-1] > 0)
    if not multi:
        return RiskSets(order, t, e, ties, cell_start, cell_len, ev_cell, ev_rows, ev_group, ev_first, ev_keep, d,
                        **counting)
    C = len(cell_start)
    strat_first = np.flatnonzero(new_strat[cell_start])
    next_strat = np.r_[strat_first[1:], C][cell_strat]
    after = ev_cell + 1
    return RiskSets(order, t, e, ties, cell_start, cell_len, ev_cell, ev_rows, ev_group, ev_first, ev_keep, d, True,
                    strat_first[cell_strat[ev_cell]], next_strat, np.where(after < next_strat[ev_cell], after, C),
                    **counting)


def _checked_start(start, time: np.ndarray) -> np.ndarray:
    """``start`` as floats, one finite value per row below its stop time (R: "Stop time must be > start
    time")."""
    start = np.asarray(start, dtype=float)
    if len(start) != len(time) or not np.isfinite(start).all():
        raise ValueError("start: needs one finite entry time per row")
    if (start >= time).any():
        rows = np.flatnonzero(start >= time)
        raise ValueError(f"start: {len(rows)} row(s) (first: row {rows[0]}) have start >= stop time; a "
                         f"(start, stop] interval needs start < stop")
    return start


def _entries(start: np.ndarray, row_strat: np.ndarray, ev_time: np.ndarray, ev_strat: np.ndarray) -> dict:
    """Counting process: per (sorted) row the first event group of its stratum with event time <= its start
    (from there on the row has not entered yet), found by one ``searchsorted`` on integer keys
    (stratum, rank of the time descending) -- the event groups are in that order already."""
    K = len(ev_time)
    u = np.unique(ev_time)
    U = len(u)
    ev_key = ev_strat * (U + 1) + (U - np.searchsorted(u, ev_time, side="right"))
    row_key = row_strat * (U + 1) + (U - np.searchsorted(u, start, side="right"))
    idx = np.searchsorted(ev_key, row_key, side="left")
    next_of_strat = np.searchsorted(ev_strat, row_strat, side="right")   # first group of the next stratum
    entered_late = idx < next_of_strat
    first_of_strat = np.searchsorted(ev_strat, ev_strat, side="left")
    return {"entry_group": np.where(entered_late, idx, K), "entry_next": np.where(entered_late, next_of_strat, K),
            "ev_group_strat_first": first_of_strat}


def _prepare(time, event, X, strata, ties: Ties, rs: RiskSets | None = None, weights=None, start=None) -> _Prepared:
    rs = risk_sets(time, event, strata, ties, start) if rs is None else rs
    XT = np.asarray(X, dtype=float).T[:, rs.order]   # p x n, C-contiguous
    if rs.n:
        XT -= XT.mean(axis=1)[:, None]
    extra = {}
    ev = rs.event.astype(float)
    if weights is not None:
        wt = np.asarray(weights, dtype=float)[rs.order]
        ev_wt = np.add.reduceat(wt[rs.ev_rows], rs.ev_first) if len(rs.ev_rows) else np.zeros(0)
        extra = {"wt": wt, "ev_m": ev_wt / rs.ev_d, "ev_wd": ev_wt}
        ev = ev * wt
    return _Prepared(**{f.name: getattr(rs, f.name) for f in fields(RiskSets)}, XT=XT, X_events_sum=XT @ ev, **extra)


def _linear_predictor(XT: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """X beta (one covariate: a plain product)."""
    return XT[0] * beta[0] if XT.shape[0] == 1 else beta @ XT


@dataclass(frozen=True)
class _Sums:
    """Per event group k at one beta: R0/R1 the risk-set sums of w and w x less the group's own events,
    E0/E1 the events' sums; per event: den = R0 + (1 - r/d) E0 (Efron's sub-step denominator, written
    as a sum of positive terms so no cancellation when the tied events are most of the risk set).
    ``q``: per event group, the sums over its sub-steps of 1/den, g/den (g = 1 - r/d) and, with the
    information, 1/den^2, g/den^2, g^2/den^2 (rows of a 2 or 5 x groups array)."""

    w: np.ndarray
    R0: np.ndarray
    R1: np.ndarray
    E0: np.ndarray
    E1: np.ndarray
    log_den: float   # sum over events (sub-steps) of log den
    q: np.ndarray
    cell_wxx: np.ndarray | None = None  # one covariate: per cell sum of w x^2 (the S2 part by cells)


def _sums(beta: np.ndarray, prep: _Prepared, second: bool = True) -> _Sums:
    XT = prep.XT
    p = XT.shape[0]
    w = np.exp(_linear_predictor(XT, beta)) if prep.n else np.zeros(0)
    if prep.wt is not None:   # case weights: every risk-set sum is of wt exp(x beta)
        w *= prep.wt
    ec = prep.ev_cell
    if prep.n == 0 or len(ec) == 0:
        z = np.zeros(0)
        return _Sums(w, z, np.zeros((0, p)), z, np.zeros((0, p)), 0.0, np.zeros((5 if second else 2, 0)))
    counting = prep.entry_group is not None
    if p == 1:  # w, w x and w x^2 summed per cell in one pass
        rows = np.empty((3, prep.n))
        rows[0] = w
        np.multiply(XT[0], w, out=rows[1])
        np.multiply(XT[0], rows[1], out=rows[2])
        cells = np.add.reduceat(rows, prep.cell_start, axis=1)
        cw, cwx, cell_wxx = cells[0], cells[1][:, None], cells[2]
        wx = rows[1][None, :]
    else:
        cw = np.add.reduceat(w, prep.cell_start)
        wx = XT * w
        cwx = np.add.reduceat(wx, prep.cell_start, axis=1).T    # cells x p
        cell_wxx = None
    c0 = np.r_[0.0, np.cumsum(cw)]                                  # sum over cells before c: c0[c]
    c1 = np.vstack([np.zeros((1, p)), np.cumsum(cwx, axis=0)])
    # censorings come before the events of their time: the cells before the event cell are the risk
    # set less the tied events (from the first cell of the stratum)
    R0, R1 = c0[ec], c1[ec]
    if prep.multi_strata:
        R0 = R0 - c0[prep.ev_strat_first]
        R1 = R1 - c1[prep.ev_strat_first]
    if counting:  # less the rows that have not entered yet (start >= t), summed by their entry group
        K = len(ec)
        eg, first = prep.entry_group, prep.ev_group_strat_first
        e0 = np.r_[0.0, np.cumsum(np.bincount(eg, weights=w, minlength=K + 1)[:K])]
        R0 = R0 - (e0[1:] - e0[first])
        e1 = np.vstack([np.zeros((1, p)), np.cumsum(np.column_stack(
            [np.bincount(eg, weights=wx[j], minlength=K + 1)[:K] for j in range(p)]), axis=0)])
        R1 = R1 - (e1[1:] - e1[first])
        cell_wxx = None   # the information needs per-row risk-set membership
    E0, E1 = cw[ec], cwx[ec]
    m = prep.ev_m   # case weights: every sub-step of a group counts with the mean weight of its events
    if prep.ties == "breslow":  # every sub-step of a group has den = R0 + E0: per-group sums
        S0 = R0 + E0
        inv = 1.0 / S0
        q1 = prep.ev_d * inv if m is None else prep.ev_wd * inv
        q = np.vstack([q1, q1, q1 * inv, q1 * inv, q1 * inv]) if second else np.vstack([q1, q1])
        return _Sums(w, R0, R1, E0, E1, float((prep.ev_d if m is None else prep.ev_wd) @ np.log(S0)), q, cell_wxx)
    g = prep.ev_keep
    den = np.repeat(R0, prep.ev_d)
    den += g * np.repeat(E0, prep.ev_d)
    per_event = np.empty((5 if second else 2, len(den)))
    inv = np.divide(1.0, den, out=per_event[0])
    np.multiply(g, inv, out=per_event[1])
    if second:
        inv2 = np.multiply(inv, inv, out=per_event[2])
        np.multiply(g, inv2, out=per_event[3])
        np.multiply(g, per_event[3], out=per_event[4])
    q = np.add.reduceat(per_event, prep.ev_first, axis=1)  # events are sorted by group
    if m is None:
        return _Sums(w, R0, R1, E0, E1, float(np.log(den).sum()), q, cell_wxx)
    q *= m
    return _Sums(w, R0, R1, E0, E1, float(np.add.reduceat(np.log(den), prep.ev_first) @ m), q, cell_wxx)


def _loglik(beta: np.ndarray, prep: _Prepared, want_hessian: bool = True):
    """Log partial likelihood, score and information at ``beta`` (and the sums, for reuse)."""
    st = _sums(beta, prep, second=want_hessian)
    q1, qg = st.q[0], st.q[1]                        # sum_r 1/den_r, sum_r (1 - r/d)/den_r
    ll = float(prep.X_events_sum @ beta - st.log_den)
    # sum over events of the risk-set mean a_r = (R1 + (1 - r/d) E1) / den_r
    U = prep.X_events_sum - (q1 @ st.R1 + qg @ st.E1)
    if not want_hessian:
        return ll, U, None, st
    return ll, U, _information(prep, st), st


def _at_risk(full: np.ndarray, own: np.ndarray, prep: RiskSets) -> np.ndarray:
    """Per cell: the sum of per-event-group values ``full`` over the event groups of its stratum at
    which its rows are at risk (time <= the cell's), except that an event cell takes ``own`` for its
    own event group instead of ``full`` (its rows are the tied events there)."""
    C = prep.n_cells
    per_cell = np.zeros((C + 1,) + full.shape[1:])
    per_cell[prep.ev_cell] = full
    rc = per_cell[::-1].cumsum(axis=0)[::-1]          # sum over cells c' >= c (rc[C] = 0)
    if prep.multi_strata:
        rc[:C] -= rc[prep.cell_next_strat]
        after = prep.ev_after
    else:
        after = np.minimum(prep.ev_cell + 1, C)
    out = rc[:C]
    out[prep.ev_cell] = rc[after] + own
    return out


def _at_risk_rows(full: np.ndarray, own: np.ndarray, prep: RiskSets) -> np.ndarray:
    """Per row: :func:`_at_risk` of its cell; with counting-process data less the event groups at which
    it has not entered yet (event time <= start: ``full`` summed from its entry group to the end of its
    stratum)."""
    out = np.repeat(_at_risk(full, own, prep), prep.cell_len, axis=0)
    if prep.entry_group is not None:
        rg = np.zeros((len(full) + 1,) + full.shape[1:])
        rg[:-1] = full
        rg = rg[::-1].cumsum(axis=0)[::-1]            # sum over groups k' >= k (rg[K] = 0)
        out -= rg[prep.entry_group] - rg[prep.entry_next]
    return out


def _information(prep: _Prepared, st: _Sums, c: np.ndarray | None = None) -> np.ndarray:
    """sum over events (Efron sub-steps r) of c V_r, V_r = S2_r / den_r - a_r a_r' (the weighted covariance
    of the risk set; ``c`` is constant within an event group, default 1).

    S2 part: X' diag(w A) X, A per cell the sum of c/den over the sub-steps at which its rows are at
    risk (tied events with weight 1 - r/d).  a a' part: with a_r = (R1 + g_r E1)/den_r, g_r = 1 - r/d,
    per group R1 R1' sum 1/den^2 + (R1 E1' + E1 R1') sum g/den^2 + E1 E1' sum g^2/den^2.  With case
    weights every sub-step is multiplied by the group's mean event weight (folded into ``q``)."""
    XT = prep.XT
    p = XT.shape[0]
    if prep.n == 0 or len(prep.ev_cell) == 0:
        return np.zeros((p, p))
    q1, qg, k2, k1, k0 = st.q
    if c is not None:
        q1, qg, k2, k1, k0 = q1 * c, qg * c, k2 * c, k1 * c, k0 * c
    if st.cell_wxx is not None:
        H = np.array([[_at_risk(q1, qg, prep) @ st.cell_wxx]])
    else:
        H = (XT * (st.w * _at_risk_rows(q1, qg, prep))) @ XT.T
    R1, E1 = st.R1, st.E1
    cross = (R1 * k1[:, None]).T @ E1
    H -= (R1 * k2[:, None]).T @ R1 + cross + cross.T + (E1 * k0[:, None]).T @ E1
    return H


def newton_raphson(prep: _Prepared, beta: np.ndarray, loglik: float, U: np.ndarray, H: np.ndarray,
                   step: Callable[[np.ndarray, np.ndarray], np.ndarray], eps: float, iter_max: int):
    """R ``coxph.fit``'s iteration from ``beta`` (its log partial likelihood, score U and information H
    at beta): beta + step(H, U) (I^-1 U), halving the step back towards the last accepted beta when
    the likelihood falls or is not finite; converged when |1 - loglik_old / loglik_new| <= eps after a
    full step.  Returns (beta, loglik, U, H at the returned beta's last evaluation, converged,
    iterations); without convergence, the last beta tried, as R.  Shared by :func:`coxph` and the
    synthetic cohort's bare fits (``hccstudy.synth.construct.cox_coefficients``)."""
    newbeta = beta + step(H, U)
    newlk = loglik
    converged = False
    halving = False
    it = 0
    for it in range(1, iter_max + 1):  # noqa: B007 -- reported
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
            newbeta = newbeta + step(H, U)
    if not converged:
        loglik, beta = newlk, newbeta
    return beta, loglik, U, H, converged, it


def coxph(time, event, X, names: list[str] | None = None, *, start=None, weights=None, robust: bool | None = None,
          strata=None, cluster=None, ties: Ties = "efron", eps: float = 1e-9, iter_max: int = 20,
          conf_level: float = 0.95, toler_chol: float = np.finfo(float).eps ** 0.75,
          risk_sets: RiskSets | None = None) -> CoxFit:
    """Fit a Cox model (see module docstring).  ``X``: n x p covariate matrix (no intercept).

    ``start``: entry times for counting-process data, R's ``Surv(start, time, event)`` (a row is at risk
    at t when start < t <= time: late entry, several rows per subject, time-dependent covariates);
    ``weights``: case weights (> 0), R's ``coxph(..., weights = w)``; ``robust``: R's ``robust`` --
    None (R's default) means robust when ``cluster`` is given or a weight is not an integer; robust
    without ``cluster`` treats each row as its own cluster (right-censored data only, as R).
    ``risk_sets``: :func:`risk_sets` of the same time, event, strata, ties and start, to share the sort
    across fits that differ only in ``X`` or ``weights`` (the result is identical to fitting without it)."""
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    p = X.shape[1]
    names = names or [f"x{i + 1}" for i in range(p)]
    t_arr = np.asarray(time, dtype=float)
    if not np.isfinite(t_arr).all():
        raise ValueError(f"time has {int((~np.isfinite(t_arr)).sum())} missing or infinite value(s): Cox regression "
                         f"needs finite times")
    finite = np.isfinite(X).all(axis=0)  # one pass over X, not one strided pass per column
    bad = [nm for j, nm in enumerate(names) if not finite[j]]
    if bad:
        raise ValueError(f"covariate(s) {bad} have missing or infinite values: Cox regression needs finite values")
    if not np.asarray(event).astype(bool).any():
        raise ValueError("no events: Cox regression needs at least one event")
    if start is not None:
        start = _checked_start(start, t_arr)
    if weights is not None:
        weights = np.asarray(weights, dtype=float)
        if len(weights) != len(t_arr) or not (np.isfinite(weights) & (weights > 0)).all():
            raise ValueError("weights: needs one finite weight > 0 per row (as R's coxph: 'Invalid weights, "
                             "must be >0')")
    robust_given = robust is not None
    if robust is None:
        robust = cluster is not None or (weights is not None and bool((weights != np.floor(weights)).any()))
    elif not robust and cluster is not None:
        warnings.warn("cluster specified with robust=False, cluster ignored", RuntimeWarning, stacklevel=2)
        cluster = None
    if robust and cluster is None and start is not None and robust_given:
        raise ValueError("robust with (start, stop] data needs cluster= (the subject id), as R's coxph")
    if risk_sets is not None and (risk_sets.n != len(X) or risk_sets.ties != ties
                                  or (risk_sets.entry_group is None) != (start is None)):
        raise ValueError(f"risk_sets: built for {risk_sets.n} rows with ties={risk_sets.ties!r} and "
                         f"{'no ' if risk_sets.entry_group is None else ''}start, but X has {len(X)} rows, "
                         f"ties={ties!r} and {'no ' if start is None else ''}start")
    prep = _prepare(time, event, X, strata, ties, risk_sets, weights, start)
    beta = np.zeros(p)
    ll0, U, H, _ = _loglik(beta, prep)
    score = float(U @ _solve(H, U, toler_chol)) if p else 0.0
    beta, loglik, U, H, converged, it = newton_raphson(prep, beta, ll0, U, H, partial(_solve, toler=toler_chol),
                                                       eps, iter_max)
    if not converged:
        warnings.warn("Ran out of iterations and did not converge", RuntimeWarning, stacklevel=2)
    var = _inverse(H, toler_chol)
    # R coxph.fit: a coefficient whose remaining score step is large relative to it is "infinite"
    infs = np.abs(U @ var) if p else np.zeros(0)
    infinite = (infs > eps) & (infs > np.sqrt(eps) * np.abs(beta))
    if converged and infinite.any():
        which = ", ".join(str(i + 1) for i in np.flatnonzero(infinite))
        warnings.warn(f"Loglik converged before variable {which}; coefficient may be infinite.", RuntimeWarning,
                      stacklevel=2)
    robust_var = cl = None
    if robust and p:
        cl = (np.arange(prep.n) if cluster is None else pd.factorize(np.asarray(cluster)[prep.order])[0])
        Dc = _by_cluster(_weighted_residuals(beta, prep) @ var, cl)   # R: dfbeta residuals, weighted, collapsed
        robust_var = Dc.T @ Dc
    return CoxFit(beta, var, robust_var, list(names), (ll0, loglik), score, it, converged, len(prep.time),
                  int(prep.event.sum()), ties, conf_level, tuple(bool(v) for v in infinite), prep, cl)


def _weighted_residuals(beta: np.ndarray, prep: _Prepared) -> np.ndarray:
    """Score residuals times the case weights (R's ``weighted = TRUE``)."""
    resid = score_residuals(beta, prep)
    return resid if prep.wt is None else resid * prep.wt[:, None]


def _by_cluster(D: np.ndarray, cl: np.ndarray) -> np.ndarray:
    """Rows of ``D`` summed within clusters (codes 0..G-1)."""
    return np.column_stack([np.bincount(cl, weights=D[:, k], minlength=cl.max() + 1) for k in range(D.shape[1])])


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
    dM_i(t) = dN_i(t) - Y_i(t) exp(x_i beta) dLambda(t), with Efron's sub-step weights (tied events carry
    weight 1 - r/d in sub-step r).  With case weights the hazard increments are the weighted ones
    (mean event weight / weighted risk-set sum) and the residuals are not multiplied by the row's own
    weight (R's ``residuals(fit, "score")``; ``weighted = TRUE`` multiplies them by it).  With
    counting-process data Y_i(t) = 1 only for start < t <= stop."""
    X = prep.X
    p = X.shape[1]
    if len(prep.ev_cell) == 0:
        return np.zeros((prep.n, p))
    st = _sums(beta, prep)
    q1, qg, k2, k1, k0 = st.q
    R1, E1 = st.R1, st.E1
    # per event group: sum_r a_r / den_r (at risk) and sum_r g_r a_r / den_r (the tied events themselves)
    h = _at_risk_rows(q1, qg, prep)
    G = _at_risk_rows(R1 * k2[:, None] + E1 * k1[:, None], R1 * k1[:, None] + E1 * k0[:, None], prep)
    r = st.w if prep.wt is None else st.w / prep.wt          # exp(x beta); weights are > 0
    resid = -r[:, None] * (X * h[:, None] - G)
    # event part: x_i - the mean over its group's sub-steps of a_r
    abar = (R1 * q1[:, None] + E1 * qg[:, None]) / (prep.ev_d if prep.ev_wd is None else prep.ev_wd)[:, None]
    er = prep.ev_rows
    resid[er] += X[er] - abar[prep.ev_group]
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
    if prep.wt is not None or prep.entry_group is not None:
        raise ValueError("cox_zph: implemented for unweighted right-censored fits only (no weights, no start)")
    X = prep.X
    p = X.shape[1]
    beta = fit.coefficients
    st = _sums(beta, prep)
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
    gk = g[prep.ev_first]            # g(t) is one value per event time (event group)
    abar = st.q[0][:, None] * st.R1 + st.q[1][:, None] * st.E1
    x_ev = np.add.reduceat(X[er], prep.ev_first, axis=0) if len(er) else np.zeros((0, p))
    u = np.r_[np.zeros(p), gk @ (x_ev - abar)]
    i_bb = _information(prep, st)
    i_bg = _information(prep, st, c=gk)
    i_gg = _information(prep, st, c=gk**2)
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
