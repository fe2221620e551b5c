"""The matched analysis re-done many times: bootstrap with re-matching, the design grid, and multiple
imputation with matching within each imputed set.

All three run the same *chain* (:class:`MatchedChain`): logistic propensity score on the plan's
``matching.on`` (R's ``glm``, :mod:`hccstudy.stats.propensity`) -> nearest-neighbour matching with the
plan's spec (MatchIt, :func:`hccstudy.stats.matching.match_rows`) -> Cox of the arm on the matched
sample (the plan's arm contrast, ``cox.arm_reference``; :func:`hccstudy.stats.cox.coxph`).  The chain
works on arrays made once from the analysed table (the propensity design matrix, the arm, the endpoint
times and events), so a replicate is a few numpy calls and no pandas: ~5 ms on the built-in study.
The propensity score and the matching do not depend on the endpoint: one replicate gives the log HR of
every endpoint.

* :func:`bootstrap_psm`: each replicate resamples patients with replacement within arm (stratified
  bootstrap), re-fits the propensity score, re-matches and re-fits the matched Cox; its seed is the
  replicate's child of ``numpy.random.SeedSequence(bootstrap.seed)`` (so the replicates do not depend on
  how they are spread over workers).  Percentile and BCa intervals of the log HR
  (:func:`hccstudy.stats.bootstrap_ci.bootstrap_intervals`); BCa's acceleration from the jackknife of
  the whole chain (each patient left out in turn: n more chains), as Efron & Tibshirani (1993, ch. 14).
  A replicate that cannot be estimated (no pair within the caliper, no event in the matched sample, a
  propensity score or a Cox model that cannot be fitted or diverges) is counted in ``failed`` with its
  reason and left out of the intervals.  Reference: Austin & Small (2014), *Stat Med* 33:4306 (the
  bootstrap of matched estimates with re-matching).
* :func:`design_grid`: the matched HR for every caliper x ratio x replacement of the plan's
  ``sensitivity.design_grid`` (other matching options as the plan's).  1:1 without replacement (every
  weight 1): Cox with the robust SE clustered on the pair, as the main matched analysis.  With
  replacement or unequal 1:k sets: Cox weighted by MatchIt's matching weights with the robust
  (sandwich) SE, clustered on the matched set without replacement (Austin & Cafri 2020, MatchIt's
  vignette "Estimating effects").
* :func:`mi_psm`: multiple imputation of the baseline covariates, the whole chain within each imputed
  set, pooled by Rubin's rules (the "within" approach, Leyrat et al. 2019, *Stat Methods Med Res*
  28:3).

The endpoints of the plan's sensitivity block are computed together (:func:`_plan_endpoints`): the
resampling, the score and the matching are shared, and the imputation model uses every endpoint's
event and cumulative hazard, so a call for one endpoint runs the chain for all of them.  Ask for all at
once (``endpoint=None`` or a list), as :func:`hccstudy.analysis.sensitivity.sensitivity_analyses`
does: one run of each replicate analysis per study, nothing kept between calls.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..stats.cox import CoxFit, coxph
from ..stats.cox_arm import arm_coefficient
from ..stats.matching import match_rows, matching_options
from ..stats.propensity import design_matrix, logistic_distance
from .columns import TREATED
from .config import AnalysisConfig, EndpointSpec
from .replicates import ReplicatePool, current_pool, replicate_pool

#: ``coxph`` takes case weights (the weighted Cox of issue 14): needed for unequal matching weights
_WEIGHTED_COX = "weights" in inspect.signature(coxph).parameters


def _endpoints(cfg: AnalysisConfig, endpoint) -> list[EndpointSpec]:
    """The endpoint(s) asked for: an EndpointSpec, its name, a list of either, or None (all)."""
    if endpoint is None:
        return list(cfg.endpoints)
    items = endpoint if isinstance(endpoint, (list, tuple)) else [endpoint]
    out = []
    for e in items:
        if isinstance(e, EndpointSpec):
            out.append(e)
            continue
        found = [ep for ep in cfg.endpoints if ep.name == e]
        if not found:
            raise ValueError(f"endpoint {e!r} is not in the plan (endpoints: {[ep.name for ep in cfg.endpoints]})")
        out.append(found[0])
    return out


def _frame(prepared) -> pd.DataFrame:
    """The analysed rows: ``prepare()``'s data, or its whole (data, excluded, labels) tuple."""
    return prepared[0] if isinstance(prepared, tuple) else prepared


