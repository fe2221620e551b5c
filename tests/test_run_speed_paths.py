"""Speed paths of ``hccstudy run`` that must give the same bits as the plain formula they replace."""

from __future__ import annotations

import numpy as np
import pytest

from hccstudy.stats.propensity import _deviance


def _two_term_deviance(y: np.ndarray, mu: np.ndarray) -> float:
    """R's binomial dev.resids summed, term by term as written (the formula _deviance replaces)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(y > 0, y * np.log(y / mu), 0.0)
        b = np.where(y < 1, (1 - y) * np.log((1 - y) / (1 - mu)), 0.0)
    return float(2 * np.sum(a + b))


@pytest.mark.parametrize("scale", [0.3, 3.0, 40.0])
def test_deviance_has_the_bits_of_the_two_term_formula(scale):
    rng = np.random.default_rng(int(scale * 10))
    for n in (1, 2, 7, 575, 4096):
        eta = rng.normal(0, scale, n)
        mu = 1 / (1 + np.exp(-eta))
        y = (rng.random(n) < 0.4).astype(float)
        if n > 2:  # a fitted 0 and 1 (infinite deviance terms) and a missing fitted value
            mu[0], mu[1], mu[2] = 0.0, 1.0, mu[2]
        got, want = _deviance(y, mu), _two_term_deviance(y, mu)
        assert np.array(got).tobytes() == np.array(want).tobytes(), (n, got, want)
    y = np.array([1.0, 0.0, 1.0])
    mu = np.array([0.5, np.nan, 0.25])
    assert np.isnan(_deviance(y, mu)) and np.isnan(_two_term_deviance(y, mu))
