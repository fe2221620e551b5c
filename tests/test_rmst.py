"""RMST against R ``print(survfit(...), rmean = tau)`` (``survival:::survmean``; fixtures:
tests/reference/km_weighted.R -> km_weighted.json: lung, veteran, colon; unweighted, IPT-weighted and
frequency-weighted, two taus each)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from hccstudy.stats.km import kaplan_meier
from hccstudy.stats.rmst import default_tau, rmst, rmst_difference

REF = Path(__file__).parent / "reference"
F = json.loads((REF / "km_weighted.json").read_text())
REL = 1e-6
SETS = ["lung", "veteran", "colon"]


def _data(name, arm):
    d = F[name]
    s = np.array(d["arm"]) == arm
    return np.array(d["time"], dtype=float)[s], np.array(d["status"])[s], s


def _check(r, ref):
    assert r.tau == ref["tau"]
    np.testing.assert_allclose([r.rmst, r.se], [ref["rmst"], ref["se"]], rtol=REL)


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("arm", [0, 1])
def test_rmst_equals_survmean_unweighted(name, arm):
    time, status, _ = _data(name, arm)
    for ref in F[name]["unweighted"][f"arm{arm}"]["rmst"]:
        _check(rmst(time, status, ref["tau"]), ref)


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("estimand", ["ATE", "ATO"])
@pytest.mark.parametrize("arm", [0, 1])
def test_rmst_equals_survmean_weighted(name, estimand, arm):
    time, status, s = _data(name, arm)
    w = np.array(F[name]["weighted"][estimand]["w"], dtype=float)[s]
    for ref in F[name]["weighted"][estimand][f"arm{arm}"]["rmst"]:
        _check(rmst(time, status, ref["tau"], weights=w), ref)


def test_rmst_equals_survmean_frequency_weights():
    d = F["lung"]
    for ref in d["freq"]["rmst"]:
        _check(rmst(d["time"], d["status"], ref["tau"], weights=np.array(d["freq"]["w"], dtype=float)), ref)


def test_rmst_is_the_area_under_the_curve():
    """Independent of survmean's code: integrate the step function directly."""
    time, status, _ = _data("veteran", 1)
    tau = 200.0
    t = kaplan_meier(time, status).table
    knots = np.r_[0.0, t["time"][t["time"] < tau], tau]
    heights = np.r_[1.0, t["surv"][t["time"] < tau]]
    assert rmst(time, status, tau).rmst == pytest.approx(float(np.sum(np.diff(knots) * heights)), rel=1e-12)
    # tau beyond the last time: the last value is carried forward (as R)
    assert rmst([1.0, 2.0], [1, 0], 4.0).rmst == pytest.approx(1 + 0.5 * 3)


@pytest.mark.parametrize("name", SETS)
def test_rmst_difference_combines_the_arms(name):
    d = F[name]
    time, status, arm = np.array(d["time"], dtype=float), np.array(d["status"]), np.array(d["arm"])
    tau = d["taus"][0]
    r = rmst_difference(time, status, arm, tau)
    r1 = d["unweighted"]["arm1"]["rmst"][0]
    r0 = d["unweighted"]["arm0"]["rmst"][0]
    diff, se = r1["rmst"] - r0["rmst"], np.hypot(r1["se"], r0["se"])
    np.testing.assert_allclose([r.rmst_1, r.se_1, r.rmst_0, r.se_0], [r1["rmst"], r1["se"], r0["rmst"], r0["se"]], rtol=REL)
    np.testing.assert_allclose([r.diff, r.se], [diff, se], rtol=REL)
    z = norm.ppf(0.975)
    np.testing.assert_allclose([r.lcl, r.ucl], [diff - z * se, diff + z * se], rtol=REL)
    assert r.p == pytest.approx(2 * norm.sf(abs(diff) / se), abs=1e-6)
    w = np.array(d["weighted"]["ATE"]["w"], dtype=float)
    rw = rmst_difference(time, status, arm, tau, weights=w)
    np.testing.assert_allclose([rw.rmst_1, rw.rmst_0], [d["weighted"]["ATE"]["arm1"]["rmst"][0]["rmst"],
                                                        d["weighted"]["ATE"]["arm0"]["rmst"][0]["rmst"]], rtol=REL)


def test_default_tau_is_the_smaller_last_follow_up():
    time = np.array([1.0, 5, 7, 2, 3, 4])
    arm = np.array([1, 1, 1, 0, 0, 0])
    assert default_tau(time, arm) == 4.0
    assert rmst_difference(time, np.ones(6), arm).tau == 4.0


@pytest.mark.parametrize(("call", "msg"), [
    (lambda: rmst_difference([1.0, 2], [1, 1], [1, 1]), "both arms"),
    (lambda: rmst_difference([1.0, 2], [1, 1], [1, 1], tau=1.5), "both arms"),
    (lambda: rmst_difference([1.0, 2], [1, 1], [2, 1]), "boolean or 0/1"),
    (lambda: rmst([1.0, 2], [1, 1], 0.0), "tau must be after"),
])
def test_rmst_refuses_bad_input(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()
