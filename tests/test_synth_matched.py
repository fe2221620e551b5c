"""The matched sample by construction (hccstudy.synth.matched): its inline tests against scipy, and the
search on a hand-made cohort -- the targets are reached, every per-arm distribution is unchanged, and the
returned flags are the plan's own matching of the result."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hccstudy.synth.matched import MatchedSampleTargets, matched_sample, propensity_pairs, t_test_p, yates_p

SPEC = SimpleNamespace(on=["age", "sex", "max_diameter_cm", "mvi"], caliper=0.1, std_caliper=True, ratio=1,
                       order="largest", discard="none", ties="matchit", seed=1, replace=False, link="logit")


@pytest.mark.parametrize(("a", "b", "n1", "n2"), [(18, 17, 182, 182), (152, 148, 182, 182), (3, 12, 40, 55),
                                                  (0, 5, 30, 30), (20, 20, 50, 50)])
def test_yates_p_is_scipys_corrected_chi_square(a, b, n1, n2):
    expected = stats.chi2_contingency([[a, n1 - a], [b, n2 - b]], correction=True)[1]
    assert yates_p(a, b, n1, n2) == pytest.approx(expected, abs=1e-12)


def test_yates_p_is_one_when_a_margin_is_empty():
    assert yates_p(0, 0, 10, 12) == 1.0


@pytest.mark.parametrize("welch", [True, False])
def test_t_test_p_from_sums_is_scipys(welch):
    rng = np.random.default_rng(1)
    x, y = rng.normal(50, 11, 182), rng.normal(52, 9, 175)
    p = t_test_p(x.sum(), (x**2).sum(), len(x), y.sum(), (y**2).sum(), len(y), welch)
    assert p == pytest.approx(stats.ttest_ind(x, y, equal_var=not welch).pvalue, abs=1e-10)


def _cohort(seed: int = 3):
    rng = np.random.default_rng(seed)
    t = np.r_[np.ones(80, bool), np.zeros(160, bool)]
    n = len(t)
    frame = pd.DataFrame({"age": np.round(rng.normal(55 + 3 * t, 10)),
                          "sex": np.where(rng.random(n) < 0.3, "female", "male"),
                          "max_diameter_cm": np.round(rng.gamma(4, 2, n) + t, 1),
                          "mvi": (rng.random(n) < 0.4 + 0.2 * t).astype(float)})
    return frame, t


def test_matched_sample_reaches_pairs_and_a_count_with_the_arms_unchanged():
    """Three pairs fewer and three more women among the matched controls than the cohort's own matching
    gives: reached exactly (slack 0); each column keeps its values within each arm; the flags returned
    are propensity_pairs on the new values."""
    frame, t = _cohort()
    k, m = propensity_pairs(frame, t, SPEC)
    women = frame["sex"].eq("female").to_numpy()
    want = (int((women & m & t).sum()), int((women & m & ~t).sum()) + 3)
    targets = MatchedSampleTargets(k - 3, {"sex": want}, {}, count_slack=0)
    built = matched_sample(np.random.default_rng(0), frame, t, SPEC, targets, max_evaluations=600)
    assert built.loss == 0 and built.n_pairs == k - 3
    new = frame.copy()
    for v, p in built.perm.items():
        new[v] = frame[v].to_numpy()[p]
        for arm in (t, ~t):   # a permutation within each arm
            assert sorted(p[arm]) == list(np.flatnonzero(arm))
            assert sorted(new[v][arm]) == sorted(frame[v][arm])
    k2, m2 = propensity_pairs(new, t, SPEC)
    assert k2 == k - 3 and np.array_equal(m2, built.matched)
    w2 = new["sex"].eq("female").to_numpy()
    assert (int((w2 & m2 & t).sum()), int((w2 & m2 & ~t).sum())) == want


def test_matched_sample_reaches_a_t_test_p_and_stops_at_its_budget():
    frame, t = _cohort(5)
    k, _ = propensity_pairs(frame, t, SPEC)
    built = matched_sample(np.random.default_rng(0), frame, t, SPEC,
                           MatchedSampleTargets(k, {}, {"age": 0.9}, p_slack=0.03), max_evaluations=400)
    new = frame.copy()
    for v, p in built.perm.items():
        new[v] = frame[v].to_numpy()[p]
    x = new["age"].to_numpy()
    p = stats.ttest_ind(x[built.matched & t], x[built.matched & ~t], equal_var=False).pvalue
    assert built.loss == 0 and abs(p - 0.9) <= 0.03
    # an unreachable target: the search stops at its budget with the best sample (pairs kept)
    stuck = matched_sample(np.random.default_rng(0), frame, t, SPEC,
                           MatchedSampleTargets(k, {"mvi": (0, 0)}, {}, count_slack=0), max_evaluations=30)
    assert stuck.evaluations == 30 and stuck.loss > 0 and stuck.n_pairs == k


def test_matched_sample_is_deterministic():
    frame, t = _cohort()
    k, _ = propensity_pairs(frame, t, SPEC)
    targets = MatchedSampleTargets(k - 2)
    a = matched_sample(np.random.default_rng(4), frame, t, SPEC, targets)
    b = matched_sample(np.random.default_rng(4), frame, t, SPEC, targets)
    assert all(np.array_equal(a.perm[v], b.perm[v]) for v in a.perm) and np.array_equal(a.matched, b.matched)
