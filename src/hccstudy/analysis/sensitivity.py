"""Sensitivity analyses of the arm hazard ratio (plan key ``sensitivity``; docs/sensitivity.md).

:func:`sensitivity_analyses` runs, per endpoint, from what ``analyze`` already holds (the analysed rows
with their ``.hcc_`` columns, the propensity-score fit and the matching):

======================  ==============================================================================
``unadjusted``          Cox of the arm, all analysed patients
``multivariable``       Cox of the arm + the propensity-score covariates (regression adjustment)
``psm_robust``          matched sample, robust (Lin–Wei) SE clustered on the matched set
``psm_stratified``      matched sample, stratified on the matched set (conditional HR)
``psm_centre_ps``       the propensity score refitted with the centre as a fixed effect, re-matched
                        with the plan's matching, then as ``psm_robust``
``iptw_ate`` ...        IPTW Cox (ATE, ATT, ATC; ``overlap``: ATO weights), robust sandwich SE
``doubly_robust``       ATE-weighted Cox adjusted for the propensity-score covariates, robust SE
``landmark_<t>``        landmark at t: alive, event-free and with the arm started by t; time from t
``time_dependent``      (start, stop] Cox: pre-exposure until ``exposure_start``, then the arm;
                        HR = exp(b_A - b_B), robust SE clustered on the patient
``centre_stratified``   Cox of the arm stratified on the centre
``mi_psm``              multiple imputation -> PS -> matching -> Cox, pooled by Rubin's rules
``bootstrap_psm``       the matched HR with PS and matching re-done in each bootstrap replicate
======================  ==============================================================================

plus the blocks ``rmst`` (restricted mean survival time per arm and the difference), ``centres``
(per-centre HRs, fixed and DerSimonian–Laird meta-analysis, centre x arm interaction by a
likelihood-ratio test), ``weighting`` (effective sample size, weighted balance and the weighted
Kaplan–Meier per arm, :mod:`hccstudy.analysis.weighted_km`, per estimand),
``design_grid``, ``bootstrap``, ``imputation`` and ``evalue`` (how the E-values were computed).

Every HR is the plan's arm contrast (``cox.arm_reference``: the other arm vs this one) and carries its
E-value (VanderWeele & Ding 2017) for the point estimate and the confidence limit closer to 1; the
outcome counts as common (HR -> RR by the square-root transformation) when its Kaplan–Meier cumulative
incidence at the end of follow-up exceeds 15 % (:func:`hccstudy.stats.evalue.outcome_is_common`).

A method whose inputs are absent (no centre or exposure column named, an empty arm, no events, a model
that cannot be fitted) is left out and listed in ``Results.skipped`` with the reason -- never a crash.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._yaml import ConfigError
from ..stats.counting import landmark, split_at
from ..stats.cox import CoxFit, coxph
from ..stats.evalue import COMMON_TRANSFORM, RARE_TRANSFORM, evalue_hr, outcome_is_common
from ..stats.km import kaplan_meier
from ..stats.matching import match_by_spec
from ..stats.meta import MetaAnalysis, meta_analysis
from ..stats.propensity import LogisticFit, design_matrix, logistic_irls
from ..stats.rmst import default_tau, rmst_difference
from ..stats.weighting import Weights, iptw
from .columns import PAIR, TREATED, WEIGHT
from .config import ESTIMAND_METHOD, AnalysisConfig, EndpointSpec, SensitivitySpec
from .records import frame_records
from .replicates import replicate_pool
from .weighted_km import WeightedKM, weighted_km

#: the cumulative incidence at the end of follow-up above which an outcome is "common" for the E-value
COMMON_OUTCOME = 0.15

#: method -> how the report names it
METHOD_LABELS = {
    "unadjusted": "Unadjusted Cox, all patients",
    "multivariable": "Multivariable Cox (PS covariates)",
    "psm_robust": "PS matching, robust SE (primary)",
    "psm_stratified": "PS matching, pair-stratified",
    "psm_centre_ps": "PS with centre, re-matched",
    "iptw_ate": "IPTW (ATE)",
    "iptw_att": "IPTW (ATT)",
    "iptw_atc": "IPTW (ATC)",
    "overlap": "Overlap weights (ATO)",
    "doubly_robust": "Doubly robust (IPTW + covariates)",
    "time_dependent": "Time-dependent exposure",
    "centre_stratified": "Centre-stratified Cox",
    "mi_psm": "Multiple imputation + PS matching",
    "bootstrap_psm": "PS matching, bootstrap CI",
}


def method_label(method: str) -> str:
    """The report's name of a method (``landmark_3`` -> "Landmark at 3")."""
    if method.startswith("landmark_"):
        return f"Landmark at {method[len('landmark_'):]}"
    return METHOD_LABELS.get(method, method)


@dataclass(frozen=True)
class SensitivityEstimate:
    """One method's arm HR: ``hr`` with its CI and Wald P, the patients (``n``, weight > 0) and events
    it rests on, the E-values of the point and of the CI limit closer to 1, and a ``note`` saying what
    was fitted."""

    method: str
    hr: float
    lcl: float
    ucl: float
    p: float
    n: int
    events: int
    e_value: float | None
    e_value_ci: float | None
    note: str

    def to_dict(self) -> dict:
        return {"hr": self.hr, "lcl": self.lcl, "ucl": self.ucl, "p": self.p, "n": self.n, "events": self.events,
                "e_value": self.e_value, "e_value_ci": self.e_value_ci, "note": self.note}


