"""schema.csvout.write_csv: the same bytes as DataFrame.to_csv(index=False), from Arrow text columns
where every field is written unquoted, and by pandas itself otherwise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hccstudy.schema.csvout import csv_columns, write_csv


def _frame(n: int = 400, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) * 10.0 ** rng.integers(-9, 12, n)
    x[:12] = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-5, 1e-4, 9999999.0, 1e7, 1e16, 40.0, 14.8]
    days = rng.integers(-30000, 30000, n).astype("datetime64[D]").astype("datetime64[ns]")
    stamps = days + rng.integers(0, 86400, n).astype("timedelta64[s]")  # times of day, before and after 1970
    stamps[::7] = np.datetime64("NaT")
    text = pd.Series(rng.choice(["SE", "SI", "µ ≥ 5", " lead", "trail ", "", "a;b"], n))
    return pd.DataFrame({
        "float": x, "int": rng.integers(-10**15, 10**15, n), "uint": rng.integers(0, 9, n).astype(np.uint8),
        "bool": rng.random(n) < 0.5, "date": days, "stamp": stamps,
        "Int64": pd.array(np.where(rng.random(n) < 0.2, None, rng.integers(-5, 5, n)), dtype="Int64"),
        "boolean": pd.array(np.where(rng.random(n) < 0.2, None, rng.random(n) < 0.5), dtype="boolean"),
        "string": text.astype("string").mask(rng.random(n) < 0.1),
        "arrow string": text.astype("string[pyarrow]").mask(rng.random(n) < 0.1),
        "object": text.astype(object).mask(rng.random(n) < 0.1),
    })


@pytest.mark.parametrize("date_format", ["%Y-%m-%d", None])
def test_same_bytes_as_pandas(tmp_path, date_format):
    df = _frame()
    fast = csv_columns(df, date_format)
    assert (fast is not None) == (date_format is not None)  # datetimes without the ISO date format: pandas
    write_csv(df, tmp_path / "a.csv", date_format)
    df.to_csv(tmp_path / "b.csv", index=False, date_format=date_format)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


@pytest.mark.parametrize("change", ["comma in text", "quote in text", "newline in text", "comma in header",
                                    "one column", "year 999", "mixed objects", "no rows"])
def test_tables_pandas_must_write(tmp_path, change):
    df = _frame(60).drop(columns=["stamp"])
    if change == "comma in text":
        df.loc[5, "string"] = "a, b"
    elif change == "quote in text":
        df.loc[5, "object"] = 'say "x"'
    elif change == "newline in text":
        df.loc[5, "arrow string"] = "two\nlines"
    elif change == "comma in header":
        df = df.rename(columns={"int": "n, %"})
    elif change == "one column":
        df = df[["float"]]
    elif change == "year 999":
        df.loc[5, "date"] = pd.Timestamp("1677-09-22")  # in range for ns; 999 is not representable
        df["date"] = df["date"].astype("datetime64[s]")
        df.loc[6, "date"] = np.datetime64("0999-05-01", "s")
    elif change == "mixed objects":
        df.loc[5, "object"] = 3
    elif change == "no rows":
        df = df.iloc[:0]
    expect_fast = change == "no rows"
    assert (csv_columns(df, "%Y-%m-%d") is not None) == expect_fast
    write_csv(df, tmp_path / "a.csv", "%Y-%m-%d")
    df.to_csv(tmp_path / "b.csv", index=False, date_format="%Y-%m-%d")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
