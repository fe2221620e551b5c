"""Unit conversions: known factors and round trips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hccstudy.schema.units import QUANTITIES, conversion_factors, from_canonical, to_canonical


@pytest.mark.parametrize(
    "quantity,value,unit,canonical",
    [("bilirubin", 2.0, "mg/dL", 34.2), ("bilirubin", 34.2, "µmol/L", 34.2), ("bilirubin", 1.0, "umol/l", 1.0),
     ("albumin", 3.5, "g/dL", 35.0), ("haemoglobin", 10.0, "g/dL", 100.0), ("haemoglobin", 6.206, "mmol/L", 100.0),
     ("platelets", 150000, "/mm3", 150.0), ("neutrophils", 1500, "/µL", 1.5), ("afp", 400, "µg/L", 400.0)],
)
def test_known_factors(quantity, value, unit, canonical):
    assert to_canonical([value], unit, quantity)[0] == pytest.approx(canonical, rel=1e-12)


def test_bilirubin_factor_option():
    assert to_canonical([1.0], "mg/dL", "bilirubin", bilirubin_factor=17.104)[0] == pytest.approx(17.104)


def test_unknown_unit_flagged_and_missing_unit_is_canonical():
    f, unknown = conversion_factors(pd.Series(["mg/dL", None, "kg"]), "bilirubin")
    assert unknown.tolist() == [False, False, True]
    assert f[0] == 17.1 and f[1] == 1.0
    with pytest.raises(ValueError, match="unknown unit"):
        to_canonical([1.0], "kg", "albumin")


@given(
    st.sampled_from([(q, u) for q, spec in QUANTITIES.items() for u in spec.factors if u]),
    st.floats(min_value=1e-3, max_value=1e6, allow_nan=False),
)
def test_round_trip(qu, value):
    q, u = qu
    back = from_canonical(to_canonical([value], u, q), u, q)[0]
    assert back == pytest.approx(value, rel=1e-12)
    assert np.isfinite(back)
