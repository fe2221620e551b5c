"""Kaplan–Meier medians with their CI against the landmark survival rates of the same curve.

The KM median is the first time the curve reaches 0.5 or below: S(t) > 0.5 at a landmark t means the
median is at least t, S(t) < 0.5 means it is at most t (a rate printed as 50.0% decides nothing).  So a
median below a time where the printed rate is above 50% is impossible; a median of 16.1 months with
62.3% at 12 and 42.1% at 24 is plausible.  A median "not reached" needs every rate above 50%.  The
rates themselves must not increase with time, and the median must lie within its CI.

Where two landmarks bracket the median the arithmetic also gives the median a piecewise-exponential
curve through them would have, t1 + (t2 - t1) ln(S1 / 0.5) / ln(S1 / S2), for the reader's sense of
scale; the severity rests only on the bracket (``consistent`` / ``inconsistent``; no rates:
``not checkable``).
"""

from __future__ import annotations

import math

from .findings import CONSISTENT, INCONSISTENT, NOT_CHECKABLE, Finding
from .model import Survival, SurvivalArm
from .numbers import Num, to_num

CHECK = "KM median vs rates"


def _rates(arm: SurvivalArm) -> list[tuple[Num, Num]]:
    return sorted(((to_num(t), r) for t, r in arm.rates.items()), key=lambda x: x[0].value)


def check_arm(title: str, unit: str, name: str, arm: SurvivalArm) -> list[Finding]:
    rates = _rates(arm)
    med = arm.median
    med_text = med.text if med is not None else "not reached"
    ci = arm.ci
    ci_text = "" if ci is None else " (" + "-".join(x.text if x is not None else "NR" for x in ci) + ")"
    shown = med_text + ci_text
    out: list[Finding] = []
    if not rates:
        return [Finding(CHECK, title, name, "median", shown, "", NOT_CHECKABLE, "no landmark rates printed")]
    rate_text = ", ".join(f"{r.text}% at {t.text}" for t, r in rates)
    problems = []
    for (t1, r1), (t2, r2) in zip(rates, rates[1:], strict=False):
        if r2.interval()[0] > r1.interval()[1]:
            problems.append(f"the rate rises from {r1.text}% at {t1.text} to {r2.text}% at {t2.text}")
    above = [t for t, r in rates if r.interval()[0] > 50]
    below = [t for t, r in rates if r.interval()[1] < 50]
    lo_t = max((t.value for t in above), default=0.0)
    hi_t = min((t.value for t in below), default=math.inf)
    bracket = f"S > 50% up to {lo_t:g}" + (f", S < 50% from {hi_t:g} {unit}" if math.isfinite(hi_t) else f" {unit}")
    if med is None:
        if below:
            problems.append(f"a median not reached needs every rate above 50%, but {below[0].text} {unit} has less")
    else:
        if med.interval()[1] < lo_t:
            problems.append(f"the median {med.text} lies before {lo_t:g} {unit}, where survival is still above 50%")
        if med.interval()[0] > hi_t:
            problems.append(f"the median {med.text} lies after {hi_t:g} {unit}, where survival is already below 50%")
        if ci is not None:
            lo, hi = ci
            if lo is not None and lo.interval()[0] > med.interval()[1]:
                problems.append(f"the CI's lower limit {lo.text} is above the median")
            if hi is not None and hi.interval()[1] < med.interval()[0]:
                problems.append(f"the CI's upper limit {hi.text} is below the median")
    where = f"in [{lo_t:g}, {hi_t:g}]" if math.isfinite(hi_t) else f"at {lo_t:g} {unit} or later (or is not reached)"
    arith = f"{rate_text}: {bracket}, so the median lies {where}"
    pair = [(t1, r1, t2, r2) for (t1, r1), (t2, r2) in zip(rates, rates[1:], strict=False)
            if r1.value > 50 >= r2.value and r2.value > 0]
    est = ""
    if pair:
        t1, r1, t2, r2 = pair[0]
        x = t1.value + (t2.value - t1.value) * math.log(r1.value / 50) / math.log(r1.value / r2.value)
        est = f"{x:.1f}"
        arith += f"; piecewise exponential between {t1.text} and {t2.text}: {x:.1f} {unit}"
    if problems:
        arith += "; " + "; ".join(problems)
    out.append(Finding(CHECK, title, name, "median", shown, est or (f"[{lo_t:g}, {hi_t:g}]" if math.isfinite(hi_t)
                                                                     else f">= {lo_t:g}"),
                       INCONSISTENT if problems else CONSISTENT, arith))
    return out


def check_survival(s: Survival) -> list[Finding]:
    return [f for name, arm in s.arms.items() for f in check_arm(s.title, s.unit, name, arm)]
