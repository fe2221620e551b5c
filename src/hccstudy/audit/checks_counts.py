"""Counts against percentages against denominators, and which sample a table's counts fit.

* Percentage: ``100 n / N`` (N the group size of the row's sample) must round to the printed
  percentage.  Every sample of the paper is tried, so a table that states one sample but was computed
  on another (before vs after matching) is named.  A percentage printed without a count is checked the
  other way round: some whole count must give it (``granularity``, as the GRIM test of Brown and
  Heathers, 2017).
* Levels: the counts of a factor's levels must sum to the group sizes (``complete: true``) or stay
  below them (``complete: false``, e.g. adverse-event grades); the samples whose group sizes equal the
  sums are named.
* ``within``: a row whose counts bound this row's (any adverse event >= any single event).
"""

from __future__ import annotations

import math

from .findings import CONSISTENT, INCONSISTENT, NOT_CHECKABLE, ROUNDING, Finding
from .model import Paper, Row, Table
from .numbers import Num

CHECK_PCT = "count vs percentage"
CHECK_SIZES = "counts vs group sizes"


def pct_severity(n: float, size: int, pct: Num) -> str:
    """consistent when 100 n / N rounds to ``pct``; rounding when within one unit of its last decimal."""
    x = 100.0 * n / size
    lo, hi = pct.interval(0.5)
    if lo - 1e-9 <= x <= hi + 1e-9:
        return CONSISTENT
    lo, hi = pct.interval(1.0)
    return ROUNDING if lo - 1e-9 <= x <= hi + 1e-9 else INCONSISTENT


def counts_for_pct(pct: Num, size: int) -> list[int]:
    """The whole counts 0..N whose percentage of N rounds to ``pct``."""
    lo, hi = pct.interval(0.5)
    first = max(0, math.ceil(lo * size / 100 - 1e-9))
    last = min(size, math.floor(hi * size / 100 + 1e-9))
    return list(range(first, last + 1))


def _fits(paper: Paper, row: Row, arms: list[str]) -> list[str]:
    """Samples under whose group sizes every printed percentage of the row is reproduced."""
    out = []
    for name, sizes in paper.samples.items():
        if all(pct_severity(row.n[a].value, sizes[a], row.pct[a]) == CONSISTENT for a in arms):
            out.append(name)
    return out


def check_row(paper: Paper, table: Table, key: str, row: Row) -> list[Finding]:
    arms = paper.arms
    sample = row.sample or table.sample
    sizes = paper.samples[sample]
    label = row.label or key
    out: list[Finding] = []
    if row.kind == "binary" and row.n is not None and row.pct is not None:
        for a in arms:
            n, pct, size = row.n[a], row.pct[a], sizes[a]
            sev = pct_severity(n.value, size, pct)
            x = 100 * n.value / size
            arith = f"100 x {n.text} / {size} = {x:.4g}%; printed {pct.text}%"
            if sev != CONSISTENT:
                fits = [s for s in _fits(paper, row, arms) if s != sample]
                if fits:
                    arith += f"; every percentage of the row fits the group sizes {', '.join(fits)} instead"
            out.append(Finding(CHECK_PCT, table.title, label, f"% {a}", f"{n.text} ({pct.text}%)",
                               f"{x:.{pct.decimals + 1}f}%", sev, arith))
    elif row.kind == "binary" and row.pct is not None:  # a percentage without its count
        for a in arms:
            pct, size = row.pct[a], sizes[a]
            ks = counts_for_pct(pct, size)
            near = [k for k in range(size + 1) if pct_severity(k, size, pct) != INCONSISTENT]
            sev = CONSISTENT if ks else ROUNDING if near else INCONSISTENT
            closest = min(range(size + 1), key=lambda k: abs(100 * k / size - pct.value))
            arith = (f"counts k with 100 k / {size} rounding to {pct.text}%: "
                     + (", ".join(map(str, ks)) if ks else f"none (closest: {closest} gives {100 * closest / size:.2f}%)"))
            out.append(Finding(CHECK_PCT, table.title, label, f"% {a}", f"{pct.text}% of {size}",
                               ", ".join(map(str, ks)) if ks else f"{100 * closest / size:.2f}%", sev, arith))
    if row.n is not None:
        for a in arms:
            if row.n[a].value > sizes[a] or not row.n[a].value.is_integer() or row.n[a].value < 0:
                out.append(Finding(CHECK_SIZES, table.title, label, f"n {a}", row.n[a].text, f"0..{sizes[a]}",
                                   INCONSISTENT, f"a count among the {sizes[a]} patients ({sample}) lies in 0..{sizes[a]}"))
    if row.within is not None:
        bound = table.rows[row.within]
        for a in arms:
            total = sum(d[a].value for d in row.levels.values()) if row.levels else row.n[a].value
            b = bound.n[a].value
            sev = CONSISTENT if total <= b else INCONSISTENT
            out.append(Finding(CHECK_SIZES, table.title, label, f"n {a}", f"{total:g}", f"<= {b:g}", sev,
                               f"{total:g} patients with this row cannot exceed the {b:g} of "
                               f"'{bound.label or row.within}'"))
    if row.levels is not None:
        out.extend(_levels(paper, table, label, row, sample))
    return out


def _levels(paper: Paper, table: Table, label: str, row: Row, sample: str) -> list[Finding]:
    arms = paper.arms
    sums = {a: sum(d[a].value for d in row.levels.values()) for a in arms}
    shown = ", ".join(f"{a} {sums[a]:g}" for a in arms)
    terms = {a: " + ".join(d[a].text for d in row.levels.values()) for a in arms}
    if not row.complete:
        sizes = paper.samples[sample]
        sev = CONSISTENT if all(sums[a] <= sizes[a] for a in arms) else INCONSISTENT
        return [Finding(CHECK_SIZES, table.title, label, "levels", shown,
                        ", ".join(f"<= {sizes[a]}" for a in arms), sev,
                        "; ".join(f"{a}: {terms[a]} = {sums[a]:g} of {sizes[a]}" for a in arms))]
    fit = [s for s, sizes in paper.samples.items() if all(sums[a] == sizes[a] for a in arms)]
    stated = paper.samples[sample]
    arith = "; ".join(f"{a}: {terms[a]} = {sums[a]:g}" for a in arms)
    arith += f"; the group sizes {sample} are " + ", ".join(f"{a} {stated[a]}" for a in arms)
    if sample in fit:
        sev = CONSISTENT
    else:
        sev = INCONSISTENT
        arith += (f": the counts fit the group sizes {' and '.join(fit)} instead" if fit
                  else ": the counts fit no sample of the paper")
    return [Finding(CHECK_SIZES, table.title, label, "levels", shown,
                    ", ".join(f"{s}" for s in fit) or "no sample", sev, arith)]


def check_table(paper: Paper, table: Table) -> list[Finding]:
    return [f for key, row in table.rows.items() for f in check_row(paper, table, key, row)]


__all__ = ["check_table", "counts_for_pct", "pct_severity", "NOT_CHECKABLE"]
