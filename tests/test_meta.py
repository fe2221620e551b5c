"""meta_analysis against metafor rma(method = "FE" / "DL") on dat.bcg and dat.hackshaw1998 (meta.json)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from hccstudy.stats.meta import meta_analysis

REF = json.loads((Path(__file__).parent / "reference" / "meta.json").read_text())
REL = 1e-6


@pytest.mark.parametrize("name", ["bcg", "hackshaw", "hackshaw4"])
def test_matches_metafor(name):
    d = REF[name]
    res = meta_analysis(d["yi"], d["sei"], d["labels"])
    for ours, theirs in ((res.fixed, d["fixed"]), (res.random, d["random"])):
        for key in ("estimate", "se", "lcl", "ucl", "z"):
            assert getattr(ours, key) == pytest.approx(theirs[key], rel=REL), key
        assert ours.p == pytest.approx(theirs["p"], abs=1e-6)
        np.testing.assert_allclose(ours.weights, theirs["weights"], rtol=REL)
        assert res.q == pytest.approx(theirs["Q"], rel=REL)
        assert res.df == theirs["df"]
        assert res.p_q == pytest.approx(theirs["p_Q"], abs=1e-6)
        assert res.i2 == pytest.approx(theirs["I2"], rel=REL, abs=1e-12)
    assert res.tau2 == pytest.approx(d["random"]["tau2"], rel=REL, abs=1e-15)
    assert list(res.studies["label"]) == d["labels"]


def test_tau2_truncated_at_zero_makes_random_equal_fixed():
    d = REF["hackshaw4"]
    res = meta_analysis(d["yi"], d["sei"])
    assert res.q < res.df and res.tau2 == 0 and res.i2 == 0
    assert res.random.estimate == res.fixed.estimate


def test_single_study_and_bad_input():
    res = meta_analysis([0.5], [0.2])
    assert (res.q, res.df, res.tau2, res.i2) == (0.0, 0, 0.0, 0.0) and math.isnan(res.p_q)
    assert res.fixed.estimate == 0.5 and res.fixed.se == pytest.approx(0.2)
    with pytest.raises(ValueError, match="se finite and > 0"):
        meta_analysis([0.1, 0.2], [0.1, 0.0], ["A", "B"])
    with pytest.raises(ValueError, match="2 values but se has 3"):
        meta_analysis([0.1, 0.2], [0.1, 0.2, 0.3])