@dataclass(frozen=True)
class ChainFit:
    """One run of the chain: per endpoint the matched Cox log HR (NaN when not estimable), its SE and
    the number of matched treated units.  ``reason``: per endpoint why it failed ('' when it did not)."""

    log_hr: np.ndarray
    n_pairs: int
    reason: tuple[str, ...]


@dataclass(frozen=True)
class MatchedChain:
    """PS -> matching -> matched Cox on arrays (module docstring).  Built by :meth:`from_data`;
    picklable (numpy arrays and plain values), so it travels to Dask workers once."""

    X: np.ndarray             # propensity design matrix, n x p (intercept first), R's model.matrix
    names: tuple[str, ...]
    treated: np.ndarray       # bool: MatchIt's treated (arm.treated)
    arm: np.ndarray           # float 0/1: the Cox arm term (1 = the arm compared with cox.arm_reference)
    times: np.ndarray         # n x E
    events: np.ndarray        # n x E bool
    endpoints: tuple[str, ...]
    link: str
    matching: dict = field(default_factory=dict)   # match_rows keywords
    ties: str = "efron"

    @classmethod
    def from_data(cls, data: pd.DataFrame, cfg: AnalysisConfig, endpoints: list[EndpointSpec]) -> MatchedChain:
        m = cfg.matching
        if m is None:
            raise ValueError("the plan has no matching: nothing to re-match")
        X, names, _ = design_matrix(data, m.on, [c for c in cfg.categorical if c in m.on])
        treated = data[TREATED].to_numpy(dtype=bool)
        arm = (treated if cfg.cox.arm_reference == "control" else ~treated).astype(float)
        times = np.column_stack([pd.to_numeric(data[ep.time]).to_numpy(dtype=float) for ep in endpoints]) \
            if endpoints else np.zeros((len(data), 0))
        events = np.column_stack([(data[ep.event] == ep.event_value).to_numpy(dtype=bool) for ep in endpoints]) \
            if endpoints else np.zeros((len(data), 0), dtype=bool)
        spec = matching_options(m)
        return cls(np.ascontiguousarray(X), tuple(names), treated, arm, times, events,
                   tuple(ep.name for ep in endpoints), m.link, spec, cfg.cox.ties)

    @property
    def n(self) -> int:
        return len(self.treated)

    def match(self, rows: np.ndarray, **overrides):
        """PS fit and matching on ``rows`` (positions, repeats allowed).  Returns (Matches, weights) or
        a failure reason (str)."""
        y = self.treated[rows]
        if y.all() or not y.any():
            return "one arm empty in the resample"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # glm.fit's warnings (fitted 0/1, aliased terms): the fit stands
            try:
                distance = logistic_distance(self.X[rows], y.astype(float), self.names, self.link)
            except (ValueError, np.linalg.LinAlgError):
                return "propensity score not estimable"
        if not np.isfinite(distance).all():
            return "propensity score not estimable"
        try:
            m = match_rows(distance, y, **{**self.matching, **overrides})
        except ValueError:
            return "matching failed"
        if len(m.treated) == 0:
            return "no pairs"
        return m, m.weights(len(rows))

    def cox(self, rows: np.ndarray, m, weights: np.ndarray, k: int, *, variance: bool = False,
            replace: bool | None = None) -> CoxFit | str:
        """The matched Cox of endpoint ``k`` on ``rows`` (a CoxFit or a failure reason).  ``variance``:
        with the robust SE (clustered on the matched set; weighted when the weights are unequal)."""
        sel = weights > 0
        e = self.events[rows, k][sel]
        if not e.any():
            return "no events in the matched sample"
        t = self.times[rows, k][sel]
        x = self.arm[rows][sel][:, None]
        w = weights[sel]
        uniform = bool(np.all(w == 1.0))
        replace = self.matching["replace"] if replace is None else replace
        kw: dict = {}
        if not uniform:
            if not _WEIGHTED_COX:
                return "unequal matching weights need the weighted Cox (not available)"
            kw["weights"] = w
            if variance:
                kw["robust"] = True
        if variance and not replace:
            kw["cluster"] = _set_ids(len(rows), m.treated, m.control)[sel]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fit = coxph(t, e, x, ["arm"], ties=self.ties, **kw)
            except (ValueError, np.linalg.LinAlgError):
                return "Cox model not estimable"
        if not fit.converged or (fit.infinite and fit.infinite[0]) or not np.isfinite(fit.coefficients[0]):
            return "Cox model did not converge (infinite HR)"
        return fit

    def log_hr(self, rows: np.ndarray) -> ChainFit:
        """The chain's log HR per endpoint on ``rows``: the matched Cox coefficient by
        :func:`~hccstudy.stats.cox_arm.arm_coefficient` (coxph's to rounding, ~5x faster; no variance)."""
        E = len(self.endpoints)
        got = self.match(rows)
        if isinstance(got, str):
            return ChainFit(np.full(E, np.nan), 0, (got,) * E)
        m, w = got
        sel = w > 0
        x = self.arm[rows][sel]
        ws = w[sel]
        weights = None if np.all(ws == 1.0) else ws
        out = np.full(E, np.nan)
        why = []
        for k in range(E):
            e = self.events[rows, k][sel]
            if not e.any():
                why.append("no events in the matched sample")
                continue
            with np.errstate(all="ignore"):  # exp overflow on a diverging coefficient: reported as a failure
                fit = arm_coefficient(self.times[rows, k][sel], e, x, weights, ties=self.ties)
            if not (fit.converged and np.isfinite(fit.coef)) or fit.infinite:
                why.append("Cox model did not converge (infinite HR)")
                continue
            out[k] = fit.coef
            why.append("")
        return ChainFit(out, int(len(np.unique(m.treated))), tuple(why))


