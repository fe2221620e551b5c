"""Patient keys (centre, patient_id) as integer codes, computed once per table.

Grouping, joining and reindexing on two Arrow-backed string columns makes pandas factorise the
strings again at every call (hundreds of calls per study, seconds at 10^5 patients).  Here the
patients' keys are ranked once in (centre, patient_id) order and every other table's rows are looked
up in them with one Arrow hash lookup (``pyarrow.compute.index_in``).  Because the codes follow the
sort order of the keys, sorting or grouping (``sort=True``) by the code gives the same row order as
by the two string columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["MISSING", "joined_key", "key_positions", "patient_codes"]

_SEP = "\x1f"  # unit separator: cannot occur in a parsed identifier, keeps (a, bc) apart from (ab, c)


#: stands for a missing key part where missing parts should match each other (as pandas' reindex does)
MISSING = "\x00NA"


def joined_key(df: pd.DataFrame, keys: list[str], missing: str | None = None) -> pa.Array:
    """One Arrow string per row, the key columns joined by a separator: null if any part is missing,
    or, with ``missing``, that string in place of the missing part."""
    parts = [pa.array(df[k].astype("string").to_numpy(dtype=object, na_value=None), type=pa.large_string())
             if not isinstance(df[k].array, pd.arrays.ArrowStringArray)
             else pa.array(df[k].array).cast(pa.large_string()) for k in keys]
    if missing is not None:
        parts = [pc.fill_null(a, pa.scalar(missing, pa.large_string())) for a in parts]
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, pa.scalar(_SEP, pa.large_string()), null_handling="emit_null")


def key_positions(df: pd.DataFrame, reference: pa.Array, keys: list[str], missing: str | None = None) -> np.ndarray:
    """For each row of ``df``, the position of its key in ``reference`` (first match; -1 where the key
    is missing or not found); ``missing`` as in :func:`joined_key` (use the same for ``reference``)."""
    pos = pc.index_in(joined_key(df, keys, missing), value_set=reference, skip_nulls=True)
    return np.asarray(pc.fill_null(pos, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def patient_codes(patients: pd.DataFrame, keys: list[str]) -> tuple[np.ndarray, pa.Array]:
    """Integer code per row of ``patients`` (unique, non-missing keys), ranked in key order; also the
    joined keys to look other tables up in (:func:`key_positions`, then ``codes[pos]``)."""
    n = len(patients)
    if n == 0:
        return np.zeros(0, dtype=np.int64), joined_key(patients, keys)
    level_codes = [pd.factorize(patients[k], sort=True)[0] for k in reversed(keys)]
    order = np.lexsort(level_codes)
    codes = np.empty(n, dtype=np.int64)
    codes[order] = np.arange(n, dtype=np.int64)
    return codes, joined_key(patients, keys)
