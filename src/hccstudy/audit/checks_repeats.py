"""Numbers the paper prints more than once (text, table, figure, abstract, discussion) must agree.

Two printings agree when they are equal at the coarser one's decimals (0.64 and 0.641); they differ at
``rounding`` level when they are within one unit of its last decimal (0.64 and 0.65); anything more
is ``inconsistent`` (the univariable HR 0.61 in the table and 0.64 in the figure).
"""

from __future__ import annotations

from .findings import CONSISTENT, INCONSISTENT, ROUNDING, Finding
from .model import Repeat

CHECK = "repeated number"


def compare(values: list) -> str:
    coarse = min(v.decimals for v in values)
    unit = 10.0 ** -coarse
    spread = max(v.value for v in values) - min(v.value for v in values)
    rounded = {round(v.value, coarse) for v in values}
    if len(rounded) == 1 or spread <= 0.5 * unit + 1e-12:
        return CONSISTENT
    return ROUNDING if spread <= unit + 1e-12 else INCONSISTENT


def check_repeat(r: Repeat) -> Finding:
    vals = list(r.values.values())
    sev = compare(vals)
    shown = "; ".join(f"{place}: {v.text}" for place, v in r.values.items())
    spread = max(v.value for v in vals) - min(v.value for v in vals)
    coarse = min(v.decimals for v in vals)
    arith = (f"largest difference {spread:.{coarse}f}"
             f" (one unit of the coarsest printing: {10.0 ** -coarse:g})")
    return Finding(CHECK, "repeated numbers", r.what, ", ".join(r.values), shown,
                   f"differ by {spread:.{coarse}f}" if spread else "equal", sev, arith)


def check_repeats(repeats: list[Repeat]) -> list[Finding]:
    return [check_repeat(r) for r in repeats]
