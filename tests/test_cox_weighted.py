"""Weighted Cox regression and its robust variance against R ``coxph(..., weights = w, robust = )`` on
lung and veteran with IPTW weights (fixtures: tests/reference/cox_weighted.R), plus the properties that
hold without R: shared risk sets, frequency weights = replicated rows (Breslow), bad weights refused."""

from __future__ import annotations

import numpy as np
import pytest

from cox_cases import check_case, fit_case, load_cases
from hccstudy.stats.cox import cox_zph, coxph, risk_sets

CASES = load_cases("cox_weighted.json")


@pytest.mark.parametrize("name", sorted(CASES))
def test_weighted_cox_matches_r(name):
    check_case(fit_case(CASES[name]), CASES[name]["r"])


def _sample(n=400, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    time = np.round(rng.exponential(np.exp(-0.5 * X[:, 0])), 1) + 0.1   # heavy ties
    event = rng.random(n) < 0.7
    return time, event, X, rng.uniform(0.2, 3.0, n), rng.integers(0, 3, n)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_shared_risk_sets_give_the_same_weighted_fit(ties):
    time, event, X, w, s = _sample()
    rs = risk_sets(time, event, s, ties)
    alone = coxph(time, event, X, strata=s, weights=w, ties=ties)
    shared = coxph(time, event, X, strata=s, weights=w, ties=ties, risk_sets=rs)
    np.testing.assert_array_equal(alone.coefficients, shared.coefficients)
    np.testing.assert_array_equal(alone.robust_var, shared.robust_var)


def test_frequency_weights_equal_replicated_rows_breslow():
    """Breslow's likelihood with integer weights is that of the rows repeated (Efron's is not: the tie
    correction sees d tied events, not sum of weights)."""
    time, event, X, _, _ = _sample()
    k = np.arange(len(time)) % 3 + 1
    weighted = coxph(time, event, X, weights=k, ties="breslow")
    rep = np.repeat(np.arange(len(time)), k)
    replicated = coxph(time[rep], event[rep], X[rep], ties="breslow")
    np.testing.assert_allclose(weighted.coefficients, replicated.coefficients, rtol=1e-10)
    np.testing.assert_allclose(weighted.var, replicated.var, rtol=1e-10)
    np.testing.assert_allclose(weighted.loglik, replicated.loglik, rtol=1e-12)
    assert weighted.robust_var is None          # integer weights: R's default is not robust


def test_unit_weights_equal_the_unweighted_fit():
    time, event, X, _, s = _sample()
    a = coxph(time, event, X, strata=s, cluster=s)
    b = coxph(time, event, X, strata=s, cluster=s, weights=np.ones(len(time)))
    np.testing.assert_allclose(a.coefficients, b.coefficients, rtol=1e-12)
    np.testing.assert_allclose(a.robust_var, b.robust_var, rtol=1e-10)


def test_bad_weights_and_ignored_cluster():
    time, event, X, w, s = _sample(50)
    for bad in (np.where(np.arange(50) == 7, 0.0, w), np.where(np.arange(50) == 7, np.nan, w), w[:-1]):
        with pytest.raises(ValueError, match="weights: needs one finite weight > 0 per row"):
            coxph(time, event, X, weights=bad)
    with pytest.warns(RuntimeWarning, match="cluster ignored"):
        fit = coxph(time, event, X, cluster=s, robust=False)
    assert fit.robust_var is None and "robust_se" not in fit.table


def test_cox_zph_refuses_weighted_and_counting_fits():
    time, event, X, w, _ = _sample(80)
    for fit in (coxph(time, event, X, weights=w), coxph(time, event, X, start=np.zeros(80))):
        with pytest.raises(ValueError, match="unweighted right-censored fits only"):
            cox_zph(fit)
