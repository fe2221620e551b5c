"""CSV files of large tables written from columns, byte-identical to ``DataFrame.to_csv(index=False)``.

pandas formats each column vectorised but then hands the rows to the ``csv`` module one at a time; at
10^6 patients (pairs.csv, unmatched.csv) that row loop is most of the writing time.  Here each column
is turned into its text as pandas does it (numbers: numpy's ``astype(str)``, the shortest repr;
missing: empty; floats by ``float.__repr__``, the same shortest round-trip text), and the rows are laid out with list slicing and one ``str.join``.

Only plain tables take this path: numeric, boolean and text columns, at least two columns, and no
text that the ``csv`` module would quote (a comma, a double quote, a line break).  Anything else
(dates, mixed objects, such text) is written by pandas itself, so the bytes are always pandas'.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

_NEEDS_QUOTE = re.compile(r'[,"\r\n]')


def _column_text(s: pd.Series) -> list[str] | None:
    """The column's CSV fields as pandas writes them, or None when this column needs pandas itself."""
    kind = s.dtype.kind
    if s.dtype == np.float64 and isinstance(s.dtype, np.dtype):
        x = s.to_numpy(dtype=float)
        # float.__repr__ is the shortest round-trip text, as numpy's astype(str) that pandas uses (and
        # twice as fast); mapped in C, no Python loop
        out = list(map(float.__repr__, x.tolist()))
        missing = np.flatnonzero(np.isnan(x))
        if len(missing):
            arr = np.asarray(out, dtype=object)
            arr[missing] = ""
            out = arr.tolist()
        return out
    if kind in "iub" and isinstance(s.dtype, np.dtype):  # numpy ints and bools (not the nullable ones)
        if kind == "b":
            return np.where(s.to_numpy(), "True", "False").tolist()
        return list(map(int.__repr__, s.to_numpy().tolist()))
    if kind == "O" or isinstance(s.dtype, pd.StringDtype):
        if len(s) and pd.api.types.infer_dtype(s, skipna=True) not in ("string", "empty"):
            return None
        text = s.astype(object).where(s.notna(), "").tolist()
        if _NEEDS_QUOTE.search("".join(text)):  # one scan of the whole column, not a regex per value
            return None
        return text
    return None


def csv_text(df: pd.DataFrame) -> str | None:
    """``df.to_csv(index=False)`` built from columns; None when the table is not a plain one."""
    if df.shape[1] < 2 or not df.columns.is_unique:
        return None
    header = [str(c) for c in df.columns]
    if any(_NEEDS_QUOTE.search(h) for h in header) or "" in header:
        return None
    cols = []
    for c in df.columns:
        text = _column_text(df[c])
        if text is None:
            return None
        cols.append(text)
    n, k = len(df), len(cols)
    parts: list = [None] * (2 * k * n)
    for j, col in enumerate(cols):
        parts[2 * j::2 * k] = col
        parts[2 * j + 1::2 * k] = [","] * n if j < k - 1 else ["\n"] * n
    return ",".join(header) + "\n" + "".join(parts)


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as ``df.to_csv(path, index=False)`` would, from columns where the table allows."""
    path = Path(path)
    text = csv_text(df)
    if text is None:
        df.to_csv(path, index=False)
    else:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    return path
