"""The patients multiple imputation brings back: excluded only because a baseline covariate is missing.

The complete-case cohort excludes every patient with a missing analysis field (criterion
``complete_data``).  The multiple-imputation sensitivity analysis (``mi_psm``) imputes the baseline
covariates the analysis models use -- the propensity score's and the Cox models' -- so it can analyse
the patients whose *only* problem is one of those: a patient is brought back when

* ``complete_data`` is the only criterion they fail (every other criterion is met and decided: their
  stage, Child–Pugh class, arm ... are known), and
* at least one of the given covariates is missing, and every missing analysis field feeds one of them (``afp`` -> ``afp_gt_400``,
  ``tumour_number`` -> ``multiple_tumours``, the Child–Pugh inputs -> ``child_pugh_b``, a covariate that
  is itself a field -> itself; :data:`DERIVED_FROM`).  A missing follow-up date, or a field only the
  report uses (height for the dose intensity), keeps the patient out: imputation of outcomes or of
  unused fields is not part of the analysis.

:func:`mi_supplement` returns these patients' rows (the same columns as ``Study.analysis``) and
:func:`flow_with_imputed` adds the flow row that says how many there are.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .eligibility import ANALYSIS_FIELDS

_CHILD_PUGH = ("bilirubin", "albumin", "inr", "ascites", "encephalopathy")

#: a plan column -> the patient fields it is derived from (a column not listed: the field of its name)
DERIVED_FROM: dict[str, tuple[str, ...]] = {
    "afp_gt_400": ("afp",),
    "multiple_tumours": ("tumour_number",),
    "child_pugh_b": _CHILD_PUGH,
    "child_pugh_class": _CHILD_PUGH,
    "child_pugh_score": _CHILD_PUGH,
}

#: covariates derived by a comparison (``afp > 400``), which reads a missing field as False: in the
#: supplement they are set missing where their field is, to be imputed
_COMPARED = {"afp_gt_400": "afp", "multiple_tumours": "tumour_number"}

#: the flow row's step and label
STEP = "imputed"
LABEL = "Excluded for a missing baseline covariate only: analysed after multiple imputation (sensitivity)"


def imputable_fields(columns: Iterable[str]) -> set[str]:
    """The patient fields whose absence the imputation of ``columns`` repairs."""
    out: set[str] = set()
    for c in columns:
        out.update(DERIVED_FROM.get(c, (c,)))
    return out & set(ANALYSIS_FIELDS)


def mi_supplement(patients: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """The screened patients MI brings back (module docstring), as rows like ``Study.analysis``.
    ``patients``: ``Study.patients`` (with the ``fails_*`` flags and ``missing_fields``); ``columns``:
    the covariates the imputation fills in (the plan's propensity and Cox covariates)."""
    fails = [c for c in patients.columns if c.startswith("fails_")]
    if "fails_complete_data" not in fails:
        return patients.iloc[0:0]
    others = [c for c in fails if c != "fails_complete_data"]
    only_incomplete = patients["fails_complete_data"].to_numpy(dtype=bool) & \
        ~patients[others].to_numpy(dtype=bool).any(axis=1)
    fixable = imputable_fields(columns)
    missing = patients[ANALYSIS_FIELDS].isna().to_numpy()
    unfixable = np.array([f not in fixable for f in ANALYSIS_FIELDS])
    keep = only_incomplete & ~missing[:, unfixable].any(axis=1)
    drop = fails + [c for c in ("exclusion_reason", "included", "missing_fields") if c in patients.columns]
    out = patients[keep].drop(columns=drop).reset_index(drop=True)
    for col, source in _COMPARED.items():
        if col in out.columns and source in out.columns:
            out[col] = out[col].astype("boolean").mask(out[source].isna().to_numpy())
    # only patients with something to impute: one whose missing field no imputed covariate needs (an
    # albumin when the Child-Pugh class is decided anyway) is not brought back by imputing
    present = [c for c in dict.fromkeys(columns) if c in out.columns]
    return out[out[present].isna().any(axis=1).to_numpy()].reset_index(drop=True)


def flow_with_imputed(flow: pd.DataFrame, n: int) -> pd.DataFrame:
    """``flow`` with the row saying how many patients MI brings back (after the arms, before the centres)."""
    row = pd.DataFrame([{"step": STEP, "criterion": "complete_data", "label": LABEL, "n": int(n)}])
    flow = flow[flow["step"] != STEP]
    centre = flow["step"].astype(str).str.startswith("centre_").to_numpy()
    at = int(np.argmax(centre)) if centre.any() else len(flow)
    return pd.concat([flow.iloc[:at], row, flow.iloc[at:]], ignore_index=True)


def supplement_table(patients: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """:func:`mi_supplement` as rows of the derived analysis table (the plan's columns, as
    :func:`~hccstudy.cohort.analysis_table.study_table` makes them for the included patients)."""
    from .analysis_table import study_table

    return study_table(mi_supplement(patients, columns))
