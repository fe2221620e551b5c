"""R survival 3.5 parity (fixtures: tests/reference/survival_fixtures.R -> survival_fixtures.json) and the
edge cases of the outcome layer."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hccstudy.stats.cox import cox_zph, coxph
from hccstudy.stats.km import kaplan_meier, median_followup
from hccstudy.stats.logrank import logrank_test
from hccstudy.stats.propensity import design_matrix
from hccstudy.stats.subgroup import fit_cox, subgroup_analysis, univariable_then_multivariable

REF = Path(__file__).parent / "reference"
F = json.loads((REF / "survival_fixtures.json").read_text())
REL = 1e-6


@pytest.fixture(scope="module")
def lung():
    d = pd.read_csv(REF / "shared" / "lung.csv")
    d["event"] = (d["status"] == 2).astype(int)
    d["month"] = np.ceil(d["time"] / 30.4375)
    return d


def _close(a, b, rel=REL):
    a = np.asarray(a, dtype=float)
    b = np.asarray([np.nan if v is None else v for v in np.atleast_1d(b)], dtype=float)
    np.testing.assert_allclose(a, b, rtol=rel, atol=1e-12, equal_nan=True)


def _km_check(km, ref):
    t = km.table
    for col, key in [("time", "time"), ("n_risk", "n_risk"), ("n_event", "n_event"), ("n_censor", "n_censor"),
                     ("surv", "surv"), ("std_err", "std_err"), ("lower", "lower"), ("upper", "upper")]:
        vals = t[col].to_numpy(dtype=float)
        r = np.array([np.inf if v == 1e999 else (np.nan if v is None else v) for v in ref[key]], dtype=float)
        np.testing.assert_allclose(vals, r, rtol=REL, equal_nan=True, err_msg=col)
    _close(km.median, [ref["median"], ref["lcl"], ref["ucl"]])
    if "at" in ref:
        at = km.surv_at(ref["at"]["times"])
        _close(at["surv"], ref["at"]["surv"])
        _close(at["lower"], ref["at"]["lower"])
        _close(at["upper"], ref["at"]["upper"])
        assert at["n_risk"].tolist() == ref["at"]["n_risk"]


@pytest.mark.parametrize(("key", "sex", "conf"), [("km_sex1", 1, "log"), ("km_sex2", 2, "log"),
                                                  ("km_sex1_loglog", 1, "log-log"), ("km_sex1_plain", 1, "plain")])
def test_kaplan_meier_equals_survfit(lung, key, sex, conf):
    s = lung[lung["sex"] == sex]
    _km_check(kaplan_meier(s["time"], s["event"], conf_type=conf), F["lung"][key])


def test_km_with_heavy_ties(lung):
    s = lung[lung["sex"] == 1]
    _km_check(kaplan_meier(s["month"], s["event"]), F["ties"]["km"])


def test_reverse_km_median_followup(lung):
    assert median_followup(lung["time"], lung["event"])[0] == F["lung"]["reverse_km_median"]


@pytest.mark.parametrize(("key", "group", "rho", "strata", "time"), [
    ("logrank", "sex", 0, None, "time"), ("logrank_rho1", "sex", 1, None, "time"),
    ("logrank_ecog", "ph.ecog", 0, None, "time"), ("logrank_strat", "sex", 0, "ph.ecog", "time")])
def test_logrank_equals_survdiff(lung, key, group, rho, strata, time):
    d = lung.dropna(subset=[group] + ([strata] if strata else []))
    r = logrank_test(d[time], d["event"], d[group], strata=None if strata is None else d[strata], rho=rho)
    ref = F["lung"][key]
    assert r.chisq == pytest.approx(ref["chisq"], rel=REL)
    assert r.p == pytest.approx(ref["p"], abs=1e-6)
    g = len(r.groups)
    # stratified: R gives group x stratum matrices (column-major); ours are summed over strata
    _close(r.groups["observed"], np.reshape(ref["obs"], (-1, g)).sum(axis=0))
    _close(r.groups["expected"], np.reshape(ref["exp"], (-1, g)).sum(axis=0))


def test_logrank_heavy_ties(lung):
    r = logrank_test(lung["month"], lung["event"], lung["sex"])
    assert r.chisq == pytest.approx(F["ties"]["logrank"]["chisq"], rel=REL)


def _cox_check(fit, ref, robust=False):
    _close(fit.coefficients, ref["coef"])
    _close(fit.se, ref["se"])
    if robust:
        _close(np.sqrt(np.diag(fit.robust_var)), ref["robust_se"])
    _close(fit.loglik, ref["loglik"])
    assert fit.lr_test[0] == pytest.approx(ref["lr"], rel=REL)
    assert fit.wald_test[0] == pytest.approx(ref["wald"], rel=REL)
    assert fit.score_test == pytest.approx(ref["score"], rel=REL)
    np.testing.assert_allclose(fit.table["p"], ref["p"], atol=1e-6)


def test_cox_efron_breslow_robust_cluster_strata(lung):
    cc = lung.dropna(subset=["age", "sex", "ph.ecog"]).reset_index(drop=True)
    X = cc[["age", "sex", "ph.ecog"]].to_numpy()
    names = ["age", "sex", "ph.ecog"]
    _cox_check(coxph(cc["time"], cc["event"], X, names), F["lung"]["cox_efron"])
    _cox_check(coxph(cc["time"], cc["event"], X, names, ties="breslow"), F["lung"]["cox_breslow"])
    _cox_check(coxph(cc["time"], cc["event"], X, names, cluster=np.arange(len(cc))), F["lung"]["cox_robust"], robust=True)
    ci = cc.dropna(subset=["inst"])
    _cox_check(coxph(ci["time"], ci["event"], ci[names].to_numpy(), names, cluster=ci["inst"].to_numpy()),
               F["lung"]["cox_cluster_inst"], robust=True)
    _cox_check(coxph(ci["time"], ci["event"], ci[["age", "sex"]].to_numpy(), ["age", "sex"], strata=ci["inst"].to_numpy()),
               F["lung"]["cox_strata_inst"])


def test_cox_with_factor_and_heavy_ties(lung):
    cc = lung.dropna(subset=["age", "sex", "ph.ecog"]).assign(ecogf=lambda d: d["ph.ecog"].astype(int).astype(str))
    X, names, terms = design_matrix(cc, ["age", "sex", "ecogf"], ["ecogf"], intercept=False)
    fit = coxph(cc["time"], cc["event"], X, names)
    assert names == F["lung"]["cox_factor"]["names"]
    _cox_check(fit, F["lung"]["cox_factor"])
    z = cox_zph(fit, terms).table
    assert z["term"].tolist() == F["lung"]["zph_factor"]["terms"]
    _close(z["chisq"], F["lung"]["zph_factor"]["chisq"])
    assert z["df"].tolist() == F["lung"]["zph_factor"]["df"]
    X2 = lung[["age", "sex"]].to_numpy()
    _cox_check(coxph(lung["month"], lung["event"], X2, ["age", "sex"]), F["ties"]["cox_efron"])
    _cox_check(coxph(lung["month"], lung["event"], X2, ["age", "sex"], ties="breslow"), F["ties"]["cox_breslow"])
    _cox_check(coxph(lung["month"], lung["event"], X2, ["age", "sex"], cluster=np.arange(len(lung))),
               F["ties"]["cox_robust"], robust=True)
    _close(cox_zph(coxph(lung["month"], lung["event"], X2, ["age", "sex"])).table["chisq"], F["ties"]["zph"]["chisq"])


def test_cox_zph_equals_r(lung):
    cc = lung.dropna(subset=["age", "sex", "ph.ecog"])
    fit = coxph(cc["time"], cc["event"], cc[["age", "sex", "ph.ecog"]].to_numpy(), ["age", "sex", "ph.ecog"])
    z = cox_zph(fit).table
    _close(z["chisq"], F["lung"]["zph"]["chisq"])
    np.testing.assert_allclose(z["p"], F["lung"]["zph"]["p"], atol=1e-6)


def test_veteran_factor_model_and_zph():
    vet = pd.read_csv(REF / "shared" / "veteran.csv")
    X, names, terms = design_matrix(vet, ["trt", "karno", "celltype"], ["celltype"], intercept=False)
    fit = coxph(vet["time"], vet["status"], X, names)
    _cox_check(fit, F["veteran"]["cox"])
    _close(cox_zph(fit, terms).table["chisq"], F["veteran"]["zph"]["chisq"])


def test_interaction_p_values(lung):
    cc = lung.dropna(subset=["age", "sex", "ph.ecog"]).assign(female=lambda d: (d["sex"] == 2).astype(int),
                                                               ecogf=lambda d: d["ph.ecog"].astype(int).astype(str))
    rows = subgroup_analysis(cc, "time", "event", "female", [{"variable": "age", "cut": 60}, "ecogf"])
    by = {r["variable"]: r["p_interaction"] for r in rows}
    assert by["age"] == pytest.approx(F["lung"]["interaction_wald_p"], abs=1e-6)
    assert by["ecogf"] == pytest.approx(F["lung"]["interaction_lr_p"], abs=1e-6)
    absent = [r for r in rows if r["variable"] == "ecogf" and r["level"] == "3"][0]
    assert np.isnan(absent["hr"]) and "one arm absent" in absent["note"]  # reported, not a crash


# ------------------------------------------------------------------ edge cases
def test_no_events_in_an_arm_gives_infinite_hr_with_warning():
    t = np.arange(1, 21, dtype=float)
    arm = np.r_[np.zeros(10), np.ones(10)]
    ev = np.r_[np.ones(10), np.zeros(10)]  # the second arm has no events
    with pytest.warns(RuntimeWarning, match="coefficient may be infinite"):
        fit = coxph(t, ev, arm[:, None], ["arm"])
    assert fit.infinite == (True,)
    assert fit.table["hr"].iloc[0] < 1e-3
    km = kaplan_meier(t[arm == 1], ev[arm == 1])
    assert km.median == (pytest.approx(np.nan, nan_ok=True),) * 3 or all(np.isnan(km.median))
    assert (km.table["surv"] == 1).all()


def test_all_censored_and_median_not_reached():
    t = np.array([1.0, 2, 3, 4])
    km = kaplan_meier(t, np.zeros(4))
    assert all(np.isnan(km.median)) and (km.table["surv"] == 1).all()
    lr = logrank_test(t, np.zeros(4), np.array([0, 0, 1, 1]))
    assert lr.chisq == 0 and np.isnan(lr.p)
    m = fit_cox(pd.DataFrame({"t": t, "e": np.zeros(4), "a": [0.0, 0, 1, 1]}), "t", "e", ["a"])
    assert m.fit is None and m.warnings
    km2 = kaplan_meier([1.0, 2, 3, 4, 5], [1, 0, 0, 0, 0])  # S stays at 0.8
    assert np.isnan(km2.median[0])


def test_single_patient_at_risk_at_the_end():
    km = kaplan_meier([1.0, 2, 3], [1, 1, 1])
    t = km.table
    assert t["surv"].iloc[-1] == 0 and np.isinf(t["std_err"].iloc[-1])
    assert np.isnan(t["lower"].iloc[-1]) and np.isnan(t["upper"].iloc[-1])  # R: NA where S = 0
    assert km.median[0] == 2.0


def test_constant_covariate_is_dropped_and_reported():
    rng = np.random.default_rng(2)
    d = pd.DataFrame({"t": rng.exponential(10, 50), "e": (rng.random(50) < 0.7).astype(int),
                      "a": (rng.random(50) < 0.5).astype(float), "c": 1.0})
    m = fit_cox(d, "t", "e", ["a", "c"])
    assert m.dropped == ["c"] and m.fit.names == ["a"]
    uni, multi, sel = univariable_then_multivariable(d, "t", "e", ["a", "c"], select_p=1.0)
    assert [r["term"] for r in uni] == ["a"] and sel == ["a"]


def test_non_convergence_warns():
    t = np.arange(1, 11, dtype=float)
    x = np.arange(10, dtype=float)[:, None]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = coxph(t, np.ones(10), x * 50, ["x"], iter_max=1)
    assert not fit.converged
    assert any("did not converge" in str(w.message) for w in caught)
