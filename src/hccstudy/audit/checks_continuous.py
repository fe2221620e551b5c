"""Continuous rows: mean (SD) and n per arm -> P under Student's and Welch's t test.

Student (pooled variance, R ``t.test(var.equal = TRUE)``): s_p^2 = ((n1-1) s1^2 + (n2-1) s2^2) /
(n1 + n2 - 2), t = (m1 - m2) / (s_p sqrt(1/n1 + 1/n2)), df = n1 + n2 - 2.  Welch (R's default):
t = (m1 - m2) / sqrt(s1^2/n1 + s2^2/n2) with the Welch–Satterthwaite df.  (scipy
``ttest_ind_from_stats``; Welch 1947.)

A printed mean or SD stands for an interval (50.8 is 50.75..50.85), so besides the P at the printed
values the audit computes the range of P over the corners of that box: a reported P inside the range
is a ``rounding``-level difference, outside it ``inconsistent``.
"""

from __future__ import annotations

import itertools

from scipy import stats

from .checks_categorical import match_p
from .findings import CONSISTENT, NOT_CHECKABLE, ROUNDING, Finding
from .model import Paper, Row, Table
from .numbers import fmt

CHECK = "continuous P"
TESTS = {"Student t": True, "Welch t": False}


def t_p(m1, s1, n1, m2, s2, n2, equal_var: bool) -> float:
    """Two-sided P of the two-sample t test from summary statistics."""
    return float(stats.ttest_ind_from_stats(m1, s1, n1, m2, s2, n2, equal_var=equal_var).pvalue)


def p_range(row: Row, arms: list[str], sizes: dict[str, int], equal_var: bool) -> tuple[float, float]:
    """min and max P over the corners of the rounding box of the two means and SDs (P is monotone in
    |m1 - m2| and in each SD; a box whose mean difference can be 0 reaches P = 1)."""
    a, b = arms
    corners = itertools.product(row.mean[a].interval(), row.sd[a].interval(), row.mean[b].interval(),
                                row.sd[b].interval())
    ps = [t_p(m1, max(s1, 1e-12), sizes[a], m2, max(s2, 1e-12), sizes[b], equal_var) for m1, s1, m2, s2 in corners]
    lo1, hi1 = row.mean[a].interval()
    lo2, hi2 = row.mean[b].interval()
    top = 1.0 if (lo1 - hi2) <= 0 <= (hi1 - lo2) else max(ps)
    return min(ps), top


def check_row(paper: Paper, table: Table, key: str, row: Row) -> Finding | None:
    if row.kind != "continuous" or row.p is None:
        return None
    label = row.label or key
    a, b = paper.arms
    sizes = paper.samples[row.sample or table.sample]
    if isinstance(row.p, str):
        return Finding(CHECK, table.title, label, "P", row.p, "", NOT_CHECKABLE, f"'{row.p}' is not a P value")
    ps = {t: t_p(row.mean[a].value, row.sd[a].value, sizes[a], row.mean[b].value, row.sd[b].value, sizes[b], ev)
          for t, ev in TESTS.items()}
    sev, tests = match_p(row.p, ps)
    ranges = {t: p_range(row, paper.arms, sizes, ev) for t, ev in TESTS.items()}
    if sev != CONSISTENT:
        lo_r, hi_r = row.p.interval()
        within = [t for t, (lo, hi) in ranges.items() if lo <= hi_r and hi >= lo_r]
        if within:
            sev, tests = ROUNDING, within
    arith = (f"{a} {row.mean[a].text} ({row.sd[a].text}), n {sizes[a]}; {b} {row.mean[b].text} ({row.sd[b].text}), "
             f"n {sizes[b]} -> " + ", ".join(f"{t}: P {fmt(p)}" for t, p in ps.items())
             + "; over the rounding of the means and SDs " + ", ".join(f"{t} {fmt(lo)}..{fmt(hi)}"
                                                                       for t, (lo, hi) in ranges.items()))
    arith += (f"; reported {row.p.text}: " + (f"reproduced by {', '.join(tests)}" if sev == CONSISTENT else
              f"reached by {', '.join(tests)} within the rounding of the inputs or of P" if sev == ROUNDING
              else "no test reaches it"))
    return Finding(CHECK, table.title, label, "P", row.p.text, "; ".join(f"{t} {fmt(p)}" for t, p in ps.items()),
                   sev, arith, ", ".join(tests))


def check_table(paper: Paper, table: Table) -> list[Finding]:
    return [f for key, row in table.rows.items() if (f := check_row(paper, table, key, row)) is not None]


__all__ = ["check_table", "p_range", "t_p"]
