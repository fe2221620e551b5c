"""bootstrap_intervals against boot::boot.ci(type = c("perc", "bca")) (bootstrap_ci.json).

city (boot): ratio sum(x)/sum(u), replicates recomputed in Python from boot's index matrix; lung
(survival): the log HR of sex, recomputed with OUR coxph on boot's resamples and leave-one-out samples.
BCa is checked with boot's default influence values (regression on the frequencies) and with
jackknife ones (boot.ci(..., L = empinf(b, type = "jack")))."""

import json
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from hccstudy.stats.bootstrap_ci import bootstrap_intervals, influence_regression, norm_inter
from hccstudy.stats.cox import coxph

REF = json.loads((Path(__file__).parent / "reference" / "bootstrap_ci.json").read_text())
REL = 1e-6


def _ratio(d, idx):
    x, u = np.asarray(d["x"], float), np.asarray(d["u"], float)
    return x[idx].sum(axis=-1) / u[idx].sum(axis=-1)


def _log_hr(d, idx):
    time, status, sex = (np.asarray(d["data"][k], float)[idx] for k in ("time", "status", "sex"))
    return coxph(time, status, sex).coefficients[0]


@cache
def _replicates(name):
    d = REF[name]
    idx = np.asarray(d["indices"]) - 1
    if name.startswith("city"):
        t = _ratio(d, idx)
        n = len(d["x"])
        t0 = _ratio(d, np.arange(n))
        jack = _ratio(d, np.array([np.delete(np.arange(n), i) for i in range(n)]))
    else:
        n = len(d["data"]["time"])
        t = np.array([_log_hr(d, r) for r in idx])
        t0 = _log_hr(d, np.arange(n))
        jack = np.array([_log_hr(d, np.delete(np.arange(n), i)) for i in range(n)])
    return d, idx, t0, t, jack


@pytest.fixture(params=["city", "city90", "lung"])
def case(request):
    return request.param, *_replicates(request.param)


def test_replicates_are_boots(case):
    name, d, idx, t0, t, jack = case
    assert t0 == pytest.approx(d["t0"], rel=REL)
    np.testing.assert_allclose(t, d["t"], rtol=REL)
    if "jackknife" in d:
        np.testing.assert_allclose(jack, d["jackknife"], rtol=REL)


def test_default_bca_uses_regression_influence(case):
    name, d, idx, t0, t, jack = case
    np.testing.assert_allclose(influence_regression(t, idx), d["L_reg"], rtol=REL, atol=1e-9 * np.abs(d["L_reg"]).max())
    res = bootstrap_intervals(t0, t, conf_level=d["conf"], indices=idx)
    np.testing.assert_allclose(res.percentile, d["default"]["perc"], rtol=REL)
    np.testing.assert_allclose(res.bca, d["default"]["bca"], rtol=REL)
    assert res.bias == pytest.approx(d["bias"], rel=REL)
    assert res.se == pytest.approx(d["se"], rel=REL)


@pytest.mark.parametrize("name", ["city", "lung"])
def test_bca_from_jackknife(name):
    d, idx, t0, t, jack = _replicates(name)
    res = bootstrap_intervals(t0, t, jack, conf_level=d["conf"])
    np.testing.assert_allclose(res.bca, d["with_jack"]["bca"], rtol=REL)
    same = bootstrap_intervals(t0, t, conf_level=d["conf"], influence=d["L_jack"])
    assert same.bca == pytest.approx(res.bca, rel=1e-12)


def test_norm_inter_integer_rank_and_extremes():
    t = np.arange(1.0, 20.0)  # R = 19: (R + 1) * 0.05 = 1 is an integer rank -> the smallest value
    assert norm_inter(t, np.array([0.5]))[0] == 10.0
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert list(norm_inter(t, np.array([0.01, 0.05]))) == [1.0, 1.0]
    assert any("extreme order statistics" in str(x.message) for x in w)


def test_without_influence_bca_is_nan_and_nonfinite_dropped():
    rng = np.random.default_rng(1)
    t = np.append(rng.normal(size=199), np.nan)
    res = bootstrap_intervals(0.0, t)
    assert res.n_replicates == 199 and np.isnan(res.bca).all() and np.isnan(res.acceleration)
    assert res.percentile == pytest.approx(tuple(norm_inter(t[:-1], np.array([0.025, 0.975]))))
    with pytest.raises(ValueError, match="at most one"):
        bootstrap_intervals(0.0, t, t[:5], influence=t[:5])