def _set_ids(n: int, treated_rows: np.ndarray, control_rows: np.ndarray) -> np.ndarray:
    """Per row the matched set (numbered by its treated unit), -1 when unmatched; without replacement
    (each control in one set)."""
    ids = np.full(n, -1, dtype=np.int64)
    ut, inv = np.unique(treated_rows, return_inverse=True)
    ids[ut] = np.arange(len(ut))
    ids[control_rows] = inv
    return ids


class _BootstrapReplicate:
    """One bootstrap replicate from its seed: resample within arm, then the chain (module docstring)."""

    def __init__(self, chain: MatchedChain):
        self.chain = chain
        self.t_rows = np.flatnonzero(chain.treated)
        self.c_rows = np.flatnonzero(~chain.treated)

    def __call__(self, seed: np.random.SeedSequence) -> ChainFit:
        rng = np.random.default_rng(seed)
        rows = np.concatenate([self.t_rows[rng.integers(0, len(self.t_rows), len(self.t_rows))],
                               self.c_rows[rng.integers(0, len(self.c_rows), len(self.c_rows))]])
        rows.sort()  # the original row order (matching ties and pair numbers follow row order)
        return self.chain.log_hr(rows)


class _Jackknife:
    """The chain without patient ``i``."""

    def __init__(self, chain: MatchedChain):
        self.chain = chain
        self.all = np.arange(chain.n)

    def __call__(self, i: int) -> ChainFit:
        return self.chain.log_hr(np.delete(self.all, i))


class _BootstrapAndJackknife:
    """Both kinds of chain as one job: a SeedSequence item is a bootstrap replicate, an int ``i`` the
    jackknife chain without patient ``i`` (one map instead of two: the workers receive the chain once
    and nobody idles between the bootstrap's last chunk and the jackknife's first)."""

    def __init__(self, chain: MatchedChain):
        self.boot = _BootstrapReplicate(chain)
        self.jack = _Jackknife(chain)

    def __call__(self, item) -> ChainFit:
        return self.jack(item) if isinstance(item, (int, np.integer)) else self.boot(item)


@dataclass(frozen=True)
class BootstrapPsm:
    """The bootstrap of the matched HR for one endpoint (module docstring).

    ``hr``: the matched HR of the data themselves; ``replicates``: the log HR of each replicate (NaN
    where it failed), in replicate order; ``n_pairs``: matched treated units per replicate (0 where no
    pair); ``percentile`` / ``bca``: (lower, upper) confidence limits on the HR scale; ``failed``: the
    replicates left out, ``failures`` their reasons with counts; ``acceleration``: how BCa's
    acceleration was estimated."""

    endpoint: str
    hr: float
    log_hr: float
    replicates: np.ndarray
    n_pairs: np.ndarray
    percentile: tuple[float, float]
    bca: tuple[float, float]
    failed: int
    failures: dict[str, int]
    seed: int
    conf_level: float = 0.95
    n: int = 0          # matched patients in the data themselves
    events: int = 0     # their events
    acceleration: str = "jackknife of the whole chain (each patient left out)"
    notes: tuple[str, ...] = ()    # e.g. boot.ci's warning that extreme order statistics were used

    @property
    def n_replicates(self) -> int:
        return len(self.replicates)

    def pairs_distribution(self) -> dict:
        """Matched treated units over the replicates: min, quartiles, max, mean."""
        p = self.n_pairs[self.n_pairs > 0]
        if len(p) == 0:
            return {"min": None, "q1": None, "median": None, "q3": None, "max": None, "mean": None}
        q = np.quantile(p, [0.25, 0.5, 0.75])
        return {"min": int(p.min()), "q1": float(q[0]), "median": float(q[1]), "q3": float(q[2]),
                "max": int(p.max()), "mean": float(p.mean())}

    def method(self) -> dict:
        """The ``bootstrap_psm`` row of the sensitivity summary: the matched HR with the BCa interval."""
        ok = self.n_replicates - self.failed
        note = (f"{ok} of {self.n_replicates} bootstrap replicates (seed {self.seed}; re-matched each time), "
                f"BCa interval")
        if self.failed:
            note += "; failed: " + ", ".join(f"{k} {v}" for k, v in sorted(self.failures.items()))
        return {"hr": self.hr, "lcl": self.bca[0], "ucl": self.bca[1], "p": None, "n": self.n,
                "events": self.events, "note": note}

    def to_dict(self) -> dict:
        """The endpoint's ``bootstrap`` block of results.json."""
        return {"replicates": self.n_replicates, "seed": self.seed, "failed": self.failed,
                "failures": dict(sorted(self.failures.items())), "conf_level": self.conf_level,
                "hr": self.hr, "percentile": list(self.percentile), "bca": list(self.bca),
                "acceleration": self.acceleration, "pairs": self.pairs_distribution(), "notes": list(self.notes)}


