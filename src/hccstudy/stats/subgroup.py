"""Cox model building blocks for reports: a model from a data frame with R's term names, univariable
then multivariable selection, and subgroup hazard ratios with interaction tests.

* :func:`fit_cox`: design matrix as R ``model.matrix`` (factors: first sorted level is the reference;
  logicals as ``<var>TRUE``); columns constant in the data are dropped and reported (R gives NA).
* :func:`univariable_then_multivariable`: each variable alone; those whose univariable likelihood-ratio
  P is below ``select_p`` enter the multivariable model (one P per variable, so a factor enters or not
  as a whole; for a one-coefficient variable the LR and Wald P agree closely).
* :func:`subgroup_analysis`: within each level of each subgroup variable, the arm HR (n per arm,
  events); P for interaction: the Wald P of arm x subgroup when the subgroup has two levels, else the LR
  test of the model with the interaction against the one without (as jstable::TableSubgroupCox).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import chi2

from .cox import CoxFit, RiskSets, coxph
from .cox import risk_sets as make_risk_sets
from .propensity import design_matrix


@dataclass(frozen=True)
class CoxModel:
    fit: CoxFit | None
    terms: dict[str, list[str]]   # variable -> its column names
    dropped: list[str]            # constant columns dropped (R: NA coefficients)
    warnings: list[str]


def fit_cox(data: pd.DataFrame, time: str, event: str, variables: list[str], categorical=(), *, strata=None,
            cluster=None, ties: str = "efron", risk_sets: RiskSets | None = None) -> CoxModel:
    """A Cox model of ``variables`` (R's terms).  ``risk_sets``: the :func:`~hccstudy.stats.cox.risk_sets`
    of this data's time, event and strata (and ``ties``), shared by fits on the same sample."""
    X, names, terms = design_matrix(data, variables, categorical, intercept=False)
    spread = np.ptp(X, axis=0) if X.shape[0] else np.zeros(X.shape[1])  # one pass, not one per column
    const = [n for j, n in enumerate(names) if spread[j] == 0]
    keep = [j for j, n in enumerate(names) if n not in const]
    X = X[:, keep]
    names = [names[j] for j in keep]
    terms = {v: [c for c in cols if c not in const] for v, cols in terms.items()}
    if X.shape[1] == 0 or data[event].sum() == 0:
        return CoxModel(None, terms, const, ["no events or no varying covariate: model not fitted"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = coxph(data[time].to_numpy(dtype=float), data[event].to_numpy().astype(bool), X, names,
                    strata=None if strata is None else data[strata].to_numpy(),
                    cluster=None if cluster is None else data[cluster].to_numpy(), ties=ties, risk_sets=risk_sets)
    return CoxModel(fit, terms, const, [str(w.message) for w in caught])


def term_rows(model: CoxModel, variable_of: dict[str, str] | None = None) -> list[dict]:
    """One dict per coefficient: variable, term, hr, lcl, ucl, p, infinite."""
    if model.fit is None:
        return []
    tb = model.fit.table
    var_of = {c: v for v, cols in model.terms.items() for c in cols}
    rows = []
    for k, r in enumerate(tb.itertuples(index=False)):
        rows.append({"variable": var_of.get(r.term, r.term), "term": r.term, "coef": r.coef, "hr": r.hr,
                     "se": getattr(r, "robust_se", r.se), "lcl": r.lcl, "ucl": r.ucl, "p": r.p,
                     "infinite": bool(model.fit.infinite[k]) if model.fit.infinite else False})
    return rows


def univariable_then_multivariable(data: pd.DataFrame, time: str, event: str, variables: list[str],
                                   categorical=(), select_p: float = 0.05, *, risk_sets: RiskSets | None = None,
                                   ties: str = "efron") -> tuple[list[dict], list[dict], list[str]]:
    """(univariable rows with the selection P, multivariable rows, selected variables).  Every fit uses
    the ``ties`` method (coxph's ``ties``) and they share one sort of the sample (``risk_sets``; built
    here when not given or made for another sample or tie method)."""
    uni, multi, selected, _ = univariable_then_multivariable_models(data, time, event, variables, categorical,
                                                                    select_p, risk_sets=risk_sets, ties=ties)
    return uni, multi, selected


def univariable_then_multivariable_models(data: pd.DataFrame, time: str, event: str, variables: list[str],
                                          categorical=(), select_p: float = 0.05, *,
                                          risk_sets: RiskSets | None = None, ties: str = "efron"
                                          ) -> tuple[list[dict], list[dict], list[str], CoxModel | None]:
    """:func:`univariable_then_multivariable` and the multivariable :class:`CoxModel` itself (None when no
    variable was selected), so a caller that needs the model does not fit it again."""
    uni, selected = [], []
    if risk_sets is None or risk_sets.ties != ties or risk_sets.n != len(data):
        risk_sets = make_risk_sets(data[time].to_numpy(dtype=float), data[event].to_numpy().astype(bool), ties=ties)
    for v in variables:
        m = fit_cox(data, time, event, [v], categorical, ties=ties, risk_sets=risk_sets)
        rows = term_rows(m)
        if m.fit is not None:
            lr, df, p_lr = m.fit.lr_test
            for r in rows:
                r["p_variable"] = p_lr
                r["n"] = m.fit.n
                r["events"] = m.fit.n_events
            if p_lr < select_p:
                selected.append(v)
        uni += rows
    model = fit_cox(data, time, event, selected, categorical, ties=ties, risk_sets=risk_sets) if selected else None
    return uni, [] if model is None else term_rows(model), selected, model


def subgroup_levels(data: pd.DataFrame, spec) -> tuple[str, pd.Series]:
    """(variable name, level label per row) for a subgroup spec: a column name or {variable, cut}."""
    if isinstance(spec, str):
        s = data[spec]
        # str() of each distinct value, taken by code (no per-row Python call)
        codes, uniques = pd.factorize(s.astype(object).where(s.notna(), None), use_na_sentinel=True)
        labels = np.array([str(u) for u in uniques] + [None], dtype=object)
        return spec, pd.Series(labels[codes], index=data.index, dtype=object)
    var, cut = spec["variable"], spec["cut"]
    x = pd.to_numeric(data[var], errors="coerce")
    lab = np.where(x.isna(), None, np.where(x < cut, f"< {cut:g}", f">= {cut:g}"))
    return var, pd.Series(lab, index=data.index, dtype=object)


def _unused(columns, base: str) -> str:
    """A column name not in ``columns`` (the table's own columns are never overwritten)."""
    name = base
    while name in columns:
        name = "_" + name
    return name


def subgroup_analysis(data: pd.DataFrame, time: str, event: str, arm_indicator: str, subgroups: list,
                      ties: str = "efron") -> list[dict]:
    """Arm HR within each subgroup level and the P for interaction (see module docstring).

    Work per subgroup is on the four columns it needs (time, event, arm, level), never on a copy of the
    whole table; the base and interaction models of a subgroup share one sort of its sample
    (:func:`~hccstudy.stats.cox.risk_sets`), and subgroups whose variable is never missing share the
    sort of the whole sample.  The results are those of fitting each model on its own."""
    rows = []
    slim = data[[c for c in dict.fromkeys((time, event, arm_indicator))]]
    whole_rs = None  # risk sets of the whole sample, built when a subgroup first needs them
    for spec in subgroups:
        var, level = subgroup_levels(data, spec)
        sub_col = _unused(data.columns, "_sub")
        present = level.notna().to_numpy()
        d = slim.assign(**{sub_col: level})
        if not present.all():
            d = d[present]
        levels = sorted(d[sub_col].unique().tolist())
        p_int = float("nan")
        note = ""
        if len(levels) >= 2:
            if present.all():
                if whole_rs is None:
                    whole_rs = make_risk_sets(d[time].to_numpy(dtype=float), d[event].to_numpy().astype(bool),
                                              ties=ties)
                rs = whole_rs
            else:
                rs = make_risk_sets(d[time].to_numpy(dtype=float), d[event].to_numpy().astype(bool), ties=ties)
            base = fit_cox(d, time, event, [arm_indicator, sub_col], [sub_col], ties=ties, risk_sets=rs)
            taken = set(data.columns) | {sub_col}
            arm = d[arm_indicator].to_numpy(dtype=float)
            lev_of = d[sub_col].to_numpy()
            inter_cols = {}
            for lev in levels[1:]:
                col = _unused(taken, f"_int_{lev}")
                taken.add(col)
                inter_cols[col] = arm * (lev_of == lev).astype(float)
            X_cols = list(inter_cols)
            inter = d.assign(**inter_cols)
            full = fit_cox(inter, time, event, [arm_indicator, sub_col, *X_cols], [sub_col], ties=ties, risk_sets=rs)
            if full.fit is not None and base.fit is not None:
                if len(levels) == 2 and X_cols[0] in full.fit.names:
                    p_int = float(full.fit.table.set_index("term").loc[X_cols[0], "p"])
                else:
                    stat = 2 * (full.fit.loglik[1] - base.fit.loglik[1])
                    df = len([c for c in X_cols if c in full.fit.names])
                    p_int = float(chi2.sf(stat, df)) if df else float("nan")
        lev_col = d[sub_col].to_numpy()
        for lev in levels:
            sub = d[lev_col == lev]
            treated = (sub[arm_indicator] == 1).to_numpy()
            ev = sub[event]
            nt = int(sub[arm_indicator].sum())
            nc = int(len(sub) - nt)
            row = {"variable": var, "level": lev, "n_treated": nt, "n_control": nc,
                   "events_treated": int(ev[treated].sum()),
                   "events_control": int(ev[(sub[arm_indicator] == 0).to_numpy()].sum()),
                   "hr": float("nan"), "lcl": float("nan"), "ucl": float("nan"), "p": float("nan"),
                   "p_interaction": p_int, "note": note}
            if nt == 0 or nc == 0:
                row["note"] = "one arm absent in this subgroup: HR not estimable"
            else:
                m = fit_cox(sub, time, event, [arm_indicator], ties=ties)
                tr = term_rows(m)
                if tr:
                    row.update({k: tr[0][k] for k in ("hr", "lcl", "ucl", "p")})
                    if tr[0]["infinite"]:
                        row["note"] = "HR may be infinite (no events in one arm)"
                else:
                    row["note"] = "; ".join(m.warnings) or "not estimable"
            rows.append(row)
    return rows
