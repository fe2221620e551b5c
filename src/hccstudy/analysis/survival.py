"""Outcome analyses of the generic analysis: per endpoint and sample (full, matched) Kaplan–Meier by
arm with medians and landmark rates, median follow-up, log-rank (and pair-stratified on the matched
sample), the arm Cox HR (plain; robust clustered on the pair and pair-stratified on the matched sample),
univariable -> multivariable Cox, the proportional-hazards test and subgroup HRs; response and adverse
event tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._yaml import ConfigError
from ..stats.cox import cox_zph
from ..stats.km import kaplan_meier, median_followup
from ..stats.logrank import logrank_test
from ..stats.outcomes import adverse_event_table, response_table
from ..stats.subgroup import fit_cox, subgroup_analysis, term_rows, univariable_then_multivariable
from .columns import ARM, CLUSTER, EVENT, PAIR, PREFIX, TIME, TREATED
from .config import AnalysisConfig


def arm_term(cfg: AnalysisConfig, labels: dict) -> tuple[str, str, str]:
    """(indicator column / R term name, label of the arm it marks, reference label)."""
    ref = cfg.cox.arm_reference
    other = "treated" if ref == "control" else "control"
    return f"{cfg.arm.column}{labels[other]}", labels[other], labels[ref]


def add_arm_indicator(cfg: AnalysisConfig, data: pd.DataFrame, labels: dict) -> pd.DataFrame:
    col, _, _ = arm_term(cfg, labels)
    if col in data.columns:
        raise ConfigError(f"cox: the arm's Cox term is named {col!r} (R's name: arm column + label), but the table "
                          f"has a column of that name; rename that column or change arm.labels")
    flag = data[TREATED].to_numpy() if cfg.cox.arm_reference == "control" else ~data[TREATED].to_numpy()
    return data.assign(**{col: flag.astype(float)})


def _km_block(d: pd.DataFrame, time: str, event: str, arms: list[str], landmarks: list[float], cfg: AnalysisConfig) -> dict:
    out = {}
    for lab in arms:
        s = d[d[ARM] == lab]
        if len(s) == 0:
            out[lab] = {"n": 0, "events": 0}
            continue
        km = kaplan_meier(s[time], s[event], cfg.km.conf_level, cfg.km.conf_type)
        med, lcl, ucl = km.median
        at = km.surv_at(landmarks) if landmarks else None
        out[lab] = {"n": km.n, "events": km.events, "median": med, "median_lcl": lcl, "median_ucl": ucl,
                    "landmarks": [] if at is None else [
                        {"time": float(r.time), "surv": float(r.surv), "lcl": float(r.lower), "ucl": float(r.upper),
                         "n_risk": int(r.n_risk)} for r in at.itertuples(index=False)]}
    return out


def _hr(model, term: str) -> dict | None:
    rows = {r["term"]: r for r in term_rows(model)}
    r = rows.get(term)
    if r is None:
        return None
    return {"hr": r["hr"], "lcl": r["lcl"], "ucl": r["ucl"], "p": r["p"], "se": r["se"], "infinite": r["infinite"]}


def _skip(block: dict, skipped: list[dict], where: str, part: str, reason: str) -> None:
    block.setdefault("skipped", []).append({"part": part, "reason": reason})
    skipped.append({"part": f"{where}: {part}", "reason": reason})


def _why_not_estimable(d: pd.DataFrame, arms: list[str], unit_name: str) -> str | None:
    """Why the arms cannot be compared on this endpoint and sample (None when they can)."""
    n_events = int(d[EVENT].sum())
    if n_events == 0:
        return f"no {unit_name} events in this sample: survival cannot be compared"
    if d[ARM].nunique() < 2:
        return "only one arm in this sample"
    return None


def endpoint_results(cfg: AnalysisConfig, samples: dict[str, pd.DataFrame], labels: dict,
                     skipped: list[dict] | None = None) -> dict:
    """``endpoints.<name>.<sample>`` of results.json.  Parts that cannot be estimated (no events, a Cox
    model that cannot be fitted) are left out and listed in the block's ``skipped`` and in ``skipped``."""
    skipped = [] if skipped is None else skipped
    arms = [labels["control"], labels["treated"]]
    term, _, _ = arm_term(cfg, labels)
    out: dict = {}
    for ep in cfg.endpoints:
        out[ep.name] = {"time": ep.time, "event": ep.event, "unit": ep.unit}
        for sname, d0 in samples.items():
            where = f"endpoint {ep.name} ({sname} sample)"
            d = add_arm_indicator(cfg, d0, labels)
            d = d.assign(**{EVENT: (d[ep.event] == ep.event_value).astype(int).to_numpy(),
                            TIME: pd.to_numeric(d[ep.time]).to_numpy(dtype=float)})
            block: dict = {"n": int(len(d)), "events": int(d[EVENT].sum())}
            block["km"] = _km_block(d, TIME, EVENT, arms, list(ep.landmarks), cfg)
            fu = {"overall": median_followup(d[TIME], d[EVENT])}
            for lab in arms:
                s = d[d[ARM] == lab]
                fu[lab] = median_followup(s[TIME], s[EVENT]) if len(s) else (np.nan, np.nan, np.nan)
            block["median_followup"] = {k: {"median": v[0], "lcl": v[1], "ucl": v[2], "method": "reverse Kaplan-Meier"}
                                        for k, v in fu.items()}
            why = _why_not_estimable(d, arms, ep.name.upper())
            if why is not None:
                block["logrank"] = {"chisq": None, "df": None, "p": None}
                block["cox_arm"] = None
                _skip(block, skipped, where, "log-rank test, Cox models, proportional-hazards test, subgroups", why)
                block["notes"] = []
                out[ep.name][sname] = block
                continue
            lr = logrank_test(d[TIME], d[EVENT], d[ARM])
            block["logrank"] = {"chisq": lr.chisq, "df": lr.df, "p": lr.p}
            plain = fit_cox(d, TIME, EVENT, [term], ties=cfg.cox.ties)
            block["cox_arm"] = _hr(plain, term)
            if block["cox_arm"] is None:
                _skip(block, skipped, where, "Cox HR of the arm", "; ".join(plain.warnings) or "not estimable")
            notes = list(plain.warnings)
            if PAIR in d and sname == "matched":
                pair = d[PAIR].astype("int64").to_numpy()
                lrs = logrank_test(d[TIME], d[EVENT], d[ARM], strata=pair)
                block["logrank_stratified"] = {"chisq": lrs.chisq, "df": lrs.df, "p": lrs.p, "strata": "pair"}
                dp = d.assign(**{CLUSTER: pair})
                rob = fit_cox(dp, TIME, EVENT, [term], cluster=CLUSTER, ties=cfg.cox.ties)
                block["cox_arm_robust"] = {**(_hr(rob, term) or {}), "cluster": "pair",
                                           "estimand": "marginal HR (primary)"}
                strat = fit_cox(dp, TIME, EVENT, [term], strata=CLUSTER, ties=cfg.cox.ties)
                block["cox_arm_stratified"] = {**(_hr(strat, term) or {}), "strata": "pair",
                                               "estimand": "conditional HR (secondary)"}
            variables = [term if v == cfg.arm.column else v for v in cfg.cox.variables]
            if variables:
                uni, multi, selected = univariable_then_multivariable(d, TIME, EVENT, variables, cfg.categorical,
                                                                      cfg.cox.select_p)
                block["cox_univariate"] = uni
                block["cox_multivariate"] = multi
                block["cox_selected"] = selected
                model = fit_cox(d, TIME, EVENT, selected or [term], cfg.categorical, ties=cfg.cox.ties)
                fitted = {r["variable"] for r in uni}
                for v in variables:
                    if v not in fitted:
                        _skip(block, skipped, where, f"univariable Cox for {v}",
                              "not estimable (constant in this sample or no events)")
            else:
                model = plain
            if model.fit is not None:
                f = model.fit
                block["model_tests"] = {"model": list(model.terms), **{
                    name: {"chisq": stat, "df": df, "p": p}
                    for name, (stat, df, p) in (("likelihood_ratio", f.lr_test), ("wald", f.wald_test),
                                                ("score", f.logrank_score_test))}}
                z = cox_zph(model.fit, model.terms)
                block["ph_test"] = {"model": list(model.terms), "global_p": z.global_p,
                                    "terms": z.table.to_dict(orient="records"), "transform": "km"}
                if not np.isfinite(z.global_p):
                    _skip(block, skipped, where, "proportional-hazards test (cox.zph)",
                          "its information matrix is singular (e.g. an infinite hazard ratio): the test is not defined")
            else:
                _skip(block, skipped, where, "model tests and proportional-hazards test",
                      "; ".join(model.warnings) or "the Cox model cannot be fitted")
            if cfg.subgroups:
                block["subgroups"] = subgroup_analysis(d, TIME, EVENT, term,
                                                       [s if isinstance(s, str) else s.model_dump() for s in cfg.subgroups],
                                                       ties=cfg.cox.ties)
            block["notes"] = notes
            out[ep.name][sname] = block
    return out


