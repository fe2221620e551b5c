"""Weighted Kaplan–Meier against R ``survfit(Surv(t, e) ~ 1, weights = w)`` (survival 3.5-3; fixtures:
tests/reference/km_weighted.R -> km_weighted.json: lung, veteran, colon with IPT weights from a glm
propensity score, plus frequency weights on lung)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hccstudy.stats.km import kaplan_meier
from hccstudy.stats.weighting import iptw_weights

REF = Path(__file__).parent / "reference"
F = json.loads((REF / "km_weighted.json").read_text())
REL = 1e-6
SETS = ["lung", "veteran", "colon"]


def _arr(v):
    return np.array([np.nan if x is None else x for x in v], dtype=float)


def _check(km, ref, conf=("log",)):
    t = km.table
    for col in ("time", "n_risk", "n_event", "n_censor", "surv"):
        np.testing.assert_allclose(t[col].to_numpy(dtype=float), _arr(ref[col]), rtol=REL, err_msg=col)
    # R stores se(S) for the robust fit (logse = FALSE), se(log S) for Greenwood; std_err is always log-scale
    se = t["std_err"].to_numpy() * (1.0 if ref["logse"] else t["surv"].to_numpy())
    np.testing.assert_allclose(se, _arr(ref["std_err"]), rtol=REL, atol=1e-15, err_msg="std_err")
    for col in ("lower", "upper"):
        np.testing.assert_allclose(t[col].to_numpy(dtype=float), _arr(ref[col]), rtol=REL, equal_nan=True, err_msg=col)


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("estimand", ["ATE", "ATO"])
def test_weights_from_r_ps_equal_r_weights(name, estimand):
    d = F[name]
    w = iptw_weights(_arr(d["ps"]), np.array(d["arm"]) == 1, estimand)
    np.testing.assert_allclose(w, _arr(d["weighted"][estimand]["w"]), rtol=1e-12)


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("estimand", ["ATE", "ATO"])
@pytest.mark.parametrize("arm", [0, 1])
def test_weighted_km_equals_survfit_robust(name, estimand, arm):
    d = F[name]
    s = np.array(d["arm"]) == arm
    w = _arr(d["weighted"][estimand]["w"])[s]
    time, status = _arr(d["time"])[s], np.array(d["status"])[s]
    ref = d["weighted"][estimand][f"arm{arm}"]
    assert ref["log"]["logse"] is False  # non-integer weights: survfit's robust (IJ) variance
    _check(kaplan_meier(time, status, weights=w), ref["log"])
    for conf, key in (("log-log", "loglog"), ("plain", "plain")):
        t = kaplan_meier(time, status, conf_type=conf, weights=w).table
        for col in ("lower", "upper"):
            np.testing.assert_allclose(t[col].to_numpy(dtype=float), _arr(ref[key][col]), rtol=REL,
                                       equal_nan=True, err_msg=f"{conf} {col}")


def test_frequency_weights_use_greenwood_on_weighted_counts():
    d = F["lung"]
    ref = d["freq"]["km"]
    assert ref["logse"] is True
    km = kaplan_meier(_arr(d["time"]), np.array(d["status"]), weights=np.array(d["freq"]["w"], dtype=float))
    _check(km, ref)


def test_frequency_weights_equal_replicated_rows():
    """Whole-number weights are frequency weights: the same curve as the rows repeated."""
    d = F["lung"]
    time, status, fw = _arr(d["time"]), np.array(d["status"]), np.array(d["freq"]["w"])
    a = kaplan_meier(time, status, weights=fw.astype(float)).table
    b = kaplan_meier(np.repeat(time, fw), np.repeat(status, fw)).table
    for col in ("n_risk", "n_event", "surv", "std_err", "lower", "upper"):
        np.testing.assert_allclose(a[col].to_numpy(dtype=float), b[col].to_numpy(dtype=float), rtol=1e-12)


def test_unit_weights_give_the_unweighted_curve_and_robust_flag_switches_variance():
    d = F["veteran"]
    time, status = _arr(d["time"]), np.array(d["status"])
    a = kaplan_meier(time, status).table
    b = kaplan_meier(time, status, weights=np.ones(len(time))).table
    np.testing.assert_allclose(b["std_err"], a["std_err"], rtol=1e-12)
    c = kaplan_meier(time, status, weights=np.ones(len(time)), robust=True).table
    np.testing.assert_allclose(c["surv"], a["surv"], rtol=1e-12)
    assert not np.allclose(c["std_err"].to_numpy()[5:], a["std_err"].to_numpy()[5:], rtol=1e-6)


def test_zero_weights_keep_their_times_and_add_nothing():
    time = np.array([1.0, 2, 3, 4, 5, 6])
    event = np.array([1, 1, 0, 1, 1, 0])
    w = np.array([0.5, 0.0, 1.5, 2.0, 0.7, 1.1])
    t = kaplan_meier(time, event, weights=w).table
    assert t["time"].tolist() == time.tolist()
    assert t.loc[1, "n_event"] == 0.0 and t.loc[1, "surv"] == t.loc[0, "surv"]
    drop = kaplan_meier(time[w > 0], event[w > 0], weights=w[w > 0]).table.set_index("time")
    np.testing.assert_allclose(t.set_index("time").loc[drop.index, "std_err"], drop["std_err"], rtol=1e-12)


@pytest.mark.parametrize(("w", "msg"), [([1.0, -1, 1], "non-negative"), ([1.0, np.nan, 1], "finite"),
                                        ([1.0, 1], "one value per observation")])
def test_bad_weights_are_refused(w, msg):
    with pytest.raises(ValueError, match=msg):
        kaplan_meier([1.0, 2, 3], [1, 0, 1], weights=np.array(w))


def test_weighted_curve_reports_its_variance_and_reads_at_times():
    d = F["lung"]
    s = np.array(d["arm"]) == 1
    w = _arr(d["weighted"]["ATE"]["w"])[s]
    km = kaplan_meier(_arr(d["time"])[s], np.array(d["status"])[s], weights=w)
    assert km.variance == "robust" and kaplan_meier([1.0, 2], [1, 0]).variance == "greenwood"
    assert kaplan_meier([1.0, 2], [1, 0], weights=np.array([2.0, 1.0])).variance == "greenwood"
    t = km.table
    at = km.surv_at([t["time"].iloc[3], t["time"].iloc[3] + 1e-9])
    assert at["surv"].tolist() == [t["surv"].iloc[3]] * 2
    assert at["n_risk"].iloc[0] == t["n_risk"].iloc[3] and at["n_risk"].iloc[1] == t["n_risk"].iloc[4]
    assert 0 < km.median[0] < t["time"].max()


def test_all_zero_weights_are_refused():
    with pytest.raises(ValueError, match="all zero"):
        kaplan_meier([1.0, 2, 3], [1, 0, 1], weights=np.zeros(3))


@pytest.mark.parametrize("case", ["to_zero", "carried", "ties"])
def test_weighted_km_edges_equal_survfit(case):
    """S reaching 0 (se(S) = 0 in R), weight-0 units after the last weighted time (n at risk 0: carried
    forward), tied event and censoring times."""
    from hccstudy.stats.rmst import rmst

    e = F["edges"][case]
    time, status, w = _arr(e["input"]["time"]), np.array(e["input"]["status"]), _arr(e["input"]["w"])
    _check(kaplan_meier(time, status, weights=w), e)
    t = kaplan_meier(time, status, conf_type="plain", weights=w).table
    for col in ("lower", "upper"):
        np.testing.assert_allclose(t[col].to_numpy(dtype=float), _arr(e["plain"][col]), rtol=REL, equal_nan=True)
    r = rmst(time, status, e["rmst"]["tau"], weights=w)
    np.testing.assert_allclose([r.rmst, r.se], [e["rmst"]["rmst"], e["rmst"]["se"]], rtol=REL)
