"""MatchIt 4.5.4 parity on ten nearest-neighbour variants of lalonde (``lalonde.matchit_variants.json``,
made by ``tests/reference/shared/lalonde_variants.R``): m.order largest/smallest/data, calipers 0.1/0.2,
ratio 2 and 3 (3 runs out of controls), with replacement (1:1 and 1:2 with a caliper) and
discard = "both".  Pairs identical as sets; weights, sample sizes and every ``summary(m, un = TRUE)``
statistic (means, SMD, variance ratio, eCDF mean/max, std. pair distance) to 1e-6 relative."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hccstudy.stats.balance import balance_table, balance_terms, sample_sizes
from hccstudy.stats.matching import nearest_neighbor
from hccstudy.stats.propensity import propensity_score

SHARED = Path(__file__).parent / "reference" / "shared"
REF = json.loads((SHARED / "lalonde.matchit_variants.json").read_text())
COVARIATES = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
REL = 1e-6
STATS = {"Means Treated": "mean_treated", "Means Control": "mean_control", "Std. Mean Diff.": "smd",
         "Var. Ratio": "var_ratio", "eCDF Mean": "ecdf_mean", "eCDF Max": "ecdf_max",
         "Std. Pair Dist.": "pair_distance"}


@pytest.fixture(scope="module")
def lalonde():
    df = pd.read_csv(SHARED / "lalonde.csv")
    treated = (df["treat"] == 1).to_numpy()
    fit = propensity_score(df, treated, COVARIATES, ["race"])
    return df, treated, fit


def _match(lalonde, args):
    df, treated, fit = lalonde
    return nearest_neighbor(fit.fitted, treated, caliper=args.get("caliper"), std_caliper=args.get("std.caliper", True),
                            ratio=args.get("ratio", 1), order=args.get("m.order", "largest"),
                            discard=args.get("discard", "none"), replace=args.get("replace", False))


def test_propensity_coefficients(lalonde):
    _, _, fit = lalonde
    for k, v in REF["ps_coef"].items():
        assert fit.coefficients[k] == pytest.approx(v, rel=REL)


def test_identical_covariates_give_identical_scores(lalonde):
    """Ties must survive the fit: rows with the same covariates get bit-identical scores, otherwise
    the tie rule of the matcher (ratio 3 on lalonde) picks other controls than MatchIt."""
    df, _, fit = lalonde
    key = df[COVARIATES].astype(str).agg("|".join, axis=1)
    spread = pd.Series(fit.fitted).groupby(key.to_numpy()).agg(lambda s: s.max() - s.min())
    assert (spread == 0).all()


@pytest.mark.parametrize("name", list(REF["variants"]))
def test_pairs_weights_and_sample_sizes(lalonde, name):
    v = REF["variants"][name]
    df, treated, _ = lalonde
    m = _match(lalonde, v["args"])
    ids = df["id"].to_numpy()
    ours = sorted((ids[a], ids[b]) for a, b in zip(m.pairs["treated"], m.pairs["control"], strict=True))
    assert ours == sorted(tuple(p) for p in v["pairs"])
    if v["caliper_distance_units"] is None:
        assert m.caliper_width is None
    else:
        assert m.caliper_width == pytest.approx(v["caliper_distance_units"], rel=REL)
    w = {ids[i]: m.weights[i] for i in np.flatnonzero(m.weights)}
    assert set(w) == set(v["weights"])
    for k, x in v["weights"].items():
        assert w[k] == pytest.approx(x, rel=REL), k
    assert int(m.units["discarded"][treated].sum()) == v["n_discarded_treated"]
    assert int(m.units["discarded"][~treated].sum()) == v["n_discarded_control"]
    sizes = sample_sizes(treated, m.units["matched"], m.units["discarded"], m.weights).set_index("sample")
    for ours_row, r_row in (("all", "All"), ("matched", "Matched"), ("matched (ESS)", "Matched (ESS)"),
                            ("unmatched", "Unmatched"), ("discarded", "Discarded")):
        assert sizes.loc[ours_row, "control"] == pytest.approx(v["nn"][r_row]["Control"], rel=REL), ours_row
        assert sizes.loc[ours_row, "treated"] == pytest.approx(v["nn"][r_row]["Treated"], rel=REL), ours_row


@pytest.mark.parametrize("name", list(REF["variants"]))
def test_summary_balance_before_and_after(lalonde, name):
    v = REF["variants"][name]
    df, treated, fit = lalonde
    m = _match(lalonde, v["args"])
    bal = balance_table(balance_terms(df, COVARIATES, ["race"]), treated, m.weights, fit.fitted,
                        pairs=(m.pairs["treated"].to_numpy(), m.pairs["control"].to_numpy())).set_index("term")
    assert list(bal.index) == list(v["sum_matched"])
    checked = 0
    for section, suffix in (("sum_all", "_before"), ("sum_matched", "_after")):
        for term, row in v[section].items():
            for r_name, ours in STATS.items():
                col = ours + suffix
                expected = row[r_name]
                if col not in bal.columns:  # no pair distance before matching
                    assert expected is None
                    continue
                got = bal.loc[term, col]
                if expected is None:
                    assert np.isnan(got), (section, term, r_name)
                else:
                    assert got == pytest.approx(expected, rel=REL, abs=1e-12), (section, term, r_name)
                    checked += 1
    assert checked > 100


def test_ratio_three_runs_out_of_controls_like_matchit(lalonde):
    """185 treated x 3 > 429 controls: every control is used, later treated units get fewer."""
    _, treated, _ = lalonde
    m = _match(lalonde, {"ratio": 3})
    per_treated = m.pairs.groupby("treated").size()
    assert m.pairs["control"].is_unique and len(m.pairs) == (~treated).sum()
    assert per_treated.min() == 2 and per_treated.max() == 3
    assert m.warnings and "not all treated units got 3 matches" in m.warnings[0]
