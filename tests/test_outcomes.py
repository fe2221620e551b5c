"""The outcome layer through ``analyze``: results.json endpoints against the shared R reference
(veteran, MatchIt + survival), response and adverse-event tables, figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hccstudy.analysis import analyze, load_analysis_config
from hccstudy.stats.outcomes import adverse_event_table, clopper_pearson, response_table

REF = Path(__file__).parent / "reference"
SHARED = json.loads((REF / "shared" / "veteran.matchit_survival.json").read_text())
REL = 1e-6


@pytest.fixture(scope="module")
def vet():
    return analyze(REF / "veteran.yaml").to_dict()["endpoints"]["os"]


def _hr_check(ours, r):
    assert ours["hr"] == pytest.approx(r["hr"], rel=REL)
    assert ours["lcl"] == pytest.approx(r["lo"], rel=REL)
    assert ours["ucl"] == pytest.approx(r["hi"], rel=REL)
    assert ours["p"] == pytest.approx(r["p"], abs=1e-6)


@pytest.mark.parametrize("sample", ["full", "matched"])
def test_endpoint_results_match_r(vet, sample):
    ours, ref = vet[sample], SHARED[sample]
    for arm, key in (("Standard", "treat_=0"), ("Test", "treat_=1")):
        k, r = ours["km"][arm], ref["km"][key]
        assert (k["n"], k["events"]) == (r["n"], r["events"])
        assert (k["median"], k["median_lcl"], k["median_ucl"]) == pytest.approx((r["median"], r["lcl"], r["ucl"]), rel=REL)
        for lm in k["landmarks"]:
            t = str(int(lm["time"]))
            assert (lm["surv"], lm["lcl"], lm["ucl"]) == pytest.approx(
                (r["surv_at"][t], r["lower_at"][t], r["upper_at"][t]), rel=REL)
    assert ours["logrank"]["chisq"] == pytest.approx(ref["logrank_chisq"], rel=REL)
    assert ours["logrank"]["p"] == pytest.approx(ref["logrank_p"], abs=1e-6)
    _hr_check(ours["cox_arm"], ref["cox_group"])
    uni = {r["term"]: r for r in ours["cox_univariate"]}
    for terms in ref["cox_univariate"].values():
        for term, r in terms.items():
            _hr_check(uni["trtTest" if term == "treat_" else term], r)
    multi = {r["term"]: r for r in ours["cox_multivariate"]}
    assert set(multi) == set(ref["cox_multivariate"])
    for term, r in ref["cox_multivariate"].items():
        _hr_check(multi[term], r)
    assert ours["ph_test"]["global_p"] == pytest.approx(ref["cox_zph_global_p"], abs=1e-6)
    if sample == "matched":
        _hr_check(ours["cox_arm_robust"], ref["cox_group_robust_pairs"])
        _hr_check(ours["cox_arm_stratified"], ref["cox_group_stratified_pairs"])
        assert ours["logrank_stratified"]["strata"] == "pair"


def test_endpoint_block_contract(vet):
    b = vet["matched"]
    assert set(b) >= {"km", "median_followup", "logrank", "logrank_stratified", "cox_arm", "cox_arm_robust",
                      "cox_arm_stratified", "cox_univariate", "cox_multivariate", "ph_test", "subgroups"}
    s = b["subgroups"][0]
    assert set(s) >= {"variable", "level", "n_treated", "n_control", "hr", "lcl", "ucl", "p", "p_interaction"}
    assert b["median_followup"]["overall"]["method"] == "reverse Kaplan-Meier"
    t = b["model_tests"]
    assert t["model"] == b["cox_selected"] and set(t) == {"model", "likelihood_ratio", "wald", "score"}
    assert t["likelihood_ratio"]["df"] == len(b["cox_multivariate"])


def test_response_table_counts_rates_and_tests():
    bor = pd.Series(["CR", "PR", "PR", "SD", "PD", None, "PR", "SD", "SD", "PD"])
    arm = pd.Series(["A"] * 5 + ["B"] * 5)
    t = response_table(bor, arm, ["A", "B"])
    assert t["n"] == {"A": 5, "B": 5}
    ne = [r for r in t["best_response"] if r["response"] == "NE"][0]
    assert ne["B"]["n"] == 1 and ne["A"]["n"] == 0  # a missing best response counts as NE, not dropped
    orr = t["rates"][0]
    assert orr["measure"] == "ORR" and orr["A"]["n"] == 3 and orr["B"]["n"] == 1
    assert (orr["A"]["lcl"], orr["A"]["ucl"]) == pytest.approx(clopper_pearson(3, 5))
    assert orr["test"] == "Fisher's exact"  # expected counts < 5
    # Clopper-Pearson against the beta quantiles
    from scipy.stats import beta
    lo, hi = clopper_pearson(7, 20)
    assert lo == pytest.approx(beta.ppf(0.025, 7, 14)) and hi == pytest.approx(beta.ppf(0.975, 8, 13))


def test_adverse_event_table_worst_grade_rows():
    g = pd.DataFrame({"fever": [0, 1, 2, 3, 0, 0], "rash": [0, 0, 4, 5, 1, None]})
    arm = pd.Series(["A", "A", "A", "B", "B", "B"])
    rows = {r["term"]: r for r in adverse_event_table(g, arm, ["A", "B"])}
    assert rows["fever"]["A"] == {"grade_1_2": 2, "grade_3_4": 0, "grade_5": 0, "any": 2, "n": 3}
    assert rows["rash"]["B"] == {"grade_1_2": 1, "grade_3_4": 0, "grade_5": 1, "any": 2, "n": 3}
    assert rows["Any adverse event"]["A"]["any"] == 2 and rows["Any adverse event"]["B"]["any"] == 2
    assert rows["Any grade 3-4"]["A"]["any"] == 1 and rows["Any grade 3-4"]["B"]["any"] == 1


def test_analyze_writes_outcome_figures_and_tables(veteran_analyze):
    r, out = veteran_analyze, veteran_analyze.out  # one analyze of veteran.yaml per session (conftest)
    assert r.exit_code == 0, r.output
    figs = {p.name for p in (out / "figures").iterdir()}
    for stem in ("km_os_full", "km_os_matched", "forest_univariable_os_matched", "forest_multivariable_os_matched",
                 "forest_subgroups_os_matched"):
        assert {f"{stem}.png", f"{stem}.svg"} <= figs
    sub = pd.read_csv(out / "subgroups_os_matched.csv")
    assert {"celltype", "age"} == set(sub["variable"])


def test_response_and_ae_through_analyze(tmp_path):
    rng = np.random.default_rng(0)
    n = 120
    df = pd.DataFrame({"id": range(n), "arm": np.where(np.arange(n) < 50, "X", "Y"), "age": rng.normal(60, 8, n),
                       "t": rng.exponential(12, n), "e": (rng.random(n) < 0.7).astype(int),
                       "bor": rng.choice(["CR", "PR", "SD", "PD"], n), "ae_fever_grade": rng.integers(0, 4, n)})
    df.to_csv(tmp_path / "d.csv", index=False)
    cfg = load_analysis_config({"data": "d.csv", "id": "id", "arm": {"column": "arm", "treated": "X", "control": "Y"},
                                "covariates": ["age"], "endpoints": [{"name": "pfs", "time": "t", "event": "e"}],
                                "response": {"column": "bor"}, "adverse_events": {"prefix": "ae_", "suffix": "_grade"}},
                               base_dir=tmp_path)
    d = analyze(cfg).to_dict()
    assert d["response"]["full"]["n"] == {"Y": 70, "X": 50}
    assert d["adverse_events"]["full"][0]["term"] == "fever"
    assert "full" in d["endpoints"]["pfs"] and "matched" not in d["endpoints"]["pfs"]