def ae_columns(cfg: AnalysisConfig, data: pd.DataFrame) -> list[str]:
    spec = cfg.adverse_events
    if spec is None:
        return []
    if spec.columns is not None:
        return list(spec.columns)
    pre, suf = spec.prefix or "", spec.suffix or ""
    return [c for c in data.columns if c.startswith(pre) and c.endswith(suf) and not str(c).startswith(PREFIX)]


def outcome_tables(cfg: AnalysisConfig, samples: dict[str, pd.DataFrame], labels: dict) -> tuple[dict | None, dict | None]:
    arms = [labels["control"], labels["treated"]]
    fisher = cfg.table1.fisher_expected_below
    resp = ae = None
    if cfg.response is not None:
        resp = {k: response_table(d[cfg.response.column], d[ARM], arms, fisher) for k, d in samples.items()}
    cols = ae_columns(cfg, samples["full"])
    if cfg.adverse_events is not None:
        pre, suf = (cfg.adverse_events.prefix or ""), (cfg.adverse_events.suffix or "")
        ae = {}
        for k, d in samples.items():
            g = d[cols].rename(columns=lambda c: c[len(pre):len(c) - len(suf)] if suf else c[len(pre):])
            ae[k] = adverse_event_table(g, d[ARM], arms, fisher)
    return resp, ae
