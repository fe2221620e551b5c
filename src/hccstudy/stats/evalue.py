"""E-values for unmeasured confounding (VanderWeele & Ding 2017).

The E-value is the minimum strength of association, on the risk-ratio scale, that an unmeasured
confounder would need with both the exposure and the outcome (conditional on the measured covariates)
to fully explain away an observed exposure-outcome risk ratio RR:

    E = RR* + sqrt(RR* (RR* - 1)),   RR* = RR if RR >= 1, else 1 / RR.

For the confidence interval, the E-value is computed from the limit closer to 1 (the lower limit when
RR > 1, the upper limit when RR < 1); it is 1 when the interval contains 1.

Hazard ratios (VanderWeele 2020; VanderWeele, Ding & Mathur 2019, "Technical considerations in the use
of the E-value", J Causal Inference): when the outcome is rare (< 15 % at the end of follow-up) HR ~ RR;
when it is common, an HR is first converted to an approximate RR by

    RR = (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1 / HR)),

which is what the R package EValue (``evalues.HR(..., rare = FALSE)``) does.  The conversion is applied
to the estimate and to each limit before the E-value formula.

References: VanderWeele TJ, Ding P. Sensitivity analysis in observational research: introducing the
E-value. Ann Intern Med 2017;167:268-274.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .km import kaplan_meier

COMMON_THRESHOLD = 0.15
COMMON_TRANSFORM = "common outcome: HR -> RR by (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))"
RARE_TRANSFORM = "rare outcome: HR ~ RR"


@dataclass(frozen=True)
class EValue:
    """E-value of a point estimate (``point``) and of its confidence interval (``ci``: from the limit
    closer to 1; 1 when the interval contains 1; NaN when no interval was given).  ``transform`` says how
    an HR was put on the RR scale ("" for a risk ratio)."""

    point: float
    ci: float
    transform: str = ""


def _check_ratio(name: str, value) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if np.any(~np.isnan(arr) & (arr <= 0)):
        raise ValueError(f"{name} must be a positive ratio, got {value!r}")
    return arr


def evalue_rr(rr):
    """E-value of a risk ratio (scalar or array): RR* + sqrt(RR* (RR* - 1)) with RR* = max(RR, 1/RR).
    NaN (no estimate) gives NaN; infinite gives infinite."""
    r = _check_ratio("rr", rr)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(r < 1, 1 / r, r)
        e = r + np.sqrt(r * (r - 1))
    return float(e) if e.ndim == 0 else e


def hr_to_rr(hr, outcome_common: bool):
    """Approximate RR of an HR: the common-outcome conversion (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))
    when ``outcome_common`` (> 15 % at the end of follow-up), else HR itself.  HR = 1 maps to 1."""
    h = _check_ratio("hr", hr)
    if not outcome_common:
        return float(h) if h.ndim == 0 else h
    with np.errstate(divide="ignore", invalid="ignore"):
        rr = np.where(h == 1, 1.0, (1 - 0.5 ** np.sqrt(h)) / (1 - 0.5 ** np.sqrt(1 / h)))
    return float(rr) if rr.ndim == 0 else rr


def outcome_is_common(time, event, threshold: float = COMMON_THRESHOLD) -> bool:
    """Whether the outcome is common in the sense of the HR conversion: the Kaplan-Meier cumulative
    incidence at the end of follow-up (1 - S(t_max), all patients pooled) exceeds ``threshold`` (15 %)."""
    km = kaplan_meier(time, event)
    return bool(1 - km.table["surv"].iloc[-1] > threshold)


def _ci_evalue(est: float, lcl: float, ucl: float) -> float:
    if np.isnan(lcl) or np.isnan(ucl):
        return float("nan")
    if lcl > ucl:
        raise ValueError(f"confidence limits in the wrong order: lcl {lcl} > ucl {ucl}")
    if lcl <= 1 <= ucl:
        return 1.0
    return evalue_rr(lcl if est > 1 else ucl)


def evalue_ratio(rr: float, lcl: float = float("nan"), ucl: float = float("nan")) -> EValue:
    """E-values of a risk ratio and its confidence interval (limits optional)."""
    return EValue(evalue_rr(rr), _ci_evalue(float(rr), float(lcl), float(ucl)), "")


def evalue_hr(hr: float, lcl: float, ucl: float, outcome_common: bool) -> EValue:
    """E-values of a hazard ratio and its confidence interval, after the common- or rare-outcome
    conversion to the RR scale (``transform`` says which).  An HR < 1 is inverted by the formula; the CI
    E-value uses the (converted) limit closer to 1 and is 1 when the interval contains 1 (NaN limits: no CI E-value)."""
    est = hr_to_rr(hr, outcome_common)
    lo = hr_to_rr(lcl, outcome_common)
    hi = hr_to_rr(ucl, outcome_common)
    return EValue(evalue_rr(est), _ci_evalue(est, lo, hi), COMMON_TRANSFORM if outcome_common else RARE_TRANSFORM)
