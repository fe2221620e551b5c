"""IPT weights (WeightIt's formulas), Kish ESS and cobalt-style weighted balance, against R
(tests/reference/weighting.R -> weighting.json: MatchIt::lalonde and survival::veteran, PS from glm;
cobalt/WeightIt are not installed, their formulas are written out in the R script)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hccstudy.stats.balance import balance_terms, weighted_balance
from hccstudy.stats.weighting import effective_sample_size, iptw, iptw_weights, trim_mask

REF = Path(__file__).parent / "reference"
F = json.loads((REF / "weighting.json").read_text())
REL = 1e-6
SETS = ["lalonde", "veteran"]
ESTIMANDS = ["ATE", "ATT", "ATC", "ATO"]


def _arr(v):
    return np.array([np.nan if x is None else x for x in v], dtype=float)


def _set(name):
    d = F[name]
    return _arr(d["ps"]), np.array(d["treat"]) == 1, d


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("estimand", ESTIMANDS)
def test_weights_equal_r(name, estimand):
    ps, t, d = _set(name)
    ref = d["estimands"][estimand]
    np.testing.assert_allclose(iptw_weights(ps, t, estimand), _arr(ref["w"]), rtol=1e-12)
    np.testing.assert_allclose(iptw_weights(ps, t, estimand, stabilize=True), _arr(ref["w_stabilized"]), rtol=1e-12)
    W = iptw(ps, t, estimand, trim=tuple(d["trim"]))
    assert W.trimmed_mask.tolist() == d["trimmed"]
    np.testing.assert_allclose(W.w, _arr(ref["w_trimmed"]), rtol=1e-12)
    np.testing.assert_allclose(iptw_weights(ps, t, estimand, stabilize=True, trim=tuple(d["trim"])),
                               _arr(ref["w_trimmed_stabilized"]), rtol=1e-12)
    np.testing.assert_allclose([W.ess_treated, W.ess_control],
                               [ref["ess_trimmed_treated"], ref["ess_trimmed_control"]], rtol=1e-12)
    U = iptw(ps, t, estimand)
    np.testing.assert_allclose([U.ess_treated, U.ess_control], [ref["ess_treated"], ref["ess_control"]], rtol=1e-12)
    assert U.n_trimmed == 0 and W.n_trimmed == sum(d["trimmed"]) > 0


def test_weight_formulas_by_hand():
    ps = np.array([0.2, 0.5, 0.8, 0.25])
    t = np.array([True, False, True, False])
    assert iptw_weights(ps, t, "ATE").tolist() == pytest.approx([5, 2, 1.25, 4 / 3])
    assert iptw_weights(ps, t, "ATT").tolist() == pytest.approx([1, 1, 1, 1 / 3])
    assert iptw_weights(ps, t, "ATC").tolist() == pytest.approx([4, 1, 0.25, 1])
    assert iptw_weights(ps, t, "ATO").tolist() == pytest.approx([0.8, 0.5, 0.2, 0.25])
    assert iptw_weights(ps, t, "ATE", stabilize=True).tolist() == pytest.approx([2.5, 1, 0.625, 2 / 3])
    assert effective_sample_size([1, 1, 1, 1]) == 4.0
    assert effective_sample_size([2, 0, 0, 0]) == 1.0
    assert effective_sample_size([0.0, 0.0]) == 0.0


def test_trimming_keeps_units_on_the_cut_offs_and_quantiles_are_type_7():
    ps = np.linspace(0.1, 0.9, 11)
    m = trim_mask(ps, (0.1, 0.9))  # type-7 quantiles fall exactly on the 2nd and 10th values
    assert m.tolist() == [True] + [False] * 9 + [True]
    assert not trim_mask(ps, (0.0, 1.0)).any()
    # the case above is the same mask for most quantile types; this one is not: type 7 puts the cut-offs
    # at 0.1 + 0.2 x 0.2 = 0.14 and 0.5 + 0.2 x 0.2 = 0.54 (h = (n - 1) p = 0.2 and 2.2), so 0.1 is trimmed;
    # hazen, weibull, types 8/9, inverted_cdf, lower, nearest keep 0.1, higher keeps 0.7, interpolated_inverted_cdf
    # trims 0.5 (midpoint interpolates inside the same gap as type 7: always the same mask)
    assert trim_mask([0.1, 0.3, 0.5, 0.7, 0.9], (0.05, 0.55)).tolist() == [True, False, False, True, True]


@pytest.mark.parametrize(("call", "msg"), [
    (lambda: iptw_weights([0.5, 1.0], [1, 0]), "strictly between 0 and 1"),
    (lambda: iptw_weights([0.5, np.nan], [1, 0]), "missing"),
    (lambda: iptw_weights([0.5, 0.4], [1, 2]), "boolean or 0/1"),
    (lambda: iptw_weights([0.5, 0.4], [1, 0], "ATM"), "estimand must be one of"),
    (lambda: iptw_weights([0.5, 0.4], [1, 0, 1]), "same length"),
    (lambda: iptw_weights([0.5, 0.4], [1, 0], trim=(0.9, 0.1)), "trim must be"),
])
def test_bad_input_is_refused(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()


def _terms(d):
    data = pd.DataFrame(d["data"])
    cats = [c for c in d["covariates"] if data[c].dtype == object]
    return balance_terms(data, d["covariates"], cats)


STATS = ["mean_treated", "mean_control", "smd", "diff", "var_ratio", "ecdf_mean", "ecdf_max"]


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("estimand", ESTIMANDS)
@pytest.mark.parametrize("trimmed", [False, True])
def test_weighted_balance_equals_cobalt_formulas(name, estimand, trimmed):
    ps, t, d = _set(name)
    ref = d["estimands"][estimand]["balance_trimmed" if trimmed else "balance"]
    w = iptw_weights(ps, t, estimand, trim=tuple(d["trim"]) if trimmed else None)
    bal = weighted_balance(_terms(d), t, w, estimand).set_index("term")
    assert list(bal.index) == list(ref)
    for term, r in ref.items():
        row = bal.loc[term]
        assert bool(row["binary"]) == r["binary"]
        assert row["sd_denominator"] == pytest.approx(r["sd_denominator"], rel=REL)
        for key in ("before", "after"):
            got = [row[f"{s}_{key}"] for s in STATS]
            np.testing.assert_allclose(got, _arr([r[key][s] for s in STATS]), rtol=REL, atol=1e-12,
                                       equal_nan=True, err_msg=f"{term} {key}")
        assert bool(row["flag"]) == (abs(r["after"]["smd"]) > 0.1)


def test_weighted_balance_distance_row_first_and_stabilisation_changes_nothing():
    ps, t, d = _set("lalonde")
    X = _terms(d)
    a = weighted_balance(X, t, iptw_weights(ps, t, "ATE"), "ATE", distance=ps)
    b = weighted_balance(X, t, iptw_weights(ps, t, "ATE", stabilize=True), "ATE", distance=ps)
    assert a["term"].iloc[0] == "distance"
    pd.testing.assert_frame_equal(a, b, rtol=1e-12)


def test_weighted_balance_refuses_bad_input():
    X = pd.DataFrame({"x": [1.0, 2, 3, 4]})
    t = np.array([True, True, False, False])
    with pytest.raises(ValueError, match="estimand"):
        weighted_balance(X, t, np.ones(4), "ATM")
    with pytest.raises(ValueError, match="non-negative"):
        weighted_balance(X, t, np.array([1.0, -1, 1, 1]))
    with pytest.raises(ValueError, match="one value per unit"):
        weighted_balance(X, t, np.ones(3))


@pytest.mark.parametrize("name", SETS)
def test_the_whole_chain_from_data_equals_r(name):
    """hccstudy's own propensity fit (R's glm) -> ATE weights -> balance agrees with the R chain."""
    from hccstudy.stats.propensity import propensity_score

    _, t, d = _set(name)
    data = pd.DataFrame(d["data"])
    cats = [c for c in d["covariates"] if data[c].dtype == object]
    ps = propensity_score(data, t, d["covariates"], cats).fitted
    np.testing.assert_allclose(ps, _arr(d["ps"]), rtol=1e-9)
    w = iptw_weights(ps, t, "ATE", stabilize=True)
    np.testing.assert_allclose(w, _arr(d["estimands"]["ATE"]["w_stabilized"]), rtol=1e-8)
    bal = weighted_balance(_terms(d), t, w, "ATE").set_index("term")
    ref = d["estimands"]["ATE"]["balance"]
    np.testing.assert_allclose(bal["smd_after"].to_numpy(), [ref[k]["after"]["smd"] for k in bal.index], rtol=REL)
