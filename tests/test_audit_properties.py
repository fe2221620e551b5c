"""Properties of the audit's rounding rules (hypothesis): numbers printed from true values by rounding
are never flagged -- a percentage of a whole count, a Wald CI and its P, a t test of rounded summaries."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from hccstudy.audit.checks_continuous import p_range, t_p
from hccstudy.audit.checks_counts import counts_for_pct, pct_severity
from hccstudy.audit.checks_hr import Z, implied_p, symmetric_within
from hccstudy.audit.checks_hr import p_range as hr_p_range
from hccstudy.audit.model import Row
from hccstudy.audit.numbers import to_num

FAST = settings(max_examples=60, deadline=None)  # the suite stays fast: ~1 s each


@FAST
@given(st.integers(1, 2000), st.data(), st.integers(0, 2))
def test_a_printed_percentage_of_a_count_is_consistent(size, data, digits):
    n = data.draw(st.integers(0, size))
    pct = to_num(f"{100 * n / size:.{digits}f}")
    assert pct_severity(n, size, pct) == "consistent"
    assert n in counts_for_pct(pct, size)


@FAST
@given(st.floats(-2, 2), st.floats(0.02, 1.0))
def test_a_printed_wald_ci_is_symmetric_and_its_p_in_range(b, se):
    hr, lo, hi = (to_num(f"{math.exp(x):.2f}") for x in (b, b - Z * se, b + Z * se))
    if lo.value <= 0:  # printed as 0.00: no CI on the log scale to check
        return
    assert symmetric_within(hr, lo, hi, 0.5)
    low, high = hr_p_range(hr, lo, hi)
    truth = 2 * stats.norm.sf(abs(b) / se)
    assert low - 1e-12 <= truth <= high + 1e-12
    assert math.isfinite(implied_p(hr.value, lo.value, hi.value))


@FAST
@given(st.floats(20, 80), st.floats(20, 80), st.floats(1, 20), st.floats(1, 20), st.integers(5, 400),
       st.integers(5, 400))
def test_t_test_p_of_true_summaries_lies_in_the_rounding_range(m1, m2, s1, s2, n1, n2):
    row = Row(mean={"a": to_num(f"{m1:.1f}"), "b": to_num(f"{m2:.1f}")},
              sd={"a": to_num(f"{s1:.1f}"), "b": to_num(f"{s2:.1f}")})
    for equal_var in (True, False):
        truth = t_p(m1, s1, n1, m2, s2, n2, equal_var)
        low, high = p_range(row, ["a", "b"], {"a": n1, "b": n2}, equal_var)
        assert low - 1e-9 <= truth <= high + 1e-9, (equal_var, truth, low, high)
