"""The fast ingest paths (issue 13) give exactly what the reference paths give.

* CSV: pyarrow's reader for plain files, pandas for everything else (quotes, blank lines, ragged rows);
* text -> number: Arrow's cast for plain decimals, pandas for the rest;
* the synthetic centre's workbook: written column-wise, read back to the values openpyxl wrote;
* workbooks read by calamine or openpyxl give the same cells.
"""

from __future__ import annotations

import io

import numpy as np
import openpyxl
import pandas as pd
import pytest

from hccstudy.schema import IssueLog, readers
from hccstudy.schema.readers import NA_VALUES, read_study
from hccstudy.schema.validate import _as_text, _text_to_float
from hccstudy.synth import generate
from hccstudy.synth.write import _xlsx


def _pandas_csv(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(data.decode("utf-8-sig")), header=None, dtype=str, skip_blank_lines=False,
                       na_values=NA_VALUES, keep_default_na=False)


PLAIN = (b"patient_id,age,ecog,first_haic_date,afp\n"
         b"P1,61,0,2019-03-01,12.5\nP2,NA,,2019-04-02,.\nP3, 70 ,1,2019-05-03,N/A\nP4,58,na,2019-06-04,NaN\n")


def test_arrow_csv_reader_gives_pandas_columns_for_a_plain_file():
    arrow = readers._read_csv_arrow(PLAIN)
    assert arrow is not None
    ref = _pandas_csv(PLAIN)
    assert arrow.equals(ref)
    assert list(arrow.dtypes) == list(ref.dtypes)


@pytest.mark.parametrize("data", [
    b'a,b\n"x,y",1\n',          # quotes: pandas
    b"a,b,c\n1,2\n",             # ragged: pandas pads (or names the line)
    b"a,b\n1,2,3\n",             # too many fields: pandas' message names the line
    b"a,b\r1,2\r",               # old Mac line ends
    b"a\n1\n2\n",                # one column
    b"",                         # empty
])
def test_arrow_csv_reader_leaves_other_files_to_pandas(data):
    assert readers._read_csv_arrow(data) is None


@pytest.mark.parametrize("data", [b"a,b\n1,2\n\n3,4\n", b"a,b\n1,2\n\n", b"a,b\n1,2\n,\n3,4", b"a,b\r\n1,2\r\n\r\n3,4\r\n"])
def test_blank_lines_and_crlf_give_pandas_records(data):
    """A blank line is an empty record (reported and dropped later as ``empty_row``), as in pandas."""
    arrow = readers._read_csv_arrow(data)
    assert arrow is None or arrow.equals(_pandas_csv(data))


def test_read_csv_is_the_same_with_and_without_the_arrow_path(monkeypatch):
    big = PLAIN + b"".join(b"P%d,%d,1,2020-01-%02d,%d.5\n" % (i, 40 + i % 30, 1 + i % 28, i) for i in range(5, 3000))
    fast = readers._read_csv(big)
    monkeypatch.setattr(readers, "ARROW_CSV_MIN_BYTES", 1 << 40)
    slow = readers._read_csv(big)
    assert fast[0].equals(slow[0]) and fast[1] == slow[1] and np.array_equal(fast[2], slow[2])


EDGE = ["1", "1.5", " 2 ", "", "  ", None, "+5", "-0", ".5", "5.", "+.5", "1e5", "inf", "-Infinity", "nan", "abc",
        "1,5", "007", "123456789012345", "1234567890123456", "0.1234567890123", "1_000", "1e400", "-", "+", "0x10",
        "1-2", "1..2", "\u00a01\u00a0"]


