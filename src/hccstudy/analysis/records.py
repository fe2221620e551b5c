"""Typed results of the outcome analyses: one frozen record per endpoint and sample, per response and
adverse-event table.

The records hold the fitted objects themselves -- :class:`~hccstudy.stats.km.KaplanMeier` per arm,
:class:`~hccstudy.stats.logrank.LogRank`, the Cox models (:class:`~hccstudy.stats.subgroup.CoxModel`,
whose ``fit`` is a :class:`~hccstudy.stats.cox.CoxFit`), :class:`~hccstudy.stats.cox.PHTest` -- and the
tables (univariable / multivariable Cox, subgroups, response, adverse events) as DataFrames, so that a
reader (the report, a notebook) takes what it needs without string keys and nothing is refitted.

``to_dict()`` of each record is its block of ``results.json`` (the contract other programs read: the
keys, their order and the values are those written before the records existed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..stats.cox import PHTest
from ..stats.km import KaplanMeier
from ..stats.logrank import LogRank
from ..stats.subgroup import CoxModel, term_rows

#: where a part that was not estimated is listed in its block of results.json: after the arm HR,
#: after the univariable / multivariable Cox, or after the model tests
SkipStage = Literal["arm", "univariable", "model"]


def native(v):
    """A numpy scalar as the Python scalar it holds."""
    return v.item() if isinstance(v, np.generic) else v


def frame_records(df: pd.DataFrame | None) -> list[dict]:
    """Rows of a (flat) table as dicts of Python scalars."""
    if df is None:
        return []
    return [{k: native(v) for k, v in r.items()} for r in df.to_dict(orient="records")]


def by_arm_frame(rows: list[dict], arms: list[str]) -> pd.DataFrame:
    """Rows whose arm entries are dicts (``{"term": .., "SE": {"n": .., "pct": ..}, ..}``) as a table with
    two-level columns: ``(arm, statistic)`` for the arms, ``(key, "")`` for the rest, in the rows' order."""
    if not rows:
        return pd.DataFrame(columns=pd.MultiIndex.from_tuples([], names=["column", "statistic"]))
    flat = [{(k, s): x for k, v in r.items() for s, x in (v.items() if k in arms else [("", v)])} for r in rows]
    df = pd.DataFrame(flat)
    df.columns = pd.MultiIndex.from_tuples(df.columns, names=["column", "statistic"])
    return df


def by_arm_records(df: pd.DataFrame) -> list[dict]:
    """The inverse of :func:`by_arm_frame` (the rows of results.json)."""
    out = []
    for r in df.to_dict(orient="records"):
        row: dict = {}
        for (k, s), v in r.items():
            if s == "":
                row[k] = native(v)
            else:
                row.setdefault(k, {})[s] = native(v)
        out.append(row)
    return out


@dataclass(frozen=True)
class HazardRatio:
    """One Cox coefficient as a hazard ratio: HR, its confidence limits, Wald P and the standard error
    used (robust when the model is clustered); ``infinite``: the coefficient diverged (monotone
    likelihood, e.g. no events in one arm)."""

    hr: float
    lcl: float
    ucl: float
    p: float
    se: float
    infinite: bool

    @classmethod
    def of(cls, model: CoxModel, term: str) -> HazardRatio | None:
        """The HR of ``term`` in ``model``; None when the term was not estimated."""
        for r in term_rows(model):
            if r["term"] == term:
                return cls(r["hr"], r["lcl"], r["ucl"], r["p"], r["se"], r["infinite"])
        return None

    def to_dict(self) -> dict:
        return {"hr": self.hr, "lcl": self.lcl, "ucl": self.ucl, "p": self.p, "se": self.se, "infinite": self.infinite}


@dataclass(frozen=True)
class Skip:
    """A part of a comparison that could not be estimated, and why."""

    stage: SkipStage
    part: str
    reason: str
    variable: str | None = None    # the variable concerned, when there is one (a univariable Cox model)


