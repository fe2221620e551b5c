"""Hazard ratios with a 95% CI: the implied P and the symmetry of the CI on the log scale.

A Wald CI of a Cox HR is exp(b +- 1.96 SE), so the printed limits give SE = (ln U - ln L) / (2 x
1.959964) and the Wald P = 2 (1 - Phi(|ln HR| / SE)) (Altman and Bland, BMJ 2011;343:d2090), and the CI
is symmetric about the HR on the log scale: HR^2 = L x U.  The HR and its limits are printed with a
few decimals, so both checks allow for the rounding: the P over the corners of the rounding box of
(HR, L, U), and whether some values inside the box satisfy HR^2 = L x U exactly.

Severity: implied P -- ``consistent`` when the P at the printed values rounds to the reported P,
``rounding`` when the range over the box reaches it, else ``inconsistent``; without a reported P the
implied P is given and the finding is ``not checkable``.  Symmetry -- ``consistent`` when the box
holds a symmetric CI, ``rounding`` when a box of one unit does, else ``inconsistent`` (a CI that is
not a Wald CI, or a misprint).
"""

from __future__ import annotations

import itertools
import math

from scipy import stats

from .checks_categorical import match_p
from .findings import CONSISTENT, INCONSISTENT, NOT_CHECKABLE, ROUNDING, Finding
from .model import HazardRatio, HazardRatios
from .numbers import Num, fmt

CHECK_P = "HR: P from the CI"
CHECK_SYM = "HR: log-scale symmetry"
Z = float(stats.norm.ppf(0.975))


def implied_p(hr: float, lo: float, hi: float) -> float:
    """The Wald P implied by an HR and its 95% CI."""
    se = (math.log(hi) - math.log(lo)) / (2 * Z)
    return float(2 * stats.norm.sf(abs(math.log(hr)) / se)) if se > 0 else float("nan")


def _box(*nums: Num, units: float = 0.5):
    return itertools.product(*[[max(a, 1e-9), b] for a, b in (n.interval(units) for n in nums)])


def p_range(hr: Num, lo: Num, hi: Num) -> tuple[float, float]:
    ps = [implied_p(h, low, up) for h, low, up in _box(hr, lo, hi) if up > low]
    ps = [p for p in ps if math.isfinite(p)]
    h_lo, h_hi = hr.interval()
    top = 1.0 if h_lo <= 1 <= h_hi else max(ps, default=float("nan"))
    return min(ps, default=float("nan")), top


def symmetric_within(hr: Num, lo: Num, hi: Num, units: float) -> bool:
    """Some HR, L, U within ``units`` of the printed decimals with HR^2 = L U."""
    (h1, h2), (l1, l2), (u1, u2) = hr.interval(units), lo.interval(units), hi.interval(units)
    return max(h1, 0) ** 2 <= l2 * u2 + 1e-12 and max(l1, 0) * max(u1, 0) <= h2**2 + 1e-12


def check_hr(title: str, key: str, r: HazardRatio) -> list[Finding]:
    label = r.label or key
    hr, (lo, hi) = r.hr, r.ci
    shown = f"{hr.text} ({lo.text}-{hi.text})"
    if not (0 < lo.value <= hr.value <= hi.value):
        return [Finding(CHECK_SYM, title, label, "HR (95% CI)", shown, "", INCONSISTENT,
                        "the HR must lie inside its CI, both above 0")]
    out = []
    lh, ll, lu = math.log(hr.value), math.log(lo.value), math.log(hi.value)
    sev = (CONSISTENT if symmetric_within(hr, lo, hi, 0.5) else ROUNDING if symmetric_within(hr, lo, hi, 1.0)
           else INCONSISTENT)
    out.append(Finding(CHECK_SYM, title, label, "95% CI", shown, f"HR from the CI {math.sqrt(lo.value * hi.value):.3f}",
                       sev, f"ln HR {lh:.3f}; ln L {ll:.3f}, ln U {lu:.3f}: distances {lh - ll:.3f} below, "
                            f"{lu - lh:.3f} above; sqrt(L x U) = {math.sqrt(lo.value * hi.value):.3f}"
                            + ("" if sev == CONSISTENT else " (no values within the printed rounding make them equal)"
                               if sev == INCONSISTENT else " (equal only within one unit of the last decimal)")))
    p = implied_p(hr.value, lo.value, hi.value)
    se = (lu - ll) / (2 * Z)
    lo_p, hi_p = p_range(hr, lo, hi)
    arith = (f"SE = (ln {hi.text} - ln {lo.text}) / (2 x 1.96) = {se:.4f}; z = ln {hr.text} / SE = {lh / se:.3f}; "
             f"Wald P {fmt(p)} (over the rounding of HR and CI {fmt(lo_p)}..{fmt(hi_p)})")
    if r.p is None or isinstance(r.p, str):
        out.append(Finding(CHECK_P, title, label, "P", r.p or "", fmt(p), NOT_CHECKABLE,
                           arith + "; no P printed to compare"))
        return out
    sev, _ = match_p(r.p, {"Wald": p})
    if sev != CONSISTENT:
        rlo, rhi = r.p.interval()
        sev = ROUNDING if lo_p <= rhi and hi_p >= rlo else sev
    arith += f"; reported {r.p.text}"
    out.append(Finding(CHECK_P, title, label, "P", r.p.text, fmt(p), sev, arith, "Wald" if sev == CONSISTENT else ""))
    return out


def check_hazard_ratios(t: HazardRatios) -> list[Finding]:
    return [f for key, r in t.rows.items() for f in check_hr(t.title, key, r)]
