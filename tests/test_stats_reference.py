"""R parity on the public reference data (fixtures under ``tests/reference/shared``,
see docs/validation.md): propensity score, MatchIt pairs, Kaplan–Meier, Cox (plain, robust by pair,
pair-stratified)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hccstudy.stats.cox import coxph
from hccstudy.stats.km import kaplan_meier
from hccstudy.stats.matching import nearest_neighbor
from hccstudy.stats.propensity import design_matrix, propensity_score

REF = Path(__file__).parent / "reference" / "shared"
REL = 1e-6


def load(name: str, result: str):
    spec = json.loads((REF / f"{name}.spec.json").read_text())
    ref = json.loads((REF / result).read_text())
    df = pd.read_csv(REF / f"{name}.csv").dropna(subset=spec["covariates"] + [spec["group"]]).reset_index(drop=True)
    treated = (df[spec["group"]] == spec["treated"]).to_numpy()
    return spec, ref, df, treated


CASES = [("lalonde", "lalonde.matchit.json"), ("veteran", "veteran.matchit_survival.json")]


@pytest.mark.parametrize(("name", "result"), CASES)
def test_propensity_coefficients_match_glm(name, result):
    spec, ref, df, treated = load(name, result)
    fit = propensity_score(df, treated, spec["covariates"], spec["factors"])
    expected = pd.Series(ref["ps_coef"])
    assert set(fit.coefficients.index) == set(expected.index)
    np.testing.assert_allclose(fit.coefficients[expected.index], expected, rtol=REL)


@pytest.mark.parametrize(("name", "result"), CASES)
def test_matched_pairs_identical_to_matchit(name, result):
    spec, ref, df, treated = load(name, result)
    fit = propensity_score(df, treated, spec["covariates"], spec["factors"])
    m = nearest_neighbor(fit.fitted, treated, caliper=spec["caliper"])
    ids = df[spec["id"]].astype(str).to_numpy()
    ours = {(ids[a], ids[b]) for a, b in zip(m.pairs["treated"], m.pairs["control"], strict=True)}
    theirs = {(str(a), str(b)) for a, b in ref["pairs"]}
    assert m.n_pairs == ref["n_pairs"]
    assert ours == theirs


def _veteran_samples():
    spec, ref, df, treated = load("veteran", "veteran.matchit_survival.json")
    df["treat_"] = treated.astype(float)
    fit = propensity_score(df, treated, spec["covariates"], spec["factors"])
    m = nearest_neighbor(fit.fitted, treated, caliper=spec["caliper"])
    keep = m.units["matched"].to_numpy()
    matched = df[keep].assign(pair=m.units["pair"][keep].to_numpy())
    return spec, ref, {"full": df, "matched": matched}


@pytest.mark.parametrize("sample", ["full", "matched"])
def test_kaplan_meier_matches_survfit(sample):
    spec, ref, data = _veteran_samples()
    df = data[sample]
    for g, label in [(0, "treat_=0"), (1, "treat_=1")]:
        s = df[df["treat_"] == g]
        km = kaplan_meier(s["time"], s["status"] == 1)
        r = ref[sample]["km"][label]
        assert (km.n, km.events) == (r["n"], r["events"])
        assert km.median == pytest.approx((r["median"], r["lcl"], r["ucl"]), rel=REL)
        at = km.surv_at(spec["landmarks"])
        for col, key in [("surv", "surv_at"), ("lower", "lower_at"), ("upper", "upper_at")]:
            np.testing.assert_allclose(at[col], [r[key][str(t)] for t in spec["landmarks"]], rtol=REL)


def _check(fit, expected: dict, term_of=lambda t: t):
    tb = fit.table.set_index("term")
    for term, r in expected.items():
        row = tb.loc[term_of(term)]
        assert row["hr"] == pytest.approx(r["hr"], rel=REL)
        assert row["lcl"] == pytest.approx(r["lo"], rel=REL)
        assert row["ucl"] == pytest.approx(r["hi"], rel=REL)
        assert row["p"] == pytest.approx(r["p"], abs=1e-6)
        assert fit.loglik == pytest.approx(tuple(r["loglik"]), rel=REL)


@pytest.mark.parametrize("sample", ["full", "matched"])
def test_cox_matches_coxph(sample):
    _, ref, data = _veteran_samples()
    df = data[sample]
    r = ref[sample]
    fit = coxph(df["time"], df["status"] == 1, df[["treat_"]].to_numpy(), ["treat_"])
    _check(fit, {"treat_": r["cox_group"]})
    for var, terms in r["cox_univariate"].items():
        X, names, _ = design_matrix(df, [var], ["celltype"], intercept=False)
        _check(coxph(df["time"], df["status"] == 1, X, names), terms)
    multi = r["cox_multivariate"]
    variables = sorted({v for v in ["karno", "diagtime", "age", "prior", "celltype", "treat_"]
                        if any(t.startswith(v) for t in multi)})
    X, names, _ = design_matrix(df, variables, ["celltype"], intercept=False)
    _check(coxph(df["time"], df["status"] == 1, X, names), multi)


def test_cox_robust_and_stratified_by_pair():
    _, ref, data = _veteran_samples()
    df = data["matched"]
    r = ref["matched"]
    args = (df["time"], df["status"] == 1, df[["treat_"]].to_numpy(), ["treat_"])
    _check(coxph(*args, cluster=df["pair"].to_numpy()), {"treat_": r["cox_group_robust_pairs"]})
    _check(coxph(*args, strata=df["pair"].to_numpy()), {"treat_": r["cox_group_stratified_pairs"]})
