"""The project's shared weighted-survival reference (tests/reference/shared/veteran.weighted_survival.json,
made by veteran_weighted.R with R 4.2.2, survival 3.5-3; a second, independently written R script beside
the issue-14 fixtures): on veteran, the glm propensity score, ATE / ATT / overlap weights, weighted coxph
(robust = TRUE) and weighted survfit per arm (median, CI, S and weighted n at risk at 30, 90, 180 days),
the unweighted RMST to 365 days and a counting-process Cox model with a time-varying covariate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hccstudy.stats.cox import coxph
from hccstudy.stats.km import kaplan_meier
from hccstudy.stats.propensity import propensity_score
from hccstudy.stats.rmst import rmst
from hccstudy.stats.weighting import iptw_weights

SHARED = Path(__file__).parent / "reference" / "shared"
F = json.loads((SHARED / "veteran.weighted_survival.json").read_text())
V = pd.read_csv(SHARED / "veteran.csv")
REL = 1e-6
ESTIMAND = {"ate": "ATE", "att": "ATT", "overlap": "ATO"}


def test_propensity_score_is_r_glm():
    assert V["rowid"].tolist() == list(range(1, 138))
    fit = propensity_score(V, (V["trt"] == 2).to_numpy(), ["karno", "diagtime", "age", "prior"])
    coef = F["iptw"]["ps_coef"]
    np.testing.assert_allclose(fit.coefficients[list(coef)].to_numpy(), list(coef.values()), rtol=REL)
    np.testing.assert_allclose(fit.fitted, F["iptw"]["ps"], rtol=REL)


@pytest.mark.parametrize("scheme", sorted(ESTIMAND))
def test_weighted_cox_and_km_equal_r(scheme):
    s = F["iptw"]["schemes"][scheme]
    treated = (V["trt"] == 2).to_numpy()
    w = iptw_weights(np.asarray(F["iptw"]["ps"]), treated, ESTIMAND[scheme])
    np.testing.assert_allclose(w, s["weights"], rtol=1e-12)
    time, status = V["time"].to_numpy(float), V["status"].to_numpy()

    fit = coxph(time, status == 1, treated.astype(float)[:, None], ["arm"], weights=w, robust=True)
    (r,) = s["cox"]["terms"].values()
    row = fit.table.iloc[0]
    for ours, key in (("coef", "coef"), ("se", "se"), ("robust_se", "robust_se"), ("hr", "hr"), ("lcl", "lo"),
                      ("ucl", "hi"), ("z", "z")):
        assert row[ours] == pytest.approx(r[key], rel=REL), key
    assert row["p"] == pytest.approx(r["p"], abs=1e-6)
    np.testing.assert_allclose(fit.loglik, s["cox"]["loglik"], rtol=REL)
    assert (fit.n, fit.n_events, fit.ties) == (s["cox"]["n"], s["cox"]["nevent"], s["cox"]["ties"])

    landmarks = F["landmarks"]
    # survfit(~ trt, weights = w) decides robust once for the whole call (any weight not an integer), so
    # under ATT the treated arm (all weights 1) gets the infinitesimal-jackknife SE too; per arm,
    # kaplan_meier's own rule would give it Greenwood: the caller passes R's whole-call rule
    robust = bool((w != np.floor(w)).any())
    for arm in (1, 2):
        k = s["km"][f"trt={arm}"]
        a = V["trt"].to_numpy() == arm
        km = kaplan_meier(time[a], status[a], weights=w[a], robust=robust)
        assert km.variance == "robust"
        t = km.table
        assert t["n_risk"].iloc[0] == pytest.approx(k["n_start"], rel=REL)
        assert t["n_event"].sum() == pytest.approx(k["events"], rel=REL)
        assert km.median == pytest.approx((k["median"], k["lcl"], k["ucl"]), rel=REL)
        at = km.surv_at(landmarks)
        for col in ("surv", "lower", "upper", "n_risk"):
            ref = [k[f"{col}_at"][str(x)] for x in landmarks]
            np.testing.assert_allclose(at[col].to_numpy(float), ref, rtol=REL, err_msg=f"trt={arm} {col}")


def test_rmst_365_equals_r():
    r = F["rmst"]
    for arm in (1, 2):
        a = V["trt"] == arm
        res = rmst(V.loc[a, "time"].to_numpy(float), V.loc[a, "status"].to_numpy(), r["tau"])
        ref = r[f"trt={arm}"]
        assert (res.rmst, res.se) == pytest.approx((ref["rmean"], ref["se_rmean"]), rel=REL)


def test_counting_process_cox_with_time_varying_covariate_equals_r():
    c = F["counting_process_cox"]
    d = c["data"]
    row = np.asarray(d["rowid"]) - 1                 # baseline covariates carried to every (tstart, tstop] row
    X = np.column_stack([d["tx"], V["age"].to_numpy(float)[row], V["karno"].to_numpy(float)[row]])
    fit = coxph(np.asarray(d["tstop"], float), np.asarray(d["status"]) == 1, X, ["tx", "age", "karno"],
                start=np.asarray(d["tstart"], float))
    tb = fit.table.set_index("term")
    for term, r in c["cox"]["terms"].items():
        for ours, key in (("coef", "coef"), ("se", "se"), ("hr", "hr"), ("lcl", "lo"), ("ucl", "hi"), ("z", "z")):
            assert tb.loc[term, ours] == pytest.approx(r[key], rel=REL), (term, key)
        assert tb.loc[term, "p"] == pytest.approx(r["p"], abs=1e-6)
        assert "robust_se" not in tb.columns
    np.testing.assert_allclose(fit.loglik, c["cox"]["loglik"], rtol=REL)
    assert (fit.n, fit.n_events) == (c["cox"]["n"], c["cox"]["nevent"]) == (c["n_rows"], 128)
