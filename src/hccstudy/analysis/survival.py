"""Outcome analyses of the generic analysis: per endpoint and sample (full, matched) Kaplan–Meier by
arm with medians and landmark rates, median follow-up, log-rank (and pair-stratified on the matched
sample), the arm Cox HR (plain; robust clustered on the pair and pair-stratified on the matched sample),
univariable -> multivariable Cox, the proportional-hazards test and subgroup HRs; response and adverse
event tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._yaml import ConfigError
from ..stats.cox import cox_zph, risk_sets
from ..stats.km import kaplan_meier, median_followup
from ..stats.logrank import logrank_test
from ..stats.outcomes import adverse_event_table, response_table
from ..stats.subgroup import fit_cox, subgroup_analysis, univariable_then_multivariable_models
from .columns import ARM, CLUSTER, EVENT, PAIR, PREFIX, TIME, TREATED
from .config import AnalysisConfig, EndpointSpec
from .records import (
    AdverseEventSummary,
    EndpointResult,
    HazardRatio,
    ResponseSummary,
    Skip,
    SurvivalComparison,
)


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


def _why_not_estimable(d: pd.DataFrame, unit_name: str) -> str | None:
    """Why the arms cannot be compared on this endpoint and sample (None when they can)."""
    n_events = int(d[EVENT].sum())
    if n_events == 0:
        return f"no {unit_name} events in this sample: survival cannot be compared"
    if d[ARM].nunique() < 2:
        return "only one arm in this sample"
    return None


def compare_arms(cfg: AnalysisConfig, ep: EndpointSpec, sample: str, d0: pd.DataFrame, labels: dict,
                 skipped: list[dict]) -> SurvivalComparison:
    """The arms compared on endpoint ``ep`` in one sample.  Parts that cannot be estimated (no events, a
    Cox model that cannot be fitted) are left out, recorded in the comparison and appended to
    ``skipped`` as ``{"part": "endpoint <name> (<sample> sample): <part>", "reason"}``."""
    where = f"endpoint {ep.name} ({sample} sample)"
    arms = [labels["control"], labels["treated"]]
    term, _, _ = arm_term(cfg, labels)
    own: list[Skip] = []

    def skip(stage, part: str, reason: str, variable: str | None = None) -> None:
        own.append(Skip(stage, part, reason, variable))
        skipped.append({"part": f"{where}: {part}", "reason": reason})

    d = add_arm_indicator(cfg, d0, labels)
    d = d.assign(**{EVENT: (d[ep.event] == ep.event_value).astype(int).to_numpy(),
                    TIME: pd.to_numeric(d[ep.time]).to_numpy(dtype=float)})
    by_arm = {lab: d[d[ARM] == lab] for lab in arms}
    km = {lab: kaplan_meier(s[TIME], s[EVENT], cfg.km.conf_level, cfg.km.conf_type) if len(s) else None
          for lab, s in by_arm.items()}
    fu = {"overall": median_followup(d[TIME], d[EVENT])}
    for lab, s in by_arm.items():
        fu[lab] = median_followup(s[TIME], s[EVENT]) if len(s) else (np.nan, np.nan, np.nan)
    base = {"sample": sample, "arm_term": term, "n": int(len(d)), "events": int(d[EVENT].sum()), "km": km,
            "landmarks": tuple(ep.landmarks), "median_followup": fu}
    why = _why_not_estimable(d, ep.name.upper())
    if why is not None:
        skip("arm", "log-rank test, Cox models, proportional-hazards test, subgroups", why)
        return SurvivalComparison(**base, estimable=False, skipped=tuple(own))
    lr = logrank_test(d[TIME], d[EVENT], d[ARM])
    rs = risk_sets(d[TIME].to_numpy(dtype=float), d[EVENT].to_numpy().astype(bool), ties=cfg.cox.ties)  # one sort
    plain = fit_cox(d, TIME, EVENT, [term], ties=cfg.cox.ties, risk_sets=rs)
    hr = HazardRatio.of(plain, term)
    if hr is None:
        skip("arm", "Cox HR of the arm", "; ".join(plain.warnings) or "not estimable")
    notes = list(plain.warnings)
    paired: dict = {}
    if PAIR in d and sample == "matched":
        pair = d[PAIR].astype("int64").to_numpy()
        dp = d.assign(**{CLUSTER: pair})
        paired = {"paired": True,
                  "logrank_stratified": logrank_test(d[TIME], d[EVENT], d[ARM], strata=pair),
                  "cox_arm_robust": HazardRatio.of(fit_cox(dp, TIME, EVENT, [term], cluster=CLUSTER, ties=cfg.cox.ties,
                                                           risk_sets=rs), term),
                  "cox_arm_stratified": HazardRatio.of(fit_cox(dp, TIME, EVENT, [term], strata=CLUSTER, ties=cfg.cox.ties),
                                                       term)}
    variables = [term if v == cfg.arm.column else v for v in cfg.cox.variables]
    cox: dict = {}
    if variables:
        uni, multi, selected, multi_model = univariable_then_multivariable_models(
            d, TIME, EVENT, variables, cfg.categorical, cfg.cox.select_p, risk_sets=rs, ties=cfg.cox.ties)
        cox = {"univariable": pd.DataFrame(uni), "multivariable": pd.DataFrame(multi), "selected": tuple(selected)}
        if multi_model is not None:  # the same model: not fitted twice
            model = multi_model
        else:
            model = fit_cox(d, TIME, EVENT, selected or [term], cfg.categorical, ties=cfg.cox.ties, risk_sets=rs)
        fitted = {r["variable"] for r in uni}
        for v in variables:
            if v not in fitted:
                skip("univariable", f"univariable Cox for {v}", "not estimable (constant in this sample or no events)", v)
    else:
        model = plain
    ph = None
    if model.fit is not None:
        ph = cox_zph(model.fit, model.terms)
        if not np.isfinite(ph.global_p):
            skip("model", "proportional-hazards test (cox.zph)",
                 "its information matrix is singular (e.g. an infinite hazard ratio): the test is not defined")
    else:
        skip("model", "model tests and proportional-hazards test", "; ".join(model.warnings) or "the Cox model cannot be fitted")
    subgroups = None
    if cfg.subgroups:
        subgroups = pd.DataFrame(subgroup_analysis(d, TIME, EVENT, term,
                                                   [s if isinstance(s, str) else s.model_dump() for s in cfg.subgroups],
                                                   ties=cfg.cox.ties))
    return SurvivalComparison(**base, logrank=lr, arm_model=plain, cox_arm=hr, **paired, **cox, model=model,
                              ph_test=ph, subgroups=subgroups, notes=tuple(notes), skipped=tuple(own))


def endpoint_results(cfg: AnalysisConfig, samples: dict[str, pd.DataFrame], labels: dict,
                     skipped: list[dict] | None = None) -> dict[str, EndpointResult]:
    """Each endpoint compared in each sample (:func:`compare_arms`); what cannot be estimated is
    appended to ``skipped``."""
    skipped = [] if skipped is None else skipped
    return {ep.name: EndpointResult(ep.name, ep.time, ep.event, ep.unit,
                                    {s: compare_arms(cfg, ep, s, d, labels, skipped) for s, d in samples.items()})
            for ep in cfg.endpoints}


def ae_columns(cfg: AnalysisConfig, data: pd.DataFrame) -> list[str]:
    spec = cfg.adverse_events
    if spec is None:
        return []
    if spec.columns is not None:
        return list(spec.columns)
    pre, suf = spec.prefix or "", spec.suffix or ""
    return [c for c in data.columns if c.startswith(pre) and c.endswith(suf) and not str(c).startswith(PREFIX)]


def outcome_tables(cfg: AnalysisConfig, samples: dict[str, pd.DataFrame], labels: dict
                   ) -> tuple[dict[str, ResponseSummary] | None, dict[str, AdverseEventSummary] | None]:
    """Best overall response and adverse events by arm, per sample (None when not configured)."""
    arms = [labels["control"], labels["treated"]]
    fisher = cfg.table1.fisher_expected_below
    resp = ae = None
    if cfg.response is not None:
        resp = {k: ResponseSummary.from_table(k, arms, response_table(d[cfg.response.column], d[ARM], arms, fisher))
                for k, d in samples.items()}
    cols = ae_columns(cfg, samples["full"])
    if cfg.adverse_events is not None:
        pre, suf = (cfg.adverse_events.prefix or ""), (cfg.adverse_events.suffix or "")
        ae = {}
        for k, d in samples.items():
            g = d[cols].rename(columns=lambda c: c[len(pre):len(c) - len(suf)] if suf else c[len(pre):])
            ae[k] = AdverseEventSummary.from_rows(k, arms, adverse_event_table(g, d[ARM], arms, fisher), cols)
    return resp, ae