def _spec(spec, key: str):
    return getattr(spec, key) if spec is not None else None


def bootstrap_psm(prepared, cfg: AnalysisConfig, endpoint, spec, *, scheduler: str | None = None,
                  workers: int | None = None, pool: ReplicatePool | None = None, progress=None
                  ) -> BootstrapPsm | dict[str, BootstrapPsm]:
    """The bootstrap of the matched HR (module docstring).  ``prepared``: ``analysis.run.prepare()``'s
    analysed rows (or its whole tuple); ``endpoint``: an endpoint (spec or name) -> a
    :class:`BootstrapPsm`, or a list of them / None (every endpoint) -> ``{name: BootstrapPsm}`` from
    the same replicates (the resampling and matching are shared by the endpoints).  ``spec``: the plan's
    ``sensitivity`` (``bootstrap.replicates``, ``bootstrap.seed``; ``scheduler`` / ``workers`` unless
    given here).  ``pool``: an open :func:`~hccstudy.analysis.replicates.replicate_pool` to reuse."""
    single = endpoint is not None and not isinstance(endpoint, (list, tuple))
    asked = _endpoints(cfg, endpoint)
    chain = MatchedChain.from_data(_frame(prepared), cfg, _plan_endpoints(cfg, spec, asked))
    n_rep, seed = int(spec.bootstrap.replicates), int(spec.bootstrap.seed)
    every = _bootstrap(chain, n_rep, seed, pool, scheduler or _spec(spec, "scheduler"), workers or _spec(spec, "workers"),
                       progress)
    out = {ep.name: every[ep.name] for ep in asked}
    return out[asked[0].name] if single else out


def _bootstrap(chain: MatchedChain, n_rep: int, seed: int, pool, scheduler, workers, progress) -> dict:
    from ..stats.bootstrap_ci import bootstrap_intervals

    seeds = np.random.SeedSequence(seed).spawn(n_rep)
    full = chain.log_hr(np.arange(chain.n))
    sizes = _matched_sizes(chain)
    with _pool(pool, scheduler, workers) as p:  # one job: one trip to the workers and one tail to wait for
        both = p.map(_BootstrapAndJackknife(chain), [*seeds, *range(chain.n)],
                     label="Bootstrap (re-matching) and jackknife", progress=progress)
    reps, jack = both[:n_rep], both[n_rep:]
    out = {}
    for k, name in enumerate(chain.endpoints):
        est = np.array([r.log_hr[k] for r in reps])
        pairs = np.array([r.n_pairs for r in reps], dtype=np.int64)
        why = Counter(r.reason[k] for r in reps if r.reason[k])
        jk = np.array([r.log_hr[k] for r in jack])
        ok = np.isfinite(est)
        theta = float(full.log_hr[k])
        notes: list[str] = []
        if not np.isfinite(theta) or ok.sum() < 2:
            pct = bca = (math.nan, math.nan)
            notes.append("not estimable: " + ("the matched HR of the data is not estimable" if not np.isfinite(theta)
                                              else "fewer than 2 replicates could be estimated"))
        else:
            with warnings.catch_warnings(record=True) as caught:  # boot.ci's "extreme order statistics"
                warnings.simplefilter("always")
                ci = bootstrap_intervals(theta, est[ok], jk[np.isfinite(jk)])
            notes += list(dict.fromkeys(str(w.message) for w in caught))
            pct = tuple(float(np.exp(v)) for v in ci.percentile)
            bca = tuple(float(np.exp(v)) for v in ci.bca)
        n_m, ev = sizes[k]
        out[name] = BootstrapPsm(name, float(np.exp(theta)), theta, est, pairs, pct, bca, int((~ok).sum()), dict(why),
                                 seed, n=n_m, events=ev, notes=tuple(notes))
    return out


