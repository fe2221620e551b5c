"""ALBI score and grade, and the modified ALBI grade (mALBI).

Source: Johnson PJ et al., J Clin Oncol 2015;33:550–558 (ALBI); Hiraoka A et al., Liver Cancer
2017;6:204–215 (mALBI 2a/2b).

    ALBI = 0.66 × log10(bilirubin, µmol/L) + c × albumin (g/L),   c = −0.085 (DECISION; −0.0852 seen in code)

Grade 1: ALBI ≤ −2.60; grade 2: −2.60 < ALBI ≤ −1.39; grade 3: ALBI > −1.39.
mALBI splits grade 2 at −2.27: 2a ≤ −2.27 < 2b.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def albi_score(bilirubin_umol, albumin_gl, coefficient: float = -0.085) -> np.ndarray:
    """ALBI linear predictor.  Bilirubin must be > 0 (a '< detection limit' result should be
    entered as the detection limit, DECISION); non-positive bilirubin gives NaN."""
    b = np.asarray(bilirubin_umol, dtype=float)
    a = np.asarray(albumin_gl, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        logb = np.where(b > 0, np.log10(np.where(b > 0, b, 1.0)), np.nan)
    return 0.66 * logb + coefficient * a


def albi_grade(score) -> pd.Series:
    s = np.asarray(score, dtype=float)
    g = np.where(s <= -2.60, 1.0, np.where(s <= -1.39, 2.0, 3.0))
    return pd.Series(pd.array(np.where(np.isnan(s), None, g), dtype="Int64"))


def malbi_grade(score) -> pd.Series:
    """'1', '2a', '2b' or '3'."""
    s = np.asarray(score, dtype=float)
    g = np.where(s <= -2.60, "1", np.where(s <= -2.27, "2a", np.where(s <= -1.39, "2b", "3"))).astype(object)
    g[np.isnan(s)] = None
    return pd.Series(pd.array(g, dtype="string"))


def albi(bilirubin_umol, albumin_gl, coefficient: float = -0.085) -> pd.DataFrame:
    """Columns ``albi_score``, ``albi_grade`` (1–3) and ``malbi_grade`` (1/2a/2b/3)."""
    s = albi_score(bilirubin_umol, albumin_gl, coefficient)
    return pd.DataFrame({"albi_score": s, "albi_grade": albi_grade(s), "malbi_grade": malbi_grade(s)})
