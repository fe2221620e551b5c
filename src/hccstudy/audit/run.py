"""Run every check on a paper's reported numbers (:func:`audit`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import (
    checks_bounds,
    checks_categorical,
    checks_continuous,
    checks_counts,
    checks_hr,
    checks_repeats,
    checks_survival,
)
from .findings import SEVERITIES, Finding, findings_frame
from .model import Paper, load_tables


@dataclass(frozen=True)
class Audit:
    """The findings of one audit file: ``paper`` (its citation) and ``findings`` in the file's order
    (per table and row: the counts, then the P; then the hazard ratios, the survival curves, the
    bounds and the repeated numbers)."""

    paper: str
    findings: tuple[Finding, ...]

    @property
    def frame(self) -> pd.DataFrame:
        return findings_frame(list(self.findings))

    def counts(self) -> dict[str, int]:
        """Severity -> number of findings (every severity, zeros included)."""
        return {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES}

    def flagged(self) -> list[Finding]:
        """The findings that are not consistent and not 'not checkable': what a reader should look at."""
        return [f for f in self.findings if f.severity in ("rounding", "inconsistent")]


def audit(paper: Paper) -> Audit:
    """Recompute every number of ``paper`` that can be recomputed (docs/audit.md)."""
    out: list[Finding] = []
    for table in paper.tables.values():
        for key, row in table.rows.items():
            out += checks_counts.check_row(paper, table, key, row)
            for mod in (checks_categorical, checks_continuous):
                f = mod.check_row(paper, table, key, row)
                if f is not None:
                    out.append(f)
    for hrs in paper.hazard_ratios.values():
        out += checks_hr.check_hazard_ratios(hrs)
    for s in paper.survival.values():
        out += checks_survival.check_survival(s)
    out += checks_bounds.check_bounds(paper)
    out += checks_repeats.check_repeats(paper.repeats)
    return Audit(paper.paper, tuple(out))


def audit_file(path: str | Path | None = None) -> Audit:
    """:func:`audit` of an audit file (None: the built-in TABLES.yaml)."""
    return audit(load_tables(path))