def _matched_sizes(chain: MatchedChain) -> list[tuple[int, int]]:
    """Per endpoint (matched patients, events) in the data themselves."""
    got = chain.match(np.arange(chain.n))
    if isinstance(got, str):
        return [(0, 0)] * len(chain.endpoints)
    sel = got[1] > 0
    return [(int(sel.sum()), int(chain.events[sel, k].sum())) for k in range(len(chain.endpoints))]


class _pool:
    """The pool to use: the caller's, else the current :func:`replicate_pool`, else (``own``) a new one
    closed at the end, or (not ``own``) in this process."""

    def __init__(self, pool: ReplicatePool | None, scheduler, workers, own: bool = True):
        self.given = pool or current_pool()
        self.scheduler, self.workers = scheduler, workers if own or scheduler is not None else 1
        self._cm = None

    def __enter__(self) -> ReplicatePool:
        if self.given is not None:
            return self.given
        self._cm = replicate_pool(self.scheduler, self.workers)
        return self._cm.__enter__()

    def __exit__(self, *exc):
        if self._cm is not None:
            return self._cm.__exit__(*exc)
        return False


def _plan_endpoints(cfg: AnalysisConfig, spec, asked: list[EndpointSpec]) -> list[EndpointSpec]:
    """The endpoints computed together: the sensitivity block's (``sensitivity.endpoints``; all when
    null) plus any asked for."""
    names = getattr(spec, "endpoints", None)
    eps = [ep for ep in cfg.endpoints if names is None or ep.name in names]
    return eps + [ep for ep in asked if ep.name not in {e.name for e in eps}]


# --------------------------------------------------------------------------------------------- grid

#: columns of the design grid table
GRID_COLUMNS = ["caliper", "ratio", "replace", "n_pairs", "n", "events", "hr", "lcl", "ucl", "p", "se", "note"]


class _GridCell:
    """One design of the grid: match with (caliper, ratio, replace), then the matched Cox per endpoint."""

    def __init__(self, chain: MatchedChain):
        self.chain = chain

    def __call__(self, cell: tuple) -> list[dict]:
        caliper, ratio, replace = cell
        c = self.chain
        rows = np.arange(c.n)
        base = {"caliper": caliper, "ratio": int(ratio), "replace": bool(replace)}
        got = c.match(rows, caliper=caliper, ratio=int(ratio), replace=bool(replace))
        if isinstance(got, str):
            return [{**base, "n_pairs": 0, "n": 0, "events": 0, "note": got} for _ in c.endpoints]
        m, w = got
        sel = w > 0
        uniform = bool(np.all(w[sel] == 1.0))
        how = ("Cox, robust SE clustered on the matched set" if uniform and not replace else
               "Cox weighted by the matching weights, robust SE" + ("" if replace else " clustered on the matched set"))
        out = []
        for k in range(len(c.endpoints)):
            row = {**base, "n_pairs": int(len(np.unique(m.treated))), "n": int(sel.sum()),
                   "events": int(c.events[sel, k].sum())}
            fit = c.cox(rows, m, w, k, variance=True, replace=bool(replace))
            if isinstance(fit, str):
                out.append({**row, "note": fit})
                continue
            t = fit.table.iloc[0]
            se = float(t["robust_se"]) if "robust_se" in t else float(t["se"])
            out.append({**row, "hr": float(t["hr"]), "lcl": float(t["lcl"]), "ucl": float(t["ucl"]),
                        "p": float(t["p"]), "se": se, "note": how})
        return out


