"""CTCAE v5.0 grades of laboratory adverse events, worst post-baseline grade and treatment emergence.

Source: NCI CTCAE v5.0 (27 Nov 2017); grading logic as in ``pharmaverse/admiral``
(``derive_var_atoxgr``, ``ncictcaev5.json``); ``docs/spec/clinical-rules.md`` section 6.

=============================  =================  ============  ============  ==========
term (canonical unit)          grade 1            grade 2       grade 3       grade 4
=============================  =================  ============  ============  ==========
ALT/AST, baseline normal       > 1.0–3.0 × ULN    > 3.0–5.0 ×   > 5.0–20.0 ×  > 20.0 ×
ALT/AST, baseline abnormal     1.5–3.0 × base     > 3.0–5.0 ×   > 5.0–20.0 ×  > 20.0 ×
bilirubin, baseline normal     > 1.0–1.5 × ULN    > 1.5–3.0 ×   > 3.0–10.0 ×  > 10.0 ×
bilirubin, baseline abnormal   > 1.0–1.5 × base   > 1.5–3.0 ×   > 3.0–10.0 ×  > 10.0 ×
anaemia, Hb g/L                < LLN–100          < 100–80      < 80          (clinical)
neutrophils, 10⁹/L             < LLN–1.5          < 1.5–1.0     < 1.0–0.5     < 0.5
platelets, 10⁹/L               < LLN–75           < 75–50       < 50–25       < 25
hypoalbuminaemia, g/L          < LLN–30           < 30–20       < 20          (clinical)
=============================  =================  ============  ============  ==========

Upper ends are inclusive (ALT exactly 3 × ULN is grade 1; Hb exactly 100 g/L is grade 1).  A value
≤ ULN (≥ LLN) is grade 0; ALT/AST with an abnormal baseline and a ratio < 1.5 is grade 0.  Grades
that need clinical information (transfusion, life-threatening, death) are not derived from values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._compare import ge, gt, le, lt

#: lab test -> CTCAE term it grades
LAB_TERMS = {
    "alt": "alt_increased",
    "ast": "ast_increased",
    "bilirubin": "blood_bilirubin_increased",
    "haemoglobin": "anaemia",
    "neutrophils": "neutrophil_count_decreased",
    "platelets": "platelet_count_decreased",
    "albumin": "hypoalbuminaemia",
}
#: default reference limits in canonical units when a lab row gives none (DECISION, config ``ctcae.limits``)
DEFAULT_LIMITS = {
    "alt": {"uln": 40.0}, "ast": {"uln": 40.0}, "bilirubin": {"uln": 21.0},
    "haemoglobin": {"lln": 130.0}, "neutrophils": {"lln": 2.0}, "platelets": {"lln": 125.0},
    "albumin": {"lln": 35.0},
}


def _grade(conditions: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    """Highest grade whose condition holds; NaN where x is NaN."""
    g = np.zeros(len(x), dtype=float)
    for grade, cond in enumerate(conditions, start=1):
        g = np.where(cond, float(grade), g)
    return np.where(np.isnan(x), np.nan, g)


def grade_increase(value, uln, baseline=None, *, term: str = "alt") -> np.ndarray:
    """Grades for 'increased' terms: ``alt``/``ast`` or ``bilirubin`` multiples, baseline-aware."""
    v = np.asarray(value, dtype=float)
    u = np.asarray(uln, dtype=float) * np.ones_like(v)
    b = np.full_like(v, np.nan) if baseline is None else np.asarray(baseline, dtype=float) * np.ones_like(v)
    abnormal = gt(b, u)  # baseline above ULN
    ref = np.where(abnormal, b, u)
    if term in ("alt", "ast"):
        cuts = [(1.0, 1.5), 3.0, 5.0, 20.0]
    elif term == "bilirubin":
        cuts = [(1.0, 1.0), 1.5, 3.0, 10.0]
    else:
        raise ValueError(f"unknown increase term {term!r}")
    g1_normal, g1_abnormal = cuts[0]
    g1 = np.where(abnormal, ge(v, g1_abnormal * ref) if term in ("alt", "ast") else gt(v, ref), gt(v, g1_normal * ref))
    conds = [g1, gt(v, cuts[1] * ref), gt(v, cuts[2] * ref), gt(v, cuts[3] * ref)]
    g = _grade(conds, v)
    return np.where(le(v, u), np.where(np.isnan(v), np.nan, 0.0), g)


def grade_decrease(value, lln, cuts: tuple[float, ...]) -> np.ndarray:
    """Grades for 'decreased' terms with absolute cut-offs: grade 1 below LLN down to cuts[0]
    inclusive, grade 2 below cuts[0] down to cuts[1] inclusive, and so on."""
    v = np.asarray(value, dtype=float)
    lo = np.asarray(lln, dtype=float) * np.ones_like(v)
    conds = [lt(v, lo)] + [lt(v, c) for c in cuts]
    return _grade(conds, v)


def grade_lab(test: str, value, *, uln=None, lln=None, baseline=None) -> np.ndarray:
    """CTCAE v5.0 grade (0–4, NaN if missing) of ``value`` for lab ``test`` in canonical units."""
    lim = DEFAULT_LIMITS[test]
    if test in ("alt", "ast", "bilirubin"):
        return grade_increase(value, lim["uln"] if uln is None else uln, baseline, term=test)
    cuts = {"haemoglobin": (100.0, 80.0), "neutrophils": (1.5, 1.0, 0.5), "platelets": (75.0, 50.0, 25.0),
            "albumin": (30.0, 20.0)}[test]
    return grade_decrease(value, lim["lln"] if lln is None else lln, cuts)


def grade_labs(labs: pd.DataFrame, baseline_value: pd.Series | None = None,
               limits: dict[str, dict[str, float]] | None = None) -> np.ndarray:
    """Grade every row of a long lab table (test, value, uln, lln in canonical units).  Missing
    ULN/LLN take ``limits`` (default :data:`DEFAULT_LIMITS`).  ``baseline_value`` aligns with rows."""
    limits = {**DEFAULT_LIMITS, **(limits or {})}
    grades = np.full(len(labs), np.nan)
    for test, idx in labs.groupby("test", sort=True).indices.items():
        if test not in LAB_TERMS:
            continue
        sub = labs.iloc[idx]
        uln = sub["uln"].fillna(limits[test].get("uln", np.nan)).to_numpy(dtype=float)
        lln = sub["lln"].fillna(limits[test].get("lln", np.nan)).to_numpy(dtype=float)
        base = None if baseline_value is None else baseline_value.iloc[idx].to_numpy(dtype=float)
        grades[idx] = grade_lab(test, sub["value"].to_numpy(dtype=float), uln=uln, lln=lln, baseline=base)
    return grades


def lab_toxicity(labs: pd.DataFrame, origin: pd.Series, keys: list[str],
                 limits: dict[str, dict[str, float]] | None = None,
                 window_end: pd.Series | None = None,
                 abnormal_baseline_grade: str = "zero") -> pd.DataFrame:
    """Worst post-baseline grade and treatment-emergent flag per patient and lab term.

    Baseline = the last value on or before the origin (first HAIC).  Post-baseline = values after the
    origin (up to ``window_end`` per patient, if given).  Treatment-emergent = worst post-baseline grade
    above the baseline grade (a missing baseline grade counts as 0) (DECISION: reported beside the worst grade).

    ``abnormal_baseline_grade`` (DECISION, ``docs/spec/clinical-rules.md`` 6.1) is the grade of a baseline
    value that is itself above the ULN for an "increased" term: ``"zero"`` (default, as admiral: the
    baseline is its own reference in the "baseline abnormal" rows, so it grades 0) or ``"uln"`` (grade
    the baseline value against the ULN, as if its baseline were normal).  ALT 80 U/L at baseline with
    ULN 40 grades 0 or 1; a later ALT of 130 (1.6 × baseline, grade 1) is treatment-emergent only under
    ``"zero"``.  Decreased terms use absolute cut-offs and are the same under both.
    Returns one row per (patient, term) with baseline_grade, worst_grade, emergent.
    """
    if abnormal_baseline_grade not in ("zero", "uln"):
        raise ValueError("abnormal_baseline_grade must be 'zero' or 'uln'")
    # only the columns used: every filter below copies the rows of each column it carries
    used = [c for c in dict.fromkeys([*keys, "test", "date", "value", "uln", "lln"]) if c in labs]
    labs = labs.loc[labs["test"].isin(list(LAB_TERMS)).to_numpy(dtype=bool), used].dropna(subset=[*keys, "date", "value"])
    columns = [*keys, "term", "baseline_grade", "worst_grade", "emergent"]
    if labs.empty:  # (joins on empty Arrow-backed keys fail in pandas 3)
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    ix = pd.MultiIndex.from_frame(labs[keys]) if len(keys) > 1 else pd.Index(labs[keys[0]])
    o = origin.reindex(ix).to_numpy()
    labs = labs.assign(origin=o)
    labs = labs[labs["origin"].notna()]
    # the test as an integer code ranked like the names: sorting and grouping by it give the order the
    # names give, without hashing the strings at every step
    tk = "_test_code"
    while tk in labs:
        tk = "_" + tk
    tcode, tests = pd.factorize(labs["test"], sort=True)
    labs = labs.assign(**{tk: tcode})
    group = [*keys, tk]
    labs = labs.sort_values([*group, "date"], kind="stable")
    pre = labs[labs["date"] <= labs["origin"]]
    base = pre.groupby(group, sort=False)["value"].last().rename("baseline_value")
    labs = labs.join(base, on=group)
    labs["grade"] = grade_labs(labs, labs["baseline_value"], limits)
    post = labs[labs["date"] > labs["origin"]]
    if window_end is not None:
        we = window_end.reindex(pd.MultiIndex.from_frame(post[keys]) if len(keys) > 1 else pd.Index(post[keys[0]]))
        post = post[(we.isna() | (post["date"].to_numpy() <= we.to_numpy())).to_numpy(dtype=bool)]
    pre_rows = labs[labs["date"] <= labs["origin"]]
    if abnormal_baseline_grade == "uln":  # baseline values graded against the ULN, not against themselves
        pre_rows = pre_rows.assign(grade=grade_labs(pre_rows, None, limits))
    bgrade = pre_rows.groupby(group, sort=False)["grade"].last().rename("baseline_grade")
    worst = post.groupby(group, sort=False)["grade"].max().rename("worst_grade")
    out = pd.concat([bgrade, worst], axis=1).reset_index()
    out["term"] = pd.Series(tests.take(out[tk].to_numpy()), index=out.index).map(LAB_TERMS)
    out["emergent"] = out["worst_grade"].fillna(-1) > out["baseline_grade"].fillna(0)
    for c in ("baseline_grade", "worst_grade"):
        out[c] = out[c].astype("Int64")
    return out[columns]


def worst_grades(toxicity: pd.DataFrame, events: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Combine lab-derived worst grades with recorded clinical AEs: one row per (patient, term)
    with the worst grade from either source and its source.  A recorded grade for a lab term
    (transfusion, life-threatening) overrides a lower derived one."""
    lab = toxicity.dropna(subset=["worst_grade"])[[*keys, "term", "worst_grade"]].rename(columns={"worst_grade": "grade"})
    lab = lab.assign(source="lab")
    rec = events.dropna(subset=["grade"]).groupby([*keys, "term"], sort=False)["grade"].max().reset_index()
    rec = rec.assign(source="recorded")
    both = pd.concat([lab, rec], ignore_index=True)
    both["grade"] = both["grade"].astype("int64")
    both = both.sort_values([*keys, "term", "grade", "source"], kind="stable")
    return both.groupby([*keys, "term"], sort=True).tail(1).reset_index(drop=True)
