"""Categorical rows: the reported P against the P of every standard test of the counts.

The counts of a two-arm table (a binary factor: the level shown and the rest of the arm; a factor
with levels: one row per level) are tested as R does it:

* Pearson chi-square, ``chisq.test(correct = FALSE)``: X2 = sum (O - E)^2 / E, df = (r - 1)(c - 1);
* chi-square with Yates' continuity correction, ``chisq.test()`` (R's default, 2 x 2 tables only):
  X2 = sum (|O - E| - min(0.5, |O - E|))^2 / E;
* Fisher's exact test, ``fisher.test()``: two-sided, summing the tables with the observed margins
  that are no more probable than the observed one (exact for 2 x 2 and r x 2).

(:mod:`hccstudy.stats.tests`, proven against R in tests/reference/audit_tests.json.)  The finding
names every test whose P rounds to the reported one; a row printed with percentages only is tested
at each whole count the percentages allow (:func:`~hccstudy.audit.checks_counts.counts_for_pct`).
"""

from __future__ import annotations

import itertools

import numpy as np

from ..stats.tests import chisq_test, fisher_test
from .checks_counts import counts_for_pct
from .findings import CONSISTENT, INCONSISTENT, NOT_CHECKABLE, ROUNDING, Finding
from .model import Paper, Row, Table
from .numbers import PValue, fmt

CHECK = "categorical P"


def categorical_ps(table) -> dict[str, float]:
    """Test name -> two-sided P for a contingency table (rows: levels, columns: arms)."""
    o = np.asarray(table, dtype=float)
    out = {}
    live = o[o.sum(axis=1) > 0][:, o.sum(axis=0) > 0]
    if live.shape == (2, 2):
        out["chi-square (Yates)"] = chisq_test(o, correct=True).p
    out["chi-square"] = chisq_test(o, correct=False).p
    out["Fisher's exact"] = fisher_test(o.astype(np.int64)).p
    return out


def match_p(reported: PValue, ps: dict[str, float]) -> tuple[str, list[str]]:
    """Severity of a reported P against recomputed ones, and the tests that reproduce it."""
    exact = [t for t, p in ps.items() if np.isfinite(p) and reported.admits(p)]
    if exact:
        return CONSISTENT, exact
    near = [t for t, p in ps.items() if np.isfinite(p) and reported.admits(p, 1.0)]
    return (ROUNDING, near) if near else (INCONSISTENT, [])


def _tables(paper: Paper, row: Row, sizes: dict[str, int]) -> tuple[list[np.ndarray], str]:
    """The contingency tables the row allows (one, or one per count its percentages allow)."""
    arms = paper.arms
    if row.levels is not None:
        t = [[d[a].value for a in arms] for d in row.levels.values()]
        if not row.complete:
            t.append([sizes[a] - sum(d[a].value for d in row.levels.values()) for a in arms])
        return [np.array(t)], "levels: " + ", ".join(row.levels)
    if row.n is not None:
        return [np.array([[row.n[a].value for a in arms], [sizes[a] - row.n[a].value for a in arms]])], ""
    options = [counts_for_pct(row.pct[a], sizes[a]) for a in arms]
    combos = list(itertools.product(*options))[:400]
    return ([np.array([[k[0], k[1]], [sizes[arms[0]] - k[0], sizes[arms[1]] - k[1]]]) for k in combos],
            "counts from the percentages: " + "; ".join(f"{a} {', '.join(map(str, o)) or 'none'}"
                                                        for a, o in zip(arms, options, strict=True)))


def check_row(paper: Paper, table: Table, key: str, row: Row) -> Finding | None:
    if row.p is None or row.kind == "continuous":
        return None
    label = row.label or key
    sizes = paper.samples[row.sample or table.sample]
    if isinstance(row.p, str):
        return Finding(CHECK, table.title, label, "P", row.p, "", NOT_CHECKABLE,
                       f"'{row.p}' is not a P value; nothing to compare")
    tables, how = _tables(paper, row, sizes)
    if not tables:
        return Finding(CHECK, table.title, label, "P", row.p.text, "", NOT_CHECKABLE,
                       "no whole counts give the printed percentages (see the count vs percentage finding)")
    if any((t < 0).any() for t in tables):
        return Finding(CHECK, table.title, label, "P", row.p.text, "", NOT_CHECKABLE,
                       "a count exceeds its group size (see the counts vs group sizes finding)")
    if all(not np.isfinite(p) for p in categorical_ps(tables[0]).values()):
        return Finding(CHECK, table.title, label, "P", row.p.text, "", NOT_CHECKABLE,
                       "every patient of both arms is in one level: no test of the counts is defined")
    best_sev, best_tests, best_ps, best_t = None, [], {}, tables[0]
    order = (CONSISTENT, ROUNDING, INCONSISTENT)
    for t in tables:
        ps = categorical_ps(t)
        sev, tests = match_p(row.p, ps)
        if best_sev is None or order.index(sev) < order.index(best_sev):
            best_sev, best_tests, best_ps, best_t = sev, tests, ps, t
        if sev == CONSISTENT:
            break
    cells = "; ".join(f"{a}: " + "/".join(f"{v:g}" for v in best_t[:, j]) for j, a in enumerate(paper.arms))
    arith = (f"{how + '; ' if how else ''}table ({cells}) -> "
             + ", ".join(f"{t}: P {fmt(p)}" for t, p in best_ps.items()))
    arith += (f"; reported {row.p.text}: " + (f"reproduced by {', '.join(best_tests)}" if best_sev == CONSISTENT
              else f"within one unit of the last decimal for {', '.join(best_tests)}" if best_sev == ROUNDING
              else "no test gives it"))
    return Finding(CHECK, table.title, label, "P", row.p.text,
                   "; ".join(f"{t} {fmt(p)}" for t, p in best_ps.items()), best_sev, arith, ", ".join(best_tests))


def check_table(paper: Paper, table: Table) -> list[Finding]:
    return [f for key, row in table.rows.items() if (f := check_row(paper, table, key, row)) is not None]
