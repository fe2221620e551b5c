"""JSON text of large tables built from columns, for ``results.json``.

``json.dumps(..., indent=1)`` runs the pure-Python encoder (the C encoder is used only without
``indent``), one call per value: at 10^6 patients the matched pairs and unmatched units alone are
millions of values.  Here each column is encoded in one call of the C encoder, its values split apart
(a JSON value never holds a raw newline, so ``",\\n"`` separates them unambiguously), and the indented
layout is assembled with list slicing and one ``str.join``: no Python loop over rows.

The text is exactly what ``json.dumps(obj, indent=1, ensure_ascii=False, allow_nan=False)`` writes for
the same list nested at the same depth, so ``results.json`` is byte-identical to the per-row version.
:class:`Placeholders` lets the small rest of the document go through ``json.dumps`` as before, with a
unique marker where each large table goes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import numpy as np
import pandas as pd


def _native(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def column_values(values) -> list:
    """A column as a list of JSON-ready Python scalars: NaN, infinities, ``pd.NA`` and ``NaT`` become
    None (as the per-row cleaning did), numpy scalars their Python value."""
    s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object)
                                                               if not isinstance(values, np.ndarray) else values)
    if s.dtype.kind == "f":
        x = s.to_numpy()
        out = np.asarray(x.tolist(), dtype=object)
        out[~np.isfinite(x)] = None
        return out.tolist()
    missing = s.isna().to_numpy()
    if s.dtype.kind in "iub" and not missing.any():
        return s.tolist()
    out = np.asarray(s.tolist(), dtype=object)
    if missing.any():
        out[missing] = None
    if len(out) and pd.api.types.infer_dtype(out, skipna=True) not in ("string", "integer", "boolean", "empty"):
        # floats inside an object column (rare: a mixed column): NaN is handled above, infinities here
        is_float = np.frompyfunc(lambda v: isinstance(v, float), 1, 1)(out).astype(bool)
        if is_float.any():
            f = out[is_float].astype(float)
            idx = np.flatnonzero(is_float)[~np.isfinite(f)]
            out[idx] = None
    return out.tolist()


def encoded(values: list) -> list[str]:
    """The JSON text of each value (scalars only), from one call of the C encoder."""
    if not values:
        return []
    text = json.dumps(values, ensure_ascii=False, allow_nan=False, separators=(",\n", ": "), default=_native)
    return text[1:-1].split(",\n")


def list_text(values: list, depth: int) -> str:
    """``json.dumps(values, indent=1)`` for a flat list of scalars whose key line is indented ``depth``."""
    if not values:
        return "[]"
    ind1 = "\n" + " " * (depth + 1)
    return "[" + ind1 + ("," + ind1).join(encoded(values)) + "\n" + " " * depth + "]"


def rows_text(columns: Sequence[list], depth: int, keys: Sequence[str] | None = None) -> str:
    """``json.dumps(rows, indent=1)`` for rows given as columns: row i is ``{keys[j]: columns[j][i]}``
    (or the list ``[columns[j][i]]`` when ``keys`` is None), the list's key line indented ``depth``."""
    n = len(columns[0]) if columns else 0
    if n == 0:
        return "[]"
    k = len(columns)
    ind1, ind2 = "\n" + " " * (depth + 1), "\n" + " " * (depth + 2)
    opener, closer = ("[", "]") if keys is None else ("{", "}")
    if k == 0:
        return "[" + ind1 + ("," + ind1).join([opener + closer] * n) + "\n" + " " * depth + "]"
    stride = 2 * k + 2
    parts: list = [None] * (n * stride)
    parts[0::stride] = [opener] * n
    for j, col in enumerate(columns):
        if len(col) != n:
            raise ValueError(f"column {j} has {len(col)} values, column 0 has {n}")
        lead = ind2 if j == 0 else "," + ind2
        if keys is not None:
            lead += json.dumps(str(keys[j]), ensure_ascii=False) + ": "
        parts[1 + 2 * j::stride] = [lead] * n
        parts[2 + 2 * j::stride] = encoded(col)
    parts[stride - 1::stride] = [ind1 + closer + "," + ind1] * n
    parts[-1] = ind1 + closer
    return "[" + ind1 + "".join(parts) + "\n" + " " * depth + "]"


def frame_text(df: pd.DataFrame, depth: int) -> str:
    """A flat table as its list of row objects (the per-row ``frame_records``), from its columns."""
    return rows_text([column_values(df[c]) for c in df.columns], depth, [str(c) for c in df.columns])


class Placeholders:
    """Markers for large tables inside a document that otherwise goes through ``json.dumps``:
    ``mark(render)`` returns a unique string to put where the table goes; ``fill(text)`` replaces each
    quoted marker by ``render(depth)``, depth being the indentation of the marker's line."""

    def __init__(self) -> None:
        self._token = f"@hccstudy-table-{uuid.uuid4().hex}-"
        self._render: list = []

    def mark(self, render) -> str:
        self._render.append(render)
        return f"{self._token}{len(self._render) - 1}@"

    def fill(self, text: str) -> str:
        found = []
        for i, render in enumerate(self._render):
            quoted = f'"{self._token}{i}@"'
            at = text.find(quoted)
            if at < 0:
                raise ValueError(f"placeholder {i} not found in the JSON text")
            found.append((at, quoted, render))
        pieces, pos = [], 0
        for at, quoted, render in sorted(found, key=lambda f: f[0]):
            line = text.rfind("\n", 0, at) + 1
            depth = len(text[line:at]) - len(text[line:at].lstrip(" "))
            pieces += [text[pos:at], render(depth)]
            pos = at + len(quoted)
        pieces.append(text[pos:])
        return "".join(pieces)
