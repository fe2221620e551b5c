"""Clinical derivations: pure, vectorised functions (numpy/pandas in, out)."""

from .albi import albi, albi_grade, albi_score, malbi_grade
from .bclc import ECOG_SCALE, bclc_stage
from .child_pugh import child_pugh
from .ctcae import DEFAULT_LIMITS, LAB_TERMS, grade_lab, lab_toxicity, worst_grades
from .dosing import (
    HaicRegimen,
    bevacizumab_dose,
    bsa,
    dosing_bsa,
    fixed_dose,
    haic_dose_intensity,
    planned_haic_doses,
)
from .mrecist import (
    MrecistOptions,
    assess_responses,
    best_overall_response,
    overall_response,
    response_rates,
    target_response,
)

__all__ = [
    "DEFAULT_LIMITS", "ECOG_SCALE", "LAB_TERMS", "HaicRegimen", "MrecistOptions", "albi", "albi_grade",
    "albi_score", "assess_responses", "bclc_stage", "best_overall_response", "bevacizumab_dose", "bsa",
    "child_pugh", "dosing_bsa", "fixed_dose", "grade_lab", "haic_dose_intensity", "lab_toxicity",
    "malbi_grade", "overall_response", "planned_haic_doses", "response_rates", "target_response",
    "worst_grades",
]
