"""Typed results (issue 11 section 4): per endpoint and sample a frozen record holding the fitted
objects, response and AE records holding tables; ``Results.to_dict()`` keeps results.json's keys and
their order (other programs read the file)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hccstudy.analysis import analyze, load_analysis_config
from hccstudy.analysis.records import (
    AdverseEventSummary,
    EndpointResult,
    HazardRatio,
    ResponseSummary,
    SurvivalComparison,
)
from hccstudy.stats.cox import CoxFit, PHTest
from hccstudy.stats.km import KaplanMeier
from hccstudy.stats.logrank import LogRank

V = pd.read_csv(Path(__file__).parent / "reference" / "shared" / "veteran.csv")
RNG = np.random.default_rng(5)
VV = V.assign(bor=RNG.choice(["CR", "PR", "SD", "PD", "NE"], len(V)), ae_rash_grade=RNG.integers(0, 5, len(V)),
              ae_fever_grade=RNG.integers(0, 3, len(V)))


def _cfg(**change) -> dict:
    cfg = {"data": "v.csv", "id": "rowid", "arm": {"column": "trt", "treated": 2, "control": 1},
           "covariates": ["karno", "age"], "matching": {"on": ["karno", "age"], "caliper": 0.2},
           "endpoints": [{"name": "os", "time": "time", "event": "status", "unit": "days", "landmarks": [90]}],
           "cox": {"variables": ["trt", "karno", "prior"]}, "subgroups": ["prior", {"variable": "age", "cut": 60}],
           "response": {"column": "bor"}, "adverse_events": {"prefix": "ae_", "suffix": "_grade"}}
    return {**cfg, **change}


@pytest.fixture(scope="module")
def res():
    return analyze(load_analysis_config(_cfg()), VV)


BLOCK = ["n", "events", "km", "median_followup", "logrank", "cox_arm"]
COX = ["cox_univariate", "cox_multivariate", "cox_selected", "model_tests", "ph_test", "subgroups", "notes"]
PAIRED = ["logrank_stratified", "cox_arm_robust", "cox_arm_stratified"]


def test_results_json_keys_and_their_order(res):
    d = json.loads(res.to_json())
    assert list(d) == ["cohort", "table1", "propensity", "matching", "balance", "endpoints", "response",
                       "adverse_events", "skipped", "warnings"]
    assert list(d["endpoints"]["os"]) == ["time", "event", "unit", "full", "matched"]
    assert list(d["endpoints"]["os"]["full"]) == BLOCK + COX
    assert list(d["endpoints"]["os"]["matched"]) == BLOCK + PAIRED + COX
    m = d["endpoints"]["os"]["matched"]
    assert list(m["km"]) == ["1", "2"] and list(m["km"]["1"]) == ["n", "events", "median", "median_lcl", "median_ucl",
                                                                   "landmarks"]
    assert list(m["cox_arm"]) == ["hr", "lcl", "ucl", "p", "se", "infinite"]
    assert list(m["cox_arm_robust"]) == ["hr", "lcl", "ucl", "p", "se", "infinite", "cluster", "estimand"]
    assert list(m["median_followup"]) == ["overall", "1", "2"]
    assert list(m["model_tests"]) == ["model", "likelihood_ratio", "wald", "score"]
    assert list(m["cox_univariate"][0]) == ["variable", "term", "coef", "hr", "se", "lcl", "ucl", "p", "infinite",
                                            "p_variable", "n", "events"]
    assert list(m["subgroups"][0]) == ["variable", "level", "n_treated", "n_control", "events_treated",
                                       "events_control", "hr", "lcl", "ucl", "p", "p_interaction", "note"]
    assert list(d["response"]) == ["full", "matched"] and list(d["response"]["full"]) == ["n", "best_response", "rates"]
    assert d["response"]["full"]["best_response"][0] == {"response": "CR", **{
        a: {"n": d["response"]["full"]["best_response"][0][a]["n"], "pct": d["response"]["full"]["best_response"][0][a]["pct"]}
        for a in ("1", "2")}}
    assert list(d["response"]["full"]["rates"][0]) == ["measure", "test", "p", "1", "2"]
    assert list(d["response"]["full"]["rates"][0]["1"]) == ["n", "of", "rate", "lcl", "ucl"]
    ae = d["adverse_events"]["full"]
    assert [r["term"] for r in ae] == ["rash", "fever", "Any adverse event", "Any grade 3-4"]
    assert list(ae[0]) == ["term", "1", "2", "test_any", "p_any", "test_grade_3plus", "p_grade_3plus"]
    assert list(ae[0]["1"]) == ["grade_1_2", "grade_3_4", "grade_5", "any", "n"]


def test_a_part_not_estimated_is_listed_where_it_happened():
    """The block's ``skipped`` comes after the part that failed (as results.json always had it)."""
    no_events = json.loads(analyze(load_analysis_config(_cfg()), VV.assign(status=0)).to_json())
    assert list(no_events["endpoints"]["os"]["full"]) == BLOCK + ["skipped", "notes"]
    const = json.loads(analyze(load_analysis_config(_cfg()), VV.assign(prior=0)).to_json())
    full = list(const["endpoints"]["os"]["full"])
    assert full == BLOCK + ["cox_univariate", "cox_multivariate", "cox_selected", "skipped", "model_tests", "ph_test",
                            "subgroups", "notes"]


def test_records_hold_the_fitted_objects(res):
    ep = res.endpoints["os"]
    assert isinstance(ep, EndpointResult) and ep.main_sample == "matched" and ep.unit == "days"
    c = ep.samples["matched"]
    assert isinstance(c, SurvivalComparison) and dataclasses.is_dataclass(c)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.n = 0
    assert all(isinstance(k, KaplanMeier) for k in c.km.values()) and c.arms == ["1", "2"]
    assert isinstance(c.logrank, LogRank) and isinstance(c.logrank_stratified, LogRank)
    assert isinstance(c.cox_arm, HazardRatio) and c.primary_hr is c.cox_arm_robust
    assert isinstance(c.model.fit, CoxFit) and isinstance(c.ph_test, PHTest)
    assert isinstance(c.univariable, pd.DataFrame) and c.selected is not None
    d = c.to_dict()
    assert d["km"]["2"]["median"] == c.km["2"].median[0]
    assert d["logrank"]["p"] == c.logrank.p and d["cox_arm_robust"]["hr"] == c.cox_arm_robust.hr
    assert d["cox_univariate"][0]["hr"] == pytest.approx(c.univariable["hr"].iloc[0])
    assert isinstance(res.response["full"], ResponseSummary)
    ae = res.adverse_events["matched"]
    assert isinstance(ae, AdverseEventSummary) and ae.columns == ("ae_rash_grade", "ae_fever_grade", None, None)
    assert int(ae.table[("2", "n")].iloc[0]) == c.km["2"].n