@pytest.mark.parametrize("values", [EDGE, ["1", "2.25", "-3", "1-2"], ["1", "2.25", "-3.125", None]])
def test_text_to_float_is_pandas_to_numeric(values):
    s = pd.Series(values, dtype="str")
    ref_text = s.astype("string").str.strip()
    ref_text = ref_text.mask(ref_text == "")
    text = _as_text(s)
    assert text.equals(ref_text)
    ref = pd.to_numeric(ref_text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    got = _text_to_float(text)
    np.testing.assert_array_equal(got, ref)
    assert np.array_equal(np.signbit(got), np.signbit(ref))


def test_text_to_float_on_many_random_decimals():
    rng = np.random.default_rng(3)
    vals = [f"{x:.{k}f}" for x, k in zip(rng.normal(0, 1e4, 20000), rng.integers(0, 9, 20000), strict=True)]
    text = _as_text(pd.Series(vals, dtype="str"))
    np.testing.assert_array_equal(_text_to_float(text), pd.to_numeric(pd.Series(vals), errors="coerce").to_numpy())


def _openpyxl_xlsx(tables: dict[str, pd.DataFrame]) -> bytes:
    """The reference: the workbook pandas + openpyxl write (the writer before issue 13)."""
    from hccstudy.synth.write import _as_text_dates

    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name, df in tables.items():
            _as_text_dates(df).to_excel(xw, sheet_name=name, index=False)
    return buf.getvalue()


@pytest.fixture(scope="module")
def centre_tables():
    cohort = generate(6, 400)
    return {k: df.head(60) for k, df in cohort.tables["central"].items()}


@pytest.mark.parametrize("engine", ["openpyxl", "calamine"])
def test_workbook_writer_reads_back_as_openpyxl_wrote_it(tmp_path, centre_tables, engine):
    if engine == "calamine":
        pytest.importorskip("python_calamine")
    path = tmp_path / "central.xlsx"
    _xlsx(centre_tables, path)
    got = pd.read_excel(path, sheet_name=None, header=None, dtype=object, engine=engine)
    ref = pd.read_excel(io.BytesIO(_openpyxl_xlsx(centre_tables)), sheet_name=None, header=None, dtype=object,
                        engine=engine)
    assert list(got) == list(ref)
    for name in ref:
        assert got[name].equals(ref[name]), name
    assert openpyxl.load_workbook(path).sheetnames == list(centre_tables)


def test_workbook_writer_is_deterministic_and_escapes_text(tmp_path):
    df = pd.DataFrame({"patient_id": ["a&b", "<x>", " lead", None], "n": pd.array([1, None, 3, 4], dtype="Int64"),
                       "v": [0.1, np.nan, 1e-7, 12345678.125], "flag": [True, False, True, None]})
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    _xlsx({"patients": df}, a)
    _xlsx({"patients": df}, b)
    assert a.read_bytes() == b.read_bytes()
    got = pd.read_excel(a, sheet_name="patients", dtype=object, engine="openpyxl")
    assert got["patient_id"].tolist()[:3] == ["a&b", "<x>", " lead"]
    assert got["n"].tolist()[0] == 1 and pd.isna(got["n"].tolist()[1])
    assert got["v"].tolist()[0] == 0.1 and got["v"].tolist()[2] == 1e-7


def test_calamine_and_openpyxl_give_the_same_study(tmp_path, centre_tables, monkeypatch):
    pytest.importorskip("python_calamine")
    _xlsx(centre_tables, tmp_path / "central.xlsx")
    fast = read_study(tmp_path, IssueLog())
    real_read_excel = pd.read_excel
    monkeypatch.setattr(readers.pd, "read_excel",
                        lambda *a, **k: real_read_excel(*a, **{**k, "engine": "openpyxl"}))
    slow = read_study(tmp_path, IssueLog())
    assert list(fast.tables) == list(slow.tables)
    for name in slow.tables:
        assert fast.tables[name].equals(slow.tables[name]), name


def _reference_parse_date(s: pd.Series, monkeypatch) -> tuple[pd.Series, np.ndarray]:
    """parse_date's general path (regular expression + pandas' parser), forced."""
    from hccstudy.schema import validate

    with monkeypatch.context() as m:
        m.setattr(validate, "_plain_iso_days", lambda t: None)
        return validate.parse_date(s)


def _same_as_general_path(s: pd.Series, monkeypatch) -> None:
    """parse_date (plain ISO dates through the numpy path when every value is YYYY-MM-DD) gives exactly
    what the general path gives: the same dates and the same invalid rows."""
    from hccstudy.schema import validate

    assert validate._plain_iso_days(validate._as_text(s)) is not None or not s.str.len().eq(10).all()
    got, got_bad = validate.parse_date(s)
    ref, ref_bad = _reference_parse_date(s, monkeypatch)
    assert got.equals(ref)
    np.testing.assert_array_equal(got_bad, ref_bad)


@pytest.mark.parametrize("values", [
    ["2020-02-29", "2021-02-29", "1900-02-29", "2000-02-29", " 2020-01-05 ", "", None, "NA", "2020-04-31"],
    ["2020-01-01", "2020-01-01T10:00", "2020-13-01", "2020", "abcd-ef-gh", "0000-00-00", "9999-99-99"],
    ["1849-12-31", "1850-01-01", "2130-12-31", "2131-01-01", "2300-02-30", "1700-13-45", None],
    [None, None],
])
def test_plain_iso_dates_parse_as_the_general_path(values, monkeypatch):
    _same_as_general_path(pd.Series(values, dtype="str"), monkeypatch)


def test_plain_iso_dates_random(monkeypatch):
    rng = np.random.default_rng(5)
    y, m, d = rng.integers(1800, 2200, 5000), rng.integers(0, 14, 5000), rng.integers(0, 33, 5000)
    vals = [f"{a:04d}-{b:02d}-{c:02d}" for a, b, c in zip(y, m, d, strict=True)]
    vals[::7] = [None] * len(vals[::7])
    _same_as_general_path(pd.Series(vals, dtype="str"), monkeypatch)