@dataclass(frozen=True, eq=False)
class WeightingSummary:
    """One IPTW estimand: Kish's effective sample size and the patients per arm, the units trimmed
    (weight 0), and the weighted balance table (cobalt's SD denominators for the estimand)."""

    estimand: str
    method: str
    stabilize: bool
    trim: tuple[float, float] | None
    n: dict[str, int]
    ess: dict[str, float]
    n_trimmed: int
    balance: pd.DataFrame

    def to_dict(self) -> dict:
        return {"method": self.method, "stabilize": self.stabilize, "trim": None if self.trim is None else list(self.trim),
                "n": dict(self.n), "ess": dict(self.ess), "n_trimmed": self.n_trimmed,
                "balance": frame_records(self.balance)}


@dataclass(frozen=True, eq=False)
class CentreAnalysis:
    """The arm HR per centre (``table``: centre, n, events, hr, lcl, ucl, p, log_hr, se, weight_fixed,
    weight_random), their inverse-variance meta-analysis (``meta``: fixed and DerSimonian–Laird random
    effects, Q, I², τ²; None with fewer than two centres estimated), the centre x arm interaction
    (likelihood-ratio test) and the centres left out, with the reason."""

    column: str
    table: pd.DataFrame
    meta: MetaAnalysis | None
    interaction: dict | None
    excluded: tuple[dict, ...]

    def to_dict(self) -> dict:
        out: dict = {"column": self.column, "per_centre": frame_records(self.table.drop(columns=["log_hr"]))}
        m = self.meta
        if m is not None:
            for key, pooled in (("fixed", m.fixed), ("random", m.random)):
                out[key] = {"hr": math.exp(pooled.estimate), "lcl": math.exp(pooled.lcl), "ucl": math.exp(pooled.ucl),
                            "p": pooled.p, "log_hr": pooled.estimate, "se": pooled.se}
            out.update({"q": m.q, "df": m.df, "p_q": m.p_q, "i2": m.i2, "tau2": m.tau2,
                        "random_method": "DerSimonian-Laird"})
        out["interaction"] = self.interaction
        out["excluded"] = list(self.excluded)
        return out


@dataclass(frozen=True)
class RmstSummary:
    """Restricted mean survival time up to ``tau`` per arm, and the difference (``arms[0]`` minus
    ``arms[1]``: the plan's contrast, as the HR) with its normal CI and P."""

    tau: float
    tau_source: str
    arms: tuple[str, str]
    rmst: tuple[float, float]
    se: tuple[float, float]
    diff: float
    diff_se: float
    lcl: float
    ucl: float
    p: float

    def to_dict(self) -> dict:
        return {"tau": self.tau, "tau_source": self.tau_source,
                "arms": {a: {"rmst": r, "se": s} for a, r, s in zip(self.arms, self.rmst, self.se, strict=True)},
                "difference": {"contrast": f"{self.arms[0]} - {self.arms[1]}", "diff": self.diff, "se": self.diff_se,
                               "lcl": self.lcl, "ucl": self.ucl, "p": self.p}}


@dataclass(frozen=True, eq=False)
class EndpointSensitivity:
    """The sensitivity analyses of one endpoint: the arm HR by method (``methods``, in the order run)
    and the blocks beside them; ``to_dict()`` is what results.json holds under the endpoint
    (``sensitivity`` = the methods, then ``rmst``, ``centres``, ``design_grid``, ``weighting``,
    ``bootstrap``, ``imputation``, ``evalue``; a block not computed is absent)."""

    endpoint: str
    methods: dict[str, SensitivityEstimate]
    event_proportion: float
    outcome_common: bool
    evalue_transform: str
    landmarks: dict[str, dict] = field(default_factory=dict)
    rmst: RmstSummary | None = None
    centres: CentreAnalysis | None = None
    weighting: dict[str, WeightingSummary] = field(default_factory=dict)
    design_grid: pd.DataFrame | None = None
    bootstrap: Any = None
    imputation: Any = None
    weighted_km: dict[str, WeightedKM] = field(default_factory=dict)  # estimand -> this endpoint's weighted KM

    def to_dict(self) -> dict:
        out: dict = {"sensitivity": {k: v.to_dict() for k, v in self.methods.items()}}
        if self.rmst is not None:
            out["rmst"] = self.rmst.to_dict()
        if self.centres is not None:
            out["centres"] = self.centres.to_dict()
        if self.design_grid is not None:
            out["design_grid"] = frame_records(self.design_grid)
        if self.weighting:
            out["weighting"] = {k: v.to_dict() for k, v in self.weighting.items()}
            for k, km in self.weighted_km.items():  # weighting.<estimand>.km
                out["weighting"][k]["km"] = km.to_dict()
        if self.bootstrap is not None:
            out["bootstrap"] = _plain(self.bootstrap)
        if self.imputation is not None:
            out["imputation"] = _plain(self.imputation)
        if self.landmarks:
            out["landmarks"] = dict(self.landmarks)
        out["evalue"] = {"outcome_common": self.outcome_common, "event_proportion": self.event_proportion,
                         "threshold": COMMON_OUTCOME, "transform": self.evalue_transform}
        return out


