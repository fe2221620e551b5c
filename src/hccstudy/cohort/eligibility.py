"""Eligibility criteria and the patient flow (screened -> excluded per reason -> included per arm).

Each criterion is evaluated on derived values for every screened patient.  The flow counts each
excluded patient once, under the first failing criterion in the configured order; the table of all
failing criteria per patient is kept too (a patient can fail several).

==================  ================================================================================
criterion           a patient fails it when
==================  ================================================================================
complete_data       a field needed for the analysis is missing (``need: analysis`` in the data model)
study_window        the first HAIC is outside [study.start, study.end]
bclc_c              the derived BCLC 2022 stage is not C
child_pugh_ab       the derived Child–Pugh class is not in ``child_pugh_classes`` (A, B)
ecog_0_1            ECOG PS > ``ecog_max`` (1)
other_malignancy    another malignancy is recorded
prior_systemic      prior systemic therapy is recorded
tace_during_haic    TACE during HAIC is recorded
regimen             the arm rule gives neither SE nor SI
==================  ================================================================================

A study's own criteria (``eligibility.extra``: ``{name, keep}``) follow the built-in ones unless
``order`` places them: a patient fails one when its ``keep`` expression over the derived patient table
is false, or unknown because of a missing value (:mod:`hccstudy.cohort.expressions`).  Its flow row is
labelled with its name.  An unknown column or a non-boolean result is a
:class:`~hccstudy._yaml.ConfigError` naming ``eligibility.extra[i] (name)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._yaml import ConfigError
from ..schema.fields import PATIENTS
from .config import CohortConfig
from .expressions import ExpressionError, evaluate

LABELS = {
    "complete_data": "Incomplete clinical or follow-up data",
    "study_window": "First HAIC outside the study period",
    "bclc_c": "Not BCLC stage C",
    "child_pugh_ab": "Child-Pugh class not A/B",
    "ecog_0_1": "ECOG performance status >= 2",
    "other_malignancy": "Other malignancy",
    "prior_systemic": "Prior systemic therapy",
    "tace_during_haic": "TACE during HAIC",
    "regimen": "Regimen neither SE nor SI",
}
ANALYSIS_FIELDS = [f.name for f in PATIENTS.fields if f.need == "analysis"] + ["age"]


def _true(s: pd.Series) -> np.ndarray:
    return pd.array(s, dtype="boolean").fillna(False).to_numpy(dtype=bool)


def extra_criteria(p: pd.DataFrame, config: CohortConfig) -> dict[str, np.ndarray]:
    """Per criterion of ``eligibility.extra``: true where a patient fails it (``keep`` false or unknown)."""
    fails = {}
    for i, c in enumerate(config.eligibility.extra):
        try:
            met, _undecided = evaluate(c.keep, p)
        except ExpressionError as exc:
            raise ConfigError(f"eligibility.extra[{i}] ({c.name}): {exc}") from exc
        fails[c.name] = ~met
    return fails


def evaluate_criteria(p: pd.DataFrame, config: CohortConfig) -> pd.DataFrame:
    """Boolean table (one column per criterion, built-in then ``eligibility.extra``; true = fails)
    aligned with ``p``, plus ``missing_fields`` (the analysis fields a patient lacks, comma-separated)."""
    el = config.eligibility
    missing = p[ANALYSIS_FIELDS].isna()
    h = p["first_haic_date"]
    fails = {
        "complete_data": missing.any(axis=1).to_numpy(),
        "study_window": ((h < pd.Timestamp(config.study.start)) | (h > pd.Timestamp(config.study.end))).to_numpy(dtype=bool),
        "bclc_c": (p["bclc_stage"] != "C").fillna(True).to_numpy(dtype=bool),
        "child_pugh_ab": ~p["child_pugh_class"].isin(list(el.child_pugh_classes)).fillna(False).to_numpy(dtype=bool),
        "ecog_0_1": (p["ecog"] > el.ecog_max).fillna(False).to_numpy(dtype=bool),
        "other_malignancy": _true(p["other_malignancy"]),
        "prior_systemic": _true(p["prior_systemic_therapy"]),
        "tace_during_haic": _true(p["tace_during_haic"]),
        "regimen": p["arm"].isna().to_numpy(),
    }
    fails |= extra_criteria(p, config)
    out = pd.DataFrame({f"fails_{k}": v for k, v in fails.items()}, index=p.index)
    names = np.array(ANALYSIS_FIELDS, dtype=object)
    m = missing.to_numpy()
    text = np.full(len(p), "", dtype=object)
    for i in np.flatnonzero(m.any(axis=1)):  # only the (few) incomplete patients
        text[i] = ",".join(names[m[i]])
    out["missing_fields"] = text
    return out


def first_failing(fails: pd.DataFrame, order: list[str]) -> pd.Series:
    """The first failing criterion per patient in ``order`` (missing when all pass)."""
    reason = pd.Series(pd.NA, index=fails.index, dtype="string")
    for c in reversed(order):
        reason[fails[f"fails_{c}"].to_numpy()] = c
    return reason


def patient_flow(reason: pd.Series, arm: pd.Series, order: list[str], centre: pd.Series | None = None) -> pd.DataFrame:
    """Flow table: screened, then excluded per reason (first failing), included, and per arm; with
    ``centre`` (aligned with ``reason``) also per centre, in sorted order, ``centre_screened`` and
    ``centre_included`` rows (criterion and label: the centre)."""
    rows = [{"step": "screened", "criterion": "", "label": "Screened", "n": int(len(reason))}]
    for c in order:
        rows.append({"step": "excluded", "criterion": c, "label": LABELS.get(c, c), "n": int((reason == c).sum())})
    included = reason.isna().to_numpy()
    rows.append({"step": "included", "criterion": "", "label": "Included", "n": int(included.sum())})
    for a in ("SE", "SI"):
        rows.append({"step": "arm", "criterion": a, "label": f"Arm {a}", "n": int((arm[included] == a).sum())})
    if centre is not None:
        c = pd.Series(np.asarray(centre, dtype=object)).astype(str)
        screened = c.value_counts().sort_index()
        kept = c[included].value_counts().reindex(screened.index, fill_value=0)
        rows += [{"step": "centre_screened", "criterion": k, "label": k, "n": int(v)} for k, v in screened.items()]
        rows += [{"step": "centre_included", "criterion": k, "label": k, "n": int(v)} for k, v in kept.items()]
    return pd.DataFrame(rows)


def all_failing_counts(fails: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Per criterion: patients failing it at all, and failing it first."""
    first = first_failing(fails, order)
    return pd.DataFrame([
        {"criterion": c, "label": LABELS.get(c, c), "n_failing": int(fails[f"fails_{c}"].sum()),
         "n_first_failing": int((first == c).sum())}
        for c in order
    ])
