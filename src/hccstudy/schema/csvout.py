"""CSV files written from Arrow text columns, byte-identical to ``DataFrame.to_csv(path, index=False)``
(with ``date_format="%Y-%m-%d"`` where given).

pandas formats each column vectorised but hands the rows to Python's ``csv`` module one at a time; at
10^6 patients (the 1.5x10^5-row, 123-column analysis table, the validation report) that row loop is
most of the time.  Here each column becomes an Arrow string array holding the text pandas writes
(floats: the shortest round-trip repr, ``1.0``, ``1e-05``; integers and booleans as ``str``; missing:
empty; dates by the format) and Arrow's C++ writer lays out the rows, unquoted.

Only tables whose every field is written unquoted by pandas take this path: at least two columns,
numeric, boolean, text and (with the date format) datetime columns, and no header or text holding a
comma, a double quote or a line break.  Anything else is written by pandas itself, so the bytes are
always pandas'.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

#: the one date format this writer formats itself (others go to pandas)
ISO_DATE = "%Y-%m-%d"
_QUOTE = '[,"\\r\\n]'


def float_text(v: np.ndarray):
    """float64 -> the text pandas' ``to_csv`` writes (numpy's shortest repr: ``40.0``, ``14.8``,
    ``1e-05``) as an Arrow string array, missing -> null.  Arrow's cast (C++, shortest round-trip
    digits) gives the same digits for 1e-4 <= |x| < 1e7 but drops the ``.0`` of integral values, which
    is added back; values outside that range (exponent notation differs) are formatted by numpy."""
    import pyarrow as pa
    import pyarrow.compute as pc

    v = np.asarray(v, dtype=np.float64)
    finite = np.isfinite(v)
    mag = np.abs(v)
    by_arrow = finite & (((mag >= 1e-4) & (mag < 1e7)) | (v == 0))
    text = pc.cast(pa.array(np.where(by_arrow, v, 0.0)), pa.string())
    integral = pa.array(by_arrow & (v == np.round(v)))
    text = pc.if_else(integral, pc.binary_join_element_wise(text, ".0", ""), text)
    rest = ~by_arrow & ~np.isnan(v)
    if rest.any():
        out = text.to_numpy(zero_copy_only=False)
        out[rest] = v[rest].astype(str)
        text = pa.array(out, pa.string())
    return pc.if_else(pa.array(np.isnan(v)), pa.scalar(None, pa.string()), text)


def _column_text(s: pd.Series, date_format: str | None):
    """The column's CSV fields as an Arrow string array (null = empty field), or None when this column
    needs pandas itself."""
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype = s.dtype
    if isinstance(dtype, np.dtype):
        if dtype == np.float64:
            return float_text(s.to_numpy())
        if dtype.kind in "iu":
            return pc.cast(pa.array(s.to_numpy()), pa.string())
        if dtype.kind == "b":
            return pc.if_else(pa.array(s.to_numpy()), "True", "False")
        if dtype.kind == "M" and date_format == ISO_DATE:
            x = s.to_numpy()
            ok = ~np.isnat(x)
            years = x[ok].astype("datetime64[Y]").astype(np.int64) + 1970
            if len(years) and (years.min() < 1000 or years.max() > 9999):
                return None  # strftime writes such years without padding
            # the day (floored, as strftime shows it) as an Arrow date, whose text is ISO 8601
            return pc.cast(pa.array(x.astype("datetime64[D]"), mask=~ok), pa.string())
        if dtype.kind == "O":
            if len(s) and pd.api.types.infer_dtype(s, skipna=True) not in ("string", "empty"):
                return None
            return pa.array(s.where(s.notna(), None).tolist(), pa.string())
        return None
    if isinstance(dtype, pd.StringDtype):
        return pa.array(s.astype(object).where(s.notna(), None).tolist(), pa.string()) \
            if dtype.storage == "python" else pc.cast(pa.array(s.array), pa.string())
    if isinstance(dtype, pd.Int64Dtype | pd.Int32Dtype | pd.Int16Dtype | pd.Int8Dtype):
        return pc.cast(pa.array(s.array), pa.string())
    if isinstance(dtype, pd.BooleanDtype):
        return pc.if_else(pa.array(s.array), "True", "False")
    return None


def csv_columns(df: pd.DataFrame, date_format: str | None = None):
    """The table as Arrow text columns (an Arrow table), or None when pandas must write it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if df.shape[1] < 2 or not df.columns.is_unique:
        return None
    names = [str(c) for c in df.columns]
    if any(n == "" or any(ch in n for ch in ',"\r\n') for n in names):
        return None
    cols = []
    for c in df.columns:
        text = _column_text(df[c], date_format)
        if text is None:
            return None
        if isinstance(text, pa.ChunkedArray):
            text = text.combine_chunks()
        if len(text) and pc.any(pc.match_substring_regex(text, _QUOTE)).as_py():
            return None
        cols.append(text)
    return pa.table(cols, names=names)


def write_csv(df: pd.DataFrame, path: str | Path, date_format: str | None = None) -> Path:
    """Write ``df`` as ``df.to_csv(path, index=False, date_format=date_format, lineterminator="\\n")``
    would, from Arrow text columns where the table allows (see the module docstring)."""
    import pyarrow.csv as pacsv

    path = Path(path)
    table = csv_columns(df, date_format)
    if table is None:
        df.to_csv(path, index=False, date_format=date_format, lineterminator="\n")
        return path
    with open(path, "wb") as fh:
        fh.write((",".join(table.column_names) + "\n").encode("utf-8"))
        if table.num_rows:
            pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return path
