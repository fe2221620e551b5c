"""Tumour response and adverse-event tables by arm.

* Response: best overall response (CR / PR / SD / PD / NE) n (%) per arm; ORR = (CR + PR) / n and
  DCR = (CR + PR + SD) / n with exact Clopper–Pearson 95% CIs; between-arm test of responders vs not
  as in Table 1 (chi-square with Yates, Fisher's exact when an expected count < 5).
* Adverse events: per term and arm, patients by worst grade -- grade 1–2, grade 3–4, grade 5, any
  grade -- and rows "Any adverse event" and "Any grade 3-4"; between-arm tests for any grade and for
  grade >= 3, as above.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from .tests import categorical_test

RESPONSES = ["CR", "PR", "SD", "PD", "NE"]


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)


def two_by_two_test(k: list[int], n: list[int], fisher_expected_below: float | None = 5.0) -> tuple[str, float]:
    """Between-arm test of a proportion (the Table 1 rule); ('', nan) when undefined."""
    tab = np.array([[k[0], k[1]], [n[0] - k[0], n[1] - k[1]]])
    if (tab.sum(axis=1) == 0).any() or (tab.sum(axis=0) == 0).any():
        return "", float("nan")
    r = categorical_test(tab, fisher_expected_below=fisher_expected_below)
    return r.test, r.p


def response_table(bor: pd.Series, arm: pd.Series, arms: list[str], fisher_expected_below: float | None = 5.0) -> dict:
    """Best-overall-response counts per arm plus ORR / DCR with CIs and tests."""
    b = bor.astype(object).where(bor.notna(), "NE").to_numpy()
    a = arm.to_numpy()
    n = [int((a == x).sum()) for x in arms]
    rows = []
    for r in RESPONSES:
        row = {"response": r}
        for x, nx in zip(arms, n, strict=True):
            k = int(((b == r) & (a == x)).sum())
            row[x] = {"n": k, "pct": 100 * k / nx if nx else float("nan")}
        rows.append(row)
    rates = []
    for label, members in (("ORR", ("CR", "PR")), ("DCR", ("CR", "PR", "SD"))):
        ks = [int((np.isin(b, members) & (a == x)).sum()) for x in arms]
        test, p = two_by_two_test(ks, n, fisher_expected_below)
        row = {"measure": label, "test": test, "p": p}
        for x, k, nx in zip(arms, ks, n, strict=True):
            lo, hi = clopper_pearson(k, nx)
            row[x] = {"n": k, "of": nx, "rate": k / nx if nx else float("nan"), "lcl": lo, "ucl": hi}
        rates.append(row)
    return {"n": dict(zip(arms, n, strict=True)), "best_response": rows, "rates": rates}


def adverse_event_table(grades: pd.DataFrame, arm: pd.Series, arms: list[str],
                        fisher_expected_below: float | None = 5.0) -> list[dict]:
    """``grades``: one column per AE term (worst CTCAE grade per patient, 0 or missing = none)."""
    a = arm.to_numpy()
    n = [int((a == x).sum()) for x in arms]
    g = grades.apply(lambda c: pd.to_numeric(c, errors="coerce")).fillna(0).to_numpy(dtype=float)
    rows = []

    def row_for(term: str, worst: np.ndarray) -> dict:
        row = {"term": term}
        any_k, sev_k = [], []
        for x, nx in zip(arms, n, strict=True):
            m = a == x
            c12 = int(((worst >= 1) & (worst <= 2) & m).sum())
            c34 = int(((worst >= 3) & (worst <= 4) & m).sum())
            c5 = int(((worst >= 5) & m).sum())
            anyc = int(((worst >= 1) & m).sum())
            any_k.append(anyc)
            sev_k.append(c34 + c5)
            row[x] = {"grade_1_2": c12, "grade_3_4": c34, "grade_5": c5, "any": anyc, "n": nx}
        row["test_any"], row["p_any"] = two_by_two_test(any_k, n, fisher_expected_below)
        row["test_grade_3plus"], row["p_grade_3plus"] = two_by_two_test(sev_k, n, fisher_expected_below)
        return row

    for j, term in enumerate(grades.columns):
        rows.append(row_for(str(term), g[:, j]))
    worst_any = g.max(axis=1) if g.shape[1] else np.zeros(len(a))
    rows.append(row_for("Any adverse event", worst_any))
    rows.append(row_for("Any grade 3-4", np.where(worst_any >= 3, worst_any, 0)))
    return rows
