"""E-values: VanderWeele & Ding 2017 (Ann Intern Med 167:268) worked example and the formula's properties."""

import math

import numpy as np
import pytest

from hccstudy.stats.evalue import (
    COMMON_TRANSFORM,
    RARE_TRANSFORM,
    evalue_hr,
    evalue_ratio,
    evalue_rr,
    hr_to_rr,
    outcome_is_common,
)


def test_paper_worked_example_breastfeeding():
    # VanderWeele & Ding 2017: RR 3.9 (95% CI 1.8 to 8.7) -> E-value 7.26 for the estimate, 3.0 for the CI
    ev = evalue_ratio(3.9, 1.8, 8.7)
    assert round(ev.point, 2) == 7.26
    assert round(ev.ci, 2) == 3.00
    assert ev.ci == pytest.approx(1.8 + math.sqrt(1.8 * 0.8), rel=1e-15)  # = 3 exactly


def test_protective_is_inverted_and_ci_uses_upper_limit():
    ev = evalue_ratio(1 / 3.9, 1 / 8.7, 1 / 1.8)
    assert ev.point == pytest.approx(evalue_rr(3.9), rel=1e-14)
    assert ev.ci == pytest.approx(3.0, rel=1e-14)


def test_null_and_crossing_ci():
    assert evalue_rr(1.0) == 1.0
    assert evalue_ratio(1.3, 0.9, 1.8).ci == 1.0
    assert evalue_ratio(0.7, 0.5, 1.0).ci == 1.0  # the limit touching 1 counts as containing it
    assert math.isnan(evalue_ratio(2.0).ci)


def test_vectorised_and_bad_input():
    np.testing.assert_allclose(evalue_rr(np.array([3.9, 1 / 3.9, 1.0])), [evalue_rr(3.9)] * 2 + [1.0])
    with pytest.raises(ValueError, match="positive"):
        evalue_rr(-1.0)
    with pytest.raises(ValueError, match="wrong order"):
        evalue_ratio(2.0, 3.0, 1.5)


def test_hr_rare_outcome_is_the_rr_formula():
    ev = evalue_hr(3.9, 1.8, 8.7, outcome_common=False)
    assert (ev.point, ev.ci) == (evalue_rr(3.9), evalue_rr(1.8))
    assert ev.transform == RARE_TRANSFORM


def test_hr_common_outcome_conversion():
    # (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)): HR 4 -> (1 - 1/4) / (1 - 0.5^0.5) = 0.75 / 0.29289...
    assert hr_to_rr(4.0, True) == pytest.approx(0.75 / (1 - math.sqrt(0.5)), rel=1e-15)
    assert hr_to_rr(1.0, True) == 1.0
    # the conversion is symmetric on the log scale: RR(1/HR) = 1/RR(HR)
    assert hr_to_rr(0.25, True) == pytest.approx(1 / hr_to_rr(4.0, True), rel=1e-14)
    ev = evalue_hr(0.6, 0.45, 0.8, outcome_common=True)
    assert ev.transform == COMMON_TRANSFORM
    assert ev.point == pytest.approx(evalue_rr(hr_to_rr(0.6, True)), rel=1e-15)
    assert ev.ci == pytest.approx(evalue_rr(hr_to_rr(0.8, True)), rel=1e-15)
    # a common outcome shrinks the HR towards 1, so its E-value is smaller than the rare-outcome one
    assert ev.point < evalue_hr(0.6, 0.45, 0.8, outcome_common=False).point


def test_outcome_is_common_by_km_incidence_at_end_of_follow_up():
    time = np.arange(1.0, 21.0)
    event = np.zeros(20, bool)
    event[:2] = True  # the first 2 of 20 have events, the rest are censored later: 1 - S = 0.10
    assert not outcome_is_common(time, event)
    event[2:4] = True  # 1 - S = 0.20
    assert outcome_is_common(time, event)
    assert outcome_is_common(time, event, threshold=0.19) and not outcome_is_common(time, event, threshold=0.21)