@dataclass(frozen=True, eq=False)
class SurvivalComparison:
    """The two arms compared on one endpoint in one sample (``full`` or ``matched``).

    ``km``: Kaplan–Meier per arm (None for an arm without patients in this sample), in results.json's
    arm order; ``median_followup``: reverse Kaplan–Meier (median, lower, upper), ``overall`` and per arm.
    When the arms cannot be compared (no events, one arm) ``estimable`` is False and only the
    description (n, events, KM, follow-up) is filled.  On the matched sample (``paired``): the
    pair-stratified log-rank, the robust HR clustered on the pair (marginal, primary) and the
    pair-stratified HR (conditional).  ``univariable`` / ``multivariable``: one row per Cox term
    (variable, term, coef, hr, se, lcl, ucl, p, infinite; univariable also the variable's LR P, n and
    events); ``model``: the Cox model of the model tests and of ``ph_test`` (the multivariable model, or
    the arm alone).  Tables are None when not asked for (no Cox variables, no subgroups)."""

    sample: str
    arm_term: str                                   # the arm's Cox term (R name: arm column + label)
    n: int
    events: int
    km: dict[str, KaplanMeier | None]
    landmarks: tuple[float, ...]
    median_followup: dict[str, tuple[float, float, float]]
    estimable: bool = True
    logrank: LogRank | None = None
    arm_model: CoxModel | None = None
    cox_arm: HazardRatio | None = None
    paired: bool = False
    logrank_stratified: LogRank | None = None
    cox_arm_robust: HazardRatio | None = None
    cox_arm_stratified: HazardRatio | None = None
    univariable: pd.DataFrame | None = None
    multivariable: pd.DataFrame | None = None
    selected: tuple[str, ...] | None = None
    model: CoxModel | None = None
    ph_test: PHTest | None = None
    subgroups: pd.DataFrame | None = None
    notes: tuple[str, ...] = ()
    skipped: tuple[Skip, ...] = ()

    @property
    def arms(self) -> list[str]:
        return list(self.km)

    @property
    def primary_hr(self) -> HazardRatio | None:
        """The HR the paper reports: robust clustered on the pair on the matched sample, else plain Cox."""
        return self.cox_arm_robust if self.paired else self.cox_arm

    def to_dict(self) -> dict:
        """This comparison's block of results.json (``endpoints.<name>.<sample>``)."""
        b: dict = {"n": self.n, "events": self.events, "km": {a: self._km_dict(k) for a, k in self.km.items()},
                   "median_followup": {k: {"median": v[0], "lcl": v[1], "ucl": v[2], "method": "reverse Kaplan-Meier"}
                                       for k, v in self.median_followup.items()}}
        skipped = [{"part": s.part, "reason": s.reason} for s in self.skipped]
        first = self.skipped[0].stage if self.skipped else None
        if not self.estimable:
            b["logrank"] = {"chisq": None, "df": None, "p": None}
            b["cox_arm"] = None
            b["skipped"] = skipped
            b["notes"] = list(self.notes)
            return b
        lr = self.logrank
        b["logrank"] = {"chisq": lr.chisq, "df": lr.df, "p": lr.p}
        b["cox_arm"] = None if self.cox_arm is None else self.cox_arm.to_dict()
        if first == "arm":
            b["skipped"] = skipped
        if self.paired:
            s = self.logrank_stratified
            b["logrank_stratified"] = {"chisq": s.chisq, "df": s.df, "p": s.p, "strata": "pair"}
            b["cox_arm_robust"] = {**(self.cox_arm_robust.to_dict() if self.cox_arm_robust else {}), "cluster": "pair",
                                   "estimand": "marginal HR (primary)"}
            b["cox_arm_stratified"] = {**(self.cox_arm_stratified.to_dict() if self.cox_arm_stratified else {}),
                                       "strata": "pair", "estimand": "conditional HR (secondary)"}
        if self.univariable is not None:
            b["cox_univariate"] = frame_records(self.univariable)
            b["cox_multivariate"] = frame_records(self.multivariable)
            b["cox_selected"] = list(self.selected or ())
        if first == "univariable":
            b["skipped"] = skipped
        if self.model is not None and self.model.fit is not None:
            f = self.model.fit
            b["model_tests"] = {"model": list(self.model.terms), **{
                name: {"chisq": stat, "df": df, "p": p}
                for name, (stat, df, p) in (("likelihood_ratio", f.lr_test), ("wald", f.wald_test),
                                            ("score", f.logrank_score_test))}}
            b["ph_test"] = {"model": list(self.model.terms), "global_p": self.ph_test.global_p,
                            "terms": self.ph_test.table.to_dict(orient="records"), "transform": self.ph_test.transform}
        if first == "model":
            b["skipped"] = skipped
        if self.subgroups is not None:
            b["subgroups"] = frame_records(self.subgroups)
        b["notes"] = list(self.notes)
        return b

    def _km_dict(self, km: KaplanMeier | None) -> dict:
        if km is None:
            return {"n": 0, "events": 0}
        med, lcl, ucl = km.median
        at = km.surv_at(list(self.landmarks)) if self.landmarks else None
        return {"n": km.n, "events": km.events, "median": med, "median_lcl": lcl, "median_ucl": ucl,
                "landmarks": [] if at is None else [
                    {"time": float(r.time), "surv": float(r.surv), "lcl": float(r.lower), "ucl": float(r.upper),
                     "n_risk": int(r.n_risk)} for r in at.itertuples(index=False)]}


