"""The validation parsers' shortcuts on Arrow-backed text give exactly the general path's result."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from hccstudy.schema.validate import _as_text, _needs_trim, parse_date, parse_float, parse_int

CASES = {
    "clean": ["1", "2.5", None, "-3"],
    "padded": [" 1", "2.5 ", None, "\t-3\n"],
    "blank": ["1", "", None, "   "],
    "nbsp": ["\u00a01", "x\u2003", "é", None],
    "separators": ["\x1f7", "8\x1c", "9", None],
    "all_missing": [None, None],
    "empty": [],
}


def _arrow(values):
    return pd.Series(pd.arrays.ArrowStringArray(pa.array(values, type=pa.string())))


def _general(values):
    t = pd.Series(values, dtype=object).astype("string").str.strip()
    return t.mask(t == "")


@pytest.mark.parametrize("name", list(CASES))
def test_as_text_matches_general_path(name):
    got = _as_text(_arrow(CASES[name]))
    want = _general(CASES[name])
    assert got.isna().tolist() == want.isna().tolist()
    assert got.dropna().tolist() == want.dropna().tolist()


@pytest.mark.parametrize("name", list(CASES))
def test_numbers_and_dates_match_object_input(name):
    values = CASES[name]
    for parse in (parse_float, parse_int, parse_date):
        a_vals, a_bad = parse(_arrow(values))
        o_vals, o_bad = parse(pd.Series(values, dtype=object))
        np.testing.assert_array_equal(a_bad, o_bad)
        assert a_vals.isna().tolist() == o_vals.isna().tolist()
        assert a_vals.dropna().tolist() == o_vals.dropna().tolist()


def test_needs_trim_sees_every_arrow_whitespace():
    """Every ASCII character Arrow's trim removes makes the shortcut trim; plain text does not."""
    chars = [chr(i) for i in range(1, 128)]
    trimmed = pa.compute.utf8_trim_whitespace(pa.array([c + "x" for c in chars])).to_pylist()
    arrow_ws = {c for c, t in zip(chars, trimmed, strict=True) if t != c + "x"}
    flagged = {c for c in chars if _needs_trim(pa.array([c + "x"]))}
    assert arrow_ws <= flagged
    assert not _needs_trim(pa.array(["2021-01-02", "12.5", "HAIC-FO"]))
    assert _needs_trim(pa.array(["a\u00a0"]))


def test_plain_dates_match_general_parser():
    """Every YYYY-MM-DD form, valid or not, at the clip edges and leap rules: the numpy day arithmetic
    gives what the general (pandas) path gives for the same text with a time of day appended."""
    days = np.arange(np.datetime64("1999-12-01"), np.datetime64("2001-03-05")).astype(str).tolist()
    odd = ["2021-02-29", "2000-02-29", "1900-02-29", "2100-02-29", "2024-02-29", "2024-02-30", "2024-04-31",
           "2024-00-10", "2024-13-01", "2024-01-00", "2024-01-32", "0000-00-00", "1849-12-31", "1850-01-01",
           "2130-12-31", "2131-01-01", "2500-02-30", "9999-99-99", "1700-13-40", "2023-12-31"]
    values = days + odd + [None]
    fast, fast_bad = parse_date(_arrow(values))
    slow, slow_bad = parse_date(_arrow([None if v is None else v + " 00:00" for v in values]))
    np.testing.assert_array_equal(fast_bad, slow_bad)
    assert fast.isna().tolist() == slow.isna().tolist()
    assert fast.dropna().tolist() == slow.dropna().tolist()
    assert fast_bad[len(days) + odd.index("2021-02-29")] and not fast_bad[len(days) + odd.index("2000-02-29")]
