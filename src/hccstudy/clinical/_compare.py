"""Comparisons with inclusive edges that survive unit conversion.

Clinical cut-offs are inclusive at documented edges (e.g. "2.0–3.0 mg/dL").  A value converted from
another unit can land a rounding error away from the edge (3.0 mg/dL × 17.1 = 51.300000000000004),
so an edge counts as reached within a relative 1e-9.
"""

from __future__ import annotations

import numpy as np

RTOL = 1e-9


def le(a, b) -> np.ndarray:
    """a <= b, with a reached edge counted as equal."""
    a = np.asarray(a, dtype=float)
    return a <= np.asarray(b, dtype=float) * (1 + RTOL) + 0.0


def ge(a, b) -> np.ndarray:
    """a >= b, with a reached edge counted as equal."""
    a = np.asarray(a, dtype=float)
    return a >= np.asarray(b, dtype=float) * (1 - RTOL)


def lt(a, b) -> np.ndarray:
    return ~ge(a, b) & ~np.isnan(np.asarray(a, dtype=float))


def gt(a, b) -> np.ndarray:
    return ~le(a, b) & ~np.isnan(np.asarray(a, dtype=float))