def design_grid(prepared, cfg: AnalysisConfig, endpoint, spec, *, scheduler: str | None = None,
                workers: int | None = None, pool: ReplicatePool | None = None, progress=None
                ) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """The matched HR for every caliper x ratio x replacement of ``spec.design_grid`` (module
    docstring): a table with :data:`GRID_COLUMNS` (``caliper`` None = no caliper; ``hr`` ... missing
    with the reason in ``note`` where a design gives no pair, no event or no estimable model).  The
    plan's other matching options (order, link, discard, std_caliper) are kept.  ``endpoint``: one
    (-> a table) or a list / None (-> ``{name: table}``).  The cells are cheap (~24 fits): they run in
    this process unless a pool is given or current."""
    single = endpoint is not None and not isinstance(endpoint, (list, tuple))
    asked = _endpoints(cfg, endpoint)
    chain = MatchedChain.from_data(_frame(prepared), cfg, _plan_endpoints(cfg, spec, asked))
    g = spec.design_grid
    cells = [(c, int(r), bool(rep)) for c in g.calipers for r in g.ratios for rep in g.replace]
    def compute() -> dict:
        with _pool(pool, scheduler or _spec(spec, "scheduler"), workers, own=False) as p:
            res = p.map(_GridCell(chain), cells, label="Design grid", progress=progress)
        tables = {}
        for k, name in enumerate(chain.endpoints):
            t = pd.DataFrame([cell[k] for cell in res], columns=GRID_COLUMNS)
            t["caliper"] = pd.Series([c for c, _, _ in cells], dtype=object)  # None: no caliper (not NaN)
            tables[name] = t
        return tables

    every = compute()
    out = {ep.name: every[ep.name] for ep in asked}
    return out[asked[0].name] if single else out


# ---------------------------------------------------------------------------------- imputation

#: the imputation model's own predictors (in their own namespace: never a user's column)
_MI_ARM = ".hcc_mi_arm"
_MI_EVENT = ".hcc_mi_event_"
_MI_CUMHAZ = ".hcc_mi_cumhaz_"


def mi_columns(cfg: AnalysisConfig) -> list[str]:
    """The baseline covariates the imputation fills in: the propensity score's (``matching.on``) and
    the Cox models' (``cox.variables`` other than the arm), in that order, once each."""
    on = list(cfg.matching.on) if cfg.matching else []
    return list(dict.fromkeys([*on, *[v for v in cfg.cox.variables if v != cfg.arm.column]]))


def _used_columns(cfg: AnalysisConfig) -> list[str]:
    """Every column whose missing value excludes a row from the complete-case analysis (``prepare``)."""
    sub = [s if isinstance(s, str) else s.variable for s in cfg.subgroups]
    ep = [c for e in cfg.endpoints for c in (e.time, e.event)]
    return list(dict.fromkeys([cfg.arm.column, *cfg.covariates, *(cfg.matching.on if cfg.matching else []),
                               *ep, *[v for v in cfg.cox.variables if v != cfg.arm.column], *sub]))


def _same(v, value) -> bool:
    return v == value or str(v) == str(value)