@dataclass(frozen=True, eq=False)
class EndpointResult:
    """One time-to-event endpoint: its columns, unit, and the comparison in each sample analysed
    (``full``, and ``matched`` when the matched-sample outcomes were estimated)."""

    name: str
    time: str
    event: str
    unit: str
    samples: dict[str, SurvivalComparison]

    @property
    def main_sample(self) -> str:
        """The sample the paper's tables use: matched when its outcomes were estimated, else all patients."""
        return "matched" if "matched" in self.samples else "full"

    @property
    def main(self) -> SurvivalComparison:
        return self.samples[self.main_sample]

    def to_dict(self) -> dict:
        return {"time": self.time, "event": self.event, "unit": self.unit,
                **{k: v.to_dict() for k, v in self.samples.items()}}


@dataclass(frozen=True, eq=False)
class ResponseSummary:
    """Best overall response by arm in one sample: ``n`` patients per arm; ``best_response``: one row per
    category (columns ``("response", "")``, ``(arm, "n")``, ``(arm, "pct")``); ``rates``: ORR and DCR
    (``("measure", "")``, ``("test", "")``, ``("p", "")``, ``(arm, "n" | "of" | "rate" | "lcl" | "ucl")``:
    exact Clopper–Pearson limits)."""

    sample: str
    arms: tuple[str, ...]
    n: dict[str, int]
    best_response: pd.DataFrame
    rates: pd.DataFrame

    @classmethod
    def from_table(cls, sample: str, arms: list[str], table: dict) -> ResponseSummary:
        """From :func:`hccstudy.stats.outcomes.response_table`'s result."""
        return cls(sample, tuple(arms), dict(table["n"]), by_arm_frame(table["best_response"], arms),
                   by_arm_frame(table["rates"], arms))

    def to_dict(self) -> dict:
        return {"n": dict(self.n), "best_response": by_arm_records(self.best_response),
                "rates": by_arm_records(self.rates)}


@dataclass(frozen=True, eq=False)
class AdverseEventSummary:
    """Adverse events by arm in one sample: one row per term plus "Any adverse event" and "Any grade
    3-4" (``("term", "")``, ``(arm, "grade_1_2" | "grade_3_4" | "grade_5" | "any" | "n")``,
    ``("test_any", "")``, ``("p_any", "")``, ``("test_grade_3plus", "")``, ``("p_grade_3plus", "")``).
    ``columns``: the table's column behind each term (None for the two summary rows)."""

    sample: str
    arms: tuple[str, ...]
    table: pd.DataFrame
    columns: tuple[str | None, ...]

    @classmethod
    def from_rows(cls, sample: str, arms: list[str], rows: list[dict], columns: list[str]) -> AdverseEventSummary:
        """From :func:`hccstudy.stats.outcomes.adverse_event_table`'s rows."""
        return cls(sample, tuple(arms), by_arm_frame(rows, arms), (*columns, None, None))

    def to_dict(self) -> list[dict]:
        return by_arm_records(self.table)