def _plain(o):
    """A REPL result (frozen dataclass, arrays, frames) as JSON-ready Python objects."""
    if hasattr(o, "to_dict") and not isinstance(o, pd.DataFrame):
        return o.to_dict()
    if isinstance(o, pd.DataFrame):
        return frame_records(o)
    if hasattr(o, "__dataclass_fields__"):
        return {k: _plain(getattr(o, k)) for k in o.__dataclass_fields__}
    if isinstance(o, dict):
        return {str(k): _plain(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_plain(v) for v in o]
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    return o


# --- the inputs -------------------------------------------------------------------------------------


class _Skip(Exception):
    """A method that cannot be estimated here; the message says why."""


@dataclass(frozen=True)
class _Context:
    cfg: AnalysisConfig
    spec: SensitivitySpec
    data: pd.DataFrame            # analysed rows (+ .hcc_ columns)
    labels: dict
    other: np.ndarray             # 1.0 for the arm whose HR is reported, 0.0 for the reference arm
    term: str
    ps: np.ndarray | None         # propensity score (response scale), None without matching
    adjust: list[str]             # the PS covariates (the covariates without a matching block)
    categorical: list[str]
    centre: np.ndarray | None     # centre codes (-1: missing), None when not configured
    centre_names: list[str]
    exposure: np.ndarray | None   # exposure start (NaN: not started), None when not configured
    original: pd.DataFrame | None
    excluded: pd.DataFrame | None
    cache: dict = field(default_factory=dict)  # what every endpoint shares: the weights and their balance


@dataclass(frozen=True)
class _Endpoint:
    spec: EndpointSpec
    time: np.ndarray
    event: np.ndarray   # bool


def check_columns(cfg: AnalysisConfig, df: pd.DataFrame) -> None:
    """The columns ``sensitivity`` names exist (a :class:`ConfigError` naming the key otherwise)."""
    s = cfg.sensitivity
    if s is None:
        return
    for key, col in (("sensitivity.exposure_start", s.exposure_start), ("sensitivity.centre", s.centre)):
        if col is not None and col not in df.columns:
            raise ConfigError(f"{key}: unknown column {col!r} (the table has {len(df.columns)} columns)")
    if s.exposure_start is not None:
        x = pd.to_numeric(df[s.exposure_start], errors="coerce")
        if (x.isna() & df[s.exposure_start].notna()).any():
            raise ConfigError(f"sensitivity.exposure_start: column {s.exposure_start!r} is not numeric")


# --- Cox fits ---------------------------------------------------------------------------------------


def _fit(cfg: AnalysisConfig, time, event, X, names, **kw) -> tuple[CoxFit, list[str]]:
    """coxph with the plan's ties; warnings are returned as notes, a fit that fails is a :class:`_Skip`."""
    kw = {k: v for k, v in kw.items() if v is not None}
    if len(np.asarray(event)) == 0:
        raise _Skip("no patients")
    if not np.asarray(event).astype(bool).any():
        raise _Skip("no events")
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    if np.ptp(X[:, 0]) == 0:
        raise _Skip("only one treatment group")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = coxph(np.asarray(time, dtype=float), np.asarray(event).astype(bool), X, names, ties=cfg.cox.ties, **kw)
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise _Skip(f"the Cox model cannot be fitted: {exc}") from exc
    return fit, [str(w.message) for w in caught]


def _varying(X: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str]]:
    """Drop constant columns after the first (R: NA coefficients)."""
    keep = [0, *[j for j in range(1, X.shape[1]) if np.ptp(X[:, j]) > 0]]
    return X[:, keep], [names[j] for j in keep]


def _estimate(ctx: _Context, method: str, fit: CoxFit, n: int, events: int, note: str, notes: list[str],
              ev: EValueFn) -> SensitivityEstimate:
    row = fit.table.iloc[0]
    if fit.infinite and fit.infinite[0]:
        notes = [*notes, "the treatment coefficient may be infinite (monotone likelihood)"]
    return _result(method, float(row["hr"]), float(row["lcl"]), float(row["ucl"]), float(row["p"]), n, events,
                   "; ".join([note, *notes]), ev)


#: an endpoint's E-value function: (hr, lcl, ucl) -> (E-value, E-value of the CI limit closer to 1)
EValueFn = Callable[[float, float, float], tuple[float | None, float | None]]


def _result(method, hr, lcl, ucl, p, n, events, note, ev) -> SensitivityEstimate:
    e, e_ci = ev(hr, lcl, ucl)
    return SensitivityEstimate(method, hr, lcl, ucl, p, int(n), int(events), e, e_ci, note)


# --- the analyses -----------------------------------------------------------------------------------


def sensitivity_analyses(cfg: AnalysisConfig, data: pd.DataFrame, labels: dict, propensity: LogisticFit | None,
                         skipped: list[dict], *, original: pd.DataFrame | None = None,
                         excluded: pd.DataFrame | None = None) -> dict[str, EndpointSensitivity]:
    """Every sensitivity analysis of ``cfg.sensitivity`` for each endpoint it names (module docstring).
    ``data``: the analysed rows with ``analyze``'s ``.hcc_`` columns; ``propensity``: the PS fit (None
    without a matching block); ``original``: the table before rows were excluded for missing values
    (multiple imputation brings them back); what cannot be estimated is appended to ``skipped``."""
    spec = cfg.sensitivity
    if spec is None or not cfg.endpoints:
        return {}
    from .survival import arm_term

    term, _, _ = arm_term(cfg, labels)
    treated = data[TREATED].to_numpy()
    other = (treated if cfg.cox.arm_reference == "control" else ~treated).astype(float)
    adjust = list(cfg.matching.on) if cfg.matching else [c for c in cfg.covariates]
    centre = names = None
    if spec.centre is not None:
        codes, uniques = pd.factorize(data[spec.centre], sort=True)
        centre, names = codes, [str(u) for u in uniques]
    exposure = None if spec.exposure_start is None else pd.to_numeric(data[spec.exposure_start]).to_numpy(dtype=float)
    ctx = _Context(cfg, spec, data, labels, other, term, None if propensity is None else np.asarray(propensity.fitted),
                   adjust, [c for c in cfg.categorical if c in adjust], centre, names or [], exposure, original, excluded)
    out = {}
    # one pool for every endpoint's replicate analyses (an enclosing pool, e.g. the CLI's, is reused)
    with replicate_pool(spec.scheduler, spec.workers):
        eps = [ep for ep in cfg.endpoints if spec.endpoints is None or ep.name in spec.endpoints]
        ctx.cache["replicates"] = _replicate_runs(ctx, eps)  # once for every endpoint (shared chains)
        for ep in eps:
            e = _Endpoint(ep, pd.to_numeric(data[ep.time]).to_numpy(dtype=float),
                          (data[ep.event] == ep.event_value).to_numpy())
            out[ep.name] = _endpoint(ctx, e, skipped)
    return out


