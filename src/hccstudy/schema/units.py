"""Laboratory units: the canonical unit of each quantity and the conversions we accept.

Every threshold in hccstudy is applied in one canonical (SI) unit, after conversion, as
``docs/spec/clinical-rules.md`` section 0 requires ("canonicalise first, then score").  The unit a value was
reported in is kept beside it (``<column>_unit_reported``) so that a reader can audit the conversion.

Conversion factors (multiply a reported value by the factor to get the canonical unit):

* bilirubin: 1 mg/dL = 17.1 µmol/L (DECISION, config ``units.bilirubin_factor``; 17.104 is the exact one)
* albumin, haemoglobin: 1 g/dL = 10 g/L; haemoglobin g/dL × 0.6206 = mmol/L, so mmol/L / 0.6206 × 10 = g/L
* cell counts: 1 × 10⁹/L = 1000/mm³ = 1000/µL
* AFP: ng/mL = µg/L
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

BILIRUBIN_FACTOR_DEFAULT = 17.1
#: plausible µmol/L per mg/dL: 10 / molar mass (584.66 g/mol) = 17.104, rounded to 17.1 by convention
BILIRUBIN_FACTOR_RANGE = (17.0, 17.2)


@dataclass(frozen=True)
class Quantity:
    """A measured quantity with its canonical unit and the accepted reported units."""

    name: str
    canonical: str
    #: accepted spelling (lower-case, spaces removed) -> factor to canonical.  ``None`` = bilirubin factor.
    factors: dict[str, float | None]


def _norm_unit(u: str) -> str:
    return str(u).strip().lower().replace(" ", "").replace("μ", "µ").replace("^", "")


QUANTITIES: dict[str, Quantity] = {
    "bilirubin": Quantity("bilirubin", "µmol/L", {"µmol/l": 1.0, "umol/l": 1.0, "mg/dl": None}),
    "albumin": Quantity("albumin", "g/L", {"g/l": 1.0, "g/dl": 10.0}),
    "haemoglobin": Quantity(
        "haemoglobin", "g/L", {"g/l": 1.0, "g/dl": 10.0, "mmol/l": 10.0 / 0.6206}
    ),
    "neutrophils": Quantity(
        "neutrophils", "10^9/L",
        {"109/l": 1.0, "10e9/l": 1.0, "x109/l": 1.0, "g/l": 1.0, "/mm3": 1e-3, "/µl": 1e-3, "/ul": 1e-3,
         "cells/µl": 1e-3, "cells/ul": 1e-3},
    ),
    "platelets": Quantity(
        "platelets", "10^9/L",
        {"109/l": 1.0, "10e9/l": 1.0, "x109/l": 1.0, "g/l": 1.0, "/mm3": 1e-3, "/µl": 1e-3, "/ul": 1e-3,
         "cells/µl": 1e-3, "cells/ul": 1e-3},
    ),
    "alt": Quantity("alt", "U/L", {"u/l": 1.0, "iu/l": 1.0}),
    "ast": Quantity("ast", "U/L", {"u/l": 1.0, "iu/l": 1.0}),
    "afp": Quantity("afp", "ng/mL", {"ng/ml": 1.0, "µg/l": 1.0, "ug/l": 1.0}),
    "inr": Quantity("inr", "ratio", {"ratio": 1.0, "": 1.0, "inr": 1.0}),
}


def accepted_units(quantity: str) -> list[str]:
    """The reported units accepted for ``quantity`` (normalised spelling)."""
    return sorted(QUANTITIES[quantity].factors)


def conversion_factors(
    units: pd.Series, quantity: str, bilirubin_factor: float = BILIRUBIN_FACTOR_DEFAULT
) -> tuple[np.ndarray, np.ndarray]:
    """Factor to the canonical unit for each reported unit, and a mask of unknown units.

    A missing unit means the canonical unit (the data model says so) and gets factor 1.
    """
    q = QUANTITIES[quantity]
    table = {k: (bilirubin_factor if v is None else v) for k, v in q.factors.items()}
    table[_norm_unit(q.canonical)] = 1.0
    missing = units.isna().to_numpy()
    # map over the few distinct spellings, not over every row
    codes, uniques = pd.factorize(units.astype("string"), use_na_sentinel=True)
    lookup = np.array([table.get(_norm_unit(u), np.nan) for u in uniques] + [1.0])
    factors = lookup[codes]  # code -1 (missing) picks the trailing 1.0
    unknown = np.isnan(factors) & ~missing
    return factors, unknown


def _factor(unit: str, quantity: str, bilirubin_factor: float) -> float:
    f, unknown = conversion_factors(pd.Series([unit]), quantity, bilirubin_factor)
    if unknown[0]:
        raise ValueError(f"unknown unit {unit!r} for {quantity}; accepted: {accepted_units(quantity)}")
    return float(f[0])


def to_canonical(
    values: np.ndarray | pd.Series, unit: str, quantity: str, bilirubin_factor: float = BILIRUBIN_FACTOR_DEFAULT
) -> np.ndarray:
    """Convert values reported in ``unit`` to the canonical unit of ``quantity``."""
    return np.asarray(values, dtype=float) * _factor(unit, quantity, bilirubin_factor)


def from_canonical(
    values: np.ndarray | pd.Series, unit: str, quantity: str, bilirubin_factor: float = BILIRUBIN_FACTOR_DEFAULT
) -> np.ndarray:
    """Inverse of :func:`to_canonical`."""
    return np.asarray(values, dtype=float) / _factor(unit, quantity, bilirubin_factor)
