"""Child–Pugh score and class.

Source: Pugh RNH et al., Br J Surg 1973;60:646–649 (INR substituted for prothrombin time by later
convention); thresholds as in ``docs/spec/clinical-rules.md`` section 1:

=====================  ========  ==========  ==========
component              1 point   2 points    3 points
=====================  ========  ==========  ==========
bilirubin, mg/dL       < 2.0     2.0–3.0     > 3.0
albumin, g/dL          > 3.5     2.8–3.5     < 2.8   (variant "harrison": 3.0–3.5 / < 3.0)
INR                    < 1.7     1.7–2.3     > 2.3
PT above control, s    < 4       4–6         > 6     (only when INR is missing)
ascites                none      mild        moderate–severe
encephalopathy         none      grade 1–2   grade 3–4
=====================  ========  ==========  ==========

Class A = 5–6, B = 7–9, C = 10–15.  Bilirubin arrives in µmol/L (canonical); the mg/dL cut-offs are
converted with the study's factor (default 17.1), so 51 µmol/L (2.98 mg/dL) scores 2 and 3.0 mg/dL
scores 2 whichever unit the centre used.  Any missing component gives a missing score; the class is
missing only when the missing components could change it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._compare import ge, gt, le, lt

ASCITES_POINTS = {"none": 1, "mild": 2, "moderate_severe": 3}
ENCEPHALOPATHY_POINTS = {"none": 1, "grade_1_2": 2, "grade_3_4": 3}


def _points3(x: np.ndarray, low: float, high: float, *, increasing: bool) -> np.ndarray:
    """1/2/3 points for a component with a middle band [low, high] inclusive."""
    x = np.asarray(x, dtype=float)
    if increasing:  # higher is worse (bilirubin, INR, PT)
        pts = np.where(lt(x, low), 1.0, np.where(le(x, high), 2.0, 3.0))
    else:  # lower is worse (albumin)
        pts = np.where(gt(x, high), 1.0, np.where(ge(x, low), 2.0, 3.0))
    return np.where(np.isnan(x), np.nan, pts)


def bilirubin_points(bilirubin_umol: np.ndarray, factor: float = 17.1) -> np.ndarray:
    return _points3(bilirubin_umol, 2.0 * factor, 3.0 * factor, increasing=True)


def albumin_points(albumin_gl: np.ndarray, variant: str = "pugh") -> np.ndarray:
    if variant not in ("pugh", "harrison"):
        raise ValueError("albumin variant must be 'pugh' (2.8 g/dL) or 'harrison' (3.0 g/dL)")
    low = 28.0 if variant == "pugh" else 30.0
    return _points3(albumin_gl, low, 35.0, increasing=False)


def coagulation_points(inr: np.ndarray, pt_prolongation_s: np.ndarray | None = None) -> np.ndarray:
    """INR points; prothrombin-time points only where INR is missing (never both)."""
    pts = _points3(inr, 1.7, 2.3, increasing=True)
    if pt_prolongation_s is not None:
        pts = np.where(np.isnan(pts), _points3(pt_prolongation_s, 4.0, 6.0, increasing=True), pts)
    return pts


def _map_points(values, table: dict[str, int]) -> np.ndarray:
    return pd.Series(values, dtype="object").map(table).to_numpy(dtype=float, na_value=np.nan)


def _class(score: np.ndarray) -> np.ndarray:
    """Class A (5-6), B (7-9) or C (10-15) of a total score."""
    return np.where(score <= 6, "A", np.where(score <= 9, "B", "C")).astype(object)


def child_pugh(
    bilirubin_umol,
    albumin_gl,
    inr,
    ascites,
    encephalopathy,
    pt_prolongation_s=None,
    *,
    bilirubin_factor: float = 17.1,
    albumin_variant: str = "pugh",
) -> pd.DataFrame:
    """Points per component, total score (5–15) and class (A/B/C) for each patient.

    Returns columns ``cp_bilirubin, cp_albumin, cp_coagulation, cp_ascites, cp_encephalopathy,
    child_pugh_score`` (Int64) and ``child_pugh_class`` (string; missing when any component is).
    """
    parts = {
        "cp_bilirubin": bilirubin_points(bilirubin_umol, bilirubin_factor),
        "cp_albumin": albumin_points(albumin_gl, albumin_variant),
        "cp_coagulation": coagulation_points(
            inr, None if pt_prolongation_s is None else np.asarray(pt_prolongation_s, dtype=float)
        ),
        "cp_ascites": _map_points(ascites, ASCITES_POINTS),
        "cp_encephalopathy": _map_points(encephalopathy, ENCEPHALOPATHY_POINTS),
    }
    score = sum(parts.values())
    # A missing component scores 1-3 points: the class is still known when every completion gives it.
    pts = np.column_stack(list(parts.values()))
    known_sum = np.nansum(pts, axis=1)
    n_missing = np.isnan(pts).sum(axis=1)
    low_cls, high_cls = _class(known_sum + n_missing), _class(known_sum + 3 * n_missing)
    cls = np.where(low_cls == high_cls, low_cls, None).astype(object)
    out = pd.DataFrame({k: pd.array(np.where(np.isnan(v), None, v), dtype="Int64") for k, v in parts.items()})
    out["child_pugh_score"] = pd.array(np.where(np.isnan(score), None, score), dtype="Int64")
    out["child_pugh_class"] = pd.array(cls, dtype="string")
    return out