def _endpoint(ctx: _Context, ep: _Endpoint, skipped: list[dict]) -> EndpointSensitivity:
    spec = ctx.spec
    where = f"endpoint {ep.spec.name} sensitivity"
    # the outcome's cumulative incidence at the end of follow-up (1 - KM survival at the last time)
    proportion = float(1 - kaplan_meier(ep.time, ep.event).table["surv"].iloc[-1]) if len(ep.time) else float("nan")
    common = outcome_is_common(ep.time, ep.event) if len(ep.time) else False
    transform = COMMON_TRANSFORM if common else RARE_TRANSFORM

    def ev(hr, lcl, ucl) -> tuple[float | None, float | None]:
        """E-values of an HR and its CI (none for an HR or limit that is not a finite positive number)."""
        if not all(np.isfinite([hr, lcl, ucl])) or hr <= 0 or lcl <= 0:
            return None, None
        e = evalue_hr(hr, lcl, ucl, common)
        return float(e.point), float(e.ci)

    methods: dict[str, SensitivityEstimate] = {}
    blocks: dict[str, Any] = {"landmarks": {}, "weighting": {}, "weighted_km": {}}

    def run(method: str, fn) -> None:
        if not spec.wants(method):
            return
        try:
            res = fn()
        except _Skip as why:
            skipped.append({"part": f"{where}: {method}", "reason": str(why)})
            return
        if isinstance(res, dict):  # several methods (landmarks)
            methods.update(res)
        elif res is not None:
            methods[method] = res

    run("unadjusted", lambda: _unadjusted(ctx, ep, ev))
    run("multivariable", lambda: _multivariable(ctx, ep, ev))
    run("psm_robust", lambda: _matched(ctx, ep, ev, "psm_robust"))
    run("psm_stratified", lambda: _matched(ctx, ep, ev, "psm_stratified"))
    run("psm_centre_ps", lambda: _centre_ps(ctx, ep, ev))
    for est in spec.weighting.estimands:
        run(ESTIMAND_METHOD[est], lambda est=est: _iptw(ctx, ep, ev, est, blocks["weighting"], blocks["weighted_km"]))
    run("doubly_robust", lambda: _doubly_robust(ctx, ep, ev))
    if spec.wants("landmark"):
        _landmarks(ctx, ep, ev, methods, blocks["landmarks"], skipped, where)
    run("time_dependent", lambda: _time_dependent(ctx, ep, ev))
    run("centre_stratified", lambda: _centre_stratified(ctx, ep, ev))
    _replicates(ctx, ep, ev, methods, blocks, skipped, where)
    if spec.wants("rmst"):
        try:
            blocks["rmst"] = _rmst(ctx, ep)
        except _Skip as why:
            skipped.append({"part": f"{where}: rmst", "reason": str(why)})
    if spec.wants("centres"):
        try:
            blocks["centres"] = _centres(ctx, ep, skipped, where)
        except _Skip as why:
            skipped.append({"part": f"{where}: centres", "reason": str(why)})
    return EndpointSensitivity(ep.spec.name, methods, proportion, common, transform, blocks["landmarks"],
                               blocks.get("rmst"), blocks.get("centres"), blocks["weighting"], blocks.get("design_grid"),
                               blocks.get("bootstrap"), blocks.get("imputation"), blocks["weighted_km"])


def _counts(ep: _Endpoint, keep: np.ndarray | None = None) -> tuple[int, int]:
    if keep is None:
        return len(ep.time), int(ep.event.sum())
    return int(keep.sum()), int(ep.event[keep].sum())


def _unadjusted(ctx: _Context, ep: _Endpoint, ev) -> SensitivityEstimate:
    fit, notes = _fit(ctx.cfg, ep.time, ep.event, ctx.other, [ctx.term])
    return _estimate(ctx, "unadjusted", fit, *_counts(ep), "Cox of the treatment group, all analysed patients", notes, ev)


