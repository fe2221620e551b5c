"""What the audit finds: one :class:`Finding` per check of one reported number, and the severities.

Severity (docs/audit.md, "Severity"), from the best to the worst:

* ``consistent`` -- a standard computation reproduces the reported value at its printed decimals;
* ``rounding`` -- it does not, but it comes within one unit of the last printed decimal (a value
  truncated instead of rounded), or within what the rounding of the *inputs* allows (a mean printed
  with one decimal stands for a whole interval of means);
* ``inconsistent`` -- no standard computation comes that close: the reported value is impossible
  under every test the audit knows;
* ``not checkable`` -- the paper does not print what the check needs (a P written "NS", a median
  not reached, a percentage without a denominator).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import pandas as pd

CONSISTENT = "consistent"
ROUNDING = "rounding"
INCONSISTENT = "inconsistent"
NOT_CHECKABLE = "not checkable"
#: best first: the order of the summary and the sort key of the tables
SEVERITIES = (CONSISTENT, ROUNDING, INCONSISTENT, NOT_CHECKABLE)
#: each severity's rule, as audit.html and the report state it
RULES = {
    CONSISTENT: "a standard computation (the tests named, 100 n / N, the Wald P of the CI) reproduces the "
                "reported value at its printed decimals",
    ROUNDING: "it does not, but comes within one unit of the last printed decimal, or within what the "
              "rounding of the printed inputs allows (a mean of 50.8 is anything from 50.75 to 50.85)",
    INCONSISTENT: "no standard computation comes that close: the reported value is impossible under every "
                  "test the audit knows",
    NOT_CHECKABLE: "the paper does not print what the check needs (a P for a hazard ratio, survival rates "
                   "for a median)",
}


@dataclass(frozen=True)
class Finding:
    """One check of one reported number.  ``location`` is ``table / row / column``; ``recomputed`` the
    value(s) the audit computed; ``matches`` which standard test(s), if any, reproduce a reported P;
    ``arithmetic`` the computation, as text a reader can redo by hand."""

    check: str
    table: str
    row: str
    column: str
    reported: str
    recomputed: str
    severity: str
    arithmetic: str
    matches: str = ""

    @property
    def location(self) -> str:
        return " / ".join(x for x in (self.table, self.row, self.column) if x)


COLUMNS = [f.name for f in fields(Finding)]


def findings_frame(findings: list[Finding]) -> pd.DataFrame:
    """The findings as a DataFrame (columns :data:`COLUMNS`), in the order the checks ran."""
    return pd.DataFrame([asdict(f) for f in findings], columns=COLUMNS)


def worst(*severities: str) -> str:
    """The worst of some severities (``not checkable`` counts only when nothing was checked)."""
    checked = [s for s in severities if s != NOT_CHECKABLE]
    if not checked:
        return NOT_CHECKABLE
    return max(checked, key=SEVERITIES.index)


def best(*severities: str) -> str:
    checked = [s for s in severities if s != NOT_CHECKABLE]
    return min(checked, key=SEVERITIES.index) if checked else NOT_CHECKABLE
