"""Body-surface area, planned doses and relative dose intensity.

BSA (height H cm, weight W kg, m²):

* Mosteller RD, NEJM 1987;317:1098:        BSA = √(H·W / 3600)   (default)
* DuBois D, DuBois EF, Arch Intern Med 1916: BSA = 0.007184 · W^0.425 · H^0.725

Planned HAIC-FOLFOX doses per cycle (this study, ``docs/spec/study.md``): oxaliplatin 85 mg/m², calcium
folinate 200 mg/m², 5-fluorouracil 2500 mg/m² (bolus and infusion stored separately; the total is
compared).  Options (DECISION, ``docs/spec/clinical-rules.md`` section 7): BSA rounding before multiplying and a
BSA cap (default: none; with a cap every planned dose uses min(BSA, cap)).
Bevacizumab: mg/kg × actual weight.  Checkpoint inhibitors: fixed doses, never scaled.

Relative dose intensity = delivered dose per week / planned dose per week (Hryniuk's dose intensity),
with the HAIC period running from cycle 1 to one cycle length after the last cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: fixed doses per administration, mg, every 3 weeks ([verify] per label for some agents)
FIXED_DOSES_MG = {
    "atezolizumab": 1200.0, "sintilimab": 200.0, "tislelizumab": 200.0, "pembrolizumab": 200.0,
    "camrelizumab": 200.0, "toripalimab": 240.0,
}


@dataclass(frozen=True)
class HaicRegimen:
    """Per-cycle doses in mg/m² and the cycle length in days."""

    oxaliplatin: float = 85.0
    folinate: float = 200.0
    fluorouracil: float = 2500.0
    cycle_days: int = 21


def bsa(height_cm, weight_kg, formula: str = "mosteller") -> np.ndarray:
    h = np.asarray(height_cm, dtype=float)
    w = np.asarray(weight_kg, dtype=float)
    if formula == "mosteller":
        return np.sqrt(h * w / 3600.0)
    if formula == "dubois":
        return 0.007184 * w**0.425 * h**0.725
    raise ValueError("BSA formula must be 'mosteller' or 'dubois'")


def dosing_bsa(height_cm, weight_kg, formula: str = "mosteller", round_to: float | None = None,
               cap: float | None = None) -> np.ndarray:
    """BSA used for dosing: optionally rounded (e.g. to 0.01 m²), then optionally capped."""
    b = bsa(height_cm, weight_kg, formula)
    if round_to:
        b = np.round(b / round_to) * round_to
    if cap is not None:
        b = np.minimum(b, cap)
    return b


def planned_haic_doses(bsa_m2, regimen: HaicRegimen = HaicRegimen()) -> pd.DataFrame:
    """Planned mg per cycle of oxaliplatin, folinate and 5-FU (total) for each BSA."""
    b = np.asarray(bsa_m2, dtype=float)
    return pd.DataFrame({
        "oxaliplatin_mg": regimen.oxaliplatin * b,
        "folinate_mg": regimen.folinate * b,
        "fluorouracil_mg": regimen.fluorouracil * b,
    })


def bevacizumab_dose(weight_kg, mg_per_kg: float = 15.0) -> np.ndarray:
    return np.asarray(weight_kg, dtype=float) * mg_per_kg


def fixed_dose(agent: str) -> float:
    return FIXED_DOSES_MG[agent.lower()]


def haic_dose_intensity(cycles: pd.DataFrame, bsa_m2: pd.Series, keys: list[str],
                        regimen: HaicRegimen = HaicRegimen()) -> pd.DataFrame:
    """Per patient: cycles given, HAIC weeks, delivered and planned mg per week and relative dose
    intensity (RDI) of oxaliplatin, folinate and 5-FU.  ``bsa_m2`` is indexed by keys.

    HAIC weeks = (last cycle date − first cycle date + cycle length) / 7.
    """
    c = cycles.dropna(subset=[*keys, "date"])
    c = c.assign(fluorouracil_mg=c["fluorouracil_bolus_mg"].fillna(0) + c["fluorouracil_infusion_mg"].fillna(0))
    fu_missing = c["fluorouracil_bolus_mg"].isna() & c["fluorouracil_infusion_mg"].isna()
    c.loc[fu_missing.to_numpy(), "fluorouracil_mg"] = np.nan
    g = c.groupby(keys, sort=True)
    out = g.agg(haic_cycles=("date", "size"), first=("date", "min"), last=("date", "max"),
                oxaliplatin_mg=("oxaliplatin_mg", "sum"), folinate_mg=("folinate_mg", "sum"),
                fluorouracil_mg=("fluorouracil_mg", "sum"))
    weeks = ((out["last"] - out["first"]).dt.days + regimen.cycle_days) / 7.0
    out["haic_weeks"] = weeks
    b = bsa_m2.reindex(out.index).to_numpy(dtype=float)
    per_week = 7.0 / regimen.cycle_days
    for drug, dose in (("oxaliplatin", regimen.oxaliplatin), ("folinate", regimen.folinate),
                       ("fluorouracil", regimen.fluorouracil)):
        delivered = out[f"{drug}_mg"].to_numpy(dtype=float) / weeks.to_numpy()
        planned = dose * b * per_week
        out[f"rdi_{drug}"] = delivered / planned
    return out.drop(columns=["first", "last"])