def _covariates(ctx: _Context, rows: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    d = ctx.data if rows is None else ctx.data.iloc[rows]
    X, names, _ = design_matrix(d, ctx.adjust, ctx.categorical, intercept=False)
    return X, names


def _multivariable(ctx: _Context, ep: _Endpoint, ev) -> SensitivityEstimate:
    Z, names = _covariates(ctx)
    X, names = _varying(np.column_stack([ctx.other, Z]), [ctx.term, *names])
    fit, notes = _fit(ctx.cfg, ep.time, ep.event, X, names)
    return _estimate(ctx, "multivariable", fit, *_counts(ep),
                     f"Cox of the treatment group adjusted for {', '.join(ctx.adjust)}, all analysed patients", notes, ev)


def _need_ps(ctx: _Context) -> None:
    if ctx.ps is None:
        raise _Skip("no propensity score: the plan has no matching block")


def _matched(ctx: _Context, ep: _Endpoint, ev, method: str) -> SensitivityEstimate:
    _need_ps(ctx)
    w = ctx.data[WEIGHT].to_numpy()
    return _matched_fit(ctx, ep, ev, method, w, ctx.data[PAIR].to_numpy(), "")


def _matched_fit(ctx: _Context, ep: _Endpoint, ev, method: str, w: np.ndarray, pair: np.ndarray,
                 prefix: str) -> SensitivityEstimate:
    keep = w > 0
    uniform = bool(np.allclose(w[keep], 1.0, rtol=1e-12, atol=0)) and not pd.isna(pair[keep]).any()
    t, e, x = ep.time[keep], ep.event[keep], ctx.other[keep]
    if uniform:
        p = pd.to_numeric(pd.Series(pair[keep])).to_numpy(dtype=np.int64)
        if method == "psm_stratified":
            fit, notes = _fit(ctx.cfg, t, e, x, [ctx.term], strata=p)
            note = "matched sample, Cox stratified on the matched set (conditional HR)"
        else:
            fit, notes = _fit(ctx.cfg, t, e, x, [ctx.term], cluster=p)
            note = "matched sample, robust SE clustered on the matched set (marginal HR)"
    elif method == "psm_stratified":
        raise _Skip("the matched sets are not complete 1:1 or 1:k sets without replacement: pair strata are not defined")
    else:
        fit, notes = _fit(ctx.cfg, t, e, x, [ctx.term], weights=w[keep], robust=True)
        note = "matched sample with MatchIt's matching weights, robust sandwich SE"
    return _estimate(ctx, method, fit, *_counts(ep, keep), prefix + note, notes, ev)


def _centre_ps(ctx: _Context, ep: _Endpoint, ev) -> SensitivityEstimate:
    _need_ps(ctx)
    if ctx.centre is None:
        raise _Skip("no centre column (sensitivity.centre is null)")
    if (ctx.centre < 0).any():
        raise _Skip(f"{int((ctx.centre < 0).sum())} patient(s) have no centre")
    if len(ctx.centre_names) < 2:
        raise _Skip("a single centre: the centre cannot enter the propensity score")
    m = ctx.cfg.matching
    col = ctx.spec.centre
    on = [*m.on, col] if col not in m.on else list(m.on)
    cat = [*[c for c in ctx.cfg.categorical if c in m.on], col]
    X, names, _ = design_matrix(ctx.data.assign(**{col: ctx.data[col].astype(str)}), on, cat)
    treated = ctx.data[TREATED].to_numpy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ps = logistic_irls(X, treated.astype(float), names)
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise _Skip(f"the propensity score with the centre cannot be estimated: {exc}") from exc
    if not np.isfinite(ps.fitted).all():
        raise _Skip("the propensity score with the centre diverged")
    distance = ps.distance(m.link)
    try:
        match = match_by_spec(distance, treated, m)
    except ValueError as exc:
        raise _Skip(f"matching on the propensity score with the centre failed: {exc}") from exc
    if match.n_pairs == 0:
        raise _Skip("no pair was matched on the propensity score with the centre")
    notes = "; ".join(str(w.message) for w in caught)
    prefix = (f"propensity score refitted with {col} as a fixed effect ({match.n_pairs} pairs with the plan's "
              f"matching); " + (f"{notes}; " if notes else ""))
    return _matched_fit(ctx, ep, ev, "psm_centre_ps", match.weights, match.units["pair"].to_numpy(), prefix)


def _weights(ctx: _Context, estimand: str) -> Weights:
    """The estimand's weights (computed once for every endpoint)."""
    key = ("weights", estimand)
    if key not in ctx.cache:
        ctx.cache[key] = _compute_weights(ctx, estimand)
    return ctx.cache[key]


def _compute_weights(ctx: _Context, estimand: str) -> Weights:
    _need_ps(ctx)
    w = ctx.spec.weighting
    try:
        return iptw(ctx.ps, ctx.data[TREATED].to_numpy(), estimand, w.stabilize,
                                 None if w.trim is None else tuple(w.trim))
    except ValueError as exc:
        raise _Skip(f"{estimand} weights: {exc}") from exc


def _iptw(ctx: _Context, ep: _Endpoint, ev, estimand: str, summaries: dict, curves: dict) -> SensitivityEstimate:
    wt = _weights(ctx, estimand)
    if estimand not in summaries:
        key = ("balance", estimand)
        if key not in ctx.cache:
            ctx.cache[key] = _weighting_summary(ctx, wt)
        summaries[estimand] = ctx.cache[key]
    km = ctx.cfg.km
    curves[estimand] = weighted_km(ep.time, ep.event, ctx.data[TREATED].to_numpy(), wt.w, ctx.labels, estimand,
                                   ep.spec.landmarks, km.conf_level, km.conf_type)
    keep = wt.w > 0
    fit, notes = _fit(ctx.cfg, ep.time[keep], ep.event[keep], ctx.other[keep], [ctx.term], weights=wt.w[keep], robust=True)
    s = ctx.spec.weighting
    how = ("stabilised " if s.stabilize else "") + f"{estimand} weights" + (
        f", PS trimmed at the {s.trim[0]:g}/{s.trim[1]:g} quantiles ({wt.n_trimmed} excluded)" if s.trim else "")
    return _estimate(ctx, ESTIMAND_METHOD[estimand], fit, *_counts(ep, keep),
                     f"weighted Cox ({how}), robust sandwich SE", notes, ev)


def _weighting_summary(ctx: _Context, wt) -> WeightingSummary:
    from ..stats.balance import balance_terms, weighted_balance

    t = ctx.data[TREATED].to_numpy()
    cfg = ctx.cfg
    terms = balance_terms(ctx.data, cfg.matching.on, [c for c in cfg.categorical if c in cfg.matching.on])
    bal = weighted_balance(terms, t, wt.w, wt.estimand, distance=ctx.ps)
    lab = ctx.labels
    return WeightingSummary(wt.estimand, ESTIMAND_METHOD[wt.estimand], wt.stabilized,
                            None if ctx.spec.weighting.trim is None else tuple(ctx.spec.weighting.trim),
                            {lab["treated"]: int((t & (wt.w > 0)).sum()), lab["control"]: int((~t & (wt.w > 0)).sum())},
                            {lab["treated"]: float(wt.ess_treated), lab["control"]: float(wt.ess_control)},
                            int(wt.n_trimmed), bal)


def _doubly_robust(ctx: _Context, ep: _Endpoint, ev) -> SensitivityEstimate:
    wt = _weights(ctx, "ATE")
    keep = wt.w > 0
    Z, names = _covariates(ctx, np.flatnonzero(keep))
    X, names = _varying(np.column_stack([ctx.other[keep], Z]), [ctx.term, *names])
    fit, notes = _fit(ctx.cfg, ep.time[keep], ep.event[keep], X, names, weights=wt.w[keep], robust=True)
    return _estimate(ctx, "doubly_robust", fit, *_counts(ep, keep),
                     f"ATE-weighted Cox adjusted for {', '.join(ctx.adjust)}, robust sandwich SE", notes, ev)


def landmark_times(spec: SensitivitySpec, exposure: np.ndarray, treated: np.ndarray,
                   arm: str = "the treated group") -> list[tuple[float, str]]:
    """The landmarks as (time, how it was chosen); a percentile ``"p95"`` is that quantile (type 7, R's
    default) of the treated arm's exposure start, rounded up to one decimal, so that at least that
    share of the arm has started by the landmark."""
    out = []
    for lm in spec.landmarks:
        if isinstance(lm, str):
            q = float(lm[1:])
            x = exposure[treated & np.isfinite(exposure)]
            if len(x) == 0:
                raise _Skip(f"landmark {lm}: no patient of the treated group has an exposure start")
            value = float(np.quantile(x, q / 100))
            t = math.ceil(round(value * 10, 9)) / 10
            out.append((t, f"{q:g}th percentile of {spec.exposure_start} in {arm} ({value:.3f}), rounded up to {t:g}"))
        else:
            out.append((float(lm), "configured"))
    return out


def _landmarks(ctx: _Context, ep: _Endpoint, ev, methods: dict, info: dict, skipped: list[dict], where: str) -> None:
    if ctx.exposure is None:
        skipped.append({"part": f"{where}: landmark", "reason": "no exposure start column (sensitivity.exposure_start is null)"})
        return
    try:
        times = landmark_times(ctx.spec, ctx.exposure, ctx.data[TREATED].to_numpy(), ctx.labels["treated"])
    except _Skip as why:
        skipped.append({"part": f"{where}: landmark", "reason": str(why)})
        return
    for t, how in times:
        name = f"landmark_{t:g}"
        if name in methods:
            continue
        alive = landmark(ep.time, ep.event, t)[0]
        started = ctx.exposure <= t  # NaN: not started
        keep = alive & started
        info[name] = {"time": t, "chosen": how, "at_risk": int(alive.sum()), "not_started": int((alive & ~started).sum()),
                      "analysed": int(keep.sum())}
        try:
            fit, notes = _fit(ctx.cfg, ep.time[keep] - t, ep.event[keep], ctx.other[keep], [ctx.term])
        except _Skip as why:
            skipped.append({"part": f"{where}: {name}", "reason": f"at the landmark {t:g}: {why}"})
            continue
        note = (f"alive and event-free at {t:g} {ep.spec.unit} with the treatment started by then ({int((alive & ~started).sum())} "
                f"not yet started excluded); time from the landmark")
        methods[name] = _estimate(ctx, name, fit, *_counts(ep, keep), note, notes, ev)


def _time_dependent(ctx: _Context, ep: _Endpoint, ev) -> SensitivityEstimate:
    if ctx.exposure is None:
        raise _Skip("no exposure start column (sensitivity.exposure_start is null)")
    ok = ep.time > 0
    note0 = f"{int((~ok).sum())} patient(s) with zero follow-up left out; " if not ok.all() else ""
    rows = np.flatnonzero(ok)
    cd = split_at(ep.time[rows], ep.event[rows], ctx.exposure[rows])
    patient = rows[cd.row]
    arm_a = ctx.other[patient] == 1
    exposed = cd.exposed.astype(bool)
    a, b = ctx.labels["treated"], ctx.labels["control"]
    if ctx.cfg.cox.arm_reference == "treated":
        a, b = b, a
    n, events = len(rows), int(ep.event[rows].sum())
    if not (exposed & arm_a).any() or not (exposed & ~arm_a).any():
        raise _Skip("a treatment group has no exposed follow-up")
    if not events:
        raise _Skip("no events")
    if not cd.event[~exposed].any():
        # no event in the pre-exposure state: its hazard is 0 and both exposed coefficients diverge
        # together (monotone likelihood); the limit of the model, and what it estimates, is the arm
        # contrast among patients entering the risk set when their exposure starts (late entry)
        keep = exposed
        x = ctx.other[patient[keep]]
        if np.ptp(x) == 0:
            raise _Skip("a treatment group has no exposed follow-up")
        fit, notes = _fit(ctx.cfg, cd.tstop[keep], cd.event[keep], x, [ctx.term], start=cd.tstart[keep],
                          cluster=patient[keep])
        note = (f"{note0}(start, stop] Cox from {ctx.spec.exposure_start}: no event occurred before the exposure started, "
                "so the pre-exposure state drops out (its coefficients would diverge) and each patient enters the "
                "risk set at their exposure start (late entry); robust SE clustered on the patient")
        return _estimate(ctx, "time_dependent", fit, n, events, note, notes, ev)
    X = np.column_stack([exposed & arm_a, exposed & ~arm_a]).astype(float)
    if np.ptp(X[:, 0]) == 0 or np.ptp(X[:, 1]) == 0:
        raise _Skip("a treatment group has no exposed follow-up")
    fit, notes = _fit(ctx.cfg, cd.tstop, cd.event, X, [f"exposed_{a}", f"exposed_{b}"], start=cd.tstart, cluster=patient)
    V = fit.robust_var if fit.robust_var is not None else fit.var
    diff = float(fit.coefficients[0] - fit.coefficients[1])
    se = float(math.sqrt(V[0, 0] + V[1, 1] - 2 * V[0, 1]))
    from scipy.stats import norm

    z = norm.ppf(1 - (1 - fit.conf_level) / 2)
    p = float(2 * norm.sf(abs(diff / se))) if se > 0 else float("nan")
    note = (f"{note0}(start, stop] Cox: pre-exposure from the origin until {ctx.spec.exposure_start}, then the treatment group; "
            f"HR = exp(b_{a} - b_{b}) of the two exposed states, robust SE clustered on the patient "
            f"({len(cd)} intervals, {int(cd.event[~exposed].sum())} events before exposure)")
    if any(fit.infinite):
        notes = [*notes, "a coefficient may be infinite (monotone likelihood)"]
    return _result("time_dependent", math.exp(diff), math.exp(diff - z * se), math.exp(diff + z * se), p, n, events,
                   "; ".join([note, *notes]), ev)


def _need_centre(ctx: _Context) -> tuple[np.ndarray, np.ndarray]:
    if ctx.centre is None:
        raise _Skip("no centre column (sensitivity.centre is null)")
    keep = ctx.centre >= 0
    if len(np.unique(ctx.centre[keep])) < 2:
        raise _Skip("a single centre")
    return keep, ctx.centre


def _centre_stratified(ctx: _Context, ep: _Endpoint, ev) -> SensitivityEstimate:
    keep, centre = _need_centre(ctx)
    fit, notes = _fit(ctx.cfg, ep.time[keep], ep.event[keep], ctx.other[keep], [ctx.term], strata=centre[keep])
    missing = int((~keep).sum())
    note = f"Cox of the treatment group stratified on {ctx.spec.centre}, all analysed patients" + (
        f" ({missing} without a centre left out)" if missing else "")
    return _estimate(ctx, "centre_stratified", fit, *_counts(ep, keep), note, notes, ev)


def _centres(ctx: _Context, ep: _Endpoint, skipped: list[dict], where: str) -> CentreAnalysis:
    keep, centre = _need_centre(ctx)
    rows, excluded = [], []
    for k, name in enumerate(ctx.centre_names):
        m = keep & (centre == k)
        try:
            fit, _ = _fit(ctx.cfg, ep.time[m], ep.event[m], ctx.other[m], [ctx.term])
        except _Skip as why:
            excluded.append({"centre": name, "reason": str(why)})
            skipped.append({"part": f"{where}: centre {name}", "reason": str(why)})
            continue
        if fit.infinite and fit.infinite[0]:
            why = "infinite HR (no events in one treatment group)"
            excluded.append({"centre": name, "reason": why})
            skipped.append({"part": f"{where}: centre {name}", "reason": why})
            continue
        r = fit.table.iloc[0]
        rows.append({"centre": name, "n": int(m.sum()), "events": int(ep.event[m].sum()), "hr": float(r["hr"]),
                     "lcl": float(r["lcl"]), "ucl": float(r["ucl"]), "p": float(r["p"]),
                     "log_hr": float(r["coef"]), "se": float(r["se"])})
    table = pd.DataFrame(rows, columns=["centre", "n", "events", "hr", "lcl", "ucl", "p", "log_hr", "se"])
    meta = None
    if len(table) >= 2:
        meta = pooled = meta_analysis(table["log_hr"].to_numpy(), table["se"].to_numpy(), table["centre"].tolist())
        table["weight_fixed"] = np.asarray(pooled.fixed.weights, dtype=float)
        table["weight_random"] = np.asarray(pooled.random.weights, dtype=float)
    else:
        skipped.append({"part": f"{where}: centres meta-analysis", "reason": f"{len(table)} centre(s) with an estimable HR"})
    interaction = _interaction(ctx, ep, keep, centre, skipped, where)
    return CentreAnalysis(ctx.spec.centre, table, meta, interaction, tuple(excluded))


def _interaction(ctx: _Context, ep: _Endpoint, keep: np.ndarray, centre: np.ndarray, skipped: list[dict],
                 where: str) -> dict | None:
    """Centre x arm interaction: likelihood-ratio test of Cox(arm + centre) against Cox(arm * centre),
    on the centres where both arms are present (R: ``anova(coxph(~ arm + centre), coxph(~ arm * centre))``)."""
    both = [k for k in range(len(ctx.centre_names))
            if len(np.unique(ctx.other[keep & (centre == k)])) == 2]
    if len(both) < 2:
        skipped.append({"part": f"{where}: centre x treatment interaction", "reason": "fewer than two centres with both treatment groups"})
        return None
    m = keep & np.isin(centre, both)
    c = centre[m]
    dummies = np.column_stack([(c == k).astype(float) for k in both[1:]])
    x = ctx.other[m]
    try:
        f0, _ = _fit(ctx.cfg, ep.time[m], ep.event[m], np.column_stack([x, dummies]), None)
        f1, notes = _fit(ctx.cfg, ep.time[m], ep.event[m], np.column_stack([x, dummies, dummies * x[:, None]]), None)
    except _Skip as why:
        skipped.append({"part": f"{where}: centre x treatment interaction", "reason": str(why)})
        return None
    from scipy.stats import chi2

    stat = 2 * (f1.loglik[1] - f0.loglik[1])
    df = len(both) - 1
    return {"test": "likelihood ratio: Cox treatment + centre vs treatment x centre", "chisq": float(stat), "df": df,
            "p": float(chi2.sf(stat, df)), "centres": [ctx.centre_names[k] for k in both],
            "notes": notes}


def _rmst(ctx: _Context, ep: _Endpoint) -> RmstSummary:
    g = ctx.other == 1
    if g.all() or not g.any():
        raise _Skip("only one treatment group")
    tau = ctx.spec.rmst_tau
    source = "configured (sensitivity.rmst_tau)"
    if tau is None:
        tau = default_tau(ep.time, g)
        source = "the smaller of the groups' last follow-up times"
    r = rmst_difference(ep.time, ep.event, g, tau)
    a, b = ctx.labels["treated"], ctx.labels["control"]
    if ctx.cfg.cox.arm_reference == "treated":
        a, b = b, a
    return RmstSummary(float(r.tau), source, (a, b), (float(r.rmst_1), float(r.rmst_0)), (float(r.se_1), float(r.se_0)),
                       float(r.diff), float(r.se), float(r.lcl), float(r.ucl), float(r.p))


def _replicate_runs(ctx: _Context, eps: list[EndpointSpec]) -> dict[str, dict]:
    """The replicate analyses of hccstudy.analysis.resampling (bootstrap, multiple imputation, design
    grid), each run once for all the endpoints ``eps`` (one resampling and matching per replicate gives
    every endpoint's HR): ``{method: {endpoint: result}}``; empty without a propensity score."""
    spec = ctx.spec
    wanted = [m for m in ("bootstrap_psm", "mi_psm", "design_grid") if spec.wants(m)]
    if not wanted or ctx.ps is None or not eps:
        return {}
    from . import resampling as mod  # Dask is imported only when replicates run
    kw = {"scheduler": spec.scheduler, "workers": spec.workers}
    prepared = (ctx.data, ctx.excluded, ctx.labels)
    out: dict[str, dict] = {}
    if "bootstrap_psm" in wanted:
        out["bootstrap_psm"] = mod.bootstrap_psm(prepared, ctx.cfg, eps, spec, **kw)
    if "mi_psm" in wanted:
        # the user's table with the rows excluded for missing values: imputation brings them back
        source = prepared if ctx.original is None else (ctx.original, ctx.excluded, ctx.labels)
        out["mi_psm"] = mod.mi_psm(source, ctx.cfg, eps, spec, **kw)
    if "design_grid" in wanted:
        out["design_grid"] = mod.design_grid(prepared, ctx.cfg, eps, spec, **kw)
    return out


def _replicates(ctx: _Context, ep: _Endpoint, ev, methods: dict, blocks: dict, skipped: list[dict], where: str) -> None:
    """One endpoint's share of the replicate analyses (:func:`_replicate_runs`)."""
    spec = ctx.spec
    wanted = [m for m in ("bootstrap_psm", "mi_psm", "design_grid") if spec.wants(m)]
    if not wanted:
        return
    if ctx.ps is None:
        for m in wanted:
            skipped.append({"part": f"{where}: {m}", "reason": "no propensity score: the plan has no matching block"})
        return
    runs = ctx.cache["replicates"]
    name = ep.spec.name

    def method(key: str, row: dict) -> None:
        if not np.isfinite(row.get("hr", np.nan)):
            skipped.append({"part": f"{where}: {key}", "reason": row.get("note") or "not estimable"})
            return
        p = row.get("p")
        methods[key] = _result(key, float(row["hr"]), float(row["lcl"]), float(row["ucl"]),
                               float("nan") if p is None else float(p), row["n"], row["events"], row.get("note", ""), ev)

    if "bootstrap_psm" in wanted:
        b = runs["bootstrap_psm"][name]
        blocks["bootstrap"] = b
        method("bootstrap_psm", b.method())
    if "mi_psm" in wanted:
        mi = runs["mi_psm"][name]
        blocks["imputation"] = mi
        method("mi_psm", mi.pooled)
    if "design_grid" in wanted:
        blocks["design_grid"] = runs["design_grid"][name]


def sensitivity_table(results: dict[str, EndpointSensitivity]) -> pd.DataFrame:
    """One row per endpoint and method: endpoint, method, label, hr, lcl, ucl, p, n, events, e_value,
    e_value_ci, note (the report's summary table and forest plot)."""
    rows = [{"endpoint": name, "method": m, "label": method_label(m), **est.to_dict()}
            for name, s in results.items() for m, est in s.methods.items()]
    return pd.DataFrame(rows, columns=["endpoint", "method", "label", "hr", "lcl", "ucl", "p", "n", "events", "e_value",
                                       "e_value_ci", "note"])


__all__ = ["COMMON_OUTCOME", "METHOD_LABELS", "CentreAnalysis", "EndpointSensitivity", "RmstSummary",
           "SensitivityEstimate", "WeightedKM", "WeightingSummary", "check_columns", "landmark_times", "method_label",
           "sensitivity_analyses", "sensitivity_table"]