def nelson_aalen(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """The Nelson–Aalen cumulative hazard at each patient's own time: with the event indicator, the
    outcome's summary in the imputation model (White & Royston 2009, *Stat Med* 28:1982)."""
    order = np.argsort(time, kind="stable")
    t, e = time[order], event[order].astype(float)
    ut, first = np.unique(t, return_index=True)
    d = np.add.reduceat(e, first)
    at_risk = len(t) - first
    H = np.cumsum(d / at_risk)
    return H[np.searchsorted(ut, time)]


class _MiSet:
    """One imputation: complete the covariates with its own seed (:func:`~hccstudy.stats.imputation.impute_one`)
    and run the chain with the robust (pair-clustered) variance per endpoint."""

    def __init__(self, frame: pd.DataFrame, impute: list[str], predictors: list[str], iterations: int,
                 chain: MatchedChain, cfg_on: list[str], categorical: list[str]):
        self.frame, self.impute, self.predictors, self.iterations = frame, impute, predictors, iterations
        self.chain, self.on, self.categorical = chain, cfg_on, categorical

    def __call__(self, seed: np.random.SeedSequence) -> list[tuple]:
        from ..stats.imputation import impute_one

        with warnings.catch_warnings(), np.errstate(all="ignore"):  # nothing printed from a worker process
            warnings.simplefilter("ignore")
            done = impute_one(self.frame, self.impute, seed, iterations=self.iterations, predictors=self.predictors)
        X, _, _ = design_matrix(done, self.on, self.categorical)
        chain = MatchedChain(np.ascontiguousarray(X), self.chain.names, self.chain.treated, self.chain.arm,
                             self.chain.times, self.chain.events, self.chain.endpoints, self.chain.link,
                             self.chain.matching, self.chain.ties)
        rows = np.arange(chain.n)
        got = chain.match(rows)
        if isinstance(got, str):
            return [(np.nan, np.nan, 0, 0, 0, got)] * len(chain.endpoints)
        m, w = got
        sel = w > 0
        out = []
        for k in range(len(chain.endpoints)):
            fit = chain.cox(rows, m, w, k, variance=True)
            ev = int(chain.events[sel, k].sum())
            if isinstance(fit, str):
                out.append((np.nan, np.nan, int(sel.sum()), ev, int(len(np.unique(m.treated))), fit))
                continue
            v = fit.robust_var if fit.robust_var is not None else fit.var
            out.append((float(fit.coefficients[0]), float(v[0, 0]), int(sel.sum()), ev,
                        int(len(np.unique(m.treated))), ""))
        return out


@dataclass(frozen=True)
class MiPsm:
    """Multiple imputation -> PS -> matching -> matched Cox, pooled by Rubin's rules, for one endpoint.

    ``pooled``: the ``mi_psm`` row (hr, lcl, ucl, p, n, events, note; n and events: the mean matched
    sample over the imputations); ``rubin``: :func:`~hccstudy.stats.pooling.rubin_pool`'s row on the
    log HR (riv, lambda, fmi, df ...); ``per_imputation``: log HR, robust variance, matched n, events,
    pairs per imputed set; ``m``; ``n_recovered``: patients analysed only thanks to the imputation;
    ``n_complete``: the complete cases; ``imputed``: the covariates with missing values that were
    imputed (with their number of missing values)."""

    endpoint: str
    pooled: dict
    rubin: pd.DataFrame | None
    per_imputation: pd.DataFrame
    m: int
    n_recovered: int
    n_complete: int
    imputed: dict[str, int]
    seed: int
    iterations: int

    def to_dict(self) -> dict:
        """The endpoint's ``imputation`` block of results.json."""
        r = None if self.rubin is None else {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                                             for k, v in self.rubin.iloc[0].items() if k != "term"}
        return {"m": self.m, "seed": self.seed, "iterations": self.iterations, "n_complete": self.n_complete,
                "n_recovered": self.n_recovered, "imputed": dict(self.imputed), "pooled": dict(self.pooled),
                "rubin": r, "per_imputation": self.per_imputation.to_dict(orient="records")}


def mi_psm(prepared, cfg: AnalysisConfig, endpoint, spec, *, scheduler: str | None = None,
           workers: int | None = None, pool: ReplicatePool | None = None, progress=None
           ) -> MiPsm | dict[str, MiPsm]:
    """Multiple imputation of the baseline covariates, the whole chain in each imputed set, pooled by
    Rubin's rules (module docstring).

    ``prepared``: the table with the incomplete rows -- the user's table (``analyze``'s data; or
    ``prepare()``'s tuple whose first item is it).  Rows analysed: the complete cases plus every row
    whose missing values are all in :func:`mi_columns` (arm and endpoints known); a row missing another
    analysed column (a Table 1-only covariate, a subgroup variable) stays out, as in the cohort's
    supplement (:mod:`hccstudy.cohort.missing_supplement`).  The imputation model (chained equations,
    :func:`~hccstudy.stats.imputation.impute_one`, ``spec.imputation.m`` sets from
    ``SeedSequence(spec.imputation.seed)``, ``iterations``) imputes the covariates with missing values
    from the other covariates, the arm and, per endpoint, the event indicator and the Nelson–Aalen
    cumulative hazard (White & Royston 2009).  Each imputed set is one replicate (Dask)."""
    from ..stats.pooling import dfcom_cox, rubin_pool

    single = endpoint is not None and not isinstance(endpoint, (list, tuple))
    asked = _endpoints(cfg, endpoint)
    eps = _plan_endpoints(cfg, spec, asked)
    df = _frame(prepared)
    df = df[[c for c in df.columns if not str(c).startswith(".hcc_")]]
    imp = spec.imputation
    m_sets, seed, iters = int(imp.m), int(imp.seed), int(imp.iterations)
    cols = mi_columns(cfg)
    used = _used_columns(cfg)
    miss = df[used].isna()
    complete = ~miss.any(axis=1).to_numpy()
    other = [c for c in used if c not in cols]
    fixable = ~miss[other].any(axis=1).to_numpy() & ~complete
    rows = complete | fixable
    frame = df.loc[rows].reset_index(drop=True)
    treated = np.array([_same(v, cfg.arm.treated) for v in frame[cfg.arm.column]], dtype=bool)
    def compute() -> dict:
        data = frame.assign(**{TREATED: treated})
        n_missing = {c: int(frame[c].isna().sum()) for c in cols if frame[c].isna().any()}
        imputed = list(n_missing)
        chain = MatchedChain.from_data(_filled(data, cfg.matching.on), cfg, eps)
        mi = frame[cols].copy()
        mi[_MI_ARM] = treated.astype(float)
        preds = [_MI_ARM]
        for k, ep in enumerate(eps):
            mi[_MI_EVENT + ep.name] = chain.events[:, k].astype(float)
            mi[_MI_CUMHAZ + ep.name] = nelson_aalen(chain.times[:, k], chain.events[:, k])
            preds += [_MI_EVENT + ep.name, _MI_CUMHAZ + ep.name]
        cats = [c for c in cfg.categorical if c in cfg.matching.on]
        if not imputed:  # nothing missing: every set would be the complete data
            return {ep.name: _no_imputation(ep.name, chain, k, m_sets, seed, iters, int(complete.sum()))
                    for k, ep in enumerate(eps)}
        task = _MiSet(mi, cols, preds, iters, chain, list(cfg.matching.on), cats)
        children = np.random.SeedSequence(seed).spawn(m_sets)
        with _pool(pool, scheduler or _spec(spec, "scheduler"), workers or _spec(spec, "workers")) as p:
            sets = p.map(task, children, label="Multiple imputation (PS, matching, Cox per set)", progress=progress)
        out = {}
        for k, ep in enumerate(eps):
            per = pd.DataFrame([s[k] for s in sets], columns=["log_hr", "variance", "n", "events", "n_pairs", "failed"])
            per.insert(0, "imputation", np.arange(1, m_sets + 1))
            ok = np.isfinite(per["log_hr"].to_numpy()) & np.isfinite(per["variance"].to_numpy())
            n_rec = int(fixable.sum())
            note = (f"m = {m_sets} imputations (seed {seed}, {iters} iterations) of {', '.join(imputed)}; "
                    f"{n_rec} patients brought back; PS matching within each imputed set, Cox with robust SE by "
                    f"matched set, pooled by Rubin's rules")
            if ok.sum() < 2:
                pooled = {"hr": math.nan, "lcl": math.nan, "ucl": math.nan, "p": math.nan, "n": 0, "events": 0,
                          "note": note + f"; not estimable: {int((~ok).sum())} imputed sets failed"}
                out[ep.name] = MiPsm(ep.name, pooled, None, per, m_sets, n_rec, int(complete.sum()), n_missing,
                                     seed, iters)
                continue
            if (~ok).any():
                note += f"; {int((~ok).sum())} imputed sets left out (no pair or no model)"
            first = per[ok].iloc[0]
            rub = rubin_pool(per.loc[ok, "log_hr"].to_numpy(), per.loc[ok, "variance"].to_numpy(),
                             df_complete=dfcom_cox(int(first["events"]), 1), names=["arm"])
            r = rub.iloc[0]
            pooled = {"hr": float(np.exp(r["estimate"])), "lcl": float(np.exp(r["lcl"])),
                      "ucl": float(np.exp(r["ucl"])), "p": float(r["p.value"]),
                      "n": int(round(per.loc[ok, "n"].mean())), "events": int(round(per.loc[ok, "events"].mean())),
                      "note": note}
            out[ep.name] = MiPsm(ep.name, pooled, rub, per, m_sets, n_rec, int(complete.sum()), n_missing, seed, iters)
        return out

    every = compute()
    out = {ep.name: every[ep.name] for ep in asked}
    return out[asked[0].name] if single else out


def _filled(data: pd.DataFrame, on: list[str]) -> pd.DataFrame:
    """``data`` with the propensity covariates' missing values set to a placeholder (their first observed
    value): only to build the chain's arrays; each imputed set replaces the design matrix."""
    fill = {c: data[c].dropna().iloc[0] for c in on if data[c].isna().any() and data[c].notna().any()}
    return data.fillna(fill) if fill else data


def _no_imputation(name: str, chain: MatchedChain, k: int, m: int, seed: int, iters: int, n_complete: int) -> MiPsm:
    """No analysed covariate has a missing value: MI is the complete-case analysis (said in the note)."""
    rows = np.arange(chain.n)
    got = chain.match(rows)
    pooled = {"hr": math.nan, "lcl": math.nan, "ucl": math.nan, "p": math.nan, "n": 0, "events": 0,
              "note": "no analysed covariate has a missing value: nothing to impute (the complete-case "
                      "psm_robust estimate applies)"}
    if not isinstance(got, str):
        fit = chain.cox(rows, got[0], got[1], k, variance=True)
        sel = got[1] > 0
        if not isinstance(fit, str):
            t = fit.table.iloc[0]
            pooled.update(hr=float(t["hr"]), lcl=float(t["lcl"]), ucl=float(t["ucl"]), p=float(t["p"]),
                          n=int(sel.sum()), events=int(chain.events[sel, k].sum()))
    per = pd.DataFrame(columns=["imputation", "log_hr", "variance", "n", "events", "n_pairs", "failed"])
    return MiPsm(name, pooled, None, per, 0, 0, n_complete, {}, seed, iters)
